/*
 * dqc: our client of the dqlite wire protocol (version 1, as served by
 * libdqlite 1.11). libdqlite ships no public client, so we speak the
 * protocol ourselves (reference/spike.md §7).
 *
 * Wire format, all little-endian and 8-byte aligned: every message is an
 * 8-byte header (u32 body length in 8-byte words, u8 type, u8 schema,
 * u16 unused) and a body of u64 integers, NUL-terminated text padded to 8
 * bytes, and tuples (parameters: u8 count + one type byte per value padded
 * to 8; rows: 4-bit type codes padded to 8).
 *
 * Addresses: "host:port" (TCP, IPv4/IPv6, "[::1]:port" allowed), "@name"
 * (Linux abstract unix socket; a dqlite node bound to "@name" accepts such
 * connections only from its own process) or "/path" (unix socket).
 *
 * Errors: functions return -1 (or NULL) and, when err is not NULL, set *err
 * to a malloc'd message the caller frees (*err is only written on failure,
 * never read or freed). dqc_errcode() tells a server
 * refusal (SQLite/dqlite code) from a transport failure (DQC_ETRANSPORT).
 * After a transport failure or timeout the connection is "broken" (the
 * stream may be out of step): every later call fails at once; close it and
 * connect again.
 *
 * Timeouts: every exchange is bounded. One request/response round trip must
 * complete within the connection's timeout (dqc_set_timeout); a streamed
 * query gives each batch of rows its own timeout. Nothing blocks forever.
 *
 * Threads: a struct dqc is NOT thread-safe and holds at most one open
 * database. Use one connection per thread, or serialise all calls on a
 * connection with a mutex held across each call (a query's row callback runs
 * inside the call, so it must not use the same connection).
 */
#ifndef XAPID_DB_DQC_H
#define XAPID_DB_DQC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Value types, as coded on the wire (SQLite's codes plus dqlite's). */
enum dqc_type {
	DQC_INTEGER = 1,
	DQC_FLOAT = 2,
	DQC_TEXT = 3,
	DQC_BLOB = 4,
	DQC_NULL = 5,
	DQC_UNIXTIME = 9,  /* rows only: INTEGER in a DATETIME column */
	DQC_ISO8601 = 10,  /* TEXT in a DATETIME column */
	DQC_BOOLEAN = 11,  /* INTEGER in a BOOLEAN column */
};

/* A parameter or a column value. Text and blobs are borrowed: in a row
 * callback they point into the receive buffer and live until it returns. */
struct dqc_value {
	enum dqc_type type;
	union {
		int64_t i;     /* INTEGER, UNIXTIME, BOOLEAN (0/1) */
		double f;      /* FLOAT */
		const char *s; /* TEXT, ISO8601: NUL-terminated UTF-8 */
		struct {
			const void *p;
			size_t n;
		} blob; /* BLOB */
	} u;
};

/* Parameter constructors (no allocation; s/p are borrowed). */
struct dqc_value dqc_int(int64_t i);
struct dqc_value dqc_float(double f);
struct dqc_value dqc_text(const char *s);
struct dqc_value dqc_blob(const void *p, size_t n);
struct dqc_value dqc_null(void);

/* The most parameters one statement can take (the count is one byte). */
#define DQC_MAX_PARAMS 255

/* dqc_errcode() of a failure that is not the server's answer. */
#define DQC_ETRANSPORT (-1)

/* dqc_errcode() after a row callback stopped a query. */
#define DQC_ESTOPPED (-2)

/* SQLite codes the caller may want to test (dqc_errcode()). */
#define DQC_SQLITE_ERROR 1
#define DQC_SQLITE_BUSY 5
#define DQC_SQLITE_CONSTRAINT 19
#define DQC_SQLITE_IOERR_NOT_LEADER (10 | (40 << 8))
#define DQC_SQLITE_IOERR_LEADERSHIP_LOST (10 | (41 << 8))

/* Roles of cluster members (CLUSTER, ASSIGN). */
enum dqc_role {
	DQC_VOTER = 0,
	DQC_STANDBY = 1,
	DQC_SPARE = 2,
};

struct dqc_server {
	uint64_t id;
	char *address; /* malloc'd */
	enum dqc_role role;
};

struct dqc;

