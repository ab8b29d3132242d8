/* test_normalize.c: the normalizer's contract, one behaviour per test. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "normalize.h"
#include "shtext.h"

#define MAX (256 * 1024)

static char err[256];

/* Normalize text (must succeed) into ev. */
static void norm_ok(const char *text, struct norm_event *ev)
{
	err[0] = '\0';
	int rc = normalize_frame(text, strlen(text), MAX, ev, err, sizeof err);
	if (rc != 0)
		fail_msg("refused: %s (%s)", err, text);
}

/* Normalize text (must fail); returns err. */
static const char *norm_bad_len(const char *text, size_t len, size_t max)
{
	struct norm_event ev;
	err[0] = '\0';
	assert_int_equal(normalize_frame(text, len, max, &ev, err, sizeof err), -1);
	assert_null(ev.data);
	assert_int_not_equal(err[0], '\0');
	return err;
}

static const char *norm_bad(const char *text)
{
	return norm_bad_len(text, strlen(text), MAX);
}

/* Compact dump of the event's data, compared with want. */
static void data_is(const struct norm_event *ev, const char *want)
{
	char *got = json_dumps(ev->data, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* ---- session_opened ---- */

static void session_opened_maps_type_topic_id_and_data_in_order(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_opened\",\"data\":{\"tools_used\":[\"git\"],\"domain\":"
		"\"Web-Dev\",\"topic\":\"t\",\"agent_id\":\"a\",\"short_id\":\"s1\","
		"\"session_id\":\"S\"}}",
		&ev);
	assert_int_equal(ev.kind, NORM_EVENT);
	assert_string_equal(ev.type, "session.opened");
	assert_string_equal(ev.topic, "session.opened.web-dev");
	assert_string_equal(ev.id, "session.opened:S");
	data_is(&ev, "{\"session_id\":\"S\",\"short_id\":\"s1\",\"agent_id\":\"a\",\"topic\":"
		     "\"t\",\"domain\":\"Web-Dev\",\"tools_used\":[\"git\"]}");
	norm_event_clear(&ev);
}

static void session_opened_missing_fields_are_null_and_tools_empty(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\"}}", &ev);
	data_is(&ev, "{\"session_id\":\"S\",\"short_id\":null,\"agent_id\":null,\"topic\":null,"
		     "\"domain\":null,\"tools_used\":[]}");
	assert_string_equal(ev.topic, "session.opened.none");
	norm_event_clear(&ev);
}

static void session_opened_null_or_empty_domain_gives_topic_none(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"domain\":null}}",
		&ev);
	assert_string_equal(ev.topic, "session.opened.none");
	norm_event_clear(&ev);
	norm_ok("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"domain\":\"\"}}",
		&ev);
	assert_string_equal(ev.topic, "session.opened.none");
	norm_event_clear(&ev);
}

static void session_opened_domain_is_cleaned_in_topic_only(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"domain\":"
		"\"ML Ops.\\u00e9/x\"}}",
		&ev);
	assert_string_equal(ev.topic, "session.opened.ml_ops___x");
	json_t *d = json_object_get(ev.data, "domain");
	assert_string_equal(json_string_value(d), "ML Ops.\xc3\xa9/x");
	norm_event_clear(&ev);
}

static void session_opened_tools_null_becomes_empty_array(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"tools_used\":null}}",
		&ev);
	assert_true(json_is_array(json_object_get(ev.data, "tools_used")));
	assert_int_equal(json_array_size(json_object_get(ev.data, "tools_used")), 0);
	norm_event_clear(&ev);
}

static void session_opened_tools_not_array_is_refused(void **state)
{
	(void)state;
	assert_string_equal(
	    norm_bad("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"tools_used\":"
		     "\"git\"}}"),
	    "data.tools_used: expected an array of strings");
}

static void session_opened_tools_with_number_is_refused(void **state)
{
	(void)state;
	assert_string_equal(
	    norm_bad("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"tools_used\":"
		     "[\"a\",3]}}"),
	    "data.tools_used[1]: expected a string");
}

