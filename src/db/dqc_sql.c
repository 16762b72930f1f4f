/* dqc_sql: the SQL requests of the dqlite client: OPEN, EXEC_SQL with
 * parameters, QUERY_SQL with multi-batch ROWS (see dqc.h). */
#include "dqc_priv.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Appends a parameter tuple; nothing at all when there are no parameters. */
static int
dqc_put_params(struct dqc *c, struct buf *b, const struct dqc_value *v,
	       size_t n, char **err)
{
	size_t hdr = dqc_pad8(n + 1);
	uint64_t u;

	if (n == 0)
		return 0;
	if (n > DQC_MAX_PARAMS)
		return dqc_fail(c, err, DQC_ETRANSPORT,
				"dqc: %zu parameters, at most %d", n,
				DQC_MAX_PARAMS);
	buf_addc(b, (char)n);
	for (size_t i = 0; i < n; i++)
		buf_addc(b, (char)v[i].type);
	dqc_put_zeros(b, hdr - 1 - n);
	for (size_t i = 0; i < n; i++) {
		switch (v[i].type) {
		case DQC_INTEGER:
		case DQC_UNIXTIME:
			dqc_put_u64(b, (uint64_t)v[i].u.i);
			break;
		case DQC_BOOLEAN:
			dqc_put_u64(b, v[i].u.i != 0);
			break;
		case DQC_FLOAT:
			memcpy(&u, &v[i].u.f, 8);
			dqc_put_u64(b, u);
			break;
		case DQC_TEXT:
		case DQC_ISO8601:
			dqc_put_text(b, v[i].u.s ? v[i].u.s : "");
			break;
		case DQC_BLOB:
			dqc_put_u64(b, v[i].u.blob.n);
			buf_add(b, v[i].u.blob.p, v[i].u.blob.n);
			dqc_put_zeros(b, dqc_pad8(v[i].u.blob.n) -
						 v[i].u.blob.n);
			break;
		case DQC_NULL:
			dqc_put_u64(b, 0);
			break;
		default:
			return dqc_fail(c, err, DQC_ETRANSPORT,
					"dqc: parameter %zu has bad type %d",
					i + 1, (int)v[i].type);
		}
	}
	return 0;
}

/* ---- SQL ---- */

int
dqc_open(struct dqc *c, const char *name, char **err)
{
	struct buf *b = dqc_begin(c);
	struct dqc_cur k;

	if (c->db_open)
		return dqc_fail(c, err, DQC_ETRANSPORT,
				"dqc: a database is already open");
	dqc_put_text(b, name);
	dqc_put_u64(b, 0); /* flags */
	dqc_put_text(b, ""); /* vfs */
	if (dqc_roundtrip(c, DQC_REQ_OPEN, DQC_RES_DB, &k, err) < 0)
		return -1;
	if (dqc_get_u64(&k, &c->db_id) < 0)
		return dqc_tfail(c, err, "malformed DB response");
	c->db_id &= 0xffffffffu; /* u32 id + u32 padding */
	c->db_open = true;
	/* dqlite 1.11 cannot read back pages SQLite spills to the WAL in the
	 * middle of a transaction: keep them in the page cache. */
	return dqc_exec(c, "PRAGMA cache_spill = OFF", NULL, 0, NULL, NULL,
			err);
}

/* Starts an EXEC_SQL or QUERY_SQL request. */
static int
dqc_begin_sql(struct dqc *c, const char *sql, const struct dqc_value *params,
	      size_t nparams, char **err)
{
	struct buf *b = dqc_begin(c);

	if (!c->db_open)
		return dqc_fail(c, err, DQC_ETRANSPORT,
				"dqc: no database open");
	dqc_put_u64(b, c->db_id);
	dqc_put_text(b, sql);
	return dqc_put_params(c, b, params, nparams, err);
}

int
dqc_exec(struct dqc *c, const char *sql, const struct dqc_value *params,
	 size_t nparams, int64_t *last_insert_id, uint64_t *rows_affected,
	 char **err)
{
	struct dqc_cur k;
	uint64_t id, rows;

	if (dqc_begin_sql(c, sql, params, nparams, err) < 0)
		return -1;
	if (dqc_roundtrip(c, DQC_REQ_EXEC_SQL, DQC_RES_RESULT, &k, err) < 0)
		return -1;
	if (dqc_get_u64(&k, &id) < 0 || dqc_get_u64(&k, &rows) < 0)
		return dqc_tfail(c, err, "malformed RESULT response");
	if (last_insert_id)
		*last_insert_id = (int64_t)id;
	if (rows_affected)
		*rows_affected = rows;
	return 0;
}

