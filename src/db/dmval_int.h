/*
 * dmval_int: helpers shared by dmval.c and dmval_dump.c (not for others).
 */
#ifndef XAPID_DB_DMVAL_INT_H
#define XAPID_DB_DMVAL_INT_H

#include "db/dmval.h"

/* Kinds stored as a char * (string, ref, enum, ...). */
bool dmv_is_str(enum dm_kind k);
/* The type an option stands for (options are stored as their inner type). */
const struct dm_type *dmv_base(const struct dm_type *t);
/* The zero value of a type ("" / 0 / OpaqueRef:NULL / empty / ...). */
union dm_val dmv_zero(const struct dm_type *t);
/* YYYYMMDDTHH:MM:SSZ of an epoch time. */
void dmv_fmt_time(int64_t t, char out[32]);

#endif