static void session_opened_number_as_string_field_is_refused(void **state)
{
	(void)state;
	assert_string_equal(
	    norm_bad("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"topic\":7}}"),
	    "data.topic: expected a string");
	assert_string_equal(
	    norm_bad("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\",\"domain\":{}}}"),
	    "data.domain: expected a string");
}

static void session_id_missing_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"session_opened\",\"data\":{\"topic\":\"t\"}}"),
			    "data.session_id: missing");
	assert_string_equal(
	    norm_bad("{\"type\":\"session_closed\",\"data\":{\"session_id\":null}}"),
	    "data.session_id: missing");
}

static void session_id_number_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"session_opened\",\"data\":{\"session_id\":42}}"),
			    "data.session_id: expected a string");
}

static void identity_over_256_bytes_is_refused(void **state)
{
	(void)state;
	char buf[600];
	char id[258];
	memset(id, 'a', 257);
	id[257] = '\0';
	snprintf(buf, sizeof buf, "{\"type\":\"session_closed\",\"data\":{\"session_id\":\"%s\"}}",
		 id);
	norm_bad(buf);
	id[256] = '\0'; /* exactly 256 is fine */
	snprintf(buf, sizeof buf, "{\"type\":\"session_closed\",\"data\":{\"session_id\":\"%s\"}}",
		 id);
	struct norm_event ev;
	norm_ok(buf, &ev);
	assert_int_equal(strlen(ev.id), strlen("session.closed:") + 256);
	norm_event_clear(&ev);
}

static void identity_empty_is_refused(void **state)
{
	(void)state;
	norm_bad("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"\"}}");
}

static void identity_with_nul_is_refused(void **state)
{
	(void)state;
	norm_bad("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"a\\u0000b\"}}");
}

static void known_type_without_data_object_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"session_opened\"}"), "data: expected an object");
	assert_string_equal(norm_bad("{\"type\":\"session_closed\",\"data\":[1]}"),
			    "data: expected an object");
	assert_string_equal(norm_bad("{\"type\":\"contribution_received\",\"data\":\"x\"}"),
			    "data: expected an object");
}

/* ---- session_closed ---- */

static void session_closed_maps_all_fields_in_order(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_closed\",\"data\":{\"experience_short_id\":\"e1\","
		"\"experience_id\":\"E\",\"outcome\":\"success\",\"topic\":\"t\",\"agent_id\":"
		"\"a\",\"short_id\":\"s\",\"session_id\":\"S\"}}",
		&ev);
	assert_string_equal(ev.type, "session.closed");
	assert_string_equal(ev.topic, "session.closed.success");
	assert_string_equal(ev.id, "session.closed:S");
	data_is(&ev, "{\"session_id\":\"S\",\"short_id\":\"s\",\"agent_id\":\"a\",\"topic\":\"t\","
		     "\"outcome\":\"success\",\"experience_id\":\"E\",\"experience_short_id\":"
		     "\"e1\"}");
	norm_event_clear(&ev);
}

static void session_closed_missing_fields_are_null(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_closed\",\"data\":{\"session_id\":\"S\"}}", &ev);
	data_is(&ev, "{\"session_id\":\"S\",\"short_id\":null,\"agent_id\":null,\"topic\":null,"
		     "\"outcome\":null,\"experience_id\":null,\"experience_short_id\":null}");
	norm_event_clear(&ev);
}

static void session_closed_null_outcome_gives_topic_none(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_closed\",\"data\":{\"session_id\":\"S\",\"outcome\":null}}",
		&ev);
	assert_string_equal(ev.topic, "session.closed.none");
	norm_event_clear(&ev);
}

static void session_closed_outcome_number_is_refused(void **state)
{
	(void)state;
	assert_string_equal(
	    norm_bad("{\"type\":\"session_closed\",\"data\":{\"session_id\":\"S\",\"outcome\":1}}"),
	    "data.outcome: expected a string");
}

/* ---- contribution_received ---- */

