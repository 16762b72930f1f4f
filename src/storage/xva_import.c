/* xva_import: the objects and disks of an XVA upload (PUT /import,
 * /import_metadata), made as import.ml makes them, undone on failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/store.h"
#include "rpc/api.h"
#include "storage/vdi_import.h"
#include "storage/sr.h"
#include "storage/xva.h"
#include "storage/xva_import_int.h"
#include "storage/xva_read.h"
#include "util/log.h"
#include "util/xalloc.h"

static double
im_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *
im_lookup(const struct xva_import *im, const char *id)
{
	for (size_t i = 0; i < im->nmap; i++)
		if (strcmp(im->map[i].id, id) == 0)
			return im->map[i].ref;
	return NULL;
}

void
im_add(struct xva_import *im, const char *id, int cls, const char *ref)
{
	im->map = xrealloc(im->map, (im->nmap + 1) * sizeof(*im->map));
	im->map[im->nmap].id = id;
	im->map[im->nmap].cls = cls;
	im->map[im->nmap++].ref = xstrdup(ref);
}

void
im_row_made(struct xva_import *im, int cls, const char *ref)
{
	im->rows = xrealloc(im->rows, (im->nrows + 1) * sizeof(char *));
	im->rowcls = xrealloc(im->rowcls, (im->nrows + 1) * sizeof(int));
	im->rowcls[im->nrows] = cls;
	im->rows[im->nrows++] = xstrdup(ref);
}

static struct api_err *
im_meta(void *ctx, const struct xva_meta *m)
{
	struct xva_import *im = ctx;
	im->m = m;
	im->disks = xcalloc(m->nvdis + 1, sizeof(*im->disks));
	log_info("xva",
	         "import: %zu objects, %zu disk(s) (xapi %lld.%lld, export_vsn "
	         "%lld)",
	         m->nobjs, m->nvdis, (long long)m->xapi_major,
	         (long long)m->xapi_minor, (long long)m->export_vsn);
	struct api_err *err = im_make_objects(im);
	for (size_t k = 0; !err && !im->rq.metadata_only && k < m->nvdis; k++)
		if (!im->disks[k].ref)
			err = api_error(XE_IMPORT_ERROR_FAILED_TO_FIND_OBJECT,
			                m->vdis[k].id, NULL);
	return err;
}

/* ---- disks ---- */

/* The disk's image is complete: into place (vdi_import_finish). */
static struct api_err *
im_disk_close(struct xva_import *im, size_t k)
{
	struct im_disk *d = &im->disks[k];
	if (!d->vi)
		return NULL;
	struct api_err *err = vdi_import_finish(d->vi);
	d->vi = NULL;
	return err;
}

static struct api_err *
im_full(struct xva_import *im, size_t k)
{
	char req[32], max[32];
	int64_t size = 0;
	db_rdlock();
	const struct db_row *sr = db_get(DMC_SR, im->sr);
	if (sr)
		size = sr->f[DMF_SR_physical_size].i;
	db_unlock();
	snprintf(req, sizeof(req), "%lld", (long long)im->m->vdis[k].size);
	snprintf(max, sizeof(max), "%lld", (long long)size);
	return api_error(XE_SR_FULL, req, max, NULL);
}

static struct api_err *
im_data(void *ctx, size_t k, uint64_t off, const void *buf, size_t len)
{
	struct xva_import *im = ctx;
	struct im_disk *d = &im->disks[k];
	struct api_err *err = NULL;
	if (!d->vi) {
		/* disks come one after the other: the previous ones are done */
		for (size_t j = 0; j < k && !err; j++)
			err = im_disk_close(im, j);
		if (!err)
			err = vdi_import_begin(d->ref, "raw", &d->vi);
		if (err)
			return err;
	}
	struct api_err *e = vdi_import_feed_at(d->vi, (int64_t)off, buf, len);
	if (e && strcmp(e->code, "SR_FULL") == 0)
		return im_full(im, k);
	if (e) /* the import keeps its error: a copy for the reader */
		return api_error_raw(e->code, (const char *const *)e->params,
		                     e->n);
	double now = im_now();
	if (now - im->last_report >= 1.0) {
		im->last_report = now;
		uint64_t done, total;
		xva_read_progress(im->rd, &done, &total);
		double f = total ? (double)done / (double)total : 0.0;
		if (im->rq.progress &&
		    !im->rq.progress(im->rq.ctx, f > 0.99 ? 0.99 : f))
			return api_error(XE_TASK_CANCELLED,
			                 im->task ? im->task : "", NULL);
	}
	return NULL;
}

