/*
 * dqc_priv.h: what dqc.c (transport, connections, cluster requests) and
 * dqc_sql.c (OPEN, EXEC_SQL, QUERY_SQL) share. Not for other modules.
 */
#ifndef XAPID_DB_DQC_PRIV_H
#define XAPID_DB_DQC_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/dqc.h"
#include "util/buf.h"

/* Protocol constants (dqlite src/protocol.h, v1.11). */
#define DQC_PROTOCOL_VERSION 1
enum {
	DQC_REQ_LEADER = 0,
	DQC_REQ_OPEN = 3,
	DQC_REQ_EXEC_SQL = 8,
	DQC_REQ_QUERY_SQL = 9,
	DQC_REQ_ADD = 12,
	DQC_REQ_ASSIGN = 13,
	DQC_REQ_REMOVE = 14,
	DQC_REQ_CLUSTER = 16,
	DQC_REQ_TRANSFER = 17,
};
enum {
	DQC_RES_FAILURE = 0,
	DQC_RES_SERVER = 1,
	DQC_RES_SERVERS = 3,
	DQC_RES_DB = 4,
	DQC_RES_RESULT = 6,
	DQC_RES_ROWS = 7,
	DQC_RES_EMPTY = 8,
};
#define DQC_ROWS_DONE UINT64_C(0xffffffffffffffff)
#define DQC_ROWS_PART UINT64_C(0xeeeeeeeeeeeeeeee)

struct dqc {
	int fd;
	int timeout_ms;
	int errcode;
	bool broken;
	bool db_open;
	uint64_t db_id;
	char *address;
	struct buf out;   /* request being built: header + body */
	uint8_t *in;      /* receive buffer */
	size_t in_len;    /* bytes received into in */
	size_t in_off;    /* bytes of in already handed out */
	size_t in_cap;
};

/* A read cursor over a response body. */
struct dqc_cur {
	const uint8_t *p;
	size_t left;
};

/* n rounded up to a multiple of 8. */
size_t dqc_pad8(size_t n);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t dqc_now_ms(void);

/* Records a failure with the given code (c may be NULL), sets *err (when
 * err is not NULL) and returns -1. */
int dqc_fail(struct dqc *c, char **err, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Marks c broken after a transport failure (DQC_ETRANSPORT), sets *err and
 * returns -1. */
int dqc_tfail(struct dqc *c, char **err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Encoding: a little-endian u64, n zero bytes, NUL-terminated text padded
 * to 8 bytes. */
void dqc_put_u64(struct buf *b, uint64_t v);
void dqc_put_zeros(struct buf *b, size_t n);
void dqc_put_text(struct buf *b, const char *s);

/* Decoding from a cursor; each returns 0, or -1 if the body is too short
 * or malformed. Text and blobs point into the body. */
int dqc_get_u64(struct dqc_cur *k, uint64_t *v);
int dqc_get_text(struct dqc_cur *k, const char **s);
int dqc_get_blob(struct dqc_cur *k, const void **p, size_t *n);

/* Starts a request: empties c's output buffer, reserves the header and
 * returns the buffer to append the body to. */
struct buf *dqc_begin(struct dqc *c);
/* Fills in the header of the request built since dqc_begin() and sends it
 * before the deadline (dqc_now_ms() time). */
int dqc_send(struct dqc *c, uint8_t type, int64_t deadline, char **err);
/* Receives one response before the deadline; *body points into c's receive
 * buffer until the next receive. A FAILURE response becomes -1 with the
 * server's code (dqc_errcode) and message. */
int dqc_recv(struct dqc *c, int64_t deadline, uint8_t *type,
	     struct dqc_cur *body, char **err);
/* dqc_send() then dqc_recv() within c's timeout, expecting type want. */
int dqc_roundtrip(struct dqc *c, uint8_t type, uint8_t want,
		  struct dqc_cur *body, char **err);

#endif
