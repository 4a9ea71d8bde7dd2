/*
 * metrics.c - the paper's efficiency metrics as ratios of means (IPW =
 * mean acc / mean power, IPJ = mean acc / mean energy) on gross and dynamic
 * energy, J/token as a ratio of sums, and percentile bootstrap intervals
 * from a seeded xoshiro256** generator. See docs/metrics.md.
 */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stats.h"
#include "util.h"

/* ---- per-query records and the sums every metric is built from ---- */

enum {
	Q_ENERGY = 1,  /* gross energy and latency measured */
	Q_DYNAMIC = 2, /* dynamic energy measured too */
	Q_TOKENS = 4,  /* token count known too */
};

struct query {
	double acc, e, p, ed, pd, tok;
	unsigned flags;
};

struct sums {
	double n, acc;
	double e_n, e_acc, e_e, e_p;
	double d_n, d_acc, d_e, d_p;
	double t_e, t_tok;
};

/* Adds query q, w times (w = how often a resample drew it). */
static void sums_add(struct sums *s, const struct query *q, double w)
{
	s->n += w;
	s->acc += w * q->acc;
	if (q->flags & Q_ENERGY) {
		s->e_n += w;
		s->e_acc += w * q->acc;
		s->e_e += w * q->e;
		s->e_p += w * q->p;
	}
	if (q->flags & Q_DYNAMIC) {
		s->d_n += w;
		s->d_acc += w * q->acc;
		s->d_e += w * q->ed;
		s->d_p += w * q->pd;
	}
	if (q->flags & Q_TOKENS) {
		s->t_e += w * q->e;
		s->t_tok += w * q->tok;
	}
}

/* num / den, NAN unless the denominator is positive. */
static double ratio(double num, double den)
{
	return den > 0 ? num / den : NAN;
}

enum { M_ACC, M_IPW, M_IPJ, M_IPW_D, M_IPJ_D, M_JPT, M_TPJ, M_POWER, M_ENERGY, M_COUNT };

/* The metrics from the sums; means are sums over counts, so ratios of means cancel n. */
static void sums_metrics(const struct sums *s, double v[M_COUNT])
{
	v[M_ACC] = ratio(s->acc, s->n);
	v[M_IPW] = s->e_n > 0 ? ratio(s->e_acc / s->e_n, s->e_p / s->e_n) : NAN;
	v[M_IPJ] = s->e_n > 0 ? ratio(s->e_acc / s->e_n, s->e_e / s->e_n) : NAN;
	v[M_IPW_D] = s->d_n > 0 ? ratio(s->d_acc / s->d_n, s->d_p / s->d_n) : NAN;
	v[M_IPJ_D] = s->d_n > 0 ? ratio(s->d_acc / s->d_n, s->d_e / s->d_n) : NAN;
	v[M_JPT] = ratio(s->t_e, s->t_tok);
	v[M_TPJ] = ratio(s->t_tok, s->t_e);
	v[M_POWER] = ratio(s->e_p, s->e_n);
	v[M_ENERGY] = ratio(s->e_e, s->e_n);
}

static struct metric_value *metric_slot(struct metrics *m, int k)
{
	switch (k) {
	case M_ACC: return &m->accuracy;
	case M_IPW: return &m->ipw;
	case M_IPJ: return &m->ipj;
	case M_IPW_D: return &m->ipw_dynamic;
	case M_IPJ_D: return &m->ipj_dynamic;
	case M_JPT: return &m->j_per_token;
	case M_TPJ: return &m->tokens_per_j;
	case M_POWER: return &m->power_w;
	default: return &m->energy_j;
	}
}

void metrics_options_init(struct metrics_options *o)
{
	o->bootstrap = METRICS_BOOTSTRAP;
	o->seed = METRICS_SEED;
	o->level = METRICS_LEVEL;
}

static int finite_nonneg(double x)
{
	return isfinite(x) && x >= 0;
}

/* The scored queries of idx[0..nidx) as records (counting the others in out); returns how many. */
static size_t collect(const struct metrics_input *in, const size_t *idx, size_t nidx, struct query *qs,
		      struct metrics *out)
{
	size_t nq = 0;

	for (size_t j = 0; j < nidx; j++) {
		size_t i = idx[j];
		struct query *q = &qs[nq];
		double lat = in->latency_s[i];

		if (in->failed && in->failed[i]) {
			out->n_failed++;
			continue;
		}
		if (in->acc[i] != 0 && in->acc[i] != 1) {
			out->n_unscored++;
			continue;
		}
		q->acc = in->acc[i];
		out->n_correct += in->acc[i];
		nq++;
		if (!(finite_nonneg(in->energy_j[i]) && isfinite(lat) && lat > 0))
			continue;
		q->flags |= Q_ENERGY;
		q->e = in->energy_j[i];
		q->p = q->e / lat;
		out->n_energy++;
		if (in->dynamic_j && isfinite(in->dynamic_j[i])) {
			q->flags |= Q_DYNAMIC;
			q->ed = in->dynamic_j[i];
			q->pd = q->ed / lat;
			out->n_dynamic++;
		}
		if (in->tokens && finite_nonneg(in->tokens[i])) {
			q->flags |= Q_TOKENS;
			q->tok = in->tokens[i];
			out->n_tokens++;
		}
	}
	return nq;
}

