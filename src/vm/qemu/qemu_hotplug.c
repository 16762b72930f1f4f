/*
 * qemu_hotplug: disks and NICs added to / removed from a running QEMU, and
 * the statistics queries.
 *
 * Plug: the device goes on a free pcie-root-port made at boot (pcie.0 cannot
 * hot-plug). Disk: object-add iothread, blockdev-add protocol + format node,
 * device_add virtio-blk-pci; NIC: tap, netdev_add, device_add virtio-net-pci.
 * Each step is undone in reverse order when a later one fails.
 * Unplug: device_del asks the guest (ACPI hot-plug); QEMU removes the device
 * only when the guest agrees, announced by DEVICE_DELETED (waited for, at
 * most QEMU_UNPLUG_S); then the backend objects go (blockdev-del, netdev_del,
 * object-del, tap). A guest that never answers gives an error and the
 * device stays.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"
#include "vm/vmspec.h"

#define QEMU_HP_CMD_MS 10000
#define QEMU_UNPLUG_S 30

bool
qemu_direct_ok(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A command whose failure is only logged (rollback, clean-up). */
static void
qemu_hp_quiet(struct qemu_vm *vm, const char *cmd, json_t *args)
{
	char *e = NULL;

	if (qmp_command(vm->mon, cmd, args, NULL, QEMU_HP_CMD_MS, &e) != QMP_OK) {
		log_warn(QEMU_TAG, "VM %s: %s: %s", vm->uuid, cmd, e);
		free(e);
	}
	json_decref(args);
}

/* A command of a plug/unplug (args stolen). */
static int
qemu_hp_cmd(struct qemu_vm *vm, const char *cmd, json_t *args, char **err)
{
	char *e = NULL;
	int rc = qmp_command(vm->mon, cmd, args, NULL, QEMU_HP_CMD_MS, &e);

	json_decref(args);
	if (rc != QMP_OK) {
		*err = xasprintf("VM %s: %s: %s", vm->uuid, cmd, e);
		free(e);
	}
	return rc;
}

/* The op lock of a running VM with a live monitor. */
static struct qemu_vm *
qemu_hp_get(const char *uuid, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);

	if (vm && (!vm->mon || !qmp_alive(vm->mon)) && qemu_connect(vm, 5000, err) < 0) {
		qemu_op_put(vm);
		return NULL;
	}
	return vm;
}

/* A root port no NIC or PCI device uses (rp1..rp9 carry the disk
 * bridges), or 0. */
static int
qemu_free_port(const struct qemu_vm *vm)
{
	for (int p = QEMU_DISK_BRIDGES + 1; p <= vm->nports; p++) {
		bool used = false;
		for (size_t i = 0; i < vm->spec.nnics && !used; i++)
			used = vm->nic_port[i] == p;
		for (size_t i = 0; i < vm->spec.npcis && !used; i++)
			used = vm->pci_port[i] == p;
		if (!used)
			return p;
	}
	return 0;
}

/* A disk slot on the bridges no disk uses, or 0. */
static int
qemu_free_disk_slot(const struct qemu_vm *vm)
{
	for (int p = 1; p <= QEMU_DISK_BRIDGES * QEMU_BRIDGE_SLOTS; p++) {
		bool used = false;
		for (size_t i = 0; i < vm->spec.ndisks && !used; i++)
			used = vm->disk_port[i] == p;
		if (!used)
			return p;
	}
	return 0;
}

static long
qemu_find_disk(const struct qemu_vm *vm, const char *id)
{
	for (size_t i = 0; i < vm->spec.ndisks; i++)
		if (strcmp(vm->spec.disks[i].id, id) == 0)
			return (long)i;
	return -1;
}

static long
qemu_find_nic(const struct qemu_vm *vm, const char *id)
{
	for (size_t i = 0; i < vm->spec.nnics; i++)
		if (strcmp(vm->spec.nics[i].id, id) == 0)
			return (long)i;
	return -1;
}

