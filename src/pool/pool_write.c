/* pool_write: writes made on a slave, applied by the master.
 *
 * The store of a slave hands every transaction's changes to persistent
 * classes to pwrite_forward() (store.h, db_set_forward) as field-level ops.
 * We send them to the master (pool.db_apply with the pool secret), which
 * applies them in one transaction of its own (relations are kept there)
 * and commits it to dqlite; the answer names the master's epoch and
 * generation, and the commit returns once our replica has reached it, so
 * a slave reads its own writes. The master's errors come back as XenAPI
 * errors in the commit's error text. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* How long a slave's commit waits for its change to come back. */
#define PWRITE_WAIT_S 30.0
/* How long a write waits for a change of master to settle. */
#define PWRITE_SETTLE_S 10

static char *
pwrite_err_text(const struct api_err *e)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, e->code);
	for (size_t i = 0; i < e->n; i++)
		buf_addf(&b, "%s%s", i ? ", " : ": ", e->params[i]);
	return buf_steal(&b);
}

/* Whether a forwarded write may be sent again: the master moved (the
 * host we asked is a slave now) or could not be reached. The ops carry
 * whole field values, so a write applied before a lost answer is applied
 * again to the same effect. */
static bool
pwrite_retryable(const struct api_err *e)
{
	return strcmp(e->code, xerr_code(XE_HOST_IS_SLAVE)) == 0 ||
	       strcmp(e->code, xerr_code(XE_CANNOT_CONTACT_HOST)) == 0;
}

int
pwrite_forward(const char *ops_json, char **err)
{
	xv *res = NULL;
	struct api_err *e = NULL;
	char *master = NULL;
	struct timespec t0, now;

	/* come up in emergency mode (pool_boot.c): until xapid restarts
	 * with a master, the writes of its start-up and of its VMs' states
	 * fail at once (the master is gone; they are done again then) */
	if (pboot_active()) {
		*err = xstrdup("HOST_STILL_BOOTING");
		return -1;
	}
	/* during a change of master (a hand-over, a failover) the old
	 * master answers HOST_IS_SLAVE and the new one may not serve yet:
	 * wait for the change to settle instead of failing the write */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int attempt = 0;; attempt++) {
		if (attempt) {
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		bool late = now.tv_sec - t0.tv_sec >= PWRITE_SETTLE_S;
		if (pool_is_master()) {
			/* this host leads (took over meanwhile, or has not
			 * yet seen that it lost the lead): apply it here */
			api_err_free(e);
			xv_free(res);
			res = NULL;
			e = pwrite_apply_text(ops_json, &res);
			xv_free(res);
			res = NULL;
			if (!e) {
				free(master);
				return 0;
			}
			if (late || !pwrite_retryable(e))
				break;
			continue;
		}
		free(master);
		master = prole_master();
		if (!master) {
			if (!late)
				continue;
			api_err_free(e);
			*err =
			    xstrdup("the pool master is not known (no leader)");
			return -1;
		}
		xv *params = xv_array();
		xv_push(params, xv_str(pool_secret()));
		xv_push(params, xv_str(ops_json));
		api_err_free(e);
		xv_free(res);
		res = NULL;
		e = plink_call(master, "pool.db_apply", params, false,
		               POOL_CALL_TIMEOUT_MS, &res);
		xv_free(params);
		if (!e || late || !pwrite_retryable(e))
			break;
		if (attempt == 0)
			log_info("pool",
			         "write forwarded to %s: %s; waiting for the "
			         "master to settle",
			         master, e->code);
	}
	if (e) {
		*err = pwrite_err_text(e);
		log_warn("pool", "write forwarded to %s failed: %s",
		         master ? master : "this host", *err);
		api_err_free(e);
		xv_free(res);
		free(master);
		return -1;
	}
	const xv *ep = res ? xv_get(res, "epoch") : NULL;
	const xv *gen = res ? xv_get(res, "generation") : NULL;
	if (ep && gen && ep->type == XV_STRING && gen->type == XV_STRING &&
	    !pfollow_wait(ep->u.s, strtoull(gen->u.s, NULL, 10), PWRITE_WAIT_S))
		log_warn("pool",
		         "the replica has not caught up with write %s "
		         "of %s yet",
		         gen->u.s, master);
	xv_free(res);
	free(master);
	return 0;
}

