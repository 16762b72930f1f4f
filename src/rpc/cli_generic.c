/* cli_generic: the generated <class>-list, -param-list and -param-get
 * commands (cli_operations.ml make_param_funs). */
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_gen.h"
#include "rpc/cli_select.h"
#include "util/xalloc.h"

/* The key a field is shown under: name, marker, [DEPRECATED]. */
char *
cli_field_key(const struct cli_fdef *f)
{
	return xasprintf("%s%s%s", f->name, cli_field_marker(f),
			 (f->flags & CLIF_DEPRECATED) ? " [DEPRECATED]" : "");
}

/* Fills rec with the fields of row picked by mask (NULL: all), hidden
 * fields never, expensive ones as "<expensive field>" when cheap is set. */
static void
cli_row_record(const struct cli_class *c, const struct db_row *row,
	       const bool *mask, bool cheap, struct cli_table_rec *rec)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < c->nfields; i++) {
		const struct cli_fdef *f = &c->fields[i];

		if ((mask && !mask[i]) || (f->flags & CLIF_HIDDEN))
			continue;
		buf_reset(&b);
		if (cheap && (f->flags & CLIF_EXPENSIVE))
			buf_adds(&b, "<expensive field>");
		else
			cli_field_text(c, f, row, &b);
		cli_rec_add_own(rec, cli_field_key(f), buf_steal(&b));
	}
	buf_free(&b);
}

void
cli_records_free(struct cli_table_rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cli_rec_free(&recs[i]);
	free(recs);
}

/* The field mask of params= (xapi's choose_params/select_fields): NULL
 * for every field. */
static bool *
cli_params_mask(const struct cli_class *c, const char *params,
		const char *const *defaults)
{
	bool *mask;

	if (params && strcmp(params, "all") == 0)
		return NULL;
	if (!params && !defaults)
		return NULL;
	mask = xcalloc(c->nfields + 1, sizeof(*mask));
	if (params) {
		char *list = xstrdup(params), *p = list;

		for (;;) {
			char *comma = strchr(p, ',');
			const struct cli_fdef *f;

			if (comma)
				*comma = '\0';
			if ((f = cli_field_find(c, p)))
				mask[f - c->fields] = true;
			if (!comma)
				break;
			p = comma + 1;
		}
		free(list);
		return mask;
	}
	for (size_t i = 0; defaults[i]; i++) {
		const struct cli_fdef *f = cli_field_find(c, defaults[i]);
		if (f)
			mask[f - c->fields] = true;
	}
	return mask;
}

int
cli_list_records(struct cli_ctx *ctx, const struct cli_class *c,
		 const char *const *extra_filters, const char *const *defaults,
		 struct cli_table_rec **out, size_t *nout)
{
	const struct cli_args *a = ctx->args;
	struct db_row **rows, **all;
	size_t n, nall, nrec;
	struct cli_table_rec *recs;
	bool print_all = false, *mask;
	char *err = NULL;
	int rc = 0;

	if (cli_param_bool(ctx, "all", false, &print_all) < 0)
		return -1;
	mask = cli_params_mask(c, cli_args_get(a, "params"), defaults);
	db_rdlock();
	rows = db_list(c->cls, &n);
	nall = n;
	all = xcalloc(n + 1, sizeof(*all));
	memcpy(all, rows, n * sizeof(*rows));
	for (size_t i = 0; rc == 0 && c->def_filters && c->def_filters[i];
	     i += 2)
		rc = cli_filter_rows(c, rows, &n, c->def_filters[i],
				     c->def_filters[i + 1], &err);
	for (size_t i = 0; rc == 0 && extra_filters && extra_filters[i];
	     i += 2)
		rc = cli_filter_rows(c, rows, &n, extra_filters[i],
				     extra_filters[i + 1], &err);
	for (size_t i = 0; rc == 0 && i < a->n; i++) {
		const char *k = a->kv[i].k;

		if (strcmp(k, "params") == 0 || cli_args_is_std(k) ||
		    strncmp(k, "database:", 9) == 0)
			continue;
		rc = cli_filter_rows(c, rows, &n, k, a->kv[i].v, &err);
	}
	if (rc == 0) {
		struct db_row **src = print_all ? all : rows;

		nrec = print_all ? nall : n;
		recs = xcalloc(nrec + 1, sizeof(*recs));
		for (size_t i = 0; i < nrec; i++)
			cli_row_record(c, src[i], mask, true, &recs[i]);
		*out = recs;
		*nout = nrec;
	}
	db_unlock();
	free(rows);
	free(all);
	free(mask);
	if (rc < 0) {
		cli_fail(ctx, "%s", err);
		free(err);
	}
	return rc;
}

