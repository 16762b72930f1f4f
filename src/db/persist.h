/*
 * persist: the durable side of the object store (DESIGN §3).
 *
 * The store keeps every object in memory; each committed transaction is handed
 * here as a batch of row writes and must be durable (replicated, for a pool)
 * before persist_commit() returns 0. At start-up persist_load() streams every
 * stored row back. Rows are opaque text to this layer (the store serialises
 * them as JSON objects keyed by API field name).
 *
 * Backends sit behind struct persist_ops; the real one is dqlite
 * (persist_dqlite.c: an embedded dqlite node plus our own client of its wire
 * protocol). A one-host pool is a one-node dqlite cluster.
 */
#ifndef XAPID_DB_PERSIST_H
#define XAPID_DB_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum persist_op_kind {
	PERSIST_PUT, /* insert or replace the row (cls, ref) with data */
	PERSIST_DEL, /* delete the row ref */
};

struct persist_op {
	enum persist_op_kind kind;
	const char *cls;  /* class name, e.g. "VM" */
	const char *ref;  /* "OpaqueRef:..." */
	const char *data; /* PUT only: the serialised row */
};

/* Called once per stored row by persist_load(). Returns 0 to go on, -1 to stop. */
typedef int (*persist_row_cb)(void *ctx, const char *cls, const char *ref,
			      const char *data);

struct persist;

struct persist_ops {
	const char *name;
	/* Streams all rows to cb and sets *generation to the stored generation. */
	int (*load)(struct persist *p, persist_row_cb cb, void *ctx,
		    uint64_t *generation, char **err);
	/* Applies ops atomically with the new generation; 0 once durable. */
	int (*commit)(struct persist *p, const struct persist_op *ops, size_t n,
		      uint64_t generation, char **err);
	/* Replaces the whole content atomically (database restore). */
	int (*replace_all)(struct persist *p, const struct persist_op *ops,
			   size_t n, uint64_t generation, char **err);
	void (*close)(struct persist *p);
};

struct persist {
	const struct persist_ops *ops;
};

struct persist_dqlite_config {
	const char *dir;      /* data directory of the embedded node */
	const char *address;  /* raft address: "127.0.0.1:9001" or "@abstract-name" */
	uint64_t node_id;     /* 0: read from dir, or 1 (bootstrap) on first start */
	unsigned latency_ms;  /* network latency hint (re-election speed); 0 = 20 */
	const char *db_name;  /* database name inside dqlite; NULL = "xapi" */
	/* Pool members (see dqnode.h): the listening address (NULL = address)
	 * and the function that reaches peers (NULL = plain TCP). */
	const char *bind_address;
	int (*connect)(void *arg, const char *address, int *fd);
	void *connect_arg;
	/* true: SQL goes only to the local node, and only while it is the
	 * leader (a pool member that is not the master must not write);
	 * false: the client follows the leader wherever it is. */
	bool local_only;
	/* true: start the node and return at once, without waiting for a
	 * leader (a pool member restarting alone waits for its peers). */
	bool lazy;
};

/* Starts the embedded dqlite node and connects our client to it, creating the
 * schema on first start. Returns NULL and sets *err (malloc'd) on failure.
 * The returned backend may be called from any thread: an internal mutex
 * serialises the calls (so a load callback must not call back into it).
 * persist_close() stops the node. An address "@name" (abstract unix socket)
 * only suits a one-host pool: such a node accepts only connections from its
 * own process. A node_id other than 1 on a fresh directory bootstraps
 * nothing: the open then fails unless the node is added to a cluster. */
struct persist *persist_dqlite_open(const struct persist_dqlite_config *cfg,
				    char **err);

/* The node behind a dqlite backend (membership, leadership questions). */
struct dqnode *persist_dqlite_node(struct persist *p);

/* Error text prefix of a failure because the local node is not the leader
 * (local_only backends). */
#define PERSIST_NOT_LEADER "not the pool master"

/* Convenience wrappers over p->ops. */
static inline int
persist_load(struct persist *p, persist_row_cb cb, void *ctx, uint64_t *gen,
	     char **err)
{
	return p->ops->load(p, cb, ctx, gen, err);
}
static inline int
persist_commit(struct persist *p, const struct persist_op *ops, size_t n,
	       uint64_t gen, char **err)
{
	return p->ops->commit(p, ops, n, gen, err);
}
static inline int
persist_replace_all(struct persist *p, const struct persist_op *ops, size_t n,
		    uint64_t gen, char **err)
{
	return p->ops->replace_all(p, ops, n, gen, err);
}
static inline void
persist_close(struct persist *p)
{
	if (p)
		p->ops->close(p);
}

#endif
