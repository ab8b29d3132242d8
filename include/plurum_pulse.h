/* plurum_pulse.h: the public interface of plurum-pulse-bridge for local programs.
 *
 * Topic and envelope names of the bridge's PUB socket, and a small client library
 * (libplurum-pulse) to subscribe to events and to send commands. See README.md for the
 * envelope and the command reference. All functions are thread-compatible (one object,
 * one thread), none is async-signal-safe. */
#ifndef PLURUM_PULSE_H
#define PLURUM_PULSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Envelope format version ("v"). */
#define PPULSE_ENVELOPE_VERSION 1

/* Topics (prefixes for subscribing). */
#define PPULSE_TOPIC_ALL		   ""
#define PPULSE_TOPIC_SESSION		   "session."
#define PPULSE_TOPIC_SESSION_OPENED	   "session.opened."
#define PPULSE_TOPIC_SESSION_CLOSED	   "session.closed."
#define PPULSE_TOPIC_CONTRIBUTION_RECEIVED "contribution.received."
#define PPULSE_TOPIC_BRIDGE_STATUS	   "bridge.status"
#define PPULSE_TOPIC_BRIDGE_RECOVERY	   "bridge.recovery"
#define PPULSE_TOPIC_UPSTREAM		   "upstream."

/* Envelope "type" values. */
#define PPULSE_TYPE_SESSION_OPENED	  "session.opened"
#define PPULSE_TYPE_SESSION_CLOSED	  "session.closed"
#define PPULSE_TYPE_CONTRIBUTION_RECEIVED "contribution.received"
#define PPULSE_TYPE_BRIDGE_STATUS	  "bridge.status"
#define PPULSE_TYPE_BRIDGE_RECOVERY	  "bridge.recovery"

/* Envelope member names, in the order the bridge writes them. */
#define PPULSE_F_V	     "v"
#define PPULSE_F_RUN	     "run"
#define PPULSE_F_SEQ	     "seq"
#define PPULSE_F_ID	     "id"
#define PPULSE_F_TYPE	     "type"
#define PPULSE_F_SOURCE	     "source"
#define PPULSE_F_RECEIVED_AT "received_at"
#define PPULSE_F_AGENT_ID    "agent_id"
#define PPULSE_F_DATA	     "data"

/* "source" values. */
#define PPULSE_SOURCE_LIVE   "live"
#define PPULSE_SOURCE_INBOX  "inbox"
#define PPULSE_SOURCE_BRIDGE "bridge"

/* Environment variables naming the bridge's endpoints (also read by the client library). */
#define PPULSE_ENV_EVENTS   "PLURUM_PULSE_EVENTS"
#define PPULSE_ENV_COMMANDS "PLURUM_PULSE_COMMANDS"

/* Return codes of the client library. */
enum ppulse_rc {
	PPULSE_OK = 0,
	PPULSE_ETIMEOUT = -1, /* nothing within the timeout (the bridge may not be running) */
	PPULSE_EINVAL = -2,   /* bad argument */
	PPULSE_EIO = -3,      /* a ZeroMQ call failed; ppulse_strerror() says why */
	PPULSE_EINTR = -4,    /* interrupted by a signal */
	PPULSE_ENOMEM = -5
};

/* A static description of a return code. */
const char *ppulse_strerror(int rc);

/* The default endpoints, as the bridge computes them: an ipc:// path in
 * $XDG_RUNTIME_DIR/plurum-pulse/ (else /tmp/plurum-pulse-$UID/), unless the environment
 * variable names another. Writes into out; returns PPULSE_OK or PPULSE_EINVAL when out is
 * too small. */
int ppulse_default_events_endpoint(char *out, size_t outlen);
int ppulse_default_commands_endpoint(char *out, size_t outlen);

/* ---- Subscribing ---------------------------------------------------------------- */

typedef struct ppulse_sub ppulse_sub_t;

/* A subscriber connected to endpoint (NULL = the default) with the given topic prefixes
 * (n == 0 subscribes to everything). Returns NULL on failure, with a message in err. */
ppulse_sub_t *ppulse_sub_new(const char *endpoint, const char *const *prefixes, size_t n, char *err,
			     size_t errlen);
/* Close and free; sets *self_p to NULL. Safe on NULL. */
void ppulse_sub_destroy(ppulse_sub_t **self_p);

/* One event as received: both strings NUL-terminated and owned by the caller, who frees
 * them with ppulse_event_clear(). */
typedef struct ppulse_event {
	char *topic;
	char *envelope; /* the JSON envelope */
	size_t envelope_len;
} ppulse_event_t;

/* Wait up to timeout_ms (-1 forever) for the next event.
 * Returns PPULSE_OK, PPULSE_ETIMEOUT, PPULSE_EINTR or PPULSE_EIO. Malformed messages (not
 * two frames) are skipped. */
int ppulse_sub_recv(ppulse_sub_t *sub, ppulse_event_t *ev, int timeout_ms);
void ppulse_event_clear(ppulse_event_t *ev);

/* The ZeroMQ socket, for programs that poll several sockets (do not close it). */
void *ppulse_sub_zsocket(ppulse_sub_t *sub);

/* ---- Commands -------------------------------------------------------------------- */

typedef struct ppulse_ctl ppulse_ctl_t;

/* A command client (a DEALER socket) connected to endpoint (NULL = the default). */
ppulse_ctl_t *ppulse_ctl_new(const char *endpoint, char *err, size_t errlen);
void ppulse_ctl_destroy(ppulse_ctl_t **self_p);

