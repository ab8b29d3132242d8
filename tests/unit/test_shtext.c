/* test_shtext.c: reference-counted text: the last reference frees it, in the owner thread
 * or through the bin when another thread drops it last; the bin takes drops from several
 * threads at once and loses none. Leaks and double frees are ASan's and valgrind's to
 * catch: every test ends with nothing allocated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "shtext.h"

static void a_copy_is_nul_terminated_and_aligned(void **state)
{
	char *t = shtext_dup("hello, world", 5);

	(void)state;
	assert_non_null(t);
	assert_string_equal(t, "hello");
	assert_int_equal((uintptr_t)t % 16, 0); /* malloc's alignment, header included */
	shtext_unref(t);
	shtext_unref(NULL); /* a no-op */
}

static void resizing_keeps_what_was_written(void **state)
{
	char *t = shtext_new(4);

	(void)state;
	memcpy(t, "abc", 4);
	t = shtext_resize(t, 100000);
	assert_non_null(t);
	assert_string_equal(t, "abc");
	t = shtext_resize(t, 4);
	assert_string_equal(t, "abc");
	shtext_unref(t);
}

static void the_last_of_several_references_frees_it(void **state)
{
	char *t = shtext_dup("x", 1);
	struct shtext_bin *bin = shtext_bin_new();

	(void)state;
	assert_ptr_equal(shtext_ref(t), t);
	shtext_ref(t);
	shtext_unref(t);
	shtext_unref_into(t, bin); /* not the last: nothing goes into the bin */
	assert_string_equal(t, "x");
	assert_int_equal(shtext_bin_empty(bin), 0);
	shtext_unref(t);
	shtext_bin_destroy(&bin);
	assert_null(bin);
}

static void dropped_last_elsewhere_it_waits_in_the_bin(void **state)
{
	struct shtext_bin *bin = shtext_bin_new();
	char *a = shtext_dup("a", 1), *b = shtext_dup("b", 1);

	(void)state;
	shtext_ref(a);
	shtext_unref(a);	   /* the owner's reference */
	shtext_unref_into(a, bin); /* the other thread's, the last */
	shtext_unref_into(b, bin);
	assert_int_equal(shtext_bin_empty(bin), 2);
	assert_int_equal(shtext_bin_empty(bin), 0);
	shtext_unref_into(shtext_dup("c", 1), bin);
	shtext_bin_destroy(&bin); /* frees what still waits */
}

#define THREADS	   4
#define PER_THREAD 20000

struct dropper {
	struct shtext_bin *bin;
	char **texts;
};

static void *s_drop_all(void *arg)
{
	struct dropper *d = arg;

	for (int i = 0; i < PER_THREAD; i++)
		shtext_unref_into(d->texts[i], d->bin);
	return NULL;
}

static void the_bin_loses_nothing_to_concurrent_drops(void **state)
{
	static char *texts[THREADS][PER_THREAD];
	struct dropper d[THREADS];
	pthread_t th[THREADS];
	struct shtext_bin *bin = shtext_bin_new();
	size_t freed = 0;

	(void)state;
	for (int t = 0; t < THREADS; t++) {
		for (int i = 0; i < PER_THREAD; i++)
			texts[t][i] = shtext_dup("envelope", 8);
		d[t] = (struct dropper){bin, texts[t]};
	}
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, s_drop_all, &d[t]), 0);
	while (freed < 1000) /* the owner empties while the others still drop */
		freed += shtext_bin_empty(bin);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	freed += shtext_bin_empty(bin);
	assert_int_equal(freed, THREADS * PER_THREAD);
	shtext_bin_destroy(&bin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_copy_is_nul_terminated_and_aligned),
	    cmocka_unit_test(resizing_keeps_what_was_written),
	    cmocka_unit_test(the_last_of_several_references_frees_it),
	    cmocka_unit_test(dropped_last_elsewhere_it_waits_in_the_bin),
	    cmocka_unit_test(the_bin_loses_nothing_to_concurrent_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
