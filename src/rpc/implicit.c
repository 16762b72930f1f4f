/* implicit: the messages every class gets from the datamodel (getters,
 * setters, records, map/set updates, create/destroy, filtered queries). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/api_int.h"
#include "rpc/where.h"
#include "util/xalloc.h"

static struct api_err *
implicit_get_field(int cls, int fi, xv *const *args, xv **result)
{
	struct api_err *err = NULL;
	db_rdlock();
	struct db_row *r = api_row(cls, args[0], &err);
	if (r)
		*result = dmv_to_xv(dm_classes[cls].fields[fi].type, r->f[fi]);
	db_unlock();
	return err;
}

/* Applies fn to a private copy of the row and commits. */
typedef struct api_err *(*implicit_edit_fn)(int cls, int fi, struct db_row *r,
					    xv *const *args);

static struct api_err *
implicit_edit(int cls, int fi, xv *const *args, implicit_edit_fn fn)
{
	struct db_txn *t = db_txn_begin();
	struct api_err *err = NULL;
	const char *ref = args[0]->type == XV_STRING ? args[0]->u.s : "";
	struct db_row *r = db_txn_edit(t, cls, ref);
	if (!r) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, dm_classes[cls].name, ref,
				 NULL);
	}
	err = fn(cls, fi, r, args);
	if (err) {
		db_txn_abort(t);
		return err;
	}
	return api_commit(t);
}

static struct api_err *
implicit_do_set(int cls, int fi, struct db_row *r, xv *const *args)
{
	const struct dm_field *f = &dm_classes[cls].fields[fi];
	union dm_val v;
	struct api_err *err = dmv_from_xv(f->type, args[1], f->name, &v);
	if (err)
		return err;
	dmv_free(f->type, &r->f[fi]);
	r->f[fi] = v;
	return NULL;
}

static struct api_err *
implicit_do_map_add(int cls, int fi, struct db_row *r, xv *const *args)
{
	const struct dm_field *f = &dm_classes[cls].fields[fi];
	const struct dm_type *t = f->type;
	union dm_val k, v;
	struct api_err *err = dmv_from_xv(t->a, args[1], "key", &k);
	if (err)
		return err;
	err = dmv_from_xv(t->b, args[2], "value", &v);
	if (err) {
		dmv_free(t->a, &k);
		return err;
	}
	struct dm_coll *c = r->f[fi].c;
	if (dmc_map_find(t->a, c, k) >= 0) {
		char *ks = dmv_scalar_text(t->a, k);
		err = api_error(XE_MAP_DUPLICATE_KEY, dm_classes[cls].name,
				f->name, r->ref, ks, NULL);
		free(ks);
		dmv_free(t->a, &k);
		dmv_free(t->b, &v);
		return err;
	}
	r->f[fi].c = dmc_append(c, 2, (union dm_val[]){k, v});
	return NULL;
}

static struct api_err *
implicit_do_map_remove(int cls, int fi, struct db_row *r, xv *const *args)
{
	const struct dm_type *t = dm_classes[cls].fields[fi].type;
	union dm_val k;
	struct api_err *err = dmv_from_xv(t->a, args[1], "key", &k);
	if (err)
		return err;
	struct dm_coll *c = r->f[fi].c;
	long at = dmc_map_find(t->a, c, k);
	dmv_free(t->a, &k);
	if (at < 0)
		return NULL;
	dmv_free(t->a, &c->v[2 * at]);
	dmv_free(t->b, &c->v[2 * at + 1]);
	dmc_remove_at(&r->f[fi].c, 2, (size_t)at);
	return NULL;
}

static struct api_err *
implicit_do_set_add(int cls, int fi, struct db_row *r, xv *const *args)
{
	const struct dm_type *t = dm_classes[cls].fields[fi].type;
	union dm_val e;
	struct api_err *err = dmv_from_xv(t->a, args[1], "value", &e);
	if (err)
		return err;
	struct dm_coll *c = r->f[fi].c;
	if (dmc_set_find(t->a, c, e) >= 0) {
		dmv_free(t->a, &e);
		return NULL;
	}
	r->f[fi].c = dmc_append(c, 1, &e);
	return NULL;
}

