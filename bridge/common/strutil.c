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
