/* http_vdi: GET /export_raw_vdi and PUT /import_raw_vdi, a VDI's contents
 * as raw or VHD (xapi's export_raw_vdi.ml / import_raw_vdi.ml): the export
 * is generated from the image files while the client reads it, the upload
 * written into the new image while it arrives. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "db/store.h"
#include "rpc/api_int.h"
#include "rpc/http.h"
#include "rpc/http_int.h"
#include "storage/sr.h"
#include "storage/vdi_import.h"
#include "storage/vdi_stream.h"
#include "storage/vhd.h"
#include "util/log.h"
#include "util/xalloc.h"

#define HV_BLOCK (4 * 1024 * 1024)

static const char *
hv_arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* A VDI named by ref or uuid (as xapi's vdi_of_req), malloc'd, or NULL. */
static char *
hv_vdi(const char *v)
{
	char *r = NULL;
	if (!v || !*v)
		return NULL;
	db_rdlock();
	struct db_row *row = db_get(DMC_VDI, v);
	if (!row)
		row = db_get_by_uuid(DMC_VDI, v);
	if (row)
		r = xstrdup(row->ref);
	db_unlock();
	return r;
}

static char *
hv_uuid_of(const char *ref)
{
	db_rdlock();
	struct db_row *row = db_get(DMC_VDI, ref);
	char *u = row ? xstrdup(row->f[DMF_VDI_uuid].s) : NULL;
	db_unlock();
	return u;
}

/* The address of the member to serve a transfer of the VDI vdi_ref (or
 * of a new VDI in sr_ref) when this host does not see its SR, or NULL. */
static char *
hv_elsewhere_sr(const char *vdi_ref, const char *sr_ref)
{
	char *sr = NULL;
	if (vdi_ref) {
		db_rdlock();
		struct db_row *row = db_get(DMC_VDI, vdi_ref);
		sr = row ? xstrdup(row->f[DMF_VDI_SR].s) : NULL;
		db_unlock();
	} else if (sr_ref) {
		sr = xstrdup(sr_ref);
	}
	char *there = sr ? sr_elsewhere((const char *const *)&sr, 1) : NULL;
	free(sr);
	return there;
}

static char *
hv_elsewhere(const char *vdi_ref)
{
	return hv_elsewhere_sr(vdi_ref, NULL);
}

/* ---- export ---- */

struct hv_export {
	struct vdi_stream *s;
	struct vhd_out *vhd; /* NULL: raw */
	char *task;
	int64_t size, sent;
	int last_pct;
	struct timespec t0; /* when the body started */
};

/* Raw bytes at pos: the VDI's, or (with a base) zeros where it did not
 * change, as vhd-tool streams a raw difference. */
static int
hv_raw(const struct vdi_stream *s, char *buf, size_t len, int64_t pos)
{
	if (!s->has_base)
		return vdi_stream_pread(s, buf, len, pos);
	size_t i = vdi_stream_find(s, pos);
	while (len) {
		const struct vdi_extent *e = &s->ext[i++];
		int64_t left = e->start + e->length - pos;
		size_t n = left < (int64_t)len ? (size_t)left : len;
		if (!e->changed)
			memset(buf, 0, n);
		else if (vdi_stream_pread(s, buf, n, pos) < 0)
			return -1;
		buf += n;
		len -= n;
		pos += (int64_t)n;
	}
	return 0;
}

static ssize_t
hv_export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hv_export *x = cls;
	if ((int64_t)pos >= x->size)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (x->task && task_cancelling(x->task))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t n = (int64_t)max < x->size - (int64_t)pos
	               ? max
	               : (size_t)(x->size - (int64_t)pos);
	ssize_t r = (ssize_t)n;
	if (x->vhd)
		r = vhd_out_read(x->vhd, (int64_t)pos, buf, n);
	else if (hv_raw(x->s, buf, n, (int64_t)pos) < 0)
		r = -1;
	if (r <= 0) {
		log_warn("http", "export: %s",
		         r < 0 ? strerror(errno) : "short image");
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	x->sent = (int64_t)pos + r;
	int pct = (int)(x->sent * 100 / x->size);
	if (x->task && pct != x->last_pct) {
		x->last_pct = pct;
		task_set_progress(x->task, pct / 100.0);
	}
	return r;
}

