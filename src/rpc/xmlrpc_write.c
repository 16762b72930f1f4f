/* xmlrpc_write: the XML-RPC writers, byte-compatible with xapi (see
 * xmlrpc.h). Everything is appended in runs with one bounds check per run:
 * a get_all_records of 10,000 records is written in tens of milliseconds. */
#include "xmlrpc.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Per byte: 0 copy, 1..4 the entity in xr_ent, 5 drop, 6 NUL (the end of
 * a C string; dropped inside counted text). */
static const unsigned char xr_class[256] = {
    [0] = 6,   [1 ... 8] = 5, [11 ... 12] = 5, [14 ... 31] = 5,
    ['&'] = 1, ['<'] = 2,     ['>'] = 3,       ['"'] = 4,
};
static const char *const xr_ent[] = {"", "&amp;", "&lt;", "&gt;", "&quot;"};
static const unsigned char xr_entlen[] = {0, 5, 4, 4, 6};

/* Appends the escaped form of s[0..n). */
static void
xr_text(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	const unsigned char *run = p;

	if (b->cap - b->len <= n)
		buf_reserve(b, n);
	while (p < end) {
		unsigned char k = xr_class[*p];
		if (!k) {
			p++;
			continue;
		}
		buf_put(b, run, (size_t)(p - run));
		if (k < 5)
			buf_put(b, xr_ent[k], xr_entlen[k]);
		run = ++p;
	}
	buf_put(b, run, (size_t)(p - run));
}

/* Appends the escaped form of the C string s, in one pass (no strlen). */
static void
xr_textz(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	for (;;) {
		unsigned char k = xr_class[*p];
		if (!k) {
			p++;
			continue;
		}
		buf_put(b, run, (size_t)(p - run));
		if (k == 6)
			return;
		if (k < 5)
			buf_put(b, xr_ent[k], xr_entlen[k]);
		run = ++p;
	}
}

void
xmlrpc_write_text(struct buf *b, const char *s, size_t n)
{
	xr_text(b, s, n);
	buf_term(b);
}

/* Writes v in decimal at the end of out[24]; returns the start. */
static char *
xr_i64(char out[24], int64_t v)
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

static void
xr_value(struct buf *b, const xv *v)
{
	char tmp[40];
	char *p;
	int n;

	if (!v) {
		BUF_LIT(b, "<value></value>");
		return;
	}
	switch (v->type) {
	case XV_NIL:
		BUF_LIT(b, "<value></value>");
		break;
	case XV_STRING:
		BUF_LIT(b, "<value>");
		xr_textz(b, v->u.s);
		BUF_LIT(b, "</value>");
		break;
	case XV_INT:
		p = xr_i64(tmp, v->u.i);
		if (v->flags & XV_F_I4) {
			BUF_LIT(b, "<value><i4>");
			buf_put(b, p, (size_t)(tmp + 24 - p));
			BUF_LIT(b, "</i4></value>");
		} else {
			BUF_LIT(b, "<value>");
			buf_put(b, p, (size_t)(tmp + 24 - p));
			BUF_LIT(b, "</value>");
		}
		break;
	case XV_FLOAT:
		BUF_LIT(b, "<value><double>");
		/* As OCaml's Printf "%.16g": nan, inf, -inf. */
		if (isnan(v->u.f))
			n = snprintf(tmp, sizeof(tmp), "nan");
		else
			n = snprintf(tmp, sizeof(tmp), "%.16g", v->u.f);
		buf_put(b, tmp, (size_t)n);
		BUF_LIT(b, "</double></value>");
		break;
	case XV_BOOL:
		if (v->u.b)
			BUF_LIT(b, "<value><boolean>1</boolean></value>");
		else
			BUF_LIT(b, "<value><boolean>0</boolean></value>");
		break;
	case XV_DATETIME:
		BUF_LIT(b, "<value><dateTime.iso8601>");
		xr_textz(b, v->u.s);
		BUF_LIT(b, "</dateTime.iso8601></value>");
		break;
	case XV_ARRAY:
		BUF_LIT(b, "<value><array><data>");
		for (size_t i = 0; i < v->u.a.n; i++)
			xr_value(b, v->u.a.items[i]);
		BUF_LIT(b, "</data></array></value>");
		break;
	case XV_STRUCT:
		BUF_LIT(b, "<value><struct>");
		for (size_t i = 0; i < v->u.st.n; i++) {
			const char *name = v->u.st.names[i];
			BUF_LIT(b, "<member><name>");
			xr_textz(b, name);
			BUF_LIT(b, "</name>");
			xr_value(b, v->u.st.vals[i]);
			BUF_LIT(b, "</member>");
		}
		BUF_LIT(b, "</struct></value>");
		break;
	case XV_GEN: {
		char *name = NULL;
		xv *item;
		if (v->u.g.is_struct)
			BUF_LIT(b, "<value><struct>");
		else
			BUF_LIT(b, "<value><array><data>");
		while ((item = v->u.g.next(v->u.g.state, &name))) {
			if (v->u.g.is_struct) {
				BUF_LIT(b, "<member><name>");
				xr_textz(b, name ? name : "");
				BUF_LIT(b, "</name>");
				xr_value(b, item);
				BUF_LIT(b, "</member>");
			} else {
				xr_value(b, item);
			}
			xv_free(item);
			free(name);
			name = NULL;
		}
		if (v->u.g.is_struct)
			BUF_LIT(b, "</struct></value>");
		else
			BUF_LIT(b, "</data></array></value>");
		break;
	}
	}
}

