/* test_timerq.c: the deadline queue under the daemon's timers: order, ties, re-queueing,
 * removal from anywhere, and popping only what is due. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "timerq.h"

static void s_fn(struct timer *t)
{
	(void)t;
}

/* Pops everything due at now into out[] (at most n); returns how many. */
static size_t s_pop_all(struct timerq *q, uint64_t now, struct timer **out, size_t n)
{
	size_t k = 0;
	struct timer *t;

	while (k < n && (t = timerq_pop_due(q, now)))
		out[k++] = t;
	return k;
}

/* Walks q both ways: every link consistent, sorted, count right. */
static void s_check_links(const struct timerq *q)
{
	const struct dlist_node *prev = NULL;
	size_t n = 0;

	for (const struct dlist_node *l = q->list.head; l; l = l->next) {
		const struct timer *t = dlist_entry(l, const struct timer, link);

		assert_ptr_equal(l->prev, prev);
		assert_ptr_equal(t->q, q);
		if (prev)
			assert_true(dlist_entry(prev, const struct timer, link)->due_us <=
				    t->due_us);
		prev = l;
		assert_true(++n <= timerq_count(q));
	}
	assert_ptr_equal(q->list.tail, prev);
	assert_int_equal(n, timerq_count(q));
}

static void pops_in_deadline_order(void **state)
{
	struct timerq q = {0};
	struct timer a = {0}, b = {0}, c = {0}, *got[4];
	uint64_t due = 0;

	(void)state;
	timerq_insert(&q, &a, 300, s_fn);
	timerq_insert(&q, &b, 100, s_fn);
	timerq_insert(&q, &c, 200, s_fn);
	assert_int_equal(timerq_count(&q), 3);
	assert_true(timerq_next_due(&q, &due));
	assert_int_equal(due, 100);
	assert_int_equal(s_pop_all(&q, 1000, got, 4), 3);
	assert_ptr_equal(got[0], &b);
	assert_ptr_equal(got[1], &c);
	assert_ptr_equal(got[2], &a);
	assert_int_equal(timerq_count(&q), 0);
	assert_false(timerq_next_due(&q, &due));
	assert_false(timer_queued(&a));
}

static void equal_deadlines_keep_queue_order(void **state)
{
	struct timerq q = {0};
	struct timer a = {0}, b = {0}, c = {0}, *got[4];

	(void)state;
	timerq_insert(&q, &a, 50, s_fn);
	timerq_insert(&q, &b, 50, s_fn);
	timerq_insert(&q, &c, 50, s_fn);
	assert_int_equal(s_pop_all(&q, 50, got, 4), 3);
	assert_ptr_equal(got[0], &a);
	assert_ptr_equal(got[1], &b);
	assert_ptr_equal(got[2], &c);
}

static void pops_nothing_before_the_deadline(void **state)
{
	struct timerq q = {0};
	struct timer a = {0}, b = {0}, *got[2];

	(void)state;
	timerq_insert(&q, &a, 100, s_fn);
	timerq_insert(&q, &b, 101, s_fn);
	assert_null(timerq_pop_due(&q, 99));
	assert_int_equal(s_pop_all(&q, 100, got, 2), 1); /* due at 100 means due at 100 */
	assert_ptr_equal(got[0], &a);
	assert_true(timer_queued(&b));
	assert_int_equal(timerq_count(&q), 1);
}

static void requeueing_moves_the_deadline(void **state)
{
	struct timerq q = {0};
	struct timer a = {0}, b = {0}, *got[2];
	uint64_t due = 0;

	(void)state;
	timerq_insert(&q, &a, 100, s_fn);
	timerq_insert(&q, &b, 200, s_fn);
	timerq_insert(&q, &a, 300, s_fn); /* later: b is now first */
	assert_int_equal(timerq_count(&q), 2);
	assert_true(timerq_next_due(&q, &due));
	assert_int_equal(due, 200);
	timerq_insert(&q, &a, 10, s_fn); /* earlier again */
	s_check_links(&q);
	assert_int_equal(s_pop_all(&q, 1000, got, 2), 2);
	assert_ptr_equal(got[0], &a);
	assert_ptr_equal(got[1], &b);
}

