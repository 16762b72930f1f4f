/* pool_gate: the gate of API calls on a slave (HOST_IS_SLAVE, forwarding
 * to the master), the /cli relay, the internal session.slave_login and
 * host.is_in_emergency_mode. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* ---- the gate of API calls on a slave ---- */

/* Calls that run on a slave itself. */
static const char *const pgate_here[] = {
    "session.slave_login",
    "session.slave_local_login_with_password",
    "session.local_logout",
    "pool.db_follow",
    "pool.db_apply",
    "pool.eject_self",
    "host.is_in_emergency_mode",
    "pool.emergency_transition_to_master",
    "pool.emergency_reset_master",
    "pool.leader",
    "system.listMethods",
};

bool
pool_gate(struct api_ctx *ctx, const char *method, const xv *params,
          xv **result, struct api_err **err)
{
	const char *name =
	    strncmp(method, "Async.", 6) == 0 ? method + 6 : method;
	char *m;

	if (!pool_ready() || pool_is_master())
		return false;
	for (size_t i = 0; i < sizeof(pgate_here) / sizeof(pgate_here[0]); i++)
		if (strcmp(name, pgate_here[i]) == 0)
			return false;
	bool mine = false, internal = false;
	if (params && params->type == XV_ARRAY && params->u.a.n &&
	    params->u.a.items[0]->type == XV_STRING) {
		db_rdlock();
		struct db_row *s =
		    db_get(DMC_session, params->u.a.items[0]->u.s);
		mine = s != NULL;
		internal = s && s->f[DMF_session_pool].b;
		db_unlock();
	}
	/* emergency mode: xapi refuses every other call with the error it
	 * stashed (the pool's own internal sessions go on) */
	if (!internal && pemerg_active()) {
		*err = api_error(XE_HOST_STILL_BOOTING, NULL);
		return true;
	}
	/* sessions made here (slave_login) stay here */
	if (mine)
		return false;
	m = pool_master_address();
	if (ctx->local && *m) {
		*err = plink_call(m, method, params, true, POOL_CALL_TIMEOUT_MS,
		                  result);
	} else {
		*err = api_error(XE_HOST_IS_SLAVE, m, NULL);
	}
	free(m);
	return true;
}

int
pool_cli_relay(const char *body, size_t len, bool local)
{
	char *m = prole_master(), *err = NULL;
	struct xe_conn c;
	int status = 0;
	long long clen;

	if (!m)
		return -1;
	if (plink_request(
	        &c, m, "POST", "/cli",
	        local ? "Connection: Upgrade\r\nUpgrade: "
	                "xe-cli/0.2\r\n" POOL_LOCAL_HEADER ": 1\r\n"
	              : "Connection: Upgrade\r\nUpgrade: xe-cli/0.2\r\n",
	        body, len, &err) < 0 ||
	    plink_read_head(&c, &status, &clen, POOL_CONNECT_TIMEOUT_MS, &err) <
	        0 ||
	    status != 101) {
		log_warn("pool", "xe relay to %s: %s (HTTP %d)", m,
		         err ? err : "refused", status);
		free(err);
		free(m);
		if (status)
			xe_conn_close(&c);
		return -1;
	}
	free(m);
	return plink_relay(&c);
}

/* ---- registration ---- */

/* session.slave_login(host, secret): an internal session on this host. */
static struct api_err *
pgate_slave_login(struct api_ctx *ctx, xv *const *args, size_t nargs,
                  xv **result)
{
	if (nargs != 2 || args[1]->type != XV_STRING ||
	    !pool_secret_ok(args[1]->u.s))
		return api_error(XE_SESSION_AUTHENTICATION_FAILED, "", "",
		                 NULL);
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_session, NULL, NULL);
	int64_t now = (int64_t)time(NULL);
	db_txn_set(t, r, DMF_session_this_host,
	           (union dm_val){.s = xstrdup(prole_host_ref())});
	db_txn_set(t, r, DMF_session_last_active, (union dm_val){.i = now});
	db_txn_set(t, r, DMF_session_validation_time, (union dm_val){.i = now});
	db_txn_set(t, r, DMF_session_pool, (union dm_val){.b = true});
	db_txn_set(t, r, DMF_session_is_local_superuser,
	           (union dm_val){.b = true});
	db_txn_set(t, r, DMF_session_auth_user_name,
	           (union dm_val){.s = xstrdup("root")});
	char *ref = xstrdup(r->ref);
	struct api_err *e = api_commit(t);
	if (e) {
		free(ref);
		return e;
	}
	free(ctx->user);
	ctx->user = xstrdup("root");
	*result = xv_str_own(ref);
	return NULL;
}

/* host.is_in_emergency_mode: a slave whose master has not answered for
 * PEMERG_AFTER_S (it is gone and the rest cannot elect one, as in a
 * two-host pool whose master died, or this host is cut off). */
static struct api_err *
pgate_emergency(struct api_ctx *ctx, xv *const *args, size_t nargs,
                xv **result)
{
	(void)ctx;
	(void)args;
	(void)nargs;
	*result = xv_bool(pemerg_active());
	return NULL;
}

void
pgate_register(void)
{
	api_register("session.slave_login", pgate_slave_login,
	             API_NO_SESSION | API_NO_ASYNC);
	api_register("host.is_in_emergency_mode", pgate_emergency,
	             API_NO_ASYNC | API_READONLY);
	/* sessions and tasks of the master used on a slave */
	premote_start();
}
