/* task: long-running calls (Async.*), their progress, results and cancel. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/api_int.h"
#include "rpc/xmlrpc.h"
#include "util/log.h"
#include "util/xalloc.h"

static char *task_host;

static char *
task_create_row(const char *label, const char *desc)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_task, NULL, NULL);
	db_txn_set(t, r, DMF_task_name_label, (union dm_val){.s = xstrdup(label)});
	db_txn_set(t, r, DMF_task_name_description,
		   (union dm_val){.s = xstrdup(desc)});
	db_txn_set(t, r, DMF_task_created, (union dm_val){.i = (int64_t)time(NULL)});
	db_txn_set(t, r, DMF_task_status, (union dm_val){.s = xstrdup("pending")});
	if (task_host)
		db_txn_set(t, r, DMF_task_resident_on,
			   (union dm_val){.s = xstrdup(task_host)});
	char *ref = xstrdup(r->ref);
	struct api_err *err = api_commit(t);
	if (err) {
		log_err("task", "cannot create task %s: %s", label,
			err->n ? err->params[0] : err->code);
		api_err_free(err);
	}
	return ref;
}

char *
task_new(struct api_ctx *ctx, const char *label)
{
	(void)ctx;
	return task_create_row(label, "");
}

void
task_finish(const char *task, const xv *result, const struct api_err *err)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_task, task);
	if (!r) { /* the master's (a slave serving it), or destroyed */
		db_txn_abort(t);
		if (api_remote())
			api_remote()->task_update(task, 1.0, true, result, err);
		return;
	}
	bool cancelled = strcmp(r->f[DMF_task_status].s, "cancelling") == 0;
	db_txn_set(t, r, DMF_task_finished, (union dm_val){.i = (int64_t)time(NULL)});
	db_txn_set(t, r, DMF_task_progress, (union dm_val){.f = 1.0});
	if (err) {
		struct dm_coll *c = dmc_new(err->n + 1);
		c->v[0].s = xstrdup(err->code);
		for (size_t i = 0; i < err->n; i++)
			c->v[i + 1].s = xstrdup(err->params[i]);
		db_txn_set(t, r, DMF_task_error_info, (union dm_val){.c = c});
		db_txn_set(t, r, DMF_task_status,
			   (union dm_val){.s = xstrdup(
						  cancelled && strcmp(err->code, "TASK_CANCELLED") == 0
							  ? "cancelled"
							  : "failure")});
	} else {
		struct buf b = BUF_INIT;
		if (result && !(result->type == XV_STRING && !*result->u.s))
			xmlrpc_write_value(&b, result);
		db_txn_set(t, r, DMF_task_result, (union dm_val){.s = buf_steal(&b)});
		db_txn_set(t, r, DMF_task_status, (union dm_val){.s = xstrdup("success")});
	}
	struct api_err *e = api_commit(t);
	api_err_free(e);
}

void
task_set_progress(const char *task, double progress)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_task, task);
	if (!r) {
		db_txn_abort(t);
		if (api_remote())
			api_remote()->task_update(task, progress, false, NULL,
			                          NULL);
		return;
	}
	db_txn_set(t, r, DMF_task_progress, (union dm_val){.f = progress});
	api_err_free(api_commit(t));
}

bool
task_cancelling(const char *task)
{
	bool c = false;
	db_rdlock();
	struct db_row *r = db_get(DMC_task, task);
	if (r)
		c = strcmp(r->f[DMF_task_status].s, "cancelling") == 0;
	db_unlock();
	if (!r && task && api_remote())
		c = api_remote()->task_update(task, -1.0, false, NULL, NULL) ==
		    1;
	return c;
}

static struct api_err *
task_api_create(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	*result = xv_str_own(task_create_row(args[0]->u.s, args[1]->u.s));
	return NULL;
}

static struct api_err *
task_api_cancel(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_task, args[0]->u.s);
	if (!r) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "task", args[0]->u.s, NULL);
	}
	if (strcmp(r->f[DMF_task_status].s, "pending") != 0) {
		db_txn_abort(t);
		return api_error(XE_OPERATION_NOT_ALLOWED,
				 "The task is not pending", NULL);
	}
	db_txn_set(t, r, DMF_task_status, (union dm_val){.s = xstrdup("cancelling")});
	return api_commit(t);
}

static struct api_err *
task_api_destroy(struct api_ctx *ctx, xv *const *args, size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	if (db_txn_destroy(t, DMC_task, args[0]->u.s) < 0) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, "task", args[0]->u.s, NULL);
	}
	return api_commit(t);
}

void
task_register(void)
{
	api_register("task.create", task_api_create, API_NO_ASYNC);
	api_register("task.cancel", task_api_cancel, 0);
	api_register("task.destroy", task_api_destroy, 0);
}
