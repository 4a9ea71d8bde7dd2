/*
 * analysis/comparison.c - what compares runs: delta-method and
 * order-statistic intervals (a comparison row itself is src/aggregate.c's
 * agg_compare_load), the regressions of one run on token counts
 * (stats_ols), and the attribution of an IPW/IPJ change to accuracy and
 * power or energy.
 */
#include "analysis.h"
#include "analysis/paper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "stats.h"
#include "util.h"

struct metric_value analysis_percentile_ci(double *v, size_t n, double p, double level)
{
	struct metric_value r;
	stats_quantile_ci(v, n, p / 100, level, &r.value, &r.ci_low, &r.ci_high);
	return r;
}

/* ---- delta-method intervals ---- */

/* value with the interval value -/+ h (NAN when either is not finite). */
static struct metric_value around(double value, double h)
{
	struct metric_value v = {value, NAN, NAN};
	if (isfinite(value) && isfinite(h)) {
		v.ci_low = value - h;
		v.ci_high = value + h;
	}
	return v;
}

void analysis_delta_ci(const struct metrics_input *in, double level, struct metrics *m)
{
	struct stats_moments acc = {0}, ap = {0}, ae = {0}, et = {0}, te = {0};

	for (size_t i = 0; i < in->n; i++) {
		double e = in->energy_j[i], lat = in->latency_s[i];
		if ((in->failed && in->failed[i]) || (in->acc[i] != 0 && in->acc[i] != 1))
			continue;
		stats_moments_add(&acc, in->acc[i], 0);
		if (!(isfinite(e) && e >= 0 && isfinite(lat) && lat > 0))
			continue;
		stats_moments_add(&ap, in->acc[i], e / lat);
		stats_moments_add(&ae, in->acc[i], e);
		if (in->tokens && isfinite(in->tokens[i]) && in->tokens[i] >= 0) {
			stats_moments_add(&et, e, in->tokens[i]);
			stats_moments_add(&te, in->tokens[i], e);
		}
	}
	m->accuracy = around(m->accuracy.value, stats_mean_halfwidth(&acc, level));
	m->ipw = around(m->ipw.value, stats_ratio_halfwidth(&ap, level));
	m->ipj = around(m->ipj.value, stats_ratio_halfwidth(&ae, level));
	m->j_per_token = around(m->j_per_token.value, stats_ratio_halfwidth(&et, level));
	m->tokens_per_j = around(m->tokens_per_j.value, stats_ratio_halfwidth(&te, level));
	{
		/* power and energy means: the y of ap and ae */
		struct stats_moments p = {ap.n, ap.sy, 0, ap.syy, 0, 0}, en = {ae.n, ae.sy, 0, ae.syy, 0, 0};
		m->power_w = around(m->power_w.value, stats_mean_halfwidth(&p, level));
		m->energy_j = around(m->energy_j.value, stats_mean_halfwidth(&en, level));
	}
	m->ipw_dynamic.ci_low = m->ipw_dynamic.ci_high = NAN;
	m->ipj_dynamic.ci_low = m->ipj_dynamic.ci_high = NAN;
}

/* ---- comparison ---- */

int analysis_resolve_runs(struct store *s, char *const *refs, size_t n, char ***ids, char *err, size_t errlen)
{
	char **v = xcalloc(n + 1, sizeof(*v));
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		struct run_record r;
		memset(&r, 0, sizeof(r));
		if ((rc = store_run_get(s, refs[i], &r, err, errlen)) < 0) {
			free_list(v);
			*ids = NULL;
			return rc;
		}
		v[i] = xstrdup(r.id);
		run_record_release(&r);
	}
	*ids = v;
	return 0;
}

/* ---- least squares ---- */

int analysis_ols(const double *y, const double *const *x, int k, size_t n, double level,
		 struct regression *out, char *err, size_t errlen)
{
	struct stats_ols o;
	int rc = stats_ols(y, x, k, n, level, &o, err, errlen);

