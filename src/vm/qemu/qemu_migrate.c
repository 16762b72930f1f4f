/*
 * qemu_migrate: live migration between two qemu backends (backend.h), over
 * a connected socket the caller made (xapid's tunnel between two hosts, or
 * a test's TCP connection). QEMU speaks its own migration stream on it:
 * the destination QEMU gets the socket with getfd and migrate-incoming
 * "fd:", the source with getfd and migrate "fd:".
 *
 * Both sides turn on the return path, so the source only reports
 * "completed" once the destination has loaded everything, and the
 * destination activates its disks late (at "cont", after the source let
 * go of them: shared images are never open for writing on two hosts).
 * Step 1 leaves both QEMUs stopped: the source in postmigrate, the
 * destination paused. Step 2 (migrate_end) either commits (destination
 * runs, source quits) or aborts (destination killed, source resumes).
 * A failure during step 1 (destination gone, connection cut, QEMU error, no
 * progress for stall_s) cancels the migration; QEMU resumes the source.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/qemu/qemu_priv.h"
#include "vm/vmspec.h"

#define QEMU_MIG_DOWNTIME_MS 100.0
#define QEMU_MIG_BANDWIDTH ((int64_t)10 << 30)
#define QEMU_MIG_STALL_S 60.0
#define QEMU_MIG_IN_MAX_S 3600.0 /* destination: whole transfer at most */
#define QEMU_MIG_FDNAME "xapid-migrate"
#define QEMU_MIG_TLS "xapid-tls"
#define QEMU_MIG_PSK_USER "xapid"

/* Keepalive on a TCP socket, so that a silent peer (cut network) ends the
 * transfer; harmless no-op on other sockets. */
static void
qemu_mig_keepalive(int fd)
{
	int one = 1, idle = 5, intvl = 2, cnt = 5;
	unsigned ut = 20000; /* unacknowledged data for 20 s: the peer is gone */

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0)
		return;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
}

/* Turns on the migration capabilities both sides must agree on, plus
 * late-block-activate on the destination, and on the source a stop before
 * the switch-over when disks are mirrored (off otherwise: the setting stays
 * in the process). */
static int
qemu_mig_caps(struct qemu_vm *vm, bool incoming, char **err)
{
	json_t *caps = json_pack("[{s:s, s:b}]", "capability", "return-path", "state", 1);

	if (incoming)
		json_array_append_new(caps, json_pack("{s:s, s:b}", "capability",
						      "late-block-activate", "state", 1));
	else
		json_array_append_new(caps,
		                      json_pack("{s:s, s:b}", "capability",
		                                "pause-before-switchover",
		                                "state", vm->mirrors != NULL));
	return qemu_qmp(vm, "migrate-set-capabilities", json_pack("{s:o}", "capabilities", caps),
			NULL, QEMU_CMD_MS, err) == QMP_OK
		       ? 0
		       : -1;
}

int
qemu_mig_tls(struct qemu_vm *vm, const char *psk, bool server, char **err)
{
	char *dir = xasprintf("%s/tls", vm->dir),
	     *file = xasprintf("%s/keys.psk", dir);
	char *e = NULL;
	int rc = -1, fd;

	if (strlen(psk) != 64 || strspn(psk, "0123456789abcdef") != 64) {
		*err = xasprintf("VM %s: malformed migration key", vm->uuid);
		goto out;
	}
	if (strcmp(vm->tls_key, psk) == 0) {
		rc = 0;
		goto out;
	}
	if (vm->tls_key[0])
		(void)qemu_qmp(vm, "object-del",
		               json_pack("{s:s}", "id", QEMU_MIG_TLS), NULL,
		               QEMU_CMD_MS, &e);
	free(e);
	vm->tls_key[0] = 0;
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	        0) {
		*err =
		    xasprintf("VM %s: %s: %s", vm->uuid, file, strerror(errno));
		goto out;
	}
	char *line = xasprintf("%s:%s\n", QEMU_MIG_PSK_USER, psk);
	bool wrote = write(fd, line, strlen(line)) == (ssize_t)strlen(line);
	free(line);
	if (close(fd) < 0 || !wrote) {
		*err = xasprintf("VM %s: cannot write %s", vm->uuid, file);
		goto out;
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "qom-type",
	                      "tls-creds-psk", "id", QEMU_MIG_TLS, "dir", dir,
	                      "endpoint", server ? "server" : "client");
	if (!server)
		json_object_set_new(o, "username",
		                    json_string(QEMU_MIG_PSK_USER));
	if (qemu_qmp(vm, "object-add", o, NULL, QEMU_CMD_MS, err) == QMP_OK) {
		snprintf(vm->tls_key, sizeof(vm->tls_key), "%s", psk);
		rc = 0;
	}
