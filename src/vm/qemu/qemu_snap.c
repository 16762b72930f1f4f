/*
 * qemu_snap: the block layers of a running disk (qemu backend, see
 * qemu_priv.h): live snapshots (a new top layer), streams that fold the
 * layers below the top into it, changed-block-tracking bitmaps carried
 * across layers, and the deletion of every node of a disk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"

/* The block graph (x-debug-query-block-graph: unlike query-block and
 * query-named-block-nodes it reads no image metadata, which QEMU 7.2 gets
 * wrong for a layer that stored its persistent bitmaps when it became a
 * backing file: "Bitmap '' doesn't satisfy the constraints"). */
static json_t *
qemu_block_graph(struct qemu_vm *vm, char **err)
{
	json_t *ret = NULL;
	char *e = NULL;
	if (qmp_command(vm->mon, "x-debug-query-block-graph", NULL, &ret, QEMU_HP_CMD_MS, &e) !=
	    QMP_OK) {
		*err = xasprintf("VM %s: x-debug-query-block-graph: %s", vm->uuid, e);
		free(e);
		return NULL;
	}
	return ret;
}

/* Deletes every block node of disk id (its layers from live snapshots
 * too): top layers first, as each one holds the one below. */
void
qemu_disk_nodes_del(struct qemu_vm *vm, const char *id)
{
	size_t plen = strlen(id);
	for (int pass = 0; pass < 64; pass++) {
		char *e = NULL;
		json_t *g = qemu_block_graph(vm, &e), *n;
		size_t i, left = 0, gone = 0;
		free(e);
		if (!g)
			return;
		json_array_foreach(json_object_get(g, "nodes"), i, n) {
			const char *name = json_string_value(json_object_get(n, "name"));
			if (!name || strncmp(name, id, plen) != 0 || name[plen] != '-')
				continue;
			json_t *args = json_pack("{s:s}", "node-name", name);
			char *e2 = NULL;
			if (qmp_command(vm->mon, "blockdev-del", args, NULL,
					QEMU_HP_CMD_MS, &e2) == QMP_OK)
				gone++;
			else
				left++;
			free(e2);
			json_decref(args);
		}
		json_decref(g);
		if (!left || !gone)
			return;
	}
}

/* The node a device reads and writes through now (its top layer): the
 * child "root" of the device's block backend. */
char *
qemu_disk_top(struct qemu_vm *vm, const char *id, char **err)
{
	json_t *g = qemu_block_graph(vm, err), *n, *ed;
	char *top = NULL, want[48];
	json_int_t backend = -1, child = -1;
	size_t i;
	if (!g)
		return NULL;
	snprintf(want, sizeof(want), "/machine/peripheral/%s/", id);
	json_array_foreach(json_object_get(g, "nodes"), i, n) {
		const char *name = json_string_value(json_object_get(n, "name"));
		const char *type = json_string_value(json_object_get(n, "type"));
		if (name && type && strcmp(type, "block-backend") == 0 &&
		    (strcmp(name, id) == 0 || strncmp(name, want, strlen(want)) == 0))
			backend = json_integer_value(json_object_get(n, "id"));
	}
	json_array_foreach(json_object_get(g, "edges"), i, ed)
		if (backend >= 0 && json_integer_value(json_object_get(ed, "parent")) == backend &&
		    strcmp(json_string_value(json_object_get(ed, "name")) ?: "", "root") == 0)
			child = json_integer_value(json_object_get(ed, "child"));
	json_array_foreach(json_object_get(g, "nodes"), i, n)
		if (child >= 0 && json_integer_value(json_object_get(n, "id")) == child)
			top = xstrdup(json_string_value(json_object_get(n, "name")) ?: "");
	json_decref(g);
	if (!top || !*top) {
		free(top);
		top = NULL;
		*err = xasprintf("VM %s has no block device %s", vm->uuid, id);
	}
	return top;
}

/* After a stream: the layers below top left the chain but, added by name,
 * stay open (and keep their files' space) until deleted; top and its file
 * node stay. */
