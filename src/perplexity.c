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

void ppl_run_add_values(struct ppl_run *p, int ok, double logprob_sum, long long n, double accel_j, double e2e_s)
{
	double ppl = metrics_perplexity(logprob_sum, n);

	p->n_queries++;
	if (!ok || !isfinite(ppl))
		return;
	p->n_logprobs++;
	p->tokens += n;
	p->sum_logprob += logprob_sum;
	p->sum_ppl += ppl;
	/* the paper's per-query power: energy / latency (PAPER.md, "Metrics") */
	if (isfinite(accel_j) && isfinite(e2e_s) && e2e_s > 0) {
		p->n_energy++;
		p->sum_ppl_e += ppl;
		p->sum_power_w += accel_j / e2e_s;
		p->sum_energy_j += accel_j;
	}
}

void ppl_run_add(struct ppl_run *p, const struct query_record *q)
{
	ppl_run_add_values(p, !q->status || !strcmp(q->status, "ok"), q->logprob_sum, q->logprob_tokens, q->accel_j,
			   q->e2e_s);
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

int ppl_run_load(struct store *s, const char *run_id, struct ppl_run *p, char *err, size_t errlen)
{
	struct store_cursor c;
	struct store_item it;
	int k;

	ppl_run_init(p);
	if (store_items_open_fields(s, run_id, STORE_ITEM_LOGPROBS | STORE_ITEM_ENERGY | STORE_ITEM_LATENCY, &c, err,
				    errlen) < 0)
		return -1;
	while ((k = store_items_next(&c, &it, err, errlen)) == 1)
		ppl_run_add_values(p, it.ok, it.logprob_sum, it.logprob_tokens, it.accel_j, it.e2e_s);
	store_items_close(&c);
	return k < 0 ? -1 : 0;
}
