/*
 * sim: the "sim" VM backend (backend.h). No guest and no process: a VM is a
 * state in memory plus a file DIR/vms-sim/<uuid>.json (written atomically)
 * so that a restarted xapid re-attaches to the VMs it left "running". For
 * control-plane scale tests only; it says so in its name, its accelerator
 * ("sim") and its log lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
sim_suspend(const char *uuid, const char *path, char **err)
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
		} else {
			sim_forget(v);
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
sim_stats(const char *uuid, struct vm_stats *out, char **err)
{
	struct sim_vm *v;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&sim_lock);
	v = sim_get(uuid, err);
	if (v) {
		out->memory_actual = v->spec.memory;
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
	.resume = sim_resume,
	.disk_plug = sim_disk_plug,
	.disk_unplug = sim_disk_unplug,
	.nic_plug = sim_nic_plug,
	.nic_unplug = sim_nic_unplug,
	.stats = sim_stats,
	.agent = sim_agent,
	.accel = sim_accel,
};
