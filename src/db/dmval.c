/* dmval: typed field values: defaults, copies, wire/JSON/dump conversions. */
#include "db/dmval.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/xalloc.h"

static bool
dmv_is_str(enum dm_kind k)
{
	return k == DMK_STRING || k == DMK_REF || k == DMK_ENUM ||
	       k == DMK_RECORD || k == DMK_STRUCT_ANY || k == DMK_VOID;
}

/* Options are stored as their inner type. */
static const struct dm_type *
dmv_base(const struct dm_type *t)
{
	while (t->kind == DMK_OPTION)
		t = t->a;
	return t;
}

struct dm_coll *
dmc_new(size_t n)
{
	struct dm_coll *c = xcalloc(1, sizeof(*c) + 2 * n * sizeof(union dm_val));
	c->n = n;
	return c;
}

static union dm_val
dmv_zero(const struct dm_type *t)
{
	union dm_val v = {0};
	switch (t->kind) {
	case DMK_REF:
		v.s = xstrdup(DM_NULL_REF);
		break;
	case DMK_ENUM:
		v.s = xstrdup(t->en && t->en->n ? t->en->values[0] : "");
		break;
	case DMK_SET:
	case DMK_MAP:
		v.c = NULL;
		break;
	default:
		if (dmv_is_str(t->kind))
			v.s = xstrdup("");
	}
	return v;
}

/* Reads one item of the API description's default notation at *p: a quoted
 * string or a bare word up to one of the stop characters. */
static char *
dmv_def_item(const char **p, const char *stops)
{
	const char *s = *p;
	struct buf b = BUF_INIT;

	while (*s == ' ')
		s++;
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++) {
			if (*s == '\\' && s[1])
				s++;
			buf_addc(&b, *s);
		}
		if (*s == '"')
			s++;
	} else {
		/* "->" separates a map's key from its value; a lone '-' is text */
		while (*s && !strchr(stops, *s) &&
		       !(strchr(stops, '-') && s[0] == '-' && s[1] == '>'))
			buf_addc(&b, *s++);
		while (b.len && b.data[b.len - 1] == ' ')
			b.data[--b.len] = '\0';
	}
	*p = s;
	return buf_steal(&b);
}

union dm_val
dmv_default(const struct dm_type *t, const char *def)
{
	union dm_val v;

	t = dmv_base(t);
	if (!def)
		return dmv_zero(t);
	if (t->kind == DMK_SET || t->kind == DMK_MAP) {
		const char *p = def;
		size_t n = 0, cap = 0;
		union dm_val *tmp = NULL;
		bool map = t->kind == DMK_MAP;
		const struct dm_type *et = map ? t->a : t->a, *vt = t->b;

		while (*p == ' ' || *p == '{')
			p++;
		while (*p && *p != '}') {
			const char *before = p;
			char *k = dmv_def_item(&p, map ? ",}-" : ",}");
			if (n + 2 > cap) {
				cap = cap ? cap * 2 : 8;
				tmp = xrealloc(tmp, cap * sizeof(*tmp));
			}
			if (dmv_scalar_parse(et, k, &tmp[n]) < 0)
				tmp[n] = dmv_zero(et);
			n++;
			free(k);
			if (map) {
				while (*p == ' ')
					p++;
				if (strncmp(p, "->", 2) == 0)
					p += 2;
				char *val = dmv_def_item(&p, ",}");
				if (dmv_scalar_parse(vt, val, &tmp[n]) < 0)
					tmp[n] = dmv_zero(vt);
				n++;
				free(val);
			}
			while (*p == ' ' || *p == ',')
				p++;
			if (p == before)
				break; /* no progress: malformed default */
		}
		v.c = NULL;
		if (n) {
			v.c = dmc_new(map ? n / 2 : n);
			memcpy(v.c->v, tmp, n * sizeof(*tmp));
		}
		free(tmp);
		return v;
	}
	if (t->kind == DMK_REF && strcmp(def, "Null") == 0)
		return dmv_zero(t);
	const char *p = def;
	char *text = dmv_def_item(&p, "");
	if (dmv_scalar_parse(t, text, &v) < 0)
		v = dmv_zero(t);
	free(text);
	return v;
}

