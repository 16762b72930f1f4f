/*
 * qemu_hotplug: disks and NICs added to / removed from a running QEMU, and
 * the statistics queries.
 *
 * Plug: the device goes on a free pcie-root-port made at boot (pcie.0 cannot
 * hot-plug). Disk: object-add iothread, blockdev-add protocol + format node,
 * (on_boot=reset: + a per-boot overlay on top of them),
 * device_add virtio-blk-pci; NIC: tap, netdev_add, device_add virtio-net-pci.
 * Each step is undone in reverse order when a later one fails.
 * Unplug: device_del asks the guest (ACPI hot-plug); QEMU removes the device
 * only when the guest agrees, announced by DEVICE_DELETED (waited for, at
 * most QEMU_UNPLUG_S); then the backend objects go (blockdev-del, netdev_del,
 * object-del, tap). A guest that never answers gives an error and the
 * device stays. Live snapshots, streams and CBT bitmaps are in
 * qemu_snap.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"
#include "vm/vmspec.h"

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
void
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
int
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
struct qemu_vm *
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

long
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

char *
qemu_reset_path(const struct qemu_vm *vm, const char *id)
{
	return xasprintf("%s/reset-%s.qcow2", vm->dir, id);
}

/* The per-boot overlay of an on_boot=reset disk: a new qcow2 whose backing
 * file is the VDI's image (which the guest then never writes). */
static int
qemu_reset_create(struct qemu_vm *vm, const struct vm_disk *d, char **err)
{
	char *ov = qemu_reset_path(vm, d->id);
	char *argv[] = {"qemu-img", "create", "-q",
	                "-f",       "qcow2",  "-b",
	                d->path,    "-F",     d->format ? d->format : "raw",
	                ov,         NULL};
	struct buf e = BUF_INIT;
	int rc = 0;

	unlink(ov); /* a stale one from a boot that ended without clean-up */
	if (spawn_run(argv, NULL, &e, 60) != 0) {
		*err = xasprintf(
		    "disk %s: cannot create its reset-on-boot overlay %s: %s",
		    d->id, ov, e.data ? e.data : "qemu-img failed");
		rc = -1;
	}
	buf_free(&e);
	free(ov);
	return rc;
}

/* The node of an on_boot=reset overlay over the format node fmt. */
static json_t *
qemu_json_reset(struct qemu_vm *vm, const struct vm_disk *d, const char *fmt,
                const char *aio)
{
	char *ov = qemu_reset_path(vm, d->id), rnode[32];
	bool direct = qemu_direct_ok(ov);
	json_t *file =
	    json_pack("{s:s, s:s}", "driver", "file", "filename", ov);

	snprintf(rnode, sizeof(rnode), "%s-reset", d->id);
	if (direct) {
		json_object_set_new(
		    file, "cache",
		    json_pack("{s:b, s:b}", "direct", 1, "no-flush", 0));
		json_object_set_new(file, "aio", json_string(aio));
	}
	free(ov);
	return json_pack("{s:s, s:s, s:o, s:s, s:b, s:s}", "driver", "qcow2",
	                 "node-name", rnode, "file", file, "backing", fmt,
	                 "read-only", 0, "discard", "unmap");
}

/* Undoes the steps of an attach pipeline that succeeded, last first. */
static void
qemu_attach_undo(struct qemu_vm *vm, const struct vm_disk *d,
                 const struct qmp_req *r, size_t n, bool iothread)
{
	char file[32], fmt[32], io[32], rnode[32];

	qemu_disk_names(d->id, file, fmt, io);
	snprintf(rnode, sizeof(rnode), "%s-reset", d->id);
	/* r: [iothread,] file, fmt, [reset,] device (the device failed: nothing
	 * to undo) */
	size_t k = n - 1;
	if (d->reset && r[--k].rc == QMP_OK)
		qemu_hp_quiet(vm, "blockdev-del",
		              json_pack("{s:s}", "node-name", rnode));
	if (r[--k].rc == QMP_OK)
		qemu_hp_quiet(vm, "blockdev-del",
		              json_pack("{s:s}", "node-name", fmt));
	if (r[--k].rc == QMP_OK)
		qemu_hp_quiet(vm, "blockdev-del",
		              json_pack("{s:s}", "node-name", file));
	if (iothread && r[0].rc == QMP_OK)
		qemu_hp_quiet(vm, "object-del", json_pack("{s:s}", "id", io));
}

/* Opens a disk in QEMU: [object-add iothread,] blockdev-add of the
 * protocol node (O_DIRECT when the file allows it: io_uring, else native
 * AIO; a thread pool when the kernel has no AIO context left, as
 * fs.aio-max-nr is shared by the whole host), blockdev-add of the format
 * node, [for on_boot=reset: the base read-only and a fresh overlay on it,]
 * device_add, all sent in one pipeline (one round trip, not four: on a
 * host busy with booting guests every round trip waits for QEMU's main
 * loop to be scheduled). What succeeded is undone when a step fails. */
