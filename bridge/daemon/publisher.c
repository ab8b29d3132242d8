/* publisher.c: owns the XPUB socket and everything that gives events their identity in a
 * run: seq, at-most-once by id, the replay ring, and bridge.status's last-value cache.
 *
 * XPUB rather than PUB so that subscriptions are visible: each new subscription whose
 * prefix matches "bridge.status" gets the cached status at once (ZMQ_XPUB_VERBOSE passes
 * every subscribe, even repeated prefixes, so no new subscriber is missed). A copy goes to
 * every subscriber of that prefix: the contract says a repeated seq on bridge.status is
 * such a repeat.
 *
 * A full subscriber: libzmq skips a subscriber whose queue (--pub-hwm) is full without
 * saying so. With ZMQ_XPUB_NODROP the send fails instead (EAGAIN, nobody got it). The
 * loop's flush (publisher_try_flush) then holds the envelope and those after it, in order,
 * and the bridge stops reading upstream (TCP holds the rest) until the subscriber has read
 * its queue down to half (ZMQ_FD wakes the loop) or --pub-stall-ms pass without progress.
 * Why hold: a bridge that reads faster than a subscriber takes would otherwise queue the
 * difference in its own memory, or drop it. A plain publisher_flush() never holds: the
 * envelope goes out again in the default lossy mode to everyone with room, and that is an
 * overflow, counted. That send parks the full queue: libzmq leaves it out of every envelope
 * until its subscriber has read it down to half. So one count is one overflow, which its
 * subscriber sees as one seq gap; how many envelopes the gap holds is known only there.
 *
 * Envelopes get their seq (and their place in the dedup set) when committed, but go out
 * when the loop's owner calls publisher_flush(), once per event-loop pass: all that one
 * upstream read produced is sent back to back. Why: ZeroMQ's I/O thread sleeps whenever
 * its queue runs dry, and a send into an empty queue wakes it (an eventfd write and a
 * cross-CPU wake-up, then the same again in the subscriber). Sent one at a time between
 * parsing and formatting, nearly every envelope paid that; sent in a burst, the burst
 * pays it once. Nothing waits for a timer: the pass is at most one read's worth of work,
 * and a lone event goes out as soon as its pass ends. The ring takes each envelope once
 * it is sent, so a ring smaller than a pass never drops one unsent.
 *
 * An envelope is sent in place, not copied: ZeroMQ and the ring each hold a reference to
 * the one text (shtext.h says why that matters more than the copy). */
#include "publisher.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "curve.h"
#include "dedup.h"
#include "log.h"
#include "ring.h"
#include "shtext.h"
#include "topic.h"

#define DRAIN_BATCH 256
#define LINGER_MS   500
/* room for envelopes committed but not yet sent; it grows while a full subscriber holds
 * them (one upstream read's worth at most) */
#define PENDING_START 256
/* a topic is a prefix (the longest, "contribution.received.", is 22 bytes) and one segment */
#define TOPIC_MAX (32 + TOPIC_SEGMENT_MAX + 1)

/* An envelope with its seq, waiting for publisher_flush(). */
struct pending {
	uint64_t seq;
	char *text; /* a shtext: this reference passes to the ring once sent */
	size_t len;
	char topic[TOPIC_MAX];
};

struct publisher {
	void *sock;
	struct shtext_bin *bin; /* borrowed: envelopes ZeroMQ released last */
	char run[40];
	uint64_t seq;
	struct ring *ring;
	struct dedup *seen;
	char *status_text; /* last bridge.status envelope (a shtext: one reference) */
	size_t status_len;
	struct pending *pending;
	size_t npending, cap_pending;
	bool held; /* the last try_flush left envelopes a full subscriber refused */
	bool sent; /* a send since publisher_take_sent(): ZMQ_FD's edge may be gone */
	struct publisher_stats stats;
};

