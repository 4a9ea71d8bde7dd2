/*
 * clock.c - monotonic and wall-clock time.
 */
#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t clock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

double clock_wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void clock_sleep_until_ns(int64_t t_ns)
{
	struct timespec ts;
	ts.tv_sec = t_ns / NS_PER_S;
	ts.tv_nsec = t_ns % NS_PER_S;
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void clock_sleep_ns(int64_t ns)
{
	if (ns > 0)
		clock_sleep_until_ns(clock_now_ns() + ns);
}

void clock_format_iso(double wall_s, char *out, int outlen)
{
	time_t t = (time_t)wall_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, (size_t)outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
