/* dqc: client of the dqlite wire protocol: transport, connections and
 * cluster requests (see dqc.h; SQL requests are in dqc_sql.c). */
#include "dqc_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/xalloc.h"

/* Smallest read we ask the kernel for; large reads keep row streaming cheap. */
#define DQC_READ_CHUNK (256 * 1024)
/* A response body larger than this is taken as a protocol violation. */
#define DQC_MAX_BODY ((size_t)1 << 31)

size_t
dqc_pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int64_t
dqc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
dqc_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Records a failure with the given code and returns -1. */
int
dqc_fail(struct dqc *c, char **err, int code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (c)
		c->errcode = code;
	if (!err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("dqc: out of memory");
	va_end(ap);
	*err = msg;
	return -1;
}

/* Marks c broken after a transport failure and returns -1. */
int
dqc_tfail(struct dqc *c, char **err, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	c->broken = true;
	c->errcode = DQC_ETRANSPORT;
	if (!err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = xstrdup("dqc: out of memory");
	va_end(ap);
	*err = xasprintf("dqlite %s: %s", c->address, msg);
	free(msg);
	return -1;
}

/* ---- encoding ---- */

void
dqc_put_u64(struct buf *b, uint64_t v)
{
	uint8_t w[8];

	for (int i = 0; i < 8; i++)
		w[i] = (uint8_t)(v >> (8 * i));
	buf_add(b, w, 8);
}

void
dqc_put_zeros(struct buf *b, size_t n)
{
	static const uint8_t zeros[8];

	while (n > 0) {
		size_t k = n < 8 ? n : 8;
		buf_add(b, zeros, k);
		n -= k;
	}
}

void
dqc_put_text(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	buf_add(b, s, n);
	dqc_put_zeros(b, dqc_pad8(n + 1) - n);
}

/* ---- decoding ---- */

int
dqc_get_u64(struct dqc_cur *k, uint64_t *v)
{
	if (k->left < 8)
		return -1;
	*v = 0;
	for (int i = 0; i < 8; i++)
		*v |= (uint64_t)k->p[i] << (8 * i);
	k->p += 8;
	k->left -= 8;
	return 0;
}

int
dqc_get_text(struct dqc_cur *k, const char **s)
{
	const uint8_t *z = memchr(k->p, 0, k->left);
	size_t n;

	if (!z)
		return -1;
	n = dqc_pad8((size_t)(z - k->p) + 1);
	if (n > k->left)
		return -1;
	*s = (const char *)k->p;
	k->p += n;
	k->left -= n;
	return 0;
}

int
dqc_get_blob(struct dqc_cur *k, const void **p, size_t *n)
{
	uint64_t len;

	if (dqc_get_u64(k, &len) < 0 || len > k->left ||
	    dqc_pad8((size_t)len) > k->left)
		return -1;
	*p = k->p;
	*n = (size_t)len;
	k->p += dqc_pad8((size_t)len);
	k->left -= dqc_pad8((size_t)len);
	return 0;
}

/* ---- transport ---- */

/* Waits until fd is ready for events or the deadline passes. */
static int
dqc_wait(struct dqc *c, short events, int64_t deadline, char **err)
{
	for (;;) {
		struct pollfd pfd = {c->fd, events, 0};
		int64_t left = deadline - dqc_now_ms();
		int r;

		if (left <= 0)
			return dqc_tfail(c, err, "timed out");
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return dqc_tfail(c, err, "poll: %s", strerror(errno));
	}
}

static int
dqc_write_all(struct dqc *c, const void *p, size_t n, int64_t deadline,
	      char **err)
{
	const uint8_t *q = p;

	while (n > 0) {
		ssize_t k = send(c->fd, q, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return dqc_tfail(c, err, "send: %s",
						 strerror(errno));
			if (dqc_wait(c, POLLOUT, deadline, err) < 0)
				return -1;
			continue;
		}
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Makes sure at least need bytes past in_off are buffered. */
static int
dqc_fill(struct dqc *c, size_t need, int64_t deadline, char **err)
{
	if (c->in_len - c->in_off >= need)
		return 0;
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (need + DQC_READ_CHUNK > c->in_cap) {
		c->in_cap = need + DQC_READ_CHUNK;
		c->in = xrealloc(c->in, c->in_cap);
	}
	while (c->in_len - c->in_off < need) {
		ssize_t k = recv(c->fd, c->in + c->in_len,
				 c->in_cap - c->in_len, 0);
		if (k == 0)
			return dqc_tfail(c, err, "connection closed by peer");
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return dqc_tfail(c, err, "recv: %s",
						 strerror(errno));
			if (dqc_wait(c, POLLIN, deadline, err) < 0)
				return -1;
			continue;
		}
		c->in_len += (size_t)k;
	}
	return 0;
}

/* Starts a request: resets the output buffer and reserves the header. */
struct buf *
dqc_begin(struct dqc *c)
{
	buf_reset(&c->out);
	dqc_put_zeros(&c->out, 8);
	return &c->out;
}

/* Fills in the header of the request built since dqc_begin() and sends it. */
int
dqc_send(struct dqc *c, uint8_t type, int64_t deadline, char **err)
{
	uint8_t *h = (uint8_t *)c->out.data;
	size_t words = (c->out.len - 8) / 8;

	if (c->broken)
		return dqc_fail(c, err, DQC_ETRANSPORT,
				"dqlite %s: connection is broken", c->address);
	if ((c->out.len - 8) % 8 != 0 || words > UINT32_MAX)
		return dqc_fail(c, err, DQC_ETRANSPORT,
				"dqc: request too large");
	for (int i = 0; i < 4; i++)
		h[i] = (uint8_t)(words >> (8 * i));
	h[4] = type;
	h[5] = 0; /* schema */
	h[6] = h[7] = 0;
	return dqc_write_all(c, c->out.data, c->out.len, deadline, err);
}

/* Receives one response. body stays valid until the next receive. A FAILURE
 * response becomes -1 with the server's code and message. */
int
dqc_recv(struct dqc *c, int64_t deadline, uint8_t *type,
	 struct dqc_cur *body, char **err)
{
	const uint8_t *h;
	size_t len;
	uint64_t code;
	const char *msg;

	if (dqc_fill(c, 8, deadline, err) < 0)
		return -1;
	h = c->in + c->in_off;
	len = 8 * (size_t)((uint32_t)h[0] | (uint32_t)h[1] << 8 |
			   (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24);
	*type = h[4];
	if (len > DQC_MAX_BODY)
		return dqc_tfail(c, err, "response of %zu bytes", len);
	if (dqc_fill(c, 8 + len, deadline, err) < 0)
		return -1;
	body->p = c->in + c->in_off + 8;
	body->left = len;
	c->in_off += 8 + len;
	if (*type != DQC_RES_FAILURE)
		return 0;
	if (dqc_get_u64(body, &code) < 0 || dqc_get_text(body, &msg) < 0)
		return dqc_tfail(c, err, "malformed failure response");
	return dqc_fail(c, err, (int)code, "dqlite: %s (code %d)", msg,
			(int)code);
}

/* Sends the request built since dqc_begin() and receives a response of type
 * want. */
int
dqc_roundtrip(struct dqc *c, uint8_t type, uint8_t want,
	      struct dqc_cur *body, char **err)
{
	int64_t deadline = dqc_now_ms() + c->timeout_ms;
	uint8_t got;

	if (dqc_send(c, type, deadline, err) < 0 ||
	    dqc_recv(c, deadline, &got, body, err) < 0)
		return -1;
	if (got != want)
		return dqc_tfail(c, err, "response type %d to request %d",
				 got, type);
	c->errcode = 0;
	return 0;
}

/* ---- connecting ---- */

/* Connects fd to sa without blocking past the deadline. */
static int
dqc_connect_fd(struct dqc *c, const struct sockaddr *sa, socklen_t salen,
	       int64_t deadline, char **err)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       0);
	if (c->fd < 0)
		return dqc_tfail(c, err, "socket: %s", strerror(errno));
	if (connect(c->fd, sa, salen) < 0) {
		if (errno != EINPROGRESS && errno != EAGAIN)
			return dqc_tfail(c, err, "connect: %s",
					 strerror(errno));
		if (dqc_wait(c, POLLOUT, deadline, err) < 0)
			return -1;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr != 0)
			return dqc_tfail(c, err, "connect: %s",
					 strerror(soerr));
	}
	if (sa->sa_family != AF_UNIX) {
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	return 0;
}

static int
dqc_connect_unix(struct dqc *c, const char *addr, int64_t deadline,
		 char **err)
{
	struct sockaddr_un sun;
	size_t n = strlen(addr);
	socklen_t len;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sun.sun_path))
		return dqc_tfail(c, err, "bad unix address");
	memcpy(sun.sun_path, addr, n);
	if (addr[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract: no NUL terminator */
	else
		n++;
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	return dqc_connect_fd(c, (struct sockaddr *)&sun, len, deadline, err);
}

static int
dqc_connect_tcp(struct dqc *c, const char *addr, int64_t deadline,
		char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *colon = strrchr(addr, ':');
	char *host;
	int r;

	if (!colon || colon == addr || colon[1] == '\0')
		return dqc_tfail(c, err, "bad address (want host:port)");
	if (addr[0] == '[' && colon[-1] == ']')
		host = xstrndup(addr + 1, (size_t)(colon - addr) - 2);
	else
		host = xstrndup(addr, (size_t)(colon - addr));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r = getaddrinfo(host, colon + 1, &hints, &res);
	free(host);
	if (r != 0)
		return dqc_tfail(c, err, "resolve: %s", gai_strerror(r));
	r = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		char *e = NULL;
		if (c->fd >= 0) {
			close(c->fd);
			c->fd = -1;
		}
		c->broken = false;
		r = dqc_connect_fd(c, ai->ai_addr, ai->ai_addrlen, deadline,
				   &e);
		if (r == 0 || !ai->ai_next) {
			if (err)
				*err = e;
			else
				free(e);
			break;
		}
		free(e);
	}
	freeaddrinfo(res);
	return r;
}

struct dqc *
dqc_connect(const char *address, int timeout_ms, char **err)
{
	struct dqc *c = xcalloc(1, sizeof(*c));
	int64_t deadline;
	int r;

	c->fd = -1;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	c->address = xstrdup(address);
	deadline = dqc_now_ms() + c->timeout_ms;
	if (address[0] == '@' || address[0] == '/')
		r = dqc_connect_unix(c, address, deadline, err);
	else
		r = dqc_connect_tcp(c, address, deadline, err);
	if (r == 0) {
		/* The handshake: protocol version, no header, no answer. */
		struct buf *b = &c->out;
		buf_reset(b);
		dqc_put_u64(b, DQC_PROTOCOL_VERSION);
		r = dqc_write_all(c, b->data, b->len, deadline, err);
	}
	if (r < 0) {
		dqc_close(c);
		return NULL;
	}
	c->errcode = 0;
	return c;
}

void
dqc_close(struct dqc *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->out);
	free(c->in);
	free(c->address);
	free(c);
}