struct publisher *publisher_new(void *zctx, struct shtext_bin *bin, const struct curve *curve,
				const char *endpoint, const char *run,
				const struct publisher_limits *limits, char *err, size_t errlen)
{
	struct publisher *p = calloc(1, sizeof(*p));
	int one = 1, hwm = limits->hwm > 0 ? limits->hwm : 1, linger = LINGER_MS;

	if (!p)
		goto nomem;
	p->bin = bin;
	snprintf(p->run, sizeof(p->run), "%s", run);
	p->ring = ring_new(limits->ring ? limits->ring : 1);
	p->seen = dedup_new(limits->dedup ? limits->dedup : 1);
	p->pending = malloc(PENDING_START * sizeof(*p->pending));
	p->cap_pending = PENDING_START;
	if (!p->ring || !p->seen || !p->pending)
		goto nomem;
	p->sock = zmq_socket(zctx, ZMQ_XPUB);
	if (!p->sock) {
		snprintf(err, errlen, "events socket: %s", zmq_strerror(errno));
		goto fail;
	}
	zmq_setsockopt(p->sock, ZMQ_XPUB_VERBOSE, &one, sizeof(one));
	zmq_setsockopt(p->sock, ZMQ_XPUB_NODROP, &one, sizeof(one));
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (curve_bind(curve, p->sock, endpoint, "--events", err, errlen) != 0)
		goto fail;
	return p;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	publisher_destroy(&p);
	return NULL;
}

void publisher_destroy(struct publisher **self_p)
{
	struct publisher *p;

	if (!self_p || !*self_p)
		return;
	p = *self_p;
	if (p->sock) {
		publisher_flush(p); /* what was committed goes out before the socket closes */
		zmq_close(p->sock);
	}
	for (size_t i = 0; i < p->npending; i++)
		shtext_unref(p->pending[i].text);
	free(p->pending);
	ring_destroy(&p->ring);
	dedup_destroy(&p->seen);
	shtext_unref(p->status_text);
	free(p);
	*self_p = NULL;
}

int publisher_fd(const struct publisher *p)
{
	int fd = -1;
	size_t sz = sizeof(fd);

	zmq_getsockopt(p->sock, ZMQ_FD, &fd, &sz);
	return fd;
}

static bool s_readable(void *sock)
{
	int ev = 0;
	size_t sz = sizeof(ev);

	if (zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) != 0)
		return false;
	return (ev & ZMQ_POLLIN) != 0;
}

static void s_lossy(struct publisher *p, bool lossy)
{
	int nodrop = !lossy;

	zmq_setsockopt(p->sock, ZMQ_XPUB_NODROP, &nodrop, sizeof(nodrop));
}

/* Close a message that did not go out, keeping errno (why the send failed). */
static void s_discard(zmq_msg_t *m)
{
	int e = errno;

	zmq_msg_close(m);
	errno = e;
}

/* One frame; when a full subscriber refuses it, once more in lossy mode (the caller counts
 * the overflow through *refused). Never waits. The message is sent or closed. */
static int s_frame(struct publisher *p, zmq_msg_t *m, int more, bool *refused)
{
	int rc = zmq_msg_send(m, p->sock, more | ZMQ_DONTWAIT);

	if (rc < 0 && errno == EAGAIN) {
		*refused = true;
		s_lossy(p, true);
		rc = zmq_msg_send(m, p->sock, more | ZMQ_DONTWAIT);
		s_lossy(p, false);
	}
	if (rc < 0) {
		s_discard(m);
		return -1;
	}
	return 0;
}

static int s_topic_msg(zmq_msg_t *m, const char *topic)
{
	size_t len = strlen(topic);

	if (zmq_msg_init_size(m, len) != 0)
		return -1;
	memcpy(zmq_msg_data(m), topic, len);
	return 0;
}

/* ZeroMQ's free function for an envelope it sent in place: it runs in whichever thread
 * drops the message last, often an I/O thread, so the text goes through the bin. */
static void s_release(void *data, void *hint)
{
	shtext_unref_into(data, hint);
}

/* A message over text itself, holding a reference of its own (shtext.h says why). */
static int s_text_msg(struct publisher *p, zmq_msg_t *m, char *text, size_t len)
{
	if (zmq_msg_init_data(m, shtext_ref(text), len, s_release, p->bin) == 0)
		return 0;
	shtext_unref(text);
	return -1;
}

