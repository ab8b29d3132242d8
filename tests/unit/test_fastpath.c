/* test_fastpath.c: the normalizer's fast path agrees with the reference path.
 *
 * normalize_frame_fast() may decline any frame, but whenever it accepts one its result must
 * mean the same JSON (data, id, topic, type) as normalize_frame()'s. The common shapes must
 * be accepted, or the fast path would silently never run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jscan.h"
#include "normalize.h"

#define MAX_LEN (16u << 20)

/* 1 when the fast path took it (and agreed), 0 when it declined. */
static int s_compare(const char *frame)
{
	struct norm_event fast, ref;
	char err[256];
	json_t *parsed;
	int took = normalize_frame_fast(frame, strlen(frame), MAX_LEN, &fast);

	if (!took) {
		assert_null(fast.data_json);
		return 0;
	}
	if (normalize_frame(frame, strlen(frame), MAX_LEN, &ref, err, sizeof(err)) != 0)
		fail_msg("fast path accepted what the reference refuses (%s): %s", err, frame);
	assert_int_equal(fast.kind, NORM_EVENT);
	assert_null(fast.data);
	assert_string_equal(fast.type, ref.type);
	assert_string_equal(fast.topic, ref.topic);
	assert_string_equal(fast.id, ref.id);
	parsed = json_loadb(fast.data_json, fast.data_json_len, 0, NULL);
	assert_non_null(parsed);
	if (!json_equal(parsed, ref.data))
		fail_msg("data differs:\nfast %s\nref  %s", fast.data_json,
			 json_dumps(ref.data, JSON_COMPACT));
	/* the envelope is one line: no raw newline outside strings */
	assert_null(strchr(fast.data_json, '\n'));
	json_decref(parsed);
	norm_event_clear(&fast);
	norm_event_clear(&ref);
	return 1;
}

static const char *const COMMON[] = {
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s1\",\"short_id\":\"s1s1s1s1\","
    "\"agent_id\":\"a\",\"topic\":\"TLS\",\"domain\":\"Web "
    "Dev!\",\"tools_used\":[\"gcc\",\"gdb\"]}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s2\",\"domain\":null}}",
    "{\"type\":\"session_closed\",\"data\":{\"session_id\":\"s1\",\"short_id\":\"x\",\"agent_id\":"
    "\"a\",\"topic\":\"t\",\"outcome\":\"success\",\"experience_id\":\"e\","
    "\"experience_short_id\":\"ee\"}}",
    "{\"type\":\"session_closed\",\"data\":{\"session_id\":\"s1\",\"outcome\":null}}",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c1\",\"session_id\":\"s1\","
    "\"contributor_agent_id\":\"b\",\"content\":{\"text\":\"hi \\\"there\\\"\\n\",\"n\":[1,2.5,"
    "-3,true,false,null]},\"contribution_type\":\"warning\",\"created_at\":\"2026\"}}",
    "{\"data\":{\"id\":\"c2\",\"session_id\":\"s1\",\"content\":null,\"sent_at_ns\":"
    "1732860000000000000,\"seq\":3},\"type\":\"contribution_received\"}",
    " { \"type\" : \"contribution_received\" , \"data\" : { \"id\" : \"c3\" , \"content\" : {\n"
    "  \"a\" : [ 1 , { \"b\" : \"x y\" } ]\n } } } ",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c4\",\"content\":{\"t\":"
    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}}}",
};

static void test_common_shapes_take_the_fast_path_and_agree(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(COMMON) / sizeof(COMMON[0]); i++)
		if (s_compare(COMMON[i]) != 1)
			fail_msg("declined a common frame: %s", COMMON[i]);
}

