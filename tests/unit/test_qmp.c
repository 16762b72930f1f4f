/*
 * Unit tests of the QMP client (src/vm/qemu/qmp.c) against a fake QMP
 * server thread on a Unix socket: greeting and capabilities, replies with
 * interleaved events, errors, malformed replies, a server that never answers
 * or never greets, a lost connection, events waited for, fd passing,
 * concurrent commands answered out of order; and the parser on its own.
 * Every wait is bounded by short timeouts.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "vm/qemu/qga.h"
#include "vm/qemu/qmp.h"

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
		 "\"package\": \"Debian\"}, \"capabilities\": [\"oob\"]}}"

struct fake;
typedef void (*fake_script)(struct fake *f, int fd);

struct fake {
	char dir[64];
	char path[128];
	int lfd;
	pthread_t th;
	fake_script script;
	int received_fd; /* fd passed by SCM_RIGHTS, or -1 */
	char rbuf[65536];
	size_t rlen;
};

/* Sends one line (adds the newline). */
static void
fake_send(int fd, const char *line)
{
	size_t n = strlen(line);
	char *b = malloc(n + 2);

	memcpy(b, line, n);
	memcpy(b + n, "\r\n", 2);
	(void)!write(fd, b, n + 2);
	free(b);
}

/* Reads one line from the client (NULL at EOF); also collects a passed fd. */
static json_t *
fake_recv(struct fake *f, int fd)
{
	for (;;) {
		char *nl = memchr(f->rbuf, '\n', f->rlen);
		if (nl) {
			size_t len = (size_t)(nl - f->rbuf);
			json_t *j = json_loadb(f->rbuf, len, 0, NULL);
			memmove(f->rbuf, nl + 1, f->rlen - len - 1);
			f->rlen -= len + 1;
			return j;
		}
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(int))];
		} cm;
		struct iovec iov = {f->rbuf + f->rlen, sizeof(f->rbuf) - f->rlen};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
				    .msg_controllen = sizeof(cm.b)};
		ssize_t n = recvmsg(fd, &mh, 0);
		if (n <= 0)
			return NULL;
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_type == SCM_RIGHTS)
			memcpy(&f->received_fd, CMSG_DATA(c), sizeof(int));
		f->rlen += (size_t)n;
	}
}

/* Reads a command; checks its name; returns its id (as JSON text). */
static char *
fake_expect(struct fake *f, int fd, const char *name)
{
	json_t *j = fake_recv(f, fd);
	const char *ex = json_string_value(json_object_get(j, "execute"));
	char *id;

	if (!ex || strcmp(ex, name) != 0) {
		/* not a cmocka assert: this runs on the server thread */
		fprintf(stderr, "fake server: expected %s, got %s\n", name, ex ? ex : "(none)");
		abort();
	}
	id = json_dumps(json_object_get(j, "id"), JSON_ENCODE_ANY);
	json_decref(j);
	return id;
}

/* Answers a command with {"return": ret, "id": id}. */
static void
fake_reply(int fd, const char *id, const char *ret)
{
	char line[1024];

	snprintf(line, sizeof(line), "{\"return\": %s, \"id\": %s}", ret, id);
	fake_send(fd, line);
}

/* Greeting + qmp_capabilities. */
static void
fake_handshake(struct fake *f, int fd)
{
	fake_send(fd, GREETING);
	char *id = fake_expect(f, fd, "qmp_capabilities");
	fake_reply(fd, id, "{}");
	free(id);
}

static void *
fake_main(void *p)
{
	struct fake *f = p;
	int fd = accept(f->lfd, NULL, NULL);

	if (fd >= 0) {
		f->script(f, fd);
		close(fd);
	}
	return NULL;
}

static struct fake *
fake_start(fake_script script)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	strcpy(f->dir, "/tmp/test_qmp.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/qmp.sock", f->dir);
	strcpy(sa.sun_path, f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	f->script = script;
	f->received_fd = -1;
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	return f;
}

static void
fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->lfd);
	if (f->received_fd >= 0)
		close(f->received_fd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
}

/* ---- event recorder ---- */

