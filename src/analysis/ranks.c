/*
 * analysis/ranks.c - rank stability (analysis/paper.h): Kendall's tau-b and
 * Spearman's rho between rankings of runs, the rankings of bootstrap
 * resamples against the full data's, and the mean and spread of repeats.
 */
#include "analysis/paper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stats.h"
#include "util.h"

static int sgn(double a)
{
	return (a > 0) - (a < 0);
}

double analysis_kendall_tau(const double *x, const double *y, size_t n)
{
	double conc = 0, tx = 0, ty = 0, pairs = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			int a = sgn(x[i] - x[j]), b = sgn(y[i] - y[j]);
			pairs++;
			if (!a)
				tx++;
			if (!b)
				ty++;
			conc += a * b;
		}
	if (n < 2 || pairs == tx || pairs == ty)
		return NAN;
	return conc / sqrt((pairs - tx) * (pairs - ty));
}

/* Average ranks (1-based) of v into r. */
static void ranks(const double *v, size_t n, double *r)
{
	for (size_t i = 0; i < n; i++) {
		double less = 0, eq = 0;
		for (size_t j = 0; j < n; j++) {
			less += v[j] < v[i];
			eq += v[j] == v[i];
		}
		r[i] = less + (eq + 1) / 2;
	}
}

double analysis_spearman_rho(const double *x, const double *y, size_t n)
{
	double *rx = xcalloc(n + 1, sizeof(double)), *ry = xcalloc(n + 1, sizeof(double));
	double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0, rho;

	ranks(x, n, rx);
	ranks(y, n, ry);
	for (size_t i = 0; i < n; i++)
		mx += rx[i] / (double)n, my += ry[i] / (double)n;
	for (size_t i = 0; i < n; i++) {
		sxy += (rx[i] - mx) * (ry[i] - my);
		sxx += (rx[i] - mx) * (rx[i] - mx);
		syy += (ry[i] - my) * (ry[i] - my);
	}
	rho = n >= 2 && sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
	free(rx);
	free(ry);
	return rho;
}

double analysis_rank_value(const struct run_data *d, enum rank_metric m, const size_t *idx, size_t nidx)
{
	double acc = 0, den = 0;
	size_t na = 0, ne = 0;
	size_t n = idx ? nidx : d->n;

	for (size_t k = 0; k < n; k++) {
		size_t i = idx ? idx[k] : k;
		double e = d->energy_j[i], lat = d->latency_s[i];
		if (d->failed[i] || (d->acc[i] != 0 && d->acc[i] != 1))
			continue;
		acc += d->acc[i];
		na++;
		if (isfinite(e) && e >= 0 && isfinite(lat) && lat > 0) {
			den += m == RANK_IPW ? e / lat : e;
			ne++;
		}
	}
	if (!na)
		return NAN;
	if (m == RANK_ACCURACY)
		return acc / (double)na;
	return ne && den > 0 ? (acc / (double)na) / (den / (double)ne) : NAN;
}

static size_t argmax(const double *v, size_t n)
{
	size_t b = 0;
	for (size_t i = 1; i < n; i++)
		if (v[i] > v[b] || (!isfinite(v[b]) && isfinite(v[i])))
			b = i;
	return b;
}

void analysis_rank_bootstrap(const struct run_data *const *d, size_t n, enum rank_metric m, int b, uint64_t seed,
			     double level, struct rank_stability *out)
{
	struct rng rng;
	double *rv = xcalloc(n + 1, sizeof(double));
	double *tau = xcalloc((size_t)b + 1, sizeof(double)), *rho = xcalloc((size_t)b + 1, sizeof(double));
	size_t maxn = 0, top, same = 0;
	size_t *idx;

	memset(out, 0, sizeof(*out));
	out->nruns = n;
	out->b = b;
	out->value = xcalloc(n + 1, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		out->value[i] = analysis_rank_value(d[i], m, NULL, 0);
		if (d[i]->n > maxn)
			maxn = d[i]->n;
	}
	top = argmax(out->value, n);
	idx = xcalloc(maxn + 1, sizeof(*idx));
	rng_seed(&rng, seed);
	for (int k = 0; k < b; k++) {
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < d[i]->n; j++)
				idx[j] = (size_t)rng_below(&rng, d[i]->n);
			rv[i] = analysis_rank_value(d[i], m, idx, d[i]->n);
		}
		tau[k] = analysis_kendall_tau(out->value, rv, n);
		rho[k] = analysis_spearman_rho(out->value, rv, n);
		same += argmax(rv, n) == top;
	}
	analysis_mean_sd(tau, (size_t)b, &out->tau_mean, &out->tau_lo, NULL);
	analysis_mean_sd(rho, (size_t)b, &out->rho_mean, &out->rho_lo, NULL);
	stats_percentile_interval(tau, (size_t)b, level, &out->tau_lo, &out->tau_hi);
	stats_percentile_interval(rho, (size_t)b, level, &out->rho_lo, &out->rho_hi);
	out->top_same = b > 0 ? (double)same / b : NAN;
	if (b <= 0)
		out->tau_mean = out->rho_mean = out->tau_lo = out->tau_hi = out->rho_lo = out->rho_hi = NAN;
	free(idx);
	free(rv);
	free(tau);
	free(rho);
}

void rank_stability_release(struct rank_stability *r)
{
	free(r->value);
	memset(r, 0, sizeof(*r));
}

void analysis_mean_sd(const double *v, size_t n, double *mean, double *sd, size_t *k)
{
	double s = 0, ss = 0, mu;
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i])) {
			s += v[i];
			c++;
		}
	mu = c ? s / (double)c : NAN;
	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			ss += (v[i] - mu) * (v[i] - mu);
	*mean = mu;
	if (sd)
		*sd = c >= 2 ? sqrt(ss / (double)(c - 1)) : NAN;
	if (k)
		*k = c;
}
