/* test_ring.c: the replay ring keeps the newest envelopes in seq order. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

struct seen {
	uint64_t seqs[64];
	size_t n;
	size_t stop_after; /* 0 = never */
};

static int collect(void *ud, uint64_t seq, const char *text, size_t len)
{
	struct seen *s = ud;
	char want[32];
	snprintf(want, sizeof want, "e%llu", (unsigned long long)seq);
	assert_int_equal(len, strlen(want));
	assert_string_equal(text, want);
	s->seqs[s->n++] = seq;
	return s->stop_after && s->n >= s->stop_after;
}

static void push(struct ring *r, uint64_t seq)
{
	char t[32];
	int n = snprintf(t, sizeof t, "e%llu", (unsigned long long)seq);
	assert_int_equal(ring_push(r, seq, t, (size_t)n), 0);
}

static void empty_ring_has_oldest_zero(void **state)
{
	(void)state;
	struct ring *r = ring_new(4);
	assert_int_equal(ring_oldest_seq(r), 0);
	assert_int_equal(ring_count(r), 0);
	struct seen s = {0};
	assert_int_equal(ring_each_after(r, 0, 10, collect, &s), 0);
	ring_destroy(&r);
	assert_null(r);
}

static void full_ring_evicts_oldest(void **state)
{
	(void)state;
	struct ring *r = ring_new(3);
	for (uint64_t i = 1; i <= 5; i++)
		push(r, i);
	assert_int_equal(ring_count(r), 3);
	assert_int_equal(ring_oldest_seq(r), 3);
	struct seen s = {0};
	assert_int_equal(ring_each_after(r, 0, 100, collect, &s), 3);
	assert_int_equal(s.seqs[0], 3);
	assert_int_equal(s.seqs[2], 5);
	ring_destroy(&r);
}

static void each_after_starts_after_seq_and_honours_limit(void **state)
{
	(void)state;
	struct ring *r = ring_new(10);
	for (uint64_t i = 1; i <= 10; i++)
		push(r, i * 2); /* gaps in seq are allowed */
	struct seen s = {0};
	assert_int_equal(ring_each_after(r, 7, 3, collect, &s), 3);
	assert_int_equal(s.seqs[0], 8);
	assert_int_equal(s.seqs[1], 10);
	assert_int_equal(s.seqs[2], 12);
	struct seen none = {0};
	assert_int_equal(ring_each_after(r, 20, 3, collect, &none), 0);
	ring_destroy(&r);
}

static void each_after_stops_when_callback_says_so(void **state)
{
	(void)state;
	struct ring *r = ring_new(10);
	for (uint64_t i = 1; i <= 10; i++)
		push(r, i);
	struct seen s = {.stop_after = 2};
	assert_int_equal(ring_each_after(r, 0, 10, collect, &s), 2);
	ring_destroy(&r);
}

static void seq_must_grow(void **state)
{
	(void)state;
	struct ring *r = ring_new(4);
	push(r, 5);
	assert_int_equal(ring_push(r, 5, "x", 1), -1);
	assert_int_equal(ring_push(r, 4, "x", 1), -1);
	assert_int_equal(ring_count(r), 1);
	ring_destroy(&r);
}

static void capacity_zero_holds_nothing(void **state)
{
	(void)state;
	struct ring *r = ring_new(0);
	assert_non_null(r);
	push(r, 1);
	assert_int_equal(ring_count(r), 0);
	assert_int_equal(ring_oldest_seq(r), 0);
	ring_destroy(&r);
}

static void wraparound_many_times_keeps_order(void **state)
{
	(void)state;
	struct ring *r = ring_new(7);
	for (uint64_t i = 1; i <= 1000; i++)
		push(r, i);
	assert_int_equal(ring_oldest_seq(r), 994);
	struct seen s = {0};
	assert_int_equal(ring_each_after(r, 995, 100, collect, &s), 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(s.seqs[i], 996 + i);
	ring_destroy(&r);
}

static void large_text_is_copied_whole(void **state)
{
	(void)state;
	struct ring *r = ring_new(2);
	size_t n = 1 << 20;
	char *big = malloc(n);
	memset(big, 'z', n);
	assert_int_equal(ring_push(r, 1, big, n), 0);
	big[0] = 'a'; /* the ring holds its own copy */
	free(big);
	ring_destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_ring_has_oldest_zero),
	    cmocka_unit_test(full_ring_evicts_oldest),
	    cmocka_unit_test(each_after_starts_after_seq_and_honours_limit),
	    cmocka_unit_test(each_after_stops_when_callback_says_so),
	    cmocka_unit_test(seq_must_grow),
	    cmocka_unit_test(capacity_zero_holds_nothing),
	    cmocka_unit_test(wraparound_many_times_keeps_order),
	    cmocka_unit_test(large_text_is_copied_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