/* B resamples of qs[0..nq): each replicate's metrics in reps[b * M_COUNT + k]. */
static void resample(const struct query *qs, size_t nq, size_t b_n, uint64_t seed, double *reps)
{
	uint32_t *count = xmalloc(nq * sizeof(*count));
	struct rng r;

	rng_seed(&r, seed);
	for (size_t b = 0; b < b_n; b++) {
		struct sums bs = { 0 };
		/*
		 * Draw nq indices with replacement, then sum each query times the
		 * number of times it was drawn: the same resample as summing the
		 * draws one by one, but the big array is read in order (a 500,000
		 * query run resamples about 5x faster).
		 */
		memset(count, 0, nq * sizeof(*count));
		for (size_t j = 0; j < nq; j++)
			count[rng_below(&r, nq)]++;
		for (size_t j = 0; j < nq; j++)
			if (count[j])
				sums_add(&bs, &qs[j], count[j]);
		sums_metrics(&bs, &reps[b * M_COUNT]);
	}
	free(count);
}

/* Percentile bootstrap intervals of the metrics whose point estimate v[k] is finite. */
static void bootstrap(const struct query *qs, size_t nq, const struct metrics_options *o, uint64_t seed,
		      const double *v, struct metrics *out)
{
	size_t b_n = (size_t)o->bootstrap;
	double *reps = xmalloc(b_n * M_COUNT * sizeof(double));
	double *col = xmalloc(b_n * sizeof(double));
	double alpha = 1 - o->level;

	resample(qs, nq, b_n, seed, reps);
	for (int k = 0; k < M_COUNT; k++) {
		size_t nf = 0;
		/* Replicates where a metric is undefined (no measured query drawn) are left out. */
		for (size_t b = 0; b < b_n; b++)
			if (isfinite(reps[b * M_COUNT + k]))
				col[nf++] = reps[b * M_COUNT + k];
		if (!nf || !isfinite(v[k]))
			continue;
		stats_sort(col, nf);
		metric_slot(out, k)->ci_low = stats_quantile_sorted(col, nf, alpha / 2);
		metric_slot(out, k)->ci_high = stats_quantile_sorted(col, nf, 1 - alpha / 2);
	}
	free(col);
	free(reps);
}

/* Metrics over the queries idx[0..nidx) of in, resampled with seed. */
static void compute_subset(const struct metrics_input *in, const size_t *idx, size_t nidx,
			   const struct metrics_options *o, uint64_t seed, struct metrics *out)
{
	struct query *qs = xcalloc(nidx ? nidx : 1, sizeof(*qs));
	struct sums s = { 0 };
	double v[M_COUNT];
	size_t nq;

	memset(out, 0, sizeof(*out));
	out->n = (int)nidx;
	nq = collect(in, idx, nidx, qs, out);
	for (size_t j = 0; j < nq; j++)
		sums_add(&s, &qs[j], 1);
	out->n_scored = (int)nq;
	sums_metrics(&s, v);
	for (int k = 0; k < M_COUNT; k++)
		*metric_slot(out, k) = (struct metric_value){ v[k], NAN, NAN };
	if (o->bootstrap > 0 && nq > 0)
		bootstrap(qs, nq, o, seed, v, out);
	free(qs);
}

static int check(const struct metrics_input *in, const struct metrics_options *o,
		 char *err, size_t errlen)
{
	if (in->n > 0 && (!in->acc || !in->energy_j || !in->latency_s))
		return err_set(err, errlen, "metrics: accuracy, energy and latency arrays are required");
	if (o->bootstrap < 0)
		return err_set(err, errlen, "metrics: bootstrap resamples must be >= 0 (got %d)",
			       o->bootstrap);
	if (!(o->level > 0 && o->level < 1))
		return err_set(err, errlen, "metrics: confidence level must lie in (0, 1) (got %g)",
			       o->level);
	return 0;
}

int metrics_compute(const struct metrics_input *in, const struct metrics_options *o,
		    struct metrics *out, char *err, size_t errlen)
{
	struct metrics_options defs;
	size_t *idx;

