/*
 * api: the XenAPI method registry and dispatcher, shared by XML-RPC,
 * JSON-RPC, the `xe` server and internal callers.
 *
 * Every method named by the datamodel is routed here. Implicit messages
 * (getters, setters, get_record, get_all_records, add_to_/remove_from_, ...)
 * are served generically from the datamodel (implicit.c); explicit messages
 * are served by handlers registered with api_register(). Before a handler
 * runs the dispatcher checks the session, the parameter count (with xapi's
 * defaults for trailing parameters) and the parameter types; afterwards it
 * writes the audit record of state-changing calls.
 */
#ifndef XAPID_RPC_API_H
#define XAPID_RPC_API_H

#include <stdbool.h>

#include "api/errors.h"
#include "db/store.h"
#include "util/xv.h"

/* Who is calling, from where. */
struct api_ctx {
	char *session;  /* validated session ref, NULL before login */
	char *user;     /* authenticated user name ("root") */
	char *origin;   /* "unix", or the peer address "127.0.0.1:50312" */
	char *task;     /* the task this call runs as (Async), or NULL */
	bool local;     /* arrived on the Unix socket */
	bool stream;    /* the caller writes the result out at once: big
			   answers may be generators (xv_gen) */
	/* set by the dispatcher for the running handler: */
	int cls;                        /* class of the method */
	const struct dm_message *msg;   /* the message being served */
};

/* A handler gets the parameters after the session (already type-checked
 * against the datamodel), and sets *result (NULL means void). It returns NULL
 * or an error; on error *result is ignored. */
typedef struct api_err *(*api_handler)(struct api_ctx *ctx, xv *const *args,
					size_t nargs, xv **result);

enum api_flags {
	API_NO_SESSION = 1 << 0, /* callable without a session (login) */
	API_READONLY = 1 << 1,   /* never audited */
	API_NO_ASYNC = 1 << 2,   /* no Async.* variant */
};

/* A router sees every call after its session and parameters are checked
 * (all: the full parameter list, session first for methods that have
 * one). Returning true means it has dealt with the call (run elsewhere:
 * *result or *err is the outcome); false runs the handler here. */
typedef bool (*api_router_fn)(struct api_ctx *ctx, const char *method,
			      xv *const *all, size_t nall, xv **result,
			      struct api_err **err);
void api_set_router(api_router_fn fn);

/*
 * A slave's view of the sessions and tasks the master holds (they are not
 * replicated): xapi's slaves read them from the master's database, so a
 * session made on the master is good on every member and an HTTP transfer
 * redirected to a member reports on the master's task. Set by the pool
 * module; every function answers "not mine" when this host is the master.
 */
struct api_remote_ops {
	/* The user of session ref as the master knows it (malloc'd), or NULL
	 * and *err (SESSION_INVALID [ref]); NULL and no *err when this host
	 * has no master to ask. */
	char *(*session_user)(const char *ref, struct api_err **err);
	/* Updates the master's task: progress in [0,1] (negative: none), or
	 * with done its outcome (result, or err when failed). Returns 1 when
	 * the task is being cancelled, 0 when not, -1 when the master has no
	 * such task (or this host is the master). */
	int (*task_update)(const char *task, double progress, bool done,
	                   const xv *result, const struct api_err *err);
};
void api_set_remote(const struct api_remote_ops *ops);

/* Registers the handler of "Class.message" (overriding the generic one). */
void api_register(const char *method, api_handler fn, unsigned flags);

/* Sets up the registry: generic handlers for every implicit message, and the
 * built-in explicit ones (session, task, event, system). Call once. */
void api_init(void);

/* Calls a method by its wire name ("VM.get_record", "Async.VM.start",
 * "VM_get_record"). params is the full positional list (session first for
 * methods that take one). On success returns NULL and sets *result (never
 * NULL: void is the empty string). */
struct api_err *api_call(struct api_ctx *ctx, const char *method,
			 const xv *params, xv **result);

/* Names of all served synchronous methods, for system.listMethods. */
xv *api_list_methods(void);

/* Frees the strings of a context. */
void api_ctx_clear(struct api_ctx *ctx);

/* ---- helpers for handlers ---- */

/* The row behind a ref argument of class cls (call with the read lock or in
 * a transaction). On failure returns NULL and sets *err to HANDLE_INVALID. */
struct db_row *api_row(int cls, const xv *ref, struct api_err **err);
/* A record as XenAPI returns it (struct of every field). */
xv *api_record(const struct db_row *r);
/* The ref of the row of cls with this uuid, or NULL (caller frees). */
char *api_ref_by_uuid(int cls, const char *uuid);
/* Runs fn as a transaction-commit failure: INTERNAL_ERROR with the reason. */
struct api_err *api_commit(struct db_txn *t);

/* The generic constructor: a row of cls from a create() record (RW and
 * constructor fields; refs must exist). Sets *result to the new ref. */
struct api_err *api_create_row(int cls, const xv *rec, xv **result);

/* Audit log: opened by the daemon; one line per state-changing call. */
int api_audit_open(const char *path);

#endif
