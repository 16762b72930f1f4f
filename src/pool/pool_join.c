/* pool_join: pool.join (on the joining host), the master's half of it,
 * pool.eject, host.destroy (xe host-forget) and pool.designate_new_master.
 * Checks and errors follow xapi's xapi_pool.ml (pre_join_checks, eject). */
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

/* A call on the master with our session; frees params. */
struct api_err *
pjoin_call(const char *master, const char *method, xv *params, xv **result)
{
	struct api_err *e = plink_call(master, method, params, false,
	                               POOL_CALL_TIMEOUT_MS, result);
	xv_free(params);
	return e;
}

xv *
pjoin_args(const char *session, ...)
{
	va_list ap;
	xv *a = xv_array();
	if (session)
		xv_push(a, xv_str(session));
	va_start(ap, session);
	for (const char *s; (s = va_arg(ap, const char *));)
		xv_push(a, xv_str(s));
	va_end(ap);
	return a;
}

/* A string field of a record (xv struct), or "". */
static const char *
pjoin_field(const xv *rec, const char *name)
{
	const xv *v = rec ? xv_get(rec, name) : NULL;
	return v && v->type == XV_STRING ? v->u.s : "";
}

/* The value of key in a map field of a record, or "". */
static const char *
pjoin_map(const xv *rec, const char *field, const char *key)
{
	const xv *m = rec ? xv_get(rec, field) : NULL;
	const xv *v = m && m->type == XV_STRUCT ? xv_get(m, key) : NULL;
	return v && v->type == XV_STRING ? v->u.s : "";
}

static const char *
pjoin_my_map(const struct db_row *h, const char *key)
{
	const struct dm_coll *c = h->f[DMF_host_software_version].c;
	for (size_t i = 0; c && i < c->n; i++)
		if (strcmp(c->v[2 * i].s, key) == 0)
			return c->v[2 * i + 1].s;
	return "";
}

/* Our CPU vendor (host_cpu rows of this host). */
static char *
pjoin_my_vendor(const char *host)
{
	size_t n;
	char *v = NULL;
	struct db_row **cpus = db_list(DMC_host_cpu, &n);
	for (size_t i = 0; i < n && !v; i++)
		if (strcmp(cpus[i]->f[DMF_host_cpu_host].s, host) == 0)
			v = xstrdup(cpus[i]->f[DMF_host_cpu_vendor].s);
	free(cpus);
	return v ? v : xstrdup("");
}