/* Connects to address, performs the protocol handshake and returns the
 * connection; timeout_ms (> 0) bounds the connect and, until changed with
 * dqc_set_timeout(), every later round trip. NULL and *err on failure. */
struct dqc *dqc_connect(const char *address, int timeout_ms, char **err);

/* Finds the cluster leader by asking each of addrs in turn (LEADER request)
 * and returns a connection to it. While no node knows a leader (an election
 * is under way) it retries every 50 ms until wait_ms has passed; timeout_ms
 * bounds each single connect/round trip. NULL and *err on failure. */
struct dqc *dqc_connect_leader(const char *const *addrs, size_t naddrs,
			       int timeout_ms, int wait_ms, char **err);

/* Closes the connection and frees c. NULL is allowed. */
void dqc_close(struct dqc *c);

/* Sets the bound of each later round trip, in milliseconds (> 0). */
void dqc_set_timeout(struct dqc *c, int timeout_ms);

/* The address this connection was made to. */
const char *dqc_address(const struct dqc *c);

/* The code of the last failure: the server's SQLite/dqlite code, or
 * DQC_ETRANSPORT for an I/O error, timeout or protocol violation; 0 if the
 * last call succeeded. */
int dqc_errcode(const struct dqc *c);

/* True once a transport failure has made the connection unusable. */
bool dqc_broken(const struct dqc *c);

/* Asks the node who the leader is: *id and *address (malloc'd); id 0 and ""
 * when it does not know (election under way, or the node is not a voter). */
int dqc_leader(struct dqc *c, uint64_t *id, char **address, char **err);

/* Lists the cluster members into *servers (malloc'd array of *n entries;
 * free with dqc_servers_free()). */
int dqc_cluster(struct dqc *c, struct dqc_server **servers, size_t *n,
		char **err);
void dqc_servers_free(struct dqc_server *servers, size_t n);

/* Membership changes; sent to the leader. ADD makes id a spare; ASSIGN then
 * gives it a role; REMOVE drops it; TRANSFER hands leadership to id (0 lets
 * the leader pick). */
int dqc_add(struct dqc *c, uint64_t id, const char *address, char **err);
int dqc_assign(struct dqc *c, uint64_t id, enum dqc_role role, char **err);
int dqc_remove(struct dqc *c, uint64_t id, char **err);
int dqc_transfer(struct dqc *c, uint64_t id, char **err);

/* Opens database name on this connection (once per connection) and turns
 * off SQLite's cache spill on it: dqlite 1.11 fails to read back pages that
 * SQLite spills to the WAL in the middle of a transaction, so any
 * transaction whose dirty pages outgrow the page cache (~2 MB, e.g. a large
 * DELETE followed by INSERTs) fails with "disk I/O error" (code 522). With
 * the spill off the cache simply grows for the length of the transaction. */
int dqc_open(struct dqc *c, const char *name, char **err);

/* Runs sql (one statement, or several separated by ';') with nparams
 * parameters (<= DQC_MAX_PARAMS). dqlite binds the parameters to the FIRST
 * statement only: give parameters only to single statements. Statements run
 * in order and the first failure stops the rest; statements already run
 * stay applied unless an explicit transaction is rolled back: after a
 * failure inside BEGIN ... COMMIT the transaction is still open on the
 * connection and later statements join it, so send ROLLBACK. A statement
 * that returns rows fails here (use dqc_query()). On success sets
 * *last_insert_id and *rows_affected (either may be NULL). */
int dqc_exec(struct dqc *c, const char *sql, const struct dqc_value *params,
	     size_t nparams, int64_t *last_insert_id, uint64_t *rows_affected,
	     char **err);

/* Called once per result row. names/vals have ncols entries, valid only
 * during the call. Returns 0 to go on, non-zero to stop (the remaining rows
 * are read and dropped, and dqc_query() returns -1 with dqc_errcode()
 * DQC_ESTOPPED). */
typedef int (*dqc_row_cb)(void *ctx, size_t ncols, const char *const *names,
			  const struct dqc_value *vals);

/* Runs one query with parameters and streams every row to cb (which may be
 * NULL), across as many ROWS batches as the server sends. */
int dqc_query(struct dqc *c, const char *sql, const struct dqc_value *params,
	      size_t nparams, dqc_row_cb cb, void *ctx, char **err);

#endif
