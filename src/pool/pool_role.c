/* pool_role: the dqlite node of this host, the master/slave role and its
 * changes (the leadership watcher). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/dqc.h"
#include "db/dqnode.h"
#include "db/persist.h"
#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Leadership is looked at this often (ms). */
#define PROLE_WATCH_MS 100

static struct {
	pthread_mutex_t lock;
	struct pool_config cfg; /* strings owned */
	struct persist *persist;
	bool master, ready, stop, watching;
	bool took_over;    /* started after an emergency transition */
	char *master_addr; /* IP of the master; ours when master */
	char *host_ref;
	char *raft_addr;
	pthread_mutex_t dq_lock; /* serialises dq */
	/* held by the watcher's role changes and by node restarts */
	pthread_mutex_t change;
	struct dqc *dq; /* to the local node: leadership questions */
	pthread_t watcher;
} pr = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .dq_lock = PTHREAD_MUTEX_INITIALIZER,
    /* recursive: a rejoin holds it across its node restart */
    .change = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP,
};

const struct pool_config *
prole_config(void)
{
	return &pr.cfg;
}

const char *
prole_host_ref(void)
{
	return pr.host_ref;
}

const char *
prole_raft_address(void)
{
	return pr.raft_addr;
}

uint64_t
prole_node_id(void)
{
	pthread_mutex_lock(&pr.lock);
	uint64_t id =
	    pr.persist ? dqnode_id(persist_dqlite_node(pr.persist)) : 0;
	pthread_mutex_unlock(&pr.lock);
	return id;
}

bool
pool_is_master(void)
{
	pthread_mutex_lock(&pr.lock);
	bool m = pr.master;
	pthread_mutex_unlock(&pr.lock);
	return m;
}

bool
pool_ready(void)
{
	pthread_mutex_lock(&pr.lock);
	bool r = pr.ready;
	pthread_mutex_unlock(&pr.lock);
	return r;
}

char *
prole_master(void)
{
	pthread_mutex_lock(&pr.lock);
	char *m = pr.master_addr ? xstrdup(pr.master_addr) : NULL;
	pthread_mutex_unlock(&pr.lock);
	return m;
}

char *
pool_master_address(void)
{
	char *m = prole_master();
	return m ? m : xstrdup("");
}

/* ---- the node ---- */

static struct persist *
prole_open_node(uint64_t id, char **err)
{
	struct persist_dqlite_config dq = {
	    .dir = pr.cfg.db_dir,
	    .address = pr.raft_addr,
	    .node_id = id,
	    .bind_address = pr.cfg.db_bind,
	    .connect = praft_connect,
	    /* heartbeat 45 ms, election timeout 450 ms: a dead master is
	     * replaced in about half a second, while a busy host (TLS
	     * relays, sanitizer builds, two shared cores) does not lose
	     * its leadership to a late heartbeat */
	    .latency_ms = 30,
	    .local_only = true,
	    .lazy = true,
	};
	return persist_dqlite_open(&dq, err);
}

struct persist *
pool_start_node(const struct pool_config *cfg, char **err)
{
	pr.cfg.state_dir = xstrdup(cfg->state_dir);
	pr.cfg.address = xstrdup(cfg->address);
	pr.cfg.tls_port = cfg->tls_port;
	pr.cfg.db_dir = xstrdup(cfg->db_dir);
	pr.cfg.db_bind = xstrdup(cfg->db_bind);
	pr.raft_addr = xasprintf("%s:%d", cfg->address, cfg->tls_port);
	plink_set_port(cfg->tls_port);
	praft_set_local(cfg->db_bind);
	if (prole_load_secret(err) < 0 || prole_load_cluster(err) < 0 ||
	    pcert_load(cfg->cert_file, err) < 0)
		return NULL;
	pr.persist = prole_open_node(0, err);
	return pr.persist;
}

static void
prole_dq_close(void)
{
	dqc_close(pr.dq);
	pr.dq = NULL;
}

