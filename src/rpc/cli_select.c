/* cli_select: record filters and the VM selectors. */
#include "rpc/cli_select.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

/* The longest set-or-map field whose name + "-" prefixes key. */
static const struct cli_fdef *
cli_legacy_prefix(const struct cli_class *c, const char *key, bool map)
{
	const struct cli_fdef *best = NULL;
	size_t bl = 0;

	for (size_t i = 0; i < c->nfields; i++) {
		const struct cli_fdef *f = &c->fields[i];
		size_t l = strlen(f->name);

		if (map ? !cli_field_is_map(f) : !cli_field_is_set(f))
			continue;
		if (strncmp(key, f->name, l) == 0 && key[l] == '-' &&
		    (!best || l > bl)) {
			best = f;
			bl = l;
		}
	}
	return best;
}

int
cli_field_kind(const struct cli_class *c, const char *key,
	       const struct cli_fdef **f, char **err)
{
	const char *colon;

	if ((*f = cli_field_find(c, key)))
		return CLI_FT_NORMAL;
	colon = strchr(key, ':');
	if (colon) {
		char *real = xstrndup(key, (size_t)(colon - key));

		*f = cli_field_find(c, real);
		free(real);
		if (!*f) {
			*err = xasprintf("Unknown field '%s'", key);
			return -1;
		}
		if (cli_field_is_set(*f))
			return CLI_FT_SET;
		if (cli_field_is_map(*f))
			return CLI_FT_MAP;
		*err = xasprintf("Field '%s' is not a set or map", (*f)->name);
		return -1;
	}
	if ((*f = cli_legacy_prefix(c, key, true)))
		return CLI_FT_MAP;
	if ((*f = cli_legacy_prefix(c, key, false)))
		return CLI_FT_SET;
	*err = xasprintf("Unknown field '%s'", key);
	return -1;
}