struct evlog {
	pthread_mutex_t lock;
	char names[32][32];
	int n;
	int closed;
};

static void
evlog_cb(void *opaque, const struct qmp_event *ev)
{
	struct evlog *l = opaque;

	pthread_mutex_lock(&l->lock);
	if (!ev->name)
		l->closed++;
	else if (l->n < 32)
		snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", ev->name);
	pthread_mutex_unlock(&l->lock);
}

static struct qmp_mon *
open_mon(struct fake *f, struct evlog *l)
{
	struct qmp_open_opts o = {.timeout_ms = 5000, .on_event = l ? evlog_cb : NULL,
				  .opaque = l};
	char *err = NULL;
	struct qmp_mon *m = qmp_open(f->path, &o, &err);

	if (!m)
		fail_msg("qmp_open: %s", err);
	return m;
}

/* ---- scenarios ---- */

static void
script_status(struct fake *f, int fd)
{
	fake_handshake(f, fd);
	char *id = fake_expect(f, fd, "stop");
	fake_send(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}");
	fake_reply(fd, id, "{}");
	free(id);
	id = fake_expect(f, fd, "query-status");
	fake_send(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 3}, \"event\": "
		      "\"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-shutdown\"}}");
	fake_reply(fd, id, "{\"status\": \"paused\", \"singlestep\": false, \"running\": false}");
	free(id);
	json_decref(fake_recv(f, fd)); /* until the client closes */
}

static void
test_command_and_events(void **state)
{
	struct evlog l = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct fake *f = fake_start(script_status);
	struct qmp_mon *m = open_mon(f, &l);
	json_t *ret = NULL;
	char *err = NULL;
	int v[3];

	(void)state;
	qmp_version(m, v);
	assert_int_equal(v[0], 7);
	assert_int_equal(v[1], 2);
	assert_int_equal(v[2], 22);
	assert_int_equal(qmp_command(m, "stop", NULL, NULL, 5000, &err), QMP_OK);
	assert_int_equal(qmp_command(m, "query-status", NULL, &ret, 5000, &err), QMP_OK);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "paused");
	json_decref(ret);
	/* both events were seen; SHUTDOWN can be waited for after the fact */
	json_t *data = NULL;
	assert_int_equal(qmp_wait_event(m, 0, "SHUTDOWN", "reason", "guest-shutdown", 5000,
					&data, &err),
			 QMP_OK);
	assert_true(json_is_true(json_object_get(data, "guest")));
	json_decref(data);
	assert_int_equal(qmp_event_seq(m), 2);
	/* delivery to the callback is asynchronous (bounded wait) */
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&l.lock);
		int n = l.n;
		pthread_mutex_unlock(&l.lock);
		if (n == 2)
			break;
		usleep(10000);
	}
	qmp_close(m);
	fake_stop(f);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "STOP");
	assert_string_equal(l.names[1], "SHUTDOWN");
}

static void
script_errors(struct fake *f, int fd)
{
	fake_handshake(f, fd);
	char *id = fake_expect(f, fd, "device_del");
	char line[512];
	snprintf(line, sizeof(line),
		 "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'x' not found\"}, "
		 "\"id\": %s}", id);
	fake_send(fd, line);
	free(id);
	id = fake_expect(f, fd, "query-status");
	fake_send(fd, "{\"return\": {\"status\": \"runn"); /* truncated JSON line */
	free(id);
	id = fake_expect(f, fd, "query-status");
	fake_send(fd, "[1, 2, 3]");
	free(id);
	id = fake_expect(f, fd, "query-status");
	fake_send(fd, "{\"what\": 1}");
	free(id);
	id = fake_expect(f, fd, "query-name");
	/* an id-less error (QEMU's answer to unparsable input) goes to the oldest */
	fake_send(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}");
	free(id);
	id = fake_expect(f, fd, "query-name");
	fake_send(fd, "{\"return\": {}, \"id\": 999999}"); /* stale id: dropped */
	fake_reply(fd, id, "{\"name\": \"vm1\"}");
	free(id);
	json_decref(fake_recv(f, fd));
}

