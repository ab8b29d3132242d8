/* dlist.h: an intrusive doubly-linked list, the one the daemon's queues share.
 *
 * A struct dlist_node lives inside the struct it links (dlist_entry() gets back to it), so
 * linking and unlinking never allocate and cannot fail. NULL-terminated at both ends, so a
 * zero-initialised list is empty and a zero-initialised node is in no list: no init calls.
 * A node is in at most one list through one member; the caller knows which list that is. */
#ifndef PP_DLIST_H
#define PP_DLIST_H

#include <stddef.h>

struct dlist_node {
	struct dlist_node *prev, *next;
};

struct dlist {
	struct dlist_node *head, *tail;
	size_t count;
};

/* The struct of type whose member is node. */
#define dlist_entry(node, type, member) ((type *)(void *)((char *)(node)-offsetof(type, member)))

/* The struct of type at the head of list l (a pointer, evaluated twice); NULL when empty. */
#define dlist_first(l, type, member) ((l)->head ? dlist_entry((l)->head, type, member) : NULL)

/* Links n in front of at; at NULL appends. n must not be in a list. */
static inline void dlist_insert_before(struct dlist *l, struct dlist_node *at, struct dlist_node *n)
{
	n->next = at;
	n->prev = at ? at->prev : l->tail;
	if (n->prev)
		n->prev->next = n;
	else
		l->head = n;
	if (at)
		at->prev = n;
	else
		l->tail = n;
	l->count++;
}

static inline void dlist_push_back(struct dlist *l, struct dlist_node *n)
{
	dlist_insert_before(l, NULL, n);
}

static inline void dlist_push_front(struct dlist *l, struct dlist_node *n)
{
	dlist_insert_before(l, l->head, n);
}

/* Unlinks n, which must be in l, and leaves it zeroed (in no list). */
static inline void dlist_remove(struct dlist *l, struct dlist_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = n->next = NULL;
	l->count--;
}

#endif
