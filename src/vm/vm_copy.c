/* vm_copy: VM.clone, VM.snapshot and VM.revert: copies of a VM's record
 * and devices, with copy-on-write copies of its disks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/sr.h"
#include "storage/sr_memimg.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/vm_int.h"

/* VM.clone / VM.snapshot: a copy of the record, its VIFs (new MACs), CD
 * VBDs, and copy-on-write clones of its disks (the VDIs must not be in use
 * by a running VM: live snapshots come with the storage work). */
/* The VM owns a disk made for it (a clone, snapshot or copy): its VBD says
 * so with other_config:owner, which vm-uninstall honours as xapi's does,
 * so that deleting a snapshot deletes its disks too. */
static void
vbd_set_owner(struct db_txn *t, struct db_row *vbd)
{
	const struct dm_type *ty = dm_classes[DMC_VBD].fields[DMF_VBD_other_config].type;
	union dm_val key = {.s = "owner"};
	const struct dm_coll *c = vbd->f[DMF_VBD_other_config].c;
	if (dmc_map_find(ty->a, c, key) >= 0)
		return;
	size_t n = c ? c->n : 0;
	struct dm_coll *nc = dmc_new(n + 1);
	for (size_t i = 0; i < 2 * n; i++)
		nc->v[i].s = xstrdup(c->v[i].s);
	nc->v[2 * n].s = xstrdup("owner");
	nc->v[2 * n + 1].s = xstrdup("true");
	db_txn_set(t, vbd, DMF_VBD_other_config, (union dm_val){.c = nc});
}

/* VM.checkpoint's memory image: written after the disk snapshots (the VM
 * is paused throughout, so both show the same moment) and before the
 * snapshot's record, which then holds it as its suspend_VDI. */
struct lc_mem {
	const char *uuid; /* the VM (backend) */
	const char *sr;   /* where the image goes */
	int64_t size;
	const char
	    *copy_of;     /* a suspended VM: its image, copied (no backend) */
	char *vdi;        /* out: the image's VDI */
};

static struct api_err *
lc_mem_save(struct lc_mem *mem)
{
	if (mem->copy_of)
		return sr_suspend_vdi_copy(mem->copy_of, &mem->vdi);
	char *msg = NULL;
	struct sr_memimg *img = NULL;
	struct api_err *err =
	    sr_suspend_vdi_create(mem->sr, mem->size, &mem->vdi);
	if (err)
		return err;
	if (!vm_cfg.backend->save) {
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, mem->sr, NULL);
	} else if (!(err = sr_memimg_open(mem->vdi, true, &img))) {
		int rc =
		    vm_cfg.backend->save(mem->uuid, sr_memimg_path(img), &msg);
		struct api_err *e = sr_memimg_close(img, rc == 0);
		if (rc < 0) {
			err = api_internal("VM checkpoint: memory image: %s",
			                   msg ? msg : "failed");
			api_err_free(e);
		} else {
			err = e;
		}
	}
	if (err) {
		sr_suspend_vdi_abandon(mem->vdi, img != NULL);
		free(mem->vdi);
		mem->vdi = NULL;
	}
	free(msg);
	return err;
}

