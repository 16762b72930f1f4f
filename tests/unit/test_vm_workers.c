/*
 * Unit tests of the worker pool's parallel queue (src/vm/workers.c): every
 * atom runs once, never more than a chunk at a time, and a chunk starts only
 * once the one before it has finished (xenopsd's parallel VBD plugging).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vm/backend.h"
#include "vm/vm_int.h"

#define N 23

struct trace {
	pthread_mutex_t lock;
	int running, max_running;
	int ran[N];
	int started_at[N];  /* atoms finished before this one started */
	int finished_at[N]; /* atoms finished when this one finished */
	int finished;
};

static void
atom(void *ctx, size_t i)
{
	struct trace *t = ctx;

	pthread_mutex_lock(&t->lock);
	t->started_at[i] = t->finished;
	if (++t->running > t->max_running)
		t->max_running = t->running;
	pthread_mutex_unlock(&t->lock);
	usleep(2000); /* gives the others of the chunk a chance to overlap */
	pthread_mutex_lock(&t->lock);
	t->running--;
	t->ran[i]++;
	t->finished_at[i] = ++t->finished;
	pthread_mutex_unlock(&t->lock);
}

static void
test_serial_before_pool(void **state)
{
	struct trace t = {.lock = PTHREAD_MUTEX_INITIALIZER};

	(void)state;
	/* no pool yet: the atoms run in turn on the caller's thread */
	vm_parallel(N, atom, &t);
	assert_int_equal(t.max_running, 1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(t.ran[i], 1);
		assert_int_equal(t.started_at[i], i);
	}
}

static void
test_chunks(void **state)
{
	struct trace t = {.lock = PTHREAD_MUTEX_INITIALIZER};

	(void)state;
	vm_workers_wrap(&vm_backend_sim, 4, 5);
	assert_int_equal(vm_parallel_chunk(), 5);
	vm_parallel(N, atom, &t);
	assert_true(t.max_running <= 4); /* 4 threads, chunks of 5 */
	for (int i = 0; i < N; i++) {
		int chunk = i / 5;
		assert_int_equal(t.ran[i], 1);
		/* every atom of the chunks before had finished when it started */
		assert_true(t.started_at[i] >= chunk * 5);
		/* and it finished before any atom of the next chunk ended */
		assert_true(t.finished_at[i] <= (chunk + 1) * 5);
	}
	vm_parallel(0, atom, &t); /* nothing to do: returns at once */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_before_pool),
		cmocka_unit_test(test_chunks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
