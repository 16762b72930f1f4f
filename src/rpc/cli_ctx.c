/* cli_ctx: failures, API calls and parameters of one xe invocation, and
 * the reporting of failures as xapi_cli.ml / cli_util.ml print them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/cli_cmd.h"
#include "util/buf.h"
#include "util/xalloc.h"

void
cli_fail_clear(struct cli_ctx *ctx)
{
	free(ctx->emsg);
	ctx->emsg = NULL;
	api_err_free(ctx->eapi);
	ctx->eapi = NULL;
	ctx->ekind = CLI_E_NONE;
}

int
cli_fail_kind(struct cli_ctx *ctx, enum cli_ekind kind, const char *msg)
{
	cli_fail_clear(ctx);
	ctx->ekind = kind;
	ctx->emsg = xstrdup(msg ? msg : "");
	return -1;
}

int
cli_fail(struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	struct buf b = BUF_INIT;

	va_start(ap, fmt);
	buf_adds(&b, "");
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	cli_fail_clear(ctx);
	ctx->ekind = CLI_E_FAIL;
	ctx->emsg = buf_steal(&b);
	return -1;
}

int
cli_fail_api(struct cli_ctx *ctx, struct api_err *e)
{
	cli_fail_clear(ctx);
	ctx->ekind = CLI_E_API;
	ctx->eapi = e;
	return -1;
}

int
cli_fail_failure(struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	struct buf b = BUF_INIT;

	va_start(ap, fmt);
	buf_adds(&b, "Failure: ");
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	cli_fail_api(ctx, api_error(XE_INTERNAL_ERROR, b.data, NULL));
	buf_free(&b);
	return -1;
}

int
cli_callv(struct cli_ctx *ctx, const char *method, xv **result,
	  xv *const *args, size_t n)
{
	xv *params = xv_array(), *res = NULL;
	struct api_err *e;

	xv_push(params, xv_str(ctx->api->session ? ctx->api->session : ""));
	for (size_t i = 0; i < n; i++)
		xv_push(params, xv_dup(args[i]));
	e = api_call(ctx->api, method, params, &res);
	xv_free(params);
	if (e) {
		xv_free(res);
		return cli_fail_api(ctx, e);
	}
	if (result)
		*result = res;
	else
		xv_free(res);
	return 0;
}

int
cli_call(struct cli_ctx *ctx, const char *method, xv **result, ...)
{
	xv *args[16];
	size_t n = 0;
	va_list ap;
	xv *a;
	int rc;

	va_start(ap, result);
	while ((a = va_arg(ap, xv *)) != NULL && n < 16)
		args[n++] = a;
	va_end(ap);
	rc = cli_callv(ctx, method, result, args, n);
	for (size_t i = 0; i < n; i++)
		xv_free(args[i]);
	return rc;
}

char *
cli_ref_by_uuid(struct cli_ctx *ctx, int cls, const char *uuid)
{
	char *m = xasprintf("%s.get_by_uuid", dm_classes[cls].name);
	xv *res = NULL;
	char *ref = NULL;

	if (cli_call(ctx, m, &res, xv_str(uuid), NULL) == 0) {
		if (res && res->type == XV_STRING)
			ref = xstrdup(res->u.s);
		else
			cli_fail_failure(ctx, "%s returned no ref", m);
	}
	xv_free(res);
	free(m);
	return ref;
}

const char *
cli_param(struct cli_ctx *ctx, const char *key)
{
	return cli_args_get(ctx->args, key);
}

int
cli_param_bool(struct cli_ctx *ctx, const char *key, bool def, bool *out)
{
	const char *v = cli_args_get(ctx->args, key);

	*out = def;
	if (!v)
		return 0;
	if (cli_parse_bool(v, out) == 0)
		return 0;
	return cli_fail(ctx,
			"Failed to parse parameter '%s': Expected "
			"'true','t','yes','y','1','false','f','no','n','0' "
			"got %s",
			key, v);
}

/* cli_util.ml ref_convert: a parameter that is a ref in the database is
 * shown as "uuid (name-label)" (or just the uuid for classes without a
 * name). Read lock held. */
static char *
cli_ref_convert(const char *p)
{
	int cls = strncmp(p, "OpaqueRef:", 10) == 0 ? db_ref_class(p) : -1;
	const char *uuid, *name;

	if (cls < 0 || !(uuid = cli_ref_uuid(cls, p)))
		return xstrdup(p);
	if (dm_classes[cls].f_name_label < 0)
		return xstrdup(uuid);
	name = cli_ref_name(cls, p);
	return xasprintf("%s (%s)", uuid, name ? name : "");
}

/* Prints an API error: its sentence and named parameters, or a raw Error
 * for codes outside the table. */
