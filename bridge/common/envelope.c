/* envelope.c: serializing the bridge's event envelope, and its timestamps (pure).
 *
 * The envelope's outer members are few and fixed, so they are written by hand (with a
 * small JSON string escaper) and only `data` goes through jansson, streamed straight into
 * the same buffer: one growing allocation per event, no intermediate json_t envelope. */
#include "jsonbytes.h"
#include "normalize.h"
#include "shtext.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
	char *p; /* owned until handed to the caller */
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed: the result is dropped */
};

static bool s_reserve(struct sbuf *b, size_t more)
{
	if (b->failed)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *np = shtext_resize(b->p, cap);
	if (np == NULL) {
		b->failed = true;
		return false;
	}
	b->p = np;
	b->cap = cap;
	return true;
}

static void s_put(struct sbuf *b, const char *s, size_t n)
{
	if (!s_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void s_puts(struct sbuf *b, const char *s)
{
	s_put(b, s, strlen(s));
}

/* Write s as a JSON string (quotes included), or null for NULL/"" when empty_is_null. */
static void s_put_jstr(struct sbuf *b, const char *s, bool empty_is_null)
{
	static const char hex[] = "0123456789abcdef";
	if (s == NULL || (empty_is_null && s[0] == '\0')) {
		s_put(b, "null", 4);
		return;
	}
	s_put(b, "\"", 1);
	const char *run = s; /* start of the bytes not yet copied */
	const char *end = s + strlen(s);
	for (const char *p = s; p < end; p++) {
		unsigned char c;
		/* whole words of plain bytes at once; non-ASCII bytes stop it and pass below */
		while (end - p >= 8) {
			size_t plain = json_plain_prefix8((const unsigned char *)p);
			p += plain;
			if (plain < 8)
				break;
		}
		if (p >= end)
			break;
		c = (unsigned char)*p;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		s_put(b, run, (size_t)(p - run));
		char esc[7] = {'\\', 0};
		size_t n = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		s_put(b, esc, n);
		run = p + 1;
	}
	s_put(b, run, (size_t)(end - run));
	s_put(b, "\"", 1);
}

static int s_dump_cb(const char *buffer, size_t size, void *data)
{
	struct sbuf *b = data;
	s_put(b, buffer, size);
	return b->failed ? -1 : 0;
}

/* Write v as exactly n decimal digits (v < 10^n) at p. */
static void s_digits(char *p, unsigned long long v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

/* Everything of the envelope before the value of "data". */
static void s_head(struct sbuf *b, const char *run, unsigned long long seq, const char *id,
		   const char *type, const char *source, const char *received_at,
		   const char *agent_id)
{
	char num[20]; /* 18446744073709551615: the longest */
	int n = 1;

	s_puts(b, "{\"v\":1,\"run\":");
	s_put_jstr(b, run, false);
	s_puts(b, ",\"seq\":");
	for (unsigned long long v = seq; v >= 10; v /= 10)
		n++;
	s_digits(num, seq, n);
	s_put(b, num, (size_t)n);
	s_puts(b, ",\"id\":");
	s_put_jstr(b, id, true);
	s_puts(b, ",\"type\":");
	s_put_jstr(b, type, false);
	s_puts(b, ",\"source\":");
	s_put_jstr(b, source, false);
	s_puts(b, ",\"received_at\":");
	s_put_jstr(b, received_at, false);
	s_puts(b, ",\"agent_id\":");
	s_put_jstr(b, agent_id, true);
	s_puts(b, ",\"data\":");
}

/* The envelope outlives this call (the replay ring keeps it), so the slack that growing by
 * doubling leaves is given back: a 760-byte envelope would otherwise hold 1,024. */
static char *s_finish(struct sbuf *b, size_t *len)
{
	s_put(b, "}", 1);
	if (b->failed) {
		shtext_unref(b->p);
		return NULL;
	}
	if (b->cap - (b->len + 1) >= 64) {
		char *np = shtext_resize(b->p, b->len + 1); /* shrinking: in place with glibc */
		if (np != NULL)
			b->p = np;
	}
	if (len != NULL)
		*len = b->len;
	return b->p; /* ownership passes to the caller */
}

char *envelope_dump(const char *run, unsigned long long seq, const char *id, const char *type,
		    const char *source, const char *received_at, const char *agent_id, json_t *data,
		    size_t *len)
{
	struct sbuf b = {0};

	s_reserve(&b, 512); /* data's size is not known before jansson writes it */
	s_head(&b, run, seq, id, type, source, received_at, agent_id);
	if (data == NULL)
		s_put(&b, "null", 4);
	else if (json_dump_callback(data, s_dump_cb, &b, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
		b.failed = true;
	return s_finish(&b, len);
}

char *envelope_dump_text(const char *run, unsigned long long seq, const char *id, const char *type,
			 const char *source, const char *received_at, const char *agent_id,
			 const char *data, size_t data_len, size_t *len)
{
	struct sbuf b = {0};

	/* one allocation of the final size unless a string needs escaping: the head's members
	 * and punctuation are under 160 bytes beside the strings' own lengths */
	s_reserve(&b, 160 + strlen(run) + strlen(id ? id : "") + strlen(type) + strlen(source) +
			  strlen(received_at) + strlen(agent_id ? agent_id : "") +
			  (data ? data_len : 4));
	s_head(&b, run, seq, id, type, source, received_at, agent_id);
	if (data == NULL)
		s_put(&b, "null", 4);
	else
		s_put(&b, data, data_len);
	return s_finish(&b, len);
}

/* Days since 1970-01-01 -> civil date (H. Hinnant, "chrono-Compatible Low-Level Date
 * Algorithms"): pure arithmetic, so a timestamp costs no gmtime/strftime call. */
static void s_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void time_iso8601_ms(long long unix_ms, char out[32])
{
	/* Floor division so times before 1970 are still well-formed. */
	long long ms = unix_ms % 1000;
	long long secs = unix_ms / 1000;
	if (ms < 0)
		ms += 1000, secs -= 1;
	long long days = secs / 86400;
	long long sod = secs % 86400;
	if (sod < 0)
		sod += 86400, days -= 1;
	int64_t y;
	unsigned mo, d;
	s_civil_from_days(days, &y, &mo, &d);
	if (y < 0 || y > 9999) { /* outside ISO 8601's four-digit years: not a real clock */
		memcpy(out, "0000-00-00T00:00:00.000Z", 25);
		return;
	}
	/* Hand-written digits: this runs once per event, snprintf would dominate it. */
	memcpy(out, "YYYY-MM-DDTHH:MM:SS.mmmZ", 25);
	s_digits(out, (unsigned long long)y, 4);
	s_digits(out + 5, mo, 2);
	s_digits(out + 8, d, 2);
	s_digits(out + 11, (unsigned long long)(sod / 3600), 2);
	s_digits(out + 14, (unsigned long long)(sod / 60 % 60), 2);
	s_digits(out + 17, (unsigned long long)(sod % 60), 2);
	s_digits(out + 20, (unsigned long long)ms, 3);
}
