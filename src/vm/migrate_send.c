/*
 * migrate_send: storage live migration within the pool (xapi's
 * xapi_vm_migrate.ml migrate_send / assert_can_migrate and
 * Host.migrate_receive): a running VM moves to another host and the disks
 * named in vdi_map move with it to SRs that host sees.
 *
 * Host.migrate_receive(host, network, options) gives the map a later
 * VM.migrate_send names its destination with (xapi's keys: "host",
 * "session_id", "master", "xenops", "SM"). VM.migrate_send runs on the host
 * the VM runs on (pool_route.c sends it there). It checks as xapi does
 * (every disk's VDI in vdi_map: VDI_NOT_IN_MAP; no VIF mapping within a
 * pool; the destination enabled, sees the target SRs (VM_REQUIRES_SR) and
 * every VIF's network (VM_REQUIRES_NETWORK), has the memory; no CBT on a
 * moving VDI), marks the operation, then:
 *   1. makes an empty VDI of the same size on the target SR for every disk
 *      that moves (VDI.create run by the destination, marked
 *      sm_config:xapid-pending so that a crash leaves nothing behind);
 *   2. moves the VM (migrate.c mig_run): the destination's QEMU serves those
 *      VDIs, this host's QEMU mirrors each disk into them while the guest
 *      runs, then the memory goes and at the switch-over the mirrors copy
 *      what is left;
 *   3. the destination points the VM's VBDs at the new VDIs (which lose
 *      their pending mark) and the VM at itself in one transaction before it
 *      runs the VM (migrate_end.c); the source then destroys its VDIs (as
 *      xapi's SXM does).
 * A failure before 3 leaves the VM running here with its disks untouched,
 * and the VDIs made in 1 are destroyed again (or, if the destination died,
 * by its recovery when it comes back): VM_MIGRATE_FAILED.
 * The VDIs of the VM's snapshots and its suspend image are copied before
 * the move, not mirrored, as xapi does (migrate_copy.c), and so is every
 * disk of a halted or suspended VM, which does not move itself
 * (migrate_offline.c: xapi's rules for where each goes, and the records
 * after). A halted VM's copies are made by a member that sees the VDIs
 * (the call goes there).
 * Not done yet: read-only disks of a running VM (xapi copies them; the
 * copy works, but the source QEMU aborted at the switch-over once with
 * one attached: refused until understood), other pools; CDs are left in
 * (xapi ejects the moving ones).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/dmval.h"
#include "pool/pool.h"
#include "storage/sr.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/host_ops.h"
#include "vm/migrate_int.h"

#define MSEND_PENDING "migrate"
/* xapi_vm_lifecycle.ml: migrate_send -> [Halted; Suspended; Running] */
#define MSEND_STATES "halted,suspended,running"

static void
msend_move_clear(struct mig_move *mv)
{
	for (size_t i = 0; i < mv->n; i++) {
		free(mv->d[i].vdi);
		free(mv->d[i].sr);
		free(mv->d[i].new_vdi);
		free(mv->d[i].vbd);
		free(mv->d[i].owner);
	}
	free(mv->d);
	mv->d = NULL;
	mv->n = 0;
}

/* True when host has sr plugged. Lock held. */
bool
mig_host_sees(const char *host, const char *sr_ref)
{
	struct db_row *sr = db_get(DMC_SR, sr_ref);
	const struct dm_coll *p = sr ? sr->f[DMF_SR_PBDs].c : NULL;

	for (size_t i = 0; p && i < p->n; i++) {
		struct db_row *pbd = db_get(DMC_PBD, p->v[i].s);
		if (pbd && strcmp(pbd->f[DMF_PBD_host].s, host) == 0 &&
		    pbd->f[DMF_PBD_currently_attached].b)
			return true;
	}
	return false;
}

/* The destination host named by a Host.migrate_receive map (malloc'd), or
 * NULL with *err: another pool is not reachable from here. */
static char *
msend_dest_host(const xv *dest, struct api_err **err)
{
	const xv *h =
	    dest && dest->type == XV_STRUCT ? xv_get(dest, "host") : NULL;
	char *host = NULL;

	db_rdlock();
	if (h && h->type == XV_STRING && db_get(DMC_host, h->u.s))
		host = xstrdup(h->u.s);
	db_unlock();
	if (!host)
		*err = api_error(XE_VM_MIGRATE_CONTACT_REMOTE_SERVICE_FAILED,
		                 NULL);
	return host;
}

/* xapi's checks of an intra-pool migrate_send, and the disks that move
 * (a VDI mapped to the SR it is on stays). Fills *mv. */
