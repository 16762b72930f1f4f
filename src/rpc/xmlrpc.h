/*
 * xmlrpc: the XML-RPC codec, byte-compatible with what xapi emits.
 *
 * Server side: xmlrpc_parse_call() turns a <methodCall> body into a method
 * name and an XV_ARRAY of parameters; xmlrpc_write_success(),
 * xmlrpc_write_failure() and xmlrpc_write_bare() write the one-line response
 * documents. Client side (tests, pool forwarding): xmlrpc_write_call() and
 * xmlrpc_parse_response(). xmlrpc_write_value() / xmlrpc_parse_value() convert
 * a single <value> (task results are stored as this text).
 *
 * Parsing uses libxml2 with no network access, no entity substitution and no
 * DTD: a document carrying a DOCTYPE is refused. Values nest at most
 * XMLRPC_MAX_DEPTH arrays/structs deep. Writers append to a struct buf and
 * keep it NUL-terminated; they never fail.
 */
#ifndef XAPID_RPC_XMLRPC_H
#define XAPID_RPC_XMLRPC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/xv.h"

/* Deepest array/struct nesting accepted by the parsers. */
#define XMLRPC_MAX_DEPTH 64

/* Parser results. */
enum xmlrpc_status {
	XMLRPC_OK = 0,
	/* Not well-formed XML, not the expected document, a bad scalar (e.g.
	 * <boolean>2</boolean>, <int>x</int>), too deep: answer HTTP 500. */
	XMLRPC_MALFORMED = -1,
	/* Well-formed, but a parameter is not valid UTF-8 (or, after base64
	 * decoding, not valid XML text): answer the API failure
	 * INVALID_VALUE ["Invalid UTF-8 string in parameter"; bad] as xapi. */
	XMLRPC_INVALID_VALUE = -2,
};

/* A parsed <methodCall>. */
struct xmlrpc_call {
	char *method; /* owned; set on XMLRPC_OK and XMLRPC_INVALID_VALUE */
	xv *params;   /* owned XV_ARRAY; set on XMLRPC_OK only */
	char *bad;    /* owned; XMLRPC_INVALID_VALUE: the offending text, each
			 invalid byte replaced by U+FFFD */
	char err[128]; /* why parsing failed (for logs); "" on success */
};

/* A parsed <methodResponse>. */
struct xmlrpc_response {
	bool ok;      /* Status Success, or a value without the Status wrapper */
	bool bare;    /* the value had no Status wrapper (system.listMethods) */
	xv *value;    /* owned; ok: the Value (or the bare value) */
	xv *error;    /* owned; !ok: ErrorDescription (normally an array of
			 strings [code, params...]); a <fault> becomes
			 ["fault", faultCode, faultString] */
	char err[128]; /* why parsing failed; "" on success */
};

/* Parses a methodCall body of len bytes (the caller bounds len). Fills
 * *call (which need not be initialised) and returns an xmlrpc_status;
 * release *call with xmlrpc_call_clear() whatever the result. Thread-safe. */
int xmlrpc_parse_call(const char *body, size_t len, struct xmlrpc_call *call);

/* Frees what *call owns and zeroes it. */
void xmlrpc_call_clear(struct xmlrpc_call *call);

/* Parses a document whose root is a single <value> (a task result, XVA
 * ova.xml) into *out (owned by the caller). Returns an xmlrpc_status; *out is
 * NULL unless XMLRPC_OK. err (may be NULL) receives the reason. */
int xmlrpc_parse_value(const char *text, size_t len, xv **out, char *err,
		       size_t errlen);

/* Parses a methodResponse body. Fills *resp (need not be initialised);
 * returns XMLRPC_OK or XMLRPC_MALFORMED. Release with
 * xmlrpc_response_clear() whatever the result. */
int xmlrpc_parse_response(const char *body, size_t len,
			  struct xmlrpc_response *resp);

/* Frees what *resp owns and zeroes it. */
void xmlrpc_response_clear(struct xmlrpc_response *resp);

/* Appends the xapi encoding of v, "<value>...</value>": strings untagged,
 * ints untagged decimal (<i4> if flagged XV_F_I4), <boolean>0|1</boolean>,
 * <double>%.16g</double>, <dateTime.iso8601>, <array><data>, <struct>, and
 * XV_NIL as "<value></value>". Text is escaped & < > " and control
 * characters other than TAB, LF and CR are dropped. */
void xmlrpc_write_value(struct buf *b, const xv *v);

/* Appends the escaped form of s[0..n) (as in element text). */
void xmlrpc_write_text(struct buf *b, const char *s, size_t n);

/* Appends a whole success response: <?xml version="1.0"?><methodResponse>
 * ...<member><name>Status</name><value>Success</value></member><member>
 * <name>Value</name>VALUE</member>...</methodResponse>, on one line. A NULL
 * value is written as "<value></value>". */
void xmlrpc_write_success(struct buf *b, const xv *value);

/* Appends a whole failure response with ErrorDescription [code, params...]
 * (all strings). */
void xmlrpc_write_failure(struct buf *b, const char *code,
			  const char *const *params, size_t nparams);

/* Appends a whole failure response whose ErrorDescription is desc (normally
 * an XV_ARRAY of strings [code, params...]). */
void xmlrpc_write_failure_xv(struct buf *b, const xv *desc);

/* Appends a response without the Status wrapper (system.listMethods):
 * <?xml version="1.0"?><methodResponse><params><param>VALUE</param>
 * </params></methodResponse>. */
void xmlrpc_write_bare(struct buf *b, const xv *value);

/* Appends a methodCall for method with the items of params (an XV_ARRAY;
 * NULL means no parameters), as xapi's client writes it. */
void xmlrpc_write_call(struct buf *b, const char *method, const xv *params);

#endif
