/* xva_import_obj: the objects of an imported ova.xml, found or made as
 * import.ml's handlers do (host, SR, VDI, VM, network, VBD, VIF). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "rpc/api.h"
#include "storage/sr.h"
#include "storage/xva_import_int.h"
#include "util/log.h"
#include "util/xalloc.h"
#include "vm/lifecycle.h"

static char *
im_random_mac(void)
{
	unsigned char m[6];
	if (getrandom(m, sizeof(m), 0) != sizeof(m))
		for (size_t i = 0; i < sizeof(m); i++)
			m[i] = (unsigned char)rand();
	m[0] = (unsigned char)((m[0] & 0xfe) | 0x02);
	return xasprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
	                 m[3], m[4], m[5]);
}
/* ---- objects ---- */

/* Is field f of cls the derived side of a relation (VM.VBDs...)? */
static bool
im_derived(int cls, size_t f)
{
	for (size_t i = 0; i < dm_nrelations; i++)
		if (dm_relations[i].b == cls &&
		    (size_t)dm_relations[i].b_field == f)
			return true;
	return false;
}

/* Copies the fields of an exported record into a new row, references
 * through the import's map (unknown ones become NULL / are dropped). */
static void
im_fill(struct xva_import *im, struct db_txn *t, struct db_row *row,
        const xv *snap)
{
	const struct dm_class *k = &dm_classes[row->cls];
	for (size_t f = 0; f < k->nfields; f++) {
		const struct dm_type *ty = k->fields[f].type;
		const xv *v = xv_get(snap, k->fields[f].name);
		if (!v || (int)f == k->f_uuid || im_derived(row->cls, f))
			continue;
		if (strcmp(k->fields[f].name, "current_operations") == 0 ||
		    strcmp(k->fields[f].name, "allowed_operations") == 0)
			continue;
		union dm_val val;
		if (ty->kind == DMK_REF) {
			const char *r =
			    v->type == XV_STRING ? im_lookup(im, v->u.s) : NULL;
			val.s = xstrdup(r ? r : "OpaqueRef:NULL");
			db_txn_set(t, row, (int)f, val);
			continue;
		}
		if (ty->kind == DMK_SET && ty->a->kind == DMK_REF) {
			size_t n = 0;
			struct dm_coll *c =
			    dmc_new(v->type == XV_ARRAY ? v->u.a.n : 0);
			for (size_t i = 0; v->type == XV_ARRAY && i < v->u.a.n;
			     i++) {
				const xv *e = v->u.a.items[i];
				const char *r = e->type == XV_STRING
				                    ? im_lookup(im, e->u.s)
				                    : NULL;
				if (r)
					c->v[n++].s = xstrdup(r);
			}
			c->n = n;
			db_txn_set(t, row, (int)f, (union dm_val){.c = c});
			continue;
		}
		if (ty->kind == DMK_MAP &&
		    (ty->a->kind == DMK_REF || ty->b->kind == DMK_REF))
			continue;
		struct api_err *e = dmv_from_xv(ty, v, k->fields[f].name, &val);
		if (e)
			api_err_free(
			    e); /* a value we cannot hold: the default stays */
		else
			db_txn_set(t, row, (int)f, val);
	}
}

/* A map with key set to value (others kept; NULL value removes key). */
struct dm_coll *
im_map_set(const struct dm_coll *c, const char *key, const char *value)
{
	size_t n = c ? c->n : 0, k = 0;
	struct dm_coll *nc = dmc_new(n + 1);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(c->v[2 * i].s, key) == 0)
			continue;
		nc->v[2 * k].s = xstrdup(c->v[2 * i].s);
		nc->v[2 * k + 1].s = xstrdup(c->v[2 * i + 1].s);
		k++;
	}
	if (value) {
		nc->v[2 * k].s = xstrdup(key);
		nc->v[2 * k + 1].s = xstrdup(value);
		k++;
	}
	nc->n = k;
	return nc;
}

static bool
im_is(const struct xva_obj *o, const char *cls)
{
	return strcmp(o->cls, cls) == 0;
}

