/* scanner.c: the content-safety scanner (pure).
 *
 * Owns the patterns for what an agent must never post (Plurum's skill rules): API keys and
 * tokens, passwords, private keys, connection strings, private addresses and internal host
 * names. Every pattern is anchored at a word boundary and needs a minimum length, because
 * contributions are mostly prose: "task-list", "ask-me-anything" or "bearer of bad news"
 * must pass. The scanner reports the kind and where; it never copies what it found. */
#include "scanner.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "strutil.h"

/* A string being scanned: s[0..len), no NUL terminator assumed. */
struct span {
	const unsigned char *s;
	size_t len;
};

static bool s_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool s_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool s_is_alnum(int c)
{
	return s_is_alpha(c) || s_is_digit(c);
}

static bool s_is_hex(int c)
{
	return s_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int s_lower(int c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Byte at i, or 0 past either end (so look-behind and look-ahead need no bounds checks). */
static int s_at(const struct span *sp, size_t i)
{
	return i < sp->len ? sp->s[i] : 0;
}

/* True when position i starts a word: the byte before it is not a letter or digit. */
static bool s_word_start(const struct span *sp, size_t i)
{
	return i == 0 || !s_is_alnum(sp->s[i - 1]);
}

/* Does the text at i start with lit (ASCII, case-insensitive when nocase)? */
static bool s_has(const struct span *sp, size_t i, const char *lit, bool nocase)
{
	size_t n = strlen(lit);
	if (i > sp->len || sp->len - i < n)
		return false;
	for (size_t k = 0; k < n; k++) {
		int a = sp->s[i + k], b = (unsigned char)lit[k];
		if (nocase ? s_lower(a) != s_lower(b) : a != b)
			return false;
	}
	return true;
}

/* Every pattern looks at a bounded run: keys, user names, passwords and addresses are far
 * shorter, and an unbounded look from every position made hostile input ("sk-sk-sk-...",
 * 256 KiB) quadratic: seconds of a stalled event loop. A run longer than this is cut. */
#define RUN_MAX 256

/* Length of the run at i of bytes accepted by ok(), at most RUN_MAX. */
static size_t s_run(const struct span *sp, size_t i, bool (*ok)(int c))
{
	size_t n = 0;
	while (n < RUN_MAX && i + n < sp->len && ok(sp->s[i + n]))
		n++;
	return n;
}

static bool s_is_keych(int c)
{
	return s_is_alnum(c) || c == '-' || c == '_';
}

static bool s_is_upper_or_digit(int c)
{
	return (c >= 'A' && c <= 'Z') || s_is_digit(c);
}

/* RFC 6750 token68 characters, as used after "Bearer ". */
static bool s_is_token68(int c)
{
	return s_is_alnum(c) || strchr("-._~+/=", c) != NULL;
}

static bool s_has_digit(const struct span *sp, size_t i, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (s_is_digit(sp->s[i + k]))
			return true;
	return false;
}

/* ---- api_key -------------------------------------------------------------------------- */

/* sk-..., sk-ant-..., ghp_/gho_..., plrm_live_..., AKIA/ASIA... at i. */
static bool s_api_key(const struct span *sp, size_t i)
{
	size_t n;
	/* the Plurum key is distinctive enough to be caught even glued to other text */
	if (s_has(sp, i, "plrm_live_", false))
		return s_run(sp, i + 10, s_is_keych) >= 8;
	if (!s_word_start(sp, i))
		return false;
	if (s_has(sp, i, "sk-ant-", false))
		return s_run(sp, i + 7, s_is_keych) >= 8;
	if (s_has(sp, i, "sk-", false)) {
		/* Real keys are long and carry digits; hyphenated prose ("sk-learn-...") rarely. */
		n = s_run(sp, i + 3, s_is_keych);
		return n >= 20 && s_has_digit(sp, i + 3, n);
	}
	if (s_has(sp, i, "ghp_", false) || s_has(sp, i, "gho_", false) ||
	    s_has(sp, i, "ghs_", false) || s_has(sp, i, "ghu_", false))
		return s_run(sp, i + 4, s_is_alnum) >= 30;
	if (s_has(sp, i, "github_pat_", false))
		return s_run(sp, i + 11, s_is_keych) >= 30;
	if (s_has(sp, i, "AKIA", false) || s_has(sp, i, "ASIA", false)) {
		n = s_run(sp, i + 4, s_is_upper_or_digit);
		return n == 16 && !s_is_alnum(s_at(sp, i + 20));
	}
	return false;
}

/* "Bearer <token>" with a token of at least 16 token68 characters that is not a plain
 * lower-case word. */
static bool s_bearer(const struct span *sp, size_t i)
{
	size_t j, n;
	bool plain = true;
	if (!s_word_start(sp, i) || !s_has(sp, i, "bearer", true))
		return false;
	j = i + 6;
	if (s_at(sp, j) != ' ' && s_at(sp, j) != '\t')
		return false;
	while (s_at(sp, j) == ' ' || s_at(sp, j) == '\t')
		j++;
	n = s_run(sp, j, s_is_token68);
	if (n < 16)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!(sp->s[j + k] >= 'a' && sp->s[j + k] <= 'z'))
			plain = false;
	return !plain;
}

/* "-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ...]PRIVATE KEY-----" on one line. */
static bool s_private_key(const struct span *sp, size_t i)
{
	size_t j;
	if (!s_has(sp, i, "-----BEGIN ", false))
		return false;
	for (j = i + 11; j < sp->len && j < i + 64; j++) {
		int c = sp->s[j];
		if (s_has(sp, j, "PRIVATE KEY-----", false))
			return true;
		if (!((c >= 'A' && c <= 'Z') || c == ' '))
			return false;
	}
	return false;
}

/* ---- password ------------------------------------------------------------------------- */

static const char *const s_secret_words[] = {"password", "passwd",  "pwd",    "secret",
					     "api_key",	 "api-key", "apikey", "token"};

/* Length of the secret keyword at i, or 0. A keyword may end a longer identifier
 * ("DB_PASSWORD", "client_secret") but must not run on into letters ("tokens",
 * "secretary"). */
static size_t s_secret_word(const struct span *sp, size_t i)
{
	if (i > 0 && s_is_alnum(sp->s[i - 1]))
		return 0;
	for (size_t k = 0; k < sizeof s_secret_words / sizeof s_secret_words[0]; k++) {
		size_t n = strlen(s_secret_words[k]);
		if (s_has(sp, i, s_secret_words[k], true) && !s_is_alnum(s_at(sp, i + n)))
			return n;
	}
	return 0;
}

/* keyword, optional closing quote, '=' or ':', then a value that looks like one.
 * With '=' (config and shell syntax) any value of 3+ characters counts, unless it is a
 * reference ($VAR, <placeholder>, {{template}}) or a comparison ("=="). With ':' (also
 * common in prose: "token: the unit of text") the value must be 6+ characters and hold a
 * digit or a symbol. */
static bool s_password(const struct span *sp, size_t i)
{
	size_t j, n, start;
	int sep;
	bool symbol = false;
	size_t w = s_secret_word(sp, i);
	if (w == 0)
		return false;
	j = i + w;
	if (s_at(sp, j) == '"' || s_at(sp, j) == '\'')
		j++;
	while (s_at(sp, j) == ' ')
		j++;
	sep = s_at(sp, j);
	if (sep != '=' && sep != ':')
		return false;
	j++;
	if (s_at(sp, j) == '=' || s_at(sp, j) == '/')
		return false;
	while (s_at(sp, j) == ' ')
		j++;
	if (s_at(sp, j) == '"' || s_at(sp, j) == '\'')
		j++;
	start = j;
	if (strchr("$<{%*", s_at(sp, start)) != NULL)
		return false; /* also catches the end of the text (0) */
	for (n = 0; start + n < sp->len; n++) {
		int c = sp->s[start + n];
		if (c <= ' ' || c == '"' || c == '\'' || c == ',' || c == ';')
			break;
		if (!s_is_alpha(c))
			symbol = true;
	}
	if (sep == '=')
		return n >= 3;
	return n >= 6 && symbol;
}

/* ---- connection_string ---------------------------------------------------------------- */

static const char *const s_db_schemes[] = {
    "postgresql://", "postgres://", "mysql://", "mongodb+srv://", "mongodb://",	 "rediss://",
    "redis://",	     "amqps://",    "amqp://",	"mssql://",	  "sqlserver://"};

static bool s_is_scheme_ch(int c)
{
	return s_is_alnum(c) || c == '+' || c == '.' || c == '-';
}

static bool s_is_userinfo_ch(int c)
{
	return c > ' ' && c != ':' && c != '/' && c != '@' && c != '"' && c != '\'' && c != 0x7f;
}

static bool s_is_pass_ch(int c)
{
	return c > ' ' && c != '/' && c != '@' && c != '"' && c != '\'' && c != 0x7f;
}

/* A database URL (scheme plus at least one character of authority), "jdbc:<sub>:", or any
 * scheme://user:password@host. */
static bool s_connection_string(const struct span *sp, size_t i)
{
	size_t j, n;
	if (i > 0 && s_is_scheme_ch(sp->s[i - 1]))
		return false;
	if (!s_is_alpha(s_at(sp, i)))
		return false;
	for (size_t k = 0; k < sizeof s_db_schemes / sizeof s_db_schemes[0]; k++) {
		n = strlen(s_db_schemes[k]);
		if (s_has(sp, i, s_db_schemes[k], true)) {
			int c = s_at(sp, i + n);
			return c > ' ' && c != '"' && c != '\'' && c != 0x7f;
		}
	}
	if (s_has(sp, i, "jdbc:", true)) {
		n = s_run(sp, i + 5, s_is_alnum);
		return n > 0 && s_at(sp, i + 5 + n) == ':';
	}
	/* scheme://user:pass@host */
	n = s_run(sp, i, s_is_scheme_ch);
	if (!s_has(sp, i + n, "://", false))
		return false;
	j = i + n + 3;
	n = s_run(sp, j, s_is_userinfo_ch);
	if (n == 0 || s_at(sp, j + n) != ':')
		return false;
	j += n + 1;
	n = s_run(sp, j, s_is_pass_ch);
	/* the password run stops at '@' (or eats a later one: find the last '@' in it) */
	if (n == 0 || s_at(sp, j + n) != '@')
		return false;
	return s_is_alnum(s_at(sp, j + n + 1)) || s_at(sp, j + n + 1) == '[';
}

/* ---- private_address ------------------------------------------------------------------ */

/* Parse one IPv4 octet (1-3 digits, <= 255, no leading zero) at *j. */
static bool s_octet(const struct span *sp, size_t *j, unsigned *val)
{
	size_t n = s_run(sp, *j, s_is_digit);
	unsigned v = 0;
	if (n == 0 || n > 3 || (n > 1 && sp->s[*j] == '0'))
		return false;
	for (size_t k = 0; k < n; k++)
		v = v * 10 + (unsigned)(sp->s[*j + k] - '0');
	if (v > 255)
		return false;
	*j += n;
	*val = v;
	return true;
}

/* A dotted quad in 10/8, 172.16/12, 192.168/16, 127/8 or 169.254/16, not part of a longer
 * dotted number (version strings like 1.10.0.0.1 do not count). */
static bool s_ipv4(const struct span *sp, size_t i)
{
	unsigned o[4];
	size_t j = i;
	if (i > 0 && (s_is_alnum(sp->s[i - 1]) || sp->s[i - 1] == '.'))
		return false;
	for (int k = 0; k < 4; k++) {
		if (k > 0) {
			if (s_at(sp, j) != '.')
				return false;
			j++;
		}
		if (!s_octet(sp, &j, &o[k]))
			return false;
	}
	if (s_is_alnum(s_at(sp, j)) || (s_at(sp, j) == '.' && s_is_digit(s_at(sp, j + 1))))
		return false;
	return o[0] == 10 || o[0] == 127 || (o[0] == 172 && o[1] >= 16 && o[1] <= 31) ||
	       (o[0] == 192 && o[1] == 168) || (o[0] == 169 && o[1] == 254);
}

static bool s_is_v6ch(int c)
{
	return s_is_hex(c) || c == ':' || c == '.';
}

/* An IPv6 address in fc00::/7, fe80::/10 or ::1, checked with inet_pton (no I/O). */
static bool s_ipv6(const struct span *sp, size_t i)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char a[16];
	size_t n;
	if (i > 0 && (s_is_alnum(sp->s[i - 1]) || sp->s[i - 1] == ':' || sp->s[i - 1] == '.'))
		return false;
	if (!s_is_hex(s_at(sp, i)) && s_at(sp, i) != ':')
		return false;
	n = s_run(sp, i, s_is_v6ch);
	if (n < 3 || n > INET6_ADDRSTRLEN)
		return false;
	if (s_is_alnum(s_at(sp, i + n)) || s_at(sp, i + n) == '_')
		return false;
	memcpy(buf, sp->s + i, n);
	buf[n] = '\0';
	/* "fe80::1:" or "::1." at the end of a sentence */
	while (n > 0 && (buf[n - 1] == '.' || (buf[n - 1] == ':' && n > 1 && buf[n - 2] != ':')))
		buf[--n] = '\0';
	if (strchr(buf, ':') == NULL || inet_pton(AF_INET6, buf, a) != 1)
		return false;
	if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
		return true;
	for (int k = 0; k < 15; k++)
		if (a[k] != 0)
			return false;
	return a[15] == 1;
}

