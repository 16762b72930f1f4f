/*
 * libFuzzer target for the XML database dump (src/db/dump.c): the input is
 * parsed as a dump. Whatever parses must survive a round trip: every value
 * written back with dmv_dump_text parses to an equal value, and the rows,
 * put into the store and dumped again, read back to the same rows.
 * Crashes, sanitizer reports, leaks and aborts are the findings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/dump.h"
#include "db/store.h"
#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every field of r survives dmv_dump_text -> dmv_dump_parse. */
static void
fuzz_dump_values(const struct db_row *r)
{
	const struct dm_class *k = &dm_classes[r->cls];
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < k->nfields; i++) {
		const struct dm_type *t = k->fields[i].type;
		union dm_val v;
		if (t->kind == DMK_RECORD)
			continue;
		buf_reset(&b);
		dmv_dump_text(&b, t, r->f[i]);
		if (dmv_dump_parse(t, b.data ? b.data : "", &v) < 0 ||
		    !dmv_equal(t, v, r->f[i]))
			abort();
		dmv_free(t, &v);
	}
	buf_free(&b);
}

/* rows -> store -> dump -> rows again, compared with the store. */
static void
fuzz_dump_store(struct db_row **rows, size_t n)
{
	static bool opened;
	char *err = NULL;
	struct api_err *e = NULL;
	struct db_row **again;
	size_t len, n2;
	uint64_t gen;

	if (!opened) {
		if (db_open(NULL, &err) < 0)
			abort();
		opened = true;
	}
	if (db_replace_all(rows, n, 1, &err) < 0)
		abort();
	char *doc = dump_write(&len);
	if (dump_read(doc, len, &again, &n2, &gen, &e) < 0 || n2 != n)
		abort();
	db_rdlock();
	for (size_t i = 0; i < n2; i++) {
		const struct db_row *a = again[i];
		const struct db_row *s = db_get(a->cls, a->ref);
		const struct dm_class *k = &dm_classes[a->cls];
		if (!s || s->ctime != a->ctime || s->mtime != a->mtime)
			abort();
		for (size_t f = 0; f < k->nfields; f++)
			if (!dmv_equal(k->fields[f].type, a->f[f], s->f[f]))
				abort();
	}
	db_unlock();
	dump_rows_free(again, n2);
	free(doc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct db_row **rows;
	struct api_err *err = NULL;
	size_t n;
	uint64_t gen;

	log_set_level(LOG_ERR);
	if (dump_read((const char *)data, size, &rows, &n, &gen, &err) < 0) {
		if (!err || rows || n)
			abort();
		api_err_free(err);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		fuzz_dump_values(rows[i]);
	fuzz_dump_store(rows, n); /* the store takes the rows */
	dump_rows_free(rows, n);
	return 0;
}
