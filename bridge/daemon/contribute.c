/* contribute.c: owns every contribute from the moment it is validated until its one reply.
 *
 * An item moves: queued (fair queue, round-robin by client) -> on the wire (REST request,
 * or WebSocket message: handed to upstream, then written and awaiting its reply in a FIFO,
 * since the server answers in order and without correlation ids) -> answered.
 * The WebSocket path spends the upstream budget (a sliding window kept under the server's
 * 60 messages a minute). A message written but not answered when its connection dies is
 * outcome_unknown: never re-sent, it may have been applied. An id seen before in this run
 * is never sent again: the reply repeats the first outcome. */
#include "contribute.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "budget.h"
#include "clock.h"
#include "dlist.h"
#include "fairq.h"
#include "log.h"
#include "outcome.h"
#include "rest.h"
#include "timers.h"
#include "upstream.h"

#define OUTCOME_LOG_SIZE 10000
#define REST_DOWN_MS	 30000 /* auto: after REST failed to connect, prefer the WebSocket */
#define BUDGET_WINDOW_MS 60000
#define COALESCE_MS	 10 /* a burst arriving within this is served round-robin */

enum item_state { IT_QUEUED, IT_REST, IT_WS_HANDED, IT_WS_SENT, IT_GONE };

struct item {
	struct contribute *cp;
	struct cmd_request req;
	char idkey[CMD_ID_MAX + 1]; /* "" when the request had no id */
	unsigned char client[256];
	size_t client_len;
	long long deadline; /* monotonic ms */
	contribute_reply_fn fn;
	void *ud;
	enum item_state st;
	bool answered;
	bool via_ws;		    /* the path it took or takes */
	struct item *dups;	    /* later requests with the same id, waiting for this outcome */
	struct item *next;	    /* in dups, or in the awaiting FIFO */
	struct dlist_node all_link; /* in cp->all: every live item, for look-ups and shutdown */
};

struct contribute_counts {
	uint64_t submitted, via_rest, via_ws, confirmed, rejected, unknown, rate_limited,
	    not_connected, repeats, shutting_down;
};

struct contribute {
	struct bridge *b;
	struct fairq *queue;
	struct budget *budget;
	struct outcome_log *outcomes;
	struct item *await_head, *await_tail; /* WebSocket messages written, reply pending */
	struct dlist all;		      /* of struct item, by all_link */
	struct timer pump_timer, deadline_timer;
	long long rest_down_until;
	bool shutting_down;
	struct contribute_counts n;
};

static void s_pump(struct contribute *cp);
static void s_arm_deadline(struct contribute *cp);

/* ---- items -------------------------------------------------------------------------- */

static void s_item_free(struct item *it)
{
	struct contribute *cp = it->cp;

	dlist_remove(&cp->all, &it->all_link);
	cmd_request_clear(&it->req);
	free(it);
}

/* The unanswered item with idkey, other than self (itself already in the list). */
static struct item *s_find_in_flight(struct contribute *cp, const char *idkey,
				     const struct item *self)
{
	for (const struct dlist_node *l = cp->all.head; l; l = l->next) {
		struct item *it = dlist_entry(l, struct item, all_link);

		if (it != self && !it->answered && it->st != IT_GONE &&
		    strcmp(it->idkey, idkey) == 0)
			return it;
	}
	return NULL;
}

/* Answer it (and the duplicates waiting on it) with reply (stolen). st < 0: the request
 * never reached the server, so its id is forgotten and may be sent again. */
static void s_answer(struct item *it, json_t *reply, int st)
{
	struct contribute *cp = it->cp;
	struct item *d, *next;
	char *text = NULL;

	if (it->answered) {
		json_decref(reply);
		return;
	}
	it->answered = true;
	if (it->idkey[0]) {
		if (st < 0) {
			outcome_log_forget(cp->outcomes, it->idkey);
		} else {
			text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
			outcome_log_finish(cp->outcomes, it->idkey, (enum outcome_state)st, text);
			free(text);
		}
	}
	for (d = it->dups; d; d = next) {
		next = d->next;
		d->answered = true;
		d->fn(d->ud, json_incref(reply));
		s_item_free(d);
	}
	it->dups = NULL;
	it->fn(it->ud, reply);
}

static json_t *s_error(struct item *it, const char *code, const char *msg, long long retry_ms,
		       int status)
{
	return cmd_error_reply(it->req.id, code, msg, retry_ms, status);
}

