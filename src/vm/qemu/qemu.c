/*
 * qemu: the "qemu" VM backend (backend.h): one qemu-system-x86_64 per VM,
 * driven over QMP (see qemu_priv.h for the file layout).
 *
 * Start: the taps are made, QEMU is spawned with its vCPUs stopped (-S), QMP
 * is connected, then "cont" unless the VM starts paused; on any failure the
 * half-started QEMU is killed and the taps and files are removed.
 * Clean shutdown: ACPI power button (system_powerdown), then a bounded wait
 * for QEMU to exit. Hard reboot: system_reset. Clean reboot: the guest agent
 * (guest-shutdown mode=reboot; QEMU keeps running across the guest's reset)
 * when it answers, else ACPI power-off followed by a fresh start with the
 * same configuration (as xapi does: a reboot is shutdown + start).
 * Suspend, save and the memory side of resume are in qemu_save.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"
#include "vm/qemu/qga.h"
#include "vm/vmspec.h"

#define QEMU_QMP_OPEN_MS 30000  /* spawn to QMP ready (TCG on a busy host) */
#define QEMU_REBOOT_S 120       /* clean reboot, both ways */

static char qemu_accel_name[8] = "tcg";

double
qemu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds since the epoch (for log lines other tools line up). */
static double
qemu_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool
qemu_use_iothreads(void)
{
	return strcmp(qemu_accel_name, "kvm") == 0;
}

/* Appends the tail of qemu.log to *err (set by the failing step). */
static void
qemu_err_add_log(struct qemu_vm *vm, char **err)
{
	char *tail = qemu_log_tail(vm), *e;

	if (*tail) {
		e = xasprintf("%s%s", *err, tail);
		free(*err);
		*err = e;
	}
	free(tail);
}

int
qemu_qmp(struct qemu_vm *vm, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
	 char **err)
{
	char *e = NULL;
	int rc;

	if (!vm->mon) {
		json_decref(args);
		*err = xasprintf("VM %s: no QMP connection", vm->uuid);
		return QMP_EIO;
	}
	rc = qmp_command(vm->mon, cmd, args, ret, timeout_ms, &e);
	json_decref(args);
	if (rc != QMP_OK) {
		*err = xasprintf("VM %s: %s: %s", vm->uuid, cmd, e ? e : "failed");
		free(e);
	}
	return rc;
}

int
qemu_ensure_mon(struct qemu_vm *vm, char **err)
{
	if (vm->mon && qmp_alive(vm->mon))
		return 0;
	return qemu_connect(vm, 5000, err);
}

/* ---- start ---- */

/* Removes what a previous run of this VM left (xapid crashed, QEMU died);
 * refuses when that QEMU still runs unattached. */
static int
qemu_clear_stale(struct qemu_vm *vm, char **err)
{
	struct qemu_vm *old = qemu_load_state(vm->uuid);

	if (!old)
		return 0;
	if (qemu_pid_is_ours(old->pid, old->starttime, vm->uuid)) {
		*err = xasprintf("VM %s already has a QEMU (pid %d) not attached", vm->uuid,
				 (int)old->pid);
		qemu_vm_unref(old);
		return -1;
	}
	qemu_cleanup(old);
	qemu_vm_unref(old);
	return 0;
}

/* The disk-attach phase of a start or resume: every virtio disk is checked
 * and opened in QEMU (iothread, blockdev-add of the image and its chain,
 * device_add) by one atom, run in parallel chunks on the worker pool's
 * parallel queue (xenopsd's VBD plugging); the vCPUs are still stopped.
 * The atoms of one VM share its monitor, whose commands are matched by id,
 * so they overlap instead of queueing behind each other's round trips. */
struct qemu_attach {
	struct qemu_vm *vm;
	const int *boot;   /* per spec disk: bootindex */
	size_t *which;     /* spec indexes of the virtio disks */
	char **errs;       /* per atom */
};

