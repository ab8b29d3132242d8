/*
 * control.c: the test-control interface under /_dev/ (docs/devserver.md): agents, sessions
 * (open, close, contribute as another agent), connection faults (close with a code, stall,
 * refuse, frames of any content, hand-made raw bytes), the emitter, the contribute mode, and
 * GET state (with the PONGs received).
 * Every call answers {"ok":true,...} or 4xx {"ok":false,"error":"..."}.
 */
#include "devserver.h"
#include "emit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEV "/_dev/"

static void s_ok(struct http_answer *ans, json_t *extra)
{
	json_t *o = extra ? extra : json_object();

	json_object_set_new(o, "ok", json_true());
	http_answer_json(ans, 200, o); /* steals o */
}

static void s_fail(struct http_answer *ans, int status, const char *error)
{
	http_answer_json(ans, status, json_pack("{s:b,s:s}", "ok", 0, "error", error));
}

/* An optional string member: true when absent or a string (value into *out, else NULL). */
static bool s_opt_str(json_t *body, const char *name, const char **out)
{
	json_t *v = json_object_get(body, name);

	*out = json_string_value(v);
	return !v || json_is_null(v) || json_is_string(v);
}

/* Does connection c match the optional agent filter? */
static bool s_match(const struct conn *c, const char *agent_id, bool authed_only)
{
	if (authed_only && !c->authed)
		return false;
	if (!agent_id)
		return true;
	return c->agent && !strcmp(c->agent->id, agent_id);
}

static void s_agents(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	const char *key = json_string_value(json_object_get(body, "api_key")), *id;
	char err[128];
	struct agent *a;

	if (!s_opt_str(body, "agent_id", &id)) {
		s_fail(ans, 400, "agent_id must be a string");
		return;
	}
	a = state_agent_add(&ds->st, key, id, err, sizeof(err));
	if (!a) {
		s_fail(ans, 400, err);
		return;
	}
	s_ok(ans, json_pack("{s:s}", "agent_id", a->id));
}

static bool s_tools_valid(json_t *tools)
{
	size_t i;
	json_t *v;

	if (!tools || json_is_null(tools))
		return true;
	if (!json_is_array(tools))
		return false;
	json_array_foreach(tools, i, v)
	{
		if (!json_is_string(v))
			return false;
	}
	return true;
}

static void s_session_open(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	const char *owner = json_string_value(json_object_get(body, "owner"));
	const char *topic = json_string_value(json_object_get(body, "topic"));
	const char *domain, *vis;
	json_t *tools = json_object_get(body, "tools_used");
	struct session *s;

	if (!owner || !*owner || strlen(owner) > DS_ID_LEN + 63 || !topic) {
		s_fail(ans, 400, "owner and topic are required strings");
		return;
	}
	if (!s_opt_str(body, "domain", &domain) || !s_opt_str(body, "visibility", &vis) ||
	    !s_tools_valid(tools) || (vis && strcmp(vis, "public") && strcmp(vis, "private"))) {
		s_fail(ans, 400,
		       "domain: string|null, tools_used: [string], "
		       "visibility: public|private");
		return;
	}
	s = state_session_open(&ds->st, owner, topic, domain, json_is_array(tools) ? tools : NULL,
			       vis && !strcmp(vis, "private"));
	if (!s) {
		s_fail(ans, 500, "out of memory");
		return;
	}
	ws_broadcast_session(ds, s, true);
	s_ok(ans, json_pack("{s:s,s:s}", "session_id", s->id, "short_id", s->short_id));
}

static void s_session_close(struct ds_server *ds, const char *sid, json_t *body,
			    struct http_answer *ans)
{
	struct session *s = state_session_by_id(&ds->st, sid);
	const char *outcome;

