/*
 * xe: declarations shared by the files of the `xe` client (xe.c: options,
 * connection, exit; xe_loop.c: the thin-CLI protocol loop; xe_http.c: file
 * transfers; xe_conn.c: transports).
 */
#ifndef XAPID_CLI_XE_H
#define XAPID_CLI_XE_H

#include "cli/xe_conn.h"
#include "util/cliproto.h"
#include "util/xeargs.h"

/* Writes a debug line (to stderr with --debug, to the failure log with
 * --debug-on-fail, nowhere otherwise). */
void xe_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Flushes output, prints the --debug-on-fail log if code is not 0, and
 * exits with code. */
__attribute__((noreturn)) void xe_exit(int code);

/* Prints the usage text on stderr. */
void xe_usage(void);

/*
 * Runs the thin-CLI session on s (the server's handshake not read yet):
 * answers the server's commands until it sends Exit, and returns that code
 * (or exits 1 itself on a protocol or connection failure). base is where
 * path-only transfer URLs go; args gives the permitted file names.
 */
int xe_loop_run(struct cliproto_stream *s, const struct xe_target *base,
                const struct xeargs *args);

#endif
