/* store_pool: the store of a pool member: slave mode (writes forwarded,
 * replica applied from the master) and the reload of a promoted master. */
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "db/store_int.h"
#include "util/xalloc.h"

void
db_set_forward(db_forward_fn fn)
{
	pthread_mutex_lock(&db.writer);
	db.forward = fn;
	pthread_mutex_unlock(&db.writer);
}

void
db_set_lost_lead(db_forward_fn fn)
{
	pthread_mutex_lock(&db.writer);
	db.lost_lead = fn;
	pthread_mutex_unlock(&db.writer);
}

struct persist *
db_swap_persist(struct persist *p)
{
	pthread_mutex_lock(&db.writer);
	struct persist *old = db.persist;
	db.persist = p;
	pthread_mutex_unlock(&db.writer);
	return old;
}

/* Drops every row of the persistent classes (write lock held). */
static void
db_drop_persistent(void)
{
	for (int c = 0; c < DMC__COUNT; c++) {
		if (!(dm_classes[c].flags & DMCF_PERSISTENT))
			continue;
		struct db_table *tb = &db.tables[c];
		size_t pos = 0;
		struct db_row *r;
		while ((r = htab_next(&tb->by_ref, &pos)))
			db_row_free(r);
		htab_free(&tb->by_ref);
		htab_free(&tb->by_uuid);
		memset(tb, 0, sizeof(*tb));
	}
}

static void
db_wake(void)
{
	pthread_mutex_lock(&db.ev_lock);
	pthread_cond_broadcast(&db.ev_cond);
	pthread_mutex_unlock(&db.ev_lock);
}

void
db_apply_remote(struct db_row **puts, size_t nput, const int *del_cls,
                char *const *del_refs, size_t ndel, bool full)
{
	pthread_mutex_lock(&db.writer);
	pthread_rwlock_wrlock(&db.rw);
	uint64_t gen = db.generation + 1;
	if (full) {
		db_drop_persistent();
		db_log_clear();
		db.log_start = gen;
	}
	for (size_t i = 0; i < ndel; i++) {
		struct db_row *old = db_get(del_cls[i], del_refs[i]);
		if (!old)
			continue;
		db_log_append(gen, old->cls, DB_DEL, old->ref);
		db_unindex(old);
		db_row_free(old);
	}
	for (size_t i = 0; i < nput; i++) {
		struct db_row *r = puts[i], *old = db_get(r->cls, r->ref);
		if (!full)
			db_log_append(gen, r->cls, old ? DB_MOD : DB_ADD,
			              r->ref);
		if (old) {
			db_unindex(old);
			db_row_free(old);
		}
		db_index(r);
		puts[i] = NULL;
	}
	db.generation = gen;
	pthread_rwlock_unlock(&db.rw);
	pthread_mutex_unlock(&db.writer);
	db_wake();
}

struct db_reload {
	struct db_row **rows;
	size_t n, cap;
};

static int
db_reload_row(void *ctx, const char *cls, const char *ref, const char *data)
{
	struct db_reload *l = ctx;
	int c = dm_class_find(cls);
	struct db_row *r;
	if (c < 0 || !(dm_classes[c].flags & DMCF_PERSISTENT) ||
	    !(r = db_row_from_json(c, ref, data)))
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->rows = xrealloc(l->rows, l->cap * sizeof(*l->rows));
	}
	l->rows[l->n++] = r;
	return 0;
}

int
db_reload(char **err)
{
	struct db_reload l = {0};
	uint64_t gen = 0;
	int rc = -1;

	pthread_mutex_lock(&db.writer);
	if (!db.persist) {
		*err = xstrdup("no durable store");
		goto out;
	}
	if (persist_load(db.persist, db_reload_row, &l, &gen, err) < 0)
		goto out;
	pthread_rwlock_wrlock(&db.rw);
	db_drop_persistent();
	db_log_clear();
	for (size_t i = 0; i < l.n; i++) {
		db_index(l.rows[i]);
		l.rows[i] = NULL;
	}
	if (gen > db.generation)
		db.generation = gen;
	db.generation++;
	db.log_start = db.generation;
	pthread_rwlock_unlock(&db.rw);
	rc = 0;
out:
	for (size_t i = 0; i < l.n; i++)
		db_row_free(l.rows[i]);
	free(l.rows);
	pthread_mutex_unlock(&db.writer);
	if (rc == 0)
		db_wake();
	return rc;
}