	if (!s) {
		s_fail(ans, 404, "no such session");
		return;
	}
	if (s->closed) {
		s_fail(ans, 409, "session already closed");
		return;
	}
	if (!s_opt_str(body, "outcome", &outcome)) {
		s_fail(ans, 400, "outcome must be a string or null");
		return;
	}
	state_session_close(s, outcome, json_is_true(json_object_get(body, "experience")));
	ws_broadcast_session(ds, s, false);
	s_ok(ans, json_pack("{s:o}", "session", state_session_closed_data(s)));
}

static void s_session_contribute(struct ds_server *ds, const char *sid, json_t *body,
				 struct http_answer *ans)
{
	const char *who = json_string_value(json_object_get(body, "contributor")), *ctype;
	json_t *contrib = NULL;
	struct session *s;
	struct agent *owner;

	if (!who || !s_opt_str(body, "contribution_type", &ctype)) {
		s_fail(ans, 400, "contributor is a required string");
		return;
	}
	switch (contribute_build(ds, sid, who, json_object_get(body, "content"),
				 ctype ? ctype : "suggestion", false, &contrib)) {
	case CE_OK:
		break;
	case CE_NOT_FOUND:
		s_fail(ans, 404, "no such session");
		return;
	case CE_TYPE:
		s_fail(ans, 400, "contribution_type must be suggestion, warning or reference");
		return;
	default:
		s_fail(ans, 400, "content must be a JSON object");
		return;
	}
	s = state_session_by_id(&ds->st, sid);
	ws_push_to_agent(ds, s->owner, "contribution_received", json_incref(contrib));
	owner = state_agent_by_id(&ds->st, s->owner);
	if (owner)
		state_inbox_add_contrib(&ds->st, owner, json_incref(contrib));
	s_ok(ans, json_pack("{s:o}", "contribution", contrib)); /* steals contrib */
}

static void s_close(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	json_t *code = json_object_get(body, "code");
	const char *agent, *reason;
	size_t n = 0;

	if (!json_is_integer(code) || json_integer_value(code) < 1000 ||
	    json_integer_value(code) > 4999 || !s_opt_str(body, "agent_id", &agent) ||
	    !s_opt_str(body, "reason", &reason)) {
		s_fail(ans, 400, "code (1000..4999) required; agent_id, reason: strings");
		return;
	}
	for (struct conn *c = ds->conns; c; c = c->next) {
		if (!s_match(c, agent, false))
			continue;
		ws_conn_close(c, (int)json_integer_value(code), reason);
		n++;
	}
	s_ok(ans, json_pack("{s:I}", "count", (json_int_t)n));
}

static void s_stall(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	const char *agent;
	size_t n = 0;

	if (!s_opt_str(body, "agent_id", &agent)) {
		s_fail(ans, 400, "agent_id must be a string");
		return;
	}
	for (struct conn *c = ds->conns; c; c = c->next) {
		if (!s_match(c, agent, false) || c->stalled)
			continue;
		ws_conn_stall(c);
		n++;
	}
	s_ok(ans, json_pack("{s:I}", "count", (json_int_t)n));
}

static void s_refuse(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	json_t *ms = json_object_get(body, "ms");

	if (!json_is_integer(ms) || json_integer_value(ms) < 0) {
		s_fail(ans, 400, "ms must be an integer >= 0");
		return;
	}
	ds->refuse_until_ns =
	    json_integer_value(ms) ? ds_now_ns() + json_integer_value(ms) * 1000000LL : 0;
	s_ok(ans, NULL);
}

static int s_hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The bytes of the n hex digits hex (member name) into a new buffer *out; returns their
 * count or -1 (err set). */
