/*
 * migrate_offline: what a storage migration (migrate_send.c) moves besides
 * the disks a running VM writes, as xapi's migrate_send does: the VDIs of
 * the VM's snapshots and the suspend images (of a suspended VM and of its
 * snapshots), and every disk of a halted or suspended VM. All are copied
 * (migrate_copy.c), none is in use meanwhile. Where each goes follows
 * xapi's rules: the SR vdi_map names for it; else, for a snapshot's VDI,
 * the SR its snapshot_of goes to; else, for a suspend image, the pool's
 * suspend_image_SR or the destination's; else the pool's default SR; else
 * VDI_NOT_IN_MAP. A suspend image on an SR the destination sees stays.
 * Once copied, the snapshots' VBDs and the suspend_VDI fields point at the
 * copies, which keep what made them snapshots (is_a_snapshot,
 * snapshot_time, snapshot_of: the moved VDI's copy when that moved too),
 * and a suspend_SR the destination does not see is cleared
 * (intra_pool_fix_suspend_sr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/sr.h"
#include "util/xalloc.h"
#include "vm/migrate_int.h"

/* The SR an unmapped VDI goes to, or NULL (lock held). */
static const char *
moff_default_sr(const char *host, bool suspend)
{
	size_t n;
	struct db_row **pools = db_list(DMC_pool, &n);
	const char *sr = NULL;

	if (n && suspend &&
	    strcmp(pools[0]->f[DMF_pool_suspend_image_SR].s, DM_NULL_REF) != 0)
		sr = pools[0]->f[DMF_pool_suspend_image_SR].s;
	struct db_row *h = db_get(DMC_host, host);
	if (!sr && suspend && h &&
	    strcmp(h->f[DMF_host_suspend_image_sr].s, DM_NULL_REF) != 0)
		sr = h->f[DMF_host_suspend_image_sr].s;
	if (!sr && n &&
	    strcmp(pools[0]->f[DMF_pool_default_SR].s, DM_NULL_REF) != 0)
		sr = pools[0]->f[DMF_pool_default_SR].s;
	free(pools);
	return sr && db_get(DMC_SR, sr) ? sr : NULL;
}

/* Adds vdi (owner's VBD vbd, or owner's suspend image) to mv if it moves
 * (lock held). */
static struct api_err *
moff_add(struct mig_move *mv, size_t *cap, const char *vm, const char *host,
         const xv *vdi_map, const char *owner, const char *vbd,
         const char *vdi_ref)
{
	struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	const char *sr = NULL;
	const xv *to;

	if (!vdi)
		return NULL;
	for (size_t i = 0; i < mv->n; i++)
		if (strcmp(mv->d[i].vdi, vdi_ref) == 0)
			return NULL; /* already there (shared by two VBDs) */
	if (!vbd && mig_host_sees(host, vdi->f[DMF_VDI_SR].s))
		return NULL; /* a suspend image the destination sees stays */
	if ((to = vdi_map ? xv_get(vdi_map, vdi_ref) : NULL) &&
	    to->type == XV_STRING)
		sr = to->u.s;
	else if ((to = vdi_map ? xv_get(vdi_map, vdi->f[DMF_VDI_snapshot_of].s)
	                       : NULL) &&
	         to->type == XV_STRING)
		sr = to->u.s;
	else
		sr = moff_default_sr(host, !vbd);
	if (!sr)
		return api_error(XE_VDI_NOT_IN_MAP, vdi_ref, NULL);
	if (!db_get(DMC_SR, sr))
		return api_error(XE_HANDLE_INVALID, "SR", sr, NULL);
	if (strcmp(sr, vdi->f[DMF_VDI_SR].s) == 0)
		return NULL; /* stays */
	if (!mig_host_sees(host, sr))
		return api_error(XE_VM_REQUIRES_SR, vm, sr, NULL);
	if (vdi->f[DMF_VDI_cbt_enabled].b)
		return api_error(XE_VDI_CBT_ENABLED, vdi_ref, NULL);
	if (mv->n + 1 >= *cap) {
		*cap = 2 * *cap + 4;
		mv->d = xrealloc(mv->d, *cap * sizeof(*mv->d));
	}
	struct mig_disk *d = &mv->d[mv->n++];
	memset(d, 0, sizeof(*d));
	d->vdi = xstrdup(vdi_ref);
	d->sr = xstrdup(sr);
	d->vbd = vbd ? xstrdup(vbd) : NULL;
	d->owner = xstrdup(owner);
	d->copy = true;
	return NULL;
}

