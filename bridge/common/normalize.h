/* normalize.h: upstream frames and inbox items -> the bridge's event form (pure).
 *
 * No I/O and no global state: the unit tests and the fuzzer link it alone. */
#ifndef PP_NORMALIZE_H
#define PP_NORMALIZE_H

#include <jansson.h>
#include <stddef.h>

#define NORM_TYPE_MAX  96  /* "upstream." + a cleaned segment */
#define NORM_TOPIC_MAX 160 /* "contribution.received." + a cleaned segment */
#define NORM_ID_MAX    300 /* "contribution:" + an upstream id (ids longer than 256 are refused) */

enum norm_kind {
	NORM_EVENT,	   /* a pushed event: publish it */
	NORM_AUTH_OK,	   /* {"type":"auth_ok","agent_id":...}: reply_text holds the agent id */
	NORM_ERROR,	   /* {"type":"error","message":...}: reply_text holds the message */
	NORM_PONG,	   /* {"type":"pong"} */
	NORM_CONTRIBUTE_OK /* {"type":"contribute_ok","data":{...}}: data holds the normalized
			      contribution (same shape as a contribution.received's data) */
};

struct norm_event {
	enum norm_kind kind;
	char type[NORM_TYPE_MAX];   /* envelope type: "session.opened", "upstream.foo" */
	char topic[NORM_TOPIC_MAX]; /* full topic: "session.opened.<domain>" */
	char id[NORM_ID_MAX];	    /* "session.opened:<sid>"; "" means JSON null */
	char reply_text[512];	    /* agent id (AUTH_OK) or error message (ERROR), else "" */
	json_t *data;		    /* owned reference (NULL for AUTH_OK/ERROR/PONG) */
	char *data_json;	    /* owned: data as compact JSON text, from the fast path
				       (then data is NULL) */
	size_t data_json_len;
};

/* Parse and normalize one upstream text frame.
 * Returns 0 and fills *out (caller must call norm_event_clear), or -1 with a short
 * reason in err (e.g. "not JSON: ...", "no type", "data.session_id: expected a string")
 * and *out left clear. Frames over max_len bytes are refused without parsing.
 * Rules (bridge-contract.md): known types map to their topic/type/data; missing data
 * fields become null ([] for tools_used); a field of the wrong type refuses the frame;
 * the identity field (session_id for session events, id for contributions) is required;
 * unnamed members of data go to data.extra, members of the frame beside type and data go
 * to data.extra.frame; any other type becomes upstream.<cleaned type>. */
int normalize_frame(const char *text, size_t len, size_t max_len, struct norm_event *out, char *err,
		    size_t errlen);

/* The fast path for the common pushed events (pure, no jansson values): returns 1 with
 * *out filled (kind NORM_EVENT, data_json set, data NULL; release with norm_event_clear),
 * or 0 with *out clear when the frame must go through normalize_frame() instead. It never
 * refuses a frame: whatever it is unsure of is left to normalize_frame(), and whenever it
 * returns 1 its result means the same JSON as normalize_frame()'s. */
int normalize_frame_fast(const char *text, size_t len, size_t max_len, struct norm_event *out);

/* Normalize one item of GET /pulse/inbox's "events" array ({"event_type":T,
 * "event_data":{...},...}) with the same rules; kind is always NORM_EVENT.
 * Does not take ownership of item. Returns 0 or -1 with err. */
int normalize_inbox_item(json_t *item, struct norm_event *out, char *err, size_t errlen);

/* Normalize a contribution object (REST 201 body, contribute_ok's data) into the
 * contribution.received data shape. Returns a new reference, or NULL with err. */
json_t *normalize_contribution(json_t *contribution, char *err, size_t errlen);

/* Release out->data and zero the struct. Safe on a cleared struct. */
void norm_event_clear(struct norm_event *ev);

/* Serialize an envelope with the contract's key order:
 * v, run, seq, id, type, source, received_at, agent_id, data.
 * id and agent_id may be NULL or "" (JSON null). data is borrowed.
 * Returns a NUL-terminated shtext (shtext.h: the caller holds its one reference and
 * releases it with shtext_unref(), not free()) and its length in *len, or NULL on
 * allocation failure. */
char *envelope_dump(const char *run, unsigned long long seq, const char *id, const char *type,
		    const char *source, const char *received_at, const char *agent_id, json_t *data,
		    size_t *len);

/* The same with data given as JSON text (data_len bytes, written as is). */
char *envelope_dump_text(const char *run, unsigned long long seq, const char *id, const char *type,
			 const char *source, const char *received_at, const char *agent_id,
			 const char *data, size_t data_len, size_t *len);

/* Format a UTC time as "2026-11-29T05:43:36.123Z" into out (at least 25 bytes). */
void time_iso8601_ms(long long unix_ms, char out[32]);

#endif
