/*
 * dump: the pool database as xapi's XML database dump (xenapi.md §5.1), the
 * format of GET/PUT /pool/xmldbdump (`xe pool-dump-database`,
 * `xe pool-restore-database`) and of xapi's /var/lib/xcp/state.db.
 *
 * The document is the XML declaration, a newline, then one line:
 *   <database><manifest><pair key="schema_major_vsn" value="5"/>
 *   <pair key="schema_minor_vsn" value="..."/><pair key="generation_count"
 *   value="..."/></manifest><table name="Bond"/>...<table name="VM"><row
 *   ref="OpaqueRef:..." __ctime="7" __mtime="9" HVM__boot_params="..."
 *   _ref="OpaqueRef:..." ... uuid="..."/></table>...</database>
 * Every table class of the datamodel appears, in byte order of its name;
 * non-persistent tables (session, task) have no rows. Rows come in byte
 * order of ref; a row's columns (the fields' DB names plus _ref) in byte
 * order. A column's value is its dump text (dmv_dump_text: scalars as text,
 * sets ('a' 'b'), maps (('k' 'v'))), then whitespace-protected (' ' -> %.,
 * TAB -> %t, LF -> %n, CR -> %r, % -> %%; readers also accept the pre-2017
 * %_ for two spaces), then XML-attribute-escaped (< > & " as entities).
 */
#ifndef XAPID_DB_DUMP_H
#define XAPID_DB_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/errors.h"
#include "db/store.h"
#include "util/buf.h"

/* The whole database as a dump, read under db_rdlock(). Returns a malloc'd,
 * NUL-terminated document (never NULL) and its length, without the NUL, in
 * *len (if len is non-NULL). */
char *dump_write(size_t *len);

/* Parses a dump of len bytes (not necessarily NUL-terminated) into rows
 * built with db_row_new(): every column we know is parsed by its field's
 * type, columns missing from a row keep their defaults (a missing uuid gets
 * a fresh one), unknown tables and columns are skipped with one log line
 * each, rows of non-persistent tables (session, task) are dropped, and a ref
 * repeated within a table keeps its last row. The dump's schema version must
 * equal ours (DM_SCHEMA_MAJOR/MINOR). The XML is parsed by libxml2 without
 * network access, DTDs or entity expansion (a DTD is refused).
 * Returns 0 with *rows (malloc'd array; free with dump_rows_free), *n and
 * *generation (the manifest's generation_count) set; or -1 with *err
 * (RESTORE_INCOMPATIBLE_VERSION for another schema, INTERNAL_ERROR naming
 * the problem - table, column and ref for a bad value - for anything else:
 * malformed or truncated XML, a missing manifest...) and *rows = NULL,
 * *n = 0. The store is not touched. */
int dump_read(const char *xml, size_t len, struct db_row ***rows, size_t *n,
	      uint64_t *generation, struct api_err **err);

/* Frees rows returned by dump_read (NULL entries are skipped). */
void dump_rows_free(struct db_row **rows, size_t n);

/* Database restore: dump_read, then (unless dry_run) replaces the whole
 * store with the rows through db_replace_all (durable, then visible; the
 * generation becomes the dump's generation_count, or the current one + 1 if
 * that is not later; every row of session and task is gone too).
 * Returns 0, or -1 with *err, the store unchanged.
 * TODO(lead): xapi's restore keeps only the master host and rewrites its
 * uuid, its dom0's uuid and its PIFs' MACs to this machine's (see
 * dump_restore_prepare in dump.c); this takes no host information yet, so
 * rows are restored as they are. */
int dump_restore(const char *xml, size_t len, bool dry_run,
		 struct api_err **err);

/* Appends s as it goes between the quotes of an attribute: with protect,
 * whitespace-protected first (see above); then < > & " escaped, and
 * without protection TAB/LF/CR as character references. Other control bytes
 * and bytes that are not valid UTF-8 (or not XML characters: surrogates,
 * U+FFFE, U+FFFF) become U+FFFD, as xapi's writer does for control bytes. */
void dump_escape(struct buf *b, const char *s, bool protect);

/* Undoes the whitespace protection: %. -> space, %_ -> two spaces, %t %n %r
 * -> TAB LF CR, %% -> %; a % before anything else stays. Returns a malloc'd
 * string. */
char *dump_unprotect(const char *s);

#endif
