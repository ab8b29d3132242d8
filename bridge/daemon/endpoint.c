/* endpoint.c: checks an ipc endpoint before bind.
 *
 * ZeroMQ's ipc bind unlinks an existing socket file and takes its place, which would let a
 * second bridge silently steal the subscribers of the first one. We look first: a socket
 * that accepts a connection belongs to a live process. */
#include "endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int s_is_live(const char *path)
{
	struct sockaddr_un sa;
	int fd, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

int endpoint_prepare(const char *setting, const char *endpoint, char *path_out, size_t pathlen,
		     char *err, size_t errlen)
{
	const char *path;
	struct stat st;

	path_out[0] = '\0';
	if (strncmp(endpoint, "ipc://", 6) != 0)
		return 0;
	path = endpoint + 6;
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "%s %s: path too long for a unix socket", setting, endpoint);
		return -1;
	}
	snprintf(path_out, pathlen, "%s", path);
	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s %s: exists and is not a socket", setting, endpoint);
		path_out[0] = '\0';
		return -1;
	}
	if (s_is_live(path)) {
		snprintf(err, errlen,
			 "%s %s: in use by another process (is another plurum-pulse-bridge "
			 "running?)",
			 setting, endpoint);
		path_out[0] = '\0';
		return -1;
	}
	if (unlink(path) != 0 && errno != ENOENT) {
		snprintf(err, errlen, "%s %s: cannot remove stale socket: %s", setting, endpoint,
			 strerror(errno));
		path_out[0] = '\0';
		return -1;
	}
	return 0;
}
