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

int
cli_select_vms(struct cli_ctx *ctx, bool include_control,
	       bool include_templates, const char *const *ignore,
	       char ***refs, size_t *n)
{
	const struct cli_class *c = cli_class_find("vm");
	const struct cli_args *a = ctx->args;
	const char *vm = cli_args_get(a, "vm");
	struct db_row **rows;
	size_t nr, keep = 0;
	char *err = NULL;
	int rc = 0;

	db_rdlock();
	rows = db_list(DMC_VM, &nr);
	if (vm) {
		for (size_t i = 0; i < nr; i++)
			if (strcmp(rows[i]->f[DMF_VM_uuid].s, vm) == 0 ||
			    strcmp(rows[i]->f[DMF_VM_name_label].s, vm) == 0)
				rows[keep++] = rows[i];
		nr = keep;
	}
	if (!include_templates)
		rc = cli_filter_rows(c, rows, &nr, "is-a-template", "false",
				     &err);
	if (rc == 0 && !include_control)
		rc = cli_filter_rows(c, rows, &nr, "is-control-domain",
				     "false", &err);
	for (size_t i = 0; rc == 0 && i < a->n; i++) {
		const char *k = a->kv[i].k;

		if (strcmp(k, "vm") == 0 || cli_std_stem(k) ||
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
cli_do_vm_select(struct cli_ctx *ctx, bool multiple, const char *const *ignore,
		 char ***refs, size_t *n)
{
	bool mult = false;

	if (cli_select_vms(ctx, false, false, ignore, refs, n) < 0)
		return -1;
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
	if (*n == 0)
		return cli_fail(ctx, "No matching VMs found");
	if (!multiple)
		return cli_fail(ctx, "Multiple matches VMs found. Operation can "
				     "only be performed on one VM at a time");
	return cli_fail(ctx, "Multiple matches VMs found. --multiple required "
			     "to complete the operation");
}
