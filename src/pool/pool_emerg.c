/* pool_emerg: XenServer's emergency path for a pool that lost its master
 * and cannot elect another (two hosts, or a majority gone), after xapi's
 * xapi_pool.ml / xapi_pool_transition.ml:
 *
 * - emergency mode: a slave whose master has not answered for
 *   PEMERG_AFTER_S refuses every call but the emergency ones with
 *   HOST_STILL_BOOTING (xapi's stashed emergency_mode_error);
 * - pool.emergency_transition_to_master: this host starts a one-node
 *   cluster filled from its replica (every write the master committed up
 *   to its last answer) and becomes the master (prole_take_over);
 * - pool.emergency_reset_master(address): this host leaves its cluster and
 *   joins the master at address again (its node restarts empty with a new
 *   id and the master adds it; its replica follows that master);
 * - pool.recover_slaves: the master asks every other host to reset to it
 *   and answers those that did.
 *
 * A host whose cluster has been replaced this way (an old master coming
 * back, a member restarting, a master cut off while the others moved on)
 * learns it by asking the other hosts (pool.leader): a master whose Raft
 * configuration does not hold our node has superseded us, and we join it
 * as a slave instead of being a second master (pemerg_superseded). */
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* How often a master looks for a master that superseded it (s). */
#define PEMERG_CHECK_S 10
/* Bound of one pool.leader question (ms). */
#define PEMERG_PROBE_MS 3000

bool
pemerg_active(void)
{
	return pool_ready() && !pool_is_master() &&
	       (pboot_active() || pfollow_lost(PEMERG_AFTER_S));
}

bool
pool_emergency(void)
{
	return pemerg_active();
}

/* ---- who supersedes us ---- */

struct pemerg_probe {
	char *ip;
	bool master; /* its xapid is a master */
	bool has_us; /* its node's configuration holds our node id */
	bool answered;
	pthread_t th;
};

static struct api_err *pemerg_ask(const char *ip, bool *master,
                                  char **master_addr, bool *has_us);

static void *
pemerg_probe_main(void *arg)
{
	struct pemerg_probe *p = arg;
	struct api_err *e = pemerg_ask(p->ip, &p->master, NULL, &p->has_us);
	p->answered = !e;
	api_err_free(e);
	return NULL;
}

/* Adds ip to the list unless it is there or ours. */
static void
pemerg_add(char ***ips, size_t *n, const char *ip)
{
	if (!ip || !*ip || strcmp(ip, prole_config()->address) == 0)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*ips)[i], ip) == 0)
			return;
	*ips = xrealloc(*ips, (*n + 1) * sizeof(char *));
	(*ips)[(*n)++] = xstrdup(ip);
}

char *
pemerg_superseded(void)
{
	char **ips = NULL, **addrs = NULL, *err = NULL, *found = NULL;
	uint64_t *ids = NULL;
	size_t n = 0, na = 0;

	/* the members of our configuration, and the hosts of our database */
	if (prole_members(&ids, &addrs, &na, &err) == 0) {
		for (size_t i = 0; i < na; i++) {
			char *ip = xstrndup(addrs[i], strcspn(addrs[i], ":"));
			pemerg_add(&ips, &n, ip);
			free(ip);
			free(addrs[i]);
		}
		free(ids);
		free(addrs);
	}
	free(err);
	db_rdlock();
	size_t nh;
	struct db_row **hosts = db_list(DMC_host, &nh);
	for (size_t i = 0; i < nh; i++)
		pemerg_add(&ips, &n, hosts[i]->f[DMF_host_address].s);
	free(hosts);
	db_unlock();
	if (!n)
		return NULL;
	/* asked together: a host that does not answer costs one bound */
	struct pemerg_probe *p = xcalloc(n, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		p[i].ip = ips[i];
		if (pthread_create(&p[i].th, NULL, pemerg_probe_main, &p[i]) !=
		    0)
			pemerg_probe_main(&p[i]), p[i].th = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i].th)
			pthread_join(p[i].th, NULL);
		if (!found && p[i].answered && p[i].master && !p[i].has_us)
			found = xstrdup(p[i].ip);
		free(p[i].ip);
	}
	free(p);
	free(ips);
	return found;
}

/* ---- joining another master again ---- */

/* Asks the host at ip (pool.leader) whether its xapid is a master, its
 * master's address, and whether its node's configuration holds ours.
 * Returns the error of the call, or NULL. */
