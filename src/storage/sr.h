/*
 * sr: storage repositories and their drivers (DESIGN §6).
 *
 * Each SR type is a driver behind struct sr_driver; an SR is reached on this
 * host through its PBD's device_config. The API handlers here (SR.create,
 * VDI.create/destroy/resize, ...) keep the DB and the bytes on disk in step:
 * the bytes are made first, the DB row committed after; a failure removes
 * what was made.
 */
#ifndef XAPID_STORAGE_SR_H
#define XAPID_STORAGE_SR_H

#include <stdbool.h>
#include <stdint.h>

#include "api/errors.h"
#include "db/store.h"

struct db_txn;

/* A VDI in use by a running VM: after the driver moved the VDI's data into
 * the base and made the VDI's new top layer, switch() makes the VM write to
 * that layer (backend disk_snapshot). */
struct sr_live {
	struct api_err *(*switch_top)(const struct sr_live *l, const char *new_top);
	const char *vm_uuid;
	const char *disk_id;
	const char *cbt; /* changed-block tracking: see backend.h disk_snapshot */
};

/* What a driver knows of one SR: where its files are (sr_fs.h). */
struct sr_ctx {
	const char *uuid;
	const char *path;   /* local directory, or the NFS export's path */
	const char *server; /* NFS server, or NULL for a local directory */
	const char *sub; /* directory below path holding the SR ("" if none) */
};

/* The location of an SR as a driver derives it from a PBD's device_config
 * (all malloc'd; server and sub may be NULL). */
struct sr_loc {
	char *path, *server, *sub;
};

/* One VDI an SR scan found. */
struct sr_found {
	char *location;
	char *name_label; /* NULL: the driver does not name its VDIs */
	int64_t virtual_size, used;
	bool read_only;
};

/* The value of key in a string map of a row, or NULL. */
const char *sr_map_get(const struct dm_coll *c, const char *key);

/* SR_BACKEND_FAILURE_<code> as xapi reports an SM error: params "",
 * "<description>[ [opterr=<opterr>]]", "". */
struct api_err *sr_backend_error(int code, const char *description,
                                 const char *opterr);

struct sr_driver {
	const char *type;         /* "ext", "file", "nfs", "iso" */
	const char *content_type; /* "user", "iso" */
	bool shared;
	/* Checks a device_config (and sm_config) and derives the SR's location
	 * from it (SR.create, PBD.plug, SR.probe: sr_uuid may be NULL). */
	struct api_err *(*locate)(const struct dm_coll *dconf,
	                          const struct dm_coll *sm_config,
	                          const char *sr_uuid, struct sr_loc *loc);
	/* Makes the SR's storage exist (sr-create). */
	struct api_err *(*create)(const struct sr_ctx *sr);
	/* Checks the SR's storage is there and usable (PBD.plug). */
	struct api_err *(*attach)(const struct sr_ctx *sr);
	/* Removes the SR's storage, which holds no VDI any more (SR.destroy).
	 */
	struct api_err *(*delete)(const struct sr_ctx *sr);
	/* The SRs a device_config reaches: xapi's probe XML in *xml. */
	struct api_err *(*probe)(const struct dm_coll *dconf,
	                         const struct dm_coll *sm_config, char **xml);
	/* The VDIs on the storage (SR.scan): *found malloc'd, *n entries. */
	struct api_err *(*scan)(const struct sr_ctx *sr,
	                        struct sr_found **found, size_t *n);
	/* Bytes a new VDI of size bytes takes at once (SR_FULL check). */
	int64_t (*vdi_need)(const struct sr_ctx *sr, int64_t size);
	/* Makes a VDI of size bytes; sets *location (malloc'd, driver's id). */
	struct api_err *(*vdi_create)(const struct sr_ctx *sr, const char *vdi_uuid,
				      int64_t size, char **location);
	struct api_err *(*vdi_destroy)(const struct sr_ctx *sr, const char *location);
	struct api_err *(*vdi_resize)(const struct sr_ctx *sr, const char *location,
				      int64_t size);
	/* Allocated bytes of a VDI (-1 if unknown). */
	int64_t (*vdi_used)(const struct sr_ctx *sr, const char *location);
	/* Total and used bytes of the SR. */
	struct api_err *(*stat)(const struct sr_ctx *sr, int64_t *size, int64_t *used);
	/* Copy-on-write clone of a halted VDI: its data moves into a hidden
	 * read-only base shared by the VDI and the new one (new_uuid), as
	 * XenServer's VHD chains do. Sets *new_location. */
	struct api_err *(*vdi_clone)(const struct sr_ctx *sr, const char *location,
				     const char *new_uuid, int64_t size,
				     const struct sr_live *live,
				     char **new_location);
	/* Garbage collection of copy-on-write chains: removes hidden bases no
	 * VDI needs any more and merges a base into its only child (when that
	 * child is not in use by a running VM: busy(location) says). known()
	 * tells which locations are VDIs. Returns the number of files removed. */
	int (*gc)(const struct sr_ctx *sr, bool (*known)(void *ctx, const char *location),
		  bool (*busy)(void *ctx, const char *location),
		  int (*live_merge)(void *ctx, const char *location), void *ctx);
	/* A full copy of an image file (any format qemu-img reads) as the new
	 * VDI new_uuid of this SR; sets *location. */
	struct api_err *(*vdi_copy)(const struct sr_ctx *sr, const char *src_path,
				    const char *src_format, const char *new_uuid,
				    char **location);
	/* The image file and format QEMU opens. */
	char *(*vdi_path)(const struct sr_ctx *sr, const char *location, const char **format);
};

