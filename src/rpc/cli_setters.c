/* cli_setters: the generated <class>-param-set, -param-add, -param-remove
 * and -param-clear commands. Every change is an API call (setters,
 * add_to_/remove_from_, add_/remove_), so errors and audit are uniform. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/cli_gen.h"
#include "rpc/cli_select.h"
#include "util/xalloc.h"

int
cli_parse_bytes(const char *text, long long *out)
{
	static const char *const units[] = {
		"bytes", "b", "", "kib", "kb", "k", "mib", "mb", "m",
		"gib",	 "gb", "g", "tib", "tb", "t", NULL};
	const char *p = text;
	char *end;
	long long v;
	size_t u;

	while (isspace((unsigned char)*p))
		p++;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (end == p || errno || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	for (u = 0; units[u]; u++)
		if (strcasecmp(end, units[u]) == 0)
			break;
	if (!units[u])
		return -1;
	for (size_t k = 0; k < u / 3; k++) {
		if (v > (long long)(9223372036854775807LL / 1024))
			return -1;
		v *= 1024;
	}
	*out = v;
	return 0;
}

/* Strict integer text (OCaml's Int64.of_string, decimal). */
static int
cli_parse_int(const char *text, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(text, &end, 10);
	return (end == text || *end || errno) ? -1 : 0;
}

/* One scalar (or ref) of type t. */
static xv *
cli_scalar_to_xv(struct cli_ctx *ctx, const struct dm_type *t,
		 const char *const *emap, const char *name, bool bytes,
		 const char *text)
{
	long long i;
	double d;
	char *end, *ref;
	const char *e;
	int64_t epoch;

	switch (t->kind) {
	case DMK_INT:
		if (bytes) {
			if (cli_parse_bytes(text, &i) == 0)
				return xv_int(i);
			cli_fail(ctx,
				 "Failed to parse field '%s': expecting an "
				 "integer (possibly with suffix KiB, MiB, GiB, "
				 "TiB), got '%s'",
				 name, text);
			return NULL;
		}
		if (cli_parse_int(text, &i) == 0)
			return xv_int(i);
		cli_fail(ctx, "Failed to parse parameter '%s': expecting an "
			      "integer", name);
		return NULL;
	case DMK_BOOL:
		if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0)
			return xv_bool(text[0] == 't');
		cli_fail(ctx, "Failed to parse parameter '%s': expecting a "
			      "boolean (true or false)", name);
		return NULL;
	case DMK_FLOAT:
		errno = 0;
		d = strtod(text, &end);
		if (end != text && !*end && !errno)
			return xv_float(d);
		cli_fail(ctx, "Parameter %s must be a floating-point number",
			 name);
		return NULL;
	case DMK_ENUM:
		e = cli_enum_parse(t->en, emap, text);
		return xv_str(e ? e : text);
	case DMK_REF:
		if (text[0] == '\0' || t->cls < 0)
			return xv_str(t->cls < 0 ? text : DM_NULL_REF);
		ref = cli_ref_by_uuid(ctx, t->cls, text);
		return ref ? xv_str_own(ref) : NULL;
	case DMK_DATETIME:
		if (xv_parse_datetime(text, &epoch) == 0)
			return xv_datetime_t(epoch);
		cli_fail(ctx, "Failed to parse parameter '%s': expecting a "
			      "date", name);
		return NULL;
	default:
		return xv_str(text);
	}
}

xv *
cli_text_to_xv(struct cli_ctx *ctx, const struct dm_type *t,
	       const char *const *emap, const char *name, bool bytes,
	       const char *text)
{
	xv *arr, *el;
	char *list, *p;

	if (t->kind != DMK_SET)
		return cli_scalar_to_xv(ctx, t, emap, name, bytes, text);
	arr = xv_array();
	if (text[0] == '\0')
		return arr;
	list = xstrdup(text);
	for (p = list;;) {
		char *comma = strchr(p, ',');

		if (comma)
			*comma = '\0';
		el = cli_scalar_to_xv(ctx, t->a, emap, name, bytes, p);
		if (!el) {
			xv_free(arr);
			free(list);
			return NULL;
		}
		xv_push(arr, el);
		if (!comma)
			break;
		p = comma + 1;
	}
	free(list);
	return arr;
}

/* "<Class>.<prefix><api field>", or "<Class>.<msg>" for a NULL prefix;
 * the set add/remove messages may be renamed by the field. */
