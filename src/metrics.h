/*
 * metrics.h - accuracy, intelligence per watt (IPW) and per joule (IPJ) on
 * gross and dynamic energy, J/token and tokens/J, each with a percentile
 * bootstrap confidence interval; overall and per subject. Pure arithmetic on
 * per-query arrays. See docs/metrics.md.
 */
#ifndef IPW_METRICS_H
#define IPW_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_BOOTSTRAP 2000
#define METRICS_LEVEL 0.95
#define METRICS_SEED 0x1b873593a5a5c3d1ULL

/* A point estimate and its interval; NAN where it cannot be computed. */
struct metric_value {
	double value, ci_low, ci_high;
};

struct metrics {
	int n;          /* queries given */
	int n_scored;   /* not failed and scored 0 or 1: the set every metric uses */
	int n_failed;   /* failed queries (excluded) */
	int n_unscored; /* not failed but unscored, acc -1 (excluded) */
	int n_correct;  /* scored queries with acc 1 */
	int n_energy;   /* scored queries with measured gross energy and latency > 0 */
	int n_dynamic;  /* of those, the ones with measured dynamic energy */
	int n_tokens;   /* of n_energy, the ones with a token count */
	struct metric_value accuracy;     /* mean acc over the scored queries */
	struct metric_value ipw;          /* mean acc / mean P, P = E / latency   [1/W] */
	struct metric_value ipj;          /* mean acc / mean E                   [1/J] */
	struct metric_value ipw_dynamic;  /* the same on dynamic energy          [1/W] */
	struct metric_value ipj_dynamic;  /*                                     [1/J] */
	struct metric_value j_per_token;  /* sum E / sum tokens                  [J] */
	struct metric_value tokens_per_j; /* sum tokens / sum E                  [1/J] */
	struct metric_value power_w;      /* mean P                              [W] */
	struct metric_value energy_j;     /* mean E                              [J] */
};

/*
 * Per-query arrays, all of length n. acc, energy_j and latency_s are
 * required; the others may be NULL. "Not measured" is NAN (energy, latency,
 * tokens) or a negative token count.
 */
struct metrics_input {
	size_t n;
	const int *acc;             /* 1 correct, 0 wrong, -1 unscored */
	const double *energy_j;     /* gross energy of the query (J) */
	const double *dynamic_j;    /* energy above the idle baseline (J), or NULL */
	const double *latency_s;    /* end-to-end latency (s) */
	const int *failed;          /* nonzero = the request failed, or NULL */
	const char *const *subject; /* subject / domain (NULL entries = ""), or NULL */
	const double *tokens;       /* tokens for J/token (ipw passes output tokens), or NULL */
};

struct metrics_options {
	int bootstrap;      /* resamples B; 0 = no intervals (NAN) */
	uint64_t seed;      /* seeds the resampling; same seed, same intervals */
	double level;       /* interval coverage, e.g. 0.95 */
};

/* B = 2000, level 0.95, seed METRICS_SEED. */
void metrics_options_init(struct metrics_options *o);

/*
 * Computes the metrics over all queries (o NULL = defaults). Returns 0, or -1
 * with err set when a required array is missing or an option is out of range.
 */
int metrics_compute(const struct metrics_input *in, const struct metrics_options *o,
		    struct metrics *out, char *err, size_t errlen);

/* One subject's metrics. */
struct subject_metrics {
	char *subject; /* owned; "" for queries without one */
	struct metrics m;
};

/*
 * Computes the metrics for each subject, sorted by subject name; *out is a
 * newly allocated array of *nout entries, freed with subject_metrics_free().
 * Each subject is resampled on its own, with a seed derived from o->seed and
 * the subject's name. Returns 0 or -1 (err set).
 */
int metrics_by_subject(const struct metrics_input *in, const struct metrics_options *o,
		       struct subject_metrics **out, size_t *nout, char *err, size_t errlen);
void subject_metrics_free(struct subject_metrics *s, size_t n);

/*
 * IPW on the device's power, beside IPW on each request's share of it. Over
 * the queries IPW uses (not failed, scored, energy measured, latency > 0):
 * device power = sum of their energies / the union of their [send, end]
 * windows (the mean power of the device while at least one of them ran),
 * IPW_device = their accuracy / device power. At concurrency 1 it equals
 * power_w's IPW up to the gaps; with N requests in flight the request's share
 * is about device power / N. Point estimates (no intervals).
 */
struct device_power {
	int n;                 /* queries used */
	double energy_j;       /* sum of their energies (J) */
	double busy_s;         /* length of the union of their windows (s) */
	double request_s;      /* sum of their latencies (s) */
	double power_w;        /* energy_j / busy_s (W) */
	double in_flight;      /* request_s / busy_s: mean requests in flight while busy */
	double accuracy;       /* their mean accuracy */
	double ipw;            /* accuracy / power_w (1/W) */
};

/* t_send, t_end: each query's window (run seconds). Fields NAN when nothing counts. */
void metrics_device_power(const struct metrics_input *in, const double *t_send, const double *t_end,
			  struct device_power *out);

/* Length of the union of the intervals [t0[i], t1[i]] (finite, t1 >= t0 only). */
double metrics_busy_seconds(const double *t0, const double *t1, size_t n);


#endif
