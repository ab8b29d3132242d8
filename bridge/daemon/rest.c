/* rest.c: the asynchronous client for the upstream REST API.
 *
 * Owns the HTTP requests the daemon makes to the Plurum REST API (contribute, inbox): one
 * libwebsockets client connection per request, at most max_inflight of them at once, the
 * rest queued in order. Each request has one timer (timers.h) for its whole life (queue time
 * included) and is answered exactly once. A request is linked to its connection through
 * the wsi's opaque user data; finishing a request clears that link first, so whatever lws
 * reports later about the connection (CLOSED after COMPLETED, a kill after a timeout)
 * finds nothing to answer.
 *
 * The key is read through the daemon's pointer for each request (a SIGHUP re-read takes
 * effect at once) and only ever written into the Authorization header. */
#include "rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlist.h"
#include "strutil.h"
#include "timers.h"

#define REST_TIMEOUT_DEFAULT_MS 30000
#define REST_CHUNK		16384 /* body bytes written per writable callback */

struct rest_req {
	struct rest_client *rc;
	struct dlist_node link; /* in rc->queue or rc->wire */
	struct timer deadline;	/* the request's */
	struct lws *wsi;	/* while on the wire (may be NULL while connecting) */
	enum { REQ_NOWHERE, REQ_QUEUED, REQ_ON_WIRE } where;
	char *method; /* owned */
	char *path;   /* owned: base prefix + path_and_query */
	char *body;   /* owned, may be NULL */
	size_t body_len, body_sent;
	rest_done_fn done;
	void *ud;
	/* the answer, filled as it arrives */
	int status;
	long long retry_after_ms;
	long long content_length; /* -1 when the server gave none */
	char *resp;		  /* owned, NUL-terminated */
	size_t resp_len, resp_cap;
	bool headers_sent; /* the request may have reached the server */
	bool connecting;   /* inside lws_client_connect_via_info: defer finishing */
	bool finished;	   /* failed while connecting: s_start answers */
	const char *error; /* static text of a deferred failure */
};

struct rest_client {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct timers *timers;
	const char *const *key;
	char *address; /* owned */
	char *host;    /* owned: Host header, "h" or "h:port" */
	char *prefix;  /* owned: base path without trailing '/', "" or "/api/v1" */
	int port;
	bool tls, insecure;
	uint32_t max_inflight;
	struct dlist queue, wire;
	lws_sorted_usec_list_t pump; /* starts queued requests from the loop */
	bool pump_armed;
};

/* ---- finishing ------------------------------------------------------------------------ */

static void s_req_free(struct rest_req *r)
{
	free(r->method);
	free(r->path);
	free(r->body);
	free(r->resp);
	free(r);
}

static void s_schedule_pump(struct rest_client *rc);

/* Answer r (network failure when error != NULL, else the HTTP answer), unlink it from
 * its list and its connection, free it. The caller must not touch r afterwards. */
static void s_finish(struct rest_req *r, const char *error)
{
	struct rest_client *rc = r->rc;
	struct rest_response resp;

	if (r->wsi != NULL)
		lws_set_opaque_user_data(r->wsi, NULL); /* later callbacks find nothing */
	if (r->connecting) {
		/* lws called back from inside lws_client_connect_via_info: answer once the
		 * call has returned (s_start), never under its feet */
		r->finished = true;
		r->error = error != NULL ? error : "connection failed";
		return;
	}
	timer_stop(&r->deadline);
	if (r->where == REQ_ON_WIRE)
		dlist_remove(&rc->wire, &r->link);
	else if (r->where == REQ_QUEUED)
		dlist_remove(&rc->queue, &r->link);
	r->where = REQ_NOWHERE;
	r->wsi = NULL;
	memset(&resp, 0, sizeof resp);
	resp.status = error != NULL ? 0 : r->status;
	resp.body = r->resp != NULL && error == NULL ? r->resp : "";
	resp.len = error == NULL ? r->resp_len : 0;
	resp.retry_after_ms = error == NULL ? r->retry_after_ms : -1;
	resp.error = error;
	resp.maybe_sent = error != NULL && r->headers_sent;
	r->done(&resp, r->ud);
	s_req_free(r);
	s_schedule_pump(rc); /* a place on the wire may be free */
}

