/*
 * qmp: QMP client (see qmp.h). Threads per monitor: the reader (socket
 * input, reply matching, event queueing) and, when a callback is given, the
 * event thread (delivers queued events in order). Callers block on m->cond
 * with a CLOCK_MONOTONIC deadline.
 */
#include "vm/qemu/qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

#define QMP_TAG "qmp"
#define QMP_MAX_LINE (16u << 20) /* longest message accepted */
#define QMP_HISTORY 256          /* events kept for qmp_wait_event */
#define QMP_DEFAULT_TIMEOUT_MS 30000

/* A command waiting for its reply (lives on the caller's stack). */
struct qmp_waiter {
	long long id;
	bool done;
	int rc;
	json_t *ret;
	char *err;
	struct qmp_waiter *next;
};

/* A queued or remembered event. */
struct qmp_evrec {
	char *name; /* NULL: connection lost */
	json_t *data;
	double timestamp;
	unsigned long long seq;
	struct qmp_evrec *next;
};

struct qmp_mon {
	int fd;
	char *path;
	pthread_mutex_t lock;     /* everything below */
	pthread_mutex_t wlock;    /* one writer at a time */
	pthread_cond_t cond;      /* replies, greeting, events, death */
	pthread_cond_t evcond;    /* the event thread's queue */
	pthread_t reader, evthread;
	bool has_evthread;
	bool greeted, dead, closing, free_in_evthread;
	int version[3];
	long long next_id;
	struct qmp_waiter *pending; /* FIFO, oldest first */
	struct qmp_evrec *evq, *evq_tail;
	struct qmp_evrec history[QMP_HISTORY];
	unsigned long long seq;
	qmp_event_fn on_event;
	void *opaque;
	struct buf rbuf;
};

/* ---- time ---- */

static void
qmp_deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Milliseconds left until dl (0 when past). */
static int
qmp_left_ms(const struct timespec *dl)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(dl->tv_sec - now.tv_sec) * 1000 +
	     (dl->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

static void
qmp_set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
qmp_set_err(char **err, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	*err = buf_steal(&b);
}

/* ---- socket ---- */

int
qmp_unix_connect(const char *path, int timeout_ms, bool (*give_up)(void *), void *opaque,
		 char **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timespec dl;
	int dirfd = -1, fd, delay_ms = 5, rc;

	if (strlen(path) < sizeof(sa.sun_path)) {
		memcpy(sa.sun_path, path, strlen(path) + 1);
	} else {
		/* too long for sun_path: go through the directory's fd */
		const char *slash = strrchr(path, '/');
		char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
		dirfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		free(dir);
		if (dirfd < 0 || snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s",
					  dirfd, slash ? slash + 1 : path) >=
					 (int)sizeof(sa.sun_path)) {
			qmp_set_err(err, "cannot reach socket %s: %s", path,
				    dirfd < 0 ? strerror(errno) : "name too long");
			if (dirfd >= 0)
				close(dirfd);
			return -1;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		qmp_set_err(err, "socket: %s", strerror(errno));
		goto out;
	}
	qmp_deadline(&dl, timeout_ms);
	for (;;) {
		rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (rc == 0)
			break;
		if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN &&
		    errno != EINTR) {
			qmp_set_err(err, "cannot connect to %s: %s", path, strerror(errno));
			goto fail;
		}
		if (give_up && give_up(opaque)) {
			qmp_set_err(err, "gave up connecting to %s", path);
			goto fail;
		}
		if (qmp_left_ms(&dl) == 0) {
			qmp_set_err(err, "cannot connect to %s within %d ms: %s", path,
				    timeout_ms, strerror(errno));
			goto fail;
		}
		int left = qmp_left_ms(&dl);
		usleep((useconds_t)(delay_ms < left ? delay_ms : left) * 1000);
		if (delay_ms < 50)
			delay_ms *= 2;
	}
	goto out;
fail:
	close(fd);
	fd = -1;
out:
	if (dirfd >= 0)
		close(dirfd);
	return fd;
}

/* Sends all of text before the deadline, with fd (if >= 0) attached to the
 * first byte. Returns QMP_OK, QMP_ETIMEOUT or QMP_EIO. */
