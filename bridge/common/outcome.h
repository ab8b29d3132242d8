/* outcome.h: the bounded log of contribute outcomes by client-chosen id (pure).
 * Gives idempotency (the same id is not sent twice in a run) and answers "outcome". */
#ifndef PP_OUTCOME_H
#define PP_OUTCOME_H

#include <stddef.h>

enum outcome_state { OUTCOME_IN_FLIGHT, OUTCOME_CONFIRMED, OUTCOME_REJECTED, OUTCOME_UNKNOWN };

struct outcome_log;

struct outcome_log *outcome_log_new(size_t capacity);
void outcome_log_destroy(struct outcome_log **self_p);
/* Record id as in flight. Returns 0 when new, 1 when the id is already known (nothing
 * changed), -1 on allocation failure. When full, the oldest finished entry is evicted
 * (in-flight entries are never evicted; if all are in flight the log grows). */
int outcome_log_begin(struct outcome_log *log, const char *id);
/* Finish id with its state and the reply (a JSON text, copied). No-op for unknown ids. */
void outcome_log_finish(struct outcome_log *log, const char *id, enum outcome_state st,
			const char *reply_json);
/* Forget id (used when a contribute ended without being sent upstream, so a retry may
 * send it). */
void outcome_log_forget(struct outcome_log *log, const char *id);
/* Look up id: returns 0 with *st and *reply_json (borrowed, NULL while in flight), or -1. */
int outcome_log_get(const struct outcome_log *log, const char *id, enum outcome_state *st,
		    const char **reply_json);
const char *outcome_state_name(enum outcome_state st);

#endif