static json_t *s_success(struct item *it, const char *via, json_t *contribution)
{
	json_t *r = json_object();

	if (!r) {
		json_decref(contribution);
		return NULL;
	}
	json_object_set_new(r, "ok", json_true());
	if (it->req.id)
		json_object_set(r, "id", it->req.id);
	json_object_set_new(r, "via", json_string(via));
	json_object_set_new(r, "contribution", contribution ? contribution : json_null());
	return r;
}

/* ---- the REST path ------------------------------------------------------------------ */

/* The server's own words from an error body: "detail", "message" or "error". */
static void s_server_message(const struct rest_response *resp, char *out, size_t outlen)
{
	static const char *const keys[] = {"detail", "message", "error"};
	json_t *body = json_loadb(resp->body, resp->len, 0, NULL);

	snprintf(out, outlen, "HTTP %d", resp->status);
	for (size_t i = 0; body && i < 3; i++) {
		const char *s = json_string_value(json_object_get(body, keys[i]));

		if (s) {
			snprintf(out, outlen, "HTTP %d: %s", resp->status, s);
			break;
		}
	}
	json_decref(body);
}

static void s_rest_ok(struct item *it, const struct rest_response *resp)
{
	char err[128];
	json_t *body = json_loadb(resp->body, resp->len, 0, NULL);
	json_t *c = body ? normalize_contribution(body, err, sizeof(err)) : NULL;

	json_decref(body);
	it->cp->n.confirmed++;
	s_answer(it, s_success(it, "rest", c), OUTCOME_CONFIRMED);
}

/* Returns true when the item was re-routed to the WebSocket (it lives on), false when it
 * was answered. */
static bool s_rest_network_failure(struct item *it, const struct rest_response *resp)
{
	struct contribute *cp = it->cp;
	char msg[256];

	if (resp->maybe_sent) {
		cp->n.unknown++;
		snprintf(msg, sizeof(msg),
			 "REST: %s after the request was sent: it may or may not have been applied",
			 resp->error ? resp->error : "failure");
		s_answer(it, s_error(it, "outcome_unknown", msg, -1, 0), OUTCOME_UNKNOWN);
		return false;
	}
	if (cp->b->cfg.contribute_via == VIA_AUTO && !cp->shutting_down) {
		cp->rest_down_until = clock_mono_ms() + REST_DOWN_MS;
		if (upstream_connected(cp->b->up) && clock_mono_ms() < it->deadline) {
			log_info("contribute: REST unreachable (%s); using the WebSocket",
				 resp->error ? resp->error : "?");
			it->st = IT_QUEUED;
			it->via_ws = true;
			if (fairq_push(cp->queue, it->client, it->client_len, it) == 0) {
				s_pump(cp);
				s_arm_deadline(cp);
				return true;
			}
		}
	}
	cp->n.not_connected++;
	snprintf(msg, sizeof(msg), "REST: %s",
		 resp->error ? resp->error : "cannot reach the server");
	s_answer(it, s_error(it, cp->shutting_down ? "shutting_down" : "not_connected", msg, -1, 0),
		 -1);
	return false;
}

static void s_rest_done(const struct rest_response *resp, void *ud)
{
	struct item *it = ud;
	struct contribute *cp = it->cp;
	char msg[300];

	if (resp->status == 200 || resp->status == 201) {
		s_rest_ok(it, resp);
	} else if (resp->status == 429) {
		cp->n.rate_limited++;
		s_answer(it,
			 s_error(it, "rate_limited", "the server answered 429 Too Many Requests",
				 resp->retry_after_ms >= 0 ? resp->retry_after_ms : 1000, 0),
			 -1);
	} else if (resp->status > 0) {
		cp->n.rejected++;
		s_server_message(resp, msg, sizeof(msg));
		s_answer(it, s_error(it, "upstream_rejected", msg, -1, resp->status),
			 OUTCOME_REJECTED);
	} else if (s_rest_network_failure(it, resp)) {
		return; /* re-routed to the WebSocket: the item lives on */
	}
	it->st = IT_GONE;
	s_item_free(it);
	s_pump(cp);
}