/* Applies one op of a forwarded transaction to t. */
static struct api_err *
pwrite_op(struct db_txn *t, json_t *o)
{
	const char *op = json_string_value(json_object_get(o, "op"));
	const char *cls = json_string_value(json_object_get(o, "cls"));
	const char *ref = json_string_value(json_object_get(o, "ref"));
	json_t *fields = json_object_get(o, "fields");
	int c = cls ? dm_class_find(cls) : -1;
	char *why = NULL;
	struct db_row *r;

	if (!op || c < 0 || !ref || !(dm_classes[c].flags & DMCF_PERSISTENT))
		return api_internal("malformed forwarded write");
	if (strcmp(op, "del") == 0) {
		db_txn_destroy(t, c, ref); /* already gone: fine */
		return NULL;
	}
	if (!json_is_object(fields))
		return api_internal("malformed forwarded write");
	r = db_txn_edit(t, c, ref);
	if (!r && strcmp(op, "add") == 0) {
		const char *uuid =
		    json_string_value(json_object_get(fields, "uuid"));
		r = db_txn_create(t, c, ref, uuid);
	}
	if (!r)
		return api_error(XE_HANDLE_INVALID, cls, ref, NULL);
	if (db_row_set_json(t, r, fields, &why) < 0) {
		struct api_err *e = api_internal("%s", why);
		free(why);
		return e;
	}
	return NULL;
}

/* Whether the local node no longer leads the cluster (or cannot tell). */
static bool
pwrite_lost_lead(void)
{
	uint64_t id = 0;
	char *addr = NULL, *err = NULL;
	int rc = prole_leader(&id, &addr, &err);

	free(addr);
	free(err);
	return rc < 0 || id != prole_node_id();
}

struct api_err *
pwrite_apply_text(const char *ops_json, xv **result)
{
	json_error_t jerr;
	struct api_err *e = NULL;

	json_t *doc = json_loads(ops_json, 0, &jerr);
	json_t *ops = json_object_get(doc, "ops");
	if (!json_is_array(ops)) {
		json_decref(doc);
		return api_internal("malformed forwarded write");
	}
	struct db_txn *t = db_txn_begin();
	for (size_t i = 0; i < json_array_size(ops) && !e; i++)
		e = pwrite_op(t, json_array_get(ops, i));
	json_decref(doc);
	if (e) {
		db_txn_abort(t);
		return e;
	}
	e = api_commit(t);
	if (e && pwrite_lost_lead()) {
		/* the lead moved while we committed: the sender retries
		 * with the new master (pwrite_retryable) */
		api_err_free(e);
		char *m = pool_master_address();
		e = api_error(XE_HOST_IS_SLAVE, m ? m : "", NULL);
		free(m);
	}
	if (e)
		return e;
	xv *st = xv_struct();
	xv_set(st, "epoch", xv_str(pfollow_epoch()));
	xv_set(
	    st, "generation",
	    xv_str_own(xasprintf("%llu", (unsigned long long)db_generation())));
	*result = st;
	return NULL;
}

static struct api_err *
pwrite_serve(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct api_err *e = NULL;

	(void)ctx;
	if (nargs != 2 || args[0]->type != XV_STRING ||
	    args[1]->type != XV_STRING)
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
		                 "pool.db_apply", "2", "?", NULL);
	if (!pool_secret_ok(args[0]->u.s))
		return api_error(XE_SESSION_AUTHENTICATION_FAILED, "pool",
		                 "bad pool secret", NULL);
	if (!pool_is_master()) {
		char *m = pool_master_address();
		e = api_error(XE_HOST_IS_SLAVE, m, NULL);
		free(m);
		return e;
	}
	return pwrite_apply_text(args[1]->u.s, result);
}

void
pwrite_register(void)
{
	api_register("pool.db_apply", pwrite_serve,
	             API_NO_SESSION | API_NO_ASYNC);
}