/* Send one request (a JSON object text) and wait up to timeout_ms for its reply.
 * On PPULSE_OK *reply is a malloc'd NUL-terminated JSON text the caller frees.
 * After a timeout the client stays usable: a late reply to an earlier request is
 * discarded (the library matches replies to requests with its own "id" when the request
 * has none). */
int ppulse_ctl_request(ppulse_ctl_t *ctl, const char *request_json, char **reply, int timeout_ms);

/* Helpers that build the request and call ppulse_ctl_request().
 * content_json is a JSON object text; type may be NULL (suggestion); id may be NULL. */
int ppulse_ctl_contribute(ppulse_ctl_t *ctl, const char *session_id, const char *content_json,
			  const char *type, const char *id, uint32_t timeout_ms, char **reply,
			  int wait_ms);
int ppulse_ctl_status(ppulse_ctl_t *ctl, char **reply, int timeout_ms);
int ppulse_ctl_replay(ppulse_ctl_t *ctl, uint64_t after_seq, uint32_t limit, char **reply,
		      int timeout_ms);
int ppulse_ctl_outcome(ppulse_ctl_t *ctl, const char *id, char **reply, int timeout_ms);
int ppulse_ctl_ping(ppulse_ctl_t *ctl, char **reply, int timeout_ms);

/* ---- CurveZMQ: a bridge on another machine ------------------------------------- */

/* A bridge that binds tcp:// beyond loopback requires CurveZMQ (docs/curve.md): the
 * client needs the server's public key and its own key pair, whose public key is in the
 * bridge's allow-list (--curve-clients). Keys are Z85 text, 40 characters. Key files hold
 * one key, white space around it ignored: NAME.pub (public) and NAME.key (secret, mode
 * 0600), as written by plurum-pulse-keygen NAME. */
#define PPULSE_CURVE_KEY_LEN 40

/* Environment variables plurum-pulse-sub and plurum-pulse-ctl read when their flags are
 * absent: the file of the server's public key, and the file of the client's secret key. */
#define PPULSE_ENV_CURVE_SERVER_KEY "PLURUM_PULSE_CURVE_SERVER_KEY"
#define PPULSE_ENV_CURVE_CLIENT_KEY "PLURUM_PULSE_CURVE_CLIENT_KEY"

typedef struct ppulse_curve {
	char server_public[PPULSE_CURVE_KEY_LEN + 1]; /* Z85, NUL-terminated */
	char client_public[PPULSE_CURVE_KEY_LEN + 1];
	char client_secret[PPULSE_CURVE_KEY_LEN + 1];
} ppulse_curve_t;

/* Fill keys from server_public_file and client_secret_file (the client's public key is
 * derived from its secret). A NULL file name takes the file named by
 * PPULSE_ENV_CURVE_SERVER_KEY / PPULSE_ENV_CURVE_CLIENT_KEY. A secret file that group or others can
 * access is refused. Returns PPULSE_OK, or PPULSE_EINVAL / PPULSE_EIO with one line in err naming
 * the file (never the secret). Wipe keys with ppulse_curve_clear() when done. */
int ppulse_curve_load(ppulse_curve_t *keys, const char *server_public_file,
		      const char *client_secret_file, char *err, size_t errlen);
/* Overwrite the keys with zeros. */
void ppulse_curve_clear(ppulse_curve_t *keys);

/* As ppulse_sub_new() and ppulse_ctl_new(), as CurveZMQ clients of a bridge with the
 * server key keys->server_public (keys == NULL: no CurveZMQ, the same as the plain
 * constructors). The keys are copied into the socket; the caller may clear them after.
 * A bridge that refuses the key (not in its allow-list) is indistinguishable from one
 * that is not running: the subscriber receives nothing, requests time out. */
ppulse_sub_t *ppulse_sub_new_curve(const char *endpoint, const char *const *prefixes, size_t n,
				   const ppulse_curve_t *keys, char *err, size_t errlen);
ppulse_ctl_t *ppulse_ctl_new_curve(const char *endpoint, const ppulse_curve_t *keys, char *err,
				   size_t errlen);

/* Details of the command client (libplurum-pulse 0.x):
 * - Every request carries an "id". Without one, the library inserts
 *   "id":"ppc-<pid>-<nonce>-<counter>" after the opening '{' (for contribute it is then
 *   also the idempotency key; the nonce keeps ids of reused pids apart). A reply is
 *   returned only when its "id" equals the request's, compared as raw JSON text (so an
 *   "id" written with escapes must come back written the same way), or when it has no
 *   "id" (the bridge could not read the request's). The "id" is found by a structural
 *   scan of the text, not a JSON parser; ppulse_ctl_request() returns PPULSE_EINVAL when
 *   the request is not one structurally well-formed JSON object.
 * - Requests are queued only on a completed connection (ZMQ_IMMEDIATE): with no bridge,
 *   the call times out (PPULSE_ETIMEOUT) and nothing is left to be delivered later.
 * - ppulse_ctl_contribute: timeout_ms 0 leaves the bridge's default (10000); wait_ms
 *   should exceed timeout_ms (plurum-pulse-ctl waits timeout_ms + 2000) so the bridge's
 *   own timeout reply is seen; content_json must be one JSON object (else PPULSE_EINVAL)
 *   and is embedded as written. ppulse_ctl_replay: limit 0 leaves the bridge's default.
 * - On PPULSE_EIO errno holds the ZeroMQ error (zmq_strerror(errno) describes it).
 * - Each ppulse_sub_t / ppulse_ctl_t owns its own ZeroMQ context; closing is immediate
 *   (ZMQ_LINGER 0). */

#ifdef __cplusplus
}
#endif

#endif
