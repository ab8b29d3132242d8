/* ring.h: the replay ring of recent envelopes, by seq (pure). */
#ifndef PP_RING_H
#define PP_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring;

struct ring *ring_new(size_t capacity);
void ring_destroy(struct ring **self_p);
/* Append (copies text). seq must be greater than the last appended. Evicts the oldest
 * when full. Returns 0 or -1 on allocation failure. */
int ring_push(struct ring *r, uint64_t seq, const char *text, size_t len);
/* The same, taking the caller's reference to text (a shtext, NUL-terminated at len): no
 * copy. That reference is dropped (now or at eviction) whatever the result. */
int ring_push_take(struct ring *r, uint64_t seq, char *text, size_t len);
/* Oldest seq held, or 0 when empty. */
uint64_t ring_oldest_seq(const struct ring *r);
size_t ring_count(const struct ring *r);
/* Call fn for each entry with seq > after_seq, oldest first, at most limit entries.
 * Stops early when fn returns non-zero. Returns the number of entries visited. */
size_t ring_each_after(const struct ring *r, uint64_t after_seq, size_t limit,
		       int (*fn)(void *ud, uint64_t seq, const char *text, size_t len), void *ud);

#endif
