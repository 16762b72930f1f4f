/* xva_export: the XVA stream of a VM (GET /export, /export_metadata). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "db/store.h"
#include "storage/sr.h"
#include "storage/vdi_stream.h"
#include "storage/xva.h"
#include "storage/xva_meta.h"
#include "storage/xva_read.h"
#include "storage/xva_tar.h"
#include "util/log.h"
#include "util/xalloc.h"

#define XO_BUF ((size_t)256 << 10)

struct xva_export {
	struct xva_export_req rq;
	char *vm;
	struct buf ova;
	struct xva_out_vdi *vdis;
	size_t nvdis;
	uint64_t total, done;
	double last_report;
};

enum xva_comp
xva_comp_parse(const char *s)
{
	if (s && (strcmp(s, "true") == 0 || strcmp(s, "gzip") == 0))
		return XVA_COMP_GZIP;
	if (s && strcmp(s, "zstd") == 0)
		return XVA_COMP_ZSTD;
	return XVA_COMP_NONE;
}

struct api_err *
xva_export_prepare(const struct xva_export_req *rq, struct xva_export **out)
{
	struct api_err *err = NULL;
	db_rdlock();
	const struct db_row *vm = db_get(DMC_VM, rq->vm);
	if (!vm) {
		err = api_error(XE_HANDLE_INVALID, "VM", rq->vm, NULL);
	} else if (!rq->metadata_only) {
		/* xapi_vm_lifecycle.ml: export needs halted or suspended */
		const char *ps = vm->f[DMF_VM_power_state].s;
		if (strcmp(ps, "Halted") != 0 && strcmp(ps, "Suspended") != 0) {
			char *low = xstrdup(ps);
			for (char *p = low; *p; p++)
				*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32
				                                   : *p);
			err = api_error(XE_VM_BAD_POWER_STATE, rq->vm,
			                "halted, suspended", low, NULL);
			free(low);
		}
	}
	db_unlock();
	if (err)
		return err;
	struct xva_export *x = xcalloc(1, sizeof(*x));
	x->rq = *rq;
	x->vm = xstrdup(rq->vm);
	x->rq.vm = x->vm;
	struct xva_build_opts o = {rq->preserve_power_state, rq->snapshots,
	                           rq->metadata_only};
	const char *vms[1] = {x->vm};
	if ((err = xva_meta_build(vms, 1, &o, &x->ova, &x->vdis, &x->nvdis))) {
		xva_export_free(x);
		return err;
	}
	for (size_t i = 0; i < x->nvdis; i++)
		x->total += (uint64_t)x->vdis[i].size;
	*out = x;
	return NULL;
}

void
xva_export_free(struct xva_export *x)
{
	if (!x)
		return;
	free(x->vm);
	buf_free(&x->ova);
	xva_out_vdis_free(x->vdis, x->nvdis);
	free(x);
}

/* ---- the output: a pipe, maybe through a compressor ---- */

struct xo {
	int fd;
	enum xva_comp comp;
	z_stream z;
	ZSTD_CStream *zs;
	unsigned char *buf;
	struct api_err *err;
};