/* Finish r and close its connection (from outside the connection's own callback). */
static void s_abort(struct rest_req *r, const char *error)
{
	struct lws *wsi = r->wsi;
	s_finish(r, error);
	if (wsi != NULL)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void s_timeout_cb(struct timer *t)
{
	struct rest_req *r = lws_container_of(t, struct rest_req, deadline);
	s_abort(r, "timed out");
}

/* ---- starting ------------------------------------------------------------------------- */

/* Start r on a new connection; on an immediate failure r is answered (and freed). */
static void s_start(struct rest_client *rc, struct rest_req *r)
{
	struct lws_client_connect_info i;
	struct lws *wsi;

	memset(&i, 0, sizeof i);
	i.context = rc->ctx;
	i.vhost = rc->vh;
	i.address = rc->address;
	i.port = rc->port;
	i.host = rc->host;
	i.origin = NULL; /* a native client sends no Origin */
	i.path = r->path;
	i.method = r->method;
	i.protocol = rest_protocol.name;
	i.local_protocol_name = rest_protocol.name;
	i.alpn = "http/1.1";
	i.opaque_user_data = r;
	i.pwsi = &r->wsi;
	/* a redirect would carry the Authorization header elsewhere: refuse to follow */
	i.ssl_connection = LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	if (rc->tls)
		i.ssl_connection |= LCCSCF_USE_SSL;
	if (rc->tls && rc->insecure)
		i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED |
				    LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_EXPIRED;

	dlist_push_back(&rc->wire, &r->link);
	r->where = REQ_ON_WIRE;
	r->connecting = true;
	wsi = lws_client_connect_via_info(&i);
	r->connecting = false;
	if (wsi == NULL || r->finished) {
		/* failed inside the call: a NULL return means lws already freed the wsi */
		r->wsi = NULL;
		if (wsi != NULL) {
			lws_set_opaque_user_data(wsi, NULL);
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		}
		s_finish(r, r->finished ? r->error : "cannot start the connection");
		return;
	}
	r->wsi = wsi;
}

static void s_pump_cb(lws_sorted_usec_list_t *sul)
{
	struct rest_client *rc = lws_container_of(sul, struct rest_client, pump);
	struct rest_req *r;

	rc->pump_armed = false;
	while (rc->wire.count < rc->max_inflight &&
	       (r = dlist_first(&rc->queue, struct rest_req, link)) != NULL) {
		dlist_remove(&rc->queue, &r->link);
		s_start(rc, r);
	}
}

/* Run the pump from the loop soon (never inside rest_request or a done callback). */
static void s_schedule_pump(struct rest_client *rc)
{
	if (rc->pump_armed || rc->queue.head == NULL || rc->wire.count >= rc->max_inflight)
		return;
	rc->pump_armed = true;
	lws_sul_schedule(rc->ctx, 0, &rc->pump, s_pump_cb, 1);
}

/* ---- the protocol callback ------------------------------------------------------------ */

static int s_append_headers(struct lws *wsi, struct rest_req *r, unsigned char **p,
			    unsigned char *end)
{
	const char *key = *r->rc->key;
	char auth[600], clen[24];
	int n;

	if (key != NULL && key[0] != '\0') {
		n = snprintf(auth, sizeof auth, "Bearer %s", key);
		if (n < 0 || (size_t)n >= sizeof auth)
			return -1;
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
						 (unsigned char *)auth, n, p, end))
			return -1;
		memset(auth, 0, sizeof auth); /* do not leave the key on the stack */
	}
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ACCEPT,
					 (const unsigned char *)"application/json", 16, p, end))
		return -1;
	if (r->body == NULL)
		return 0;
	n = snprintf(clen, sizeof clen, "%zu", r->body_len);
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
					 (const unsigned char *)"application/json", 16, p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (unsigned char *)clen,
					 n, p, end))
		return -1;
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

static int s_write_body(struct lws *wsi, struct rest_req *r)
{
	unsigned char buf[LWS_PRE + REST_CHUNK];
	size_t n = r->body_len - r->body_sent;
	enum lws_write_protocol wp = LWS_WRITE_HTTP;

	if (r->body == NULL || lws_http_is_redirected_to_get(wsi))
		return 0;
	if (n > REST_CHUNK)
		n = REST_CHUNK;
	if (r->body_sent + n == r->body_len) {
		wp = LWS_WRITE_HTTP_FINAL;
		lws_client_http_body_pending(wsi, 0);
	}
	memcpy(buf + LWS_PRE, r->body + r->body_sent, n);
	if (lws_write(wsi, buf + LWS_PRE, n, wp) != (int)n)
		return -1;
	r->body_sent += n;
	if (wp != LWS_WRITE_HTTP_FINAL)
		lws_callback_on_writable(wsi);
	return 0;
}

