/* command.c: parsing and validating requests of the command socket (pure).
 *
 * Owns the request shapes of bridge-contract.md "Commands": every check that can be done
 * before anything leaves the machine (types, ranges, the content scanner, the upstream
 * size limit) happens here, in a fixed order, so a request always gets the same error. */
#include "command.h"

#include "scanner.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_bad_request = "bad_request";

/* Fill err; returns -1 so callers can `return s_fail(...)`. */
__attribute__((format(printf, 3, 4))) static int s_fail(struct cmd_error *err, const char *code,
							const char *fmt, ...)
{
	va_list ap;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copy a client-supplied string for an error message: at most max bytes, control
 * characters and quotes replaced, so a message stays one printable line. */
static void s_quote(const char *s, size_t len, char *out, size_t outlen, size_t max)
{
	size_t o = 0, n = len < max ? len : max;

	/* never cut a UTF-8 character in two: the message must stay valid UTF-8, or jansson
	 * refuses to put it in the reply */
	if (n < len)
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];
		out[o++] = (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') ? '?' : (char)c;
	}
	if (len > max && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Strip jansson's " near '<input>'" suffix: it can quote part of the request (a secret). */
static void s_json_error(const json_error_t *je, struct cmd_error *err)
{
	char text[JSON_ERROR_TEXT_LENGTH];
	char *near;
	snprintf(text, sizeof text, "%s", je->text);
	near = strstr(text, " near ");
	if (near != NULL)
		*near = '\0';
	s_fail(err, s_bad_request, "not JSON: %s (line %d, column %d)", text, je->line, je->column);
}

/* Read the optional integer member name of root into *out within [lo, hi].
 * Absent: *out untouched, 0. Present but not an integer in range: -1 with err. */
static int s_int_member(json_t *root, const char *name, long long lo, long long hi, long long *out,
			struct cmd_error *err)
{
	json_t *v = json_object_get(root, name);
	if (v == NULL)
		return 0;
	if (!json_is_integer(v)) {
		if (lo == 0)
			return s_fail(err, s_bad_request, "%s: expected a non-negative integer",
				      name);
		return s_fail(err, s_bad_request, "%s: expected an integer", name);
	}
	if (json_integer_value(v) < lo || json_integer_value(v) > hi)
		return s_fail(err, s_bad_request, "%s: must be %lld..%lld", name, lo, hi);
	*out = json_integer_value(v);
	return 0;
}

static int s_check_id(json_t *id, struct cmd_error *err)
{
	size_t n;
	if (!json_is_string(id))
		return s_fail(err, s_bad_request, "id: expected a string");
	n = json_string_length(id);
	if (n == 0)
		return s_fail(err, s_bad_request, "id: must not be empty");
	if (n > CMD_ID_MAX)
		return s_fail(err, s_bad_request, "id: longer than %d bytes", CMD_ID_MAX);
	return 0;
}

static int s_parse_session_id(struct cmd_request *req, struct cmd_error *err)
{
	json_t *v = json_object_get(req->root, "session_id");
	const char *s;
	size_t n;
	if (v == NULL)
		return s_fail(err, s_bad_request, "session_id: missing");
	if (!json_is_string(v))
		return s_fail(err, s_bad_request, "session_id: expected a string");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0)
		return s_fail(err, s_bad_request, "session_id: must not be empty");
	if (n > CMD_SESSION_ID_MAX)
		return s_fail(err, s_bad_request, "session_id: longer than %d bytes",
			      CMD_SESSION_ID_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return s_fail(err, s_bad_request,
				      "session_id: contains a control character");
	req->session_id = s;
	return 0;
}

static int s_parse_type(struct cmd_request *req, struct cmd_error *err)
{
	static const char *const types[] = {"suggestion", "warning", "reference"};
	json_t *v = json_object_get(req->root, "contribution_type");
	char shown[48];
	req->contribution_type = types[0];
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return s_fail(err, s_bad_request, "contribution_type: expected a string");
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(json_string_value(v), types[i]) == 0 &&
		    json_string_length(v) == strlen(types[i])) {
			req->contribution_type = types[i];
			return 0;
		}
	s_quote(json_string_value(v), json_string_length(v), shown, sizeof shown, 32);
	return s_fail(err, s_bad_request,
		      "contribution_type: unknown type '%s' (expected suggestion, warning or "
		      "reference)",
		      shown);
}

/* The content checks: scanner first (a secret is worse than a size), then the size of
 * the exact message the WebSocket path would send (the REST body is smaller). */
static int s_check_content(struct cmd_request *req, struct cmd_error *err)
{
	char path[200];
	const char *kind = scan_json(req->content, "content", path, sizeof path);
	size_t len = 0;
	char *msg;
	if (kind != NULL)
		return s_fail(err, "unsafe_content", "%s: looks like %s %s", path,
			      (kind[0] == 'a' || kind[0] == 'e' || kind[0] == 'i') ? "an" : "a",
			      kind);
	msg = cmd_contribute_ws_message(req, &len);
	if (msg == NULL)
		return s_fail(err, s_bad_request, "content: cannot be serialized");
	free(msg);
	if (len > CMD_UPSTREAM_MAX)
		return s_fail(err, "too_large",
			      "content: the upstream message would be %zu bytes, over the %d-byte "
			      "limit",
			      len, CMD_UPSTREAM_MAX);
	return 0;
}

static int s_parse_contribute(struct cmd_request *req, struct cmd_error *err)
{
	long long timeout = CMD_TIMEOUT_DEFAULT;
	if (s_parse_session_id(req, err) != 0)
		return -1;
	req->content = json_object_get(req->root, "content");
	if (req->content == NULL)
		return s_fail(err, s_bad_request, "content: missing");
	if (!json_is_object(req->content))
		return s_fail(err, s_bad_request, "content: expected an object");
	if (s_parse_type(req, err) != 0)
		return -1;
	if (s_int_member(req->root, "timeout_ms", 1, CMD_TIMEOUT_MAX, &timeout, err) != 0)
		return -1;
	req->timeout_ms = (uint32_t)timeout;
	return s_check_content(req, err);
}

static int s_parse_replay(struct cmd_request *req, struct cmd_error *err)
{
	long long after = 0, limit = CMD_REPLAY_LIMIT_DEF;
	if (s_int_member(req->root, "after_seq", 0, LLONG_MAX, &after, err) != 0)
		return -1;
	if (s_int_member(req->root, "limit", 1, CMD_REPLAY_LIMIT_MAX, &limit, err) != 0)
		return -1;
	req->after_seq = (uint64_t)after;
	req->limit = (uint32_t)limit;
	return 0;
}

/* Map the "cmd" member to a kind; -1 with err when missing, ill-typed or unknown. */
static int s_parse_kind(json_t *root, enum cmd_kind *kind, struct cmd_error *err)
{
	static const struct {
		const char *name;
		enum cmd_kind kind;
	} table[] = {{"contribute", CMD_CONTRIBUTE},
		     {"status", CMD_STATUS},
		     {"replay", CMD_REPLAY},
		     {"outcome", CMD_OUTCOME},
		     {"ping", CMD_PING}};
	json_t *v = json_object_get(root, "cmd");
	char shown[48];
	if (v == NULL)
		return s_fail(err, s_bad_request, "cmd: missing");
	if (!json_is_string(v))
		return s_fail(err, s_bad_request, "cmd: expected a string");
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strcmp(json_string_value(v), table[i].name) == 0 &&
		    json_string_length(v) == strlen(table[i].name)) {
			*kind = table[i].kind;
			return 0;
		}
	/* never echo something that looks like a secret, even back to its sender */
	if (scan_string(json_string_value(v), json_string_length(v)) != NULL)
		return s_fail(err, "unknown_command", "unknown command");
	s_quote(json_string_value(v), json_string_length(v), shown, sizeof shown, 32);
	return s_fail(err, "unknown_command",
		      "unknown command '%s' (expected contribute, status, replay, outcome or ping)",
		      shown);
}

