/* xva_read: decompression, tar entries and disk chunks of an XVA stream. */
#include "storage/xva_read.h"

#include <ctype.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "storage/xva_tar.h"
#include "util/log.h"
#include "util/xalloc.h"

/* The largest chunk accepted (xapi writes 1 MiB; the format allows more). */
#define RD_CHUNK_MAX ((size_t)16 << 20)
#define RD_NAME_MAX 4096
#define RD_OUTBUF ((size_t)256 << 10)

enum rd_comp { RD_SNIFF, RD_RAW, RD_GZIP, RD_ZSTD };
enum rd_tar { RD_HDR, RD_DATA, RD_PAD, RD_END };
enum rd_entry { E_OVA, E_LONGNAME, E_CHUNK, E_CSUM, E_SKIP };

struct xva_read {
	const struct xva_read_ops *ops;
	void *ctx;
	bool force, meta_only;
	struct api_err *err; /* sticky */

	enum rd_comp comp;
	unsigned char sniff[XVA_TAR_BLOCK];
	size_t nsniff;
	z_stream z;
	bool z_init;
	ZSTD_DStream *zs;
	unsigned char *out;

	enum rd_tar tar;
	unsigned char hdr[XVA_TAR_BLOCK];
	size_t nhdr;
	uint64_t left; /* data or padding bytes still to come */
	uint64_t pad;
	enum rd_entry entry;
	char name[XVA_TAR_NAME_MAX + RD_NAME_MAX];
	char *longname; /* a GNU long name for the next entry */
	bool first;     /* no file entry seen yet */

	struct buf ova;
	struct xva_meta meta;
	bool have_meta;

	size_t vdi;       /* the disk whose chunks come now */
	uint64_t off;     /* where the next chunk of that disk goes */
	long last;        /* its last chunk number (-1: none yet) */
	int64_t firstlen; /* length of the first chunk of the stream */
	unsigned char *chunk;
	size_t chunk_cap, chunk_len;
	bool pending; /* a chunk awaits its checksum */
	uint64_t pend_off;
	char pend_name[XVA_TAR_NAME_MAX + RD_NAME_MAX];
	char csum[128];
	size_t ncsum;
	uint64_t done_bytes, total_bytes;
};

bool
xva_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t head = len < 64 ? len : 64;
	for (size_t i = 0; i < head; i++)
		if (p[i])
			return false;
	return len <= 64 || memcmp(p, p + 64, len - 64) == 0;
}

struct xva_read *
xva_read_new(const struct xva_read_ops *ops, void *ctx, bool force,
             bool meta_only)
{
	struct xva_read *r = xcalloc(1, sizeof(*r));
	r->ops = ops;
	r->ctx = ctx;
	r->force = force;
	r->meta_only = meta_only;
	r->first = true;
	r->last = -1;
	r->firstlen = -1;
	return r;
}

void
xva_read_free(struct xva_read *r)
{
	if (!r)
		return;
	if (r->z_init)
		inflateEnd(&r->z);
	if (r->zs)
		ZSTD_freeDStream(r->zs);
	free(r->out);
	free(r->longname);
	free(r->chunk);
	buf_free(&r->ova);
	xva_meta_clear(&r->meta);
	api_err_free(r->err);
	free(r);
}

void
xva_read_progress(const struct xva_read *r, uint64_t *done, uint64_t *total)
{
	*done = r->done_bytes;
	*total = r->total_bytes;
}

static struct api_err *rd_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static struct api_err *
rd_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_error(XE_IMPORT_ERROR, msg, NULL);
}

static struct api_err *
rd_premature(void)
{
	return api_error(XE_IMPORT_ERROR_PREMATURE_EOF, NULL);
}

/* ---- disks ---- */

static struct api_err *
rd_next_vdi(struct xva_read *r)
{
	struct api_err *err = NULL;
	if (r->ops->vdi_done)
		err = r->ops->vdi_done(r->ctx, r->vdi);
	r->vdi++;
	r->off = 0;
	r->last = -1;
	return err;
}

/* A verified chunk: on to the owner unless it is all zeros. */
static struct api_err *
rd_deliver(struct xva_read *r)
{
	struct api_err *err = NULL;
	r->pending = false;
	if (r->chunk_len && !xva_is_zero(r->chunk, r->chunk_len))
		err = r->ops->data(r->ctx, r->vdi, r->pend_off, r->chunk,
		                   r->chunk_len);
	r->off = r->pend_off + r->chunk_len;
	r->done_bytes += r->chunk_len;
	if (!err && r->off >= (uint64_t)r->meta.vdis[r->vdi].size)
		err = rd_next_vdi(r);
	return err;
}

