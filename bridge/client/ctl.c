/* ctl.c: the command client of libplurum-pulse (a ZeroMQ DEALER socket).
 *
 * Owns ppulse_ctl_t and the request/reply exchange with the bridge's ROUTER socket.
 *
 * Framing: each request goes out as [""][request], so the ROUTER sees the same envelope
 * as from a REQ socket ([identity][""][request]) and answers [""][reply]. A DEALER rather
 * than a REQ: after a timeout a REQ socket is stuck in its send/recv lock-step, a DEALER
 * just sends the next request.
 *
 * Reply matching: because an earlier request may have timed out and its reply may still
 * arrive, every request carries an "id" and only a reply echoing that "id" is returned.
 * When the caller's request has no top-level "id", the library inserts its own
 * ("ppc-<pid>-<nonce>-<counter>") right after the opening '{'. The reply's "id" is found
 * with the structural scan of jsonlite.c (not a JSON parser) and compared with the
 * request's as raw JSON text: an "id" written with escapes must come back written the same
 * way (the bridge re-encodes it with jansson, which writes plain printable characters as
 * they are). A reply with no "id" (or "id":null) is accepted: the bridge could not read the
 * request's id (not JSON, or an id that is not a string of 1..128 bytes) and so could not
 * echo it. Caveat: a caller reusing one "id" for several requests cannot tell their replies
 * apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "plurum_pulse.h"

#define ENDPOINT_MAX 512

struct ppulse_ctl {
	void *ctx;  /* owned */
	void *sock; /* owned; closed before ctx is terminated */
	unsigned long counter;
	/* Why a nonce beside the pid: for contribute the id is also the bridge's idempotency
	 * key for a whole run, and pids are reused; two processes must never share ids. */
	unsigned long nonce;
};

void ppulse_ctl_destroy(ppulse_ctl_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	ppulse_ctl_t *c = *self_p;
	if (c->sock != NULL)
		zmq_close(c->sock);
	if (c->ctx != NULL)
		zmq_ctx_term(c->ctx);
	free(c);
	*self_p = NULL;
}

/* A value that differs between processes and between clients of one process. */
static unsigned long s_nonce(const void *self)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned long x = (unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_sec << 20) ^
			  (unsigned long)(uintptr_t)self;
	return x & 0xffffffffUL;
}

/* Socket options: no linger (a closed client must not hold the process), and ZMQ_IMMEDIATE
 * so a request is only queued on a completed connection: with no bridge, send waits
 * (bounded by the caller's timeout) instead of parking the request to be delivered later,
 * long after the caller gave up. */
static int s_configure(void *sock)
{
	int zero = 0, one = 1;
	if (zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0)
		return -1;
	return zmq_setsockopt(sock, ZMQ_IMMEDIATE, &one, sizeof one);
}

ppulse_ctl_t *ppulse_ctl_new(const char *endpoint, char *err, size_t errlen)
{
	return ppulse_ctl_new_curve(endpoint, NULL, err, errlen);
}

ppulse_ctl_t *ppulse_ctl_new_curve(const char *endpoint, const ppulse_curve_t *keys, char *err,
				   size_t errlen)
{
	char def[ENDPOINT_MAX], dummy[1];
	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof dummy;
	}
	err[0] = '\0';
	if (endpoint == NULL) {
		if (ppulse_default_commands_endpoint(def, sizeof def) != PPULSE_OK) {
			snprintf(err, errlen, "default commands endpoint too long");
			return NULL;
		}
		endpoint = def;
	}
	ppulse_ctl_t *c = calloc(1, sizeof *c);
	if (c == NULL || (c->ctx = zmq_ctx_new()) == NULL ||
	    (c->sock = zmq_socket(c->ctx, ZMQ_DEALER)) == NULL || s_configure(c->sock) != 0) {
		snprintf(err, errlen, "cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
		goto fail;
	}
	if (ppc__curve_apply(c->sock, keys, err, errlen) != 0)
		goto fail;
	if (zmq_connect(c->sock, endpoint) != 0) {
		snprintf(err, errlen, "connect to %s: %s", endpoint, zmq_strerror(errno));
		goto fail;
	}
	c->nonce = s_nonce(c);
	return c;
fail:
	ppulse_ctl_destroy(&c);
	return NULL;
}

/* The request text to send, in out (caller frees), and the "id" token to expect in
 * *want_off and *want_len (an offset into out). Inserts the library's own id when the request has
 * none. Returns PPULSE_OK, PPULSE_EINVAL (not an object) or PPULSE_ENOMEM. */
