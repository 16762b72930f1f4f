/*
 * migrate_int: what the two halves of live migration share: migrate.c (the
 * stream between the hosts, both sides; VM.pool_migrate) and
 * migrate_send.c (storage migration: VM.migrate_send, Host.migrate_receive,
 * VM.assert_can_migrate).
 */
#ifndef XAPID_VM_MIGRATE_INT_H
#define XAPID_VM_MIGRATE_INT_H

#include "vm/vm_int.h"

/* One disk that moves with the VM (storage migration). */
struct mig_disk {
	char *vdi;     /* the VDI on the source */
	char *sr;      /* the SR it goes to (attached on the destination) */
	char *new_vdi; /* the VDI made there (NULL until made) */
	char id[16];   /* the disk's id at the source ("vbd<userdevice>") */
	char *vbd;
	bool copy;   /* copied (not in use, or read-only), not mirrored */
	char *owner; /* the VM (or snapshot) whose VBD (vbd) or suspend image
	              * (vbd NULL) it is */
};

struct mig_move {
	struct mig_disk *d;
	size_t n;
};

/* An internal session on another member (session.slave_login with the
 * pool secret): calls made with it run on that member. NULL and *err. */
char *mig_session(const char *addr, const char *host, struct api_err **err);
/* Ends a session made by mig_session (best effort); frees sid. */
void mig_logout(const char *addr, char *sid);
/* A host's management address (malloc'd), or NULL. */
char *mig_host_address(const char *host);
/* VM_MIGRATE_FAILED [vm, this host, dest, msg]. */
struct api_err *mig_failed(const char *vm, const char *dest, const char *msg);
/* A random token or key (64 hex digits). 0 or -1. */
int mig_new_token(char out[65]);
/* The stream to the destination: POST /migrate?token=... with body on
 * addr:port, 101, then the bare TCP socket. Returns it, or -1 with *err. */
int mig_connect(const char *addr, int port, const char *token, const char *body,
                char **err);
/* Records what QEMU measured on the Async task running the call. */
void mig_note_task(const char *task, const struct vm_migrate_stats *st);

/* ---- disks copied, not mirrored (migrate_copy.c) ---- */

/* Source: copies disk d (its VDI into d->new_vdi, made at the destination
 * addr) over a stream of its own (session sid, the migration's key). */
struct api_err *mig_copy_disk(const char *addr, const char *sid, const char *vm,
                              const char *dest, const char *key,
                              const struct mig_disk *d);
/* Destination: POST /migrate {"vm", "copy": vdi}: the copy lands in vdi
 * (which must be pending, made for a migration) from sock. */
void mig_serve_copy(int sock, const char *vm, const char *vdi);
/* Destination: waits (bounded) until no copy is being received. */
void mig_copies_wait(void);
/* A new one-time token, given to the destination for vm (over TLS) with
 * the stream key. */
struct api_err *mig_give_token(const char *addr, const char *sid,
                               const char *vm, const char *dest,
                               const char *key, char token[65]);
/* Destination: takes the key left for vm's next stream (malloc'd), or
 * NULL. */
char *mig_key_take(const char *vm);

/* Does host have sr plugged? Lock held. */
bool mig_host_sees(const char *host, const char *sr_ref);

/* ---- snapshots, suspend images, halted VMs (migrate_offline.c) ---- */

/* Adds to mv (copy) what moves besides vm's own disks: its snapshots' VDIs
 * and the suspend images, with the SR each goes to on host (xapi's rules).
 * VDI_NOT_IN_MAP, VM_REQUIRES_SR, VDI_CBT_ENABLED. */
struct api_err *mig_offline_plan(const char *vm, const char *host,
                                 const xv *vdi_map, struct mig_move *mv);
/* Once the copies are made: the VBDs and suspend_VDI fields on them, their
 * snapshot fields, suspend_SR fixed for host; all: vm's own VBDs too (not
 * running: no destination recorded them). */
struct api_err *mig_offline_record(const char *vm, const char *host,
                                   const struct mig_move *mv, bool all);

/* ---- the hand-over (migrate_end.c) ---- */

/* A VM arriving at the destination: nothing known of it, step 1 under way,
 * loaded (waits for the source's word), being ended, runs here (decided),
 * dropped (decided). */
enum {
	MIG_IN_NONE = -2,
	MIG_IN_GONE = -1,
	MIG_IN_LOADING = 0,
	MIG_IN_LOADED = 1,
	MIG_IN_ENDING = 2,
	MIG_IN_RUNS = 3
};

/* Destination: uuid arrives (step 1 starts); moved ({old VDI: new VDI}, a
 * storage migration's, or NULL) is taken. */
void mig_in_begin(const char *uuid, xv *moved);
/* Destination: step 1 of uuid ended, loaded (ok) or failed. */
void mig_in_loaded(const char *uuid, bool ok);
/* Destination: the MIG_IN_* state of uuid. */
int mig_in_state(const char *uuid);
/* Destination, after a load: waits for the source to end the arrival; one
 * that never does (it died after step 1) has its VM dropped after
 * MIG_ABANDON_S. */
void mig_in_watch(const char *uuid);

enum mig_outcome {
	MIG_MOVED,   /* the destination runs the VM and recorded it there */
	MIG_STAYS,   /* the destination dropped its copy: resume here */
	MIG_UNKNOWN, /* no answer for long: do not resume (it may run there) */
};
/* Source, once step 1 succeeded: asks the destination (addr, session sid)
 * to run vm (uuid); a lost answer is asked again (bounded), a never
 * answered one settled from the database. The VM stays stopped here. */
enum mig_outcome mig_handover(const char *vm, const char *uuid,
                              const char *addr, const char *sid,
                              const char *dest);
/* Source: waits (bounded) until this host's view of the database shows vm
 * resident on dest (the destination recorded it). */
void mig_wait_recorded(const char *vm, const char *dest);
/* Registers VM.pool_migrate_end. */
void mig_end_register(void);

/* Moves running VM vm (uuid) to dest (address addr): steps 1 and 2, the
 * disks in mv (may be NULL) mirrored to the VDIs made for them. The
 * operation is marked; the VM runs here. On success the VM runs at dest,
 * recorded there by the destination (MIG_MOVED); on failure it runs here
 * as before and nothing of it runs at dest (MIG_STAYS), or, when the
 * destination never answered the hand-over, it is stopped here and may run
 * there (MIG_UNKNOWN: nothing it may use can be removed). *oc: which. */
struct api_err *mig_run(const char *vm, const char *uuid, const char *dest,
                        const char *addr, const struct mig_move *mv,
                        struct vm_migrate_stats *out, enum mig_outcome *oc);

/* Registers VM.migrate_send, Host.migrate_receive, VM.assert_can_migrate. */
void mig_send_register(void);

#endif
