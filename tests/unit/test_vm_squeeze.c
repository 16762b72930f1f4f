/*
 * Unit tests of the memory targets the squeeze gives running VMs
 * (vm_squeeze_targets, src/vm/vm_squeeze.c): everything fits (dynamic_max
 * for all), nothing more fits (dynamic_min), and the shared case where
 * every VM gets the same fraction of its dynamic range, as squeezed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vm/vm_int.h"

#define MiB (1LL << 20)

static void
test_all_fit(void **state)
{
	(void)state;
	struct vm_sq v[] = {{256 * MiB, 512 * MiB}, {128 * MiB, 1024 * MiB}};
	int64_t t[2];
	vm_squeeze_targets(v, 2, 4096 * MiB, t);
	assert_int_equal(t[0], 512 * MiB);
	assert_int_equal(t[1], 1024 * MiB);
	vm_squeeze_targets(v, 2, 1536 * MiB, t); /* exactly */
	assert_int_equal(t[0], 512 * MiB);
	assert_int_equal(t[1], 1024 * MiB);
}

static void
test_none_fit(void **state)
{
	(void)state;
	struct vm_sq v[] = {{256 * MiB, 512 * MiB}, {128 * MiB, 1024 * MiB}};
	int64_t t[2];
	vm_squeeze_targets(v, 2, 100 * MiB, t);
	assert_int_equal(t[0], 256 * MiB);
	assert_int_equal(t[1], 128 * MiB);
	vm_squeeze_targets(v, 2, -5, t); /* overcommitted host */
	assert_int_equal(t[0], 256 * MiB);
	assert_int_equal(t[1], 128 * MiB);
}

static void
test_same_fraction(void **state)
{
	(void)state;
	/* ranges 256 and 768 MiB wide; 512 MiB over the minima: half each */
	struct vm_sq v[] = {{256 * MiB, 512 * MiB},
	                    {256 * MiB, 1024 * MiB},
	                    {64 * MiB, 64 * MiB}};
	int64_t t[3];
	vm_squeeze_targets(v, 3, (256 + 256 + 64 + 512) * MiB, t);
	assert_int_equal(t[0], 384 * MiB);
	assert_int_equal(t[1], 640 * MiB);
	assert_int_equal(t[2], 64 * MiB); /* no range: its one size */
	/* big hosts: the product of sizes does not overflow */
	struct vm_sq b[] = {{1LL << 40, 1LL << 42}, {1LL << 40, 1LL << 42}};
	int64_t tb[2];
	vm_squeeze_targets(b, 2, (1LL << 41) + (3LL << 41), tb);
	assert_int_equal(tb[0], (1LL << 40) + (3LL << 40));
	assert_int_equal(tb[1], tb[0]);
}

static void
test_fixed_range(void **state)
{
	(void)state;
	/* dynamic_min = dynamic_max everywhere: nothing to share */
	struct vm_sq v[] = {{512 * MiB, 512 * MiB}};
	int64_t t[1];
	vm_squeeze_targets(v, 1, 100 * MiB, t);
	assert_int_equal(t[0], 512 * MiB);
	vm_squeeze_targets(v, 0, 100 * MiB, t); /* no VM */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_all_fit),
	    cmocka_unit_test(test_none_fit),
	    cmocka_unit_test(test_same_fraction),
	    cmocka_unit_test(test_fixed_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