/* xapi's pre_join_checks that apply here, in its order. */
static struct api_err *
pjoin_checks(const char *master, const char *session, bool force)
{
	const char *me = prole_host_ref();
	xv *pools = NULL, *mrec = NULL, *cpus = NULL, *mref = NULL;
	struct api_err *e;
	size_t n;

	e = pjoin_call(master, "pool.get_all", pjoin_args(session, NULL),
	               &pools);
	if (!e && (!pools || pools->type != XV_ARRAY || !pools->u.a.n))
		e = api_error(XE_JOINING_HOST_SERVICE_FAILED, NULL);
	if (!e)
		e = pjoin_call(
		    master, "pool.get_master",
		    pjoin_args(session, pools->u.a.items[0]->u.s, NULL), &mref);
	if (!e)
		e = pjoin_call(master, "host.get_record",
		               pjoin_args(session, mref->u.s, NULL), &mrec);
	if (!e)
		e = pjoin_call(master, "host_cpu.get_all_records",
		               pjoin_args(session, NULL), &cpus);
	xv_free(pools);
	xv_free(mref);
	if (e)
		goto out;
	db_rdlock();
	struct db_row *h = db_get(DMC_host, me);
	struct db_row **all = db_list(DMC_host, &n);
	free(all);
	if (!h) {
		e = api_internal("this host has no record");
	} else if (strcmp(pjoin_field(mrec, "uuid"), h->f[DMF_host_uuid].s) ==
	           0) {
		e = api_error(XE_OPERATION_NOT_ALLOWED,
		              n > 1 ? "Host is already part of a pool"
		                    : "Host cannot become slave of itself",
		              NULL);
	} else if (n > 1) {
		e = api_error(XE_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS,
		              NULL);
	}
	if (!e) {
		struct db_row **vms = db_list(DMC_VM, &n);
		for (size_t i = 0; i < n && !e; i++)
			if (!vms[i]->f[DMF_VM_is_control_domain].b &&
			    strcmp(vms[i]->f[DMF_VM_power_state].s,
			           "Running") == 0)
				e = api_error(
				    XE_JOINING_HOST_CANNOT_HAVE_RUNNING_VMS,
				    NULL);
		free(vms);
	}
	if (!e && strcmp(pjoin_map(mrec, "software_version", "product_version"),
	                 pjoin_my_map(h, "product_version")) != 0)
		e = api_error(
		    XE_POOL_JOINING_HOST_MUST_HAVE_SAME_PRODUCT_VERSION, NULL);
	if (!e && !force &&
	    (strcmp(pjoin_map(mrec, "software_version", "xapi"),
	            pjoin_my_map(h, "xapi")) != 0 ||
	     strcmp(pjoin_map(mrec, "software_version", "build_number"),
	            pjoin_my_map(h, "build_number")) != 0))
		e = api_error(XE_HOSTS_NOT_HOMOGENEOUS,
		              "Software version differs", NULL);
	if (e && strcmp(e->code, "HOSTS_NOT_HOMOGENEOUS") == 0)
		log_warn("pool", "join: master runs xapi %s build %s, we %s %s",
		         pjoin_map(mrec, "software_version", "xapi"),
		         pjoin_map(mrec, "software_version", "build_number"),
		         pjoin_my_map(h, "xapi"),
		         pjoin_my_map(h, "build_number"));
	if (!e && !force && cpus && cpus->type == XV_STRUCT && cpus->u.st.n) {
		char *mine = pjoin_my_vendor(me);
		const char *theirs = pjoin_field(cpus->u.st.vals[0], "vendor");
		if (strcmp(mine, theirs) != 0) {
			log_warn("pool", "join: master's CPUs are %s, ours %s",
			         theirs, mine);
			e = api_error(XE_HOSTS_NOT_HOMOGENEOUS, "CPUs differ",
			              NULL);
		}
		free(mine);
	}
	db_unlock();
out:
	xv_free(mrec);
	xv_free(cpus);
	return e;
}

static void
pjoin_add(json_t *a, const struct db_row *r)
{
	json_t *o = json_object();
	char *text = db_row_to_json(r);
	json_object_set_new(o, "cls", json_string(dm_classes[r->cls].name));
	json_object_set_new(o, "ref", json_string(r->ref));
	json_object_set_new(o, "row", json_string(text));
	free(text);
	json_array_append_new(a, o);
}

/* This host's own objects, as the pool gets them (xapi's pool join makes
 * them on the master): host, metrics, CPUs, control domain, PIFs and
 * their networks, local SRs with their PBDs and VDIs. Read lock held. */
