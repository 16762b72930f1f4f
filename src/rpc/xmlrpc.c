/* xmlrpc: the XML-RPC parsers (see xmlrpc.h; the writers are in
 * xmlrpc_write.c). */
#include "xmlrpc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "util/xalloc.h"

/* State of one parse. */
struct xr_ctx {
	int status;	   /* first hard error (XMLRPC_MALFORMED) or 0 */
	bool dtd;	   /* a DOCTYPE or entity declaration was seen */
	char *bad;	   /* first invalid decoded text (soft error) */
	char *err;	   /* caller's message buffer */
	size_t errlen;
};

/* Records the first hard error (XMLRPC_MALFORMED) and its reason. Returns
 * NULL for the callers' convenience. */
static xv *
xr_fail(struct xr_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static xv *
xr_fail(struct xr_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->status)
		return NULL;
	c->status = XMLRPC_MALFORMED;
	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return NULL;
}

static pthread_once_t xr_once = PTHREAD_ONCE_INIT;

static void
xr_init(void)
{
	xmlInitParser();
}

/* SAX hooks: refuse any DTD (hence any entity declaration) outright. */
static void
xr_sax_dtd(void *ctx, const xmlChar *name, const xmlChar *ext,
	   const xmlChar *sys)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xr_ctx *c = ctxt->_private;

	(void)name;
	(void)ext;
	(void)sys;
	c->dtd = true;
	xmlStopParser(ctxt);
}

static void
xr_sax_entity(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
	      const xmlChar *sys, xmlChar *content)
{
	(void)type;
	(void)content;
	xr_sax_dtd(ctx, name, pub, sys);
}

/* Errors are collected from the context, never printed. */
static void
xr_sax_serror(void *data, xmlErrorPtr e)
{
	(void)data;
	(void)e;
}

#define XR_OPTS                                                                \
	(XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |           \
	 XML_PARSE_NOCDATA | XML_PARSE_IGNORE_ENC | XML_PARSE_COMPACT)

/* Parses text into a tree (NULL on failure, with c->status set). */
static xmlDocPtr
xr_read(struct xr_ctx *c, const char *text, size_t len)
{
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;

	pthread_once(&xr_once, xr_init);
	if (len > INT_MAX)
		return (xmlDocPtr)xr_fail(c, "document too large");
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return (xmlDocPtr)xr_fail(c, "out of memory");
	ctxt->_private = c;
	ctxt->sax->internalSubset = xr_sax_dtd;
	ctxt->sax->entityDecl = xr_sax_entity;
	ctxt->sax->serror = xr_sax_serror;
	doc = xmlCtxtReadMemory(ctxt, text, (int)len, NULL, "UTF-8", XR_OPTS);
	if (c->dtd) {
		xmlFreeDoc(doc);
		doc = NULL;
		xr_fail(c, "DTDs are not allowed");
	} else if (!doc) {
		const char *m = ctxt->lastError.message;
		size_t ml = m ? strcspn(m, "\n") : 0;
		xr_fail(c, "XML error at line %d: %.*s", ctxt->lastError.line,
			(int)ml, m ? m : "not well-formed");
	}
	xmlFreeParserCtxt(ctxt);
	return doc;
}

static bool
xr_is(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       strcmp((const char *)n->name, name) == 0;
}

static bool
xr_blank(const xmlChar *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			return false;
	return true;
}

/* Steps *cur to the next element child of parent (the first if *cur is
 * NULL). Returns 1 with an element, 0 at the end, -1 on non-blank text or an
 * unexpected node. */
static int
xr_next(struct xr_ctx *c, xmlNodePtr parent, xmlNodePtr *cur)
{
	xmlNodePtr n = *cur ? (*cur)->next : parent->children;

	for (; n; n = n->next) {
		switch (n->type) {
		case XML_ELEMENT_NODE:
			*cur = n;
			return 1;
		case XML_TEXT_NODE:
		case XML_CDATA_SECTION_NODE:
			if (!xr_blank(n->content)) {
				xr_fail(c, "unexpected text in <%s>",
					(const char *)parent->name);
				return -1;
			}
			break;
		case XML_COMMENT_NODE:
		case XML_PI_NODE:
			break;
		default:
			xr_fail(c, "unexpected node in <%s>",
				(const char *)parent->name);
			return -1;
		}
	}
	*cur = NULL;
	return 0;
}

