/* config.c: the daemon's settings as one table, and their sources (pure apart from reading
 * the --config file and creating the default ipc directory).
 *
 * Each row names one setting: its flag, environment variable, type, bounds, default (as
 * shown in --help) and where it lives in struct config. Flags, environment and the file
 * all go through the same row setter, so a value is checked the same way wherever it
 * comes from, and the error names the source: "--ws-budget", "PLURUM_PULSE_WS_BUDGET" or
 * "FILE:LINE: ws-budget". */
#include "config.h"
#include "log.h" /* log_redact: errors echo values, and a value may hold a key by mistake */
#include "pp_err.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PP_VERSION
#define PP_VERSION "0"
#endif

#define DEFAULT_URL "wss://api.plurum.ai/api/v1/pulse/ws"

enum opt_type { OT_STR, OT_URL, OT_REST_URL, OT_U32, OT_BOOL, OT_VIA, OT_LEVEL };

struct opt {
	const char *name; /* long flag without "--", also the config file's name */
	const char *env;  /* environment variable, or NULL */
	enum opt_type type;
	uint32_t min, max; /* OT_U32 bounds */
	const char *def;   /* default, as text (applied by config_defaults and shown by --help) */
	size_t off;	   /* offset in struct config */
	const char *help;
};

#define OFF(m) offsetof(struct config, m)

static const struct opt s_opts[] = {
    {"url", "PLURUM_PULSE_URL", OT_URL, 0, 0, DEFAULT_URL, OFF(url),
     "Pulse WebSocket URL (ws:// or wss://)"},
    {"api-key-file", NULL, OT_STR, 0, 0, "", OFF(api_key_file),
     "file holding the API key (mode 0600); else the key is read from PLURUM_API_KEY"},
    {"events", "PLURUM_PULSE_EVENTS", OT_STR, 0, 0, "", OFF(events),
     "ZeroMQ endpoint of the PUB socket (default: ipc:// in a private runtime directory)"},
    {"commands", "PLURUM_PULSE_COMMANDS", OT_STR, 0, 0, "", OFF(commands),
     "ZeroMQ endpoint of the ROUTER socket (default: ipc:// next to the events socket)"},
    {"ca-file", "PLURUM_PULSE_CA_FILE", OT_STR, 0, 0, "", OFF(ca_file),
     "PEM file of trusted CAs (default: the system's trust store)"},
    {"rest-url", "PLURUM_REST_URL", OT_REST_URL, 0, 0, "", OFF(rest_url),
     "REST base URL (default: derived from --url)"},
    {"contribute-via", "PLURUM_PULSE_CONTRIBUTE_VIA", OT_VIA, 0, 0, "rest", OFF(contribute_via),
     "path for contributions: rest, ws or auto"},
    {"ws-budget", "PLURUM_PULSE_WS_BUDGET", OT_U32, 1, 60, "55", OFF(ws_budget),
     "most messages the bridge sends on the WebSocket in any rolling 60 s"},
    {"log-level", "PLURUM_PULSE_LOG_LEVEL", OT_LEVEL, 0, 0, "info", OFF(log_level),
     "error, warn, info or debug"},
    {"legacy-query-token", NULL, OT_BOOL, 0, 0, "false", OFF(legacy_query_token),
     "authenticate with ?token= in the URL (exposes the key to proxies' logs)"},
    {"insecure", NULL, OT_BOOL, 0, 0, "false", OFF(insecure),
     "turn off TLS peer and host-name verification (warned on every connect)"},
    {"allow-insecure-remote", NULL, OT_BOOL, 0, 0, "false", OFF(allow_insecure_remote),
     "allow binding endpoints to non-loopback TCP addresses without CurveZMQ"},
    {"curve-secret-file", "PLURUM_PULSE_CURVE_SECRET_FILE", OT_STR, 0, 0, "",
     OFF(curve_secret_file),
     "CurveZMQ: file holding the server's secret key (z85, mode 0600); turns CURVE on for "
     "tcp:// endpoints (see docs/curve.md)"},
    {"curve-clients", "PLURUM_PULSE_CURVE_CLIENTS", OT_STR, 0, 0, "", OFF(curve_clients),
     "CurveZMQ: allow-list of client public keys (z85), one a line, '#' comments"},
    {"inbox-mark-read", NULL, OT_BOOL, 0, 0, "false", OFF(inbox_mark_read),
     "mark inbox events read after recovering them"},
    {"no-backfill", NULL, OT_BOOL, 0, 0, "false", OFF(no_backfill),
     "do not recover missed events from the inbox after a (re)connect"},
    {"replay-size", NULL, OT_U32, 0, 1000000, "1000", OFF(replay_size),
     "events kept for the replay command (0 turns replay off)"},
    {"dedup-size", NULL, OT_U32, 1, 10000000, "100000", OFF(dedup_size),
     "event ids remembered for de-duplication"},
    {"pub-hwm", NULL, OT_U32, 1, 10000000, "1000", OFF(pub_hwm),
     "envelopes queued for one subscriber; when full, the bridge waits for it (--pub-stall-ms)"},
    {"pub-stall-ms", NULL, OT_U32, 0, 10000, "1000", OFF(pub_stall_ms),
     "how long a full subscriber may hold the bridge without taking an envelope before it "
     "misses some (counted in status); 0: never wait; at most half of --ping-interval-ms"},
    {"ping-interval-ms", NULL, OT_U32, 100, 600000, "20000", OFF(ping_interval_ms),
     "interval of WebSocket PING frames; about two without a sign of life is a dead link"},
    {"auth-timeout-ms", NULL, OT_U32, 1000, 600000, "30000", OFF(auth_timeout_ms),
     "how long to wait for auth_ok"},
    {"backoff-base-ms", NULL, OT_U32, 1, 60000, "500", OFF(backoff_base_ms),
     "first reconnect back-off window"},
    {"backoff-cap-ms", NULL, OT_U32, 10, 3600000, "60000", OFF(backoff_cap_ms),
     "largest reconnect back-off window"},
    {"healthy-after-ms", NULL, OT_U32, 0, 3600000, "30000", OFF(healthy_after_ms),
     "a connection up this long resets the back-off"},
    {"rest-inflight", NULL, OT_U32, 1, 64, "4", OFF(rest_inflight),
     "REST contribute requests in flight at once"},
    {"client-quota", NULL, OT_U32, 0, 1000000, "0", OFF(client_quota),
     "pending commands per client (0 = no limit)"},
    {"max-frame", NULL, OT_U32, 1024, 64u * 1024 * 1024, "16777216", OFF(max_frame),
     "largest upstream frame accepted, in bytes"},
    {"check-config", NULL, OT_BOOL, 0, 0, "false", OFF(check_config),
     "validate the settings, print them and exit"},
};

