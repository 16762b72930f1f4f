/* Unit tests for src/util/xv.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/xv.h"

static void
test_xv_scalars(void **state)
{
	xv *v;

	(void)state;
	v = xv_nil();
	assert_int_equal(v->type, XV_NIL);
	xv_free(v);
	v = xv_str("abc");
	assert_int_equal(v->type, XV_STRING);
	assert_string_equal(v->u.s, "abc");
	xv_free(v);
	v = xv_str(NULL);
	assert_string_equal(v->u.s, "");
	xv_free(v);
	v = xv_strn("abcdef", 3);
	assert_string_equal(v->u.s, "abc");
	xv_free(v);
	v = xv_str_own(strdup("own"));
	assert_string_equal(v->u.s, "own");
	xv_free(v);
	v = xv_strf("%s-%d", "x", 42);
	assert_string_equal(v->u.s, "x-42");
	xv_free(v);
	v = xv_int(INT64_MIN);
	assert_int_equal(v->type, XV_INT);
	assert_true(v->u.i == INT64_MIN);
	assert_int_equal(v->flags, 0);
	xv_free(v);
	v = xv_i4(-7);
	assert_int_equal(v->type, XV_INT);
	assert_int_equal(v->u.i, -7);
	assert_int_equal(v->flags, XV_F_I4);
	xv_free(v);
	v = xv_float(0.5);
	assert_true(v->u.f == 0.5);
	xv_free(v);
	v = xv_bool(true);
	assert_true(v->u.b);
	xv_free(v);
	v = xv_datetime("20240131T09:05:00Z");
	assert_int_equal(v->type, XV_DATETIME);
	assert_string_equal(v->u.s, "20240131T09:05:00Z");
	xv_free(v);
	xv_free(NULL);
}

static void
test_xv_datetime_t(void **state)
{
	static const struct {
		int64_t t;
		const char *s;
	} cases[] = {
		{0, "19700101T00:00:00Z"},
		{1706691900, "20240131T09:05:00Z"},
		{951782400, "20000229T00:00:00Z"},
		{-1, "19691231T23:59:59Z"},
		{-86400 * 365, "19690101T00:00:00Z"},
		{253402300799, "99991231T23:59:59Z"},
		{4102444800, "21000101T00:00:00Z"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		xv *v = xv_datetime_t(cases[i].t);
		int64_t back = 0;
		assert_int_equal(v->type, XV_DATETIME);
		assert_string_equal(v->u.s, cases[i].s);
		assert_int_equal(xv_parse_datetime(v->u.s, &back), 0);
		assert_true(back == cases[i].t);
		xv_free(v);
	}
}

static void
test_xv_parse_datetime(void **state)
{
	static const struct {
		const char *s;
		int64_t t;
	} good[] = {
		{"19700101T00:00:00Z", 0},
		{"19700101T00:00:00", 0},
		{"20240131T09:05:00Z", 1706691900},
		{"2024-01-31T09:05:00Z", 1706691900},
		{"2024-01-31T09:05:00", 1706691900},
		{"2024-01-31T10:05:00+01:00", 1706691900},
		{"2024-01-31T10:05:00+0100", 1706691900},
		{"2024-01-31T04:35:00-04:30", 1706691900},
		{"2024-01-31T04:35:00-0430", 1706691900},
		{"2024-01-31T09:05:00.123Z", 1706691900},
		{"2024-01-31t09:05:00z", 1706691900},
		{"20000229T12:00:00Z", 951825600},
		{"19691231T23:59:59Z", -1},
	};
	static const char *const bad[] = {
		"",
		"2024",
		"20240131",
		"20240131T09:05",
		"20240131T09:05:00Q",
		"20240131 09:05:00Z",
		"2024-0131T09:05:00Z",
		"202401-31T09:05:00Z",
		"20241331T09:05:00Z",
		"20240100T09:05:00Z",
		"20240230T09:05:00Z",
		"19000229T00:00:00Z",
		"20240131T24:00:00Z",
		"20240131T09:60:00Z",
		"20240131T09:05:61Z",
		"20240131T09:05:00+1",
		"20240131T09:05:00+24:00",
		"20240131T09:05:00+01:60",
		"20240131T09:05:00Zjunk",
		"20240131T09:05:00.Z",
		"2024-01-31T09:05:00Z ",
		"x2024-01-31T09:05:00Z",
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = 12345;
		assert_int_equal(xv_parse_datetime(good[i].s, &t), 0);
		assert_true(t == good[i].t);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = 12345;
		assert_int_equal(xv_parse_datetime(bad[i], &t), -1);
		assert_true(t == 12345);
	}
	assert_int_equal(xv_parse_datetime(NULL, &t), -1);
}

static xv *
make_tree(void)
{
	xv *st = xv_struct();
	xv_set(st, "name_label", xv_str("vm1"));
	xv_set(st, "VCPUs_max", xv_int(4));
	xv_set(st, "tags", xv_push(xv_push(xv_array(), xv_str("a")),
				   xv_str("b")));
	xv_set(st, "other", xv_set(xv_struct(), "k", xv_float(1.5)));
	xv_set(st, "dt", xv_datetime_t(0));
	xv_set(st, "flag", xv_bool(false));
	xv_set(st, "nothing", xv_nil());
	xv_set(st, "i4", xv_i4(3));
	return st;
}

static void
test_xv_containers(void **state)
{
	xv *st = make_tree(), *a;

	(void)state;
	assert_int_equal(xv_len(st), 8);
	assert_string_equal(xv_get(st, "name_label")->u.s, "vm1");
	assert_int_equal(xv_get(st, "VCPUs_max")->u.i, 4);
	assert_null(xv_get(st, "missing"));
	assert_null(xv_get(xv_get(st, "tags"), "a"));
	assert_null(xv_get(NULL, "a"));
	a = xv_get(st, "tags");
	assert_int_equal(xv_len(a), 2);
	assert_string_equal(a->u.a.items[1]->u.s, "b");
	assert_int_equal(xv_len(xv_get(st, "flag")), 0);
	assert_int_equal(xv_len(NULL), 0);
	/* Member order is insertion order. */
	assert_string_equal(st->u.st.names[0], "name_label");
	assert_string_equal(st->u.st.names[7], "i4");
	/* Many pushes grow the arrays. */
	a = xv_array();
	for (int i = 0; i < 1000; i++)
		xv_push(a, xv_int(i));
	assert_int_equal(xv_len(a), 1000);
	assert_int_equal(a->u.a.items[999]->u.i, 999);
	xv_free(a);
	xv_set_own(st, strdup("owned"), xv_str("x"));
	assert_string_equal(xv_get(st, "owned")->u.s, "x");
	xv_free(st);
}

