/*
 * state.c: the devserver's in-memory world (see state.h). Pure data: no sockets, no lws.
 */
#include "state.h"

#include "emit.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t ds_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void ds_iso8601(int64_t ns, char *out, size_t outlen)
{
	time_t secs = (time_t)(ns / 1000000000LL);
	struct tm tm;

	char buf[96];
	size_t n;

	gmtime_r(&secs, &tm);
	/* formatted in a buffer wide enough for any int fields, then cut to outlen */
	n = (size_t)snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, (int)((ns / 1000000LL) % 1000));
	if (!outlen)
		return;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, buf, n);
	out[n] = '\0';
}

void ds_uuid(char *out)
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		/* Why: ids only need to be unique in this process; fall back to rand(). */
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, DS_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

/* Grows a vector to hold one more element of size sz; returns 0 or -1 (out of memory). */
static int s_grow(void **vec, size_t *cap, size_t len, size_t sz)
{
	size_t ncap;
	void *n;

	if (len < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	n = realloc(*vec, ncap * sz);
	if (!n)
		return -1;
	*vec = n;
	*cap = ncap;
	return 0;
}

void state_init(struct ds_state *st)
{
	memset(st, 0, sizeof(*st));
	st->inbox_cap = DS_INBOX_CAP;
}

static void s_entry_free(struct inbox_entry *e)
{
	if (e->kind == INBOX_CONTRIB)
		json_decref(e->u.real.contrib);
	else
		emit_job_unref(e->u.emit.job);
}

static void s_agent_free(struct agent *a)
{
	for (size_t i = 0; i < a->inbox_len; i++)
		s_entry_free(&a->inbox[i]);
	free(a->inbox);
	json_decref(a->opened_by_domain);
	free(a->key);
	free(a);
}

void state_free(struct ds_state *st)
{
	struct agent *a = st->agents, *next;

	for (; a; a = next) {
		next = a->next;
		s_agent_free(a);
	}
	for (size_t i = 0; i < st->sessions_len; i++) {
		struct session *s = &st->sessions[i];

		free(s->topic);
		free(s->domain);
		free(s->outcome);
		json_decref(s->tools_used);
	}
	free(st->sessions);
	free(st->closes);
	for (size_t i = 0; i < st->contribs_len; i++)
		json_decref(st->contribs[i].contrib);
	free(st->contribs);
	memset(st, 0, sizeof(*st));
}

struct agent *state_agent_by_key(struct ds_state *st, const char *key)
{
	for (struct agent *a = st->agents; a; a = a->next)
		if (!strcmp(a->key, key))
			return a;
	return NULL;
}

struct agent *state_agent_by_id(struct ds_state *st, const char *id)
{
	for (struct agent *a = st->agents; a; a = a->next)
		if (!strcmp(a->id, id))
			return a;
	return NULL;
}

size_t state_agent_count(const struct ds_state *st)
{
	size_t n = 0;

	for (const struct agent *a = st->agents; a; a = a->next)
		n++;
	return n;
}

struct agent *state_agent_add(struct ds_state *st, const char *key, const char *id, char *err,
			      size_t errlen)
{
	struct agent *a;

	if (!key || strncmp(key, "plrm_live_", 10) || strlen(key) > 512) {
		snprintf(err, errlen, "api_key must start with plrm_live_");
		return NULL;
	}
	if (id && (!*id || strlen(id) >= sizeof(a->id))) {
		snprintf(err, errlen, "agent_id must be 1..%zu characters", sizeof(a->id) - 1);
		return NULL;
	}
	a = state_agent_by_key(st, key);
	if (a) {
		if (id)
			snprintf(a->id, sizeof(a->id), "%s", id);
		return a;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->key = strdup(key))) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (id)
		snprintf(a->id, sizeof(a->id), "%s", id);
	else
		ds_uuid(a->id);
	a->last_inbox_check_ns = ds_now_ns();
	a->next = st->agents;
	st->agents = a;
	return a;
}