static char *
cli_method(const struct cli_class *c, const struct cli_fdef *f,
	   const char *prefix)
{
	const struct dm_class *dc = &dm_classes[c->cls];

	if (!prefix)
		return xasprintf("%s.%s", dc->name, f->msg);
	if (f->add && strcmp(prefix, "add_") == 0)
		return xasprintf("%s.%s", dc->name, f->add);
	if (f->remove && strcmp(prefix, "remove_") == 0)
		return xasprintf("%s.%s", dc->name, f->remove);
	return xasprintf("%s.%s%s", dc->name, prefix, dc->fields[f->fi].name);
}

/* Calls <Class>.<prefix><field>(ref, args...) (args owned). */
static int
cli_field_call(struct cli_ctx *ctx, const struct cli_class *c,
	       const struct cli_fdef *f, const char *prefix, const char *ref,
	       xv *a1, xv *a2)
{
	char *m = cli_method(c, f, prefix);
	int rc = cli_call(ctx, m, NULL, xv_str(ref), a1, a2, NULL);

	free(m);
	return rc;
}

/* The map key / value / set element types of a field. */
static const struct dm_type *
cli_key_type(const struct cli_class *c, const struct cli_fdef *f)
{
	const struct dm_type *t = cli_field_type(c, f);

	return t && (t->kind == DMK_MAP || t->kind == DMK_SET) ? t->a : NULL;
}

static const struct dm_type *
cli_val_type(const struct cli_class *c, const struct cli_fdef *f)
{
	const struct dm_type *t = cli_field_type(c, f);

	return t && t->kind == DMK_MAP ? t->b : NULL;
}

/* A map key or set element as a wire value. */
static xv *
cli_key_xv(struct cli_ctx *ctx, const struct cli_class *c,
	   const struct cli_fdef *f, const char *text)
{
	const struct dm_type *t = cli_key_type(c, f);

	/* Record_util.string_to_vm_operation and its kind refuse unknown
	 * enum keys before any call. */
	if (t && t->kind == DMK_ENUM && !cli_enum_parse(t->en, f->emap, text)) {
		cli_fail_api(ctx, api_error(XE_INVALID_VALUE,
					    strcmp(f->name,
						   "blocked-operations") == 0
						    ? "blocked_operation"
						    : dm_classes[c->cls]
							      .fields[f->fi]
							      .name,
					    text, NULL));
		return NULL;
	}
	return t ? cli_scalar_to_xv(ctx, t, f->emap, f->name, false, text)
		 : xv_str(text);
}

/* A key to add to a map field: checked against the field's allowed keys
 * ("Failed to add parameter 'k': expecting 'weight','cap' or 'mask'"). */
static xv *
cli_add_key_xv(struct cli_ctx *ctx, const struct cli_class *c,
	       const struct cli_fdef *f, const char *text)
{
	struct buf b = BUF_INIT;
	size_t n = 0;

	for (size_t i = 0; f->keys && f->keys[i]; i++, n++)
		if (strcmp(f->keys[i], text) == 0)
			return cli_key_xv(ctx, c, f, text);
	if (!f->keys)
		return cli_key_xv(ctx, c, f, text);
	for (size_t i = 0; i < n; i++)
		buf_addf(&b, "%s'%s'", i == 0 ? "" : i + 1 == n ? " or " : ",",
			 f->keys[i]);
	cli_fail(ctx, "Failed to add parameter '%s': expecting %s", text,
		 b.data);
	buf_free(&b);
	return NULL;
}

static xv *
cli_val_xv(struct cli_ctx *ctx, const struct cli_class *c,
	   const struct cli_fdef *f, const char *text)
{
	const struct dm_type *t = cli_val_type(c, f);

	return t ? cli_scalar_to_xv(ctx, t, f->emap, f->name, false, text)
		 : xv_str(text);
}

/* The current keys of a map field (or members of a set field) of ref. */
static size_t
cli_current(struct cli_ctx *ctx, const struct cli_class *c,
	    const struct cli_fdef *f, const char *ref, bool set, char ***out)
{
	const struct db_row *row = cli_lock_row(ctx, c, ref);
	char **vals = NULL;
	size_t n;

	*out = NULL;
	if (!row) {
		cli_fail_clear(ctx);
		return 0;
	}
	if (set) {
		n = cli_field_set(c, f, row, out);
	} else {
		n = cli_field_map(c, f, row, out, &vals);
		cli_strv_free(vals, n);
	}
	db_unlock();
	return n;
}

