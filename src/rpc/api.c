/* api: method registry, dispatch checks, Async tasks and the audit log. */
#include "rpc/api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpc/api_int.h"
#include "rpc/xmlrpc.h"
#include "util/htab.h"
#include "util/log.h"
#include "util/xalloc.h"

struct api_method {
	char *name; /* "VM.start" */
	int cls;
	const struct dm_message *msg;
	api_handler fn;
	unsigned flags;
};

static struct htab api_methods;
static api_router_fn api_router;

void
api_set_router(api_router_fn fn)
{
	api_router = fn;
}
static FILE *api_audit;
static pthread_mutex_t api_audit_lock = PTHREAD_MUTEX_INITIALIZER;

/* Trailing parameters that later releases added, with their defaults. */
static const struct {
	const char *method, *param, *json;
} api_defaults[] = {
	{"session.login_with_password", "version", "1.1"},
	{"session.login_with_password", "originator", ""},
	{"VM.snapshot", "ignore_vdis", "[]"},
	{"host.evacuate", "network", DM_NULL_REF},
	{"host.evacuate", "evacuate_batch_size", "0"},
	{"host.emergency_ha_disable", "soft", "false"},
	{"VIF.configure_ipv4", "address", ""},
	{"VIF.configure_ipv4", "gateway", ""},
	{"VIF.configure_ipv6", "address", ""},
	{"VIF.configure_ipv6", "gateway", ""},
};

static xv *
api_default_value(const struct dm_type *t, const char *text)
{
	if (t->kind == DMK_SET)
		return xv_array();
	if (t->kind == DMK_INT)
		return xv_int(strtoll(text, NULL, 10));
	if (t->kind == DMK_BOOL)
		return xv_bool(strcmp(text, "true") == 0);
	return xv_str(text);
}

static struct api_method *
api_method_get(const char *name)
{
	return htab_get(&api_methods, name);
}

void
api_register(const char *method, api_handler fn, unsigned flags)
{
	struct api_method *m = api_method_get(method);
	if (!m) {
		const char *dot = strchr(method, '.');
		m = xcalloc(1, sizeof(*m));
		m->name = xstrdup(method);
		m->cls = -1;
		if (dot) {
			char *cn = xstrndup(method, (size_t)(dot - method));
			m->cls = dm_class_find(cn);
			free(cn);
			if (m->cls >= 0)
				m->msg = dm_message_find(m->cls, dot + 1);
		}
		htab_put(&api_methods, m->name, m);
	}
	m->fn = fn;
	m->flags = flags;
}

/* get_all_records_where is implicit for every table but not listed in the
 * API description; its signature is the same for all classes. */
static const struct dm_type api_t_session = {DMK_REF, NULL, NULL, NULL, DMC_session, "session ref"};
static const struct dm_type api_t_string = {DMK_STRING, NULL, NULL, NULL, -1, "string"};
static const struct dm_type api_t_records = {DMK_STRUCT_ANY, NULL, NULL, NULL, -1, "map"};
static const struct dm_param api_where_params[] = {
	{"session_id", &api_t_session}, {"expr", &api_t_string}};
static const struct dm_message api_where_msg = {
	"get_all_records_where", api_where_params, 2, &api_t_records, true, true, false};

