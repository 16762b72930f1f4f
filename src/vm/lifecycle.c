/* lifecycle: VM power operations, create/destroy/clone, backend events and
 * the resync after a xapid restart. */
#include "vm/lifecycle.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ctype.h>

#include "rpc/http.h"
#include "storage/sr.h"
#include "storage/sr_cbt.h"
#include "storage/sr_memimg.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/host_ops.h"
#include "vm/metrics.h"
#include "vm/vm_int.h"

/* Turns a backend failure message into INTERNAL_ERROR. */
static struct api_err *
lc_backend_err(const char *what, char *msg)
{
	struct api_err *e = api_internal("%s: %s", what, msg ? msg : "failed");
	free(msg);
	return e;
}

static struct api_err *
lc_start_common(const char *vm, bool paused, const char *opname)
{
	char *opid = NULL, *msg = NULL;
	struct api_err *err = vm_op_begin(vm, opname, "halted", false, &opid);
	if (err)
		return err;
	if ((err = host_assert_enabled(vm_cfg.host_ref)))
		goto fail;
	int64_t need = vm_memory_needed(vm), avail = vm_host_free_memory(vm);
	if (need > avail) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "%" PRId64, need);
		snprintf(b, sizeof(b), "%" PRId64, avail);
		err = api_error(XE_HOST_NOT_ENOUGH_FREE_MEMORY, a, b, NULL);
		goto fail;
	}
	struct vm_spec spec;
	if ((err = vm_spec_build(vm, &spec, false)))
		goto fail;
	/* no locks on NFS: this host's claim on the images it will write */
	if ((err = sr_leases_take(vm))) {
		vm_spec_clear(&spec);
		goto fail;
	}
	spec.start_paused = paused;
	int rc = vm_cfg.backend->start(&spec, &msg);
	vm_spec_clear(&spec);
	if (rc < 0) {
		err = lc_backend_err("VM start failed", msg);
		goto fail;
	}
	vm_op_end(vm, opid, paused ? "Paused" : "Running");
	free(opid);
	vm_squeeze(); /* room for it, and its own target */
	return NULL;
fail:
	vm_op_end(vm, opid, NULL);
	free(opid);
	return err;
}

static struct api_err *
lc_start(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return lc_start_common(args[0]->u.s, args[1]->u.b, "start");
}

static struct api_err *
lc_start_on(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	if (strcmp(args[1]->u.s, vm_cfg.host_ref) != 0)
		return api_error(XE_HANDLE_INVALID, "host", args[1]->u.s, NULL);
	return lc_start_common(args[0]->u.s, args[2]->u.b, "start_on");
}

/* A simple operation: guard, one backend call, new power state. */
typedef int (*lc_call)(const char *uuid, char **err);

static char *
lc_uuid(const char *vm)
{
	char *u = NULL;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r)
		u = xstrdup(r->f[DMF_VM_uuid].s);
	db_unlock();
	return u;
}

/* After a VM stops, chains that were kept long for it can be coalesced. */
static void
lc_coalesce_disks(const char *vm)
{
	char **srs = NULL;
	size_t n = 0;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	const struct dm_coll *b = r ? r->f[DMF_VM_VBDs].c : NULL;
	for (size_t i = 0; b && i < b->n; i++) {
		struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		struct db_row *vdi = vbd ? db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s) : NULL;
		if (!vdi)
			continue;
		srs = xrealloc(srs, (n + 1) * sizeof(char *));
		srs[n++] = xstrdup(vdi->f[DMF_VDI_SR].s);
	}
	db_unlock();
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		for (size_t k = 0; k < i; k++)
			seen = seen || strcmp(srs[k], srs[i]) == 0;
		if (!seen)
			sr_coalesce(srs[i]);
	}
	for (size_t i = 0; i < n; i++)
		free(srs[i]);
	free(srs);
}

