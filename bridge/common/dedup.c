/* dedup.c: a bounded set of event ids with first-in first-out eviction (pure).
 *
 * Layout: an open-addressing table of 64-bit fingerprints with linear probing, and a
 * circular buffer of the same fingerprints in insertion order (the oldest is the next to
 * go). A look-up reads one place of the table, usually one cache line; an insert that
 * evicts also finds the oldest fingerprint's place and closes the gap behind it by backward
 * shifting (Knuth, TAOCP vol. 3, 6.4, Algorithm R), so there are no tombstones and chains
 * never grow with churn. Why this layout: a chained table with a node pool cost about four
 * cache misses an event (bucket, node, and the same again to unlink the oldest); at
 * 100,000 ids that was a sixth of the bridge's thread at full rate.
 *
 * The table has a power of two of places, at least 1.25 x capacity (load at most 0.8):
 * 100,000 ids take 1.85 MB (1 MB of table, 0.8 MB of order). Memory is calloc'd and
 * touched only as ids arrive, so an idle bridge does not pay for a window it has not
 * filled. 0 marks an empty place, so a fingerprint of 0 is stored as 1.
 *
 * An id is remembered as its fingerprint, not copied. The price is a false "already
 * published" when a new id's fingerprint equals one of the ids remembered: at most
 * capacity / 2^64 per event, 5.4e-15 with the default window (one event in 1.8e14). */
#include "dedup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY 0u

struct dedup {
	uint64_t *table; /* nplaces fingerprints, EMPTY where free */
	uint64_t *order; /* capacity fingerprints, oldest at head */
	size_t capacity;
	size_t mask; /* nplaces - 1 */
	size_t head; /* index in order of the oldest */
	size_t count;
};

/* 8 bytes at a time (each word mixed in by a multiply and a shift, both invertible), the
 * length folded in, then MurmurHash3's 64-bit finaliser: the place (low bits) and the
 * comparison (all 64) both need every bit mixed. */
static uint64_t s_fingerprint(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = 0x9ae16a3b2f90404fULL ^ n, w;

	for (; n >= 8; n -= 8, s += 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
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
	size_t nplaces = 2;

	if (capacity == 0 || capacity >= UINT32_MAX)
		return NULL;
	d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	while (nplaces < capacity + capacity / 4 + 1) /* at least one place stays empty */
		nplaces <<= 1;
	d->capacity = capacity;
	d->mask = nplaces - 1;
	d->table = calloc(nplaces, sizeof *d->table);
	d->order = calloc(capacity, sizeof *d->order);
	if (d->table == NULL || d->order == NULL) {
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
	free(d->table);
	free(d->order);
	free(d);
	*self_p = NULL;
}

/* The place holding fp, or the empty place where the probe for it ends. */
static size_t s_probe(const struct dedup *d, uint64_t fp)
{
	size_t i = fp & d->mask;

	while (d->table[i] != EMPTY && d->table[i] != fp)
		i = (i + 1) & d->mask;
	return i;
}

/* Empty place i and move back every later entry of its run that may not sit past a gap:
 * one whose home is not cyclically in (i, j]. */
static void s_remove_at(struct dedup *d, size_t i)
{
	for (size_t j = (i + 1) & d->mask; d->table[j] != EMPTY; j = (j + 1) & d->mask) {
		size_t home = d->table[j] & d->mask;
		bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);

		if (!stays) {
			d->table[i] = d->table[j];
			i = j;
		}
	}
	d->table[i] = EMPTY;
}

struct dedup_key dedup_key(const char *id)
{
	return (struct dedup_key){s_fingerprint(id)};
}

/* A key's fingerprint as stored: EMPTY is taken. */
static uint64_t s_stored(struct dedup_key k)
{
	return k.fp != EMPTY ? k.fp : 1;
}

bool dedup_contains_key(const struct dedup *d, struct dedup_key k)
{
	uint64_t fp = s_stored(k);

	return d->table[s_probe(d, fp)] == fp;
}

bool dedup_contains(const struct dedup *d, const char *id)
{
	return dedup_contains_key(d, dedup_key(id));
}

bool dedup_insert(struct dedup *d, const char *id)
{
	return dedup_insert_key(d, dedup_key(id));
}

bool dedup_insert_key(struct dedup *d, struct dedup_key k)
{
	uint64_t fp = s_stored(k);
	size_t i = s_probe(d, fp), tail;

	if (d->table[i] == fp)
		return false;
	if (d->count == d->capacity) {
		/* the oldest goes first; its gap may move fp's place, so probe again */
		s_remove_at(d, s_probe(d, d->order[d->head]));
		d->head = d->head + 1 < d->capacity ? d->head + 1 : 0;
		d->count--;
		i = s_probe(d, fp);
	}
	d->table[i] = fp;
	tail = d->head + d->count;
	d->order[tail < d->capacity ? tail : tail - d->capacity] = fp;
	d->count++;
	return true;
}

size_t dedup_count(const struct dedup *d)
{
	return d->count;
}