static struct api_err *
pemerg_ask(const char *ip, bool *master, char **master_addr, bool *has_us)
{
	xv *params = xv_array(), *res = NULL;
	uint64_t me = prole_node_id();

	*master = *has_us = false;
	xv_push(params, xv_str(pool_secret()));
	struct api_err *e =
	    plink_call(ip, "pool.leader", params, false, PEMERG_PROBE_MS, &res);
	xv_free(params);
	const xv *m = res ? xv_get(res, "master") : NULL;
	const xv *ma = res ? xv_get(res, "master_address") : NULL;
	const xv *mem = res ? xv_get(res, "members") : NULL;
	if (!e && (!m || m->type != XV_BOOL || !mem || mem->type != XV_ARRAY))
		e = api_error(XE_CANNOT_CONTACT_HOST, ip, NULL);
	if (!e) {
		*master = m->u.b;
		if (master_addr)
			*master_addr =
			    xstrdup(ma && ma->type == XV_STRING ? ma->u.s : "");
		/* "ID@IP:PORT": ids alone are not unique (a one-node
		 * cluster's node is 1) */
		for (size_t i = 0; i < mem->u.a.n; i++) {
			const xv *v = mem->u.a.items[i];
			const char *at =
			    v->type == XV_STRING ? strchr(v->u.s, '@') : NULL;
			if (at && strtoull(v->u.s, NULL, 10) == me &&
			    strcmp(at + 1, prole_raft_address()) == 0)
				*has_us = true;
		}
	}
	xv_free(res);
	return e;
}

/* Whether the master at ip counts our node as a member (1 or 0); -1 when
 * it is no master of ours, with *e the error to report. */
static int
pemerg_check_master(const char *ip, struct api_err **e)
{
	bool master, has_us;
	char *ma = NULL;

	*e = pemerg_ask(ip, &master, &ma, &has_us);
	if (*e) {
		const char *code = (*e)->code;
		if (strcmp(code, "SESSION_AUTHENTICATION_FAILED") == 0) {
			/* not our pool secret: another pool's host (xapi:
			 * "pointing to the wrong master") */
			api_err_free(*e);
			db_rdlock();
			struct db_row *h = db_get(DMC_host, prole_host_ref());
			*e = api_error(XE_HOST_UNKNOWN_TO_MASTER,
			               h ? h->f[DMF_host_uuid].s : "", NULL);
			db_unlock();
		} else {
			api_err_free(*e);
			*e = api_error(XE_CANNOT_CONTACT_HOST, ip, NULL);
		}
		return -1;
	}
	if (!master) {
		/* a slave: xapi's answer to calls on a slave */
		*e = api_error(XE_HOST_IS_SLAVE, ma, NULL);
		free(ma);
		return -1;
	}
	free(ma);
	return has_us ? 1 : 0;
}

int
pemerg_adopt_cluster(const char *ip, char **err)
{
	xv *params = xv_array(), *res = NULL;
	int rc = -1;

	xv_push(params, xv_str(pool_secret()));
	struct api_err *e =
	    plink_call(ip, "pool.leader", params, false, PEMERG_PROBE_MS, &res);
	const xv *cl = res ? xv_get(res, "cluster") : NULL;
	if (e)
		*err = xasprintf("%s: %s", ip, e->code);
	else if (!cl || cl->type != XV_STRING || !cl->u.s[0])
		*err = xasprintf("%s did not name its cluster", ip);
	else
		rc = prole_set_cluster(cl->u.s, err);
	api_err_free(e);
	xv_free(params);
	xv_free(res);
	return rc;
}

int
pemerg_rejoin(const char *ip, char **err)
{
	xv *session = NULL, *res = NULL;
	struct api_err *e;
	char id[24];

	e = pjoin_call(ip, "session.slave_login",
	               pjoin_args(NULL, DM_NULL_REF, pool_secret(), NULL),
	               &session);
	if (e) {
		*err = xasprintf("%s refused us: %s", ip, e->code);
		api_err_free(e);
		return -1;
	}
	log_warn("pool",
	         "the pool's master is now %s, in a cluster without this "
	         "host's node: this host joins it again as a slave (its own "
	         "copy of the database gives way to the master's)",
	         ip);
	/* no longer master; writes go nowhere until we follow ip */
	prole_change_lock();
	prole_set_alone(false);
	db_set_forward(pwrite_forward);
	if (pemerg_adopt_cluster(ip, err) < 0 ||
	    prole_restart_node(0, false, err) < 0)
		goto out;
	snprintf(id, sizeof(id), "%" PRIu64, prole_node_id());
	e = pjoin_call(
	    ip, "pool.join_member",
	    pjoin_args(session->u.s, id, prole_raft_address(), "[]", NULL),
	    &res);
	if (e) {
		*err = xasprintf("%s did not take our node: %s", ip, e->code);
		api_err_free(e);
		goto out;
	}
	prole_become_slave(ip);
	for (int i = 0; i < 600 && pfollow_wait_initial(0.1) < 0; i++)
		;
	if (prole_host_ref())
		prole_mark_live(prole_host_ref(), true);
	log_info("pool", "this host is a slave of %s again", ip);
out:
	prole_change_unlock();
	if (session) {
		xv *r = NULL;
		api_err_free(pjoin_call(ip, "session.logout",
		                        pjoin_args(session->u.s, NULL), &r));
		xv_free(r);
	}
	xv_free(session);
	xv_free(res);
	return *err ? -1 : 0;
}

/* ---- the calls ---- */

static bool
pemerg_ha_enabled(void)
{
	size_t n;
	db_rdlock();
	struct db_row **pools = db_list(DMC_pool, &n);
	bool ha = n && pools[0]->f[DMF_pool_ha_enabled].b;
	free(pools);
	db_unlock();
	return ha;
}

