/* Unit tests for how the xe server reports failures (src/rpc/cli_ctx.c
 * cli_report, as xapi_cli.ml / cli_util.ml print them) and for `xe help`
 * (src/rpc/cli_help.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/cli_cmd.h"
#include "util/xalloc.h"

#define U_VM "11111111-1111-1111-1111-111111111111"
#define U_SES "77777777-7777-7777-7777-777777777777"

struct env {
	struct buf out, err;
	struct cli_out o;
	struct cli_args args;
	struct cli_ctx ctx;
};

static int
env_print(void *arg, const char *text)
{
	struct env *e = arg;

	buf_adds(&e->out, text);
	buf_addc(&e->out, '\n');
	return 0;
}

static int
env_printerr(void *arg, const char *text)
{
	struct env *e = arg;

	buf_adds(&e->err, text);
	return 0;
}

static int
setup(void **state)
{
	struct env *e = xcalloc(1, sizeof(*e));
	char *err = NULL;
	struct db_txn *t;
	struct db_row *r;

	if (db_open(NULL, &err) < 0)
		return -1;
	t = db_txn_begin();
	r = db_txn_create(t, DMC_VM, "OpaqueRef:vm", U_VM);
	db_txn_set(t, r, DMF_VM_name_label,
		   (union dm_val){.s = xstrdup("web01")});
	db_txn_create(t, DMC_session, "OpaqueRef:ses", U_SES);
	if (db_txn_commit(t, &err) < 0)
		return -1;
	buf_adds(&e->out, "");
	buf_adds(&e->err, "");
	cli_out_init(&e->o, env_print, env_printerr, e, false);
	e->ctx.out = &e->o;
	e->ctx.args = &e->args;
	*state = e;
	return 0;
}

static int
teardown(void **state)
{
	struct env *e = *state;

	cli_fail_clear(&e->ctx);
	cli_out_free(&e->o);
	cli_args_free(&e->args);
	buf_free(&e->out);
	buf_free(&e->err);
	free(e);
	db_close();
	return 0;
}

/* Reports the failure and checks the exit code and stderr text. */
static void
check(struct env *e, int code, const char *err)
{
	assert_int_equal(cli_report(&e->ctx), code);
	assert_string_equal(e->err.data, err);
	assert_string_equal(e->out.data, "");
}

static void
test_cli_report_api(void **state)
{
	struct env *e = *state;
	char *want;

	cli_fail_api(&e->ctx, api_error(XE_VM_BAD_POWER_STATE, "OpaqueRef:vm",
					"halted", "running", NULL));
	want = xasprintf("%s\nvm: " U_VM " (web01)\nexpected: halted\n"
			 "actual: running\n",
			 xerr_doc_by_code("VM_BAD_POWER_STATE"));
	check(e, 1, want);
	free(want);
}

static void
test_cli_report_api_counts(void **state)
{
	struct env *e = *state;
	char *want;

	/* a ref of a class without name-label shows just the uuid; a
	 * missing value is <unknown>, a surplus one <extra> */
	cli_fail_api(&e->ctx, api_error(XE_UUID_INVALID, "OpaqueRef:ses",
					NULL));
	want = xasprintf("%s\ntype: " U_SES "\nuuid: <unknown>\n",
			 xerr_doc_by_code("UUID_INVALID"));
	check(e, 1, want);
	free(want);
	buf_reset(&e->err);
	cli_fail_api(&e->ctx, api_error(XE_OPERATION_NOT_ALLOWED, "why",
					"more", NULL));
	want = xasprintf("%s\nreason: why\n<extra>: more\n",
			 xerr_doc_by_code("OPERATION_NOT_ALLOWED"));
	check(e, 1, want);
	free(want);
}

static void
test_cli_report_unknown_code(void **state)
{
	struct env *e = *state;
	const char *p[] = {"a", "OpaqueRef:vm"};

	cli_fail_api(&e->ctx, api_error_raw("Missing parameter", p, 2));
	check(e, 1, "Error code: Missing parameter\n"
		    "Error parameters: a, " U_VM " (web01)\n");
}

static void
test_cli_report_auth(void **state)
{
	struct env *e = *state;

	cli_fail_api(&e->ctx, api_error(XE_SESSION_AUTHENTICATION_FAILED, "",
					"no", NULL));
	check(e, 1, "Username/password must be specified\n"
		    "For usage run: 'xe help'\n");
	buf_reset(&e->err);
	cli_fail_api(&e->ctx, api_error(XE_SESSION_AUTHENTICATION_FAILED,
					"root", "bad", NULL));
	check(e, 1, "Authentication failed\nFor usage run: 'xe help'\n");
}

static void
test_cli_report_cli(void **state)
{
	struct env *e = *state;

	cli_fail(&e->ctx, "No matching VMs found");
	check(e, 1, "Error: No matching VMs found\n");
	buf_reset(&e->err);
	cli_fail_kind(&e->ctx, CLI_E_UNKNOWN, "foo");
	check(e, 1, "Unknown command: foo\nFor usage run: 'xe help'\n");
	buf_reset(&e->err);
	cli_fail_kind(&e->ctx, CLI_E_PARAM, "uuid");
	check(e, 1, "Required parameter not found: uuid\n"
		    "For usage run: 'xe help'\n");
	buf_reset(&e->err);
	cli_fail_kind(&e->ctx, CLI_E_SYNTAX, "");
	check(e, 1, "Syntax error: \nFor usage run: 'xe help'\n");
	buf_reset(&e->err);
	cli_fail_failure(&e->ctx, "Int64.of_string");
	assert_int_equal(cli_report(&e->ctx), 1);
	assert_non_null(strstr(e->err.data, "\nmessage: Failure: "
					    "Int64.of_string\n"));
	buf_reset(&e->err);
	cli_fail_clear(&e->ctx);
	check(e, 0, "");
}