out:
	if (!server || rc < 0)
		unlink(file);
	free(file);
	free(dir);
	return rc;
}

static json_t *qemu_mig_tls_params(json_t *o, bool tls);

/* After a migration (done or undone): the process's migration settings
 * back to plain (a later suspend or save migrates to a file with them: no
 * TLS, no stop before the switch-over), the credentials and their key file
 * gone; a file has no return path either. */
static void
qemu_mig_tls_drop(struct qemu_vm *vm)
{
	char *p = xasprintf("%s/tls/keys.psk", vm->dir), *e = NULL;

	if (qemu_qmp(vm, "migrate-set-parameters",
	             qemu_mig_tls_params(json_object(), false), NULL,
	             QEMU_CMD_MS, &e) != QMP_OK ||
	    qemu_qmp(vm, "migrate-set-capabilities",
	             json_pack("{s:[{s:s, s:b}, {s:s, s:b}, {s:s, s:b}]}",
	                       "capabilities", "capability",
	                       "pause-before-switchover", "state", 0,
	                       "capability", "return-path", "state", 0,
	                       "capability", "late-block-activate", "state", 0),
	             NULL, QEMU_CMD_MS, &e) != QMP_OK)
		log_warn(QEMU_TAG, "%s", e);
	free(e);
	e = NULL;
	if (vm->tls_key[0])
		(void)qemu_qmp(vm, "object-del",
		               json_pack("{s:s}", "id", QEMU_MIG_TLS), NULL,
		               QEMU_CMD_MS, &e);
	vm->tls_key[0] = 0;
	free(vm->spec.mig_psk);
	vm->spec.mig_psk = NULL;
	unlink(p);
	p[strlen(p) - strlen("/keys.psk")] = 0;
	rmdir(p);
	free(p);
	free(e);
}

/* Sets the migration parameters that say whether the stream is encrypted
 * (they stay in the process: always set both ways). */
static json_t *
qemu_mig_tls_params(json_t *o, bool tls)
{
	json_object_set_new(o, "tls-creds",
	                    json_string(tls ? QEMU_MIG_TLS : ""));
	/* PSK checks no host name, but QEMU wants one for an fd: stream */
	json_object_set_new(o, "tls-hostname",
	                    json_string(tls ? QEMU_MIG_PSK_USER : ""));
	return o;
}

/* The status of the current migration (malloc'd), and the reply. */
static char *
qemu_mig_status(struct qemu_vm *vm, json_t **reply, char **err)
{
	json_t *r = NULL;
	const char *st;

	if (qemu_qmp(vm, "query-migrate", NULL, &r, QEMU_CMD_MS, err) != QMP_OK)
		return NULL;
	st = json_string_value(json_object_get(r, "status"));
	char *s = xstrdup(st ? st : "none");
	if (reply)
		*reply = r;
	else
		json_decref(r);
	return s;
}

/* ---- destination ---- */