static bool
cli_strv_has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* Sets one map key: set_in_map, or remove (if present) then add. */
static int
cli_set_map_key(struct cli_ctx *ctx, const struct cli_class *c,
		const struct cli_fdef *f, const char *ref, const char *key,
		const char *val)
{
	char **keys;
	size_t n;
	bool present;
	xv *k, *v;

	if (f->flags & CLIF_SETINMAP) {
		char *m = cli_method(c, f, NULL);
		int rc = cli_call(ctx, m, NULL, xv_str(ref), xv_str(key),
				  xv_str(val), NULL);
		free(m);
		return rc;
	}
	if (!(f->flags & CLIF_MAPRW))
		return cli_fail(ctx, "Map field '%s' is read-only.", f->name);
	n = cli_current(ctx, c, f, ref, false, &keys);
	present = cli_strv_has(keys, n, key);
	cli_strv_free(keys, n);
	if (present) {
		if (!(k = cli_key_xv(ctx, c, f, key)))
			return -1;
		if (cli_field_call(ctx, c, f, "remove_from_", ref, k, NULL) < 0)
			return -1;
	}
	if (!(k = cli_add_key_xv(ctx, c, f, key)))
		return -1;
	if (!(v = cli_val_xv(ctx, c, f, val))) {
		xv_free(k);
		return -1;
	}
	return cli_field_call(ctx, c, f, "add_to_", ref, k, v);
}

/* Sets a scalar field through its setter. */
static int
cli_set_scalar(struct cli_ctx *ctx, const struct cli_class *c,
	       const struct cli_fdef *f, const char *ref, const char *text)
{
	const struct dm_type *t = cli_field_type(c, f);
	xv *v;

	if (!(f->flags & CLIF_RW) || !t) {
		if (f->flags & CLIF_MAPRW)
			return cli_fail(ctx,
					"Field '%s' is a map or set. use the "
					"'name:key=value' syntax.",
					f->name);
		return cli_fail(ctx, "Field '%s' is read-only.", f->name);
	}
	v = cli_text_to_xv(ctx, t, f->emap, f->name,
			   (f->flags & CLIF_BYTES) != 0, text);
	if (!v)
		return -1;
	return cli_field_call(ctx, c, f, f->msg ? NULL : "set_", ref, v, NULL);
}

/* Replaces a set_map field by the given pairs. */
static int
cli_set_whole_map(struct cli_ctx *ctx, const struct cli_class *c,
		  const struct cli_fdef *f, const char *ref,
		  const struct cli_kv *kv, size_t n)
{
	xv *m = xv_struct();

	for (size_t i = 0; i < n; i++)
		xv_set(m, kv[i].k, xv_str(kv[i].v));
	return cli_field_call(ctx, c, f, "set_", ref, m, NULL);
}

int
cli_gen_param_set(struct cli_ctx *ctx)
{
	const struct cli_class *c = ctx->cmd->cls;
	const struct cli_args *a = ctx->args;
	struct cli_kv *acc = xcalloc(a->n + 1, sizeof(*acc));
	const struct cli_fdef *accf = NULL;
	size_t nacc = 0;
	char *ref = cli_record_ref(ctx, c), *err = NULL;
	int rc = ref ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < a->n; i++) {
		const char *k = a->kv[i].k, *v = a->kv[i].v;
		const struct cli_fdef *f;
		int kind;

		if (strcmp(k, "uuid") == 0 || cli_args_is_std(k))
			continue;
		kind = cli_field_kind(c, k, &f, &err);
		if (kind < 0) {
			rc = cli_fail(ctx, "%s", err);
			free(err);
		} else if (kind == CLI_FT_SET) {
			rc = cli_fail(ctx, "Cannot param-set on set fields");
		} else if (kind == CLI_FT_NORMAL) {
			rc = cli_set_scalar(ctx, c, f, ref, v);
		} else if (f->flags & CLIF_SETMAP) {
			/* Accumulated, then set whole (one such field per
			 * class in practice). */
			accf = f;
			acc[nacc].k = (char *)k + strlen(f->name) + 1;
			acc[nacc++].v = (char *)v;
		} else {
			rc = cli_set_map_key(ctx, c, f, ref,
					     k + strlen(f->name) + 1, v);
		}
	}
	if (rc == 0 && accf)
		rc = cli_set_whole_map(ctx, c, accf, ref, acc, nacc);
	free(acc);
	free(ref);
	return rc;
}

/* field_lookup for param-add/remove/clear: the param-name= field. */
static const struct cli_fdef *
cli_named_field(struct cli_ctx *ctx, const struct cli_class *c)
{
	const char *pname = cli_param(ctx, "param-name");
	const struct cli_fdef *f = cli_field_find(c, pname ? pname : "");

	if (!f)
		cli_fail_missing(ctx, pname ? pname : "");
	return f;
}

