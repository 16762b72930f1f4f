/* htab: string-keyed open-addressing hash table. */
#include "util/htab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static const char htab_tomb_key[1];
#define HTAB_TOMB htab_tomb_key

unsigned long long
htab_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void
htab_free(struct htab *h)
{
	free(h->slots);
	memset(h, 0, sizeof(*h));
}

static struct htab_slot *
htab_find(const struct htab *h, const char *key)
{
	if (!h->cap)
		return NULL;
	size_t mask = h->cap - 1, i = htab_hash(key) & mask;
	for (;;) {
		struct htab_slot *s = &h->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != HTAB_TOMB && strcmp(s->key, key) == 0)
			return s;
		i = (i + 1) & mask;
	}
}

void *
htab_get(const struct htab *h, const char *key)
{
	struct htab_slot *s = htab_find(h, key);
	return s ? s->val : NULL;
}

static void
htab_grow(struct htab *h)
{
	struct htab old = *h;
	size_t cap = old.cap ? old.cap : 16;
	if (old.n * 2 >= cap)
		cap *= 2;
	h->slots = xcalloc(cap, sizeof(*h->slots));
	h->cap = cap;
	h->n = h->used = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key && old.slots[i].key != HTAB_TOMB)
			htab_put(h, old.slots[i].key, old.slots[i].val);
	free(old.slots);
}

void
htab_put(struct htab *h, const char *key, void *val)
{
	struct htab_slot *s = htab_find(h, key);
	if (s) {
		s->key = key;
		s->val = val;
		return;
	}
	if ((h->used + 1) * 4 >= h->cap * 3)
		htab_grow(h);
	size_t mask = h->cap - 1, i = htab_hash(key) & mask;
	while (h->slots[i].key && h->slots[i].key != HTAB_TOMB)
		i = (i + 1) & mask;
	if (!h->slots[i].key)
		h->used++;
	h->slots[i].key = key;
	h->slots[i].val = val;
	h->n++;
}

void *
htab_del(struct htab *h, const char *key)
{
	struct htab_slot *s = htab_find(h, key);
	if (!s)
		return NULL;
	void *v = s->val;
	s->key = HTAB_TOMB;
	s->val = NULL;
	h->n--;
	return v;
}

void *
htab_next(const struct htab *h, size_t *pos)
{
	while (*pos < h->cap) {
		struct htab_slot *s = &h->slots[(*pos)++];
		if (s->key && s->key != HTAB_TOMB)
			return s->val;
	}
	return NULL;
}