void
dqc_set_timeout(struct dqc *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
}

const char *
dqc_address(const struct dqc *c)
{
	return c->address;
}

int
dqc_errcode(const struct dqc *c)
{
	return c->errcode;
}

bool
dqc_broken(const struct dqc *c)
{
	return c->broken;
}

/* ---- cluster requests ---- */

int
dqc_leader(struct dqc *c, uint64_t *id, char **address, char **err)
{
	struct dqc_cur k;
	const char *a;

	dqc_put_u64(dqc_begin(c), 0);
	if (dqc_roundtrip(c, DQC_REQ_LEADER, DQC_RES_SERVER, &k, err) < 0)
		return -1;
	if (dqc_get_u64(&k, id) < 0 || dqc_get_text(&k, &a) < 0)
		return dqc_tfail(c, err, "malformed SERVER response");
	*address = xstrdup(a);
	return 0;
}

/* Asks the node at addr for the leader; on success returns a connection to
 * the leader, confirmed by the leader naming itself. */
static struct dqc *
dqc_try_leader(const char *addr, int timeout_ms, char **err)
{
	struct dqc *c = dqc_connect(addr, timeout_ms, err);
	char *leader = NULL;
	uint64_t id;

	if (!c)
		return NULL;
	if (dqc_leader(c, &id, &leader, err) < 0)
		goto fail;
	if (leader[0] == '\0') {
		dqc_fail(c, err, DQC_ETRANSPORT,
			 "dqlite %s: no leader known", addr);
		goto fail;
	}
	if (strcmp(leader, addr) != 0) {
		/* Go to the leader and make sure it agrees. */
		char *again = NULL;
		dqc_close(c);
		c = dqc_connect(leader, timeout_ms, err);
		if (!c)
			goto fail;
		if (dqc_leader(c, &id, &again, err) < 0)
			goto fail;
		if (strcmp(again, leader) != 0) {
			dqc_fail(c, err, DQC_ETRANSPORT,
				 "dqlite %s: not the leader any more", leader);
			free(again);
			goto fail;
		}
		free(again);
	}
	free(leader);
	return c;
fail:
	free(leader);
	dqc_close(c);
	return NULL;
}