static void
qemu_disk_nodes_drop(struct qemu_vm *vm, const char *id, const char *top)
{
	char keep[48], fprefix[48];
	size_t plen = strlen(id);
	snprintf(fprefix, sizeof(fprefix), "%s-fmt", id);
	if (strncmp(top, fprefix, strlen(fprefix)) == 0)
		snprintf(keep, sizeof(keep), "%s-file%s", id, top + strlen(fprefix));
	else
		keep[0] = 0;
	for (int pass = 0; pass < 2; pass++) { /* format nodes first, then files */
		char *e = NULL;
		json_t *g = qemu_block_graph(vm, &e), *n;
		size_t i;
		free(e);
		if (!g)
			return;
		json_array_foreach(json_object_get(g, "nodes"), i, n) {
			const char *name = json_string_value(json_object_get(n, "name"));
			if (!name || strncmp(name, id, plen) != 0 || name[plen] != '-' ||
			    strcmp(name, top) == 0 || strcmp(name, keep) == 0 ||
			    (pass == 0) != (strstr(name, "-fmt") != NULL))
				continue;
			json_t *args = json_pack("{s:s}", "node-name", name);
			char *e2 = NULL;
			if (qmp_command(vm->mon, "blockdev-del", args, NULL, QEMU_HP_CMD_MS, &e2) ==
			    QMP_OK)
				log_info(QEMU_TAG, "VM %s: layer %s closed", vm->uuid, name);
			free(e2);
			json_decref(args);
		}
		json_decref(g);
	}
}

#define QEMU_CBT_BITMAP "xapid-cbt"

/* A persistent 64 KiB dirty bitmap on node. */
static json_t *
qemu_json_cbt(const char *node, const char *name)
{
	return json_pack("{s:s, s:s, s:b, s:i}", "node", node, "name", name, "persistent", 1,
			 "granularity", 65536);
}

/* After a snapshot with changed-block tracking (backend.h): the bits of the
 * old top go on in the new one, or into the log file cbt. A failure leaves
 * no bitmap (which reads as "everything changed"), never a wrong one. */
static void
qemu_cbt_carry(struct qemu_vm *vm, const char *id, const char *old, const char *new_top,
	       const char *cbt)
{
	char *e = NULL, lognode[48], logfile[48];
	json_t *src = json_pack("[{s:s, s:s}]", "node", old, "name", QEMU_CBT_BITMAP);
	if (!*cbt) {
		json_t *m = json_pack("{s:s, s:s, s:O}", "node", new_top, "target",
				      QEMU_CBT_BITMAP, "bitmaps", src);
		if (qemu_hp_cmd(vm, "block-dirty-bitmap-merge", m, &e) != QMP_OK) {
			log_warn(QEMU_TAG, "%s", e);
			qemu_hp_quiet(vm, "block-dirty-bitmap-remove",
				      json_pack("{s:s, s:s}", "node", new_top, "name",
						QEMU_CBT_BITMAP));
		}
	} else if (strcmp(cbt, "-") != 0) {
		snprintf(lognode, sizeof(lognode), "%s-cbtlog", id);
		snprintf(logfile, sizeof(logfile), "%s-cbtlogf", id);
		/* a file, or an nfs:// URL on an NFS SR */
		json_t *add = json_pack("{s:s, s:s, s:o}", "driver", "qcow2",
		                        "node-name", lognode, "file",
		                        qemu_json_proto(cbt, logfile, false));
		if (qemu_hp_cmd(vm, "blockdev-add", add, &e) == QMP_OK) {
			char *e2 = NULL;
			if (qemu_hp_cmd(vm, "block-dirty-bitmap-add", qemu_json_cbt(lognode, "cbt"),
					&e2) == QMP_OK &&
			    qemu_hp_cmd(vm, "block-dirty-bitmap-merge",
					json_pack("{s:s, s:s, s:O}", "node", lognode, "target",
						  "cbt", "bitmaps", src),
					&e2) != QMP_OK)
				qemu_hp_quiet(vm, "block-dirty-bitmap-remove",
					      json_pack("{s:s, s:s}", "node", lognode, "name", "cbt"));
			if (e2)
				log_warn(QEMU_TAG, "%s", e2);
			free(e2);
			/* closing the node writes its bitmap into the file */
			qemu_hp_quiet(vm, "blockdev-del", json_pack("{s:s}", "node-name", lognode));
		} else {
			log_warn(QEMU_TAG, "%s", e);
		}
	}
	json_decref(src);
	free(e);
}

int
qemu_disk_cbt(const char *uuid, const char *id, bool on, char **err)
{
	struct qemu_vm *vm = qemu_hp_get(uuid, err);
	char *top = NULL;
	int rc = -1;
	if (!vm)
		return -1;
	if ((top = qemu_disk_top(vm, id, err))) {
		json_t *rm = json_pack("{s:s, s:s}", "node", top, "name", QEMU_CBT_BITMAP);
		if (on) {
			qemu_hp_quiet(vm, "block-dirty-bitmap-remove", rm); /* a stale one */
			rc = qemu_hp_cmd(vm, "block-dirty-bitmap-add",
					 qemu_json_cbt(top, QEMU_CBT_BITMAP), err) == QMP_OK ? 0 : -1;
		} else {
			rc = qemu_hp_cmd(vm, "block-dirty-bitmap-remove", rm, err) == QMP_OK ? 0 : -1;
		}
	}
	free(top);
	qemu_op_put(vm);
	return rc;
}