static void requeueing_the_head_keeps_the_list_whole(void **state)
{
	struct timerq q = {0};
	struct timer a = {0}, b = {0}, c = {0}, *got[3];

	(void)state;
	timerq_insert(&q, &a, 100, s_fn);
	timerq_insert(&q, &a, 150, s_fn); /* the only one, later */
	s_check_links(&q);
	timerq_insert(&q, &b, 200, s_fn);
	timerq_insert(&q, &c, 300, s_fn);
	timerq_insert(&q, &a, 250, s_fn); /* the head, to the middle */
	s_check_links(&q);
	timerq_insert(&q, &b, 400, s_fn); /* the head, to the end */
	s_check_links(&q);
	timerq_insert(&q, &a, 250, s_fn); /* the head, to where it was */
	s_check_links(&q);
	timerq_insert(&q, &b, 1, s_fn); /* the tail, to the head */
	s_check_links(&q);
	assert_int_equal(s_pop_all(&q, 1000, got, 3), 3);
	assert_ptr_equal(got[0], &b);
	assert_ptr_equal(got[1], &a);
	assert_ptr_equal(got[2], &c);
}

static void requeueing_into_another_queue_leaves_the_first(void **state)
{
	struct timerq q1 = {0}, q2 = {0};
	struct timer a = {0};

	(void)state;
	timerq_insert(&q1, &a, 100, s_fn);
	timerq_insert(&q2, &a, 100, s_fn);
	assert_int_equal(timerq_count(&q1), 0);
	assert_null(timerq_first(&q1));
	assert_int_equal(timerq_count(&q2), 1);
	assert_ptr_equal(a.q, &q2);
}

static void removes_from_head_middle_and_tail(void **state)
{
	struct timerq q = {0};
	struct timer t[5] = {0}, *got[5];

	(void)state;
	for (int i = 0; i < 5; i++)
		timerq_insert(&q, &t[i], (uint64_t)(i + 1) * 10, s_fn);
	timerq_remove(&t[0]); /* head */
	timerq_remove(&t[2]); /* middle */
	timerq_remove(&t[4]); /* tail */
	timerq_remove(&t[4]); /* again: nothing happens */
	s_check_links(&q);
	assert_int_equal(timerq_count(&q), 2);
	assert_int_equal(s_pop_all(&q, 1000, got, 5), 2);
	assert_ptr_equal(got[0], &t[1]);
	assert_ptr_equal(got[1], &t[3]);
	assert_null(timerq_first(&q));
}

static void removing_an_unqueued_timer_is_harmless(void **state)
{
	struct timer a = {0};

	(void)state;
	timerq_remove(&a);
	assert_false(timer_queued(&a));
}

static void keeps_the_callback_and_deadline(void **state)
{
	struct timerq q = {0};
	struct timer a = {0};

	(void)state;
	timerq_insert(&q, &a, 1234, s_fn);
	assert_ptr_equal(a.fn, s_fn);
	assert_int_equal(a.due_us, 1234);
	assert_ptr_equal(timerq_pop_due(&q, UINT64_MAX), &a);
	assert_null(a.link.prev);
	assert_null(a.link.next);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pops_in_deadline_order),
	    cmocka_unit_test(equal_deadlines_keep_queue_order),
	    cmocka_unit_test(pops_nothing_before_the_deadline),
	    cmocka_unit_test(requeueing_moves_the_deadline),
	    cmocka_unit_test(requeueing_the_head_keeps_the_list_whole),
	    cmocka_unit_test(requeueing_into_another_queue_leaves_the_first),
	    cmocka_unit_test(removes_from_head_middle_and_tail),
	    cmocka_unit_test(removing_an_unqueued_timer_is_harmless),
	    cmocka_unit_test(keeps_the_callback_and_deadline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
