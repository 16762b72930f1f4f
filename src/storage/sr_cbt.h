/*
 * sr_cbt: changed-block tracking (VDI.enable_cbt, disable_cbt,
 * list_changed_blocks, data_destroy), from QEMU persistent dirty bitmaps.
 *
 * A VDI with CBT on has a bitmap "xapid-cbt" (64 KiB a bit) in the qcow2
 * layer it writes to: QEMU records there every write of a running VM, and
 * keeps it in the file across stops. The VDI's history is cut in intervals
 * numbered by sm_config:cbt-seq within a chain sm_config:cbt-chain (a uuid
 * minted by enable_cbt). A snapshot closes the current interval: its bits
 * go to a log file "<chain>.<seq>.cbtlog" in the SR (a small qcow2 holding
 * bitmap "cbt"), the snapshot records that seq, the VDI's new top layer
 * gets a fresh bitmap and the VDI seq+1. The blocks changed between two
 * snapshots of a chain are the union of the logs after the older one up to
 * the newer (and of the live bitmap when the newer is the VDI itself). A
 * log that is missing or was left "in use" by a QEMU that died counts as
 * "everything changed", never as "nothing changed". Logs no snapshot of
 * the chain can need any more are removed (sr_cbt_forget).
 */
#ifndef XAPID_STORAGE_SR_CBT_H
#define XAPID_STORAGE_SR_CBT_H

#include <stdbool.h>
#include <stdint.h>

#include "api/errors.h"
#include "db/store.h"

#define SR_CBT_BITMAP "xapid-cbt"
#define SR_CBT_BLOCK 65536

/* What a clone of a VDI with CBT does besides the clone itself. */
struct sr_cbt_step {
	bool on;       /* the source has CBT */
	bool snapshot; /* closes an interval into log (else carries it on) */
	char *log;     /* the new interval log (snapshot): its path or nfs://
	                * URL, malloc'd */
	char *log_name;            /* its file name in the SR */
	char *server, *path, *sub; /* the SR (sr_ctx), to remove the log */
	char *chain;
};

/* What a live clone tells the backend (backend.h disk_snapshot): NULL when
 * st has no CBT, "" (carry the bits into the new top), "-" (a fresh bitmap
 * only: the log could not be made) or the log file. Borrowed from st. */
const char *sr_cbt_live_arg(const struct sr_cbt_step *st);

/* Before a clone (read lock held): fills st from the source VDI row; for a
 * snapshot makes the empty log file in the SR's directory (on NFS too:
 * every host of the pool reads the logs). */
struct sr_ctx;
struct api_err *sr_cbt_begin(const struct db_row *vdi, bool snapshot,
                             const struct sr_ctx *sr, struct sr_cbt_step *st);
/* After an offline clone: the VDI's new top layer file (its backing is the
 * old top) gets the bitmap; the old top's bits go to the log (snapshot) or
 * into the new top (clone). Live clones do this in the backend instead. */
void sr_cbt_after_offline(struct sr_cbt_step *st, const char *top_file);
/* In the clone's transaction: the new VDI's CBT fields (a snapshot takes
 * the closed interval, the source moves on to the next). */
void sr_cbt_record(struct db_txn *t, const char *src_ref, struct db_row *n,
		   const struct sr_cbt_step *st);
/* After the clone; ok false: the log made for it goes. */
void sr_cbt_end(struct sr_cbt_step *st, bool ok);

/* After a VDI of chain went (destroy, disable): removes the logs of the
 * chain in the SR that no remaining VDI can need. Call without locks. */
void sr_cbt_forget(const char *chain, const struct sr_ctx *sr);

/* The cbt-chain of a VDI row, or NULL (borrowed); its interval number. */
const char *sr_cbt_chain(const struct db_row *vdi);
long sr_cbt_seq(const struct db_row *vdi);

/* How the running VM of a VDI starts or stops tracking (the backend's
 * disk_cbt); without it, CBT cannot change on attached VDIs. */
void sr_set_live_cbt(int (*fn)(const char *uuid, const char *id, bool on, char **err));

/* xapi's refusals of an operation op on a VDI for its CBT state
 * (xapi_vdi.ml check_operation_error; "vbd": xapi_vbd.ml create): a
 * metadata-only VDI (cbt_metadata) gives VDI_INCOMPATIBLE_TYPE to
 * clone, copy, resize, snapshot, set_on_boot and to a VBD (as does any type
 * a VBD cannot hold); a VDI with CBT on gives VDI_CBT_ENABLED to
 * set_on_boot and mirror. Read lock held. */
struct api_err *sr_cbt_check_op(const struct db_row *vdi, const char *op);

/* Registers VDI.enable_cbt, disable_cbt, list_changed_blocks, data_destroy. */
void sr_cbt_register(void);

#endif
