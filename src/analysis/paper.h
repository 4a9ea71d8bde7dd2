/*
 * analysis/paper.h - per-run model metadata (family, release date, total and
 * active parameters, quantisation) and accelerator peaks (FLOP/s, memory
 * bandwidth) from a metadata file (--model-meta FILE), and the compute
 * analysis built on them: FLOPs per query as 2 x active and 2 x total
 * parameters x tokens, FLOPs per joule, MFU and MBU, IPW on the device's
 * power; intervals.c: one interval method per figure. Never prints.
 * Definitions: docs/metrics.md "Compute"; file format: docs/analysis.md.
 */
#ifndef IPW_ANALYSIS_PAPER_H
#define IPW_ANALYSIS_PAPER_H

#include <stddef.h>

#include "aggregate.h"
#include "analysis.h"
#include "record.h"
#include "util.h"

/* One model's entry; NAN / NULL where the file does not say. */
struct model_meta {
	char *key;              /* as in the file; matches a run's id, name, model or server model */
	char *family;           /* "qwen3" */
	char *released;         /* as given: "2025", "2025-04" or "2025-04-29" */
	int rel_year, rel_month, rel_day; /* 0 where not given */
	double total_params;    /* all parameters */
	double active_params;   /* parameters used per token (= total for a dense model) */
	char *quant;            /* "bf16", "q4_k_m", ... */
	double bits_per_weight; /* given, or from quant (meta_quant_bits); NAN unknown */
};

/* One accelerator's peaks (per device); NAN where not given. */
struct accel_meta {
	char *key;              /* the accelerator sources' model name, e.g. "NVIDIA H200" */
	double peak_flops;      /* FLOP/s at the precision the runs use */
	double peak_bw;         /* memory bandwidth, bytes/s */
	int local;              /* 1 "local", 0 "cloud", -1 not said (local-vs-cloud tables) */
};

struct meta_file {
	char *path;
	struct model_meta *m;
	size_t nm;
	struct accel_meta *a;
	size_t na;
};

/*
 * Reads a metadata file: a JSON object {"models": {KEY: {...}}, "accelerators":
 * {NAME: {...}}} (either member may be left out). Model members: family,
 * released, total_params, active_params (numbers or counts like "8B"),
 * quantization, bits_per_weight; accelerator members: peak_flops,
 * peak_bandwidth (numbers or "989T"), class ("local" or "cloud"). Unknown
 * members are an error (a misspelt one would silently read as "not given").
 * 0, or -1 with err naming the file and the entry. Release with meta_release.
 */
int meta_read(const char *path, struct meta_file *f, char *err, size_t errlen);
/* The same on data[0..len); name stands for the path in errors. */
int meta_read_mem(const char *name, const char *data, size_t len, struct meta_file *f, char *err, size_t errlen);
void meta_release(struct meta_file *f);

/* The entry for run r (its id, name, model, server model, in that order), or NULL. */
const struct model_meta *meta_model_of(const struct meta_file *f, const struct run_record *r);

/*
 * The run's accelerator: the model name of its accelerator-scope sources and
 * their number (*count). NULL when it has none or they are of different models.
 */
const char *meta_run_accelerator(const struct run_record *r, int *count);
/* The entry for accelerator name, or NULL. */
const struct accel_meta *meta_accel_find(const struct meta_file *f, const char *name);

/* Bits per weight a quantisation name implies (docs/metrics.md's table), or NAN. */
double meta_quant_bits(const char *quant);

/*
 * Fills model[i].total_params from the file and active_params where the
 * --params file left it NAN. A run without an entry is an error.
 */
int analysis_route_meta(const struct meta_file *f, const struct run_record *runs, size_t n, struct route_model *model,
			char *err, size_t errlen);

/* ---- compute ---- */

/* One run's compute; NAN where an input is missing (never 0 for unknown). */
struct run_compute {
	long long n_queries;      /* ok queries */
	long long n_tokens;       /* of them, with prompt and output token counts */
	double tokens;            /* sum of prompt + output tokens over those */
	double output_tokens;     /* sum of output tokens over those */
	double flops_active;      /* sum of 2 x active parameters x tokens */
	double flops_total;       /* sum of 2 x total parameters x tokens */
	double energy_j;          /* sum of gross accelerator energy over the queries with tokens and energy */
	double flops_active_energy; /* sum of flops_active over those same queries (for FLOPs/J) */
	double flops_per_j;       /* flops_active_energy / energy_j */
	double busy_s;            /* length of the union of the queries' [send, end] windows */
	double flops_per_s;       /* flops_active / busy_s: the device's achieved FLOP/s */
	double peak_flops;        /* per device x devices; NAN unknown */
	double mfu;               /* flops_per_s / peak_flops */
	double decode_s;          /* sum over queries with tokens of (latency - TTFT) */
	double bytes_per_token;   /* active parameters x bits per weight / 8 */
	double bytes_per_s;       /* bytes_per_token x output tokens / decode_s (batch-1 model) */
	double peak_bw;           /* per device x devices; NAN unknown */
	double mbu;               /* bytes_per_s / peak_bw */
};