static void
qemu_attach_atom(void *ctx, size_t k)
{
	struct qemu_attach *a = ctx;
	size_t i = a->which[k];
	const struct vm_disk *d = &a->vm->spec.disks[i];

	if (strncmp(d->path, "nfs://", 6) != 0 &&
	    access(d->path, d->readonly ? R_OK : R_OK | W_OK) < 0) {
		a->errs[k] = xasprintf("disk %s: %s: %s", d->id, d->path, strerror(errno));
		return;
	}
	qemu_disk_attach(a->vm, d, a->vm->disk_port[i], a->boot[i], &a->errs[k]);
}

/* Runs the phase; its duration (ms) goes to *ms. Returns 0 or -1 with *err
 * (the first failure; QEMU is then killed by the caller, so nothing needs
 * undoing). */
static int
qemu_attach_disks(struct qemu_vm *vm, const int *boot, double *ms, char **err)
{
	const struct vm_spec *s = &vm->spec;
	struct qemu_attach a = {vm, boot, xcalloc(s->ndisks + 1, sizeof(size_t)), NULL};
	size_t n = 0;
	double t0 = qemu_now(), cpu0 = qemu_proc_cpu(vm->pid, 0);
	int rc = 0;

	for (size_t i = 0; i < s->ndisks; i++)
		if (!s->disks[i].cdrom)
			a.which[n++] = i;
	a.errs = xcalloc(n + 1, sizeof(char *));
	vm_parallel(n, qemu_attach_atom, &a);
	for (size_t k = 0; k < n; k++) {
		if (a.errs[k] && rc == 0) {
			*err = a.errs[k];
			a.errs[k] = NULL;
			rc = -1;
		}
		free(a.errs[k]);
	}
	*ms = (qemu_now() - t0) * 1e3;
	if (n)
		log_info(QEMU_TAG,
		         "VM %s: disk-attach phase: %zu disks in %.1f ms "
		         "(chunks of %u), "
		         "from %.6f, QEMU CPU %.0f ms",
		         vm->uuid, n, *ms, vm_parallel_chunk(),
		         qemu_wall() - *ms / 1e3,
		         (qemu_proc_cpu(vm->pid, 0) - cpu0) * 1e3);
	free(a.which);
	free(a.errs);
	return rc;
}

int
qemu_assert_layout(const struct qemu_vm *vm, const char *what, char **err)
{
	if (!vm->legacy_layout)
		return 0;
	*err = xasprintf("VM %s runs in a QEMU started by an older xapid (one "
	                 "PCIe root port "
	                 "per disk, no disk bridges): %s is not possible in "
	                 "it; reboot the VM "
	                 "(vm-reboot) to move it to the current layout",
	                 vm->uuid, what);
	return -1;
}

bool
qemu_has_reset_disk(const struct qemu_vm *vm)
{
	for (size_t i = 0; i < vm->spec.ndisks; i++)
		if (vm->spec.disks[i].reset)
			return true;
	return false;
}

int
qemu_reset_action(struct qemu_vm *vm, char **err)
{
	if (!qemu_has_reset_disk(vm))
		return 0;
	return qemu_qmp(vm, "set-action",
	                json_pack("{s:s}", "reboot", "shutdown"), NULL,
	                QEMU_CMD_MS, err) == QMP_OK
	           ? 0
	           : -1;
}

/* Creates the process of vm (vm->spec; image for a resume, mig_fd >= 0 for
 * a migration destination). On failure nothing is left: no process, no tap,
 * no pid/state file. Op lock held. */
