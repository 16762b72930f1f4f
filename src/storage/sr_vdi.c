/* sr_vdi: the VDI handlers that make, remove, resize and copy one VDI
 * (VDI.create, destroy, resize, copy) and the checks of who may open it. */
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


static struct api_err *
sr_vdi_create(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const xv *rec = args[0];
	const xv *srv = xv_get(rec, "SR"), *sz = xv_get(rec, "virtual_size");
	struct sr_call c;
	struct api_err *err;
	union dm_val size;

	(void)ctx;
	(void)nargs;
	if (!srv || srv->type != XV_STRING)
		return api_error(XE_FIELD_TYPE_ERROR, "SR", NULL);
	if (!sz || (err = dmv_from_xv(dm_classes[DMC_VDI].fields[DMF_VDI_virtual_size].type,
				      sz, "virtual_size", &size)))
		return sz ? err : api_error(XE_FIELD_TYPE_ERROR, "virtual_size", NULL);
	if (size.i <= 0) {
		char v[32];
		snprintf(v, sizeof(v), "%" PRId64, size.i);
		return api_error(XE_INVALID_VALUE, "virtual_size", v, NULL);
	}
	if ((err = sr_call_prepare(srv->u.s, &c)))
		return err;
	char *uuid = db_new_uuid(), *location = NULL;
	if (!c.drv->vdi_create) {
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, c.sr_ref, NULL);
		goto out;
	}
	/* thin provisioning: what the empty image takes must fit */
	if ((err = sr_check_space(&c, c.drv->vdi_need(&c.ctx, size.i))))
		goto out;
	sr_inflight_add(uuid);
	err = c.drv->vdi_create(&c.ctx, uuid, size.i, &location);
	if (err)
		goto out;

	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_VDI, NULL, uuid);
	const struct dm_class *k = &dm_classes[DMC_VDI];
	for (size_t i = 0; i < k->nfields && !err; i++) {
		const xv *v = xv_get(rec, k->fields[i].name);
		union dm_val val;
		if (!v || k->fields[i].qual == DMQ_RO_RUNTIME || (int)i == k->f_uuid)
			continue;
		if (!(err = dmv_from_xv(k->fields[i].type, v, k->fields[i].name, &val)))
			db_txn_set(t, r, (int)i, val);
	}
	if (err) {
		db_txn_abort(t);
		api_err_free(c.drv->vdi_destroy(&c.ctx, location));
		goto out;
	}
	db_txn_set(t, r, DMF_VDI_location, (union dm_val){.s = xstrdup(location)});
	db_txn_set(t, r, DMF_VDI_managed, (union dm_val){.b = true});
	db_txn_set(t, r, DMF_VDI_physical_utilisation,
		   (union dm_val){.i = c.drv->vdi_used(&c.ctx, location)});
	char *ref = xstrdup(r->ref);
	err = sr_commit_space(t, &c);
	if (err) {
		api_err_free(c.drv->vdi_destroy(&c.ctx, location));
		free(ref);
	} else {
		*result = xv_str_own(ref);
	}
out:
	sr_inflight_del(uuid);
	free(uuid);
	free(location);
	sr_call_clear(&c);
	return err;
}

struct api_err *
sr_vdi_new(const char *sr_ref, const char *name, int64_t size, char **vdi_ref)
{
	xv *rec = xv_struct(), *res = NULL;
	xv_set(rec, "SR", xv_str(sr_ref));
	xv_set(rec, "name_label", xv_str(name));
	xv_set(rec, "virtual_size", xv_int(size));
	xv_set(rec, "type", xv_str("user"));
	xv *const args[] = {rec};
	struct api_err *err = sr_vdi_create(NULL, args, 1, &res);
	if (!err && res && res->type == XV_STRING)
		*vdi_ref = xstrdup(res->u.s);
	else if (!err)
		err = api_internal("VDI.create gave no reference");
	xv_free(res);
	xv_free(rec);
	return err;
}

struct api_err *
sr_vdi_create_rec(const xv *rec, char **ref)
{
	xv *res = NULL;
	xv *args[1] = {(xv *)rec};
	struct api_err *err = sr_vdi_create(NULL, args, 1, &res);
	if (!err)
		*ref = xstrdup(res->u.s);
	xv_free(res);
	return err;
}

