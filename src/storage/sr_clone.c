/* sr_clone: copy-on-write clones and snapshots of VDIs (live through the
 * VM backend when a running VM writes to the VDI) and the garbage collector
 * that coalesces their chains (VDI.clone, VDI.snapshot, sr_coalesce). */
#include "storage/sr.h"
#include "storage/sr_cbt.h"
#include "storage/sr_priv.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/store.h"
#include "rpc/api.h"
#include "util/log.h"
#include "util/spawn.h"
#include "util/xalloc.h"


static int (*sr_live_ops)(const char *uuid, const char *id, const char *new_top,
			  const char *cbt, char **err);

void
sr_set_live_snapshot(int (*fn)(const char *uuid, const char *id,
			       const char *new_top, const char *cbt, char **err))
{
	sr_live_ops = fn;
}

static struct api_err *
sr_live_switch(const struct sr_live *l, const char *new_top)
{
	char *msg = NULL;
	if (sr_live_ops(l->vm_uuid, l->disk_id, new_top, l->cbt, &msg) == 0)
		return NULL;
	struct api_err *e = api_error(XE_SR_BACKEND_FAILURE, "1", "", msg ? msg : "", NULL);
	free(msg);
	return e;
}

struct api_err *
sr_vdi_clone(const char *vdi_ref, bool snapshot, const char *pending, char **out)
{
	struct api_err *err = NULL;
	char *location = NULL, *sr_ref = NULL;
	struct sr_call c;

	int64_t size = 0;
	char vm_uuid[37] = "", disk_id[16] = "";
	db_rdlock();
	struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	if (!vdi) {
		err = api_error(XE_HANDLE_INVALID, "VDI", vdi_ref, NULL);
	} else {
		/* attached to a VM running here: a live snapshot through it */
		const struct dm_coll *vbds = vdi->f[DMF_VDI_VBDs].c;
		for (size_t i = 0; vbds && i < vbds->n && !err; i++) {
			struct db_row *vbd = db_get(DMC_VBD, vbds->v[i].s);
			if (!sr_vbd_live(vbd))
				continue;
			struct db_row *vm = db_get(DMC_VM, vbd->f[DMF_VBD_VM].s);
			/* suspended: no QEMU writes, an offline snapshot */
			if (vm && strcmp(vm->f[DMF_VM_power_state].s,
			                 "Suspended") == 0)
				continue;
			if (vm_uuid[0] || !vm || !sr_live_ops ||
			    strcmp(vm->f[DMF_VM_resident_on].s, sr_host ? sr_host : "") != 0 ||
			    strcmp(vbd->f[DMF_VBD_mode].s, "RW") != 0)
				err = api_error(XE_VDI_IN_USE, vdi_ref,
						snapshot ? "snapshot" : "clone", NULL);
			else {
				snprintf(vm_uuid, sizeof(vm_uuid), "%s", vm->f[DMF_VM_uuid].s);
				snprintf(disk_id, sizeof(disk_id), "vbd%d",
					 atoi(vbd->f[DMF_VBD_userdevice].s));
			}
		}
		if (!err)
			err = sr_cbt_check_op(vdi, snapshot ? "snapshot" : "clone");
		if (!err && snapshot && strcmp(vdi->f[DMF_VDI_on_boot].s, "reset") == 0)
			err = api_error(XE_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION, NULL);
		location = xstrdup(vdi->f[DMF_VDI_location].s);
		sr_ref = xstrdup(vdi->f[DMF_VDI_SR].s);
		size = vdi->f[DMF_VDI_virtual_size].i;
	}
	db_unlock();
	struct sr_live live = {sr_live_switch, vm_uuid, disk_id, NULL};
	struct sr_cbt_step cbt = {0};
	if (err || (err = sr_call_prepare(sr_ref, &c))) {
		free(location);
		free(sr_ref);
		return err;
	}
	db_rdlock();
	if ((vdi = db_get(DMC_VDI, vdi_ref)))
		err = sr_cbt_begin(vdi, snapshot, &c.ctx, &cbt);
	db_unlock();
	live.cbt = sr_cbt_live_arg(&cbt);
	char *uuid = db_new_uuid(), *nloc = NULL;
	/* chains change only under this lock, the GC included */
	pthread_mutex_lock(&sr_chain_lock);
	if (err) {
	} else if (!c.drv->vdi_clone) {
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, sr_ref, NULL);
	} else if (!(err = c.drv->vdi_clone(&c.ctx, location, uuid, size,
					     vm_uuid[0] ? &live : NULL, &nloc)) &&
		   cbt.on && !vm_uuid[0]) {
		const char *fmt;
		char *top = c.drv->vdi_path(&c.ctx, location, &fmt);
		sr_cbt_after_offline(&cbt, top);
		free(top);
	}
	if (!err) {
		struct db_txn *t = db_txn_begin();
		const struct db_row *src = db_get(DMC_VDI, vdi_ref);
		struct db_row *n = db_txn_create(t, DMC_VDI, NULL, uuid);
		const struct dm_class *k = &dm_classes[DMC_VDI];
		for (size_t i = 0; src && i < k->nfields; i++) {
			if ((int)i == k->f_uuid || i == DMF_VDI_VBDs ||
			    i == DMF_VDI_snapshots || i == DMF_VDI_crash_dumps ||
			    i == DMF_VDI_current_operations)
				continue;
			db_txn_set(t, n, (int)i, dmv_copy(k->fields[i].type, src->f[i]));
		}
		/* each layer's own bytes: the data went into the shared base */
		db_txn_set(t, n, DMF_VDI_physical_utilisation,
			   (union dm_val){.i = c.drv->vdi_used(&c.ctx, nloc)});
		struct db_row *sw = db_txn_edit(t, DMC_VDI, vdi_ref);
		if (sw)
			db_txn_set(t, sw, DMF_VDI_physical_utilisation,
				   (union dm_val){.i = c.drv->vdi_used(&c.ctx, location)});
		db_txn_set(t, n, DMF_VDI_location, (union dm_val){.s = nloc});
		nloc = NULL;
		db_txn_set(t, n, DMF_VDI_is_a_snapshot, (union dm_val){.b = snapshot});
		db_txn_set(t, n, DMF_VDI_snapshot_of,
			   (union dm_val){.s = xstrdup(snapshot ? vdi_ref : DM_NULL_REF)});
		if (snapshot)
			db_txn_set(t, n, DMF_VDI_snapshot_time,
				   (union dm_val){.i = (int64_t)time(NULL)});
		if (pending)
			sr_map_put(t, n, DMF_VDI_sm_config, SR_PENDING_KEY, pending);
		sr_cbt_record(t, vdi_ref, n, &cbt);
		char *ref = xstrdup(n->ref);
		err = sr_commit_space(t, &c);
		if (err)
			free(ref);
		else
			*out = ref;
	}
	pthread_mutex_unlock(&sr_chain_lock);
	sr_cbt_end(&cbt, !err);
	free(nloc);
	free(uuid);
	free(location);
	free(sr_ref);
	sr_call_clear(&c);
	return err;
}

