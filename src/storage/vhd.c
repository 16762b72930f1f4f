/* vhd: dynamic and differencing VHD, written from a vdi_stream and read by
 * a validating push parser (see the header). */
#include "storage/vhd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>

#include "util/xalloc.h"

#define VHD_SECTOR 512
#define VHD_FOOTER 512
#define VHD_HEADER 1024
#define VHD_VERSION 0x00010000u
#define VHD_TYPE_DYNAMIC 3
#define VHD_TYPE_DIFF 4
#define VHD_NONE 0xffffffffu
/* seconds from the Unix epoch to 2000-01-01 00:00 UTC, VHD's epoch */
#define VHD_EPOCH 946684800

static void
vhd_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
vhd_put64(uint8_t *p, uint64_t v)
{
	vhd_put32(p, (uint32_t)(v >> 32));
	vhd_put32(p + 4, (uint32_t)v);
}

/* One's complement of the byte sum, the checksum field counted as 0. */
static uint32_t
vhd_checksum(const uint8_t *p, size_t len, size_t field)
{
	uint32_t sum = 0;
	for (size_t i = 0; i < len; i++)
		if (i < field || i >= field + 4)
			sum += p[i];
	return ~sum;
}

/* CHS geometry of the VHD spec (appendix "CHS calculation"). */
static void
vhd_geometry(int64_t size, uint8_t *p)
{
	uint64_t total = (uint64_t)size / VHD_SECTOR, cth;
	uint32_t spt, heads;
	if (total > 65535ull * 16 * 255)
		total = 65535ull * 16 * 255;
	if (total >= 65535ull * 16 * 63) {
		spt = 255;
		heads = 16;
		cth = total / spt;
	} else {
		spt = 17;
		cth = total / spt;
		heads = (uint32_t)((cth + 1023) / 1024);
		if (heads < 4)
			heads = 4;
		if (cth >= heads * 1024ull || heads > 16) {
			spt = 31;
			heads = 16;
			cth = total / spt;
		}
		if (cth >= heads * 1024ull) {
			spt = 63;
			heads = 16;
			cth = total / spt;
		}
	}
	uint64_t cyl = cth / heads;
	p[0] = (uint8_t)(cyl >> 8);
	p[1] = (uint8_t)cyl;
	p[2] = (uint8_t)heads;
	p[3] = (uint8_t)spt;
}

/* ---- writer ---- */

struct vhd_out {
	const struct vdi_stream *s;
	bool diff;
	int64_t vsize;    /* virtual size, a multiple of 512 */
	uint32_t nblocks; /* BAT entries */
	uint32_t nalloc;  /* allocated blocks */
	uint32_t *order;  /* allocated block indexes, in file order */
	uint8_t *head;    /* footer copy, header, locator, BAT */
	int64_t data_off; /* end of head: the first block */
	int64_t footer_off;
	uint8_t footer[VHD_FOOTER];
};

/* Whether extent e belongs in the image. */
static bool
vhd_out_wanted(const struct vhd_out *o, const struct vdi_extent *e)
{
	return o->diff ? e->changed : e->data;
}

static void
vhd_out_footer(struct vhd_out *o, const char *uuid)
{
	uint8_t *f = o->footer;
	uuid_t u;
	memset(f, 0, VHD_FOOTER);
	memcpy(f, "conectix", 8);
	vhd_put32(f + 8, 2); /* features: reserved bit, always set */
	vhd_put32(f + 12, VHD_VERSION);
	vhd_put64(f + 16, VHD_FOOTER); /* the header follows the copy */
	vhd_put32(f + 24, (uint32_t)(time(NULL) - VHD_EPOCH));
	memcpy(f + 28, "tap\0", 4); /* as XenServer: size = current_size */
	vhd_put32(f + 32, 0x00010003);
	vhd_put64(f + 40, (uint64_t)o->vsize);
	vhd_put64(f + 48, (uint64_t)o->vsize);
	vhd_geometry(o->vsize, f + 56);
	vhd_put32(f + 60, o->diff ? VHD_TYPE_DIFF : VHD_TYPE_DYNAMIC);
	if (uuid && uuid_parse(uuid, u) == 0)
		memcpy(f + 68, u, 16);
	else
		uuid_generate(f + 68);
	vhd_put32(f + 64, vhd_checksum(f, VHD_FOOTER, 64));
}