/* The only element child of parent, which must be called name. */
static xmlNodePtr
xr_only(struct xr_ctx *c, xmlNodePtr parent, const char *name)
{
	xmlNodePtr n = NULL, extra;

	if (xr_next(c, parent, &n) <= 0 || !xr_is(n, name)) {
		xr_fail(c, "<%s> expected in <%s>", name,
			(const char *)parent->name);
		return NULL;
	}
	extra = n;
	if (xr_next(c, parent, &extra) != 0) {
		xr_fail(c, "unexpected element in <%s>",
			(const char *)parent->name);
		return NULL;
	}
	return n;
}

/* The text inside a leaf element, malloc'd; NULL if it has child elements. */
static char *
xr_leaf(struct xr_ctx *c, xmlNodePtr e, size_t *lenp)
{
	xmlNodePtr n = e->children;
	struct buf b = BUF_INIT;

	if (n && !n->next &&
	    (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)) {
		const char *s = (const char *)n->content;
		*lenp = strlen(s);
		return xstrndup(s, *lenp);
	}
	for (; n; n = n->next) {
		if (n->type == XML_TEXT_NODE ||
		    n->type == XML_CDATA_SECTION_NODE) {
			buf_adds(&b, (const char *)n->content);
		} else if (n->type != XML_COMMENT_NODE &&
			   n->type != XML_PI_NODE) {
			buf_free(&b);
			xr_fail(c, "unexpected element in <%s>",
				(const char *)e->name);
			return NULL;
		}
	}
	*lenp = b.len;
	return buf_steal(&b);
}

/* Trims blanks at both ends of s in place; returns the new start. */
static char *
xr_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
		     s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The value of a base64 digit, or -1. */
static int
xr_b64digit(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decodes base64 (blanks ignored, '=' padding optional) in place. Returns
 * the decoded length, or -1 if s is not base64. */
static long
xr_base64(char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *o = s;
	unsigned acc = 0, nbits = 0, pad = 0, nsym = 0;

	for (; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		int d = xr_b64digit(*p);
		if (pad || d < 0)
			return -1;
		acc = (acc << 6) | (unsigned)d;
		nsym++;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			*o++ = (char)((acc >> nbits) & 0xff);
		}
	}
	if (nsym % 4 == 1 || pad > 2 || (pad && (nsym + pad) % 4))
		return -1;
	*o = '\0';
	return (long)(o - s);
}

static xv *xr_value_node(struct xr_ctx *c, xmlNodePtr vn, int depth);

/* A scalar element (string, int, boolean, ...) inside a <value>. */
static xv *
xr_scalar(struct xr_ctx *c, xmlNodePtr e)
{
	const char *name = (const char *)e->name;
	size_t len;
	char *text = xr_leaf(c, e, &len), *t, *end;
	xv *v = NULL;

	if (!text)
		return NULL;
	if (strcmp(name, "string") == 0)
		return xv_str_own(text);
	if (strcmp(name, "boolean") == 0) {
		if (strcmp(text, "0") == 0 || strcmp(text, "1") == 0)
			v = xv_bool(text[0] == '1');
		else
			xr_fail(c, "bad <boolean>");
		free(text);
		return v;
	}
	t = xr_trim(text);
	if (!strcmp(name, "i4") || !strcmp(name, "int") || !strcmp(name, "i8")) {
		errno = 0;
		long long i = strtoll(t, &end, 10);
		if (*t && !*end && errno == 0) {
			v = xv_int(i);
			if (name[1] == '4')
				v->flags |= XV_F_I4;
		} else {
			xr_fail(c, "bad <%s>", name);
		}
	} else if (strcmp(name, "double") == 0) {
		/* Out of range is +-inf or 0, as OCaml's float_of_string. */
		double f = strtod(t, &end);
		if (*t && !*end)
			v = xv_float(f);
		else
			xr_fail(c, "bad <double>");
	} else if (strcmp(name, "dateTime.iso8601") == 0) {
		v = xv_datetime(t);
	} else if (strcmp(name, "base64") == 0) {
		long n = xr_base64(text);
		if (n < 0) {
			xr_fail(c, "bad <base64>");
		} else {
			size_t un = (size_t)n;
			if (!c->bad && (strlen(text) != un ||
					!xv_text_valid(text, un)))
				c->bad = xv_utf8_repair(text, strlen(text));
			v = xv_strn(text, un);
		}
	} else if (strcmp(name, "nil") == 0) {
		if (*t)
			xr_fail(c, "bad <nil>");
		else
			v = xv_nil();
	} else {
		xr_fail(c, "unknown type <%.40s>", name);
	}
	free(text);
	return v;
}

