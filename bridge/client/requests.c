/* requests.c: the request builders of libplurum-pulse (contribute, status, replay, outcome,
 * ping), one JSON text each, sent with ppulse_ctl_request().
 *
 * Strings are escaped by ppc__buf_add_jstring; a caller's content text is embedded as it is
 * once the structural scan has checked it is exactly one object (so it cannot add members
 * to the request around it). */
#include <inttypes.h>
#include <string.h>

#include "internal.h"
#include "plurum_pulse.h"

/* Send the built text (freed here) unless building it failed. */
static int s_send_built(ppulse_ctl_t *ctl, struct ppc_buf *b, char **reply, int timeout_ms)
{
	int rc = b->oom ? PPULSE_ENOMEM : ppulse_ctl_request(ctl, b->p, reply, timeout_ms);
	ppc__buf_free(b);
	return rc;
}

int ppulse_ctl_contribute(ppulse_ctl_t *ctl, const char *session_id, const char *content_json,
			  const char *type, const char *id, uint32_t timeout_ms, char **reply,
			  int wait_ms)
{
	struct ppc_buf b = {0};
	if (reply != NULL)
		*reply = NULL;
	if (ctl == NULL || session_id == NULL || content_json == NULL || reply == NULL ||
	    !ppc__json_is_object(content_json, strlen(content_json)))
		return PPULSE_EINVAL;
	ppc__buf_adds(&b, "{\"cmd\":\"contribute\"");
	if (id != NULL) {
		ppc__buf_adds(&b, ",\"id\":");
		ppc__buf_add_jstring(&b, id);
	}
	ppc__buf_adds(&b, ",\"session_id\":");
	ppc__buf_add_jstring(&b, session_id);
	ppc__buf_adds(&b, ",\"content\":");
	ppc__buf_adds(&b, content_json);
	ppc__buf_adds(&b, ",\"contribution_type\":");
	ppc__buf_add_jstring(&b, type != NULL ? type : "suggestion");
	/* 0: leave the timeout to the bridge's default. */
	if (timeout_ms > 0)
		ppc__buf_addf(&b, ",\"timeout_ms\":%" PRIu32, timeout_ms);
	ppc__buf_adds(&b, "}");
	return s_send_built(ctl, &b, reply, wait_ms);
}

int ppulse_ctl_status(ppulse_ctl_t *ctl, char **reply, int timeout_ms)
{
	return ppulse_ctl_request(ctl, "{\"cmd\":\"status\"}", reply, timeout_ms);
}

int ppulse_ctl_replay(ppulse_ctl_t *ctl, uint64_t after_seq, uint32_t limit, char **reply,
		      int timeout_ms)
{
	struct ppc_buf b = {0};
	if (reply != NULL)
		*reply = NULL;
	ppc__buf_addf(&b, "{\"cmd\":\"replay\",\"after_seq\":%" PRIu64, after_seq);
	/* 0: the bridge's default limit. */
	if (limit > 0)
		ppc__buf_addf(&b, ",\"limit\":%" PRIu32, limit);
	ppc__buf_adds(&b, "}");
	return s_send_built(ctl, &b, reply, timeout_ms);
}

int ppulse_ctl_outcome(ppulse_ctl_t *ctl, const char *id, char **reply, int timeout_ms)
{
	struct ppc_buf b = {0};
	if (reply != NULL)
		*reply = NULL;
	if (id == NULL)
		return PPULSE_EINVAL;
	ppc__buf_adds(&b, "{\"cmd\":\"outcome\",\"id\":");
	ppc__buf_add_jstring(&b, id);
	ppc__buf_adds(&b, "}");
	return s_send_built(ctl, &b, reply, timeout_ms);
}

int ppulse_ctl_ping(ppulse_ctl_t *ctl, char **reply, int timeout_ms)
{
	return ppulse_ctl_request(ctl, "{\"cmd\":\"ping\"}", reply, timeout_ms);
}
