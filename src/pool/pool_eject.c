/* pool_eject: leaving a pool (eject, eject_self and the re-exec into a pool
 * of one's own), forgetting a dead host, and the planned master change. */
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/dqc.h"
#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

static char **peject_argv;

void
pool_set_argv(char **argv)
{
	peject_argv = argv;
}

/* The Raft member id of a host (by its address), or 0. */
static uint64_t
peject_member_of(const char *address)
{
	uint64_t *ids = NULL, id = 0;
	char **addrs = NULL, *err = NULL;
	size_t n = 0;
	char *want = xasprintf("%s:%d", address, plink_port());
	if (prole_members(&ids, &addrs, &n, &err) < 0) {
		log_warn("pool", "listing members: %s", err);
		free(err);
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(addrs[i], want) == 0)
			id = ids[i];
		free(addrs[i]);
	}
	free(ids);
	free(addrs);
	free(want);
	return id;
}

/* Deletes a host and what is only its own from the pool database. */
static struct api_err *
peject_forget_rows(const char *host)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *h = db_get(DMC_host, host);
	size_t n, m;

	if (!h) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "host", host, NULL);
	}
	if (db_get(DMC_host_metrics, h->f[DMF_host_metrics].s))
		db_txn_destroy(t, DMC_host_metrics, h->f[DMF_host_metrics].s);
	/* its certificate: no longer pinned (cert_distrib at eject) */
	pcert_forget_host_rows(t, host);
	if (h->f[DMF_host_address].s && *h->f[DMF_host_address].s)
		pcert_forget(h->f[DMF_host_address].s);
	struct db_row **rows = db_list(DMC_host_cpu, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i]->f[DMF_host_cpu_host].s, host) == 0)
			db_txn_destroy(t, DMC_host_cpu, rows[i]->ref);
	free(rows);
	rows = db_list(DMC_PIF, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i]->f[DMF_PIF_host].s, host) == 0)
			db_txn_destroy(t, DMC_PIF, rows[i]->ref);
	free(rows);
	rows = db_list(DMC_VM, &n);
	for (size_t i = 0; i < n; i++)
		if (rows[i]->f[DMF_VM_is_control_domain].b &&
		    strcmp(rows[i]->f[DMF_VM_resident_on].s, host) == 0)
			db_txn_destroy(t, DMC_VM, rows[i]->ref);
	free(rows);
	rows = db_list(DMC_PBD, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i]->f[DMF_PBD_host].s, host) != 0)
			continue;
		struct db_row *sr = db_get(DMC_SR, rows[i]->f[DMF_PBD_SR].s);
		db_txn_destroy(t, DMC_PBD, rows[i]->ref);
		if (!sr || sr->f[DMF_SR_shared].b)
			continue;
		struct db_row **vdis = db_list(DMC_VDI, &m);
		for (size_t k = 0; k < m; k++)
			if (strcmp(vdis[k]->f[DMF_VDI_SR].s, sr->ref) == 0)
				db_txn_destroy(t, DMC_VDI, vdis[k]->ref);
		free(vdis);
		db_txn_destroy(t, DMC_SR, sr->ref);
	}
	free(rows);
	db_txn_destroy(t, DMC_host, host);
	return api_commit(t);
}

/* Runs xapid again with its own arguments; does not return. */
static _Noreturn void
peject_exec(void)
{
	if (peject_argv)
		execv("/proc/self/exe", peject_argv);
	log_err("pool", "cannot restart xapid");
	_exit(1);
}

/* Leaves the cluster: stops the node, wipes it, starts again as a new pool
 * of one (after the caller's answer went out). */
static void *
peject_reexec(void *arg)
{
	(void)arg;
	sleep(1);
	/* a new pool of one: start afresh from an empty database and secret */
	prole_leave();
	pboot_drop();
	char *p = xasprintf("%s/pool-secret", prole_config()->state_dir);
	unlink(p);
	free(p);
	p = xasprintf("%s/pool-cluster", prole_config()->state_dir);
	unlink(p);
	free(p);
	pcert_forget_all();
	log_info("pool", "ejected: restarting as a pool of my own");
	peject_exec();
	return NULL;
}

static void *
peject_restart_main(void *arg)
{
	(void)arg;
	sleep(1);
	peject_exec();
	return NULL;
}

void
pool_restart(const char *why)
{
	log_warn("pool", "%s: restarting xapid", why);
	pool_stop();
	/* a master's node too (pool_stop leaves it to db_close): else its
	 * socket outlives the exec and the new node cannot bind */
	prole_stop_node();
	peject_exec();
}

void
peject_restart_later(void)
{
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, peject_restart_main, NULL) != 0)
		peject_restart_main(NULL);
	pthread_attr_destroy(&attr);
}

/* pool.eject_self(secret): run on the ejected host, asked by the master. */
static struct api_err *
peject_eject_self(struct api_ctx *ctx, xv *const *args, size_t nargs,
                 xv **result)
{
	(void)ctx;
	(void)result;
	if (nargs != 1 || args[0]->type != XV_STRING ||
	    !pool_secret_ok(args[0]->u.s))
		return api_error(XE_SESSION_AUTHENTICATION_FAILED, "", "",
		                 NULL);
	if (pool_is_master())
		return api_internal("Xapi_pool.Cannot_eject_master");
	pthread_t th;
	if (pthread_create(&th, NULL, peject_reexec, NULL) != 0)
		return api_internal("cannot start the eject");
	pthread_detach(th);
	return NULL;
}

