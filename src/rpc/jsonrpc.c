/* jsonrpc: the JSON-RPC v1/v2 codec (see jsonrpc.h). */
#include "jsonrpc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/xalloc.h"

/* ---- writer ---- */

/* Per byte: 0 copy, 1..7 the escape in jr_esc, 8 \u00xx (as Yojson), 9 NUL
 * (the end of a C string; \u0000 inside counted text). */
static const unsigned char jr_class[256] = {
    [0] = 9,         [1 ... 7] = 8, ['\b'] = 3, ['\t'] = 7,
    ['\n'] = 5,      [11] = 8,      ['\f'] = 4, ['\r'] = 6,
    [14 ... 31] = 8, ['"'] = 1,     ['\\'] = 2, [0x7f] = 8,
};
static const char *const jr_esc[] = {"",    "\\\"", "\\\\", "\\b",
                                     "\\f", "\\n",  "\\r",  "\\t"};

/* Appends the escape for byte c of class k (1..9). */
static void
jr_escape(struct buf *b, unsigned char k, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (k < 8) {
		buf_put(b, jr_esc[k], 2);
	} else {
		char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
		buf_put(b, u, 6);
	}
}

/* Appends s[0..n) as a JSON string literal. */
static void
jr_str(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	const unsigned char *run = p;

	if (b->cap - b->len <= n + 2)
		buf_reserve(b, n + 2);
	b->data[b->len++] = '"';
	while (p < end) {
		unsigned char k = jr_class[*p];
		if (!k) {
			p++;
			continue;
		}
		buf_put(b, run, (size_t)(p - run));
		jr_escape(b, k, *p);
		run = ++p;
	}
	buf_put(b, run, (size_t)(p - run));
	buf_put(b, "\"", 1);
}

/* Appends the C string s as a JSON string literal, in one pass. */
static void
jr_strz(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	buf_put(b, "\"", 1);
	for (;;) {
		unsigned char k = jr_class[*p];
		if (!k) {
			p++;
			continue;
		}
		buf_put(b, run, (size_t)(p - run));
		if (k == 9)
			break;
		jr_escape(b, k, *p);
		run = ++p;
	}
	buf_put(b, "\"", 1);
}

/* Writes v in decimal at the end of out[24]; returns the start. */
static char *
jr_i64(char out[24], int64_t v)
{
	char *p = out + 24;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	return p;
}

void
jsonrpc_write_string(struct buf *b, const char *s, size_t n)
{
	jr_str(b, s, n);
	buf_term(b);
}

/* Formats f as Yojson's write_float does; returns the length. */
static int
jr_float(char out[40], double f)
{
	int n;

	if (isnan(f))
		return snprintf(out, 40, "NaN");
	if (isinf(f))
		return snprintf(out, 40, f > 0 ? "Infinity" : "-Infinity");
	n = snprintf(out, 40, "%.16g", f);
	if (strtod(out, NULL) != f)
		n = snprintf(out, 40, "%.17g", f);
	if (strspn(out, "-0123456789") == (size_t)n) {
		memcpy(out + n, ".0", 3);
		n += 2;
	}
	return n;
}

static void
jr_value(struct buf *b, const xv *v)
{
	char tmp[40];
	char *p;
	int n;

	if (!v) {
		BUF_LIT(b, "null");
		return;
	}
	switch (v->type) {
	case XV_NIL:
		BUF_LIT(b, "null");
		break;
	case XV_STRING:
	case XV_DATETIME:
		jr_strz(b, v->u.s);
		break;
	case XV_INT:
		p = jr_i64(tmp, v->u.i);
		buf_put(b, p, (size_t)(tmp + 24 - p));
		break;
	case XV_FLOAT:
		n = jr_float(tmp, v->u.f);
		buf_put(b, tmp, (size_t)n);
		break;
	case XV_BOOL:
		if (v->u.b)
			BUF_LIT(b, "true");
		else
			BUF_LIT(b, "false");
		break;
	case XV_ARRAY:
		BUF_LIT(b, "[");
		for (size_t i = 0; i < v->u.a.n; i++) {
			if (i)
				BUF_LIT(b, ",");
			jr_value(b, v->u.a.items[i]);
		}
		BUF_LIT(b, "]");
		break;
	case XV_STRUCT:
		BUF_LIT(b, "{");
		for (size_t i = 0; i < v->u.st.n; i++) {
			const char *k = v->u.st.names[i];
			if (i)
				BUF_LIT(b, ",");
			jr_strz(b, k);
			BUF_LIT(b, ":");
			jr_value(b, v->u.st.vals[i]);
		}
		BUF_LIT(b, "}");
		break;
	case XV_GEN: {
		char *name = NULL;
		xv *item;
		bool first = true;
		if (v->u.g.is_struct)
			BUF_LIT(b, "{");
		else
			BUF_LIT(b, "[");
		while ((item = v->u.g.next(v->u.g.state, &name))) {
			if (!first)
				BUF_LIT(b, ",");
			first = false;
			if (v->u.g.is_struct) {
				jr_strz(b, name ? name : "");
				BUF_LIT(b, ":");
			}
			jr_value(b, item);
			xv_free(item);
			free(name);
			name = NULL;
		}
		if (v->u.g.is_struct)
			BUF_LIT(b, "}");
		else
			BUF_LIT(b, "]");
		break;
	}
	}
}

