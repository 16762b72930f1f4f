/* Unit tests for src/util/xeargs.c: xe's argv, XE_EXTRA_ARGS and ~/.xe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/xeargs.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Joins a's words with spaces, for compact comparisons. */
static char *
words(const struct xeargs *a)
{
	static char out[1024];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < a->nwords; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, a->words[i]);
	}
	assert_null(a->words[a->nwords]);
	return out;
}

static void
test_xeargs_defaults(void **state)
{
	const char *argv[] = {"vm-list", "name-label=a=b", "--minimal"};
	struct xeargs a;
	char *body;

	(void)state;
	assert_int_equal(xeargs_parse(&a, argv, N(argv), NULL, NULL), 0);
	assert_string_equal(a.server, "127.0.0.1");
	assert_int_equal(a.port, -1);
	assert_string_equal(a.username, "root");
	assert_null(a.password);
	assert_false(a.nossl || a.debug || a.auth_given || a.help);
	assert_string_equal(words(&a), "vm-list name-label=a=b minimal=true");
	body = xeargs_body(&a);
	assert_string_equal(body, "vm-list\nname-label=a=b\nminimal=true");
	free(body);
	xeargs_free(&a);
}

static void
test_xeargs_switches(void **state)
{
	const char *argv[] = {"-s",     "h1",      "vm-start", "-p",
	                      "8443",   "-u",      "alice",    "-pw",
	                      "s3cret", "--nossl", "uuid=x",   "--debug",
	                      "-h",     "h2",      "--force"};
	struct xeargs a;
	char *body;

	(void)state;
	assert_int_equal(xeargs_parse(&a, argv, N(argv), NULL, NULL), 0);
	assert_string_equal(a.server, "h2");
	assert_int_equal(a.port, 8443);
	assert_string_equal(a.username, "alice");
	assert_string_equal(a.password, "s3cret");
	assert_true(a.nossl && a.debug && a.auth_given);
	assert_string_equal(words(&a), "vm-start uuid=x force=true");
	body = xeargs_body(&a);
	assert_string_equal(body, "vm-start\nuuid=x\nforce=true\n"
	                          "username=alice\npassword=s3cret");
	free(body);
	xeargs_free(&a);
}

static void
test_xeargs_keyword_forms(void **state)
{
	const char *argv[] = {"host-list",  "server=h",  "port=80",
	                      "nossl=true", "debug=yes", "-s"};
	struct xeargs a;

	(void)state;
	assert_int_equal(xeargs_parse(&a, argv, N(argv), NULL, NULL), 0);
	assert_string_equal(a.server, "h");
	assert_int_equal(a.port, 80);
	assert_true(a.nossl);
	assert_false(a.debug);
	/* a switch without its value goes to the server */
	assert_string_equal(words(&a), "host-list -s");
	xeargs_free(&a);
}

static void
test_xeargs_priority(void **state)
{
	const char *argv[] = {"vm-list", "-p", "1"};
	const char *rc = "server=rc\nport=3\n\nusername=rcuser\r\nparams=all\n";
	struct xeargs a;

	(void)state;
	assert_int_equal(xeargs_parse(&a, argv, N(argv),
	                              "port=2,server=env,"
	                              "x=a\\,b,,-u,envuser",
	                              rc),
	                 0);
	assert_string_equal(a.server, "env");
	assert_int_equal(a.port, 1);
	assert_string_equal(a.username, "envuser");
	assert_true(a.auth_given);
	assert_string_equal(words(&a), "vm-list x=a,b params=all");
	xeargs_free(&a);
}

static void
test_xeargs_bad_rc(void **state)
{
	const char *argv[] = {"vm-list"};
	struct xeargs a;

	(void)state;
	assert_int_equal(
	    xeargs_parse(&a, argv, N(argv), NULL, "server=x\nnonsense\n"), 0);
	assert_true(a.rc_error);
	assert_string_equal(a.server, "127.0.0.1");
	assert_string_equal(words(&a), "vm-list");
	xeargs_free(&a);
}

