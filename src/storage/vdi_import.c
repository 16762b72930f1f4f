/* vdi_import: uploads written straight into a fresh qcow2 (see the header). */
#include "storage/vdi_import.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "db/store.h"
#include "storage/qcow2_write.h"
#include "storage/nbd.h"
#include "storage/sr.h"
#include "storage/sr_file.h"
#include "storage/sr_fs.h"
#include "storage/sr_priv.h"
#include "storage/vdi_chunked.h"
#include "storage/vdi_stream.h"
#include "storage/vhd.h"
#include "util/log.h"
#include "util/xalloc.h"

#define VI_CL QCOW2W_CLUSTER

struct vdi_import {
	char *vdi_ref;
	char *dst;   /* the VDI's image */
	char *tmp;   /* the new image until it is renamed */
	int lock_fd; /* holds a lock on tmp while we own it */
	bool vhd;
	bool remote; /* the SR is on NFS: dst and tmp are nfs:// URLs */
	int64_t vsize;
	struct qcow2w *w; /* local SRs: the image written directly */
	struct nbd *nbd;  /* nfs SRs: the image written through qemu-nbd */
	uint8_t *done;    /* nfs: a bit per cluster written */
	char *sr_ref;
	struct api_err *err;
	/* raw */
	int64_t pos;
	uint8_t *cl; /* the cluster being gathered */
	struct vdi_chunked *ch; /* xapi's chunked upload (vdi_chunked.h) */
	/* vhd */
	struct vhd_in *in;
	struct vdi_stream *cur; /* what the VDI holds now */
	uint8_t *blk;
	bool *blocks_done;
	int64_t nblocks;
	uint32_t block_size;
};

static struct api_err *
vi_sys_err(const char *what, int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return api_error(XE_SR_FULL, "", "", NULL);
	return api_error(XE_SR_BACKEND_FAILURE, "1", "", what, strerror(e),
	                 NULL);
}

/* True if a running VM has the VDI attached, even read-only: its image is
 * not swapped under a reader. Call with the read lock. */
static bool
vi_attached(const struct db_row *vdi)
{
	const struct dm_coll *vbds = vdi->f[DMF_VDI_VBDs].c;
	for (size_t i = 0; vbds && i < vbds->n; i++) {
		struct db_row *vbd = db_get(DMC_VBD, vbds->v[i].s);
		if (vbd && vbd->f[DMF_VBD_currently_attached].b)
			return true;
	}
	return false;
}

/* Renames the partial image to name (the VDI's image), or removes it
 * (name NULL), through the SR's storage (libnfs on NFS). */
static struct api_err *
vi_sr_file(struct vdi_import *im, const char *name)
{
	struct sr_call c;
	const char *tmp = strrchr(im->tmp, '/') + 1;
	struct api_err *err = sr_call_prepare(im->sr_ref, &c);
	if (err)
		return err;
	struct sr_fs *fs = srf_open(&c.ctx, &err);
	if (fs) {
		if ((name ? sr_fs_rename(fs, tmp, name)
		          : sr_fs_unlink(fs, tmp)) < 0)
			err = srf_fs_fail(fs,
			                  name ? "import" : "import clean-up");
		sr_fs_close(fs);
	}
	sr_call_clear(&c);
	return err;
}

/* On NFS: the new image made by qemu-img and written through qemu-nbd (no
 * local file to write; zero clusters stay unallocated all the same). */
static struct api_err *
vi_remote_create(struct vdi_import *im)
{
	char sz[32], *why = NULL;
	snprintf(sz, sizeof(sz), "%lld", (long long)im->vsize);
	char *argv[] = {"qemu-img", "create", "-q", "-f",
	                "qcow2",    im->tmp,  sz,   NULL};
	im->remote = true;
	struct api_err *err = srf_qemu_img("import", argv);
	if (err)
		return err;
	if (!(im->nbd = nbd_open(im->tmp, "qcow2", false, &why))) {
		err = api_error(XE_SR_BACKEND_FAILURE, "1", "",
		                why ? why : "qemu-nbd failed", NULL);
		api_err_free(vi_sr_file(im, NULL));
	}
	free(why);
	im->done = xcalloc((size_t)(im->vsize / VI_CL / 8 + 1), 1);
	return err;
}

/* True if cluster idx of the new image was written. */
static bool
vi_written(const struct vdi_import *im, int64_t idx)
{
	if (im->nbd)
		return im->done[idx / 8] & (1u << (idx % 8));
	return qcow2w_written(im->w, idx);
}