static size_t
dmc_len(const struct dm_type *t, const struct dm_coll *c)
{
	if (!c)
		return 0;
	return t->kind == DMK_MAP ? 2 * c->n : c->n;
}

void
dmv_free(const struct dm_type *t, union dm_val *v)
{
	t = dmv_base(t);
	if (dmv_is_str(t->kind)) {
		free(v->s);
		v->s = NULL;
	} else if (t->kind == DMK_SET || t->kind == DMK_MAP) {
		if (v->c) {
			for (size_t i = 0; i < dmc_len(t, v->c); i++)
				dmv_free(t->kind == DMK_MAP && (i & 1) ? t->b : t->a,
					 &v->c->v[i]);
			free(v->c);
		}
		v->c = NULL;
	}
}

union dm_val
dmv_copy(const struct dm_type *t, union dm_val v)
{
	union dm_val r = v;
	t = dmv_base(t);
	if (dmv_is_str(t->kind)) {
		r.s = xstrdup(v.s ? v.s : "");
	} else if ((t->kind == DMK_SET || t->kind == DMK_MAP) && v.c) {
		r.c = dmc_new(v.c->n);
		for (size_t i = 0; i < dmc_len(t, v.c); i++)
			r.c->v[i] = dmv_copy(
				t->kind == DMK_MAP && (i & 1) ? t->b : t->a,
				v.c->v[i]);
	}
	return r;
}

bool
dmv_equal(const struct dm_type *t, union dm_val a, union dm_val b)
{
	t = dmv_base(t);
	if (dmv_is_str(t->kind))
		return strcmp(a.s ? a.s : "", b.s ? b.s : "") == 0;
	switch (t->kind) {
	case DMK_INT:
	case DMK_DATETIME:
		return a.i == b.i;
	case DMK_FLOAT:
		return a.f == b.f || (isnan(a.f) && isnan(b.f));
	case DMK_BOOL:
		return a.b == b.b;
	case DMK_SET:
	case DMK_MAP: {
		size_t na = dmc_len(t, a.c), nb = dmc_len(t, b.c);
		if (na != nb)
			return false;
		for (size_t i = 0; i < na; i++)
			if (!dmv_equal(t->kind == DMK_MAP && (i & 1) ? t->b : t->a,
				       a.c->v[i], b.c->v[i]))
				return false;
		return true;
	}
	default:
		return true;
	}
}

static void
dmv_fmt_time(int64_t t, char out[32])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y%m%dT%H:%M:%SZ", &tm);
}

char *
dmv_scalar_text(const struct dm_type *t, union dm_val v)
{
	char tmp[64];
	t = dmv_base(t);
	if (dmv_is_str(t->kind))
		return xstrdup(v.s ? v.s : "");
	switch (t->kind) {
	case DMK_INT:
		snprintf(tmp, sizeof(tmp), "%" PRId64, v.i);
		break;
	case DMK_FLOAT:
		snprintf(tmp, sizeof(tmp), "%g", v.f);
		break;
	case DMK_BOOL:
		return xstrdup(v.b ? "true" : "false");
	case DMK_DATETIME:
		dmv_fmt_time(v.i, tmp);
		break;
	default:
		tmp[0] = '\0';
	}
	return xstrdup(tmp);
}