#define NOPTS (sizeof s_opts / sizeof s_opts[0])

static const char *const s_via_names[] = {"rest", "ws", "auto"};
static const char *const s_level_names[] = {"error", "warn", "info", "debug"};

static const struct opt *s_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strlen(s_opts[i].name) == len && strncmp(s_opts[i].name, name, len) == 0)
			return &s_opts[i];
	return NULL;
}

/* Pick a name from a small list; -1 when none matches. */
static int s_pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

static int s_parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	if (s_pick(v, yes, 4) >= 0)
		return *out = true, 0;
	if (s_pick(v, no, 4) >= 0)
		return *out = false, 0;
	return -1;
}

static int s_parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	if (v[0] < '0' || v[0] > '9')
		return -1; /* no sign, no space, not empty */
	errno = 0;
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* Apply one value to its row. src names where it came from ("--ws-budget"). */
static int s_set(struct config *cfg, const struct opt *o, const char *v, const char *src, char *err,
		 size_t errlen)
{
	void *field = (char *)cfg + o->off;
	struct url_parts parts;
	char uerr[256];
	int i;

	switch (o->type) {
	case OT_URL:
	case OT_REST_URL:
		if (config_parse_url(v, &parts, uerr, sizeof uerr) != 0) {
			snprintf(err, errlen, "%s: %s", src, uerr);
			return PP_EUSAGE;
		}
		if (parts.websocket != (o->type == OT_URL)) {
			snprintf(err, errlen, "%s: '%s' must be a %s URL", src, v,
				 o->type == OT_URL ? "ws:// or wss://" : "http:// or https://");
			return PP_EUSAGE;
		}
		/* URLs are stored as text, like OT_STR. */
		/* fall through */
	case OT_STR:
		if (strlen(v) >= CONFIG_STR_MAX) {
			snprintf(err, errlen, "%s: the value is longer than %d bytes", src,
				 CONFIG_STR_MAX - 1);
			return PP_EUSAGE;
		}
		memcpy(field, v, strlen(v) + 1);
		return PP_OK;
	case OT_U32:
		if (s_parse_u32(v, o->min, o->max, field) != 0) {
			snprintf(err, errlen, "%s: '%s' is not a number in %u..%u", src, v,
				 (unsigned)o->min, (unsigned)o->max);
			return PP_EUSAGE;
		}
		return PP_OK;
	case OT_BOOL:
		if (s_parse_bool(v, field) != 0) {
			snprintf(err, errlen, "%s: '%s' is not true or false", src, v);
			return PP_EUSAGE;
		}
		return PP_OK;
	case OT_VIA:
		if ((i = s_pick(v, s_via_names, 3)) < 0) {
			snprintf(err, errlen, "%s: '%s' is not rest, ws or auto", src, v);
			return PP_EUSAGE;
		}
		*(enum contribute_via *)field = (enum contribute_via)i;
		return PP_OK;
	case OT_LEVEL:
		if ((i = s_pick(v, s_level_names, 4)) < 0) {
			snprintf(err, errlen, "%s: '%s' is not error, warn, info or debug", src, v);
			return PP_EUSAGE;
		}
		*(int *)field = i;
		return PP_OK;
	}
	return PP_EUSAGE;
}

