/*
 * analysis.c - coverage, hybrid-routing simulation, regressions, weighted
 * metrics and attribution over stored runs. Runs are merged by item id with
 * one store cursor each, so memory does not grow with the number of runs.
 * Definitions and the routing model: docs/analysis.md.
 */
#include "analysis.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rng.h"
#include "stats.h"
#include "util.h"

/* The [alpha/2, 1 - alpha/2] quantiles of the finite values of v (sorted in place). */
static void spread(double *v, size_t n, double level, double *lo, double *hi)
{
	size_t k = stats_finite(v, n);
	stats_sort(v, k);
	*lo = stats_quantile_sorted(v, k, (1 - level) / 2);
	*hi = stats_quantile_sorted(v, k, 1 - (1 - level) / 2);
}

struct metric_value analysis_percentile_ci(double *v, size_t n, double p, double level)
{
	struct metric_value r = {NAN, NAN, NAN};
	size_t k = stats_finite(v, n);
	double q = p / 100, z, h, lo, hi;

	if (k == 0)
		return r;
	stats_sort(v, k);
	r.value = stats_quantile_sorted(v, k, q);
	/* ranks (1-based) of the order statistics bounding the quantile */
	z = stats_norm_quantile(1 - (1 - level) / 2);
	h = z * sqrt((double)k * q * (1 - q));
	lo = floor((double)k * q - h);
	hi = ceil((double)k * q + h) + 1;
	if (lo < 1 || hi > (double)k)
		return r;  /* too few values for a distribution-free interval */
	r.ci_low = v[(size_t)lo - 1];
	r.ci_high = v[(size_t)hi - 1];
	return r;
}

/* ---- merging runs by item id ---- */

int analysis_merge_open(struct analysis_merge *m, struct store *s, const char *const *run_ids, size_t n,
			int intersect, char *err, size_t errlen)
{
	int rc = -1;

	memset(m, 0, sizeof(*m));
	m->s = s;
	m->n = n;
	m->run_ids = run_ids;
	m->intersect = intersect;
	m->cur = xcalloc(n ? n : 1, sizeof(*m->cur));
	m->it = xcalloc(n ? n : 1, sizeof(*m->it));
	m->live = xcalloc(n ? n : 1, sizeof(*m->live));
	m->advance = xcalloc(n ? n : 1, sizeof(*m->advance));
	for (size_t i = 0; i < n; i++) {
		int k;
		if ((rc = store_items_open(s, run_ids[i], &m->cur[i], err, errlen)) < 0)
			goto out;
		if ((k = store_items_next(&m->cur[i], &m->it[i], err, errlen)) < 0) {
			rc = k;
			goto out;
		}
		m->live[i] = k;
	}
	rc = 0;
out:
	if (rc < 0)
		analysis_merge_close(m);
	return rc;
}

void analysis_merge_close(struct analysis_merge *m)
{
	for (size_t i = 0; m->cur && i < m->n; i++)
		store_items_close(&m->cur[i]);
	free(m->cur);
	free(m->it);
	free(m->live);
	free(m->advance);
	m->cur = NULL;
	m->it = NULL;
	m->live = NULL;
	m->advance = NULL;
}

static int merge_step(struct analysis_merge *m, size_t i, char *err, size_t errlen)
{
	int k = store_items_next(&m->cur[i], &m->it[i], err, errlen);
	if (k < 0)
		return k;
	m->live[i] = k;
	return 0;
}

int analysis_merge_next(struct analysis_merge *m, const struct store_item **items, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->advance[i] && merge_step(m, i, err, errlen) < 0)
			return -1;
		m->advance[i] = 0;
	}
	for (;;) {
		const char *min = NULL;
		size_t have = 0, first = 0;

		for (size_t i = 0; i < m->n; i++)
			if (m->live[i] && (!min || strcmp(m->it[i].item_id, min) < 0)) {
				min = m->it[i].item_id;
				first = i;
			}
		if (!min)
			return 0;
		for (size_t i = 0; i < m->n; i++) {
			if (m->live[i] && !strcmp(m->it[i].item_id, min))
				have++;
		}
		if (have == m->n) {
			for (size_t i = 0; i < m->n; i++) {
				items[i] = &m->it[i];
				m->advance[i] = 1;
			}
			return 1;
		}
		if (!m->intersect) {
			size_t miss = 0;
			for (size_t i = 0; i < m->n; i++)
				if (!(m->live[i] && !strcmp(m->it[i].item_id, min))) {
					miss = i;
					break;
				}
			return err_set(err, errlen, "item '%s' of run %s is not in run %s (the runs must cover the "
				       "same items; pass --intersect to use only the items every run has)",
				       min, m->run_ids[first], m->run_ids[miss]);
		}
		/* drop the item from the runs that have it */
		m->n_dropped++;
		for (size_t i = 0; i < m->n; i++) {
			if (m->live[i] && strcmp(m->it[i].item_id, min) == 0) {
				if (i == first) {
					/* min points into cursor first's row: compare the others first */
					continue;
				}
				if (merge_step(m, i, err, errlen) < 0)
					return -1;
			}
		}
		if (merge_step(m, first, err, errlen) < 0)
			return -1;
	}
}

/* ---- one run in memory ---- */

static const char *intern(struct run_data *d, const char *s)
{
	for (size_t i = 0; i < d->nsubjects; i++)
		if (!strcmp(d->subjects[i], s))
			return d->subjects[i];
	d->subjects = xrealloc(d->subjects, (d->nsubjects + 1) * sizeof(*d->subjects));
	d->subjects[d->nsubjects] = xstrdup(s);
	return d->subjects[d->nsubjects++];
}

static double tok(long long v)
{
	return v < 0 ? NAN : (double)v;
}