static void contribution_maps_id_topic_and_data_in_order(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"contribution_received\",\"data\":{\"created_at\":\"2026-01-01\","
		"\"content\":{\"text\":\"hi\"},\"contribution_type\":\"warning\","
		"\"contributor_agent_id\":\"c\",\"session_id\":\"Sess.1\",\"id\":\"C1\"}}",
		&ev);
	assert_string_equal(ev.type, "contribution.received");
	assert_string_equal(ev.topic, "contribution.received.sess_1");
	assert_string_equal(ev.id, "contribution:C1");
	data_is(&ev,
		"{\"contribution_id\":\"C1\",\"session_id\":\"Sess.1\",\"contributor_agent_id\""
		":\"c\",\"contribution_type\":\"warning\",\"content\":{\"text\":\"hi\"},"
		"\"created_at\":\"2026-01-01\"}");
	norm_event_clear(&ev);
}

static void contribution_missing_fields_are_null(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"contribution_received\",\"data\":{\"id\":\"C1\"}}", &ev);
	data_is(&ev,
		"{\"contribution_id\":\"C1\",\"session_id\":null,\"contributor_agent_id\":null,"
		"\"contribution_type\":null,\"content\":null,\"created_at\":null}");
	assert_string_equal(ev.topic, "contribution.received.none");
	norm_event_clear(&ev);
}

static void contribution_id_missing_is_refused(void **state)
{
	(void)state;
	assert_string_equal(
	    norm_bad("{\"type\":\"contribution_received\",\"data\":{\"session_id\":\"S\"}}"),
	    "data.id: missing");
}

static void contribution_content_not_object_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"contribution_received\",\"data\":{\"id\":\"C\","
				     "\"content\":\"text\"}}"),
			    "data.content: expected an object");
	assert_string_equal(norm_bad("{\"type\":\"contribution_received\",\"data\":{\"id\":\"C\","
				     "\"content\":[]}}"),
			    "data.content: expected an object");
}

static void contribution_content_null_is_kept_null(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"contribution_received\",\"data\":{\"id\":\"C\",\"content\":null}}",
		&ev);
	assert_true(json_is_null(json_object_get(ev.data, "content")));
	norm_event_clear(&ev);
}

static void contribution_created_at_number_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"contribution_received\",\"data\":{\"id\":\"C\","
				     "\"created_at\":17}}"),
			    "data.created_at: expected a string");
}

/* ---- extras ---- */

static void unnamed_data_members_go_to_extra(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_closed\",\"data\":{\"session_id\":\"S\",\"new\":1,"
		"\"more\":{\"x\":true}}}",
		&ev);
	data_is(&ev, "{\"session_id\":\"S\",\"short_id\":null,\"agent_id\":null,\"topic\":null,"
		     "\"outcome\":null,\"experience_id\":null,\"experience_short_id\":null,"
		     "\"extra\":{\"new\":1,\"more\":{\"x\":true}}}");
	norm_event_clear(&ev);
}

static void frame_members_beside_type_and_data_go_to_extra_frame(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"ts\":5,\"type\":\"contribution_received\",\"data\":{\"id\":\"C\",\"k\":2},"
		"\"v\":\"x\"}",
		&ev);
	json_t *extra = json_object_get(ev.data, "extra");
	char *s = json_dumps(extra, JSON_COMPACT);
	assert_string_equal(s, "{\"k\":2,\"frame\":{\"ts\":5,\"v\":\"x\"}}");
	free(s);
	norm_event_clear(&ev);
}

static void extra_is_absent_when_nothing_is_unnamed(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"session_opened\",\"data\":{\"session_id\":\"S\"}}", &ev);
	assert_null(json_object_get(ev.data, "extra"));
	norm_event_clear(&ev);
}

/* ---- upstream pass-through ---- */

static void unknown_type_passes_through_with_its_data(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"Agent Joined\",\"data\":{\"a\":[1,2]},\"other\":1}", &ev);
	assert_int_equal(ev.kind, NORM_EVENT);
	assert_string_equal(ev.type, "upstream.agent_joined");
	assert_string_equal(ev.topic, "upstream.agent_joined");
	assert_string_equal(ev.id, "");
	data_is(&ev, "{\"a\":[1,2]}");
	norm_event_clear(&ev);
}