static struct api_err *
implicit_do_set_remove(int cls, int fi, struct db_row *r, xv *const *args)
{
	const struct dm_type *t = dm_classes[cls].fields[fi].type;
	union dm_val e;
	struct api_err *err = dmv_from_xv(t->a, args[1], "value", &e);
	if (err)
		return err;
	struct dm_coll *c = r->f[fi].c;
	long at = dmc_set_find(t->a, c, e);
	dmv_free(t->a, &e);
	if (at < 0)
		return NULL;
	dmv_free(t->a, &c->v[at]);
	dmc_remove_at(&r->f[fi].c, 1, (size_t)at);
	return NULL;
}

struct api_err *
api_create_row(int cls, const xv *rec, xv **result)
{
	const struct dm_class *k = &dm_classes[cls];
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, cls, NULL, NULL);
	struct api_err *err = NULL;

	for (size_t i = 0; i < k->nfields; i++) {
		const struct dm_field *f = &k->fields[i];
		const xv *v = xv_get(rec, f->name);
		union dm_val val;
		if (!v || f->qual == DMQ_RO_RUNTIME || (int)i == k->f_uuid)
			continue;
		err = dmv_from_xv(f->type, v, f->name, &val);
		if (err)
			break;
		if (f->type->kind == DMK_REF && strcmp(val.s, DM_NULL_REF) != 0) {
			int tc = f->type->cls;
			if (tc >= 0 && (dm_classes[tc].flags & DMCF_TABLE) &&
			    !db_get(tc, val.s)) {
				err = api_error(XE_HANDLE_INVALID,
						dm_classes[tc].name, val.s, NULL);
				dmv_free(f->type, &val);
				break;
			}
		}
		db_txn_set(t, r, (int)i, val);
	}
	if (err) {
		db_txn_abort(t);
		return err;
	}
	char *ref = xstrdup(r->ref);
	err = api_commit(t);
	if (err)
		free(ref);
	else
		*result = xv_str_own(ref);
	return err;
}

static struct api_err *
implicit_destroy(int cls, const xv *self)
{
	struct db_txn *t = db_txn_begin();
	const char *ref = self->type == XV_STRING ? self->u.s : "";
	if (db_txn_destroy(t, cls, ref) < 0) {
		db_txn_abort(t);
		return api_error(XE_HANDLE_INVALID, dm_classes[cls].name, ref,
				 NULL);
	}
	return api_commit(t);
}

/* get_all_records for a writer: one record made at a time, under the read
 * lock only while it is made; rows gone meanwhile are skipped. */
struct implicit_gen {
	int cls;
	char **refs;
	size_t n, next;
};

static xv *
implicit_gen_next(void *state, char **name)
{
	struct implicit_gen *g = state;
	xv *rec = NULL;
	while (!rec && g->next < g->n) {
		const char *ref = g->refs[g->next++];
		db_rdlock();
		struct db_row *r = db_get(g->cls, ref);
		if (r)
			rec = api_record(r);
		db_unlock();
		if (rec)
			*name = xstrdup(ref);
	}
	return rec;
}

static void
implicit_gen_release(void *state)
{
	struct implicit_gen *g = state;
	for (size_t i = 0; i < g->n; i++)
		free(g->refs[i]);
	free(g->refs);
	free(g);
}

