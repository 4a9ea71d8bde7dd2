/*
 * analysis.h - findings from stored runs: runs merged by item id, coverage
 * and best-of-N coverage, the hybrid-routing simulation (oracle, router of
 * accuracy p exactly and by seeded Monte Carlo, cascade), least-squares
 * regressions with R² and intervals, subject-weighted metrics and the
 * attribution of an IPW/IPJ change. Never prints. See docs/analysis.md.
 * Implemented in src/analysis/: merge.c (merging, run_data), coverage.c,
 * routing.c, comparison.c (compare rows, intervals, regressions,
 * attribution) and weights.c; the statistics themselves are in stats.h.
 */
#ifndef IPW_ANALYSIS_H
#define IPW_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "metrics.h"
#include "stats.h"
#include "store.h"

/* ---- runs merged by item id, one cursor per run ---- */

struct analysis_merge {
	struct store *s;
	size_t n;
	const char *const *run_ids;  /* borrowed */
	struct store_cursor *cur;
	struct store_item *it;       /* current item of each cursor */
	int *live;                   /* cursor i has a current item */
	int *advance;                /* cursor i was handed out and moves on at the next call */
	int intersect;
	long long n_dropped;         /* items not in every run, dropped (intersect) */
};

/*
 * Opens one cursor per run (ids as the store assigned them). With intersect,
 * items missing from some run are skipped and counted in n_dropped; without,
 * they are an error naming the item and the run.
 */
int analysis_merge_open(struct analysis_merge *m, struct store *s, const char *const *run_ids, size_t n,
			int intersect, char *err, size_t errlen);
/* analysis_merge_open whose items hold only fields (STORE_ITEM_*) besides item_id, ok and correct. */
int analysis_merge_open_fields(struct analysis_merge *m, struct store *s, const char *const *run_ids, size_t n,
			       int intersect, unsigned fields, char *err, size_t errlen);
/*
 * The next item present in every run: items[i] is run i's record of it (valid
 * until the next call). 1, 0 when done, or negative with err set.
 */
int analysis_merge_next(struct analysis_merge *m, const struct store_item **items, char *err, size_t errlen);
void analysis_merge_close(struct analysis_merge *m);

/* ---- one run's queries in memory (for per-run analyses) ---- */

/* Arrays of length n in item_id order; NAN / -1 where not measured. */
struct run_data {
	size_t n;
	int *acc;                  /* 1, 0, -1 unscored */
	int *failed;               /* 1 if the request failed */
	double *energy_j, *dynamic_j, *latency_s, *ttft_s;
	double *prompt_tokens, *output_tokens; /* NAN unknown */
	double *t_send_s, *t_end_s;
	const char **subject;      /* interned: points into subjects[] */
	char **subjects;           /* distinct subject names, owned */
	size_t nsubjects;
};

/* Loads run_id's queries with their latest scores. Free with run_data_release. */
int run_data_load(struct store *s, const char *run_id, struct run_data *d, char *err, size_t errlen);
/* run_data_load of only fields (STORE_ITEM_*); the others are NAN (subject ""). */
int run_data_load_fields(struct store *s, const char *run_id, unsigned fields, struct run_data *d, char *err,
			 size_t errlen);
void run_data_release(struct run_data *d);
/*
 * d from rows read by the items cursor (agg_compare_load_with), field for
 * field what run_data_load reads: the same values, the same subjects in the
 * same order. Free with run_data_release.
 */
void run_data_from_rows(const struct agg_rows *rows, struct run_data *d);
/* The metrics_input view of d (output tokens for J/token). */
void run_data_metrics_input(const struct run_data *d, struct metrics_input *in);

/*
 * Percentile p (0..100) of the finite values of v (sorted in place) with a
 * distribution-free confidence interval from the binomial distribution of
 * order statistics (normal approximation): ranks n p / 100 -/+ z sqrt(n p (1 - p)).
 */
struct metric_value analysis_percentile_ci(double *v, size_t n, double p, double level);

/*
 * Replaces the intervals of m (computed from in by metrics_compute) with
 * normal-approximation (delta method) intervals at level: accuracy, power
 * and J/query as means, IPW, IPJ, J/token and tokens/J as ratios of means.
 * The same queries count as in metrics_compute; the dynamic-energy metrics'
 * intervals become NAN. O(n), for runs too large to resample quickly.
 */