int cmd_parse(const char *buf, size_t len, struct cmd_request *out, json_t **id_out,
	      struct cmd_error *err)
{
	json_error_t je;
	json_t *id;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (id_out != NULL)
		*id_out = NULL;
	err->code = NULL;
	err->message[0] = '\0';

	/* ownership: root is ours until handed to *out on success, freed at out: otherwise */
	out->root =
	    json_loadb(buf != NULL ? buf : "", buf != NULL ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (out->root == NULL) {
		s_json_error(&je, err);
		goto out;
	}
	if (!json_is_object(out->root)) {
		s_fail(err, s_bad_request, "request: expected a JSON object");
		goto out;
	}
	id = json_object_get(out->root, "id");
	if (id != NULL && id_out != NULL && json_is_string(id) && json_string_length(id) > 0 &&
	    json_string_length(id) <= CMD_ID_MAX)
		*id_out = json_incref(id);
	if (s_parse_kind(out->root, &out->kind, err) != 0)
		goto out;
	if (id != NULL && s_check_id(id, err) != 0)
		goto out;
	out->id = id;
	out->timeout_ms = CMD_TIMEOUT_DEFAULT;
	out->limit = CMD_REPLAY_LIMIT_DEF;
	switch (out->kind) {
	case CMD_CONTRIBUTE:
		if (s_parse_contribute(out, err) != 0)
			goto out;
		break;
	case CMD_REPLAY:
		if (s_parse_replay(out, err) != 0)
			goto out;
		break;
	case CMD_OUTCOME:
		if (id == NULL) {
			s_fail(err, s_bad_request, "id: required for outcome");
			goto out;
		}
		break;
	case CMD_STATUS:
	case CMD_PING:
		break;
	}
	rc = 0;
out:
	if (rc != 0) {
		json_decref(out->root);
		memset(out, 0, sizeof *out);
	} else if (id_out != NULL && *id_out != NULL) {
		/* the contract: *id_out is for error replies only; success has out->id */
		json_decref(*id_out);
		*id_out = NULL;
	}
	return rc;
}

void cmd_request_clear(struct cmd_request *req)
{
	if (req == NULL)
		return;
	json_decref(req->root);
	memset(req, 0, sizeof *req);
}

/* Dump obj compactly (UTF-8 as is, so the length is the wire length); steals obj. */
static char *s_dump_steal(json_t *obj, size_t *len)
{
	char *s = NULL;
	if (obj != NULL)
		s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s != NULL && len != NULL)
		*len = strlen(s);
	return s;
}