static struct api_err *
lc_copy_vm(const char *vm, const char *name, bool snapshot, const char *copy_sr,
	   const xv *ignore, struct lc_mem *mem, xv **result)
{
	struct api_err *err = NULL;
	char **disk_vbd = NULL, **new_vdi = NULL;
	size_t ndisks = 0;

	/* the disks first: each clone is its own durable step */
	db_rdlock();
	const struct db_row *src = db_get(DMC_VM, vm);
	if (!src)
		err = api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	else if (!snapshot && strcmp(src->f[DMF_VM_power_state].s, "Halted") != 0)
		err = vm_bad_power_state(vm, "halted", src->f[DMF_VM_power_state].s);
	const struct dm_coll *c = src ? src->f[DMF_VM_VBDs].c : NULL;
	disk_vbd = xcalloc((c ? c->n : 0) + 1, sizeof(char *));
	new_vdi = xcalloc((c ? c->n : 0) + 1, sizeof(char *));
	for (size_t i = 0; !err && c && i < c->n; i++) {
		const struct db_row *b = db_get(DMC_VBD, c->v[i].s);
		if (!b || b->f[DMF_VBD_empty].b || strcmp(b->f[DMF_VBD_type].s, "CD") == 0)
			continue;
		bool skip = false;
		for (size_t k = 0; ignore && k < ignore->u.a.n; k++)
			skip = skip || strcmp(ignore->u.a.items[k]->u.s, b->f[DMF_VBD_VDI].s) == 0;
		if (skip)
			continue;
		disk_vbd[ndisks] = xstrdup(b->ref);
		new_vdi[ndisks++] = xstrdup(b->f[DMF_VBD_VDI].s); /* source for now */
	}
	db_unlock();
	for (size_t i = 0; !err && i < ndisks; i++) {
		char *nv = NULL;
		/* VM.copy: full copies into copy_sr; else copy-on-write */
		err = copy_sr ? sr_vdi_copy(new_vdi[i], copy_sr, NULL, &nv)
			      : sr_vdi_clone(new_vdi[i], snapshot, snapshot ? "snapshot" : "clone",
					     &nv);
		free(new_vdi[i]);
		new_vdi[i] = nv;
	}
	if (!err && mem)
		err = lc_mem_save(mem);
	if (err)
		goto out;

	struct db_txn *t = db_txn_begin();
	src = db_get(DMC_VM, vm);
	if (!src) {
		db_txn_abort(t);
		err = api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
		goto out;
	}
	struct db_row *n = db_txn_create(t, DMC_VM, NULL, NULL);
	char *nref = xstrdup(n->ref);
	const struct dm_class *k = &dm_classes[DMC_VM];
	for (size_t i = 0; i < k->nfields; i++) {
		if ((int)i == k->f_uuid || i == DMF_VM_VBDs || i == DMF_VM_VIFs ||
		    i == DMF_VM_consoles || i == DMF_VM_metrics ||
		    i == DMF_VM_guest_metrics || i == DMF_VM_snapshots ||
		    i == DMF_VM_children || i == DMF_VM_current_operations ||
		    i == DMF_VM_is_default_template || i == DMF_VM_suspend_VDI)
			continue;
		db_txn_set(t, n, (int)i, dmv_copy(k->fields[i].type, src->f[i]));
	}
	db_txn_set(t, n, DMF_VM_name_label, (union dm_val){.s = xstrdup(name)});
	if (snapshot) {
		db_txn_set(t, n, DMF_VM_is_a_snapshot, (union dm_val){.b = true});
		db_txn_set(t, n, DMF_VM_is_a_template, (union dm_val){.b = true});
		db_txn_set(t, n, DMF_VM_snapshot_of, (union dm_val){.s = xstrdup(vm)});
		db_txn_set(t, n, DMF_VM_snapshot_time, (union dm_val){.i = (int64_t)time(NULL)});
		vm_set_power(t, n, mem ? "Suspended" : "Halted");
		if (mem)
			db_txn_set(t, n, DMF_VM_suspend_VDI, (union dm_val){.s = xstrdup(mem->vdi)});
	} else {
		db_txn_set(t, n, DMF_VM_parent, (union dm_val){.s = xstrdup(vm)});
	}
	db_txn_set(t, n, DMF_VM_allowed_operations,
		   (union dm_val){.c = vm_allowed_ops("Halted", n->f[DMF_VM_is_a_template].b)});
	struct db_row *m = db_txn_create(t, DMC_VM_metrics, NULL, NULL);
	db_txn_set(t, n, DMF_VM_metrics, (union dm_val){.s = xstrdup(m->ref)});
	c = src->f[DMF_VM_VBDs].c;
	for (size_t i = 0; c && i < c->n; i++) {
		const struct db_row *b = db_get(DMC_VBD, c->v[i].s);
		const char *vdi = NULL;
		if (!b)
			continue;
		bool disk = !b->f[DMF_VBD_empty].b && strcmp(b->f[DMF_VBD_type].s, "CD") != 0;
		for (size_t d = 0; d < ndisks; d++)
			if (strcmp(disk_vbd[d], b->ref) == 0)
				vdi = new_vdi[d];
		if (disk && !vdi)
			continue; /* an ignored disk */
		struct db_row *nb = db_txn_create(t, DMC_VBD, NULL, NULL);
		for (size_t f = 0; f < dm_classes[DMC_VBD].nfields; f++)
			if ((int)f != dm_classes[DMC_VBD].f_uuid)
				db_txn_set(t, nb, (int)f, dmv_copy(dm_classes[DMC_VBD].fields[f].type, b->f[f]));
		db_txn_set(t, nb, DMF_VBD_VM, (union dm_val){.s = xstrdup(nref)});
		if (vdi) {
			db_txn_set(t, nb, DMF_VBD_VDI, (union dm_val){.s = xstrdup(vdi)});
			vbd_set_owner(t, nb);
			struct db_row *nvdi = db_txn_edit(t, DMC_VDI, vdi);
			if (nvdi) /* the snapshot is whole: no longer pending */
				sr_map_put(t, nvdi, DMF_VDI_sm_config, SR_PENDING_KEY, NULL);
		}
		if (!mem) { /* a checkpoint's devices are those its memory knows */
			db_txn_set(t, nb, DMF_VBD_currently_attached, (union dm_val){.b = false});
			db_txn_set(t, nb, DMF_VBD_device, (union dm_val){.s = xstrdup("")});
		}
	}
	c = src->f[DMF_VM_VIFs].c;
	for (size_t i = 0; c && i < c->n; i++) {
		const struct db_row *v = db_get(DMC_VIF, c->v[i].s);
		if (!v)
			continue;
		struct db_row *nv = db_txn_create(t, DMC_VIF, NULL, NULL);
		for (size_t f = 0; f < dm_classes[DMC_VIF].nfields; f++)
			if ((int)f != dm_classes[DMC_VIF].f_uuid)
				db_txn_set(t, nv, (int)f, dmv_copy(dm_classes[DMC_VIF].fields[f].type, v->f[f]));
		db_txn_set(t, nv, DMF_VIF_VM, (union dm_val){.s = xstrdup(nref)});
		if (!snapshot)
			db_txn_set(t, nv, DMF_VIF_MAC, (union dm_val){.s = vif_random_mac()});
		if (!mem)
			db_txn_set(t, nv, DMF_VIF_currently_attached, (union dm_val){.b = false});
	}
	if (!(err = api_commit(t))) {
		*result = xv_str(nref);
		log_info("vm", "%s %s as %s", snapshot ? "snapshot of" : "clone of", vm, nref);
		ndisks = 0; /* the new VDIs belong to the new VM */
	}
	free(nref);
out:
	for (size_t i = 0; i < ndisks; i++) /* undo the disk clones */
		if (new_vdi[i] && err)
			api_err_free(sr_vdi_delete(new_vdi[i]));
	if (err && mem && mem->vdi) {
		api_err_free(sr_vdi_delete(mem->vdi));
		free(mem->vdi);
		mem->vdi = NULL;
	}
	for (size_t i = 0; disk_vbd && disk_vbd[i]; i++)
		free(disk_vbd[i]);
	for (size_t i = 0; new_vdi && new_vdi[i]; i++)
		free(new_vdi[i]);
	free(disk_vbd);
	free(new_vdi);
	return err;
}