/* SRs, hosts and VDIs: found here or made (disks first: files on disk). */
static struct api_err *
im_storage(struct xva_import *im)
{
	const struct xva_meta *m = im->m;
	struct api_err *err = NULL;
	for (size_t i = 0; i < m->nobjs; i++) {
		const struct xva_obj *o = &m->objs[i];
		db_rdlock();
		const struct db_row *r = NULL;
		if (im_is(o, "host")) {
			r = db_get_by_uuid(DMC_host,
			                   xva_snap_str(o->snap, "uuid"));
		} else if (im_is(o, "SR")) {
			if (im->rq.metadata_only)
				r = db_get_by_uuid(
				    DMC_SR, xva_snap_str(o->snap, "uuid"));
			else if (strcmp(xva_snap_str(o->snap, "content_type"),
			                "iso") != 0)
				r = db_get(DMC_SR, im->sr);
		}
		if (r)
			im_add(im, o->id, r->cls, r->ref);
		db_unlock();
	}
	for (size_t i = 0; i < m->nobjs && !err; i++) {
		const struct xva_obj *o = &m->objs[i];
		if (!im_is(o, "VDI"))
			continue;
		const struct xva_obj *so =
		    xva_meta_find(m, xva_snap_str(o->snap, "SR"));
		const char *location = xva_snap_str(o->snap, "location");
		bool iso = so && strcmp(xva_snap_str(so->snap, "content_type"),
		                        "iso") == 0;
		if (iso || im->rq.metadata_only) {
			/* an existing disk: an ISO by location, or (metadata)
			 * the disk in its SR by location, else by uuid */
			const char *sr = so ? im_lookup(im, so->id) : NULL;
			const struct db_row *found = NULL;
			db_rdlock();
			size_t n;
			struct db_row **all = db_list(DMC_VDI, &n);
			for (size_t j = 0; j < n && !found; j++) {
				const struct db_row *v = all[j],
				                    *vs = db_get(
				                        DMC_SR,
				                        v->f[DMF_VDI_SR].s);
				if (strcmp(v->f[DMF_VDI_location].s,
				           location) != 0 ||
				    !vs)
					continue;
				if (iso ? strcmp(vs->f[DMF_SR_content_type].s,
				                 "iso") == 0
				        : sr && strcmp(vs->ref, sr) == 0)
					found = v;
			}
			free(all);
			if (!found && !iso)
				found = db_get_by_uuid(
				    DMC_VDI, xva_snap_str(o->snap, "uuid"));
			if (found)
				im_add(im, o->id, DMC_VDI, found->ref);
			db_unlock();
			if (!found && !iso && !im->rq.force)
				err =
				    sr ? api_error(XE_VDI_LOCATION_MISSING, sr,
				                   location, NULL)
				       : api_error_raw("VDI_CONTENT_ID_MISSING",
				                       NULL, 0);
			continue;
		}
		/* a new disk in the target SR */
		xv *rec = xv_struct();
		static const char *const keep[] = {
		    "name_label",    "name_description",
		    "type",          "sharable",
		    "read_only",     "other_config",
		    "xenstore_data", "tags",
		    "virtual_size"};
		for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
			const xv *v = xv_get(o->snap, keep[k]);
			if (v)
				xv_set(rec, keep[k], xv_dup(v));
		}
		xv_set(rec, "SR", xv_str(im->sr));
		xv *smc = xv_struct();
		xv_set(smc, "import_task",
		       xv_str(im->task ? im->task : "unknown"));
		xv_set(rec, "sm_config", smc);
		char *ref = NULL;
		err = sr_vdi_create_rec(rec, &ref);
		xv_free(rec);
		if (err)
			break;
		im->vdis = xrealloc(im->vdis, (im->nvdis + 1) * sizeof(char *));
		im->vdis[im->nvdis++] = xstrdup(ref);
		im_add(im, o->id, DMC_VDI, ref);
		for (size_t k = 0; k < m->nvdis; k++)
			if (strcmp(m->vdis[k].id, o->id) == 0)
				im->disks[k].ref = xstrdup(ref);
		free(ref);
	}
	return err;
}

/* restore=true of a VM whose uuid exists: replace it if halted and older
 * (import.ml VM.precheck). Returns true if o must be skipped. */
