/*
 * rest.c: the upstream REST routes under /api/v1 (paths as on api.plurum.ai): inbox,
 * mark-read, contribute (201 + live push + inbox entry for the owner), status, agents/me.
 * Bearer authentication. Answers are filled into an http_answer; http.c writes them.
 */
#include "devserver.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define P_INBOX	    "/api/v1/pulse/inbox"
#define P_MARK_READ "/api/v1/pulse/inbox/mark-read"
#define P_STATUS    "/api/v1/pulse/status"
#define P_ME	    "/api/v1/agents/me"
#define P_SESSIONS  "/api/v1/sessions/"

static void s_detail(struct http_answer *ans, int status, const char *detail)
{
	http_answer_json(ans, status, json_pack("{s:s}", "detail", detail));
}

/* The agent of the Bearer key, or NULL after answering 401. */
static struct agent *s_auth(struct ds_server *ds, const struct http_in *in, struct http_answer *ans)
{
	struct agent *a = NULL;

	if (in->bearer && !strncmp(in->bearer, "plrm_live_", 10))
		a = state_agent_by_key(&ds->st, in->bearer);
	if (!a)
		s_detail(ans, 401, "Invalid API key");
	return a;
}

static bool s_is_uuid(const char *s)
{
	if (strlen(s) != DS_ID_LEN)
		return false;
	for (int i = 0; i < DS_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

static void s_status(struct ds_server *ds, struct http_answer *ans)
{
	json_t *sessions = json_array();
	size_t active = 0;

	for (size_t i = 0; i < ds->st.sessions_len; i++) {
		struct session *s = &ds->st.sessions[i];

		if (s->closed || s->is_private)
			continue;
		active++;
		json_array_append_new(sessions, state_session_opened_data(s));
	}
	http_answer_json(ans, 200,
			 json_pack("{s:I,s:I,s:I,s:o}", "total_agents",
				   (json_int_t)state_agent_count(&ds->st), "connected_agents",
				   (json_int_t)ws_connected_agents(ds), "active_sessions",
				   (json_int_t)active, "sessions", sessions));
}

static void s_inbox(struct ds_server *ds, const struct http_in *in, struct agent *a,
		    struct http_answer *ans)
{
	long limit = 20;
	char *end = NULL;

	if (in->limit) {
		limit = strtol(in->limit, &end, 10);
		if (!*in->limit || *end || limit < 1 || limit > 100) {
			s_detail(ans, 422, "limit must be an integer from 1 to 100");
			return;
		}
	}
	http_answer_json(ans, 200, state_inbox_get(&ds->st, a, (int)limit, in->event_type));
}

static void s_mark_read(const struct http_in *in, struct agent *a, struct http_answer *ans)
{
	json_t *body = json_loadb(in->body, in->body_len, 0, NULL);
	json_t *ids = json_object_get(body, "event_ids");
	size_t n;

	if (json_is_true(json_object_get(body, "mark_all"))) {
		n = state_inbox_mark_read(a, NULL);
	} else if (json_is_array(ids)) {
		n = state_inbox_mark_read(a, ids);
	} else {
		json_decref(body);
		s_detail(ans, 422, "event_ids or mark_all required");
		return;
	}
	json_decref(body);
	http_answer_json(ans, 200, json_pack("{s:I}", "marked_read", (json_int_t)n));
}

static void s_contrib_error(struct http_answer *ans, enum contrib_err e)
{
	switch (e) {
	case CE_NOT_FOUND:
		s_detail(ans, 404, "Session not found");
		break;
	case CE_PRIVATE:
		s_detail(ans, 403, "Cannot contribute to a private session");
		break;
	case CE_OWN:
		s_detail(ans, 403, "Cannot contribute to your own session");
		break;
	case CE_CLOSED:
		s_detail(ans, 400, "Session is not active");
		break;
	case CE_TYPE:
		s_detail(ans, 422, "contribution_type must be suggestion, warning or reference");
		break;
	default:
		s_detail(ans, 422, "content must be a JSON object");
		break;
	}
}

/* POST /sessions/{sid}/contribute: the only route that notifies the owner. */
static void s_contribute(struct ds_server *ds, const struct http_in *in, const char *sid,
			 struct agent *a, struct http_answer *ans)
{
	json_t *body, *contrib = NULL;
	const char *ctype;
	enum contrib_err e;
	struct session *s;

	if (ds->cmode == CM_DROP) {
		ans->status = -1; /* reset without answering */
		return;
	}
	if (ds->cmode == CM_ERROR) {
		s_detail(ans, 500, "Contribution failed");
		return;
	}
	if (ds->cmode == CM_RATELIMIT) {
		/* what a rate-limiting proxy in front of the real server would answer */
		ans->retry_after_s = 7;
		s_detail(ans, 429, "Too Many Requests");
		return;
	}
	if (!s_is_uuid(sid)) {
		/* as upstream today: a malformed id fails inside the database layer */
		s_detail(ans, 500, "Internal Server Error");
		return;
	}
	body = json_loadb(in->body, in->body_len, 0, NULL);
	ctype = json_string_value(json_object_get(body, "contribution_type"));
	e = contribute_build(ds, sid, a->id, json_object_get(body, "content"),
			     ctype ? ctype : "suggestion", true, &contrib);
	json_decref(body);
	if (e != CE_OK) {
		s_contrib_error(ans, e);
		return;
	}
	state_record_contrib(&ds->st, "rest", contrib);
	s = state_session_by_id(&ds->st, sid);
	ws_push_to_agent(ds, s->owner, "contribution_received", json_incref(contrib));
	if (state_agent_by_id(&ds->st, s->owner))
		state_inbox_add_contrib(&ds->st, state_agent_by_id(&ds->st, s->owner),
					json_incref(contrib));
	if (ds->cmode == CM_DELAY)
		ans->delay_ms = ds->delay_ms;
	http_answer_json(ans, 201, contrib); /* steals contrib */
}

/* The session id of /api/v1/sessions/{sid}/contribute into sid, or false. */
static bool s_contribute_path(const char *path, char *sid, size_t sidlen)
{
	const char *rest, *slash;

	if (strncmp(path, P_SESSIONS, strlen(P_SESSIONS)))
		return false;
	rest = path + strlen(P_SESSIONS);
	slash = strchr(rest, '/');
	if (!slash || slash == rest || strcmp(slash, "/contribute") ||
	    (size_t)(slash - rest) >= sidlen)
		return false;
	memcpy(sid, rest, (size_t)(slash - rest));
	sid[slash - rest] = '\0';
	return true;
}

bool rest_handle(struct ds_server *ds, const struct http_in *in, struct http_answer *ans)
{
	char sid[128];
	bool is_contribute = s_contribute_path(in->path, sid, sizeof(sid));
	bool want_post = is_contribute || !strcmp(in->path, P_MARK_READ);
	struct agent *a;

	if (!is_contribute && strcmp(in->path, P_INBOX) && strcmp(in->path, P_MARK_READ) &&
	    strcmp(in->path, P_STATUS) && strcmp(in->path, P_ME))
		return false;
	if (want_post != in->is_post) {
		s_detail(ans, 405, "Method Not Allowed");
		return true;
	}
	if (!strcmp(in->path, P_STATUS)) {
		s_status(ds, ans);
		return true;
	}
	a = s_auth(ds, in, ans);
	if (!a)
		return true;
	if (!strcmp(in->path, P_ME))
		http_answer_json(ans, 200,
				 json_pack("{s:s,s:s,s:s}", "id", a->id, "agent_id", a->id, "name",
					   "devserver-agent"));
	else if (!strcmp(in->path, P_INBOX))
		s_inbox(ds, in, a, ans);
	else if (!strcmp(in->path, P_MARK_READ))
		s_mark_read(in, a, ans);
	else
		s_contribute(ds, in, sid, a, ans);
	return true;
}