static void
test_cli_report_help(void **state)
{
	struct env *e = *state;
	static const char body[] = "help\nvm-destroy\nnosuch";

	assert_int_equal(cli_args_parse(&e->args, body, strlen(body)), 0);
	assert_int_equal(cli_help(&e->ctx), 0);
	assert_string_equal(e->out.data,
			    "command name            : vm-destroy\n"
			    "        reqd params     : uuid\n"
			    "        optional params : \n"
			    "        description     : Destroy a VM. This leaves "
			    "the storage associated with the VM intact. To "
			    "delete storage too, use vm-uninstall.\n"
			    "\n\n"
			    "Unknown command 'nosuch'\n");
}

static void
test_cli_report_help_common(void **state)
{
	struct env *e = *state;
	static const char body[] = "help";
	const char *list;

	assert_int_equal(cli_args_parse(&e->args, body, strlen(body)), 0);
	assert_int_equal(cli_help(&e->ctx), 0);
	assert_true(strncmp(e->out.data, "Usage:\n  xe <command>\n", 22) == 0);
	list = strstr(e->out.data, "Common command list\n"
				   "-------------------\n\n");
	assert_non_null(list);
	assert_non_null(
	    strstr(list, "    host-disable, host-enable, network-list, "
	                 "snapshot-revert\n"
	                 "    snapshot-uninstall, sr-list, vm-cd-list, "
	                 "vm-checkpoint, vm-clone\n"
	                 "    vm-copy, vm-disk-list, vm-export, vm-import, "
	                 "vm-install, vm-list\n"
	                 "    vm-migrate, vm-pause, vm-reboot, "
	                 "vm-reset-powerstate, vm-resume\n"
	                 "    vm-shutdown, vm-snapshot, vm-start, vm-suspend, "
	                 "vm-uninstall, vm-unpause\n"
	                 "    vm-vif-list, zz-test\n"));
}

/* Fails differently per ref: an API error, a CLI failure, success. */
static int
multi_op(struct cli_ctx *ctx, const char *ref, void *arg)
{
	int *calls = arg;

	(*calls)++;
	if (strcmp(ref, "OpaqueRef:vm") == 0)
		return cli_fail_api(ctx, api_error(XE_VM_BAD_POWER_STATE, ref,
						   "halted", "running", NULL));
	if (strcmp(ref, "OpaqueRef:ses") == 0)
		return cli_fail(ctx, "boom");
	return 0;
}

static void
test_cli_report_multiple(void **state)
{
	struct env *e = *state;
	char *refs[] = {"OpaqueRef:vm", "OpaqueRef:ses", "OpaqueRef:other"};
	char *want;
	int calls = 0;

	assert_int_equal(cli_do_multiple(&e->ctx, refs, 3, multi_op, &calls),
			 -1);
	assert_int_equal(calls, 3);
	want = xasprintf("operation failed on " U_SES ": INTERNAL_ERROR: [ "
			 "Cli_util.Cli_failure(\"boom\") ]\n"
			 "operation failed on " U_VM ": %s\nvm: " U_VM
			 " (web01)\nexpected: halted\nactual: running\n",
			 xerr_doc_by_code("VM_BAD_POWER_STATE"));
	assert_string_equal(e->out.data, want);
	free(want);
	assert_int_equal(cli_report(&e->ctx), 1);
	assert_string_equal(e->err.data, "");
	/* one ref: its failure is the command's */
	cli_fail_clear(&e->ctx);
	assert_int_equal(cli_do_multiple(&e->ctx, refs + 1, 1, multi_op,
					 &calls),
			 -1);
	assert_int_equal(e->ctx.ekind, CLI_E_FAIL);
	assert_int_equal(cli_do_multiple(&e->ctx, refs + 2, 1, multi_op,
					 &calls),
			 0);
}

static int
test_cmd_fn(struct cli_ctx *ctx)
{
	(void)ctx;
	return 0;
}

/* Registered before the table is built: a new command, and one whose name
 * is taken (ignored: test_cli_report_help sees the original). */
static const struct cli_cmd test_cmds[] = {
	{"zz-test", NULL, NULL, "A test command.", test_cmd_fn,
	 CLI_CMD_STANDARD, NULL},
	{"vm-destroy", NULL, NULL, "Not the real one.", test_cmd_fn, 0, NULL},
};

static void
test_cli_report_registered(void **state)
{
	const struct cli_cmd *c = cli_cmd_find("zz-test");

	(void)state;
	assert_non_null(c);
	assert_ptr_equal(c->fn, test_cmd_fn);
	assert_string_not_equal(cli_cmd_find("vm-destroy")->help,
				"Not the real one.");
}

int
main(void)
{
	cli_cmd_register(test_cmds, 2);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cli_report_api, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli_report_api_counts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_report_unknown_code,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cli_report_auth, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli_report_cli, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli_report_help, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cli_report_help_common,
						setup, teardown),
		cmocka_unit_test(test_cli_report_registered),
		cmocka_unit_test_setup_teardown(test_cli_report_multiple, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
