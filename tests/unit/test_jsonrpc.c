/* Unit tests for src/rpc/jsonrpc.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/jsonrpc.h"

/* Writes v with jsonrpc_write_value, compares with want and frees v. */
static void
check_value(xv *v, const char *want)
{
	struct buf b = BUF_INIT;

	jsonrpc_write_value(&b, v);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	buf_free(&b);
	xv_free(v);
}

static void
test_write_scalars(void **state)
{
	(void)state;
	check_value(xv_str("Running"), "\"Running\"");
	check_value(xv_str(""), "\"\"");
	check_value(xv_nil(), "null");
	check_value(NULL, "null");
	check_value(xv_int(42), "42");
	check_value(xv_int(0), "0");
	check_value(xv_int(INT64_MAX), "9223372036854775807");
	check_value(xv_int(INT64_MIN), "-9223372036854775808");
	check_value(xv_i4(-3), "-3");
	check_value(xv_bool(true), "true");
	check_value(xv_bool(false), "false");
	check_value(xv_float(1.0), "1.0");
	check_value(xv_float(-2.0), "-2.0");
	check_value(xv_float(0.0), "0.0");
	check_value(xv_float(0.5), "0.5");
	check_value(xv_float(0.1), "0.1");
	check_value(xv_float(60.1), "60.1");
	check_value(xv_float(1.0 / 3), "0.3333333333333333");
	check_value(xv_float(2.0 / 3), "0.6666666666666666");
	check_value(xv_float(0.1 + 0.2), "0.30000000000000004");
	check_value(xv_float(1e300), "1e+300");
	check_value(xv_float(1e16), "1e+16");
	check_value(xv_float(1326210000.0), "1326210000.0");
	check_value(xv_float(NAN), "NaN");
	check_value(xv_float(INFINITY), "Infinity");
	check_value(xv_float(-INFINITY), "-Infinity");
	check_value(xv_datetime("20240131T09:05:00Z"),
		    "\"20240131T09:05:00Z\"");
}

