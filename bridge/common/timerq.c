/* timerq.c: deadlines in order (see timerq.h). */
#include "timerq.h"

void timerq_remove(struct timer *t)
{
	struct timerq *q = t->q;

	if (!q)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		q->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->q = NULL;
	q->count--;
}

void timerq_insert(struct timerq *q, struct timer *t, uint64_t due_us, timer_fn fn)
{
	struct timer *at, *before = NULL;

	timerq_remove(t); /* first: t may be the head the walk starts from */
	at = q->head;
	while (at && at->due_us <= due_us) {
		before = at;
		at = at->next;
	}
	t->due_us = due_us;
	t->fn = fn;
	t->q = q;
	t->prev = before;
	t->next = at;
	if (before)
		before->next = t;
	else
		q->head = t;
	if (at)
		at->prev = t;
	q->count++;
}

struct timer *timerq_pop_due(struct timerq *q, uint64_t now_us)
{
	struct timer *t = q->head;

	if (!t || t->due_us > now_us)
		return NULL;
	timerq_remove(t);
	return t;
}

bool timerq_next_due(const struct timerq *q, uint64_t *due_us)
{
	if (!q->head)
		return false;
	*due_us = q->head->due_us;
	return true;
}
