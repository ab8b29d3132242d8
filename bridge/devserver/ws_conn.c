/*
 * ws_conn.c: the Pulse WebSocket protocol on /api/v1/pulse/ws, server side.
 *
 * Owns: struct conn (created at ESTABLISHED, freed at CLOSED), its outgoing queue (written
 * only in SERVER_WRITEABLE: text, binary, or raw bytes a test framed itself), authentication
 * (first message or ?token=), the 4000 supersede, the auth timeout, protocol PING/PONG
 * keepalive (and the record of every PONG received), message size / shape / rate limits and
 * the WebSocket contribute command.
 */
#include "devserver.h"
#include "emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS_US(ms) ((lws_usec_t)(ms)*LWS_US_PER_MS)

static const char *s_agent_id(const struct conn *c)
{
	return c->agent ? c->agent->id : "";
}

static struct out_msg *s_msg_new(const char *data, size_t len, enum out_kind kind)
{
	struct out_msg *m = malloc(sizeof(*m) + LWS_PRE + len + 1);

	if (!m)
		return NULL;
	m->next = NULL;
	m->due_ns = 0;
	m->len = len;
	m->kind = kind;
	memcpy(m->buf + LWS_PRE, data, len);
	return m;
}

static void s_queue_free(struct out_msg *m)
{
	while (m) {
		struct out_msg *n = m->next;

		free(m);
		m = n;
	}
}

int ws_conn_send(struct conn *c, const char *data, size_t len, enum out_kind kind)
{
	struct out_msg *m;

	if (c->q_bytes + len > DS_OUTQ_MAX)
		return -1; /* a stalled reader: drop rather than grow without bound */
	m = s_msg_new(data, len, kind);
	if (!m)
		return -1;
	if (c->q_tail)
		c->q_tail->next = m;
	else
		c->q_head = m;
	c->q_tail = m;
	c->q_bytes += len;
	lws_callback_on_writable(c->wsi);
	return 0;
}

static void s_sul_delay(lws_sorted_usec_list_t *sul);

/* (Re)arms the timer that releases held-back replies at the head's due time. */
static void s_delay_arm(struct conn *c)
{
	int64_t wait_ns = c->d_head->due_ns - ds_now_ns();

	lws_sul_schedule(c->ds->ctx, 0, &c->sul_delay, s_sul_delay,
			 wait_ns > 0 ? (lws_usec_t)(wait_ns / 1000) : 1);
}

/* Reply to a client message: behind any held-back (delayed) reply, since the upstream answers
 * one message at a time, in order. */
static void s_reply_at(struct conn *c, const char *text, int64_t due_ns)
{
	struct out_msg *m;

	if (!c->d_head && due_ns <= ds_now_ns()) {
		ws_conn_send(c, text, strlen(text), OUT_TEXT);
		return;
	}
	m = s_msg_new(text, strlen(text), OUT_TEXT);
	if (!m)
		return;
	if (c->d_tail && c->d_tail->due_ns > due_ns)
		due_ns = c->d_tail->due_ns;
	m->due_ns = due_ns;
	if (c->d_tail)
		c->d_tail->next = m;
	else
		c->d_head = m;
	c->d_tail = m;
	s_delay_arm(c);
}

static void s_reply(struct conn *c, const char *text)
{
	s_reply_at(c, text, 0);
}

static void s_error(struct conn *c, const char *message)
{
	char buf[160];

	snprintf(buf, sizeof(buf), "{\"type\":\"error\",\"message\":\"%s\"}", message);
	s_reply(c, buf);
}

void ws_conn_close(struct conn *c, int code, const char *reason)
{
	if (c->close_code || c->hard_drop)
		return;
	c->close_code = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason ? reason : "");
	lws_callback_on_writable(c->wsi);
}

void ws_conn_stall(struct conn *c)
{
	c->stalled = true;
	lws_rx_flow_control(c->wsi, 0);
	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	c->ping_due = false;
}