void analysis_delta_ci(const struct metrics_input *in, double level, struct metrics *m);

/* Resolves run references to the ids the store assigned (newly allocated list, free_list). */
int analysis_resolve_runs(struct store *s, char *const *refs, size_t n, char ***ids, char *err, size_t errlen);

/* ---- coverage ---- */

struct coverage_counts {
	long long items;     /* items considered */
	long long scored;    /* ok and scored 0/1 (best-of-N: scored by at least one run) */
	long long correct;   /* answered right (best-of-N: by at least one run) */
	long long failed;    /* failed requests (best-of-N: unused) */
	long long unscored;  /* ok but unscored (best-of-N: scored by no run) */
};

/* correct / scored, NAN when nothing was scored. */
double coverage_value(const struct coverage_counts *c);

struct coverage_subject {
	char *subject;                 /* owned */
	struct coverage_counts *run;   /* one per run */
	struct coverage_counts best;
};

struct coverage_result {
	size_t nruns;
	struct coverage_counts *run;   /* per run, all subjects */
	struct coverage_counts best;   /* best-of-N over the runs */
	struct coverage_subject *subj; /* sorted by subject name */
	size_t nsubj;
	long long n_items;             /* items in every run (after dropping) */
	long long n_dropped;           /* items not in every run, dropped with intersect */
	long long n_uncovered;         /* scored by some run, answered right by none */
};

/*
 * Coverage of each run and best-of-N coverage, overall and per subject, over
 * the items of the runs merged by id. uncovered (may be NULL) is called for
 * every item that some run scored and no run answered right; a non-zero
 * return stops. Free with coverage_result_release.
 */
int analysis_coverage(struct store *s, const char *const *run_ids, size_t n, int intersect,
		      int (*uncovered)(const char *item_id, const char *subject, void *ctx), void *ctx,
		      struct coverage_result *out, char *err, size_t errlen);
void coverage_result_release(struct coverage_result *r);

/* ---- hybrid routing ---- */

enum route_objective { ROUTE_ENERGY, ROUTE_COST };

/* Per-run constants; NAN where not given. */
struct route_model {
	double active_params;   /* parameters active per token, for FLOPs = 2 x params x tokens */
	double price_in;        /* USD per 1M prompt tokens */
	double price_out;       /* USD per 1M output tokens */
	double total_params;    /* all parameters, for FLOPs = 2 x total x tokens (--compute total) */
};

/* Which parameter count compute (flops, saved_compute) is based on. */
enum route_compute { ROUTE_COMPUTE_ACTIVE, ROUTE_COMPUTE_TOTAL };

/*
 * The router's errors: one-sided (the paper's: an answerable query may go to
 * the cloud, nothing is kept local wrongly) or two-sided (also: a query no
 * local run answers right is kept local with probability 1 - p, and its
 * wrong answer delivered).
 */
enum route_misroute { ROUTE_ONE_SIDED, ROUTE_TWO_SIDED };

struct route_options {
	enum route_objective objective;
	const double *p;        /* router accuracies, each in [0, 1] */
	size_t np;
	int trials;             /* Monte Carlo trials per p; 0 = exact expectation only */
	uint64_t seed;
	double level;           /* interval of the Monte Carlo trials, e.g. 0.95 */
	int intersect;          /* drop items missing from a run, or unmeasured at the cloud */
	enum route_compute compute;   /* basis of flops / saved_compute (default active) */
	enum route_misroute misroute; /* default one-sided */
};

/* A value and, for Monte Carlo rows, its spread over trials (NAN otherwise). */
struct route_value {
	double value, lo, hi;
};

struct route_row {
	const char *scheme;     /* "cloud-only", "oracle", "router", "cascade" (static strings) */
	double p;               /* router accuracy; NAN for cloud-only */
	int monte_carlo;        /* 0 exact expectation, 1 mean over seeded trials */
	struct route_value energy_j, flops, cost_usd;            /* totals over the items */
	struct route_value saved_energy, saved_compute, saved_cost; /* 1 - total / cloud-only total */
	struct route_value local_share;                          /* share of items answered locally */
	struct route_value accuracy;                             /* of the routed answers */
	struct route_value kept_wrong;   /* share of items kept local though no local run is right (two-sided) */
	/* compute on both bases; flops and saved_compute are copies of the options' basis */
	struct route_value flops_active, flops_total, saved_compute_active, saved_compute_total;
};

