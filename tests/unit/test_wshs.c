/* test_wshs.c: the WebSocket opening handshake: the request we write, the answer we accept. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pp_err.h"
#include "wshs.h"

/* RFC 6455 section 1.3's example: the key of the nonce "the sample nonce" and its answer. */
#define KEY	  "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT	  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define STATUS101 "HTTP/1.1 101 Switching Protocols\r\n"
#define UPGRADE	  "Upgrade: websocket\r\n"
#define CONNECT	  "Connection: Upgrade\r\n"
#define ACCEPTF	  "Sec-WebSocket-Accept: " ACCEPT "\r\n"
#define GOOD_HEAD STATUS101 UPGRADE CONNECT ACCEPTF "\r\n"

static char req[4096];
static char err[256];
static int status;

static int request(const char *host, int port, bool tls, const char *path, const char *ua)
{
	memset(req, 0, sizeof req);
	return wshs_request(req, sizeof req, host, port, tls, path, KEY, ua);
}

/* How many header lines (after the request or status line) are named name, in any case. */
static int count_field(const char *text, const char *name)
{
	size_t n = strlen(name);
	int count = 0;
	for (const char *line = strstr(text, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':')
			count++;
	}
	return count;
}

/* True when "\r\n" line "\r\n" occurs in text exactly once. */
static bool has_line_once(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof want, "\r\n%s\r\n", line);
	const char *at = strstr(text, want);
	return at != NULL && strstr(at + 1, want) == NULL;
}

/* wshs_response over an exact-size heap copy of the first len bytes, so that ASan sees any
 * read past len (the answer is not NUL-terminated on the wire). */
static int respond_n(const char *text, size_t len, int *st)
{
	char *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	memcpy(copy, text, len);
	err[0] = '\0';
	int rc = wshs_response(copy, len, KEY, st, err, sizeof err);
	free(copy);
	return rc;
}

static int respond(const char *text)
{
	status = -1;
	return respond_n(text, strlen(text), &status);
}

/* A valid 101 head of exactly total bytes: an X-Pad field takes up the slack. */
static char *padded_head(size_t total)
{
	const char *fixed = STATUS101 UPGRADE CONNECT ACCEPTF "X-Pad: \r\n\r\n";
	size_t pad = total - strlen(fixed);
	char *head = malloc(total + 1);
	assert_non_null(head);
	int n = snprintf(head, total + 1, "%s%s%sX-Pad: ", STATUS101, UPGRADE, CONNECT);
	memset(head + n, 'a', pad);
	snprintf(head + n + pad, total + 1 - n - pad, "\r\n%s\r\n", ACCEPTF);
	assert_int_equal(strlen(head), total);
	return head;
}

static void key_of_the_rfc_sample_nonce(void **state)
{
	(void)state;
	char key[WSHS_KEY_LEN + 1];
	memset(key, 'x', sizeof key);
	wshs_key((const unsigned char *)"the sample nonce", key);
	assert_string_equal(key, KEY);
}

static void key_of_other_nonces_is_padded_base64(void **state)
{
	(void)state;
	unsigned char nonce[16];
	char key[WSHS_KEY_LEN + 1];
	memset(nonce, 0, sizeof nonce);
	wshs_key(nonce, key);
	assert_string_equal(key, "AAAAAAAAAAAAAAAAAAAAAA==");
	memset(nonce, 0xff, sizeof nonce);
	wshs_key(nonce, key);
	assert_string_equal(key, "/////////////////////w==");
	for (int i = 0; i < 16; i++)
		nonce[i] = (unsigned char)i;
	wshs_key(nonce, key);
	assert_string_equal(key, "AAECAwQFBgcICQoLDA0ODw==");
}

static void accept_for_the_rfc_sample_key(void **state)
{
	(void)state;
	char accept[29];
	memset(accept, 'x', sizeof accept);
	wshs_accept_for(KEY, accept);
	assert_string_equal(accept, ACCEPT);
}

