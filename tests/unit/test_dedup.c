/* test_dedup.c: the bounded id set forgets the oldest id first. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"

static void insert_reports_new_then_duplicate(void **state)
{
	(void)state;
	struct dedup *d = dedup_new(4);
	assert_true(dedup_insert(d, "contribution:a"));
	assert_false(dedup_insert(d, "contribution:a"));
	assert_true(dedup_contains(d, "contribution:a"));
	assert_false(dedup_contains(d, "contribution:b"));
	assert_int_equal(dedup_count(d), 1);
	dedup_destroy(&d);
	assert_null(d);
}

static void full_set_evicts_the_oldest_first(void **state)
{
	(void)state;
	struct dedup *d = dedup_new(3);
	dedup_insert(d, "1");
	dedup_insert(d, "2");
	dedup_insert(d, "3");
	dedup_insert(d, "4");
	assert_int_equal(dedup_count(d), 3);
	assert_false(dedup_contains(d, "1"));
	assert_true(dedup_contains(d, "2") && dedup_contains(d, "3") && dedup_contains(d, "4"));
	dedup_insert(d, "5");
	assert_false(dedup_contains(d, "2"));
	assert_true(dedup_insert(d, "1")); /* forgotten, so new again */
	assert_false(dedup_contains(d, "3"));
	dedup_destroy(&d);
}

static void duplicate_insert_does_not_refresh_or_evict(void **state)
{
	(void)state;
	struct dedup *d = dedup_new(2);
	dedup_insert(d, "a");
	dedup_insert(d, "b");
	assert_false(dedup_insert(d, "a"));
	assert_true(dedup_contains(d, "a") && dedup_contains(d, "b"));
	dedup_insert(d, "c"); /* a is still the oldest */
	assert_false(dedup_contains(d, "a"));
	dedup_destroy(&d);
}

static void capacity_one_keeps_the_last(void **state)
{
	(void)state;
	struct dedup *d = dedup_new(1);
	dedup_insert(d, "x");
	dedup_insert(d, "y");
	assert_false(dedup_contains(d, "x"));
	assert_true(dedup_contains(d, "y"));
	assert_int_equal(dedup_count(d), 1);
	dedup_destroy(&d);
}

static void capacity_zero_is_refused(void **state)
{
	(void)state;
	assert_null(dedup_new(0));
}

static void many_ids_with_churn_keep_exactly_the_newest(void **state)
{
	(void)state;
	const size_t cap = 5000, total = 40000;
	struct dedup *d = dedup_new(cap);
	char id[64];
	for (size_t i = 0; i < total; i++) {
		snprintf(id, sizeof id, "contribution:%08zx-uuid", i);
		assert_true(dedup_insert(d, id));
	}
	assert_int_equal(dedup_count(d), cap);
	for (size_t i = 0; i < total; i++) {
		snprintf(id, sizeof id, "contribution:%08zx-uuid", i);
		assert_int_equal(dedup_contains(d, id), i >= total - cap);
	}
	dedup_destroy(&d);
}

static void large_ids_are_stored_whole(void **state)
{
	(void)state;
	struct dedup *d = dedup_new(8);
	char *big = malloc(100001);
	memset(big, 'q', 100000);
	big[100000] = '\0';
	assert_true(dedup_insert(d, big));
	big[99999] = 'r'; /* differs only in the last byte */
	assert_false(dedup_contains(d, big));
	assert_true(dedup_insert(d, big));
	assert_int_equal(dedup_count(d), 2);
	free(big);
	dedup_destroy(&d);
}

static void destroy_is_safe_on_null(void **state)
{
	(void)state;
	struct dedup *d = NULL;
	dedup_destroy(&d);
	dedup_destroy(NULL);
}

/* The key API and the id API are one set: a key computed once stands for its id. */
static void keys_and_ids_are_the_same_set(void **state)
{
	(void)state;
	struct dedup *d = dedup_new(4);
	struct dedup_key a = dedup_key("contribution:1"), b = dedup_key("contribution:1");

	assert_non_null(d);
	assert_true(a.fp == b.fp);
	assert_false(dedup_contains_key(d, a));
	assert_true(dedup_insert_key(d, a));
	assert_true(dedup_contains(d, "contribution:1"));
	assert_false(dedup_insert(d, "contribution:1"));
	assert_false(dedup_insert_key(d, b));
	assert_false(dedup_contains_key(d, dedup_key("contribution:2")));
	dedup_destroy(&d);
}

/* Against a plain model: fingerprints from a small range, so that most collide in a table
 * of 8 or 16 places, runs wrap around its end and the oldest is often in the middle of a
 * run when it goes (the gap must be closed, or later look-ups stop short). Every step is
 * checked for every fingerprint of the range. */
static void colliding_keys_behave_like_a_fifo_set(void **state)
{
	(void)state;
	for (size_t cap = 1; cap <= 12; cap++) {
		struct dedup *d = dedup_new(cap);
		uint64_t model[12];
		size_t n = 0;
		unsigned seed = 12345u + (unsigned)cap;

		for (int step = 0; step < 4000; step++) {
			seed = seed * 1103515245u + 12345u;
			/* 0..39: 0 stands for "1" (0 is the empty mark), homes collide mod 8/16 */
			uint64_t fp = (seed >> 16) % 40;
			uint64_t as = fp ? fp : 1;
			bool known = false;

			for (size_t i = 0; i < n; i++)
				known |= model[i] == as;
			assert_int_equal(dedup_insert_key(d, (struct dedup_key){fp}), !known);
			if (!known) {
				if (n == cap) {
					memmove(model, model + 1, (cap - 1) * sizeof *model);
					n--;
				}
				model[n++] = as;
			}
			assert_int_equal(dedup_count(d), n);
			for (uint64_t q = 1; q < 40; q++) {
				bool want = false;

				for (size_t i = 0; i < n; i++)
					want |= model[i] == q;
				assert_int_equal(dedup_contains_key(d, (struct dedup_key){q}),
						 want);
			}
		}
		dedup_destroy(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(insert_reports_new_then_duplicate),
	    cmocka_unit_test(keys_and_ids_are_the_same_set),
	    cmocka_unit_test(full_set_evicts_the_oldest_first),
	    cmocka_unit_test(duplicate_insert_does_not_refresh_or_evict),
	    cmocka_unit_test(capacity_one_keeps_the_last),
	    cmocka_unit_test(capacity_zero_is_refused),
	    cmocka_unit_test(many_ids_with_churn_keep_exactly_the_newest),
	    cmocka_unit_test(large_ids_are_stored_whole),
	    cmocka_unit_test(destroy_is_safe_on_null),
	    cmocka_unit_test(colliding_keys_behave_like_a_fifo_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
