/* pool_follow: the slaves' read replica of the store.
 *
 * Master side: pool.db_follow(secret, epoch, generation) answers, as JSON
 * text, the rows of persistent classes changed after generation (their
 * current form) and the refs deleted since, or every row (a full copy)
 * when the caller follows another epoch (master term) or has fallen out of
 * the change window. With nothing new it waits up to PFOLLOW_POLL_S.
 *
 * Slave side: one thread long-polls the master and applies each answer to
 * the store (db_apply_remote), then wakes writers waiting for their
 * forwarded change to come back (pfollow_wait). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/log.h"
#include "util/xalloc.h"

/* How long the master holds a follow call with nothing to send. */
#define PFOLLOW_POLL_S 20

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *master;     /* followed master (IP), NULL: not following */
	char epoch[40];   /* the followed master's epoch; "" before a copy */
	uint64_t gen;     /* its generation the replica has reached */
	uint64_t applied; /* count of answers applied */
	uint64_t restored; /* generation of a replica read back at start-up
	                      (pboot), until a copy from a master */
	bool started;
	time_t failing_since; /* monotonic s of the first failed call in a
				 row, 0 while calls succeed */
	time_t asking_since;  /* monotonic s the current call started, 0
	                         between calls */
	char my_epoch[40]; /* ours, as master */
} pf = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

const char *
pfollow_epoch(void)
{
	return pf.my_epoch;
}

void
pfollow_new_epoch(void)
{
	char *u = db_new_uuid();
	pthread_mutex_lock(&pf.lock);
	snprintf(pf.my_epoch, sizeof(pf.my_epoch), "%s", u);
	pthread_mutex_unlock(&pf.lock);
	free(u);
}

/* ---- master side ---- */

static void
pfollow_put(json_t *puts, const struct db_row *r)
{
	json_t *o = json_object();
	char *text = db_row_to_json(r);
	json_object_set_new(o, "cls", json_string(dm_classes[r->cls].name));
	json_object_set_new(o, "ref", json_string(r->ref));
	json_object_set_new(o, "row", json_string(text));
	free(text);
	json_array_append_new(puts, o);
}

/* Fills doc with the answer for a caller at gen; read lock held. Returns
 * the number of changes (rows + deletions), or -1 when a full copy is
 * needed. */
static long
pfollow_changes(json_t *puts, json_t *dels, uint64_t gen, uint64_t *latest)
{
	struct db_change *ch;
	size_t n;
	long cnt = 0;

	if (db_changes_since(gen, &ch, &n, latest) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!(dm_classes[ch[i].cls].flags & DMCF_PERSISTENT))
			continue;
		const struct db_row *r = db_get(ch[i].cls, ch[i].ref);
		if (ch[i].op == DB_DEL || !r) {
			json_t *o = json_object();
			json_object_set_new(
			    o, "cls", json_string(dm_classes[ch[i].cls].name));
			json_object_set_new(o, "ref", json_string(ch[i].ref));
			json_array_append_new(dels, o);
		} else {
			pfollow_put(puts, r);
		}
		cnt++;
	}
	db_changes_free(ch, n);
	return cnt;
}

static void
pfollow_full(json_t *puts, uint64_t *latest)
{
	*latest = db_generation();
	for (int c = 0; c < DMC__COUNT; c++) {
		if (!(dm_classes[c].flags & DMCF_PERSISTENT))
			continue;
		size_t n;
		struct db_row **rows = db_list(c, &n);
		for (size_t i = 0; i < n; i++)
			pfollow_put(puts, rows[i]);
		free(rows);
	}
}

