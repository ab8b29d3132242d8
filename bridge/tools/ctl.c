/* ctl.c: plurum-pulse-ctl, sends one command to the bridge and prints the reply.
 *
 * Owns the command line (global options, then COMMAND and its options), the local checks
 * (a --json content must be a JSON object: checked with jansson before anything is sent),
 * printing the reply, and the exit status:
 *   0  the reply has "ok":true
 *   1  any other reply (an error reply, or a reply that is not such an object)
 *   2  bad usage
 *   3  no reply within the wait (the bridge is not running or not answering)
 * The wait for a contribute reply is at least its timeout_ms + 2000 ms, so the bridge's
 * own timeout answer (not_connected, rate_limited, ...) arrives before we give up. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "plurum_pulse.h"
#include "tool_common.h"

#define PROG		  "plurum-pulse-ctl"
#define EXIT_ERROR_REPLY  1
#define EXIT_NO_REPLY	  3
#define WAIT_DEFAULT_MS	  5000
#define CONTRIB_TIMEOUT	  10000 /* the bridge's default timeout_ms */
#define CONTRIB_MARGIN_MS 2000
#define TIMEOUT_MAX_MS	  600000 /* the bridge's limit for timeout_ms */

struct opts {
	const char *endpoint; /* NULL: the library's default */
	bool pretty;
	long long wait_ms; /* -1: not given */
	const char *cmd;
	/* contribute */
	const char *session_id, *text, *json, *type, *id;
	long long timeout_ms; /* -1: not given */
	/* replay */
	unsigned long long after;
	long long limit; /* 0: the bridge's default */
	/* outcome */
	const char *outcome_id;
	const char *curve_server, *curve_client; /* key files, NULL: the environment's */
};

static void s_help(void)
{
	printf("Usage: " PROG " [--commands ENDPOINT] [--timeout MS] [--pretty] COMMAND ...\n"
	       "Send one command to plurum-pulse-bridge and print its reply (one JSON line).\n\n"
	       "Commands:\n"
	       "  contribute SESSION_ID (--text T | --json OBJ) [--type suggestion|warning|"
	       "reference]\n"
	       "             [--id ID] [--timeout MS]   (MS: the bridge's timeout_ms, default "
	       "10000)\n"
	       "  status\n"
	       "  replay [--after SEQ] [--limit N]\n"
	       "  outcome ID\n"
	       "  ping\n\n"
	       "Options:\n"
	       "  --commands ENDPOINT  the bridge's command socket (default: $" PPULSE_ENV_COMMANDS
	       ",\n"
	       "                       else ipc://$XDG_RUNTIME_DIR/plurum-pulse/commands.sock)\n"
	       "  --timeout MS         (before COMMAND) how long to wait for the reply "
	       "(default 5000;\n"
	       "                       for contribute at least its timeout + 2000)\n"
	       "  --pretty             print the reply indented\n"
	       "  --curve-server-key FILE  CurveZMQ (a remote bridge, docs/curve.md): the "
	       "bridge's\n"
	       "                       public key (default: $" PPULSE_ENV_CURVE_SERVER_KEY ")\n"
	       "  --curve-client-key FILE  this client's secret key, mode 0600, whose public\n"
	       "                       key is in the bridge's --curve-clients (default: "
	       "$" PPULSE_ENV_CURVE_CLIENT_KEY ")\n"
	       "  --help, --version\n\n"
	       "Exit status: 0 when the reply has \"ok\":true, 1 for an error reply, 2 for bad "
	       "usage,\n"
	       "3 when no reply arrives in time.\n");
}

/* Options accepted everywhere; true when argv[*i] was one. */
static bool s_common_opt(int argc, char **argv, int *i, struct opts *o)
{
	const char *v, *a = argv[*i];
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
		s_help();
		exit(0);
	}
	if (strcmp(a, "--version") == 0) {
		printf(PROG " %s\n", PP_VERSION);
		exit(0);
	}
	if (strcmp(a, "--pretty") == 0) {
		o->pretty = true;
		return true;
	}
	if (tool_flag_value(PROG, argc, argv, i, "--curve-server-key", &v)) {
		o->curve_server = v;
		return true;
	}
	if (tool_flag_value(PROG, argc, argv, i, "--curve-client-key", &v)) {
		o->curve_client = v;
		return true;
	}
	if (tool_flag_value(PROG, argc, argv, i, "--commands", &v)) {
		if (v[0] == '\0')
			tool_usage_error(PROG, "--commands: empty endpoint");
		o->endpoint = v;
		return true;
	}
	return false;
}

/* arg as cmd's one positional argument; exits when cmd already has it (have). */
static const char *s_positional(const char *cmd, const char *have, const char *arg)
{
	if (have != NULL)
		tool_usage_error(PROG, "%s: unexpected argument \"%s\"", cmd, arg);
	return arg;
}

