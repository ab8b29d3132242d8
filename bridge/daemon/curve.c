/* curve.c: CurveZMQ for remote subscribers and command clients.
 *
 * Owns the server's key pair (read from a private file; the public key derived with
 * zmq_curve_public), the allow-list of client public keys, and the ZAP handler: a REP
 * socket on "inproc://zeromq.zap.01" that libzmq asks, during each handshake on a socket
 * of the same context, whether the peer may connect (ZeroMQ RFC 27/ZAP). Requests are
 * answered from the lws loop, so libzmq holds the handshake until the reply arrives.
 *
 * Why ZAP rather than trusting CURVE alone: a CURVE server accepts any client that knows
 * its public key; the allow-list is what makes a stolen or published server key harmless. */
#include "curve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "fdwatch.h"
#include "log.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN   "plurum-pulse"
#define ZAP_FRAMES   7		/* version, request id, domain, address, identity, mechanism, key */
#define ZAP_BATCH    64		/* requests answered per loop turn */
#define FILE_MAX     (1u << 20) /* an allow-list of some thousand keys fits easily */
#define LABEL_MAX    64

struct client_key {
	unsigned char key[32];
	char label[LABEL_MAX + 1]; /* the ZAP user id: the label, else the Z85 key */
};

struct curve {
	void *zap;	       /* REP socket (owned) */
	struct fdwatch *watch; /* owned */
	char secret[CURVE_Z85_LEN + 1];
	char public_key[CURVE_Z85_LEN + 1];
	char clients_file[1024];
	struct client_key *keys; /* owned array */
	size_t nkeys;
	char last_denied[160]; /* key and address of the last refusal: one warning, not a flood */
};

/* ---- files ----------------------------------------------------------------------- */

/* Read the whole (small, regular) file at path into a malloc'd NUL-terminated buffer the
 * caller frees. deny is the mode bits that make the file unsafe to trust. */
