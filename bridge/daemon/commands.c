/* commands.c: owns the ROUTER command socket: framing, dispatch, and the promise that every
 * request gets exactly one reply (a REQ client left without one would hang forever).
 *
 * Framing: a REQ client's message arrives as [identity][""][request]; a DEALER client may
 * send the empty delimiter or not. Everything up to and including the first empty frame is
 * the return address and is sent back unchanged in front of the reply. */
#include "commands.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bridge.h"
#include "command.h"
#include "contribute.h"
#include "curve.h"
#include "dlist.h"
#include "fdwatch.h"
#include "inbox.h"
#include "log.h"
#include "publisher.h"
#include "upstream.h"

#define DRAIN_BATCH   128
#define MAX_FRAMES    8
#define ADDR_MAX      256	    /* ZeroMQ routing ids are at most 255 bytes */
#define MAX_MSG_BYTES (1024 * 1024) /* ZMQ_MAXMSGSIZE: bigger frames drop the peer */
#define LINGER_MS     500
#define REPLY_HWM     100000 /* replies queued for one client that has not read them yet */

/* Reply counters by result, reported by status. */
static const char *const RESULT_NAMES[] = {"ok",
					   "bad_request",
					   "unknown_command",
					   "not_found",
					   "too_large",
					   "unsafe_content",
					   "rate_limited",
					   "not_connected",
					   "upstream_rejected",
					   "outcome_unknown",
					   "shutting_down",
					   "other"};
#define N_RESULTS (sizeof(RESULT_NAMES) / sizeof(RESULT_NAMES[0]))

struct addr {
	unsigned char id[ADDR_MAX];
	size_t id_len;
	bool delim; /* the request had an empty delimiter frame: send one back */
};

/* A request waiting for its reply (only contribute waits; the rest answer at once). */
struct pending {
	struct commands *c;
	struct dlist_node link; /* in c->pending */
	struct addr addr;
};

struct commands {
	struct bridge *b;
	void *sock;
	struct fdwatch *watch;
	struct contribute *cp;
	struct dlist pending; /* for shutdown */
	bool shutting_down;
	uint64_t requests;
	uint64_t dropped;   /* replies ZeroMQ could not route (client gone) */
	uint64_t malformed; /* messages without a usable envelope, dropped */
	uint64_t results[N_RESULTS];
};

/* ---- replies ----------------------------------------------------------------------- */

static void s_count(struct commands *c, json_t *reply)
{
	json_t *ok = json_object_get(reply, "ok");
	const char *code = NULL;
	size_t i;

	if (json_is_true(ok)) {
		c->results[0]++;
		return;
	}
	code = json_string_value(json_object_get(json_object_get(reply, "error"), "code"));
	for (i = 1; code && i < N_RESULTS - 1; i++)
		if (strcmp(code, RESULT_NAMES[i]) == 0)
			break;
	c->results[code && i < N_RESULTS ? i : N_RESULTS - 1]++;
}