struct route_result {
	long long n_items;        /* items simulated */
	long long n_dropped;      /* items missing from a run (intersect) */
	long long n_unmeasured;   /* items dropped because the cloud's cost was not measured (intersect) */
	long long n_answerable;   /* items some local run answered right */
	long long *oracle_chosen; /* per local run: items the oracle sends there */
	size_t nlocal;
	struct route_row *rows;
	size_t nrows;
};

/*
 * Fills model[0..n) for the runs from a prices file (USD per 1M tokens, JSON
 * {"key": {"input": x, "output": y}} or lines "key input output") and a
 * parameters file (active parameters, JSON {"key": 8e9 or "8B"} or lines
 * "key 8e9"); a key matches a run's id, name, model or server model, in that
 * order. NULL paths leave the values NAN. A run the file names no entry for
 * is an error. total_params stays NAN (analysis_route_meta fills it).
 */
int analysis_route_models(const struct run_record *runs, size_t n, const char *prices, const char *params,
			  struct route_model *model, char *err, size_t errlen);

/*
 * Simulates routing the merged items between local runs (local[0..nlocal))
 * and the cloud run. model[i] holds run i's constants (local runs first, the
 * cloud last; NULL = none known). Rows: cloud-only, oracle, then for each p
 * the router and the cascade, exact and (trials > 0) Monte Carlo. Free with
 * route_result_release.
 */
int analysis_route(struct store *s, const char *const *local, size_t nlocal, const char *cloud,
		   const struct route_model *model, const struct route_options *o,
		   struct route_result *out, char *err, size_t errlen);
/*
 * analysis_route for nsim option sets (o[q] -> out[q]) over one merge of the
 * runs: each result equals what analysis_route gives for its options alone
 * (each simulation has its own seeded generator). The options must agree on
 * intersect. On failure every out[q] is released.
 */
int analysis_route_many(struct store *s, const char *const *local, size_t nlocal, const char *cloud,
			const struct route_model *model, const struct route_options *const *o, size_t nsim,
			struct route_result *out, char *err, size_t errlen);
void route_result_release(struct route_result *r);

/* Units route_per_day divides by: joules to kWh, and 1 (USD, FLOP). */
#define ROUTE_J_PER_KWH 3.6e6

/*
 * A total over a result's n_items simulated items scaled to a day of daily
 * queries, in units of unit (ROUTE_J_PER_KWH for energy in kWh, 1 for USD
 * or FLOP): value x daily / n_items / unit, the Monte Carlo spread alike.
 * NAN (all three) when daily or n_items is not > 0. Shared by route
 * simulate --daily-queries and the report.
 */
struct route_value route_per_day(struct route_value total, double daily, long long n_items, double unit);

/* ---- least squares ---- */

#define REG_MAXK STATS_OLS_MAXK

struct regression {
	int k;                            /* predictors (an intercept comes first) */
	long long n;                      /* observations used */
	double coef[REG_MAXK + 1];        /* [0] intercept, [1..k] slopes */
	struct metric_value ci[REG_MAXK + 1]; /* coef with its interval (t distribution) */
	double se[REG_MAXK + 1];          /* standard errors */
	double r2;                        /* coefficient of determination */
	double sigma;                     /* residual standard error */
};

/*
 * Ordinary least squares of y on x[0..k) (each of length n) with an
 * intercept, over the rows where y and every x are finite. Intervals at
 * level from Student's t with n - k - 1 degrees of freedom. -1 (err set)
 * when there are too few rows or the predictors are collinear.
 */
int analysis_ols(const double *y, const double *const *x, int k, size_t n, double level,
		 struct regression *out, char *err, size_t errlen);

/* The regressions ipw analyze reports (over the run's ok queries). */
enum {
	REG_ENERGY_OUT,     /* energy_j ~ output_tokens (the plot's fit) */
	REG_ENERGY_TOKENS,  /* energy_j ~ prompt_tokens + output_tokens */
	REG_LATENCY_TOKENS, /* latency_s ~ prompt_tokens + output_tokens */
	REG_TTFT_PROMPT,    /* ttft_s ~ prompt_tokens */
	REG_COUNT
};

struct reg_spec {
	const char *name;          /* "energy_j ~ output_tokens" */
	const char *y;             /* response */
	int k;
	const char *x[REG_MAXK];   /* predictors */
};