static void
test_errors_and_malformed(void **state)
{
	struct fake *f = fake_start(script_errors);
	struct qmp_mon *m = open_mon(f, NULL);
	json_t *args = json_pack("{s:s}", "id", "x"), *ret = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(qmp_command(m, "device_del", args, NULL, 5000, &err), QMP_EQEMU);
	assert_string_equal(err, "DeviceNotFound: Device 'x' not found");
	free(err);
	json_decref(args);
	for (int i = 0; i < 3; i++) {
		err = NULL;
		assert_int_equal(qmp_command(m, "query-status", NULL, &ret, 5000, &err),
				 QMP_EPROTO);
		assert_null(ret);
		assert_non_null(strstr(err, "malformed"));
		free(err);
	}
	err = NULL;
	assert_int_equal(qmp_command(m, "query-name", NULL, NULL, 5000, &err), QMP_EQEMU);
	free(err);
	assert_int_equal(qmp_command(m, "query-name", NULL, &ret, 5000, NULL), QMP_OK);
	assert_string_equal(json_string_value(json_object_get(ret, "name")), "vm1");
	json_decref(ret);
	assert_true(qmp_alive(m));
	qmp_close(m);
	fake_stop(f);
}

static void
script_silent(struct fake *f, int fd)
{
	fake_handshake(f, fd);
	char *id = fake_expect(f, fd, "query-status");
	free(id);
	json_decref(fake_recv(f, fd)); /* never answers; waits for the close */
}

static void
test_timeout(void **state)
{
	struct fake *f = fake_start(script_silent);
	struct qmp_mon *m = open_mon(f, NULL);
	json_t *ret = NULL;
	char *err = NULL;

	(void)state;
	assert_int_equal(qmp_command(m, "query-status", NULL, &ret, 200, &err), QMP_ETIMEOUT);
	assert_null(ret);
	assert_non_null(strstr(err, "query-status"));
	free(err);
	qmp_close(m);
	fake_stop(f);
}

static void
script_no_greeting(struct fake *f, int fd)
{
	(void)f;
	char b[64];
	(void)!read(fd, b, sizeof(b)); /* until the client gives up */
}

static void
test_no_greeting(void **state)
{
	struct fake *f = fake_start(script_no_greeting);
	struct qmp_open_opts o = {.timeout_ms = 200};
	char *err = NULL;

	(void)state;
	assert_null(qmp_open(f->path, &o, &err));
	assert_non_null(strstr(err, "greeting"));
	free(err);
	fake_stop(f);
}

static void
script_hangup(struct fake *f, int fd)
{
	fake_handshake(f, fd);
	char *id = fake_expect(f, fd, "query-status");
	free(id);
	/* returning closes the connection with the command pending */
}

static void
test_connection_lost(void **state)
{
	struct evlog l = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct fake *f = fake_start(script_hangup);
	struct qmp_mon *m = open_mon(f, &l);
	char *err = NULL;

	(void)state;
	assert_int_equal(qmp_command(m, "query-status", NULL, NULL, 5000, &err), QMP_EIO);
	free(err);
	err = NULL;
	assert_false(qmp_alive(m));
	assert_int_equal(qmp_command(m, "query-status", NULL, NULL, 5000, &err), QMP_EIO);
	free(err);
	err = NULL;
	assert_int_equal(qmp_wait_event(m, 0, "SHUTDOWN", NULL, NULL, 5000, NULL, &err),
			 QMP_EIO);
	free(err);
	/* the callback hears about the loss (bounded wait for the thread) */
	for (int i = 0; i < 500; i++) {
		pthread_mutex_lock(&l.lock);
		int c = l.closed;
		pthread_mutex_unlock(&l.lock);
		if (c)
			break;
		usleep(10000);
	}
	assert_int_equal(l.closed, 1);
	qmp_close(m);
	fake_stop(f);
}

static void
test_no_socket(void **state)
{
	struct qmp_open_opts o = {.timeout_ms = 100};
	char *err = NULL;

	(void)state;
	assert_null(qmp_open("/nonexistent/dir/qmp.sock", &o, &err));
	assert_non_null(strstr(err, "cannot connect"));
	free(err);
}

