/* fuzz_normalize.c: fuzz target for the upstream frame normalizer (normalize.c, envelope.c).
 *
 * The input is one upstream text frame. It goes through normalize_frame(); a normalized
 * event is serialized with envelope_dump() and the result must be a JSON object whose
 * "type" is the event's type. When the input parses as a JSON object it is also fed to
 * normalize_inbox_item() (as an inbox item) and normalize_contribution().
 * Differential check of the fast path: whenever normalize_frame_fast() takes a frame, the
 * slow path must accept it too, with the same type, topic, id and (json_equal) data, and
 * envelope_dump_text() of the fast result must be a JSON object. */
#include "fuzz_target.h"

#include <string.h>

#include "normalize.h"
#include "shtext.h"

#define FRAME_MAX (1024 * 1024) /* as a generous --max-frame */

/* A char array field must be NUL-terminated inside its size. */
#define TERMINATED(arr) (memchr((arr), '\0', sizeof(arr)) != NULL)

/* Dump ev as an envelope and check that the text is the JSON object it claims to be. */
static void s_check_dump(const struct norm_event *ev, const char *source)
{
	size_t len = 0;
	char *text = envelope_dump("r-fuzz", 42, ev->id, ev->type, source,
				   "2026-11-29T05:43:36.123Z", "agent-1", ev->data, &len);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(strlen(text) == len);
	json_error_t jerr;
	json_t *back = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (back == NULL)
		fprintf(stderr, "envelope_dump gave invalid JSON (%s): %s\n", jerr.text, text);
	FUZZ_CHECK(json_is_object(back));
	FUZZ_CHECK(json_is_string(json_object_get(back, "type")));
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(back, "type")), ev->type) == 0);
	FUZZ_CHECK(json_object_get(back, "data") != NULL);
	json_decref(back);
	shtext_unref(text);
}

static void s_check_event(const struct norm_event *ev, const char *source)
{
	FUZZ_CHECK(TERMINATED(ev->type) && TERMINATED(ev->topic) && TERMINATED(ev->id) &&
		   TERMINATED(ev->reply_text));
	if (ev->kind == NORM_EVENT || ev->kind == NORM_CONTRIBUTE_OK) {
		FUZZ_CHECK(ev->data != NULL);
		s_check_dump(ev, source);
	}
	if (ev->kind == NORM_EVENT)
		FUZZ_CHECK(ev->type[0] != '\0' && ev->topic[0] != '\0');
}

static void s_frame(const uint8_t *data, size_t size)
{
	struct norm_event ev;
	char err[256];
	memset(&ev, 0xA5, sizeof ev); /* the function must clear it itself */
	if (normalize_frame((const char *)data, size, FRAME_MAX, &ev, err, sizeof err) == 0) {
		s_check_event(&ev, "live");
		norm_event_clear(&ev);
	} else {
		FUZZ_CHECK(TERMINATED(err));
		FUZZ_CHECK(ev.data == NULL); /* "*out left clear" */
	}
	norm_event_clear(&ev); /* safe on a cleared struct */

	/* The size limit: one byte too small must refuse without parsing. */
	if (size > 0) {
		memset(&ev, 0, sizeof ev);
		FUZZ_CHECK(
		    normalize_frame((const char *)data, size, size - 1, &ev, err, sizeof err) != 0);
		FUZZ_CHECK(ev.data == NULL);
	}
}

static void s_fast(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct norm_event fast, slow;
	char err[256];
	memset(&fast, 0xA5, sizeof fast); /* the function must clear it itself */
	int f = normalize_frame_fast(text, size, FRAME_MAX, &fast);
	FUZZ_CHECK(f == 0 || f == 1);
	if (f == 0) {
		FUZZ_CHECK(fast.data == NULL && fast.data_json == NULL); /* "*out clear" */
		return;
	}
	FUZZ_CHECK(fast.kind == NORM_EVENT && fast.data == NULL && fast.data_json != NULL);
	FUZZ_CHECK(TERMINATED(fast.type) && TERMINATED(fast.topic) && TERMINATED(fast.id));
	if (normalize_frame(text, size, FRAME_MAX, &slow, err, sizeof err) != 0)
		fprintf(stderr, "fast path took a frame the slow path refuses: %s\n", err);
	FUZZ_CHECK(slow.kind == NORM_EVENT);
	FUZZ_CHECK(strcmp(fast.type, slow.type) == 0);
	FUZZ_CHECK(strcmp(fast.topic, slow.topic) == 0);
	FUZZ_CHECK(strcmp(fast.id, slow.id) == 0);
	json_t *fd = json_loadb(fast.data_json, fast.data_json_len, JSON_ALLOW_NUL, NULL);
	FUZZ_CHECK(fd != NULL);
	FUZZ_CHECK(json_equal(fd, slow.data));
	json_decref(fd);

	size_t len = 0;
	char *env =
	    envelope_dump_text("r-fuzz", 42, fast.id, fast.type, "live", "2026-11-29T05:43:36.123Z",
			       NULL, fast.data_json, fast.data_json_len, &len);
	FUZZ_CHECK(env != NULL && strlen(env) == len);
	/* The slow path can only give unique member names; the fast one must not differ. */
	size_t dup_flag = JSON_REJECT_DUPLICATES;
#ifdef PP_FUZZ_KNOWN_BUGS
	dup_flag = 0; /* open bug of regressions/normalize/: duplicates copied verbatim */
#endif
	json_t *back = json_loadb(env, len, dup_flag | JSON_ALLOW_NUL, NULL);
	FUZZ_CHECK(json_is_object(back));
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(back, "type")), fast.type) == 0);
	json_decref(back);
	shtext_unref(env);
	norm_event_clear(&fast);
	norm_event_clear(&slow);
	FUZZ_CHECK(fast.data_json == NULL);
}

static void s_object(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return;
	}
	struct norm_event ev;
	char err[256];
	memset(&ev, 0, sizeof ev);
	if (normalize_inbox_item(root, &ev, err, sizeof err) == 0) {
		FUZZ_CHECK(ev.kind == NORM_EVENT);
		s_check_event(&ev, "inbox");
		norm_event_clear(&ev);
	} else {
		FUZZ_CHECK(ev.data == NULL);
	}
	json_t *c = normalize_contribution(root, err, sizeof err);
	FUZZ_CHECK(c == NULL || json_is_object(c));
	json_decref(c);
	/* The item, or the frame's data member, as a contribution too. */
	json_t *inner = json_object_get(root, "data");
	if (json_is_object(inner)) {
		c = normalize_contribution(inner, err, sizeof err);
		FUZZ_CHECK(c == NULL || json_is_object(c));
		json_decref(c);
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	s_frame(data, size);
	s_fast(data, size);
	s_object(data, size);
	return 0;
}
