/* ring.c: the replay ring of recent envelopes, ordered by seq (pure).
 *
 * A circular array of envelopes (shtext.h: the ring holds one reference to each); seq
 * grows strictly, so the entries after a given seq are found by binary search. A capacity
 * of 0 is allowed and holds nothing (replay off). */
#include "ring.h"

#include <stdlib.h>

#include "shtext.h"

struct ring_entry {
	uint64_t seq;
	char *text; /* a shtext: one reference is the ring's */
	size_t len;
};

struct ring {
	struct ring_entry *e;
	size_t capacity;
	size_t head; /* index of the oldest entry */
	size_t count;
	uint64_t last_seq;
};

struct ring *ring_new(size_t capacity)
{
	struct ring *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->capacity = capacity;
	if (capacity > 0) {
		r->e = calloc(capacity, sizeof *r->e);
		if (r->e == NULL) {
			free(r);
			return NULL;
		}
	}
	return r;
}

void ring_destroy(struct ring **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	struct ring *r = *self_p;
	for (size_t i = 0; i < r->count; i++)
		shtext_unref(r->e[(r->head + i) % r->capacity].text);
	free(r->e);
	free(r);
	*self_p = NULL;
}

static struct ring_entry *s_at(const struct ring *r, size_t i)
{
	return &r->e[(r->head + i) % r->capacity];
}

int ring_push_take(struct ring *r, uint64_t seq, char *text, size_t len)
{
	if (r->count > 0 && seq <= r->last_seq) {
		shtext_unref(text);
		return -1; /* contract: seq grows; a misuse is refused, not reordered */
	}
	if (r->capacity == 0) {
		shtext_unref(text);
		return 0;
	}
	if (r->count == r->capacity) {
		shtext_unref(r->e[r->head].text);
		r->head = (r->head + 1) % r->capacity;
		r->count--;
	}
	struct ring_entry *e = s_at(r, r->count);
	e->seq = seq;
	e->text = text;
	e->len = len;
	r->count++;
	r->last_seq = seq;
	return 0;
}

int ring_push(struct ring *r, uint64_t seq, const char *text, size_t len)
{
	char *copy = shtext_dup(text, len);

	if (copy == NULL)
		return -1;
	return ring_push_take(r, seq, copy, len);
}

uint64_t ring_oldest_seq(const struct ring *r)
{
	return r->count ? s_at(r, 0)->seq : 0;
}

size_t ring_count(const struct ring *r)
{
	return r->count;
}

size_t ring_each_after(const struct ring *r, uint64_t after_seq, size_t limit,
		       int (*fn)(void *ud, uint64_t seq, const char *text, size_t len), void *ud)
{
	/* First index whose seq > after_seq. */
	size_t lo = 0, hi = r->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s_at(r, mid)->seq <= after_seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t visited = 0;
	for (size_t i = lo; i < r->count && visited < limit; i++) {
		const struct ring_entry *e = s_at(r, i);
		visited++;
		if (fn(ud, e->seq, e->text, e->len) != 0)
			break;
	}
	return visited;
}
