/* http_xva: GET /export, /export_metadata and PUT /import, /import_metadata
 * (xapi export.ml / import.ml handlers): the XVA stream of a VM out, made
 * as the response is sent; an XVA upload in, read as it arrives; both with
 * a task (progress, cancel, the result). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"
#include "rpc/api_int.h"
#include "rpc/http.h"
#include "rpc/http_int.h"
#include "storage/sr.h"
#include "storage/xva.h"
#include "util/log.h"
#include "util/xalloc.h"

#define HX_BLOCK ((size_t)1 << 20)

static const char *
hx_arg(struct MHD_Connection *c, const char *name)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	if (!v)
		v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, name);
	return v;
}

static bool
hx_flag(struct MHD_Connection *c, const char *name, bool def)
{
	const char *v = hx_arg(c, name);
	return v ? strcmp(v, "true") == 0 : def;
}

/* Task progress; false once the task is being cancelled. */
static bool
hx_progress(void *ctx, double frac)
{
	const char *task = ctx;
	if (!task)
		return true;
	task_set_progress(task, frac);
	return !task_cancelling(task);
}

/* ---- export: the response reads the stream as it is made ---- */

struct hx_export {
	struct xva_export *x;
	char *task;
};

static ssize_t
hx_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hx_export *e = cls;
	(void)pos;
	ssize_t n = xva_export_read(e->x, buf, max);
	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
	              : MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The response is done with (sent, or the client went away). */
static void
hx_read_done(void *cls)
{
	struct hx_export *e = cls;
	struct api_err *err = xva_export_error(e->x);
	if (e->task)
		task_finish(e->task, NULL, err);
	api_err_free(err);
	xva_export_free(e->x);
	free(e->task);
	free(e);
}

/* The stream written into the socket (http_raw): no copy through MHD's
 * buffer, disk chunks sent from the image files. */
static enum MHD_Result
hx_export_direct(struct xva_export *x, struct http_raw *w, const char *task)
{
	const char *hdrs[] = {"Content-Disposition",
	                      "attachment; filename=\"export.xva\"",
	                      task ? "task-id" : NULL, task, NULL};
	struct xva_piece p;
	int r = 1;
	xva_export_direct(x);
	if (http_raw_head(w, 200, -1, "application/octet-stream", hdrs) < 0)
		r = -1;
	while (r > 0 && (r = xva_export_next(x, &p)) > 0) {
		int rc = p.fd >= 0
		             ? http_raw_file(w, p.fd, p.off, (int64_t)p.len)
		             : http_raw_buf(w, p.buf, p.len);
		if (rc < 0)
			r = -1;
	}
	struct api_err *err = xva_export_error(x);
	if (task)
		task_finish(task, NULL, err);
	api_err_free(err);
	xva_export_free(x);
	return http_raw_close(w);
}

/* Appends s to b, %-encoded as a query component. */
static void
hx_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~:", ch))
			buf_addc(b, (char)ch);
		else
			buf_addf(b, "%%%02X", ch);
	}
}

static enum MHD_Result
hx_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
             const char *value)
{
	struct buf *b = cls;
	(void)kind;
	if (b->data[b->len - 1] != '?')
		buf_addc(b, '&');
	hx_escape(b, key);
	if (value) {
		buf_addc(b, '=');
		hx_escape(b, value);
	}
	return MHD_YES;
}

enum MHD_Result
http_redirect(struct MHD_Connection *c, const char *address, const char *path)
{
	struct buf u = BUF_INIT;
	bool v6 = strchr(address, ':') != NULL;
	buf_addf(&u, "https://%s%s%s", v6 ? "[" : "", address, v6 ? "]" : "");
	if (pool_tls_port() != 443)
		buf_addf(&u, ":%d", pool_tls_port());
	buf_addf(&u, "%s?", path);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, hx_query_arg, &u);
	if (u.data[u.len - 1] == '?')
		u.data[--u.len] = '\0';
	/* (not the query: it holds the session) */
	log_info("http", "%s redirected to %s", path, address);
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    0, (void *)"", MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Location", u.data);
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_FOUND, r);
	MHD_destroy_response(r);
	buf_free(&u);
	return ret;
}