char *
pfollow_dump(const char *epoch, uint64_t gen)
{
	json_t *doc = json_object(), *puts = json_array();
	uint64_t latest;

	db_rdlock();
	pfollow_full(puts, &latest);
	db_unlock();
	json_object_set_new(doc, "epoch", json_string(epoch));
	json_object_set_new(doc, "generation", json_integer((json_int_t)gen));
	json_object_set_new(doc, "full", json_true());
	json_object_set_new(doc, "puts", puts);
	json_object_set_new(doc, "dels", json_array());
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

static struct api_err *
pfollow_serve(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	if (nargs != 3 || args[0]->type != XV_STRING ||
	    args[1]->type != XV_STRING || args[2]->type != XV_STRING)
		return api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
		                 "pool.db_follow", "3", "?", NULL);
	if (!pool_secret_ok(args[0]->u.s))
		return api_error(XE_SESSION_AUTHENTICATION_FAILED, "pool",
		                 "bad pool secret", NULL);
	uint64_t gen = strtoull(args[2]->u.s, NULL, 10), latest = 0;
	bool full = gen == 0 || strcmp(args[1]->u.s, pf.my_epoch) != 0;
	json_t *puts = json_array(), *dels = json_array();
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (!pool_is_master()) {
			json_decref(puts);
			json_decref(dels);
			char *m = pool_master_address();
			struct api_err *e =
			    api_error(XE_HOST_IS_SLAVE, m, NULL);
			free(m);
			return e;
		}
		db_rdlock();
		long cnt =
		    full ? -1 : pfollow_changes(puts, dels, gen, &latest);
		if (cnt < 0) {
			full = true;
			pfollow_full(puts, &latest);
		}
		db_unlock();
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (full || cnt > 0 || now.tv_sec - t0.tv_sec >= PFOLLOW_POLL_S)
			break;
		/* only non-persistent changes (or none): move on, wait */
		gen = latest;
		db_wait(latest, 1.0);
	}
	json_t *doc = json_object();
	json_object_set_new(doc, "epoch", json_string(pf.my_epoch));
	json_object_set_new(doc, "generation",
	                    json_integer((json_int_t)latest));
	json_object_set_new(doc, "full", json_boolean(full));
	json_object_set_new(doc, "puts", puts);
	json_object_set_new(doc, "dels", dels);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	*result = xv_str_own(text);
	return NULL;
}

void
pfollow_register(void)
{
	api_register("pool.db_follow", pfollow_serve,
	             API_NO_SESSION | API_NO_ASYNC | API_READONLY);
}

/* ---- slave side ---- */

/* Applies one answer (JSON text) from master; returns 0 or -1, and *full:
 * whether it was a full copy. Called with pf.lock held, so that a change
 * of master cannot interleave. */
static int
pfollow_apply(const char *text, bool *full)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr);
	json_t *puts = json_object_get(doc, "puts");
	json_t *dels = json_object_get(doc, "dels");
	const char *epoch = json_string_value(json_object_get(doc, "epoch"));
	if (!doc || !json_is_array(puts) || !json_is_array(dels) || !epoch) {
		log_warn("pool", "follow: malformed answer from the master");
		json_decref(doc);
		return -1;
	}
	size_t np = json_array_size(puts), nd = json_array_size(dels), k = 0;
	struct db_row **rows = xcalloc(np + 1, sizeof(*rows));
	int *dcls = xcalloc(nd + 1, sizeof(int));
	char **drefs = xcalloc(nd + 1, sizeof(char *));
	for (size_t i = 0; i < np; i++) {
		json_t *o = json_array_get(puts, i);
		int c =
		    dm_class_find(json_string_value(json_object_get(o, "cls")));
		const char *ref = json_string_value(json_object_get(o, "ref"));
		const char *row = json_string_value(json_object_get(o, "row"));
		if (c < 0 || !ref || !row)
			continue;
		struct db_row *r = db_row_from_json(c, ref, row);
		if (r)
			rows[k++] = r;
	}
	size_t kd = 0;
	for (size_t i = 0; i < nd; i++) {
		json_t *o = json_array_get(dels, i);
		int c =
		    dm_class_find(json_string_value(json_object_get(o, "cls")));
		const char *ref = json_string_value(json_object_get(o, "ref"));
		if (c < 0 || !ref)
			continue;
		dcls[kd] = c;
		drefs[kd++] = xstrdup(ref);
	}
	*full = json_is_true(json_object_get(doc, "full"));
	if (k || kd || *full)
		db_apply_remote(rows, k, dcls, drefs, kd, *full);
	for (size_t i = 0; i < k; i++)
		db_row_free(rows[i]);
	for (size_t i = 0; i < kd; i++)
		free(drefs[i]);
	free(rows);
	free(dcls);
	free(drefs);
	snprintf(pf.epoch, sizeof(pf.epoch), "%s", epoch);
	pf.gen =
	    (uint64_t)json_integer_value(json_object_get(doc, "generation"));
	pf.applied++;
	pthread_cond_broadcast(&pf.cond);
	json_decref(doc);
	return 0;
}

uint64_t
pfollow_generation(void)
{
	pthread_mutex_lock(&pf.lock);
	uint64_t g = pf.epoch[0] ? pf.gen : pf.restored;
	pthread_mutex_unlock(&pf.lock);
	return g;
}

void
pfollow_restore(uint64_t gen)
{
	pthread_mutex_lock(&pf.lock);
	pf.restored = gen;
	pthread_mutex_unlock(&pf.lock);
}

uint64_t
pfollow_applied(void)
{
	pthread_mutex_lock(&pf.lock);
	uint64_t n = pf.applied;
	pthread_mutex_unlock(&pf.lock);
	return n;
}

