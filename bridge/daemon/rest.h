/* rest.h: the asynchronous client for the upstream REST API (libwebsockets HTTP client).
 *
 * Runs in the daemon's one lws context and thread: requests are started from the loop,
 * answered through a callback from the loop. At most max_inflight requests are on the
 * wire; the rest wait in order. Every request is answered exactly once: with the HTTP
 * answer, a network error, its timeout, or "shutting down".
 *
 * Wiring: add rest_protocol ("pp-rest") to the protocol list of the vhost passed to
 * rest_client_new; create the context with LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT (and, for
 * a custom CA, set client_ssl_ca_filepath on that vhost's creation info). */
#ifndef PP_REST_H
#define PP_REST_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REST_BODY_MAX (8u * 1024u * 1024u) /* a larger answer is a failure, not truncated */

struct rest_response {
	int status;	  /* HTTP status; 0 = network failure, timeout or shutdown */
	const char *body; /* NUL-terminated, len bytes; "" when none; borrowed for the
			     duration of the callback only */
	size_t len;
	long long retry_after_ms; /* from Retry-After (seconds or HTTP date), -1 when absent */
	const char *error;	  /* network error text (status 0), NULL on an HTTP answer */
	bool maybe_sent;	  /* true when the request may have reached the server before
				     the failure: for outcome_unknown */
};

/* Called exactly once per request, from the lws loop (or from rest_client_destroy).
 * The response and its strings are valid only during the call. The callback may start
 * new requests; it must not destroy the client. */
typedef void (*rest_done_fn)(const struct rest_response *resp, void *ud);

struct rest_client;
struct timers;

/* timers: the daemon's (timers.h), for each request's deadline.
 * base_url: "http[s]://host[:port][/prefix]", e.g. "https://h:p/api/v1".
 * key: points at the daemon's key pointer; *key is read anew for every request (so a
 * SIGHUP re-read is picked up) and never logged. insecure: accept self-signed, expired
 * and wrongly named certificates. max_inflight: requests on the wire at once (>= 1).
 * Returns the client, or NULL with err filled. */
struct rest_client *rest_client_new(struct lws_context *ctx, struct lws_vhost *vh,
				    struct timers *timers, const char *base_url, bool insecure,
				    const char *const *key, uint32_t max_inflight, char *err,
				    size_t errlen);

/* Answers every queued and in-flight request with status 0, error "shutting down"
 * (maybe_sent true for those on the wire), closes their connections, frees the client
 * and sets *self_p to NULL. Call before lws_context_destroy. */
void rest_client_destroy(struct rest_client **self_p);

/* Start (or queue) a request. method: "GET", "POST"...; path_and_query is appended to the
 * base URL's path ("/sessions/x/contribute"). body (len bytes, copied) may be NULL for
 * none. timeout_ms counts from this call (queue time included); 0 means 30 s.
 * Returns 0 (done will be called exactly once, never from inside this call), or -1 when
 * the request could not even be queued (bad arguments, out of memory): done is then not
 * called. */
int rest_request(struct rest_client *rc, const char *method, const char *path_and_query,
		 const char *body, size_t len, uint32_t timeout_ms, rest_done_fn done, void *ud);

/* Requests on the wire and waiting (for status reports). */
uint32_t rest_client_inflight(const struct rest_client *rc);
uint32_t rest_client_queued(const struct rest_client *rc);

extern const struct lws_protocols rest_protocol;

#endif
