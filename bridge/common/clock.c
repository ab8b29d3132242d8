/* clock.c: the bridge's clocks (see clock.h). */
#include "clock.h"

#include <time.h>

/* The one reader of both clocks: microseconds, which timers need; milliseconds from it. */
static unsigned long long s_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (unsigned long long)ts.tv_sec * 1000000u + (unsigned long long)ts.tv_nsec / 1000u;
}

long long clock_mono_ms(void)
{
	return (long long)(s_us(CLOCK_MONOTONIC) / 1000u);
}

unsigned long long clock_mono_us(void)
{
	return s_us(CLOCK_MONOTONIC);
}

long long clock_wall_ms(void)
{
	return (long long)(s_us(CLOCK_REALTIME) / 1000u);
}
