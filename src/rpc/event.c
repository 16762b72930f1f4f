/* event: event.from / event.next / event.inject over the store's change
 * window. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "rpc/api_int.h"
#include "util/htab.h"
#include "util/xalloc.h"

/* A subscription: per class, everything or a set of refs. */
struct event_sub {
	bool all;
	bool cls[DMC__COUNT];
	struct htab refs; /* "cls/ref" keys of single objects */
	char **keys;
	size_t nkeys;
};

static void
event_sub_free(struct event_sub *s)
{
	htab_free(&s->refs);
	for (size_t i = 0; i < s->nkeys; i++)
		free(s->keys[i]);
	free(s->keys);
}

static struct api_err *
event_sub_parse(const xv *classes, struct event_sub *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < classes->u.a.n; i++) {
		const char *c = classes->u.a.items[i]->u.s;
		const char *slash = strchr(c, '/');
		if (strcmp(c, "*") == 0) {
			s->all = true;
			continue;
		}
		char *name =
		    slash ? xstrndup(c, (size_t)(slash - c)) : xstrdup(c);
		int k = dm_class_find_ci(name);
		free(name);
		if (k < 0 || !(dm_classes[k].flags & DMCF_TABLE)) {
			event_sub_free(s);
			return api_error(XE_EVENT_SUBSCRIPTION_PARSE_FAILURE, c,
			                 NULL);
		}
		if (!slash) {
			s->cls[k] = true;
			continue;
		}
		char *key = xasprintf("%d/%s", k, slash + 1);
		s->keys = xrealloc(s->keys, (s->nkeys + 1) * sizeof(char *));
		s->keys[s->nkeys++] = key;
		htab_put(&s->refs, key, key);
	}
	return NULL;
}

static bool
event_sub_match(const struct event_sub *s, int cls, const char *ref)
{
	if (s->all || s->cls[cls])
		return true;
	if (!s->nkeys)
		return false;
	char key[256];
	snprintf(key, sizeof(key), "%d/%s", cls, ref);
	return htab_get(&s->refs, key) != NULL;
}

static const char *
event_op_name(enum db_op op)
{
	return op == DB_ADD ? "add" : op == DB_DEL ? "del" : "mod";
}

static xv *
event_record(uint64_t id, int cls, enum db_op op, const char *ref,
             const struct db_row *row)
{
	xv *e = xv_struct();
	xv_set(e, "id", xv_int((int64_t)id));
	xv_set(e, "timestamp", xv_strf("%lld.0", (long long)time(NULL)));
	xv_set(e, "class", xv_str(dm_classes[cls].lower));
	xv_set(e, "operation", xv_str(event_op_name(op)));
	xv_set(e, "ref", xv_str(ref));
	if (row && op != DB_DEL)
		xv_set(e, "snapshot", api_record(row));
	return e;
}

/* Tokens are "<generation>,<epoch>". The epoch names this run of the
 * daemon: generations of changes that are not durable (sessions, tasks) are
 * not kept across a restart, so a token of an earlier run cannot be placed in
 * this one's history and gets EVENTS_LOST (the client reloads). */
static uint64_t event_epoch;

/* The token for generation gen of this run. */
static xv *
event_token(uint64_t gen)
{
	return xv_strf("%020llu,%020llu", (unsigned long long)gen,
	               (unsigned long long)event_epoch);
}

/* Parses a token: 0 with *gen (UINT64_MAX for ""), 1 if it belongs to another
 * run of the daemon, -1 if malformed. A bare generation is taken as ours. */
static int
event_parse_token(const char *tok, uint64_t *gen)
{
	char *end;
	if (!*tok) {
		*gen = UINT64_MAX; /* from the beginning */
		return 0;
	}
	unsigned long long g = strtoull(tok, &end, 10);
	if (end == tok || (*end && *end != ','))
		return -1;
	*gen = g;
	if (!*end)
		return 0;
	const char *e = end + 1;
	unsigned long long epoch = strtoull(e, &end, 10);
	if (end == e || *end)
		return -1;
	return epoch == event_epoch ? 0 : 1;
}

