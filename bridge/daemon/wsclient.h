/* wsclient.h: one WebSocket client connection at a time, on an lws raw socket: TCP, or TLS
 * over it (tlsmem.c), the opening handshake (wshs.c), frames in and out (wsframe.c), ping
 * answers and the close handshake. What the messages mean is the caller's (upstream.c).
 *
 * Why not lws' own WebSocket client: lws 4.1 parses a client's received payload one byte
 * at a time (a call and a state switch per byte), which was half of the bridge's CPU per
 * event. Why not lws' TLS on the raw socket: lws 4.1.6 starts a raw client's TLS before
 * the socket exists (SSL_connect on fd -1: "tls start fail"). lws still resolves and
 * connects, buffers what the kernel does not take, and runs the loop and the timers. */
#ifndef PP_WSCLIENT_H
#define PP_WSCLIENT_H

#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

#include "wsframe.h"

struct wsclient_cbs {
	/* The upgrade is done: messages may be sent. */
	void (*on_open)(void *ud);
	/* Bytes arrived: a sign of life. */
	void (*on_alive)(void *ud);
	/* A whole text message; text is valid during the call only. */
	void (*on_text)(void *ud, const char *text, size_t len);
	/* A message that is not delivered (binary, or over max_message): why, and its first
	 * bytes for a log line. */
	void (*on_skipped)(void *ud, const char *why, const char *data, size_t len);
	/* The server's close frame: its code (0 when it gave none) and reason. */
	void (*on_peer_close)(void *ud, unsigned code, const char *reason, size_t len);
	/* The connection is open and writable: send at most one message with wsclient_send().
	 * Return -1 to drop the connection. */
	int (*on_writeable)(void *ud);
	/* The connection is gone, or never came up: once for every wsclient_connect() that
	 * returned 0. err says why, or is NULL after a close frame (on_peer_close told). */
	void (*on_closed)(void *ud, const char *err);
};

/* Registered on the vhost by the caller; its name is the local protocol of connections. */
extern const struct lws_protocols wsclient_protocol;

/* ctx, vh and tls_ctx (the client SSL_CTX for wss://, see tlsmem_ctx_new()) are borrowed.
 * Messages over max_message bytes are skipped. NULL on allocation failure. */
struct wsclient *wsclient_new(struct lws_context *ctx, struct lws_vhost *vh, SSL_CTX *tls_ctx,
			      size_t max_message, const struct wsclient_cbs *cbs, void *ud);
/* Leaves any connection without further callbacks. */
void wsclient_destroy(struct wsclient **self_p);

/* Connect to url (ws:// or wss://). extra_query, when not NULL, is appended to the URL's
 * query (it may be a secret: it is wiped from memory once sent, and never logged). verify
 * false accepts any certificate. Returns 0 (on_closed follows, whatever happens), or -1
 * with err when the attempt could not start. */
int wsclient_connect(struct wsclient *c, const char *url, const char *extra_query, bool verify,
		     char *err, size_t errlen);
/* Ask for on_writeable once the connection is open and writable. */
void wsclient_want_write(struct wsclient *c);
/* Only from on_writeable: one message (WSF_TEXT, WSF_PING). Returns 0 or -1. */
int wsclient_send(struct wsclient *c, enum wsf_op op, const void *payload, size_t len);
/* Close with 1000 and wait (a few seconds at most) for the server's answer; before the
 * upgrade, drop the connection. */
void wsclient_close(struct wsclient *c);
/* Drop the connection now, without a close frame. */
void wsclient_drop(struct wsclient *c);
/* Stop (true) or resume reading the socket: TCP then holds what the server sends. Applies
 * to later connections too until resumed. */
void wsclient_pause(struct wsclient *c, bool pause);
/* True from on_open until the close handshake begins or the connection ends. */
bool wsclient_is_open(const struct wsclient *c);

#endif
