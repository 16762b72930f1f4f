/*
 * qemu_proc: the VM table, QEMU processes and what happens when they end.
 *
 * Death detection: one pidfd per QEMU, polled by a single reaper thread
 * (plus an eventfd to wake it when the set changes). For a QEMU this xapid
 * spawned, the reaper waitpid()s exactly that pid (xapid is a child
 * subreaper; nobody else may reap our QEMUs) and gets the exit status; for a
 * QEMU re-attached after a restart it only learns that the process is gone.
 * An exit that no op of ours asked for is handled on a short-lived thread:
 * it waits for the VM's op lock, cleans up (taps, files) and reports the new
 * state through the backend's event callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/htab.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"
#include "vm/vmspec.h"

extern char **environ;

pthread_mutex_t qemu_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t qemu_cond;
char *qemu_vms_dir;
char *qemu_binary;
vm_event_cb qemu_event_cb;

static struct htab qemu_vms;
static int qemu_wake_fd = -1;
static bool qemu_reaper_started;

static int
qemu_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void
qemu_wake_reaper(void)
{
	uint64_t one = 1;

	if (qemu_wake_fd >= 0)
		(void)!write(qemu_wake_fd, &one, sizeof(one));
}

/* ---- the table ---- */

struct qemu_vm *
qemu_vm_new(const char *uuid)
{
	struct qemu_vm *vm = xcalloc(1, sizeof(*vm));

	snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
	vm->dir = xasprintf("%s/%s", qemu_vms_dir, uuid);
	vm->refs = 1;
	vm->pidfd = -1;
	pthread_mutex_init(&vm->oplock, NULL);
	pthread_mutex_init(&vm->agent_lock, NULL);
	return vm;
}

struct qemu_vm *
qemu_vm_get(const char *uuid, char **err)
{
	struct qemu_vm *vm;

	pthread_mutex_lock(&qemu_lock);
	vm = htab_get(&qemu_vms, uuid);
	if (vm)
		vm->refs++;
	pthread_mutex_unlock(&qemu_lock);
	if (!vm && err)
		*err = xasprintf("VM %s is not running on this host", uuid);
	return vm;
}

/* Takes the op lock (timeout_ms < 0: no bound). */
static struct qemu_vm *
qemu_op_lock(const char *uuid, int timeout_ms, char **err)
{
	struct qemu_vm *vm = qemu_vm_get(uuid, err);

	if (!vm)
		return NULL;
	if (timeout_ms < 0) {
		pthread_mutex_lock(&vm->oplock);
	} else {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		if (pthread_mutex_timedlock(&vm->oplock, &dl) != 0) {
			qemu_vm_unref(vm);
			if (err)
				*err = xasprintf("VM %s is busy with another operation", uuid);
			return NULL;
		}
	}
	pthread_mutex_lock(&qemu_lock);
	bool gone = !vm->in_table;
	pthread_mutex_unlock(&qemu_lock);
	if (gone) {
		pthread_mutex_unlock(&vm->oplock);
		qemu_vm_unref(vm);
		if (err)
			*err = xasprintf("VM %s is not running on this host", uuid);
		return NULL;
	}
	return vm;
}

struct qemu_vm *
qemu_op_get(const char *uuid, char **err)
{
	return qemu_op_lock(uuid, -1, err);
}

struct qemu_vm *
qemu_op_get_timed(const char *uuid, int timeout_ms, char **err)
{
	return qemu_op_lock(uuid, timeout_ms, err);
}

void
qemu_op_put(struct qemu_vm *vm)
{
	pthread_mutex_unlock(&vm->oplock);
	qemu_vm_unref(vm);
}

void
qemu_vm_unref(struct qemu_vm *vm)
{
	if (!vm)
		return;
	pthread_mutex_lock(&qemu_lock);
	int left = --vm->refs;
	pthread_mutex_unlock(&qemu_lock);
	if (left > 0)
		return;
	qmp_close(vm->mon);
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	vm_spec_clear(&vm->spec);
	free(vm->disk_port);
	free(vm->nic_port);
	free(vm->pci_port);
	free(vm->taps);
	free(vm->dir);
	pthread_mutex_destroy(&vm->oplock);
	pthread_mutex_destroy(&vm->agent_lock);
	free(vm);
}

