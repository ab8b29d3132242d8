/* fuzz_wsframe.c: fuzz target for the WebSocket framing (wsframe.c).
 *
 * Input: one selector byte, then the bytes a server sent. Bit 7 of the selector picks the
 * parser's max_message (300 or 4096, both over WSF_KEEP_MAX), bits 0-6 the pieces: 0 feeds
 * one byte at a time, k > 0 pseudo-random pieces of 1..k bytes.
 * The stream is fed to one parser whole and to another in pieces; both must give the same
 * callbacks (op, length, truncation, total, a hash of the bytes) and the same verdict
 * (both refuse or both accept), and match a small reference parser written from
 * wsframe.h and RFC 6455 5.2-5.5 (when the stream ends inside the header of a bad frame,
 * refusing early or waiting are both right; a length is judged by its value, however
 * many bytes encode it). Every callback must keep the contract:
 * data ops TEXT/BINARY, len <= max_message when whole, len <= WSF_KEEP_MAX and total >
 * max_message when truncated, total >= len, control ops CLOSE/PING/PONG with len <= 125,
 * nothing after a close. A refusal must leave a terminated message, even in a 12-byte
 * buffer. Each close payload goes through wsf_close_parse(). After the run, when not
 * closed or refused, wsf_rx_reset() must make both parsers take a fresh frame. Last, the
 * stream is sent as the payload of a wsf_frame_new() frame, unmasked and parsed back. */
#include "fuzz_target.h"

#include <string.h>

#include "pp_err.h"
#include "wsframe.h"

/* ---- The callbacks, checked and recorded. */

struct ev {
	bool control, truncated;
	enum wsf_op op;
	size_t len;
	uint64_t total; /* compared when truncated */
	uint64_t hash;
};

struct log {
	size_t max_message;
	struct ev *e;
	size_t n, cap;
	bool closed; /* a close was delivered */
};

static uint64_t s_hash(const unsigned char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static struct ev *s_push(struct log *l, const unsigned char *data, size_t len)
{
	FUZZ_CHECK(!l->closed); /* nothing after a close */
	FUZZ_CHECK(data != NULL || len == 0);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = realloc(l->e, l->cap * sizeof *l->e);
		FUZZ_CHECK(l->e != NULL);
	}
	struct ev *e = &l->e[l->n++];
	memset(e, 0, sizeof *e);
	e->len = len;
	e->hash = s_hash(data, len);
	return e;
}

/* wsf_close_parse() on a close payload: the fixed parts of RFC 6455 7.4 are checked. */
static void s_close_payload(const unsigned char *p, size_t len)
{
	unsigned code = 0;
	const char *reason = NULL;
	size_t reason_len = 99;
	int rc = wsf_close_parse(p, len, &code, &reason, &reason_len);
	FUZZ_CHECK(rc == 0 || rc == PP_EINVAL);
	if (len == 0) {
		FUZZ_CHECK(rc == 0 && code == WSF_CLOSE_NONE && reason_len == 0);
		return;
	}
	if (len == 1) {
		FUZZ_CHECK(rc == PP_EINVAL);
		return;
	}
	unsigned c = (unsigned)p[0] << 8 | p[1];
	bool ok = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
	bool bad = c < 1000 || (c >= 1004 && c <= 1006) || c == 1015 || c >= 5000;
	if (ok)
		FUZZ_CHECK(rc == 0);
	if (bad)
		FUZZ_CHECK(rc == PP_EINVAL);
	if (rc == 0) {
		FUZZ_CHECK(code == c);
		FUZZ_CHECK(reason == (const char *)p + 2 && reason_len == len - 2);
	}
}

static void s_on_message(void *ud, enum wsf_op op, const unsigned char *data, size_t len,
			 bool truncated, uint64_t total)
{
	struct log *l = ud;
	FUZZ_CHECK(op == WSF_TEXT || op == WSF_BINARY);
	FUZZ_CHECK(total >= len);
	if (truncated) {
		FUZZ_CHECK(len <= WSF_KEEP_MAX);
		FUZZ_CHECK(total > l->max_message);
	} else {
		FUZZ_CHECK(len <= l->max_message);
	}
	struct ev *e = s_push(l, data, len);
	e->op = op;
	e->truncated = truncated;
	e->total = truncated ? total : 0;
}

static void s_on_control(void *ud, enum wsf_op op, const unsigned char *data, size_t len)
{
	struct log *l = ud;
	FUZZ_CHECK(op == WSF_CLOSE || op == WSF_PING || op == WSF_PONG);
	FUZZ_CHECK(len <= WSF_CONTROL_MAX);
	struct ev *e = s_push(l, data, len);
	e->control = true;
	e->op = op;
	if (op == WSF_CLOSE) {
		s_close_payload(data, len);
		l->closed = true;
	}
}

static const struct wsf_sink s_sink = {s_on_message, s_on_control};

