/* publisher.h: the PUB side: sequence numbers, de-duplication, the replay ring and the
 * last-value cache of bridge.status, on one ZeroMQ XPUB socket. */
#ifndef PP_PUBLISHER_H
#define PP_PUBLISHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "normalize.h"

struct publisher;
struct curve;
struct shtext_bin;

struct publisher_stats {
	uint64_t published;	 /* events with a new seq */
	uint64_t duplicates;	 /* events skipped because their id was already published */
	uint64_t status_repeats; /* bridge.status copies sent to new subscribers */
	uint64_t send_errors;	 /* zmq_send failures (the event is still in the replay ring) */
	uint64_t overflows;	 /* a subscriber's queue was full: it misses envelopes */
	uint64_t holds;		 /* waits for a full subscriber (publisher_try_flush held) */
	uint64_t subscriptions;	 /* subscribe messages seen */
};

/* The bounded memory of a publisher. */
struct publisher_limits {
	size_t ring;  /* envelopes kept for replay (0: replay holds nothing) */
	size_t dedup; /* event ids remembered */
	int hwm;      /* envelopes queued per subscriber */
};

/* Bind an XPUB socket on endpoint (through curve_bind: CurveZMQ on tcp:// when curve is not
 * NULL). run is the run id (copied). Envelopes go out without a copy (shtext.h): those that
 * a ZeroMQ thread releases last wait in bin (borrowed), which each flush empties and which
 * must outlive zctx. Returns NULL with err. */
struct publisher *publisher_new(void *zctx, struct shtext_bin *bin, const struct curve *curve,
				const char *endpoint, const char *run,
				const struct publisher_limits *limits, char *err, size_t errlen);
/* Close the socket (linger bounded), free everything, NULL the pointer. */
void publisher_destroy(struct publisher **self_p);

/* The socket's ZMQ_FD, to watch for subscriptions (see fdwatch.h). */
int publisher_fd(const struct publisher *p);
/* Handle pending subscription messages: at most a batch. Returns true when more may be
 * waiting (the caller should run it again soon). */
bool publisher_drain(struct publisher *p);

/* Publish a normalized event (ev->kind == NORM_EVENT) with source "live" or "inbox" and the
 * bridge's agent id (NULL = null): it gets its seq now and goes out at the next
 * publisher_flush(). An event whose id was already published in this run is skipped:
 * returns 1. Returns 0 when committed, -1 when its envelope could not be built. */
int publisher_event(struct publisher *p, const struct norm_event *ev, const char *source,
		    const char *agent_id);

/* Publish a bridge.* event (type doubles as topic: "bridge.status", "bridge.recovery").
 * data is borrowed. bridge.status is also kept as the last value and re-sent, same seq, to
 * each new subscriber whose prefix matches it. Returns 0 or -1. */
int publisher_bridge(struct publisher *p, const char *type, json_t *data, const char *agent_id);

/* True when id was already published in this run (or is still remembered). */
bool publisher_seen(const struct publisher *p, const char *id);

uint64_t publisher_last_seq(const struct publisher *p);
const char *publisher_run(const struct publisher *p);
const struct publisher_stats *publisher_stats(const struct publisher *p);

/* Send what was committed since the last flush, in seq order (see publisher.c for why
 * envelopes wait for this); a subscriber whose queue is full misses them (an overflow,
 * counted). Replay, a status repeat and publisher_destroy() call it. */
void publisher_flush(struct publisher *p);

/* The same for the loop's owner, before every wait, except that a subscriber whose queue
 * is full holds back the envelope it refuses and those after it (in order, for the next
 * call). Returns true when nothing is left; *progress says whether anything went out. */
bool publisher_try_flush(struct publisher *p, bool *progress);

/* True when anything was sent on the socket since the last call (a flush, a replay's flush,
 * a status repeat): a send can consume ZMQ_FD's edge, so the owner must look at the socket
 * again before it waits (see fdwatch.h). Clears the flag. */
bool publisher_take_sent(struct publisher *p);

/* Replay: call fn for each envelope with seq > after_seq, oldest first, at most limit
 * (flushing first). Returns how many were visited; *oldest gets the oldest seq still held
 * (0 if none). */
size_t publisher_replay(struct publisher *p, uint64_t after_seq, size_t limit,
			int (*fn)(void *ud, uint64_t seq, const char *text, size_t len), void *ud,
			uint64_t *oldest);

#endif