static int
qmp_send_all(struct qmp_mon *m, const char *text, size_t len, int fd,
	     const struct timespec *dl, char **err)
{
	size_t off = 0;

	while (off < len) {
		struct iovec iov = {(void *)(text + off), len - off};
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int))];
		} cm;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;

		if (fd >= 0 && off == 0) {
			memset(&cm, 0, sizeof(cm));
			mh.msg_control = cm.b;
			mh.msg_controllen = sizeof(cm.b);
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
		}
		n = sendmsg(m->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			qmp_set_err(err, "QMP write to %s: %s", m->path, strerror(errno));
			return QMP_EIO;
		}
		struct pollfd p = {m->fd, POLLOUT, 0};
		int left = qmp_left_ms(dl);
		if (left == 0 || poll(&p, 1, left) == 0) {
			qmp_set_err(err, "QMP write to %s timed out", m->path);
			return QMP_ETIMEOUT;
		}
	}
	return QMP_OK;
}

/* ---- reader thread ---- */

/* Completes a waiter. Lock held. */
static void
qmp_complete(struct qmp_mon *m, struct qmp_waiter *w, int rc, json_t *ret, char *err)
{
	struct qmp_waiter **pp;

	for (pp = &m->pending; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	w->done = true;
	w->rc = rc;
	w->ret = ret;
	w->err = err;
	pthread_cond_broadcast(&m->cond);
}

/* Queues an event for the callback and remembers it. Lock held. */
static void
qmp_push_event(struct qmp_mon *m, const char *name, json_t *data, double ts)
{
	unsigned long long seq = name ? ++m->seq : 0;

	if (name) {
		struct qmp_evrec *h = &m->history[seq % QMP_HISTORY];
		free(h->name);
		json_decref(h->data);
		h->name = xstrdup(name);
		h->data = data ? json_deep_copy(data) : NULL;
		h->timestamp = ts;
		h->seq = seq;
	}
	if (m->has_evthread && !m->closing) {
		struct qmp_evrec *e = xcalloc(1, sizeof(*e));
		e->name = name ? xstrdup(name) : NULL;
		e->data = data ? json_deep_copy(data) : NULL; /* one owner per thread */
		e->timestamp = ts;
		e->seq = seq;
		if (m->evq_tail)
			m->evq_tail->next = e;
		else
			m->evq = e;
		m->evq_tail = e;
		pthread_cond_signal(&m->evcond);
	}
	pthread_cond_broadcast(&m->cond);
}

/* Handles one line from QEMU. Lock held. */
static void
qmp_handle_line(struct qmp_mon *m, const char *line, size_t len)
{
	struct qmp_msg msg;
	struct qmp_waiter *w;
	char *err = NULL;

	if (qmp_parse_message(line, len, &msg, &err) != QMP_OK) {
		log_warn(QMP_TAG, "%s: %s: %.*s", m->path, err, (int)(len < 120 ? len : 120),
			 line);
		/* QEMU answers in order: blame the oldest command */
		if (m->pending)
			qmp_complete(m, m->pending, QMP_EPROTO, NULL, err);
		else
			free(err);
		return;
	}
	switch (msg.type) {
	case QMP_MSG_GREETING:
		if (!m->greeted) {
			memcpy(m->version, msg.version, sizeof(m->version));
			m->greeted = true;
			pthread_cond_broadcast(&m->cond);
		}
		break;
	case QMP_MSG_RETURN:
	case QMP_MSG_ERROR:
		for (w = m->pending; w && msg.id >= 0 && w->id != msg.id; w = w->next)
			;
		if (!w) {
			log_debug(QMP_TAG, "%s: reply to no pending command: %.*s", m->path,
				  (int)(len < 120 ? len : 120), line);
			break;
		}
		if (msg.type == QMP_MSG_RETURN)
			qmp_complete(m, w, QMP_OK, json_incref(msg.ret), NULL);
		else
			qmp_complete(m, w, QMP_EQEMU, NULL,
				     xasprintf("%s: %s", msg.err_class, msg.err_desc));
		break;
	case QMP_MSG_EVENT:
		log_debug(QMP_TAG, "%s: event %s", m->path, msg.event);
		qmp_push_event(m, msg.event, msg.data, msg.timestamp);
		break;
	}
	qmp_msg_clear(&msg);
}

/* Splits the buffered input into lines. Returns false when a line is too
 * long (the connection is then dropped). Lock held. */
static bool
qmp_drain_lines(struct qmp_mon *m)
{
	size_t start = 0;
	char *nl;

	while (start < m->rbuf.len &&
	       (nl = memchr(m->rbuf.data + start, '\n', m->rbuf.len - start))) {
		size_t end = (size_t)(nl - m->rbuf.data), len = end - start;
		const char *line = m->rbuf.data + start;
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
			len--;
		if (len)
			qmp_handle_line(m, line, len);
		start = end + 1;
	}
	if (start) {
		memmove(m->rbuf.data, m->rbuf.data + start, m->rbuf.len - start);
		m->rbuf.len -= start;
		m->rbuf.data[m->rbuf.len] = 0;
	}
	return m->rbuf.len <= QMP_MAX_LINE;
}

static void *
qmp_reader_main(void *p)
{
	struct qmp_mon *m = p;
	char chunk[65536];
	const char *why = "closed by QEMU";

	for (;;) {
		struct pollfd pfd = {m->fd, POLLIN, 0};
		ssize_t n;

		if (poll(&pfd, 1, -1) < 0 && errno != EINTR) {
			why = strerror(errno);
			break;
		}
		n = recv(m->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			if (n < 0)
				why = strerror(errno);
			break;
		}
		pthread_mutex_lock(&m->lock);
		buf_add(&m->rbuf, chunk, (size_t)n);
		bool ok = qmp_drain_lines(m);
		pthread_mutex_unlock(&m->lock);
		if (!ok) {
			why = "message too long";
			break;
		}
	}
	pthread_mutex_lock(&m->lock);
	m->dead = true;
	if (!m->closing)
		log_debug(QMP_TAG, "%s: connection lost (%s)", m->path, why);
	while (m->pending)
		qmp_complete(m, m->pending, QMP_EIO, NULL,
			     xasprintf("QMP connection to %s lost (%s)", m->path, why));
	qmp_push_event(m, NULL, NULL, 0);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* ---- event thread ---- */

static void qmp_free(struct qmp_mon *m);

static void *
qmp_evthread_main(void *p)
{
	struct qmp_mon *m = p;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		while (!m->evq && !m->closing)
			pthread_cond_wait(&m->evcond, &m->lock);
		if (m->closing)
			break;
		struct qmp_evrec *e = m->evq;
		m->evq = e->next;
		if (!m->evq)
			m->evq_tail = NULL;
		pthread_mutex_unlock(&m->lock);
		struct qmp_event ev = {e->name, e->data, e->timestamp, e->seq};
		m->on_event(m->opaque, &ev);
		free(e->name);
		json_decref(e->data);
		free(e);
		pthread_mutex_lock(&m->lock);
	}
	bool self_free = m->free_in_evthread;
	pthread_mutex_unlock(&m->lock);
	if (self_free) {
		pthread_join(m->reader, NULL);
		qmp_free(m);
	}
	return NULL;
}

/* ---- open / close ---- */

static void
qmp_free(struct qmp_mon *m)
{
	struct qmp_evrec *e;

	while ((e = m->evq)) {
		m->evq = e->next;
		free(e->name);
		json_decref(e->data);
		free(e);
	}
	for (size_t i = 0; i < QMP_HISTORY; i++) {
		free(m->history[i].name);
		json_decref(m->history[i].data);
	}
	if (m->fd >= 0)
		close(m->fd);
	buf_free(&m->rbuf);
	pthread_cond_destroy(&m->cond);
	pthread_cond_destroy(&m->evcond);
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->wlock);
	free(m->path);
	free(m);
}