int
dmv_scalar_parse(const struct dm_type *t, const char *text, union dm_val *out)
{
	char *end;
	t = dmv_base(t);
	switch (t->kind) {
	case DMK_INT: {
		errno = 0;
		long long x = strtoll(text, &end, 10);
		if (errno || end == text || *end)
			return -1;
		out->i = x;
		return 0;
	}
	case DMK_FLOAT: {
		errno = 0;
		double d = strtod(text, &end);
		if (errno || end == text || *end)
			return -1;
		out->f = d;
		return 0;
	}
	case DMK_BOOL:
		if (strcasecmp(text, "true") == 0)
			out->b = true;
		else if (strcasecmp(text, "false") == 0)
			out->b = false;
		else
			return -1;
		return 0;
	case DMK_DATETIME: {
		int64_t e;
		if (xv_parse_datetime(text, &e) < 0)
			return -1;
		out->i = e;
		return 0;
	}
	case DMK_ENUM: {
		int i = t->en ? dm_enum_index_ci(t->en, text) : -1;
		if (i < 0)
			return -1;
		out->s = xstrdup(t->en->values[i]);
		return 0;
	}
	case DMK_SET:
	case DMK_MAP:
		return -1;
	default:
		out->s = xstrdup(text);
		return 0;
	}
}

xv *
dmv_to_xv(const struct dm_type *t, union dm_val v)
{
	t = dmv_base(t);
	if (dmv_is_str(t->kind))
		return xv_str(v.s);
	switch (t->kind) {
	case DMK_INT:
		return xv_int(v.i);
	case DMK_FLOAT:
		return xv_float(v.f);
	case DMK_BOOL:
		return xv_bool(v.b);
	case DMK_DATETIME:
		return xv_datetime_t(v.i);
	case DMK_SET: {
		xv *a = xv_array();
		for (size_t i = 0; v.c && i < v.c->n; i++)
			xv_push(a, dmv_to_xv(t->a, v.c->v[i]));
		return a;
	}
	case DMK_MAP: {
		xv *st = xv_struct();
		for (size_t i = 0; v.c && i < v.c->n; i++) {
			char *k = dmv_scalar_text(t->a, v.c->v[2 * i]);
			xv_set(st, k, dmv_to_xv(t->b, v.c->v[2 * i + 1]));
			free(k);
		}
		return st;
	}
	default:
		return xv_str("");
	}
}

/* Scalar from a wire value: the natural type, or text that parses. */
static int
dmv_scalar_from_xv(const struct dm_type *t, const xv *in, union dm_val *out)
{
	switch (t->kind) {
	case DMK_INT:
		if (in->type == XV_INT) {
			out->i = in->u.i;
			return 0;
		}
		break;
	case DMK_FLOAT:
		if (in->type == XV_FLOAT) {
			out->f = in->u.f;
			return 0;
		}
		if (in->type == XV_INT) {
			out->f = (double)in->u.i;
			return 0;
		}
		break;
	case DMK_BOOL:
		if (in->type == XV_BOOL) {
			out->b = in->u.b;
			return 0;
		}
		return -1; /* xapi accepts only real booleans */
	case DMK_DATETIME:
		if (in->type == XV_DATETIME || in->type == XV_STRING)
			return dmv_scalar_parse(t, in->u.s, out);
		if (in->type == XV_FLOAT || in->type == XV_INT) {
			out->i = in->type == XV_INT ? in->u.i : (int64_t)in->u.f;
			return 0;
		}
		return -1;
	default:
		break;
	}
	if (in->type != XV_STRING)
		return -1;
	if (t->kind == DMK_REF && strncmp(in->u.s, "OpaqueRef:", 10) != 0)
		return -1;
	return dmv_scalar_parse(t, in->u.s, out);
}

static int
dmv_from_xv_rec(const struct dm_type *t, const xv *in, union dm_val *out)
{
	t = dmv_base(t);
	if (t->kind == DMK_SET) {
		if (in->type != XV_ARRAY)
			return -1;
		struct dm_coll *c = in->u.a.n ? dmc_new(in->u.a.n) : NULL;
		for (size_t i = 0; i < in->u.a.n; i++) {
			if (dmv_from_xv_rec(t->a, in->u.a.items[i], &c->v[i]) < 0) {
				c->n = i;
				union dm_val tmp = {.c = c};
				dmv_free(t, &tmp);
				return -1;
			}
		}
		out->c = c;
		return 0;
	}
	if (t->kind == DMK_MAP) {
		if (in->type != XV_STRUCT)
			return -1;
		size_t n = in->u.st.n;
		struct dm_coll *c = n ? dmc_new(n) : NULL;
		for (size_t i = 0; i < n; i++) {
			xv key = {.type = XV_STRING, .u.s = in->u.st.names[i]};
			if (dmv_scalar_from_xv(dmv_base(t->a), &key, &c->v[2 * i]) < 0) {
				c->n = i;
				goto bad;
			}
			if (dmv_from_xv_rec(t->b, in->u.st.vals[i],
					    &c->v[2 * i + 1]) < 0) {
				dmv_free(t->a, &c->v[2 * i]);
				c->n = i;
				goto bad;
			}
		}
		out->c = c;
		return 0;
	bad:;
		union dm_val tmp = {.c = c};
		dmv_free(t, &tmp);
		return -1;
	}
	return dmv_scalar_from_xv(t, in, out);
}