int
qemu_vm_add(struct qemu_vm *vm)
{
	pthread_mutex_lock(&qemu_lock);
	if (htab_get(&qemu_vms, vm->uuid)) {
		pthread_mutex_unlock(&qemu_lock);
		return -1;
	}
	htab_put(&qemu_vms, vm->uuid, vm);
	vm->in_table = true;
	vm->refs++;
	pthread_mutex_unlock(&qemu_lock);
	qemu_wake_reaper();
	return 0;
}

void
qemu_vm_remove(struct qemu_vm *vm)
{
	bool was;

	pthread_mutex_lock(&qemu_lock);
	was = vm->in_table;
	if (was) {
		htab_del(&qemu_vms, vm->uuid);
		vm->in_table = false;
	}
	pthread_mutex_unlock(&qemu_lock);
	if (was)
		qemu_vm_unref(vm);
}

void
qemu_op_begin(struct qemu_vm *vm, bool stopping)
{
	pthread_mutex_lock(&qemu_lock);
	vm->op_active++;
	if (stopping)
		vm->expect_exit++;
	pthread_mutex_unlock(&qemu_lock);
}

void
qemu_op_end(struct qemu_vm *vm, bool stopping)
{
	pthread_mutex_lock(&qemu_lock);
	vm->op_active--;
	if (stopping)
		vm->expect_exit--;
	pthread_mutex_unlock(&qemu_lock);
}

#define QEMU_RESET_QUIET_S 5.0

static double
qemu_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
qemu_quiet_resets(struct qemu_vm *vm)
{
	pthread_mutex_lock(&qemu_lock);
	vm->resets_quiet_until = qemu_mono() + QEMU_RESET_QUIET_S;
	pthread_mutex_unlock(&qemu_lock);
}

void
qemu_set_state(struct qemu_vm *vm, enum vm_run_state st)
{
	pthread_mutex_lock(&qemu_lock);
	vm->state = st;
	pthread_mutex_unlock(&qemu_lock);
}

/* ---- exits ---- */

/* What an unexpected exit means (state, reason). Lock held. */
static enum vm_run_state
qemu_exit_meaning(const struct qemu_vm *vm, char *reason, size_t n)
{
	const char *r = vm->reason;

	if (strcmp(r, "guest-panic") == 0) {
		snprintf(reason, n, "guest-panic");
		return VMR_CRASHED;
	}
	if (*r) {
		snprintf(reason, n, "%s", r); /* guest-shutdown, host-qmp-quit, host-signal */
		return VMR_HALTED;
	}
	if (vm->status_known && WIFSIGNALED(vm->wstatus)) {
		snprintf(reason, n, "QEMU killed by signal %d", WTERMSIG(vm->wstatus));
		return VMR_CRASHED;
	}
	if (vm->status_known && WEXITSTATUS(vm->wstatus) != 0) {
		snprintf(reason, n, "QEMU exited with status %d", WEXITSTATUS(vm->wstatus));
		return VMR_CRASHED;
	}
	snprintf(reason, n, vm->status_known ? "QEMU exited" : "QEMU process gone");
	return vm->status_known ? VMR_HALTED : VMR_CRASHED;
}

