/* tlsmem.h: a TLS client session over memory buffers (OpenSSL memory BIOs; no I/O here).
 * The caller moves the bytes: ciphertext from the socket goes in with tlsmem_feed(),
 * plaintext comes out of tlsmem_read(); plaintext goes in with tlsmem_write() and the
 * ciphertext to send is in tlsmem_out().
 *
 * Why not lws' own TLS: the upstream WebSocket runs on an lws raw client socket (see
 * upstream.c), and lws 4.1.6 starts a raw client's TLS before its socket exists (the
 * handshake fails at once with EBADF, "tls start fail"). So lws carries plain TCP and the
 * TLS session is here, with the same trust as lws' own clients (tlsmem_ctx_new(), which
 * lws uses too, as its provided client SSL_CTX). */
#ifndef PP_TLSMEM_H
#define PP_TLSMEM_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* The client SSL_CTX of the process: TLS 1.2 or later, the system's trust store plus
 * ca_file when not NULL or empty. NULL with err on failure (e.g. an unreadable ca_file).
 * The caller frees it with SSL_CTX_free(). */
SSL_CTX *tlsmem_ctx_new(const char *ca_file, char *err, size_t errlen);

/* Whether dir holds OpenSSL's hashed certificate links (a name of 8 hex digits, '.', a
 * digit: "5ad8a5d6.0"), so that certificates can be looked up there by subject. */
bool tlsmem_dir_is_hashed(const char *dir);

struct tlsmem;

/* A session to host (SNI, and the name the certificate must carry, both without a
 * trailing dot; an IP literal is checked as an address). verify false accepts any certificate
 * (--insecure). ALPN offers http/1.1 only. ctx is reference-counted by OpenSSL: it may be freed
 * first. NULL with err on failure. */
struct tlsmem *tlsmem_new(SSL_CTX *ctx, const char *host, bool verify, char *err, size_t errlen);
void tlsmem_destroy(struct tlsmem **self_p);

/* Ciphertext received from the peer. Returns 0 or PP_ENOMEM. */
int tlsmem_feed(struct tlsmem *t, const void *in, size_t len);
/* Advances the handshake, then decrypts into buf. Returns the bytes written to buf (> 0);
 * 0 when nothing more can be read until more ciphertext is fed; PP_ECLOSED when the peer
 * closed the session (close_notify); PP_EIO on a TLS failure, a refused certificate
 * among them (err says why). Check tlsmem_out() afterwards: the handshake writes too. */
int tlsmem_read(struct tlsmem *t, void *buf, size_t cap, char *err, size_t errlen);
/* True once the handshake is complete (and the certificate accepted). */
bool tlsmem_ready(const struct tlsmem *t);
/* Encrypts len bytes (only when ready). Returns 0 or PP_EIO with err. */
int tlsmem_write(struct tlsmem *t, const void *p, size_t len, char *err, size_t errlen);
/* The ciphertext waiting to be sent: *p and the returned length stay valid until the next
 * call on t. tlsmem_out_sent() says it was all handed to the socket. */
size_t tlsmem_out(struct tlsmem *t, const unsigned char **p);
void tlsmem_out_sent(struct tlsmem *t);

#endif
