/* test_wsframe.c: RFC 6455 framing (wsframe.h): the receive parser (in-place delivery,
 * any split of the input, 7/16/64-bit lengths, fragments joined around control frames,
 * truncation of oversize messages, every protocol violation, close, reset), the close
 * payload parser and the masked client frames of wsf_frame_new(). */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_err.h"
#include "wsframe.h"

#define BIG (1024 * 1024) /* a max_message no test reaches */

/* ---- Recording the callbacks. */

struct event {
	bool control;
	enum wsf_op op;
	unsigned char *data; /* a copy */
	size_t len;
	bool truncated;
	uint64_t total;
	const unsigned char *ptr; /* as passed (for the in-place check) */
};

struct rec {
	struct event ev[64];
	size_t n;
};

static struct event *s_add(struct rec *r, const unsigned char *data, size_t len)
{
	assert_true(r->n < sizeof r->ev / sizeof r->ev[0]);
	struct event *e = &r->ev[r->n++];
	memset(e, 0, sizeof *e);
	e->data = malloc(len > 0 ? len : 1);
	assert_non_null(e->data);
	if (len > 0)
		memcpy(e->data, data, len);
	e->len = len;
	e->ptr = data;
	return e;
}

static void s_on_message(void *ud, enum wsf_op op, const unsigned char *data, size_t len,
			 bool truncated, uint64_t total)
{
	struct event *e = s_add(ud, data, len);
	e->op = op;
	e->truncated = truncated;
	e->total = total;
}

static void s_on_control(void *ud, enum wsf_op op, const unsigned char *data, size_t len)
{
	struct event *e = s_add(ud, data, len);
	e->control = true;
	e->op = op;
}

static const struct wsf_sink s_sink = {s_on_message, s_on_control};

static void rec_clear(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->ev[i].data);
	r->n = 0;
}

/* Feed len bytes in pieces of chunk bytes (0: all at once); stops at the first error. */
static int feed(struct wsf_rx *rx, const void *p, size_t len, size_t chunk, struct rec *r,
		char *err, size_t errlen)
{
	const unsigned char *b = p;
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	for (size_t off = 0; off < len || (len == 0 && off == 0); off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		int rc = wsf_rx_feed(rx, b + off, n, &s_sink, r, err, errlen);
		if (rc != 0 || len == 0)
			return rc;
	}
	return 0;
}

static int feed_ok(struct wsf_rx *rx, const void *p, size_t len, size_t chunk, struct rec *r)
{
	char err[256] = "";
	int rc = feed(rx, p, len, chunk, r, err, sizeof err);
	if (rc != 0)
		fail_msg("wsf_rx_feed: %d (%s)", rc, err);
	return rc;
}

static void expect_message(const struct event *e, enum wsf_op op, const void *data, size_t len)
{
	assert_false(e->control);
	assert_int_equal(e->op, op);
	assert_false(e->truncated);
	assert_int_equal(e->len, len);
	assert_memory_equal(e->data, data, len);
}

static void expect_control(const struct event *e, enum wsf_op op, const void *data, size_t len)
{
	assert_true(e->control);
	assert_int_equal(e->op, op);
	assert_int_equal(e->len, len);
	assert_memory_equal(e->data, data, len);
}

/* ---- Building server frames (unmasked). */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_raw(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

/* One frame: b0 is FIN/RSV/opcode; the length is encoded in the fewest bytes. */
static void buf_frame(struct buf *b, unsigned b0, const void *payload, size_t len)
{
	unsigned char h[10];
	size_t hl = 2;
	h[0] = (unsigned char)b0;
	if (len <= 125) {
		h[1] = (unsigned char)len;
	} else if (len <= 0xFFFF) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	buf_raw(b, h, hl);
	buf_raw(b, payload, len);
}

static unsigned char *pattern(size_t len, unsigned seed)
{
	unsigned char *p = malloc(len > 0 ? len : 1);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 31 + seed + (i >> 8));
	return p;
}

/* ---- The receive parser: data messages. */

static void small_text_frame_is_delivered_in_place(void **state)
{
	(void)state;
	static const unsigned char f[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}; /* RFC 5.7 */
	struct wsf_rx *rx = wsf_rx_new(BIG);
	assert_non_null(rx);
	struct rec r = {0};
	feed_ok(rx, f, sizeof f, 0, &r);
	assert_int_equal(r.n, 1);
	expect_message(&r.ev[0], WSF_TEXT, "Hello", 5);
	assert_ptr_equal(r.ev[0].ptr, f + 2);
	assert_false(wsf_rx_closed(rx));
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	assert_null(rx);
	wsf_rx_destroy(&rx);
}