	memset(out, 0, sizeof(*out));
	out->k = k;
	out->n = o.n;
	out->r2 = o.r2;
	out->sigma = o.sigma;
	for (int j = 0; j <= REG_MAXK; j++) {
		out->coef[j] = o.coef[j];
		out->se[j] = o.se[j];
		out->ci[j] = (struct metric_value){o.coef[j], o.lo[j], o.hi[j]};
	}
	return rc;
}

const struct reg_spec analysis_reg_specs[REG_COUNT] = {
	{"energy_j ~ output_tokens", "energy_j", 1, {"output_tokens"}},
	{"energy_j ~ prompt_tokens + output_tokens", "energy_j", 2, {"prompt_tokens", "output_tokens"}},
	{"latency_s ~ prompt_tokens + output_tokens", "latency_s", 2, {"prompt_tokens", "output_tokens"}},
	{"ttft_s ~ prompt_tokens", "ttft_s", 1, {"prompt_tokens"}},
};

/* d's column called name, or NULL. */
static const double *column(const struct run_data *d, const char *name)
{
	if (!strcmp(name, "energy_j"))
		return d->energy_j;
	if (!strcmp(name, "latency_s"))
		return d->latency_s;
	if (!strcmp(name, "ttft_s"))
		return d->ttft_s;
	if (!strcmp(name, "prompt_tokens"))
		return d->prompt_tokens;
	if (!strcmp(name, "output_tokens"))
		return d->output_tokens;
	return NULL;
}

void analysis_run_regressions(const struct run_data *d, double level, struct run_regressions *out)
{
	double *y = xmalloc((d->n ? d->n : 1) * sizeof(*y));

	memset(out, 0, sizeof(*out));
	for (int r = 0; r < REG_COUNT; r++) {
		const struct reg_spec *sp = &analysis_reg_specs[r];
		const double *src = column(d, sp->y), *x[REG_MAXK];
		/* failed requests are left out, as in every metric */
		for (size_t i = 0; i < d->n; i++)
			y[i] = d->failed[i] ? NAN : src[i];
		for (int j = 0; j < sp->k; j++)
			x[j] = column(d, sp->x[j]);
		out->ok[r] = analysis_ols(y, x, sp->k, d->n, level, &out->r[r], out->why[r], sizeof(out->why[r])) == 0;
	}
	free(y);
}
/* ---- attribution ---- */

/* The queries of a run that IPW and IPJ use: scored, not failed, energy and latency measured. */
struct eq {
	double acc, p, e;
};

static struct eq *energy_queries(const struct run_data *d, size_t *n)
{
	struct eq *q = xmalloc((d->n ? d->n : 1) * sizeof(*q));
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		double e = d->energy_j[i], lat = d->latency_s[i];
		if (d->failed[i] || (d->acc[i] != 0 && d->acc[i] != 1) || !(isfinite(e) && e >= 0) ||
		    !(isfinite(lat) && lat > 0))
			continue;
		q[k++] = (struct eq){d->acc[i], e / lat, e};
	}
	*n = k;
	return q;
}

/* Mean accuracy, power, energy of q (resampled by drawing n indices when r is not NULL). */
static void eq_means(const struct eq *q, size_t n, struct rng *r, double m[3])
{
	double a = 0, p = 0, e = 0;
	for (size_t j = 0; j < n; j++) {
		const struct eq *x = &q[r ? (size_t)rng_below(r, n) : j];
		a += x->acc;
		p += x->p;
		e += x->e;
	}
	m[0] = a / (double)n;
	m[1] = p / (double)n;
	m[2] = e / (double)n;
}

static double ratio_or_nan(double a, double b)
{
	return b > 0 && isfinite(a) ? a / b : NAN;
}

int analysis_attribute(const struct run_data *a, const struct run_data *b, const struct metrics_options *o,
		       struct attribution *out, char *err, size_t errlen)
{
	struct metrics_options defs, point;
	struct metrics_input ia, ib;
	struct eq *qa = NULL, *qb = NULL;
	size_t na, nb;
	double ma[3], mb[3];
	int rc = -1;

