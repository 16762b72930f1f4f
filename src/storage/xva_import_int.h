/*
 * xva_import_int: what the two files of the importer share (xva_import.c:
 * the stream, the disks, the end; xva_import_obj.c: the objects of ova.xml).
 */
#ifndef XAPID_STORAGE_XVA_IMPORT_INT_H
#define XAPID_STORAGE_XVA_IMPORT_INT_H

#include "db/store.h"
#include "storage/vdi_import.h"
#include "storage/xva.h"
#include "storage/xva_read.h"

#define IM_MARK "xapid_import_in_progress"

/* An object of ova.xml and what it became here. */
struct im_map {
	const char *id;
	char *ref;
	int cls;
};

struct im_disk {
	char *ref;             /* the VDI made for it */
	struct vdi_import *vi; /* its new image, while data comes */
};

struct xva_import {
	struct xva_import_req rq;
	char *sr, *task;
	struct xva_read *rd;
	const struct xva_meta *m;
	struct im_map *map;
	size_t nmap;
	struct im_disk *disks; /* per m->vdis */
	char **vdis;           /* VDIs made (undone on failure) */
	size_t nvdis;
	char **rows; /* rows made, "cls ref" pairs in rowcls */
	int *rowcls;
	size_t nrows;
	double last_report;
	bool done;
};

/* The ref an object of ova.xml became here, or NULL. */
const char *im_lookup(const struct xva_import *im, const char *id);
/* Records what an object became. */
void im_add(struct xva_import *im, const char *id, int cls, const char *ref);
/* Records a row the import made (removed if the import fails). */
void im_row_made(struct xva_import *im, int cls, const char *ref);
/* A copy of map c with key set to value (NULL: key removed). */
struct dm_coll *im_map_set(const struct dm_coll *c, const char *key,
                           const char *value);
/* Finds or makes every object of ova.xml: SRs, disks (files and rows
 * first), then VMs, networks, VBDs, VIFs in one transaction. */
struct api_err *im_make_objects(struct xva_import *im);

#endif
