/* wsclient.c: one WebSocket client connection at a time on an lws raw socket (see
 * wsclient.h for why, and for the contract).
 *
 * A connection goes: TCP connected (RAW_CONNECTED) -> TLS handshake when wss (tlsmem.c,
 * its bytes carried by lws as plain TCP) -> the upgrade request -> the server's 101 ->
 * open: frames both ways -> the close handshake, or a drop. Everything is written from
 * RAW_WRITEABLE, at most one frame per callback; with TLS the ciphertext of what that
 * callback wrote is handed to lws in one write at its end. */
#include "wsclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "pp_err.h"
#include "strutil.h"
#include "tlsmem.h"
#include "wshs.h"

#define PLAIN_BUFFER_SIZE   65536 /* decrypted bytes handed to the frame parser at once */
#define CLOSE_ACK_TIMEOUT_S 5	  /* after our close frame, how long the server may take */
#define USER_AGENT	    "plurum-pulse-bridge/" PP_VERSION

struct wsclient {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	SSL_CTX *tls_ctx;
	struct wsclient_cbs cbs;
	void *ud;

	struct lws *wsi;
	bool live;     /* an attempt whose on_closed has not been called yet */
	char why[256]; /* the first failure of this connection, for on_closed */

	/* the opening handshake: the request (it may hold a secret query, so it is wiped once
	 * written), our key, and the server's answer as it comes in */
	char *hs_req; /* LWS_PRE bytes of headroom, then the request */
	size_t hs_req_len, hs_req_cap;
	char key[WSHS_KEY_LEN + 1];
	char *hs_buf;
	size_t hs_len;
	bool upgraded;

	/* wss: the TLS session over lws' plain TCP, and its plaintext */
	bool use_tls, verify;
	char host[256];
	struct tlsmem *tls;
	unsigned char *plain;

	struct wsf_rx *rx;
	unsigned char pong[WSF_CONTROL_MAX]; /* the last ping's payload, echoed */
	size_t pong_len;
	bool pong_due;
	bool app_wants;	     /* wsclient_want_write() asked for on_writeable */
	bool close_wanted;   /* wsclient_close(): a 1000 from the next WRITEABLE */
	bool close_sent;     /* ours went out: the server's close frame ends the connection */
	bool peer_closed;    /* the server sent a close frame */
	bool dropped;	     /* wsclient_drop(): the caller knows why */
	bool paused;	     /* wsclient_pause(): not reading once open */
	bool drop_now;	     /* leave from the callback that is running */
	unsigned close_echo; /* the close to send before dropping (answer, or 1002) */
};

static void s_why(struct wsclient *c, const char *msg)
{
	if (!c->why[0])
		str_copy(c->why, sizeof(c->why), msg);
}

/* The request, wiped whole: it may hold a secret query. */
static void s_request_free(struct wsclient *c)
{
	if (c->hs_req) {
		explicit_bzero(c->hs_req, c->hs_req_cap);
		free(c->hs_req);
		c->hs_req = NULL;
	}
}

static void s_handshake_free(struct wsclient *c)
{
	s_request_free(c);
	free(c->hs_buf);
	c->hs_buf = NULL;
	c->hs_len = 0;
}

/* What on_closed says: the first failure, nothing after a close handshake or our own
 * drop, else that the connection just went. */
static const char *s_end_reason(const struct wsclient *c)
{
	if (c->why[0])
		return c->why;
	if (c->peer_closed || c->close_sent || c->dropped)
		return NULL;
	return "the connection was lost (no close frame)";
}

/* The per-connection state back to a fresh connection's. */
static void s_fresh(struct wsclient *c)
{
	s_handshake_free(c);
	tlsmem_destroy(&c->tls);
	wsf_rx_reset(c->rx);
	c->wsi = NULL;
	c->why[0] = '\0';
	c->upgraded = c->pong_due = c->app_wants = false;
	c->close_wanted = c->close_sent = c->peer_closed = c->dropped = c->drop_now = false;
	c->close_echo = 0;
}

static void s_end(struct wsclient *c)
{
	char why[sizeof(c->why)];
	const char *reason = s_end_reason(c);

	if (!c->live)
		return;
	if (reason) /* a copy: s_fresh() clears c->why */
		str_copy(why, sizeof(why), reason);
	c->live = false;
	s_fresh(c);
	c->cbs.on_closed(c->ud, reason ? why : NULL);
}