static int
qemu_launch(struct qemu_vm *vm, const char *image, int mig_fd, char **err)
{
	const struct vm_spec *s = &vm->spec;
	struct qemu_cmdline c = {0};
	const char **taps = NULL;
	bool *direct = NULL, firmware_boot = !s->kernel || !*s->kernel;
	double t0 = qemu_now(), t_spawn = 0, t_qmp = 0, t_disks = 0;
	int queues = qemu_nic_queues(s->vcpus);

	if (mkdir(vm->dir, 0700) < 0 && errno != EEXIST) {
		*err = xasprintf("cannot create %s: %s", vm->dir, strerror(errno));
		return -1;
	}
	if (qemu_clear_stale(vm, err) < 0)
		return -1;
	direct = xcalloc(s->ndisks + 1, sizeof(bool));
	for (size_t i = 0; i < s->ndisks; i++) {
		const char *p = s->disks[i].path;
		if (qemu_disk_check(&s->disks[i], err) < 0)
			goto fail;
		if (!s->disks[i].cdrom) /* checked in the disk-attach phase */
			continue;
		if (p && strncmp(p, "nfs://", 6) != 0 && access(p, R_OK) < 0) {
			*err = xasprintf("disk %s: %s: %s", s->disks[i].id, p, strerror(errno));
			goto fail;
		}
		direct[i] = p && qemu_direct_ok(p);
	}
	for (size_t i = 0; i < s->npcis; i++)
		if (qemu_pci_check(getenv("XAPID_SYSFS"), s->pcis[i].addr, err) < 0)
			goto fail;
	vm->taps = xcalloc(s->nnics + 1, sizeof(*vm->taps));
	taps = xcalloc(s->nnics + 1, sizeof(char *));
	for (size_t i = 0; i < s->nnics; i++) {
		if (qemu_nic_check(&s->nics[i], err) < 0 ||
		    qemu_tap_create(vm->uuid, &s->nics[i], queues, vm->taps[i], err) < 0)
			goto fail;
		taps[i] = vm->taps[i];
	}
	struct qemu_cmdline_opts o = {qemu_binary, vm->dir, qemu_accel_name, true,
				      image || mig_fd >= 0 ? "defer" : NULL, taps, direct, true};
	if (qemu_cmdline_build(s, &o, &c, err) < 0)
		goto fail;
	vm->nports = c.nports;
	vm->disk_port = c.disk_port;
	vm->nic_port = c.nic_port;
	vm->pci_port = c.pci_port;
	c.disk_port = c.nic_port = c.pci_port = NULL;
	if (qemu_save_state(vm, err) < 0 || qemu_spawn(vm, c.argv, err) < 0)
		goto fail;
	t_spawn = qemu_now();
	if (qemu_save_state(vm, err) < 0 || qemu_connect(vm, QEMU_QMP_OPEN_MS, err) < 0)
		goto fail_log;
	t_qmp = qemu_now();
	if (qemu_attach_disks(vm, c.disk_boot, &t_disks, err) < 0 ||
	    qemu_reset_action(vm, err) < 0)
		goto fail_log;
	/* the firmware's boot order (fw_cfg "bootorder") is made at a reset:
	 * the one at QEMU's start predates the disks */
	if (!image && mig_fd < 0 && firmware_boot && t_disks > 0 &&
	    qemu_qmp(vm, "system_reset", NULL, NULL, QEMU_CMD_MS, err) != QMP_OK)
		goto fail_log;
	if (image && qemu_incoming(vm, image, err) < 0)
		goto fail_log;
	if (mig_fd >= 0 && qemu_mig_incoming(vm, mig_fd, err) < 0)
		goto fail_log;
	bool paused = s->start_paused || mig_fd >= 0;
	if (!paused && qemu_qmp(vm, "cont", NULL, NULL, QEMU_CMD_MS, err) != QMP_OK)
		goto fail_log;
	qemu_set_state(vm, paused ? VMR_PAUSED : VMR_RUNNING);
	log_info(QEMU_TAG,
		 "VM %s %s (%s): spawned %.0f ms, QMP ready %.0f ms, disks attached %.0f ms, "
		 "total %.0f ms",
		 vm->uuid, image ? "resumed" : mig_fd >= 0 ? "received" : "started",
		 paused ? "paused" : "running", (t_spawn - t0) * 1e3, (t_qmp - t0) * 1e3, t_disks,
		 (qemu_now() - t0) * 1e3);
	qemu_cmdline_free(&c);
	free(taps);
	free(direct);
	return 0;
fail_log:
	qemu_err_add_log(vm, err);
fail:
	if (vm->pid > 0) {
		char *e = NULL;
		qemu_op_begin(vm, true);
		if (qemu_terminate(vm, &e) < 0) {
			log_err(QEMU_TAG, "%s", e);
			free(e);
		}
		qemu_op_end(vm, true);
	}
	qemu_cleanup(vm);
	log_warn(QEMU_TAG, "VM %s: start failed: %s", vm->uuid, *err);
	qemu_cmdline_free(&c);
	free(taps);
	free(direct);
	return -1;
}

