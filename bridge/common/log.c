/* log.c: one-line log records on stderr, level filtering, and redaction of the API key.
 *
 * Owns the process-wide log state (program name, level, the remembered secret). Every
 * record is formatted into a bounded buffer, redacted, escaped to one line, then written
 * with a single write() so concurrent writers (several processes on one stderr) do not
 * interleave inside a line. */
#include "log.h"
#include "normalize.h" /* time_iso8601_ms */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_MSG_MAX  4096 /* one message before escaping; longer ones are cut */
#define LOG_LINE_MAX (LOG_MSG_MAX * 4 + 256)

static const char KEY_PREFIX[] = "plrm_live_";
#define KEY_PREFIX_LEN (sizeof(KEY_PREFIX) - 1)
static const char REDACTED[] = "[REDACTED]";
#define REDACTED_LEN (sizeof(REDACTED) - 1)

static const char *s_progname = "plurum-pulse";
static enum log_level s_level = LOG_LVL_INFO;
static char *s_secret; /* owned copy of the key, or NULL */

static const char *const s_level_names[] = {"error", "warn", "info", "debug"};
static const char *const s_level_tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void log_init(const char *progname, enum log_level level)
{
	if (progname != NULL)
		s_progname = progname;
	log_set_level(level);
}

void log_set_level(enum log_level level)
{
	if (level >= LOG_LVL_ERROR && level <= LOG_LVL_DEBUG)
		s_level = level;
}

enum log_level log_get_level(void)
{
	return s_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
	if (name == NULL)
		return -1;
	for (int i = LOG_LVL_ERROR; i <= LOG_LVL_DEBUG; i++) {
		if (strcmp(name, s_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_set_secret(const char *key)
{
	if (s_secret != NULL) {
		/* Wipe before freeing: the key should not linger in freed heap. */
		memset(s_secret, 0, strlen(s_secret));
		free(s_secret);
		s_secret = NULL;
	}
	if (key != NULL && key[0] != '\0')
		s_secret = strdup(key); /* on ENOMEM only the plrm_live_ pattern is redacted */
}

static bool s_is_key_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Replace s[at .. at+n) by a marker no longer than n: "[REDACTED]" when it fits, else n
 * '*' (a very short tail must not make the string grow: log_redact works in place).
 * Returns the marker's length; the rest of the string is moved left. */
static size_t s_replace(char *s, size_t slen, size_t at, size_t n)
{
	size_t m = n >= REDACTED_LEN ? REDACTED_LEN : n;
	if (n >= REDACTED_LEN)
		memcpy(s + at, REDACTED, REDACTED_LEN);
	else
		memset(s + at, '*', n);
	memmove(s + at + m, s + at + n, slen - (at + n) + 1);
	return m;
}

size_t log_redact(char *s)
{
	size_t len = strlen(s);

	/* The exact key first: it may not look like plrm_live_ at all. */
	if (s_secret != NULL) {
		size_t klen = strlen(s_secret);
		char *p = s;
		while ((p = strstr(p, s_secret)) != NULL) {
			size_t at = (size_t)(p - s);
			size_t m = s_replace(s, len, at, klen);
			len -= klen - m;
			p = s + at + m;
		}
	}
	/* Then anything shaped like a key: keep the prefix, hide the rest. */
	char *p = s;
	while ((p = strstr(p, KEY_PREFIX)) != NULL) {
		size_t at = (size_t)(p - s) + KEY_PREFIX_LEN;
		size_t n = 0;
		while (s_is_key_char(s[at + n]))
			n++;
		size_t m = n ? s_replace(s, len, at, n) : 0;
		len -= n - m;
		p = s + at + m;
	}
	return len;
}

/* Append c to out at *o (escaped when it is a control character); false when out is full. */
static bool s_put_escaped(char *out, size_t outlen, size_t *o, unsigned char c)
{
	char tmp[5];
	size_t n;
	switch (c) {
	case '\n':
		memcpy(tmp, "\\n", 2), n = 2;
		break;
	case '\r':
		memcpy(tmp, "\\r", 2), n = 2;
		break;
	case '\t':
		memcpy(tmp, "\\t", 2), n = 2;
		break;
	case '\\':
		memcpy(tmp, "\\\\", 2), n = 2;
		break;
	default:
		if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, sizeof tmp, "\\x%02x", c);
			n = 4;
		} else {
			tmp[0] = (char)c, n = 1;
		}
	}
	if (*o + n + 1 > outlen)
		return false;
	memcpy(out + *o, tmp, n);
	*o += n;
	return true;
}

/* Index of the last UTF-8 character boundary at or before max in s[0..len). */
static size_t s_utf8_cut(const char *s, size_t len, size_t max)
{
	if (max >= len)
		return len;
	size_t i = max;
	while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

void log_shorten(const char *s, size_t len, char *out, size_t outlen, size_t max)
{
	size_t o = 0;
	if (outlen == 0)
		return;
	if (s == NULL)
		len = 0;
	size_t keep = s_utf8_cut(s, len, max);
	bool cut = keep < len;
	for (size_t i = 0; i < keep; i++) {
		if (!s_put_escaped(out, outlen > 3 ? outlen - 3 : 1, &o, (unsigned char)s[i])) {
			cut = true;
			break;
		}
	}
	out[o] = '\0';
	if (cut && o + 4 <= outlen)
		memcpy(out + o, "...", 4);
}

static void s_write_line(enum log_level level, const char *msg)
{
	char ts[32];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	time_iso8601_ms((long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts);

	static char line[LOG_LINE_MAX]; /* one thread, one loop: static keeps the stack small */
	int n = snprintf(line, sizeof line, "%s %s[%ld] %s ", ts, s_progname, (long)getpid(),
			 s_level_tags[level]);
	if (n < 0)
		return;
	size_t o = (size_t)n;
	for (const char *p = msg; *p != '\0'; p++)
		if (!s_put_escaped(line, sizeof line - 1, &o, (unsigned char)*p))
			break;
	line[o++] = '\n';
	/* One write per record; a failed write to stderr has nowhere to be reported. */
	ssize_t w = write(STDERR_FILENO, line, o);
	(void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < LOG_LVL_ERROR || level > LOG_LVL_DEBUG || level > s_level)
		return;
	char msg[LOG_MSG_MAX];
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= sizeof msg) {
		/* Redact the whole text before cutting it: a cut could leave part of a key
		 * that no longer matches the pattern or the exact secret. */
		char *big = malloc((size_t)n + 1);
		if (big != NULL) {
			vsnprintf(big, (size_t)n + 1, fmt, ap2);
			log_redact(big);
			size_t keep = s_utf8_cut(big, strlen(big), sizeof msg - 4);
			memcpy(msg, big, keep);
			memcpy(msg + keep, "...", 4);
			free(big);
		} else {
			memcpy(msg + sizeof msg - 4, "...", 4);
		}
	}
	va_end(ap2);
	if (n < 0)
		return;
	log_redact(msg);
	s_write_line(level, msg);
}

void log_lws_emit(int level, const char *line)
{
	enum log_level lvl;
	switch (level) {
	case 1: /* LLL_ERR */
		lvl = LOG_LVL_ERROR;
		break;
	case 2: /* LLL_WARN */
		lvl = LOG_LVL_WARN;
		break;
	case 4: /* LLL_NOTICE */
		lvl = LOG_LVL_INFO;
		break;
	default: /* LLL_INFO and the debug classes */
		lvl = LOG_LVL_DEBUG;
		break;
	}
	if (lvl > s_level || line == NULL)
		return;
	size_t len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	log_msg(lvl, "lws: %.*s", (int)len, line);
}