static int vi_vhd_block(void *ctx, uint32_t block, const uint8_t *bitmap,
                        const uint8_t *data, uint32_t block_size);

struct api_err *
vdi_import_begin(const char *vdi_ref, const char *format,
                 struct vdi_import **out)
{
	bool vhd = format && strcmp(format, "vhd") == 0;
	const char *fmt = NULL;
	struct api_err *err = NULL;
	*out = NULL;
	if (format && *format && !vhd && strcmp(format, "raw") != 0) {
		char *m = xasprintf("Unknown format %s", format);
		err = api_error(XE_INTERNAL_ERROR, m, NULL);
		free(m);
		return err;
	}
	struct vdi_stream *cur = NULL;
	if ((err = vdi_stream_open(vdi_ref, NULL, "import", &cur)))
		return err;
	struct vdi_import *im = xcalloc(1, sizeof(*im));
	im->lock_fd = -1;
	im->vhd = vhd;
	im->cur = cur;
	im->vdi_ref = xstrdup(vdi_ref);
	db_rdlock();
	struct db_row *vdi = db_get(DMC_VDI, vdi_ref);
	if (!vdi)
		err = api_error(XE_HANDLE_INVALID, "VDI", vdi_ref, NULL);
	else if (vi_attached(vdi))
		err = api_error(XE_VDI_IN_USE, vdi_ref, "import", NULL);
	else
		im->vsize = vdi->f[DMF_VDI_virtual_size].i;
	if (!err)
		im->dst = sr_vdi_path(vdi_ref, &fmt, &err);
	if (!err)
		im->sr_ref = xstrdup(vdi->f[DMF_VDI_SR].s);
	db_unlock();
	if (!err && strcmp(fmt, "qcow2") != 0)
		err = api_error(XE_SR_OPERATION_NOT_SUPPORTED, vdi_ref, NULL);
	if (!err) {
		char *dir = xstrdup(im->dst), *slash = strrchr(dir, '/');
		char *u = db_new_uuid();
		if (slash)
			*slash = '\0';
		/* named after this run of xapid: on NFS, where there is no
		 * lock, that tells whose partial image it is after a crash */
		im->tmp = xasprintf("%s/" VDI_IMPORT_TMP_PREFIX "%s.%s.tmp",
		                    slash ? dir : ".", sr_run_tag(), u);
		free(u);
		free(dir);
		if (strstr(im->dst, "://"))
			err = vi_remote_create(im);
		else if (!(im->w = qcow2w_create(im->tmp, im->vsize)))
			err = vi_sys_err("create", errno);
	}
	if (!err && im->w) {
		/* a scan removes partial images nobody holds locked */
		im->lock_fd = open(im->tmp, O_RDONLY | O_CLOEXEC);
		if (im->lock_fd < 0 || flock(im->lock_fd, LOCK_EX) < 0)
			err = vi_sys_err("lock", errno);
	}
	if (!err && vhd) {
		im->in = vhd_in_new(-1, vi_vhd_block, im);
	} else if (!err) {
		im->cl = xmalloc(VI_CL);
	}
	if (err) {
		vdi_import_abort(im);
		return err;
	}
	*out = im;
	return NULL;
}

/* ---- raw ---- */

static int
vi_raw_cluster(struct vdi_import *im, int64_t idx, const void *p)
{
	if (qcow2w_is_zero(p, VI_CL))
		return 0;
	if (im->nbd) {
		int64_t off = idx * VI_CL;
		size_t n =
		    im->vsize - off < VI_CL ? (size_t)(im->vsize - off) : VI_CL;
		int e = nbd_pwrite(im->nbd, p, n, (uint64_t)off);
		if (e) {
			im->err = vi_sys_err("write", e);
			return -1;
		}
		im->done[idx / 8] |= (uint8_t)(1u << (idx % 8));
		return 0;
	}
	if (qcow2w_write(im->w, idx, p) < 0) {
		im->err = vi_sys_err("write", errno);
		return -1;
	}
	return 0;
}

