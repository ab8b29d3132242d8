/* contribute.h: the contribute pipeline: fair queueing, the upstream budget, the REST and
 * WebSocket paths, idempotency by client id, and the outcome log. */
#ifndef PP_CONTRIBUTE_H
#define PP_CONTRIBUTE_H

#include <jansson.h>
#include <stddef.h>

#include "command.h"
#include "normalize.h"

struct bridge;
struct contribute;

/* Called exactly once per submitted request with the reply (a new reference the callee
 * owns). */
typedef void (*contribute_reply_fn)(void *ud, json_t *reply);

struct contribute *contribute_new(struct bridge *b, char *err, size_t errlen);
/* Answers everything still pending (outcome_unknown or shutting_down), frees, NULLs. */
void contribute_destroy(struct contribute **self_p);

/* Take a validated contribute request (req is moved: *req is left clear) from client
 * (the ROUTER identity, copied) and answer it through fn(ud, reply) exactly once, maybe
 * before returning. */
void contribute_submit(struct contribute *cp, const void *client, size_t client_len,
		       struct cmd_request *req, contribute_reply_fn fn, void *ud);

/* The "outcome" command for id: a new reference to the reply object. */
json_t *contribute_outcome(struct contribute *cp, json_t *id);

/* Stop: answer every pending request now and refuse new ones (shutting_down). */
void contribute_shutdown(struct contribute *cp);

/* Counters and budget for status: a new reference. */
json_t *contribute_status_json(const struct contribute *cp);

/* Hooks from the upstream connection (see upstream.h). */
void contribute_on_upstream_change(struct contribute *cp);
void contribute_on_ws_reply(struct contribute *cp, struct norm_event *ev);
void contribute_on_ws_sent(struct contribute *cp, void *tag);
void contribute_on_ws_unsent(struct contribute *cp, void *tag);
void contribute_on_ws_disconnected(struct contribute *cp);

#endif
