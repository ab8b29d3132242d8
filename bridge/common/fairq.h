/* fairq.h: a queue that serves clients round-robin (pure).
 *
 * Items are queued per client identity (the ROUTER routing id) in arrival order; pops
 * take one item from each client in turn, so one noisy client cannot starve the others. */
#ifndef PP_FAIRQ_H
#define PP_FAIRQ_H

#include <stdbool.h>
#include <stddef.h>

struct fairq;

/* quota: the most items one client may have queued (0 = no limit). */
struct fairq *fairq_new(size_t quota);
/* Frees the queue (not the items) and sets *self_p to NULL. */
void fairq_destroy(struct fairq **self_p);
/* Queue item for client (client bytes copied). 0, or -1 when the client's quota is full
 * or on allocation failure (PP_ETOOBIG / PP_ENOMEM from pp_err.h). */
int fairq_push(struct fairq *q, const void *client, size_t client_len, void *item);
/* Next item round-robin, or NULL when empty. */
void *fairq_pop(struct fairq *q);
/* Peek at what fairq_pop would return, without removing it. */
void *fairq_peek(const struct fairq *q);
size_t fairq_count(const struct fairq *q);
/* Remove every item for which pred returns true (e.g. timed out), calling done on each
 * removed item after it is unlinked. Order of the rest is kept. Returns how many. */
size_t fairq_remove_if(struct fairq *q, bool (*pred)(void *item, void *ud),
		       void (*done)(void *item, void *ud), void *ud);

#endif
