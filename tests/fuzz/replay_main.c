/* replay_main.c: a main() for fuzz targets built without libFuzzer.
 *
 * Usage: fuzz_NAME [--quiet] [--time-limit-ms=N] PATH...  where each PATH is a file or a directory
 * whose regular files (not recursing, names starting with '.' skipped, sorted by name) are fed once
 * each to LLVMFuzzerTestOneInput(). This turns the seed corpus and the crash regressions into plain
 * regression tests in every build (gcc or clang, sanitizers or not). With --time-limit-ms, an input
 * that runs longer than N ms fails the run (a hang or a quadratic blow-up is a bug too: the bridge
 * runs these on its one event loop). Exits 0 after replaying at least one input, 1 when a path
 * cannot be read or no input was found at all (an empty run would pass silently). A bug aborts the
 * process. */
#include "fuzz_target.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static const char *volatile s_current = ""; /* the input being run, for the alarm */

static void s_on_alarm(int sig)
{
	(void)sig;
	/* async-signal-safe: write(2) only */
	static const char a[] = "replay: TIME LIMIT exceeded by ";
	ssize_t r = write(2, a, sizeof a - 1);
	const char *p = s_current;
	r = write(2, p, strlen(p));
	r = write(2, "\n", 1);
	(void)r;
	_exit(3);
}

/* Arm (ms > 0) or disarm (0) the one-shot timer for an input. */
static void s_timer(long ms)
{
	struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static long s_limit_ms; /* 0 = none */

/* Read a whole file. Returns a malloc'd buffer (caller frees; never NULL on success, even
 * for an empty file) and its size, or NULL with errno set. */
static uint8_t *s_slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	uint8_t *buf = malloc(cap);
	while (buf != NULL) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap)
			break;
		uint8_t *bigger = realloc(buf, cap * 2);
		if (bigger == NULL) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = bigger;
		cap *= 2;
	}
	if (buf != NULL && ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	*size = n;
	return buf;
}

/* Feed one file to the target. Returns 0, or -1 when it cannot be read. */
static int s_replay_file(const char *path, bool quiet)
{
	size_t size = 0;
	uint8_t *buf = s_slurp(path, &size);
	if (buf == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!quiet)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
	/* A copy of exactly size bytes, so ASan sees a read past the input's end. */
	uint8_t *exact = malloc(size > 0 ? size : 1);
	if (exact == NULL) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, size);
	free(buf);
	s_current = path;
	s_timer(s_limit_ms);
	LLVMFuzzerTestOneInput(exact, size);
	s_timer(0);
	free(exact);
	return 0;
}

static int s_by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Replay every regular file of dir; adds to *count. Returns 0 or -1. */
static int s_replay_dir(const char *dir, bool quiet, size_t *count)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, s_by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) <
			sizeof path &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (s_replay_file(path, quiet) != 0)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	bool quiet = false;
	size_t count = 0;
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (strcmp(argv[i], "--quiet") == 0) {
			quiet = true;
		} else if (strncmp(argv[i], "--time-limit-ms=", 16) == 0) {
			s_limit_ms = strtol(argv[i] + 16, NULL, 10);
			signal(SIGALRM, s_on_alarm);
		} else if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (s_replay_dir(argv[i], quiet, &count) != 0)
				rc = 1;
		} else if (s_replay_file(argv[i], quiet) != 0) {
			rc = 1;
		} else {
			count++;
		}
	}
	fprintf(stderr, "replay: %zu input(s) replayed without a crash\n", count);
	if (count == 0) {
		fprintf(stderr, "replay: no input found (usage: %s [--quiet] FILE|DIR...)\n",
			argv[0]);
		rc = 1;
	}
	return rc;
}
