/* timers.h: the daemon's timers: one timerfd in the lws loop, deadlines in a timerq.
 *
 * Every timer of ours goes through here rather than lws_sul: lws 4.1.6 waits in poll() for
 * the time to its next sul rounded down to whole milliseconds, then polls with a zero timeout
 * until the sul is due, up to 1 ms of spinning (hundreds of polls) before each expiry. A
 * timerfd expires to the microsecond, so the loop wakes once per deadline. What is not a
 * deadline but "run this from the loop, now" (fdwatch_kick, the REST pump) stays an lws_sul
 * due at once: that costs no wait to round, and the kick is on the per-event path. */
#ifndef PP_TIMERS_H
#define PP_TIMERS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>

#include "timerq.h"

struct timers;

/* The timerfd, watched in ctx's loop (vh must carry fdwatch_protocol). NULL with err. */
struct timers *timers_new(struct lws_context *ctx, struct lws_vhost *vh, char *err, size_t errlen);

/* Unqueues every timer (their owners may still call timer_stop), closes, sets *self_p NULL. */
void timers_destroy(struct timers **self_p);

/* Run fn(t) from the loop delay_us from now; replaces t's earlier deadline if it had one. */
void timer_start(struct timers *ts, struct timer *t, timer_fn fn, uint64_t delay_us);

/* Cancel t; nothing happens when it is not pending. Costs no system call. */
void timer_stop(struct timer *t);

static inline bool timer_pending(const struct timer *t)
{
	return timer_queued(t);
}

/* Sets the timerfd to the earliest deadline if it changed. timer_start() does it when the
 * new deadline comes first; a stopped first timer leaves an earlier expiry set, which the
 * loop drops by calling this before each lws_service() (no system call when unchanged). */
void timers_arm(struct timers *ts);

#endif