static char *
pjoin_records(const char *me)
{
	json_t *a = json_array();
	size_t n, m;
	struct db_row *h = db_get(DMC_host, me);
	struct db_row *met = db_get(DMC_host_metrics, h->f[DMF_host_metrics].s);

	pjoin_add(a, h);
	if (met)
		pjoin_add(a, met);
	/* our certificate: the master pins it before it links to us */
	struct db_row **rows0 = db_list(DMC_Certificate, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows0[i]->f[DMF_Certificate_host].s, me) == 0)
			pjoin_add(a, rows0[i]);
	free(rows0);
	struct db_row **rows = db_list(DMC_host_cpu, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i]->f[DMF_host_cpu_host].s, me) == 0)
			pjoin_add(a, rows[i]);
	free(rows);
	rows = db_list(DMC_VM, &n);
	for (size_t i = 0; i < n; i++)
		if (rows[i]->f[DMF_VM_is_control_domain].b &&
		    strcmp(rows[i]->f[DMF_VM_resident_on].s, me) == 0)
			pjoin_add(a, rows[i]);
	free(rows);
	rows = db_list(DMC_PIF, &n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i]->f[DMF_PIF_host].s, me) != 0)
			continue;
		struct db_row *net =
		    db_get(DMC_network, rows[i]->f[DMF_PIF_network].s);
		if (net)
			pjoin_add(a, net);
		pjoin_add(a, rows[i]);
	}
	free(rows);
	rows = db_list(DMC_PBD, &n);
	for (size_t i = 0; i < n; i++) {
		struct db_row *sr = db_get(DMC_SR, rows[i]->f[DMF_PBD_SR].s);
		if (!sr || sr->f[DMF_SR_shared].b ||
		    strcmp(rows[i]->f[DMF_PBD_host].s, me) != 0)
			continue;
		pjoin_add(a, sr);
		pjoin_add(a, rows[i]);
		struct db_row **vdis = db_list(DMC_VDI, &m);
		for (size_t k = 0; k < m; k++)
			if (strcmp(vdis[k]->f[DMF_VDI_SR].s, sr->ref) == 0)
				pjoin_add(a, vdis[k]);
		free(vdis);
	}
	free(rows);
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s;
}

/* After a failed join, this host is again a pool of its own with the
 * database it had (still in memory). */
static void
pjoin_undo(void)
{
	char *err = NULL;
	size_t total = 0;
	struct db_row **rows = NULL;

	/* our rows first: the watcher may reload the store from the fresh
	 * node (empty) before we are alone again */
	db_rdlock();
	for (int c = 0; c < DMC__COUNT; c++) {
		size_t n;
		struct db_row **v = db_list(c, &n);
		rows = xrealloc(rows, (total + n + 1) * sizeof(*rows));
		for (size_t i = 0; i < n; i++)
			rows[total++] = db_row_copy(v[i]);
		free(v);
	}
	db_unlock();
	if (prole_restart_node(1, true, &err) < 0) {
		log_err("pool", "join undo: %s", err);
		free(err);
		for (size_t i = 0; i < total; i++)
			db_row_free(rows[i]);
		free(rows);
		return;
	}
	db_swap_persist(prole_persist());
	prole_set_alone(true);
	if (db_replace_all(rows, total, db_generation() + 1, &err) < 0) {
		log_err("pool", "join undo: rewriting the database: %s", err);
		free(err);
	}
	for (size_t i = 0; i < total; i++)
		db_row_free(rows[i]);
	free(rows);
}

/* The master failed while adding us, perhaps because leadership moved
 * (a two-voter cluster needs both voters; under load the leader can step
 * down while the new voter's links come up, and the new voter, caught up,
 * can win the next election). If our node is a voter of the cluster, the
 * join happened at the Raft level: the records are sent again to whoever
 * is master now (ourselves, possibly). Returns 0 then, -1 if we are not a
 * member (the caller undoes the join). */
static int
pjoin_finish_elsewhere(const char *records, const char *id)
{
	uint64_t lid = 0;
	char *laddr = NULL, *err = NULL;

	for (int i = 0; i < 300 && !lid; i++) {
		free(laddr);
		laddr = NULL;
		if (prole_leader(&lid, &laddr, &err) < 0) {
			free(err);
			err = NULL;
		}
		if (!lid)
			usleep(100 * 1000);
	}
	if (!lid || prole_role_of(prole_node_id()) < 0) {
		free(laddr);
		return -1;
	}
	char *ip = xstrndup(laddr, strcspn(laddr, ":"));
	free(laddr);
	log_warn("pool",
	         "join: the cluster took us, but its master changed; "
	         "sending our records to %s",
	         ip);
	/* the watcher makes the leader's xapid the master */
	for (int i = 0; i < 300; i++) {
		char *m = prole_master();
		bool there = m && strcmp(m, ip) == 0;
		free(m);
		if (there)
			break;
		usleep(100 * 1000);
	}
	xv *session = NULL, *res = NULL;
	struct api_err *e = pjoin_call(
	    ip, "session.slave_login",
	    pjoin_args(NULL, DM_NULL_REF, pool_secret(), NULL), &session);
	if (!e)
		e = pjoin_call(ip, "pool.join_member",
		               pjoin_args(session->u.s, id,
		                          prole_raft_address(), records, NULL),
		               &res);
	if (e)
		log_err("pool", "join: %s refused our records: %s", ip,
		        e->code);
	int rc = e ? -1 : 0;
	api_err_free(e);
	xv_free(session);
	xv_free(res);
	free(ip);
	return rc;
}

