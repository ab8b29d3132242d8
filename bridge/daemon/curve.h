/* curve.h: CurveZMQ on the daemon's tcp:// sockets: the server's key pair, the allow-list of
 * client public keys, and the ZAP handler (ZeroMQ RFC 27) that enforces the list.
 *
 * Order matters: libzmq lets every CURVE client in when no ZAP handler is bound in the
 * socket's context at handshake time, so curve_new() (which binds the handler) must run
 * before the PUB and ROUTER sockets bind, and curve_destroy() after they stop serving. */
#ifndef PP_CURVE_H
#define PP_CURVE_H

#include <libwebsockets.h>
#include <stddef.h>

#define CURVE_Z85_LEN 40 /* a 32-byte key in Z85 text */

struct curve;

/* Read the server's secret key from secret_file (one Z85 key, white space around it
 * ignored; refused when group or others can access the file), derive its public key, load
 * the allow-list from clients_file (see curve_reload), and bind the ZAP handler on
 * "inproc://zeromq.zap.01" in zctx, watched from the lws loop (lws, vh).
 * Returns NULL with one line in err naming the setting and file. */
struct curve *curve_new(void *zctx, struct lws_context *lws, struct lws_vhost *vh,
			const char *secret_file, const char *clients_file, char *err,
			size_t errlen);

/* Close the handler socket and its watch (before the lws context is destroyed), wipe the
 * secret, free, and set *self_p to NULL. Safe on NULL. */
void curve_destroy(struct curve **self_p);

/* Re-read the allow-list file: one Z85 public key a line, optionally followed by white
 * space and a label (the ZAP user id, else the key); empty lines and lines starting with
 * '#' that are not a key are ignored. A file others can write is refused (they could add
 * their own key). On failure the current list is kept.
 * Returns 0, or -1 with one line in err naming the file and the line. */
int curve_reload(struct curve *cv, char *err, size_t errlen);

/* Number of keys in the allow-list. */
size_t curve_clients(const struct curve *cv);

/* The server's public key as Z85 text (what clients need). */
const char *curve_public_key(const struct curve *cv);

/* Bind sock on endpoint. When cv is not NULL and endpoint is tcp://, the socket is first
 * made a CURVE server with the server's secret key and the ZAP domain (ipc:// stays
 * protected by the file system). Logs the endpoint actually bound (ZMQ_LAST_ENDPOINT:
 * "tcp://0.0.0.0:*" shows its port). setting names the option in err ("--events").
 * Returns 0, or -1 with one line in err. */
int curve_bind(const struct curve *cv, void *sock, const char *endpoint, const char *setting,
	       char *err, size_t errlen);

#endif
