/* Unit tests for src/rpc/cli_print.c: xe's output layout, byte for byte
 * against the examples of reference/xenapi.md section 3.3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/cli_print.h"
#include "util/buf.h"

/* What a terminal shows: Print adds a newline (the client's
 * print_endline), PrintStderr is written as is; both interleaved in one
 * transcript, stderr lines marked with "E:" at each message start. */
struct sink {
	struct buf out;
	struct buf err;
	int nprint;
};

static int
sink_print(void *arg, const char *text)
{
	struct sink *s = arg;

	buf_adds(&s->out, text);
	buf_addc(&s->out, '\n');
	s->nprint++;
	return 0;
}

static int
sink_printerr(void *arg, const char *text)
{
	struct sink *s = arg;

	buf_adds(&s->err, text);
	return 0;
}

static void
sink_init(struct sink *s, struct cli_out *o, bool minimal)
{
	memset(s, 0, sizeof(*s));
	buf_adds(&s->out, "");
	buf_adds(&s->err, "");
	cli_out_init(o, sink_print, sink_printerr, s, minimal);
}

static void
sink_free(struct sink *s, struct cli_out *o)
{
	cli_out_free(o);
	buf_free(&s->out);
	buf_free(&s->err);
}

static void
test_cli_print_vm_list(void **state)
{
	struct cli_table_rec r[2] = {{0}};
	struct cli_out o;
	struct sink s;

	(void)state;
	cli_rec_add(&r[0], "uuid ( RO)", "0c8a7c1e-3d6f-4a5b-9b2e-6f1d2c3b4a59");
	cli_rec_add(&r[0], "name-label ( RW)", "Control domain on host: xs1");
	cli_rec_add(&r[0], "power-state ( RO)", "running");
	cli_rec_add(&r[1], "uuid ( RO)", "5f0d9e2a-1111-2222-3333-444455556666");
	cli_rec_add(&r[1], "name-label ( RW)", "web01");
	cli_rec_add(&r[1], "power-state ( RO)", "halted");
	sink_init(&s, &o, false);
	cli_out_table(&o, r, 2);
	cli_out_flush(&o);
	assert_string_equal(s.out.data,
			    "uuid ( RO)           : "
			    "0c8a7c1e-3d6f-4a5b-9b2e-6f1d2c3b4a59\n"
			    "     name-label ( RW): Control domain on host: xs1\n"
			    "    power-state ( RO): running\n"
			    "\n"
			    "\n"
			    "uuid ( RO)           : "
			    "5f0d9e2a-1111-2222-3333-444455556666\n"
			    "     name-label ( RW): web01\n"
			    "    power-state ( RO): halted\n"
			    "\n"
			    "\n");
	/* one Print per record */
	assert_int_equal(s.nprint, 2);
	assert_string_equal(s.err.data, "");
	sink_free(&s, &o);
	cli_rec_free(&r[0]);
	cli_rec_free(&r[1]);
}

static void
test_cli_print_host_list(void **state)
{
	struct cli_table_rec r = {0};
	struct buf b = BUF_INIT;

	(void)state;
	cli_rec_add(&r, "uuid ( RO)", "8d1b");
	cli_rec_add(&r, "name-label ( RW)", "xs1");
	cli_rec_add(&r, "name-description ( RW)", "Default install");
	cli_format_record(&b, &r);
	/* longest key 22 characters: w = 26 */
	assert_string_equal(b.data, "uuid ( RO)                : 8d1b\n"
				    "          name-label ( RW): xs1\n"
				    "    name-description ( RW): Default install\n");
	buf_free(&b);
	cli_rec_free(&r);
}

static void
test_cli_print_single_and_empty(void **state)
{
	struct cli_table_rec r = {0};
	struct buf b = BUF_INIT;

	(void)state;
	cli_rec_add(&r, "name-label ( RW)", "web01");
	cli_format_record(&b, &r);
	assert_string_equal(b.data, "name-label ( RW)    : web01\n");
	buf_free(&b);
	cli_rec_free(&r);
	/* a record without fields is one empty line */
	cli_format_record(&b, &r);
	assert_string_equal(b.data, "\n");
	buf_free(&b);
}

static void
test_cli_print_minimal(void **state)
{
	struct cli_table_rec r[3] = {{0}};
	struct cli_out o;
	struct sink s;

	(void)state;
	cli_rec_add(&r[0], "uuid ( RO)", "a,b");
	cli_rec_add(&r[0], "name-label ( RW)", "ignored");
	cli_rec_add(&r[1], "uuid ( RO)", "c\\d");
	cli_rec_add(&r[2], "uuid ( RO)", "e");
	sink_init(&s, &o, true);
	cli_out_table(&o, r, 3);
	cli_out_msg(&o, "dropped");
	cli_out_stderr(&o, "dropped too");
	assert_int_equal(s.nprint, 0);
	cli_out_flush(&o);
	assert_string_equal(s.out.data, "a\\,b,c\\\\d,e\n");
	assert_string_equal(s.err.data, "");
	sink_free(&s, &o);
	for (int i = 0; i < 3; i++)
		cli_rec_free(&r[i]);
}

static void
test_cli_print_minimal_empty(void **state)
{
	struct cli_out o;
	struct sink s;

	(void)state;
	/* no rows: an empty line (scripts rely on it) */
	sink_init(&s, &o, true);
	cli_out_table(&o, NULL, 0);
	cli_out_flush(&o);
	assert_string_equal(s.out.data, "\n");
	assert_int_equal(s.nprint, 1);
	sink_free(&s, &o);
}

static void
test_cli_print_minimal_chunks(void **state)
{
	static const char *const l1[] = {"x1", "x,2"};
	static const char *const l2[] = {"y"};
	struct cli_out o;
	struct sink s;

	(void)state;
	/* each call is one chunk; xapi prints the latest first */
	sink_init(&s, &o, true);
	cli_out_list(&o, l1, 2);
	cli_out_list(&o, l2, 1);
	cli_out_flush(&o);
	assert_string_equal(s.out.data, "y,x1,x\\,2\n");
	sink_free(&s, &o);
}

static void
test_cli_print_lists(void **state)
{
	static const char *const l[] = {"one", "two"};
	struct cli_out o;
	struct sink s;

	(void)state;
	sink_init(&s, &o, false);
	cli_out_list(&o, l, 2);
	cli_out_msg(&o, "msg");
	cli_out_stderr(&o, "warn");
	cli_out_err(&o, "raw\n");
	cli_out_apierr(&o, "SOME_CODE", l, 2);
	cli_out_flush(&o);
	assert_string_equal(s.out.data, "one\ntwo\nmsg\n");
	assert_string_equal(s.err.data, "warn\nraw\nError code: SOME_CODE\n"
					"Error parameters: one, two\n");
	sink_free(&s, &o);
}

static void
test_cli_print_escape(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	cli_escape_commas(&b, "a,b\\c,,");
	assert_string_equal(b.data, "a\\,b\\\\c\\,\\,");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_print_vm_list),
		cmocka_unit_test(test_cli_print_host_list),
		cmocka_unit_test(test_cli_print_single_and_empty),
		cmocka_unit_test(test_cli_print_minimal),
		cmocka_unit_test(test_cli_print_minimal_empty),
		cmocka_unit_test(test_cli_print_minimal_chunks),
		cmocka_unit_test(test_cli_print_lists),
		cmocka_unit_test(test_cli_print_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