static void frame_fed_one_byte_at_a_time_gives_the_same_message(void **state)
{
	(void)state;
	static const unsigned char f[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	for (size_t i = 0; i < sizeof f; i++) {
		assert_int_equal(r.n, 0);
		feed_ok(rx, f + i, 1, 0, &r);
	}
	assert_int_equal(r.n, 1);
	expect_message(&r.ev[0], WSF_TEXT, "Hello", 5);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
}

static void empty_feed_and_empty_message_are_fine(void **state)
{
	(void)state;
	static const unsigned char f[] = {0x81, 0x00, 0x82, 0x00};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	char err[64] = "";
	assert_int_equal(wsf_rx_feed(rx, f, 0, &s_sink, &r, err, sizeof err), 0);
	assert_int_equal(r.n, 0);
	feed_ok(rx, f, sizeof f, 0, &r);
	assert_int_equal(r.n, 2);
	expect_message(&r.ev[0], WSF_TEXT, "", 0);
	expect_message(&r.ev[1], WSF_BINARY, "", 0);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
}

static void binary_message_is_reported_as_binary(void **state)
{
	(void)state;
	static const unsigned char f[] = {0x82, 0x04, 0x00, 0xFF, 0x80, 0x7F};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, f, sizeof f, 0, &r);
	assert_int_equal(r.n, 1);
	expect_message(&r.ev[0], WSF_BINARY, f + 2, 4);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
}

static void lengths_125_and_126_switch_to_16_bit_encoding(void **state)
{
	(void)state;
	static const size_t lens[] = {125, 126, 127, 1000, 65535};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		struct buf b = {0};
		unsigned char *p = pattern(lens[k], (unsigned)k);
		buf_frame(&b, 0x82, p, lens[k]);
		assert_int_equal(b.len, lens[k] + (lens[k] <= 125 ? 2 : 4));
		struct wsf_rx *rx = wsf_rx_new(BIG);
		struct rec r = {0};
		feed_ok(rx, b.p, b.len, 0, &r);
		assert_int_equal(r.n, 1);
		expect_message(&r.ev[0], WSF_BINARY, p, lens[k]);
		assert_ptr_equal(r.ev[0].ptr, b.p + b.len - lens[k]);
		rec_clear(&r);
		feed_ok(rx, b.p, b.len, 7, &r);
		assert_int_equal(r.n, 1);
		expect_message(&r.ev[0], WSF_BINARY, p, lens[k]);
		rec_clear(&r);
		wsf_rx_destroy(&rx);
		free(p);
		free(b.p);
	}
}

static void payload_of_70000_bytes_uses_64_bit_length(void **state)
{
	(void)state;
	static const size_t lens[] = {65536, 70000};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		struct buf b = {0};
		unsigned char *p = pattern(lens[k], 7);
		buf_frame(&b, 0x81, p, lens[k]);
		assert_int_equal(b.len, lens[k] + 10);
		assert_int_equal(b.p[1], 127);
		struct wsf_rx *rx = wsf_rx_new(BIG);
		struct rec r = {0};
		feed_ok(rx, b.p, b.len, 0, &r);
		assert_int_equal(r.n, 1);
		expect_message(&r.ev[0], WSF_TEXT, p, lens[k]);
		assert_ptr_equal(r.ev[0].ptr, b.p + 10);
		rec_clear(&r);
		feed_ok(rx, b.p, b.len, 1000, &r);
		assert_int_equal(r.n, 1);
		expect_message(&r.ev[0], WSF_TEXT, p, lens[k]);
		rec_clear(&r);
		feed_ok(rx, b.p, b.len, 1, &r);
		assert_int_equal(r.n, 1);
		expect_message(&r.ev[0], WSF_TEXT, p, lens[k]);
		rec_clear(&r);
		wsf_rx_destroy(&rx);
		free(p);
		free(b.p);
	}
}

static void several_frames_in_one_feed_are_delivered_in_order(void **state)
{
	(void)state;
	static const unsigned char bin[] = {0, 1, 2};
	unsigned char *big = pattern(300, 3);
	struct buf b = {0};
	buf_frame(&b, 0x81, "a", 1);
	buf_frame(&b, 0x82, bin, 3);
	buf_frame(&b, 0x89, "p", 1);
	buf_frame(&b, 0x8A, "", 0);
	buf_frame(&b, 0x81, big, 300);
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, b.p, b.len, 0, &r);
	assert_int_equal(r.n, 5);
	expect_message(&r.ev[0], WSF_TEXT, "a", 1);
	assert_ptr_equal(r.ev[0].ptr, b.p + 2);
	expect_message(&r.ev[1], WSF_BINARY, bin, 3);
	assert_ptr_equal(r.ev[1].ptr, b.p + 5);
	expect_control(&r.ev[2], WSF_PING, "p", 1);
	expect_control(&r.ev[3], WSF_PONG, "", 0);
	expect_message(&r.ev[4], WSF_TEXT, big, 300);
	assert_ptr_equal(r.ev[4].ptr, b.p + b.len - 300);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(big);
	free(b.p);
}

