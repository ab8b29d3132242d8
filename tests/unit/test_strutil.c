/* test_strutil.c: bounded copies (str_copy, str_copy_text), host names for TLS
 * (str_host_len) and the UTF-8 sequence check (str_utf8_len) that jscan.c's string
 * scanner shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "strutil.h"

static void copy_cuts_on_a_character_boundary(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(str_copy(out, sizeof(out), "ab\xc3\xa9"), 2); /* é does not fit */
	assert_string_equal(out, "ab");
	assert_int_equal(str_copy(out, sizeof(out), NULL), 0);
}

static void copy_text_keeps_valid_utf8(void **state)
{
	const char in[] = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	char out[64];

	(void)state;
	assert_int_equal(str_copy_text(out, sizeof(out), in, strlen(in)), strlen(in));
	assert_string_equal(out, in);
}

static void copy_text_replaces_each_invalid_byte(void **state)
{
	/* a lone continuation, a truncated sequence, an overlong '/', a surrogate, 0xFF */
	const char in[] = "a\x80 b\xe2\x82 c\xc0\xaf d\xed\xa0\x80 e\xff";
	char out[64];

	(void)state;
	str_copy_text(out, sizeof(out), in, sizeof(in) - 1);
	assert_string_equal(out, "a? b?? c?? d??? e?");
}

static void copy_text_stops_at_len_and_keeps_nul_out(void **state)
{
	const char in[] = "abc\0def";
	char out[16];

	(void)state;
	assert_int_equal(str_copy_text(out, sizeof(out), in, 3), 3);
	assert_string_equal(out, "abc");
}

static void copy_text_cuts_whole_characters_only(void **state)
{
	const char in[] = "ab\xe2\x82\xac";
	char out[5]; /* room for "ab" and two bytes: the euro sign's three do not fit */

	(void)state;
	assert_int_equal(str_copy_text(out, sizeof(out), in, strlen(in)), 2);
	assert_string_equal(out, "ab");
}

static void host_len_drops_one_trailing_dot(void **state)
{
	(void)state;
	assert_int_equal(str_host_len("api.plurum.ai."), 13);
	assert_int_equal(str_host_len("api.plurum.ai"), 13);
	assert_int_equal(str_host_len("localhost"), 9);
	assert_int_equal(str_host_len("a.."), 2); /* one dot only */
	assert_int_equal(str_host_len("."), 1);	  /* the root alone stays as it is */
	assert_int_equal(str_host_len(""), 0);
	assert_int_equal(str_host_len("::1"), 3);
}

static void utf8_len_checks_every_rule(void **state)
{
	(void)state;
	assert_int_equal(str_utf8_len((const unsigned char *)"A", 1), 0); /* ASCII: not multi */
	assert_int_equal(str_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
	assert_int_equal(str_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);     /* cut */
	assert_int_equal(str_utf8_len((const unsigned char *)"\xe0\x80\x80", 3), 0); /* overlong */
	assert_int_equal(str_utf8_len((const unsigned char *)"\xed\xbf\xbf", 3), 0); /* surrogate */
	assert_int_equal(str_utf8_len((const unsigned char *)"\xf4\x90\x80\x80", 4),
			 0); /* >10FFFF */
	assert_int_equal(str_utf8_len((const unsigned char *)"\xf4\x8f\xbf\xbf", 4), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(copy_cuts_on_a_character_boundary),
	    cmocka_unit_test(copy_text_keeps_valid_utf8),
	    cmocka_unit_test(copy_text_replaces_each_invalid_byte),
	    cmocka_unit_test(copy_text_stops_at_len_and_keeps_nul_out),
	    cmocka_unit_test(copy_text_cuts_whole_characters_only),
	    cmocka_unit_test(host_len_drops_one_trailing_dot),
	    cmocka_unit_test(utf8_len_checks_every_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
