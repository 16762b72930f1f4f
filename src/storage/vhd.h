/*
 * vhd: the VHD disk format (Microsoft VHD spec 1.0, as XenServer uses it):
 * dynamic (type 3) and differencing (type 4) images of 2 MiB blocks.
 *
 * Layout written: footer copy | header | [parent locator data] | BAT |
 * per allocated block: sector bitmap (512 B) + 2 MiB of data | footer.
 * The writer generates that byte stream from a vdi_stream on demand (any
 * position, so an HTTP response can pull it); the reader is a push parser
 * that checks everything (cookies, checksums, versions, sizes, BAT bounds
 * and overlaps, the footer copy) before it hands a block on.
 */
#ifndef XAPID_STORAGE_VHD_H
#define XAPID_STORAGE_VHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/vdi_stream.h"

#define VHD_BLOCK_SIZE (2 * 1024 * 1024)
/* The largest VHD XenServer makes (constants.ml max_vhd_size): 2040 GiB. */
#define VHD_MAX_SIZE (2040LL * 1024 * 1024 * 1024)

/* ---- writer ---- */

struct vhd_out;

/* A VHD of stream s (not taken; it must outlive the writer): dynamic, or
 * differencing if parent_uuid is given (then only the extents s marks
 * changed are in it, and its parent is named <parent_uuid>.vhd as
 * XenServer names it). uuid is the image's unique id. */
struct vhd_out *vhd_out_new(const struct vdi_stream *s, const char *uuid,
                            const char *parent_uuid);

/* The total size of the VHD in bytes. */
int64_t vhd_out_size(const struct vhd_out *o);

/* Fills buf with up to max bytes of the VHD from pos. Returns the count
 * (0 at the end), or -1 with errno set on a read error of the image. */
ssize_t vhd_out_read(struct vhd_out *o, int64_t pos, char *buf, size_t max);

void vhd_out_free(struct vhd_out *o);

/* ---- reader ---- */

/* Called for each allocated block, in file order: block index, its sector
 * bitmap (bit set = sector present, MSB first), and its data (block_size
 * bytes). Returns 0, or -1 to stop (the reader then fails with its own
 * message: cb_err). */
typedef int (*vhd_block_fn)(void *ctx, uint32_t block, const uint8_t *bitmap,
                            const uint8_t *data, uint32_t block_size);

struct vhd_in;

/* A reader that accepts images of at most max_size virtual bytes. */
struct vhd_in *vhd_in_new(int64_t max_size, vhd_block_fn fn, void *ctx);

/* Feeds the next len bytes of the file. Returns 0, or -1 once the input is
 * known to be bad (vhd_in_error says why; nothing further is accepted). */
int vhd_in_feed(struct vhd_in *r, const void *data, size_t len);

/* The end of the input: checks the file was complete and its footer
 * matches the copy at the start. Returns 0 or -1. */
int vhd_in_finish(struct vhd_in *r);

/* Why the input was refused (NULL if it was not); "too large" failures say
 * so with vhd_in_too_large(). */
const char *vhd_in_error(const struct vhd_in *r);
bool vhd_in_too_large(const struct vhd_in *r);

/* What the header said, once read: virtual size, type (3 dynamic, 4
 * differencing), block size. 0 until known. */
int64_t vhd_in_size(const struct vhd_in *r);
int vhd_in_type(const struct vhd_in *r);

void vhd_in_free(struct vhd_in *r);

#endif