/*
 * The compute of run d (its queries) for a model with active and total
 * parameters and bits per weight (any may be NAN), on an accelerator with
 * the given peaks (NAN unknown).
 */
void analysis_compute(const struct run_data *d, double active, double total, double bits, double peak_flops,
		      double peak_bw, struct run_compute *out);

/* metrics_device_power over run_id's queries (loaded with run_data_load); 0 or -1 (err set). */
int analysis_device_power(struct store *s, const char *run_id, struct device_power *out, char *err, size_t errlen);

/* ---- difficulty levels ---- */

/*
 * An item's level is the smallest size class of a run that answered it
 * right: level b (0-based) for class b, the classes being total parameters
 * <= bounds[0], <= bounds[1], ..., and > bounds[nb - 1] (level nb); level
 * nb + 1 is "unsolved": scored by some run, answered right by none. Items no
 * run scored have no level (n_unscored).
 */
#define LEVELS_DEFAULT_BOUNDS "4B,14B,32B"
struct level_result {
	size_t nb;                /* bounds */
	double *bounds;           /* total parameters, ascending (owned) */
	size_t nlevels;           /* nb + 2 */
	size_t nruns;
	int *run_class;           /* per run: its size class */
	long long *items;         /* per level: items */
	long long *scored;        /* nruns x nlevels: items of the level the run scored */
	long long *correct;       /* nruns x nlevels: of them, answered right */
	double *power_sum;        /* nruns x nlevels: sum of E/latency over those with energy and latency > 0 */
	double *energy_sum;       /* nruns x nlevels: sum of E over the same queries */
	long long *n_energy;      /* nruns x nlevels: those queries */
	long long n_items, n_unscored, n_dropped;
};

/*
 * Levels of the items of runs ids[0..n) merged by id (intersect as
 * coverage), with total[i] the total parameters of run i (finite > 0).
 * bounds ascending, > 0. Free with level_result_release.
 */
int analysis_levels(struct store *s, const char *const *ids, size_t n, const double *total, const double *bounds,
		    size_t nb, int intersect, struct level_result *out, char *err, size_t errlen);
void level_result_release(struct level_result *r);
/* Parses "4B,14B,32B" into ascending bounds (newly allocated); 0 or -1 (err set). */
int analysis_level_bounds(const char *list, double **bounds, size_t *nb, char *err, size_t errlen);

/* ---- rank stability ---- */

/*
 * Kendall's tau-b and Spearman's rho (Pearson correlation of average ranks)
 * between two scorings x and y of the same n things (higher = better; ties
 * allowed). NAN where undefined (n < 2, or a scoring that is all ties).
 */
double analysis_kendall_tau(const double *x, const double *y, size_t n);
double analysis_spearman_rho(const double *x, const double *y, size_t n);

/* The metrics a ranking can use. */
enum rank_metric { RANK_IPW, RANK_IPJ, RANK_ACCURACY };

/*
 * The metric of one run over its queries (the ratio of means, as metrics.h),
 * with idx (NULL = every query once) naming the queries to use: a bootstrap
 * resample passes its indices. NAN when nothing counts.
 */
double analysis_rank_value(const struct run_data *d, enum rank_metric m, const size_t *idx, size_t nidx);

struct rank_stability {
	size_t nruns;
	double *value;            /* per run: the metric over all its queries */
	int b;                    /* resamples */
	double tau_mean, tau_lo, tau_hi;  /* Kendall tau of each resample's ranking vs value's, mean and interval */
	double rho_mean, rho_lo, rho_hi;  /* the same for Spearman rho */
	double top_same;          /* share of resamples with the same top run */
};

/*
 * Resamples each run's queries b times (seeded) and compares the ranking of
 * each resample with the full-data ranking. Free with rank_stability_release.
 */
void analysis_rank_bootstrap(const struct run_data *const *d, size_t n, enum rank_metric m, int b, uint64_t seed,
			     double level, struct rank_stability *out);
void rank_stability_release(struct rank_stability *r);

