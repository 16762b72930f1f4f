/* Tests of src/db/dqc.c and src/db/dqnode.c against in-process dqlite nodes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "db/dqc.h"
#include "db/dqnode.h"
#include "util/xalloc.h"

struct fx {
	char dir[64];
	char addr[64];
	struct dqnode *node;
	struct dqc *c;
};

static int test_seq;

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A free TCP port on 127.0.0.1 (bound and released). */
static int
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static struct dqnode *
start_node(const char *dir, const char *addr, uint64_t id)
{
	struct dqnode_config cfg = {dir, addr, id, 10, 0, 0};
	char *err = NULL;
	struct dqnode *n = dqnode_start(&cfg, &err);

	if (!n)
		fail_msg("dqnode_start: %s", err);
	return n;
}

static struct dqc *
connect_db(const char *addr)
{
	char *err = NULL;
	struct dqc *c = dqc_connect_leader(&addr, 1, 5000, 5000, &err);

	if (!c)
		fail_msg("connect_leader: %s", err);
	if (dqc_open(c, "test", &err) < 0)
		fail_msg("open: %s", err);
	return c;
}

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/xapid-test-dqc-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->addr, sizeof(f->addr), "@xapid-test-dqc-%d-%d",
		 (int)getpid(), test_seq++);
	f->node = start_node(f->dir, f->addr, 0);
	f->c = connect_db(f->addr);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	dqc_close(f->c);
	dqnode_stop(f->node); /* both NULL-safe */
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void
exec_ok(struct dqc *c, const char *sql, const struct dqc_value *p, size_t n)
{
	char *err = NULL;

	if (dqc_exec(c, sql, p, n, NULL, NULL, &err) < 0)
		fail_msg("exec %s: %s", sql, err);
}

static int
count_cb(void *ctx, size_t ncols, const char *const *names,
	 const struct dqc_value *v)
{
	(void)names;
	assert_int_equal(ncols, 1);
	assert_int_equal(v[0].type, DQC_INTEGER);
	*(int64_t *)ctx = v[0].u.i;
	return 0;
}

static int64_t
count(struct dqc *c, const char *sql)
{
	int64_t n = -1;
	char *err = NULL;

	if (dqc_query(c, sql, NULL, 0, count_cb, &n, &err) < 0)
		fail_msg("query %s: %s", sql, err);
	return n;
}

static void
test_node_identity(void **state)
{
	struct fx *f = *state;
	uint64_t id = 0, lid = 0;
	char *addr = NULL, *err = NULL;
	struct dqc_server *s = NULL;
	size_t n = 0;
	struct dqnode_config bad = {f->dir, "@xapid-test-other", 7, 0, 0, 0};

	assert_int_equal(dqnode_id(f->node), 1);
	assert_int_equal(dqnode_read_id(f->dir, &id), 0);
	assert_int_equal(id, 1);
	assert_string_equal(dqnode_address(f->node), f->addr);
	assert_int_equal(dqc_leader(f->c, &lid, &addr, &err), 0);
	assert_int_equal(lid, 1);
	assert_string_equal(addr, f->addr);
	free(addr);
	assert_int_equal(dqc_cluster(f->c, &s, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].id, 1);
	assert_int_equal(s[0].role, DQC_VOTER);
	assert_string_equal(s[0].address, f->addr);
	dqc_servers_free(s, n);
	/* A different id for an existing directory is refused. */
	assert_null(dqnode_start(&bad, &err));
	assert_non_null(strstr(err, "node-id"));
	free(err);
}

static const unsigned char types_blob[] = {0, 1, 2, 0xff, 0, 9, 8, 7, 6, 5};

static int
types_cb(void *ctx, size_t ncols, const char *const *names,
	 const struct dqc_value *v)
{
	(*(int *)ctx)++;
	assert_int_equal(ncols, 6);
	assert_string_equal(names[0], "i");
	assert_string_equal(names[5], "ok");
	assert_int_equal(v[0].type, DQC_INTEGER);
	assert_int_equal(v[0].u.i, -42);
	assert_int_equal(v[1].type, DQC_FLOAT);
	assert_true(v[1].u.f == 2.5);
	assert_int_equal(v[2].type, DQC_TEXT);
	assert_string_equal(v[2].u.s, "h\xc3\xa9llo 'q' \"d\"");
	assert_int_equal(v[3].type, DQC_BLOB);
	assert_int_equal(v[3].u.blob.n, sizeof(types_blob));
	assert_memory_equal(v[3].u.blob.p, types_blob, sizeof(types_blob));
	assert_int_equal(v[4].type, DQC_NULL);
	assert_int_equal(v[5].type, DQC_BOOLEAN);
	assert_int_equal(v[5].u.i, 1);
	return 0;
}

