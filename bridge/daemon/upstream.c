/* upstream.c: owns the WebSocket to the Pulse server and its life cycle.
 *
 * One connection at a time, driven by lws callbacks and three timers (lws_sul):
 *   retry_sul      when to connect again (back-off policy in backoff.c);
 *   deadline_sul   connect + handshake + auth_ok must finish within --auth-timeout-ms
 *                  (default 30 s: the server may hold auth_ok ~20 s while it closes a
 *                  half-open older connection of the same agent);
 *   alive_sul      keep-alive: a protocol PING after one silent ping interval, the
 *                  connection declared dead after two (half-open TCP never hangs us).
 * Writes happen only in LWS_CALLBACK_CLIENT_WRITEABLE, one lws_write per callback. */
#include "upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "backoff.h"
#include "clock.h"
#include "log.h"
#include "strutil.h"

#define RX_BUFFER_SIZE 65536
#define LOG_FRAME_MAX  200

struct out_msg {
	struct out_msg *next;
	void *tag;
	size_t len;
	unsigned char buf[]; /* LWS_PRE bytes of headroom, then the text */
};

struct upstream {
	struct lws_context *ctx;
	struct lws_vhost *vh;
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
	bool close_wanted; /* send a 1000 close from the next WRITEABLE */
	bool restart_now;  /* after this close, connect again at once */
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

	unsigned char *rx;
	size_t rx_len, rx_cap;
	bool rx_oversize, rx_binary;

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
	struct out_msg *m = malloc(sizeof(*m) + LWS_PRE + len);

