/* main.c: plurum-pulse-bridge's entry: settings, key, then the loop in bridge.c. */
#include <stdio.h>
#include <string.h>

#include "bridge.h"
#include "config.h"
#include "keyfile.h"
#include "log.h"
#include "pp_err.h"

extern char **environ;

int main(int argc, char *argv[])
{
	static struct config cfg;
	char err[512], key[API_KEY_MAX];
	int rc;

	log_init("plurum-pulse-bridge", LOG_LVL_INFO);
	config_defaults(&cfg);
	rc = config_load(&cfg, argc, argv, environ, err, sizeof(err));
	if (rc == PP_EEXIT)
		return 0;
	if (rc != PP_OK) {
		fprintf(stderr, "plurum-pulse-bridge: %s\n", err);
		return 2;
	}
	log_set_level((enum log_level)cfg.log_level);
	if (config_default_endpoints(&cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "plurum-pulse-bridge: %s\n", err);
		return 2;
	}
	if (keyfile_read(cfg.api_key_file, key, err, sizeof(err)) != 0) {
		fprintf(stderr, "plurum-pulse-bridge: %s\n", err);
		return 2;
	}
	log_set_secret(key);
	if (cfg.check_config) {
		config_print(stdout, &cfg);
		printf("# configuration OK (an API key was found)\n");
		explicit_bzero(key, sizeof(key));
		return 0;
	}
	if (strncmp(key, "plrm_live_", 10) != 0)
		log_warn("the API key does not start with plrm_live_: the server will refuse it");
	rc = bridge_run(&cfg, key);
	explicit_bzero(key, sizeof(key));
	return rc;
}
