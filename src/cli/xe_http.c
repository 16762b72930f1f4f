/* xe_http: HTTP/1.1 heads, bodies and the HttpGet/HttpPut transfers of xe. */
#include "cli/xe_http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/xe.h"
#include "cli/xe_xfer.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define XE_HTTP_HEAD_MAX (64 * 1024)
#define XE_HTTP_BLOCK (1024 * 1024)
/* How long a PUT waits for "100 Continue" before sending the body anyway. */
#define XE_HTTP_EXPECT_MS 3000
/* A transfer that makes no progress for this long fails. */
#define XE_HTTP_IDLE_MS (10 * 60 * 1000)

static int64_t
xe_http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- response heads ---- */

void
xe_http_resp_free(struct xe_http_resp *r)
{
	free(r->location);
	r->location = NULL;
}

/* Trims spaces at both ends of s in place. */
static char *
xe_http_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Parses one header line into r. */
static void
xe_http_header(struct xe_http_resp *r, char *line)
{
	char *colon = strchr(line, ':'), *v;

	if (!colon)
		return;
	*colon = '\0';
	v = xe_http_trim(colon + 1);
	if (strcasecmp(line, "content-length") == 0) {
		char *end;
		long long n = strtoll(v, &end, 10);
		if (end != v && !*end && n >= 0)
			r->content_length = n;
	} else if (strcasecmp(line, "transfer-encoding") == 0) {
		r->chunked = strcasestr(v, "chunked") != NULL;
	} else if (strcasecmp(line, "location") == 0) {
		free(r->location);
		r->location = xstrdup(v);
	}
}

int
xe_http_read_head(struct xe_conn *c, struct xe_http_resp *r, int timeout_ms,
                  char *err, size_t errlen)
{
	int64_t deadline = timeout_ms < 0 ? -1 : xe_http_now_ms() + timeout_ms;
	struct buf b = BUF_INIT;
	char ch, *line, *next, *sp;
	ssize_t n;
	int left, ret = -1;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	for (;;) {
		left = -1;
		if (deadline >= 0) {
			int64_t l = deadline - xe_http_now_ms();
			left = l < 0 ? 0 : (int)l;
		}
		n = xe_conn_read(c, &ch, 1, left);
		if (n <= 0) {
			snprintf(err, errlen, "%s",
			         n == 0 ? "connection closed by the server"
			         : errno == ETIMEDOUT
			             ? "timed out waiting for the server"
			             : strerror(errno));
			goto out;
		}
		if (b.len == 0 && (ch == '\r' || ch == '\n'))
			continue; /* stray line ends before the status line */
		buf_addc(&b, ch);
		if (b.len >= 4 &&
		    memcmp(b.data + b.len - 4, "\r\n\r\n", 4) == 0)
			break;
		if (b.len >= 2 && memcmp(b.data + b.len - 2, "\n\n", 2) == 0)
			break;
		if (b.len > XE_HTTP_HEAD_MAX) {
			snprintf(err, errlen, "HTTP response head too long");
			goto out;
		}
	}
	line = b.data;
	next = strchr(line, '\n');
	*next = '\0';
	snprintf(r->status_line, sizeof(r->status_line), "%s",
	         xe_http_trim(line));
	sp = strchr(line, ' ');
	if (strncmp(line, "HTTP/", 5) != 0 || !sp ||
	    !isdigit((unsigned char)sp[1])) {
		snprintf(err, errlen, "bad HTTP response: %.100s",
		         r->status_line);
		goto out;
	}
	r->status = atoi(sp + 1);
	for (line = next + 1; *line; line = next + 1) {
		next = strchr(line, '\n');
		if (!next)
			break;
		*next = '\0';
		xe_http_header(r, line);
	}
	ret = 0;
out:
	buf_free(&b);
	return ret;
}

/* ---- bodies ---- */

void
xe_http_body_init(struct xe_http_body *b, struct xe_conn *c,
                  const struct xe_http_resp *r, int timeout_ms)
{
	memset(b, 0, sizeof(*b));
	b->conn = c;
	b->timeout_ms = timeout_ms;
	if (r->chunked) {
		b->mode = XE_BODY_CHUNKED;
	} else if (r->content_length >= 0) {
		b->mode = XE_BODY_LENGTH;
		b->left = r->content_length;
	} else {
		b->mode = XE_BODY_CLOSE;
	}
	if (r->status / 100 == 1 || r->status == 204 || r->status == 304)
		b->done = 1;
}