static struct api_err *
msend_plan(const char *vm, const char *host, const xv *vdi_map,
           const xv *vif_map, const xv *options, struct mig_move *mv)
{
	struct api_err *err = NULL;
	const xv *copy = options && options->type == XV_STRUCT
	                     ? xv_get(options, "copy")
	                     : NULL;

	memset(mv, 0, sizeof(*mv));
	if (copy && copy->type == XV_STRING && strcmp(copy->u.s, "true") == 0)
		return api_error(
		    XE_OPERATION_NOT_ALLOWED,
		    "Copy mode is disallowed on intra pool storage migration, "
		    "try "
		    "efficient alternatives, for example, VM.copy/clone.",
		    NULL);
	if (vif_map && vif_map->type == XV_STRUCT && vif_map->u.st.n)
		return api_error(XE_OPERATION_NOT_ALLOWED,
		                 "VIF mapping is not allowed for intra-pool "
		                 "migration -all VIFs "
		                 "must be on the same network",
		                 NULL);
	xv *skip = xv_struct();
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	const struct dm_coll *b = r ? r->f[DMF_VM_VBDs].c : NULL;
	if (!r)
		err = api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	else if (strcmp(r->f[DMF_VM_power_state].s, "Running") != 0 &&
	         strcmp(r->f[DMF_VM_power_state].s, "Halted") != 0 &&
	         strcmp(r->f[DMF_VM_power_state].s, "Suspended") != 0)
		err = vm_bad_power_state(vm, MSEND_STATES,
		                         r->f[DMF_VM_power_state].s);
	bool running = r && strcmp(r->f[DMF_VM_power_state].s, "Running") == 0;
	mv->d = xcalloc((b ? b->n : 0) + 1, sizeof(*mv->d));
	for (size_t i = 0; b && i < b->n && !err; i++) {
		struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		if (!vbd || vbd->f[DMF_VBD_empty].b ||
		    strcmp(vbd->f[DMF_VBD_type].s, "CD") == 0)
			continue;
		struct db_row *vdi = db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s);
		/* the per-boot overlays of on_boot=reset disks are host-local */
		if (vdi && strcmp(vdi->f[DMF_VDI_on_boot].s, "reset") == 0) {
			err = api_error(
			    XE_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION, NULL);
			break;
		}
		const xv *to =
		    vdi_map ? xv_get(vdi_map, vbd->f[DMF_VBD_VDI].s) : NULL;
		if (!vdi)
			continue;
		if (!to || to->type != XV_STRING) {
			err = api_error(XE_VDI_NOT_IN_MAP, vdi->ref, NULL);
			break;
		}
		if (!db_get(DMC_SR, to->u.s)) {
			err = api_error(XE_HANDLE_INVALID, "SR", to->u.s, NULL);
			break;
		}
		if (strcmp(to->u.s, vdi->f[DMF_VDI_SR].s) == 0)
			continue; /* stays: the destination must see it (below)
			           */
		if (!mig_host_sees(host, to->u.s)) {
			err = api_error(XE_VM_REQUIRES_SR, vm, to->u.s, NULL);
			break;
		}
		if (vdi->f[DMF_VDI_cbt_enabled].b) {
			err = api_error(XE_VDI_CBT_ENABLED, vdi->ref, NULL);
			break;
		}
		/* xapi copies a running VM's read-only disks instead of
		 * mirroring them; here the source QEMU aborted at the
		 * switch-over once with one attached: still refused */
		if (running && strcmp(vbd->f[DMF_VBD_mode].s, "RO") == 0) {
			err = api_error(XE_OPERATION_NOT_ALLOWED,
			                "read-only disks cannot move with a "
			                "storage migration",
			                NULL);
			break;
		}
		struct mig_disk *d = &mv->d[mv->n++];
		d->copy = !running;
		d->owner = xstrdup(vm);
		d->vdi = xstrdup(vdi->ref);
		d->sr = xstrdup(to->u.s);
		d->vbd = xstrdup(vbd->ref);
		snprintf(d->id, sizeof(d->id), "vbd%d",
		         atoi(vbd->f[DMF_VBD_userdevice].s));
		xv_set(skip, vdi->ref, xv_str(to->u.s));
	}
	db_unlock();
	if (!err)
		err = mig_offline_plan(vm, host, vdi_map, mv);
	for (size_t i = 0; !err && i < mv->n; i++)
		xv_set(skip, mv->d[i].vdi, xv_str(mv->d[i].sr));
	/* xapi: assert_can_boot_here whatever the power state; the checks of
	 * a live move for a running VM */
	if (!err)
		err = running ? host_assert_can_migrate(vm, host, skip)
		              : host_assert_can_boot_here(vm, host, skip, true);
	xv_free(skip);
	if (err)
		msend_move_clear(mv);
	return err;
}

