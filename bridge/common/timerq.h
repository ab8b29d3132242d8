/* timerq.h: deadlines in order: the queue under the daemon's timers (daemon/timers.c).
 *
 * Intrusive: a struct timer lives inside the struct of whoever owns it, and the queue never
 * allocates, so starting and stopping a timer cannot fail. Few timers are ever queued at once
 * (a dozen: keep-alive, back-off, deadlines), so a sorted list is the right structure. */
#ifndef PP_TIMERQ_H
#define PP_TIMERQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlist.h"

struct timer;
typedef void (*timer_fn)(struct timer *t);

/* Zero-initialised = not queued. The fields are the queue's: owners only read due_us. */
struct timer {
	struct dlist_node link;
	struct timerq *q; /* NULL while not queued */
	uint64_t due_us;  /* CLOCK_MONOTONIC microseconds, while queued */
	timer_fn fn;
};

/* Zero-initialised = empty. */
struct timerq {
	struct dlist list; /* earliest deadline first */
};

/* Queue t for due_us (re-queueing it if it was queued, in this or another queue). Timers
 * with equal deadlines keep the order they were queued in. */
void timerq_insert(struct timerq *q, struct timer *t, uint64_t due_us, timer_fn fn);

/* Take t out of its queue; nothing happens when it is not queued. */
void timerq_remove(struct timer *t);

/* The earliest timer due at or before now_us, taken out of the queue; NULL when none is. */
struct timer *timerq_pop_due(struct timerq *q, uint64_t now_us);

/* The earliest deadline in *due_us; false when the queue is empty. */
bool timerq_next_due(const struct timerq *q, uint64_t *due_us);

/* The timer with the earliest deadline, still queued; NULL when the queue is empty. */
static inline struct timer *timerq_first(const struct timerq *q)
{
	return dlist_first(&q->list, struct timer, link);
}

static inline size_t timerq_count(const struct timerq *q)
{
	return q->list.count;
}

static inline bool timer_queued(const struct timer *t)
{
	return t->q != NULL;
}

#endif
