/* notify.h: the systemd notification protocol (Type=notify, STATUS=, WATCHDOG=1). */
#ifndef PP_NOTIFY_H
#define PP_NOTIFY_H

#include <stdint.h>

/* Send one notification ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1") to
 * $NOTIFY_SOCKET. A no-op returning 0 when the variable is unset (not under systemd).
 * Returns 0, or -1 with errno when the send failed. */
int notify_send(const char *msg);

/* The watchdog interval systemd asked for ($WATCHDOG_USEC, honouring $WATCHDOG_PID), in
 * microseconds, or 0 when no watchdog is enabled. */
uint64_t notify_watchdog_usec(void);

#endif
