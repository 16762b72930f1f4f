/* qga: guest-agent client (see qga.h). Single-threaded, per connection. */
#include "vm/qemu/qga.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/xalloc.h"
#include "vm/qemu/qmp.h"

#define QGA_MAX_LINE (4u << 20)

struct qga {
	int fd;
	struct buf in;
};

static long long
qga_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends all of p before the deadline (ms on qga_now_ms's clock). */
static int
qga_send(struct qga *g, const void *p, size_t n, long long dl, char **err)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = send(g->fd, (const char *)p + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			*err = xasprintf("guest agent: write: %s", strerror(errno));
			return QMP_EIO;
		}
		struct pollfd pfd = {g->fd, POLLOUT, 0};
		long long left = dl - qga_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)(left > INT_MAX ? INT_MAX : left)) == 0) {
			*err = xstrdup("guest agent: write timed out");
			return QMP_ETIMEOUT;
		}
	}
	return QMP_OK;
}

/* Reads more input before the deadline. Returns QMP_OK, QMP_ETIMEOUT or
 * QMP_EIO (connection closed). */
static int
qga_fill(struct qga *g, long long dl)
{
	char chunk[8192];

	for (;;) {
		ssize_t n = recv(g->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n > 0) {
			if (g->in.len + (size_t)n > QGA_MAX_LINE)
				return QMP_EPROTO;
			buf_add(&g->in, chunk, (size_t)n);
			return QMP_OK;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return QMP_EIO;
		struct pollfd pfd = {g->fd, POLLIN, 0};
		long long left = dl - qga_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)(left > INT_MAX ? INT_MAX : left)) == 0)
			return QMP_ETIMEOUT;
	}
}

/* Drops the first n buffered bytes. */
static void
qga_consume(struct qga *g, size_t n)
{
	memmove(g->in.data, g->in.data + n, g->in.len - n);
	g->in.len -= n;
	g->in.data[g->in.len] = 0;
}

/* Reads the next non-empty line as a JSON object. Returns QMP_OK with *out,
 * QMP_EPROTO for a line that is not a JSON object, or the read error. */
static int
qga_read_obj(struct qga *g, long long dl, json_t **out)
{
	for (;;) {
		char *nl = g->in.len ? memchr(g->in.data, '\n', g->in.len) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - g->in.data);
			json_t *j = json_loadb(g->in.data, len, 0, NULL);
			bool blank = strspn(g->in.data, " \t\r") >= len;
			qga_consume(g, len + 1);
			if (blank) {
				json_decref(j);
				continue;
			}
			if (!json_is_object(j)) {
				json_decref(j);
				return QMP_EPROTO;
			}
			*out = j;
			return QMP_OK;
		}
		int rc = qga_fill(g, dl);
		if (rc != QMP_OK)
			return rc;
	}
}

/* guest-sync-delimited: see qga.h. */
static int
qga_sync(struct qga *g, long long dl, char **err)
{
	long long id = ((long long)getpid() << 20 ^ qga_now_ms()) & 0x7fffffff;
	char cmd[128];
	int rc;

	snprintf(cmd, sizeof(cmd),
		 "\xff{\"execute\": \"guest-sync-delimited\", \"arguments\": {\"id\": %lld}}\n",
		 id);
	if ((rc = qga_send(g, cmd, strlen(cmd), dl, err)) != QMP_OK)
		return rc;
	for (;;) {
		char *ff = g->in.len ? memchr(g->in.data, 0xff, g->in.len) : NULL;
		if (!ff) {
			buf_reset(&g->in);
			rc = qga_fill(g, dl);
		} else {
			qga_consume(g, (size_t)(ff - g->in.data) + 1);
			json_t *j = NULL;
			rc = qga_read_obj(g, dl, &j);
			bool ok = rc == QMP_OK &&
				  json_integer_value(json_object_get(j, "return")) == id;
			json_decref(j);
			if (ok)
				return QMP_OK;
			if (rc == QMP_EPROTO)
				rc = QMP_OK; /* stale garbage: look for the next 0xFF */
		}
		if (rc != QMP_OK) {
			*err = xstrdup(rc == QMP_ETIMEOUT ? "guest agent not responding"
							  : "guest agent connection closed");
			return rc;
		}
	}
}

struct qga *
qga_open(const char *path, int timeout_ms, char **err)
{
	long long dl = qga_now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
	struct qga *g;
	int fd;

	fd = qmp_unix_connect(path, timeout_ms, NULL, NULL, err);
	if (fd < 0)
		return NULL;
	g = xcalloc(1, sizeof(*g));
	g->fd = fd;
	if (qga_sync(g, dl, err) != QMP_OK) {
		qga_close(g);
		return NULL;
	}
	return g;
}

/* True for the commands that give no reply when they succeed. */
static bool
qga_no_reply(const char *cmd)
{
	return strcmp(cmd, "guest-shutdown") == 0 || strncmp(cmd, "guest-suspend-", 14) == 0;
}

int
qga_command(struct qga *g, const char *json, char **reply, int timeout_ms, char **err)
{
	json_t *cmd = json_loads(json, 0, NULL), *r = NULL, *v;
	const char *ex = json_string_value(json_object_get(cmd, "execute"));
	long long dl;
	char *text;
	int rc;

	*reply = NULL;
	if (!ex) {
		json_decref(cmd);
		*err = xstrdup("guest agent: the command is not a JSON object with \"execute\"");
		return QMP_EPROTO;
	}
	if (timeout_ms <= 0)
		timeout_ms = 10000;
	dl = qga_now_ms() + timeout_ms;
	text = json_dumps(cmd, JSON_COMPACT);
	rc = qga_send(g, text, strlen(text), dl, err);
	if (rc == QMP_OK)
		rc = qga_send(g, "\n", 1, dl, err);
	free(text);
	if (rc != QMP_OK)
		goto out;
	if (qga_no_reply(ex)) {
		long long short_dl = qga_now_ms() + (timeout_ms < 1000 ? timeout_ms : 1000);
		rc = qga_read_obj(g, short_dl, &r);
		if (rc != QMP_OK || !json_object_get(r, "error")) {
			*reply = xstrdup("{}");
			rc = QMP_OK;
			goto out;
		}
	} else {
		rc = qga_read_obj(g, dl, &r);
	}
	if (rc != QMP_OK) {
		*err = xasprintf("guest agent: %s: %s", ex,
				 rc == QMP_ETIMEOUT ? "no reply in time"
				 : rc == QMP_EPROTO ? "malformed reply"
						    : "connection closed");
	} else if ((v = json_object_get(r, "return"))) {
		*reply = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	} else if ((v = json_object_get(r, "error"))) {
		const char *c = json_string_value(json_object_get(v, "class"));
		const char *d = json_string_value(json_object_get(v, "desc"));
		*err = xasprintf("%s: %s", c ? c : "GenericError", d ? d : "(no description)");
		rc = QMP_EQEMU;
	} else {
		*err = xasprintf("guest agent: %s: malformed reply", ex);
		rc = QMP_EPROTO;
	}
out:
	json_decref(r);
	json_decref(cmd);
	return rc;
}

void
qga_close(struct qga *g)
{
	if (!g)
		return;
	close(g->fd);
	buf_free(&g->in);
	free(g);
}