static void
test_write_escape(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	check_value(xv_str("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	check_value(xv_str("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
	check_value(xv_str("\x01\x1f\x7f\x0b"),
		    "\"\\u0001\\u001f\\u007f\\u000b\"");
	check_value(xv_str("caf\xc3\xa9 \xe2\x82\xac <&>'"),
		    "\"caf\xc3\xa9 \xe2\x82\xac <&>'\"");
	jsonrpc_write_string(&b, "a\0b", 3);
	assert_string_equal(b.data, "\"a\\u0000b\"");
	buf_free(&b);
}

static void
test_write_containers(void **state)
{
	xv *st;

	(void)state;
	check_value(xv_array(), "[]");
	check_value(xv_struct(), "{}");
	check_value(xv_push(xv_push(xv_array(), xv_str("a")), xv_int(1)),
		    "[\"a\",1]");
	st = xv_struct();
	xv_set(st, "z", xv_int(1));
	xv_set(st, "a\"", xv_nil());
	xv_set(st, "m", xv_push(xv_array(), xv_struct()));
	xv_set(st, "z", xv_bool(false)); /* duplicate keys are kept */
	check_value(st, "{\"z\":1,\"a\\\"\":null,\"m\":[{}],\"z\":false}");
}

static void
test_write_responses(void **state)
{
	struct buf b = BUF_INIT;
	const char *params[] = {"OpaqueRef:9d2c"};
	xv *v = xv_str("Running"), *desc;

	(void)state;
	jsonrpc_write_success(&b, JSONRPC_V2, "7", v);
	assert_string_equal(b.data,
			    "{\"jsonrpc\":\"2.0\",\"result\":\"Running\",\"id\":7}");
	buf_reset(&b);
	jsonrpc_write_success(&b, JSONRPC_V1, "\"x\"", v);
	assert_string_equal(b.data,
			    "{\"result\":\"Running\",\"error\":null,\"id\":\"x\"}");
	buf_reset(&b);
	jsonrpc_write_success(&b, JSONRPC_V1, NULL, NULL);
	assert_string_equal(b.data, "{\"result\":null,\"error\":null,\"id\":0}");
	buf_reset(&b);
	xv_free(v);
	jsonrpc_write_failure(&b, JSONRPC_V2, "7", "SESSION_INVALID", params,
			      1);
	assert_string_equal(b.data,
			    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
			    "\"message\":\"SESSION_INVALID\",\"data\":"
			    "[\"OpaqueRef:9d2c\"]},\"id\":7}");
	buf_reset(&b);
	jsonrpc_write_failure(&b, JSONRPC_V1, "\"x\"", "SESSION_INVALID",
			      params, 1);
	assert_string_equal(b.data, "{\"result\":null,\"error\":"
				    "[\"SESSION_INVALID\",\"OpaqueRef:9d2c\"],"
				    "\"id\":\"x\"}");
	buf_reset(&b);
	jsonrpc_write_failure(&b, JSONRPC_V1, "1", "X", NULL, 0);
	assert_string_equal(b.data,
			    "{\"result\":null,\"error\":[\"X\"],\"id\":1}");
	buf_reset(&b);
	jsonrpc_write_failure(&b, JSONRPC_V2, "1", "X", NULL, 0);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
				    "\"message\":\"X\",\"data\":[]},\"id\":1}");
	buf_reset(&b);
	desc = xv_push(xv_push(xv_array(), xv_str("SESSION_INVALID")),
		       xv_str("OpaqueRef:9d2c"));
	jsonrpc_write_failure_xv(&b, JSONRPC_V2, "7", desc);
	assert_string_equal(b.data,
			    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
			    "\"message\":\"SESSION_INVALID\",\"data\":"
			    "[\"OpaqueRef:9d2c\"]},\"id\":7}");
	buf_reset(&b);
	jsonrpc_write_failure_xv(&b, JSONRPC_V1, "7", desc);
	assert_string_equal(b.data, "{\"result\":null,\"error\":"
				    "[\"SESSION_INVALID\",\"OpaqueRef:9d2c\"],"
				    "\"id\":7}");
	buf_reset(&b);
	xv_free(desc);
	desc = xv_int(3);
	jsonrpc_write_failure_xv(&b, JSONRPC_V2, "7", desc);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
				    "\"message\":\"\",\"data\":3},\"id\":7}");
	buf_reset(&b);
	xv_free(desc);
	desc = xv_push(xv_push(xv_array(), xv_str("VM.start")),
		       xv_bool(false));
	jsonrpc_write_call(&b, JSONRPC_V2, 0, "VM.start", desc);
	assert_string_equal(b.data, "{\"jsonrpc\":\"2.0\",\"method\":\"VM.start"
				    "\",\"params\":[\"VM.start\",false],"
				    "\"id\":0}");
	buf_reset(&b);
	jsonrpc_write_call(&b, JSONRPC_V1, -5, "system.listMethods", NULL);
	assert_string_equal(b.data, "{\"method\":\"system.listMethods\","
				    "\"params\":[],\"id\":-5}");
	xv_free(desc);
	buf_free(&b);
}