struct session *state_session_open(struct ds_state *st, const char *owner, const char *topic,
				   const char *domain, json_t *tools_used, bool is_private)
{
	struct session *s;

	if (s_grow((void **)&st->sessions, &st->sessions_cap, st->sessions_len, sizeof(*s)))
		return NULL;
	s = &st->sessions[st->sessions_len];
	memset(s, 0, sizeof(*s));
	ds_uuid(s->id);
	memcpy(s->short_id, s->id, 8);
	snprintf(s->owner, sizeof(s->owner), "%s", owner);
	s->topic = strdup(topic);
	s->domain = domain ? strdup(domain) : NULL;
	if (!s->topic || (domain && !s->domain)) {
		free(s->topic);
		free(s->domain);
		return NULL;
	}
	s->tools_used = tools_used ? json_incref(tools_used) : json_array();
	s->is_private = is_private;
	s->opened_ns = ds_now_ns();
	st->sessions_len++;
	return s;
}

struct session *state_session_by_id(struct ds_state *st, const char *id)
{
	for (size_t i = 0; i < st->sessions_len; i++)
		if (!strcmp(st->sessions[i].id, id))
			return &st->sessions[i];
	return NULL;
}

void state_session_close(struct session *s, const char *outcome, bool experience)
{
	s->closed = true;
	s->closed_ns = ds_now_ns();
	free(s->outcome);
	s->outcome = outcome ? strdup(outcome) : NULL;
	if (experience) {
		s->has_experience = true;
		ds_uuid(s->exp_id);
		memcpy(s->exp_short_id, s->exp_id, 8);
	}
}

static json_t *s_str_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

json_t *state_session_opened_data(const struct session *s)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o,s:O}", "session_id", s->id, "short_id", s->short_id,
			 "agent_id", s->owner, "topic", s->topic, "domain",
			 s_str_or_null(s->domain), "tools_used", s->tools_used);
}

json_t *state_session_closed_data(const struct session *s)
{
	json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:o}", "session_id", s->id, "short_id", s->short_id,
			      "agent_id", s->owner, "topic", s->topic, "outcome",
			      s_str_or_null(s->outcome));

	if (d && s->has_experience) {
		json_object_set_new(d, "experience_id", json_string(s->exp_id));
		json_object_set_new(d, "experience_short_id", json_string(s->exp_short_id));
	}
	return d;
}

json_t *state_contribution_new(const char *session_id, const char *contributor, json_t *content,
			       const char *ctype)
{
	char id[DS_ID_LEN + 1], when[40];

	ds_uuid(id);
	ds_iso8601(ds_now_ns(), when, sizeof(when));
	/* "O" takes a new reference to content: the caller keeps its own. */
	return json_pack("{s:s,s:s,s:s,s:O,s:s,s:s}", "id", id, "session_id", session_id,
			 "contributor_agent_id", contributor, "content", content,
			 "contribution_type", ctype, "created_at", when);
}

char *state_event_text(const char *type, json_t *data, size_t *len)
{
	/* "o" steals data, even when json_pack fails. */
	json_t *ev = json_pack("{s:s,s:o}", "type", type, "data", data);
	char *text;

	if (!ev)
		return NULL;
	text = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (text && len)
		*len = strlen(text);
	return text;
}

/* Appends a slot to a's inbox, dropping the oldest entries at the cap. Every entry held is
 * unread, so a drop loses events: st->inbox_dropped counts them, for a test to tell a server
 * that forgot events from a client that missed them. */
static struct inbox_entry *s_inbox_slot(struct ds_state *st, struct agent *a)
{
	if (a->inbox_len >= st->inbox_cap) {
		/* Why a tenth at once: one memmove per cap/10 events, not one per event. */
		size_t drop = st->inbox_cap >= 10 ? st->inbox_cap / 10 : 1;

		for (size_t i = 0; i < drop; i++)
			s_entry_free(&a->inbox[i]);
		memmove(&a->inbox[0], &a->inbox[drop], (a->inbox_len - drop) * sizeof(a->inbox[0]));
		a->inbox_len -= drop;
		st->inbox_dropped += drop;
	}
	if (s_grow((void **)&a->inbox, &a->inbox_cap, a->inbox_len, sizeof(a->inbox[0])))
		return NULL;
	return &a->inbox[a->inbox_len++];
}