int
cli_gen_param_add(struct cli_ctx *ctx)
{
	const struct cli_class *c = ctx->cmd->cls;
	const struct cli_args *a = ctx->args;
	const struct cli_fdef *f;
	const char *key = cli_param(ctx, "param-key");
	char *ref = cli_record_ref(ctx, c);
	int rc = 0;
	xv *k, *v;

	if (!ref)
		return -1;
	if (!(f = cli_named_field(ctx, c))) {
		free(ref);
		return -1;
	}
	if (f->flags & CLIF_SETRW) {
		if (!key)
			rc = cli_fail(ctx, "When adding a key to a set, use the "
					   "syntax: *-param-add "
					   "param-name=<name> param-key=<key>");
		else if (!(k = cli_key_xv(ctx, c, f, key)))
			rc = -1;
		else
			rc = cli_field_call(ctx, c, f, "add_", ref, k, NULL);
	} else if (f->flags & CLIF_MAPRW) {
		for (size_t i = 0; rc == 0 && i < a->n; i++) {
			const char *pk = a->kv[i].k;

			if (strcmp(pk, "uuid") == 0 ||
			    strcmp(pk, "param-name") == 0 ||
			    strcmp(pk, "param-key") == 0 ||
			    cli_args_is_std(pk))
				continue;
			if (!(k = cli_add_key_xv(ctx, c, f, pk))) {
				rc = -1;
			} else if (!(v = cli_val_xv(ctx, c, f, a->kv[i].v))) {
				xv_free(k);
				rc = -1;
			} else {
				rc = cli_field_call(ctx, c, f, "add_to_", ref,
						    k, v);
			}
		}
	} else if (cli_field_is_set(f) || cli_field_is_map(f)) {
		rc = cli_fail(ctx, "Parameter is read-only");
	} else {
		rc = cli_fail(ctx, "Can only add to parameters of type Set or "
				   "Map");
	}
	free(ref);
	return rc;
}

int
cli_gen_param_remove(struct cli_ctx *ctx)
{
	const struct cli_class *c = ctx->cmd->cls;
	const struct cli_fdef *f;
	const char *key = cli_param(ctx, "param-key");
	char *ref = cli_record_ref(ctx, c);
	char **cur;
	size_t n;
	bool set, has;
	int rc;
	xv *k;

	if (!ref)
		return -1;
	if (!(f = cli_named_field(ctx, c))) {
		free(ref);
		return -1;
	}
	set = (f->flags & CLIF_SETRW) != 0;
	if (!set && !(f->flags & CLIF_MAPRW)) {
		free(ref);
		if (cli_field_is_set(f) || cli_field_is_map(f))
			return cli_fail(ctx, "Cannot remove parameters from "
					     "read-only map");
		return cli_fail(ctx, "Can only remove from parameters of type "
				     "Set or Map");
	}
	n = cli_current(ctx, c, f, ref, set, &cur);
	has = cli_strv_has(cur, n, key ? key : "");
	cli_strv_free(cur, n);
	if (!has)
		rc = set ? cli_fail(ctx, "Key %s is not in the set", key)
			 : cli_fail(ctx, "Key %s is not in map", key);
	else if (!(k = cli_key_xv(ctx, c, f, key)))
		rc = -1;
	else
		rc = cli_field_call(ctx, c, f, set ? "remove_" : "remove_from_",
				    ref, k, NULL);
	free(ref);
	return rc;
}

int
cli_gen_param_clear(struct cli_ctx *ctx)
{
	const struct cli_class *c = ctx->cmd->cls;
	const struct cli_fdef *f;
	char *ref = cli_record_ref(ctx, c);
	char **cur;
	size_t n;
	int rc = 0;
	xv *k;

	if (!ref)
		return -1;
	if (!(f = cli_named_field(ctx, c))) {
		free(ref);
		return -1;
	}
	if (f->flags & (CLIF_SETRW | CLIF_MAPRW)) {
		bool set = (f->flags & CLIF_SETRW) != 0;

		if (!set && (f->flags & CLIF_CLEARMAP)) {
			rc = cli_field_call(ctx, c, f, "set_", ref, xv_struct(),
					    NULL);
			free(ref);
			return rc;
		}
		n = cli_current(ctx, c, f, ref, set, &cur);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			if (!(k = cli_key_xv(ctx, c, f, cur[i])))
				rc = -1;
			else
				rc = cli_field_call(ctx, c, f,
						    set ? "remove_"
							: "remove_from_",
						    ref, k, NULL);
		}
		cli_strv_free(cur, n);
	} else if (f->flags & (CLIF_CLEARMAP | CLIF_SETMAP)) {
		rc = cli_field_call(ctx, c, f, "set_", ref, xv_struct(), NULL);
	} else if (f->flags & CLIF_RW) {
		if (cli_set_scalar(ctx, c, f, ref, "") < 0) {
			cli_fail_clear(ctx);
			rc = cli_fail(ctx, "Cannot clear this parameter");
		}
	} else {
		rc = cli_fail(ctx, "Can only clear RW parameters");
	}
	free(ref);
	return rc;
}
