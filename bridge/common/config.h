/* config.h: the daemon's settings, as one table (pure: no sockets, no logging).
 *
 * Precedence: command-line flag > environment > config file (--config FILE) > default.
 * Config file format: one "name = value" per line, name being the long flag without
 * "--" (e.g. "ws-budget = 40"); '#' starts a comment; boolean flags take true/false. */
#ifndef PP_CONFIG_H
#define PP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum contribute_via { VIA_REST = 0, VIA_WS, VIA_AUTO };

#define CONFIG_STR_MAX 1024

struct config {
	char url[CONFIG_STR_MAX];	    /* --url, PLURUM_PULSE_URL */
	char rest_url[CONFIG_STR_MAX];	    /* --rest-url, PLURUM_REST_URL ("" until derived) */
	char api_key_file[CONFIG_STR_MAX];  /* --api-key-file ("" = key from PLURUM_API_KEY) */
	char events[CONFIG_STR_MAX];	    /* --events, PLURUM_PULSE_EVENTS ("" = default ipc) */
	char commands[CONFIG_STR_MAX];	    /* --commands, PLURUM_PULSE_COMMANDS */
	char ca_file[CONFIG_STR_MAX];	    /* --ca-file, PLURUM_PULSE_CA_FILE */
	char config_file[CONFIG_STR_MAX];   /* --config */
	enum contribute_via contribute_via; /* --contribute-via, PLURUM_PULSE_CONTRIBUTE_VIA */
	uint32_t ws_budget;		    /* --ws-budget, PLURUM_PULSE_WS_BUDGET: 1..60, 55 */
	bool legacy_query_token;	    /* --legacy-query-token */
	bool insecure;			    /* --insecure */
	bool allow_insecure_remote;	    /* --allow-insecure-remote */
	char curve_secret_file[CONFIG_STR_MAX]; /* --curve-secret-file: the server's secret key */
	char curve_clients[CONFIG_STR_MAX];	/* --curve-clients: allow-list of client keys */
	bool inbox_mark_read;			/* --inbox-mark-read */
	bool no_backfill;			/* --no-backfill */
	int log_level;				/* --log-level error|warn|info|debug: info */
	uint32_t replay_size;			/* --replay-size: 10000 (0..1000000) */
	uint32_t dedup_size;			/* --dedup-size: 100000 (1..10000000) */
	uint32_t pub_hwm;			/* --pub-hwm: 1000 (1..10000000) */
	uint32_t pub_stall_ms;			/* --pub-stall-ms: 1000 (0..60000) */
	uint32_t ping_interval_ms;		/* --ping-interval-ms: 20000 (100..600000) */
	uint32_t auth_timeout_ms;		/* --auth-timeout-ms: 30000 (1000..600000) */
	uint32_t backoff_base_ms;		/* --backoff-base-ms: 500 (1..60000) */
	uint32_t backoff_cap_ms;		/* --backoff-cap-ms: 60000 (10..3600000) */
	uint32_t healthy_after_ms;		/* --healthy-after-ms: 30000 (0..3600000) */
	uint32_t rest_inflight;			/* --rest-inflight: 4 (1..64) */
	uint32_t client_quota;			/* --client-quota: 0 = none (queued per client) */
	uint32_t max_frame;			/* --max-frame: 16 MiB (1024..64 MiB) */
	bool check_config;			/* --check-config: validate, print, exit */
};

/* Fill cfg with the defaults. */
void config_defaults(struct config *cfg);

/* Apply, in precedence order, the config file named by --config (if any), then the
 * environment (envp, NULL-terminated "NAME=value" strings), then argv.
 * Returns PP_OK; PP_EEXIT after printing --help or --version to stdout; PP_EUSAGE with one
 * line in err naming the setting (e.g. "--ws-budget: 'abc' is not a number in 1..60").
 * Never reads the key itself (see keyfile.h). Derives rest_url from url when unset:
 * ws->http, wss->https, trailing "/pulse/ws" removed. Validates url (ws:// or wss://). */
int config_load(struct config *cfg, int argc, char *const argv[], char *const envp[], char *err,
		size_t errlen);

/* Print --help (every setting, its env name and default) to the stream. */
#include <stdio.h>
void config_print_help(FILE *out, const char *progname);
/* Print the effective settings, one "name = value" a line (never the key). */
void config_print(FILE *out, const struct config *cfg);

/* Derive the REST base from a Pulse URL into out. Returns 0 or -1 if url is not ws/wss. */
int config_derive_rest_url(const char *url, char *out, size_t outlen);

/* The parts of a ws://, wss://, http:// or https:// URL. */
struct url_parts {
	bool tls;		   /* wss or https */
	bool websocket;		   /* ws or wss */
	char host[256];		   /* without the brackets of an IPv6 literal */
	int port;		   /* explicit, else 80 / 443 */
	char path[CONFIG_STR_MAX]; /* starts with '/'; "/" when the URL has none; query kept */
};

/* Split url. Returns 0, or -1 with one line in err (which repeats the URL, redacted). */
int config_parse_url(const char *url, struct url_parts *out, char *err, size_t errlen);

/* Fill cfg->events / cfg->commands when empty with ipc://DIR/events.sock and
 * ipc://DIR/commands.sock, DIR being $XDG_RUNTIME_DIR/plurum-pulse (else
 * /tmp/plurum-pulse-<uid>). Creates DIR with mode 0700; refuses an existing DIR that is
 * not a directory owned by this user or that group or others can access.
 * Returns PP_OK, or PP_EUSAGE / PP_EIO with one line in err. */
int config_default_endpoints(struct config *cfg, char *err, size_t errlen);

/* Check one ZeroMQ endpoint for binding: ipc:// or tcp://; a tcp:// address that is not
 * loopback is refused unless allow_remote (CurveZMQ is configured, or
 * --allow-insecure-remote). what names the setting in err. Returns PP_OK or PP_EUSAGE. */
int config_check_endpoint(const char *what, const char *endpoint, bool allow_remote, char *err,
			  size_t errlen);

/* True when the CurveZMQ server settings are given (both --curve-secret-file and
 * --curve-clients; config_load refuses one without the other). */
bool config_curve_enabled(const struct config *cfg);

#endif