int
qemu_disk_snapshot(const char *uuid, const char *id, const char *new_top,
		   const char *cbt, char **err)
{
	struct qemu_vm *vm = qemu_hp_get(uuid, err);
	char *top = NULL, fnode[48], fmtnode[48];
	int rc = -1;
	if (!vm)
		return -1;
	if (qemu_find_disk(vm, id) < 0) {
		*err = xasprintf("VM %s has no disk %s", uuid, id);
		goto out;
	}
	if (!(top = qemu_disk_top(vm, id, err)))
		goto out;
	/* the new layer's names: <id>-fmt-s<n>, n one more than the top's */
	char prefix[48];
	int n = 1;
	snprintf(prefix, sizeof(prefix), "%s-fmt-s", id);
	if (strncmp(top, prefix, strlen(prefix)) == 0)
		n = atoi(top + strlen(prefix)) + 1;
	snprintf(fmtnode, sizeof(fmtnode), "%s-fmt-s%d", id, n);
	snprintf(fnode, sizeof(fnode), "%s-file-s%d", id, n);
	/* the protocol node is added on its own, as at start: a file node
	 * made inline with its format node is reopened when that layer turns
	 * read-only, and file-posix reopens by name, which by then (the SR
	 * renamed the file into the base) is the new top's file */
	if (qemu_hp_cmd(vm, "blockdev-add", qemu_json_proto(new_top, fnode, false), err) != QMP_OK)
		goto out;
	json_t *add = json_pack("{s:s, s:s, s:s, s:n}", "driver", "qcow2", "node-name", fmtnode,
				"file", fnode, "backing");
	if (qemu_hp_cmd(vm, "blockdev-add", add, err) != QMP_OK) {
		qemu_hp_quiet(vm, "blockdev-del", json_pack("{s:s}", "node-name", fnode));
		goto out;
	}
	/* the new top tracks its writes from its first one */
	if ((cbt && qemu_hp_cmd(vm, "block-dirty-bitmap-add",
				qemu_json_cbt(fmtnode, QEMU_CBT_BITMAP), err) != QMP_OK) ||
	    qemu_hp_cmd(vm, "blockdev-snapshot",
			json_pack("{s:s, s:s}", "node", top, "overlay", fmtnode),
			err) != QMP_OK) {
		qemu_hp_quiet(vm, "blockdev-del", json_pack("{s:s}", "node-name", fmtnode));
		qemu_hp_quiet(vm, "blockdev-del", json_pack("{s:s}", "node-name", fnode));
		goto out;
	}
	if (cbt)
		qemu_cbt_carry(vm, id, top, fmtnode, cbt);
	log_info(QEMU_TAG, "VM %s: disk %s now writes to %s (%s over %s)", uuid, id,
		 new_top, fmtnode, top);
	rc = 0;
out:
	free(top);
	qemu_op_put(vm);
	return rc;
}

int
qemu_disk_stream(const char *uuid, const char *id, char **err)
{
	struct qemu_vm *vm = qemu_hp_get(uuid, err);
	char *top = NULL, job[48];
	int rc = -1;
	if (!vm)
		return -1;
	if (!(top = qemu_disk_top(vm, id, err)))
		goto out;
	snprintf(job, sizeof(job), "stream-%s", id);
	unsigned long long seq = qmp_event_seq(vm->mon);
	if (qemu_hp_cmd(vm, "block-stream",
			json_pack("{s:s, s:s}", "job-id", job, "device", top), err) != QMP_OK)
		goto out;
	json_t *data = NULL;
	char *e = NULL;
	/* bounded: a disk streams at hundreds of MB/s from a local SR */
	if (qmp_wait_event(vm->mon, seq, "BLOCK_JOB_COMPLETED", "device", job,
			   600000, &data, &e) != QMP_OK) {
		*err = xasprintf("VM %s: stream of disk %s did not finish: %s", uuid, id,
				 e ? e : "timeout");
		free(e);
		qemu_hp_quiet(vm, "block-job-cancel", json_pack("{s:s}", "device", job));
		goto out;
	}
	const char *jerr = json_string_value(json_object_get(data, "error"));
	if (jerr) {
		*err = xasprintf("VM %s: stream of disk %s failed: %s", uuid, id, jerr);
	} else {
		log_info(QEMU_TAG, "VM %s: disk %s streamed into its top layer", uuid, id);
		qemu_disk_nodes_drop(vm, id, top);
		rc = 0;
	}
	json_decref(data);
out:
	free(top);
	qemu_op_put(vm);
	return rc;
}