/* The leader as the local node sees it. */
static int
prole_leader_local(uint64_t *id, char **address, char **err)
{
	int rc = -1;
	pthread_mutex_lock(&pr.dq_lock);
	if (pr.dq && dqc_broken(pr.dq))
		prole_dq_close();
	if (!pr.dq)
		pr.dq =
		    dqc_connect(pr.cfg.db_bind, POOL_CONNECT_TIMEOUT_MS, err);
	if (pr.dq) {
		dqc_set_timeout(pr.dq, POOL_CONNECT_TIMEOUT_MS);
		rc = dqc_leader(pr.dq, id, address, err);
	}
	pthread_mutex_unlock(&pr.dq_lock);
	return rc;
}

/* A node that is not a voter (a standby) answers "no leader" to LEADER:
 * the voters of its configuration are asked instead (pool.leader). */
static void
prole_leader_from_voters(uint64_t *id, char **address)
{
	struct dqc_server *sv = NULL;
	size_t n = 0;
	uint64_t me = prole_node_id();
	bool voter = false;

	pthread_mutex_lock(&pr.dq_lock);
	if (!pr.dq || dqc_cluster(pr.dq, &sv, &n, NULL) < 0)
		n = 0;
	pthread_mutex_unlock(&pr.dq_lock);
	for (size_t i = 0; i < n; i++)
		voter = voter || (sv[i].id == me && sv[i].role == DQC_VOTER);
	for (size_t i = 0; i < n && !voter && !*id; i++) {
		if (sv[i].role != DQC_VOTER || sv[i].id == me)
			continue;
		char *ip = xstrndup(sv[i].address, strcspn(sv[i].address, ":"));
		xv *params = xv_array(), *res = NULL;
		xv_push(params, xv_str(pool_secret()));
		struct api_err *e =
		    plink_call(ip, "pool.leader", params, false, 2000, &res);
		const xv *lid = res ? xv_get(res, "id") : NULL;
		const xv *la = res ? xv_get(res, "address") : NULL;
		if (!e && lid && la && lid->type == XV_STRING &&
		    la->type == XV_STRING && strtoull(lid->u.s, NULL, 10)) {
			*id = strtoull(lid->u.s, NULL, 10);
			free(*address);
			*address = xstrdup(la->u.s);
		}
		api_err_free(e);
		xv_free(params);
		xv_free(res);
		free(ip);
	}
	dqc_servers_free(sv, n);
}

int
prole_leader(uint64_t *id, char **address, char **err)
{
	int rc = prole_leader_local(id, address, err);
	if (rc == 0 && *id == 0)
		prole_leader_from_voters(id, address);
	return rc;
}

/* pool.leader(secret): the leader as this host's node sees it. */
static struct api_err *
prole_api_leader(struct api_ctx *ctx, xv *const *args, size_t nargs,
                 xv **result)
{
	uint64_t id = 0;
	char *addr = NULL, *err = NULL;

	(void)ctx;
	if (nargs != 1 || args[0]->type != XV_STRING ||
	    !pool_secret_ok(args[0]->u.s))
		return api_error(XE_SESSION_AUTHENTICATION_FAILED, "", "",
		                 NULL);
	if (prole_leader_local(&id, &addr, &err) < 0)
		id = 0;
	xv *st = xv_struct();
	xv_set(st, "id", xv_str_own(xasprintf("%" PRIu64, id)));
	xv_set(st, "address", xv_str(addr ? addr : ""));
	free(addr);
	free(err);
	/* whether this host's xapid is the master, and the members of its
	 * node's configuration (prole_superseded) */
	xv_set(st, "master", xv_bool(pool_is_master()));
	xv_set(st, "master_address", xv_str_own(pool_master_address()));
	xv_set(st, "cluster", xv_str(prole_cluster()));
	xv *members = xv_array();
	uint64_t *ids = NULL;
	char **addrs = NULL;
	size_t n = 0;
	err = NULL;
	if (prole_members(&ids, &addrs, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			xv_push(members,
			        xv_str_own(xasprintf("%" PRIu64 "@%s", ids[i],
			                             addrs[i])));
			free(addrs[i]);
		}
		free(ids);
		free(addrs);
	}
	free(err);
	xv_set(st, "members", members);
	*result = st;
	return NULL;
}