static void
test_parse_call(void **state)
{
	struct jsonrpc_call c;
	const char *s;
	xv **it;

	(void)state;
	s = "{\"jsonrpc\":\"2.0\",\"method\":\"VM.get_power_state\","
	    "\"params\":[\"OpaqueRef:9d2c\",\"OpaqueRef:1f7a\"],\"id\":7}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c), JSONRPC_OK);
	assert_int_equal(c.version, JSONRPC_V2);
	assert_string_equal(c.id, "7");
	assert_string_equal(c.method, "VM.get_power_state");
	assert_int_equal(xv_len(c.params), 2);
	assert_string_equal(c.params->u.a.items[1]->u.s, "OpaqueRef:1f7a");
	assert_null(c.bad);
	assert_string_equal(c.err, "");
	jsonrpc_call_clear(&c);
	assert_null(c.method);
	s = " {\"id\" : \"x\\\"y\\u00e9\", \"params\": [1, -9223372036854775808,"
	    " 1.5, 2e3, true, false, null, \"s\", [], {}, {\"b\":1,\"a\":[2]},"
	    " \"\\u20ac\\n\"], \"method\":\"t\", \"jsonrpc\":\"1.0\"} \n";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c), JSONRPC_OK);
	assert_int_equal(c.version, JSONRPC_V1);
	assert_string_equal(c.id, "\"x\\\"y\xc3\xa9\"");
	assert_int_equal(xv_len(c.params), 12);
	it = c.params->u.a.items;
	assert_int_equal(it[0]->type, XV_INT);
	assert_int_equal(it[0]->u.i, 1);
	assert_true(it[1]->u.i == INT64_MIN);
	assert_int_equal(it[2]->type, XV_FLOAT);
	assert_true(it[2]->u.f == 1.5);
	assert_int_equal(it[3]->type, XV_FLOAT);
	assert_true(it[3]->u.f == 2000.0);
	assert_int_equal(it[4]->type, XV_BOOL);
	assert_true(it[4]->u.b);
	assert_false(it[5]->u.b);
	assert_int_equal(it[6]->type, XV_NIL);
	assert_string_equal(it[7]->u.s, "s");
	assert_int_equal(it[8]->type, XV_ARRAY);
	assert_int_equal(it[9]->type, XV_STRUCT);
	assert_string_equal(it[10]->u.st.names[0], "b");
	assert_string_equal(it[10]->u.st.names[1], "a");
	assert_int_equal(xv_get(it[10], "a")->u.a.items[0]->u.i, 2);
	assert_string_equal(it[11]->u.s, "\xe2\x82\xac\n");
	jsonrpc_call_clear(&c);
	/* No params (or null) is []; an object is one struct parameter. */
	s = "{\"method\":\"system.listMethods\",\"id\":0}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c), JSONRPC_OK);
	assert_int_equal(c.params->type, XV_ARRAY);
	assert_int_equal(xv_len(c.params), 0);
	jsonrpc_call_clear(&c);
	s = "{\"method\":\"m\",\"params\":null,\"id\":-1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c), JSONRPC_OK);
	assert_string_equal(c.id, "-1");
	assert_int_equal(xv_len(c.params), 0);
	jsonrpc_call_clear(&c);
	s = "{\"method\":\"m\",\"params\":{\"k\":\"v\"},\"id\":1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c), JSONRPC_OK);
	assert_int_equal(xv_len(c.params), 1);
	assert_string_equal(xv_get(c.params->u.a.items[0], "k")->u.s, "v");
	jsonrpc_call_clear(&c);
}

static void
test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"null",
		"[]",
		"\"x\"",
		"{",
		"{\"method\":\"m\",\"params\":[],\"id\":1",
		"{\"method\":\"m\",\"params\":[]}",
		"{\"method\":\"m\",\"params\":[],\"id\":null}",
		"{\"method\":\"m\",\"params\":[],\"id\":1.5}",
		"{\"method\":\"m\",\"params\":[],\"id\":[1]}",
		"{\"method\":\"m\",\"params\":[],\"id\":true}",
		"{\"params\":[],\"id\":1}",
		"{\"method\":1,\"params\":[],\"id\":1}",
		"{\"method\":null,\"params\":[],\"id\":1}",
		"{\"method\":\"m\",\"params\":\"x\",\"id\":1}",
		"{\"method\":\"m\",\"params\":1,\"id\":1}",
		"{\"method\":\"m\",\"params\":[],\"id\":1} x",
		"{\"method\":\"m\",\"params\":[99999999999999999999],\"id\":1}",
		"{\"method\":\"m\",\"params\":[1e999],\"id\":1}",
		"{\"method\":\"m\",\"params\":[NaN],\"id\":1}",
		"{\"method\":\"m\",\"params\":[\"\\ud800\"],\"id\":1}",
		"{\"method\":\"m\",\"params\":[\"a\nb\"],\"id\":1}",
		"{\"method\":\"m\",\"params\":[01],\"id\":1}",
		"{\"method\":\"m\",\"params\":['a'],\"id\":1}",
		"{\"method\":\"m\",\"params\":[],\"id\":1,}",
		"{\"method\":\"m\",\"params\":[],\"id\":1,\"\\u0000\":1}",
		"\xff{\"method\":\"m\",\"params\":[],\"id\":1}",
		"{\"method\":\"m\",\"params\":[\xff],\"id\":1}",
	};
	struct jsonrpc_call c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = jsonrpc_parse_call(bad[i], strlen(bad[i]), &c);
		if (r != JSONRPC_MALFORMED)
			print_error("accepted: %s\n", bad[i]);
		assert_int_equal(r, JSONRPC_MALFORMED);
		assert_null(c.method);
		assert_null(c.params);
		assert_null(c.id);
		assert_true(c.err[0] != '\0');
		jsonrpc_call_clear(&c);
	}
}

/* A call with one parameter nested depth arrays (or objects) deep. */
static char *
deep(int depth, bool obj)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "{\"method\":\"m\",\"id\":1,\"params\":[");
	for (int i = 0; i < depth; i++)
		buf_adds(&b, obj ? "{\"k\":" : "[");
	buf_adds(&b, "1");
	for (int i = 0; i < depth; i++)
		buf_adds(&b, obj ? "}" : "]");
	buf_adds(&b, "]}");
	return buf_steal(&b);
}