static void s_send_rest(struct contribute *cp, struct item *it)
{
	char path[CMD_SESSION_ID_MAX * 3 + 32], *body;
	long long left = it->deadline - clock_mono_ms();
	size_t len = 0, o = 0;
	static const char hex[] = "0123456789ABCDEF";

	/* the session id goes into a path segment: escape all but unreserved characters */
	o = (size_t)snprintf(path, sizeof(path), "/sessions/");
	for (const unsigned char *p = (const unsigned char *)it->req.session_id; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			path[o++] = (char)*p;
		} else {
			path[o++] = '%';
			path[o++] = hex[*p >> 4];
			path[o++] = hex[*p & 15];
		}
	}
	snprintf(path + o, sizeof(path) - o, "/contribute");
	body = cmd_contribute_rest_body(&it->req, &len);
	it->st = IT_REST;
	it->via_ws = false;
	cp->n.via_rest++;
	if (!body || rest_request(cp->b->rest, "POST", path, body, len,
				  (uint32_t)(left > 1 ? left : 1), s_rest_done, it) != 0) {
		it->st = IT_GONE;
		cp->n.not_connected++;
		s_answer(it, s_error(it, "not_connected", "cannot start the REST request", -1, 0),
			 -1);
		s_item_free(it);
	}
	free(body);
}

/* ---- the WebSocket path ------------------------------------------------------------ */

static void s_await_push(struct contribute *cp, struct item *it)
{
	it->next = NULL;
	if (cp->await_tail)
		cp->await_tail->next = it;
	else
		cp->await_head = it;
	cp->await_tail = it;
}

static struct item *s_await_pop(struct contribute *cp)
{
	struct item *it = cp->await_head;

	if (it) {
		cp->await_head = it->next;
		if (!cp->await_head)
			cp->await_tail = NULL;
		it->next = NULL;
	}
	return it;
}

/* Returns 0 when handed to upstream, -1 when it must wait (not connected / no budget). */
static int s_send_ws(struct contribute *cp, struct item *it)
{
	size_t len = 0;
	char *text;

	if (!upstream_connected(cp->b->up))
		return -1;
	if (budget_take(cp->budget, (uint64_t)clock_mono_ms()) != 0)
		return -1;
	text = cmd_contribute_ws_message(&it->req, &len);
	if (!text || upstream_send(cp->b->up, text, len, it) != 0) {
		free(text);
		return -1;
	}
	free(text);
	it->st = IT_WS_HANDED;
	it->via_ws = true;
	cp->n.via_ws++;
	return 0;
}

static bool s_wants_ws(struct contribute *cp)
{
	switch (cp->b->cfg.contribute_via) {
	case VIA_WS:
		return true;
	case VIA_AUTO:
		return clock_mono_ms() < cp->rest_down_until && upstream_connected(cp->b->up);
	default:
		return false;
	}
}

static void s_pump_cb(struct timer *t)
{
	s_pump(lws_container_of(t, struct contribute, pump_timer));
}

/* Move queued items onto the wire while capacity allows, round-robin by client. */
static void s_pump(struct contribute *cp)
{
	struct item *it;

	while (!cp->shutting_down && (it = fairq_peek(cp->queue))) {
		if (it->via_ws || s_wants_ws(cp)) {
			if (s_send_ws(cp, it) != 0)
				break;
			fairq_pop(cp->queue);
			continue;
		}
		if (rest_client_inflight(cp->b->rest) + rest_client_queued(cp->b->rest) >=
		    cp->b->cfg.rest_inflight)
			break; /* s_rest_done pumps again */
		fairq_pop(cp->queue);
		s_send_rest(cp, it);
	}
	if (!cp->shutting_down && fairq_peek(cp->queue) && upstream_connected(cp->b->up) &&
	    budget_left(cp->budget, (uint64_t)clock_mono_ms()) == 0) {
		uint64_t wait = budget_wait_ms(cp->budget, (uint64_t)clock_mono_ms());

		timer_start(cp->b->timers, &cp->pump_timer, s_pump_cb, (wait ? wait : 1) * 1000);
	}
}

/* Pump from the loop rather than now, so the requests read together are all queued before
 * the first send and the round-robin serves their clients fairly. On the WebSocket path,
 * where the budget is scarce, wait COALESCE_MS more: the requests of a burst from several
 * clients arrive over a few milliseconds, and sent on arrival, whichever client was read
 * first would take the whole budget. An earlier pump already due is kept. */
