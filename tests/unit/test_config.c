/* test_config.c: settings from flags, environment, file and defaults, in that order. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "pp_err.h"

static struct config cfg;
static char err[512];
static char cfgpath[64];

/* Load with a NULL-terminated argv (program name added) and envp. */
static int load(const char *const *args, const char *const *env)
{
	char *argv[32] = {"plurum-pulse-bridge"};
	int argc = 1;
	for (; args && args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;
	config_defaults(&cfg);
	err[0] = '\0';
	return config_load(&cfg, argc, argv, (char *const *)env, err, sizeof err);
}

static void write_cfg(const char *text)
{
	snprintf(cfgpath, sizeof cfgpath, "/tmp/pp-config-test-%ld.conf", (long)getpid());
	FILE *f = fopen(cfgpath, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int teardown(void **state)
{
	(void)state;
	if (cfgpath[0])
		unlink(cfgpath);
	return 0;
}

static void defaults_match_the_contract(void **state)
{
	(void)state;
	assert_int_equal(load(NULL, NULL), PP_OK);
	assert_string_equal(cfg.url, "wss://api.plurum.ai/api/v1/pulse/ws");
	assert_string_equal(cfg.rest_url, "https://api.plurum.ai/api/v1");
	assert_int_equal(cfg.contribute_via, VIA_REST);
	assert_int_equal(cfg.ws_budget, 55);
	assert_int_equal(cfg.log_level, 2);
	assert_int_equal(cfg.replay_size, 1000);
	assert_int_equal(cfg.dedup_size, 100000);
	assert_int_equal(cfg.ping_interval_ms, 20000);
	assert_int_equal(cfg.backoff_base_ms, 500);
	assert_int_equal(cfg.backoff_cap_ms, 60000);
	assert_int_equal(cfg.max_frame, 16u << 20);
	assert_string_equal(cfg.events, "");
	assert_string_equal(cfg.commands, "");
	assert_false(cfg.insecure);
}

static void flag_beats_env_beats_file_beats_default(void **state)
{
	(void)state;
	write_cfg("# comment\nws-budget = 10\nurl = ws://file.example/api/v1/pulse/ws\n"
		  "contribute-via = ws\nreplay-size = 7   # trailing comment\n");
	const char *env[] = {"PLURUM_PULSE_WS_BUDGET=20", "PLURUM_PULSE_URL=ws://env.example/p",
			     NULL};
	const char *args[] = {"--config", cfgpath, "--ws-budget", "30", NULL};
	assert_int_equal(load(args, env), PP_OK);
	assert_int_equal(cfg.ws_budget, 30);		    /* flag */
	assert_string_equal(cfg.url, "ws://env.example/p"); /* env over file */
	assert_int_equal(cfg.contribute_via, VIA_WS);	    /* file over default */
	assert_int_equal(cfg.replay_size, 7);
	assert_int_equal(cfg.dedup_size, 100000); /* default */

	const char *args2[] = {"--config", cfgpath, NULL};
	assert_int_equal(load(args2, env), PP_OK);
	assert_int_equal(cfg.ws_budget, 20); /* env over file */
	assert_int_equal(load(args2, NULL), PP_OK);
	assert_int_equal(cfg.ws_budget, 10); /* file over default */
}

static void equals_and_space_forms_are_the_same(void **state)
{
	(void)state;
	const char *a[] = {"--ws-budget=12", "--contribute-via", "auto", NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	assert_int_equal(cfg.ws_budget, 12);
	assert_int_equal(cfg.contribute_via, VIA_AUTO);
}

static void boolean_flags_are_bare(void **state)
{
	(void)state;
	const char *a[] = {"--insecure", "--inbox-mark-read", "--no-backfill=false", NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	assert_true(cfg.insecure);
	assert_true(cfg.inbox_mark_read);
	assert_false(cfg.no_backfill);
	assert_false(cfg.legacy_query_token);
}

static void bad_number_names_the_flag_and_range(void **state)
{
	(void)state;
	const char *a[] = {"--ws-budget", "abc", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_string_equal(err, "--ws-budget: 'abc' is not a number in 1..60");
	const char *b[] = {"--ws-budget=61", NULL};
	assert_int_equal(load(b, NULL), PP_EUSAGE);
	const char *c[] = {"--ws-budget=-1", NULL};
	assert_int_equal(load(c, NULL), PP_EUSAGE);
	const char *d[] = {"--max-frame", "99999999999999999999", NULL};
	assert_int_equal(load(d, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "--max-frame"));
}

static void bad_env_value_names_the_variable(void **state)
{
	(void)state;
	const char *env[] = {"PLURUM_PULSE_CONTRIBUTE_VIA=carrier-pigeon", NULL};
	assert_int_equal(load(NULL, env), PP_EUSAGE);
	assert_string_equal(
	    err, "PLURUM_PULSE_CONTRIBUTE_VIA: 'carrier-pigeon' is not rest, ws or auto");
}

static void bad_log_level_and_boolean_are_refused(void **state)
{
	(void)state;
	const char *a[] = {"--log-level", "loud", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "--log-level"));
	const char *b[] = {"--insecure=maybe", NULL};
	assert_int_equal(load(b, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "--insecure"));
}

static void unknown_option_is_refused(void **state)
{
	(void)state;
	const char *a[] = {"--frobnicate", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_string_equal(err, "unknown option --frobnicate");
	const char *b[] = {"stray", NULL};
	assert_int_equal(load(b, NULL), PP_EUSAGE);
}

static void missing_value_is_refused(void **state)
{
	(void)state;
	const char *a[] = {"--url", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_string_equal(err, "--url: missing value");
}

static void api_key_flag_is_refused_with_advice(void **state)
{
	(void)state;
	const char *a[] = {"--api-key", "plrm_live_SECRETSECRET123", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "PLURUM_API_KEY"));
	assert_non_null(strstr(err, "--api-key-file"));
	assert_null(strstr(err, "SECRETSECRET"));
	const char *b[] = {"--api-key=plrm_live_SECRETSECRET123", NULL};
	assert_int_equal(load(b, NULL), PP_EUSAGE);
	assert_null(strstr(err, "SECRETSECRET"));
}

static void key_pasted_in_a_value_is_redacted_in_the_error(void **state)
{
	(void)state;
	const char *a[] = {"--url", "https://h/?token=plrm_live_SECRETSECRET123", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_null(strstr(err, "SECRETSECRET"));
}

static void url_must_be_ws_or_wss_with_host(void **state)
{
	(void)state;
	const char *bad[] = {"http://h/x",    "wss://",	      "wss:///path",
			     "ftp://h",	      "wss://h:0/",   "wss://h:70000/",
			     "wss://h:12ab/", "wss://[::1/x", "wss://u@h/"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		const char *a[] = {"--url", bad[i], NULL};
		assert_int_equal(load(a, NULL), PP_EUSAGE);
		assert_non_null(strstr(err, "--url"));
	}
	const char *ok[] = {"--url", "ws://127.0.0.1:8080/api/v1/pulse/ws", NULL};
	assert_int_equal(load(ok, NULL), PP_OK);
	assert_string_equal(cfg.rest_url, "http://127.0.0.1:8080/api/v1");
}

static void url_parts_are_split(void **state)
{
	(void)state;
	struct url_parts u;
	assert_int_equal(config_parse_url("wss://[::1]:8443/a/b?x=1", &u, err, sizeof err), 0);
	assert_true(u.tls && u.websocket);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8443);
	assert_string_equal(u.path, "/a/b?x=1");
	assert_int_equal(config_parse_url("ws://h", &u, err, sizeof err), 0);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/");
	assert_int_equal(config_parse_url("https://api.plurum.ai/api/v1", &u, err, sizeof err), 0);
	assert_false(u.websocket);
	assert_int_equal(u.port, 443);
}

static void rest_url_is_derived(void **state)
{
	(void)state;
	char out[256];
	assert_int_equal(config_derive_rest_url("wss://H/api/v1/pulse/ws", out, sizeof out), 0);
	assert_string_equal(out, "https://H/api/v1");
	assert_int_equal(config_derive_rest_url("ws://h:81/api/v1/pulse/ws/", out, sizeof out), 0);
	assert_string_equal(out, "http://h:81/api/v1");
	assert_int_equal(config_derive_rest_url("wss://h/other", out, sizeof out), 0);
	assert_string_equal(out, "https://h/other");
	assert_int_equal(config_derive_rest_url("https://h/x", out, sizeof out), -1);
}

static void rest_url_flag_overrides_derivation(void **state)
{
	(void)state;
	const char *a[] = {"--rest-url", "http://127.0.0.1:9/api", NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	assert_string_equal(cfg.rest_url, "http://127.0.0.1:9/api");
	const char *b[] = {"--rest-url", "ws://h/x", NULL};
	assert_int_equal(load(b, NULL), PP_EUSAGE);
}

static void config_file_errors_name_file_and_line(void **state)
{
	(void)state;
	char want[128];
	write_cfg("ws-budget = 5\n\nbogus = 1\n");
	const char *a[] = {"--config", cfgpath, NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	snprintf(want, sizeof want, "%s:3: unknown setting 'bogus'", cfgpath);
	assert_string_equal(err, want);

	write_cfg("ws-budget = 500\n");
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	snprintf(want, sizeof want, "%s:1: ws-budget: '500' is not a number in 1..60", cfgpath);
	assert_string_equal(err, want);

	write_cfg("just words\n");
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, ":1: expected 'name = value'"));
}

static void config_file_takes_booleans_and_quotes(void **state)
{
	(void)state;
	write_cfg("insecure = true\nca-file = \"/etc/x y.pem\"\n");
	const char *a[] = {"--config", cfgpath, NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	assert_true(cfg.insecure);
	assert_string_equal(cfg.ca_file, "/etc/x y.pem");
	assert_string_equal(cfg.config_file, cfgpath);
}

static void missing_config_file_is_refused(void **state)
{
	(void)state;
	const char *a[] = {"--config", "/nonexistent/pp.conf", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "/nonexistent/pp.conf"));
}

static void remote_tcp_endpoint_needs_explicit_permission(void **state)
{
	(void)state;
	const char *a[] = {"--events", "tcp://0.0.0.0:5555", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "CurveZMQ"));
	assert_non_null(strstr(err, "--events"));
	const char *b[] = {"--commands", "tcp://*:5556", NULL};
	assert_int_equal(load(b, NULL), PP_EUSAGE);
	const char *c[] = {"--events", "tcp://0.0.0.0:5555", "--allow-insecure-remote", NULL};
	assert_int_equal(load(c, NULL), PP_OK);
	const char *d[] = {"--events", "tcp://127.0.0.1:5555", "--commands", "tcp://[::1]:5556",
			   NULL};
	assert_int_equal(load(d, NULL), PP_OK);
	const char *e[] = {"--events", "udp://x", NULL};
	assert_int_equal(load(e, NULL), PP_EUSAGE);
}

static void remote_tcp_endpoint_is_allowed_with_curve_keys(void **state)
{
	(void)state;
	const char *a[] = {"--events",	      "tcp://0.0.0.0:5555",    "--commands",
			   "tcp://*:5556",    "--curve-secret-file",   "/etc/pp/server.key",
			   "--curve-clients", "/etc/pp/clients.allow", NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	assert_true(config_curve_enabled(&cfg));
	assert_string_equal(cfg.curve_secret_file, "/etc/pp/server.key");
	assert_string_equal(cfg.curve_clients, "/etc/pp/clients.allow");
	/* the same wildcard port twice is two ephemeral ports, not a clash */
	const char *w[] = {"--events", "tcp://127.0.0.1:*", "--commands", "tcp://127.0.0.1:*",
			   NULL};
	assert_int_equal(load(w, NULL), PP_OK);
	const char *x[] = {"--events", "tcp://127.0.0.1:5555", "--commands", "tcp://127.0.0.1:5555",
			   NULL};
	assert_int_equal(load(x, NULL), PP_EUSAGE);
	/* loopback without curve stays allowed, and curve is off by default */
	const char *b[] = {"--events", "tcp://127.0.0.1:5555", NULL};
	assert_int_equal(load(b, NULL), PP_OK);
	assert_false(config_curve_enabled(&cfg));
}

static void curve_settings_come_from_the_environment_and_file(void **state)
{
	(void)state;
	const char *env[] = {"PLURUM_PULSE_CURVE_SECRET_FILE=/env/server.key",
			     "PLURUM_PULSE_CURVE_CLIENTS=/env/clients", NULL};
	const char *a[] = {"--events", "tcp://0.0.0.0:5555", NULL};
	assert_int_equal(load(a, env), PP_OK);
	assert_string_equal(cfg.curve_secret_file, "/env/server.key");
	assert_string_equal(cfg.curve_clients, "/env/clients");
	/* the flag beats the environment */
	const char *b[] = {"--curve-clients", "/flag/clients", NULL};
	assert_int_equal(load(b, env), PP_OK);
	assert_string_equal(cfg.curve_clients, "/flag/clients");
	write_cfg("curve-secret-file = /file/server.key\ncurve-clients = /file/clients\n"
		  "events = tcp://0.0.0.0:5555\n");
	const char *c[] = {"--config", cfgpath, NULL};
	assert_int_equal(load(c, NULL), PP_OK);
	assert_string_equal(cfg.curve_secret_file, "/file/server.key");
	assert_true(config_curve_enabled(&cfg));
}

static void curve_secret_and_allow_list_come_together(void **state)
{
	(void)state;
	const char *a[] = {"--curve-secret-file", "/etc/pp/server.key", NULL};
	assert_int_equal(load(a, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "--curve-clients"));
	const char *b[] = {"--curve-clients", "/etc/pp/clients", NULL};
	assert_int_equal(load(b, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "--curve-secret-file"));
	/* half the settings do not open remote endpoints either */
	const char *c[] = {"--events", "tcp://0.0.0.0:5555", "--curve-clients", "/x", NULL};
	assert_int_equal(load(c, NULL), PP_EUSAGE);
}

static void help_lists_every_option_and_env_name(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_print_help(f, "plurum-pulse-bridge");
	fclose(f);
	static const char *const want[] = {"--url",
					   "PLURUM_PULSE_URL",
					   "--api-key-file",
					   "PLURUM_API_KEY",
					   "--events",
					   "PLURUM_PULSE_EVENTS",
					   "--commands",
					   "PLURUM_PULSE_COMMANDS",
					   "--ca-file",
					   "PLURUM_PULSE_CA_FILE",
					   "--rest-url",
					   "PLURUM_REST_URL",
					   "--contribute-via",
					   "PLURUM_PULSE_CONTRIBUTE_VIA",
					   "--ws-budget",
					   "PLURUM_PULSE_WS_BUDGET",
					   "--legacy-query-token",
					   "--insecure",
					   "--allow-insecure-remote",
					   "--inbox-mark-read",
					   "--no-backfill",
					   "--log-level",
					   "--replay-size",
					   "--dedup-size",
					   "--pub-hwm",
					   "--pub-stall-ms",
					   "--ping-interval-ms",
					   "--auth-timeout-ms",
					   "--backoff-base-ms",
					   "--backoff-cap-ms",
					   "--healthy-after-ms",
					   "--rest-inflight",
					   "--client-quota",
					   "--max-frame",
					   "--check-config",
					   "--curve-secret-file",
					   "PLURUM_PULSE_CURVE_SECRET_FILE",
					   "--curve-clients",
					   "PLURUM_PULSE_CURVE_CLIENTS",
					   "--config",
					   "--help",
					   "--version"};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (strstr(buf, want[i]) == NULL)
			fail_msg("--help does not mention %s", want[i]);
	free(buf);
}

static void help_flag_exits_cleanly(void **state)
{
	(void)state;
	FILE *saved = stdout;
	stdout = fopen("/dev/null", "w");
	const char *a[] = {"--ws-budget", "9", "-h", NULL};
	int rc = load(a, NULL);
	const char *b[] = {"--version", NULL};
	int rc2 = load(b, NULL);
	fclose(stdout);
	stdout = saved;
	assert_int_equal(rc, PP_EEXIT);
	assert_int_equal(rc2, PP_EEXIT);
}

static void check_config_flag_is_recorded(void **state)
{
	(void)state;
	const char *a[] = {"--check-config", NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	assert_true(cfg.check_config);
}

static void print_shows_effective_settings(void **state)
{
	(void)state;
	const char *a[] = {"--ws-budget", "33", NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	config_print(f, &cfg);
	fclose(f);
	assert_non_null(strstr(buf, "ws-budget = 33\n"));
	assert_non_null(strstr(buf, "contribute-via = rest\n"));
	assert_non_null(strstr(buf, "log-level = info\n"));
	assert_non_null(strstr(buf, "rest-url = https://api.plurum.ai/api/v1\n"));
	free(buf);
}

static void backoff_cap_below_the_base_lowers_the_base(void **state)
{
	(void)state;
	const char *a[] = {"--backoff-cap-ms", "200", NULL};
	assert_int_equal(load(a, NULL), PP_OK);
	assert_int_equal(cfg.backoff_cap_ms, 200);
	assert_int_equal(cfg.backoff_base_ms, 200);
}

static void stall_is_at_most_half_a_ping_interval(void **state)
{
	(void)state;
	const char *shortping[] = {"--ping-interval-ms", "300", NULL};
	const char *over[] = {"--ping-interval-ms", "8000", "--pub-stall-ms", "5000", NULL};
	const char *fits[] = {"--ping-interval-ms", "8000", "--pub-stall-ms", "3000", NULL};
	const char *toolong[] = {"--pub-stall-ms", "10001", NULL};
	assert_int_equal(load(shortping, NULL), PP_OK);
	assert_int_equal(cfg.pub_stall_ms, 150);
	assert_int_equal(load(over, NULL), PP_OK);
	assert_int_equal(cfg.pub_stall_ms, 4000);
	assert_int_equal(load(fits, NULL), PP_OK);
	assert_int_equal(cfg.pub_stall_ms, 3000);
	assert_int_equal(load(toolong, NULL), PP_EUSAGE);
	assert_non_null(strstr(err, "pub-stall-ms"));
}

static void default_endpoints_use_a_private_runtime_dir(void **state)
{
	(void)state;
	char dir[64], want[160];
	snprintf(dir, sizeof dir, "/tmp/pp-xdg-%ld", (long)getpid());
	mkdir(dir, 0700);
	setenv("XDG_RUNTIME_DIR", dir, 1);
	config_defaults(&cfg);
	assert_int_equal(config_default_endpoints(&cfg, err, sizeof err), PP_OK);
	snprintf(want, sizeof want, "ipc://%s/plurum-pulse/events.sock", dir);
	assert_string_equal(cfg.events, want);
	snprintf(want, sizeof want, "ipc://%s/plurum-pulse/commands.sock", dir);
	assert_string_equal(cfg.commands, want);
	struct stat st;
	snprintf(want, sizeof want, "%s/plurum-pulse", dir);
	assert_int_equal(stat(want, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	/* an explicit endpoint is kept */
	config_defaults(&cfg);
	strcpy(cfg.events, "tcp://127.0.0.1:1");
	assert_int_equal(config_default_endpoints(&cfg, err, sizeof err), PP_OK);
	assert_string_equal(cfg.events, "tcp://127.0.0.1:1");

	/* a directory others can enter is refused */
	chmod(want, 0755);
	config_defaults(&cfg);
	assert_int_equal(config_default_endpoints(&cfg, err, sizeof err), PP_EUSAGE);
	assert_non_null(strstr(err, want));
	rmdir(want);
	rmdir(dir);
	unsetenv("XDG_RUNTIME_DIR");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_match_the_contract),
	    cmocka_unit_test_teardown(flag_beats_env_beats_file_beats_default, teardown),
	    cmocka_unit_test(equals_and_space_forms_are_the_same),
	    cmocka_unit_test(boolean_flags_are_bare),
	    cmocka_unit_test(bad_number_names_the_flag_and_range),
	    cmocka_unit_test(bad_env_value_names_the_variable),
	    cmocka_unit_test(bad_log_level_and_boolean_are_refused),
	    cmocka_unit_test(unknown_option_is_refused),
	    cmocka_unit_test(missing_value_is_refused),
	    cmocka_unit_test(api_key_flag_is_refused_with_advice),
	    cmocka_unit_test(key_pasted_in_a_value_is_redacted_in_the_error),
	    cmocka_unit_test(url_must_be_ws_or_wss_with_host),
	    cmocka_unit_test(url_parts_are_split),
	    cmocka_unit_test(rest_url_is_derived),
	    cmocka_unit_test(rest_url_flag_overrides_derivation),
	    cmocka_unit_test_teardown(config_file_errors_name_file_and_line, teardown),
	    cmocka_unit_test_teardown(config_file_takes_booleans_and_quotes, teardown),
	    cmocka_unit_test(missing_config_file_is_refused),
	    cmocka_unit_test(remote_tcp_endpoint_needs_explicit_permission),
	    cmocka_unit_test(remote_tcp_endpoint_is_allowed_with_curve_keys),
	    cmocka_unit_test_teardown(curve_settings_come_from_the_environment_and_file, teardown),
	    cmocka_unit_test(curve_secret_and_allow_list_come_together),
	    cmocka_unit_test(help_lists_every_option_and_env_name),
	    cmocka_unit_test(help_flag_exits_cleanly),
	    cmocka_unit_test(check_config_flag_is_recorded),
	    cmocka_unit_test(print_shows_effective_settings),
	    cmocka_unit_test(backoff_cap_below_the_base_lowers_the_base),
	    cmocka_unit_test(stall_is_at_most_half_a_ping_interval),
	    cmocka_unit_test(default_endpoints_use_a_private_runtime_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