int
prole_members(uint64_t **ids, char ***addrs, size_t *n, char **err)
{
	struct dqc_server *sv = NULL;
	int rc = -1;

	pthread_mutex_lock(&pr.dq_lock);
	if (pr.dq && dqc_broken(pr.dq))
		prole_dq_close();
	if (!pr.dq)
		pr.dq =
		    dqc_connect(pr.cfg.db_bind, POOL_CONNECT_TIMEOUT_MS, err);
	if (pr.dq && dqc_cluster(pr.dq, &sv, n, err) == 0) {
		*ids = xcalloc(*n + 1, sizeof(uint64_t));
		*addrs = xcalloc(*n + 1, sizeof(char *));
		for (size_t i = 0; i < *n; i++) {
			(*ids)[i] = sv[i].id;
			(*addrs)[i] = xstrdup(sv[i].address);
		}
		dqc_servers_free(sv, *n);
		rc = 0;
	}
	pthread_mutex_unlock(&pr.dq_lock);
	return rc;
}

/* Stops the local node and closes the durable store it served. */
static void
prole_close_store(void)
{
	pthread_mutex_lock(&pr.dq_lock);
	prole_dq_close();
	pthread_mutex_unlock(&pr.dq_lock);
	pthread_mutex_lock(&pr.lock);
	struct persist *old = pr.persist;
	pr.persist = NULL;
	pthread_mutex_unlock(&pr.lock);
	persist_close(old);
}

void
prole_stop_node(void)
{
	db_swap_persist(NULL);
	prole_close_store();
}

int
prole_restart_node(uint64_t id, bool bootstrap, char **err)
{
	struct persist *p;
	int rc = -1;

	pthread_mutex_lock(&pr.change);
	db_swap_persist(NULL);
	prole_close_store();
	if (dqnode_wipe(pr.cfg.db_dir) < 0) {
		*err =
		    xasprintf("wiping %s: %s", pr.cfg.db_dir, strerror(errno));
		goto out;
	}
	if (bootstrap) {
		id = 1;
	} else if (id == 0) {
		while (id <= 1) {
			int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
			if (fd < 0 ||
			    read(fd, &id, sizeof(id)) != (ssize_t)sizeof(id))
				id = (uint64_t)time(NULL) ^ (uint64_t)getpid()
				                                << 20;
			if (fd >= 0)
				close(fd);
			id &= 0x7fffffffffffffffULL;
		}
	}
	p = prole_open_node(id, err);
	if (!p)
		goto out;
	pthread_mutex_lock(&pr.lock);
	pr.persist = p;
	pthread_mutex_unlock(&pr.lock);
	log_info("pool", "dqlite node restarted as %" PRIu64 "%s", id,
	         bootstrap ? " (a pool of its own)" : "");
	rc = 0;
out:
	pthread_mutex_unlock(&pr.change);
	return rc;
}

struct persist *
prole_persist(void)
{
	return pr.persist;
}

void
prole_leave(void)
{
	pthread_mutex_lock(&pr.change);
	db_swap_persist(NULL);
	prole_close_store();
	dqnode_wipe(pr.cfg.db_dir);
	pthread_mutex_unlock(&pr.change);
}

/* ---- roles ---- */

/* The IP part of a Raft address. */
static char *
prole_ip(const char *raft_address)
{
	return xstrndup(raft_address, strcspn(raft_address, ":"));
}

void
prole_mark_live(const char *host_ref, bool live)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *h = db_get(DMC_host, host_ref);
	struct db_row *m =
	    h ? db_txn_edit(t, DMC_host_metrics, h->f[DMF_host_metrics].s)
	      : NULL;
	char *err = NULL;
	if (m) {
		db_txn_set(t, m, DMF_host_metrics_live,
		           (union dm_val){.b = live});
		db_txn_set(t, m, DMF_host_metrics_last_updated,
		           (union dm_val){.i = (int64_t)time(NULL)});
	}
	if (db_txn_commit(t, &err) < 0) {
		log_warn("pool", "cannot record host liveness: %s", err);
		free(err);
	}
}

