/*
 * qemu_migrate_test: live migration between two qemu backends (src/vm/qemu/)
 * in two network namespaces, without xapid, with real TCG guests. Prints TAP.
 *
 * usage: qemu_migrate_test VMLINUX INITRD          the test
 *        qemu_migrate_test --bench MIB VMLINUX INITRD
 *                                  one migration of an idle MIB guest; prints
 *                                  a "bench: to_running_ms=.. downtime_ms=.."
 * line (MIG_PSK=<64 hex digits>: encrypted, TLS-PSK) (the hosts, the
 * destination's control and one migration attempt are in
 *   qemu_migrate_harness.c)
 *   (run by tests/e2e/test_qemu_migrate.sh and bench/bench_migrate.py)
 *
 * Two "hosts": namespaces xmg<id>a and xmg<id>b on a bridge, each with its
 * own VM bridge for the guests' taps. This process is the source host
 * (namespace a, state dir DIR/src); a child process is the destination
 * (namespace b, DIR/dst) and obeys commands on a socketpair. The TCP
 * connection between them is what xapid's tunnel would be. Disks are in DIR,
 * seen by both: shared storage.
 *
 * Stages: VM 1 boots on the source, gets a disk hot-plugged, migrates (the
 * guest's TICK counter goes on at the destination, no reboot, the disk still
 * there, the agent answers, the source is cleaned up). VM 2 then survives
 * failed migrations, each leaving it running at the source and nothing at
 * the destination: the destination QEMU killed halfway, the network cut
 * halfway (no progress: cancelled), a destination that cannot load the state
 * (other memory size), an abort after step 1 (both sides ready); then it
 * migrates for good. Every wait is bounded; everything made is removed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/backend.h"
#include "vm/vmspec.h"

#include "qemu_migrate_harness.h"

/* After a failed attempt: the VM still runs at the source, nothing is left
 * at the destination. */
static void
still_at_source(const char *uuid, const char *what)
{
	int t = last_tick("src", uuid);
	char *a;

	ok(be->attach(uuid) == VMR_RUNNING, "%s: the VM is running at the source", what);
	ok(wait_tick("src", uuid, t + 1, 30), "%s: its TICK goes on at the source (after %d)", what,
	   t);
	a = dst(30, "attach %s", uuid);
	ok(strcmp(a, "state 0") == 0 && !vm_file("dst", uuid, "pid") &&
		   !vm_file("dst", uuid, "qmp.sock") && taps_in(ns_b) == 0,
	   "%s: nothing left at the destination (%s, taps %d)", what, a, taps_in(ns_b));
	free(a);
}

static void
kill_dest(const char *uuid)
{
	for (int i = 0; i < 100 && qemu_pid("dst", uuid) <= 0; i++)
		usleep(50000);
	usleep(1500000);
	pid_t p = qemu_pid("dst", uuid);
	printf("# killing the destination QEMU (pid %d) halfway\n", (int)p);
	if (p > 0)
		kill(p, SIGKILL);
}

static void
cut_net(const char *uuid)
{
	(void)uuid;
	usleep(1500000);
	printf("# cutting the network halfway\n");
	sh("ip -n %s link set eth0 down", ns_b);
}

