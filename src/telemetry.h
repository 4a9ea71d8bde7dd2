/*
 * telemetry.h - energy and power measurement as its users see it: the sources
 * a session measures, their samples, and window queries over the per-source
 * energy timelines ("how much energy in [t0, t1]", sums by scope). The session
 * is opaque: its lock, sampler threads and back-end instances stay inside
 * telemetry.c. Back-end implementers include telemetry_backend.h. See
 * docs/telemetry.md for the method.
 */
#ifndef IPW_TELEMETRY_H
#define IPW_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

#include "timeline.h"
#include "util.h"

/* What kind of domain a source measures. */
enum source_kind {
	SOURCE_GPU,        /* one discrete accelerator */
	SOURCE_CPU_PACKAGE,/* one CPU package (RAPL package-N) */
	SOURCE_CPU_CORE,   /* RAPL core sub-zone (inside package: not summed) */
	SOURCE_DRAM,       /* RAPL dram zone */
	SOURCE_PSYS,       /* RAPL psys (whole platform: not summed) */
	SOURCE_SOC_CPU,    /* Apple SoC CPU rail */
	SOURCE_SOC_GPU,    /* Apple SoC GPU rail */
	SOURCE_SOC_ANE,    /* Apple Neural Engine */
	SOURCE_OTHER,
};

/* Which headline sum a source counts toward. */
enum source_scope {
	SCOPE_ACCELERATOR, /* the paper's scope */
	SCOPE_HOST,        /* CPU package + DRAM */
	SCOPE_NONE,        /* measured and shown, but inside another source (core, psys): not summed */
};

/* Capability bits: what a source can measure. */
#define CAP_ENERGY      (1u << 0) /* cumulative energy counter */
#define CAP_POWER       (1u << 1) /* power reading (see power_kind) */
#define CAP_TEMPERATURE (1u << 2)
#define CAP_MEMORY      (1u << 3)

/* Validity bits of one sample: a field without its bit was not measured. */
#define SAMPLE_ENERGY   (1u << 0)
#define SAMPLE_POWER    (1u << 1)
#define SAMPLE_TEMP     (1u << 2)
#define SAMPLE_MEM_USED (1u << 3)
#define SAMPLE_MEM_TOTAL (1u << 4)

enum power_kind {
	POWER_NONE,
	POWER_INSTANT,   /* instantaneous (NVML field 186, amdsmi current socket power) */
	POWER_AVERAGE,   /* a moving average (NVML PowerUsage ~1 s): shown, never integrated */
	POWER_INTERVAL,  /* mean over the interval since the previous sample (powermetrics) */
};

/* One measured domain, as discovered by a back-end's probe. */
struct source_info {
	char name[64];        /* unique and stable: "nvidia:0", "rapl:package-0", "apple:gpu" */
	char backend[16];     /* "nvidia", "amd", "rapl", "apple", "fake" */
	enum source_kind kind;
	enum source_scope scope;
	unsigned caps;        /* CAP_* */
	enum power_kind power_kind;
	int index;            /* the back-end's own index (NVML index, amdsmi index, zone number) */
	char model[128];      /* "NVIDIA H200", "package-0", ... */
	char uuid[96];        /* GPU UUID where known, else "" */
	char pci_bus_id[32];  /* "00000000:1B:00.0" where known, else "" */
	char driver[64];      /* driver / library version where known, else "" */
	double power_limit_w; /* NAN when unknown */
	double mem_total_bytes; /* NAN when unknown */
	/* Counter wraps back to 0 after this many joules (RAPL max_energy_range_uj); 0 = never. */
	double energy_wrap_j;
	/*
	 * How often the counter itself updates, in seconds: NVML ~0.1, RAPL ~0.001,
	 * 0 for a counter that is exact at the read time (energy the back-end
	 * derived itself), NAN when unknown (the step-midpoint rule is used).
	 */
	double counter_update_s;
	/*
	 * Between two counter knots, spread the energy in proportion to the
	 * instantaneous power samples rather than linearly (for sparse counter reads).
	 */
	int shape_with_power;
	/*
	 * The power readings describe the power this long before their time stamp
	 * (NVML's field 186 on an H200: ~65 ms, bench/RESULTS.md); 0 = no lag.
	 */
	double power_lag_s;
	char notes[256];      /* caveats shown to users, e.g. "instant power unavailable: 1 s average" */
	int selected;         /* set by telemetry_select(); back-ends read only selected sources */
};

