/* endpoint.h: making ZeroMQ endpoints safe to bind. */
#ifndef PP_ENDPOINT_H
#define PP_ENDPOINT_H

#include <stddef.h>

/* Before binding endpoint: for ipc://PATH, refuse when another process is listening on
 * PATH (a second bridge must not steal the sockets of a running one) and remove a stale
 * socket file left by a crash. The path is copied to path_out (for removal at exit; ""
 * for other transports). Returns 0, or -1 with one line in err naming the setting. */
int endpoint_prepare(const char *setting, const char *endpoint, char *path_out, size_t pathlen,
		     char *err, size_t errlen);

#endif
