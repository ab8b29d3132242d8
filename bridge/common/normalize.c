/* normalize.c: upstream frames and inbox items -> the bridge's event form (pure).
 *
 * One parse per frame (json_loadb, which rejects invalid UTF-8 and bounds nesting depth);
 * the output `data` object shares the parsed values by reference instead of copying them.
 * Each known event type is described by a schema row (output names in contract order,
 * the field types, the identity field, the topic field); everything else is generic. */
#include "normalize.h"
#include "jscan.h"
#include "topic.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NORM_IDENTITY_MAX 256 /* longest upstream id accepted (ids are UUIDs today) */

enum ftype {
	F_STR,	    /* a string or null */
	F_STR_LIST, /* an array of strings; null or missing -> [] */
	F_OBJ	    /* an object or null */
};

struct field {
	const char *out; /* name in the envelope's data */
	const char *in;	 /* name in the upstream data */
	enum ftype type;
};

#define SCHEMA_FIELDS_MAX 8

struct schema {
	const char *upstream; /* upstream "type" / inbox "event_type" */
	const char *type;     /* envelope type and topic prefix */
	const char *id_prefix;
	const char *identity;	 /* input field that identifies the event (required) */
	const char *topic_field; /* input field whose cleaned value ends the topic */
	struct field fields[SCHEMA_FIELDS_MAX];
};

static const struct schema s_contribution_schema = {
    "contribution_received",
    "contribution.received",
    "contribution:",
    "id",
    "session_id",
    {{"contribution_id", "id", F_STR},
     {"session_id", "session_id", F_STR},
     {"contributor_agent_id", "contributor_agent_id", F_STR},
     {"contribution_type", "contribution_type", F_STR},
     {"content", "content", F_OBJ},
     {"created_at", "created_at", F_STR},
     {NULL, NULL, F_STR}},
};

static const struct schema s_schemas[] = {
    {"session_opened",
     "session.opened",
     "session.opened:",
     "session_id",
     "domain",
     {{"session_id", "session_id", F_STR},
      {"short_id", "short_id", F_STR},
      {"agent_id", "agent_id", F_STR},
      {"topic", "topic", F_STR},
      {"domain", "domain", F_STR},
      {"tools_used", "tools_used", F_STR_LIST},
      {NULL, NULL, F_STR}}},
    {"session_closed",
     "session.closed",
     "session.closed:",
     "session_id",
     "outcome",
     {{"session_id", "session_id", F_STR},
      {"short_id", "short_id", F_STR},
      {"agent_id", "agent_id", F_STR},
      {"topic", "topic", F_STR},
      {"outcome", "outcome", F_STR},
      {"experience_id", "experience_id", F_STR},
      {"experience_short_id", "experience_short_id", F_STR},
      {NULL, NULL, F_STR}}},
};

void norm_event_clear(struct norm_event *ev)
{
	if (ev == NULL)
		return;
	json_decref(ev->data);
	free(ev->data_json);
	memset(ev, 0, sizeof *ev);
}

static const struct schema *s_schema_for(const char *type)
{
	if (strcmp(type, s_contribution_schema.upstream) == 0)
		return &s_contribution_schema;
	for (size_t i = 0; i < sizeof s_schemas / sizeof s_schemas[0]; i++)
		if (strcmp(type, s_schemas[i].upstream) == 0)
			return &s_schemas[i];
	return NULL;
}

static bool s_is_named(const struct schema *sc, const char *key)
{
	for (const struct field *f = sc->fields; f->out != NULL; f++)
		if (strcmp(key, f->in) == 0)
			return true;
	return false;
}

/* Check one field's value; NULL v means missing. Fills err with "<path><name>: ...". */
static int s_check(const struct field *f, json_t *v, const char *path, char *err, size_t errlen)
{
	if (v == NULL || json_is_null(v))
		return 0;
	switch (f->type) {
	case F_STR:
		if (json_is_string(v))
			return 0;
		snprintf(err, errlen, "%s%s: expected a string", path, f->in);
		return -1;
	case F_OBJ:
		if (json_is_object(v))
			return 0;
		snprintf(err, errlen, "%s%s: expected an object", path, f->in);
		return -1;
	case F_STR_LIST:
		if (!json_is_array(v)) {
			snprintf(err, errlen, "%s%s: expected an array of strings", path, f->in);
			return -1;
		}
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (!json_is_string(json_array_get(v, i))) {
				snprintf(err, errlen, "%s%s[%zu]: expected a string", path, f->in,
					 i);
				return -1;
			}
		}
		return 0;
	}
	return -1;
}