struct api_err *
sr_suspend_vdi_create(const char *sr_ref, int64_t size, char **vdi_ref)
{
	struct sr_call c;
	struct api_err *err = sr_call_prepare(sr_ref, &c);
	if (err)
		return err;
	char *uuid = db_new_uuid();
	char *location = xasprintf("%s.suspend", uuid);
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_VDI, NULL, uuid);
	db_txn_set(t, r, DMF_VDI_name_label, (union dm_val){.s = xstrdup("Suspend image")});
	db_txn_set(t, r, DMF_VDI_SR, (union dm_val){.s = xstrdup(sr_ref)});
	db_txn_set(t, r, DMF_VDI_type, (union dm_val){.s = xstrdup("suspend")});
	db_txn_set(t, r, DMF_VDI_virtual_size, (union dm_val){.i = size});
	db_txn_set(t, r, DMF_VDI_location, (union dm_val){.s = xstrdup(location)});
	db_txn_set(t, r, DMF_VDI_managed, (union dm_val){.b = true});
	sr_map_put(t, r, DMF_VDI_sm_config, SR_MEMORY_IMAGE_KEY, "true");
	char *ref = xstrdup(r->ref);
	err = api_commit(t);
	if (err)
		free(ref);
	else
		*vdi_ref = ref;
	free(uuid);
	free(location);
	sr_call_clear(&c);
	return err;
}

void
sr_suspend_vdi_abandon(const char *vdi_ref, bool written)
{
	if (written) {
		api_err_free(sr_vdi_delete(vdi_ref));
		return;
	}
	struct db_txn *t = db_txn_begin();
	db_txn_destroy(t, DMC_VDI, vdi_ref);
	api_err_free(api_commit(t));
}

struct api_err *
sr_vdi_check_open(const char *vdi_ref, const char *vm_ref, bool rw)
{
	const struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	if (!vdi || vdi->f[DMF_VDI_sharable].b)
		return NULL;
	const struct dm_coll *vbds = vdi->f[DMF_VDI_VBDs].c;
	for (size_t i = 0; vbds && i < vbds->n; i++) {
		const struct db_row *vbd = db_get(DMC_VBD, vbds->v[i].s);
		if (!vbd || strcmp(vbd->f[DMF_VBD_VM].s, vm_ref) == 0 || !sr_vbd_live(vbd))
			continue;
		/* no locks on NFS: two writers (or a writer under a reader)
		 * would corrupt the image; the pool's DB is the arbiter */
		if (rw || strcmp(vbd->f[DMF_VBD_mode].s, "RW") == 0)
			return api_error(XE_VDI_IN_USE, vdi_ref, "attach", NULL);
	}
	return NULL;
}

bool
sr_vdi_written(const struct db_row *vdi)
{
	const struct dm_coll *vbds = vdi->f[DMF_VDI_VBDs].c;
	for (size_t i = 0; vbds && i < vbds->n; i++) {
		struct db_row *vbd = db_get(DMC_VBD, vbds->v[i].s);
		if (sr_vbd_live(vbd) &&
		    strcmp(vbd->f[DMF_VBD_mode].s, "RW") == 0)
			return true;
	}
	return false;
}

