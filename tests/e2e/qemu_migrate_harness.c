/*
 * qemu_migrate_harness: see qemu_migrate_harness.h.
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
#include "vm/vmspec.h"

#include "qemu_migrate_harness.h"

const struct vm_backend_ops *be = &vm_backend_qemu;
char dir[64], id[16], ns_a[24], ns_b[24], ip_a[20], ip_b[20];
const char *vmlinux, *initrd;
int ntest, nfail, ctl = -1, bench_mib, root_ns = -1;
pid_t child = -1;
char *err;
char UUID_1[37], UUID_2[37];

char **
E(void)
{
	free(err);
	err = NULL;
	return &err;
}

const char *
ES(void)
{
	return err ? err : "";
}

void ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void
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

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Moves this (still single-threaded) process into a network namespace, as
 * `ip netns exec` does: with a private /sys showing that namespace (the
 * backend looks bridges up there). */
bool
enter_ns(const char *ns)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	int rc = setns(fd, CLONE_NEWNET);
	close(fd);
	if (rc < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount("", "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
	    umount2("/sys", MNT_DETACH) < 0 ||
	    mount(ns, "/sys", "sysfs", 0, NULL) < 0) {
		printf("# cannot enter %s: %s\n", ns, strerror(errno));
		return false;
	}
	return true;
}

/* ---- consoles and files ---- */

/* DIR/<side>/vms/<uuid>/<name> */
char *
vm_path(const char *side, const char *uuid, const char *name)
{
	return xasprintf("%s/%s/vms/%s/%s", dir, side, uuid, name);
}

char *
slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *s = NULL;
	size_t n = 0;

	if (!f)
		return xstrdup("");
	if (getdelim(&s, &n, 0, f) < 0) {
		free(s);
		s = xstrdup("");
	}
	fclose(f);
	return s;
}

char *
console(const char *side, const char *uuid)
{
	char *p = vm_path(side, uuid, "console.log"), *s = slurp(p);

	free(p);
	return s;
}

int
count(const char *hay, const char *needle)
{
	int k = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		k++;
	return k;
}

/* The highest "TICK n" on a console, or -1. */
int
last_tick(const char *side, const char *uuid)
{
	char *c = console(side, uuid);
	int best = -1;

	for (const char *p = c; (p = strstr(p, "TICK ")); p++) {
		int n = atoi(p + 5);
		if (n > best)
			best = n;
	}
	free(c);
	return best;
}

/* Waits until a console shows a TICK above n. */
bool
wait_tick(const char *side, const char *uuid, int n, double timeout_s)
{
	double t0 = now();

	while (now() - t0 < timeout_s) {
		if (last_tick(side, uuid) > n)
			return true;
		usleep(100000);
	}
	return false;
}

bool
wait_console(const char *side, const char *uuid, const char *text,
             double timeout_s)
{
	double t0 = now();

	while (now() - t0 < timeout_s) {
		char *c = console(side, uuid);
		bool has = strstr(c, text) != NULL;
		free(c);
		if (has)
			return true;
		usleep(100000);
	}
	return false;
}

bool
vm_file(const char *side, const char *uuid, const char *name)
{
	char *p = vm_path(side, uuid, name);
	struct stat st;
	bool has = stat(p, &st) == 0;

	free(p);
	return has;
}

pid_t
qemu_pid(const char *side, const char *uuid)
{
	char *p = vm_path(side, uuid, "pid"), *s = slurp(p);
	pid_t pid = atoi(s);

	free(p);
	free(s);
	return pid;
}

/* Number of taps on the VM bridge of a namespace. */
int
taps_in(const char *ns)
{
	char cmd[160], buf[64] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd),
	         "ip netns exec %s ls /sys/class/net/xmgvm/brif | wc -l", ns);
	if ((f = popen(cmd, "r"))) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		pclose(f);
	}
	return atoi(buf);
}

void
dump_vm(const char *side, const char *uuid)
{
	sh("tail -c 800 %s/%s/vms/%s/qemu.log 2>/dev/null | sed 's/^/# "
	   "qemu.log: /'; "
	   "tail -n 5 %s/%s/vms/%s/console.log 2>/dev/null | sed 's/^/# "
	   "console: /'",
	   dir, side, uuid, dir, side, uuid);
}