/* The identity field: a non-empty string of at most NORM_IDENTITY_MAX bytes, no NUL. */
static int s_identity(json_t *src, const char *name, const char *path, const char **out, char *err,
		      size_t errlen)
{
	json_t *v = json_object_get(src, name);
	if (v == NULL || json_is_null(v)) {
		snprintf(err, errlen, "%s%s: missing", path, name);
		return -1;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s%s: expected a string", path, name);
		return -1;
	}
	size_t len = json_string_length(v);
	if (len == 0 || len > NORM_IDENTITY_MAX || strlen(json_string_value(v)) != len) {
		snprintf(err, errlen, "%s%s: expected 1..%d bytes without NUL", path, name,
			 NORM_IDENTITY_MAX);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* Add key -> value to *extra (created on first use). value is borrowed. */
static int s_extra_add(json_t **extra, const char *key, json_t *value)
{
	if (*extra == NULL && (*extra = json_object()) == NULL)
		return -1;
	return json_object_set(*extra, key, value);
}

/* Build the schema's data object from src (borrowed), with unnamed members under extra
 * and frame_extra (owned, may be NULL; always consumed) under extra.frame.
 * Returns a new reference, or NULL with err. */
static json_t *s_build(const struct schema *sc, json_t *src, const char *path, json_t *frame_extra,
		       char *err, size_t errlen)
{
	json_t *data = NULL, *extra = NULL;
	const char *key;
	json_t *v;

	for (const struct field *f = sc->fields; f->out != NULL; f++)
		if (s_check(f, json_object_get(src, f->in), path, err, errlen) != 0)
			goto fail;
	if ((data = json_object()) == NULL)
		goto oom;
	for (const struct field *f = sc->fields; f->out != NULL; f++) {
		v = json_object_get(src, f->in);
		int rc;
		if (v != NULL && !json_is_null(v))
			rc = json_object_set(data, f->out, v); /* shares v */
		else if (f->type == F_STR_LIST)
			rc = json_object_set_new(data, f->out, json_array()); /* steals */
		else
			rc = json_object_set_new(data, f->out, json_null());
		if (rc != 0)
			goto oom;
	}
	json_object_foreach(src, key, v)
	{
		if (!s_is_named(sc, key) && s_extra_add(&extra, key, v) != 0)
			goto oom;
	}
	if (frame_extra != NULL) {
		if (extra == NULL && (extra = json_object()) == NULL)
			goto oom;
		if (json_object_set_new(extra, "frame", frame_extra) != 0) {
			frame_extra = NULL; /* set_new consumed it even on failure */
			goto oom;
		}
		frame_extra = NULL;
	}
	if (extra != NULL) {
		int rc = json_object_set_new(data, "extra", extra); /* steals extra */
		extra = NULL;
		if (rc != 0)
			goto oom;
	}
	return data;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	json_decref(frame_extra);
	json_decref(extra);
	json_decref(data);
	return NULL;
}

/* Members of frame other than the two named ones, as a new object; NULL when none
 * (or on allocation failure, which only loses the extras' wrapper: reported by *oom). */
static json_t *s_frame_rest(json_t *frame, const char *type_key, const char *data_key, bool *oom)
{
	json_t *rest = NULL;
	const char *key;
	json_t *v;
	json_object_foreach(frame, key, v)
	{
		if (strcmp(key, type_key) == 0 || strcmp(key, data_key) == 0)
			continue;
		if (s_extra_add(&rest, key, v) != 0) {
			*oom = true;
			break;
		}
	}
	return rest;
}

/* Normalize an event whose type string is type (from frame[type_key]) and whose payload is
 * frame[data_key]. frame is borrowed. */
static int s_event(json_t *frame, const char *type_key, const char *data_key,
		   struct norm_event *out, char *err, size_t errlen)
{
	const char *type = json_string_value(json_object_get(frame, type_key));
	size_t type_len = json_string_length(json_object_get(frame, type_key));
	json_t *src = json_object_get(frame, data_key);
	const struct schema *sc = s_schema_for(type);
	char seg[TOPIC_SEGMENT_MAX + 1];
	bool oom = false;

	out->kind = NORM_EVENT;
	if (sc == NULL) {
		/* Unknown type: pass it through so new server features are not lost. */
		topic_segment(type, type_len, seg);
		snprintf(out->type, sizeof out->type, "upstream.%s", seg);
		memcpy(out->topic, out->type, strlen(out->type) + 1);
		if (src != NULL) {
			out->data = json_incref(src);
		} else {
			out->data = s_frame_rest(frame, type_key, data_key, &oom);
			if (out->data == NULL && !oom)
				out->data = json_object();
			if (out->data == NULL || oom)
				goto oom;
		}
		return 0;
	}
	if (!json_is_object(src)) {
		snprintf(err, errlen, "%s: expected an object", data_key);
		return -1;
	}
	char path[32];
	snprintf(path, sizeof path, "%s.", data_key);
	const char *ident;
	if (s_identity(src, sc->identity, path, &ident, err, errlen) != 0)
		return -1;
	json_t *frame_extra = s_frame_rest(frame, type_key, data_key, &oom);
	if (oom) {
		json_decref(frame_extra);
		goto oom;
	}
	out->data = s_build(sc, src, path, frame_extra, err, errlen);
	if (out->data == NULL)
		return -1;
	json_t *tv = json_object_get(src, sc->topic_field);
	topic_segment(json_string_value(tv), json_string_length(tv), seg);
	snprintf(out->type, sizeof out->type, "%s", sc->type);
	snprintf(out->topic, sizeof out->topic, "%s.%s", sc->type, seg);
	snprintf(out->id, sizeof out->id, "%s%s", sc->id_prefix, ident);
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	norm_event_clear(out);
	return -1;
}

/* Copy a reply's required string member into reply_text. */
static int s_reply_text(json_t *frame, const char *name, struct norm_event *out, char *err,
			size_t errlen)
{
	json_t *v = json_object_get(frame, name);
	if (!json_is_string(v)) {
		snprintf(err, errlen, "%s: %s", name, v == NULL ? "missing" : "expected a string");
		return -1;
	}
	size_t len = json_string_length(v);
	if (len >= sizeof out->reply_text || strlen(json_string_value(v)) != len) {
		snprintf(err, errlen, "%s: expected at most %zu bytes without NUL", name,
			 sizeof out->reply_text - 1);
		return -1;
	}
	memcpy(out->reply_text, json_string_value(v), len + 1);
	return 0;
}

/* A contribution object (borrowed) -> contribution.received's data; path prefixes the
 * field names in err ("data." inside a frame). */
static json_t *s_contribution(json_t *c, const char *path, char *err, size_t errlen)
{
	const char *ident;
	if (!json_is_object(c)) {
		/* Name the member without its trailing dot: "data: expected an object". */
		size_t n = strlen(path);
		if (n == 0)
			snprintf(err, errlen, "contribution: expected an object");
		else
			snprintf(err, errlen, "%.*s: expected an object", (int)(n - 1), path);
		return NULL;
	}
	if (s_identity(c, "id", path, &ident, err, errlen) != 0)
		return NULL;
	return s_build(&s_contribution_schema, c, path, NULL, err, errlen);
}

json_t *normalize_contribution(json_t *contribution, char *err, size_t errlen)
{
	return s_contribution(contribution, "", err, errlen);
}

/* Dispatch a parsed frame (borrowed). */
static int s_frame(json_t *root, struct norm_event *out, char *err, size_t errlen)
{
	json_t *tv = json_object_get(root, "type");
	if (tv == NULL) {
		snprintf(err, errlen, "no type");
		return -1;
	}
	if (!json_is_string(tv)) {
		snprintf(err, errlen, "type: expected a string");
		return -1;
	}
	const char *type = json_string_value(tv);
	if (strlen(type) != json_string_length(tv)) {
		snprintf(err, errlen, "type: contains a NUL character");
		return -1;
	}
	if (strcmp(type, "auth_ok") == 0) {
		out->kind = NORM_AUTH_OK;
		return s_reply_text(root, "agent_id", out, err, errlen);
	}
	if (strcmp(type, "error") == 0) {
		out->kind = NORM_ERROR;
		return s_reply_text(root, "message", out, err, errlen);
	}
	if (strcmp(type, "pong") == 0) {
		out->kind = NORM_PONG;
		return 0;
	}
	if (strcmp(type, "contribute_ok") == 0) {
		out->kind = NORM_CONTRIBUTE_OK;
		out->data = s_contribution(json_object_get(root, "data"), "data.", err, errlen);
		return out->data == NULL ? -1 : 0;
	}
	return s_event(root, "type", "data", out, err, errlen);
}

int normalize_frame(const char *text, size_t len, size_t max_len, struct norm_event *out, char *err,
		    size_t errlen)
{
	json_error_t jerr;
	memset(out, 0, sizeof *out);
	if (len > max_len) {
		snprintf(err, errlen, "frame of %zu bytes is over the limit of %zu", len, max_len);
		return -1;
	}
	/* JSON_DECODE_ANY: a scalar gets "not a JSON object" rather than a parse error.
	 * JSON_ALLOW_NUL: "\u0000" inside content is legal JSON and is kept; the fields the
	 * bridge itself uses as C strings are checked for NUL where they are read. */
	json_t *root = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "not JSON: %s (at byte %d)", jerr.text, jerr.position);
		return -1;
	}
	int rc;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "not a JSON object");
		rc = -1;
	} else {
		rc = s_frame(root, out, err, errlen);
	}
	json_decref(root); /* out->data holds its own references to what it shares */
	if (rc != 0)
		norm_event_clear(out);
	return rc;
}