static long s_hex_decode(const char *name, const char *hex, size_t n, char **out, char *err,
			 size_t errlen)
{
	if (n % 2) {
		snprintf(err, errlen, "%s must have an even number of hex digits", name);
		return -1;
	}
	*out = malloc(n / 2 + 1);
	if (!*out) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n / 2; i++) {
		int hi = s_hexval(hex[2 * i]), lo = s_hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "%s holds a non-hex character at offset %zu", name,
				 hi < 0 ? 2 * i : 2 * i + 1);
			return -1;
		}
		(*out)[i] = (char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

/* What /_dev/send asks for: exactly one of text, binary_hex (a binary frame of those bytes),
 * raw_hex (the bytes as they are, no framing: a test's hand-made frames) or size (a text
 * frame of filler JSON). The bytes are malloc'd into *out, their kind into *kind. Returns
 * their length or -1 (err set). */
static long s_send_payload(json_t *body, char **out, enum out_kind *kind, char *err, size_t errlen)
{
	static const char *const names[] = {"text", "binary_hex", "raw_hex", "size"};
	const char *usage = "exactly one of text, binary_hex, raw_hex (strings), size "
			    "(32..67108864) is required";
	json_t *v = NULL;
	const char *name = NULL;
	long len;
	size_t n;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_t *m = json_object_get(body, names[i]);

		if (!m)
			continue;
		if (v) {
			snprintf(err, errlen, "%s", usage);
			return -1;
		}
		v = m;
		name = names[i];
	}
	if (!v) {
		snprintf(err, errlen, "%s", usage);
		return -1;
	}
	if (!strcmp(name, "size")) {
		if (!json_is_integer(v) || json_integer_value(v) < 32 ||
		    json_integer_value(v) > 64 * 1024 * 1024) {
			snprintf(err, errlen, "size must be an integer from 32 to 67108864");
			return -1;
		}
		/* {"type":"filler","data":"xxx...x"}: exactly size bytes of valid JSON */
		n = (size_t)json_integer_value(v);
		*out = malloc(n + 1);
		if (!*out) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memset(*out, 'x', n);
		memcpy(*out, "{\"type\":\"filler\",\"data\":\"", 25);
		memcpy(*out + n - 2, "\"}", 2);
		*kind = OUT_TEXT;
		return (long)n;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s must be a string", name);
		return -1;
	}
	if (!strcmp(name, "text")) {
		n = json_string_length(v);
		*out = malloc(n + 1);
		if (!*out) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		memcpy(*out, json_string_value(v), n);
		*kind = OUT_TEXT;
		return (long)n;
	}
	len = s_hex_decode(name, json_string_value(v), json_string_length(v), out, err, errlen);
	if (len == 0 && !strcmp(name, "raw_hex")) {
		snprintf(err, errlen, "raw_hex must hold at least one byte");
		return -1;
	}
	*kind = strcmp(name, "raw_hex") ? OUT_BINARY : OUT_RAW;
	return len;
}

static void s_send(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	const char *agent;
	char *payload = NULL, err[128];
	enum out_kind kind = OUT_TEXT;
	long len;
	size_t n = 0;

	if (!s_opt_str(body, "agent_id", &agent)) {
		s_fail(ans, 400, "agent_id must be a string");
		return;
	}
	len = s_send_payload(body, &payload, &kind, err, sizeof(err));
	if (len < 0) {
		free(payload);
		s_fail(ans, 400, err);
		return;
	}
	for (struct conn *c = ds->conns; c; c = c->next)
		if (s_match(c, agent, true) && !ws_conn_send(c, payload, (size_t)len, kind))
			n++;
	free(payload);
	if (!n) {
		s_fail(ans, 409, "no authenticated connection to send to");
		return;
	}
	s_ok(ans, json_pack("{s:I}", "count", (json_int_t)n));
}

