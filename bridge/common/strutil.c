/* strutil.c: bounded string copies (see strutil.h). */
#include "strutil.h"

#include <string.h>

size_t str_copy(char *dst, size_t size, const char *src)
{
	size_t n;

	if (!src)
		src = "";
	n = strlen(src);
	if (n >= size) {
		n = size - 1;
		/* do not leave half a UTF-8 sequence: back up over continuation bytes */
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

size_t str_host_len(const char *host)
{
	size_t n = strlen(host);

	return n > 1 && host[n - 1] == '.' ? n - 1 : n;
}

size_t str_copy_text(char *dst, size_t size, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	while (i < len) {
		size_t n = s[i] < 0x80 ? 1 : str_utf8_len(s + i, len - i);

		if (o + (n ? n : 1) >= size)
			break;
		if (n) {
			memcpy(dst + o, s + i, n);
			o += n;
			i += n;
		} else {
			dst[o++] = '?';
			i++;
		}
	}
	dst[o] = '\0';
	return o;
}