static xv *
xr_array(struct xr_ctx *c, xmlNodePtr e, int depth)
{
	xmlNodePtr data = NULL, n = NULL;
	int r = xr_next(c, e, &data);
	xv *a;

	if (r < 0)
		return NULL;
	if (r == 0)
		return xv_array(); /* <array/> */
	n = data;
	if (!xr_is(data, "data") || xr_next(c, e, &n) != 0)
		return xr_fail(c, "<array> must hold one <data>");
	n = NULL;
	a = xv_array();
	while ((r = xr_next(c, data, &n)) > 0) {
		xv *item;
		if (!xr_is(n, "value") ||
		    !(item = xr_value_node(c, n, depth + 1))) {
			xv_free(a);
			return xr_fail(c, "<value> expected in <data>");
		}
		xv_push(a, item);
	}
	if (r < 0) {
		xv_free(a);
		return NULL;
	}
	return a;
}

static xv *
xr_struct(struct xr_ctx *c, xmlNodePtr e, int depth)
{
	xmlNodePtr m = NULL;
	xv *st = xv_struct();
	int r;

	while ((r = xr_next(c, e, &m)) > 0) {
		xmlNodePtr name = NULL, val = NULL, k = NULL;
		int r2;
		if (!xr_is(m, "member"))
			break;
		while ((r2 = xr_next(c, m, &k)) > 0) {
			if (xr_is(k, "name") && !name)
				name = k;
			else if (xr_is(k, "value") && !val)
				val = k;
			else
				break;
		}
		if (r2 != 0 || !name || !val)
			break;
		size_t len;
		char *key = xr_leaf(c, name, &len);
		if (!key)
			break;
		xv *v = xr_value_node(c, val, depth + 1);
		if (!v) {
			free(key);
			break;
		}
		xv_set_own(st, key, v);
	}
	if (r != 0) {
		xv_free(st);
		return xr_fail(c, "bad <member> in <struct>");
	}
	return st;
}

/* Parses a <value> element. depth counts the enclosing arrays/structs. */
static xv *
xr_value_node(struct xr_ctx *c, xmlNodePtr vn, int depth)
{
	xmlNodePtr e = NULL, n;
	size_t len;

	for (n = vn->children; n; n = n->next) {
		if (n->type == XML_ELEMENT_NODE) {
			if (e)
				return xr_fail(c, "two types in one <value>");
			e = n;
		} else if (n->type != XML_TEXT_NODE &&
			   n->type != XML_CDATA_SECTION_NODE &&
			   n->type != XML_COMMENT_NODE &&
			   n->type != XML_PI_NODE) {
			return xr_fail(c, "unexpected node in <value>");
		}
	}
	if (!e) {
		char *s = xr_leaf(c, vn, &len);
		return s ? xv_str_own(s) : NULL;
	}
	for (n = vn->children; n; n = n->next)
		if ((n->type == XML_TEXT_NODE ||
		     n->type == XML_CDATA_SECTION_NODE) &&
		    !xr_blank(n->content))
			return xr_fail(c, "text beside a type in <value>");
	if (xr_is(e, "array") || xr_is(e, "struct")) {
		if (depth >= XMLRPC_MAX_DEPTH)
			return xr_fail(c, "values nested too deeply");
		return xr_is(e, "array") ? xr_array(c, e, depth)
					 : xr_struct(c, e, depth);
	}
	return xr_scalar(c, e);
}