/* ---- the destination (child process) ---- */

void
on_event(const char *uuid, enum vm_run_state st, bool reboot,
         const char *reason)
{
	printf("# event: %s state %d reboot %d (%s)\n", uuid, st, reboot,
	       reason);
}

void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void
reply(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	for (int i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';
	(void)!write(ctl, buf, (size_t)n);
}

/* Reads a line from the control socket (at most timeout_s). */
bool
ctl_read(char *buf, size_t n, double timeout_s)
{
	size_t k = 0;

	while (k + 1 < n) {
		struct pollfd p = {ctl, POLLIN, 0};
		if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0 ||
		    read(ctl, buf + k, 1) != 1)
			return false;
		if (buf[k] == '\n')
			break;
		k++;
	}
	buf[k] = 0;
	return true;
}

/* "recv PORT SPECJSON": listen, accept one connection, migrate_receive. */
void
dst_recv(char *args)
{
	int port = atoi(args), one = 1;
	char *js = strchr(args, ' ');
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	json_t *j = js ? json_loads(js + 1, 0, NULL) : NULL;
	struct vm_spec spec;
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fd = -1;

	inet_pton(AF_INET, ip_b, &sa.sin_addr);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!j || vm_spec_from_json(j, &spec, E()) < 0) {
		reply("received -1 bad spec");
		json_decref(j);
		close(ls);
		return;
	}
	json_decref(j);
	if (getenv("MIG_PSK")) /* the benchmark's encrypted stream */
		spec.mig_psk = xstrdup(getenv("MIG_PSK"));
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(ls, 1) < 0) {
		reply("received -1 listen: %s", strerror(errno));
		goto out;
	}
	reply("listening");
	struct pollfd p = {ls, POLLIN, 0};
	if (poll(&p, 1, 60000) != 1 ||
	    (fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		reply("received -1 no connection");
		goto out;
	}
	double t0 = now();
	int rc = be->migrate_receive(&spec, fd, E());
	reply("received %d %.0f %s", rc, (now() - t0) * 1e3, rc ? ES() : "ok");
out:
	if (fd >= 0)
		close(fd);
	close(ls);
	vm_spec_clear(&spec);
}

void
dst_main(void)
{
	char line[8192];

	if (!enter_ns(ns_b) ||
	    be->init(xasprintf("%s/dst", dir), on_event, E()) < 0) {
		reply("init -1 %s", ES());
		_exit(1);
	}
	reply("init 0");
	while (ctl_read(line, sizeof(line), 3600)) {
		char *arg = strchr(line, ' ');
		if (arg)
			*arg++ = 0;
		if (strcmp(line, "recv") == 0 && arg) {
			dst_recv(arg);
		} else if (strcmp(line, "end") == 0 && arg) {
			char uuid[37] = "";
			int commit = 0, run = 0;
			sscanf(arg, "%36s %d %d", uuid, &commit, &run);
			int rc = be->migrate_end(uuid, commit, run, E());
			reply("ended %d %s", rc, rc ? ES() : "ok");
		} else if (strcmp(line, "attach") == 0 && arg) {
			reply("state %d", (int)be->attach(arg));
		} else if (strcmp(line, "ping") == 0 && arg) {
			char *r = NULL;
			int rc = be->agent(arg, "{\"execute\": \"guest-ping\"}",
			                   &r, 10, E());
			reply("ping %d %s", rc, rc ? ES() : r);
			free(r);
		} else if (strcmp(line, "destroy") == 0 && arg) {
			int rc = be->destroy(arg, E());
			reply("destroyed %d %s", rc, rc ? ES() : "ok");
		} else if (strcmp(line, "quit") == 0) {
			break;
		}
	}
	_exit(0);
}