/* VM 1: migrates for good, with a hot-plugged disk. */
static void
stage_migrate(void)
{
	struct vm_disk d = {.id = "vbd1", .format = "qcow2", .userdevice = 1};
	struct vm_migrate_stats st;
	struct vm_spec ds;
	char *dres = NULL, *a;

	if (!boot(UUID_1, 256, "d1.qcow2"))
		return;
	d.path = xasprintf("%s/h1.qcow2", dir);
	int rc = be->disk_plug(UUID_1, &d, E());
	free(d.path);
	ok(rc == 0 && wait_console("src", UUID_1, "vdb:98304", 30),
	   "a disk hot-plugged at the source is seen by the guest%s%s", rc ? ": " : "", ES());
	if (!layout(UUID_1, &ds))
		return;
	/* 9 root ports carry the disk bridges, 3 are for hot-plug */
	ok(ds.nports == 12 && ds.ndisks == 2 && ds.disks[1].port > 0,
	   "the layout names %d root ports and the hot-plugged disk's slot (%d)", ds.nports,
	   ds.ndisks > 1 ? ds.disks[1].port : 0);
	int t = last_tick("src", UUID_1);
	rc = migrate(UUID_1, &ds, NULL, &st, &dres, NULL);
	ok(rc == 0, "migrate_send%s%s", rc ? ": " : "", ES());
	ok(dres && strncmp(dres, "received 0", 10) == 0, "migrate_receive: %s", dres ? dres : "");
	free(dres);
	vm_spec_clear(&ds);
	if (rc == 0)
		printf("# migration: total %.0f ms, downtime %.0f ms, setup %.0f ms, %llu MiB, %lld "
		       "passes\n",
		       st.total_ms, st.downtime_ms, st.setup_ms,
		       (unsigned long long)(st.ram_bytes >> 20), (long long)st.dirty_syncs);
	ok(rc == 0 && st.total_ms > 0 && st.ram_bytes > 0, "stats: total %.0f ms, downtime %.0f ms",
	   st.total_ms, st.downtime_ms);
	ok(be->attach(UUID_1) == VMR_PAUSED, "step 1 done: the source is stopped");
	a = dst(60, "end %s 1 1", UUID_1);
	ok(strcmp(a, "ended 0 ok") == 0, "destination commit: %s", a);
	free(a);
	rc = be->migrate_end(UUID_1, true, true, E());
	ok(rc == 0, "source commit%s%s", rc ? ": " : "", ES());
	ok(be->attach(UUID_1) == VMR_HALTED && !vm_file("src", UUID_1, "pid") &&
		   taps_in(ns_a) == 0,
	   "the source has no process, pid file or tap left");
	bool on = wait_tick("dst", UUID_1, t, 30);
	ok(on, "the guest's TICK goes on at the destination (source's last %d, now %d)", t,
	   last_tick("dst", UUID_1));
	if (!on)
		dump_vm("dst", UUID_1);
	char *c = console("dst", UUID_1);
	ok(count(c, "GUEST-UP") == 0, "no reboot at the destination");
	free(c);
	a = dst(30, "ping %s", UUID_1);
	ok(strncmp(a, "ping 0", 6) == 0, "the guest agent answers at the destination: %s", a);
	free(a);
	a = dst(30, "attach %s", UUID_1);
	ok(strcmp(a, "state 1") == 0 && taps_in(ns_b) == 1, "running at the destination with its tap");
	free(a);
	a = dst(60, "destroy %s", UUID_1);
	ok(strncmp(a, "destroyed 0", 11) == 0, "destroyed at the destination");
	free(a);
}

/* VM 2: failed migrations leave it at the source; then it moves. */
static void
stage_failures(void)
{
	struct vm_migrate_opts slow = {.bandwidth = 8 << 20, .stall_s = 5};
	struct vm_migrate_stats st;
	struct vm_spec ds;
	char *dres = NULL, *a;
	int rc;

	if (!boot(UUID_2, 256, "d2.qcow2") || !layout(UUID_2, &ds))
		return;

	rc = migrate(UUID_2, &ds, &slow, &st, &dres, kill_dest);
	ok(rc != 0, "destination killed halfway: the send fails (%s)", ES());
	ok(strncmp(dres, "received -1", 11) == 0, "... and so does the receive (%.120s)", dres);
	free(dres);
	still_at_source(UUID_2, "destination killed");

	rc = migrate(UUID_2, &ds, &slow, &st, &dres, cut_net);
	ok(rc != 0 && strstr(ES(), "no progress"), "network cut halfway: cancelled (%s)", ES());
	sh("ip -n %s link set eth0 up", ns_b);
	ok(strncmp(dres, "received -1", 11) == 0, "... the destination gave up (%.120s)", dres);
	free(dres);
	still_at_source(UUID_2, "network cut");

	ds.memory = 128 << 20;
	rc = migrate(UUID_2, &ds, NULL, &st, &dres, NULL);
	ds.memory = 256 << 20;
	ok(rc != 0, "a destination that cannot load the state: the send fails (%s)", ES());
	ok(strncmp(dres, "received -1", 11) == 0, "... and the receive (%.120s)", dres);
	free(dres);
	still_at_source(UUID_2, "bad destination");

	rc = migrate(UUID_2, &ds, NULL, &st, &dres, NULL);
	ok(rc == 0 && strncmp(dres, "received 0", 10) == 0, "step 1 succeeds (%s / %s)", ES(),
	   dres);
	free(dres);
	a = dst(60, "end %s 0 1", UUID_2);
	ok(strcmp(a, "ended 0 ok") == 0, "destination abort: %s", a);
	free(a);
	rc = be->migrate_end(UUID_2, false, true, E());
	ok(rc == 0, "source abort%s%s", rc ? ": " : "", ES());
	still_at_source(UUID_2, "aborted after step 1");

	int t = last_tick("src", UUID_2);
	rc = migrate(UUID_2, &ds, NULL, &st, &dres, NULL);
	ok(rc == 0 && strncmp(dres, "received 0", 10) == 0, "then it migrates (%s / %s)", ES(),
	   dres);
	free(dres);
	a = dst(60, "end %s 1 1", UUID_2);
	free(a);
	ok(be->migrate_end(UUID_2, true, true, E()) == 0, "committed");
	ok(wait_tick("dst", UUID_2, t, 30), "its TICK goes on at the destination (after %d)", t);
	a = dst(60, "destroy %s", UUID_2);
	free(a);
	vm_spec_clear(&ds);
}

