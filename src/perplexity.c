/*
 * perplexity.c - perplexity per query and per run, and perplexity per watt /
 * per joule (perplexity.h). Lower perplexity is better, so unlike IPW a lower
 * perplexity per watt is better too.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "perplexity.h"
#include "store.h"

double metrics_perplexity(double logprob_sum, long long n)
{
	return n > 0 && isfinite(logprob_sum) ? exp(-logprob_sum / (double)n) : NAN;
}

void ppl_run_init(struct ppl_run *p)
{
	memset(p, 0, sizeof *p);
}

void ppl_run_add(struct ppl_run *p, const struct query_record *q)
{
	double ppl = metrics_perplexity(q->logprob_sum, q->logprob_tokens);

	p->n_queries++;
	if ((q->status && strcmp(q->status, "ok")) || !isfinite(ppl))
		return;
	p->n_logprobs++;
	p->tokens += q->logprob_tokens;
	p->sum_logprob += q->logprob_sum;
	p->sum_ppl += ppl;
	/* the paper's per-query power: energy / latency (PAPER.md, "Metrics") */
	if (isfinite(q->accel_j) && isfinite(q->e2e_s) && q->e2e_s > 0) {
		p->n_energy++;
		p->sum_ppl_e += ppl;
		p->sum_power_w += q->accel_j / q->e2e_s;
		p->sum_energy_j += q->accel_j;
	}
}

void ppl_run_summary(const struct ppl_run *p, struct ppl_summary *s)
{
	double n = (double)p->n_energy;

	s->ppl_mean = p->n_logprobs ? p->sum_ppl / (double)p->n_logprobs : NAN;
	s->ppl_tokens = metrics_perplexity(p->sum_logprob, p->tokens);
	s->ppl_mean_e = p->n_energy ? p->sum_ppl_e / n : NAN;
	s->power_mean_w = p->n_energy ? p->sum_power_w / n : NAN;
	s->energy_mean_j = p->n_energy ? p->sum_energy_j / n : NAN;
	s->ppl_per_w = p->n_energy && s->power_mean_w > 0 ? s->ppl_mean_e / s->power_mean_w : NAN;
	s->ppl_per_j = p->n_energy && s->energy_mean_j > 0 ? s->ppl_mean_e / s->energy_mean_j : NAN;
}

static int add_one(const struct query_record *q, void *ctx)
{
	ppl_run_add(ctx, q);
	return 0;
}

int ppl_run_load(struct store *s, const char *run_id, struct ppl_run *p, char *err, size_t errlen)
{
	ppl_run_init(p);
	return store_queries_iter(s, run_id, add_one, p, err, errlen) < 0 ? -1 : 0;
}
