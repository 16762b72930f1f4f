/* xe_conn: Unix, TCP and TLS byte streams for the xe client. */
#include "cli/xe_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/xalloc.h"

#define XE_CONN_CONNECT_MS (30 * 1000)
#define XE_CONN_HANDSHAKE_MS (60 * 1000)

void
xe_target_free(struct xe_target *t)
{
	free(t->sock_path);
	free(t->host);
	memset(t, 0, sizeof(*t));
}

void
xe_target_copy(struct xe_target *dst, const struct xe_target *src)
{
	dst->sock_path = src->sock_path ? xstrdup(src->sock_path) : NULL;
	dst->host = src->host ? xstrdup(src->host) : NULL;
	dst->port = src->port;
	dst->tls = src->tls;
}

int
xe_target_from_url(const struct xe_target *base, const char *url,
                   struct xe_target *out, char **path)
{
	const char *p, *hend, *slash;
	char *end;
	long port;
	int tls;

	memset(out, 0, sizeof(*out));
	if (strncasecmp(url, "https://", 8) == 0) {
		tls = 1;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		tls = 0;
		p = url + 7;
	} else {
		xe_target_copy(out, base);
		*path = xstrdup(url);
		return 0;
	}
	slash = p + strcspn(p, "/?#");
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(slash - p));
		if (!hend)
			return -1;
		out->host = xstrndup(p + 1, (size_t)(hend - p - 1));
		hend++;
	} else {
		hend = memchr(p, ':', (size_t)(slash - p));
		if (!hend)
			hend = slash;
		out->host = xstrndup(p, (size_t)(hend - p));
	}
	out->tls = tls;
	out->port = tls ? 443 : 80;
	if (hend < slash && *hend == ':' && hend + 1 < slash) {
		port = strtol(hend + 1, &end, 10);
		if (end != slash || port <= 0 || port > 65535)
			goto bad;
		out->port = (int)port;
	} else if (hend != slash && !(*hend == ':' && hend + 1 == slash)) {
		goto bad;
	}
	if (!out->host[0])
		goto bad;
	*path = *slash == '/' ? xstrdup(slash) : xasprintf("/%s", slash);
	return 0;
bad:
	xe_target_free(out);
	return -1;
}

char *
xe_target_describe(const struct xe_target *t)
{
	if (t->sock_path)
		return xstrdup(t->sock_path);
	if (strchr(t->host, ':'))
		return xasprintf("[%s]:%d", t->host, t->port);
	return xasprintf("%s:%d", t->host, t->port);
}

/* Connects fd to addr, giving up after XE_CONN_CONNECT_MS. */
static int
xe_conn_connect_fd(int fd, const struct sockaddr *addr, socklen_t len)
{
	struct pollfd pfd = {.fd = fd, .events = POLLOUT};
	int flags, r, soerr = 0;
	socklen_t sl = sizeof(soerr);

	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	r = connect(fd, addr, len);
	if (r < 0 && errno != EINPROGRESS)
		return -1;
	if (r < 0) {
		do
			r = poll(&pfd, 1, XE_CONN_CONNECT_MS);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			errno = ETIMEDOUT;
		if (r <= 0)
			return -1;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			return -1;
		if (soerr) {
			errno = soerr;
			return -1;
		}
	}
	return fcntl(fd, F_SETFL, flags);
}

static int
xe_conn_open_unix(struct xe_conn *c, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 ||
	    xe_conn_connect_fd(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", path,
		         strerror(errno));
		return -1;
	}
	c->host_header = xstrdup("localhost");
	return 0;
}

static int
xe_conn_open_tcp(struct xe_conn *c, const struct xe_target *t, char *err,
                 size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	char port[16];
	int r, one = 1, saved = 0;

	snprintf(port, sizeof(port), "%d", t->port);
	r = getaddrinfo(t->host, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "Host '%s' not found: %s", t->host,
		         gai_strerror(r));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		               ai->ai_protocol);
		if (c->fd < 0) {
			saved = errno;
			continue;
		}
		if (xe_conn_connect_fd(c->fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		saved = errno;
		close(c->fd);
		c->fd = -1;
	}
	freeaddrinfo(res);
	if (c->fd < 0) {
		snprintf(err, errlen, "cannot connect to %s port %d: %s",
		         t->host, t->port, strerror(saved));
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	if (strchr(t->host, ':'))
		c->host_header = xasprintf("[%s]:%d", t->host, t->port);
	else if (t->port == (t->tls ? 443 : 80))
		c->host_header = xstrdup(t->host);
	else
		c->host_header = xasprintf("%s:%d", t->host, t->port);
	return 0;
}

/* Whether host is an IP literal (no SNI for those). */
static int
xe_conn_is_ip(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, a) == 1 ||
	       inet_pton(AF_INET6, host, a) == 1;
}

