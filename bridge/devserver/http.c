/*
 * http.c: the one lws protocol of both vhosts. Owns the HTTP side (request capture, body
 * accumulation up to 5 MB, routing to control.c / rest.c, writing the answer in
 * HTTP_WRITEABLE, delayed answers) and the gate of the WebSocket upgrade (path, Origin,
 * /_dev/refuse). Everything WebSocket after the upgrade goes to ws_conn.c.
 */
#include "devserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_CHUNK 32768

struct http_req {
	struct ds_server *ds;
	struct lws *wsi;
	bool is_post, too_big;
	char path[512];
	char bearer[600];
	char limit[32], event_type[64];
	bool has_bearer, has_limit, has_event_type;
	char *body; /* owned */
	size_t body_len, body_cap;
	struct http_answer ans;
	bool answer_ready, headers_sent;
	size_t sent;
	lws_sorted_usec_list_t sul_delay;
};

void http_answer_json(struct http_answer *ans, int status, json_t *json)
{
	ans->status = status;
	free(ans->body);
	ans->body = json ? json_dumps(json, JSON_COMPACT) : NULL;
	if (!ans->body)
		ans->body = strdup("{}");
	ans->len = ans->body ? strlen(ans->body) : 0;
	json_decref(json);
}

static void s_req_free(struct ds_pss *pss)
{
	struct http_req *r = pss->req;

	if (!r)
		return;
	lws_sul_cancel(&r->sul_delay);
	if (r->has_bearer)
		memset(r->bearer, 0, sizeof(r->bearer)); /* the key does not linger */
	free(r->body);
	free(r->ans.body);
	free(r);
	pss->req = NULL;
}

/* Copies header tok into out (NUL-terminated); false when absent or too long. */
static bool s_hdr(struct lws *wsi, enum lws_token_indexes tok, char *out, size_t outlen)
{
	int n = lws_hdr_total_length(wsi, tok);

	if (n <= 0 || (size_t)n >= outlen)
		return false;
	return lws_hdr_copy(wsi, out, (int)outlen, tok) >= 0;
}

bool http_urlarg(struct lws *wsi, const char *name, char *out, size_t outlen)
{
	char frag[1024];
	const char *v = lws_get_urlarg_by_name(wsi, name, frag, (int)sizeof(frag));
	bool ok = v && strlen(v) < outlen;

	/* Why the check: lws versions differ on whether the pointer is past "name" or not. */
	if (ok && !strncmp(v, name, strlen(name)))
		v += strlen(name);
	if (ok)
		memcpy(out, v, strlen(v) + 1);
	memset(frag, 0, sizeof(frag)); /* it may have held a key */
	return ok;
}

/* Answers a refused upgrade and hangs up. Why by hand: at this point lws has not yet parsed
 * the request's HTTP version and lws_return_http_status() would answer "HTTP/1.0", which
 * WebSocket clients reject as a malformed answer instead of seeing the status. */
static int s_refuse_upgrade(struct lws *wsi, unsigned int status)
{
	const char *text = status == HTTP_STATUS_FORBIDDEN   ? "Forbidden"
			   : status == HTTP_STATUS_NOT_FOUND ? "Not Found"
							     : "Service Unavailable";
	unsigned char buf[LWS_PRE + 512];
	char body[96];
	int blen = snprintf(body, sizeof(body), "{\"detail\":\"%s\"}", text);
	int n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
			 "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
			 status, text, blen, body);

	lwsl_notice("refusing a WebSocket upgrade with HTTP %u\n", status);
	lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS);
	return -1; /* hang up */
}

/* The WebSocket upgrade gate. Returns 0 to allow, -1 after answering with an HTTP status. */
static int s_confirm_upgrade(struct ds_server *ds, struct lws *wsi)
{
	char uri[512];
	unsigned int status = 0;

	if (!s_hdr(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) || strcmp(uri, DS_WS_PATH))
		status = HTTP_STATUS_NOT_FOUND;
	else if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0)
		status = HTTP_STATUS_FORBIDDEN; /* upstream refuses origins off its allow-list */
	else if (ds->refuse_until_ns && ds_now_ns() < ds->refuse_until_ns)
		status = HTTP_STATUS_SERVICE_UNAVAILABLE;
	if (!status)
		return 0;
	return s_refuse_upgrade(wsi, status);
}

/* Captures what the handlers need while the header table is certainly attached. */
static struct http_req *s_req_new(struct ds_server *ds, struct lws *wsi, const char *path)
{
	struct http_req *r = calloc(1, sizeof(*r));
	char auth[sizeof(((struct http_req *)0)->bearer)];

	if (!r)
		return NULL;
	r->ds = ds;
	r->wsi = wsi;
	r->is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
	snprintf(r->path, sizeof(r->path), "%s", path);
	if (s_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, auth, sizeof(auth)) &&
	    !strncasecmp(auth, "Bearer ", 7)) {
		snprintf(r->bearer, sizeof(r->bearer), "%s", auth + 7);
		r->has_bearer = true;
	}
	memset(auth, 0, sizeof(auth));
	r->has_limit = http_urlarg(wsi, "limit=", r->limit, sizeof(r->limit));
	r->has_event_type = http_urlarg(wsi, "event_type=", r->event_type, sizeof(r->event_type));
	return r;
}