static struct api_err *
lc_simple(const char *vm, const char *op, const char *allowed, lc_call fn,
	  const char *after)
{
	char *opid = NULL, *msg = NULL;
	struct api_err *err = vm_op_begin(vm, op, allowed, false, &opid);
	if (err)
		return err;
	char *uuid = lc_uuid(vm);
	if (fn(uuid, &msg) < 0) {
		err = lc_backend_err(op, msg);
		vm_op_end(vm, opid, NULL);
	} else {
		vm_op_end(vm, opid, after);
		if (after && strcmp(after, "Halted") == 0)
			lc_coalesce_disks(vm);
	}
	free(uuid);
	free(opid);
	return err;
}

static int
lc_be_clean_shutdown(const char *uuid, char **err)
{
	return vm_cfg.backend->shutdown(uuid, 60, err);
}

static int
lc_be_hard_reboot(const char *uuid, char **err)
{
	int rc = vm_cfg.backend->reboot(uuid, true, err);
	if (rc == 0)
		vm_squeeze_forget(uuid); /* maybe a new QEMU, with a balloon */
	return rc;
}

static int
lc_be_clean_reboot(const char *uuid, char **err)
{
	int rc = vm_cfg.backend->reboot(uuid, false, err);
	if (rc == 0)
		vm_squeeze_forget(uuid);
	return rc;
}

#define LC_HANDLER(name, op, allowed, fn, after)                               \
	static struct api_err *name(struct api_ctx *ctx, xv *const *args,      \
				    size_t nargs, xv **result)                 \
	{                                                                      \
		(void)ctx;                                                     \
		(void)nargs;                                                   \
		(void)result;                                                  \
		return lc_simple(args[0]->u.s, op, allowed, fn, after);        \
	}

static int
lc_be_destroy(const char *uuid, char **err)
{
	return vm_cfg.backend->destroy(uuid, err);
}

static int
lc_be_pause(const char *uuid, char **err)
{
	return vm_cfg.backend->pause(uuid, err);
}

static int
lc_be_unpause(const char *uuid, char **err)
{
	return vm_cfg.backend->unpause(uuid, err);
}

LC_HANDLER(lc_clean_shutdown, "clean_shutdown", "running", lc_be_clean_shutdown, "Halted")
LC_HANDLER(lc_hard_shutdown_live, "hard_shutdown", "paused,running,suspended", lc_be_destroy, "Halted")
LC_HANDLER(lc_clean_reboot, "clean_reboot", "running", lc_be_clean_reboot, "Running")
LC_HANDLER(lc_hard_reboot, "hard_reboot", "paused,running", lc_be_hard_reboot, "Running")
LC_HANDLER(lc_pause, "pause", "running", lc_be_pause, "Paused")
LC_HANDLER(lc_unpause, "unpause", "paused", lc_be_unpause, "Running")

/* The VM's suspend image (VDI ref), or NULL. */
static char *
lc_suspend_vdi(const char *vm)
{
	char *v = NULL;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r && strcmp(r->f[DMF_VM_suspend_VDI].s, DM_NULL_REF) != 0)
		v = xstrdup(r->f[DMF_VM_suspend_VDI].s);
	db_unlock();
	return v;
}

static void
lc_set_suspend_vdi(const char *vm, const char *vdi)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, vm);
	if (r)
		db_txn_set(t, r, DMF_VM_suspend_VDI,
			   (union dm_val){.s = xstrdup(vdi ? vdi : DM_NULL_REF)});
	api_err_free(api_commit(t));
}

/* VM.hard_shutdown: a suspended VM just loses its memory image. */
static struct api_err *
lc_hard_shutdown(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *vm = args[0]->u.s;
	char *img = lc_suspend_vdi(vm);
	bool suspended = false;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	suspended = r && strcmp(r->f[DMF_VM_power_state].s, "Suspended") == 0;
	db_unlock();
	if (!suspended) {
		free(img);
		return lc_hard_shutdown_live(ctx, args, nargs, result);
	}
	char *opid = NULL;
	struct api_err *err = vm_op_begin(vm, "hard_shutdown", "suspended", false, &opid);
	if (!err) {
		if (img) {
			api_err_free(sr_vdi_delete(img));
			lc_set_suspend_vdi(vm, NULL);
		}
		vm_op_end(vm, opid, "Halted");
	}
	free(opid);
	free(img);
	return err;
}