static void unknown_type_without_data_keeps_every_member_but_type(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"x\":1,\"type\":\"stats\",\"y\":\"z\"}", &ev);
	assert_string_equal(ev.type, "upstream.stats");
	data_is(&ev, "{\"x\":1,\"y\":\"z\"}");
	norm_event_clear(&ev);
}

static void unknown_type_alone_has_empty_object_data(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"\"}", &ev);
	assert_string_equal(ev.type, "upstream.none");
	data_is(&ev, "{}");
	norm_event_clear(&ev);
}

static void unknown_type_with_scalar_data_keeps_it(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"n\",\"data\":3}", &ev);
	data_is(&ev, "3");
	norm_event_clear(&ev);
}

/* ---- replies ---- */

static void auth_ok_gives_agent_id(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"auth_ok\",\"agent_id\":\"A-1\"}", &ev);
	assert_int_equal(ev.kind, NORM_AUTH_OK);
	assert_string_equal(ev.reply_text, "A-1");
	assert_null(ev.data);
	norm_event_clear(&ev);
}

static void auth_ok_without_string_agent_id_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"auth_ok\"}"), "agent_id: missing");
	assert_string_equal(norm_bad("{\"type\":\"auth_ok\",\"agent_id\":1}"),
			    "agent_id: expected a string");
}

static void error_gives_message(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"error\",\"message\":\"Contribution failed\"}", &ev);
	assert_int_equal(ev.kind, NORM_ERROR);
	assert_string_equal(ev.reply_text, "Contribution failed");
	norm_event_clear(&ev);
}

static void error_with_non_string_message_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"error\",\"message\":[]}"),
			    "message: expected a string");
}

static void pong_is_a_pong(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"pong\"}", &ev);
	assert_int_equal(ev.kind, NORM_PONG);
	assert_null(ev.data);
	norm_event_clear(&ev);
}

static void contribute_ok_normalizes_the_contribution(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"contribute_ok\",\"data\":{\"id\":\"C\",\"session_id\":\"S\","
		"\"content\":{},\"contribution_type\":\"suggestion\"}}",
		&ev);
	assert_int_equal(ev.kind, NORM_CONTRIBUTE_OK);
	data_is(&ev,
		"{\"contribution_id\":\"C\",\"session_id\":\"S\",\"contributor_agent_id\":null,"
		"\"contribution_type\":\"suggestion\",\"content\":{},\"created_at\":null}");
	norm_event_clear(&ev);
}

static void contribute_ok_without_data_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{\"type\":\"contribute_ok\"}"), "data: expected an object");
	assert_string_equal(norm_bad("{\"type\":\"contribute_ok\",\"data\":{}}"),
			    "data.id: missing");
}

static void normalize_contribution_of_rest_body(void **state)
{
	(void)state;
	json_t *body = json_pack("{s:s,s:s,s:{s:s},s:i}", "id", "C", "session_id", "S", "content",
				 "text", "x", "votes", 3);
	json_t *d = normalize_contribution(body, err, sizeof err);
	assert_non_null(d);
	char *s = json_dumps(d, JSON_COMPACT);
	assert_string_equal(s, "{\"contribution_id\":\"C\",\"session_id\":\"S\",\"contributor_"
			       "agent_id\":null,\"contribution_type\":null,\"content\":{\"text\":"
			       "\"x\"},\"created_at\":null,\"extra\":{\"votes\":3}}");
	free(s);
	json_decref(d);
	json_decref(body);
	assert_null(normalize_contribution(NULL, err, sizeof err));
	assert_string_equal(err, "contribution: expected an object");
}

/* ---- inbox ---- */