/* ---- received frames (wsframe.c calls these) ---------------------------------------- */

static void s_on_message(void *ud, enum wsf_op op, const unsigned char *data, size_t len,
			 bool truncated, uint64_t total)
{
	struct wsclient *c = ud;
	char why[64];

	if (op == WSF_BINARY) {
		c->cbs.on_skipped(c->ud, "binary frame", (const char *)data, len);
	} else if (truncated) {
		snprintf(why, sizeof(why), "frame over --max-frame: %llu bytes",
			 (unsigned long long)total);
		c->cbs.on_skipped(c->ud, why, (const char *)data, len);
	} else {
		c->cbs.on_text(c->ud, (const char *)data, len);
	}
}

static void s_on_peer_close(struct wsclient *c, const unsigned char *in, size_t len)
{
	const char *reason;
	size_t rl;
	unsigned code;

	if (wsf_close_parse(in, len, &code, &reason, &rl) != 0) {
		s_why(c, "malformed close frame from the server");
		c->close_echo = WSF_CLOSE_PROTOCOL;
		lws_callback_on_writable(c->wsi);
		return;
	}
	c->peer_closed = true;
	c->cbs.on_peer_close(c->ud, code == WSF_CLOSE_NONE ? 0 : code, reason, rl);
	if (c->close_sent) {
		c->drop_now = true; /* the answer to ours: the close handshake is done */
		return;
	}
	c->close_echo = code; /* RFC 6455 5.5.1: answer with a close, then drop */
	lws_callback_on_writable(c->wsi);
}

static void s_on_control(void *ud, enum wsf_op op, const unsigned char *data, size_t len)
{
	struct wsclient *c = ud;

	switch (op) {
	case WSF_PING:
		memcpy(c->pong, data, len);
		c->pong_len = len;
		c->pong_due = true;
		lws_callback_on_writable(c->wsi);
		break;
	case WSF_CLOSE:
		s_on_peer_close(c, data, len);
		break;
	default: /* a pong: its arrival was a sign of life already */
		break;
	}
}

static const struct wsf_sink s_sink = {s_on_message, s_on_control};

/* ---- received bytes ----------------------------------------------------------------- */

/* Bytes before the upgrade: the server's answer. Returns how many of in belonged to it
 * (the rest are already frames), or -1 when it refused or answered wrongly. */
static int s_handshake_rx(struct wsclient *c, const unsigned char *in, size_t len)
{
	size_t before = c->hs_len, take;
	char err[200], msg[240];
	int n;

	if (!c->hs_buf && !(c->hs_buf = malloc(WSHS_RESPONSE_MAX)))
		return -1;
	take = len < WSHS_RESPONSE_MAX - c->hs_len ? len : WSHS_RESPONSE_MAX - c->hs_len;
	memcpy(c->hs_buf + c->hs_len, in, take);
	c->hs_len += take;
	n = wshs_response(c->hs_buf, c->hs_len, c->key, NULL, err, sizeof(err));
	if (n == 0)
		return (int)take;
	if (n < 0) {
		snprintf(msg, sizeof(msg), "WebSocket handshake failed: %s", err);
		s_why(c, msg);
		return -1;
	}
	c->upgraded = true;
	s_handshake_free(c);
	if (c->paused)
		lws_rx_flow_control(c->wsi, 0);
	c->cbs.on_open(c->ud);
	return (int)((size_t)n - before);
}

/* WebSocket bytes (decrypted, when wss): the answer to the upgrade, then frames. */
static int s_plain(struct wsclient *c, const unsigned char *in, size_t len)
{
	char err[200];
	int rc;

	if (!c->upgraded) {
		if ((rc = s_handshake_rx(c, in, len)) < 0)
			return -1;
		in += rc;
		len -= (size_t)rc;
	}
	if (!c->live || !c->upgraded || c->close_echo || wsf_rx_closed(c->rx))
		return 0;
	rc = wsf_rx_feed(c->rx, in, len, &s_sink, c, err, sizeof(err));
	if (rc == PP_ENOMEM)
		return -1;
	if (rc != 0) {
		/* RFC 6455 7.1.7: fail the connection, with 1002 while we still can */
		s_why(c, err);
		c->close_echo = WSF_CLOSE_PROTOCOL;
		lws_callback_on_writable(c->wsi);
	}
	return 0;
}