static struct api_err *
peject_eject(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *host = args[0]->u.s;
	struct api_err *e = NULL;
	char *addr = NULL, *err = NULL;

	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	if (!h) {
		e = api_error(XE_HANDLE_INVALID, "host", host, NULL);
	} else if (strcmp(host, prole_host_ref()) == 0) {
		e = api_internal("Xapi_pool.Cannot_eject_master");
	} else {
		size_t n;
		struct db_row **vms = db_list(DMC_VM, &n);
		for (size_t i = 0; i < n && !e; i++)
			if (!vms[i]->f[DMF_VM_is_control_domain].b &&
			    strcmp(vms[i]->f[DMF_VM_resident_on].s, host) ==
			        0 &&
			    strcmp(vms[i]->f[DMF_VM_power_state].s, "Halted") !=
			        0)
				e = api_error(XE_OPERATION_NOT_ALLOWED,
				              "VM resident on host", NULL);
		free(vms);
		addr = xstrdup(h->f[DMF_host_address].s);
	}
	db_unlock();
	if (e) {
		free(addr);
		return e;
	}
	xv *r = NULL;
	e = pjoin_call(addr, "pool.eject_self",
	               pjoin_args(NULL, pool_secret(), NULL), &r);
	xv_free(r);
	if (e) {
		free(addr);
		return e;
	}
	uint64_t id = peject_member_of(addr);
	if (id && prole_remove_member(id, &err) < 0) {
		log_warn("pool", "eject: removing node %" PRIu64 ": %s", id,
		         err);
		free(err);
	}
	free(addr);
	struct api_err *e2 = peject_forget_rows(host);
	if (!e2)
		pjoin_rebalance();
	return e2;
}

/* host.destroy (xe host-forget): a dead host leaves the pool. */
static struct api_err *
peject_forget(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *host = args[0]->u.s;
	char *addr = NULL, *err = NULL;
	struct api_err *e = NULL;

	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	if (!h)
		e = api_error(XE_HANDLE_INVALID, "host", host, NULL);
	else if (strcmp(host, prole_host_ref()) == 0)
		e = api_error(XE_HOST_CANNOT_DESTROY_SELF, host, NULL);
	else
		addr = xstrdup(h->f[DMF_host_address].s);
	db_unlock();
	if (e)
		return e;
	uint64_t id = peject_member_of(addr);
	if (id && prole_remove_member(id, &err) < 0) {
		e = api_internal("removing the host from the cluster: %s", err);
		free(err);
		free(addr);
		return e;
	}
	free(addr);
	if (!(e = peject_forget_rows(host)))
		pjoin_rebalance();
	return e;
}

static struct api_err *
peject_designate(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	const char *host = args[0]->u.s;
	char *addr = NULL, *err = NULL;
	struct api_err *e = NULL;

	(void)ctx;
	(void)nargs;
	(void)result;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	if (!h)
		e = api_error(XE_HANDLE_INVALID, "host", host, NULL);
	else
		addr = xstrdup(h->f[DMF_host_address].s);
	db_unlock();
	if (e || strcmp(host, prole_host_ref()) == 0) {
		free(addr);
		return e;
	}
	uint64_t id = peject_member_of(addr);
	if (!id) {
		free(addr);
		return api_error(XE_HOST_OFFLINE, host, NULL);
	}
	/* only a voter can take the lead (a two-host pool has one voter) */
	if (prole_role_of(id) != DQC_VOTER) {
		struct dqc *c = dqc_connect(prole_config()->db_bind,
		                            POOL_CONNECT_TIMEOUT_MS, &err);
		if (c) {
			dqc_set_timeout(c, 60 * 1000);
			if (dqc_assign(c, id, DQC_VOTER, &err) == 0) {
				free(err);
				err = NULL;
			}
			dqc_close(c);
		}
		if (err) {
			e = api_internal("making the new master a voter: %s",
			                 err);
			free(err);
			free(addr);
			return e;
		}
	}
	/* dqlite reports a failed transfer when its wait ends while we still
	 * lead, though the target may win the election it was told to start:
	 * what counts is who leads a little later */
	if (prole_transfer(id, &err) < 0) {
		log_warn("pool", "leadership transfer to %s: %s", addr, err);
		free(err);
		err = NULL;
	}
	/* return once the new master serves (bounded) */
	bool moved = false;
	for (int i = 0; i < 1000 && !moved; i++) {
		uint64_t lid = 0;
		char *la = NULL;
		if (prole_leader(&lid, &la, &err) < 0) {
			free(err);
			err = NULL;
		}
		free(la);
		moved = lid == id;
		/* a host that has just come back may still be catching up
		 * with the log: raft refuses the transfer then; ask again
		 * (every 2 s) while this node still leads */
		if (!moved && i % 100 == 99 && lid == prole_node_id() &&
		    prole_transfer(id, &err) < 0) {
			log_info("pool",
			         "leadership transfer to %s: %s (again)", addr,
			         err);
			free(err);
			err = NULL;
		}
		if (!moved)
			usleep(20 * 1000);
	}
	if (!moved) {
		free(addr);
		return api_internal("leadership transfer to %s failed", host);
	}
	for (int i = 0; i < 300; i++) {
		char *m = prole_master();
		bool there = !pool_is_master() && m && strcmp(m, addr) == 0;
		free(m);
		if (there)
			break;
		usleep(20 * 1000);
	}
	/* and once it serves: this host (now its slave) has a full copy of
	 * the database from it, so a write made right after the hand-over
	 * reaches a master that takes it */
	if (pfollow_wait_initial(10.0) < 0)
		log_warn("pool",
		         "the new master %s does not serve the "
		         "database yet",
		         addr);
	free(addr);
	return NULL;
}

void
peject_register(void)
{
	api_register("pool.eject", peject_eject, 0);
	api_register("pool.eject_self", peject_eject_self,
	             API_NO_SESSION | API_NO_ASYNC);
	api_register("host.destroy", peject_forget, 0);
	api_register("pool.designate_new_master", peject_designate, 0);
}
