/*
 * cli_gen: helpers shared by the generated class commands (cli_generic.c,
 * cli_setters.c) and the explicit commands that print or change records
 * the same way.
 */
#ifndef XAPID_RPC_CLI_GEN_H
#define XAPID_RPC_CLI_GEN_H

#include "rpc/cli_cmd.h"

/* The key a field is printed under ("name-label ( RW)"), malloc'd. */
char *cli_field_key(const struct cli_fdef *f);

/*
 * The records xapi's <class>-list prints: the rows of c filtered by the
 * class's default filters, then extra_filters (key, value, ..., NULL),
 * then every parameter but params=, the standard ones and database:*;
 * fields picked by params= (or defaults; NULL or params=all: every field)
 * in record order, hidden ones never, expensive ones as "<expensive
 * field>"; with --all every row, unfiltered. Returns 0 with *out (free
 * with cli_records_free), or -1 after recording the failure.
 */
int cli_list_records(struct cli_ctx *ctx, const struct cli_class *c,
		     const char *const *extra_filters,
		     const char *const *defaults, struct cli_table_rec **out,
		     size_t *nout);
void cli_records_free(struct cli_table_rec *recs, size_t n);

/* The ref of the uuid= object of c (get_by_uuid), or NULL after recording
 * the error. */
char *cli_record_ref(struct cli_ctx *ctx, const struct cli_class *c);

/* Takes the read lock and returns the row of ref; on failure returns NULL
 * with the lock released and HANDLE_INVALID recorded. */
const struct db_row *cli_lock_row(struct cli_ctx *ctx,
				  const struct cli_class *c, const char *ref);

/* Records xapi's CLI_failed_to_find_param (client shows "Error code:
 * Missing parameter"). */
int cli_fail_missing(struct cli_ctx *ctx, const char *name);

/*
 * Converts CLI text into a wire value of type t for field name (used in
 * messages): strings as they are; ints (with K/M/G[iB] suffixes when
 * bytes); bools true/false; floats; enums through emap or any case; refs
 * by uuid ("" = NULL); sets split on ','. Returns the value, or NULL after
 * recording the failure as xapi words it.
 */
xv *cli_text_to_xv(struct cli_ctx *ctx, const struct dm_type *t,
		   const char *const *emap, const char *name, bool bytes,
		   const char *text);

/* Parses xapi's Record_util.bytes_of_string ("512MiB", "1G", "4096").
 * Returns 0 or -1. */
int cli_parse_bytes(const char *text, long long *out);

#endif
