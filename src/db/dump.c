/* dump: xapi's XML database dump: writing, reading, restore. */
#include "db/dump.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlreader.h>

#include "util/htab.h"
#include "util/log.h"
#include "util/xalloc.h"

#define DUMP_TAG "dump"
#define DUMP_FFFD "\xef\xbf\xbd"

/* ---- escaping ---- */

/* Bytes copied as they are outside protection (1), in any case (2). */
static unsigned char dump_plain[256];
static pthread_once_t dump_once = PTHREAD_ONCE_INIT;

static void
dump_init(void)
{
	for (int c = 0x20; c < 0x80; c++)
		dump_plain[c] = 2;
	dump_plain['<'] = dump_plain['>'] = dump_plain['&'] = 0;
	dump_plain['"'] = 0;
	dump_plain[' '] = dump_plain['%'] = 1;
	xmlInitParser();
}

/* Length of the valid UTF-8 XML character at s (first byte >= 0x80), or 0. */
static size_t
dump_utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		if (c == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
			return 0; /* U+FFFE, U+FFFF */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

void
dump_escape(struct buf *b, const char *s, bool protect)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	unsigned char need = protect ? 2 : 1;

	pthread_once(&dump_once, dump_init);
	while (*p) {
		const unsigned char *q = p;
		while (dump_plain[*q] >= need)
			q++;
		if (q > p)
			buf_add(b, p, (size_t)(q - p));
		p = q;
		if (!*p)
			break;
		switch (*p) {
		case ' ': buf_add(b, "%.", 2); break;
		case '%': buf_add(b, "%%", 2); break;
		/* unprotected: references, as a raw one would read back as
		 * a space (xapi's writer leaves them raw) */
		case '\t': buf_adds(b, protect ? "%t" : "&#9;"); break;
		case '\n': buf_adds(b, protect ? "%n" : "&#10;"); break;
		case '\r': buf_adds(b, protect ? "%r" : "&#13;"); break;
		case '<': buf_add(b, "&lt;", 4); break;
		case '>': buf_add(b, "&gt;", 4); break;
		case '&': buf_add(b, "&amp;", 5); break;
		case '"': buf_add(b, "&quot;", 6); break;
		default: {
			size_t n = *p >= 0x80 ? dump_utf8_len(p) : 0;
			if (n) {
				buf_add(b, p, n);
				p += n;
				continue;
			}
			buf_add(b, DUMP_FFFD, 3);
		}
		}
		p++;
	}
}

char *
dump_unprotect(const char *s)
{
	struct buf b = BUF_INIT;
	const char *p = s, *q;

	buf_reserve(&b, strlen(s) + 1);
	while ((q = strchr(p, '%'))) {
		buf_add(&b, p, (size_t)(q - p));
		p = q + 2;
		switch (q[1]) {
		case '.': buf_addc(&b, ' '); break;
		case '_': buf_add(&b, "  ", 2); break;
		case 't': buf_addc(&b, '\t'); break;
		case 'n': buf_addc(&b, '\n'); break;
		case 'r': buf_addc(&b, '\r'); break;
		case '%': buf_addc(&b, '%'); break;
		default: /* not an escape: keep the %, look at what follows */
			buf_addc(&b, '%');
			p = q + 1;
		}
	}
	buf_adds(&b, p);
	return buf_steal(&b);
}

/* ---- writing ---- */

struct dump_col {
	const char *name;
	int fi; /* field index; -1 for _ref */
};

static int
dump_col_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dump_col *)a)->name,
		      ((const struct dump_col *)b)->name);
}

static int
dump_cls_cmp(const void *a, const void *b)
{
	return strcmp(dm_classes[*(const int *)a].name,
		      dm_classes[*(const int *)b].name);
}

static int
dump_row_cmp(const void *a, const void *b)
{
	return strcmp((*(struct db_row *const *)a)->ref,
		      (*(struct db_row *const *)b)->ref);
}

/* Is a field of this type a DB column? (xapi never stores records.) */
static bool
dump_stored(const struct dm_type *t)
{
	switch (t->kind) {
	case DMK_VOID:
	case DMK_RECORD:
	case DMK_STRUCT_ANY:
		return false;
	case DMK_SET:
	case DMK_OPTION:
		return dump_stored(t->a);
	case DMK_MAP:
		return dump_stored(t->b);
	default:
		return true;
	}
}

