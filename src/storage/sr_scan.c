/* sr_scan: SR.scan (the DB's VDIs made to match what the storage holds, as
 * xapi's update_vdis does), VDI.introduce and VDI.forget. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/api.h"
#include "storage/sr.h"
#include "storage/sr_priv.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Locations being made now. */
static pthread_mutex_t sr_inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static char **sr_inflight;
static size_t sr_ninflight;

void
sr_inflight_add(const char *location)
{
	pthread_mutex_lock(&sr_inflight_lock);
	sr_inflight =
	    xrealloc(sr_inflight, (sr_ninflight + 1) * sizeof(*sr_inflight));
	sr_inflight[sr_ninflight++] = xstrdup(location);
	pthread_mutex_unlock(&sr_inflight_lock);
}

void
sr_inflight_del(const char *location)
{
	pthread_mutex_lock(&sr_inflight_lock);
	for (size_t i = 0; i < sr_ninflight; i++)
		if (strcmp(sr_inflight[i], location) == 0) {
			free(sr_inflight[i]);
			sr_inflight[i] = sr_inflight[--sr_ninflight];
			break;
		}
	pthread_mutex_unlock(&sr_inflight_lock);
}

bool
sr_inflight_has(const char *location)
{
	bool found = false;
	pthread_mutex_lock(&sr_inflight_lock);
	for (size_t i = 0; i < sr_ninflight && !found; i++)
		found = strcmp(sr_inflight[i], location) == 0;
	pthread_mutex_unlock(&sr_inflight_lock);
	return found;
}

static void
sr_found_free(struct sr_found *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].location);
		free(f[i].name_label);
	}
	free(f);
}

static bool
sr_is_uuid(const char *s)
{
	static const char pat[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	if (strlen(s) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == '-' ? s[i] != '-'
		                  : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool
sr_vdi_attached(const struct db_row *vdi)
{
	const struct dm_coll *b = vdi->f[DMF_VDI_VBDs].c;
	for (size_t k = 0; b && k < b->n; k++) {
		struct db_row *vbd = db_get(DMC_VBD, b->v[k].s);
		if (vbd && vbd->f[DMF_VBD_currently_attached].b)
			return true;
	}
	return false;
}

/* A new VDI row for what the scan found (in transaction t). */
static void
sr_scan_introduce(struct db_txn *t, const char *sr_ref,
                  const struct sr_found *f)
{
	/* a file named after its VDI's uuid keeps it (qcow2 SRs) */
	char *uuid =
	    sr_is_uuid(f->location) && !db_get_by_uuid(DMC_VDI, f->location)
	        ? xstrdup(f->location)
	        : db_new_uuid();
	struct db_row *r = db_txn_create(t, DMC_VDI, NULL, uuid);
	db_txn_set(
	    t, r, DMF_VDI_name_label,
	    (union dm_val){.s = xstrdup(f->name_label ? f->name_label : "")});
	db_txn_set(t, r, DMF_VDI_SR, (union dm_val){.s = xstrdup(sr_ref)});
	db_txn_set(t, r, DMF_VDI_type, (union dm_val){.s = xstrdup("user")});
	db_txn_set(t, r, DMF_VDI_virtual_size,
	           (union dm_val){.i = f->virtual_size});
	db_txn_set(t, r, DMF_VDI_physical_utilisation,
	           (union dm_val){.i = f->used});
	db_txn_set(t, r, DMF_VDI_read_only, (union dm_val){.b = f->read_only});
	db_txn_set(t, r, DMF_VDI_location,
	           (union dm_val){.s = xstrdup(f->location)});
	db_txn_set(t, r, DMF_VDI_managed, (union dm_val){.b = true});
	log_info("sr", "scan: introduced VDI %s (%s)", uuid, f->location);
	free(uuid);
}

static const struct sr_found *
sr_found_find(const struct sr_found *f, size_t n, const char *location)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].location, location) == 0)
			return &f[i];
	return NULL;
}

