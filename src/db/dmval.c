/* dmval: typed field values: defaults, copies, wire/JSON/dump conversions. */
#include "db/dmval.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/dmval_int.h"
#include "util/xalloc.h"

bool
dmv_is_str(enum dm_kind k)
{
	return k == DMK_STRING || k == DMK_REF || k == DMK_ENUM ||
	       k == DMK_RECORD || k == DMK_STRUCT_ANY || k == DMK_VOID;
}

/* Options are stored as their inner type. */
const struct dm_type *
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

struct dm_coll *
dmc_append(struct dm_coll *c, size_t width, const union dm_val *vals)
{
	size_t n = c ? c->n : 0;
	struct dm_coll *nc = dmc_new(n + 1);
	if (c)
		memcpy(nc->v, c->v, width * n * sizeof(union dm_val));
	memcpy(&nc->v[width * n], vals, width * sizeof(union dm_val));
	free(c);
	return nc;
}

void
dmc_remove_at(struct dm_coll **pc, size_t width, size_t at)
{
	struct dm_coll *c = *pc;
	memmove(&c->v[width * at], &c->v[width * (at + 1)],
	        width * (c->n - at - 1) * sizeof(union dm_val));
	if (--c->n == 0) {
		free(c);
		*pc = NULL;
	}
}

union dm_val
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

void
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
