/*
 * host_ops: host maintenance and the checks that decide where a VM may run
 * or move (xapi_host.ml, xapi_vm_helpers.ml, xapi_vm_migrate.ml):
 *   host.disable / host.enable and the host's allowed_operations;
 *   VM.assert_can_boot_here (HOST_DISABLED, VM_REQUIRES_SR,
 *     VM_REQUIRES_NETWORK, memory);
 *   the checks of a migration within the pool (VM_BAD_POWER_STATE,
 *     VM_HAS_PCI_ATTACHED, then as assert_can_boot_here on the destination;
 *     VM.assert_can_migrate itself is in migrate_send.c);
 *   the evacuation plan: host.get_vms_which_prevent_evacuation,
 *     host.assert_can_evacuate (CANNOT_EVACUATE_HOST), host.evacuate
 *     (every resident VM moved with VM.pool_migrate, or the first reason
 *     why not).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xalloc.h"
#include "vm/host_ops.h"
#include "vm/vm_int.h"

#define HOST_EVAC_BATCH 10 /* xapi's evacuation_batch_size */

struct dm_coll *
host_allowed_ops(bool enabled)
{
	/* Xapi_host_helpers.valid_operations: reboot, shutdown and
	 * apply_updates need a disabled host; power_on needs a dead one */
	static const char *const always[] = {"provision", "evacuate", "vm_start", "vm_resume",
					     "vm_migrate", "enable"};
	static const char *const disabled[] = {"shutdown", "reboot", "apply_updates"};
	size_t n = 6 + (enabled ? 0 : 3), k = 0;
	struct dm_coll *c = dmc_new(n);

	for (size_t i = 0; i < 6; i++)
		c->v[k++].s = xstrdup(always[i]);
	for (size_t i = 0; !enabled && i < 3; i++)
		c->v[k++].s = xstrdup(disabled[i]);
	return c;
}

/* Sets a host's enabled flag (and its allowed operations). */
static struct api_err *
host_set_enabled(const char *host, bool enabled)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *h = db_txn_edit(t, DMC_host, host);

	if (!h) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "host", host, NULL);
	}
	if (h->f[DMF_host_enabled].b != enabled)
		log_info("host", "host %s (%s) is now %s",
			 h->f[DMF_host_uuid].s, h->f[DMF_host_hostname].s,
			 enabled ? "enabled" : "disabled");
	db_txn_set(t, h, DMF_host_enabled, (union dm_val){.b = enabled});
	db_txn_set(t, h, DMF_host_allowed_operations,
		   (union dm_val){.c = host_allowed_ops(enabled)});
	return api_commit(t);
}

static struct api_err *
host_disable(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return host_set_enabled(args[0]->u.s, false);
}

static struct api_err *
host_enable(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return host_set_enabled(args[0]->u.s, true);
}

/* ---- where a VM may run ---- */

struct api_err *
host_assert_enabled(const char *host)
{
	struct api_err *err = NULL;

	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	if (!h)
		err = api_error(XE_HANDLE_INVALID, "host", host, NULL);
	else if (!h->f[DMF_host_enabled].b)
		err = api_error(XE_HOST_DISABLED, host, NULL);
	db_unlock();
	return err;
}

/* True when host has sr plugged (a currently attached PBD). Lock held. */
static bool
host_sees_sr(const char *host, const char *sr_ref)
{
	struct db_row *sr = db_get(DMC_SR, sr_ref);
	const struct dm_coll *p = sr ? sr->f[DMF_SR_PBDs].c : NULL;

	for (size_t i = 0; p && i < p->n; i++) {
		struct db_row *pbd = db_get(DMC_PBD, p->v[i].s);
		if (pbd && strcmp(pbd->f[DMF_PBD_host].s, host) == 0 &&
		    pbd->f[DMF_PBD_currently_attached].b)
			return true;
	}
	return false;
}

/* The first SR of the VM's disks that host cannot see (VDIs whose ref is in
 * skip are going elsewhere: storage migration), or NULL. Lock held. */