int
qemu_mig_incoming(struct qemu_vm *vm, int fd, char **err)
{
	double t0 = qemu_now();

	qemu_mig_keepalive(fd);
	const char *psk = vm->spec.mig_psk;
	if ((psk && qemu_mig_tls(vm, psk, true, err) < 0) ||
	    qemu_qmp(vm, "migrate-set-parameters",
	             qemu_mig_tls_params(json_object(), psk), NULL, QEMU_CMD_MS,
	             err) != QMP_OK)
		return -1;
	if (qemu_mig_caps(vm, true, err) < 0 ||
	    qemu_getfd(vm, QEMU_MIG_FDNAME, fd, err) < 0 ||
	    qemu_qmp(vm, "migrate-incoming",
	             json_pack("{s:s}", "uri", "fd:" QEMU_MIG_FDNAME), NULL,
	             QEMU_CMD_MS, err) != QMP_OK ||
	    qemu_nbd_export(vm, err) < 0)
		return -1;
	for (;;) {
		json_t *r = NULL;
		char *st = qemu_mig_status(vm, &r, err);
		if (!st)
			return -1;
		if (strcmp(st, "completed") == 0) {
			free(st);
			json_decref(r);
			return 0;
		}
		if (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0) {
			const char *d = json_string_value(json_object_get(r, "error-desc"));
			*err = xasprintf("VM %s: incoming migration %s%s%s", vm->uuid, st,
					 d ? ": " : "", d ? d : "");
			free(st);
			json_decref(r);
			return -1;
		}
		free(st);
		json_decref(r);
		if (qemu_now() - t0 > QEMU_MIG_IN_MAX_S) {
			*err = xasprintf("VM %s: incoming migration not done after %.0f s", vm->uuid,
					 QEMU_MIG_IN_MAX_S);
			return -1;
		}
		usleep(10000);
	}
}

int
qemu_migrate_receive(const struct vm_spec *spec, int fd, char **err)
{
	struct qemu_vm *vm;

	if (fd < 0) {
		*err = xstrdup("migration: no connection");
		return -1;
	}
	if (qemu_start_vm(spec, NULL, fd, err) < 0)
		return -1;
	if ((vm = qemu_op_get(spec->uuid, err))) {
		vm->mig = QEMU_MIG_IN;
		qemu_op_put(vm);
	}
	return vm ? 0 : -1;
}

/* ---- source ---- */

/* Cancels a migration under way and waits (bounded) until QEMU agrees. */
static void
qemu_mig_cancel(struct qemu_vm *vm)
{
	char *e = NULL;

	if (qemu_qmp(vm, "migrate_cancel", NULL, NULL, QEMU_CMD_MS, &e) != QMP_OK) {
		log_warn(QEMU_TAG, "%s", e);
		free(e);
		return;
	}
	for (int i = 0; i < 500; i++) {
		char *st = qemu_mig_status(vm, NULL, &e);
		bool done = !st || strcmp(st, "cancelled") == 0 || strcmp(st, "failed") == 0 ||
			    strcmp(st, "completed") == 0;
		free(st);
		free(e);
		e = NULL;
		if (done)
			return;
		usleep(20000);
	}
	log_warn(QEMU_TAG, "VM %s: the cancelled migration does not end", vm->uuid);
}

/* The statistics of a completed migration. */
static void
qemu_mig_fill(const json_t *r, struct vm_migrate_stats *st)
{
	const json_t *ram = json_object_get(r, "ram");

	memset(st, 0, sizeof(*st));
	st->total_ms = (double)json_integer_value(json_object_get(r, "total-time"));
	st->downtime_ms = (double)json_integer_value(json_object_get(r, "downtime"));
	st->setup_ms = (double)json_integer_value(json_object_get(r, "setup-time"));
	st->ram_bytes = (uint64_t)json_integer_value(json_object_get(ram, "transferred"));
	st->dirty_syncs = json_integer_value(json_object_get(ram, "dirty-sync-count"));
}

/* Waits for the end of an outgoing migration. Returns 0 (completed, stats
 * in *st) or -1 with *err; a stalled migration is cancelled first. */
