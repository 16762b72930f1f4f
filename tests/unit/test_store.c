/* Unit tests of the in-memory store: transactions, relations, events,
 * value conversions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "rpc/jsonrpc.h"
#include "rpc/xmlrpc.h"
#include "util/xalloc.h"

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
	db_close();
	return 0;
}

static char *
mk(int cls, const char *label)
{
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, cls, NULL, NULL);
	if (dm_classes[cls].f_name_label >= 0)
		db_txn_set(t, r, dm_classes[cls].f_name_label,
			   (union dm_val){.s = xstrdup(label)});
	char *ref = xstrdup(r->ref);
	assert_int_equal(db_txn_commit(t, NULL), 0);
	return ref;
}

static void
test_create_get(void **state)
{
	(void)state;
	uint64_t g0 = db_generation();
	char *ref = mk(DMC_VM, "vm one");
	db_rdlock();
	struct db_row *r = db_get(DMC_VM, ref);
	assert_non_null(r);
	assert_string_equal(r->f[DMF_VM_name_label].s, "vm one");
	assert_string_equal(r->f[DMF_VM_power_state].s, "Halted");
	assert_string_equal(r->f[DMF_VM_resident_on].s, DM_NULL_REF);
	assert_int_equal(r->f[DMF_VM_VCPUs_max].i, 0);
	assert_ptr_equal(db_get_by_uuid(DMC_VM, r->f[DMF_VM_uuid].s), r);
	assert_int_equal(db_ref_class(ref), DMC_VM);
	assert_true(db_generation() > g0);
	db_unlock();
	free(ref);
}

static void
test_abort_changes_nothing(void **state)
{
	(void)state;
	char *ref = mk(DMC_network, "n");
	uint64_t g = db_generation();
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_network, ref);
	db_txn_set(t, r, DMF_network_name_label, (union dm_val){.s = xstrdup("changed")});
	db_txn_abort(t);
	db_rdlock();
	assert_string_equal(db_get(DMC_network, ref)->f[DMF_network_name_label].s, "n");
	db_unlock();
	assert_int_equal(db_generation(), g);
	free(ref);
}

static void
test_relations(void **state)
{
	(void)state;
	char *vm = mk(DMC_VM, "rel");
	char *net = mk(DMC_network, "reln");
	struct db_txn *t = db_txn_begin();
	struct db_row *v = db_txn_create(t, DMC_VIF, NULL, NULL);
	db_txn_set(t, v, DMF_VIF_VM, (union dm_val){.s = xstrdup(vm)});
	db_txn_set(t, v, DMF_VIF_network, (union dm_val){.s = xstrdup(net)});
	char *vif = xstrdup(v->ref);
	assert_int_equal(db_txn_commit(t, NULL), 0);
	db_rdlock();
	struct dm_coll *c = db_get(DMC_VM, vm)->f[DMF_VM_VIFs].c;
	assert_non_null(c);
	assert_int_equal(c->n, 1);
	assert_string_equal(c->v[0].s, vif);
	assert_int_equal(db_get(DMC_network, net)->f[DMF_network_VIFs].c->n, 1);
	db_unlock();
	t = db_txn_begin();
	assert_int_equal(db_txn_destroy(t, DMC_VIF, vif), 0);
	assert_int_equal(db_txn_commit(t, NULL), 0);
	db_rdlock();
	assert_null(db_get(DMC_VM, vm)->f[DMF_VM_VIFs].c);
	assert_null(db_get(DMC_network, net)->f[DMF_network_VIFs].c);
	db_unlock();
	free(vm);
	free(net);
	free(vif);
}

static void
test_changes(void **state)
{
	(void)state;
	uint64_t g = db_generation();
	char *a = mk(DMC_network, "a");
	char *b = mk(DMC_network, "b");
	struct db_txn *t = db_txn_begin();
	db_txn_destroy(t, DMC_network, a);
	db_txn_commit(t, NULL);
	t = db_txn_begin();
	db_txn_touch(t, DMC_network, b);
	db_txn_commit(t, NULL);

	struct db_change *ch;
	size_t n;
	uint64_t latest;
	db_rdlock();
	assert_int_equal(db_changes_since(g, &ch, &n, &latest), 0);
	db_unlock();
	/* a: added then deleted = nothing; b: added (then touched) = add */
	assert_int_equal(n, 1);
	assert_string_equal(ch[0].ref, b);
	assert_int_equal(ch[0].op, DB_ADD);
	assert_int_equal(latest, db_generation());
	db_changes_free(ch, n);
	db_rdlock();
	assert_int_equal(db_changes_since(latest - 1, &ch, &n, &latest), 0);
	db_unlock();
	assert_int_equal(n, 1);
	assert_int_equal(ch[0].op, DB_MOD);
	db_changes_free(ch, n);
	free(a);
	free(b);
}

static void
test_no_op_edit_is_not_a_change(void **state)
{
	(void)state;
	char *a = mk(DMC_network, "same");
	uint64_t g = db_generation();
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_edit(t, DMC_network, a);
	db_txn_set(t, r, DMF_network_name_label, (union dm_val){.s = xstrdup("same")});
	assert_int_equal(db_txn_commit(t, NULL), 0);
	assert_int_equal(db_generation(), g);
	free(a);
}

