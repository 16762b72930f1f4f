/*
 * vdi_chunked: the "chunked" raw upload of xapi's /import_raw_vdi (query or
 * cookie chunked=..., as vhd-tool's stream_chunked sends it; not HTTP's
 * Transfer-Encoding): a sequence of chunks, each a 12-byte header (offset
 * on the disk, uint64 little-endian; length, uint32 little-endian) followed
 * by that many bytes of data, ended by a header of offset 0 and length 0.
 * Only disk ranges that are sent change; the parser is a push parser of
 * untrusted input and hands the data on as it arrives.
 */
#ifndef XAPID_STORAGE_VDI_CHUNKED_H
#define XAPID_STORAGE_VDI_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

/* Receives len bytes of data for disk offset off (a chunk comes in as many
 * pieces as the input did). Returns 0, or -1 to stop (the parser then
 * fails with "the data could not be written"). */
typedef int (*vdi_chunked_fn)(void *ctx, int64_t off, const void *data,
                              size_t len);

struct vdi_chunked;

/* A parser handing data to fn; chunks must not reach past max_end bytes. */
struct vdi_chunked *vdi_chunked_new(int64_t max_end, vdi_chunked_fn fn,
                                    void *ctx);
/* Feeds the next len bytes of the upload: 0, or -1 once it is known to be
 * bad (vdi_chunked_error says why; nothing further is accepted). */
int vdi_chunked_feed(struct vdi_chunked *c, const void *data, size_t len);
/* The end of the upload: 0 if the last chunk came (and nothing after it),
 * else -1. */
int vdi_chunked_finish(struct vdi_chunked *c);
/* Why the upload was refused, or NULL. */
const char *vdi_chunked_error(const struct vdi_chunked *c);
/* The disk offset a chunk reaching past max_end asked for (else 0). */
int64_t vdi_chunked_too_far(const struct vdi_chunked *c);
void vdi_chunked_free(struct vdi_chunked *c);

#endif