static struct api_err *
im_vm_replace(struct xva_import *im, struct db_txn *t, const xv *snap,
              bool *skip)
{
	*skip = false;
	const struct db_row *old =
	    db_get_by_uuid(DMC_VM, xva_snap_str(snap, "uuid"));
	if (!old)
		return NULL;
	if (strcmp(old->f[DMF_VM_power_state].s, "Halted") != 0) {
		if (im->rq.force) {
			*skip = true;
			return NULL;
		}
		char *low = xstrdup(old->f[DMF_VM_power_state].s);
		for (char *p = low; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		struct api_err *e = api_error(XE_VM_BAD_POWER_STATE, old->ref,
		                              "halted", low, NULL);
		free(low);
		return e;
	}
	int64_t mine = old->f[DMF_VM_version].i,
	        theirs = xva_snap_int(snap, "version", 0);
	if (mine >= theirs && !im->rq.force) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "%lld", (long long)mine);
		snprintf(b, sizeof(b), "%lld", (long long)theirs);
		return api_error(XE_VM_TO_IMPORT_IS_NOT_NEWER_VERSION, old->ref,
		                 a, b, NULL);
	}
	const struct dm_coll *c = old->f[DMF_VM_VBDs].c;
	for (size_t i = 0; c && i < c->n; i++)
		db_txn_destroy(t, DMC_VBD, c->v[i].s);
	c = old->f[DMF_VM_VIFs].c;
	for (size_t i = 0; c && i < c->n; i++)
		db_txn_destroy(t, DMC_VIF, c->v[i].s);
	log_info("xva", "import replaces VM %s", old->ref);
	db_txn_destroy(t, DMC_VM, old->ref);
	return NULL;
}

static struct db_row *
im_create(struct xva_import *im, struct db_txn *t, int cls, const xv *snap)
{
	const char *uuid = im->rq.restore ? xva_snap_str(snap, "uuid") : NULL;
	if (uuid && (!*uuid || db_get_by_uuid(cls, uuid)))
		uuid = NULL;
	struct db_row *r = db_txn_create(t, cls, NULL, uuid);
	im_row_made(im, cls, r->ref);
	return r;
}

static void
im_vm(struct xva_import *im, struct db_txn *t, const struct xva_obj *o)
{
	struct db_row *r = im_create(im, t, DMC_VM, o->snap);
	im_add(im, o->id, DMC_VM, r->ref);
	im_fill(im, t, r, o->snap);
	db_txn_set(t, r, DMF_VM_power_state,
	           (union dm_val){.s = xstrdup("Halted")});
	db_txn_set(t, r, DMF_VM_suspend_VDI,
	           (union dm_val){.s = xstrdup("OpaqueRef:NULL")});
	db_txn_set(t, r, DMF_VM_resident_on,
	           (union dm_val){.s = xstrdup("OpaqueRef:NULL")});
	db_txn_set(t, r, DMF_VM_guest_metrics,
	           (union dm_val){.s = xstrdup("OpaqueRef:NULL")});
	db_txn_set(t, r, DMF_VM_is_control_domain, (union dm_val){.b = false});
	db_txn_set(t, r, DMF_VM_is_default_template,
	           (union dm_val){.b = false});
	int64_t version = xva_snap_int(o->snap, "version", 0);
	db_txn_set(t, r, DMF_VM_version,
	           (union dm_val){.i = im->rq.restore ? version + 1 : 0});
	struct dm_coll *oc0 =
	    im_map_set(r->f[DMF_VM_other_config].c, "import_task",
	               im->task ? im->task : NULL);
	/* the mark of an import in progress (durable: a restart after a
	 * crash removes what it finds so marked) */
	struct dm_coll *oc = im_map_set(oc0, IM_MARK, "true");
	union dm_val tmp0 = {.c = oc0};
	dmv_free(dm_classes[DMC_VM].fields[DMF_VM_other_config].type, &tmp0);
	if (!im->rq.restore) {
		char *seed = db_new_uuid();
		struct dm_coll *c2 = im_map_set(oc, "mac_seed", seed);
		union dm_val tmp = {.c = oc};
		dmv_free(dm_classes[DMC_VM].fields[DMF_VM_other_config].type,
		         &tmp);
		oc = c2;
		free(seed);
	}
	db_txn_set(t, r, DMF_VM_other_config, (union dm_val){.c = oc});
	struct db_row *mt = db_txn_create(t, DMC_VM_metrics, NULL, NULL);
	im_row_made(im, DMC_VM_metrics, mt->ref);
	db_txn_set(t, r, DMF_VM_metrics, (union dm_val){.s = xstrdup(mt->ref)});
	if (im->task) {
		/* xapi shows the import as the VM's current operation */
		struct dm_coll *co = dmc_new(1);
		co->v[0].s = xstrdup(im->task);
		co->v[1].s = xstrdup("import");
		db_txn_set(t, r, DMF_VM_current_operations,
		           (union dm_val){.c = co});
	}
	db_txn_set(t, r, DMF_VM_allowed_operations,
	           (union dm_val){.c = vm_allowed_ops(
	                              "Halted", r->f[DMF_VM_is_a_template].b)});
}

