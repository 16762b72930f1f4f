/*
 * xe_conn: the `xe` client's byte streams to the server: HTTP over a Unix
 * socket, plain TCP or TLS (GnuTLS, certificate not verified, as xe's
 * default stunnel mode; xapid's links to other pool members check it against
 * its pin afterwards, pool_cert.c), with a read buffer so that bytes which
 * arrive after an HTTP response head stay available to the protocol that
 * follows.
 */
#ifndef XAPID_CLI_XE_CONN_H
#define XAPID_CLI_XE_CONN_H

#include <stddef.h>
#include <sys/types.h>

#include <gnutls/gnutls.h>

/* Where to connect. */
struct xe_target {
	char *sock_path; /* Unix socket path, or NULL for TCP */
	char *host;      /* TCP host name or address (no brackets) */
	int port;
	int tls;
};

/* Frees what t owns. */
void xe_target_free(struct xe_target *t);
/* Makes dst an owned copy of src. */
void xe_target_copy(struct xe_target *dst, const struct xe_target *src);
/*
 * Resolves url against base: an absolute http:// or https:// URL names its
 * own host (default port 80 or 443), anything else is a path on base.
 * Fills *out (owned) and *path (malloc'd). Returns 0, or -1 on a malformed
 * absolute URL.
 */
int xe_target_from_url(const struct xe_target *base, const char *url,
                       struct xe_target *out, char **path);
/* Describes t for messages ("/var/lib/xapid/xapi.sock", "host:443"). */
char *xe_target_describe(const struct xe_target *t);

struct xe_conn {
	int fd;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	char *host_header; /* value of the Host header */
	unsigned char rbuf[16384];
	size_t rpos;
	size_t rlen;
};

/* Connects to t (and does the TLS handshake). Returns 0, or -1 with a
 * message in err. */
int xe_conn_open(struct xe_conn *c, const struct xe_target *t, char *err,
                 size_t errlen);
/*
 * Reads at most n bytes, waiting at most timeout_ms (-1: forever). Returns
 * the count, 0 at end of stream, or -1 with errno (ETIMEDOUT, EIO for a TLS
 * error). ctx is the struct xe_conn (cliproto hook signature).
 */
ssize_t xe_conn_read(void *ctx, void *p, size_t n, int timeout_ms);
/* Writes all n bytes. Returns 0 or -1 with errno. */
int xe_conn_write(void *ctx, const void *p, size_t n);
/* Whether buffered or readable data is waiting (poll with timeout_ms). */
int xe_conn_readable(struct xe_conn *c, int timeout_ms);
/* Closes the connection (no TLS close_notify wait). NULL-safe. */
void xe_conn_close(struct xe_conn *c);

#endif