static struct api_err *
pjoin_join(const char *master, const char *user, const char *pwd, bool force)
{
	xv *session = NULL, *secret = NULL, *res = NULL;
	struct api_err *e;
	char *err = NULL;

	if (!pool_is_master())
		return api_error(
		    XE_JOINING_HOST_CANNOT_BE_MASTER_OF_OTHER_HOSTS, NULL);
	/* the master is authenticated by the admin's password: its
	 * certificate is pinned on this first call (xapi's join exchanges
	 * certificates the same way) */
	pcert_forget(master);
	e = pjoin_call(
	    master, "session.login_with_password",
	    pjoin_args(NULL, user, pwd, "1.0", "xapid-pool-join", NULL),
	    &session);
	if (e) {
		if (strcmp(e->code, "CANNOT_CONTACT_HOST") == 0) {
			api_err_free(e);
			e = api_error(XE_JOINING_HOST_CONNECTION_FAILED, NULL);
		}
		return e;
	}
	e = pjoin_checks(master, session->u.s, force);
	if (!e)
		e = pjoin_call(master, "pool.initial_auth",
		               pjoin_args(session->u.s, NULL), &secret);
	if (e)
		goto out;
	log_info("pool", "joining the pool of %s", master);
	db_rdlock();
	char *records = pjoin_records(prole_host_ref());
	db_unlock();
	char *old_secret = xstrdup(pool_secret());
	char *old_cluster = xstrdup(prole_cluster());
	/* the new node first (it leads nothing), then no longer master: the
	 * leadership watcher must not see our old node lead a pool we left;
	 * the node is of the master's cluster */
	if (prole_set_secret(secret->u.s, &err) < 0 ||
	    pemerg_adopt_cluster(master, &err) < 0 ||
	    prole_restart_node(0, false, &err) < 0 ||
	    (prole_set_alone(false), 0)) {
		e = api_internal("%s", err);
		free(err);
		free(records);
		prole_set_secret(old_secret, &err);
		prole_set_cluster(old_cluster, &err);
		free(old_secret);
		free(old_cluster);
		pjoin_undo();
		goto out;
	}
	char id[24];
	snprintf(id, sizeof(id), "%" PRIu64, prole_node_id());
	e = pjoin_call(
	    master, "pool.join_member",
	    pjoin_args(session->u.s, id, prole_raft_address(), records, NULL),
	    &res);
	if (e && pjoin_finish_elsewhere(records, id) == 0) {
		api_err_free(e);
		e = NULL;
	}
	free(records);
	if (e) {
		log_warn("pool", "the master refused us: %s", e->code);
		prole_set_secret(old_secret, &err);
		prole_set_cluster(old_cluster, &err);
		free(old_secret);
		free(old_cluster);
		pjoin_undo();
		goto out;
	}
	free(old_secret);
	free(old_cluster);
	/* the leadership watcher makes us the slave of the leader (or, if
	 * the leadership came to us, the master) */
	int w = 0;
	char *known = prole_master();
	if (!pool_is_master() && !known)
		prole_become_slave(master);
	free(known);
	while (w++ < 600 && !pool_is_master() && pfollow_wait_initial(0.1) < 0)
		;
	log_info("pool", "joined the pool of %s", master);
out:
	if (session) {
		xv *r = NULL;
		api_err_free(pjoin_call(master, "session.logout",
		                        pjoin_args(session->u.s, NULL), &r));
		xv_free(r);
	}
	xv_free(session);
	xv_free(secret);
	xv_free(res);
	return e;
}

