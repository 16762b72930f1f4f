/* vhd_in: the validating push parser of dynamic and differencing VHDs (see
 * vhd.h). Structures must come in file order (footer copy, header, BAT,
 * blocks): that is how every VHD writer lays them out, and what a stream
 * can be read in. A fixed VHD (type 2) is the raw disk followed by the
 * footer alone: a file that does not start with a footer is taken for one,
 * its data handed on in 2 MiB blocks one footer's length behind the input,
 * and the footer checked at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/vhd.h"
#include "util/xalloc.h"

#define VHD_SECTOR 512
#define VHD_VERSION 0x00010000u
#define VHD_MAX_BLOCK (16u * 1024 * 1024)
#define VHD_MAX_BAT (64u * 1024 * 1024)

enum vhd_phase {
	VI_FOOTER,
	VI_HEADER,
	VI_BAT,
	VI_BLOCKS,
	VI_TAIL,
	VI_FIXED,
	VI_BAD
};

struct vi_block {
	uint64_t off; /* byte offset in the file */
	uint32_t index;
};

struct vhd_in {
	int64_t max_size;
	vhd_block_fn fn;
	void *ctx;
	enum vhd_phase phase;
	uint64_t pos;      /* file offset of the next byte fed */
	uint64_t want_off; /* the structure being gathered */
	size_t want_len, have;
	uint8_t *buf; /* gathers want_len bytes */
	size_t cap;
	uint8_t footer[512];
	int64_t size;
	int type;
	uint32_t block_size, bitmap_bytes, entries;
	uint64_t header_off, bat_off, end; /* end: past the last structure */
	struct vi_block *blocks;
	size_t nblocks, next;
	uint8_t tail[512]; /* the last bytes fed */
	size_t tail_len;
	char err[160];
	bool too_large;
	uint8_t *fbuf; /* fixed: a block of data and the 512 bytes after it */
	size_t fhave;
	uint32_t fidx; /* fixed: blocks handed on */
};

static uint32_t
vi_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
vi_get64(const uint8_t *p)
{
	return (uint64_t)vi_get32(p) << 32 | vi_get32(p + 4);
}

static uint32_t
vi_checksum(const uint8_t *p, size_t len, size_t field)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < field || i >= field + 4)
			sum += p[i];
	return ~sum;
}

static int
vi_fail(struct vhd_in *r, const char *why)
{
	if (r->phase != VI_BAD)
		snprintf(r->err, sizeof(r->err), "invalid VHD: %s", why);
	r->phase = VI_BAD;
	return -1;
}

/* Starts gathering len bytes at file offset off (>= pos). */
static void
vi_want(struct vhd_in *r, enum vhd_phase phase, uint64_t off, size_t len)
{
	r->phase = phase;
	r->want_off = off;
	r->want_len = len;
	r->have = 0;
	if (len > r->cap) {
		free(r->buf);
		r->buf = xmalloc(len);
		r->cap = len;
	}
}

struct vhd_in *
vhd_in_new(int64_t max_size, vhd_block_fn fn, void *ctx)
{
	struct vhd_in *r = xcalloc(1, sizeof(*r));
	r->max_size = max_size;
	r->fn = fn;
	r->ctx = ctx;
	vi_want(r, VI_FOOTER, 0, 512);
	return r;
}

/* Feeds data of a fixed VHD: every block goes once the 512 bytes after it
 * are in (the last 512 bytes of the file are the footer, not data). */