/* Forgets the process of a VM that is gone (before a new launch). */
static void
qemu_forget_process(struct qemu_vm *vm)
{
	qmp_close(vm->mon);
	vm->mon = NULL;
	free(vm->disk_port);
	free(vm->nic_port);
	free(vm->pci_port);
	free(vm->taps);
	vm->disk_port = vm->nic_port = vm->pci_port = NULL;
	vm->taps = NULL;
	vm->legacy_layout = false; /* the next QEMU is of this xapid */
	pthread_mutex_lock(&qemu_lock);
	vm->pid = 0;
	vm->exited = false;
	vm->status_known = false;
	vm->reason[0] = 0;
	pthread_mutex_unlock(&qemu_lock);
}

int
qemu_start_vm(const struct vm_spec *spec, const char *image, int mig_fd, char **err)
{
	struct qemu_vm *vm;
	int rc;

	if (!vm_uuid_valid(spec->uuid)) {
		*err = xasprintf("invalid VM uuid '%s'", spec->uuid);
		return -1;
	}
	vm = qemu_vm_new(spec->uuid);
	vm_spec_copy(&vm->spec, spec);
	pthread_mutex_lock(&vm->oplock);
	if (qemu_vm_add(vm) < 0) {
		*err = xasprintf("VM %s is already running", spec->uuid);
		pthread_mutex_unlock(&vm->oplock);
		qemu_vm_unref(vm);
		return -1;
	}
	qemu_op_begin(vm, false);
	rc = qemu_launch(vm, image, mig_fd, err);
	qemu_op_end(vm, false);
	if (rc < 0)
		qemu_vm_remove(vm);
	pthread_mutex_unlock(&vm->oplock);
	qemu_vm_unref(vm);
	return rc;
}

static int
qemu_start(const struct vm_spec *spec, char **err)
{
	return qemu_start_vm(spec, NULL, -1, err);
}

static int
qemu_resume(const struct vm_spec *spec, const char *path, char **err)
{
	return qemu_start_vm(spec, path, -1, err);
}

/* ---- stop ---- */

void
qemu_finish(struct qemu_vm *vm, const char *what)
{
	qemu_mirror_drop(vm);
	qemu_cleanup(vm);
	qemu_vm_remove(vm);
	log_info(QEMU_TAG, "VM %s: %s", vm->uuid, what);
}

static int
qemu_shutdown(const char *uuid, double timeout_s, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);
	int rc = -1;

	if (!vm)
		return -1;
	qemu_op_begin(vm, true);
	if (qemu_ensure_mon(vm, err) == 0 &&
	    qemu_qmp(vm, "system_powerdown", NULL, NULL, QEMU_CMD_MS, err) == QMP_OK) {
		if (qemu_wait_exit(vm, (int)(timeout_s * 1000))) {
			qemu_finish(vm, "shut down");
			rc = 0;
		} else {
			*err = xasprintf("VM %s did not shut down within %.0f s (the guest "
					 "ignored the ACPI power button)",
					 uuid, timeout_s);
		}
	}
	qemu_op_end(vm, true);
	qemu_op_put(vm);
	return rc;
}

/* A VM this xapid does not know: kills what its state files name, if it is
 * really that QEMU, and cleans up. */
static int
qemu_destroy_unknown(const char *uuid, char **err)
{
	struct qemu_vm *vm;
	int rc = 0, fd;

	if (!vm_uuid_valid(uuid) || !(vm = qemu_load_state(uuid)))
		return 0;
	if (qemu_pid_is_ours(vm->pid, vm->starttime, uuid) &&
	    (fd = (int)syscall(SYS_pidfd_open, vm->pid, 0)) >= 0) {
		struct pollfd p = {fd, POLLIN, 0};
		syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
		if (poll(&p, 1, 10000) != 1) {
			*err = xasprintf("QEMU pid %d of VM %s does not die", (int)vm->pid, uuid);
			rc = -1;
		}
		close(fd);
	}
	if (rc == 0)
		qemu_cleanup(vm);
	qemu_vm_unref(vm);
	return rc;
}