int normalize_inbox_item(json_t *item, struct norm_event *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (!json_is_object(item)) {
		snprintf(err, errlen, "inbox item: expected an object");
		return -1;
	}
	json_t *tv = json_object_get(item, "event_type");
	if (!json_is_string(tv)) {
		snprintf(err, errlen, "event_type: %s",
			 tv == NULL ? "missing" : "expected a string");
		return -1;
	}
	if (strlen(json_string_value(tv)) != json_string_length(tv)) {
		snprintf(err, errlen, "event_type: contains a NUL character");
		return -1;
	}
	int rc = s_event(item, "event_type", "event_data", out, err, errlen);
	if (rc != 0)
		norm_event_clear(out);
	return rc;
}

/* ---- the fast path ---------------------------------------------------------------------
 *
 * The three pushed event types in their usual shape, {"type":T,"data":{...}}, are
 * normalized from token spans (jscan.c) and written out as text, without building jansson
 * values: most of the cost of an event was parsing and re-serializing it. Anything unusual
 * (other frame members, escapes in the fields the bridge reads, duplicate keys, a field of
 * the wrong type, a missing identity, a \u escape, deep nesting, many tokens) returns 0 and
 * the frame goes through normalize_frame(), which is the reference: both must agree. */

#define FAST_MAX_TOKENS 2048
#define FAST_MAX_DEPTH	64
#define FAST_MAX_EXTRA	16

