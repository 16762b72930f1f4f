/*
 * migrate_copy: the disks a storage migration copies instead of mirroring
 * (xapi's vdi_copy_fun without do_mirror): VDIs nothing writes to during
 * the move (snapshots', suspend images, a halted VM's). The copy goes over
 * the same
 * kind of stream as the mirrors (POST /migrate {"vm", "copy": new VDI}, a
 * one-time token, TLS-PSK under the migration's key): on the destination
 * qemu-nbd serves the new (pending) VDI, on the source qemu-img convert
 * writes the old VDI's contents into it (zeros skipped), each through a Unix
 * socket that xapid relays to the stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "storage/sr.h"
#include "util/log.h"
#include "util/relay.h"
#include "util/xalloc.h"
#include "vm/migrate_int.h"

#define MCOPY_PSK_USER "xapid"
#define MCOPY_EXPORT "copy"
#define MCOPY_WAIT_MS 30000 /* for the helper's socket / connection */

extern char **environ;

/* A private directory with the key (keys.psk) for qemu's tls-creds-psk, or
 * NULL. */
static char *
mcopy_keydir(const char *psk)
{
	char *dir = xstrdup("/tmp/xapid-copy-XXXXXX");
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	char *file = xasprintf("%s/keys.psk", dir);
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char *line = xasprintf("%s:%s\n", MCOPY_PSK_USER, psk);
	bool ok =
	    fd >= 0 && write(fd, line, strlen(line)) == (ssize_t)strlen(line);
	if (fd >= 0 && close(fd) < 0)
		ok = false;
	free(line);
	free(file);
	if (!ok) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* Removes what mcopy_keydir made (and the socket in it). */
static void
mcopy_rmdir(char *dir)
{
	if (!dir)
		return;
	char *f = xasprintf("%s/keys.psk", dir), *s = xasprintf("%s/nbd", dir);
	unlink(f);
	unlink(s);
	rmdir(dir);
	free(f);
	free(s);
	free(dir);
}

/* Starts argv; its pid, or -1. */
static pid_t
mcopy_spawn(char *const argv[])
{
	pid_t pid;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -1;
	return pid;
}

/* Waits for pid; its exit status, or -1. */
static int
mcopy_reap(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A Unix socket connected to path, tried until it exists (bounded), or -1. */
static int
mcopy_dial(const char *path, pid_t helper)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < MCOPY_WAIT_MS / 50; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		if (fd >= 0)
			close(fd);
		if (waitpid(helper, NULL, WNOHANG) == helper)
			return -1; /* it is gone */
		usleep(50000);
	}
	return -1;
}

static void mcopy_serve(int sock, const char *vm, const char *vdi);

/* Copies being received here (the arrival waits for them to end). */
static pthread_mutex_t mcopy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mcopy_cond = PTHREAD_COND_INITIALIZER;
static int mcopy_busy;

static void
mcopy_count(int d)
{
	pthread_mutex_lock(&mcopy_lock);
	mcopy_busy += d;
	pthread_cond_broadcast(&mcopy_cond);
	pthread_mutex_unlock(&mcopy_lock);
}

void
mig_copies_wait(void)
{
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += MCOPY_WAIT_MS / 1000 * 2;
	pthread_mutex_lock(&mcopy_lock);
	while (mcopy_busy > 0 &&
	       pthread_cond_timedwait(&mcopy_cond, &mcopy_lock, &dl) == 0)
		;
	pthread_mutex_unlock(&mcopy_lock);
}

void
mig_serve_copy(int sock, const char *vm, const char *vdi)
{
	mcopy_count(1);
	mcopy_serve(sock, vm, vdi);
	mcopy_count(-1);
}