static void any_split_of_the_input_gives_the_same_callbacks(void **state)
{
	(void)state;
	unsigned char *big = pattern(1000, 5);
	struct buf b = {0};
	buf_frame(&b, 0x81, "first", 5);
	buf_frame(&b, 0x02, big, 200); /* binary, not FIN */
	buf_frame(&b, 0x89, "ping", 4);
	buf_frame(&b, 0x00, big + 200, 100);
	buf_frame(&b, 0x80, big + 300, 700);
	buf_frame(&b, 0x8A, "pong", 4);
	buf_frame(&b, 0x81, "last", 4);
	for (size_t chunk = 1; chunk <= b.len; chunk++) {
		struct wsf_rx *rx = wsf_rx_new(BIG);
		struct rec r = {0};
		feed_ok(rx, b.p, b.len, chunk, &r);
		assert_int_equal(r.n, 5);
		expect_message(&r.ev[0], WSF_TEXT, "first", 5);
		expect_control(&r.ev[1], WSF_PING, "ping", 4);
		expect_message(&r.ev[2], WSF_BINARY, big, 1000);
		expect_control(&r.ev[3], WSF_PONG, "pong", 4);
		expect_message(&r.ev[4], WSF_TEXT, "last", 4);
		rec_clear(&r);
		wsf_rx_destroy(&rx);
	}
	free(big);
	free(b.p);
}

static void fragments_are_joined_in_order(void **state)
{
	(void)state;
	/* RFC 6455 5.7: "Hel" + "lo", then three fragments, one of them empty. */
	struct buf b = {0};
	buf_frame(&b, 0x01, "Hel", 3);
	buf_frame(&b, 0x80, "lo", 2);
	buf_frame(&b, 0x01, "ab", 2);
	buf_frame(&b, 0x00, "", 0);
	buf_frame(&b, 0x80, "cd", 2);
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, b.p, b.len, 0, &r);
	assert_int_equal(r.n, 2);
	expect_message(&r.ev[0], WSF_TEXT, "Hello", 5);
	expect_message(&r.ev[1], WSF_TEXT, "abcd", 4);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(b.p);
}

static void ping_between_fragments_is_delivered_as_control_first(void **state)
{
	(void)state;
	struct buf b = {0};
	buf_frame(&b, 0x01, "Hel", 3);
	buf_frame(&b, 0x89, "are you there", 13);
	buf_frame(&b, 0x00, "l", 1);
	buf_frame(&b, 0x8A, "", 0);
	buf_frame(&b, 0x80, "o", 1);
	for (size_t chunk = 0; chunk <= 2; chunk++) {
		struct wsf_rx *rx = wsf_rx_new(BIG);
		struct rec r = {0};
		feed_ok(rx, b.p, b.len, chunk, &r);
		assert_int_equal(r.n, 3);
		expect_control(&r.ev[0], WSF_PING, "are you there", 13);
		expect_control(&r.ev[1], WSF_PONG, "", 0);
		expect_message(&r.ev[2], WSF_TEXT, "Hello", 5);
		rec_clear(&r);
		wsf_rx_destroy(&rx);
	}
	free(b.p);
}

static void fragmented_binary_message_keeps_the_first_opcode(void **state)
{
	(void)state;
	struct buf b = {0};
	buf_frame(&b, 0x02, "\x01\x02", 2);
	buf_frame(&b, 0x80, "\x03", 1);
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, b.p, b.len, 0, &r);
	assert_int_equal(r.n, 1);
	expect_message(&r.ev[0], WSF_BINARY, "\x01\x02\x03", 3);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(b.p);
}

/* ---- Oversize messages. */

static void expect_truncated(const struct event *e, enum wsf_op op, const unsigned char *data,
			     uint64_t total)
{
	assert_false(e->control);
	assert_int_equal(e->op, op);
	assert_true(e->truncated);
	assert_int_equal(e->total, total);
	size_t keep = total < WSF_KEEP_MAX ? (size_t)total : WSF_KEEP_MAX;
	assert_int_equal(e->len, keep);
	assert_memory_equal(e->data, data, keep);
}

static void message_of_exactly_max_message_is_whole(void **state)
{
	(void)state;
	unsigned char *p = pattern(1001, 9);
	struct buf b = {0};
	buf_frame(&b, 0x81, p, 1000);
	buf_frame(&b, 0x01, p, 500);
	buf_frame(&b, 0x80, p + 500, 500);
	buf_frame(&b, 0x81, p, 1001);
	struct wsf_rx *rx = wsf_rx_new(1000);
	struct rec r = {0};
	feed_ok(rx, b.p, b.len, 0, &r);
	assert_int_equal(r.n, 3);
	expect_message(&r.ev[0], WSF_TEXT, p, 1000);
	expect_message(&r.ev[1], WSF_TEXT, p, 1000);
	expect_truncated(&r.ev[2], WSF_TEXT, p, 1001);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(p);
	free(b.p);
}

static void oversize_frame_is_truncated_and_next_message_is_whole(void **state)
{
	(void)state;
	unsigned char *p = pattern(70000, 11);
	struct buf b = {0};
	buf_frame(&b, 0x82, p, 70000);
	buf_frame(&b, 0x81, "next", 4);
	static const size_t chunks[] = {0, 1000, 1};
	for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		struct wsf_rx *rx = wsf_rx_new(1000);
		struct rec r = {0};
		feed_ok(rx, b.p, b.len, chunks[k], &r);
		assert_int_equal(r.n, 2);
		expect_truncated(&r.ev[0], WSF_BINARY, p, 70000);
		expect_message(&r.ev[1], WSF_TEXT, "next", 4);
		rec_clear(&r);
		wsf_rx_destroy(&rx);
	}
	free(p);
	free(b.p);
}

