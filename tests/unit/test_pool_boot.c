/* Unit tests of the replica a slave keeps on disk (pool_boot.c): what the
 * follower applies is kept (a full copy, then each answer) and read back
 * into an empty store the same; past twice its base the file is rewritten
 * from the store and reads back the same; a torn last line is ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/store.h"
#include "pool/pool_int.h"
#include "util/xalloc.h"

static char dir[64];
static char *path;

static int
setup(void **state)
{
	char *err = NULL;
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test-pool-boot.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	path = xasprintf("%s/pool-replica.jsonl", dir);
	pboot_set_path(path);
	return db_open(NULL, &err);
}

static int
teardown(void **state)
{
	(void)state;
	pboot_drop();
	pboot_set_path(NULL);
	db_close();
	rmdir(dir);
	free(path);
	return 0;
}

/* A follow answer putting network ref with name_label label. */
static char *
answer(bool full, uint64_t gen, const char *ref, const char *label)
{
	return xasprintf("{\"epoch\":\"e1\",\"generation\":%llu,\"full\":%s,"
	                 "\"puts\":[{\"cls\":\"network\",\"ref\":\"%s\","
	                 "\"row\":\"{\\\"name_label\\\":\\\"%s\\\"}\"}],"
	                 "\"dels\":[]}",
	                 (unsigned long long)gen, full ? "true" : "false", ref,
	                 label);
}

/* Applies and keeps an answer, as the follower does. */
static void
follow(bool full, uint64_t gen, const char *ref, const char *label)
{
	char *a = answer(full, gen, ref, label);
	assert_int_equal(pfollow_apply_text(a), 0);
	pboot_journal("10.0.0.1", a, full, "e1", gen);
	free(a);
}

static const char *
label_of(const char *ref)
{
	struct db_row *r = db_get(DMC_network, ref);
	return r ? r->f[DMF_network_name_label].s : NULL;
}

/* Empties the store and reads the file back: returns its generation. */
static uint64_t
read_back(void)
{
	char *err = NULL, *master = NULL;
	uint64_t gen = 0;
	db_close();
	assert_int_equal(db_open(NULL, &err), 0);
	assert_null(label_of("OpaqueRef:n1"));
	assert_int_equal(pboot_read(path, &master, &gen, &err), 1);
	assert_string_equal(master, "10.0.0.1");
	free(master);
	return gen;
}

static off_t
file_size(void)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static void
test_round_trip(void **state)
{
	(void)state;
	follow(true, 5, "OpaqueRef:n1", "first");
	follow(false, 6, "OpaqueRef:n2", "second");
	follow(false, 7, "OpaqueRef:n1", "renamed");
	assert_int_equal(read_back(), 7);
	assert_string_equal(label_of("OpaqueRef:n1"), "renamed");
	assert_string_equal(label_of("OpaqueRef:n2"), "second");
}

static void
test_compaction(void **state)
{
	(void)state;
	follow(true, 1, "OpaqueRef:n1", "first");
	char label[2100];
	memset(label, 'x', sizeof(label) - 1);
	label[sizeof(label) - 1] = '\0';
	off_t most = 0;
	/* about 1.5 MiB of answers: the file is rewritten on the way */
	for (int i = 0; i < 700; i++) {
		follow(false, 2 + (uint64_t)i, "OpaqueRef:n1", label);
		if (file_size() > most)
			most = file_size();
	}
	follow(false, 800, "OpaqueRef:n2", "last");
	assert_true(most < (3 << 20));
	assert_true(file_size() < most);
	assert_int_equal(read_back(), 800);
	assert_string_equal(label_of("OpaqueRef:n1"), label);
	assert_string_equal(label_of("OpaqueRef:n2"), "last");
}

static void
test_torn_tail(void **state)
{
	(void)state;
	follow(true, 5, "OpaqueRef:n1", "first");
	follow(false, 6, "OpaqueRef:n1", "second");
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs(
	    "{\"epoch\":\"e1\",\"generation\":7,\"full\":false,\"puts\":[{\"c",
	    f);
	fclose(f);
	assert_int_equal(read_back(), 6);
	assert_string_equal(label_of("OpaqueRef:n1"), "second");
}

static void
test_no_full_copy(void **state)
{
	char *err = NULL, *master = NULL;
	uint64_t gen = 0;
	(void)state;
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	char *a = answer(false, 3, "OpaqueRef:n1", "x");
	fprintf(f, "{\"master\":\"10.0.0.1\"}\n%s\n", a);
	fclose(f);
	free(a);
	assert_int_equal(pboot_read(path, &master, &gen, &err), 0);
	assert_null(label_of("OpaqueRef:n1"));
	assert_null(master);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_full_copy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
