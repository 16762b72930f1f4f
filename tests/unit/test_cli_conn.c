/* Unit tests for src/rpc/cli_conn.c: a fake xe client thread on a socketpair.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rpc/cli_conn.h"
#include "util/buf.h"
#include "util/cliproto.h"

/*
 * The fake client: does the handshake (unless told otherwise), then runs
 * its script and records what the server sent in log, one line per
 * message ("Print hello", "Error CODE [a|b]", ...).
 */
struct fake {
	int fd;
	struct cliproto_stream s;
	void (*script)(struct fake *f);
	int32_t major; /* version it announces */
	struct buf log;
	int failed; /* a protocol step failed on the client side */
};

struct env {
	int fd[2];
	struct cli_conn conn;
	struct fake fake;
	pthread_t thread;
};

/* Reads one message into the log; returns its type or -1. */
static int
fake_read(struct fake *f, struct cliproto_msg *m)
{
	size_t i;

	if (cliproto_read_msg(&f->s, m) != 1) {
		f->failed = 1;
		return -1;
	}
	buf_addf(&f->log, "%s", cliproto_type_name(m->type));
	if (m->text)
		buf_addf(&f->log, " %s", m->text);
	if (m->url)
		buf_addf(&f->log, " %s", m->url);
	if (m->type == CLIPROTO_EXIT)
		buf_addf(&f->log, " %d", (int)m->num);
	if (m->type == CLIPROTO_ERROR) {
		buf_adds(&f->log, " [");
		for (i = 0; i < m->nparams; i++)
			buf_addf(&f->log, "%s%s", i ? "|" : "", m->params[i]);
		buf_adds(&f->log, "]");
	}
	buf_addc(&f->log, '\n');
	return (int)m->type;
}

/* Reads messages until Exit or end of stream. */
static void
fake_drain(struct fake *f)
{
	struct cliproto_msg m;
	int t;

	do {
		t = fake_read(f, &m);
		cliproto_msg_free(&m);
	} while (t >= 0 && t != CLIPROTO_EXIT);
}

/* Reads one message, expecting the given type. */
static void
fake_expect(struct fake *f, enum cliproto_type type)
{
	struct cliproto_msg m;

	if (fake_read(f, &m) != (int)type)
		f->failed = 1;
	cliproto_msg_free(&m);
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	struct buf hs = BUF_INIT;
	int32_t major, minor;
	unsigned char v[8] = {0};

	cliproto_stream_init_fd(&f->s, f->fd, 5000);
	if (cliproto_read_handshake(&f->s, &major, &minor) < 0 || major != 0 ||
	    minor != 2) {
		f->failed = 1;
		return NULL;
	}
	v[0] = (unsigned char)f->major;
	v[4] = 2;
	buf_adds(&hs, CLIPROTO_PREFIX);
	buf_add(&hs, v, sizeof(v));
	if (cliproto_write_raw(&f->s, hs.data, hs.len) < 0)
		f->failed = 1;
	buf_free(&hs);
	if (f->script)
		f->script(f);
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

static int
setup_env(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, e->fd), 0);
	cli_conn_init(&e->conn, e->fd[0]);
	e->fake.fd = e->fd[1];
	*state = e;
	return 0;
}

/* Starts the fake client with script. */
static void
start(struct env *e, void (*script)(struct fake *), int32_t major)
{
	e->fake.script = script;
	e->fake.major = major;
	assert_int_equal(pthread_create(&e->thread, NULL, fake_main, &e->fake),
	                 0);
}

/* Waits for the fake client to finish; returns its log. */
static const char *
finish(struct env *e)
{
	shutdown(e->fd[0], SHUT_WR);
	pthread_join(e->thread, NULL);
	assert_false(e->fake.failed);
	return e->fake.log.data ? e->fake.log.data : "";
}

static int
teardown_env(void **state)
{
	struct env *e = *state;

	close(e->fd[0]);
	close(e->fd[1]);
	buf_free(&e->fake.log);
	free(e);
	return 0;
}

