/* vdi_chunked: xapi's chunked raw upload format (see vdi_chunked.h). */
#include "storage/vdi_chunked.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define VC_HEADER 12

struct vdi_chunked {
	int64_t max_end;
	vdi_chunked_fn fn;
	void *ctx;
	uint8_t hdr[VC_HEADER];
	size_t have;   /* header bytes gathered */
	int64_t off;   /* disk offset of the next data byte */
	uint32_t left; /* data bytes left in the current chunk */
	bool last, bad;
	int64_t too_far;
	char err[96];
};

static int
vc_fail(struct vdi_chunked *c, const char *why)
{
	if (!c->bad)
		snprintf(c->err, sizeof(c->err), "invalid chunked upload: %s",
		         why);
	c->bad = true;
	return -1;
}

struct vdi_chunked *
vdi_chunked_new(int64_t max_end, vdi_chunked_fn fn, void *ctx)
{
	struct vdi_chunked *c = xcalloc(1, sizeof(*c));
	c->max_end = max_end;
	c->fn = fn;
	c->ctx = ctx;
	return c;
}

/* A whole header: the next chunk, or the end. */
static int
vc_header(struct vdi_chunked *c)
{
	uint64_t off = 0;
	uint32_t len = 0;
	for (int i = 7; i >= 0; i--)
		off = off << 8 | c->hdr[i];
	for (int i = 11; i >= 8; i--)
		len = len << 8 | c->hdr[i];
	c->have = 0;
	if (off == 0 && len == 0) {
		c->last = true;
		return 0;
	}
	if (off > (uint64_t)c->max_end || len > (uint64_t)c->max_end - off) {
		c->too_far = off > (uint64_t)INT64_MAX - len
		                 ? INT64_MAX
		                 : (int64_t)(off + len);
		return vc_fail(c, "a chunk beyond the disk's end");
	}
	c->off = (int64_t)off;
	c->left = len;
	return 0;
}

int
vdi_chunked_feed(struct vdi_chunked *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	if (c->bad)
		return -1;
	while (len) {
		if (c->last)
			return vc_fail(c, "data after the last chunk");
		if (c->left) {
			size_t n = c->left < len ? c->left : len;
			if (c->fn(c->ctx, c->off, p, n) < 0)
				return vc_fail(c,
				               "the data could not be written");
			c->off += (int64_t)n;
			c->left -= (uint32_t)n;
			p += n;
			len -= n;
			continue;
		}
		size_t n =
		    VC_HEADER - c->have < len ? VC_HEADER - c->have : len;
		memcpy(c->hdr + c->have, p, n);
		c->have += n;
		p += n;
		len -= n;
		if (c->have == VC_HEADER && vc_header(c) < 0)
			return -1;
	}
	return 0;
}

int
vdi_chunked_finish(struct vdi_chunked *c)
{
	if (c->bad)
		return -1;
	if (!c->last)
		return vc_fail(c, c->left || c->have
		                      ? "the upload ends inside a chunk"
		                      : "no last chunk");
	return 0;
}

const char *
vdi_chunked_error(const struct vdi_chunked *c)
{
	return c->bad ? c->err : NULL;
}

int64_t
vdi_chunked_too_far(const struct vdi_chunked *c)
{
	return c->too_far;
}

void
vdi_chunked_free(struct vdi_chunked *c)
{
	free(c);
}