static int
xe_conn_start_tls(struct xe_conn *c, const char *host, char *err, size_t errlen)
{
	int r;

	if ((r = gnutls_certificate_allocate_credentials(&c->cred)) < 0 ||
	    (r = gnutls_init(&c->tls, GNUTLS_CLIENT)) < 0 ||
	    (r = gnutls_set_default_priority(c->tls)) < 0 ||
	    (r = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
	                                c->cred)) < 0)
		goto fail;
	if (!xe_conn_is_ip(host))
		gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, host,
		                       strlen(host));
	gnutls_transport_set_int(c->tls, c->fd);
	gnutls_handshake_set_timeout(c->tls, XE_CONN_HANDSHAKE_MS);
	do
		r = gnutls_handshake(c->tls);
	while (r < 0 && !gnutls_error_is_fatal(r));
	if (r < 0)
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "TLS connection to %s failed: %s", host,
	         gnutls_strerror(r));
	return -1;
}

int
xe_conn_open(struct xe_conn *c, const struct xe_target *t, char *err,
             size_t errlen)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (t->sock_path) {
		if (xe_conn_open_unix(c, t->sock_path, err, errlen) < 0)
			goto fail;
		return 0;
	}
	if (xe_conn_open_tcp(c, t, err, errlen) < 0)
		goto fail;
	if (t->tls && xe_conn_start_tls(c, t->host, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	xe_conn_close(c);
	return -1;
}

int
xe_conn_readable(struct xe_conn *c, int timeout_ms)
{
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int r;

	if (c->rpos < c->rlen)
		return 1;
	if (c->tls && gnutls_record_check_pending(c->tls) > 0)
		return 1;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* One read from the socket or TLS session into p. */
static ssize_t
xe_conn_fill(struct xe_conn *c, void *p, size_t n, int timeout_ms)
{
	ssize_t r;

	for (;;) {
		if (!xe_conn_readable(c, timeout_ms)) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (!c->tls) {
			r = read(c->fd, p, n);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			return r;
		}
		r = gnutls_record_recv(c->tls, p, n);
		if (r >= 0)
			return r;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
			continue;
		if (r == GNUTLS_E_PREMATURE_TERMINATION)
			return 0; /* peer closed without close_notify */
		errno = EIO;
		return -1;
	}
}

ssize_t
xe_conn_read(void *ctx, void *p, size_t n, int timeout_ms)
{
	struct xe_conn *c = ctx;
	size_t k;

	if (n == 0)
		return 0;
	if (c->rpos < c->rlen) {
		k = c->rlen - c->rpos;
		if (k > n)
			k = n;
		memcpy(p, c->rbuf + c->rpos, k);
		c->rpos += k;
		return (ssize_t)k;
	}
	if (n >= sizeof(c->rbuf))
		return xe_conn_fill(c, p, n, timeout_ms);
	{
		ssize_t r =
		    xe_conn_fill(c, c->rbuf, sizeof(c->rbuf), timeout_ms);
		if (r <= 0)
			return r;
		c->rpos = 0;
		c->rlen = (size_t)r;
	}
	return xe_conn_read(ctx, p, n, timeout_ms);
}

int
xe_conn_write(void *ctx, const void *p, size_t n)
{
	struct xe_conn *c = ctx;
	const char *s = p;
	ssize_t r;

	while (n > 0) {
		if (c->tls)
			r = gnutls_record_send(c->tls, s, n);
		else
			r = send(c->fd, s, n, MSG_NOSIGNAL);
		if (c->tls && r < 0) {
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				continue;
			errno = EPIPE;
			return -1;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += r;
		n -= (size_t)r;
	}
	return 0;
}

void
xe_conn_close(struct xe_conn *c)
{
	if (!c)
		return;
	if (c->tls)
		gnutls_deinit(c->tls);
	if (c->cred)
		gnutls_certificate_free_credentials(c->cred);
	if (c->fd >= 0)
		close(c->fd);
	free(c->host_header);
	c->tls = NULL;
	c->cred = NULL;
	c->fd = -1;
	c->host_header = NULL;
	c->rpos = c->rlen = 0;
}