static struct api_err *
pjoin_api_join(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	bool force = ctx->msg && strcmp(ctx->msg->name, "join_force") == 0;
	return pjoin_join(args[0]->u.s, args[1]->u.s, args[2]->u.s, force);
}

static struct api_err *
pjoin_initial_auth(struct api_ctx *ctx, xv *const *args, size_t nargs,
                   xv **result)
{
	(void)ctx;
	(void)args;
	(void)nargs;
	*result = xv_str(pool_secret());
	return NULL;
}

/* Fields that hold the "many" side of a relation: rebuilt by the master
 * from the rows that point here, never copied. */
static bool
pjoin_set_side(int cls, int fi)
{
	for (size_t k = 0; k < dm_nrelations; k++)
		if (dm_relations[k].b == cls && dm_relations[k].b_field == fi)
			return true;
	return false;
}

/* The master's network for a joining PIF: the one of a master PIF with
 * the same device, else the joiner's own. */
static const char *
pjoin_network_for(const char *device, const char *fallback)
{
	size_t n;
	const char *net = fallback;
	struct db_row **pifs = db_list(DMC_PIF, &n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(pifs[i]->f[DMF_PIF_host].s, prole_host_ref()) == 0 &&
		    strcmp(pifs[i]->f[DMF_PIF_device].s, device) == 0)
			net = pifs[i]->f[DMF_PIF_network].s;
	free(pifs);
	return net;
}

/* Sets the Raft roles for the pool's current size. */
void
pjoin_rebalance(void)
{
	db_rdlock();
	size_t n = db_count(DMC_host);
	db_unlock();
	prole_rebalance(n);
}

/* Master: pins the joiner's certificate (its host_internal Certificate
 * among its records) for its address (raft: "IP:PORT"), before the
 * cluster links to it. */
static void
pjoin_pin_joiner(json_t *recs, const char *raft)
{
	char *ip = xstrndup(raft, strcspn(raft, ":"));

	for (size_t i = 0; i < json_array_size(recs); i++) {
		json_t *o = json_array_get(recs, i);
		const char *text = json_string_value(json_object_get(o, "row"));
		if (dm_class_find(json_string_value(
		        json_object_get(o, "cls"))) != DMC_Certificate ||
		    !text)
			continue;
		struct db_row *r = db_row_from_json(
		    DMC_Certificate,
		    json_string_value(json_object_get(o, "ref")), text);
		if (r &&
		    strcmp(r->f[DMF_Certificate_type].s, "host_internal") == 0)
			pcert_pin(ip, r->f[DMF_Certificate_fingerprint].s,
			          "a host joining the pool");
		db_row_free(r);
	}
	free(ip);
}

