/* wshs.c: the client side of the WebSocket opening handshake (see wshs.h). */
#define _GNU_SOURCE /* memmem */
#include "wshs.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "pp_err.h"

/* RFC 6455 1.3: the server proves it read the key by hashing it with this GUID. */
static const char s_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void wshs_key(const unsigned char nonce[16], char key[WSHS_KEY_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)key, nonce, 16);
}

void wshs_accept_for(const char *key, char accept[29])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	accept[0] = '\0';
	if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) && EVP_DigestUpdate(c, key, strlen(key)) &&
	    EVP_DigestUpdate(c, s_guid, sizeof(s_guid) - 1) && EVP_DigestFinal_ex(c, md, &mdlen) &&
	    mdlen == 20)
		EVP_EncodeBlock((unsigned char *)accept, md, 20);
	EVP_MD_CTX_free(c);
}

static bool s_header_safe(const char *s)
{
	return s[0] && !strpbrk(s, "\r\n");
}

int wshs_request(char *out, size_t outlen, const char *host, int port, bool tls, const char *path,
		 const char *key, const char *user_agent)
{
	char hostport[300];
	bool v6 = strchr(host, ':') != NULL && host[0] != '[', dflt = port == (tls ? 443 : 80);
	int n;

	if (!s_header_safe(host) || !s_header_safe(path) || path[0] != '/' || strchr(path, ' ') ||
	    (user_agent && !s_header_safe(user_agent)))
		return PP_EINVAL;
	n = snprintf(hostport, sizeof(hostport), v6 ? "[%s]" : "%s", host);
	if (n >= 0 && (size_t)n < sizeof(hostport) && !dflt)
		n += snprintf(hostport + n, sizeof(hostport) - (size_t)n, ":%d", port);
	if (n < 0 || (size_t)n >= sizeof(hostport))
		return PP_ETOOBIG;
	n = snprintf(out, outlen,
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "%s%s%s"
		     "\r\n",
		     path, hostport, key, user_agent ? "User-Agent: " : "",
		     user_agent ? user_agent : "", user_agent ? "\r\n" : "");
	if (n < 0 || (size_t)n >= outlen)
		return PP_ETOOBIG;
	return n;
}

/* ---- the response ----------------------------------------------------------------- */

struct hs_seen {
	int upgrade, accept; /* how many of each field */
	bool upgrade_ok, accept_ok, connection;
};

/* A header value with its optional white space trimmed. */
static void s_trim(const char **v, size_t *vl)
{
	while (*vl && (**v == ' ' || **v == '\t'))
		(*v)++, (*vl)--;
	while (*vl && ((*v)[*vl - 1] == ' ' || (*v)[*vl - 1] == '\t'))
		(*vl)--;
}

static bool s_eq(const char *v, size_t vl, const char *want)
{
	return vl == strlen(want) && strncasecmp(v, want, vl) == 0;
}

/* Connection is a comma-separated token list (RFC 7230 6.1). */
static bool s_has_token(const char *v, size_t vl, const char *token)
{
	while (vl) {
		const char *comma = memchr(v, ',', vl);
		size_t tl = comma ? (size_t)(comma - v) : vl;
		const char *t = v;
		size_t l = tl;

		s_trim(&t, &l);
		if (s_eq(t, l, token))
			return true;
		if (!comma)
			break;
		v += tl + 1;
		vl -= tl + 1;
	}
	return false;
}

static int s_header(const char *line, size_t ll, const char *accept, struct hs_seen *seen,
		    char *err, size_t errlen)
{
	const char *colon = memchr(line, ':', ll), *v;
	size_t nl, vl;

	/* a field name is a token: no white space (RFC 7230 3.2.4), so no obs-fold either */
	if (!colon || colon == line || memchr(line, ' ', (size_t)(colon - line)) ||
	    memchr(line, '\t', (size_t)(colon - line))) {
		snprintf(err, errlen, "malformed header line in the handshake response");
		return PP_EINVAL;
	}
	nl = (size_t)(colon - line);
	v = colon + 1;
	vl = ll - nl - 1;
	s_trim(&v, &vl);
	if (s_eq(line, nl, "upgrade")) {
		seen->upgrade++;
		seen->upgrade_ok = s_eq(v, vl, "websocket");
	} else if (s_eq(line, nl, "connection")) {
		/* a list field may come in several lines (RFC 7230 3.2.2) */
		seen->connection = seen->connection || s_has_token(v, vl, "upgrade");
	} else if (s_eq(line, nl, "sec-websocket-accept")) {
		seen->accept++;
		seen->accept_ok = accept[0] && vl == strlen(accept) && memcmp(v, accept, vl) == 0;
	} else if (s_eq(line, nl, "sec-websocket-extensions")) {
		snprintf(err, errlen, "the server chose a WebSocket extension we did not offer");
		return PP_EINVAL;
	} else if (s_eq(line, nl, "sec-websocket-protocol")) {
		snprintf(err, errlen, "the server chose a WebSocket subprotocol we did not offer");
		return PP_EINVAL;
	}
	return 0;
}

