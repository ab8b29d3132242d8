/* inbox.c: owns gap recovery: after every (re)connect, read GET /pulse/inbox and publish,
 * with source "inbox", what the live stream may have missed.
 *
 * The publisher's at-most-once rule by id makes the overlap with the live stream harmless:
 * an event seen live is skipped when the inbox repeats it, and the reverse.
 * What the inbox can give (upstream-pulse.md): contribution_received events stay until
 * marked read; session events are rebuilt only since the previous inbox check, and a GET
 * moves that check forward. The API has no cursor: beyond one page (100) the bridge can only
 * see more by marking what it published read (--inbox-mark-read); otherwise the recovery
 * says "partial" and why. */
#include "inbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"
#include "normalize.h"
#include "publisher.h"
#include "rest.h"

#define PAGE_LIMIT     100
#define MAX_PAGES      1000 /* with mark-read: 100,000 events in one recovery at most */
#define REQ_TIMEOUT_MS 15000
#define RETRY_BASE_MS  1000
#define RETRY_CAP_MS   60000

struct inbox {
	struct bridge *b;
	bool running; /* a recovery is in progress */
	bool stopped;
	unsigned generation; /* bumps on each (re)connect: late answers of older runs ignored */
	unsigned pages;
	unsigned failures; /* consecutive, for the retry back-off */
	uint64_t total_failures;
	uint64_t recoveries;
	uint64_t contributions, sessions; /* recovered in the current recovery */
	char last_result[16];
	char last_reason[160];
	char last_error[160];
	lws_sorted_usec_list_t retry_sul;
};

struct req_ctx {
	struct inbox *in;
	unsigned generation;
	bool mark_read;
};

static void s_get_page(struct inbox *in);

static void s_finish(struct inbox *in, const char *result, const char *reason)
{
	json_t *data;

	in->running = false;
	in->failures = 0;
	in->recoveries++;
	snprintf(in->last_result, sizeof(in->last_result), "%s", result);
	snprintf(in->last_reason, sizeof(in->last_reason), "%s", reason ? reason : "");
	data = json_pack("{s:I, s:I, s:s, s:s?}", "contributions", (json_int_t)in->contributions,
			 "sessions", (json_int_t)in->sessions, "result", result, "reason", reason);
	if (data)
		publisher_bridge(in->b->pub, "bridge.recovery", data, NULL);
	json_decref(data);
	log_info("inbox: recovery %s: %llu contributions, %llu session events%s%s", result,
		 (unsigned long long)in->contributions, (unsigned long long)in->sessions,
		 reason ? ": " : "", reason ? reason : "");
}

static void s_retry_cb(lws_sorted_usec_list_t *sul)
{
	struct inbox *in = lws_container_of(sul, struct inbox, retry_sul);

	if (in->running && !in->stopped)
		s_get_page(in);
}

static void s_fail(struct inbox *in, const char *why)
{
	uint32_t delay = RETRY_BASE_MS;

	in->total_failures++;
	snprintf(in->last_error, sizeof(in->last_error), "%s", why);
	for (unsigned i = 0; i < in->failures && delay < RETRY_CAP_MS; i++)
		delay *= 2;
	if (delay > RETRY_CAP_MS)
		delay = RETRY_CAP_MS;
	in->failures++;
	log_warn("inbox: %s; retrying in %u ms", why, delay);
	lws_sul_schedule(in->b->lws, 0, &in->retry_sul, s_retry_cb,
			 (lws_usec_t)delay * LWS_US_PER_MS);
}

static void s_mark_done(const struct rest_response *resp, void *ud)
{
	struct req_ctx *rc = ud;

	if (resp->status != 200)
		log_warn("inbox: mark-read failed (%d%s%s)", resp->status, resp->error ? ": " : "",
			 resp->error ? resp->error : "");
	free(rc);
}

static void s_mark_read(struct inbox *in, json_t *ids)
{
	json_t *body = json_pack("{s:O}", "event_ids", ids);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct req_ctx *rc = calloc(1, sizeof(*rc));

	if (text && rc) {
		rc->in = in;
		if (rest_request(in->b->rest, "POST", "/pulse/inbox/mark-read", text, strlen(text),
				 REQ_TIMEOUT_MS, s_mark_done, rc) == 0)
			rc = NULL;
	}
	free(rc);
	free(text);
	json_decref(body);
}

