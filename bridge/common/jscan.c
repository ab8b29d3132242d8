/* jscan.c: a strict, allocation-free JSON scanner (RFC 8259 grammar, RFC 3629 UTF-8).
 *
 * Recursive descent with a depth bound; one pass; each token records its byte span, so a
 * caller can copy values verbatim instead of parsing and re-serializing them. */
#include "jscan.h"
#include "jsonbytes.h"
#include "strutil.h"

#include <stdbool.h>
#include <string.h>

struct jp {
	const unsigned char *s;
	size_t len, pos;
	struct jtok *t;
	uint32_t n, max;
	unsigned depth, max_depth;
	uint64_t spaces; /* white-space runs skipped so far: a container compares it */
};

static int s_value(struct jp *p);

static void s_ws(struct jp *p)
{
	size_t start = p->pos;

	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
	if (p->pos != start)
		p->spaces++;
}

static int s_new(struct jp *p, enum jtok_type type)
{
	struct jtok *t;

	if (p->n >= p->max)
		return -1;
	t = &p->t[p->n];
	t->type = (uint8_t)type;
	t->flags = 0;
	t->start = (uint32_t)p->pos;
	t->end = t->start;
	t->count = 0;
	t->next = 0;
	return (int)p->n++;
}

static int s_string(struct jp *p)
{
	int i = s_new(p, JT_STR);

	if (i < 0)
		return -1;
	p->pos++; /* the opening quote */
	while (p->pos < p->len) {
		unsigned char c;

		if (p->len - p->pos >= 8) {
			size_t plain = json_plain_prefix8(p->s + p->pos);

			p->pos += plain;
			if (plain == 8)
				continue;
		}
		c = p->s[p->pos];

		if (c == '"') {
			p->pos++;
			p->t[i].end = (uint32_t)p->pos;
			p->t[i].next = p->n;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (p->pos + 1 >= p->len || !strchr("\"\\/bfnrt", p->s[p->pos + 1]) ||
			    p->s[p->pos + 1] == '\0')
				return -1; /* \u too: jansson's surrogate rules decide those */
			p->t[i].flags |= JT_F_ESCAPE;
			p->pos += 2;
			continue;
		}
		if (c < 0x80) {
			p->pos++;
			continue;
		}
		size_t n = str_utf8_len(p->s + p->pos, p->len - p->pos);

		if (!n)
			return -1;
		p->pos += n;
	}
	return -1;
}

static size_t s_digits(struct jp *p)
{
	size_t n = 0;

	while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') {
		p->pos++;
		n++;
	}
	return n;
}

/* True when jansson parses the integer text (sign included) without overflow: json_int_t
 * is a 64-bit long long and jansson refuses what does not fit. */
static bool s_int_fits(const unsigned char *s, size_t n)
{
	static const char max[] = "9223372036854775807", min[] = "9223372036854775808";
	bool neg = s[0] == '-';

	if (neg) {
		s++;
		n--;
	}
	if (n != 19)
		return n < 19;
	return memcmp(s, neg ? min : max, 19) <= 0;
}

static int s_number(struct jp *p)
{
	int i = s_new(p, JT_NUM);
	size_t start = p->pos, idigits;

	if (i < 0)
		return -1;
	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->len && p->s[p->pos] == '0') {
		p->pos++;
		idigits = 1;
	} else {
		idigits = s_digits(p);
		if (!idigits)
			return -1;
	}
	if (p->pos < p->len && p->s[p->pos] == '.') {
		p->pos++;
		if (!s_digits(p))
			return -1;
		/* a real: strtod overflows only past ~308 integer digits */
		if (idigits > 300)
			return -1;
	} else if (!s_int_fits(p->s + start, p->pos - start)) {
		return -1;
	}
	/* exponents may overflow or underflow in jansson: let it judge those */
	if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E'))
		return -1;
	p->t[i].end = (uint32_t)p->pos;
	p->t[i].next = p->n;
	return 0;
}

static int s_literal(struct jp *p, const char *word, enum jtok_type type)
{
	size_t n = strlen(word);
	int i;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return -1;
	i = s_new(p, type);
	if (i < 0)
		return -1;
	p->pos += n;
	p->t[i].end = (uint32_t)p->pos;
	p->t[i].next = p->n;
	return 0;
}

/* Members of an object or elements of an array, after the opening bracket. */
static int s_container(struct jp *p, bool object)
{
	char close = object ? '}' : ']';
	int i = s_new(p, object ? JT_OBJ : JT_ARR);
	uint64_t spaces = p->spaces;

	if (i < 0 || ++p->depth > p->max_depth)
		return -1;
	p->pos++;
	s_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		goto done;
	}
	for (;;) {
		s_ws(p);
		if (object) {
			if (p->pos >= p->len || p->s[p->pos] != '"' || s_string(p) != 0)
				return -1;
			s_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return -1;
			p->pos++;
		}
		if (s_value(p) != 0)
			return -1;
		p->t[i].count++;
		s_ws(p);
		if (p->pos >= p->len)
			return -1;
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] != close)
			return -1;
		p->pos++;
		break;
	}
done:
	p->depth--;
	if (p->spaces != spaces)
		p->t[i].flags |= JT_F_SPACE;
	p->t[i].end = (uint32_t)p->pos;
	p->t[i].next = p->n;
	return 0;
}

static int s_value(struct jp *p)
{
	s_ws(p);
	if (p->pos >= p->len)
		return -1;
	switch (p->s[p->pos]) {
	case '{':
		return s_container(p, true);
	case '[':
		return s_container(p, false);
	case '"':
		return s_string(p);
	case 't':
		return s_literal(p, "true", JT_TRUE);
	case 'f':
		return s_literal(p, "false", JT_FALSE);
	case 'n':
		return s_literal(p, "null", JT_NULL);
	default:
		if (p->s[p->pos] == '-' || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return s_number(p);
		return -1;
	}
}

int jscan(const char *s, size_t len, struct jtok *toks, uint32_t max, unsigned max_depth)
{
	struct jp p = {(const unsigned char *)s, len, 0, toks, 0, max, 0, max_depth, 0};

	if (len >= UINT32_MAX || s_value(&p) != 0)
		return -1;
	s_ws(&p);
	return p.pos == len ? (int)p.n : -1;
}