void
prole_set_alone(bool alone)
{
	pfollow_set_master(NULL);
	db_set_forward(NULL);
	pthread_mutex_lock(&pr.lock);
	pr.master = alone;
	free(pr.master_addr);
	pr.master_addr = alone ? xstrdup(pr.cfg.address) : NULL;
	pthread_mutex_unlock(&pr.lock);
}

void
prole_become_slave(const char *address)
{
	pthread_mutex_lock(&pr.lock);
	pr.master = false;
	free(pr.master_addr);
	pr.master_addr = xstrdup(address);
	pthread_mutex_unlock(&pr.lock);
	db_swap_persist(NULL);
	db_set_forward(pwrite_forward);
	pfollow_set_master(address);
	log_info("pool", "this host is a slave of %s", address);
}

void
prole_set_boot_emergency(const char *master)
{
	pthread_mutex_lock(&pr.lock);
	pr.master = false;
	free(pr.master_addr);
	pr.master_addr = xstrdup(master);
	pr.ready = true;
	pthread_mutex_unlock(&pr.lock);
	db_swap_persist(NULL);
	db_set_forward(pwrite_forward);
	pfollow_set_master(master);
}

/* The local node leads: reload the store from dqlite and serve as master. */
static int
prole_promote(void)
{
	char *err = NULL, *old = prole_master();

	pfollow_set_master(NULL);
	db_swap_persist(pr.persist);
	db_set_forward(NULL);
	if (db_reload(&err) < 0) {
		log_err("pool", "cannot become master: %s", err);
		free(err);
		db_swap_persist(NULL);
		db_set_forward(pwrite_forward);
		pfollow_set_master(old);
		free(old);
		return -1;
	}
	pfollow_new_epoch();
	pboot_drop();
	pthread_mutex_lock(&pr.lock);
	pr.master = true;
	free(pr.master_addr);
	pr.master_addr = xstrdup(pr.cfg.address);
	pthread_mutex_unlock(&pr.lock);
	log_info("pool", "this host is now the pool master");
	/* the pool record names us; the old master is down until it is back */
	struct db_txn *t = db_txn_begin();
	size_t n;
	struct db_row **pools = db_list(DMC_pool, &n);
	if (n) {
		struct db_row *p = db_txn_edit(t, DMC_pool, pools[0]->ref);
		db_txn_set(t, p, DMF_pool_master,
		           (union dm_val){.s = xstrdup(pr.host_ref)});
	}
	free(pools);
	struct db_row **hosts = db_list(DMC_host, &n);
	for (size_t i = 0; old && i < n; i++) {
		if (strcmp(hosts[i]->ref, pr.host_ref) == 0 ||
		    strcmp(hosts[i]->f[DMF_host_address].s, old) != 0)
			continue;
		struct db_row *m = db_txn_edit(t, DMC_host_metrics,
		                               hosts[i]->f[DMF_host_metrics].s);
		if (m)
			db_txn_set(t, m, DMF_host_metrics_live,
			           (union dm_val){.b = false});
	}
	free(hosts);
	if (db_txn_commit(t, &err) < 0) {
		log_warn("pool",
		         "new master: cannot update the pool record: %s", err);
		free(err);
	}
	free(old);
	db_rdlock();
	size_t nh = db_count(DMC_host);
	db_unlock();
	prole_rebalance(nh);
	return 0;
}

int
prole_take_over(char **err)
{
	int rc = -1;

	pthread_mutex_lock(&pr.change);
	if (pool_is_master()) {
		rc = 0;
		goto out;
	}
	/* The node of the old cluster cannot lead without its majority: the
	 * replica (every write the master committed up to its last answer)
	 * is written aside, the node stopped and its directory emptied, and
	 * xapid restarts (as xapi's agent does) to start a one-node cluster
	 * there that takes the rows. (A node started again inside the same
	 * process can inherit stale leader state in libraft 0.15 and crash
	 * in its first catch-up check: hence the restart.) */
	if (ptake_write(err) < 0)
		goto out;
	pfollow_set_master(NULL);
	prole_close_store();
	/* a new cluster: the nodes of the old one (an old master coming
	 * back) can no longer reach ours, they learn of it (pemerg) */
	if (ptake_set_aside(err) < 0 || prole_new_cluster(err) < 0)
		goto out;
	log_warn("pool", "emergency transition: restarting as the master");
	peject_restart_later();
	rc = 0;
out:
	pthread_mutex_unlock(&pr.change);
	return rc;
}

