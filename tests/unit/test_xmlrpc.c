/* Unit tests for src/rpc/xmlrpc.c and xmlrpc_write.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rpc/xmlrpc.h"

#define HEAD "<?xml version=\"1.0\"?><methodResponse><params><param>"
#define TAIL "</param></params></methodResponse>"

/* Writes v with xmlrpc_write_value and compares with want. */
static void
check_value(xv *v, const char *want)
{
	struct buf b = BUF_INIT;

	xmlrpc_write_value(&b, v);
	assert_string_equal(b.data, want);
	assert_int_equal(b.len, strlen(want));
	buf_free(&b);
	xv_free(v);
}

static void
test_write_scalars(void **state)
{
	(void)state;
	check_value(xv_str("Running"), "<value>Running</value>");
	check_value(xv_str(""), "<value></value>");
	check_value(xv_nil(), "<value></value>");
	check_value(NULL, "<value></value>");
	check_value(xv_int(42), "<value>42</value>");
	check_value(xv_int(0), "<value>0</value>");
	check_value(xv_int(-1073741824), "<value>-1073741824</value>");
	check_value(xv_int(INT64_MAX), "<value>9223372036854775807</value>");
	check_value(xv_int(INT64_MIN), "<value>-9223372036854775808</value>");
	check_value(xv_i4(5), "<value><i4>5</i4></value>");
	check_value(xv_i4(-5), "<value><i4>-5</i4></value>");
	check_value(xv_bool(true), "<value><boolean>1</boolean></value>");
	check_value(xv_bool(false), "<value><boolean>0</boolean></value>");
	check_value(xv_float(1.0), "<value><double>1</double></value>");
	check_value(xv_float(0.5), "<value><double>0.5</double></value>");
	check_value(xv_float(0.1), "<value><double>0.1</double></value>");
	check_value(xv_float(-2.25), "<value><double>-2.25</double></value>");
	check_value(xv_float(1.0 / 3),
		    "<value><double>0.3333333333333333</double></value>");
	check_value(xv_float(1e300), "<value><double>1e+300</double></value>");
	check_value(xv_float(1326210000.0),
		    "<value><double>1326210000</double></value>");
	check_value(xv_float(NAN), "<value><double>nan</double></value>");
	check_value(xv_float(INFINITY), "<value><double>inf</double></value>");
	check_value(xv_float(-INFINITY),
		    "<value><double>-inf</double></value>");
	check_value(xv_datetime("20240131T09:05:00Z"),
		    "<value><dateTime.iso8601>20240131T09:05:00Z"
		    "</dateTime.iso8601></value>");
	check_value(xv_datetime_t(0), "<value><dateTime.iso8601>"
				      "19700101T00:00:00Z</dateTime.iso8601>"
				      "</value>");
}

