/* curve.c: CurveZMQ keys for libplurum-pulse's clients.
 *
 * Owns reading key files (one Z85 key each; a secret file must be private) into
 * ppulse_curve_t, and making a socket a CURVE client before it connects. Error messages
 * name the file, never a secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "plurum_pulse.h"

#define KEY_FILE_MAX 4096 /* a key plus generous white space */

static bool s_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Read the one Z85 key of path into out (41 bytes). private_file: refuse a file group or
 * others can access. Returns PPULSE_OK, PPULSE_EIO (cannot read) or PPULSE_EINVAL. */
static int s_read_key(const char *path, const char *what, bool private_file,
		      char out[PPULSE_CURVE_KEY_LEN + 1], char *err, size_t errlen)
{
	char buf[KEY_FILE_MAX + 1];
	unsigned char bin[32];
	struct stat st;
	size_t got = 0;
	int rc = PPULSE_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return PPULSE_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		goto out;
	}
	if (private_file && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errlen,
			 "%s %s: accessible by group or others (mode %04o); run chmod 600 on it",
			 what, path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
			rc = PPULSE_EIO;
			goto out;
		}
		if (n == 0 || (got += (size_t)n) >= sizeof buf - 1)
			break;
	}
	buf[got] = '\0';
	char *p = buf, *end = buf + got;
	while (p < end && s_space(*p))
		p++;
	while (end > p && s_space(end[-1]))
		end--;
	*end = '\0';
	if (end - p != PPULSE_CURVE_KEY_LEN || zmq_z85_decode(bin, p) == NULL) {
		snprintf(err, errlen, "%s %s: not one Z85 key of %d characters", what, path,
			 PPULSE_CURVE_KEY_LEN);
		goto out;
	}
	memcpy(out, p, PPULSE_CURVE_KEY_LEN + 1);
	rc = PPULSE_OK;
out:
	explicit_bzero(buf, sizeof buf);
	explicit_bzero(bin, sizeof bin);
	close(fd);
	return rc;
}

/* A non-empty environment variable, else NULL. */
static const char *s_env(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && v[0] != '\0' ? v : NULL;
}

int ppulse_curve_load(ppulse_curve_t *keys, const char *server_public_file,
		      const char *client_secret_file, char *err, size_t errlen)
{
	char dummy[1];
	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (keys == NULL)
		return PPULSE_EINVAL;
	if (server_public_file == NULL)
		server_public_file = s_env(PPULSE_ENV_CURVE_SERVER_KEY);
	if (client_secret_file == NULL)
		client_secret_file = s_env(PPULSE_ENV_CURVE_CLIENT_KEY);
	if (server_public_file == NULL || client_secret_file == NULL) {
		snprintf(err, errlen,
			 "CurveZMQ needs both the server's public key file and the client's "
			 "secret key file (%s is missing)",
			 server_public_file == NULL ? "the server's public key"
						    : "the client's secret key");
		return PPULSE_EINVAL;
	}
	*keys = (ppulse_curve_t){0};
	int rc = s_read_key(server_public_file, "server public key", false, keys->server_public,
			    err, errlen);
	if (rc == PPULSE_OK)
		rc = s_read_key(client_secret_file, "client secret key", true, keys->client_secret,
				err, errlen);
	if (rc == PPULSE_OK && zmq_curve_public(keys->client_public, keys->client_secret) != 0) {
		snprintf(err, errlen, "client secret key %s: cannot derive the public key: %s",
			 client_secret_file, zmq_strerror(errno));
		rc = PPULSE_EIO;
	}
	if (rc != PPULSE_OK)
		ppulse_curve_clear(keys);
	return rc;
}

void ppulse_curve_clear(ppulse_curve_t *keys)
{
	if (keys != NULL)
		explicit_bzero(keys, sizeof *keys);
}

int ppc__curve_apply(void *sock, const ppulse_curve_t *keys, char *err, size_t errlen)
{
	if (keys == NULL)
		return 0;
	if (!zmq_has("curve")) {
		snprintf(err, errlen, "this libzmq was built without CurveZMQ");
		errno = ENOTSUP;
		return -1;
	}
	/* 40 bytes: the Z85 text form of each key (zmq_setsockopt(3)) */
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, keys->server_public, PPULSE_CURVE_KEY_LEN) !=
		0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, keys->client_public, PPULSE_CURVE_KEY_LEN) !=
		0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys->client_secret, PPULSE_CURVE_KEY_LEN) !=
		0) {
		snprintf(err, errlen, "CurveZMQ keys refused by the socket: %s",
			 zmq_strerror(errno));
		return -1;
	}
	return 0;
}
