/* budget.c: the upstream message budget as a sliding window (pure; the caller passes time).
 *
 * The server counts client messages in any rolling 60 s and closes with 4008 past 60, so
 * a token bucket that starts full would allow a burst the server refuses. We remember the
 * times of the last `limit` sends instead: a new send is allowed when the oldest of them
 * has left the window. */
#include "budget.h"

#include <stdlib.h>

struct budget {
	uint32_t limit;
	uint32_t window_ms;
	uint32_t count; /* sends remembered, <= limit */
	uint32_t head;	/* index of the oldest remembered send */
	uint64_t times[];
};

struct budget *budget_new(uint32_t limit, uint32_t window_ms)
{
	struct budget *b;
	if (limit == 0)
		return NULL;
	b = calloc(1, sizeof *b + (size_t)limit * sizeof b->times[0]);
	if (b == NULL)
		return NULL;
	b->limit = limit;
	b->window_ms = window_ms;
	return b;
}

void budget_destroy(struct budget **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	free(*self_p);
	*self_p = NULL;
}

/* Is a send made at t still counted at now? (A clock that steps back counts as "yes".) */
static int s_in_window(const struct budget *b, uint64_t t, uint64_t now_ms)
{
	return now_ms < t || now_ms - t < b->window_ms;
}

static uint32_t s_used(const struct budget *b, uint64_t now_ms)
{
	uint32_t used = 0;
	for (uint32_t i = 0; i < b->count; i++)
		if (s_in_window(b, b->times[(b->head + i) % b->limit], now_ms))
			used++;
	return used;
}

uint32_t budget_left(const struct budget *b, uint64_t now_ms)
{
	return b->limit - s_used(b, now_ms);
}

int budget_take(struct budget *b, uint64_t now_ms)
{
	if (b->count < b->limit) {
		b->times[(b->head + b->count) % b->limit] = now_ms;
		b->count++;
		return 0;
	}
	/* full ring: the oldest send must have left the window; it is replaced */
	if (s_in_window(b, b->times[b->head], now_ms))
		return -1;
	b->times[b->head] = now_ms;
	b->head = (b->head + 1) % b->limit;
	return 0;
}

uint64_t budget_wait_ms(const struct budget *b, uint64_t now_ms)
{
	uint64_t oldest;
	if (b->count < b->limit)
		return 0;
	oldest = b->times[b->head];
	if (!s_in_window(b, oldest, now_ms))
		return 0;
	if (now_ms < oldest) /* clock stepped back: wait a whole window from the send */
		return b->window_ms;
	return oldest + b->window_ms - now_ms;
}
