/* upstream.c: owns the Pulse session over the WebSocket and its life cycle: connect,
 * authenticate, keep alive, reconnect with back-off, hand every text message to the
 * normalizer. The WebSocket itself (TLS, the upgrade, frames) is wsclient.c's.
 *
 * One connection at a time, driven by wsclient callbacks and three timers (timers.h):
 *   retry_timer    when to connect again (back-off policy in backoff.c);
 *   deadline_timer connect + handshake + auth_ok must finish within --auth-timeout-ms
 *                  (default 30 s: the server may hold auth_ok ~20 s while it closes a
 *                  half-open older connection of the same agent);
 *   alive_timer    keep-alive: a protocol PING after one silent ping interval, the
 *                  connection declared dead after two (half-open TCP never hangs us).
 * Messages go out from wsclient's on_writeable, one per call: the auth message first. */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "strutil.h"
#include "timers.h"
#include "wsclient.h"

#define LOG_FRAME_MAX 200

struct out_msg {
	struct out_msg *next;
	void *tag;
	size_t len;
	char text[];
};

struct upstream {
	struct timers *timers;
	const struct config *cfg;
	const char *key;
	struct upstream_cbs cbs;
	void *ud;

	struct wsclient *ws;
	bool linked; /* a connection attempt is under way or open (until on_closed) */
	enum up_state state;
	bool authed;
	bool auth_sent;
	bool auth_error; /* the server said "Authentication failed/timed out" */
	bool ping_due;
	bool restart_now; /* after this close, connect again at once */
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

