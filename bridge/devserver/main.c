/*
 * main.c: plurum-pulse-devserver's entry point. Owns the command line (a table, one row per
 * option), the lws context with its plain and TLS vhosts (both on the one protocol of
 * http.c, both sharing the one state), the ready line, and SIGINT/SIGTERM (a signalfd in
 * the loop). See docs/devserver.md.
 */
#include "devserver.h"
#include "emit.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define SIGNAL_PROTOCOL "ds-signals"

static bool s_stop;

enum opt_type { OPT_INT, OPT_STR, OPT_FLAG, OPT_AGENT };

struct opt {
	const char *name;
	enum opt_type type;
	long min, max;
	size_t offset; /* into struct ds_config */
};

static const struct opt s_opts[] = {
    {"--port", OPT_INT, -1, 65535, offsetof(struct ds_config, port)},
    {"--tls-port", OPT_INT, -1, 65535, offsetof(struct ds_config, tls_port)},
    {"--bind", OPT_STR, 0, 0, offsetof(struct ds_config, bind)},
    {"--agent", OPT_AGENT, 0, 0, 0},
    {"--auth-timeout-ms", OPT_INT, 1, 3600000, offsetof(struct ds_config, auth_timeout_ms)},
    {"--ping-interval-ms", OPT_INT, 1, 3600000, offsetof(struct ds_config, ping_interval_ms)},
    {"--pong-timeout-ms", OPT_INT, 1, 3600000, offsetof(struct ds_config, pong_timeout_ms)},
    {"--rate-limit", OPT_INT, 0, 1000000, offsetof(struct ds_config, rate_limit)},
    {"--inbox-cap", OPT_INT, 1, 100000000, offsetof(struct ds_config, inbox_cap)},
    {"--throttle", OPT_FLAG, 0, 0, offsetof(struct ds_config, throttle)},
    {"--cert-dir", OPT_STR, 0, 0, offsetof(struct ds_config, cert_dir)},
    {"--log-level", OPT_INT, 0, 4095, offsetof(struct ds_config, log_level)},
};

static void s_usage(FILE *f)
{
	fprintf(f, "usage: plurum-pulse-devserver [--port N] [--tls-port N] [--bind ADDR]\n"
		   "         [--agent KEY=AGENT_ID]... [--auth-timeout-ms MS]\n"
		   "         [--ping-interval-ms MS] [--pong-timeout-ms MS] [--rate-limit N]\n"
		   "         [--inbox-cap N] [--throttle] [--cert-dir DIR] [--log-level L]\n"
		   "(docs/devserver.md)\n");
}

/* Adds a preloaded agent from KEY=AGENT_ID. Returns 0 or -1 (message on stderr). */
static int s_agent_arg(struct ds_server *ds, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[600], err[128];

	if (!eq || eq == arg || !eq[1] || (size_t)(eq - arg) >= sizeof(key)) {
		fprintf(stderr, "devserver: --agent wants KEY=AGENT_ID\n");
		return -1;
	}
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	if (!state_agent_add(&ds->st, key, eq + 1, err, sizeof(err))) {
		fprintf(stderr, "devserver: --agent: %s\n", err);
		return -1;
	}
	return 0;
}

