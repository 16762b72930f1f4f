/*
 * xva_meta: ova.xml, the metadata of an XVA (reference/xenapi.md §5.2).
 *
 * ova.xml is one XML-RPC value: {version: {hostname, date, product_version,
 * product_brand, build_number, xapi_major, xapi_minor, export_vsn},
 * objects: [{class, id, snapshot}]} where each snapshot is the object's API
 * record with references to other exported objects rewritten to their ids
 * ("Ref:<n>") and all other references to OpaqueRef:NULL (xapi export.ml).
 */
#ifndef XAPID_STORAGE_XVA_META_H
#define XAPID_STORAGE_XVA_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/errors.h"
#include "util/buf.h"
#include "util/xv.h"

/* What our exports say and the newest exports we import (xapi 26.17, the
 * XVA format of today's XenServer). */
#define XVA_EXPORT_VSN 2
#define XVA_XAPI_MAJOR 26
#define XVA_XAPI_MINOR 17
/* Disks travel in chunks of this size. */
#define XVA_CHUNK ((size_t)1 << 20)
/* The largest ova.xml we read. */
#define XVA_META_MAX ((size_t)64 << 20)

struct xva_obj {
	const char *cls;
	const char *id;
	const xv *snap; /* an XV_STRUCT */
};

/* A disk whose contents follow ova.xml, in stream order. */
struct xva_vdi {
	const char *id;
	int64_t size;
};

struct xva_meta {
	xv *root;
	int64_t xapi_major, xapi_minor, export_vsn;
	struct xva_obj *objs;
	size_t nobjs;
	struct xva_vdi *vdis;
	size_t nvdis;
};

/* Parses and checks ova.xml (structure, ids, the version, the streamed
 * disks). On failure *m is cleared and the error is IMPORT_ERROR [reason],
 * IMPORT_INCOMPATIBLE_VERSION or IMPORT_ERROR_FAILED_TO_FIND_OBJECT [id]. */
struct api_err *xva_meta_parse(const char *xml, size_t len, struct xva_meta *m);
void xva_meta_clear(struct xva_meta *m);
/* The object with this id, or NULL. */
const struct xva_obj *xva_meta_find(const struct xva_meta *m, const char *id);
/* An integer member of a snapshot (int or decimal string); def if absent
 * or malformed. */
int64_t xva_snap_int(const xv *snap, const char *name, int64_t def);
/* A string member of a snapshot, or "" (never NULL). */
const char *xva_snap_str(const xv *snap, const char *name);

/* ---- export ---- */

struct xva_build_opts {
	bool preserve_power_state;
	bool with_snapshots; /* snapshot VMs and the snapshot fields */
	bool metadata_only;  /* no disk will follow */
};

/* A disk to stream: its id in ova.xml, its VDI ref, its size. */
struct xva_out_vdi {
	char *id;
	char *vdi;
	int64_t size;
};

/* Builds ova.xml for the VMs (refs) into *xml, and the disks to stream
 * after it (sorted by id, as xapi streams them). Takes the DB read lock. */
struct api_err *xva_meta_build(const char *const *vms, size_t nvms,
                               const struct xva_build_opts *o, struct buf *xml,
                               struct xva_out_vdi **vdis, size_t *nvdis);
void xva_out_vdis_free(struct xva_out_vdi *v, size_t n);

#endif
