/* dedup.c: a bounded set of event ids with first-in first-out eviction (pure).
 *
 * Layout: a pool of `capacity` nodes used as a circular buffer in insertion order (the
 * oldest node is the next to be reused), and a chained hash table over the pool with
 * 32-bit indices. Lookups and inserts are O(1) on average; memory is allocated once.
 * An id is remembered as two independent 64-bit hashes (20 bytes a node, no copy of the
 * id): 100,000 ids take 2.5 MB instead of 11. Two different ids are taken for one only if
 * both hashes collide: about 2^-128 per pair, far below any other failure of the host. */
#include "dedup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

struct dedup_node {
	uint64_t hash;	/* picks the bucket */
	uint64_t hash2; /* a second, independent hash: together they stand for the id */
	uint32_t next;	/* next node in the same bucket, or NIL */
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

/* A second hash with another multiplier and a rotation, so its collisions are unrelated
 * to FNV's. */
static uint64_t s_hash2(const char *s)
{
	uint64_t h = 0x243F6A8885A308D3ULL;
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h = ((h << 29) | (h >> 35)) * 0x9E3779B97F4A7C15ULL;
	}
	return h ^ (h >> 31);
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
	free(d->nodes);
	free(d->buckets);
	free(d);
	*self_p = NULL;
}

static uint32_t s_find(const struct dedup *d, uint64_t h, uint64_t h2)
{
	uint32_t i = d->buckets[h & (d->nbuckets - 1)];
	while (i != NIL) {
		const struct dedup_node *n = &d->nodes[i];
		if (n->hash == h && n->hash2 == h2)
			return i;
		i = n->next;
	}
	return NIL;
}

struct dedup_key dedup_key(const char *id)
{
	return (struct dedup_key){s_hash(id), s_hash2(id)};
}

bool dedup_contains_key(const struct dedup *d, struct dedup_key k)
{
	return s_find(d, k.h, k.h2) != NIL;
}

bool dedup_contains(const struct dedup *d, const char *id)
{
	return dedup_contains_key(d, dedup_key(id));
}

/* Unlink node idx from its bucket chain. */
static void s_evict(struct dedup *d, uint32_t idx)
{
	struct dedup_node *n = &d->nodes[idx];
	uint32_t *link = &d->buckets[n->hash & (d->nbuckets - 1)];
	while (*link != idx)
		link = &d->nodes[*link].next;
	*link = n->next;
	d->count--;
}

bool dedup_insert(struct dedup *d, const char *id)
{
	return dedup_insert_key(d, dedup_key(id));
}

bool dedup_insert_key(struct dedup *d, struct dedup_key k)
{
	uint64_t h = k.h, h2 = k.h2;
	if (s_find(d, h, h2) != NIL)
		return false;
	/* The slot after the newest is the oldest once the pool is full. */
	uint32_t idx = (uint32_t)((d->head + d->count) % d->capacity);
	if (d->count == d->capacity) {
		idx = (uint32_t)d->head;
		s_evict(d, idx);
		d->head = (d->head + 1) % d->capacity;
	}
	struct dedup_node *n = &d->nodes[idx];
	size_t b = h & (d->nbuckets - 1);
	n->hash = h;
	n->hash2 = h2;
	n->next = d->buckets[b];
	d->buckets[b] = idx;
	d->count++;
	return true;
}

size_t dedup_count(const struct dedup *d)
{
	return d->count;
}