/* The VM's VIFs are attached as the checkpoint's were (same device). */
static void
lc_revert_vifs(struct db_txn *t, const struct db_row *vm, const struct db_row *snap)
{
	const struct dm_coll *c = vm->f[DMF_VM_VIFs].c, *sc = snap->f[DMF_VM_VIFs].c;
	for (size_t i = 0; c && i < c->n; i++) {
		struct db_row *v = db_txn_edit(t, DMC_VIF, c->v[i].s);
		bool att = false;
		for (size_t k = 0; v && sc && k < sc->n; k++) {
			const struct db_row *sv = db_get(DMC_VIF, sc->v[k].s);
			att = att || (sv && sv->f[DMF_VIF_currently_attached].b &&
				      strcmp(sv->f[DMF_VIF_device].s, v->f[DMF_VIF_device].s) == 0);
		}
		if (v)
			db_txn_set(t, v, DMF_VIF_currently_attached, (union dm_val){.b = att});
	}
}

/* The revert's one commit: configuration, disk VBDs swapped, the old disks
 * marked for removal (sr_recover finishes it after a crash), and for a
 * checkpoint its memory image and power state Suspended. */
static struct api_err *
lc_revert_commit(const char *vm, const char *snap, char **svbd, char **new_vdi, size_t ns,
		 char **old_vdi, size_t nold, const char *susp)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *w = db_txn_edit(t, DMC_VM, vm);
	const struct db_row *sr = db_get(DMC_VM, snap);
	if (!w || !sr) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "VM", w ? snap : vm, NULL);
	}
	static const int keep[] = {
		DMF_VM_memory_static_max, DMF_VM_memory_dynamic_max,
		DMF_VM_memory_dynamic_min, DMF_VM_memory_static_min,
		DMF_VM_VCPUs_max, DMF_VM_VCPUs_at_startup, DMF_VM_VCPUs_params,
		DMF_VM_PV_kernel, DMF_VM_PV_ramdisk, DMF_VM_PV_args,
		DMF_VM_HVM_boot_params, DMF_VM_platform, DMF_VM_other_config};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		db_txn_set(t, w, keep[i], dmv_copy(dm_classes[DMC_VM].fields[keep[i]].type, sr->f[keep[i]]));
	/* the VM's current disk VBDs go; the snapshot's come back */
	const struct dm_coll *c = w->f[DMF_VM_VBDs].c;
	for (size_t i = 0; c && i < c->n; i++) {
		const struct db_row *b = db_get(DMC_VBD, c->v[i].s);
		if (b && !b->f[DMF_VBD_empty].b && strcmp(b->f[DMF_VBD_type].s, "CD") != 0)
			db_txn_destroy(t, DMC_VBD, b->ref);
	}
	for (size_t i = 0; i < ns; i++) {
		const struct db_row *b = db_get(DMC_VBD, svbd[i]);
		if (!b)
			continue;
		struct db_row *nb = db_txn_create(t, DMC_VBD, NULL, NULL);
		for (size_t f = 0; f < dm_classes[DMC_VBD].nfields; f++)
			if ((int)f != dm_classes[DMC_VBD].f_uuid)
				db_txn_set(t, nb, (int)f, dmv_copy(dm_classes[DMC_VBD].fields[f].type, b->f[f]));
		db_txn_set(t, nb, DMF_VBD_VM, (union dm_val){.s = xstrdup(vm)});
		db_txn_set(t, nb, DMF_VBD_VDI, (union dm_val){.s = xstrdup(new_vdi[i])});
		vbd_set_owner(t, nb);
		struct db_row *nv = db_txn_edit(t, DMC_VDI, new_vdi[i]);
		if (nv)
			sr_map_put(t, nv, DMF_VDI_sm_config, SR_PENDING_KEY, NULL);
	}
	for (size_t i = 0; i < nold; i++) {
		struct db_row *ov = db_txn_edit(t, DMC_VDI, old_vdi[i]);
		if (ov)
			sr_map_put(t, ov, DMF_VDI_sm_config, SR_PENDING_KEY, "revert-old");
	}
	if (susp) {
		vm_set_power(t, w, "Suspended");
		db_txn_set(t, w, DMF_VM_suspend_VDI, (union dm_val){.s = xstrdup(susp)});
		lc_revert_vifs(t, w, sr);
	}
	return api_commit(t);
}

