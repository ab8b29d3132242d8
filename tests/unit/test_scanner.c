/* test_scanner.c: the content-safety scanner: every kind is found, prose is not, and the
 * JSON walk reports the first hit's path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "scanner.h"

#include <string.h>

struct sample {
	const char *text;
	const char *kind; /* NULL: must be clean */
};

static const struct sample s_samples[] = {
    /* api_key */
    {"sk-abcdefghij0123456789", "api_key"},
    {"export OPENAI=sk-proj-AbCdEfGhIjKlMnOp_qrstuv-12345", "api_key"},
    {"sk-ant-api03-xyzxyzxy", "api_key"},
    {"ghp_0123456789abcdefghijABCDEFGHIJ012345", "api_key"},
    {"(gho_0123456789abcdefghijABCDEFGHIJ012345)", "api_key"},
    {"plrm_live_abcdefgh", "api_key"},
    {"key=xplrm_live_abcdefgh", "api_key"},
    {"AKIAIOSFODNN7EXAMPLE", "api_key"},
    {"id AKIAIOSFODNN7EXAMPLE.", "api_key"},
    /* bearer_token */
    {"Authorization: Bearer abcdefghijklmnop1", "bearer_token"},
    {"bearer   eyJhbGciOiJIUzI1NiJ9.e30.x", "bearer_token"},
    /* private_key */
    {"-----BEGIN PRIVATE KEY-----", "private_key"},
    {"x\n-----BEGIN EC PRIVATE KEY-----\nMHc", "private_key"},
    {"-----BEGIN ENCRYPTED PRIVATE KEY-----", "private_key"},
    /* password */
    {"password=hunter2", "password"},
    {"DB_PASSWORD = 'x9y'", "password"},
    {"passwd:Sup3rS3cret", "password"},
    {"pwd=abc", "password"},
    {"\"secret\": \"abc-123-x\"", "password"},
    {"api_key: 12ab34cd", "password"},
    {"TOKEN=abcdef", "password"},
    /* connection_string */
    {"postgresql://h/db", "connection_string"},
    {"postgres://u@h", "connection_string"},
    {"MYSQL://h", "connection_string"},
    {"mongodb+srv://c.example.net", "connection_string"},
    {"mongodb://c", "connection_string"},
    {"redis://c:6379", "connection_string"},
    {"rediss://c", "connection_string"},
    {"amqp://c", "connection_string"},
    {"amqps://c", "connection_string"},
    {"mssql://c", "connection_string"},
    {"sqlserver://c", "connection_string"},
    {"jdbc:oracle:thin:@h:1521", "connection_string"},
    {"https://user:pa55@example.com/", "connection_string"},
    {"ftp://a:b@ftp.example.com", "connection_string"},
    /* private_address */
    {"10.0.0.1", "private_address"},
    {"10.255.255.255", "private_address"},
    {"172.16.0.1", "private_address"},
    {"172.31.255.1", "private_address"},
    {"192.168.0.1", "private_address"},
    {"127.0.0.1", "private_address"},
    {"169.254.1.1", "private_address"},
    {"host=10.1.2.3:80", "private_address"},
    {"fc00::1", "private_address"},
    {"fdab:cdef::", "private_address"},
    {"fe80::1", "private_address"},
    {"febf::1", "private_address"},
    {"::1", "private_address"},
    {"[::1]:8080", "private_address"},
    {"localhost", "private_address"},
    {"LOCALHOST:80", "private_address"},
    {"db.internal", "private_address"},
    {"a-b.c.local.", "private_address"},
    {"nas.lan", "private_address"},
    {"x.corp", "private_address"},
    {"x.intranet", "private_address"},
    /* clean */
    {"", NULL},
    {"task-list", NULL},
    {"ask-me-anything", NULL},
    {"akiatest", NULL},
    {"AKIATEST", NULL},
    {"AKIAIOSFODNN7EXAMPLEX", NULL},
    {"sk-short", NULL},
    {"sk-this-is-a-long-hyphenated-phrase", NULL},
    {"ghp_short", NULL},
    {"plrm_live_", NULL},
    {"plrm_live_abc", NULL},
    {"Bearer of the ring", NULL},
    {"bearer incomprehensibilities", NULL},
    {"-----BEGIN PUBLIC KEY-----", NULL},
    {"password", NULL},
    {"password=", NULL},
    {"password: short", NULL},
    {"password=$PASS", NULL},
    {"token == null", NULL},
    {"tokens=12", NULL},
    {"postgresql:// ", NULL},
    {"see postgresql.org", NULL},
    {"http://example.com/a:b@c", NULL},
    {"mailto:bob@example.com", NULL},
    {"11.0.0.1", NULL},
    {"172.32.0.1", NULL},
    {"172.15.0.1", NULL},
    {"192.169.0.1", NULL},
    {"10.0.0.256", NULL},
    {"10.0.0", NULL},
    {"1.10.0.0.1", NULL},
    {"10.0.0.1.2", NULL},
    {"v10.0.0.1", NULL},
    {"010.0.0.1", NULL},
    {"2001:db8::1", NULL},
    {"fe:", NULL},
    {"std::1", NULL},
    {"cafe::", NULL},
    {"localhosts", NULL},
    {"my-localhost", NULL},
    {"x.local.example.com", NULL},
    {"Sentence.Local", NULL},
    {"the local lan", NULL},
    {".internal", NULL},
    {"file.localized", NULL},
};

