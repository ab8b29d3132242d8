/* dedup.h: a bounded set of event ids; the oldest is forgotten first (pure). */
#ifndef PP_DEDUP_H
#define PP_DEDUP_H

#include <stdbool.h>
#include <stddef.h>

struct dedup;

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
