/* dedup.h: a bounded set of event ids; the oldest is forgotten first (pure). */
#ifndef PP_DEDUP_H
#define PP_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dedup;

/* What the set remembers of an id: a 64-bit fingerprint (dedup.c says what that risks).
 * Computing it once serves both the look-up and the insert that follows it. */
struct dedup_key {
	uint64_t fp;
};
struct dedup_key dedup_key(const char *id);
bool dedup_contains_key(const struct dedup *d, struct dedup_key k);
bool dedup_insert_key(struct dedup *d, struct dedup_key k);

/* capacity >= 1. Returns NULL on allocation failure. */
struct dedup *dedup_new(size_t capacity);
/* Frees the set and sets *self_p to NULL. Safe on NULL. */
void dedup_destroy(struct dedup **self_p);
/* True when id is in the set. */
bool dedup_contains(const struct dedup *d, const char *id);
/* Insert id (copied). Returns true when it was new, false when already present.
 * When full, the oldest id is evicted first. */
bool dedup_insert(struct dedup *d, const char *id);
size_t dedup_count(const struct dedup *d);

#endif
