/* pool_remote: the master's sessions and tasks seen from a slave (they are
 * not replicated; xapi's slaves read them from the master's database).
 * Master side: pool.session_user(secret, session) and pool.task_update(
 * secret, task, update); slave side: the api_remote_ops of the dispatcher,
 * with small caches so that a transfer does not call the master for every
 * block it reads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "rpc/api_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Bound of one call to the master (it answers from memory). */
#define PREMOTE_CALL_MS 15000
/* How long a session the master confirmed is taken as valid (s): a logout
 * on the master is seen here this much later at worst. */
#define PREMOTE_SESSION_TTL 10.0
/* Progress is sent (and a cancel looked for) at most this often (s). */
#define PREMOTE_TASK_EVERY 1.0
#define PREMOTE_NSESS 16
#define PREMOTE_NTASK 32

struct premote_sess {
	char *ref, *user;
	double until;
};

struct premote_task {
	char *ref;
	double last; /* when the master was last asked */
	int state;   /* what it said: 1 cancelling, 0 not, -1 no such task */
};

static struct {
	pthread_mutex_t lock;
	struct premote_sess sess[PREMOTE_NSESS];
	struct premote_task task[PREMOTE_NTASK];
} pr_rem = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double
premote_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The master to ask, or NULL when this host is the master (or has none). */
static char *
premote_master(void)
{
	if (!pool_ready() || pool_is_master())
		return NULL;
	char *m = pool_master_address();
	if (!*m) {
		free(m);
		return NULL;
	}
	return m;
}

/* ---- master side ---- */

static struct api_err *
premote_check_args(const char *method, xv *const *args, size_t nargs,
                   size_t want)
{
	if (nargs != want || args[0]->type != XV_STRING ||
	    args[1]->type != XV_STRING)
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH, method,
		                 want == 2 ? "2" : "3", "?", NULL);
	if (!pool_secret_ok(args[0]->u.s))
		return api_error(XE_SESSION_AUTHENTICATION_FAILED, "pool",
		                 "bad pool secret", NULL);
	if (!pool_is_master()) {
		char *m = pool_master_address();
		struct api_err *e = api_error(XE_HOST_IS_SLAVE, m, NULL);
		free(m);
		return e;
	}
	return NULL;
}

/* pool.session_user(secret, session): the session's user name. */
static struct api_err *
premote_serve_session(struct api_ctx *ctx, xv *const *args, size_t nargs,
                      xv **result)
{
	(void)ctx;
	struct api_err *e =
	    premote_check_args("pool.session_user", args, nargs, 2);
	if (e)
		return e;
	db_rdlock();
	const struct db_row *s = db_get(DMC_session, args[1]->u.s);
	char *user = s ? xstrdup(s->f[DMF_session_auth_user_name].s) : NULL;
	db_unlock();
	if (!user)
		return api_error(XE_SESSION_INVALID, args[1]->u.s, NULL);
	*result = xv_str_own(user);
	return NULL;
}

/* pool.task_update(secret, task, {progress?, done?, result?, error?}):
 * whether the task is being cancelled. */
static struct api_err *
premote_serve_task(struct api_ctx *ctx, xv *const *args, size_t nargs,
                   xv **result)
{
	(void)ctx;
	struct api_err *e =
	    premote_check_args("pool.task_update", args, nargs, 3);
	if (e)
		return e;
	const char *task = args[1]->u.s;
	db_rdlock();
	bool known = db_get(DMC_task, task) != NULL;
	db_unlock();
	if (!known)
		return api_error(XE_HANDLE_INVALID, "task", task, NULL);
	const xv *u = args[2]->type == XV_STRUCT ? args[2] : NULL;
	const xv *p = u ? xv_get(u, "progress") : NULL;
	const xv *done = u ? xv_get(u, "done") : NULL;
	const xv *err = u ? xv_get(u, "error") : NULL;
	if (done && done->type == XV_BOOL && done->u.b) {
		struct api_err *te = NULL;
		if (err && err->type == XV_ARRAY && err->u.a.n &&
		    err->u.a.items[0]->type == XV_STRING) {
			size_t n = err->u.a.n - 1;
			const char **ps = xcalloc(n + 1, sizeof(char *));
			for (size_t i = 0; i < n; i++)
				ps[i] = err->u.a.items[i + 1]->type == XV_STRING
				            ? err->u.a.items[i + 1]->u.s
				            : "";
			te = api_error_raw(err->u.a.items[0]->u.s, ps, n);
			free(ps);
		}
		task_finish(task, u ? xv_get(u, "result") : NULL, te);
		api_err_free(te);
	} else if (p && (p->type == XV_FLOAT || p->type == XV_INT)) {
		task_set_progress(task, p->type == XV_FLOAT ? p->u.f
		                                            : (double)p->u.i);
	}
	*result = xv_bool(task_cancelling(task));
	return NULL;
}

static void
premote_register(void)
{
	api_register("pool.session_user", premote_serve_session,
	             API_NO_SESSION | API_NO_ASYNC | API_READONLY);
	api_register("pool.task_update", premote_serve_task,
	             API_NO_SESSION | API_NO_ASYNC | API_READONLY);
}

/* ---- slave side ---- */

