/* cli_fields: the text of CLI fields, computed from store rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpc/cli_rectab.h"
#include "util/xalloc.h"

const char *
cli_ref_uuid(int cls, const char *ref)
{
	const struct db_row *r;

	if (!ref || strcmp(ref, DM_NULL_REF) == 0)
		return NULL;
	if (cls < 0)
		cls = db_ref_class(ref);
	if (cls < 0 || !(r = db_get(cls, ref)) || dm_classes[cls].f_uuid < 0)
		return NULL;
	return r->f[dm_classes[cls].f_uuid].s;
}

const char *
cli_ref_name(int cls, const char *ref)
{
	const struct db_row *r;

	if (!ref || strcmp(ref, DM_NULL_REF) == 0)
		return NULL;
	if (cls < 0)
		cls = db_ref_class(ref);
	if (cls < 0 || !(r = db_get(cls, ref)) ||
	    dm_classes[cls].f_name_label < 0)
		return NULL;
	return r->f[dm_classes[cls].f_name_label].s;
}

/* The CLI spelling of an API enum value. */
static const char *
cli_enum_text(const char *const *emap, const char *v)
{
	if (emap)
		for (size_t i = 0; emap[i]; i += 2)
			if (strcmp(emap[i], v) == 0)
				return emap[i + 1];
	return v;
}

const char *
cli_enum_parse(const struct dm_enum *en, const char *const *emap,
	       const char *text)
{
	int i;

	if (emap)
		for (size_t j = 0; emap[j]; j += 2)
			if (strcasecmp(emap[j + 1], text) == 0 &&
			    dm_enum_index(en, emap[j]) >= 0)
				return emap[j];
	i = dm_enum_index_ci(en, text);
	return i < 0 ? NULL : en->values[i];
}

void
cli_value_text(const struct dm_type *t, union dm_val v,
	       const char *const *emap, unsigned flags, struct buf *b)
{
	const char *s;
	char *txt;

	switch (t->kind) {
	case DMK_STRING:
		if (flags & CLIF_REFSTR) {
			s = cli_ref_uuid(-1, v.s);
			buf_adds(b, s ? s : CLI_NID);
		} else {
			buf_adds(b, v.s ? v.s : "");
		}
		return;
	case DMK_FLOAT:
		buf_addf(b, "%.3f", v.f);
		return;
	case DMK_ENUM:
		buf_adds(b, cli_enum_text(emap, v.s ? v.s : ""));
		return;
	case DMK_REF:
		s = (flags & CLIF_NAME) ? cli_ref_name(t->cls, v.s)
					: cli_ref_uuid(t->cls, v.s);
		buf_adds(b, s ? s : CLI_NID);
		return;
	case DMK_SET:
		for (size_t i = 0; v.c && i < v.c->n; i++) {
			if (i)
				buf_adds(b, (flags & CLIF_COMMA) ? ", " : "; ");
			cli_value_text(t->a, v.c->v[i], emap, flags, b);
		}
		return;
	case DMK_MAP:
		for (size_t i = 0; v.c && i < v.c->n; i++) {
			if (i)
				buf_adds(b, "; ");
			if (!(flags & CLIF_VALS)) {
				cli_value_text(t->a, v.c->v[2 * i], emap, 0, b);
				buf_adds(b, ": ");
			}
			cli_value_text(t->b, v.c->v[2 * i + 1], emap, 0, b);
		}
		return;
	default:
		txt = dmv_scalar_text(t, v);
		buf_adds(b, txt);
		free(txt);
		return;
	}
}

/* The row a via field reads (row itself when via < 0), or NULL; sets *cls
 * to its class. */
static const struct db_row *
cli_field_row(const struct cli_class *c, const struct cli_fdef *f,
	      const struct db_row *row, int *cls)
{
	int tc;

	*cls = c->cls;
	if (f->via < 0)
		return row;
	tc = dm_classes[c->cls].fields[f->via].type->cls;
	*cls = tc;
	if (tc < 0)
		return NULL;
	return db_get(tc, row->f[f->via].s);
}

const struct dm_type *
cli_field_type(const struct cli_class *c, const struct cli_fdef *f)
{
	int cls = c->cls;

	if (f->fi < 0)
		return NULL;
	if (f->via >= 0)
		cls = dm_classes[c->cls].fields[f->via].type->cls;
	if (cls < 0)
		return NULL;
	return dm_classes[cls].fields[f->fi].type;
}

void
cli_field_text(const struct cli_class *c, const struct cli_fdef *f,
	       const struct db_row *row, struct buf *b)
{
	const struct db_row *r;
	int cls;

	buf_adds(b, "");
	if (f->custom) {
		f->custom(f, row, b);
		return;
	}
	r = cli_field_row(c, f, row, &cls);
	if (!r) {
		buf_adds(b, f->none ? f->none : CLI_NID);
		return;
	}
	cli_value_text(dm_classes[cls].fields[f->fi].type, r->f[f->fi],
		       f->emap, f->flags, b);
}

