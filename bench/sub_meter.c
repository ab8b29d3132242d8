/*
 * sub_meter.c: the benchmark's event counter and latency meter on the bridge's PUB socket.
 *
 * A ZeroMQ SUB (receive HWM unlimited, so the meter never drops what the bridge sent)
 * subscribed to "contribution.received" and "bridge.status". It prints one ready line when
 * a bridge.status with state "connected" arrives (the bridge re-sends its last status to
 * every new subscriber, so this proves both that the subscription is in place and that the
 * bridge is up). Then, for each live contribution envelope, it records receipt
 * CLOCK_REALTIME minus data.sent_at_ns (strstr scan, no JSON parser) and counts envelope
 * seq gaps. It ends after --count events, or --idle-ms without one (after the first), or
 * --timeout-ms; writes the latencies (native int64 ns) to --out when given and prints one
 * JSON summary line.
 *
 * Usage: sub_meter --endpoint E --count N [--idle-ms MS] [--timeout-ms MS] [--out FILE]
 */
#include <zmq.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_ENVELOPE 1048576

struct meter {
	uint64_t want, got, gaps, last_seq, other;
	int64_t first_sent_ns, first_recv_ns, last_recv_ns;
	struct bench_lat lat;
	int ready, record;
	char *buf; /* owned: one envelope, NUL-terminated */
};

/* The envelope's "seq" (the first one in the text: the envelope's own comes before data). */
static uint64_t s_seq(const char *env)
{
	const char *p = strstr(env, "\"seq\":");

	return p ? strtoull(p + 6, NULL, 10) : 0;
}

/* Handles one envelope of topic `topic`. */
static void s_envelope(struct meter *m, const char *topic, size_t tlen, int64_t now)
{
	int64_t sent;
	uint64_t seq;

	if (tlen >= 13 && !memcmp(topic, "bridge.status", 13)) {
		if (!m->ready && strstr(m->buf, "\"state\":\"connected\"")) {
			m->ready = 1;
			printf("{\"ready\":true}\n");
			fflush(stdout);
		}
		return;
	}
	if (!strstr(m->buf, "\"source\":\"live\"") || !bench_sent_at(m->buf, &sent)) {
		m->other++;
		return;
	}
	seq = s_seq(m->buf);
	if (m->got && seq > m->last_seq + 1)
		m->gaps += seq - m->last_seq - 1;
	m->last_seq = seq;
	if (!m->got) {
		m->first_recv_ns = now;
		m->first_sent_ns = sent;
	}
	m->got++;
	m->last_recv_ns = now;
	if (m->record)
		bench_lat_add(&m->lat, now - sent);
}

/* Reads one two-frame message if one is queued; returns 0, 1 when none is (EAGAIN), or -1
 * on a ZeroMQ error. */
static int s_recv_one(struct meter *m, void *sock)
{
	char topic[256];
	int tlen = zmq_recv(sock, topic, sizeof(topic), ZMQ_DONTWAIT);
	int more = 0, n;
	size_t ml = sizeof(more);

	if (tlen < 0)
		return zmq_errno() == EAGAIN ? 1 : -1;
	zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
	if (!more)
		return 0;
	n = zmq_recv(sock, m->buf, MAX_ENVELOPE - 1, 0);
	if (n < 0)
		return -1;
	m->buf[n < MAX_ENVELOPE - 1 ? n : MAX_ENVELOPE - 1] = '\0';
	s_envelope(m, topic, (size_t)tlen < sizeof(topic) ? (size_t)tlen : sizeof(topic),
		   bench_now_ns());
	/* drain any further frames of a malformed message */
	for (;;) {
		ml = sizeof(more);
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
		if (!more)
			break;
		if (zmq_recv(sock, topic, sizeof(topic), 0) < 0)
			return -1;
	}
	return 0;
}

static void s_usage(void)
{
	fprintf(stderr, "usage: sub_meter --endpoint E --count N [--idle-ms MS] [--timeout-ms MS] "
			"[--out FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct meter m;
	static const char *const names[] = {"--endpoint", NULL};
	struct bench_args a = {.names = names};
	const char *endpoint, *out;
	long long idle_ms, timeout_ms;
	int64_t deadline;
	void *ctx, *sock;
	int hwm = 0, rc = 0;
	const char *why = "";

	memset(&m, 0, sizeof(m));
	if (bench_parse_args(argc, argv, &a))
		s_usage();
	endpoint = a.values[0];
	out = a.out;
	idle_ms = a.idle_ms;
	timeout_ms = a.timeout_ms;
	m.want = a.count;
	if (!endpoint || !m.want)
		s_usage();
	m.record = out != NULL;
	m.buf = malloc(MAX_ENVELOPE);
	ctx = zmq_ctx_new();
	sock = ctx ? zmq_socket(ctx, ZMQ_SUB) : NULL;
	if (!m.buf || !sock) {
		fprintf(stderr, "sub_meter: setup failed\n");
		return 1;
	}
	zmq_setsockopt(sock, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "contribution.received", 21);
	zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "bridge.status", 13);
	if (zmq_connect(sock, endpoint)) {
		fprintf(stderr, "sub_meter: connect %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
		return 1;
	}
	deadline = bench_now_ns() + timeout_ms * 1000000LL;
	while (m.got < m.want) {
		zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
		int64_t now;

		if (zmq_poll(&it, 1, 100) < 0) {
			why = "poll failed";
			rc = 1;
			break;
		}
		/* Drain what is queued before looking at the clock again. Non-blocking receives
		 * until EAGAIN, as an efficient subscriber does: a zmq_poll() per message would
		 * cost a poll(2) each and take CPU from the bridge under test. */
		while (it.revents & ZMQ_POLLIN && m.got < m.want) {
			int r = s_recv_one(&m, sock);

			if (r != 0)
				break;
		}
		now = bench_now_ns();
		if (m.got && now - m.last_recv_ns > idle_ms * 1000000LL) {
			why = "idle";
			break;
		}
		if (now > deadline) {
			why = "overall timeout";
			rc = 1;
			break;
		}
	}
	if (out && bench_lat_write(&m.lat, out))
		fprintf(stderr, "sub_meter: cannot write %s\n", out);
	printf("{\"done\":true,\"ok\":%s,\"end\":\"%s\",\"received\":%" PRIu64
	       ",\"seq_gaps\":%" PRIu64 ",\"other\":%" PRIu64 ",\"first_sent_ns\":%" PRId64
	       ",\"first_recv_ns\":%" PRId64 ",\"last_recv_ns\":%" PRId64
	       ",\"cpu_us\":%lld,\"cpu_main_us\":%lld}\n",
	       rc ? "false" : "true", why, m.got, m.gaps, m.other, m.first_sent_ns, m.first_recv_ns,
	       m.last_recv_ns, bench_cpu_us(0), bench_cpu_us(1));
	fflush(stdout);
	zmq_close(sock);
	zmq_ctx_term(ctx);
	free(m.buf);
	bench_lat_free(&m.lat);
	return rc;
}