static bool s_is_label_ch(int c)
{
	return s_is_alnum(c) || c == '-';
}

static const char *const s_internal_suffixes[] = {".internal", ".intranet", ".local", ".lan",
						  ".corp"};

/* "localhost", or a host name ending in an internal suffix (lower case, as host names are
 * written; "Sentence.Local" is prose). The name must end there: "x.local.example.com" is a
 * public name. */
static bool s_internal_host(const struct span *sp, size_t i)
{
	size_t n;
	if (s_has(sp, i, "localhost", true)) {
		if (i > 0 && (s_is_label_ch(sp->s[i - 1]) || sp->s[i - 1] == '.'))
			return false;
		n = i + 9;
		return !s_is_label_ch(s_at(sp, n)) && s_at(sp, n) != '_' &&
		       !(s_at(sp, n) == '.' && s_is_alnum(s_at(sp, n + 1)));
	}
	if (s_at(sp, i) != '.' || i == 0 || !s_is_label_ch(sp->s[i - 1]))
		return false;
	for (size_t k = 0; k < sizeof s_internal_suffixes / sizeof s_internal_suffixes[0]; k++) {
		if (!s_has(sp, i, s_internal_suffixes[k], false))
			continue;
		n = i + strlen(s_internal_suffixes[k]);
		return !s_is_label_ch(s_at(sp, n)) && s_at(sp, n) != '_' &&
		       !(s_at(sp, n) == '.' && s_is_alnum(s_at(sp, n + 1)));
	}
	return false;
}