	if (!o) {
		metrics_options_init(&defs);
		o = &defs;
	}
	memset(out, 0, sizeof(*out));
	point = *o;
	point.bootstrap = 0;
	run_data_metrics_input(a, &ia);
	run_data_metrics_input(b, &ib);
	if (metrics_compute(&ia, &point, &out->a, err, errlen) < 0 ||
	    metrics_compute(&ib, &point, &out->b, err, errlen) < 0)
		goto out;
	qa = energy_queries(a, &na);
	qb = energy_queries(b, &nb);
	if (na == 0 || nb == 0) {
		err_set(err, errlen, "run %s has no scored query with measured energy (score it with ipw score; "
			"attribution needs accuracy and energy)", na == 0 ? "A" : "B");
		goto out;
	}
	eq_means(qa, na, NULL, ma);
	eq_means(qb, nb, NULL, mb);
	out->acc_factor = (struct metric_value){ratio_or_nan(mb[0], ma[0]), NAN, NAN};
	out->power_factor = (struct metric_value){ratio_or_nan(ma[1], mb[1]), NAN, NAN};
	out->energy_factor = (struct metric_value){ratio_or_nan(ma[2], mb[2]), NAN, NAN};
	out->ipw_ratio = (struct metric_value){ratio_or_nan(out->b.ipw.value, out->a.ipw.value), NAN, NAN};
	out->ipj_ratio = (struct metric_value){ratio_or_nan(out->b.ipj.value, out->a.ipj.value), NAN, NAN};
	out->acc_share_ipw = log(out->acc_factor.value) / log(out->ipw_ratio.value);
	out->acc_share_ipj = log(out->acc_factor.value) / log(out->ipj_ratio.value);
	if (!isfinite(out->acc_share_ipw))
		out->acc_share_ipw = NAN;
	if (!isfinite(out->acc_share_ipj))
		out->acc_share_ipj = NAN;
	if (o->bootstrap > 0) {
		size_t bn = (size_t)o->bootstrap;
		double *rep = xmalloc(5 * bn * sizeof(double));
		struct rng r;
		rng_seed(&r, o->seed);
		for (size_t k = 0; k < bn; k++) {
			double ra[3], rb[3];
			eq_means(qa, na, &r, ra);
			eq_means(qb, nb, &r, rb);
			rep[k] = ratio_or_nan(rb[0], ra[0]);
			rep[bn + k] = ratio_or_nan(ra[1], rb[1]);
			rep[2 * bn + k] = ratio_or_nan(ra[2], rb[2]);
			rep[3 * bn + k] = ratio_or_nan(ratio_or_nan(rb[0], rb[1]), ratio_or_nan(ra[0], ra[1]));
			rep[4 * bn + k] = ratio_or_nan(ratio_or_nan(rb[0], rb[2]), ratio_or_nan(ra[0], ra[2]));
		}
		struct metric_value *mv[5] = {&out->acc_factor, &out->power_factor, &out->energy_factor,
					      &out->ipw_ratio, &out->ipj_ratio};
		for (int k = 0; k < 5; k++)
			if (isfinite(mv[k]->value))
				stats_percentile_interval(&rep[(size_t)k * bn], bn, o->level, &mv[k]->ci_low, &mv[k]->ci_high);
		free(rep);
	}
	rc = 0;
out:
	free(qa);
	free(qb);
	return rc;
}

/* ---- attribution: delta-method intervals ---- */

/* One run's moments: (acc, power) and (acc, energy) over the queries IPW and IPJ use. */
struct eq_moments {
	struct stats_moments ap, ae;
};

static void eq_moments_of(const struct eq *q, size_t n, struct eq_moments *m)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		stats_moments_add(&m->ap, q[i].acc, q[i].p);
		stats_moments_add(&m->ae, q[i].acc, q[i].e);
	}
}

/* The moments of the y of m as the x of a new set (mean(y)'s half-width). */
static struct stats_moments y_as_x(const struct stats_moments *m)
{
	return (struct stats_moments){m->n, m->sy, 0, m->syy, 0, 0};
}