static void
script_device_deleted(struct fake *f, int fd)
{
	fake_handshake(f, fd);
	char *id = fake_expect(f, fd, "device_del");
	fake_reply(fd, id, "{}");
	free(id);
	usleep(20000);
	fake_send(fd, "{\"event\": \"DEVICE_DELETED\", \"data\": {\"path\": "
		      "\"/machine/peripheral/vbd3/virtio-backend\"}, \"timestamp\": {}}");
	fake_send(fd, "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"vbd2\", "
		      "\"path\": \"/machine/peripheral/vbd2\"}, \"timestamp\": {}}");
	fake_send(fd, "{\"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"vbd3\", "
		      "\"path\": \"/machine/peripheral/vbd3\"}, \"timestamp\": {}}");
	json_decref(fake_recv(f, fd));
}

static void
test_wait_event(void **state)
{
	struct fake *f = fake_start(script_device_deleted);
	struct qmp_mon *m = open_mon(f, NULL);
	json_t *args = json_pack("{s:s}", "id", "vbd3"), *data = NULL;
	char *err = NULL;

	(void)state;
	unsigned long long seq = qmp_event_seq(m);
	assert_int_equal(qmp_command(m, "device_del", args, NULL, 5000, &err), QMP_OK);
	json_decref(args);
	assert_int_equal(qmp_wait_event(m, seq, "DEVICE_DELETED", "device", "vbd3", 5000,
					&data, &err),
			 QMP_OK);
	assert_string_equal(json_string_value(json_object_get(data, "path")),
			    "/machine/peripheral/vbd3");
	json_decref(data);
	assert_int_equal(qmp_wait_event(m, seq, "DEVICE_DELETED", "device", "vbd9", 100, NULL,
					&err),
			 QMP_ETIMEOUT);
	free(err);
	qmp_close(m);
	fake_stop(f);
}

static void
script_getfd(struct fake *f, int fd)
{
	fake_handshake(f, fd);
	char *id = fake_expect(f, fd, "getfd");
	fake_reply(fd, id, f->received_fd >= 0 ? "{}" : "{\"nofd\": true}");
	free(id);
	json_decref(fake_recv(f, fd));
}

static void
test_fd_passing(void **state)
{
	struct fake *f = fake_start(script_getfd);
	struct qmp_mon *m = open_mon(f, NULL);
	json_t *args = json_pack("{s:s}", "fdname", "x"), *ret = NULL;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(qmp_command_fd(m, "getfd", args, p[1], &ret, 5000, NULL), QMP_OK);
	assert_int_equal(json_object_size(ret), 0);
	json_decref(ret);
	json_decref(args);
	/* the server holds a working copy of the pipe's write end */
	assert_true(f->received_fd >= 0);
	assert_int_equal(write(f->received_fd, "z", 1), 1);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'z');
	close(p[0]);
	close(p[1]);
	qmp_close(m);
	fake_stop(f);
}

/* Answers 4 commands in reverse order. */
static void
script_out_of_order(struct fake *f, int fd)
{
	char *ids[4];

	fake_handshake(f, fd);
	for (int i = 0; i < 4; i++)
		ids[i] = fake_expect(f, fd, "echo");
	for (int i = 3; i >= 0; i--) {
		char ret[64];
		snprintf(ret, sizeof(ret), "{\"id\": %s}", ids[i]);
		fake_reply(fd, ids[i], ret);
		free(ids[i]);
	}
	json_decref(fake_recv(f, fd));
}

struct worker {
	struct qmp_mon *m;
	int rc;
	long long got;
};

static void *
worker_main(void *p)
{
	struct worker *w = p;
	json_t *ret = NULL;

	w->rc = qmp_command(w->m, "echo", NULL, &ret, 5000, NULL);
	w->got = json_integer_value(json_object_get(ret, "id"));
	json_decref(ret);
	return NULL;
}

