/*
 * clock.h - the one clock every timestamp in ipw comes from: CLOCK_MONOTONIC
 * in nanoseconds (never steps with wall-clock changes). Wall time is used only
 * to label runs for people.
 */
#ifndef IPW_CLOCK_H
#define IPW_CLOCK_H

#include <stdint.h>

int64_t clock_now_ns(void);
/* Seconds since the Unix epoch (CLOCK_REALTIME), for labels only. */
double clock_wall_s(void);
/* Sleeps until the monotonic time t_ns (returns early if interrupted by a signal). */
void clock_sleep_until_ns(int64_t t_ns);
void clock_sleep_ns(int64_t ns);
/* Formats a wall time as ISO 8601 UTC ("2026-11-21T05:54:59Z"). */
void clock_format_iso(double wall_s, char *out, int outlen);

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL

#endif
