/* bridge.c: the daemon's life cycle: build the loop (one lws context, one thread), wire
 * upstream -> normalizer -> publisher, handle signals, and tear down in order
 * (lws context, then ZeroMQ sockets with a bounded linger, then the ZeroMQ context). */
#include "bridge.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <unistd.h>
#include <zmq.h>

#include "commands.h"
#include "curve.h"
#include "endpoint.h"
#include "fdwatch.h"
#include "inbox.h"
#include "log.h"
#include "notify.h"
#include "publisher.h"
#include "rest.h"
#include "shtext.h"
#include "signals.h"
#include "timers.h"
#include "tlsmem.h"
#include "upstream.h"
#include "wsclient.h"

#define STOP_BOUND_MS 1500 /* the most a clean stop may wait for the upstream close */

static enum ev_kind s_kind_of(const char *type)
{
	if (strcmp(type, "session.opened") == 0)
		return EVK_SESSION_OPENED;
	if (strcmp(type, "session.closed") == 0)
		return EVK_SESSION_CLOSED;
	if (strcmp(type, "contribution.received") == 0)
		return EVK_CONTRIBUTION;
	return EVK_UPSTREAM;
}

int bridge_publish_event(struct bridge *b, const struct norm_event *ev, const char *source)
{
	enum ev_kind k = s_kind_of(ev->type);
	int rc;

	if (strcmp(source, "inbox") == 0)
		b->counters.in_inbox[k]++;
	else
		b->counters.in_live[k]++;
	rc = publisher_event(b->pub, ev, source, upstream_agent_id(b->up));
	if (rc == 0)
		b->counters.out[k]++;
	else if (rc == 1)
		b->counters.duplicates++;
	return rc;
}

int bridge_publish_bridge(struct bridge *b, const char *type, json_t *data)
{
	return publisher_bridge(b->pub, type, data, upstream_agent_id(b->up));
}

/* ---- upstream callbacks ------------------------------------------------------------ */

static void s_on_event(void *ud, struct norm_event *ev)
{
	bridge_publish_event(ud, ev, "live");
}

/* systemd: READY=1 once the first connection is up or the first attempt failed (the
 * daemon is then serving its sockets either way), and a STATUS= line on every change. */
static void s_notify_state(struct bridge *b)
{
	enum up_state st = upstream_state(b->up);
	char line[160];

	if (!b->ready && st != UP_CONNECTING && st != UP_STOPPING) {
		b->ready = true;
		notify_send("READY=1");
	}
	snprintf(line, sizeof(line), "STATUS=upstream %s", upstream_state_name(st));
	notify_send(line);
}

static void s_on_state(void *ud)
{
	struct bridge *b = ud;
	json_t *data = upstream_status_json(b->up);

	s_notify_state(b);
	if (!data)
		return;
	if (bridge_publish_bridge(b, "bridge.status", data) != 0)
		log_warn("cannot publish bridge.status");
	json_decref(data);
	if (b->cmds)
		commands_on_upstream_state(b->cmds);
}

static void s_on_connected(void *ud)
{
	struct bridge *b = ud;

	if (b->inbox)
		inbox_on_connected(b->inbox);
	if (b->cmds)
		commands_on_connected(b->cmds);
}

static void s_on_reply(void *ud, struct norm_event *ev)
{
	struct bridge *b = ud;

	if (b->cmds)
		commands_on_ws_reply(b->cmds, ev);
}

static void s_on_sent(void *ud, void *tag)
{
	struct bridge *b = ud;

	if (b->cmds)
		commands_on_ws_sent(b->cmds, tag);
}

static void s_on_unsent(void *ud, void *tag)
{
	struct bridge *b = ud;

	if (b->cmds)
		commands_on_ws_unsent(b->cmds, tag);
}

static void s_on_disconnected(void *ud)
{
	struct bridge *b = ud;

	if (b->cmds)
		commands_on_ws_disconnected(b->cmds);
	if (b->inbox)
		inbox_on_disconnected(b->inbox);
}

static int s_reload_key(void *ud)
{
	struct bridge *b = ud;
	char err[512], key[API_KEY_MAX];

	if (keyfile_read(b->cfg.api_key_file, key, err, sizeof(err)) != 0) {
		log_error("%s", err);
		return -1;
	}
	memcpy(b->key, key, sizeof(b->key));
	explicit_bzero(key, sizeof(key));
	log_set_secret(b->key);
	return 0;
}