static char *s_read_file(const char *path, const char *what, mode_t deny, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		snprintf(err, errlen, "%s %s: cannot open: %s", what, path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)FILE_MAX) {
		snprintf(err, errlen, "%s %s: not a regular file of at most %u bytes", what, path,
			 FILE_MAX);
		goto fail;
	}
	if (st.st_mode & deny) {
		snprintf(
		    err, errlen, "%s %s: %s by group or others (mode %04o); run chmod %s on it",
		    what, path, (deny & (S_IRGRP | S_IROTH)) ? "accessible" : "writable",
		    (unsigned)(st.st_mode & 07777), (deny & (S_IRGRP | S_IROTH)) ? "600" : "go-w");
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "%s %s: out of memory", what, path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* an error, or the file shrank under us */
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static bool s_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* True when [s, s+len) is a Z85 key; its 32 bytes go to out (may be NULL). */
static bool s_z85_key(const char *s, size_t len, unsigned char out[32])
{
	char text[CURVE_Z85_LEN + 1];
	unsigned char bin[32];

	if (len != CURVE_Z85_LEN)
		return false;
	memcpy(text, s, len);
	text[len] = '\0';
	if (!zmq_z85_decode(bin, text))
		return false;
	if (out)
		memcpy(out, bin, sizeof(bin));
	return true;
}

/* The secret key file: one Z85 key, white space around it ignored. */
static int s_load_secret(struct curve *cv, const char *path, char *err, size_t errlen)
{
	int rc = -1;
	char *text = s_read_file(path, "--curve-secret-file", S_IRWXG | S_IRWXO, err, errlen);
	char *p, *end;

	if (!text)
		return -1;
	p = text;
	end = text + strlen(text);
	while (p < end && s_space(*p))
		p++;
	while (end > p && s_space(end[-1]))
		end--;
	if (!s_z85_key(p, (size_t)(end - p), NULL)) {
		snprintf(err, errlen,
			 "--curve-secret-file %s: not one Z85 key of %d characters (make one "
			 "with plurum-pulse-keygen)",
			 path, CURVE_Z85_LEN);
		goto out;
	}
	memcpy(cv->secret, p, CURVE_Z85_LEN);
	cv->secret[CURVE_Z85_LEN] = '\0';
	if (zmq_curve_public(cv->public_key, cv->secret) != 0) {
		snprintf(err, errlen, "--curve-secret-file %s: cannot derive the public key: %s",
			 path, zmq_strerror(errno));
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(text, strlen(text));
	free(text);
	return rc;
}

/* One line of the allow-list into *k. Returns 1 a key, 0 nothing (blank or comment),
 * -1 not a key. */
static int s_parse_line(char *line, struct client_key *k)
{
	char *tok = line, *tok_end, *label;
	size_t llen;

	while (s_space(*tok))
		tok++;
	tok_end = tok;
	while (*tok_end && !s_space(*tok_end))
		tok_end++;
	if (tok == tok_end)
		return 0;
	/* '#' is a Z85 character: a key may start with it, so a comment is a '#' line that
	 * is not a key ("# KEY" or "#KEY" comment a key out). */
	if (!s_z85_key(tok, (size_t)(tok_end - tok), k->key))
		return *tok == '#' ? 0 : -1;
	label = tok_end;
	while (s_space(*label))
		label++;
	llen = 0;
	while (label[llen] && !s_space(label[llen]) && llen < LABEL_MAX)
		llen++;
	if (llen > 0 && label[0] != '#')
		snprintf(k->label, sizeof(k->label), "%.*s", (int)llen, label);
	else
		snprintf(k->label, sizeof(k->label), "%.*s", CURVE_Z85_LEN, tok);
	return 1;
}

/* Parse text (modified) into a new array. Returns 0 or -1 with err. */
static int s_parse_list(char *text, const char *path, struct client_key **out, size_t *n, char *err,
			size_t errlen)
{
	size_t cap = 0, count = 0;
	unsigned lineno = 0;
	struct client_key *keys = NULL;

	for (char *line = text, *next; line; line = next) {
		struct client_key k = {0};
		int rc;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		rc = s_parse_line(line, &k);
		if (rc == 0)
			continue;
		if (rc < 0) {
			snprintf(err, errlen,
				 "--curve-clients %s:%u: not a Z85 public key of %d characters",
				 path, lineno, CURVE_Z85_LEN);
			goto fail;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct client_key *nk = realloc(keys, ncap * sizeof(*nk));
			if (!nk) {
				snprintf(err, errlen, "--curve-clients %s: out of memory", path);
				goto fail;
			}
			keys = nk;
			cap = ncap;
		}
		keys[count++] = k;
	}
	*out = keys;
	*n = count;
	return 0;
fail:
	free(keys);
	return -1;
}

int curve_reload(struct curve *cv, char *err, size_t errlen)
{
	/* public keys are not secret, but a list others can write lets them in */
	char *text =
	    s_read_file(cv->clients_file, "--curve-clients", S_IWGRP | S_IWOTH, err, errlen);
	struct client_key *keys = NULL;
	size_t n = 0;
	int rc;

	if (!text)
		return -1;
	rc = s_parse_list(text, cv->clients_file, &keys, &n, err, errlen);
	free(text);
	if (rc != 0)
		return -1;
	free(cv->keys);
	cv->keys = keys;
	cv->nkeys = n;
	cv->last_denied[0] = '\0';
	if (n == 0)
		log_warn("--curve-clients %s: no keys: no remote client can connect",
			 cv->clients_file);
	return 0;
}

size_t curve_clients(const struct curve *cv)
{
	return cv->nkeys;
}

const char *curve_public_key(const struct curve *cv)
{
	return cv->public_key;
}

/* ---- the ZAP handler (RFC 27) ------------------------------------------------------ */

static const struct client_key *s_find(const struct curve *cv, const unsigned char *key)
{
	for (size_t i = 0; i < cv->nkeys; i++)
		if (memcmp(cv->keys[i].key, key, 32) == 0)
			return &cv->keys[i];
	return NULL;
}

static bool s_frame_is(zmq_msg_t *m, const char *s)
{
	size_t n = strlen(s);

	return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* A frame's length for "%.*s", bounded: an address is short, but it is the peer's text. */
static int s_clip(zmq_msg_t *m)
{
	size_t n = zmq_msg_size(m);

	return (int)(n < 64 ? n : 64);
}

/* Warn once per (key, address): a refused client reconnects every few hundred ms. */
static void s_log_denied(struct curve *cv, const unsigned char key[32], zmq_msg_t *address)
{
	char z85[CURVE_Z85_LEN + 1], line[sizeof(cv->last_denied)];

	if (!zmq_z85_encode(z85, key, 32))
		snprintf(z85, sizeof(z85), "?");
	snprintf(line, sizeof(line), "%s from %.*s", z85, s_clip(address),
		 (const char *)zmq_msg_data(address));
	if (strcmp(line, cv->last_denied) == 0) {
		log_debug("curve: refused client key %s (again)", line);
		return;
	}
	snprintf(cv->last_denied, sizeof(cv->last_denied), "%s", line);
	log_warn("curve: refused client key %s: not in --curve-clients %s", line, cv->clients_file);
}

/* Decide one request: status code, text and user id. f holds n frames. */
static const char *s_decide(struct curve *cv, zmq_msg_t *f, size_t n, const char **text,
			    const char **user)
{
	const struct client_key *k;

	*user = "";
	if (n != ZAP_FRAMES && !(n == ZAP_FRAMES - 1 && s_frame_is(&f[5], "NULL"))) {
		*text = "malformed ZAP request";
		return "500";
	}
	if (!s_frame_is(&f[0], "1.0")) {
		*text = "unsupported ZAP version";
		return "500";
	}
	if (s_frame_is(&f[5], "NULL")) {
		/* only sockets without CURVE use NULL (ipc://): the file system guards them */
		*text = "OK";
		return "200";
	}
	if (!s_frame_is(&f[5], "CURVE") || zmq_msg_size(&f[6]) != 32) {
		*text = "mechanism not allowed";
		return "400";
	}
	k = s_find(cv, zmq_msg_data(&f[6]));
	if (!k) {
		s_log_denied(cv, zmq_msg_data(&f[6]), &f[3]);
		*text = "client key not allowed";
		return "400";
	}
	log_debug("curve: client %s allowed from %.*s", k->label, s_clip(&f[3]),
		  (const char *)zmq_msg_data(&f[3]));
	*user = k->label;
	*text = "OK";
	return "200";
}

static int s_send_str(void *sock, const char *s, int more)
{
	return zmq_send(sock, s, strlen(s), (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
}

/* Answer one request whose frames are in f (n read). A REP socket must reply before it
 * can read the next request, so even a malformed request gets an answer. */
static void s_answer(struct curve *cv, zmq_msg_t *f, size_t n)
{
	const char *text, *user;
	const char *status = s_decide(cv, f, n, &text, &user);
	const void *id = n >= 2 ? zmq_msg_data(&f[1]) : "";
	size_t idlen = n >= 2 ? zmq_msg_size(&f[1]) : 0;

	if (s_send_str(cv->zap, "1.0", 1) < 0 ||
	    zmq_send(cv->zap, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    s_send_str(cv->zap, status, 1) < 0 || s_send_str(cv->zap, text, 1) < 0 ||
	    s_send_str(cv->zap, user, 1) < 0 || s_send_str(cv->zap, "", 0) < 0)
		log_warn("curve: cannot answer a ZAP request: %s", zmq_strerror(errno));
}

/* Read one whole request (at most ZAP_FRAMES kept; extra frames read and dropped).
 * Returns the number of frames, or -1 when nothing was waiting. */
static int s_recv_request(void *sock, zmq_msg_t *f)
{
	int more = 1, n = 0;
	size_t sz = sizeof(more);

	while (more) {
		zmq_msg_t scratch, *m = n < ZAP_FRAMES ? &f[n] : &scratch;

		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(m);
			return n == 0 ? -1 : n; /* cannot happen mid-message: parts come together */
		}
		if (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) != 0)
			more = 0;
		if (m == &scratch)
			zmq_msg_close(m);
		n++;
	}
	return n;
}

/* Answer up to ZAP_BATCH requests. ZMQ_FD is edge-triggered: ZMQ_EVENTS is re-checked
 * before each read (and so after each reply). Returns true when requests may remain. */
static bool s_drain(struct curve *cv)
{
	for (int i = 0; i < ZAP_BATCH; i++) {
		zmq_msg_t f[ZAP_FRAMES];
		int ev = 0, n;
		size_t sz = sizeof(ev);

		if (zmq_getsockopt(cv->zap, ZMQ_EVENTS, &ev, &sz) != 0 || !(ev & ZMQ_POLLIN))
			return false;
		n = s_recv_request(cv->zap, f);
		if (n < 0)
			return false;
		s_answer(cv, f, (size_t)(n < ZAP_FRAMES ? n : ZAP_FRAMES));
		for (int j = 0; j < n && j < ZAP_FRAMES; j++)
			zmq_msg_close(&f[j]);
	}
	return true;
}

static void s_on_fd(void *ud)
{
	struct curve *cv = ud;

	if (s_drain(cv))
		fdwatch_kick(cv->watch); /* more than one batch: continue next turn */
}

/* ---- life cycle ------------------------------------------------------------------ */

static int s_open_handler(struct curve *cv, void *zctx, struct lws_context *lws,
			  struct lws_vhost *vh, char *err, size_t errlen)
{
	int linger = 0, fd = -1;
	size_t sz = sizeof(fd);

	cv->zap = zmq_socket(zctx, ZMQ_REP);
	if (!cv->zap) {
		snprintf(err, errlen, "curve: ZAP socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(cv->zap, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(cv->zap, ZAP_ENDPOINT) != 0) {
		snprintf(err, errlen, "curve: cannot bind the ZAP handler: %s",
			 zmq_strerror(errno));
		return -1;
	}
	if (zmq_getsockopt(cv->zap, ZMQ_FD, &fd, &sz) != 0) {
		snprintf(err, errlen, "curve: ZMQ_FD: %s", zmq_strerror(errno));
		return -1;
	}
	cv->watch = fdwatch_new(lws, vh, fd, s_on_fd, cv, err, errlen);
	return cv->watch ? 0 : -1;
}

struct curve *curve_new(void *zctx, struct lws_context *lws, struct lws_vhost *vh,
			const char *secret_file, const char *clients_file, char *err, size_t errlen)
{
	struct curve *cv = calloc(1, sizeof(*cv));

	if (!cv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!zmq_has("curve")) {
		snprintf(err, errlen,
			 "--curve-secret-file: this libzmq was built without CURVE support");
		goto fail;
	}
	if ((size_t)snprintf(cv->clients_file, sizeof(cv->clients_file), "%s", clients_file) >=
	    sizeof(cv->clients_file)) {
		snprintf(err, errlen, "--curve-clients: the path is too long");
		goto fail;
	}
	if (s_load_secret(cv, secret_file, err, errlen) != 0 ||
	    curve_reload(cv, err, errlen) != 0 ||
	    s_open_handler(cv, zctx, lws, vh, err, errlen) != 0)
		goto fail;
	log_info("curve: on for tcp:// endpoints; server public key %s; %zu client key%s "
		 "allowed (%s)",
		 cv->public_key, cv->nkeys, cv->nkeys == 1 ? "" : "s", cv->clients_file);
	return cv;
fail:
	curve_destroy(&cv);
	return NULL;
}

void curve_destroy(struct curve **self_p)
{
	struct curve *cv;

	if (!self_p || !*self_p)
		return;
	cv = *self_p;
	fdwatch_destroy(&cv->watch);
	if (cv->zap)
		zmq_close(cv->zap);
	explicit_bzero(cv->secret, sizeof(cv->secret));
	free(cv->keys);
	free(cv);
	*self_p = NULL;
}

/* ---- binding ------------------------------------------------------------------------ */

static int s_make_server(const struct curve *cv, void *sock, const char *setting, char *err,
			 size_t errlen)
{
	int one = 1;

	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, cv->secret, CURVE_Z85_LEN) != 0 ||
	    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) != 0) {
		snprintf(err, errlen, "%s: cannot turn CurveZMQ on: %s", setting,
			 zmq_strerror(errno));
		return -1;
	}
	return 0;
}

int curve_bind(const struct curve *cv, void *sock, const char *endpoint, const char *setting,
	       char *err, size_t errlen)
{
	bool secure = cv && strncmp(endpoint, "tcp://", 6) == 0;
	char bound[256] = "";
	size_t sz = sizeof(bound);

	if (secure && s_make_server(cv, sock, setting, err, errlen) != 0)
		return -1;
	if (zmq_bind(sock, endpoint) != 0) {
		snprintf(err, errlen, "%s %s: cannot bind: %s", setting, endpoint,
			 zmq_strerror(errno));
		return -1;
	}
	if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &sz) != 0)
		snprintf(bound, sizeof(bound), "%s", endpoint);
	log_info("%s: bound on %s%s", setting, bound, secure ? " (CurveZMQ)" : "");
	return 0;
}