/* pool.emergency_transition_to_master(session) */
static struct api_err *
pemerg_transition(struct api_ctx *ctx, xv *const *args, size_t nargs,
                  xv **result)
{
	char *err = NULL;

	(void)ctx;
	(void)args;
	(void)nargs;
	(void)result;
	if (pemerg_ha_enabled())
		return api_error(XE_HA_IS_ENABLED, NULL);
	if (pool_is_master())
		return NULL; /* xapi: already master, nothing changes */
	log_warn("pool", "emergency transition to master");
	if (prole_take_over(&err) < 0) {
		struct api_err *e = api_internal("%s", err);
		free(err);
		return e;
	}
	return NULL;
}

/* The address as an IPv4 dotted quad (xapi's Helpers.gethostbyname). */
static char *
pemerg_resolve(const char *name)
{
	struct addrinfo hints = {.ai_family = AF_INET,
	                         .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	char buf[64];

	if (!name[0] || getaddrinfo(name, NULL, &hints, &ai) != 0 || !ai)
		return NULL;
	int rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf),
	                     NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(ai);
	return rc == 0 ? xstrdup(buf) : NULL;
}

/* pool.emergency_reset_master(session, master_address) */
static struct api_err *
pemerg_reset(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *e = NULL;
	char *err = NULL, *ip;

	(void)ctx;
	(void)result;
	if (nargs != 1 || args[0]->type != XV_STRING)
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
		                 "pool.emergency_reset_master", "2", "?", NULL);
	if (pemerg_ha_enabled())
		return api_error(XE_HA_IS_ENABLED, NULL);
	if (!(ip = pemerg_resolve(args[0]->u.s)))
		return api_internal("Couldn't resolve hostname: %s",
		                    args[0]->u.s);
	if (strcmp(ip, prole_config()->address) == 0) {
		free(ip);
		return api_error(XE_HOST_ITS_OWN_SLAVE, NULL);
	}
	int has_us = pemerg_check_master(ip, &e);
	if (has_us < 0) {
		log_warn("pool", "emergency reset to %s refused: %s", ip,
		         e->code);
	} else if (has_us == 1 && !pool_is_master()) {
		/* xapi: "We are already a slave of X; nothing to do" */
		char *cur = prole_master();
		if (pboot_active())
			peject_restart_later(); /* it settles as a slave */
		else if (!cur || strcmp(cur, ip) != 0)
			prole_become_slave(ip);
		free(cur);
	} else if (pemerg_rejoin(ip, &err) < 0) {
		e = api_internal("%s", err);
		free(err);
	} else if (pboot_active()) {
		/* come up in emergency mode: its start-up (its host's facts,
		 * its VMs' states) is done again as the new master's slave */
		peject_restart_later();
	}
	free(ip);
	return e;
}

/* pool.recover_slaves(session): on the master. */
static struct api_err *
pemerg_recover(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	size_t n;
	char **refs;

	(void)ctx;
	(void)args;
	(void)nargs;
	db_rdlock();
	struct db_row **hosts = db_list(DMC_host, &n);
	refs = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		refs[i] = xstrdup(hosts[i]->ref);
	free(hosts);
	db_unlock();
	xv *out = xv_array();
	for (size_t i = 0; i < n; i++) {
		if (strcmp(refs[i], prole_host_ref()) != 0) {
			xv *a = xv_array(), *r = NULL;
			xv_push(a, xv_str(prole_config()->address));
			struct api_err *e = pool_call_host(
			    refs[i], "pool.emergency_reset_master", a, &r);
			if (e)
				log_warn("pool", "recover_slaves: %s: %s",
				         refs[i], e->code);
			else
				xv_push(out, xv_str(refs[i]));
			api_err_free(e);
			xv_free(a);
			xv_free(r);
		}
		free(refs[i]);
	}
	free(refs);
	*result = out;
	return NULL;
}

/* A master that another master superseded joins it (a master cut off
 * while the others moved on, or an old master that was never stopped). */
static void *
pemerg_watch(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(PEMERG_CHECK_S);
		if (!pool_ready() || !pool_is_master())
			continue;
		char *ip = pemerg_superseded(), *err = NULL;
		if (!ip || !pool_is_master()) {
			free(ip);
			continue;
		}
		log_warn("pool",
		         "%s is the master of a pool that left this "
		         "host out: this host is no longer its master",
		         ip);
		if (pemerg_rejoin(ip, &err) < 0) {
			log_err("pool", "joining %s: %s", ip, err);
			free(err);
		}
		free(ip);
	}
	return NULL;
}

void
pemerg_register(void)
{
	api_register("pool.emergency_transition_to_master", pemerg_transition,
	             0);
	api_register("pool.emergency_reset_master", pemerg_reset, 0);
	api_register("pool.recover_slaves", pemerg_recover, 0);
	pthread_t th;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, pemerg_watch, NULL) != 0)
		log_err("pool", "cannot start the supersession watcher");
	pthread_attr_destroy(&attr);
}
