/*
 * lifecycle: the VM, VBD and VIF messages that change what runs (DESIGN §5):
 * power-state checks, operation guards, host memory, the backend calls, and
 * the DB kept true afterwards, including when a guest or QEMU acts on its own
 * (events from the backend) and after a xapid restart (resync).
 */
#ifndef XAPID_VM_LIFECYCLE_H
#define XAPID_VM_LIFECYCLE_H

#include "vm/backend.h"

struct vm_config {
	const char *state_dir;
	const char *host_ref;
	const char *bridge_prefix; /* networks without a bridge get <prefix><n> */
	const struct vm_backend_ops *backend;
	unsigned worker_pool_size; /* backend operations at once (0: 16) */
	int http_port;             /* the plain HTTP listener's port (every
				    * member the same; 0: none): where live
				    * migration streams arrive */
	unsigned parallel_chunk;   /* disks of a VM attached at once (0: 10) */
};

/* Initialises the backend, registers the handlers and re-attaches to the VMs
 * a previous xapid left running (no VM is started twice). Returns 0 or -1 with
 * *err. Call after api_init() and the bootstrap. */
int vm_lifecycle_init(const struct vm_config *cfg, char **err);

/* The backend called name ("qemu", "sim"), or NULL. */
const struct vm_backend_ops *vm_backend_find(const char *name);

/* The operations allowed in a power state (for allowed_operations). */
struct dm_coll *vm_allowed_ops(const char *power_state, bool is_template);

#endif
