/*
 * store: the pool database, held in memory, made durable through persist.
 *
 * Every object is a row of its class: a ref, generation stamps, and one typed
 * value per field of the generated datamodel (row->f[DMF_VM_power_state]).
 *
 * Reading: take db_rdlock(), look rows up, copy out what you need, then
 * db_unlock(). Row pointers are valid only while the lock is held.
 *
 * Writing: db_txn_begin() serialises writers; db_txn_create/edit/destroy give
 * private copies to modify; db_txn_commit() writes the changed rows of
 * persistent classes to the durable store and only then swaps them in, bumps
 * the generation and wakes event waiters. A failed commit changes nothing.
 * A transaction holder may read committed rows (db_get...) without the read
 * lock, since no other writer can run.
 */
#ifndef XAPID_DB_STORE_H
#define XAPID_DB_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "db/dmval.h"
#include "db/persist.h"

struct db_row {
	char *ref;
	int cls;
	uint64_t ctime; /* generation that created the row */
	uint64_t mtime; /* generation of the last change */
	union dm_val f[];
};

/* Loads every row from p (which the store then owns) into memory. Rows of
 * unknown classes are skipped with a warning. Returns 0 or -1 with *err. */
int db_open(struct persist *p, char **err);
/* Frees everything and closes the persistence backend. */
void db_close(void);

/* Read lock over the committed state. */
void db_rdlock(void);
void db_unlock(void);

/* Row by ref in class cls, or NULL. */
struct db_row *db_get(int cls, const char *ref);
/* Row by uuid in class cls, or NULL. */
struct db_row *db_get_by_uuid(int cls, const char *uuid);
/* The class holding ref (any table), or -1. */
int db_ref_class(const char *ref);
/* Number of rows in cls. */
size_t db_count(int cls);
/* All rows of cls in creation order; the malloc'd array is the caller's. */
struct db_row **db_list(int cls, size_t *n);
/* The generation of the last commit. */
uint64_t db_generation(void);

/* A fresh "OpaqueRef:<uuid4>" / uuid4 string (malloc'd). */
char *db_new_ref(void);
char *db_new_uuid(void);

struct db_txn;

/* Starts a write transaction (blocks while another writer runs). */
struct db_txn *db_txn_begin(void);
/* Adds a row of cls with every field at its default. ref/uuid: NULL makes
 * new ones. The row is the transaction's until commit; set fields freely. */
struct db_row *db_txn_create(struct db_txn *t, int cls, const char *ref,
			     const char *uuid);
/* A private, modifiable copy of the row (the same copy on later calls), or
 * NULL if no such row. Rows created in this transaction are returned as is. */
struct db_row *db_txn_edit(struct db_txn *t, int cls, const char *ref);
/* Deletes a row. Returns 0, or -1 if no such row. */
int db_txn_destroy(struct db_txn *t, int cls, const char *ref);
/* Replaces field fi of an edited/created row, taking ownership of v. */
void db_txn_set(struct db_txn *t, struct db_row *row, int fi, union dm_val v);
/* Marks the row changed without changing it (event.inject). */
int db_txn_touch(struct db_txn *t, int cls, const char *ref);
/* Makes the transaction durable and visible. Returns 0, or -1 with *err
 * (nothing applied). Frees t either way. */
int db_txn_commit(struct db_txn *t, char **err);
/* Drops the transaction. */
void db_txn_abort(struct db_txn *t);
/* Replaces the whole database by rows (database restore): durable, then
 * visible. rows become the store's. Returns 0 or -1 with *err. */
int db_replace_all(struct db_row **rows, size_t n, uint64_t generation,
		   char **err);

/* ---- pool members (src/pool) ---- */

/* Slave mode: fn != NULL makes db_txn_commit() send the changes of
 * persistent classes to fn as JSON text {"ops":[...]} instead of writing
 * them (each op: {"op":"add","cls","ref","fields":{...}},
 * {"op":"mod","cls","ref","fields":{changed fields only}} or
 * {"op":"del","cls","ref"}); relations are left to the master, which
 * applies the ops in one transaction. fn runs without any store lock and
 * returns once the change is visible here (the replica has caught up), 0
 * or -1 with *err. Rows of other classes (sessions, tasks) stay local and
 * are committed here at once. NULL: master (or lone host) mode. */
typedef int (*db_forward_fn)(const char *ops_json, char **err);
void db_set_forward(db_forward_fn fn);
/* Master mode: when the durable store refuses a commit because this node
 * no longer leads (PERSIST_NOT_LEADER, the lead moved under the commit),
 * db_txn_commit() hands the transaction's persistent changes, in the same
 * JSON form, to fn (which sends them to the new master once it serves)
 * and returns its result. Changes to other classes in that transaction
 * are dropped with the failed commit. NULL: such a commit fails. */
void db_set_lost_lead(db_forward_fn fn);
/* Replaces the durable store (NULL: none, e.g. a slave). The previous one
 * is returned, not closed. */
struct persist *db_swap_persist(struct persist *p);
/* Applies rows received from the master without writing them anywhere:
 * puts (taken) replace or add rows; dels (cls/ref pairs) go. full: every
 * row of a persistent class not in puts goes too (a full copy). Takes
 * the writer lock: never call it inside a transaction. */
void db_apply_remote(struct db_row **puts, size_t nput, const int *del_cls,
		     char *const *del_refs, size_t ndel, bool full);
/* Master promotion: reloads every persistent row from the durable store
 * (which is then authoritative) and continues the generation from the
 * larger of the stored and the current one. Returns 0 or -1 with *err. */
int db_reload(char **err);
/* The fields of r that differ from old (every non-default field when old
 * is NULL), as a JSON object keyed by field name. */
json_t *db_row_diff_json(const struct db_row *r, const struct db_row *old);
/* Sets the fields named in the JSON object o on row r (a created or edited
 * row of transaction t). Returns 0, or -1 with *err naming a bad field. */
int db_row_set_json(struct db_txn *t, struct db_row *r, json_t *o,
		    char **err);

/* A row built outside a transaction (restore, load): defaults everywhere. */
struct db_row *db_row_new(int cls, const char *ref, const char *uuid);
void db_row_free(struct db_row *r);
struct db_row *db_row_copy(const struct db_row *r);

/* Events. */
enum db_op { DB_ADD = 'a', DB_MOD = 'm', DB_DEL = 'd' };

struct db_change {
	uint64_t gen;
	int cls;
	enum db_op op;
	char *ref;
};

/* The changes after generation gen, one per row (its net effect), oldest
 * first; *latest is the current generation. Returns -1 if gen is older than
 * the kept window (the caller reports EVENTS_LOST). Call with the read lock. */
int db_changes_since(uint64_t gen, struct db_change **out, size_t *n,
		     uint64_t *latest);
void db_changes_free(struct db_change *c, size_t n);
/* Oldest generation still covered by the change window. */
uint64_t db_window_start(void);
/* Blocks until the generation passes gen or timeout_s elapses. Returns 1 if
 * it passed, 0 on timeout. Call without locks. */
int db_wait(uint64_t gen, double timeout_s);

/* Serialisation of a row for the durable store (JSON object text) and back. */
char *db_row_to_json(const struct db_row *r);
struct db_row *db_row_from_json(int cls, const char *ref, const char *text);

#endif
