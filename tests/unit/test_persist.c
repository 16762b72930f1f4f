/* Tests of src/db/persist_dqlite.c: the dqlite backend of persist.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "db/dqc.h"
#include "db/dqnode.h"
#include "db/persist.h"
#include "util/xalloc.h"

struct fx {
	char dir[64];
	char addr[64];
	struct persist *p;
};

/* What a load returned, in load order. */
struct rows {
	size_t n, cap;
	char **cls, **ref, **data;
	int stop_after;
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

static struct persist *
open_at(const char *dir, const char *addr)
{
	struct persist_dqlite_config cfg = {dir, addr, 0, 10, NULL};
	char *err = NULL;
	struct persist *p = persist_dqlite_open(&cfg, &err);

	if (!p)
		fail_msg("persist_dqlite_open: %s", err);
	return p;
}

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/xapid-test-persist-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->addr, sizeof(f->addr), "@xapid-test-persist-%d-%d",
		 (int)getpid(), test_seq++);
	f->p = open_at(f->dir, f->addr);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	persist_close(f->p);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void
reopen(struct fx *f)
{
	persist_close(f->p);
	f->p = NULL;
	f->p = open_at(f->dir, f->addr);
}

static int
rows_cb(void *ctx, const char *cls, const char *ref, const char *data)
{
	struct rows *r = ctx;

	if (r->stop_after && r->n >= (size_t)r->stop_after)
		return -1;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->cls = xrealloc(r->cls, r->cap * sizeof(char *));
		r->ref = xrealloc(r->ref, r->cap * sizeof(char *));
		r->data = xrealloc(r->data, r->cap * sizeof(char *));
	}
	r->cls[r->n] = xstrdup(cls);
	r->ref[r->n] = xstrdup(ref);
	r->data[r->n] = xstrdup(data);
	r->n++;
	return 0;
}

static void
rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->cls[i]);
		free(r->ref[i]);
		free(r->data[i]);
	}
	free(r->cls);
	free(r->ref);
	free(r->data);
	memset(r, 0, sizeof(*r));
}

static uint64_t
load(struct persist *p, struct rows *r)
{
	uint64_t gen = UINT64_MAX;
	char *err = NULL;

	memset(r, 0, sizeof(*r));
	if (persist_load(p, rows_cb, r, &gen, &err) < 0)
		fail_msg("load: %s", err);
	return gen;
}

/* The data of ref in r, or NULL. */
static const char *
find(const struct rows *r, const char *ref)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->ref[i], ref) == 0)
			return r->data[i];
	return NULL;
}

static void
commit_ok(struct persist *p, const struct persist_op *ops, size_t n,
	  uint64_t gen)
{
	char *err = NULL;

	if (persist_commit(p, ops, n, gen, &err) < 0)
		fail_msg("commit: %s", err);
}

#define PUT(c, r, d) {PERSIST_PUT, c, r, d}
#define DEL(r) {PERSIST_DEL, "VM", r, NULL}

static void
test_fresh_and_reload(void **state)
{
	struct fx *f = *state;
	struct rows r;
	struct persist_op ops[] = {
		PUT("VM", "OpaqueRef:a", "{\"name_label\":\"a\"}"),
		PUT("host", "OpaqueRef:h", "{\"hostname\":\"h\"}"),
	};

	assert_string_equal(f->p->ops->name, "dqlite");
	assert_int_equal(load(f->p, &r), 0);
	assert_int_equal(r.n, 0);
	rows_free(&r);
	commit_ok(f->p, ops, 2, 7);
	assert_int_equal(load(f->p, &r), 7);
	assert_int_equal(r.n, 2);
	assert_string_equal(find(&r, "OpaqueRef:a"), "{\"name_label\":\"a\"}");
	rows_free(&r);
	/* Durable across a restart of the node. */
	reopen(f);
	assert_int_equal(load(f->p, &r), 7);
	assert_int_equal(r.n, 2);
	for (size_t i = 0; i < r.n; i++)
		if (strcmp(r.ref[i], "OpaqueRef:h") == 0)
			assert_string_equal(r.cls[i], "host");
	assert_string_equal(find(&r, "OpaqueRef:h"), "{\"hostname\":\"h\"}");
	rows_free(&r);
}