/* One read of one source. Times are CLOCK_MONOTONIC ns; t_ns is the read's midpoint. */
struct sample {
	int64_t t_ns;
	int64_t read_ns;      /* how long the read took (t_end - t_start) */
	unsigned valid;       /* SAMPLE_* */
	double energy_j;      /* raw cumulative counter in joules (may wrap; see energy_wrap_j) */
	/*
	 * When nonzero, the instant (CLOCK_MONOTONIC ns) at which energy_j was the
	 * exact cumulative energy: a back-end that knows when its counter last
	 * stepped says so, and the timeline puts the knot there. 0 = unknown: the
	 * step-midpoint rule applies.
	 */
	int64_t energy_t_ns;
	double power_w;
	double temp_c;
	double mem_used_bytes;
	double mem_total_bytes;
};

/* Names of the enums, as stored and shown: "gpu", "accelerator", "instant". */
const char *source_kind_name(enum source_kind k);
const char *source_scope_name(enum source_scope s);
const char *power_kind_name(enum power_kind k);

/* Options that back-ends see (paths come from the environment when NULL). */
struct telemetry_opts {
	int interval_ms;          /* sampling period; 0 = back-end default */
	const char *fake_trace;   /* trace file for the fake back-end (or IPW_FAKE_TRACE) */
	const char *fake_profile; /* synthetic profile spec for the fake back-end (or IPW_FAKE_PROFILE) */
	double cpu_watts_per_core; /* the cputime back-end's estimate; <= 0: its default */
};

/* Options for which back-ends and sources take part. */
struct telemetry_select {
	const char *backends; /* comma list of back-end names to probe, NULL = all but fake */
	const char *devices;  /* --devices: indices or UUIDs (or PCI bus ids), NULL = honour *_VISIBLE_DEVICES */
	int host;             /* include host sources (RAPL) */
};

/* A telemetry session (opaque; telemetry_backend.h has its layout for back-ends and their tests). */
struct telemetry;

/*
 * Probes back-ends (none started) into a new session *out (freed with
 * telemetry_close). Never fails for an absent back-end; 0 or -1 (err).
 */
int telemetry_open(struct telemetry **out, const struct telemetry_opts *opts,
		   const struct telemetry_select *sel, char *err, size_t errlen);
/* Stops the samplers and frees the session; NULL is fine. */
void telemetry_close(struct telemetry *t);

/*
 * Called from sampler threads for every selected source's sample, with the
 * session's lock held: copy what is needed and return (never call back into
 * the session). src is the source's index (0 .. telemetry_nsources-1).
 */
typedef void (*sample_sink_fn)(void *arg, int src, const struct sample *s);

/* Starts one sampler thread per back-end that has selected sources (sink may be NULL). */
int telemetry_start(struct telemetry *t, sample_sink_fn sink, void *arg, char *err, size_t errlen);
/* Stops and joins the samplers (timelines are kept). */
void telemetry_stop(struct telemetry *t);

/* ---- what the session has (read-only; pointers live as long as the session) ---- */

/* The registry's names, in probe order: the i-th, or NULL past the end (no session needed). */
const char *telemetry_registry_name(size_t i);