int run_data_load(struct store *s, const char *run_id, struct run_data *d, char *err, size_t errlen)
{
	struct store_cursor c;
	struct store_item it;
	size_t cap = 0;
	int rc, k;

	memset(d, 0, sizeof(*d));
	if ((rc = store_items_open(s, run_id, &c, err, errlen)) < 0)
		return rc;
	while ((k = store_items_next(&c, &it, err, errlen)) == 1) {
		size_t i = d->n;
		if (i == cap) {
			cap = cap ? 2 * cap : 256;
			d->acc = xrealloc(d->acc, cap * sizeof(*d->acc));
			d->failed = xrealloc(d->failed, cap * sizeof(*d->failed));
			d->energy_j = xrealloc(d->energy_j, cap * sizeof(double));
			d->dynamic_j = xrealloc(d->dynamic_j, cap * sizeof(double));
			d->latency_s = xrealloc(d->latency_s, cap * sizeof(double));
			d->ttft_s = xrealloc(d->ttft_s, cap * sizeof(double));
			d->prompt_tokens = xrealloc(d->prompt_tokens, cap * sizeof(double));
			d->output_tokens = xrealloc(d->output_tokens, cap * sizeof(double));
			d->t_send_s = xrealloc(d->t_send_s, cap * sizeof(double));
			d->t_end_s = xrealloc(d->t_end_s, cap * sizeof(double));
			d->subject = xrealloc(d->subject, cap * sizeof(*d->subject));
		}
		d->acc[i] = it.correct;
		d->failed[i] = !it.ok;
		d->energy_j[i] = it.accel_j;
		d->dynamic_j[i] = it.accel_dyn_j;
		d->latency_s[i] = it.e2e_s;
		d->ttft_s[i] = it.ttft_s;
		d->prompt_tokens[i] = tok(it.prompt_tokens);
		d->output_tokens[i] = tok(it.completion_tokens);
		d->t_send_s[i] = it.t_send_s;
		d->t_end_s[i] = it.t_end_s;
		d->subject[i] = intern(d, it.subject);
		d->n++;
	}
	store_items_close(&c);
	if (k < 0) {
		run_data_release(d);
		return -1;
	}
	return 0;
}

void run_data_release(struct run_data *d)
{
	free(d->acc);
	free(d->failed);
	free(d->energy_j);
	free(d->dynamic_j);
	free(d->latency_s);
	free(d->ttft_s);
	free(d->prompt_tokens);
	free(d->output_tokens);
	free(d->t_send_s);
	free(d->t_end_s);
	free(d->subject);
	for (size_t i = 0; i < d->nsubjects; i++)
		free(d->subjects[i]);
	free(d->subjects);
	memset(d, 0, sizeof(*d));
}

void run_data_metrics_input(const struct run_data *d, struct metrics_input *in)
{
	memset(in, 0, sizeof(*in));
	in->n = d->n;
	in->acc = d->acc;
	in->energy_j = d->energy_j;
	in->dynamic_j = d->dynamic_j;
	in->latency_s = d->latency_s;
	in->failed = d->failed;
	in->subject = d->subject;
	in->tokens = d->output_tokens;
}

/* ---- delta-method intervals ---- */

/* Running sums for means, variances and covariances of two variables. */
struct mom {
	double n, sx, sy, sxx, syy, sxy;
};

static void mom_add(struct mom *m, double x, double y)
{
	m->n++;
	m->sx += x;
	m->sy += y;
	m->sxx += x * x;
	m->syy += y * y;
	m->sxy += x * y;
}

/* Mean of x with its interval half-width z * s / sqrt(n). */
static struct metric_value mean_ci(const struct mom *m, double z, double value)
{
	struct metric_value v = {value, NAN, NAN};
	double mx, var;
	if (m->n < 2 || !isfinite(value))
		return v;
	mx = m->sx / m->n;
	var = (m->sxx - m->n * mx * mx) / (m->n - 1);
	if (var < 0)
		var = 0;
	v.ci_low = value - z * sqrt(var / m->n);
	v.ci_high = value + z * sqrt(var / m->n);
	return v;
}

/* Ratio mean(x) / mean(y): Var ~ (s_x² - 2 R s_xy + R² s_y²) / (n mean(y)²). */
static struct metric_value ratio_ci(const struct mom *m, double z, double value)
{
	struct metric_value v = {value, NAN, NAN};
	double mx, my, vx, vy, cxy, r, var;
	if (m->n < 2 || !isfinite(value))
		return v;
	mx = m->sx / m->n;
	my = m->sy / m->n;
	if (!(my > 0))
		return v;
	vx = (m->sxx - m->n * mx * mx) / (m->n - 1);
	vy = (m->syy - m->n * my * my) / (m->n - 1);
	cxy = (m->sxy - m->n * mx * my) / (m->n - 1);
	r = mx / my;
	var = (vx - 2 * r * cxy + r * r * vy) / (m->n * my * my);
	if (var < 0)
		var = 0;
	v.ci_low = value - z * sqrt(var);
	v.ci_high = value + z * sqrt(var);
	return v;
}

