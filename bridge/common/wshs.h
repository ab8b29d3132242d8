/* wshs.h: the client side of the WebSocket opening handshake (RFC 6455 section 4; pure:
 * no I/O). The request is written here, the server's answer is checked here: status 101,
 * Upgrade: websocket, Connection: Upgrade, the Sec-WebSocket-Accept that proves the server
 * read our key, and no extension or subprotocol we did not offer. */
#ifndef PP_WSHS_H
#define PP_WSHS_H

#include <stdbool.h>
#include <stddef.h>

#define WSHS_KEY_LEN	  24	/* base64 of the 16-byte nonce */
#define WSHS_RESPONSE_MAX 16384 /* a longer response head is refused */

/* The Sec-WebSocket-Key for a 16-byte random nonce: base64, NUL-terminated. */
void wshs_key(const unsigned char nonce[16], char key[WSHS_KEY_LEN + 1]);

/* The accept value a server must answer key with: base64(SHA-1(key + RFC's GUID)). */
void wshs_accept_for(const char *key, char accept[29]);

/* Writes the GET upgrade request into out (NUL-terminated). host is the URL's host (an
 * IPv6 literal without brackets is bracketed), port is shown in Host: unless it is the
 * scheme's default (80, or 443 when tls), path starts with '/'. No Origin header: native
 * clients send none. user_agent may be NULL. Returns the request's length, or PP_ETOOBIG
 * when it does not fit, PP_EINVAL when host or path hold CR, LF or are empty. */
int wshs_request(char *out, size_t outlen, const char *host, int port, bool tls, const char *path,
		 const char *key, const char *user_agent);

/* Looks at the first len bytes the server sent. Returns the length of the response head
 * (through its blank line; what follows is already WebSocket frames) when the head is
 * complete and accepts the upgrade; 0 when more bytes are needed; PP_EINVAL when the
 * server refused or answered wrongly (err says how; *status, when not NULL, gets the HTTP
 * status, or 0 when there was none); PP_ETOOBIG when no head ended within
 * WSHS_RESPONSE_MAX bytes. */
int wshs_response(const char *buf, size_t len, const char *key, int *status, char *err,
		  size_t errlen);

#endif