static struct api_err *
im_vdi_done(void *ctx, size_t k)
{
	struct xva_import *im = ctx;
	struct api_err *err = im_disk_close(im, k);
	if (err && strcmp(err->code, "SR_FULL") == 0) {
		api_err_free(err);
		err = im_full(im, k);
	}
	return err;
}

static const struct xva_read_ops im_ops = {im_meta, im_data, im_vdi_done};

struct api_err *
xva_import_begin(const struct xva_import_req *rq, struct xva_import **out)
{
	struct api_err *err = NULL;
	if (!rq->metadata_only) {
		db_rdlock();
		const struct db_row *sr =
		    rq->sr ? db_get(DMC_SR, rq->sr) : NULL;
		if (!sr)
			err = api_error(XE_HANDLE_INVALID, "SR",
			                rq->sr ? rq->sr : "", NULL);
		else if (strcmp(sr->f[DMF_SR_content_type].s, "iso") == 0)
			err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, rq->sr,
			                NULL);
		db_unlock();
	}
	if (err)
		return err;
	struct xva_import *im = xcalloc(1, sizeof(*im));
	im->rq = *rq;
	im->sr = rq->sr ? xstrdup(rq->sr) : NULL;
	im->task = rq->task ? xstrdup(rq->task) : NULL;
	im->rq.sr = im->sr;
	im->rq.task = im->task;
	im->last_report = im_now();
	im->rd = xva_read_new(&im_ops, im, rq->force, rq->metadata_only);
	*out = im;
	return NULL;
}

struct api_err *
xva_import_feed(struct xva_import *im, const void *buf, size_t n)
{
	return xva_read_feed(im->rd, buf, n);
}

/* ---- the end ---- */

struct api_err *
xva_import_end(struct xva_import *im, xv **vms)
{
	struct api_err *err = xva_read_end(im->rd);
	for (size_t k = 0; !err && im->m && k < im->m->nvdis; k++)
		err = im_disk_close(im, k);
	if (err)
		return err;
	/* the marks go: the objects are the pool's now */
	struct db_txn *t = db_txn_begin();
	xv *all = xv_array(), *plain = xv_array();
	for (size_t i = 0; i < im->nrows; i++) {
		struct db_row *r = db_txn_edit(t, im->rowcls[i], im->rows[i]);
		if (!r)
			continue;
		if (r->cls == DMC_VM) {
			db_txn_set(t, r, DMF_VM_current_operations,
			           (union dm_val){.c = NULL});
			db_txn_set(
			    t, r, DMF_VM_other_config,
			    (union dm_val){
			        .c = im_map_set(r->f[DMF_VM_other_config].c,
			                        IM_MARK, NULL)});
			xv_push(all, xv_str(r->ref));
			if (!r->f[DMF_VM_is_a_snapshot].b)
				xv_push(plain, xv_str(r->ref));
		} else if (r->cls == DMC_network) {
			db_txn_set(
			    t, r, DMF_network_other_config,
			    (union dm_val){.c = im_map_set(
			                       r->f[DMF_network_other_config].c,
			                       "import_task", NULL)});
		}
	}
	for (size_t i = 0; i < im->nvdis; i++) {
		struct db_row *v = db_txn_edit(t, DMC_VDI, im->vdis[i]);
		if (v)
			db_txn_set(t, v, DMF_VDI_sm_config,
			           (union dm_val){.c = im_map_set(
			                              v->f[DMF_VDI_sm_config].c,
			                              "import_task", NULL)});
	}
	if ((err = api_commit(t))) {
		xv_free(all);
		xv_free(plain);
		return err;
	}
	im->done = true;
	/* complete_import: the VMs, or only snapshots if nothing else came */
	if (xv_len(plain)) {
		*vms = plain;
		xv_free(all);
	} else {
		*vms = all;
		xv_free(plain);
	}
	log_info("xva", "import complete: %zu VM(s)", xv_len(*vms));
	return NULL;
}