void
xmlrpc_write_value(struct buf *b, const xv *v)
{
	xr_value(b, v);
	buf_term(b);
}

#define XR_HEAD "<?xml version=\"1.0\"?><methodResponse><params><param>"
#define XR_TAIL "</param></params></methodResponse>"

void
xmlrpc_write_success(struct buf *b, const xv *value)
{
	BUF_LIT(b, XR_HEAD
	        "<value><struct><member><name>Status</name>"
	        "<value>Success</value></member><member><name>Value</name>");
	xr_value(b, value);
	BUF_LIT(b, "</member></struct></value>" XR_TAIL);
	buf_term(b);
}

/* The start of a failure document, up to the ErrorDescription value. */
#define XR_FAIL_HEAD                                                           \
	XR_HEAD "<value><struct><member><name>Status</name>"                   \
	        "<value>Failure</value></member><member>"                      \
	        "<name>ErrorDescription</name>"

void
xmlrpc_write_failure(struct buf *b, const char *code, const char *const *params,
                     size_t nparams)
{
	BUF_LIT(b, XR_FAIL_HEAD "<value><array><data><value>");
	xr_textz(b, code);
	BUF_LIT(b, "</value>");
	for (size_t i = 0; i < nparams; i++) {
		const char *s = params[i] ? params[i] : "";
		BUF_LIT(b, "<value>");
		xr_textz(b, s);
		BUF_LIT(b, "</value>");
	}
	BUF_LIT(b, "</data></array></value></member></struct></value>" XR_TAIL);
	buf_term(b);
}

void
xmlrpc_write_failure_xv(struct buf *b, const xv *desc)
{
	BUF_LIT(b, XR_FAIL_HEAD);
	xr_value(b, desc);
	BUF_LIT(b, "</member></struct></value>" XR_TAIL);
	buf_term(b);
}

void
xmlrpc_write_bare(struct buf *b, const xv *value)
{
	BUF_LIT(b, XR_HEAD);
	xr_value(b, value);
	BUF_LIT(b, XR_TAIL);
	buf_term(b);
}

void
xmlrpc_write_call(struct buf *b, const char *method, const xv *params)
{
	BUF_LIT(b, "<?xml version=\"1.0\"?><methodCall><methodName>");
	xr_textz(b, method);
	BUF_LIT(b, "</methodName><params>");
	if (params && params->type == XV_ARRAY) {
		for (size_t i = 0; i < params->u.a.n; i++) {
			BUF_LIT(b, "<param>");
			xr_value(b, params->u.a.items[i]);
			BUF_LIT(b, "</param>");
		}
	}
	BUF_LIT(b, "</params></methodCall>");
	buf_term(b);
}
