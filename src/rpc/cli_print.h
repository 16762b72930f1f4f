/*
 * cli_print: how `xe` output is laid out (xapi's cli_printer.ml).
 *
 * Output goes to a sink: two callbacks that send one Print (the client adds
 * a newline) or one PrintStderr (written verbatim) message. The server's
 * sink writes to the thin-CLI connection; tests collect the text.
 *
 * The printer has xapi's four kinds of output:
 *   table  records of (key, value) lines: each record is sent as one Print
 *          of the multi-line text plus "\n" (so records are followed by two
 *          blank lines on the terminal);
 *   list   strings, one Print each;
 *   msg    one Print;
 *   stderr one PrintStderr of the text plus "\n".
 * In --minimal mode tables contribute the (escaped) first value of each
 * record, lists their escaped strings, each call as one comma-joined chunk;
 * msg and stderr are dropped; cli_out_flush() then prints the chunks joined
 * by ",", the latest chunk first (as xapi does), or an empty line.
 */
#ifndef XAPID_RPC_CLI_PRINT_H
#define XAPID_RPC_CLI_PRINT_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct cli_out {
	/* Each returns 0, or -1 when the client is gone (later output is
	 * dropped). */
	int (*print)(void *arg, const char *text);
	int (*printerr)(void *arg, const char *text);
	/* Sends an API error the server cannot describe (the client prints
	 * "Error code: ..." / "Error parameters: ..."); NULL: written as
	 * those two lines on stderr. */
	int (*error)(void *arg, const char *code, const char *const *params,
		     size_t n);
	void *arg;
	bool minimal;
	char **chunks; /* minimal mode: one comma-joined chunk per call */
	size_t nchunks;
	bool failed; /* a callback failed */
};

/* One record: n (key, value) pairs in display order. */
struct cli_table_rec {
	char **keys;
	char **vals;
	size_t n;
};

/* Prepares out over the given callbacks. */
void cli_out_init(struct cli_out *out, int (*print)(void *, const char *),
		  int (*printerr)(void *, const char *), void *arg,
		  bool minimal);
/* Frees what out holds (pending minimal chunks). */
void cli_out_free(struct cli_out *out);

/* Prints records as a table (see above). */
void cli_out_table(struct cli_out *out, const struct cli_table_rec *recs,
		   size_t n);
/* Prints strings, one line each. */
void cli_out_list(struct cli_out *out, const char *const *items, size_t n);
/* Prints one string as a list of one. */
void cli_out_line(struct cli_out *out, const char *text);
/* Prints a message (ignored in minimal mode). */
void cli_out_msg(struct cli_out *out, const char *text);
/* Prints text plus "\n" on stderr (ignored in minimal mode). */
void cli_out_stderr(struct cli_out *out, const char *text);
/* Ends the output of a successful command (minimal mode prints its line). */
void cli_out_flush(struct cli_out *out);

/* Writes text verbatim to stderr, whatever the mode (errors). */
void cli_out_err(struct cli_out *out, const char *text);
/* Prints text on stdout, whatever the mode. */
void cli_out_raw(struct cli_out *out, const char *text);
/* Sends an error the client formats itself (see the error callback). */
void cli_out_apierr(struct cli_out *out, const char *code,
		    const char *const *params, size_t n);

/*
 * Appends the multi-line text of one record to b: with w = 4 + the longest
 * key, the first key padded on the right to w, the others on the left,
 * then ": " and the value; lines joined by "\n" and ended by "\n".
 */
void cli_format_record(struct buf *b, const struct cli_table_rec *r);

/* Appends s to b with ',' written as "\," and '\' as "\\" (--minimal). */
void cli_escape_commas(struct buf *b, const char *s);

/* Record helpers: append a pair (copies both), free a record's contents. */
void cli_rec_add(struct cli_table_rec *r, const char *key, const char *val);
void cli_rec_add_own(struct cli_table_rec *r, char *key, char *val);
void cli_rec_free(struct cli_table_rec *r);

#endif