	if (!m)
		return NULL;
	m->next = NULL;
	m->tag = tag;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
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

/* Common end of every connection, whatever ended it. */
static void s_connection_ended(struct upstream *up)
{
	struct backoff_policy pol = {up->cfg->backoff_base_ms, up->cfg->backoff_cap_ms};
	enum backoff_reason why = backoff_reason_for_close(up->close_code);
	long long now = clock_mono_ms();

	lws_sul_cancel(&up->deadline_sul);
	lws_sul_cancel(&up->alive_sul);
	up->wsi = NULL;
	up->rx_len = 0;
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

static void s_connect(struct upstream *up)
{
	struct lws_client_connect_info ci;
	char url[CONFIG_STR_MAX], path[CONFIG_STR_MAX + 1024], tok[768];
	const char *prot = NULL, *ads = NULL, *p = NULL;
	int port = 0;

	snprintf(url, sizeof(url), "%s", up->cfg->url);
	if (lws_parse_uri(url, &prot, &ads, &port, &p)) {
		s_set_error(up, "cannot parse --url");
		s_connection_ended(up);
		return;
	}
	if (up->cfg->legacy_query_token) {
		s_query_escape(up->key, tok, sizeof(tok));
		snprintf(path, sizeof(path), "/%s%stoken=%s", p, strchr(p, '?') ? "&" : "?", tok);
	} else {
		snprintf(path, sizeof(path), "/%s", p);
	}
	memset(&ci, 0, sizeof(ci));
	ci.context = up->ctx;
	ci.vhost = up->vh;
	ci.address = ads;
	ci.port = port;
	ci.path = path;
	ci.host = ads;	  /* no port: lws checks the certificate against this name */
	ci.origin = NULL; /* native clients send no Origin: the server refuses unknown ones */
	ci.protocol = NULL;
	ci.local_protocol_name = upstream_protocol.name;
	ci.pwsi = &up->wsi;
	ci.opaque_user_data = up;
	if (strcmp(prot, "wss") == 0) {
		ci.ssl_connection = LCCSCF_USE_SSL;
		if (up->cfg->insecure) {
			ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
					     LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
					     LCCSCF_ALLOW_EXPIRED;
			log_warn(
			    "upstream: --insecure: TLS certificate and host name NOT verified");
		}
	}
	up->authed = up->auth_sent = up->auth_error = false;
	up->ping_due = up->close_wanted = false;
	up->close_code = 0;
	up->rx_len = 0;
	up->rx_oversize = up->rx_binary = false;
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

static int s_rx_append(struct upstream *up, const void *in, size_t len)
{
	if (up->rx_oversize)
		return 0;
	if (up->rx_len + len > up->cfg->max_frame) {
		up->rx_oversize = true;
		return 0;
	}
	if (up->rx_len + len > up->rx_cap) {
		size_t cap = up->rx_cap ? up->rx_cap : RX_BUFFER_SIZE;
		unsigned char *nb;

		while (cap < up->rx_len + len)
			cap *= 2;
		nb = realloc(up->rx, cap);
		if (!nb)
			return -1;
		up->rx = nb;
		up->rx_cap = cap;
	}
	memcpy(up->rx + up->rx_len, in, len);
	up->rx_len += len;
	return 0;
}

static void s_on_receive(struct upstream *up, struct lws *wsi, const void *in, size_t len)
{
	bool first = lws_is_first_fragment(wsi), final = lws_is_final_fragment(wsi);

	up->last_rx_ms = clock_mono_ms();
	if (first) {
		up->rx_len = 0;
		up->rx_oversize = false;
		up->rx_binary = lws_frame_is_binary(wsi);
	}
	if (first && final && !lws_remaining_packet_payload(wsi)) {
		/* the common case: a whole message in one callback, no copy */
		if (up->rx_binary)
			s_skip(up, "binary frame", in, len);
		else
			s_on_frame(up, in, len);
		return;
	}
	if (s_rx_append(up, in, len) != 0)
		up->rx_oversize = true;
	if (!final || lws_remaining_packet_payload(wsi))
		return;
	if (up->rx_binary)
		s_skip(up, "binary frame", (const char *)up->rx, up->rx_len);
	else if (up->rx_oversize)
		s_skip(up, "frame over --max-frame", (const char *)up->rx, up->rx_len);
	else
		s_on_frame(up, (const char *)up->rx, up->rx_len);
	up->rx_len = 0;
}

/* ---- writing -------------------------------------------------------------------- */

static int s_write_auth(struct upstream *up, struct lws *wsi)
{
	json_t *o = json_pack("{s:s, s:s}", "type", "auth", "api_key", up->key);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	struct out_msg *m = text ? s_msg_new(text, strlen(text), NULL) : NULL;
	int rc = -1;

	if (m && lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) == (int)m->len)
		rc = 0;
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	if (m) {
		explicit_bzero(m->buf, LWS_PRE + m->len);
		free(m);
	}
	json_decref(o);
	up->auth_sent = true;
	return rc;
}

static int s_writeable(struct upstream *up, struct lws *wsi)
{
	unsigned char ping[LWS_PRE + 1];
	struct out_msg *m;

	if (up->close_wanted) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
		return -1;
	}
	if (!up->auth_sent && !up->cfg->legacy_query_token) {
		if (s_write_auth(up, wsi) != 0)
			return -1;
		goto more;
	}
	if (up->ping_due) {
		up->ping_due = false;
		up->stats.pings_sent++;
		if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
		goto more;
	}
	if (!up->authed || !(m = s_queue_pop(up)))
		return 0;
	if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) != (int)m->len) {
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
	if (up->ping_due || (up->authed && up->head))
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- the lws protocol callback ------------------------------------------------------ */

static void s_on_peer_close(struct upstream *up, const unsigned char *in, size_t len)
{
	char reason[128];
	size_t rl;

	if (len < 2)
		return;
	up->close_code = up->last_close_code = (in[0] << 8) | in[1];
	rl = len - 2 < sizeof(reason) - 1 ? len - 2 : sizeof(reason) - 1;
	memcpy(reason, in + 2, rl);
	reason[rl] = '\0';
	if (!up->last_error[0] && rl)
		s_set_error(up, reason);
	log_info("upstream: server closed with %d", up->close_code);
}

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
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		up->last_rx_ms = clock_mono_ms();
		lws_sul_schedule(up->ctx, 0, &up->alive_sul, s_alive_cb,
				 (lws_usec_t)up->cfg->ping_interval_ms * LWS_US_PER_MS);
		if (up->state == UP_STOPPING)
			up->close_wanted = true;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		s_on_receive(up, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		up->last_rx_ms = clock_mono_ms();
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return s_writeable(up, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		s_on_peer_close(up, in, len);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
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

struct upstream *upstream_new(struct lws_context *ctx, struct lws_vhost *vh,
			      const struct config *cfg, const char *key,
			      const struct upstream_cbs *cbs, void *ud, char *err, size_t errlen)
{
	struct upstream *up = calloc(1, sizeof(*up));

	if (!up) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
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
	free(up->rx);
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
