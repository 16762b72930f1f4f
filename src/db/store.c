/* store: in-memory tables, write transactions, the change window for events. */
#include "db/store.h"
#include "db/store_int.h"
#include "db/persist.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/htab.h"
#include "util/log.h"
#include "util/xalloc.h"

struct db_state db = {
	.rw = PTHREAD_RWLOCK_INITIALIZER,
	.writer = PTHREAD_MUTEX_INITIALIZER,
	.ev_lock = PTHREAD_MUTEX_INITIALIZER,
	.ev_cond = PTHREAD_COND_INITIALIZER,
};

struct db_txn_ent {
	int cls;
	struct db_row *row; /* new version; NULL: deleted */
	const struct db_row *old; /* committed version; NULL: created */
	bool touched;
};

struct db_txn {
	struct db_txn_ent *ents;
	size_t n, cap;
};

void
db_index(struct db_row *r)
{
	struct db_table *t = &db.tables[r->cls];
	int fu = dm_classes[r->cls].f_uuid;
	htab_put(&t->by_ref, r->ref, r);
	if (fu >= 0 && r->f[fu].s && *r->f[fu].s)
		htab_put(&t->by_uuid, r->f[fu].s, r);
}

void
db_unindex(struct db_row *r)
{
	struct db_table *t = &db.tables[r->cls];
	int fu = dm_classes[r->cls].f_uuid;
	htab_del(&t->by_ref, r->ref);
	if (fu >= 0 && r->f[fu].s && htab_get(&t->by_uuid, r->f[fu].s) == r)
		htab_del(&t->by_uuid, r->f[fu].s);
}

static int
db_load_row(void *ctx, const char *cls, const char *ref, const char *data)
{
	int c = dm_class_find(cls);
	(void)ctx;
	if (c < 0 || !(dm_classes[c].flags & DMCF_TABLE)) {
		log_warn("db", "skipping row %s of unknown class %s", ref, cls);
		return 0;
	}
	struct db_row *r = db_row_from_json(c, ref, data);
	if (!r)
		return 0;
	struct db_row *old = htab_get(&db.tables[c].by_ref, r->ref);
	if (old) {
		db_unindex(old);
		db_row_free(old);
	}
	db_index(r);
	return 0;
}

int
db_open(struct persist *p, char **err)
{
	uint64_t gen = 0;
	db.persist = p;
	if (!db.log)
		db.log = xcalloc(DB_LOG_MAX, sizeof(*db.log));
	if (p && persist_load(p, db_load_row, NULL, &gen, err) < 0)
		return -1;
	db.generation = gen;
	db.log_start = gen;
	return 0;
}

void
db_log_clear(void)
{
	for (size_t i = 0; i < db.log_n; i++)
		free(db.log[(db.log_head + i) % DB_LOG_MAX].ref);
	db.log_n = 0;
	db.log_head = 0;
}

static void
db_drop_tables(void)
{
	for (int c = 0; c < DMC__COUNT; c++) {
		struct db_table *t = &db.tables[c];
		size_t pos = 0;
		struct db_row *r;
		while ((r = htab_next(&t->by_ref, &pos)))
			db_row_free(r);
		htab_free(&t->by_ref);
		htab_free(&t->by_uuid);
	}
}

void
db_close(void)
{
	pthread_rwlock_wrlock(&db.rw);
	db_drop_tables();
	db_log_clear();
	free(db.log);
	db.log = NULL;
	persist_close(db.persist);
	db.persist = NULL;
	pthread_rwlock_unlock(&db.rw);
}

void
db_rdlock(void)
{
	pthread_rwlock_rdlock(&db.rw);
}

void
db_unlock(void)
{
	pthread_rwlock_unlock(&db.rw);
}

struct db_row *
db_get(int cls, const char *ref)
{
	if (cls < 0 || cls >= DMC__COUNT || !ref)
		return NULL;
	return htab_get(&db.tables[cls].by_ref, ref);
}

struct db_row *
db_get_by_uuid(int cls, const char *uuid)
{
	if (cls < 0 || cls >= DMC__COUNT || !uuid)
		return NULL;
	return htab_get(&db.tables[cls].by_uuid, uuid);
}

int
db_ref_class(const char *ref)
{
	for (int c = 0; c < DMC__COUNT; c++)
		if (htab_get(&db.tables[c].by_ref, ref))
			return c;
	return -1;
}