struct api_err *
dmv_from_xv(const struct dm_type *t, const xv *in, const char *what,
	    union dm_val *out)
{
	union dm_val v = {0};
	if (dmv_from_xv_rec(t, in, &v) < 0)
		return api_error(XE_FIELD_TYPE_ERROR, what, NULL);
	*out = v;
	return NULL;
}

json_t *
dmv_to_json(const struct dm_type *t, union dm_val v)
{
	t = dmv_base(t);
	if (dmv_is_str(t->kind))
		return json_string(v.s ? v.s : "");
	switch (t->kind) {
	case DMK_INT:
	case DMK_DATETIME:
		return json_integer(v.i);
	case DMK_FLOAT:
		return json_real(v.f);
	case DMK_BOOL:
		return json_boolean(v.b);
	case DMK_SET: {
		json_t *a = json_array();
		for (size_t i = 0; v.c && i < v.c->n; i++)
			json_array_append_new(a, dmv_to_json(t->a, v.c->v[i]));
		return a;
	}
	case DMK_MAP: {
		/* an array of [k, v] pairs keeps order and non-string keys */
		json_t *a = json_array();
		for (size_t i = 0; v.c && i < v.c->n; i++)
			json_array_append_new(
				a, json_pack("[oo]",
					     dmv_to_json(t->a, v.c->v[2 * i]),
					     dmv_to_json(t->b, v.c->v[2 * i + 1])));
		return a;
	}
	default:
		return json_null();
	}
}

int
dmv_from_json(const struct dm_type *t, json_t *j, union dm_val *out)
{
	t = dmv_base(t);
	if (dmv_is_str(t->kind)) {
		if (!json_is_string(j))
			return -1;
		out->s = xstrdup(json_string_value(j));
		return 0;
	}
	switch (t->kind) {
	case DMK_INT:
	case DMK_DATETIME:
		if (!json_is_integer(j))
			return -1;
		out->i = json_integer_value(j);
		return 0;
	case DMK_FLOAT:
		if (!json_is_number(j))
			return -1;
		out->f = json_number_value(j);
		return 0;
	case DMK_BOOL:
		if (!json_is_boolean(j))
			return -1;
		out->b = json_is_true(j);
		return 0;
	case DMK_SET:
	case DMK_MAP: {
		bool map = t->kind == DMK_MAP;
		size_t n = json_array_size(j);
		if (!json_is_array(j))
			return -1;
		struct dm_coll *c = n ? dmc_new(n) : NULL;
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(j, i);
			int r;
			if (map) {
				r = -1;
				if (json_array_size(e) == 2 &&
				    dmv_from_json(t->a, json_array_get(e, 0),
						  &c->v[2 * i]) == 0) {
					r = dmv_from_json(t->b, json_array_get(e, 1),
							  &c->v[2 * i + 1]);
					if (r < 0)
						dmv_free(t->a, &c->v[2 * i]);
				}
			} else
				r = dmv_from_json(t->a, e, &c->v[i]);
			if (r < 0) {
				c->n = i;
				union dm_val tmp = {.c = c};
				dmv_free(t, &tmp);
				return -1;
			}
		}
		out->c = c;
		return 0;
	}
	default:
		out->s = NULL;
		return 0;
	}
}