/* VM.assert_can_migrate(vm, dest, live, vdi_map, vif_map, options,
 * vgpu_map): dest is what Host.migrate_receive returned; within the pool
 * its "host" names the destination. */
static struct api_err *
msend_assert_api(struct api_ctx *ctx, xv *const *args, size_t nargs,
                 xv **result)
{
	struct api_err *err = NULL;
	struct mig_move mv;
	char *host;

	(void)ctx;
	(void)nargs;
	(void)result;
	if (!(host = msend_dest_host(args[1], &err)))
		return err;
	err = msend_plan(args[0]->u.s, host, args[3], args[4], args[5], &mv);
	msend_move_clear(&mv);
	free(host);
	return err;
}

/* Host.migrate_receive(host, network, options): where a migrate_send to
 * host goes, as xapi's map (intra-pool: the caller's session). */
static struct api_err *
msend_receive_api(struct api_ctx *ctx, xv *const *args, size_t nargs,
                  xv **result)
{
	const char *host = args[0]->u.s, *net = args[1]->u.s;
	char *addr = NULL, *master = NULL;
	struct api_err *err = NULL;

	(void)nargs;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	if (!h)
		err = api_error(XE_HANDLE_INVALID, "host", host, NULL);
	else if (!db_get(DMC_network, net))
		err = api_error(XE_HANDLE_INVALID, "network", net, NULL);
	else
		addr = xstrdup(h->f[DMF_host_address].s);
	size_t n;
	struct db_row **pools = db_list(DMC_pool, &n);
	struct db_row *m =
	    n ? db_get(DMC_host, pools[0]->f[DMF_pool_master].s) : NULL;
	master = xstrdup(m ? m->f[DMF_host_address].s : "");
	free(pools);
	db_unlock();
	if (!err) {
		const char *s = ctx->session ? ctx->session : "";
		*result = xv_struct();
		xv_set(*result, "host", xv_str(host));
		xv_set(*result, "session_id", xv_str(s));
		xv_set_own(*result, xstrdup("master"),
		           xv_str_own(xasprintf("http://%s/", master)));
		xv_set_own(
		    *result, xstrdup("xenops"),
		    xv_str_own(xasprintf(
		        "http://%s/services/xenops?session_id=%s", addr, s)));
		xv_set_own(
		    *result, xstrdup("SM"),
		    xv_str_own(xasprintf("http://%s/services/SM?session_id=%s",
		                         addr, s)));
	}
	free(addr);
	free(master);
	return err;
}

/* A VDI record for the copy of vdi on sr (lock held). */
static xv *
msend_vdi_rec(const struct db_row *vdi, const char *sr)
{
	const struct dm_class *k = &dm_classes[DMC_VDI];
	static const int keep[] = {
	    DMF_VDI_name_label,    DMF_VDI_name_description,
	    DMF_VDI_type,          DMF_VDI_sharable,
	    DMF_VDI_read_only,     DMF_VDI_other_config,
	    DMF_VDI_xenstore_data, DMF_VDI_tags,
	    DMF_VDI_virtual_size};
	xv *rec = xv_struct(), *sm = xv_struct();

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		xv_set(rec, k->fields[keep[i]].name,
		       dmv_to_xv(k->fields[keep[i]].type, vdi->f[keep[i]]));
	xv_set(rec, "SR", xv_str(sr));
	xv_set(sm, SR_PENDING_KEY, xv_str(MSEND_PENDING));
	xv_set(rec, "sm_config", sm);
	return rec;
}

/* Calls method(args...) on the destination with session sid. */
static struct api_err *
msend_call(const char *addr, const char *sid, const char *method, xv *args,
           xv **res)
{
	xv *p = xv_array();

	xv_push(p, xv_str(sid));
	for (size_t i = 0; args && i < args->u.a.n; i++)
		xv_push(p, xv_dup(args->u.a.items[i]));
	xv_free(args);
	struct api_err *e = pool_call(addr, method, p, res);
	xv_free(p);
	return e;
}

/* Removes the VDIs made at the destination (best effort: a dead
 * destination's recovery removes them when it is back). */
