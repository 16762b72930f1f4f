/*
 * Fuzz target for the replica a slave keeps on disk (STATE/pool-replica.
 * jsonl, pool_boot.c), read back when it starts while its master is dead:
 * a header line naming the master, then pool.db_follow answers, one a line,
 * the first a full copy.
 *
 * Input: the file's bytes, written to a temporary file and read into an
 * empty store (pboot_read). Looks for crashes, leaks and undefined
 * behaviour; checks that a file without a full copy changes nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/store.h"
#include "pool/pool_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-pool-replica.XXXXXX";
	char *err = NULL, *master = NULL;
	uint64_t gen = 0;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	db_open(NULL, &err);
	uint64_t g = db_generation();
	int rc = pboot_read(path, &master, &gen, &err);
	if (rc == 0 && db_generation() != g)
		abort(); /* nothing usable, yet the store changed */
	if (rc == 1 && (!master || !*master))
		abort();
	free(master);
	free(err);
	db_close();
	unlink(path);
	return 0;
}
