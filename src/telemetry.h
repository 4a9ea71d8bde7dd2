/*
 * telemetry.h - energy and power measurement: back-ends (one ops struct each,
 * in src/telemetry/), the sources they expose, sampler threads, and the
 * per-source energy timelines that answer "how much energy in [t0, t1]".
 * See docs/telemetry.md for the method.
 */
#ifndef IPW_TELEMETRY_H
#define IPW_TELEMETRY_H

#include <pthread.h>
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

struct backend_instance;

/* Options that back-ends see (paths come from the environment when NULL). */
struct telemetry_opts {
	int interval_ms;          /* sampling period; 0 = back-end default */
	const char *fake_trace;   /* trace file for the fake back-end (or IPW_FAKE_TRACE) */
	const char *fake_profile; /* synthetic profile spec for the fake back-end (or IPW_FAKE_PROFILE) */
	double cpu_watts_per_core; /* the cputime back-end's estimate; <= 0: its default */
};

/*
 * A back-end. probe() discovers sources: on success it fills inst->sources,
 * inst->nsources and inst->priv and returns 0; when the back-end cannot be
 * used here it returns -1 with the reason in err ("libnvidia-ml.so.1 not found:
 * install the NVIDIA driver or set IPW_NVML_LIBRARY"). read() samples every
 * selected source into out[i] (out has nsources entries, zeroed by the caller;
 * it stamps each sample's t_ns itself). A back-end whose device produces
 * samples at its own pace (powermetrics) blocks in read() until the next one.
 * release() frees priv and sources. Back-ends never print and never exit.
 */
struct telemetry_backend {
	const char *name;
	const char *description;
	int default_interval_ms;
	int (*probe)(struct backend_instance *inst, const struct telemetry_opts *opts,
		     char *err, size_t errlen);
	int (*read)(struct backend_instance *inst, struct sample *out, char *err, size_t errlen);
	void (*release)(struct backend_instance *inst);
	/* Optional: wake a blocking read() so the sampler can stop; may be NULL. */
	void (*interrupt)(struct backend_instance *inst);
	/*
	 * Nonzero when the device paces the samples itself (read() blocks until
	 * the next one, e.g. powermetrics -i): the sampler never sleeps between
	 * reads, even with --interval (the back-end passes the interval on).
	 */
	int self_paced;
};

struct backend_instance {
	const struct telemetry_backend *ops;
	int present;
	char reason[IPW_ERRLEN];   /* why absent, or "" */
	struct source_info *sources;
	int nsources;
	void *priv;
};

/* The registry, in probe order; every back-end is compiled in. */
extern const struct telemetry_backend telemetry_nvidia;
extern const struct telemetry_backend telemetry_amd;
extern const struct telemetry_backend telemetry_rapl;
extern const struct telemetry_backend telemetry_apple;
extern const struct telemetry_backend telemetry_fake;
extern const struct telemetry_backend telemetry_cputime;
extern const struct telemetry_backend *const telemetry_backends[];

/* Helpers for back-ends. */
/* Returns "$IPW_SYSFS_ROOT" + path (or path itself); caller frees. */
char *telemetry_sysfs_path(const char *path);
/* Copies src into dst (of size n), truncating; dst is always NUL-terminated. */
void source_copy_str(char *dst, size_t n, const char *src);
/* Appends "; text" (or "text") to a source's notes, truncating quietly. */
void source_add_note(struct source_info *s, const char *text);
/* Stamps a sample: t_ns = midpoint of [t0, t1], read_ns = t1 - t0. */
void sample_stamp(struct sample *s, int64_t t0, int64_t t1);
const char *source_kind_name(enum source_kind k);
const char *source_scope_name(enum source_scope s);
const char *power_kind_name(enum power_kind k);

/* Per-source state kept by the session: its timeline and the latest sample. */
struct source_state {
	struct source_info *info;  /* points into its backend_instance */
	struct backend_instance *inst;
	struct timeline tl;
	struct sample last;
	uint64_t nsamples;
};

/* Called from sampler threads for every selected source's sample (may be NULL). */
typedef void (*sample_sink_fn)(void *arg, const struct source_state *src, const struct sample *s);

/*
 * A telemetry session: all back-ends probed, the selected sources, and one
 * sampler thread per present back-end with selected sources.
 */
struct telemetry {
	struct backend_instance *insts;
	int ninsts;
	struct source_state *srcs;   /* selected sources only */
	int nsrcs;
	pthread_mutex_t lock;        /* guards timelines and last samples */
	pthread_cond_t cond;         /* signalled after each sample */
	pthread_t *threads;
	int nthreads;
	volatile int stopping;
	int interval_ms;
	sample_sink_fn sink;
	void *sink_arg;
	int64_t t_start_ns;
	uint64_t sampler_errors;
	int64_t sampler_cpu_ns;      /* CPU time the sampler threads used (summed when they stop) */
	char last_error[IPW_ERRLEN];
};

/* Options for which back-ends and sources take part. */
struct telemetry_select {
	const char *backends; /* comma list of back-end names to probe, NULL = all but fake */
	const char *devices;  /* --devices: indices or UUIDs (or PCI bus ids), NULL = honour *_VISIBLE_DEVICES */
	int host;             /* include host sources (RAPL) */
};

/* Probes back-ends (none started). Never fails for an absent back-end; 0 or -1 (err). */
int telemetry_init(struct telemetry *t, const struct telemetry_opts *opts,
		   const struct telemetry_select *sel, char *err, size_t errlen);
/* Starts one sampler thread per back-end that has selected sources. */
int telemetry_start(struct telemetry *t, sample_sink_fn sink, void *arg, char *err, size_t errlen);
/* Stops and joins the samplers (timelines are kept). */
void telemetry_stop(struct telemetry *t);
void telemetry_release(struct telemetry *t);

/*
 * Waits until every source's timeline covers t_ns (a counter step after t_ns
 * has been seen) or timeout_ns passes. Returns 0 when covered, -1 on timeout.
 */
int telemetry_wait_covered(struct telemetry *t, int64_t t_ns, int64_t timeout_ns);

/* Energy of [t0, t1] per selected source (out has nsrcs entries; NAN where unknown). */
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