static void s_on_stopped(void *ud)
{
	struct bridge *b = ud;

	b->done = true;
	lws_cancel_service(b->lws);
}

/* ---- signals ----------------------------------------------------------------------- */

static void s_stop_bound_cb(struct timer *t)
{
	struct bridge *b = lws_container_of(t, struct bridge, stop_timer);

	log_warn("stop: the upstream did not close within %d ms; leaving anyway", STOP_BOUND_MS);
	b->done = true;
}

static void s_begin_stop(struct bridge *b, int sig)
{
	if (b->stopping)
		return;
	b->stopping = true;
	notify_send("STOPPING=1");
	timer_stop(&b->watchdog_timer);
	log_info("stopping on signal %d", sig);
	timer_start(b->timers, &b->stop_timer, s_stop_bound_cb, (uint64_t)STOP_BOUND_MS * 1000);
	if (b->cmds)
		commands_shutdown(b->cmds);
	if (b->inbox)
		inbox_stop(b->inbox);
	upstream_stop(b->up);
}

static void s_reload_curve_clients(struct curve *cv)
{
	char err[512];

	if (curve_reload(cv, err, sizeof(err)) != 0)
		log_warn("SIGHUP: %s; keeping the current allow-list", err);
	else
		log_info("SIGHUP: %zu CurveZMQ client keys allowed", curve_clients(cv));
}

static void s_on_sighup(struct bridge *b)
{
	char old[API_KEY_MAX];

	memcpy(old, b->key, sizeof(old));
	if (s_reload_key(b) != 0) {
		log_warn("SIGHUP: keeping the current key");
	} else if (strcmp(old, b->key) != 0) {
		log_info("SIGHUP: the key changed; reconnecting");
		upstream_restart(b->up);
	} else {
		log_info("SIGHUP: the key is unchanged");
	}
	explicit_bzero(old, sizeof(old));
	if (b->curve)
		s_reload_curve_clients(b->curve);
}

static void s_on_signal_fd(void *ud)
{
	struct bridge *b = ud;
	int sig;

	while ((sig = signals_read(b->sigfd)) > 0) {
		if (sig == SIGHUP)
			s_on_sighup(b);
		else
			s_begin_stop(b, sig);
	}
}

static void s_watchdog_cb(struct timer *t)
{
	struct bridge *b = lws_container_of(t, struct bridge, watchdog_timer);

	/* the loop is alive if this timer runs: tell systemd, twice per interval */
	notify_send("WATCHDOG=1");
	timer_start(b->timers, &b->watchdog_timer, s_watchdog_cb, b->watchdog_usec / 2);
}

static void s_unhold(struct bridge *b)
{
	b->pub_held = false;
	timer_stop(&b->stall_timer);
	upstream_pause(b->up, false);
}

/* --pub-stall-ms without progress: the full subscriber misses what it holds (an overflow,
 * counted), the others get it, and upstream reading resumes. */
static void s_stall_cb(struct timer *t)
{
	struct bridge *b = lws_container_of(t, struct bridge, stall_timer);

	publisher_flush(b->pub);
	s_unhold(b);
	fdwatch_kick(b->pub_watch); /* the send may have taken ZMQ_FD's edge */
}

/* The pass's envelopes go out. A subscriber whose queue is full holds them, and the bridge
 * stops reading upstream (TCP holds the rest) until it has read its queue down to half
 * (ZMQ_FD wakes the loop, which tries again) or --pub-stall-ms pass without progress. */
static void s_publish(struct bridge *b)
{
	bool progress = false;

	if (!b->cfg.pub_stall_ms) {
		publisher_flush(b->pub);
		return;
	}
	if (publisher_try_flush(b->pub, &progress)) {
		if (b->pub_held)
			s_unhold(b);
		return;
	}
	if (!b->pub_held) {
		b->pub_held = true;
		upstream_pause(b->up, true);
	} else if (!progress) {
		return; /* the stall timer runs from the last progress */
	}
	timer_start(b->timers, &b->stall_timer, s_stall_cb, (uint64_t)b->cfg.pub_stall_ms * 1000);
}

static void s_on_pub_fd(void *ud)
{
	struct bridge *b = ud;

	if (publisher_drain(b->pub))
		fdwatch_kick(b->pub_watch); /* more than one batch waiting */
}

/* ---- setup and teardown -------------------------------------------------------------- */

static void s_lws_log(int level, const char *line)
{
	log_lws_emit(level, line);
}