struct api_err *
sr_vdi_copy(const char *vdi_ref, const char *sr_ref, const char *into_vdi,
	    char **out)
{
	struct api_err *err = NULL;
	char *src = NULL, *dst_path = NULL, *target_sr = NULL;
	const char *fmt = NULL, *dfmt = NULL;
	struct sr_call c;

	db_rdlock();
	struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	if (!vdi) {
		err = api_error(XE_HANDLE_INVALID, "VDI", vdi_ref, NULL);
	} else {
		if (sr_vdi_written(vdi))
			err = api_error(XE_VDI_IN_USE, vdi_ref, "copy", NULL);
		else if (!(err = sr_cbt_check_op(vdi, "copy")) &&
			 strcmp(vdi->f[DMF_VDI_on_boot].s, "reset") == 0)
			err = api_error(XE_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION, NULL);
		if (!err)
			src = sr_vdi_path(vdi_ref, &fmt, &err);
		target_sr = xstrdup(sr_ref && strcmp(sr_ref, DM_NULL_REF) != 0
					    ? sr_ref
					    : vdi->f[DMF_VDI_SR].s);
	}
	if (!err && into_vdi && strcmp(into_vdi, DM_NULL_REF) != 0) {
		struct db_row *into = db_get(DMC_VDI, into_vdi);
		if (!into)
			err = api_error(XE_HANDLE_INVALID, "VDI", into_vdi, NULL);
		else if (into->f[DMF_VDI_virtual_size].i < vdi->f[DMF_VDI_virtual_size].i)
			err = api_error(XE_VDI_TOO_SMALL, into_vdi, "", NULL);
		else
			dst_path = sr_vdi_path(into_vdi, &dfmt, &err);
	}
	db_unlock();
	if (err)
		goto out;
	if (dst_path) {
		/* over an existing VDI: every byte written, nothing resized */
		char *argv[] = {"qemu-img", "convert", "-q", "-n", "-f", (char *)fmt,
				"-O", (char *)dfmt, src, dst_path, NULL};
		struct buf e = BUF_INIT;
		if (spawn_run(argv, NULL, &e, 3600) != 0)
			err = api_error(XE_SR_BACKEND_FAILURE, "1", "", e.data ? e.data : "copy failed", NULL);
		buf_free(&e);
		if (!err)
			*out = xstrdup(into_vdi);
		goto out;
	}
	if ((err = sr_call_prepare(target_sr, &c)))
		goto out;
	char *uuid = db_new_uuid(), *loc = NULL;
	if (!c.drv->vdi_copy)
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, target_sr, NULL);
	else if (!(err = sr_check_space(&c, sr_copy_need(src, fmt)))) {
		/* the whole copy must fit before a byte is written */
		sr_inflight_add(uuid);
		err = c.drv->vdi_copy(&c.ctx, src, fmt, uuid, &loc);
	}
	if (!err) {
		struct db_txn *t = db_txn_begin();
		const struct db_row *s0 = db_get(DMC_VDI, vdi_ref);
		struct db_row *n = db_txn_create(t, DMC_VDI, NULL, uuid);
		static const int keep[] = {DMF_VDI_name_label, DMF_VDI_name_description,
					   DMF_VDI_virtual_size, DMF_VDI_type,
					   DMF_VDI_sharable, DMF_VDI_read_only,
					   DMF_VDI_other_config, DMF_VDI_xenstore_data,
					   DMF_VDI_tags, DMF_VDI_on_boot};
		for (size_t i = 0; s0 && i < sizeof(keep) / sizeof(keep[0]); i++)
			db_txn_set(t, n, keep[i],
				   dmv_copy(dm_classes[DMC_VDI].fields[keep[i]].type, s0->f[keep[i]]));
		db_txn_set(t, n, DMF_VDI_SR, (union dm_val){.s = xstrdup(target_sr)});
		db_txn_set(t, n, DMF_VDI_location, (union dm_val){.s = loc});
		loc = NULL;
		db_txn_set(t, n, DMF_VDI_managed, (union dm_val){.b = true});
		char *ref = xstrdup(n->ref);
		if ((err = sr_commit_space(t, &c)))
			free(ref);
		else
			*out = ref;
	}
	sr_inflight_del(uuid);
	free(loc);
	free(uuid);
	sr_call_clear(&c);
out:
	free(src);
	free(dst_path);
	free(target_sr);
	return err;
}

/* VDI.copy(vdi, sr, base_vdi, into_vdi): base_vdi only makes xapi send the
 * differences; the copy here is always whole, so the result is the same. */
static struct api_err *
sr_api_vdi_copy(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	char *ref = NULL;
	(void)ctx;
	(void)nargs;
	struct api_err *err = sr_vdi_assert_persistent(args[0]->u.s);
	if (!err)
		err =
		    sr_vdi_copy(args[0]->u.s, args[1]->u.s, args[3]->u.s, &ref);
	if (!err)
		*result = xv_str_own(ref);
	return err;
}

static struct api_err *
sr_vdi_destroy(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return sr_vdi_delete(args[0]->u.s);
}

