/*
 * xe_http: the small HTTP/1.1 client `xe` needs: reading a response head,
 * reading a body (Content-Length, chunked or until close), and the file
 * transfers the server asks for with HttpGet and HttpPut (redirects
 * followed, files streamed, a progress bar on stderr when it is a tty).
 */
#ifndef XAPID_CLI_XE_HTTP_H
#define XAPID_CLI_XE_HTTP_H

#include <stddef.h>
#include <sys/types.h>

#include "cli/xe_conn.h"

#define XE_HTTP_USER_AGENT "xe-cli/Unix/0.2"
/* Redirects followed by a transfer. */
#define XE_HTTP_MAX_REDIRECTS 3

struct xe_http_resp {
	int status;
	char status_line[256];
	long long content_length; /* -1 when absent */
	int chunked;
	char *location; /* Location header, or NULL */
};

/* Reads a response head within timeout_ms (-1: forever). Returns 0, or -1
 * with a message in err. Free with xe_http_resp_free. */
int xe_http_read_head(struct xe_conn *c, struct xe_http_resp *r, int timeout_ms,
                      char *err, size_t errlen);
void xe_http_resp_free(struct xe_http_resp *r);

/* A response body being read. */
/* How a body ends (xe_http_body.mode). */
enum { XE_BODY_LENGTH, XE_BODY_CHUNKED, XE_BODY_CLOSE };

struct xe_http_body {
	struct xe_conn *conn;
	int mode; /* length, chunked, until close */
	long long left;
	int done;
	int timeout_ms;
};

/* Starts reading the body that follows head r on c. */
void xe_http_body_init(struct xe_http_body *b, struct xe_conn *c,
                       const struct xe_http_resp *r, int timeout_ms);
/* Reads up to n body bytes: the count, 0 at the end, -1 on error/EOF too
 * early (errno set). */
ssize_t xe_http_body_read(struct xe_http_body *b, void *p, size_t n);
/* Reads at most max bytes of the body into a malloc'd string. */
char *xe_http_body_slurp(struct xe_http_body *b, size_t max);

/* Outcome of a transfer. */
enum xe_http_result {
	XE_HTTP_OK = 0,
	XE_HTTP_FAILED = -1,      /* tell the server Failed; it reports why */
	XE_HTTP_CLIENT_ERROR = -2 /* also print err and exit 1 (as xapi) */
};

/*
 * GETs url (resolved against base) and writes the body to the file path,
 * created exclusively with mode 0600, or to stdout when path is NULL.
 */
enum xe_http_result xe_http_get(const struct xe_target *base, const char *url,
                                const char *path, char *err, size_t errlen);
/*
 * PUTs the contents of fd (size bytes, or -1 when unknown: sent chunked) to
 * url. fd must be seekable to follow a redirect answered after the body
 * started.
 */
enum xe_http_result xe_http_put(const struct xe_target *base, const char *url,
                                int fd, long long size);

#endif
