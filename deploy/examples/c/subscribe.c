/* subscribe.c: an example subscriber of plurum-pulse-bridge that notices missed events.
 *
 * Owns: subscribing with topic prefixes (ppulse_sub_*), reading envelopes with jansson, and
 * filling a gap in "seq" with the bridge's replay command (ppulse_ctl_replay).
 *
 * Why gaps happen: ZeroMQ PUB drops messages for a subscriber that is too slow (its queue is
 * full) or not yet connected. The bridge numbers every event it publishes 1, 2, 3... within
 * a run, so a subscriber sees a jump and can ask for what it missed. When subscribing with
 * prefixes, jumps are normal (other topics take numbers too): the replayed events are then
 * filtered with the same prefixes, so only real losses are delivered.
 *
 * Usage: subscribe [--events EP] [--commands EP] [--after SEQ] [--count N]
 *                  [--timeout-ms MS] [PREFIX...]
 *   --after SEQ  the last seq this program handled before (e.g. saved across a restart of
 *                this program): everything after it in the bridge's current run is replayed.
 * Output, one line per event: "event seq=N type=T source=S topic=P" (live) or
 * "replayed seq=N type=T source=S topic=P" (filled from the replay ring), and one
 * "gap: ..." line per jump. Exit status: 0 after --count events, 1 on an error or timeout,
 * 2 for bad usage.
 *
 * Build: make (uses pkg-config plurum-pulse jansson). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <plurum_pulse.h>

#define MAX_PREFIXES	  16
#define TOPIC_SEGMENT_MAX 64

struct opts {
	const char *events;   /* NULL: the library's default */
	const char *commands; /* NULL: the library's default */
	const char *prefixes[MAX_PREFIXES];
	size_t nprefixes;
	bool have_after;
	uint64_t after;
	long count;	/* 0: forever */
	int timeout_ms; /* -1: forever */
};

struct state {
	ppulse_ctl_t *ctl;
	const struct opts *o;
	char run[80];	   /* the run the seq numbers belong to ("" until the first event) */
	uint64_t last_seq; /* the highest seq handled in run (0: none yet) */
	long delivered;
};

static int s_usage(const char *msg)
{
	fprintf(stderr,
		"subscribe: %s\nusage: subscribe [--events EP] [--commands EP] [--after SEQ] "
		"[--count N] [--timeout-ms MS] [PREFIX...]\n",
		msg);
	return 2;
}

/* Parse argv into o; returns 0, or 2 after printing a usage error. */
static int s_parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(a, "--events") == 0 && has_value)
			o->events = argv[++i];
		else if (strcmp(a, "--commands") == 0 && has_value)
			o->commands = argv[++i];
		else if (strcmp(a, "--after") == 0 && has_value) {
			o->have_after = true;
			o->after = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(a, "--count") == 0 && has_value)
			o->count = strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--timeout-ms") == 0 && has_value)
			o->timeout_ms = (int)strtol(argv[++i], NULL, 10);
		else if (strncmp(a, "--", 2) == 0)
			return s_usage("unknown option or missing value");
		else if (o->nprefixes == MAX_PREFIXES)
			return s_usage("too many prefixes");
		else
			o->prefixes[o->nprefixes++] = a;
	}
	return 0;
}

/* Append one topic segment cleaned as the bridge does (lower-cased, every character
 * outside [a-z0-9_-] replaced by '_', cut to 64 bytes; "none" when null or empty). */