/* First string (or struct key) in v holding U+FFFD, or NULL. */
static const char *
xr_find_repl(const xv *v)
{
	const char *r;

	if (!v)
		return NULL;
	switch (v->type) {
	case XV_STRING:
	case XV_DATETIME:
		return strstr(v->u.s, "\xef\xbf\xbd") ? v->u.s : NULL;
	case XV_ARRAY:
		for (size_t i = 0; i < v->u.a.n; i++)
			if ((r = xr_find_repl(v->u.a.items[i])))
				return r;
		return NULL;
	case XV_STRUCT:
		for (size_t i = 0; i < v->u.st.n; i++) {
			if (strstr(v->u.st.names[i], "\xef\xbf\xbd"))
				return v->u.st.names[i];
			if ((r = xr_find_repl(v->u.st.vals[i])))
				return r;
		}
		return NULL;
	default:
		return NULL;
	}
}

/* Walks a parsed methodCall document into call. */
static void
xr_walk_call(struct xr_ctx *c, xmlDocPtr doc, struct xmlrpc_call *call)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), n = NULL, params = NULL;
	xmlNodePtr mname = NULL;
	size_t len;
	int r;

	if (!root || !xr_is(root, "methodCall")) {
		xr_fail(c, "not a methodCall");
		return;
	}
	while ((r = xr_next(c, root, &n)) > 0) {
		if (xr_is(n, "methodName") && !mname) {
			mname = n;
		} else if (xr_is(n, "params") && !params) {
			params = n;
		} else {
			xr_fail(c, "unexpected <%.40s> in methodCall",
				(const char *)n->name);
			return;
		}
	}
	if (r < 0)
		return;
	if (!mname) {
		xr_fail(c, "no methodName");
		return;
	}
	char *m = xr_leaf(c, mname, &len);
	if (!m)
		return;
	call->method = xstrdup(xr_trim(m));
	free(m);
	call->params = xv_array();
	n = NULL;
	while (params && (r = xr_next(c, params, &n)) > 0) {
		xmlNodePtr vn;
		xv *v;
		if (!xr_is(n, "param") || !(vn = xr_only(c, n, "value")) ||
		    !(v = xr_value_node(c, vn, 0))) {
			xr_fail(c, "bad <param>");
			return;
		}
		xv_push(call->params, v);
	}
}

/* Runs the common document handling: a UTF-8 check, the parse (of a
 * repaired copy if the bytes are not UTF-8) and walk(c, doc, out).
 * Returns true if the text had to be repaired. */
static bool
xr_run(struct xr_ctx *c, const char *text, size_t len,
       void (*walk)(struct xr_ctx *, xmlDocPtr, void *), void *out)
{
	char *fixed = NULL;
	bool repaired = false;
	xmlDocPtr doc;

	if (!xv_utf8_valid(text, len)) {
		fixed = xv_utf8_repair(text, len);
		text = fixed;
		len = strlen(fixed);
		repaired = true;
	}
	doc = xr_read(c, text, len);
	if (doc) {
		walk(c, doc, out);
		xmlFreeDoc(doc);
	}
	free(fixed);
	return repaired;
}

static void
xr_walk_call_cb(struct xr_ctx *c, xmlDocPtr doc, void *out)
{
	xr_walk_call(c, doc, out);
}

int
xmlrpc_parse_call(const char *body, size_t len, struct xmlrpc_call *call)
{
	struct xr_ctx c = {0};
	bool repaired;

	memset(call, 0, sizeof(*call));
	c.err = call->err;
	c.errlen = sizeof(call->err);
	repaired = xr_run(&c, body, len, xr_walk_call_cb, call);
	if (c.status) {
		free(c.bad);
		xv_free(call->params);
		call->params = NULL;
		XFREE(call->method);
		return c.status;
	}
	if (repaired && !c.bad) {
		const char *r = xr_find_repl(call->params);
		c.bad = xstrdup(r ? r : call->method);
	}
	if (c.bad) {
		call->bad = c.bad;
		xv_free(call->params);
		call->params = NULL;
		snprintf(call->err, sizeof(call->err),
			 "invalid UTF-8 in a parameter");
		return XMLRPC_INVALID_VALUE;
	}
	return XMLRPC_OK;
}

void
xmlrpc_call_clear(struct xmlrpc_call *call)
{
	free(call->method);
	xv_free(call->params);
	free(call->bad);
	memset(call, 0, sizeof(*call));
}

static void
xr_walk_value_cb(struct xr_ctx *c, xmlDocPtr doc, void *out)
{
	xmlNodePtr root = xmlDocGetRootElement(doc);

	if (!root || !xr_is(root, "value")) {
		xr_fail(c, "not a <value> document");
		return;
	}
	*(xv **)out = xr_value_node(c, root, 0);
}

