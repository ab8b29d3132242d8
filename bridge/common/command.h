/* command.h: parsing and validating requests of the command socket (pure).
 *
 * Everything a request can get wrong is found here, before anything leaves the machine:
 * the reply's error code and a message naming the field (JSON paths written like
 * content.steps[2].text). */
#ifndef PP_COMMAND_H
#define PP_COMMAND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_ID_MAX	     128 /* bytes of a request "id" (a string) */
#define CMD_SESSION_ID_MAX   128
#define CMD_UPSTREAM_MAX     262144 /* the server closes with 1009 above this (UTF-8 bytes) */
#define CMD_TIMEOUT_DEFAULT  10000
#define CMD_TIMEOUT_MAX	     600000
#define CMD_REPLAY_LIMIT_DEF 1000
#define CMD_REPLAY_LIMIT_MAX 100000

enum cmd_kind { CMD_CONTRIBUTE, CMD_STATUS, CMD_REPLAY, CMD_OUTCOME, CMD_PING };

struct cmd_error {
	const char *code;  /* "bad_request", "unknown_command", "too_large", "unsafe_content" */
	char message[320]; /* never contains a secret found in the content */
};

struct cmd_request {
	enum cmd_kind kind;
	json_t *root; /* owned: the parsed request */
	json_t *id;   /* borrowed from root: the "id" member, or NULL */
	/* contribute */
	const char *session_id;	       /* borrowed from root */
	json_t *content;	       /* borrowed from root */
	const char *contribution_type; /* "suggestion" (default), "warning", "reference" */
	uint32_t timeout_ms;	       /* default CMD_TIMEOUT_DEFAULT, 1..CMD_TIMEOUT_MAX */
	/* replay */
	uint64_t after_seq; /* default 0 */
	uint32_t limit;	    /* default CMD_REPLAY_LIMIT_DEF, 1..CMD_REPLAY_LIMIT_MAX */
			    /* outcome: the id to look up is in id */
};

/* Parse one request frame. Returns 0 with *out filled (release with cmd_request_clear),
 * or -1 with *err filled and *out clear. On error, if the frame was a JSON object with a
 * valid "id", *id_out gets a new reference to it (so the reply can echo it), else NULL.
 * For contribute: checks session_id (non-empty string <= CMD_SESSION_ID_MAX, no control
 * characters), content (an object), contribution_type, timeout_ms, the content scanner
 * (unsafe_content) and the upstream size limit (too_large, computed on the WebSocket
 * message the bridge would send). */
int cmd_parse(const char *buf, size_t len, struct cmd_request *out, json_t **id_out,
	      struct cmd_error *err);
void cmd_request_clear(struct cmd_request *req);

/* The upstream WebSocket message for a contribute:
 * {"type":"contribute","session_id":S,"content":C,"contribution_type":T}, compact.
 * Returns a malloc'd string (caller frees) and its length, or NULL. */
char *cmd_contribute_ws_message(const struct cmd_request *req, size_t *len);
/* The REST body: {"content":C,"contribution_type":T}. Same ownership. */
char *cmd_contribute_rest_body(const struct cmd_request *req, size_t *len);

/* (Added) The REST path for a contribute, relative to the REST base:
 * "/sessions/<session_id percent-encoded, RFC 3986 unreserved kept>/contribute".
 * Returns 0, or -1 when out (outlen bytes) is too small. */
int cmd_contribute_rest_path(const struct cmd_request *req, char *out, size_t outlen);

/* Build a failure reply {"ok":false,"error":{"code":C,"message":M}} with "id" echoed when
 * id is non-NULL. retry_after_ms >= 0 adds error.retry_after_ms; http_status > 0 adds
 * error.status. Returns a new reference. */
json_t *cmd_error_reply(json_t *id, const char *code, const char *message, long long retry_after_ms,
			int http_status);

#endif