size_t
db_count(int cls)
{
	return db.tables[cls].by_ref.n;
}

static int
db_row_order(const void *a, const void *b)
{
	const struct db_row *x = *(const struct db_row *const *)a;
	const struct db_row *y = *(const struct db_row *const *)b;
	if (x->ctime != y->ctime)
		return x->ctime < y->ctime ? -1 : 1;
	return strcmp(x->ref, y->ref);
}

struct db_row **
db_list(int cls, size_t *n)
{
	struct db_table *t = &db.tables[cls];
	struct db_row **v = xmalloc((t->by_ref.n + 1) * sizeof(*v));
	size_t pos = 0, i = 0;
	struct db_row *r;
	while ((r = htab_next(&t->by_ref, &pos)))
		v[i++] = r;
	qsort(v, i, sizeof(*v), db_row_order);
	*n = i;
	return v;
}

uint64_t
db_generation(void)
{
	return db.generation;
}

uint64_t
db_window_start(void)
{
	return db.log_start;
}

/* ---- transactions ---- */

static int db_txn_commit_local(struct db_txn *t, char **err);

struct db_txn *
db_txn_begin(void)
{
	pthread_mutex_lock(&db.writer);
	return xcalloc(1, sizeof(struct db_txn));
}

static struct db_txn_ent *
db_txn_find(struct db_txn *t, int cls, const char *ref)
{
	for (size_t i = 0; i < t->n; i++) {
		struct db_txn_ent *e = &t->ents[i];
		const char *r = e->row ? e->row->ref : e->old->ref;
		if (e->cls == cls && strcmp(r, ref) == 0)
			return e;
	}
	return NULL;
}

static struct db_txn_ent *
db_txn_add(struct db_txn *t)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 8;
		t->ents = xrealloc(t->ents, t->cap * sizeof(*t->ents));
	}
	memset(&t->ents[t->n], 0, sizeof(t->ents[0]));
	return &t->ents[t->n++];
}

struct db_row *
db_txn_create(struct db_txn *t, int cls, const char *ref, const char *uuid)
{
	struct db_txn_ent *e = db_txn_add(t);
	e->cls = cls;
	e->row = db_row_new(cls, ref, uuid);
	return e->row;
}

struct db_row *
db_txn_edit(struct db_txn *t, int cls, const char *ref)
{
	struct db_txn_ent *e = db_txn_find(t, cls, ref);
	if (e)
		return e->row;
	const struct db_row *old = db_get(cls, ref);
	if (!old)
		return NULL;
	e = db_txn_add(t);
	e->cls = cls;
	e->old = old;
	e->row = db_row_copy(old);
	return e->row;
}

int
db_txn_touch(struct db_txn *t, int cls, const char *ref)
{
	struct db_row *r = db_txn_edit(t, cls, ref);
	if (!r)
		return -1;
	db_txn_find(t, cls, ref)->touched = true;
	return 0;
}

int
db_txn_destroy(struct db_txn *t, int cls, const char *ref)
{
	struct db_txn_ent *e = db_txn_find(t, cls, ref);
	if (e) {
		if (!e->row)
			return -1;
		db_row_free(e->row);
		e->row = NULL;
		if (!e->old) { /* created here: forget it entirely */
			*e = t->ents[--t->n];
		}
		return 0;
	}
	const struct db_row *old = db_get(cls, ref);
	if (!old)
		return -1;
	e = db_txn_add(t);
	e->cls = cls;
	e->old = old;
	return 0;
}

void
db_txn_set(struct db_txn *t, struct db_row *row, int fi, union dm_val v)
{
	const struct dm_type *ty = dm_classes[row->cls].fields[fi].type;
	(void)t;
	dmv_free(ty, &row->f[fi]);
	row->f[fi] = v;
}

static void
db_txn_free(struct db_txn *t)
{
	for (size_t i = 0; i < t->n; i++)
		db_row_free(t->ents[i].row);
	free(t->ents);
	free(t);
}

void
db_txn_abort(struct db_txn *t)
{
	db_txn_free(t);
	pthread_mutex_unlock(&db.writer);
}