static void s_sul_delay(lws_sorted_usec_list_t *sul)
{
	struct http_req *r = lws_container_of(sul, struct http_req, sul_delay);

	r->answer_ready = true;
	lws_callback_on_writable(r->wsi);
}

/* Routes the complete request. Returns -1 to drop the connection without an answer. */
static int s_dispatch(struct http_req *r)
{
	struct http_in in = {
	    .is_post = r->is_post,
	    .path = r->path,
	    .body = r->body ? r->body : "",
	    .body_len = r->body_len,
	    .bearer = r->has_bearer ? r->bearer : NULL,
	    .limit = r->has_limit ? r->limit : NULL,
	    .event_type = r->has_event_type ? r->event_type : NULL,
	};

	if (r->too_big)
		http_answer_json(&r->ans, HTTP_STATUS_REQ_ENTITY_TOO_LARGE,
				 json_pack("{s:s}", "detail", "Request body too large"));
	else if (!control_handle(r->ds, &in, &r->ans) && !rest_handle(r->ds, &in, &r->ans))
		http_answer_json(&r->ans, HTTP_STATUS_NOT_FOUND,
				 json_pack("{s:s}", "detail", "Not Found"));
	if (r->ans.status < 0)
		return -1;
	if (r->ans.delay_ms > 0) {
		lws_sul_schedule(r->ds->ctx, 0, &r->sul_delay, s_sul_delay,
				 (lws_usec_t)r->ans.delay_ms * LWS_US_PER_MS);
		return 0;
	}
	r->answer_ready = true;
	lws_callback_on_writable(r->wsi);
	return 0;
}

static int s_body(struct http_req *r, const void *in, size_t len)
{
	if (r->too_big)
		return 0;
	if (r->body_len + len > DS_MAX_BODY) {
		r->too_big = true; /* keep reading, answer 413 at the end */
		free(r->body);
		r->body = NULL;
		r->body_len = r->body_cap = 0;
		return 0;
	}
	if (r->body_len + len + 1 > r->body_cap) {
		size_t ncap = (r->body_len + len + 1) * 2;
		char *n = realloc(r->body, ncap > DS_MAX_BODY + 1 ? DS_MAX_BODY + 1 : ncap);

		if (!n)
			return -1;
		r->body = n;
		r->body_cap = ncap > DS_MAX_BODY + 1 ? DS_MAX_BODY + 1 : ncap;
	}
	memcpy(r->body + r->body_len, in, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return 0;
}

/* Writes the headers, then the body in chunks. Returns -1 to close. */
static int s_writeable(struct ds_pss *pss, struct lws *wsi)
{
	struct http_req *r = pss->req;
	unsigned char buf[LWS_PRE + HTTP_CHUNK], *start = buf + LWS_PRE, *p = start,
						 *end = buf + sizeof(buf);
	size_t n;
	int wp;

	if (!r || !r->answer_ready)
		return 0;
	if (!r->headers_sent) {
		char ra[16];
		int ral = snprintf(ra, sizeof(ra), "%d", r->ans.retry_after_s);

		if (lws_add_http_common_headers(wsi, (unsigned int)r->ans.status,
						"application/json", r->ans.len, &p, end) ||
		    (r->ans.retry_after_s > 0 &&
		     lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
						 (const unsigned char *)ra, ral, &p, end)) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		r->headers_sent = true;
		lws_callback_on_writable(wsi);
		return 0;
	}
	n = r->ans.len - r->sent;
	if (n > HTTP_CHUNK)
		n = HTTP_CHUNK;
	wp = r->sent + n >= r->ans.len ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
	memcpy(start, r->ans.body + r->sent, n);
	if (lws_write(wsi, start, n, (enum lws_write_protocol)wp) != (int)n)
		return -1;
	r->sent += n;
	if (r->sent < r->ans.len) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	s_req_free(pss);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct ds_server *ds = lws_context_user(lws_get_context(wsi));
	struct ds_pss *pss = user;
	char clen[32];

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return s_confirm_upgrade(ds, wsi);
	case LWS_CALLBACK_HTTP:
		if (!pss)
			return -1;
		s_req_free(pss);
		pss->req = s_req_new(ds, wsi, in ? (const char *)in : "/");
		if (!pss->req)
			return -1;
		/* A POST with a body waits for BODY_COMPLETION; everything else acts now. */
		if (pss->req->is_post &&
		    s_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, clen, sizeof(clen)) &&
		    atoll(clen) > 0)
			return 0;
		return s_dispatch(pss->req);
	case LWS_CALLBACK_HTTP_BODY:
		return pss && pss->req ? s_body(pss->req, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return pss && pss->req ? s_dispatch(pss->req) : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss ? s_writeable(pss, wsi) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (pss)
			s_req_free(pss);
		return 0;
	default:
		return ws_callback(wsi, reason, user, in, len);
	}
}
