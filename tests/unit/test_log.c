/* test_log.c: log lines are one line each and never show the key. */
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
#include <unistd.h>

#include "log.h"

static void redacted(const char *in, const char *want)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", in);
	size_t n = log_redact(buf);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void key_pattern_is_redacted_at_start_middle_end(void **state)
{
	(void)state;
	redacted("plrm_live_abcdefghijKLMNOP123 x", "plrm_live_[REDACTED] x");
	redacted("key=plrm_live_abcdefghijKLMNOP-_9, ok", "key=plrm_live_[REDACTED], ok");
	redacted("tail plrm_live_abcdefghijKLMNOP", "tail plrm_live_[REDACTED]");
	redacted("\"plrm_live_abcdefghijklmnop\"", "\"plrm_live_[REDACTED]\"");
}

static void every_key_in_a_line_is_redacted(void **state)
{
	(void)state;
	redacted("a plrm_live_0123456789abc b plrm_live_zyxwvutsrqpo c",
		 "a plrm_live_[REDACTED] b plrm_live_[REDACTED] c");
}

static void short_key_tail_never_grows_the_string(void **state)
{
	(void)state;
	redacted("plrm_live_abc.", "plrm_live_***.");
	redacted("plrm_live_", "plrm_live_");
}

static void redaction_is_idempotent(void **state)
{
	(void)state;
	redacted("plrm_live_[REDACTED]", "plrm_live_[REDACTED]");
}

static void url_query_token_is_redacted(void **state)
{
	(void)state;
	redacted("wss://h/ws?token=plrm_live_abcdefghijklmnopqrstu&x=1",
		 "wss://h/ws?token=plrm_live_[REDACTED]&x=1");
}

static void exact_secret_is_redacted_even_without_prefix(void **state)
{
	(void)state;
	log_set_secret("s3cr3t-key-value!");
	redacted("got s3cr3t-key-value! and s3cr3t-key-value!", "got [REDACTED] and [REDACTED]");
	log_set_secret(NULL);
	redacted("got s3cr3t-key-value!", "got s3cr3t-key-value!");
}

static void exact_secret_with_prefix_is_fully_redacted(void **state)
{
	(void)state;
	log_set_secret("plrm_live_ABCDEFGHIJKLMN");
	redacted("k=plrm_live_ABCDEFGHIJKLMN;", "k=[REDACTED];");
	log_set_secret(NULL);
}

static void level_names_parse(void **state)
{
	(void)state;
	enum log_level l;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("verbose", &l), -1);
	assert_int_equal(log_level_parse(NULL, &l), -1);
}

static void shorten_escapes_control_characters(void **state)
{
	(void)state;
	char out[128];
	log_shorten("a\nb\tc\x01\\", 7, out, sizeof out, 100);
	assert_string_equal(out, "a\\nb\\tc\\x01\\\\");
}

static void shorten_keeps_nul_bytes_visible(void **state)
{
	(void)state;
	char out[64];
	log_shorten("a\0b", 3, out, sizeof out, 100);
	assert_string_equal(out, "a\\x00b");
}

static void shorten_cuts_on_utf8_boundary_with_ellipsis(void **state)
{
	(void)state;
	char out[64];
	log_shorten("ab\xc3\xa9xyz", 7, out, sizeof out, 3); /* would split the e-acute */
	assert_string_equal(out, "ab...");
	log_shorten("abc", 3, out, sizeof out, 3);
	assert_string_equal(out, "abc");
}

static void shorten_respects_small_output(void **state)
{
	(void)state;
	char out[8];
	log_shorten("0123456789abcdef", 16, out, sizeof out, 100);
	assert_true(strlen(out) < sizeof out);
	assert_non_null(strstr(out, "..."));
}

/* Run fn with stderr redirected to a temporary file; return what was written. */
static char *capture(void (*fn)(void))
{
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	int saved = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	static char buf[16384];
	rewind(tmp);
	size_t n = fread(buf, 1, sizeof buf - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

static void emit_hostile(void)
{
	log_init("prog", LOG_LVL_INFO);
	log_info("line1\nline2\r key=%s", "plrm_live_abcdefghijklmnopq");
	log_debug("not shown");
}

static void log_record_is_one_redacted_line_with_level(void **state)
{
	(void)state;
	char *out = capture(emit_hostile);
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	assert_non_null(strstr(out, " prog["));
	assert_non_null(strstr(out, "] INFO line1\\nline2\\r key=plrm_live_[REDACTED]\n"));
	assert_null(strstr(out, "abcdefghij"));
	assert_null(strstr(out, "not shown"));
	/* "2026-11-29T07:30:00.123Z " */
	assert_int_equal(out[4], '-');
	assert_int_equal(out[10], 'T');
	assert_int_equal(out[23], 'Z');
}

static void emit_long(void)
{
	static char big[10000];
	memset(big, 'x', sizeof big - 1);
	memcpy(big + 4090, "plrm_live_abcdefghijklmnop", 26);
	log_init("prog", LOG_LVL_INFO);
	log_warn("%s", big);
}

static void long_record_is_cut_after_redaction(void **state)
{
	(void)state;
	char *out = capture(emit_long);
	assert_null(strstr(out, "abcdef"));
	assert_non_null(strstr(out, "WARN"));
	assert_non_null(strstr(out, "...\n"));
}

static void emit_lws(void)
{
	log_init("prog", LOG_LVL_INFO);
	log_lws_emit(1, "lws error here\n");
	log_lws_emit(4, "notice here\n");
	log_lws_emit(8, "info is debug\n");
	log_lws_emit(2, "token plrm_live_abcdefghijklmn\n");
}

static void lws_lines_are_mapped_stripped_and_redacted(void **state)
{
	(void)state;
	char *out = capture(emit_lws);
	assert_non_null(strstr(out, "ERROR lws: lws error here\n"));
	assert_non_null(strstr(out, "INFO lws: notice here\n"));
	assert_null(strstr(out, "info is debug"));
	assert_non_null(strstr(out, "WARN lws: token plrm_live_[REDACTED]\n"));
	assert_null(strstr(out, "\\n")); /* the trailing newline was stripped, not escaped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_pattern_is_redacted_at_start_middle_end),
	    cmocka_unit_test(every_key_in_a_line_is_redacted),
	    cmocka_unit_test(short_key_tail_never_grows_the_string),
	    cmocka_unit_test(redaction_is_idempotent),
	    cmocka_unit_test(url_query_token_is_redacted),
	    cmocka_unit_test(exact_secret_is_redacted_even_without_prefix),
	    cmocka_unit_test(exact_secret_with_prefix_is_fully_redacted),
	    cmocka_unit_test(level_names_parse),
	    cmocka_unit_test(shorten_escapes_control_characters),
	    cmocka_unit_test(shorten_keeps_nul_bytes_visible),
	    cmocka_unit_test(shorten_cuts_on_utf8_boundary_with_ellipsis),
	    cmocka_unit_test(shorten_respects_small_output),
	    cmocka_unit_test(log_record_is_one_redacted_line_with_level),
	    cmocka_unit_test(long_record_is_cut_after_redaction),
	    cmocka_unit_test(lws_lines_are_mapped_stripped_and_redacted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