/* Ciphertext: decrypt all there is, in runs of up to PLAIN_BUFFER_SIZE for the parser. */
static int s_tls_rx(struct wsclient *c, const unsigned char *in, size_t len)
{
	bool was_ready = tlsmem_ready(c->tls);
	const unsigned char *out;
	char err[300];
	size_t used = 0;
	int n;

	if (tlsmem_feed(c->tls, in, len) != 0)
		return -1;
	while ((n = tlsmem_read(c->tls, c->plain + used, PLAIN_BUFFER_SIZE - used, err,
				sizeof(err))) > 0) {
		used += (size_t)n;
		if (used == PLAIN_BUFFER_SIZE) {
			if (s_plain(c, c->plain, used) != 0)
				return -1;
			used = 0;
		}
	}
	if (used && s_plain(c, c->plain, used) != 0)
		return -1;
	if (n < 0) {
		if (n != PP_ECLOSED || !c->peer_closed)
			s_why(c, err);
		return -1;
	}
	if ((!was_ready && tlsmem_ready(c->tls)) || tlsmem_out(c->tls, &out))
		lws_callback_on_writable(c->wsi); /* the upgrade request, or TLS's own bytes */
	return 0;
}

/* The TCP connection is up: start TLS (wss), or go straight to the upgrade (ws). */
static int s_on_tcp_up(struct wsclient *c)
{
	char err[300];
	unsigned char none;

	if (c->use_tls) {
		c->tls = tlsmem_new(c->tls_ctx, c->host, c->verify, err, sizeof(err));
		/* a read of nothing starts the handshake: the ClientHello waits in the out */
		if (!c->tls || tlsmem_read(c->tls, &none, 0, err, sizeof(err)) < 0) {
			s_why(c, err);
			return -1;
		}
	}
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---- writing ------------------------------------------------------------------------ */

/* Bytes for the socket: straight to lws (which buffers what the kernel does not take), or
 * into the TLS session, whose ciphertext s_tls_flush() hands over at the callback's end. */
static int s_emit(struct wsclient *c, unsigned char *p, size_t len)
{
	char err[300];

	if (!c->tls)
		return lws_write(c->wsi, p, len, LWS_WRITE_RAW) == (int)len ? 0 : -1;
	if (tlsmem_write(c->tls, p, len, err, sizeof(err)) != 0) {
		s_why(c, err);
		return -1;
	}
	return 0;
}

static int s_tls_flush(struct wsclient *c)
{
	const unsigned char *p;
	size_t n = c->tls ? tlsmem_out(c->tls, &p) : 0;
	int rc = 0;

	if (!n)
		return 0;
	if (lws_write(c->wsi, (unsigned char *)p, n, LWS_WRITE_RAW) != (int)n)
		rc = -1;
	tlsmem_out_sent(c->tls);
	return rc;
}

/* One masked frame (RFC 6455 5.3: a fresh unpredictable key each). The frame is wiped
 * after the write: a message's masked bytes and its key together are the message (the
 * auth message holds the API key). */
static int s_write_frame(struct wsclient *c, enum wsf_op op, const void *payload, size_t len)
{
	unsigned char mask[4], *f;
	size_t flen = 0;
	int rc;

	if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask))
		return -1;
	f = wsf_frame_new(op, payload, len, mask, LWS_PRE, &flen);
	if (!f)
		return -1;
	rc = s_emit(c, f + LWS_PRE, flen);
	explicit_bzero(f, LWS_PRE + flen);
	free(f);
	return rc;
}

static int s_write_close(struct wsclient *c, unsigned code, const char *reason)
{
	unsigned char p[2 + 32];
	size_t rl = strlen(reason) < 32 ? strlen(reason) : 32;

	if (code == WSF_CLOSE_NONE) /* the server's close had no code: answer likewise */
		return s_write_frame(c, WSF_CLOSE, p, 0);
	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	memcpy(p + 2, reason, rl);
	return s_write_frame(c, WSF_CLOSE, p, 2 + rl);
}

