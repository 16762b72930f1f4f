/* Unit tests for src/util/cliproto.c: every message over a socketpair. */
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

#include "util/cliproto.h"

/* Two connected streams: w writes to r. */
struct pair {
	int fd[2];
	struct cliproto_stream w;
	struct cliproto_stream r;
};

static int
setup_pair(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
	cliproto_stream_init_fd(&p->w, p->fd[0], 2000);
	cliproto_stream_init_fd(&p->r, p->fd[1], 2000);
	*state = p;
	return 0;
}

static int
teardown_pair(void **state)
{
	struct pair *p = *state;

	if (p->fd[0] >= 0)
		close(p->fd[0]);
	close(p->fd[1]);
	free(p);
	return 0;
}

/* Reads one message and checks its type. */
static void
read_expect(struct pair *p, struct cliproto_msg *m, enum cliproto_type type)
{
	assert_int_equal(cliproto_read_msg(&p->r, m), 1);
	assert_int_equal(m->type, type);
}

static void
test_cliproto_commands(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;
	const char *params[] = {"OpaqueRef:abc", "", "x, y"};
	struct cliproto_msg bin = {.type = CLIPROTO_PRINT};

	assert_int_equal(cliproto_write_print(&p->w, "hello"), 0);
	assert_int_equal(cliproto_write_print_stderr(&p->w, "err\n"), 0);
	assert_int_equal(cliproto_write_debug(&p->w, ""), 0);
	assert_int_equal(cliproto_write_load(&p->w, "/tmp/f"), 0);
	assert_int_equal(cliproto_write_prompt(&p->w), 0);
	assert_int_equal(cliproto_write_exit(&p->w, -3), 0);
	assert_int_equal(cliproto_write_http_get(&p->w, "", "/export?a=b"), 0);
	assert_int_equal(cliproto_write_http_put(&p->w, "f.xva", "https://h/i"),
	                 0);
	assert_int_equal(cliproto_write_http_connect(&p->w, "/console"), 0);
	assert_int_equal(cliproto_write_error(&p->w, "VM_BAD", params, 3), 0);
	assert_int_equal(cliproto_write_error(&p->w, "NONE", NULL, 0), 0);
	bin.text = "a\0b";
	bin.text_len = 3;
	assert_int_equal(cliproto_write_msg(&p->w, &bin), 0);

	read_expect(p, &m, CLIPROTO_PRINT);
	assert_string_equal(m.text, "hello");
	assert_int_equal(m.text_len, 5);
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_PRINT_STDERR);
	assert_string_equal(m.text, "err\n");
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_DEBUG);
	assert_string_equal(m.text, "");
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_LOAD);
	assert_string_equal(m.text, "/tmp/f");
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_PROMPT);
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_EXIT);
	assert_int_equal(m.num, -3);
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_HTTP_GET);
	assert_string_equal(m.text, "");
	assert_string_equal(m.url, "/export?a=b");
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_HTTP_PUT);
	assert_string_equal(m.text, "f.xva");
	assert_string_equal(m.url, "https://h/i");
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_HTTP_CONNECT);
	assert_string_equal(m.url, "/console");
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_ERROR);
	assert_string_equal(m.text, "VM_BAD");
	assert_int_equal(m.nparams, 3);
	assert_string_equal(m.params[0], "OpaqueRef:abc");
	assert_string_equal(m.params[1], "");
	assert_string_equal(m.params[2], "x, y");
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_ERROR);
	assert_string_equal(m.text, "NONE");
	assert_int_equal(m.nparams, 0);
	cliproto_msg_free(&m);
	read_expect(p, &m, CLIPROTO_PRINT);
	assert_int_equal(m.text_len, 3);
	assert_memory_equal(m.text, "a\0b", 4);
	cliproto_msg_free(&m);
}