static void
test_cli_conn_output(void **state)
{
	struct env *e = *state;
	const char *params[] = {"a", "b c"};

	start(e, fake_drain, 0);
	assert_int_equal(cli_conn_handshake(&e->conn), 0);
	assert_int_equal(e->conn.client_major, 0);
	assert_int_equal(e->conn.client_minor, 2);
	assert_int_equal(cli_conn_print(&e->conn, "hello"), 0);
	assert_int_equal(cli_conn_printerr(&e->conn, "oops\n"), 0);
	assert_int_equal(cli_conn_debug(&e->conn, "dbg"), 0);
	assert_int_equal(cli_conn_error(&e->conn, "SOME_ERROR", params, 2), 0);
	assert_int_equal(cli_conn_exit(&e->conn, 1), 0);
	assert_string_equal(finish(e), "Print hello\n"
	                               "PrintStderr oops\n\n"
	                               "Debug dbg\n"
	                               "Error SOME_ERROR [a|b c]\n"
	                               "Exit 1\n");
}

static void
test_cli_conn_bad_version(void **state)
{
	struct env *e = *state;

	start(e, NULL, 1);
	assert_int_equal(cli_conn_handshake(&e->conn), -1);
	assert_true(e->conn.broken);
	assert_non_null(strstr(e->conn.err, "version 1.2"));
	assert_int_equal(cli_conn_print(&e->conn, "x"), -1);
	finish(e);
}

static void
script_load_ok(struct fake *f)
{
	fake_expect(f, CLIPROTO_LOAD);
	cliproto_write_response(&f->s, CLIPROTO_OK);
	cliproto_write_chunk(&f->s, "abc", 3);
	cliproto_write_chunk(&f->s, "", 0);
	cliproto_write_chunk(&f->s, "de\0f", 4);
	cliproto_write_end(&f->s);
	fake_expect(f, CLIPROTO_LOAD);
	cliproto_write_response(&f->s, CLIPROTO_FAILED);
	fake_drain(f);
}

static void
test_cli_conn_load(void **state)
{
	struct env *e = *state;
	struct buf b = BUF_INIT;

	start(e, script_load_ok, 0);
	assert_int_equal(cli_conn_handshake(&e->conn), 0);
	assert_int_equal(cli_conn_load(&e->conn, "f.txt", &b), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.data, "abcde\0f", 7);
	buf_reset(&b);
	assert_int_equal(cli_conn_load(&e->conn, "missing", &b), -1);
	assert_false(e->conn.broken);
	assert_non_null(strstr(e->conn.err, "missing"));
	assert_int_equal(cli_conn_exit(&e->conn, 0), 0);
	assert_string_equal(finish(e), "Load f.txt\nLoad missing\nExit 0\n");
	buf_free(&b);
}

static void
script_load_big(struct fake *f)
{
	char block[64] = {0};

	fake_expect(f, CLIPROTO_LOAD);
	cliproto_write_response(&f->s, CLIPROTO_OK);
	cliproto_write_chunk(&f->s, block, sizeof(block));
	cliproto_write_chunk(&f->s, block, sizeof(block));
	cliproto_write_end(&f->s);
}

static void
test_cli_conn_load_too_big(void **state)
{
	struct env *e = *state;
	struct buf b = BUF_INIT;

	start(e, script_load_big, 0);
	e->conn.load_max = 100;
	assert_int_equal(cli_conn_handshake(&e->conn), 0);
	assert_int_equal(cli_conn_load(&e->conn, "big", &b), -1);
	assert_true(e->conn.broken);
	finish(e);
	buf_free(&b);
}

static void
script_load_unexpected(struct fake *f)
{
	fake_expect(f, CLIPROTO_LOAD);
	cliproto_write_response(&f->s, CLIPROTO_WAIT);
}

static void
test_cli_conn_load_unexpected(void **state)
{
	struct env *e = *state;
	struct buf b = BUF_INIT;

	start(e, script_load_unexpected, 0);
	assert_int_equal(cli_conn_handshake(&e->conn), 0);
	assert_int_equal(cli_conn_load(&e->conn, "f", &b), -1);
	assert_true(e->conn.broken);
	assert_non_null(strstr(e->conn.err, "Response Wait"));
	finish(e);
	buf_free(&b);
}

static void
script_prompt(struct fake *f)
{
	fake_expect(f, CLIPROTO_PRINT);
	fake_expect(f, CLIPROTO_PROMPT);
	cliproto_write_chunk(&f->s, "ye", 2);
	cliproto_write_chunk(&f->s, "s", 1);
	cliproto_write_end(&f->s);
	fake_expect(f, CLIPROTO_PROMPT);
	cliproto_write_end(&f->s);
	fake_drain(f);
}

