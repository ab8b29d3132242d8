/* sub.c: plurum-pulse-sub, prints the bridge's events.
 *
 * Owns the command line and the output format. Each event's envelope is written exactly as
 * received plus "\n" and flushed at once (pipes see every line as it arrives); --pretty
 * writes the topic line, then the envelope indented (jansson). Exit status: 0 on --count
 * reached or SIGINT/SIGTERM, 1 when --timeout-ms passes without an event or on an I/O
 * error, 2 for a usage error. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "plurum_pulse.h"
#include "tool_common.h"

#define PROG "plurum-pulse-sub"

struct opts {
	const char *endpoint; /* NULL: the library's default */
	bool pretty;
	long long count;      /* 0: no limit */
	long long timeout_ms; /* -1: none */
	const char **prefixes;
	size_t nprefixes;
	const char *curve_server, *curve_client; /* key files, NULL: the environment's */
};

static void s_help(void)
{
	printf("Usage: " PROG " [--events ENDPOINT] [--pretty] [--count N] [--timeout-ms MS]\n"
	       "       [--curve-server-key FILE --curve-client-key FILE] [PREFIX...]\n"
	       "Print the events of plurum-pulse-bridge, one JSON envelope a line.\n\n"
	       "  --events ENDPOINT  the bridge's event socket (default: $" PPULSE_ENV_EVENTS
	       ", else\n"
	       "                     ipc://$XDG_RUNTIME_DIR/plurum-pulse/events.sock)\n"
	       "  --pretty           the topic on one line, then the envelope indented\n"
	       "  --count N          exit 0 after N events\n"
	       "  --timeout-ms MS    exit 1 when MS pass without an event (from the start,\n"
	       "                     then from each event)\n"
	       "  --curve-server-key FILE  CurveZMQ (a remote bridge, docs/curve.md): the\n"
	       "                     bridge's public key (default: $" PPULSE_ENV_CURVE_SERVER_KEY
	       ")\n"
	       "  --curve-client-key FILE  this client's secret key, mode 0600, whose public key\n"
	       "                     is in the bridge's --curve-clients (default: "
	       "$" PPULSE_ENV_CURVE_CLIENT_KEY ")\n"
	       "  PREFIX...          topic prefixes to subscribe to (default: everything),\n"
	       "                     e.g. session. contribution.received. bridge.status\n"
	       "  --help, --version\n\n"
	       "Exit status: 0 after --count events or on SIGINT/SIGTERM, 1 on --timeout-ms\n"
	       "or an error, 2 for bad usage.\n");
}

/* Parse argv into o; exits on --help, --version and usage errors. o->prefixes points into
 * a malloc'd array the caller frees. */
static void s_parse(int argc, char **argv, struct opts *o)
{
	const char *v;
	bool options_done = false;
	o->timeout_ms = -1;
	o->prefixes = calloc((size_t)argc, sizeof *o->prefixes);
	if (o->prefixes == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(1);
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (options_done || a[0] != '-' || strcmp(a, "-") == 0) {
			o->prefixes[o->nprefixes++] = a;
		} else if (strcmp(a, "--") == 0) {
			options_done = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			s_help();
			exit(0);
		} else if (strcmp(a, "--version") == 0) {
			printf(PROG " %s\n", PP_VERSION);
			exit(0);
		} else if (strcmp(a, "--pretty") == 0) {
			o->pretty = true;
		} else if (tool_flag_value(PROG, argc, argv, &i, "--events", &v)) {
			if (v[0] == '\0')
				tool_usage_error(PROG, "--events: empty endpoint");
			o->endpoint = v;
		} else if (tool_flag_value(PROG, argc, argv, &i, "--curve-server-key", &v)) {
			o->curve_server = v;
		} else if (tool_flag_value(PROG, argc, argv, &i, "--curve-client-key", &v)) {
			o->curve_client = v;
		} else if (tool_flag_value(PROG, argc, argv, &i, "--count", &v)) {
			o->count = tool_number(PROG, "--count", v, 1, INT64_MAX);
		} else if (tool_flag_value(PROG, argc, argv, &i, "--timeout-ms", &v)) {
			o->timeout_ms = tool_number(PROG, "--timeout-ms", v, 0, INT32_MAX);
		} else {
			tool_usage_error(PROG, "unknown option %s", a);
		}
	}
}

