/*
 * Fuzz target for the qcow2 persistent-bitmap reader (src/storage/
 * qcow2_bitmap.c): the input is an image file. Looks for crashes, leaks
 * and undefined behaviour; checks that what loads is self-consistent and
 * that folding it into a CBT bitmap stays inside the output.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/qcow2_bitmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_img {
	const uint8_t *p;
	size_t n;
};

static int
fz_read(void *ctx, void *buf, size_t n, uint64_t off)
{
	const struct fz_img *im = ctx;
	if (off > im->n || n > im->n - off)
		return -1;
	memcpy(buf, im->p + off, n);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_img im = {data, size};
	struct qcow2_bitmap b;
	char *err = NULL;
	int rc = qcow2_bitmap_load(fz_read, &im, "xapid-cbt", &b, &err);
	if (rc == 0) {
		if (!b.bits || b.granularity < 512 || b.nbytes > QCOW2_BITMAP_MAX_BYTES)
			abort();
		uint8_t out[129] = {0};
		qcow2_bitmap_or_blocks(&b, out, 1024, 65536);
		if (out[128])
			abort();
	} else if (rc < 0 && !err) {
		abort();
	}
	free(err);
	qcow2_bitmap_free(&b);
	return 0;
}