/* Reads a CRLF-terminated line (at most cap-1 bytes kept). */
static int
xe_http_body_line(struct xe_http_body *b, char *line, size_t cap)
{
	size_t n = 0;
	char ch;
	ssize_t r;

	for (;;) {
		r = xe_conn_read(b->conn, &ch, 1, b->timeout_ms);
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			return -1;
		}
		if (ch == '\n')
			break;
		if (n + 1 < cap)
			line[n++] = ch;
	}
	line[n] = '\0';
	return 0;
}

ssize_t
xe_http_body_read(struct xe_http_body *b, void *p, size_t n)
{
	char line[256];
	ssize_t r;

	while (!b->done) {
		if (b->mode == XE_BODY_CHUNKED && b->left == 0) {
			if (xe_http_body_line(b, line, sizeof(line)) < 0)
				return -1;
			b->left = strtoll(line, NULL, 16);
			if (b->left < 0) {
				errno = EPROTO;
				return -1;
			}
			if (b->left == 0) {
				do /* trailers up to the empty line */
					if (xe_http_body_line(b, line,
					                      sizeof(line)) < 0)
						return -1;
				while (line[0] && strcmp(line, "\r") != 0);
				b->done = 1;
				break;
			}
		}
		if (b->mode == XE_BODY_LENGTH && b->left == 0) {
			b->done = 1;
			break;
		}
		if (b->mode != XE_BODY_CLOSE && (long long)n > b->left)
			n = (size_t)b->left;
		r = xe_conn_read(b->conn, p, n, b->timeout_ms);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (b->mode == XE_BODY_CLOSE) {
				b->done = 1;
				break;
			}
			errno = ECONNRESET;
			return -1;
		}
		if (b->mode != XE_BODY_CLOSE)
			b->left -= r;
		if (b->mode == XE_BODY_CHUNKED && b->left == 0 &&
		    xe_http_body_line(b, line, sizeof(line)) < 0)
			return -1;
		return r;
	}
	return 0;
}

char *
xe_http_body_slurp(struct xe_http_body *b, size_t max)
{
	struct buf out = BUF_INIT;
	char tmp[4096];
	ssize_t r;

	buf_add(&out, "", 0);
	while (out.len < max) {
		r = xe_http_body_read(b, tmp, sizeof(tmp));
		if (r <= 0)
			break;
		buf_add(&out, tmp,
		        (size_t)r > max - out.len ? max - out.len : (size_t)r);
	}
	return buf_steal(&out);
}

/* ---- transfers ---- */

/* Opens the next hop of a transfer: resolves url against *cur (updated),
 * connects and sends the request head. */
static int
xe_http_start(struct xe_target *cur, const char *url, struct xe_conn *c,
              const char *method, const char *extra)
{
	struct xe_target next;
	char err[256], *path, *head;
	int r;

	if (xe_target_from_url(cur, url, &next, &path) < 0) {
		xe_debug("bad URL '%s'\n", url);
		return -1;
	}
	xe_target_free(cur);
	*cur = next;
	xe_debug("%s %s on %s%s\n", method, path,
	         cur->sock_path ? cur->sock_path : cur->host,
	         cur->tls ? " (TLS)" : "");
	if (xe_conn_open(c, cur, err, sizeof(err)) < 0) {
		xe_debug("%s\n", err);
		free(path);
		return -1;
	}
	head =
	    xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
	              "Connection: close\r\n%s\r\n",
	              method, path, c->host_header, XE_HTTP_USER_AGENT, extra);
	r = xe_conn_write(c, head, strlen(head));
	free(head);
	free(path);
	if (r < 0) {
		xe_debug("sending request: %s\n", strerror(errno));
		xe_conn_close(c);
	}
	return r;
}

/* Logs a failed response and its body (debug only). */
static void
xe_http_log_failure(struct xe_conn *c, const struct xe_http_resp *r)
{
	struct xe_http_body b;
	char *body;

	xe_http_body_init(&b, c, r, 5000);
	body = xe_http_body_slurp(&b, 4096);
	xe_debug("server answered '%s' %s\n", r->status_line, body);
	free(body);
}

