/* upstream.c: owns the WebSocket to the Pulse server and its life cycle.
 *
 * The WebSocket runs on an lws raw client socket: lws connects, buffers partial writes and
 * runs the loop and the timers; the opening handshake (wshs.c) and the framing (wsframe.c)
 * are ours, because lws 4.1's client parser takes a payload one byte at a time and cost
 * half the bridge's CPU per event. For wss the TLS session is ours too (tlsmem.c, over the
 * raw TCP): lws 4.1.6 cannot start TLS on a raw client socket.
 *
 * One connection at a time, driven by lws callbacks and three timers (lws_sul):
 *   retry_sul      when to connect again (back-off policy in backoff.c);
 *   deadline_sul   connect + handshake + auth_ok must finish within --auth-timeout-ms
 *                  (default 30 s: the server may hold auth_ok ~20 s while it closes a
 *                  half-open older connection of the same agent);
 *   alive_sul      keep-alive: a protocol PING after one silent ping interval, the
 *                  connection declared dead after two (half-open TCP never hangs us).
 * Writes happen only in LWS_CALLBACK_RAW_WRITEABLE, one frame per callback. */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "pp_err.h"
#include "strutil.h"
#include "tlsmem.h"
#include "wsframe.h"
#include "wshs.h"

#define RX_BUFFER_SIZE	    65536
#define LOG_FRAME_MAX	    200
#define CLOSE_ACK_TIMEOUT_S 5 /* after our close frame, how long the server may take to answer */
#define USER_AGENT	    "plurum-pulse-bridge/" PP_VERSION

struct out_msg {
	struct out_msg *next;
	void *tag;
	size_t len;
	char text[];
};

struct upstream {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	SSL_CTX *tls_ctx;
	const struct config *cfg;
	const char *key;
	struct upstream_cbs cbs;
	void *ud;

	struct lws *wsi;
	enum up_state state;
	bool authed;
	bool auth_sent;
	bool auth_error; /* the server said "Authentication failed/timed out" */
	bool ping_due;
	bool close_wanted;   /* send a 1000 close from the next WRITEABLE */
	bool close_sent;     /* ours went out: the server's close frame ends the connection */
	unsigned close_echo; /* answer the server's close (or our protocol error): then drop */
	bool drop_now;	     /* leave the connection from the callback that is running */
	bool restart_now;    /* after this close, connect again at once */
	bool retry_scheduled;
	char agent_id[128];
	long long since_ms;	/* when the state last changed (wall clock) */
	long long connected_ms; /* monotonic time of auth_ok, 0 when not connected */
	long long last_rx_ms;	/* monotonic time of the last sign of life */
	uint32_t attempt;
	uint32_t next_retry_ms;
	int close_code;	     /* of the current connection, 0 when it ended without one */
	int last_close_code; /* the last one seen, for bridge.status */
	char last_error[256];
	enum backoff_reason next_reason;

	struct out_msg *head, *tail;

	/* the opening handshake: the request (it may hold the legacy ?token=, so it is wiped
	 * once written), our key, and the server's answer as it comes in */
	char *hs_req;
	size_t hs_req_len;
	char ws_key[WSHS_KEY_LEN + 1];
	bool upgraded;
	char *hs_buf;
	size_t hs_len;

	/* wss: the TLS session (tlsmem.c) over lws' plain TCP, and its plaintext */
	bool use_tls;
	char host[256];
	struct tlsmem *tls;
	unsigned char *plain;

	struct wsf_rx *wrx;
	unsigned char pong[WSF_CONTROL_MAX]; /* the last ping's payload, echoed */
	size_t pong_len;
	bool pong_due;

	lws_sorted_usec_list_t retry_sul, deadline_sul, alive_sul;
	struct upstream_stats stats;
};