struct api_err *
vm_hard_shutdown(const char *vm)
{
	xv *a = xv_str(vm);
	struct api_err *e = lc_hard_shutdown(NULL, &a, 1, NULL);
	xv_free(a);
	return e;
}

/* backend.h suspend's commit: the image reaches the SR before the VM is
 * stopped for good (else it runs on); the SR's error is kept. */
struct lc_commit {
	struct sr_memimg *img;
	struct api_err *err;
};

static int
lc_suspend_commit(void *arg, char **msg)
{
	struct lc_commit *c = arg;
	if (!(c->err = sr_memimg_commit(c->img)))
		return 0;
	*msg = xstrdup(c->err->n > 1 ? c->err->params[1] : c->err->code);
	return -1;
}

/* VM.suspend: the memory image goes to a VDI on the suspend SR. */
static struct api_err *
lc_suspend(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *vm = args[0]->u.s;
	char *opid = NULL, *msg = NULL, *vdi = NULL, *sr = NULL;
	int64_t mem = 0;
	(void)ctx;
	(void)nargs;
	(void)result;
	struct api_err *err = vm_assert_persistent_disks(vm);
	if (err || (err = vm_op_begin(vm, "suspend", "running", false, &opid)))
		return err;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r) {
		sr = vm_suspend_sr(r);
		mem = r->f[DMF_VM_memory_static_max].i;
	}
	db_unlock();
	char *uuid = lc_uuid(vm);
	struct sr_memimg *img = NULL;
	err = sr_suspend_vdi_create(sr ? sr : DM_NULL_REF, mem, &vdi);
	bool stopped = false;
	if (!err && !(err = sr_memimg_open(vdi, true, &img))) {
		struct lc_commit cm = {img, NULL};
		int rc = vm_cfg.backend->suspend(uuid, sr_memimg_path(img),
		                                 lc_suspend_commit, &cm, &msg);
		struct api_err *e = sr_memimg_close(img, rc == 0);
		if (rc < 0) {
			err = cm.err ? cm.err
			             : lc_backend_err("VM suspend failed", msg);
			if (cm.err)
				free(msg);
			api_err_free(e);
		} else {
			/* the VM has stopped: whatever the image's fate, it
			 * no longer runs */
			stopped = true;
			err = e;
		}
	}
	if (err && vdi)
		sr_suspend_vdi_abandon(vdi, img != NULL);
	if (err && stopped) {
		log_warn("vm",
		         "VM %s stopped but its suspend image was lost: "
		         "it is halted",
		         uuid);
		vm_op_end(vm, opid, "Halted");
	} else if (err) {
		vm_op_end(vm, opid, NULL);
	} else {
		lc_set_suspend_vdi(vm, vdi);
		vm_op_end(vm, opid, "Suspended");
	}
	free(uuid);
	free(opid);
	free(vdi);
	free(sr);
	return err;
}

static struct api_err *
lc_resume_common(const char *vm, bool paused)
{
	char *opid = NULL, *msg = NULL;
	struct api_err *err = vm_op_begin(vm, "resume", "suspended", false, &opid);
	if (err)
		return err;
	if ((err = host_assert_enabled(vm_cfg.host_ref))) {
		vm_op_end(vm, opid, NULL);
		free(opid);
		return err;
	}
	char *img = lc_suspend_vdi(vm);
	struct sr_memimg *mi = NULL;
	if (img)
		err = sr_memimg_open(img, false, &mi);
	else
		err = api_internal("the VM has no suspend image");
	struct vm_spec spec;
	if (!err && !(err = vm_spec_build(vm, &spec, true))) {
		spec.start_paused = paused;
		if (vm_cfg.backend->resume(&spec, sr_memimg_path(mi), &msg) < 0)
			err = lc_backend_err("VM resume failed", msg);
		vm_spec_clear(&spec);
	}
	api_err_free(sr_memimg_close(mi, !err));
	if (err) {
		vm_op_end(vm, opid, NULL);
	} else {
		api_err_free(sr_vdi_delete(img));
		lc_set_suspend_vdi(vm, NULL);
		vm_op_end(vm, opid, paused ? "Paused" : "Running");
	}
	free(img);
	free(opid);
	return err;
}