void config_defaults(struct config *cfg)
{
	char err[256];
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < NOPTS; i++) {
		if (s_opts[i].def[0] == '\0')
			continue; /* "" means unset: memset already did it */
		int rc = s_set(cfg, &s_opts[i], s_opts[i].def, s_opts[i].name, err, sizeof err);
		(void)rc; /* the table's defaults are valid: the unit tests check that */
	}
}

/* ---- URLs ------------------------------------------------------------------------ */

int config_parse_url(const char *url, struct url_parts *out, char *err, size_t errlen)
{
	static const struct {
		const char *prefix;
		bool tls, ws;
		int port;
	} schemes[] = {{"ws://", false, true, 80},
		       {"wss://", true, true, 443},
		       {"http://", false, false, 80},
		       {"https://", true, false, 443}};
	const char *p = NULL;

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(schemes[i].prefix);
		if (strncmp(url, schemes[i].prefix, n) == 0) {
			p = url + n;
			out->tls = schemes[i].tls;
			out->websocket = schemes[i].ws;
			out->port = schemes[i].port;
		}
	}
	if (p == NULL) {
		snprintf(err, errlen, "'%s' is not a ws://, wss://, http:// or https:// URL", url);
		goto bad;
	}
	const char *host = p, *host_end;
	if (*p == '[') { /* an IPv6 literal */
		host = ++p;
		while (*p != '\0' && *p != ']')
			p++;
		if (*p != ']') {
			snprintf(err, errlen, "'%s': unclosed '[' in the host", url);
			goto bad;
		}
		host_end = p++;
	} else {
		while (*p != '\0' && *p != ':' && *p != '/' && *p != '?' && *p != '#' && *p != '@')
			p++;
		host_end = p;
	}
	if (*p == '@') {
		snprintf(err, errlen, "'%s': user information in the URL is not supported", url);
		goto bad;
	}
	size_t hlen = (size_t)(host_end - host);
	if (hlen == 0 || hlen >= sizeof out->host) {
		snprintf(err, errlen, "'%s': no host, or a host too long", url);
		goto bad;
	}
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (*p == ':') {
		p++;
		char digits[8] = {0};
		size_t n = 0;
		while (p[n] >= '0' && p[n] <= '9' && n < 6)
			n++;
		memcpy(digits, p, n);
		uint32_t port;
		if (n == 0 || (p[n] != '\0' && p[n] != '/' && p[n] != '?') ||
		    s_parse_u32(digits, 1, 65535, &port) != 0) {
			snprintf(err, errlen, "'%s': the port is not a number in 1..65535", url);
			goto bad;
		}
		out->port = (int)port;
		p += n;
	}
	if (*p == '#') {
		snprintf(err, errlen, "'%s': a fragment is not allowed", url);
		goto bad;
	}
	int n = snprintf(out->path, sizeof out->path, "%s%s", *p == '/' ? "" : "/", p);
	if (n < 0 || (size_t)n >= sizeof out->path) {
		snprintf(err, errlen, "the URL is too long");
		goto bad;
	}
	return 0;