static int s_make_run_id(char out[33])
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

static int s_create_lws(struct bridge *b, char *err, size_t errlen)
{
	static const struct lws_protocols *const list[] = {&wsclient_protocol, &rest_protocol,
							   &fdwatch_protocol};
	static struct lws_protocols protocols[4];
	struct lws_context_creation_info info;

	for (size_t i = 0; i < 3; i++)
		protocols[i] = *list[i];
	memset(&protocols[3], 0, sizeof(protocols[3]));
	lws_set_log_level(log_get_level() >= LOG_LVL_DEBUG ? LLL_ERR | LLL_WARN | LLL_NOTICE
							   : LLL_ERR | LLL_WARN,
			  s_lws_log);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = b;
	/* reads of up to 64 KiB (lws' default is 4): under load one pass then carries ~100
	 * events, published in one burst (publisher.c) */
	info.pt_serv_buf_size = 65536;
	/* one trust store in memory: lws' https:// clients and the upstream's TLS share it */
	b->tls = tlsmem_ctx_new(b->cfg.ca_file, err, errlen);
	if (!b->tls)
		return -1;
	info.provided_client_ssl_ctx = b->tls;
	/* lws' own handshake timeout must not cut the wait for a slow auth_ok short */
	info.timeout_secs = b->cfg.auth_timeout_ms / 1000 + 5;
	info.connect_timeout_secs = info.timeout_secs;
	b->lws = lws_create_context(&info);
	if (!b->lws) {
		snprintf(err, errlen, "cannot create the event loop (TLS set-up failed?%s)",
			 b->cfg.ca_file[0] ? " check --ca-file" : "");
		return -1;
	}
	b->vh = lws_get_vhost_by_name(b->lws, "default");
	if (!b->vh) {
		snprintf(err, errlen, "no default vhost");
		return -1;
	}
	b->timers = timers_new(b->lws, b->vh, err, errlen);
	return b->timers ? 0 : -1;
}

static int s_create_zmq(struct bridge *b, char *err, size_t errlen)
{
	if (endpoint_prepare("--events", b->cfg.events, b->events_path, sizeof(b->events_path), err,
			     errlen) != 0 ||
	    endpoint_prepare("--commands", b->cfg.commands, b->commands_path,
			     sizeof(b->commands_path), err, errlen) != 0)
		return -1;
	b->zctx = zmq_ctx_new();
	if (!b->zctx) {
		snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
		return -1;
	}
	/* the ZAP handler must be bound before any CURVE socket binds (see curve.h) */
	if (config_curve_enabled(&b->cfg) &&
	    !(b->curve = curve_new(b->zctx, b->lws, b->vh, b->cfg.curve_secret_file,
				   b->cfg.curve_clients, err, errlen)))
		return -1;
	const struct publisher_limits limits = {
	    .ring = b->cfg.replay_size, .dedup = b->cfg.dedup_size, .hwm = (int)b->cfg.pub_hwm};

	b->bin = shtext_bin_new();
	if (!b->bin) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->pub =
	    publisher_new(b->zctx, b->bin, b->curve, b->cfg.events, b->run, &limits, err, errlen);
	if (!b->pub)
		return -1;
	b->pub_watch =
	    fdwatch_new(b->lws, b->vh, publisher_fd(b->pub), s_on_pub_fd, b, err, errlen);
	return b->pub_watch ? 0 : -1;
}

static int s_create_modules(struct bridge *b, char *err, size_t errlen)
{
	static const struct upstream_cbs cbs = {
	    .on_event = s_on_event,
	    .on_reply = s_on_reply,
	    .on_state = s_on_state,
	    .on_connected = s_on_connected,
	    .on_sent = s_on_sent,
	    .on_unsent = s_on_unsent,
	    .on_disconnected = s_on_disconnected,
	    .reload_key = s_reload_key,
	    .on_stopped = s_on_stopped,
	};

	b->up =
	    upstream_new(b->lws, b->vh, b->timers, b->tls, &b->cfg, b->key, &cbs, b, err, errlen);
	if (!b->up)
		return -1;
	b->key_ptr = b->key;
	b->rest = rest_client_new(b->lws, b->vh, b->timers, b->cfg.rest_url, b->cfg.insecure,
				  &b->key_ptr, b->cfg.rest_inflight, err, errlen);
	if (!b->rest)
		return -1;
	b->cmds = commands_new(b, err, errlen);
	if (!b->cmds)
		return -1;
	if (!b->cfg.no_backfill) {
		b->inbox = inbox_new(b, err, errlen);
		if (!b->inbox)
			return -1;
	}
	return 0;
}