static int
vi_fixed_feed(struct vhd_in *r, const uint8_t *p, size_t len)
{
	static uint8_t all[VHD_BLOCK_SIZE / VHD_SECTOR / 8];
	if (!all[0])
		memset(all, 0xff, sizeof(all));
	while (len) {
		size_t room = VHD_BLOCK_SIZE + VHD_SECTOR - r->fhave;
		size_t n = room < len ? room : len;
		memcpy(r->fbuf + r->fhave, p, n);
		r->fhave += n;
		p += n;
		len -= n;
		r->pos += n;
		if (r->fhave < VHD_BLOCK_SIZE + VHD_SECTOR)
			continue;
		uint64_t at = (uint64_t)r->fidx * VHD_BLOCK_SIZE;
		if (at >= (uint64_t)VHD_MAX_SIZE ||
		    (r->max_size >= 0 &&
		     at >= (uint64_t)r->max_size + VHD_BLOCK_SIZE)) {
			r->too_large = at < (uint64_t)VHD_MAX_SIZE;
			return vi_fail(r, r->too_large
			                      ? "larger than the VDI"
			                      : "virtual size too large");
		}
		r->size = (int64_t)(at + VHD_BLOCK_SIZE);
		if (r->fn(r->ctx, r->fidx++, all, r->fbuf, VHD_BLOCK_SIZE) < 0)
			return vi_fail(r, "the block could not be written");
		memmove(r->fbuf, r->fbuf + VHD_BLOCK_SIZE, VHD_SECTOR);
		r->fhave = VHD_SECTOR;
	}
	return 0;
}

/* The end of a fixed VHD: its footer, then the last (partial) block. */
static int
vi_fixed_finish(struct vhd_in *r)
{
	if (r->fhave < VHD_SECTOR)
		return vi_fail(r, "no footer at the end");
	const uint8_t *f = r->fbuf + r->fhave - VHD_SECTOR;
	uint64_t data =
	    (uint64_t)r->fidx * VHD_BLOCK_SIZE + r->fhave - VHD_SECTOR;
	if (memcmp(f, "conectix", 8) != 0)
		return vi_fail(r,
		               "no footer (neither a fixed nor a dynamic VHD)");
	if (vi_checksum(f, 512, 64) != vi_get32(f + 64))
		return vi_fail(r, "footer checksum mismatch");
	if (vi_get32(f + 12) != VHD_VERSION)
		return vi_fail(r, "unknown file format version");
	if (vi_get32(f + 60) != 2)
		return vi_fail(r,
		               "no footer at the start, and not a fixed disk");
	if (vi_get64(f + 48) != data || data % VHD_SECTOR)
		return vi_fail(r,
		               "the fixed disk's size does not match its data");
	r->size = (int64_t)data;
	if (r->max_size >= 0 && data > (uint64_t)r->max_size) {
		r->too_large = true;
		return vi_fail(r, "larger than the VDI");
	}
	size_t rest = r->fhave - VHD_SECTOR;
	if (rest) {
		uint8_t bitmap[VHD_BLOCK_SIZE / VHD_SECTOR / 8] = {0};
		for (size_t s = 0; s < rest / VHD_SECTOR; s++)
			bitmap[s / 8] |= (uint8_t)(0x80 >> (s % 8));
		memset(r->fbuf + rest, 0, VHD_BLOCK_SIZE - rest);
		if (r->fn(r->ctx, r->fidx++, bitmap, r->fbuf, VHD_BLOCK_SIZE) <
		    0)
			return vi_fail(r, "the block could not be written");
	}
	r->phase = VI_TAIL;
	return 0;
}