static void s_pump_soon(struct contribute *cp)
{
	uint64_t delay = s_wants_ws(cp) ? (uint64_t)COALESCE_MS * 1000 : 0;

	if (!timer_pending(&cp->pump_timer) || cp->pump_timer.due_us > clock_mono_us() + delay)
		timer_start(cp->b->timers, &cp->pump_timer, s_pump_cb, delay);
}

/* ---- deadlines ---------------------------------------------------------------------- */

struct expiry {
	long long now;
	long long next; /* earliest deadline still ahead */
};

static bool s_expired(void *item, void *ud)
{
	struct item *it = item;
	struct expiry *e = ud;

	if (it->deadline <= e->now)
		return true;
	if (!e->next || it->deadline < e->next)
		e->next = it->deadline;
	return false;
}

static void s_expire_queued(void *item, void *ud)
{
	struct item *it = item;
	struct contribute *cp = it->cp;
	struct expiry *e = ud;
	uint64_t wait = budget_wait_ms(cp->budget, (uint64_t)e->now);

	if ((it->via_ws || s_wants_ws(cp)) && upstream_connected(cp->b->up) && wait > 0) {
		cp->n.rate_limited++;
		s_answer(it,
			 s_error(it, "rate_limited",
				 "the upstream message budget is spent for now; retry later",
				 (long long)wait + (long long)fairq_count(cp->queue) *
						       (BUDGET_WINDOW_MS / cp->b->cfg.ws_budget),
				 0),
			 -1);
	} else {
		cp->n.not_connected++;
		s_answer(it,
			 s_error(it, "not_connected",
				 upstream_connected(cp->b->up)
				     ? "no free upstream connection within timeout_ms"
				     : "the upstream is not connected and did not come back within "
				       "timeout_ms",
				 -1, 0),
			 -1);
	}
	it->st = IT_GONE;
	s_item_free(it);
}

static void s_deadline_cb(struct timer *t)
{
	struct contribute *cp = lws_container_of(t, struct contribute, deadline_timer);
	struct expiry e = {clock_mono_ms(), 0};

	fairq_remove_if(cp->queue, s_expired, s_expire_queued, &e);
	/* written but unanswered past the deadline: tell the client now; the reply, if it
	 * comes, still updates the outcome log */
	for (struct item *it = cp->await_head; it; it = it->next) {
		if (it->answered)
			continue;
		if (it->deadline <= e.now) {
			cp->n.unknown++;
			s_answer(it,
				 s_error(it, "outcome_unknown",
					 "sent on the WebSocket; no reply within timeout_ms (ask "
					 "\"outcome\" later)",
					 -1, 0),
				 OUTCOME_UNKNOWN);
		} else if (!e.next || it->deadline < e.next) {
			e.next = it->deadline;
		}
	}
	if (e.next)
		timer_start(cp->b->timers, &cp->deadline_timer, s_deadline_cb,
			    (uint64_t)(e.next - e.now + 1) * 1000);
}

static void s_arm_deadline(struct contribute *cp)
{
	/* re-evaluate at once: cheap, and finds the new earliest deadline */
	timer_start(cp->b->timers, &cp->deadline_timer, s_deadline_cb, 0);
}

/* ---- public --------------------------------------------------------------------------- */

struct contribute *contribute_new(struct bridge *b, char *err, size_t errlen)
{
	struct contribute *cp = calloc(1, sizeof(*cp));

	if (!cp)
		goto nomem;
	cp->b = b;
	cp->queue = fairq_new(b->cfg.client_quota);
	cp->budget = budget_new(b->cfg.ws_budget, BUDGET_WINDOW_MS);
	cp->outcomes = outcome_log_new(OUTCOME_LOG_SIZE);
	if (!cp->queue || !cp->budget || !cp->outcomes)
		goto nomem;
	return cp;
nomem:
	snprintf(err, errlen, "out of memory");
	contribute_destroy(&cp);
	return NULL;
}

static void s_repeat(struct contribute *cp, struct item *it)
{
	enum outcome_state st;
	const char *text = NULL;
	struct item *orig;

	cp->n.repeats++;
	if (outcome_log_get(cp->outcomes, it->idkey, &st, &text) == 0 && text) {
		json_t *r = json_loads(text, 0, NULL);

		it->answered = true;
		it->fn(it->ud,
		       r ? r : s_error(it, "outcome_unknown", "stored outcome lost", -1, 0));
		s_item_free(it);
		return;
	}
	orig = s_find_in_flight(cp, it->idkey, it);
	if (!orig) {
		it->answered = true;
		it->fn(it->ud, s_error(it, "outcome_unknown", "a request with this id is in flight",
				       -1, 0));
		s_item_free(it);
		return;
	}
	/* wait for the first request's outcome: the same reply goes to both */
	it->st = IT_GONE;
	it->next = orig->dups;
	orig->dups = it;
}