static int s_parse_int(const char *name, const char *v, long min, long max, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || !*v || *end || n < min || n > max) {
		fprintf(stderr, "devserver: %s wants an integer from %ld to %ld\n", name, min, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/* Parses argv into ds->cfg (defaults first). Returns 0, 1 (--help) or -1. */
static int s_parse_args(struct ds_server *ds, int argc, char **argv)
{
	struct ds_config *cfg = &ds->cfg;

	*cfg = (struct ds_config){.port = 0,
				  .tls_port = -1,
				  .bind = "127.0.0.1",
				  .auth_timeout_ms = 10000,
				  .ping_interval_ms = 20000,
				  .pong_timeout_ms = 20000,
				  .rate_limit = 60,
				  .inbox_cap = DS_INBOX_CAP,
				  .log_level = LLL_ERR | LLL_WARN};
	for (int i = 1; i < argc; i++) {
		const struct opt *o = NULL;
		char *field;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
		for (size_t k = 0; k < sizeof(s_opts) / sizeof(s_opts[0]); k++)
			if (!strcmp(argv[i], s_opts[k].name))
				o = &s_opts[k];
		if (!o) {
			fprintf(stderr, "devserver: unknown option %s\n", argv[i]);
			return -1;
		}
		field = (char *)cfg + o->offset;
		if (o->type == OPT_FLAG) {
			*(bool *)field = true;
			continue;
		}
		if (++i >= argc) {
			fprintf(stderr, "devserver: %s needs a value\n", o->name);
			return -1;
		}
		if (o->type == OPT_STR)
			*(const char **)field = argv[i];
		else if (o->type == OPT_AGENT
			     ? s_agent_arg(ds, argv[i])
			     : s_parse_int(o->name, argv[i], o->min, o->max, (int *)field))
			return -1;
	}
	return 0;
}

static int s_signal_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
			     void *in, size_t len)
{
	struct signalfd_siginfo si;

	(void)user;
	(void)in;
	(void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE &&
	    read(lws_get_socket_fd(wsi), &si, sizeof(si)) == (ssize_t)sizeof(si))
		s_stop = true;
	return 0;
}

static const struct lws_protocols s_protocols[] = {
    {"pulse", http_callback, sizeof(struct ds_pss), 65536, 0, NULL, 0},
    {EMIT_TIMER_PROTOCOL, emit_timer_callback, 0, 0, 0, NULL, 0},
    {SIGNAL_PROTOCOL, s_signal_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Creates one listening vhost; *port_inout 0 = ephemeral, read back. NULL on failure. */
static struct lws_vhost *s_vhost(struct ds_server *ds, const char *name, int *port_inout,
				 const char *cert, const char *key)
{
	struct lws_context_creation_info info;
	struct lws_vhost *vh;

	memset(&info, 0, sizeof(info));
	info.vhost_name = name;
	info.port = *port_inout;
	info.iface = ds->cfg.bind;
	info.protocols = s_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	if (cert) {
		info.ssl_cert_filepath = cert;
		info.ssl_private_key_filepath = key;
		/* Why: keep HTTPS on HTTP/1.1, the one framing the handlers write. */
		info.alpn = "http/1.1";
	}
	vh = lws_create_vhost(ds->ctx, &info);
	if (vh)
		*port_inout = lws_get_vhost_listen_port(vh);
	return vh;
}

/* Prints the ready line tests wait for. */
static void s_ready(struct ds_server *ds, const char *cert)
{
	json_t *j =
	    json_pack("{s:b,s:o,s:o,s:o,s:i}", "ready", 1, "port",
		      ds->cfg.port >= 0 ? json_integer(ds->cfg.port) : json_null(), "tls_port",
		      ds->cfg.tls_port >= 0 ? json_integer(ds->cfg.tls_port) : json_null(), "cert",
		      cert ? json_string(cert) : json_null(), "pid", (int)getpid());
	char *line = json_dumps(j, JSON_COMPACT);

	printf("%s\n", line ? line : "{\"ready\":true}");
	fflush(stdout);
	free(line);
	json_decref(j);
}

/* SIGINT/SIGTERM are blocked and read from a signalfd in the loop: a flag set by a handler
 * could land just before poll() blocks and wait for the next event. (It was a flag and a
 * 100 ms lws timer to notice it; each tick held the events being emitted by up to ~1 ms,
 * measured as a spike every 100 ms in every latency run, raw client included. lws 4.1's
 * whole-millisecond timer rounding is the likely cause; a signalfd needs no timer.) */
static int s_signals_open(struct lws_vhost *vh)
{
	lws_sock_file_fd_type u;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	u.filefd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (u.filefd < 0)
		return -1;
	/* on failure lws has closed the fd */
	return lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, SIGNAL_PROTOCOL, NULL)
		   ? 0
		   : -1;
}

static int s_setup_tls(struct ds_server *ds, char *cert, char *key, size_t len, char *dirbuf)
{
	char err[256];

	if (!ds->cfg.cert_dir) {
		snprintf(dirbuf, PATH_MAX, "%s/ppdev.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (!mkdtemp(dirbuf)) {
			fprintf(stderr, "devserver: mkdtemp: %s\n", strerror(errno));
			return -1;
		}
		ds->cfg.cert_dir = dirbuf;
	}
	if (tls_cert_ensure(ds->cfg.cert_dir, cert, key, len, err, sizeof(err))) {
		fprintf(stderr, "devserver: %s\n", err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct ds_server ds;
	struct lws_context_creation_info info;
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], dirbuf[PATH_MAX];
	int rc = 1, r;

	state_init(&ds.st);
	r = s_parse_args(&ds, argc, argv);
	if (r) {
		s_usage(r > 0 ? stdout : stderr);
		rc = r > 0 ? 0 : 2;
		goto out;
	}
	ds.st.inbox_cap = (size_t)ds.cfg.inbox_cap;
	if (ds.cfg.port < 0 && ds.cfg.tls_port < 0) {
		fprintf(stderr, "devserver: both listeners are disabled\n");
		rc = 2;
		goto out;
	}
	if (ds.cfg.tls_port >= 0 && s_setup_tls(&ds, cert, key, sizeof(cert), dirbuf))
		goto out;
	lws_set_log_level(ds.cfg.log_level, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = &ds;
	ds.ctx = lws_create_context(&info);
	if (!ds.ctx) {
		fprintf(stderr, "devserver: lws_create_context failed\n");
		goto out;
	}
	if ((ds.cfg.port >= 0 && !s_vhost(&ds, "plain", &ds.cfg.port, NULL, NULL)) ||
	    (ds.cfg.tls_port >= 0 && !s_vhost(&ds, "tls", &ds.cfg.tls_port, cert, key))) {
		fprintf(stderr, "devserver: cannot listen on %s (port %d / tls %d)\n", ds.cfg.bind,
			ds.cfg.port, ds.cfg.tls_port);
		goto out;
	}
	if (s_signals_open(lws_get_vhost_by_name(ds.ctx, ds.cfg.port >= 0 ? "plain" : "tls"))) {
		fprintf(stderr, "devserver: cannot watch SIGINT/SIGTERM: %s\n", strerror(errno));
		goto out;
	}
	s_ready(&ds, ds.cfg.tls_port >= 0 ? cert : NULL);
	while (!s_stop)
		if (lws_service(ds.ctx, 0) < 0)
			break;
	rc = 0;
out:
	if (ds.ctx)
		lws_context_destroy(ds.ctx);
	state_free(&ds.st);
	return rc;
}