static void
test_write_escape(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	check_value(xv_str("a&b<c>d\"e'f"),
		    "<value>a&amp;b&lt;c&gt;d&quot;e'f</value>");
	check_value(xv_str("\x01x\ty\nz\r\x1f\x7f\x08!"),
		    "<value>x\ty\nz\r\x7f!</value>");
	check_value(xv_str("caf\xc3\xa9 \xe2\x82\xac"),
		    "<value>caf\xc3\xa9 \xe2\x82\xac</value>");
	check_value(xv_str("&&&&"), "<value>&amp;&amp;&amp;&amp;</value>");
	check_value(xv_str("\x02\x03"), "<value></value>");
	xmlrpc_write_text(&b, "<a href=\"x\">", 12);
	assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;");
	buf_reset(&b);
	xmlrpc_write_text(&b, "", 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static void
test_write_containers(void **state)
{
	xv *st, *a;

	(void)state;
	check_value(xv_array(), "<value><array><data></data></array></value>");
	check_value(xv_struct(), "<value><struct></struct></value>");
	a = xv_push(xv_push(xv_array(), xv_str("CX8")), xv_int(3));
	check_value(a, "<value><array><data><value>CX8</value><value>3</value>"
		       "</data></array></value>");
	st = xv_struct();
	xv_set(st, "name_label", xv_str("vm & co"));
	xv_set(st, "a<b", xv_bool(true));
	xv_set(st, "tags", xv_push(xv_array(), xv_struct()));
	check_value(st, "<value><struct><member><name>name_label</name>"
			"<value>vm &amp; co</value></member><member><name>"
			"a&lt;b</name><value><boolean>1</boolean></value>"
			"</member><member><name>tags</name><value><array>"
			"<data><value><struct></struct></value></data></array>"
			"</value></member></struct></value>");
}

static void
test_write_responses(void **state)
{
	struct buf b = BUF_INIT;
	const char *params[] = {"OpaqueRef:1f7a", "halted", "running"};
	xv *desc;

	(void)state;
	xmlrpc_write_success(&b, NULL);
	assert_string_equal(
		b.data,
		"<?xml version=\"1.0\"?><methodResponse><params><param><value>"
		"<struct><member><name>Status</name><value>Success</value>"
		"</member><member><name>Value</name><value></value></member>"
		"</struct></value></param></params></methodResponse>");
	buf_reset(&b);
	desc = xv_str("Running");
	xmlrpc_write_success(&b, desc);
	xv_free(desc);
	assert_string_equal(b.data,
			    HEAD "<value><struct><member><name>Status</name>"
				 "<value>Success</value></member><member>"
				 "<name>Value</name><value>Running</value>"
				 "</member></struct></value>" TAIL);
	buf_reset(&b);
	xmlrpc_write_failure(&b, "VM_BAD_POWER_STATE", params, 3);
	const char *fail =
		HEAD "<value><struct><member><name>Status</name><value>Failure"
		     "</value></member><member><name>ErrorDescription</name>"
		     "<value><array><data><value>VM_BAD_POWER_STATE</value>"
		     "<value>OpaqueRef:1f7a</value><value>halted</value>"
		     "<value>running</value></data></array></value></member>"
		     "</struct></value>" TAIL;
	assert_string_equal(b.data, fail);
	buf_reset(&b);
	desc = xv_array();
	xv_push(desc, xv_str("VM_BAD_POWER_STATE"));
	for (int i = 0; i < 3; i++)
		xv_push(desc, xv_str(params[i]));
	xmlrpc_write_failure_xv(&b, desc);
	xv_free(desc);
	assert_string_equal(b.data, fail);
	buf_reset(&b);
	xmlrpc_write_failure(&b, "SESSION_INVALID", NULL, 0);
	assert_string_equal(
		b.data, HEAD "<value><struct><member><name>Status</name><value>"
			     "Failure</value></member><member><name>"
			     "ErrorDescription</name><value><array><data>"
			     "<value>SESSION_INVALID</value></data></array>"
			     "</value></member></struct></value>" TAIL);
	buf_reset(&b);
	desc = xv_push(xv_push(xv_array(), xv_str("VM.start")),
		       xv_str("VM.get_all"));
	xmlrpc_write_bare(&b, desc);
	xv_free(desc);
	assert_string_equal(b.data,
			    HEAD "<value><array><data><value>VM.start</value>"
				 "<value>VM.get_all</value></data></array>"
				 "</value>" TAIL);
	buf_reset(&b);
	desc = xv_push(xv_push(xv_array(), xv_str("OpaqueRef:s")),
		       xv_bool(false));
	xmlrpc_write_call(&b, "VM.start", desc);
	xv_free(desc);
	assert_string_equal(
		b.data, "<?xml version=\"1.0\"?><methodCall><methodName>"
			"VM.start</methodName><params><param><value>"
			"OpaqueRef:s</value></param><param><value><boolean>0"
			"</boolean></value></param></params></methodCall>");
	buf_reset(&b);
	xmlrpc_write_call(&b, "system.listMethods", NULL);
	assert_string_equal(b.data,
			    "<?xml version=\"1.0\"?><methodCall><methodName>"
			    "system.listMethods</methodName><params></params>"
			    "</methodCall>");
	/* Writers append. */
	xmlrpc_write_value(&b, NULL);
	assert_non_null(strstr(b.data, "</methodCall><value></value>"));
	buf_free(&b);
}

/* Parses body as a call expecting success; returns params (caller frees). */
static xv *
parse_ok(const char *body, const char *method)
{
	struct xmlrpc_call call;
	xv *p;

	assert_int_equal(xmlrpc_parse_call(body, strlen(body), &call),
			 XMLRPC_OK);
	assert_string_equal(call.method, method);
	assert_string_equal(call.err, "");
	assert_null(call.bad);
	p = call.params;
	call.params = NULL;
	xmlrpc_call_clear(&call);
	assert_int_equal(p->type, XV_ARRAY);
	return p;
}

static void
test_parse_login(void **state)
{
	/* As Python's xmlrpc.client writes it. */
	const char *body =
		"<?xml version='1.0'?>\n<methodCall>\n<methodName>session."
		"login_with_password</methodName>\n<params>\n<param>\n<value>"
		"<string>root</string></value>\n</param>\n<param>\n<value>"
		"<string>p&amp;ss&lt;</string></value>\n</param>\n<param>\n"
		"<value><string>2.3</string></value>\n</param>\n<param>\n"
		"<value><string>XenCenter</string></value>\n</param>\n"
		"</params>\n</methodCall>\n";
	xv *p = parse_ok(body, "session.login_with_password");

	(void)state;
	assert_int_equal(xv_len(p), 4);
	assert_string_equal(p->u.a.items[0]->u.s, "root");
	assert_string_equal(p->u.a.items[1]->u.s, "p&ss<");
	assert_string_equal(p->u.a.items[3]->u.s, "XenCenter");
	xv_free(p);
	/* No <params> at all, and an empty <params/>. */
	p = parse_ok("<methodCall><methodName>system.listMethods</methodName>"
		     "</methodCall>",
		     "system.listMethods");
	assert_int_equal(xv_len(p), 0);
	xv_free(p);
	p = parse_ok("<methodCall><methodName> pool.get_all </methodName>"
		     "<params/></methodCall>",
		     "pool.get_all");
	assert_int_equal(xv_len(p), 0);
	xv_free(p);
}

static void
test_parse_types(void **state)
{
	const char *body =
		"<methodCall><methodName>t.types</methodName><params>"
		"<param><value>untagged</value></param>"
		"<param><value><string>s</string></value></param>"
		"<param><value><i4>-4</i4></value></param>"
		"<param><value><int>7</int></value></param>"
		"<param><value><i8>9223372036854775807</i8></value></param>"
		"<param><value><boolean>1</boolean></value></param>"
		"<param><value><boolean>0</boolean></value></param>"
		"<param><value><double>60.1</double></value></param>"
		"<param><value><dateTime.iso8601>20240131T09:05:00Z"
		"</dateTime.iso8601></value></param>"
		"<param><value><base64>aGVsbG8g\nd29ybGQ=</base64></value>"
		"</param>"
		"<param><value><nil/></value></param>"
		"<param><value></value></param>"
		"<param><value/></param>"
		"<param><value>  </value></param>"
		"<param><value><string/></value></param>"
		"<param><value><![CDATA[<raw&>]]></value></param>"
		"<param><value>&#x41;&#66;&amp;&quot;&apos;</value></param>"
		"<param><value>\n  <int> 12 </int>\n</value></param>"
		"<param><value><double>-1e-3</double></value></param>"
		"<param><value><double>1e999</double></value></param>"
		"</params></methodCall>";
	xv *p = parse_ok(body, "t.types"), **it;

	(void)state;
	assert_int_equal(xv_len(p), 20);
	it = p->u.a.items;
	assert_int_equal(it[0]->type, XV_STRING);
	assert_string_equal(it[0]->u.s, "untagged");
	assert_string_equal(it[1]->u.s, "s");
	assert_int_equal(it[2]->type, XV_INT);
	assert_int_equal(it[2]->u.i, -4);
	assert_int_equal(it[2]->flags, XV_F_I4);
	assert_int_equal(it[3]->u.i, 7);
	assert_int_equal(it[3]->flags, 0);
	assert_true(it[4]->u.i == INT64_MAX);
	assert_int_equal(it[5]->type, XV_BOOL);
	assert_true(it[5]->u.b);
	assert_false(it[6]->u.b);
	assert_int_equal(it[7]->type, XV_FLOAT);
	assert_true(it[7]->u.f == 60.1);
	assert_int_equal(it[8]->type, XV_DATETIME);
	assert_string_equal(it[8]->u.s, "20240131T09:05:00Z");
	assert_int_equal(it[9]->type, XV_STRING);
	assert_string_equal(it[9]->u.s, "hello world");
	assert_int_equal(it[10]->type, XV_NIL);
	assert_string_equal(it[11]->u.s, "");
	assert_string_equal(it[12]->u.s, "");
	assert_string_equal(it[13]->u.s, "  ");
	assert_string_equal(it[14]->u.s, "");
	assert_string_equal(it[15]->u.s, "<raw&>");
	assert_string_equal(it[16]->u.s, "AB&\"'");
	assert_int_equal(it[17]->u.i, 12);
	assert_true(it[18]->u.f == -1e-3);
	assert_true(isinf(it[19]->u.f));
	xv_free(p);
}

static void
test_parse_containers(void **state)
{
	const char *body =
		"<methodCall><methodName>event.from</methodName><params>"
		"<param><value>OpaqueRef:s</value></param>"
		"<param><value><array><data>\n<value>VM</value>\n"
		"<value><string>host</string></value></data></array></value>"
		"</param><param><value></value></param>"
		"<param><value><double>60.1</double></value></param>"
		"<param><value><array/></value></param>"
		"<param><value><array><data/></array></value></param>"
		"<param><value><struct>\n<member><name>b</name><value>1</value>"
		"</member>\n<member><value><i4>2</i4></value><name>a</name>"
		"</member><member><name>b</name><value><struct/></value>"
		"</member></struct></value></param>"
		"<param><value><struct></struct></value></param>"
		"</params></methodCall>";
	xv *p = parse_ok(body, "event.from"), *a, *st;

	(void)state;
	assert_int_equal(xv_len(p), 8);
	a = p->u.a.items[1];
	assert_int_equal(a->type, XV_ARRAY);
	assert_int_equal(xv_len(a), 2);
	assert_string_equal(a->u.a.items[1]->u.s, "host");
	assert_int_equal(p->u.a.items[4]->type, XV_ARRAY);
	assert_int_equal(xv_len(p->u.a.items[4]), 0);
	assert_int_equal(xv_len(p->u.a.items[5]), 0);
	st = p->u.a.items[6];
	assert_int_equal(st->type, XV_STRUCT);
	assert_int_equal(xv_len(st), 3);
	assert_string_equal(st->u.st.names[0], "b");
	assert_string_equal(st->u.st.names[1], "a");
	assert_string_equal(st->u.st.names[2], "b");
	assert_string_equal(xv_get(st, "b")->u.s, "1");
	assert_int_equal(xv_get(st, "a")->u.i, 2);
	assert_int_equal(p->u.a.items[7]->type, XV_STRUCT);
	xv_free(p);
}

/* Builds a call with one parameter nested depth arrays deep. */
static char *
deep_call(int depth, const char *open, const char *close)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "<methodCall><methodName>m</methodName><params><param>");
	for (int i = 0; i < depth; i++)
		buf_adds(&b, open);
	buf_adds(&b, "<value>x</value>");
	for (int i = 0; i < depth; i++)
		buf_adds(&b, close);
	buf_adds(&b, "</param></params></methodCall>");
	return buf_steal(&b);
}

