/*
 * dmval: typed field values of the object store.
 *
 * A row holds one union dm_val per field of its class; the field's dm_type says
 * which member is live. Strings (also refs, enums) are owned char *; a set is a
 * struct dm_coll of n elements, a map a struct dm_coll of n key/value pairs
 * (2n values); NULL is the empty set/map. Datetimes are epoch seconds.
 *
 * Conversions: to/from the wire (xv), to/from the durable JSON row text, and
 * to/from xapi's database-dump text (S-expressions for sets and maps).
 */
#ifndef XAPID_DB_DMVAL_H
#define XAPID_DB_DMVAL_H

#include <jansson.h>

#include "api/datamodel.h"
#include "api/errors.h"
#include "util/buf.h"
#include "util/xv.h"

struct dm_coll;

union dm_val {
	int64_t i; /* int, datetime */
	double f;
	bool b;
	char *s; /* string, ref, enum */
	struct dm_coll *c; /* set, map */
};

struct dm_coll {
	size_t n;          /* elements (set) or pairs (map) */
	union dm_val v[];  /* set: n; map: k0 v0 k1 v1 ... */
};

/* The value of a type's default: the field's declared default if def is
 * non-NULL (in the API description's notation: 0, "x", {}, {"k" -> "v"}, {a, b}, Null), else the type's zero
 * ("" / 0 / false / OpaqueRef:NULL / empty / the epoch / first enum value). */
union dm_val dmv_default(const struct dm_type *t, const char *def);
/* Frees what v owns. */
void dmv_free(const struct dm_type *t, union dm_val *v);
/* Deep copy. */
union dm_val dmv_copy(const struct dm_type *t, union dm_val v);
/* Equality. */
bool dmv_equal(const struct dm_type *t, union dm_val a, union dm_val b);

/* To the wire. */
xv *dmv_to_xv(const struct dm_type *t, union dm_val v);
/* From the wire, checking the type; on failure returns an error naming what
 * (the field or parameter name) and leaves *out untouched. */
struct api_err *dmv_from_xv(const struct dm_type *t, const xv *in,
			    const char *what, union dm_val *out);

/* Durable row encoding (jansson). */
json_t *dmv_to_json(const struct dm_type *t, union dm_val v);
/* Returns 0, or -1 if j does not match t. */
int dmv_from_json(const struct dm_type *t, json_t *j, union dm_val *out);

/* Text used by `xe` and for map keys: ints decimal, floats %g, bools
 * true/false, datetimes YYYYMMDDTHH:MM:SSZ, strings as they are. Scalars only;
 * sets/maps give "". Result is malloc'd. */
char *dmv_scalar_text(const struct dm_type *t, union dm_val v);
/* Parses a scalar from text (xe params, map keys). Returns 0 or -1. */
int dmv_scalar_parse(const struct dm_type *t, const char *text,
		     union dm_val *out);

/* xapi database-dump encoding of a value (before XML escaping). */
void dmv_dump_text(struct buf *b, const struct dm_type *t, union dm_val v);
/* Parses a dump value. Returns 0 or -1. */
int dmv_dump_parse(const struct dm_type *t, const char *text,
		   union dm_val *out);

/* Collections. */
struct dm_coll *dmc_new(size_t n); /* n slots zeroed: set elems or map pairs */
/* c (NULL: empty) grown by one element of width values (1: a set element,
 * 2: a map key and value), moved in from vals; c's container is freed and
 * its values move to the result. */
struct dm_coll *dmc_append(struct dm_coll *c, size_t width,
                           const union dm_val *vals);
/* Removes element at (values already freed by the caller) keeping the order;
 * an emptied collection becomes NULL. */
void dmc_remove_at(struct dm_coll **pc, size_t width, size_t at);
/* Index of key in a map, or -1 (keys compared as scalars of type kt). */
long dmc_map_find(const struct dm_type *kt, const struct dm_coll *c,
		  union dm_val key);
/* Index of elem in a set, or -1. */
long dmc_set_find(const struct dm_type *et, const struct dm_coll *c,
		  union dm_val elem);

#define DM_NULL_REF "OpaqueRef:NULL"

#endif