static int
qemu_mig_wait_out(struct qemu_vm *vm, double stall_s, struct vm_migrate_stats *st,
		  char **err)
{
	double last_move = qemu_now();
	json_int_t last_bytes = -1;
	char *last_st = NULL;

	for (;;) {
		json_t *r = NULL;
		char *s = qemu_mig_status(vm, &r, err);
		if (!s) {
			free(last_st);
			return -1;
		}
		json_int_t bytes = json_integer_value(
			json_object_get(json_object_get(r, "ram"), "transferred"));
		if (strcmp(s, "completed") == 0) {
			qemu_mig_fill(r, st);
			json_decref(r);
			free(s);
			free(last_st);
			return 0;
		}
		if (strcmp(s, "pre-switchover") == 0) {
			/* vCPUs stopped, disks still ours: the mirrors finish
			 */
			json_decref(r);
			free(s);
			free(last_st);
			if (qemu_mirror_complete(vm, err) < 0) {
				qemu_mig_cancel(vm);
				return -1;
			}
			if (qemu_qmp(
			        vm, "migrate-continue",
			        json_pack("{s:s}", "state", "pre-switchover"),
			        NULL, QEMU_CMD_MS, err) != QMP_OK) {
				qemu_mig_cancel(vm);
				return -1;
			}
			last_st = NULL;
			last_move = qemu_now();
			continue;
		}
		if (strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0) {
			const char *d = json_string_value(json_object_get(r, "error-desc"));
			*err = xasprintf("VM %s: migration %s%s%s", vm->uuid, s, d ? ": " : "",
					 d ? d : "");
			json_decref(r);
			free(s);
			free(last_st);
			return -1;
		}
		json_decref(r);
		if (bytes != last_bytes || !last_st || strcmp(s, last_st) != 0) {
			last_bytes = bytes;
			free(last_st);
			last_st = s;
			last_move = qemu_now();
		} else {
			free(s);
			if (qemu_now() - last_move > stall_s) {
				qemu_mig_cancel(vm);
				*err = xasprintf("VM %s: migration made no progress for %.0f s "
						 "(status %s): cancelled",
						 vm->uuid, stall_s, last_st);
				free(last_st);
				return -1;
			}
		}
		usleep(10000);
	}
}

int
qemu_migrate_send(const char *uuid, int fd, const struct vm_migrate_opts *o,
		  struct vm_migrate_stats *st, char **err)
{
	struct vm_migrate_opts d = {0};
	struct qemu_vm *vm;
	bool was_running;
	int rc = -1;

	if (o)
		d = *o;
	if (d.downtime_ms <= 0)
		d.downtime_ms = QEMU_MIG_DOWNTIME_MS;
	if (d.bandwidth <= 0)
		d.bandwidth = QEMU_MIG_BANDWIDTH;
	if (d.stall_s <= 0)
		d.stall_s = QEMU_MIG_STALL_S;
	if (!(vm = qemu_op_get(uuid, err)))
		return -1;
	if (vm->mig != QEMU_MIG_NONE) {
		*err = xasprintf("VM %s is already being migrated", uuid);
		qemu_op_put(vm);
		return -1;
	}
	if (qemu_assert_layout(vm, "migration", err) < 0) {
		qemu_op_put(vm);
		return -1;
	}
	qemu_op_begin(vm, false);
	pthread_mutex_lock(&qemu_lock);
	was_running = vm->state == VMR_RUNNING;
	pthread_mutex_unlock(&qemu_lock);
	qemu_mig_keepalive(fd);
	if (qemu_ensure_mon(vm, err) < 0 || qemu_mig_caps(vm, false, err) < 0 ||
	    (d.psk && qemu_mig_tls(vm, d.psk, false, err) < 0) ||
	    qemu_qmp(vm, "migrate-set-parameters",
	             qemu_mig_tls_params(
	                 json_pack("{s:I, s:I}", "max-bandwidth",
	                           (json_int_t)d.bandwidth, "downtime-limit",
	                           (json_int_t)d.downtime_ms),
	                 d.psk),
	             NULL, QEMU_CMD_MS, err) != QMP_OK ||
	    qemu_getfd(vm, QEMU_MIG_FDNAME, fd, err) < 0 ||
	    qemu_qmp(vm, "migrate",
	             json_pack("{s:s}", "uri", "fd:" QEMU_MIG_FDNAME), NULL,
	             QEMU_CMD_MS, err) != QMP_OK)
		goto out;
	if (qemu_mig_wait_out(vm, d.stall_s, st, err) < 0) {
		/* QEMU resumes a source it stopped for the switch-over when the
		 * migration fails; make sure of it */
		json_t *r = NULL;
		char *e = NULL;
		if (was_running && qemu_qmp(vm, "query-status", NULL, &r, QEMU_CMD_MS, &e) == QMP_OK &&
		    !json_is_true(json_object_get(r, "running")) &&
		    qemu_qmp(vm, "cont", NULL, NULL, QEMU_CMD_MS, &e) != QMP_OK)
			log_err(QEMU_TAG, "VM %s: cannot resume after the failed migration: %s",
				uuid, e);
		free(e);
		json_decref(r);
		goto out;
	}
	qemu_set_state(vm, VMR_PAUSED);
	vm->mig = QEMU_MIG_OUT;
	vm->mig_was_running = was_running;
	log_info(QEMU_TAG,
		 "VM %s: sent in %.0f ms (downtime %.0f ms, setup %.0f ms, %llu MiB, %lld passes)",
		 uuid, st->total_ms, st->downtime_ms, st->setup_ms,
		 (unsigned long long)(st->ram_bytes >> 20), (long long)st->dirty_syncs);
	rc = 0;
out:
	if (rc < 0) {
		log_warn(QEMU_TAG, "VM %s: migration failed: %s", uuid, *err);
		qemu_mirror_drop(vm);
		qemu_mig_tls_drop(vm);
	}
	qemu_op_end(vm, false);
	qemu_op_put(vm);
	return rc;
}