struct fbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void s_fput(struct fbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 512;
		char *np;

		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Copy a token's text, dropping white space outside strings (an envelope is one line). */
static void s_fput_compact(struct fbuf *b, const char *s, const struct jtok *t)
{
	const char *p = s + t->start, *end = s + t->end, *run = p;
	bool in_str = false;

	if ((t->type != JT_OBJ && t->type != JT_ARR) || !(t->flags & JT_F_SPACE)) {
		s_fput(b, p, t->end - t->start); /* nothing to drop: one copy */
		return;
	}
	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = false;
		} else if (*p == '"') {
			in_str = true;
		} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			s_fput(b, run, (size_t)(p - run));
			run = p + 1;
		}
	}
	s_fput(b, run, (size_t)(end - run));
}

static bool s_tok_is(const char *s, const struct jtok *t, const char *word)
{
	size_t n;

	if (t->type != JT_STR || (t->flags & JT_F_ESCAPE) || s[t->start + 1] != word[0])
		return false; /* most names differ in their first byte: no strlen for those */
	n = strlen(word);
	return t->end - t->start == n + 2 && memcmp(s + t->start + 1, word, n) == 0;
}

static bool s_tok_same_key(const char *s, const struct jtok *a, const struct jtok *b)
{
	return a->end - a->start == b->end - b->start &&
	       memcmp(s + a->start, s + b->start, a->end - a->start) == 0;
}