void
jsonrpc_write_value(struct buf *b, const xv *v)
{
	jr_value(b, v);
	buf_term(b);
}

static void
jr_id(struct buf *b, const char *id)
{
	BUF_LIT(b, ",\"id\":");
	if (id)
		buf_put(b, id, strlen(id));
	else
		BUF_LIT(b, "0");
	BUF_LIT(b, "}");
}

void
jsonrpc_write_success(struct buf *b, enum jsonrpc_version ver, const char *id,
                      const xv *result)
{
	if (ver == JSONRPC_V2) {
		BUF_LIT(b, "{\"jsonrpc\":\"2.0\",\"result\":");
		jr_value(b, result);
	} else {
		BUF_LIT(b, "{\"result\":");
		jr_value(b, result);
		BUF_LIT(b, ",\"error\":null");
	}
	jr_id(b, id);
	buf_term(b);
}

void
jsonrpc_write_failure(struct buf *b, enum jsonrpc_version ver, const char *id,
                      const char *code, const char *const *params,
                      size_t nparams)
{
	if (ver == JSONRPC_V2) {
		BUF_LIT(b, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
		           "\"message\":");
		jr_strz(b, code);
		BUF_LIT(b, ",\"data\":[");
	} else {
		BUF_LIT(b, "{\"result\":null,\"error\":[");
		jr_strz(b, code);
		if (nparams)
			BUF_LIT(b, ",");
	}
	for (size_t i = 0; i < nparams; i++) {
		const char *s = params[i] ? params[i] : "";
		if (i)
			BUF_LIT(b, ",");
		jr_strz(b, s);
	}
	if (ver == JSONRPC_V2)
		BUF_LIT(b, "]}");
	else
		BUF_LIT(b, "]");
	jr_id(b, id);
	buf_term(b);
}

void
jsonrpc_write_failure_xv(struct buf *b, enum jsonrpc_version ver,
                         const char *id, const xv *desc)
{
	bool coded = desc && desc->type == XV_ARRAY && desc->u.a.n &&
	             desc->u.a.items[0]->type == XV_STRING;

	if (ver != JSONRPC_V2) {
		BUF_LIT(b, "{\"result\":null,\"error\":");
		jr_value(b, desc);
	} else if (coded) {
		BUF_LIT(b, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
		           "\"message\":");
		jr_value(b, desc->u.a.items[0]);
		BUF_LIT(b, ",\"data\":[");
		for (size_t i = 1; i < desc->u.a.n; i++) {
			if (i > 1)
				BUF_LIT(b, ",");
			jr_value(b, desc->u.a.items[i]);
		}
		BUF_LIT(b, "]}");
	} else {
		BUF_LIT(b, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
		           "\"message\":\"\",\"data\":");
		jr_value(b, desc);
		BUF_LIT(b, "}");
	}
	jr_id(b, id);
	buf_term(b);
}

void
jsonrpc_write_call(struct buf *b, enum jsonrpc_version ver, int64_t id,
                   const char *method, const xv *params)
{
	char tmp[32];
	int n;

	if (ver == JSONRPC_V2)
		BUF_LIT(b, "{\"jsonrpc\":\"2.0\",\"method\":");
	else
		BUF_LIT(b, "{\"method\":");
	jr_strz(b, method);
	BUF_LIT(b, ",\"params\":");
	if (params && params->type == XV_ARRAY)
		jr_value(b, params);
	else
		BUF_LIT(b, "[]");
	n = snprintf(tmp, sizeof(tmp), "%lld", (long long)id);
	BUF_LIT(b, ",\"id\":");
	buf_put(b, tmp, (size_t)n);
	BUF_LIT(b, "}");
	buf_term(b);
}

/* ---- parser ---- */

struct jr_ctx {
	int status;    /* first hard error or 0 */
	bool check;    /* apply xapi's UTF8_XML check to strings */
	bool repaired; /* the text had invalid UTF-8, now U+FFFD */
	char *bad;     /* first string failing the check (soft error) */
	char *err;
	size_t errlen;
};