static struct api_err *
implicit_list(int cls, const char *where, bool records, xv **result,
	      bool stream)
{
	struct api_err *err = NULL;
	struct where_expr *w = NULL;
	if (where) {
		w = where_parse(where, &err);
		if (!w)
			return err;
	}
	db_rdlock();
	size_t n;
	struct db_row **rows = db_list(cls, &n);
	if (records && stream && !w && n > 64) {
		struct implicit_gen *g = xcalloc(1, sizeof(*g));
		g->cls = cls;
		g->refs = xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			g->refs[i] = xstrdup(rows[i]->ref);
		g->n = n;
		free(rows);
		db_unlock();
		*result = xv_gen(implicit_gen_next, implicit_gen_release, g, true);
		return NULL;
	}
	xv *out = records ? xv_struct() : xv_array();
	for (size_t i = 0; i < n; i++) {
		if (w && !where_match(w, rows[i]))
			continue;
		if (records)
			xv_set(out, rows[i]->ref, api_record(rows[i]));
		else
			xv_push(out, xv_str(rows[i]->ref));
	}
	free(rows);
	db_unlock();
	where_free(w);
	*result = out;
	return NULL;
}

struct api_err *
implicit_handler(struct api_ctx *ctx, xv *const *args, size_t nargs,
		 xv **result)
{
	int cls = ctx->cls;
	const char *mn = ctx->msg ? ctx->msg->name : "";
	const struct dm_class *k = &dm_classes[cls];
	struct api_err *err = NULL;
	int fi;

	(void)nargs;
	if (strcmp(mn, "get_record") == 0) {
		db_rdlock();
		struct db_row *r = api_row(cls, args[0], &err);
		if (r)
			*result = api_record(r);
		db_unlock();
		return err;
	}
	if (strcmp(mn, "get_by_uuid") == 0) {
		const char *u = args[0]->u.s;
		db_rdlock();
		struct db_row *r = db_get_by_uuid(cls, u);
		if (r)
			*result = xv_str(r->ref);
		else
			err = api_error(XE_UUID_INVALID, k->name, u, NULL);
		db_unlock();
		return err;
	}
	if (strcmp(mn, "get_all") == 0)
		return implicit_list(cls, NULL, false, result, false);
	if (strcmp(mn, "get_all_records") == 0)
		return implicit_list(cls, NULL, true, result, ctx->stream);
	if (strcmp(mn, "get_all_records_where") == 0)
		return implicit_list(cls, args[0]->u.s, true, result, ctx->stream);
	if (strcmp(mn, "get_by_name_label") == 0) {
		xv *a = xv_array();
		db_rdlock();
		size_t n;
		struct db_row **rows = db_list(cls, &n);
		for (size_t i = 0; i < n && k->f_name_label >= 0; i++)
			if (strcmp(rows[i]->f[k->f_name_label].s, args[0]->u.s) == 0)
				xv_push(a, xv_str(rows[i]->ref));
		free(rows);
		db_unlock();
		*result = a;
		return NULL;
	}
	if (strcmp(mn, "create") == 0)
		return api_create_row(cls, args[0], result);
	if (strcmp(mn, "destroy") == 0)
		return implicit_destroy(cls, args[0]);
	if (strncmp(mn, "get_", 4) == 0 && (fi = dm_field_find(cls, mn + 4)) >= 0)
		return implicit_get_field(cls, fi, args, result);
	if (strncmp(mn, "set_", 4) == 0 && (fi = dm_field_find(cls, mn + 4)) >= 0)
		return implicit_edit(cls, fi, args, implicit_do_set);
	if (strncmp(mn, "add_to_", 7) == 0 && (fi = dm_field_find(cls, mn + 7)) >= 0)
		return implicit_edit(cls, fi, args, implicit_do_map_add);
	if (strncmp(mn, "remove_from_", 12) == 0 &&
	    (fi = dm_field_find(cls, mn + 12)) >= 0)
		return implicit_edit(cls, fi, args, implicit_do_map_remove);
	if (strncmp(mn, "add_", 4) == 0 && (fi = dm_field_find(cls, mn + 4)) >= 0)
		return implicit_edit(cls, fi, args, implicit_do_set_add);
	if (strncmp(mn, "remove_", 7) == 0 && (fi = dm_field_find(cls, mn + 7)) >= 0)
		return implicit_edit(cls, fi, args, implicit_do_set_remove);
	return api_error(XE_NOT_IMPLEMENTED, mn, NULL);
}

