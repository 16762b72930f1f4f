/* errors: the XenAPI error table and error objects. */
#include "api/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct xerr_entry {
	const char *code, *doc, *params;
};

static const struct xerr_entry xerr_table[XE__COUNT] = {
#define XERR(code, doc, params) {#code, doc, params},
#include "api/errors_gen.def"
#undef XERR
};

const char *
xerr_code(enum xerr e)
{
	return xerr_table[e].code;
}

static const struct xerr_entry *
xerr_lookup(const char *code)
{
	for (int i = 0; i < XE__COUNT; i++)
		if (strcmp(xerr_table[i].code, code) == 0)
			return &xerr_table[i];
	return NULL;
}

const char *
xerr_doc_by_code(const char *code)
{
	const struct xerr_entry *e = xerr_lookup(code);
	return e ? e->doc : NULL;
}

const char *
xerr_params_by_code(const char *code)
{
	const struct xerr_entry *e = xerr_lookup(code);
	return e ? e->params : NULL;
}

struct api_err *
api_error_raw(const char *code, const char *const *params, size_t n)
{
	struct api_err *e = xcalloc(1, sizeof(*e));
	e->code = xstrdup(code);
	e->params = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		e->params[i] = xstrdup(params[i] ? params[i] : "");
	e->n = n;
	return e;
}

struct api_err *
api_errorv(enum xerr code, const char *const *params, size_t n)
{
	return api_error_raw(xerr_table[code].code, params, n);
}

struct api_err *
api_error(enum xerr code, ...)
{
	const char *p[16];
	size_t n = 0;
	va_list ap;

	va_start(ap, code);
	while (n < 16 && (p[n] = va_arg(ap, const char *)) != NULL)
		n++;
	va_end(ap);
	return api_errorv(code, p, n);
}

struct api_err *
api_internal(const char *fmt, ...)
{
	char msg[1024];
	const char *p[1] = {msg};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return api_errorv(XE_INTERNAL_ERROR, p, 1);
}

void
api_err_free(struct api_err *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->params[i]);
	free(e->params);
	free(e->code);
	free(e);
}
