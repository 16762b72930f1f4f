/*
 * persist_dqlite: the dqlite backend of persist.h.
 *
 * Schema (database cfg->db_name, default "xapi"):
 *   obj  (ref TEXT PRIMARY KEY, cls TEXT NOT NULL, data TEXT NOT NULL)
 *   meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)   k='generation': decimal
 *
 * A commit is one explicit transaction sent as a few requests on our one
 * connection: "BEGIN; <generation>", then multi-row INSERT OR REPLACE /
 * DELETE ... IN statements with bound parameters (order of the ops kept),
 * the last one followed by "; COMMIT" in the same request (a one-group
 * batch costs two round trips). dqlite replicates the transaction as one
 * Raft entry at COMMIT, so either all of it is applied or nothing. A failed statement does NOT end an
 * explicit transaction in dqlite (the rows of the statements before it stay
 * pending on the connection), so every failure is followed by ROLLBACK, or
 * by closing the connection, which makes the server roll back.
 *
 * Puts and deletes are idempotent, so a batch whose outcome is unknown (the
 * connection broke, leadership moved) is simply sent again once on a new
 * connection to the leader.
 */
#include "persist.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/dqc.h"
#include "db/dqnode.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Bound of one request round trip (and of each batch of a streamed load). */
#define PDQ_TIMEOUT_MS 30000
/* Bound of each connect and leader question while looking for the leader. */
#define PDQ_CONNECT_TIMEOUT_MS 5000
/* How long to wait for a leader at open and on reconnection. */
#define PDQ_LEADER_WAIT_MS 10000
/* How long to retry a statement refused with SQLITE_BUSY. */
#define PDQ_BUSY_RETRIES 200
/* dqlite's code for a request on a connection whose database is gone. */
#define PDQ_NO_DATABASE 12
/* Rows per multi-row statement: 3 parameters each, at most 255 in all. */
#define PDQ_ROWS_PER_STMT (DQC_MAX_PARAMS / 3)
/* Bytes of row data per statement before a new one is started. */
#define PDQ_BYTES_PER_STMT (1024 * 1024)

struct pdq {
	struct persist base; /* first: struct persist * is a struct pdq * */
	pthread_mutex_t lock; /* serialises every call on conn */
	struct dqnode *node;
	struct dqc *conn;
	char *db_name;
	bool local_only;
};

static const char pdq_schema[] =
	"CREATE TABLE IF NOT EXISTS obj (ref TEXT PRIMARY KEY, "
	"cls TEXT NOT NULL, data TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
	"INSERT OR IGNORE INTO meta (k, v) VALUES ('generation', '0')";

/* Hands msg (malloc'd) to the caller through err, or frees it. */
static void
pdq_set_err(char **err, char *msg)
{
	if (err)
		*err = msg;
	else
		free(msg);
}

static void
pdq_disconnect(struct pdq *p)
{
	dqc_close(p->conn);
	p->conn = NULL;
}

/* Connects to the local node if it is the leader (waiting a little while
 * an election is under way). */
static int
pdq_connect_local(struct pdq *p, char **err)
{
	const char *addr = dqnode_address(p->node);
	uint64_t id = 0;
	char *laddr = NULL;

	p->conn = dqc_connect(addr, PDQ_CONNECT_TIMEOUT_MS, err);
	if (!p->conn)
		return -1;
	for (int i = 0; i < 40; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		free(laddr);
		laddr = NULL;
		if (dqc_leader(p->conn, &id, &laddr, err) < 0) {
			pdq_disconnect(p);
			return -1;
		}
		if (id != 0)
			break;
		nanosleep(&ts, NULL);
	}
	if (id != dqnode_id(p->node)) {
		pdq_set_err(err, xasprintf(PERSIST_NOT_LEADER
					   " (leader: %" PRIu64 " %s, this node %" PRIu64 ")",
					   id, id ? laddr : "none",
					   dqnode_id(p->node)));
		free(laddr);
		pdq_disconnect(p);
		return -1;
	}
	free(laddr);
	return 0;
}

/* Makes sure p->conn is a usable connection to the leader with the database
 * open. */
