/*
 * xv: the generic value tree that crosses the wire.
 *
 * XML-RPC and JSON-RPC requests are parsed into xv trees, and every API result
 * is built as an xv tree before it is written out by a codec. The tree owns all
 * of its memory: xv_free() releases a node and everything below it.
 *
 * Types follow XML-RPC: strings (also refs, uuids, enums), 64-bit ints, doubles,
 * booleans, datetimes (kept as text "YYYYMMDDTHH:MM:SSZ"), arrays and structs
 * (ordered name/value members). XV_NIL is JSON null (never emitted by xapi's
 * XML-RPC; accepted from JSON clients).
 */
#ifndef XAPID_UTIL_XV_H
#define XAPID_UTIL_XV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xv_type {
	XV_NIL,
	XV_STRING,
	XV_INT,
	XV_FLOAT,
	XV_BOOL,
	XV_DATETIME,
	XV_ARRAY,
	XV_STRUCT,
	XV_GEN, /* a struct or array whose members are made as they are read */
};

typedef struct xv xv;

/* XV_INT written as <i4> by XML-RPC (xapi's Int32, e.g. event.from's
 * valid_ref_counts); set by xv_i4() and by the XML-RPC parser on <i4>. */
#define XV_F_I4 0x01

struct xv {
	enum xv_type type;
	uint8_t flags; /* XV_F_* bits; 0 for ordinary values */
	union {
		char *s; /* XV_STRING, XV_DATETIME: NUL-terminated, owned */
		int64_t i;
		double f;
		bool b;
		struct {
			xv **items;
			size_t n, cap;
		} a; /* XV_ARRAY */
		struct {
			char **names;
			xv **vals;
			size_t n, cap;
		} st; /* XV_STRUCT */
		struct {
			/* the next member (owned by the caller) and, for a
			 * struct, its malloc'd name; NULL at the end */
			xv *(*next)(void *state, char **name);
			void (*release)(void *state);
			void *state;
			bool is_struct;
		} g; /* XV_GEN: read once, by a writer */
	} u;
};

/* Constructors. All abort on out-of-memory (like xmalloc). */
xv *xv_nil(void);
xv *xv_str(const char *s);           /* copies s; NULL is taken as "" */
xv *xv_strn(const char *s, size_t n); /* copies n bytes */
xv *xv_str_own(char *s);             /* takes ownership of a malloc'd string */
xv *xv_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
xv *xv_int(int64_t i);
xv *xv_float(double f);
xv *xv_bool(bool b);
xv *xv_datetime(const char *iso); /* "YYYYMMDDTHH:MM:SSZ", copied */
xv *xv_datetime_t(int64_t epoch); /* formats an epoch time in UTC */
xv *xv_array(void);
xv *xv_struct(void);

/* A generator: a struct (is_struct) or array whose members next() makes one
 * at a time, so that a writer never holds the whole value in memory (big
 * get_all_records answers). Writers consume it; it can be read only once.
 * release(state) is called by xv_free. */
xv *xv_gen(xv *(*next)(void *state, char **name), void (*release)(void *state),
	   void *state, bool is_struct);

/* Appends item to an array (takes ownership). Returns arr. */
xv *xv_push(xv *arr, xv *item);
/* Appends a member to a struct (takes ownership of val; copies name). Returns st. */
xv *xv_set(xv *st, const char *name, xv *val);

/* Struct lookup: the member's value, or NULL. */
xv *xv_get(const xv *st, const char *name);

/* Deep copy. */
xv *xv_dup(const xv *v);

/* Deep equality (for tests). Flags are ignored; NaN equals NaN. */
bool xv_equal(const xv *a, const xv *b);

/* Frees v and all children. NULL is allowed. */
void xv_free(xv *v);

/* Type name for error messages ("string", "int", ...). */
const char *xv_type_name(enum xv_type t);

/* An XV_INT flagged XV_F_I4: written as <value><i4>n</i4></value> in
 * XML-RPC (and as a plain number in JSON). */
xv *xv_i4(int32_t i);

/* Appends a member to a struct, taking ownership of both the malloc'd name
 * and val (no copy; for parsers). Returns st. */
xv *xv_set_own(xv *st, char *name, xv *val);

/* Number of items (array) or members (struct); 0 for any other type. */
size_t xv_len(const xv *v);

/* True if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF). */
bool xv_utf8_valid(const char *s, size_t n);

/* True if s[0..n) is well-formed UTF-8 made only of characters allowed in
 * XML 1.0 (TAB, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF): the
 * check xapi applies to every call parameter (UTF8_XML.is_valid). */
bool xv_text_valid(const char *s, size_t n);

/* Returns a malloc'd, NUL-terminated copy of s[0..n) in which every byte
 * that does not start a well-formed UTF-8 sequence is replaced by U+FFFD. */
char *xv_utf8_repair(const char *s, size_t n);

/* Parses a datetime as accepted by xapi ("YYYYMMDDTHH:MM:SSZ",
 * "YYYYMMDDTHH:MM:SS", "YYYY-MM-DDTHH:MM:SS", each with an optional Z,
 * +hh:mm / -hh:mm or +hhmm / -hhmm zone and optional fractional seconds,
 * which are truncated) into epoch seconds.
 * Returns 0 on success, -1 if the text is not a datetime. */
int xv_parse_datetime(const char *s, int64_t *epoch);

#endif