struct api_err *
sr_vdi_delete(const char *ref)
{
	struct sr_call c;
	struct api_err *err = NULL;
	char *location = NULL, *sr_ref = NULL, *chain = NULL;

	db_rdlock();
	struct db_row *vdi = db_get(DMC_VDI, ref);
	if (!vdi) {
		err = api_error(XE_HANDLE_INVALID, "VDI", ref, NULL);
	} else {
		const struct dm_coll *vbds = vdi->f[DMF_VDI_VBDs].c;
		for (size_t i = 0; vbds && i < vbds->n && !err; i++) {
			struct db_row *vbd = db_get(DMC_VBD, vbds->v[i].s);
			if (sr_vbd_live(vbd))
				err = api_error(XE_VDI_IN_USE, ref, "destroy", NULL);
		}
		if (sr_cbt_chain(vdi))
			chain = xstrdup(sr_cbt_chain(vdi));
		location = xstrdup(vdi->f[DMF_VDI_location].s);
		sr_ref = xstrdup(vdi->f[DMF_VDI_SR].s);
	}
	db_unlock();
	if (err)
		goto out;
	if ((err = sr_call_prepare(sr_ref, &c)))
		goto out;
	err = c.drv->vdi_destroy
	          ? c.drv->vdi_destroy(&c.ctx, location)
	          : api_error(XE_SR_OPERATION_NOT_SUPPORTED, c.sr_ref, NULL);
	if (!err) {
		struct db_txn *t = db_txn_begin();
		struct db_row *v = db_txn_edit(t, DMC_VDI, ref);
		const struct dm_coll *vbds = v ? v->f[DMF_VDI_VBDs].c : NULL;
		for (size_t i = 0; vbds && i < vbds->n; i++)
			db_txn_destroy(t, DMC_VBD, vbds->v[i].s);
		db_txn_destroy(t, DMC_VDI, ref);
		err = sr_commit_space(t, &c);
		if (!err)
			sr_gc_run(&c);
		if (!err && chain)
			sr_cbt_forget(chain, &c.ctx);
	}
	sr_call_clear(&c);
out:
	free(chain);
	free(location);
	free(sr_ref);
	return err;
}

static struct api_err *
sr_vdi_resize(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *ref = args[0]->u.s;
	int64_t size = args[1]->u.i;
	struct sr_call c;
	struct api_err *err = NULL;
	char *location = NULL, *sr_ref = NULL;
	int64_t cur = 0;

	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	struct db_row *vdi = db_get(DMC_VDI, ref);
	if (vdi && (err = sr_cbt_check_op(vdi, "resize"))) {
		db_unlock();
		return err;
	}
	if (vdi) {
		location = xstrdup(vdi->f[DMF_VDI_location].s);
		sr_ref = xstrdup(vdi->f[DMF_VDI_SR].s);
		cur = vdi->f[DMF_VDI_virtual_size].i;
	}
	db_unlock();
	if (!vdi)
		return api_error(XE_HANDLE_INVALID, "VDI", ref, NULL);
	if (size < cur) {
		char b[32];
		snprintf(b, sizeof(b), "%" PRId64, cur);
		err = api_error(XE_VDI_TOO_SMALL, ref, b, NULL);
		goto out;
	}
	if ((err = sr_call_prepare(sr_ref, &c)))
		goto out;
	if (!c.drv->vdi_resize)
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, c.sr_ref, NULL);
	else if (!(err = c.drv->vdi_resize(&c.ctx, location, size))) {
		struct db_txn *t = db_txn_begin();
		struct db_row *v = db_txn_edit(t, DMC_VDI, ref);
		if (v)
			db_txn_set(t, v, DMF_VDI_virtual_size,
			           (union dm_val){.i = size});
		err = sr_commit_space(t, &c);
	}
	sr_call_clear(&c);
out:
	free(location);
	free(sr_ref);
	return err;
}

void
sr_vdi_register(void)
{
	api_register("VDI.create", sr_vdi_create, 0);
	api_register("VDI.destroy", sr_vdi_destroy, 0);
	api_register("VDI.resize", sr_vdi_resize, 0);
	api_register("VDI.copy", sr_api_vdi_copy, 0);
}
