/*
 * Fuzz target for the XVA reader (src/storage/xva_read.c: compression
 * sniffing, tar headers, chunk names and gaps, checksums) and the ova.xml
 * parser (src/storage/xva_meta.c).
 *
 * Input: an XVA upload. It is fed in pieces whose size comes from the first
 * byte, so piece boundaries fall everywhere. Looks for crashes, leaks and
 * undefined behaviour; checks that every piece of disk data handed on lies
 * inside its disk and that data only comes after ova.xml.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "storage/xva_meta.h"
#include "storage/xva_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const struct xva_meta *m;
};

static struct api_err *
fz_meta(void *ctx, const struct xva_meta *m)
{
	((struct fz *)ctx)->m = m;
	return NULL;
}

static struct api_err *
fz_data(void *ctx, size_t vdi, uint64_t off, const void *buf, size_t len)
{
	const struct xva_meta *m = ((struct fz *)ctx)->m;
	(void)buf;
	if (!m || vdi >= m->nvdis || off + len > (uint64_t)m->vdis[vdi].size)
		abort();
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct xva_read_ops ops = {fz_meta, fz_data, NULL};
	struct xva_meta m;
	struct fz f = {NULL};
	size_t piece = size ? (size_t)data[0] * 7 + 1 : 1;

	struct api_err *e = xva_meta_parse((const char *)data, size, &m);
	if (!e)
		xva_meta_clear(&m);
	api_err_free(e);

	struct xva_read *r = xva_read_new(&ops, &f, size & 1, false);
	e = NULL;
	for (size_t at = 0; at < size && !e; at += piece)
		e = xva_read_feed(r, data + at,
		                  size - at < piece ? size - at : piece);
	if (!e)
		e = xva_read_end(r);
	api_err_free(e);
	xva_read_free(r);
	return 0;
}
