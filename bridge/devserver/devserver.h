/*
 * devserver.h: what the devserver's modules share: the configuration, the server object
 * (reached from any wsi through lws_context_user()), the WebSocket connection object and the
 * entry points each module offers the others.
 */
#ifndef PP_DEVSERVER_H
#define PP_DEVSERVER_H

#include "state.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#define DS_WS_PATH  "/api/v1/pulse/ws"
#define DS_MAX_MSG  262144	      /* upstream: larger messages close 1009 */
#define DS_MAX_BODY (5 * 1024 * 1024) /* upstream: larger REST bodies get 413 */
#define DS_OUTQ_MAX (256u << 20)      /* per-connection queued bytes before drops */

struct ds_config {
	int port, tls_port;
	const char *bind;
	int auth_timeout_ms, ping_interval_ms, pong_timeout_ms, rate_limit;
	int inbox_cap; /* unread entries kept per agent */
	bool throttle;
	const char *cert_dir;
	int log_level;
};

enum contrib_mode { CM_OK, CM_ERROR, CM_DROP, CM_DELAY, CM_RATELIMIT };

struct emit_job;

/* What a queued message is. Text and binary are framed by lws; raw bytes (/_dev/send raw_hex)
 * are written as they are (LWS_WRITE_HTTP, see emit.c), so a test can hand-craft frames. */
enum out_kind { OUT_TEXT, OUT_BINARY, OUT_RAW };

/* One queued outgoing message; buf has LWS_PRE bytes of headroom before the payload. */
struct out_msg {
	struct out_msg *next;
	int64_t due_ns; /* delayed replies: not before this time */
	size_t len;
	enum out_kind kind;
	unsigned char buf[];
};

/* One WebSocket connection. Created at ESTABLISHED, freed at CLOSED (ws_conn.c). */
struct conn {
	struct ds_server *ds;
	struct lws *wsi;
	struct agent *agent; /* NULL until authenticated */
	bool authed, legacy_token, stalled;
	char peer[64];
	struct out_msg *q_head, *q_tail; /* frames to write now */
	struct out_msg *d_head, *d_tail; /* replies held back by contribute-mode delay */
	size_t q_bytes;
	int close_code; /* >0: close with it once the queue is flushed */
	char close_reason[64];
	bool hard_drop;	 /* close the TCP connection without a close frame */
	bool close_sent; /* lws_close_reason done: lws owns the rest of the close */
	bool ping_due, awaiting_pong;
	unsigned char *rx; /* the message being reassembled */
	size_t rx_len, rx_cap;
	int64_t *rate_ring; /* receive times of the last rate_limit messages */
	size_t rate_n, rate_idx;
	lws_sorted_usec_list_t sul_auth, sul_ping, sul_pong, sul_delay;
	struct emit_job *emit;
	unsigned char *wbuf; /* reused frame buffer for the emitter (LWS_PRE headroom) */
	size_t wbuf_cap;
	struct conn *next;
};

/* The per-wsi user data lws allocates (zeroed). lws frees and reallocates it when an HTTP
 * connection upgrades to WebSocket, so the two phases never see each other's fields. */
struct http_req;
struct ds_pss {
	struct http_req *req; /* HTTP phase: owned, freed by http.c */
	struct conn *conn;    /* WS phase: owned, freed at LWS_CALLBACK_CLOSED */
	bool has_token;	      /* ?token= seen during the upgrade */
	char token[600];
};

/* The payloads of the last DS_PONGS_KEEP PONGs received, for GET /_dev/state: a test that
 * sends a raw PING sees the client's answer. */
#define DS_PONGS_KEEP 16
struct pong_rec {
	char agent_id[DS_ID_LEN + 1 + 64]; /* "" when not authenticated */
	unsigned char payload[125];	   /* a control frame carries at most 125 bytes */
	size_t len;
};

struct ds_server {
	struct ds_config cfg;
	struct lws_context *ctx;
	struct ds_state st;
	struct conn *conns;
	enum contrib_mode cmode;
	int delay_ms;
	int64_t refuse_until_ns;
	uint64_t pongs_total;
	struct pong_rec pongs[DS_PONGS_KEEP]; /* a ring: the oldest at pongs_total % KEEP */
};

/* ws_conn.c */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		size_t len);
/* Queues a message of kind (copied) to c, behind what is queued. Returns 0 or -1. */
int ws_conn_send(struct conn *c, const char *data, size_t len, enum out_kind kind);
/* Queues {"type":T,"data":data} to every authed connection of agent_id (steals data). */
void ws_push_to_agent(struct ds_server *ds, const char *agent_id, const char *type, json_t *data);
/* Session event broadcast to every authed connection except the owner's. */
void ws_broadcast_session(struct ds_server *ds, const struct session *s, bool opened);
/* Asks c to close with code (after its queue is flushed). */
void ws_conn_close(struct conn *c, int code, const char *reason);
void ws_conn_stall(struct conn *c);
size_t ws_connected_agents(struct ds_server *ds);

/* http.c: copies the value of query argument name ("token=") into out; false when absent. */
bool http_urlarg(struct lws *wsi, const char *name, char *out, size_t outlen);

/* http.c: the HTTP protocol callback (REST + /_dev/ + the WebSocket upgrade). */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len);

/* An HTTP answer in progress, built by rest.c/control.c, written by http.c. */
struct http_answer {
	int status; /* 0 = not decided yet (delayed); -1 = drop the connection */
	char *body; /* malloc'd JSON text */
	size_t len;
	int64_t delay_ms;
	int retry_after_s; /* > 0: a Retry-After header (seconds) */
};

/* A parsed HTTP request, as the route handlers see it (all borrowed from http.c). */
struct http_in {
	bool is_post;
	const char *path;
	const char *body; /* NUL-terminated; "" when none */
	size_t body_len;
	const char *bearer;	/* the Authorization: Bearer token, or NULL */
	const char *limit;	/* ?limit= or NULL */
	const char *event_type; /* ?event_type= or NULL */
};

/* rest.c: upstream routes. Returns true when the path is one of its routes. */
bool rest_handle(struct ds_server *ds, const struct http_in *in, struct http_answer *ans);
/* control.c: /_dev/ routes. */
bool control_handle(struct ds_server *ds, const struct http_in *in, struct http_answer *ans);
/* Fills ans with json (steals it). */
void http_answer_json(struct http_answer *ans, int status, json_t *json);

/* contribute.c: the contribution rules shared by WS and REST. */
enum contrib_err { CE_OK, CE_MISSING, CE_NOT_FOUND, CE_PRIVATE, CE_OWN, CE_CLOSED, CE_TYPE };
/* Validates and builds a contribution (new reference in *out) without storing it. */
enum contrib_err contribute_build(struct ds_server *ds, const char *session_id,
				  const char *contributor, json_t *content, const char *ctype,
				  bool enforce_rules, json_t **out);

/* tls_cert.c: writes cert.pem and key.pem into dir (kept when already there). */
int tls_cert_ensure(const char *dir, char *cert_path, char *key_path, size_t pathlen, char *err,
		    size_t errlen);

#endif