static void
expect_status(const char *body, int status)
{
	struct xmlrpc_call call;

	assert_int_equal(xmlrpc_parse_call(body, strlen(body), &call), status);
	if (status == XMLRPC_MALFORMED) {
		assert_null(call.method);
		assert_null(call.params);
		assert_true(call.err[0] != '\0');
	}
	xmlrpc_call_clear(&call);
}

#define MC(x) "<methodCall><methodName>m</methodName><params>" x "</params></methodCall>"
#define P(x) MC("<param><value>" x "</value></param>")

static void
test_parse_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"not xml",
		"<methodCall>",
		"<methodCall><methodName>m</methodName><params><param>",
		"<methodResponse><params/></methodResponse>",
		"<methodCall><params/></methodCall>",
		"<methodCall><methodName>m</methodName><methodName>n"
		"</methodName></methodCall>",
		"<methodCall><methodName>m<b/></methodName></methodCall>",
		"<methodCall><methodName>m</methodName>junk</methodCall>",
		"<methodCall><methodName>m</methodName><x/></methodCall>",
		MC("<param></param>"),
		MC("<param><value>a</value><value>b</value></param>"),
		MC("<value>a</value>"),
		P("<boolean>true</boolean>"),
		P("<boolean>2</boolean>"),
		P("<boolean></boolean>"),
		P("<boolean> 1</boolean>"),
		P("<int>x</int>"),
		P("<int></int>"),
		P("<i4>1.5</i4>"),
		P("<i8>99999999999999999999</i8>"),
		P("<int>0x10</int>"),
		P("<double>abc</double>"),
		P("<double></double>"),
		P("<base64>!!!!</base64>"),
		P("<base64>a</base64>"),
		P("<base64>aGk=x</base64>"),
		P("<nil>x</nil>"),
		P("<float>1</float>"),
		P("<string><b/></string>"),
		P("<string>a</string><string>b</string>"),
		P("text<string>a</string>"),
		P("<array><value>1</value></array>"),
		P("<array><data/><data/></array>"),
		P("<array><data>x</data></array>"),
		P("<array><data><string>1</string></data></array>"),
		P("<struct><value>1</value></struct>"),
		P("<struct><member><name>a</name></member></struct>"),
		P("<struct><member><value>1</value></member></struct>"),
		P("<struct><member><name>a</name><value>1</value><value>2"
		  "</value></member></struct>"),
		P("<struct><member><name>a<b/></name><value>1</value>"
		  "</member></struct>"),
		P("&undefined;"),
		P("\x01"),
		P("&#1;"),
		"<?xml version=\"1.0\"?><!DOCTYPE methodCall [<!ENTITY a "
		"\"x\">]>" P("&a;"),
		"<!DOCTYPE methodCall SYSTEM \"file:///etc/passwd\">" P("x"),
		"<!DOCTYPE methodCall>" P("x"),
		"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
		"]>" P("&lol3;"),
		P("<val\xffue>x</value>"),
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_status(bad[i], XMLRPC_MALFORMED);
	/* A body length that cuts the document short. */
	struct xmlrpc_call call;
	const char *ok = P("x");
	assert_int_equal(xmlrpc_parse_call(ok, strlen(ok) - 3, &call),
			 XMLRPC_MALFORMED);
	xmlrpc_call_clear(&call);
	assert_int_equal(xmlrpc_parse_call(ok, strlen(ok), &call), XMLRPC_OK);
	xmlrpc_call_clear(&call);
	/* An embedded NUL. */
	assert_int_equal(xmlrpc_parse_call("<methodCall>\0</methodCall>", 26,
					   &call),
			 XMLRPC_MALFORMED);
	xmlrpc_call_clear(&call);
}