static void every_sample_gives_its_kind(void **state)
{
	int wrong = 0;
	(void)state;
	for (size_t i = 0; i < sizeof s_samples / sizeof s_samples[0]; i++) {
		const char *got = scan_string(s_samples[i].text, strlen(s_samples[i].text));
		const char *want = s_samples[i].kind;
		if ((got == NULL) != (want == NULL) || (got && strcmp(got, want) != 0)) {
			print_error("'%s': expected %s, got %s\n", s_samples[i].text,
				    want ? want : "clean", got ? got : "clean");
			wrong++;
		}
	}
	assert_int_equal(wrong, 0);
}

/* The scanner honours len: bytes past it are not read, and NUL inside is just a byte. */
static void scan_respects_length(void **state)
{
	const char buf[] = "xx\0 10.0.0.1";
	(void)state;
	assert_string_equal(scan_string(buf, sizeof buf - 1), "private_address");
	assert_null(scan_string(buf, 3));
	assert_null(scan_string("plrm_live_abcdefgh", 12));
	assert_null(scan_string(NULL, 0));
}

static void json_walk_reports_the_first_path(void **state)
{
	char path[128];
	json_t *v = json_loads("{\"title\":\"ok\",\"steps\":[{\"text\":\"a\"},{\"text\":\"b\"},"
			       "{\"text\":\"see 192.168.1.1\"}],\"z\":\"sk-ant-api03-abcdefgh\"}",
			       0, NULL);
	(void)state;
	assert_non_null(v);
	assert_string_equal(scan_json(v, "content", path, sizeof path), "private_address");
	assert_string_equal(path, "content.steps[2].text");
	json_decref(v);
}

static void json_walk_quotes_odd_keys(void **state)
{
	char path[128];
	json_t *v = json_loads("{\"a b\":{\"q\\\"x\":[\"redis://h\"]}}", 0, NULL);
	(void)state;
	assert_string_equal(scan_json(v, "content", path, sizeof path), "connection_string");
	assert_string_equal(path, "content[\"a b\"][\"q\\\"x\"][0]");
	json_decref(v);
}

static void keys_are_scanned_and_never_shown(void **state)
{
	char path[128];
	json_t *v = json_loads("{\"x\":{\"plrm_live_abcdefgh12\":1}}", 0, NULL);
	(void)state;
	assert_string_equal(scan_json(v, "content", path, sizeof path), "api_key");
	assert_string_equal(path, "content.x (an object key)");
	json_decref(v);
}