/* --bench: one migration of an idle guest, numbers on stdout. */
static void
bench(void)
{
	struct vm_migrate_stats st;
	struct vm_spec ds;
	char *dres = NULL, *a;

	if (!boot(UUID_1, bench_mib, "d1.qcow2") || !wait_tick("src", UUID_1, 4, 60) ||
	    !layout(UUID_1, &ds))
		return;
	/* MIG_DOWNTIME_MS / MIG_BANDWIDTH: other knobs than the backend's
	 * defaults, to compare; MIG_PSK: the stream encrypted with this key as
	 * xapid's are (both sides see it) */
	struct vm_migrate_opts o = {.psk = getenv("MIG_PSK")};
	if (getenv("MIG_DOWNTIME_MS"))
		o.downtime_ms = atof(getenv("MIG_DOWNTIME_MS"));
	if (getenv("MIG_BANDWIDTH"))
		o.bandwidth = atoll(getenv("MIG_BANDWIDTH"));
	double t0 = now();
	int rc = migrate(UUID_1, &ds, &o, &st, &dres, NULL);
	double t1 = now();
	a = rc == 0 ? dst(60, "end %s 1 1", UUID_1) : xstrdup("");
	double t2 = now();
	if (rc == 0)
		be->migrate_end(UUID_1, true, true, E());
	double t3 = now();
	ok(rc == 0 && strcmp(a, "ended 0 ok") == 0, "bench migration (%s / %s / %s)", ES(), dres,
	   a);
	if (rc == 0)
		printf("bench: to_running_ms=%.0f downtime_ms=%.0f qemu_total_ms=%.0f "
		       "step1_ms=%.0f switch_ms=%.0f wall_ms=%.0f ram_mib=%llu passes=%lld\n",
		       (t2 - t0) * 1e3, st.downtime_ms, st.total_ms, (t1 - t0) * 1e3,
		       (t2 - t1) * 1e3, (t3 - t0) * 1e3, (unsigned long long)(st.ram_bytes >> 20),
		       (long long)st.dirty_syncs);
	free(a);
	free(dres);
	vm_spec_clear(&ds);
	a = dst(60, "destroy %s", UUID_1);
	free(a);
}

static void
cleanup(void)
{
	const char *uuids[] = {UUID_1, UUID_2};

	for (size_t i = 0; i < 2; i++) {
		if (be->destroy(uuids[i], E()) != 0)
			printf("# destroy %s: %s\n", uuids[i], ES());
		for (int k = 0; k < 2; k++) {
			pid_t p = qemu_pid(k ? "dst" : "src", uuids[i]);
			if (p > 0 && kill(p, SIGKILL) == 0)
				printf("# killed a QEMU left behind (pid %d)\n", (int)p);
		}
	}
	if (root_ns >= 0 && setns(root_ns, CLONE_NEWNET) < 0)
		printf("# cannot go back to the first network namespace\n");
	if (child > 0) {
		char *a = dst(10, "quit");
		free(a);
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; ip link del %sbr 2>/dev/null",
	   ns_a, ns_b, id);
	if (!getenv("KEEP"))
		sh("rm -rf %s", dir);
}