static void
test_xv_dup_equal(void **state)
{
	xv *a = make_tree(), *b = xv_dup(a), *c;

	(void)state;
	assert_true(xv_equal(a, b));
	assert_true(xv_equal(a, a));
	assert_int_equal(xv_get(b, "i4")->flags, XV_F_I4);
	assert_ptr_not_equal(xv_get(a, "name_label")->u.s,
			     xv_get(b, "name_label")->u.s);
	xv_get(b, "tags")->u.a.items[0]->u.s[0] = 'z';
	assert_false(xv_equal(a, b));
	xv_free(b);
	b = xv_dup(a);
	xv_set(b, "extra", xv_nil());
	assert_false(xv_equal(a, b));
	xv_free(b);
	b = xv_dup(a);
	free(b->u.st.names[0]);
	b->u.st.names[0] = strdup("renamed");
	assert_false(xv_equal(a, b));
	xv_free(b);
	/* Flags are not compared; NaN equals NaN; types must match. */
	b = xv_int(3);
	c = xv_i4(3);
	assert_true(xv_equal(b, c));
	xv_free(b);
	xv_free(c);
	b = xv_float(NAN);
	c = xv_float(NAN);
	assert_true(xv_equal(b, c));
	xv_free(c);
	c = xv_str("nan");
	assert_false(xv_equal(b, c));
	assert_false(xv_equal(b, NULL));
	assert_true(xv_equal(NULL, NULL));
	assert_null(xv_dup(NULL));
	xv_free(b);
	xv_free(c);
	b = xv_datetime("x");
	c = xv_str("x");
	assert_false(xv_equal(b, c));
	xv_free(b);
	xv_free(c);
	b = xv_push(xv_array(), xv_int(1));
	c = xv_push(xv_push(xv_array(), xv_int(1)), xv_int(2));
	assert_false(xv_equal(b, c));
	xv_free(b);
	xv_free(c);
	xv_free(a);
}

