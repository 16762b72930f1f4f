/* Unit tests for src/db/dump.c (xapi's XML database dump) and the dump
 * encoding of values in src/db/dmval.c. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/dump.h"
#include "db/store.h"
#include "util/log.h"

#define STR(x) STR_(x)
#define STR_(x) #x
#define HEAD                                                                   \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<database><manifest>"     \
	"<pair key=\"schema_major_vsn\" value=\"" STR(DM_SCHEMA_MAJOR) "\"/>"  \
	"<pair key=\"schema_minor_vsn\" value=\"" STR(DM_SCHEMA_MINOR) "\"/>"

static int
setup(void **state)
{
	char *err = NULL;
	(void)state;
	log_set_level(LOG_ERR);
	assert_int_equal(db_open(NULL, &err), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	db_close();
	return 0;
}

static union dm_val
s_(const char *s)
{
	return (union dm_val){.s = strdup(s)};
}

/* A map or set from NULL-terminated strings (pairs for a map). */
static union dm_val
coll(int map, ...)
{
	const char *v[32];
	size_t n = 0;
	va_list ap;
	va_start(ap, map);
	while ((v[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	struct dm_coll *c = dmc_new(map ? n / 2 : n);
	for (size_t i = 0; i < n; i++)
		c->v[i].s = strdup(v[i]);
	return (union dm_val){.c = c};
}

static void
commit(struct db_txn *t)
{
	char *err = NULL;
	assert_int_equal(db_txn_commit(t, &err), 0);
}

/* The text between the first occurrence of from and the next of to
 * (inclusive), malloc'd; fails the test if absent. */
static char *
slice(const char *doc, const char *from, const char *to)
{
	const char *a = strstr(doc, from);
	assert_non_null(a);
	const char *b = strstr(a, to);
	assert_non_null(b);
	return strndup(a, (size_t)(b - a) + strlen(to));
}

static void
test_dump_secret_exact(void **state)
{
	(void)state;
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_secret, "OpaqueRef:s1", "u-1");
	db_txn_set(t, r, DMF_secret_value, s_("x y<&>\"'\t\n\r%"));
	db_txn_set(t, r, DMF_secret_other_config,
		   coll(1, "a b", "c'd\\e", NULL));
	commit(t);

	size_t len;
	char *doc = dump_write(&len);
	assert_int_equal(len, strlen(doc));
	char *tbl = slice(doc, "<table name=\"secret\"", "</table>");
	assert_string_equal(
		tbl, "<table name=\"secret\"><row ref=\"OpaqueRef:s1\" "
		     "__ctime=\"1\" __mtime=\"1\" _ref=\"OpaqueRef:s1\" "
		     "other_config=\"(('a%.b'%.'c\\'d\\\\e'))\" uuid=\"u-1\" "
		     "value=\"x%.y&lt;&amp;&gt;&quot;'%t%n%r%%\"/></table>");
	free(tbl);
	free(doc);
}

/* Attribute names of the first <row in s, checked in strictly increasing
 * byte order after ref, __ctime, __mtime; returns how many. */
static size_t
check_row_order(const char *s)
{
	const char *p = strstr(s, "<row ");
	char prev[128] = "", name[128];
	size_t n = 0;
	assert_non_null(p);
	p += 5;
	while (*p != '/' && *p != '>') {
		const char *eq = strchr(p, '=');
		assert_non_null(eq);
		assert_true((size_t)(eq - p) < sizeof(name));
		memcpy(name, p, (size_t)(eq - p));
		name[eq - p] = '\0';
		if (n == 0)
			assert_string_equal(name, "ref");
		else if (n == 1)
			assert_string_equal(name, "__ctime");
		else if (n == 2)
			assert_string_equal(name, "__mtime");
		else if (n > 3 && strcmp(prev, name) >= 0)
			fail_msg("attribute %s after %s", name, prev);
		strcpy(prev, name);
		n++;
		p = strchr(eq + 2, '"') + 1;
		if (*p == ' ')
			p++;
	}
	return n;
}

static void
test_dump_vm_exact(void **state)
{
	(void)state;
	struct db_txn *t = db_txn_begin();
	struct db_row *vm = db_txn_create(t, DMC_VM, "OpaqueRef:vm1", "v-1");
	db_txn_set(t, vm, DMF_VM_name_label, s_("web 01 \"q\" <&>"));
	db_txn_set(t, vm, DMF_VM_other_config,
		   coll(1, "k'1", "v\\1 \"x\"", "k2", "", NULL));
	db_txn_set(t, vm, DMF_VM_tags, coll(0, "a b", "it's", NULL));
	db_txn_set(t, vm, DMF_VM_power_state, s_("Running"));
	db_txn_set(t, vm, DMF_VM_memory_static_max,
		   (union dm_val){.i = 4294967296});
	db_txn_set(t, vm, DMF_VM_HVM_shadow_multiplier, (union dm_val){.f = 1.5});
	db_txn_set(t, vm, DMF_VM_snapshot_time, (union dm_val){.i = 86400 + 61});
	db_txn_create(t, DMC_session, "OpaqueRef:sess", NULL);
	commit(t);

	char *doc = dump_write(NULL);
	assert_memory_equal(doc, HEAD, strlen(HEAD));
	assert_non_null(strstr(doc, "<pair key=\"generation_count\" value=\"1\"/>"
				    "</manifest><table name=\"Bond\"/>"));
	assert_string_equal(doc + strlen(doc) - 11, "</database>");
	assert_null(strchr(strchr(doc, '\n') + 1, '\n'));
	/* every table, in byte order; session without its row */
	size_t ntab = 0, want = 0;
	char prev[64] = "";
	for (const char *p = doc; (p = strstr(p, "<table name=\"")); ntab++) {
		p += 13;
		char name[64];
		size_t l = strcspn(p, "\"");
		memcpy(name, p, l);
		name[l] = '\0';
		assert_true(strcmp(prev, name) < 0);
		strcpy(prev, name);
	}
	for (int c = 0; c < DMC__COUNT; c++)
		want += !!(dm_classes[c].flags & DMCF_TABLE);
	assert_int_equal(ntab, want);
	assert_non_null(strstr(doc, "<table name=\"session\"/>"));
	assert_non_null(strstr(doc, "<table name=\"task\"/>"));

	char *row = slice(doc, "<table name=\"VM\">", "</table>");
	const char *pre = "<table name=\"VM\"><row ref=\"OpaqueRef:vm1\" "
			  "__ctime=\"1\" __mtime=\"1\" ";
	assert_memory_equal(row, pre, strlen(pre));
	const char *want_attrs[] = {
		" name__label=\"web%.01%.&quot;q&quot;%.&lt;&amp;&gt;\"",
		" other_config=\"(('k\\'1'%.'v\\\\1%.&quot;x&quot;')%.('k2'%.''))\"",
		" tags=\"('a%.b'%.'it\\'s')\"",
		" power_state=\"Running\"",
		" memory__static_max=\"4294967296\"",
		" snapshot_time=\"19700102T00:01:01Z\"",
		" _ref=\"OpaqueRef:vm1\"",
		" uuid=\"v-1\"",
		" is_a_template=\"false\"",
		" blocked_operations=\"()\"",
		" affinity=\"OpaqueRef:NULL\"",
	};
	for (size_t i = 0; i < sizeof(want_attrs) / sizeof(*want_attrs); i++)
		if (!strstr(row, want_attrs[i]))
			fail_msg("missing %s in %s", want_attrs[i], row);
	/* xapi writes HVM__shadow_multiplier (namespace HVM); the column name
	 * is the datamodel's db_name, whatever the generator made of it */
	char hvm[96];
	snprintf(hvm, sizeof(hvm), " %s=\"1.5\"",
		 dm_classes[DMC_VM].fields[DMF_VM_HVM_shadow_multiplier].db_name);
	assert_non_null(strstr(row, hvm));
	size_t nattr = check_row_order(row);
	size_t nf = 0;
	for (size_t i = 0; i < dm_classes[DMC_VM].nfields; i++)
		nf += dm_classes[DMC_VM].fields[i].type->kind != DMK_RECORD;
	assert_int_equal(nattr, 3 + 1 + nf);
	free(row);
	free(doc);
}

/* Compares every field of every row in rows with the store. */
static void
compare_with_store(struct db_row **rows, size_t n)
{
	size_t want = 0;
	db_rdlock();
	for (int c = 0; c < DMC__COUNT; c++)
		if (dm_classes[c].flags & DMCF_PERSISTENT)
			want += db_count(c);
	assert_int_equal(n, want);
	for (size_t i = 0; i < n; i++) {
		const struct db_row *a = rows[i];
		const struct db_row *b = db_get(a->cls, a->ref);
		const struct dm_class *k = &dm_classes[a->cls];
		assert_non_null(b);
		assert_true(a->ctime == b->ctime);
		assert_true(a->mtime == b->mtime);
		for (size_t f = 0; f < k->nfields; f++)
			if (!dmv_equal(k->fields[f].type, a->f[f], b->f[f]))
				fail_msg("%s %s: field %s differs", k->name,
					 a->ref, k->fields[f].name);
	}
	db_unlock();
}

/* A random value of type t: printable ASCII, TAB/LF/CR, quotes,
 * backslashes, %, and multi-byte UTF-8 in strings. */
static union dm_val
rnd_val(const struct dm_type *t, unsigned *seed)
{
	static const char *const pool[] = {" ", "  ", "%", "%_", "%.", "'",
					   "\"", "\\", "<", "&", ">", "\t", "\n",
					   "\r", "a", "Z", "(", ")", ";", "é",
					   "€", "😀", "OpaqueRef:x", "0"};
	union dm_val v = {0};
	while (t->kind == DMK_OPTION)
		t = t->a;
	switch (t->kind) {
	case DMK_INT:
		v.i = (int64_t)rand_r(seed) * (rand_r(seed) % 2 ? 1 : -1) *
		      (int64_t)rand_r(seed);
		return v;
	case DMK_FLOAT:
		v.f = (double)rand_r(seed) / ((double)rand_r(seed) + 1) *
		      (rand_r(seed) % 2 ? 1e-300 : 1e300);
		return v;
	case DMK_BOOL:
		v.b = rand_r(seed) % 2;
		return v;
	case DMK_DATETIME:
		v.i = (int64_t)(rand_r(seed) % 253402300799LL);
		return v;
	case DMK_ENUM:
		v.s = strdup(t->en->values[(size_t)rand_r(seed) % t->en->n]);
		return v;
	case DMK_SET:
	case DMK_MAP: {
		size_t n = (size_t)rand_r(seed) % 4;
		if (!n)
			return v;
		v.c = dmc_new(n);
		for (size_t i = 0; i < n; i++) {
			if (t->kind == DMK_MAP) {
				v.c->v[2 * i] = rnd_val(t->a, seed);
				v.c->v[2 * i + 1] = rnd_val(t->b, seed);
			} else {
				v.c->v[i] = rnd_val(t->a, seed);
			}
		}
		return v;
	}
	default: {
		char buf[256] = "";
		size_t n = (size_t)rand_r(seed) % 8;
		for (size_t i = 0; i < n; i++)
			strcat(buf, pool[(size_t)rand_r(seed) %
					 (sizeof(pool) / sizeof(*pool))]);
		v.s = strdup(buf);
		return v;
	}
	}
}

/* Fills the store with nrows random rows of every persistent table. */
static void
fill_random(unsigned seed, size_t nrows)
{
	struct db_row **rows = NULL;
	size_t n = 0;
	char *err = NULL;
	for (int c = 0; c < DMC__COUNT; c++) {
		const struct dm_class *k = &dm_classes[c];
		if (!(k->flags & DMCF_TABLE))
			continue;
		for (size_t j = 0; j < nrows; j++) {
			struct db_row *r = db_row_new(c, NULL, NULL);
			for (size_t f = 0; f < k->nfields; f++) {
				if ((int)f == k->f_uuid ||
				    k->fields[f].type->kind == DMK_RECORD)
					continue;
				dmv_free(k->fields[f].type, &r->f[f]);
				r->f[f] = rnd_val(k->fields[f].type, &seed);
			}
			r->ctime = (uint64_t)rand_r(&seed);
			r->mtime = (uint64_t)rand_r(&seed);
			rows = realloc(rows, (n + 1) * sizeof(*rows));
			rows[n++] = r;
		}
	}
	assert_int_equal(db_replace_all(rows, n, 77, &err), 0);
	free(rows);
}

static void
test_dump_roundtrip(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 5; seed++) {
		fill_random(seed, 3);
		size_t len, n;
		uint64_t gen;
		struct api_err *e = NULL;
		struct db_row **rows;
		char *doc = dump_write(&len);
		assert_int_equal(dump_read(doc, len, &rows, &n, &gen, &e), 0);
		assert_true(gen == db_generation());
		compare_with_store(rows, n);
		dump_rows_free(rows, n);

		/* restore it: the same database again, a later generation */
		uint64_t before = db_generation();
		assert_int_equal(dump_restore(doc, len, false, &e), 0);
		assert_true(db_generation() > before);
		char *doc2 = dump_write(NULL);
		char *a = strstr(doc, "</manifest>"), *b = strstr(doc2, "</manifest>");
		assert_string_equal(a, b);
		free(doc2);
		free(doc);
	}
}

/* A dump with our schema around the given tables. */
static char *
mkdump(const char *gen, const char *tables)
{
	char *s;
	assert_true(asprintf(&s, HEAD "<pair key=\"generation_count\" "
				  "value=\"%s\"/></manifest>%s</database>",
			     gen, tables) > 0);
	return s;
}

static void
test_dump_legacy_and_defaults(void **state)
{
	(void)state;
	char *doc = mkdump(
		"42",
		"<table name=\"Nonsense\"><row ref=\"OpaqueRef:z\"/></table>"
		"<table name=\"session\"><row ref=\"OpaqueRef:s\"/></table>"
		"<table name=\"VM\">\n  <row ref=\"OpaqueRef:a\" __ctime=\"3\" "
		"__mtime=\"4\" _ref=\"OpaqueRef:a\" frobnicate=\"1\" "
		"name__label=\"a%_b c%.d%%e%t%x%\" uuid=\"u-a\" "
		"other_config=\"(('k%_' 'v w') (&quot;q\\&quot;&quot; 'x'))\" "
		"tags='(\"t1\"  ; comment&#10; &apos;t2&apos;)' "
		"VCPUs__max=\"-7\" actions__after_crash=\"DESTROY\"/>"
		"<row ref=\"OpaqueRef:b\"/></table>"
		"<table name=\"VM_metrics\"><row ref=\"OpaqueRef:m\" "
		"VCPUs__flags=\"(('1' '(\\'f1\\' \\'f 2\\')'))\"/></table>");
	struct db_row **rows;
	size_t n;
	uint64_t gen;
	struct api_err *e = NULL;
	assert_int_equal(dump_read(doc, strlen(doc), &rows, &n, &gen, &e), 0);
	assert_true(gen == 42);
	assert_int_equal(n, 3);
	const struct db_row *a = rows[0], *b = rows[1], *m = rows[2];
	assert_string_equal(a->ref, "OpaqueRef:a");
	assert_int_equal(a->cls, DMC_VM);
	assert_true(a->ctime == 3 && a->mtime == 4);
	assert_string_equal(a->f[DMF_VM_name_label].s, "a  b c d%e\t%x%");
	assert_string_equal(a->f[DMF_VM_uuid].s, "u-a");
	struct dm_coll *oc = a->f[DMF_VM_other_config].c;
	assert_int_equal(oc->n, 2);
	assert_string_equal(oc->v[0].s, "k  ");
	assert_string_equal(oc->v[1].s, "v w");
	assert_string_equal(oc->v[2].s, "q\"");
	struct dm_coll *tg = a->f[DMF_VM_tags].c;
	assert_int_equal(tg->n, 2);
	assert_string_equal(tg->v[0].s, "t1");
	assert_string_equal(tg->v[1].s, "t2");
	assert_true(a->f[DMF_VM_VCPUs_max].i == -7);
	assert_string_equal(a->f[DMF_VM_actions_after_crash].s, "destroy");
	/* a row with nothing but its ref: defaults and a fresh uuid */
	struct db_row *def = db_row_new(DMC_VM, "OpaqueRef:b", "x");
	for (size_t f = 0; f < dm_classes[DMC_VM].nfields; f++)
		if ((int)f != DMF_VM_uuid)
			assert_true(dmv_equal(dm_classes[DMC_VM].fields[f].type,
					      def->f[f], b->f[f]));
	assert_int_equal(strlen(b->f[DMF_VM_uuid].s), 36);
	db_row_free(def);
	/* a (int -> string set) map */
	struct dm_coll *fl = m->f[DMF_VM_metrics_VCPUs_flags].c;
	assert_int_equal(fl->n, 1);
	assert_true(fl->v[0].i == 1);
	assert_int_equal(fl->v[1].c->n, 2);
	assert_string_equal(fl->v[1].c->v[1].s, "f 2");
	dump_rows_free(rows, n);
	free(doc);
}

static void
expect_error(const char *doc, size_t len, const char *code,
	     const char *const *needles)
{
	struct db_row **rows = (struct db_row **)1;
	size_t n = 99;
	uint64_t gen;
	struct api_err *e = NULL;
	assert_int_equal(dump_read(doc, len, &rows, &n, &gen, &e), -1);
	assert_null(rows);
	assert_int_equal(n, 0);
	assert_non_null(e);
	assert_string_equal(e->code, code);
	for (size_t i = 0; needles && needles[i]; i++) {
		assert_int_equal(e->n, 1);
		if (!strstr(e->params[0], needles[i]))
			fail_msg("'%s' lacks '%s'", e->params[0], needles[i]);
	}
	api_err_free(e);
}

static void
test_dump_schema_version(void **state)
{
	(void)state;
	const char *bad[] = {
		"<database><manifest><pair key=\"schema_major_vsn\" value=\"4\"/>"
		"<pair key=\"schema_minor_vsn\" value=\"" STR(DM_SCHEMA_MINOR)
		"\"/><pair key=\"generation_count\" value=\"1\"/></manifest>"
		"</database>",
		"<database><manifest><pair key=\"schema_major_vsn\" value=\""
		STR(DM_SCHEMA_MAJOR) "\"/><pair key=\"schema_minor_vsn\" "
		"value=\"120\"/><pair key=\"generation_count\" value=\"1\"/>"
		"</manifest><table name=\"VM\"><row ref=\"OpaqueRef:a\" "
		"power_state=\"NoSuchState\"/></table></database>",
	};
	for (size_t i = 0; i < 2; i++) {
		struct api_err *e = NULL;
		expect_error(bad[i], strlen(bad[i]),
			     "RESTORE_INCOMPATIBLE_VERSION", NULL);
		/* restore refuses it too, and the store is untouched */
		uint64_t g = db_generation();
		assert_int_equal(dump_restore(bad[i], strlen(bad[i]), false, &e),
				 -1);
		assert_string_equal(e->code, "RESTORE_INCOMPATIBLE_VERSION");
		assert_int_equal(e->n, 0);
		api_err_free(e);
		assert_true(db_generation() == g);
	}
}

static void
test_dump_truncated(void **state)
{
	(void)state;
	fill_random(9, 1);
	size_t len;
	char *doc = dump_write(&len);
	uint64_t g = db_generation();
	size_t step = len / 1000 + 1;
	for (size_t cut = 0; cut < len; cut += step) {
		char *p = malloc(cut + 1);
		memcpy(p, doc, cut);
		expect_error(p, cut, "INTERNAL_ERROR", NULL);
		free(p);
	}
	struct api_err *e = NULL;
	assert_int_equal(dump_restore(doc, len - 1, false, &e), -1);
	api_err_free(e);
	assert_true(db_generation() == g);
	free(doc);
}

static void
test_dump_bad_inputs(void **state)
{
	(void)state;
	struct {
		const char *tables;
		const char *needle[5];
	} cases[] = {
		{"<table name=\"VM\"><row ref=\"OpaqueRef:q\" VCPUs__max=\"x1\"/>"
		 "</table>", {"table VM", "row OpaqueRef:q", "VCPUs__max", "'x1'"}},
		{"<table name=\"VM\"><row ref=\"OpaqueRef:q\" tags=\"('a'\"/>"
		 "</table>", {"column tags", "('a'"}},
		{"<table name=\"VM\"><row ref=\"OpaqueRef:q\" tags=\"('a') x\"/>"
		 "</table>", {"column tags"}},
		{"<table name=\"VM\"><row ref=\"OpaqueRef:q\" other_config="
		 "\"('a' 'b')\"/></table>", {"other_config"}},
		{"<table name=\"VM\"><row ref=\"OpaqueRef:q\" __mtime=\"-1\"/>"
		 "</table>", {"__mtime"}},
		{"<table name=\"VM\"><row uuid=\"x\"/></table>", {"no ref"}},
		{"<table name=\"VM\"><row ref=\"OpaqueRef:q\"/></table>"
		 "<table name=\"SR\"><row ref=\"OpaqueRef:q\"/></table>",
		 {"OpaqueRef:q", "VM", "SR"}},
		{"<table name=\"VM\"><row ref=\"r\"><row ref=\"s\"/></row>"
		 "</table>", {"unexpected element <row>"}},
		{"<tabel name=\"VM\"/>", {"<tabel>"}},
		{"<table/>", {"no name"}},
		{"<table name=\"VM\"><row ref=\"r\" name__label=\"&bogus;\"/>"
		 "</table>", {"malformed XML", "bogus"}},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		char *doc = mkdump("5", cases[i].tables);
		expect_error(doc, strlen(doc), "INTERNAL_ERROR", cases[i].needle);
		free(doc);
	}
	const char *raw[] = {
		"",
		"<?xml version=\"1.0\"?>",
		"<other/>",
		"<database/>",
		"<!DOCTYPE database [<!ENTITY a \"b\">]><database/>",
		"<database><manifest><pair key=\"schema_major_vsn\" value=\""
		STR(DM_SCHEMA_MAJOR) "\"/><pair key=\"schema_minor_vsn\" value=\""
		STR(DM_SCHEMA_MINOR) "\"/></manifest></database>",
		("<database><manifest><pair key=\"schema_major_vsn\" value=\"x\"/>"
		 "</manifest></database>"),
		"<database></database><database></database>",
		"<database>\x01</database>",
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(*raw); i++)
		expect_error(raw[i], strlen(raw[i]), "INTERNAL_ERROR", NULL);
	expect_error(NULL, 0, "INTERNAL_ERROR", NULL);
	/* an embedded NUL */
	char *doc = mkdump("5", "");
	doc[20] = '\0';
	size_t len = strlen(doc + 21) + 21;
	expect_error(doc, len, "INTERNAL_ERROR", NULL);
	free(doc);
}

static void
test_dump_duplicate_ref(void **state)
{
	(void)state;
	char *doc = mkdump("5", "<table name=\"VM\"><row ref=\"OpaqueRef:q\" "
				"name__label=\"one\"/><row ref=\"OpaqueRef:q\" "
				"name__label=\"two\"/></table>");
	struct db_row **rows;
	size_t n;
	uint64_t gen;
	struct api_err *e = NULL;
	assert_int_equal(dump_read(doc, strlen(doc), &rows, &n, &gen, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0]->f[DMF_VM_name_label].s, "two");
	dump_rows_free(rows, n);
	free(doc);
}

static void
test_dump_restore(void **state)
{
	(void)state;
	struct db_txn *t = db_txn_begin();
	db_txn_create(t, DMC_VM, "OpaqueRef:old", NULL);
	db_txn_create(t, DMC_session, "OpaqueRef:sess", NULL);
	commit(t);
	char *doc = mkdump("1000", "<table name=\"VM\"><row ref=\"OpaqueRef:new\" "
				   "name__label=\"restored\" uuid=\"u-new\"/></table>"
				   "<table name=\"host\"><row ref=\"OpaqueRef:h\" "
				   "uuid=\"h-1\"/></table>");
	struct api_err *e = NULL;
	/* dry run: checked, nothing changed */
	assert_int_equal(dump_restore(doc, strlen(doc), true, &e), 0);
	db_rdlock();
	assert_non_null(db_get(DMC_VM, "OpaqueRef:old"));
	assert_null(db_get(DMC_VM, "OpaqueRef:new"));
	db_unlock();
	assert_int_equal(dump_restore(doc, strlen(doc), false, &e), 0);
	db_rdlock();
	assert_null(db_get(DMC_VM, "OpaqueRef:old"));
	struct db_row *r = db_get_by_uuid(DMC_VM, "u-new");
	assert_non_null(r);
	assert_string_equal(r->ref, "OpaqueRef:new");
	assert_string_equal(r->f[DMF_VM_name_label].s, "restored");
	assert_non_null(db_get(DMC_host, "OpaqueRef:h"));
	assert_true(db_generation() == 1000);
	db_unlock();
	free(doc);
}

static void
test_dump_values(void **state)
{
	(void)state;
	/* (int -> string set) map: the set is its own dump text, quoted */
	const struct dm_type *t =
		dm_classes[DMC_VM_metrics].fields[DMF_VM_metrics_VCPUs_flags].type;
	struct dm_coll *c = dmc_new(1);
	c->v[0].i = 3;
	c->v[1] = coll(0, "a'b", "c", NULL);
	union dm_val v = {.c = c}, back;
	struct buf b = BUF_INIT;
	dmv_dump_text(&b, t, v);
	assert_string_equal(b.data, "(('3' '(\\'a\\\\\\'b\\' \\'c\\')'))");
	assert_int_equal(dmv_dump_parse(t, b.data, &back), 0);
	assert_true(dmv_equal(t, v, back));
	dmv_free(t, &back);
	dmv_free(t, &v);
	buf_free(&b);
	/* floats and datetimes */
	const struct dm_type *ft =
		dm_classes[DMC_VM].fields[DMF_VM_HVM_shadow_multiplier].type;
	const double fs[] = {0.1, -0.0, 1e300, NAN, INFINITY, -INFINITY};
	const char *fw[] = {"0.100000000000000006", "-0", "1.00000000000000005e+300",
			    "nan", "inf", "-inf"};
	for (size_t i = 0; i < 6; i++) {
		buf_reset(&b);
		dmv_dump_text(&b, ft, (union dm_val){.f = fs[i]});
		assert_string_equal(b.data, fw[i]);
		assert_int_equal(dmv_dump_parse(ft, b.data, &back), 0);
		assert_true(dmv_equal(ft, back, (union dm_val){.f = fs[i]}));
	}
	const struct dm_type *dt =
		dm_classes[DMC_VM].fields[DMF_VM_snapshot_time].type;
	buf_reset(&b);
	dmv_dump_text(&b, dt, (union dm_val){.i = -62135596800LL});
	assert_string_equal(b.data, "00010101T00:00:00Z");
	assert_int_equal(dmv_dump_parse(dt, b.data, &back), 0);
	assert_true(back.i == -62135596800LL);
	/* years we could not write back are refused */
	assert_int_equal(dmv_dump_parse(dt, "99991231T23:59:59-01:00", &back), -1);
	assert_int_equal(dmv_dump_parse(dt, "00000101T00:00:00Z", &back), 0);
	/* xapi's floats: subnormals, overflow to inf */
	assert_int_equal(dmv_dump_parse(ft, "4.94065645841246544e-324", &back), 0);
	assert_true(back.f > 0 && back.f < 1e-323);
	assert_int_equal(dmv_dump_parse(ft, "1e400", &back), 0);
	assert_true(isinf(back.f));
	assert_int_equal(dmv_dump_parse(ft, "1.5x", &back), -1);
	/* a ref option is a set of zero or one element */
	static const struct dm_type ref = {DMK_REF, NULL, NULL, NULL, -1, "VM ref"};
	static const struct dm_type opt = {DMK_OPTION, &ref, NULL, NULL, -1,
					   "VM ref option"};
	buf_reset(&b);
	dmv_dump_text(&b, &opt, (union dm_val){.s = (char *)"OpaqueRef:NULL"});
	assert_string_equal(b.data, "()");
	buf_reset(&b);
	dmv_dump_text(&b, &opt, (union dm_val){.s = (char *)"OpaqueRef:a'"});
	assert_string_equal(b.data, "('OpaqueRef:a\\'')");
	assert_int_equal(dmv_dump_parse(&opt, b.data, &back), 0);
	assert_string_equal(back.s, "OpaqueRef:a'");
	free(back.s);
	assert_int_equal(dmv_dump_parse(&opt, "()", &back), 0);
	assert_string_equal(back.s, "OpaqueRef:NULL");
	free(back.s);
	assert_int_equal(dmv_dump_parse(&opt, "('a' 'b')", &back), -1);
	buf_free(&b);
}

static void
test_dump_escape(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	dump_escape(&b, "a b\x01<\"\xff\xc3\xa9\xed\xa0\x80\xef\xbf\xbf%\t", true);
	assert_string_equal(b.data, "a%.b\xef\xbf\xbd&lt;&quot;\xef\xbf\xbd\xc3\xa9"
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd%%%t");
	buf_reset(&b);
	dump_escape(&b, "a b%'&>\t\n\r", false);
	assert_string_equal(b.data, "a b%'&amp;&gt;&#9;&#10;&#13;");
	buf_free(&b);
	const char *in[] = {"", "%", "%%", "%%.", "%_x", "%.%t%n%r", "a%zb%",
			    "%%%"};
	const char *out[] = {"", "%", "%", "%.", "  x", " \t\n\r", "a%zb%", "%%"};
	for (size_t i = 0; i < sizeof(in) / sizeof(*in); i++) {
		char *s = dump_unprotect(in[i]);
		assert_string_equal(s, out[i]);
		free(s);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dump_secret_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_vm_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_legacy_and_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_bad_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_duplicate_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump_restore, setup, teardown),
		cmocka_unit_test(test_dump_values),
		cmocka_unit_test(test_dump_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