static int
vi_footer(struct vhd_in *r)
{
	const uint8_t *f = r->buf;
	if (memcmp(f, "conectix", 8) != 0) {
		/* perhaps a fixed VHD: these bytes are its data */
		r->type = 2;
		r->phase = VI_FIXED;
		r->fbuf = xmalloc(VHD_BLOCK_SIZE + VHD_SECTOR);
		r->pos -= 512;
		return vi_fixed_feed(r, f, 512);
	}
	if (vi_checksum(f, 512, 64) != vi_get32(f + 64))
		return vi_fail(r, "footer checksum mismatch");
	if (vi_get32(f + 12) != VHD_VERSION)
		return vi_fail(r, "unknown file format version");
	r->type = (int)vi_get32(f + 60);
	if (r->type != 3 && r->type != 4)
		return vi_fail(r, "not a dynamic or differencing disk");
	uint64_t size = vi_get64(f + 48), hoff = vi_get64(f + 16);
	if (size > (uint64_t)VHD_MAX_SIZE)
		return vi_fail(r, "virtual size too large");
	r->size = (int64_t)size;
	if (r->max_size >= 0 && size > (uint64_t)r->max_size) {
		r->too_large = true;
		return vi_fail(r, "larger than the VDI");
	}
	if (hoff < 512 || hoff > VHD_MAX_BAT)
		return vi_fail(r, "header offset out of range");
	r->size = (int64_t)size;
	memcpy(r->footer, f, 512);
	r->header_off = hoff;
	vi_want(r, VI_HEADER, hoff, 1024);
	return 0;
}