const char *upstream_state_name(enum up_state st)
{
	static const char *const names[] = {"connecting", "connected",	  "backoff", "auth_failed",
					    "superseded", "rate_limited", "stopping"};

	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

static void s_set_state(struct upstream *up, enum up_state st)
{
	if (up->state != st) {
		up->state = st;
		up->since_ms = clock_wall_ms();
	}
	if (up->cbs.on_state)
		up->cbs.on_state(up->ud);
}

static void s_set_error(struct upstream *up, const char *msg)
{
	str_copy(up->last_error, sizeof(up->last_error), msg);
}

/* ---- outgoing queue ------------------------------------------------------------- */

static struct out_msg *s_msg_new(const char *text, size_t len, void *tag)
{
	struct out_msg *m = malloc(sizeof(*m) + len);

	if (!m)
		return NULL;
	m->next = NULL;
	m->tag = tag;
	m->len = len;
	memcpy(m->text, text, len);
	return m;
}

static void s_queue_push(struct upstream *up, struct out_msg *m)
{
	if (up->tail)
		up->tail->next = m;
	else
		up->head = m;
	up->tail = m;
}

static struct out_msg *s_queue_pop(struct upstream *up)
{
	struct out_msg *m = up->head;

	if (m) {
		up->head = m->next;
		if (!up->head)
			up->tail = NULL;
	}
	return m;
}

/* The connection is gone: hand back what was never written. */
static void s_queue_flush_unsent(struct upstream *up)
{
	struct out_msg *m;

	while ((m = s_queue_pop(up))) {
		if (up->cbs.on_unsent)
			up->cbs.on_unsent(up->ud, m->tag);
		free(m);
	}
}

/* ---- timers and retry ------------------------------------------------------------- */

static void s_connect(struct upstream *up);

static void s_retry_cb(lws_sorted_usec_list_t *sul)
{
	struct upstream *up = lws_container_of(sul, struct upstream, retry_sul);

	up->retry_scheduled = false;
	if (up->state == UP_STOPPING)
		return;
	if (up->next_reason == BACKOFF_AUTH && up->cbs.reload_key)
		up->cbs.reload_key(up->ud);
	s_connect(up);
}

static uint32_t s_random32(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)clock_mono_ms() * 2654435761u;
	return r;
}

static enum up_state s_state_for(enum backoff_reason why)
{
	switch (why) {
	case BACKOFF_AUTH:
		return UP_AUTH_FAILED;
	case BACKOFF_SUPERSEDED:
		return UP_SUPERSEDED;
	case BACKOFF_RATE:
		return UP_RATE_LIMITED;
	default:
		return UP_BACKOFF;
	}
}

static void s_log_retry(struct upstream *up, enum backoff_reason why)
{
	switch (why) {
	case BACKOFF_AUTH:
		log_error("upstream: authentication failed (%s); retrying in %u ms with the key "
			  "re-read",
			  up->last_error[0] ? up->last_error : "close 4001", up->next_retry_ms);
		break;
	case BACKOFF_SUPERSEDED:
		log_error("upstream: SUPERSEDED: another client connected with this agent's key "
			  "(close 4000). Not fighting it: next try in %u ms. Run one bridge per "
			  "agent and share it.",
			  up->next_retry_ms);
		break;
	case BACKOFF_RATE:
		log_error("upstream: the server closed us for the message rate (4008); waiting "
			  "%u ms",
			  up->next_retry_ms);
		break;
	default:
		log_warn("upstream: connection ended (close code %d%s%s); attempt %u in %u ms",
			 up->close_code, up->last_error[0] ? ": " : "", up->last_error, up->attempt,
			 up->next_retry_ms);
		break;
	}
}

/* Wipe and free what the opening handshake holds (the request may carry the key). */
static void s_handshake_free(struct upstream *up)
{
	if (up->hs_req) {
		explicit_bzero(up->hs_req, up->hs_req_len);
		free(up->hs_req);
		up->hs_req = NULL;
	}
	free(up->hs_buf);
	up->hs_buf = NULL;
	up->hs_len = 0;
}

/* Common end of every connection, whatever ended it. */
static void s_connection_ended(struct upstream *up)
{
	struct backoff_policy pol = {up->cfg->backoff_base_ms, up->cfg->backoff_cap_ms};
	enum backoff_reason why = backoff_reason_for_close(up->close_code);
	long long now = clock_mono_ms();

	lws_sul_cancel(&up->deadline_sul);
	lws_sul_cancel(&up->alive_sul);
	up->wsi = NULL;
	s_handshake_free(up);
	tlsmem_destroy(&up->tls);
	s_queue_flush_unsent(up);
	if (up->authed && up->cbs.on_disconnected)
		up->cbs.on_disconnected(up->ud);
	if (up->connected_ms && now - up->connected_ms >= (long long)up->cfg->healthy_after_ms)
		up->attempt = 0; /* it stayed healthy for a while: start the back-off afresh */
	up->authed = false;
	up->connected_ms = 0;
	if (up->state == UP_STOPPING) {
		if (up->cbs.on_stopped)
			up->cbs.on_stopped(up->ud);
		return;
	}
	if (up->restart_now) {
		up->restart_now = false;
		up->attempt = 0;
		s_connect(up);
		return;
	}
	if (up->auth_error && why == BACKOFF_NORMAL)
		why = BACKOFF_AUTH;
	if (up->retry_scheduled)
		return;
	up->next_reason = why;
	up->next_retry_ms = backoff_delay_ms(&pol, why, up->attempt, s_random32());
	if (up->attempt < UINT32_MAX)
		up->attempt++;
	up->retry_scheduled = true;
	lws_sul_schedule(up->ctx, 0, &up->retry_sul, s_retry_cb,
			 (lws_usec_t)up->next_retry_ms * LWS_US_PER_MS);
	s_log_retry(up, why);
	s_set_state(up, s_state_for(why));
}