/* The columns of class c in byte order of DB name; returns how many. */
static size_t
dump_columns(int c, struct dump_col *cols)
{
	const struct dm_class *k = &dm_classes[c];
	size_t n = 0;

	cols[n++] = (struct dump_col){"_ref", -1};
	for (size_t i = 0; i < k->nfields; i++)
		if (dump_stored(k->fields[i].type))
			cols[n++] = (struct dump_col){k->fields[i].db_name,
						      (int)i};
	qsort(cols, n, sizeof(*cols), dump_col_cmp);
	return n;
}

static void
dump_write_row(struct buf *b, struct buf *tmp, const struct db_row *r,
	       const struct dump_col *cols, size_t ncols)
{
	const struct dm_class *k = &dm_classes[r->cls];

	buf_adds(b, "<row ref=\"");
	dump_escape(b, r->ref, false);
	buf_addf(b, "\" __ctime=\"%" PRIu64 "\" __mtime=\"%" PRIu64 "\"",
		 r->ctime, r->mtime);
	for (size_t i = 0; i < ncols; i++) {
		buf_addc(b, ' ');
		buf_adds(b, cols[i].name);
		buf_add(b, "=\"", 2);
		if (cols[i].fi < 0) {
			dump_escape(b, r->ref, true);
		} else {
			const struct dm_type *t = k->fields[cols[i].fi].type;
			union dm_val v = r->f[cols[i].fi];
			if (t->kind == DMK_STRING || t->kind == DMK_REF ||
			    t->kind == DMK_ENUM) {
				dump_escape(b, v.s, true);
			} else {
				buf_reset(tmp);
				dmv_dump_text(tmp, t, v);
				dump_escape(b, tmp->data, true);
			}
		}
		buf_addc(b, '"');
	}
	buf_add(b, "/>", 2);
}

char *
dump_write(size_t *len)
{
	struct buf b = BUF_INIT, tmp = BUF_INIT;
	int order[DMC__COUNT];
	size_t nt = 0, maxf = 0;

	for (int c = 0; c < DMC__COUNT; c++) {
		if (!(dm_classes[c].flags & DMCF_TABLE))
			continue;
		order[nt++] = c;
		if (dm_classes[c].nfields > maxf)
			maxf = dm_classes[c].nfields;
	}
	qsort(order, nt, sizeof(*order), dump_cls_cmp);
	struct dump_col *cols = xmalloc((maxf + 1) * sizeof(*cols));

	db_rdlock();
	buf_addf(&b,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<database><manifest>"
		 "<pair key=\"schema_major_vsn\" value=\"%d\"/>"
		 "<pair key=\"schema_minor_vsn\" value=\"%d\"/>"
		 "<pair key=\"generation_count\" value=\"%" PRIu64 "\"/>"
		 "</manifest>",
		 DM_SCHEMA_MAJOR, DM_SCHEMA_MINOR, db_generation());
	for (size_t t = 0; t < nt; t++) {
		int c = order[t];
		size_t n = 0;
		buf_adds(&b, "<table name=\"");
		dump_escape(&b, dm_classes[c].name, false);
		buf_addc(&b, '"');
		if (!(dm_classes[c].flags & DMCF_PERSISTENT) || !db_count(c)) {
			buf_add(&b, "/>", 2);
			continue;
		}
		buf_addc(&b, '>');
		size_t ncols = dump_columns(c, cols);
		struct db_row **rows = db_list(c, &n);
		qsort(rows, n, sizeof(*rows), dump_row_cmp);
		for (size_t i = 0; i < n; i++)
			dump_write_row(&b, &tmp, rows[i], cols, ncols);
		free(rows);
		buf_adds(&b, "</table>");
	}
	db_unlock();
	buf_adds(&b, "</database>");
	buf_free(&tmp);
	free(cols);
	if (len)
		*len = b.len;
	return buf_steal(&b);
}

/* ---- reading ---- */

enum dump_sect { DS_NONE, DS_MANIFEST, DS_TABLE };