static void
vi_raw_feed(struct vdi_import *im, const uint8_t *p, size_t len)
{
	if (im->pos + (int64_t)len > im->vsize) {
		char n[32];
		snprintf(n, sizeof(n), "%lld",
		         (long long)(im->pos + (int64_t)len));
		im->err = api_error(XE_VDI_TOO_SMALL, im->vdi_ref, n, NULL);
		return;
	}
	while (len) {
		size_t in = (size_t)(im->pos % VI_CL);
		if (in == 0 && len >= VI_CL) { /* whole clusters need no copy */
			if (vi_raw_cluster(im, im->pos / VI_CL, p) < 0)
				return;
			p += VI_CL;
			len -= VI_CL;
			im->pos += VI_CL;
			continue;
		}
		size_t n = VI_CL - in < len ? VI_CL - in : len;
		memcpy(im->cl + in, p, n);
		p += n;
		len -= n;
		im->pos += (int64_t)n;
		if (im->pos % VI_CL == 0 &&
		    vi_raw_cluster(im, im->pos / VI_CL - 1, im->cl) < 0)
			return;
	}
}

/* Moves the raw position forward to off: the bytes skipped read as zeros
 * (whole clusters are never written). */
static void
vi_raw_skip(struct vdi_import *im, int64_t off)
{
	size_t in = (size_t)(im->pos % VI_CL);
	if (in) {
		int64_t end = im->pos - (int64_t)in + VI_CL;
		int64_t stop = off < end ? off : end;
		memset(im->cl + in, 0, (size_t)(stop - im->pos));
		im->pos = stop;
		if (im->pos % VI_CL == 0 &&
		    vi_raw_cluster(im, im->pos / VI_CL - 1, im->cl) < 0)
			return;
	}
	if (im->pos < off) {
		im->pos = off;
		memset(im->cl, 0, (size_t)(im->pos % VI_CL));
	}
}

static void
vi_raw_end(struct vdi_import *im)
{
	size_t in = (size_t)(im->pos % VI_CL);
	if (in) {
		memset(im->cl + in, 0, VI_CL - in);
		vi_raw_cluster(im, im->pos / VI_CL, im->cl);
	}
}

/* ---- vhd ---- */

/* Writes the non-zero clusters of len bytes at virtual offset off. */
static int
vi_put(struct vdi_import *im, const uint8_t *p, int64_t off, size_t len)
{
	for (size_t at = 0; at < len && off + (int64_t)at < im->vsize;
	     at += VI_CL)
		if (vi_raw_cluster(im, (off + (int64_t)at) / VI_CL, p + at) < 0)
			return -1;
	return 0;
}

static int
vi_vhd_block(void *ctx, uint32_t block, const uint8_t *bitmap,
             const uint8_t *data, uint32_t block_size)
{
	struct vdi_import *im = ctx;
	int64_t off = (int64_t)block * block_size;
	uint32_t sectors = block_size / 512;
	if (block_size < VI_CL) {
		im->err = api_error(
		    XE_SR_BACKEND_FAILURE, "1", "",
		    "VHD blocks smaller than 64 KiB are not supported", NULL);
		return -1;
	}
	if (!im->blk) {
		im->block_size = block_size;
		im->nblocks = (im->vsize + block_size - 1) / block_size;
		im->blk = xmalloc(block_size);
		im->blocks_done =
		    xcalloc((size_t)im->nblocks + 1, sizeof(bool));
	}
	/* a VHD may be a little larger than the VDI (qemu rounds its size to a
	 * CHS geometry): fine as long as nothing but zeros lies beyond */
	for (uint32_t s = 0; s < sectors; s++) {
		int64_t at = off + (int64_t)s * 512;
		if (at + 512 > im->vsize &&
		    (bitmap[s / 8] & (0x80 >> (s % 8))) &&
		    !qcow2w_is_zero(data + (size_t)s * 512 +
		                        (at < im->vsize ? im->vsize - at : 0),
		                    at < im->vsize
		                        ? (size_t)(at + 512 - im->vsize)
		                        : 512)) {
			char n[32];
			snprintf(n, sizeof(n), "%lld",
			         (long long)vhd_in_size(im->in));
			im->err =
			    api_error(XE_VDI_TOO_SMALL, im->vdi_ref, n, NULL);
			return -1;
		}
	}
	if (off >= im->vsize)
		return 0;
	bool all = true;
	for (uint32_t i = 0; i < sectors / 8 && all; i++)
		all = bitmap[i] == 0xff;
	if (all) {
		memcpy(im->blk, data, block_size);
	} else {
		/* sectors absent from the VHD keep the VDI's data */
		if (vdi_stream_pread(im->cur, im->blk, block_size, off) < 0) {
			im->err = vi_sys_err("read", errno);
			return -1;
		}
		for (uint32_t s = 0; s < sectors; s++)
			if (bitmap[s / 8] & (0x80 >> (s % 8)))
				memcpy(im->blk + (size_t)s * 512,
				       data + (size_t)s * 512, 512);
	}
	im->blocks_done[block] = true;
	return vi_put(im, im->blk, off, block_size);
}