static void
msend_undo_vdis(const char *addr, const char *sid, struct mig_move *mv)
{
	for (size_t i = 0; i < mv->n; i++) {
		xv *res = NULL;
		if (!mv->d[i].new_vdi)
			continue;
		struct api_err *e = msend_call(
		    addr, sid, "VDI.destroy",
		    xv_push(xv_array(), xv_str(mv->d[i].new_vdi)), &res);
		if (e)
			log_warn("migrate",
			         "cannot remove %s at the destination: %s",
			         mv->d[i].new_vdi,
			         e->n ? e->params[e->n - 1] : e->code);
		api_err_free(e);
		xv_free(res);
		free(mv->d[i].new_vdi);
		mv->d[i].new_vdi = NULL;
	}
}

/* After a failed move: VBDs the destination pointed at the new VDIs (it
 * recorded the move, then could not run the VM) go back to the old ones,
 * before the new ones go. */
static void
msend_restore_vbds(const struct mig_move *mv)
{
	struct db_txn *t = db_txn_begin();
	bool any = false;

	for (size_t i = 0; i < mv->n; i++) {
		struct db_row *b = db_get(DMC_VBD, mv->d[i].vbd);
		if (!b || !mv->d[i].new_vdi ||
		    strcmp(b->f[DMF_VBD_VDI].s, mv->d[i].new_vdi) != 0)
			continue;
		b = db_txn_edit(t, DMC_VBD, mv->d[i].vbd);
		db_txn_set(t, b, DMF_VBD_VDI,
		           (union dm_val){.s = xstrdup(mv->d[i].vdi)});
		any = true;
	}
	if (any)
		api_err_free(api_commit(t));
	else
		db_txn_abort(t);
}

/* Step 1: the empty VDIs at the destination. */
static struct api_err *
msend_make_vdis(const char *addr, const char *sid, struct mig_move *mv)
{
	struct api_err *err = NULL;

	for (size_t i = 0; i < mv->n && !err; i++) {
		xv *rec = NULL, *res = NULL;
		db_rdlock();
		struct db_row *v = db_get(DMC_VDI, mv->d[i].vdi);
		if (v)
			rec = msend_vdi_rec(v, mv->d[i].sr);
		db_unlock();
		if (!rec)
			return api_error(XE_HANDLE_INVALID, "VDI", mv->d[i].vdi,
			                 NULL);
		err = msend_call(addr, sid, "VDI.create",
		                 xv_push(xv_array(), rec), &res);
		if (!err && res && res->type == XV_STRING)
			mv->d[i].new_vdi = xstrdup(res->u.s);
		else if (!err)
			err = api_internal(
			    "VDI.create at the destination gave no reference");
		xv_free(res);
	}
	return err;
}

/* The disks copied (read-only ones, snapshots', suspend images, all of a
 * halted VM's), before a live move, each under a key of its own. */
static struct api_err *
msend_copy_ro(const char *addr, const char *sid, const char *vm,
              const char *dest, const struct mig_move *mv)
{
	struct api_err *err = NULL;
	char key[65];

	for (size_t i = 0; i < mv->n && !err; i++) {
		if (!mv->d[i].copy)
			continue;
		if (mig_new_token(key) < 0)
			return mig_failed(vm, dest, "no random key");
		err = mig_copy_disk(addr, sid, vm, dest, key, &mv->d[i]);
	}
	return err;
}

/* A halted or suspended VM's copies are read where the VDIs that move are
 * seen: this host if it sees them all, else an enabled member that does
 * (malloc'd), or NULL: none does. */
static char *
msend_reader(const struct mig_move *mv)
{
	size_t nh;
	char *pick = NULL;

	db_rdlock();
	struct db_row **hosts = db_list(DMC_host, &nh);
	for (size_t k = 0; k <= nh && !pick; k++) {
		/* this host first */
		const char *h = k == 0 ? vm_cfg.host_ref : hosts[k - 1]->ref;
		struct db_row *hr = db_get(DMC_host, h);
		bool all = hr && (k == 0 || hr->f[DMF_host_enabled].b);
		for (size_t i = 0; all && i < mv->n; i++) {
			struct db_row *v = db_get(DMC_VDI, mv->d[i].vdi);
			all = v && mig_host_sees(h, v->f[DMF_VDI_SR].s);
		}
		if (all)
			pick = xstrdup(h);
	}
	free(hosts);
	db_unlock();
	return pick;
}

/* Removes the source's VDIs of what moved (as xapi's SXM does); own: only
 * the VM's own disks (its snapshots' VBDs still point at theirs). */
static void
msend_drop_old(const char *vm, const char *uuid, const struct mig_move *mv,
               bool own)
{
	for (size_t i = 0; i < mv->n; i++) {
		if (own && (!mv->d[i].vbd || strcmp(mv->d[i].owner, vm) != 0))
			continue;
		struct api_err *e = sr_vdi_delete(mv->d[i].vdi);
		if (e)
			log_warn("migrate",
			         "VM %s: cannot remove the old VDI %s: %s",
			         uuid, mv->d[i].vdi,
			         e->n > 1 ? e->params[1] : e->code);
		api_err_free(e);
	}
}