bad:
	log_redact(err);
	return -1;
}

int config_derive_rest_url(const char *url, char *out, size_t outlen)
{
	const char *rest;
	const char *scheme;
	if (strncmp(url, "wss://", 6) == 0)
		scheme = "https://", rest = url + 6;
	else if (strncmp(url, "ws://", 5) == 0)
		scheme = "http://", rest = url + 5;
	else
		return -1;
	size_t len = strcspn(rest, "?#"); /* the REST base has no query (no legacy token) */
	static const char tails[][11] = {"/pulse/ws/", "/pulse/ws"};
	for (size_t i = 0; i < 2; i++) {
		size_t t = strlen(tails[i]);
		if (len >= t && strncmp(rest + len - t, tails[i], t) == 0) {
			len -= t;
			break;
		}
	}
	while (len > 0 && rest[len - 1] == '/')
		len--;
	int n = snprintf(out, outlen, "%s%.*s", scheme, (int)len, rest);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/* ---- Endpoints ------------------------------------------------------------------- */

static bool s_is_loopback(const char *host, size_t len)
{
	static const char *const names[] = {"localhost", "[::1]", "::1", "lo"};
	for (size_t i = 0; i < 4; i++)
		if (strlen(names[i]) == len && strncmp(host, names[i], len) == 0)
			return true;
	return len > 4 && strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") >= len;
}

int config_check_endpoint(const char *what, const char *endpoint, bool allow_remote, char *err,
			  size_t errlen)
{
	if (strncmp(endpoint, "ipc://", 6) == 0 && endpoint[6] != '\0')
		return PP_OK;
	if (strncmp(endpoint, "tcp://", 6) != 0) {
		snprintf(err, errlen, "%s: '%s' is not an ipc:// or tcp:// endpoint", what,
			 endpoint);
		return PP_EUSAGE;
	}
	const char *host = endpoint + 6;
	const char *colon = strrchr(host, ':');
	if (colon == NULL || colon == host || colon[1] == '\0') {
		snprintf(err, errlen, "%s: '%s' needs a host and a port (tcp://127.0.0.1:5555)",
			 what, endpoint);
		return PP_EUSAGE;
	}
	if (!allow_remote && !s_is_loopback(host, (size_t)(colon - host))) {
		snprintf(err, errlen,
			 "%s: '%s' is not a loopback address; remote clients need CurveZMQ "
			 "(--curve-secret-file and --curve-clients, see docs/curve.md), or give "
			 "--allow-insecure-remote",
			 what, endpoint);
		return PP_EUSAGE;
	}
	return PP_OK;
}

/* Make (or accept) the private runtime directory dir. */
static int s_private_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create the runtime directory: %s", dir,
			 strerror(errno));
		return PP_EIO;
	}
	/* lstat: a symlink planted in /tmp by someone else must not redirect our sockets. */
	if (lstat(dir, &st) != 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return PP_EIO;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s: not a directory owned by this user; refusing it", dir);
		return PP_EUSAGE;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
			 "%s: group or others can access it (mode %04o); refusing it (chmod 700)",
			 dir, (unsigned)(st.st_mode & 07777));
		return PP_EUSAGE;
	}
	return PP_OK;
}

int config_default_endpoints(struct config *cfg, char *err, size_t errlen)
{
	char dir[200];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (cfg->events[0] != '\0' && cfg->commands[0] != '\0')
		return PP_OK;
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(dir, sizeof dir, "%s/plurum-pulse", xdg);
	else
		n = snprintf(dir, sizeof dir, "/tmp/plurum-pulse-%lu", (unsigned long)geteuid());
	/* An ipc path must fit in sockaddr_un.sun_path (108 bytes on Linux). */
	if (n < 0 || (size_t)n >= sizeof dir || (size_t)n + sizeof "/commands.sock" > 108) {
		snprintf(err, errlen, "runtime directory path too long for an ipc socket: %s", dir);
		return PP_EUSAGE;
	}
	int rc = s_private_dir(dir, err, errlen);
	if (rc != PP_OK)
		return rc;
	if (cfg->events[0] == '\0')
		snprintf(cfg->events, sizeof cfg->events, "ipc://%s/events.sock", dir);
	if (cfg->commands[0] == '\0')
		snprintf(cfg->commands, sizeof cfg->commands, "ipc://%s/commands.sock", dir);
	return PP_OK;
}

