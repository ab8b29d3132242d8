/* contribute.c: an example of sending a contribution through plurum-pulse-bridge and
 * handling every error code of its reply.
 *
 * Owns: one contribute request (ppulse_ctl_contribute), reading the reply with jansson, and
 * the decision each error code calls for: give up (the request is wrong), wait and retry
 * (rate_limited, not_connected), or ask what happened (outcome_unknown).
 *
 * Every request carries an "id": the bridge treats it as an idempotency key, so a retry
 * with the same id is never sent upstream twice, and "outcome" can be asked about it.
 *
 * Usage: contribute [--commands EP] [--type suggestion|warning|reference] [--id ID]
 *                   [--timeout-ms MS] SESSION_ID (--text TEXT | --json OBJECT)
 * Output: "ok via=V contribution=ID" or "error code=C: what it means". Exit status: 0 ok,
 * 1 an error reply, 2 bad usage, 3 no reply from the bridge.
 *
 * Build: make (uses pkg-config plurum-pulse jansson). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <plurum_pulse.h>

struct opts {
	const char *commands; /* NULL: the library's default */
	const char *type;     /* NULL: suggestion */
	const char *id;	      /* NULL: generated */
	const char *session;
	const char *text;
	const char *json;
	uint32_t timeout_ms;
};

static int s_usage(const char *msg)
{
	fprintf(stderr,
		"contribute: %s\nusage: contribute [--commands EP] [--type T] [--id ID] "
		"[--timeout-ms MS] SESSION_ID (--text TEXT | --json OBJECT)\n",
		msg);
	return 2;
}

static int s_parse_args(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(a, "--commands") == 0 && has_value)
			o->commands = argv[++i];
		else if (strcmp(a, "--type") == 0 && has_value)
			o->type = argv[++i];
		else if (strcmp(a, "--id") == 0 && has_value)
			o->id = argv[++i];
		else if (strcmp(a, "--timeout-ms") == 0 && has_value)
			o->timeout_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(a, "--text") == 0 && has_value)
			o->text = argv[++i];
		else if (strcmp(a, "--json") == 0 && has_value)
			o->json = argv[++i];
		else if (strncmp(a, "--", 2) == 0)
			return s_usage("unknown option or missing value");
		else if (!o->session)
			o->session = a;
		else
			return s_usage("one SESSION_ID only");
	}
	if (!o->session || (!o->text) == (!o->json))
		return s_usage("SESSION_ID and one of --text or --json are required");
	return 0;
}

/* The content object's text, malloc'd (caller frees): {"text":TEXT} or the --json text. */
static char *s_content(const struct opts *o)
{
	if (o->json)
		return strdup(o->json); /* the library checks that it is one JSON object */
	json_t *obj = json_pack("{s:s}", "text", o->text); /* owned here, freed below */
	char *out = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	return out;
}

/* What to do after an error reply. */
enum next { GIVE_UP, RETRY, ASK_OUTCOME };

/* Explain the error code of reply (an {"ok":false} object) and choose what comes next.
 * *wait_ms is how long to wait before a retry. */
static enum next s_on_error(json_t *error, long *wait_ms)
{
	const char *code = json_string_value(json_object_get(error, "code"));
	const char *msg = json_string_value(json_object_get(error, "message"));
	json_int_t retry = json_integer_value(json_object_get(error, "retry_after_ms"));
	json_int_t http = json_integer_value(json_object_get(error, "status"));
	static const struct {
		const char *code;
		enum next next;
		const char *meaning;
	} table[] = {
	    {"bad_request", GIVE_UP, "the request is malformed; fix the field the message names"},
	    {"unknown_command", GIVE_UP, "this bridge does not know the command (too old?)"},
	    {"not_found", GIVE_UP, "no such id in this run of the bridge"},
	    {"too_large", GIVE_UP, "the content is over 256 KiB once sent upstream; shorten it"},
	    {"unsafe_content", GIVE_UP,
	     "the content looks like it holds a secret or a private address; remove it"},
	    {"rate_limited", RETRY, "the upstream budget is spent; retrying after the wait"},
	    {"not_connected", RETRY, "the bridge cannot reach Plurum now; retrying later"},
	    {"upstream_rejected", GIVE_UP,
	     "Plurum refused it (closed, private or own session, or a bad session id)"},
	    {"outcome_unknown", ASK_OUTCOME,
	     "the link died after sending: it may have been applied; asking the bridge"},
	    {"shutting_down", GIVE_UP, "the bridge is stopping; try again once it is back"},
	};

	printf("error code=%s: ", code ? code : "?");
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		if (code && strcmp(code, table[i].code) == 0) {
			printf("%s (%s", table[i].meaning, msg ? msg : "");
			if (http)
				printf(", HTTP %lld", (long long)http);
			printf(")\n");
			*wait_ms = retry > 0 ? (long)retry : 1000;
			return table[i].next;
		}
	}
	printf("an error this program does not know (%s)\n", msg ? msg : "");
	return GIVE_UP;
}

static void s_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Send the contribution, retrying once when the error says so. Returns the exit status. */
static int s_contribute(ppulse_ctl_t *ctl, const struct opts *o, const char *id,
			const char *content)
{
	int wait = (int)(o->timeout_ms ? o->timeout_ms : 10000) + 2000;
	for (int attempt = 0; attempt < 2; attempt++) {
		char *reply = NULL;
		int rc = ppulse_ctl_contribute(ctl, o->session, content, o->type, id, o->timeout_ms,
					       &reply, wait);
		if (rc == PPULSE_ETIMEOUT) {
			printf("no reply: is the bridge running?\n");
			return 3;
		}
		if (rc != PPULSE_OK) {
			fprintf(stderr, "contribute: %s\n", ppulse_strerror(rc));
			return rc == PPULSE_EINVAL ? 2 : 1;
		}
		json_t *root = json_loads(reply, 0, NULL); /* owned here */
		free(reply);
		if (!root) {
			printf("error: the reply is not JSON\n");
			return 1;
		}
		if (json_is_true(json_object_get(root, "ok"))) {
			json_t *c = json_object_get(root, "contribution");
			printf("ok via=%s contribution=%s\n",
			       json_string_value(json_object_get(root, "via")),
			       json_string_value(json_object_get(c, "contribution_id")));
			json_decref(root);
			return 0;
		}
		long wait_ms = 0;
		enum next next = s_on_error(json_object_get(root, "error"), &wait_ms);
		json_decref(root);
		if (next == GIVE_UP || attempt == 1)
			return 1;
		if (next == ASK_OUTCOME) {
			/* The outcome may settle later; a real program would poll a few times. */
			if (ppulse_ctl_outcome(ctl, id, &reply, 5000) == PPULSE_OK) {
				printf("outcome: %s\n", reply);
				free(reply);
			}
			return 1;
		}
		s_sleep_ms(wait_ms); /* RETRY: same id, so never applied twice */
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	char err[256], idbuf[64];
	int status = 1;
	char *content = NULL;

	if (s_parse_args(argc, argv, &o) != 0)
		return 2;
	if (!o.id) {
		snprintf(idbuf, sizeof idbuf, "example-%ld-%ld", (long)getpid(), (long)time(NULL));
		o.id = idbuf;
	}
	content = s_content(&o);
	ppulse_ctl_t *ctl = ppulse_ctl_new(o.commands, err, sizeof err);
	if (!content || !ctl) {
		fprintf(stderr, "contribute: %s\n", ctl ? "out of memory" : err);
		goto out;
	}
	status = s_contribute(ctl, &o, o.id, content);
out:
	ppulse_ctl_destroy(&ctl);
	free(content);
	return status;
}