static int
pdq_connect(struct pdq *p, char **err)
{
	const char *addr = dqnode_address(p->node);

	if (p->conn && !dqc_broken(p->conn))
		return 0;
	pdq_disconnect(p);
	if (p->local_only) {
		if (pdq_connect_local(p, err) < 0)
			return -1;
	} else {
		p->conn = dqc_connect_leader(&addr, 1, PDQ_CONNECT_TIMEOUT_MS,
					     PDQ_LEADER_WAIT_MS, err);
	}
	if (!p->conn)
		return -1;
	dqc_set_timeout(p->conn, PDQ_TIMEOUT_MS);
	if (dqc_open(p->conn, p->db_name, err) < 0 ||
	    (p->local_only &&
	     dqc_exec(p->conn, pdq_schema, NULL, 0, NULL, NULL, err) < 0)) {
		pdq_disconnect(p);
		return -1;
	}
	return 0;
}

/* dqc_exec() that retries while the server answers SQLITE_BUSY (e.g. a
 * checkpoint in progress). */
static int
pdq_exec(struct pdq *p, const char *sql, const struct dqc_value *params,
	 size_t n, char **err)
{
	for (int i = 0;; i++) {
		struct timespec ts = {0, 5 * 1000 * 1000};
		if (dqc_exec(p->conn, sql, params, n, NULL, NULL, err) == 0)
			return 0;
		if (dqc_errcode(p->conn) != DQC_SQLITE_BUSY ||
		    i >= PDQ_BUSY_RETRIES)
			return -1;
		nanosleep(&ts, NULL);
	}
}

static int
pdq_check_ops(const struct persist_op *ops, size_t n, char **err)
{
	for (size_t i = 0; i < n; i++) {
		const struct persist_op *o = &ops[i];
		if (!o->ref || (o->kind == PERSIST_PUT && (!o->cls || !o->data)) ||
		    (o->kind != PERSIST_PUT && o->kind != PERSIST_DEL)) {
			pdq_set_err(err, xasprintf("persist: op %zu is "
						   "incomplete", i));
			return -1;
		}
	}
	return 0;
}

/* Writes ops[*i..] of the same kind as ops[*i] as one statement and
 * advances *i past them; the statement that writes the last op also carries
 * the COMMIT (parameters bind to the first statement of a request). */
static int
pdq_write_group(struct pdq *p, const struct persist_op *ops, size_t n,
		size_t *i, char **err)
{
	struct dqc_value v[DQC_MAX_PARAMS];
	struct buf sql = BUF_INIT;
	enum persist_op_kind kind = ops[*i].kind;
	size_t k = 0, bytes = 0;
	int rv;

	if (kind == PERSIST_PUT)
		buf_adds(&sql, "INSERT OR REPLACE INTO obj (ref, cls, data) "
			       "VALUES ");
	else
		buf_adds(&sql, "DELETE FROM obj WHERE ref IN (");
	while (*i < n && ops[*i].kind == kind && bytes < PDQ_BYTES_PER_STMT) {
		const struct persist_op *o = &ops[*i];
		if (kind == PERSIST_PUT) {
			if (k + 3 > DQC_MAX_PARAMS)
				break;
			buf_adds(&sql, k ? ",(?,?,?)" : "(?,?,?)");
			v[k++] = dqc_text(o->ref);
			v[k++] = dqc_text(o->cls);
			v[k++] = dqc_text(o->data);
			bytes += strlen(o->data);
		} else {
			if (k + 1 > DQC_MAX_PARAMS)
				break;
			buf_adds(&sql, k ? ",?" : "?");
			v[k++] = dqc_text(o->ref);
		}
		bytes += strlen(o->ref);
		(*i)++;
	}
	if (kind == PERSIST_DEL)
		buf_addc(&sql, ')');
	if (*i == n)
		buf_adds(&sql, "; COMMIT");
	rv = pdq_exec(p, sql.data, v, k, err);
	buf_free(&sql);
	return rv;
}

/* Whether a failed transaction may be sent again on a new connection: the
 * connection broke, or the node we talked to is no longer the leader. */
