/* outcome.c: the bounded log of contribute outcomes by client-chosen id (pure).
 *
 * A hash table for look-ups plus a list in order of begin for eviction: when the log is
 * full, the oldest finished entry goes. In-flight entries are never evicted (their reply
 * is still owed), so the log may grow past its capacity while many are in flight. */
#include "outcome.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *id;    /* owned */
	char *reply; /* owned, NULL while in flight */
	enum outcome_state st;
	struct entry *hnext;	   /* hash chain */
	struct entry *prev, *next; /* begin order, oldest first */
};

struct outcome_log {
	size_t capacity;
	size_t count;
	size_t nbuckets; /* a power of two */
	struct entry **buckets;
	struct entry *oldest, *newest;
};

static uint64_t s_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct entry **s_slot(const struct outcome_log *log, const char *id)
{
	struct entry **pp = &log->buckets[s_hash(id) & (log->nbuckets - 1)];
	while (*pp != NULL && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

struct outcome_log *outcome_log_new(size_t capacity)
{
	struct outcome_log *log = calloc(1, sizeof *log);
	if (log == NULL)
		return NULL;
	log->capacity = capacity > 0 ? capacity : 1;
	log->nbuckets = 16;
	while (log->nbuckets < log->capacity * 2 && log->nbuckets < ((size_t)1 << 24))
		log->nbuckets <<= 1;
	log->buckets = calloc(log->nbuckets, sizeof *log->buckets);
	if (log->buckets == NULL) {
		free(log);
		return NULL;
	}
	return log;
}

static void s_entry_free(struct entry *e)
{
	free(e->id);
	free(e->reply);
	free(e);
}

void outcome_log_destroy(struct outcome_log **self_p)
{
	struct outcome_log *log;
	struct entry *e, *next;
	if (self_p == NULL || *self_p == NULL)
		return;
	log = *self_p;
	for (e = log->oldest; e != NULL; e = next) {
		next = e->next;
		s_entry_free(e);
	}
	free(log->buckets);
	free(log);
	*self_p = NULL;
}

/* Unlink e from its hash chain and the order list, and free it. */
static void s_remove(struct outcome_log *log, struct entry *e)
{
	struct entry **pp = s_slot(log, e->id);
	*pp = e->hnext;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		log->oldest = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		log->newest = e->prev;
	log->count--;
	s_entry_free(e);
}

/* Double the table when the chains get long (only when in-flight entries pile up). */
static void s_grow(struct outcome_log *log)
{
	size_t n = log->nbuckets * 2;
	struct entry **b = calloc(n, sizeof *b);
	if (b == NULL)
		return; /* longer chains, still correct */
	for (struct entry *e = log->oldest; e != NULL; e = e->next) {
		size_t k = s_hash(e->id) & (n - 1);
		e->hnext = b[k];
		b[k] = e;
	}
	free(log->buckets);
	log->buckets = b;
	log->nbuckets = n;
}

static void s_evict_one(struct outcome_log *log)
{
	for (struct entry *e = log->oldest; e != NULL; e = e->next)
		if (e->st != OUTCOME_IN_FLIGHT) {
			s_remove(log, e);
			return;
		}
}

int outcome_log_begin(struct outcome_log *log, const char *id)
{
	struct entry *e;
	if (*s_slot(log, id) != NULL)
		return 1;
	if (log->count >= log->capacity)
		s_evict_one(log);
	if (log->count >= log->nbuckets)
		s_grow(log);
	e = calloc(1, sizeof *e);
	if (e == NULL)
		return -1;
	e->id = strdup(id);
	if (e->id == NULL) {
		free(e);
		return -1;
	}
	e->st = OUTCOME_IN_FLIGHT;
	e->hnext = *s_slot(log, id); /* NULL: the slot is the chain's end */
	*s_slot(log, id) = e;
	e->prev = log->newest;
	if (log->newest != NULL)
		log->newest->next = e;
	else
		log->oldest = e;
	log->newest = e;
	log->count++;
	return 0;
}

void outcome_log_finish(struct outcome_log *log, const char *id, enum outcome_state st,
			const char *reply_json)
{
	struct entry *e = *s_slot(log, id);
	char *copy = NULL;
	if (e == NULL)
		return;
	if (reply_json != NULL) {
		copy = strdup(reply_json);
		if (copy == NULL)
			return; /* keep the old state: "in flight" is the honest answer */
	}
	free(e->reply);
	e->reply = copy;
	e->st = st;
}

void outcome_log_forget(struct outcome_log *log, const char *id)
{
	struct entry *e = *s_slot(log, id);
	if (e != NULL)
		s_remove(log, e);
}

int outcome_log_get(const struct outcome_log *log, const char *id, enum outcome_state *st,
		    const char **reply_json)
{
	const struct entry *e = *s_slot(log, id);
	if (e == NULL)
		return -1;
	if (st != NULL)
		*st = e->st;
	if (reply_json != NULL)
		*reply_json = e->reply;
	return 0;
}

const char *outcome_state_name(enum outcome_state st)
{
	switch (st) {
	case OUTCOME_IN_FLIGHT:
		return "in_flight";
	case OUTCOME_CONFIRMED:
		return "confirmed";
	case OUTCOME_REJECTED:
		return "rejected";
	case OUTCOME_UNKNOWN:
		return "unknown";
	}
	return "unknown";
}
