/*
 * http_int: what the files of the HTTP front door share (not for others):
 * http.c (listeners, RPC endpoints, /cli, /pool/xmldbdump), http_xfer.c
 * (/console, /raft, /migrate: relays over upgraded connections), http_vdi.c
 * (/export_raw_vdi, /import_raw_vdi), http_xva.c (/export, /import) and
 * http_raw.c (bodies written into the socket directly).
 */
#ifndef XAPID_RPC_HTTP_INT_H
#define XAPID_RPC_HTTP_INT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rpc/api.h"
#include "util/buf.h"

struct vdi_import;

struct http_req {
	struct buf body;
	bool too_big;
	size_t limit;
	struct vdi_import *imp; /* PUT /import_raw_vdi: the body goes here */
	char *up_task;          /* its task (progress, cancel) */
	char *up_vdi;           /* the VDI written */
	bool up_created;        /* made for this upload: removed if it fails */
	uint64_t up_total, up_done; /* Content-Length (0: unknown), bytes so far */
	struct api_err *up_err; /* the upload cannot be taken */
	struct xva_import *xva; /* PUT /import: the import the body feeds */
	char *xva_task;
	char *redirect; /* the member the upload is redirected to */
};

/* Queues b (taken) as the answer, with a content type. */
enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status,
			   const char *ctype, struct buf *b);
/* A fresh API context for a request (origin, local). */
void http_ctx_init(struct api_ctx *ctx, struct MHD_Connection *c, bool local);
/* Authenticates by session_id (query or cookie), or the Unix socket. */
struct api_err *http_auth(struct MHD_Connection *c, bool local,
			  struct api_ctx *ctx);
/* Answers 302 to the same request (path, query) on the pool member at
 * address, over HTTPS, as xapi's importexport.ml return_302_redirect: the
 * member that sees the disks serves it (http_xva.c). */
enum MHD_Result http_redirect(struct MHD_Connection *c, const char *address,
                              const char *path);
/* Answers an error (and fails the task when given); takes err. */
enum MHD_Result http_fail(struct MHD_Connection *c, const char *task,
			  struct api_err *err, unsigned status);

/* ---- http_raw.c: a GET answered by writing into the socket ourselves ----
 * libmicrohttpd copies every byte of a body through its buffer; a disk's
 * contents instead go from the page cache to the socket with sendfile, and
 * holes from the zero page. Plain (non-TLS) connections only, in the
 * connection's own thread; the handler then returns http_raw_close's
 * result, so MHD closes the connection without writing to it again. */
struct http_raw;
/* The writer of connection c, or NULL if c is TLS (use an MHD response). */
struct http_raw *http_raw_open(struct MHD_Connection *c);
/* Writes the head (status 200, 400 ...; Connection: close) of a body of
 * length bytes (-1: unknown, HTTP/1.0 and the close ends the body, as
 * xapi's exports) of type ctype, with extra headers (name, value, ...,
 * NULL).
 * From here on the connection is ours. Returns 0, or -1 if the client went
 * away. */
int http_raw_head(struct http_raw *w, unsigned status, int64_t length,
                  const char *ctype, const char *const *headers);
/* Reads at most n bytes of a request body that MHD has not read: the count,
 * 0 at the end of the stream, -1 with errno (ETIMEDOUT after 10 min). */
ssize_t http_raw_read(struct http_raw *w, void *p, size_t n);
/* Body bytes: n bytes at p; len bytes of file fd at off; len zeros.
 * Return 0, or -1 (the client went away or was idle 10 min, or a short
 * file); after a failure every call fails. */
int http_raw_buf(struct http_raw *w, const void *p, size_t n);
int http_raw_file(struct http_raw *w, int fd, int64_t off, int64_t len);
int http_raw_zeros(struct http_raw *w, int64_t len);
/* Body bytes written so far. */
int64_t http_raw_sent(const struct http_raw *w);
/* Answers err (taken) as http_fail does, with the task failed if given;
 * then as http_raw_close. */
enum MHD_Result http_raw_fail(struct http_raw *w, const char *task,
                              struct api_err *err, unsigned status);
/* Frees w (NULL is fine); the handler returns the result (MHD_NO). */
enum MHD_Result http_raw_close(struct http_raw *w);
/* Whether this connection's thread answered through http_raw (MHD then
 * reports the closing as an application error: not one); and the reset at
 * each new request. */
bool http_raw_took_connection(void);
void http_raw_reset(void);

/* A plain-text answer. */
enum MHD_Result http_text(struct MHD_Connection *c, unsigned status,
                          const char *text);
/* Whether the request carries the pool secret (an internal call). */
bool http_pool_internal(struct MHD_Connection *c);

/* POST /raft: a pool member's dqlite node reaching ours (http_xfer.c). */
enum MHD_Result http_raft(struct MHD_Connection *c);
/* POST /migrate?token=T: the destination's end of a live migration
 * (http_xfer.c). */
enum MHD_Result http_migrate(struct MHD_Connection *c, struct http_req *rq);

/* /console: relays the VM's serial console over an HTTP upgrade. */
enum MHD_Result http_console(struct MHD_Connection *c, bool local);
/* GET /export_raw_vdi?vdi=&format=raw|vhd[&base=] (http_vdi.c) */
enum MHD_Result http_export_vdi(struct MHD_Connection *c, bool local);
/* PUT /import_raw_vdi: the first call (where the body goes), each piece
 * of the body, and the end. */
void http_import_begin(struct MHD_Connection *c, struct http_req *rq, bool local);
void http_import_data(struct http_req *rq, const char *data, size_t len);
/* The request is over (any way): frees the import state, and removes a
 * VDI made for an upload that did not complete. */
void http_import_cleanup(struct http_req *rq);
enum MHD_Result http_import_end(struct MHD_Connection *c, struct http_req *rq);
/* After the first piece of a plain upload of known length: the rest read
 * from the socket directly (4 MiB reads, no MHD buffer), then the answer;
 * MHD_YES (nothing done) on a TLS connection. */
enum MHD_Result http_import_direct(struct MHD_Connection *c,
                                   struct http_req *rq);

/* GET /export and /export_metadata (metadata): a VM's XVA stream. */
enum MHD_Result http_xva_export(struct MHD_Connection *c, bool local, bool metadata);
/* PUT /import and /import_metadata: the first call, each piece of the
 * body, and the end (the task's result is the new VM refs). */
void http_xva_import_begin(struct MHD_Connection *c, struct http_req *rq, bool local,
			   bool metadata);
void http_xva_import_data(struct http_req *rq, const char *data, size_t n);
enum MHD_Result http_xva_import_end(struct MHD_Connection *c, struct http_req *rq);
/* As http_import_direct, for an XVA upload. */
enum MHD_Result http_xva_import_direct(struct MHD_Connection *c,
                                       struct http_req *rq);

#endif
