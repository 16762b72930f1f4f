/* dmval_dump: values in xapi's database-dump text (scalars as text, sets
 * and maps as quoted S-expressions), both ways. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "db/dmval.h"
#include "db/dmval_int.h"
#include "util/xalloc.h"

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

