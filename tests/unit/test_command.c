/* test_command.c: the command parser against its contract and the request corpus
 * (tests/data/requests: every file's name says the error code it must produce). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "command.h"
#include "scanner.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ_DIR PP_TEST_DATA_DIR "/requests"

static char *s_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Parse text; returns the error code or "ok". */
static const char *s_code_of(const char *buf, size_t len, struct cmd_error *err)
{
	struct cmd_request req;
	json_t *id = NULL;
	int rc = cmd_parse(buf, len, &req, &id, err);
	json_decref(id);
	if (rc != 0) {
		assert_non_null(err->code);
		assert_true(err->message[0] != '\0');
		assert_null(req.root);
		return err->code;
	}
	cmd_request_clear(&req);
	return "ok";
}

static const char *s_parse_str(const char *text, struct cmd_error *err)
{
	return s_code_of(text, strlen(text), err);
}

/* Every file NN-<code>-<what>.* must give <code>; every message must be free of the
 * secrets the corpus plants. */
static void corpus_files_give_the_code_in_their_name(void **state)
{
	DIR *d = opendir(REQ_DIR);
	struct dirent *de;
	int bad = 0, good = 0, wrong = 0;
	(void)state;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char path[1024], want[64];
		const char *dash, *dash2, *got;
		struct cmd_error err;
		size_t len;
		char *buf;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		dash = strchr(de->d_name, '-');
		assert_non_null(dash);
		dash2 = strchr(dash + 1, '-');
		assert_non_null(dash2);
		snprintf(want, sizeof want, "%.*s", (int)(dash2 - dash - 1), dash + 1);
		snprintf(path, sizeof path, "%s/%s", REQ_DIR, de->d_name);
		buf = s_read_file(path, &len);
		got = s_code_of(buf, len, &err);
		if (strcmp(got, want) != 0) {
			print_error("%s: expected %s, got %s (%s)\n", de->d_name, want, got,
				    strcmp(got, "ok") ? err.message : "");
			wrong++;
		}
		if (strcmp(want, "ok") != 0) {
			assert_null(strstr(err.message, "plrm_live_abc"));
			assert_null(strstr(err.message, "sk-proj4"));
			assert_null(strstr(err.message, "hunter2"));
			assert_null(strstr(err.message, "AKIAIOSFODNN7"));
			bad++;
		} else {
			good++;
		}
		free(buf);
	}
	closedir(d);
	assert_int_equal(wrong, 0);
	assert_true(bad >= 45);
	assert_true(good >= 5);
}

/* Ordinary prose must neither trip the scanner nor be refused. */
static void prose_is_not_flagged(void **state)
{
	size_t len;
	char *buf = s_read_file(REQ_DIR "/prose-clean.txt", &len);
	char *save = NULL;
	int lines = 0;
	(void)state;
	for (char *line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *kind = scan_string(line, strlen(line));
		json_t *req;
		char *text;
		struct cmd_error err;
		if (kind != NULL)
			fail_msg("prose flagged as %s: %s", kind, line);
		req = json_pack("{s:s, s:s, s:{s:s}}", "cmd", "contribute", "session_id", "s1",
				"content", "text", line);
		assert_non_null(req);
		text = json_dumps(req, JSON_COMPACT);
		if (strcmp(s_parse_str(text, &err), "ok") != 0)
			fail_msg("refused (%s): %s", err.message, line);
		free(text);
		json_decref(req);
		lines++;
	}
	free(buf);
	assert_true(lines >= 20);
}

