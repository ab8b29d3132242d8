/* tool_common.c: the shared helpers of the command-line tools (see tool_common.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool_common.h"

volatile sig_atomic_t tool_stop;
static int s_pipe[2] = {-1, -1};

/* Only async-signal-safe work: set the flag, poke the pipe (errno preserved). */
static void s_on_signal(int sig)
{
	int saved = errno;
	(void)sig;
	tool_stop = 1;
	if (s_pipe[1] >= 0) {
		ssize_t n = write(s_pipe[1], "x", 1);
		(void)n; /* a full pipe already says "stop" */
	}
	errno = saved;
}

int tool_signals_install(void)
{
	struct sigaction sa;
	if (s_pipe[0] < 0) {
		if (pipe(s_pipe) != 0)
			return -1;
		for (int i = 0; i < 2; i++) {
			fcntl(s_pipe[i], F_SETFL, fcntl(s_pipe[i], F_GETFL) | O_NONBLOCK);
			fcntl(s_pipe[i], F_SETFD, FD_CLOEXEC);
		}
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR */
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int tool_signal_fd(void)
{
	return s_pipe[0];
}

void tool_usage_error(const char *prog, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try %s --help)\n", prog);
	exit(TOOL_EXIT_USAGE);
}

bool tool_flag_value(const char *prog, int argc, char **argv, int *i, const char *flag,
		     const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(flag);
	if (strncmp(a, flag, n) != 0)
		return false;
	if (a[n] == '=') {
		*value = a + n + 1;
		return true;
	}
	if (a[n] != '\0')
		return false;
	if (*i + 1 >= argc)
		tool_usage_error(prog, "%s needs a value", flag);
	*value = argv[++*i];
	return true;
}

long long tool_number(const char *prog, const char *flag, const char *s, long long min,
		      long long max)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		tool_usage_error(prog, "%s: \"%s\" is not a whole number in %lld..%lld", flag, s,
				 min, max);
	return v;
}
