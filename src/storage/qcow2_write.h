/*
 * qcow2_write: writes a fresh, stand-alone qcow2 image (version 3, 64 KiB
 * clusters, 16-bit refcounts) in one pass, as an import produces it: data
 * clusters are appended in the order they come (each virtual cluster at
 * most once, in any order), clusters never written read as zeros, and the
 * metadata (L1, L2 tables, refcounts, header) is written at the end. The
 * image only becomes valid at qcow2w_finish (the header goes last), so a
 * failed or killed import never leaves something QEMU would open.
 */
#ifndef XAPID_STORAGE_QCOW2_WRITE_H
#define XAPID_STORAGE_QCOW2_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCOW2W_CLUSTER (64 * 1024)

struct qcow2w;

/* Creates path (which must not exist) for an image of vsize bytes. Returns
 * NULL with errno set on failure. */
struct qcow2w *qcow2w_create(const char *path, int64_t vsize);

/* Writes one cluster of data (QCOW2W_CLUSTER bytes; the image's last one is
 * cut at vsize) at virtual cluster index idx. Returns 0, or -1 with errno
 * (EINVAL: out of range or written before; ENOSPC ...). */
int qcow2w_write(struct qcow2w *w, int64_t idx, const void *data);

/* True if cluster idx was written. */
bool qcow2w_written(const struct qcow2w *w, int64_t idx);

/* True if the len bytes at p are all zero. */
bool qcow2w_is_zero(const void *p, size_t len);

/* Writes the metadata and syncs the file; frees w. Returns 0, or -1 with
 * errno (the file is then removed). */
int qcow2w_finish(struct qcow2w *w);

/* Gives up: closes and removes the file, frees w (NULL is fine). */
void qcow2w_abort(struct qcow2w *w);

#endif
