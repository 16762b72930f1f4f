/*
 * sr_memimg: the memory image of a suspend VDI (VM.suspend, VM.checkpoint,
 * VM.resume) as a local file name the VM backend opens, whatever the SR.
 *
 * On a local SR that name is the image file itself. On an NFS SR (reached
 * in userspace: no kernel client) it is a FIFO in a private directory, and
 * a thread moves the bytes between the FIFO and the image on the export
 * through libnfs: the backend streams the image as it would into a file
 * (QEMU's migration stream needs no seeking), and every host of the pool
 * reaches it, so a VM suspended on one host resumes on another.
 */
#ifndef XAPID_STORAGE_SR_MEMIMG_H
#define XAPID_STORAGE_SR_MEMIMG_H

#include <stdbool.h>

#include "api/errors.h"

struct sr_memimg;

/* Opens the image of suspend VDI vdi_ref for the backend to write (write:
 * the image is created or emptied) or read. Call without locks. */
struct api_err *sr_memimg_open(const char *vdi_ref, bool write,
                               struct sr_memimg **out);
/* The name the backend opens (a FIFO opened there needs no fsync: the
 * image is synced by sr_memimg_close). */
const char *sr_memimg_path(const struct sr_memimg *m);
/* For a write: waits until the whole image the backend wrote is on the SR
 * and synced (SR_BACKEND_FAILURE_1 if not), before the VM is stopped for
 * good (backend.h suspend's commit). NULL when nothing is to be done (a
 * local image: the backend syncs the file). sr_memimg_close still frees. */
struct api_err *sr_memimg_commit(struct sr_memimg *m);
/* Ends the transfer. ok: the backend succeeded; for a write, waits until
 * the whole image is on the SR and synced (SR_BACKEND_FAILURE_1 if not).
 * !ok: the transfer is abandoned. Frees m (NULL allowed). */
struct api_err *sr_memimg_close(struct sr_memimg *m, bool ok);

/* At start: removes the FIFO directories an earlier run of this host left
 * (a crash during a suspend or resume); those of other hosts and of this
 * run stay. */
void sr_memimg_cleanup(void);

#endif