/* The upgrade request, wiped and freed once written. */
static int s_write_handshake(struct wsclient *c)
{
	int rc = s_emit(c, (unsigned char *)c->hs_req + LWS_PRE, c->hs_req_len);

	s_request_free(c);
	return rc;
}

/* Ours before the caller's: the close that ends the connection, our own close, a pong. */
static int s_write_control(struct wsclient *c)
{
	if (c->close_echo) {
		s_write_close(c, c->close_echo, "");
		return -1;
	}
	if (c->close_wanted) {
		c->close_wanted = false;
		c->close_sent = true;
		if (s_write_close(c, WSF_CLOSE_NORMAL, "bye") != 0)
			return -1;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_ACK_TIMEOUT_S);
		return 1;
	}
	if (c->pong_due) {
		c->pong_due = false;
		return s_write_frame(c, WSF_PONG, c->pong, c->pong_len) ? -1 : 1;
	}
	return 0;
}

static int s_writeable(struct wsclient *c)
{
	int rc;

	if (c->drop_now || (c->close_wanted && !c->upgraded))
		return -1;
	if (c->tls && !tlsmem_ready(c->tls))
		return 0; /* only the TLS handshake's own bytes go now (s_tls_flush) */
	if (c->hs_req)
		return s_write_handshake(c);
	if (!c->upgraded || c->close_sent)
		return 0;
	if ((rc = s_write_control(c)) != 0) {
		if (rc > 0 && (c->pong_due || c->app_wants))
			lws_callback_on_writable(c->wsi);
		return rc < 0 ? -1 : 0;
	}
	if (!c->app_wants)
		return 0;
	c->app_wants = false;
	return c->cbs.on_writeable(c->ud) < 0 ? -1 : 0;
}

/* ---- the lws protocol callback ------------------------------------------------------ */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	const struct lws_protocols *prot = lws_get_protocol(wsi);
	struct wsclient *c;
	char msg[300];
	int rc;

	(void)user;
	/* lws gives a vhost's first protocol the TLS callbacks of every wsi (REST's too): only
	 * a wsi bound to this protocol carries a wsclient as its opaque data */
	if (!prot || prot->callback != s_callback)
		return 0;
	c = lws_get_opaque_user_data(wsi);
	if (!c || !c->live || (c->wsi && wsi != c->wsi))
		return 0; /* detached, or a late callback of a connection already ended */
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(msg, sizeof(msg), "connection failed: %s",
			 in ? (const char *)in : "unknown error");
		s_why(c, msg);
		s_end(c);
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		return s_on_tcp_up(c);
	case LWS_CALLBACK_RAW_RX:
		c->cbs.on_alive(c->ud);
		rc = c->tls ? s_tls_rx(c, in, len) : s_plain(c, in, len);
		return rc != 0 || c->drop_now ? -1 : 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		rc = s_writeable(c);
		/* what TLS made of it, in one write (a close frame before a -1 too) */
		return s_tls_flush(c) != 0 ? -1 : rc;
	case LWS_CALLBACK_RAW_CLOSE:
	case LWS_CALLBACK_WSI_DESTROY: /* a wsi lws gave up on without RAW_CLOSE */
		s_end(c);
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols wsclient_protocol = {"pp-upstream", s_callback, 0, 0, 0, NULL, 0};

/* ---- public --------------------------------------------------------------------------- */

struct wsclient *wsclient_new(struct lws_context *ctx, struct lws_vhost *vh, SSL_CTX *tls_ctx,
			      size_t max_message, const struct wsclient_cbs *cbs, void *ud)
{
	struct wsclient *c = calloc(1, sizeof(*c));

	if (!c || !(c->rx = wsf_rx_new(max_message)) || !(c->plain = malloc(PLAIN_BUFFER_SIZE))) {
		wsclient_destroy(&c);
		return NULL;
	}
	c->ctx = ctx;
	c->vh = vh;
	c->tls_ctx = tls_ctx;
	c->cbs = *cbs;
	c->ud = ud;
	return c;
}

void wsclient_destroy(struct wsclient **self_p)
{
	struct wsclient *c;

	if (!self_p || !*self_p)
		return;
	c = *self_p;
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	tlsmem_destroy(&c->tls);
	s_handshake_free(c);
	wsf_rx_destroy(&c->rx);
	free(c->plain);
	free(c);
	*self_p = NULL;
}