static bool s_fast_type_ok(const struct field *f, const struct jtok *toks, uint32_t v)
{
	const struct jtok *t = &toks[v];

	if (t->type == JT_NULL)
		return true;
	switch (f->type) {
	case F_STR:
		return t->type == JT_STR;
	case F_OBJ:
		return t->type == JT_OBJ;
	case F_STR_LIST:
		if (t->type != JT_ARR)
			return false;
		for (uint32_t i = v + 1; i < t->next; i = toks[i].next)
			if (toks[i].type != JT_STR)
				return false;
		return true;
	}
	return false;
}

/* Value token indexes of data's members by schema field (0 = missing), and the extras. */
struct fast_members {
	uint32_t field[SCHEMA_FIELDS_MAX + 1]; /* + 1: s_field_index's "none" */
	uint32_t extra_key[FAST_MAX_EXTRA];
	size_t n_extra;
};

static int s_fast_members(const char *s, const struct jtok *toks, uint32_t data,
			  const struct schema *sc, struct fast_members *m)
{
	memset(m, 0, sizeof(*m));
	for (uint32_t k = data + 1; k < toks[data].next; k = toks[k + 1].next) {
		const struct field *f;
		size_t fi = 0;

		if (toks[k].flags & JT_F_ESCAPE)
			return -1;
		for (f = sc->fields; f->out != NULL; f++, fi++)
			if (s_tok_is(s, &toks[k], f->in))
				break;
		if (f->out != NULL) {
			if (m->field[fi] || !s_fast_type_ok(f, toks, k + 1))
				return -1; /* a duplicate or a wrong type: the slow path decides */
			m->field[fi] = k + 1;
			continue;
		}
		if (m->n_extra == FAST_MAX_EXTRA)
			return -1;
		for (size_t i = 0; i < m->n_extra; i++)
			if (s_tok_same_key(s, &toks[m->extra_key[i]], &toks[k]))
				return -1;
		m->extra_key[m->n_extra++] = k;
	}
	return 0;
}

#define FAST_MAX_MEMBERS 32

/* True when every object in tokens [from, to) has distinct member names without escapes.
 * jansson keeps the last of duplicate names; a verbatim copy would keep both, so such
 * frames (and names whose escapes could hide a duplicate) are left to the slow path. */
static bool s_fast_names_unique(const char *s, const struct jtok *toks, uint32_t from, uint32_t to)
{
	for (uint32_t t = from; t < to; t++) {
		uint32_t keys[FAST_MAX_MEMBERS], n = 0;

		if (toks[t].type != JT_OBJ || toks[t].count < 1)
			continue;
		if (toks[t].count > FAST_MAX_MEMBERS)
			return false;
		for (uint32_t k = t + 1; k < toks[t].next; k = toks[k + 1].next) {
			if (toks[k].flags & JT_F_ESCAPE)
				return false;
			for (uint32_t i = 0; i < n; i++)
				if (s_tok_same_key(s, &toks[keys[i]], &toks[k]))
					return false;
			keys[n++] = k;
		}
	}
	return true;
}

/* The raw text of a string token without its quotes (only for tokens without escapes). */
static const char *s_inner(const char *s, const struct jtok *t, size_t *len)
{
	*len = t->end - t->start - 2;
	return s + t->start + 1;
}

/* in_len: the frame's length. The data is the frame's members (compacted) plus the
 * schema's names for absent ones, so that plus room for the names is one allocation. */