/* Send reply (borrowed) to addr. */
static void s_send(struct commands *c, const struct addr *a, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	int rc;

	s_count(c, reply);
	if (!text) {
		log_error("commands: cannot serialize a reply (out of memory)");
		c->dropped++;
		return;
	}
	rc = zmq_send(c->sock, a->id, a->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (rc >= 0 && a->delim)
		rc = zmq_send(c->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
	if (rc >= 0)
		rc = zmq_send(c->sock, text, strlen(text), ZMQ_DONTWAIT);
	if (rc < 0) {
		c->dropped++;
		log_debug("commands: reply not delivered: %s", zmq_strerror(errno));
	}
	free(text);
	fdwatch_kick(c->watch); /* a send can consume ZMQ_FD's edge */
}

static void s_send_error(struct commands *c, const struct addr *a, json_t *id, const char *code,
			 const char *msg)
{
	json_t *r = cmd_error_reply(id, code, msg, -1, 0);

	/* every request gets a reply, even when this one cannot be built (out of memory, or a
	 * message jansson refuses): a REQ client without one would hang */
	if (!r)
		r = json_pack("{s:b, s:{s:s, s:s}}", "ok", 0, "error", "code", code, "message",
			      "the error message could not be encoded");
	if (r)
		s_send(c, a, r);
	else
		c->dropped++;
	json_decref(r);
}

/* Put "id" first-class into a reply built by a handler, echoing the request's id. */
static json_t *s_ok(json_t *id)
{
	json_t *r = json_object();

	if (!r)
		return NULL;
	json_object_set_new(r, "ok", json_true());
	if (id)
		json_object_set(r, "id", id);
	return r;
}

/* ---- handlers ---------------------------------------------------------------------- */

static json_t *s_counters_json(struct commands *c)
{
	static const char *const kinds[EVK_COUNT] = {"session.opened", "session.closed",
						     "contribution.received", "upstream"};
	const struct bridge_counters *bc = &c->b->counters;
	const struct upstream_stats *us = upstream_stats(c->b->up);
	const struct publisher_stats *ps = publisher_stats(c->b->pub);
	json_t *o = json_object(), *in = json_object(), *inbox = json_object(),
	       *out = json_object(), *cmds = json_object();

	for (int k = 0; k < EVK_COUNT; k++) {
		json_object_set_new(in, kinds[k], json_integer((json_int_t)bc->in_live[k]));
		json_object_set_new(inbox, kinds[k], json_integer((json_int_t)bc->in_inbox[k]));
		json_object_set_new(out, kinds[k], json_integer((json_int_t)bc->out[k]));
	}
	for (size_t i = 0; i < N_RESULTS; i++)
		json_object_set_new(cmds, RESULT_NAMES[i], json_integer((json_int_t)c->results[i]));
	json_object_set_new(o, "events_in_live", in);
	json_object_set_new(o, "events_in_inbox", inbox);
	json_object_set_new(o, "events_out", out);
	json_object_set_new(o, "published", json_integer((json_int_t)ps->published));
	json_object_set_new(o, "duplicates", json_integer((json_int_t)bc->duplicates));
	json_object_set_new(o, "status_repeats", json_integer((json_int_t)ps->status_repeats));
	json_object_set_new(o, "publish_errors", json_integer((json_int_t)ps->send_errors));
	json_object_set_new(o, "subscriber_overflows", json_integer((json_int_t)ps->overflows));
	json_object_set_new(o, "subscriber_holds", json_integer((json_int_t)ps->holds));
	json_object_set_new(o, "frames", json_integer((json_int_t)us->frames));
	json_object_set_new(o, "skipped_frames", json_integer((json_int_t)us->skipped));
	json_object_set_new(o, "connects", json_integer((json_int_t)us->connects));
	json_object_set_new(o, "reconnects", json_integer((json_int_t)us->reconnects));
	json_object_set_new(o, "dead_connections", json_integer((json_int_t)us->dead));
	json_object_set_new(o, "ws_messages_sent", json_integer((json_int_t)us->messages_sent));
	json_object_set_new(o, "commands", cmds);
	json_object_set_new(o, "requests", json_integer((json_int_t)c->requests));
	json_object_set_new(o, "replies_undeliverable", json_integer((json_int_t)c->dropped));
	json_object_set_new(o, "malformed_messages", json_integer((json_int_t)c->malformed));
	return o;
}

static json_t *s_status(struct commands *c, json_t *id)
{
	json_t *r = s_ok(id), *st = upstream_status_json(c->b->up);
	const char *agent = upstream_agent_id(c->b->up);

	if (!r || !st) {
		json_decref(r);
		json_decref(st);
		return NULL;
	}
	json_object_set(r, "state", json_object_get(st, "state"));
	json_object_set_new(r, "agent_id", agent ? json_string(agent) : json_null());
	json_object_set_new(r, "run", json_string(c->b->run));
	json_object_set_new(r, "last_seq", json_integer((json_int_t)publisher_last_seq(c->b->pub)));
	json_object_set_new(r, "counters", s_counters_json(c));
	json_object_set_new(r, "version", json_string(PP_VERSION));
	json_object_set_new(r, "upstream", st); /* the full bridge.status data */
	json_object_set_new(r, "contribute", contribute_status_json(c->cp));
	if (c->b->inbox)
		json_object_set_new(r, "inbox", inbox_status_json(c->b->inbox));
	return r;
}

static int s_replay_one(void *ud, uint64_t seq, const char *text, size_t len)
{
	json_t *events = ud, *ev = json_loadb(text, len, 0, NULL);

	(void)seq;
	if (ev)
		json_array_append_new(events, ev);
	return 0;
}

static json_t *s_replay(struct commands *c, const struct cmd_request *req)
{
	json_t *r = s_ok(req->id), *events = json_array();
	uint64_t oldest = 0;

	if (!r || !events) {
		json_decref(r);
		json_decref(events);
		return NULL;
	}
	publisher_replay(c->b->pub, req->after_seq, req->limit, s_replay_one, events, &oldest);
	json_object_set_new(r, "run", json_string(c->b->run));
	json_object_set_new(r, "events", events);
	json_object_set_new(r, "oldest_seq", json_integer((json_int_t)oldest));
	json_object_set_new(r, "last_seq", json_integer((json_int_t)publisher_last_seq(c->b->pub)));
	return r;
}

static void s_contribute_done(void *ud, json_t *reply)
{
	struct pending *p = ud;
	struct commands *c = p->c;

	if (reply)
		s_send(c, &p->addr, reply);
	else
		s_send_error(c, &p->addr, NULL, "outcome_unknown", "internal error building reply");
	json_decref(reply);
	dlist_remove(&c->pending, &p->link);
	free(p);
}

static void s_contribute(struct commands *c, const struct addr *a, struct cmd_request *req)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p) {
		s_send_error(c, a, req->id, "shutting_down", "out of memory");
		return;
	}
	p->c = c;
	p->addr = *a;
	dlist_push_front(&c->pending, &p->link);
	contribute_submit(c->cp, a->id, a->id_len, req, s_contribute_done, p);
}