static void inbox_item_normalizes_like_a_live_frame(void **state)
{
	(void)state;
	struct norm_event ev;
	json_t *item = json_loads("{\"id\":null,\"event_type\":\"session_opened\",\"event_data\":"
				  "{\"session_id\":\"S\",\"domain\":\"ops\"},\"is_read\":false}",
				  0, NULL);
	assert_int_equal(normalize_inbox_item(item, &ev, err, sizeof err), 0);
	assert_string_equal(ev.topic, "session.opened.ops");
	assert_string_equal(ev.id, "session.opened:S");
	json_t *frame = json_object_get(json_object_get(ev.data, "extra"), "frame");
	assert_true(json_is_false(json_object_get(frame, "is_read")));
	norm_event_clear(&ev);
	json_decref(item);
}

static void inbox_item_without_event_type_is_refused(void **state)
{
	(void)state;
	struct norm_event ev;
	json_t *item = json_loads("{\"event_data\":{}}", 0, NULL);
	assert_int_equal(normalize_inbox_item(item, &ev, err, sizeof err), -1);
	assert_string_equal(err, "event_type: missing");
	json_decref(item);
}

/* ---- hostile input ---- */

static void not_json_is_refused(void **state)
{
	(void)state;
	assert_non_null(strstr(norm_bad("{\"type\":"), "not JSON"));
	assert_non_null(strstr(norm_bad("hello"), "not JSON"));
}

static void empty_frame_is_refused(void **state)
{
	(void)state;
	assert_non_null(strstr(norm_bad_len("", 0, MAX), "not JSON"));
}

static void top_level_array_or_string_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("[1,2]"), "not a JSON object");
	assert_string_equal(norm_bad("\"session_opened\""), "not a JSON object");
	assert_string_equal(norm_bad("42"), "not a JSON object");
}

static void type_missing_or_not_a_string_is_refused(void **state)
{
	(void)state;
	assert_string_equal(norm_bad("{}"), "no type");
	assert_string_equal(norm_bad("{\"type\":5}"), "type: expected a string");
	assert_string_equal(norm_bad("{\"type\":null}"), "type: expected a string");
	assert_string_equal(norm_bad("{\"type\":[\"pong\"]}"), "type: expected a string");
}

static void type_with_nul_is_refused(void **state)
{
	(void)state;
	norm_bad("{\"type\":\"pong\\u0000x\"}");
}

static void invalid_utf8_is_refused(void **state)
{
	(void)state;
	assert_non_null(strstr(norm_bad("{\"type\":\"x\",\"data\":\"\xff\xfe\"}"), "not JSON"));
	assert_non_null(strstr(norm_bad("{\"type\":\"\xc0\xaf\"}"), "not JSON"));
}

static void raw_nul_byte_in_frame_is_refused(void **state)
{
	(void)state;
	static const char f[] = "{\"type\":\"po\0ng\"}";
	norm_bad_len(f, sizeof f - 1, MAX);
}

static void deep_nesting_is_refused_without_crash(void **state)
{
	(void)state;
	size_t n = 100000;
	char *s = malloc(n + 32);
	memcpy(s, "{\"type\":\"x\",\"data\":", 19);
	memset(s + 19, '[', n);
	s[19 + n] = '\0';
	assert_non_null(strstr(norm_bad_len(s, 19 + n, 1 << 20), "not JSON"));
	memset(s, '[', n); /* and at top level */
	norm_bad_len(s, n, 1 << 20);
	free(s);
}

static void one_mib_string_is_accepted_under_the_limit(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *s = malloc(n + 128);
	int h = snprintf(s, 128,
			 "{\"type\":\"contribution_received\",\"data\":{\"id\":\"C\","
			 "\"content\":{\"text\":\"");
	memset(s + h, 'a', n);
	strcpy(s + h + n, "\"}}}");
	struct norm_event ev;
	assert_int_equal(normalize_frame(s, strlen(s), 4u << 20, &ev, err, sizeof err), 0);
	json_t *t = json_object_get(json_object_get(ev.data, "content"), "text");
	assert_int_equal(json_string_length(t), n);
	norm_event_clear(&ev);
	free(s);
}

