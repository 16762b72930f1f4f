/* xva_export: the XVA stream of a VM (GET /export, /export_metadata). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
/* The mapping window of a direct export's image file. */
#define XE_WIN ((int64_t)64 << 20)

static double
xe_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The compressor in front of the output (none: bytes go as they are). */
struct xo {
	enum xva_comp comp;
	z_stream z;
	ZSTD_CStream *zs;
	struct buf *out;
};

enum xe_state { XS_OVA, XS_DISKS, XS_END, XS_DONE };

/* Direct mode: a helper thread checks (zeros? XXH64) the chunk after the
 * one the export thread checks, both in the mapped window: two cores hash. */
struct xe_ahead {
	bool started, quit;
	pthread_t th;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool busy;   /* posted and not yet taken */
	bool done;   /* the answer is there */
	int64_t off; /* the chunk's virtual offset */
	const unsigned char *p;
	bool zero;
	unsigned long long hash;
};

struct xva_export {
	struct xva_export_req rq;
	char *vm;
	struct buf ova;
	struct xva_out_vdi *vdis;
	size_t nvdis;
	uint64_t total, done;
	double last_report;
	/* the stream, made as it is read: pre, then data (uncompressed chunk
	 * bytes, not copied), then post */
	enum xe_state st;
	struct xo o;
	struct buf pre, post;
	size_t pre_off, post_off;
	const unsigned char *data;
	size_t dlen;
	bool direct; /* xva_export_next: data may be a file range */
	int map_fd;  /* xe_mapped_chunk's answer */
	int64_t map_off;
	struct xe_ahead ahead;
	void *win; /* a mapped window of an image file (direct mode) */
	size_t win_len;
	int win_fd;
	int64_t win_start;
	int data_fd;      /* >= 0: the data is dlen bytes of data_fd at */
	int64_t data_off; /* data_off (direct only) */
	unsigned char *chunk;
	size_t vi;            /* the disk being sent */
	struct vdi_stream *s; /* its contents, NULL between disks */
	uint64_t c, nchunks, size;
	size_t ei;
	struct api_err *err;
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
	x->chunk = xmalloc(XVA_CHUNK);
	x->data_fd = -1;
	x->win_fd = -1;
	x->o.comp = rq->metadata_only ? XVA_COMP_NONE : rq->comp;
	if (x->o.comp == XVA_COMP_GZIP) {
		/* gzip wrapper, fastest level: the stream must keep up */
		deflateInit2(&x->o.z, 1, Z_DEFLATED, 15 + 16, 8,
		             Z_DEFAULT_STRATEGY);
	} else if (x->o.comp == XVA_COMP_ZSTD) {
		x->o.zs = ZSTD_createCStream();
		ZSTD_CCtx_setParameter(x->o.zs, ZSTD_c_compressionLevel, 3);
	}
	x->last_report = xe_now();
	log_info("xva", "export of VM %s: %zu disk(s), %llu bytes", x->vm,
	         x->nvdis, (unsigned long long)x->total);
	*out = x;
	return NULL;
}

static void xo_clear(struct xo *o);
static void xe_unmap(struct xva_export *x);
static void xe_ahead_stop(struct xva_export *x);

void
xva_export_free(struct xva_export *x)
{
	if (!x)
		return;
	xo_clear(&x->o);
	buf_free(&x->pre);
	buf_free(&x->post);
	free(x->chunk);
	xe_unmap(x);
	xe_ahead_stop(x);
	vdi_stream_free(x->s);
	api_err_free(x->err);
	free(x->vm);
	buf_free(&x->ova);
	xva_out_vdis_free(x->vdis, x->nvdis);
	free(x);
}

/* ---- the output: bytes appended to a buffer, maybe compressed ---- */

static void
xo_clear(struct xo *o)
{
	if (o->comp == XVA_COMP_GZIP)
		deflateEnd(&o->z);
	if (o->zs)
		ZSTD_freeCStream(o->zs);
	o->zs = NULL;
	o->comp = XVA_COMP_NONE;
}

