/* test_backoff.c: reconnect delays stay within their bounds for every input. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "backoff.h"

static const struct backoff_policy P = {500, 60000};

/* A small deterministic generator: the tests must be repeatable. */
static uint32_t s_rng = 12345;
static uint32_t rnd(void)
{
	s_rng ^= s_rng << 13;
	s_rng ^= s_rng >> 17;
	s_rng ^= s_rng << 5;
	return s_rng;
}

static void normal_is_within_full_jitter_window(void **state)
{
	(void)state;
	for (uint32_t attempt = 0; attempt < 40; attempt++) {
		uint64_t window = attempt < 20 ? (uint64_t)500 << attempt : 60000;
		if (window > 60000)
			window = 60000;
		for (int i = 0; i < 2000; i++)
			assert_true(backoff_delay_ms(&P, BACKOFF_NORMAL, attempt, rnd()) <= window);
	}
}

static void normal_reaches_both_ends(void **state)
{
	(void)state;
	assert_int_equal(backoff_delay_ms(&P, BACKOFF_NORMAL, 0, 0), 0);
	assert_int_equal(backoff_delay_ms(&P, BACKOFF_NORMAL, 0, UINT32_MAX), 500);
	assert_int_equal(backoff_delay_ms(&P, BACKOFF_NORMAL, 3, UINT32_MAX), 4000);
	assert_int_equal(backoff_delay_ms(&P, BACKOFF_NORMAL, 30, UINT32_MAX), 60000);
}

static void huge_attempt_does_not_overflow(void **state)
{
	(void)state;
	uint32_t attempts[] = {31, 32, 33, 63, 64, 1000, UINT32_MAX};
	for (size_t i = 0; i < sizeof attempts / sizeof attempts[0]; i++) {
		assert_int_equal(backoff_delay_ms(&P, BACKOFF_NORMAL, attempts[i], UINT32_MAX),
				 60000);
		for (int k = 0; k < 1000; k++)
			assert_true(backoff_delay_ms(&P, BACKOFF_NORMAL, attempts[i], rnd()) <=
				    60000);
	}
}

static void auth_and_superseded_wait_cap_plus_at_most_a_quarter(void **state)
{
	(void)state;
	enum backoff_reason rs[] = {BACKOFF_AUTH, BACKOFF_SUPERSEDED};
	for (int r = 0; r < 2; r++) {
		for (int i = 0; i < 5000; i++) {
			uint32_t d = backoff_delay_ms(&P, rs[r], (uint32_t)i * 7, rnd());
			assert_true(d >= 60000);
			assert_true(d <= 75000);
		}
		assert_int_equal(backoff_delay_ms(&P, rs[r], 1000, 0), 60000);
		assert_int_equal(backoff_delay_ms(&P, rs[r], 1000, UINT32_MAX), 75000);
	}
}

static void rate_waits_at_least_a_minute_even_with_small_cap(void **state)
{
	(void)state;
	struct backoff_policy small = {10, 1000};
	for (int i = 0; i < 5000; i++) {
		uint32_t d = backoff_delay_ms(&small, BACKOFF_RATE, 1000, rnd());
		assert_true(d >= 60000 && d <= 75000);
	}
	struct backoff_policy big = {500, 3600000};
	assert_int_equal(backoff_delay_ms(&big, BACKOFF_RATE, 0, 0), 3600000);
	assert_int_equal(backoff_delay_ms(&big, BACKOFF_RATE, 0, UINT32_MAX), 4500000);
}

static void extreme_policy_saturates(void **state)
{
	(void)state;
	struct backoff_policy ext = {UINT32_MAX, UINT32_MAX};
	assert_true(backoff_delay_ms(&ext, BACKOFF_AUTH, 0, UINT32_MAX) == UINT32_MAX);
	assert_true(backoff_delay_ms(&ext, BACKOFF_NORMAL, 1000, UINT32_MAX) == UINT32_MAX);
}

static void close_codes_map_to_reasons(void **state)
{
	(void)state;
	assert_int_equal(backoff_reason_for_close(4001), BACKOFF_AUTH);
	assert_int_equal(backoff_reason_for_close(4000), BACKOFF_SUPERSEDED);
	assert_int_equal(backoff_reason_for_close(4008), BACKOFF_RATE);
	assert_int_equal(backoff_reason_for_close(1011), BACKOFF_NORMAL);
	assert_int_equal(backoff_reason_for_close(0), BACKOFF_NORMAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(normal_is_within_full_jitter_window),
	    cmocka_unit_test(normal_reaches_both_ends),
	    cmocka_unit_test(huge_attempt_does_not_overflow),
	    cmocka_unit_test(auth_and_superseded_wait_cap_plus_at_most_a_quarter),
	    cmocka_unit_test(rate_waits_at_least_a_minute_even_with_small_cap),
	    cmocka_unit_test(extreme_policy_saturates),
	    cmocka_unit_test(close_codes_map_to_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