static bool s_private_address(const struct span *sp, size_t i)
{
	return s_ipv4(sp, i) || s_ipv6(sp, i) || s_internal_host(sp, i);
}

/* ---- the scanner ---------------------------------------------------------------------- */

struct matcher {
	const char *kind;
	bool (*match)(const struct span *sp, size_t i);
};

static const struct matcher s_matchers[] = {
    {"private_key", s_private_key}, {"api_key", s_api_key},
    {"bearer_token", s_bearer},	    {"connection_string", s_connection_string},
    {"password", s_password},	    {"private_address", s_private_address},
};

const char *scan_string(const char *s, size_t len)
{
	struct span sp = {(const unsigned char *)s, len};
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		for (size_t k = 0; k < sizeof s_matchers / sizeof s_matchers[0]; k++)
			if (s_matchers[k].match(&sp, i))
				return s_matchers[k].kind;
	return NULL;
}

/* ---- JSON walk ------------------------------------------------------------------------ */

/* A path under construction in the caller's buffer; used <= cap - 1 always, so a deep
 * path is cut rather than overflowing, and pop restores the parent exactly. Once a piece
 * has been cut, nothing more is added until a pop: the path is then a prefix of the true
 * one, ending on a whole UTF-8 character (it goes into a JSON reply, which must be valid
 * UTF-8). */
