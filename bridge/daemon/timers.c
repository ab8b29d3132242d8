/* timers.c: the daemon's timers on one timerfd (timers.h says why not lws_sul). */
#include "timers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "clock.h"
#include "fdwatch.h"
#include "log.h"

struct timers {
	struct timerq q;
	int fd;
	struct fdwatch *watch;
	bool armed;	   /* the timerfd is set ... */
	uint64_t armed_us; /* ... to this deadline */
};

void timer_start(struct timers *ts, struct timer *t, timer_fn fn, uint64_t delay_us)
{
	timerq_insert(&ts->q, t, clock_mono_us() + delay_us, fn);
	/* a new earliest deadline is armed at once: lws may call back (from one of its own
	 * timers) after the loop's timers_arm() and before its poll(), which would then wait
	 * past it */
	if (timerq_first(&ts->q) == t)
		timers_arm(ts);
}

void timer_stop(struct timer *t)
{
	timerq_remove(t);
}

void timers_arm(struct timers *ts)
{
	struct itimerspec its;
	uint64_t due = 0;
	bool want = timerq_next_due(&ts->q, &due);

	if (want == ts->armed && (!want || due == ts->armed_us))
		return;
	memset(&its, 0, sizeof(its)); /* all zero disarms */
	if (want) {
		/* a deadline already past still fires: 0 would mean "disarm" */
		due = due ? due : 1;
		its.it_value.tv_sec = (time_t)(due / 1000000u);
		its.it_value.tv_nsec = (long)(due % 1000000u) * 1000;
	}
	if (timerfd_settime(ts->fd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
		/* cannot happen with a valid fd and value; retried on the next pass */
		log_error("timerfd_settime: %s", strerror(errno));
		return;
	}
	ts->armed = want;
	ts->armed_us = due;
}

/* Runs every timer due now. They move to a local queue first, so a callback that starts a
 * timer for "now" again waits for the next pass instead of looping here, and one that stops
 * another ripe timer (timer_stop unqueues it from wherever it is) keeps it from running. */
static void s_run_due(struct timers *ts)
{
	struct timerq ripe = {0};
	uint64_t now = clock_mono_us();
	struct timer *t;

	while ((t = timerq_pop_due(&ts->q, now)))
		timerq_insert(&ripe, t, t->due_us, t->fn);
	while ((t = timerq_pop_due(&ripe, UINT64_MAX)))
		t->fn(t);
}

static void s_on_fd(void *ud)
{
	struct timers *ts = ud;
	uint64_t expirations;

	/* EAGAIN: re-armed later since it polled readable; the deadlines decide, not the fd */
	if (read(ts->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_warn("timerfd read: %s", strerror(errno));
	ts->armed = false; /* an absolute one-shot timer disarms itself when it expires */
	s_run_due(ts);
	timers_arm(ts);
}

struct timers *timers_new(struct lws_context *ctx, struct lws_vhost *vh, char *err, size_t errlen)
{
	struct timers *ts = calloc(1, sizeof(*ts));

	if (!ts) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ts->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ts->fd < 0) {
		snprintf(err, errlen, "timerfd_create: %s", strerror(errno));
		goto fail;
	}
	ts->watch = fdwatch_new(ctx, vh, ts->fd, s_on_fd, ts, err, errlen);
	if (!ts->watch)
		goto fail;
	return ts;
fail:
	if (ts->fd >= 0)
		close(ts->fd);
	free(ts);
	return NULL;
}

void timers_destroy(struct timers **self_p)
{
	struct timers *ts;
	struct timer *t;

	if (!self_p || !*self_p)
		return;
	ts = *self_p;
	while ((t = timerq_first(&ts->q)))
		timerq_remove(t);
	fdwatch_destroy(&ts->watch);
	close(ts->fd);
	free(ts);
	*self_p = NULL;
}