int
cli_gen_list(struct cli_ctx *ctx)
{
	const struct cli_class *c = ctx->cmd->cls;
	struct cli_table_rec *recs;
	size_t n;

	if (cli_list_records(ctx, c, NULL, c->def_params, &recs, &n) < 0)
		return -1;
	cli_out_table(ctx->out, recs, n);
	cli_records_free(recs, n);
	return 0;
}

char *
cli_record_ref(struct cli_ctx *ctx, const struct cli_class *c)
{
	const char *uuid = cli_param(ctx, "uuid");

	return cli_ref_by_uuid(ctx, c->cls, uuid ? uuid : "");
}

/* Locks the store and returns the row of ref, or NULL (unlocked) after
 * recording HANDLE_INVALID. */
const struct db_row *
cli_lock_row(struct cli_ctx *ctx, const struct cli_class *c, const char *ref)
{
	const struct db_row *row;

	db_rdlock();
	row = db_get(c->cls, ref);
	if (!row) {
		db_unlock();
		cli_fail_api(ctx, api_error(XE_HANDLE_INVALID,
					    dm_classes[c->cls].name, ref, NULL));
	}
	return row;
}

int
cli_gen_param_list(struct cli_ctx *ctx)
{
	const struct cli_class *c = ctx->cmd->cls;
	struct cli_table_rec rec = {0};
	const struct db_row *row;
	char *ref = cli_record_ref(ctx, c);

	if (!ref)
		return -1;
	row = cli_lock_row(ctx, c, ref);
	free(ref);
	if (!row)
		return -1;
	cli_row_record(c, row, NULL, false, &rec);
	db_unlock();
	cli_out_table(ctx->out, &rec, 1);
	cli_rec_free(&rec);
	return 0;
}

/* CLI_failed_to_find_param: the client prints "Error code: Missing
 * parameter" and the name. */
int
cli_fail_missing(struct cli_ctx *ctx, const char *name)
{
	const char *p[1] = {name};

	return cli_fail_api(ctx, api_error_raw("Missing parameter", p, 1));
}

int
cli_gen_param_get(struct cli_ctx *ctx)
{
	const struct cli_class *c = ctx->cmd->cls;
	const char *pname = cli_param(ctx, "param-name");
	const char *key = cli_param(ctx, "param-key");
	const struct cli_fdef *f;
	const struct db_row *row;
	struct buf b = BUF_INIT;
	char *ref = cli_record_ref(ctx, c);
	int rc = 0;

	if (!ref)
		return -1;
	f = cli_field_find(c, pname ? pname : "");
	if (!f) {
		free(ref);
		return cli_fail_missing(ctx, pname ? pname : "");
	}
	row = cli_lock_row(ctx, c, ref);
	free(ref);
	if (!row)
		return -1;
	buf_adds(&b, "");
	if (key && cli_field_is_map(f)) {
		char **ks, **vs;
		size_t n = cli_field_map(c, f, row, &ks, &vs), i;

		for (i = 0; i < n; i++)
			if (strcmp(ks[i], key) == 0)
				break;
		if (i < n)
			buf_adds(&b, vs[i]);
		else
			rc = -1;
		cli_strv_free(ks, n);
		cli_strv_free(vs, n);
	} else {
		cli_field_text(c, f, row, &b);
	}
	db_unlock();
	if (rc == 0)
		cli_out_line(ctx->out, b.data);
	else
		cli_fail(ctx, "Key %s not found in map", key);
	buf_free(&b);
	return rc;
}
