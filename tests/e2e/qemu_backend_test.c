/*
 * qemu_backend_test: drives the qemu VM backend (src/vm/qemu/) directly,
 * without xapid, against real QEMU processes and the test guest of
 * tools/build-guest.sh (vmlinux + initramfs with qemu-ga). Prints TAP.
 *
 * usage: qemu_backend_test VMLINUX INITRD
 *   (run by tests/e2e/test_qemu_backend.sh, which finds or builds the guest)
 *
 * Stages: a child process starts a VM and exits (as a crashing xapid would);
 * this process re-attaches to it, then pauses, unpauses, reads statistics,
 * talks to the guest agent, hot-plugs and unplugs a disk and a NIC, reboots
 * (hard, then clean through the agent, then the guest on its own), suspends
 * to a file and resumes, and sees the guest power itself off. A second VM (firmware only) is killed
 * with SIGKILL behind the backend's back; a third is shut down with the ACPI
 * button; failed starts must leave nothing behind. Every wait is bounded;
 * every QEMU, tap, bridge and file is removed at the end, also on failure.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"
#include "vm/backend.h"

static const struct vm_backend_ops *be = &vm_backend_qemu;
static char dir[64], bridge[16];
static const char *vmlinux, *initrd;
static int ntest, nfail;
static char *err; /* the last error of a backend call */

/* Frees the previous error and hands out the slot for the next call. */
static char **
E(void)
{
	free(err);
	err = NULL;
	return &err;
}

/* The last error, or "" (for messages). */
static const char *
ES(void)
{
	return err ? err : "";
}

/* VM uuids of this run (several runs may share the machine) */
static char UUID_A[37], UUID_B[37], UUID_C[37];

static void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	ntest++;
	if (!cond)
		nfail++;
	printf("%sok %d - ", cond ? "" : "not ", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- events from the backend ---- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char uuid[37];
	enum vm_run_state st;
	bool reboot;
	char reason[96];
} evs[64];
static int nev;

static void
on_event(const char *uuid, enum vm_run_state st, bool reboot, const char *reason)
{
	pthread_mutex_lock(&ev_lock);
	if (nev < 64) {
		snprintf(evs[nev].uuid, sizeof(evs[0].uuid), "%s", uuid);
		evs[nev].st = st;
		evs[nev].reboot = reboot;
		snprintf(evs[nev].reason, sizeof(evs[0].reason), "%s", reason);
		nev++;
	}
	pthread_mutex_unlock(&ev_lock);
	printf("# event: %s state %d reboot %d (%s)\n", uuid, st, reboot, reason);
}

/* Waits for an event of uuid in state st after index from; returns its
 * index or -1. */
static int
wait_event(const char *uuid, enum vm_run_state st, int from, double timeout_s, char *reason,
	   size_t n)
{
	double t0 = now();

	while (now() - t0 < timeout_s) {
		pthread_mutex_lock(&ev_lock);
		for (int i = from; i < nev; i++)
			if (strcmp(evs[i].uuid, uuid) == 0 && evs[i].st == st) {
				if (reason)
					snprintf(reason, n, "%s", evs[i].reason);
				pthread_mutex_unlock(&ev_lock);
				return i;
			}
		pthread_mutex_unlock(&ev_lock);
		usleep(50000);
	}
	return -1;
}

static int
events_now(void)
{
	pthread_mutex_lock(&ev_lock);
	int n = nev;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

/* ---- the guest's serial console ---- */

static char *
console(const char *uuid)
{
	char path[256];
	FILE *f;
	char *s = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/vms/%s/console.log", dir, uuid);
	if (!(f = fopen(path, "re")))
		return xstrdup("");
	if (getdelim(&s, &n, 0, f) < 0) {
		free(s);
		s = xstrdup("");
	}
	fclose(f);
	return s;
}

static int
count(const char *hay, const char *needle)
{
	int k = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		k++;
	return k;
}

/* How many times text is on the console now. */
static int
count_console(const char *uuid, const char *text)
{
	char *c = console(uuid);
	int k = count(c, text);

	free(c);
	return k;
}

/* Waits until the console holds at least n copies of text. */
static bool
wait_console(const char *uuid, const char *text, int n, double timeout_s)
{
	double t0 = now();

	while (now() - t0 < timeout_s) {
		char *c = console(uuid);
		int k = count(c, text);
		free(c);
		if (k >= n)
			return true;
		usleep(100000);
	}
	return false;
}

/* The last "DISKS:" line of the console (malloc'd). */
static char *
last_disks(const char *uuid)
{
	char *c = console(uuid), *p = c, *last = NULL, *r;

	while ((p = strstr(p, "DISKS:"))) {
		last = p;
		p++;
	}
	r = xstrndup(last ? last : "", last ? strcspn(last, "\r\n") : 0);
	free(c);
	return r;
}

static bool
wait_disks(const char *uuid, const char *needle, bool present, double timeout_s)
{
	double t0 = now();

	while (now() - t0 < timeout_s) {
		char *d = last_disks(uuid);
		bool has = strstr(d, needle) != NULL;
		free(d);
		if (has == present)
			return true;
		usleep(50000);
	}
	return false;
}

/* ---- helpers ---- */

/* Prints the end of a VM's qemu.log and console.log as TAP comments. */
static void
dump_vm(const char *uuid)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "tail -c 600 %s/vms/%s/qemu.log | sed 's/^/# qemu.log: /'; "
		 "tail -n 8 %s/vms/%s/console.log | sed 's/^/# console: /'",
		 dir, uuid, dir, uuid);
	if (system(cmd) != 0)
		printf("# (no logs)\n");
}