static struct api_err *
lc_resume(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return lc_resume_common(args[0]->u.s, args[1]->u.b);
}

static struct api_err *
lc_resume_on(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	if (strcmp(args[1]->u.s, vm_cfg.host_ref) != 0)
		return api_error(XE_HANDLE_INVALID, "host", args[1]->u.s, NULL);
	return lc_resume_common(args[0]->u.s, args[2]->u.b);
}

/* VM.shutdown: clean, falling back to hard. */
static struct api_err *
lc_shutdown(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = lc_clean_shutdown(ctx, args, nargs, result);
	if (err && strcmp(err->code, "VM_BAD_POWER_STATE") != 0 &&
	    strcmp(err->code, "HANDLE_INVALID") != 0) {
		api_err_free(err);
		err = lc_hard_shutdown(ctx, args, nargs, result);
	} else if (err && strcmp(err->code, "VM_BAD_POWER_STATE") == 0) {
		api_err_free(err);
		err = lc_hard_shutdown(ctx, args, nargs, result);
	}
	return err;
}

/* VM.create: the record, plus its metrics as xapi makes them. */
static struct api_err *
lc_create(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = api_create_row(DMC_VM, args[0], result);
	(void)ctx;
	(void)nargs;
	if (err)
		return err;
	struct db_txn *t = db_txn_begin();
	struct db_row *vm = db_txn_edit(t, DMC_VM, (*result)->u.s);
	struct db_row *m = db_txn_create(t, DMC_VM_metrics, NULL, NULL);
	db_txn_set(t, m, DMF_VM_metrics_install_time, (union dm_val){.i = (int64_t)time(NULL)});
	db_txn_set(t, vm, DMF_VM_metrics, (union dm_val){.s = xstrdup(m->ref)});
	db_txn_set(t, vm, DMF_VM_allowed_operations,
		   (union dm_val){.c = vm_allowed_ops(vm->f[DMF_VM_power_state].s,
						      vm->f[DMF_VM_is_a_template].b)});
	return api_commit(t);
}

/* VM.destroy: the record, its VBDs, VIFs and metrics; never the disks. */
static struct api_err *
lc_destroy(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *vm = args[0]->u.s;
	char *opid = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	struct api_err *err = vm_op_begin(vm, "destroy", "halted,suspended", true, &opid);
	if (err)
		return err;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, vm);
	const struct dm_coll *c;
	if ((c = r->f[DMF_VM_VBDs].c))
		for (size_t i = 0; i < c->n; i++)
			db_txn_destroy(t, DMC_VBD, c->v[i].s);
	if ((c = r->f[DMF_VM_VIFs].c))
		for (size_t i = 0; i < c->n; i++)
			db_txn_destroy(t, DMC_VIF, c->v[i].s);
	if ((c = r->f[DMF_VM_consoles].c))
		for (size_t i = 0; i < c->n; i++)
			db_txn_destroy(t, DMC_console, c->v[i].s);
	db_txn_destroy(t, DMC_VM_metrics, r->f[DMF_VM_metrics].s);
	db_txn_destroy(t, DMC_VM_guest_metrics, r->f[DMF_VM_guest_metrics].s);
	db_txn_destroy(t, DMC_VM, vm);
	err = api_commit(t);
	if (err)
		vm_op_end(vm, opid, NULL);
	free(opid);
	return err;
}

/* VM.power_state_reset: the DB says halted whatever it thought. */
static struct api_err *
lc_power_state_reset(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, args[0]->u.s);
	if (!r) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "VM", args[0]->u.s, NULL);
	}
	vm_set_power(t, r, "Halted");
	db_txn_set(t, r, DMF_VM_current_operations, (union dm_val){.c = NULL});
	db_txn_set(t, r, DMF_VM_allowed_operations,
		   (union dm_val){.c = vm_allowed_ops("Halted", r->f[DMF_VM_is_a_template].b)});
	return api_commit(t);
}