void analysis_delta_ci(const struct metrics_input *in, double level, struct metrics *m)
{
	struct mom acc = {0}, ap = {0}, ae = {0}, et = {0}, te = {0};
	double z = stats_norm_quantile(1 - (1 - level) / 2);

	for (size_t i = 0; i < in->n; i++) {
		double e = in->energy_j[i], lat = in->latency_s[i];
		if ((in->failed && in->failed[i]) || (in->acc[i] != 0 && in->acc[i] != 1))
			continue;
		mom_add(&acc, in->acc[i], 0);
		if (!(isfinite(e) && e >= 0 && isfinite(lat) && lat > 0))
			continue;
		mom_add(&ap, in->acc[i], e / lat);
		mom_add(&ae, in->acc[i], e);
		if (in->tokens && isfinite(in->tokens[i]) && in->tokens[i] >= 0) {
			mom_add(&et, e, in->tokens[i]);
			mom_add(&te, in->tokens[i], e);
		}
	}
	m->accuracy = mean_ci(&acc, z, m->accuracy.value);
	m->ipw = ratio_ci(&ap, z, m->ipw.value);
	m->ipj = ratio_ci(&ae, z, m->ipj.value);
	m->j_per_token = ratio_ci(&et, z, m->j_per_token.value);
	m->tokens_per_j = ratio_ci(&te, z, m->tokens_per_j.value);
	{
		/* power and energy means: the y of ap and ae */
		struct mom p = {ap.n, ap.sy, 0, ap.syy, 0, 0}, en = {ae.n, ae.sy, 0, ae.syy, 0, 0};
		m->power_w = mean_ci(&p, z, m->power_w.value);
		m->energy_j = mean_ci(&en, z, m->energy_j.value);
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

/* "2x NVIDIA H200, Intel Xeon" from the run's accelerator-scope sources. */
static char *accelerator_of(const struct run_record *r)
{
	struct buf b;
	char *s;
	int *done = xcalloc((size_t)r->nsources + 1, sizeof(int));

	buf_init(&b, 0);
	for (int i = 0; i < r->nsources; i++) {
		const struct run_source *a = &r->sources[i];
		const char *name = a->model && *a->model ? a->model : a->name;
		int cnt = 0;
		if (done[i] || !a->scope || strcmp(a->scope, "accelerator") || !name)
			continue;
		for (int j = i; j < r->nsources; j++) {
			const struct run_source *o = &r->sources[j];
			const char *on = o->model && *o->model ? o->model : o->name;
			if (!done[j] && o->scope && !strcmp(o->scope, "accelerator") && on && !strcmp(on, name)) {
				done[j] = 1;
				cnt++;
			}
		}
		if (b.len)
			buf_appends(&b, ", ");
		if (cnt > 1)
			buf_appendf(&b, "%dx ", cnt);
		buf_appends(&b, name);
	}
	free(done);
	s = b.len ? buf_detach(&b) : NULL;
	buf_release(&b);
	return s;
}

static int concurrency_of(const struct run_record *r)
{
	json_t *c = r->config_json ? json_loads(r->config_json, 0, NULL) : NULL;
	json_t *v = c ? json_object_get(c, "concurrency") : NULL;
	int n = json_is_integer(v) ? (int)json_integer_value(v) : -1;
	json_decref(c);
	return n;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

int analysis_compare_row(struct store *s, const char *ref, const struct metrics_options *o,
			 enum ci_method method, struct compare_row *out, char *err, size_t errlen)
{
	struct metrics_options defs, point;
	struct run_record r;
	struct run_data d;
	struct metrics_input in;
	double *lat = NULL;
	size_t nl = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if ((rc = store_run_get(s, ref, &r, err, errlen)) < 0)
		return rc;
	out->run_id = xstrdup(r.id);
	out->name = dup_or_null(r.name);
	out->model = dup_or_null(r.model);
	out->engine = dup_or_null(r.engine);
	out->accelerator = accelerator_of(&r);
	out->concurrency = concurrency_of(&r);
	out->latency_p50 = out->latency_p99 = (struct metric_value){NAN, NAN, NAN};
	if ((rc = run_data_load(s, r.id, &d, err, errlen)) < 0)
		goto out;
	run_data_metrics_input(&d, &in);
	if (!o) {
		metrics_options_init(&defs);
		o = &defs;
	}
	point = *o;
	point.bootstrap = 0;
	/* the point estimates first; they say how many queries the intervals rest on */
	if ((rc = metrics_compute(&in, &point, &out->m, err, errlen)) < 0)
		goto out_data;
	out->delta = method == CI_DELTA || (method == CI_AUTO && out->m.n_scored > CI_AUTO_MAX);
	if (out->delta)
		analysis_delta_ci(&in, o->level, &out->m);
	else if (o->bootstrap > 0 && (rc = metrics_compute(&in, o, &out->m, err, errlen)) < 0)
		goto out_data;
	lat = xmalloc((d.n ? d.n : 1) * sizeof(*lat));
	for (size_t i = 0; i < d.n; i++)
		if (!d.failed[i] && isfinite(d.latency_s[i]))
			lat[nl++] = d.latency_s[i];
	out->latency_p50 = analysis_percentile_ci(lat, nl, 50, o->level);
	out->latency_p99 = analysis_percentile_ci(lat, nl, 99, o->level);
	free(lat);
out_data:
	run_data_release(&d);
out:
	run_record_release(&r);
	if (rc < 0)
		compare_row_release(out);
	return rc;
}

void compare_row_release(struct compare_row *r)
{
	free(r->run_id);
	free(r->name);
	free(r->model);
	free(r->engine);
	free(r->accelerator);
	memset(r, 0, sizeof(*r));
}

/* ---- coverage ---- */

double coverage_value(const struct coverage_counts *c)
{
	return c->scored > 0 ? (double)c->correct / (double)c->scored : NAN;
}

static void count_item(struct coverage_counts *c, const struct store_item *it)
{
	c->items++;
	if (!it->ok)
		c->failed++;
	else if (it->correct != 0 && it->correct != 1)
		c->unscored++;
	else {
		c->scored++;
		c->correct += it->correct;
	}
}

/* The subject entry for name, inserted in sorted position if new. */
static struct coverage_subject *subject_slot(struct coverage_result *r, const char *name)
{
	size_t lo = 0, hi = r->nsubj;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->subj[mid].subject, name);
		if (c == 0)
			return &r->subj[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	r->subj = xrealloc(r->subj, (r->nsubj + 1) * sizeof(*r->subj));
	memmove(&r->subj[lo + 1], &r->subj[lo], (r->nsubj - lo) * sizeof(*r->subj));
	memset(&r->subj[lo], 0, sizeof(r->subj[lo]));
	r->subj[lo].subject = xstrdup(name);
	r->subj[lo].run = xcalloc(r->nruns ? r->nruns : 1, sizeof(*r->subj[lo].run));
	r->nsubj++;
	return &r->subj[lo];
}

int analysis_coverage(struct store *s, const char *const *run_ids, size_t n, int intersect,
		      int (*uncovered)(const char *item_id, const char *subject, void *ctx), void *ctx,
		      struct coverage_result *out, char *err, size_t errlen)
{
	struct analysis_merge m;
	const struct store_item **items = xcalloc(n ? n : 1, sizeof(*items));
	int rc, k = 0;

	memset(out, 0, sizeof(*out));
	out->nruns = n;
	out->run = xcalloc(n ? n : 1, sizeof(*out->run));
	if ((rc = analysis_merge_open(&m, s, run_ids, n, intersect, err, errlen)) < 0)
		goto out;
	while ((k = analysis_merge_next(&m, items, err, errlen)) == 1) {
		struct coverage_subject *sj = subject_slot(out, items[0]->subject);
		int any_scored = 0, any_correct = 0;

		out->n_items++;
		for (size_t i = 0; i < n; i++) {
			count_item(&out->run[i], items[i]);
			count_item(&sj->run[i], items[i]);
			if (items[i]->ok && (items[i]->correct == 0 || items[i]->correct == 1)) {
				any_scored = 1;
				any_correct |= items[i]->correct;
			}
		}
		out->best.items++;
		sj->best.items++;
		if (any_scored) {
			out->best.scored++;
			sj->best.scored++;
			out->best.correct += any_correct;
			sj->best.correct += any_correct;
		} else {
			out->best.unscored++;
			sj->best.unscored++;
		}
		if (any_scored && !any_correct) {
			out->n_uncovered++;
			if (uncovered && (k = uncovered(items[0]->item_id, items[0]->subject, ctx)) != 0)
				break;
		}
	}
	out->n_dropped = m.n_dropped;
	analysis_merge_close(&m);
	rc = k < 0 ? -1 : k;
out:
	free(items);
	if (rc != 0)
		coverage_result_release(out);
	return rc;
}

void coverage_result_release(struct coverage_result *r)
{
	for (size_t i = 0; i < r->nsubj; i++) {
		free(r->subj[i].subject);
		free(r->subj[i].run);
	}
	free(r->subj);
	free(r->run);
	memset(r, 0, sizeof(*r));
}

/* ---- hybrid routing ---- */

/* Totals of one scheme: energy, FLOPs, cost, items answered locally, correct and scored answers. */
enum { T_ENERGY, T_FLOPS, T_COST, T_LOCAL, T_CORRECT, T_SCORED, T_N };

/* What one run spent on one item. */
struct spend {
	double v[3];   /* energy J, FLOPs, cost USD; NAN unknown */
};

static void item_spend(const struct store_item *it, const struct route_model *m, struct spend *sp)
{
	double tokens = it->prompt_tokens >= 0 && it->completion_tokens >= 0
			? (double)(it->prompt_tokens + it->completion_tokens) : NAN;
	sp->v[T_ENERGY] = it->accel_j;
	sp->v[T_FLOPS] = m ? 2 * m->active_params * tokens : NAN;
	sp->v[T_COST] = m && it->prompt_tokens >= 0 && it->completion_tokens >= 0
			? (m->price_in * (double)it->prompt_tokens + m->price_out * (double)it->completion_tokens) / 1e6
			: NAN;
}

static void add_spend(double *t, const struct spend *sp, double w)
{
	for (int j = 0; j < 3; j++)
		if (w != 0)
			t[j] += w * sp->v[j];
}

/* Adds the cloud's answer of an item (w times) to the accuracy tallies. */
static void add_cloud_answer(double *t, const struct store_item *c, double w)
{
	if (w != 0 && c->ok && (c->correct == 0 || c->correct == 1)) {
		t[T_CORRECT] += w * c->correct;
		t[T_SCORED] += w;
	}
}

static void add_local_answer(double *t, double w)
{
	t[T_LOCAL] += w;
	t[T_CORRECT] += w;
	t[T_SCORED] += w;
}

static double saved(double total, double base)
{
	return base > 0 && isfinite(total) ? 1 - total / base : NAN;
}

static struct route_value rv(double v)
{
	return (struct route_value){v, NAN, NAN};
}

/* Fills row from totals t against the cloud-only totals base over n items. */
static void row_from_totals(struct route_row *row, const double *t, const double *base, double n)
{
	row->energy_j = rv(t[T_ENERGY]);
	row->flops = rv(t[T_FLOPS]);
	row->cost_usd = rv(t[T_COST]);
	row->saved_energy = rv(saved(t[T_ENERGY], base[T_ENERGY]));
	row->saved_compute = rv(saved(t[T_FLOPS], base[T_FLOPS]));
	row->saved_cost = rv(saved(t[T_COST], base[T_COST]));
	row->local_share = rv(n > 0 ? t[T_LOCAL] / n : NAN);
	row->accuracy = rv(t[T_SCORED] > 0 ? t[T_CORRECT] / t[T_SCORED] : NAN);
}

/* Mean and spread over trials of one route_value field computed from per-trial totals. */
static void mc_row(struct route_row *row, double *tr, int trials, const double *base, double n, double level)
{
	double *v = xmalloc((size_t)trials * sizeof(*v));
	struct route_row one;
	struct route_value *dst[] = {&row->energy_j, &row->flops, &row->cost_usd, &row->saved_energy,
				     &row->saved_compute, &row->saved_cost, &row->local_share, &row->accuracy};
	size_t nf = sizeof(dst) / sizeof(dst[0]);

	for (size_t f = 0; f < nf; f++) {
		double sum = 0;
		int cnt = 0;
		for (int k = 0; k < trials; k++) {
			struct route_value *src[8];
			row_from_totals(&one, &tr[(size_t)k * T_N], base, n);
			src[0] = &one.energy_j, src[1] = &one.flops, src[2] = &one.cost_usd;
			src[3] = &one.saved_energy, src[4] = &one.saved_compute, src[5] = &one.saved_cost;
			src[6] = &one.local_share, src[7] = &one.accuracy;
			v[k] = src[f]->value;
			if (isfinite(v[k])) {
				sum += v[k];
				cnt++;
			}
		}
		dst[f]->value = cnt ? sum / cnt : NAN;
		spread(v, (size_t)trials, level, &dst[f]->lo, &dst[f]->hi);
		if (!cnt)
			dst[f]->lo = dst[f]->hi = NAN;
	}
	free(v);
}

int analysis_route(struct store *s, const char *const *local, size_t nlocal, const char *cloud,
		   const struct route_model *model, const struct route_options *o,
		   struct route_result *out, char *err, size_t errlen)
{
	size_t n = nlocal + 1, np = o->np, trials = o->trials > 0 ? (size_t)o->trials : 0;
	const char **ids = xcalloc(n, sizeof(*ids));
	const struct store_item **items = xcalloc(n, sizeof(*items));
	struct spend *sp = xcalloc(n, sizeof(*sp));
	double base[T_N] = {0}, oracle[T_N] = {0};
	double *router = xcalloc(np ? np * T_N : 1, sizeof(double));
	double *cascade = xcalloc(np ? np * T_N : 1, sizeof(double));
	double *mc_router = xcalloc(np * trials * T_N + 1, sizeof(double));
	double *mc_cascade = xcalloc(np * trials * T_N + 1, sizeof(double));
	struct analysis_merge m;
	struct rng rng;
	int merged = 0, rc = -1, k;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	out->nlocal = nlocal;
	out->oracle_chosen = xcalloc(nlocal ? nlocal : 1, sizeof(*out->oracle_chosen));
	if (nlocal == 0) {
		err_set(err, errlen, "routing needs at least one local run (--local RUN)");
		goto out;
	}
	for (size_t j = 0; j < np; j++)
		if (!(o->p[j] >= 0 && o->p[j] <= 1)) {
			err_set(err, errlen, "router accuracy %g is outside [0, 1]", o->p[j]);
			goto out;
		}
	for (size_t i = 0; i < nlocal; i++)
		ids[i] = local[i];
	ids[nlocal] = cloud;
	rng_seed(&rng, o->seed);
	if ((rc = analysis_merge_open(&m, s, ids, n, o->intersect, err, errlen)) < 0)
		goto out;
	merged = 1;
	rc = -1;
	while ((k = analysis_merge_next(&m, items, err, errlen)) == 1) {
		const struct store_item *c = items[nlocal];
		int obj = o->objective == ROUTE_COST ? T_COST : T_ENERGY;
		long best = -1;

		for (size_t i = 0; i < n; i++)
			item_spend(items[i], model ? &model[i] : NULL, &sp[i]);
		if (!isfinite(sp[nlocal].v[obj]) || sp[nlocal].v[obj] < 0) {
			if (o->intersect) {
				out->n_unmeasured++;
				continue;
			}
			err_set(err, errlen, "item '%s' of the cloud run %s has no measured %s (it is the baseline "
				"every route is compared to; pass --intersect to leave such items out)", c->item_id,
				cloud, obj == T_COST ? "cost (token counts)" : "energy");
			goto out;
		}
		/* the oracle: the cheapest local run that answered right */
		for (size_t i = 0; i < nlocal; i++) {
			const struct store_item *it = items[i];
			if (it->ok && it->correct == 1 && isfinite(sp[i].v[obj]) && sp[i].v[obj] >= 0 &&
			    (best < 0 || sp[i].v[obj] < sp[best].v[obj]))
				best = (long)i;
		}
		out->n_items++;
		add_spend(base, &sp[nlocal], 1);
		add_cloud_answer(base, c, 1);
		if (best >= 0) {
			out->n_answerable++;
			out->oracle_chosen[best]++;
			add_spend(oracle, &sp[best], 1);
			add_local_answer(oracle, 1);
		} else {
			add_spend(oracle, &sp[nlocal], 1);
			add_cloud_answer(oracle, c, 1);
		}
		for (size_t j = 0; j < np; j++) {
			double p = o->p[j], *rt = &router[j * T_N], *ct = &cascade[j * T_N];
			if (best >= 0) {
				add_spend(rt, &sp[best], p);
				add_local_answer(rt, p);
				add_spend(rt, &sp[nlocal], 1 - p);
				add_cloud_answer(rt, c, 1 - p);
				add_spend(ct, &sp[best], p);
				add_local_answer(ct, p);
				add_spend(ct, &sp[0], 1 - p);
				add_spend(ct, &sp[nlocal], 1 - p);
				add_cloud_answer(ct, c, 1 - p);
			} else {
				add_spend(rt, &sp[nlocal], 1);
				add_cloud_answer(rt, c, 1);
				add_spend(ct, &sp[0], 1);
				add_spend(ct, &sp[nlocal], 1);
				add_cloud_answer(ct, c, 1);
			}
			for (size_t t = 0; t < trials; t++) {
				double *mr = &mc_router[(j * trials + t) * T_N], *mcs = &mc_cascade[(j * trials + t) * T_N];
				/* one draw per trial and answerable item, shared by router and cascade */
				int right = best >= 0 && rng_unit(&rng) < p;
				if (right) {
					add_spend(mr, &sp[best], 1);
					add_local_answer(mr, 1);
					add_spend(mcs, &sp[best], 1);
					add_local_answer(mcs, 1);
				} else {
					add_spend(mr, &sp[nlocal], 1);
					add_cloud_answer(mr, c, 1);
					add_spend(mcs, &sp[0], 1);
					add_spend(mcs, &sp[nlocal], 1);
					add_cloud_answer(mcs, c, 1);
				}
			}
		}
	}
	if (k < 0)
		goto out;
	out->n_dropped = m.n_dropped;
	out->nrows = 2 + np * (trials ? 4 : 2);
	out->rows = xcalloc(out->nrows, sizeof(*out->rows));
	{
		struct route_row *r = out->rows;
		double nn = (double)out->n_items;
		r->scheme = "cloud-only";
		r->p = NAN;
		row_from_totals(r++, base, base, nn);
		r->scheme = "oracle";
		r->p = 1;
		row_from_totals(r++, oracle, base, nn);
		for (size_t j = 0; j < np; j++) {
			r->scheme = "router";
			r->p = o->p[j];
			row_from_totals(r++, &router[j * T_N], base, nn);
			if (trials) {
				r->scheme = "router";
				r->p = o->p[j];
				r->monte_carlo = 1;
				mc_row(r++, &mc_router[j * trials * T_N], (int)trials, base, nn, o->level);
			}
			r->scheme = "cascade";
			r->p = o->p[j];
			row_from_totals(r++, &cascade[j * T_N], base, nn);
			if (trials) {
				r->scheme = "cascade";
				r->p = o->p[j];
				r->monte_carlo = 1;
				mc_row(r++, &mc_cascade[j * trials * T_N], (int)trials, base, nn, o->level);
			}
		}
	}
	rc = 0;
out:
	if (merged)
		analysis_merge_close(&m);
	free(ids);
	free(items);
	free(sp);
	free(router);
	free(cascade);
	free(mc_router);
	free(mc_cascade);
	if (rc < 0)
		route_result_release(out);
	return rc;
}

void route_result_release(struct route_result *r)
{
	free(r->oracle_chosen);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

/* A key/values table read from a prices or parameters file. */
struct kv {
	char *key;
	double v[2];
};

/* "8B", "3.6e9", "120M" as a number. */
static int parse_count(const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	if (*end == 'B' || *end == 'b')
		v *= 1e9, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1e6, end++;
	else if (*end == 'T' || *end == 't')
		v *= 1e12, end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int json_count(json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
		return isfinite(*out) && *out >= 0 ? 0 : -1;
	}
	if (json_is_string(v))
		return parse_count(json_string_value(v), out);
	return -1;
}

/* Reads nval numbers per key (prices: input, output; params: one). */
static int kv_read(const char *path, int nval, struct kv **out, size_t *nout, char *err, size_t errlen)
{
	char *text = NULL, *p;
	size_t len, n = 0;
	struct kv *t = NULL;
	json_t *root = NULL;
	int rc = -1, line = 0;
	const char *what = nval == 2 ? "prices (input and output USD per 1M tokens)" : "active parameters";

	if (read_file(path, &text, &len, err, errlen) < 0)
		return -1;
	for (p = text; isspace((unsigned char)*p); p++)
		;
	if (*p == '{') {
		json_error_t je;
		const char *key;
		json_t *v;
		if (!(root = json_loads(text, 0, &je))) {
			err_set(err, errlen, "%s:%d: not valid JSON: %s", path, je.line, je.text);
			goto out;
		}
		json_object_foreach(root, key, v) {
			double a = NAN, b = NAN;
			int bad;
			if (nval == 1)
				bad = json_count(v, &a);
			else if (json_is_object(v))
				bad = json_count(json_object_get(v, "input"), &a) ||
				      json_count(json_object_get(v, "output"), &b);
			else if (json_is_array(v) && json_array_size(v) == 2)
				bad = json_count(json_array_get(v, 0), &a) || json_count(json_array_get(v, 1), &b);
			else
				bad = 1;
			if (bad) {
				err_set(err, errlen, "%s: the entry of '%s' must give the %s%s", path, key, what,
					nval == 2 ? " as {\"input\": X, \"output\": Y}" : " as a number like 8e9 or \"8B\"");
				goto out;
			}
			t = xrealloc(t, (n + 1) * sizeof(*t));
			t[n].key = xstrdup(key);
			t[n].v[0] = a;
			t[n].v[1] = b;
			n++;
		}
	} else {
		char *save = NULL;
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *f[3], *save2 = NULL;
			int nf = 0;
			line++;
			l[strcspn(l, "\r#")] = 0;
			for (char *tk = strtok_r(l, " \t,", &save2); tk; tk = strtok_r(NULL, " \t,", &save2)) {
				if (nf == 3) {
					nf = 4;
					break;
				}
				f[nf++] = tk;
			}
			if (nf == 0)
				continue;
			double a = NAN, b = NAN;
			if (nf != nval + 1 || parse_count(f[1], &a) < 0 || (nval == 2 && parse_count(f[2], &b) < 0)) {
				err_set(err, errlen, "%s:%d: expected '%s' (the %s)", path, line,
					nval == 2 ? "KEY INPUT OUTPUT" : "KEY PARAMETERS", what);
				goto out;
			}
			t = xrealloc(t, (n + 1) * sizeof(*t));
			t[n].key = xstrdup(f[0]);
			t[n].v[0] = a;
			t[n].v[1] = b;
			n++;
		}
	}
	*out = t;
	*nout = n;
	t = NULL;
	rc = 0;
out:
	for (size_t i = 0; t && i < n; i++)
		free(t[i].key);
	free(t);
	json_decref(root);
	free(text);
	return rc;
}

static const struct kv *kv_find(const struct kv *t, size_t n, const struct run_record *r)
{
	const char *keys[] = {r->id, r->name, r->model, r->server_model};
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		for (size_t i = 0; keys[k] && i < n; i++)
			if (!strcmp(t[i].key, keys[k]))
				return &t[i];
	return NULL;
}

int analysis_route_models(const struct run_record *runs, size_t n, const char *prices, const char *params,
			  struct route_model *model, char *err, size_t errlen)
{
	const char *paths[2] = {prices, params};
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		model[i] = (struct route_model){NAN, NAN, NAN};
	for (int f = 0; f < 2 && rc == 0; f++) {
		struct kv *t = NULL;
		size_t nt = 0;
		if (!paths[f])
			continue;
		if (kv_read(paths[f], f == 0 ? 2 : 1, &t, &nt, err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < n; i++) {
			const struct kv *e = kv_find(t, nt, &runs[i]);
			if (!e) {
				rc = err_set(err, errlen, "%s has no entry for run %s (name '%s', model '%s'); a key "
					     "matches a run's id, name, model or server model", paths[f], runs[i].id,
					     runs[i].name ? runs[i].name : "", runs[i].model ? runs[i].model : "");
				break;
			}
			if (f == 0) {
				model[i].price_in = e->v[0];
				model[i].price_out = e->v[1];
			} else {
				model[i].active_params = e->v[0];
			}
		}
		for (size_t i = 0; i < nt; i++)
			free(t[i].key);
		free(t);
	}
	return rc;
}

/* ---- least squares ---- */

/* Inverts the symmetric positive definite p x p matrix a in place (Gauss-Jordan with pivoting). */
static int invert(double *a, int p)
{
	double inv[(REG_MAXK + 1) * (REG_MAXK + 1)];
	double scale = 0;

	for (int i = 0; i < p * p; i++) {
		inv[i] = (i / p == i % p);
		scale = fmax(scale, fabs(a[i]));
	}
	for (int c = 0; c < p; c++) {
		int piv = c;
		for (int r = c + 1; r < p; r++)
			if (fabs(a[r * p + c]) > fabs(a[piv * p + c]))
				piv = r;
		if (!(fabs(a[piv * p + c]) > 1e-12 * scale))
			return -1;
		for (int j = 0; j < p; j++) {
			double t = a[c * p + j];
			a[c * p + j] = a[piv * p + j];
			a[piv * p + j] = t;
			t = inv[c * p + j];
			inv[c * p + j] = inv[piv * p + j];
			inv[piv * p + j] = t;
		}
		double d = a[c * p + c];
		for (int j = 0; j < p; j++) {
			a[c * p + j] /= d;
			inv[c * p + j] /= d;
		}
		for (int r = 0; r < p; r++) {
			double f = a[r * p + c];
			if (r == c || f == 0)
				continue;
			for (int j = 0; j < p; j++) {
				a[r * p + j] -= f * a[c * p + j];
				inv[r * p + j] -= f * inv[c * p + j];
			}
		}
	}
	memcpy(a, inv, (size_t)(p * p) * sizeof(double));
	return 0;
}

int analysis_ols(const double *y, const double *const *x, int k, size_t n, double level,
		 struct regression *out, char *err, size_t errlen)
{
	int p = k + 1;
	double mean[REG_MAXK + 2] = {0};   /* means of x[0..k) then y */
	double xtx[(REG_MAXK + 1) * (REG_MAXK + 1)] = {0}, xty[REG_MAXK + 1] = {0}, yy = 0;
	double rss, tss, t;
	long long cnt = 0;

	memset(out, 0, sizeof(*out));
	out->k = k;
	out->r2 = out->sigma = NAN;
	for (int j = 0; j <= REG_MAXK; j++) {
		out->coef[j] = out->se[j] = NAN;
		out->ci[j] = (struct metric_value){NAN, NAN, NAN};
	}
	if (k < 1 || k > REG_MAXK)
		return err_set(err, errlen, "regression: 1 to %d predictors (got %d)", REG_MAXK, k);
	/* centred sums (two passes) keep the normal equations well conditioned */
	for (size_t i = 0; i < n; i++) {
		int ok = isfinite(y[i]);
		for (int j = 0; j < k && ok; j++)
			ok = isfinite(x[j][i]);
		if (!ok)
			continue;
		cnt++;
		for (int j = 0; j < k; j++)
			mean[j] += x[j][i];
		mean[k] += y[i];
	}
	out->n = cnt;
	if (cnt < p + 1)
		return err_set(err, errlen, "regression: %lld usable observations, need at least %d", cnt, p + 1);
	for (int j = 0; j <= k; j++)
		mean[j] /= (double)cnt;
	/* centred design: the intercept's column decouples; solve the k x k slope system */
	for (size_t i = 0; i < n; i++) {
		double d[REG_MAXK], dy;
		int ok = isfinite(y[i]);
		for (int j = 0; j < k && ok; j++)
			ok = isfinite(x[j][i]);
		if (!ok)
			continue;
		for (int j = 0; j < k; j++)
			d[j] = x[j][i] - mean[j];
		dy = y[i] - mean[k];
		for (int a = 0; a < k; a++) {
			for (int b = 0; b < k; b++)
				xtx[a * k + b] += d[a] * d[b];
			xty[a] += d[a] * dy;
		}
		yy += dy * dy;
	}
	double inv[REG_MAXK * REG_MAXK];
	memcpy(inv, xtx, sizeof(inv));
	if (invert(inv, k) < 0)
		return err_set(err, errlen, "regression: the predictors are constant or collinear "
			       "(no slope can be estimated)");
	rss = yy;
	for (int a = 0; a < k; a++) {
		double b = 0;
		for (int c = 0; c < k; c++)
			b += inv[a * k + c] * xty[c];
		out->coef[a + 1] = b;
		rss -= b * xty[a];
	}
	out->coef[0] = mean[k];
	for (int a = 0; a < k; a++)
		out->coef[0] -= out->coef[a + 1] * mean[a];
	if (rss < 0)
		rss = 0;
	tss = yy;
	out->r2 = tss > 0 ? 1 - rss / tss : NAN;
	double df = (double)(cnt - p), s2 = rss / df;
	out->sigma = sqrt(s2);
	/* Var(slopes) = s2 (Xc'Xc)^-1; Var(intercept) = s2 (1/n + m' (Xc'Xc)^-1 m) */
	double v0 = 1.0 / (double)cnt;
	for (int a = 0; a < k; a++)
		for (int c = 0; c < k; c++)
			v0 += mean[a] * inv[a * k + c] * mean[c];
	out->se[0] = sqrt(s2 * v0);
	for (int a = 0; a < k; a++)
		out->se[a + 1] = sqrt(s2 * inv[a * k + a]);
	t = stats_t_quantile(1 - (1 - level) / 2, df);
	for (int j = 0; j < p; j++)
		out->ci[j] = (struct metric_value){out->coef[j], out->coef[j] - t * out->se[j],
						   out->coef[j] + t * out->se[j]};
	return 0;
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

/* ---- subject weights ---- */

void weights_free(struct weight_entry *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++)
		free(w[i].subject);
	free(w);
}

static int add_weight(struct weight_entry **w, size_t *n, const char *name, double v, const char *path,
		      char *err, size_t errlen)
{
	if (!isfinite(v) || v < 0)
		return err_set(err, errlen, "%s: the weight of '%s' must be a number >= 0", path, name);
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*w)[i].subject, name))
			return err_set(err, errlen, "%s: subject '%s' is given twice", path, name);
	*w = xrealloc(*w, (*n + 1) * sizeof(**w));
	(*w)[*n].subject = xstrdup(name);
	(*w)[*n].weight = v;
	(*n)++;
	return 0;
}

int analysis_weights_read(const char *path, struct weight_entry **out, size_t *nout, char *err, size_t errlen)
{
	char *text = NULL, *p;
	size_t len, n = 0;
	struct weight_entry *w = NULL;
	json_t *root = NULL;
	int rc = -1, line = 0;

	*out = NULL;
	*nout = 0;
	if (read_file(path, &text, &len, err, errlen) < 0)
		return -1;
	for (p = text; isspace((unsigned char)*p); p++)
		;
	if (*p == '{') {
		json_error_t je;
		const char *key;
		json_t *v;
		if (!(root = json_loads(text, 0, &je))) {
			err_set(err, errlen, "%s:%d: not valid JSON: %s", path, je.line, je.text);
			goto out;
		}
		json_object_foreach(root, key, v) {
			if (!json_is_number(v)) {
				err_set(err, errlen, "%s: the weight of '%s' must be a number", path, key);
				goto out;
			}
			if (add_weight(&w, &n, key, json_number_value(v), path, err, errlen) < 0)
				goto out;
		}
	} else {
		char *save = NULL;
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char *sep, *end;
			double v;
			line++;
			l[strcspn(l, "\r")] = 0;
			while (isspace((unsigned char)*l))
				l++;
			if (!*l || *l == '#')
				continue;
			sep = strrchr(l, '\t');
			if (!sep)
				sep = strrchr(l, ',');
			if (!sep) {
				err_set(err, errlen, "%s:%d: expected 'subject<TAB>weight' or 'subject,weight'", path, line);
				goto out;
			}
			*sep = 0;
			errno = 0;
			v = strtod(sep + 1, &end);
			while (isspace((unsigned char)*end))
				end++;
			if (errno || end == sep + 1 || *end) {
				err_set(err, errlen, "%s:%d: '%s' is not a number", path, line, sep + 1);
				goto out;
			}
			if (add_weight(&w, &n, l, v, path, err, errlen) < 0)
				goto out;
		}
	}
	if (n == 0) {
		err_set(err, errlen, "%s: no subject weights found", path);
		goto out;
	}
	*out = w;
	*nout = n;
	w = NULL;
	rc = 0;
out:
	weights_free(w, n);
	json_decref(root);
	free(text);
	return rc;
}