/* Retry-After: delta-seconds or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"). */
static long long s_retry_after(const char *v)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4];
	struct tm tm;
	char *end;
	long long secs;
	time_t t;

	errno = 0;
	secs = strtoll(v, &end, 10);
	if (end != v && *end == '\0' && errno == 0)
		return secs < 0 ? 0 : (secs > 86400 ? 86400000 : secs * 1000);
	memset(&tm, 0, sizeof tm);
	if (sscanf(v, "%*3s, %d %3s %d %d:%d:%d GMT", &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
		   &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	mon[3] = '\0';
	end = strstr(months, mon);
	if (end == NULL || (end - months) % 3 != 0)
		return -1;
	tm.tm_mon = (int)((end - months) / 3);
	tm.tm_year -= 1900;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	secs = (long long)(t - time(NULL));
	return secs < 0 ? 0 : (secs > 86400 ? 86400000 : secs * 1000);
}

static void s_read_status(struct lws *wsi, struct rest_req *r)
{
	char v[64];
	r->status = (int)lws_http_client_http_response(wsi);
	if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_RETRY_AFTER) > 0)
		r->retry_after_ms = s_retry_after(v);
	if (lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
		r->content_length = strtoll(v, NULL, 10);
}

/* Append received body bytes; -1 past REST_BODY_MAX. */
static int s_append_body(struct rest_req *r, const void *in, size_t len)
{
	size_t cap;
	char *p;
	if (len > REST_BODY_MAX - r->resp_len)
		return -1;
	if (r->resp_len + len + 1 > r->resp_cap) {
		cap = r->resp_cap ? r->resp_cap : 4096;
		while (cap < r->resp_len + len + 1)
			cap *= 2;
		p = realloc(r->resp, cap);
		if (p == NULL)
			return -1;
		r->resp = p;
		r->resp_cap = cap;
	}
	memcpy(r->resp + r->resp_len, in, len);
	r->resp_len += len;
	r->resp[r->resp_len] = '\0';
	return 0;
}