/* ---- Sources --------------------------------------------------------------------- */

static char *s_trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* One line of the config file; lineno for messages. */
static int s_file_line(struct config *cfg, const char *path, unsigned lineno, char *line, char *err,
		       size_t errlen)
{
	/* '#' starts a comment at the start of a line or after white space (a URL may hold
	 * a '#' in other places; it is then refused by the URL check, not cut silently). */
	for (char *h = line; (h = strchr(h, '#')) != NULL; h++) {
		if (h == line || h[-1] == ' ' || h[-1] == '\t') {
			*h = '\0';
			break;
		}
	}
	char *s = s_trim(line);
	if (*s == '\0')
		return PP_OK;
	char *eq = strchr(s, '=');
	if (eq == NULL) {
		snprintf(err, errlen, "%s:%u: expected 'name = value'", path, lineno);
		return PP_EUSAGE;
	}
	*eq = '\0';
	char *name = s_trim(s), *value = s_trim(eq + 1);
	size_t vlen = strlen(value);
	if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
		value[vlen - 1] = '\0';
		value++;
	}
	const struct opt *o = s_find(name, strlen(name));
	if (o == NULL) {
		snprintf(err, errlen, "%s:%u: unknown setting '%s'", path, lineno, name);
		return PP_EUSAGE;
	}
	char src[CONFIG_STR_MAX + 96];
	snprintf(src, sizeof src, "%s:%u: %s", path, lineno, name);
	return s_set(cfg, o, value, src, err, errlen);
}

static int s_load_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "--config: %s: %s", path, strerror(errno));
		return PP_EUSAGE;
	}
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int rc = PP_OK;
	while (rc == PP_OK && getline(&line, &cap, f) >= 0)
		rc = s_file_line(cfg, path, ++lineno, line, err, errlen);
	if (rc == PP_OK && ferror(f)) {
		snprintf(err, errlen, "--config: %s: read error", path);
		rc = PP_EUSAGE;
	}
	free(line);
	fclose(f);
	return rc;
}

static const char *s_env(char *const envp[], const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

static int s_load_env(struct config *cfg, char *const envp[], char *err, size_t errlen)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const char *v = s_opts[i].env ? s_env(envp, s_opts[i].env) : NULL;
		if (v == NULL || v[0] == '\0') /* empty means unset, as shells often export it */
			continue;
		int rc = s_set(cfg, &s_opts[i], v, s_opts[i].env, err, errlen);
		if (rc != PP_OK)
			return rc;
	}
	return PP_OK;
}

/* What one argv walk does: PASS_SCAN finds --help/--version/--config and checks syntax;
 * PASS_APPLY sets the values. */
enum pass { PASS_SCAN, PASS_APPLY };

struct scan {
	bool help, version;
	const char *config; /* value of the last --config */
};

