/*
 * Fuzz target for the chunked raw upload parser (src/storage/vdi_chunked.c)
 * of /import_raw_vdi?chunked=true: the input is fed in pieces whose size
 * the first byte chooses, then finished. Every piece handed on must lie
 * inside the disk; a refused input must say why.
 */
#include <stdint.h>
#include <stdlib.h>

#include "storage/vdi_chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_DISK (64LL * 1024 * 1024)

static int
fuzz_piece(void *ctx, int64_t off, const void *data, size_t len)
{
	volatile uint8_t sink = ((const uint8_t *)data)[len - 1];
	(void)ctx;
	(void)sink;
	if (off < 0 || len == 0 || off + (int64_t)len > FUZZ_DISK)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = 1 + (size_t)data[0] * 7;
	struct vdi_chunked *c = vdi_chunked_new(FUZZ_DISK, fuzz_piece, NULL);
	int rc = 0;
	for (size_t at = 1; at < size && rc == 0; at += piece)
		rc = vdi_chunked_feed(c, data + at,
		                      size - at < piece ? size - at : piece);
	if (rc == 0)
		rc = vdi_chunked_finish(c);
	if ((rc < 0) != (vdi_chunked_error(c) != NULL))
		abort();
	vdi_chunked_free(c);
	return 0;
}