static void one_mib_identity_is_refused(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *s = malloc(n + 128);
	int h = snprintf(s, 128, "{\"type\":\"session_opened\",\"data\":{\"session_id\":\"");
	memset(s + h, 'a', n);
	strcpy(s + h + n, "\"}}");
	struct norm_event ev;
	assert_int_equal(normalize_frame(s, strlen(s), 4u << 20, &ev, err, sizeof err), -1);
	assert_non_null(strstr(err, "data.session_id"));
	free(s);
}

static void frame_over_max_len_is_refused_without_parsing(void **state)
{
	(void)state;
	const char *f = "{\"type\":\"pong\"}";
	assert_non_null(strstr(norm_bad_len(f, strlen(f), 10), "over the limit"));
	/* not even looked at: garbage over the limit gives the same reason */
	assert_non_null(strstr(norm_bad_len("\xff\xff\xff", 3, 2), "over the limit"));
}

static void unicode_escapes_keep_content_exact(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"contribution_received\",\"data\":{\"id\":\"C\",\"content\":{\"t\":"
		"\"a\\u0000b\\ud83d\\ude00\"}}}",
		&ev);
	json_t *t = json_object_get(json_object_get(ev.data, "content"), "t");
	assert_int_equal(json_string_length(t), 7);
	norm_event_clear(&ev);
}

/* ---- envelope ---- */

static void envelope_golden_bytes(void **state)
{
	(void)state;
	struct norm_event ev;
	norm_ok("{\"type\":\"contribution_received\",\"data\":{\"id\":\"C1\",\"session_id\":\"S\","
		"\"contributor_agent_id\":\"c\",\"contribution_type\":\"warning\",\"content\":"
		"{\"text\":\"hi\"},\"created_at\":\"2026-11-29T05:43:00Z\"}}",
		&ev);
	size_t len = 0;
	char *env = envelope_dump("8c1f", 42, ev.id, ev.type, "live", "2026-11-29T05:43:36.123Z",
				  "agent-1", ev.data, &len);
	const char *want =
	    "{\"v\":1,\"run\":\"8c1f\",\"seq\":42,\"id\":\"contribution:C1\",\"type\":"
	    "\"contribution.received\",\"source\":\"live\",\"received_at\":"
	    "\"2026-11-29T05:43:36.123Z\",\"agent_id\":\"agent-1\",\"data\":{\"contribution_id\":"
	    "\"C1\",\"session_id\":\"S\",\"contributor_agent_id\":\"c\",\"contribution_type\":"
	    "\"warning\",\"content\":{\"text\":\"hi\"},\"created_at\":\"2026-11-29T05:43:00Z\"}}";
	assert_string_equal(env, want);
	assert_int_equal(len, strlen(want));
	shtext_unref(env);
	norm_event_clear(&ev);
}

static void envelope_empty_id_and_agent_are_null(void **state)
{
	(void)state;
	size_t len;
	char *env = envelope_dump("r", 1, "", "bridge.status", "bridge", "T", NULL, NULL, &len);
	assert_string_equal(env, "{\"v\":1,\"run\":\"r\",\"seq\":1,\"id\":null,\"type\":"
				 "\"bridge.status\",\"source\":\"bridge\",\"received_at\":\"T\","
				 "\"agent_id\":null,\"data\":null}");
	shtext_unref(env);
}

static void envelope_escapes_strings(void **state)
{
	(void)state;
	size_t len;
	char *env = envelope_dump("a\"b\\c\n\x01", 5, "i", "t", "s", "r", "\xc3\xa9", NULL, &len);
	assert_string_equal(env, "{\"v\":1,\"run\":\"a\\\"b\\\\c\\n\\u0001\",\"seq\":"
				 "5,\"id\":\"i\",\"type\":\"t\",\"source\":\"s\","
				 "\"received_at\":\"r\",\"agent_id\":\"\xc3\xa9\",\"data\":null}");
	json_t *back = json_loadb(env, len, 0, NULL);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "run")), "a\"b\\c\n\x01");
	json_decref(back);
	shtext_unref(env);
}

