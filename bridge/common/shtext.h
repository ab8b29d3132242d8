/* shtext.h: reference-counted text, for an envelope that the replay ring and ZeroMQ's I/O
 * threads hold at once (pure; C11 atomics).
 *
 * Why: ZeroMQ copied every envelope into a buffer of its own, which its I/O thread freed.
 * With glibc's malloc a block freed by a thread that did not allocate it goes back to its
 * arena under the arena's lock, so the bridge's thread (allocating) and the I/O thread
 * (freeing) fought over one lock at every event: futex waits and wake-ups on both. Now
 * ZeroMQ sends the envelope in place (zmq_msg_init_data) and drops its reference when done;
 * a block whose last reference another thread drops waits in a bin that the owner thread
 * empties, so every block is allocated and freed by the same thread.
 *
 * A text is a pointer to NUL-terminated bytes with SHTEXT_ROOM bytes of header before it
 * in the same allocation: it must be released with shtext_unref(), never free(). */
#ifndef PP_SHTEXT_H
#define PP_SHTEXT_H

#include <stddef.h>

/* Header bytes before the text: the count, and later the bin's link; keeps the text at
 * malloc's alignment. */
#define SHTEXT_ROOM 16

/* Where texts whose last reference another thread dropped wait for the owner thread. */
struct shtext_bin;

/* Room for cap bytes of text (its NUL included), with one reference: the caller's. NULL
 * when out of memory. */
char *shtext_new(size_t cap);
/* Resize the room of a text nobody else holds yet (while it is being written); text NULL
 * allocates. NULL when out of memory, and text is then unchanged. */
char *shtext_resize(char *text, size_t cap);
/* A copy of len bytes of s, NUL-terminated, with one reference. NULL when out of memory. */
char *shtext_dup(const char *s, size_t len);
/* One more reference; returns text. */
char *shtext_ref(char *text);
/* Drop one reference, in the owner thread: the last frees the text. Safe on NULL. */
void shtext_unref(char *text);
/* Drop one reference from any thread: the last puts the text into bin (lock-free), to be
 * freed by shtext_bin_empty(). */
void shtext_unref_into(char *text, struct shtext_bin *bin);

struct shtext_bin *shtext_bin_new(void);
/* Owner thread: frees every text in the bin; returns how many. */
size_t shtext_bin_empty(struct shtext_bin *bin);
/* Empties and frees the bin; no other thread may drop into it any more (for ZeroMQ: after
 * zmq_ctx_term). Sets *self_p to NULL; safe on NULL. */
void shtext_bin_destroy(struct shtext_bin **self_p);

#endif