/* Reads body bytes into p until n are there or the body ends. */
static ssize_t
xe_http_body_fill(struct xe_http_body *b, char *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = xe_http_body_read(b, p + got, n - got);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Copies the body to path (or stdout) with a progress bar. A file is
 * written sparse, as cp --sparse does: blocks of zeros become holes. */
static enum xe_http_result
xe_http_save(struct xe_conn *c, const struct xe_http_resp *r, const char *path,
             char *err, size_t errlen)
{
	struct xe_http_body b;
	struct xe_xfer_progress prog;
	char *block;
	ssize_t n;
	int fd = STDOUT_FILENO, ret = XE_HTTP_OK, sp;

	if (path) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(err, errlen, "cannot create file '%s': %s",
			         path, strerror(errno));
			return XE_HTTP_CLIENT_ERROR;
		}
	} else {
		fflush(stdout);
	}
	xe_http_body_init(&b, c, r, XE_HTTP_IDLE_MS);
	xe_xfer_progress_init(&prog, r->chunked ? -1 : r->content_length);
	sp = xe_xfer_splice(&b, fd, &prog);
	if (sp < 0) {
		if (sp == -1) {
			xe_debug("reading download: %s\n", strerror(errno));
			ret = XE_HTTP_FAILED;
		} else {
			snprintf(err, errlen, "writing %s: %s",
			         path ? path : "stdout", strerror(errno));
			ret = XE_HTTP_CLIENT_ERROR;
		}
	}
	block = sp > 0 ? xmalloc(XE_HTTP_BLOCK) : NULL;
	while (block) {
		n = xe_http_body_fill(&b, block, XE_HTTP_BLOCK);
		if (n == 0)
			break;
		if (n < 0) {
			xe_debug("reading download: %s\n", strerror(errno));
			ret = XE_HTTP_FAILED;
			break;
		}
		if (xe_xfer_write_block(fd, block, (size_t)n, path != NULL) <
		    0) {
			snprintf(err, errlen, "writing %s: %s",
			         path ? path : "stdout", strerror(errno));
			ret = XE_HTTP_CLIENT_ERROR;
			break;
		}
		xe_xfer_progress_add(&prog, (size_t)n);
	}
	xe_xfer_progress_end(&prog);
	free(block);
	if (path && ret == XE_HTTP_OK) { /* a file ending in a hole gets its length */
		off_t end = lseek(fd, 0, SEEK_CUR);
		if (end < 0 || ftruncate(fd, end) < 0) {
			snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
			ret = XE_HTTP_CLIENT_ERROR;
		}
	}
	if (path && close(fd) < 0 && ret == XE_HTTP_OK) {
		snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
		ret = XE_HTTP_CLIENT_ERROR;
	}
	return ret;
}

enum xe_http_result
xe_http_get(const struct xe_target *base, const char *url, const char *path,
            char *err, size_t errlen)
{
	struct xe_target cur;
	struct xe_http_resp r;
	struct xe_conn c;
	char *u = xstrdup(url), msg[256];
	int hops;
	enum xe_http_result ret = XE_HTTP_FAILED;

	xe_target_copy(&cur, base);
	for (hops = 0;; hops++) {
		if (xe_http_start(&cur, u, &c, "GET", "") < 0)
			break;
		if (xe_http_read_head(&c, &r, -1, msg, sizeof(msg)) < 0) {
			xe_debug("GET: %s\n", msg);
			xe_conn_close(&c);
			break;
		}
		if (r.status / 100 == 3 && r.location &&
		    hops < XE_HTTP_MAX_REDIRECTS) {
			xe_debug("redirected to %s\n", r.location);
			free(u);
			u = xstrdup(r.location);
			xe_http_resp_free(&r);
			xe_conn_close(&c);
			continue;
		}
		if (r.status / 100 == 2)
			ret = xe_http_save(&c, &r, path, err, errlen);
		else
			xe_http_log_failure(&c, &r);
		xe_http_resp_free(&r);
		xe_conn_close(&c);
		break;
	}
	xe_target_free(&cur);
	free(u);
	return ret;
}

/* Sends the body of a PUT: size bytes of fd, or chunks until EOF if size
 * is -1. */
