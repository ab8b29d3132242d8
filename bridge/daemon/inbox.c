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
#include "strutil.h"
#include "timers.h"

#define PAGE_LIMIT     100
#define MAX_PAGES      1000 /* with mark-read: 100,000 events in one recovery at most */
#define REQ_TIMEOUT_MS 15000
#define RETRY_BASE_MS  1000
#define RETRY_CAP_MS   60000
#define UNMARKED_MAX   10000 /* ids whose mark-read failed, kept for the next try */

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
	json_t *unmarked; /* ids published but not yet marked read (a failed mark-read) */
	struct timer retry_timer;
};

struct req_ctx {
	struct inbox *in;
	unsigned generation;
	json_t *ids;	/* mark-read: the ids sent (owned) */
	bool next_page; /* mark-read: read the next page once this one is marked */
};

static void s_get_page(struct inbox *in);

static void s_finish(struct inbox *in, const char *result, const char *reason)
{
	json_t *data;

	in->running = false;
	in->failures = 0;
	in->recoveries++;
	str_copy(in->last_result, sizeof(in->last_result), result);
	str_copy(in->last_reason, sizeof(in->last_reason), reason);
	data = json_pack("{s:I, s:I, s:s, s:s?}", "contributions", (json_int_t)in->contributions,
			 "sessions", (json_int_t)in->sessions, "result", result, "reason", reason);
	if (data)
		bridge_publish_bridge(in->b, "bridge.recovery", data);
	json_decref(data);
	log_info("inbox: recovery %s: %llu contributions, %llu session events%s%s", result,
		 (unsigned long long)in->contributions, (unsigned long long)in->sessions,
		 reason ? ": " : "", reason ? reason : "");
}

static void s_retry_cb(struct timer *t)
{
	struct inbox *in = lws_container_of(t, struct inbox, retry_timer);

	if (in->running && !in->stopped)
		s_get_page(in);
}

static void s_fail(struct inbox *in, const char *why)
{
	uint32_t delay = RETRY_BASE_MS;

	in->total_failures++;
	str_copy(in->last_error, sizeof(in->last_error), why);
	for (unsigned i = 0; i < in->failures && delay < RETRY_CAP_MS; i++)
		delay *= 2;
	if (delay > RETRY_CAP_MS)
		delay = RETRY_CAP_MS;
	in->failures++;
	log_warn("inbox: %s; retrying in %u ms", why, delay);
	timer_start(in->b->timers, &in->retry_timer, s_retry_cb, (uint64_t)delay * 1000);
}

/* Mark-read answered. The next page is read only after its predecessor is marked (the
 * inbox API has no cursor: marking is what moves it), and ids that could not be marked are
 * kept for the next try, so a later recovery does not publish them again after the
 * de-duplication set has forgotten them. */
static void s_mark_done(const struct rest_response *resp, void *ud)
{
	struct req_ctx *rc = ud;
	struct inbox *in = rc->in;
	bool current = rc->generation == in->generation && !in->stopped;

	if (resp->status != 200) {
		log_warn("inbox: mark-read failed (%d%s%s); will retry", resp->status,
			 resp->error ? ": " : "", resp->error ? resp->error : "");
		if (json_array_size(in->unmarked) < UNMARKED_MAX)
			json_array_extend(in->unmarked, rc->ids);
		if (current && rc->next_page)
			s_fail(in, "mark-read failed");
	} else if (current && rc->next_page && in->running) {
		s_get_page(in);
	}
	json_decref(rc->ids);
	free(rc);
}

/* Mark ids (and any left from a failed try) read; then the next page if next_page. */
static void s_mark_read(struct inbox *in, json_t *ids, bool next_page)
{
	struct req_ctx *rc = calloc(1, sizeof(*rc));
	json_t *all = json_array(), *body = NULL;
	char *text = NULL;

	if (!rc || !all)
		goto fail;
	json_array_extend(all, in->unmarked);
	json_array_extend(all, ids);
	json_array_clear(in->unmarked);
	body = json_pack("{s:O}", "event_ids", all);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (!text)
		goto fail;
	rc->in = in;
	rc->generation = in->generation;
	rc->ids = all;
	rc->next_page = next_page;
	if (rest_request(in->b->rest, "POST", "/pulse/inbox/mark-read", text, strlen(text),
			 REQ_TIMEOUT_MS, s_mark_done, rc) != 0)
		goto fail;
	free(text);
	json_decref(body);
	return;
fail:
	if (all && json_array_size(in->unmarked) < UNMARKED_MAX)
		json_array_extend(in->unmarked, all);
	json_decref(all);
	json_decref(body);
	free(text);
	free(rc);
	if (next_page)
		s_fail(in, "cannot start the mark-read request");
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
	if (count < PAGE_LIMIT) {
		if (in->b->cfg.inbox_mark_read && json_array_size(mark_ids))
			s_mark_read(in, mark_ids, false);
		s_finish(in, "complete", NULL);
	} else if (!in->b->cfg.inbox_mark_read) {
		s_finish(in, "partial",
			 "the inbox holds a full page (100) or more: older unread events are only "
			 "reachable with --inbox-mark-read");
	} else if (in->pages >= MAX_PAGES) {
		s_mark_read(in, mark_ids, false);
		s_finish(in, "partial", "stopped after the page limit of one recovery");
	} else {
		s_mark_read(in, mark_ids, true); /* the next GET follows the mark-read */
	}
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
	in->unmarked = json_array();
	if (!in->unmarked) {
		snprintf(err, errlen, "out of memory");
		free(in);
		return NULL;
	}
	return in;
}

void inbox_destroy(struct inbox **self_p)
{
	if (!self_p || !*self_p)
		return;
	timer_stop(&(*self_p)->retry_timer);
	json_decref((*self_p)->unmarked);
	free(*self_p);
	*self_p = NULL;
}

void inbox_on_connected(struct inbox *in)
{
	if (in->stopped)
		return;
	timer_stop(&in->retry_timer);
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
	timer_stop(&in->retry_timer);
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