static void
test_cliproto_responses_and_blobs(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;
	char data[5];

	assert_int_equal(cliproto_write_response(&p->w, CLIPROTO_OK), 0);
	assert_int_equal(cliproto_write_response(&p->w, CLIPROTO_FAILED), 0);
	assert_int_equal(cliproto_write_response(&p->w, CLIPROTO_WAIT), 0);
	assert_int_equal(cliproto_write_response(&p->w, CLIPROTO_PRINT), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(cliproto_write_chunk(&p->w, "ab\0cd", 5), 0);
	assert_int_equal(cliproto_write_chunk(&p->w, "", 0), 0);
	assert_int_equal(cliproto_write_end(&p->w), 0);

	read_expect(p, &m, CLIPROTO_OK);
	read_expect(p, &m, CLIPROTO_FAILED);
	read_expect(p, &m, CLIPROTO_WAIT);
	read_expect(p, &m, CLIPROTO_CHUNK);
	assert_int_equal(m.num, 5);
	assert_int_equal(cliproto_read_raw(&p->r, data, 5), 0);
	assert_memory_equal(data, "ab\0cd", 5);
	read_expect(p, &m, CLIPROTO_CHUNK);
	assert_int_equal(m.num, 0);
	read_expect(p, &m, CLIPROTO_END);
	cliproto_msg_free(&m);
}

/* The exact bytes xapi's marshal produces. */
static void
test_cliproto_wire_bytes(void **state)
{
	struct pair *p = *state;
	static const unsigned char print_hi[] = {
	    14, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 'h', 'i'};
	static const unsigned char exit1[] = {12, 0, 0, 0, 9, 0, 0, 0,
	                                      4,  0, 0, 0, 1, 0, 0, 0};
	static const unsigned char wait[] = {8, 0, 0,  0, 10, 0,
	                                     0, 0, 18, 0, 0,  0};
	static const unsigned char chunk[] = {12, 0, 0, 0, 11, 0, 0, 0,
	                                      7,  0, 0, 0, 0,  1, 0, 0};
	unsigned char got[64];

	assert_int_equal(cliproto_write_print(&p->w, "hi"), 0);
	assert_int_equal(read(p->fd[1], got, sizeof(print_hi)),
	                 sizeof(print_hi));
	assert_memory_equal(got, print_hi, sizeof(print_hi));
	assert_int_equal(cliproto_write_exit(&p->w, 1), 0);
	assert_int_equal(read(p->fd[1], got, sizeof(exit1)), sizeof(exit1));
	assert_memory_equal(got, exit1, sizeof(exit1));
	assert_int_equal(cliproto_write_response(&p->w, CLIPROTO_WAIT), 0);
	assert_int_equal(read(p->fd[1], got, sizeof(wait)), sizeof(wait));
	assert_memory_equal(got, wait, sizeof(wait));
	assert_int_equal(cliproto_write_chunk_header(&p->w, 256), 0);
	assert_int_equal(read(p->fd[1], got, sizeof(chunk)), sizeof(chunk));
	assert_memory_equal(got, chunk, sizeof(chunk));
}

static void
test_cliproto_handshake(void **state)
{
	struct pair *p = *state;
	int32_t major = -1, minor = -1;
	const char *bad = "HTTP/1.1 500 Internal Server Error\r\n\r\n";

	assert_int_equal(cliproto_write_handshake(&p->w), 0);
	assert_int_equal(cliproto_read_handshake(&p->r, &major, &minor), 0);
	assert_int_equal(major, 0);
	assert_int_equal(minor, 2);

	assert_int_equal(write(p->fd[0], bad, strlen(bad)), strlen(bad));
	assert_int_equal(cliproto_read_handshake(&p->r, &major, &minor), -1);
	assert_int_equal(errno, EPROTO);
}

/* Writes raw bytes to the reader's peer. */
static void
put_raw(struct pair *p, const void *b, size_t n)
{
	assert_int_equal(write(p->fd[0], b, n), (ssize_t)n);
}

static void
test_cliproto_truncated(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;
	/* declares 20 payload bytes, sends 8, then closes */
	static const unsigned char part[] = {20, 0, 0, 0, 9, 0,
	                                     0,  0, 0, 0, 0, 0};

	put_raw(p, part, sizeof(part));
	close(p->fd[0]);
	p->fd[0] = -1;
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, ECONNRESET);
	cliproto_msg_free(&m);
}

static void
test_cliproto_bad_inner_lengths(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;
	/* Print whose string claims 100 bytes inside a 12-byte payload */
	static const unsigned char s[] = {12, 0, 0, 0, 9,   0, 0, 0,
	                                  0,  0, 0, 0, 100, 0, 0, 0};
	/* Error with a parameter count of 2^30 */
	static const unsigned char e[] = {17, 0, 0, 0, 9, 0,   0, 0, 14, 0,   0,
	                                  0,  1, 0, 0, 0, 'X', 0, 0, 0,  0x40};
	/* Chunk with a negative length */
	static const unsigned char c[] = {12, 0, 0, 0, 11,   0,    0,    0,
	                                  7,  0, 0, 0, 0xff, 0xff, 0xff, 0xff};
	/* unknown tags */
	static const unsigned char u1[] = {8, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0};
	static const unsigned char u2[] = {8, 0, 0, 0, 12, 0, 0, 0, 5, 0, 0, 0};
	/* payload too short for a tag */
	static const unsigned char t[] = {2, 0, 0, 0, 9, 0};

	put_raw(p, s, sizeof(s));
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EPROTO);
	cliproto_msg_free(&m);
	put_raw(p, e, sizeof(e));
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EPROTO);
	cliproto_msg_free(&m);
	put_raw(p, c, sizeof(c));
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EPROTO);
	cliproto_msg_free(&m);
	put_raw(p, u1, sizeof(u1));
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EPROTO);
	cliproto_msg_free(&m);
	put_raw(p, u2, sizeof(u2));
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EPROTO);
	cliproto_msg_free(&m);
	put_raw(p, t, sizeof(t));
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EPROTO);
	cliproto_msg_free(&m);
}

static void
test_cliproto_oversized(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;
	uint32_t big = CLIPROTO_MAX_MSG + 1;
	unsigned char h[4] = {big & 0xff, (big >> 8) & 0xff, (big >> 16) & 0xff,
	                      big >> 24};
	static const unsigned char neg[4] = {0xff, 0xff, 0xff, 0xff};

	put_raw(p, h, 4);
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EMSGSIZE);
	put_raw(p, neg, 4);
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, EPROTO);
	cliproto_msg_free(&m);
}

