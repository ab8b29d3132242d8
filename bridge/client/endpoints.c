/* endpoints.c: default endpoints and return-code texts of libplurum-pulse.
 *
 * The default endpoints follow the daemon's rule (bridge/common/config.c) so that a client
 * with the same environment finds the bridge without flags: $PLURUM_PULSE_EVENTS /
 * $PLURUM_PULSE_COMMANDS, else ipc://$XDG_RUNTIME_DIR/plurum-pulse/{events,commands}.sock
 * (an absolute $XDG_RUNTIME_DIR only), else /tmp/plurum-pulse-<euid>/. Unlike the daemon,
 * the client never creates the directory: it only names it. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plurum_pulse.h"

const char *ppulse_strerror(int rc)
{
	switch (rc) {
	case PPULSE_OK:
		return "success";
	case PPULSE_ETIMEOUT:
		return "timed out (is plurum-pulse-bridge running?)";
	case PPULSE_EINVAL:
		return "invalid argument";
	case PPULSE_EIO:
		return "ZeroMQ call failed (errno tells which error)";
	case PPULSE_EINTR:
		return "interrupted by a signal";
	case PPULSE_ENOMEM:
		return "out of memory";
	default:
		return "unknown error";
	}
}

/* env's value when set and non-empty, else ipc://DIR/file as described above. */
static int s_endpoint(const char *env, const char *file, char *out, size_t outlen)
{
	const char *v = getenv(env), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (out == NULL || outlen == 0)
		return PPULSE_EINVAL;
	if (v != NULL && v[0] != '\0')
		n = snprintf(out, outlen, "%s", v);
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, outlen, "ipc://%s/plurum-pulse/%s", xdg, file);
	else
		n = snprintf(out, outlen, "ipc:///tmp/plurum-pulse-%lu/%s",
			     (unsigned long)geteuid(), file);
	if (n < 0 || (size_t)n >= outlen) {
		out[0] = '\0';
		return PPULSE_EINVAL;
	}
	return PPULSE_OK;
}

int ppulse_default_events_endpoint(char *out, size_t outlen)
{
	return s_endpoint(PPULSE_ENV_EVENTS, "events.sock", out, outlen);
}

int ppulse_default_commands_endpoint(char *out, size_t outlen)
{
	return s_endpoint(PPULSE_ENV_COMMANDS, "commands.sock", out, outlen);
}
