/*
 * store_int: the store's state, shared by store.c (tables, transactions,
 * events) and store_pool.c (a pool member's replica and forwarding). Not
 * for other modules.
 */
#ifndef XAPID_DB_STORE_INT_H
#define XAPID_DB_STORE_INT_H

#include <pthread.h>

#include "db/store.h"
#include "util/htab.h"

struct db_table {
	struct htab by_ref;
	struct htab by_uuid;
};

/* The change window: a ring of the last DB_LOG_MAX row changes. */
#define DB_LOG_MAX (1u << 17)

struct db_state {
	struct db_table tables[DMC__COUNT];
	struct persist *persist;
	db_forward_fn forward; /* slave mode */
	db_forward_fn
	    lost_lead; /* master: where a commit goes when the lead moved */
	uint64_t generation;
	pthread_rwlock_t rw;
	pthread_mutex_t writer;
	pthread_mutex_t ev_lock;
	pthread_cond_t ev_cond;
	struct db_change *log; /* ring */
	size_t log_head, log_n;
	uint64_t
	    log_start; /* changes after this generation are all in the log */
};

extern struct db_state db;

/* Adds r to / removes r from the indexes of its table (write lock). */
void db_index(struct db_row *r);
void db_unindex(struct db_row *r);
/* Empties the change window / records one change in it (write lock). */
void db_log_clear(void);
void db_log_append(uint64_t gen, int cls, enum db_op op, const char *ref);

#endif
