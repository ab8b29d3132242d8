/* test_fairq.c: the round-robin queue of client requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "fairq.h"
#include "pp_err.h"

#include <string.h>

static int s_items[64];

static void *s_it(int i)
{
	s_items[i] = i;
	return &s_items[i];
}

static int s_pop(struct fairq *q)
{
	int *p = fairq_pop(q);
	return p ? *p : -1;
}

static void empty_queue(void **state)
{
	struct fairq *q = fairq_new(0);
	(void)state;
	assert_null(fairq_pop(q));
	assert_null(fairq_peek(q));
	assert_int_equal(fairq_count(q), 0);
	fairq_destroy(&q);
	assert_null(q);
	fairq_destroy(&q);
}

/* A noisy client's backlog does not delay a quiet client's one request. */
static void clients_are_served_in_turn(void **state)
{
	struct fairq *q = fairq_new(0);
	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(fairq_push(q, "A", 1, s_it(i)), 0);
	assert_int_equal(fairq_push(q, "B", 1, s_it(10)), 0);
	assert_int_equal(fairq_push(q, "C\0x", 3, s_it(20)), 0);
	assert_int_equal(fairq_push(q, "C\0y", 3, s_it(30)), 0); /* identity is bytes */
	assert_int_equal(fairq_count(q), 8);
	assert_int_equal(*(int *)fairq_peek(q), 0);
	assert_int_equal(s_pop(q), 0);
	assert_int_equal(s_pop(q), 10);
	assert_int_equal(s_pop(q), 20);
	assert_int_equal(s_pop(q), 30);
	assert_int_equal(s_pop(q), 1);
	assert_int_equal(fairq_push(q, "B", 1, s_it(11)), 0); /* B rejoins at the round's end */
	assert_int_equal(s_pop(q), 2);
	assert_int_equal(s_pop(q), 11);
	assert_int_equal(s_pop(q), 3);
	assert_int_equal(s_pop(q), 4);
	assert_int_equal(s_pop(q), -1);
	assert_int_equal(fairq_count(q), 0);
	fairq_destroy(&q);
}

static void quota_is_per_client(void **state)
{
	struct fairq *q = fairq_new(2);
	(void)state;
	assert_int_equal(fairq_push(q, "A", 1, s_it(0)), 0);
	assert_int_equal(fairq_push(q, "A", 1, s_it(1)), 0);
	assert_int_equal(fairq_push(q, "A", 1, s_it(2)), PP_ETOOBIG);
	assert_int_equal(fairq_push(q, "B", 1, s_it(3)), 0);
	assert_int_equal(s_pop(q), 0);
	assert_int_equal(fairq_push(q, "A", 1, s_it(2)), 0);
	assert_int_equal(fairq_count(q), 3);
	fairq_destroy(&q); /* frees nodes, not items */
}

static bool s_is_odd(void *item, void *ud)
{
	(void)ud;
	return (*(int *)item) % 2 == 1;
}

struct done_log {
	struct fairq *q;
	int seen[16];
	int n;
};

static void s_done(void *item, void *ud)
{
	struct done_log *d = ud;
	d->seen[d->n++] = *(int *)item;
	/* the queue is consistent while done runs: using it is allowed */
	assert_true(fairq_count(d->q) < 100);
	if (*(int *)item == 1)
		assert_int_equal(fairq_push(d->q, "D", 1, s_it(40)), 0);
}

static void remove_if_keeps_order_of_the_rest(void **state)
{
	struct fairq *q = fairq_new(0);
	struct done_log d = {.q = q};
	(void)state;
	fairq_push(q, "A", 1, s_it(0));
	fairq_push(q, "A", 1, s_it(1));
	fairq_push(q, "A", 1, s_it(2));
	fairq_push(q, "B", 1, s_it(3));
	fairq_push(q, "C", 1, s_it(4));
	fairq_push(q, "C", 1, s_it(5));
	assert_int_equal(fairq_remove_if(q, s_is_odd, s_done, &d), 3);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.seen[0] + d.seen[1] + d.seen[2], 1 + 3 + 5);
	assert_int_equal(fairq_count(q), 4); /* 0, 2, 4 and the 40 pushed from done */
	assert_int_equal(s_pop(q), 0);
	assert_int_equal(s_pop(q), 4);
	assert_int_equal(s_pop(q), 40);
	assert_int_equal(s_pop(q), 2);
	assert_int_equal(s_pop(q), -1);
	fairq_destroy(&q);
}

static bool s_all(void *item, void *ud)
{
	(void)item;
	(void)ud;
	return true;
}

static void remove_everything(void **state)
{
	struct fairq *q = fairq_new(0);
	(void)state;
	for (int i = 0; i < 10; i++)
		fairq_push(q, (i % 3) ? "X" : "Y", 1, s_it(i));
	assert_int_equal(fairq_remove_if(q, s_all, NULL, NULL), 10);
	assert_int_equal(fairq_count(q), 0);
	assert_null(fairq_peek(q));
	assert_int_equal(fairq_remove_if(q, s_all, NULL, NULL), 0);
	assert_int_equal(fairq_push(q, "X", 1, s_it(1)), 0);
	assert_int_equal(s_pop(q), 1);
	fairq_destroy(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(empty_queue),
	    cmocka_unit_test(clients_are_served_in_turn),
	    cmocka_unit_test(quota_is_per_client),
	    cmocka_unit_test(remove_if_keeps_order_of_the_rest),
	    cmocka_unit_test(remove_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
