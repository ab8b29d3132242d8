/* fdwatch.h: foreign file descriptors (ZeroMQ's ZMQ_FD, signalfd) in the lws event loop. */
#ifndef PP_FDWATCH_H
#define PP_FDWATCH_H

#include <libwebsockets.h>

struct fdwatch;

/* Called on the loop thread when the fd polls readable, or when fdwatch_kick() asked. */
typedef void (*fdwatch_fn)(void *ud);

/* The protocol that must be in the vhost's protocol list for adoption to work. */
extern const struct lws_protocols fdwatch_protocol;

/* Watch fd for readability. fd is dup()ed: lws closes what it adopts, and the original
 * belongs to its owner (ZeroMQ). Returns NULL with err on failure. */
struct fdwatch *fdwatch_new(struct lws_context *ctx, struct lws_vhost *vh, int fd, fdwatch_fn fn,
			    void *ud, char *err, size_t errlen);

/* Run fn from the loop soon, once, even if the fd does not poll readable: used after a
 * zmq_send() (which can consume ZMQ_FD's edge) and when a drain stopped at its batch limit.
 * Several kicks before the run coalesce into one. */
void fdwatch_kick(struct fdwatch *w);

/* Stop watching (closes the dup), frees, sets *self_p to NULL. Safe on NULL. */
void fdwatch_destroy(struct fdwatch **self_p);

#endif