static const char *
host_missing_sr(const struct db_row *vm, const char *host, const xv *skip)
{
	const struct dm_coll *b = vm->f[DMF_VM_VBDs].c;

	for (size_t i = 0; b && i < b->n; i++) {
		struct db_row *vbd = db_get(DMC_VBD, b->v[i].s);
		if (!vbd || vbd->f[DMF_VBD_empty].b)
			continue;
		struct db_row *vdi = db_get(DMC_VDI, vbd->f[DMF_VBD_VDI].s);
		if (!vdi || (skip && xv_get(skip, vdi->ref)))
			continue;
		if (!host_sees_sr(host, vdi->f[DMF_VDI_SR].s))
			return vdi->f[DMF_VDI_SR].s;
	}
	return NULL;
}

/* xapi's assert_can_see_named_networks: a network with PIFs is there on
 * the hosts with one; one without (internal) anywhere when it is unmanaged
 * or other_config:assume_network_is_shared=true, else only where the VMs
 * running on it run. Lock held. */
static bool
host_sees_network(const char *host, const struct db_row *net)
{
	const struct dm_coll *p = net->f[DMF_network_PIFs].c;
	const struct dm_coll *oc = net->f[DMF_network_other_config].c;
	const struct dm_coll *v = net->f[DMF_network_VIFs].c;
	bool any = false;

	if (p && p->n) {
		for (size_t i = 0; i < p->n; i++) {
			struct db_row *pif = db_get(DMC_PIF, p->v[i].s);
			if (pif && strcmp(pif->f[DMF_PIF_host].s, host) == 0)
				return true;
		}
		return false;
	}
	for (size_t i = 0; oc && i < oc->n; i++)
		if (strcmp(oc->v[2 * i].s, "assume_network_is_shared") == 0 &&
		    strcmp(oc->v[2 * i + 1].s, "true") == 0)
			return true;
	if (!net->f[DMF_network_managed].b)
		return true;
	for (size_t i = 0; v && i < v->n; i++) {
		struct db_row *vif = db_get(DMC_VIF, v->v[i].s);
		struct db_row *vm =
		    vif ? db_get(DMC_VM, vif->f[DMF_VIF_VM].s) : NULL;
		if (!vm || strcmp(vm->f[DMF_VM_power_state].s, "Running") != 0)
			continue;
		any = true;
		if (strcmp(vm->f[DMF_VM_resident_on].s, host) == 0)
			return true;
	}
	return !any;
}

/* The first network of the VM's VIFs host cannot reach, or NULL. Lock
 * held. */
static const char *
host_missing_network(const struct db_row *vm, const char *host)
{
	const struct dm_coll *v = vm->f[DMF_VM_VIFs].c;

	for (size_t i = 0; v && i < v->n; i++) {
		struct db_row *vif = db_get(DMC_VIF, v->v[i].s);
		struct db_row *net =
		    vif ? db_get(DMC_network, vif->f[DMF_VIF_network].s) : NULL;
		if (net && !host_sees_network(host, net))
			return net->ref;
	}
	return NULL;
}

int64_t
host_free_memory(const char *host, const char *except_vm)
{
	if (strcmp(host, vm_cfg.host_ref) == 0)
		return vm_host_free_memory(except_vm);
	/* another host of the pool: its total less what runs or will run there */
	int64_t total = 0, used = 0;
	size_t n, k = 0;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	struct db_row *m = h ? db_get(DMC_host_metrics, h->f[DMF_host_metrics].s) : NULL;
	total = m ? m->f[DMF_host_metrics_memory_total].i : 0;
	struct db_row **vms = db_list(DMC_VM, &n);
	char **there = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct db_row *r = vms[i];
		if (r->f[DMF_VM_is_control_domain].b || (except_vm && strcmp(r->ref, except_vm) == 0))
			continue;
		if (strcmp(r->f[DMF_VM_resident_on].s, host) == 0 ||
		    strcmp(r->f[DMF_VM_scheduled_to_be_resident_on].s, host) == 0)
			there[k++] = xstrdup(r->ref);
	}
	free(vms);
	db_unlock();
	for (size_t i = 0; i < k; i++) {
		used += vm_memory_needed(there[i]);
		free(there[i]);
	}
	free(there);
	if (total <= 0)
		total = vm_host_free_memory(NULL); /* no metrics yet: as here */
	return total - used > 0 ? total - used : 0;
}