static void s_emit(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	json_t *count = json_object_get(body, "count"), *rate = json_object_get(body, "rate");
	json_t *size = json_object_get(body, "size");
	const char *agent, *type;
	enum emit_type et = EMIT_CONTRIB;
	char err[128];
	size_t n = 0;

	if (!json_is_integer(count) || json_integer_value(count) < 0 ||
	    (rate && !json_is_number(rate)) || (rate && json_number_value(rate) < 0) ||
	    (size && (!json_is_integer(size) || json_integer_value(size) < 0)) ||
	    !s_opt_str(body, "agent_id", &agent) || !s_opt_str(body, "type", &type)) {
		s_fail(ans, 400, "count: integer >= 0, rate: number >= 0, size: integer >= 0");
		return;
	}
	if (type && !strcmp(type, "session_opened"))
		et = EMIT_OPENED;
	else if (type && !strcmp(type, "session_closed"))
		et = EMIT_CLOSED;
	else if (type && strcmp(type, "contribution_received")) {
		s_fail(ans, 400,
		       "type must be contribution_received, session_opened or "
		       "session_closed");
		return;
	}
	for (struct conn *c = ds->conns; c; c = c->next) {
		if (!s_match(c, agent, true))
			continue;
		if (emit_start(ds, c, et, (uint64_t)json_integer_value(count),
			       rate ? json_number_value(rate) : 0,
			       size ? (size_t)json_integer_value(size) : 400, err, sizeof(err))) {
			s_fail(ans, 400, err);
			return;
		}
		n++;
	}
	if (!n) {
		s_fail(ans, 409, "no authenticated connection to emit to");
		return;
	}
	s_ok(ans, json_pack("{s:b,s:I}", "started", 1, "count", (json_int_t)n));
}

static void s_contribute_mode(struct ds_server *ds, json_t *body, struct http_answer *ans)
{
	const char *mode = json_string_value(json_object_get(body, "mode"));
	json_t *delay = json_object_get(body, "delay_ms");
	static const char *const names[] = {"ok", "error", "drop", "delay", "ratelimit"};

	if (delay && (!json_is_integer(delay) || json_integer_value(delay) < 0 ||
		      json_integer_value(delay) > 3600000)) {
		s_fail(ans, 400, "delay_ms must be an integer from 0 to 3600000");
		return;
	}
	for (int i = 0; mode && i < 5; i++) {
		if (strcmp(mode, names[i]))
			continue;
		ds->cmode = (enum contrib_mode)i;
		ds->delay_ms = delay ? (int)json_integer_value(delay) : 1000;
		s_ok(ans, NULL);
		return;
	}
	s_fail(ans, 400, "mode must be ok, error, drop, delay or ratelimit");
}

/* The PONGs received, oldest first: [{"agent_id":A|null,"payload_hex":H}]. */
static json_t *s_pongs(const struct ds_server *ds)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t first = ds->pongs_total > DS_PONGS_KEEP ? ds->pongs_total - DS_PONGS_KEEP : 0;
	json_t *out = json_array();
	char text[2 * sizeof(ds->pongs[0].payload) + 1];

	for (uint64_t i = first; i < ds->pongs_total; i++) {
		const struct pong_rec *r = &ds->pongs[i % DS_PONGS_KEEP];

		for (size_t j = 0; j < r->len; j++) {
			text[2 * j] = hex[r->payload[j] >> 4];
			text[2 * j + 1] = hex[r->payload[j] & 15];
		}
		text[2 * r->len] = '\0';
		json_array_append_new(out, json_pack("{s:s?,s:s}", "agent_id",
						     *r->agent_id ? r->agent_id : NULL,
						     "payload_hex", text));
	}
	return out;
}