/* xapi's dump encoding (db_xml.ml, string_marshall_helper.ml, sExpr.ml):
 * scalars as DM_to_String writes them, sets ('a' 'b'), maps (('k' 'v') ...);
 * a collection inside a collection is its own dump text, quoted; a (ref)
 * option is a set of zero or one element. */
static void
dmv_dump_scalar(struct buf *b, const struct dm_type *t, union dm_val v)
{
	if (dmv_is_str(t->kind)) {
		buf_adds(b, v.s ? v.s : "");
	} else if (t->kind == DMK_INT) {
		buf_addf(b, "%" PRId64, v.i);
	} else if (t->kind == DMK_FLOAT) {
		if (isnan(v.f) || isinf(v.f))
			buf_adds(b, isnan(v.f) ? "nan" : v.f < 0 ? "-inf" : "inf");
		else
			buf_addf(b, "%0.18g", v.f);
	} else if (t->kind == DMK_BOOL) {
		buf_adds(b, v.b ? "true" : "false");
	} else if (t->kind == DMK_DATETIME) { /* Date.to_rfc3339, UTC */
		xv *d = xv_datetime_t(v.i);
		buf_adds(b, d->u.s);
		xv_free(d);
	}
}

/* A set/map element: its text between single quotes, \ and ' escaped. */
static void
dmv_dump_elem(struct buf *b, const struct dm_type *t, union dm_val v)
{
	struct buf tmp = BUF_INIT;
	const char *s;

	t = dmv_base(t);
	if (dmv_is_str(t->kind)) {
		s = v.s ? v.s : "";
	} else {
		dmv_dump_text(&tmp, t, v);
		s = tmp.data ? tmp.data : "";
	}
	buf_addc(b, '\'');
	for (; *s; s++) {
		if (*s == '\\' || *s == '\'')
			buf_addc(b, '\\');
		buf_addc(b, *s);
	}
	buf_addc(b, '\'');
	buf_free(&tmp);
}

void
dmv_dump_text(struct buf *b, const struct dm_type *t, union dm_val v)
{
	const struct dm_type *in = dmv_base(t);

	if (t->kind == DMK_OPTION && dmv_is_str(in->kind)) {
		buf_addc(b, '(');
		if (v.s && *v.s && strcmp(v.s, DM_NULL_REF) != 0)
			dmv_dump_elem(b, in, v);
		buf_addc(b, ')');
		return;
	}
	t = in;
	if (t->kind != DMK_SET && t->kind != DMK_MAP) {
		dmv_dump_scalar(b, t, v);
		return;
	}
	buf_addc(b, '(');
	for (size_t i = 0; v.c && i < v.c->n; i++) {
		if (i)
			buf_addc(b, ' ');
		if (t->kind == DMK_SET) {
			dmv_dump_elem(b, t->a, v.c->v[i]);
			continue;
		}
		buf_addc(b, '(');
		dmv_dump_elem(b, t->a, v.c->v[2 * i]);
		buf_addc(b, ' ');
		dmv_dump_elem(b, t->b, v.c->v[2 * i + 1]);
		buf_addc(b, ')');
	}
	buf_addc(b, ')');
}

/* A dump scalar. Floats take OCaml's float_of_string range (1e400 is inf,
 * subnormals are fine); datetimes must be writable again (years 0-9999). */
static int
dmv_dump_scalar_parse(const struct dm_type *t, const char *text,
		      union dm_val *out)
{
	union dm_val v;
	char *end;

	if (t->kind == DMK_FLOAT) {
		v.f = strtod(text, &end);
		if (end == text || *end)
			return -1;
	} else if (dmv_scalar_parse(t, text, &v) < 0) {
		return -1;
	} else if (t->kind == DMK_DATETIME &&
		   (v.i < -62167219200LL || v.i > 253402300799LL)) {
		return -1;
	}
	*out = v;
	return 0;
}

/* S-expression reader (xapi's sExprLexer.mll): lists of atoms or lists,
 * atoms quoted with ' or " (\ takes the next byte as it is), blanks and
 * ; comments between items. */
