/*
 * Fuzz target for the xe server's command-line parser (src/rpc/cli_args.c)
 * and the text helpers applied to what it yields (--minimal escaping, byte
 * sizes, record layout in src/rpc/cli_print.c and cli_setters.c).
 *
 * Input: the body of POST /cli. Looks for crashes, leaks and undefined
 * behaviour; checks that credentials never stay among the parameters and
 * that escaping only ever grows the text by the escaped characters.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_args.h"
#include "rpc/cli_gen.h"
#include "rpc/cli_print.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_table_rec rec = {0};
	struct buf b = BUF_INIT;
	struct cli_args a;
	struct cli_kv *kv;
	long long bytes;
	size_t n, special;

	cli_args_parse(&a, (const char *)data, size);
	if (!a.cmd)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		const char *v = a.kv[i].v;

		if (strcmp(a.kv[i].k, "username") == 0 ||
		    strcmp(a.kv[i].k, "password") == 0)
			abort();
		special = 0;
		for (const char *p = v; *p; p++)
			special += *p == ',' || *p == '\\';
		buf_reset(&b);
		buf_adds(&b, "");
		cli_escape_commas(&b, v);
		if (b.len != strlen(v) + special)
			abort();
		if (cli_parse_bytes(v, &bytes) == 0 && bytes < 0)
			abort();
		cli_rec_add(&rec, a.kv[i].k, v);
	}
	buf_reset(&b);
	cli_format_record(&b, &rec);
	n = cli_args_map(&a, "other-config", &kv);
	for (size_t i = 0; i < n; i++)
		if (!kv[i].k[0]) /* longer than "other-config:" */
			abort();
	free(kv);
	cli_rec_free(&rec);
	buf_free(&b);
	cli_args_free(&a);
	return 0;
}