extern const struct reg_spec analysis_reg_specs[REG_COUNT];

struct run_regressions {
	struct regression r[REG_COUNT];
	int ok[REG_COUNT];          /* 1 fitted; 0 not (why[] says) */
	char why[REG_COUNT][160];
};

void analysis_run_regressions(const struct run_data *d, double level, struct run_regressions *out);

/* ---- subject weights ---- */

struct weight_entry {
	char *subject;
	double weight;
};

struct weighted_result {
	struct metric_value accuracy, ipw, ipj;  /* weighted by subject */
	double weight_used;                      /* sum of the weights of the subjects present */
	/*
	 * The paper's GDP form: sum_s w_s acc_s over the subjects present (in the
	 * weights' unit, e.g. USD of GDP answered right), and that over the sum of
	 * every weight in the file (the share of total GDP; absent subjects count 0).
	 */
	struct metric_value gdp_value, gdp_share;
	double weight_total;                     /* sum of every weight in the file */
	char **unweighted;                       /* subjects of the run without a weight (NULL-terminated) */
	char **absent;                           /* weighted subjects the run does not have */
};

/*
 * Subject-weighted accuracy, IPW and IPJ: each subject's mean accuracy, power
 * and energy weighted by w, then the ratio of the weighted means; intervals
 * by a bootstrap that resamples within each subject. Free with
 * weighted_result_release.
 */
int analysis_weighted(const struct run_data *d, const struct weight_entry *w, size_t nw,
		      const struct metrics_options *o, struct weighted_result *out, char *err, size_t errlen);
void weighted_result_release(struct weighted_result *r);
/* Reads a weights file: a JSON object {"subject": weight}, or lines "subject<TAB or ,>weight". */
int analysis_weights_read(const char *path, struct weight_entry **out, size_t *n, char *err, size_t errlen);
void weights_free(struct weight_entry *w, size_t n);

/* ---- attribution of an efficiency change ---- */

struct attribution {
	struct metrics a, b;            /* each run's metrics (point estimates) */
	struct metric_value ipw_ratio;  /* IPW_B / IPW_A */
	struct metric_value ipj_ratio;  /* IPJ_B / IPJ_A */
	struct metric_value acc_factor; /* acc_B / acc_A (over queries with measured energy) */
	struct metric_value power_factor;  /* P_A / P_B: > 1 when B draws less power */
	struct metric_value energy_factor; /* E_A / E_B */
	double acc_share_ipw;           /* ln acc_factor / ln ipw_ratio */
	double acc_share_ipj;           /* ln acc_factor / ln ipj_ratio */
};

/*
 * Splits IPW_B / IPW_A = (acc_B / acc_A) x (P_A / P_B) and
 * IPJ_B / IPJ_A = (acc_B / acc_A) x (E_A / E_B), with bootstrap intervals
 * (each run resampled on its own).
 */
int analysis_attribute(const struct run_data *a, const struct run_data *b, const struct metrics_options *o,
		       struct attribution *out, char *err, size_t errlen);

/*
 * Replaces the intervals of out (filled by analysis_attribute) with
 * normal-approximation (delta method) intervals at level, the runs taken as
 * independent: each factor's relative half-width is the root sum of squares
 * of its two runs' (mean or ratio of means, as analysis_delta_ci computes
 * them). O(n): for runs too large to resample quickly (the cap of
 * compare --ci auto). -1 when a run has no query with measured energy.
 */
int analysis_attribute_delta_ci(const struct run_data *a, const struct run_data *b, double level,
				struct attribution *out);

/*
 * analysis_attribute with its intervals chosen as compare --ci chooses them:
 * requested AGG_CI_AUTO takes the delta method when either run has more than
 * AGG_CI_AUTO_MAX scored queries (resampling runs that large takes minutes),
 * else the bootstrap of o; AGG_CI_BOOTSTRAP / AGG_CI_DELTA as named. *chosen
 * is the method used (AGG_CI_BOOTSTRAP or AGG_CI_DELTA; with o->bootstrap 0
 * no interval is computed either way). 0, or -1 (err set).
 */
int analysis_attribute_ci(const struct run_data *a, const struct run_data *b, const struct metrics_options *o,
			  enum agg_ci requested, enum agg_ci *chosen, struct attribution *out, char *err,
			  size_t errlen);

#endif