/* Publish one page; collect the inbox ids of published contributions for mark-read. */
static size_t s_publish_page(struct inbox *in, json_t *events, json_t *mark_ids)
{
	size_t i, n = 0;
	json_t *item;

	json_array_foreach(events, i, item)
	{
		struct norm_event ev;
		char err[200];

		if (normalize_inbox_item(item, &ev, err, sizeof(err)) != 0) {
			log_warn("inbox: skipped an event: %s", err);
			continue;
		}
		if (bridge_publish_event(in->b, &ev, "inbox") == 0) {
			if (strcmp(ev.type, "contribution.received") == 0)
				in->contributions++;
			else
				in->sessions++;
		}
		if (strcmp(ev.type, "contribution.received") == 0 &&
		    json_is_string(json_object_get(item, "id")))
			json_array_append(mark_ids, json_object_get(item, "id"));
		norm_event_clear(&ev);
		n++;
	}
	return n;
}

static void s_page_done(const struct rest_response *resp, void *ud)
{
	struct req_ctx *rc = ud;
	struct inbox *in = rc->in;
	json_t *body = NULL, *events, *mark_ids = NULL;
	bool stale = rc->generation != in->generation || in->stopped;
	char why[200];
	size_t count;

	free(rc);
	if (stale || !in->running)
		return;
	if (resp->status != 200) {
		snprintf(why, sizeof(why), "GET /pulse/inbox: %s",
			 resp->status ? "HTTP error" : (resp->error ? resp->error : "failed"));
		if (resp->status)
			snprintf(why, sizeof(why), "GET /pulse/inbox: HTTP %d", resp->status);
		s_fail(in, why);
		return;
	}
	body = json_loadb(resp->body, resp->len, 0, NULL);
	events = json_object_get(body, "events");
	if (!json_is_array(events)) {
		s_fail(in, "GET /pulse/inbox: the answer has no events array");
		goto out;
	}
	mark_ids = json_array();
	count = s_publish_page(in, events, mark_ids);
	in->pages++;
	if (in->b->cfg.inbox_mark_read && json_array_size(mark_ids))
		s_mark_read(in, mark_ids);
	if (count < PAGE_LIMIT)
		s_finish(in, "complete", NULL);
	else if (!in->b->cfg.inbox_mark_read)
		s_finish(in, "partial",
			 "the inbox holds a full page (100) or more: older unread events are only "
			 "reachable with --inbox-mark-read");
	else if (in->pages >= MAX_PAGES)
		s_finish(in, "partial", "stopped after the page limit of one recovery");
	else
		s_get_page(in); /* marked read: the next GET shows the rest */
out:
	json_decref(mark_ids);
	json_decref(body);
}

static void s_get_page(struct inbox *in)
{
	struct req_ctx *rc = calloc(1, sizeof(*rc));
	char path[64];

	if (!rc) {
		s_fail(in, "out of memory");
		return;
	}
	rc->in = in;
	rc->generation = in->generation;
	snprintf(path, sizeof(path), "/pulse/inbox?limit=%d", PAGE_LIMIT);
	if (rest_request(in->b->rest, "GET", path, NULL, 0, REQ_TIMEOUT_MS, s_page_done, rc) != 0) {
		free(rc);
		s_fail(in, "cannot start the inbox request");
	}
}

struct inbox *inbox_new(struct bridge *b, char *err, size_t errlen)
{
	struct inbox *in = calloc(1, sizeof(*in));

	if (!in) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	in->b = b;
	return in;
}

void inbox_destroy(struct inbox **self_p)
{
	if (!self_p || !*self_p)
		return;
	lws_sul_cancel(&(*self_p)->retry_sul);
	free(*self_p);
	*self_p = NULL;
}

void inbox_on_connected(struct inbox *in)
{
	if (in->stopped)
		return;
	lws_sul_cancel(&in->retry_sul);
	in->generation++;
	in->running = true;
	in->pages = 0;
	in->failures = 0;
	in->contributions = in->sessions = 0;
	s_get_page(in);
}

void inbox_on_disconnected(struct inbox *in)
{
	(void)in; /* a recovery in progress goes on: REST does not need the WebSocket */
}

void inbox_stop(struct inbox *in)
{
	in->stopped = true;
	in->generation++;
	lws_sul_cancel(&in->retry_sul);
}

json_t *inbox_status_json(const struct inbox *in)
{
	return json_pack(
	    "{s:b, s:I, s:I, s:s?, s:s?, s:I, s:s?}", "running", in->running, "recoveries",
	    (json_int_t)in->recoveries, "failures", (json_int_t)in->total_failures, "last_result",
	    in->last_result[0] ? in->last_result : NULL, "last_reason",
	    in->last_reason[0] ? in->last_reason : NULL, "consecutive_failures",
	    (json_int_t)in->failures, "last_error", in->last_error[0] ? in->last_error : NULL);
}
