/*
 * analysis/ranks.c - rank stability (analysis/paper.h): Kendall's tau-b and
 * Spearman's rho between rankings of runs, the rankings of bootstrap
 * resamples and of subsets (subjects, datasets, difficulty levels) against
 * the full data's, and the mean and spread of repeats.
 */
#include "analysis/paper.h"

#include <math.h>
#include <stdio.h>
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

/* ---- by subset ---- */

static void add_subset(struct rank_subsets *r, const char *key, long long items, const double *all, const double *v,
		       size_t n)
{
	struct rank_subset *w;
	r->row = xrealloc(r->row, (r->nrows + 1) * sizeof(*r->row));
	w = &r->row[r->nrows++];
	w->key = xstrdup(key);
	w->items = items;
	w->tau = analysis_kendall_tau(all, v, n);
	w->rho = analysis_spearman_rho(all, v, n);
}

void rank_subsets_release(struct rank_subsets *r)
{
	for (size_t i = 0; i < r->nrows; i++)
		free(r->row[i].key);
	free(r->row);
	for (size_t i = 0; i < r->nmodels; i++)
		free(r->model[i]);
	free(r->model);
	free(r->value);
	free(r->model_of);
	memset(r, 0, sizeof(*r));
}

void analysis_rank_subjects(const struct run_data *const *d, size_t n, enum rank_metric m, const double *all,
			    struct rank_subsets *out)
{
	double *v = xcalloc(n + 1, sizeof(double));

	memset(out, 0, sizeof(*out));
	for (size_t s = 0; n && s < d[0]->nsubjects; s++) {
		const char *subj = d[0]->subjects[s];
		long long items = 0;
		int everywhere = 1;
		for (size_t i = 0; i < n && everywhere; i++) {
			size_t *idx = xcalloc(d[i]->n + 1, sizeof(*idx)), k = 0;
			for (size_t j = 0; j < d[i]->n; j++)
				if (d[i]->subject[j] && !strcmp(d[i]->subject[j], subj))
					idx[k++] = j;
			if (i == 0)
				items = (long long)k;
			v[i] = k ? analysis_rank_value(d[i], m, idx, k) : NAN;
			everywhere = isfinite(v[i]);
			free(idx);
		}
		if (everywhere)
			add_subset(out, subj, items, all, v, n);
	}
	free(v);
}

void analysis_rank_pool(const struct run_data *const *d, size_t n, struct run_data *out)
{
	size_t total = 0, k = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		total += d[i]->n;
	out->n = total;
	out->acc = xcalloc(total + 1, sizeof(int));
	out->failed = xcalloc(total + 1, sizeof(int));
	out->energy_j = xcalloc(total + 1, sizeof(double));
	out->latency_s = xcalloc(total + 1, sizeof(double));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d[i]->n; j++, k++) {
			out->acc[k] = d[i]->acc[j];
			out->failed[k] = d[i]->failed[j];
			out->energy_j[k] = d[i]->energy_j[j];
			out->latency_s[k] = d[i]->latency_s[j];
		}
}

const char *rank_model_key(const struct run_record *r)
{
	return r->model && *r->model ? r->model : r->server_model && *r->server_model ? r->server_model : r->name;
}

const char *rank_dataset_key(const struct run_record *r)
{
	return r->dataset_path && *r->dataset_path ? r->dataset_path :
	       r->dataset_sha256 && *r->dataset_sha256 ? r->dataset_sha256 : "(no dataset)";
}

/* Index of key in list[0..n), or n. */
static size_t find_key(char *const *list, size_t n, const char *key)
{
	size_t j = 0;
	while (j < n && strcmp(list[j], key))
		j++;
	return j;
}