struct api_err *
host_assert_can_boot_here(const char *vm, const char *host, const xv *vdi_skip,
			  bool memory)
{
	struct api_err *err = host_assert_enabled(host);
	char need[32], have[32];

	if (err)
		return err;
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	const char *sr = r ? host_missing_sr(r, host, vdi_skip) : NULL;
	const char *net = r && !sr ? host_missing_network(r, host) : NULL;
	if (!r)
		err = api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	else if (sr)
		err = api_error(XE_VM_REQUIRES_SR, vm, sr, NULL);
	else if (net)
		err = api_error(XE_VM_REQUIRES_NETWORK, vm, net, NULL);
	db_unlock();
	if (err || !memory)
		return err;
	int64_t n = vm_memory_needed(vm), a = host_free_memory(host, vm);
	if (n > a) {
		snprintf(need, sizeof(need), "%" PRId64, n);
		snprintf(have, sizeof(have), "%" PRId64, a);
		err = api_error(XE_HOST_NOT_ENOUGH_FREE_MEMORY, need, have, NULL);
	}
	return err;
}

static struct api_err *
host_vm_assert_can_boot_here(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	return host_assert_can_boot_here(args[0]->u.s, args[1]->u.s, NULL, true);
}

struct api_err *
host_assert_can_migrate(const char *vm, const char *host, const xv *vdi_map)
{
	struct api_err *err = NULL;

	db_rdlock();
	struct db_row *r = db_get(DMC_VM, vm);
	if (!r) {
		err = api_error(XE_HANDLE_INVALID, "VM", vm, NULL);
	} else if (strcmp(r->f[DMF_VM_power_state].s, "Running") != 0) {
		err = vm_bad_power_state(vm, "running", r->f[DMF_VM_power_state].s);
	} else {
		const struct dm_coll *oc = r->f[DMF_VM_other_config].c;
		for (size_t i = 0; oc && i < oc->n && !err; i++)
			if (strcmp(oc->v[2 * i].s, "pci") == 0 && *oc->v[2 * i + 1].s)
				err = api_error(XE_VM_HAS_PCI_ATTACHED, vm, NULL);
	}
	if (!err && !db_get(DMC_host, host))
		err = api_error(XE_HANDLE_INVALID, "host", host, NULL);
	db_unlock();
	return err ? err : host_assert_can_boot_here(vm, host, vdi_map, true);
}

/* ---- evacuation ---- */

/* One resident VM and what becomes of it. */
struct host_plan {
	char *vm;
	char *target;        /* where it goes, or NULL */
	struct api_err *err; /* why it cannot go */
};

/* Xapi_host.compute_evacuation_plan_no_wlb: every VM resident on host either
 * gets an enabled target host or the reason it cannot move. */
