/*
 * http: the HTTP(S) front door (libmicrohttpd, a thread per connection).
 *
 * Routes: XML-RPC on POST / and any other POST path (/RPC2, /xmlrpc, ...),
 * JSON-RPC on POST /jsonrpc, `xe` on POST /cli (HTTP upgrade to the thin-CLI
 * protocol), GET/PUT /pool/xmldbdump (database dump/restore), OPTIONS for
 * CORS. Listeners: plain TCP, TLS, and the Unix socket (callers there are
 * root, as on xapi's local socket).
 */
#ifndef XAPID_RPC_HTTP_H
#define XAPID_RPC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct http_config {
	const char *listen;     /* "ADDR:PORT" for plain HTTP, or NULL */
	const char *tls_listen; /* "ADDR:PORT" for HTTPS, or NULL */
	const char *unix_path;  /* Unix socket path, or NULL */
	const char *cert_file;  /* PEM certificate for TLS */
	const char *key_file;   /* PEM private key for TLS */
	size_t max_body;        /* largest RPC request body accepted */
};

/* Starts the listeners. Returns 0, or -1 with *err (malloc'd). */
int http_start(const struct http_config *cfg, char **err);
/* Until called with true, every request but POST /raft (a pool member's
 * dqlite link) is answered 503 HOST_STILL_BOOTING. */
void http_set_serving(bool on);
/* Stops every listener and waits for their threads. */
void http_stop(void);

/* Where the socket behind a console is (/console?uuid=<console uuid>, or
 * ref=<console ref or VM ref>; either may be NULL), malloc'd, or NULL when
 * there is none (not running here). Set by the VM layer. */
void http_set_console_resolver(char *(*fn)(const char *ref, const char *uuid));

/* Who serves POST /migrate?token=T (set by the VM layer): ok says whether
 * token admits this request (one use); fn then gets the upgraded stream
 * and the request body, on a thread of its own; the stream is closed when
 * fn returns. */
void http_set_migrate_handler(void (*fn)(int sock, const char *body, size_t len),
			      bool (*ok)(const char *token, const char *body, size_t len));

/* Makes a self-signed certificate/key pair for host if the files are
 * missing (openssl). Returns 0 or -1. */
int http_ensure_cert(const char *cert, const char *key, const char *host);

#endif
