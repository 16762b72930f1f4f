/*
 * qmp: client of QEMU's machine protocol (QMP) over a Unix socket, the
 * generic monitor front end of the qemu backend (libvirt's qemu_monitor.c).
 *
 * One struct qmp_mon per QEMU. A reader thread owns the socket's input: it
 * splits the stream into lines, parses each one (qmp_parse_message, in
 * qmp_parse.c), hands
 * replies to the command waiting for them (matched by "id"), and queues
 * events. Events are delivered in order to a callback on a second thread of
 * the monitor (so the callback may itself send commands) and are also kept
 * in a short history that qmp_wait_event() searches.
 *
 * Every wait is bounded: a QEMU that hangs, closes the socket or sends
 * garbage turns into an error (QMP_ETIMEOUT, QMP_EIO, QMP_EPROTO), never into
 * a hang or a crash. Thread-safe: any thread may send commands.
 */
#ifndef XAPID_VM_QEMU_QMP_H
#define XAPID_VM_QEMU_QMP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Results of the calls below (0 or negative). */
enum qmp_rc {
	QMP_OK = 0,
	QMP_EQEMU = -1,    /* QEMU refused: *err is "<class>: <desc>" */
	QMP_ETIMEOUT = -2, /* no answer in time */
	QMP_EIO = -3,      /* cannot connect, connection closed, I/O error */
	QMP_EPROTO = -4,   /* malformed or unexpected message */
};

enum qmp_msg_type {
	QMP_MSG_GREETING,
	QMP_MSG_RETURN,
	QMP_MSG_ERROR,
	QMP_MSG_EVENT,
};

/* One parsed message. Pointers are borrowed from root. */
struct qmp_msg {
	enum qmp_msg_type type;
	json_t *root;           /* the whole message (owned) */
	json_t *ret;            /* RETURN: the "return" value */
	const char *err_class;  /* ERROR: e.g. "GenericError" */
	const char *err_desc;   /* ERROR: QEMU's description */
	const char *event;      /* EVENT: e.g. "SHUTDOWN" */
	json_t *data;           /* EVENT: "data" object, or NULL */
	double timestamp;       /* EVENT: seconds since the epoch, or 0 */
	long long id;           /* RETURN/ERROR: integer "id", -1 if none */
	int version[3];         /* GREETING: qemu major, minor, micro */
};

/* Parses one QMP message (one line, without the newline). Returns 0 and
 * fills *msg (release with qmp_msg_clear), or QMP_EPROTO with *err
 * (malloc'd) when the text is not JSON or not a QMP greeting, reply or
 * event. Pure: used by the reader thread and the fuzz target. */
int qmp_parse_message(const char *text, size_t len, struct qmp_msg *msg, char **err);
/* Releases what a parsed message holds; NULL-safe, idempotent. */
void qmp_msg_clear(struct qmp_msg *msg);

/* An event as delivered to the callback. name is NULL once: when the
 * connection was lost (not after qmp_close). data is borrowed for the call. */
struct qmp_event {
	const char *name;
	json_t *data;
	double timestamp;
	unsigned long long seq; /* 1, 2, ... in arrival order */
};
typedef void (*qmp_event_fn)(void *opaque, const struct qmp_event *ev);

struct qmp_open_opts {
	int timeout_ms;          /* whole open: socket, greeting, capabilities */
	qmp_event_fn on_event;   /* may be NULL */
	void *opaque;
	/* Polled while the socket is not there yet; true stops waiting (the
	 * QEMU died). May be NULL. */
	bool (*give_up)(void *opaque);
};

struct qmp_mon;

/* Connects to the QMP socket at path, retrying while it does not exist or
 * refuses (QEMU still starting) until the timeout, reads the greeting and
 * negotiates capabilities. Returns the monitor, or NULL with *err. */
struct qmp_mon *qmp_open(const char *path, const struct qmp_open_opts *o, char **err);

/* Disconnects and frees. Pending commands fail with QMP_EIO; undelivered
 * events are dropped; no callback runs after it returns (when called from
 * the event callback itself, the monitor is freed once the callback
 * returns). NULL-safe. */
void qmp_close(struct qmp_mon *m);

/* Runs a command: args is an object or NULL (borrowed). On success returns
 * QMP_OK and, if ret is non-NULL, the "return" value (new reference).
 * Otherwise a negative enum qmp_rc with *err (malloc'd) when err is
 * non-NULL. timeout_ms <= 0 means 30 s. */
int qmp_command(struct qmp_mon *m, const char *cmd, const json_t *args, json_t **ret,
		int timeout_ms, char **err);
/* The same, passing fd along with the command (SCM_RIGHTS), as "getfd" and
 * "add-fd" need. The caller keeps its fd. */
int qmp_command_fd(struct qmp_mon *m, const char *cmd, const json_t *args, int fd,
		   json_t **ret, int timeout_ms, char **err);

/* One command of a pipeline: cmd and args (borrowed, object or NULL) in;
 * rc, ret (new reference or NULL) and err (malloc'd or NULL) out. */
struct qmp_req {
	const char *cmd;
	json_t *args;
	int rc;
	json_t *ret;
	char *err;
};
/* Sends n commands in one write without waiting for each reply (QEMU runs
 * them in order; one failing does not stop the next), then waits for all
 * of them (timeout_ms <= 0: 30 s, for the whole pipeline). Returns QMP_OK
 * when every one succeeded, else the first failure's rc; the caller frees
 * each ret and err. */
int qmp_pipeline(struct qmp_mon *m, struct qmp_req *reqs, size_t n,
                 int timeout_ms);

/* Sequence number of the last event received so far (0 if none). */
unsigned long long qmp_event_seq(struct qmp_mon *m);
/* Waits for an event named name with seq > after (take after from
 * qmp_event_seq() before sending the command that causes it) whose data
 * member key is the string value (key NULL: any data). Returns QMP_OK and,
 * if data is non-NULL, its data (new reference or NULL), QMP_ETIMEOUT, or
 * QMP_EIO when the connection is lost. Only the last 256 events are kept. */
int qmp_wait_event(struct qmp_mon *m, unsigned long long after, const char *name,
		   const char *key, const char *value, int timeout_ms, json_t **data,
		   char **err);

/* False once the connection is lost. */
bool qmp_alive(struct qmp_mon *m);
/* QEMU's version from the greeting (major, minor, micro). */
void qmp_version(struct qmp_mon *m, int version[3]);

/* Connects a Unix stream socket (close-on-exec, non-blocking) to path,
 * retrying ENOENT/ECONNREFUSED/EAGAIN until timeout_ms or give_up(opaque).
 * Paths longer than sun_path are reached through /proc/self/fd. Returns the
 * fd, or -1 with *err. Shared with the guest-agent client. */
int qmp_unix_connect(const char *path, int timeout_ms, bool (*give_up)(void *),
		     void *opaque, char **err);

#endif