static struct host_plan *
host_plan(const char *host, size_t *np)
{
	size_t nh, nv, nt = 0, k = 0;
	struct host_plan *plan;
	char **targets;
	int64_t *room;

	db_rdlock();
	struct db_row **hosts = db_list(DMC_host, &nh);
	targets = xcalloc(nh + 1, sizeof(char *));
	for (size_t i = 0; i < nh; i++)
		if (hosts[i]->f[DMF_host_enabled].b && strcmp(hosts[i]->ref, host) != 0)
			targets[nt++] = xstrdup(hosts[i]->ref);
	free(hosts);
	struct db_row **vms = db_list(DMC_VM, &nv);
	plan = xcalloc(nv + 1, sizeof(*plan));
	for (size_t i = 0; i < nv; i++)
		if (!vms[i]->f[DMF_VM_is_control_domain].b &&
		    strcmp(vms[i]->f[DMF_VM_resident_on].s, host) == 0)
			plan[k++].vm = xstrdup(vms[i]->ref);
	free(vms);
	db_unlock();
	room = xcalloc(nt + 1, sizeof(int64_t));
	for (size_t t = 0; t < nt; t++)
		room[t] = host_free_memory(targets[t], NULL);
	for (size_t i = 0; i < k; i++) {
		struct host_plan *p = &plan[i];
		if (nt == 0) {
			const char *par[] = {p->vm};
			p->err = api_error_raw("NO_HOSTS_AVAILABLE", par, 1);
			continue;
		}
		/* the VM must be able to run on every target (storage) */
		for (size_t t = 0; t < nt && !p->err; t++)
			p->err = host_assert_can_migrate(p->vm, targets[t], NULL);
		if (p->err && (strcmp(p->err->code, "HOST_NOT_ENOUGH_FREE_MEMORY") == 0)) {
			api_err_free(p->err);
			p->err = NULL;
		}
		if (p->err)
			continue;
		/* first fit by memory */
		int64_t need = vm_memory_needed(p->vm);
		for (size_t t = 0; t < nt && !p->target; t++)
			if (room[t] >= need) {
				room[t] -= need;
				p->target = xstrdup(targets[t]);
			}
		if (!p->target) {
			const char *par[] = {p->vm};
			p->err = api_error_raw("HOST_NOT_ENOUGH_FREE_MEMORY", par, 1);
		}
	}
	for (size_t t = 0; t < nt; t++)
		free(targets[t]);
	free(targets);
	free(room);
	*np = k;
	return plan;
}

static void
host_plan_free(struct host_plan *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].vm);
		free(p[i].target);
		api_err_free(p[i].err);
	}
	free(p);
}

static bool
host_exists(const char *host)
{
	db_rdlock();
	bool ok = db_get(DMC_host, host) != NULL;
	db_unlock();
	return ok;
}

/* host.get_vms_which_prevent_evacuation(self): VM -> [code, params...]. */
static struct api_err *
host_get_vms_preventing(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	size_t n;
	(void)ctx;
	(void)nargs;
	if (!host_exists(args[0]->u.s))
		return api_error(XE_HANDLE_INVALID, "host", args[0]->u.s, NULL);
	struct host_plan *p = host_plan(args[0]->u.s, &n);
	*result = xv_struct();
	for (size_t i = 0; i < n; i++) {
		if (!p[i].err)
			continue;
		xv *a = xv_push(xv_array(), xv_str(p[i].err->code));
		for (size_t k = 0; k < p[i].err->n; k++)
			xv_push(a, xv_str(p[i].err->params[k]));
		xv_set(*result, p[i].vm, a);
	}
	host_plan_free(p, n);
	return NULL;
}

/* host.assert_can_evacuate(host): CANNOT_EVACUATE_HOST with every reason,
 * "code,param,..." joined by '|'. */
static struct api_err *
host_assert_can_evacuate(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = NULL;
	char *all = NULL;
	size_t n;
	(void)ctx;
	(void)nargs;
	(void)result;
	if (!host_exists(args[0]->u.s))
		return api_error(XE_HANDLE_INVALID, "host", args[0]->u.s, NULL);
	struct host_plan *p = host_plan(args[0]->u.s, &n);
	for (size_t i = 0; i < n; i++) {
		if (!p[i].err)
			continue;
		char *one = xstrdup(p[i].err->code), *x;
		for (size_t k = 0; k < p[i].err->n; k++) {
			x = xasprintf("%s,%s", one, p[i].err->params[k]);
			free(one);
			one = x;
		}
		x = all ? xasprintf("%s|%s", one, all) : xstrdup(one);
		free(all);
		free(one);
		all = x;
	}
	if (all)
		err = api_error(XE_CANNOT_EVACUATE_HOST, all, NULL);
	free(all);
	host_plan_free(p, n);
	return err;
}

/* One VM of an evacuation, migrated by a thread of its batch. */
struct host_evac {
	struct api_ctx ctx; /* a copy of the caller's identity, no task */
	const char *vm, *target, *network;
	struct api_err *err;
};

