/* fuzz_config.c: fuzz target for the settings loader (config.c).
 *
 * The input is used twice:
 *  1. as a command line: split into words at NUL or newline bytes, argv[0] = the program
 *     name; empty words are skipped; words that look like "PLURUM_...=value" go to envp instead of
 * argv, so the environment layer is fuzzed too. config_defaults() + config_load().
 *  2. as a config file: written to a file in a private temporary directory (created once
 *     per process) and loaded with "--config FILE".
 * A "--config" given in the fuzzed words is pointed at that same file, so the fuzzer
 * never opens a path of its own choosing (/dev/stdin would block, /dev/zero never ends).
 * --help and --version print to stdout, which is sent to /dev/null once at start. On
 * success the settings are printed (to /dev/null) and the URLs re-parsed. */
#include "fuzz_target.h"

#include <string.h>
#include <unistd.h>

#include "config.h"
#include "pp_err.h"

#define MAX_WORDS 64

static char s_dir[64];
static char s_file[96];
static FILE *s_null;

static void s_cleanup(void)
{
	unlink(s_file);
	rmdir(s_dir);
}

/* Once per process: the temp dir and file, stdout muted. */
static void s_init(void)
{
	if (s_null != NULL)
		return;
	snprintf(s_dir, sizeof s_dir, "/tmp/pp-fuzz-config-XXXXXX");
	if (mkdtemp(s_dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		abort();
	}
	snprintf(s_file, sizeof s_file, "%s/bridge.conf", s_dir);
	atexit(s_cleanup);
	if (freopen("/dev/null", "w", stdout) == NULL) {
		perror("fuzz_config: freopen");
		abort();
	}
	s_null = fopen("/dev/null", "w");
	if (s_null == NULL)
		abort();
}

static void s_write_file(const uint8_t *data, size_t size)
{
	FILE *f = fopen(s_file, "wb");
	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror("fuzz_config: writing the config file");
		abort();
	}
}

/* Load and check; argv and envp are NULL-terminated. */
static void s_load(int argc, char *argv[], char *envp[])
{
	struct config cfg;
	char err[512];
	memset(&cfg, 0x5A, sizeof cfg); /* config_defaults must set every field that matters */
	config_defaults(&cfg);
	memset(err, 'x', sizeof err);
	int rc = config_load(&cfg, argc, argv, envp, err, sizeof err);
	FUZZ_CHECK(rc == PP_OK || rc == PP_EEXIT || rc == PP_EUSAGE);
	FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
	if (rc == PP_EUSAGE)
		FUZZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	if (rc != PP_OK)
		return;
	FUZZ_CHECK(cfg.ws_budget >= 1 && cfg.ws_budget <= 60);
	FUZZ_CHECK(cfg.backoff_base_ms <= cfg.backoff_cap_ms);
	FUZZ_CHECK(cfg.rest_url[0] != '\0');
	config_print(s_null, &cfg);
	struct url_parts up;
	if (config_parse_url(cfg.url, &up, err, sizeof err) == 0)
		FUZZ_CHECK(up.websocket && up.port > 0 && up.port <= 65535 && up.path[0] == '/');
	config_parse_url(cfg.rest_url, &up, err, sizeof err);
	char rest[CONFIG_STR_MAX];
	config_derive_rest_url(cfg.url, rest, sizeof rest);
}

/* Mode 1: the input as words. */
static void s_words(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	char *argv[MAX_WORDS + 2], *envp[MAX_WORDS + 1];
	char cfgarg[sizeof s_file + 16];
	int argc = 0, envc = 0;
	if (copy == NULL)
		return;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "plurum-pulse-bridge";
	bool next_is_config = false;
	for (char *w = copy, *end = copy + size;
	     w <= end && argc < MAX_WORDS && envc < MAX_WORDS;) {
		char *stop = w;
		while (stop < end && *stop != '\0' && *stop != '\n')
			stop++;
		*stop = '\0';
		if (*w == '\0') {
			/* skip empty words: every seed line ends with a newline */
		} else if (next_is_config) {
			argv[argc++] = s_file;
			next_is_config = false;
		} else if (strncmp(w, "PLURUM_", 7) == 0 && strchr(w, '=') != NULL) {
			envp[envc++] = w;
		} else if (strncmp(w, "--config=", 9) == 0) {
			snprintf(cfgarg, sizeof cfgarg, "--config=%s", s_file);
			argv[argc++] = cfgarg;
		} else {
			next_is_config = strcmp(w, "--config") == 0;
			argv[argc++] = w;
		}
		w = stop + 1;
	}
	argv[argc] = NULL;
	envp[envc] = NULL;
	s_load(argc, argv, envp);
	free(copy);
}

/* Mode 2: the input as a config file. */
static void s_file_mode(void)
{
	char *argv[] = {"plurum-pulse-bridge", "--config", s_file, NULL};
	char *envp[] = {NULL};
	s_load(3, argv, envp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	s_init();
	s_write_file(data, size);
	s_file_mode();
	s_words(data, size);
	return 0;
}