static void
test_concurrent_out_of_order(void **state)
{
	struct fake *f = fake_start(script_out_of_order);
	struct qmp_mon *m = open_mon(f, NULL);
	struct worker w[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){m, -99, -1};
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	long long seen = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, QMP_OK);
		assert_true(w[i].got >= 2 && w[i].got <= 5); /* 1 was qmp_capabilities */
		seen |= 1LL << w[i].got;
	}
	assert_int_equal(seen, 0x3c); /* every reply reached its own caller */
	qmp_close(m);
	fake_stop(f);
}

/* An event callback that sends a command on the same monitor. */
struct reentrant {
	struct qmp_mon *m;
	int rc;
	int done;
	pthread_mutex_t lock;
};

static void
reentrant_cb(void *opaque, const struct qmp_event *ev)
{
	struct reentrant *r = opaque;

	if (!ev->name || strcmp(ev->name, "RESET") != 0)
		return;
	int rc = qmp_command(r->m, "query-status", NULL, NULL, 5000, NULL);
	pthread_mutex_lock(&r->lock);
	r->rc = rc;
	r->done = 1;
	pthread_mutex_unlock(&r->lock);
}

static void
script_reentrant(struct fake *f, int fd)
{
	fake_handshake(f, fd);
	char *id = fake_expect(f, fd, "system_reset");
	fake_send(fd, "{\"event\": \"RESET\", \"data\": {\"guest\": false}}");
	fake_reply(fd, id, "{}");
	free(id);
	id = fake_expect(f, fd, "query-status");
	fake_reply(fd, id, "{\"status\": \"running\"}");
	free(id);
	json_decref(fake_recv(f, fd));
}

static void
test_command_from_callback(void **state)
{
	struct reentrant r = {.lock = PTHREAD_MUTEX_INITIALIZER, .rc = -99};
	struct fake *f = fake_start(script_reentrant);
	struct qmp_open_opts o = {.timeout_ms = 5000, .on_event = reentrant_cb, .opaque = &r};
	char *err = NULL;

	(void)state;
	pthread_mutex_lock(&r.lock);
	r.m = qmp_open(f->path, &o, &err);
	pthread_mutex_unlock(&r.lock);
	assert_non_null(r.m);
	assert_int_equal(qmp_command(r.m, "system_reset", NULL, NULL, 5000, NULL), QMP_OK);
	int done = 0, rc = -99;
	for (int i = 0; i < 500 && !done; i++) {
		usleep(10000);
		pthread_mutex_lock(&r.lock);
		done = r.done;
		rc = r.rc;
		pthread_mutex_unlock(&r.lock);
	}
	assert_int_equal(done, 1);
	assert_int_equal(rc, QMP_OK);
	qmp_close(r.m);
	fake_stop(f);
}

/* ---- the parser alone ---- */

static void
test_parse(void **state)
{
	struct qmp_msg msg;
	char *err = NULL;
	static const char *const bad[] = {
		"", "{", "null", "\"str\"", "{}", "{\"error\": 3}", "{\"event\": 3}",
		"{\"event\": \"X\", \"data\": [1]}", "{\"QMP\": 1}", "{\"return\": {}} x",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(qmp_parse_message(bad[i], strlen(bad[i]), &msg, &err),
				 QMP_EPROTO);
		assert_non_null(err);
		assert_null(msg.root);
		free(err);
	}
	const char *ev = "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true}, "
			 "\"timestamp\": {\"seconds\": 10, \"microseconds\": 500000}}";
	assert_int_equal(qmp_parse_message(ev, strlen(ev), &msg, NULL), QMP_OK);
	assert_int_equal(msg.type, QMP_MSG_EVENT);
	assert_string_equal(msg.event, "SHUTDOWN");
	assert_true(msg.timestamp > 10.4 && msg.timestamp < 10.6);
	qmp_msg_clear(&msg);
	const char *er = "{\"error\": {}, \"id\": 7}";
	assert_int_equal(qmp_parse_message(er, strlen(er), &msg, NULL), QMP_OK);
	assert_int_equal(msg.type, QMP_MSG_ERROR);
	assert_int_equal(msg.id, 7);
	assert_string_equal(msg.err_class, "GenericError");
	qmp_msg_clear(&msg);
	const char *re = "{\"return\": [], \"id\": \"seven\"}";
	assert_int_equal(qmp_parse_message(re, strlen(re), &msg, NULL), QMP_OK);
	assert_int_equal(msg.type, QMP_MSG_RETURN);
	assert_int_equal(msg.id, -1);
	assert_true(json_is_array(msg.ret));
	qmp_msg_clear(&msg);
	assert_int_equal(qmp_parse_message(GREETING, strlen(GREETING), &msg, NULL), QMP_OK);
	assert_int_equal(msg.type, QMP_MSG_GREETING);
	assert_int_equal(msg.version[0], 7);
	qmp_msg_clear(&msg);
}

