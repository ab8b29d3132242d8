/* strutil.h: bounded string copies where cutting is the intended behaviour, and UTF-8. */
#ifndef PP_STRUTIL_H
#define PP_STRUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Copy src into dst (size bytes, > 0), cutting on a UTF-8 character boundary when it does
 * not fit; always NUL-terminates. NULL src gives "". Returns strlen(dst). */
size_t str_copy(char *dst, size_t size, const char *src);

/* Copy len bytes of untrusted text into dst (size bytes, > 0) as valid UTF-8: a byte that
 * starts no valid sequence becomes '?'; cut on a character boundary when it does not fit;
 * always NUL-terminates. Returns strlen(dst). */
size_t str_copy_text(char *dst, size_t size, const char *src, size_t len);

/* Length of host as a name for TLS (SNI, certificate checks) and the HTTP Host header:
 * without the trailing dot of a fully qualified name. "api.plurum.ai." names the same
 * host as "api.plurum.ai", but SNI never carries the dot (RFC 6066 3) and certificates
 * do not name it, so a user's absolute name would fail there. DNS keeps the dot. */
size_t str_host_len(const char *host);

/* Length of a valid multi-byte UTF-8 sequence at s[0..avail), or 0 when there is none
 * (ASCII, overlong forms, surrogates and code points past U+10FFFF included). */
static inline size_t str_utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0xC2 || c > 0xF4)
		return 0;
	n = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	if (avail < n)
		return 0;
	cp = c & (0x3F >> (n - 1));
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

#endif