static void
test_parse_depth(void **state)
{
	char *s;

	(void)state;
	s = deep_call(XMLRPC_MAX_DEPTH, "<value><array><data>",
		      "</data></array></value>");
	expect_status(s, XMLRPC_OK);
	free(s);
	s = deep_call(XMLRPC_MAX_DEPTH + 1, "<value><array><data>",
		      "</data></array></value>");
	expect_status(s, XMLRPC_MALFORMED);
	free(s);
	s = deep_call(XMLRPC_MAX_DEPTH, "<value><struct><member><name>k</name>",
		      "</member></struct></value>");
	expect_status(s, XMLRPC_OK);
	free(s);
	s = deep_call(XMLRPC_MAX_DEPTH + 1,
		      "<value><struct><member><name>k</name>",
		      "</member></struct></value>");
	expect_status(s, XMLRPC_MALFORMED);
	free(s);
	s = deep_call(5000, "<value><array><data>", "</data></array></value>");
	expect_status(s, XMLRPC_MALFORMED);
	free(s);
}

static void
test_parse_invalid_utf8(void **state)
{
	struct xmlrpc_call call;
	const char *body;

	(void)state;
	body = MC("<param><value>ok</value></param><param><value>ab\xff"
		  "cd</value></param>");
	assert_int_equal(xmlrpc_parse_call(body, strlen(body), &call),
			 XMLRPC_INVALID_VALUE);
	assert_string_equal(call.method, "m");
	assert_null(call.params);
	assert_string_equal(call.bad, "ab\xef\xbf\xbd" "cd");
	xmlrpc_call_clear(&call);
	/* Overlong and surrogate encodings, inside a struct key. */
	body = P("<struct><member><name>k\xc0\xaf</name><value>v</value>"
		 "</member></struct>");
	assert_int_equal(xmlrpc_parse_call(body, strlen(body), &call),
			 XMLRPC_INVALID_VALUE);
	assert_string_equal(call.bad, "k\xef\xbf\xbd\xef\xbf\xbd");
	xmlrpc_call_clear(&call);
	body = "<methodCall><methodName>VM.\xed\xa0\x80</methodName>"
	       "</methodCall>";
	assert_int_equal(xmlrpc_parse_call(body, strlen(body), &call),
			 XMLRPC_INVALID_VALUE);
	assert_non_null(call.method);
	assert_string_equal(call.bad, call.method);
	xmlrpc_call_clear(&call);
	/* base64 that decodes to bytes that are not text. */
	body = P("<base64>/w==</base64>"); /* 0xff */
	assert_int_equal(xmlrpc_parse_call(body, strlen(body), &call),
			 XMLRPC_INVALID_VALUE);
	assert_string_equal(call.bad, "\xef\xbf\xbd");
	xmlrpc_call_clear(&call);
	body = P("<base64>YQBi</base64>"); /* a NUL b */
	expect_status(body, XMLRPC_INVALID_VALUE);
	body = P("<base64>AQ==</base64>"); /* 0x01 */
	expect_status(body, XMLRPC_INVALID_VALUE);
	/* Invalid UTF-8 plus a real syntax error is malformed. */
	expect_status(P("\xff<int>x</int>"), XMLRPC_MALFORMED);
	expect_status("<methodCall>\xff", XMLRPC_MALFORMED);
	/* Valid multibyte text and U+FFFD itself are fine. */
	xv *p = parse_ok(P("caf\xc3\xa9 \xef\xbf\xbd"), "m");
	assert_string_equal(p->u.a.items[0]->u.s, "caf\xc3\xa9 \xef\xbf\xbd");
	xv_free(p);
}

