/* test_keyfile.c: the key comes from a private file or PLURUM_API_KEY, never leaks. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"

#define KEY "plrm_live_TESTKEY0123456789abcdef"

static char path[64];

static void write_file(const char *content, mode_t mode)
{
	snprintf(path, sizeof path, "/tmp/pp-keyfile-test-%ld", (long)getpid());
	unlink(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	unsetenv("PLURUM_API_KEY");
	return 0;
}

static void private_file_key_is_read_and_trimmed(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	write_file("  " KEY "\n\n", 0600);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), 0);
	assert_string_equal(key, KEY);
}

static void file_readable_by_others_is_refused_naming_it(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	write_file(KEY "\n", 0644);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "0644"));
	assert_null(strstr(err, "TESTKEY"));
	assert_string_equal(key, "");
}

static void file_writable_by_group_is_refused(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	write_file(KEY, 0620);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
}

static void missing_file_is_refused_naming_it(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	snprintf(path, sizeof path, "/tmp/pp-keyfile-absent-%ld", (long)getpid());
	assert_int_equal(keyfile_read(path, key, err, sizeof err), -1);
	assert_non_null(strstr(err, path));
}

static void empty_file_is_refused(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	write_file(" \n\t\n", 0600);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), -1);
	assert_non_null(strstr(err, "empty"));
}

static void newline_inside_key_is_refused_without_echo(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	write_file(KEY "\n" KEY "\n", 0600);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), -1);
	assert_null(strstr(err, "TESTKEY"));
}

static void oversized_key_is_refused(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256], big[API_KEY_MAX + 10];
	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	write_file(big, 0600);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), -1);
	big[API_KEY_MAX - 1] = '\0'; /* exactly API_KEY_MAX - 1 fits */
	write_file(big, 0600);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), 0);
	assert_int_equal(strlen(key), API_KEY_MAX - 1);
}

static void directory_is_refused(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	assert_int_equal(keyfile_read("/", key, err, sizeof err), -1);
}

static void env_is_used_without_a_file(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	setenv("PLURUM_API_KEY", " " KEY "\n", 1);
	assert_int_equal(keyfile_read("", key, err, sizeof err), 0);
	assert_string_equal(key, KEY);
	assert_int_equal(keyfile_read(NULL, key, err, sizeof err), 0);
}

static void file_wins_over_env(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	setenv("PLURUM_API_KEY", "plrm_live_fromenv", 1);
	write_file("plrm_live_fromfile", 0400);
	assert_int_equal(keyfile_read(path, key, err, sizeof err), 0);
	assert_string_equal(key, "plrm_live_fromfile");
}

static void no_file_and_no_env_is_refused_naming_both(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	unsetenv("PLURUM_API_KEY");
	assert_int_equal(keyfile_read("", key, err, sizeof err), -1);
	assert_non_null(strstr(err, "PLURUM_API_KEY"));
	assert_non_null(strstr(err, "--api-key-file"));
}

static void env_with_control_character_is_refused_without_echo(void **state)
{
	(void)state;
	char key[API_KEY_MAX], err[256];
	setenv("PLURUM_API_KEY", "plrm_live_TESTKEY\x01x", 1);
	assert_int_equal(keyfile_read("", key, err, sizeof err), -1);
	assert_non_null(strstr(err, "PLURUM_API_KEY"));
	assert_null(strstr(err, "TESTKEY"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(private_file_key_is_read_and_trimmed, teardown),
	    cmocka_unit_test_teardown(file_readable_by_others_is_refused_naming_it, teardown),
	    cmocka_unit_test_teardown(file_writable_by_group_is_refused, teardown),
	    cmocka_unit_test_teardown(missing_file_is_refused_naming_it, teardown),
	    cmocka_unit_test_teardown(empty_file_is_refused, teardown),
	    cmocka_unit_test_teardown(newline_inside_key_is_refused_without_echo, teardown),
	    cmocka_unit_test_teardown(oversized_key_is_refused, teardown),
	    cmocka_unit_test_teardown(directory_is_refused, teardown),
	    cmocka_unit_test_teardown(env_is_used_without_a_file, teardown),
	    cmocka_unit_test_teardown(file_wins_over_env, teardown),
	    cmocka_unit_test_teardown(no_file_and_no_env_is_refused_naming_both, teardown),
	    cmocka_unit_test_teardown(env_with_control_character_is_refused_without_echo, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
