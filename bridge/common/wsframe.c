/* wsframe.c: RFC 6455 framing for the client end of a WebSocket (see wsframe.h).
 *
 * The parser keeps one frame header being collected, the payload count left of the current
 * frame, a control frame's payload (at most 125 bytes) and the data message being joined.
 * A message's length is known when each frame's header is read, so an oversize message is
 * recognised before its payload arrives and only its first WSF_KEEP_MAX bytes are kept. */
#include "wsframe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_err.h"

#define KEEP_BUFFER_MAX 65536 /* a larger message's buffer is freed once it is delivered */

struct wsf_rx {
	size_t max_message;

	unsigned char hdr[WSF_HEADER_MAX]; /* the header being collected */
	size_t hdr_len;

	bool in_payload; /* a header was read; left bytes of its payload to come */
	unsigned char op;
	bool fin;
	uint64_t left;

	unsigned char ctl[WSF_CONTROL_MAX];
	size_t ctl_len;

	unsigned char msg_op; /* WSF_TEXT or WSF_BINARY while a message is open, else 0 */
	uint64_t msg_total;   /* its length so far, counting the current frame in full */
	bool msg_over;	      /* longer than max_message: only the first bytes are kept */
	unsigned char *buf;
	size_t len, cap;

	bool closed;
};

/* One large message must not pin its buffer for the life of the connection. */
static void s_trim(struct wsf_rx *rx)
{
	if (rx->cap > KEEP_BUFFER_MAX) {
		free(rx->buf);
		rx->buf = NULL;
		rx->cap = 0;
	}
}

struct wsf_rx *wsf_rx_new(size_t max_message)
{
	struct wsf_rx *rx = calloc(1, sizeof(*rx));

	if (rx)
		rx->max_message = max_message;
	return rx;
}

void wsf_rx_destroy(struct wsf_rx **self_p)
{
	if (!self_p || !*self_p)
		return;
	free((*self_p)->buf);
	free(*self_p);
	*self_p = NULL;
}

void wsf_rx_reset(struct wsf_rx *rx)
{
	rx->hdr_len = 0;
	rx->in_payload = false;
	rx->left = 0;
	rx->ctl_len = 0;
	rx->msg_op = 0;
	rx->msg_total = 0;
	rx->msg_over = false;
	rx->len = 0;
	rx->closed = false;
	s_trim(rx);
}

bool wsf_rx_closed(const struct wsf_rx *rx)
{
	return rx->closed;
}

static bool s_is_control(unsigned op)
{
	return op >= 0x8;
}

/* Bytes the header needs in all, from its first two; a server never masks (5.1). */
static size_t s_header_size(const unsigned char *h)
{
	unsigned len7 = h[1] & 0x7F;

	return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
}

static int s_fail(char *err, size_t errlen, const char *what, unsigned byte)
{
	snprintf(err, errlen, "WebSocket protocol error: %s (header byte 0x%02x)", what, byte);
	return PP_EINVAL;
}

/* Make room for want bytes of the open message. */
static int s_reserve(struct wsf_rx *rx, size_t want)
{
	unsigned char *nb;
	size_t cap;

	if (want <= rx->cap)
		return 0;
	cap = rx->cap ? rx->cap : 4096;
	while (cap < want)
		cap *= 2;
	nb = realloc(rx->buf, cap);
	if (!nb)
		return PP_ENOMEM;
	rx->buf = nb;
	rx->cap = cap;
	return 0;
}

/* The header in rx->hdr is complete: check it against 5.2-5.5 and open its frame. */
static int s_begin_frame(struct wsf_rx *rx, char *err, size_t errlen)
{
	const unsigned char *h = rx->hdr;
	unsigned op = h[0] & 0x0F, len7 = h[1] & 0x7F;
	uint64_t plen = len7;

	if (h[0] & 0x70)
		return s_fail(err, errlen, "reserved bits set, no extension was agreed", h[0]);
	if (h[1] & 0x80)
		return s_fail(err, errlen, "the server masked a frame", h[1]);
	if (len7 == 126)
		plen = (uint64_t)h[2] << 8 | h[3];
	else if (len7 == 127)
		for (int i = 2; i < 10; i++)
			plen = plen << 8 | h[i];
	if (plen >> 63)
		return s_fail(err, errlen, "64-bit length with the top bit set", h[2]);
	if (s_is_control(op)) {
		if (op != WSF_CLOSE && op != WSF_PING && op != WSF_PONG)
			return s_fail(err, errlen, "unknown control opcode", h[0]);
		if (!(h[0] & 0x80))
			return s_fail(err, errlen, "fragmented control frame", h[0]);
		if (plen > WSF_CONTROL_MAX)
			return s_fail(err, errlen, "control frame over 125 bytes", h[1]);
		rx->ctl_len = 0;
	} else if (op == WSF_CONT) {
		if (!rx->msg_op)
			return s_fail(err, errlen, "continuation frame with no message open", h[0]);
	} else if (op == WSF_TEXT || op == WSF_BINARY) {
		if (rx->msg_op)
			return s_fail(err, errlen, "new message inside a fragmented one", h[0]);
		rx->msg_op = (unsigned char)op;
		rx->msg_total = 0;
		rx->msg_over = false;
		rx->len = 0;
	} else {
		return s_fail(err, errlen, "unknown data opcode", h[0]);
	}
	if (!s_is_control(op)) {
		rx->msg_total += plen;
		if (rx->msg_total > rx->max_message && !rx->msg_over) {
			rx->msg_over = true; /* keep only what the log line shows */
			rx->len = rx->len < WSF_KEEP_MAX ? rx->len : WSF_KEEP_MAX;
		}
	}
	rx->op = (unsigned char)op;
	rx->fin = h[0] & 0x80;
	rx->left = plen;
	rx->in_payload = true;
	rx->hdr_len = 0;
	return 0;
}

