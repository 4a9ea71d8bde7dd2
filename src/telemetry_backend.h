/*
 * telemetry_backend.h - for back-end implementers (one file each in src/telemetry/) and
 * their tests: the ops struct every back-end fills, a back-end's instance
 * (the sources its probe found), the registry, helpers, and the layout of a
 * telemetry session. Nothing else includes this: the rest of ipw uses the
 * accessors of telemetry.h. docs/telemetry.md, "Adding a back-end".
 */
#ifndef IPW_TELEMETRY_BACKEND_H
#define IPW_TELEMETRY_BACKEND_H

#include <pthread.h>

#include "telemetry.h"

struct backend_instance;

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
	/*
	 * The environment variables that limit which of this back-end's GPUs a
	 * run sees without --devices (the runtime's *_VISIBLE_DEVICES), in order
	 * of precedence: the first one set applies. NULL-terminated; NULL = none.
	 */
	const char *const *visible_devices_env;
	/*
	 * The variable that makes the runtime order numeric ordinals by PCI bus
	 * id (when it is set, ipw does not warn about mixed models); NULL = none.
	 */
	const char *device_order_env;
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

/* Per-source state kept by the session: its timeline and the latest sample. */
struct source_state {
	struct source_info *info;  /* points into its backend_instance */
	struct backend_instance *inst;
	struct timeline tl;
	struct sample last;
	uint64_t nsamples;
};

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

/*
 * Probes back-ends into a caller-provided session (back-end tests keep it on
 * the stack); telemetry_open is the same with allocation. 0 or -1 (err).
 */
int telemetry_init(struct telemetry *t, const struct telemetry_opts *opts,
		   const struct telemetry_select *sel, char *err, size_t errlen);
void telemetry_release(struct telemetry *t);

#endif