/* VM.revert(snapshot): the VM (shut down first, as xapi does) gets clones
 * of the snapshot's disks and its configuration back; its current disks
 * go. A checkpoint's memory image comes too: the VM is then Suspended at
 * that moment, and VM.resume carries on from there. */
static struct api_err *
lc_revert(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *snap = args[0]->u.s;
	char *vm = NULL, **svdi = NULL, **svbd = NULL, **old_vdi = NULL, *opid = NULL;
	char *ssusp = NULL, *susp = NULL;
	size_t ns = 0, nold = 0;
	struct api_err *err = NULL;
	bool halted = true;
	(void)ctx;
	(void)nargs;
	(void)result;

	db_rdlock();
	const struct db_row *s = db_get(DMC_VM, snap);
	const struct db_row *v = s ? db_get(DMC_VM, s->f[DMF_VM_snapshot_of].s) : NULL;
	if (!s || !s->f[DMF_VM_is_a_snapshot].b)
		err = api_error(XE_HANDLE_INVALID, "VM", snap, NULL);
	else if (!v)
		err = api_error(XE_HANDLE_INVALID, "VM", s->f[DMF_VM_snapshot_of].s, NULL);
	if (!err) {
		vm = xstrdup(v->ref);
		halted = strcmp(v->f[DMF_VM_power_state].s, "Halted") == 0;
	}
	db_unlock();
	if (!err && !halted)
		err = vm_hard_shutdown(vm);
	if (!err)
		err = vm_op_begin(vm, "reverting", "halted", false, &opid);
	if (err) {
		free(vm);
		return err;
	}
	db_rdlock();
	s = db_get(DMC_VM, snap);
	v = db_get(DMC_VM, vm);
	const struct dm_coll *c = s ? s->f[DMF_VM_VBDs].c : NULL;
	svdi = xcalloc((c ? c->n : 0) + 1, sizeof(char *));
	svbd = xcalloc((c ? c->n : 0) + 1, sizeof(char *));
	for (size_t i = 0; c && i < c->n; i++) {
		const struct db_row *b = db_get(DMC_VBD, c->v[i].s);
		if (!b || b->f[DMF_VBD_empty].b || strcmp(b->f[DMF_VBD_type].s, "CD") == 0)
			continue;
		svbd[ns] = xstrdup(b->ref);
		svdi[ns++] = xstrdup(b->f[DMF_VBD_VDI].s);
	}
	if (s && strcmp(s->f[DMF_VM_power_state].s, "Suspended") == 0 &&
	    strcmp(s->f[DMF_VM_suspend_VDI].s, DM_NULL_REF) != 0)
		ssusp = xstrdup(s->f[DMF_VM_suspend_VDI].s);
	c = v ? v->f[DMF_VM_VBDs].c : NULL;
	old_vdi = xcalloc((c ? c->n : 0) + 1, sizeof(char *));
	for (size_t i = 0; c && i < c->n; i++) {
		const struct db_row *b = db_get(DMC_VBD, c->v[i].s);
		if (b && !b->f[DMF_VBD_empty].b && strcmp(b->f[DMF_VBD_type].s, "CD") != 0)
			old_vdi[nold++] = xstrdup(b->f[DMF_VBD_VDI].s);
	}
	db_unlock();
	char **new_vdi = xcalloc(ns + 1, sizeof(char *));
	for (size_t i = 0; !err && i < ns; i++)
		err = sr_vdi_clone(svdi[i], false, "revert", &new_vdi[i]);
	if (!err && ssusp)
		err = sr_suspend_vdi_copy(ssusp, &susp);
	if (!err)
		err = lc_revert_commit(vm, snap, svbd, new_vdi, ns, old_vdi, nold, susp);
	if (err) {
		for (size_t i = 0; i < ns; i++)
			if (new_vdi[i])
				api_err_free(sr_vdi_delete(new_vdi[i]));
		if (susp)
			api_err_free(sr_vdi_delete(susp));
	} else {
		for (size_t i = 0; i < nold; i++)
			api_err_free(sr_vdi_delete(old_vdi[i]));
		log_info("vm", "reverted %s to %s %s", vm, ssusp ? "checkpoint" : "snapshot", snap);
	}
	vm_op_end(vm, opid, NULL);
	for (size_t i = 0; i < ns; i++) {
		free(svdi[i]);
		free(svbd[i]);
		free(new_vdi[i]);
	}
	for (size_t i = 0; i < nold; i++)
		free(old_vdi[i]);
	free(svdi);
	free(svbd);
	free(new_vdi);
	free(old_vdi);
	free(ssusp);
	free(susp);
	free(opid);
	free(vm);
	return err;
}