static int s_prepare(ppulse_ctl_t *c, const char *req, struct ppc_buf *out, size_t *want_off,
		     size_t *want_len)
{
	const char *v;
	size_t vlen, len = strlen(req);
	int found = ppc__json_find_member(req, len, "id", &v, &vlen);
	if (found < 0)
		return PPULSE_EINVAL;
	if (found) {
		ppc__buf_add(out, req, len);
		*want_off = (size_t)(v - req);
		*want_len = vlen;
		return out->oom ? PPULSE_ENOMEM : PPULSE_OK;
	}
	const char *brace = strchr(req, '{'); /* found >= 0: the first non-space byte */
	const char *rest = brace + 1;
	while (*rest == ' ' || *rest == '\t' || *rest == '\n' || *rest == '\r')
		rest++;
	ppc__buf_add(out, req, (size_t)(brace + 1 - req));
	*want_off = out->len + 5; /* after "id": */
	ppc__buf_addf(out, "\"id\":\"ppc-%ld-%08lx-%lu\"", (long)getpid(), c->nonce, ++c->counter);
	*want_len = out->len - *want_off;
	if (*rest != '}')
		ppc__buf_add(out, ",", 1);
	ppc__buf_adds(out, brace + 1);
	return out->oom ? PPULSE_ENOMEM : PPULSE_OK;
}

/* Send [""][text] once the socket can take it, before deadline. */
static int s_send(ppulse_ctl_t *c, const struct ppc_buf *text, int64_t deadline)
{
	int rc = ppc__wait(c->sock, ZMQ_POLLOUT, deadline);
	if (rc != PPULSE_OK)
		return rc;
	if (zmq_send(c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->sock, text->p, text->len, ZMQ_DONTWAIT) < 0)
		return errno == EAGAIN	? PPULSE_ETIMEOUT
		       : errno == EINTR ? PPULSE_EINTR
					: PPULSE_EIO;
	return PPULSE_OK;
}

/* Whether a reply [""][text] answers the request whose id token is want. */
static bool s_matches(zmq_msg_t *frame, const char *want, size_t want_len)
{
	const char *v, *text = zmq_msg_data(frame);
	size_t vlen;
	int found = ppc__json_find_member(text, zmq_msg_size(frame), "id", &v, &vlen);
	if (found <= 0 || (vlen == 4 && memcmp(v, "null", 4) == 0))
		return true; /* nothing echoed: see the file comment */
	return vlen == want_len && memcmp(v, want, want_len) == 0;
}

/* Receive until the reply matching want arrives (in *reply) or the deadline passes. */
static int s_await(ppulse_ctl_t *c, const char *want, size_t want_len, int64_t deadline,
		   char **reply)
{
	for (;;) {
		zmq_msg_t f[2];
		size_t count;
		int rc = ppc__wait(c->sock, ZMQ_POLLIN, deadline);
		if (rc != PPULSE_OK)
			return rc;
		rc = ppc__recv_frames(c->sock, f, 2, &count);
		if (rc == PPULSE_ETIMEOUT)
			continue;
		if (rc != PPULSE_OK)
			return rc;
		bool ok =
		    count == 2 && zmq_msg_size(&f[0]) == 0 && s_matches(&f[1], want, want_len);
		if (ok) {
			*reply = ppc__frame_strdup(&f[1]);
			rc = *reply ? PPULSE_OK : PPULSE_ENOMEM;
		}
		ppc__close_frames(f, count < 2 ? count : 2);
		if (ok)
			return rc;
		/* A stale reply (an earlier, timed-out request) or a malformed message. */
	}
}

int ppulse_ctl_request(ppulse_ctl_t *ctl, const char *request_json, char **reply, int timeout_ms)
{
	struct ppc_buf text = {0};
	size_t want_off = 0, want_len = 0;
	int rc;
	if (reply != NULL)
		*reply = NULL;
	if (ctl == NULL || request_json == NULL || reply == NULL)
		return PPULSE_EINVAL;
	int64_t deadline = ppc__deadline(timeout_ms);
	rc = s_prepare(ctl, request_json, &text, &want_off, &want_len);
	if (rc == PPULSE_OK)
		rc = s_send(ctl, &text, deadline);
	if (rc == PPULSE_OK)
		rc = s_await(ctl, text.p + want_off, want_len, deadline, reply);
	ppc__buf_free(&text);
	return rc;
}