/* The response is done with (sent, or the client went away). */
static void
hv_export_free(void *cls)
{
	struct hv_export *x = cls;
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("http", "export: %lld of %lld bytes in %.3f s",
	         (long long)x->sent, (long long)x->size,
	         (double)(t1.tv_sec - x->t0.tv_sec) +
	             (double)(t1.tv_nsec - x->t0.tv_nsec) / 1e9);
	if (x->task) {
		struct api_err *err = NULL;
		static const char *const io[] = {"Device I/O errors"};
		if (x->sent < x->size) /* not in xapi's generated table */
			err = api_error_raw("VDI_IO_ERROR", io, 1);
		task_finish(x->task, NULL, err);
		api_err_free(err);
	}
	vhd_out_free(x->vhd);
	vdi_stream_free(x->s);
	free(x->task);
	free(x);
}

/* Piece size of a direct export: progress and cancel are looked at in
 * between. */
#define HV_PIECE ((int64_t)64 * 1024 * 1024)

/* len bytes of extent e (from virtual offset pos) into w. */
static int
hv_direct_extent(struct hv_export *x, struct http_raw *w,
                 const struct vdi_extent *e, int64_t pos, int64_t len,
                 char **buf)
{
	const struct vdi_stream *s = x->s;
	int64_t in = pos - e->start;
	if (!e->data || (s->has_base && !e->changed))
		return http_raw_zeros(w, len);
	if (e->file >= 0 && (size_t)e->file < s->nfiles &&
	    s->fds[e->file] >= 0) {
		/* a sparse raw layer may end before its extent: zeros after */
		struct stat st;
		int fd = s->fds[e->file];
		int64_t off = e->offset + in, have = len;
		if (fstat(fd, &st) == 0 && st.st_size < off + len)
			have = st.st_size > off ? st.st_size - off : 0;
		if (have && http_raw_file(w, fd, off, have) < 0)
			return -1;
		return have < len ? http_raw_zeros(w, len - have) : 0;
	}
	/* through qemu-nbd */
	if (!*buf)
		*buf = xmalloc(HV_BLOCK);
	while (len > 0) {
		size_t n = len > HV_BLOCK ? HV_BLOCK : (size_t)len;
		if (vdi_stream_pread(s, *buf, n, pos) < 0) {
			log_warn("http", "export: %s", strerror(errno));
			return -1;
		}
		if (http_raw_buf(w, *buf, n) < 0)
			return -1;
		pos += (int64_t)n;
		len -= (int64_t)n;
	}
	return 0;
}

/* The raw body written into the socket (http_raw), extent by extent. */
static enum MHD_Result
hv_export_direct(struct hv_export *x, struct http_raw *w,
                 const char *const *headers)
{
	const struct vdi_stream *s = x->s;
	char *buf = NULL;
	int64_t pos = 0;
	int rc =
	    http_raw_head(w, 200, x->size, "application/octet-stream", headers);
	while (rc == 0 && pos < x->size) {
		if (x->task && task_cancelling(x->task))
			break;
		const struct vdi_extent *e =
		    s->n ? &s->ext[vdi_stream_find(s, pos)] : NULL;
		bool in = e && e->start <= pos && pos < e->start + e->length;
		/* past the map: zeros */
		int64_t len = in ? e->start + e->length - pos : x->size - pos;
		if (len > HV_PIECE)
			len = HV_PIECE;
		rc = in ? hv_direct_extent(x, w, e, pos, len, &buf)
		        : http_raw_zeros(w, len);
		pos += len;
		x->sent = http_raw_sent(w);
		int pct = (int)(x->sent * 100 / (x->size ? x->size : 1));
		if (x->task && pct != x->last_pct) {
			x->last_pct = pct;
			task_set_progress(x->task, pct / 100.0);
		}
	}
	free(buf);
	x->sent = http_raw_sent(w);
	hv_export_free(x);
	return http_raw_close(w);
}