static bool s_same(const struct log *a, const struct log *b)
{
	if (a->n != b->n || a->closed != b->closed)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct ev *x = &a->e[i], *y = &b->e[i];
		if (x->control != y->control || x->truncated != y->truncated || x->op != y->op ||
		    x->len != y->len || x->total != y->total || x->hash != y->hash)
			return false;
	}
	return true;
}

static void s_dump(const char *name, const struct log *l)
{
	fprintf(stderr, "%s: %zu callback(s)%s\n", name, l->n, l->closed ? ", closed" : "");
	for (size_t i = 0; i < l->n && i < 20; i++)
		fprintf(stderr, "  %s op %d len %zu%s total %llu hash %016llx\n",
			l->e[i].control ? "control" : "message", (int)l->e[i].op, l->e[i].len,
			l->e[i].truncated ? " truncated" : "", (unsigned long long)l->e[i].total,
			(unsigned long long)l->e[i].hash);
}

/* ---- The reference parser: the whole stream at once, frame by frame. */

enum verdict { V_OK, V_BAD, V_EITHER };

/* A violation seen in the avail bytes of a frame header of hl bytes (avail <= hl). A
 * length is judged by its value: a longer encoding than needed (RFC 6455 5.2 asks the
 * sender for the shortest) is not refused, except that a cut header of a control frame
 * announcing 126/127 counts as a violation seen (refusing early is allowed). */
static bool s_violation(const unsigned char *h, size_t avail, size_t hl, bool in_msg)
{
	unsigned op = h[0] & 0x0F;
	bool control = op & 0x8;
	if (h[0] & 0x70)
		return true; /* RSV */
	if ((op >= 3 && op <= 7) || op >= 0xB)
		return true;
	if (control && !(h[0] & 0x80))
		return true; /* fragmented control */
	if (op == WSF_CONT && !in_msg)
		return true;
	if ((op == WSF_TEXT || op == WSF_BINARY) && in_msg)
		return true;
	if (avail < 2)
		return false;
	unsigned len7 = h[1] & 0x7F;
	if (h[1] & 0x80)
		return true; /* masked */
	if (len7 == 127 && avail >= 3 && (h[2] & 0x80))
		return true; /* 64-bit length with the top bit set */
	if (!control || len7 <= WSF_CONTROL_MAX)
		return false;
	if (avail < hl)
		return true;
	uint64_t len = 0;
	for (size_t i = 2; i < hl; i++)
		len = len << 8 | h[i];
	return len > WSF_CONTROL_MAX;
}

static enum verdict s_model(const unsigned char *s, size_t n, struct log *out)
{
	static unsigned char keep[4096]; /* >= every max_message used */
	bool in_msg = false;
	enum wsf_op mop = WSF_TEXT;
	uint64_t total = 0;
	size_t kept = 0, pos = 0;
	while (pos < n && !out->closed) {
		const unsigned char *h = s + pos;
		size_t avail = n - pos;
		size_t hl = 2;
		if (avail >= 2)
			hl += (h[1] & 0x7F) == 126 ? 2 : (h[1] & 0x7F) == 127 ? 8 : 0;
		if (avail < hl) /* the header is cut: refusing now or waiting both fit */
			return s_violation(h, avail, hl, in_msg) ? V_EITHER : V_OK;
		if (s_violation(h, hl, hl, in_msg))
			return V_BAD;
		uint64_t len = h[1] & 0x7F;
		if (len == 126)
			len = (uint64_t)h[2] << 8 | h[3];
		else if (len == 127)
			for (size_t i = 2; i < 10; i++)
				len = len << 8 | h[i];
		if (len > avail - hl)
			return V_OK; /* the payload is still to come */
		const unsigned char *p = h + hl;
		pos += hl + (size_t)len;
		unsigned op = h[0] & 0x0F;
		if (op & 0x8) {
			s_on_control(out, (enum wsf_op)op, p, (size_t)len);
			continue;
		}
		if (op != WSF_CONT) {
			in_msg = true;
			mop = (enum wsf_op)op;
			total = 0;
			kept = 0;
		}
		total += len;
		size_t room = out->max_message - kept;
		size_t take = len < room ? (size_t)len : room;
		memcpy(keep + kept, p, take);
		kept += take;
		if (h[0] & 0x80) {
			in_msg = false;
			if (total > out->max_message)
				s_on_message(out, mop, keep, WSF_KEEP_MAX, true, total);
			else
				s_on_message(out, mop, keep, kept, false, total);
		}
	}
	return V_OK;
}

/* ---- Feeding the parser under test. */

/* Pieces of 1..k bytes from a small generator seeded by the selector. */
static size_t s_piece(uint32_t *st, unsigned k)
{
	if (k == 0)
		return 1;
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return 1 + *st % k;
}

static void s_check_err(int rc, const char *err, size_t errlen)
{
	FUZZ_CHECK(rc == 0 || rc == PP_EINVAL);
	if (rc == PP_EINVAL) {
		FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
		FUZZ_CHECK(err[0] != '\0');
	}
}