/* message.create(name, priority, cls, obj_uuid, body) */
static struct api_err *
implicit_message_create(struct api_ctx *ctx, xv *const *args, size_t nargs,
			xv **result)
{
	(void)ctx;
	(void)nargs;
	if (args[1]->type != XV_INT || args[1]->u.i < 1 || args[1]->u.i > 5) {
		char *p = args[1]->type == XV_INT
				  ? xasprintf("%lld", (long long)args[1]->u.i)
				  : xstrdup("");
		struct api_err *e = api_error(XE_INVALID_VALUE, "priority", p, NULL);
		free(p);
		return e;
	}
	struct db_txn *t = db_txn_begin();
	struct db_row *r = db_txn_create(t, DMC_message, NULL, NULL);
	union dm_val v;
	db_txn_set(t, r, DMF_message_name, (union dm_val){.s = xstrdup(args[0]->u.s)});
	db_txn_set(t, r, DMF_message_priority, (union dm_val){.i = args[1]->u.i});
	if (dmv_scalar_parse(dm_classes[DMC_message].fields[DMF_message_cls].type,
			     args[2]->u.s, &v) < 0) {
		db_txn_abort(t);
		return api_error(XE_INVALID_VALUE, "cls", args[2]->u.s, NULL);
	}
	/* the object must exist (xapi checks it too) */
	int oc = strcmp(v.s, "VM") == 0 ? DMC_VM
		 : strcmp(v.s, "Host") == 0 ? DMC_host
		 : strcmp(v.s, "SR") == 0 ? DMC_SR
		 : strcmp(v.s, "Pool") == 0 ? DMC_pool
		 : strcmp(v.s, "VDI") == 0 ? DMC_VDI
		 : -1;
	if (oc >= 0 && !db_get_by_uuid(oc, args[3]->u.s)) {
		db_txn_abort(t);
		struct api_err *e = api_error(XE_UUID_INVALID, dm_classes[oc].name,
					      args[3]->u.s, NULL);
		free(v.s);
		return e;
	}
	db_txn_set(t, r, DMF_message_cls, v);
	db_txn_set(t, r, DMF_message_obj_uuid, (union dm_val){.s = xstrdup(args[3]->u.s)});
	db_txn_set(t, r, DMF_message_body, (union dm_val){.s = xstrdup(args[4]->u.s)});
	db_txn_set(t, r, DMF_message_timestamp, (union dm_val){.i = (int64_t)time(NULL)});
	char *ref = xstrdup(r->ref);
	struct api_err *err = api_commit(t);
	if (err)
		free(ref);
	else
		*result = xv_str_own(ref);
	return err;
}

/* message.destroy_many(messages) */
static struct api_err *
implicit_message_destroy_many(struct api_ctx *ctx, xv *const *args,
			      size_t nargs, xv **result)
{
	(void)ctx;
	(void)nargs;
	(void)result;
	struct db_txn *t = db_txn_begin();
	for (size_t i = 0; i < args[0]->u.a.n; i++) {
		const char *ref = args[0]->u.a.items[i]->u.s;
		if (db_txn_destroy(t, DMC_message, ref) < 0) {
			db_txn_abort(t);
			return api_error(XE_HANDLE_INVALID, "message", ref, NULL);
		}
	}
	return api_commit(t);
}

void
implicit_register_explicit(void)
{
	static const char *const generic[] = {
		"message.get_record", "message.get_by_uuid", "message.get_all",
		"message.get_all_records", "message.get_all_records_where",
		"message.destroy",
	};
	for (size_t i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
		api_register(generic[i], implicit_handler,
			     strstr(generic[i], "get") ? API_READONLY : 0);
	api_register("message.create", implicit_message_create, 0);
	api_register("message.destroy_many", implicit_message_destroy_many, 0);
}