static void oversize_reached_across_fragments_is_truncated(void **state)
{
	(void)state;
	/* 20 fragments of 100 bytes (the kept 256 bytes span three), a ping after the 5th. */
	unsigned char *p = pattern(2000, 13);
	struct buf b = {0};
	for (int i = 0; i < 20; i++) {
		unsigned b0 = (i == 0 ? 0x01 : 0x00) | (i == 19 ? 0x80 : 0x00);
		buf_frame(&b, b0, p + 100 * i, 100);
		if (i == 4)
			buf_frame(&b, 0x89, "x", 1);
	}
	buf_frame(&b, 0x81, "ok", 2);
	for (size_t chunk = 0; chunk <= 3; chunk++) {
		struct wsf_rx *rx = wsf_rx_new(1000);
		struct rec r = {0};
		feed_ok(rx, b.p, b.len, chunk, &r);
		assert_int_equal(r.n, 3);
		expect_control(&r.ev[0], WSF_PING, "x", 1);
		expect_truncated(&r.ev[1], WSF_TEXT, p, 2000);
		expect_message(&r.ev[2], WSF_TEXT, "ok", 2);
		rec_clear(&r);
		wsf_rx_destroy(&rx);
	}
	free(p);
	free(b.p);
}

static void second_fragment_pushing_over_the_limit_truncates(void **state)
{
	(void)state;
	unsigned char *p = pattern(1200, 17);
	struct buf b = {0};
	buf_frame(&b, 0x02, p, 600);
	buf_frame(&b, 0x80, p + 600, 600);
	buf_frame(&b, 0x82, p, 10);
	struct wsf_rx *rx = wsf_rx_new(1000);
	struct rec r = {0};
	feed_ok(rx, b.p, b.len, 0, &r);
	assert_int_equal(r.n, 2);
	expect_truncated(&r.ev[0], WSF_BINARY, p, 1200);
	expect_message(&r.ev[1], WSF_BINARY, p, 10);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(p);
	free(b.p);
}

static void huge_declared_length_is_not_allocated_up_front(void **state)
{
	(void)state;
	/* 2^40 bytes announced, 4 KiB of them sent: nothing to report yet, no failure. */
	unsigned char f[10 + 4096] = {0x82, 127, 0, 0, 0x01, 0, 0, 0, 0, 0};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, f, sizeof f, 0, &r);
	assert_int_equal(r.n, 0);
	wsf_rx_destroy(&rx);
}

/* ---- Protocol violations. */

struct bad {
	const char *name;
	unsigned char bytes[16];
	size_t len;
};

/* Each must be refused with PP_EINVAL and a message, whole or byte by byte, and none of
 * its frames delivered. */
static void expect_refused(const struct bad *c)
{
	for (size_t chunk = 0; chunk <= 1; chunk++) {
		struct wsf_rx *rx = wsf_rx_new(BIG);
		struct rec r = {0};
		char err[128] = "";
		int rc = feed(rx, c->bytes, c->len, chunk, &r, err, sizeof err);
		if (rc != PP_EINVAL)
			fail_msg("%s (chunk %zu): rc %d, want PP_EINVAL", c->name, chunk, rc);
		if (err[0] == '\0')
			fail_msg("%s: no error message", c->name);
		if (memchr(err, '\0', sizeof err) == NULL)
			fail_msg("%s: error message not terminated", c->name);
		if (r.n != 0)
			fail_msg("%s: %zu callback(s) before the error", c->name, r.n);
		rec_clear(&r);
		wsf_rx_destroy(&rx);
	}
}

static void reserved_bits_are_refused(void **state)
{
	(void)state;
	static const struct bad cases[] = {
	    {"rsv1 text", {0xC1, 0x01, 'a'}, 3},
	    {"rsv2 text", {0xA1, 0x01, 'a'}, 3},
	    {"rsv3 text", {0x91, 0x01, 'a'}, 3},
	    {"rsv1 ping", {0xC9, 0x00}, 2},
	    {"rsv3 continuation", {0x01, 0x01, 'a', 0x90, 0x01, 'b'}, 6},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_refused(&cases[i]);
}

static void unknown_opcodes_are_refused(void **state)
{
	(void)state;
	static const unsigned ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		char name[32];
		snprintf(name, sizeof name, "opcode 0x%X", ops[i]);
		struct bad c = {name, {(unsigned char)(0x80 | ops[i]), 0x01, 'a'}, 3};
		expect_refused(&c);
		struct bad nofin = {name, {(unsigned char)ops[i], 0x00}, 2};
		expect_refused(&nofin);
	}
}