static void
test_parse_depth(void **state)
{
	struct jsonrpc_call c;
	char *s;

	(void)state;
	/* params itself is level 0, so 64 more levels are allowed. */
	s = deep(JSONRPC_MAX_DEPTH - 1, false);
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c), JSONRPC_OK);
	jsonrpc_call_clear(&c);
	free(s);
	s = deep(JSONRPC_MAX_DEPTH, false);
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_MALFORMED);
	jsonrpc_call_clear(&c);
	free(s);
	s = deep(JSONRPC_MAX_DEPTH, true);
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_MALFORMED);
	jsonrpc_call_clear(&c);
	free(s);
	s = deep(100000, false);
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_MALFORMED);
	jsonrpc_call_clear(&c);
	free(s);
}

static void
test_parse_invalid_value(void **state)
{
	struct jsonrpc_call c;
	const char *s;

	(void)state;
	s = "{\"jsonrpc\":\"2.0\",\"method\":\"VM.set_name_label\",\"params\":"
	    "[\"OpaqueRef:s\",\"ab\xff\"],\"id\":\"q\"}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_INVALID_VALUE);
	assert_int_equal(c.version, JSONRPC_V2);
	assert_string_equal(c.id, "\"q\"");
	assert_string_equal(c.method, "VM.set_name_label");
	assert_null(c.params);
	assert_string_equal(c.bad, "ab\xef\xbf\xbd");
	jsonrpc_call_clear(&c);
	/* Characters XML cannot carry, NUL, and bad keys: as xapi. */
	s = "{\"method\":\"m\",\"params\":[\"a\\u0001\"],\"id\":1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_INVALID_VALUE);
	assert_string_equal(c.bad, "a\x01");
	jsonrpc_call_clear(&c);
	s = "{\"method\":\"m\",\"params\":[\"a\\u0000b\"],\"id\":1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_INVALID_VALUE);
	assert_string_equal(c.bad, "a");
	jsonrpc_call_clear(&c);
	s = "{\"method\":\"m\",\"params\":[\"\\uffff\"],\"id\":1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_INVALID_VALUE);
	jsonrpc_call_clear(&c);
	s = "{\"method\":\"m\",\"params\":[{\"k\\u0002\":1}],\"id\":1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_INVALID_VALUE);
	assert_string_equal(c.bad, "k\x02");
	jsonrpc_call_clear(&c);
	s = "{\"method\":\"m\xc0\xaf\",\"params\":[],\"id\":1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_INVALID_VALUE);
	assert_string_equal(c.bad, c.method);
	jsonrpc_call_clear(&c);
	/* A real U+FFFD, tabs and newlines are fine. */
	s = "{\"method\":\"m\",\"params\":[\"\xef\xbf\xbd\\t\\n\\r\"],\"id\":1}";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c), JSONRPC_OK);
	jsonrpc_call_clear(&c);
	/* Invalid UTF-8 plus a syntax error is malformed. */
	s = "{\"method\":\"m\",\"params\":[\"\xff\"],\"id\":1";
	assert_int_equal(jsonrpc_parse_call(s, strlen(s), &c),
			 JSONRPC_MALFORMED);
	jsonrpc_call_clear(&c);
}

static xv *
rt_tree(void)
{
	xv *st = xv_struct();

	xv_set(st, "name", xv_str("a \"q\" \\ / \xc3\xa9\t\x7f"));
	xv_set(st, "n", xv_int(-12));
	xv_set(st, "big", xv_int(INT64_MAX));
	xv_set(st, "f", xv_float(0.1));
	xv_set(st, "g", xv_float(1.0));
	xv_set(st, "h", xv_float(123456789.123456789));
	xv_set(st, "t", xv_bool(true));
	xv_set(st, "nil", xv_nil());
	xv_set(st, "l", xv_push(xv_push(xv_array(), xv_array()), xv_struct()));
	return st;
}