struct dqc *
dqc_connect_leader(const char *const *addrs, size_t naddrs, int timeout_ms,
		   int wait_ms, char **err)
{
	int64_t deadline = dqc_now_ms() + (wait_ms > 0 ? wait_ms : 0);

	if (naddrs == 0) {
		dqc_fail(NULL, err, DQC_ETRANSPORT, "dqc: no node address");
		return NULL;
	}
	for (;;) {
		for (size_t i = 0; i < naddrs; i++) {
			char *e = NULL;
			struct dqc *c = dqc_try_leader(addrs[i], timeout_ms,
						       &e);
			if (c)
				return c;
			if (dqc_now_ms() + 50 > deadline &&
			    i + 1 == naddrs) {
				if (err)
					*err = e;
				else
					free(e);
				return NULL;
			}
			free(e);
		}
		dqc_sleep_ms(50);
	}
}

int
dqc_cluster(struct dqc *c, struct dqc_server **servers, size_t *n,
	    char **err)
{
	struct dqc_cur k;
	uint64_t cnt, role;
	struct dqc_server *s;
	size_t i;

	*servers = NULL;
	*n = 0;
	dqc_put_u64(dqc_begin(c), 1); /* format 1: id, address, role */
	if (dqc_roundtrip(c, DQC_REQ_CLUSTER, DQC_RES_SERVERS, &k, err) < 0)
		return -1;
	if (dqc_get_u64(&k, &cnt) < 0 || cnt > k.left / 24)
		return dqc_tfail(c, err, "malformed SERVERS response");
	s = xcalloc((size_t)cnt + 1, sizeof(*s));
	for (i = 0; i < cnt; i++) {
		const char *a;
		if (dqc_get_u64(&k, &s[i].id) < 0 ||
		    dqc_get_text(&k, &a) < 0 || dqc_get_u64(&k, &role) < 0) {
			dqc_servers_free(s, i);
			return dqc_tfail(c, err, "malformed SERVERS response");
		}
		s[i].address = xstrdup(a);
		s[i].role = (enum dqc_role)role;
	}
	*servers = s;
	*n = i;
	return 0;
}

