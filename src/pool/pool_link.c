/* pool_link: TLS links between pool members (internal calls, upgrades,
 * relays). The peer's certificate is checked against its pin before
 * anything is sent (pool_cert.c); the pool secret then authenticates the
 * caller. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pool/pool_int.h"
#include "rpc/jsonrpc.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Largest response body accepted from a peer (a full database copy). */
#define PLINK_MAX_BODY ((long long)1 << 31)

static int plink_tls_port = 443;

int
plink_port(void)
{
	return plink_tls_port;
}

int
pool_tls_port(void)
{
	return plink_tls_port;
}

void
plink_set_port(int port)
{
	plink_tls_port = port;
}

int
plink_request(struct xe_conn *c, const char *address, const char *method,
              const char *path, const char *extra, const char *body, size_t len,
              char **err)
{
	/* "IP" (the pool's port) or "IP:PORT" (a Raft address) */
	const char *colon = strchr(address, ':');
	char *host = colon ? xstrndup(address, (size_t)(colon - address))
	                   : xstrdup(address);
	struct xe_target t = {NULL, host,
	                      colon ? atoi(colon + 1) : plink_tls_port, 1};
	char msg[256];
	int rc = xe_conn_open(c, &t, msg, sizeof(msg));

	free(host);
	if (rc < 0) {
		*err = xstrdup(msg);
		return -1;
	}
	if (pcert_verify(c, address, err) < 0) {
		xe_conn_close(c);
		return -1;
	}
	char *head = xasprintf("%s %s HTTP/1.1\r\nHost: %s\r\n"
	                       "User-Agent: xapid-pool\r\n%s: %s\r\n%s"
	                       "Content-Length: %zu\r\n\r\n",
	                       method, path, c->host_header, POOL_SECRET_HEADER,
	                       pool_secret(), extra ? extra : "", len);
	int r = xe_conn_write(c, head, strlen(head));
	free(head);
	if (r == 0 && len)
		r = xe_conn_write(c, body, len);
	if (r < 0) {
		*err = xasprintf("sending to %s: %s", address, strerror(errno));
		xe_conn_close(c);
		return -1;
	}
	return 0;
}

