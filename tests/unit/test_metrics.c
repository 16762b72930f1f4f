/*
 * Unit tests of the metrics computations (src/vm/metrics.c): disk rates,
 * latency and queue size from synthetic query-blockstats counters (as
 * xsiostat derives them), CPU fraction, counter resets, the memory-change
 * threshold that spares the DB, and the value ring.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vm/metrics.h"

static void
near(double a, double b)
{
	if (!(fabs(a - b) < 1e-9 * (1 + fabs(b))))
		fail_msg("%.12g != %.12g", a, b);
}
#define NEAR(a, b) near((double)(a), (double)(b))

static void
test_disk_rates(void **state)
{
	(void)state;
	struct metrics_disk_ctr p = {.rd_bytes = 1000, .wr_bytes = 5000, .rd_ops = 10,
				     .wr_ops = 20, .rd_total_ns = 1000000,
				     .wr_total_ns = 2000000};
	/* over 5 s: 50 reads of 4 KiB taking 2 ms each, 100 writes of 64 KiB
	 * taking 10 ms each */
	struct metrics_disk_ctr c = p;
	c.rd_bytes += 50 * 4096;
	c.rd_ops += 50;
	c.rd_total_ns += 50 * 2000000ULL;
	c.wr_bytes += 100 * 65536;
	c.wr_ops += 100;
	c.wr_total_ns += 100 * 10000000ULL;
	struct metrics_disk_rates r;
	assert_int_equal(metrics_disk_rates(&p, &c, 5.0, &r), 0);
	NEAR(r.read_bps, 50 * 4096 / 5.0);
	NEAR(r.write_bps, 100 * 65536 / 5.0);
	NEAR(r.iops_read, 10);
	NEAR(r.iops_write, 20);
	NEAR(r.read_latency_us, 2000);
	NEAR(r.write_latency_us, 10000);
	/* 0.1 s + 1 s of request time in 5 s: 0.22 requests in flight */
	NEAR(r.avgqu_sz, 1.1 / 5.0);
	NEAR(r.iowait, r.avgqu_sz);

	/* idle: all zero, no division by zero ops */
	assert_int_equal(metrics_disk_rates(&c, &c, 5.0, &r), 0);
	NEAR(r.read_bps, 0);
	NEAR(r.read_latency_us, 0);
	NEAR(r.write_latency_us, 0);
	NEAR(r.avgqu_sz, 0);

	/* a deep queue: 32 requests always outstanding for 2 s */
	struct metrics_disk_ctr q = c;
	q.wr_ops += 3200;
	q.wr_total_ns += 64000000000ULL;
	assert_int_equal(metrics_disk_rates(&c, &q, 2.0, &r), 0);
	NEAR(r.avgqu_sz, 32);
	NEAR(r.write_latency_us, 20000);
	NEAR(r.iops_write, 1600);
}

static void
test_disk_reset(void **state)
{
	(void)state;
	struct metrics_disk_ctr p = {.rd_bytes = 1 << 20, .rd_ops = 100};
	struct metrics_disk_ctr c = {.rd_bytes = 4096, .rd_ops = 1};
	struct metrics_disk_rates r;
	/* a new QEMU starts again from zero: no absurd rate */
	assert_int_equal(metrics_disk_rates(&p, &c, 5.0, &r), -1);
	NEAR(r.read_bps, 0);
	assert_int_equal(metrics_disk_rates(&c, &p, 0.0, &r), -1);
	assert_int_equal(metrics_disk_rates(&c, &p, -1.0, &r), -1);
	assert_int_equal(metrics_disk_rates(&c, &p, NAN, &r), -1);
}

static void
test_cpu_and_counters(void **state)
{
	(void)state;
	NEAR(metrics_cpu_fraction(10.0, 12.5, 5.0, 1), 0.5);
	NEAR(metrics_cpu_fraction(10.0, 12.5, 5.0, 2), 0.25);
	NEAR(metrics_cpu_fraction(10.0, 30.0, 5.0, 2), 1.0); /* clamped */
	NEAR(metrics_cpu_fraction(10.0, 10.0, 5.0, 4), 0.0);
	NEAR(metrics_cpu_fraction(12.0, 10.0, 5.0, 1), -1);
	NEAR(metrics_cpu_fraction(10.0, 12.0, 0.0, 1), -1);
	NEAR(metrics_cpu_fraction(10.0, 12.0, 5.0, 0), -1);
	NEAR(metrics_counter_rate(1000, 6000, 5.0), 1000);
	NEAR(metrics_counter_rate(6000, 1000, 5.0), -1);
	NEAR(metrics_counter_rate(0, 0, 5.0), 0);
}

static void
test_memory_threshold(void **state)
{
	(void)state;
	int64_t m = 256LL << 20;
	assert_true(metrics_memory_changed(0, m));
	assert_false(metrics_memory_changed(0, 0));
	assert_false(metrics_memory_changed(m, m));
	assert_false(metrics_memory_changed(m, m + m / 200));  /* 0.5% */
	assert_false(metrics_memory_changed(m, m - m / 100));  /* exactly 1% */
	assert_true(metrics_memory_changed(m, m - m / 50));    /* 2% */
	assert_true(metrics_memory_changed(m, m * 2));
}

static void
test_ring(void **state)
{
	(void)state;
	struct metrics_ring r = {0};
	assert_true(isnan(metrics_ring_get(&r, 0)));
	assert_true(isnan(metrics_ring_mean(&r, 5)));
	for (int i = 0; i < 10; i++)
		metrics_ring_push(&r, i);
	NEAR(metrics_ring_get(&r, 0), 9);
	NEAR(metrics_ring_get(&r, 9), 0);
	assert_true(isnan(metrics_ring_get(&r, 10)));
	NEAR(metrics_ring_mean(&r, 2), 8.5);
	NEAR(metrics_ring_mean(&r, 100), 4.5);
	/* grows through its sizes, then keeps the last METRICS_RING */
	for (int i = 10; i < 3 * METRICS_RING + 7; i++) {
		metrics_ring_push(&r, i);
		NEAR(metrics_ring_get(&r, 0), i);
		NEAR(metrics_ring_get(&r, 3), i - 3);
	}
	assert_int_equal(r.count, METRICS_RING);
	assert_int_equal(r.cap, METRICS_RING);
	NEAR(metrics_ring_get(&r, METRICS_RING - 1), 3 * METRICS_RING + 6 - (METRICS_RING - 1));
	assert_true(isnan(metrics_ring_get(&r, METRICS_RING)));
	metrics_ring_free(&r);
	assert_int_equal(r.count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disk_rates),
		cmocka_unit_test(test_disk_reset),
		cmocka_unit_test(test_cpu_and_counters),
		cmocka_unit_test(test_memory_threshold),
		cmocka_unit_test(test_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
