/*
 * buf: a growable byte buffer, always NUL-terminated after its contents.
 * Allocation failure aborts the process (see xalloc.h).
 */
#ifndef XAPID_UTIL_BUF_H
#define XAPID_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len;
	size_t cap;
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Appends n bytes. */
void buf_add(struct buf *b, const void *p, size_t n);
/* Appends a C string. */
void buf_adds(struct buf *b, const char *s);
/* Appends one byte. */
void buf_addc(struct buf *b, char c);
/* Appends printf-formatted text. */
void buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
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

/* Fast path for writers that append many small pieces: appends n bytes
 * WITHOUT the terminating NUL; call buf_term() once done. */
static inline void
buf_put(struct buf *b, const void *s, size_t n)
{
	if (b->cap - b->len <= n)
		buf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

/* buf_put of a string literal. */
#define BUF_LIT(b, lit) buf_put((b), (lit), sizeof(lit) - 1)

/* Restores the NUL after the contents (after buf_put). */
static inline void
buf_term(struct buf *b)
{
	if (!b->data)
		buf_reserve(b, 0);
	b->data[b->len] = '\0';
}

#endif
