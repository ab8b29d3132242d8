/* wsframe.h: RFC 6455 framing for the client end of a WebSocket (pure: no I/O).
 *
 * Why the bridge frames for itself: libwebsockets 4.1's client parser takes a received
 * payload one byte at a time (a function call and a state switch per byte), which was half
 * of the bridge's CPU per event. Here a frame's header is decoded once and its payload is
 * handed over in place when it arrived in one read, copied once when it did not.
 *
 * Receive: a push parser. Feed it the bytes the socket gave, in pieces of any size; it
 * calls back once per complete data message (fragments joined) and once per control frame.
 * Send: a client frame is always masked (RFC 6455 5.3); wsf_frame_new() builds one. */
#ifndef PP_WSFRAME_H
#define PP_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wsf_op {
	WSF_CONT = 0x0,
	WSF_TEXT = 0x1,
	WSF_BINARY = 0x2,
	WSF_CLOSE = 0x8,
	WSF_PING = 0x9,
	WSF_PONG = 0xA
};

#define WSF_HEADER_MAX	14  /* 2 + 8 (64-bit length) + 4 (mask) */
#define WSF_CONTROL_MAX 125 /* control frame payload limit (RFC 6455 5.5) */
#define WSF_KEEP_MAX	256 /* bytes of an oversize message kept for the log line */

/* Close codes the bridge sends or reports (RFC 6455 7.4.1). */
#define WSF_CLOSE_NORMAL   1000
#define WSF_CLOSE_PROTOCOL 1002
#define WSF_CLOSE_NONE	   1005 /* a close frame without a code (never sent) */

struct wsf_sink {
	/* A whole data message; op is WSF_TEXT or WSF_BINARY. data is valid only during the
	 * call. When truncated, the message was longer than the parser's max_message: data
	 * holds its first len (at most WSF_KEEP_MAX) bytes and total its real length; nothing
	 * more of it was stored. */
	void (*on_message)(void *ud, enum wsf_op op, const unsigned char *data, size_t len,
			   bool truncated, uint64_t total);
	/* A control frame: WSF_CLOSE, WSF_PING or WSF_PONG, len <= WSF_CONTROL_MAX. After a
	 * close frame the parser ignores all further input. */
	void (*on_control)(void *ud, enum wsf_op op, const unsigned char *data, size_t len);
};

struct wsf_rx;

/* A parser for one connection; messages over max_message bytes are reported truncated.
 * NULL on allocation failure. */
struct wsf_rx *wsf_rx_new(size_t max_message);
void wsf_rx_destroy(struct wsf_rx **self_p);
/* Forget any partial frame or message (a new connection starts). */
void wsf_rx_reset(struct wsf_rx *rx);
/* Parse len bytes, calling sink for what completes. Returns 0, or PP_EINVAL for a
 * protocol violation (err says which; the connection must be closed with
 * WSF_CLOSE_PROTOCOL and no further input fed), or PP_ENOMEM. */
int wsf_rx_feed(struct wsf_rx *rx, const unsigned char *data, size_t len,
		const struct wsf_sink *sink, void *ud, char *err, size_t errlen);
/* True once a close frame was parsed. */
bool wsf_rx_closed(const struct wsf_rx *rx);

/* A close frame's payload: *code is WSF_CLOSE_NONE when empty. Returns 0, or PP_EINVAL
 * when the payload is one byte or the code may not be sent on the wire. *reason points
 * into p (not NUL-terminated). */
int wsf_close_parse(const unsigned char *p, size_t len, unsigned *code, const char **reason,
		    size_t *reason_len);

/* One masked client frame (FIN set) of op carrying payload: headroom bytes left free in
 * front (for the writer's own use), then the header, then the masked payload. *frame_len
 * gets header + payload length (headroom not included). The caller frees the result.
 * NULL on allocation failure. */
unsigned char *wsf_frame_new(enum wsf_op op, const void *payload, size_t len,
			     const unsigned char mask[4], size_t headroom, size_t *frame_len);

#endif
