/*
 * jsonrpc: the JSON-RPC v1/v2 codec, byte-compatible with what xapi emits.
 *
 * Requests are parsed with jansson into xv trees (integer -> XV_INT, real ->
 * XV_FLOAT, true/false -> XV_BOOL, null -> XV_NIL, object -> XV_STRUCT in
 * member order). Responses are written directly, compact (no spaces), with
 * xapi's (Yojson's) escaping and float format. The request id is kept as
 * JSON text and echoed back verbatim.
 */
#ifndef XAPID_RPC_JSONRPC_H
#define XAPID_RPC_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/xv.h"

/* Deepest array/object nesting accepted in params. */
#define JSONRPC_MAX_DEPTH 64

enum jsonrpc_version {
	JSONRPC_V1 = 1, /* no "jsonrpc" member */
	JSONRPC_V2 = 2, /* "jsonrpc":"2.0" */
};

/* Parser results. */
enum jsonrpc_status {
	JSONRPC_OK = 0,
	/* Not JSON, not an object, no string "method", no string/integer "id",
	 * params not an array, nested too deep: answer HTTP 500. */
	JSONRPC_MALFORMED = -1,
	/* A request whose method/params hold invalid UTF-8 or characters not
	 * allowed in XML (e.g. "\u0001", as xapi checks UTF8_XML): answer the
	 * API failure INVALID_VALUE ["Invalid UTF-8 string in parameter"; bad]
	 * with the request's id and version. */
	JSONRPC_INVALID_VALUE = -2,
};

/* A parsed request. */
struct jsonrpc_call {
	enum jsonrpc_version version;
	char *id;      /* owned JSON text of the id ("7", "\"x\""); set on
			  JSONRPC_OK and JSONRPC_INVALID_VALUE */
	char *method;  /* owned; set on JSONRPC_OK and JSONRPC_INVALID_VALUE */
	xv *params;    /* owned XV_ARRAY; set on JSONRPC_OK only */
	char *bad;     /* owned; JSONRPC_INVALID_VALUE: the offending text,
			  invalid bytes replaced by U+FFFD */
	char err[128]; /* why parsing failed (for logs); "" on success */
};

/* A parsed response (client side). */
struct jsonrpc_response {
	enum jsonrpc_version version;
	bool ok;
	char *id;      /* owned JSON text of the id */
	xv *value;     /* owned; ok: the result */
	xv *error;     /* owned; !ok: XV_ARRAY [code, params...] for both v1
			  (the error array) and v2 (message, then the items
			  of data) */
	char err[128]; /* why parsing failed; "" on success */
};

/* Parses a request body of len bytes (the caller bounds len). Fills *call
 * (need not be initialised); returns a jsonrpc_status. Release *call with
 * jsonrpc_call_clear() whatever the result. Thread-safe. A missing or null
 * "params" is taken as []. */
int jsonrpc_parse_call(const char *body, size_t len, struct jsonrpc_call *call);

/* Frees what *call owns and zeroes it. */
void jsonrpc_call_clear(struct jsonrpc_call *call);

/* Appends the JSON encoding of v: XV_INT and XV_FLOAT numbers (floats as
 * Yojson: %.16g, or %.17g if that does not round-trip, ".0" appended to
 * integral values, NaN/Infinity/-Infinity), XV_DATETIME a string, XV_NIL null,
 * XV_STRUCT an object in member order. NULL is written as null. */
void jsonrpc_write_value(struct buf *b, const xv *v);

/* Appends s[0..n) as a JSON string literal, quotes included. */
void jsonrpc_write_string(struct buf *b, const char *s, size_t n);

/* Appends a success response: v1 {"result":V,"error":null,"id":ID},
 * v2 {"jsonrpc":"2.0","result":V,"id":ID}. id is JSON text (as in
 * struct jsonrpc_call; NULL means 0). */
void jsonrpc_write_success(struct buf *b, enum jsonrpc_version ver,
			   const char *id, const xv *result);

/* Appends a failure response with the error [code, params...] (strings):
 * v1 {"result":null,"error":[CODE,P...],"id":ID},
 * v2 {"jsonrpc":"2.0","error":{"code":1,"message":CODE,"data":[P...]},
 * "id":ID}. */
void jsonrpc_write_failure(struct buf *b, enum jsonrpc_version ver,
			   const char *id, const char *code,
			   const char *const *params, size_t nparams);

/* As jsonrpc_write_failure with the error as an XV_ARRAY [code, params...];
 * a desc that is not an array, or whose first item is not a string, is
 * written whole (v1) or as data with message "" (v2), as xapi does. */
void jsonrpc_write_failure_xv(struct buf *b, enum jsonrpc_version ver,
			      const char *id, const xv *desc);

/* Appends a request (client side): v1 {"method":M,"params":[...],"id":N},
 * v2 {"jsonrpc":"2.0","method":M,"params":[...],"id":N}. params is an
 * XV_ARRAY or NULL for []. */
void jsonrpc_write_call(struct buf *b, enum jsonrpc_version ver, int64_t id,
			const char *method, const xv *params);

/* Parses a response body (client side). Returns JSONRPC_OK or
 * JSONRPC_MALFORMED; release *resp with jsonrpc_response_clear(). */
int jsonrpc_parse_response(const char *body, size_t len,
			   struct jsonrpc_response *resp);

/* Frees what *resp owns and zeroes it. */
void jsonrpc_response_clear(struct jsonrpc_response *resp);

#endif