static int
sh(const char *cmd)
{
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* DIR/vms/<uuid>/<name> exists. */
static bool
vm_file(const char *uuid, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/vms/%s/%s", dir, uuid, name);
	return exists(path);
}

/* Names of the taps in our bridge now (other tests on this machine may run
 * VMs with taps of their own), space separated. */
static void
taps_now(char *out, size_t n)
{
	char path[64];
	DIR *d;
	struct dirent *e;

	out[0] = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%s/brif", bridge);
	d = opendir(path);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(out + strlen(out), n - strlen(out), "%s ", e->d_name);
	if (d)
		closedir(d);
}

static pid_t
qemu_pid(const char *uuid)
{
	char path[256];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/vms/%s/pid", dir, uuid);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return pid;
}

static struct vm_disk disks_a[2];
static struct vm_nic nics_a[1];

static void
spec_a(struct vm_spec *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->uuid, sizeof(s->uuid), "%s", UUID_A);
	s->name = "test-a";
	s->memory = 192 << 20;
	s->vcpus = s->vcpus_max = 2;
	s->kernel = (char *)vmlinux;
	s->initrd = (char *)initrd;
	s->cmdline = "console=ttyS0 quiet xapid.tick=1";
	s->hotplug_slots = 4;
	snprintf(disks_a[0].id, 16, "vbd0");
	free(disks_a[0].path);
	disks_a[0].path = xasprintf("%s/a0.qcow2", dir);
	disks_a[0].format = "qcow2";
	disks_a[0].bootable = true;
	disks_a[0].userdevice = 0;
	snprintf(disks_a[1].id, 16, "vbd3");
	disks_a[1].cdrom = true;
	disks_a[1].readonly = true;
	disks_a[1].userdevice = 3;
	s->disks = disks_a;
	s->ndisks = 2;
	snprintf(nics_a[0].id, 16, "vif0");
	snprintf(nics_a[0].mac, 18, "02:00:00:aa:00:01");
	nics_a[0].bridge = bridge;
	s->nics = nics_a;
	s->nnics = 1;
}

/* ---- stages ---- */

