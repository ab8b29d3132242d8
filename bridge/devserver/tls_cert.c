/*
 * tls_cert.c: the self-signed certificate of the TLS listener (OpenSSL 3 API).
 *
 * Owns: cert.pem / key.pem in the cert dir. An EC P-256 key; subject CN=localhost; SAN
 * DNS:localhost and IP:127.0.0.1; CA:TRUE so a client can use cert.pem itself as its CA file.
 * Files already in the dir are kept: a restarted devserver (same --cert-dir) presents the
 * same certificate, so clients holding the old cert.pem still verify it.
 */
#include "devserver.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int s_add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* Builds a self-signed certificate for key. NULL on failure. Caller frees. */
static X509 *s_make_cert(EVP_PKEY *key)
{
	X509 *cert = X509_new();
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;

	if (!cert || !X509_set_version(cert, 2) || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* a positive serial */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)))
		goto fail;
	if (!X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600) ||
	    !X509_set_pubkey(cert, key))
		goto fail;
	name = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)"localhost", -1, -1, 0) ||
	    !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					(const unsigned char *)"plurum-pulse-devserver", -1, -1,
					0) ||
	    !X509_set_issuer_name(cert, name))
		goto fail;
	if (s_add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") ||
	    s_add_ext(cert, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
	    s_add_ext(cert, NID_ext_key_usage, "serverAuth") ||
	    s_add_ext(cert, NID_subject_key_identifier, "hash") ||
	    s_add_ext(cert, NID_authority_key_identifier, "keyid:always") ||
	    s_add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"))
		goto fail;
	if (!X509_sign(cert, key, EVP_sha256()))
		goto fail;
	BN_free(bn);
	return cert;
fail:
	BN_free(bn);
	X509_free(cert);
	return NULL;
}

/* Writes with PEM writer into path created with mode. Returns 0 or -1. */
static int s_write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	FILE *f;
	int ok;

	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	ok =
	    key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

int tls_cert_ensure(const char *dir, char *cert_path, char *key_path, size_t pathlen, char *err,
		    size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = -1;

	snprintf(cert_path, pathlen, "%s/cert.pem", dir);
	snprintf(key_path, pathlen, "%s/key.pem", dir);
	if (!access(cert_path, R_OK) && !access(key_path, R_OK))
		return 0;
	key = EVP_EC_gen("P-256");
	if (!key) {
		snprintf(err, errlen, "cannot generate a P-256 key");
		goto out;
	}
	cert = s_make_cert(key);
	if (!cert) {
		snprintf(err, errlen, "cannot build the self-signed certificate");
		goto out;
	}
	if (s_write_pem(key_path, 0600, key, NULL) || s_write_pem(cert_path, 0644, NULL, cert)) {
		snprintf(err, errlen, "cannot write %s or %s", key_path, cert_path);
		goto out;
	}
	rc = 0;
out:
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}