static void s_teardown(struct bridge *b)
{
	timer_stop(&b->stop_timer);
	timer_stop(&b->watchdog_timer);
	timer_stop(&b->stall_timer);
	/* REST first: its last answers still reach the inbox and the command pipeline; then
	 * the upstream, whose unsent messages are answered by the pipeline; then commands. */
	rest_client_destroy(&b->rest);
	inbox_destroy(&b->inbox);
	upstream_destroy(&b->up);
	commands_destroy(&b->cmds);
	fdwatch_destroy(&b->sig_watch);
	fdwatch_destroy(&b->pub_watch);
	curve_destroy(&b->curve);   /* its watch goes before the lws context */
	timers_destroy(&b->timers); /* so does the timerfd's, after every timer's owner */
	if (b->lws)
		lws_context_destroy(b->lws);
	b->lws = NULL;
	SSL_CTX_free(b->tls); /* lws does not free a provided context */
	b->tls = NULL;
	publisher_destroy(&b->pub);
	if (b->zctx)
		zmq_ctx_term(b->zctx);
	b->zctx = NULL;
	shtext_bin_destroy(&b->bin); /* ZeroMQ's threads are gone: nothing drops into it now */
	if (b->sigfd >= 0)
		close(b->sigfd);
	if (b->events_path[0])
		unlink(b->events_path);
	if (b->commands_path[0])
		unlink(b->commands_path);
	explicit_bzero(b->key, sizeof(b->key));
}

/* lws 4.1.6 waits in poll() for the time to its next timer rounded down to whole ms, then
 * polls without waiting until the timer is due: up to 1 ms and hundreds of polls. Ours are
 * on a timerfd (timers.h), but lws keeps one of its own (housekeeping, every 30 s). With a
 * 1 ms timer slack the kernel may end a poll() timeout up to 1 ms late, which carries that
 * rounded-down wait past the timer. Sockets and the timerfd still wake the loop at once;
 * the slack is inherited by ZeroMQ's threads, whose timers are all of seconds. */
static void s_no_poll_spin(void)
{
	if (prctl(PR_SET_TIMERSLACK, 1000000UL, 0UL, 0UL, 0UL) != 0)
		log_warn("prctl(PR_SET_TIMERSLACK): %s", strerror(errno));
}

int bridge_run(const struct config *cfg, const char *key)
{
	static struct bridge bridge; /* one per process; static keeps it off the stack */
	struct bridge *b = &bridge;
	char err[512];
	int status = 1;

	memset(b, 0, sizeof(*b));
	b->cfg = *cfg;
	snprintf(b->key, sizeof(b->key), "%s", key);
	s_no_poll_spin();
	b->sigfd = signals_open(); /* before any thread: ZeroMQ's threads inherit the mask */
	if (b->sigfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		goto out;
	}
	if (s_make_run_id(b->run) != 0) {
		log_error("no randomness for the run id");
		goto out;
	}
	if (s_create_lws(b, err, sizeof(err)) != 0)
		goto fail;
	if (s_create_zmq(b, err, sizeof(err)) != 0 || s_create_modules(b, err, sizeof(err)) != 0) {
		status = 2;
		goto fail;
	}
	b->sig_watch = fdwatch_new(b->lws, b->vh, b->sigfd, s_on_signal_fd, b, err, sizeof(err));
	if (!b->sig_watch)
		goto fail;
	log_info("run %s: events on %s, commands on %s", b->run, b->cfg.events, b->cfg.commands);
	b->watchdog_usec = notify_watchdog_usec();
	if (b->watchdog_usec)
		s_watchdog_cb(&b->watchdog_timer);
	upstream_start(b->up);
	while (!b->done) {
		/* what the last pass (or the start-up) published goes out in one burst before
		 * the loop waits again (publisher.c says why); any send of the pass, this flush
		 * or one made by a replay, can consume ZMQ_FD's edge: look again */
		s_publish(b);
		if (publisher_take_sent(b->pub))
			fdwatch_kick(b->pub_watch);
		timers_arm(b->timers); /* what this pass started or stopped */
		if (lws_service(b->lws, 0) < 0)
			break;
	}
	status = b->done ? 0 : 1;
	log_info("stopped");
	goto out;
fail:
	log_error("%s", err);
out:
	s_teardown(b);
	return status;
}
