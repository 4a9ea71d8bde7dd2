/*
 * bench/gpu_window.c - dumps ipw's energy timeline for the first NVIDIA GPU:
 * samples for D seconds with the back-end's default policy (or the one in
 * IPW_NVML_ENERGY_READS), then prints "t_ns energy_j" every 10 ms over the
 * covered span (CLOCK_MONOTONIC, the clock Python's time.monotonic_ns reads),
 * the knots, the power samples (P t_ns W) and the process's CPU time. bench/gpu/window_compare.py compares
 * windows of it with an independent dense trace of the counter.
 * usage: gpu_window SECONDS > out.txt
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "clock.h"
#include "telemetry.h"
#include "timeline.h"

/* Prints the timeline of source 0 (called with the session's lock held; only prints). */
static int dump(void *arg, const struct timeline *tl)
{
	int64_t a, b;

	(void)arg;
	for (size_t i = 0; i < tl->n; i++)
		if (tl->samples[i].valid & SAMPLE_POWER)
			printf("P %lld %.3f\n", (long long)tl->samples[i].t_ns, tl->samples[i].power_w);
	for (size_t k = 0; k < tl->nk; k++)
		printf("K %lld %.6f\n", (long long)tl->knots[k].t, tl->knots[k].e);
	if (timeline_span(tl, &a, &b) == 0)
		for (int64_t x = a; x <= b; x += 10 * NS_PER_MS) {
			double e;
			if (timeline_energy_at(tl, x, &e) == 0)
				printf("E %lld %.6f\n", (long long)x, e);
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct telemetry *t = NULL;
	struct telemetry_opts o = {0};
	struct telemetry_select sel = {.backends = "nvidia", .devices = "0"};
	char err[IPW_ERRLEN] = "";
	double secs = argc > 1 ? atof(argv[1]) : 20;
	int64_t t0;
	struct rusage ru;

	if (telemetry_open(&t, &o, &sel, err, sizeof(err)) < 0 || telemetry_nsources(t) < 1) {
		fprintf(stderr, "gpu_window: no NVIDIA GPU: %s\n", err);
		telemetry_close(t);
		return 1;
	}
	t0 = clock_now_ns();
	if (telemetry_start(t, NULL, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "gpu_window: %s\n", err);
		telemetry_close(t);
		return 1;
	}
	clock_sleep_ns((int64_t)(secs * 1e9));
	telemetry_stop(t);
	getrusage(RUSAGE_SELF, &ru);
	printf("# notes %s\n", telemetry_source(t, 0)->notes);
	printf("# cpu_s %.6f wall_s %.6f samples %llu\n",
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
	       (double)(clock_now_ns() - t0) / 1e9, (unsigned long long)telemetry_source_nsamples(t, 0));
	telemetry_with_timeline(t, 0, dump, NULL);
	telemetry_close(t);
	return 0;
}