/* What the VHD did not cover keeps the VDI's current data. */
static void
vi_vhd_rest(struct vdi_import *im)
{
	uint8_t *c = xmalloc(VI_CL);
	for (size_t i = 0; i < im->cur->n && !im->err; i++) {
		const struct vdi_extent *e = &im->cur->ext[i];
		if (!e->data)
			continue;
		for (int64_t idx = e->start / VI_CL;
		     idx * VI_CL < e->start + e->length &&
		     idx * VI_CL < im->vsize && !im->err;
		     idx++) {
			int64_t b =
			    im->block_size ? idx * VI_CL / im->block_size : -1;
			if ((b >= 0 && b < im->nblocks && im->blocks_done[b]) ||
			    vi_written(im, idx))
				continue;
			if (vdi_stream_pread(im->cur, c, VI_CL, idx * VI_CL) <
			    0)
				im->err = vi_sys_err("read", errno);
			else
				vi_raw_cluster(im, idx, c);
		}
	}
	free(c);
}

struct api_err *
vdi_import_expect(struct vdi_import *im, int64_t len)
{
	if (!im->err && !im->vhd && !im->ch && len > im->vsize) {
		char n[32];
		snprintf(n, sizeof(n), "%lld", (long long)len);
		im->err = api_error(XE_VDI_TOO_SMALL, im->vdi_ref, n, NULL);
	}
	return im->err;
}

/* A piece of a chunked upload: raw data at a disk offset. */
static int
vi_chunk_piece(void *ctx, int64_t off, const void *data, size_t len)
{
	struct vdi_import *im = ctx;
	return vdi_import_feed_at(im, off, data, len) ? -1 : 0;
}

struct api_err *
vdi_import_chunked(struct vdi_import *im)
{
	if (im->vhd) /* as xapi's import_raw_vdi.ml */
		return api_error(XE_INTERNAL_ERROR, "Cannot handle chunked VHD",
		                 NULL);
	if (!im->ch)
		im->ch = vdi_chunked_new(im->vsize, vi_chunk_piece, im);
	return NULL;
}

/* The chunked parser refused the upload: its reason as an API error. */
static void
vi_chunked_fail(struct vdi_import *im)
{
	if (im->err)
		return;
	if (vdi_chunked_too_far(im->ch)) {
		char n[32];
		snprintf(n, sizeof(n), "%lld",
		         (long long)vdi_chunked_too_far(im->ch));
		im->err = api_error(XE_VDI_TOO_SMALL, im->vdi_ref, n, NULL);
	} else {
		im->err = api_error(XE_SR_BACKEND_FAILURE, "1", "",
		                    vdi_chunked_error(im->ch), NULL);
	}
}

struct api_err *
vdi_import_feed(struct vdi_import *im, const void *data, size_t len)
{
	if (im->err)
		return im->err;
	if (im->ch) {
		if (vdi_chunked_feed(im->ch, data, len) < 0)
			vi_chunked_fail(im);
		return im->err;
	}
	if (!im->vhd) {
		vi_raw_feed(im, data, len);
		return im->err;
	}
	if (vhd_in_feed(im->in, data, len) < 0 && !im->err) {
		const char *why = vhd_in_error(im->in);
		if (vhd_in_too_large(im->in)) {
			char n[32];
			snprintf(n, sizeof(n), "%lld",
			         (long long)vhd_in_size(im->in));
			im->err =
			    api_error(XE_VDI_TOO_SMALL, im->vdi_ref, n, NULL);
		} else {
			im->err = api_error(XE_SR_BACKEND_FAILURE, "1", "", why,
			                    NULL);
		}
	}
	return im->err;
}

struct api_err *
vdi_import_feed_at(struct vdi_import *im, int64_t off, const void *data,
                   size_t len)
{
	if (!im->err && (im->vhd || off < im->pos)) {
		char *m = xasprintf("raw data at %lld after %lld", (long long)off,
		                    (long long)im->pos);
		im->err = api_error(XE_INTERNAL_ERROR, m, NULL);
		free(m);
	}
	if (!im->err && off > im->vsize) {
		char n[32];
		snprintf(n, sizeof(n), "%lld", (long long)off);
		im->err = api_error(XE_VDI_TOO_SMALL, im->vdi_ref, n, NULL);
	}
	if (im->err)
		return im->err;
	vi_raw_skip(im, off);
	if (!im->err)
		vi_raw_feed(im, data, len);
	return im->err;
}