static void s_dispatch(struct commands *c, const struct addr *a, const char *body, size_t len)
{
	struct cmd_request req;
	struct cmd_error err;
	json_t *id = NULL, *r = NULL;

	if (cmd_parse(body, len, &req, &id, &err) != 0) {
		s_send_error(c, a, id, err.code, err.message);
		json_decref(id);
		return;
	}
	if (c->shutting_down) {
		s_send_error(c, a, req.id, "shutting_down", "the bridge is stopping");
		cmd_request_clear(&req);
		return;
	}
	switch (req.kind) {
	case CMD_PING:
		r = s_ok(req.id);
		break;
	case CMD_STATUS:
		r = s_status(c, req.id);
		break;
	case CMD_REPLAY:
		r = s_replay(c, &req);
		break;
	case CMD_OUTCOME:
		r = contribute_outcome(c->cp, req.id);
		break;
	case CMD_CONTRIBUTE:
		s_contribute(c, a, &req); /* answers later, through s_contribute_done */
		cmd_request_clear(&req);
		return;
	}
	if (r)
		s_send(c, a, r);
	else
		s_send_error(c, a, req.id, "bad_request", "internal error building the reply");
	json_decref(r);
	cmd_request_clear(&req);
}

/* ---- receiving --------------------------------------------------------------------- */

/* Read one whole message (ZeroMQ delivers all frames of a message or none). Frames past
 * MAX_FRAMES are read and dropped; the count still says the request was malformed.
 * Returns false when nothing was waiting. */
static bool s_recv_one(struct commands *c)
{
	zmq_msg_t frames[MAX_FRAMES];
	int n = 0, kept = 0, more = 1, body;
	struct addr a;

	while (more) {
		zmq_msg_t scratch, *m = kept < MAX_FRAMES ? &frames[kept] : &scratch;
		size_t sz = sizeof(more);

		zmq_msg_init(m);
		if (zmq_msg_recv(m, c->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			break;
		}
		n++;
		zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &sz);
		if (m == &scratch)
			zmq_msg_close(m);
		else
			kept++;
	}
	if (n == 0)
		return false;
	c->requests++;
	memset(&a, 0, sizeof(a));
	a.id_len = zmq_msg_size(&frames[0]);
	if (a.id_len > ADDR_MAX)
		a.id_len = ADDR_MAX;
	memcpy(a.id, zmq_msg_data(&frames[0]), a.id_len);
	body = 1;
	if (kept > 1 && zmq_msg_size(&frames[1]) == 0) {
		a.delim = true;
		body = 2;
	}
	if (body >= n || n - body > 1)
		c->malformed++;
	if (body >= n)
		s_send_error(c, &a, NULL, "bad_request", "empty request: expected one JSON object");
	else if (n - body > 1)
		s_send_error(c, &a, NULL, "bad_request",
			     "a request is one frame holding one JSON object");
	else
		s_dispatch(c, &a, zmq_msg_data(&frames[body]), zmq_msg_size(&frames[body]));
	for (int i = 0; i < kept; i++)
		zmq_msg_close(&frames[i]);
	return true;
}