void
db_log_append(uint64_t gen, int cls, enum db_op op, const char *ref)
{
	size_t idx;
	if (db.log_n == DB_LOG_MAX) {
		struct db_change *oldest = &db.log[db.log_head];
		db.log_start = oldest->gen;
		free(oldest->ref);
		db.log_head = (db.log_head + 1) % DB_LOG_MAX;
		db.log_n--;
	}
	idx = (db.log_head + db.log_n) % DB_LOG_MAX;
	db.log[idx].gen = gen;
	db.log[idx].cls = cls;
	db.log[idx].op = op;
	db.log[idx].ref = xstrdup(ref);
	db.log_n++;
}

/* Does the entry change anything a reader can see? */
static bool
db_txn_ent_changes(const struct db_txn_ent *e)
{
	if (!e->old || !e->row || e->touched)
		return true;
	const struct dm_class *k = &dm_classes[e->cls];
	for (size_t i = 0; i < k->nfields; i++)
		if (!dmv_equal(k->fields[i].type, e->old->f[i], e->row->f[i]))
			return true;
	return false;
}

/* Adds (add=true) or removes ref in the set field fi of row (cls, target). */
static void
db_rel_update(struct db_txn *t, int cls, int fi, const char *target,
	      const char *ref, bool add)
{
	if (!target || strcmp(target, DM_NULL_REF) == 0)
		return;
	struct db_row *r = db_txn_edit(t, cls, target);
	if (!r)
		return;
	const struct dm_type *ty = dm_classes[cls].fields[fi].type;
	struct dm_coll *c = r->f[fi].c;
	union dm_val key = {.s = (char *)ref};
	long at = dmc_set_find(ty->a, c, key);
	if (add && at < 0) {
		union dm_val e = {.s = xstrdup(ref)};
		r->f[fi].c = dmc_append(c, 1, &e);
	} else if (!add && at >= 0) {
		free(c->v[at].s);
		dmc_remove_at(&r->f[fi].c, 1, (size_t)at);
	}
}

/* Keeps the set side of every relation in step with the ref side. */
static void
db_txn_relations(struct db_txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		for (size_t k = 0; k < dm_nrelations; k++) {
			const struct dm_relation *rel = &dm_relations[k];
			struct db_txn_ent *e = &t->ents[i];
			if (rel->a != e->cls)
				continue;
			const char *o = e->old ? e->old->f[rel->a_field].s : NULL;
			const char *nw = e->row ? e->row->f[rel->a_field].s : NULL;
			const char *ref = e->row ? e->row->ref : e->old->ref;
			if (o && nw && strcmp(o, nw) == 0)
				continue;
			char *refc = xstrdup(ref), *oc = o ? xstrdup(o) : NULL,
			     *nc = nw ? xstrdup(nw) : NULL;
			/* db_rel_update may grow t->ents: e is stale after */
			db_rel_update(t, rel->b, rel->b_field, oc, refc, false);
			db_rel_update(t, rel->b, rel->b_field, nc, refc, true);
			free(refc);
			free(oc);
			free(nc);
		}
	}
}

/* The JSON ops ({"ops":[...]}) of the changes t makes to persistent
 * rows, NULL if none; take: the persistent entries leave t (slave mode),
 * else t is left as it is. */
static char *
db_txn_forward_ops(struct db_txn *t, bool take)
{
	json_t *ops = json_array();
	size_t k = 0;
	char *text = NULL;

	for (size_t i = 0; i < t->n; i++) {
		struct db_txn_ent *e = &t->ents[i];
		if (!(dm_classes[e->cls].flags & DMCF_PERSISTENT)) {
			t->ents[k++] = *e;
			continue;
		}
		if (db_txn_ent_changes(e)) {
			json_t *o = json_object();
			const char *ref = e->row ? e->row->ref : e->old->ref;
			json_object_set_new(o, "op", json_string(!e->row ? "del" : e->old ? "mod" : "add"));
			json_object_set_new(o, "cls", json_string(dm_classes[e->cls].name));
			json_object_set_new(o, "ref", json_string(ref));
			if (e->row)
				json_object_set_new(o, "fields", db_row_diff_json(e->row, e->old));
			json_array_append_new(ops, o);
		}
		if (take)
			db_row_free(e->row);
		else
			t->ents[k++] = *e;
	}
	t->n = k;
	if (json_array_size(ops)) {
		json_t *doc = json_object();
		json_object_set_new(doc, "ops", ops);
		text = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
	} else {
		json_decref(ops);
	}
	return text;
}

/* Set while a commit is handed to the lost-lead handler: a commit made by
 * the handler itself fails plainly. */
static __thread bool db_in_lost_lead;