size_t ws_connected_agents(struct ds_server *ds)
{
	size_t n = 0;

	for (struct conn *c = ds->conns; c; c = c->next)
		n += c->authed;
	return n;
}

/* Timers ---------------------------------------------------------------------------- */

static void s_sul_delay(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_delay);
	int64_t now = ds_now_ns();

	while (c->d_head && c->d_head->due_ns <= now) {
		struct out_msg *m = c->d_head;

		c->d_head = m->next;
		if (!c->d_head)
			c->d_tail = NULL;
		ws_conn_send(c, (const char *)m->buf + LWS_PRE, m->len, OUT_TEXT);
		free(m);
	}
	if (c->d_head)
		s_delay_arm(c);
}

static void s_sul_auth(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_auth);

	if (c->authed)
		return;
	c->ds->st.auth_failed_total++;
	s_error(c, "Authentication timed out");
	ws_conn_close(c, 4001, "Authentication timed out");
}

static void s_sul_ping(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_ping);

	if (c->stalled)
		return;
	c->ping_due = true;
	lws_callback_on_writable(c->wsi);
}

static void s_sul_pong(lws_sorted_usec_list_t *sul)
{
	struct conn *c = lws_container_of(sul, struct conn, sul_pong);

	/* A stalled connection cannot send its close frame: the TCP connection just goes. */
	if (c->stalled) {
		state_record_close(&c->ds->st, s_agent_id(c), 1011);
		c->hard_drop = true;
		lws_callback_on_writable(c->wsi);
		return;
	}
	ws_conn_close(c, 1011, "keepalive ping timeout");
}

/* Authentication ------------------------------------------------------------------------ */

/* Closes agent a's older connections with 4000. Returns the time the new connection's auth_ok
 * must wait for: a half-open (stalled) older connection is only noticed when its keepalive
 * times out, as upstream. */
static int64_t s_supersede(struct conn *c, struct agent *a)
{
	int64_t due = 0;

	for (struct conn *o = c->ds->conns; o; o = o->next) {
		if (o == c || o->agent != a || !o->authed)
			continue;
		o->authed = false;
		if (o->stalled) {
			due = ds_now_ns() + (int64_t)c->ds->cfg.pong_timeout_ms * 1000000LL;
			lws_sul_schedule(c->ds->ctx, 0, &o->sul_pong, s_sul_pong,
					 MS_US(c->ds->cfg.pong_timeout_ms));
			continue;
		}
		ws_conn_close(o, 4000, "Connection replaced");
	}
	return due;
}

static void s_auth_ok(struct conn *c, struct agent *a, int64_t not_before)
{
	char buf[200];
	int64_t due;

	lws_sul_cancel(&c->sul_auth);
	c->agent = a;
	due = s_supersede(c, a);
	if (due < not_before)
		due = not_before;
	c->authed = true;
	c->ds->st.auth_ok_total++;
	snprintf(buf, sizeof(buf), "{\"type\":\"auth_ok\",\"agent_id\":\"%s\"}", a->id);
	s_reply_at(c, buf, due);
}

static void s_handle_auth(struct conn *c, json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	const char *key = json_string_value(json_object_get(msg, "api_key"));
	struct agent *a = NULL;

	if (type && !strcmp(type, "auth") && key && !strncmp(key, "plrm_live_", 10))
		a = state_agent_by_key(&c->ds->st, key);
	if (!a) {
		c->ds->st.auth_failed_total++;
		s_error(c, "Authentication failed");
		ws_conn_close(c, 4001, "Authentication failed");
		return;
	}
	s_auth_ok(c, a, 0);
}

/* Messages ------------------------------------------------------------------------------- */

