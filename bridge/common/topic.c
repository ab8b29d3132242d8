/* topic.c: cleaning of topic segments for the PUB socket (pure). */
#include "topic.h"

#include <string.h>

/* Length of the UTF-8 sequence starting at s (at most n bytes), or 1 for an invalid byte:
 * a whole multi-byte character becomes one '_' so a non-ASCII domain keeps its shape. */
static size_t s_utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		need = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		need = 4;
	else
		return 1;
	if (need > n)
		return 1;
	for (size_t i = 1; i < need; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 1;
	return need;
}

void topic_segment(const char *in, size_t len, char out[TOPIC_SEGMENT_MAX + 1])
{
	size_t o = 0;
	const unsigned char *s = (const unsigned char *)in;

	if (in == NULL || len == 0) {
		memcpy(out, "none", 5);
		return;
	}
	for (size_t i = 0; i < len && o < TOPIC_SEGMENT_MAX;) {
		unsigned char c = s[i];
		if (c >= 'A' && c <= 'Z') {
			out[o++] = (char)(c - 'A' + 'a');
			i++;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
			   c == '-') {
			out[o++] = (char)c;
			i++;
		} else {
			out[o++] = '_';
			i += s_utf8_len(s + i, len - i);
		}
	}
	out[o] = '\0';
}
