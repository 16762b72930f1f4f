/* Unit tests of the get_all_records_where filter language. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "rpc/where.h"
#include "util/xalloc.h"

static struct db_row *
vm_row(const char *label, bool tmpl)
{
	struct db_row *r = db_row_new(DMC_VM, NULL, NULL);
	free(r->f[DMF_VM_name_label].s);
	r->f[DMF_VM_name_label].s = xstrdup(label);
	r->f[DMF_VM_is_a_template].b = tmpl;
	return r;
}

static bool
match(const char *expr, const struct db_row *r)
{
	struct api_err *err = NULL;
	struct where_expr *w = where_parse(expr, &err);
	assert_non_null(w);
	bool m = where_match(w, r);
	where_free(w);
	return m;
}

static void
test_where_fields(void **state)
{
	(void)state;
	struct db_row *r = vm_row("web 1", false);
	assert_true(match("true", r));
	assert_false(match("false", r));
	assert_true(match("field \"name__label\"=\"web 1\"", r));
	assert_false(match("field \"name__label\"=\"web\"", r));
	assert_true(match("field \"is_a_template\"=\"false\"", r));
	assert_true(match("not field \"is_a_template\"=\"true\"", r));
	assert_true(match("(field \"uuid\"=\"x\") or (field \"name__label\"=\"web 1\")", r));
	assert_false(match("field \"name__label\"=\"web 1\" and false", r));
	assert_true(match("field \"power_state\"=\"Halted\"", r));
	assert_true(match("field \"_ref\"=\"" DM_NULL_REF "\"", r) == (strcmp(r->ref, DM_NULL_REF) == 0));
	assert_false(match("field \"no_such_column\"=\"\"", r));
	db_row_free(r);
}

static void
test_where_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "field", "field \"x\"", "field \"x\"=",
					  "(true", "true)", "and", "true and",
					  "field \"x\"=\"y", "nonsense"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct api_err *err = NULL;
		assert_null(where_parse(bad[i], &err));
		assert_non_null(err);
		assert_string_equal(err->code, "INVALID_VALUE");
		api_err_free(err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_where_fields),
		cmocka_unit_test(test_where_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
