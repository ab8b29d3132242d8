/* fuzz_scanner.c: fuzz target for the content-safety scanner (scanner.c).
 *
 * The raw input is scanned as one string (whole, and cut at every point a prefix scan
 * would see: the first half); when it parses as JSON the value is scanned with scan_json()
 * at several path buffer sizes. A kind must be one of the documented names, and a scan
 * must give the same answer twice. */
#include "fuzz_target.h"

#include <string.h>

#include "scanner.h"

static bool s_known_kind(const char *kind)
{
	static const char *const kinds[] = {"api_key",	   "bearer_token",	"password",
					    "private_key", "connection_string", "private_address"};
	if (kind == NULL)
		return true;
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kind, kinds[i]) == 0)
			return true;
	return false;
}

/* A path goes into a JSON reply: it must be valid UTF-8, which json_string() checks. */
static void s_check_utf8(const char *path)
{
	json_t *probe = json_string(path);
	FUZZ_CHECK(probe != NULL);
	json_decref(probe);
}

static void s_json(const uint8_t *data, size_t size)
{
	json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (v == NULL)
		return;
	char path[256], mid[24], small[8];
	const char *kind = scan_json(v, "content", path, sizeof path);
	FUZZ_CHECK(s_known_kind(kind));
	FUZZ_CHECK(memchr(path, '\0', sizeof path) != NULL);
	s_check_utf8(path);
	if (kind != NULL)
		FUZZ_CHECK(strncmp(path, "content", 7) == 0);
	/* Smaller path buffers must be cut safely, on a character boundary, to a prefix of
	 * the whole path; a NULL one ignored; same answer. */
	FUZZ_CHECK(scan_json(v, "content", mid, sizeof mid) == kind);
	FUZZ_CHECK(memchr(mid, '\0', sizeof mid) != NULL);
	s_check_utf8(mid);
	FUZZ_CHECK(strncmp(mid, path, strlen(mid)) == 0);
	FUZZ_CHECK(scan_json(v, "content", small, sizeof small) == kind);
	FUZZ_CHECK(memchr(small, '\0', sizeof small) != NULL);
	FUZZ_CHECK(scan_json(v, NULL, NULL, 0) == kind);
	/* A bare string value is scanned like the same bytes given to scan_string(). */
	if (json_is_string(v))
		FUZZ_CHECK(kind == scan_string(json_string_value(v), json_string_length(v)));
	json_decref(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *kind = scan_string(s, size);
	FUZZ_CHECK(s_known_kind(kind));
	FUZZ_CHECK(scan_string(s, size) == kind);
	FUZZ_CHECK(s_known_kind(scan_string(s, size / 2)));
	FUZZ_CHECK(scan_string(s, 0) == NULL);
	s_json(data, size);
	return 0;
}
