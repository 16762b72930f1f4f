/*
 * api_int: what the parts of the dispatcher share (not for other modules).
 */
#ifndef XAPID_RPC_API_INT_H
#define XAPID_RPC_API_INT_H

#include "rpc/api.h"

/* implicit.c: serves every implicit message of the datamodel. */
struct api_err *implicit_handler(struct api_ctx *ctx, xv *const *args,
				 size_t nargs, xv **result);
/* Registers explicit messages that the generic code serves too
 * (message.get_all_records, ...). */
void implicit_register_explicit(void);

/* session.c */
void session_register(void);
/* Validates a session ref and fills ctx->session/user; SESSION_INVALID. */
struct api_err *session_check(struct api_ctx *ctx, const char *ref);
/* Uses this password file instead of PAM (tests, embedded). NULL: PAM. */
void session_set_password_file(const char *path);
/* The host ref sessions belong to. */
void session_set_this_host(const char *host_ref);

/* The remote ops set by api_set_remote (NULL: none). */
const struct api_remote_ops *api_remote(void);

/* task.c */
void task_register(void);
/* Creates a pending task for an Async call and returns its ref (malloc'd). */
char *task_new(struct api_ctx *ctx, const char *label);
/* Records the outcome of a task (result or error). */
void task_finish(const char *task, const xv *result, const struct api_err *err);
/* Sets a task's progress (0..1). */
void task_set_progress(const char *task, double progress);
/* True if the task was asked to cancel. */
bool task_cancelling(const char *task);

/* event.c */
void event_register(void);

/* xva_url.c: VM.import (an XVA the host fetches from a URL). */
void xva_url_register(void);

#endif