/* Close the current wsi from outside a callback of its own. */
static void s_kill(struct upstream *up)
{
	if (up->wsi)
		lws_set_timeout(up->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void s_deadline_cb(lws_sorted_usec_list_t *sul)
{
	struct upstream *up = lws_container_of(sul, struct upstream, deadline_sul);

	if (up->authed || !up->wsi)
		return;
	s_set_error(up, "no auth_ok within the auth timeout");
	log_warn("upstream: no auth_ok within %u ms; dropping the connection",
		 up->cfg->auth_timeout_ms);
	s_kill(up);
}

/* Keep-alive: schedule the next check at the earliest moment something can be due. */
static void s_alive_cb(lws_sorted_usec_list_t *sul)
{
	struct upstream *up = lws_container_of(sul, struct upstream, alive_sul);
	long long iv = up->cfg->ping_interval_ms, silent, next;

	if (!up->wsi)
		return;
	silent = clock_mono_ms() - up->last_rx_ms;
	if (silent >= 2 * iv) {
		up->stats.dead++;
		s_set_error(up, "no sign of life for two ping intervals");
		log_warn("upstream: no sign of life for %lld ms; declaring the connection dead",
			 silent);
		s_kill(up);
		return;
	}
	if (silent >= iv) {
		up->ping_due = true;
		lws_callback_on_writable(up->wsi);
		next = 2 * iv - silent;
	} else {
		next = iv - silent;
	}
	lws_sul_schedule(up->ctx, 0, &up->alive_sul, s_alive_cb, (lws_usec_t)next * LWS_US_PER_MS);
}

/* ---- connecting ---------------------------------------------------------------- */

/* Percent-encode a query value (only the legacy ?token= mode needs it). */
static void s_query_escape(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < outlen; in++) {
		unsigned char c = (unsigned char)*in;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

/* The upgrade request for cfg->url, with a fresh key, into up->hs_req. */
static int s_handshake_prepare(struct upstream *up, const char *ads, int port, bool tls,
			       const char *p)
{
	size_t cap = strlen(p) + 3 * strlen(up->key) + strlen(ads) + 512;
	char *path = malloc(cap);
	unsigned char nonce[16];
	int n = -1;

	up->hs_req = malloc(cap + 512);
	if (!path || !up->hs_req || getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
		goto out;
	wshs_key(nonce, up->ws_key);
	if (up->cfg->legacy_query_token) {
		size_t toklen = 3 * strlen(up->key) + 4; /* each byte may take 3 */
		char *tok = malloc(toklen);

		if (!tok)
			goto out;
		s_query_escape(up->key, tok, toklen);
		snprintf(path, cap, "/%s%stoken=%s", p, strchr(p, '?') ? "&" : "?", tok);
		explicit_bzero(tok, strlen(tok));
		free(tok);
	} else {
		snprintf(path, cap, "/%s", p);
	}
	n = wshs_request(up->hs_req, cap + 512, ads, port, tls, path, up->ws_key, USER_AGENT);
out:
	if (path) {
		explicit_bzero(path, cap);
		free(path);
	}
	if (n < 0) {
		s_handshake_free(up);
		return -1;
	}
	up->hs_req_len = (size_t)n;
	return 0;
}

static void s_connect(struct upstream *up)
{
	struct lws_client_connect_info ci;
	char url[CONFIG_STR_MAX];
	const char *prot = NULL, *ads = NULL, *p = NULL;
	int port = 0;
	bool tls;

	snprintf(url, sizeof(url), "%s", up->cfg->url);
	if (lws_parse_uri(url, &prot, &ads, &port, &p)) {
		s_set_error(up, "cannot parse --url");
		s_connection_ended(up);
		return;
	}
	tls = strcmp(prot, "wss") == 0;
	s_handshake_free(up);
	up->use_tls = tls;
	str_copy(up->host, sizeof(up->host), ads);
	if (s_handshake_prepare(up, ads, port, tls, p) != 0) {
		s_set_error(up, "cannot build the WebSocket upgrade request for --url");
		s_connection_ended(up);
		return;
	}
	memset(&ci, 0, sizeof(ci));
	ci.context = up->ctx;
	ci.vhost = up->vh;
	ci.address = ads;
	ci.port = port;
	ci.path = "/";
	ci.host = ads;
	ci.method = "RAW"; /* TLS, the upgrade and the frames are ours: see the file's header */
	ci.local_protocol_name = upstream_protocol.name;
	ci.pwsi = &up->wsi;
	ci.opaque_user_data = up;
	if (tls && up->cfg->insecure)
		log_warn("upstream: --insecure: TLS certificate and host name NOT verified");
	up->authed = up->auth_sent = up->auth_error = false;
	up->ping_due = up->close_wanted = up->close_sent = up->drop_now = false;
	up->pong_due = up->upgraded = false;
	up->close_echo = 0;
	up->close_code = 0;
	wsf_rx_reset(up->wrx);
	up->stats.connects++;
	if (up->stats.connects > 1)
		up->stats.reconnects++;
	s_set_state(up, UP_CONNECTING);
	log_info("upstream: connecting to %s (attempt %u)", up->cfg->url, up->attempt + 1);
	lws_sul_schedule(up->ctx, 0, &up->deadline_sul, s_deadline_cb,
			 (lws_usec_t)up->cfg->auth_timeout_ms * LWS_US_PER_MS);
	if (!lws_client_connect_via_info(&ci) && !up->retry_scheduled) {
		/* lws may already have reported CONNECTION_ERROR through pwsi */
		if (up->wsi == NULL && up->state == UP_CONNECTING) {
			s_set_error(up, "connect failed");
			s_connection_ended(up);
		}
	}
}

/* ---- receiving ------------------------------------------------------------------ */

static void s_skip(struct upstream *up, const char *why, const char *text, size_t len)
{
	char shown[LOG_FRAME_MAX + 64];

	up->stats.skipped++;
	log_shorten(text, len, shown, sizeof(shown), LOG_FRAME_MAX);
	log_warn("upstream: skipped a frame (%s): %s", why, shown);
}

static void s_on_auth_ok(struct upstream *up, const char *agent_id)
{
	if (up->authed)
		return;
	up->authed = true;
	up->stats.auth_ok++;
	up->connected_ms = clock_mono_ms();
	str_copy(up->agent_id, sizeof(up->agent_id), agent_id);
	s_set_error(up, NULL);
	lws_sul_cancel(&up->deadline_sul);
	log_info("upstream: connected as agent %s", up->agent_id);
	s_set_state(up, UP_CONNECTED);
	if (up->cbs.on_connected)
		up->cbs.on_connected(up->ud);
	if (up->head && up->wsi)
		lws_callback_on_writable(up->wsi);
}

static void s_on_frame(struct upstream *up, const char *text, size_t len)
{
	struct norm_event ev;
	char err[256];

	up->stats.frames++;
	if (normalize_frame_fast(text, len, up->cfg->max_frame, &ev) == 1) {
		if (up->cbs.on_event)
			up->cbs.on_event(up->ud, &ev);
		norm_event_clear(&ev);
		return;
	}
	if (normalize_frame(text, len, up->cfg->max_frame, &ev, err, sizeof(err)) != 0) {
		s_skip(up, err, text, len);
		return;
	}
	switch (ev.kind) {
	case NORM_AUTH_OK:
		s_on_auth_ok(up, ev.reply_text);
		break;
	case NORM_ERROR:
		if (!up->authed) {
			s_set_error(up, ev.reply_text);
			up->auth_error = true;
			log_warn("upstream: server error before auth_ok: %s", ev.reply_text);
		} else if (up->cbs.on_reply) {
			up->cbs.on_reply(up->ud, &ev);
		}
		break;
	case NORM_CONTRIBUTE_OK:
		if (up->cbs.on_reply)
			up->cbs.on_reply(up->ud, &ev);
		break;
	case NORM_PONG:
		break;
	case NORM_EVENT:
		if (up->cbs.on_event)
			up->cbs.on_event(up->ud, &ev);
		break;
	}
	norm_event_clear(&ev);
}

/* ---- the WebSocket's own frames (wsframe.c calls these) ------------------------------ */

static void s_on_message(void *ud, enum wsf_op op, const unsigned char *data, size_t len,
			 bool truncated, uint64_t total)
{
	struct upstream *up = ud;
	char why[64];

	if (op == WSF_BINARY) {
		s_skip(up, "binary frame", (const char *)data, len);
	} else if (truncated) {
		snprintf(why, sizeof(why), "frame over --max-frame: %llu bytes",
			 (unsigned long long)total);
		s_skip(up, why, (const char *)data, len);
	} else {
		s_on_frame(up, (const char *)data, len);
	}
}

static void s_on_peer_close(struct upstream *up, const unsigned char *in, size_t len)
{
	const char *reason;
	char text[128];
	size_t rl;
	unsigned code;

	if (wsf_close_parse(in, len, &code, &reason, &rl) != 0) {
		s_set_error(up, "malformed close frame from the server");
		log_warn("upstream: malformed close frame from the server");
		code = WSF_CLOSE_PROTOCOL;
	} else if (code != WSF_CLOSE_NONE) {
		up->close_code = up->last_close_code = (int)code;
		rl = rl < sizeof(text) - 1 ? rl : sizeof(text) - 1;
		memcpy(text, reason, rl);
		text[rl] = '\0';
		if (!up->last_error[0] && rl)
			s_set_error(up, text);
		log_info("upstream: server closed with %u", code);
	}
	if (up->close_sent) {
		up->drop_now = true; /* the answer to ours: the close handshake is done */
		return;
	}
	up->close_echo = code; /* RFC 6455 5.5.1: answer with a close, then drop */
	lws_callback_on_writable(up->wsi);
}

static void s_on_control(void *ud, enum wsf_op op, const unsigned char *data, size_t len)
{
	struct upstream *up = ud;

	switch (op) {
	case WSF_PING:
		memcpy(up->pong, data, len);
		up->pong_len = len;
		up->pong_due = true;
		lws_callback_on_writable(up->wsi);
		break;
	case WSF_CLOSE:
		s_on_peer_close(up, data, len);
		break;
	default: /* a pong: its arrival was already a sign of life */
		break;
	}
}

static const struct wsf_sink s_sink = {s_on_message, s_on_control};

/* The handshake is done: what CLIENT_ESTABLISHED was to lws' own WebSocket client. */
static void s_on_upgraded(struct upstream *up)
{
	up->upgraded = true;
	s_handshake_free(up);
	lws_sul_schedule(up->ctx, 0, &up->alive_sul, s_alive_cb,
			 (lws_usec_t)up->cfg->ping_interval_ms * LWS_US_PER_MS);
	if (up->state == UP_STOPPING)
		up->close_wanted = true;
	lws_callback_on_writable(up->wsi);
}

/* Bytes before the upgrade: the server's answer. Returns how many of in belonged to it
 * (the rest are already frames), or -1 when it refused or answered wrongly. */
static int s_handshake_rx(struct upstream *up, const unsigned char *in, size_t len)
{
	size_t before = up->hs_len, take;
	char err[200];
	int status, n;

	if (!up->hs_buf && !(up->hs_buf = malloc(WSHS_RESPONSE_MAX)))
		return -1;
	take = len < WSHS_RESPONSE_MAX - up->hs_len ? len : WSHS_RESPONSE_MAX - up->hs_len;
	memcpy(up->hs_buf + up->hs_len, in, take);
	up->hs_len += take;
	n = wshs_response(up->hs_buf, up->hs_len, up->ws_key, &status, err, sizeof(err));
	if (n == 0)
		return (int)take;
	if (n < 0) {
		s_set_error(up, err);
		log_warn("upstream: WebSocket handshake failed: %s", err);
		return -1;
	}
	s_on_upgraded(up);
	return (int)((size_t)n - before);
}

/* WebSocket bytes (after TLS, when wss): the server's answer to the upgrade, then frames. */
static int s_on_plain(struct upstream *up, const unsigned char *in, size_t len)
{
	char err[200];
	int rc;

	if (!up->upgraded) {
		if ((rc = s_handshake_rx(up, in, len)) < 0)
			return -1;
		in += rc;
		len -= (size_t)rc;
	}
	if (!up->upgraded || up->close_echo || wsf_rx_closed(up->wrx))
		return up->drop_now ? -1 : 0;
	rc = wsf_rx_feed(up->wrx, in, len, &s_sink, up, err, sizeof(err));
	if (rc == PP_ENOMEM)
		return -1;
	if (rc != 0) {
		/* RFC 6455 7.1.7: fail the connection, with 1002 when we still can */
		s_set_error(up, err);
		log_warn("upstream: %s; closing the connection", err);
		up->close_echo = WSF_CLOSE_PROTOCOL;
		lws_callback_on_writable(up->wsi);
	}
	return up->drop_now ? -1 : 0;
}

/* ---- the transport: plain TCP, or TLS over it (tlsmem.c) --------------------------- */

/* The TCP connection is up: start TLS (wss), or go straight to the upgrade (ws). */
static int s_on_tcp_up(struct upstream *up)
{
	char err[300];
	unsigned char none;

	if (up->use_tls) {
		up->tls = tlsmem_new(up->tls_ctx, up->host, !up->cfg->insecure, err, sizeof(err));
		/* a read of nothing starts the handshake: the ClientHello is then in the out */
		if (!up->tls || tlsmem_read(up->tls, &none, 0, err, sizeof(err)) < 0) {
			s_set_error(up, err);
			log_warn("upstream: %s", err);
			return -1;
		}
	}
	lws_callback_on_writable(up->wsi); /* the ClientHello, or the upgrade request */
	return 0;
}

/* Ciphertext from the socket: decrypt all there is, in 64 KiB runs for the frame parser. */
static int s_tls_rx(struct upstream *up, const unsigned char *in, size_t len)
{
	bool was_ready = tlsmem_ready(up->tls);
	const unsigned char *out;
	char err[300];
	size_t used = 0;
	int n;

	if (tlsmem_feed(up->tls, in, len) != 0)
		return -1;
	while ((n = tlsmem_read(up->tls, up->plain + used, RX_BUFFER_SIZE - used, err,
				sizeof(err))) > 0) {
		used += (size_t)n;
		if (used == RX_BUFFER_SIZE) {
			if (s_on_plain(up, up->plain, used) != 0)
				return -1;
			used = 0;
		}
	}
	if (used && s_on_plain(up, up->plain, used) != 0)
		return -1;
	if (n < 0) {
		if (n != PP_ECLOSED || !up->close_code)
			s_set_error(up, err);
		if (n != PP_ECLOSED)
			log_warn("upstream: %s", err);
		return -1;
	}
	if (!was_ready && tlsmem_ready(up->tls))
		lws_callback_on_writable(up->wsi); /* now the upgrade request */
	else if (tlsmem_out(up->tls, &out))
		lws_callback_on_writable(up->wsi); /* the handshake or a TLS reply wants out */
	return 0;
}

static int s_on_raw_rx(struct upstream *up, const unsigned char *in, size_t len)
{
	up->last_rx_ms = clock_mono_ms();
	return up->tls ? s_tls_rx(up, in, len) : s_on_plain(up, in, len);
}

/* Bytes for the socket: straight to lws (which buffers what the kernel does not take), or
 * into the TLS session, whose ciphertext s_tls_flush() hands over once per WRITEABLE. */
static int s_emit(struct upstream *up, const unsigned char *p, size_t len)
{
	char err[300];

	if (!up->tls)
		return lws_write(up->wsi, (unsigned char *)p, len, LWS_WRITE_RAW) == (int)len ? 0
											      : -1;
	if (tlsmem_write(up->tls, p, len, err, sizeof(err)) != 0) {
		s_set_error(up, err);
		return -1;
	}
	return 0;
}

static int s_tls_flush(struct upstream *up)
{
	const unsigned char *p;
	size_t n = up->tls ? tlsmem_out(up->tls, &p) : 0;
	int rc = 0;

	if (n && lws_write(up->wsi, (unsigned char *)p, n, LWS_WRITE_RAW) != (int)n)
		rc = -1;
	if (n)
		tlsmem_out_sent(up->tls);
	return rc;
}

/* ---- writing -------------------------------------------------------------------- */

/* One masked frame (RFC 6455 5.3: a fresh unpredictable key each). The frame is wiped
 * after the write: the auth message's masked bytes and key together are the API key. */
static int s_write_frame(struct upstream *up, enum wsf_op op, const void *payload, size_t len)
{
	unsigned char mask[4], *f;
	size_t flen = 0;
	int rc;

	if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask)) {
		uint32_t r = s_random32();

		memcpy(mask, &r, sizeof(mask));
	}
	f = wsf_frame_new(op, payload, len, mask, LWS_PRE, &flen);
	if (!f)
		return -1;
	rc = s_emit(up, f + LWS_PRE, flen);
	explicit_bzero(f, LWS_PRE + flen);
	free(f);
	return rc;
}

static int s_write_close(struct upstream *up, unsigned code, const char *reason)
{
	unsigned char p[2 + 32];
	size_t rl = strlen(reason) < 32 ? strlen(reason) : 32;

	if (code == WSF_CLOSE_NONE) /* the server's close had no code: answer likewise */
		return s_write_frame(up, WSF_CLOSE, p, 0);
	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	memcpy(p + 2, reason, rl);
	return s_write_frame(up, WSF_CLOSE, p, 2 + rl);
}

/* The upgrade request, wiped and freed once written (it may hold the legacy ?token=). */
static int s_write_handshake(struct upstream *up)
{
	unsigned char *buf = malloc(LWS_PRE + up->hs_req_len);
	int rc = -1;

	if (buf) {
		memcpy(buf + LWS_PRE, up->hs_req, up->hs_req_len);
		rc = s_emit(up, buf + LWS_PRE, up->hs_req_len);
		explicit_bzero(buf, LWS_PRE + up->hs_req_len);
		free(buf);
	}
	explicit_bzero(up->hs_req, up->hs_req_len);
	free(up->hs_req);
	up->hs_req = NULL;
	return rc;
}

static int s_write_auth(struct upstream *up)
{
	json_t *o = json_pack("{s:s, s:s}", "type", "auth", "api_key", up->key);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = -1;

	if (text) {
		rc = s_write_frame(up, WSF_TEXT, text, strlen(text));
		explicit_bzero(text, strlen(text));
		free(text);
	}
	json_decref(o);
	up->auth_sent = true;
	return rc;
}

/* Control frames first: answering the server's close or a protocol error ends the
 * connection; our own close waits for the server's answer (CLOSE_ACK_TIMEOUT_S). */
static int s_write_control(struct upstream *up)
{
	if (up->close_echo) {
		s_write_close(up, up->close_echo, "");
		return -1;
	}
	if (up->close_wanted) {
		up->close_wanted = false;
		up->close_sent = true;
		if (s_write_close(up, WSF_CLOSE_NORMAL, "bye") != 0)
			return -1;
		lws_set_timeout(up->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_ACK_TIMEOUT_S);
		return 1;
	}
	if (up->pong_due) {
		up->pong_due = false;
		return s_write_frame(up, WSF_PONG, up->pong, up->pong_len) ? -1 : 1;
	}
	if (up->ping_due && (up->auth_sent || up->cfg->legacy_query_token)) {
		/* not before the auth message: the server wants that first */
		up->ping_due = false;
		up->stats.pings_sent++;
		return s_write_frame(up, WSF_PING, NULL, 0) ? -1 : 1;
	}
	return 0;
}

/* What one WRITEABLE writes: the upgrade request, else one frame. */
static int s_writeable(struct upstream *up, struct lws *wsi)
{
	struct out_msg *m;
	int rc;

	if (up->close_wanted && !up->upgraded)
		return -1; /* stopping before the upgrade: nothing to close politely */
	if (up->tls && !tlsmem_ready(up->tls))
		return 0; /* only the TLS handshake's own bytes go now */
	if (up->hs_req)
		return s_write_handshake(up);
	if (!up->upgraded || up->close_sent)
		return 0;
	if ((rc = s_write_control(up)) != 0) {
		if (rc < 0)
			return -1;
		goto more;
	}
	if (!up->auth_sent && !up->cfg->legacy_query_token) {
		if (s_write_auth(up) != 0)
			return -1;
		goto more;
	}
	if (!up->authed || !(m = s_queue_pop(up)))
		return 0;
	if (s_write_frame(up, WSF_TEXT, m->text, m->len) != 0) {
		/* not written: give it back as unsent; the close path reports the rest */
		if (up->cbs.on_unsent)
			up->cbs.on_unsent(up->ud, m->tag);
		free(m);
		return -1;
	}
	up->stats.messages_sent++;
	if (up->cbs.on_sent)
		up->cbs.on_sent(up->ud, m->tag);
	free(m);
more:
	if (!up->close_sent &&
	    (up->close_wanted || up->pong_due || up->ping_due || (up->authed && up->head)))
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- the lws protocol callback ------------------------------------------------------ */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct upstream *up = lws_get_opaque_user_data(wsi);

	(void)user;
	if (!up)
		return 0;
	if (up->wsi && wsi != up->wsi)
		return 0; /* a late callback of a connection we already left */
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		s_set_error(up, in ? (const char *)in : "connection failed");
		log_warn("upstream: connection failed: %s", up->last_error);
		s_connection_ended(up);
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		return s_on_tcp_up(up);
	case LWS_CALLBACK_RAW_RX:
		return s_on_raw_rx(up, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE: {
		int rc = s_writeable(up, wsi);

		/* what TLS made of it, in one write (a close frame before a -1 too) */
		return s_tls_flush(up) != 0 ? -1 : rc;
	}
	case LWS_CALLBACK_RAW_CLOSE:
		s_connection_ended(up);
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols upstream_protocol = {"pp-upstream", s_callback, 0, RX_BUFFER_SIZE, 0,
						NULL,	       0};

/* ---- public ----------------------------------------------------------------------- */

struct upstream *upstream_new(struct lws_context *ctx, struct lws_vhost *vh, SSL_CTX *tls_ctx,
			      const struct config *cfg, const char *key,
			      const struct upstream_cbs *cbs, void *ud, char *err, size_t errlen)
{
	struct upstream *up = calloc(1, sizeof(*up));

	if (!up || !(up->wrx = wsf_rx_new(cfg->max_frame)) ||
	    !(up->plain = malloc(RX_BUFFER_SIZE))) {
		if (up)
			wsf_rx_destroy(&up->wrx);
		free(up);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	up->tls_ctx = tls_ctx;
	up->ctx = ctx;
	up->vh = vh;
	up->cfg = cfg;
	up->key = key;
	up->cbs = *cbs;
	up->ud = ud;
	up->state = UP_CONNECTING;
	up->since_ms = clock_wall_ms();
	return up;
}

void upstream_destroy(struct upstream **self_p)
{
	struct upstream *up;

	if (!self_p || !*self_p)
		return;
	up = *self_p;
	lws_sul_cancel(&up->retry_sul);
	lws_sul_cancel(&up->deadline_sul);
	lws_sul_cancel(&up->alive_sul);
	if (up->wsi)
		lws_set_opaque_user_data(up->wsi, NULL);
	s_queue_flush_unsent(up);
	s_handshake_free(up);
	tlsmem_destroy(&up->tls);
	wsf_rx_destroy(&up->wrx);
	free(up->plain);
	free(up);
	*self_p = NULL;
}

void upstream_start(struct upstream *up)
{
	s_connect(up);
}

void upstream_stop(struct upstream *up)
{
	lws_sul_cancel(&up->retry_sul);
	up->retry_scheduled = false;
	s_set_state(up, UP_STOPPING);
	if (!up->wsi) {
		if (up->cbs.on_stopped)
			up->cbs.on_stopped(up->ud);
		return;
	}
	up->close_wanted = true;
	lws_callback_on_writable(up->wsi);
}

void upstream_restart(struct upstream *up)
{
	if (up->state == UP_STOPPING)
		return;
	if (!up->wsi) {
		lws_sul_cancel(&up->retry_sul);
		up->retry_scheduled = false;
		up->attempt = 0;
		s_connect(up);
		return;
	}
	up->restart_now = true;
	up->close_wanted = true;
	lws_callback_on_writable(up->wsi);
}

int upstream_send(struct upstream *up, const char *text, size_t len, void *tag)
{
	struct out_msg *m;

	if (!up->authed || !up->wsi || up->close_wanted)
		return -1;
	m = s_msg_new(text, len, tag);
	if (!m)
		return -1;
	s_queue_push(up, m);
	lws_callback_on_writable(up->wsi);
	return 0;
}

enum up_state upstream_state(const struct upstream *up)
{
	return up->state;
}

bool upstream_connected(const struct upstream *up)
{
	return up->authed && up->wsi && !up->close_wanted;
}

const char *upstream_agent_id(const struct upstream *up)
{
	return up->agent_id[0] ? up->agent_id : NULL;
}

json_t *upstream_status_json(const struct upstream *up)
{
	char since[32];
	json_t *o = json_object();
	bool waiting = up->state == UP_BACKOFF || up->state == UP_AUTH_FAILED ||
		       up->state == UP_SUPERSEDED || up->state == UP_RATE_LIMITED;

	if (!o)
		return NULL;
	time_iso8601_ms(up->since_ms, since);
	json_object_set_new(o, "state", json_string(upstream_state_name(up->state)));
	json_object_set_new(o, "agent_id",
			    up->agent_id[0] ? json_string(up->agent_id) : json_null());
	json_object_set_new(o, "since", json_string(since));
	json_object_set_new(o, "attempt", json_integer(up->attempt));
	json_object_set_new(o, "next_retry_ms",
			    waiting ? json_integer(up->next_retry_ms) : json_null());
	json_object_set_new(o, "last_close_code",
			    up->last_close_code ? json_integer(up->last_close_code) : json_null());
	json_object_set_new(o, "last_error",
			    up->last_error[0] ? json_string(up->last_error) : json_null());
	return o;
}

const struct upstream_stats *upstream_stats(const struct upstream *up)
{
	return &up->stats;
}
