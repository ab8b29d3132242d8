/*
 * zmq_floor.c: ZeroMQ alone, as the bridge uses it: what one PUB -> SUB hop between two
 * processes costs on this machine, with no WebSocket and no bridge work in the path.
 *
 * It binds an XPUB (to see the subscriber arrive instead of sleeping), answers the first
 * subscription with a bridge.status "connected" envelope (sub_meter's ready signal), then
 * publishes --count two-frame messages shaped like the bridge's (a 58-byte topic, a --size
 * byte envelope with source "live", seq, data.sent_at_ns stamped just before the send), either
 * back to back (--rate 0) or paced by absolute clock_nanosleep() waits, the way the
 * devserver paces its emit (a timer, then a write). bench/sub_meter receives and measures
 * exactly as it does on the bridge's socket, so the difference is what the bridge adds.
 *
 * Usage: zmq_floor --endpoint E --count N [--rate R] [--size BYTES]
 */
#include <zmq.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MAX_SIZE 65536
/* as long as the bridge's: "contribution.received." and a session UUID */
#define TOPIC "contribution.received.00000000-0000-4000-8000-000000000000"

struct floor_opts {
	const char *endpoint;
	unsigned long long count;
	double rate; /* events/s; 0 = as fast as the socket takes them */
	size_t size;
};

static int s_parse(int argc, char **argv, struct floor_opts *o)
{
	o->endpoint = NULL;
	o->count = 0;
	o->rate = 0;
	o->size = 450;
	for (int i = 1; i + 1 < argc; i += 2) {
		char *end = NULL;

		if (!strcmp(argv[i], "--endpoint"))
			o->endpoint = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			o->count = strtoull(argv[i + 1], &end, 10);
		else if (!strcmp(argv[i], "--rate"))
			o->rate = strtod(argv[i + 1], &end);
		else if (!strcmp(argv[i], "--size"))
			o->size = strtoul(argv[i + 1], &end, 10);
		else
			return -1;
		if (end && *end)
			return -1;
	}
	return argc % 2 == 1 && o->endpoint && o->count > 0 && o->rate >= 0 && o->size <= MAX_SIZE
		   ? 0
		   : -1;
}

static int s_send2(void *sock, const char *topic, const char *body, size_t len)
{
	if (zmq_send(sock, topic, strlen(topic), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, body, len, 0) < 0) {
		fprintf(stderr, "zmq_floor: send: %s\n", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

/* Waits for a subscription that covers bridge.status (sub_meter subscribes to two prefixes),
 * then sends the status envelope it takes as its ready signal. */
static int s_await_subscriber(void *sock)
{
	static const char status[] = "{\"v\":1,\"run\":\"floor\",\"seq\":0,\"id\":null,"
				     "\"type\":\"bridge.status\",\"source\":\"bridge\","
				     "\"data\":{\"state\":\"connected\"}}";
	char sub[256];

	for (;;) {
		int n = zmq_recv(sock, sub, sizeof(sub), 0);

		if (n < 0) {
			fprintf(stderr, "zmq_floor: recv: %s\n", zmq_strerror(errno));
			return -1;
		}
		if (n >= 1 && sub[0] == 1 && (size_t)n - 1 <= strlen("bridge.status") &&
		    !memcmp(sub + 1, "bridge.status", (size_t)n - 1))
			return s_send2(sock, "bridge.status", status, sizeof(status) - 1);
	}
}

/* One envelope of about o->size bytes for seq, stamped now, into buf; returns its length. */
static size_t s_envelope(char *buf, size_t cap, const char *filler, unsigned long long seq)
{
	int n = snprintf(buf, cap,
			 "{\"v\":1,\"run\":\"floor\",\"seq\":%llu,\"id\":\"contribution:%016llx\","
			 "\"type\":\"contribution.received\",\"source\":\"live\",\"data\":{"
			 "\"text\":\"%s\",\"sent_at_ns\":%" PRId64 "}}",
			 seq, seq, filler, bench_now_ns());

	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static int s_publish(void *sock, const struct floor_opts *o)
{
	char *buf = malloc(MAX_SIZE + 512), *filler = malloc(o->size + 1);
	int64_t t0;
	size_t flen;
	int rc = -1;

	if (!buf || !filler)
		goto out;
	/* the filler makes up what the envelope's own members leave of --size */
	flen = s_envelope(buf, MAX_SIZE + 512, "", 1);
	flen = o->size > flen ? o->size - flen : 0;
	memset(filler, 'x', flen);
	filler[flen] = '\0';
	t0 = bench_mono_ns();
	for (unsigned long long i = 0; i < o->count; i++) {
		size_t len;

		if (o->rate > 0)
			bench_sleep_until(t0 + (int64_t)((long double)i * 1e9L / o->rate));
		len = s_envelope(buf, MAX_SIZE + 512, filler, i + 1);
		if (s_send2(sock, TOPIC, buf, len) != 0)
			goto out;
	}
	rc = 0;
out:
	free(buf);
	free(filler);
	return rc;
}

int main(int argc, char **argv)
{
	struct floor_opts o;
	void *ctx = NULL, *sock = NULL;
	int hwm = 0, rc = 1;

	if (s_parse(argc, argv, &o) != 0) {
		fprintf(stderr,
			"usage: zmq_floor --endpoint E --count N [--rate R] "
			"[--size BYTES (<= %d)]\n",
			MAX_SIZE);
		return 2;
	}
	ctx = zmq_ctx_new();
	sock = ctx ? zmq_socket(ctx, ZMQ_XPUB) : NULL;
	if (!sock || zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_bind(sock, o.endpoint) != 0) {
		fprintf(stderr, "zmq_floor: %s: %s\n", o.endpoint, zmq_strerror(errno));
		goto out;
	}
	printf("{\"ready\":true}\n");
	fflush(stdout);
	if (s_await_subscriber(sock) == 0 && s_publish(sock, &o) == 0)
		rc = 0;
out:
	if (sock)
		zmq_close(sock); /* default linger: the queue is delivered before the exit */
	if (ctx)
		zmq_ctx_term(ctx);
	return rc;
}
