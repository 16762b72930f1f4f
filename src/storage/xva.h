/*
 * xva: vm-export and vm-import in XenServer's XVA format (xapi export.ml,
 * import.ml, stream_vdi.ml; reference/xenapi.md §5.2).
 *
 * Export: ova.xml, then each streamed disk in 1 MiB chunks "Ref:N/%08d",
 * each followed by its ".xxhash" (XXH64, 16 uppercase hex digits); all-zero
 * chunks other than the first and last are left out; the whole tar stream
 * optionally gzip- or zstd-compressed. Disks are read from their image
 * files (vdi_stream), only where the chain has data, straight into the
 * stream.
 *
 * Import: the upload is read as it arrives (xva_read), the objects of
 * ova.xml are created when it has been read (new UUIDs and MACs unless
 * restore), the disks are written into fresh qcow2 images (vdi_import) as
 * verified chunks arrive, and the result is the new VM refs. Any failure
 * removes every object and disk the import made. Objects of an import in
 * progress are marked (VM other_config "xapid_import_in_progress", VDI
 * sm_config "import_task") so that a restart after a crash removes them
 * (xva_import_recover).
 */
#ifndef XAPID_STORAGE_XVA_H
#define XAPID_STORAGE_XVA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/errors.h"
#include "util/xv.h"

/* ---- export ---- */

enum xva_comp { XVA_COMP_NONE, XVA_COMP_GZIP, XVA_COMP_ZSTD };

struct xva_export_req {
	const char *vm; /* VM ref */
	enum xva_comp comp;
	bool preserve_power_state;
	bool snapshots;     /* include the VM's snapshots (and their disks) */
	bool metadata_only; /* /export_metadata: ova.xml only */
	/* Called about once a second with the fraction done; returns false
	 * when the export must stop (the task is being cancelled). */
	bool (*progress)(void *ctx, double frac);
	void *ctx;
};

struct xva_export;

/* Checks the request (the VM exists and may be exported: halted or
 * suspended, or metadata only) and builds ova.xml. */
struct api_err *xva_export_prepare(const struct xva_export_req *rq,
                                   struct xva_export **out);
/* The next bytes of the XVA stream (made as they are asked for: nothing
 * is held but the current chunk) into buf: up to max bytes, 0 at the end,
 * -1 when the export stopped (see xva_export_error). */
ssize_t xva_export_read(struct xva_export *x, void *buf, size_t max);
/* Direct mode (before the first xva_export_next): an uncompressed disk
 * chunk that lies in one extent of a local image file comes as that file
 * range, checksummed through a mapping, for the caller to sendfile. */
void xva_export_direct(struct xva_export *x);
/* One piece of the stream: len bytes at buf, or (fd >= 0) len bytes of fd
 * at off. Valid until the next call. */
struct xva_piece {
	const void *buf;
	size_t len;
	int fd;
	int64_t off;
};
/* The next piece of the stream without copying it: 1, 0 at the end, -1
 * when the export stopped (see xva_export_error). Do not mix with
 * xva_export_read. */
int xva_export_next(struct xva_export *x, struct xva_piece *p);
/* Why the stream is not complete: TASK_CANCELLED, VDI_IO_ERROR...,
 * CLIENT_ERROR if it was not read to its end; NULL when it was. */
struct api_err *xva_export_error(const struct xva_export *x);
void xva_export_free(struct xva_export *x);
/* Where GET /export of VM vm_ref is to be served (xapi export.ml): NULL
 * when this host has a plugged PBD of every SR of the VM's disks (or no
 * other host has), else the address of an enabled host that has
 * (malloc'd): the request is redirected there. Takes the read lock. */
char *xva_export_elsewhere(const char *vm_ref);
/* "true"/"gzip" -> gzip, "zstd" -> zstd, anything else -> none (export.ml). */
enum xva_comp xva_comp_parse(const char *s);

/* ---- import ---- */

struct xva_import_req {
	const char *sr;     /* SR ref for the disks (full import) */
	const char *task;   /* the task (marks the objects), may be NULL */
	bool restore;       /* keep UUIDs and MACs */
	bool force;         /* ignore checksum failures */
	bool metadata_only; /* /import_metadata: disks are found, not made */
	bool (*progress)(void *ctx, double frac);
	void *ctx;
};

struct xva_import;

/* Checks the request (the SR exists, is not an ISO library). */
struct api_err *xva_import_begin(const struct xva_import_req *rq,
                                 struct xva_import **out);
/* The next bytes of the upload. After an error, the import is dead: call
 * xva_import_abort(). */
struct api_err *xva_import_feed(struct xva_import *im, const void *buf,
                                size_t n);
/* End of the upload: completes the import and returns the VM refs (an
 * XV_ARRAY, the task result), or an error after removing what was made. */
struct api_err *xva_import_end(struct xva_import *im, xv **vms);
/* Removes everything the import made and frees it (also after end). NULL ok. */
void xva_import_abort(struct xva_import *im);
/* At start-up: removes the objects of imports a crash interrupted. */
void xva_import_recover(void);

#endif