struct qmp_mon *
qmp_open(const char *path, const struct qmp_open_opts *o, char **err)
{
	int timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms : QMP_DEFAULT_TIMEOUT_MS;
	struct timespec dl;
	pthread_condattr_t ca;
	struct qmp_mon *m;
	int fd, rc;

	qmp_deadline(&dl, timeout_ms);
	fd = qmp_unix_connect(path, timeout_ms, o ? o->give_up : NULL, o ? o->opaque : NULL,
			      err);
	if (fd < 0)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->fd = fd;
	m->path = xstrdup(path);
	m->on_event = o ? o->on_event : NULL;
	m->opaque = o ? o->opaque : NULL;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->wlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_cond_init(&m->evcond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&m->reader, NULL, qmp_reader_main, m) != 0) {
		qmp_set_err(err, "cannot start the QMP reader thread");
		qmp_free(m);
		return NULL;
	}
	if (m->on_event) {
		m->has_evthread = pthread_create(&m->evthread, NULL, qmp_evthread_main, m) == 0;
		if (!m->has_evthread) {
			qmp_set_err(err, "cannot start the QMP event thread");
			qmp_close(m);
			return NULL;
		}
	}
	pthread_mutex_lock(&m->lock);
	while (!m->greeted && !m->dead && qmp_left_ms(&dl) > 0)
		pthread_cond_timedwait(&m->cond, &m->lock, &dl);
	rc = m->greeted ? QMP_OK : m->dead ? QMP_EIO : QMP_ETIMEOUT;
	pthread_mutex_unlock(&m->lock);
	if (rc != QMP_OK) {
		qmp_set_err(err, "no QMP greeting on %s (%s)", path,
			    rc == QMP_EIO ? "connection closed" : "timed out");
		qmp_close(m);
		return NULL;
	}
	rc = qmp_command(m, "qmp_capabilities", NULL, NULL, qmp_left_ms(&dl) + 1, err);
	if (rc != QMP_OK) {
		qmp_close(m);
		return NULL;
	}
	return m;
}