struct dump_rd {
	xmlTextReaderPtr r;
	struct db_row **rows;
	size_t n, cap;
	struct htab refs;             /* ref -> index in rows + 1 */
	struct htab cols[DMC__COUNT]; /* DB name -> field index + 1 */
	bool cols_built[DMC__COUNT];
	struct htab noted;            /* "table column" already logged */
	bool seen_root;
	enum dump_sect sect;
	int cls;                      /* current table's class; -1: skip rows */
	char *table;                  /* current table's name */
	char *major, *minor, *gen;    /* manifest pairs */
	char *xmlerr;                 /* first libxml2 error */
	struct api_err *err;
	/* reading from memory */
	const char *in;
	size_t left;
};

static int
dump_io_read(void *ctx, char *out, int len)
{
	struct dump_rd *rd = ctx;
	size_t n = rd->left < (size_t)len ? rd->left : (size_t)len;
	if (n == 0 || len <= 0)
		return 0;
	memcpy(out, rd->in, n);
	rd->in += n;
	rd->left -= n;
	return (int)n;
}

static int
dump_io_close(void *ctx)
{
	(void)ctx;
	return 0;
}

static void
dump_xml_error(void *arg, const char *msg, xmlParserSeverities sev,
	       xmlTextReaderLocatorPtr loc)
{
	struct dump_rd *rd = arg;
	if (rd->xmlerr || (sev != XML_PARSER_SEVERITY_ERROR &&
			   sev != XML_PARSER_SEVERITY_VALIDITY_ERROR))
		return;
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	rd->xmlerr = xasprintf("line %d: %.*s",
			       loc ? xmlTextReaderLocatorLineNumber(loc) : 0,
			       (int)n, msg);
}

static void
dump_fail(struct dump_rd *rd, struct api_err *e)
{
	if (rd->err)
		api_err_free(e);
	else
		rd->err = e;
}

/* Logs "what" once per key. */
static void
dump_note(struct dump_rd *rd, const char *table, const char *col,
	  const char *what)
{
	char *key = xasprintf("%s %s", table, col ? col : "");
	if (htab_get(&rd->noted, key)) {
		free(key);
		return;
	}
	htab_put(&rd->noted, key, key);
	if (col)
		log_info(DUMP_TAG, "table %s: %s column %s", table, what, col);
	else
		log_info(DUMP_TAG, "%s table %s", what, table);
}

/* The field index of DB column name in class c, or -1. */
static int
dump_field(struct dump_rd *rd, int c, const char *name)
{
	if (!rd->cols_built[c]) {
		const struct dm_class *k = &dm_classes[c];
		for (size_t i = 0; i < k->nfields; i++)
			if (dump_stored(k->fields[i].type))
				htab_put(&rd->cols[c], k->fields[i].db_name,
					 (void *)(uintptr_t)(i + 1));
		rd->cols_built[c] = true;
	}
	return (int)(uintptr_t)htab_get(&rd->cols[c], name) - 1;
}

/* A generation stamp or count: a decimal number >= 0. */
static int
dump_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

/* Keeps row r (replacing an earlier row of the same table and ref). */
static int
dump_keep(struct dump_rd *rd, struct db_row *r)
{
	size_t at = (size_t)(uintptr_t)htab_get(&rd->refs, r->ref);
	if (at) {
		struct db_row *old = rd->rows[at - 1];
		if (old->cls != r->cls) {
			dump_fail(rd, api_internal(
				"database dump: ref %s is in tables %s and %s",
				r->ref, dm_classes[old->cls].name,
				dm_classes[r->cls].name));
			db_row_free(r);
			return -1;
		}
		log_warn(DUMP_TAG, "table %s: ref %s repeated, last row kept",
			 dm_classes[r->cls].name, r->ref);
		rd->rows[at - 1] = r;
		htab_put(&rd->refs, r->ref, (void *)(uintptr_t)at);
		db_row_free(old); /* after: the table held its ref as key */
		return 0;
	}
	if (rd->n == rd->cap) {
		rd->cap = rd->cap ? 2 * rd->cap : 256;
		rd->rows = xrealloc(rd->rows, rd->cap * sizeof(*rd->rows));
	}
	rd->rows[rd->n++] = r;
	htab_put(&rd->refs, r->ref, (void *)(uintptr_t)rd->n);
	return 0;
}