static void
test_batch_order(void **state)
{
	struct fx *f = *state;
	struct rows r;
	struct persist_op ops[] = {
		PUT("VM", "OpaqueRef:a", "a1"), PUT("VM", "OpaqueRef:b", "b1"),
		DEL("OpaqueRef:a"),		PUT("VM", "OpaqueRef:b", "b2"),
		PUT("VM", "OpaqueRef:c", "c1"), DEL("OpaqueRef:nobody"),
		PUT("VM", "OpaqueRef:a", "a2"), DEL("OpaqueRef:c"),
	};

	commit_ok(f->p, ops, 6, 1); /* up to DEL nobody */
	assert_int_equal(load(f->p, &r), 1);
	assert_int_equal(r.n, 2);
	assert_null(find(&r, "OpaqueRef:a"));
	assert_string_equal(find(&r, "OpaqueRef:b"), "b2");
	assert_string_equal(find(&r, "OpaqueRef:c"), "c1");
	rows_free(&r);
	commit_ok(f->p, ops + 6, 2, 2);
	assert_int_equal(load(f->p, &r), 2);
	assert_int_equal(r.n, 2);
	assert_string_equal(find(&r, "OpaqueRef:a"), "a2");
	assert_null(find(&r, "OpaqueRef:c"));
	rows_free(&r);
	/* An empty batch still records the generation. */
	commit_ok(f->p, NULL, 0, 3);
	assert_int_equal(load(f->p, &r), 3);
	rows_free(&r);
}

/* A trigger (installed through a second connection) makes the server refuse
 * one row: the batch holding it must leave no trace. */
static void
test_atomic_failure(void **state)
{
	struct fx *f = *state;
	const char *addr = f->addr;
	char *err = NULL;
	struct dqc *c = dqc_connect_leader(&addr, 1, 5000, 5000, &err);
	struct rows r;
	struct persist_op base[] = {PUT("VM", "OpaqueRef:keep", "keep")};
	struct persist_op bad[] = {
		PUT("VM", "OpaqueRef:ok1", "ok1"),
		DEL("OpaqueRef:keep"),
		PUT("VM", "OpaqueRef:poison", "x"),
	};
	struct persist_op good[] = {PUT("VM", "OpaqueRef:ok2", "ok2")};

	assert_non_null(c);
	assert_int_equal(dqc_open(c, "xapi", &err), 0);
	assert_int_equal(dqc_exec(c, "CREATE TRIGGER poison BEFORE INSERT ON "
				  "obj WHEN NEW.ref = 'OpaqueRef:poison' "
				  "BEGIN SELECT RAISE(ABORT, 'poisoned row'); "
				  "END", NULL, 0, NULL, NULL, &err), 0);
	commit_ok(f->p, base, 1, 10);
	assert_int_equal(persist_commit(f->p, bad, 3, 11, &err), -1);
	assert_non_null(strstr(err, "poisoned row"));
	free(err);
	err = NULL;
	assert_int_equal(load(f->p, &r), 10);
	assert_int_equal(r.n, 1);
	assert_string_equal(find(&r, "OpaqueRef:keep"), "keep");
	rows_free(&r);
	/* The next batch commits alone: nothing of the failed one rides on. */
	commit_ok(f->p, good, 1, 12);
	assert_int_equal(load(f->p, &r), 12);
	assert_int_equal(r.n, 2);
	assert_null(find(&r, "OpaqueRef:ok1"));
	assert_string_equal(find(&r, "OpaqueRef:ok2"), "ok2");
	rows_free(&r);
	/* replace_all is all-or-nothing too. */
	assert_int_equal(persist_replace_all(f->p, bad, 3, 20, &err), -1);
	free(err);
	assert_int_equal(load(f->p, &r), 12);
	assert_int_equal(r.n, 2);
	rows_free(&r);
	/* Seen the same from the other connection, and after a restart. */
	dqc_close(c);
	reopen(f);
	assert_int_equal(load(f->p, &r), 12);
	assert_int_equal(r.n, 2);
	rows_free(&r);
}