/* The VM of an export: ref= or uuid= (export.ml vm_from_request). */
static char *
hx_vm(struct MHD_Connection *c)
{
	const char *ref = hx_arg(c, "ref"), *uuid = hx_arg(c, "uuid");
	if (ref)
		return xstrdup(ref);
	return uuid ? api_ref_by_uuid(DMC_VM, uuid) : NULL;
}

enum MHD_Result
http_xva_export(struct MHD_Connection *c, bool local, bool metadata)
{
	struct api_ctx ctx;
	const char *task = hx_arg(c, "task_id");
	http_ctx_init(&ctx, c, local);
	struct api_err *err = http_auth(c, local, &ctx);
	api_ctx_clear(&ctx);
	if (err) /* xapi_http.ml assert_credentials_ok: 403 */
		return http_fail(c, task, err, MHD_HTTP_FORBIDDEN);
	char *vm = hx_vm(c);
	if (!err && !vm) {
		const char *id =
		    hx_arg(c, "ref") ? hx_arg(c, "ref") : hx_arg(c, "uuid");
		err = api_error(XE_HANDLE_INVALID, "VM", id ? id : "", NULL);
	}
	/* a host that sees the VM's disks serves it (export.ml: 302) */
	char *there = err || metadata ? NULL : xva_export_elsewhere(vm);
	if (there) {
		enum MHD_Result ret = http_redirect(c, there, "/export");
		free(there);
		free(vm);
		return ret;
	}
	struct xva_export *x = NULL;
	struct xva_export_req rq = {
	    .vm = vm,
	    .comp = xva_comp_parse(hx_arg(c, "use_compression")),
	    .preserve_power_state =
	        hx_flag(c, "preserve_power_state", metadata),
	    /* xapi includes snapshots only in metadata exports by default;
	     * export_snapshots=true brings them (and their disks) into a
	     * full export too */
	    .snapshots = hx_flag(c, "export_snapshots", metadata),
	    .metadata_only = metadata,
	    .progress = hx_progress,
	    .ctx = (void *)task,
	};
	if (!err)
		err = xva_export_prepare(&rq, &x);
	free(vm);
	if (err)
		return http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
	if (task)
		task_set_progress(task, 0.0);
	struct http_raw *w = http_raw_open(c);
	if (w)
		return hx_export_direct(x, w, task);
	struct hx_export *e = xcalloc(1, sizeof(*e));
	e->x = x;
	e->task = task ? xstrdup(task) : NULL;
	struct MHD_Response *r = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, HX_BLOCK, hx_read, e, hx_read_done);
	/* as xapi: HTTP/1.0, no length, the end of the body is the close
	 * (the task says whether all went well); MHD then reads the stream in
	 * whole blocks instead of the chunks its connection buffer allows */
	MHD_set_response_options(
	    r, MHD_RF_HTTP_VERSION_1_0_ONLY | MHD_RF_HTTP_VERSION_1_0_RESPONSE,
	    MHD_RO_END);
	MHD_add_response_header(r, "Content-Type", "application/octet-stream");
	MHD_add_response_header(r, "Content-Disposition",
	                        "attachment; filename=\"export.xva\"");
	if (task)
		MHD_add_response_header(r, "task-id", task);
	enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- import: the upload is fed to the importer as it arrives ---- */

/* The SR of an import: sr_id=, sr_uuid=, else the pool's default SR. */
static char *
hx_import_sr(struct MHD_Connection *c, struct api_err **err)
{
	const char *id = hx_arg(c, "sr_id"), *uuid = hx_arg(c, "sr_uuid");
	if (id)
		return xstrdup(id);
	if (uuid) {
		char *r = api_ref_by_uuid(DMC_SR, uuid);
		if (!r)
			*err = api_error(XE_UUID_INVALID, "SR", uuid, NULL);
		return r;
	}
	char *sr = NULL;
	db_rdlock();
	size_t n;
	struct db_row **pools = db_list(DMC_pool, &n);
	if (n)
		sr = xstrdup(pools[0]->f[DMF_pool_default_SR].s);
	free(pools);
	if (sr && !db_get(DMC_SR, sr))
		*err = api_error(XE_DEFAULT_SR_NOT_FOUND, sr, NULL);
	db_unlock();
	return sr;
}

