/*
 * where: xapi's get_all_records_where filter language, on DB column names:
 *   true | false | field "col"="literal" | e and e | e or e | not e | (e)
 */
#ifndef XAPID_RPC_WHERE_H
#define XAPID_RPC_WHERE_H

#include "api/errors.h"
#include "db/store.h"

struct where_expr;

/* Parses an expression; NULL and *err on a syntax error. */
struct where_expr *where_parse(const char *text, struct api_err **err);
/* Evaluates against a row (scalars compare on their text form). */
bool where_match(const struct where_expr *w, const struct db_row *r);
/* Frees an expression; NULL is allowed. */
void where_free(struct where_expr *w);

#endif