/* Brings the VDI rows of the SR in line with found. */
static void
sr_scan_sync(struct db_txn *t, const char *sr_ref, const struct sr_found *found,
             size_t n)
{
	const struct db_row *sr = db_get(DMC_SR, sr_ref);
	const struct dm_coll *v = sr ? sr->f[DMF_SR_VDIs].c : NULL;
	bool *known = xcalloc(n + 1, sizeof(*known));
	for (size_t i = 0; v && i < v->n; i++) {
		const struct db_row *vdi = db_get(DMC_VDI, v->v[i].s);
		if (!vdi)
			continue;
		const char *loc = vdi->f[DMF_VDI_location].s;
		const struct sr_found *f = sr_found_find(found, n, loc);
		if (!f) {
			/* gone from the storage: forgotten, as xapi does; not
			 * a VDI being made, a suspend image before its VM
			 * writes it, or one a VM has open */
			if (sr_inflight_has(loc) || sr_vdi_attached(vdi) ||
			    strcmp(vdi->f[DMF_VDI_type].s, "suspend") == 0)
				continue;
			log_info("sr", "scan: forgetting VDI %s (%s is gone)",
			         vdi->f[DMF_VDI_uuid].s, loc);
			db_txn_destroy(t, DMC_VDI, v->v[i].s);
			continue;
		}
		known[f - found] = true;
		if (vdi->f[DMF_VDI_virtual_size].i == f->virtual_size &&
		    vdi->f[DMF_VDI_physical_utilisation].i == f->used &&
		    vdi->f[DMF_VDI_read_only].b == f->read_only)
			continue;
		struct db_row *w = db_txn_edit(t, DMC_VDI, v->v[i].s);
		db_txn_set(t, w, DMF_VDI_virtual_size,
		           (union dm_val){.i = f->virtual_size});
		db_txn_set(t, w, DMF_VDI_physical_utilisation,
		           (union dm_val){.i = f->used});
		db_txn_set(t, w, DMF_VDI_read_only,
		           (union dm_val){.b = f->read_only});
	}
	for (size_t i = 0; i < n; i++)
		if (!known[i] && !sr_inflight_has(found[i].location))
			sr_scan_introduce(t, sr_ref, &found[i]);
	free(known);
}

struct api_err *
sr_scan_run(const char *sr_ref)
{
	struct sr_call c;
	struct api_err *err;
	struct sr_found *found = NULL;
	size_t n = 0;
	if ((err = sr_call_prepare(sr_ref, &c)))
		return err;
	/* no clone moves files while the listing is read and applied */
	pthread_mutex_lock(&sr_chain_lock);
	if (c.drv->scan && !(err = c.drv->scan(&c.ctx, &found, &n))) {
		struct db_txn *t = db_txn_begin();
		sr_scan_sync(t, c.sr_ref, found, n);
		err = sr_commit_space(t, &c);
	}
	pthread_mutex_unlock(&sr_chain_lock);
	sr_found_free(found, n);
	if (!err)
		sr_gc_run(&c);
	sr_call_clear(&c);
	return err;
}

static struct api_err *
sr_api_scan(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return sr_scan_run(args[0]->u.s);
}

/* VDI.introduce(uuid, name_label, name_description, SR, type, sharable,
 * read_only, other_config, location, xenstore_data, sm_config, managed,
 * virtual_size, physical_utilisation, metadata_of_pool, is_a_snapshot,
 * snapshot_time, snapshot_of): a row for an image the SR holds. */