/* Decodes one row value of type ty. */
static int
dqc_get_value(struct dqc_cur *k, int ty, struct dqc_value *v)
{
	uint64_t u;

	v->type = (enum dqc_type)ty;
	switch (ty) {
	case DQC_INTEGER:
	case DQC_UNIXTIME:
	case DQC_BOOLEAN:
		if (dqc_get_u64(k, &u) < 0)
			return -1;
		v->u.i = (int64_t)u;
		return 0;
	case DQC_FLOAT:
		if (dqc_get_u64(k, &u) < 0)
			return -1;
		memcpy(&v->u.f, &u, 8);
		return 0;
	case DQC_TEXT:
	case DQC_ISO8601:
		return dqc_get_text(k, &v->u.s);
	case DQC_BLOB:
		return dqc_get_blob(k, &v->u.blob.p, &v->u.blob.n);
	case DQC_NULL:
		return dqc_get_u64(k, &u);
	default:
		return -1;
	}
}

struct dqc_rows {
	size_t ncols;
	const char **names;
	struct dqc_value *vals;
	bool stopped;
};

/* Decodes one ROWS batch and feeds its rows to cb. Sets *done at the last
 * batch. */
static int
dqc_rows_batch(struct dqc *c, struct dqc_cur *k, struct dqc_rows *r,
	       dqc_row_cb cb, void *ctx, bool *done, char **err)
{
	uint64_t ncols, w;
	size_t hdr;

	if (dqc_get_u64(k, &ncols) < 0 || ncols == 0 || ncols > k->left)
		return dqc_tfail(c, err, "malformed ROWS response");
	if (ncols != r->ncols) {
		r->ncols = (size_t)ncols;
		r->names = xrealloc(r->names, r->ncols * sizeof(*r->names));
		r->vals = xrealloc(r->vals, r->ncols * sizeof(*r->vals));
	}
	for (size_t i = 0; i < r->ncols; i++)
		if (dqc_get_text(k, &r->names[i]) < 0)
			return dqc_tfail(c, err, "malformed ROWS names");
	hdr = dqc_pad8((r->ncols + 1) / 2);
	for (;;) {
		struct dqc_cur peek = *k;
		const uint8_t *types;

		if (dqc_get_u64(&peek, &w) < 0)
			return dqc_tfail(c, err, "ROWS without end marker");
		if (w == DQC_ROWS_DONE || w == DQC_ROWS_PART) {
			*done = w == DQC_ROWS_DONE;
			return 0;
		}
		if (hdr > k->left)
			return dqc_tfail(c, err, "malformed ROWS header");
		types = k->p;
		k->p += hdr;
		k->left -= hdr;
		for (size_t i = 0; i < r->ncols; i++) {
			int ty = (types[i / 2] >> ((i % 2) * 4)) & 0xf;
			if (dqc_get_value(k, ty, &r->vals[i]) < 0)
				return dqc_tfail(c, err,
						 "malformed ROWS value");
		}
		if (cb && !r->stopped &&
		    cb(ctx, r->ncols, r->names, r->vals) != 0)
			r->stopped = true;
	}
}

int
dqc_query(struct dqc *c, const char *sql, const struct dqc_value *params,
	  size_t nparams, dqc_row_cb cb, void *ctx, char **err)
{
	struct dqc_rows r = {0, NULL, NULL, false};
	int64_t deadline = dqc_now_ms() + c->timeout_ms;
	bool done = false;
	int rv = 0;

	if (dqc_begin_sql(c, sql, params, nparams, err) < 0 ||
	    dqc_send(c, DQC_REQ_QUERY_SQL, deadline, err) < 0)
		return -1;
	while (!done) {
		struct dqc_cur k;
		uint8_t type;

		if (dqc_recv(c, deadline, &type, &k, err) < 0) {
			rv = -1;
			break;
		}
		if (type != DQC_RES_ROWS) {
			rv = dqc_tfail(c, err, "response type %d to query",
				       type);
			break;
		}
		if (dqc_rows_batch(c, &k, &r, cb, ctx, &done, err) < 0) {
			rv = -1;
			break;
		}
		deadline = dqc_now_ms() + c->timeout_ms;
	}
	free(r.names);
	free(r.vals);
	if (rv == 0 && r.stopped)
		return dqc_fail(c, err, DQC_ESTOPPED,
				"dqc: query stopped by callback");
	if (rv == 0)
		c->errcode = 0;
	return rv;
}

struct dqc_value
dqc_int(int64_t i)
{
	struct dqc_value v = {.type = DQC_INTEGER, .u.i = i};
	return v;
}

struct dqc_value
dqc_float(double f)
{
	struct dqc_value v = {.type = DQC_FLOAT, .u.f = f};
	return v;
}

struct dqc_value
dqc_text(const char *s)
{
	struct dqc_value v = {.type = DQC_TEXT, .u.s = s};
	return v;
}

struct dqc_value
dqc_blob(const void *p, size_t n)
{
	struct dqc_value v = {.type = DQC_BLOB, .u.blob = {p, n}};
	return v;
}

struct dqc_value
dqc_null(void)
{
	struct dqc_value v = {.type = DQC_NULL};
	return v;
}
