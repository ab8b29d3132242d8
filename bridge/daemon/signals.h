/* signals.h: signals as events of the loop (signalfd): no work in signal handlers. */
#ifndef PP_SIGNALS_H
#define PP_SIGNALS_H

/* Block SIGINT, SIGTERM and SIGHUP in this thread (call before any thread is created, so
 * ZeroMQ's I/O threads inherit the mask), ignore SIGPIPE, and return a signalfd for them,
 * or -1 with errno. */
int signals_open(void);
/* Read one pending signal from fd: returns its number, or 0 when none. */
int signals_read(int fd);

#endif