void
api_init(void)
{
	for (int c = 0; c < DMC__COUNT; c++) {
		const struct dm_class *k = &dm_classes[c];
		if ((k->flags & DMCF_TABLE) &&
		    !dm_message_find(c, "get_all_records_where")) {
			char *name = xasprintf("%s.get_all_records_where", k->name);
			api_register(name, implicit_handler,
				     API_READONLY | API_NO_ASYNC);
			((struct api_method *)api_method_get(name))->msg =
				&api_where_msg;
			free(name);
		}
		for (size_t i = 0; i < k->nmsgs; i++) {
			const struct dm_message *msg = &k->msgs[i];
			int fi;
			/* explicit setters of constructor fields (VM.set_VCPUs_max,
			 * VM.set_ha_always_run, ...) have an implicit's shape: they
			 * are served generically until real behaviour replaces them */
			if (!msg->implicit && strncmp(msg->name, "set_", 4) == 0 &&
			    msg->nparams == 3 && msg->has_session &&
			    (fi = dm_field_find(c, msg->name + 4)) >= 0 &&
			    strcmp(msg->params[2].type->text,
				   k->fields[fi].type->text) == 0) {
				char *name = xasprintf("%s.%s", k->name, msg->name);
				api_register(name, implicit_handler, API_NO_ASYNC);
				free(name);
				continue;
			}
			if (!msg->implicit)
				continue;
			char *name = xasprintf("%s.%s", k->name, k->msgs[i].name);
			unsigned fl = strncmp(k->msgs[i].name, "get", 3) == 0
					      ? API_READONLY | API_NO_ASYNC
					      : 0;
			if (strncmp(k->msgs[i].name, "set_", 4) == 0 ||
			    strncmp(k->msgs[i].name, "add_", 4) == 0 ||
			    strncmp(k->msgs[i].name, "remove_", 7) == 0)
				fl |= API_NO_ASYNC;
			api_register(name, implicit_handler, fl);
			free(name);
		}
	}
	implicit_register_explicit();
	session_register();
	task_register();
	event_register();
	xva_url_register();
}

/* Splits a wire name into the method entry: "VM.start", "VM_start". */
static struct api_method *
api_resolve(const char *name)
{
	struct api_method *m = api_method_get(name);
	if (m || strchr(name, '.'))
		return m;
	for (const char *u = strchr(name, '_'); u; u = strchr(u + 1, '_')) {
		char *alt = xstrdup(name);
		alt[u - name] = '.';
		m = api_method_get(alt);
		free(alt);
		if (m)
			return m;
	}
	return NULL;
}

/* Checks each parameter against the datamodel type. */
static struct api_err *
api_check_params(const struct dm_message *msg, xv *const *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct dm_type *t = msg->params[i].type;
		union dm_val v;
		struct api_err *e;
		if (t->kind == DMK_RECORD || t->kind == DMK_STRUCT_ANY) {
			if (args[i]->type != XV_STRUCT)
				return api_error(XE_FIELD_TYPE_ERROR,
						 msg->params[i].name, NULL);
			continue;
		}
		if (t->kind == DMK_STRING || t->kind == DMK_REF) {
			/* the common case, checked without a copy */
			if (args[i]->type != XV_STRING ||
			    (t->kind == DMK_REF &&
			     strncmp(args[i]->u.s, "OpaqueRef:", 10) != 0))
				return api_error(XE_FIELD_TYPE_ERROR,
						 msg->params[i].name, NULL);
			continue;
		}
		e = dmv_from_xv(t, args[i], msg->params[i].name, &v);
		if (e)
			return e;
		dmv_free(t, &v);
	}
	return NULL;
}

static void
api_audit_line(const struct api_ctx *ctx, const char *method,
	       const struct api_method *m, xv *const *args, size_t n,
	       const struct api_err *err)
{
	struct buf b = BUF_INIT;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!api_audit)
		return;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H:%M:%SZ", &tm);
	buf_addf(&b, "%s user=%s from=%s call=%s", stamp,
		 ctx->user ? ctx->user : "-", ctx->origin ? ctx->origin : "-",
		 method);
	for (size_t i = 0; i < n; i++) {
		size_t pi = i + (m->msg && m->msg->has_session ? 1 : 0);
		const char *pname =
			m->msg && pi < m->msg->nparams ? m->msg->params[pi].name : "";
		/* secrets never reach the log */
		if (strstr(pname, "pwd") || strstr(pname, "password") ||
		    strstr(pname, "secret")) {
			buf_adds(&b, " ***");
			continue;
		}
		if (args[i]->type == XV_STRING) {
			buf_addc(&b, ' ');
			buf_add(&b, args[i]->u.s, strnlen(args[i]->u.s, 200));
		} else if (args[i]->type == XV_INT) {
			buf_addf(&b, " %lld", (long long)args[i]->u.i);
		} else if (args[i]->type == XV_BOOL) {
			buf_adds(&b, args[i]->u.b ? " true" : " false");
		} else {
			buf_adds(&b, " {..}");
		}
	}
	if (err)
		buf_addf(&b, " => %s", err->code);
	else
		buf_adds(&b, " => OK");
	pthread_mutex_lock(&api_audit_lock);
	fprintf(api_audit, "%s\n", b.data);
	fflush(api_audit);
	pthread_mutex_unlock(&api_audit_lock);
	buf_free(&b);
}

