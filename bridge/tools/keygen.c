/* keygen.c: plurum-pulse-keygen, makes a CurveZMQ key pair for the bridge or a client.
 *
 * Owns writing BASENAME.key (the secret key, Z85, mode 0600, created exclusively so an
 * existing key is never overwritten) and BASENAME.pub (the public key, Z85, mode 0644).
 * Each file holds one key and a newline: the format the bridge's --curve-secret-file and
 * --curve-clients and the clients' --curve-server-key / --curve-client-key read.
 * Exit status: 0 written, 1 an I/O error, 2 bad usage. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "tool_common.h"

#define PROG	"plurum-pulse-keygen"
#define Z85_LEN 40

static void s_help(void)
{
	printf("Usage: " PROG " BASENAME\n"
	       "Make a CurveZMQ key pair: BASENAME.key (the secret key, mode 0600) and\n"
	       "BASENAME.pub (the public key). Neither file may exist yet.\n\n"
	       "The bridge: --curve-secret-file BASENAME.key; give BASENAME.pub to clients.\n"
	       "A client: --curve-client-key BASENAME.key; add the line of BASENAME.pub to the\n"
	       "bridge's --curve-clients file. See docs/curve.md.\n\n"
	       "Exit status: 0 written, 1 an I/O error, 2 bad usage.\n");
}

/* Write text to path, created exclusively with mode. Returns 0 or -1 (message printed). */
static int s_write(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	size_t len = strlen(text), done = 0;
	if (fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		done += (size_t)n;
	}
	/* the umask may have removed bits from the public file; the secret's are exact */
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0 || close(fd) != 0) {
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char pub[Z85_LEN + 1], sec[Z85_LEN + 1], line[Z85_LEN + 2];
	char pub_path[4096], key_path[4096];
	int status = 1;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		s_help();
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf(PROG " %s\n", PP_VERSION);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-')
		tool_usage_error(PROG, "give exactly one BASENAME");
	if (!zmq_has("curve")) {
		fprintf(stderr, PROG ": this libzmq was built without CurveZMQ\n");
		return 1;
	}
	if (strlen(argv[1]) + sizeof ".key" > sizeof key_path)
		tool_usage_error(PROG, "BASENAME is too long");
	snprintf(key_path, sizeof key_path, "%s.key", argv[1]);
	snprintf(pub_path, sizeof pub_path, "%s.pub", argv[1]);
	if (zmq_curve_keypair(pub, sec) != 0) {
		fprintf(stderr, PROG ": zmq_curve_keypair: %s\n", zmq_strerror(errno));
		goto out;
	}
	snprintf(line, sizeof line, "%s\n", sec);
	if (s_write(key_path, line, 0600) != 0)
		goto out;
	snprintf(line, sizeof line, "%s\n", pub);
	if (s_write(pub_path, line, 0644) != 0) {
		unlink(key_path); /* a secret without its public half is of no use */
		goto out;
	}
	printf("%s\n", pub); /* the public key, for scripts */
	status = 0;
out:
	explicit_bzero(sec, sizeof sec);
	explicit_bzero(line, sizeof line);
	return status;
}
