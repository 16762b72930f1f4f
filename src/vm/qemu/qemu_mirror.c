/*
 * qemu_mirror: the disks of a storage migration (backend.h mirror_*), as
 * QEMU's own recipe for non-shared storage goes:
 *   destination: the arriving QEMU (-incoming, vCPUs stopped) serves its new,
 *     empty disks over NBD (nbd-server-start on DIR/vms/<uuid>/nbd.sock,
 *     block-export-add per disk, named by the disk id, writable);
 *   source: each disk's top node is mirrored (blockdev-mirror, sync full)
 *     into an nbd node that reaches that export; once every mirror is ready
 *     the memory goes (pause-before-switchover): with the vCPUs stopped the
 *     mirrors copy what is left and end (block-job-cancel of a ready mirror
 *     leaves the target a point-in-time copy), then the switch-over goes on.
 * The NBD connection travels over the stream xapid made between the hosts:
 * on each side xapid relays between QEMU's Unix socket and that stream.
 * Nothing here ever writes to the source's disks: a failure anywhere
 * leaves the VM running on the source with its disks as they are.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"
#include "util/relay.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"

#define QEMU_MIR_STALL_S 60.0 /* a mirror that copies nothing this long fails  \
	                       */
#define QEMU_MIR_ACCEPT_MS 30000
#define QEMU_MIR_SERVE_WAIT_S                                                  \
	120                  /* destination: for the arriving VM's exports */
#define QEMU_MIR_END_S 600.0 /* the last copy at the switch-over */

/* One disk being mirrored (source). */
struct qemu_mirror {
	char id[16];
	char job[32]; /* job id = node name of the nbd target */
	char *sock;   /* Unix socket QEMU's nbd client connects to */
	int lfd;      /* listening on sock, until QEMU connected */
	int peer;     /* the stream to the destination */
	int stop[2];  /* pipe: ends the relay */
	pthread_t th;
	bool th_up, node_up, job_up;
	struct qemu_mirror *next;
};

/* Relays between QEMU's connection on m->lfd and the stream. */
static void *
qemu_mir_relay(void *p)
{
	struct qemu_mirror *m = p;
	struct pollfd pf[2] = {{m->lfd, POLLIN, 0}, {m->stop[0], POLLIN, 0}};

	if (poll(pf, 2, QEMU_MIR_ACCEPT_MS) > 0 && pf[0].revents &&
	    !pf[1].revents) {
		int c = accept4(m->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0) {
			relay_run(c, m->peer, m->stop[0]);
			close(c);
		}
	}
	shutdown(m->peer, SHUT_RDWR);
	return NULL;
}