/* The driver of an SR type, or NULL. */
const struct sr_driver *sr_driver_find(const char *type);

/* This run of xapid on this host as it names the partial files it makes
 * on an SR (imports): "<host uuid>.<8 hex digits drawn at start>". Where
 * there are no locks (NFS) the name tells who owns such a file. */
const char *sr_run_tag(void);
/* True when file name (prefix, a run tag, ".", more) was made by an earlier
 * run of xapid on this host: its owner is gone, the file can go. */
bool sr_run_tag_stale(const char *name, const char *prefix);

/* Registers the SR/VDI API handlers. Call after api_init(). */
void sr_register(const char *host_ref);

/* For the VM code: the file and format of a VDI as this host sees it, or
 * NULL with *err. Call with the DB read lock held. */
char *sr_vdi_path(const char *vdi_ref, const char **format, struct api_err **err);

/* VDI.create of a user VDI of size bytes named name on SR sr_ref; its ref
 * in *vdi_ref (malloc'd). */
struct api_err *sr_vdi_new(const char *sr_ref, const char *name, int64_t size,
			   char **vdi_ref);
/* VDI.create for internal callers: rec is a VDI record (SR, virtual_size
 * and the constructor fields wanted). Sets *ref (malloc'd). */
struct api_err *sr_vdi_create_rec(const xv *rec, char **ref);

/* A VDI of type "suspend" on SR sr_ref, for a memory image the caller
 * then writes through sr_memimg.h (the file does not exist yet). Sets
 * *vdi_ref (malloc'd). */
struct api_err *sr_suspend_vdi_create(const char *sr_ref, int64_t size,
                                      char **vdi_ref);
/* Undoes sr_suspend_vdi_create after a failure: the image and the row go;
 * when nothing was written (the SR's storage could not be opened) the row
 * alone, which deleting the bytes could not remove. */
void sr_suspend_vdi_abandon(const char *vdi_ref, bool written);
/* VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION when the VDI is on_boot=reset
 * (snapshot, copy), else NULL (vdi_onboot.c). */
struct api_err *sr_vdi_assert_persistent(const char *vdi);
/* Registers VDI.set_on_boot with xapi's checks (vdi_onboot.c). */
void sr_onboot_register(void);

/* VDI_IN_USE unless VM vm_ref may open the VDI (read-write if rw): a VDI
 * that is not sharable is opened by one running VM at a time when either
 * writes (nothing else stops two QEMUs on NFS). Read lock held. */
struct api_err *sr_vdi_check_open(const char *vdi_ref, const char *vm_ref, bool rw);
/* Before VM vm_ref starts here: the leases of its read-write VDIs on NFS
 * SRs (sr_lease.c); VDI_IN_USE if another host holds one. Call without
 * locks. */
