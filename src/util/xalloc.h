/*
 * xalloc: allocation wrappers that abort on out-of-memory, as a daemon that
 * cannot allocate cannot keep its promises anyway.
 */
#ifndef XAPID_UTIL_XALLOC_H
#define XAPID_UTIL_XALLOC_H

#include <stddef.h>

/* malloc/calloc/realloc/strdup that abort on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* asprintf that aborts on failure. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Frees *p and sets it to NULL. */
#define XFREE(p)                                                               \
	do {                                                                   \
		free(p);                                                       \
		(p) = NULL;                                                    \
	} while (0)

#endif