static void masked_server_frame_is_refused(void **state)
{
	(void)state;
	static const struct bad cases[] = {
	    {"masked Hello",
	     {0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58},
	     11},
	    {"masked empty", {0x82, 0x80, 1, 2, 3, 4}, 6},
	    {"masked ping", {0x89, 0x81, 1, 2, 3, 4, 'x'}, 7},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_refused(&cases[i]);
}

static void control_frame_over_125_bytes_is_refused(void **state)
{
	(void)state;
	static const unsigned ops[] = {0x8, 0x9, 0xA};
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		struct buf b = {0};
		unsigned char *p = pattern(126, 1);
		buf_frame(&b, 0x80 | ops[i], p, 126);
		struct wsf_rx *rx = wsf_rx_new(BIG);
		struct rec r = {0};
		char err[128] = "";
		assert_int_equal(feed(rx, b.p, b.len, 0, &r, err, sizeof err), PP_EINVAL);
		assert_true(err[0] != '\0');
		assert_int_equal(r.n, 0);
		wsf_rx_destroy(&rx);
		free(p);
		free(b.p);
	}
	/* 125 is the limit, allowed. */
	unsigned char *p = pattern(125, 2);
	struct buf b = {0};
	buf_frame(&b, 0x89, p, 125);
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, b.p, b.len, 0, &r);
	assert_int_equal(r.n, 1);
	expect_control(&r.ev[0], WSF_PING, p, 125);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(p);
	free(b.p);
}

