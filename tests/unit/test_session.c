/* Unit tests for the sessions and tasks of the master seen from a slave
 * (src/rpc/session.c session_check, src/rpc/task.c, api_set_remote): rows
 * held here never go to the remote ops; unknown ones do, and what the
 * master says is what the caller gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/api_int.h"
#include "util/xalloc.h"

/* What the fake master was asked and answers. */
static struct {
	int sessions, updates;
	char *last_task;
	double progress;
	bool done, had_result, had_err;
	int cancelling; /* answer of task_update */
	bool know_session;
} fake;

static char *
fake_session_user(const char *ref, struct api_err **err)
{
	fake.sessions++;
	if (fake.know_session && strcmp(ref, "OpaqueRef:master-ses") == 0)
		return xstrdup("root");
	*err = api_error(XE_SESSION_INVALID, ref, NULL);
	return NULL;
}

static int
fake_task_update(const char *task, double progress, bool done, const xv *result,
                 const struct api_err *err)
{
	fake.updates++;
	free(fake.last_task);
	fake.last_task = xstrdup(task);
	fake.progress = progress;
	fake.done = done;
	fake.had_result = result != NULL;
	fake.had_err = err != NULL;
	return fake.cancelling;
}

static const struct api_remote_ops fake_ops = {
    .session_user = fake_session_user,
    .task_update = fake_task_update,
};

static int
setup(void **state)
{
	char *err = NULL;
	struct db_txn *t;
	struct db_row *r;

	(void)state;
	if (db_open(NULL, &err) < 0)
		return -1;
	t = db_txn_begin();
	r = db_txn_create(t, DMC_session, "OpaqueRef:here", NULL);
	db_txn_set(t, r, DMF_session_auth_user_name,
	           (union dm_val){.s = xstrdup("root")});
	r = db_txn_create(t, DMC_task, "OpaqueRef:task-here", NULL);
	db_txn_set(t, r, DMF_task_status,
	           (union dm_val){.s = xstrdup("pending")});
	if (db_txn_commit(t, &err) < 0)
		return -1;
	free(fake.last_task);
	memset(&fake, 0, sizeof(fake));
	api_set_remote(&fake_ops);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	api_set_remote(NULL);
	free(fake.last_task);
	fake.last_task = NULL;
	db_close();
	return 0;
}

static void
test_session_local_stays_local(void **state)
{
	struct api_ctx ctx = {0};
	(void)state;
	assert_null(session_check(&ctx, "OpaqueRef:here"));
	assert_string_equal(ctx.user, "root");
	assert_int_equal(fake.sessions, 0);
	api_ctx_clear(&ctx);
}

static void
test_session_of_the_master(void **state)
{
	struct api_ctx ctx = {0};
	struct api_err *e;
	(void)state;
	fake.know_session = true;
	assert_null(session_check(&ctx, "OpaqueRef:master-ses"));
	assert_string_equal(ctx.session, "OpaqueRef:master-ses");
	assert_string_equal(ctx.user, "root");
	assert_int_equal(fake.sessions, 1);
	/* one the master does not know either */
	e = session_check(&ctx, "OpaqueRef:nobody");
	assert_non_null(e);
	assert_string_equal(e->code, "SESSION_INVALID");
	assert_int_equal(e->n, 1);
	assert_string_equal(e->params[0], "OpaqueRef:nobody");
	api_err_free(e);
	api_ctx_clear(&ctx);
}

static void
test_session_no_remote(void **state)
{
	struct api_ctx ctx = {0};
	struct api_err *e;
	(void)state;
	api_set_remote(NULL);
	e = session_check(&ctx, "OpaqueRef:master-ses");
	assert_non_null(e);
	assert_string_equal(e->code, "SESSION_INVALID");
	assert_int_equal(fake.sessions, 0);
	api_err_free(e);
	api_ctx_clear(&ctx);
}

static void
test_task_local_stays_local(void **state)
{
	(void)state;
	task_set_progress("OpaqueRef:task-here", 0.5);
	assert_false(task_cancelling("OpaqueRef:task-here"));
	task_finish("OpaqueRef:task-here", NULL, NULL);
	assert_int_equal(fake.updates, 0);
	db_rdlock();
	const struct db_row *r = db_get(DMC_task, "OpaqueRef:task-here");
	assert_string_equal(r->f[DMF_task_status].s, "success");
	db_unlock();
}

static void
test_task_of_the_master(void **state)
{
	xv *res = xv_str("OpaqueRef:vdi");
	struct api_err *err =
	    api_error(XE_TASK_CANCELLED, "OpaqueRef:master-task", NULL);
	(void)state;
	task_set_progress("OpaqueRef:master-task", 0.25);
	assert_int_equal(fake.updates, 1);
	assert_string_equal(fake.last_task, "OpaqueRef:master-task");
	assert_true(fake.progress == 0.25);
	assert_false(fake.done);
	fake.cancelling = 1;
	assert_true(task_cancelling("OpaqueRef:master-task"));
	assert_true(fake.progress < 0);
	fake.cancelling = -1; /* no such task there either */
	assert_false(task_cancelling("OpaqueRef:master-task"));
	task_finish("OpaqueRef:master-task", res, NULL);
	assert_true(fake.done && fake.had_result && !fake.had_err);
	task_finish("OpaqueRef:master-task", NULL, err);
	assert_true(fake.done && !fake.had_result && fake.had_err);
	assert_int_equal(fake.updates, 5);
	xv_free(res);
	api_err_free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_session_local_stays_local,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_of_the_master, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_session_no_remote, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_task_local_stays_local, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_task_of_the_master, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