/* Appends n bytes (through the compressor) to out; end flushes it. */
static int
xo_write(struct xo *o, struct buf *out, const void *p, size_t n, bool end)
{
	if (o->comp == XVA_COMP_NONE) {
		buf_add(out, p, n);
		return 0;
	}
	if (o->comp == XVA_COMP_GZIP) {
		o->z.next_in = (unsigned char *)p;
		o->z.avail_in = (uInt)n;
		int rc;
		do {
			buf_reserve(out, XO_BUF);
			o->z.next_out = (unsigned char *)out->data + out->len;
			o->z.avail_out = (uInt)XO_BUF;
			rc = deflate(&o->z, end ? Z_FINISH : Z_NO_FLUSH);
			if (rc == Z_STREAM_ERROR)
				return -1;
			out->len += XO_BUF - o->z.avail_out;
		} while (o->z.avail_out == 0 || (end && rc != Z_STREAM_END));
		return 0;
	}
	ZSTD_inBuffer in = {p, n, 0};
	for (;;) {
		buf_reserve(out, XO_BUF);
		ZSTD_outBuffer ob = {out->data + out->len, XO_BUF, 0};
		size_t rc = ZSTD_compressStream2(
		    o->zs, &ob, &in, end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(rc))
			return -1;
		out->len += ob.pos;
		if (end ? rc == 0 : in.pos == in.size)
			return 0;
	}
}

/* One tar member: its header into pre; its data into pre too when
 * compressing, else referenced (x->data); the padding into post. */
static int
xe_member(struct xva_export *x, const char *name, const void *data, size_t n,
          bool by_ref)
{
	static const unsigned char zero[XVA_TAR_BLOCK];
	unsigned char h[XVA_TAR_BLOCK];
	struct buf *tail = &x->pre;
	xva_tar_header(h, name, n, time(NULL));
	if (xo_write(&x->o, &x->pre, h, sizeof(h), false) < 0)
		return -1;
	if (by_ref && x->o.comp == XVA_COMP_NONE) {
		x->data = data;
		x->dlen = n;
		tail = &x->post;
	} else if (n && xo_write(&x->o, &x->pre, data, n, false) < 0) {
		return -1;
	}
	size_t pad = xva_tar_pad(n);
	return pad ? xo_write(&x->o, tail, zero, pad, false) : 0;
}

/* ---- the disks ---- */

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

/* ---- the helper thread: checks the chunk after the current one ---- */

static void *
xe_ahead_main(void *arg)
{
	struct xe_ahead *a = arg;
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->quit && (!a->busy || a->done))
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->quit)
			break;
		const unsigned char *p = a->p;
		pthread_mutex_unlock(&a->lock);
		bool zero = xva_is_zero(p, XVA_CHUNK);
		unsigned long long h =
		    zero ? 0 : (unsigned long long)XXH64(p, XVA_CHUNK, 0);
		pthread_mutex_lock(&a->lock);
		a->zero = zero;
		a->hash = h;
		a->done = true;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* The helper, started on first use; false if there is none. */
static bool
xe_ahead_start(struct xva_export *x)
{
	struct xe_ahead *a = &x->ahead;
	if (a->started)
		return true;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	if (pthread_create(&a->th, NULL, xe_ahead_main, a) != 0) {
		pthread_mutex_destroy(&a->lock);
		pthread_cond_destroy(&a->cond);
		return false;
	}
	a->started = true;
	return true;
}

