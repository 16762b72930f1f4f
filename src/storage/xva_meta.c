/* xva_meta: ova.xml read (checked) and written (from the DB). */
#include "storage/xva_meta.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/store.h"
#include "rpc/api.h"
#include "rpc/xmlrpc.h"
#include "storage/sr_priv.h"
#include "storage/xva.h"
#include "util/xalloc.h"

/* ---- reading ---- */

const char *
xva_snap_str(const xv *snap, const char *name)
{
	const xv *v = snap ? xv_get(snap, name) : NULL;
	return v && v->type == XV_STRING ? v->u.s : "";
}

int64_t
xva_snap_int(const xv *snap, const char *name, int64_t def)
{
	const xv *v = snap ? xv_get(snap, name) : NULL;
	if (v && v->type == XV_INT)
		return v->u.i;
	if (v && v->type == XV_STRING && *v->u.s) {
		char *end;
		long long x = strtoll(v->u.s, &end, 10);
		if (!*end)
			return x;
	}
	return def;
}

static struct api_err *meta_bad(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static struct api_err *
meta_bad(const char *fmt, ...)
{
	char msg[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_error(XE_IMPORT_ERROR, msg, NULL);
}

void
xva_meta_clear(struct xva_meta *m)
{
	xv_free(m->root);
	free(m->objs);
	free(m->vdis);
	memset(m, 0, sizeof(*m));
}

const struct xva_obj *
xva_meta_find(const struct xva_meta *m, const char *id)
{
	for (size_t i = 0; i < m->nobjs; i++)
		if (strcmp(m->objs[i].id, id) == 0)
			return &m->objs[i];
	return NULL;
}

static int
meta_vdi_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xva_vdi *)a)->id,
	              ((const struct xva_vdi *)b)->id);
}

/* The disks whose data follow: those of non-CD VBDs outside ISO SRs, and
 * suspend images (import.ml non_cdrom_vdis), in id order. */
static struct api_err *
meta_streamed(struct xva_meta *m)
{
	m->vdis = xcalloc(m->nobjs + 1, sizeof(*m->vdis));
	for (size_t i = 0; i < m->nobjs; i++) {
		const struct xva_obj *o = &m->objs[i];
		if (strcmp(o->cls, "VDI") != 0)
			continue;
		bool streamed =
		    strcmp(xva_snap_str(o->snap, "type"), "suspend") == 0;
		for (size_t j = 0; j < m->nobjs && !streamed; j++) {
			const struct xva_obj *b = &m->objs[j];
			if (strcmp(b->cls, "VBD") == 0 &&
			    strcmp(xva_snap_str(b->snap, "VDI"), o->id) == 0 &&
			    strcmp(xva_snap_str(b->snap, "type"), "CD") != 0)
				streamed = true;
		}
		if (!streamed)
			continue;
		const char *sr = xva_snap_str(o->snap, "SR");
		const struct xva_obj *s = xva_meta_find(m, sr);
		if (!s)
			return api_error(XE_IMPORT_ERROR_FAILED_TO_FIND_OBJECT,
			                 sr, NULL);
		if (strcmp(xva_snap_str(s->snap, "content_type"), "iso") == 0)
			continue;
		int64_t size = xva_snap_int(o->snap, "virtual_size", -1);
		if (size <= 0 || size > ((int64_t)1 << 50))
			return meta_bad(
			    "ova.xml: VDI %.200s has no valid virtual_size",
			    o->id);
		m->vdis[m->nvdis].id = o->id;
		m->vdis[m->nvdis++].size = size;
	}
	qsort(m->vdis, m->nvdis, sizeof(*m->vdis), meta_vdi_cmp);
	return NULL;
}

