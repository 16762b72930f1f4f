/*
 * errors: the one table of XenAPI errors (generated from xapi's, in
 * errors_gen.def) and the error objects API handlers return.
 *
 * A handler that fails returns a struct api_err: the wire code plus its
 * parameters, exactly what goes into ErrorDescription. `xe` prints the
 * error's sentence and one "name: value" line per parameter.
 */
#ifndef XAPID_API_ERRORS_H
#define XAPID_API_ERRORS_H

#include <stddef.h>

enum xerr {
#define XERR(code, doc, params) XE_##code,
#include "api/errors_gen.def"
#undef XERR
	XE__COUNT
};

struct api_err {
	char *code;     /* wire code, "VM_BAD_POWER_STATE" */
	char **params;  /* parameters as strings */
	size_t n;
};

/* Makes an error with the given parameters (a NULL-terminated list of
 * strings). Never returns NULL. */
struct api_err *api_error(enum xerr code, ...) __attribute__((sentinel));
/* Same with an array of parameters. */
struct api_err *api_errorv(enum xerr code, const char *const *params, size_t n);
/* An error with a code string not in the table (forwarded errors). */
struct api_err *api_error_raw(const char *code, const char *const *params,
			      size_t n);
/* INTERNAL_ERROR with a printf-formatted message. */
struct api_err *api_internal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Frees an error. NULL is allowed. */
void api_err_free(struct api_err *e);

/* The wire code of a table entry. */
const char *xerr_code(enum xerr e);
/* The sentence xe prints for a code, or NULL if the code is unknown. */
const char *xerr_doc_by_code(const char *code);
/* The parameter names of a code (comma-separated), or NULL if unknown. */
const char *xerr_params_by_code(const char *code);

#endif