int
xmlrpc_parse_value(const char *text, size_t len, xv **out, char *err,
		   size_t errlen)
{
	struct xr_ctx c = {.err = err, .errlen = errlen};
	xv *v = NULL;
	bool repaired;

	if (err && errlen)
		err[0] = '\0';
	*out = NULL;
	repaired = xr_run(&c, text, len, xr_walk_value_cb, &v);
	if (!c.status && (c.bad || repaired)) {
		if (err && errlen)
			snprintf(err, errlen, "invalid UTF-8 in the value");
		c.status = XMLRPC_INVALID_VALUE;
	}
	free(c.bad);
	if (c.status) {
		xv_free(v);
		return c.status;
	}
	*out = v;
	return XMLRPC_OK;
}

/* Removes and returns the value of member name of st (NULL if absent). */
static xv *
xr_take(xv *st, const char *name)
{
	for (size_t i = 0; i < st->u.st.n; i++) {
		if (strcmp(st->u.st.names[i], name) == 0) {
			xv *v = st->u.st.vals[i];
			st->u.st.vals[i] = xv_nil();
			return v;
		}
	}
	return NULL;
}

/* Fills resp from the value of a <params> response. */
static void
xr_response_params(struct xmlrpc_response *resp, xv *v)
{
	xv *status = xv_get(v, "Status");
	bool st = status && status->type == XV_STRING;

	if (st && !strcmp(status->u.s, "Success") && xv_get(v, "Value")) {
		resp->ok = true;
		resp->value = xr_take(v, "Value");
		xv_free(v);
	} else if (st && !strcmp(status->u.s, "Failure") &&
		   xv_get(v, "ErrorDescription")) {
		resp->error = xr_take(v, "ErrorDescription");
		xv_free(v);
	} else {
		resp->ok = resp->bare = true;
		resp->value = v;
	}
}

static void
xr_walk_response_cb(struct xr_ctx *c, xmlDocPtr doc, void *out)
{
	struct xmlrpc_response *resp = out;
	xmlNodePtr root = xmlDocGetRootElement(doc), e = NULL, vn;
	xv *v;

	if (!root || !xr_is(root, "methodResponse")) {
		xr_fail(c, "not a methodResponse");
		return;
	}
	if (xr_next(c, root, &e) <= 0)
		return (void)xr_fail(c, "empty methodResponse");
	if (xr_is(e, "params")) {
		xmlNodePtr p;
		if (!xr_only(c, root, "params") || !(p = xr_only(c, e, "param")) ||
		    !(vn = xr_only(c, p, "value")) ||
		    !(v = xr_value_node(c, vn, 0)))
			return;
		xr_response_params(resp, v);
		return;
	}
	if (!xr_only(c, root, "fault") || !(vn = xr_only(c, e, "value")) ||
	    !(v = xr_value_node(c, vn, 0)))
		return;
	xv *code = NULL, *str = NULL;
	if (v->type == XV_STRUCT) {
		code = xr_take(v, "faultCode");
		str = xr_take(v, "faultString");
	}
	xv_free(v);
	if (!code || !str) {
		xv_free(code);
		xv_free(str);
		xr_fail(c, "bad <fault>");
		return;
	}
	resp->error = xv_push(xv_array(), xv_str("fault"));
	xv_push(xv_push(resp->error, code), str);
}

int
xmlrpc_parse_response(const char *body, size_t len,
		      struct xmlrpc_response *resp)
{
	struct xr_ctx c = {0};

	memset(resp, 0, sizeof(*resp));
	c.err = resp->err;
	c.errlen = sizeof(resp->err);
	if (xr_run(&c, body, len, xr_walk_response_cb, resp) && !c.status)
		xr_fail(&c, "invalid UTF-8 in the response");
	free(c.bad);
	if (c.status) {
		xv_free(resp->value);
		xv_free(resp->error);
		resp->value = resp->error = NULL;
		resp->ok = resp->bare = false;
		return XMLRPC_MALFORMED;
	}
	return XMLRPC_OK;
}

void
xmlrpc_response_clear(struct xmlrpc_response *resp)
{
	xv_free(resp->value);
	xv_free(resp->error);
	memset(resp, 0, sizeof(*resp));
}
