/* test_dlist.c: the intrusive list the daemon's queues share: both ends, the middle,
 * removal from anywhere, getting back to the owning struct, and every link after each step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dlist.h"

struct thing {
	int before; /* the node is not the first member: dlist_entry must subtract */
	struct dlist_node link;
	int id;
};

/* Checks l holds exactly want[0..n-1] in order, walking it both ways. */
static void s_expect(const struct dlist *l, struct thing *const *want, size_t n)
{
	const struct dlist_node *prev = NULL, *at = l->head;
	size_t i;

	assert_int_equal(l->count, n);
	for (i = 0; i < n; i++) {
		assert_non_null(at);
		assert_ptr_equal(dlist_entry(at, struct thing, link), want[i]);
		assert_ptr_equal(at->prev, prev);
		prev = at;
		at = at->next;
	}
	assert_null(at);
	assert_ptr_equal(l->tail, prev);
	for (i = n, at = l->tail; i > 0; i--, at = at->prev)
		assert_ptr_equal(dlist_entry(at, struct thing, link), want[i - 1]);
	assert_null(at);
}

static void a_zeroed_list_is_empty(void **state)
{
	struct dlist l = {0};

	(void)state;
	s_expect(&l, NULL, 0);
}

static void pushes_at_both_ends(void **state)
{
	struct dlist l = {0};
	struct thing a = {.id = 1}, b = {.id = 2}, c = {.id = 3};

	(void)state;
	dlist_push_back(&l, &a.link);
	s_expect(&l, (struct thing *[]){&a}, 1);
	dlist_push_back(&l, &b.link);
	dlist_push_front(&l, &c.link);
	s_expect(&l, (struct thing *[]){&c, &a, &b}, 3);
}

static void inserts_before_any_node(void **state)
{
	struct dlist l = {0};
	struct thing a = {.id = 1}, b = {.id = 2}, c = {.id = 3}, d = {.id = 4};

	(void)state;
	dlist_insert_before(&l, NULL, &a.link); /* NULL appends, to an empty list too */
	dlist_insert_before(&l, &a.link, &b.link);
	dlist_insert_before(&l, &a.link, &c.link);
	dlist_insert_before(&l, NULL, &d.link);
	s_expect(&l, (struct thing *[]){&b, &c, &a, &d}, 4);
}

static void removes_from_anywhere(void **state)
{
	struct dlist l = {0};
	struct thing t[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thing){.id = i};
		dlist_push_back(&l, &t[i].link);
	}
	dlist_remove(&l, &t[1].link); /* middle */
	s_expect(&l, (struct thing *[]){&t[0], &t[2], &t[3]}, 3);
	assert_null(t[1].link.prev);
	assert_null(t[1].link.next);
	dlist_remove(&l, &t[0].link); /* head */
	s_expect(&l, (struct thing *[]){&t[2], &t[3]}, 2);
	dlist_remove(&l, &t[3].link); /* tail */
	s_expect(&l, (struct thing *[]){&t[2]}, 1);
	dlist_remove(&l, &t[2].link); /* the last one */
	s_expect(&l, NULL, 0);
	dlist_push_front(&l, &t[1].link); /* a removed node links again */
	s_expect(&l, (struct thing *[]){&t[1]}, 1);
}

static void entry_finds_the_owner(void **state)
{
	struct thing a = {.id = 7};

	(void)state;
	assert_ptr_equal(dlist_entry(&a.link, struct thing, link), &a);
	assert_int_equal(dlist_entry(&a.link, struct thing, link)->id, 7);
}

static void first_is_the_head_entry_or_null(void **state)
{
	struct dlist l = {0};
	struct thing a = {.id = 1}, b = {.id = 2};

	(void)state;
	assert_null(dlist_first(&l, struct thing, link));
	dlist_push_back(&l, &a.link);
	dlist_push_front(&l, &b.link);
	assert_ptr_equal(dlist_first(&l, struct thing, link), &b);
	dlist_remove(&l, &b.link);
	assert_ptr_equal(dlist_first(&l, struct thing, link), &a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_zeroed_list_is_empty),
	    cmocka_unit_test(pushes_at_both_ends),
	    cmocka_unit_test(inserts_before_any_node),
	    cmocka_unit_test(removes_from_anywhere),
	    cmocka_unit_test(entry_finds_the_owner),
	    cmocka_unit_test(first_is_the_head_entry_or_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
