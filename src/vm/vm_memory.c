/* vm_memory: a VM's memory settings with xapi's rules (xapi_vm.ml
 * set_memory_*, message_forwarding.ml, vm_memory_constraints.ml): the
 * static range (static_min, static_max) changes only while the VM is
 * halted, the dynamic range (dynamic_min, dynamic_max) while it is halted or
 * running; always static_min <= dynamic_min <= dynamic_max <= static_max,
 * else MEMORY_CONSTRAINT_VIOLATION_ORDER and nothing changes. The single
 * field setters are ranges with the other end unchanged, as xapi's message
 * forwarding makes them. memory_target follows dynamic_min as in xapi;
 * on a running VM the squeeze then sets the real target (vm_squeeze.c) and
 * a higher dynamic_min must fit the host (HOST_NOT_ENOUGH_FREE_MEMORY). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/host_ops.h"
#include "vm/vm_int.h"

/* The memory constraints of a VM (bytes). */
struct mem_c {
	int64_t smin, dmin, dmax, smax;
};

/* Which ends a call sets. */
enum {
	MEM_SMIN = 1,
	MEM_SMAX = 2,
	MEM_DMIN = 4,
	MEM_DMAX = 8,
};

/* Sets the ends of VM vm named by which to the values in c, under an
 * operation op allowed in the power states allowed (templates too). */
static struct api_err *
mem_apply(const char *vm, const char *op, const char *allowed, unsigned which,
          struct mem_c c)
{
	char *opid = NULL;
	struct api_err *err = vm_op_begin(vm, op, allowed, true, &opid);
	if (err)
		return err;
	/* a running VM: what the host has left with every VM ballooned to
	 * its dynamic_min (this one with its current one) */
	bool live = false;
	db_rdlock();
	struct db_row *cur = db_get(DMC_VM, vm);
	if (cur)
		live =
		    strcmp(cur->f[DMF_VM_power_state].s, "Running") == 0 &&
		    strcmp(cur->f[DMF_VM_resident_on].s, vm_cfg.host_ref) == 0;
	db_unlock();
	int64_t avail = live ? vm_host_free_memory(NULL) : 0;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, vm);
	if (!r) {
		db_txn_abort(t);
		vm_op_end(vm, opid, NULL);
		free(opid);
		return api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	}
	struct mem_c n = {
	    which & MEM_SMIN ? c.smin : r->f[DMF_VM_memory_static_min].i,
	    which & MEM_DMIN ? c.dmin : r->f[DMF_VM_memory_dynamic_min].i,
	    which & MEM_DMAX ? c.dmax : r->f[DMF_VM_memory_dynamic_max].i,
	    which & MEM_SMAX ? c.smax : r->f[DMF_VM_memory_static_max].i,
	};
	int64_t grow = n.dmin - r->f[DMF_VM_memory_dynamic_min].i;
	if (!(n.smin <= n.dmin && n.dmin <= n.dmax && n.dmax <= n.smax)) {
		err = api_error(XE_MEMORY_CONSTRAINT_VIOLATION_ORDER, NULL);
		db_txn_abort(t);
	} else if (live && avail - grow < 0) {
		/* xapi's reserve_memory_for_dynamic_change (KiB) */
		char need[32], have[32];
		snprintf(need, sizeof(need), "%" PRId64, grow / 1024);
		snprintf(have, sizeof(have), "%" PRId64, avail / 1024);
		err =
		    api_error(XE_HOST_NOT_ENOUGH_FREE_MEMORY, need, have, NULL);
		db_txn_abort(t);
	} else {
		db_txn_set(t, r, DMF_VM_memory_static_min,
		           (union dm_val){.i = n.smin});
		db_txn_set(t, r, DMF_VM_memory_dynamic_min,
		           (union dm_val){.i = n.dmin});
		db_txn_set(t, r, DMF_VM_memory_target,
		           (union dm_val){.i = n.dmin});
		db_txn_set(t, r, DMF_VM_memory_dynamic_max,
		           (union dm_val){.i = n.dmax});
		db_txn_set(t, r, DMF_VM_memory_static_max,
		           (union dm_val){.i = n.smax});
		if (!(err = api_commit(t)))
			log_info("vm",
			         "VM %s: memory static %" PRId64 "..%" PRId64
			         ", dynamic %" PRId64 "..%" PRId64,
			         vm, n.smin, n.smax, n.dmin, n.dmax);
	}
	vm_op_end(vm, opid, NULL);
	free(opid);
	if (!err && live)
		vm_squeeze(); /* the new range goes to the balloons */
	return err;
}

static int64_t
mem_arg(xv *const *args, size_t i)
{
	const xv *a = args[i];
	return a->type == XV_INT      ? a->u.i
	       : a->type == XV_STRING ? strtoll(a->u.s, NULL, 10)
	                              : 0;
}

/* VM.set_memory_limits(self, static_min, static_max, dynamic_min,
 * dynamic_max): halted VMs. */