bool
pfollow_lost(double after_s)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&pf.lock);
	bool lost =
	    !pf.master ||
	    (pf.failing_since &&
	     (double)(now.tv_sec - pf.failing_since) >= after_s) ||
	    /* the master holds a call PFOLLOW_POLL_S at most: one
	     * unanswered for longer went to a master cut off */
	    (pf.asking_since && (double)(now.tv_sec - pf.asking_since) >=
	                            PFOLLOW_POLL_S + 5 + after_s);
	pthread_mutex_unlock(&pf.lock);
	return lost;
}

int
pfollow_apply_text(const char *text)
{
	bool full;
	pthread_mutex_lock(&pf.lock);
	int rc = pfollow_apply(text, &full);
	pthread_mutex_unlock(&pf.lock);
	return rc;
}

static void *
pfollow_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&pf.lock);
		char *master = pf.master ? xstrdup(pf.master) : NULL;
		char epoch[40], gen[32];
		snprintf(epoch, sizeof(epoch), "%s", pf.epoch);
		snprintf(gen, sizeof(gen), "%llu", (unsigned long long)pf.gen);
		pthread_mutex_unlock(&pf.lock);
		if (!master) {
			usleep(100 * 1000);
			continue;
		}
		xv *params = xv_array(), *res = NULL;
		xv_push(params, xv_str(pool_secret()));
		xv_push(params, xv_str(epoch));
		xv_push(params, xv_str(gen));
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pthread_mutex_lock(&pf.lock);
		pf.asking_since = t0.tv_sec ? t0.tv_sec : 1;
		pthread_mutex_unlock(&pf.lock);
		struct api_err *e =
		    plink_call(master, "pool.db_follow", params, false,
		               (PFOLLOW_POLL_S + 30) * 1000, &res);
		xv_free(params);
		int ok = -1;
		pthread_mutex_lock(&pf.lock);
		pf.asking_since = 0;
		/* an answer from a master we no longer follow is dropped */
		bool full = false;
		if (!e && res && res->type == XV_STRING && pf.master &&
		    strcmp(pf.master, master) == 0)
			ok = pfollow_apply(res->u.s, &full);
		/* kept on disk, in the same order (pool_boot.c) */
		if (ok == 0)
			pboot_journal(master, res->u.s, full, pf.epoch, pf.gen);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (ok == 0)
			pf.failing_since = 0;
		else if (!pf.failing_since)
			/* failing since the call began (it may have hung) */
			pf.failing_since = t0.tv_sec ? t0.tv_sec : 1;
		pthread_mutex_unlock(&pf.lock);
		if (e)
			log_debug("pool", "follow %s: %s", master, e->code);
		api_err_free(e);
		xv_free(res);
		free(master);
		if (ok < 0)
			usleep(200 * 1000);
	}
	return NULL;
}

void
pfollow_set_master(const char *address)
{
	pthread_mutex_lock(&pf.lock);
	if (!address || !pf.master || strcmp(address, pf.master) != 0) {
		free(pf.master);
		pf.master = address ? xstrdup(address) : NULL;
		pf.failing_since = 0;
		pf.epoch[0] = '\0'; /* a full copy from the new one */
		pf.gen = 0;
		pthread_cond_broadcast(&pf.cond);
	}
	if (!pf.started) {
		pthread_t th;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, pfollow_main, NULL) == 0)
			pf.started = true;
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_unlock(&pf.lock);
}

static void
pfollow_deadline(struct timespec *ts, double s)
{
	clock_gettime(CLOCK_REALTIME, ts);
	long long ns = ts->tv_nsec + (long long)((s - (long long)s) * 1e9);
	ts->tv_sec += (time_t)s + (time_t)(ns / 1000000000LL);
	ts->tv_nsec = ns % 1000000000LL;
}

int
pfollow_wait(const char *epoch, uint64_t gen, double timeout_s)
{
	struct timespec ts;
	int r = 0;

	pfollow_deadline(&ts, timeout_s);
	pthread_mutex_lock(&pf.lock);
	uint64_t start = pf.applied;
	for (;;) {
		if (strcmp(pf.epoch, epoch) == 0
		        ? pf.gen >= gen
		        : pf.applied > start && pf.epoch[0]) {
			r = 1;
			break;
		}
		if (pthread_cond_timedwait(&pf.cond, &pf.lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&pf.lock);
	return r;
}

int
pfollow_wait_initial(double timeout_s)
{
	struct timespec ts;
	int r = -1;

	pfollow_deadline(&ts, timeout_s);
	pthread_mutex_lock(&pf.lock);
	for (;;) {
		if (pf.epoch[0]) {
			r = 0;
			break;
		}
		if (pthread_cond_timedwait(&pf.cond, &pf.lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&pf.lock);
	return r;
}