/* Per-subject sums of the queries the weighted metrics use. */
struct wsub {
	double w;
	size_t *idx, n;      /* scored queries of the subject */
};

static double weight_of(const struct weight_entry *w, size_t nw, const char *s)
{
	for (size_t i = 0; i < nw; i++)
		if (!strcmp(w[i].subject, s))
			return w[i].weight;
	return NAN;
}

/* Weighted accuracy, IPW, IPJ from per-subject sums over counts cnt (NULL = 1 each). */
static void weighted_point(const struct run_data *d, const struct wsub *ws, size_t ns, const uint32_t *const *cnt,
			   double v[3])
{
	double wa = 0, wsum = 0, we_acc = 0, we_p = 0, we_e = 0, wesum = 0;
	for (size_t s = 0; s < ns; s++) {
		double n = 0, acc = 0, en = 0, eacc = 0, ep = 0, ee = 0;
		if (!(ws[s].w > 0) || ws[s].n == 0)
			continue;
		for (size_t j = 0; j < ws[s].n; j++) {
			size_t i = ws[s].idx[j];
			double c = cnt ? cnt[s][j] : 1, lat = d->latency_s[i], e = d->energy_j[i];
			if (c == 0)
				continue;
			n += c;
			acc += c * d->acc[i];
			if (isfinite(e) && e >= 0 && isfinite(lat) && lat > 0) {
				en += c;
				eacc += c * d->acc[i];
				ep += c * e / lat;
				ee += c * e;
			}
		}
		if (n > 0) {
			wa += ws[s].w * acc / n;
			wsum += ws[s].w;
		}
		if (en > 0) {
			we_acc += ws[s].w * eacc / en;
			we_p += ws[s].w * ep / en;
			we_e += ws[s].w * ee / en;
			wesum += ws[s].w;
		}
	}
	v[0] = wsum > 0 ? wa / wsum : NAN;
	v[1] = wesum > 0 && we_p > 0 ? we_acc / we_p : NAN;
	v[2] = wesum > 0 && we_e > 0 ? we_acc / we_e : NAN;
}

