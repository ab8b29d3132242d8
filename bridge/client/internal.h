/* internal.h: what the translation units of libplurum-pulse share (not installed).
 *
 * zwait.c    deadlines, waiting on one ZeroMQ socket, reading a whole multipart message
 * jsonlite.c a growable text buffer, JSON string escaping, a structural scan of JSON text
 * curve.c    CurveZMQ key files, and making a socket a CURVE client
 * Names are ppc__* (module-less: the library is one module); none is exported (see the
 * version script libplurum-pulse.map). */
#ifndef PPULSE_CLIENT_INTERNAL_H
#define PPULSE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "plurum_pulse.h"

/* ---- zwait.c --------------------------------------------------------------------- */

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t ppc__now_ms(void);

/* The absolute deadline for a timeout in ms (< 0: none, returned as -1). */
int64_t ppc__deadline(int timeout_ms);

/* Wait until sock is ready for events (ZMQ_POLLIN or ZMQ_POLLOUT) or the deadline
 * (-1: none) passes. Returns PPULSE_OK, PPULSE_ETIMEOUT, PPULSE_EINTR (a signal arrived)
 * or PPULSE_EIO (errno holds the ZeroMQ error). */
int ppc__wait(void *sock, short events, int64_t deadline);

/* Read one whole multipart message without blocking. The first min(parts, max) parts are
 * left initialised in frames[] (the caller closes them with ppc__close_frames); the rest
 * are read and dropped. *count gets the total number of parts.
 * Returns PPULSE_OK, PPULSE_ETIMEOUT (nothing waiting: EAGAIN), PPULSE_EINTR or PPULSE_EIO. */
int ppc__recv_frames(void *sock, zmq_msg_t *frames, size_t max, size_t *count);
void ppc__close_frames(zmq_msg_t *frames, size_t n);

/* A malloc'd NUL-terminated copy of a frame's bytes (NULL when out of memory). */
char *ppc__frame_strdup(zmq_msg_t *frame);

/* ---- jsonlite.c ------------------------------------------------------------------ */

/* A growable NUL-terminated text. After an allocation failure, oom is set and further
 * appends do nothing: build the whole text, then check oom once. The owner frees p. */
struct ppc_buf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

void ppc__buf_add(struct ppc_buf *b, const char *s, size_t n);
void ppc__buf_adds(struct ppc_buf *b, const char *s);
void ppc__buf_addf(struct ppc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (quotes included): '"' and '\\' escaped, control
 * characters as \uXXXX (or \n, \t, ...); other bytes, UTF-8 included, copied as they are. */
void ppc__buf_add_jstring(struct ppc_buf *b, const char *s);
void ppc__buf_free(struct ppc_buf *b);

/* Skip one JSON value starting at *p (leading white space allowed). Structural only:
 * strings (with escapes) and nesting of {} and [] are followed; scalars are taken as the
 * bytes up to the next delimiter, not checked against the grammar. Returns the byte after
 * the value, or NULL when the text ends first or no value starts there. */
const char *ppc__json_skip_value(const char *p, const char *end);

/* The top-level member name of the object text [text, text+len): on 1, *val and *val_len span
 * its value's raw JSON text (a string keeps its quotes and escapes). Member names are
 * compared as raw bytes (a name written with escapes is not recognised). With duplicate
 * names the last wins, as with jansson. Returns 1 found, 0 absent, -1 when the text is not
 * a structurally well-formed object. */
int ppc__json_find_member(const char *text, size_t len, const char *name, const char **val,
			  size_t *val_len);

/* True when [text, text+len) is exactly one structurally well-formed JSON object, with
 * only white space around it. */
bool ppc__json_is_object(const char *text, size_t len);

/* ---- curve.c --------------------------------------------------------------------- */

/* Make sock a CurveZMQ client with keys (before it connects); nothing when keys is NULL.
 * Returns 0, or -1 with errno set and one line in err. */
int ppc__curve_apply(void *sock, const ppulse_curve_t *keys, char *err, size_t errlen);

#endif
