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

/* Moves running VM vm (uuid) to dest (address addr): steps 1 and 2, the
 * disks in mv (may be NULL) mirrored to the VDIs made for them. The
 * operation is marked; the VM runs here. On success the VM runs at dest
 * (the caller records it); on failure it runs here as before and nothing of
 * it runs at dest. */
struct api_err *mig_run(const char *vm, const char *uuid, const char *dest,
                        const char *addr, const struct mig_move *mv,
                        struct vm_migrate_stats *out);

/* Registers VM.migrate_send, Host.migrate_receive, VM.assert_can_migrate. */
void mig_send_register(void);

#endif