static void control_frame_without_fin_is_refused(void **state)
{
	(void)state;
	static const struct bad cases[] = {
	    {"close without FIN", {0x08, 0x00}, 2},
	    {"ping without FIN", {0x09, 0x01, 'x'}, 3},
	    {"pong without FIN", {0x0A, 0x00}, 2},
	    {"ping without FIN inside a message", {0x01, 0x01, 'a', 0x09, 0x00}, 5},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_refused(&cases[i]);
}

static void continuation_without_a_message_is_refused(void **state)
{
	(void)state;
	static const struct bad cases[] = {
	    {"final continuation first", {0x80, 0x01, 'a'}, 3},
	    {"continuation first", {0x00, 0x01, 'a'}, 3},
	    {"empty continuation first", {0x80, 0x00}, 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_refused(&cases[i]);
	/* After a complete message there is none in progress either. */
	static const unsigned char f[] = {0x81, 0x01, 'a', 0x80, 0x01, 'b'};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	char err[128] = "";
	assert_int_equal(feed(rx, f, sizeof f, 0, &r, err, sizeof err), PP_EINVAL);
	assert_true(err[0] != '\0');
	assert_int_equal(r.n, 1);
	expect_message(&r.ev[0], WSF_TEXT, "a", 1);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
}

static void new_data_frame_inside_a_fragmented_message_is_refused(void **state)
{
	(void)state;
	static const struct bad cases[] = {
	    {"text inside text", {0x01, 0x01, 'a', 0x81, 0x01, 'b'}, 6},
	    {"binary inside text", {0x01, 0x01, 'a', 0x82, 0x01, 'b'}, 6},
	    {"unfinished text inside text", {0x01, 0x01, 'a', 0x01, 0x01, 'b'}, 6},
	    {"text inside binary", {0x02, 0x00, 0x00, 0x00, 0x81, 0x00}, 6},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_refused(&cases[i]);
}

static void length_with_the_top_bit_set_is_refused(void **state)
{
	(void)state;
	static const struct bad cases[] = {
	    {"2^63", {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10},
	    {"2^64-1", {0x81, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 10},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_refused(&cases[i]);
}

static void short_error_buffer_is_terminated(void **state)
{
	(void)state;
	static const unsigned char f[] = {0xC1, 0x00};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	char err[4];
	memset(err, 'x', sizeof err);
	assert_int_equal(wsf_rx_feed(rx, f, sizeof f, &s_sink, &r, err, sizeof err), PP_EINVAL);
	assert_non_null(memchr(err, '\0', sizeof err));
	wsf_rx_destroy(&rx);
}

/* ---- Close and reset. */

static void close_frame_is_delivered_and_later_input_ignored(void **state)
{
	(void)state;
	static const unsigned char f[] = {0x88, 0x05, 0x03, 0xE8, 'b', 'y', 'e', 0x81, 0x01, 'a'};
	static const unsigned char garbage[] = {0xFF, 0xFF, 0x81, 0x01, 'b'};
	for (size_t chunk = 0; chunk <= 1; chunk++) {
		struct wsf_rx *rx = wsf_rx_new(BIG);
		struct rec r = {0};
		assert_false(wsf_rx_closed(rx));
		feed_ok(rx, f, sizeof f, chunk, &r);
		assert_int_equal(r.n, 1);
		expect_control(&r.ev[0], WSF_CLOSE, f + 2, 5);
		assert_true(wsf_rx_closed(rx));
		unsigned code = 0;
		const char *reason = NULL;
		size_t reason_len = 0;
		assert_int_equal(
		    wsf_close_parse(r.ev[0].data, r.ev[0].len, &code, &reason, &reason_len), 0);
		assert_int_equal(code, WSF_CLOSE_NORMAL);
		assert_int_equal(reason_len, 3);
		assert_memory_equal(reason, "bye", 3);
		feed_ok(rx, garbage, sizeof garbage, 0, &r);
		assert_int_equal(r.n, 1);
		assert_true(wsf_rx_closed(rx));
		rec_clear(&r);
		wsf_rx_destroy(&rx);
	}
}

static void close_between_fragments_ends_the_message(void **state)
{
	(void)state;
	struct buf b = {0};
	buf_frame(&b, 0x01, "Hel", 3);
	buf_frame(&b, 0x88, "", 0);
	buf_frame(&b, 0x80, "lo", 2);
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, b.p, b.len, 0, &r);
	assert_int_equal(r.n, 1);
	expect_control(&r.ev[0], WSF_CLOSE, "", 0);
	assert_true(wsf_rx_closed(rx));
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(b.p);
}

static void reset_forgets_a_partial_frame(void **state)
{
	(void)state;
	static const unsigned char part[] = {0x81, 0x05, 'H', 'e', 'l'};
	static const unsigned char head[] = {0x82, 0x7F, 0x00, 0x00}; /* inside a length */
	static const unsigned char ok[] = {0x81, 0x02, 'o', 'k'};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, part, sizeof part, 0, &r);
	wsf_rx_reset(rx);
	feed_ok(rx, ok, sizeof ok, 0, &r);
	feed_ok(rx, head, sizeof head, 0, &r);
	wsf_rx_reset(rx);
	feed_ok(rx, ok, sizeof ok, 0, &r);
	assert_int_equal(r.n, 2);
	expect_message(&r.ev[0], WSF_TEXT, "ok", 2);
	expect_message(&r.ev[1], WSF_TEXT, "ok", 2);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
}

static void reset_forgets_a_partial_message(void **state)
{
	(void)state;
	static const unsigned char part[] = {0x01, 0x03, 'H', 'e', 'l'};
	static const unsigned char ok[] = {0x81, 0x02, 'o', 'k'}; /* a violation without reset */
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, part, sizeof part, 0, &r);
	wsf_rx_reset(rx);
	feed_ok(rx, ok, sizeof ok, 0, &r);
	assert_int_equal(r.n, 1);
	expect_message(&r.ev[0], WSF_TEXT, "ok", 2);
	rec_clear(&r);
	/* An oversize message in progress too. */
	unsigned char *p = pattern(2000, 3);
	struct buf b = {0};
	buf_frame(&b, 0x01, p, 2000);
	struct wsf_rx *small = wsf_rx_new(1000);
	feed_ok(small, b.p, b.len, 0, &r);
	wsf_rx_reset(small);
	feed_ok(small, ok, sizeof ok, 0, &r);
	assert_int_equal(r.n, 1);
	expect_message(&r.ev[0], WSF_TEXT, "ok", 2);
	rec_clear(&r);
	wsf_rx_destroy(&small);
	wsf_rx_destroy(&rx);
	free(p);
	free(b.p);
}

static void reset_after_close_starts_a_new_connection(void **state)
{
	(void)state;
	static const unsigned char close_f[] = {0x88, 0x00};
	static const unsigned char ok[] = {0x81, 0x02, 'o', 'k'};
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, close_f, sizeof close_f, 0, &r);
	assert_true(wsf_rx_closed(rx));
	wsf_rx_reset(rx);
	assert_false(wsf_rx_closed(rx));
	feed_ok(rx, ok, sizeof ok, 0, &r);
	assert_int_equal(r.n, 2);
	expect_message(&r.ev[1], WSF_TEXT, "ok", 2);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
}

/* ---- wsf_close_parse. */

static int close_code(unsigned code, unsigned *out)
{
	unsigned char p[2] = {(unsigned char)(code >> 8), (unsigned char)code};
	const char *reason = NULL;
	size_t reason_len = 99;
	int rc = wsf_close_parse(p, sizeof p, out, &reason, &reason_len);
	if (rc == 0)
		assert_int_equal(reason_len, 0);
	return rc;
}

static void close_payload_empty_means_no_code(void **state)
{
	(void)state;
	unsigned code = 0;
	const char *reason = NULL;
	size_t reason_len = 99;
	assert_int_equal(wsf_close_parse((const unsigned char *)"", 0, &code, &reason, &reason_len),
			 0);
	assert_int_equal(code, WSF_CLOSE_NONE);
	assert_int_equal(reason_len, 0);
}

static void close_payload_of_one_byte_is_refused(void **state)
{
	(void)state;
	static const unsigned char p[] = {0x03};
	unsigned code = 0;
	const char *reason = NULL;
	size_t reason_len = 0;
	assert_int_equal(wsf_close_parse(p, 1, &code, &reason, &reason_len), PP_EINVAL);
}

static void close_payload_gives_code_and_reason_in_place(void **state)
{
	(void)state;
	static const unsigned char p[] = {0x0F, 0xA0, 's', 'h', 'u', 't', 't', 'i', 'n', 'g'};
	unsigned code = 0;
	const char *reason = NULL;
	size_t reason_len = 0;
	assert_int_equal(wsf_close_parse(p, sizeof p, &code, &reason, &reason_len), 0);
	assert_int_equal(code, 4000);
	assert_ptr_equal(reason, (const char *)p + 2);
	assert_int_equal(reason_len, 8);
	unsigned c = 0;
	assert_int_equal(close_code(WSF_CLOSE_PROTOCOL, &c), 0);
	assert_int_equal(c, 1002);
}

static void close_codes_allowed_on_the_wire_are_accepted(void **state)
{
	(void)state;
	static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
				      1011, 3000, 3999, 4000, 4001, 4008, 4999};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		unsigned code = 0;
		if (close_code(ok[i], &code) != 0)
			fail_msg("close code %u refused", ok[i]);
		assert_int_equal(code, ok[i]);
	}
}

static void close_codes_never_on_the_wire_are_refused(void **state)
{
	(void)state;
	static const unsigned bad[] = {0, 1, 999, 1005, 1006, 1015, 5000, 65535};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned code = 0;
		if (close_code(bad[i], &code) != PP_EINVAL)
			fail_msg("close code %u accepted", bad[i]);
	}
}