int
db_txn_commit(struct db_txn *t, char **err)
{
	db_forward_fn fwd = db.forward, lost = db.lost_lead;
	char *fwd_ops = fwd ? db_txn_forward_ops(t, true) : NULL;
	/* the master keeps its ops in the slave's form: if the lead moves
	 * under this commit, they go to the new master instead */
	char *again = !fwd && lost && !db_in_lost_lead
	                  ? db_txn_forward_ops(t, false)
	                  : NULL;
	int rc = db_txn_commit_local(t, err);
	if (rc == 0 && fwd_ops) {
		rc = fwd(fwd_ops, err);
	} else if (rc < 0 && again && *err &&
	           strstr(*err, PERSIST_NOT_LEADER)) {
		free(*err);
		*err = NULL;
		db_in_lost_lead = true;
		rc = lost(again, err);
		db_in_lost_lead = false;
	}
	free(fwd_ops);
	free(again);
	return rc;
}

static int
db_txn_commit_local(struct db_txn *t, char **err)
{
	struct persist_op *ops = xcalloc(t->n + 1, sizeof(*ops));
	char **texts = xcalloc(t->n + 1, sizeof(char *));
	size_t nops = 0, nchanged = 0;
	uint64_t gen = db.generation + 1;
	int rc = 0;

	if (!db.forward)
		db_txn_relations(t);
	ops = xrealloc(ops, (t->n + 1) * sizeof(*ops));
	texts = xrealloc(texts, (t->n + 1) * sizeof(char *));
	for (size_t i = 0; i < t->n; i++) {
		struct db_txn_ent *e = &t->ents[i];
		if (!db_txn_ent_changes(e))
			continue;
		nchanged++;
		if (e->row) {
			e->row->mtime = gen;
			e->row->ctime = e->old ? e->old->ctime : gen;
		}
		if (!(dm_classes[e->cls].flags & DMCF_PERSISTENT))
			continue;
		ops[nops].cls = dm_classes[e->cls].name;
		if (e->row) {
			ops[nops].kind = PERSIST_PUT;
			ops[nops].ref = e->row->ref;
			texts[nops] = db_row_to_json(e->row);
			ops[nops].data = texts[nops];
		} else {
			ops[nops].kind = PERSIST_DEL;
			ops[nops].ref = e->old->ref;
		}
		nops++;
	}
	if (nchanged == 0)
		goto out;
	if (nops && db.persist &&
	    persist_commit(db.persist, ops, nops, gen, err) < 0) {
		rc = -1;
		goto out;
	}
	pthread_rwlock_wrlock(&db.rw);
	for (size_t i = 0; i < t->n; i++) {
		struct db_txn_ent *e = &t->ents[i];
		if (!db_txn_ent_changes(e))
			continue;
		const char *ref = e->row ? e->row->ref : e->old->ref;
		db_log_append(gen, e->cls,
			      !e->row ? DB_DEL : e->old ? DB_MOD : DB_ADD, ref);
		if (e->old) {
			struct db_row *old = (struct db_row *)e->old;
			db_unindex(old);
			db_row_free(old);
		}
		if (e->row) {
			db_index(e->row);
			e->row = NULL; /* the table owns it now */
		}
	}
	db.generation = gen;
	pthread_rwlock_unlock(&db.rw);
	pthread_mutex_lock(&db.ev_lock);
	pthread_cond_broadcast(&db.ev_cond);
	pthread_mutex_unlock(&db.ev_lock);
out:
	for (size_t i = 0; i < nops; i++)
		free(texts[i]);
	free(texts);
	free(ops);
	db_txn_free(t);
	pthread_mutex_unlock(&db.writer);
	return rc;
}