/* True when this message exceeds rate_limit in the rolling 60 s (and records it). */
static bool s_rate_exceeded(struct conn *c)
{
	int64_t now = ds_now_ns();
	size_t cap = (size_t)c->ds->cfg.rate_limit;

	if (!cap)
		return true;
	if (c->rate_n == cap && now - c->rate_ring[c->rate_idx] < 60LL * 1000000000LL)
		return true;
	c->rate_ring[c->rate_idx] = now;
	c->rate_idx = (c->rate_idx + 1) % cap;
	if (c->rate_n < cap)
		c->rate_n++;
	return false;
}

static void s_handle_contribute(struct conn *c, json_t *msg)
{
	struct ds_server *ds = c->ds;
	const char *sid = json_string_value(json_object_get(msg, "session_id"));
	const char *ctype = json_string_value(json_object_get(msg, "contribution_type"));
	json_t *content = json_object_get(msg, "content"), *contrib = NULL;
	char *text;
	int64_t due = 0;

	if (!sid || !*sid || !content || json_is_null(content) ||
	    (json_is_object(content) && !json_object_size(content))) {
		s_error(c, "Missing session_id or content");
		return;
	}
	if (ds->cmode == CM_DROP) {
		state_record_close(&ds->st, s_agent_id(c), 1006);
		c->hard_drop = true;
		lws_callback_on_writable(c->wsi);
		return;
	}
	if (ds->cmode == CM_ERROR || !json_is_object(content) ||
	    contribute_build(ds, sid, c->agent->id, content, ctype ? ctype : "suggestion", true,
			     &contrib) != CE_OK) {
		s_error(c, "Contribution failed");
		return;
	}
	/* Stored, but the owner is NOT notified: upstream only notifies on the REST route. */
	state_record_contrib(&ds->st, "ws", contrib);
	if (ds->cmode == CM_DELAY)
		due = ds_now_ns() + (int64_t)ds->delay_ms * 1000000LL;
	text = state_event_text("contribute_ok", contrib, NULL); /* steals contrib */
	if (text)
		s_reply_at(c, text, due);
	free(text);
}

static void s_handle_message(struct conn *c, const unsigned char *data, size_t len)
{
	json_t *msg = json_loadb((const char *)data, len, 0, NULL);
	const char *type;

	c->ds->st.messages_received++;
	if (!json_is_object(msg)) {
		s_error(c, "Invalid message");
		ws_conn_close(c, 1003, "Invalid message");
		goto out;
	}
	if (!c->authed) {
		s_handle_auth(c, msg);
		goto out;
	}
	if (s_rate_exceeded(c)) {
		s_error(c, "Message rate limit exceeded");
		ws_conn_close(c, 4008, "Rate limit exceeded");
		goto out;
	}
	type = json_string_value(json_object_get(msg, "type"));
	if (type && !strcmp(type, "ping"))
		s_reply(c, "{\"type\":\"pong\"}");
	else if (type && !strcmp(type, "contribute"))
		s_handle_contribute(c, msg);
	/* any other type: ignored silently, as upstream */
out:
	json_decref(msg);
}