void
qmp_close(struct qmp_mon *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->closing = true;
	pthread_cond_broadcast(&m->evcond);
	if (m->has_evthread && pthread_equal(pthread_self(), m->evthread)) {
		/* called from the callback: the event thread frees on return */
		m->free_in_evthread = true;
		pthread_mutex_unlock(&m->lock);
		shutdown(m->fd, SHUT_RDWR);
		pthread_detach(m->evthread);
		return;
	}
	pthread_mutex_unlock(&m->lock);
	shutdown(m->fd, SHUT_RDWR);
	pthread_join(m->reader, NULL);
	if (m->has_evthread)
		pthread_join(m->evthread, NULL);
	qmp_free(m);
}

/* ---- commands and events ---- */

/* Registers, sends (fd attached to the first) and waits for n commands;
 * reqs[k].rc/ret/err get each outcome. Returns the first failure's rc. */
static int
qmp_send_batch(struct qmp_mon *m, struct qmp_req *reqs, size_t n, int fd,
               int timeout_ms)
{
	struct qmp_waiter *ws = xcalloc(n + 1, sizeof(*ws));
	struct buf b = BUF_INIT;
	struct timespec dl;
	char *e = NULL;
	int rc = QMP_OK;
	size_t k;

	if (timeout_ms <= 0)
		timeout_ms = QMP_DEFAULT_TIMEOUT_MS;
	for (k = 0; k < n; k++) {
		reqs[k].rc = QMP_OK;
		reqs[k].ret = NULL;
		reqs[k].err = NULL;
	}
	for (k = 0; k < n; k++)
		if (reqs[k].args && !json_is_object(reqs[k].args)) {
			qmp_set_err(&reqs[k].err,
			            "QMP %s: arguments must be an object",
			            reqs[k].cmd);
			reqs[k].rc = QMP_EPROTO;
			free(ws);
			return QMP_EPROTO;
		}
	qmp_deadline(&dl, timeout_ms);
	pthread_mutex_lock(&m->lock);
	if (m->dead || m->closing) {
		pthread_mutex_unlock(&m->lock);
		qmp_set_err(&reqs[0].err, "QMP connection to %s is closed",
		            m->path);
		reqs[0].rc = QMP_EIO;
		free(ws);
		return QMP_EIO;
	}
	struct qmp_waiter **pp = &m->pending;
	while (*pp)
		pp = &(*pp)->next;
	for (k = 0; k < n; k++) {
		ws[k].id = ++m->next_id;
		*pp = &ws[k];
		pp = &ws[k].next;
	}
	pthread_mutex_unlock(&m->lock);

	for (k = 0; k < n && rc == QMP_OK; k++) {
		json_t *o = json_object();
		json_object_set_new(o, "execute", json_string(reqs[k].cmd));
		if (reqs[k].args)
			json_object_set(o, "arguments", reqs[k].args);
		json_object_set_new(o, "id", json_integer(ws[k].id));
		char *text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!text) {
			rc = QMP_EPROTO;
			qmp_set_err(&e, "QMP %s: arguments cannot be encoded",
			            reqs[k].cmd);
			break;
		}
		log_debug(QMP_TAG, "%s: -> %.200s", m->path, text);
		buf_adds(&b, text);
		buf_addc(&b, '\n');
		free(text);
	}
	if (rc == QMP_OK) {
		/* timedlock (CLOCK_REALTIME) rather than clocklock: sanitizers
		 * know it */
		struct timespec rdl;
		clock_gettime(CLOCK_REALTIME, &rdl);
		rdl.tv_sec += qmp_left_ms(&dl) / 1000;
		rdl.tv_nsec += (long)(qmp_left_ms(&dl) % 1000) * 1000000L;
		if (rdl.tv_nsec >= 1000000000L) {
			rdl.tv_sec++;
			rdl.tv_nsec -= 1000000000L;
		}
		if (pthread_mutex_timedlock(&m->wlock, &rdl) != 0) {
			rc = QMP_ETIMEOUT;
			qmp_set_err(&e, "QMP %s: monitor %s busy, timed out",
			            reqs[0].cmd, m->path);
		} else {
			rc = qmp_send_all(m, b.data, b.len, fd, &dl, &e);
			pthread_mutex_unlock(&m->wlock);
		}
	}
	buf_free(&b);

	pthread_mutex_lock(&m->lock);
	if (rc != QMP_OK) { /* nothing (or not all) sent: abandon every one */
		for (k = 0; k < n; k++)
			if (!ws[k].done)
				qmp_complete(m, &ws[k], rc, NULL, NULL);
	}
	for (k = 0; k < n; k++) {
		while (!ws[k].done && qmp_left_ms(&dl) > 0)
			pthread_cond_timedwait(&m->cond, &m->lock, &dl);
		if (!ws[k].done)
			qmp_complete(
			    m, &ws[k], QMP_ETIMEOUT, NULL,
			    xasprintf("QMP %s: no reply from %s within %d ms",
			              reqs[k].cmd, m->path, timeout_ms));
	}
	pthread_mutex_unlock(&m->lock);
	int first = rc;
	for (k = 0; k < n; k++) {
		reqs[k].rc = ws[k].rc;
		reqs[k].ret = ws[k].ret;
		reqs[k].err = ws[k].err;
		if (rc != QMP_OK && !reqs[k].err)
			reqs[k].err = xstrdup(e ? e : "not sent");
		if (first == QMP_OK)
			first = ws[k].rc;
	}
	free(e);
	free(ws);
	return first;
}