/* Hands the helper the chunk at virtual offset off, mapped at p. */
static void
xe_ahead_post(struct xva_export *x, int64_t off, const unsigned char *p)
{
	struct xe_ahead *a = &x->ahead;
	pthread_mutex_lock(&a->lock);
	a->off = off;
	a->p = p;
	a->done = false;
	a->busy = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

/* Waits until the helper no longer reads the window (its answer dropped). */
static void
xe_ahead_wait(struct xva_export *x)
{
	struct xe_ahead *a = &x->ahead;
	if (!a->busy)
		return;
	pthread_mutex_lock(&a->lock);
	while (!a->done)
		pthread_cond_wait(&a->cond, &a->lock);
	a->busy = false;
	pthread_mutex_unlock(&a->lock);
}

static void
xe_ahead_stop(struct xva_export *x)
{
	struct xe_ahead *a = &x->ahead;
	if (!a->started)
		return;
	xe_ahead_wait(x);
	pthread_mutex_lock(&a->lock);
	a->quit = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->th, NULL);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	a->started = false;
}

/* Drops the mapping window (before the stream's files are closed). */
static void
xe_unmap(struct xva_export *x)
{
	xe_ahead_wait(x);
	if (x->win)
		munmap(x->win, x->win_len);
	x->win = NULL;
	x->win_fd = -1;
}

/* Makes [foff, foff + len) of fd readable at x->win: a window of up to
 * XE_WIN bytes of the file, mapped (and populated) once for many chunks.
 * False if it cannot (the file ends early, ...). */
static bool
xe_map(struct xva_export *x, int fd, int64_t foff, size_t len)
{
	if (x->win && x->win_fd == fd && foff >= x->win_start &&
	    foff + (int64_t)len <= x->win_start + (int64_t)x->win_len)
		return true;
	xe_unmap(x);
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size < foff + (int64_t)len)
		return false; /* a sparse raw layer ending early: the slow way
		               */
	int64_t pg = sysconf(_SC_PAGESIZE), start = foff / pg * pg;
	int64_t end = start + XE_WIN;
	if (end > st.st_size)
		end = st.st_size;
	if (end < foff + (int64_t)len)
		end = foff + (int64_t)len;
	void *m = mmap(NULL, (size_t)(end - start), PROT_READ,
	               MAP_SHARED | MAP_POPULATE, fd, (off_t)start);
	if (m == MAP_FAILED)
		return false;
	x->win = m;
	x->win_len = (size_t)(end - start);
	x->win_fd = fd;
	x->win_start = start;
	return true;
}

/*
 * Direct exports of uncompressed streams: a chunk that lies in one data
 * extent of a local image file is checksummed through a mapping of the
 * file (no copy) and then sent from the file (sendfile). Returns 1 (*h
 * set; x->map_fd/map_off say where), 2 if it is all zeros (and not an
 * edge chunk), 0 if the chunk must be read into the buffer, -1 on error.
 */