static void
test_xv_type_name(void **state)
{
	(void)state;
	assert_string_equal(xv_type_name(XV_NIL), "nil");
	assert_string_equal(xv_type_name(XV_STRING), "string");
	assert_string_equal(xv_type_name(XV_INT), "int");
	assert_string_equal(xv_type_name(XV_FLOAT), "float");
	assert_string_equal(xv_type_name(XV_BOOL), "bool");
	assert_string_equal(xv_type_name(XV_DATETIME), "datetime");
	assert_string_equal(xv_type_name(XV_ARRAY), "array");
	assert_string_equal(xv_type_name(XV_STRUCT), "struct");
	assert_string_equal(xv_type_name((enum xv_type)99), "unknown");
}

static void
test_xv_utf8(void **state)
{
#define U8(s) xv_utf8_valid(s, sizeof(s) - 1)
#define TX(s) xv_text_valid(s, sizeof(s) - 1)
	(void)state;
	assert_true(U8(""));
	assert_true(U8("plain ascii text that is longer than eight"));
	assert_true(U8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_true(U8("\xef\xbf\xbf"));
	assert_true(U8("\xf4\x8f\xbf\xbf"));
	assert_true(U8("a\x01z")); /* control chars are UTF-8 */
	assert_false(U8("\xff"));
	assert_false(U8("abcdefgh\x80"));
	assert_false(U8("\xc0\xaf"));	      /* overlong */
	assert_false(U8("\xe0\x80\xaf"));     /* overlong */
	assert_false(U8("\xed\xa0\x80"));     /* surrogate */
	assert_false(U8("\xf4\x90\x80\x80")); /* > U+10FFFF */
	assert_false(U8("\xc3"));	      /* truncated */
	assert_false(U8("\xe2\x82"));
	assert_false(U8("\xc3\x28"));
	assert_true(TX("tab\tlf\ncr\r"));
	assert_true(TX("caf\xc3\xa9"));
	assert_false(TX("a\x01z"));
	assert_false(TX("a\x1fz"));
	assert_false(TX("\xef\xbf\xbe")); /* U+FFFE */
	assert_false(TX("\xef\xbf\xbf")); /* U+FFFF */
	assert_false(TX("\xff"));
	assert_false(xv_text_valid("a\0b", 3));
#undef U8
#undef TX
}

static void
test_xv_utf8_repair(void **state)
{
	char *s;

	(void)state;
	s = xv_utf8_repair("ok \xc3\xa9", 5);
	assert_string_equal(s, "ok \xc3\xa9");
	free(s);
	s = xv_utf8_repair("a\xff" "b\xc3", 4);
	assert_string_equal(s, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
	free(s);
	s = xv_utf8_repair("\xed\xa0\x80", 3);
	assert_string_equal(s, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_true(xv_utf8_valid(s, strlen(s)));
	free(s);
	s = xv_utf8_repair("", 0);
	assert_string_equal(s, "");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xv_scalars),
		cmocka_unit_test(test_xv_datetime_t),
		cmocka_unit_test(test_xv_parse_datetime),
		cmocka_unit_test(test_xv_containers),
		cmocka_unit_test(test_xv_dup_equal),
		cmocka_unit_test(test_xv_type_name),
		cmocka_unit_test(test_xv_utf8),
		cmocka_unit_test(test_xv_utf8_repair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