static void
rd_hex(const unsigned char *d, size_t n, char *out, bool upper)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *dig = upper ? up : lo;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = dig[d[i] >> 4];
		out[2 * i + 1] = dig[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The checksum file of the pending chunk has been read: compare. */
static struct api_err *
rd_verify(struct xva_read *r)
{
	char want[129], got[64];
	size_t n = r->ncsum;
	memcpy(want, r->csum, n);
	while (n && isspace((unsigned char)want[n - 1]))
		n--;
	want[n] = '\0';
	size_t nl = strlen(r->name);
	if (nl > 7 && strcmp(r->name + nl - 7, ".xxhash") == 0) {
		uint64_t h = XXH64(r->chunk, r->chunk_len, 0);
		snprintf(got, sizeof(got), "%016" PRIX64, h);
	} else {
		unsigned char d[20];
		if (gnutls_hash_fast(GNUTLS_DIG_SHA1, r->chunk, r->chunk_len,
		                     d) < 0)
			return rd_fail("cannot compute SHA-1");
		rd_hex(d, sizeof(d), got, false);
	}
	if (strcasecmp(want, got) != 0) {
		char msg[640];
		snprintf(msg, sizeof(msg),
		         "Block %.200s checksum failed: original = %.64s; "
		         "recomputed = %.32s",
		         r->pend_name, want, got);
		if (!r->force)
			return api_error(XE_IMPORT_ERROR, msg, NULL);
		log_warn("xva", "%.200s (ignored: force)", msg);
	}
	return rd_deliver(r);
}

/* "<id>/<digits>" of the current disk: sets *num. */
static struct api_err *
rd_chunk_name(struct xva_read *r, const char *name, long *num)
{
	const char *id = r->meta.vdis[r->vdi].id;
	size_t il = strlen(id);
	const char *suf = name + il + 1;
	if (strncmp(name, id, il) != 0 || name[il] != '/')
		return rd_fail("Expected VDI chunk prefixed %.200s; got %.200s",
		               id, name);
	size_t sl = strlen(suf);
	if (sl == 0 || sl > 9)
		return rd_fail("Invalid chunk name %.200s", name);
	for (size_t i = 0; i < sl; i++)
		if (!isdigit((unsigned char)suf[i]))
			return rd_fail("Invalid chunk name %.200s", name);
	*num = strtol(suf, NULL, 10);
	return NULL;
}

/* A tar entry begins (after ova.xml): what is it? */
static struct api_err *
rd_begin_stream_entry(struct xva_read *r, uint64_t size)
{
	struct api_err *err;
	if (r->pending) {
		size_t pl = strlen(r->pend_name);
		if (strncmp(r->name, r->pend_name, pl) == 0 &&
		    (strcmp(r->name + pl, ".xxhash") == 0 ||
		     strcmp(r->name + pl, ".checksum") == 0)) {
			if (size >= sizeof(r->csum))
				return rd_fail(
				    "Checksum file %.200s is too large",
				    r->name);
			r->entry = E_CSUM;
			r->ncsum = 0;
			return NULL;
		}
		if (r->meta.export_vsn > 0)
			return rd_fail("Expected to find a supported inline "
			               "checksum file, "
			               "instead found a file called: %.200s",
			               r->name);
		if ((err = rd_deliver(r)))
			return err;
	}
	if (r->vdi >= r->meta.nvdis) {
		/* every disk is complete: the rest is ignored, as xapi does */
		r->entry = E_SKIP;
		return NULL;
	}
	long num = 0;
	if ((err = rd_chunk_name(r, r->name, &num)))
		return err;
	if (num <= r->last)
		return rd_fail(
		    "Expected VDI chunk numbers to increase; got %.200s",
		    r->name);
	if (size > RD_CHUNK_MAX)
		return rd_fail("Chunk %.200s is too large", r->name);
	if (r->firstlen < 0)
		r->firstlen = (int64_t)size;
	uint64_t gap = (uint64_t)(num - r->last - 1) * (uint64_t)r->firstlen;
	uint64_t off = r->off + gap;
	uint64_t vsize = (uint64_t)r->meta.vdis[r->vdi].size;
	if (off > vsize || size > vsize - off)
		return rd_fail("Chunk %.200s lies beyond the end of its disk",
		               r->name);
	r->done_bytes += gap;
	r->last = num;
	r->off = off;
	if (size > r->chunk_cap) {
		free(r->chunk);
		r->chunk_cap = size > XVA_CHUNK ? size : XVA_CHUNK;
		r->chunk = xmalloc(r->chunk_cap);
	}
	r->chunk_len = 0;
	r->pend_off = off;
	snprintf(r->pend_name, sizeof(r->pend_name), "%.200s", r->name);
	r->entry = E_CHUNK;
	return NULL;
}

/* ---- tar entries ---- */

static struct api_err *
rd_begin_entry(struct xva_read *r, const struct xva_tar_hdr *h)
{
	if (h->kind == XVA_TAR_LONGNAME) {
		if (h->size >= RD_NAME_MAX)
			return rd_fail("Long tar name too long");
		free(r->longname);
		r->longname = xcalloc(1, RD_NAME_MAX + 1);
		r->entry = E_LONGNAME;
		r->ncsum = 0;
		return NULL;
	}
	if (r->longname) {
		snprintf(r->name, sizeof(r->name), "%.200s", r->longname);
		XFREE(r->longname);
	} else {
		snprintf(r->name, sizeof(r->name), "%.200s", h->name);
	}
	if (h->kind == XVA_TAR_SKIP) {
		r->entry = E_SKIP;
		return NULL;
	}
	if (r->first) {
		r->first = false;
		if (strcmp(r->name, "ova.xml") != 0)
			return api_error(XE_IMPORT_ERROR_UNEXPECTED_FILE,
			                 "ova.xml", r->name, NULL);
		if (h->size > XVA_META_MAX)
			return rd_fail("ova.xml is too large");
		r->entry = E_OVA;
		return NULL;
	}
	if (r->meta_only) {
		r->entry = E_SKIP;
		return NULL;
	}
	return rd_begin_stream_entry(r, h->size);
}

static struct api_err *
rd_end_entry(struct xva_read *r)
{
	struct api_err *err = NULL;
	switch (r->entry) {
	case E_OVA:
		if ((err = xva_meta_parse(r->ova.data ? r->ova.data : "",
		                          r->ova.len, &r->meta)))
			return err;
		buf_free(&r->ova);
		r->have_meta = true;
		for (size_t i = 0; i < r->meta.nvdis; i++)
			r->total_bytes += (uint64_t)r->meta.vdis[i].size;
		if ((err = r->ops->meta(r->ctx, &r->meta)))
			return err;
		if (r->meta_only)
			r->tar = RD_END;
		break;
	case E_LONGNAME:
		break;
	case E_CHUNK:
		r->pending = true;
		break;
	case E_CSUM:
		err = rd_verify(r);
		break;
	case E_SKIP:
		break;
	}
	return err;
}

static struct api_err *
rd_entry_data(struct xva_read *r, const unsigned char *p, size_t n)
{
	switch (r->entry) {
	case E_OVA:
		buf_add(&r->ova, p, n);
		break;
	case E_LONGNAME:
		memcpy(r->longname + r->ncsum, p, n);
		r->ncsum += n;
		break;
	case E_CHUNK:
		memcpy(r->chunk + r->chunk_len, p, n);
		r->chunk_len += n;
		break;
	case E_CSUM:
		memcpy(r->csum + r->ncsum, p, n);
		r->ncsum += n;
		break;
	case E_SKIP:
		break;
	}
	return NULL;
}

/* Uncompressed tar bytes. */
static struct api_err *
rd_tar(struct xva_read *r, const unsigned char *p, size_t n)
{
	struct api_err *err = NULL;
	while (n && !err) {
		size_t k;
		switch (r->tar) {
		case RD_HDR: {
			k = XVA_TAR_BLOCK - r->nhdr < n
			        ? XVA_TAR_BLOCK - r->nhdr
			        : n;
			memcpy(r->hdr + r->nhdr, p, k);
			r->nhdr += k;
			p += k;
			n -= k;
			if (r->nhdr < XVA_TAR_BLOCK)
				break;
			r->nhdr = 0;
			struct xva_tar_hdr h;
			int rc = xva_tar_parse(r->hdr, &h);
			if (rc < 0)
				return rd_fail(
				    "Invalid tar header after %.200s",
				    r->first ? "the start" : r->name);
			if (rc == 1) {
				r->tar = RD_END;
				break;
			}
			if ((err = rd_begin_entry(r, &h)))
				return err;
			r->left = h.size;
			r->pad = xva_tar_pad(h.size);
			r->tar = RD_DATA;
			if (!r->left) {
				err = rd_end_entry(r);
				if (r->tar != RD_END)
					r->tar = r->pad ? RD_PAD : RD_HDR;
				r->left = r->pad;
			}
			break;
		}
		case RD_DATA:
			k = r->left < n ? (size_t)r->left : n;
			err = rd_entry_data(r, p, k);
			p += k;
			n -= k;
			r->left -= k;
			if (!err && !r->left) {
				err = rd_end_entry(r);
				if (r->tar != RD_END) {
					r->tar = r->pad ? RD_PAD : RD_HDR;
					r->left = r->pad;
				}
			}
			break;
		case RD_PAD:
			k = r->left < n ? (size_t)r->left : n;
			p += k;
			n -= k;
			r->left -= k;
			if (!r->left)
				r->tar = RD_HDR;
			break;
		case RD_END:
			return NULL;
		}
	}
	return err;
}

/* ---- compression ---- */

static struct api_err *
rd_decompress(struct xva_read *r, const unsigned char *p, size_t n)
{
	struct api_err *err = NULL;
	if (r->comp == RD_RAW)
		return rd_tar(r, p, n);
	if (r->comp == RD_GZIP) {
		r->z.next_in = (unsigned char *)p;
		r->z.avail_in = (uInt)n;
		while (!err && r->z.avail_in && r->tar != RD_END) {
			r->z.next_out = r->out;
			r->z.avail_out = (uInt)RD_OUTBUF;
			int rc = inflate(&r->z, Z_NO_FLUSH);
			if (rc != Z_OK && rc != Z_STREAM_END &&
			    rc != Z_BUF_ERROR)
				return rd_fail("gzip: %.200s",
				               r->z.msg ? r->z.msg
				                        : "corrupt data");
			err = rd_tar(r, r->out, RD_OUTBUF - r->z.avail_out);
			if (rc == Z_STREAM_END && r->z.avail_in)
				inflateReset(&r->z); /* concatenated members */
			else if (rc == Z_STREAM_END)
				break;
		}
		return err;
	}
	ZSTD_inBuffer in = {p, n, 0};
	while (!err && in.pos < in.size && r->tar != RD_END) {
		ZSTD_outBuffer out = {r->out, RD_OUTBUF, 0};
		size_t rc = ZSTD_decompressStream(r->zs, &out, &in);
		if (ZSTD_isError(rc))
			return rd_fail("zstd: %.200s", ZSTD_getErrorName(rc));
		err = rd_tar(r, r->out, out.pos);
	}
	return err;
}

/* The first block decides the format. */
static struct api_err *
rd_sniff(struct xva_read *r)
{
	struct xva_tar_hdr h;
	const unsigned char *s = r->sniff;
	if (r->nsniff == XVA_TAR_BLOCK && xva_tar_parse(s, &h) == 0) {
		r->comp = RD_RAW;
	} else if (r->nsniff >= 4 && s[0] == 0x28 && s[1] == 0xb5 &&
	           s[2] == 0x2f && s[3] == 0xfd) {
		r->comp = RD_ZSTD;
		r->zs = ZSTD_createDStream();
		ZSTD_initDStream(r->zs);
	} else if (r->nsniff >= 2 && s[0] == 0x1f && s[1] == 0x8b) {
		r->comp = RD_GZIP;
		if (inflateInit2(&r->z, 15 + 32) != Z_OK)
			return rd_fail("gzip: cannot initialise");
		r->z_init = true;
	} else {
		return rd_fail(
		    "Not an XVA file: neither a tar archive nor gzip or zstd "
		    "compressed");
	}
	if (r->comp != RD_RAW)
		r->out = xmalloc(RD_OUTBUF);
	return rd_decompress(r, r->sniff, r->nsniff);
}

struct api_err *
xva_read_feed(struct xva_read *r, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	if (r->err)
		return api_error_raw(r->err->code,
		                     (const char *const *)r->err->params,
		                     r->err->n);
	struct api_err *err = NULL;
	if (r->comp == RD_SNIFF) {
		size_t k = XVA_TAR_BLOCK - r->nsniff < n
		               ? XVA_TAR_BLOCK - r->nsniff
		               : n;
		memcpy(r->sniff + r->nsniff, p, k);
		r->nsniff += k;
		p += k;
		n -= k;
		if (r->nsniff == XVA_TAR_BLOCK)
			err = rd_sniff(r);
	}
	if (!err && n && r->comp != RD_SNIFF)
		err = rd_decompress(r, p, n);
	if (err)
		r->err = api_error_raw(
		    err->code, (const char *const *)err->params, err->n);
	return err;
}

struct api_err *
xva_read_end(struct xva_read *r)
{
	struct api_err *err = NULL;
	if (r->err)
		return api_error_raw(r->err->code,
		                     (const char *const *)r->err->params,
		                     r->err->n);
	if (r->comp == RD_SNIFF) {
		if (r->nsniff == 0)
			return rd_fail("The upload is empty");
		if ((err = rd_sniff(r)))
			return err;
	}
	if (!r->have_meta)
		return rd_premature();
	if (r->meta_only)
		return NULL;
	if (r->pending && r->vdi < r->meta.nvdis) {
		if (r->meta.export_vsn > 0)
			return rd_premature(); /* its checksum never came */
		if ((err = rd_deliver(r)))
			return err;
	}
	if (r->vdi < r->meta.nvdis)
		return rd_premature();
	return NULL;
}