static void envelope_largest_seq_is_written_in_full(void **state)
{
	(void)state;
	size_t len;
	char *env =
	    envelope_dump("r", 18446744073709551615ULL, NULL, "t", "s", "r", NULL, NULL, &len);
	assert_non_null(strstr(env, ",\"seq\":18446744073709551615,\"id\":null,"));
	assert_int_equal(len, strlen(env));
	shtext_unref(env);
	env = envelope_dump("r", 0, NULL, "t", "s", "r", NULL, NULL, &len);
	assert_non_null(strstr(env, ",\"seq\":0,\"id\":null,"));
	shtext_unref(env);
	env = envelope_dump("r", 1000000, NULL, "t", "s", "r", NULL, NULL, &len);
	assert_non_null(strstr(env, ",\"seq\":1000000,\"id\":null,"));
	shtext_unref(env);
}

/* The writer skips plain bytes a word at a time: a byte that needs escaping must be caught
 * at every offset, and the text must equal jansson's own encoding of the same string (but
 * for the case of hex digits). */
static void envelope_escapes_at_every_offset_like_jansson(void **state)
{
	static const char *const specials[] = {"\"",   "\\",   "\n",	   "\x01",
					       "\x1f", "\x7f", "\xc3\xa9", "\t\""};
	char run[64];

	(void)state;
	for (int before = 0; before < 18; before++) {
		for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
			snprintf(run, sizeof(run), "%.*s%s%s", before, "abcdefghijklmnopqr",
				 specials[i], "tail-bytes");
			char *env = envelope_dump(run, 1, NULL, "t", "s", "r", NULL, NULL, NULL);
			json_t *js = json_string(run);
			char *want = json_dumps(js, JSON_ENCODE_ANY);
			const char *at = strstr(env, "\"run\":");

			assert_non_null(at);
			/* jansson writes \\u00XX in capitals, the envelope in small letters */
			assert_int_equal(strncasecmp(at + 6, want, strlen(want)), 0);
			assert_string_equal(at + 6 + strlen(want),
					    ",\"seq\":1,\"id\":null,"
					    "\"type\":\"t\",\"source\":\"s\","
					    "\"received_at\":\"r\",\"agent_id\":"
					    "null,\"data\":null}");
			free(want);
			json_decref(js);
			shtext_unref(env);
		}
	}
}

static void envelope_keys_in_contract_order(void **state)
{
	(void)state;
	json_t *d = json_pack("{s:i}", "z", 1);
	size_t len;
	char *env = envelope_dump("r", 7, "x:1", "t", "inbox", "T", "A", d, &len);
	json_t *back = json_loads(env, 0, NULL);
	static const char *const order[] = {"v",      "run",	     "seq",	 "id",	"type",
					    "source", "received_at", "agent_id", "data"};
	size_t i = 0;
	const char *key;
	json_t *v;
	json_object_foreach(back, key, v)
	{
		assert_true(i < 9);
		assert_string_equal(key, order[i++]);
	}
	assert_int_equal(i, 9);
	json_decref(back);
	json_decref(d);
	shtext_unref(env);
}

/* ---- time ---- */