/* The current frame's payload is all in: deliver what it completes. */
static void s_end_frame(struct wsf_rx *rx, const struct wsf_sink *sink, void *ud)
{
	rx->in_payload = false;
	if (s_is_control(rx->op)) {
		if (rx->op == WSF_CLOSE)
			rx->closed = true;
		sink->on_control(ud, (enum wsf_op)rx->op, rx->ctl, rx->ctl_len);
		return;
	}
	if (!rx->fin)
		return;
	sink->on_message(ud, (enum wsf_op)rx->msg_op, rx->buf ? rx->buf : (const unsigned char *)"",
			 rx->len, rx->msg_over, rx->msg_total);
	rx->msg_op = 0;
	rx->len = 0;
	s_trim(rx);
}

/* Take n payload bytes of the current frame. */
static int s_payload(struct wsf_rx *rx, const unsigned char *p, size_t n)
{
	size_t room;

	if (s_is_control(rx->op)) {
		memcpy(rx->ctl + rx->ctl_len, p, n); /* the header check bounds it to 125 */
		rx->ctl_len += n;
		return 0;
	}
	if (rx->msg_over) {
		room = rx->len < WSF_KEEP_MAX ? WSF_KEEP_MAX - rx->len : 0;
		n = n < room ? n : room;
	}
	/* the headers told the message's length so far: reserve it whole, not per piece */
	if (s_reserve(rx, rx->msg_over ? WSF_KEEP_MAX : (size_t)rx->msg_total) != 0)
		return PP_ENOMEM;
	memcpy(rx->buf + rx->len, p, n);
	rx->len += n;
	return 0;
}

/* Collect header bytes; returns how many of data it took. */
static size_t s_header_bytes(struct wsf_rx *rx, const unsigned char *data, size_t len)
{
	size_t need = rx->hdr_len < 2 ? 2 : s_header_size(rx->hdr), n;

	n = need - rx->hdr_len < len ? need - rx->hdr_len : len;
	memcpy(rx->hdr + rx->hdr_len, data, n);
	rx->hdr_len += n;
	return n;
}

static bool s_header_complete(const struct wsf_rx *rx)
{
	return rx->hdr_len >= 2 && rx->hdr_len == s_header_size(rx->hdr);
}

int wsf_rx_feed(struct wsf_rx *rx, const unsigned char *data, size_t len,
		const struct wsf_sink *sink, void *ud, char *err, size_t errlen)
{
	while (len > 0 && !rx->closed) {
		size_t n;
		int rc;

		if (!rx->in_payload) {
			n = s_header_bytes(rx, data, len);
			data += n;
			len -= n;
			if (!s_header_complete(rx))
				continue;
			if ((rc = s_begin_frame(rx, err, errlen)) != 0)
				return rc;
			if (rx->left == 0)
				s_end_frame(rx, sink, ud);
			continue;
		}
		n = rx->left < len ? (size_t)rx->left : len;
		if (rx->op != WSF_CONT && !s_is_control(rx->op) && rx->fin && !rx->msg_over &&
		    rx->len == 0 && n == rx->left) {
			/* a one-frame message wholly in this piece (none of it stored before):
			 * hand it over in place */
			rx->in_payload = false;
			rx->msg_op = 0;
			sink->on_message(ud, (enum wsf_op)rx->op, data, n, false, n);
		} else {
			if ((rc = s_payload(rx, data, n)) != 0)
				return rc;
			rx->left -= n;
			if (rx->left == 0)
				s_end_frame(rx, sink, ud);
		}
		data += n;
		len -= n;
	}
	return 0;
}

/* Codes a peer may put on the wire (7.4): 1004-1006 and 1015 are reserved, 1016-2999 are
 * for future protocol revisions, 3000-4999 for libraries and applications. */
static bool s_close_code_valid(unsigned code)
{
	if (code >= 3000 && code <= 4999)
		return true;
	return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

int wsf_close_parse(const unsigned char *p, size_t len, unsigned *code, const char **reason,
		    size_t *reason_len)
{
	*code = WSF_CLOSE_NONE;
	*reason = NULL;
	*reason_len = 0;
	if (len == 0)
		return 0;
	if (len == 1)
		return PP_EINVAL;
	*code = (unsigned)p[0] << 8 | p[1];
	if (!s_close_code_valid(*code))
		return PP_EINVAL;
	*reason = (const char *)p + 2;
	*reason_len = len - 2;
	return 0;
}

unsigned char *wsf_frame_new(enum wsf_op op, const void *payload, size_t len,
			     const unsigned char mask[4], size_t headroom, size_t *frame_len)
{
	size_t hl = 2 + (len < 126 ? 0 : len <= 0xFFFF ? 2 : 8) + 4;
	unsigned char *f = malloc(headroom + hl + len), *h, *body;

	if (!f)
		return NULL;
	h = f + headroom;
	h[0] = 0x80 | (unsigned char)op;
	if (len < 126) {
		h[1] = 0x80 | (unsigned char)len;
	} else if (len <= 0xFFFF) {
		h[1] = 0x80 | 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(h + hl - 4, mask, 4);
	body = h + hl;
	for (size_t i = 0; i < len; i++)
		body[i] = ((const unsigned char *)payload)[i] ^ mask[i & 3];
	*frame_len = hl + len;
	return f;
}