/* A child process starts VM A and leaves without stopping it. */
static void
stage_start_and_leave(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct vm_spec s;
		if (be->init(dir, on_event, E()) < 0)
			_exit(10);
		spec_a(&s);
		double t0 = now();
		int rc = be->start(&s, E());
		printf("# child: start of A took %.0f ms%s%s\n", (now() - t0) * 1e3,
		       rc ? ": " : "", ES());
		fflush(stdout);
		_exit(rc ? 11 : 0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a first process starts VM A and exits");
}

static bool
stage_attach(void)
{

	int rc = be->init(dir, on_event, E());
	ok(rc == 0, "init (%s)", rc ? ES() : "ok");
	ok(strcmp(be->accel(), "tcg") == 0 || getenv("XAPID_ACCEL"),
	   "accelerator is tcg on this machine (got %s)", be->accel());
	bool attached = be->attach(UUID_A) == VMR_RUNNING;
	ok(attached, "re-attach to A: running");
	ok(be->attach(UUID_B) == VMR_HALTED, "attach to an unknown VM: halted");
	bool up = wait_console(UUID_A, "QGA-UP", 1, 120);
	ok(up, "A's guest booted (qemu-ga up)");
	if (!up)
		dump_vm(UUID_A);
	char taps[256];
	taps_now(taps, sizeof(taps));
	char path[128];
	taps[strcspn(taps, " ")] = 0;
	snprintf(path, sizeof(path), "/sys/class/net/%.15s/master", taps);
	char link[256] = "";
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	ok(*taps && strstr(link, bridge) != NULL, "A's tap %s is in bridge %s", taps, bridge);
	return attached;
}

static void
stage_pause_stats_agent(void)
{
	struct vm_stats *st = xcalloc(1, sizeof(*st));
	char *reply = NULL;

	ok(be->pause(UUID_A, E()) == 0, "pause A");
	ok(be->attach(UUID_A) == VMR_PAUSED, "A reports paused");
	ok(be->unpause(UUID_A, E()) == 0, "unpause A");
	ok(be->stats(UUID_A, st, E()) == 0, "stats of A");
	bool found = false;
	for (size_t i = 0; i < st->ndisks; i++)
		if (strcmp(st->disks[i].id, "vbd0") == 0 && st->disks[i].rd_ops > 0)
			found = true;
	ok(found && st->memory_actual == 192 << 20 && st->cpu_seconds > 0,
	   "stats: vbd0 was read, memory %lld, %.2f vCPU seconds", (long long)st->memory_actual,
	   st->cpu_seconds);
	free(st);
	int rc = be->agent(UUID_A, "{\"execute\": \"guest-ping\"}", &reply, 60, E());
	ok(rc == 0 && reply && strcmp(reply, "{}") == 0, "agent guest-ping: %s",
	   rc ? ES() : reply);
	free(reply);
	reply = NULL;
	rc = be->agent(UUID_A, "{\"execute\": \"guest-get-host-name\"}", &reply, 60, E());
	ok(rc == 0 && reply && strstr(reply, "xapid-guest"), "agent guest-get-host-name: %s",
	   rc ? ES() : reply);
	free(reply);
	reply = NULL;
	rc = be->agent(UUID_A, "{\"execute\": \"no-such-command\"}", &reply, 60, E());
	ok(rc != 0 && strstr(ES(), "CommandNotFound"), "agent error passed on: %s",
	   ES());
}

static void
stage_hotplug(void)
{
	struct vm_disk d = {.id = "vbd1", .format = "qcow2", .userdevice = 1};
	struct vm_nic nic = {.id = "vif1", .mac = "02:00:00:aa:00:02", .bridge = bridge};
	char before[256], after[256];
	double t0, t1, t2;

	d.path = xasprintf("%s/a1.qcow2", dir);
	t0 = now();
	int rc = be->disk_plug(UUID_A, &d, E());
	t1 = now();
	ok(rc == 0, "disk_plug vbd1%s%s", rc ? ": " : "", ES());
	bool seen = wait_disks(UUID_A, ":98304", true, 30);
	t2 = now();
	ok(seen, "the guest sees the new 48 MiB disk");
	printf("# disk hot-plug: QMP %.0f ms, guest sees it after %.0f ms\n", (t1 - t0) * 1e3,
	       (t2 - t0) * 1e3);
	ok(be->disk_plug(UUID_A, &d, E()) != 0, "plugging the same id again fails");
	t0 = now();
	rc = be->disk_unplug(UUID_A, "vbd1", E());
	t1 = now();
	ok(rc == 0, "disk_unplug vbd1%s%s", rc ? ": " : "", ES());
	ok(wait_disks(UUID_A, ":98304", false, 30), "the guest lost the disk");
	printf("# disk hot-unplug (device_del to DEVICE_DELETED + blockdev-del): %.0f ms\n",
	       (t1 - t0) * 1e3);
	ok(be->disk_unplug(UUID_A, "vbd1", E()) != 0, "unplugging it again fails");
	free(d.path);

	taps_now(before, sizeof(before));
	t0 = now();
	rc = be->nic_plug(UUID_A, &nic, E());
	t1 = now();
	taps_now(after, sizeof(after));
	ok(rc == 0 && strlen(after) > strlen(before), "nic_plug vif1 (%.0f ms)%s%s",
	   (t1 - t0) * 1e3, rc ? ": " : "", ES());
	t0 = now();
	rc = be->nic_unplug(UUID_A, "vif1", E());
	t1 = now();
	taps_now(after, sizeof(after));
	ok(rc == 0 && strcmp(after, before) == 0, "nic_unplug vif1 (%.0f ms), its tap is gone%s%s",
	   (t1 - t0) * 1e3, rc ? ": " : "", ES());
	struct vm_nic bad = nic;
	bad.bridge = "xqnosuchbr";
	rc = be->nic_plug(UUID_A, &bad, E());
	ok(rc != 0 && strstr(ES(), "does not exist"), "nic_plug on a missing bridge: %s",
	   ES());
	taps_now(after, sizeof(after));
	ok(strcmp(after, before) == 0, "... and no tap is left behind");
}

static void
stage_reboot(void)
{
	int e0 = events_now();

	ok(be->reboot(UUID_A, true, E()) == 0, "hard reboot of A");
	ok(wait_console(UUID_A, "QGA-UP", 2, 120), "A booted again");
	int rc = be->reboot(UUID_A, false, E());
	ok(rc == 0, "clean reboot of A (guest agent)%s%s",
	   err ? ": " : "", ES());
	ok(wait_console(UUID_A, "GUEST-SHUTDOWN reboot", 1, 60) &&
		   wait_console(UUID_A, "QGA-UP", 3, 120),
	   "the guest rebooted itself and came back");
	ok(wait_event(UUID_A, VMR_RUNNING, e0, 0.5, NULL, 0) < 0,
	   "our own reboots were not reported as events");

	/* a reboot the guest decides on is reported, once */
	sleep(6); /* past the quiet time after our own reset */
	int e1 = events_now();
	char *reply = NULL, reason[96] = "";
	rc = be->agent(UUID_A, "{\"execute\": \"guest-shutdown\", \"arguments\": "
			       "{\"mode\": \"reboot\"}}",
		       &reply, 60, E());
	free(reply);
	ok(rc == 0, "the guest reboots itself (agent guest-shutdown mode=reboot)%s%s",
	   rc ? ": " : "", ES());
	int i = wait_event(UUID_A, VMR_RUNNING, e1, 30, reason, sizeof(reason));
	ok(i >= 0 && evs[i].reboot && strcmp(reason, "guest-reset") == 0,
	   "reported: running, reboot, %s", reason);
	ok(wait_console(UUID_A, "QGA-UP", 4, 120), "the guest came back");
	sleep(6); /* quiet time again */
	ok(wait_event(UUID_A, VMR_RUNNING, i + 1, 0.5, NULL, 0) < 0,
	   "the firmware's extra resets were not reported again");

	/* clean reboot when no agent answers: ACPI power-off, then a new QEMU */
	pid_t pid0 = qemu_pid(UUID_A);
	rc = be->agent(UUID_A, "{\"execute\": \"guest-exec\", \"arguments\": {\"path\": "
			       "\"/bin/sh\", \"arg\": [\"-c\", \"sleep 1; kill -9 $(pidof "
			       "qemu-ga); sleep 3; kill -9 $(pidof qemu-ga)\"]}}",
		       &reply, 60, E());
	free(reply);
	/* the guest's init restarts qemu-ga at once the first time, then only
	 * after 10 s: it is killed twice */
	bool dead = false;
	sleep(4);
	for (int k = 0; k < 10 && !dead; k++) {
		sleep(1);
		reply = NULL;
		dead = be->agent(UUID_A, "{\"execute\": \"guest-ping\"}", &reply, 1, E()) != 0;
		free(reply);
	}
	ok(rc == 0 && dead, "the guest's agent is gone (%s)", ES());
	int boots = count_console(UUID_A, "GUEST-UP"), agents = count_console(UUID_A, "QGA-UP");
	rc = be->reboot(UUID_A, false, E());
	ok(rc == 0, "clean reboot without agent%s%s", rc ? ": " : "", ES());
	ok(wait_console(UUID_A, "GUEST-POWERDOWN", 1, 1) &&
		   wait_console(UUID_A, "GUEST-UP", boots + 1, 120) &&
		   wait_console(UUID_A, "QGA-UP", agents + 1, 120),
	   "ACPI power-off, then a fresh boot");
	char taps[256];
	taps_now(taps, sizeof(taps));
	ok(qemu_pid(UUID_A) != pid0 && qemu_pid(UUID_A) > 0 && *taps,
	   "a new QEMU (pid %d, was %d) with its tap %s", (int)qemu_pid(UUID_A), (int)pid0, taps);
	ok(be->attach(UUID_A) == VMR_RUNNING, "A is running");
}

static void
stage_suspend_resume(void)
{
	char *img = xasprintf("%s/a.suspend", dir), taps[256];
	struct vm_spec s;
	double t0 = now();

	int rc = be->suspend(UUID_A, img, NULL, NULL, E());
	ok(rc == 0, "suspend A to %s (%.0f ms)%s%s", img, (now() - t0) * 1e3, rc ? ": " : "",
	   ES());
	taps_now(taps, sizeof(taps));
	ok(!*taps && !vm_file(UUID_A, "pid") && exists(img),
	   "no process, tap or pid file left; the image exists");
	ok(be->attach(UUID_A) == VMR_HALTED, "a suspended VM does not attach");
	char *c = console(UUID_A);
	int ticks = count(c, "TICK"), boots0 = count(c, "GUEST-UP");
	free(c);
	spec_a(&s);
	t0 = now();
	rc = be->resume(&s, img, E());
	ok(rc == 0, "resume A (%.0f ms)%s%s", (now() - t0) * 1e3, rc ? ": " : "", ES());
	bool ticking = wait_console(UUID_A, "TICK", ticks + 2, 30);
	c = console(UUID_A);
	int boots = count(c, "GUEST-UP");
	free(c);
	ok(ticking && boots == boots0, "the guest keeps ticking after resume, without a new boot "
					"(%d ticks before, boots %d -> %d)",
	   ticks, boots0, boots);
	char *reply = NULL;
	rc = be->agent(UUID_A, "{\"execute\": \"guest-ping\"}", &reply, 60, E());
	ok(rc == 0, "the agent answers after resume");
	free(reply);
	unlink(img);
	free(img);
}

static void
stage_guest_shutdown(void)
{
	char *reply = NULL, reason[96] = "", taps[256];
	int e0 = events_now();

	int rc = be->agent(UUID_A, "{\"execute\": \"guest-shutdown\"}", &reply, 60, E());
	ok(rc == 0, "guest-shutdown through the agent%s%s", rc ? ": " : "", ES());
	free(reply);
	ok(wait_event(UUID_A, VMR_HALTED, e0, 30, reason, sizeof(reason)) >= 0,
	   "the backend reports A halted (%s)", reason);
	ok(strcmp(reason, "guest-shutdown") == 0, "reason is guest-shutdown");
	taps_now(taps, sizeof(taps));
	ok(!*taps && !vm_file(UUID_A, "pid") && !vm_file(UUID_A, "qmp.sock"),
	   "its tap, pid file and sockets are gone (taps: '%s', pid file %d, qmp.sock %d)", taps,
	   vm_file(UUID_A, "pid"), vm_file(UUID_A, "qmp.sock"));
}

/* VM B: firmware only (no kernel). */
static void
stage_kill(void)
{
	struct vm_spec s = {.name = "test-b", .memory = 64 << 20, .vcpus = 1,
			    .hotplug_slots = 2, .start_paused = true};
	char reason[96] = "";
	int e0 = events_now();
	double t0 = now();

	snprintf(s.uuid, sizeof(s.uuid), "%s", UUID_B);
	int rc = be->start(&s, E());
	ok(rc == 0, "start firmware-only VM B paused: %.0f ms to QMP ready%s%s",
	   (now() - t0) * 1e3, rc ? ": " : "", ES());
	ok(be->attach(UUID_B) == VMR_PAUSED, "B is paused");
	rc = be->start(&s, E());
	ok(rc != 0 && strstr(ES(), "already running"), "B cannot start twice");
	pid_t pid = qemu_pid(UUID_B);
	ok(pid > 0 && kill(pid, SIGKILL) == 0, "kill -9 B's QEMU (pid %d)", (int)pid);
	ok(wait_event(UUID_B, VMR_CRASHED, e0, 10, reason, sizeof(reason)) >= 0,
	   "the backend reports B crashed (%s)", reason);
	ok(strstr(reason, "signal 9") != NULL, "reason names signal 9");
	ok(be->attach(UUID_B) == VMR_HALTED && !vm_file(UUID_B, "pid"),
	   "B is gone and cleaned up");
}

/* VM C: the full guest, shut down with the ACPI button, then bad starts. */
static void
stage_acpi_and_failures(void)
{
	struct vm_spec s;
	char taps[256], taps0[256];

	taps_now(taps0, sizeof(taps0));
	spec_a(&s);
	snprintf(s.uuid, sizeof(s.uuid), "%s", UUID_C);
	free(disks_a[0].path);
	disks_a[0].path = xasprintf("%s/c0.qcow2", dir);
	int rc = be->start(&s, E());
	ok(rc == 0, "start VM C%s%s", rc ? ": " : "", ES());
	bool up = wait_console(UUID_C, "QGA-UP", 1, 120);
	ok(up, "C booted");
	if (!up)
		dump_vm(UUID_C);
	rc = be->shutdown(UUID_C, 60, E());
	ok(rc == 0, "clean shutdown of C (ACPI)%s%s",
	   err ? ": " : "", ES());
	ok(wait_console(UUID_C, "GUEST-POWERDOWN", 1, 1), "the guest saw the power button");
	ok(be->attach(UUID_C) == VMR_HALTED, "C is halted");

	nics_a[0].bridge = "xqnosuchbr";
	rc = be->start(&s, E());
	ok(rc != 0 && strstr(ES(), "does not exist"), "start on a missing bridge fails: %s",
	   ES());
	nics_a[0].bridge = bridge;
	free(disks_a[0].path);
	disks_a[0].path = xasprintf("%s/missing.qcow2", dir);
	rc = be->start(&s, E());
	ok(rc != 0 && strstr(ES(), "missing.qcow2"), "start with a missing disk fails: %s",
	   ES());
	s.nnics = 0;
	s.ndisks = 0;
	s.memory = 1 << 20;
	rc = be->start(&s, E());
	ok(rc != 0, "start with 1 MiB of memory fails: %s", ES());
	taps_now(taps, sizeof(taps));
	ok(strcmp(taps, taps0) == 0 && !vm_file(UUID_C, "pid") && be->attach(UUID_C) == VMR_HALTED,
	   "failed starts leave no tap, no pid file, no VM");
	ok(be->destroy(UUID_C, E()) == 0, "destroy of a halted VM is a no-op");
}

/* Whatever is left: QEMUs of our VMs, taps, the bridge, the directory. */
static void
cleanup(void)
{
	const char *uuids[] = {UUID_A, UUID_B, UUID_C};
	char cmd[512], taps[256];

	for (size_t i = 0; i < 3; i++) {
		if (be->destroy(uuids[i], E()) != 0) {
			printf("# destroy %s: %s\n", uuids[i], ES());
			pid_t p = qemu_pid(uuids[i]);
			if (p > 0)
				kill(p, SIGKILL);
		}
	}
	taps_now(taps, sizeof(taps));
	for (char *t = strtok(taps, " "); t; t = strtok(NULL, " ")) {
		snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", t);
		sh(cmd);
	}
	snprintf(cmd, sizeof(cmd), "ip link del %s 2>/dev/null", bridge);
	sh(cmd);
	if (!getenv("KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		sh(cmd);
	}
}

int
main(int argc, char **argv)
{
	char cmd[512];

	if (argc != 3) {
		fprintf(stderr, "usage: %s VMLINUX INITRD\n", argv[0]);
		return 2;
	}
	vmlinux = argv[1];
	initrd = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_set_level(getenv("DEBUG") ? LOG_DEBUG : LOG_WARN);
	snprintf(dir, sizeof(dir), "/tmp/xqbt.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(bridge, sizeof(bridge), "xqbt%d", (int)(getpid() % 100000));
	srandom((unsigned)(getpid() ^ time(NULL)));
	unsigned r = (unsigned)random() & 0xffffff;
	snprintf(UUID_A, sizeof(UUID_A), "5a1d0c1e-%04x-4%03x-8000-00000000000a", r >> 12, r & 0xfff);
	snprintf(UUID_B, sizeof(UUID_B), "5a1d0c1e-%04x-4%03x-8000-00000000000b", r >> 12, r & 0xfff);
	snprintf(UUID_C, sizeof(UUID_C), "5a1d0c1e-%04x-4%03x-8000-00000000000c", r >> 12, r & 0xfff);
	snprintf(cmd, sizeof(cmd),
		 "ip link add %s type bridge && ip link set %s up && "
		 "qemu-img create -q -f qcow2 %s/a0.qcow2 64M && "
		 "qemu-img create -q -f qcow2 %s/a1.qcow2 48M && "
		 "qemu-img create -q -f qcow2 %s/c0.qcow2 64M",
		 bridge, bridge, dir, dir, dir);
	if (sh(cmd) != 0) {
		printf("1..0 # SKIP cannot create a bridge or images (need root, qemu-img)\n");
		cleanup();
		return 0;
	}
	stage_start_and_leave();
	if (stage_attach()) {
		stage_pause_stats_agent();
		stage_hotplug();
		stage_reboot();
		stage_suspend_resume();
		stage_guest_shutdown();
	}
	stage_kill();
	stage_acpi_and_failures();
	cleanup();
	free(err);
	free(disks_a[0].path);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
