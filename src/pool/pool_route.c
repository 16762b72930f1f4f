/* pool_route: calls that must run on a given host, forwarded there by the
 * master as xapi's message_forwarding does: VM.start to the VM's affinity
 * host (when it is live and enabled), VM.start_on / resume_on to the host
 * named, operations on a running VM (and plugs of its devices) to the host
 * it is resident on. The master logs into the host with
 * session.slave_login and the pool secret, and runs the same call there. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Sessions on the other hosts (a pool has few hosts: a list). */
struct proute_sess {
	char *host, *session;
	struct proute_sess *next;
};
static struct proute_sess *proute_sessions;
static pthread_mutex_t proute_lock = PTHREAD_MUTEX_INITIALIZER;

/* The entry of host (lock held), NULL if none. */
static struct proute_sess *
proute_find(const char *host)
{
	for (struct proute_sess *p = proute_sessions; p; p = p->next)
		if (strcmp(p->host, host) == 0)
			return p;
	return NULL;
}

/* VM messages that run where the VM runs. (VM.pool_migrate is forwarded
 * by vm/migrate.c itself: the source answers it with the downtime, which
 * the master notes on its Async task.) */
static const char *const proute_resident[] = {
    "VM.shutdown",     "VM.clean_shutdown", "VM.hard_shutdown",
    "VM.clean_reboot", "VM.hard_reboot",    "VM.pause",
    "VM.unpause",      "VM.suspend",        "VM.migrate_send",
    "VM.checkpoint",   "VM.set_memory_dynamic_range",
    "VM.send_sysrq",   "VM.send_trigger",
};

static bool
proute_in(const char *method, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(method, list[i]) == 0)
			return true;
	return false;
}

/* The host a running VM is on (malloc'd), or NULL. Read lock held. */
static char *
proute_vm_host(const char *vm)
{
	struct db_row *r = db_get(DMC_VM, vm);
	if (!r || strcmp(r->f[DMF_VM_power_state].s, "Halted") == 0 ||
	    strcmp(r->f[DMF_VM_resident_on].s, DM_NULL_REF) == 0)
		return NULL;
	return xstrdup(r->f[DMF_VM_resident_on].s);
}

/* Whether host is live and enabled. Read lock held. */
static bool
proute_usable(const char *host)
{
	struct db_row *h = db_get(DMC_host, host);
	struct db_row *m =
	    h ? db_get(DMC_host_metrics, h->f[DMF_host_metrics].s) : NULL;
	return h && h->f[DMF_host_enabled].b &&
	       (!m || m->f[DMF_host_metrics_live].b);
}

/* Where the call must run (malloc'd host ref), or NULL: here. */
static char *
proute_target(const char *method, xv *const *all, size_t nall)
{
	const char *a1 =
	    nall > 1 && all[1]->type == XV_STRING ? all[1]->u.s : NULL;
	const char *a2 =
	    nall > 2 && all[2]->type == XV_STRING ? all[2]->u.s : NULL;
	char *host = NULL;

	if ((host = proute_sr_target(method, all, nall)))
		return host;
	if (!a1)
		return NULL;
	db_rdlock();
	if (strcmp(method, "VM.start") == 0) {
		struct db_row *r = db_get(DMC_VM, a1);
		if (r && proute_usable(r->f[DMF_VM_affinity].s))
			host = xstrdup(r->f[DMF_VM_affinity].s);
	} else if ((strcmp(method, "VM.start_on") == 0 ||
	            strcmp(method, "VM.resume_on") == 0) &&
	           a2 && db_get(DMC_host, a2)) {
		host = xstrdup(a2);
	} else if (proute_in(method, proute_resident,
	                     sizeof(proute_resident) /
	                         sizeof(proute_resident[0]))) {
		host = proute_vm_host(a1);
	} else if (strncmp(method, "VBD.", 4) == 0 ||
	           strncmp(method, "VIF.", 4) == 0) {
		const char *op = method + 4;
		if (strcmp(op, "plug") == 0 || strcmp(op, "unplug") == 0 ||
		    strcmp(op, "unplug_force") == 0) {
			bool vbd = method[1] == 'B';
			struct db_row *d = db_get(vbd ? DMC_VBD : DMC_VIF, a1);
			if (d)
				host = proute_vm_host(
				    d->f[vbd ? DMF_VBD_VM : DMF_VIF_VM].s);
		}
	}
	db_unlock();
	return host;
}

/* A session on host (cached), or NULL with *err. */
static char *
proute_session(const char *host, const char *addr, bool fresh,
               struct api_err **err)
{
	char *s = NULL;
	pthread_mutex_lock(&proute_lock);
	struct proute_sess *p = proute_find(host);
	if (p && !fresh)
		s = xstrdup(p->session);
	pthread_mutex_unlock(&proute_lock);
	if (s)
		return s;
	xv *params = xv_array(), *res = NULL;
	xv_push(params, xv_str(host));
	xv_push(params, xv_str(pool_secret()));
	*err = pool_call(addr, "session.slave_login", params, &res);
	xv_free(params);
	if (*err || !res || res->type != XV_STRING) {
		if (!*err)
			*err = api_internal("no session from %s", addr);
		xv_free(res);
		return NULL;
	}
	s = xstrdup(res->u.s);
	xv_free(res);
	pthread_mutex_lock(&proute_lock);
	p = proute_find(host);
	if (!p) {
		p = xcalloc(1, sizeof(*p));
		p->host = xstrdup(host);
		p->next = proute_sessions;
		proute_sessions = p;
	}
	free(p->session);
	p->session = xstrdup(s);
	pthread_mutex_unlock(&proute_lock);
	return s;
}

struct api_err *
pool_call_host(const char *host, const char *method, const xv *args,
               xv **result)
{
	char *addr = NULL;
	struct api_err *e = NULL;

	*result = NULL;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, host);
	if (h)
		addr = xstrdup(h->f[DMF_host_address].s);
	db_unlock();
	if (!addr)
		return api_error(XE_HANDLE_INVALID, "host", host, NULL);
	for (int attempt = 0; attempt < 2; attempt++) {
		char *s = proute_session(host, addr, attempt > 0, &e);
		if (!s)
			break;
		xv *params = xv_array();
		xv_push(params, xv_str(s));
		for (size_t i = 0; args && i < args->u.a.n; i++)
			xv_push(params, xv_dup(args->u.a.items[i]));
		e = pool_call(addr, method, params, result);
		xv_free(params);
		free(s);
		/* a host that restarted knows no session of ours: it takes
		 * the call for a client's (HOST_IS_SLAVE) */
		if (!e || (strcmp(e->code, "SESSION_INVALID") != 0 &&
		           strcmp(e->code, "HOST_IS_SLAVE") != 0))
			break;
		api_err_free(e);
		e = NULL;
	}
	free(addr);
	return e;
}

static bool
proute_route(struct api_ctx *ctx, const char *method, xv *const *all,
             size_t nall, xv **result, struct api_err **err)
{
	(void)ctx;
	if (!pool_ready() || !pool_is_master())
		return false;
	char *host = proute_target(method, all, nall);
	if (!host || strcmp(host, prole_host_ref()) == 0) {
		free(host);
		return false;
	}
	log_info("pool", "%s runs on host %s", method, host);
	xv *args = xv_array();
	for (size_t i = 1; i < nall; i++)
		xv_push(args, xv_dup(all[i]));
	*err = pool_call_host(host, method, args, result);
	xv_free(args);
	free(host);
	return true;
}

void
proute_register(void)
{
	api_set_router(proute_route);
}
