/* backoff.h — retry delays with "full jitter" (AWS architecture blog): the delay for attempt
 * n is uniform in [0, min(cap, base * 2^n)]. One place decides how long to wait, so every
 * AWS caller retries alike. Thread-safe (per-thread PRNG state). */
#ifndef TP_BACKOFF_H
#define TP_BACKOFF_H

#include <stdint.h>

/* Delay in milliseconds before retry number attempt (0-based). Any attempt is fine: the
 * doubling stops at cap_ms, so callers need not clamp their counters. */
uint32_t tp_backoff_ms(unsigned attempt, uint32_t base_ms, uint32_t cap_ms);
/* Monotonic clock in milliseconds / nanoseconds. */
int64_t tp_now_mono_ms(void);
int64_t tp_now_mono_ns(void);
/* Wall clock, milliseconds since the Unix epoch. */
int64_t tp_now_wall_ms(void);
/* Sleep, restarting on EINTR. */
void tp_sleep_ms(uint32_t ms);

#endif