static void contribute_fields_are_read_with_defaults(void **state)
{
	struct cmd_request req;
	struct cmd_error err;
	json_t *id = NULL;
	const char *t =
	    "{\"cmd\":\"contribute\",\"session_id\":\"abc\",\"content\":{\"text\":\"hi\"},"
	    "\"future\":1}";
	(void)state;
	assert_int_equal(cmd_parse(t, strlen(t), &req, &id, &err), 0);
	assert_null(id);
	assert_int_equal(req.kind, CMD_CONTRIBUTE);
	assert_string_equal(req.session_id, "abc");
	assert_string_equal(req.contribution_type, "suggestion");
	assert_int_equal(req.timeout_ms, CMD_TIMEOUT_DEFAULT);
	assert_null(req.id);
	assert_true(json_is_object(req.content));
	cmd_request_clear(&req);
	assert_null(req.root);
	cmd_request_clear(&req); /* safe twice */
}

static void contribute_fields_are_read_when_given(void **state)
{
	struct cmd_request req;
	struct cmd_error err;
	json_t *id = NULL;
	const char *t =
	    "{\"id\":\"c-7\",\"cmd\":\"contribute\",\"session_id\":\"abc\",\"content\":{},"
	    "\"contribution_type\":\"warning\",\"timeout_ms\":250}";
	(void)state;
	assert_int_equal(cmd_parse(t, strlen(t), &req, &id, &err), 0);
	assert_string_equal(req.contribution_type, "warning");
	assert_int_equal(req.timeout_ms, 250);
	assert_string_equal(json_string_value(req.id), "c-7");
	json_decref(id); /* id_out may be set on success too: the caller owns it */
	cmd_request_clear(&req);
}

static void replay_and_outcome_fields(void **state)
{
	struct cmd_request req;
	struct cmd_error err;
	const char *t1 = "{\"cmd\":\"replay\"}";
	const char *t2 = "{\"cmd\":\"replay\",\"after_seq\":9007199254740993,\"limit\":5}";
	const char *t3 = "{\"cmd\":\"outcome\",\"id\":\"k\"}";
	(void)state;
	assert_int_equal(cmd_parse(t1, strlen(t1), &req, NULL, &err), 0);
	assert_int_equal(req.after_seq, 0);
	assert_int_equal(req.limit, CMD_REPLAY_LIMIT_DEF);
	cmd_request_clear(&req);
	assert_int_equal(cmd_parse(t2, strlen(t2), &req, NULL, &err), 0);
	assert_true(req.after_seq == 9007199254740993ULL);
	assert_int_equal(req.limit, 5);
	cmd_request_clear(&req);
	assert_int_equal(cmd_parse(t3, strlen(t3), &req, NULL, &err), 0);
	assert_int_equal(req.kind, CMD_OUTCOME);
	assert_string_equal(json_string_value(req.id), "k");
	cmd_request_clear(&req);
}

static void error_echoes_a_valid_id_only(void **state)
{
	struct cmd_request req;
	struct cmd_error err;
	json_t *id = NULL;
	const char *t1 = "{\"id\":\"r1\",\"cmd\":\"nope\"}";
	const char *t2 = "{\"id\":7,\"cmd\":\"ping\"}";
	(void)state;
	assert_int_equal(cmd_parse(t1, strlen(t1), &req, &id, &err), -1);
	assert_string_equal(err.code, "unknown_command");
	assert_non_null(id);
	assert_string_equal(json_string_value(id), "r1");
	json_decref(id);
	assert_int_equal(cmd_parse(t2, strlen(t2), &req, &id, &err), -1);
	assert_null(id);
	assert_string_equal(err.message, "id: expected a string");
}

static void messages_name_the_field(void **state)
{
	struct cmd_error err;
	(void)state;
	s_parse_str("{\"id\":\"x\"}", &err);
	assert_string_equal(err.message, "cmd: missing");
	s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":\"x\"}", &err);
	assert_string_equal(err.message, "content: expected an object");
	s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":{},"
		    "\"contribution_type\":\"x\"}",
		    &err);
	assert_non_null(strstr(err.message, "contribution_type: unknown type 'x'"));
	s_parse_str("{\"cmd\":\"contribute\",\"content\":{}}", &err);
	assert_string_equal(err.message, "session_id: missing");
	s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":{},\"timeout_ms\":0}",
		    &err);
	assert_string_equal(err.message, "timeout_ms: must be 1..600000");
	s_parse_str("{\"cmd\":\"replay\",\"after_seq\":-1}", &err);
	assert_string_equal(err.message, "after_seq: must be 0..9223372036854775807");
	s_parse_str("[1]", &err);
	assert_string_equal(err.message, "request: expected a JSON object");
}