/* Removes rows (and their VBDs/VIFs) and disks. */
static void
im_undo(char **rows, const int *cls, size_t nrows, char **vdis, size_t nvdis)
{
	struct db_txn *t = db_txn_begin();
	for (size_t i = nrows; i-- > 0;) {
		struct db_row *r = db_txn_edit(t, cls[i], rows[i]);
		if (!r)
			continue;
		if (cls[i] == DMC_VM) {
			const struct dm_coll *c = r->f[DMF_VM_VBDs].c;
			for (size_t j = 0; c && j < c->n; j++)
				db_txn_destroy(t, DMC_VBD, c->v[j].s);
			c = r->f[DMF_VM_VIFs].c;
			for (size_t j = 0; c && j < c->n; j++)
				db_txn_destroy(t, DMC_VIF, c->v[j].s);
			db_txn_destroy(t, DMC_VM_metrics,
			               r->f[DMF_VM_metrics].s);
		}
		db_txn_destroy(t, cls[i], rows[i]);
	}
	api_err_free(api_commit(t));
	for (size_t i = 0; i < nvdis; i++) {
		struct api_err *e = sr_vdi_delete(vdis[i]);
		if (e)
			log_warn("xva", "import cleanup: VDI %s: %s", vdis[i],
			         e->code);
		api_err_free(e);
	}
}

void
xva_import_abort(struct xva_import *im)
{
	if (!im)
		return;
	for (size_t k = 0; im->disks && im->m && k < im->m->nvdis; k++) {
		vdi_import_abort(im->disks[k].vi);
		free(im->disks[k].ref);
	}
	if (!im->done && (im->nrows || im->nvdis)) {
		log_info(
		    "xva",
		    "import failed: removing %zu object(s) and %zu disk(s)",
		    im->nrows, im->nvdis);
		im_undo(im->rows, im->rowcls, im->nrows, im->vdis, im->nvdis);
	}
	for (size_t i = 0; i < im->nmap; i++)
		free(im->map[i].ref);
	for (size_t i = 0; i < im->nrows; i++)
		free(im->rows[i]);
	for (size_t i = 0; i < im->nvdis; i++)
		free(im->vdis[i]);
	free(im->map);
	free(im->rows);
	free(im->rowcls);
	free(im->vdis);
	free(im->disks);
	xva_read_free(im->rd);
	free(im->sr);
	free(im->task);
	free(im);
}

static bool
im_marked(const struct dm_coll *c, bool by_value, const char *what)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(by_value ? c->v[2 * i + 1].s : c->v[2 * i].s,
		           what) == 0)
			return true;
	return false;
}

void
xva_import_recover(void)
{
	char **rows = NULL, **vdis = NULL;
	int *cls = NULL;
	size_t nrows = 0, nvdis = 0, n;
	db_rdlock();
	struct db_row **all = db_list(DMC_VM, &n);
	for (size_t i = 0; i < n; i++) {
		if (!im_marked(all[i]->f[DMF_VM_other_config].c, false,
		               IM_MARK))
			continue;
		rows = xrealloc(rows, (nrows + 1) * sizeof(char *));
		cls = xrealloc(cls, (nrows + 1) * sizeof(int));
		cls[nrows] = DMC_VM;
		rows[nrows++] = xstrdup(all[i]->ref);
	}
	free(all);
	all = db_list(DMC_network, &n);
	for (size_t i = 0; i < n; i++) {
		if (!im_marked(all[i]->f[DMF_network_other_config].c, false,
		               "import_task") ||
		    all[i]->f[DMF_network_VIFs].c ||
		    all[i]->f[DMF_network_PIFs].c)
			continue;
		rows = xrealloc(rows, (nrows + 1) * sizeof(char *));
		cls = xrealloc(cls, (nrows + 1) * sizeof(int));
		cls[nrows] = DMC_network;
		rows[nrows++] = xstrdup(all[i]->ref);
	}
	free(all);
	all = db_list(DMC_VDI, &n);
	for (size_t i = 0; i < n; i++) {
		if (!im_marked(all[i]->f[DMF_VDI_sm_config].c, false,
		               "import_task"))
			continue;
		vdis = xrealloc(vdis, (nvdis + 1) * sizeof(char *));
		vdis[nvdis++] = xstrdup(all[i]->ref);
	}
	free(all);
	db_unlock();
	if (nrows || nvdis) {
		log_warn("xva",
		         "removing %zu object(s) and %zu disk(s) of "
		         "interrupted imports",
		         nrows, nvdis);
		im_undo(rows, cls, nrows, vdis, nvdis);
	}
	for (size_t i = 0; i < nrows; i++)
		free(rows[i]);
	for (size_t i = 0; i < nvdis; i++)
		free(vdis[i]);
	free(rows);
	free(cls);
	free(vdis);
}
