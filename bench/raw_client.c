/*
 * raw_client.c: the benchmark's reference point, the least a client of the Pulse WebSocket
 * can do with each event.
 *
 * It connects like the bridge does (libwebsockets 4.1.6 client, no Origin header, auth by
 * the first message {"type":"auth","api_key":K}), prints one ready line on stdout after
 * auth_ok, then only counts text messages that carry "sent_at_ns" and records, for each,
 * receipt CLOCK_REALTIME minus data.sent_at_ns (found with strstr: no JSON parser). It ends
 * after --count events or --idle-ms without one (after the first), writes the latencies as
 * native int64 ns to --out (kept only when --out is given, so a throughput run's peak RSS
 * is the client's own), and prints one JSON summary line with its own peak RSS.
 *
 * The API key comes from the environment (BENCH_API_KEY), never argv.
 *
 * Usage: raw_client --url ws[s]://HOST:PORT/PATH [--ca-file PEM] --count N
 *                   [--idle-ms MS] [--timeout-ms MS] [--out FILE]
 */
#include <libwebsockets.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

struct raw {
	const char *key;
	uint64_t want;
	int64_t idle_ns, deadline_ns;
	/* the current message, reassembled from lws fragments; owned */
	char *msg;
	size_t msg_len, msg_cap;
	struct bench_lat lat;
	uint64_t frames;
	int64_t first_recv_ns, last_recv_ns, first_sent_ns;
	int authed, done, failed;
	int record; /* keep latencies (only with --out: the throughput run measures RSS) */
	struct lws_context *ctx;
	lws_sorted_usec_list_t tick;
	char why[160];
};

static struct raw g_raw;

/* Handles one whole text message. */
static void s_message(struct raw *r, int64_t now)
{
	int64_t sent;

	if (!r->authed) {
		if (strstr(r->msg, "\"auth_ok\"")) {
			r->authed = 1;
			printf("{\"ready\":true}\n");
			fflush(stdout);
		} else {
			snprintf(r->why, sizeof(r->why), "auth refused");
			r->failed = r->done = 1;
		}
		return;
	}
	if (!bench_sent_at(r->msg, &sent))
		return; /* pings, pongs and other pushes are not counted */
	if (!r->frames) {
		r->first_recv_ns = now;
		r->first_sent_ns = sent;
	}
	r->frames++;
	r->last_recv_ns = now;
	if (r->record)
		bench_lat_add(&r->lat, now - sent);
	if (r->frames >= r->want)
		r->done = 1;
}

/* Appends a fragment; returns 0 or -1 (out of memory). */
static int s_append(struct raw *r, const void *in, size_t len)
{
	if (r->msg_len + len + 1 > r->msg_cap) {
		size_t cap = (r->msg_len + len + 1) * 2;
		char *n = realloc(r->msg, cap);

		if (!n)
			return -1;
		r->msg = n;
		r->msg_cap = cap;
	}
	memcpy(r->msg + r->msg_len, in, len);
	r->msg_len += len;
	r->msg[r->msg_len] = '\0';
	return 0;
}