/* Thread: an exit nobody asked for. Owns a reference. */
static void *
qemu_death_main(void *p)
{
	struct qemu_vm *vm = p;
	enum vm_run_state st;
	char reason[96];
	bool report;

	pthread_mutex_lock(&vm->oplock);
	/* the pidfd can tell before QMP's last event (SHUTDOWN and its reason)
	 * is read: wait for it, or for the end of the connection (bounded) */
	pthread_mutex_lock(&qemu_lock);
	bool why_known = vm->reason[0] != 0;
	pthread_mutex_unlock(&qemu_lock);
	json_t *ev = NULL;
	if (!why_known && vm->mon &&
	    qmp_wait_event(vm->mon, 0, "SHUTDOWN", NULL, NULL, 2000, &ev,
	                   NULL) == QMP_OK) {
		const char *r =
		    json_string_value(json_object_get(ev, "reason"));
		pthread_mutex_lock(&qemu_lock);
		if (!vm->reason[0])
			snprintf(vm->reason, sizeof(vm->reason), "%s",
			         r ? r : "shutdown");
		pthread_mutex_unlock(&qemu_lock);
	}
	json_decref(ev);
	pthread_mutex_lock(&qemu_lock);
	report = vm->in_table && vm->expect_exit == 0;
	st = qemu_exit_meaning(vm, reason, sizeof(reason));
	pthread_mutex_unlock(&qemu_lock);
	bool fresh = report && strcmp(reason, "guest-reset") == 0 &&
	             qemu_has_reset_disk(vm);
	if (fresh) {
		/* a guest reboot with on_boot=reset disks (qemu_reset_action)
		 */
		char *e = NULL;
		log_info(QEMU_TAG,
		         "VM %s: the guest rebooted: a fresh QEMU "
		         "(on_boot=reset disks)",
		         vm->uuid);
		if (qemu_relaunch(vm, &e) == 0) {
			st = VMR_RUNNING;
		} else {
			log_err(QEMU_TAG,
			        "VM %s: restart after the guest's reboot "
			        "failed: %s",
			        vm->uuid, e);
			snprintf(reason, sizeof(reason),
			         "restart after reboot failed");
		}
		free(e);
	} else if (report) {
		log_info(QEMU_TAG, "VM %s: QEMU pid %d ended on its own: %s", vm->uuid,
			 (int)vm->pid, reason);
		qemu_cleanup(vm);
		qemu_vm_remove(vm);
	}
	pthread_mutex_unlock(&vm->oplock);
	if (report && qemu_event_cb)
		qemu_event_cb(vm->uuid, st, fresh && st == VMR_RUNNING, reason);
	qemu_vm_unref(vm);
	return NULL;
}

/* The process behind vm->pidfd ended (reaper thread). */
static void
qemu_reap(struct qemu_vm *vm)
{
	int st = 0;
	bool known = false, report;

	if (vm->child) {
		pid_t r;
		while ((r = waitpid(vm->pid, &st, WNOHANG)) < 0 && errno == EINTR)
			;
		if (r == 0)
			return; /* not yet: poll again */
		known = r == vm->pid;
	}
	pthread_mutex_lock(&qemu_lock);
	vm->exited = true;
	vm->status_known = known;
	vm->wstatus = st;
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	vm->pidfd = -1;
	report = vm->in_table && vm->expect_exit == 0;
	if (report)
		vm->refs++;
	pthread_cond_broadcast(&qemu_cond);
	pthread_mutex_unlock(&qemu_lock);
	log_debug(QEMU_TAG, "VM %s: QEMU pid %d exited (status %s%d)", vm->uuid, (int)vm->pid,
		  known ? "" : "unknown ", st);
	if (report) {
		pthread_t th;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &a, qemu_death_main, vm) != 0)
			qemu_death_main(vm);
		pthread_attr_destroy(&a);
	}
}

static void *
qemu_reaper_main(void *p)
{
	(void)p;
	for (;;) {
		struct pollfd *pfd;
		struct qemu_vm **vms;
		size_t n = 1, pos = 0;
		struct qemu_vm *vm;

		pthread_mutex_lock(&qemu_lock);
		pfd = xcalloc(qemu_vms.n + 1, sizeof(*pfd));
		vms = xcalloc(qemu_vms.n + 1, sizeof(*vms));
		pfd[0] = (struct pollfd){qemu_wake_fd, POLLIN, 0};
		while ((vm = htab_next(&qemu_vms, &pos)))
			if (vm->pidfd >= 0 && !vm->exited) {
				vm->refs++;
				vms[n] = vm;
				pfd[n++] = (struct pollfd){vm->pidfd, POLLIN, 0};
			}
		pthread_mutex_unlock(&qemu_lock);
		if (poll(pfd, n, -1) > 0) {
			if (pfd[0].revents) {
				uint64_t v;
				(void)!read(qemu_wake_fd, &v, sizeof(v));
			}
			for (size_t i = 1; i < n; i++)
				if (pfd[i].revents)
					qemu_reap(vms[i]);
		}
		for (size_t i = 1; i < n; i++)
			qemu_vm_unref(vms[i]);
		free(pfd);
		free(vms);
	}
	return NULL;
}

int
qemu_proc_init(char **err)
{
	pthread_condattr_t ca;
	pthread_t th;

	pthread_mutex_lock(&qemu_lock);
	if (qemu_reaper_started) {
		pthread_mutex_unlock(&qemu_lock);
		return 0;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&qemu_cond, &ca);
	pthread_condattr_destroy(&ca);
	qemu_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (qemu_wake_fd < 0 || pthread_create(&th, NULL, qemu_reaper_main, NULL) != 0) {
		pthread_mutex_unlock(&qemu_lock);
		*err = xasprintf("cannot start the QEMU reaper: %s", strerror(errno));
		return -1;
	}
	pthread_detach(th);
	qemu_reaper_started = true;
	pthread_mutex_unlock(&qemu_lock);
	return 0;
}