struct path {
	char *buf;
	size_t cap;
	size_t used;
	bool full;
};

static void s_path_add(struct path *p, const char *s, size_t n)
{
	if (p->cap == 0 || p->full)
		return;
	if (n > p->cap - 1 - p->used) {
		n = p->cap - 1 - p->used;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		p->full = true;
	}
	memcpy(p->buf + p->used, s, n);
	p->used += n;
	p->buf[p->used] = '\0';
}

static void s_path_addz(struct path *p, const char *s)
{
	s_path_add(p, s, strlen(s));
}

static void s_path_cut(struct path *p, size_t used)
{
	p->used = used;
	p->full = false;
	if (p->cap > 0)
		p->buf[used] = '\0';
}

static bool s_identifier_like(const char *k, size_t n)
{
	if (n == 0 || !(s_is_alpha(k[0]) || k[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s_is_alnum(k[i]) || k[i] == '_'))
			return false;
	return true;
}

/* .key or ["odd key"] (JSON-escaped). */
static void s_path_key(struct path *p, const char *k, size_t n)
{
	char esc[8];
	if (s_identifier_like(k, n)) {
		s_path_addz(p, ".");
		s_path_add(p, k, n);
		return;
	}
	s_path_addz(p, "[\"");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			s_path_add(p, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			s_path_addz(p, esc);
		} else {
			/* a whole character at a time, so a cut never splits one */
			size_t w = c < 0x80 ? 0 : str_utf8_len((const unsigned char *)k + i, n - i);
			w = w > 0 ? w : 1;
			s_path_add(p, k + i, w);
			i += w - 1;
		}
	}
	s_path_addz(p, "\"]");
}