/* The upgrade request for the URL's host, port and path (+ extra_query), a fresh key. */
static int s_request_prepare(struct wsclient *c, const char *host, int port, const char *path,
			     const char *extra_query)
{
	size_t cap = strlen(path) + (extra_query ? strlen(extra_query) : 0) + 4;
	char *full = malloc(cap);
	unsigned char nonce[16];
	int n = -1;

	c->hs_req_cap = LWS_PRE + cap + strlen(host) + 512;
	c->hs_req = malloc(c->hs_req_cap);
	if (!full || !c->hs_req || getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
		goto out;
	wshs_key(nonce, c->key);
	snprintf(full, cap, "/%s%s%s", path,
		 !extra_query	     ? ""
		 : strchr(path, '?') ? "&"
				     : "?",
		 extra_query ? extra_query : "");
	n = wshs_request(c->hs_req + LWS_PRE, c->hs_req_cap - LWS_PRE, host, port, c->use_tls, full,
			 c->key, USER_AGENT);
out:
	if (full) {
		explicit_bzero(full, cap);
		free(full);
	}
	if (n < 0) {
		s_handshake_free(c);
		return -1;
	}
	c->hs_req_len = (size_t)n;
	return 0;
}

int wsclient_connect(struct wsclient *c, const char *url, const char *extra_query, bool verify,
		     char *err, size_t errlen)
{
	struct lws_client_connect_info ci;
	const char *prot = NULL, *host = NULL, *path = NULL;
	char *u = strdup(url);
	int port = 0, rc = -1;

	s_fresh(c);
	if (!u || lws_parse_uri(u, &prot, &host, &port, &path) ||
	    (strcmp(prot, "ws") && strcmp(prot, "wss"))) {
		snprintf(err, errlen, "cannot parse the WebSocket URL");
		goto out;
	}
	c->use_tls = strcmp(prot, "wss") == 0;
	c->verify = verify;
	/* the name for TLS and the Host header; DNS (ci.address) keeps a trailing dot */
	str_copy(c->host, sizeof(c->host), host);
	c->host[str_host_len(c->host)] = '\0';
	if (s_request_prepare(c, c->host, port, path, extra_query) != 0) {
		snprintf(err, errlen, "cannot build the WebSocket upgrade request for the URL");
		goto out;
	}
	memset(&ci, 0, sizeof(ci));
	ci.context = c->ctx;
	ci.vhost = c->vh;
	ci.address = host;
	ci.port = port;
	ci.path = "/";
	ci.host = c->host;
	ci.method = "RAW";
	ci.local_protocol_name = wsclient_protocol.name;
	ci.pwsi = &c->wsi;
	ci.opaque_user_data = c;
	c->live = true;
	if (!lws_client_connect_via_info(&ci) && c->live) {
		/* failed before any callback: no on_closed will come */
		c->live = false;
		s_fresh(c);
		snprintf(err, errlen, "connect failed");
		goto out;
	}
	rc = 0;
out:
	free(u);
	return rc;
}

void wsclient_want_write(struct wsclient *c)
{
	c->app_wants = true;
	if (c->wsi && c->upgraded)
		lws_callback_on_writable(c->wsi);
}

int wsclient_send(struct wsclient *c, enum wsf_op op, const void *payload, size_t len)
{
	if (!c->wsi || !c->upgraded || c->close_sent)
		return -1;
	return s_write_frame(c, op, payload, len);
}

void wsclient_close(struct wsclient *c)
{
	if (!c->wsi)
		return;
	if (!c->upgraded) {
		wsclient_drop(c);
		return;
	}
	c->close_wanted = true;
	lws_callback_on_writable(c->wsi);
}

void wsclient_drop(struct wsclient *c)
{
	if (!c->wsi)
		return;
	c->dropped = true;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void wsclient_pause(struct wsclient *c, bool pause)
{
	c->paused = pause;
	if (c->wsi && c->upgraded)
		lws_rx_flow_control(c->wsi, pause ? 0 : 1);
}

bool wsclient_is_open(const struct wsclient *c)
{
	return c->wsi && c->upgraded && !c->close_wanted && !c->close_sent;
}
