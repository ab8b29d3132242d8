/* timerq.c: deadlines in order (see timerq.h). */
#include "timerq.h"

void timerq_remove(struct timer *t)
{
	if (!t->q)
		return;
	dlist_remove(&t->q->list, &t->link);
	t->q = NULL;
}

void timerq_insert(struct timerq *q, struct timer *t, uint64_t due_us, timer_fn fn)
{
	struct dlist_node *at;

	timerq_remove(t); /* first: t may be the head the walk starts from */
	for (at = q->list.head; at; at = at->next)
		if (dlist_entry(at, struct timer, link)->due_us > due_us)
			break;
	t->due_us = due_us;
	t->fn = fn;
	t->q = q;
	dlist_insert_before(&q->list, at, &t->link);
}

struct timer *timerq_pop_due(struct timerq *q, uint64_t now_us)
{
	struct timer *t = timerq_first(q);

	if (!t || t->due_us > now_us)
		return NULL;
	timerq_remove(t);
	return t;
}

bool timerq_next_due(const struct timerq *q, uint64_t *due_us)
{
	const struct timer *t = timerq_first(q);

	if (!t)
		return false;
	*due_us = t->due_us;
	return true;
}
