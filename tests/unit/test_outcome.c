/* test_outcome.c: the bounded outcome log (idempotency and "outcome"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "outcome.h"

#include <stdio.h>

static void begin_is_idempotent(void **state)
{
	struct outcome_log *log = outcome_log_new(4);
	enum outcome_state st;
	const char *reply = "x";
	(void)state;
	assert_int_equal(outcome_log_begin(log, "a"), 0);
	assert_int_equal(outcome_log_begin(log, "a"), 1);
	assert_int_equal(outcome_log_get(log, "a", &st, &reply), 0);
	assert_int_equal(st, OUTCOME_IN_FLIGHT);
	assert_null(reply);
	assert_int_equal(outcome_log_get(log, "b", &st, &reply), -1);
	outcome_log_destroy(&log);
	assert_null(log);
	outcome_log_destroy(&log);
}

static void finish_stores_a_copy_of_the_reply(void **state)
{
	struct outcome_log *log = outcome_log_new(4);
	enum outcome_state st;
	const char *reply;
	char buf[32];
	(void)state;
	outcome_log_begin(log, "a");
	snprintf(buf, sizeof buf, "{\"ok\":true}");
	outcome_log_finish(log, "a", OUTCOME_CONFIRMED, buf);
	buf[0] = 'X';
	assert_int_equal(outcome_log_get(log, "a", &st, &reply), 0);
	assert_int_equal(st, OUTCOME_CONFIRMED);
	assert_string_equal(reply, "{\"ok\":true}");
	assert_int_equal(outcome_log_begin(log, "a"), 1);	 /* still known: not sent twice */
	outcome_log_finish(log, "nope", OUTCOME_REJECTED, "{}"); /* no-op */
	assert_int_equal(outcome_log_get(log, "nope", &st, &reply), -1);
	outcome_log_destroy(&log);
}

static void forget_allows_a_retry(void **state)
{
	struct outcome_log *log = outcome_log_new(4);
	(void)state;
	outcome_log_begin(log, "a");
	outcome_log_forget(log, "a");
	assert_int_equal(outcome_log_get(log, "a", NULL, NULL), -1);
	assert_int_equal(outcome_log_begin(log, "a"), 0);
	outcome_log_forget(log, "zzz");
	outcome_log_destroy(&log);
}

static void full_log_evicts_the_oldest_finished(void **state)
{
	struct outcome_log *log = outcome_log_new(3);
	(void)state;
	outcome_log_begin(log, "a");
	outcome_log_begin(log, "b");
	outcome_log_begin(log, "c");
	outcome_log_finish(log, "b", OUTCOME_REJECTED, "{}");
	outcome_log_finish(log, "c", OUTCOME_UNKNOWN, "{}");
	assert_int_equal(outcome_log_begin(log, "d"), 0);
	/* a is in flight and older, but only finished entries go: b goes */
	assert_int_equal(outcome_log_get(log, "a", NULL, NULL), 0);
	assert_int_equal(outcome_log_get(log, "b", NULL, NULL), -1);
	assert_int_equal(outcome_log_get(log, "c", NULL, NULL), 0);
	assert_int_equal(outcome_log_get(log, "d", NULL, NULL), 0);
	outcome_log_destroy(&log);
}

static void all_in_flight_grows(void **state)
{
	struct outcome_log *log = outcome_log_new(2);
	char id[16];
	(void)state;
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof id, "id-%d", i);
		assert_int_equal(outcome_log_begin(log, id), 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(id, sizeof id, "id-%d", i);
		assert_int_equal(outcome_log_get(log, id, NULL, NULL), 0);
		outcome_log_finish(log, id, OUTCOME_CONFIRMED, "{}");
	}
	/* now finished: new ids evict old ones, so the log shrinks back over time */
	assert_int_equal(outcome_log_begin(log, "new"), 0);
	assert_int_equal(outcome_log_get(log, "id-0", NULL, NULL), -1);
	assert_int_equal(outcome_log_get(log, "id-1", NULL, NULL), 0);
	outcome_log_destroy(&log);
}

static void bounded_under_churn(void **state)
{
	struct outcome_log *log = outcome_log_new(100);
	char id[16];
	int known = 0;
	(void)state;
	for (int i = 0; i < 10000; i++) {
		snprintf(id, sizeof id, "k%d", i);
		assert_int_equal(outcome_log_begin(log, id), 0);
		outcome_log_finish(log, id, OUTCOME_CONFIRMED, "{\"ok\":true}");
	}
	for (int i = 0; i < 10000; i++) {
		snprintf(id, sizeof id, "k%d", i);
		known += outcome_log_get(log, id, NULL, NULL) == 0;
	}
	assert_int_equal(known, 100);
	assert_int_equal(outcome_log_get(log, "k9999", NULL, NULL), 0);
	outcome_log_destroy(&log);
}

static void state_names(void **state)
{
	(void)state;
	assert_string_equal(outcome_state_name(OUTCOME_IN_FLIGHT), "in_flight");
	assert_string_equal(outcome_state_name(OUTCOME_CONFIRMED), "confirmed");
	assert_string_equal(outcome_state_name(OUTCOME_REJECTED), "rejected");
	assert_string_equal(outcome_state_name(OUTCOME_UNKNOWN), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(begin_is_idempotent),
	    cmocka_unit_test(finish_stores_a_copy_of_the_reply),
	    cmocka_unit_test(forget_allows_a_retry),
	    cmocka_unit_test(full_log_evicts_the_oldest_finished),
	    cmocka_unit_test(all_in_flight_grows),
	    cmocka_unit_test(bounded_under_churn),
	    cmocka_unit_test(state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
