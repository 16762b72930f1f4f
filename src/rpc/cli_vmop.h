/*
 * cli_vmop: xapi's do_vm_op for the xe command modules (cli_operations.ml
 * do_vm_op, wrap_op, do_multiple).
 *
 * The VMs are chosen by the selectors (vm=<name or uuid> and field
 * filters, see cli_select.h): none fails with "No matching VMs found";
 * several need --multiple where the operation allows it, and fail
 * otherwise. The operation then runs on each VM through cli_do_multiple()
 * (one VM: its failure is the command's; several: every failure is
 * reported as "operation failed on <uuid>: ..."), and after each run the
 * messages raised about the VM meanwhile with a priority below
 * message-priority= (default 5) are printed on stderr, as wrap_op does.
 */
#ifndef XAPID_RPC_CLI_VMOP_H
#define XAPID_RPC_CLI_VMOP_H

#include <stdbool.h>

#include "rpc/cli_cmd.h"

struct cli_vm_op {
	bool control;   /* include_control_vms */
	bool templates; /* include_template_vms */
	bool multiple;  /* may run on several VMs (with --multiple) */
	const char *const *ignore; /* parameters that are not filters */
	/* The operation on one VM (a ref): 0, or -1 after recording why. */
	int (*fn)(struct cli_ctx *ctx, const char *vm, void *arg);
	void *arg;
};

/* Runs op as described above. Returns 0 or -1 (failure recorded). */
int cli_do_vm_op(struct cli_ctx *ctx, const struct cli_vm_op *op);

#endif