static void time_formats_utc_with_milliseconds(void **state)
{
	(void)state;
	char out[32];
	time_iso8601_ms(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	time_iso8601_ms(1795930416123LL, out);
	assert_string_equal(out, "2026-11-29T05:33:36.123Z");
	time_iso8601_ms(951782400000LL + 86399999LL, out); /* 2000-02-29, leap day */
	assert_string_equal(out, "2000-02-29T23:59:59.999Z");
	time_iso8601_ms(-1, out);
	assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(session_opened_maps_type_topic_id_and_data_in_order),
	    cmocka_unit_test(session_opened_missing_fields_are_null_and_tools_empty),
	    cmocka_unit_test(session_opened_null_or_empty_domain_gives_topic_none),
	    cmocka_unit_test(session_opened_domain_is_cleaned_in_topic_only),
	    cmocka_unit_test(session_opened_tools_null_becomes_empty_array),
	    cmocka_unit_test(session_opened_tools_not_array_is_refused),
	    cmocka_unit_test(session_opened_tools_with_number_is_refused),
	    cmocka_unit_test(session_opened_number_as_string_field_is_refused),
	    cmocka_unit_test(session_id_missing_is_refused),
	    cmocka_unit_test(session_id_number_is_refused),
	    cmocka_unit_test(identity_over_256_bytes_is_refused),
	    cmocka_unit_test(identity_empty_is_refused),
	    cmocka_unit_test(identity_with_nul_is_refused),
	    cmocka_unit_test(known_type_without_data_object_is_refused),
	    cmocka_unit_test(session_closed_maps_all_fields_in_order),
	    cmocka_unit_test(session_closed_missing_fields_are_null),
	    cmocka_unit_test(session_closed_null_outcome_gives_topic_none),
	    cmocka_unit_test(session_closed_outcome_number_is_refused),
	    cmocka_unit_test(contribution_maps_id_topic_and_data_in_order),
	    cmocka_unit_test(contribution_missing_fields_are_null),
	    cmocka_unit_test(contribution_id_missing_is_refused),
	    cmocka_unit_test(contribution_content_not_object_is_refused),
	    cmocka_unit_test(contribution_content_null_is_kept_null),
	    cmocka_unit_test(contribution_created_at_number_is_refused),
	    cmocka_unit_test(unnamed_data_members_go_to_extra),
	    cmocka_unit_test(frame_members_beside_type_and_data_go_to_extra_frame),
	    cmocka_unit_test(extra_is_absent_when_nothing_is_unnamed),
	    cmocka_unit_test(unknown_type_passes_through_with_its_data),
	    cmocka_unit_test(unknown_type_without_data_keeps_every_member_but_type),
	    cmocka_unit_test(unknown_type_alone_has_empty_object_data),
	    cmocka_unit_test(unknown_type_with_scalar_data_keeps_it),
	    cmocka_unit_test(auth_ok_gives_agent_id),
	    cmocka_unit_test(auth_ok_without_string_agent_id_is_refused),
	    cmocka_unit_test(error_gives_message),
	    cmocka_unit_test(error_with_non_string_message_is_refused),
	    cmocka_unit_test(pong_is_a_pong),
	    cmocka_unit_test(contribute_ok_normalizes_the_contribution),
	    cmocka_unit_test(contribute_ok_without_data_is_refused),
	    cmocka_unit_test(normalize_contribution_of_rest_body),
	    cmocka_unit_test(inbox_item_normalizes_like_a_live_frame),
	    cmocka_unit_test(inbox_item_without_event_type_is_refused),
	    cmocka_unit_test(not_json_is_refused),
	    cmocka_unit_test(empty_frame_is_refused),
	    cmocka_unit_test(top_level_array_or_string_is_refused),
	    cmocka_unit_test(type_missing_or_not_a_string_is_refused),
	    cmocka_unit_test(type_with_nul_is_refused),
	    cmocka_unit_test(invalid_utf8_is_refused),
	    cmocka_unit_test(raw_nul_byte_in_frame_is_refused),
	    cmocka_unit_test(deep_nesting_is_refused_without_crash),
	    cmocka_unit_test(one_mib_string_is_accepted_under_the_limit),
	    cmocka_unit_test(one_mib_identity_is_refused),
	    cmocka_unit_test(frame_over_max_len_is_refused_without_parsing),
	    cmocka_unit_test(unicode_escapes_keep_content_exact),
	    cmocka_unit_test(envelope_golden_bytes),
	    cmocka_unit_test(envelope_empty_id_and_agent_are_null),
	    cmocka_unit_test(envelope_escapes_strings),
	    cmocka_unit_test(envelope_escapes_at_every_offset_like_jansson),
	    cmocka_unit_test(envelope_largest_seq_is_written_in_full),
	    cmocka_unit_test(envelope_keys_in_contract_order),
	    cmocka_unit_test(time_formats_utc_with_milliseconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