static char **list_push(char **l, size_t *n, const char *s)
{
	l = xrealloc(l, (*n + 2) * sizeof(*l));
	l[(*n)++] = xstrdup(s);
	l[*n] = NULL;
	return l;
}

int analysis_weighted(const struct run_data *d, const struct weight_entry *w, size_t nw,
		      const struct metrics_options *o, struct weighted_result *out, char *err, size_t errlen)
{
	struct metrics_options defs;
	size_t ns = d->nsubjects, nu = 0, na = 0;
	struct wsub *ws = xcalloc(ns ? ns : 1, sizeof(*ws));
	double v[3];

	if (!o) {
		metrics_options_init(&defs);
		o = &defs;
	}
	memset(out, 0, sizeof(*out));
	out->unweighted = xcalloc(1, sizeof(char *));
	out->absent = xcalloc(1, sizeof(char *));
	for (size_t s = 0; s < ns; s++) {
		ws[s].w = weight_of(w, nw, d->subjects[s]);
		if (isnan(ws[s].w))
			out->unweighted = list_push(out->unweighted, &nu, d->subjects[s]);
		ws[s].idx = xmalloc((d->n ? d->n : 1) * sizeof(size_t));
	}
	for (size_t i = 0; i < nw; i++) {
		int found = 0;
		for (size_t s = 0; s < ns && !found; s++)
			found = !strcmp(d->subjects[s], w[i].subject);
		if (!found)
			out->absent = list_push(out->absent, &na, w[i].subject);
	}
	for (size_t i = 0; i < d->n; i++) {
		size_t s = 0;
		if (d->failed[i] || (d->acc[i] != 0 && d->acc[i] != 1))
			continue;
		while (d->subjects[s] != d->subject[i])
			s++;
		ws[s].idx[ws[s].n++] = i;
	}
	for (size_t s = 0; s < ns; s++)
		if (ws[s].w > 0 && ws[s].n > 0)
			out->weight_used += ws[s].w;
	weighted_point(d, ws, ns, NULL, v);
	out->accuracy = (struct metric_value){v[0], NAN, NAN};
	out->ipw = (struct metric_value){v[1], NAN, NAN};
	out->ipj = (struct metric_value){v[2], NAN, NAN};
	if (o->bootstrap > 0) {
		size_t b_n = (size_t)o->bootstrap;
		double *reps = xmalloc(3 * b_n * sizeof(double));
		uint32_t **cnt = xcalloc(ns ? ns : 1, sizeof(*cnt));
		struct rng r;

		rng_seed(&r, o->seed);
		for (size_t s = 0; s < ns; s++)
			cnt[s] = xcalloc(ws[s].n ? ws[s].n : 1, sizeof(uint32_t));
		for (size_t b = 0; b < b_n; b++) {
			double rv3[3];
			/* resample within each subject, so every subject keeps its size */
			for (size_t s = 0; s < ns; s++) {
				memset(cnt[s], 0, (ws[s].n ? ws[s].n : 1) * sizeof(uint32_t));
				for (size_t j = 0; j < ws[s].n; j++)
					cnt[s][(size_t)rng_below(&r, ws[s].n)]++;
			}
			weighted_point(d, ws, ns, (const uint32_t *const *)cnt, rv3);
			reps[b] = rv3[0];
			reps[b_n + b] = rv3[1];
			reps[2 * b_n + b] = rv3[2];
		}
		struct metric_value *mv[3] = {&out->accuracy, &out->ipw, &out->ipj};
		for (int k = 0; k < 3; k++)
			if (isfinite(mv[k]->value))
				spread(&reps[(size_t)k * b_n], b_n, o->level, &mv[k]->ci_low, &mv[k]->ci_high);
		for (size_t s = 0; s < ns; s++)
			free(cnt[s]);
		free(cnt);
		free(reps);
	}
	for (size_t s = 0; s < ns; s++)
		free(ws[s].idx);
	free(ws);
	(void)err;
	(void)errlen;
	return 0;
}

void weighted_result_release(struct weighted_result *r)
{
	if (r->unweighted)
		free_list(r->unweighted);
	if (r->absent)
		free_list(r->absent);
	memset(r, 0, sizeof(*r));
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
				spread(&rep[(size_t)k * bn], bn, o->level, &mv[k]->ci_low, &mv[k]->ci_high);
		free(rep);
	}
	rc = 0;
out:
	free(qa);
	free(qb);
	return rc;
}
