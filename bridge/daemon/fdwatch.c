/* fdwatch.c: adopts foreign descriptors into the lws loop as raw files.
 *
 * ZeroMQ's ZMQ_FD is edge-triggered: "readable" only means "look at ZMQ_EVENTS". The
 * owner's fn drains in bounded batches and calls fdwatch_kick() when it stopped early or
 * after sending, so no edge is ever lost (the same idea as redis' beforeSleep). */
#include "fdwatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fdwatch {
	struct lws_context *ctx;
	struct lws *wsi;
	lws_sorted_usec_list_t kick_sul;
	int kick_pending;
	fdwatch_fn fn;
	void *ud;
};

static void s_kick_cb(lws_sorted_usec_list_t *sul)
{
	struct fdwatch *w = lws_container_of(sul, struct fdwatch, kick_sul);

	w->kick_pending = 0;
	w->fn(w->ud);
}

void fdwatch_kick(struct fdwatch *w)
{
	if (!w || w->kick_pending)
		return;
	w->kick_pending = 1;
	lws_sul_schedule(w->ctx, 0, &w->kick_sul, s_kick_cb, 1);
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct fdwatch *w = lws_get_opaque_user_data(wsi);

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (w)
			w->fn(w->ud);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (w)
			w->wsi = NULL;
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols fdwatch_protocol = {"pp-fdwatch", s_callback, 0, 0, 0, NULL, 0};

struct fdwatch *fdwatch_new(struct lws_context *ctx, struct lws_vhost *vh, int fd, fdwatch_fn fn,
			    void *ud, char *err, size_t errlen)
{
	struct fdwatch *w = calloc(1, sizeof(*w));
	lws_sock_file_fd_type u;
	int dupfd = -1;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dupfd = dup(fd);
	if (dupfd < 0) {
		snprintf(err, errlen, "dup: %s", strerror(errno));
		goto fail;
	}
	w->ctx = ctx;
	w->fn = fn;
	w->ud = ud;
	u.filefd = dupfd;
	w->wsi =
	    lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u, fdwatch_protocol.name, NULL);
	if (!w->wsi) {
		/* lws closed or never took the fd: either way it is no longer ours */
		snprintf(err, errlen, "cannot adopt descriptor into the event loop");
		goto fail;
	}
	lws_set_opaque_user_data(w->wsi, w);
	return w;
fail:
	free(w);
	return NULL;
}

void fdwatch_destroy(struct fdwatch **self_p)
{
	struct fdwatch *w;

	if (!self_p || !*self_p)
		return;
	w = *self_p;
	lws_sul_cancel(&w->kick_sul);
	if (w->wsi) {
		lws_set_opaque_user_data(w->wsi, NULL);
		lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	free(w);
	*self_p = NULL;
}