static void *
prole_watch(void *arg)
{
	(void)arg;
	bool need_live = false;
	for (;;) {
		struct timespec ts = {0, PROLE_WATCH_MS * 1000 * 1000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&pr.lock);
		bool stop = pr.stop;
		pthread_mutex_unlock(&pr.lock);
		if (stop)
			break;
		uint64_t id = 0;
		char *addr = NULL, *err = NULL;
		if (pthread_mutex_trylock(&pr.change) != 0)
			continue; /* a node restart (join, eject) is under way
			           */
		/* come up in emergency mode: xapid restarts instead (pboot) */
		if (!pr.persist || pboot_active() ||
		    prole_leader(&id, &addr, &err) < 0) {
			free(err);
			pthread_mutex_unlock(&pr.change);
			continue;
		}
		bool master = pool_is_master();
		if (id != 0 && id == prole_node_id() && !master) {
			prole_promote();
		} else if (id != 0 && id != prole_node_id()) {
			char *ip = prole_ip(addr), *cur = prole_master();
			if (master || !cur || strcmp(cur, ip) != 0) {
				log_info("pool", "leader is now %s", addr);
				prole_become_slave(ip);
				need_live = true;
			}
			free(ip);
			free(cur);
		}
		pthread_mutex_unlock(&pr.change);
		if (need_live && pfollow_wait_initial(0.01) == 0) {
			prole_mark_live(pr.host_ref, true);
			need_live = false;
		}
		free(addr);
	}
	return NULL;
}

void
prole_change_lock(void)
{
	pthread_mutex_lock(&pr.change);
}

void
prole_change_unlock(void)
{
	pthread_mutex_unlock(&pr.change);
}

/* Settling a host whose cluster another master replaced: it joins that
 * master as a slave (tried again until it is in: its old node is gone). */
static int
prole_settle_rejoin(const char *ip, bool opened, char **err)
{
	if (!opened && db_open(NULL, err) < 0)
		return -1;
	for (;;) {
		char *e = NULL;
		if (pemerg_rejoin(ip, &e) == 0)
			break;
		log_err("pool", "joining %s again: %s", ip, e);
		free(e);
		sleep(5);
	}
	pthread_mutex_lock(&pr.lock);
	pr.ready = true;
	pthread_mutex_unlock(&pr.lock);
	return 0;
}

/* A slave still waiting for its first copy checks who leads now: this node
 * (it starts again, to settle as the master) or another node (it follows
 * that one). Returns the address followed now (ip, or a new string after
 * freeing ip). */
static char *
prole_settle_recheck(char *ip)
{
	uint64_t id = 0;
	char *addr = NULL, *e = NULL;
	if (prole_leader(&id, &addr, &e) < 0 || id == 0) {
		free(e);
		free(addr);
		return ip;
	}
	if (id == prole_node_id()) {
		free(addr);
		pool_restart("this host leads the pool now");
	}
	char *now = prole_ip(addr);
	free(addr);
	if (strcmp(now, ip) == 0) {
		free(now);
		return ip;
	}
	log_info("pool", "leader is now %s", now);
	prole_become_slave(now);
	free(ip);
	return now;
}