char *cmd_contribute_ws_message(const struct cmd_request *req, size_t *len)
{
	if (req->content == NULL || req->session_id == NULL)
		return NULL;
	/* "O" takes a new reference to content; the packed object owns it */
	return s_dump_steal(
	    json_pack("{s:s, s:s, s:O, s:s}", "type", "contribute", "session_id", req->session_id,
		      "content", req->content, "contribution_type",
		      req->contribution_type ? req->contribution_type : "suggestion"),
	    len);
}

char *cmd_contribute_rest_body(const struct cmd_request *req, size_t *len)
{
	if (req->content == NULL)
		return NULL;
	return s_dump_steal(
	    json_pack("{s:O, s:s}", "content", req->content, "contribution_type",
		      req->contribution_type ? req->contribution_type : "suggestion"),
	    len);
}

/* RFC 3986 unreserved characters pass; everything else is %XX, so a session id can never
 * change the path ("../", "?", "#"). */
int cmd_contribute_rest_path(const struct cmd_request *req, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	const char *p;
	int n;

	if (req->session_id == NULL || outlen == 0)
		return -1;
	n = snprintf(out, outlen, "/sessions/");
	o = (size_t)n;
	for (p = req->session_id; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
		if (o + 4 >= outlen)
			return -1;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o + sizeof "/contribute" > outlen)
		return -1;
	memcpy(out + o, "/contribute", sizeof "/contribute");
	return 0;
}

json_t *cmd_error_reply(json_t *id, const char *code, const char *message, long long retry_after_ms,
			int http_status)
{
	json_t *reply = json_object();
	json_t *error = json_object();
	if (reply == NULL || error == NULL)
		goto fail;
	/* json_object_set_new steals the new values; json_object_set takes a new ref to id */
	if (json_object_set_new(reply, "ok", json_false()) != 0)
		goto fail;
	if (id != NULL && json_object_set(reply, "id", id) != 0)
		goto fail;
	if (json_object_set_new(error, "code", json_string(code ? code : "bad_request")) != 0 ||
	    json_object_set_new(error, "message", json_string(message ? message : "")) != 0)
		goto fail;
	if (retry_after_ms >= 0 &&
	    json_object_set_new(error, "retry_after_ms", json_integer(retry_after_ms)) != 0)
		goto fail;
	if (http_status > 0 && json_object_set_new(error, "status", json_integer(http_status)) != 0)
		goto fail;
	if (json_object_set_new(reply, "error", error) != 0) {
		error = NULL; /* set_new frees it even on failure */
		goto fail;
	}
	return reply;
fail:
	json_decref(error);
	json_decref(reply);
	return NULL;
}
