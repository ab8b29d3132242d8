/* clock.h: the two clocks the bridge reads, in milliseconds (and the monotonic one in
 * microseconds, for timers). */
#ifndef PP_CLOCK_H
#define PP_CLOCK_H

/* Monotonic time: for timeouts, deadlines and intervals (never jumps). */
long long clock_mono_ms(void);
/* The same clock in microseconds: CLOCK_MONOTONIC, as timerfd and lws read it. */
unsigned long long clock_mono_us(void);
/* Wall-clock time since the Unix epoch: for timestamps shown to people and subscribers. */
long long clock_wall_ms(void);

#endif
