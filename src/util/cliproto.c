/* cliproto: encoding and decoding of xapi's thin-CLI protocol over a stream. */
#include "cliproto.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"

#define TAG_COMMAND 9
#define TAG_RESPONSE 10
#define TAG_BLOB 11

/* Wire codes, indexed by enum cliproto_type. */
static const int32_t cliproto_codes[] = {
    [CLIPROTO_PRINT] = 0,
    [CLIPROTO_PRINT_STDERR] = 16,
    [CLIPROTO_DEBUG] = 15,
    [CLIPROTO_LOAD] = 1,
    [CLIPROTO_PROMPT] = 3,
    [CLIPROTO_EXIT] = 4,
    [CLIPROTO_HTTP_GET] = 12,
    [CLIPROTO_HTTP_PUT] = 13,
    [CLIPROTO_HTTP_CONNECT] = 17,
    [CLIPROTO_ERROR] = 14,
    [CLIPROTO_OK] = 5,
    [CLIPROTO_FAILED] = 6,
    [CLIPROTO_WAIT] = 18,
    [CLIPROTO_CHUNK] = 7,
    [CLIPROTO_END] = 8,
};

static const char *const cliproto_names[] = {
    [CLIPROTO_PRINT] = "Print",
    [CLIPROTO_PRINT_STDERR] = "PrintStderr",
    [CLIPROTO_DEBUG] = "Debug",
    [CLIPROTO_LOAD] = "Load",
    [CLIPROTO_PROMPT] = "Prompt",
    [CLIPROTO_EXIT] = "Exit",
    [CLIPROTO_HTTP_GET] = "HttpGet",
    [CLIPROTO_HTTP_PUT] = "HttpPut",
    [CLIPROTO_HTTP_CONNECT] = "HttpConnect",
    [CLIPROTO_ERROR] = "Error",
    [CLIPROTO_OK] = "Response OK",
    [CLIPROTO_FAILED] = "Response Failed",
    [CLIPROTO_WAIT] = "Response Wait",
    [CLIPROTO_CHUNK] = "Blob Chunk",
    [CLIPROTO_END] = "Blob End",
};

const char *
cliproto_type_name(enum cliproto_type type)
{
	if ((size_t)type >= sizeof(cliproto_names) / sizeof(cliproto_names[0]))
		return "?";
	return cliproto_names[type];
}

/* Records a failure: sets errno and the stream's description, returns -1. */
static int cliproto_fail(struct cliproto_stream *s, int err, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

static int
cliproto_fail(struct cliproto_stream *s, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	errno = err;
	return -1;
}

void
cliproto_stream_init_fd(struct cliproto_stream *s, int fd, int timeout_ms)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->timeout_ms = timeout_ms;
}

void
cliproto_stream_init_hooks(struct cliproto_stream *s,
                           ssize_t (*rd)(void *, void *, size_t, int),
                           int (*wr)(void *, const void *, size_t), void *ctx,
                           int timeout_ms)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->read = rd;
	s->write = wr;
	s->ctx = ctx;
	s->timeout_ms = timeout_ms;
}

/* ---- deadlines and raw I/O ---- */

static int64_t
cliproto_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1 deadline = forever). */
static int
cliproto_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - cliproto_now_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static int64_t
cliproto_deadline(const struct cliproto_stream *s)
{
	if (s->timeout_ms < 0)
		return -1;
	return cliproto_now_ms() + s->timeout_ms;
}

/* Waits for events on fd until the deadline. 1 ready, 0 timeout, -1 error. */
static int
cliproto_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int r;

	for (;;) {
		r = poll(&pfd, 1, cliproto_left(deadline));
		if (r >= 0 || errno != EINTR)
			return r > 0 ? 1 : r;
	}
}

