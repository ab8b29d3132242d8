/* fairq.c: a queue that serves clients round-robin (pure).
 *
 * Each client with queued items has a FIFO; the clients form a ring in the order they
 * became active, and pops take one item from the client at the ring's cursor, then move
 * the cursor on. A client whose FIFO empties leaves the ring, so the ring only ever holds
 * clients with work and its size bounds the cost of a look-up. */
#include "fairq.h"

#include "pp_err.h"

#include <stdlib.h>
#include <string.h>

struct node {
	void *item; /* borrowed: the queue never frees items */
	struct node *next;
};

struct client {
	struct client *prev, *next; /* the ring */
	struct node *head, *tail;
	size_t count;
	size_t idlen;
	unsigned char id[]; /* a copy of the client identity */
};

struct fairq {
	size_t quota;
	size_t count;
	struct client *cur; /* served next; NULL when empty */
};

struct fairq *fairq_new(size_t quota)
{
	struct fairq *q = calloc(1, sizeof *q);
	if (q != NULL)
		q->quota = quota;
	return q;
}

static void s_client_unlink(struct fairq *q, struct client *c)
{
	if (c->next == c) {
		q->cur = NULL;
	} else {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		if (q->cur == c)
			q->cur = c->next;
	}
	free(c);
}

void fairq_destroy(struct fairq **self_p)
{
	struct fairq *q;
	if (self_p == NULL || *self_p == NULL)
		return;
	q = *self_p;
	while (q->cur != NULL) {
		struct client *c = q->cur;
		while (c->head != NULL) {
			struct node *n = c->head;
			c->head = n->next;
			free(n);
		}
		s_client_unlink(q, c);
	}
	free(q);
	*self_p = NULL;
}

static struct client *s_find(const struct fairq *q, const void *id, size_t idlen)
{
	struct client *c = q->cur;
	if (c == NULL)
		return NULL;
	do {
		if (c->idlen == idlen && memcmp(c->id, id, idlen) == 0)
			return c;
		c = c->next;
	} while (c != q->cur);
	return NULL;
}

/* A new client joins at the end of the current round (just before the cursor), so the
 * clients already waiting are served first. */
static struct client *s_client_new(struct fairq *q, const void *id, size_t idlen)
{
	struct client *c = calloc(1, sizeof *c + idlen);
	if (c == NULL)
		return NULL;
	memcpy(c->id, id, idlen);
	c->idlen = idlen;
	if (q->cur == NULL) {
		c->prev = c->next = c;
		q->cur = c;
	} else {
		c->next = q->cur;
		c->prev = q->cur->prev;
		c->prev->next = c;
		q->cur->prev = c;
	}
	return c;
}

int fairq_push(struct fairq *q, const void *client, size_t client_len, void *item)
{
	struct client *c = s_find(q, client, client_len);
	struct node *n;
	if (c != NULL && q->quota > 0 && c->count >= q->quota)
		return PP_ETOOBIG;
	n = calloc(1, sizeof *n);
	if (n == NULL)
		return PP_ENOMEM;
	if (c == NULL && (c = s_client_new(q, client, client_len)) == NULL) {
		free(n);
		return PP_ENOMEM;
	}
	n->item = item;
	if (c->tail != NULL)
		c->tail->next = n;
	else
		c->head = n;
	c->tail = n;
	c->count++;
	q->count++;
	return 0;
}

void *fairq_pop(struct fairq *q)
{
	struct client *c = q->cur;
	struct node *n;
	void *item;
	if (c == NULL)
		return NULL;
	n = c->head;
	item = n->item;
	c->head = n->next;
	if (c->head == NULL)
		c->tail = NULL;
	c->count--;
	q->count--;
	free(n);
	if (c->count == 0)
		s_client_unlink(q, c); /* moves the cursor on */
	else
		q->cur = c->next;
	return item;
}

void *fairq_peek(const struct fairq *q)
{
	return q->cur != NULL ? q->cur->head->item : NULL;
}

size_t fairq_count(const struct fairq *q)
{
	return q->count;
}

/* Move the matching nodes of c onto *removed (in order); returns how many. */
static size_t s_take_matching(struct client *c, bool (*pred)(void *item, void *ud), void *ud,
			      struct node ***removed_tail)
{
	struct node **pp = &c->head, *n;
	size_t taken = 0;
	c->tail = NULL;
	while ((n = *pp) != NULL) {
		if (pred(n->item, ud)) {
			*pp = n->next;
			n->next = NULL;
			**removed_tail = n;
			*removed_tail = &n->next;
			taken++;
		} else {
			c->tail = n;
			pp = &n->next;
		}
	}
	c->count -= taken;
	return taken;
}

size_t fairq_remove_if(struct fairq *q, bool (*pred)(void *item, void *ud),
		       void (*done)(void *item, void *ud), void *ud)
{
	struct node *removed = NULL, **tail = &removed;
	struct client *c, *start, *next;
	size_t total = 0, nclients = 0;

	if (q->cur == NULL)
		return 0;
	/* count first: the ring shrinks while we walk it */
	c = q->cur;
	do {
		nclients++;
		c = c->next;
	} while (c != q->cur);
	start = q->cur;
	c = start;
	for (size_t i = 0; i < nclients; i++) {
		next = c->next;
		total += s_take_matching(c, pred, ud, &tail);
		if (c->count == 0)
			s_client_unlink(q, c);
		c = next;
	}
	q->count -= total;
	/* the queue is consistent again: done may now push or pop safely */
	while (removed != NULL) {
		struct node *n = removed;
		removed = n->next;
		if (done != NULL)
			done(n->item, ud);
		free(n);
	}
	return total;
}