/* ---- step 2 ---- */

/* Ends the process of a VM for good (migrated away, or an aborted arrival). */
static int
qemu_mig_drop(struct qemu_vm *vm, const char *what, char **err)
{
	int rc;

	qemu_op_begin(vm, true);
	rc = qemu_terminate(vm, err);
	if (rc == 0) {
		vm->mig = QEMU_MIG_NONE;
		qemu_finish(vm, what);
	}
	qemu_op_end(vm, true);
	return rc;
}

/* Runs a stopped VM again (cont also takes its disks back). */
static int
qemu_mig_cont(struct qemu_vm *vm, char **err)
{
	int rc = -1;

	qemu_op_begin(vm, false);
	if (qemu_ensure_mon(vm, err) == 0 &&
	    qemu_qmp(vm, "cont", NULL, NULL, QEMU_CMD_MS, err) == QMP_OK) {
		qemu_set_state(vm, VMR_RUNNING);
		rc = 0;
	}
	qemu_op_end(vm, false);
	return rc;
}

int
qemu_migrate_end(const char *uuid, bool commit, bool was_running, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);
	int rc = 0;

	if (!vm)
		return -1;
	if (vm->mig == QEMU_MIG_IN) {
		if (!commit) {
			rc = qemu_mig_drop(vm, "arrival cancelled", err);
		} else {
			qemu_nbd_unexport(vm);
			if (was_running)
				rc = qemu_mig_cont(vm, err);
			qemu_mig_tls_drop(vm);
			if (rc == 0) {
				vm->mig = QEMU_MIG_NONE;
				log_info(QEMU_TAG, "VM %s: arrived, %s", uuid,
					 was_running ? "running" : "paused");
			}
		}
	} else if (vm->mig == QEMU_MIG_OUT) {
		if (commit) {
			rc = qemu_mig_drop(vm, "migrated away", err);
		} else {
			if (vm->mig_was_running)
				rc = qemu_mig_cont(vm, err);
			qemu_mig_tls_drop(vm);
			if (rc == 0) {
				vm->mig = QEMU_MIG_NONE;
				log_info(QEMU_TAG, "VM %s: migration undone, it stays here", uuid);
			}
		}
	} else {
		*err = xasprintf("VM %s is not being migrated", uuid);
		rc = -1;
	}
	qemu_op_put(vm);
	return rc;
}

int
qemu_layout(const char *uuid, struct vm_spec *out, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);

	if (!vm)
		return -1;
	if (qemu_assert_layout(vm, "migration", err) < 0) {
		qemu_op_put(vm);
		return -1;
	}
	vm_spec_copy(out, &vm->spec);
	out->nports = vm->nports;
	for (size_t i = 0; i < out->ndisks; i++)
		out->disks[i].port = vm->disk_port[i] > 0 ? vm->disk_port[i] : 0;
	for (size_t i = 0; i < out->nnics; i++)
		out->nics[i].port = vm->nic_port[i];
	qemu_op_put(vm);
	return 0;
}
