/* store_row: rows of the store: creation with defaults, copies, JSON form. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "db/store.h"
#include "util/log.h"
#include "util/xalloc.h"

char *
db_new_uuid(void)
{
	uuid_t u;
	char s[37];
	uuid_generate_random(u);
	uuid_unparse_lower(u, s);
	return xstrdup(s);
}

char *
db_new_ref(void)
{
	char *u = db_new_uuid();
	char *r = xasprintf("OpaqueRef:%s", u);
	free(u);
	return r;
}

struct db_row *
db_row_new(int cls, const char *ref, const char *uuid)
{
	const struct dm_class *k = &dm_classes[cls];
	struct db_row *r =
		xcalloc(1, sizeof(*r) + k->nfields * sizeof(union dm_val));
	r->cls = cls;
	r->ref = ref ? xstrdup(ref) : db_new_ref();
	for (size_t i = 0; i < k->nfields; i++)
		r->f[i] = dmv_default(k->fields[i].type, k->fields[i].def);
	if (k->f_uuid >= 0) {
		free(r->f[k->f_uuid].s);
		r->f[k->f_uuid].s = uuid ? xstrdup(uuid) : db_new_uuid();
	}
	return r;
}

void
db_row_free(struct db_row *r)
{
	if (!r)
		return;
	const struct dm_class *k = &dm_classes[r->cls];
	for (size_t i = 0; i < k->nfields; i++)
		dmv_free(k->fields[i].type, &r->f[i]);
	free(r->ref);
	free(r);
}

struct db_row *
db_row_copy(const struct db_row *r)
{
	const struct dm_class *k = &dm_classes[r->cls];
	struct db_row *c =
		xcalloc(1, sizeof(*c) + k->nfields * sizeof(union dm_val));
	c->cls = r->cls;
	c->ref = xstrdup(r->ref);
	c->ctime = r->ctime;
	c->mtime = r->mtime;
	for (size_t i = 0; i < k->nfields; i++)
		c->f[i] = dmv_copy(k->fields[i].type, r->f[i]);
	return c;
}

/* Every field's default value, per class, made once. */
static union dm_val *row_defaults[DMC__COUNT];
static pthread_once_t row_defaults_once = PTHREAD_ONCE_INIT;

static void
row_defaults_init(void)
{
	for (int c = 0; c < DMC__COUNT; c++) {
		const struct dm_class *k = &dm_classes[c];
		row_defaults[c] = xcalloc(k->nfields + 1, sizeof(union dm_val));
		for (size_t i = 0; i < k->nfields; i++)
			row_defaults[c][i] = dmv_default(k->fields[i].type, k->fields[i].def);
	}
}

/* Fields at their default are left out: loading fills them back in. */
char *
db_row_to_json(const struct db_row *r)
{
	const struct dm_class *k = &dm_classes[r->cls];
	json_t *o = json_object();
	pthread_once(&row_defaults_once, row_defaults_init);
	json_object_set_new(o, "__ctime", json_integer((json_int_t)r->ctime));
	json_object_set_new(o, "__mtime", json_integer((json_int_t)r->mtime));
	for (size_t i = 0; i < k->nfields; i++)
		if (!dmv_equal(k->fields[i].type, r->f[i], row_defaults[r->cls][i]))
			json_object_set_new(o, k->fields[i].name,
					    dmv_to_json(k->fields[i].type, r->f[i]));
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		abort();
	return s;
}

struct db_row *
db_row_from_json(int cls, const char *ref, const char *text)
{
	const struct dm_class *k = &dm_classes[cls];
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr);
	if (!o || !json_is_object(o)) {
		log_warn("db", "row %s: unparseable (%s)", ref, jerr.text);
		json_decref(o);
		return NULL;
	}
	struct db_row *r = db_row_new(cls, ref, NULL);
	r->ctime = (uint64_t)json_integer_value(json_object_get(o, "__ctime"));
	r->mtime = (uint64_t)json_integer_value(json_object_get(o, "__mtime"));
	for (size_t i = 0; i < k->nfields; i++) {
		json_t *j = json_object_get(o, k->fields[i].name);
		union dm_val v;
		if (!j)
			continue;
		if (dmv_from_json(k->fields[i].type, j, &v) < 0) {
			log_warn("db", "row %s field %s: bad value, default kept",
				 ref, k->fields[i].name);
			continue;
		}
		dmv_free(k->fields[i].type, &r->f[i]);
		r->f[i] = v;
	}
	json_decref(o);
	return r;
}

json_t *
db_row_diff_json(const struct db_row *r, const struct db_row *old)
{
	const struct dm_class *k = &dm_classes[r->cls];
	json_t *o = json_object();
	pthread_once(&row_defaults_once, row_defaults_init);
	for (size_t i = 0; i < k->nfields; i++) {
		union dm_val ref = old ? old->f[i] : row_defaults[r->cls][i];
		if (!dmv_equal(k->fields[i].type, r->f[i], ref))
			json_object_set_new(o, k->fields[i].name,
					    dmv_to_json(k->fields[i].type, r->f[i]));
	}
	return o;
}

int
db_row_set_json(struct db_txn *t, struct db_row *r, json_t *o, char **err)
{
	const char *name;
	json_t *j;

	json_object_foreach(o, name, j) {
		int fi = dm_field_find(r->cls, name);
		union dm_val v;
		if (fi < 0 || dmv_from_json(dm_classes[r->cls].fields[fi].type,
					    j, &v) < 0) {
			*err = xasprintf("%s.%s: unknown field or bad value",
					 dm_classes[r->cls].name, name);
			return -1;
		}
		db_txn_set(t, r, fi, v);
	}
	return 0;
}