/* After a reset a fresh frame must come out whole. */
static void s_fresh_frame(struct wsf_rx *rx, struct log *l)
{
	static const unsigned char hi[] = {0x81, 0x02, 'h', 'i'};
	char err[64];
	wsf_rx_reset(rx);
	FUZZ_CHECK(!wsf_rx_closed(rx));
	size_t before = l->n;
	FUZZ_CHECK(wsf_rx_feed(rx, hi, sizeof hi, &s_sink, l, err, sizeof err) == 0);
	FUZZ_CHECK(l->n == before + 1);
	FUZZ_CHECK(!l->e[before].control && l->e[before].op == WSF_TEXT && l->e[before].len == 2 &&
		   l->e[before].hash == s_hash(hi + 2, 2));
}

/* The stream as the payload of one client frame, unmasked again and parsed back. */
static void s_round_trip(const unsigned char *s, size_t n, unsigned sel)
{
	const unsigned char mask[4] = {(unsigned char)sel, (unsigned char)(n * 7), 0xA5,
				       (unsigned char)(sel ^ 0xFF)};
	size_t headroom = sel % 16, flen = 0;
	unsigned char *f = wsf_frame_new(WSF_BINARY, s, n, mask, headroom, &flen);
	FUZZ_CHECK(f != NULL);
	unsigned char *h = f + headroom;
	size_t hl = n <= 125 ? 2 : n <= 0xFFFF ? 4 : 10;
	FUZZ_CHECK(flen == hl + 4 + n);
	FUZZ_CHECK(h[0] == (0x80 | WSF_BINARY) && (h[1] & 0x80));
	FUZZ_CHECK(memcmp(h + hl, mask, 4) == 0);
	h[1] &= 0x7F;
	memmove(h + hl, h + hl + 4, n);
	for (size_t i = 0; i < n; i++)
		h[hl + i] ^= mask[i % 4];
	struct wsf_rx *rx = wsf_rx_new(n);
	FUZZ_CHECK(rx != NULL);
	struct log l = {.max_message = n};
	char err[64];
	FUZZ_CHECK(wsf_rx_feed(rx, h, hl + n, &s_sink, &l, err, sizeof err) == 0);
	FUZZ_CHECK(l.n == 1 && !l.e[0].control && !l.e[0].truncated);
	FUZZ_CHECK(l.e[0].op == WSF_BINARY && l.e[0].len == n && l.e[0].hash == s_hash(s, n));
	wsf_rx_destroy(&rx);
	free(l.e);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned sel = data[0];
	const unsigned char *s = data + 1;
	size_t n = size - 1;
	size_t max_message = (sel & 0x80) ? 300 : 4096;
	unsigned k = sel & 0x7F;

	struct wsf_rx *whole = wsf_rx_new(max_message), *pieces = wsf_rx_new(max_message);
	FUZZ_CHECK(whole != NULL && pieces != NULL);
	struct log lw = {.max_message = max_message}, lp = {.max_message = max_message};
	struct log lm = {.max_message = max_message};
	char err[256], small[12];

	memset(err, 'x', sizeof err);
	int rw = wsf_rx_feed(whole, s, n, &s_sink, &lw, err, sizeof err);
	s_check_err(rw, err, sizeof err);

	int rp = 0;
	uint32_t st = 0x9E3779B9u ^ sel;
	for (size_t off = 0; off < n && rp == 0;) {
		size_t piece = s_piece(&st, k);
		if (piece > n - off)
			piece = n - off;
		memset(small, 'x', sizeof small);
		rp = wsf_rx_feed(pieces, s + off, piece, &s_sink, &lp, small, sizeof small);
		s_check_err(rp, small, sizeof small);
		off += piece;
	}

	enum verdict v = s_model(s, n, &lm);
	bool same = s_same(&lw, &lp) && s_same(&lw, &lm) && (rw == 0) == (rp == 0) &&
		    (v == V_EITHER || (v == V_BAD) == (rw != 0));
	if (!same) {
		fprintf(stderr, "whole rc %d, pieces rc %d, reference %s\n", rw, rp,
			v == V_OK    ? "accepts"
			: v == V_BAD ? "refuses"
				     : "either");
		s_dump("whole", &lw);
		s_dump("pieces", &lp);
		s_dump("reference", &lm);
	}
	FUZZ_CHECK(same);
	FUZZ_CHECK(wsf_rx_closed(whole) == lw.closed && wsf_rx_closed(pieces) == lp.closed);

	if (rw == 0 && !lw.closed) {
		s_fresh_frame(whole, &lw);
		s_fresh_frame(pieces, &lp);
	}
	wsf_rx_destroy(&whole);
	wsf_rx_destroy(&pieces);
	FUZZ_CHECK(whole == NULL && pieces == NULL);
	free(lw.e);
	free(lp.e);
	free(lm.e);

	s_round_trip(s, n, sel);
	return 0;
}