struct api_err *sr_leases_take(const char *vm_ref);
/* The same for one VBD of a running VM before it is hot-plugged. */
struct api_err *sr_lease_take_vbd(const char *vm_ref, const char *vbd_ref);
/* True if a VM has the VDI attached read-write now, i.e. its bytes are
 * changing under a reader. Call with the DB read lock held. */
bool sr_vdi_written(const struct db_row *vdi);

/* VDI.clone / VDI.snapshot (live when a VM running here writes to it):
 * the new VDI's ref in *out (malloc'd). pending: when not NULL, the new
 * VDI is a step of a larger operation (VM.snapshot, VM.revert) and carries
 * sm_config:xapid-pending=<pending> until that operation commits and drops
 * the mark; one still marked and used by no VBD at start-up was left by a
 * crash and goes (sr_recover). Call without locks. */
struct api_err *sr_vdi_clone(const char *vdi_ref, bool snapshot, const char *pending,
			     char **out);

/* The sm_config key of sr_vdi_clone's pending mark. */
#define SR_PENDING_KEY "xapid-pending"
/* The sm_config key marking a memory image xapid made (suspend, checkpoint):
 * recovery removes such an image once no VM holds it; suspend VDIs made by
 * users never carry it and are never removed behind their back. */
#define SR_MEMORY_IMAGE_KEY "xapid-memory-image"

/* Sets key to val in the string map field of row r (val NULL: removes it). */
void sr_map_put(struct db_txn *t, struct db_row *r, int field, const char *key,
		const char *val);

/* A new suspend-type VDI with a copy of the memory image of suspend VDI
 * src (VM.revert to a checkpoint). */
struct api_err *sr_suspend_vdi_copy(const char *src, char **out);

/* Start-up, after the VMs were resynchronised: removes what crashed
 * operations left (VDIs still marked pending and used by no VBD, suspend
 * images no VM holds), then collects every attached SR's garbage (the
 * driver's own journals first). */
void sr_recover(void);

/* How VDIs attached to running VMs are snapshotted (the VM backend's
 * disk_snapshot); without it such VDIs give VDI_IN_USE. */
void sr_set_live_snapshot(int (*fn)(const char *uuid, const char *id,
				    const char *new_top, const char *cbt, char **err));

/* How a running VM's disk is coalesced live (the backend's disk_stream). */
void sr_set_live_stream(int (*fn)(const char *uuid, const char *id,
                                  char **err));

/* SR.scan: the SR's VDI rows made to match its storage (new images
 * introduced, vanished ones forgotten), space figures refreshed. */
struct api_err *sr_scan_run(const char *sr_ref);

/* Takes (hold) or releases the lock under which chains change (clones,
 * the GC): a reader that maps a chain and opens its files holds it for
 * that moment so no base vanishes in between. Never held long. */
void sr_chain_hold(bool hold);

/* Runs the SR's garbage collector (chains no running VM writes to). */
void sr_coalesce(const char *sr_ref);

/* VDI.copy: a full, stand-alone copy of a VDI no running VM writes to,
 * into SR sr_ref (NULL or OpaqueRef:NULL: the VDI's own SR), or over
 * into_vdi when given. The new (or target) VDI's ref in *out. */
struct api_err *sr_vdi_copy(const char *vdi_ref, const char *sr_ref,
			    const char *into_vdi, char **out);

/* vdi-export / vdi-import: storage/vdi_stream.h and storage/vdi_import.h. */

/* Where a transfer touching the SRs srs (n refs) is to be served (xapi
 * importexport.ml check_sr_availability / find_host_for_sr): NULL when
 * this host has a plugged PBD of every one (or no other host has), else
 * the address of an enabled host that has (malloc'd): the HTTP request is
 * redirected there. Takes the read lock. */
char *sr_elsewhere(const char *const *srs, size_t n);

/* Removes a VDI: its bytes, then its row (and VBDs). */
struct api_err *sr_vdi_delete(const char *vdi_ref);

/* Makes the host's local SR on first start (DIR/sr-local) and sets it as the
 * pool's default SR. Call inside the bootstrap transaction. */
void sr_bootstrap(struct db_txn *t, const char *host_ref, const char *state_dir,
		  const char *pool_ref);

#endif