/* Collects the events after gen matching sub; -1 if gen left the window. */
static int
event_collect(const struct event_sub *sub, uint64_t gen, xv *events,
              uint64_t *latest)
{
	if (gen == UINT64_MAX) {
		/* every live object, as adds */
		*latest = db_generation();
		for (int c = 0; c < DMC__COUNT; c++) {
			if (!(dm_classes[c].flags & DMCF_TABLE))
				continue;
			if (!sub->all && !sub->cls[c] && !sub->nkeys)
				continue;
			size_t n;
			struct db_row **rows = db_list(c, &n);
			for (size_t i = 0; i < n; i++)
				if (event_sub_match(sub, c, rows[i]->ref))
					xv_push(events,
					        event_record(
					            rows[i]->mtime, c, DB_ADD,
					            rows[i]->ref, rows[i]));
			free(rows);
		}
		return 0;
	}
	struct db_change *ch;
	size_t n;
	if (db_changes_since(gen, &ch, &n, latest) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!event_sub_match(sub, ch[i].cls, ch[i].ref))
			continue;
		struct db_row *row = db_get(ch[i].cls, ch[i].ref);
		if (!row && ch[i].op != DB_DEL)
			continue;
		xv_push(events, event_record(ch[i].gen, ch[i].cls, ch[i].op,
		                             ch[i].ref, row));
	}
	db_changes_free(ch, n);
	return 0;
}

static double
event_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits for events; 0 with events filled, or an error. */
static struct api_err *
event_wait_collect(const struct event_sub *sub, uint64_t gen, double timeout,
                   xv *events, uint64_t *latest)
{
	double deadline = event_now() + (timeout > 0 ? timeout : 0);
	for (;;) {
		db_rdlock();
		int r = event_collect(sub, gen, events, latest);
		db_unlock();
		if (r < 0)
			return api_error(XE_EVENTS_LOST, NULL);
		if (events->u.a.n)
			return NULL;
		double left = deadline - event_now();
		if (left <= 0)
			return NULL;
		db_wait(*latest, left);
		gen = *latest;
	}
}

static struct api_err *
event_from(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	struct event_sub sub;
	uint64_t gen, latest = 0;
	double timeout = args[2]->type == XV_FLOAT ? args[2]->u.f
	                 : args[2]->type == XV_INT ? (double)args[2]->u.i
	                                           : 0;
	(void)ctx;
	(void)nargs;
	int tok = event_parse_token(args[1]->u.s, &gen);
	if (tok < 0)
		return api_error(XE_EVENT_FROM_TOKEN_PARSE_FAILURE,
		                 args[1]->u.s, NULL);
	if (tok > 0)
		return api_error(XE_EVENTS_LOST, NULL);
	struct api_err *err = event_sub_parse(args[0], &sub);
	if (err)
		return err;
	if (timeout > 3600)
		timeout = 3600;
	xv *events = xv_array();
	err = event_wait_collect(&sub, gen, timeout, events, &latest);
	event_sub_free(&sub);
	if (err) {
		xv_free(events);
		return err;
	}
	xv *counts = xv_struct();
	db_rdlock();
	for (int c = 0; c < DMC__COUNT; c++)
		if (dm_classes[c].flags & DMCF_TABLE)
			xv_set(counts, dm_classes[c].lower,
			       xv_i4((int32_t)db_count(c)));
	db_unlock();
	xv *res = xv_struct();
	xv_set(res, "events", events);
	xv_set(res, "valid_ref_counts", counts);
	xv_set(res, "token", event_token(latest));
	*result = res;
	return NULL;
}