/* A tree with every type whose XML-RPC round trip is exact. */
static xv *
rt_tree(void)
{
	xv *st = xv_struct(), *a = xv_array();

	xv_set(st, "name_label", xv_str("a & <b> \"c\" \xc3\xa9\t\n"));
	xv_set(st, "count", xv_i4(-12));
	xv_set(st, "ratio", xv_float(0.1));
	xv_set(st, "big", xv_float(1.5e300));
	xv_set(st, "on", xv_bool(true));
	xv_set(st, "off", xv_bool(false));
	xv_set(st, "when", xv_datetime("20240131T09:05:00Z"));
	xv_set(st, "empty", xv_str(""));
	xv_set(st, "k<&>", xv_struct());
	xv_push(a, xv_str("x"));
	xv_push(a, xv_array());
	xv_push(a, xv_push(xv_array(), xv_float(-0.5)));
	xv_set(st, "list", a);
	return st;
}

static void
test_roundtrip(void **state)
{
	struct buf b = BUF_INIT;
	struct xmlrpc_call call;
	xv *t = rt_tree(), *params = xv_array(), *back = NULL;
	char err[64];

	(void)state;
	xv_push(params, xv_dup(t));
	xv_push(params, xv_str("second"));
	xmlrpc_write_call(&b, "VM.create", params);
	assert_int_equal(xmlrpc_parse_call(b.data, b.len, &call), XMLRPC_OK);
	assert_string_equal(call.method, "VM.create");
	assert_true(xv_equal(call.params, params));
	xmlrpc_call_clear(&call);
	buf_reset(&b);
	xmlrpc_write_value(&b, t);
	assert_int_equal(xmlrpc_parse_value(b.data, b.len, &back, err,
					    sizeof(err)),
			 XMLRPC_OK);
	assert_true(xv_equal(back, t));
	xv_free(back);
	/* Plain ints leave as untagged text and so come back as strings. */
	buf_reset(&b);
	xv *i = xv_int(-42);
	xmlrpc_write_value(&b, i);
	xv_free(i);
	assert_int_equal(xmlrpc_parse_value(b.data, b.len, &back, NULL, 0),
			 XMLRPC_OK);
	assert_int_equal(back->type, XV_STRING);
	assert_string_equal(back->u.s, "-42");
	xv_free(back);
	/* Dropped control characters do not come back. */
	buf_reset(&b);
	i = xv_str("a\x01" "b");
	xmlrpc_write_value(&b, i);
	xv_free(i);
	assert_int_equal(xmlrpc_parse_value(b.data, b.len, &back, NULL, 0),
			 XMLRPC_OK);
	assert_string_equal(back->u.s, "ab");
	xv_free(back);
	buf_free(&b);
	xv_free(params);
	xv_free(t);
}