static struct api_err *
sr_api_vdi_introduce(struct api_ctx *ctx, xv *const *args, size_t nargs,
                     xv **result)
{
	const char *uuid = args[0]->u.s, *sr_ref = args[3]->u.s,
	           *location = args[8]->u.s;
	struct sr_call c;
	struct api_err *err;
	struct sr_found *found = NULL;
	size_t n = 0;
	(void)ctx;
	(void)nargs;
	if ((err = sr_call_prepare(sr_ref, &c)))
		return err;
	db_rdlock();
	const struct db_row *sr = db_get(DMC_SR, sr_ref);
	const struct dm_coll *v = sr ? sr->f[DMF_SR_VDIs].c : NULL;
	for (size_t i = 0; v && i < v->n && !err; i++) {
		const struct db_row *vdi = db_get(DMC_VDI, v->v[i].s);
		if (vdi && strcmp(vdi->f[DMF_VDI_location].s, location) == 0)
			err = api_error(XE_LOCATION_NOT_UNIQUE, sr_ref,
			                location, NULL);
	}
	if (!err && *uuid && db_get_by_uuid(DMC_VDI, uuid))
		err = api_error(XE_DB_UNIQUENESS_CONSTRAINT_VIOLATION, "VDI",
		                "uuid", uuid, NULL);
	db_unlock();
	if (!err && c.drv->scan)
		err = c.drv->scan(&c.ctx, &found, &n);
	if (!err) {
		const struct sr_found *f = sr_found_find(found, n, location);
		if (!f) {
			err = api_error(XE_VDI_MISSING, sr_ref, location, NULL);
		} else {
			struct db_txn *t = db_txn_begin();
			char *u = *uuid ? xstrdup(uuid) : db_new_uuid();
			struct db_row *r = db_txn_create(t, DMC_VDI, NULL, u);
			const int fields[] = {DMF_VDI_name_label,
			                      DMF_VDI_name_description,
			                      DMF_VDI_SR,
			                      DMF_VDI_type,
			                      DMF_VDI_sharable,
			                      DMF_VDI_read_only,
			                      DMF_VDI_other_config,
			                      DMF_VDI_location,
			                      DMF_VDI_xenstore_data,
			                      DMF_VDI_sm_config};
			const int argi[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
			for (size_t i = 0;
			     i < sizeof(fields) / sizeof(fields[0]) && !err;
			     i++) {
				union dm_val val;
				const struct dm_field *fd =
				    &dm_classes[DMC_VDI].fields[fields[i]];
				if (!(err = dmv_from_xv(fd->type, args[argi[i]],
				                        fd->name, &val)))
					db_txn_set(t, r, fields[i], val);
			}
			db_txn_set(t, r, DMF_VDI_virtual_size,
			           (union dm_val){.i = f->virtual_size});
			db_txn_set(t, r, DMF_VDI_physical_utilisation,
			           (union dm_val){.i = f->used});
			db_txn_set(t, r, DMF_VDI_managed,
			           (union dm_val){.b = true});
			if (f->read_only)
				db_txn_set(t, r, DMF_VDI_read_only,
				           (union dm_val){.b = true});
			if (!*args[1]->u.s && f->name_label)
				db_txn_set(t, r, DMF_VDI_name_label,
				           (union dm_val){
				               .s = xstrdup(f->name_label)});
			char *ref = xstrdup(r->ref);
			if (err) {
				db_txn_abort(t);
			} else {
				err = sr_commit_space(t, &c);
			}
			if (err)
				free(ref);
			else
				*result = xv_str_own(ref);
			free(u);
		}
	}
	sr_found_free(found, n);
	sr_call_clear(&c);
	return err;
}

/* VDI.forget: the row goes, the data stays (xapi: Db.VDI.destroy). */
static struct api_err *
sr_api_vdi_forget(struct api_ctx *ctx, xv *const *args, size_t nargs,
                  xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	struct api_err *err = NULL;
	if (!db_get(DMC_VDI, args[0]->u.s))
		err = api_error(XE_HANDLE_INVALID, "VDI", args[0]->u.s, NULL);
	else
		db_txn_destroy(t, DMC_VDI, args[0]->u.s);
	if (err)
		db_txn_abort(t);
	else
		err = api_commit(t);
	return err;
}

void
sr_scan_register(void)
{
	api_register("SR.scan", sr_api_scan, 0);
	api_register("VDI.introduce", sr_api_vdi_introduce, 0);
	api_register("VDI.forget", sr_api_vdi_forget, 0);
}
