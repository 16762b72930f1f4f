/*
 * cli_conn: the server's end of one `xe` session, after POST /cli has been
 * upgraded (101 Switching Protocols) and the raw socket handed over.
 *
 * A command implementation drives the client with these calls: print text,
 * report errors, ask it to upload a file, to prompt the user, or to run an
 * HTTP transfer, and finally tell it to exit. Each call returns 0 on success
 * and -1 on failure, with the reason in conn->err. Once an I/O or protocol
 * failure has happened the connection is marked broken and every later call
 * fails at once (a client answering Failed does not break it: the command
 * can still report an error and exit).
 *
 * Only the fd is needed; nothing else of the server. Not thread-safe: one
 * thread drives a connection (a caller that writes from a second thread,
 * e.g. progress text while http_get waits, must serialise the writes).
 */
#ifndef XAPID_RPC_CLI_CONN_H
#define XAPID_RPC_CLI_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/cliproto.h"

/* Longest wait for any single client message, by default. The xe client
 * sends a Wait heartbeat every few seconds during HTTP transfers. */
#define CLI_CONN_TIMEOUT_MS (300 * 1000)
/* Largest file accepted by cli_conn_load and line by cli_conn_prompt. */
#define CLI_CONN_LOAD_MAX (64u * 1024 * 1024)
#define CLI_CONN_PROMPT_MAX (64u * 1024)

struct cli_conn {
	struct cliproto_stream io;
	int32_t client_major; /* the client's version, after the handshake */
	int32_t client_minor;
	size_t load_max; /* cli_conn_load limit (CLI_CONN_LOAD_MAX) */
	int broken;      /* an I/O or protocol error happened */
	char err[200];   /* why the last call failed */
};

/* Prepares conn for the upgraded socket fd (not owned: the caller closes
 * it), with the default timeout and limits. */
void cli_conn_init(struct cli_conn *conn, int fd);

/* Sends our protocol version and reads the client's. Fails if the client is
 * not a thin-CLI client or its major version differs from ours. */
int cli_conn_handshake(struct cli_conn *conn);

/* Prints text and a newline on the client's stdout (Print). */
int cli_conn_print(struct cli_conn *conn, const char *text);
/* Writes text verbatim (no newline added) to the client's stderr. */
int cli_conn_printerr(struct cli_conn *conn, const char *text);
/* Sends a debug line, shown by the client only with --debug. */
int cli_conn_debug(struct cli_conn *conn, const char *text);
/* Sends an API error the client prints as "Error code: <code>" and
 * "Error parameters: <p1>, <p2>" (for codes the server cannot describe). */
int cli_conn_error(struct cli_conn *conn, const char *code,
                   const char *const *params, size_t n);
/* Tells the client to exit with code; the last message of a session. */
int cli_conn_exit(struct cli_conn *conn, int code);

/* Asks the client to read one line from its stdin. On success *line holds
 * the line (without its newline; empty at the client's end of input). */
int cli_conn_prompt(struct cli_conn *conn, struct buf *line);

/* Asks the client to upload its local file filename (which must appear on
 * the client's command line, or the client refuses). On success appends its
 * bytes to out. Fails, without breaking the connection, if the client
 * answers Failed (unreadable file); fails and breaks it if the upload
 * exceeds conn->load_max. */
int cli_conn_load(struct cli_conn *conn, const char *filename, struct buf *out);

/*
 * Tells the client to GET url and write the body to its file filename
 * ("" or "-": its stdout), or to PUT the bytes of its file filename to url.
 * url is a path ("/export?session_id=...&task_id=...": same server and
 * transport as the CLI connection) or an absolute http(s):// URL. Waits for
 * the client's final Response, accepting Wait heartbeats (each resets the
 * timeout). Returns 0 if the client reports OK, -1 if it reports Failed
 * (connection still usable) or on I/O failure (broken).
 */
int cli_conn_http_get(struct cli_conn *conn, const char *filename,
                      const char *url);
int cli_conn_http_put(struct cli_conn *conn, const char *filename,
                      const char *url);

/* Tells the client to open a raw connection to url (a console) and relay
 * its terminal; returns when the client says it is done (0), or -1. */
int cli_conn_http_connect(struct cli_conn *conn, const char *url);

#endif