static void
test_replace_all(void **state)
{
	struct fx *f = *state;
	struct rows r;
	struct persist_op old[] = {PUT("VM", "OpaqueRef:1", "one"),
				   PUT("VM", "OpaqueRef:2", "two")};
	struct persist_op repl[] = {PUT("SR", "OpaqueRef:3", "three"),
				    PUT("VM", "OpaqueRef:2", "TWO")};
	char *err = NULL;

	commit_ok(f->p, old, 2, 5);
	assert_int_equal(persist_replace_all(f->p, repl, 2, 100, &err), 0);
	assert_int_equal(load(f->p, &r), 100);
	assert_int_equal(r.n, 2);
	assert_null(find(&r, "OpaqueRef:1"));
	assert_string_equal(find(&r, "OpaqueRef:2"), "TWO");
	assert_string_equal(find(&r, "OpaqueRef:3"), "three");
	rows_free(&r);
	assert_int_equal(persist_replace_all(f->p, NULL, 0, 101, &err), 0);
	assert_int_equal(load(f->p, &r), 101);
	assert_int_equal(r.n, 0);
	rows_free(&r);
}

static void
test_weird_and_large_rows(void **state)
{
	struct fx *f = *state;
	static const char piece[] =
		"{\"k\":\"'); DROP TABLE obj; --\",\"q\":\"\\\"\\\\\",\"u\":"
		"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x92\xbe \xe6\x97\xa5\","
		"\"nl\":\"a\nb\tc\"}?;'\"";
	size_t size = 200 * 1024, o = 0;
	char *big = xmalloc(size + sizeof(piece));
	struct rows r;
	struct persist_op ops[3];

	while (o + sizeof(piece) < size) {
		memcpy(big + o, piece, sizeof(piece) - 1);
		o += sizeof(piece) - 1;
	}
	big[o] = '\0';
	ops[0] = (struct persist_op)PUT("VM", "OpaqueRef:'big\"", big);
	ops[1] = (struct persist_op)PUT("V'M", "OpaqueRef:small", piece);
	ops[2] = (struct persist_op)PUT("VM", "OpaqueRef:empty", "");
	commit_ok(f->p, ops, 3, 1);
	reopen(f);
	assert_int_equal(load(f->p, &r), 1);
	assert_int_equal(r.n, 3);
	assert_string_equal(find(&r, "OpaqueRef:'big\""), big);
	assert_string_equal(find(&r, "OpaqueRef:small"), piece);
	assert_string_equal(find(&r, "OpaqueRef:empty"), "");
	rows_free(&r);
	free(big);
}

static void
test_bad_input(void **state)
{
	struct fx *f = *state;
	struct persist_op ops[] = {PUT("VM", "OpaqueRef:x", "x"),
				   PUT("VM", "OpaqueRef:y", NULL)};
	struct persist_op some[40];
	struct rows r = {0};
	uint64_t gen = 0;
	char *err = NULL;

	assert_int_equal(persist_commit(f->p, ops, 2, 1, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_int_equal(load(f->p, &r), 0);
	assert_int_equal(r.n, 0);
	rows_free(&r);
	/* A load callback that stops makes the load fail. */
	for (int i = 0; i < 40; i++) {
		char *ref = xasprintf("OpaqueRef:%d", i);
		some[i] = (struct persist_op)PUT("VM", ref, "d");
	}
	commit_ok(f->p, some, 40, 2);
	for (int i = 0; i < 40; i++)
		free((char *)some[i].ref);
	r.stop_after = 5;
	assert_int_equal(persist_load(f->p, rows_cb, &r, &gen, &err), -1);
	assert_non_null(strstr(err, "callback"));
	free(err);
	assert_int_equal(r.n, 5);
	rows_free(&r);
	/* And the backend still works. */
	assert_int_equal(load(f->p, &r), 2);
	assert_int_equal(r.n, 40);
	rows_free(&r);
}

struct thr {
	struct persist *p;
	int id;
};

static void *
thr_main(void *arg)
{
	struct thr *t = arg;

	for (int i = 0; i < 25; i++) {
		char ref[64], *err = NULL;
		struct persist_op op = PUT("VM", ref, "t");
		snprintf(ref, sizeof(ref), "OpaqueRef:t%d-%d", t->id, i);
		if (persist_commit(t->p, &op, 1, (uint64_t)(t->id * 100 + i),
				   &err) < 0) {
			free(err);
			return (void *)1;
		}
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fx *f = *state;
	pthread_t th[4];
	struct thr t[4];
	struct rows r;
	void *rv;

	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){f->p, i};
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &t[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &rv), 0);
		assert_null(rv);
	}
	load(f->p, &r);
	assert_int_equal(r.n, 100);
	rows_free(&r);
}