static void
test_parse_value(void **state)
{
	xv *v = (xv *)1;
	char err[128];
	const char *s;

	(void)state;
	s = "<value>OpaqueRef:abc</value>";
	assert_int_equal(xmlrpc_parse_value(s, strlen(s), &v, err, sizeof(err)),
			 XMLRPC_OK);
	assert_string_equal(v->u.s, "OpaqueRef:abc");
	assert_string_equal(err, "");
	xv_free(v);
	s = "<?xml version=\"1.0\"?>\n<value>\n <struct>\n  <member>\n"
	    "   <name>version</name>\n   <value><struct><member><name>"
	    "hostname</name><value>h1</value></member></struct></value>\n"
	    "  </member>\n </struct>\n</value>\n";
	assert_int_equal(xmlrpc_parse_value(s, strlen(s), &v, err, sizeof(err)),
			 XMLRPC_OK);
	assert_string_equal(xv_get(xv_get(v, "version"), "hostname")->u.s,
			    "h1");
	xv_free(v);
	s = "<value></value>";
	assert_int_equal(xmlrpc_parse_value(s, strlen(s), &v, err, sizeof(err)),
			 XMLRPC_OK);
	assert_string_equal(v->u.s, "");
	xv_free(v);
	s = "";
	assert_int_equal(xmlrpc_parse_value(s, 0, &v, err, sizeof(err)),
			 XMLRPC_MALFORMED);
	assert_null(v);
	assert_true(err[0] != '\0');
	s = "<struct/>";
	assert_int_equal(xmlrpc_parse_value(s, strlen(s), &v, err, sizeof(err)),
			 XMLRPC_MALFORMED);
	s = "<value><boolean>yes</boolean></value>";
	assert_int_equal(xmlrpc_parse_value(s, strlen(s), &v, NULL, 0),
			 XMLRPC_MALFORMED);
	s = "<value>\xfe</value>";
	assert_int_equal(xmlrpc_parse_value(s, strlen(s), &v, err, sizeof(err)),
			 XMLRPC_INVALID_VALUE);
	assert_null(v);
}