int
api_audit_open(const char *path)
{
	FILE *f = fopen(path, "ae");
	if (!f)
		return -1;
	api_audit = f;
	return 0;
}

/* Runs a resolved, arity-checked call: session, types, handler, audit. */
static struct api_err *
api_invoke(struct api_ctx *ctx, struct api_method *m, const char *method,
	   xv *const *all, size_t nall, xv **result)
{
	struct api_err *err = NULL;
	xv *const *args = all;
	size_t nargs = nall;
	bool has_session = m->msg ? m->msg->has_session
				  : !(m->flags & API_NO_SESSION);

	*result = NULL;
	if (has_session) {
		if (nall < 1 || all[0]->type != XV_STRING)
			return api_error(XE_SESSION_INVALID, "", NULL);
		err = session_check(ctx, all[0]->u.s);
		if (err)
			return err;
		args++;
		nargs--;
	}
	if (m->msg) {
		err = api_check_params(m->msg, all, nall);
		if (err)
			goto out;
	}
	ctx->cls = m->cls;
	ctx->msg = m->msg;
	if (!api_router || !api_router(ctx, m->name, all, nall, result, &err))
		err = m->fn(ctx, args, nargs, result);
out:
	if (!(m->flags & API_READONLY))
		api_audit_line(ctx, method, m, args, nargs, err);
	if (err) {
		xv_free(*result);
		*result = NULL;
	} else if (!*result) {
		*result = xv_str("");
	}
	return err;
}

struct async_job {
	struct api_ctx ctx;
	struct api_method *m;
	char *method;
	xv **args;
	size_t n;
};

static void *
api_async_main(void *p)
{
	struct async_job *j = p;
	xv *result = NULL;
	struct api_err *err = api_invoke(&j->ctx, j->m, j->method, j->args,
					 j->n, &result);
	task_finish(j->ctx.task, result, err);
	xv_free(result);
	api_err_free(err);
	for (size_t i = 0; i < j->n; i++)
		xv_free(j->args[i]);
	free(j->args);
	free(j->method);
	api_ctx_clear(&j->ctx);
	free(j);
	return NULL;
}

