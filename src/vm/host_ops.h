/*
 * host_ops: host maintenance (host.disable / host.enable, the host's
 * allowed_operations) and the checks that decide where a VM may run or move,
 * with xapi's errors; the evacuation plan (host.evacuate and its checks).
 * See host_ops.c for the messages served.
 */
#ifndef XAPID_VM_HOST_OPS_H
#define XAPID_VM_HOST_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/errors.h"
#include "db/dmval.h"
#include "util/xv.h"

/* The host's allowed_operations for its enabled flag (new set). */
struct dm_coll *host_allowed_ops(bool enabled);

/* HOST_DISABLED [host] when host is disabled (HANDLE_INVALID if unknown). */
struct api_err *host_assert_enabled(const char *host);

/* Bytes of memory host has free for VMs (except_vm not counted). */
int64_t host_free_memory(const char *host, const char *except_vm);

/* Xapi_vm_helpers.assert_can_boot_here: host enabled, every disk's SR
 * plugged on host (VDIs named in vdi_skip, a struct keyed by VDI ref, are
 * left out: they move), and with memory the VM fits. */
struct api_err *host_assert_can_boot_here(const char *vm, const char *host,
					  const xv *vdi_skip, bool memory);

/* A live migration of vm to host within the pool: VM running, no PCI
 * device passed through, then as host_assert_can_boot_here (vdi_map: the
 * disks that move to another SR, keyed by VDI ref; may be NULL). */
struct api_err *host_assert_can_migrate(const char *vm, const char *host,
					const xv *vdi_map);

/* Registers the messages and sets this host's allowed_operations. */
void host_ops_register(void);

#endif
