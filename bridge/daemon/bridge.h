/* bridge.h: the daemon's state, shared by the modules that make up its loop. */
#ifndef PP_BRIDGE_H
#define PP_BRIDGE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "keyfile.h"
#include "normalize.h"
#include "timerq.h"

struct publisher;
struct upstream;
struct fdwatch;
struct commands;
struct rest_client;
struct inbox;
struct curve;
struct timers;
struct shtext_bin;

/* Event kinds counted in status (by envelope type). */
enum ev_kind { EVK_SESSION_OPENED, EVK_SESSION_CLOSED, EVK_CONTRIBUTION, EVK_UPSTREAM, EVK_COUNT };

struct bridge_counters {
	uint64_t in_live[EVK_COUNT];  /* normalized events from the WebSocket */
	uint64_t in_inbox[EVK_COUNT]; /* normalized events from the inbox */
	uint64_t out[EVK_COUNT];      /* published */
	uint64_t duplicates;	      /* skipped: id already published */
};

struct bridge {
	struct config cfg;
	char key[API_KEY_MAX];
	const char *key_ptr; /* == key: what the REST client reads for each request */
	char run[33];
	struct lws_context *lws;
	struct lws_vhost *vh;
	struct timers *timers; /* every timer of the daemon (timers.h) */
	SSL_CTX *tls;	       /* the one client TLS context: lws' (REST) and the upstream's */
	void *zctx;
	struct shtext_bin *bin; /* envelopes ZeroMQ released last; outlives zctx */
	struct publisher *pub;
	struct fdwatch *pub_watch;
	struct curve *curve; /* CurveZMQ and its ZAP handler; NULL when not configured */
	struct upstream *up;
	struct commands *cmds;
	struct rest_client *rest;
	struct inbox *inbox;
	struct fdwatch *sig_watch;
	int sigfd;
	bool stopping;
	bool done;
	struct timer stop_timer;     /* bounds the time a shutdown may take */
	struct timer stall_timer;    /* bounds how long a full subscriber holds us */
	bool pub_held;		     /* a full subscriber holds envelopes: upstream paused */
	struct timer watchdog_timer; /* WATCHDOG=1 when systemd asks for it */
	uint64_t watchdog_usec;
	bool ready;			  /* READY=1 sent to systemd */
	char events_path[CONFIG_STR_MAX]; /* ipc socket files to remove at exit */
	char commands_path[CONFIG_STR_MAX];
	struct bridge_counters counters;
};

/* Run the daemon with cfg (already loaded and validated) and the key (already read).
 * Returns the process exit status: 0 after a clean stop, 1 on a runtime failure, 2 when an
 * endpoint cannot be used (one line on stderr says which). */
int bridge_run(const struct config *cfg, const char *key);

/* Publish an event normalized from upstream or the inbox (source "live"/"inbox"), with
 * counting. Returns 0 published, 1 duplicate, -1 failure. */
int bridge_publish_event(struct bridge *b, const struct norm_event *ev, const char *source);

/* Publish a bridge.* event (data borrowed). Every send on the PUB socket goes through here or
 * bridge_publish_event: both re-check the socket afterwards, since a send can consume the
 * edge of ZMQ_FD and leave a new subscription unseen (and its bridge.status unsent). */
int bridge_publish_bridge(struct bridge *b, const char *type, json_t *data);

#endif
