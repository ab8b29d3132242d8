/* upstream.h: the one WebSocket to the Pulse server: connect, authenticate, keep alive,
 * reconnect with back-off, and hand every frame to the normalizer. */
#ifndef PP_UPSTREAM_H
#define PP_UPSTREAM_H

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "normalize.h"

struct timers;

enum up_state {
	UP_CONNECTING,
	UP_CONNECTED,
	UP_BACKOFF,
	UP_AUTH_FAILED,
	UP_SUPERSEDED,
	UP_RATE_LIMITED,
	UP_STOPPING
};

struct upstream_cbs {
	/* A pushed event (ev->kind == NORM_EVENT). ev is cleared by upstream after the call. */
	void (*on_event)(void *ud, struct norm_event *ev);
	/* A reply after auth (NORM_CONTRIBUTE_OK or NORM_ERROR), in server order. */
	void (*on_reply)(void *ud, struct norm_event *ev);
	/* The state or its details changed: publish bridge.status. */
	void (*on_state)(void *ud);
	/* auth_ok: a new upstream session began (gap recovery starts here). */
	void (*on_connected)(void *ud);
	/* A message queued with upstream_send() was written to the socket. */
	void (*on_sent)(void *ud, void *tag);
	/* The connection ended: called once for each message still queued (never written),
	 * then on_disconnected once. Messages already written got on_sent and no answer may
	 * ever come for them. */
	void (*on_unsent)(void *ud, void *tag);
	void (*on_disconnected)(void *ud);
	/* Before a retry that follows an auth failure: re-read the key (returns 0 if ok). */
	int (*reload_key)(void *ud);
	/* The connection is closed after upstream_stop(): the loop may end. */
	void (*on_stopped)(void *ud);
};

struct upstream_stats {
	uint64_t frames;	/* text frames received */
	uint64_t skipped;	/* frames that could not be normalized */
	uint64_t connects;	/* connection attempts */
	uint64_t reconnects;	/* attempts after the first */
	uint64_t auth_ok;	/* successful authentications */
	uint64_t messages_sent; /* application messages written (auth excluded) */
	uint64_t pings_sent;	/* protocol PING frames */
	uint64_t dead;		/* connections declared dead by keep-alive */
};

/* timers, cfg, key and tls_ctx (the client SSL_CTX for wss://, from tlsmem_ctx_new()) are
 * borrowed and must outlive the upstream; key is re-read at each connect (the bridge
 * rewrites it on SIGHUP or after an auth failure). */
struct upstream *upstream_new(struct lws_context *ctx, struct lws_vhost *vh, struct timers *timers,
			      SSL_CTX *tls_ctx, const struct config *cfg, const char *key,
			      const struct upstream_cbs *cbs, void *ud, char *err, size_t errlen);
void upstream_destroy(struct upstream **self_p);

void upstream_start(struct upstream *up);
/* Close with 1000 and stop retrying; on_stopped follows (at once if not connected). */
void upstream_stop(struct upstream *up);
/* Drop the connection (1000) and connect again now, with a fresh back-off: after SIGHUP
 * brought a new key. */
void upstream_restart(struct upstream *up);

/* Queue one application message (a JSON text, copied). Only when connected; returns 0, or
 * -1 when not connected or out of memory (nothing queued). tag comes back in on_sent or
 * on_unsent. */
int upstream_send(struct upstream *up, const char *text, size_t len, void *tag);

/* Stop (true) or resume reading upstream events: while the subscribers catch up, TCP
 * holds what the server sends. */
void upstream_pause(struct upstream *up, bool pause);

enum up_state upstream_state(const struct upstream *up);
const char *upstream_state_name(enum up_state st);
bool upstream_connected(const struct upstream *up);
/* The agent id from the last auth_ok, or NULL. */
const char *upstream_agent_id(const struct upstream *up);
/* bridge.status data: state, agent_id, since, attempt, next_retry_ms, last_close_code,
 * last_error. Returns a new reference. */
json_t *upstream_status_json(const struct upstream *up);
const struct upstream_stats *upstream_stats(const struct upstream *up);

#endif