/* Asks the guest to release device id and waits for DEVICE_DELETED. */
static int
qemu_device_del(struct qemu_vm *vm, const char *id, char **err)
{
	unsigned long long seq = qmp_event_seq(vm->mon);
	json_t *args = json_pack("{s:s}", "id", id);
	char *e = NULL;
	int rc;

	rc = qmp_command(vm->mon, "device_del", args, NULL, QEMU_HP_CMD_MS, &e);
	json_decref(args);
	if (rc == QMP_EQEMU && strncmp(e, "DeviceNotFound", 14) == 0) {
		free(e);
		return 0; /* already gone (an earlier unplug finished late) */
	}
	/* "already in the process of unplug": a retry, keep waiting */
	if (rc != QMP_OK && !(rc == QMP_EQEMU && strstr(e, "unplug"))) {
		*err = xasprintf("VM %s: device_del %s: %s", vm->uuid, id, e);
		free(e);
		return -1;
	}
	free(e);
	e = NULL;
	rc = qmp_wait_event(vm->mon, seq, "DEVICE_DELETED", "device", id, QEMU_UNPLUG_S * 1000,
			    NULL, &e);
	if (rc != QMP_OK) {
		*err = xasprintf("VM %s: the guest did not release %s within %d s (%s)", vm->uuid,
				 id, QEMU_UNPLUG_S, e);
		free(e);
		return -1;
	}
	return 0;
}

/* Records the new configuration; failure to save is only logged. */
static void
qemu_hp_save(struct qemu_vm *vm)
{
	char *e = NULL;

	if (qemu_save_state(vm, &e) < 0) {
		log_warn(QEMU_TAG, "VM %s: %s", vm->uuid, e);
		free(e);
	}
}

/* ---- disks ---- */

/* The I/O engine of new disks: io_uring until QEMU or the kernel refuses
 * it, then Linux native AIO. */
static _Atomic int qemu_aio_uring_ok = 1;

/* blockdev-add of the protocol node of a disk opened with O_DIRECT: with
 * io_uring, else native AIO; when the kernel has no AIO context left
 * (fs.aio-max-nr is shared by the whole host), with a thread pool. */
static int
qemu_blockdev_add_file(struct qemu_vm *vm, const struct vm_disk *d, bool direct, char **err)
{
	static const char *const engines[] = {"io_uring", "native", "threads"};
	char *e = NULL;
	int rc = QMP_EQEMU;

	for (size_t k = qemu_aio_uring_ok ? 0 : 1; k < 3; k++) {
		free(e);
		e = NULL;
		rc = qemu_hp_cmd(vm, "blockdev-add", qemu_json_blockdev_aio(d, direct, engines[k]),
				 &e);
		if (rc != QMP_EQEMU || !direct || !strstr(e, k == 0 ? "io_uring" : "AIO"))
			break;
		if (k == 0 && qemu_aio_uring_ok) {
			qemu_aio_uring_ok = 0;
			log_warn(QEMU_TAG, "io_uring unusable (%s): native AIO from now on", e);
		} else if (k == 1) {
			log_warn(QEMU_TAG, "VM %s: disk %s: %s: a thread pool instead", vm->uuid,
				 d->id, e);
		}
	}
	if (rc != QMP_OK)
		*err = e;
	else
		free(e);
	return rc;
}