static struct api_err *
mem_set_limits(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct mem_c c = {mem_arg(args, 1), mem_arg(args, 3), mem_arg(args, 4),
	                  mem_arg(args, 2)};
	return mem_apply(args[0]->u.s, "changing_memory_limits", "halted",
	                 MEM_SMIN | MEM_SMAX | MEM_DMIN | MEM_DMAX, c);
}

/* VM.set_memory(self, value): static_max and the dynamic range to value. */
static struct api_err *
mem_set(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	int64_t v = mem_arg(args, 1);
	struct mem_c c = {0, v, v, v};
	return mem_apply(args[0]->u.s, "changing_memory_limits", "halted",
	                 MEM_SMAX | MEM_DMIN | MEM_DMAX, c);
}

static struct api_err *
mem_set_static_range(struct api_ctx *ctx, xv *const *args, size_t nargs,
                     xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct mem_c c = {mem_arg(args, 1), 0, 0, mem_arg(args, 2)};
	return mem_apply(args[0]->u.s, "changing_static_range", "halted",
	                 MEM_SMIN | MEM_SMAX, c);
}

static struct api_err *
mem_set_dynamic_range(struct api_ctx *ctx, xv *const *args, size_t nargs,
                      xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct mem_c c = {0, mem_arg(args, 1), mem_arg(args, 2), 0};
	return mem_apply(args[0]->u.s, "changing_dynamic_range",
	                 "halted,running", MEM_DMIN | MEM_DMAX, c);
}

/* The single-field setters: a range with the other end as it is. */
#define MEM_SETTER(fn, op, allowed, bit, field)                                \
	static struct api_err *fn(struct api_ctx *ctx, xv *const *args,        \
	                          size_t nargs, xv **result)                   \
	{                                                                      \
		(void)ctx;                                                     \
		(void)nargs;                                                   \
		(void)result;                                                  \
		struct mem_c c = {0, 0, 0, 0};                                 \
		c.field = mem_arg(args, 1);                                    \
		return mem_apply(args[0]->u.s, op, allowed, bit, c);           \
	}

MEM_SETTER(mem_set_static_min, "changing_static_range", "halted", MEM_SMIN,
           smin)
MEM_SETTER(mem_set_static_max, "changing_static_range", "halted", MEM_SMAX,
           smax)
MEM_SETTER(mem_set_dynamic_min, "changing_dynamic_range", "halted,running",
           MEM_DMIN, dmin)
MEM_SETTER(mem_set_dynamic_max, "changing_dynamic_range", "halted,running",
           MEM_DMAX, dmax)

/* host.compute_free_memory(host): what the host has left with every VM
 * there ballooned to its dynamic_min (xapi's
 * host_compute_free_memory_with_maximum_compression). */
static struct api_err *
mem_host_free(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	db_rdlock();
	bool ok = db_get(DMC_host, args[0]->u.s) != NULL;
	db_unlock();
	if (!ok)
		return api_error(XE_HANDLE_INVALID, "host", args[0]->u.s, NULL);
	*result = xv_int(host_free_memory(args[0]->u.s, NULL));
	return NULL;
}

/* host.compute_memory_overhead(host): the host's memory_overhead. */
static struct api_err *
mem_host_overhead(struct api_ctx *ctx, xv *const *args, size_t nargs,
                  xv **result)
{
	(void)ctx;
	(void)nargs;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, args[0]->u.s);
	int64_t o = h ? h->f[DMF_host_memory_overhead].i : 0;
	db_unlock();
	if (!h)
		return api_error(XE_HANDLE_INVALID, "host", args[0]->u.s, NULL);
	*result = xv_int(o);
	return NULL;
}

/* VM.compute_memory_overhead(vm): QEMU's own memory for it. */
static struct api_err *
mem_vm_overhead(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, args[0]->u.s);
	int64_t smax = r ? r->f[DMF_VM_memory_static_max].i : 0;
	db_unlock();
	if (!r)
		return api_error(XE_HANDLE_INVALID, "VM", args[0]->u.s, NULL);
	*result = xv_int(vm_memory_overhead(smax));
	return NULL;
}

void
vm_memory_register(void)
{
	api_register("host.compute_free_memory", mem_host_free, API_READONLY);
	api_register("host.compute_memory_overhead", mem_host_overhead,
	             API_READONLY);
	api_register("VM.compute_memory_overhead", mem_vm_overhead,
	             API_READONLY);
	api_register("VM.set_memory_limits", mem_set_limits, 0);
	api_register("VM.set_memory", mem_set, 0);
	api_register("VM.set_memory_static_range", mem_set_static_range, 0);
	api_register("VM.set_memory_dynamic_range", mem_set_dynamic_range, 0);
	api_register("VM.set_memory_static_min", mem_set_static_min, 0);
	api_register("VM.set_memory_static_max", mem_set_static_max, 0);
	api_register("VM.set_memory_dynamic_min", mem_set_dynamic_min, 0);
	api_register("VM.set_memory_dynamic_max", mem_set_dynamic_max, 0);
}
