/* strutil.h: bounded string copies where cutting is the intended behaviour. */
#ifndef PP_STRUTIL_H
#define PP_STRUTIL_H

#include <stddef.h>

/* Copy src into dst (size bytes, > 0), cutting on a UTF-8 character boundary when it does
 * not fit; always NUL-terminates. NULL src gives "". Returns strlen(dst). */
size_t str_copy(char *dst, size_t size, const char *src);

#endif