static void *
host_evac_one(void *arg)
{
	struct host_evac *e = arg;
	xv *params = xv_array(), *res = NULL, *opts = xv_struct();

	xv_push(params, xv_str(e->ctx.session ? e->ctx.session : ""));
	xv_push(params, xv_str(e->vm));
	xv_push(params, xv_str(e->target));
	xv_set(opts, "live", xv_str("true"));
	if (e->network)
		xv_set(opts, "network", xv_str(e->network));
	xv_push(params, opts);
	log_info("host", "evacuate: VM %s to host %s", e->vm, e->target);
	e->err = api_call(&e->ctx, "VM.pool_migrate", params, &res);
	xv_free(params);
	xv_free(res);
	return NULL;
}

/* host.evacuate(host, network, evacuate_batch_size): moves every resident
 * VM as the plan says (the first reason a VM cannot move fails it before
 * anything moves), as xapi does: in batches of evacuate_batch_size VMs
 * (0: xapi's default, 10) migrating at once, each batch waited for; the
 * first failure stops the evacuation after its batch. */
static struct api_err *
host_evacuate(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *err = NULL;
	size_t n;
	(void)result;
	if (!host_exists(args[0]->u.s))
		return api_error(XE_HANDLE_INVALID, "host", args[0]->u.s, NULL);
	int64_t batch = nargs > 2 && args[2]->type == XV_INT ? args[2]->u.i : 0;
	if (batch <= 0)
		batch = HOST_EVAC_BATCH;
	const char *net =
	    args[1]->type == XV_STRING && strcmp(args[1]->u.s, DM_NULL_REF) != 0
	        ? args[1]->u.s
	        : NULL;
	struct host_plan *p = host_plan(args[0]->u.s, &n);
	for (size_t i = 0; i < n && !err; i++)
		if (p[i].err) {
			err = p[i].err;
			p[i].err = NULL;
		}
	struct host_evac *e = xcalloc(n + 1, sizeof(*e));
	pthread_t *th = xcalloc(n + 1, sizeof(*th));
	for (size_t start = 0; start < n && !err; start += (size_t)batch) {
		size_t end =
		    start + (size_t)batch < n ? start + (size_t)batch : n;
		for (size_t i = start; i < end; i++) {
			/* its own copy: the dispatcher replaces its strings */
			e[i].ctx = (struct api_ctx){
			    .session =
			        ctx->session ? xstrdup(ctx->session) : NULL,
			    .user = ctx->user ? xstrdup(ctx->user) : NULL,
			    .origin = ctx->origin ? xstrdup(ctx->origin) : NULL,
			    .local = ctx->local};
			e[i].vm = p[i].vm;
			e[i].target = p[i].target;
			e[i].network = net;
			if (pthread_create(&th[i], NULL, host_evac_one,
			                   &e[i]) != 0) {
				host_evac_one(&e[i]); /* no thread: in turn */
				th[i] = 0;
			}
		}
		for (size_t i = start; i < end; i++) {
			if (th[i])
				pthread_join(th[i], NULL);
			if (e[i].err && !err)
				err = e[i].err;
			else
				api_err_free(e[i].err);
			api_ctx_clear(&e[i].ctx);
		}
	}
	free(th);
	free(e);
	host_plan_free(p, n);
	return err;
}

void
host_ops_register(void)
{
	/* as xapi after a toolstack restart (consider_enabling_host with
	 * auto_enable): a host disabled by user request comes back enabled */
	db_rdlock();
	struct db_row *h = db_get(DMC_host, vm_cfg.host_ref);
	const struct dm_coll *ops = h ? h->f[DMF_host_allowed_operations].c : NULL;
	bool fix = h && (!h->f[DMF_host_enabled].b || !ops || ops->n != 6);
	db_unlock();
	/* only when something changes */
	if (fix)
		api_err_free(host_set_enabled(vm_cfg.host_ref, true));
	api_register("host.disable", host_disable, 0);
	api_register("host.enable", host_enable, 0);
	api_register("host.get_vms_which_prevent_evacuation", host_get_vms_preventing,
		     API_READONLY);
	api_register("host.assert_can_evacuate", host_assert_can_evacuate, API_READONLY);
	api_register("host.evacuate", host_evacuate, 0);
	api_register("VM.assert_can_boot_here", host_vm_assert_can_boot_here,
	             API_READONLY);
}