/* Walk argv; returns PP_OK or PP_EUSAGE. */
static int s_walk_argv(struct config *cfg, int argc, char *const argv[], enum pass pass,
		       struct scan *sc, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			sc->help = true;
			continue;
		}
		if (strcmp(a, "--version") == 0) {
			sc->version = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
			return PP_EUSAGE;
		}
		const char *name = a + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		if (nlen == 7 && strncmp(name, "api-key", 7) == 0) {
			/* Never accept the key itself as an argument: argv shows in ps. */
			snprintf(err, errlen,
				 "--api-key is not accepted (the key would show in ps): set "
				 "PLURUM_API_KEY or use --api-key-file");
			return PP_EUSAGE;
		}
		bool is_config = nlen == 6 && strncmp(name, "config", 6) == 0;
		const struct opt *o = is_config ? NULL : s_find(name, nlen);
		if (o == NULL && !is_config) {
			snprintf(err, errlen, "unknown option --%.*s", (int)nlen, name);
			return PP_EUSAGE;
		}
		const char *v;
		if (eq != NULL)
			v = eq + 1;
		else if (o != NULL && o->type == OT_BOOL)
			v = "true"; /* a bare boolean flag */
		else if (i + 1 < argc)
			v = argv[++i];
		else {
			snprintf(err, errlen, "--%.*s: missing value", (int)nlen, name);
			return PP_EUSAGE;
		}
		if (is_config) {
			sc->config = v;
			continue;
		}
		if (pass == PASS_APPLY) {
			char src[80];
			snprintf(src, sizeof src, "--%s", o->name);
			int rc = s_set(cfg, o, v, src, err, errlen);
			if (rc != PP_OK)
				return rc;
		}
	}
	return PP_OK;
}

/* tcp://HOST:* (ZeroMQ's wildcard) or :0: each bind gets its own port, so the same text
 * for both endpoints is not a clash. */
static bool s_ephemeral_port(const char *endpoint)
{
	size_t n = strlen(endpoint);

	return strncmp(endpoint, "tcp://", 6) == 0 && n > 2 &&
	       (strcmp(endpoint + n - 2, ":*") == 0 || strcmp(endpoint + n - 2, ":0") == 0);
}

bool config_curve_enabled(const struct config *cfg)
{
	return cfg->curve_secret_file[0] != '\0' && cfg->curve_clients[0] != '\0';
}

/* The CurveZMQ settings come as a pair: a server key without an allow-list would let
 * nobody in (or, worse, be read as "everybody"); an allow-list without a key is a
 * forgotten setting. The files themselves are read by the daemon at start. */
static int s_check_curve(const struct config *cfg, char *err, size_t errlen)
{
	bool has_secret = cfg->curve_secret_file[0] != '\0';
	bool has_clients = cfg->curve_clients[0] != '\0';

	if (has_secret && !has_clients) {
		snprintf(err, errlen,
			 "--curve-clients: needed with --curve-secret-file (the allow-list of "
			 "client public keys)");
		return PP_EUSAGE;
	}
	if (has_clients && !has_secret) {
		snprintf(err, errlen,
			 "--curve-secret-file: needed with --curve-clients (the server's secret "
			 "key)");
		return PP_EUSAGE;
	}
	return PP_OK;
}

static int s_load(struct config *cfg, int argc, char *const argv[], char *const envp[], char *err,
		  size_t errlen)
{
	struct scan sc = {0};
	int rc = s_walk_argv(cfg, argc, argv, PASS_SCAN, &sc, err, errlen);
	if (rc != PP_OK)
		return rc;
	const char *prog = argc > 0 && argv[0] ? argv[0] : "plurum-pulse-bridge";
	if (sc.help) {
		config_print_help(stdout, prog);
		return PP_EEXIT;
	}
	if (sc.version) {
		printf("plurum-pulse-bridge %s\n", PP_VERSION);
		return PP_EEXIT;
	}
	if (sc.config != NULL) {
		if (strlen(sc.config) >= sizeof cfg->config_file) {
			snprintf(err, errlen, "--config: the path is too long");
			return PP_EUSAGE;
		}
		snprintf(cfg->config_file, sizeof cfg->config_file, "%s", sc.config);
		if ((rc = s_load_file(cfg, sc.config, err, errlen)) != PP_OK)
			return rc;
	}
	if ((rc = s_load_env(cfg, envp, err, errlen)) != PP_OK)
		return rc;
	if ((rc = s_walk_argv(cfg, argc, argv, PASS_APPLY, &sc, err, errlen)) != PP_OK)
		return rc;
	if (cfg->rest_url[0] == '\0' &&
	    config_derive_rest_url(cfg->url, cfg->rest_url, sizeof cfg->rest_url) != 0) {
		snprintf(err, errlen, "--rest-url: cannot derive it from --url '%s'", cfg->url);
		return PP_EUSAGE;
	}
	/* a cap below the base means "never wait longer than the cap": the base follows it */
	if (cfg->backoff_base_ms > cfg->backoff_cap_ms)
		cfg->backoff_base_ms = cfg->backoff_cap_ms;
	/* a held bridge reads nothing upstream, PINGs and PONGs included: a hold must end
	 * well inside the keep-alive's two silent intervals (and the server's 20 s PONG
	 * deadline, hence the range's 10 s), so the stall follows a short ping interval */
	if (cfg->pub_stall_ms > cfg->ping_interval_ms / 2)
		cfg->pub_stall_ms = cfg->ping_interval_ms / 2;
	if ((rc = s_check_curve(cfg, err, errlen)) != PP_OK)
		return rc;
	bool remote_ok = cfg->allow_insecure_remote || config_curve_enabled(cfg);
	if (cfg->events[0] != '\0' &&
	    (rc = config_check_endpoint("--events", cfg->events, remote_ok, err, errlen)) != PP_OK)
		return rc;
	if (cfg->commands[0] != '\0' &&
	    (rc = config_check_endpoint("--commands", cfg->commands, remote_ok, err, errlen)) !=
		PP_OK)
		return rc;
	if (cfg->events[0] != '\0' && strcmp(cfg->events, cfg->commands) == 0 &&
	    !s_ephemeral_port(cfg->events)) {
		snprintf(err, errlen, "--commands: the same endpoint as --events");
		return PP_EUSAGE;
	}
	return PP_OK;
}

