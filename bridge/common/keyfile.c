/* keyfile.c: reading the API key from a private file or from PLURUM_API_KEY.
 *
 * Error messages name the file or the variable and never contain the key: they are
 * logged and printed. Buffers that held the key are wiped before they go out of scope. */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEYFILE_READ_MAX 4096 /* a key plus generous white space */

static bool s_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim s[0..len) and copy it into out. what names the source in err.
 * Refuses an empty key, one too long, and control characters inside (a key with a
 * newline in the middle is two lines pasted together, not a key). */
static int s_take(const char *s, size_t len, const char *what, char out[API_KEY_MAX], char *err,
		  size_t errlen)
{
	while (len > 0 && s_is_space(s[0]))
		s++, len--;
	while (len > 0 && s_is_space(s[len - 1]))
		len--;
	if (len == 0) {
		snprintf(err, errlen, "%s: the API key is empty", what);
		return -1;
	}
	if (len > API_KEY_MAX - 1) {
		snprintf(err, errlen, "%s: the API key is longer than %d bytes", what,
			 API_KEY_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(err, errlen,
				 "%s: the API key holds a line break or control character", what);
			return -1;
		}
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

static int s_read_file(const char *path, char out[API_KEY_MAX], char *err, size_t errlen)
{
	char buf[KEYFILE_READ_MAX + 1];
	struct stat st;
	int rc = -1;
	size_t got = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open the API key file: %s", path,
			 strerror(errno));
		return -1;
	}
	/* fstat on the open descriptor: the file checked is the file read. */
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: the API key file is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
		snprintf(err, errlen,
			 "%s: the API key file is accessible by group or others (mode %04o); "
			 "run chmod 600 on it",
			 path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof buf - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > KEYFILE_READ_MAX) {
			snprintf(err, errlen, "%s: the API key file is too large", path);
			goto out;
		}
	}
	rc = s_take(buf, got, path, out, err, errlen);
out:
	memset(buf, 0, sizeof buf);
	close(fd);
	return rc;
}

int keyfile_read(const char *path, char out[API_KEY_MAX], char *err, size_t errlen)
{
	out[0] = '\0';
	if (path != NULL && path[0] != '\0')
		return s_read_file(path, out, err, errlen);
	const char *env = getenv("PLURUM_API_KEY");
	if (env == NULL || env[0] == '\0') {
		snprintf(err, errlen, "no API key: set PLURUM_API_KEY or give --api-key-file");
		return -1;
	}
	return s_take(env, strlen(env), "PLURUM_API_KEY", out, err, errlen);
}