/* Compares two texts, ignoring case when the field asks for it. */
static bool
cli_text_eq(const struct cli_fdef *f, const char *a, const char *b)
{
	return (f->flags & CLIF_CI) ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

/* Whether row matches one filter of a known kind. */
static bool
cli_row_match(const struct cli_class *c, const struct cli_fdef *f, int kind,
	      const char *sub, const char *value, const struct db_row *row)
{
	struct buf b = BUF_INIT;
	char **ks, **vs;
	size_t n;
	bool ok = false;

	switch (kind) {
	case CLI_FT_NORMAL:
		cli_field_text(c, f, row, &b);
		ok = cli_text_eq(f, b.data, value);
		buf_free(&b);
		return ok;
	case CLI_FT_MAP:
		n = cli_field_map(c, f, row, &ks, &vs);
		for (size_t i = 0; i < n && !ok; i++)
			ok = cli_text_eq(f, ks[i], sub) &&
			     cli_text_eq(f, vs[i], value);
		cli_strv_free(ks, n);
		cli_strv_free(vs, n);
		return ok;
	default:
		n = cli_field_set(c, f, row, &vs);
		for (size_t i = 0; i < n && !ok; i++)
			ok = cli_text_eq(f, vs[i], value);
		cli_strv_free(vs, n);
		return ok;
	}
}

int
cli_filter_rows(const struct cli_class *c, struct db_row **rows, size_t *n,
		const char *key, const char *value, char **err)
{
	const struct cli_fdef *f;
	const char *sub = NULL;
	size_t keep = 0;
	int kind;

	if (*n == 0)
		return 0;
	kind = cli_field_kind(c, key, &f, err);
	if (kind < 0)
		return -1;
	if (kind != CLI_FT_NORMAL) {
		sub = key + strlen(f->name) + 1;
		if (kind == CLI_FT_SET && strcmp(sub, "contains") != 0) {
			*err = xstrdup("Invalid syntax for set filtering "
				       "(should be set-param:contains=key)");
			return -1;
		}
	}
	for (size_t i = 0; i < *n; i++)
		if (cli_row_match(c, f, kind, sub, value, rows[i]))
			rows[keep++] = rows[i];
	*n = keep;
	return 0;
}

void
cli_refs_free(char **refs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(refs[i]);
	free(refs);
}

/* True if key (up to any ':') is one of the ignored names. */
static bool
cli_ignored(const char *key, const char *const *ignore)
{
	size_t l = strcspn(key, ":");

	for (size_t i = 0; ignore && ignore[i]; i++)
		if (strlen(ignore[i]) == l && strncmp(key, ignore[i], l) == 0)
			return true;
	return false;
}

/* Whether the stem of key is a standard parameter. */
static bool
cli_std_stem(const char *key)
{
	char *stem = xstrndup(key, strcspn(key, ":"));
	bool r = cli_args_is_std(stem);

	free(stem);
	return r;
}

/*
 * The common part of the selectors: rows of c whose pseudo= parameter (if
 * given) equals one of the fields pf (-1 terminated), then the pre
 * filters (key, value, ..., NULL), then every parameter but pseudo=, the
 * standard ones and those in ignore.
 */
static int
cli_select(struct cli_ctx *ctx, const struct cli_class *c, const char *pseudo,
	   const int *pf, const char *const *pre, const char *const *ignore,
	   char ***refs, size_t *n)
{
	const struct cli_args *a = ctx->args;
	const char *want = cli_args_get(a, pseudo);
	struct db_row **rows;
	size_t nr, keep = 0;
	char *err = NULL;
	int rc = 0;

	db_rdlock();
	rows = db_list(c->cls, &nr);
	if (want) {
		for (size_t i = 0; i < nr; i++) {
			bool hit = false;

			for (size_t j = 0; pf[j] >= 0 && !hit; j++)
				hit = rows[i]->f[pf[j]].s &&
				      strcmp(rows[i]->f[pf[j]].s, want) == 0;
			if (hit)
				rows[keep++] = rows[i];
		}
		nr = keep;
	}
	for (size_t i = 0; rc == 0 && pre && pre[i]; i += 2)
		rc = cli_filter_rows(c, rows, &nr, pre[i], pre[i + 1], &err);
	for (size_t i = 0; rc == 0 && i < a->n; i++) {
		const char *k = a->kv[i].k;

		if (strcmp(k, pseudo) == 0 || cli_std_stem(k) ||
		    cli_ignored(k, ignore))
			continue;
		rc = cli_filter_rows(c, rows, &nr, k, a->kv[i].v, &err);
	}
	if (rc == 0) {
		*refs = xcalloc(nr + 1, sizeof(char *));
		for (size_t i = 0; i < nr; i++)
			(*refs)[i] = xstrdup(rows[i]->ref);
		*n = nr;
	}
	db_unlock();
	free(rows);
	if (rc < 0) {
		cli_fail(ctx, "%s", err);
		free(err);
	}
	return rc;
}

int
cli_select_vms(struct cli_ctx *ctx, bool include_control,
	       bool include_templates, const char *const *ignore,
	       char ***refs, size_t *n)
{
	static const int pf[] = {DMF_VM_uuid, DMF_VM_name_label, -1};
	const char *pre[5];
	size_t np = 0;

	if (!include_templates) {
		pre[np++] = "is-a-template";
		pre[np++] = "false";
	}
	if (!include_control) {
		pre[np++] = "is-control-domain";
		pre[np++] = "false";
	}
	pre[np] = NULL;
	return cli_select(ctx, cli_class_find("vm"), "vm", pf, pre, ignore,
			  refs, n);
}

int
cli_select_hosts(struct cli_ctx *ctx, const char *const *ignore, char ***refs,
		 size_t *n)
{
	static const int pf[] = {DMF_host_uuid, DMF_host_hostname,
				 DMF_host_name_label, -1};

	return cli_select(ctx, cli_class_find("host"), "host", pf, NULL, ignore,
			  refs, n);
}

int
cli_select_srs(struct cli_ctx *ctx, const char *const *ignore, char ***refs,
	       size_t *n)
{
	static const int pf[] = {DMF_SR_uuid, DMF_SR_name_label, -1};

	return cli_select(ctx, cli_class_find("sr"), "sr", pf, NULL, ignore,
			  refs, n);
}

/* The do_*_op rule over a selection: none fails with none_msg; several
 * need --multiple when allowed (multi_msg), else one_msg. */
static int
cli_do_select(struct cli_ctx *ctx, bool multiple, char ***refs, size_t *n,
	      const char *none_msg, const char *multi_msg, const char *one_msg)
{
	bool mult = false;

	if (*n == 1)
		return 0;
	if (*n > 1 && multiple && cli_param_bool(ctx, "multiple", false,
						 &mult) < 0) {
		cli_refs_free(*refs, *n);
		return -1;
	}
	if (*n > 1 && multiple && mult)
		return 0;
	cli_refs_free(*refs, *n);
	*refs = NULL;
	if (*n == 0)
		return cli_fail(ctx, "%s", none_msg);
	return cli_fail(ctx, "%s", multiple ? multi_msg : one_msg);
}

int
cli_do_vm_select(struct cli_ctx *ctx, bool multiple, const char *const *ignore,
		 char ***refs, size_t *n)
{
	if (cli_select_vms(ctx, false, false, ignore, refs, n) < 0)
		return -1;
	return cli_do_select(ctx, multiple, refs, n, "No matching VMs found",
			     "Multiple matches VMs found. --multiple required "
			     "to complete the operation",
			     "Multiple matches VMs found. Operation can only "
			     "be performed on one VM at a time");
}

int
cli_do_host_select(struct cli_ctx *ctx, bool multiple,
		   const char *const *ignore, char ***refs, size_t *n)
{
	if (cli_select_hosts(ctx, ignore, refs, n) < 0)
		return -1;
	return cli_do_select(ctx, multiple, refs, n, "No matching hosts found",
			     "Multiple matching hosts found. --multiple "
			     "required to complete the operation",
			     "Multiple matching hosts found. Operation can "
			     "only be performed on one host at a time");
}

int
cli_do_sr_select(struct cli_ctx *ctx, bool multiple, const char *const *ignore,
		 char ***refs, size_t *n)
{
	if (cli_select_srs(ctx, ignore, refs, n) < 0)
		return -1;
	/* "hosts": xapi's do_sr_op says so too */
	return cli_do_select(ctx, multiple, refs, n, "No matching hosts found",
			     "Multiple matching SRs found. --multiple required "
			     "to complete the operation",
			     "Multiple matching SRs found. Operation can only "
			     "be performed on one SR at a time");
}