int
db_replace_all(struct db_row **rows, size_t n, uint64_t generation, char **err)
{
	struct persist_op *ops = xcalloc(n + 1, sizeof(*ops));
	char **texts = xcalloc(n + 1, sizeof(char *));
	size_t nops = 0;
	int rc = 0;

	pthread_mutex_lock(&db.writer);
	if (generation <= db.generation)
		generation = db.generation + 1;
	for (size_t i = 0; i < n; i++) {
		if (!(dm_classes[rows[i]->cls].flags & DMCF_PERSISTENT))
			continue;
		ops[nops].kind = PERSIST_PUT;
		ops[nops].cls = dm_classes[rows[i]->cls].name;
		ops[nops].ref = rows[i]->ref;
		texts[nops] = db_row_to_json(rows[i]);
		ops[nops].data = texts[nops];
		nops++;
	}
	if (db.persist && db.persist->ops->replace_all(db.persist, ops, nops,
						       generation, err) < 0) {
		rc = -1;
		goto out;
	}
	pthread_rwlock_wrlock(&db.rw);
	/* rows that never reach the durable store (sessions, tasks) outlive
	 * the replacement: the caller's session stays valid */
	struct db_table keep[DMC__COUNT];
	memset(keep, 0, sizeof(keep));
	for (int c = 0; c < DMC__COUNT; c++) {
		if (dm_classes[c].flags & DMCF_PERSISTENT)
			continue;
		keep[c] = db.tables[c];
		memset(&db.tables[c], 0, sizeof(db.tables[c]));
	}
	db_drop_tables();
	db_log_clear();
	for (int c = 0; c < DMC__COUNT; c++)
		if (!(dm_classes[c].flags & DMCF_PERSISTENT))
			db.tables[c] = keep[c];
	for (size_t i = 0; i < n; i++) {
		if (!(dm_classes[rows[i]->cls].flags & DMCF_PERSISTENT)) {
			db_row_free(rows[i]);
			rows[i] = NULL;
			continue;
		}
		db_index(rows[i]);
		rows[i] = NULL;
	}
	db.generation = generation;
	db.log_start = generation; /* older tokens: EVENTS_LOST */
	pthread_rwlock_unlock(&db.rw);
	pthread_mutex_lock(&db.ev_lock);
	pthread_cond_broadcast(&db.ev_cond);
	pthread_mutex_unlock(&db.ev_lock);
out:
	for (size_t i = 0; i < nops; i++)
		free(texts[i]);
	free(texts);
	free(ops);
	pthread_mutex_unlock(&db.writer);
	return rc;
}

/* ---- events ---- */

int
db_changes_since(uint64_t gen, struct db_change **out, size_t *n,
		 uint64_t *latest)
{
	struct htab seen = {0};
	struct db_change *v = NULL;
	size_t cnt = 0;

	*latest = db.generation;
	*out = NULL;
	*n = 0;
	if (gen < db.log_start)
		return -1;
	/* newest first, keeping the latest change per row; then reverse */
	for (size_t i = db.log_n; i-- > 0;) {
		struct db_change *c = &db.log[(db.log_head + i) % DB_LOG_MAX];
		if (c->gen <= gen)
			break;
		uintptr_t at = (uintptr_t)htab_get(&seen, c->ref);
		if (at) {
			struct db_change *prev = &v[at - 1];
			/* an add after the token makes the net effect an add,
			 * unless the row is gone again */
			if (c->op == DB_ADD && prev->op == DB_MOD)
				prev->op = DB_ADD;
			else if (c->op == DB_ADD && prev->op == DB_DEL)
				prev->op = 0; /* born and died: nothing */
			continue;
		}
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt] = *c;
		v[cnt].ref = c->ref; /* borrowed until the copy below */
		htab_put(&seen, c->ref, (void *)(uintptr_t)(cnt + 1));
		cnt++;
	}
	htab_free(&seen);
	size_t k = 0;
	struct db_change *res = xcalloc(cnt + 1, sizeof(*res));
	for (size_t i = cnt; i-- > 0;) {
		if (v[i].op == 0)
			continue;
		res[k] = v[i];
		res[k].ref = xstrdup(v[i].ref);
		k++;
	}
	free(v);
	*out = res;
	*n = k;
	return 0;
}

void
db_changes_free(struct db_change *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].ref);
	free(c);
}

int
db_wait(uint64_t gen, double timeout_s)
{
	struct timespec ts;
	int r = 1;

	clock_gettime(CLOCK_REALTIME, &ts);
	long long ns = ts.tv_nsec + (long long)((timeout_s - (long long)timeout_s) * 1e9);
	ts.tv_sec += (time_t)timeout_s + ns / 1000000000LL;
	ts.tv_nsec = ns % 1000000000LL;
	pthread_mutex_lock(&db.ev_lock);
	while (db.generation <= gen) {
		if (pthread_cond_timedwait(&db.ev_cond, &db.ev_lock, &ts) ==
		    ETIMEDOUT) {
			r = db.generation > gen;
			break;
		}
	}
	pthread_mutex_unlock(&db.ev_lock);
	return r;
}