static struct api_err *
meta_check(struct xva_meta *m)
{
	const xv *root = m->root;
	const xv *ver =
	    root->type == XV_STRUCT ? xv_get(root, "version") : NULL;
	const xv *objs =
	    root->type == XV_STRUCT ? xv_get(root, "objects") : NULL;
	if (!ver || ver->type != XV_STRUCT || !objs || objs->type != XV_ARRAY)
		return meta_bad(
		    "ova.xml: not an export header (version, objects)");
	m->xapi_major = xva_snap_int(ver, "xapi_major", -1);
	m->xapi_minor = xva_snap_int(ver, "xapi_minor", -1);
	m->export_vsn = xva_snap_int(ver, "export_vsn", 0);
	if (m->xapi_major < 0 || m->xapi_minor < 0)
		return meta_bad(
		    "ova.xml: version data lacks xapi_major/xapi_minor");
	/* importexport.ml assert_compatible: nothing newer than us */
	if (m->xapi_major > XVA_XAPI_MAJOR ||
	    (m->xapi_major == XVA_XAPI_MAJOR && m->xapi_minor > XVA_XAPI_MINOR))
		return api_error(XE_IMPORT_INCOMPATIBLE_VERSION, NULL);
	m->objs = xcalloc(objs->u.a.n + 1, sizeof(*m->objs));
	for (size_t i = 0; i < objs->u.a.n; i++) {
		const xv *o = objs->u.a.items[i];
		const xv *c = o->type == XV_STRUCT ? xv_get(o, "class") : NULL;
		const xv *id = o->type == XV_STRUCT ? xv_get(o, "id") : NULL;
		const xv *s =
		    o->type == XV_STRUCT ? xv_get(o, "snapshot") : NULL;
		if (!c || c->type != XV_STRING || !id ||
		    id->type != XV_STRING || !*id->u.s || !s ||
		    s->type != XV_STRUCT)
			return meta_bad("ova.xml: object %.200s lacks class, "
			                "id or snapshot",
			                id && id->type == XV_STRING ? id->u.s
			                                            : "?");
		if (strcmp(id->u.s, "OpaqueRef:NULL") == 0 ||
		    xva_meta_find(m, id->u.s))
			return meta_bad(
			    "ova.xml: object id %.200s is not unique", id->u.s);
		m->objs[m->nobjs].cls = c->u.s;
		m->objs[m->nobjs].id = id->u.s;
		m->objs[m->nobjs++].snap = s;
	}
	return meta_streamed(m);
}

struct api_err *
xva_meta_parse(const char *xml, size_t len, struct xva_meta *m)
{
	char why[200] = "";
	memset(m, 0, sizeof(*m));
	if (xmlrpc_parse_value(xml, len, &m->root, why, sizeof(why)) !=
	    XMLRPC_OK)
		return meta_bad("ova.xml: %.200s",
		                why[0] ? why : "malformed XML-RPC value");
	struct api_err *err = meta_check(m);
	if (err)
		xva_meta_clear(m);
	return err;
}

/* ---- writing ---- */

/* The objects exported and their ids (update_table in export.ml). */
struct meta_table {
	char **refs;
	size_t n, cap;
};

static const char *
tbl_find(const struct meta_table *t, const char *ref, char *id, size_t idlen)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->refs[i], ref) == 0) {
			snprintf(id, idlen, "Ref:%zu", i);
			return id;
		}
	return NULL;
}

static bool
tbl_add(struct meta_table *t, int cls, const char *ref)
{
	char id[32];
	if (!ref || !db_get(cls, ref) || tbl_find(t, ref, id, sizeof(id)))
		return false;
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->refs = xrealloc(t->refs, t->cap * sizeof(char *));
	}
	t->refs[t->n++] = xstrdup(ref);
	return true;
}

static void
tbl_add_vdi(struct meta_table *t, const char *vdi)
{
	if (tbl_add(t, DMC_VDI, vdi))
		tbl_add(t, DMC_SR, db_get(DMC_VDI, vdi)->f[DMF_VDI_SR].s);
}

