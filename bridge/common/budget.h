/* budget.h: the upstream message budget, a sliding window (pure; the caller passes time).
 *
 * The server counts client messages in any rolling 60 s; so do we: at most `limit` sends
 * in any window of `window_ms`, remembered as the times of the last `limit` sends. */
#ifndef PP_BUDGET_H
#define PP_BUDGET_H

#include <stdint.h>

struct budget;

struct budget *budget_new(uint32_t limit, uint32_t window_ms);
void budget_destroy(struct budget **self_p);
/* Sends still allowed at now_ms. */
uint32_t budget_left(const struct budget *b, uint64_t now_ms);
/* Take one send at now_ms: 0, or -1 when the window is full (nothing recorded). */
int budget_take(struct budget *b, uint64_t now_ms);
/* Milliseconds until one send is allowed (0 when allowed now). */
uint64_t budget_wait_ms(const struct budget *b, uint64_t now_ms);

#endif