/* ---- QMP events ---- */

static void
qemu_on_event(void *opaque, const struct qmp_event *ev)
{
	struct qemu_vm *vm = opaque;
	const char *reason = json_string_value(json_object_get(ev->data, "reason"));
	enum vm_run_state st = VMR_HALTED;
	bool report = false, reboot = false;
	char why[64] = "";

	if (!ev->name)
		return; /* connection lost: the pidfd tells whether QEMU died */
	pthread_mutex_lock(&qemu_lock);
	if (strcmp(ev->name, "SHUTDOWN") == 0) {
		if (strcmp(vm->reason, "guest-panic") != 0)
			snprintf(vm->reason, sizeof(vm->reason), "%s", reason ? reason : "shutdown");
	} else if (strcmp(ev->name, "GUEST_PANICKED") == 0) {
		snprintf(vm->reason, sizeof(vm->reason), "guest-panic");
	} else if (strcmp(ev->name, "RESET") == 0) {
		report = vm->op_active == 0 && reason && strcmp(reason, "guest-reset") == 0 &&
			 qemu_mono() >= vm->resets_quiet_until;
		if (report || vm->op_active)
			vm->resets_quiet_until = qemu_mono() + QEMU_RESET_QUIET_S;
		st = VMR_RUNNING;
		reboot = true;
		snprintf(why, sizeof(why), "guest-reset");
	} else if (strcmp(ev->name, "STOP") == 0) {
		report = vm->op_active == 0 && vm->state == VMR_RUNNING && !vm->reason[0];
		if (report)
			vm->state = st = VMR_PAUSED;
		snprintf(why, sizeof(why), "stopped by QEMU");
	} else if (strcmp(ev->name, "RESUME") == 0) {
		report = vm->op_active == 0 && vm->state == VMR_PAUSED;
		if (report)
			vm->state = st = VMR_RUNNING;
		snprintf(why, sizeof(why), "resumed by QEMU");
	}
	pthread_mutex_unlock(&qemu_lock);
	log_debug(QEMU_TAG, "VM %s: event %s%s%s", vm->uuid, ev->name, reason ? " " : "",
		  reason ? reason : "");
	if (report && qemu_event_cb) {
		log_info(QEMU_TAG, "VM %s: %s", vm->uuid, why);
		qemu_event_cb(vm->uuid, st, reboot, why);
	}
}

static bool
qemu_gave_up(void *opaque)
{
	struct qemu_vm *vm = opaque;
	bool gone;

	pthread_mutex_lock(&qemu_lock);
	gone = vm->exited;
	pthread_mutex_unlock(&qemu_lock);
	return gone;
}

int
qemu_connect(struct qemu_vm *vm, int timeout_ms, char **err)
{
	struct qmp_open_opts o = {timeout_ms, qemu_on_event, vm, qemu_gave_up};
	char *path = xasprintf("%s/qmp.sock", vm->dir);
	struct qmp_mon *m = qmp_open(path, &o, err);

	free(path);
	if (!m)
		return -1;
	qmp_close(vm->mon); /* a dead previous connection, if any */
	vm->mon = m;
	return 0;
}

/* ---- processes ---- */