/* VM.set_is_a_template: a template's allowed operations differ. */
static struct api_err *
lc_set_is_a_template(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, args[0]->u.s);
	if (!r) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "VM", args[0]->u.s, NULL);
	}
	if (args[1]->u.b && strcmp(r->f[DMF_VM_power_state].s, "Halted") != 0) {
		struct api_err *e = vm_bad_power_state(args[0]->u.s, "halted",
						       r->f[DMF_VM_power_state].s);
		db_txn_abort(t);
		return e;
	}
	db_txn_set(t, r, DMF_VM_is_a_template, (union dm_val){.b = args[1]->u.b});
	db_txn_set(t, r, DMF_VM_allowed_operations,
		   (union dm_val){.c = vm_allowed_ops(r->f[DMF_VM_power_state].s,
						      args[1]->u.b)});
	return api_commit(t);
}

/* The socket behind a console of a VM running here (for /console): by
 * console uuid or ref (xapi's console locations), or by VM ref (the serial
 * console, as `xe console` asks). vt100: the serial console; rfb: VNC. */
static char *
lc_console_path(const char *ref, const char *uuid)
{
	char *path = NULL;
	const char *proto = "vt100";
	db_rdlock();
	struct db_row *c = uuid ? db_get_by_uuid(DMC_console, uuid)
			   : ref ? db_get(DMC_console, ref)
				 : NULL;
	struct db_row *r = c ? db_get(DMC_VM, c->f[DMF_console_VM].s)
		       : ref && !uuid ? db_get(DMC_VM, ref)
				      : NULL;
	if (c)
		proto = c->f[DMF_console_protocol].s;
	if (r && strcmp(r->f[DMF_VM_resident_on].s, vm_cfg.host_ref) == 0 &&
	    (strcmp(r->f[DMF_VM_power_state].s, "Running") == 0 ||
	     strcmp(r->f[DMF_VM_power_state].s, "Paused") == 0) &&
	    (strcmp(proto, "vt100") == 0 || strcmp(proto, "rfb") == 0))
		path = xasprintf("%s/vms/%s/%s", vm_cfg.state_dir, r->f[DMF_VM_uuid].s,
				 strcmp(proto, "rfb") == 0 ? "vnc.sock" : "console.sock");
	db_unlock();
	return path;
}

/* ---- events from the backend ---- */

struct lc_event {
	char uuid[37];
	enum vm_run_state state;
	bool reboot;
	char reason[128];
};

static void *
lc_event_main(void *p)
{
	struct lc_event *ev = p;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_get_by_uuid(DMC_VM, ev->uuid);
	r = r ? db_txn_edit(t, DMC_VM, r->ref) : NULL;
	if (!r || (r->f[DMF_VM_current_operations].c &&
		   r->f[DMF_VM_current_operations].c->n)) {
		/* unknown, or an operation of ours is moving it: it will record
		 * the outcome itself */
		db_txn_abort(t);
		free(ev);
		return NULL;
	}
	const char *now = ev->state == VMR_PAUSED ? "Paused"
			  : ev->state == VMR_RUNNING ? "Running"
			  : ev->state == VMR_SUSPENDED ? "Suspended"
						       : "Halted";
	log_info("vm", "VM %s is now %s (%s%s)", ev->uuid, now, ev->reason,
		 ev->reboot ? ", reboot" : "");
	if (strcmp(r->f[DMF_VM_power_state].s, now) != 0) {
		vm_set_power(t, r, now);
		db_txn_set(t, r, DMF_VM_allowed_operations,
			   (union dm_val){.c = vm_allowed_ops(now, false)});
		api_err_free(api_commit(t));
	} else {
		db_txn_abort(t);
	}
	free(ev);
	return NULL;
}