	struct timer retry_timer, deadline_timer, alive_timer;
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

static void s_retry_cb(struct timer *t)
{
	struct upstream *up = lws_container_of(t, struct upstream, retry_timer);

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

/* Common end of every connection, whatever ended it. */
static void s_connection_ended(struct upstream *up)
{
	struct backoff_policy pol = {up->cfg->backoff_base_ms, up->cfg->backoff_cap_ms};
	enum backoff_reason why = backoff_reason_for_close(up->close_code);
	long long now = clock_mono_ms();

	timer_stop(&up->deadline_timer);
	timer_stop(&up->alive_timer);
	up->linked = false;
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
	timer_start(up->timers, &up->retry_timer, s_retry_cb, (uint64_t)up->next_retry_ms * 1000);
	s_log_retry(up, why);
	s_set_state(up, s_state_for(why));
}

static void s_deadline_cb(struct timer *t)
{
	struct upstream *up = lws_container_of(t, struct upstream, deadline_timer);

	if (up->authed || !up->linked)
		return;
	s_set_error(up, "no auth_ok within the auth timeout");
	log_warn("upstream: no auth_ok within %u ms; dropping the connection",
		 up->cfg->auth_timeout_ms);
	wsclient_drop(up->ws);
}

/* Keep-alive: schedule the next check at the earliest moment something can be due. */
static void s_alive_cb(struct timer *t)
{
	struct upstream *up = lws_container_of(t, struct upstream, alive_timer);
	long long iv = up->cfg->ping_interval_ms, silent, next;

	if (!up->linked)
		return;
	silent = clock_mono_ms() - up->last_rx_ms;
	if (silent >= 2 * iv) {
		up->stats.dead++;
		s_set_error(up, "no sign of life for two ping intervals");
		log_warn("upstream: no sign of life for %lld ms; declaring the connection dead",
			 silent);
		wsclient_drop(up->ws);
		return;
	}
	if (silent >= iv) {
		up->ping_due = true;
		wsclient_want_write(up->ws);
		next = 2 * iv - silent;
	} else {
		next = iv - silent;
	}
	timer_start(up->timers, &up->alive_timer, s_alive_cb, (uint64_t)next * 1000);
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

static void s_connect(struct upstream *up)
{
	size_t toklen = 3 * strlen(up->key) + 16; /* "token=" and 3 bytes a key byte at most */
	char *tok = up->cfg->legacy_query_token ? malloc(toklen) : NULL;
	char err[256];
	int rc = -1;

	if (up->cfg->legacy_query_token && !tok) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	if (tok) {
		memcpy(tok, "token=", 6);
		s_query_escape(up->key, tok + 6, toklen - 6);
	}
	if (up->cfg->insecure && strncmp(up->cfg->url, "wss:", 4) == 0)
		log_warn("upstream: --insecure: TLS certificate and host name NOT verified");
	up->authed = up->auth_sent = up->auth_error = up->ping_due = false;
	up->close_code = 0;
	up->stats.connects++;
	if (up->stats.connects > 1)
		up->stats.reconnects++;
	s_set_state(up, UP_CONNECTING);
	log_info("upstream: connecting to %s (attempt %u)", up->cfg->url, up->attempt + 1);
	timer_start(up->timers, &up->deadline_timer, s_deadline_cb,
		    (uint64_t)up->cfg->auth_timeout_ms * 1000);
	up->linked = true;
	rc = wsclient_connect(up->ws, up->cfg->url, tok, !up->cfg->insecure, err, sizeof(err));
out:
	if (tok) {
		explicit_bzero(tok, toklen);
		free(tok);
	}
	if (rc != 0) {
		s_set_error(up, err);
		s_connection_ended(up);
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
	timer_stop(&up->deadline_timer);
	log_info("upstream: connected as agent %s", up->agent_id);
	s_set_state(up, UP_CONNECTED);
	if (up->cbs.on_connected)
		up->cbs.on_connected(up->ud);
	if (up->head)
		wsclient_want_write(up->ws);
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

/* ---- the WebSocket's callbacks (wsclient.c) ------------------------------------------ */

static void s_ws_open(void *ud)
{
	struct upstream *up = ud;

	up->last_rx_ms = clock_mono_ms();
	timer_start(up->timers, &up->alive_timer, s_alive_cb,
		    (uint64_t)up->cfg->ping_interval_ms * 1000);
	if (up->state == UP_STOPPING)
		wsclient_close(up->ws);
	else
		wsclient_want_write(up->ws); /* the auth message */
}

static void s_ws_alive(void *ud)
{
	struct upstream *up = ud;

	up->last_rx_ms = clock_mono_ms();
}

static void s_ws_text(void *ud, const char *text, size_t len)
{
	s_on_frame(ud, text, len);
}

static void s_ws_skipped(void *ud, const char *why, const char *data, size_t len)
{
	s_skip(ud, why, data, len);
}

static void s_ws_peer_close(void *ud, unsigned code, const char *reason, size_t len)
{
	struct upstream *up = ud;
	char text[128];

	if (!code)
		return;
	up->close_code = up->last_close_code = (int)code;
	/* the server's words: valid UTF-8 only, or status could not carry them as JSON */
	if (!up->last_error[0] && str_copy_text(text, sizeof(text), reason, len))
		s_set_error(up, text);
	log_info("upstream: server closed with %u", code);
}

static int s_write_auth(struct upstream *up)
{
	json_t *o = json_pack("{s:s, s:s}", "type", "auth", "api_key", up->key);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int rc = -1;

	if (text) {
		rc = wsclient_send(up->ws, WSF_TEXT, text, strlen(text));
		explicit_bzero(text, strlen(text));
		free(text);
	}
	json_decref(o);
	up->auth_sent = true;
	return rc;
}

/* One message a call: the auth message first (the server wants it before anything, even
 * a ping), then a due ping, then the queue once authenticated. */
static int s_ws_writeable(void *ud)
{
	struct upstream *up = ud;
	struct out_msg *m;

	if (!up->auth_sent && !up->cfg->legacy_query_token) {
		if (s_write_auth(up) != 0)
			return -1;
	} else if (up->ping_due) {
		up->ping_due = false;
		up->stats.pings_sent++;
		if (wsclient_send(up->ws, WSF_PING, NULL, 0) != 0)
			return -1;
	} else if (up->authed && (m = s_queue_pop(up))) {
		if (wsclient_send(up->ws, WSF_TEXT, m->text, m->len) != 0) {
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
	}
	if (up->ping_due || (up->authed && up->head))
		wsclient_want_write(up->ws);
	return 0;
}

static void s_ws_closed(void *ud, const char *err)
{
	struct upstream *up = ud;

	if (err)
		s_set_error(up, err);
	s_connection_ended(up);
}

static const struct wsclient_cbs s_ws_cbs = {
    s_ws_open, s_ws_alive, s_ws_text, s_ws_skipped, s_ws_peer_close, s_ws_writeable, s_ws_closed};

/* ---- public ----------------------------------------------------------------------- */

struct upstream *upstream_new(struct lws_context *ctx, struct lws_vhost *vh, struct timers *timers,
			      SSL_CTX *tls_ctx, const struct config *cfg, const char *key,
			      const struct upstream_cbs *cbs, void *ud, char *err, size_t errlen)
{
	struct upstream *up = calloc(1, sizeof(*up));

	if (!up || !(up->ws = wsclient_new(ctx, vh, tls_ctx, cfg->max_frame, &s_ws_cbs, up))) {
		free(up);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	up->timers = timers;
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
	timer_stop(&up->retry_timer);
	timer_stop(&up->deadline_timer);
	timer_stop(&up->alive_timer);
	wsclient_destroy(&up->ws);
	s_queue_flush_unsent(up);
	free(up);
	*self_p = NULL;
}

void upstream_start(struct upstream *up)
{
	s_connect(up);
}

void upstream_stop(struct upstream *up)
{
	timer_stop(&up->retry_timer);
	up->retry_scheduled = false;
	s_set_state(up, UP_STOPPING);
	if (!up->linked) {
		if (up->cbs.on_stopped)
			up->cbs.on_stopped(up->ud);
		return;
	}
	wsclient_close(up->ws);
}

void upstream_restart(struct upstream *up)
{
	if (up->state == UP_STOPPING)
		return;
	if (!up->linked) {
		timer_stop(&up->retry_timer);
		up->retry_scheduled = false;
		up->attempt = 0;
		s_connect(up);
		return;
	}
	up->restart_now = true;
	wsclient_close(up->ws);
}

int upstream_send(struct upstream *up, const char *text, size_t len, void *tag)
{
	struct out_msg *m;

	if (!upstream_connected(up))
		return -1;
	m = s_msg_new(text, len, tag);
	if (!m)
		return -1;
	s_queue_push(up, m);
	wsclient_want_write(up->ws);
	return 0;
}

void upstream_pause(struct upstream *up, bool pause)
{
	wsclient_pause(up->ws, pause);
}

enum up_state upstream_state(const struct upstream *up)
{
	return up->state;
}

bool upstream_connected(const struct upstream *up)
{
	return up->authed && wsclient_is_open(up->ws);
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