static xv *jr_fail(struct jr_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first hard error (JSONRPC_MALFORMED); returns NULL. */
static xv *
jr_fail(struct jr_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->status)
		return NULL;
	c->status = JSONRPC_MALFORMED;
	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return NULL;
}

/* Notes s[0..n) as the offending text if it fails the UTF8_XML check. */
static void
jr_check(struct jr_ctx *c, const char *s, size_t n)
{
	if (!c->check || c->bad)
		return;
	if (strlen(s) != n || !xv_text_valid(s, n) ||
	    (c->repaired && strstr(s, "\xef\xbf\xbd")))
		c->bad = xv_utf8_repair(s, strlen(s));
}

/* Converts a jansson value; depth counts the enclosing arrays/objects. */
static xv *
jr_conv(struct jr_ctx *c, json_t *j, int depth)
{
	const char *key;
	json_t *item;
	size_t i;
	xv *v;

	switch (json_typeof(j)) {
	case JSON_STRING:
		jr_check(c, json_string_value(j), json_string_length(j));
		return xv_strn(json_string_value(j), json_string_length(j));
	case JSON_INTEGER:
		return xv_int(json_integer_value(j));
	case JSON_REAL:
		return xv_float(json_real_value(j));
	case JSON_TRUE:
		return xv_bool(true);
	case JSON_FALSE:
		return xv_bool(false);
	case JSON_NULL:
		return xv_nil();
	case JSON_ARRAY:
		if (depth >= JSONRPC_MAX_DEPTH)
			return jr_fail(c, "values nested too deeply");
		v = xv_array();
		json_array_foreach(j, i, item)
		{
			xv *e = jr_conv(c, item, depth + 1);
			if (!e) {
				xv_free(v);
				return NULL;
			}
			xv_push(v, e);
		}
		return v;
	case JSON_OBJECT:
		if (depth >= JSONRPC_MAX_DEPTH)
			return jr_fail(c, "values nested too deeply");
		v = xv_struct();
		json_object_foreach(j, key, item)
		{
			xv *e = jr_conv(c, item, depth + 1);
			if (!e) {
				xv_free(v);
				return NULL;
			}
			jr_check(c, key, strlen(key));
			xv_set(v, key, e);
		}
		return v;
	}
	return jr_fail(c, "unknown JSON type");
}

/* The JSON text of an id (integer or string), or NULL. */
static char *
jr_idtext(json_t *id)
{
	struct buf b = BUF_INIT;

	if (json_is_integer(id)) {
		buf_addf(&b, "%lld", (long long)json_integer_value(id));
	} else if (json_is_string(id)) {
		jr_str(&b, json_string_value(id), json_string_length(id));
		buf_term(&b);
	} else {
		return NULL;
	}
	return buf_steal(&b);
}

