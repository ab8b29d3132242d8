/* topic.c: cleaning of topic segments for the PUB socket (pure). */
#include "topic.h"

#include <string.h>

#include "strutil.h"

/* How many bytes at s become one '_': a whole valid UTF-8 character, so a non-ASCII
 * domain keeps its shape, else one byte. The strict decoder the scanner validates with:
 * an overlong form or a surrogate is a run of invalid bytes here too. */
static size_t s_char_len(const unsigned char *s, size_t n)
{
	size_t k = str_utf8_len(s, n);

	return k ? k : 1;
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
			i += s_char_len(s + i, len - i);
		}
	}
	out[o] = '\0';
}