void
http_xva_import_begin(struct MHD_Connection *c, struct http_req *rq, bool local,
                      bool metadata)
{
	struct api_ctx ctx;
	const char *task = hx_arg(c, "task_id");
	const char *len =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	rq->up_total = len ? strtoull(len, NULL, 10) : 0;
	http_ctx_init(&ctx, c, local);
	rq->up_err = http_auth(c, local, &ctx);
	api_ctx_clear(&ctx);
	char *sr = NULL;
	if (!rq->up_err && !metadata)
		sr = hx_import_sr(c, &rq->up_err);
	/* an SR only another member sees: the upload goes there (import.ml
	 * check_sr_availability) */
	if (!rq->up_err && sr &&
	    (rq->redirect = sr_elsewhere((const char *const *)&sr, 1))) {
		free(sr);
		return;
	}
	struct xva_import_req ir = {
	    .sr = sr,
	    .task = task,
	    .restore = hx_flag(c, "restore", false),
	    .force = hx_flag(c, "force", false),
	    .metadata_only = metadata,
	    .progress = hx_progress,
	    .ctx = NULL,
	};
	if (!rq->up_err) {
		rq->xva_task = task ? xstrdup(task) : NULL;
		ir.ctx = rq->xva_task;
		rq->up_err = xva_import_begin(&ir, &rq->xva);
	}
	if (!rq->up_err && task)
		task_set_progress(task, 0.0);
	free(sr);
}

void
http_xva_import_data(struct http_req *rq, const char *data, size_t n)
{
	rq->up_done += n; /* received, taken or not */
	if (rq->up_err || !rq->xva)
		return; /* the rest of the body is read and dropped */
	rq->up_err = xva_import_feed(rq->xva, data, n);
	if (rq->up_err) {
		/* undo at once: the space comes back before the body ends */
		xva_import_abort(rq->xva);
		rq->xva = NULL;
	}
}

/* The end of the upload: the import's result (the task done on success). */
static struct api_err *
hx_import_result(struct http_req *rq, const char *task)
{
	struct api_err *err = rq->up_err;
	xv *vms = NULL;
	rq->up_err = NULL;
	if (!err && rq->xva)
		err = xva_import_end(rq->xva, &vms);
	xva_import_abort(rq->xva); /* frees; undoes unless complete */
	rq->xva = NULL;
	XFREE(rq->xva_task);
	if (!err && task)
		task_finish(task, vms, NULL);
	xv_free(vms);
	return err;
}

enum MHD_Result
http_xva_import_end(struct MHD_Connection *c, struct http_req *rq)
{
	const char *task = hx_arg(c, "task_id");
	struct api_err *err = hx_import_result(rq, task);
	if (err)
		return http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
	struct buf b = BUF_INIT;
	return http_reply(c, MHD_HTTP_OK, "text/plain", &b);
}

#define HX_UP_BLOCK ((size_t)4 << 20)

enum MHD_Result
http_xva_import_direct(struct MHD_Connection *c, struct http_req *rq)
{
	const char *task = hx_arg(c, "task_id");
	struct http_raw *w = http_raw_open(c);
	if (!w)
		return MHD_YES;
	char *p = xmalloc(HX_UP_BLOCK);
	/* a failed import still reads the body (as MHD would), then says why */
	while (rq->up_done < rq->up_total) {
		uint64_t left = rq->up_total - rq->up_done;
		ssize_t n = http_raw_read(
		    w, p, left < HX_UP_BLOCK ? (size_t)left : HX_UP_BLOCK);
		if (n <= 0) { /* the client went away: the request's cleanup
			         undoes the import */
			log_info("http",
			         "import: upload ended after %llu of "
			         "%llu bytes",
			         (unsigned long long)rq->up_done,
			         (unsigned long long)rq->up_total);
			free(p);
			return http_raw_close(w);
		}
		http_xva_import_data(rq, p, (size_t)n);
	}
	free(p);
	struct api_err *err = hx_import_result(rq, task);
	if (err)
		return http_raw_fail(w, task, err, MHD_HTTP_BAD_REQUEST);
	if (http_raw_head(w, 200, 0, "text/plain", NULL) < 0)
		log_info("http", "import: the client left before the answer");
	return http_raw_close(w);
}