static int
qemu_destroy(const char *uuid, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, NULL);
	int rc;

	if (!vm)
		return qemu_destroy_unknown(uuid, err);
	qemu_op_begin(vm, true);
	rc = qemu_terminate(vm, err);
	if (rc == 0)
		qemu_finish(vm, "destroyed");
	qemu_op_end(vm, true);
	qemu_op_put(vm);
	return rc;
}

/* ---- reboot, pause ---- */

/* Clean reboot through the guest agent. Returns 0, 1 when there is no
 * agent to ask, -1 with *err when the guest did not reboot. */
static int
qemu_reboot_agent(struct qemu_vm *vm, char **err)
{
	char *path = xasprintf("%s/qga.sock", vm->dir), *reply = NULL, *e = NULL;
	unsigned long long seq;
	struct qga *g;
	int rc;

	pthread_mutex_lock(&vm->agent_lock);
	g = qga_open(path, 3000, &e);
	free(path);
	if (!g) {
		pthread_mutex_unlock(&vm->agent_lock);
		log_info(QEMU_TAG, "VM %s: clean reboot without agent (%s): ACPI", vm->uuid, e);
		free(e);
		return 1;
	}
	seq = qmp_event_seq(vm->mon);
	rc = qga_command(g, "{\"execute\": \"guest-shutdown\", \"arguments\": {\"mode\": \"reboot\"}}",
			 &reply, 5000, &e);
	qga_close(g);
	pthread_mutex_unlock(&vm->agent_lock);
	free(reply);
	if (rc != QMP_OK) {
		log_info(QEMU_TAG, "VM %s: agent refused the reboot (%s): ACPI", vm->uuid, e);
		free(e);
		return 1;
	}
	if (qmp_wait_event(vm->mon, seq, "RESET", NULL, NULL, QEMU_REBOOT_S * 1000, NULL, &e) !=
	    QMP_OK) {
		*err = xasprintf("VM %s did not reboot: %s", vm->uuid, e);
		free(e);
		return -1;
	}
	return 0;
}

int
qemu_relaunch(struct qemu_vm *vm, char **err)
{
	bool paused = vm->spec.start_paused;
	int rc;

	qemu_cleanup(vm);
	qemu_forget_process(vm);
	vm->spec.start_paused = false;
	rc = qemu_launch(vm, NULL, -1, err);
	vm->spec.start_paused = paused;
	if (rc < 0)
		qemu_vm_remove(vm); /* halted now; the error says why */
	return rc;
}

/* Hard reboot of a VM with on_boot=reset disks: its QEMU goes and a fresh
 * one starts (the guest would otherwise come back on this boot's writes). */
static int
qemu_reboot_fresh(struct qemu_vm *vm, char **err)
{
	qemu_op_begin(vm, true);
	int rc = qemu_terminate(vm, err);
	qemu_op_end(vm, true);
	return rc < 0 ? -1 : qemu_relaunch(vm, err);
}

/* Clean reboot without agent: ACPI power-off, then a fresh start. */
static int
qemu_reboot_acpi(struct qemu_vm *vm, char **err)
{
	qemu_op_begin(vm, true);
	if (qemu_qmp(vm, "system_powerdown", NULL, NULL, QEMU_CMD_MS, err) != QMP_OK) {
		qemu_op_end(vm, true);
		return -1;
	}
	if (!qemu_wait_exit(vm, QEMU_REBOOT_S * 1000)) {
		qemu_op_end(vm, true);
		*err = xasprintf("VM %s did not shut down for the reboot within %d s", vm->uuid,
				 QEMU_REBOOT_S);
		return -1;
	}
	qemu_op_end(vm, true);
	return qemu_relaunch(vm, err);
}