static void s_state(struct ds_server *ds, struct http_answer *ans)
{
	json_t *conns = json_array(), *closes = json_array(), *contribs = json_array();
	bool emitting = false;

	for (struct conn *c = ds->conns; c; c = c->next) {
		json_array_append_new(
		    conns, json_pack("{s:o,s:b,s:b,s:b,s:s,s:b}", "agent_id",
				     c->agent ? json_string(c->agent->id) : json_null(), "authed",
				     c->authed, "legacy_token", c->legacy_token, "stalled",
				     c->stalled, "peer", c->peer, "emitting", emit_active(c)));
		emitting |= emit_active(c);
	}
	for (size_t i = 0; i < ds->st.closes_len; i++)
		json_array_append_new(
		    closes, json_pack("{s:s?,s:i}", "agent_id",
				      *ds->st.closes[i].agent_id ? ds->st.closes[i].agent_id : NULL,
				      "code", ds->st.closes[i].code));
	for (size_t i = 0; i < ds->st.contribs_len; i++) {
		json_t *c = json_deep_copy(ds->st.contribs[i].contrib);

		json_object_set_new(c, "via", json_string(ds->st.contribs[i].via));
		json_array_append_new(contribs, c);
	}
	s_ok(ans,
	     json_pack("{s:o,s:I,s:I,s:I,s:o,s:I,s:o,s:b,s:I,s:I,s:o,s:I}", "connections", conns,
		       "connects_total", (json_int_t)ds->st.connects_total, "auth_ok_total",
		       (json_int_t)ds->st.auth_ok_total, "auth_failed_total",
		       (json_int_t)ds->st.auth_failed_total, "closes", closes, "messages_received",
		       (json_int_t)ds->st.messages_received, "contributions", contribs, "emitting",
		       emitting, "emitted", (json_int_t)ds->st.emitted, "pongs_received",
		       (json_int_t)ds->pongs_total, "pongs", s_pongs(ds), "inbox_dropped",
		       (json_int_t)ds->st.inbox_dropped));
}

/* /_dev/sessions/{S}/{verb}: S into sid and the verb, or false. */
static bool s_session_path(const char *p, char *sid, size_t sidlen, const char **verb)
{
	const char *slash;

	if (strncmp(p, DEV "sessions/", strlen(DEV "sessions/")))
		return false;
	p += strlen(DEV "sessions/");
	slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= sidlen)
		return false;
	memcpy(sid, p, (size_t)(slash - p));
	sid[slash - p] = '\0';
	*verb = slash + 1;
	return true;
}

/* Routes a POST whose body parsed as an object. */
static void s_post(struct ds_server *ds, const char *path, json_t *body, struct http_answer *ans)
{
	char sid[128];
	const char *verb;

	if (!strcmp(path, DEV "agents"))
		s_agents(ds, body, ans);
	else if (!strcmp(path, DEV "sessions"))
		s_session_open(ds, body, ans);
	else if (s_session_path(path, sid, sizeof(sid), &verb) && !strcmp(verb, "close"))
		s_session_close(ds, sid, body, ans);
	else if (s_session_path(path, sid, sizeof(sid), &verb) && !strcmp(verb, "contribute"))
		s_session_contribute(ds, sid, body, ans);
	else if (!strcmp(path, DEV "close"))
		s_close(ds, body, ans);
	else if (!strcmp(path, DEV "stall"))
		s_stall(ds, body, ans);
	else if (!strcmp(path, DEV "refuse"))
		s_refuse(ds, body, ans);
	else if (!strcmp(path, DEV "send"))
		s_send(ds, body, ans);
	else if (!strcmp(path, DEV "emit"))
		s_emit(ds, body, ans);
	else if (!strcmp(path, DEV "contribute-mode"))
		s_contribute_mode(ds, body, ans);
	else
		s_fail(ans, 404, "no such control call");
}

bool control_handle(struct ds_server *ds, const struct http_in *in, struct http_answer *ans)
{
	json_t *body;

	if (strncmp(in->path, DEV, strlen(DEV)))
		return false;
	if (!in->is_post) {
		if (!strcmp(in->path, DEV "state"))
			s_state(ds, ans);
		else
			s_fail(ans, 404, "no such control call (GET)");
		return true;
	}
	body = in->body_len ? json_loadb(in->body, in->body_len, 0, NULL) : json_object();
	if (!json_is_object(body))
		s_fail(ans, 400, "the body must be a JSON object");
	else
		s_post(ds, in->path, body, ans);
	json_decref(body);
	return true;
}