/* Master: pool.join_member(session, node id, raft address, records). */
static struct api_err *
pjoin_member(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	char *err = NULL;
	json_error_t jerr;
	json_t *recs;
	struct api_err *e = NULL;

	(void)ctx;
	(void)result;
	if (nargs != 3 || args[0]->type != XV_STRING ||
	    args[1]->type != XV_STRING || args[2]->type != XV_STRING)
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
		                 "pool.join_member", "4", "?", NULL);
	if (!pool_is_master()) {
		char *m = pool_master_address();
		e = api_error(XE_HOST_IS_SLAVE, m, NULL);
		free(m);
		return e;
	}
	recs = json_loads(args[2]->u.s, 0, &jerr);
	if (!json_is_array(recs)) {
		json_decref(recs);
		return api_internal("malformed join records");
	}
	uint64_t id = strtoull(args[0]->u.s, NULL, 10);
	pjoin_pin_joiner(recs, args[1]->u.s);
	if (prole_add_member(id, args[1]->u.s, &err) < 0) {
		e = api_error(XE_JOINING_HOST_CONNECTION_FAILED, NULL);
		log_warn("pool", "adding node %s at %s: %s", args[0]->u.s,
		         args[1]->u.s, err);
		free(err);
		json_decref(recs);
		return e;
	}
	log_info("pool", "node %s at %s joined the cluster", args[0]->u.s,
	         args[1]->u.s);
	struct db_txn *t = db_txn_begin();
	/* networks first: a joining PIF lands on the pool's network */
	for (int pass = 0; pass < 2 && !e; pass++) {
		for (size_t i = 0; i < json_array_size(recs) && !e; i++) {
			json_t *o = json_array_get(recs, i);
			int c = dm_class_find(
			    json_string_value(json_object_get(o, "cls")));
			const char *ref =
			    json_string_value(json_object_get(o, "ref"));
			const char *text =
			    json_string_value(json_object_get(o, "row"));
			struct db_row *src;
			if (c < 0 || !ref || !text ||
			    (pass == 0) != (c == DMC_network))
				continue;
			if (!(src = db_row_from_json(c, ref, text)))
				continue;
			if (c == DMC_network) {
				db_row_free(src);
				continue; /* made below only when needed */
			}
			if (c == DMC_PIF) {
				const char *net = pjoin_network_for(
				    src->f[DMF_PIF_device].s, NULL);
				if (!net) {
					/* no such device on the master: keep
					 * the joiner's */
					for (size_t k = 0;
					     k < json_array_size(recs); k++) {
						json_t *no =
						    json_array_get(recs, k);
						const char *nref =
						    json_string_value(
						        json_object_get(no,
						                        "ref"));
						if (nref &&
						    strcmp(
						        nref,
						        src->f[DMF_PIF_network]
						            .s) == 0 &&
						    !db_get(DMC_network,
						            nref)) {
							struct db_row *nr =
							    db_row_from_json(
							        DMC_network,
							        nref,
							        json_string_value(
							            json_object_get(
							                no,
							                "ro"
							                "w")));
							struct db_row *nn =
							    db_txn_create(
							        t, DMC_network,
							        nref,
							        nr->f
							            [DMF_network_uuid]
							                .s);
							for (size_t f = 0;
							     f <
							     dm_classes
							         [DMC_network]
							             .nfields;
							     f++)
								if (!pjoin_set_side(
								        DMC_network,
								        (int)
								            f) &&
								    (int)f !=
								        dm_classes
								            [DMC_network]
								                .f_uuid)
									db_txn_set(
									    t,
									    nn,
									    (int)
									        f,
									    dmv_copy(
									        dm_classes[DMC_network]
									            .fields
									                [f]
									            .type,
									        nr->f
									            [f]));
							db_row_free(nr);
						}
					}
				} else {
					dmv_free(dm_classes[c]
					             .fields[DMF_PIF_network]
					             .type,
					         &src->f[DMF_PIF_network]);
					src->f[DMF_PIF_network].s =
					    xstrdup(net);
				}
			}
			struct db_row *r = db_txn_edit(t, c, ref);
			if (!r)
				r = db_txn_create(
				    t, c, ref,
				    dm_classes[c].f_uuid >= 0
				        ? src->f[dm_classes[c].f_uuid].s
				        : NULL);
			const struct dm_class *k = &dm_classes[c];
			for (size_t f = 0; f < k->nfields; f++)
				if (!pjoin_set_side(c, (int)f) &&
				    (int)f != k->f_uuid)
					db_txn_set(t, r, (int)f,
					           dmv_copy(k->fields[f].type,
					                    src->f[f]));
			db_row_free(src);
		}
	}
	json_decref(recs);
	if (e) {
		db_txn_abort(t);
		return e;
	}
	if ((e = api_commit(t)))
		return e;
	pjoin_rebalance();
	return NULL;
}

void
pjoin_register(void)
{
	api_register("pool.join", pjoin_api_join, API_NO_ASYNC);
	api_register("pool.join_force", pjoin_api_join, API_NO_ASYNC);
	api_register("pool.initial_auth", pjoin_initial_auth,
	             API_NO_ASYNC | API_READONLY);
	api_register("pool.join_member", pjoin_member, API_NO_ASYNC);
}