/* Reassembles fragments; acts on a whole message. Returns -1 to drop the connection. */
static int s_receive(struct conn *c, struct lws *wsi, const void *in, size_t len)
{
	if (c->close_code || c->hard_drop || c->stalled)
		return 0;
	if (lws_frame_is_binary(wsi)) {
		c->ds->st.messages_received++;
		s_error(c, "Invalid message");
		ws_conn_close(c, 1003, "Invalid message");
		return 0;
	}
	if (c->rx_len + len > DS_MAX_MSG) {
		c->rx_len = 0;
		ws_conn_close(c, 1009, "Message too big");
		return 0;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t ncap = c->rx_len + len + 4096;
		unsigned char *n = realloc(c->rx, ncap);

		if (!n)
			return -1;
		c->rx = n;
		c->rx_cap = ncap;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (!lws_is_final_fragment(wsi))
		return 0;
	len = c->rx_len;
	c->rx_len = 0;
	s_handle_message(c, c->rx, len);
	return 0;
}

/* Pushes -------------------------------------------------------------------------------- */

void ws_push_to_agent(struct ds_server *ds, const char *agent_id, const char *type, json_t *data)
{
	size_t len;
	char *text = state_event_text(type, data, &len); /* steals data */

	if (!text)
		return;
	for (struct conn *c = ds->conns; c; c = c->next)
		if (c->authed && !strcmp(c->agent->id, agent_id))
			ws_conn_send(c, text, len, OUT_TEXT);
	free(text);
}

void ws_broadcast_session(struct ds_server *ds, const struct session *s, bool opened)
{
	json_t *data = opened ? state_session_opened_data(s) : state_session_closed_data(s);
	size_t len;
	char *text = state_event_text(opened ? "session_opened" : "session_closed", data, &len);
	int64_t now = ds_now_ns();

	if (!text || s->is_private)
		goto out;
	for (struct conn *c = ds->conns; c; c = c->next) {
		if (!c->authed || !strcmp(c->agent->id, s->owner))
			continue;
		if (opened && ds->cfg.throttle && !state_throttle_allow(c->agent, s->domain, now))
			continue;
		ws_conn_send(c, text, len, OUT_TEXT);
	}
out:
	free(text);
}

/* Lifecycle ------------------------------------------------------------------------------ */

static struct conn *s_conn_new(struct ds_server *ds, struct lws *wsi)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->rate_ring = calloc((size_t)ds->cfg.rate_limit + 1, sizeof(int64_t));
	if (!c->rate_ring) {
		free(c);
		return NULL;
	}
	c->ds = ds;
	c->wsi = wsi;
	lws_get_peer_simple(wsi, c->peer, sizeof(c->peer));
	c->next = ds->conns;
	ds->conns = c;
	return c;
}

static void s_conn_free(struct conn *c)
{
	struct conn **pp = &c->ds->conns;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	lws_sul_cancel(&c->sul_auth);
	lws_sul_cancel(&c->sul_ping);
	lws_sul_cancel(&c->sul_pong);
	lws_sul_cancel(&c->sul_delay);
	emit_detach(c);
	s_queue_free(c->q_head);
	s_queue_free(c->d_head);
	free(c->rx);
	free(c->rate_ring);
	free(c->wbuf);
	free(c);
}

static int s_established(struct ds_server *ds, struct lws *wsi, struct ds_pss *pss)
{
	struct conn *c = s_conn_new(ds, wsi);
	struct agent *a = NULL;

	if (!c)
		return -1;
	pss->conn = c;
	ds->st.connects_total++;
	lws_sul_schedule(ds->ctx, 0, &c->sul_ping, s_sul_ping, MS_US(ds->cfg.ping_interval_ms));
	if (pss->has_token) {
		c->legacy_token = true;
		a = state_agent_by_key(&ds->st, pss->token);
		memset(pss->token, 0, sizeof(pss->token));
	}
	if (a) {
		/* Why through the timer: a writable request made inside ESTABLISHED is lost. */
		s_auth_ok(c, a, ds_now_ns() + 1000);
		return 0;
	}
	/* A bad ?token= is not refused at once: the auth message may still come. */
	lws_sul_schedule(ds->ctx, 0, &c->sul_auth, s_sul_auth, MS_US(ds->cfg.auth_timeout_ms));
	return 0;
}

/* Sends the close frame with the pending code and ends the connection. */
static int s_close_now(struct conn *c)
{
	if (c->close_sent)
		return -1; /* lws may call back once more while it sends the close frame */
	c->close_sent = true;
	lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
			 (unsigned char *)c->close_reason, strlen(c->close_reason));
	state_record_close(&c->ds->st, s_agent_id(c), c->close_code);
	c->authed = false;
	return -1;
}

