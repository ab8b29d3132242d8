/* topic.h: topic names of the PUB socket (pure). */
#ifndef PP_TOPIC_H
#define PP_TOPIC_H

#include <stddef.h>

#define TOPIC_SEGMENT_MAX 64

/* Clean one topic segment as the contract says: ASCII letters lower-cased, every
 * character (a whole UTF-8 sequence, or one invalid byte) outside [a-z0-9_-] becomes
 * one '_', the result cut to TOPIC_SEGMENT_MAX bytes. NULL or empty input gives "none".
 * out must hold TOPIC_SEGMENT_MAX + 1 bytes; it is always NUL-terminated. */
void topic_segment(const char *in, size_t len, char out[TOPIC_SEGMENT_MAX + 1]);

#endif
