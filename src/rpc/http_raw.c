/* http_raw: answers a GET by writing straight into a plain connection's
 * socket (see http_int.h): the head, then the body from files with
 * sendfile (the page cache's pages go to the socket, never through a
 * buffer of ours), runs of zeros with sendfile from a hole of a memfd (the
 * kernel's zero page), and the rest from buffers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rpc/api_int.h"
#include "rpc/http_int.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Bytes of zeros one sendfile moves (the size of the memfd's hole). */
#define HR_ZERO_SPAN (8 * 1024 * 1024)
/* A Unix socket's send buffer while we write into it. */
#define HR_SNDBUF (4 * 1024 * 1024)
/* A client that takes nothing for this long is given up on. */
#define HR_IDLE_MS (600 * 1000)

struct http_raw {
	int fd;
	int64_t sent; /* body bytes written */
	bool failed;
	bool rtimeo; /* the receive timeout is set */
};

static pthread_once_t hr_once = PTHREAD_ONCE_INIT;
static int hr_zero_fd = -1; /* memfd, HR_ZERO_SPAN bytes of hole */
static __thread bool hr_taken;

static void
hr_zero_init(void)
{
	int fd = memfd_create("xapid-zeros", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, HR_ZERO_SPAN) == 0)
		hr_zero_fd = fd;
	else if (fd >= 0)
		close(fd);
}

bool
http_raw_took_connection(void)
{
	return hr_taken;
}

