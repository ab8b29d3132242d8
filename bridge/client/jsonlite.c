/* jsonlite.c: the little JSON the client library needs, without a JSON library.
 *
 * Owns building request texts (a growable buffer and string escaping) and a structural
 * scan of JSON text: enough to find a top-level member such as "id" and to check that a
 * caller's text is one object (so it cannot inject members into a request). It is not a
 * validator: numbers, literals and UTF-8 are left to the bridge, which answers bad_request
 * for text it cannot parse. Why not jansson: the library is linked into users' programs
 * and must stay small, with libzmq as its only dependency. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAX_DEPTH 512 /* deeper nesting is refused rather than scanned */

/* ---- Building text --------------------------------------------------------------- */

/* Make room for n more bytes and the NUL; false (and oom set) on failure. */
static bool s_reserve(struct ppc_buf *b, size_t n)
{
	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	char *p = realloc(b->p, cap);
	if (p == NULL)
		goto fail;
	b->p = p;
	b->cap = cap;
	return true;
fail:
	b->oom = true;
	return false;
}

void ppc__buf_add(struct ppc_buf *b, const char *s, size_t n)
{
	if (!s_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ppc__buf_adds(struct ppc_buf *b, const char *s)
{
	ppc__buf_add(b, s, strlen(s));
}

void ppc__buf_addf(struct ppc_buf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	/* Only short numeric fragments are formatted here; longer output is a bug. */
	if (n < 0 || (size_t)n >= sizeof tmp) {
		b->oom = true;
		return;
	}
	ppc__buf_add(b, tmp, (size_t)n);
}

void ppc__buf_add_jstring(struct ppc_buf *b, const char *s)
{
	ppc__buf_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			ppc__buf_add(b, "\\\"", 2);
			break;
		case '\\':
			ppc__buf_add(b, "\\\\", 2);
			break;
		case '\n':
			ppc__buf_add(b, "\\n", 2);
			break;
		case '\r':
			ppc__buf_add(b, "\\r", 2);
			break;
		case '\t':
			ppc__buf_add(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				ppc__buf_addf(b, "\\u%04x", (unsigned)*p);
			else
				ppc__buf_add(b, (const char *)p, 1);
		}
	}
	ppc__buf_add(b, "\"", 1);
}

void ppc__buf_free(struct ppc_buf *b)
{
	free(b->p);
	*b = (struct ppc_buf){0};
}

/* ---- Scanning -------------------------------------------------------------------- */

static const char *s_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at the opening quote: the byte after the closing one, or NULL. */
static const char *s_skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			p++; /* the escaped byte; \uXXXX's hex digits are plain bytes anyway */
			continue;
		}
		if (*p == '"')
			return p + 1;
		if ((unsigned char)*p < 0x20)
			return NULL;
	}
	return NULL;
}

/* p at '{' or '[': the byte after the matching close, or NULL. Brackets must pair by kind. */
static const char *s_skip_nested(const char *p, const char *end)
{
	char stack[MAX_DEPTH];
	size_t depth = 0;
	while (p < end) {
		char c = *p;
		if (c == '"') {
			p = s_skip_string(p, end);
			if (p == NULL)
				return NULL;
			continue;
		}
		if (c == '{' || c == '[') {
			if (depth == MAX_DEPTH)
				return NULL;
			stack[depth++] = c == '{' ? '}' : ']';
		} else if (c == '}' || c == ']') {
			if (depth == 0 || stack[depth - 1] != c)
				return NULL;
			if (--depth == 0)
				return p + 1;
		}
		p++;
	}
	return NULL;
}

const char *ppc__json_skip_value(const char *p, const char *end)
{
	p = s_ws(p, end);
	if (p >= end)
		return NULL;
	if (*p == '"')
		return s_skip_string(p, end);
	if (*p == '{' || *p == '[')
		return s_skip_nested(p, end);
	const char *start = p;
	while (p < end && strchr(",:}] \t\r\n{[\"", *p) == NULL)
		p++;
	return p > start ? p : NULL;
}

int ppc__json_find_member(const char *text, size_t len, const char *name, const char **val,
			  size_t *val_len)
{
	const char *end = text + len, *p = s_ws(text, end);
	size_t name_len = strlen(name);
	int found = 0;
	if (p >= end || *p != '{')
		return -1;
	p = s_ws(p + 1, end);
	if (p < end && *p == '}')
		return s_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		if (p >= end || *p != '"')
			return -1;
		const char *key = p + 1, *key_end = s_skip_string(p, end);
		if (key_end == NULL)
			return -1;
		p = s_ws(key_end, end);
		if (p >= end || *p != ':')
			return -1;
		const char *v = s_ws(p + 1, end), *v_end = ppc__json_skip_value(v, end);
		if (v_end == NULL)
			return -1;
		if ((size_t)(key_end - 1 - key) == name_len && memcmp(key, name, name_len) == 0) {
			*val = v;
			*val_len = (size_t)(v_end - v);
			found = 1;
		}
		p = s_ws(v_end, end);
		if (p < end && *p == ',') {
			p = s_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return s_ws(p + 1, end) == end ? found : -1;
		return -1;
	}
}

bool ppc__json_is_object(const char *text, size_t len)
{
	const char *v;
	size_t n;
	/* find_member walks every member, so it doubles as the structural check. */
	return ppc__json_find_member(text, len, "", &v, &n) >= 0;
}