int
plink_read_head(struct xe_conn *c, int *status, long long *content_length,
                int timeout_ms, char **err)
{
	struct buf h = BUF_INIT;
	char ch;

	*content_length = -1;
	while (h.len < 16384) {
		ssize_t n = xe_conn_read(c, &ch, 1, timeout_ms);
		if (n <= 0) {
			*err = xasprintf("reading a response: %s",
			                 n == 0 ? "connection closed"
			                        : strerror(errno));
			buf_free(&h);
			return -1;
		}
		buf_addc(&h, ch);
		if (h.len >= 4 &&
		    memcmp(h.data + h.len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	if (h.len < 12 || strncmp(h.data, "HTTP/1.", 7) != 0) {
		*err = xstrdup("malformed response");
		buf_free(&h);
		return -1;
	}
	*status = atoi(h.data + 9);
	for (char *l = strstr(h.data, "\r\n"); l && l[2];
	     l = strstr(l + 2, "\r\n"))
		if (strncasecmp(l + 2, "Content-Length:", 15) == 0)
			*content_length = strtoll(l + 17, NULL, 10);
	buf_free(&h);
	return 0;
}

/* Reads exactly n bytes of body. */
static int
plink_read_body(struct xe_conn *c, char *p, size_t n, int timeout_ms)
{
	while (n) {
		ssize_t r = xe_conn_read(c, p, n, timeout_ms);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

struct api_err *
plink_call(const char *address, const char *method, const xv *params,
           bool local, int timeout_ms, xv **result)
{
	struct buf req = BUF_INIT;
	struct xe_conn c;
	char *err = NULL, *body = NULL;
	int status = 0;
	long long clen = -1;
	struct api_err *e = NULL;
	struct jsonrpc_response resp;

	*result = NULL;
	jsonrpc_write_call(&req, JSONRPC_V2, 1, method, params);
	if (plink_request(&c, address, "POST", "/jsonrpc",
	                  local ? POOL_LOCAL_HEADER
	                      ": 1\r\n"
	                      "Content-Type: application/json\r\n"
	                        : "Content-Type: application/json\r\n",
	                  req.data, req.len, &err) < 0) {
		buf_free(&req);
		log_warn("pool", "call %s on %s: %s", method, address, err);
		free(err);
		return api_error(XE_CANNOT_CONTACT_HOST, address, NULL);
	}
	buf_free(&req);
	if (plink_read_head(&c, &status, &clen, timeout_ms, &err) < 0 ||
	    status != 200 || clen < 0 || clen > PLINK_MAX_BODY) {
		log_warn("pool", "call %s on %s: %s (HTTP %d)", method, address,
		         err ? err : "bad response", status);
		free(err);
		xe_conn_close(&c);
		return api_error(XE_CANNOT_CONTACT_HOST, address, NULL);
	}
	body = xmalloc((size_t)clen + 1);
	if (plink_read_body(&c, body, (size_t)clen, timeout_ms) < 0) {
		free(body);
		xe_conn_close(&c);
		return api_error(XE_CANNOT_CONTACT_HOST, address, NULL);
	}
	xe_conn_close(&c);
	body[clen] = '\0';
	if (jsonrpc_parse_response(body, (size_t)clen, &resp) != JSONRPC_OK) {
		e = api_internal("malformed answer from %s to %s", address,
		                 method);
	} else if (resp.ok) {
		*result = resp.value;
		resp.value = NULL;
	} else {
		const xv *d = resp.error;
		size_t n = d && d->type == XV_ARRAY ? d->u.a.n : 0;
		const char **p = xcalloc(n + 1, sizeof(char *));
		for (size_t i = 1; i < n; i++)
			p[i - 1] = d->u.a.items[i]->type == XV_STRING
			               ? d->u.a.items[i]->u.s
			               : "";
		if (n && d->u.a.items[0]->type == XV_STRING)
			e = api_error_raw(d->u.a.items[0]->u.s, p, n - 1);
		else
			e = api_internal("unknown error from %s", address);
		free(p);
	}
	jsonrpc_response_clear(&resp);
	free(body);
	return e;
}

struct api_err *
pool_call(const char *address, const char *method, const xv *params,
          xv **result)
{
	return plink_call(address, method, params, false, POOL_CALL_TIMEOUT_MS,
	                  result);
}

struct api_err *
pool_call_timeout(const char *address, const char *method, const xv *params,
                  int timeout_ms, xv **result)
{
	return plink_call(address, method, params, false, timeout_ms, result);
}

/* ---- relays ---- */

static int
plink_write_fd(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct plink_relay {
	struct xe_conn c;
	int fd;
};

static void *
plink_relay_main(void *arg)
{
	struct plink_relay *r = arg;
	char buf[16384];

	for (;;) {
		struct pollfd pf[2] = {{r->c.fd, POLLIN, 0},
		                       {r->fd, POLLIN, 0}};
		int ready = xe_conn_readable(&r->c, 0);
		if (!ready && poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (ready || pf[0].revents) {
			ssize_t n = xe_conn_read(&r->c, buf, sizeof(buf), 0);
			if (n < 0 && errno == ETIMEDOUT)
				continue;
			if (n <= 0 || plink_write_fd(r->fd, buf, (size_t)n) < 0)
				break;
		}
		if (pf[1].revents) {
			ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || xe_conn_write(&r->c, buf, (size_t)n) < 0)
				break;
		}
	}
	xe_conn_close(&r->c);
	close(r->fd);
	free(r);
	return NULL;
}

int
plink_relay(struct xe_conn *c)
{
	int sv[2];
	pthread_t th;
	pthread_attr_t attr;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		xe_conn_close(c);
		return -1;
	}
	struct plink_relay *r = xcalloc(1, sizeof(*r));
	r->c = *c;
	r->fd = sv[1];
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, plink_relay_main, r) != 0) {
		xe_conn_close(&r->c);
		close(sv[0]);
		close(sv[1]);
		free(r);
		sv[0] = -1;
	}
	pthread_attr_destroy(&attr);
	return sv[0];
}

void
pool_pump(int a, int b)
{
	plink_pump(a, b);
}

void
plink_pump(int a, int b)
{
	char buf[16384];
	struct pollfd pf[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};

	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			if (!pf[i].revents)
				continue;
			ssize_t n = recv(pf[i].fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 ||
			    plink_write_fd(pf[1 - i].fd, buf, (size_t)n) < 0)
				return;
		}
	}
}
