/* test_budget.c: the sliding-window message budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "budget.h"

static void starts_with_the_whole_budget(void **state)
{
	struct budget *b = budget_new(3, 60000);
	(void)state;
	assert_non_null(b);
	assert_int_equal(budget_left(b, 0), 3);
	assert_int_equal(budget_wait_ms(b, 0), 0);
	budget_destroy(&b);
	assert_null(b);
	budget_destroy(&b); /* safe on NULL */
	assert_null(budget_new(0, 1000));
}

static void full_window_refuses_without_recording(void **state)
{
	struct budget *b = budget_new(3, 60000);
	(void)state;
	assert_int_equal(budget_take(b, 1000), 0);
	assert_int_equal(budget_take(b, 2000), 0);
	assert_int_equal(budget_take(b, 3000), 0);
	assert_int_equal(budget_left(b, 3000), 0);
	assert_int_equal(budget_take(b, 4000), -1);
	/* the refused take recorded nothing: the oldest send still decides */
	assert_int_equal(budget_wait_ms(b, 4000), 57000);
	assert_int_equal(budget_wait_ms(b, 60999), 1);
	assert_int_equal(budget_take(b, 60999), -1);
	budget_destroy(&b);
}

/* Sends leave the window one by one, exactly window_ms after they were made. */
static void sends_slide_out_of_the_window(void **state)
{
	struct budget *b = budget_new(3, 60000);
	(void)state;
	budget_take(b, 1000);
	budget_take(b, 2000);
	budget_take(b, 3000);
	assert_int_equal(budget_left(b, 60999), 0);
	assert_int_equal(budget_left(b, 61000), 1);
	assert_int_equal(budget_wait_ms(b, 61000), 0);
	assert_int_equal(budget_take(b, 61000), 0);
	assert_int_equal(budget_left(b, 61000), 0);
	assert_int_equal(budget_wait_ms(b, 61000), 1000); /* the send at 2000 is next out */
	assert_int_equal(budget_left(b, 63000), 2);
	assert_int_equal(budget_left(b, 200000), 3);
	budget_destroy(&b);
}

/* Unlike a bucket that starts full, no burst above the limit fits in any window. */
static void no_window_ever_holds_more_than_limit(void **state)
{
	struct budget *b = budget_new(55, 60000);
	uint64_t sent[2000];
	size_t n = 0;
	(void)state;
	for (uint64_t t = 0; t < 600000 && n < 2000; t += 250)
		if (budget_take(b, t) == 0)
			sent[n++] = t;
	for (size_t i = 55; i < n; i++)
		assert_true(sent[i] - sent[i - 55] >= 60000);
	assert_true(n >= 55 * 10);
	budget_destroy(&b);
}

static void clock_stepping_back_stays_safe(void **state)
{
	struct budget *b = budget_new(1, 1000);
	(void)state;
	assert_int_equal(budget_take(b, 5000), 0);
	assert_int_equal(budget_left(b, 4000), 0);
	assert_int_equal(budget_take(b, 4000), -1);
	assert_int_equal(budget_wait_ms(b, 4000), 1000);
	budget_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(starts_with_the_whole_budget),
	    cmocka_unit_test(full_window_refuses_without_recording),
	    cmocka_unit_test(sends_slide_out_of_the_window),
	    cmocka_unit_test(no_window_ever_holds_more_than_limit),
	    cmocka_unit_test(clock_stepping_back_stays_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