int
qmp_pipeline(struct qmp_mon *m, struct qmp_req *reqs, size_t n, int timeout_ms)
{
	return n ? qmp_send_batch(m, reqs, n, -1, timeout_ms) : QMP_OK;
}

int
qmp_command_fd(struct qmp_mon *m, const char *cmd, const json_t *args, int fd,
               json_t **ret, int timeout_ms, char **err)
{
	struct qmp_req r = {cmd, (json_t *)args, 0, NULL, NULL};
	int rc = qmp_send_batch(m, &r, 1, fd, timeout_ms);

	if (ret)
		*ret = r.ret;
	else
		json_decref(r.ret);
	if (err)
		*err = r.err;
	else
		free(r.err);
	return rc;
}

int
qmp_command(struct qmp_mon *m, const char *cmd, const json_t *args, json_t **ret,
	    int timeout_ms, char **err)
{
	return qmp_command_fd(m, cmd, args, -1, ret, timeout_ms, err);
}

unsigned long long
qmp_event_seq(struct qmp_mon *m)
{
	unsigned long long s;

	pthread_mutex_lock(&m->lock);
	s = m->seq;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* The remembered event after seq `after` that matches, or NULL. Lock held. */
static struct qmp_evrec *
qmp_find_event(struct qmp_mon *m, unsigned long long after, const char *name,
	       const char *key, const char *value)
{
	unsigned long long first = m->seq > QMP_HISTORY ? m->seq - QMP_HISTORY + 1 : 1;

	for (unsigned long long s = after + 1 > first ? after + 1 : first; s <= m->seq; s++) {
		struct qmp_evrec *h = &m->history[s % QMP_HISTORY];
		if (h->seq != s || !h->name || strcmp(h->name, name) != 0)
			continue;
		if (key) {
			const char *v = json_string_value(json_object_get(h->data, key));
			if (!v || strcmp(v, value) != 0)
				continue;
		}
		return h;
	}
	return NULL;
}

int
qmp_wait_event(struct qmp_mon *m, unsigned long long after, const char *name,
	       const char *key, const char *value, int timeout_ms, json_t **data,
	       char **err)
{
	struct timespec dl;
	struct qmp_evrec *h;
	int rc;

	if (data)
		*data = NULL;
	qmp_deadline(&dl, timeout_ms > 0 ? timeout_ms : 0);
	pthread_mutex_lock(&m->lock);
	while (!(h = qmp_find_event(m, after, name, key, value)) && !m->dead &&
	       qmp_left_ms(&dl) > 0)
		pthread_cond_timedwait(&m->cond, &m->lock, &dl);
	if (h) {
		rc = QMP_OK;
		if (data)
			*data = h->data ? json_deep_copy(h->data) : NULL;
	} else if (m->dead) {
		rc = QMP_EIO;
		qmp_set_err(err, "QMP connection to %s lost while waiting for %s", m->path,
			    name);
	} else {
		rc = QMP_ETIMEOUT;
		qmp_set_err(err, "no %s event from %s within %d ms", name, m->path, timeout_ms);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

bool
qmp_alive(struct qmp_mon *m)
{
	bool alive;

	pthread_mutex_lock(&m->lock);
	alive = !m->dead;
	pthread_mutex_unlock(&m->lock);
	return alive;
}

void
qmp_version(struct qmp_mon *m, int version[3])
{
	pthread_mutex_lock(&m->lock);
	memcpy(version, m->version, sizeof(m->version));
	pthread_mutex_unlock(&m->lock);
}
