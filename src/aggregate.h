/*
 * aggregate.h - the one path from a run's stored rows to its numbers: counts,
 * energy sums by scope, means, latency and TTFT percentiles, token totals and
 * the paper's metrics (accuracy, IPW, IPJ, J/token, ...) with their intervals,
 * overall and per subject. Store back-ends only return rows; 'ipw show',
 * 'compare', 'runs' and 'report' take every number from here. Never prints.
 * Definitions: docs/metrics.md; the module: docs/internals.md.
 */
#ifndef IPW_AGGREGATE_H
#define IPW_AGGREGATE_H

#include <stddef.h>

#include "metrics.h"
#include "perplexity.h"
#include "store.h"

/* One recorded query as the aggregation reads it; NAN / -1 where not measured. */
struct agg_row {
	const char *item_id;      /* copied by agg_rows_add; NULL: not kept (rows added in item order) */
	const char *subject;      /* "" or NULL: none; interned by agg_rows_add */
	int ok;                   /* 1: status ok; 0: the request failed */
	int correct;              /* the item's latest score: 1, 0, -1 unscored */
	double accel_j, accel_dyn_j;  /* accelerator energy, gross and dynamic (J) */
	double host_j, total_j;   /* host energy, accelerator + host (J) */
	double power_w;           /* the query's recorded average accelerator power (W) */
	double e2e_s, ttft_s, tpot_s;
	long long prompt_tokens, completion_tokens, reasoning_tokens; /* -1 unknown */
	double t_send_s, t_end_s; /* the query's window (run seconds); NAN unknown */
	double logprob_sum;       /* nats over logprob_tokens answer tokens; NAN none */
	long long logprob_tokens; /* -1 unknown */
};

/* A run's rows (owned copies), in item_id byte order (the item cursor's rows keep no id: already ordered). */
struct agg_rows {
	struct agg_row *v;
	size_t n, cap;
	char **subjects;          /* distinct subjects (v[i].subject points here) */
	size_t nsubjects;
};

void agg_rows_init(struct agg_rows *r);
void agg_rows_release(struct agg_rows *r);
/* Appends a copy of row (item id and subject copied). */
void agg_rows_add(struct agg_rows *r, const struct agg_row *row);
/* Orders the rows by item id (strcmp), the order every interval is computed in. */
void agg_rows_sort(struct agg_rows *r);

/* agg_rows_load sources */
enum agg_load {
	AGG_LOAD_QUERIES, /* store_queries_iter + store_scores_latest: every column */
	AGG_LOAD_ITEMS,   /* the item cursor (store_items_open): faster; host_j, total_j, power_w, tpot_s NAN */
};

/*
 * Reads run_id's recorded queries with their latest scores into out (which
 * the caller releases with agg_rows_release, also on failure), in item_id
 * order. 0, STORE_ENOTFOUND for an unknown run, or -1 with err set.
 */
int agg_rows_load(struct store *s, const char *run_id, enum agg_load from, struct agg_rows *out,
		  char *err, size_t errlen);

/*
 * Run totals. Counts cover all queries; accel_j_total and host_j_total all
 * queries whose energy was measured (failed ones spent energy too); every
 * mean and percentile covers the ok queries where the value was measured.
 * NAN where nothing was measured; token sums -1 when no ok query has a count.
 */
struct agg_totals {
	long long n_queries, n_ok, n_failed;
	long long n_energy;                  /* ok queries with a measured accelerator energy */
	double accel_j_total, host_j_total;  /* J, all queries */
	double accel_j_mean, accel_dyn_j_mean, host_j_mean, total_j_mean; /* J, ok queries */
	double power_mean_w;                 /* mean of the recorded per-query average power (W) */
	double e2e_mean_s, e2e_p50_s, e2e_p99_s;
	double ttft_mean_s, ttft_p50_s, ttft_p99_s;
	double tpot_mean_s;
	long long prompt_tokens, completion_tokens, reasoning_tokens;
	double prompt_tokens_mean, completion_tokens_mean, reasoning_tokens_mean;
};

/* Computes the totals of rows (any order). */
void agg_totals_compute(const struct agg_rows *rows, struct agg_totals *t);

/* How the metrics' intervals are computed. */
enum agg_ci {
	AGG_CI_AUTO,       /* bootstrap up to AGG_CI_AUTO_MAX scored queries, delta method above */
	AGG_CI_BOOTSTRAP,  /* percentile bootstrap (metrics_options.bootstrap resamples) */
	AGG_CI_DELTA,      /* normal approximation (delta method), O(n) */
};
#define AGG_CI_AUTO_MAX 50000

struct agg_options {
	struct metrics_options m;  /* resamples, seed, level */
	enum agg_ci ci;
	int by_subject;            /* also compute the metrics per subject */
};

/* Defaults: metrics_options_init, AGG_CI_AUTO, no subjects. */
void agg_options_init(struct agg_options *o);

/* Everything known about one run's numbers. */
struct agg_result {
	struct agg_totals t;
	struct metrics m;          /* accuracy, IPW, IPJ, ... (docs/metrics.md), with intervals */
	struct metric_value latency_p50, latency_p99; /* s, ok queries, order-statistic intervals */
	int delta;                 /* 1: the metrics' intervals are by the delta method */
	struct subject_metrics *subj; /* by_subject: sorted by subject (owned), same interval method */
	size_t nsubj;
};

/*
 * Computes every number of rows (which must be in item_id order: agg_rows_load
 * or agg_rows_sort). Release out with agg_result_release. 0, or -1 with err
 * set (bad options).
 */
int agg_compute(const struct agg_rows *rows, const struct agg_options *o, struct agg_result *out,
		char *err, size_t errlen);
void agg_result_release(struct agg_result *r);

/* agg_rows_load then agg_compute. */
int agg_run(struct store *s, const char *run_id, enum agg_load from, const struct agg_options *o,
	    struct agg_result *out, char *err, size_t errlen);

/* One row of a comparison (compare, report): the run as described, and its numbers. */
struct agg_compare {
	char *run_id, *name, *model, *engine; /* owned; NULL unknown */
	char *accelerator;         /* accelerator sources, e.g. "2x NVIDIA H200"; NULL none recorded */
	int concurrency;           /* from the run's configuration; -1 unknown */
	struct agg_result r;
	struct ppl_run ppl;        /* the perplexity sums of the same rows (perplexity.h) */
};

/*
 * Resolves ref (id, name, "last") and computes its row from the item cursor;
 * one run's rows are in memory only during the call. STORE_ENOTFOUND for an
 * unknown run. Release with agg_compare_release (also on failure).
 */
int agg_compare_load(struct store *s, const char *ref, const struct agg_options *o, struct agg_compare *out,
		     char *err, size_t errlen);
/*
 * agg_compare_load and the run's device power (metrics_device_power) from the
 * same rows: one read of the run where the two calls (and
 * analysis_device_power) read it twice.
 */
int agg_compare_load_power(struct store *s, const char *ref, const struct agg_options *o, struct agg_compare *out,
			   struct device_power *dev, char *err, size_t errlen);
/*
 * agg_compare_load_power (dev may be NULL) that also hands the run's rows, in
 * item order as the items cursor read them, to with_rows(rows, ctx) before
 * they are summarised: a caller that needs the rows too reads the run once.
 */
int agg_compare_load_with(struct store *s, const char *ref, const struct agg_options *o, struct agg_compare *out,
			  struct device_power *dev, void (*with_rows)(const struct agg_rows *rows, void *ctx),
			  void *ctx, char *err, size_t errlen);
void agg_compare_release(struct agg_compare *c);

#endif
