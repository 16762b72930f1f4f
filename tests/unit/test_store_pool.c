/* Unit tests of the store's pool-member side: a slave's commit forwards
 * field-level ops of persistent classes (sessions stay local), the replica
 * is fed by db_apply_remote (incremental and full copies), and the ops
 * apply on a master with db_row_set_json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "util/xalloc.h"

static char *fwd_text;

static int
fwd_capture(const char *ops, char **err)
{
	(void)err;
	free(fwd_text);
	fwd_text = xstrdup(ops);
	return 0;
}

static int
setup(void **state)
{
	char *err = NULL;
	(void)state;
	return db_open(NULL, &err);
}

static int
teardown(void **state)
{
	(void)state;
	db_set_forward(NULL);
	db_close();
	XFREE(fwd_text);
	return 0;
}

static char *
mk_vm(const char *label)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_VM, NULL, NULL);
	db_txn_set(t, r, DMF_VM_name_label,
	           (union dm_val){.s = xstrdup(label)});
	char *ref = xstrdup(r->ref);
	assert_int_equal(db_txn_commit(t, NULL), 0);
	return ref;
}

/* A slave's commit: the VM edit goes to the master as the changed field
 * only; the session is committed here. */
static void
test_forward_ops(void **state)
{
	(void)state;
	char *vm = mk_vm("before");
	db_set_forward(fwd_capture);
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, vm);
	db_txn_set(t, r, DMF_VM_name_label,
	           (union dm_val){.s = xstrdup("after")});
	struct db_row *s = db_txn_create(t, DMC_session, NULL, NULL);
	char *sref = xstrdup(s->ref);
	assert_int_equal(db_txn_commit(t, NULL), 0);
	assert_non_null(fwd_text);
	json_t *doc = json_loads(fwd_text, 0, NULL);
	json_t *ops = json_object_get(doc, "ops");
	assert_int_equal(json_array_size(ops), 1);
	json_t *op = json_array_get(ops, 0);
	assert_string_equal(json_string_value(json_object_get(op, "op")),
	                    "mod");
	assert_string_equal(json_string_value(json_object_get(op, "ref")), vm);
	json_t *f = json_object_get(op, "fields");
	assert_int_equal(json_object_size(f), 1);
	assert_string_equal(json_string_value(json_object_get(f, "name_label")),
	                    "after");
	db_rdlock();
	/* not applied here: the replica brings it back */
	assert_string_equal(db_get(DMC_VM, vm)->f[DMF_VM_name_label].s,
	                    "before");
	assert_non_null(db_get(DMC_session, sref));
	db_unlock();

	/* the master applies the ops */
	db_set_forward(NULL);
	t = db_txn_begin();
	r = db_txn_edit(t, DMC_VM, vm);
	char *why = NULL;
	assert_int_equal(db_row_set_json(t, r, f, &why), 0);
	assert_int_equal(db_txn_commit(t, NULL), 0);
	db_rdlock();
	assert_string_equal(db_get(DMC_VM, vm)->f[DMF_VM_name_label].s,
	                    "after");
	db_unlock();
	json_decref(doc);
	free(vm);
	free(sref);
}

/* The replica: rows put and deleted; a full copy drops the rest but keeps
 * local sessions. */
static void
test_apply_remote(void **state)
{
	(void)state;
	char *a = mk_vm("a"), *b = mk_vm("b");
	struct db_txn *t = db_txn_begin();
	char *sref = xstrdup(db_txn_create(t, DMC_session, NULL, NULL)->ref);
	assert_int_equal(db_txn_commit(t, NULL), 0);
	uint64_t g = db_generation();

	struct db_row *c = db_row_new(DMC_VM, "OpaqueRef:remote-c", NULL);
	int dcls = DMC_VM;
	char *dref = a;
	db_apply_remote(&c, 1, &dcls, &dref, 1, false);
	assert_true(db_generation() > g);
	db_rdlock();
	assert_null(db_get(DMC_VM, a));
	assert_non_null(db_get(DMC_VM, b));
	assert_non_null(db_get(DMC_VM, "OpaqueRef:remote-c"));
	db_unlock();

	struct db_row *d = db_row_new(DMC_VM, "OpaqueRef:remote-d", NULL);
	db_apply_remote(&d, 1, NULL, NULL, 0, true);
	db_rdlock();
	assert_null(db_get(DMC_VM, b));
	assert_null(db_get(DMC_VM, "OpaqueRef:remote-c"));
	assert_non_null(db_get(DMC_VM, "OpaqueRef:remote-d"));
	assert_non_null(db_get(DMC_session, sref));
	db_unlock();
	free(a);
	free(b);
	free(sref);
}

/* A bad field name in forwarded ops is refused. */
static void
test_set_json_bad_field(void **state)
{
	(void)state;
	char *vm = mk_vm("x");
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_VM, vm);
	json_t *o = json_pack("{s:s}", "no_such_field", "1");
	char *why = NULL;
	assert_int_equal(db_row_set_json(t, r, o, &why), -1);
	assert_non_null(strstr(why, "no_such_field"));
	free(why);
	json_decref(o);
	db_txn_abort(t);
	free(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_forward_ops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_apply_remote, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_json_bad_field, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