void contribute_submit(struct contribute *cp, const void *client, size_t client_len,
		       struct cmd_request *req, contribute_reply_fn fn, void *ud)
{
	struct item *it = calloc(1, sizeof(*it));
	const char *idstr;

	if (!it) {
		fn(ud, cmd_error_reply(req->id, "shutting_down", "out of memory", -1, 0));
		return;
	}
	it->cp = cp;
	it->req = *req;
	memset(req, 0, sizeof(*req)); /* moved */
	it->fn = fn;
	it->ud = ud;
	it->client_len = client_len < sizeof(it->client) ? client_len : sizeof(it->client);
	memcpy(it->client, client, it->client_len);
	it->deadline = clock_mono_ms() + it->req.timeout_ms;
	dlist_push_front(&cp->all, &it->all_link);
	cp->n.submitted++;
	idstr = json_string_value(it->req.id);
	if (idstr) {
		snprintf(it->idkey, sizeof(it->idkey), "%s", idstr);
		if (outcome_log_begin(cp->outcomes, it->idkey) == 1) {
			s_repeat(cp, it);
			return;
		}
	}
	if (cp->shutting_down) {
		cp->n.shutting_down++;
		s_answer(it, s_error(it, "shutting_down", "the bridge is stopping", -1, 0), -1);
		s_item_free(it);
		return;
	}
	if (fairq_push(cp->queue, it->client, it->client_len, it) != 0) {
		cp->n.rate_limited++;
		s_answer(it,
			 s_error(it, "rate_limited", "this client has too many contributes queued",
				 1000, 0),
			 -1);
		s_item_free(it);
		return;
	}
	s_pump_soon(cp);
	s_arm_deadline(cp);
}

json_t *contribute_outcome(struct contribute *cp, json_t *id)
{
	const char *key = json_string_value(id), *text = NULL;
	enum outcome_state st;
	json_t *r;

	if (!key || outcome_log_get(cp->outcomes, key, &st, &text) != 0)
		return cmd_error_reply(id, "not_found", "no contribute with this id in this run",
				       -1, 0);
	r = json_object();
	if (!r)
		return NULL;
	json_object_set_new(r, "ok", json_true());
	json_object_set(r, "id", id);
	json_object_set_new(r, "outcome", json_string(outcome_state_name(st)));
	json_object_set_new(r, "reply", text ? json_loads(text, 0, NULL) : json_null());
	return r;
}

static void s_drop_queued(void *item, void *ud)
{
	struct item *it = item;

	(void)ud;
	it->cp->n.shutting_down++;
	s_answer(it, s_error(it, "shutting_down", "the bridge is stopping", -1, 0), -1);
	it->st = IT_GONE;
	s_item_free(it);
}

static bool s_always(void *item, void *ud)
{
	(void)item;
	(void)ud;
	return true;
}

void contribute_shutdown(struct contribute *cp)
{
	cp->shutting_down = true;
	timer_stop(&cp->pump_timer);
	timer_stop(&cp->deadline_timer);
	fairq_remove_if(cp->queue, s_always, s_drop_queued, NULL);
	contribute_on_ws_disconnected(cp); /* written, unanswered: outcome_unknown */
}

void contribute_destroy(struct contribute **self_p)
{
	struct contribute *cp;
	struct item *it;

	if (!self_p || !*self_p)
		return;
	cp = *self_p;
	if (cp->queue)
		contribute_shutdown(cp);
	/* whatever is left (handed to upstream or REST, which are gone by now) */
	while ((it = dlist_first(&cp->all, struct item, all_link))) {
		if (!it->answered) {
			cp->n.unknown++;
			s_answer(it,
				 s_error(it,
					 it->st == IT_QUEUED ? "shutting_down" : "outcome_unknown",
					 "the bridge stopped", -1, 0),
				 it->st == IT_QUEUED ? -1 : OUTCOME_UNKNOWN);
		}
		s_item_free(it);
	}
	fairq_destroy(&cp->queue);
	budget_destroy(&cp->budget);
	outcome_log_destroy(&cp->outcomes);
	free(cp);
	*self_p = NULL;
}