static int
vi_header(struct vhd_in *r)
{
	const uint8_t *h = r->buf;
	if (memcmp(h, "cxsparse", 8) != 0)
		return vi_fail(r, "no dynamic disk header");
	if (vi_checksum(h, 1024, 36) != vi_get32(h + 36))
		return vi_fail(r, "header checksum mismatch");
	if (vi_get64(h + 8) != UINT64_MAX || vi_get32(h + 24) != VHD_VERSION)
		return vi_fail(r, "bad header version or data offset");
	uint32_t bs = vi_get32(h + 32), entries = vi_get32(h + 28);
	if (bs < VHD_SECTOR || bs > VHD_MAX_BLOCK || (bs & (bs - 1)))
		return vi_fail(r, "bad block size");
	uint64_t need = ((uint64_t)r->size + bs - 1) / bs;
	if (entries < need || (uint64_t)entries * 4 > VHD_MAX_BAT)
		return vi_fail(r, "BAT size does not match the disk size");
	uint64_t bat = vi_get64(h + 16);
	if (bat < r->header_off + 1024 || bat > UINT64_MAX / 2)
		return vi_fail(r, "BAT before the header or out of range");
	r->block_size = bs;
	r->bitmap_bytes =
	    (bs / VHD_SECTOR / 8 + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
	r->entries = entries;
	r->bat_off = bat;
	vi_want(r, VI_BAT, bat, (size_t)entries * 4);
	return 0;
}

static int
vi_cmp_block(const void *a, const void *b)
{
	const struct vi_block *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

static void
vi_next_block(struct vhd_in *r)
{
	if (r->next < r->nblocks)
		vi_want(r, VI_BLOCKS, r->blocks[r->next].off,
		        (size_t)r->bitmap_bytes + r->block_size);
	else
		r->phase = VI_TAIL;
}

static int
vi_bat(struct vhd_in *r)
{
	uint64_t bat_end = r->bat_off + (uint64_t)r->entries * 4;
	uint64_t per = (uint64_t)r->bitmap_bytes + r->block_size;
	uint64_t used = ((uint64_t)r->size + r->block_size - 1) / r->block_size;
	r->blocks = xcalloc(r->entries + 1, sizeof(*r->blocks));
	for (uint32_t i = 0; i < r->entries; i++) {
		uint32_t e = vi_get32(r->buf + 4 * (size_t)i);
		if (e == 0xffffffffu)
			continue;
		if (i >= used)
			return vi_fail(r, "a block beyond the disk's size");
		uint64_t off = (uint64_t)e * VHD_SECTOR;
		if (off < bat_end)
			return vi_fail(
			    r, "a block overlaps the header or the BAT");
		r->blocks[r->nblocks].off = off;
		r->blocks[r->nblocks++].index = i;
	}
	qsort(r->blocks, r->nblocks, sizeof(*r->blocks), vi_cmp_block);
	r->end = bat_end;
	for (size_t k = 0; k < r->nblocks; k++) {
		if (k && r->blocks[k].off < r->blocks[k - 1].off + per)
			return vi_fail(r, "blocks overlap");
		r->end = r->blocks[k].off + per;
	}
	r->next = 0;
	vi_next_block(r);
	return 0;
}

static int
vi_block(struct vhd_in *r)
{
	const struct vi_block *b = &r->blocks[r->next++];
	if (r->fn(r->ctx, b->index, r->buf, r->buf + r->bitmap_bytes,
	          r->block_size) < 0)
		return vi_fail(r, "the block could not be written");
	vi_next_block(r);
	return 0;
}

/* Keeps the last 512 bytes fed (the footer, at the end). */
static void
vi_tail(struct vhd_in *r, const uint8_t *p, size_t len)
{
	if (len >= sizeof(r->tail)) {
		memcpy(r->tail, p + len - sizeof(r->tail), sizeof(r->tail));
		r->tail_len = sizeof(r->tail);
		return;
	}
	size_t keep = sizeof(r->tail) - len < r->tail_len
	                  ? sizeof(r->tail) - len
	                  : r->tail_len;
	memmove(r->tail, r->tail + r->tail_len - keep, keep);
	memcpy(r->tail + keep, p, len);
	r->tail_len = keep + len;
}

int
vhd_in_feed(struct vhd_in *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	if (r->phase == VI_BAD)
		return -1;
	vi_tail(r, p, len);
	if (r->phase == VI_FIXED)
		return vi_fixed_feed(r, p, len);
	while (len && r->phase != VI_TAIL && r->phase != VI_BAD) {
		if (r->pos < r->want_off) { /* bytes nobody needs */
			uint64_t skip = r->want_off - r->pos;
			size_t n = skip < len ? (size_t)skip : len;
			p += n;
			len -= n;
			r->pos += n;
			continue;
		}
		size_t n =
		    r->want_len - r->have < len ? r->want_len - r->have : len;
		memcpy(r->buf + r->have, p, n);
		r->have += n;
		p += n;
		len -= n;
		r->pos += n;
		if (r->have < r->want_len)
			break;
		int rc = 0;
		switch (r->phase) {
		case VI_FOOTER:
			rc = vi_footer(r);
			break;
		case VI_HEADER:
			rc = vi_header(r);
			break;
		case VI_BAT:
			rc = vi_bat(r);
			break;
		case VI_BLOCKS:
			rc = vi_block(r);
			break;
		default:
			break;
		}
		if (rc < 0)
			return -1;
		if (r->phase == VI_FIXED)
			return vi_fixed_feed(r, p, len);
		if (r->phase != VI_TAIL && r->phase != VI_BAD &&
		    r->want_off < r->pos)
			return vi_fail(r, "structures out of order");
	}
	r->pos += len;
	return r->phase == VI_BAD ? -1 : 0;
}

int
vhd_in_finish(struct vhd_in *r)
{
	if (r->phase == VI_BAD)
		return -1;
	if (r->phase == VI_FOOTER && r->have)
		return vi_fail(r, "the file ends early");
	if (r->phase == VI_FIXED)
		return vi_fixed_finish(r);
	if (r->phase != VI_TAIL)
		return vi_fail(r, "the file ends early");
	if (r->pos < r->end + 512 || r->tail_len < 512)
		return vi_fail(r, "no footer at the end");
	if (memcmp(r->tail, r->footer, 512) != 0)
		return vi_fail(r, "the footer differs from its copy");
	return 0;
}

const char *
vhd_in_error(const struct vhd_in *r)
{
	return r->phase == VI_BAD ? r->err : NULL;
}

bool
vhd_in_too_large(const struct vhd_in *r)
{
	return r->too_large;
}

int64_t
vhd_in_size(const struct vhd_in *r)
{
	return r->size;
}

int
vhd_in_type(const struct vhd_in *r)
{
	return r->type;
}

void
vhd_in_free(struct vhd_in *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->blocks);
	free(r->fbuf);
	free(r);
}