enum MHD_Result
http_export_vdi(struct MHD_Connection *c, bool local)
{
	struct api_ctx ctx;
	const char *task = hv_arg(c, "task_id"), *format = hv_arg(c, "format");
	const char *base_arg = hv_arg(c, "base");
	char *vdi = NULL, *base = NULL, *uuid = NULL, *buuid = NULL;
	struct vdi_stream *s = NULL;
	bool vhd = format && strcmp(format, "vhd") == 0;
	http_ctx_init(&ctx, c, local);
	struct api_err *err = http_auth(c, local, &ctx);
	api_ctx_clear(&ctx);
	if (err) /* xapi_http.ml assert_credentials_ok: 403 */
		return http_fail(c, task, err, MHD_HTTP_FORBIDDEN);
	if (format && *format && !vhd && strcmp(format, "raw") != 0) {
		char *m = xasprintf("Unknown format %s", format);
		err = api_error(XE_INTERNAL_ERROR, m, NULL);
		free(m);
	}
	if (!err && !(vdi = hv_vdi(hv_arg(c, "vdi"))))
		err = api_error(XE_HANDLE_INVALID, "VDI",
		                hv_arg(c, "vdi") ? hv_arg(c, "vdi") : "", NULL);
	if (!err && base_arg && *base_arg && !(base = hv_vdi(base_arg)))
		err = api_error(XE_HANDLE_INVALID, "VDI", base_arg, NULL);
	/* an SR only another member sees: served there (export_raw_vdi.ml) */
	char *there = err ? NULL : hv_elsewhere(vdi);
	if (there) {
		enum MHD_Result ret =
		    http_redirect(c, there, "/export_raw_vdi");
		free(there);
		free(vdi);
		free(base);
		return ret;
	}
	if (!err)
		err = vdi_stream_open(vdi, base, "export", &s);
	if (!err && vhd && s->size > VHD_MAX_SIZE) {
		char m[32];
		snprintf(m, sizeof(m), "%lld", (long long)VHD_MAX_SIZE);
		err = api_error(XE_VDI_TOO_LARGE, vdi, m, NULL);
	}
	if (err) {
		vdi_stream_free(s);
		free(vdi);
		free(base);
		return http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
	}
	struct hv_export *x = xcalloc(1, sizeof(*x));
	x->s = s;
	x->task = task ? xstrdup(task) : NULL;
	x->last_pct = -1;
	clock_gettime(CLOCK_MONOTONIC, &x->t0);
	uuid = hv_uuid_of(vdi);
	if (vhd) {
		buuid = base ? hv_uuid_of(base) : NULL;
		x->vhd =
		    vhd_out_new(s, uuid, base ? (buuid ? buuid : "") : NULL);
		x->size = vhd_out_size(x->vhd);
	} else {
		x->size = s->size;
	}
	log_info("http", "export of VDI %s%s%s as %s: %lld bytes",
	         uuid ? uuid : vdi, base ? " since " : "", base ? base : "",
	         vhd ? "vhd" : "raw", (long long)x->size);
	char disp[128];
	snprintf(disp, sizeof(disp), "attachment; filename=\"%s.%s\"",
	         uuid ? uuid : "vdi", vhd ? "vhd" : "raw");
	struct http_raw *w = vhd ? NULL : http_raw_open(c);
	if (w) {
		const char *hdrs[] = {"Content-Disposition", disp,
		                      task ? "Task-Id" : NULL, task, NULL};
		free(uuid);
		free(buuid);
		free(vdi);
		free(base);
		return hv_export_direct(x, w, hdrs);
	}
	struct MHD_Response *r = MHD_create_response_from_callback(
	    (uint64_t)x->size, HV_BLOCK, hv_export_read, x, hv_export_free);
	MHD_add_response_header(r, "Content-Type",
	                        vhd ? "application/vhd"
	                            : "application/octet-stream");
	MHD_add_response_header(r, "Content-Disposition", disp);
	if (task)
		MHD_add_response_header(r, "Task-Id", task);
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	free(uuid);
	free(buuid);
	free(vdi);
	free(base);
	return ret;
}