static int
qemu_reboot(const char *uuid, bool hard, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);
	int rc = -1;

	if (!vm)
		return -1;
	qemu_op_begin(vm, false);
	if (qemu_ensure_mon(vm, err) == 0) {
		/* on_boot=reset disks: the reboot is a fresh QEMU, never a
		 * reset in place (their QEMU turns a guest reset into an
		 * exit); the same for a QEMU of an older layout (it gets the
		 * current one) */
		bool fresh = qemu_has_reset_disk(vm) || vm->legacy_layout;
		if (hard && fresh)
			rc = qemu_reboot_fresh(vm, err);
		else if (hard)
			rc = qemu_qmp(vm, "system_reset", NULL, NULL, QEMU_CMD_MS, err) == QMP_OK
				     ? 0
				     : -1;
		else if (fresh || (rc = qemu_reboot_agent(vm, err)) == 1)
			rc = qemu_reboot_acpi(vm, err);
	}
	if (rc == 0)
		log_info(QEMU_TAG, "VM %s: %s reboot", uuid, hard ? "hard" : "clean");
	qemu_quiet_resets(vm);
	qemu_op_end(vm, false);
	qemu_op_put(vm);
	return rc;
}

/* pause / unpause. */
static int
qemu_run_cmd(const char *uuid, const char *cmd, enum vm_run_state st, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);
	int rc = -1;

	if (!vm)
		return -1;
	qemu_op_begin(vm, false);
	if (qemu_ensure_mon(vm, err) == 0 &&
	    qemu_qmp(vm, cmd, NULL, NULL, QEMU_CMD_MS, err) == QMP_OK) {
		qemu_set_state(vm, st);
		rc = 0;
	}
	qemu_op_end(vm, false);
	qemu_op_put(vm);
	return rc;
}

static int
qemu_pause(const char *uuid, char **err)
{
	return qemu_run_cmd(uuid, "stop", VMR_PAUSED, err);
}

static int
qemu_unpause(const char *uuid, char **err)
{
	return qemu_run_cmd(uuid, "cont", VMR_RUNNING, err);
}

/* ---- init, attach, agent, accel ---- */

static int
qemu_init(const char *state_dir, vm_event_cb cb, char **err)
{
	char reason[256];

	pthread_mutex_lock(&qemu_lock);
	free(qemu_vms_dir);
	qemu_vms_dir = xasprintf("%s/vms", state_dir);
	free(qemu_binary);
	qemu_binary = xstrdup(getenv("XAPID_QEMU") ? getenv("XAPID_QEMU") : "qemu-system-x86_64");
	qemu_event_cb = cb;
	pthread_mutex_unlock(&qemu_lock);
	if (mkdir(qemu_vms_dir, 0700) < 0 && errno != EEXIST) {
		*err = xasprintf("cannot create %s: %s", qemu_vms_dir, strerror(errno));
		return -1;
	}
	if (qemu_proc_init(err) < 0)
		return -1;
	qemu_accel_probe(state_dir, qemu_accel_name, reason, sizeof(reason));
	log_info(QEMU_TAG, "qemu backend: %s, accelerator %s (%s)", qemu_binary, qemu_accel_name,
		 reason);
	return 0;
}

