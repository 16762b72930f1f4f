/*
 * qemu_save: a VM's memory to and from a file (qemu backend, see
 * qemu_priv.h). Suspend: the vCPUs are stopped and QEMU migrates into a
 * file xapid opened and passed over QMP (getfd + "fd:" URI, no shell), then
 * quits. Save (checkpoint): the same, QEMU stays. Resume: QEMU starts with
 * -incoming defer and migrate-incoming reads the file the same way.
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

#define QEMU_MIGRATE_STALL_S 60 /* suspend/resume: no progress for this long */

/* Polls query-migrate until completed; fails on failure or when nothing
 * moves for QEMU_MIGRATE_STALL_S. */
static int
qemu_migrate_wait(struct qemu_vm *vm, char **err)
{
	double last_move = qemu_now();
	json_int_t last_bytes = -1;

	for (;;) {
		json_t *r = NULL;
		if (qemu_qmp(vm, "query-migrate", NULL, &r, QEMU_CMD_MS, err) != QMP_OK)
			return -1;
		const char *st = json_string_value(json_object_get(r, "status"));
		json_int_t bytes = json_integer_value(
			json_object_get(json_object_get(r, "ram"), "transferred"));
		if (st && strcmp(st, "completed") == 0) {
			json_decref(r);
			return 0;
		}
		if (st && (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0)) {
			const char *d = json_string_value(json_object_get(r, "error-desc"));
			*err = xasprintf("VM %s: migration %s: %s", vm->uuid, st, d ? d : "");
			json_decref(r);
			return -1;
		}
		json_decref(r);
		if (bytes != last_bytes) {
			last_bytes = bytes;
			last_move = qemu_now();
		} else if (qemu_now() - last_move > QEMU_MIGRATE_STALL_S) {
			*err = xasprintf("VM %s: migration stalled (status %s)", vm->uuid,
					 st ? st : "none");
			return -1;
		}
		usleep(20000);
	}
}

int
qemu_getfd(struct qemu_vm *vm, const char *name, int fd, char **err)
{
	json_t *a = json_pack("{s:s}", "fdname", name);
	char *e = NULL;
	int rc = qmp_command_fd(vm->mon, "getfd", a, fd, NULL, QEMU_CMD_MS, &e);

	json_decref(a);
	if (rc != QMP_OK) {
		*err = xasprintf("VM %s: getfd: %s", vm->uuid, e ? e : "failed");
		free(e);
		return -1;
	}
	return 0;
}

/* Loads the memory image at path into a QEMU started with -incoming defer. */
int
qemu_incoming(struct qemu_vm *vm, const char *path, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		*err = xasprintf("cannot open suspend image %s: %s", path, strerror(errno));
		return -1;
	}
	rc = qemu_getfd(vm, "xapid-incoming", fd, err);
	close(fd);
	if (rc < 0 ||
	    qemu_qmp(vm, "migrate-incoming", json_pack("{s:s}", "uri", "fd:xapid-incoming"), NULL,
		     QEMU_CMD_MS, err) != QMP_OK ||
	    qemu_migrate_wait(vm, err) < 0)
		return -1;
	return 0;
}

/* Saves the memory of a stopped VM into fd (QEMU writes it). */
static int
qemu_save_memory(struct qemu_vm *vm, int fd, char **err)
{
	if (qemu_qmp(vm, "migrate-set-parameters",
		     json_pack("{s:I}", "max-bandwidth", (json_int_t)10 << 30), NULL, QEMU_CMD_MS,
		     err) != QMP_OK ||
	    qemu_getfd(vm, "xapid-suspend", fd, err) < 0 ||
	    qemu_qmp(vm, "migrate", json_pack("{s:s}", "uri", "fd:xapid-suspend"), NULL,
		     QEMU_CMD_MS, err) != QMP_OK ||
	    qemu_migrate_wait(vm, err) < 0)
		return -1;
	/* EINVAL: a FIFO (an image on NFS, storage/sr_memimg.h): the
	 * storage syncs what it reads from it */
	if (fsync(fd) < 0 && errno != EINVAL) {
		*err = xasprintf("VM %s: suspend image: fsync: %s", vm->uuid, strerror(errno));
		return -1;
	}
	return 0;
}

int
qemu_suspend(const char *uuid, const char *path,
             int (*commit)(void *arg, char **err), void *arg, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);
	double t0 = qemu_now();
	bool was_running;
	int fd = -1, rc = -1;

	if (!vm)
		return -1;
	qemu_op_begin(vm, false);
	pthread_mutex_lock(&qemu_lock);
	was_running = vm->state == VMR_RUNNING;
	pthread_mutex_unlock(&qemu_lock);
	if (qemu_ensure_mon(vm, err) < 0)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = xasprintf("cannot create suspend image %s: %s", path, strerror(errno));
		goto out;
	}
	if (was_running && qemu_qmp(vm, "stop", NULL, NULL, QEMU_CMD_MS, err) != QMP_OK)
		goto out;
	qemu_set_state(vm, VMR_PAUSED);
	int saved = qemu_save_memory(vm, fd, err);
	/* the image is on its storage before QEMU goes: else the VM runs on */
	if (saved == 0 && commit) {
		close(fd);
		fd = -1;
		saved = commit(arg, err);
	}
	if (saved < 0) {
		char *e = NULL;
		if (was_running && qemu_qmp(vm, "cont", NULL, NULL, QEMU_CMD_MS, &e) == QMP_OK)
			qemu_set_state(vm, VMR_RUNNING);
		free(e);
		unlink(path);
		goto out;
	}
	qemu_op_begin(vm, true);
	rc = qemu_terminate(vm, err);
	if (rc == 0) {
		qemu_set_state(vm, VMR_SUSPENDED);
		qemu_finish(vm, "suspended");
		log_info(QEMU_TAG, "VM %s: suspend image %s written in %.0f ms", uuid, path,
			 (qemu_now() - t0) * 1e3);
	}
	qemu_op_end(vm, true);
out:
	if (fd >= 0)
		close(fd);
	qemu_op_end(vm, false);
	qemu_op_put(vm);
	return rc;
}

/* backend.h save: the memory of a paused VM into path; QEMU stays, its
 * disks reactivated by the next "cont". */
int
qemu_save(const char *uuid, const char *path, char **err)
{
	struct qemu_vm *vm = qemu_op_get(uuid, err);
	double t0 = qemu_now();
	int fd = -1, rc = -1;

	if (!vm)
		return -1;
	pthread_mutex_lock(&qemu_lock);
	bool paused = vm->state == VMR_PAUSED;
	pthread_mutex_unlock(&qemu_lock);
	if (!paused) {
		*err = xasprintf("VM %s: save needs a paused VM", uuid);
	} else if (qemu_ensure_mon(vm, err) == 0) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			*err = xasprintf("cannot create memory image %s: %s", path, strerror(errno));
		else if (qemu_save_memory(vm, fd, err) < 0)
			unlink(path);
		else
			rc = 0;
	}
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		log_info(QEMU_TAG, "VM %s: memory image %s written in %.0f ms (VM kept)", uuid,
			 path, (qemu_now() - t0) * 1e3);
	qemu_op_put(vm);
	return rc;
}

