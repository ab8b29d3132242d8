/* dedup.c: a bounded set of event ids with first-in first-out eviction (pure).
 *
 * Layout: a pool of `capacity` nodes used as a circular buffer in insertion order (the
 * oldest node is the next to be reused), and a chained hash table over the pool with
 * 32-bit links. Lookups and inserts are O(1) on average; memory is allocated once and
 * touched only as ids arrive (calloc'd, and an empty bucket is 0), so an idle bridge does
 * not pay for a window it has not filled.
 *
 * An id is remembered as a 64-bit fingerprint: 12 bytes a node, no copy of the id, so
 * 100,000 ids take 1.45 MB (1.2 MB of nodes, 0.25 MB of buckets). The price is a false
 * "already published" when a new id's fingerprint equals one of the ids remembered: at most
 * capacity / 2^64 per event, 5.4e-15 with the default window (one event in 1.8e14). */
#include "dedup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A link is a node index + 1, so that 0 (what calloc gives) means "none". */
#define NONE 0u

struct dedup_node {
	uint32_t fp_lo, fp_hi; /* the fingerprint, split so a node is 12 bytes, not 16 */
	uint32_t next;	       /* link to the next node in the same bucket */
};

struct dedup {
	struct dedup_node *nodes; /* capacity nodes */
	uint32_t *buckets;	  /* nbuckets links */
	size_t capacity;
	size_t nbuckets; /* a power of two >= capacity / 2: chains of 2 at most on average */
	size_t head;	 /* index of the oldest node */
	size_t count;
};

/* FNV-1a over the id, then MurmurHash3's 64-bit finaliser: FNV alone leaves short ids'
 * high bits poorly mixed, and both the bucket (low bits) and the fingerprint use all 64. */
static uint64_t s_fingerprint(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

struct dedup *dedup_new(size_t capacity)
{
	struct dedup *d;

	if (capacity == 0 || capacity >= UINT32_MAX)
		return NULL;
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->capacity = capacity;
	d->nbuckets = 1;
	while (d->nbuckets * 2 < capacity)
		d->nbuckets <<= 1;
	d->nodes = calloc(capacity, sizeof *d->nodes);
	d->buckets = calloc(d->nbuckets, sizeof *d->buckets);
	if (d->nodes == NULL || d->buckets == NULL) {
		dedup_destroy(&d);
		return NULL;
	}
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

static uint32_t *s_bucket(const struct dedup *d, uint64_t fp)
{
	return &d->buckets[fp & (d->nbuckets - 1)];
}

static bool s_is(const struct dedup_node *n, uint64_t fp)
{
	return n->fp_lo == (uint32_t)fp && n->fp_hi == (uint32_t)(fp >> 32);
}

static bool s_find(const struct dedup *d, uint64_t fp)
{
	for (uint32_t l = *s_bucket(d, fp); l != NONE; l = d->nodes[l - 1].next)
		if (s_is(&d->nodes[l - 1], fp))
			return true;
	return false;
}

struct dedup_key dedup_key(const char *id)
{
	return (struct dedup_key){s_fingerprint(id)};
}

bool dedup_contains_key(const struct dedup *d, struct dedup_key k)
{
	return s_find(d, k.fp);
}

bool dedup_contains(const struct dedup *d, const char *id)
{
	return dedup_contains_key(d, dedup_key(id));
}

/* Unlink node idx from its bucket chain. */
static void s_evict(struct dedup *d, uint32_t idx)
{
	const struct dedup_node *n = &d->nodes[idx];
	uint32_t *link = s_bucket(d, (uint64_t)n->fp_hi << 32 | n->fp_lo);

	while (*link != idx + 1)
		link = &d->nodes[*link - 1].next;
	*link = n->next;
	d->count--;
}

bool dedup_insert(struct dedup *d, const char *id)
{
	return dedup_insert_key(d, dedup_key(id));
}

bool dedup_insert_key(struct dedup *d, struct dedup_key k)
{
	uint32_t idx, *bucket;
	struct dedup_node *n;

	if (s_find(d, k.fp))
		return false;
	/* The slot after the newest is the oldest once the pool is full. */
	idx = (uint32_t)((d->head + d->count) % d->capacity);
	if (d->count == d->capacity) {
		idx = (uint32_t)d->head;
		s_evict(d, idx);
		d->head = (d->head + 1) % d->capacity;
	}
	n = &d->nodes[idx];
	bucket = s_bucket(d, k.fp);
	n->fp_lo = (uint32_t)k.fp;
	n->fp_hi = (uint32_t)(k.fp >> 32);
	n->next = *bucket;
	*bucket = idx + 1;
	d->count++;
	return true;
}

size_t dedup_count(const struct dedup *d)
{
	return d->count;
}