static enum vm_run_state
qemu_attach(const char *uuid)
{
	enum vm_run_state st = VMR_RUNNING;
	struct qemu_vm *vm;
	json_t *r = NULL;
	char *err = NULL;

	if (!vm_uuid_valid(uuid))
		return VMR_HALTED;
	if ((vm = qemu_vm_get(uuid, NULL))) {
		pthread_mutex_lock(&qemu_lock);
		st = vm->state;
		pthread_mutex_unlock(&qemu_lock);
		qemu_vm_unref(vm);
		return st;
	}
	if (!(vm = qemu_load_state(uuid)))
		return VMR_HALTED;
	if (!qemu_pid_is_ours(vm->pid, vm->starttime, uuid)) {
		log_info(QEMU_TAG, "VM %s: QEMU pid %d is gone; cleaning up", uuid, (int)vm->pid);
		qemu_cleanup(vm);
		qemu_vm_unref(vm);
		return VMR_HALTED;
	}
	pthread_mutex_lock(&vm->oplock);
	if (qemu_watch(vm, &err) < 0 || qemu_vm_add(vm) < 0) {
		log_err(QEMU_TAG, "VM %s: cannot watch QEMU pid %d: %s", uuid, (int)vm->pid,
			err ? err : "already attached");
		free(err);
		pthread_mutex_unlock(&vm->oplock);
		qemu_vm_unref(vm);
		return VMR_RUNNING;
	}
	if (qemu_connect(vm, 5000, &err) < 0 ||
	    qemu_qmp(vm, "query-status", NULL, &r, QEMU_CMD_MS, &err) != QMP_OK) {
		log_warn(QEMU_TAG, "VM %s: re-attached without QMP (%s); will retry", uuid, err);
	} else {
		const char *s = json_string_value(json_object_get(r, "status"));
		if (!s || strcmp(s, "running") != 0)
			st = VMR_PAUSED;
		log_info(QEMU_TAG, "VM %s: re-attached QEMU pid %d (%s)", uuid, (int)vm->pid,
			 s ? s : "?");
		if (vm->legacy_layout)
			log_warn(QEMU_TAG,
			         "VM %s: its QEMU has the layout of an older "
			         "xapid (a root port "
			         "per disk): hot-plug and migration are "
			         "refused until it reboots",
			         uuid);
	}
	free(err);
	json_decref(r);
	qemu_set_state(vm, st);
	pthread_mutex_unlock(&vm->oplock);
	qemu_vm_unref(vm);
	return st;
}

static int
qemu_agent(const char *uuid, const char *json, char **reply, double timeout_s, char **err)
{
	struct qemu_vm *vm = qemu_vm_get(uuid, err);
	int ms = timeout_s > 0 ? (int)(timeout_s * 1000) : 10000;
	struct timespec dl;
	char *path, *e = NULL;
	struct qga *g;
	int rc = -1;

	if (!vm)
		return -1;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000 + 1;
	if (pthread_mutex_timedlock(&vm->agent_lock, &dl) != 0) {
		*err = xasprintf("VM %s: guest agent busy", uuid);
		qemu_vm_unref(vm);
		return -1;
	}
	path = xasprintf("%s/qga.sock", vm->dir);
	g = qga_open(path, ms, &e);
	if (g && qga_command(g, json, reply, ms, &e) == QMP_OK)
		rc = 0;
	else
		*err = xasprintf("VM %s: %s", uuid, e ? e : "guest agent failed");
	free(e);
	qga_close(g);
	free(path);
	pthread_mutex_unlock(&vm->agent_lock);
	qemu_vm_unref(vm);
	return rc;
}

static const char *
qemu_accel(void)
{
	return qemu_accel_name;
}

const struct vm_backend_ops vm_backend_qemu = {
    .name = "qemu",
    .init = qemu_init,
    .attach = qemu_attach,
    .start = qemu_start,
    .shutdown = qemu_shutdown,
    .destroy = qemu_destroy,
    .reboot = qemu_reboot,
    .pause = qemu_pause,
    .unpause = qemu_unpause,
    .suspend = qemu_suspend,
    .save = qemu_save,
    .resume = qemu_resume,
    .disk_plug = qemu_disk_plug,
    .disk_unplug = qemu_disk_unplug,
    .disk_snapshot = qemu_disk_snapshot,
    .disk_cbt = qemu_disk_cbt,
    .disk_stream = qemu_disk_stream,
    .nic_plug = qemu_nic_plug,
    .nic_unplug = qemu_nic_unplug,
    .stats = qemu_stats,
    .balloon = qemu_balloon,
    .mirror_start = qemu_mirror_start,
    .mirror_abort = qemu_mirror_abort,
    .mirror_serve = qemu_mirror_serve,
    .migrate_receive = qemu_migrate_receive,
    .migrate_send = qemu_migrate_send,
    .migrate_end = qemu_migrate_end,
    .layout = qemu_layout,
    .agent = qemu_agent,
    .accel = qemu_accel,
};
