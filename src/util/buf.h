/*
 * buf: a growable byte buffer, always NUL-terminated after its contents.
 * Allocation failure aborts the process (see xalloc.h).
 */
#ifndef XAPID_UTIL_BUF_H
#define XAPID_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

/* Appends n bytes. */
void buf_add(struct buf *b, const void *p, size_t n);
/* Appends a C string. */
void buf_adds(struct buf *b, const char *s);
/* Appends one byte. */
void buf_addc(struct buf *b, char c);
/* Appends printf-formatted text. */
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Makes sure n more bytes fit without reallocation. */
void buf_reserve(struct buf *b, size_t n);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);
/* Returns the contents as a malloc'd string and empties the buffer. */
char *buf_steal(struct buf *b);
/* Frees the memory. */
void buf_free(struct buf *b);

#endif