/* Selected sources, in a stable order: index s of every per-source array below. */
int telemetry_nsources(const struct telemetry *t);
const struct source_info *telemetry_source(const struct telemetry *t, int s);
/* Back-ends in registry order: name, whether present, and why not ("" when present). */
int telemetry_nbackends(const struct telemetry *t);
const char *telemetry_backend_name(const struct telemetry *t, int b);
int telemetry_backend_present(const struct telemetry *t, int b);
const char *telemetry_backend_reason(const struct telemetry *t, int b);
const char *telemetry_backend_description(const struct telemetry *t, int b);
/* Every source back-end b found, selected or not (source_info.selected says), *n of them. */
const struct source_info *telemetry_backend_sources(const struct telemetry *t, int b, int *n);
/* The latest warning or sampler error ("" if none); copied into out (n bytes). */
void telemetry_last_error(struct telemetry *t, char *out, size_t n);
uint64_t telemetry_sampler_errors(struct telemetry *t);
/* CPU seconds the sampler threads used (known once they stop). */
double telemetry_sampler_cpu_s(struct telemetry *t);
/* When telemetry_start ran (CLOCK_MONOTONIC ns). */
int64_t telemetry_started_ns(const struct telemetry *t);
/* Samples source s has delivered so far. */
uint64_t telemetry_source_nsamples(struct telemetry *t, int s);

/* ---- samples and timelines ---- */

/* Called for each sample, in time order per source, with the lock held (copy, never call back in). */
typedef void (*telemetry_sample_fn)(void *arg, int src, const struct sample *s);
/*
 * Iterates the samples of every source from cursor[s] on (cursor: one entry
 * per source, advanced past what was visited; NULL = every sample). One
 * consistent snapshot: the samplers wait meanwhile.
 */
void telemetry_samples(struct telemetry *t, size_t *cursor, telemetry_sample_fn fn, void *arg);
/*
 * Runs fn on source s's timeline with the lock held (a consistent snapshot);
 * returns what fn returns. fn only reads the timeline and never calls back in.
 */
typedef int (*telemetry_timeline_fn)(void *arg, const struct timeline *tl);
int telemetry_with_timeline(struct telemetry *t, int s, telemetry_timeline_fn fn, void *arg);
/* Energy of source s over [t0, t1] / its cumulative energy at t / its covered span: 0, or -1 when not covered. */
int telemetry_source_energy(struct telemetry *t, int s, int64_t t0, int64_t t1, double *e);
int telemetry_source_span(struct telemetry *t, int s, int64_t *a, int64_t *b);
/* Largest valid value of a SAMPLE_* field of source s in [t0, t1], NAN if none. */
double telemetry_source_field_max(struct telemetry *t, int s, int64_t t0, int64_t t1, unsigned field);

/*
 * Sums v[s] (one value per source) over the sources of one scope. strict:
 * NAN when any of them is NAN; else NANs are skipped. NAN when nothing was
 * summed. *n (may be NULL) gets the sources of the scope (strict) or the
 * values summed (not strict).
 */
double telemetry_scope_sum(const struct telemetry *t, enum source_scope scope, const double *v, int strict,
			   int *n);

/*
 * Waits until every source's timeline covers t_ns (a counter step after t_ns
 * has been seen) or timeout_ns passes. Returns 0 when covered, -1 on timeout.
 */
int telemetry_wait_covered(struct telemetry *t, int64_t t_ns, int64_t timeout_ns);

/* Energy of [t0, t1] per selected source (out has telemetry_nsources entries; NAN where unknown). */
void telemetry_window(struct telemetry *t, int64_t t0, int64_t t1, double *out_j);

/* A window summary: energy per scope and power/temperature/memory over the window. */
struct window_energy {
	double accel_j, host_j, total_j; /* NAN when the scope has no sources or was not covered */
	int accel_n, host_n;             /* sources summed */
	double accel_mean_w;             /* accel_j / duration */
	double accel_peak_w;             /* max instantaneous power (NAN if none) */
	double temp_max_c;               /* max accelerator temperature (NAN if none) */
	double mem_max_bytes;            /* max accelerator memory used, summed over devices (NAN if none) */
};
void telemetry_window_summary(struct telemetry *t, int64_t t0, int64_t t1, struct window_energy *w);
/* Mean power per selected source over [t0, t1] (the idle baseline). */
void telemetry_mean_power(struct telemetry *t, int64_t t0, int64_t t1, double *out_w);

#endif