/* VM.migrate_send(vm, dest, live, vdi_map, vif_map, options, vgpu_map). */
static struct api_err *
msend_api(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *vm = args[0]->u.s;
	char uuid[37] = "", *here = NULL, *dest, *addr = NULL, *opid = NULL,
	     *sid = NULL, *reader = NULL;
	struct api_err *err = NULL;
	struct mig_move mv = {0};
	bool running = false;

	if (!(dest = msend_dest_host(args[1], &err)))
		return err;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r) {
		here = xstrdup(r->f[DMF_VM_resident_on].s);
		snprintf(uuid, sizeof(uuid), "%s", r->f[DMF_VM_uuid].s);
		running = strcmp(r->f[DMF_VM_power_state].s, "Running") == 0;
	}
	db_unlock();
	if (!r) {
		free(dest);
		return api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	}
	if ((err = msend_plan(vm, dest, args[3], args[4], args[5], &mv)))
		goto out;
	if (running && strcmp(here, vm_cfg.host_ref) != 0) {
		/* pool_route.c sends it where the VM runs; it does not run here
		 */
		err = api_error(XE_VM_NOT_RESIDENT_HERE, vm, vm_cfg.host_ref,
		                NULL);
		goto out;
	}
	if (running && strcmp(dest, vm_cfg.host_ref) == 0) {
		err = mig_failed(
		    vm, dest,
		    "storage migration to the same host is not supported");
		goto out;
	}
	if (!running && !(reader = msend_reader(&mv))) {
		err = api_error(XE_VM_REQUIRES_SR, vm,
		                mv.n ? mv.d[0].sr : DM_NULL_REF, NULL);
		goto out;
	}
	if (reader && strcmp(reader, vm_cfg.host_ref) != 0) {
		/* another member reads the VDIs that move */
		xv *a = xv_array();
		for (size_t i = 0; i < nargs; i++)
			xv_push(a, xv_dup(args[i]));
		err = pool_call_host(reader, "VM.migrate_send", a, result);
		xv_free(a);
		goto out;
	}
	if (!(addr = mig_host_address(dest))) {
		err = api_error(XE_HOST_OFFLINE, dest, NULL);
		goto out;
	}
	if ((err = vm_op_begin(vm, "migrate_send",
	                       running ? "running" : "halted,suspended", false,
	                       &opid)))
		goto out;
	if (!(sid = mig_session(addr, dest, &err)))
		goto end;
	log_info("migrate", "VM %s: storage migration to %s, %zu disk(s) move",
	         uuid, addr, mv.n);
	struct vm_migrate_stats st = {0};
	enum mig_outcome oc = MIG_STAYS;
	if (!(err = msend_make_vdis(addr, sid, &mv)))
		err = msend_copy_ro(addr, sid, vm, dest, &mv);
	if (!err && running)
		err = mig_run(vm, uuid, dest, addr, &mv, &st, &oc);
	else if (!err)
		err = mig_offline_record(vm, dest, &mv, true);
	if (err) {
		/* in doubt, the VM may run there on the new VDIs: they stay */
		if (oc != MIG_UNKNOWN) {
			msend_restore_vbds(&mv);
			msend_undo_vdis(addr, sid, &mv);
		}
		goto end;
	}
	if (running) {
		mig_note_task(ctx->task, &st);
		/* the destination recorded the VM's own VBDs on the new VDIs;
		 * its snapshots' and suspend images' records here */
		struct api_err *e = mig_offline_record(vm, dest, &mv, false);
		if (e)
			log_err("migrate",
			        "VM %s: its snapshots' VDIs stay: %s", uuid,
			        e->code);
		msend_drop_old(vm, uuid, &mv, e != NULL);
		api_err_free(e);
	} else {
		msend_drop_old(vm, uuid, &mv, false);
	}
	*result = xv_str(vm);
end:
	vm_op_end(vm, opid, NULL);
out:
	mig_logout(addr, sid);
	msend_move_clear(&mv);
	free(reader);
	free(opid);
	free(addr);
	free(here);
	free(dest);
	return err;
}

void
mig_send_register(void)
{
	api_register("VM.migrate_send", msend_api, 0);
	api_register("VM.assert_can_migrate", msend_assert_api, API_READONLY);
	api_register("host.migrate_receive", msend_receive_api, 0);
}