static void close_codes_reserved_by_the_rfc_are_refused(void **state)
{
	(void)state;
	/* 1004 is reserved, 1016..2999 unassigned (RFC 6455 7.4.1, 7.4.2). */
	static const unsigned bad[] = {1004, 1016, 1100, 2000, 2999};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned code = 0;
		if (close_code(bad[i], &code) != PP_EINVAL)
			fail_msg("close code %u accepted", bad[i]);
	}
}

/* ---- wsf_frame_new. */

static const unsigned char s_mask[4] = {0x37, 0xFA, 0x21, 0x3D};

static void frame_new_matches_the_rfc_example(void **state)
{
	(void)state;
	/* RFC 6455 5.7: a masked "Hello". */
	static const unsigned char want[] = {0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D,
					     0x7F, 0x9F, 0x4D, 0x51, 0x58};
	size_t n = 0;
	unsigned char *f = wsf_frame_new(WSF_TEXT, "Hello", 5, s_mask, 0, &n);
	assert_non_null(f);
	assert_int_equal(n, sizeof want);
	assert_memory_equal(f, want, sizeof want);
	free(f);
}

/* Header length of a client frame of len payload bytes. */
static size_t hdr_len(size_t len)
{
	return (len <= 125 ? 2 : len <= 0xFFFF ? 4 : 10) + 4;
}

static void frame_new_header_layout_for_each_length_encoding(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 125, 126, 65535, 65536};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		size_t len = lens[k], n = 0;
		unsigned char *p = pattern(len, 21);
		unsigned char *f = wsf_frame_new(WSF_BINARY, p, len, s_mask, 0, &n);
		assert_non_null(f);
		size_t hl = hdr_len(len);
		assert_int_equal(n, hl + len);
		assert_int_equal(f[0], 0x80 | WSF_BINARY); /* FIN, no RSV */
		assert_int_equal(f[1] & 0x80, 0x80);	   /* MASK */
		if (len <= 125) {
			assert_int_equal(f[1] & 0x7F, len);
		} else if (len <= 0xFFFF) {
			assert_int_equal(f[1] & 0x7F, 126);
			assert_int_equal(((size_t)f[2] << 8) | f[3], len);
		} else {
			assert_int_equal(f[1] & 0x7F, 127);
			uint64_t l = 0;
			for (int i = 0; i < 8; i++)
				l = l << 8 | f[2 + i];
			assert_int_equal(l, len);
			assert_int_equal(f[2], 0); /* top bit clear */
		}
		assert_memory_equal(f + hl - 4, s_mask, 4);
		for (size_t i = 0; i < len; i++)
			if ((f[hl + i] ^ s_mask[i % 4]) != p[i])
				fail_msg("len %zu: payload byte %zu not masked right", len, i);
		free(f);
		free(p);
	}
}

static void frame_new_leaves_headroom_free(void **state)
{
	(void)state;
	size_t n = 0;
	unsigned char *f = wsf_frame_new(WSF_PING, "0123456789", 10, s_mask, 16, &n);
	assert_non_null(f);
	assert_int_equal(n, 2 + 4 + 10);
	memset(f, 0xEE, 16); /* ours to write */
	assert_int_equal(f[16], 0x89);
	assert_int_equal(f[17], 0x80 | 10);
	assert_memory_equal(f + 18, s_mask, 4);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(f[22 + i] ^ s_mask[i % 4], '0' + i);
	free(f);
	/* Close with a code, after headroom, 16-bit length. */
	unsigned char *p = pattern(300, 4);
	f = wsf_frame_new(WSF_CLOSE, p, 300, s_mask, 3, &n);
	assert_non_null(f);
	assert_int_equal(n, 4 + 4 + 300);
	assert_int_equal(f[3], 0x88);
	assert_int_equal(f[4], 0xFE);
	assert_int_equal(f[5], 0x01);
	assert_int_equal(f[6], 0x2C);
	free(f);
	free(p);
}

static void frame_new_does_not_touch_the_payload(void **state)
{
	(void)state;
	unsigned char p[8] = "abcdefg";
	size_t n = 0;
	unsigned char *f = wsf_frame_new(WSF_TEXT, p, 7, s_mask, 0, &n);
	assert_non_null(f);
	assert_string_equal((char *)p, "abcdefg");
	free(f);
}