static int s_send_auth(struct lws *wsi, const struct raw *r)
{
	unsigned char buf[LWS_PRE + 256];
	int n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
			 "{\"type\":\"auth\",\"api_key\":\"%s\"}", r->key);

	if (n < 0 || (size_t)n >= sizeof(buf) - LWS_PRE)
		return -1;
	return lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n ? -1 : 0;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct raw *r = &g_raw;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return s_send_auth(wsi, r);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (s_append(r, in, len))
			return -1;
		if (lws_is_final_fragment(wsi)) {
			s_message(r, bench_now_ns());
			r->msg_len = 0;
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(r->why, sizeof(r->why), "connect failed: %s", in ? (const char *)in : "?");
		r->failed = r->done = 1;
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (!r->done) {
			snprintf(r->why, sizeof(r->why), "connection closed");
			r->failed = r->done = 1;
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols s_protocols[] = {
    {"raw-bench", s_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Every 100 ms: the idle and overall deadlines. */
static void s_tick(lws_sorted_usec_list_t *sul)
{
	struct raw *r = lws_container_of(sul, struct raw, tick);
	int64_t now = bench_now_ns();

	if (r->frames && now - r->last_recv_ns > r->idle_ns)
		r->done = 1;
	if (now > r->deadline_ns) {
		snprintf(r->why, sizeof(r->why), "overall timeout");
		r->done = 1;
	}
	if (!r->done)
		lws_sul_schedule(r->ctx, 0, &r->tick, s_tick, 100 * LWS_US_PER_MS);
}

/* Connects to url; returns 0 or -1 with why filled. */
static int s_connect(struct raw *r, const char *url_in)
{
	struct lws_client_connect_info cc;
	char url[512], path[520];
	const char *prot, *addr, *p;
	int port;

	snprintf(url, sizeof(url), "%s", url_in);
	if (lws_parse_uri(url, &prot, &addr, &port, &p)) {
		snprintf(r->why, sizeof(r->why), "bad url");
		return -1;
	}
	snprintf(path, sizeof(path), "/%s", p);
	memset(&cc, 0, sizeof(cc));
	cc.context = r->ctx;
	cc.address = addr;
	cc.port = port;
	cc.path = path;
	cc.host = addr;
	cc.origin = NULL; /* the server refuses an Origin header */
	cc.protocol = NULL;
	cc.local_protocol_name = "raw-bench";
	cc.ssl_connection = strcmp(prot, "wss") ? 0 : LCCSCF_USE_SSL;
	if (!lws_client_connect_via_info(&cc)) {
		snprintf(r->why, sizeof(r->why), "connect failed at once");
		return -1;
	}
	return 0;
}

static void s_usage(void)
{
	fprintf(stderr, "usage: raw_client --url URL [--ca-file PEM] --count N [--idle-ms MS] "
			"[--timeout-ms MS] [--out FILE]  (key in BENCH_API_KEY)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct raw *r = &g_raw;
	static const char *const names[] = {"--url", "--ca-file", NULL};
	struct bench_args a = {.names = names};
	const char *url, *ca, *out;
	long long idle_ms, timeout_ms;
	int rc = 1;

	if (bench_parse_args(argc, argv, &a))
		s_usage();
	url = a.values[0];
	ca = a.values[1];
	out = a.out;
	idle_ms = a.idle_ms;
	timeout_ms = a.timeout_ms;
	r->want = a.count;
	r->record = out != NULL;
	r->key = getenv("BENCH_API_KEY");
	if (!url || !r->key || !r->want)
		s_usage();
	signal(SIGPIPE, SIG_IGN);
	r->idle_ns = idle_ms * 1000000LL;
	r->deadline_ns = bench_now_ns() + timeout_ms * 1000000LL;
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = s_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = ca;
	/* the bridge's read size (bridge/daemon/bridge.c): the same library settings */
	info.pt_serv_buf_size = 65536;
	r->ctx = lws_create_context(&info);
	if (!r->ctx) {
		fprintf(stderr, "raw_client: lws_create_context failed\n");
		return 1;
	}
	if (s_connect(r, url) == 0) {
		lws_sul_schedule(r->ctx, 0, &r->tick, s_tick, 100 * LWS_US_PER_MS);
		while (!r->done && lws_service(r->ctx, 0) >= 0)
			;
	} else {
		r->failed = 1;
	}
	lws_sul_cancel(&r->tick);
	if (out && bench_lat_write(&r->lat, out))
		fprintf(stderr, "raw_client: cannot write %s\n", out);
	printf("{\"done\":true,\"ok\":%s,\"error\":\"%s\",\"received\":%" PRIu64
	       ",\"first_sent_ns\":%" PRId64 ",\"first_recv_ns\":%" PRId64
	       ",\"last_recv_ns\":%" PRId64 ",\"vmhwm_kb\":%ld,\"vmrss_kb\":%ld,\"cpu_us\":%lld}\n",
	       r->failed ? "false" : "true", r->why, r->frames, r->first_sent_ns, r->first_recv_ns,
	       r->last_recv_ns, bench_proc_kb("VmHWM:"), bench_proc_kb("VmRSS:"), bench_cpu_us(0));
	fflush(stdout);
	rc = r->failed ? 1 : 0;
	lws_context_destroy(r->ctx);
	free(r->msg);
	bench_lat_free(&r->lat);
	return rc;
}