/* A free TCP port on 127.0.0.1 (bound and released). */
static int
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static void
test_tcp_address(void **state)
{
	char dir[64], addr[32];
	struct persist *p;
	struct persist_op op = PUT("VM", "OpaqueRef:tcp", "over tcp");
	struct rows r;

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", free_port());
	snprintf(dir, sizeof(dir), "/tmp/xapid-test-persist-XXXXXX");
	assert_non_null(mkdtemp(dir));
	p = open_at(dir, addr);
	commit_ok(p, &op, 1, 1);
	persist_close(p);
	p = open_at(dir, addr);
	assert_int_equal(load(p, &r), 1);
	assert_string_equal(find(&r, "OpaqueRef:tcp"), "over tcp");
	rows_free(&r);
	persist_close(p);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Leadership moves to another node of a two-node cluster: commits and
 * loads follow it (the first attempt meets "not leader" and is retried on
 * a connection to the new leader). */
static void
test_leader_moves(void **state)
{
	char dir1[64], dir2[64], a1[32], a2[32], *err = NULL;
	struct dqnode_config nc = {dir2, a2, 2, 10, 0, 0};
	struct persist *p;
	struct dqnode *n2;
	struct dqc *c;
	const char *addr;
	struct persist_op op1 = PUT("VM", "OpaqueRef:before", "1");
	struct persist_op op2 = PUT("VM", "OpaqueRef:after", "2");
	struct rows r;
	uint64_t id = 0;
	char *lead = NULL;

	(void)state;
	snprintf(dir1, sizeof(dir1), "/tmp/xapid-test-persist-XXXXXX");
	snprintf(dir2, sizeof(dir2), "/tmp/xapid-test-persist-XXXXXX");
	assert_non_null(mkdtemp(dir1));
	assert_non_null(mkdtemp(dir2));
	snprintf(a1, sizeof(a1), "127.0.0.1:%d", free_port());
	snprintf(a2, sizeof(a2), "127.0.0.1:%d", free_port());
	p = open_at(dir1, a1);
	commit_ok(p, &op1, 1, 1);
	n2 = dqnode_start(&nc, &err);
	if (!n2)
		fail_msg("dqnode_start: %s", err);
	addr = a1;
	c = dqc_connect_leader(&addr, 1, 5000, 5000, &err);
	assert_non_null(c);
	if (dqc_add(c, 2, a2, &err) < 0 ||
	    dqc_assign(c, 2, DQC_VOTER, &err) < 0 ||
	    dqc_transfer(c, 2, &err) < 0)
		fail_msg("membership: %s", err);
	dqc_close(c);
	addr = a2;
	c = dqc_connect_leader(&addr, 1, 5000, 5000, &err);
	assert_non_null(c);
	assert_int_equal(dqc_leader(c, &id, &lead, &err), 0);
	assert_int_equal(id, 2);
	free(lead);
	dqc_close(c);
	commit_ok(p, &op2, 1, 2);
	assert_int_equal(load(p, &r), 2);
	assert_int_equal(r.n, 2);
	assert_string_equal(find(&r, "OpaqueRef:after"), "2");
	rows_free(&r);
	persist_close(p);
	dqnode_stop(n2);
	nftw(dir1, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(dir2, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Counts rows and bytes of a load without keeping them. */
static int
tally_cb(void *ctx, const char *cls, const char *ref, const char *data)
{
	uint64_t *t = ctx;

	(void)cls;
	(void)ref;
	t[0]++;
	t[1] += strlen(data);
	return 0;
}

static double
timed_load(struct persist *p, uint64_t nrows, uint64_t bytes)
{
	uint64_t t[2] = {0, 0}, gen;
	char *err = NULL;
	double t0 = now_s(), dt;

	if (persist_load(p, tally_cb, t, &gen, &err) < 0)
		fail_msg("load: %s", err);
	dt = now_s() - t0;
	assert_int_equal(t[0], nrows);
	assert_int_equal(t[1], bytes);
	return dt;
}

/* Rows of the scale test: 50,000, except under AddressSanitizer, whose
 * realloc (no mremap) makes libdqlite's growing buffers crawl; there 12,500
 * rows (25 MB) still overflow SQLite's page cache inside one transaction.
 * XAPID_TEST_ROWS overrides. */
static int
scale_rows(void)
{
	const char *env = getenv("XAPID_TEST_ROWS");
	int sanitized = 0;

#if defined(__SANITIZE_ADDRESS__)
	sanitized = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	sanitized = 1;
#endif
#endif
	if (env && atoi(env) >= 1000)
		return atoi(env) / 1000 * 1000;
	return sanitized ? 12500 : 50000;
}

/* 50,000 rows of 1-3 KB: commit latency, bulk writes, restart, load time. */
static void
test_scale_50k(void **state)
{
	struct fx *f = *state;
	enum { BATCH = 500 };
	const int N = scale_rows();
	struct persist_op *ops = xcalloc((size_t)N, sizeof(*ops));
	char *text = xmalloc(3100), *err = NULL;
	uint64_t bytes = 0;
	double t0, lat[200], dt, dt_restart, dt_load, dt_repl;

	for (int i = 0; i < 3099; i++)
		text[i] = (char)('a' + (i * 7 + i / 13) % 26);
	text[3099] = '\0';
	for (int i = 0; i < N; i++) {
		size_t len = 1024 + (size_t)(i * 7919) % 2048;
		ops[i].kind = PERSIST_PUT;
		ops[i].cls = "VM";
		ops[i].ref = xasprintf("OpaqueRef:%08d", i);
		ops[i].data = text + 3099 - len;
		bytes += len;
	}
	/* Latency of small commits (one row each). */
	for (int i = 0; i < 200; i++) {
		t0 = now_s();
		commit_ok(f->p, &ops[i], 1, (uint64_t)i + 1);
		lat[i] = now_s() - t0;
	}
	for (int i = 0; i < 200; i++) /* sort for the median */
		for (int j = i + 1; j < 200; j++)
			if (lat[j] < lat[i]) {
				dt = lat[i];
				lat[i] = lat[j];
				lat[j] = dt;
			}
	t0 = now_s();
	for (int i = 0; i < N; i += BATCH)
		commit_ok(f->p, ops + i, BATCH, 1000 + (uint64_t)i);
	dt = now_s() - t0;
	persist_close(f->p);
	f->p = NULL;
	t0 = now_s();
	f->p = open_at(f->dir, f->addr);
	dt_restart = now_s() - t0;
	dt_load = timed_load(f->p, N, bytes);
	print_message("persist figures: commit of 1 row median %.2f ms, p90 "
		      "%.2f ms; %d commits of %d rows %.2f s; restart %.2f s; "
		      "load %d rows (%.0f MB) %.3f s\n",
		      lat[100] * 1e3, lat[180] * 1e3, N / BATCH, (int)BATCH,
		      dt, dt_restart, N, (double)bytes / 1e6, dt_load);
	assert_true(dt_load < 2.0);
	/* The whole set again as one transaction (database restore). */
	t0 = now_s();
	if (persist_replace_all(f->p, ops, N, 1000000, &err) < 0)
		fail_msg("replace_all: %s", err);
	dt_repl = now_s() - t0;
	reopen(f);
	dt_load = timed_load(f->p, N, bytes);
	print_message("persist figures: replace_all of %d rows %.2f s; load "
		      "after restart %.3f s\n", N, dt_repl, dt_load);
	assert_true(dt_load < 2.0);
	for (int i = 0; i < N; i++)
		free((char *)ops[i].ref);
	free(ops);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_and_reload, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_batch_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_atomic_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replace_all, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_weird_and_large_rows,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test(test_tcp_address),
		cmocka_unit_test(test_leader_moves),
		cmocka_unit_test_setup_teardown(test_scale_50k, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