/*
 * Rank stability by subset (ipw ranks --by, the report's ranks section): per
 * subset, the ranking on the subset's queries alone against the overall
 * ranking. Subsets: subjects (each run's queries of the subject), datasets
 * (each run has one dataset, so the things ranked are models: a model's runs
 * pooled, overall and per dataset) and difficulty levels (analysis_levels:
 * each run's queries of the items of the level). A subset some ranked thing
 * has no value on is left out.
 */
struct rank_subset {
	char *key;                /* the subject, the dataset, or the level "L1" ... (owned) */
	long long items;          /* subject, dataset: the first ranked thing's queries in it; level: its items */
	double tau, rho;          /* Kendall tau-b and Spearman rho against the overall values; NAN undefined */
};

struct rank_subsets {
	struct rank_subset *row;
	size_t nrows;
	/* by dataset: the models ranked, in first-appearance order */
	size_t nmodels;
	char **model;             /* owned */
	double *value;            /* the metric over the model's pooled runs */
	size_t *model_of;         /* per run given: its model's index */
	size_t ndatasets;         /* distinct datasets among the runs */
};

/* Subjects every run has (in the first run's order), against all[i] (run i's overall value). */
void analysis_rank_subjects(const struct run_data *const *d, size_t n, enum rank_metric m, const double *all,
			    struct rank_subsets *out);
/*
 * Datasets: run i is of model[i] on dataset[i] (keys compared as strings);
 * the models are ranked by the metric over their pooled runs, overall and on
 * each dataset that every model has a run on.
 */
void analysis_rank_datasets(const struct run_data *const *d, const char *const *model, const char *const *dataset,
			    size_t n, enum rank_metric m, struct rank_subsets *out);
/*
 * Difficulty levels of runs ids[0..n) (analysis_levels with total, bounds,
 * intersect) against all[i]; levels without items are left out. 0 or -1.
 */
int analysis_rank_levels(struct store *s, const char *const *ids, size_t n, const double *total,
			 const double *bounds, size_t nb, int intersect, enum rank_metric m, const double *all,
			 struct rank_subsets *out, char *err, size_t errlen);
void rank_subsets_release(struct rank_subsets *r);
/*
 * The keys analysis_rank_datasets groups runs by, for ipw ranks and the
 * report: the run's model (else its server's model, else its name), and its
 * dataset as recorded (the path, else the SHA-256, else "(no dataset)").
 */
const char *rank_model_key(const struct run_record *r);
const char *rank_dataset_key(const struct run_record *r);
/*
 * The queries of d[0..n) as one run (acc, failed, energy_j, latency_s only;
 * what analysis_rank_value reads). Free with run_data_release.
 */
void analysis_rank_pool(const struct run_data *const *d, size_t n, struct run_data *out);

/* ---- repeats ---- */

/* Mean, sample standard deviation and count of the finite values of v[0..n). */
void analysis_mean_sd(const double *v, size_t n, double *mean, double *sd, size_t *k);

/* ---- gross domestic intelligence ---- */

/* One class of devices of a scenario. */
struct gdi_class {
	char *name;             /* owned */
	double count;           /* devices */
	double power_w;         /* each device's power while serving (W) */
	double duty;            /* share of the time each serves, in [0, 1] */
	double ipw;             /* intelligence per watt of the class (1/W) */
	char *ipw_run;          /* the run the IPW was measured on, or NULL (given in the file); owned */
	/* computed */
	double power_avail_w;   /* count x power x duty */
	double gdi;             /* ipw x power_avail_w */
};

struct gdi_scenario {
	char *path;
	struct gdi_class *dev;  /* local device classes */
	size_t ndev;
	struct gdi_class dc;    /* the datacenter (count 1, duty 1 unless given) */
	double gdi_local, gdi_dc, gdi_total, factor, power_local_w;
};

/*
 * Reads a scenario file: {"devices": [{"name", "count", "power_w",
 * "duty_cycle", "ipw" or "ipw_run"}...], "datacenter": {"name", "power_w",
 * "ipw" or "ipw_run", optional "duty_cycle"}}. A class with "ipw_run" gets
 * its ipw from the caller (gdi_compute takes them filled). 0 or -1 (err set).
 */
