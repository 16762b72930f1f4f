/* http_xva: GET /export, /export_metadata and PUT /import, /import_metadata
 * (xapi export.ml / import.ml handlers): the XVA stream of a VM out, an XVA
 * upload in, both with a task (progress, cancel, the result). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc/api_int.h"
#include "rpc/http.h"
#include "rpc/http_int.h"
#include "storage/xva.h"
#include "util/log.h"
#include "util/xalloc.h"

#define HX_BLOCK ((size_t)256 << 10)

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

/* ---- export: a producer thread writes the stream into a pipe that the
 * response reads ---- */

struct hx_pipe {
	int rfd;
	int refs;   /* producer + response */
	int failed; /* the producer stopped on an error */
};

static void
hx_pipe_unref(struct hx_pipe *p)
{
	if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(p);
}

static ssize_t
hx_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct hx_pipe *p = cls;
	(void)pos;
	for (;;) {
		ssize_t n = read(p->rfd, buf, max);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0)
			return n;
		if (n == 0 && !__atomic_load_n(&p->failed, __ATOMIC_ACQUIRE))
			return MHD_CONTENT_READER_END_OF_STREAM;
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void
hx_read_done(void *cls)
{
	struct hx_pipe *p = cls;
	close(p->rfd);
	hx_pipe_unref(p);
}

struct hx_job {
	struct xva_export *x;
	int wfd;
	char *task;
	struct hx_pipe *p;
};

static void *
hx_export_main(void *arg)
{
	struct hx_job *j = arg;
	struct api_err *err = xva_export_run(j->x, j->wfd);
	if (err)
		__atomic_store_n(&j->p->failed, 1, __ATOMIC_RELEASE);
	close(j->wfd);
	if (j->task)
		task_finish(j->task, NULL, err);
	api_err_free(err);
	xva_export_free(j->x);
	hx_pipe_unref(j->p);
	free(j->task);
	free(j);
	return NULL;
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
	char *vm = err ? NULL : hx_vm(c);
	if (!err && !vm) {
		const char *id =
		    hx_arg(c, "ref") ? hx_arg(c, "ref") : hx_arg(c, "uuid");
		err = api_error(XE_HANDLE_INVALID, "VM", id ? id : "", NULL);
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
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		xva_export_free(x);
		return http_fail(c, task,
		                 api_internal("pipe: %s", strerror(errno)),
		                 MHD_HTTP_INTERNAL_SERVER_ERROR);
	}
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	if (task)
		task_set_progress(task, 0.0);
	struct hx_pipe *p = xcalloc(1, sizeof(*p));
	p->rfd = fds[0];
	p->refs = 2;
	struct hx_job *j = xcalloc(1, sizeof(*j));
	j->x = x;
	j->wfd = fds[1];
	j->task = task ? xstrdup(task) : NULL;
	j->p = p;
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	struct MHD_Response *r = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, HX_BLOCK, hx_read, p, hx_read_done);
	if (pthread_create(&th, &attr, hx_export_main, j) != 0) {
		pthread_attr_destroy(&attr);
		close(fds[1]);
		__atomic_store_n(&p->failed, 1, __ATOMIC_RELEASE);
		hx_pipe_unref(p);
		xva_export_free(x);
		free(j->task);
		free(j);
		MHD_destroy_response(r);
		return http_fail(c, task,
		                 api_internal("cannot start the export"),
		                 MHD_HTTP_INTERNAL_SERVER_ERROR);
	}
	pthread_attr_destroy(&attr);
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
	http_ctx_init(&ctx, c, local);
	rq->up_err = http_auth(c, local, &ctx);
	api_ctx_clear(&ctx);
	char *sr = NULL;
	if (!rq->up_err && !metadata)
		sr = hx_import_sr(c, &rq->up_err);
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
	if (rq->up_err || !rq->xva)
		return; /* the rest of the body is read and dropped */
	rq->up_err = xva_import_feed(rq->xva, data, n);
	if (rq->up_err) {
		/* undo at once: the space comes back before the body ends */
		xva_import_abort(rq->xva);
		rq->xva = NULL;
	}
}

enum MHD_Result
http_xva_import_end(struct MHD_Connection *c, struct http_req *rq)
{
	const char *task = hx_arg(c, "task_id");
	struct api_err *err = rq->up_err;
	xv *vms = NULL;
	rq->up_err = NULL;
	if (!err && rq->xva)
		err = xva_import_end(rq->xva, &vms);
	xva_import_abort(rq->xva); /* frees; undoes unless complete */
	rq->xva = NULL;
	XFREE(rq->xva_task);
	if (err)
		return http_fail(c, task, err, MHD_HTTP_BAD_REQUEST);
	if (task)
		task_finish(task, vms, NULL);
	xv_free(vms);
	struct buf b = BUF_INIT;
	return http_reply(c, MHD_HTTP_OK, "text/plain", &b);
}