static void
test_parse_response(void **state)
{
	struct xmlrpc_response r;
	struct buf b = BUF_INIT;
	const char *params[] = {"OpaqueRef:x"};
	const char *s;
	xv *v;

	(void)state;
	v = rt_tree();
	xmlrpc_write_success(&b, v);
	assert_int_equal(xmlrpc_parse_response(b.data, b.len, &r), XMLRPC_OK);
	assert_true(r.ok);
	assert_false(r.bare);
	assert_null(r.error);
	assert_true(xv_equal(r.value, v));
	xmlrpc_response_clear(&r);
	buf_reset(&b);
	xmlrpc_write_bare(&b, v);
	assert_int_equal(xmlrpc_parse_response(b.data, b.len, &r), XMLRPC_OK);
	assert_true(r.ok);
	assert_true(r.bare);
	assert_true(xv_equal(r.value, v));
	xmlrpc_response_clear(&r);
	xv_free(v);
	buf_reset(&b);
	xmlrpc_write_failure(&b, "SESSION_INVALID", params, 1);
	assert_int_equal(xmlrpc_parse_response(b.data, b.len, &r), XMLRPC_OK);
	assert_false(r.ok);
	assert_null(r.value);
	assert_int_equal(xv_len(r.error), 2);
	assert_string_equal(r.error->u.a.items[0]->u.s, "SESSION_INVALID");
	assert_string_equal(r.error->u.a.items[1]->u.s, "OpaqueRef:x");
	xmlrpc_response_clear(&r);
	buf_free(&b);
	s = "<methodResponse><fault><value><struct><member><name>faultCode"
	    "</name><value><int>4</int></value></member><member><name>"
	    "faultString</name><value>Too many</value></member></struct>"
	    "</value></fault></methodResponse>";
	assert_int_equal(xmlrpc_parse_response(s, strlen(s), &r), XMLRPC_OK);
	assert_false(r.ok);
	assert_int_equal(xv_len(r.error), 3);
	assert_string_equal(r.error->u.a.items[0]->u.s, "fault");
	assert_int_equal(r.error->u.a.items[1]->u.i, 4);
	assert_string_equal(r.error->u.a.items[2]->u.s, "Too many");
	xmlrpc_response_clear(&r);
	/* A Status without its companion is a bare struct. */
	s = HEAD "<value><struct><member><name>Status</name><value>Success"
		 "</value></member></struct></value>" TAIL;
	assert_int_equal(xmlrpc_parse_response(s, strlen(s), &r), XMLRPC_OK);
	assert_true(r.ok && r.bare);
	xmlrpc_response_clear(&r);
	static const char *const bad[] = {
		"",
		"<methodCall/>",
		"<methodResponse/>",
		"<methodResponse><params/></methodResponse>",
		"<methodResponse><params><param/></params></methodResponse>",
		"<methodResponse><fault><value>x</value></fault>"
		"</methodResponse>",
		"<methodResponse><fault/></methodResponse>",
		"<methodResponse><other/></methodResponse>",
		"<methodResponse><params><param><value>a</value></param>"
		"</params><fault/></methodResponse>",
		HEAD "<value>\xff</value>" TAIL,
		HEAD "<value>" TAIL,
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(xmlrpc_parse_response(bad[i], strlen(bad[i]),
						       &r),
				 XMLRPC_MALFORMED);
		assert_null(r.value);
		assert_null(r.error);
		assert_true(r.err[0] != '\0');
		xmlrpc_response_clear(&r);
	}
}