/* A default template (a snapshot's parent, say) is not imported: the
 * template of that name here stands for it (import.ml Default_template). */
static bool
im_default_template(struct xva_import *im, const struct xva_obj *o)
{
	const xv *dt = xv_get(o->snap, "is_default_template");
	const xv *oc = xv_get(o->snap, "other_config");
	const xv *ot = oc ? xv_get(oc, "default_template") : NULL;
	const xv *tpl = xv_get(o->snap, "is_a_template");
	bool is_default =
	    (dt && dt->type == XV_BOOL && dt->u.b) ||
	    (tpl && tpl->type == XV_BOOL && tpl->u.b && ot &&
	     ot->type == XV_STRING && strcmp(ot->u.s, "true") == 0);
	if (!is_default)
		return false;
	const char *name = xva_snap_str(o->snap, "name_label");
	size_t n;
	struct db_row **all = db_list(DMC_VM, &n), *found = NULL;
	for (size_t i = 0; i < n && !found; i++)
		if (strcmp(all[i]->f[DMF_VM_name_label].s, name) == 0)
			found = all[i];
	if (found)
		im_add(im, o->id, DMC_VM, found->ref);
	free(all);
	return found != NULL;
}

/* Networks: by name, else by bridge, else made (import.ml Net). */
static void
im_network(struct xva_import *im, struct db_txn *t, const struct xva_obj *o)
{
	const char *name = xva_snap_str(o->snap, "name_label");
	const char *bridge = xva_snap_str(o->snap, "bridge");
	size_t n;
	struct db_row **all = db_list(DMC_network, &n), *found = NULL;
	for (size_t i = 0; i < n && !found; i++)
		if (strcmp(all[i]->f[DMF_network_name_label].s, name) == 0)
			found = all[i];
	for (size_t i = 0; i < n && !found && *bridge; i++)
		if (strcmp(all[i]->f[DMF_network_bridge].s, bridge) == 0)
			found = all[i];
	if (found) {
		im_add(im, o->id, DMC_network, found->ref);
		free(all);
		return;
	}
	free(all);
	struct db_row *r = db_txn_create(t, DMC_network, NULL, NULL);
	im_row_made(im, DMC_network, r->ref);
	im_add(im, o->id, DMC_network, r->ref);
	im_fill(im, t, r, o->snap);
	/* our bridges are our own: xapid names one when a VM needs it */
	db_txn_set(t, r, DMF_network_bridge, (union dm_val){.s = xstrdup("")});
	db_txn_set(
	    t, r, DMF_network_other_config,
	    (union dm_val){.c = im_map_set(r->f[DMF_network_other_config].c,
	                                   "import_task",
	                                   im->task ? im->task : "unknown")});
}

static struct api_err *
im_vbd(struct xva_import *im, struct db_txn *t, const struct xva_obj *o)
{
	const char *vm = im_lookup(im, xva_snap_str(o->snap, "VM"));
	const char *vdi = im_lookup(im, xva_snap_str(o->snap, "VDI"));
	bool cd = strcmp(xva_snap_str(o->snap, "type"), "CD") == 0 ||
	          strcmp(xva_snap_str(o->snap, "type"), "Floppy") == 0;
	if (!vm)
		return api_error(XE_IMPORT_ERROR_FAILED_TO_FIND_OBJECT,
		                 xva_snap_str(o->snap, "VM"), NULL);
	if (!vdi && !cd) {
		log_warn("xva", "import: disk VBD %s has no disk; left out",
		         o->id);
		return NULL;
	}
	struct db_row *r = im_create(im, t, DMC_VBD, o->snap);
	im_add(im, o->id, DMC_VBD, r->ref);
	im_fill(im, t, r, o->snap);
	if (!vdi)
		db_txn_set(t, r, DMF_VBD_empty, (union dm_val){.b = true});
	db_txn_set(t, r, DMF_VBD_device, (union dm_val){.s = xstrdup("")});
	db_txn_set(t, r, DMF_VBD_currently_attached,
	           (union dm_val){.b = false});
	return NULL;
}