/* The VDI's physical utilisation and its SR's space figures after the
 * swap (a failure to update them only gets logged). */
static void
vi_update_space(struct vdi_import *im)
{
	struct sr_call c;
	struct api_err *err = sr_call_prepare(im->sr_ref, &c);
	if (!err) {
		db_rdlock();
		struct db_row *row = db_get(DMC_VDI, im->vdi_ref);
		char *loc = row ? xstrdup(row->f[DMF_VDI_location].s) : NULL;
		db_unlock();
		int64_t used = loc ? c.drv->vdi_used(&c.ctx, loc) : -1;
		struct db_txn *t = db_txn_begin();
		struct db_row *r = db_txn_edit(t, DMC_VDI, im->vdi_ref);
		if (r && used >= 0)
			db_txn_set(t, r, DMF_VDI_physical_utilisation,
			           (union dm_val){.i = used});
		err = sr_commit_space(t, &c);
		free(loc);
		sr_call_clear(&c);
	}
	if (err) {
		log_warn("sr",
		         "VDI %s imported; its space figures not updated: %s",
		         im->vdi_ref, err->code);
		api_err_free(err);
	}
}

static struct api_err *
vi_install(struct vdi_import *im)
{
	struct api_err *err = NULL;
	const char *fmt = NULL;
	struct qcow2w *w = im->w;
	im->w = NULL;
	if (im->nbd) {
		int e = nbd_flush(im->nbd);
		int rc = nbd_close(im->nbd);
		im->nbd = NULL;
		if (e || rc)
			return vi_sys_err("finish", e ? e : EIO);
	} else if (qcow2w_finish(w) < 0) {
		return vi_sys_err("finish", errno);
	}
	/* the VDI's image must still be where it was (no clone moved it) */
	sr_chain_hold(true);
	db_rdlock();
	char *now = db_get(DMC_VDI, im->vdi_ref)
	                ? sr_vdi_path(im->vdi_ref, &fmt, &err)
	                : NULL;
	db_unlock();
	if (!err && (!now || strcmp(now, im->dst) != 0))
		err = api_error(XE_VDI_IN_USE, im->vdi_ref, "import", NULL);
	if (!err && im->remote)
		err = vi_sr_file(im, strrchr(im->dst, '/') + 1);
	else if (!err && rename(im->tmp, im->dst) < 0)
		err = vi_sys_err("rename", errno);
	sr_chain_hold(false);
	free(now);
	if (err && im->remote) {
		api_err_free(vi_sr_file(im, NULL));
	} else if (err) {
		unlink(im->tmp);
	} else {
		char *dir = xstrdup(im->dst), *slash = strrchr(dir, '/');
		if (slash) {
			*slash = '\0';
			int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd >= 0) {
				fsync(dfd);
				close(dfd);
			}
		}
		free(dir);
		log_info("sr", "VDI %s: %s image imported", im->vdi_ref,
		         im->vhd ? "vhd" : "raw");
		vi_update_space(im);
	}
	return err;
}

struct api_err *
vdi_import_finish(struct vdi_import *im)
{
	struct api_err *err = im->err;
	im->err = NULL;
	if (!err && im->ch && vdi_chunked_finish(im->ch) < 0) {
		vi_chunked_fail(im);
	} else if (!err && !im->vhd) {
		vi_raw_end(im);
	} else if (!err) {
		if (vhd_in_finish(im->in) < 0)
			im->err = api_error(XE_SR_BACKEND_FAILURE, "1", "",
			                    vhd_in_error(im->in), NULL);
		else
			vi_vhd_rest(im);
	}
	if (!err)
		err = im->err;
	im->err = NULL;
	if (!err)
		err = vi_install(im);
	vdi_import_abort(im);
	return err;
}

void
vdi_import_abort(struct vdi_import *im)
{
	if (!im)
		return;
	qcow2w_abort(im->w);
	if (im->nbd) {
		nbd_close(im->nbd);
		api_err_free(vi_sr_file(im, NULL));
	}
	free(im->done);
	free(im->sr_ref);
	if (im->lock_fd >= 0)
		close(im->lock_fd);
	api_err_free(im->err);
	vhd_in_free(im->in);
	vdi_chunked_free(im->ch);
	vdi_stream_free(im->cur);
	free(im->blk);
	free(im->blocks_done);
	free(im->cl);
	free(im->tmp);
	free(im->dst);
	free(im->vdi_ref);
	free(im);
}