static int
xe_mapped_chunk(struct xva_export *x, int64_t off, size_t len, bool edge,
                unsigned long long *h)
{
	const struct vdi_stream *s = x->s;
	if (!x->direct || x->o.comp != XVA_COMP_NONE || !s->n)
		return 0;
	const struct vdi_extent *e = &s->ext[vdi_stream_find(s, off)];
	if (!e->data || e->file < 0 || (size_t)e->file >= s->nfiles ||
	    s->fds[e->file] < 0 || e->start > off ||
	    e->start + e->length < off + (int64_t)len)
		return 0;
	int fd = s->fds[e->file];
	int64_t foff = e->offset + (off - e->start);
	x->map_fd = fd;
	x->map_off = foff;
	struct xe_ahead *a = &x->ahead;
	if (a->busy && a->off == off) { /* the helper has it */
		pthread_mutex_lock(&a->lock);
		while (!a->done)
			pthread_cond_wait(&a->cond, &a->lock);
		a->busy = false;
		pthread_mutex_unlock(&a->lock);
		*h = a->hash;
		return a->zero ? 2 : 1;
	}
	xe_ahead_wait(x); /* (a chunk skipped after all) */
	if (!xe_map(x, fd, foff, len))
		return 0;
	const unsigned char *p =
	    (const unsigned char *)x->win + (foff - x->win_start);
	/* the next chunk, if it is a whole one of the same extent and window
	 * and not the last, is checked by the helper meanwhile */
	const int64_t ck = (int64_t)XVA_CHUNK;
	int64_t noff = off + ck, nfoff = foff + ck;
	if (len == XVA_CHUNK && noff + ck < (int64_t)x->size &&
	    noff + ck <= e->start + e->length &&
	    nfoff + ck <= x->win_start + (int64_t)x->win_len &&
	    xe_ahead_start(x))
		xe_ahead_post(x, noff, p + XVA_CHUNK);
	int r = 1;
	if (!edge && xva_is_zero(p, len))
		r = 2;
	else
		*h = (unsigned long long)XXH64(p, len, 0);
	return r;
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

/* The next chunk of the disks (or the end of one) into the output. */
static struct api_err *
xe_next_chunk(struct xva_export *x)
{
	struct api_err *err = NULL;
	if (!x->s) {
		if (x->vi == x->nvdis) {
			x->st = XS_END;
			return NULL;
		}
		if ((err = vdi_stream_open(x->vdis[x->vi].vdi, NULL, "export",
		                           &x->s)))
			return err;
		int64_t vs = x->vdis[x->vi].size;
		x->size = (uint64_t)(x->s->size < vs ? x->s->size : vs);
		x->nchunks = (x->size + XVA_CHUNK - 1) / XVA_CHUNK;
		x->c = 0;
		x->ei = 0;
	}
	const struct xva_out_vdi *v = &x->vdis[x->vi];
	for (; x->c < x->nchunks; x->c++) {
		uint64_t c = x->c, off = c * XVA_CHUNK;
		size_t len = x->size - off < XVA_CHUNK ? (size_t)(x->size - off)
		                                       : XVA_CHUNK;
		bool edge = c == 0 || c + 1 == x->nchunks; /* always sent */
		x->done += len;
		if ((err = xe_progress(x)))
			return err;
		if (!edge &&
		    !xe_has_data(x->s, &x->ei, (int64_t)off, (int64_t)len))
			continue;
		unsigned long long hash = 0;
		int r = xe_mapped_chunk(x, (int64_t)off, len, edge, &hash);
		if (r < 0)
			return xe_io_error(strerror(errno));
		if (r == 2)
			continue; /* zeros */
		if (r == 0) {
			if (vdi_stream_pread(x->s, x->chunk, len,
			                     (int64_t)off) < 0)
				return xe_io_error(strerror(errno));
			if (!edge && xva_is_zero(x->chunk, len))
				continue;
			hash = (unsigned long long)XXH64(x->chunk, len, 0);
		}
		char name[64], sum[17];
		snprintf(name, sizeof(name), "%s/%08llu", v->id,
		         (unsigned long long)c);
		snprintf(sum, sizeof(sum), "%016llX", hash);
		x->c++;
		if (xe_member(x, name, x->chunk, len, true) < 0)
			return api_internal("export: compression failed");
		if (r == 1) { /* sent from the file, not the buffer */
			x->data = NULL;
			x->data_fd = x->map_fd;
			x->data_off = x->map_off;
		}
		/* the checksum follows the data */
		struct buf *tail =
		    x->o.comp == XVA_COMP_NONE ? &x->post : &x->pre;
		unsigned char h[XVA_TAR_BLOCK] = {0};
		strcat(name, ".xxhash");
		xva_tar_header(h, name, 16, time(NULL));
		if (xo_write(&x->o, tail, h, sizeof(h), false) < 0)
			return api_internal("export: compression failed");
		unsigned char blk[XVA_TAR_BLOCK] = {0};
		memcpy(blk, sum, 16);
		if (xo_write(&x->o, tail, blk, sizeof(blk), false) < 0)
			return api_internal("export: compression failed");
		return NULL;
	}
	xe_unmap(x);
	vdi_stream_free(x->s);
	x->s = NULL;
	x->vi++;
	return NULL;
}

/* Makes the next piece of the stream. */
static struct api_err *
xe_step(struct xva_export *x)
{
	static const unsigned char eoa[2 * XVA_TAR_BLOCK];
	buf_reset(&x->pre);
	buf_reset(&x->post);
	x->pre_off = x->post_off = 0;
	x->data = NULL;
	x->dlen = 0;
	x->data_fd = -1;
	switch (x->st) {
	case XS_OVA:
		x->st = XS_DISKS;
		if (xe_member(x, "ova.xml", x->ova.data, x->ova.len, false) < 0)
			return api_internal("export: compression failed");
		return NULL;
	case XS_DISKS:
		return xe_next_chunk(x);
	case XS_END:
		x->st = XS_DONE;
		if (xo_write(&x->o, &x->pre, eoa, sizeof(eoa), true) < 0)
			return api_internal("export: compression failed");
		return NULL;
	case XS_DONE:
		break;
	}
	return NULL;
}

static size_t
xe_take(void *dst, size_t max, const void *src, size_t n, size_t *off)
{
	size_t k = n - *off < max ? n - *off : max;
	memcpy(dst, (const char *)src + *off, k);
	*off += k;
	return k;
}

ssize_t
xva_export_read(struct xva_export *x, void *buf, size_t max)
{
	char *p = buf;
	size_t n = 0;
	while (n < max) {
		if (x->pre_off < x->pre.len) {
			n += xe_take(p + n, max - n, x->pre.data, x->pre.len,
			             &x->pre_off);
		} else if (x->dlen) {
			size_t k = x->dlen < max - n ? x->dlen : max - n;
			memcpy(p + n, x->data, k);
			x->data += k;
			x->dlen -= k;
			n += k;
		} else if (x->post_off < x->post.len) {
			n += xe_take(p + n, max - n, x->post.data, x->post.len,
			             &x->post_off);
		} else if (x->st == XS_DONE || x->err) {
			break;
		} else if ((x->err = xe_step(x))) {
			log_warn("xva", "export of VM %s: %s", x->vm,
			         x->err->code);
			break;
		}
	}
	if (n)
		return (ssize_t)n;
	if (x->err)
		return -1;
	log_info("xva", "export of VM %s: done", x->vm);
	return 0;
}

void
xva_export_direct(struct xva_export *x)
{
	x->direct = true;
}

int
xva_export_next(struct xva_export *x, struct xva_piece *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = -1;
	for (;;) {
		if (x->pre_off < x->pre.len) {
			p->buf = x->pre.data + x->pre_off;
			p->len = x->pre.len - x->pre_off;
			x->pre_off = x->pre.len;
			return 1;
		}
		if (x->dlen) {
			p->buf = x->data;
			p->fd = x->data_fd;
			p->off = x->data_off;
			p->len = x->dlen;
			x->dlen = 0;
			return 1;
		}
		if (x->post_off < x->post.len) {
			p->buf = x->post.data + x->post_off;
			p->len = x->post.len - x->post_off;
			x->post_off = x->post.len;
			return 1;
		}
		if (x->err)
			return -1;
		if (x->st == XS_DONE) {
			log_info("xva", "export of VM %s: done", x->vm);
			return 0;
		}
		if ((x->err = xe_step(x))) {
			log_warn("xva", "export of VM %s: %s", x->vm,
			         x->err->code);
			return -1;
		}
	}
}

struct api_err *
xva_export_error(const struct xva_export *x)
{
	if (x->err)
		return api_error_raw(x->err->code,
		                     (const char *const *)x->err->params,
		                     x->err->n);
	if (x->st != XS_DONE)
		return api_error_raw(
		    "CLIENT_ERROR",
		    (const char *const[]){"the client went away"}, 1);
	return NULL;
}