/* One read of at most n bytes before the deadline: >0, 0 at EOF, -1. */
static ssize_t
cliproto_read_some(struct cliproto_stream *s, void *p, size_t n,
                   int64_t deadline)
{
	ssize_t r;

	if (s->read)
		return s->read(s->ctx, p, n, cliproto_left(deadline));
	for (;;) {
		r = cliproto_wait(s->fd, POLLIN, deadline);
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = read(s->fd, p, n);
		if (r >= 0)
			return r;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

/*
 * Reads exactly n bytes before the deadline. *got (if not NULL) receives the
 * count actually read. A short read fails with ECONNRESET.
 */
static int
cliproto_read_full(struct cliproto_stream *s, void *p, size_t n,
                   int64_t deadline, size_t *got)
{
	size_t done = 0;
	ssize_t r;
	int ret = 0;

	while (done < n) {
		r = cliproto_read_some(s, (char *)p + done, n - done, deadline);
		if (r < 0) {
			if (errno == ETIMEDOUT)
				ret = cliproto_fail(s, ETIMEDOUT,
				                    "timed out after %zu of %zu"
				                    " bytes",
				                    done, n);
			else
				ret = cliproto_fail(s, errno, "read: %s",
				                    strerror(errno));
			break;
		}
		if (r == 0) {
			ret = cliproto_fail(s, ECONNRESET,
			                    "connection closed after %zu of"
			                    " %zu bytes",
			                    done, n);
			break;
		}
		done += (size_t)r;
	}
	if (got)
		*got = done;
	return ret;
}

int
cliproto_read_raw(struct cliproto_stream *s, void *p, size_t n)
{
	return cliproto_read_full(s, p, n, cliproto_deadline(s), NULL);
}

int
cliproto_write_raw(struct cliproto_stream *s, const void *p, size_t n)
{
	int64_t deadline = cliproto_deadline(s);
	const char *c = p;
	ssize_t r;
	int w;

	if (s->write) {
		if (s->write(s->ctx, p, n) < 0)
			return cliproto_fail(s, errno, "write: %s",
			                     strerror(errno));
		return 0;
	}
	while (n > 0) {
		if (s->not_socket)
			r = write(s->fd, c, n);
		else
			r = send(s->fd, c, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == ENOTSOCK && !s->not_socket) {
			s->not_socket = 1;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			w = cliproto_wait(s->fd, POLLOUT, deadline);
			if (w == 0)
				return cliproto_fail(s, ETIMEDOUT,
				                     "write timed out");
			if (w < 0)
				return cliproto_fail(s, errno, "poll: %s",
				                     strerror(errno));
			continue;
		}
		if (r < 0)
			return cliproto_fail(s, errno, "write: %s",
			                     strerror(errno));
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* ---- encoding ---- */

static void
cliproto_put_int(struct buf *b, int32_t v)
{
	uint32_t u = (uint32_t)v;
	unsigned char le[4] = {u & 0xff, (u >> 8) & 0xff, (u >> 16) & 0xff,
	                       (u >> 24) & 0xff};

	buf_add(b, le, 4);
}

static int32_t
cliproto_get_int(const unsigned char *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	             (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;

	return (int32_t)u;
}

static void
cliproto_put_str(struct buf *b, const char *s, size_t len)
{
	cliproto_put_int(b, (int32_t)len);
	buf_add(b, s ? s : "", len);
}

/* Sends the payload in b, prefixed with its length, in one write. */
static int
cliproto_send(struct cliproto_stream *s, struct buf *b)
{
	unsigned char *d = (unsigned char *)b->data;
	uint32_t len = (uint32_t)(b->len - 4);
	int r;

	if (b->len - 4 > CLIPROTO_MAX_MSG) {
		buf_free(b);
		return cliproto_fail(s, EMSGSIZE, "message too large");
	}
	d[0] = len & 0xff;
	d[1] = (len >> 8) & 0xff;
	d[2] = (len >> 16) & 0xff;
	d[3] = (len >> 24) & 0xff;
	r = cliproto_write_raw(s, b->data, b->len);
	buf_free(b);
	return r;
}

static int
cliproto_tag_of(enum cliproto_type type)
{
	if (type <= CLIPROTO_ERROR)
		return TAG_COMMAND;
	if (type <= CLIPROTO_WAIT)
		return TAG_RESPONSE;
	return TAG_BLOB;
}

int
cliproto_write_msg(struct cliproto_stream *s, const struct cliproto_msg *m)
{
	struct buf b = BUF_INIT;
	size_t i, tlen;

	if ((size_t)m->type >=
	    sizeof(cliproto_codes) / sizeof(cliproto_codes[0]))
		return cliproto_fail(s, EINVAL, "unknown message type");
	tlen = m->text ? (m->text_len ? m->text_len : strlen(m->text)) : 0;
	if (tlen > INT32_MAX || m->nparams > INT32_MAX)
		return cliproto_fail(s, EMSGSIZE, "message too large");
	cliproto_put_int(&b, 0); /* length, filled in by cliproto_send */
	cliproto_put_int(&b, cliproto_tag_of(m->type));
	cliproto_put_int(&b, cliproto_codes[m->type]);
	switch (m->type) {
	case CLIPROTO_PRINT:
	case CLIPROTO_PRINT_STDERR:
	case CLIPROTO_DEBUG:
	case CLIPROTO_LOAD:
		cliproto_put_str(&b, m->text, tlen);
		break;
	case CLIPROTO_HTTP_GET:
	case CLIPROTO_HTTP_PUT:
		cliproto_put_str(&b, m->text, tlen);
		cliproto_put_str(&b, m->url, m->url ? strlen(m->url) : 0);
		break;
	case CLIPROTO_HTTP_CONNECT:
		cliproto_put_str(&b, m->url, m->url ? strlen(m->url) : 0);
		break;
	case CLIPROTO_EXIT:
	case CLIPROTO_CHUNK:
		cliproto_put_int(&b, m->num);
		break;
	case CLIPROTO_ERROR:
		cliproto_put_str(&b, m->text, tlen);
		cliproto_put_int(&b, (int32_t)m->nparams);
		for (i = 0; i < m->nparams; i++) {
			const char *p = m->params[i] ? m->params[i] : "";
			if (b.len > CLIPROTO_MAX_MSG) {
				buf_free(&b);
				return cliproto_fail(s, EMSGSIZE,
				                     "message too large");
			}
			cliproto_put_str(&b, p, strlen(p));
		}
		break;
	default:
		break;
	}
	return cliproto_send(s, &b);
}

int
cliproto_write_handshake(struct cliproto_stream *s)
{
	struct buf b = BUF_INIT;
	int r;

	buf_adds(&b, CLIPROTO_PREFIX);
	cliproto_put_int(&b, CLIPROTO_MAJOR);
	cliproto_put_int(&b, CLIPROTO_MINOR);
	r = cliproto_write_raw(s, b.data, b.len);
	buf_free(&b);
	return r;
}

/* Writes a message whose only fields are type and text. */
static int
cliproto_write_text(struct cliproto_stream *s, enum cliproto_type type,
                    const char *text)
{
	struct cliproto_msg m = {.type = type, .text = (char *)text};

	m.text_len = text ? strlen(text) : 0;
	return cliproto_write_msg(s, &m);
}

int
cliproto_write_print(struct cliproto_stream *s, const char *text)
{
	return cliproto_write_text(s, CLIPROTO_PRINT, text);
}

int
cliproto_write_print_stderr(struct cliproto_stream *s, const char *text)
{
	return cliproto_write_text(s, CLIPROTO_PRINT_STDERR, text);
}

int
cliproto_write_debug(struct cliproto_stream *s, const char *text)
{
	return cliproto_write_text(s, CLIPROTO_DEBUG, text);
}

int
cliproto_write_load(struct cliproto_stream *s, const char *file)
{
	return cliproto_write_text(s, CLIPROTO_LOAD, file);
}

int
cliproto_write_prompt(struct cliproto_stream *s)
{
	return cliproto_write_text(s, CLIPROTO_PROMPT, NULL);
}

int
cliproto_write_exit(struct cliproto_stream *s, int code)
{
	struct cliproto_msg m = {.type = CLIPROTO_EXIT, .num = code};

	return cliproto_write_msg(s, &m);
}

int
cliproto_write_http_get(struct cliproto_stream *s, const char *file,
                        const char *url)
{
	struct cliproto_msg m = {.type = CLIPROTO_HTTP_GET,
	                         .text = (char *)file,
	                         .url = (char *)url};

	m.text_len = file ? strlen(file) : 0;
	return cliproto_write_msg(s, &m);
}

int
cliproto_write_http_put(struct cliproto_stream *s, const char *file,
                        const char *url)
{
	struct cliproto_msg m = {.type = CLIPROTO_HTTP_PUT,
	                         .text = (char *)file,
	                         .url = (char *)url};

	m.text_len = file ? strlen(file) : 0;
	return cliproto_write_msg(s, &m);
}

int
cliproto_write_http_connect(struct cliproto_stream *s, const char *url)
{
	struct cliproto_msg m = {.type = CLIPROTO_HTTP_CONNECT,
	                         .url = (char *)url};

	return cliproto_write_msg(s, &m);
}

int
cliproto_write_error(struct cliproto_stream *s, const char *code,
                     const char *const *params, size_t nparams)
{
	struct cliproto_msg m = {.type = CLIPROTO_ERROR,
	                         .text = (char *)code,
	                         .params = (char **)params,
	                         .nparams = nparams};

	m.text_len = code ? strlen(code) : 0;
	return cliproto_write_msg(s, &m);
}

int
cliproto_write_response(struct cliproto_stream *s, enum cliproto_type type)
{
	struct cliproto_msg m = {.type = type};

	if (type != CLIPROTO_OK && type != CLIPROTO_FAILED &&
	    type != CLIPROTO_WAIT)
		return cliproto_fail(s, EINVAL, "not a response type");
	return cliproto_write_msg(s, &m);
}

int
cliproto_write_chunk_header(struct cliproto_stream *s, size_t len)
{
	struct cliproto_msg m = {.type = CLIPROTO_CHUNK};

	if (len > INT32_MAX)
		return cliproto_fail(s, EMSGSIZE, "chunk too large");
	m.num = (int32_t)len;
	return cliproto_write_msg(s, &m);
}

int
cliproto_write_chunk(struct cliproto_stream *s, const void *p, size_t len)
{
	if (cliproto_write_chunk_header(s, len) < 0)
		return -1;
	return cliproto_write_raw(s, p, len);
}

int
cliproto_write_end(struct cliproto_stream *s)
{
	struct cliproto_msg m = {.type = CLIPROTO_END};

	return cliproto_write_msg(s, &m);
}

/* ---- decoding ---- */

/* A cursor over a received payload. */
struct cliproto_cur {
	const unsigned char *p;
	size_t left;
};

static int
cliproto_take_int(struct cliproto_cur *c, int32_t *v)
{
	if (c->left < 4)
		return -1;
	*v = cliproto_get_int(c->p);
	c->p += 4;
	c->left -= 4;
	return 0;
}

/* Takes a string; *len (if not NULL) receives its length. */
static int
cliproto_take_str(struct cliproto_cur *c, char **out, size_t *len)
{
	int32_t n;

	if (cliproto_take_int(c, &n) < 0 || n < 0 || (size_t)n > c->left)
		return -1;
	*out = xmalloc((size_t)n + 1); /* may hold NULs: no strndup */
	memcpy(*out, c->p, (size_t)n);
	(*out)[n] = '\0';
	if (len)
		*len = (size_t)n;
	c->p += n;
	c->left -= (size_t)n;
	return 0;
}

/* Maps a (tag, code) pair to a type; -1 if unknown. */
static int
cliproto_type_of(int32_t tag, int32_t code)
{
	size_t i;

	for (i = 0; i < sizeof(cliproto_codes) / sizeof(cliproto_codes[0]); i++)
		if (cliproto_codes[i] == code &&
		    cliproto_tag_of((enum cliproto_type)i) == tag)
			return (int)i;
	return -1;
}

/* Decodes a payload into m. */
static int
cliproto_decode(struct cliproto_stream *s, struct cliproto_cur *c,
                struct cliproto_msg *m)
{
	int32_t tag, code, n, i;
	int type;

	if (cliproto_take_int(c, &tag) < 0 || cliproto_take_int(c, &code) < 0)
		return cliproto_fail(s, EPROTO, "message too short");
	type = cliproto_type_of(tag, code);
	if (type < 0)
		return cliproto_fail(s, EPROTO, "unknown message tag %d/%d",
		                     (int)tag, (int)code);
	m->type = (enum cliproto_type)type;
	switch (m->type) {
	case CLIPROTO_PRINT:
	case CLIPROTO_PRINT_STDERR:
	case CLIPROTO_DEBUG:
	case CLIPROTO_LOAD:
		if (cliproto_take_str(c, &m->text, &m->text_len) < 0)
			goto bad;
		break;
	case CLIPROTO_HTTP_GET:
	case CLIPROTO_HTTP_PUT:
		if (cliproto_take_str(c, &m->text, &m->text_len) < 0 ||
		    cliproto_take_str(c, &m->url, NULL) < 0)
			goto bad;
		break;
	case CLIPROTO_HTTP_CONNECT:
		if (cliproto_take_str(c, &m->url, NULL) < 0)
			goto bad;
		break;
	case CLIPROTO_EXIT:
		if (cliproto_take_int(c, &m->num) < 0)
			goto bad;
		break;
	case CLIPROTO_CHUNK:
		if (cliproto_take_int(c, &m->num) < 0 || m->num < 0)
			goto bad;
		break;
	case CLIPROTO_ERROR:
		if (cliproto_take_str(c, &m->text, &m->text_len) < 0 ||
		    cliproto_take_int(c, &n) < 0 || n < 0 ||
		    (size_t)n > c->left / 4)
			goto bad;
		m->params = xcalloc((size_t)n + 1, sizeof(char *));
		for (i = 0; i < n; i++) {
			if (cliproto_take_str(c, &m->params[i], NULL) < 0)
				goto bad;
			m->nparams++;
		}
		break;
	default:
		break;
	}
	return 0;
bad:
	return cliproto_fail(s, EPROTO, "malformed %s message",
	                     cliproto_type_name(m->type));
}

int
cliproto_read_msg(struct cliproto_stream *s, struct cliproto_msg *m)
{
	int64_t deadline = cliproto_deadline(s);
	unsigned char hdr[4];
	struct cliproto_cur c;
	unsigned char *payload;
	size_t got;
	int32_t len;
	int r;

	memset(m, 0, sizeof(*m));
	if (cliproto_read_full(s, hdr, 4, deadline, &got) < 0) {
		if (got == 0 && errno == ECONNRESET) {
			snprintf(s->err, sizeof(s->err), "end of stream");
			return 0;
		}
		return -1;
	}
	len = cliproto_get_int(hdr);
	if (len < 0 || (uint32_t)len > CLIPROTO_MAX_MSG)
		return cliproto_fail(s, len < 0 ? EPROTO : EMSGSIZE,
		                     "bad message length %ld", (long)len);
	payload = xmalloc((size_t)len + 1);
	if (cliproto_read_full(s, payload, (size_t)len, deadline, NULL) < 0) {
		free(payload);
		return -1;
	}
	c.p = payload;
	c.left = (size_t)len;
	r = cliproto_decode(s, &c, m);
	free(payload);
	return r < 0 ? -1 : 1;
}

void
cliproto_msg_free(struct cliproto_msg *m)
{
	size_t i;

	free(m->text);
	free(m->url);
	if (m->params) {
		for (i = 0; i < m->nparams; i++)
			free(m->params[i]);
		free(m->params);
	}
	memset(m, 0, sizeof(*m));
}

int
cliproto_read_handshake(struct cliproto_stream *s, int32_t *major,
                        int32_t *minor)
{
	size_t plen = strlen(CLIPROTO_PREFIX);
	unsigned char b[sizeof(CLIPROTO_PREFIX) - 1 + 8];
	int64_t deadline = cliproto_deadline(s);

	if (cliproto_read_full(s, b, plen, deadline, NULL) < 0)
		return -1;
	if (memcmp(b, CLIPROTO_PREFIX, plen) != 0)
		return cliproto_fail(s, EPROTO, "not a thin CLI peer");
	if (cliproto_read_full(s, b + plen, 8, deadline, NULL) < 0)
		return -1;
	*major = cliproto_get_int(b + plen);
	*minor = cliproto_get_int(b + plen + 4);
	return 0;
}
