/*
 * test_perplexity.c - perplexity per query (exp(-sum/n)), per run (mean of the
 * queries', and the run's tokens pooled) and perplexity per watt / per joule
 * (ratios of means, as IPW and IPJ), against numbers worked by hand here.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "perplexity.h"

static struct query_record q(const char *status, double sum, long long n, double energy_j, double e2e_s)
{
	struct query_record r;
	memset(&r, 0, sizeof r);
	r.status = (char *)status;
	r.logprob_sum = sum;
	r.logprob_tokens = n;
	r.accel_j = energy_j;
	r.e2e_s = e2e_s;
	return r;
}

Test(perplexity, per_query_and_not_measured)
{
	cr_assert_float_eq(metrics_perplexity(-2.0 * log(3.0), 2), 3.0, 1e-12);  /* exp(2 ln 3 / 2) = 3 */
	cr_assert(isnan(metrics_perplexity(0, 0)), "0 tokens: not measured");
	cr_assert(isnan(metrics_perplexity(NAN, 4)), "NAN sum: not measured");
	cr_assert_eq(metrics_perplexity(0.0, 5), 1.0);  /* every token certain */
}

Test(perplexity, run_means_and_per_watt_per_joule)
{
	struct ppl_run p;
	struct ppl_summary s;
	/* A: ppl 2 (sum -3 ln 2 over 3 tokens), 20 J in 2 s = 10 W;
	 * B: ppl 4 (sum -2 ln 4 over 2 tokens), 60 J in 3 s = 20 W;
	 * C: ppl e (sum -5 over 5 tokens), no energy; D failed; E no logprobs */
	struct query_record a = q("ok", -3 * log(2.0), 3, 20, 2), b = q("ok", -2 * log(4.0), 2, 60, 3),
			    c = q("ok", -5, 5, NAN, 1), d = q("failed", -1, 1, 5, 1), e = q("ok", NAN, -1, 5, 1);

	ppl_run_init(&p);
	ppl_run_add(&p, &a);
	ppl_run_add(&p, &b);
	ppl_run_add(&p, &c);
	ppl_run_add(&p, &d);
	ppl_run_add(&p, &e);
	ppl_run_summary(&p, &s);
	cr_assert_eq(p.n_queries, 5);
	cr_assert_eq(p.n_logprobs, 3);
	cr_assert_eq(p.n_energy, 2);
	cr_assert_eq(p.tokens, 10);
	cr_assert_float_eq(s.ppl_mean, (2 + 4 + exp(1.0)) / 3, 1e-12);
	/* pooled: exp((3 ln 2 + 2 ln 4 + 5) / 10) = exp((7 ln 2 + 5) / 10) */
	cr_assert_float_eq(s.ppl_tokens, exp((7 * log(2.0) + 5) / 10), 1e-12);
	/* over A and B: mean ppl 3, mean power 15 W, mean energy 40 J */
	cr_assert_float_eq(s.ppl_mean_e, 3.0, 1e-12);
	cr_assert_float_eq(s.power_mean_w, 15.0, 1e-12);
	cr_assert_float_eq(s.energy_mean_j, 40.0, 1e-12);
	cr_assert_float_eq(s.ppl_per_w, 0.2, 1e-12);
	cr_assert_float_eq(s.ppl_per_j, 0.075, 1e-12);
}

Test(perplexity, nothing_measured_is_nan_never_zero)
{
	struct ppl_run p;
	struct ppl_summary s;
	struct query_record e = q("ok", NAN, -1, 5, 1);

	ppl_run_init(&p);
	ppl_run_add(&p, &e);
	ppl_run_summary(&p, &s);
	cr_assert_eq(p.n_logprobs, 0);
	cr_assert(isnan(s.ppl_mean) && isnan(s.ppl_tokens) && isnan(s.ppl_per_w) && isnan(s.ppl_per_j));
}
