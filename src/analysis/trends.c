/*
 * analysis/trends.c - the paper's trend and local-against-cloud analyses of
 * analysis/paper.h: the best run per release period with the IPW change
 * factored into model and hardware, and best-of-local against best-of-cloud
 * coverage. ipw trends, ipw localcloud and the report share them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/paper.h"
#include "util.h"

int trend_period_parse(const char *s)
{
	if (!s)
		return -1;
	if (!strcmp(s, "year"))
		return TREND_YEAR;
	if (!strcmp(s, "half"))
		return TREND_HALF;
	if (!strcmp(s, "quarter"))
		return TREND_QUARTER;
	return -1;
}

int trend_period_of(const struct model_meta *mm, enum trend_period p, char *out, size_t n)
{
	if (p == TREND_YEAR) {
		snprintf(out, n, "%04d", mm->rel_year);
		return 0;
	}
	if (!mm->rel_month)
		return -1;
	if (p == TREND_HALF)
		snprintf(out, n, "%04d-H%d", mm->rel_year, mm->rel_month <= 6 ? 1 : 2);
	else
		snprintf(out, n, "%04d-Q%d", mm->rel_year, (mm->rel_month + 2) / 3);
	return 0;
}

/* Sorting run indices by period, then by input order. */
struct by_period_ctx {
	size_t i;
	const char *period;
};

static int by_period(const void *a, const void *b)
{
	const struct by_period_ctx *x = a, *y = b;
	int c = strcmp(x->period, y->period);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* IPW_b / IPW_a factored; 0 or -1 (err set). */
static int factor(struct store *s, const char *a, const char *b, const struct metrics_options *o, int delta,
		  struct attribution *at, char *err, size_t errlen)
{
	struct run_data da, db;
	struct metrics_options mo = *o;
	int rc = -1;

	memset(&da, 0, sizeof(da));
	memset(&db, 0, sizeof(db));
	if (delta)
		mo.bootstrap = 0;
	if (run_data_load(s, a, &da, err, errlen) < 0 || run_data_load(s, b, &db, err, errlen) < 0)
		goto out;
	if (analysis_attribute(&da, &db, &mo, at, err, errlen) < 0)
		goto out;
	if (delta && analysis_attribute_delta_ci(&da, &db, o->level, at) < 0) {
		err_set(err, errlen, "runs %s and %s: no query with measured energy for the delta-method intervals", a, b);
		goto out;
	}
	rc = 0;
out:
	run_data_release(&da);
	run_data_release(&db);
	return rc;
}

static struct trend_row *add_row(struct trend_result *r)
{
	struct trend_row *w;
	r->rows = xrealloc(r->rows, (r->nrows + 1) * sizeof(*r->rows));
	w = &r->rows[r->nrows++];
	memset(w, 0, sizeof(*w));
	w->best = -1;
	w->coverage = NAN;
	return w;
}

int analysis_trends(struct store *s, char *const *ids, const char *const *period, const struct metrics *const *m,
		    size_t n, int intersect, const struct metrics_options *o, int delta, struct trend_result *out,
		    char *err, size_t errlen)
{
	struct by_period_ctx *ord = xcalloc(n + 1, sizeof(*ord));
	const char **sel = xcalloc(n + 1, sizeof(*sel));
	long first_best = -1, prev_best = -1;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		ord[i].i = i;
		ord[i].period = period[i];
	}
	qsort(ord, n, sizeof(*ord), by_period);
	for (size_t s0 = 0; s0 < n && rc == 0;) {
		size_t e = s0;
		struct trend_row *w;
		struct coverage_result c;
		char why[IPW_ERRLEN];

		while (e < n && !strcmp(ord[e].period, ord[s0].period))
			e++;
		w = add_row(out);
		snprintf(w->period, sizeof(w->period), "%s", ord[s0].period);
		w->nruns = e - s0;
		for (size_t j = s0; j < e; j++) {
			size_t i = ord[j].i;
			sel[j - s0] = ids[i];
			if (isfinite(m[i]->ipw.value) && (w->best < 0 || m[i]->ipw.value > m[w->best]->ipw.value))
				w->best = (long)i;
		}
		if (analysis_coverage(s, sel, e - s0, intersect, NULL, NULL, &c, why, sizeof(why)) == 0) {
			w->coverage = coverage_value(&c.best);
			coverage_result_release(&c);
		} else {
			w->why = xstrdup(why);
		}
		if (w->best >= 0 && prev_best >= 0) {
			if (factor(s, ids[prev_best], ids[w->best], o, delta, &w->at, err, errlen) < 0)
				rc = -1;
			w->has_factor = rc == 0;
		}
		if (w->best >= 0) {
			prev_best = w->best;
			if (first_best < 0)
				first_best = w->best;
		}
		s0 = e;
	}
	if (rc == 0 && first_best >= 0 && first_best != prev_best && strcmp(period[first_best], period[prev_best])) {
		struct trend_row *w = add_row(out);
		snprintf(w->period, sizeof(w->period), "%s->%s", period[first_best], period[prev_best]);
		if (factor(s, ids[first_best], ids[prev_best], o, delta, &w->at, err, errlen) < 0)
			rc = -1;
		w->has_factor = rc == 0;
	}
	free(ord);
	free(sel);
	if (rc < 0)
		trend_result_release(out);
	return rc;
}

void trend_result_release(struct trend_result *r)
{
	for (size_t i = 0; i < r->nrows; i++)
		free(r->rows[i].why);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

void analysis_lc_coverage(struct store *s, char *const *ids, const int *local, size_t n, int intersect,
			  struct lc_coverage *out)
{
	const char **sel = xcalloc(n + 1, sizeof(*sel));

	memset(out, 0, sizeof(*out));
	for (int k = 0; k < 2; k++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (local[i] == k)
				sel[m++] = ids[i];
		if (!m)
			snprintf(out->why[k], sizeof(out->why[k]), "no %s run", k ? "local" : "cloud");
		else if (analysis_coverage(s, sel, m, intersect, NULL, NULL, &out->c[k], out->why[k],
					   sizeof(out->why[k])) == 0)
			out->have[k] = 1;
	}
	free(sel);
}

void lc_coverage_release(struct lc_coverage *c)
{
	for (int k = 0; k < 2; k++)
		if (c->have[k])
			coverage_result_release(&c->c[k]);
	memset(c, 0, sizeof(*c));
}

double coverage_subject_best(const struct coverage_result *c, const char *subject)
{
	for (size_t i = 0; i < c->nsubj; i++)
		if (!strcmp(c->subj[i].subject, subject))
			return coverage_value(&c->subj[i].best);
	return NAN;
}

double lc_ratio(double c, double l)
{
	return isfinite(c) && isfinite(l) && l > 0 ? c / l : NAN;
}
