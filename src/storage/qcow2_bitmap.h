/*
 * qcow2_bitmap: reads a persistent dirty bitmap out of a qcow2 image file
 * (QEMU's docs/interop/qcow2.txt, "Bitmaps extension"), for changed-block
 * tracking: QEMU records the writes of a running VM in such bitmaps, and
 * xapid reads them back offline to answer VDI.list_changed_blocks.
 *
 * The image is untrusted input (a VM's disk file, or an upload): every
 * offset and size is checked against the limits below before use.
 */
#ifndef XAPID_STORAGE_QCOW2_BITMAP_H
#define XAPID_STORAGE_QCOW2_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest bitmap read (bytes): 64 MiB covers 32 TiB at 64 KiB a bit. */
#define QCOW2_BITMAP_MAX_BYTES (64u << 20)

struct qcow2_bitmap {
	uint64_t size;        /* virtual size of the image (bytes) */
	uint32_t granularity; /* bytes covered by one bit */
	bool in_use;          /* flag "in use": a QEMU had it open and died, the
			       * bits are not to be trusted */
	uint8_t *bits;        /* bit i (byte i/8, bit i%8, LSB first) covers
			       * bytes [i*granularity, (i+1)*granularity) */
	size_t nbytes;
};

/* Reads n bytes at off; 0, or -1 when they are not all there. */
typedef int (*qcow2_read_fn)(void *ctx, void *buf, size_t n, uint64_t off);

/* Loads bitmap name of the image read through rd. Returns 0 (out filled,
 * release with qcow2_bitmap_free), 1 when the image has no such bitmap, -1
 * with *err (malloc'd) when the image is not a qcow2 or is damaged. */
int qcow2_bitmap_load(qcow2_read_fn rd, void *ctx, const char *name,
		      struct qcow2_bitmap *out, char **err);
/* The same for the image file at path. */
int qcow2_bitmap_load_file(const char *path, const char *name,
			   struct qcow2_bitmap *out, char **err);
void qcow2_bitmap_free(struct qcow2_bitmap *b);

/* ORs b into out: nblocks blocks of block bytes, bit i of out being the
 * most significant bit first (byte i/8, mask 0x80 >> i%8): the format of
 * XenAPI's VDI.list_changed_blocks. */
void qcow2_bitmap_or_blocks(const struct qcow2_bitmap *b, uint8_t *out,
			    uint64_t nblocks, uint32_t block);

#endif