json_t *contribute_status_json(const struct contribute *cp)
{
	uint64_t now = (uint64_t)clock_mono_ms();
	uint32_t awaiting = 0;

	for (struct item *it = cp->await_head; it; it = it->next)
		awaiting++;
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I}",
			 "via",
			 cp->b->cfg.contribute_via == VIA_WS	 ? "ws"
			 : cp->b->cfg.contribute_via == VIA_AUTO ? "auto"
								 : "rest",
			 "ws_budget_left", (json_int_t)budget_left(cp->budget, now), "queued",
			 (json_int_t)fairq_count(cp->queue), "rest_inflight",
			 (json_int_t)rest_client_inflight(cp->b->rest), "ws_awaiting",
			 (json_int_t)awaiting, "submitted", (json_int_t)cp->n.submitted, "via_rest",
			 (json_int_t)cp->n.via_rest, "via_ws", (json_int_t)cp->n.via_ws,
			 "confirmed", (json_int_t)cp->n.confirmed, "rejected",
			 (json_int_t)cp->n.rejected, "unknown", (json_int_t)cp->n.unknown,
			 "rate_limited", (json_int_t)cp->n.rate_limited, "not_connected",
			 (json_int_t)cp->n.not_connected, "repeats", (json_int_t)cp->n.repeats,
			 "shutting_down", (json_int_t)cp->n.shutting_down);
}

void contribute_on_upstream_change(struct contribute *cp)
{
	if (cp && !cp->shutting_down)
		s_pump(cp);
}

/* Errors that answer the connection, not a contribute. */
static bool s_connection_error(const char *msg)
{
	return strstr(msg, "rate limit") || strcmp(msg, "Invalid message") == 0 ||
	       strncmp(msg, "Authentication", 14) == 0;
}

void contribute_on_ws_reply(struct contribute *cp, struct norm_event *ev)
{
	struct item *it;
	char msg[600];

	if (ev->kind == NORM_ERROR && s_connection_error(ev->reply_text))
		return;
	it = s_await_pop(cp);
	if (!it) {
		log_warn("contribute: a WebSocket reply with no contribute waiting for it");
		return;
	}
	if (ev->kind == NORM_CONTRIBUTE_OK) {
		cp->n.confirmed++;
		if (it->answered) /* timed out earlier: the log learns what happened */
			outcome_log_finish(cp->outcomes, it->idkey, OUTCOME_CONFIRMED, NULL);
		else
			s_answer(it, s_success(it, "ws", json_incref(ev->data)), OUTCOME_CONFIRMED);
	} else {
		cp->n.rejected++;
		snprintf(msg, sizeof(msg), "%s", ev->reply_text);
		if (it->answered)
			outcome_log_finish(cp->outcomes, it->idkey, OUTCOME_REJECTED, NULL);
		else
			s_answer(it, s_error(it, "upstream_rejected", msg, -1, 0),
				 OUTCOME_REJECTED);
	}
	it->st = IT_GONE;
	s_item_free(it);
}

void contribute_on_ws_sent(struct contribute *cp, void *tag)
{
	struct item *it = tag;

	it->st = IT_WS_SENT;
	s_await_push(cp, it);
}

void contribute_on_ws_unsent(struct contribute *cp, void *tag)
{
	struct item *it = tag;

	/* never written: safe to send again later, within its timeout */
	it->st = IT_QUEUED;
	if (cp->shutting_down || it->answered ||
	    fairq_push(cp->queue, it->client, it->client_len, it) != 0) {
		cp->n.shutting_down++;
		s_answer(it, s_error(it, "shutting_down", "the bridge is stopping", -1, 0), -1);
		it->st = IT_GONE;
		s_item_free(it);
		return;
	}
	s_arm_deadline(cp);
}

void contribute_on_ws_disconnected(struct contribute *cp)
{
	struct item *it;

	while ((it = s_await_pop(cp))) {
		if (!it->answered) {
			cp->n.unknown++;
			s_answer(it,
				 s_error(it, "outcome_unknown",
					 "the connection closed after the contribute was sent and "
					 "before its reply: it may or may not have been applied",
					 -1, 0),
				 OUTCOME_UNKNOWN);
		}
		it->st = IT_GONE;
		s_item_free(it);
	}
}
