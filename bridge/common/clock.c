/* clock.c: the bridge's clocks (see clock.h). */
#include "clock.h"

#include <time.h>

static long long s_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long clock_mono_ms(void)
{
	return s_ms(CLOCK_MONOTONIC);
}

unsigned long long clock_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000u + (unsigned long long)ts.tv_nsec / 1000u;
}

long long clock_wall_ms(void)
{
	return s_ms(CLOCK_REALTIME);
}
