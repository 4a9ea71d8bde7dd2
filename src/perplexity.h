/*
 * perplexity.h - perplexity from the token log-probabilities a server returned
 * (--logprobs), per query and per run, and perplexity per watt and per joule
 * aggregated as the paper aggregates IPW and IPJ: ratios of means over the
 * queries that have both. See docs/metrics.md "Perplexity".
 */
#ifndef IPW_PERPLEXITY_H
#define IPW_PERPLEXITY_H

#include <stddef.h>

#include "record.h"

/* exp(-sum / n): a query's perplexity from its log-probability sum (nats) over n tokens; NAN when n <= 0. */
double metrics_perplexity(double logprob_sum, long long n);

struct ppl_run {
	long long n_queries;   /* queries seen */
	long long n_logprobs;  /* not failed, with log-probabilities (logprob_tokens > 0) */
	long long n_energy;    /* of those, with measured gross accelerator energy and latency > 0 */
	long long tokens;      /* tokens the log-probabilities cover, over n_logprobs */
	double sum_logprob;    /* their sum, nats */
	double sum_ppl, sum_ppl_e;  /* sums of per-query perplexity: over n_logprobs, over n_energy */
	double sum_power_w, sum_energy_j; /* over n_energy: P = E / latency, E */
};

void ppl_run_init(struct ppl_run *p);
/* Adds one query (failed ones and ones without log-probabilities are counted, not used). */
void ppl_run_add(struct ppl_run *p, const struct query_record *q);
/*
 * ppl_run_add from a query's parts: ok (its status is "ok"), its log-probability
 * sum (nats) over n tokens, its gross accelerator energy (J) and latency (s).
 */
void ppl_run_add_values(struct ppl_run *p, int ok, double logprob_sum, long long n, double accel_j, double e2e_s);

/* The run's numbers; NAN where none of the queries needed has the inputs. */
struct ppl_summary {
	double ppl_mean;        /* mean of per-query perplexity, over n_logprobs */
	double ppl_tokens;      /* exp(-sum of logprobs / tokens): the run's tokens pooled */
	double ppl_mean_e;      /* mean per-query perplexity over n_energy */
	double power_mean_w;    /* mean P over n_energy, W */
	double energy_mean_j;   /* mean E over n_energy, J */
	double ppl_per_w;       /* ppl_mean_e / power_mean_w, 1/W */
	double ppl_per_j;       /* ppl_mean_e / energy_mean_j, 1/J */
};
void ppl_run_summary(const struct ppl_run *p, struct ppl_summary *s);

struct store;
/*
 * p from every stored query of run_id that is not superseded (ppl_run_init,
 * then ppl_run_add per query), read through the items cursor with only the
 * columns it needs: the loader of ipw show. ipw compare and the report take
 * the same sums from the rows they already read (agg_compare.ppl). 0, or -1
 * with err set.
 */
int ppl_run_load(struct store *s, const char *run_id, struct ppl_run *p, char *err, size_t errlen);

#endif