struct api_err *
mig_offline_plan(const char *vm, const char *host, const xv *vdi_map,
                 struct mig_move *mv)
{
	struct api_err *err = NULL;
	size_t cap = mv->n + 1;

	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	const struct dm_coll *snaps = r ? r->f[DMF_VM_snapshots].c : NULL;
	/* the VM's suspend image, then its snapshots' disks and images */
	if (r && strcmp(r->f[DMF_VM_power_state].s, "Suspended") == 0)
		err = moff_add(mv, &cap, vm, host, vdi_map, vm, NULL,
		               r->f[DMF_VM_suspend_VDI].s);
	for (size_t i = 0; snaps && i < snaps->n && !err; i++) {
		struct db_row *s = db_get(DMC_VM, snaps->v[i].s);
		const struct dm_coll *b = s ? s->f[DMF_VM_VBDs].c : NULL;
		for (size_t k = 0; b && k < b->n && !err; k++) {
			struct db_row *vbd = db_get(DMC_VBD, b->v[k].s);
			if (!vbd || vbd->f[DMF_VBD_empty].b ||
			    strcmp(vbd->f[DMF_VBD_type].s, "CD") == 0)
				continue;
			err = moff_add(mv, &cap, vm, host, vdi_map, s->ref,
			               vbd->ref, vbd->f[DMF_VBD_VDI].s);
		}
		if (!err && s &&
		    strcmp(s->f[DMF_VM_suspend_VDI].s, DM_NULL_REF) != 0)
			err = moff_add(mv, &cap, vm, host, vdi_map, s->ref,
			               NULL, s->f[DMF_VM_suspend_VDI].s);
	}
	db_unlock();
	return err;
}

/* The copy of VDI ref in mv, or NULL. */
static const char *
moff_new(const struct mig_move *mv, const char *ref)
{
	for (size_t i = 0; i < mv->n; i++)
		if (mv->d[i].new_vdi && strcmp(mv->d[i].vdi, ref) == 0)
			return mv->d[i].new_vdi;
	return NULL;
}

struct api_err *
mig_offline_record(const char *vm, const char *host, const struct mig_move *mv,
                   bool all)
{
	struct db_txn *t = db_txn_begin();

	for (size_t i = 0; i < mv->n; i++) {
		const struct mig_disk *d = &mv->d[i];
		/* a running VM's own disks: the destination recorded them */
		if (!all && strcmp(d->owner, vm) == 0 && d->vbd)
			continue;
		struct db_row *old = db_get(DMC_VDI, d->vdi);
		struct db_row *n = db_txn_edit(t, DMC_VDI, d->new_vdi);
		if (!old || !n) {
			db_txn_abort(t);
			return api_internal("VDI %s is gone",
			                    old ? d->new_vdi : d->vdi);
		}
		sr_map_put(t, n, DMF_VDI_sm_config, SR_PENDING_KEY, NULL);
		if (old->f[DMF_VDI_is_a_snapshot].b) {
			const char *of = old->f[DMF_VDI_snapshot_of].s;
			const char *nof = moff_new(mv, of);
			db_txn_set(t, n, DMF_VDI_is_a_snapshot,
			           (union dm_val){.b = true});
			db_txn_set(t, n, DMF_VDI_snapshot_time,
			           (union dm_val){
			               .i = old->f[DMF_VDI_snapshot_time].i});
			db_txn_set(
			    t, n, DMF_VDI_snapshot_of,
			    (union dm_val){.s = xstrdup(nof ? nof : of)});
		}
		if (d->vbd) {
			struct db_row *b = db_txn_edit(t, DMC_VBD, d->vbd);
			if (b)
				db_txn_set(
				    t, b, DMF_VBD_VDI,
				    (union dm_val){.s = xstrdup(d->new_vdi)});
		} else {
			struct db_row *o = db_txn_edit(t, DMC_VM, d->owner);
			if (o)
				db_txn_set(
				    t, o, DMF_VM_suspend_VDI,
				    (union dm_val){.s = xstrdup(d->new_vdi)});
		}
	}
	/* intra_pool_fix_suspend_sr, for the VM and its snapshots */
	struct db_row *r = db_get(DMC_VM, vm);
	const struct dm_coll *snaps = r ? r->f[DMF_VM_snapshots].c : NULL;
	size_t ns = r ? 1 + (snaps ? snaps->n : 0) : 0;
	for (size_t i = 0; i < ns; i++) {
		const char *ref = i == 0 ? vm : snaps->v[i - 1].s;
		struct db_row *s = db_get(DMC_VM, ref);
		if (!s || strcmp(s->f[DMF_VM_suspend_SR].s, DM_NULL_REF) == 0 ||
		    mig_host_sees(host, s->f[DMF_VM_suspend_SR].s))
			continue;
		struct db_row *w = db_txn_edit(t, DMC_VM, ref);
		db_txn_set(t, w, DMF_VM_suspend_SR,
		           (union dm_val){.s = xstrdup(DM_NULL_REF)});
	}
	return api_commit(t);
}