int
qemu_disk_attach(struct qemu_vm *vm, const struct vm_disk *d, int port, int bootindex,
		 char **err)
{
	bool direct = qemu_direct_ok(d->path), iothread = qemu_use_iothreads();
	char file[32], fmt[32], io[32];

	qemu_disk_names(d->id, file, fmt, io);
	if (iothread && qemu_hp_cmd(vm, "object-add", qemu_json_iothread(d), err) != QMP_OK)
		return -1;
	if (qemu_blockdev_add_file(vm, d, direct, err) != QMP_OK)
		goto del_io;
	if (qemu_hp_cmd(vm, "blockdev-add", qemu_json_blockdev_fmt(d, direct), err) != QMP_OK)
		goto del_file;
	if (qemu_hp_cmd(vm, "device_add", qemu_json_disk_device(d, port, bootindex, iothread),
			err) != QMP_OK)
		goto del_fmt;
	return 0;
del_fmt:
	qemu_hp_quiet(vm, "blockdev-del", json_pack("{s:s}", "node-name", fmt));
del_file:
	qemu_hp_quiet(vm, "blockdev-del", json_pack("{s:s}", "node-name", file));
del_io:
	if (iothread)
		qemu_hp_quiet(vm, "object-del", json_pack("{s:s}", "id", io));
	return -1;
}

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
static void
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

int
qemu_disk_plug(const char *uuid, const struct vm_disk *d, char **err)
{
	struct qemu_vm *vm;
	int port, rc = -1;

	if (qemu_disk_check(d, err) < 0)
		return -1;
	if (d->cdrom || !d->path) {
		*err = xasprintf("disk %s: CD drives cannot be hot-plugged (AHCI)", d->id);
		return -1;
	}
	if (strncmp(d->path, "nfs://", 6) != 0 &&
	    access(d->path, d->readonly ? R_OK : R_OK | W_OK) < 0) {
		*err = xasprintf("disk %s: %s: %s", d->id, d->path, strerror(errno));
		return -1;
	}
	if (!(vm = qemu_hp_get(uuid, err)))
		return -1;
	if (qemu_find_disk(vm, d->id) >= 0) {
		*err = xasprintf("VM %s already has a disk %s", uuid, d->id);
	} else if (!(port = qemu_free_disk_slot(vm))) {
		*err = xasprintf("VM %s has no free disk slot", uuid);
	} else if (qemu_disk_attach(vm, d, port, 0, err) == 0) {
		size_t n = vm->spec.ndisks;
		vm->spec.disks = xrealloc(vm->spec.disks, (n + 1) * sizeof(*vm->spec.disks));
		vm->disk_port = xrealloc(vm->disk_port, (n + 1) * sizeof(int));
		vm_disk_copy(&vm->spec.disks[n], d);
		vm->disk_port[n] = port;
		vm->spec.ndisks++;
		qemu_hp_save(vm);
		log_info(QEMU_TAG, "VM %s: disk %s plugged in slot %d of pb%d", uuid, d->id,
			 (port - 1) % QEMU_BRIDGE_SLOTS + 1, (port - 1) / QEMU_BRIDGE_SLOTS + 1);
		rc = 0;
	}
	qemu_op_put(vm);
	return rc;
}

int
qemu_disk_unplug(const char *uuid, const char *id, char **err)
{
	struct qemu_vm *vm = qemu_hp_get(uuid, err);
	char file[32], fmt[32], io[32];
	long i;
	int rc = -1;

	if (!vm)
		return -1;
	if ((i = qemu_find_disk(vm, id)) < 0) {
		*err = xasprintf("VM %s has no disk %s", uuid, id);
	} else if (vm->spec.disks[i].cdrom) {
		*err = xasprintf("disk %s: CD drives cannot be unplugged (AHCI)", id);
	} else if (qemu_device_del(vm, id, err) == 0) {
		qemu_disk_names(id, file, fmt, io);
		qemu_disk_nodes_del(vm, id);
		if (qemu_use_iothreads())
			qemu_hp_quiet(vm, "object-del", json_pack("{s:s}", "id", io));
		vm_disk_clear(&vm->spec.disks[i]);
		size_t tail = vm->spec.ndisks - (size_t)i - 1;
		memmove(&vm->spec.disks[i], &vm->spec.disks[i + 1], tail * sizeof(struct vm_disk));
		memmove(&vm->disk_port[i], &vm->disk_port[i + 1], tail * sizeof(int));
		vm->spec.ndisks--;
		qemu_hp_save(vm);
		log_info(QEMU_TAG, "VM %s: disk %s unplugged", uuid, id);
		rc = 0;
	}
	qemu_op_put(vm);
	return rc;
}