int
pool_settle(struct persist *p, char **err)
{
	uint64_t id = 0;
	char *addr = NULL, *sup = NULL;
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	long said = 0;
	bool booted = false;
	for (;;) {
		char *e = NULL;
		free(addr);
		addr = NULL;
		if (prole_leader(&id, &addr, &e) == 0 && id != 0)
			break;
		free(e);
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* no master: emergency mode from the replica kept here, if any
		 * (else this host waits for its peers) */
		if (!booted && now.tv_sec - t0.tv_sec >= PBOOT_AFTER_S) {
			booted = true;
			int rc = pboot_settle(false, err);
			if (rc != 0) {
				free(addr);
				return rc < 0 ? -1 : 0;
			}
		}
		if (now.tv_sec - t0.tv_sec >= said + 5) {
			said = now.tv_sec - t0.tv_sec;
			log_warn("pool",
			         "no pool master yet (waiting for the other "
			         "members for %ld s)",
			         said);
			/* the others may have moved on without us */
			if ((sup = pemerg_superseded())) {
				free(addr);
				int rc = prole_settle_rejoin(sup, false, err);
				free(sup);
				return rc;
			}
		}
		usleep(100 * 1000);
	}
	if (id == prole_node_id()) {
		free(addr);
		/* an old master coming back after an emergency transition
		 * elsewhere must not be a second master */
		if ((sup = pemerg_superseded())) {
			int rc = prole_settle_rejoin(sup, false, err);
			free(sup);
			return rc;
		}
		int took = ptake_import(p, err);
		if (took < 0 || db_open(p, err) < 0)
			return -1;
		pr.took_over = took > 0;
		pfollow_new_epoch();
		pboot_drop();
		pthread_mutex_lock(&pr.lock);
		pr.master = true;
		pr.master_addr = xstrdup(pr.cfg.address);
		pr.ready = true;
		pthread_mutex_unlock(&pr.lock);
		return 0;
	}
	char *ip = prole_ip(addr);
	free(addr);
	if (db_open(NULL, err) < 0) {
		free(ip);
		return -1;
	}
	prole_become_slave(ip);
	long waited = 0;
	while (pfollow_wait_initial(5.0) < 0) {
		waited += 5;
		log_warn("pool",
		         "no copy of the database from master %s yet "
		         "(%ld s)",
		         ip, waited);
		if ((sup = pemerg_superseded())) {
			free(ip);
			int rc = prole_settle_rejoin(sup, true, err);
			free(sup);
			return rc;
		}
		/* the master we settled on may have lost the leadership while
		 * it started (a whole pool starting at once) */
		ip = prole_settle_recheck(ip);
		/* or died, and no other can be elected */
		if (!booted && waited >= PBOOT_AFTER_S && !prole_has_leader()) {
			booted = true;
			int rc = pboot_settle(true, err);
			if (rc != 0) {
				free(ip);
				return rc < 0 ? -1 : 0;
			}
		}
	}
	free(ip);
	pthread_mutex_lock(&pr.lock);
	pr.ready = true;
	pthread_mutex_unlock(&pr.lock);
	return 0;
}

void
pool_stop(void)
{
	pthread_mutex_lock(&pr.lock);
	pr.stop = true;
	bool w = pr.watching;
	pr.watching = false;
	pthread_mutex_unlock(&pr.lock);
	if (w)
		pthread_join(pr.watcher, NULL);
	pboot_stop();
	pfollow_set_master(NULL);
	pthread_mutex_lock(&pr.dq_lock);
	prole_dq_close();
	pthread_mutex_unlock(&pr.dq_lock);
	/* the slave's backend is ours to close (the master's is the store's) */
	if (!pool_is_master()) {
		persist_close(pr.persist);
		pr.persist = NULL;
	}
}


void
pool_start(const char *host_ref)
{
	pr.host_ref = xstrdup(host_ref);
	api_register("pool.leader", prole_api_leader,
	             API_NO_SESSION | API_NO_ASYNC | API_READONLY);
	pgate_register();
	pfollow_register();
	pwrite_register();
	pjoin_register();
	peject_register();
	pemerg_register();
	if (pr.took_over)
		ptake_after();
	proute_register();
	/* a commit on the master when the lead moves under it (a hand-over,
	 * a failover) goes to the new master instead of failing */
	db_set_lost_lead(pwrite_forward);
	pboot_start();
	pthread_mutex_lock(&pr.lock);
	if (pthread_create(&pr.watcher, NULL, prole_watch, NULL) == 0)
		pr.watching = true;
	pthread_mutex_unlock(&pr.lock);
}
