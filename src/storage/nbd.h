/*
 * nbd: a VDI image opened through qemu-nbd, for code that reads or writes
 * its contents as a plain disk (XVA import/export) whatever the image
 * format and backing chain.
 *
 * nbd_open() starts `qemu-nbd` on the image with a private Unix socket (it
 * dies with xapid: PR_SET_PDEATHSIG) and connects to it with the fixed
 * newstyle handshake; requests are simple-reply NBD commands of at most
 * NBD_MAX_REQ bytes. A qcow2 written this way stays sparse: regions never
 * written stay unallocated.
 */
#ifndef XAPID_STORAGE_NBD_H
#define XAPID_STORAGE_NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NBD_MAX_REQ (32u << 20)

struct nbd;

/* Serves path (format "qcow2", "raw", ...) read-only or read-write. On
 * failure returns NULL and *err (malloc'd) says why. */
struct nbd *nbd_open(const char *path, const char *format, bool readonly,
                     char **err);
/* The size of the disk in bytes. */
uint64_t nbd_size(const struct nbd *n);
/* Reads/writes len bytes at off. 0, or an errno value (EIO, ENOSPC, ...)
 * the server or the connection gave. */
int nbd_pread(struct nbd *n, void *buf, size_t len, uint64_t off);
int nbd_pwrite(struct nbd *n, const void *buf, size_t len, uint64_t off);
/* Makes the writes durable. 0 or an errno value. */
int nbd_flush(struct nbd *n);
/* Disconnects, waits for qemu-nbd to exit and frees n. Returns 0 if the
 * server ended cleanly. NULL is allowed. */
int nbd_close(struct nbd *n);

#endif