static bool
pdq_retryable(int code)
{
	/* 12: "no database opened": dqlite drops a connection's database
	 * when its node loses the leadership; a node that leads again must
	 * open it on a new connection */
	return code == DQC_ETRANSPORT || code == DQC_SQLITE_IOERR_NOT_LEADER ||
	       code == DQC_SQLITE_IOERR_LEADERSHIP_LOST ||
	       code == PDQ_NO_DATABASE;
}

/* Runs one transaction: "BEGIN; [DELETE FROM obj;] generation", the ops in
 * order, COMMIT (with the last ops). On failure the transaction is rolled
 * back (or the connection dropped) and *code is the dqc_errcode() of the
 * failed request. */
static int
pdq_txn(struct pdq *p, const struct persist_op *ops, size_t n,
	uint64_t generation, bool replace, int *code, char **err)
{
	char *sql;
	size_t i = 0;
	int rv;

	/* The generation is a number: safe to write as a literal. */
	sql = xasprintf("BEGIN; %sINSERT OR REPLACE INTO meta (k, v) VALUES "
			"('generation', '%" PRIu64 "')%s",
			replace ? "DELETE FROM obj; " : "", generation,
			n == 0 ? "; COMMIT" : "");
	rv = pdq_exec(p, sql, NULL, 0, err);
	free(sql);
	while (rv == 0 && i < n)
		rv = pdq_write_group(p, ops, n, &i, err);
	if (rv == 0)
		return 0;
	*code = dqc_errcode(p->conn);
	if (pdq_retryable(*code)) {
		/* Broken link, or no longer the leader: closing the
		 * connection makes the server drop the open transaction. */
		pdq_disconnect(p);
	} else if (dqc_exec(p->conn, "ROLLBACK", NULL, 0, NULL, NULL, NULL) <
			   0 &&
		   dqc_errcode(p->conn) != DQC_SQLITE_ERROR) {
		/* SQLITE_ERROR: no transaction was left open. Anything else:
		 * drop the connection, as above. */
		log_warn("db", "dqlite ROLLBACK failed; dropping connection");
		pdq_disconnect(p);
	}
	return -1;
}

static int
pdq_write(struct persist *base, const struct persist_op *ops, size_t n,
	  uint64_t generation, bool replace, char **err)
{
	struct pdq *p = (struct pdq *)base;
	char *e = NULL;
	int rv = -1;

	if (pdq_check_ops(ops, n, err) < 0)
		return -1;
	pthread_mutex_lock(&p->lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		int code = DQC_ETRANSPORT;
		free(e);
		e = NULL;
		if (pdq_connect(p, &e) == 0)
			rv = pdq_txn(p, ops, n, generation, replace, &code,
				     &e);
		if (rv == 0 || !pdq_retryable(code) || attempt == 1)
			break;
		log_warn("db", "dqlite commit failed (%s); retrying", e);
		pdq_disconnect(p);
	}
	pthread_mutex_unlock(&p->lock);
	if (rv < 0)
		pdq_set_err(err, e ? e : xstrdup("persist: commit failed"));
	return rv;
}

static int
pdq_commit(struct persist *base, const struct persist_op *ops, size_t n,
	   uint64_t generation, char **err)
{
	return pdq_write(base, ops, n, generation, false, err);
}

static int
pdq_replace_all(struct persist *base, const struct persist_op *ops, size_t n,
		uint64_t generation, char **err)
{
	return pdq_write(base, ops, n, generation, true, err);
}

struct pdq_load {
	persist_row_cb cb;
	void *ctx;
	uint64_t generation;
	char *problem; /* why the load stopped, malloc'd */
	size_t rows;   /* rows handed to cb */
};

/* Row callback of the load query: the generation row (cls NULL) or an
 * object row. */