/* Parses text (repairing invalid UTF-8 first, which sets c->repaired). */
static json_t *
jr_load(struct jr_ctx *c, const char *text, size_t len)
{
	json_error_t e;
	char *fixed = NULL;
	json_t *j;

	if (!xv_utf8_valid(text, len)) {
		fixed = xv_utf8_repair(text, len);
		text = fixed;
		len = strlen(fixed);
		c->repaired = true;
	}
	j = json_loadb(text, len, JSON_ALLOW_NUL, &e);
	free(fixed);
	if (!j)
		jr_fail(c, "JSON error at %d:%d: %s", e.line, e.column, e.text);
	else if (!json_is_object(j))
		jr_fail(c, "not a JSON object");
	if (c->status) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Fills call from the request object j. */
static void
jr_call(struct jr_ctx *c, json_t *j, struct jsonrpc_call *call)
{
	json_t *m = json_object_get(j, "method");
	json_t *p = json_object_get(j, "params");
	json_t *ver = json_object_get(j, "jsonrpc");

	call->version =
	    json_is_string(ver) && strcmp(json_string_value(ver), "2.0") == 0
	        ? JSONRPC_V2
	        : JSONRPC_V1;
	if (!(call->id = jr_idtext(json_object_get(j, "id")))) {
		jr_fail(c, "no string or integer id");
		return;
	}
	if (!json_is_string(m)) {
		jr_fail(c, "no string method");
		return;
	}
	jr_check(c, json_string_value(m), json_string_length(m));
	call->method = xstrndup(json_string_value(m), json_string_length(m));
	if (!p || json_is_null(p)) {
		call->params = xv_array();
	} else if (json_is_array(p)) {
		call->params = jr_conv(c, p, 0);
	} else if (json_is_object(p)) {
		xv *st = jr_conv(c, p, 1);
		if (st)
			call->params = xv_push(xv_array(), st);
	} else {
		jr_fail(c, "params is not an array");
	}
}

int
jsonrpc_parse_call(const char *body, size_t len, struct jsonrpc_call *call)
{
	struct jr_ctx c = {.check = true};
	json_t *j;

	memset(call, 0, sizeof(*call));
	call->version = JSONRPC_V1;
	c.err = call->err;
	c.errlen = sizeof(call->err);
	j = jr_load(&c, body, len);
	if (j) {
		jr_call(&c, j, call);
		json_decref(j);
	}
	if (!c.status && c.repaired && !c.bad)
		c.bad = xstrdup(call->method);
	if (c.status || c.bad) {
		xv_free(call->params);
		call->params = NULL;
	}
	if (c.status) {
		free(c.bad);
		XFREE(call->method);
		XFREE(call->id);
		return c.status;
	}
	if (c.bad) {
		call->bad = c.bad;
		snprintf(call->err, sizeof(call->err),
		         "invalid UTF-8 in a parameter");
		return JSONRPC_INVALID_VALUE;
	}
	return JSONRPC_OK;
}

void
jsonrpc_call_clear(struct jsonrpc_call *call)
{
	free(call->id);
	free(call->method);
	xv_free(call->params);
	free(call->bad);
	memset(call, 0, sizeof(*call));
}

/* Fills resp from a v2 "error" object. */
static void
jr_error2(struct jr_ctx *c, json_t *e, struct jsonrpc_response *resp)
{
	json_t *msg = json_object_get(e, "message");
	json_t *data = json_object_get(e, "data");
	xv *d;

	if (!json_is_object(e) ||
	    !json_is_integer(json_object_get(e, "code")) ||
	    !json_is_string(msg)) {
		jr_fail(c, "bad error object");
		return;
	}
	resp->error = xv_push(xv_array(), xv_strn(json_string_value(msg),
	                                          json_string_length(msg)));
	if (!data || !(d = jr_conv(c, data, 1)))
		return;
	if (d->type == XV_ARRAY) {
		for (size_t i = 0; i < d->u.a.n; i++)
			xv_push(resp->error, d->u.a.items[i]);
		d->u.a.n = 0;
		xv_free(d);
	} else {
		xv_push(resp->error, d);
	}
}

/* Fills resp from the response object j. */
static void
jr_response(struct jr_ctx *c, json_t *j, struct jsonrpc_response *resp)
{
	json_t *ver = json_object_get(j, "jsonrpc");
	json_t *r = json_object_get(j, "result");
	json_t *e = json_object_get(j, "error");

	if (!(resp->id = jr_idtext(json_object_get(j, "id")))) {
		jr_fail(c, "no string or integer id");
		return;
	}
	if (json_is_string(ver) && !strcmp(json_string_value(ver), "2.0")) {
		resp->version = JSONRPC_V2;
		if (r && !e) {
			resp->ok = true;
			resp->value = jr_conv(c, r, 0);
		} else if (e && !r) {
			jr_error2(c, e, resp);
		} else {
			jr_fail(c, "need exactly one of result and error");
		}
		return;
	}
	resp->version = JSONRPC_V1;
	if (!r || !e) {
		jr_fail(c, "v1 response needs result and error");
	} else if (json_is_null(e)) {
		resp->ok = true;
		resp->value = jr_conv(c, r, 0);
	} else if (json_is_null(r)) {
		xv *d = jr_conv(c, e, 0);
		if (d && d->type != XV_ARRAY)
			d = xv_push(xv_array(), d);
		resp->error = d;
	} else {
		jr_fail(c, "result and error both set");
	}
}

int
jsonrpc_parse_response(const char *body, size_t len,
                       struct jsonrpc_response *resp)
{
	struct jr_ctx c = {0};
	json_t *j;

	memset(resp, 0, sizeof(*resp));
	c.err = resp->err;
	c.errlen = sizeof(resp->err);
	j = jr_load(&c, body, len);
	if (c.repaired)
		jr_fail(&c, "invalid UTF-8 in the response");
	if (j) {
		if (!c.status)
			jr_response(&c, j, resp);
		json_decref(j);
	}
	if (c.status) {
		char err[sizeof(resp->err)];
		memcpy(err, resp->err, sizeof(err));
		jsonrpc_response_clear(resp);
		memcpy(resp->err, err, sizeof(err));
		return JSONRPC_MALFORMED;
	}
	return JSONRPC_OK;
}

void
jsonrpc_response_clear(struct jsonrpc_response *resp)
{
	free(resp->id);
	xv_free(resp->value);
	xv_free(resp->error);
	memset(resp, 0, sizeof(*resp));
}
