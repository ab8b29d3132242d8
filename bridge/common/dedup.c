/* dedup.c: a bounded set of event ids with first-in first-out eviction (pure).
 *
 * Layout: a pool of `capacity` nodes used as a circular buffer in insertion order (the
 * oldest node is the next to be reused), and a chained hash table over the pool with
 * 32-bit indices. Lookups and inserts are O(1) on average; memory is allocated once. */
#include "dedup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct dedup_node {
	char *id;      /* owned copy, NULL when the slot is free */
	uint64_t hash; /* compared before strcmp */
	uint32_t next; /* next node in the same bucket, or NIL */
};

struct dedup {
	struct dedup_node *nodes; /* capacity nodes */
	uint32_t *buckets;	  /* nbuckets heads, NIL when empty */
	size_t capacity;
	size_t nbuckets; /* a power of two >= capacity */
	size_t head;	 /* index of the oldest node */
	size_t count;
};

/* FNV-1a, 64 bit: ids are short ASCII strings; good enough spread, no dependencies. */
static uint64_t s_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

struct dedup *dedup_new(size_t capacity)
{
	if (capacity == 0 || capacity >= NIL)
		return NULL;
	struct dedup *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->capacity = capacity;
	d->nbuckets = 1;
	while (d->nbuckets < capacity)
		d->nbuckets <<= 1;
	d->nodes = calloc(capacity, sizeof *d->nodes);
	d->buckets = malloc(d->nbuckets * sizeof *d->buckets);
	if (d->nodes == NULL || d->buckets == NULL) {
		dedup_destroy(&d);
		return NULL;
	}
	memset(d->buckets, 0xff, d->nbuckets * sizeof *d->buckets); /* all NIL */
	return d;
}

void dedup_destroy(struct dedup **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	struct dedup *d = *self_p;
	if (d->nodes != NULL)
		for (size_t i = 0; i < d->capacity; i++)
			free(d->nodes[i].id);
	free(d->nodes);
	free(d->buckets);
	free(d);
	*self_p = NULL;
}

static uint32_t s_find(const struct dedup *d, const char *id, uint64_t h)
{
	uint32_t i = d->buckets[h & (d->nbuckets - 1)];
	while (i != NIL) {
		const struct dedup_node *n = &d->nodes[i];
		if (n->hash == h && strcmp(n->id, id) == 0)
			return i;
		i = n->next;
	}
	return NIL;
}

bool dedup_contains(const struct dedup *d, const char *id)
{
	return s_find(d, id, s_hash(id)) != NIL;
}

/* Unlink node idx from its bucket chain and free its id. */
static void s_evict(struct dedup *d, uint32_t idx)
{
	struct dedup_node *n = &d->nodes[idx];
	uint32_t *link = &d->buckets[n->hash & (d->nbuckets - 1)];
	while (*link != idx)
		link = &d->nodes[*link].next;
	*link = n->next;
	free(n->id);
	n->id = NULL;
	d->count--;
}

bool dedup_insert(struct dedup *d, const char *id)
{
	uint64_t h = s_hash(id);
	if (s_find(d, id, h) != NIL)
		return false;
	char *copy = strdup(id);
	if (copy == NULL)
		return true; /* cannot remember it; treat as new rather than drop an event */
	/* The slot after the newest is the oldest once the pool is full. */
	uint32_t idx = (uint32_t)((d->head + d->count) % d->capacity);
	if (d->count == d->capacity) {
		idx = (uint32_t)d->head;
		s_evict(d, idx);
		d->head = (d->head + 1) % d->capacity;
	}
	struct dedup_node *n = &d->nodes[idx];
	size_t b = h & (d->nbuckets - 1);
	n->id = copy;
	n->hash = h;
	n->next = d->buckets[b];
	d->buckets[b] = idx;
	d->count++;
	return true;
}

size_t dedup_count(const struct dedup *d)
{
	return d->count;
}