	if (!o) {
		metrics_options_init(&defs);
		o = &defs;
	}
	if (check(in, o, err, errlen))
		return -1;
	idx = xmalloc((in->n ? in->n : 1) * sizeof(*idx));
	for (size_t i = 0; i < in->n; i++)
		idx[i] = i;
	compute_subset(in, idx, in->n, o, o->seed, out);
	free(idx);
	return 0;
}

static const char *subject_of(const struct metrics_input *in, size_t i)
{
	return in->subject && in->subject[i] ? in->subject[i] : "";
}

static int cmp_by_subject(const void *a, const void *b, void *ctx)
{
	const struct metrics_input *in = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(subject_of(in, x), subject_of(in, y));
	return c ? c : (x > y) - (x < y);
}

/* FNV-1a of a string: mixes a subject's name into its seed. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

int metrics_by_subject(const struct metrics_input *in, const struct metrics_options *o,
		       struct subject_metrics **out, size_t *nout, char *err, size_t errlen)
{
	struct metrics_options defs;
	struct subject_metrics *res = NULL;
	size_t *idx, nres = 0;

	*out = NULL;
	*nout = 0;
	if (!o) {
		metrics_options_init(&defs);
		o = &defs;
	}
	if (check(in, o, err, errlen))
		return -1;
	idx = xmalloc((in->n ? in->n : 1) * sizeof(*idx));
	for (size_t i = 0; i < in->n; i++)
		idx[i] = i;
	/* Group by subject; within a group the original order is kept (stable by index). */
	qsort_r(idx, in->n, sizeof(*idx), cmp_by_subject, (void *)in);
	res = xcalloc(in->n ? in->n : 1, sizeof(*res));
	for (size_t a = 0, b; a < in->n; a = b) {
		const char *name = subject_of(in, idx[a]);
		for (b = a + 1; b < in->n && !strcmp(subject_of(in, idx[b]), name); b++)
			;
		res[nres].subject = xstrdup(name);
		compute_subset(in, idx + a, b - a, o, o->seed ^ fnv1a(name), &res[nres].m);
		nres++;
	}
	free(idx);
	*out = res;
	*nout = nres;
	return 0;
}

void subject_metrics_free(struct subject_metrics *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free(s[i].subject);
	free(s);
}

/* ---- device power ---- */

static int cmp_pair(const void *a, const void *b)
{
	const double *x = a, *y = b;
	return x[0] < y[0] ? -1 : x[0] > y[0];
}

double metrics_busy_seconds(const double *t0, const double *t1, size_t n)
{
	double *iv = xmalloc((2 * n + 1) * sizeof(*iv)), busy = 0, s = 0, e = 0;
	size_t k = 0;
	int open = 0;

	for (size_t i = 0; i < n; i++)
		if (isfinite(t0[i]) && isfinite(t1[i]) && t1[i] >= t0[i]) {
			iv[2 * k] = t0[i];
			iv[2 * k + 1] = t1[i];
			k++;
		}
	qsort(iv, k, 2 * sizeof(*iv), cmp_pair);
	for (size_t i = 0; i < k; i++) {
		if (open && iv[2 * i] <= e) {
			if (iv[2 * i + 1] > e)
				e = iv[2 * i + 1];
			continue;
		}
		if (open)
			busy += e - s;
		s = iv[2 * i];
		e = iv[2 * i + 1];
		open = 1;
	}
	if (open)
		busy += e - s;
	free(iv);
	return busy;
}

void metrics_device_power(const struct metrics_input *in, const double *t_send, const double *t_end,
			  struct device_power *out)
{
	double *t0 = xcalloc(in->n + 1, sizeof(double)), *t1 = xcalloc(in->n + 1, sizeof(double));
	double correct = 0;
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->n; i++) {
		double lat = in->latency_s[i];
		if ((in->failed && in->failed[i]) || (in->acc[i] != 0 && in->acc[i] != 1) ||
		    !(finite_nonneg(in->energy_j[i]) && isfinite(lat) && lat > 0) || !isfinite(t_send[i]) ||
		    !isfinite(t_end[i]))
			continue;
		out->n++;
		out->energy_j += in->energy_j[i];
		out->request_s += lat;
		correct += in->acc[i];
		t0[k] = t_send[i];
		t1[k++] = t_end[i];
	}
	out->busy_s = metrics_busy_seconds(t0, t1, k);
	free(t0);
	free(t1);
	if (!out->n || !(out->busy_s > 0)) {
		out->energy_j = out->busy_s = out->request_s = out->power_w = out->in_flight = NAN;
		out->accuracy = out->ipw = NAN;
		return;
	}
	out->power_w = out->energy_j / out->busy_s;
	out->in_flight = out->request_s / out->busy_s;
	out->accuracy = correct / out->n;
	out->ipw = out->power_w > 0 ? out->accuracy / out->power_w : NAN;
}