/* ---- import ---- */

/* The SR an import without vdi= creates its VDI in (sr_id= ref or
 * sr_uuid=, as xapi's sr_of_req), or NULL. */
static char *
hv_sr(struct MHD_Connection *c)
{
	const char *id = hv_arg(c, "sr_id"), *u = hv_arg(c, "sr_uuid");
	char *r = NULL;
	db_rdlock();
	struct db_row *row = id  ? db_get(DMC_SR, id)
	                     : u ? db_get_by_uuid(DMC_SR, u)
	                         : NULL;
	if (row)
		r = xstrdup(row->ref);
	db_unlock();
	return r;
}

void
http_import_begin(struct MHD_Connection *c, struct http_req *rq, bool local)
{
	struct api_ctx ctx;
	const char *v = hv_arg(c, "vdi"), *format = hv_arg(c, "format");
	const char *task = hv_arg(c, "task_id");
	const char *len =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	rq->up_task = task ? xstrdup(task) : NULL;
	rq->up_total = len ? strtoull(len, NULL, 10) : 0;
	http_ctx_init(&ctx, c, local);
	rq->up_err = http_auth(c, local, &ctx);
	api_ctx_clear(&ctx);
	if (rq->up_err)
		return;
	if (v) {
		if (!(rq->up_vdi = hv_vdi(v)))
			rq->up_err =
			    api_error(XE_HANDLE_INVALID, "VDI", v, NULL);
		/* import_raw_vdi.ml: a member that sees the SR takes it */
		else if ((rq->redirect = hv_elsewhere(rq->up_vdi)))
			return;
	} else {
		/* xapi: a raw upload of known length into a new VDI of the SR
		 */
		char *sr = hv_sr(c);
		bool raw = !format || strcmp(format, "raw") == 0;
		if (sr && (rq->redirect = hv_elsewhere_sr(NULL, sr))) {
			free(sr);
			return;
		}
		if (sr && raw && rq->up_total)
			rq->up_err =
			    sr_vdi_new(sr, "Imported VDI",
			               (int64_t)rq->up_total, &rq->up_vdi);
		else if (sr && !raw && format && strcmp(format, "vhd") == 0)
			rq->up_err = api_error(XE_INTERNAL_ERROR,
			                       "Importing a VHD directly into "
			                       "an SR not yet supported",
			                       NULL);
		else
			rq->up_err = api_error(
			    XE_INTERNAL_ERROR,
			    "Not enough info supplied to import", NULL);
		rq->up_created = rq->up_vdi != NULL;
		free(sr);
	}
	if (!rq->up_err)
		rq->up_err = vdi_import_begin(rq->up_vdi, format, &rq->imp);
	/* xapi's chunked upload (query or cookie chunked=), vdi_chunked.h */
	if (!rq->up_err &&
	    (hv_arg(c, "chunked") ||
	     MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "chunked")))
		rq->up_err = vdi_import_chunked(rq->imp);
	if (!rq->up_err && rq->up_total) {
		struct api_err *e =
		    vdi_import_expect(rq->imp, (int64_t)rq->up_total);
		if (e)
			rq->up_err = api_error_raw(
			    e->code, (const char *const *)e->params, e->n);
	}
}