static struct api_err *
lc_clone(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	return lc_copy_vm(args[0]->u.s, args[1]->u.s, false, NULL, NULL, NULL, result);
}

static struct api_err *
lc_snapshot(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	struct api_err *err = vm_assert_persistent_disks(args[0]->u.s);
	if (err)
		return err;
	return lc_copy_vm(args[0]->u.s, args[1]->u.s, true, NULL,
			  nargs > 2 ? args[2] : NULL, NULL, result);
}

/* Runs one guest-agent command; 0 when it answered without an error. */
static int
lc_agent_do(const char *uuid, const char *cmd)
{
	char *reply = NULL, *err = NULL;
	int rc = -1;
	if (vm_cfg.backend->agent &&
	    vm_cfg.backend->agent(uuid, cmd, &reply, 20, &err) == 0 &&
	    reply && !strstr(reply, "\"error\""))
		rc = 0;
	free(reply);
	free(err);
	return rc;
}

/* VM.snapshot_with_quiesce(vm, new_name): the guest's filesystems are
 * frozen by its agent (fsfreeze) for the moment of the snapshot. */
static struct api_err *
lc_snapshot_quiesce(struct api_ctx *ctx, xv *const *args, size_t nargs,
		    xv **result)
{
	(void)ctx;
	if (nargs != 2 || args[0]->type != XV_STRING || args[1]->type != XV_STRING) {
		char got[16];
		snprintf(got, sizeof(got), "%zu", nargs + 1);
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
				 "VM.snapshot_with_quiesce", "3", got, NULL);
	}
	const char *vm = args[0]->u.s;
	char *uuid = NULL;
	bool running = false;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r) {
		uuid = xstrdup(r->f[DMF_VM_uuid].s);
		running = strcmp(r->f[DMF_VM_power_state].s, "Running") == 0;
	}
	db_unlock();
	if (!r)
		return api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	if (!running) {
		free(uuid);
		return api_error(XE_VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED, vm, NULL);
	}
	struct api_err *perr = vm_assert_persistent_disks(vm);
	if (perr) {
		free(uuid);
		return perr;
	}
	if (lc_agent_do(uuid, "{\"execute\":\"guest-fsfreeze-freeze\"}") < 0) {
		free(uuid);
		return api_error(XE_VM_SNAPSHOT_WITH_QUIESCE_FAILED, vm, NULL);
	}
	struct api_err *err = lc_copy_vm(vm, args[1]->u.s, true, NULL, NULL, NULL, result);
	if (lc_agent_do(uuid, "{\"execute\":\"guest-fsfreeze-thaw\"}") < 0)
		log_warn("vm", "VM %s: the guest agent did not thaw its filesystems", uuid);
	free(uuid);
	return err;
}