static void
test_exec_query_types(void **state)
{
	struct fx *f = *state;
	struct dqc_value p[5] = {dqc_int(-42), dqc_float(2.5),
				 dqc_text("h\xc3\xa9llo 'q' \"d\""),
				 dqc_blob(types_blob, sizeof(types_blob)),
				 dqc_null()};
	struct dqc_value sel = dqc_int(-42);
	int64_t last = 0;
	uint64_t rows = 0;
	char *err = NULL;
	int seen = 0;

	exec_ok(f->c, "CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, "
		      "n TEXT, ok BOOLEAN)", NULL, 0);
	assert_int_equal(dqc_exec(f->c, "INSERT INTO t VALUES (?,?,?,?,?,1)",
				  p, 5, &last, &rows, &err), 0);
	assert_int_equal(last, 1);
	assert_int_equal(rows, 1);
	assert_int_equal(dqc_query(f->c, "SELECT * FROM t WHERE i = ?", &sel,
				   1, types_cb, &seen, &err), 0);
	assert_int_equal(seen, 1);
	assert_int_equal(dqc_errcode(f->c), 0);
}

static void
test_params_limits(void **state)
{
	struct fx *f = *state;
	struct dqc_value p[DQC_MAX_PARAMS + 1];
	char *sql = xmalloc(4 * (DQC_MAX_PARAMS + 1) + 64), *err = NULL;
	size_t o;

	exec_ok(f->c, "CREATE TABLE t (i INTEGER)", NULL, 0);
	o = (size_t)sprintf(sql, "INSERT INTO t VALUES (?)");
	p[0] = dqc_int(0);
	for (int i = 1; i < DQC_MAX_PARAMS; i++) {
		o += (size_t)sprintf(sql + o, ",(?)");
		p[i] = dqc_int(i);
	}
	exec_ok(f->c, sql, p, DQC_MAX_PARAMS);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"),
			 DQC_MAX_PARAMS);
	assert_int_equal(count(f->c, "SELECT sum(i) FROM t"),
			 DQC_MAX_PARAMS * (DQC_MAX_PARAMS - 1) / 2);
	/* Too many parameters: refused before sending, connection intact. */
	p[DQC_MAX_PARAMS] = dqc_int(0);
	strcpy(sql + o, ",(?)");
	assert_int_equal(dqc_exec(f->c, sql, p, DQC_MAX_PARAMS + 1, NULL,
				  NULL, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	/* Parameters go to the first statement only (dqlite 1.11). */
	assert_int_equal(dqc_exec(f->c, "INSERT INTO t VALUES (?); "
				  "INSERT INTO t VALUES (?)", p, 2, NULL,
				  NULL, &err), -1);
	free(err);
	assert_false(dqc_broken(f->c));
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"),
			 DQC_MAX_PARAMS);
	free(sql);
}

struct rows_seen {
	int64_t n;
	int64_t bytes;
	int stop_after;
};

static int
rows_cb(void *ctx, size_t ncols, const char *const *names,
	const struct dqc_value *v)
{
	struct rows_seen *r = ctx;

	(void)names;
	assert_int_equal(ncols, 2);
	assert_int_equal(v[0].u.i, r->n); /* ordered by k */
	assert_int_equal(v[1].type, DQC_TEXT);
	r->bytes += (int64_t)strlen(v[1].u.s);
	r->n++;
	return r->stop_after && r->n >= r->stop_after;
}

