/* log.h: one-line log records on stderr, with levels, and redaction of the API key.
 *
 * Every line goes through log_redact() before it is written: anything that looks like
 * a Plurum key (plrm_live_ followed by key characters) and the exact key given to
 * log_set_secret() are replaced by "plrm_live_[REDACTED]" / "[REDACTED]". */
#ifndef PP_LOG_H
#define PP_LOG_H

#include <stddef.h>

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Program name shown in each line ("plurum-pulse-bridge"); the pointer is kept. */
void log_init(const char *progname, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn", "info", "debug" -> level; returns 0, or -1 for an unknown name. */
int log_level_parse(const char *name, enum log_level *out);
/* Remember the key so it is redacted even when it does not start with plrm_live_.
 * The string is copied; NULL forgets it. */
void log_set_secret(const char *key);

/* Redact in place; the string only gets shorter or stays the same length.
 * Returns the new length. Pure: usable on any buffer (the tests use it). */
size_t log_redact(char *s);

/* Write one record: "2026-11-29T07:30:00.123Z prog[pid] LEVEL message\n".
 * Newlines and control characters inside the message are escaped so a record
 * is always one line. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* A copy of s cut to at most max bytes (on a UTF-8 boundary), with "..." when cut, and
 * control characters escaped: used to log a hostile frame. Writes into out (outlen). */
void log_shorten(const char *s, size_t len, char *out, size_t outlen, size_t max);

/* An emit callback for lws_set_log_level(): maps the libwebsockets level (1 ERR, 2 WARN,
 * 4 NOTICE -> info, 8 INFO and the rest -> debug), strips the trailing newline and writes
 * the line through log_msg() (so it is filtered, redacted and escaped like any other). */
void log_lws_emit(int level, const char *line);

#endif