struct http_raw *
http_raw_open(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *tls =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if ((tls && tls->tls_session) || !ci)
		return NULL;
	pthread_once(&hr_once, hr_zero_init);
	struct http_raw *w = xcalloc(1, sizeof(*w));
	w->fd = ci->connect_fd;
	hr_taken = true; /* MHD must not answer this connection any more */
	/* a big send buffer, and blocking writes that give up after the idle
	 * time: far fewer wake-ups than MHD's non-blocking socket + poll */
	int sz = HR_SNDBUF, fl = fcntl(w->fd, F_GETFL);
	struct timeval tv = {.tv_sec = HR_IDLE_MS / 1000};
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	/* (TCP sizes its buffers itself) */
	if (getsockname(w->fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    ss.ss_family == AF_UNIX)
		setsockopt(w->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (fl >= 0 &&
	    setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0)
		fcntl(w->fd, F_SETFL, fl & ~O_NONBLOCK);
	return w;
}

/* Waits until the socket takes more (false: the client is gone or idle). */
static bool
hr_wait(struct http_raw *w)
{
	struct pollfd p = {.fd = w->fd, .events = POLLOUT};
	int r;
	do
		r = poll(&p, 1, HR_IDLE_MS);
	while (r < 0 && errno == EINTR);
	if (r <= 0 || (p.revents & (POLLERR | POLLHUP))) {
		if (r == 0)
			errno = ETIMEDOUT;
		else if (r > 0)
			errno = EPIPE;
		return false;
	}
	return true;
}

/* Whether a failed call only means "not now". */
static bool
hr_again(ssize_t r)
{
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static int
hr_send(struct http_raw *w, const void *p, size_t n, bool body)
{
	const char *s = p;
	while (n && !w->failed) {
		ssize_t r = send(w->fd, s, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (hr_again(r) && hr_wait(w))
			continue;
		if (r <= 0) {
			w->failed = true;
			break;
		}
		s += r;
		n -= (size_t)r;
		if (body)
			w->sent += r;
	}
	return w->failed ? -1 : 0;
}

int
http_raw_head(struct http_raw *w, unsigned status, int64_t length,
              const char *ctype, const char *const *headers)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "HTTP/1.%d %u %s\r\nConnection: close\r\n",
	         length < 0 ? 0 : 1, status,
	         status == 200   ? "OK"
	         : status == 400 ? "Bad Request"
	                         : "Error");
	if (length >= 0)
		buf_addf(&b, "Content-Length: %lld\r\n", (long long)length);
	buf_addf(&b, "Content-Type: %s\r\n", ctype);
	for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
		buf_addf(&b, "%s: %s\r\n", headers[i], headers[i + 1]);
	buf_add(&b, "\r\n", 2);
	int r = hr_send(w, b.data, b.len, false);
	buf_free(&b);
	return r;
}

ssize_t
http_raw_read(struct http_raw *w, void *p, size_t n)
{
	if (!w->rtimeo) { /* blocking reads too, with the idle limit */
		struct timeval tv = {.tv_sec = HR_IDLE_MS / 1000};
		setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		w->rtimeo = true;
	}
	for (;;) {
		ssize_t r = recv(w->fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			errno = ETIMEDOUT;
		return r;
	}
}

int
http_raw_buf(struct http_raw *w, const void *p, size_t n)
{
	return hr_send(w, p, n, true);
}

/* sendfile of len bytes of fd at off; 1: fd cannot be sent from. */
static int
hr_sendfile(struct http_raw *w, int fd, int64_t off, int64_t len)
{
	while (len > 0 && !w->failed) {
		off_t o = (off_t)off;
		size_t n = len > (1 << 30) ? (1 << 30) : (size_t)len;
		ssize_t r = sendfile(w->fd, fd, &o, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (hr_again(r) && hr_wait(w))
			continue;
		if (r < 0 && (errno == EINVAL || errno == ENOSYS) && !w->sent)
			return 1;
		if (r <= 0) {
			if (r == 0) /* the file is shorter: not ours to send */
				errno = EIO;
			w->failed = true;
			break;
		}
		off += r;
		len -= r;
		w->sent += r;
	}
	return w->failed ? -1 : 0;
}

int
http_raw_file(struct http_raw *w, int fd, int64_t off, int64_t len)
{
	int r = hr_sendfile(w, fd, off, len);
	if (r <= 0)
		return r;
	/* no sendfile from this file: through a buffer */
	char *b = xmalloc(1 << 20);
	while (len > 0 && !w->failed) {
		size_t n = len > (1 << 20) ? (1 << 20) : (size_t)len;
		ssize_t k = pread(fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			if (k == 0)
				errno = EIO;
			w->failed = true;
			break;
		}
		http_raw_buf(w, b, (size_t)k);
		off += k;
		len -= k;
	}
	free(b);
	return w->failed ? -1 : 0;
}

int
http_raw_zeros(struct http_raw *w, int64_t len)
{
	static const char z[65536];
	while (len > 0 && !w->failed) {
		int64_t n = len > HR_ZERO_SPAN ? HR_ZERO_SPAN : len;
		if (hr_zero_fd < 0 || hr_sendfile(w, hr_zero_fd, 0, n) > 0) {
			n = n > (int64_t)sizeof(z) ? (int64_t)sizeof(z) : n;
			http_raw_buf(w, z, (size_t)n);
		}
		len -= n;
	}
	return w->failed ? -1 : 0;
}

enum MHD_Result
http_raw_fail(struct http_raw *w, const char *task, struct api_err *err,
              unsigned status)
{
	if (task)
		task_finish(task, NULL, err);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s", err->code);
	for (size_t i = 0; i < err->n; i++)
		buf_addf(&b, " %s", err->params[i]);
	buf_addc(&b, '\n');
	api_err_free(err);
	if (http_raw_head(w, status, (int64_t)b.len, "text/plain", NULL) < 0 ||
	    http_raw_buf(w, b.data, b.len) < 0)
		log_info("http", "the client left before the answer");
	buf_free(&b);
	return http_raw_close(w);
}

int64_t
http_raw_sent(const struct http_raw *w)
{
	return w->sent;
}

enum MHD_Result
http_raw_close(struct http_raw *w)
{
	if (!w)
		return MHD_NO;
	if (w->failed)
		log_info("http", "client went away after %lld bytes: %s",
		         (long long)w->sent, strerror(errno));
	free(w);
	/* MHD closes the connection (after the bytes written) when told
	 * that the request failed; its message about that is dropped by the
	 * logger while hr_taken is set (reset when the next request comes) */
	return MHD_NO;
}

void
http_raw_reset(void)
{
	hr_taken = false;
}