/* Parses one column value into r. */
static int
dump_column(struct dump_rd *rd, struct db_row *r, int fi, const char *name,
	    const char *value)
{
	const struct dm_type *t = dm_classes[r->cls].fields[fi].type;
	char *text = strchr(value, '%') ? dump_unprotect(value) : NULL;
	union dm_val v = {0};

	if (dmv_dump_parse(t, text ? text : value, &v) < 0) {
		dump_fail(rd, api_internal("database dump: table %s, row %s, "
					   "column %s: bad %s value '%.100s'",
					   rd->table, r->ref, name, t->text,
					   text ? text : value));
		free(text);
		return -1;
	}
	free(text);
	dmv_free(t, &r->f[fi]);
	r->f[fi] = v;
	return 0;
}

static int
dump_row(struct dump_rd *rd)
{
	char *ref = (char *)xmlTextReaderGetAttribute(rd->r, BAD_CAST "ref");
	int fu = dm_classes[rd->cls].f_uuid;
	bool have_uuid = false;
	int rc = 0;

	if (!ref || !*ref) {
		dump_fail(rd, api_internal("database dump: table %s: a row "
					   "has no ref", rd->table));
		xmlFree(ref);
		return -1;
	}
	struct db_row *r = db_row_new(rd->cls, ref, "");
	xmlFree(ref);
	while (rc == 0 && xmlTextReaderMoveToNextAttribute(rd->r) == 1) {
		const char *name = (const char *)xmlTextReaderConstName(rd->r);
		const char *val = (const char *)xmlTextReaderConstValue(rd->r);
		if (!name || !val || strcmp(name, "ref") == 0 ||
		    strcmp(name, "_ref") == 0)
			continue;
		if (strcmp(name, "__ctime") == 0 ||
		    strcmp(name, "__mtime") == 0) {
			if (dump_u64(val, name[2] == 'c' ? &r->ctime
							 : &r->mtime) < 0) {
				dump_fail(rd, api_internal(
					"database dump: table %s, row %s: bad "
					"%s '%.40s'", rd->table, r->ref, name,
					val));
				rc = -1;
			}
			continue;
		}
		int fi = dump_field(rd, rd->cls, name);
		if (fi < 0) {
			dump_note(rd, rd->table, name, "ignoring unknown");
			continue;
		}
		rc = dump_column(rd, r, fi, name, val);
		if (fi == fu)
			have_uuid = true;
	}
	xmlTextReaderMoveToElement(rd->r);
	if (rc < 0) {
		db_row_free(r);
		return -1;
	}
	if (fu >= 0 && !have_uuid) {
		free(r->f[fu].s);
		r->f[fu].s = db_new_uuid();
	}
	return dump_keep(rd, r);
}

static int
dump_pair(struct dump_rd *rd)
{
	char *k = (char *)xmlTextReaderGetAttribute(rd->r, BAD_CAST "key");
	char *v = (char *)xmlTextReaderGetAttribute(rd->r, BAD_CAST "value");
	char **slot = NULL;

	if (k && v) {
		if (strcmp(k, "schema_major_vsn") == 0)
			slot = &rd->major;
		else if (strcmp(k, "schema_minor_vsn") == 0)
			slot = &rd->minor;
		else if (strcmp(k, "generation_count") == 0)
			slot = &rd->gen;
	}
	if (slot) {
		free(*slot);
		*slot = xstrdup(v);
	}
	xmlFree(k);
	xmlFree(v);
	return 0;
}