struct vhd_out *
vhd_out_new(const struct vdi_stream *s, const char *uuid,
            const char *parent_uuid)
{
	struct vhd_out *o = xcalloc(1, sizeof(*o));
	o->s = s;
	o->diff = parent_uuid != NULL;
	o->vsize = (s->size + VHD_SECTOR - 1) / VHD_SECTOR * VHD_SECTOR;
	o->nblocks =
	    (uint32_t)((o->vsize + VHD_BLOCK_SIZE - 1) / VHD_BLOCK_SIZE);
	bool *alloc = xcalloc(o->nblocks + 1, sizeof(bool));
	for (size_t i = 0; i < s->n; i++) {
		const struct vdi_extent *e = &s->ext[i];
		if (!vhd_out_wanted(o, e))
			continue;
		for (int64_t b = e->start / VHD_BLOCK_SIZE;
		     b * VHD_BLOCK_SIZE < e->start + e->length &&
		     b < o->nblocks;
		     b++)
			alloc[b] = true;
	}
	o->order = xcalloc(o->nblocks + 1, sizeof(uint32_t));
	for (uint32_t b = 0; b < o->nblocks; b++)
		if (alloc[b])
			o->order[o->nalloc++] = b;
	free(alloc);

	int64_t loc_off = VHD_FOOTER + VHD_HEADER;
	int64_t bat_off = loc_off + (o->diff ? VHD_SECTOR : 0);
	int64_t bat_bytes = ((int64_t)o->nblocks * 4 + VHD_SECTOR - 1) /
	                    VHD_SECTOR * VHD_SECTOR;
	o->data_off = bat_off + bat_bytes;
	o->footer_off =
	    o->data_off + (int64_t)o->nalloc * (VHD_SECTOR + VHD_BLOCK_SIZE);
	o->head = xcalloc(1, (size_t)o->data_off);
	vhd_out_footer(o, uuid);
	memcpy(o->head, o->footer, VHD_FOOTER);

	uint8_t *h = o->head + VHD_FOOTER;
	memcpy(h, "cxsparse", 8);
	vhd_put64(h + 8, UINT64_MAX);
	vhd_put64(h + 16, (uint64_t)bat_off);
	vhd_put32(h + 24, VHD_VERSION);
	vhd_put32(h + 28, o->nblocks);
	vhd_put32(h + 32, VHD_BLOCK_SIZE);
	if (o->diff) {
		uuid_t pu;
		char name[64], loc[80];
		if (uuid_parse(parent_uuid, pu) == 0)
			memcpy(h + 40, pu, 16);
		/* the parent as XenServer names it, UTF-16BE, and one MacX
		 * locator "file://./<name>" in the sector after the header */
		snprintf(name, sizeof(name), "%s.vhd", parent_uuid);
		for (size_t i = 0; name[i] && i < 256; i++)
			h[64 + 2 * i + 1] = (uint8_t)name[i];
		int n = snprintf(loc, sizeof(loc), "file://./%s", name);
		memcpy(h + 576, "MacX", 4);
		vhd_put32(h + 580, 1); /* data space: one sector */
		vhd_put32(h + 584, (uint32_t)n);
		vhd_put64(h + 592, (uint64_t)loc_off);
		memcpy(o->head + loc_off, loc, (size_t)n);
	}
	vhd_put32(h + 36, vhd_checksum(h, VHD_HEADER, 36));

	uint8_t *bat = o->head + bat_off;
	memset(bat, 0xff, (size_t)bat_bytes);
	for (uint32_t k = 0; k < o->nalloc; k++)
		vhd_put32(
		    bat + 4 * (size_t)o->order[k],
		    (uint32_t)((o->data_off +
		                (int64_t)k * (VHD_SECTOR + VHD_BLOCK_SIZE)) /
		               VHD_SECTOR));
	return o;
}

int64_t
vhd_out_size(const struct vhd_out *o)
{
	return o->footer_off + VHD_FOOTER;
}

/* The sector bitmap of block b: all set, or (differencing) the changed
 * sectors only. */
static void
vhd_out_bitmap(const struct vhd_out *o, uint32_t b, uint8_t *bm)
{
	int64_t bs = (int64_t)b * VHD_BLOCK_SIZE, be = bs + VHD_BLOCK_SIZE;
	if (!o->diff) {
		memset(bm, 0xff, VHD_SECTOR);
		return;
	}
	memset(bm, 0, VHD_SECTOR);
	if (bs >= o->s->size)
		return;
	for (size_t i = vdi_stream_find(o->s, bs); i < o->s->n; i++) {
		const struct vdi_extent *e = &o->s->ext[i];
		if (e->start >= be)
			break;
		if (!e->changed)
			continue;
		int64_t a = e->start > bs ? e->start : bs;
		int64_t z =
		    e->start + e->length < be ? e->start + e->length : be;
		for (int64_t sec = (a - bs) / VHD_SECTOR;
		     sec < (z - bs + VHD_SECTOR - 1) / VHD_SECTOR; sec++)
			bm[sec / 8] |= (uint8_t)(0x80 >> (sec % 8));
	}
}

ssize_t
vhd_out_read(struct vhd_out *o, int64_t pos, char *buf, size_t max)
{
	size_t done = 0;
	while (done < max && pos < vhd_out_size(o)) {
		size_t n;
		if (pos < o->data_off) {
			n = (size_t)(o->data_off - pos) < max - done
			        ? (size_t)(o->data_off - pos)
			        : max - done;
			memcpy(buf + done, o->head + pos, n);
		} else if (pos < o->footer_off) {
			int64_t rel = pos - o->data_off,
			        per = VHD_SECTOR + VHD_BLOCK_SIZE;
			uint32_t b = o->order[rel / per];
			int64_t in = rel % per;
			if (in < VHD_SECTOR) {
				uint8_t bm[VHD_SECTOR];
				vhd_out_bitmap(o, b, bm);
				n = (size_t)(VHD_SECTOR - in) < max - done
				        ? (size_t)(VHD_SECTOR - in)
				        : max - done;
				memcpy(buf + done, bm + in, n);
			} else {
				int64_t left = per - in;
				n = left < (int64_t)(max - done) ? (size_t)left
				                                 : max - done;
				if (vdi_stream_pread(o->s, buf + done, n,
				                     (int64_t)b *
				                             VHD_BLOCK_SIZE +
				                         in - VHD_SECTOR) < 0)
					return -1;
			}
		} else {
			int64_t in = pos - o->footer_off;
			n = (size_t)(VHD_FOOTER - in) < max - done
			        ? (size_t)(VHD_FOOTER - in)
			        : max - done;
			memcpy(buf + done, o->footer + in, n);
		}
		done += n;
		pos += (int64_t)n;
	}
	return (ssize_t)done;
}

void
vhd_out_free(struct vhd_out *o)
{
	if (!o)
		return;
	free(o->order);
	free(o->head);
	free(o);
}