static struct api_err *
sr_api_vdi_clone(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	char *ref = NULL;
	(void)nargs;
	bool snap = strcmp(ctx->msg->name, "snapshot") == 0;
	/* xapi: snapshot and copy of an on_boot=reset VDI are refused, clone
	 * not */
	struct api_err *err =
	    snap ? sr_vdi_assert_persistent(args[0]->u.s) : NULL;
	if (!err)
		err = sr_vdi_clone(args[0]->u.s, snap, NULL, &ref);
	if (!err)
		*result = xv_str_own(ref);
	return err;
}

/* GC callbacks: which locations are VDIs, and which of those a running VM
 * writes to now (the read lock is held around the GC). */
static bool
sr_gc_known(void *ctx, const char *location)
{
	const char *sr_ref = ctx;
	size_t n;
	bool found = false;
	db_rdlock();
	struct db_row **v = db_list(DMC_VDI, &n);
	for (size_t i = 0; i < n && !found; i++)
		found = strcmp(v[i]->f[DMF_VDI_SR].s, sr_ref) == 0 &&
			strcmp(v[i]->f[DMF_VDI_location].s, location) == 0;
	free(v);
	db_unlock();
	return found;
}

static bool
sr_gc_busy(void *ctx, const char *location)
{
	const char *sr_ref = ctx;
	size_t n;
	bool busy = false;
	db_rdlock();
	struct db_row **v = db_list(DMC_VDI, &n);
	for (size_t i = 0; i < n && !busy; i++) {
		if (strcmp(v[i]->f[DMF_VDI_SR].s, sr_ref) != 0 ||
		    strcmp(v[i]->f[DMF_VDI_location].s, location) != 0)
			continue;
		const struct dm_coll *b = v[i]->f[DMF_VDI_VBDs].c;
		for (size_t k = 0; b && k < b->n; k++) {
			struct db_row *vbd = db_get(DMC_VBD, b->v[k].s);
			busy = busy || sr_vbd_live(vbd);
		}
	}
	free(v);
	db_unlock();
	return busy;
}