/* ---- NICs ---- */

/* The tap and QMP steps of a NIC plug, undone when a later one fails. */
static int
qemu_nic_attach(struct qemu_vm *vm, const struct vm_nic *n, int port, int queues,
		char tap[QEMU_TAPNAME], char **err)
{
	char netdev[32];

	snprintf(netdev, sizeof(netdev), "net-%s", n->id);
	if (qemu_tap_create(vm->uuid, n, queues, tap, err) < 0)
		return -1;
	if (qemu_hp_cmd(vm, "netdev_add", qemu_json_netdev(n, tap, queues), err) != QMP_OK)
		goto del_tap;
	if (qemu_hp_cmd(vm, "device_add", qemu_json_nic_device(n, port, queues, 0), err) !=
	    QMP_OK)
		goto del_netdev;
	return 0;
del_netdev:
	qemu_hp_quiet(vm, "netdev_del", json_pack("{s:s}", "id", netdev));
del_tap:
	qemu_tap_delete(tap);
	return -1;
}

int
qemu_nic_plug(const char *uuid, const struct vm_nic *n, char **err)
{
	struct qemu_vm *vm;
	char tap[QEMU_TAPNAME] = "";
	int port, queues, rc = -1;

	if (qemu_nic_check(n, err) < 0 || !(vm = qemu_hp_get(uuid, err)))
		return -1;
	queues = qemu_nic_queues(vm->spec.vcpus);
	if (qemu_find_nic(vm, n->id) >= 0) {
		*err = xasprintf("VM %s already has a NIC %s", uuid, n->id);
	} else if (!(port = qemu_free_port(vm))) {
		*err = xasprintf("VM %s has no free hot-plug slot (%d root ports)", uuid,
				 vm->nports);
	} else if (qemu_nic_attach(vm, n, port, queues, tap, err) == 0) {
		size_t k = vm->spec.nnics;
		vm->spec.nics = xrealloc(vm->spec.nics, (k + 1) * sizeof(*vm->spec.nics));
		vm->nic_port = xrealloc(vm->nic_port, (k + 1) * sizeof(int));
		vm->taps = xrealloc(vm->taps, (k + 1) * sizeof(*vm->taps));
		vm_nic_copy(&vm->spec.nics[k], n);
		vm->nic_port[k] = port;
		memcpy(vm->taps[k], tap, QEMU_TAPNAME);
		vm->spec.nnics++;
		qemu_hp_save(vm);
		log_info(QEMU_TAG, "VM %s: NIC %s plugged on rp%d (tap %s)", uuid, n->id, port,
			 tap);
		rc = 0;
	}
	qemu_op_put(vm);
	return rc;
}

int
qemu_nic_unplug(const char *uuid, const char *id, char **err)
{
	struct qemu_vm *vm = qemu_hp_get(uuid, err);
	char netdev[32];
	long i;
	int rc = -1;

	if (!vm)
		return -1;
	snprintf(netdev, sizeof(netdev), "net-%s", id);
	if ((i = qemu_find_nic(vm, id)) < 0) {
		*err = xasprintf("VM %s has no NIC %s", uuid, id);
	} else if (qemu_device_del(vm, id, err) == 0) {
		qemu_hp_quiet(vm, "netdev_del", json_pack("{s:s}", "id", netdev));
		qemu_tap_delete(vm->taps[i]);
		vm_nic_clear(&vm->spec.nics[i]);
		size_t tail = vm->spec.nnics - (size_t)i - 1;
		memmove(&vm->spec.nics[i], &vm->spec.nics[i + 1], tail * sizeof(struct vm_nic));
		memmove(&vm->nic_port[i], &vm->nic_port[i + 1], tail * sizeof(int));
		memmove(&vm->taps[i], &vm->taps[i + 1], tail * sizeof(*vm->taps));
		vm->spec.nnics--;
		qemu_hp_save(vm);
		log_info(QEMU_TAG, "VM %s: NIC %s unplugged", uuid, id);
		rc = 0;
	}
	qemu_op_put(vm);
	return rc;
}

