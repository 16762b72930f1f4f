/* Unit tests for src/rpc/cli_args.c: the xe server's command-line parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/cli_args.h"

/* Parses a C string body; returns the parser's result. */
static int
parse(struct cli_args *a, const char *body)
{
	return cli_args_parse(a, body, strlen(body));
}

static void
test_cli_args_basic(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(parse(&a, "vm-list\nparams=uuid,name-label\n"
				   "name-label=a=b\nflag\n--minimal"),
			 0);
	assert_string_equal(a.cmd, "vm-list");
	assert_int_equal(a.n, 4);
	assert_string_equal(a.kv[0].k, "params");
	assert_string_equal(a.kv[0].v, "uuid,name-label");
	/* split at the first '=' only */
	assert_string_equal(a.kv[1].k, "name-label");
	assert_string_equal(a.kv[1].v, "a=b");
	/* a bare word is (word, "") */
	assert_string_equal(a.kv[2].k, "flag");
	assert_string_equal(a.kv[2].v, "");
	/* --flag is flag=true */
	assert_string_equal(a.kv[3].k, "minimal");
	assert_string_equal(a.kv[3].v, "true");
	assert_string_equal(cli_args_get(&a, "minimal"), "true");
	assert_null(cli_args_get(&a, "nope"));
	assert_null(a.username);
	cli_args_free(&a);
}

static void
test_cli_args_credentials(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(parse(&a, "vm-list\r\nuuid=x\r\nusername=root\r\n"
				   "password=s3cret"),
			 0);
	assert_string_equal(a.cmd, "vm-list");
	/* credentials leave the parameter list */
	assert_int_equal(a.n, 1);
	assert_string_equal(a.kv[0].k, "uuid");
	assert_string_equal(a.kv[0].v, "x"); /* "\r" dropped */
	assert_string_equal(a.username, "root");
	assert_string_equal(a.password, "s3cret");
	assert_false(cli_args_has(&a, "password"));
	cli_args_free(&a);
	/* the two-word switches */
	assert_int_equal(parse(&a, "host-list\n-u\nadmin\n-pw\npw\n-s\nh\n"
				   "-p\n443"),
			 0);
	assert_string_equal(a.username, "admin");
	assert_string_equal(a.password, "pw");
	assert_string_equal(cli_args_get(&a, "server"), "h");
	assert_string_equal(cli_args_get(&a, "port"), "443");
	cli_args_free(&a);
}

static void
test_cli_args_errors(void **state)
{
	struct cli_args a;

	(void)state;
	/* command name missing */
	assert_int_equal(parse(&a, "uuid=1"), -1);
	cli_args_free(&a);
	/* unknown switch, switch without value */
	assert_int_equal(parse(&a, "vm-list\n-x\ny"), -1);
	cli_args_free(&a);
	assert_int_equal(parse(&a, "vm-list\n-u"), -1);
	cli_args_free(&a);
	/* an empty body is the empty command (Unknown command later) */
	assert_int_equal(parse(&a, ""), 0);
	assert_string_equal(a.cmd, "");
	cli_args_free(&a);
}

static void
test_cli_args_session(void **state)
{
	struct cli_args a;

	(void)state;
	assert_int_equal(parse(&a, "session_id=OpaqueRef:abc\nvm-list\n"), 0);
	assert_string_equal(a.session, "OpaqueRef:abc");
	assert_string_equal(a.cmd, "vm-list");
	/* a trailing newline does not make an empty parameter */
	assert_int_equal(a.n, 0);
	cli_args_free(&a);
}

static void
test_cli_args_map(void **state)
{
	struct cli_args a;
	struct cli_kv *kv;
	size_t n;

	(void)state;
	assert_int_equal(parse(&a, "vdi-create\nsm-config:a=1\nsm-config:=x\n"
				   "sm-config-b=2\ntags:t1\nother=3"),
			 0);
	n = cli_args_map(&a, "sm-config", &kv);
	assert_int_equal(n, 2);
	assert_string_equal(kv[0].k, "a");
	assert_string_equal(kv[0].v, "1");
	assert_string_equal(kv[1].k, "b"); /* legacy name-key form */
	assert_string_equal(kv[1].v, "2");
	free(kv);
	n = cli_args_map(&a, "tags", &kv);
	assert_int_equal(n, 1);
	assert_string_equal(kv[0].k, "t1");
	free(kv);
	cli_args_free(&a);
}

static void
test_cli_args_bool_std(void **state)
{
	bool b;

	(void)state;
	assert_int_equal(cli_parse_bool("TRUE", &b), 0);
	assert_true(b);
	assert_int_equal(cli_parse_bool("y", &b), 0);
	assert_true(b);
	assert_int_equal(cli_parse_bool("0", &b), 0);
	assert_false(b);
	assert_int_equal(cli_parse_bool("No", &b), 0);
	assert_false(b);
	assert_int_equal(cli_parse_bool("maybe", &b), -1);
	assert_true(cli_args_is_std("minimal"));
	assert_true(cli_args_is_std("message-priority"));
	assert_false(cli_args_is_std("params"));
	assert_false(cli_args_is_std("uuid"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_args_basic),
		cmocka_unit_test(test_cli_args_credentials),
		cmocka_unit_test(test_cli_args_errors),
		cmocka_unit_test(test_cli_args_session),
		cmocka_unit_test(test_cli_args_map),
		cmocka_unit_test(test_cli_args_bool_std),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