static void
test_cliproto_eof_and_timeout(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;
	static const unsigned char part[] = {8, 0, 0, 0, 10};

	p->r.timeout_ms = 100;
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, ETIMEDOUT);
	put_raw(p, part, sizeof(part));
	assert_int_equal(cliproto_read_msg(&p->r, &m), -1);
	assert_int_equal(errno, ETIMEDOUT);
	close(p->fd[0]);
	p->fd[0] = -1;
	/* the stalled bytes were consumed; the peer is gone: end */
	assert_int_equal(cliproto_read_msg(&p->r, &m), 0);
	cliproto_msg_free(&m);
}

static void
test_cliproto_clean_eof(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;

	assert_int_equal(cliproto_write_exit(&p->w, 0), 0);
	close(p->fd[0]);
	p->fd[0] = -1;
	read_expect(p, &m, CLIPROTO_EXIT);
	assert_int_equal(cliproto_read_msg(&p->r, &m), 0);
	cliproto_msg_free(&m);
}

/* Writer thread for messages larger than the socket buffer. */
struct big_job {
	struct cliproto_stream *s;
	const char *text;
	int ret;
};

static void *
big_writer(void *arg)
{
	struct big_job *j = arg;

	j->ret = cliproto_write_print(j->s, j->text);
	return NULL;
}

static void
test_cliproto_large_message(void **state)
{
	struct pair *p = *state;
	struct cliproto_msg m;
	size_t n = 3 * 1024 * 1024;
	char *text = malloc(n + 1);
	struct big_job j = {&p->w, text, -1};
	pthread_t t;

	memset(text, 'x', n);
	text[n] = '\0';
	assert_int_equal(pthread_create(&t, NULL, big_writer, &j), 0);
	read_expect(p, &m, CLIPROTO_PRINT);
	pthread_join(t, NULL);
	assert_int_equal(j.ret, 0);
	assert_int_equal(m.text_len, n);
	assert_memory_equal(m.text, text, n);
	cliproto_msg_free(&m);
	free(text);
}

/* A hook transport that hands out one byte per read, from memory. */
struct drip {
	const unsigned char *p;
	size_t left;
	unsigned char out[256];
	size_t outlen;
};

static ssize_t
drip_read(void *ctx, void *p, size_t n, int timeout_ms)
{
	struct drip *d = ctx;

	(void)n;
	(void)timeout_ms;
	if (!d->left)
		return 0;
	*(unsigned char *)p = *d->p++;
	d->left--;
	return 1;
}

static int
drip_write(void *ctx, const void *p, size_t n)
{
	struct drip *d = ctx;

	if (d->outlen + n > sizeof(d->out)) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(d->out + d->outlen, p, n);
	d->outlen += n;
	return 0;
}

static void
test_cliproto_hooks(void **state)
{
	struct cliproto_stream s;
	struct cliproto_msg m;
	struct drip d = {0};
	int32_t major, minor;
	unsigned char copy[256];

	(void)state;
	cliproto_stream_init_hooks(&s, drip_read, drip_write, &d, -1);
	assert_int_equal(cliproto_write_handshake(&s), 0);
	assert_int_equal(cliproto_write_http_put(&s, "a", "/b"), 0);
	memcpy(copy, d.out, d.outlen);
	d.p = copy;
	d.left = d.outlen;
	assert_int_equal(cliproto_read_handshake(&s, &major, &minor), 0);
	assert_int_equal(major, CLIPROTO_MAJOR);
	assert_int_equal(minor, CLIPROTO_MINOR);
	assert_int_equal(cliproto_read_msg(&s, &m), 1);
	assert_int_equal(m.type, CLIPROTO_HTTP_PUT);
	assert_string_equal(m.text, "a");
	assert_string_equal(m.url, "/b");
	cliproto_msg_free(&m);
	assert_int_equal(cliproto_read_msg(&s, &m), 0);
	d.outlen = sizeof(d.out);
	assert_int_equal(cliproto_write_end(&s), -1);
	assert_int_equal(errno, ENOSPC);
}

static void
test_cliproto_type_names(void **state)
{
	(void)state;
	assert_string_equal(cliproto_type_name(CLIPROTO_PRINT), "Print");
	assert_string_equal(cliproto_type_name(CLIPROTO_END), "Blob End");
	assert_string_equal(cliproto_type_name((enum cliproto_type)99), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_cliproto_commands, setup_pair,
	                                    teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_responses_and_blobs,
	                                    setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_wire_bytes,
	                                    setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_handshake, setup_pair,
	                                    teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_truncated, setup_pair,
	                                    teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_bad_inner_lengths,
	                                    setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_oversized, setup_pair,
	                                    teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_eof_and_timeout,
	                                    setup_pair, teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_clean_eof, setup_pair,
	                                    teardown_pair),
	    cmocka_unit_test_setup_teardown(test_cliproto_large_message,
	                                    setup_pair, teardown_pair),
	    cmocka_unit_test(test_cliproto_hooks),
	    cmocka_unit_test(test_cliproto_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