struct sexp {
	bool atom;
	char *s;
	struct sexp **kids;
	size_t n, cap;
};

static void
sexp_free(struct sexp *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->n; i++)
		sexp_free(x->kids[i]);
	free(x->kids);
	free(x->s);
	free(x);
}

static const char *
sexp_blank(const char *s)
{
	for (;;) {
		s += strspn(s, " \t\r\n");
		if (*s != ';')
			return s;
		s += strcspn(s, "\n");
	}
}

static struct sexp *
sexp_parse(const char **p, int depth)
{
	const char *s = sexp_blank(*p);
	struct sexp *x;

	if (depth > 8)
		return NULL;
	if (*s == '\'' || *s == '"') {
		char q = *s;
		struct buf b = BUF_INIT;
		for (s++; *s && *s != q; s++) {
			if (*s == '\\' && s[1])
				s++;
			buf_addc(&b, *s);
		}
		if (*s != q) {
			buf_free(&b);
			return NULL;
		}
		x = xcalloc(1, sizeof(*x));
		x->atom = true;
		x->s = b.data ? buf_steal(&b) : xstrdup("");
		*p = s + 1;
		return x;
	}
	if (*s != '(')
		return NULL;
	x = xcalloc(1, sizeof(*x));
	for (s = sexp_blank(s + 1); *s != ')'; s = sexp_blank(s)) {
		struct sexp *k = sexp_parse(&s, depth + 1);
		if (!k) {
			sexp_free(x);
			return NULL;
		}
		if (x->n == x->cap) {
			x->cap = x->cap ? 2 * x->cap : 4;
			x->kids = xrealloc(x->kids, x->cap * sizeof(*x->kids));
		}
		x->kids[x->n++] = k;
	}
	*p = s + 1;
	return x;
}

int
dmv_dump_parse(const struct dm_type *t, const char *text, union dm_val *out)
{
	const struct dm_type *in = dmv_base(t);
	bool opt = t->kind == DMK_OPTION && dmv_is_str(in->kind);

	t = in;
	if (!opt && t->kind != DMK_SET && t->kind != DMK_MAP)
		return dmv_dump_scalar_parse(t, text, out);

	const char *p = text;
	struct sexp *x = sexp_parse(&p, 0);
	int rc = -1;
	if (!x || x->atom || *sexp_blank(p))
		goto out;
	if (opt) {
		if (x->n > 1 || (x->n && !x->kids[0]->atom))
			goto out;
		if (x->n == 0)
			*out = dmv_zero(t);
		rc = x->n ? dmv_dump_scalar_parse(t, x->kids[0]->s, out) : 0;
		goto out;
	}
	struct dm_coll *c = x->n ? dmc_new(x->n) : NULL;
	size_t done = 0;
	for (; done < x->n; done++) {
		struct sexp *k = x->kids[done];
		if (t->kind == DMK_SET) {
			if (!k->atom || dmv_dump_parse(t->a, k->s, &c->v[done]) < 0)
				break;
			continue;
		}
		if (k->atom || k->n != 2 || !k->kids[0]->atom ||
		    !k->kids[1]->atom ||
		    dmv_dump_parse(t->a, k->kids[0]->s, &c->v[2 * done]) < 0)
			break;
		if (dmv_dump_parse(t->b, k->kids[1]->s, &c->v[2 * done + 1]) < 0) {
			dmv_free(t->a, &c->v[2 * done]);
			break;
		}
	}
	if (done < x->n) {
		c->n = done;
		union dm_val tmp = {.c = c};
		dmv_free(t, &tmp);
		goto out;
	}
	out->c = c;
	rc = 0;
out:
	sexp_free(x);
	return rc;
}

long
dmc_map_find(const struct dm_type *kt, const struct dm_coll *c, union dm_val key)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (dmv_equal(kt, c->v[2 * i], key))
			return (long)i;
	return -1;
}

long
dmc_set_find(const struct dm_type *et, const struct dm_coll *c, union dm_val elem)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (dmv_equal(et, c->v[i], elem))
			return (long)i;
	return -1;
}