static bool
setup(void)
{
	return sh("ip link add %sbr type bridge && ip link set %sbr up", id, id) == 0 &&
	       sh("ip netns add %s && ip netns add %s", ns_a, ns_b) == 0 &&
	       sh("ip link add %sv0 type veth peer name eth0 netns %s && "
		  "ip link add %sv1 type veth peer name eth0 netns %s",
		  id, ns_a, id, ns_b) == 0 &&
	       sh("ip link set %sv0 master %sbr up && ip link set %sv1 master %sbr up", id, id, id,
		  id) == 0 &&
	       sh("ip -n %s addr add %s/24 dev eth0 && ip -n %s link set eth0 up && "
		  "ip -n %s link set lo up && ip -n %s addr add %s/24 dev eth0 && "
		  "ip -n %s link set eth0 up && ip -n %s link set lo up",
		  ns_a, ip_a, ns_a, ns_a, ns_b, ip_b, ns_b, ns_b) == 0 &&
	       sh("ip -n %s link add xmgvm type bridge && ip -n %s link set xmgvm up && "
		  "ip -n %s link add xmgvm type bridge && ip -n %s link set xmgvm up",
		  ns_a, ns_a, ns_b, ns_b) == 0 &&
	       sh("mkdir -p %s/src %s/dst && qemu-img create -q -f qcow2 %s/d1.qcow2 64M && "
		  "qemu-img create -q -f qcow2 %s/d2.qcow2 64M && "
		  "qemu-img create -q -f qcow2 %s/h1.qcow2 48M",
		  dir, dir, dir, dir, dir) == 0;
}

int
main(int argc, char **argv)
{
	int sv[2];
	char *a;

	if (argc == 5 && strcmp(argv[1], "--bench") == 0) {
		bench_mib = atoi(argv[2]);
		argv += 2;
		argc -= 2;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: %s [--bench MIB] VMLINUX INITRD\n", argv[0]);
		return 2;
	}
	vmlinux = argv[1];
	initrd = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	log_set_level(getenv("DEBUG") ? LOG_DEBUG : LOG_WARN);
	snprintf(dir, sizeof(dir), "/tmp/xmgt.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	unsigned r = (unsigned)(getpid() ^ time(NULL));
	snprintf(id, sizeof(id), "xmg%04x", r & 0xffff);
	snprintf(ns_a, sizeof(ns_a), "%sa", id);
	snprintf(ns_b, sizeof(ns_b), "%sb", id);
	snprintf(ip_a, sizeof(ip_a), "10.%u.%u.1", 200 + (r >> 16) % 50, (r >> 8) & 0xff);
	snprintf(ip_b, sizeof(ip_b), "10.%u.%u.2", 200 + (r >> 16) % 50, (r >> 8) & 0xff);
	snprintf(UUID_1, sizeof(UUID_1), "6d16c0de-%04x-4000-8000-000000000001", r & 0xffff);
	snprintf(UUID_2, sizeof(UUID_2), "6d16c0de-%04x-4000-8000-000000000002", r & 0xffff);
	root_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (!setup()) {
		printf("1..0 # SKIP cannot make namespaces, bridges or images\n");
		cleanup();
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 1;
	child = fork();
	if (child == 0) {
		ctl = sv[1];
		close(sv[0]);
		dst_main();
	}
	ctl = sv[0];
	close(sv[1]);
	a = dst_wait(60);
	char *sdir = xasprintf("%s/src", dir);
	bool up = strcmp(a, "init 0") == 0 && enter_ns(ns_a) && be->init(sdir, on_event, E()) == 0;
	free(sdir);
	ok(up, "two backends in namespaces %s and %s (%s%s)", ns_a, ns_b, a, ES());
	free(a);
	if (up && bench_mib) {
		bench();
	} else if (up) {
		stage_migrate();
		stage_failures();
	}
	cleanup();
	free(err);
	printf("1..%d\n", ntest);
	return nfail ? 1 : 0;
}