static void
test_multi_batch_rows(void **state)
{
	struct fx *f = *state;
	char text[300], *err = NULL;
	struct rows_seen r = {0, 0, 0};

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	exec_ok(f->c, "CREATE TABLE t (k INTEGER PRIMARY KEY, d TEXT)", NULL,
		0);
	exec_ok(f->c, "BEGIN", NULL, 0);
	for (int i = 0; i < 3000; i++) {
		struct dqc_value p[2] = {dqc_int(i), dqc_text(text)};
		exec_ok(f->c, "INSERT INTO t VALUES (?, ?)", p, 2);
	}
	exec_ok(f->c, "COMMIT", NULL, 0);
	/* ~1 MB of rows: dqlite sends them in page-sized batches. */
	assert_int_equal(dqc_query(f->c, "SELECT k, d FROM t ORDER BY k",
				   NULL, 0, rows_cb, &r, &err), 0);
	assert_int_equal(r.n, 3000);
	assert_int_equal(r.bytes, 3000 * 299);
	/* A callback that stops: the rest is drained, the link stays good. */
	r = (struct rows_seen){0, 0, 10};
	assert_int_equal(dqc_query(f->c, "SELECT k, d FROM t ORDER BY k",
				   NULL, 0, rows_cb, &r, &err), -1);
	assert_int_equal(dqc_errcode(f->c), DQC_ESTOPPED);
	free(err);
	assert_int_equal(r.n, 10);
	assert_false(dqc_broken(f->c));
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 3000);
	/* Empty result. */
	r = (struct rows_seen){0, 0, 0};
	assert_int_equal(dqc_query(f->c, "SELECT k, d FROM t WHERE k < 0",
				   NULL, 0, rows_cb, &r, NULL), 0);
	assert_int_equal(r.n, 0);
}

static int
large_cb(void *ctx, size_t ncols, const char *const *names,
	 const struct dqc_value *v)
{
	const char **want = ctx;

	(void)ncols;
	(void)names;
	assert_string_equal(v[0].u.s, want[v[1].u.i]);
	return 0;
}

static void
test_large_rows(void **state)
{
	struct fx *f = *state;
	static const char piece[] = "\xe2\x82\xac '); DROP TABLE t; -- \"\\\n\t"
				    "\xf0\x9f\x98\x80 \xe4\xb8\xad ";
	size_t sizes[3] = {10 * 1024, 300 * 1024, 4 * 1024 * 1024};
	char *rows[3];

	exec_ok(f->c, "CREATE TABLE t (d TEXT, i INTEGER)", NULL, 0);
	for (int i = 0; i < 3; i++) {
		size_t o = 0;
		rows[i] = xmalloc(sizes[i] + sizeof(piece));
		while (o + sizeof(piece) < sizes[i]) {
			memcpy(rows[i] + o, piece, sizeof(piece) - 1);
			o += sizeof(piece) - 1;
		}
		rows[i][o] = '\0';
		struct dqc_value p[2] = {dqc_text(rows[i]), dqc_int(i)};
		exec_ok(f->c, "INSERT INTO t VALUES (?, ?)", p, 2);
	}
	assert_int_equal(dqc_query(f->c, "SELECT d, i FROM t", NULL, 0,
				   large_cb, rows, NULL), 0);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t "
				     "WHERE d LIKE '%DROP TABLE%'"), 3);
	for (int i = 0; i < 3; i++)
		free(rows[i]);
}

static void
test_atomic_batch(void **state)
{
	struct fx *f = *state;
	char *err = NULL;

	exec_ok(f->c, "CREATE TABLE t (k INTEGER PRIMARY KEY, u TEXT UNIQUE)",
		NULL, 0);
	exec_ok(f->c, "INSERT INTO t VALUES (1, 'one')", NULL, 0);
	/* One request, second statement violates UNIQUE. */
	assert_int_equal(dqc_exec(f->c, "BEGIN; INSERT INTO t VALUES (2, 'two');"
				  " INSERT INTO t VALUES (3, 'one'); COMMIT",
				  NULL, 0, NULL, NULL, &err), -1);
	assert_int_equal(dqc_errcode(f->c) & 0xff, DQC_SQLITE_CONSTRAINT);
	assert_non_null(strstr(err, "UNIQUE"));
	free(err);
	err = NULL;
	/* dqlite leaves the transaction open: the caller must roll back. */
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 2);
	exec_ok(f->c, "ROLLBACK", NULL, 0);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 1);
	/* The same across requests. */
	exec_ok(f->c, "BEGIN", NULL, 0);
	exec_ok(f->c, "INSERT INTO t VALUES (4, 'four')", NULL, 0);
	assert_int_equal(dqc_exec(f->c, "INSERT INTO t VALUES (5, 'one')",
				  NULL, 0, NULL, NULL, &err), -1);
	free(err);
	exec_ok(f->c, "ROLLBACK", NULL, 0);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 1);
	/* A connection that drops mid-transaction applies nothing. */
	exec_ok(f->c, "BEGIN", NULL, 0);
	exec_ok(f->c, "INSERT INTO t VALUES (6, 'six')", NULL, 0);
	dqc_close(f->c);
	f->c = NULL;
	f->c = connect_db(f->addr);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 1);
	/* Bad SQL is an answer, not a broken link. */
	assert_int_equal(dqc_exec(f->c, "INSERT INTO nosuch VALUES (1)", NULL,
				  0, NULL, NULL, &err), -1);
	assert_non_null(strstr(err, "no such table"));
	free(err);
	assert_false(dqc_broken(f->c));
	exec_ok(f->c, "INSERT INTO t VALUES (7, 'seven')", NULL, 0);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 2);
}