static void
tbl_add_vm(struct meta_table *t, const char *vm, const struct xva_build_opts *o,
           bool snapshots)
{
	if (!tbl_add(t, DMC_VM, vm))
		return;
	const struct db_row *r = db_get(DMC_VM, vm);
	const struct dm_coll *c = r->f[DMF_VM_VIFs].c;
	for (size_t i = 0; c && i < c->n; i++)
		if (tbl_add(t, DMC_VIF, c->v[i].s))
			tbl_add(
			    t, DMC_network,
			    db_get(DMC_VIF, c->v[i].s)->f[DMF_VIF_network].s);
	c = r->f[DMF_VM_VBDs].c;
	for (size_t i = 0; c && i < c->n; i++) {
		if (!tbl_add(t, DMC_VBD, c->v[i].s))
			continue;
		const struct db_row *b = db_get(DMC_VBD, c->v[i].s);
		if (!b->f[DMF_VBD_empty].b)
			tbl_add_vdi(t, b->f[DMF_VBD_VDI].s);
	}
	if (snapshots) {
		c = r->f[DMF_VM_snapshots].c;
		for (size_t i = 0; c && i < c->n; i++)
			tbl_add_vm(t, c->v[i].s, o, false);
	}
	if (o->preserve_power_state &&
	    strcmp(r->f[DMF_VM_power_state].s, "Suspended") == 0)
		tbl_add_vdi(t, r->f[DMF_VM_suspend_VDI].s);
	tbl_add(t, DMC_VM_metrics, r->f[DMF_VM_metrics].s);
	tbl_add(t, DMC_VM_guest_metrics, r->f[DMF_VM_guest_metrics].s);
	tbl_add(t, DMC_host, r->f[DMF_VM_resident_on].s);
	tbl_add(t, DMC_host, r->f[DMF_VM_affinity].s);
	if (snapshots)
		tbl_add_vm(t, r->f[DMF_VM_parent].s, o, false);
}

/* References rewritten to ids or NULL; sets and maps of references keep
 * only the exported ones. */
static xv *
meta_rewrite(const struct meta_table *t, const struct dm_type *ty, xv *v)
{
	char id[32];
	if (ty->kind == DMK_OPTION)
		ty = ty->a;
	if (ty->kind == DMK_REF && v->type == XV_STRING) {
		const char *nid = tbl_find(t, v->u.s, id, sizeof(id));
		xv_free(v);
		return xv_str(nid ? nid : "OpaqueRef:NULL");
	}
	if (ty->kind == DMK_SET && ty->a->kind == DMK_REF &&
	    v->type == XV_ARRAY) {
		xv *a = xv_array();
		for (size_t i = 0; i < v->u.a.n; i++) {
			const xv *e = v->u.a.items[i];
			const char *nid =
			    e->type == XV_STRING
			        ? tbl_find(t, e->u.s, id, sizeof(id))
			        : NULL;
			if (nid)
				xv_push(a, xv_str(nid));
		}
		xv_free(v);
		return a;
	}
	if (ty->kind == DMK_MAP &&
	    (ty->a->kind == DMK_REF || ty->b->kind == DMK_REF) &&
	    v->type == XV_STRUCT) {
		xv *s = xv_struct();
		for (size_t i = 0; i < v->u.st.n; i++) {
			const char *k = v->u.st.names[i];
			char kid[32];
			if (ty->a->kind == DMK_REF &&
			    !(k = tbl_find(t, k, kid, sizeof(kid))))
				continue;
			xv *val = xv_dup(v->u.st.vals[i]);
			if (ty->b->kind == DMK_REF && val->type == XV_STRING) {
				const char *nid =
				    tbl_find(t, val->u.s, id, sizeof(id));
				xv_free(val);
				if (!nid)
					continue;
				val = xv_str(nid);
			}
			xv_set(s, k, val);
		}
		xv_free(v);
		return s;
	}
	return v;
}

/* Replaces a member of rec (val taken). */
static void
meta_set(xv *rec, const char *name, xv *val)
{
	for (size_t i = 0; i < rec->u.st.n; i++)
		if (strcmp(rec->u.st.names[i], name) == 0) {
			xv_free(rec->u.st.vals[i]);
			rec->u.st.vals[i] = val;
			return;
		}
	xv_set(rec, name, val);
}

