/* xv: the generic value tree that crosses the wire (see xv.h). */
#include "xv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static xv *
xv_new(enum xv_type t)
{
	xv *v = xcalloc(1, sizeof(*v));
	v->type = t;
	return v;
}

xv *
xv_nil(void)
{
	return xv_new(XV_NIL);
}

xv *
xv_str(const char *s)
{
	xv *v = xv_new(XV_STRING);
	v->u.s = xstrdup(s ? s : "");
	return v;
}

xv *
xv_strn(const char *s, size_t n)
{
	xv *v = xv_new(XV_STRING);
	v->u.s = xmalloc(n + 1);
	if (n)
		memcpy(v->u.s, s, n);
	v->u.s[n] = '\0';
	return v;
}

xv *
xv_str_own(char *s)
{
	xv *v = xv_new(XV_STRING);
	v->u.s = s ? s : xstrdup("");
	return v;
}

xv *
xv_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		fprintf(stderr, "out of memory formatting a string\n");
		abort();
	}
	va_end(ap);
	return xv_str_own(s);
}

xv *
xv_int(int64_t i)
{
	xv *v = xv_new(XV_INT);
	v->u.i = i;
	return v;
}

xv *
xv_i4(int32_t i)
{
	xv *v = xv_int(i);
	v->flags |= XV_F_I4;
	return v;
}

xv *
xv_float(double f)
{
	xv *v = xv_new(XV_FLOAT);
	v->u.f = f;
	return v;
}

xv *
xv_bool(bool b)
{
	xv *v = xv_new(XV_BOOL);
	v->u.b = b;
	return v;
}

xv *
xv_datetime(const char *iso)
{
	xv *v = xv_new(XV_DATETIME);
	v->u.s = xstrdup(iso ? iso : "");
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
xv_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The date of a day number (inverse of xv_days_from_civil). */
static void
xv_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

xv *
xv_datetime_t(int64_t epoch)
{
	/* Keep the arithmetic far from overflow: +-10^15 s is +-31 My. */
	if (epoch > INT64_C(1000000000000000))
		epoch = INT64_C(1000000000000000);
	if (epoch < -INT64_C(1000000000000000))
		epoch = -INT64_C(1000000000000000);
	int64_t days = epoch / 86400, secs = epoch % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	int64_t y;
	unsigned m, d;
	xv_civil_from_days(days, &y, &m, &d);
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "%04lld%02u%02uT%02d:%02d:%02dZ", (long long)y,
		 m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	return xv_datetime(tmp);
}

xv *
xv_array(void)
{
	return xv_new(XV_ARRAY);
}

xv *
xv_struct(void)
{
	return xv_new(XV_STRUCT);
}

xv *
xv_gen(xv *(*next)(void *state, char **name), void (*release)(void *state),
       void *state, bool is_struct)
{
	xv *v = xv_new(XV_GEN);
	v->u.g.next = next;
	v->u.g.release = release;
	v->u.g.state = state;
	v->u.g.is_struct = is_struct;
	return v;
}

xv *
xv_push(xv *arr, xv *item)
{
	if (arr->u.a.n == arr->u.a.cap) {
		arr->u.a.cap = arr->u.a.cap ? arr->u.a.cap * 2 : 4;
		arr->u.a.items = xrealloc(arr->u.a.items,
					  arr->u.a.cap * sizeof(*arr->u.a.items));
	}
	arr->u.a.items[arr->u.a.n++] = item;
	return arr;
}

xv *
xv_set_own(xv *st, char *name, xv *val)
{
	if (st->u.st.n == st->u.st.cap) {
		size_t cap = st->u.st.cap ? st->u.st.cap * 2 : 4;
		st->u.st.names = xrealloc(st->u.st.names,
					  cap * sizeof(*st->u.st.names));
		st->u.st.vals = xrealloc(st->u.st.vals,
					 cap * sizeof(*st->u.st.vals));
		st->u.st.cap = cap;
	}
	st->u.st.names[st->u.st.n] = name;
	st->u.st.vals[st->u.st.n] = val;
	st->u.st.n++;
	return st;
}

xv *
xv_set(xv *st, const char *name, xv *val)
{
	return xv_set_own(st, xstrdup(name), val);
}

xv *
xv_get(const xv *st, const char *name)
{
	if (!st || st->type != XV_STRUCT)
		return NULL;
	for (size_t i = 0; i < st->u.st.n; i++)
		if (strcmp(st->u.st.names[i], name) == 0)
			return st->u.st.vals[i];
	return NULL;
}

size_t
xv_len(const xv *v)
{
	if (!v)
		return 0;
	if (v->type == XV_ARRAY)
		return v->u.a.n;
	if (v->type == XV_STRUCT)
		return v->u.st.n;
	return 0;
}

xv *
xv_dup(const xv *v)
{
	xv *c;

	if (!v)
		return NULL;
	switch (v->type) {
	case XV_STRING:
	case XV_DATETIME:
		c = xv_new(v->type);
		c->u.s = xstrdup(v->u.s);
		break;
	case XV_ARRAY:
		c = xv_array();
		for (size_t i = 0; i < v->u.a.n; i++)
			xv_push(c, xv_dup(v->u.a.items[i]));
		break;
	case XV_STRUCT:
		c = xv_struct();
		for (size_t i = 0; i < v->u.st.n; i++)
			xv_set(c, v->u.st.names[i], xv_dup(v->u.st.vals[i]));
		break;
	case XV_GEN: {
		/* reads the generator (once) into an ordinary value */
		char *name = NULL;
		xv *item;
		c = v->u.g.is_struct ? xv_struct() : xv_array();
		while ((item = v->u.g.next(v->u.g.state, &name))) {
			if (v->u.g.is_struct)
				xv_set_own(c, name, item);
			else
				xv_push(c, item);
			name = NULL;
		}
		return c;
	}
	default:
		c = xv_new(v->type);
		c->u = v->u;
		break;
	}
	c->flags = v->flags;
	return c;
}

bool
xv_equal(const xv *a, const xv *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->type != b->type)
		return false;
	switch (a->type) {
	case XV_GEN:
		return false; /* not comparable without reading */
	case XV_NIL:
		return true;
	case XV_STRING:
	case XV_DATETIME:
		return strcmp(a->u.s, b->u.s) == 0;
	case XV_INT:
		return a->u.i == b->u.i;
	case XV_FLOAT:
		return a->u.f == b->u.f || (isnan(a->u.f) && isnan(b->u.f));
	case XV_BOOL:
		return a->u.b == b->u.b;
	case XV_ARRAY:
		if (a->u.a.n != b->u.a.n)
			return false;
		for (size_t i = 0; i < a->u.a.n; i++)
			if (!xv_equal(a->u.a.items[i], b->u.a.items[i]))
				return false;
		return true;
	case XV_STRUCT:
		if (a->u.st.n != b->u.st.n)
			return false;
		for (size_t i = 0; i < a->u.st.n; i++)
			if (strcmp(a->u.st.names[i], b->u.st.names[i]) != 0 ||
			    !xv_equal(a->u.st.vals[i], b->u.st.vals[i]))
				return false;
		return true;
	}
	return false;
}