int gdi_read(const char *path, struct gdi_scenario *sc, char *err, size_t errlen);
/* The same on data[0..len); name stands for the path in errors. */
int gdi_read_mem(const char *name, const char *data, size_t len, struct gdi_scenario *sc, char *err, size_t errlen);
/* Computes each class's accessible power and GDI, the totals and the factor with / without local devices. */
void gdi_compute(struct gdi_scenario *sc);
void gdi_release(struct gdi_scenario *sc);
/* 1 when a class names its IPW by "ipw_run" (gdi_fill_measured needs the store), else 0. */
int gdi_needs_store(const struct gdi_scenario *sc);
/*
 * Fills the IPW of every class that names "ipw_run": the run's IPW
 * (accuracy / mean power per query, agg_run point estimate), and replaces
 * the reference by the run's id. 0, or -1 (err set: unknown run, no IPW).
 */
int gdi_fill_measured(struct store *s, struct gdi_scenario *sc, char *err, size_t errlen);
/*
 * The formulas and assumptions printed with every result (ipw gdi and the
 * report's GDI section), NULL-terminated; gdi_formulas_json are the formulas
 * as expressions over the JSON output's names.
 */
extern const char *const gdi_formulas[];
extern const char *const gdi_formulas_json[];
extern const char *const gdi_assumptions[];

/* ---- trends over release dates ---- */

enum trend_period { TREND_YEAR, TREND_HALF, TREND_QUARTER };

/* "year", "half", "quarter" -> the period; -1 otherwise. */
int trend_period_parse(const char *s);
/* The release period of a model ("2025", "2025-H1", "2025-Q2"); 0, or -1 when its date has no month. */
int trend_period_of(const struct model_meta *mm, enum trend_period p, char *out, size_t n);

/* One period, or (the last row, nruns 0) the span from the first period's best to the last's. */
struct trend_row {
	char period[96];          /* "2025", or "2024->2025" for the span row */
	size_t nruns;             /* runs of the period; 0 on the span row */
	long best;                /* index of the period's run with the highest IPW, -1 none (span row: -1) */
	double coverage;          /* best-of-period coverage; NAN when not computable (why says) */
	char *why;                /* owned, or NULL */
	int has_factor;           /* at is filled: the change from the previous period's best (span: first) */
	struct attribution at;
};

struct trend_result {
	struct trend_row *rows;   /* periods in order, then the span row when there are two periods or more */
	size_t nrows;
};

/*
 * Runs ids[0..n) of release periods period[i] (labels that sort in time
 * order) and metrics m[i]: per period the best run by IPW (the paper's
 * Table 2: the best model on the best accelerator), best-of-period coverage
 * (intersect as coverage), and the IPW change from the previous period's
 * best factored into accuracy (the model) and power (the hardware) by
 * analysis_attribute with o's bootstrap, or with delta-method intervals
 * when delta is set. 0, or -1 (err set) when a run's queries cannot be
 * read. Free with trend_result_release.
 */
int analysis_trends(struct store *s, char *const *ids, const char *const *period, const struct metrics *const *m,
		    size_t n, int intersect, const struct metrics_options *o, int delta, struct trend_result *out,
		    char *err, size_t errlen);
void trend_result_release(struct trend_result *r);

/* ---- local against cloud ---- */

/* Best-of-local and best-of-cloud coverage of the runs of each class. */
struct lc_coverage {
	int have[2];              /* [0] cloud, [1] local: the result is filled */
	struct coverage_result c[2];
	char why[2][IPW_ERRLEN];  /* why not, where not have */
};

/* Coverage of the runs with local[i] == 1 and of those with 0 (intersect as coverage). Never fails. */
void analysis_lc_coverage(struct store *s, char *const *ids, const int *local, size_t n, int intersect,
			  struct lc_coverage *out);
void lc_coverage_release(struct lc_coverage *c);
/* Best-of-N coverage of one subject in c, NAN when c has no such subject. */
double coverage_subject_best(const struct coverage_result *c, const char *subject);
/* c / l, NAN unless both are finite and l > 0. */
double lc_ratio(double c, double l);

/* ---- one interval method per figure ---- */

/*
 * The interval method every row of one figure (table or plot) over runs
 * ids[0..n) gets: the requested one, or for AGG_CI_AUTO bootstrap when every
 * run has at most AGG_CI_AUTO_MAX scored queries and the delta method when
 * any has more. *max_scored (may be NULL) gets the largest run's count.
 * 0 or -1 (err set).
 */
int analysis_figure_ci(struct store *s, char *const *ids, size_t n, enum agg_ci requested, enum agg_ci *out,
		       long long *max_scored, char *err, size_t errlen);
/* The rule itself: requested unless auto; auto: delta when most > AGG_CI_AUTO_MAX. */
enum agg_ci analysis_ci_decide(enum agg_ci requested, long long most);
/* "bootstrap" or "delta" for a decided method. */
const char *analysis_ci_name(enum agg_ci ci);

#endif