/* The order of checks is fixed: the first failing one in the contract's order wins. */
static void checks_run_in_order(void **state)
{
	struct cmd_error err;
	(void)state;
	/* unknown cmd wins over a bad id */
	assert_string_equal(s_parse_str("{\"cmd\":\"x\",\"id\":5}", &err), "unknown_command");
	/* session_id before content before type before timeout */
	s_parse_str("{\"cmd\":\"contribute\",\"content\":1,\"contribution_type\":2}", &err);
	assert_string_equal(err.message, "session_id: missing");
	s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":1,"
		    "\"contribution_type\":2}",
		    &err);
	assert_string_equal(err.message, "content: expected an object");
	s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":{},"
		    "\"contribution_type\":2,\"timeout_ms\":\"x\"}",
		    &err);
	assert_string_equal(err.message, "contribution_type: expected a string");
	/* unsafe content is reported before the field checks after it? no: fields first */
	s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":{\"a\":"
		    "\"plrm_live_abcdefgh12\"},\"timeout_ms\":\"x\"}",
		    &err);
	assert_string_equal(err.message, "timeout_ms: expected an integer");
}

static void unsafe_content_names_path_and_kind_not_secret(void **state)
{
	struct cmd_error err;
	(void)state;
	assert_string_equal(s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":"
					"{\"steps\":[{\"text\":\"a\"},{\"text\":\"b\"},{\"text\":"
					"\"key sk-abcdefghij0123456789xyz\"}]}}",
					&err),
			    "unsafe_content");
	assert_string_equal(err.message, "content.steps[2].text: looks like an api_key");
	s_parse_str("{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":"
		    "{\"odd key\":{\"x\":\"10.0.0.1\"}}}",
		    &err);
	assert_string_equal(err.message, "content[\"odd key\"].x: looks like a private_address");
}

/* Build a contribute whose WS message is exactly total bytes. */
static char *s_sized_request(size_t total, size_t *len)
{
	/* WS message: {"type":"contribute","session_id":"s","content":{"t":"<pad>"},
	 * "contribution_type":"suggestion"} */
	const char *ws_fixed =
	    "{\"type\":\"contribute\",\"session_id\":\"s\",\"content\":{\"t\":\"\"},"
	    "\"contribution_type\":\"suggestion\"}";
	size_t pad = total - strlen(ws_fixed);
	size_t cap = pad + 128;
	char *buf = malloc(cap);
	char *p;
	assert_non_null(buf);
	p = buf +
	    sprintf(buf, "{\"cmd\":\"contribute\",\"session_id\":\"s\",\"content\":{\"t\":\"");
	for (size_t i = 0; i < pad; i++)
		*p++ = (i % 7 == 6) ? ' ' : 'a' + (char)(i % 7);
	p += sprintf(p, "\"}}");
	*len = (size_t)(p - buf);
	return buf;
}

static void too_large_is_computed_on_the_ws_message(void **state)
{
	struct cmd_request req;
	struct cmd_error err;
	size_t len, wslen = 0;
	char *buf, *ws;
	(void)state;
	buf = s_sized_request(CMD_UPSTREAM_MAX, &len);
	assert_int_equal(cmd_parse(buf, len, &req, NULL, &err), 0);
	ws = cmd_contribute_ws_message(&req, &wslen);
	assert_int_equal(wslen, CMD_UPSTREAM_MAX);
	free(ws);
	cmd_request_clear(&req);
	free(buf);

	buf = s_sized_request(CMD_UPSTREAM_MAX + 1, &len);
	assert_int_equal(cmd_parse(buf, len, &req, NULL, &err), -1);
	assert_string_equal(err.code, "too_large");
	free(buf);

	buf = s_sized_request(3 * CMD_UPSTREAM_MAX, &len);
	assert_string_equal(s_code_of(buf, len, &err), "too_large");
	free(buf);
}

