/*
 * sr_priv: what the SR/VDI handlers (sr.c, sr_vdi.c, sr_clone.c) and the
 * SR/PBD lifecycle (sr_life.c, sr_scan.c) share.
 */
#ifndef XAPID_STORAGE_SR_PRIV_H
#define XAPID_STORAGE_SR_PRIV_H

#include <pthread.h>

#include "storage/sr.h"

/* This host's ref (sr_register). */
extern char *sr_host;
/* Serialises the changes of copy-on-write chains (clones, GC, scans). */
extern pthread_mutex_t sr_chain_lock;

/* Copies of what a driver call needs, so the DB lock can be dropped. */
struct sr_call {
	const struct sr_driver *drv;
	char *uuid, *sr_ref;
	struct sr_loc loc;
	struct sr_ctx ctx;
};

/* The SR attached on this host (else SR_HAS_NO_PBDS / SR_NOT_ATTACHED).
 * Takes the read lock itself. */
struct api_err *sr_call_prepare(const char *sr_ref, struct sr_call *c);
void sr_call_clear(struct sr_call *c);
/* Frees the strings of loc. */
void sr_loc_clear(struct sr_loc *loc);
/* A VBD through which a VM uses its VDI now (a checkpoint's VBDs say
 * attached too, but nothing runs there). Read lock held. */
bool sr_vbd_live(const struct db_row *vbd);
/* This host's PBD of the SR row, or NULL (read lock held). */
struct db_row *sr_local_pbd(const struct db_row *sr);
/* Commits t, then refreshes the SR's space figures (physical size and
 * utilisation from the storage, virtual allocation from its VDI rows). */
struct api_err *sr_commit_space(struct db_txn *t, struct sr_call *c);
/* The same refresh alone (after the GC freed space). */
void sr_space_refresh(struct sr_call *c);
/* SR_FULL [need, free] unless need bytes are free on the SR. */
struct api_err *sr_check_space(struct sr_call *c, int64_t need);
/* Runs the SR's GC. */
void sr_gc_run(struct sr_call *c);
/* Bytes a qcow2 copy of image src (format fmt) takes; 0 if unknown. */
int64_t sr_copy_need(const char *src, const char *fmt);
/* The drivers, in SR.get_supported_types order. */
extern const struct sr_driver *const sr_drivers[];
extern const size_t sr_ndrivers;
/* Locations being made now (a VDI file exists before its row): SR.scan
 * leaves them alone. */
void sr_inflight_add(const char *location);
void sr_inflight_del(const char *location);
bool sr_inflight_has(const char *location);

/* Registers the SR/PBD lifecycle handlers (sr_life.c) and SR.scan, VDI.
 * introduce/forget (sr_scan.c). */
void sr_life_register(void);
/* Starts the thread renewing and dropping this host's NFS leases. */
void sr_lease_start(void);
void sr_scan_register(void);
/* Registers VDI.create, destroy, resize, copy (sr_vdi.c) and VDI.clone,
 * snapshot (sr_clone.c). */
void sr_vdi_register(void);
void sr_clone_register(void);

#endif