static void s_parse_contribute(int argc, char **argv, int i, struct opts *o)
{
	const char *v;
	for (; i < argc; i++) {
		if (s_common_opt(argc, argv, &i, o))
			continue;
		if (tool_flag_value(PROG, argc, argv, &i, "--text", &v))
			o->text = v;
		else if (tool_flag_value(PROG, argc, argv, &i, "--json", &v))
			o->json = v;
		else if (tool_flag_value(PROG, argc, argv, &i, "--type", &v))
			o->type = v;
		else if (tool_flag_value(PROG, argc, argv, &i, "--id", &v))
			o->id = v;
		else if (tool_flag_value(PROG, argc, argv, &i, "--timeout", &v))
			o->timeout_ms = tool_number(PROG, "--timeout", v, 1, TIMEOUT_MAX_MS);
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			tool_usage_error(PROG, "contribute: unknown option %s", argv[i]);
		else
			o->session_id = s_positional("contribute", o->session_id, argv[i]);
	}
	if (o->session_id == NULL || o->session_id[0] == '\0')
		tool_usage_error(PROG, "contribute: SESSION_ID is missing");
	if ((o->text == NULL) == (o->json == NULL))
		tool_usage_error(PROG, "contribute: give exactly one of --text T or --json OBJ");
	if (o->type != NULL && strcmp(o->type, "suggestion") != 0 &&
	    strcmp(o->type, "warning") != 0 && strcmp(o->type, "reference") != 0)
		tool_usage_error(PROG, "--type: \"%s\" is not suggestion, warning or reference",
				 o->type);
	if (o->id != NULL && o->id[0] == '\0')
		tool_usage_error(PROG, "--id: empty id");
}

static void s_parse_replay(int argc, char **argv, int i, struct opts *o)
{
	const char *v;
	for (; i < argc; i++) {
		if (s_common_opt(argc, argv, &i, o))
			continue;
		if (tool_flag_value(PROG, argc, argv, &i, "--after", &v))
			o->after =
			    (unsigned long long)tool_number(PROG, "--after", v, 0, INT64_MAX);
		else if (tool_flag_value(PROG, argc, argv, &i, "--limit", &v))
			o->limit = tool_number(PROG, "--limit", v, 1, UINT32_MAX);
		else
			tool_usage_error(PROG, "replay: unexpected argument %s", argv[i]);
	}
}

/* outcome ID, status, ping: at most one positional (required for outcome only). */
static void s_parse_simple(int argc, char **argv, int i, struct opts *o)
{
	bool is_outcome = strcmp(o->cmd, "outcome") == 0;
	for (; i < argc; i++) {
		if (s_common_opt(argc, argv, &i, o))
			continue;
		if (!is_outcome || (argv[i][0] == '-' && argv[i][1] != '\0'))
			tool_usage_error(PROG, "%s: unexpected argument %s", o->cmd, argv[i]);
		o->outcome_id = s_positional("outcome", o->outcome_id, argv[i]);
	}
	if (is_outcome && (o->outcome_id == NULL || o->outcome_id[0] == '\0'))
		tool_usage_error(PROG, "outcome: ID is missing");
}

/* Global options, then COMMAND and its own options. Exits on usage errors. */
static void s_parse(int argc, char **argv, struct opts *o)
{
	const char *v;
	int i;
	o->wait_ms = -1;
	o->timeout_ms = -1;
	for (i = 1; i < argc && o->cmd == NULL; i++) {
		if (s_common_opt(argc, argv, &i, o))
			continue;
		if (tool_flag_value(PROG, argc, argv, &i, "--timeout", &v))
			o->wait_ms = tool_number(PROG, "--timeout", v, 0, INT32_MAX);
		else if (argv[i][0] == '-')
			tool_usage_error(PROG, "unknown option %s", argv[i]);
		else
			o->cmd = argv[i];
	}
	if (o->cmd == NULL)
		tool_usage_error(PROG, "COMMAND is missing");
	if (strcmp(o->cmd, "contribute") == 0)
		s_parse_contribute(argc, argv, i, o);
	else if (strcmp(o->cmd, "replay") == 0)
		s_parse_replay(argc, argv, i, o);
	else if (strcmp(o->cmd, "status") == 0 || strcmp(o->cmd, "ping") == 0 ||
		 strcmp(o->cmd, "outcome") == 0)
		s_parse_simple(argc, argv, i, o);
	else
		tool_usage_error(PROG, "unknown command \"%s\"", o->cmd);
}

/* The content object's text for contribute, malloc'd (caller frees); exits 2 when --json
 * is not a JSON object. --json text is passed on as the user wrote it (re-encoding could
 * change numbers); --text T becomes {"text":T}. */
