/*
 * datamodel: the XenAPI object model, declared once.
 *
 * The tables themselves are generated (dm_gen.c / dm_gen.h, by
 * tools/gen-datamodel.py from xapi's published API description) and describe
 * every class, field, enum and message we serve: names, types, qualifiers,
 * defaults. The store, the RPC dispatcher, the implicit messages, `xe` and the
 * database dump are all driven by these tables; hand-written code exists only
 * for real behaviour.
 */
#ifndef XAPID_API_DATAMODEL_H
#define XAPID_API_DATAMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dm_kind {
	DMK_VOID,
	DMK_STRING,
	DMK_INT,
	DMK_FLOAT,
	DMK_BOOL,
	DMK_DATETIME,
	DMK_ENUM,
	DMK_REF,    /* cls = target class id (-1 if not a served class) */
	DMK_SET,    /* a = element type */
	DMK_MAP,    /* a = key type, b = value type */
	DMK_RECORD, /* cls = class id, or -1 for "<class> record" */
	DMK_OPTION, /* a = inner type */
	DMK_STRUCT_ANY, /* a free-form struct (event.from batch) */
};

struct dm_enum {
	const char *name;
	const char *const *values; /* API spelling ("Halted") */
	size_t n;
};

struct dm_type {
	enum dm_kind kind;
	const struct dm_type *a, *b;
	const struct dm_enum *en;
	int cls;
	const char *text; /* as XenAPI writes it: "(string -> string) map" */
};

enum dm_qual {
	DMQ_RW,
	DMQ_RO_CONSTRUCTOR, /* "RO/constructor": set at create, maybe a setter */
	DMQ_RO_RUNTIME,     /* "RO/runtime": server-maintained */
};

struct dm_field {
	const char *name;    /* API name: "name_label" */
	const char *db_name; /* DB column: "name__label" */
	const struct dm_type *type;
	enum dm_qual qual;
	const char *def;     /* declared default (API description notation) or NULL */
	const char *release; /* release that published the field */
	bool deprecated;
};

struct dm_param {
	const char *name;
	const struct dm_type *type;
};

struct dm_message {
	const char *name; /* "start", "get_record", ... */
	const struct dm_param *params; /* session_id first when has_session */
	size_t nparams;
	const struct dm_type *result;
	bool implicit;
	bool has_session;
	bool deprecated;
};

enum dm_class_flags {
	DMCF_TABLE = 1 << 0,      /* objects live in the store */
	DMCF_PERSISTENT = 1 << 1, /* rows are written to the durable store */
};

struct dm_class {
	const char *name; /* "VM" */
	const char *lower; /* "vm": event class and filters */
	const struct dm_field *fields;
	size_t nfields;
	const struct dm_message *msgs;
	size_t nmsgs;
	unsigned flags;
	int f_uuid;       /* index of uuid, -1 if none */
	int f_name_label; /* index of name_label, -1 if none */
};

/* A one-to-many relation: the set field of class b lists the rows of class a
 * whose ref field points at it (VBD.VM <-> VM.VBDs). The store keeps the set
 * side in step with the ref side. */
struct dm_relation {
	int a, a_field;
	int b, b_field;
};

#include "api/dm_gen.h"

extern const struct dm_class dm_classes[DMC__COUNT];
extern const struct dm_relation dm_relations[];
extern const size_t dm_nrelations;

/* Class id by exact name ("VM"), or -1. */
int dm_class_find(const char *name);
/* Class id by case-insensitive name ("vm"), or -1. */
int dm_class_find_ci(const char *name);
/* Field index by API name within class c, or -1. */
int dm_field_find(int c, const char *name);
/* Field index by DB column name ("name__label") within class c, or -1. */
int dm_field_find_db(int c, const char *db_name);
/* Message by name within class c, or NULL. */
const struct dm_message *dm_message_find(int c, const char *name);
/* Index of value in an enum (exact match), or -1. */
int dm_enum_index(const struct dm_enum *en, const char *value);
/* Index of value in an enum, case-insensitive, or -1. */
int dm_enum_index_ci(const struct dm_enum *en, const char *value);

#endif