static struct api_err *
im_vif(struct xva_import *im, struct db_txn *t, const struct xva_obj *o)
{
	const char *vm = im_lookup(im, xva_snap_str(o->snap, "VM"));
	const char *net = im_lookup(im, xva_snap_str(o->snap, "network"));
	if (!vm || !net)
		return api_error(XE_IMPORT_ERROR_FAILED_TO_FIND_OBJECT,
		                 xva_snap_str(o->snap, vm ? "network" : "VM"),
		                 NULL);
	struct db_row *r = im_create(im, t, DMC_VIF, o->snap);
	im_add(im, o->id, DMC_VIF, r->ref);
	im_fill(im, t, r, o->snap);
	if (!im->rq.restore || !*r->f[DMF_VIF_MAC].s)
		db_txn_set(t, r, DMF_VIF_MAC,
		           (union dm_val){.s = im_random_mac()});
	db_txn_set(t, r, DMF_VIF_currently_attached,
	           (union dm_val){.b = false});
	return NULL;
}

/* Every object but the disks, in one transaction (import.ml handlers
 * order), then the snapshot links (update_snapshot_and_parent_links). */
static struct api_err *
im_objects(struct xva_import *im)
{
	const struct xva_meta *m = im->m;
	struct api_err *err = NULL;
	struct db_txn *t = db_txn_begin();
	for (size_t i = 0; i < m->nobjs && !err; i++) {
		const struct xva_obj *o = &m->objs[i];
		bool skip = false;
		if (!im_is(o, "VM") || im_default_template(im, o))
			continue;
		if (im->rq.restore &&
		    (err = im_vm_replace(im, t, o->snap, &skip)))
			break;
		if (!skip)
			im_vm(im, t, o);
	}
	for (size_t i = 0; i < m->nobjs && !err; i++)
		if (im_is(&m->objs[i], "network"))
			im_network(im, t, &m->objs[i]);
	for (size_t i = 0; i < m->nobjs && !err; i++)
		if (im_is(&m->objs[i], "VBD"))
			err = im_vbd(im, t, &m->objs[i]);
	for (size_t i = 0; i < m->nobjs && !err; i++)
		if (im_is(&m->objs[i], "VIF"))
			err = im_vif(im, t, &m->objs[i]);
	for (size_t i = 0; i < im->nmap && !err; i++) {
		struct db_row *r = im->map[i].cls == DMC_VM
		                       ? db_txn_edit(t, DMC_VM, im->map[i].ref)
		                       : NULL;
		const struct xva_obj *o = xva_meta_find(m, im->map[i].id);
		if (!r || !o)
			continue;
		const char *so =
		    im_lookup(im, xva_snap_str(o->snap, "snapshot_of"));
		const char *pa = im_lookup(im, xva_snap_str(o->snap, "parent"));
		db_txn_set(
		    t, r, DMF_VM_snapshot_of,
		    (union dm_val){.s = xstrdup(so ? so : "OpaqueRef:NULL")});
		db_txn_set(
		    t, r, DMF_VM_parent,
		    (union dm_val){.s = xstrdup(pa ? pa : "OpaqueRef:NULL")});
	}
	/* the disks made for snapshots say so */
	for (size_t i = 0; i < im->nmap && !err; i++) {
		const struct xva_obj *o = xva_meta_find(m, im->map[i].id);
		bool mine = false;
		for (size_t k = 0; k < im->nvdis; k++)
			mine = mine || strcmp(im->vdis[k], im->map[i].ref) == 0;
		if (!mine || !o || im->map[i].cls != DMC_VDI)
			continue;
		struct db_row *v = db_txn_edit(t, DMC_VDI, im->map[i].ref);
		const xv *snap = xv_get(o->snap, "is_a_snapshot");
		if (v && snap && snap->type == XV_BOOL && snap->u.b)
			db_txn_set(t, v, DMF_VDI_is_a_snapshot,
			           (union dm_val){.b = true});
	}
	if (err)
		db_txn_abort(t);
	else
		err = api_commit(t);
	if (err)
		im->nrows = 0; /* nothing of it was committed */
	return err;
}

struct api_err *
im_make_objects(struct xva_import *im)
{
	struct api_err *err = im_storage(im);
	return err ? err : im_objects(im);
}
