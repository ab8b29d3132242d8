/* backoff.h: when to try the upstream again (pure maths, no clock, no randomness source:
 * the caller passes a random 32-bit value so tests can pin it). */
#ifndef PP_BACKOFF_H
#define PP_BACKOFF_H

#include <stdint.h>

enum backoff_reason {
	BACKOFF_NORMAL,	    /* any close, refused connection, DNS or TLS failure */
	BACKOFF_AUTH,	    /* close 4001 or an auth error/timeout */
	BACKOFF_SUPERSEDED, /* close 4000: another client holds this agent's connection */
	BACKOFF_RATE	    /* close 4008 */
};

struct backoff_policy {
	uint32_t base_ms; /* default 500 */
	uint32_t cap_ms;  /* default 60000 */
};

/* Delay before the next attempt.
 * NORMAL: full jitter: uniform in [0, min(cap, base * 2^attempt)] (attempt 0 = first retry).
 * AUTH, SUPERSEDED: cap + uniform [0, cap/4] (never less than the cap).
 * RATE: max(cap, 60000) + uniform [0, that/4].
 * rnd is a uniformly random 32-bit value. attempt may be large: no overflow. */
uint32_t backoff_delay_ms(const struct backoff_policy *p, enum backoff_reason why, uint32_t attempt,
			  uint32_t rnd);

/* Map a WebSocket close code (0 when none) to a reason. */
enum backoff_reason backoff_reason_for_close(int close_code);

#endif