static void
lc_event(const char *uuid, enum vm_run_state state, bool reboot, const char *reason)
{
	struct lc_event *ev = xcalloc(1, sizeof(*ev));
	if (reboot) /* the guest starts over (maybe in a new QEMU): its
	             * memory target is given again */
		vm_squeeze_forget(uuid);
	snprintf(ev->uuid, sizeof(ev->uuid), "%s", uuid);
	ev->state = state;
	ev->reboot = reboot;
	snprintf(ev->reason, sizeof(ev->reason), "%s", reason ? reason : "");
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, lc_event_main, ev) != 0)
		lc_event_main(ev);
	pthread_attr_destroy(&attr);
}

/* True when the DB says operation op was running on VM vm. */
static bool
lc_was_doing(const char *vm, const char *op)
{
	bool r = false;
	db_rdlock();
	struct db_row *row = db_get(DMC_VM, vm);
	const struct dm_coll *c = row ? row->f[DMF_VM_current_operations].c : NULL;
	for (size_t i = 0; c && i < c->n; i++)
		r = r || strcmp(c->v[2 * i + 1].s, op) == 0;
	db_unlock();
	return r;
}

/* Whether the VM row says it is resident on another host of the pool. */
static bool
lc_elsewhere(const struct db_row *r)
{
	const char *on = r->f[DMF_VM_resident_on].s;
	return on && *on && strcmp(on, DM_NULL_REF) != 0 &&
	       strcmp(on, vm_cfg.host_ref) != 0;
}

/* After a restart: VMs the DB thinks run here are re-attached or halted;
 * a VM resident on another host and not found here is that host's (left
 * alone: in a pool, every host restarting would else halt the others'). */
static void
lc_resync(void)
{
	size_t n;
	db_rdlock();
	struct db_row **vms = db_list(DMC_VM, &n);
	char **refs = xcalloc(n + 1, sizeof(char *)), **uuids = xcalloc(n + 1, sizeof(char *));
	bool *away = xcalloc(n + 1, sizeof(bool));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		struct db_row *r = vms[i];
		if (r->f[DMF_VM_is_control_domain].b || r->f[DMF_VM_is_a_template].b)
			continue;
		away[k] = lc_elsewhere(r);
		refs[k] = xstrdup(r->ref);
		uuids[k++] = xstrdup(r->f[DMF_VM_uuid].s);
	}
	free(vms);
	db_unlock();
	for (size_t i = 0; i < k; i++) {
		enum vm_run_state st = vm_cfg.backend->attach(uuids[i]);
		if (st == VMR_HALTED && away[i]) {
			free(refs[i]);
			free(uuids[i]);
			continue;
		}
		if (st == VMR_PAUSED && lc_was_doing(refs[i], "checkpoint")) {
			/* paused by a checkpoint a crash interrupted: on again */
			for (int tries = 0; tries < 60 && st == VMR_PAUSED; tries++) {
				/* its memory may still be going out: cont waits for that */
				char *msg = NULL;
				if (vm_cfg.backend->unpause(uuids[i], &msg) == 0) {
					log_warn("vm", "resync: VM %s unpaused after an interrupted "
						 "checkpoint", uuids[i]);
					st = VMR_RUNNING;
				} else {
					usleep(500000);
				}
				free(msg);
			}
		}
		const char *now = st == VMR_RUNNING ? "Running"
				  : st == VMR_PAUSED ? "Paused"
						     : NULL;
		struct db_txn *t = db_txn_begin();
		struct db_row *r = db_txn_edit(t, DMC_VM, refs[i]);
		const char *was = r ? r->f[DMF_VM_power_state].s : "";
		if (r && !now && (strcmp(was, "Running") == 0 || strcmp(was, "Paused") == 0))
			now = "Halted";
		if (r && now) {
			if (strcmp(was, now) != 0)
				log_info("vm", "resync: VM %s was %s, is %s", uuids[i], was, now);
			else
				log_info("vm", "resync: VM %s still %s", uuids[i], now);
			vm_set_power(t, r, now);
		}
		if (r) {
			db_txn_set(t, r, DMF_VM_current_operations, (union dm_val){.c = NULL});
			db_txn_set(t, r, DMF_VM_allowed_operations,
				   (union dm_val){.c = vm_allowed_ops(r->f[DMF_VM_power_state].s, false)});
		}
		api_err_free(api_commit(t));
		free(refs[i]);
		free(uuids[i]);
	}
	free(refs);
	free(uuids);
	free(away);
}