static int (*sr_stream_ops)(const char *uuid, const char *id, char **err);

void
sr_set_live_stream(int (*fn)(const char *uuid, const char *id, char **err))
{
	sr_stream_ops = fn;
}

/* The VM writing to the VDI at location streams its chain into it. */
static int
sr_gc_live(void *ctx, const char *location)
{
	const char *sr_ref = ctx;
	char uuid[37] = "", id[16] = "";
	size_t n;
	if (!sr_stream_ops)
		return -1;
	db_rdlock();
	struct db_row **v = db_list(DMC_VDI, &n);
	for (size_t i = 0; i < n && !uuid[0]; i++) {
		if (strcmp(v[i]->f[DMF_VDI_SR].s, sr_ref) != 0 ||
		    strcmp(v[i]->f[DMF_VDI_location].s, location) != 0)
			continue;
		const struct dm_coll *b = v[i]->f[DMF_VDI_VBDs].c;
		for (size_t k = 0; b && k < b->n; k++) {
			struct db_row *vbd = db_get(DMC_VBD, b->v[k].s);
			struct db_row *vm = vbd ? db_get(DMC_VM, vbd->f[DMF_VBD_VM].s) : NULL;
			if (!vbd || !vm || !sr_vbd_live(vbd) ||
			    strcmp(vm->f[DMF_VM_resident_on].s, sr_host ? sr_host : "") != 0)
				continue;
			snprintf(uuid, sizeof(uuid), "%s", vm->f[DMF_VM_uuid].s);
			snprintf(id, sizeof(id), "vbd%d", atoi(vbd->f[DMF_VBD_userdevice].s));
		}
	}
	free(v);
	db_unlock();
	if (!uuid[0])
		return -1;
	char *msg = NULL;
	int rc = sr_stream_ops(uuid, id, &msg);
	if (rc < 0)
		log_warn("sr", "live coalesce of %s failed: %s", location, msg ? msg : "");
	free(msg);
	return rc;
}

/* Coalesces the SR's chains; serialised, as two GCs would race. */
void
sr_gc_run(struct sr_call *c)
{
	if (!c->drv->gc)
		return;
	pthread_mutex_lock(&sr_chain_lock);
	int removed = c->drv->gc(&c->ctx, sr_gc_known, sr_gc_busy, sr_gc_live, c->sr_ref);
	pthread_mutex_unlock(&sr_chain_lock);
	if (removed > 0)
		sr_space_refresh(c);
}

void
sr_coalesce(const char *sr_ref)
{
	struct sr_call c;
	struct api_err *err = sr_call_prepare(sr_ref, &c);
	if (err) {
		api_err_free(err);
		return;
	}
	sr_gc_run(&c);
	sr_call_clear(&c);
}

void
sr_clone_register(void)
{
	api_register("VDI.clone", sr_api_vdi_clone, 0);
	api_register("VDI.snapshot", sr_api_vdi_clone, 0);
}
