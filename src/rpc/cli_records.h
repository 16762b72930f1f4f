/*
 * cli_records: the CLI view of each class (xapi's records.ml).
 *
 * A CLI class ("vm", "template", "sr", ...) is a table of CLI fields in
 * display order. Each field names the datamodel field it shows (possibly
 * on a related row reached through a ref field, such as VM.metrics), how
 * its value is written as text, and how it may be changed: which decides
 * its marker ( RO), ( RW), (SRO), (SRW), (MRO), (MRW). Hand-written tables
 * follow records.ml for the classes xe users script against; every other
 * class with a table gets one generated from the datamodel (API names with
 * '_' turned into '-').
 *
 * Reading: field values are computed from store rows, so every function
 * here that takes a row must be called with the store's read lock held (as
 * xapi's CLI reads its Ref_index, not the API, for uuids and names). Refs
 * are shown as the target's uuid (or "<not in database>"), maps as
 * "k: v; k2: v2", sets as "a; b", floats "%.3f", datetimes as
 * YYYYMMDDTHH:MM:SSZ, enums as xapi's CLI spells them.
 */
#ifndef XAPID_RPC_CLI_RECORDS_H
#define XAPID_RPC_CLI_RECORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "db/store.h"
#include "util/buf.h"

/* Text shown for a ref that does not resolve. */
#define CLI_NID "<not in database>"

enum cli_fflags {
	CLIF_RW = 1u << 0,       /* scalar setter: Class.set_<field> (or ->msg) */
	CLIF_MAP = 1u << 1,      /* map semantics for filters/param-get (MRO) */
	CLIF_MAPRW = 1u << 2,    /* add_to_<f>/remove_from_<f> (MRW) */
	CLIF_SET = 1u << 3,      /* set semantics (SRO) */
	CLIF_SETRW = 1u << 4,    /* add_<f>/remove_<f> (SRW) */
	CLIF_SETINMAP = 1u << 5, /* map keys set with ->msg(self, k, v) (MRO) */
	CLIF_SETMAP = 1u << 6,   /* map set whole with set_<f> (MRO) */
	CLIF_CLEARMAP = 1u << 7, /* param-clear by set_<f>({}) */
	CLIF_HIDDEN = 1u << 8,   /* never listed, only param-get */
	CLIF_EXPENSIVE = 1u << 9, /* "<expensive field>" in -list */
	CLIF_DEPRECATED = 1u << 10,
	CLIF_CI = 1u << 11,      /* case-insensitive filtering */
	CLIF_COMMA = 1u << 12,   /* set elements joined by ", " */
	CLIF_NAME = 1u << 13,    /* a ref shown as the target's name-label */
	CLIF_VALS = 1u << 14,    /* a map shown as the set of its values */
	CLIF_REFSTR = 1u << 15,  /* string elements are refs: show uuids */
	CLIF_BYTES = 1u << 16,   /* int setter accepting KiB/MiB/GiB suffixes */
};

struct cli_fdef;

/* A field whose text needs code: appends it to b. Read lock held. */
typedef void (*cli_custom_fn)(const struct cli_fdef *f,
			      const struct db_row *row, struct buf *b);

struct cli_fdef {
	const char *name; /* CLI name: "name-label" */
	int fi;           /* datamodel field (of the via class if via >= 0) */
	int via;          /* ref field leading to the related row, or -1 */
	unsigned flags;
	const char *const *emap; /* enum spellings: API, CLI, ..., NULL */
	const char *none; /* text when the related row is missing (CLI_NID) */
	const char *msg;  /* setter message other than set_<field> */
	const char *add;  /* set add/remove messages other than */
	const char *remove; /* add_<field> / remove_<field> */
	const char *const *keys; /* the only map keys one may add, or NULL */
	cli_custom_fn custom;
};

struct cli_class {
	const char *name; /* "vm", "template", "host-cpu" */
	int cls;          /* datamodel class */
	const struct cli_fdef *fields;
	size_t nfields;
	const char *const *def_params;  /* -list fields, NULL-terminated */
	const char *const *def_filters; /* key, value, ..., NULL */
	bool standard;    /* listed by `xe help` */
	const char *plural; /* "vms" */
};

/* All CLI classes, in xapi's gen_cmds order. */
const struct cli_class *const *cli_classes(size_t *n);
/* The CLI class named name ("vm", "sr"), or NULL. */
const struct cli_class *cli_class_find(const char *name);

/* The field named name in c, or NULL. */
const struct cli_fdef *cli_field_find(const struct cli_class *c,
				      const char *name);

/* The datamodel type of the value a field shows, or NULL (custom). */
const struct dm_type *cli_field_type(const struct cli_class *c,
				     const struct cli_fdef *f);
/* The marker of a field: " ( RO)", " ( RW)", " (SRO)", " (SRW)", " (MRO)"
 * or " (MRW)". */
const char *cli_field_marker(const struct cli_fdef *f);
/* True if the field has set or map semantics. */
bool cli_field_is_set(const struct cli_fdef *f);
bool cli_field_is_map(const struct cli_fdef *f);

/* Appends the text of field f of row (a row of c->cls) to b. */
void cli_field_text(const struct cli_class *c, const struct cli_fdef *f,
		    const struct db_row *row, struct buf *b);

/* The members of a set field as text (refs as uuids); returns the count
 * and a malloc'd array of malloc'd strings (free with cli_strv_free). */
size_t cli_field_set(const struct cli_class *c, const struct cli_fdef *f,
		     const struct db_row *row, char ***out);
/* The pairs of a map field as text: keys and values arrays (n each). */
size_t cli_field_map(const struct cli_class *c, const struct cli_fdef *f,
		     const struct db_row *row, char ***keys, char ***vals);
void cli_strv_free(char **v, size_t n);

/* Text of a datamodel value of type t, as a CLI field would show it. */
void cli_value_text(const struct dm_type *t, union dm_val v,
		    const char *const *emap, unsigned flags, struct buf *b);

/* The uuid of ref (a row of class cls, or any class if cls < 0), or NULL.
 * The pointer is the row's own string. */
const char *cli_ref_uuid(int cls, const char *ref);
/* The name_label of ref, or NULL if none. */
const char *cli_ref_name(int cls, const char *ref);

/* The latest value of data source ds of the VM with this uuid (as
 * VM.query_data_source gives it): true and *v, or false when there is none.
 * Set by the metrics module; takes no store lock. */
void cli_set_ds_query(bool (*fn)(const char *vm_uuid, const char *ds, double *v));
/* Appends the io_read_kbs / io_write_kbs text of a VBD or VIF row: its
 * VM's data source (vbd_<device>_read|write, vif_<device>_rx|tx) / 1024
 * as OCaml prints a float, or "<unknown>" (records.ml). */
void cli_dev_kbs(const struct db_row *row, bool vbd, bool write, struct buf *b);

/* The API spelling of a CLI enum value (case-insensitive, through emap),
 * or NULL if it is not a value of en. */
const char *cli_enum_parse(const struct dm_enum *en, const char *const *emap,
			   const char *text);

#endif