/* Topic and envelope. With hold, a full subscriber's refusal sends nothing and returns 1
 * (libzmq checks the queues at a message's first frame only, so it is all or nothing);
 * else it is an overflow (s_frame). Returns 0 sent, 1 held, -1 failed. */
static int s_send(struct publisher *p, const char *topic, char *text, size_t len, bool hold)
{
	bool refused = false;
	zmq_msg_t m;
	int rc;

	p->sent = true;
	if (s_topic_msg(&m, topic) != 0) {
		rc = -1;
	} else if (hold) {
		rc = zmq_msg_send(&m, p->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ? -1 : 0;
		if (rc != 0) {
			s_discard(&m);
			if (errno == EAGAIN)
				return 1;
		}
	} else {
		rc = s_frame(p, &m, ZMQ_SNDMORE, &refused);
	}
	if (rc == 0)
		rc = s_text_msg(p, &m, text, len) == 0 ? s_frame(p, &m, 0, &refused) : -1;
	if (refused)
		p->stats.overflows++;
	if (rc != 0)
		p->stats.send_errors++;
	return rc;
}

/* A subscription message is 0x01 + prefix (0x00 + prefix to unsubscribe). */
static void s_on_subscription(struct publisher *p, const unsigned char *msg, size_t len)
{
	static const char status_topic[] = "bridge.status";
	size_t plen;

	if (len < 1 || msg[0] != 1)
		return;
	p->stats.subscriptions++;
	plen = len - 1;
	if (!p->status_text || plen > strlen(status_topic) ||
	    memcmp(msg + 1, status_topic, plen) != 0)
		return;
	publisher_flush(p); /* the repeat comes after every envelope committed before it */
	if (s_send(p, status_topic, p->status_text, p->status_len, false) == 0)
		p->stats.status_repeats++;
}

bool publisher_drain(struct publisher *p)
{
	unsigned char buf[512];

	for (int i = 0; i < DRAIN_BATCH; i++) {
		int n;

		if (!s_readable(p->sock))
			return false;
		n = zmq_recv(p->sock, buf, sizeof(buf), ZMQ_DONTWAIT);
		if (n < 0)
			return false;
		/* a prefix longer than buf is truncated: it cannot match bridge.status anyway */
		s_on_subscription(p, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
	}
	return true;
}

/* The envelope of the next seq: data as jansson values, or as text (the fast path). */
static char *s_envelope(struct publisher *p, const char *id, const char *type, const char *source,
			const char *agent_id, json_t *data, const char *data_json,
			size_t data_json_len, size_t *len)
{
	char when[32];

	time_iso8601_ms(clock_wall_ms(), when);
	if (data_json)
		return envelope_dump_text(p->run, (unsigned long long)(p->seq + 1), id, type,
					  source, when, agent_id, data_json, data_json_len, len);
	return envelope_dump(p->run, (unsigned long long)(p->seq + 1), id, type, source, when,
			     agent_id, data, len);
}

/* Send one envelope; the replay ring then keeps it (taking ownership: no copy), so replay
 * can serve it even when the send failed. Held (hold, and a full subscriber): returns 1,
 * and text stays the caller's. */
static int s_out(struct publisher *p, uint64_t seq, const char *topic, char *text, size_t len,
		 bool hold)
{
	int rc = s_send(p, topic, text, len, hold);

	if (rc > 0)
		return 1;
	if (rc != 0)
		log_warn("events socket: send of seq %llu failed: %s", (unsigned long long)seq,
			 zmq_strerror(errno));
	if (ring_push_take(p->ring, seq, text, len) != 0)
		log_warn("replay ring: cannot keep seq %llu", (unsigned long long)seq);
	return 0;
}

/* Sends the pending envelopes in order; with hold, stops at the first a full subscriber
 * refuses. Returns how many went out (the rest move to the front). */
static size_t s_flush(struct publisher *p, bool hold)
{
	size_t i = 0;

	shtext_bin_empty(p->bin); /* what ZeroMQ released since the last pass */
	for (; i < p->npending; i++) {
		struct pending *e = &p->pending[i];

		if (s_out(p, e->seq, e->topic, e->text, e->len, hold) > 0)
			break;
	}
	memmove(p->pending, p->pending + i, (p->npending - i) * sizeof(*p->pending));
	p->npending -= i;
	return i;
}

void publisher_flush(struct publisher *p)
{
	s_flush(p, false);
	p->held = false;
}

bool publisher_try_flush(struct publisher *p, bool *progress)
{
	size_t sent = s_flush(p, true);

	*progress = sent > 0;
	if (p->npending && !p->held)
		p->stats.holds++; /* one count a wait, however many passes it lasts */
	p->held = p->npending > 0;
	return !p->held;
}

static int s_grow_pending(struct publisher *p)
{
	struct pending *np = realloc(p->pending, 2 * p->cap_pending * sizeof(*np));

	if (!np)
		return -1;
	p->pending = np;
	p->cap_pending *= 2;
	return 0;
}

/* Give the next seq to text (taking ownership) and queue it for the next flush. */
static int s_commit(struct publisher *p, const char *topic, char *text, size_t len)
{
	size_t tlen = strlen(topic);
	struct pending *e;

	p->seq++;
	p->stats.published++;
	if (tlen >= TOPIC_MAX) { /* cannot happen with topic.h's limit; never truncated */
		publisher_flush(p);
		s_out(p, p->seq, topic, text, len, false);
		return 0;
	}
	if (p->npending == p->cap_pending) {
		s_flush(p, true); /* what fits goes now; a full subscriber holds the rest */
		if (p->npending == p->cap_pending && s_grow_pending(p) != 0)
			publisher_flush(p); /* no memory to hold them: the full one misses them */
	}
	e = &p->pending[p->npending++];
	e->seq = p->seq;
	e->text = text;
	e->len = len;
	memcpy(e->topic, topic, tlen + 1);
	return 0;
}

int publisher_event(struct publisher *p, const struct norm_event *ev, const char *source,
		    const char *agent_id)
{
	size_t len = 0;
	struct dedup_key key = {0};
	char *text;

	if (ev->id[0]) {
		key = dedup_key(ev->id);
		if (dedup_contains_key(p->seen, key)) {
			p->stats.duplicates++;
			return 1;
		}
	}
	text = s_envelope(p, ev->id, ev->type, source, agent_id, ev->data, ev->data_json,
			  ev->data_json_len, &len);
	if (!text)
		return -1;
	if (ev->id[0])
		dedup_insert_key(p->seen, key);
	return s_commit(p, ev->topic, text, len);
}

int publisher_bridge(struct publisher *p, const char *type, json_t *data, const char *agent_id)
{
	size_t len = 0;
	char *text = s_envelope(p, NULL, type, "bridge", agent_id, data, NULL, 0, &len);

	if (!text)
		return -1;
	if (strcmp(type, "bridge.status") == 0) {
		shtext_unref(p->status_text);
		p->status_text = shtext_ref(text);
		p->status_len = len;
	}
	return s_commit(p, type, text, len);
}

bool publisher_take_sent(struct publisher *p)
{
	bool sent = p->sent;

	p->sent = false;
	return sent;
}

bool publisher_seen(const struct publisher *p, const char *id)
{
	return dedup_contains(p->seen, id);
}

uint64_t publisher_last_seq(const struct publisher *p)
{
	return p->seq;
}

const char *publisher_run(const struct publisher *p)
{
	return p->run;
}

const struct publisher_stats *publisher_stats(const struct publisher *p)
{
	return &p->stats;
}

size_t publisher_replay(struct publisher *p, uint64_t after_seq, size_t limit,
			int (*fn)(void *ud, uint64_t seq, const char *text, size_t len), void *ud,
			uint64_t *oldest)
{
	publisher_flush(p); /* replay serves every seq committed so far */
	if (oldest)
		*oldest = ring_oldest_seq(p->ring);
	return ring_each_after(p->ring, after_seq, limit, fn, ud);
}