/*
 * value = U_num / U_den of two independent estimates with half-widths h_num
 * and h_den: the first-order (delta method) half-width value x
 * sqrt((h_num / U_num)^2 + (h_den / U_den)^2), as an interval around value.
 */
static struct metric_value indep_ratio(double value, double u_num, double h_num, double u_den, double h_den)
{
	double rn = h_num / u_num, rd = h_den / u_den;
	return around(value, fabs(value) * sqrt(rn * rn + rd * rd));
}

int analysis_attribute_delta_ci(const struct run_data *a, const struct run_data *b, double level,
				struct attribution *out)
{
	struct eq *qa, *qb;
	size_t na, nb;
	struct eq_moments ma, mb;
	int rc = -1;

	qa = energy_queries(a, &na);
	qb = energy_queries(b, &nb);
	if (na == 0 || nb == 0)
		goto out;
	eq_moments_of(qa, na, &ma);
	eq_moments_of(qb, nb, &mb);
	{
		/* per run: means of accuracy, power, energy and the ratios IPW, IPJ, each with its half-width */
		double acc_a = ma.ap.sx / ma.ap.n, acc_b = mb.ap.sx / mb.ap.n;
		double p_a = ma.ap.sy / ma.ap.n, p_b = mb.ap.sy / mb.ap.n;
		double e_a = ma.ae.sy / ma.ae.n, e_b = mb.ae.sy / mb.ae.n;
		struct stats_moments pa = y_as_x(&ma.ap), pb = y_as_x(&mb.ap), ea = y_as_x(&ma.ae), eb = y_as_x(&mb.ae);
		double h_acc_a = stats_mean_halfwidth(&ma.ap, level), h_acc_b = stats_mean_halfwidth(&mb.ap, level);
		double h_p_a = stats_mean_halfwidth(&pa, level), h_p_b = stats_mean_halfwidth(&pb, level);
		double h_e_a = stats_mean_halfwidth(&ea, level), h_e_b = stats_mean_halfwidth(&eb, level);

		out->acc_factor = indep_ratio(out->acc_factor.value, acc_b, h_acc_b, acc_a, h_acc_a);
		out->power_factor = indep_ratio(out->power_factor.value, p_a, h_p_a, p_b, h_p_b);
		out->energy_factor = indep_ratio(out->energy_factor.value, e_a, h_e_a, e_b, h_e_b);
		out->ipw_ratio = indep_ratio(out->ipw_ratio.value, acc_b / p_b, stats_ratio_halfwidth(&mb.ap, level),
					     acc_a / p_a, stats_ratio_halfwidth(&ma.ap, level));
		out->ipj_ratio = indep_ratio(out->ipj_ratio.value, acc_b / e_b, stats_ratio_halfwidth(&mb.ae, level),
					     acc_a / e_a, stats_ratio_halfwidth(&ma.ae, level));
	}
	rc = 0;
out:
	free(qa);
	free(qb);
	return rc;
}

int analysis_attribute_ci(const struct run_data *a, const struct run_data *b, const struct metrics_options *o,
			  enum agg_ci requested, enum agg_ci *chosen, struct attribution *out, char *err,
			  size_t errlen)
{
	struct metrics_options defs, point;
	long long most;

	if (!o) {
		metrics_options_init(&defs);
		o = &defs;
	}
	point = *o;
	point.bootstrap = 0;
	if (analysis_attribute(a, b, &point, out, err, errlen) < 0)
		return -1;
	most = out->a.n_scored > out->b.n_scored ? out->a.n_scored : out->b.n_scored;
	*chosen = analysis_ci_decide(requested, most);
	if (o->bootstrap <= 0)
		return 0;
	if (*chosen == AGG_CI_DELTA)
		return analysis_attribute_delta_ci(a, b, o->level, out) < 0
		       ? err_set(err, errlen, "a run has no scored query with measured energy") : 0;
	return analysis_attribute(a, b, o, out, err, errlen);
}