/* A listening Unix socket at path (removed first), or -1 with *err. */
static int
qemu_mir_listen(const char *path, char **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = xasprintf("socket path %s is too long for a Unix socket",
		                 path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0) {
		*err =
		    xasprintf("cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The job's entry in query-jobs (new reference), or NULL: no such job. */
static json_t *
qemu_mir_job(struct qemu_vm *vm, const char *job, char **err)
{
	json_t *r = NULL, *j, *found = NULL;
	size_t i;

	if (qemu_qmp(vm, "query-jobs", NULL, &r, QEMU_CMD_MS, err) != QMP_OK)
		return NULL;
	json_array_foreach(
	    r, i,
	    j) if (strcmp(json_string_value(json_object_get(j, "id")) ?: "",
	                  job) == 0) found = json_incref(j);
	json_decref(r);
	return found;
}

/* Waits (bounded) until job reached a state in want ("ready",
 * "concluded"). Returns 0, or -1 with *err (the job failed, vanished,
 * stalled longer than stall_s or took longer than max_s). */
static int
qemu_mir_wait(struct qemu_vm *vm, const char *job, const char *want,
              double stall_s, double max_s, char **err)
{
	double t0 = qemu_now(), moved = t0;
	json_int_t last = -1;

	for (;;) {
		char *e = NULL;
		json_t *j = qemu_mir_job(vm, job, &e);
		if (!j) {
			*err = e ? e
			         : xasprintf("VM %s: job %s is gone", vm->uuid,
			                     job);
			return -1;
		}
		const char *st =
		    json_string_value(json_object_get(j, "status")) ?: "?";
		const char *jerr =
		    json_string_value(json_object_get(j, "error"));
		json_int_t cur =
		    json_integer_value(json_object_get(j, "current-progress"));
		if (jerr ||
		    (strcmp(st, want) != 0 && (strcmp(st, "concluded") == 0 ||
		                               strcmp(st, "aborting") == 0 ||
		                               strcmp(st, "null") == 0))) {
			*err = xasprintf("VM %s: mirror %s: %s", vm->uuid, job,
			                 jerr ? jerr : st);
			json_decref(j);
			return -1;
		}
		bool done = strcmp(st, want) == 0;
		json_decref(j);
		if (done)
			return 0;
		double now = qemu_now();
		if (cur != last) {
			last = cur;
			moved = now;
		} else if (now - moved > stall_s) {
			*err = xasprintf(
			    "VM %s: mirror %s copied nothing for %.0f s",
			    vm->uuid, job, stall_s);
			return -1;
		}
		if (now - t0 > max_s) {
			*err = xasprintf("VM %s: mirror %s not %s after %.0f s",
			                 vm->uuid, job, want, max_s);
			return -1;
		}
		/* the last copy happens with the vCPUs stopped: look often */
		usleep(strcmp(want, "concluded") == 0 ? 2000 : 50000);
	}
}

/* Ends one mirror: cancels its job (hard), removes the target node, stops
 * the relay, frees m. */
static void
qemu_mir_free(struct qemu_vm *vm, struct qemu_mirror *m)
{
	char *e = NULL;

	if (m->job_up) {
		json_t *j = vm->mon ? qemu_mir_job(vm, m->job, &e) : NULL;
		if (j && strcmp(json_string_value(json_object_get(j, "status"))
		                    ?: "",
		                "concluded") != 0) {
			(void)qemu_qmp(vm, "block-job-cancel",
			               json_pack("{s:s, s:b}", "device", m->job,
			                         "force", 1),
			               NULL, QEMU_CMD_MS, &e);
			free(e);
			e = NULL;
			(void)qemu_mir_wait(vm, m->job, "concluded", 30, 30,
			                    &e);
		}
		json_decref(j);
		free(e);
		e = NULL;
		if (vm->mon)
			(void)qemu_qmp(vm, "job-dismiss",
			               json_pack("{s:s}", "id", m->job), NULL,
			               QEMU_CMD_MS, &e);
		free(e);
		e = NULL;
	}
	if (m->node_up && vm->mon)
		(void)qemu_qmp(vm, "blockdev-del",
		               json_pack("{s:s}", "node-name", m->job), NULL,
		               QEMU_CMD_MS, &e);
	free(e);
	if (m->th_up) {
		(void)!write(m->stop[1], "x", 1);
		pthread_join(m->th, NULL);
	}
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->sock) {
		unlink(m->sock);
		free(m->sock);
	}
	close(m->peer);
	close(m->stop[0]);
	close(m->stop[1]);
	free(m);
}

void
qemu_mirror_drop(struct qemu_vm *vm)
{
	while (vm->mirrors) {
		struct qemu_mirror *m = vm->mirrors;
		vm->mirrors = m->next;
		log_warn(QEMU_TAG, "VM %s: mirror of disk %s dropped", vm->uuid,
		         m->id);
		qemu_mir_free(vm, m);
	}
}

int
qemu_mirror_start(const char *uuid, const char *id, int fd, const char *psk,
                  char **err)
{
	struct qemu_vm *vm;
	struct qemu_mirror *m;
	char *top = NULL, ready = 0;
	int rc = -1;

	if (strlen(id) >= sizeof(m->id)) {
		*err = xasprintf("bad disk id %s", id);
		return -1;
	}
	if (!(vm = qemu_op_get(uuid, err)))
		return -1;
	m = xcalloc(1, sizeof(*m));
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->job, sizeof(m->job), "mig-%s", id);
	m->lfd = -1;
	m->peer = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (m->peer < 0 || pipe2(m->stop, O_CLOEXEC) < 0) {
		*err = xasprintf("VM %s: %s", uuid, strerror(errno));
		if (m->peer >= 0)
			close(m->peer);
		free(m);
		qemu_op_put(vm);
		return -1;
	}
	m->next = vm->mirrors;
	vm->mirrors = m;
	/* the destination says when its export is up */
	struct pollfd p = {m->peer, POLLIN, 0};
	if (poll(&p, 1, QEMU_MIR_SERVE_WAIT_S * 1000) != 1 ||
	    recv(m->peer, &ready, 1, 0) != 1 || ready != 'R') {
		*err = xasprintf(
		    "VM %s: the destination does not serve disk %s", uuid, id);
		goto out;
	}
	if (qemu_ensure_mon(vm, err) < 0 ||
	    !(top = qemu_disk_top(vm, id, err)) ||
	    (psk && qemu_mig_tls(vm, psk, false, err) < 0))
		goto out;
	m->sock = xasprintf("%s/mir-%s.sock", vm->dir, id);
	if ((m->lfd = qemu_mir_listen(m->sock, err)) < 0)
		goto out;
	if (pthread_create(&m->th, NULL, qemu_mir_relay, m) != 0) {
		*err = xasprintf("VM %s: no relay thread", uuid);
		goto out;
	}
	m->th_up = true;
	json_t *node = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "driver",
	                         "nbd", "node-name", m->job, "server", "type",
	                         "unix", "path", m->sock, "export", id);
	if (psk)
		json_object_set_new(node, "tls-creds",
		                    json_string("xapid-tls"));
	if (qemu_qmp(vm, "blockdev-add", node, NULL, QEMU_CMD_MS, err) !=
	    QMP_OK)
		goto out;
	m->node_up = true;
	if (qemu_qmp(vm, "blockdev-mirror",
	             json_pack("{s:s, s:s, s:s, s:s, s:b}", "job-id", m->job,
	                       "device", top, "target", m->job, "sync", "full",
	                       "auto-dismiss", 0),
	             NULL, QEMU_CMD_MS, err) != QMP_OK)
		goto out;
	m->job_up = true;
	double t0 = qemu_now();
	if (qemu_mir_wait(vm, m->job, "ready", QEMU_MIR_STALL_S, 1e9, err) < 0)
		goto out;
	log_info(QEMU_TAG,
	         "VM %s: disk %s mirrored to the destination in %.0f ms", uuid,
	         id, (qemu_now() - t0) * 1e3);
	rc = 0;
out:
	if (rc < 0) {
		/* this one goes; the others are the caller's (mirror_abort) */
		for (struct qemu_mirror **pp = &vm->mirrors; *pp;
		     pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
		qemu_mir_free(vm, m);
	}
	free(top);
	qemu_op_put(vm);
	return rc;
}

int
qemu_mirror_complete(struct qemu_vm *vm, char **err)
{
	int rc = 0;

	/* soft cancels of ready mirrors: each copies what is left and ends */
	for (struct qemu_mirror *m = vm->mirrors; m && rc == 0; m = m->next)
		if (qemu_qmp(vm, "block-job-cancel",
		             json_pack("{s:s}", "device", m->job), NULL,
		             QEMU_CMD_MS, err) != QMP_OK)
			rc = -1;
	for (struct qemu_mirror *m = vm->mirrors; m && rc == 0; m = m->next) {
		if (qemu_mir_wait(vm, m->job, "concluded", QEMU_MIR_STALL_S,
		                  QEMU_MIR_END_S, err) < 0) {
			rc = -1;
			break;
		}
		char *e = NULL;
		(void)qemu_qmp(vm, "job-dismiss",
		               json_pack("{s:s}", "id", m->job), NULL,
		               QEMU_CMD_MS, &e);
		free(e);
		m->job_up = false;
	}
	if (rc < 0) {
		qemu_mirror_drop(vm);
		return -1;
	}
	while (vm->mirrors) {
		struct qemu_mirror *m = vm->mirrors;
		vm->mirrors = m->next;
		qemu_mir_free(vm, m);
	}
	return 0;
}

void
qemu_mirror_abort(const char *uuid)
{
	char *e = NULL;
	struct qemu_vm *vm = qemu_op_get(uuid, &e);

	free(e);
	if (!vm)
		return;
	qemu_mirror_drop(vm);
	qemu_op_put(vm);
}

/* ---- destination ---- */

int
qemu_nbd_export(struct qemu_vm *vm, char **err)
{
	const struct vm_spec *s = &vm->spec;
	bool any = false;
	char *path;

	for (size_t i = 0; i < s->ndisks; i++)
		any = any || s->disks[i].mirror_in;
	if (!any)
		return 0;
	path = xasprintf("%s/nbd.sock", vm->dir);
	unlink(path);
	json_t *args = json_pack("{s:{s:s, s:{s:s}}}", "addr", "type", "unix",
	                         "data", "path", path);
	if (vm->tls_key[0]) /* the migration's key (qemu_mig_incoming) */
		json_object_set_new(args, "tls-creds",
		                    json_string("xapid-tls"));
	int rc = qemu_qmp(vm, "nbd-server-start", args, NULL, QEMU_CMD_MS,
	                  err) == QMP_OK
	             ? 0
	             : -1;
	free(path);
	for (size_t i = 0; i < s->ndisks && rc == 0; i++) {
		const struct vm_disk *d = &s->disks[i];
		char file[32], fmt[32], io[32], id[32];
		if (!d->mirror_in)
			continue;
		qemu_disk_names(d->id, file, fmt, io);
		snprintf(id, sizeof(id), "mig-%s", d->id);
		if (qemu_qmp(vm, "block-export-add",
		             json_pack("{s:s, s:s, s:s, s:s, s:b}", "type",
		                       "nbd", "id", id, "node-name", fmt,
		                       "name", d->id, "writable", 1),
		             NULL, QEMU_CMD_MS, err) != QMP_OK)
			rc = -1;
	}
	if (rc == 0) {
		pthread_mutex_lock(&qemu_lock);
		vm->nbd_up = true;
		pthread_mutex_unlock(&qemu_lock);
	}
	return rc;
}

void
qemu_nbd_unexport(struct qemu_vm *vm)
{
	char *e = NULL;
	bool up;

	pthread_mutex_lock(&qemu_lock);
	up = vm->nbd_up;
	vm->nbd_up = false;
	pthread_mutex_unlock(&qemu_lock);
	if (!up)
		return;
	for (size_t i = 0; i < vm->spec.ndisks; i++) {
		char id[32];
		if (!vm->spec.disks[i].mirror_in)
			continue;
		vm->spec.disks[i].mirror_in = false;
		snprintf(id, sizeof(id), "mig-%s", vm->spec.disks[i].id);
		if (qemu_qmp(vm, "block-export-del",
		             json_pack("{s:s, s:s}", "id", id, "mode", "hard"),
		             NULL, QEMU_CMD_MS, &e) != QMP_OK)
			log_warn(QEMU_TAG, "%s", e);
		free(e);
		e = NULL;
	}
	/* the exports go away asynchronously: wait (bounded) until they did */
	for (int k = 0; k < 200; k++) {
		json_t *r = NULL;
		if (qemu_qmp(vm, "query-block-exports", NULL, &r, QEMU_CMD_MS,
		             &e) != QMP_OK ||
		    json_array_size(r) == 0) {
			json_decref(r);
			break;
		}
		json_decref(r);
		usleep(10000);
	}
	free(e);
	e = NULL;
	if (qemu_qmp(vm, "nbd-server-stop", NULL, NULL, QEMU_CMD_MS, &e) !=
	    QMP_OK)
		log_warn(QEMU_TAG, "%s", e);
	free(e);
}

int
qemu_mirror_serve(const char *uuid, int fd, char **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct qemu_vm *vm = NULL;
	int c = -1;

	/* migrate_receive builds the VM meanwhile: wait for its exports (or
	 * until the VM seen starting is gone again: its launch failed) */
	bool seen = false;
	for (int i = 0; i < QEMU_MIR_SERVE_WAIT_S * 20; i++) {
		char *e = NULL;
		bool up = false;
		if ((vm = qemu_vm_get(uuid, &e))) {
			seen = true;
			pthread_mutex_lock(&qemu_lock);
			up = vm->nbd_up && !vm->exited;
			pthread_mutex_unlock(&qemu_lock);
			if (up)
				break;
			qemu_vm_unref(vm);
			vm = NULL;
		} else if (seen) {
			free(e);
			break;
		}
		free(e);
		usleep(50000);
	}
	if (!vm) {
		*err = xasprintf("VM %s: no disk exports to serve", uuid);
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/nbd.sock", vm->dir);
	qemu_vm_unref(vm);
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		*err = xasprintf("VM %s: cannot reach its NBD server: %s", uuid,
		                 strerror(errno));
		if (c >= 0)
			close(c);
		return -1;
	}
	if (send(fd, "R", 1, MSG_NOSIGNAL) != 1) {
		*err = xasprintf("VM %s: the source went away", uuid);
		close(c);
		return -1;
	}
	long long n = relay_run(fd, c, -1);
	log_info(QEMU_TAG,
	         "VM %s: mirror connection closed (%lld MiB received)", uuid,
	         n >> 20);
	close(c);
	return 0;
}
