/* backoff.c: reconnect delays (pure maths; the caller supplies the randomness).
 *
 * NORMAL uses "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter",
 * 2015): spreading retries over the whole window keeps many bridges restarted together
 * from reconnecting in lock-step. The penalty reasons wait at least the cap and only add
 * jitter, because the server told us to go away. All maths is in 64 bits, saturated. */
#include "backoff.h"

/* Uniform in [0, max] from a uniform 32-bit value (max <= UINT32_MAX, so the product
 * rnd * (max + 1) < 2^64): a multiply-shift, no modulo bias. */
static uint64_t s_uniform(uint32_t rnd, uint64_t max)
{
	return ((uint64_t)rnd * (max + 1)) >> 32;
}

static uint32_t s_sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* min(cap, base * 2^attempt) without overflow. */
static uint64_t s_window(uint64_t base, uint64_t cap, uint32_t attempt)
{
	if (base == 0)
		return 0;
	if (attempt >= 32)
		return cap;
	uint64_t w = base << attempt; /* base < 2^32, attempt < 32: fits */
	return w < cap ? w : cap;
}

uint32_t backoff_delay_ms(const struct backoff_policy *p, enum backoff_reason why, uint32_t attempt,
			  uint32_t rnd)
{
	uint64_t cap = p->cap_ms;
	switch (why) {
	case BACKOFF_AUTH:
	case BACKOFF_SUPERSEDED:
		return s_sat32(cap + s_uniform(rnd, cap / 4));
	case BACKOFF_RATE: {
		/* The server counts 60 messages in a rolling minute: wait it out fully. */
		uint64_t m = cap > 60000 ? cap : 60000;
		return s_sat32(m + s_uniform(rnd, m / 4));
	}
	case BACKOFF_NORMAL:
	default:
		return s_sat32(s_uniform(rnd, s_window(p->base_ms, cap, attempt)));
	}
}

enum backoff_reason backoff_reason_for_close(int close_code)
{
	switch (close_code) {
	case 4001:
		return BACKOFF_AUTH;
	case 4000:
		return BACKOFF_SUPERSEDED;
	case 4008:
		return BACKOFF_RATE;
	default:
		return BACKOFF_NORMAL;
	}
}