/* Sends a command to the destination and reads its answer (malloc'd). */
char *dst(double timeout_s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

char *
dst(double timeout_s, const char *fmt, ...)
{
	char *cmd = NULL, line[4096];
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		cmd = NULL;
	va_end(ap);
	if (cmd) {
		(void)!write(ctl, cmd, strlen(cmd));
		(void)!write(ctl, "\n", 1);
		free(cmd);
	}
	if (!ctl_read(line, sizeof(line), timeout_s))
		return xstrdup("(no answer)");
	return xstrdup(line);
}

char *
dst_wait(double timeout_s)
{
	char line[4096];

	if (!ctl_read(line, sizeof(line), timeout_s))
		return xstrdup("(no answer)");
	return xstrdup(line);
}

/* ---- the source ---- */

struct vm_disk disks[2];
struct vm_nic nics[1];

void
make_spec(struct vm_spec *s, const char *uuid, int mib, const char *disk)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->uuid, sizeof(s->uuid), "%s", uuid);
	s->name = "mig";
	s->memory = (int64_t)mib << 20;
	s->vcpus = s->vcpus_max = 1;
	s->kernel = (char *)vmlinux;
	s->initrd = (char *)initrd;
	s->cmdline = "console=ttyS0 quiet xapid.tick=1";
	s->hotplug_slots = 2;
	memset(disks, 0, sizeof(disks));
	snprintf(disks[0].id, 16, "vbd0");
	disks[0].path = xasprintf("%s/%s", dir, disk);
	disks[0].format = "qcow2";
	disks[0].bootable = true;
	s->disks = disks;
	s->ndisks = 1;
	memset(nics, 0, sizeof(nics));
	snprintf(nics[0].id, 16, "vif0");
	snprintf(nics[0].mac, 18, "02:00:00:6d:00:%02x",
	         uuid[35] == '1' ? 1 : 2);
	nics[0].bridge = "xmgvm";
	s->nics = nics;
	s->nnics = 1;
}

/* One migration attempt of uuid with the destination spec dspec: the
 * destination listens, the source connects and sends. Returns the send's
 * result; *dres gets the destination's answer (malloc'd). during() runs
 * once the transfer is under way (for fault injection). */
int
migrate(const char *uuid, const struct vm_spec *dspec,
        const struct vm_migrate_opts *o, struct vm_migrate_stats *st,
        char **dres, void (*during)(const char *))
{
	static int port = 47100;
	json_t *j = vm_spec_to_json(dspec);
	char *js = json_dumps(j, JSON_COMPACT), *ans;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = -1, rc = -1;

	json_decref(j);
	port++;
	ans = dst(30, "recv %d %s", port, js);
	free(js);
	if (strcmp(ans, "listening") != 0) {
		*dres = ans;
		*E() = xstrdup("destination not listening");
		return -1;
	}
	free(ans);
	sa.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, ip_b, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*E() = xasprintf("connect: %s", strerror(errno));
	} else if (during) {
		pid_t p = fork();
		if (p == 0) {
			during(uuid);
			_exit(0);
		}
		rc = be->migrate_send(uuid, fd, o, st, E());
		waitpid(p, NULL, 0);
	} else {
		rc = be->migrate_send(uuid, fd, o, st, E());
	}
	close(fd);
	*dres = dst_wait(120);
	return rc;
}

/* The destination's spec: the source's layout (shared disks: same paths). */
bool
layout(const char *uuid, struct vm_spec *out)
{
	int rc = be->layout(uuid, out, E());
	ok(rc == 0, "layout of %s%s%s", uuid, rc ? ": " : "", ES());
	return rc == 0;
}

bool
boot(const char *uuid, int mib, const char *disk)
{
	struct vm_spec s;

	make_spec(&s, uuid, mib, disk);
	if (bench_mib)
		s.nnics = 0; /* the raw QEMU peer of the benchmark has no NIC
		                either */
	int rc = be->start(&s, E());
	free(disks[0].path);
	disks[0].path = NULL;
	ok(rc == 0, "start %s (%d MiB) on the source%s%s", uuid, mib,
	   rc ? ": " : "", ES());
	bool up = rc == 0 && wait_tick("src", uuid, 1, 180);
	ok(up, "its guest booted and ticks");
	if (!up)
		dump_vm("src", uuid);
	return up;
}