static void accept_for_another_known_key(void **state)
{
	(void)state;
	char accept[29];
	wshs_accept_for("x3JJHMbDL1EzLkh9GBhXDw==", accept);
	assert_string_equal(accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void request_starts_with_the_get_line(void **state)
{
	(void)state;
	assert_true(request("h", 8080, false, "/path?x=1", NULL) > 0);
	const char *get = "GET /path?x=1 HTTP/1.1\r\n";
	assert_memory_equal(req, get, strlen(get));
}

static void request_carries_the_upgrade_fields(void **state)
{
	(void)state;
	assert_true(request("h", 80, false, "/", NULL) > 0);
	assert_true(has_line_once(req, "Upgrade: websocket"));
	assert_true(has_line_once(req, "Connection: Upgrade"));
	assert_true(has_line_once(req, "Sec-WebSocket-Key: " KEY));
	assert_true(has_line_once(req, "Sec-WebSocket-Version: 13"));
	assert_int_equal(count_field(req, "Host"), 1);
	assert_int_equal(count_field(req, "Sec-WebSocket-Extensions"), 0);
	assert_int_equal(count_field(req, "Sec-WebSocket-Protocol"), 0);
}

static void request_host_omits_the_default_port(void **state)
{
	(void)state;
	assert_true(request("h", 80, false, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: h"));
	assert_true(request("h", 443, true, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: h"));
}

static void request_host_shows_other_ports(void **state)
{
	(void)state;
	assert_true(request("h", 8080, false, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: h:8080"));
	assert_true(request("h", 8080, true, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: h:8080"));
	assert_true(request("h", 443, false, "/", NULL) > 0); /* 443 is only wss's default */
	assert_true(has_line_once(req, "Host: h:443"));
	assert_true(request("h", 80, true, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: h:80"));
}

static void request_brackets_an_ipv6_literal(void **state)
{
	(void)state;
	assert_true(request("::1", 8080, false, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: [::1]:8080"));
	assert_true(request("::1", 80, false, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: [::1]"));
	assert_true(request("2001:db8::7", 443, true, "/", NULL) > 0);
	assert_true(has_line_once(req, "Host: [2001:db8::7]"));
}

static void request_bracketed_host_is_not_bracketed_again(void **state)
{
	(void)state;
	int rc = request("[::1]", 8080, false, "/", NULL);
	if (rc != PP_EINVAL) {
		assert_true(rc > 0);
		assert_true(has_line_once(req, "Host: [::1]:8080"));
	}
}

static void request_user_agent_only_when_given(void **state)
{
	(void)state;
	assert_true(request("h", 80, false, "/", "plurum-pulse-bridge/1.0") > 0);
	assert_true(has_line_once(req, "User-Agent: plurum-pulse-bridge/1.0"));
	assert_true(request("h", 80, false, "/", NULL) > 0);
	assert_int_equal(count_field(req, "User-Agent"), 0);
}

static void request_has_no_origin(void **state)
{
	(void)state;
	assert_true(request("h", 443, true, "/", "ua") > 0);
	assert_int_equal(count_field(req, "Origin"), 0);
	assert_int_equal(count_field(req, "Sec-WebSocket-Origin"), 0);
}

static void request_ends_with_its_only_blank_line(void **state)
{
	(void)state;
	int n = request("h", 8080, false, "/p", "ua");
	assert_true(n >= 4);
	assert_memory_equal(req + n - 4, "\r\n\r\n", 4);
	assert_ptr_equal(strstr(req, "\r\n\r\n"), req + n - 4);
	for (int i = 0; i < n; i++) /* every line ends in CRLF: no bare CR or LF */
		if (req[i] == '\n')
			assert_true(i > 0 && req[i - 1] == '\r');
		else if (req[i] == '\r')
			assert_true(req[i + 1] == '\n');
}

static void request_returns_its_length(void **state)
{
	(void)state;
	int n = request("example.org", 8443, true, "/v1/ws?token=abc", "ua/2");
	assert_true(n > 0);
	assert_int_equal(n, strlen(req));
}

static void request_too_small_buffer_is_refused_without_overflow(void **state)
{
	(void)state;
	int n = request("example.org", 8443, true, "/v1/ws", "ua/2");
	assert_true(n > 0);
	size_t cap = (size_t)n + 64;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (size_t outlen = 0; outlen <= (size_t)n; outlen++) { /* n leaves no room for NUL */
		memset(buf, 0xa5, cap);
		assert_int_equal(
		    wshs_request(buf, outlen, "example.org", 8443, true, "/v1/ws", KEY, "ua/2"),
		    PP_ETOOBIG);
		for (size_t i = outlen; i < cap; i++)
			assert_int_equal((unsigned char)buf[i], 0xa5);
	}
	memset(buf, 0xa5, cap);
	assert_int_equal(
	    wshs_request(buf, (size_t)n + 1, "example.org", 8443, true, "/v1/ws", KEY, "ua/2"), n);
	assert_string_equal(buf, req);
	assert_int_equal((unsigned char)buf[n + 1], 0xa5);
	free(buf);
}

static void request_refuses_cr_or_lf_in_host_or_path(void **state)
{
	(void)state;
	assert_int_equal(request("h\r\nX-Evil: 1", 80, false, "/", NULL), PP_EINVAL);
	assert_int_equal(request("h\n", 80, false, "/", NULL), PP_EINVAL);
	assert_int_equal(request("h\rx", 80, false, "/", NULL), PP_EINVAL);
	assert_int_equal(request("h", 80, false, "/a\r\nX-Evil: 1", NULL), PP_EINVAL);
	assert_int_equal(request("h", 80, false, "/a\nb", NULL), PP_EINVAL);
	assert_int_equal(request("h", 80, false, "/a\r", NULL), PP_EINVAL);
}

static void request_refuses_an_empty_host(void **state)
{
	(void)state;
	assert_int_equal(request("", 80, false, "/", NULL), PP_EINVAL);
}

static void request_refuses_a_path_without_leading_slash(void **state)
{
	(void)state;
	assert_int_equal(request("h", 80, false, "", NULL), PP_EINVAL);
	assert_int_equal(request("h", 80, false, "path", NULL), PP_EINVAL);
	assert_int_equal(request("h", 80, false, "?x=1", NULL), PP_EINVAL);
}

static void response_101_returns_the_head_length(void **state)
{
	(void)state;
	assert_int_equal(respond(GOOD_HEAD), strlen(GOOD_HEAD));
	assert_int_equal(status, 101);
}

static void response_names_and_tokens_in_any_case(void **state)
{
	(void)state;
	const char *head = STATUS101 "upgrade: WebSocket\r\n"
				     "connection: keep-alive, Upgrade\r\n"
				     "SEC-WEBSOCKET-ACCEPT: " ACCEPT "\r\n\r\n";
	assert_int_equal(respond(head), strlen(head));
	head = STATUS101 "UPGRADE: WEBSOCKET\r\n"
			 "CONNECTION: UPGRADE\r\n"
			 "sec-websocket-accept: " ACCEPT "\r\n\r\n";
	assert_int_equal(respond(head), strlen(head));
	head = STATUS101 UPGRADE "Connection: upgrade,keep-alive\r\n" ACCEPTF "\r\n";
	assert_int_equal(respond(head), strlen(head));
}

static void response_optional_whitespace_is_ignored(void **state)
{
	(void)state;
	const char *head = STATUS101 "Upgrade:websocket\r\n"
				     "Connection: \t Upgrade \t\r\n"
				     "Sec-WebSocket-Accept:   " ACCEPT "  \r\n\r\n";
	assert_int_equal(respond(head), strlen(head));
}

static void response_other_fields_are_ignored(void **state)
{
	(void)state;
	const char *head =
	    STATUS101 "Server: nginx\r\n"
		      "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n" UPGRADE CONNECT ACCEPTF
		      "X-Request-Id: 42\r\n\r\n";
	assert_int_equal(respond(head), strlen(head));
	assert_int_equal(status, 101);
}

static void response_frame_bytes_after_the_head_are_not_counted(void **state)
{
	(void)state;
	size_t head = strlen(GOOD_HEAD);
	static const char frames[] = "\x81\x05hello\x82\x04\x00\r\n\r\n\x89\x00";
	char buf[512];
	memcpy(buf, GOOD_HEAD, head);
	memcpy(buf + head, frames, sizeof frames - 1);
	assert_int_equal(respond_n(buf, head + sizeof frames - 1, &status), head);
	assert_int_equal(respond_n(buf, head + 1, NULL), head);
}

static void response_followed_by_more_than_the_limit_is_accepted(void **state)
{
	(void)state;
	size_t head = strlen(GOOD_HEAD), len = head + 2 * WSHS_RESPONSE_MAX;
	char *buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, GOOD_HEAD, head);
	memset(buf + head, 'f', len - head);
	assert_int_equal(respond_n(buf, len, &status), head);
	free(buf);
}

static void response_every_short_prefix_needs_more(void **state)
{
	(void)state;
	size_t head = strlen(GOOD_HEAD);
	for (size_t len = 0; len < head; len++) {
		status = -1;
		assert_int_equal(respond_n(GOOD_HEAD, len, &status), 0);
	}
}

static void response_wrong_accept_is_refused(void **state)
{
	(void)state;
	static const char *const wrong[] = {
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo",   /* no padding */
	    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo==", /* one '=' too many */
	    "S3pPLMBiTxaQ9kYGzzhZRbK+xOo=",  /* base64 is case-sensitive */
	    "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",  /* the answer to another key */
	    KEY,			     /* our key echoed back */
	    "",
	};
	char head[512];
	for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
		snprintf(head, sizeof head, "%s%s%sSec-WebSocket-Accept: %s\r\n\r\n", STATUS101,
			 UPGRADE, CONNECT, wrong[i]);
		assert_int_equal(respond(head), PP_EINVAL);
		assert_int_equal(status, 101);
		assert_true(err[0] != '\0');
	}
}

static void response_missing_accept_is_refused(void **state)
{
	(void)state;
	assert_int_equal(respond(STATUS101 UPGRADE CONNECT "\r\n"), PP_EINVAL);
	assert_true(err[0] != '\0');
}

static void response_duplicate_accept_is_refused(void **state)
{
	(void)state;
	const char *wrong = "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n";
	char head[512];
	snprintf(head, sizeof head, "%s%s%s%s%s\r\n", STATUS101, UPGRADE, CONNECT, ACCEPTF, wrong);
	assert_int_equal(respond(head), PP_EINVAL);
	snprintf(head, sizeof head, "%s%s%s%s%s\r\n", STATUS101, UPGRADE, CONNECT, wrong, ACCEPTF);
	assert_int_equal(respond(head), PP_EINVAL);
}

static void response_missing_upgrade_is_refused(void **state)
{
	(void)state;
	assert_int_equal(respond(STATUS101 CONNECT ACCEPTF "\r\n"), PP_EINVAL);
	assert_int_equal(respond(STATUS101 "Upgrade: h2c\r\n" CONNECT ACCEPTF "\r\n"), PP_EINVAL);
	assert_int_equal(respond(STATUS101 "Upgrade: websocketx\r\n" CONNECT ACCEPTF "\r\n"),
			 PP_EINVAL);
	assert_int_equal(respond(STATUS101 "Upgrade:\r\n" CONNECT ACCEPTF "\r\n"), PP_EINVAL);
}

static void response_missing_connection_upgrade_is_refused(void **state)
{
	(void)state;
	assert_int_equal(respond(STATUS101 UPGRADE ACCEPTF "\r\n"), PP_EINVAL);
	assert_int_equal(respond(STATUS101 UPGRADE "Connection: keep-alive\r\n" ACCEPTF "\r\n"),
			 PP_EINVAL);
	assert_int_equal(respond(STATUS101 UPGRADE "Connection: upgraded\r\n" ACCEPTF "\r\n"),
			 PP_EINVAL);
	assert_int_equal(respond(STATUS101 UPGRADE "X-Connection: Upgrade\r\n" ACCEPTF "\r\n"),
			 PP_EINVAL);
}

static void response_connection_tokens_in_two_fields_are_joined(void **state)
{
	(void)state;
	const char *head =
	    STATUS101 UPGRADE "Connection: keep-alive\r\nConnection: Upgrade\r\n" ACCEPTF "\r\n";
	assert_int_equal(respond(head), strlen(head));
	head = STATUS101 UPGRADE "Connection: Upgrade\r\nConnection: keep-alive\r\n" ACCEPTF "\r\n";
	assert_int_equal(respond(head), strlen(head));
}

static void response_refusal_status_is_reported(void **state)
{
	(void)state;
	static const int codes[] = {403, 503, 200, 301, 426};
	char head[512], code[8];
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		snprintf(head, sizeof head,
			 "HTTP/1.1 %d Whatever\r\nContent-Length: 0\r\n%s%s%s\r\n", codes[i],
			 UPGRADE, CONNECT, ACCEPTF);
		assert_int_equal(respond(head), PP_EINVAL);
		assert_int_equal(status, codes[i]);
		snprintf(code, sizeof code, "%d", codes[i]);
		assert_non_null(strstr(err, code));
	}
}

static void response_refusal_is_decided_at_the_blank_line(void **state)
{
	(void)state;
	const char *head = "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!";
	assert_int_equal(respond(head), PP_EINVAL);
	assert_int_equal(status, 403);
}

static void response_not_http_is_refused_with_status_zero(void **state)
{
	(void)state;
	assert_int_equal(respond("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n\r\n"), PP_EINVAL);
	assert_int_equal(status, 0);
	assert_true(err[0] != '\0');
	assert_int_equal(respond("\r\n\r\n"), PP_EINVAL);
	assert_int_equal(status, 0);
}

static void response_malformed_status_code_is_refused(void **state)
{
	(void)state;
	assert_int_equal(respond("HTTP/1.1 abc Nope\r\n" UPGRADE CONNECT ACCEPTF "\r\n"),
			 PP_EINVAL);
	assert_int_equal(status, 0);
	assert_int_equal(respond("HTTP/1.1 1011 Switching\r\n" UPGRADE CONNECT ACCEPTF "\r\n"),
			 PP_EINVAL);
	assert_int_equal(respond("HTTP/1.1 10 Switching\r\n" UPGRADE CONNECT ACCEPTF "\r\n"),
			 PP_EINVAL);
}

static void response_extension_or_protocol_not_offered_is_refused(void **state)
{
	(void)state;
	assert_int_equal(respond(STATUS101 UPGRADE CONNECT ACCEPTF
				 "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"),
			 PP_EINVAL);
	assert_int_equal(
	    respond(STATUS101 UPGRADE CONNECT ACCEPTF "sec-websocket-protocol: chat\r\n\r\n"),
	    PP_EINVAL);
	assert_int_equal(status, 101);
	assert_true(err[0] != '\0');
}

static void response_head_without_end_is_too_big(void **state)
{
	(void)state;
	size_t cap = WSHS_RESPONSE_MAX + 1000;
	char *buf = malloc(cap);
	assert_non_null(buf);
	size_t n = strlen(STATUS101);
	memcpy(buf, STATUS101, n);
	for (const char *line = "X-Pad: 0123456789\r\n"; n < cap; n++)
		buf[n] = line[(n - strlen(STATUS101)) % strlen(line)];
	assert_int_equal(respond_n(buf, WSHS_RESPONSE_MAX, &status), PP_ETOOBIG);
	assert_int_equal(respond_n(buf, cap, &status), PP_ETOOBIG);
	free(buf);
}

static void response_head_of_exactly_the_limit_is_accepted(void **state)
{
	(void)state;
	char *head = padded_head(WSHS_RESPONSE_MAX);
	assert_int_equal(respond_n(head, WSHS_RESPONSE_MAX - 1, &status), 0);
	assert_int_equal(respond_n(head, WSHS_RESPONSE_MAX, &status), WSHS_RESPONSE_MAX);
	free(head);
}

static void response_head_one_over_the_limit_is_too_big(void **state)
{
	(void)state;
	char *head = padded_head(WSHS_RESPONSE_MAX + 1);
	assert_int_equal(respond_n(head, WSHS_RESPONSE_MAX + 1, &status), PP_ETOOBIG);
	free(head);
}

static void response_status_may_be_null(void **state)
{
	(void)state;
	size_t n = strlen(GOOD_HEAD);
	assert_int_equal(respond_n(GOOD_HEAD, n, NULL), n);
	const char *no = "HTTP/1.1 403 Forbidden\r\n\r\n";
	assert_int_equal(respond_n(no, strlen(no), NULL), PP_EINVAL);
	assert_int_equal(respond_n("SSH-2.0-x\r\n\r\n", 13, NULL), PP_EINVAL);
}

static void response_field_without_colon_is_refused(void **state)
{
	(void)state;
	assert_int_equal(respond(STATUS101 UPGRADE CONNECT "Garbage line\r\n" ACCEPTF "\r\n"),
			 PP_EINVAL);
	assert_int_equal(status, 101);
	assert_true(err[0] != '\0');
}

static void response_http_1_0_is_refused(void **state)
{
	(void)state;
	assert_int_equal(
	    respond("HTTP/1.0 101 Switching Protocols\r\n" UPGRADE CONNECT ACCEPTF "\r\n"),
	    PP_EINVAL);
}

static void response_error_fits_a_small_buffer(void **state)
{
	(void)state;
	const char *no = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
	char small[32];
	memset(small, 0xa5, sizeof small);
	assert_int_equal(wshs_response(no, strlen(no), KEY, NULL, small, 8), PP_EINVAL);
	assert_true(memchr(small, '\0', 8) != NULL);
	for (size_t i = 8; i < sizeof small; i++)
		assert_int_equal((unsigned char)small[i], 0xa5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_of_the_rfc_sample_nonce),
	    cmocka_unit_test(key_of_other_nonces_is_padded_base64),
	    cmocka_unit_test(accept_for_the_rfc_sample_key),
	    cmocka_unit_test(accept_for_another_known_key),
	    cmocka_unit_test(request_starts_with_the_get_line),
	    cmocka_unit_test(request_carries_the_upgrade_fields),
	    cmocka_unit_test(request_host_omits_the_default_port),
	    cmocka_unit_test(request_host_shows_other_ports),
	    cmocka_unit_test(request_brackets_an_ipv6_literal),
	    cmocka_unit_test(request_bracketed_host_is_not_bracketed_again),
	    cmocka_unit_test(request_user_agent_only_when_given),
	    cmocka_unit_test(request_has_no_origin),
	    cmocka_unit_test(request_ends_with_its_only_blank_line),
	    cmocka_unit_test(request_returns_its_length),
	    cmocka_unit_test(request_too_small_buffer_is_refused_without_overflow),
	    cmocka_unit_test(request_refuses_cr_or_lf_in_host_or_path),
	    cmocka_unit_test(request_refuses_an_empty_host),
	    cmocka_unit_test(request_refuses_a_path_without_leading_slash),
	    cmocka_unit_test(response_101_returns_the_head_length),
	    cmocka_unit_test(response_names_and_tokens_in_any_case),
	    cmocka_unit_test(response_optional_whitespace_is_ignored),
	    cmocka_unit_test(response_other_fields_are_ignored),
	    cmocka_unit_test(response_frame_bytes_after_the_head_are_not_counted),
	    cmocka_unit_test(response_followed_by_more_than_the_limit_is_accepted),
	    cmocka_unit_test(response_every_short_prefix_needs_more),
	    cmocka_unit_test(response_wrong_accept_is_refused),
	    cmocka_unit_test(response_missing_accept_is_refused),
	    cmocka_unit_test(response_duplicate_accept_is_refused),
	    cmocka_unit_test(response_missing_upgrade_is_refused),
	    cmocka_unit_test(response_missing_connection_upgrade_is_refused),
	    cmocka_unit_test(response_connection_tokens_in_two_fields_are_joined),
	    cmocka_unit_test(response_refusal_status_is_reported),
	    cmocka_unit_test(response_refusal_is_decided_at_the_blank_line),
	    cmocka_unit_test(response_not_http_is_refused_with_status_zero),
	    cmocka_unit_test(response_malformed_status_code_is_refused),
	    cmocka_unit_test(response_extension_or_protocol_not_offered_is_refused),
	    cmocka_unit_test(response_head_without_end_is_too_big),
	    cmocka_unit_test(response_head_of_exactly_the_limit_is_accepted),
	    cmocka_unit_test(response_head_one_over_the_limit_is_too_big),
	    cmocka_unit_test(response_status_may_be_null),
	    cmocka_unit_test(response_field_without_colon_is_refused),
	    cmocka_unit_test(response_http_1_0_is_refused),
	    cmocka_unit_test(response_error_fits_a_small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