static void s_on_fd(void *ud)
{
	struct commands *c = ud;

	for (int i = 0; i < DRAIN_BATCH; i++) {
		int ev = 0;
		size_t sz = sizeof(ev);

		if (zmq_getsockopt(c->sock, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN))
			return;
		if (!s_recv_one(c))
			return;
	}
	fdwatch_kick(c->watch); /* more waiting: continue after other work had its turn */
}

/* ---- life cycle ------------------------------------------------------------------- */

struct commands *commands_new(struct bridge *b, char *err, size_t errlen)
{
	struct commands *c = calloc(1, sizeof(*c));
	int one = 1, linger = LINGER_MS, fd = -1, reply_hwm = REPLY_HWM;
	int64_t maxmsg = MAX_MSG_BYTES;
	size_t sz = sizeof(fd);

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->b = b;
	c->sock = zmq_socket(b->zctx, ZMQ_ROUTER);
	if (!c->sock) {
		snprintf(err, errlen, "commands socket: %s", zmq_strerror(errno));
		goto fail;
	}
	/* unroutable replies become errors we count, not silent drops */
	zmq_setsockopt(c->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	/* a client owes nothing for reading its replies late: with ZeroMQ's default queue of
	 * 1,000 a client with more requests in flight lost the rest (replies are small) */
	zmq_setsockopt(c->sock, ZMQ_SNDHWM, &reply_hwm, sizeof(reply_hwm));
	zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (curve_bind(b->curve, c->sock, b->cfg.commands, "--commands", err, errlen) != 0)
		goto fail;
	c->cp = contribute_new(b, err, errlen);
	if (!c->cp)
		goto fail;
	zmq_getsockopt(c->sock, ZMQ_FD, &fd, &sz);
	c->watch = fdwatch_new(b->lws, b->vh, fd, s_on_fd, c, err, errlen);
	if (!c->watch)
		goto fail;
	return c;
fail:
	commands_destroy(&c);
	return NULL;
}

void commands_shutdown(struct commands *c)
{
	c->shutting_down = true;
	contribute_shutdown(c->cp); /* answers every pending contribute through the list */
}

void commands_destroy(struct commands **self_p)
{
	struct commands *c;
	struct pending *p;

	if (!self_p || !*self_p)
		return;
	c = *self_p;
	if (c->cp) {
		c->shutting_down = true;
		contribute_destroy(&c->cp); /* answers what is left */
	}
	/* cannot happen: contribute answers all; never leak anyway */
	while ((p = dlist_first(&c->pending, struct pending, link))) {
		dlist_remove(&c->pending, &p->link);
		free(p);
	}
	fdwatch_destroy(&c->watch);
	if (c->sock)
		zmq_close(c->sock);
	free(c);
	*self_p = NULL;
}

void commands_on_upstream_state(struct commands *c)
{
	contribute_on_upstream_change(c->cp);
}

void commands_on_connected(struct commands *c)
{
	contribute_on_upstream_change(c->cp);
}

void commands_on_ws_reply(struct commands *c, struct norm_event *ev)
{
	contribute_on_ws_reply(c->cp, ev);
}

void commands_on_ws_sent(struct commands *c, void *tag)
{
	contribute_on_ws_sent(c->cp, tag);
}

void commands_on_ws_unsent(struct commands *c, void *tag)
{
	contribute_on_ws_unsent(c->cp, tag);
}

void commands_on_ws_disconnected(struct commands *c)
{
	contribute_on_ws_disconnected(c->cp);
}