/* 10,000 records of 100 fields: checks the size and reports the time. */
static void
test_write_big(void **state)
{
	struct buf b = BUF_INIT;
	xv *all = xv_struct();
	struct timespec t0, t1;
	char name[32];

	(void)state;
	for (int r = 0; r < 10000; r++) {
		xv *rec = xv_struct();
		for (int f = 0; f < 100; f++) {
			snprintf(name, sizeof(name), "field_%d", f);
			if (f % 4 == 0)
				xv_set(rec, name, xv_int(f * 1000003LL));
			else if (f % 4 == 1)
				xv_set(rec, name, xv_bool(f & 2));
			else
				xv_set(rec, name,
				       xv_strf("OpaqueRef:%08d-%04d", r, f));
		}
		snprintf(name, sizeof(name), "OpaqueRef:%d", r);
		xv_set(all, name, rec);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	xmlrpc_write_success(&b, all);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("    10,000 x 100-field records: %zu bytes in %.3f s\n",
		      b.len,
		      (double)(t1.tv_sec - t0.tv_sec) +
			      (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_true(b.len > 50 * 1000 * 1000);
	assert_int_equal(strlen(b.data), b.len);
	assert_string_equal(b.data + b.len - strlen(TAIL), TAIL);
	buf_free(&b);
	xv_free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_scalars),
		cmocka_unit_test(test_write_escape),
		cmocka_unit_test(test_write_containers),
		cmocka_unit_test(test_write_responses),
		cmocka_unit_test(test_parse_login),
		cmocka_unit_test(test_parse_types),
		cmocka_unit_test(test_parse_containers),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_parse_depth),
		cmocka_unit_test(test_parse_invalid_utf8),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_value),
		cmocka_unit_test(test_parse_response),
		cmocka_unit_test(test_write_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