/* "HTTP/1.x NNN reason": the status, or 0 when the line is not one. */
static int s_status(const char *line, size_t ll)
{
	if (ll < 12 || strncmp(line, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)line[7]) ||
	    line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]))
		return 0;
	if (ll > 12 && line[12] != ' ')
		return 0;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* The reason phrase of a refusal, printable bytes only, for the error text. */
static void s_reason(const char *line, size_t ll, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 13; i < ll && o + 1 < outlen && o < 60; i++)
		out[o++] = isprint((unsigned char)line[i]) ? line[i] : '?';
	out[o] = '\0';
}

static int s_refused(int st, const char *line, size_t ll, char *err, size_t errlen)
{
	char why[64];

	s_reason(line, ll, why, sizeof(why));
	snprintf(err, errlen, "the server refused the WebSocket upgrade: HTTP %d%s%s", st,
		 why[0] ? " " : "", why);
	return PP_EINVAL;
}

/* RFC 6455 4.1: one Upgrade: websocket, a Connection with the upgrade token, and one
 * Sec-WebSocket-Accept that matches our key. Returns 0 or PP_EINVAL with err. */
static int s_check_seen(const struct hs_seen *seen, char *err, size_t errlen)
{
	const char *what = seen->upgrade != 1 || !seen->upgrade_ok ? "one Upgrade: websocket"
			   : !seen->connection			   ? "Connection: Upgrade"
			   : seen->accept != 1 || !seen->accept_ok
			       ? "one Sec-WebSocket-Accept for our key"
			       : NULL;

	if (!what)
		return 0;
	snprintf(err, errlen, "handshake response without %s", what);
	return PP_EINVAL;
}

int wshs_response(const char *buf, size_t len, const char *key, int *status, char *err,
		  size_t errlen)
{
	const char *end, *line, *eol;
	struct hs_seen seen = {0, 0, false, false, false};
	char accept[29];
	int st, rc;

	if (status)
		*status = 0;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) != 0) {
		snprintf(err, errlen, "the server's answer to the upgrade is not HTTP");
		return PP_EINVAL;
	}
	end = memmem(buf, len < WSHS_RESPONSE_MAX ? len : WSHS_RESPONSE_MAX, "\r\n\r\n", 4);
	if (!end) {
		if (len < WSHS_RESPONSE_MAX)
			return 0;
		snprintf(err, errlen, "handshake response head over %d bytes", WSHS_RESPONSE_MAX);
		return PP_ETOOBIG;
	}
	eol = memmem(buf, (size_t)(end - buf) + 2, "\r\n", 2);
	st = s_status(buf, (size_t)(eol - buf));
	if (status)
		*status = st;
	if (st == 0) {
		snprintf(err, errlen, "malformed status line in the handshake response");
		return PP_EINVAL;
	}
	if (st != 101)
		return s_refused(st, buf, (size_t)(eol - buf), err, errlen);
	if (buf[7] != '1') {
		snprintf(err, errlen, "an upgrade answered in HTTP/1.%c, not HTTP/1.1", buf[7]);
		return PP_EINVAL;
	}
	wshs_accept_for(key, accept);
	for (line = eol + 2; line < end + 2; line = eol + 2) {
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		if ((rc = s_header(line, (size_t)(eol - line), accept, &seen, err, errlen)) != 0)
			return rc;
	}
	if ((rc = s_check_seen(&seen, err, errlen)) != 0)
		return rc;
	return (int)(end - buf) + 4;
}