static void
cli_report_api(struct cli_ctx *ctx, const struct api_err *e)
{
	const char *doc = xerr_doc_by_code(e->code);
	const char *names = xerr_params_by_code(e->code);
	char **conv = xcalloc(e->n + 1, sizeof(char *));
	struct buf b = BUF_INIT;
	const char *p;
	size_t i;

	db_rdlock();
	for (i = 0; i < e->n; i++)
		conv[i] = cli_ref_convert(e->params[i]);
	db_unlock();
	if (!doc) {
		cli_out_apierr(ctx->out, e->code, (const char *const *)conv,
			       e->n);
		goto out;
	}
	buf_addf(&b, "%s\n", doc);
	cli_out_err(ctx->out, b.data);
	p = names ? names : "";
	for (i = 0; i < e->n || *p; i++) {
		size_t l = strcspn(p, ",");
		char *name = *p ? xstrndup(p, l) : xstrdup("<extra>");

		if (strcmp(e->code, "VMS_FAILED_TO_COOPERATE") == 0) {
			free(name);
			name = xstrdup("VM");
		}
		buf_reset(&b);
		buf_addf(&b, "%s: %s\n", name,
			 i < e->n ? conv[i] : "<unknown>");
		cli_out_err(ctx->out, b.data);
		free(name);
		p += l;
		if (*p == ',')
			p++;
	}
out:
	buf_free(&b);
	for (i = 0; i < e->n; i++)
		free(conv[i]);
	free(conv);
}

/* The message do_multiple records for a failure (cli_util.ml
 * get_server_error / string_of_exn). */
static char *
cli_failure_text(struct cli_ctx *ctx)
{
	struct buf b = BUF_INIT;
	const struct api_err *e = ctx->eapi;
	const char *doc, *p;
	char *conv;

	buf_adds(&b, "");
	if (ctx->ekind != CLI_E_API) {
		buf_addf(&b, "INTERNAL_ERROR: [ Cli_util.Cli_failure(\"%s\") ]",
			 ctx->emsg ? ctx->emsg : "");
		return buf_steal(&b);
	}
	doc = xerr_doc_by_code(e->code);
	if (!doc) {
		buf_addf(&b, "%s: [ ", e->code);
		for (size_t i = 0; i < e->n; i++)
			buf_addf(&b, "%s%s", i ? "; " : "", e->params[i]);
		buf_adds(&b, " ]");
		return buf_steal(&b);
	}
	buf_adds(&b, doc);
	buf_addc(&b, '\n');
	p = xerr_params_by_code(e->code);
	for (size_t i = 0; i < e->n || *p; i++) {
		size_t l = strcspn(p, ",");

		db_rdlock();
		conv = i < e->n ? cli_ref_convert(e->params[i])
				: xstrdup("<unknown>");
		db_unlock();
		if (i)
			buf_addc(&b, '\n');
		if (*p)
			buf_add(&b, p, l);
		else
			buf_adds(&b, "<extra>");
		buf_addf(&b, ": %s", conv);
		free(conv);
		p += l;
		if (*p == ',')
			p++;
	}
	return buf_steal(&b);
}

int
cli_do_multiple(struct cli_ctx *ctx, char *const *refs, size_t n,
		int (*op)(struct cli_ctx *ctx, const char *ref, void *arg),
		void *arg)
{
	char **fails;
	size_t nf = 0;

	if (n == 1)
		return op(ctx, refs[0], arg);
	fails = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *uuid;
		char *msg;

		if (op(ctx, refs[i], arg) == 0)
			continue;
		msg = cli_failure_text(ctx);
		cli_fail_clear(ctx);
		db_rdlock();
		uuid = cli_ref_uuid(-1, refs[i]);
		fails[nf++] = xasprintf("operation failed on %s: %s",
					uuid ? uuid : CLI_NID, msg);
		db_unlock();
		free(msg);
	}
	for (size_t i = nf; i > 0; i--)
		cli_out_raw(ctx->out, fails[i - 1]);
	for (size_t i = 0; i < nf; i++)
		free(fails[i]);
	free(fails);
	if (nf == 0)
		return 0;
	ctx->ekind = CLI_E_EXIT;
	ctx->exit_code = 1;
	return -1;
}

/* param_error: "<s>: <t>" (or just t) and the usage hint. */
static void
cli_report_usage(struct cli_ctx *ctx, const char *s, const char *t)
{
	char *line = s[0] ? xasprintf("%s: %s\n", s, t) : xasprintf("%s\n", t);

	cli_out_err(ctx->out, line);
	cli_out_err(ctx->out, "For usage run: 'xe help'\n");
	free(line);
}

int
cli_report(struct cli_ctx *ctx)
{
	char *line;

	switch (ctx->ekind) {
	case CLI_E_NONE:
		return 0;
	case CLI_E_EXIT:
		return ctx->exit_code;
	case CLI_E_UNKNOWN:
		cli_report_usage(ctx, "Unknown command", ctx->emsg);
		return 1;
	case CLI_E_SYNTAX:
		cli_report_usage(ctx, "Syntax error", ctx->emsg);
		return 1;
	case CLI_E_PARAM:
		cli_report_usage(ctx, "Required parameter not found",
				 ctx->emsg);
		return 1;
	case CLI_E_USAGE:
		cli_report_usage(ctx, "", ctx->emsg);
		return 1;
	case CLI_E_FAIL:
		line = xasprintf("Error: %s\n", ctx->emsg);
		cli_out_err(ctx->out, line);
		free(line);
		return 1;
	case CLI_E_API:
		if (strcmp(ctx->eapi->code, "SESSION_AUTHENTICATION_FAILED") ==
		    0) {
			bool noname = ctx->eapi->n == 0 ||
				      ctx->eapi->params[0][0] == '\0';
			cli_report_usage(ctx, "",
					 noname ? "Username/password must be "
						  "specified"
						: "Authentication failed");
			return 1;
		}
		cli_report_api(ctx, ctx->eapi);
		return 1;
	}
	return 1;
}
