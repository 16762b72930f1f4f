/*
 * sim: the "sim" VM backend (backend.h). No guest and no process: a VM is a
 * state in memory plus a file DIR/vms-sim/<uuid>.json (written atomically)
 * so that a restarted xapid re-attaches to the VMs it left "running". For
 * control-plane scale tests only; it says so in its name, its accelerator
 * ("sim") and its log lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "util/htab.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/backend.h"
#include "vm/vmspec.h"

#define SIM_TAG "vm.sim"

struct sim_vm {
	char uuid[37];
	enum vm_run_state state;
	struct vm_spec spec;
	int mig;               /* 0, SIM_MIG_IN or SIM_MIG_OUT (see below) */
	bool mig_was_running;
	int64_t target; /* memory target; 0: none set (all of it) */
};

static pthread_mutex_t sim_lock = PTHREAD_MUTEX_INITIALIZER;
static struct htab sim_vms;
static char *sim_dir;

static const char *
sim_state_name(enum vm_run_state st)
{
	return st == VMR_PAUSED ? "paused" : "running";
}

/* DIR/vms-sim/<uuid>.json (malloc'd). */
static char *
sim_path(const char *uuid)
{
	return xasprintf("%s/%s.json", sim_dir, uuid);
}

/* Writes the file of a running/paused VM (atomically). Lock held. */
static int
sim_save(const struct sim_vm *v, char **err)
{
	char *path = sim_path(v->uuid), *tmp = xasprintf("%s.tmp", path);
	json_t *o = json_object();
	int rc = 0;

	json_object_set_new(o, "backend", json_string("sim"));
	json_object_set_new(o, "state", json_string(sim_state_name(v->state)));
	json_object_set_new(o, "spec", vm_spec_to_json(&v->spec));
	if (json_dump_file(o, tmp, JSON_COMPACT) < 0 || rename(tmp, path) < 0) {
		*err = xasprintf("sim: cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		rc = -1;
	}
	json_decref(o);
	free(tmp);
	free(path);
	return rc;
}

static void
sim_free(struct sim_vm *v)
{
	vm_spec_clear(&v->spec);
	free(v);
}

/* Forgets a VM (memory and file). Lock held. */
static void
sim_forget(struct sim_vm *v)
{
	char *path = sim_path(v->uuid);

	unlink(path);
	free(path);
	htab_del(&sim_vms, v->uuid);
	sim_free(v);
}

/* The VM, or NULL with *err naming it as not running. Lock held. */
static struct sim_vm *
sim_get(const char *uuid, char **err)
{
	struct sim_vm *v = htab_get(&sim_vms, uuid);

	if (!v && err)
		*err = xasprintf("sim: VM %s is not running", uuid);
	return v;
}

static int
sim_init(const char *state_dir, vm_event_cb cb, char **err)
{
	(void)cb; /* the sim never changes state on its own */
	pthread_mutex_lock(&sim_lock);
	free(sim_dir);
	sim_dir = xasprintf("%s/vms-sim", state_dir);
	pthread_mutex_unlock(&sim_lock);
	if (mkdir(sim_dir, 0700) < 0 && errno != EEXIST) {
		*err = xasprintf("sim: cannot create %s: %s", sim_dir, strerror(errno));
		return -1;
	}
	log_info(SIM_TAG, "sim backend: VMs are simulated, no guest runs "
			  "(control-plane tests only)");
	return 0;
}

static enum vm_run_state
sim_attach(const char *uuid)
{
	enum vm_run_state st = VMR_HALTED;
	struct sim_vm *v;

	if (!vm_uuid_valid(uuid))
		return VMR_HALTED;
	pthread_mutex_lock(&sim_lock);
	v = htab_get(&sim_vms, uuid);
	if (v) {
		st = v->state;
	} else {
		char *path = sim_path(uuid);
		json_t *o = json_load_file(path, 0, NULL);
		const char *s = json_string_value(json_object_get(o, "state"));
		v = xcalloc(1, sizeof(*v));
		if (s && vm_spec_from_json(json_object_get(o, "spec"), &v->spec, NULL) == 0 &&
		    strcmp(v->spec.uuid, uuid) == 0) {
			memcpy(v->uuid, uuid, sizeof(v->uuid));
			v->state = strcmp(s, "paused") == 0 ? VMR_PAUSED : VMR_RUNNING;
			htab_put(&sim_vms, v->uuid, v);
			st = v->state;
			log_info(SIM_TAG, "sim: re-attached VM %s (%s)", uuid, s);
		} else {
			if (o)
				log_warn(SIM_TAG, "sim: dropping bad state file %s", path);
			unlink(path);
			sim_free(v);
		}
		json_decref(o);
		free(path);
	}
	pthread_mutex_unlock(&sim_lock);
	return st;
}

static int
sim_start(const struct vm_spec *spec, char **err)
{
	struct sim_vm *v;
	int rc;

	if (!vm_uuid_valid(spec->uuid)) {
		*err = xstrdup("sim: invalid VM uuid");
		return -1;
	}
	pthread_mutex_lock(&sim_lock);
	if (htab_get(&sim_vms, spec->uuid)) {
		pthread_mutex_unlock(&sim_lock);
		*err = xasprintf("sim: VM %s is already running", spec->uuid);
		return -1;
	}
	v = xcalloc(1, sizeof(*v));
	memcpy(v->uuid, spec->uuid, sizeof(v->uuid));
	vm_spec_copy(&v->spec, spec);
	v->state = spec->start_paused ? VMR_PAUSED : VMR_RUNNING;
	rc = sim_save(v, err);
	if (rc == 0)
		htab_put(&sim_vms, v->uuid, v);
	else
		sim_free(v);
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

/* Stops a VM: shutdown, destroy and the end of suspend. */
static int
sim_stop(const char *uuid, bool must_exist, char **err)
{
	struct sim_vm *v;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, must_exist ? err : NULL);
	if (v)
		sim_forget(v);
	pthread_mutex_unlock(&sim_lock);
	return v || !must_exist ? 0 : -1;
}

static int
sim_shutdown(const char *uuid, double timeout_s, char **err)
{
	(void)timeout_s;
	return sim_stop(uuid, true, err);
}

static int
sim_destroy(const char *uuid, char **err)
{
	return sim_stop(uuid, false, err);
}

static int
sim_reboot(const char *uuid, bool hard, char **err)
{
	struct sim_vm *v;
	int rc = -1;

	(void)hard;
	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v) {
		v->state = VMR_RUNNING;
		rc = sim_save(v, err);
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

/* pause/unpause: from one live state to the other. */
static int
sim_set_state(const char *uuid, enum vm_run_state from, enum vm_run_state to, char **err)
{
	struct sim_vm *v;
	int rc = -1;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v && v->state != from) {
		*err = xasprintf("sim: VM %s is %s", uuid, sim_state_name(v->state));
	} else if (v) {
		v->state = to;
		rc = sim_save(v, err);
		if (rc < 0)
			v->state = from;
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

static int
sim_pause(const char *uuid, char **err)
{
	return sim_set_state(uuid, VMR_RUNNING, VMR_PAUSED, err);
}

static int
sim_unpause(const char *uuid, char **err)
{
	return sim_set_state(uuid, VMR_PAUSED, VMR_RUNNING, err);
}

static const char sim_image_magic[] = "xapid-sim-suspend-image\n";

static int
sim_suspend(const char *uuid, const char *path,
            int (*commit)(void *arg, char **err), void *arg, char **err)
{
	struct sim_vm *v;
	FILE *f;
	int rc = -1;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v) {
		f = fopen(path, "we");
		if (!f || fputs(sim_image_magic, f) < 0 || fprintf(f, "%s\n", uuid) < 0 ||
		    fclose(f) != 0) {
			*err = xasprintf("sim: cannot write %s: %s", path, strerror(errno));
			if (f)
				unlink(path);
		} else if (commit && commit(arg, err) < 0) {
			/* the VM runs on, as QEMU's does */
		} else {
			sim_forget(v);
			rc = 0;
		}
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

/* backend.h save: the image of sim_suspend, the VM stays. */
static int
sim_save_image(const char *uuid, const char *path, char **err)
{
	FILE *f;
	int rc = -1;

	pthread_mutex_lock(&sim_lock);
	if (sim_get(uuid, err)) {
		f = fopen(path, "we");
		if (!f || fputs(sim_image_magic, f) < 0 || fprintf(f, "%s\n", uuid) < 0 ||
		    fclose(f) != 0) {
			*err = xasprintf("sim: cannot write %s: %s", path, strerror(errno));
			if (f)
				unlink(path);
		} else {
			rc = 0;
		}
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

static int
sim_resume(const struct vm_spec *spec, const char *path, char **err)
{
	char head[sizeof(sim_image_magic)] = "";
	FILE *f = fopen(path, "re");

	if (!f || !fgets(head, sizeof(head), f) || strcmp(head, sim_image_magic) != 0) {
		*err = xasprintf("sim: %s is not a sim suspend image", path);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return sim_start(spec, err);
}

/* Index of a disk / NIC by id in the VM's spec, or -1. */
static long
sim_find_disk(const struct sim_vm *v, const char *id)
{
	for (size_t i = 0; i < v->spec.ndisks; i++)
		if (strcmp(v->spec.disks[i].id, id) == 0)
			return (long)i;
	return -1;
}

static long
sim_find_nic(const struct sim_vm *v, const char *id)
{
	for (size_t i = 0; i < v->spec.nnics; i++)
		if (strcmp(v->spec.nics[i].id, id) == 0)
			return (long)i;
	return -1;
}

static int
sim_disk_plug(const char *uuid, const struct vm_disk *d, char **err)
{
	struct sim_vm *v;
	int rc = -1;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v && sim_find_disk(v, d->id) >= 0) {
		*err = xasprintf("sim: VM %s already has disk %s", uuid, d->id);
	} else if (v) {
		v->spec.disks = xrealloc(v->spec.disks, (v->spec.ndisks + 1) * sizeof(*d));
		vm_disk_copy(&v->spec.disks[v->spec.ndisks++], d);
		rc = sim_save(v, err);
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

static int
sim_disk_unplug(const char *uuid, const char *id, char **err)
{
	struct sim_vm *v;
	long i = -1;
	int rc = -1;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v && (i = sim_find_disk(v, id)) < 0) {
		*err = xasprintf("sim: VM %s has no disk %s", uuid, id);
	} else if (v) {
		vm_disk_clear(&v->spec.disks[i]);
		memmove(&v->spec.disks[i], &v->spec.disks[i + 1],
			(v->spec.ndisks - (size_t)i - 1) * sizeof(v->spec.disks[0]));
		v->spec.ndisks--;
		rc = sim_save(v, err);
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

static int
sim_nic_plug(const char *uuid, const struct vm_nic *n, char **err)
{
	struct sim_vm *v;
	int rc = -1;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v && sim_find_nic(v, n->id) >= 0) {
		*err = xasprintf("sim: VM %s already has NIC %s", uuid, n->id);
	} else if (v) {
		v->spec.nics = xrealloc(v->spec.nics, (v->spec.nnics + 1) * sizeof(*n));
		vm_nic_copy(&v->spec.nics[v->spec.nnics++], n);
		rc = sim_save(v, err);
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

static int
sim_nic_unplug(const char *uuid, const char *id, char **err)
{
	struct sim_vm *v;
	long i = -1;
	int rc = -1;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v && (i = sim_find_nic(v, id)) < 0) {
		*err = xasprintf("sim: VM %s has no NIC %s", uuid, id);
	} else if (v) {
		vm_nic_clear(&v->spec.nics[i]);
		memmove(&v->spec.nics[i], &v->spec.nics[i + 1],
			(v->spec.nnics - (size_t)i - 1) * sizeof(v->spec.nics[0]));
		v->spec.nnics--;
		rc = sim_save(v, err);
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

static int
sim_balloon(const char *uuid, int64_t target, char **err)
{
	pthread_mutex_lock(&sim_lock);
	struct sim_vm *v = sim_get(uuid, err);
	if (v)
		v->target = target;
	pthread_mutex_unlock(&sim_lock);
	return v ? 0 : -1;
}

static int
sim_stats(const char *uuid, struct vm_stats *out, char **err)
{
	struct sim_vm *v;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v) {
		/* a simulated guest balloons at once */
		out->memory_actual = v->target > 0 && v->target < v->spec.memory
		                         ? v->target
		                         : v->spec.memory;
		for (size_t i = 0; i < v->spec.ndisks && out->ndisks < 256; i++)
			memcpy(out->disks[out->ndisks++].id, v->spec.disks[i].id,
			       sizeof(out->disks[0].id));
	}
	pthread_mutex_unlock(&sim_lock);
	return v ? 0 : -1;
}

/* A few read-only agent commands answer as an empty guest would. */
static int
sim_agent(const char *uuid, const char *json, char **reply, double timeout_s, char **err)
{
	json_t *cmd;
	const char *ex;
	struct sim_vm *v;
	int rc = -1;

	(void)timeout_s;
	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	pthread_mutex_unlock(&sim_lock);
	if (!v)
		return -1;
	cmd = json_loads(json, 0, NULL);
	ex = json_string_value(json_object_get(cmd, "execute"));
	if (!ex) {
		*err = xstrdup("sim: agent command is not a QMP command object");
	} else if (strcmp(ex, "guest-ping") == 0 || strcmp(ex, "guest-sync") == 0) {
		*reply = strcmp(ex, "guest-ping") == 0
				 ? xstrdup("{}")
				 : json_dumps(json_object_get(json_object_get(cmd, "arguments"), "id"),
					      JSON_ENCODE_ANY);
		rc = *reply ? 0 : -1;
		if (rc < 0)
			*err = xstrdup("sim: guest-sync needs an id");
	} else if (strcmp(ex, "guest-network-get-interfaces") == 0) {
		*reply = xstrdup("[]");
		rc = 0;
	} else if (strcmp(ex, "guest-get-osinfo") == 0) {
		*reply = xstrdup("{\"id\": \"sim\", \"name\": \"xapid sim guest\"}");
		rc = 0;
	} else {
		*err = xasprintf("CommandNotFound: sim: no guest agent command %s", ex);
	}
	json_decref(cmd);
	return rc;
}

/* ---- live migration ----
 * On the connection: the source sends "xapid-sim-migrate <uuid>\n" and the
 * destination answers "ok\n" once it holds the VM (stopped), or closes. */

#define SIM_MIG_IN 1
#define SIM_MIG_OUT 2
#define SIM_MIG_MAGIC "xapid-sim-migrate "

/* Reads one line (at most n-1 bytes) from fd within timeout_s. */
static int
sim_read_line(int fd, char *buf, size_t n, double timeout_s, char **err)
{
	size_t k = 0;

	while (k + 1 < n) {
		struct pollfd p = {fd, POLLIN, 0};
		int r = poll(&p, 1, (int)(timeout_s * 1000));
		if (r <= 0) {
			*err = xstrdup(r == 0 ? "sim: migration: the other side is silent"
					      : "sim: migration: poll failed");
			return -1;
		}
		ssize_t got = read(fd, buf + k, 1);
		if (got <= 0) {
			*err = xstrdup("sim: migration: connection closed");
			return -1;
		}
		if (buf[k] == '\n') {
			buf[k] = 0;
			return 0;
		}
		k++;
	}
	*err = xstrdup("sim: migration: line too long");
	return -1;
}

static int
sim_write_all(int fd, const char *s, char **err)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*err = xasprintf("sim: migration: send: %s", strerror(errno));
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
sim_migrate_receive(const struct vm_spec *spec, int fd, char **err)
{
	char line[128], *want = xasprintf(SIM_MIG_MAGIC "%s", spec->uuid);
	struct vm_spec s = *spec;
	struct sim_vm *v;
	int rc = -1;

	if (sim_read_line(fd, line, sizeof(line), 60, err) < 0)
		goto out;
	if (strcmp(line, want) != 0) {
		*err = xasprintf("sim: migration: unexpected stream for VM %s", spec->uuid);
		goto out;
	}
	s.start_paused = true;
	if (sim_start(&s, err) < 0)
		goto out;
	pthread_mutex_lock(&sim_lock);
	if ((v = sim_get(spec->uuid, NULL)))
		v->mig = SIM_MIG_IN;
	pthread_mutex_unlock(&sim_lock);
	if (sim_write_all(fd, "ok\n", err) < 0) {
		sim_stop(spec->uuid, false, NULL);
		goto out;
	}
	rc = 0;
out:
	free(want);
	return rc;
}

static int
sim_migrate_send(const char *uuid, int fd, const struct vm_migrate_opts *o,
		 struct vm_migrate_stats *st, char **err)
{
	char *hello = xasprintf(SIM_MIG_MAGIC "%s\n", uuid), line[16];
	double stall = o && o->stall_s > 0 ? o->stall_s : 60;
	struct sim_vm *v;
	int rc = -1;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v && v->mig) {
		*err = xasprintf("sim: VM %s is already being migrated", uuid);
		v = NULL;
	}
	pthread_mutex_unlock(&sim_lock);
	if (!v || sim_write_all(fd, hello, err) < 0 ||
	    sim_read_line(fd, line, sizeof(line), stall, err) < 0)
		goto out;
	if (strcmp(line, "ok") != 0) {
		*err = xstrdup("sim: migration: the destination refused");
		goto out;
	}
	pthread_mutex_lock(&sim_lock);
	if ((v = sim_get(uuid, err))) {
		v->mig = SIM_MIG_OUT;
		v->mig_was_running = v->state == VMR_RUNNING;
		v->state = VMR_PAUSED;
		st->ram_bytes = strlen(hello);
		rc = 0;
	}
	pthread_mutex_unlock(&sim_lock);
out:
	free(hello);
	return rc;
}

static int
sim_migrate_end(const char *uuid, bool commit, bool was_running, char **err)
{
	struct sim_vm *v;
	int rc = 0;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (!v || !v->mig) {
		if (v)
			*err = xasprintf("sim: VM %s is not being migrated", uuid);
		pthread_mutex_unlock(&sim_lock);
		return -1;
	}
	if (commit == (v->mig == SIM_MIG_OUT)) {
		sim_forget(v); /* the VM lives on the other side */
	} else {
		bool run = v->mig == SIM_MIG_IN ? was_running : v->mig_was_running;
		v->mig = 0;
		v->state = run ? VMR_RUNNING : VMR_PAUSED;
		rc = sim_save(v, err);
	}
	pthread_mutex_unlock(&sim_lock);
	return rc;
}

static int
sim_layout(const char *uuid, struct vm_spec *out, char **err)
{
	struct sim_vm *v;

	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v)
		vm_spec_copy(out, &v->spec);
	pthread_mutex_unlock(&sim_lock);
	return v ? 0 : -1;
}

static const char *
sim_accel(void)
{
	return "sim";
}

const struct vm_backend_ops vm_backend_sim = {
	.name = "sim",
	.init = sim_init,
	.attach = sim_attach,
	.start = sim_start,
	.shutdown = sim_shutdown,
	.destroy = sim_destroy,
	.reboot = sim_reboot,
	.pause = sim_pause,
	.unpause = sim_unpause,
	.suspend = sim_suspend,
	.save = sim_save_image,
	.resume = sim_resume,
	.disk_plug = sim_disk_plug,
	.disk_unplug = sim_disk_unplug,
	.nic_plug = sim_nic_plug,
	.nic_unplug = sim_nic_unplug,
	.stats = sim_stats,
	.balloon = sim_balloon,
	.migrate_receive = sim_migrate_receive,
	.migrate_send = sim_migrate_send,
	.migrate_end = sim_migrate_end,
	.layout = sim_layout,
	.agent = sim_agent,
	.accel = sim_accel,
};