static char *s_fast_data(const char *s, size_t in_len, const struct jtok *toks,
			 const struct schema *sc, const struct fast_members *m, size_t *len)
{
	struct fbuf b = {0};
	size_t fi = 0;

	b.p = malloc(in_len + 256);
	b.cap = b.p ? in_len + 256 : 0;
	s_fput(&b, "{", 1);
	for (const struct field *f = sc->fields; f->out != NULL; f++, fi++) {
		uint32_t v = m->field[fi];

		if (fi)
			s_fput(&b, ",", 1);
		s_fput(&b, "\"", 1);
		s_fput(&b, f->out, strlen(f->out));
		s_fput(&b, "\":", 2);
		if (v && toks[v].type != JT_NULL)
			s_fput_compact(&b, s, &toks[v]);
		else if (f->type == F_STR_LIST)
			s_fput(&b, "[]", 2);
		else
			s_fput(&b, "null", 4);
	}
	for (size_t i = 0; i < m->n_extra; i++) {
		const struct jtok *k = &toks[m->extra_key[i]];

		s_fput(&b, i ? "," : ",\"extra\":{", i ? 1 : 10);
		s_fput(&b, s + k->start, k->end - k->start);
		s_fput(&b, ":", 1);
		s_fput_compact(&b, s, &toks[m->extra_key[i] + 1]);
	}
	if (m->n_extra)
		s_fput(&b, "}", 1);
	s_fput(&b, "}", 1);
	if (b.failed) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

static size_t s_field_index(const struct schema *sc, const char *in)
{
	size_t i = 0;

	for (const struct field *f = sc->fields; f->out != NULL; f++, i++)
		if (strcmp(f->in, in) == 0)
			return i;
	return SCHEMA_FIELDS_MAX;
}

/* Appends n bytes of s at dst[*pos] (pos < size), cut to size - 1 bytes like snprintf:
 * the hot path builds its names without printf's format parsing. */
static void s_append(char *dst, size_t size, size_t *pos, const char *s, size_t n)
{
	if (n > size - 1 - *pos)
		n = size - 1 - *pos;
	memcpy(dst + *pos, s, n);
	*pos += n;
	dst[*pos] = '\0';
}

int normalize_frame_fast(const char *text, size_t len, size_t max_len, struct norm_event *out)
{
	struct jtok toks[FAST_MAX_TOKENS];
	struct fast_members m;
	const struct schema *sc = NULL;
	uint32_t type = 0, data = 0, ident, topic;
	char seg[TOPIC_SEGMENT_MAX + 1], tname[32];
	size_t ilen, tlen, at;
	const char *istr, *tstr;
	int n;

	memset(out, 0, sizeof(*out));
	if (len > max_len || len < 2)
		return 0;
	n = jscan(text, len, toks, FAST_MAX_TOKENS, FAST_MAX_DEPTH);
	if (n < 0 || toks[0].type != JT_OBJ || toks[0].count != 2)
		return 0;
	for (uint32_t k = 1; k < toks[0].next; k = toks[k + 1].next) {
		if (s_tok_is(text, &toks[k], "type") && !type)
			type = k + 1;
		else if (s_tok_is(text, &toks[k], "data") && !data)
			data = k + 1;
	}
	if (!type || !data || toks[data].type != JT_OBJ || toks[type].type != JT_STR ||
	    (toks[type].flags & JT_F_ESCAPE))
		return 0;
	tstr = s_inner(text, &toks[type], &tlen);
	if (tlen < sizeof(tname)) {
		memcpy(tname, tstr, tlen);
		tname[tlen] = '\0';
		sc = s_schema_for(tname);
	}
	if (!sc || s_fast_members(text, toks, data, sc, &m) != 0 ||
	    !s_fast_names_unique(text, toks, data + 1, toks[data].next))
		return 0;
	ident = m.field[s_field_index(sc, sc->identity)];
	topic = m.field[s_field_index(sc, sc->topic_field)];
	if (!ident || toks[ident].type != JT_STR || (toks[ident].flags & JT_F_ESCAPE) ||
	    (topic && (toks[topic].flags & JT_F_ESCAPE)))
		return 0;
	istr = s_inner(text, &toks[ident], &ilen);
	if (ilen == 0 || ilen > NORM_IDENTITY_MAX)
		return 0;
	if (topic && toks[topic].type == JT_STR) {
		tstr = s_inner(text, &toks[topic], &tlen);
		topic_segment(tstr, tlen, seg);
	} else {
		topic_segment(NULL, 0, seg);
	}
	out->data_json = s_fast_data(text, len, toks, sc, &m, &out->data_json_len);
	if (!out->data_json)
		return 0;
	out->kind = NORM_EVENT;
	tlen = strlen(sc->type);
	at = 0;
	s_append(out->type, sizeof(out->type), &at, sc->type, tlen);
	at = 0;
	s_append(out->topic, sizeof(out->topic), &at, sc->type, tlen);
	s_append(out->topic, sizeof(out->topic), &at, ".", 1);
	s_append(out->topic, sizeof(out->topic), &at, seg, strlen(seg));
	at = 0;
	s_append(out->id, sizeof(out->id), &at, sc->id_prefix, strlen(sc->id_prefix));
	s_append(out->id, sizeof(out->id), &at, istr, ilen);
	return 1;
}
