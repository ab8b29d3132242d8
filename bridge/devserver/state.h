/*
 * state.h: the devserver's in-memory world, as pure data (no I/O, no lws).
 *
 * Owns: agents (key -> id, inbox, last inbox check), sessions, the record of contributions
 * received over WS/REST, close records and counters. Connections are NOT here (ws_conn.c).
 * Everything is freed by state_free().
 */
#ifndef PP_DEVSERVER_STATE_H
#define PP_DEVSERVER_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DS_ID_LEN	36     /* a UUID-like string, without the NUL */
#define DS_INBOX_CAP	100000 /* per agent, unless --inbox-cap says otherwise */
#define DS_CLOSES_CAP	10000
#define DS_CONTRIBS_CAP 100000

struct emit_job;

/* What an inbox entry holds. Emitted ones are compact: rebuilt from their job and sequence. */
enum inbox_kind {
	INBOX_CONTRIB,	    /* a real contribution_received (json owned by the entry) */
	INBOX_EMIT_CONTRIB, /* an emitted contribution_received */
	INBOX_EMIT_OPENED,  /* an emitted session_opened (id null, dropped after one GET) */
	INBOX_EMIT_CLOSED,  /* an emitted session_closed (id null, dropped after one GET) */
};

struct inbox_entry {
	uint8_t kind;
	int64_t created_ns;
	union {
		struct {
			char id[DS_ID_LEN + 1]; /* the inbox event's own id */
			json_t *contrib;	/* owned: the contribution object */
		} real;
		struct {
			struct emit_job *job; /* holds a reference (emit_job_unref) */
			uint64_t seq;
		} emit;
	} u;
};

struct agent {
	char *key;
	char id[DS_ID_LEN + 1 + 64]; /* ids given by tests may be any short string */
	int64_t last_inbox_check_ns;
	struct inbox_entry *inbox; /* unread entries, oldest first */
	size_t inbox_len, inbox_cap;
	/* --throttle bookkeeping: session_opened pushes per minute and per domain */
	int64_t opened_times[10];
	size_t opened_idx;
	json_t *opened_by_domain; /* owned: {domain: last push ns as integer} */
	struct agent *next;
};

struct session {
	char id[DS_ID_LEN + 1];
	char short_id[9];
	char owner[DS_ID_LEN + 1 + 64];
	char *topic;
	char *domain;	    /* may be NULL */
	json_t *tools_used; /* owned: array of strings */
	bool is_private;
	bool closed;
	char *outcome; /* may be NULL */
	bool has_experience;
	char exp_id[DS_ID_LEN + 1];
	char exp_short_id[9];
	int64_t opened_ns, closed_ns;
};

struct close_rec {
	char agent_id[DS_ID_LEN + 1 + 64]; /* "" when not authenticated */
	int code;
};

struct contrib_rec {
	const char *via; /* "ws" or "rest" (static string) */
	json_t *contrib; /* owned: the contribution as answered */
};

struct ds_state {
	struct agent *agents;
	struct session *sessions;
	size_t sessions_len, sessions_cap;
	struct close_rec *closes;
	size_t closes_len, closes_cap;
	struct contrib_rec *contribs;
	size_t contribs_len, contribs_cap;
	uint64_t connects_total, auth_ok_total, auth_failed_total, messages_received;
	uint64_t emitted;
	size_t inbox_cap;	/* unread entries an agent keeps (DS_INBOX_CAP by default) */
	uint64_t inbox_dropped; /* unread entries dropped at that cap, all agents */
};

/* Time helpers: CLOCK_REALTIME ns; ISO 8601 UTC with milliseconds into out (>= 25 bytes). */
int64_t ds_now_ns(void);
void ds_iso8601(int64_t ns, char *out, size_t outlen);
/* A random UUID v4 string into out (DS_ID_LEN + 1 bytes). */
void ds_uuid(char *out);

void state_init(struct ds_state *st);
void state_free(struct ds_state *st);

/* Agents. agent_add: id NULL = generate; an existing key is updated. NULL on bad key. */
struct agent *state_agent_add(struct ds_state *st, const char *key, const char *id, char *err,
			      size_t errlen);
struct agent *state_agent_by_key(struct ds_state *st, const char *key);
struct agent *state_agent_by_id(struct ds_state *st, const char *id);
size_t state_agent_count(const struct ds_state *st);

/* Sessions. Pointers stay valid until the next state_session_open (the array may move). */
struct session *state_session_open(struct ds_state *st, const char *owner, const char *topic,
				   const char *domain, json_t *tools_used, bool is_private);
struct session *state_session_by_id(struct ds_state *st, const char *id);
void state_session_close(struct session *s, const char *outcome, bool experience);

/* Event payloads (new references, caller owns). */
json_t *state_session_opened_data(const struct session *s);
json_t *state_session_closed_data(const struct session *s);
/* A new contribution object; content is borrowed (copied by reference count). */
json_t *state_contribution_new(const char *session_id, const char *contributor, json_t *content,
			       const char *ctype);

/* {"type":T,"data":data} serialized; steals data. Caller frees the string. */
char *state_event_text(const char *type, json_t *data, size_t *len);

/* Inbox. state_inbox_add_contrib steals contrib. Past st->inbox_cap the oldest unread
 * entries are dropped (and counted in st->inbox_dropped). */
void state_inbox_add_contrib(struct ds_state *st, struct agent *a, json_t *contrib);
void state_inbox_add_emit(struct ds_state *st, struct agent *a, uint8_t kind, struct emit_job *job,
			  uint64_t seq, int64_t created_ns);
/* The inbox answer for GET /pulse/inbox; moves the check forward. New reference. */
json_t *state_inbox_get(struct ds_state *st, struct agent *a, int limit, const char *event_type);
/* Marks (removes) entries; event_ids NULL = all. Returns how many. */
size_t state_inbox_mark_read(struct agent *a, json_t *event_ids);

/* Records. */
void state_record_close(struct ds_state *st, const char *agent_id, int code);
void state_record_contrib(struct ds_state *st, const char *via, json_t *contrib);

/* Throttle check for a session_opened push to agent a (records it when allowed). */
bool state_throttle_allow(struct agent *a, const char *domain, int64_t now_ns);

#endif