static char *
premote_session_user(const char *ref, struct api_err **err)
{
	double now = premote_now();
	char *user = NULL;

	pthread_mutex_lock(&pr_rem.lock);
	for (size_t i = 0; i < PREMOTE_NSESS && !user; i++)
		if (pr_rem.sess[i].ref &&
		    strcmp(pr_rem.sess[i].ref, ref) == 0 &&
		    pr_rem.sess[i].until > now)
			user = xstrdup(pr_rem.sess[i].user);
	pthread_mutex_unlock(&pr_rem.lock);
	if (user)
		return user;
	char *m = premote_master();
	if (!m)
		return NULL;
	xv *params = xv_array(), *res = NULL;
	xv_push(params, xv_str(pool_secret()));
	xv_push(params, xv_str(ref));
	struct api_err *e = plink_call(m, "pool.session_user", params, false,
	                               PREMOTE_CALL_MS, &res);
	xv_free(params);
	free(m);
	if (e || !res || res->type != XV_STRING) {
		/* whatever the reason, the session cannot be used here */
		if (e && strcmp(e->code, "SESSION_INVALID") != 0)
			log_warn("pool",
			         "checking a session with the master: %s",
			         e->code);
		api_err_free(e);
		xv_free(res);
		*err = api_error(XE_SESSION_INVALID, ref, NULL);
		return NULL;
	}
	user = xstrdup(res->u.s);
	xv_free(res);
	/* cached in the slot that expires first */
	pthread_mutex_lock(&pr_rem.lock);
	size_t k = 0;
	for (size_t i = 1; i < PREMOTE_NSESS; i++)
		if (pr_rem.sess[i].until < pr_rem.sess[k].until)
			k = i;
	free(pr_rem.sess[k].ref);
	free(pr_rem.sess[k].user);
	pr_rem.sess[k].ref = xstrdup(ref);
	pr_rem.sess[k].user = xstrdup(user);
	pr_rem.sess[k].until = now + PREMOTE_SESSION_TTL;
	pthread_mutex_unlock(&pr_rem.lock);
	return user;
}

/* The cache slot of task (made, the oldest replaced, when absent). Lock
 * held. */
static struct premote_task *
premote_task_slot(const char *task, bool *fresh)
{
	size_t k = 0;
	for (size_t i = 0; i < PREMOTE_NTASK; i++) {
		if (pr_rem.task[i].ref &&
		    strcmp(pr_rem.task[i].ref, task) == 0) {
			*fresh = false;
			return &pr_rem.task[i];
		}
		if (pr_rem.task[i].last < pr_rem.task[k].last)
			k = i;
	}
	free(pr_rem.task[k].ref);
	pr_rem.task[k].ref = xstrdup(task);
	pr_rem.task[k].last = 0;
	pr_rem.task[k].state = 0;
	*fresh = true;
	return &pr_rem.task[k];
}

static int
premote_task_update(const char *task, double progress, bool done,
                    const xv *result, const struct api_err *err)
{
	double now = premote_now();
	bool fresh;
	int state;

	pthread_mutex_lock(&pr_rem.lock);
	struct premote_task *t = premote_task_slot(task, &fresh);
	state = t->state;
	bool ask = done || fresh || now - t->last >= PREMOTE_TASK_EVERY;
	if (ask)
		t->last = now;
	pthread_mutex_unlock(&pr_rem.lock);
	if (!ask || (state < 0 && !fresh))
		return state;
	char *m = premote_master();
	if (!m)
		return -1;
	xv *u = xv_struct(), *params = xv_array(), *res = NULL;
	if (done) {
		xv_set(u, "done", xv_bool(true));
		if (result)
			xv_set(u, "result", xv_dup(result));
		if (err) {
			xv *ea = xv_array();
			xv_push(ea, xv_str(err->code));
			for (size_t i = 0; i < err->n; i++)
				xv_push(ea, xv_str(err->params[i]));
			xv_set(u, "error", ea);
		}
	} else if (progress >= 0) {
		xv_set(u, "progress", xv_float(progress));
	}
	xv_push(params, xv_str(pool_secret()));
	xv_push(params, xv_str(task));
	xv_push(params, u);
	struct api_err *e = plink_call(m, "pool.task_update", params, false,
	                               PREMOTE_CALL_MS, &res);
	xv_free(params);
	free(m);
	if (e) {
		/* no such task there (or the master is not answering): this
		 * host's own work goes on without it */
		state = strcmp(e->code, "HANDLE_INVALID") == 0 ? -1 : state;
		if (state >= 0)
			log_warn("pool", "updating task %s on the master: %s",
			         task, e->code);
		api_err_free(e);
	} else {
		state = res && res->type == XV_BOOL && res->u.b ? 1 : 0;
	}
	xv_free(res);
	pthread_mutex_lock(&pr_rem.lock);
	t = premote_task_slot(task, &fresh);
	t->state = state;
	t->last = now;
	if (done) { /* the task is over: its slot is free */
		free(t->ref);
		t->ref = NULL;
		t->last = 0;
	}
	pthread_mutex_unlock(&pr_rem.lock);
	return state;
}

static const struct api_remote_ops premote_ops = {
    .session_user = premote_session_user,
    .task_update = premote_task_update,
};

void
premote_start(void)
{
	premote_register();
	api_set_remote(&premote_ops);
}