/* VM.checkpoint(vm, new_name): a snapshot with the memory of a running VM
 * (its suspend_VDI; power_state Suspended). xapi suspends and resumes the
 * VM around it; here QEMU stays: vCPUs stopped, disks snapshotted live,
 * memory saved, vCPUs on again. A halted VM gets a plain snapshot; a
 * suspended one (xapi allows it: xapi_vm_lifecycle.ml) its disks
 * snapshotted and a copy of its memory image. */
static struct api_err *
lc_checkpoint(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *vm = args[0]->u.s;
	char *opid = NULL, *msg = NULL, *uuid = NULL, *sr = NULL, state[16] = "";
	char *susp = NULL;
	struct lc_mem mem = {0};
	(void)ctx;
	(void)nargs;
	struct api_err *perr = vm_assert_persistent_disks(vm);
	if (perr)
		return perr;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (r) {
		snprintf(state, sizeof(state), "%s", r->f[DMF_VM_power_state].s);
		uuid = xstrdup(r->f[DMF_VM_uuid].s);
		sr = vm_suspend_sr(r);
		mem.size = r->f[DMF_VM_memory_static_max].i;
		susp = xstrdup(r->f[DMF_VM_suspend_VDI].s);
	}
	db_unlock();
	if (strcmp(state, "Halted") == 0) {
		free(susp);
		free(uuid);
		free(sr);
		return lc_copy_vm(vm, args[1]->u.s, true, NULL, NULL, NULL, result);
	}
	struct api_err *err = vm_op_begin(
	    vm, "checkpoint", "running,paused,suspended", false, &opid);
	if (err)
		goto out;
	bool running = strcmp(state, "Running") == 0;
	if (running && vm_cfg.backend->pause(uuid, &msg) < 0) {
		err = api_internal("VM checkpoint: pause: %s", msg ? msg : "failed");
		vm_op_end(vm, opid, NULL);
		goto out;
	}
	mem.uuid = uuid;
	mem.sr = sr;
	if (strcmp(state, "Suspended") == 0)
		mem.copy_of = susp;
	err = lc_copy_vm(vm, args[1]->u.s, true, NULL, NULL, &mem, result);
	const char *now = NULL;
	free(msg);
	msg = NULL;
	if (running && vm_cfg.backend->unpause(uuid, &msg) < 0) {
		log_err("vm", "VM %s stays paused after its checkpoint: %s", uuid, msg ? msg : "");
		now = "Paused";
	}
	vm_op_end(vm, opid, now);
	if (!err)
		log_info("vm", "checkpoint of %s (memory image %s)", uuid, mem.vdi);
out:
	free(mem.vdi);
	free(msg);
	free(uuid);
	free(sr);
	free(susp);
	free(opid);
	return err;
}

