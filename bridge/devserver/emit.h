/*
 * emit.h: the /_dev/emit event generator (the benchmarks' source).
 *
 * Owns: emit jobs. A job writes N events to one connection as fast as the socket takes them
 * (rate 0) or paced by a timerfd in the lws loop (rate R). Frames are built with snprintf into the
 * connection's reused buffer; every event is also put in the receiving agent's inbox as a
 * compact entry (job + sequence) that the job can rebuild on demand.
 */
#ifndef PP_DEVSERVER_EMIT_H
#define PP_DEVSERVER_EMIT_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct emit_job;
struct ds_server;

enum emit_type { EMIT_CONTRIB, EMIT_OPENED, EMIT_CLOSED };

/* Starts a job on conn (replacing none: a conn runs one job at a time; a new one queues
 * behind by replacing the finished one). Returns 0, or -1 with err filled. */
int emit_start(struct ds_server *ds, struct conn *c, enum emit_type type, uint64_t count,
	       double rate, size_t size, char *err, size_t errlen);

/* Called from the conn's WRITEABLE callback: writes due frames while the pipe is not choked.
 * Returns -1 on a write failure (the caller closes), else 0. */
int emit_write(struct ds_server *ds, struct conn *c);

/* The conn is going away: the job stops (its inbox entries keep it alive by reference). */
void emit_detach(struct conn *c);

bool emit_active(const struct conn *c);

/* For the inbox: the inbox id / event data of emitted event seq of job. */
void emit_job_inbox_id(const struct emit_job *job, uint64_t seq, char *out);
json_t *emit_job_event_data(const struct emit_job *job, uint64_t seq, int64_t created_ns);
void emit_job_unref(struct emit_job *job);

/* The pacing timers' protocol: every vhost that carries emit connections lists it. */
#define EMIT_TIMER_PROTOCOL "ds-emit-timer"
int emit_timer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len);

#endif