static void s_append_segment(char *out, size_t outlen, const char *seg)
{
	size_t n = strlen(out);
	if (!seg || !*seg)
		seg = "none";
	for (size_t i = 0; seg[i] && i < TOPIC_SEGMENT_MAX && n + 1 < outlen; i++) {
		char c = seg[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
		out[n++] = ok ? c : '_';
	}
	out[n] = '\0';
}

/* The topic the bridge published env under (replayed envelopes carry no topic). */
static void s_topic_of(json_t *env, char *out, size_t outlen)
{
	const char *type = json_string_value(json_object_get(env, "type"));
	json_t *data = json_object_get(env, "data");
	const char *key = NULL;

	snprintf(out, outlen, "%s", type ? type : "");
	if (!type)
		return;
	if (strcmp(type, PPULSE_TYPE_SESSION_OPENED) == 0)
		key = json_string_value(json_object_get(data, "domain"));
	else if (strcmp(type, PPULSE_TYPE_SESSION_CLOSED) == 0)
		key = json_string_value(json_object_get(data, "outcome"));
	else if (strcmp(type, PPULSE_TYPE_CONTRIBUTION_RECEIVED) == 0)
		key = json_string_value(json_object_get(data, "session_id"));
	else
		return; /* bridge.* and upstream.*: the topic is the type */
	snprintf(out + strlen(out), outlen - strlen(out), ".");
	s_append_segment(out, outlen, key);
}

static bool s_matches(const struct opts *o, const char *topic)
{
	if (o->nprefixes == 0)
		return true;
	for (size_t i = 0; i < o->nprefixes; i++)
		if (strncmp(topic, o->prefixes[i], strlen(o->prefixes[i])) == 0)
			return true;
	return false;
}

/* Handle one event: here, print it. A real program would act on env's data. */
static void s_deliver(struct state *st, const char *how, json_t *env, const char *topic)
{
	printf("%s seq=%" PRIu64 " type=%s source=%s topic=%s\n", how,
	       (uint64_t)json_integer_value(json_object_get(env, "seq")),
	       json_string_value(json_object_get(env, "type")),
	       json_string_value(json_object_get(env, "source")), topic);
	st->delivered++;
}

/* Ask the bridge for the events after st->last_seq and before upto; deliver those that
 * match the prefixes. Returns 0, or -1 when the bridge could not be asked. */
static int s_fill_gap(struct state *st, uint64_t upto)
{
	uint64_t want = upto - st->last_seq - 1;
	char *reply = NULL;
	json_t *root = NULL;
	int rc = -1, filled = 0;

	int lrc = ppulse_ctl_replay(st->ctl, st->last_seq, (uint32_t)want, &reply, 5000);
	if (lrc != PPULSE_OK) {
		fprintf(stderr, "subscribe: replay: %s\n", ppulse_strerror(lrc));
		goto out;
	}
	root = json_loads(reply, 0, NULL); /* owned here: json_decref at out */
	if (!root || !json_is_true(json_object_get(root, "ok"))) {
		fprintf(stderr, "subscribe: replay refused: %s\n", reply);
		goto out;
	}
	const char *run = json_string_value(json_object_get(root, "run"));
	if (!run || strcmp(run, st->run) != 0) {
		printf("gap: the bridge restarted (run %s): nothing to replay\n", run ? run : "?");
		rc = 0;
		goto out;
	}
	uint64_t oldest = (uint64_t)json_integer_value(json_object_get(root, "oldest_seq"));
	if (oldest > st->last_seq + 1)
		printf("gap: replay incomplete: the ring starts at seq %" PRIu64 "\n", oldest);
	size_t i;
	json_t *env; /* borrowed from root */
	json_array_foreach(json_object_get(root, "events"), i, env)
	{
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(env, "seq"));
		char topic[256];
		if (seq <= st->last_seq || seq >= upto)
			continue;
		s_topic_of(env, topic, sizeof topic);
		if (s_matches(st->o, topic)) {
			s_deliver(st, "replayed", env, topic);
			filled++;
		}
	}
	printf("gap: seq %" PRIu64 "..%" PRIu64 " missing, %d matching event(s) replayed\n",
	       st->last_seq + 1, upto - 1, filled);
	rc = 0;
out:
	json_decref(root);
	free(reply);
	return rc;
}

/* One received event: detect a new run, a repeat, or a gap, then deliver it. */
static int s_on_event(struct state *st, const ppulse_event_t *ev)
{
	json_error_t jerr;
	json_t *env = json_loadb(ev->envelope, ev->envelope_len, 0, &jerr); /* owned here */
	if (!env) {
		fprintf(stderr, "subscribe: bad envelope: %s\n", jerr.text);
		return 0; /* skip it, keep going */
	}
	const char *run = json_string_value(json_object_get(env, "run"));
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(env, "seq"));
	int rc = 0;

	if (run && strcmp(run, st->run) != 0) {
		bool first = st->run[0] == '\0';
		if (!first)
			printf("new run %s: the bridge restarted, seq starts again\n", run);
		snprintf(st->run, sizeof st->run, "%s", run);
		/* --after applies to the first run seen. Otherwise the first event is the start
		 * (when it is the cached bridge.status, whose seq is older, what the bridge
		 * published since that status is replayed: a catch-up, bounded by the ring). */
		st->last_seq = first && st->o->have_after ? st->o->after : seq - 1;
	}
	if (seq <= st->last_seq) {
		/* bridge.status is re-sent to each new subscriber with its original seq. */
		printf("repeat seq=%" PRIu64 " type=%s\n", seq,
		       json_string_value(json_object_get(env, "type")));
		goto out;
	}
	if (seq > st->last_seq + 1 && s_fill_gap(st, seq) != 0)
		rc = -1;
	s_deliver(st, "event", env, ev->topic);
	st->last_seq = seq;
out:
	json_decref(env);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = {.timeout_ms = -1};
	struct state st = {.o = &o};
	char err[256];
	ppulse_sub_t *sub = NULL;
	int status = 1;

	if (s_parse_args(argc, argv, &o) != 0)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0); /* one line per event, even into a pipe */
	sub = ppulse_sub_new(o.events, o.prefixes, o.nprefixes, err, sizeof err);
	st.ctl = ppulse_ctl_new(o.commands, err, sizeof err);
	if (!sub || !st.ctl) {
		fprintf(stderr, "subscribe: %s\n", err);
		goto out;
	}
	while (o.count == 0 || st.delivered < o.count) {
		ppulse_event_t ev = {0};
		int rc = ppulse_sub_recv(sub, &ev, o.timeout_ms);
		if (rc == PPULSE_EINTR) {
			status = 0;
			goto out;
		}
		if (rc != PPULSE_OK) {
			fprintf(stderr, "subscribe: %s\n", ppulse_strerror(rc));
			goto out;
		}
		rc = s_on_event(&st, &ev);
		ppulse_event_clear(&ev);
		if (rc != 0)
			goto out;
	}
	status = 0;
out:
	ppulse_ctl_destroy(&st.ctl);
	ppulse_sub_destroy(&sub);
	return status;
}