static void
test_json_roundtrip(void **state)
{
	(void)state;
	struct db_row *r = db_row_new(DMC_VM, NULL, NULL);
	dmv_free(dm_classes[DMC_VM].fields[DMF_VM_name_label].type,
		 &r->f[DMF_VM_name_label]);
	r->f[DMF_VM_name_label].s = xstrdup("quote ' \" \\ <&> é");
	struct dm_coll *c = dmc_new(2);
	c->v[0].s = xstrdup("k1");
	c->v[1].s = xstrdup("v1");
	c->v[2].s = xstrdup("k'2");
	c->v[3].s = xstrdup("v\\2");
	r->f[DMF_VM_other_config].c = c;
	r->f[DMF_VM_VCPUs_max].i = 4;
	r->f[DMF_VM_snapshot_time].i = 1700000000;
	char *j = db_row_to_json(r);
	struct db_row *b = db_row_from_json(DMC_VM, r->ref, j);
	assert_non_null(b);
	for (size_t i = 0; i < dm_classes[DMC_VM].nfields; i++)
		assert_true(dmv_equal(dm_classes[DMC_VM].fields[i].type, r->f[i], b->f[i]));
	free(j);
	db_row_free(r);
	db_row_free(b);
}

static void
test_dump_text(void **state)
{
	(void)state;
	const struct dm_type *mt = dm_classes[DMC_VM].fields[DMF_VM_other_config].type;
	union dm_val v;
	assert_int_equal(dmv_dump_parse(mt, "(('a' 'b') ('c\\'d' 'e\\\\f'))", &v), 0);
	assert_int_equal(v.c->n, 2);
	assert_string_equal(v.c->v[2].s, "c'd");
	assert_string_equal(v.c->v[3].s, "e\\f");
	struct buf b = BUF_INIT;
	dmv_dump_text(&b, mt, v);
	assert_string_equal(b.data, "(('a' 'b') ('c\\'d' 'e\\\\f'))");
	buf_free(&b);
	dmv_free(mt, &v);
	assert_int_equal(dmv_dump_parse(mt, "(('a' 'b')", &v), -1);
	assert_int_equal(dmv_dump_parse(mt, "garbage", &v), -1);
}

static void
test_xv_types(void **state)
{
	(void)state;
	const struct dm_type *it = dm_classes[DMC_VM].fields[DMF_VM_VCPUs_max].type;
	const struct dm_type *bt = dm_classes[DMC_VM].fields[DMF_VM_is_a_template].type;
	const struct dm_type *et = dm_classes[DMC_VM].fields[DMF_VM_power_state].type;
	union dm_val v;
	xv *s = xv_str("42");
	assert_null(dmv_from_xv(it, s, "x", &v));
	assert_int_equal(v.i, 42);
	xv_free(s);
	s = xv_str("true");
	struct api_err *e = dmv_from_xv(bt, s, "is_a_template", &v);
	assert_non_null(e);
	assert_string_equal(e->code, "FIELD_TYPE_ERROR");
	api_err_free(e);
	xv_free(s);
	s = xv_str("running");
	assert_null(dmv_from_xv(et, s, "power_state", &v));
	assert_string_equal(v.s, "Running");
	dmv_free(et, &v);
	xv_free(s);
	s = xv_str("Exploded");
	e = dmv_from_xv(et, s, "power_state", &v);
	assert_non_null(e);
	api_err_free(e);
	xv_free(s);
}

struct gen_state {
	int i, n;
};

static xv *
gen_next(void *st, char **name)
{
	struct gen_state *g = st;
	if (g->i >= g->n)
		return NULL;
	*name = xasprintf("k%d", g->i);
	return xv_int(g->i++);
}

/* A generator writes exactly as the struct it stands for. */
static void
test_xv_generator(void **state)
{
	(void)state;
	struct gen_state g1 = {0, 3}, g2 = {0, 3};
	xv *gen = xv_gen(gen_next, NULL, &g1, true);
	xv *st = xv_struct();
	xv_set(st, "k0", xv_int(0));
	xv_set(st, "k1", xv_int(1));
	xv_set(st, "k2", xv_int(2));
	struct buf a = BUF_INIT, b = BUF_INIT;
	xmlrpc_write_success(&a, gen);
	xmlrpc_write_success(&b, st);
	assert_string_equal(a.data, b.data);
	buf_reset(&a);
	buf_reset(&b);
	xv_free(gen);
	gen = xv_gen(gen_next, NULL, &g2, true);
	jsonrpc_write_success(&a, JSONRPC_V2, "1", gen);
	jsonrpc_write_success(&b, JSONRPC_V2, "1", st);
	assert_string_equal(a.data, b.data);
	buf_free(&a);
	buf_free(&b);
	xv_free(gen);
	xv_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get),
		cmocka_unit_test(test_abort_changes_nothing),
		cmocka_unit_test(test_relations),
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_no_op_edit_is_not_a_change),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_dump_text),
		cmocka_unit_test(test_xv_types),
		cmocka_unit_test(test_xv_generator),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
