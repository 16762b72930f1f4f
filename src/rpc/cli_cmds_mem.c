/*
 * cli_cmds_mem: the xe commands over a VM's memory settings
 * (cli_operations.ml vm_memory_limits_set, vm_memory_set,
 * vm_memory_static_range_set, vm_memory_dynamic_range_set,
 * vm_memory_target_set): the VMs chosen by the selectors (templates and
 * control domains included, as do_vm_op there), sizes parsed as
 * Record_util.bytes_of_string, then VM.set_memory_limits / set_memory /
 * set_memory_static_range / set_memory_dynamic_range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_gen.h"
#include "rpc/cli_vmop.h"
#include "util/xalloc.h"

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* What a command sends: the method and its size parameters, in order. */
struct cli_mem {
	const char *method;
	const char *const *params;
};

/* Parses every size before any call (a bad one changes nothing). */
static int
cli_mem_sizes(struct cli_ctx *ctx, const struct cli_mem *m, long long v[4])
{
	for (size_t i = 0; m->params[i]; i++) {
		const char *text = cli_param(ctx, m->params[i]);
		if (!text || cli_parse_bytes(text, &v[i]) < 0)
			return cli_fail(
			    ctx,
			    "Failed to parse field '%s': expecting an integer "
			    "(possibly with suffix KiB, MiB, GiB, TiB), got "
			    "'%s'",
			    m->params[i], text ? text : "");
	}
	return 0;
}

static int
cli_mem_one(struct cli_ctx *ctx, const char *vm, void *arg)
{
	const struct cli_mem *m = arg;
	long long v[4] = {0};
	size_t n = 0;

	if (cli_mem_sizes(ctx, m, v) < 0)
		return -1;
	while (m->params[n])
		n++;
	switch (n) {
	case 1:
		return cli_call(ctx, m->method, NULL, xv_str(vm), xv_int(v[0]),
		                NULL);
	case 2:
		return cli_call(ctx, m->method, NULL, xv_str(vm), xv_int(v[0]),
		                xv_int(v[1]), NULL);
	default:
		return cli_call(ctx, m->method, NULL, xv_str(vm), xv_int(v[0]),
		                xv_int(v[1]), xv_int(v[2]), xv_int(v[3]), NULL);
	}
}

static const struct cli_mem cli_mem_limits = {
    "VM.set_memory_limits",
    L("static-min", "static-max", "dynamic-min", "dynamic-max")};
static const struct cli_mem cli_mem_set = {"VM.set_memory", L("memory")};
static const struct cli_mem cli_mem_static = {"VM.set_memory_static_range",
                                              L("min", "max")};
static const struct cli_mem cli_mem_dynamic = {"VM.set_memory_dynamic_range",
                                               L("min", "max")};
static const struct cli_mem cli_mem_target = {"VM.set_memory_dynamic_range",
                                              L("target", "target")};

static int
cli_mem_run(struct cli_ctx *ctx, const struct cli_mem *m, bool templates)
{
	long long v[4];
	struct cli_vm_op op = {true,      templates,   true,
	                       m->params, cli_mem_one, (void *)m};

	if (cli_mem_sizes(ctx, m, v) < 0) /* before any VM is looked at */
		return -1;
	return cli_do_vm_op(ctx, &op);
}

static int
cli_cmd_mem_limits(struct cli_ctx *ctx)
{
	return cli_mem_run(ctx, &cli_mem_limits, true);
}

static int
cli_cmd_mem_set(struct cli_ctx *ctx)
{
	return cli_mem_run(ctx, &cli_mem_set, true);
}

static int
cli_cmd_mem_static(struct cli_ctx *ctx)
{
	return cli_mem_run(ctx, &cli_mem_static, true);
}

static int
cli_cmd_mem_dynamic(struct cli_ctx *ctx)
{
	return cli_mem_run(ctx, &cli_mem_dynamic, true);
}

static int
cli_cmd_mem_target(struct cli_ctx *ctx)
{
	return cli_mem_run(ctx, &cli_mem_target, false);
}

/* cli_frontend.ml cmdtable_data, flags [Vm_selectors]. */
const struct cli_cmd cli_mem_cmds[] = {
    {"vm-memory-limits-set",
     L("static-min", "static-max", "dynamic-min", "dynamic-max"), NULL,
     "Configure the memory limits of a VM.", cli_cmd_mem_limits, CLI_CMD_VM_SEL,
     NULL},
    {"vm-memory-set", L("memory"), NULL,
     "Configure the memory allocation of a VM.", cli_cmd_mem_set,
     CLI_CMD_VM_SEL, NULL},
    {"vm-memory-static-range-set", L("min", "max"), NULL,
     "Configure the static memory range of a VM. The static memory range "
     "defines hard "
     "lower and upper limits for a VM's memory. It's possible to change these "
     "fields "
     "only when a VM is halted. The static range must encompass the dynamic "
     "range.",
     cli_cmd_mem_static, CLI_CMD_VM_SEL, NULL},
    {"vm-memory-dynamic-range-set", L("min", "max"), NULL,
     "Configure the dynamic memory range of a VM. The dynamic memory range "
     "defines soft "
     "lower and upper limits for a VM's memory. It's possible to change these "
     "fields "
     "when a VM is running or halted. The dynamic range must fit within the "
     "static "
     "range.",
     cli_cmd_mem_dynamic, CLI_CMD_VM_SEL, NULL},
    {"vm-memory-target-set", L("target"), NULL,
     "Set the memory target for a halted or running VM. The given value must "
     "be within "
     "the range defined by the VM's memory_static_min and memory_static_max "
     "values.",
     cli_cmd_mem_target, CLI_CMD_VM_SEL, NULL},
};

const size_t cli_mem_ncmds = sizeof(cli_mem_cmds) / sizeof(cli_mem_cmds[0]);