const struct vm_backend_ops *
vm_backend_find(const char *name)
{
	static const struct vm_backend_ops *const all[] = {&vm_backend_qemu,
							   &vm_backend_sim};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

int
vm_lifecycle_init(const struct vm_config *cfg, char **err)
{
	vm_cfg = *cfg;
	if (vm_cfg.backend->init(cfg->state_dir, lc_event, err) < 0)
		return -1;
	vm_cfg.backend = vm_workers_wrap(cfg->backend,
					 cfg->worker_pool_size ? cfg->worker_pool_size : 16,
					 cfg->parallel_chunk);
	log_info("vm", "backend %s, accelerator %s", vm_cfg.backend->name,
		 vm_cfg.backend->accel());
	/* shown in the host's fields: xe host-param-get param-name=other-config */
	struct db_txn *t = db_txn_begin();
	struct db_row *h = db_txn_edit(t, DMC_host, cfg->host_ref);
	if (h) {
		const char *keys[] = {"vm-backend", "vm-accelerator"};
		const char *vals[] = {vm_cfg.backend->name, vm_cfg.backend->accel()};
		const struct dm_coll *old = h->f[DMF_host_other_config].c;
		size_t n = old ? old->n : 0, k = 0;
		struct dm_coll *c = dmc_new(n + 2);
		for (size_t i = 0; i < n; i++) {
			if (strcmp(old->v[2 * i].s, keys[0]) == 0 ||
			    strcmp(old->v[2 * i].s, keys[1]) == 0)
				continue;
			c->v[2 * k].s = xstrdup(old->v[2 * i].s);
			c->v[2 * k + 1].s = xstrdup(old->v[2 * i + 1].s);
			k++;
		}
		for (size_t i = 0; i < 2; i++, k++) {
			c->v[2 * k].s = xstrdup(keys[i]);
			c->v[2 * k + 1].s = xstrdup(vals[i]);
		}
		c->n = k;
		db_txn_set(t, h, DMF_host_other_config, (union dm_val){.c = c});
	}
	api_err_free(api_commit(t));
	api_register("VM.create", lc_create, 0);
	api_register("VM.destroy", lc_destroy, 0);
	vm_copy_register();
	vm_memory_register();
	api_register("VM.start", lc_start, 0);
	api_register("VM.start_on", lc_start_on, 0);
	api_register("VM.clean_shutdown", lc_clean_shutdown, 0);
	api_register("VM.hard_shutdown", lc_hard_shutdown, 0);
	api_register("VM.shutdown", lc_shutdown, 0);
	api_register("VM.clean_reboot", lc_clean_reboot, 0);
	api_register("VM.hard_reboot", lc_hard_reboot, 0);
	api_register("VM.pause", lc_pause, 0);
	api_register("VM.suspend", lc_suspend, 0);
	api_register("VM.resume", lc_resume, 0);
	api_register("VM.resume_on", lc_resume_on, 0);
	api_register("VM.unpause", lc_unpause, 0);
	api_register("VM.power_state_reset", lc_power_state_reset, 0);
	api_register("VM.set_is_a_template", lc_set_is_a_template, API_NO_ASYNC);
	vm_devices_register();
	host_ops_register();
	vm_migrate_register();
	http_set_console_resolver(lc_console_path);
	if (vm_cfg.backend->disk_snapshot)
		sr_set_live_snapshot(vm_cfg.backend->disk_snapshot);
	if (vm_cfg.backend->disk_cbt)
		sr_set_live_cbt(vm_cfg.backend->disk_cbt);
	if (vm_cfg.backend->disk_stream)
		sr_set_live_stream(vm_cfg.backend->disk_stream);
	lc_resync();
	sr_recover();
	vm_guest_agent_start();
	metrics_start();
	return 0;
}
