/* xva_tar: tar headers, written and read. */
#include "storage/xva_tar.h"

#include <stdio.h>
#include <string.h>

/* Field offsets of a ustar header. */
#define T_NAME 0
#define T_MODE 100
#define T_UID 108
#define T_GID 116
#define T_SIZE 124
#define T_MTIME 136
#define T_CHKSUM 148
#define T_TYPE 156
#define T_MAGIC 257
#define T_VERSION 263
#define T_PREFIX 345

static void
tar_octal(unsigned char *dst, size_t width, uint64_t v)
{
	/* width-1 digits and a NUL */
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(width - 1),
	         (unsigned long long)v);
	memcpy(dst, tmp, width - 1);
	dst[width - 1] = '\0';
}

void
xva_tar_header(unsigned char blk[XVA_TAR_BLOCK], const char *name,
               uint64_t size, time_t mtime)
{
	memset(blk, 0, XVA_TAR_BLOCK);
	size_t n = strlen(name);
	memcpy(blk + T_NAME, name, n < 99 ? n : 99);
	tar_octal(blk + T_MODE, 8, 0400);
	tar_octal(blk + T_UID, 8, 0);
	tar_octal(blk + T_GID, 8, 0);
	tar_octal(blk + T_SIZE, 12, size);
	tar_octal(blk + T_MTIME, 12, mtime < 0 ? 0 : (uint64_t)mtime);
	blk[T_TYPE] = '0';
	memcpy(blk + T_MAGIC, "ustar", 6);
	memcpy(blk + T_VERSION, "00", 2);
	memset(blk + T_CHKSUM, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < XVA_TAR_BLOCK; i++)
		sum += blk[i];
	char tmp[16];
	snprintf(tmp, sizeof(tmp), "%06o", sum);
	memcpy(blk + T_CHKSUM, tmp, 6);
	blk[T_CHKSUM + 6] = '\0';
	blk[T_CHKSUM + 7] = ' ';
}

size_t
xva_tar_pad(uint64_t size)
{
	return (size_t)((XVA_TAR_BLOCK - size % XVA_TAR_BLOCK) % XVA_TAR_BLOCK);
}

/* An octal field: optional leading spaces, digits, then NUL/space to the
 * end. GNU base-256 (high bit of the first byte) for big values. */
static int
tar_num(const unsigned char *f, size_t width, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	if (f[0] & 0x80) {
		if (f[0] != 0x80)
			return -1; /* negative or too large */
		for (i = 1; i < width; i++) {
			if (v >> 56)
				return -1;
			v = (v << 8) | f[i];
		}
		*out = v;
		return 0;
	}
	while (i < width && f[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < width && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
		if (v >> 61)
			return -1;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	for (; i < width; i++)
		if (f[i] != ' ' && f[i] != '\0')
			return -1;
	if (!digits)
		return -1;
	*out = v;
	return 0;
}

/* A NUL-terminated-or-full field copied with its length. */
static size_t
tar_str(const unsigned char *f, size_t width, char *dst)
{
	size_t n = 0;
	while (n < width && f[n])
		n++;
	memcpy(dst, f, n);
	dst[n] = '\0';
	return n;
}

int
xva_tar_parse(const unsigned char blk[XVA_TAR_BLOCK], struct xva_tar_hdr *h)
{
	bool zero = true;
	for (size_t i = 0; i < XVA_TAR_BLOCK && zero; i++)
		zero = blk[i] == 0;
	if (zero)
		return 1;
	uint64_t want;
	if (tar_num(blk + T_CHKSUM, 8, &want) < 0)
		return -1;
	unsigned usum = 0;
	int ssum = 0;
	for (size_t i = 0; i < XVA_TAR_BLOCK; i++) {
		unsigned char c =
		    i >= T_CHKSUM && i < T_CHKSUM + 8 ? ' ' : blk[i];
		usum += c;
		ssum += (signed char)c;
	}
	if (want != usum && (int64_t)want != ssum)
		return -1;
	if (tar_num(blk + T_SIZE, 12, &h->size) < 0)
		return -1;
	char name[101], prefix[156];
	tar_str(blk + T_NAME, 100, name);
	prefix[0] = '\0';
	if (memcmp(blk + T_MAGIC, "ustar", 5) == 0 && blk[T_MAGIC + 5] == '\0')
		tar_str(blk + T_PREFIX, 155, prefix);
	if (prefix[0])
		snprintf(h->name, sizeof(h->name), "%s/%s", prefix, name);
	else
		snprintf(h->name, sizeof(h->name), "%s", name);
	switch (blk[T_TYPE]) {
	case '0':
	case '\0':
	case '7': /* contiguous file */
		h->kind = XVA_TAR_FILE;
		break;
	case 'L':
		h->kind = XVA_TAR_LONGNAME;
		break;
	default:
		h->kind = XVA_TAR_SKIP;
		break;
	}
	return 0;
}