static void
test_roundtrip(void **state)
{
	struct buf b = BUF_INIT;
	struct jsonrpc_call c;
	struct jsonrpc_response r;
	xv *t = rt_tree(), *params = xv_push(xv_push(xv_array(), xv_dup(t)),
					      xv_str("x"));

	(void)state;
	for (int ver = JSONRPC_V1; ver <= JSONRPC_V2; ver++) {
		buf_reset(&b);
		jsonrpc_write_call(&b, (enum jsonrpc_version)ver, 42, "VM.create",
				   params);
		assert_int_equal(jsonrpc_parse_call(b.data, b.len, &c),
				 JSONRPC_OK);
		assert_int_equal(c.version, ver);
		assert_string_equal(c.id, "42");
		assert_string_equal(c.method, "VM.create");
		assert_true(xv_equal(c.params, params));
		buf_reset(&b);
		jsonrpc_write_success(&b, c.version, c.id, t);
		assert_int_equal(jsonrpc_parse_response(b.data, b.len, &r),
				 JSONRPC_OK);
		assert_true(r.ok);
		assert_int_equal(r.version, ver);
		assert_string_equal(r.id, "42");
		assert_true(xv_equal(r.value, t));
		assert_null(r.error);
		jsonrpc_response_clear(&r);
		buf_reset(&b);
		const char *p[] = {"OpaqueRef:a", "b"};
		jsonrpc_write_failure(&b, c.version, c.id, "HANDLE_INVALID", p,
				      2);
		assert_int_equal(jsonrpc_parse_response(b.data, b.len, &r),
				 JSONRPC_OK);
		assert_false(r.ok);
		assert_null(r.value);
		assert_int_equal(xv_len(r.error), 3);
		assert_string_equal(r.error->u.a.items[0]->u.s,
				    "HANDLE_INVALID");
		assert_string_equal(r.error->u.a.items[2]->u.s, "b");
		jsonrpc_response_clear(&r);
		jsonrpc_call_clear(&c);
	}
	buf_free(&b);
	xv_free(params);
	xv_free(t);
}

static void
test_parse_response(void **state)
{
	struct jsonrpc_response r;
	const char *s;

	(void)state;
	s = "{\"result\":null,\"error\":null,\"id\":\"x\"}";
	assert_int_equal(jsonrpc_parse_response(s, strlen(s), &r), JSONRPC_OK);
	assert_true(r.ok);
	assert_int_equal(r.value->type, XV_NIL);
	assert_string_equal(r.id, "\"x\"");
	jsonrpc_response_clear(&r);
	s = "{\"result\":null,\"error\":\"OOPS\",\"id\":1}";
	assert_int_equal(jsonrpc_parse_response(s, strlen(s), &r), JSONRPC_OK);
	assert_false(r.ok);
	assert_int_equal(xv_len(r.error), 1);
	assert_string_equal(r.error->u.a.items[0]->u.s, "OOPS");
	jsonrpc_response_clear(&r);
	s = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"X\","
	    "\"data\":\"d\"},\"id\":1}";
	assert_int_equal(jsonrpc_parse_response(s, strlen(s), &r), JSONRPC_OK);
	assert_false(r.ok);
	assert_int_equal(xv_len(r.error), 2);
	assert_string_equal(r.error->u.a.items[1]->u.s, "d");
	jsonrpc_response_clear(&r);
	s = "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"X\"},"
	    "\"id\":1}";
	assert_int_equal(jsonrpc_parse_response(s, strlen(s), &r), JSONRPC_OK);
	assert_int_equal(xv_len(r.error), 1);
	jsonrpc_response_clear(&r);
	static const char *const bad[] = {
		"",
		"[]",
		"{\"result\":1,\"error\":null}",
		"{\"result\":1,\"id\":1}",
		"{\"result\":1,\"error\":2,\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"result\":1,\"error\":{},\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"error\":{\"message\":\"X\"},\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1},\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"error\":\"X\",\"id\":1}",
		"{\"jsonrpc\":\"2.0\",\"result\":\"\xff\",\"id\":1}",
		"{\"result\":[NaN],\"error\":null,\"id\":1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(jsonrpc_parse_response(bad[i], strlen(bad[i]),
							&r),
				 JSONRPC_MALFORMED);
		assert_null(r.value);
		assert_null(r.error);
		assert_null(r.id);
		assert_true(r.err[0] != '\0');
		jsonrpc_response_clear(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_scalars),
		cmocka_unit_test(test_write_escape),
		cmocka_unit_test(test_write_containers),
		cmocka_unit_test(test_write_responses),
		cmocka_unit_test(test_parse_call),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_depth),
		cmocka_unit_test(test_parse_invalid_value),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