/* Write one event; false when stdout is gone or failing. */
static bool s_print(const struct opts *o, const ppulse_event_t *ev)
{
	if (o->pretty) {
		json_t *j = json_loadb(ev->envelope, ev->envelope_len, 0, NULL);
		char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
		printf("%s\n", ev->topic);
		if (text != NULL) {
			printf("%s\n", text);
		} else { /* not JSON: shown as it came */
			fwrite(ev->envelope, 1, ev->envelope_len, stdout);
			putchar('\n');
		}
		free(text);
		json_decref(j);
	} else {
		fwrite(ev->envelope, 1, ev->envelope_len, stdout);
		putchar('\n');
	}
	return fflush(stdout) == 0 && !ferror(stdout);
}

static int64_t s_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the socket or the signal pipe until deadline (-1: none).
 * Returns 1 socket readable, 0 timeout, -1 stop requested, -2 error. */
static int s_wait(void *zsock, int64_t deadline)
{
	for (;;) {
		zmq_pollitem_t items[2] = {{.socket = zsock, .events = ZMQ_POLLIN},
					   {.fd = tool_signal_fd(), .events = ZMQ_POLLIN}};
		long left = deadline < 0 ? -1 : (long)(deadline - s_now_ms());
		if (tool_stop)
			return -1;
		if (deadline >= 0 && left < 0)
			left = 0;
		int n = zmq_poll(items, 2, left);
		if (n < 0 && errno != EINTR)
			return -2;
		if (tool_stop || (n > 0 && (items[1].revents & ZMQ_POLLIN)))
			return -1;
		if (n > 0 && (items[0].revents & ZMQ_POLLIN))
			return 1;
		if (left == 0)
			return 0;
	}
}

/* Prints every event already queued. Returns 1 when that emptied the queue (or a signal
 * came: the caller's wait decides), 0 to exit with status 0 (count reached, reader gone),
 * -1 to exit with status 1 (an error, already reported). */
static int s_drain(const struct opts *o, ppulse_sub_t *sub, long long *seen)
{
	while (!tool_stop) {
		ppulse_event_t ev;
		int rc = ppulse_sub_recv(sub, &ev, 0);
		if (rc == PPULSE_ETIMEOUT || rc == PPULSE_EINTR)
			return 1; /* nothing (more) queued, or a signal */
		if (rc != PPULSE_OK) {
			fprintf(stderr, PROG ": receive: %s\n", ppulse_strerror(rc));
			return -1;
		}
		bool ok = s_print(o, &ev);
		ppulse_event_clear(&ev);
		if (!ok) /* the reader went away (EPIPE): nothing left to do */
			return errno == EPIPE ? 0 : -1;
		if (o->count > 0 && ++*seen >= o->count)
			return 0;
	}
	return 1;
}

/* The receive loop: one wait per burst, then everything queued. Returns the exit status. */
static int s_run(const struct opts *o, ppulse_sub_t *sub)
{
	long long seen = 0;
	for (;;) {
		int64_t deadline = o->timeout_ms < 0 ? -1 : s_now_ms() + o->timeout_ms;
		int w = s_wait(ppulse_sub_zsocket(sub), deadline), rc;
		if (w == -1)
			return 0;
		if (w == 0) {
			fprintf(stderr, PROG ": no event within %lld ms\n", o->timeout_ms);
			return 1;
		}
		if (w == -2) {
			fprintf(stderr, PROG ": poll: %s\n", zmq_strerror(errno));
			return 1;
		}
		rc = s_drain(o, sub, &seen);
		if (rc != 1)
			return rc < 0 ? 1 : 0;
	}
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	char err[512];
	int status = 1;
	s_parse(argc, argv, &o);
	if (tool_signals_install() != 0) {
		fprintf(stderr, PROG ": signals: %s\n", strerror(errno));
		goto out;
	}
	ppulse_curve_t keys;
	bool curve = o.curve_server || o.curve_client || getenv(PPULSE_ENV_CURVE_SERVER_KEY) ||
		     getenv(PPULSE_ENV_CURVE_CLIENT_KEY);
	if (curve &&
	    ppulse_curve_load(&keys, o.curve_server, o.curve_client, err, sizeof err) != PPULSE_OK)
		tool_usage_error(PROG, "%s", err);
	ppulse_sub_t *sub = ppulse_sub_new_curve(o.endpoint, o.prefixes, o.nprefixes,
						 curve ? &keys : NULL, err, sizeof err);
	if (curve)
		ppulse_curve_clear(&keys); /* the socket has its own copy */
	if (sub == NULL) {
		fprintf(stderr, PROG ": %s\n", err);
		status = TOOL_EXIT_USAGE; /* a bad endpoint is the caller's argument */
		goto out;
	}
	status = s_run(&o, sub);
	ppulse_sub_destroy(&sub);
out:
	free(o.prefixes);
	return status;
}