static int
xo_raw(struct xo *o, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(o->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (!o->err)
				o->err = api_error_raw(
				    "CLIENT_ERROR",
				    (const char *const[]){strerror(errno)}, 1);
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
xo_write(struct xo *o, const void *p, size_t n, bool end)
{
	if (o->err)
		return -1;
	if (o->comp == XVA_COMP_NONE)
		return xo_raw(o, p, n);
	if (o->comp == XVA_COMP_GZIP) {
		o->z.next_in = (unsigned char *)p;
		o->z.avail_in = (uInt)n;
		int rc;
		do {
			o->z.next_out = o->buf;
			o->z.avail_out = (uInt)XO_BUF;
			rc = deflate(&o->z, end ? Z_FINISH : Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR)
				return -1;
			if (xo_raw(o, o->buf, XO_BUF - o->z.avail_out) < 0)
				return -1;
		} while (o->z.avail_out == 0 || (end && rc != Z_STREAM_END));
		return 0;
	}
	ZSTD_inBuffer in = {p, n, 0};
	for (;;) {
		ZSTD_outBuffer ob = {o->buf, XO_BUF, 0};
		size_t rc = ZSTD_compressStream2(
		    o->zs, &ob, &in, end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(rc))
			return -1;
		if (xo_raw(o, o->buf, ob.pos) < 0)
			return -1;
		if (end ? rc == 0 : in.pos == in.size)
			return 0;
	}
}

static void
xo_init(struct xo *o, int fd, enum xva_comp comp)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->comp = comp;
	if (comp == XVA_COMP_GZIP) {
		/* gzip wrapper, fastest level: the stream must keep up */
		deflateInit2(&o->z, 1, Z_DEFLATED, 15 + 16, 8,
		             Z_DEFAULT_STRATEGY);
	} else if (comp == XVA_COMP_ZSTD) {
		o->zs = ZSTD_createCStream();
		ZSTD_CCtx_setParameter(o->zs, ZSTD_c_compressionLevel, 3);
	}
	if (comp != XVA_COMP_NONE)
		o->buf = xmalloc(XO_BUF);
}

static void
xo_clear(struct xo *o)
{
	if (o->comp == XVA_COMP_GZIP)
		deflateEnd(&o->z);
	if (o->zs)
		ZSTD_freeCStream(o->zs);
	free(o->buf);
}

/* One tar member: header, data, padding. */
static int
xo_member(struct xo *o, const char *name, const void *data, size_t n)
{
	static const unsigned char zero[XVA_TAR_BLOCK];
	unsigned char h[XVA_TAR_BLOCK];
	xva_tar_header(h, name, n, time(NULL));
	if (xo_write(o, h, sizeof(h), false) < 0 ||
	    (n && xo_write(o, data, n, false) < 0))
		return -1;
	size_t pad = xva_tar_pad(n);
	return pad ? xo_write(o, zero, pad, false) : 0;
}

/* ---- disks ---- */

static double
xe_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct api_err *
xe_progress(struct xva_export *x)
{
	double now = xe_now();
	if (now - x->last_report < 1.0)
		return NULL;
	x->last_report = now;
	double frac = x->total ? (double)x->done / (double)x->total : 0.0;
	if (x->rq.progress &&
	    !x->rq.progress(x->rq.ctx, frac > 0.99 ? 0.99 : frac))
		return api_error(XE_TASK_CANCELLED, "", NULL);
	return NULL;
}

/* VDI_IO_ERROR (raised by xapi, missing from its published table). */
static struct api_err *
xe_io_error(const char *why)
{
	return api_error_raw("VDI_IO_ERROR", (const char *const[]){why}, 1);
}

/* True if any data extent of s meets [off, off + len). *i follows the
 * chunks forward. */
static bool
xe_has_data(const struct vdi_stream *s, size_t *i, int64_t off, int64_t len)
{
	while (*i < s->n && s->ext[*i].start + s->ext[*i].length <= off)
		(*i)++;
	for (size_t j = *i; j < s->n && s->ext[j].start < off + len; j++)
		if (s->ext[j].data)
			return true;
	return false;
}

static struct api_err *
xe_send_vdi(struct xva_export *x, struct xo *o, const struct xva_out_vdi *v,
            unsigned char *buf)
{
	struct vdi_stream *s = NULL;
	struct api_err *err = vdi_stream_open(v->vdi, NULL, "export", &s);
	if (err)
		return err;
	uint64_t size = (uint64_t)(s->size < v->size ? s->size : v->size);
	uint64_t nchunks = (size + XVA_CHUNK - 1) / XVA_CHUNK;
	size_t ei = 0;
	for (uint64_t c = 0; c < nchunks && !err; c++) {
		uint64_t off = c * XVA_CHUNK;
		size_t len =
		    size - off < XVA_CHUNK ? (size_t)(size - off) : XVA_CHUNK;
		bool edge = c == 0 || c + 1 == nchunks; /* always sent */
		x->done += len;
		if (!edge && !xe_has_data(s, &ei, (int64_t)off, (int64_t)len))
			continue;
		if (vdi_stream_pread(s, buf, len, (int64_t)off) < 0) {
			err = xe_io_error(strerror(errno));
			break;
		}
		if (!edge && xva_is_zero(buf, len))
			continue;
		char name[64], sum[17];
		snprintf(name, sizeof(name), "%s/%08llu", v->id,
		         (unsigned long long)c);
		snprintf(sum, sizeof(sum), "%016llX",
		         (unsigned long long)XXH64(buf, len, 0));
		if (xo_member(o, name, buf, len) < 0)
			break;
		strcat(name, ".xxhash");
		if (xo_member(o, name, sum, 16) < 0)
			break;
		err = xe_progress(x);
	}
	if (!err && o->err)
		err = api_error_raw(o->err->code,
		                    (const char *const *)o->err->params,
		                    o->err->n);
	vdi_stream_free(s);
	return err;
}

struct api_err *
xva_export_run(struct xva_export *x, int fd)
{
	struct xo o;
	struct api_err *err = NULL;
	static const unsigned char eoa[2 * XVA_TAR_BLOCK];
	xo_init(&o, fd, x->rq.metadata_only ? XVA_COMP_NONE : x->rq.comp);
	unsigned char *buf = xmalloc(XVA_CHUNK);
	x->last_report = xe_now();
	log_info("xva", "export of VM %s: %zu disk(s), %llu bytes", x->vm,
	         x->nvdis, (unsigned long long)x->total);
	if (xo_member(&o, "ova.xml", x->ova.data, x->ova.len) < 0)
		goto out;
	for (size_t i = 0; i < x->nvdis && !err && !o.err; i++)
		err = xe_send_vdi(x, &o, &x->vdis[i], buf);
	if (!err && !o.err)
		xo_write(&o, eoa, sizeof(eoa), true);
out:
	if (!err && o.err)
		err = api_error_raw(
		    o.err->code, (const char *const *)o.err->params, o.err->n);
	api_err_free(o.err);
	xo_clear(&o);
	free(buf);
	log_info("xva", "export of VM %s: %s", x->vm, err ? err->code : "done");
	return err;
}