static const char *const DECLINED[] = {
    "",
    "[]",
    "{}",
    "{\"type\":\"session_opened\"}",
    "{\"type\":\"mystery\",\"data\":{}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s\"},\"more\":1}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":5}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"\"}}",
    "{\"type\":\"session_opened\",\"data\":{\"domain\":\"x\"}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s\",\"tools_used\":[1]}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s\",\"session_id\":\"t\"}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s\",\"x\":1,\"x\":2}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s\\u0041\"}}",
    "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"s\\/\"}}",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\",\"content\":\"text\"}}",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\",\"n\":1e400}}",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\",\"n\":99999999999999999999}}",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\",\"s\":\"\xc0\xaf\"}}",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\",\"s\":\"\xed\xa0\x80\"}}",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\"}} x",
    "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\",}}",
    "{\"type\":\"auth_ok\",\"agent_id\":\"a\"}",
};

static void test_unusual_frames_are_left_to_the_reference_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(DECLINED) / sizeof(DECLINED[0]); i++)
		if (s_compare(DECLINED[i]) != 0)
			fail_msg("took a frame it should leave to jansson: %s", DECLINED[i]);
}

static void test_deep_nesting_is_declined_without_recursing_far(void **state)
{
	size_t n = 100000;
	char *f = malloc(n * 2 + 64);

	(void)state;
	assert_non_null(f);
	strcpy(f, "{\"type\":\"contribution_received\",\"data\":{\"id\":\"c\",\"x\":");
	size_t o = strlen(f);
	memset(f + o, '[', n);
	memset(f + o + n, ']', n);
	strcpy(f + o + 2 * n, "}}");
	assert_int_equal(s_compare(f), 0);
	free(f);
}

static void test_scanner_counts_members_and_spans(void **state)
{
	struct jtok t[16];
	const char *s = "{\"a\":[1,\"x\"],\"b\":{}}";

	(void)state;
	assert_int_equal(jscan(s, strlen(s), t, 16, 8), 7);
	assert_int_equal(t[0].type, JT_OBJ);
	assert_int_equal(t[0].count, 2);
	assert_int_equal(t[2].type, JT_ARR);
	assert_int_equal(t[2].count, 2);
	assert_int_equal(t[2].next, 5);
	assert_int_equal(t[6].end - t[6].start, 2);
	assert_int_equal(jscan(s, strlen(s), t, 4, 8), -1); /* too many tokens */
	assert_int_equal(jscan("[[[]]]", 6, t, 16, 2), -1); /* too deep */
}

/* The scanner reads strings 8 bytes at a time: a special byte must be seen at every
 * offset, in a full word and in the tail shorter than a word. */
static void test_scanner_sees_special_bytes_at_every_offset(void **state)
{
	static const char *const good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
					   "\\n",      "\\\"",	       "\\/"};
	static const char *const bad[] = {"\x01",
					  "\x1f",
					  "\x7f\xff",
					  "\xc3"
					  "b",
					  "\xed\xa0\x80",
					  "\"x"};
	struct jtok t[4];
	char buf[64];

	(void)state;
	for (int before = 0; before < 18; before++) {
		for (int after = 0; after < 10; after++) {
			for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
				int n =
				    snprintf(buf, sizeof(buf), "[\"%.*s%s%.*s\"]", before,
					     "aaaaaaaaaaaaaaaaaa", good[i], after, "bbbbbbbbbb");

				assert_int_equal(jscan(buf, (size_t)n, t, 4, 4), 2);
				assert_int_equal(t[1].end, n - 1); /* just past the closing quote */
			}
			for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
				int n = snprintf(buf, sizeof(buf), "[\"%.*s%s%.*s\"]", before,
						 "aaaaaaaaaaaaaaaaaa", bad[i], after, "bbbbbbbbbb");

				assert_int_equal(jscan(buf, (size_t)n, t, 4, 4), -1);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_common_shapes_take_the_fast_path_and_agree),
	    cmocka_unit_test(test_unusual_frames_are_left_to_the_reference_path),
	    cmocka_unit_test(test_deep_nesting_is_declined_without_recursing_far),
	    cmocka_unit_test(test_scanner_counts_members_and_spans),
	    cmocka_unit_test(test_scanner_sees_special_bytes_at_every_offset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