/* Sets a member of rec to the empty value of its field's type. */
static void
meta_blank(xv *rec, int cls, const char *name)
{
	int f = dm_field_find(cls, name);
	if (f < 0)
		return;
	const struct dm_type *ty = dm_classes[cls].fields[f].type;
	union dm_val d = dmv_default(ty, NULL);
	meta_set(rec, name, dmv_to_xv(ty, d));
	dmv_free(ty, &d);
}

/* The snapshot of one object (make_vm, make_vbd, ... in export.ml). */
static xv *
meta_snapshot(const struct meta_table *t, const struct db_row *r,
              const struct xva_build_opts *o)
{
	const struct dm_class *k = &dm_classes[r->cls];
	xv *rec = xv_struct();
	for (size_t i = 0; i < k->nfields; i++)
		xv_set(rec, k->fields[i].name,
		       meta_rewrite(t, k->fields[i].type,
		                    dmv_to_xv(k->fields[i].type, r->f[i])));
	meta_blank(rec, r->cls, "current_operations");
	meta_blank(rec, r->cls, "allowed_operations");
	bool pps = o->preserve_power_state;
	switch (r->cls) {
	case DMC_VM:
		if (!pps) {
			meta_set(rec, "power_state", xv_str("Halted"));
			meta_blank(rec, DMC_VM, "suspend_VDI");
		}
		if (!o->with_snapshots) {
			static const char *const snapf[] = {
			    "is_a_snapshot",
			    "snapshot_of",
			    "snapshots",
			    "snapshot_time",
			    "transportable_snapshot_id",
			    "parent"};
			for (size_t i = 0; i < sizeof(snapf) / sizeof(snapf[0]);
			     i++)
				meta_blank(rec, DMC_VM, snapf[i]);
		}
		meta_blank(rec, DMC_VM, "protection_policy");
		break;
	case DMC_VBD:
	case DMC_VIF:
		if (!pps)
			meta_set(rec, "currently_attached", xv_bool(false));
		break;
	case DMC_host: {
		static const char *const hostf[] = {
		    "license_params",
		    "external_auth_type",
		    "external_auth_service_name",
		    "external_auth_configuration",
		    "logging",
		    "supported_bootloaders",
		    "cpu_configuration",
		    "other_config",
		    "capabilities",
		    "software_version",
		    "sched_policy",
		    "ha_statefiles",
		    "ha_network_peers",
		    "tags"};
		for (size_t i = 0; i < sizeof(hostf) / sizeof(hostf[0]); i++)
			meta_blank(rec, DMC_host, hostf[i]);
		break;
	}
	default:
		break;
	}
	return rec;
}

static xv *
meta_version(void)
{
	char host[256] = "";
	char date[32];
	time_t now = time(NULL);
	struct tm tm;
	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%Y-%m-%d", gmtime_r(&now, &tm));
	xv *v = xv_struct();
	xv_set(v, "hostname", xv_str(host));
	xv_set(v, "date", xv_str(date));
	xv_set(v, "product_version", xv_str("8.2.1"));
	xv_set(v, "product_brand", xv_str("xapid"));
	xv_set(v, "build_number", xv_str("xapid-0.1"));
	xv_set(v, "xapi_major", xv_i4(XVA_XAPI_MAJOR));
	xv_set(v, "xapi_minor", xv_i4(XVA_XAPI_MINOR));
	xv_set(v, "export_vsn", xv_i4(XVA_EXPORT_VSN));
	return v;
}

static int
out_vdi_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xva_out_vdi *)a)->id,
	              ((const struct xva_out_vdi *)b)->id);
}

void
xva_out_vdis_free(struct xva_out_vdi *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		free(v[i].vdi);
	}
	free(v);
}