int
qemu_disk_attach(struct qemu_vm *vm, const struct vm_disk *d, int port,
                 int bootindex, char **err)
{
	static const char *const engines[] = {"io_uring", "native", "threads"};
	bool direct = qemu_direct_ok(d->path), iothread = qemu_use_iothreads();
	struct vm_disk base = *d;
	char file[32], fmt[32], io[32];
	int rc = QMP_EQEMU;

	qemu_disk_names(d->id, file, fmt, io);
	base.readonly = d->readonly || d->reset;
	if (d->reset && qemu_reset_create(vm, d, err) < 0)
		return -1;
	for (size_t e = qemu_aio_uring_ok ? 0 : 1; e < 3; e++) {
		struct qmp_req r[5] = {{0}};
		size_t n = 0, fail = 0;
		if (iothread)
			r[n++] = (struct qmp_req){"object-add",
			                          qemu_json_iothread(d)};
		r[n++] = (struct qmp_req){
		    "blockdev-add",
		    qemu_json_blockdev_aio(&base, direct, engines[e])};
		size_t file_k = n - 1;
		r[n++] = (struct qmp_req){
		    "blockdev-add", qemu_json_blockdev_fmt(&base, direct)};
		if (d->reset)
			r[n++] = (struct qmp_req){
			    "blockdev-add",
			    qemu_json_reset(vm, d, fmt, engines[e])};
		json_t *dev =
		    qemu_json_disk_device(d, port, bootindex, iothread);
		if (d->reset)
			json_object_set_new(dev, "drive",
			                    json_sprintf("%s-reset", d->id));
		r[n++] = (struct qmp_req){"device_add", dev};
		rc = qmp_pipeline(vm->mon, r, n, QEMU_HP_CMD_MS);
		while (fail < n && r[fail].rc == QMP_OK)
			fail++;
		bool engine_refused =
		    rc == QMP_EQEMU && direct && e < 2 && fail == file_k &&
		    r[file_k].err &&
		    strstr(r[file_k].err, e == 0 ? "io_uring" : "AIO");
		if (rc != QMP_OK) {
			qemu_attach_undo(vm, d, r, n, iothread);
			if (!engine_refused)
				*err = xasprintf(
				    "VM %s: %s: %s", vm->uuid,
				    fail < n ? r[fail].cmd : "attach",
				    fail < n && r[fail].err ? r[fail].err
				                            : "failed");
			else if (e == 0 && qemu_aio_uring_ok) {
				qemu_aio_uring_ok = 0;
				log_warn(QEMU_TAG,
				         "io_uring unusable (%s): native AIO "
				         "from now on",
				         r[file_k].err);
			} else if (e == 1) {
				log_warn(
				    QEMU_TAG,
				    "VM %s: disk %s: %s: a thread pool instead",
				    vm->uuid, d->id, r[file_k].err);
			}
		}
		for (size_t k = 0; k < n; k++) {
			json_decref(r[k].args);
			json_decref(r[k].ret);
			free(r[k].err);
		}
		if (!engine_refused)
			break;
	}
	if (rc != QMP_OK && d->reset)
		qemu_reset_drop(vm, d);
	return rc == QMP_OK ? 0 : -1;
}

void
qemu_reset_drop(struct qemu_vm *vm, const struct vm_disk *d)
{
	char *ov;

	if (!d->reset)
		return;
	ov = qemu_reset_path(vm, d->id);
	if (unlink(ov) == 0)
		log_info(QEMU_TAG,
		         "VM %s: disk %s: writes of this boot dropped "
		         "(on_boot=reset)",
		         vm->uuid, d->id);
	free(ov);
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
	if (qemu_assert_layout(vm, "disk hot-plug", err) < 0) {
		/* *err set */
	} else if (qemu_find_disk(vm, d->id) >= 0) {
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
		char *e = NULL;
		if (d->reset && qemu_reset_action(vm, &e) < 0) {
			log_warn(QEMU_TAG, "%s", e);
			free(e);
		}
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
		qemu_reset_drop(vm, &vm->spec.disks[i]);
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
	if (qemu_assert_layout(vm, "NIC hot-plug", err) < 0) {
		/* *err set */
	} else if (qemu_find_nic(vm, n->id) >= 0) {
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
		json_array_foreach(r, i, e) out->cpu_seconds += qemu_proc_cpu(
		    vm->pid,
		    json_integer_value(json_object_get(e, "thread-id")));
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

int
qemu_balloon(const char *uuid, int64_t target, char **err)
{
	struct qemu_vm *vm = qemu_op_get_timed(uuid, 2000, err);
	int rc = -1;

	if (!vm)
		return -1;
	if (!vm->spec.balloon) {
		qemu_op_put(vm); /* a QEMU started before xapid had balloons */
		return 1;
	}
	if (target > vm->spec.memory)
		target = vm->spec.memory;
	if (qemu_ensure_mon(vm, err) == 0 &&
	    qemu_qmp(vm, "balloon",
	             json_pack("{s:I}", "value", (json_int_t)target), NULL,
	             QEMU_HP_CMD_MS, err) == QMP_OK) {
		log_info(QEMU_TAG, "VM %s: memory target %lld MiB (balloon)",
		         uuid, (long long)(target >> 20));
		rc = 0;
	}
	qemu_op_put(vm);
	return rc;
}
