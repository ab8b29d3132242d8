/* test_tlsmem.c: the memory-BIO TLS client against an in-memory OpenSSL server. */
/* cmocka needs these first, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pp_err.h"
#include "tlsmem.h"

/* Fixtures made once for the whole file: keys, certificates and their PEM files. */
struct fixture {
	EVP_PKEY *key;	     /* the server's key */
	X509 *cert;	     /* DNS:localhost, IP:127.0.0.1 */
	X509 *noip;	     /* DNS:localhost only */
	EVP_PKEY *other_key; /* another CA's key */
	X509 *other;	     /* another CA, same subject, not the server's */
	char cert_pem[64], noip_pem[64], other_pem[64];
	/* Client contexts, shared by the tests (loading the system store is slow). */
	SSL_CTX *trust_cert;  /* trusts cert */
	SSL_CTX *trust_noip;  /* trusts noip */
	SSL_CTX *trust_other; /* trusts other only */
	SSL_CTX *trust_none;  /* the system store only */
};
static struct fixture g;

/* The in-memory server: one SSL over its own memory BIOs. */
struct srv {
	SSL_CTX *ctx;
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	unsigned char alpn[64];
	size_t alpn_len;
	bool alpn_seen;
	bool failed; /* the server's handshake failed */
};

static void add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* A self-signed certificate (CA:TRUE, so it can be its own trust anchor) for key. */
static X509 *make_cert(EVP_PKEY *key, const char *org, const char *san)
{
	static long serial;
	X509 *cert = X509_new();
	X509_NAME *name;

	assert_non_null(cert);
	assert_int_equal(X509_set_version(cert, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), 24L * 3600));
	assert_int_equal(X509_set_pubkey(cert, key), 1);
	name = X509_get_subject_name(cert);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)"localhost", -1, -1, 0),
			 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
						    (const unsigned char *)org, -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(cert, name), 1);
	add_ext(cert, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign");
	add_ext(cert, NID_ext_key_usage, "serverAuth");
	add_ext(cert, NID_subject_key_identifier, "hash");
	add_ext(cert, NID_subject_alt_name, san);
	assert_true(X509_sign(cert, key, EVP_sha256()) > 0);
	return cert;
}