static char *s_content(const struct opts *o)
{
	json_error_t jerr;
	char *out;
	if (o->json != NULL) {
		json_t *j = json_loads(o->json, JSON_DECODE_ANY, &jerr);
		bool is_obj = json_is_object(j);
		json_decref(j);
		if (j == NULL)
			tool_usage_error(PROG, "--json: not valid JSON: %s (at byte %d)", jerr.text,
					 jerr.position);
		if (!is_obj)
			tool_usage_error(PROG, "--json: must be a JSON object ({...})");
		out = strdup(o->json);
	} else {
		json_t *j = json_pack("{s:s}", "text", o->text);
		if (j == NULL) /* json_pack refuses strings that are not UTF-8 */
			tool_usage_error(PROG, "--text: not valid UTF-8");
		out = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	if (out == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		exit(EXIT_ERROR_REPLY);
	}
	return out;
}

/* Send the command; returns the library's code, the reply in *reply, the wait in *wait. */
static int s_send(ppulse_ctl_t *ctl, const struct opts *o, char **reply, int *wait)
{
	*wait = o->wait_ms >= 0 ? (int)o->wait_ms : WAIT_DEFAULT_MS;
	if (strcmp(o->cmd, "contribute") == 0) {
		uint32_t t = o->timeout_ms > 0 ? (uint32_t)o->timeout_ms : CONTRIB_TIMEOUT;
		if (*wait < (int)t + CONTRIB_MARGIN_MS)
			*wait = (int)t + CONTRIB_MARGIN_MS;
		char *content = s_content(o);
		int rc = ppulse_ctl_contribute(ctl, o->session_id, content, o->type, o->id, t,
					       reply, *wait);
		free(content);
		return rc;
	}
	if (strcmp(o->cmd, "status") == 0)
		return ppulse_ctl_status(ctl, reply, *wait);
	if (strcmp(o->cmd, "ping") == 0)
		return ppulse_ctl_ping(ctl, reply, *wait);
	if (strcmp(o->cmd, "outcome") == 0)
		return ppulse_ctl_outcome(ctl, o->outcome_id, reply, *wait);
	return ppulse_ctl_replay(ctl, o->after, (uint32_t)o->limit, reply, *wait);
}

/* Print the reply (one line, or indented with --pretty); the exit status it means. */
static int s_report(const struct opts *o, const char *reply)
{
	json_t *j = json_loads(reply, 0, NULL);
	int status = json_is_true(json_object_get(j, "ok")) ? 0 : EXIT_ERROR_REPLY;
	char *text = NULL;
	/* The bridge writes one compact line; re-encode only when asked or when it did not. */
	if (j != NULL && (o->pretty || strchr(reply, '\n') != NULL))
		text = json_dumps(j, o->pretty ? JSON_INDENT(2) : JSON_COMPACT);
	printf("%s\n", text ? text : reply);
	free(text);
	json_decref(j);
	if (fflush(stdout) != 0)
		status = EXIT_ERROR_REPLY;
	return status;
}

int main(int argc, char **argv)
{
	struct opts o = {0};
	char err[512], endpoint[512];
	char *reply = NULL;
	int wait, rc, status, saved_errno;
	s_parse(argc, argv, &o);
	if (o.endpoint == NULL && ppulse_default_commands_endpoint(endpoint, sizeof endpoint) == 0)
		o.endpoint = endpoint;
	ppulse_curve_t keys;
	bool curve = o.curve_server || o.curve_client || getenv(PPULSE_ENV_CURVE_SERVER_KEY) ||
		     getenv(PPULSE_ENV_CURVE_CLIENT_KEY);
	if (curve &&
	    ppulse_curve_load(&keys, o.curve_server, o.curve_client, err, sizeof err) != PPULSE_OK)
		tool_usage_error(PROG, "%s", err);
	ppulse_ctl_t *ctl = ppulse_ctl_new_curve(o.endpoint, curve ? &keys : NULL, err, sizeof err);
	if (curve)
		ppulse_curve_clear(&keys); /* the socket has its own copy */
	if (ctl == NULL)
		tool_usage_error(PROG, "%s", err);
	rc = s_send(ctl, &o, &reply, &wait);
	saved_errno = errno; /* the ZeroMQ error behind PPULSE_EIO */
	ppulse_ctl_destroy(&ctl);
	if (rc == PPULSE_OK) {
		status = s_report(&o, reply);
	} else if (rc == PPULSE_ETIMEOUT) {
		fprintf(stderr,
			PROG ": no reply from the bridge at %s within %d ms (is "
			     "plurum-pulse-bridge running?)\n",
			o.endpoint, wait);
		status = EXIT_NO_REPLY;
	} else {
		fprintf(stderr, PROG ": %s%s%s\n", ppulse_strerror(rc),
			rc == PPULSE_EIO ? ": " : "",
			rc == PPULSE_EIO ? strerror(saved_errno) : "");
		status = rc == PPULSE_EINVAL ? TOOL_EXIT_USAGE : EXIT_ERROR_REPLY;
	}
	free(reply);
	return status;
}
