/* Fuzz target: xapi's get_all_records_where filter language (where.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "rpc/where.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct db_row *row;
	struct api_err *err = NULL;
	char *text = xstrndup((const char *)data, size);

	if (!row)
		row = db_row_new(DMC_VM, NULL, NULL);
	struct where_expr *w = where_parse(text, &err);
	if (w)
		(void)where_match(w, row);
	where_free(w);
	api_err_free(err);
	free(text);
	return 0;
}
