/*
 * Fuzz target for what pool members send each other about the database:
 * a master's answer to pool.db_follow (rows as JSON, deletions, full
 * copies; applied to a slave's replica) and a slave's forwarded write
 * (field-level ops; applied by the master in one transaction).
 *
 * Input: the JSON text, fed to both parsers against a small store (a VM
 * with ref OpaqueRef:fuzz-vm, a network OpaqueRef:fuzz-net). Looks for
 * crashes, leaks and undefined behaviour; checks that a malformed write
 * changes nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_seed(void)
{
	char *err = NULL;
	db_open(NULL, &err);
	struct db_txn *t = db_txn_begin();
	struct db_row *v = db_txn_create(t, DMC_VM, "OpaqueRef:fuzz-vm", NULL);
	db_txn_set(t, v, DMF_VM_name_label, (union dm_val){.s = xstrdup("vm")});
	db_txn_create(t, DMC_network, "OpaqueRef:fuzz-net", NULL);
	if (db_txn_commit(t, &err) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	xv *res = NULL;

	memcpy(text, data, size);
	text[size] = '\0';
	fuzz_seed();
	uint64_t g = db_generation();
	struct api_err *e = pwrite_apply_text(text, &res);
	if (e && db_generation() != g)
		abort(); /* a refused write changed the store */
	api_err_free(e);
	xv_free(res);
	pfollow_apply_text(text);
	db_close();
	free(text);
	return 0;
}
