/* qcow2_bitmap: persistent dirty bitmaps read from qcow2 files (see .h). */
#include "storage/qcow2_bitmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xalloc.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_EXT_BITMAPS 0x23852875u
#define QCOW2_BM_IN_USE 1u
#define QCOW2_BM_TYPE_DIRTY 1
#define QCOW2_DIR_MAX (16u << 20)
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int
qb_fail(char **err, const char *what)
{
	*err = xasprintf("not a usable qcow2 bitmap: %s", what);
	return -1;
}

/* Where the bitmap directory is: 1 when the image has none. */
static int
qb_find_dir(qcow2_read_fn rd, void *ctx, uint32_t cluster, uint64_t *dir_off,
	    uint64_t *dir_size, uint32_t *nb, char **err)
{
	uint8_t h[104];
	if (rd(ctx, h, sizeof(h), 0) < 0)
		return qb_fail(err, "short header");
	uint32_t version = be32(h + 4);
	uint64_t off = version >= 3 ? be32(h + 100) : 72;
	if (version < 2 || version > 3 || off < 72 || off >= cluster)
		return qb_fail(err, "bad header");
	while (off + 8 <= cluster) {
		uint8_t e[8];
		if (rd(ctx, e, sizeof(e), off) < 0)
			return qb_fail(err, "short header extension");
		uint32_t type = be32(e), len = be32(e + 4);
		if (type == 0)
			return 1;
		if (len > cluster || off + 8 + len > cluster)
			return qb_fail(err, "header extension too long");
		if (type == QCOW2_EXT_BITMAPS) {
			uint8_t b[24];
			if (len < sizeof(b) || rd(ctx, b, sizeof(b), off + 8) < 0)
				return qb_fail(err, "short bitmaps extension");
			*nb = be32(b);
			*dir_size = be64(b + 8);
			*dir_off = be64(b + 16);
			if (*dir_size > QCOW2_DIR_MAX || *dir_off % cluster)
				return qb_fail(err, "bad bitmap directory");
			return *nb ? 0 : 1;
		}
		off += 8 + ((uint64_t)len + 7) / 8 * 8;
	}
	return 1;
}

/* Reads the bits of one directory entry's bitmap. */
static int
qb_read_bits(qcow2_read_fn rd, void *ctx, uint32_t cluster, uint64_t table_off,
	     uint32_t table_size, struct qcow2_bitmap *out, char **err)
{
	uint64_t nbits = out->size / out->granularity + (out->size % out->granularity != 0);
	uint64_t nbytes = (nbits + 7) / 8;
	if (nbytes > QCOW2_BITMAP_MAX_BYTES)
		return qb_fail(err, "bitmap too large");
	if ((uint64_t)table_size != (nbytes + cluster - 1) / cluster || table_off % cluster)
		return qb_fail(err, "bad bitmap table");
	out->nbytes = (size_t)nbytes;
	out->bits = xcalloc(out->nbytes + 1, 1);
	uint8_t *tab = xcalloc((size_t)table_size + 1, 8);
	int rc = 0;
	if (table_size && rd(ctx, tab, (size_t)table_size * 8, table_off) < 0)
		rc = qb_fail(err, "short bitmap table");
	for (uint32_t i = 0; rc == 0 && i < table_size; i++) {
		uint64_t e = be64(tab + 8 * (size_t)i), at = (uint64_t)i * cluster;
		size_t n = out->nbytes - at < cluster ? (size_t)(out->nbytes - at) : cluster;
		uint64_t data = e & QCOW2_OFFSET_MASK;
		if (data == 0)
			memset(out->bits + at, (e & 1) ? 0xff : 0, n);
		else if (data % cluster || rd(ctx, out->bits + at, n, data) < 0)
			rc = qb_fail(err, "bad bitmap data cluster");
	}
	free(tab);
	if (rc < 0) {
		free(out->bits);
		out->bits = NULL;
	}
	return rc;
}

int
qcow2_bitmap_load(qcow2_read_fn rd, void *ctx, const char *name, struct qcow2_bitmap *out,
		  char **err)
{
	uint8_t h[32];
	memset(out, 0, sizeof(*out));
	if (rd(ctx, h, sizeof(h), 0) < 0 || be32(h) != QCOW2_MAGIC)
		return qb_fail(err, "no qcow2 magic");
	uint32_t cbits = be32(h + 20);
	if (cbits < 9 || cbits > 21)
		return qb_fail(err, "bad cluster size");
	uint32_t cluster = 1u << cbits;
	out->size = be64(h + 24);
	uint64_t dir_off = 0, dir_size = 0;
	uint32_t nb = 0;
	int rc = qb_find_dir(rd, ctx, cluster, &dir_off, &dir_size, &nb, err);
	if (rc != 0)
		return rc;
	uint8_t *dir = xcalloc((size_t)dir_size + 1, 1);
	if (rd(ctx, dir, (size_t)dir_size, dir_off) < 0) {
		free(dir);
		return qb_fail(err, "short bitmap directory");
	}
	rc = 1;
	size_t pos = 0, want = strlen(name);
	for (uint32_t i = 0; i < nb && rc == 1; i++) {
		if (pos + 24 > dir_size) {
			rc = qb_fail(err, "bitmap directory overrun");
			break;
		}
		const uint8_t *e = dir + pos;
		uint32_t ns = be16(e + 18), eds = be32(e + 20);
		uint64_t len = 24 + (uint64_t)eds + ns;
		if (len > dir_size - pos) {
			rc = qb_fail(err, "bitmap directory entry overrun");
			break;
		}
		if (ns == want && memcmp(e + 24 + eds, name, ns) == 0) {
			uint32_t gbits = e[17];
			if (e[16] != QCOW2_BM_TYPE_DIRTY || gbits < 9 || gbits > 31) {
				rc = qb_fail(err, "bad bitmap type or granularity");
				break;
			}
			out->granularity = 1u << gbits;
			out->in_use = (be32(e + 12) & QCOW2_BM_IN_USE) != 0;
			rc = qb_read_bits(rd, ctx, cluster, be64(e), be32(e + 8), out, err);
		}
		pos += (size_t)((len + 7) / 8 * 8);
	}
	free(dir);
	return rc;
}

static int
qb_pread(void *ctx, void *buf, size_t n, uint64_t off)
{
	int fd = *(int *)ctx;
	size_t done = 0;
	while (done < n) {
		ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

int
qcow2_bitmap_load_file(const char *path, const char *name, struct qcow2_bitmap *out,
		       char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		memset(out, 0, sizeof(*out));
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	int rc = qcow2_bitmap_load(qb_pread, &fd, name, out, err);
	close(fd);
	return rc;
}

void
qcow2_bitmap_free(struct qcow2_bitmap *b)
{
	if (b) {
		free(b->bits);
		b->bits = NULL;
		b->nbytes = 0;
	}
}

void
qcow2_bitmap_or_blocks(const struct qcow2_bitmap *b, uint8_t *out, uint64_t nblocks,
		       uint32_t block)
{
	for (size_t byte = 0; byte < b->nbytes; byte++) {
		if (!b->bits[byte])
			continue;
		for (int k = 0; k < 8; k++) {
			if (!(b->bits[byte] & (1u << k)))
				continue;
			uint64_t g = (uint64_t)byte * 8 + (uint64_t)k;
			uint64_t first = g * b->granularity / block;
			uint64_t last = ((g + 1) * b->granularity - 1) / block;
			for (uint64_t i = first; i <= last && i < nblocks; i++)
				out[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		}
	}
}
