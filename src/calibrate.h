/*
 * calibrate.h - a known on/off load (GPU through the CUDA driver API,
 * dlopen'ed, with a burn kernel shipped as PTX text; CPUs through busy
 * threads) and how the measured energy timelines follow it: counter step,
 * rise and fall times, idle and loaded power, energy of the on and off
 * windows against what a perfect meter would show. See docs/calibrate.md.
 */
#ifndef IPW_CALIBRATE_H
#define IPW_CALIBRATE_H

#include <signal.h>
#include <stddef.h>

#include "util.h"

#define CALIB_MAX_PERIODS 8
#define CALIB_MAX_SOURCES 16

struct calib_opts {
	int gpu, cpu;              /* which loads to drive */
	double idle_s;             /* idle before the pattern (default 2) */
	double periods[CALIB_MAX_PERIODS]; /* on (= off) lengths, seconds: 1, 0.5, 0.2 */
	int nperiods;
	int cycles;                /* on/off cycles per period (default 3) */
	int threads;               /* CPU busy threads; 0 = every online CPU */
	int cuda_device;           /* CUDA ordinal for the GPU load */
	/* telemetry */
	const char *backends, *devices;
	int host, interval_ms;
	const char *fake_profile, *fake_trace;
	volatile sig_atomic_t *stop;
};

void calib_opts_init(struct calib_opts *o);

/* How one period's windows measured. */
struct calib_period {
	double len_s;
	double on_j, off_j;             /* measured energy of all on / off windows */
	double on_expect_j, off_expect_j; /* loaded / idle power x their lengths */
};

/* One source under one load. NAN where not measurable. */
struct calib_source {
	char name[64];
	char scope[16];
	double step_s;          /* mean time between observed counter changes (or samples without a counter) */
	double update_s;        /* the counter's update period as the back-end declares it (NAN unknown) */
	int shaped;             /* energy between counter reads follows the power readings */
	double idle_w, loaded_w;
	double rise_s, fall_s;  /* edge to 90% of the step up / 10% left of it down (median over edges) */
	struct calib_period per[CALIB_MAX_PERIODS];
};

struct calib_part {
	char load[8];           /* "gpu" / "cpu" */
	int ran;
	char skipped[IPW_ERRLEN + 64]; /* why not, when !ran */
	char what[256];         /* "NVIDIA H100 (132 SMs), 1056 blocks x 256 threads", "16 threads" */
	int nperiods;
	int nsrcs;
	struct calib_source src[CALIB_MAX_SOURCES];
};

struct calib_report {
	struct calib_part gpu, cpu;
};

/*
 * Drives the pattern on each requested load in turn and analyses every
 * selected telemetry source. A load that cannot run (no libcuda.so.1, no
 * device) is skipped with its reason; 0 unless telemetry cannot start or
 * the user stops it (-1 with err).
 */
int calibrate_run(const struct calib_opts *o, struct calib_report *rep, char *err, size_t errlen);

/* The PTX text of the burn kernel (entry "ipw_burn"), for tests that assemble it. */
extern const char calibrate_ptx[];

#endif