struct api_err *
api_call(struct api_ctx *ctx, const char *method, const xv *params,
	 xv **result)
{
	bool async = strncmp(method, "Async.", 6) == 0;
	const char *name = async ? method + 6 : method;
	struct api_method *m;
	xv *const *given = params && params->type == XV_ARRAY
				   ? params->u.a.items
				   : NULL;
	size_t ngiven = given ? params->u.a.n : 0;
	xv **all = NULL;
	size_t nall = ngiven;
	struct api_err *err = NULL;

	*result = NULL;
	if (strcmp(method, "system.listMethods") == 0) {
		*result = api_list_methods();
		return NULL;
	}
	m = api_resolve(name);
	if (!m || !m->fn || (async && (m->flags & API_NO_ASYNC)))
		return api_error(XE_MESSAGE_METHOD_UNKNOWN, method, NULL);

	/* the given parameters are borrowed; only added defaults are owned
	 * (an Async job copies them all) */
	all = xcalloc(ngiven + 8, sizeof(xv *));
	for (size_t i = 0; i < ngiven; i++)
		all[i] = (xv *)given[i];
	if (m->msg && ngiven != m->msg->nparams) {
		/* fill trailing parameters that have defaults */
		for (size_t i = ngiven; i < m->msg->nparams && ngiven < m->msg->nparams; i++) {
			const char *def = NULL;
			for (size_t k = 0; k < sizeof(api_defaults) / sizeof(api_defaults[0]); k++)
				if (strcmp(api_defaults[k].method, m->name) == 0 &&
				    strcmp(api_defaults[k].param, m->msg->params[i].name) == 0)
					def = api_defaults[k].json;
			if (!def)
				break;
			all[nall++] = api_default_value(m->msg->params[i].type, def);
		}
		if (nall != m->msg->nparams) {
			char exp[24], got[24];
			snprintf(exp, sizeof(exp), "%zu", m->msg->nparams);
			snprintf(got, sizeof(got), "%zu", ngiven);
			err = api_error(XE_MESSAGE_PARAMETER_COUNT_MISMATCH,
					method, exp, got, NULL);
			goto out;
		}
	}
	if (async) {
		/* validate the session now; the task belongs to it */
		if (m->msg && m->msg->has_session) {
			if (nall < 1 || all[0]->type != XV_STRING) {
				err = api_error(XE_SESSION_INVALID, "", NULL);
				goto out;
			}
			err = session_check(ctx, all[0]->u.s);
			if (err)
				goto out;
		}
		struct async_job *j = xcalloc(1, sizeof(*j));
		j->ctx.session = ctx->session ? xstrdup(ctx->session) : NULL;
		j->ctx.user = ctx->user ? xstrdup(ctx->user) : NULL;
		j->ctx.origin = ctx->origin ? xstrdup(ctx->origin) : NULL;
		j->ctx.local = ctx->local;
		j->ctx.task = task_new(ctx, method);
		j->m = m;
		j->method = xstrdup(method);
		j->args = xcalloc(nall + 1, sizeof(xv *));
		for (size_t i = 0; i < nall; i++)
			j->args[i] = i < ngiven ? xv_dup(all[i]) : all[i];
		j->n = nall;
		free(all);
		all = NULL;
		*result = xv_str(j->ctx.task);
		pthread_t th;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, api_async_main, j) != 0) {
			xv_free(*result);
			*result = NULL;
			err = api_internal("cannot start a thread for %s", method);
			api_async_main(j); /* runs inline instead; frees j */
		}
		pthread_attr_destroy(&attr);
		return err;
	}
	err = api_invoke(ctx, m, method, all, nall, result);
out:
	if (all) {
		for (size_t i = ngiven; i < nall; i++)
			xv_free(all[i]);
		free(all);
	}
	return err;
}

static int
api_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

xv *
api_list_methods(void)
{
	size_t pos = 0, n = 0;
	struct api_method *m;
	const char **names = xmalloc((api_methods.n + 1) * sizeof(char *));
	while ((m = htab_next(&api_methods, &pos)))
		if (m->fn)
			names[n++] = m->name;
	qsort(names, n, sizeof(*names), api_name_cmp);
	xv *a = xv_array();
	for (size_t i = 0; i < n; i++)
		xv_push(a, xv_str(names[i]));
	free(names);
	return a;
}

void
api_ctx_clear(struct api_ctx *ctx)
{
	XFREE(ctx->session);
	XFREE(ctx->user);
	XFREE(ctx->origin);
	XFREE(ctx->task);
}

struct db_row *
api_row(int cls, const xv *ref, struct api_err **err)
{
	const char *r = ref && ref->type == XV_STRING ? ref->u.s : "";
	struct db_row *row = db_get(cls, r);
	if (!row)
		*err = api_error(XE_HANDLE_INVALID, dm_classes[cls].name, r,
				 NULL);
	return row;
}

xv *
api_record(const struct db_row *r)
{
	const struct dm_class *k = &dm_classes[r->cls];
	xv *st = xv_struct();
	for (size_t i = 0; i < k->nfields; i++)
		xv_set(st, k->fields[i].name,
		       dmv_to_xv(k->fields[i].type, r->f[i]));
	return st;
}

char *
api_ref_by_uuid(int cls, const char *uuid)
{
	char *ref = NULL;
	db_rdlock();
	struct db_row *r = db_get_by_uuid(cls, uuid);
	if (r)
		ref = xstrdup(r->ref);
	db_unlock();
	return ref;
}

struct api_err *
api_commit(struct db_txn *t)
{
	char *msg = NULL;
	if (db_txn_commit(t, &msg) == 0)
		return NULL;
	struct api_err *e = api_internal("database write failed: %s",
					 msg ? msg : "unknown error");
	log_err("db", "commit failed: %s", msg ? msg : "unknown error");
	free(msg);
	return e;
}