void state_inbox_add_contrib(struct ds_state *st, struct agent *a, json_t *contrib)
{
	struct inbox_entry *e = s_inbox_slot(st, a);

	if (!e) {
		json_decref(contrib);
		return;
	}
	e->kind = INBOX_CONTRIB;
	e->created_ns = ds_now_ns();
	ds_uuid(e->u.real.id);
	e->u.real.contrib = contrib;
}

void state_inbox_add_emit(struct ds_state *st, struct agent *a, uint8_t kind, struct emit_job *job,
			  uint64_t seq, int64_t created_ns)
{
	struct inbox_entry *e = s_inbox_slot(st, a);

	if (!e) {
		emit_job_unref(job);
		return;
	}
	e->kind = kind;
	e->created_ns = created_ns;
	e->u.emit.job = job; /* takes the caller's reference */
	e->u.emit.seq = seq;
}

/* One inbox event object: {"id","event_type","event_data","is_read","created_at"}. */
static json_t *s_inbox_event(const char *id, const char *type, json_t *data, int64_t created_ns)
{
	char when[40];

	ds_iso8601(created_ns, when, sizeof(when));
	/* "o" steals data. */
	return json_pack("{s:o,s:s,s:o,s:b,s:s}", "id", s_str_or_null(id), "event_type", type,
			 "event_data", data, "is_read", 0, "created_at", when);
}

static bool s_type_ok(const char *filter, const char *type)
{
	return !filter || !strcmp(filter, type);
}

/* Session events since the check, as the real server rebuilds them (public, not own). */
static void s_inbox_sessions(struct ds_state *st, struct agent *a, json_t *events, int limit,
			     const char *filter, int64_t since)
{
	for (size_t i = 0; i < st->sessions_len && (int)json_array_size(events) < limit; i++) {
		struct session *s = &st->sessions[i];

		if (s->is_private || !strcmp(s->owner, a->id))
			continue;
		if (s->opened_ns > since && s_type_ok(filter, "session_opened"))
			json_array_append_new(events, s_inbox_event(NULL, "session_opened",
								    state_session_opened_data(s),
								    s->opened_ns));
		if (s->closed && s->closed_ns > since && s_type_ok(filter, "session_closed") &&
		    (int)json_array_size(events) < limit)
			json_array_append_new(events, s_inbox_event(NULL, "session_closed",
								    state_session_closed_data(s),
								    s->closed_ns));
	}
}

static const char *s_kind_type(uint8_t kind)
{
	switch (kind) {
	case INBOX_EMIT_OPENED:
		return "session_opened";
	case INBOX_EMIT_CLOSED:
		return "session_closed";
	default:
		return "contribution_received";
	}
}

json_t *state_inbox_get(struct ds_state *st, struct agent *a, int limit, const char *event_type)
{
	json_t *events = json_array();
	size_t unread = 0, w = 0;
	int64_t since = a->last_inbox_check_ns;

	a->last_inbox_check_ns = ds_now_ns();
	s_inbox_sessions(st, a, events, limit, event_type, since);
	for (size_t i = 0; i < a->inbox_len; i++) {
		struct inbox_entry *e = &a->inbox[i];
		bool session_kind = e->kind == INBOX_EMIT_OPENED || e->kind == INBOX_EMIT_CLOSED;
		bool fits = (int)json_array_size(events) < limit &&
			    s_type_ok(event_type, s_kind_type(e->kind));

		if (fits && e->kind == INBOX_CONTRIB) {
			json_array_append_new(
			    events, s_inbox_event(e->u.real.id, "contribution_received",
						  json_incref(e->u.real.contrib), e->created_ns));
		} else if (fits) {
			char id[DS_ID_LEN + 1];

			emit_job_inbox_id(e->u.emit.job, e->u.emit.seq, id);
			json_array_append_new(
			    events, s_inbox_event(session_kind ? NULL : id, s_kind_type(e->kind),
						  emit_job_event_data(e->u.emit.job, e->u.emit.seq,
								      e->created_ns),
						  e->created_ns));
		}
		/* Why: session events live until the next check only (rebuilt, id null). */
		if (session_kind) {
			s_entry_free(e);
			continue;
		}
		unread++;
		a->inbox[w++] = *e;
	}
	a->inbox_len = w;
	return json_pack("{s:b,s:o,s:I}", "has_activity", json_array_size(events) > 0, "events",
			 events, "unread_count", (json_int_t)unread);
}

