/* keyfile.h: getting the API key without ever exposing it. */
#ifndef PP_KEYFILE_H
#define PP_KEYFILE_H

#include <stddef.h>

#define API_KEY_MAX 512

/* Read the key: from the file at path when path is non-empty, else from the environment
 * variable PLURUM_API_KEY (getenv). Surrounding white space is removed.
 * A file readable or writable by group or others is refused. An empty key is refused.
 * Returns 0 with the key in out (NUL-terminated), or -1 with one line in err that names
 * the file or the variable but never contains the key. */
int keyfile_read(const char *path, char out[API_KEY_MAX], char *err, size_t errlen);

#endif