static void upstream_bodies_have_the_contract_shape(void **state)
{
	struct cmd_request req;
	struct cmd_error err;
	size_t len = 0;
	char *s, path[256];
	const char *t =
	    "{\"cmd\":\"contribute\",\"session_id\":\"a/b?c\",\"content\":{\"text\":\"é\"},"
	    "\"contribution_type\":\"reference\"}";
	(void)state;
	assert_int_equal(cmd_parse(t, strlen(t), &req, NULL, &err), 0);
	s = cmd_contribute_ws_message(&req, &len);
	assert_string_equal(s, "{\"type\":\"contribute\",\"session_id\":\"a/b?c\",\"content\":{"
			       "\"text\":\"é\"},\"contribution_type\":\"reference\"}");
	assert_int_equal(len, strlen(s));
	free(s);
	s = cmd_contribute_rest_body(&req, &len);
	assert_string_equal(s,
			    "{\"content\":{\"text\":\"é\"},\"contribution_type\":\"reference\"}");
	free(s);
	assert_int_equal(cmd_contribute_rest_path(&req, path, sizeof path), 0);
	assert_string_equal(path, "/sessions/a%2Fb%3Fc/contribute");
	assert_int_equal(cmd_contribute_rest_path(&req, path, 12), -1);
	cmd_request_clear(&req);
}

static void error_reply_shape(void **state)
{
	json_t *id = json_string("r9");
	json_t *r = cmd_error_reply(id, "rate_limited", "budget spent", 1500, 0);
	char *s = json_dumps(r, JSON_COMPACT);
	(void)state;
	assert_string_equal(s, "{\"ok\":false,\"id\":\"r9\",\"error\":{\"code\":\"rate_limited\","
			       "\"message\":\"budget spent\",\"retry_after_ms\":1500}}");
	free(s);
	json_decref(r);
	r = cmd_error_reply(NULL, "upstream_rejected", "closed session", -1, 403);
	s = json_dumps(r, JSON_COMPACT);
	assert_string_equal(s, "{\"ok\":false,\"error\":{\"code\":\"upstream_rejected\","
			       "\"message\":\"closed session\",\"status\":403}}");
	free(s);
	json_decref(r);
	json_decref(id);
}

static void json_errors_do_not_quote_the_input(void **state)
{
	struct cmd_error err;
	(void)state;
	s_parse_str("{\"cmd\":\"ping\", plrm_live_abcdefgh123}", &err);
	assert_string_equal(err.code, "bad_request");
	assert_null(strstr(err.message, "plrm_live"));
	assert_non_null(strstr(err.message, "not JSON"));
	s_parse_str("{\"cmd\":\"plrm_live_abcdefgh123\"}", &err);
	assert_string_equal(err.code, "unknown_command");
	assert_null(strstr(err.message, "plrm_live"));
	assert_string_equal(s_code_of(NULL, 0, &err), "bad_request");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(corpus_files_give_the_code_in_their_name),
	    cmocka_unit_test(prose_is_not_flagged),
	    cmocka_unit_test(contribute_fields_are_read_with_defaults),
	    cmocka_unit_test(contribute_fields_are_read_when_given),
	    cmocka_unit_test(replay_and_outcome_fields),
	    cmocka_unit_test(error_echoes_a_valid_id_only),
	    cmocka_unit_test(messages_name_the_field),
	    cmocka_unit_test(checks_run_in_order),
	    cmocka_unit_test(unsafe_content_names_path_and_kind_not_secret),
	    cmocka_unit_test(too_large_is_computed_on_the_ws_message),
	    cmocka_unit_test(upstream_bodies_have_the_contract_shape),
	    cmocka_unit_test(error_reply_shape),
	    cmocka_unit_test(json_errors_do_not_quote_the_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