/* ---- statistics ---- */

/* The disk id of a query-blockstats entry ("qdev" is the device's QOM path
 * "/machine/peripheral/<id>/virtio-backend" or its id). */
static void
qemu_stats_disk(const json_t *e, struct vm_stats *out)
{
	const char *q = json_string_value(json_object_get(e, "qdev"));
	const json_t *st = json_object_get(e, "stats");
	static const char pre[] = "/machine/peripheral/";
	char id[16];
	size_t n;

	if (!q || !st || out->ndisks >= sizeof(out->disks) / sizeof(out->disks[0]))
		return;
	if (strncmp(q, pre, sizeof(pre) - 1) == 0)
		q += sizeof(pre) - 1;
	n = strcspn(q, "/");
	if (n == 0 || n >= sizeof(id))
		return;
	memcpy(id, q, n);
	id[n] = 0;
	memcpy(out->disks[out->ndisks].id, id, n + 1);
#define QEMU_STAT(f, k) out->disks[out->ndisks].f = (uint64_t)json_integer_value(json_object_get(st, k))
	QEMU_STAT(rd_bytes, "rd_bytes");
	QEMU_STAT(wr_bytes, "wr_bytes");
	QEMU_STAT(rd_ops, "rd_operations");
	QEMU_STAT(wr_ops, "wr_operations");
	QEMU_STAT(rd_total_ns, "rd_total_time_ns");
	QEMU_STAT(wr_total_ns, "wr_total_time_ns");
#undef QEMU_STAT
	out->ndisks++;
}

/* CPU seconds (user + system) of one thread of QEMU. */
static double
qemu_thread_cpu(pid_t pid, long long tid)
{
	char path[96], buf[1024], *p;
	unsigned long long ut = 0, stime = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%lld/stat", (int)pid, tid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* after "(comm)": fields 3.. ; utime is 14, stime 15 */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 14; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu %llu", &ut, &stime) != 2)
		return 0;
	return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

int
qemu_stats(const char *uuid, struct vm_stats *out, char **err)
{
	struct qemu_vm *vm = qemu_op_get_timed(uuid, 2000, err);
	json_t *r = NULL, *e;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!vm)
		return -1;
	if ((!vm->mon || !qmp_alive(vm->mon)) && qemu_connect(vm, 2000, err) < 0) {
		qemu_op_put(vm);
		return -1;
	}
	out->memory_actual = vm->spec.memory;
	if (qmp_command(vm->mon, "query-balloon", NULL, &r, QEMU_HP_CMD_MS, NULL) == QMP_OK)
		out->memory_actual = json_integer_value(json_object_get(r, "actual"));
	json_decref(r);
	r = NULL;
	if (qmp_command(vm->mon, "query-cpus-fast", NULL, &r, QEMU_HP_CMD_MS, NULL) == QMP_OK)
		json_array_foreach(r, i, e)
			out->cpu_seconds += qemu_thread_cpu(
				vm->pid, json_integer_value(json_object_get(e, "thread-id")));
	json_decref(r);
	r = NULL;
	char *e2 = NULL;
	int rc = qmp_command(vm->mon, "query-blockstats", NULL, &r, QEMU_HP_CMD_MS, &e2);
	if (rc == QMP_OK) {
		json_array_foreach(r, i, e)
			qemu_stats_disk(e, out);
	} else {
		*err = xasprintf("VM %s: query-blockstats: %s", uuid, e2);
	}
	free(e2);
	json_decref(r);
	qemu_op_put(vm);
	return rc == QMP_OK ? 0 : -1;
}