void
http_import_cleanup(struct http_req *rq)
{
	vdi_import_abort(rq->imp); /* the client went away mid-upload */
	rq->imp = NULL;
	if (rq->up_created && rq->up_vdi) { /* nothing half-imported stays */
		api_err_free(sr_vdi_delete(rq->up_vdi));
		rq->up_created = false;
	}
	XFREE(rq->up_vdi);
	XFREE(rq->up_task);
}

void
http_import_data(struct http_req *rq, const char *data, size_t len)
{
	uint64_t before = rq->up_done;
	rq->up_done += len; /* received, taken or not */
	if (!rq->imp || rq->up_err)
		return;
	if (rq->up_task && task_cancelling(rq->up_task)) {
		rq->up_err = api_error(XE_TASK_CANCELLED, rq->up_task, NULL);
		return;
	}
	struct api_err *e = vdi_import_feed(rq->imp, data, len);
	if (e)
		rq->up_err = api_error_raw(
		    e->code, (const char *const *)e->params, e->n);
	if (rq->up_task && rq->up_total &&
	    before * 100 / rq->up_total != rq->up_done * 100 / rq->up_total)
		task_set_progress(rq->up_task,
		                  (double)(rq->up_done * 100 / rq->up_total) /
		                      100.0);
}

/* The upload is complete (or failed): its result, with the task done on
 * success (the task's result is the VDI, as xapi's). */
static struct api_err *
hv_import_result(struct http_req *rq, const char *task)
{
	struct api_err *err = rq->up_err;
	rq->up_err = NULL;
	if (err) {
		vdi_import_abort(rq->imp);
	} else if (rq->imp) {
		err = vdi_import_finish(rq->imp);
	} else {
		err = api_internal("import: no upload");
	}
	rq->imp = NULL;
	if (err)
		return err;
	rq->up_created = false; /* the VDI is the import's result now */
	if (task) {
		xv *res = xv_str(rq->up_vdi);
		task_finish(task, res, NULL);
		xv_free(res);
	}
	return NULL;
}

enum MHD_Result
http_import_end(struct MHD_Connection *c, struct http_req *rq)
{
	const char *task = hv_arg(c, "task_id");
	struct api_err *err = hv_import_result(rq, task);
	if (err)
		return http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
	struct buf b = BUF_INIT;
	return http_reply(c, MHD_HTTP_OK, "text/plain", &b);
}

/* Reads per call of a direct upload. */
#define HV_UP_BLOCK (4 * 1024 * 1024)

enum MHD_Result
http_import_direct(struct MHD_Connection *c, struct http_req *rq)
{
	const char *task = hv_arg(c, "task_id");
	struct http_raw *w = http_raw_open(c);
	if (!w)
		return MHD_YES;
	void *p = NULL;
	if (posix_memalign(&p, 4096, HV_UP_BLOCK) != 0)
		abort();
	/* a failed import still reads the body (as MHD would), then says why */
	while (rq->up_done < rq->up_total) {
		uint64_t left = rq->up_total - rq->up_done;
		ssize_t n = http_raw_read(
		    w, p, left < HV_UP_BLOCK ? (size_t)left : HV_UP_BLOCK);
		if (n <= 0) { /* the client went away: the request's cleanup
			         removes what the upload made */
			log_info("http",
			         "import: upload ended after %llu of "
			         "%llu bytes",
			         (unsigned long long)rq->up_done,
			         (unsigned long long)rq->up_total);
			free(p);
			return http_raw_close(w);
		}
		http_import_data(rq, p, (size_t)n);
	}
	free(p);
	struct api_err *err = hv_import_result(rq, task);
	if (err)
		return http_raw_fail(w, task, err, MHD_HTTP_BAD_REQUEST);
	if (http_raw_head(w, 200, 0, "text/plain", NULL) < 0)
		log_info("http", "import: the client left before the answer");
	return http_raw_close(w);
}
