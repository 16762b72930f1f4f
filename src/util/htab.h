/*
 * htab: a string-keyed hash table (open addressing, linear probing).
 * Keys are borrowed: the caller keeps each key alive while it is in the table
 * (the store uses the row's own ref/uuid strings). Not thread-safe.
 */
#ifndef XAPID_UTIL_HTAB_H
#define XAPID_UTIL_HTAB_H

#include <stddef.h>

struct htab_slot {
	const char *key; /* NULL: empty; HTAB_TOMB: deleted */
	void *val;
};

struct htab {
	struct htab_slot *slots;
	size_t cap;  /* power of two */
	size_t n;    /* live entries */
	size_t used; /* live + tombstones */
};

/* Empties a table and frees its memory (not the keys or values). */
void htab_free(struct htab *h);
/* The value stored under key, or NULL. */
void *htab_get(const struct htab *h, const char *key);
/* Stores val under key, replacing an existing entry. */
void htab_put(struct htab *h, const char *key, void *val);
/* Removes key; returns its value or NULL. */
void *htab_del(struct htab *h, const char *key);
/* Iteration: start with *pos = 0; returns the next value or NULL at the end. */
void *htab_next(const struct htab *h, size_t *pos);
/* The string hash used (FNV-1a 64). */
unsigned long long htab_hash(const char *s);

#endif