static int
xe_http_send_body(struct xe_conn *c, int fd, long long size)
{
	struct xe_xfer_progress prog;
	char *block = xmalloc(XE_HTTP_BLOCK + 32), hdr[32];
	long long sent = 0;
	size_t want, hl;
	ssize_t n;
	int ret = -1;

	xe_xfer_progress_init(&prog, size);
	switch (xe_xfer_send_file(c, fd, size, &prog)) {
	case 0:
		ret = 0;
		goto out;
	case -1:
		goto werr;
	}
	for (;;) {
		want = XE_HTTP_BLOCK;
		if (size >= 0 && (long long)want > size - sent)
			want = (size_t)(size - sent);
		if (size >= 0 && want == 0)
			break;
		n = read(fd, block, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			xe_debug("reading upload: %s\n", strerror(errno));
			goto out;
		}
		if (n == 0) {
			if (size >= 0) {
				xe_debug("upload file shrank\n");
				goto out;
			}
			break;
		}
		if (size < 0) {
			hl = (size_t)snprintf(hdr, sizeof(hdr), "%zx\r\n",
			                      (size_t)n);
			if (xe_conn_write(c, hdr, hl) < 0)
				goto werr;
		}
		if (xe_conn_write(c, block, (size_t)n) < 0 ||
		    (size < 0 && xe_conn_write(c, "\r\n", 2) < 0))
			goto werr;
		sent += n;
		xe_xfer_progress_add(&prog, (size_t)n);
	}
	if (size < 0 && xe_conn_write(c, "0\r\n\r\n", 5) < 0)
		goto werr;
	ret = 0;
	goto out;
werr:
	xe_debug("sending upload: %s\n", strerror(errno));
out:
	xe_xfer_progress_end(&prog);
	free(block);
	return ret;
}

enum xe_http_result
xe_http_put(const struct xe_target *base, const char *url, int fd,
            long long size)
{
	struct xe_target cur;
	struct xe_http_resp r;
	struct xe_conn c;
	char *u = xstrdup(url), *extra, msg[256];
	int hops, sent, early, have_head;
	enum xe_http_result ret = XE_HTTP_FAILED;

	xe_target_copy(&cur, base);
	if (size >= 0)
		extra = xasprintf("Expect: 100-continue\r\nContent-Length: "
		                  "%lld\r\n",
		                  size);
	else
		extra = xstrdup("Expect: 100-continue\r\n"
		                "Transfer-Encoding: chunked\r\n");
	for (hops = 0;; hops++) {
		if (xe_http_start(&cur, u, &c, "PUT", extra) < 0)
			break;
		sent = early = have_head = 0;
		if (xe_conn_readable(&c, XE_HTTP_EXPECT_MS)) {
			if (xe_http_read_head(&c, &r, XE_HTTP_IDLE_MS, msg,
			                      sizeof(msg)) < 0) {
				xe_debug("PUT: %s\n", msg);
				xe_conn_close(&c);
				break;
			}
			have_head = r.status != 100;
			early = r.status / 100 == 2;
			if (r.status == 100)
				xe_http_resp_free(&r);
		}
		if (!have_head || early) {
			/* 100 Continue, no answer yet, or an xapi-style 200
			 * before the body: send it. */
			sent = 1;
			if (xe_http_send_body(&c, fd, size) < 0) {
				if (early)
					xe_http_resp_free(&r);
				early = have_head = 0;
				if (!xe_conn_readable(&c, 5000) ||
				    xe_http_read_head(&c, &r, 5000, msg,
				                      sizeof(msg)) < 0) {
					xe_conn_close(&c);
					break;
				}
				have_head = 1;
			} else if (early) {
				ret = XE_HTTP_OK;
				xe_http_resp_free(&r);
				xe_conn_close(&c);
				break;
			}
		}
		if (!have_head &&
		    xe_http_read_head(&c, &r, -1, msg, sizeof(msg)) < 0) {
			xe_debug("PUT: %s\n", msg);
			xe_conn_close(&c);
			break;
		}
		if (r.status / 100 == 3 && r.location &&
		    hops < XE_HTTP_MAX_REDIRECTS &&
		    (!sent || lseek(fd, 0, SEEK_SET) == 0)) {
			xe_debug("redirected to %s\n", r.location);
			free(u);
			u = xstrdup(r.location);
			xe_http_resp_free(&r);
			xe_conn_close(&c);
			continue;
		}
		if (r.status / 100 == 2 && sent)
			ret = XE_HTTP_OK;
		else
			xe_http_log_failure(&c, &r);
		xe_http_resp_free(&r);
		xe_conn_close(&c);
		break;
	}
	free(extra);
	xe_target_free(&cur);
	free(u);
	return ret;
}
