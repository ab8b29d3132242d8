/* tlsmem.c: a TLS client session over memory buffers (see tlsmem.h). */
#include "tlsmem.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "pp_err.h"
#include "strutil.h"

struct tlsmem {
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	bool ready;
};

/* The first queued OpenSSL error as text, or fallback. */
static void s_openssl_err(char *err, size_t errlen, const char *what, const char *fallback)
{
	unsigned long e = ERR_get_error();
	char text[256];

	if (e)
		ERR_error_string_n(e, text, sizeof(text));
	snprintf(err, errlen, "%s: %s", what, e ? text : fallback);
	ERR_clear_error();
}

bool tlsmem_dir_is_hashed(const char *dir)
{
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	bool hashed = false;

	if (!d)
		return false;
	while (!hashed && (e = readdir(d))) {
		const char *n = e->d_name;
		size_t i = 0;

		while (i < 8 && isxdigit((unsigned char)n[i]))
			i++;
		hashed = i == 8 && n[8] == '.' && isdigit((unsigned char)n[9]);
	}
	closedir(d);
	return hashed;
}

/* The system's trust store. By directory when it has OpenSSL's hashed links (Debian's
 * ca-certificates keeps /etc/ssl/certs so): a certificate is then read when a chain needs
 * it, instead of the whole bundle parsed at start (~140 certificates: 1.5 MB of memory and
 * ~250 M instructions, to use one or two). Else, or when SSL_CERT_FILE names a bundle,
 * OpenSSL's defaults: that file and the directory. */
static void s_trust_system_store(SSL_CTX *ctx)
{
	const char *dir = getenv(X509_get_default_cert_dir_env());

	if (!dir || !dir[0])
		dir = X509_get_default_cert_dir();
	if (!getenv(X509_get_default_cert_file_env()) && tlsmem_dir_is_hashed(dir) &&
	    SSL_CTX_load_verify_locations(ctx, NULL, dir) == 1)
		return;
	ERR_clear_error();
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error(); /* no system store: only ca_file will be trusted */
}

SSL_CTX *tlsmem_ctx_new(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		s_openssl_err(err, errlen, "TLS set-up", "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	s_trust_system_store(ctx);
	if (ca_file && ca_file[0] && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		s_openssl_err(err, errlen, "--ca-file", "cannot load the certificates");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool s_is_ip(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* Name (or address) checking and SNI for host (a trailing dot dropped, see
 * str_host_len()). Returns 1 on success. */
static int s_set_peer(SSL *ssl, const char *host, bool verify)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	char name[256]; /* a DNS name has at most 253 characters */
	size_t n = str_host_len(host);

	if (n >= sizeof(name))
		return 0;
	memcpy(name, host, n);
	name[n] = '\0';
	if (SSL_set_alpn_protos(ssl, alpn, sizeof(alpn) - 1) != 0)
		return 0;
	if (!s_is_ip(name) && SSL_set_tlsext_host_name(ssl, name) != 1)
		return 0;
	SSL_set_verify(ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (!verify)
		return 1;
	if (s_is_ip(name))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
	return SSL_set1_host(ssl, name);
}

struct tlsmem *tlsmem_new(SSL_CTX *ctx, const char *host, bool verify, char *err, size_t errlen)
{
	struct tlsmem *t = calloc(1, sizeof(*t));
	bool attached = false; /* once SSL_set_bio ran, SSL_free frees the BIOs */

	if (!t || !(t->ssl = SSL_new(ctx)) || !(t->rbio = BIO_new(BIO_s_mem())) ||
	    !(t->wbio = BIO_new(BIO_s_mem()))) {
		s_openssl_err(err, errlen, "TLS session", "out of memory");
		goto fail;
	}
	BIO_set_mem_eof_return(t->rbio, -1); /* empty means "more to come", not EOF */
	SSL_set_bio(t->ssl, t->rbio, t->wbio);
	attached = true;
	SSL_set_connect_state(t->ssl);
	if (s_set_peer(t->ssl, host, verify) != 1) {
		s_openssl_err(err, errlen, "TLS session", "cannot set the server name");
		goto fail;
	}
	return t;
fail:
	if (t) {
		if (!attached) {
			BIO_free(t->rbio);
			BIO_free(t->wbio);
		}
		SSL_free(t->ssl);
		free(t);
	}
	return NULL;
}

void tlsmem_destroy(struct tlsmem **self_p)
{
	if (!self_p || !*self_p)
		return;
	SSL_free((*self_p)->ssl);
	free(*self_p);
	*self_p = NULL;
}

int tlsmem_feed(struct tlsmem *t, const void *in, size_t len)
{
	while (len) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len, n = BIO_write(t->rbio, in, chunk);

		if (n <= 0)
			return PP_ENOMEM;
		in = (const unsigned char *)in + n;
		len -= (size_t)n;
	}
	return 0;
}

/* What a failed SSL call means. */
static int s_result(struct tlsmem *t, int r, char *err, size_t errlen)
{
	long v;

	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		if (!t->ready) { /* a close_notify in the middle of the handshake is a failure */
			snprintf(err, errlen, "TLS handshake: the server closed the session");
			return PP_EIO;
		}
		snprintf(err, errlen, "the server closed the TLS session");
		return PP_ECLOSED;
	default:
		break;
	}
	v = SSL_get_verify_result(t->ssl);
	if (!t->ready && v != X509_V_OK) {
		snprintf(err, errlen, "TLS certificate not accepted: %s",
			 X509_verify_cert_error_string(v));
		ERR_clear_error();
		return PP_EIO;
	}
	s_openssl_err(err, errlen, t->ready ? "TLS" : "TLS handshake", "connection failed");
	return PP_EIO;
}

int tlsmem_read(struct tlsmem *t, void *buf, size_t cap, char *err, size_t errlen)
{
	int r;

	if (!t->ready) {
		r = SSL_do_handshake(t->ssl);
		if (r != 1)
			return s_result(t, r, err, errlen);
		t->ready = true;
	}
	if (cap == 0)
		return 0; /* SSL_read of 0 bytes reports an error (SSL_ERROR_SYSCALL) */
	r = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
	return r > 0 ? r : s_result(t, r, err, errlen);
}

bool tlsmem_ready(const struct tlsmem *t)
{
	return t->ready;
}

int tlsmem_write(struct tlsmem *t, const void *p, size_t len, char *err, size_t errlen)
{
	size_t done = 0;

	if (!t->ready) {
		snprintf(err, errlen, "TLS: write before the handshake completed");
		return PP_EIO;
	}
	while (done < len) {
		size_t left = len - done;
		int r = SSL_write(t->ssl, (const unsigned char *)p + done,
				  left > INT_MAX ? INT_MAX : (int)left);

		if (r <= 0) {
			s_result(t, r, err, errlen);
			return PP_EIO; /* a memory BIO never asks to wait */
		}
		done += (size_t)r;
	}
	return 0;
}

size_t tlsmem_out(struct tlsmem *t, const unsigned char **p)
{
	char *data = NULL;
	long n = BIO_get_mem_data(t->wbio, &data);

	*p = (const unsigned char *)data;
	return n > 0 ? (size_t)n : 0;
}

void tlsmem_out_sent(struct tlsmem *t)
{
	(void)BIO_reset(t->wbio);
}