static void
test_restart_durability(void **state)
{
	struct fx *f = *state;

	exec_ok(f->c, "CREATE TABLE t (k INTEGER PRIMARY KEY, d TEXT)", NULL,
		0);
	for (int i = 0; i < 100; i++) {
		struct dqc_value p[2] = {dqc_int(i), dqc_text("durable")};
		exec_ok(f->c, "INSERT INTO t VALUES (?, ?)", p, 2);
	}
	dqc_close(f->c);
	f->c = NULL;
	dqnode_stop(f->node);
	f->node = NULL;
	f->node = start_node(f->dir, f->addr, 0);
	assert_int_equal(dqnode_id(f->node), 1);
	f->c = connect_db(f->addr);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t "
				     "WHERE d = 'durable'"), 100);
	/* And it still takes writes. */
	exec_ok(f->c, "INSERT INTO t VALUES (100, 'after')", NULL, 0);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 101);
}

/* Raft snapshots are taken and a restart restores from one. */
static void
test_snapshot_restart(void **state)
{
	struct fx *f = *state;
	struct dqnode_config cfg = {f->dir, f->addr, 0, 10, 32, 32};
	char *err = NULL;
	DIR *d;
	struct dirent *e;
	int snapshots = 0;

	dqc_close(f->c);
	f->c = NULL;
	dqnode_stop(f->node);
	f->node = dqnode_start(&cfg, &err);
	if (!f->node)
		fail_msg("dqnode_start: %s", err);
	f->c = connect_db(f->addr);
	exec_ok(f->c, "CREATE TABLE t (k INTEGER PRIMARY KEY, d TEXT)", NULL,
		0);
	for (int i = 0; i < 200; i++) {
		struct dqc_value p[2] = {dqc_int(i), dqc_text("snap")};
		exec_ok(f->c, "INSERT INTO t VALUES (?, ?)", p, 2);
	}
	d = opendir(f->dir);
	assert_non_null(d);
	while ((e = readdir(d)))
		snapshots += strncmp(e->d_name, "snapshot-", 9) == 0;
	closedir(d);
	assert_true(snapshots > 0);
	dqc_close(f->c);
	f->c = NULL;
	dqnode_stop(f->node);
	f->node = dqnode_start(&cfg, &err);
	if (!f->node)
		fail_msg("dqnode_start: %s", err);
	f->c = connect_db(f->addr);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t "
				     "WHERE d = 'snap'"), 200);
	exec_ok(f->c, "INSERT INTO t VALUES (200, 'after')", NULL, 0);
	assert_int_equal(count(f->c, "SELECT count(*) FROM t"), 201);
}

static void
test_connect_failures(void **state)
{
	char *err = NULL;
	const char *bad[2] = {"@xapid-test-dqc-nobody-here", NULL};
	char tcp[32];
	double t0;

	(void)state;
	assert_null(dqc_connect(bad[0], 1000, &err));
	assert_non_null(err);
	free(err);
	err = NULL;
	snprintf(tcp, sizeof(tcp), "127.0.0.1:%d", free_port());
	assert_null(dqc_connect(tcp, 1000, &err));
	free(err);
	err = NULL;
	assert_null(dqc_connect("no-port-here", 1000, &err));
	free(err);
	err = NULL;
	/* The leader search is bounded. */
	bad[1] = tcp;
	t0 = now_s();
	assert_null(dqc_connect_leader(bad, 2, 200, 300, &err));
	assert_true(now_s() - t0 < 2.0);
	assert_non_null(err);
	free(err);
}