/* Writes cert to a new temp file; its name goes in path. */
static void write_pem(X509 *cert, char *path, size_t pathlen)
{
	snprintf(path, pathlen, "/tmp/test_tlsmem_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, cert), 1);
	assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state)
{
	(void)state;
	g.key = EVP_EC_gen("P-256");
	g.other_key = EVP_EC_gen("P-256");
	if (!g.key || !g.other_key)
		return -1;
	g.cert = make_cert(g.key, "test-server", "DNS:localhost,IP:127.0.0.1");
	g.noip = make_cert(g.key, "test-server", "DNS:localhost");
	g.other = make_cert(g.other_key, "test-server", "DNS:localhost,IP:127.0.0.1");
	write_pem(g.cert, g.cert_pem, sizeof g.cert_pem);
	write_pem(g.noip, g.noip_pem, sizeof g.noip_pem);
	write_pem(g.other, g.other_pem, sizeof g.other_pem);
	char err[256] = "";
	g.trust_cert = tlsmem_ctx_new(g.cert_pem, err, sizeof err);
	g.trust_noip = tlsmem_ctx_new(g.noip_pem, err, sizeof err);
	g.trust_other = tlsmem_ctx_new(g.other_pem, err, sizeof err);
	g.trust_none = tlsmem_ctx_new(NULL, err, sizeof err);
	if (!g.trust_cert || !g.trust_noip || !g.trust_other || !g.trust_none) {
		fprintf(stderr, "tlsmem_ctx_new: %s\n", err);
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(g.trust_cert);
	SSL_CTX_free(g.trust_noip);
	SSL_CTX_free(g.trust_other);
	SSL_CTX_free(g.trust_none);
	unlink(g.cert_pem);
	unlink(g.noip_pem);
	unlink(g.other_pem);
	X509_free(g.cert);
	X509_free(g.noip);
	X509_free(g.other);
	EVP_PKEY_free(g.key);
	EVP_PKEY_free(g.other_key);
	return 0;
}

/* Records what the client offered and picks http/1.1. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char ours[] = "\x08http/1.1";
	struct srv *s = arg;
	unsigned char *sel = NULL;

	(void)ssl;
	s->alpn_seen = true;
	s->alpn_len = inlen < sizeof s->alpn ? inlen : sizeof s->alpn;
	memcpy(s->alpn, in, s->alpn_len);
	if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void srv_init(struct srv *s, X509 *cert)
{
	memset(s, 0, sizeof *s);
	s->ctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(s->ctx);
	assert_int_equal(SSL_CTX_use_certificate(s->ctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(s->ctx, g.key), 1);
	SSL_CTX_set_alpn_select_cb(s->ctx, alpn_select, s);
	s->ssl = SSL_new(s->ctx);
	s->rbio = BIO_new(BIO_s_mem());
	s->wbio = BIO_new(BIO_s_mem());
	assert_non_null(s->ssl);
	assert_non_null(s->rbio);
	assert_non_null(s->wbio);
	BIO_set_mem_eof_return(s->rbio, -1);
	SSL_set_bio(s->ssl, s->rbio, s->wbio);
	SSL_set_accept_state(s->ssl);
}

static void srv_free(struct srv *s)
{
	SSL_free(s->ssl);
	SSL_CTX_free(s->ctx);
}

/* A client session to host. */
static struct tlsmem *client_new(SSL_CTX *ctx, const char *host, bool verify)
{
	char err[256] = "";
	struct tlsmem *t = tlsmem_new(ctx, host, verify, err, sizeof err);
	assert_non_null(t);
	return t;
}

/* Hands the client's pending ciphertext to the server. */
static void to_server(struct tlsmem *c, struct srv *s)
{
	const unsigned char *p = NULL;
	size_t n = tlsmem_out(c, &p);

	if (n) {
		assert_non_null(p);
		assert_int_equal(BIO_write(s->rbio, p, (int)n), (int)n);
	}
	tlsmem_out_sent(c);
	assert_int_equal(tlsmem_out(c, &p), 0);
}

/* Moves up to max bytes (0: all) of the server's ciphertext to the client. */
static size_t to_client(struct srv *s, struct tlsmem *c, size_t max)
{
	unsigned char buf[4096];
	size_t moved = 0;

	while (BIO_ctrl_pending(s->wbio) > 0 && (!max || moved < max)) {
		size_t want = sizeof buf;
		if (max && max - moved < want)
			want = max - moved;
		int n = BIO_read(s->wbio, buf, (int)want);
		assert_true(n > 0);
		assert_int_equal(tlsmem_feed(c, buf, (size_t)n), 0);
		moved += (size_t)n;
	}
	return moved;
}

/* Advances the server's handshake; a failure is recorded, its alert still goes out. */
static void srv_step(struct srv *s)
{
	if (s->failed || SSL_is_init_finished(s->ssl))
		return;
	int r = SSL_do_handshake(s->ssl);
	if (r != 1 && SSL_get_error(s->ssl, r) != SSL_ERROR_WANT_READ) {
		s->failed = true;
		ERR_clear_error();
	}
}

/* Pumps the handshake, the server's bytes going over chunk at a time (0: all at once).
 * Returns 0 once both sides are done, or the client's failure (err says why). */
static int pump_chunked(struct tlsmem *c, struct srv *s, size_t chunk, char *err, size_t errlen)
{
	unsigned char buf[256];

	for (int i = 0; i < 100000; i++) {
		int r = tlsmem_read(c, buf, sizeof buf, err, errlen);
		if (r < 0)
			return r;
		assert_int_equal(r, 0); /* no application data during the handshake */
		to_server(c, s);
		srv_step(s);
		if (tlsmem_ready(c) && SSL_is_init_finished(s->ssl))
			return 0;
		if (!to_client(s, c, chunk) && !BIO_ctrl_pending(s->rbio) && s->failed)
			break; /* nothing moves any more */
	}
	fail_msg("the handshake did not finish");
	return PP_EIO;
}

static int pump(struct tlsmem *c, struct srv *s, char *err, size_t errlen)
{
	return pump_chunked(c, s, 0, err, errlen);
}

/* A trusted session to host (a name or address g.cert carries) with its handshake done. */
static struct tlsmem *connected_to(struct srv *s, const char *host)
{
	char err[256] = "";
	srv_init(s, g.cert);
	struct tlsmem *c = client_new(g.trust_cert, host, true);
	assert_int_equal(pump(c, s, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	return c;
}

static struct tlsmem *connected(struct srv *s)
{
	return connected_to(s, "localhost");
}

/* Server-side SSL_read of everything the client sent, into buf. */
static size_t srv_read_all(struct srv *s, unsigned char *buf, size_t cap)
{
	size_t got = 0;

	for (;;) {
		int n = SSL_read(s->ssl, buf + got, (int)(cap - got));
		if (n <= 0) {
			assert_int_equal(SSL_get_error(s->ssl, n), SSL_ERROR_WANT_READ);
			return got;
		}
		got += (size_t)n;
		assert_true(got <= cap);
		if (got == cap)
			return got;
	}
}

static void fill_pattern(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31u + i / 251u + 7u);
}

static void handshake_with_trusted_cert_makes_session_ready(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_cert, "localhost", true);
	assert_false(tlsmem_ready(c));
	assert_int_equal(pump(c, &s, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	assert_true(SSL_is_init_finished(s.ssl));
	assert_false(s.failed);
	tlsmem_destroy(&c);
	assert_null(c);
	srv_free(&s);
}

static void session_outlives_its_ctx(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	SSL_CTX *ctx = tlsmem_ctx_new(g.cert_pem, err, sizeof err);
	assert_non_null(ctx);
	struct tlsmem *c = tlsmem_new(ctx, "localhost", true, err, sizeof err);
	assert_non_null(c);
	SSL_CTX_free(ctx); /* the session holds its own reference */
	srv_init(&s, g.cert);
	assert_int_equal(pump(c, &s, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void handshake_survives_one_byte_at_a_time(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_cert, "localhost", true);
	assert_int_equal(pump_chunked(c, &s, 1, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void client_write_reaches_server(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	unsigned char got[64];
	struct tlsmem *c = connected(&s);

	assert_int_equal(tlsmem_write(c, "hello server", 12, err, sizeof err), 0);
	to_server(c, &s);
	assert_int_equal(srv_read_all(&s, got, sizeof got), 12);
	assert_memory_equal(got, "hello server", 12);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void server_write_reaches_client(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	char got[64];
	struct tlsmem *c = connected(&s);

	assert_int_equal(SSL_write(s.ssl, "hello client", 12), 12);
	to_client(&s, c, 0);
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 12);
	assert_memory_equal(got, "hello client", 12);
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 0); /* drained */
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void read_with_nothing_fed_returns_zero(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	char got[64];
	struct tlsmem *c = connected(&s);

	to_client(&s, c, 0); /* session tickets, if any: no application data */
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 0);
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void large_server_payload_is_read_in_pieces(void **state)
{
	(void)state;
	enum { TOTAL = 100 * 1024, PIECE = 777 };
	struct srv s;
	char err[256] = "";
	unsigned char *want = malloc(TOTAL), *got = malloc(TOTAL);
	size_t have = 0;
	int reads = 0;
	struct tlsmem *c = connected(&s);

	assert_non_null(want);
	assert_non_null(got);
	fill_pattern(want, TOTAL);
	assert_int_equal(SSL_write(s.ssl, want, TOTAL), TOTAL);
	while (BIO_ctrl_pending(s.wbio) > 0) {
		to_client(&s, c, 3000); /* records arrive split across feeds */
		for (;;) {
			size_t cap = TOTAL - have < PIECE ? TOTAL - have : PIECE;
			int n = tlsmem_read(c, got + have, cap, err, sizeof err);
			assert_true(n >= 0);
			if (n == 0 || cap == 0)
				break;
			assert_true((size_t)n <= cap);
			have += (size_t)n;
			reads++;
		}
	}
	assert_int_equal(have, TOTAL);
	assert_true(reads >= TOTAL / PIECE);
	assert_memory_equal(got, want, TOTAL);
	free(want);
	free(got);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void large_client_payload_reaches_server(void **state)
{
	(void)state;
	enum { TOTAL = 100 * 1024 };
	struct srv s;
	char err[256] = "";
	unsigned char *want = malloc(TOTAL), *got = malloc(TOTAL);
	struct tlsmem *c = connected(&s);

	assert_non_null(want);
	assert_non_null(got);
	fill_pattern(want, TOTAL);
	assert_int_equal(tlsmem_write(c, want, TOTAL, err, sizeof err), 0);
	to_server(c, &s);
	assert_int_equal(srv_read_all(&s, got, TOTAL), TOTAL);
	assert_memory_equal(got, want, TOTAL);
	free(want);
	free(got);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void ip_host_is_accepted_with_ip_san(void **state)
{
	(void)state;
	struct srv s;
	struct tlsmem *c = connected_to(&s, "127.0.0.1");
	/* RFC 6066 s.3: a literal address is not sent as SNI. */
	assert_null(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name));
	tlsmem_destroy(&c);
	srv_free(&s);
}

/* An absolute name ("localhost." in a URL) names the same host: SNI goes without the dot
 * (RFC 6066 s.3) and the certificate's "localhost" matches. */
static void trailing_dot_is_dropped_for_sni_and_the_name_check(void **state)
{
	(void)state;
	struct srv s;
	struct tlsmem *c = connected_to(&s, "localhost.");
	assert_string_equal(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name), "localhost");
	tlsmem_destroy(&c);
	srv_free(&s);
}

/* A name longer than any DNS name (253) is refused when the session is made. */
static void overlong_host_is_refused(void **state)
{
	(void)state;
	char host[300], err[256] = "";
	memset(host, 'a', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	assert_null(tlsmem_new(g.trust_cert, host, true, err, sizeof err));
	assert_non_null(strstr(err, "server name"));
}

static void ip_host_is_refused_without_ip_san(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.noip);
	struct tlsmem *c = client_new(g.trust_noip, "127.0.0.1", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_false(tlsmem_ready(c));
	assert_non_null(strstr(err, "certificate"));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void ip_host_is_not_matched_as_dns_name(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	X509 *dns_ip = make_cert(g.key, "test-server", "DNS:127.0.0.1");
	char pem[64];
	write_pem(dns_ip, pem, sizeof pem);
	SSL_CTX *ctx = tlsmem_ctx_new(pem, err, sizeof err);
	assert_non_null(ctx);
	srv_init(&s, dns_ip);
	struct tlsmem *c = client_new(ctx, "127.0.0.1", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_non_null(strstr(err, "certificate"));
	tlsmem_destroy(&c);
	srv_free(&s);
	SSL_CTX_free(ctx);
	unlink(pem);
	X509_free(dns_ip);
}

static void ipv6_host_is_refused_when_cert_lacks_it(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_cert, "::1", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_non_null(strstr(err, "certificate"));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void untrusted_cert_without_ca_file_is_refused(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_none, "localhost", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_false(tlsmem_ready(c));
	assert_non_null(strstr(err, "certificate"));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void cert_from_another_ca_is_refused(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_other, "localhost", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_false(tlsmem_ready(c));
	assert_non_null(strstr(err, "certificate"));
	tlsmem_destroy(&c);
	srv_free(&s);
}

/* A temporary directory holding cert under name (NULL: its subject-hash link name). */
static void make_store_dir(X509 *cert, const char *name, char *dir, size_t dirlen)
{
	char path[128], hashed[16];

	snprintf(dir, dirlen, "/tmp/test_tlsmem_dir_XXXXXX");
	assert_non_null(mkdtemp(dir));
	if (!name) {
		snprintf(hashed, sizeof hashed, "%08lx.0", X509_subject_name_hash(cert));
		name = hashed;
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, cert), 1);
	assert_int_equal(fclose(f), 0);
}

static void remove_store_dir(const char *dir, X509 *cert, const char *name)
{
	char path[128];

	if (name)
		snprintf(path, sizeof path, "%s/%s", dir, name);
	else
		snprintf(path, sizeof path, "%s/%08lx.0", dir, X509_subject_name_hash(cert));
	unlink(path);
	rmdir(dir);
}

/* The handshake result (0 or PP_EIO) of a client whose only trust is the system store,
 * with SSL_CERT_DIR=dir; *loaded: the certificates its store held before the handshake. */
static int handshake_with_cert_dir(const char *dir, int *loaded)
{
	struct srv s;
	char err[256] = "";
	const char *had_file = getenv("SSL_CERT_FILE"), *had_dir = getenv("SSL_CERT_DIR");
	char *file_copy = had_file ? strdup(had_file) : NULL;
	char *dir_copy = had_dir ? strdup(had_dir) : NULL;
	int rc;

	/* the test picks the store itself: SSL_CERT_FILE (set on some hosts) would win */
	unsetenv("SSL_CERT_FILE");
	assert_int_equal(setenv("SSL_CERT_DIR", dir, 1), 0);
	SSL_CTX *ctx = tlsmem_ctx_new(NULL, err, sizeof err);
	if (file_copy)
		setenv("SSL_CERT_FILE", file_copy, 1);
	if (dir_copy)
		setenv("SSL_CERT_DIR", dir_copy, 1);
	else
		unsetenv("SSL_CERT_DIR");
	free(file_copy);
	free(dir_copy);
	assert_non_null(ctx);
	*loaded = sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx)));
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(ctx, "localhost", true);
	rc = pump(c, &s, err, sizeof err);
	tlsmem_destroy(&c);
	srv_free(&s);
	SSL_CTX_free(ctx);
	return rc;
}

static void hashed_cert_dir_is_trusted_by_lookup(void **state)
{
	(void)state;
	char dir[64];
	int loaded = -1;

	make_store_dir(g.cert, NULL, dir, sizeof dir);
	assert_true(tlsmem_dir_is_hashed(dir));
	/* trusted only through the directory: nothing else in the system store signs it */
	assert_int_equal(handshake_with_cert_dir(dir, &loaded), 0);
	assert_int_equal(loaded, 0); /* nothing was parsed before a chain needed it */
	remove_store_dir(dir, g.cert, NULL);
}

static void unhashed_dir_falls_back_to_the_bundle(void **state)
{
	(void)state;
	char dir[64];
	int loaded = -1;

	make_store_dir(g.cert, "server.pem", dir, sizeof dir);
	assert_false(tlsmem_dir_is_hashed(dir));
	/* OpenSSL's defaults then: the system bundle, which does not hold this cert */
	assert_int_equal(handshake_with_cert_dir(dir, &loaded), PP_EIO);
	assert_true(loaded > 0); /* the bundle, parsed whole */
	remove_store_dir(dir, g.cert, "server.pem");
}

static void hashed_names_are_told_apart(void **state)
{
	(void)state;
	const char *names[] = {"5ad8a5d6.0", "5AD8A5D6.12", "5ad8a5d6.r0",
			       "5ad8a5d.0",  "README",	    "zzzzzzzz.0"};
	const bool want[] = {true, true, false, false, false, false};
	char dir[64];

	assert_false(tlsmem_dir_is_hashed("/nonexistent/test_tlsmem"));
	assert_false(tlsmem_dir_is_hashed(NULL));
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		make_store_dir(g.cert, names[i], dir, sizeof dir);
		if (tlsmem_dir_is_hashed(dir) != want[i])
			fail_msg("%s: hashed %d, wanted %d", names[i], !want[i], want[i]);
		remove_store_dir(dir, g.cert, names[i]);
	}
}

static void refused_session_stays_failed(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	char buf[64];
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_none, "localhost", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_int_equal(tlsmem_read(c, buf, sizeof buf, err, sizeof err), PP_EIO);
	assert_false(tlsmem_ready(c));
	assert_int_equal(tlsmem_write(c, "x", 1, err, sizeof err), PP_EIO);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void refused_cert_sends_an_alert(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	const unsigned char *p = NULL;
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_none, "localhost", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	size_t n = tlsmem_out(c, &p);
	assert_true(n >= 7);
	assert_int_equal(p[0], 0x15); /* an alert record */
	to_server(c, &s);
	srv_step(&s);
	assert_true(s.failed); /* the server learns the client gave up */
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void server_key_update_keeps_session_working(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	unsigned char got[16];
	struct tlsmem *c = connected(&s);

	assert_int_equal(SSL_key_update(s.ssl, SSL_KEY_UPDATE_REQUESTED), 1);
	assert_int_equal(SSL_write(s.ssl, "after", 5), 5);
	to_client(&s, c, 0);
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 5);
	assert_memory_equal(got, "after", 5);
	/* The client's own KeyUpdate goes out with its next write. */
	assert_int_equal(tlsmem_write(c, "again", 5, err, sizeof err), 0);
	to_server(c, &s);
	assert_int_equal(srv_read_all(&s, got, sizeof got), 5);
	assert_memory_equal(got, "again", 5);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void insecure_accepts_untrusted_cert(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	char got[16];
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_none, "localhost", false);
	assert_int_equal(pump(c, &s, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	assert_int_equal(SSL_write(s.ssl, "ok", 2), 2);
	to_client(&s, c, 0);
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 2);
	assert_memory_equal(got, "ok", 2);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void insecure_accepts_cert_from_another_ca(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_other, "localhost", false);
	assert_int_equal(pump(c, &s, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void insecure_accepts_host_mismatch(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_none, "example.invalid", false);
	assert_int_equal(pump(c, &s, err, sizeof err), 0);
	assert_true(tlsmem_ready(c));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void host_mismatch_is_refused(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	struct tlsmem *c = client_new(g.trust_cert, "example.invalid", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_false(tlsmem_ready(c));
	assert_non_null(strstr(err, "certificate"));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void server_close_notify_is_closed(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	char got[16];
	struct tlsmem *c = connected(&s);

	assert_int_equal(SSL_write(s.ssl, "bye", 3), 3);
	assert_true(SSL_shutdown(s.ssl) >= 0);
	to_client(&s, c, 0);
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 3);
	assert_memory_equal(got, "bye", 3);
	err[0] = '\0';
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), PP_ECLOSED);
	assert_true(err[0] != '\0');
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void garbage_instead_of_server_hello_fails(void **state)
{
	(void)state;
	static const char junk[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
	char err[256] = "";
	unsigned char buf[64];
	struct tlsmem *c = client_new(g.trust_none, "localhost", true);

	assert_int_equal(tlsmem_read(c, buf, 0, err, sizeof err), 0);
	tlsmem_out_sent(c);
	assert_int_equal(tlsmem_feed(c, junk, sizeof junk - 1), 0);
	err[0] = '\0';
	assert_int_equal(tlsmem_read(c, buf, sizeof buf, err, sizeof err), PP_EIO);
	assert_true(err[0] != '\0');
	assert_false(tlsmem_ready(c));
	/* Fed more after the failure: still a failure, not a crash. */
	unsigned char noise[512];
	for (size_t i = 0; i < sizeof noise; i++)
		noise[i] = (unsigned char)(i * 7u + 3u);
	assert_int_equal(tlsmem_feed(c, noise, sizeof noise), 0);
	assert_int_equal(tlsmem_read(c, buf, sizeof buf, err, sizeof err), PP_EIO);
	tlsmem_destroy(&c);
}

static void malformed_server_hello_fails(void **state)
{
	(void)state;
	char err[256] = "";
	unsigned char buf[64], rec[5 + 4 + 60] = {0x16, 0x03, 0x03, 0x00, 64, /* a record */
						  0x02, 0x00, 0x00, 60};      /* a ServerHello */
	uint32_t x = 12345;
	struct tlsmem *c = client_new(g.trust_none, "localhost", true);

	for (size_t i = 9; i < sizeof rec; i++) { /* a body of noise, the same every run */
		x = x * 1103515245u + 12345u;
		rec[i] = (unsigned char)(x >> 16);
	}
	assert_int_equal(tlsmem_read(c, buf, 0, err, sizeof err), 0);
	tlsmem_out_sent(c);
	assert_int_equal(tlsmem_feed(c, rec, sizeof rec), 0);
	err[0] = '\0';
	assert_int_equal(tlsmem_read(c, buf, sizeof buf, err, sizeof err), PP_EIO);
	assert_true(err[0] != '\0');
	assert_false(tlsmem_ready(c));
	tlsmem_destroy(&c);
}

static void write_before_handshake_fails(void **state)
{
	(void)state;
	char err[256] = "";
	unsigned char buf[16];
	struct tlsmem *c = client_new(g.trust_none, "localhost", true);
	const unsigned char *p = NULL;

	assert_int_equal(tlsmem_write(c, "early", 5, err, sizeof err), PP_EIO);
	assert_true(err[0] != '\0');
	assert_int_equal(tlsmem_out(c, &p), 0); /* nothing was queued */
	/* Nor in the middle of the handshake. */
	assert_int_equal(tlsmem_read(c, buf, 0, err, sizeof err), 0);
	err[0] = '\0';
	assert_int_equal(tlsmem_write(c, "early", 5, err, sizeof err), PP_EIO);
	assert_true(err[0] != '\0');
	tlsmem_destroy(&c);
}

static void missing_ca_file_fails_naming_the_option(void **state)
{
	(void)state;
	char err[256] = "";
	SSL_CTX *ctx = tlsmem_ctx_new("/nonexistent/test_tlsmem/ca.pem", err, sizeof err);
	assert_null(ctx);
	assert_non_null(strstr(err, "--ca-file"));
}

static void empty_ca_file_means_system_store_only(void **state)
{
	(void)state;
	char err[256] = "";
	SSL_CTX *ctx = tlsmem_ctx_new("", err, sizeof err);
	assert_non_null(ctx);
	SSL_CTX_free(ctx);
}

static void client_hello_is_in_out_until_sent(void **state)
{
	(void)state;
	char err[256] = "";
	unsigned char buf[1];
	const unsigned char *p = NULL;
	struct tlsmem *c = client_new(g.trust_none, "localhost", true);

	assert_int_equal(tlsmem_out(c, &p), 0); /* nothing before the first read */
	assert_int_equal(tlsmem_read(c, buf, 0, err, sizeof err), 0);
	size_t n = tlsmem_out(c, &p);
	assert_true(n > 5);
	assert_non_null(p);
	assert_int_equal(p[0], 0x16); /* a handshake record */
	assert_int_equal(p[1], 0x03);
	assert_int_equal(p[5], 0x01);		/* ClientHello */
	assert_int_equal(tlsmem_out(c, &p), n); /* looking does not consume */
	tlsmem_out_sent(c);
	assert_int_equal(tlsmem_out(c, &p), 0);
	/* Nothing new until the server answers. */
	assert_int_equal(tlsmem_read(c, buf, 0, err, sizeof err), 0);
	assert_int_equal(tlsmem_out(c, &p), 0);
	tlsmem_destroy(&c);
}

static void server_sees_alpn_and_sni(void **state)
{
	(void)state;
	struct srv s;
	struct tlsmem *c = connected(&s);

	assert_true(s.alpn_seen);
	assert_int_equal(s.alpn_len, 9);
	assert_memory_equal(s.alpn, "\x08http/1.1", 9);
	const char *sni = SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name);
	assert_non_null(sni);
	assert_string_equal(sni, "localhost");
	const unsigned char *proto = NULL;
	unsigned int plen = 0;
	SSL_get0_alpn_selected(s.ssl, &proto, &plen);
	assert_int_equal(plen, 8);
	assert_memory_equal(proto, "http/1.1", 8);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void tls_1_2_server_is_accepted(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	char got[16];
	srv_init(&s, g.cert);
	assert_int_equal(SSL_set_max_proto_version(s.ssl, TLS1_2_VERSION), 1);
	struct tlsmem *c = client_new(g.trust_cert, "localhost", true);
	assert_int_equal(pump(c, &s, err, sizeof err), 0);
	assert_int_equal(SSL_version(s.ssl), TLS1_2_VERSION);
	assert_int_equal(SSL_write(s.ssl, "v12", 3), 3);
	to_client(&s, c, 0);
	assert_int_equal(tlsmem_read(c, got, sizeof got, err, sizeof err), 3);
	assert_memory_equal(got, "v12", 3);
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void tls_1_1_server_is_refused(void **state)
{
	(void)state;
	struct srv s;
	char err[256] = "";
	srv_init(&s, g.cert);
	SSL_set_security_level(s.ssl, 0);
	assert_int_equal(SSL_set_min_proto_version(s.ssl, TLS1_VERSION), 1);
	assert_int_equal(SSL_set_max_proto_version(s.ssl, TLS1_1_VERSION), 1);
	struct tlsmem *c = client_new(g.trust_cert, "localhost", true);
	assert_int_equal(pump(c, &s, err, sizeof err), PP_EIO);
	assert_false(tlsmem_ready(c));
	tlsmem_destroy(&c);
	srv_free(&s);
}

static void destroy_null_is_harmless(void **state)
{
	(void)state;
	struct tlsmem *c = NULL;
	tlsmem_destroy(&c);
	tlsmem_destroy(NULL);
	assert_null(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(handshake_with_trusted_cert_makes_session_ready),
	    cmocka_unit_test(session_outlives_its_ctx),
	    cmocka_unit_test(handshake_survives_one_byte_at_a_time),
	    cmocka_unit_test(client_write_reaches_server),
	    cmocka_unit_test(server_write_reaches_client),
	    cmocka_unit_test(read_with_nothing_fed_returns_zero),
	    cmocka_unit_test(large_server_payload_is_read_in_pieces),
	    cmocka_unit_test(large_client_payload_reaches_server),
	    cmocka_unit_test(ip_host_is_accepted_with_ip_san),
	    cmocka_unit_test(trailing_dot_is_dropped_for_sni_and_the_name_check),
	    cmocka_unit_test(overlong_host_is_refused),
	    cmocka_unit_test(ip_host_is_refused_without_ip_san),
	    cmocka_unit_test(ip_host_is_not_matched_as_dns_name),
	    cmocka_unit_test(ipv6_host_is_refused_when_cert_lacks_it),
	    cmocka_unit_test(untrusted_cert_without_ca_file_is_refused),
	    cmocka_unit_test(cert_from_another_ca_is_refused),
	    cmocka_unit_test(hashed_cert_dir_is_trusted_by_lookup),
	    cmocka_unit_test(unhashed_dir_falls_back_to_the_bundle),
	    cmocka_unit_test(hashed_names_are_told_apart),
	    cmocka_unit_test(refused_session_stays_failed),
	    cmocka_unit_test(refused_cert_sends_an_alert),
	    cmocka_unit_test(insecure_accepts_untrusted_cert),
	    cmocka_unit_test(insecure_accepts_cert_from_another_ca),
	    cmocka_unit_test(insecure_accepts_host_mismatch),
	    cmocka_unit_test(host_mismatch_is_refused),
	    cmocka_unit_test(server_close_notify_is_closed),
	    cmocka_unit_test(server_key_update_keeps_session_working),
	    cmocka_unit_test(garbage_instead_of_server_hello_fails),
	    cmocka_unit_test(malformed_server_hello_fails),
	    cmocka_unit_test(write_before_handshake_fails),
	    cmocka_unit_test(missing_ca_file_fails_naming_the_option),
	    cmocka_unit_test(empty_ca_file_means_system_store_only),
	    cmocka_unit_test(client_hello_is_in_out_until_sent),
	    cmocka_unit_test(server_sees_alpn_and_sni),
	    cmocka_unit_test(tls_1_2_server_is_accepted),
	    cmocka_unit_test(tls_1_1_server_is_refused),
	    cmocka_unit_test(destroy_null_is_harmless),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