static void secret_named_members_count(void **state)
{
	char path[64];
	json_t *v =
	    json_loads("{\"db\":{\"host\":\"db.example.com\",\"Password\":\"x\"}}", 0, NULL);
	json_t *w =
	    json_loads("{\"password\":\"\",\"token_count\":\"12\",\"api_key\":\"$KEY\"}", 0, NULL);
	(void)state;
	assert_string_equal(scan_json(v, "content", path, sizeof path), "password");
	assert_string_equal(path, "content.db.Password");
	assert_null(scan_json(w, "content", path, sizeof path));
	assert_string_equal(path, "");
	json_decref(v);
	json_decref(w);
}

static void clean_json_and_non_strings(void **state)
{
	char path[64];
	json_t *v = json_loads("{\"n\":10,\"f\":1.5,\"b\":true,\"z\":null,\"a\":[[],{}],"
			       "\"t\":\"fine prose\"}",
			       0, NULL);
	(void)state;
	assert_null(scan_json(v, "content", path, sizeof path));
	assert_null(scan_json(NULL, "content", path, sizeof path));
	json_decref(v);
}

/* A path longer than the buffer is cut, never overflowed. */
static void long_paths_are_cut(void **state)
{
	char path[16];
	json_t *v =
	    json_loads("{\"aaaaaaaaaa\":{\"bbbbbbbbbb\":{\"cccccccccc\":\"10.0.0.1\"}}}", 0, NULL);
	(void)state;
	assert_string_equal(scan_json(v, "content", path, sizeof path), "private_address");
	assert_int_equal(strlen(path), sizeof path - 1);
	assert_memory_equal(path, "content.aaaaaaa", 15);
	assert_non_null(scan_json(v, "content", NULL, 0));
	json_decref(v);
}

/* A cut never splits a UTF-8 character, whatever the buffer's size: the path goes into a
 * JSON reply, and jansson refuses invalid UTF-8 (found by fuzzing fuzz_command). */
static void cut_paths_stay_whole_characters(void **state)
{
	/* keys of 2-, 3- and 4-byte characters, then an ASCII tail */
	json_t *v =
	    json_loads("{\"a\\u00e9\\u00e9\\u00e9\\u20ac\\u20ac\\ud83d\\ude00\\ud83d\\ude00 b\":"
		       "{\"x\":\"10.0.0.1\"}}",
		       0, NULL);
	char full[128], path[64];
	(void)state;
	assert_non_null(v);
	assert_string_equal(scan_json(v, "content", full, sizeof full), "private_address");
	for (size_t cap = 1; cap <= strlen(full) + 1; cap++) {
		json_t *probe;
		assert_string_equal(scan_json(v, "content", path, cap), "private_address");
		assert_true(strlen(path) < cap);
		assert_true(strlen(path) + 4 >= cap); /* less than one character lost */
		assert_memory_equal(path, full, strlen(path));
		probe = json_string(path);
		assert_non_null(probe);
		json_decref(probe);
	}
	json_decref(v);
}

/* Deep nesting is walked without trouble (jansson caps parse depth at 2048). */
static void deep_nesting(void **state)
{
	char text[4200], path[64];
	size_t o = 0;
	json_t *v;
	(void)state;
	for (int i = 0; i < 1000; i++)
		text[o++] = '[';
	memcpy(text + o, "\"::1\"", 5);
	o += 5;
	for (int i = 0; i < 1000; i++)
		text[o++] = ']';
	text[o] = '\0';
	v = json_loads(text, 0, NULL);
	assert_non_null(v);
	assert_string_equal(scan_json(v, "c", path, sizeof path), "private_address");
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_sample_gives_its_kind),
	    cmocka_unit_test(scan_respects_length),
	    cmocka_unit_test(json_walk_reports_the_first_path),
	    cmocka_unit_test(json_walk_quotes_odd_keys),
	    cmocka_unit_test(keys_are_scanned_and_never_shown),
	    cmocka_unit_test(secret_named_members_count),
	    cmocka_unit_test(clean_json_and_non_strings),
	    cmocka_unit_test(long_paths_are_cut),
	    cmocka_unit_test(cut_paths_stay_whole_characters),
	    cmocka_unit_test(deep_nesting),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
