/* test_topic.c: topic segments are lower-case [a-z0-9_-], at most 64 bytes. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <string.h>

#include "topic.h"

static void seg_is(const char *in, const char *want)
{
	char out[TOPIC_SEGMENT_MAX + 1];
	topic_segment(in, in ? strlen(in) : 0, out);
	assert_string_equal(out, want);
}

static void null_or_empty_is_none(void **state)
{
	(void)state;
	seg_is(NULL, "none");
	seg_is("", "none");
}

static void letters_are_lower_cased(void **state)
{
	(void)state;
	seg_is("WebDev-2_x", "webdev-2_x");
}

static void other_ascii_becomes_underscore(void **state)
{
	(void)state;
	seg_is("a.b c/d*e", "a_b_c_d_e");
}

static void each_utf8_character_becomes_one_underscore(void **state)
{
	(void)state;
	seg_is("caf\xc3\xa9!", "caf__");
	seg_is("\xf0\x9f\x98\x80x", "_x");
}

static void each_invalid_byte_becomes_one_underscore(void **state)
{
	(void)state;
	seg_is("\xff\xfe"
	       "a",
	       "__a");
	seg_is("\xc3", "_"); /* truncated sequence */
	seg_is("\xe0\x80\x80"
	       "a",
	       "___a");		       /* overlong NUL: three invalid bytes, not one character */
	seg_is("\xed\xa0\x80", "___"); /* a UTF-16 surrogate is no character either */
	seg_is("\xf4\x90\x80\x80", "____"); /* past U+10FFFF */
}

static void long_input_is_cut_to_64_bytes(void **state)
{
	(void)state;
	char in[200], out[TOPIC_SEGMENT_MAX + 1];
	memset(in, 'A', sizeof in);
	topic_segment(in, sizeof in, out);
	assert_int_equal(strlen(out), TOPIC_SEGMENT_MAX);
	assert_int_equal(out[0], 'a');
}

static void embedded_nul_is_cleaned(void **state)
{
	(void)state;
	char out[TOPIC_SEGMENT_MAX + 1];
	topic_segment("a\0b", 3, out);
	assert_string_equal(out, "a_b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(null_or_empty_is_none),
	    cmocka_unit_test(letters_are_lower_cased),
	    cmocka_unit_test(other_ascii_becomes_underscore),
	    cmocka_unit_test(each_utf8_character_becomes_one_underscore),
	    cmocka_unit_test(each_invalid_byte_becomes_one_underscore),
	    cmocka_unit_test(long_input_is_cut_to_64_bytes),
	    cmocka_unit_test(embedded_nul_is_cleaned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