static int
pdq_load_row(void *ctx, size_t ncols, const char *const *names,
	     const struct dqc_value *v)
{
	struct pdq_load *l = ctx;
	char *end;

	if (ncols != 3) {
		l->problem = xasprintf("load: %zu columns", ncols);
		return -1;
	}
	if (v[0].type == DQC_NULL) {
		if (v[2].type != DQC_TEXT)
			goto bad;
		l->generation = strtoull(v[2].u.s, &end, 10);
		if (end == v[2].u.s || *end != '\0')
			goto bad;
		return 0;
	}
	if (v[0].type != DQC_TEXT || v[1].type != DQC_TEXT ||
	    v[2].type != DQC_TEXT)
		goto bad;
	l->rows++;
	if (l->cb(l->ctx, v[0].u.s, v[1].u.s, v[2].u.s) != 0) {
		l->problem = xstrdup("load stopped by the row callback");
		return -1;
	}
	return 0;
bad:
	l->problem = xasprintf("load: malformed row (%s)", names[0]);
	return -1;
}

static int
pdq_load_all(struct persist *base, persist_row_cb cb, void *ctx,
	     uint64_t *generation, char **err)
{
	struct pdq *p = (struct pdq *)base;
	struct pdq_load l = {cb, ctx, 0, NULL, 0};
	char *e = NULL;
	int rv = -1;

	pthread_mutex_lock(&p->lock);
	for (int attempt = 0; attempt < 2 && rv < 0 && !l.problem; attempt++) {
		free(e);
		e = NULL;
		if (pdq_connect(p, &e) < 0)
			break;
		/* One statement: one consistent snapshot of both tables. */
		rv = dqc_query(p->conn,
			       "SELECT NULL, NULL, v FROM meta "
			       "WHERE k = 'generation' "
			       "UNION ALL SELECT cls, ref, data FROM obj",
			       NULL, 0, pdq_load_row, &l, &e);
		if (rv < 0 && !l.problem) {
			/* a stale connection (see pdq_retryable): anew */
			bool again = pdq_retryable(dqc_errcode(p->conn)) &&
				     l.rows == 0;
			pdq_disconnect(p);
			if (!again)
				break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (l.problem) {
		free(e);
		e = xasprintf("persist: %s", l.problem);
		free(l.problem);
		rv = -1;
	}
	if (rv == 0)
		*generation = l.generation;
	else
		pdq_set_err(err, e);
	return rv;
}

static void
pdq_close(struct persist *base)
{
	struct pdq *p = (struct pdq *)base;

	pthread_mutex_lock(&p->lock); /* no call in flight */
	pdq_disconnect(p);
	pthread_mutex_unlock(&p->lock);
	dqnode_stop(p->node);
	pthread_mutex_destroy(&p->lock);
	free(p->db_name);
	free(p);
}

struct dqnode *
persist_dqlite_node(struct persist *base)
{
	return ((struct pdq *)base)->node;
}

static const struct persist_ops pdq_ops = {
	.name = "dqlite",
	.load = pdq_load_all,
	.commit = pdq_commit,
	.replace_all = pdq_replace_all,
	.close = pdq_close,
};

struct persist *
persist_dqlite_open(const struct persist_dqlite_config *cfg, char **err)
{
	/* the Raft log lives in memory until a snapshot: keep it short */
	struct dqnode_config nc = {cfg->dir,	      cfg->address,
				   cfg->node_id,      cfg->latency_ms,
				   512,		      512,
				   cfg->bind_address, cfg->connect,
				   cfg->connect_arg};
	struct pdq *p;

	p = xcalloc(1, sizeof(*p));
	p->base.ops = &pdq_ops;
	pthread_mutex_init(&p->lock, NULL);
	p->db_name = xstrdup(cfg->db_name ? cfg->db_name : "xapi");
	p->local_only = cfg->local_only;
	p->node = dqnode_start(&nc, err);
	if (!p->node)
		goto fail;
	if (cfg->lazy)
		return &p->base;
	if (pdq_connect(p, err) < 0 ||
	    pdq_exec(p, pdq_schema, NULL, 0, err) < 0)
		goto fail;
	log_info("db", "persist: dqlite database %s ready on %s", p->db_name,
		 dqnode_address(p->node));
	return &p->base;
fail:
	pdq_disconnect(p);
	dqnode_stop(p->node);
	pthread_mutex_destroy(&p->lock);
	free(p->db_name);
	free(p);
	return NULL;
}
