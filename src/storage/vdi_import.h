/*
 * vdi_import: an upload (raw or VHD) becomes a VDI's new contents, written
 * straight into a fresh qcow2 image beside the VDI's (qcow2_write: zero
 * clusters skipped, no temporary raw copy, no qemu-img convert), then
 * renamed over the VDI's image at once (on an nfs SR the new image is made
 * by qemu-img and written through qemu-nbd, and renamed through libnfs).
 * Until then the VDI is untouched: a bad or truncated upload, a full disk
 * or a crash leaves it as it was, and the partial image is removed (after a
 * crash, by the SR's next scan: it is locked while an import owns it; on
 * NFS, where there are no locks, a crash leaves it behind).
 *
 * raw: the image is the upload (VDI_TOO_SMALL if it is larger than the
 * VDI; the rest reads as zeros). vhd: a dynamic or differencing VHD whose
 * present sectors are applied onto the VDI's current contents, as xapi's
 * vhd-tool does; the rest keeps what the VDI had.
 */
#ifndef XAPID_STORAGE_VDI_IMPORT_H
#define XAPID_STORAGE_VDI_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "api/errors.h"

struct vdi_import;

/* Starts an import into VDI vdi_ref ("raw" or "vhd"; NULL/"" = raw).
 * Refuses a VDI a running VM writes to (VDI_IN_USE). Call without locks. */
struct api_err *vdi_import_begin(const char *vdi_ref, const char *format,
                                 struct vdi_import **out);

/* Raw only: the upload is in xapi's chunked format (vdi_chunked.h: the
 * chunks say where their data goes; what no chunk sends reads as zeros).
 * Call before the first feed. A VHD import gives INTERNAL_ERROR "Cannot
 * handle chunked VHD", as xapi does. */
struct api_err *vdi_import_chunked(struct vdi_import *im);

/* The upload's announced length (Content-Length): a raw upload larger than
 * the VDI is refused at once (VDI_TOO_SMALL), before any data is written. */
struct api_err *vdi_import_expect(struct vdi_import *im, int64_t len);

/* Raw only: the next len bytes are at virtual offset off (never before
 * what was fed already); the bytes skipped since read as zeros, and whole
 * clusters of them cost nothing. For sparse sources (XVA chunks). Errors
 * as vdi_import_feed. */
struct api_err *vdi_import_feed_at(struct vdi_import *im, int64_t off,
                                   const void *data, size_t len);

/* The next len bytes of the upload. The first error is kept and returned
 * again (it stays im's); later data is ignored. */
struct api_err *vdi_import_feed(struct vdi_import *im, const void *data,
                                size_t len);

/* The upload is complete: checks it, finishes the image and puts it in
 * place. Frees im. */
struct api_err *vdi_import_finish(struct vdi_import *im);

/* Abandons the import (the upload broke off): the VDI stays as it was.
 * Frees im (NULL is fine). */
void vdi_import_abort(struct vdi_import *im);

/* The name prefix of the partial images (for the SR's clean-up). */
#define VDI_IMPORT_TMP_PREFIX ".import-"

#endif