/* A schema version number: a decimal int. */
static int
dump_vsn(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

/* Checks the manifest's schema version, once both numbers are known. */
static int
dump_check_schema(struct dump_rd *rd)
{
	long major, minor;

	if (!rd->major || !rd->minor)
		return 0;
	if (dump_vsn(rd->major, &major) < 0 || dump_vsn(rd->minor, &minor) < 0) {
		dump_fail(rd, api_internal("database dump: bad schema version "
					   "'%.20s.%.20s'", rd->major, rd->minor));
		return -1;
	}
	if (major != DM_SCHEMA_MAJOR || minor != DM_SCHEMA_MINOR) {
		log_err(DUMP_TAG, "dump has schema %ld.%ld, we have %d.%d", major,
			minor, DM_SCHEMA_MAJOR, DM_SCHEMA_MINOR);
		dump_fail(rd, api_error(XE_RESTORE_INCOMPATIBLE_VERSION, NULL));
		return -1;
	}
	return 0;
}

static int
dump_unexpected(struct dump_rd *rd, const char *name)
{
	dump_fail(rd, api_internal("database dump: unexpected element <%.40s>",
				   name));
	return -1;
}

static int
dump_start(struct dump_rd *rd, int depth, const char *name)
{
	if (depth == 0) {
		if (strcmp(name, "database") != 0)
			return dump_unexpected(rd, name);
		rd->seen_root = true;
		return 0;
	}
	if (depth == 1 && strcmp(name, "manifest") == 0) {
		rd->sect = DS_MANIFEST;
		return 0;
	}
	if (depth == 1 && strcmp(name, "table") == 0) {
		char *t = (char *)xmlTextReaderGetAttribute(rd->r, BAD_CAST "name");
		if (!t) {
			dump_fail(rd, api_internal("database dump: a table has "
						   "no name"));
			return -1;
		}
		free(rd->table);
		rd->table = xstrdup(t);
		xmlFree(t);
		rd->sect = DS_TABLE;
		rd->cls = dm_class_find(rd->table);
		if (rd->cls < 0 || !(dm_classes[rd->cls].flags & DMCF_TABLE)) {
			rd->cls = -1;
			dump_note(rd, rd->table, NULL, "ignoring unknown");
		} else if (!(dm_classes[rd->cls].flags & DMCF_PERSISTENT)) {
			rd->cls = -1; /* sessions and tasks do not survive */
		}
		return 0;
	}
	if (depth == 2 && rd->sect == DS_MANIFEST && strcmp(name, "pair") == 0)
		return dump_pair(rd);
	if (depth == 2 && rd->sect == DS_TABLE && strcmp(name, "row") == 0)
		return rd->cls < 0 ? 0 : dump_row(rd);
	return dump_unexpected(rd, name);
}

static int
dump_end(struct dump_rd *rd, int depth)
{
	if (depth != 1)
		return 0;
	if (rd->sect == DS_MANIFEST && dump_check_schema(rd) < 0)
		return -1;
	rd->sect = DS_NONE;
	return 0;
}

/* The whole document; 0 or -1 with rd->err. */
static int
dump_parse(struct dump_rd *rd)
{
	int ret;

	while ((ret = xmlTextReaderRead(rd->r)) == 1) {
		int type = xmlTextReaderNodeType(rd->r);
		int depth = xmlTextReaderDepth(rd->r);
		if (type == XML_READER_TYPE_DOCUMENT_TYPE) {
			dump_fail(rd, api_internal("database dump: a DTD is "
						   "not allowed"));
			return -1;
		}
		if (type == XML_READER_TYPE_ELEMENT) {
			const char *name =
				(const char *)xmlTextReaderConstName(rd->r);
			bool empty = xmlTextReaderIsEmptyElement(rd->r) == 1;
			if (dump_start(rd, depth, name ? name : "") < 0 ||
			    (empty && dump_end(rd, depth) < 0))
				return -1;
		} else if (type == XML_READER_TYPE_END_ELEMENT) {
			if (dump_end(rd, depth) < 0)
				return -1;
		} else if (type == XML_READER_TYPE_ENTITY_REFERENCE) {
			dump_fail(rd, api_internal("database dump: entity "
						   "references are not allowed"));
			return -1;
		}
	}
	if (ret < 0 || !rd->seen_root) {
		dump_fail(rd, api_internal("database dump: malformed XML (%s)",
					   rd->xmlerr ? rd->xmlerr
						      : "no document"));
		return -1;
	}
	if (!rd->major || !rd->minor || !rd->gen) {
		dump_fail(rd, api_internal("database dump: the manifest lacks "
					   "%s", !rd->major ? "schema_major_vsn"
					   : !rd->minor ? "schema_minor_vsn"
					   : "generation_count"));
		return -1;
	}
	return dump_check_schema(rd);
}

int
dump_read(const char *xml, size_t len, struct db_row ***rows, size_t *n,
	  uint64_t *generation, struct api_err **err)
{
	struct dump_rd rd = {.in = xml, .left = xml ? len : 0, .cls = -1};
	uint64_t gen = 0;
	int rc = -1;

	*rows = NULL;
	*n = 0;
	pthread_once(&dump_once, dump_init);
	rd.r = xmlReaderForIO(dump_io_read, dump_io_close, &rd, NULL, NULL,
			      XML_PARSE_NONET | XML_PARSE_NOCDATA);
	if (!rd.r) {
		*err = api_internal("database dump: cannot start the XML reader");
		return -1;
	}
	xmlTextReaderSetErrorHandler(rd.r, dump_xml_error, &rd);
	if (dump_parse(&rd) == 0) {
		if (dump_u64(rd.gen, &gen) == 0)
			rc = 0;
		else
			dump_fail(&rd, api_internal("database dump: bad "
						    "generation_count '%.40s'",
						    rd.gen));
	}
	xmlFreeTextReader(rd.r);
	if (rc == 0) {
		*rows = rd.rows;
		*n = rd.n;
		*generation = gen;
	} else {
		dump_rows_free(rd.rows, rd.n);
		*err = rd.err ? rd.err : api_internal("database dump: unreadable");
	}
	size_t pos = 0;
	char *key;
	while ((key = htab_next(&rd.noted, &pos)))
		free(key);
	htab_free(&rd.noted);
	htab_free(&rd.refs);
	for (int c = 0; c < DMC__COUNT; c++)
		htab_free(&rd.cols[c]);
	free(rd.table);
	free(rd.major);
	free(rd.minor);
	free(rd.gen);
	free(rd.xmlerr);
	return rc;
}

void
dump_rows_free(struct db_row **rows, size_t n)
{
	for (size_t i = 0; rows && i < n; i++)
		db_row_free(rows[i]);
	free(rows);
}

/* ---- restore ---- */

/* Adapts restored rows to this machine before they replace the store.
 * TODO(lead): xapi (pool_db_backup.ml, prepare_database_for_restore) keeps
 * only the master host (pool.master) - the other hosts and their PIFs are
 * deleted - sets the master's uuid to this host's installation uuid and its
 * control domain's uuid to our dom0 uuid, and rewrites the physical PIFs'
 * MACs by device name (RESTORE_TARGET_MISSING_DEVICE [device] when this
 * machine lacks one). dump_restore takes no host information yet: with a
 * parameter such as {host_uuid, dom0_uuid, device -> MAC} this is the place.
 * Until then a one-host pool restores its own dump unchanged, and a dump from
 * another machine keeps that machine's host uuid (logged below). */
static int
dump_restore_prepare(struct db_row **rows, size_t n, struct api_err **err)
{
	int fu = dm_classes[DMC_host].f_uuid;
	(void)err;
	for (size_t i = 0; i < n; i++)
		if (rows[i]->cls == DMC_host)
			log_info(DUMP_TAG, "restoring host %s (uuid %s)",
				 rows[i]->ref, fu >= 0 ? rows[i]->f[fu].s : "");
	return 0;
}

int
dump_restore(const char *xml, size_t len, bool dry_run, struct api_err **err)
{
	struct db_row **rows;
	size_t n;
	uint64_t gen;
	char *cerr = NULL;

	if (dump_read(xml, len, &rows, &n, &gen, err) < 0)
		return -1;
	if (dump_restore_prepare(rows, n, err) < 0) {
		dump_rows_free(rows, n);
		return -1;
	}
	if (dry_run) {
		dump_rows_free(rows, n);
		return 0;
	}
	log_info(DUMP_TAG, "restoring %zu rows, dump generation %" PRIu64, n,
		 gen);
	if (db_replace_all(rows, n, gen, &cerr) < 0) {
		*err = api_internal("database restore failed: %s",
				    cerr ? cerr : "unknown error");
		free(cerr);
		dump_rows_free(rows, n); /* entries the store took are NULL */
		return -1;
	}
	dump_rows_free(rows, n);
	return 0;
}