struct api_err *
xva_meta_build(const char *const *vms, size_t nvms,
               const struct xva_build_opts *o, struct buf *xml,
               struct xva_out_vdi **vdis, size_t *nvdis)
{
	static const int order[] = {
	    DMC_host, DMC_VM,  DMC_VM_metrics, DMC_VM_guest_metrics,
	    DMC_VBD,  DMC_VIF, DMC_network,    DMC_VDI,
	    DMC_SR};
	struct meta_table t = {0};
	struct api_err *err = NULL;
	char id[32];
	*vdis = NULL;
	*nvdis = 0;
	db_rdlock();
	for (size_t i = 0; i < nvms && !err; i++) {
		if (!db_get(DMC_VM, vms[i]))
			err = api_error(XE_HANDLE_INVALID, "VM", vms[i], NULL);
		else
			tbl_add_vm(&t, vms[i], o, o->with_snapshots);
	}
	if (err)
		goto out;
	xv *objs = xv_array();
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		for (size_t i = 0; i < t.n; i++) {
			const struct db_row *r = db_get(order[k], t.refs[i]);
			if (!r)
				continue;
			xv *ob = xv_struct();
			xv_set(ob, "class", xv_str(dm_classes[order[k]].name));
			xv_set(ob, "id",
			       xv_str(tbl_find(&t, r->ref, id, sizeof(id))));
			xv_set(ob, "snapshot", meta_snapshot(&t, r, o));
			xv_push(objs, ob);
		}
	}
	/* the disks to stream: those of disk VBDs (not CDs) outside ISO SRs */
	*vdis = xcalloc(t.n + 1, sizeof(**vdis));
	for (size_t i = 0; i < t.n && !o->metadata_only; i++) {
		const struct db_row *v = db_get(DMC_VDI, t.refs[i]);
		const struct db_row *sr =
		    v ? db_get(DMC_SR, v->f[DMF_VDI_SR].s) : NULL;
		if (!v ||
		    (sr && strcmp(sr->f[DMF_SR_content_type].s, "iso") == 0))
			continue;
		bool streamed = strcmp(v->f[DMF_VDI_type].s, "suspend") == 0;
		const struct dm_coll *c = v->f[DMF_VDI_VBDs].c;
		for (size_t j = 0; c && j < c->n && !streamed; j++) {
			const struct db_row *b = db_get(DMC_VBD, c->v[j].s);
			streamed = b &&
			           strcmp(b->f[DMF_VBD_type].s, "CD") != 0 &&
			           tbl_find(&t, b->ref, id, sizeof(id));
		}
		if (!streamed)
			continue;
		(*vdis)[*nvdis].id =
		    xstrdup(tbl_find(&t, v->ref, id, sizeof(id)));
		(*vdis)[*nvdis].vdi = xstrdup(v->ref);
		(*vdis)[(*nvdis)++].size = v->f[DMF_VDI_virtual_size].i;
	}
	qsort(*vdis, *nvdis, sizeof(**vdis), out_vdi_cmp);
	xv *root = xv_struct();
	xv_set(root, "version", meta_version());
	xv_set(root, "objects", objs);
	xmlrpc_write_value(xml, root);
	xv_free(root);
out:
	db_unlock();
	for (size_t i = 0; i < t.n; i++)
		free(t.refs[i]);
	free(t.refs);
	return err;
}

/* ---- where an export runs (export.ml check_vm_host_SRs) ---- */

char *
xva_export_elsewhere(const char *vm_ref)
{
	char *addr = NULL, **srs = NULL;
	size_t n = 0;
	db_rdlock();
	const struct db_row *vm = db_get(DMC_VM, vm_ref);
	const struct dm_coll *vbds = vm ? vm->f[DMF_VM_VBDs].c : NULL;
	for (size_t i = 0; vbds && i < vbds->n; i++) {
		const struct db_row *vbd = db_get(DMC_VBD, vbds->v[i].s);
		const struct db_row *vdi =
		    vbd && !vbd->f[DMF_VBD_empty].b
		        ? db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s)
		        : NULL;
		if (!vdi)
			continue;
		const char *sr = vdi->f[DMF_VDI_SR].s;
		size_t k;
		for (k = 0; k < n && strcmp(srs[k], sr) != 0; k++)
			;
		if (k == n) {
			srs = xrealloc(srs, (n + 1) * sizeof(*srs));
			srs[n++] = xstrdup(sr);
		}
	}
	db_unlock();
	addr = sr_elsewhere((const char *const *)srs, n);
	for (size_t i = 0; i < n; i++)
		free(srs[i]);
	free(srs);
	return addr;
}