void
dqc_servers_free(struct dqc_server *servers, size_t n)
{
	if (!servers)
		return;
	for (size_t i = 0; i < n; i++)
		free(servers[i].address);
	free(servers);
}

/* Sends the request built since dqc_begin() and expects EMPTY. */
static int
dqc_simple(struct dqc *c, uint8_t type, char **err)
{
	struct dqc_cur k;

	return dqc_roundtrip(c, type, DQC_RES_EMPTY, &k, err);
}

int
dqc_add(struct dqc *c, uint64_t id, const char *address, char **err)
{
	struct buf *b = dqc_begin(c);

	dqc_put_u64(b, id);
	dqc_put_text(b, address);
	return dqc_simple(c, DQC_REQ_ADD, err);
}

int
dqc_assign(struct dqc *c, uint64_t id, enum dqc_role role, char **err)
{
	struct buf *b = dqc_begin(c);

	dqc_put_u64(b, id);
	dqc_put_u64(b, (uint64_t)role);
	return dqc_simple(c, DQC_REQ_ASSIGN, err);
}

int
dqc_remove(struct dqc *c, uint64_t id, char **err)
{
	dqc_put_u64(dqc_begin(c), id);
	return dqc_simple(c, DQC_REQ_REMOVE, err);
}

int
dqc_transfer(struct dqc *c, uint64_t id, char **err)
{
	dqc_put_u64(dqc_begin(c), id);
	return dqc_simple(c, DQC_REQ_TRANSFER, err);
}