void
cli_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Text of one value as its own malloc'd string. */
static char *
cli_value_str(const struct dm_type *t, union dm_val v, const char *const *emap,
	      unsigned flags)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, "");
	cli_value_text(t, v, emap, flags, &b);
	return buf_steal(&b);
}

size_t
cli_field_set(const struct cli_class *c, const struct cli_fdef *f,
	      const struct db_row *row, char ***out)
{
	const struct dm_type *t;
	const struct db_row *r;
	union dm_val v;
	char **res;
	int cls;
	size_t n;

	*out = NULL;
	if (f->custom || f->fi < 0)
		return 0;
	r = cli_field_row(c, f, row, &cls);
	if (!r)
		return 0;
	t = dm_classes[cls].fields[f->fi].type;
	v = r->f[f->fi];
	if ((t->kind != DMK_SET && t->kind != DMK_MAP) || !v.c)
		return 0;
	n = v.c->n;
	res = xcalloc(n + 1, sizeof(*res));
	for (size_t i = 0; i < n; i++) {
		if (t->kind == DMK_SET)
			res[i] = cli_value_str(t->a, v.c->v[i], f->emap,
					       f->flags);
		else
			res[i] = cli_value_str(t->b, v.c->v[2 * i + 1],
					       f->emap, f->flags);
	}
	*out = res;
	return n;
}

size_t
cli_field_map(const struct cli_class *c, const struct cli_fdef *f,
	      const struct db_row *row, char ***keys, char ***vals)
{
	const struct dm_type *t;
	const struct db_row *r;
	union dm_val v;
	int cls;
	size_t n;

	*keys = *vals = NULL;
	if (f->custom || f->fi < 0)
		return 0;
	r = cli_field_row(c, f, row, &cls);
	if (!r)
		return 0;
	t = dm_classes[cls].fields[f->fi].type;
	v = r->f[f->fi];
	if (t->kind != DMK_MAP || !v.c)
		return 0;
	n = v.c->n;
	*keys = xcalloc(n + 1, sizeof(char *));
	*vals = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		(*keys)[i] = cli_value_str(t->a, v.c->v[2 * i], f->emap, 0);
		(*vals)[i] = cli_value_str(t->b, v.c->v[2 * i + 1], f->emap, 0);
	}
	return n;
}

bool
cli_field_is_set(const struct cli_fdef *f)
{
	return (f->flags & (CLIF_SET | CLIF_SETRW)) != 0;
}

bool
cli_field_is_map(const struct cli_fdef *f)
{
	return (f->flags & (CLIF_MAP | CLIF_MAPRW | CLIF_SETINMAP |
			    CLIF_SETMAP)) != 0;
}

const char *
cli_field_marker(const struct cli_fdef *f)
{
	if (cli_field_is_set(f))
		return (f->flags & CLIF_SETRW) ? " (SRW)" : " (SRO)";
	if (cli_field_is_map(f))
		return (f->flags & CLIF_MAPRW) ? " (MRW)" : " (MRO)";
	return (f->flags & CLIF_RW) ? " ( RW)" : " ( RO)";
}

const struct cli_fdef *
cli_field_find(const struct cli_class *c, const char *name)
{
	for (size_t i = 0; i < c->nfields; i++)
		if (strcmp(c->fields[i].name, name) == 0)
			return &c->fields[i];
	return NULL;
}

static bool (*cli_ds_query)(const char *vm_uuid, const char *ds, double *v);

void
cli_set_ds_query(bool (*fn)(const char *vm_uuid, const char *ds, double *v))
{
	cli_ds_query = fn;
}

void
cli_dev_kbs(const struct db_row *row, bool vbd, bool write, struct buf *b)
{
	const char *vm = row->f[vbd ? DMF_VBD_VM : DMF_VIF_VM].s;
	const char *dev = row->f[vbd ? DMF_VBD_device : DMF_VIF_device].s;
	const char *uuid = cli_ref_uuid(DMC_VM, vm);
	char ds[96], out[40];
	double v;

	snprintf(ds, sizeof(ds), vbd ? "vbd_%s_%s" : "vif_%s_%s", dev,
		 vbd ? (write ? "write" : "read") : (write ? "tx" : "rx"));
	if (!*dev || !uuid || !cli_ds_query || !cli_ds_query(uuid, ds, &v)) {
		buf_adds(b, "<unknown>");
		return;
	}
	/* OCaml's string_of_float */
	int n = snprintf(out, sizeof(out), "%.12g", v / 1024.0);
	if (strspn(out, "-0123456789") == (size_t)n)
		snprintf(out + n, sizeof(out) - (size_t)n, ".");
	buf_adds(b, out);
}
