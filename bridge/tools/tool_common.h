/* tool_common.h: what plurum-pulse-sub and plurum-pulse-ctl share.
 *
 * Flag values ("--flag VALUE" or "--flag=VALUE"), bounded numbers, the one-line usage
 * error (exit status 2), and the stop flag set by SIGINT/SIGTERM with its self-pipe. */
#ifndef PP_TOOL_COMMON_H
#define PP_TOOL_COMMON_H

#include <signal.h>
#include <stdbool.h>

#define TOOL_EXIT_USAGE 2

/* Set by the SIGINT/SIGTERM handler; the tools' loops act on it. */
extern volatile sig_atomic_t tool_stop;

/* Install the SIGINT/SIGTERM handler (no SA_RESTART, so a blocked zmq_poll returns EINTR)
 * and ignore SIGPIPE. Also opens a self-pipe the handler writes one byte to, readable
 * through tool_signal_fd(): polling it beside a socket closes the race between checking
 * tool_stop and going to sleep. Returns 0, or -1 with errno set. */
int tool_signals_install(void);
int tool_signal_fd(void);

/* When argv[*i] is flag ("--flag VALUE", the value taking the next argument, *i advanced)
 * or "--flag=VALUE": *value points at VALUE and returns true. A flag missing its value
 * prints a usage error and exits 2. Otherwise false. */
bool tool_flag_value(const char *prog, int argc, char **argv, int *i, const char *flag,
		     const char **value);

/* A decimal integer in [min, max], or a usage error naming flag (exit 2). */
long long tool_number(const char *prog, const char *flag, const char *s, long long min,
		      long long max);

/* Print "PROG: MESSAGE (try PROG --help)" on stderr and exit 2. */
void tool_usage_error(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