/* mig_serve_copy, counted. */
static void
mcopy_serve(int sock, const char *vm, const char *vdi)
{
	const char *fmt = "raw";
	struct api_err *e = NULL;
	char *path = NULL, *dir = NULL, *psk = mig_key_take(vm);
	bool pending = false;

	db_rdlock();
	struct db_row *v = db_get(DMC_VDI, vdi);
	const struct dm_coll *sm = v ? v->f[DMF_VDI_sm_config].c : NULL;
	for (size_t i = 0; sm && i < sm->n; i++)
		pending =
		    pending || strcmp(sm->v[2 * i].s, SR_PENDING_KEY) == 0;
	db_unlock();
	/* only a VDI made for a migration takes a copy */
	if (!pending || !psk || !(path = sr_vdi_path(vdi, &fmt, &e)) ||
	    !(dir = mcopy_keydir(psk))) {
		log_warn("migrate", "copy into %s refused", vdi);
		goto out;
	}
	char *sockp = xasprintf("%s/nbd", dir);
	char *obj =
	    xasprintf("tls-creds-psk,id=t0,endpoint=server,dir=%s", dir);
	char *argv[] = {
	    "qemu-nbd", "-f",           (char *)fmt,       "-k", sockp,
	    "-x",       MCOPY_EXPORT,   "--object",        obj,  "--tls-creds",
	    "t0",       "--cache=none", "--discard=unmap", path, NULL};
	pid_t pid = mcopy_spawn(argv);
	int u = pid > 0 ? mcopy_dial(sockp, pid) : -1;
	if (u >= 0) {
		long long n = relay_run(sock, u, -1);
		log_info("migrate", "VDI %s: %lld bytes of copy received", vdi,
		         n);
		close(u);
	} else {
		log_warn("migrate", "VDI %s: qemu-nbd did not serve it", vdi);
		if (pid > 0)
			kill(pid, SIGKILL);
	}
	if (pid > 0 && mcopy_reap(pid) != 0)
		log_warn("migrate", "VDI %s: qemu-nbd failed", vdi);
	free(sockp);
	free(obj);
out:
	api_err_free(e);
	mcopy_rmdir(dir);
	free(path);
	free(psk);
}

struct mcopy_relay {
	int lfd, peer;
};

static void *
mcopy_relay_main(void *p)
{
	struct mcopy_relay *r = p;
	struct pollfd pf = {r->lfd, POLLIN, 0};

	if (poll(&pf, 1, MCOPY_WAIT_MS) == 1) {
		int c = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0) {
			relay_run(c, r->peer, -1);
			close(c);
		}
	}
	shutdown(r->peer, SHUT_RDWR);
	return NULL;
}

struct api_err *
mig_copy_disk(const char *addr, const char *sid, const char *vm,
              const char *dest, const char *key, const struct mig_disk *d)
{
	const char *fmt = "raw";
	struct api_err *err = NULL;
	char token[65], *msg = NULL, *dir = NULL, *path = NULL;
	int fd = -1, lfd = -1;

	if (!(path = sr_vdi_path(d->vdi, &fmt, &err)))
		return err;
	if ((err = mig_give_token(addr, sid, vm, dest, key, token)))
		goto out;
	json_t *b = json_pack("{s:s, s:s}", "vm", vm, "copy", d->new_vdi);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	fd = mig_connect(addr, vm_cfg.http_port, token, text, &msg);
	free(text);
	if (fd < 0) {
		err = mig_failed(vm, dest, msg);
		goto out;
	}
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!(dir = mcopy_keydir(key))) {
		err = mig_failed(vm, dest, "cannot write the copy's key");
		goto out;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/nbd", dir);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 1) < 0) {
		err = mig_failed(vm, dest, "cannot listen for the copy");
		goto out;
	}
	struct mcopy_relay r = {lfd, fd};
	pthread_t th;
	if (pthread_create(&th, NULL, mcopy_relay_main, &r) != 0) {
		err = mig_failed(vm, dest, "no thread for the copy");
		goto out;
	}
	char *obj =
	    xasprintf("tls-creds-psk,id=t0,endpoint=client,dir=%s,username=%s",
	              dir, MCOPY_PSK_USER);
	char *tgt = xasprintf("driver=nbd,server.type=unix,server.path=%s,"
	                      "export=%s,tls-creds=t0",
	                      sa.sun_path, MCOPY_EXPORT);
	char *argv[] = {
	    "qemu-img", "convert",   "-U",       "-n", "--target-is-zero",
	    "-f",       (char *)fmt, "--object", obj,  "--target-image-opts",
	    path,       tgt,         NULL};
	pid_t pid = mcopy_spawn(argv);
	int rc = pid > 0 ? mcopy_reap(pid) : -1;
	shutdown(fd, SHUT_RDWR);
	pthread_join(th, NULL);
	free(obj);
	free(tgt);
	if (rc != 0)
		err =
		    mig_failed(vm, dest, "the copy of a read-only disk failed");
	else
		log_info("migrate", "VDI %s copied to %s at the destination",
		         d->vdi, d->new_vdi);
out:
	if (lfd >= 0)
		close(lfd);
	if (fd >= 0)
		close(fd);
	mcopy_rmdir(dir);
	free(msg);
	free(path);
	return err;
}