/* Make a client frame a server frame: unmask the payload, clear MASK, drop the key. */
static size_t unmask_frame(unsigned char *f, size_t n)
{
	unsigned l7 = f[1] & 0x7F;
	size_t hl = l7 == 127 ? 10 : l7 == 126 ? 4 : 2;
	assert_true(n >= hl + 4);
	unsigned char key[4];
	memcpy(key, f + hl, 4);
	f[1] &= 0x7F;
	memmove(f + hl, f + hl + 4, n - hl - 4);
	for (size_t i = 0; i < n - hl - 4; i++)
		f[hl + i] ^= key[i % 4];
	return n - 4;
}

static void frame_new_round_trips_through_the_parser(void **state)
{
	(void)state;
	static const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70000};
	static const unsigned char mask[4] = {0xA5, 0x00, 0xFF, 0x5A};
	for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
		for (int op = WSF_TEXT; op <= WSF_BINARY; op++) {
			size_t len = lens[k], n = 0;
			unsigned char *p = pattern(len, (unsigned)k);
			unsigned char *f = wsf_frame_new(op, p, len, mask, 8, &n);
			assert_non_null(f);
			n = unmask_frame(f + 8, n);
			struct wsf_rx *rx = wsf_rx_new(BIG);
			struct rec r = {0};
			feed_ok(rx, f + 8, n, 0, &r);
			assert_int_equal(r.n, 1);
			expect_message(&r.ev[0], op, p, len);
			rec_clear(&r);
			wsf_rx_destroy(&rx);
			free(f);
			free(p);
		}
	}
	size_t n = 0;
	unsigned char *f = wsf_frame_new(WSF_PONG, "pong", 4, mask, 0, &n);
	n = unmask_frame(f, n);
	struct wsf_rx *rx = wsf_rx_new(BIG);
	struct rec r = {0};
	feed_ok(rx, f, n, 0, &r);
	assert_int_equal(r.n, 1);
	expect_control(&r.ev[0], WSF_PONG, "pong", 4);
	rec_clear(&r);
	wsf_rx_destroy(&rx);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(small_text_frame_is_delivered_in_place),
	    cmocka_unit_test(frame_fed_one_byte_at_a_time_gives_the_same_message),
	    cmocka_unit_test(empty_feed_and_empty_message_are_fine),
	    cmocka_unit_test(binary_message_is_reported_as_binary),
	    cmocka_unit_test(lengths_125_and_126_switch_to_16_bit_encoding),
	    cmocka_unit_test(payload_of_70000_bytes_uses_64_bit_length),
	    cmocka_unit_test(several_frames_in_one_feed_are_delivered_in_order),
	    cmocka_unit_test(any_split_of_the_input_gives_the_same_callbacks),
	    cmocka_unit_test(fragments_are_joined_in_order),
	    cmocka_unit_test(ping_between_fragments_is_delivered_as_control_first),
	    cmocka_unit_test(fragmented_binary_message_keeps_the_first_opcode),
	    cmocka_unit_test(message_of_exactly_max_message_is_whole),
	    cmocka_unit_test(oversize_frame_is_truncated_and_next_message_is_whole),
	    cmocka_unit_test(oversize_reached_across_fragments_is_truncated),
	    cmocka_unit_test(second_fragment_pushing_over_the_limit_truncates),
	    cmocka_unit_test(huge_declared_length_is_not_allocated_up_front),
	    cmocka_unit_test(reserved_bits_are_refused),
	    cmocka_unit_test(unknown_opcodes_are_refused),
	    cmocka_unit_test(masked_server_frame_is_refused),
	    cmocka_unit_test(control_frame_over_125_bytes_is_refused),
	    cmocka_unit_test(control_frame_without_fin_is_refused),
	    cmocka_unit_test(continuation_without_a_message_is_refused),
	    cmocka_unit_test(new_data_frame_inside_a_fragmented_message_is_refused),
	    cmocka_unit_test(length_with_the_top_bit_set_is_refused),
	    cmocka_unit_test(short_error_buffer_is_terminated),
	    cmocka_unit_test(close_frame_is_delivered_and_later_input_ignored),
	    cmocka_unit_test(close_between_fragments_ends_the_message),
	    cmocka_unit_test(reset_forgets_a_partial_frame),
	    cmocka_unit_test(reset_forgets_a_partial_message),
	    cmocka_unit_test(reset_after_close_starts_a_new_connection),
	    cmocka_unit_test(close_payload_empty_means_no_code),
	    cmocka_unit_test(close_payload_of_one_byte_is_refused),
	    cmocka_unit_test(close_payload_gives_code_and_reason_in_place),
	    cmocka_unit_test(close_codes_allowed_on_the_wire_are_accepted),
	    cmocka_unit_test(close_codes_never_on_the_wire_are_refused),
	    cmocka_unit_test(close_codes_reserved_by_the_rfc_are_refused),
	    cmocka_unit_test(frame_new_matches_the_rfc_example),
	    cmocka_unit_test(frame_new_header_layout_for_each_length_encoding),
	    cmocka_unit_test(frame_new_leaves_headroom_free),
	    cmocka_unit_test(frame_new_does_not_touch_the_payload),
	    cmocka_unit_test(frame_new_round_trips_through_the_parser),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