static struct api_err *
event_inject(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	int c = dm_class_find_ci(args[0]->u.s);
	if (c < 0 || !(dm_classes[c].flags & DMCF_TABLE))
		return api_error(XE_EVENT_SUBSCRIPTION_PARSE_FAILURE,
		                 args[0]->u.s, NULL);
	struct db_txn *t = db_txn_begin();
	uint64_t before = db_generation();
	if (db_txn_touch(t, c, args[1]->u.s) < 0) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, dm_classes[c].name,
		                 args[1]->u.s, NULL);
	}
	struct api_err *err = api_commit(t);
	if (err)
		return err;
	*result = event_token(before);
	return NULL;
}

static struct api_err *
event_get_current_id(struct api_ctx *ctx, xv *const *args, size_t nargs,
                     xv **result)
{
	(void)ctx;
	(void)args;
	(void)nargs;
	*result = xv_int((int64_t)db_generation());
	return NULL;
}

/* Legacy event.register / event.next / event.unregister, per session. */
struct event_reg {
	char *session;
	struct event_sub sub;
	uint64_t gen;
	bool used;
};

static pthread_mutex_t event_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct htab event_regs;

static struct api_err *
event_api_register(struct api_ctx *ctx, xv *const *args, size_t nargs,
                   xv **result)
{
	struct event_sub sub;
	(void)nargs;
	(void)result;
	struct api_err *err = event_sub_parse(args[0], &sub);
	if (err)
		return err;
	pthread_mutex_lock(&event_reg_lock);
	struct event_reg *r = htab_get(&event_regs, ctx->session);
	if (r) {
		event_sub_free(&r->sub);
	} else {
		r = xcalloc(1, sizeof(*r));
		r->session = xstrdup(ctx->session);
		htab_put(&event_regs, r->session, r);
		r->gen = db_generation();
	}
	r->sub = sub;
	pthread_mutex_unlock(&event_reg_lock);
	return NULL;
}

static struct api_err *
event_api_unregister(struct api_ctx *ctx, xv *const *args, size_t nargs,
                     xv **result)
{
	(void)args;
	(void)nargs;
	(void)result;
	pthread_mutex_lock(&event_reg_lock);
	struct event_reg *r = htab_del(&event_regs, ctx->session);
	pthread_mutex_unlock(&event_reg_lock);
	if (r) {
		event_sub_free(&r->sub);
		free(r->session);
		free(r);
	}
	return NULL;
}

static struct api_err *
event_api_next(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)args;
	(void)nargs;
	pthread_mutex_lock(&event_reg_lock);
	struct event_reg *r = htab_get(&event_regs, ctx->session);
	if (!r || r->used) {
		pthread_mutex_unlock(&event_reg_lock);
		return api_error(XE_SESSION_NOT_REGISTERED, ctx->session, NULL);
	}
	r->used = true; /* one event.next per session at a time */
	struct event_sub sub = r->sub;
	uint64_t gen = r->gen, latest = gen;
	pthread_mutex_unlock(&event_reg_lock);

	xv *events = xv_array();
	struct api_err *err = NULL;
	while (!events->u.a.n && !err)
		err = event_wait_collect(&sub, gen, 30, events, &latest);

	pthread_mutex_lock(&event_reg_lock);
	r->used = false;
	r->gen = latest;
	pthread_mutex_unlock(&event_reg_lock);
	if (err) {
		xv_free(events);
		return err;
	}
	*result = events;
	return NULL;
}

void
event_register(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	event_epoch =
	    (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
	api_register("event.from", event_from, API_READONLY | API_NO_ASYNC);
	api_register("event.inject", event_inject, API_READONLY | API_NO_ASYNC);
	api_register("event.get_current_id", event_get_current_id,
	             API_READONLY | API_NO_ASYNC);
	api_register("event.register", event_api_register,
	             API_READONLY | API_NO_ASYNC);
	api_register("event.unregister", event_api_unregister,
	             API_READONLY | API_NO_ASYNC);
	api_register("event.next", event_api_next, API_READONLY | API_NO_ASYNC);
}