void
xv_free(xv *v)
{
	if (!v)
		return;
	switch (v->type) {
	case XV_STRING:
	case XV_DATETIME:
		free(v->u.s);
		break;
	case XV_ARRAY:
		for (size_t i = 0; i < v->u.a.n; i++)
			xv_free(v->u.a.items[i]);
		free(v->u.a.items);
		break;
	case XV_STRUCT:
		for (size_t i = 0; i < v->u.st.n; i++) {
			free(v->u.st.names[i]);
			xv_free(v->u.st.vals[i]);
		}
		free(v->u.st.names);
		free(v->u.st.vals);
		break;
	case XV_GEN:
		if (v->u.g.release)
			v->u.g.release(v->u.g.state);
		break;
	default:
		break;
	}
	free(v);
}

const char *
xv_type_name(enum xv_type t)
{
	switch (t) {
	case XV_NIL:
		return "nil";
	case XV_STRING:
		return "string";
	case XV_INT:
		return "int";
	case XV_FLOAT:
		return "float";
	case XV_BOOL:
		return "bool";
	case XV_DATETIME:
		return "datetime";
	case XV_ARRAY:
		return "array";
	case XV_STRUCT:
		return "struct";
	case XV_GEN:
		return "generator";
	}
	return "unknown";
}

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), storing
 * its code point in *cp; 0 if the bytes there are not well-formed. */
static size_t
xv_utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0];
	uint32_t u, min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		u = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		u = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		u = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		u = (u << 6) | (p[i] & 0x3f);
	}
	if (u < min || u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff))
		return 0;
	*cp = u;
	return len;
}

/* Shared scanner: validates UTF-8 and, when xml is set, XML 1.0 chars. */
static bool
xv_scan_text(const char *s, size_t n, bool xml)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		/* Fast path: eight ASCII bytes at a time. */
		if (!xml) {
			while (i + 8 <= n) {
				uint64_t w;
				memcpy(&w, p + i, 8);
				if (w & UINT64_C(0x8080808080808080))
					break;
				i += 8;
			}
			if (i >= n)
				break;
		}
		if (p[i] < 0x80) {
			if (xml && p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
			    p[i] != '\r')
				return false;
			i++;
			continue;
		}
		uint32_t cp;
		size_t len = xv_utf8_seq(p + i, n - i, &cp);
		if (!len)
			return false;
		if (xml && (cp == 0xfffe || cp == 0xffff))
			return false;
		i += len;
	}
	return true;
}

bool
xv_utf8_valid(const char *s, size_t n)
{
	return xv_scan_text(s, n, false);
}

bool
xv_text_valid(const char *s, size_t n)
{
	return xv_scan_text(s, n, true);
}

char *
xv_utf8_repair(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	/* Worst case every byte becomes the three bytes of U+FFFD. */
	char *out = xmalloc(n * 3 + 1), *o = out;
	size_t i = 0;

	while (i < n) {
		uint32_t cp;
		size_t len = xv_utf8_seq(p + i, n - i, &cp);
		if (len) {
			memcpy(o, p + i, len);
			o += len;
			i += len;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	*o = '\0';
	return out;
}

/* Reads exactly n decimal digits at *p into *out, advancing *p. */
static bool
xv_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static bool
xv_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
xv_parse_datetime(const char *s, int64_t *epoch)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;

	if (!s || !xv_digits(&p, 4, &y))
		return -1;
	bool iso = *p == '-';
	if (iso)
		p++;
	if (!xv_digits(&p, 2, &mo))
		return -1;
	if (iso && *p++ != '-')
		return -1;
	if (!xv_digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't')
		return -1;
	p++;
	if (!xv_digits(&p, 2, &h) || *p++ != ':' || !xv_digits(&p, 2, &mi) ||
	    *p++ != ':' || !xv_digits(&p, 2, &sec))
		return -1;
	if (*p == '.' || *p == ',') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (!xv_digits(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (!xv_digits(&p, 2, &om))
			return -1;
		if (oh > 23 || om > 59)
			return -1;
	}
	if (*p != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (d > mdays[mo - 1] + (mo == 2 && xv_leap(y)))
		return -1;
	int64_t t = xv_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
		    h * 3600 + mi * 60 + sec;
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*epoch = t;
	return 0;
}