/* The connection ended: a whole answer, or a failure after the request went out. */
static void s_closed(struct rest_req *r)
{
	if (r->status == 0)
		s_finish(r, r->headers_sent ? "connection closed before the answer"
					    : "connection closed");
	else if (r->content_length >= 0 && (long long)r->resp_len < r->content_length)
		s_finish(r, "connection closed in the middle of the answer");
	else
		s_finish(r, NULL);
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct rest_req *r = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	char buf[LWS_PRE + 4096], *px = buf + LWS_PRE;
	int n;

	if (r != NULL)
		r->wsi = wsi; /* also known before lws_client_connect_via_info returns */
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (r != NULL)
			s_finish(r, r->headers_sent ? "connection lost" : "cannot connect");
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (r == NULL)
			return -1;
		r->headers_sent = true; /* from here on the server may act on it */
		/* in: a pointer to the write position; len: the room left after it */
		return s_append_headers(wsi, r, (unsigned char **)in, *(unsigned char **)in + len);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (r == NULL)
			return -1;
		return s_write_body(wsi, r);
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		if (r != NULL)
			s_read_status(wsi, r);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		if (r == NULL)
			return -1;
		n = (int)(sizeof buf - LWS_PRE);
		if (lws_http_client_read(wsi, &px, &n) < 0)
			return -1;
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (r == NULL)
			return -1;
		if (s_append_body(r, in, len) != 0) {
			s_finish(r, "answer too large");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (r != NULL)
			s_finish(r, NULL);
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (r != NULL)
			s_closed(r);
		return 0;
	case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
		return -1; /* never followed (see LCCSCF_HTTP_NO_FOLLOW_REDIRECT) */
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols rest_protocol = {"pp-rest", s_callback, 0, 0, 0, NULL, 0};

/* ---- public --------------------------------------------------------------------------- */

/* Split base_url into scheme, address, port and prefix. Returns 0 or -1 with err. */
static int s_parse_base(struct rest_client *rc, const char *base_url, char *err, size_t errlen)
{
	char *copy = strdup(base_url), hostbuf[300];
	const char *prot, *ads, *path;
	int port, rv = -1;
	size_t n;

	if (copy == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (lws_parse_uri(copy, &prot, &ads, &port, &path) != 0 || ads[0] == '\0') {
		snprintf(err, errlen,
			 "REST URL: cannot parse (expected http[s]://host[:port]/path)");
		goto out;
	}
	if (strcmp(prot, "https") == 0)
		rc->tls = true;
	else if (strcmp(prot, "http") != 0) {
		snprintf(err, errlen, "REST URL: scheme must be http or https");
		goto out;
	}
	rc->port = port;
	rc->address = strdup(ads); /* for DNS: keeps a trailing dot */
	/* for the Host header and lws' SNI and name check: without it (str_host_len()) */
	n = str_host_len(ads);
	if ((rc->tls && port == 443) || (!rc->tls && port == 80))
		snprintf(hostbuf, sizeof hostbuf, "%.*s", (int)n, ads);
	else
		snprintf(hostbuf, sizeof hostbuf, "%.*s:%d", (int)n, ads, port);
	rc->host = strdup(hostbuf);
	/* lws_parse_uri gives the path without its leading '/' */
	n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	rc->prefix = malloc(n + 2);
	if (rc->address == NULL || rc->host == NULL || rc->prefix == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (n > 0)
		snprintf(rc->prefix, n + 2, "/%.*s", (int)n, path);
	else
		rc->prefix[0] = '\0';
	rv = 0;
out:
	free(copy);
	return rv;
}

struct rest_client *rest_client_new(struct lws_context *ctx, struct lws_vhost *vh,
				    struct timers *timers, const char *base_url, bool insecure,
				    const char *const *key, uint32_t max_inflight, char *err,
				    size_t errlen)
{
	struct rest_client *rc;
	if (ctx == NULL || timers == NULL || base_url == NULL || key == NULL) {
		snprintf(err, errlen, "REST client: missing context, timers, URL or key");
		return NULL;
	}
	rc = calloc(1, sizeof *rc);
	if (rc == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc->ctx = ctx;
	rc->vh = vh;
	rc->timers = timers;
	rc->key = key;
	rc->insecure = insecure;
	rc->max_inflight = max_inflight > 0 ? max_inflight : 1;
	if (s_parse_base(rc, base_url, err, errlen) != 0) {
		rest_client_destroy(&rc);
		return NULL;
	}
	return rc;
}

void rest_client_destroy(struct rest_client **self_p)
{
	struct rest_client *rc;
	struct rest_req *r;
	if (self_p == NULL || *self_p == NULL)
		return;
	rc = *self_p;
	lws_sul_cancel(&rc->pump);
	rc->pump_armed = true; /* no pump from the answers below */
	rc->max_inflight = 0;
	while ((r = dlist_first(&rc->wire, struct rest_req, link)) != NULL)
		s_abort(r, "shutting down");
	while ((r = dlist_first(&rc->queue, struct rest_req, link)) != NULL)
		s_abort(r, "shutting down");
	free(rc->address);
	free(rc->host);
	free(rc->prefix);
	free(rc);
	*self_p = NULL;
}

int rest_request(struct rest_client *rc, const char *method, const char *path_and_query,
		 const char *body, size_t len, uint32_t timeout_ms, rest_done_fn done, void *ud)
{
	struct rest_req *r;
	size_t plen;

	if (rc == NULL || method == NULL || path_and_query == NULL || done == NULL ||
	    rc->max_inflight == 0)
		return -1;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return -1;
	r->rc = rc;
	r->done = done;
	r->ud = ud;
	r->retry_after_ms = -1;
	r->content_length = -1;
	r->method = strdup(method);
	plen = strlen(rc->prefix) + strlen(path_and_query) + 2;
	r->path = malloc(plen);
	if (body != NULL) {
		r->body = malloc(len + 1);
		r->body_len = len;
	}
	if (r->method == NULL || r->path == NULL || (body != NULL && r->body == NULL)) {
		s_req_free(r);
		return -1;
	}
	snprintf(r->path, plen, "%s%s%s", rc->prefix, path_and_query[0] == '/' ? "" : "/",
		 path_and_query);
	if (body != NULL) {
		memcpy(r->body, body, len);
		r->body[len] = '\0';
	}
	dlist_push_back(&rc->queue, &r->link);
	r->where = REQ_QUEUED;
	timer_start(rc->timers, &r->deadline, s_timeout_cb,
		    (uint64_t)(timeout_ms ? timeout_ms : REST_TIMEOUT_DEFAULT_MS) * 1000);
	s_schedule_pump(rc);
	return 0;
}

uint32_t rest_client_inflight(const struct rest_client *rc)
{
	return (uint32_t)rc->wire.count;
}

uint32_t rest_client_queued(const struct rest_client *rc)
{
	return (uint32_t)rc->queue.count;
}