int config_load(struct config *cfg, int argc, char *const argv[], char *const envp[], char *err,
		size_t errlen)
{
	if (errlen > 0)
		err[0] = '\0';
	int rc = s_load(cfg, argc, argv, envp, err, errlen);
	if (rc != PP_OK && errlen > 0)
		log_redact(err); /* a value echoed back may hold a key pasted by mistake */
	return rc;
}

/* ---- Output ---------------------------------------------------------------------- */

void config_print_help(FILE *out, const char *progname)
{
	fprintf(out,
		"Usage: %s [options]\n"
		"Bridge the Plurum Pulse WebSocket to local ZeroMQ sockets.\n\n"
		"The API key is read from the file given by --api-key-file or from the\n"
		"environment variable PLURUM_API_KEY; it is never accepted as an option.\n"
		"Precedence: option > environment > config file > default.\n\n"
		"Options:\n"
		"  -h, --help               print this help and exit\n"
		"  --version                print the version and exit\n"
		"  --config FILE            read 'name = value' settings from FILE\n",
		progname);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &s_opts[i];
		char flag[64];
		snprintf(flag, sizeof flag, "--%s%s", o->name, o->type == OT_BOOL ? "" : " VALUE");
		fprintf(out, "  %-24s %s\n", flag, o->help);
		if (o->env != NULL || (o->type != OT_BOOL && o->def[0] != '\0')) {
			fprintf(out, "  %-24s", "");
			if (o->env != NULL)
				fprintf(out, " env %s", o->env);
			if (o->type == OT_U32)
				fprintf(out, "%s range %u..%u", o->env ? ";" : "", (unsigned)o->min,
					(unsigned)o->max);
			if (o->type != OT_BOOL && o->def[0] != '\0')
				fprintf(out, "; default %s", o->def);
			fputc('\n', out);
		}
	}
}

void config_print(FILE *out, const struct config *cfg)
{
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &s_opts[i];
		const void *field = (const char *)cfg + o->off;
		switch (o->type) {
		case OT_STR:
		case OT_URL:
		case OT_REST_URL: {
			/* Legacy mode aside, URLs hold no key; redact anyway, cheaply. */
			char v[CONFIG_STR_MAX];
			snprintf(v, sizeof v, "%s", (const char *)field);
			log_redact(v);
			fprintf(out, "%s = %s\n", o->name, v);
			break;
		}
		case OT_U32:
			fprintf(out, "%s = %u\n", o->name, (unsigned)*(const uint32_t *)field);
			break;
		case OT_BOOL:
			fprintf(out, "%s = %s\n", o->name, *(const bool *)field ? "true" : "false");
			break;
		case OT_VIA:
			fprintf(out, "%s = %s\n", o->name,
				s_via_names[*(const enum contribute_via *)field]);
			break;
		case OT_LEVEL:
			fprintf(out, "%s = %s\n", o->name, s_level_names[*(const int *)field]);
			break;
		}
	}
}