static void
test_cli_conn_prompt(void **state)
{
	struct env *e = *state;
	struct buf line = BUF_INIT;

	start(e, script_prompt, 0);
	assert_int_equal(cli_conn_handshake(&e->conn), 0);
	assert_int_equal(cli_conn_print(&e->conn, "Type 'yes' to continue"), 0);
	assert_int_equal(cli_conn_prompt(&e->conn, &line), 0);
	assert_string_equal(line.data, "yes");
	assert_int_equal(cli_conn_prompt(&e->conn, &line), 0);
	assert_string_equal(line.data, "");
	assert_int_equal(cli_conn_exit(&e->conn, 0), 0);
	finish(e);
	buf_free(&line);
}

static void
script_http(struct fake *f)
{
	fake_expect(f, CLIPROTO_HTTP_GET);
	cliproto_write_response(&f->s, CLIPROTO_WAIT);
	cliproto_write_response(&f->s, CLIPROTO_WAIT);
	cliproto_write_response(&f->s, CLIPROTO_OK);
	fake_expect(f, CLIPROTO_HTTP_PUT);
	cliproto_write_response(&f->s, CLIPROTO_WAIT);
	cliproto_write_response(&f->s, CLIPROTO_FAILED);
	fake_expect(f, CLIPROTO_HTTP_PUT);
	cliproto_write_response(&f->s, CLIPROTO_OK);
	fake_expect(f, CLIPROTO_HTTP_GET);
	/* and hangs up without answering */
}

static void
test_cli_conn_http(void **state)
{
	struct env *e = *state;

	start(e, script_http, 0);
	assert_int_equal(cli_conn_handshake(&e->conn), 0);
	assert_int_equal(cli_conn_http_get(&e->conn, "", "/export?t=1"), 0);
	assert_int_equal(cli_conn_http_put(&e->conn, "f.xva", "/import"), -1);
	assert_false(e->conn.broken);
	assert_int_equal(cli_conn_http_put(&e->conn, "f.xva", "/import"), 0);
	assert_int_equal(cli_conn_http_get(&e->conn, "out", "/x"), -1);
	assert_true(e->conn.broken);
	assert_string_equal(finish(e), "HttpGet  /export?t=1\n"
	                               "HttpPut f.xva /import\n"
	                               "HttpPut f.xva /import\n"
	                               "HttpGet out /x\n");
}

static void
script_silent(struct fake *f)
{
	fake_expect(f, CLIPROTO_HTTP_GET);
	fake_drain(f); /* waits for the server to give up */
}

static void
test_cli_conn_timeout(void **state)
{
	struct env *e = *state;

	start(e, script_silent, 0);
	e->conn.io.timeout_ms = 100;
	assert_int_equal(cli_conn_handshake(&e->conn), 0);
	assert_int_equal(cli_conn_http_get(&e->conn, "", "/slow"), -1);
	assert_true(e->conn.broken);
	assert_non_null(strstr(e->conn.err, "timed out"));
	/* the client's drain ends (with an error) at our shutdown */
	shutdown(e->fd[0], SHUT_WR);
	pthread_join(e->thread, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cli_conn_output, setup_env,
	                                    teardown_env),
	    cmocka_unit_test_setup_teardown(test_cli_conn_bad_version,
	                                    setup_env, teardown_env),
	    cmocka_unit_test_setup_teardown(test_cli_conn_load, setup_env,
	                                    teardown_env),
	    cmocka_unit_test_setup_teardown(test_cli_conn_load_too_big,
	                                    setup_env, teardown_env),
	    cmocka_unit_test_setup_teardown(test_cli_conn_load_unexpected,
	                                    setup_env, teardown_env),
	    cmocka_unit_test_setup_teardown(test_cli_conn_prompt, setup_env,
	                                    teardown_env),
	    cmocka_unit_test_setup_teardown(test_cli_conn_http, setup_env,
	                                    teardown_env),
	    cmocka_unit_test_setup_teardown(test_cli_conn_timeout, setup_env,
	                                    teardown_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
