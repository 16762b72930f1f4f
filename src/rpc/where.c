/* where: parser and evaluator of xapi's record filter expressions. */
#include "rpc/where.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

enum where_op { W_TRUE, W_FALSE, W_EQ, W_AND, W_OR, W_NOT };

struct where_expr {
	enum where_op op;
	char *col, *lit;
	struct where_expr *l, *r;
};

struct where_parser {
	const char *p;
	int depth;
};

static void
where_ws(struct where_parser *ps)
{
	while (isspace((unsigned char)*ps->p))
		ps->p++;
}

static bool
where_kw(struct where_parser *ps, const char *kw)
{
	size_t n = strlen(kw);
	where_ws(ps);
	if (strncmp(ps->p, kw, n) == 0 && !isalnum((unsigned char)ps->p[n]) &&
	    ps->p[n] != '_') {
		ps->p += n;
		return true;
	}
	return false;
}

static char *
where_string(struct where_parser *ps)
{
	struct buf b = BUF_INIT;
	where_ws(ps);
	if (*ps->p != '"')
		return NULL;
	for (ps->p++; *ps->p && *ps->p != '"'; ps->p++) {
		if (*ps->p == '\\' && ps->p[1])
			ps->p++;
		buf_addc(&b, *ps->p);
	}
	if (*ps->p != '"') {
		buf_free(&b);
		return NULL;
	}
	ps->p++;
	return buf_steal(&b);
}

static struct where_expr *where_or(struct where_parser *ps);

static struct where_expr *
where_node(enum where_op op)
{
	struct where_expr *e = xcalloc(1, sizeof(*e));
	e->op = op;
	return e;
}

static struct where_expr *
where_atom(struct where_parser *ps)
{
	struct where_expr *e;
	if (++ps->depth > 64)
		return NULL;
	where_ws(ps);
	if (*ps->p == '(') {
		ps->p++;
		e = where_or(ps);
		where_ws(ps);
		if (!e || *ps->p != ')') {
			where_free(e);
			return NULL;
		}
		ps->p++;
		return e;
	}
	if (where_kw(ps, "not")) {
		struct where_expr *in = where_atom(ps);
		if (!in)
			return NULL;
		e = where_node(W_NOT);
		e->l = in;
		return e;
	}
	if (where_kw(ps, "true"))
		return where_node(W_TRUE);
	if (where_kw(ps, "false"))
		return where_node(W_FALSE);
	if (where_kw(ps, "field")) {
		char *col = where_string(ps), *lit = NULL;
		where_ws(ps);
		if (col && *ps->p == '=') {
			ps->p++;
			lit = where_string(ps);
		}
		if (!col || !lit) {
			free(col);
			free(lit);
			return NULL;
		}
		e = where_node(W_EQ);
		e->col = col;
		e->lit = lit;
		return e;
	}
	return NULL;
}

static struct where_expr *
where_and(struct where_parser *ps)
{
	struct where_expr *l = where_atom(ps);
	while (l && where_kw(ps, "and")) {
		struct where_expr *r = where_atom(ps), *e;
		if (!r) {
			where_free(l);
			return NULL;
		}
		e = where_node(W_AND);
		e->l = l;
		e->r = r;
		l = e;
	}
	return l;
}

static struct where_expr *
where_or(struct where_parser *ps)
{
	struct where_expr *l = where_and(ps);
	while (l && where_kw(ps, "or")) {
		struct where_expr *r = where_and(ps), *e;
		if (!r) {
			where_free(l);
			return NULL;
		}
		e = where_node(W_OR);
		e->l = l;
		e->r = r;
		l = e;
	}
	return l;
}

struct where_expr *
where_parse(const char *text, struct api_err **err)
{
	struct where_parser ps = {text, 0};
	struct where_expr *e = where_or(&ps);
	where_ws(&ps);
	if (!e || *ps.p) {
		where_free(e);
		*err = api_error(XE_INVALID_VALUE, "expr", text, NULL);
		return NULL;
	}
	return e;
}

bool
where_match(const struct where_expr *w, const struct db_row *r)
{
	switch (w->op) {
	case W_TRUE:
		return true;
	case W_FALSE:
		return false;
	case W_NOT:
		return !where_match(w->l, r);
	case W_AND:
		return where_match(w->l, r) && where_match(w->r, r);
	case W_OR:
		return where_match(w->l, r) || where_match(w->r, r);
	case W_EQ: {
		int fi = dm_field_find_db(r->cls, w->col);
		if (fi < 0) {
			if (strcmp(w->col, "_ref") == 0)
				return strcmp(r->ref, w->lit) == 0;
			return false;
		}
		const struct dm_type *t = dm_classes[r->cls].fields[fi].type;
		struct buf b = BUF_INIT;
		dmv_dump_text(&b, t, r->f[fi]);
		bool eq = strcmp(b.data ? b.data : "", w->lit) == 0;
		buf_free(&b);
		return eq;
	}
	}
	return false;
}

void
where_free(struct where_expr *w)
{
	if (!w)
		return;
	where_free(w->l);
	where_free(w->r);
	free(w->col);
	free(w->lit);
	free(w);
}