/* VM.assert_agile(self): can the VM move between hosts? Not with PCI
 * devices passed through, nor with a disk on a storage only one host sees. */
static struct api_err *
lc_assert_agile(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, args[0]->u.s);
	if (!r) {
		err = api_error(XE_HANDLE_INVALID, "VM", args[0]->u.s, NULL);
		goto out;
	}
	const struct dm_coll *oc = r->f[DMF_VM_other_config].c;
	for (size_t i = 0; oc && i < oc->n && !err; i++)
		if (strcmp(oc->v[2 * i].s, "pci") == 0 && *oc->v[2 * i + 1].s)
			err = api_error(XE_VM_HAS_PCI_ATTACHED, r->ref, NULL);
	const struct dm_coll *b = r->f[DMF_VM_VBDs].c;
	for (size_t i = 0; b && i < b->n && !err; i++) {
		struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		struct db_row *vdi = vbd ? db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s) : NULL;
		struct db_row *sr = vdi ? db_get(DMC_SR, vdi->f[DMF_VDI_SR].s) : NULL;
		if (sr && !sr->f[DMF_SR_shared].b)
			err = api_error(XE_HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED, sr->ref, NULL);
	}
out:
	db_unlock();
	return err;
}

/* VM.copy(vm, new_name, sr): full copies of the disks (into sr, or each
 * disk's own SR when NULL), for a halted VM. */
static struct api_err *
lc_vm_copy(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	return lc_copy_vm(args[0]->u.s, args[1]->u.s, false, args[2]->u.s, NULL,
			  NULL, result);
}

/* VM.provision: makes the disks a template's other_config:disks describes.
 * Our templates carry no such description (their disks, if any, are real
 * VBDs copied by VM.clone), so there is nothing to make. */
static struct api_err *
lc_provision(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = NULL;
	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, args[0]->u.s);
	if (!r)
		err = api_error(XE_HANDLE_INVALID, "VM", args[0]->u.s, NULL);
	const struct dm_coll *oc = r ? r->f[DMF_VM_other_config].c : NULL;
	for (size_t i = 0; !err && oc && i < oc->n; i++)
		if (strcmp(oc->v[2 * i].s, "disks") == 0 && *oc->v[2 * i + 1].s)
			err = api_error(XE_NOT_IMPLEMENTED,
					"VM.provision of other-config:disks", NULL);
	db_unlock();
	if (err)
		return err;
	/* as xapi: a provisioned VM is no longer a template */
	struct db_txn *t = db_txn_begin();
	struct db_row *w = db_txn_edit(t, DMC_VM, args[0]->u.s);
	if (!w) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "VM", args[0]->u.s, NULL);
	}
	db_txn_set(t, w, DMF_VM_is_a_template, (union dm_val){.b = false});
	db_txn_set(t, w, DMF_VM_allowed_operations,
		   (union dm_val){.c = vm_allowed_ops(w->f[DMF_VM_power_state].s, false)});
	return api_commit(t);
}

void
vm_copy_register(void)
{
	api_register("VM.provision", lc_provision, 0);
	api_register("VM.copy", lc_vm_copy, 0);
	api_register("VM.assert_agile", lc_assert_agile, API_READONLY);
	api_register("VM.snapshot_with_quiesce", lc_snapshot_quiesce, 0);
	api_register("VM.clone", lc_clone, 0);
	api_register("VM.snapshot", lc_snapshot, 0);
	api_register("VM.checkpoint", lc_checkpoint, 0);
	api_register("VM.revert", lc_revert, 0);
}
