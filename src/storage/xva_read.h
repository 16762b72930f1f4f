/*
 * xva_read: the XVA stream reader, fed as bytes arrive (an HTTP upload).
 *
 * It sniffs the compression (none, gzip, zstd; as xapi's importer does),
 * walks the tar entries, parses and checks ova.xml, then follows the disk
 * chunks of each streamed VDI in order ("Ref:N/00000000", 8-digit numbers
 * increasing, gaps = zeros, keep-alive empty chunks), verifies each
 * chunk's inline checksum (.xxhash or .checksum) before handing it on, and
 * knows when the last byte of the last disk has arrived. Nothing here
 * touches the database: the owner acts through the ops.
 */
#ifndef XAPID_STORAGE_XVA_READ_H
#define XAPID_STORAGE_XVA_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/errors.h"
#include "storage/xva_meta.h"

struct xva_read_ops {
	/* ova.xml has been read and checked; the disks in m->vdis follow.
	 * m stays valid until xva_read_free(). */
	struct api_err *(*meta)(void *ctx, const struct xva_meta *m);
	/* Verified data of disk m->vdis[vdi] at off (all-zero data is never
	 * passed on: a new disk reads as zeros). */
	struct api_err *(*data)(void *ctx, size_t vdi, uint64_t off,
	                        const void *buf, size_t len);
	/* Disk vdi is complete (all its bytes seen); may be NULL. */
	struct api_err *(*vdi_done)(void *ctx, size_t vdi);
};

struct xva_read;

/* A reader calling ops with ctx. force: checksum mismatches are logged,
 * not fatal (xapi's force=true). meta_only: stop after ova.xml (metadata
 * import). */
struct xva_read *xva_read_new(const struct xva_read_ops *ops, void *ctx,
                              bool force, bool meta_only);
/* Feeds the next bytes of the stream. After an error the reader refuses
 * further input (returns a copy of the same error). */
struct api_err *xva_read_feed(struct xva_read *r, const void *buf, size_t n);
/* The stream ended: errors if anything is missing (IMPORT_ERROR_PREMATURE_EOF).
 */
struct api_err *xva_read_end(struct xva_read *r);
/* Uncompressed disk bytes accounted so far, and the total expected. */
void xva_read_progress(const struct xva_read *r, uint64_t *done,
                       uint64_t *total);
void xva_read_free(struct xva_read *r);

/* True if buf[0..len) is all zero bytes. */
bool xva_is_zero(const void *buf, size_t len);

#endif