static void
test_timeout_silent_server(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char name[64], *err = NULL, *addr = NULL;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct dqc *c;
	uint64_t id;
	double t0;
	socklen_t len;

	(void)state;
	snprintf(name, sizeof(name), "@xapid-test-dqc-silent-%d",
		 (int)getpid());
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(name));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(listen(fd, 4), 0);
	/* Accepted by the backlog, never answered. */
	c = dqc_connect(name, 200, &err);
	assert_non_null(c);
	t0 = now_s();
	assert_int_equal(dqc_leader(c, &id, &addr, &err), -1);
	assert_true(now_s() - t0 >= 0.15);
	assert_true(now_s() - t0 < 2.0);
	assert_non_null(strstr(err, "timed out"));
	assert_true(dqc_broken(c));
	assert_int_equal(dqc_errcode(c), DQC_ETRANSPORT);
	free(err);
	err = NULL;
	/* A broken connection fails at once. */
	t0 = now_s();
	assert_int_equal(dqc_leader(c, &id, &addr, &err), -1);
	assert_true(now_s() - t0 < 0.1);
	free(err);
	dqc_close(c);
	close(fd);
}

/* Two nodes over TCP in this process: ADD, ASSIGN, CLUSTER, TRANSFER,
 * REMOVE and the leader search across addresses. */
static void
test_membership_tcp(void **state)
{
	char dir1[64], dir2[64], a1[32], a2[32], *err = NULL, *lead = NULL;
	const char *addrs[2];
	struct dqnode *n1, *n2;
	struct dqc *c, *c2;
	struct dqc_server *s = NULL;
	size_t n = 0;
	uint64_t id = 0;
	double t0;

	(void)state;
	snprintf(dir1, sizeof(dir1), "/tmp/xapid-test-dqc-XXXXXX");
	snprintf(dir2, sizeof(dir2), "/tmp/xapid-test-dqc-XXXXXX");
	assert_non_null(mkdtemp(dir1));
	assert_non_null(mkdtemp(dir2));
	snprintf(a1, sizeof(a1), "127.0.0.1:%d", free_port());
	snprintf(a2, sizeof(a2), "127.0.0.1:%d", free_port());
	addrs[0] = a2; /* ask the node that is not the leader first */
	addrs[1] = a1;
	n1 = start_node(dir1, a1, 0);
	n2 = start_node(dir2, a2, 2); /* no bootstrap: waits to be added */
	c = connect_db(a1);
	assert_string_equal(dqc_address(c), a1);
	exec_ok(c, "CREATE TABLE t (k INTEGER)", NULL, 0);
	exec_ok(c, "INSERT INTO t VALUES (1)", NULL, 0);
	if (dqc_add(c, 2, a2, &err) < 0)
		fail_msg("add: %s", err);
	if (dqc_assign(c, 2, DQC_VOTER, &err) < 0)
		fail_msg("assign: %s", err);
	assert_int_equal(dqc_cluster(c, &s, &n, &err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s[i].role, DQC_VOTER);
	dqc_servers_free(s, n);
	if (dqc_transfer(c, 2, &err) < 0)
		fail_msg("transfer: %s", err);
	dqc_close(c);
	/* The new leader is found from either address, within a bound. */
	t0 = now_s();
	c2 = dqc_connect_leader(addrs, 2, 2000, 5000, &err);
	if (!c2)
		fail_msg("connect_leader: %s", err);
	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(dqc_leader(c2, &id, &lead, &err), 0);
	assert_int_equal(id, 2);
	assert_string_equal(lead, a2);
	free(lead);
	assert_int_equal(dqc_open(c2, "test", &err), 0);
	assert_int_equal(count(c2, "SELECT count(*) FROM t"), 1);
	/* Hand it back, then remove node 2. */
	if (dqc_transfer(c2, 1, &err) < 0)
		fail_msg("transfer back: %s", err);
	dqc_close(c2);
	c = dqc_connect_leader(addrs, 2, 2000, 5000, &err);
	if (!c)
		fail_msg("connect_leader: %s", err);
	assert_string_equal(dqc_address(c), a1);
	if (dqc_remove(c, 2, &err) < 0)
		fail_msg("remove: %s", err);
	assert_int_equal(dqc_cluster(c, &s, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].id, 1);
	dqc_servers_free(s, n);
	dqc_close(c);
	dqnode_stop(n2);
	dqnode_stop(n1);
	rm_rf(dir1);
	rm_rf(dir2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_node_identity, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_exec_query_types, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_params_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_multi_batch_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_large_rows, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_atomic_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_restart_durability, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_restart, setup,
						teardown),
		cmocka_unit_test(test_connect_failures),
		cmocka_unit_test(test_timeout_silent_server),
		cmocka_unit_test(test_membership_tcp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