/* ---- guest agent ---- */

/* A fake qemu-ga: answers the sync after some stale output, then guest-info,
 * swallows guest-shutdown, refuses anything else. */
static void
script_agent(struct fake *f, int fd)
{
	char line[256];
	json_t *j;

	/* the client flushes with 0xFF first */
	for (;;) {
		if (f->rlen && (unsigned char)f->rbuf[0] == 0xff) {
			memmove(f->rbuf, f->rbuf + 1, --f->rlen);
			break;
		}
		ssize_t n = read(fd, f->rbuf + f->rlen, sizeof(f->rbuf) - f->rlen);
		if (n <= 0)
			return;
		f->rlen += (size_t)n;
	}
	j = fake_recv(f, fd);
	long long id = json_integer_value(json_object_get(json_object_get(j, "arguments"), "id"));
	json_decref(j);
	fake_send(fd, "{\"return\": \"stale\"}");
	snprintf(line, sizeof(line), "\xff{\"return\": %lld}", id);
	fake_send(fd, line);
	while ((j = fake_recv(f, fd))) {
		const char *ex = json_string_value(json_object_get(j, "execute"));
		if (strcmp(ex, "guest-info") == 0)
			fake_send(fd, "{\"return\": {\"version\": \"7.2.0\"}}");
		else if (strcmp(ex, "guest-shutdown") != 0)
			fake_send(fd, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}}");
		json_decref(j);
	}
}

static void
test_agent(void **state)
{
	struct fake *f = fake_start(script_agent);
	char *err = NULL, *reply = NULL;
	struct qga *g = qga_open(f->path, 5000, &err);

	(void)state;
	if (!g)
		fail_msg("qga_open: %s", err);
	assert_int_equal(qga_command(g, "{\"execute\": \"guest-info\"}", &reply, 5000, &err),
			 QMP_OK);
	assert_string_equal(reply, "{\"version\":\"7.2.0\"}");
	free(reply);
	assert_int_equal(qga_command(g, "{\"execute\": \"guest-shutdown\", \"arguments\": "
					"{\"mode\": \"reboot\"}}",
				     &reply, 200, &err),
			 QMP_OK);
	assert_string_equal(reply, "{}");
	free(reply);
	assert_int_equal(qga_command(g, "{\"execute\": \"guest-bogus\"}", &reply, 5000, &err),
			 QMP_EQEMU);
	assert_string_equal(err, "CommandNotFound: nope");
	free(err);
	err = NULL;
	assert_int_equal(qga_command(g, "not json", &reply, 5000, &err), QMP_EPROTO);
	free(err);
	qga_close(g);
	fake_stop(f);
}

/* QEMU's chardev with no agent behind it: accepts, reads, never answers. */
static void
script_mute(struct fake *f, int fd)
{
	char b[256];

	(void)f;
	while (read(fd, b, sizeof(b)) > 0)
		;
}

static void
test_agent_absent(void **state)
{
	struct fake *f = fake_start(script_mute);
	char *err = NULL;

	(void)state;
	assert_null(qga_open(f->path, 200, &err));
	assert_string_equal(err, "guest agent not responding");
	free(err);
	fake_stop(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_command_and_events),
		cmocka_unit_test(test_errors_and_malformed),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_no_greeting),
		cmocka_unit_test(test_connection_lost),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_wait_event),
		cmocka_unit_test(test_fd_passing),
		cmocka_unit_test(test_concurrent_out_of_order),
		cmocka_unit_test(test_command_from_callback),
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_agent_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
