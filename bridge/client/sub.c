/* sub.c: the event subscriber of libplurum-pulse (a ZeroMQ SUB socket).
 *
 * Owns ppulse_sub_t: its own ZeroMQ context and SUB socket, the subscriptions, and turning
 * two-frame messages [topic][envelope] into ppulse_event_t. Anything else on the socket
 * (one frame, three frames) is skipped: the bridge never sends it, so it is not ours. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "plurum_pulse.h"

#define ENDPOINT_MAX 512

struct ppulse_sub {
	void *ctx;  /* owned */
	void *sock; /* owned; closed before ctx is terminated */
};

void ppulse_sub_destroy(ppulse_sub_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	ppulse_sub_t *s = *self_p;
	if (s->sock != NULL)
		zmq_close(s->sock);
	if (s->ctx != NULL)
		zmq_ctx_term(s->ctx);
	free(s);
	*self_p = NULL;
}

/* Subscribe to the prefixes (everything when n == 0); fills err on failure. */
static int s_subscribe(void *sock, const char *const *prefixes, size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
	if (prefixes == NULL) {
		snprintf(err, errlen, "%zu topic prefixes announced but none given", n);
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (prefixes[i] == NULL) {
			snprintf(err, errlen, "topic prefix %zu is NULL", i);
			errno = EINVAL;
			return -1;
		}
		if (zmq_setsockopt(sock, ZMQ_SUBSCRIBE, prefixes[i], strlen(prefixes[i])) != 0) {
			snprintf(err, errlen, "subscribe to \"%s\": %s", prefixes[i],
				 zmq_strerror(errno));
			return -1;
		}
	}
	return 0;
}

ppulse_sub_t *ppulse_sub_new(const char *endpoint, const char *const *prefixes, size_t n, char *err,
			     size_t errlen)
{
	return ppulse_sub_new_curve(endpoint, prefixes, n, NULL, err, errlen);
}

ppulse_sub_t *ppulse_sub_new_curve(const char *endpoint, const char *const *prefixes, size_t n,
				   const ppulse_curve_t *keys, char *err, size_t errlen)
{
	char def[ENDPOINT_MAX];
	int linger = 0;
	char dummy[1];
	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (endpoint == NULL) {
		if (ppulse_default_events_endpoint(def, sizeof def) != PPULSE_OK) {
			snprintf(err, errlen, "default events endpoint too long");
			return NULL;
		}
		endpoint = def;
	}
	ppulse_sub_t *s = calloc(1, sizeof *s);
	if (s == NULL || (s->ctx = zmq_ctx_new()) == NULL ||
	    (s->sock = zmq_socket(s->ctx, ZMQ_SUB)) == NULL) {
		snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
		goto fail;
	}
	zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
	if (ppc__curve_apply(s->sock, keys, err, errlen) != 0 ||
	    s_subscribe(s->sock, prefixes, n, err, errlen) != 0)
		goto fail;
	/* Connecting is asynchronous: a bridge that starts later is still reached. */
	if (zmq_connect(s->sock, endpoint) != 0) {
		snprintf(err, errlen, "connect to %s: %s", endpoint, zmq_strerror(errno));
		goto fail;
	}
	return s;
fail:
	ppulse_sub_destroy(&s);
	return NULL;
}

void ppulse_event_clear(ppulse_event_t *ev)
{
	if (ev == NULL)
		return;
	free(ev->topic);
	free(ev->envelope);
	*ev = (ppulse_event_t){0};
}

/* Copy a two-frame message into ev (both strings malloc'd). */
static int s_take(zmq_msg_t frames[2], ppulse_event_t *ev)
{
	ev->topic = ppc__frame_strdup(&frames[0]);
	ev->envelope = ppc__frame_strdup(&frames[1]);
	ev->envelope_len = zmq_msg_size(&frames[1]);
	if (ev->topic == NULL || ev->envelope == NULL) {
		ppulse_event_clear(ev);
		return PPULSE_ENOMEM;
	}
	return PPULSE_OK;
}

int ppulse_sub_recv(ppulse_sub_t *sub, ppulse_event_t *ev, int timeout_ms)
{
	if (sub == NULL || ev == NULL)
		return PPULSE_EINVAL;
	*ev = (ppulse_event_t){0};
	int64_t deadline = ppc__deadline(timeout_ms);
	for (;;) {
		zmq_msg_t frames[2];
		size_t count;
		/* Take what is queued first and wait only when nothing is: a zmq_poll() before
		 * every message would cost a poll(2) each while a burst is being read. */
		int rc = ppc__recv_frames(sub->sock, frames, 2, &count);
		if (rc == PPULSE_ETIMEOUT) {
			rc = ppc__wait(sub->sock, ZMQ_POLLIN, deadline);
			if (rc != PPULSE_OK)
				return rc;
			continue;
		}
		if (rc != PPULSE_OK)
			return rc;
		if (count == 2)
			rc = s_take(frames, ev);
		ppc__close_frames(frames, count < 2 ? count : 2);
		if (count == 2)
			return rc;
		/* Not [topic][envelope]: skipped. */
	}
}

void *ppulse_sub_zsocket(ppulse_sub_t *sub)
{
	return sub ? sub->sock : NULL;
}