/* A member named like a secret holding a non-empty, non-reference string:
 * {"password":"hunter2"}, {"db_password":"x1"}, {"client_secret":"..."}. */
static bool s_secret_member(const char *key, size_t klen, json_t *v)
{
	struct span sp = {(const unsigned char *)key, klen};
	const char *val;
	size_t w;
	if (!json_is_string(v) || json_string_length(v) == 0)
		return false;
	val = json_string_value(v);
	if (strchr("$<{%*", val[0]) != NULL)
		return false;
	for (size_t i = 0; i < klen; i++) {
		w = s_secret_word(&sp, i);
		if (w > 0 && i + w == klen)
			return true;
	}
	return false;
}

static const char *s_walk(json_t *v, struct path *p);

static const char *s_walk_object(json_t *v, struct path *p)
{
	const char *key, *kind;
	json_t *m;
	size_t used = p->used;
	json_object_foreach(v, key, m)
	{
		size_t klen = strlen(key); /* jansson keys are NUL-free */
		if (scan_string(key, klen) != NULL) {
			/* the key itself is the hit: name its parent, never the key */
			s_path_addz(p, " (an object key)");
			return scan_string(key, klen);
		}
		s_path_key(p, key, klen);
		if (s_secret_member(key, klen, m))
			return "password";
		kind = s_walk(m, p);
		if (kind != NULL)
			return kind;
		s_path_cut(p, used);
	}
	return NULL;
}

static const char *s_walk(json_t *v, struct path *p)
{
	const char *kind;
	size_t used = p->used;
	char idx[32];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return scan_string(json_string_value(v), json_string_length(v));
	case JSON_OBJECT:
		return s_walk_object(v, p);
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(v); i++) {
			snprintf(idx, sizeof idx, "[%zu]", i);
			s_path_addz(p, idx);
			kind = s_walk(json_array_get(v, i), p);
			if (kind != NULL)
				return kind;
			s_path_cut(p, used);
		}
		return NULL;
	default:
		return NULL;
	}
}

const char *scan_json(json_t *v, const char *root_name, char *path, size_t pathlen)
{
	char dummy[1];
	struct path p = {path != NULL ? path : dummy, path != NULL ? pathlen : sizeof dummy, 0,
			 false};
	const char *kind;

	if (p.cap > 0)
		p.buf[0] = '\0';
	s_path_addz(&p, root_name != NULL ? root_name : "");
	if (v == NULL)
		return NULL;
	kind = s_walk(v, &p);
	if (kind == NULL)
		s_path_cut(&p, 0);
	return kind;
}
