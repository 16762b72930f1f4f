/*
 * Fuzz target for the VHD reader (src/storage/vhd_in.c), which parses
 * uploads to /import_raw_vdi: the input is fed in pieces whose size the
 * first byte chooses, then finished. Every block handed on must lie inside
 * the disk; a refused input must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/vhd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vhd_in *fuzz_reader;

static int
fuzz_block(void *ctx, uint32_t block, const uint8_t *bitmap, const uint8_t *data,
	   uint32_t block_size)
{
	volatile uint8_t sink = bitmap[0] ^ data[block_size - 1];
	(void)ctx;
	(void)sink;
	if ((int64_t)block * block_size >= vhd_in_size(fuzz_reader))
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = 1 + (size_t)data[0] * 97;
	fuzz_reader = vhd_in_new(64LL * 1024 * 1024, fuzz_block, NULL);
	int rc = 0;
	for (size_t at = 1; at < size && rc == 0; at += piece)
		rc = vhd_in_feed(fuzz_reader, data + at, size - at < piece ? size - at : piece);
	if (rc == 0)
		rc = vhd_in_finish(fuzz_reader);
	if ((rc < 0) != (vhd_in_error(fuzz_reader) != NULL))
		abort();
	vhd_in_free(fuzz_reader);
	fuzz_reader = NULL;
	return 0;
}