/* The metric over the runs of model j (and of dataset ds unless NULL); *nq their queries; NAN when none. */
static double pooled_value(const struct run_data *const *d, const size_t *model_of, const char *const *dataset,
			   size_t n, size_t j, const char *ds, enum rank_metric m, long long *nq)
{
	const struct run_data **sel = xcalloc(n + 1, sizeof(*sel));
	struct run_data pool;
	size_t k = 0;
	double v = NAN;

	for (size_t i = 0; i < n; i++)
		if (model_of[i] == j && (!ds || !strcmp(dataset[i], ds)))
			sel[k++] = d[i];
	*nq = 0;
	if (k) {
		analysis_rank_pool(sel, k, &pool);
		*nq = (long long)pool.n;
		v = analysis_rank_value(&pool, m, NULL, 0);
		run_data_release(&pool);
	}
	free(sel);
	return v;
}

void analysis_rank_datasets(const struct run_data *const *d, const char *const *model, const char *const *dataset,
			    size_t n, enum rank_metric m, struct rank_subsets *out)
{
	char **ds = xcalloc(n + 1, sizeof(char *));
	double *v;
	long long nq;

	memset(out, 0, sizeof(*out));
	out->model = xcalloc(n + 1, sizeof(char *));
	out->model_of = xcalloc(n + 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		size_t j = find_key(out->model, out->nmodels, model[i]);
		if (j == out->nmodels)
			out->model[out->nmodels++] = xstrdup(model[i]);
		out->model_of[i] = j;
		if (find_key(ds, out->ndatasets, dataset[i]) == out->ndatasets)
			ds[out->ndatasets++] = (char *)dataset[i];
	}
	out->value = xcalloc(out->nmodels + 1, sizeof(double));
	v = xcalloc(out->nmodels + 1, sizeof(double));
	for (size_t j = 0; j < out->nmodels; j++)
		out->value[j] = pooled_value(d, out->model_of, dataset, n, j, NULL, m, &nq);
	for (size_t k = 0; k < out->ndatasets; k++) {
		long long items = 0;
		int everywhere = 1;
		for (size_t j = 0; j < out->nmodels && everywhere; j++) {
			v[j] = pooled_value(d, out->model_of, dataset, n, j, ds[k], m, &nq);
			if (j == 0)
				items = nq;
			everywhere = isfinite(v[j]);
		}
		if (everywhere)
			add_subset(out, ds[k], items, out->value, v, out->nmodels);
	}
	free(v);
	free(ds);
}

/* Run i's metric on level l's items, as analysis_rank_value; NAN when it scored none. */
static double level_value(const struct level_result *r, size_t i, size_t l, enum rank_metric m)
{
	size_t at = i * r->nlevels + l;
	double acc, den;
	if (!r->scored[at])
		return NAN;
	acc = (double)r->correct[at] / (double)r->scored[at];
	if (m == RANK_ACCURACY)
		return acc;
	den = m == RANK_IPW ? r->power_sum[at] : r->energy_sum[at];
	return r->n_energy[at] && den > 0 ? acc / (den / (double)r->n_energy[at]) : NAN;
}

int analysis_rank_levels(struct store *s, const char *const *ids, size_t n, const double *total,
			 const double *bounds, size_t nb, int intersect, enum rank_metric m, const double *all,
			 struct rank_subsets *out, char *err, size_t errlen)
{
	struct level_result r;
	double *v;

	memset(out, 0, sizeof(*out));
	if (analysis_levels(s, ids, n, total, bounds, nb, intersect, &r, err, errlen) < 0)
		return -1;
	v = xcalloc(n + 1, sizeof(double));
	for (size_t l = 0; l < r.nlevels; l++) {
		int everywhere = r.items[l] > 0;
		char key[24];
		for (size_t i = 0; i < n && everywhere; i++)
			everywhere = isfinite(v[i] = level_value(&r, i, l, m));
		if (!everywhere)
			continue;
		snprintf(key, sizeof(key), "L%zu", l + 1);
		add_subset(out, key, r.items[l], all, v, n);
	}
	free(v);
	level_result_release(&r);
	return 0;
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