static void
test_xeargs_errors(void **state)
{
	const char *bad_port[] = {"vm-list", "-p", "65536"};
	const char *bad_port2[] = {"vm-list", "port=12x"};
	const char *bad_nossl[] = {"vm-list", "nossl=maybe"};
	const char *newline[] = {"vm-list", "name-label=a\nb"};
	struct xeargs a;

	(void)state;
	assert_int_equal(xeargs_parse(&a, bad_port, 3, NULL, NULL), -1);
	assert_non_null(strstr(a.err, "Port number"));
	xeargs_free(&a);
	assert_int_equal(xeargs_parse(&a, bad_port2, 2, NULL, NULL), -1);
	xeargs_free(&a);
	assert_int_equal(xeargs_parse(&a, bad_nossl, 2, NULL, NULL), -1);
	xeargs_free(&a);
	assert_int_equal(xeargs_parse(&a, newline, 2, NULL, NULL), -1);
	xeargs_free(&a);
	assert_int_equal(xeargs_parse(&a, bad_port, 3, NULL, "port=x\n"), -1);
	xeargs_free(&a);
}

static void
test_xeargs_version_help(void **state)
{
	const char *v[] = {"-p", "bad", "-version"};
	const char *h[] = {"vm-list", "--help"};
	struct xeargs a;

	(void)state;
	assert_int_equal(xeargs_parse(&a, v, 3, NULL, NULL), 0);
	assert_true(a.version);
	xeargs_free(&a);
	assert_int_equal(xeargs_parse(&a, h, 2, NULL, NULL), 0);
	assert_true(a.help);
	xeargs_free(&a);
	assert_int_equal(xeargs_parse(&a, NULL, 0, NULL, NULL), 0);
	assert_true(a.help);
	assert_int_equal(a.nwords, 0);
	xeargs_free(&a);
}

static void
test_xeargs_password_file(void **state)
{
	const char *argv[] = {"vm-list", "-u", "ignored", "-pwf", "/f"};
	struct xeargs a;
	char *body;

	(void)state;
	assert_int_equal(xeargs_parse(&a, argv, N(argv), NULL, NULL), 0);
	assert_string_equal(a.password_file, "/f");
	assert_int_equal(xeargs_apply_password_file(&a, "bob\r\npw\n"), 0);
	body = xeargs_body(&a);
	assert_string_equal(body, "vm-list\nusername=bob\npassword=pw");
	free(body);
	assert_int_equal(xeargs_apply_password_file(&a, "onlyuser\n"), -1);
	assert_int_equal(xeargs_apply_password_file(&a, ""), -1);
	xeargs_free(&a);
}

static void
test_xeargs_canonicalize(void **state)
{
	static const char *const cases[][3] = {
	    {"/home/u", "f.xva", "/home/u/f.xva"},
	    {"/home/u", "./a/../b//c/", "/home/u/b/c"},
	    {"/home/u", "/etc/../../x", "/x"},
	    {"/home/u", "..", "/home"},
	    {"/", ".", "/"},
	    {"/a", "", "/a"},
	};
	size_t i;
	char *c;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		c = xeargs_canonicalize(cases[i][0], cases[i][1]);
		assert_string_equal(c, cases[i][2]);
		free(c);
	}
}

static void
test_xeargs_permitted(void **state)
{
	const char *argv[] = {"vm-import", "filename=../x/vm.xva",
	                      "sr-uuid= ", "--force"};
	struct xeargs a;

	(void)state;
	assert_int_equal(xeargs_parse(&a, argv, N(argv), NULL, NULL), 0);
	assert_true(xeargs_file_permitted(&a, "/w/d", "/w/x/vm.xva", 0));
	assert_true(xeargs_file_permitted(&a, "/w/x", "vm.xva", 0));
	assert_false(xeargs_file_permitted(&a, "/w/d", "/etc/passwd", 0));
	assert_false(xeargs_file_permitted(&a, "/w/d", "/w/d", 0));
	assert_true(xeargs_file_permitted(&a, "/w/d", ".", 1));
	assert_false(xeargs_file_permitted(&a, "/w/d", " ", 0));
	xeargs_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_xeargs_defaults),
	    cmocka_unit_test(test_xeargs_switches),
	    cmocka_unit_test(test_xeargs_keyword_forms),
	    cmocka_unit_test(test_xeargs_priority),
	    cmocka_unit_test(test_xeargs_bad_rc),
	    cmocka_unit_test(test_xeargs_errors),
	    cmocka_unit_test(test_xeargs_version_help),
	    cmocka_unit_test(test_xeargs_password_file),
	    cmocka_unit_test(test_xeargs_canonicalize),
	    cmocka_unit_test(test_xeargs_permitted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
