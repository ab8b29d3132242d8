/* jscan.h: a validating JSON scanner that records token spans without building values
 * (pure). The fast path of the normalizer uses it; anything it is unsure about makes the
 * caller fall back to jansson, so it only has to be right when it says "valid". */
#ifndef PP_JSCAN_H
#define PP_JSCAN_H

#include <stddef.h>
#include <stdint.h>

enum jtok_type { JT_OBJ, JT_ARR, JT_STR, JT_NUM, JT_TRUE, JT_FALSE, JT_NULL };

#define JT_F_ESCAPE 1 /* a string holding a backslash escape */
#define JT_F_SPACE  2 /* a container with white space somewhere inside */

struct jtok {
	uint8_t type;
	uint8_t flags;
	uint32_t start; /* first byte: the quote, bracket or first character */
	uint32_t end;	/* one past the last byte */
	uint32_t count; /* members of an object, elements of an array */
	uint32_t next;	/* index of the token after this value and everything inside it */
};

/* Scan one whole JSON text of len bytes into toks (at most max tokens; object keys are
 * string tokens followed by their value's tokens). Returns the number of tokens, or -1 when
 * the text is not plain JSON this scanner vouches for: a syntax error, invalid UTF-8, a \u
 * escape (left to jansson's surrogate rules), a number jansson might refuse (an integer past
 * 64 bits, or any exponent), nesting deeper than max_depth, or more than max tokens. */
int jscan(const char *s, size_t len, struct jtok *toks, uint32_t max, unsigned max_depth);

#endif