static int s_write_ping(struct conn *c)
{
	unsigned char buf[LWS_PRE + 8];

	/* Why a payload: some stacks are picky about empty control frames; 8 bytes is safe. */
	memcpy(buf + LWS_PRE, "ppdevpng", 8);
	c->ping_due = false;
	if (lws_write(c->wsi, buf + LWS_PRE, 8, LWS_WRITE_PING) < 8)
		return -1;
	c->awaiting_pong = true;
	lws_sul_schedule(c->ds->ctx, 0, &c->sul_pong, s_sul_pong,
			 MS_US(c->ds->cfg.pong_timeout_ms));
	return 0;
}

/* How lws writes a queued message. LWS_WRITE_HTTP: the bytes go out as they are (emit.c's
 * header says why that works on a ws connection). */
static enum lws_write_protocol s_write_protocol(enum out_kind kind)
{
	switch (kind) {
	case OUT_BINARY:
		return LWS_WRITE_BINARY;
	case OUT_RAW:
		return LWS_WRITE_HTTP;
	default:
		return LWS_WRITE_TEXT;
	}
}

static int s_writeable(struct conn *c)
{
	struct lws *wsi = c->wsi;

	if (c->hard_drop)
		return -1; /* no close reason set: lws closes the socket without a close frame */
	if (c->close_code && (c->stalled || !c->q_head))
		return s_close_now(c);
	if (c->stalled)
		return 0;
	if (c->ping_due && s_write_ping(c))
		return -1;
	while (c->q_head && !lws_send_pipe_choked(wsi)) {
		struct out_msg *m = c->q_head;
		int n = lws_write(wsi, m->buf + LWS_PRE, m->len, s_write_protocol(m->kind));

		if (n < (int)m->len)
			return -1;
		c->q_head = m->next;
		if (!c->q_head)
			c->q_tail = NULL;
		c->q_bytes -= m->len;
		free(m);
	}
	if (c->q_head) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (c->close_code) {
		/* Why: let the error frame go out before the close frame. */
		if (lws_send_pipe_choked(wsi)) {
			lws_callback_on_writable(wsi);
			return 0;
		}
		return s_close_now(c);
	}
	if (c->emit)
		return emit_write(c->ds, c);
	return 0;
}

static void s_peer_close(struct conn *c, const unsigned char *in, size_t len)
{
	int code = len >= 2 ? (in[0] << 8) | in[1] : 1005;

	if (!c->close_code)
		state_record_close(&c->ds->st, s_agent_id(c), code);
	c->close_code = c->close_code ? c->close_code : code;
}

/* Every PONG received, ours or not (a test's raw PING is answered by one too). */
static void s_record_pong(struct conn *c, const void *in, size_t len)
{
	struct pong_rec *r = &c->ds->pongs[c->ds->pongs_total++ % DS_PONGS_KEEP];

	snprintf(r->agent_id, sizeof(r->agent_id), "%s", s_agent_id(c));
	r->len = len < sizeof(r->payload) ? len : sizeof(r->payload);
	if (r->len)
		memcpy(r->payload, in, r->len);
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ds_server *ds = lws_context_user(lws_get_context(wsi));
	struct ds_pss *pss = user;
	struct conn *c = pss ? pss->conn : NULL;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		if (pss && http_urlarg(wsi, "token=", pss->token, sizeof(pss->token)))
			pss->has_token = true;
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		return pss ? s_established(ds, wsi, pss) : -1;
	case LWS_CALLBACK_RECEIVE:
		return c ? s_receive(c, wsi, in, len) : -1;
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c)
			s_record_pong(c, in, len);
		if (c && c->awaiting_pong && !c->stalled) {
			c->awaiting_pong = false;
			lws_sul_cancel(&c->sul_pong);
			lws_sul_schedule(ds->ctx, 0, &c->sul_ping, s_sul_ping,
					 MS_US(ds->cfg.ping_interval_ms));
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? s_writeable(c) : 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (c)
			s_peer_close(c, in, len);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c) {
			if (!c->close_code && !c->hard_drop)
				state_record_close(&ds->st, s_agent_id(c), 1006);
			s_conn_free(c);
			pss->conn = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