double
qemu_proc_cpu(pid_t pid, long long tid)
{
	char path[96], buf[1024], *p;
	unsigned long long ut = 0, stime = 0;
	ssize_t n;
	int fd;

	if (tid > 0)
		snprintf(path, sizeof(path), "/proc/%d/task/%lld/stat",
		         (int)pid, tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
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

unsigned long long
qemu_proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long st = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	/* fields after the name start at 3; the start time is field 22 */
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st;
}

bool
qemu_cmdline_has(pid_t pid, const char *word)
{
	char path[64], buf[16384];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (pid <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
		if (strstr(buf + i, word))
			return true;
	return false;
}

bool
qemu_pid_is_ours(pid_t pid, unsigned long long starttime, const char *uuid)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd;

	if (pid <= 0 || !starttime || qemu_proc_starttime(pid) != starttime)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	if (!strstr(buf, "qemu"))
		return false;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
		if (strcmp(buf + i, "-uuid") == 0 && i + 6 < n && strcmp(buf + i + 6, uuid) == 0)
			return true;
	return false;
}

int
qemu_spawn(struct qemu_vm *vm, char *const argv[], char **err)
{
	char *logp = xasprintf("%s/qemu.log", vm->dir);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	pid_t pid;
	int rc, fd;

	fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		time_t now = time(NULL);
		char stamp[40];
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		dprintf(fd, "---- %s xapid starts:", stamp);
		for (size_t i = 0; argv[i]; i++)
			dprintf(fd, " %s", argv[i]);
		dprintf(fd, "\n");
		vm->log_off = (long long)lseek(fd, 0, SEEK_END);
		close(fd);
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	/* own session (a ^C to xapid must not reach the VMs), clean signals */
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(logp);
	if (rc != 0) {
		*err = xasprintf("cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	vm->pid = pid;
	vm->child = true;
	vm->starttime = qemu_proc_starttime(pid);
	if (qemu_watch(vm, err) < 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		vm->pid = 0;
		return -1;
	}
	log_info(QEMU_TAG, "VM %s: QEMU pid %d started", vm->uuid, (int)pid);
	return 0;
}

int
qemu_watch(struct qemu_vm *vm, char **err)
{
	int fd = qemu_pidfd_open(vm->pid);

	if (fd < 0) {
		*err = xasprintf("pidfd_open(%d): %s", (int)vm->pid, strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&qemu_lock);
	vm->pidfd = fd;
	pthread_mutex_unlock(&qemu_lock);
	qemu_wake_reaper();
	return 0;
}

bool
qemu_wait_exit(struct qemu_vm *vm, int timeout_ms)
{
	struct timespec dl;
	bool gone;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&qemu_lock);
	while (!vm->exited && vm->pid > 0 &&
	       pthread_cond_timedwait(&qemu_cond, &qemu_lock, &dl) != ETIMEDOUT)
		;
	gone = vm->exited || vm->pid <= 0;
	pthread_mutex_unlock(&qemu_lock);
	return gone;
}

void
qemu_signal(struct qemu_vm *vm, int sig)
{
	pthread_mutex_lock(&qemu_lock);
	if (!vm->exited && vm->pidfd >= 0)
		syscall(SYS_pidfd_send_signal, vm->pidfd, sig, NULL, 0);
	pthread_mutex_unlock(&qemu_lock);
}

int
qemu_terminate(struct qemu_vm *vm, char **err)
{
	if (qemu_wait_exit(vm, 0))
		return 0;
	if (vm->mon && qmp_alive(vm->mon))
		qmp_command(vm->mon, "quit", NULL, NULL, 2000, NULL);
	if (qemu_wait_exit(vm, 3000))
		return 0;
	log_warn(QEMU_TAG, "VM %s: QEMU pid %d ignores quit: SIGKILL", vm->uuid, (int)vm->pid);
	qemu_signal(vm, SIGKILL);
	if (qemu_wait_exit(vm, 10000))
		return 0;
	*err = xasprintf("QEMU pid %d of VM %s does not die", (int)vm->pid, vm->uuid);
	return -1;
}

char *
qemu_log_tail(const struct qemu_vm *vm)
{
	char *path = xasprintf("%s/qemu.log", vm->dir), buf[2048], *lines[3], *save = NULL;
	struct buf out = BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC), k = 0;
	long long from;
	ssize_t n = 0;
	off_t end;

	free(path);
	if (fd < 0)
		return xstrdup("");
	/* what this QEMU wrote: from log_off, at most the last 2 KiB */
	end = lseek(fd, 0, SEEK_END);
	from = end - (off_t)sizeof(buf) + 1 > vm->log_off ? end - (off_t)sizeof(buf) + 1
							   : vm->log_off;
	if (end > from && lseek(fd, (off_t)from, SEEK_SET) >= 0)
		n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (k == 3) {
			memmove(lines, lines + 1, 2 * sizeof(char *));
			k = 2;
		}
		lines[k++] = l;
	}
	for (int i = 0; i < k; i++)
		buf_addf(&out, "%s%.300s", i == 0 ? "; qemu.log: " : " | ", lines[i]);
	return out.data ? buf_steal(&out) : xstrdup("");
}