/* ids is NULL (mark all) or a set: an object whose keys are the event ids to mark. */
static bool s_entry_matches(const struct inbox_entry *e, json_t *ids)
{
	char id[DS_ID_LEN + 1];
	const char *mine = e->u.real.id;

	if (!ids)
		return true;
	if (e->kind != INBOX_CONTRIB) {
		emit_job_inbox_id(e->u.emit.job, e->u.emit.seq, id);
		mine = id;
	}
	return json_object_get(ids, mine) != NULL;
}

size_t state_inbox_mark_read(struct agent *a, json_t *event_ids)
{
	size_t w = 0, n = 0, i;
	json_t *set = NULL, *v;

	/* a hash set of the ids: the inbox holds up to --inbox-cap entries, and comparing each
	 * with each id made one call cost a tenth of a second of this single thread */
	if (event_ids) {
		set = json_object();
		if (!set)
			return 0;
		json_array_foreach(event_ids, i, v)
		{
			if (json_is_string(v))
				json_object_set(set, json_string_value(v), json_true());
		}
	}
	/* Why it stops once every id is found: a client marks what it just read, the oldest
	 * page, and formatting the id of each of the hundreds of thousands of entries after it
	 * made a recovery slower than the events it was catching up with. */
	for (i = 0; i < a->inbox_len && (!set || n < json_object_size(set)); i++) {
		struct inbox_entry *e = &a->inbox[i];

		if (e->kind != INBOX_EMIT_OPENED && e->kind != INBOX_EMIT_CLOSED &&
		    s_entry_matches(e, set)) {
			s_entry_free(e);
			n++;
			continue;
		}
		a->inbox[w++] = *e;
	}
	if (i < a->inbox_len)
		memmove(&a->inbox[w], &a->inbox[i], (a->inbox_len - i) * sizeof(a->inbox[0]));
	a->inbox_len = w + (a->inbox_len - i);
	json_decref(set);
	return n;
}

void state_record_close(struct ds_state *st, const char *agent_id, int code)
{
	struct close_rec *r;

	if (st->closes_len >= DS_CLOSES_CAP)
		return;
	if (s_grow((void **)&st->closes, &st->closes_cap, st->closes_len, sizeof(*r)))
		return;
	r = &st->closes[st->closes_len++];
	snprintf(r->agent_id, sizeof(r->agent_id), "%s", agent_id ? agent_id : "");
	r->code = code;
}

void state_record_contrib(struct ds_state *st, const char *via, json_t *contrib)
{
	struct contrib_rec *r;

	if (st->contribs_len >= DS_CONTRIBS_CAP)
		return;
	if (s_grow((void **)&st->contribs, &st->contribs_cap, st->contribs_len, sizeof(*r)))
		return;
	r = &st->contribs[st->contribs_len++];
	r->via = via;
	r->contrib = json_incref(contrib);
}

bool state_throttle_allow(struct agent *a, const char *domain, int64_t now_ns)
{
	const int64_t minute = 60LL * 1000000000LL, five = 300LL * 1000000000LL;
	const char *dkey = domain ? domain : "";
	json_t *last;

	if (!a->opened_by_domain)
		a->opened_by_domain = json_object();
	last = json_object_get(a->opened_by_domain, dkey);
	if (last && now_ns - json_integer_value(last) < five)
		return false;
	/* The ring holds the last 10 push times: the oldest must be over a minute old. */
	if (a->opened_times[a->opened_idx] && now_ns - a->opened_times[a->opened_idx] < minute)
		return false;
	a->opened_times[a->opened_idx] = now_ns;
	a->opened_idx = (a->opened_idx + 1) % 10;
	json_object_set_new(a->opened_by_domain, dkey, json_integer(now_ns));
	return true;
}
