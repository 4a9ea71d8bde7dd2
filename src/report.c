/*
 * report.c - writes the HTML report of report.h: one page with inline CSS,
 * tables, and every plot embedded as a base64 PNG (so the page needs
 * nothing beside it), plus each plot as PNG and SVG files in the folder.
 * Runs are loaded one at a time; what is kept across runs is a few numbers
 * and at most SCATTER_MAX points per run.
 */
#include "estimate.h"
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "aggregate.h"
#include "analysis.h"
#include "analysis/paper.h"
#include "clock.h"
#include "metrics.h"
#include "perplexity.h"
#include "plot.h"
#include "util.h"

#define SCATTER_MAX 2000   /* points per run in the energy scatter */
#define TL_BUCKETS 800     /* columns of a power timeline */
#define MAX_BAR_RUNS 8     /* runs drawn in the per-subject coverage bars */
#define MAX_SOURCES 16

void report_options_init(struct report_options *o)
{
	memset(o, 0, sizeof(*o));
	o->bootstrap = METRICS_BOOTSTRAP;
	o->seed = METRICS_SEED;
	o->trials = 200;
	o->max_timelines = 6;
}

/* ---- HTML helpers ---- */

static void html_esc(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': buf_appends(b, "&lt;"); break;
		case '>': buf_appends(b, "&gt;"); break;
		case '&': buf_appends(b, "&amp;"); break;
		case '"': buf_appends(b, "&quot;"); break;
		default: buf_append(b, s, 1);
		}
	}
}

static void base64(struct buf *b, const unsigned char *d, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)d[i] << 16 | (i + 1 < n ? (unsigned)d[i + 1] << 8 : 0) |
			     (i + 2 < n ? d[i + 2] : 0);
		q[0] = tab[v >> 18 & 63];
		q[1] = tab[v >> 12 & 63];
		q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		buf_append(b, q, 4);
	}
}

/* "v [lo, hi]" in a table cell. */
static void cell_mv(struct buf *b, const char *f, struct metric_value v)
{
	char x[48], y[48], z[48];
	buf_appends(b, "<td>");
	if (isfinite(v.value)) {
		snprintf(x, sizeof(x), f, v.value);
		buf_appends(b, x);
		if (isfinite(v.ci_low)) {
			snprintf(y, sizeof(y), f, v.ci_low);
			snprintf(z, sizeof(z), f, v.ci_high);
			buf_appendf(b, " <span class=ci>[%s, %s]</span>", y, z);
		}
	} else {
		buf_appends(b, "&ndash;");
	}
	buf_appends(b, "</td>");
}

static void cell_s(struct buf *b, const char *s)
{
	buf_appends(b, "<td>");
	if (s && *s)
		html_esc(b, s);
	else
		buf_appends(b, "&ndash;");
	buf_appends(b, "</td>");
}

static void cell_pct(struct buf *b, double v, double lo, double hi)
{
	if (!isfinite(v))
		buf_appends(b, "<td>&ndash;</td>");
	else if (isfinite(lo))
		buf_appendf(b, "<td>%.1f%% <span class=ci>[%.1f, %.1f]</span></td>", 100 * v, 100 * lo, 100 * hi);
	else
		buf_appendf(b, "<td>%.1f%%</td>", 100 * v);
}

static void note(struct buf *b, const char *fmt, const char *arg)
{
	buf_appends(b, "<p class=note>");
	{
		char *t = xasprintf(fmt, arg);
		html_esc(b, t);
		free(t);
	}
	buf_appends(b, "</p>\n");
}

static void si(struct buf *b, double v, const char *unit);
static void cell_si_ci(struct buf *b, struct metric_value v, const char *unit);
static void cell_usd(struct buf *b, struct metric_value v);

/* A routing total as a metric value: the Monte Carlo spread, where there is one, as its interval. */
static struct metric_value rv_mv(struct route_value v)
{
	struct metric_value m = {0};
	m.value = v.value;
	m.ci_low = v.lo;
	m.ci_high = v.hi;
	return m;
}

/* Renders p into the page (base64 PNG) and writes DIR/name.png and .svg. */
static int emit_plot(struct buf *b, const struct plot *p, const char *dir, const char *name, const char *alt,
		     char *err, size_t errlen)
{
	unsigned char *png = NULL;
	size_t len = 0;
	char *path;
	int rc;

	path = xasprintf("%s/%s.png", dir, name);
	rc = plot_write_png(p, path, err, errlen);
	free(path);
	if (rc < 0)
		return rc;
	path = xasprintf("%s/%s.svg", dir, name);
	rc = plot_write_svg(p, path, err, errlen);
	free(path);
	if (rc < 0)
		return rc;
	if ((rc = plot_png_data(p, &png, &len, err, errlen)) < 0)
		return rc;
	buf_appendf(b, "<figure id=\"plot-%s\"><img class=plot width=%d height=%d alt=\"", name, p->width, p->height);
	html_esc(b, alt);
	buf_appends(b, "\" src=\"data:image/png;base64,");
	base64(b, png, len);
	buf_appendf(b, "\"><figcaption>");
	html_esc(b, alt);
	buf_appendf(b, " (<a href=\"%s.svg\">SVG</a>, <a href=\"%s.png\">PNG</a>)</figcaption></figure>\n", name, name);
	free(png);
	return 0;
}

/* ---- per-run summaries kept across the report ---- */

struct run_sum {
	char *id, *label;          /* label: "3 name" */
	struct agg_compare row;   /* the comparison row (src/aggregate.c) */
	double *sx, *sy;           /* energy scatter (output tokens, J), at most SCATTER_MAX */
	size_t ns;
	struct regression fit;     /* energy ~ output tokens */
	int fit_ok;
	struct device_power dev;   /* IPW on the device's power (metrics.h) */
	char **subj;               /* the run's subjects (owned, sorted) and their IPW (point estimates) */
	double *subj_ipw;
	size_t nsubj;
	struct run_compute comp;   /* with --model-meta and an entry for the run */
	int has_comp;
	char *repeat_key;          /* the repeats it groups with: its group name, else "model @ accelerator" */
	struct weighted_result wr; /* with --weights */
	int has_wr;
	char *wr_why;              /* why not, with --weights */
	struct ppl_run ppl;        /* perplexity from the token log-probabilities (perplexity.h) */
	json_t *router;            /* a router run's summary (summary_json with "kind": "router"), else NULL */
};

/* ---- power timeline ---- */

struct timeline {
	double t0, t1;
	int pass;                  /* 0: find the range; 1: bucket */
	int nsrc;
	int src_idx[MAX_SOURCES];
	double sum[MAX_SOURCES][TL_BUCKETS];
	long cnt[MAX_SOURCES][TL_BUCKETS];
	double last_t[MAX_SOURCES], last_e[MAX_SOURCES];
	long long nsamples;
};

static int tl_source(struct timeline *t, int idx)
{
	for (int i = 0; i < t->nsrc; i++)
		if (t->src_idx[i] == idx)
			return i;
	if (t->nsrc == MAX_SOURCES)
		return -1;
	t->src_idx[t->nsrc] = idx;
	t->last_t[t->nsrc] = NAN;
	t->last_e[t->nsrc] = NAN;
	return t->nsrc++;
}

static int tl_sample(const struct store_sample *v, void *ctx)
{
	struct timeline *t = ctx;
	int s;
	double p = v->power_w;

	if (!isfinite(v->t_s))
		return 0;
	if (t->pass == 0) {
		if (isnan(t->t0) || v->t_s < t->t0)
			t->t0 = v->t_s;
		if (isnan(t->t1) || v->t_s > t->t1)
			t->t1 = v->t_s;
		t->nsamples++;
		return 0;
	}
	if ((s = tl_source(t, v->source_idx)) < 0)
		return 0;
	/* a source with only an energy counter: power over whole counter steps */
	if (!isfinite(p) && isfinite(v->energy_j))
		p = report_counter_power(&t->last_t[s], &t->last_e[s], v->t_s, v->energy_j);
	if (isfinite(p)) {
		long k = (long)((v->t_s - t->t0) / (t->t1 - t->t0) * TL_BUCKETS);
		if (k >= TL_BUCKETS)
			k = TL_BUCKETS - 1;
		if (k < 0)
			k = 0;
		t->sum[s][k] += p;
		t->cnt[s][k]++;
	}
	return 0;
}

double report_counter_power(double *t_step, double *e_step, double t, double e)
{
	double p = NAN;

	if (isfinite(*e_step) && e == *e_step)
		return NAN; /* read within a step: the counter has not moved */
	if (isfinite(*e_step) && t > *t_step)
		p = (e - *e_step) / (t - *t_step);
	*t_step = t;
	*e_step = e;
	return p;
}

static const char *source_name(const struct run_record *r, int idx)
{
	for (int i = 0; i < r->nsources; i++)
		if (r->sources[i].idx == idx)
			return r->sources[i].name;
	return NULL;
}

/* Shades the buckets in which some query of d was in flight: spans [span0, span1), *nspan of them. */
static void query_spans(const struct timeline *t, const struct run_data *d, double *span0, double *span1,
			size_t *nspan)
{
	int diff[TL_BUCKETS + 1];
	double w = (t->t1 - t->t0) / TL_BUCKETS;

	memset(diff, 0, sizeof(diff));
	*nspan = 0;
	for (size_t i = 0; i < d->n; i++) {
		double a = d->t_send_s[i], e = d->t_end_s[i];
		long ka, ke;
		if (!isfinite(a) || !isfinite(e) || e < t->t0 || a > t->t1)
			continue;
		ka = (long)((fmax(a, t->t0) - t->t0) / (t->t1 - t->t0) * TL_BUCKETS);
		ke = (long)((fmin(e, t->t1) - t->t0) / (t->t1 - t->t0) * TL_BUCKETS);
		ka = ka >= TL_BUCKETS ? TL_BUCKETS - 1 : ka;
		ke = ke >= TL_BUCKETS ? TL_BUCKETS - 1 : ke;
		diff[ka]++;
		diff[ke + 1]--;
	}
	for (int k = 0, run = 0, open = -1; k <= TL_BUCKETS; k++) {
		run += k < TL_BUCKETS ? diff[k] : 0;
		if (k < TL_BUCKETS && run > 0 && open < 0)
			open = k;
		if ((k == TL_BUCKETS || run <= 0) && open >= 0) {
			span0[*nspan] = t->t0 + open * w;
			span1[*nspan] = t->t0 + k * w;
			(*nspan)++;
			open = -1;
		}
	}
}

/* One line per source: the mean power of each bucket (buckets without a sample are skipped). */
static void source_lines(struct plot *p, const struct timeline *t, const struct run_record *r)
{
	double xs[TL_BUCKETS], ys[TL_BUCKETS];

	for (int sidx = 0; sidx < t->nsrc; sidx++) {
		const char *sn = source_name(r, t->src_idx[sidx]);
		char label[96];
		size_t np = 0;
		for (int k = 0; k < TL_BUCKETS; k++)
			if (t->cnt[sidx][k]) {
				xs[np] = t->t0 + (k + 0.5) * (t->t1 - t->t0) / TL_BUCKETS;
				ys[np] = t->sum[sidx][k] / (double)t->cnt[sidx][k];
				np++;
			}
		snprintf(label, sizeof(label), "%s", sn ? sn : "source");
		plot_add(p, PLOT_LINE, label, np, xs, ys, NULL, NULL)->color = sidx;
	}
}

/* Draws one run's power per source over time, with the query windows shaded. */
static int timeline_plot(struct store *s, const struct run_record *r, const struct run_data *d, struct buf *b,
			 const char *dir, char *err, size_t errlen)
{
	struct timeline *t = xcalloc(1, sizeof(*t));
	struct plot p;
	char *title = NULL, *name = NULL;
	int rc = -1;
	double span0[TL_BUCKETS], span1[TL_BUCKETS];
	size_t nspan = 0;

	plot_init(&p, NULL, "time since the run's start (s)", "power (W)");
	t->t0 = t->t1 = NAN;
	if (store_samples_iter(s, r->id, tl_sample, t, err, errlen) < 0)
		goto out;
	buf_appendf(b, "<h3>Run %s power timeline</h3>\n", r->id);
	if (t->nsamples == 0 || !(t->t1 > t->t0)) {
		note(b, "Run %s has no stored telemetry samples: no timeline.", r->id);
		rc = 0;
		goto out;
	}
	t->pass = 1;
	if (store_samples_iter(s, r->id, tl_sample, t, err, errlen) < 0)
		goto out;
	query_spans(t, d, span0, span1, &nspan);
	if (nspan)
		plot_add(&p, PLOT_SPANS, "query in flight", nspan, span0, span1, NULL, NULL)->color = 7;
	source_lines(&p, t, r);
	title = xasprintf("Run %s (%s): power, query windows shaded", r->id, r->name ? r->name : "-");
	free(p.title);
	p.title = xstrdup(title);
	name = xasprintf("timeline_run%s", r->id);
	rc = emit_plot(b, &p, dir, name, title, err, errlen);
out:
	plot_release(&p);
	free(title);
	free(name);
	free(t);
	return rc;
}

/* ---- sections ---- */

static void table_compare(struct buf *b, struct run_sum *rs, size_t n)
{
	buf_appends(b, "<table id=compare><thead><tr><th>run</th><th>model</th><th>accelerator</th><th>engine</th>"
		    "<th>conc.</th><th>scored</th><th>accuracy</th><th>IPW</th><th>IPJ</th>"
		    "<th>energy/query</th><th>energy/token</th><th>latency p50</th><th>latency p99</th></tr></thead>"
		    "<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const struct agg_compare *r = &rs[i].row;
		buf_appends(b, "<tr>");
		cell_s(b, rs[i].label);
		cell_s(b, r->model);
		cell_s(b, r->accelerator);
		cell_s(b, r->engine);
		if (r->concurrency >= 0)
			buf_appendf(b, "<td>%d</td>", r->concurrency);
		else
			buf_appends(b, "<td>&ndash;</td>");
		buf_appendf(b, "<td>%d</td>", r->r.m.n_scored);
		/* the formats of every other table and of the plots' ticks: percentages, SI prefixes */
		cell_pct(b, r->r.m.accuracy.value, r->r.m.accuracy.ci_low, r->r.m.accuracy.ci_high);
		cell_si_ci(b, r->r.m.ipw, "/W");
		cell_si_ci(b, r->r.m.ipj, "/J");
		cell_si_ci(b, r->r.m.energy_j, "J");
		cell_si_ci(b, r->r.m.j_per_token, "J");
		cell_si_ci(b, r->r.latency_p50, "s");
		cell_si_ci(b, r->r.latency_p99, "s");
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
}

/* Accuracy against J/query per run, the Pareto front (least energy for its accuracy) joined. */
static int plot_pareto(struct buf *b, struct run_sum *rs, size_t n, const char *dir, char *err, size_t errlen)
{
	struct plot p;
	double *x = xcalloc(n, sizeof(double)), *y = xcalloc(n, sizeof(double));
	double *lo = xcalloc(n, sizeof(double)), *hi = xcalloc(n, sizeof(double));
	double *fx = xcalloc(n, sizeof(double)), *fy = xcalloc(n, sizeof(double));
	const char **lab = xcalloc(n, sizeof(char *));
	size_t *ord = xcalloc(n, sizeof(size_t)), nf = 0, no = 0;
	int rc;

	plot_init(&p, "Accuracy vs energy per query (Pareto front)", "energy per query (J)", "accuracy");
	p.y_percent = 1;
	p.x_si = 1;
	for (size_t i = 0; i < n; i++) {
		x[i] = rs[i].row.r.m.energy_j.value;
		y[i] = rs[i].row.r.m.accuracy.value;
		lo[i] = rs[i].row.r.m.accuracy.ci_low;
		hi[i] = rs[i].row.r.m.accuracy.ci_high;
		lab[i] = rs[i].label;
		if (isfinite(x[i]) && isfinite(y[i]))
			ord[no++] = i;
	}
	/* sort by energy; a run is on the front if it is more accurate than every cheaper one */
	for (size_t i = 1; i < no; i++)
		for (size_t j = i; j > 0 && (x[ord[j]] < x[ord[j - 1]] ||
					     (x[ord[j]] == x[ord[j - 1]] && y[ord[j]] > y[ord[j - 1]])); j--) {
			size_t t = ord[j];
			ord[j] = ord[j - 1];
			ord[j - 1] = t;
		}
	for (size_t i = 0; i < no; i++)
		if (nf == 0 || y[ord[i]] > fy[nf - 1]) {
			fx[nf] = x[ord[i]];
			fy[nf] = y[ord[i]];
			nf++;
		}
	plot_add(&p, PLOT_LINE, "Pareto front", nf, fx, fy, NULL, NULL)->dashed = 1;
	plot_series_text(plot_add(&p, PLOT_POINTS, "runs", n, x, y, lo, hi), lab);
	p.s[1].color = 0;
	p.s[0].color = 3;
	rc = emit_plot(b, &p, dir, "pareto", "Accuracy vs energy per query per run, with the Pareto front", err, errlen);
	plot_release(&p);
	free(x), free(y), free(lo), free(hi), free(fx), free(fy), free(lab), free(ord);
	return rc;
}

/* IPW or IPJ per run with its interval. */
static int plot_eff(struct buf *b, struct run_sum *rs, size_t n, int ipj, int delta, const char *dir, char *err,
		    size_t errlen)
{
	char alt[96];
	struct plot p;
	double *x = xcalloc(n, sizeof(double)), *y = xcalloc(n, sizeof(double));
	double *lo = xcalloc(n, sizeof(double)), *hi = xcalloc(n, sizeof(double));
	const char **names = xcalloc(n, sizeof(char *));
	int rc;

	plot_init(&p, ipj ? "Intelligence per joule (95% interval)" : "Intelligence per watt (95% interval)", "run",
		  ipj ? "IPJ (1/J)" : "IPW (1/W)");
	for (size_t i = 0; i < n; i++) {
		const struct metric_value *v = ipj ? &rs[i].row.r.m.ipj : &rs[i].row.r.m.ipw;
		x[i] = (double)i;
		y[i] = v->value;
		lo[i] = v->ci_low;
		hi[i] = v->ci_high;
		names[i] = rs[i].label;
	}
	plot_set_categories(&p, names, n);
	p.y_si = 1;
	plot_add(&p, PLOT_BARS, ipj ? "IPJ" : "IPW", n, x, y, lo, hi)->color = ipj ? 2 : 0;
	/* the page's one interval method, as the table's */
	snprintf(alt, sizeof(alt), "%s per run with 95%% %s interval", ipj ? "IPJ" : "IPW",
		 delta ? "delta-method (normal approximation)" : "bootstrap");
	rc = emit_plot(b, &p, dir, ipj ? "ipj" : "ipw", alt, err, errlen);
	plot_release(&p);
	free(x), free(y), free(lo), free(hi), free(names);
	return rc;
}

/* The coverage table: all items, then one row per subject. */
static void coverage_table(struct buf *b, const struct coverage_result *cr, const struct run_sum *rs, size_t n,
			   int intersect)
{
	buf_appendf(b, "<p>%lld items%s; an item is covered by a run that answered it right (failed and unscored "
		    "queries do not count as wrong: coverage = correct / scored). Best-of-N: some run right.</p>\n",
		    cr->n_items, intersect ? " (items not in every run dropped)" : "");
	buf_appends(b, "<table id=coverage><thead><tr><th>subject</th><th>items</th>");
	for (size_t i = 0; i < n; i++) {
		buf_appends(b, "<th>");
		html_esc(b, rs[i].label);
		buf_appends(b, "</th>");
	}
	buf_appends(b, "<th>best-of-N</th></tr></thead><tbody>\n<tr><td><b>all</b></td>");
	buf_appendf(b, "<td>%lld</td>", cr->n_items);
	for (size_t i = 0; i < n; i++)
		cell_pct(b, coverage_value(&cr->run[i]), NAN, NAN);
	cell_pct(b, coverage_value(&cr->best), NAN, NAN);
	buf_appends(b, "</tr>\n");
	for (size_t j = 0; j < cr->nsubj; j++) {
		buf_appends(b, "<tr>");
		cell_s(b, *cr->subj[j].subject ? cr->subj[j].subject : "(none)");
		buf_appendf(b, "<td>%lld</td>", cr->subj[j].best.items);
		for (size_t i = 0; i < n; i++)
			cell_pct(b, coverage_value(&cr->subj[j].run[i]), NAN, NAN);
		cell_pct(b, coverage_value(&cr->subj[j].best), NAN, NAN);
		buf_appends(b, "</tr>\n");
	}
	buf_appendf(b, "</tbody></table>\n<p>Items some run scored and no run answered right: %lld.</p>\n",
		    cr->n_uncovered);
}

/* Coverage per subject: bars for the first MAX_BAR_RUNS runs and best-of-N. */
static int coverage_plot(struct buf *b, const struct coverage_result *cr, const struct run_sum *rs, size_t n,
			 const char *dir, char *err, size_t errlen)
{
	struct plot p;
	size_t ns = cr->nsubj, nb = n < MAX_BAR_RUNS ? n : MAX_BAR_RUNS;
	const char **names = xcalloc(ns ? ns : 1, sizeof(char *));
	double *x = xcalloc(ns ? ns : 1, sizeof(double)), *y = xcalloc(ns ? ns : 1, sizeof(double));
	int rc;

	plot_init(&p, "Coverage per subject", "subject", "coverage (correct / scored)");
	p.y_percent = 1;
	p.ymin = 0;
	p.ymax = 1.12;
	for (size_t j = 0; j < ns; j++) {
		names[j] = *cr->subj[j].subject ? cr->subj[j].subject : "(none)";
		x[j] = (double)j;
	}
	plot_set_categories(&p, names, ns);
	for (size_t i = 0; i < nb; i++) {
		for (size_t j = 0; j < ns; j++)
			y[j] = coverage_value(&cr->subj[j].run[i]);
		plot_add(&p, PLOT_BARS, rs[i].label, ns, x, y, NULL, NULL);
	}
	for (size_t j = 0; j < ns; j++)
		y[j] = coverage_value(&cr->subj[j].best);
	plot_add(&p, PLOT_BARS, "best-of-N", ns, x, y, NULL, NULL)->color = 7;
	if (n > nb)
		buf_appendf(b, "<p class=note>The plot shows the first %zu runs and best-of-N over all %zu.</p>\n",
			    nb, n);
	rc = emit_plot(b, &p, dir, "coverage", "Coverage per subject, per run and best-of-N", err, errlen);
	plot_release(&p);
	free(names), free(x), free(y);
	return rc;
}

static int section_coverage(struct store *s, const struct report_options *o, char **ids, struct run_sum *rs,
			    size_t n, struct buf *b, char *err, size_t errlen)
{
	struct coverage_result cr;
	char why[IPW_ERRLEN];
	int rc;

	buf_appends(b, "<h2 id=coverage-section>Coverage</h2>\n");
	if (analysis_coverage(s, (const char *const *)ids, n, o->intersect, NULL, NULL, &cr, why, sizeof(why)) != 0) {
		note(b, "Coverage not computed: %s", why);
		return 0;
	}
	coverage_table(b, &cr, rs, n, o->intersect);
	rc = coverage_plot(b, &cr, rs, n, o->out_dir, err, errlen);
	coverage_result_release(&cr);
	return rc;
}

/* The routing section's inputs: the cloud run, the local runs (their records last, the cloud's), constants. */
struct routing {
	struct run_record cloud;
	struct run_record *runs;   /* nl local runs, then the cloud run */
	struct route_model *model;
	const char **local;
	size_t nl, n;
	struct route_options ro;
};

static void routing_release(struct routing *rt)
{
	for (size_t i = 0; rt->runs && i <= rt->n; i++)
		run_record_release(&rt->runs[i]);
	run_record_release(&rt->cloud);
	free(rt->runs);
	free(rt->local);
	free(rt->model);
}

/* Reads the runs and their constants: 0 ready, 1 not computable (said in the page), -1 fatal (err). */
static int routing_prepare(struct store *s, const struct report_options *o, char **ids, size_t n,
			   struct routing *rt, struct buf *b, char *err, size_t errlen)
{
	char why[IPW_ERRLEN];

	memset(rt, 0, sizeof(*rt));
	rt->n = n;
	if (store_run_get(s, o->cloud, &rt->cloud, why, sizeof(why)) < 0)
		return err_set(err, errlen, "%s", why);
	rt->local = xcalloc(n + 1, sizeof(*rt->local));
	rt->runs = xcalloc(n + 1, sizeof(*rt->runs));
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], rt->cloud.id))
			rt->local[rt->nl++] = ids[i];
	rt->model = xcalloc(rt->nl + 1, sizeof(*rt->model));
	for (size_t i = 0; i <= rt->nl; i++)
		if (store_run_get(s, i < rt->nl ? rt->local[i] : rt->cloud.id, &rt->runs[i], why, sizeof(why)) < 0) {
			note(b, "Routing not computed: %s", why);
			return 1;
		}
	if (rt->nl == 0) {
		note(b, "Routing not computed: %s", "the report names no local run besides the cloud run");
		return 1;
	}
	if (analysis_route_models(rt->runs, rt->nl + 1, o->prices, o->params, rt->model, why, sizeof(why)) < 0) {
		note(b, "Routing not computed: %s", why);
		return 1;
	}
	if (o->model_meta) {
		struct meta_file mf;
		int r = meta_read(o->model_meta, &mf, why, sizeof(why));
		if (r == 0) {
			r = analysis_route_meta(&mf, rt->runs, rt->nl + 1, rt->model, why, sizeof(why));
			meta_release(&mf);
		}
		if (r < 0) {
			note(b, "Routing not computed: %s", why);
			return 1;
		}
	}
	rt->ro.compute = (enum route_compute)o->compute;
	rt->ro.misroute = (enum route_misroute)o->misroute;
	rt->ro.objective = ROUTE_ENERGY;
	rt->ro.trials = o->trials;
	rt->ro.seed = o->seed;
	rt->ro.level = METRICS_LEVEL;
	rt->ro.intersect = o->intersect;
	return 0;
}

/* The schemes at router accuracies 1, 0.8 and 0.6 (exact and Monte Carlo). */
static void routing_table(struct buf *b, const struct routing *rt, const struct route_result *res)
{
	int two = rt->ro.misroute == ROUTE_TWO_SIDED;

	buf_appendf(b, "<p>%lld items; local runs:", res->n_items);
	for (size_t i = 0; i < rt->nl; i++) {
		buf_appendf(b, "%s %s (", i ? "," : "", rt->local[i]);
		html_esc(b, rt->runs[i].name);
		buf_appendf(b, ", oracle sends %lld)", res->oracle_chosen[i]);
	}
	buf_appendf(b, "; cloud run %s (", rt->cloud.id);
	html_esc(b, rt->cloud.name);
	buf_appendf(b, "). Locally answerable: %lld. The oracle picks the local run with the least energy that "
		    "answered right; a router of accuracy p routes such an item right with probability p, otherwise "
		    "to the cloud; the cascade also pays a failed attempt on run %s. Compute: FLOPs = 2 &times; %s "
		    "parameters &times; tokens. Router errors: %s.</p>\n", res->n_answerable, rt->local[0],
		    rt->ro.compute == ROUTE_COMPUTE_TOTAL ? "total" : "active",
		    two ? "two-sided (--misroute two-sided: an item no local run answers is also kept local with "
		    "probability 1 &minus; p and its wrong answer delivered; the cascade accepts its first tier's "
		    "wrong answer alike; kept wrong: the share of items kept local though no local run is right)"
		    : "one-sided (the paper's: only answerable items are misrouted, to the cloud)");
	buf_appendf(b, "<table id=routing><thead><tr><th>scheme</th><th>p</th><th>method</th><th>energy saved</th>"
		    "<th>compute saved</th><th>cost saved</th><th>routed locally</th><th>accuracy</th>%s</tr></thead>"
		    "<tbody>\n", two ? "<th>kept wrong</th>" : "");
	for (size_t i = 0; i < res->nrows; i++) {
		const struct route_row *w = &res->rows[i];
		buf_appendf(b, "<tr><td>%s</td>", w->scheme);
		if (isfinite(w->p))
			buf_appendf(b, "<td>%.2f</td>", w->p);
		else
			buf_appends(b, "<td>&ndash;</td>");
		buf_appendf(b, "<td>%s</td>", w->monte_carlo ? "Monte Carlo" : "exact");
		cell_pct(b, w->saved_energy.value, w->saved_energy.lo, w->saved_energy.hi);
		cell_pct(b, w->saved_compute.value, w->saved_compute.lo, w->saved_compute.hi);
		cell_pct(b, w->saved_cost.value, w->saved_cost.lo, w->saved_cost.hi);
		cell_pct(b, w->local_share.value, w->local_share.lo, w->local_share.hi);
		cell_pct(b, w->accuracy.value, w->accuracy.lo, w->accuracy.hi);
		if (two)
			cell_pct(b, w->kept_wrong.value, w->kept_wrong.lo, w->kept_wrong.hi);
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
}

/*
 * The same rows scaled to a day of --daily-queries: each total over the
 * simulated items / n_items x N (route_per_day, as route simulate
 * --daily-queries), energy in Wh with an SI prefix (kWh, MWh).
 */
static void daily_table(struct buf *b, double daily, const struct route_result *res)
{
	buf_appendf(b, "<h3 id=daily-section>Per day at %.6g queries</h3>\n<p>Each scheme's total over the %lld "
		    "simulated items, divided by %lld and multiplied by %.6g queries a day (--daily-queries): energy "
		    "per day (1 kWh = 3.6 MJ), cost per day (with --prices) and compute per day (FLOPs on the basis "
		    "above). Monte Carlo rows give the 95%% spread of the trials.</p>\n", daily, res->n_items,
		    res->n_items, daily);
	buf_appends(b, "<table id=daily><thead><tr><th>scheme</th><th>p</th><th>method</th><th>energy/day</th>"
		    "<th>cost/day</th><th>compute/day</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < res->nrows; i++) {
		const struct route_row *w = &res->rows[i];
		struct route_value e = route_per_day(w->energy_j, daily, res->n_items, ROUTE_J_PER_KWH);
		buf_appendf(b, "<tr><td>%s</td>", w->scheme);
		if (isfinite(w->p))
			buf_appendf(b, "<td>%.2f</td>", w->p);
		else
			buf_appends(b, "<td>&ndash;</td>");
		buf_appendf(b, "<td>%s</td>", w->monte_carlo ? "Monte Carlo" : "exact");
		e.value *= 1e3, e.lo *= 1e3, e.hi *= 1e3;   /* kWh -> Wh, for the prefix */
		cell_si_ci(b, rv_mv(e), "Wh");
		cell_usd(b, rv_mv(route_per_day(w->cost_usd, daily, res->n_items, 1)));
		cell_si_ci(b, rv_mv(route_per_day(w->flops, daily, res->n_items, 1)), "FLOP");
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
}

static const struct route_row *grid_row(const struct route_result *res, const char *scheme, double p, int mc)
{
	for (size_t i = 0; i < res->nrows; i++)
		if (!strcmp(res->rows[i].scheme, scheme) && res->rows[i].monte_carlo == mc && fabs(res->rows[i].p - p) < 1e-9)
			return &res->rows[i];
	return NULL;
}

/*
 * Savings against router accuracy on a grid of p: exact expectations (lines),
 * the router's energy saving by Monte Carlo (points with the 95% spread of
 * the trials) and the accuracy of the routed answers.
 */
static int routing_plot(struct buf *b, const struct route_result *res, const double *grid, int trials,
			const char *dir, char *err, size_t errlen)
{
	struct plot p;
	double y[7][11], mc[2][11], lo[2][11], hi[2][11];
	const char *lab[7] = {"energy, router", "compute, router", "cost, router", "energy, cascade",
			      "compute, cascade", "cost, cascade", "accuracy kept, router"};
	int rc;

	for (int i = 0; i <= 10; i++) {
		const struct route_row *rr = grid_row(res, "router", grid[i], 0), *cc = grid_row(res, "cascade", grid[i], 0);
		const struct route_row *rm = grid_row(res, "router", grid[i], 1);
		y[0][i] = rr->saved_energy.value;
		y[1][i] = rr->saved_compute.value;
		y[2][i] = rr->saved_cost.value;
		y[3][i] = cc->saved_energy.value;
		y[4][i] = cc->saved_compute.value;
		y[5][i] = cc->saved_cost.value;
		y[6][i] = rr->accuracy.value;
		mc[0][i] = rm ? rm->saved_energy.value : NAN;
		lo[0][i] = rm ? rm->saved_energy.lo : NAN;
		hi[0][i] = rm ? rm->saved_energy.hi : NAN;
		mc[1][i] = rm ? rm->accuracy.value : NAN;
		lo[1][i] = rm ? rm->accuracy.lo : NAN;
		hi[1][i] = rm ? rm->accuracy.hi : NAN;
	}
	plot_init(&p, "Savings against cloud-only vs router accuracy", "router accuracy p",
		  "saved against cloud-only; accuracy");
	p.y_percent = 1;
	if (trials > 0) {
		plot_add(&p, PLOT_BAND, "energy, router, Monte Carlo (95% of trials)", 11, grid, mc[0], lo[0], hi[0])
			->color = 0;
		plot_add(&p, PLOT_BAND, "accuracy kept, router, Monte Carlo (95% of trials)", 11, grid, mc[1], lo[1],
			 hi[1])->color = 4;
	}
	for (int k = 0; k < 7; k++) {
		int any = 0;
		for (int i = 0; i <= 10; i++)
			any |= isfinite(y[k][i]);
		if (!any)
			continue;
		struct plot_series *sr = plot_add(&p, PLOT_LINE, lab[k], 11, grid, y[k], NULL, NULL);
		sr->color = k == 6 ? 4 : k % 3;
		sr->dashed = k >= 3 && k < 6;
	}
	rc = emit_plot(b, &p, dir, "routing", "Energy, compute and cost saved and the accuracy kept vs router accuracy "
		       "(solid: router, dashed: cascade; shaded: the Monte Carlo router's 95% band of the trials, "
		       "energy saved and accuracy kept)", err, errlen);
	plot_release(&p);
	return rc;
}

static int section_routing(struct store *s, const struct report_options *o, char **ids, size_t n,
			   struct buf *b, char *err, size_t errlen)
{
	static const double table_p[] = {1, 0.8, 0.6};
	struct routing rt;
	struct route_result res[2];
	struct route_options curve;
	const struct route_options *opts[2];
	char why[IPW_ERRLEN];
	double grid[11];
	int rc;

	buf_appends(b, "<h2 id=routing-section>Hybrid routing</h2>\n");
	if (!o->cloud) {
		buf_appendf(b, "<p class=note>Not computed: name the cloud baseline with --cloud RUN (the other runs "
			    "are the local models)%s.</p>\n", o->daily_queries > 0 ? "; the per-day figures of "
			    "--daily-queries come with it" : "");
		return 0;
	}
	if ((rc = routing_prepare(s, o, ids, n, &rt, b, err, errlen)) != 0)
		goto out;
	/* the table's p and the plot's grid: two simulations over one read of the runs */
	rt.ro.p = table_p;
	rt.ro.np = 3;
	for (int i = 0; i <= 10; i++)
		grid[i] = i / 10.0;
	curve = rt.ro;
	curve.p = grid;
	curve.np = 11;
	opts[0] = &rt.ro;
	opts[1] = &curve;
	if (analysis_route_many(s, rt.local, rt.nl, rt.cloud.id, rt.model, opts, 2, res, why, sizeof(why)) < 0) {
		note(b, "Routing not computed: %s", why);
		goto out;
	}
	routing_table(b, &rt, &res[0]);
	if (o->daily_queries > 0)
		daily_table(b, o->daily_queries, &res[0]);
	rc = routing_plot(b, &res[1], grid, rt.ro.trials, o->out_dir, err, errlen);
	route_result_release(&res[0]);
	route_result_release(&res[1]);
out:
	routing_release(&rt);
	return rc < 0 ? -1 : 0;
}

static int plot_energy_tokens(struct buf *b, struct run_sum *rs, size_t n, const char *dir, char *err,
			      size_t errlen)
{
	struct plot p;
	int rc, any = 0;

	plot_init(&p, "Energy vs output tokens, with least-squares fits", "output tokens", "energy per query (J)");
	p.y_si = 1;
	for (size_t i = 0; i < n; i++) {
		struct plot_series *sr;
		if (!rs[i].ns)
			continue;
		any = 1;
		sr = plot_add(&p, PLOT_POINTS, rs[i].label, rs[i].ns, rs[i].sx, rs[i].sy, NULL, NULL);
		sr->color = (int)i;
		if (rs[i].fit_ok) {
			double lo = INFINITY, hi = -INFINITY, fx[2], fy[2];
			for (size_t j = 0; j < rs[i].ns; j++) {
				lo = fmin(lo, rs[i].sx[j]);
				hi = fmax(hi, rs[i].sx[j]);
			}
			fx[0] = lo, fx[1] = hi;
			fy[0] = rs[i].fit.coef[0] + rs[i].fit.coef[1] * lo;
			fy[1] = rs[i].fit.coef[0] + rs[i].fit.coef[1] * hi;
			sr = plot_add(&p, PLOT_LINE, NULL, 2, fx, fy, NULL, NULL);
			sr->color = (int)i;
		}
	}
	if (!any) {
		plot_release(&p);
		note(b, "%s", "No query has both a measured energy and an output token count: no energy plot.");
		return 0;
	}
	/* a scatter of thousands of points: markers smaller (plot.c does it past 500 points) */
	rc = emit_plot(b, &p, dir, "energy_tokens", "Energy per query vs output tokens with the fitted lines",
		       err, errlen);
	plot_release(&p);
	return rc;
}

static void table_regressions(struct buf *b, const char *label, const struct run_regressions *rg)
{
	for (int k = 0; k < REG_COUNT; k++) {
		const struct reg_spec *sp = &analysis_reg_specs[k];
		buf_appends(b, "<tr>");
		cell_s(b, label);
		cell_s(b, sp->name);
		if (!rg->ok[k]) {
			buf_appendf(b, "<td colspan=4 class=note>");
			html_esc(b, rg->why[k]);
			buf_appends(b, "</td></tr>\n");
			continue;
		}
		buf_appendf(b, "<td>%lld</td><td>%.4f</td>", rg->r[k].n, rg->r[k].r2);
		cell_mv(b, "%.5g", rg->r[k].ci[0]);
		buf_appends(b, "<td>");
		for (int j = 0; j < sp->k; j++) {
			buf_appendf(b, "%s%s: %.5g <span class=ci>[%.5g, %.5g]</span>", j ? "<br>" : "", sp->x[j],
				    rg->r[k].ci[j + 1].value, rg->r[k].ci[j + 1].ci_low, rg->r[k].ci[j + 1].ci_high);
		}
		buf_appends(b, "</td></tr>\n");
	}
}

/* A row's attribution cells (delta: delta-method intervals), or its reason in one cell. */
/* Run d against base: one row's cells (closed with </tr>); d is the run as load_run read it. */
static void attribution_cells(struct buf *b, const struct run_data *d, const struct run_data *base,
			      const struct metrics_options *mo, int delta)
{
	struct attribution at;
	char why[IPW_ERRLEN];

	if (analysis_attribute(base, d, mo, &at, why, sizeof(why)) < 0 ||
	    (delta && analysis_attribute_delta_ci(base, d, mo->level, &at) < 0)) {
		buf_appends(b, "<td colspan=7 class=note>");
		html_esc(b, why);
		buf_appends(b, "</td></tr>\n");
	} else {
		cell_mv(b, "%.3f", at.ipw_ratio);
		cell_mv(b, "%.3f", at.acc_factor);
		cell_mv(b, "%.3f", at.power_factor);
		cell_mv(b, "%.3f", at.ipj_ratio);
		cell_mv(b, "%.3f", at.energy_factor);
		cell_pct(b, at.acc_share_ipw, NAN, NAN);
		if (delta)
			cell_s(b, "delta");
		else if (mo->bootstrap > 0)
			buf_appendf(b, "<td>bootstrap (%d)</td>", mo->bootstrap);
		else
			cell_s(b, "none");
		buf_appends(b, "</tr>\n");
	}
}

/* The attribution row of run d (label) against base, with the page's interval method (table_attribution). */
static void attribution_row(struct buf *b, const char *label, const struct run_data *d, const struct run_data *base,
			    const struct report_options *o, int delta)
{
	struct metrics_options mo;

	metrics_options_init(&mo);
	mo.bootstrap = delta ? 0 : o->bootstrap;
	mo.seed = o->seed;
	buf_appends(b, "<tr>");
	cell_s(b, label);
	attribution_cells(b, d, base, &mo, delta && o->bootstrap > 0);
}

/*
 * Each run against the first, with the page's interval method: bootstrap,
 * or the delta method (analysis_attribute_delta_ci: the normal
 * approximation, the two runs independent), which --ci auto picks when a run
 * has more than AGG_CI_AUTO_MAX scored queries, since resampling runs that
 * large would take minutes; each row says which. The rows (attribution_row)
 * were made while load_run had each run in memory.
 */
static void table_attribution(struct buf *b, const struct buf *rows, const struct run_sum *rs,
			      const struct report_options *o, int delta)
{
	buf_appendf(b, "<h2 id=attribution-section>Attribution against run ");
	html_esc(b, rs[0].label);
	buf_appends(b, "</h2>\n<p>IPW<sub>B</sub>/IPW<sub>A</sub> = (acc<sub>B</sub>/acc<sub>A</sub>) &times; "
		    "(P<sub>A</sub>/P<sub>B</sub>); IPJ the same with energy in place of power.</p>\n"
		    "<table id=attribution><thead><tr><th>run B</th><th>IPW ratio</th><th>accuracy factor</th>"
		    "<th>power factor</th><th>IPJ ratio</th><th>energy factor</th><th>accuracy share of the IPW "
		    "change</th><th>intervals</th></tr></thead><tbody>\n");
	buf_append(b, rows->data, rows->len);
	buf_appends(b, "</tbody></table>\n");
	if (delta && o->bootstrap > 0)
		buf_appendf(b, "<p class=note>The page's intervals are by the delta method (a run has more than %d "
			    "scored queries, or --ci delta); the attribution's too: the normal approximation, the two "
			    "runs independent.</p>\n", AGG_CI_AUTO_MAX);
}

static const char *css =
	"body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
	"table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
	"th,td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}"
	"th{background:#f0f0f0}.ci{color:#777;font-size:11px}.note{color:#a40}"
	"figure{margin:12px 0}img.plot{max-width:100%;height:auto;border:1px solid #ddd}"
	"figcaption{font-size:12px;color:#555}";

/* What the report keeps while it reads the runs one at a time. */
struct report_ctx {
	struct store *s;
	const struct report_options *o;
	char **ids;
	size_t n;
	struct run_sum *rs;
	struct agg_options ao;       /* the comparison rows' intervals: as ipw compare (auto) */
	struct buf reg, tl;          /* the regression table and the timelines, filled per run */
	struct buf attr;             /* the attribution rows, filled per run (runs 2..n against run 1) */
	struct run_data base;        /* the first run's queries, kept for the attribution */
	int have_base;
	struct meta_file mf;         /* --model-meta */
	int have_meta;
	struct weight_entry *w;      /* --weights */
	size_t nw;
	struct gdi_scenario gdi;     /* --gdi, computed */
	int have_gdi;
};

static void page_head(struct buf *b, const struct report_options *o, size_t n, enum agg_ci ci, long long most)
{
	char when[40];

	clock_format_iso(clock_wall_s(), when, sizeof(when));
	buf_appends(b, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>");
	html_esc(b, o->title ? o->title : "ipw report");
	buf_appendf(b, "</title><style>%s</style></head><body>\n<h1>", css);
	html_esc(b, o->title ? o->title : "ipw report");
	buf_appendf(b, "</h1>\n<p>Generated %s by ipw %s from the store ", when, IPW_VERSION);
	html_esc(b, o->store_label ? o->store_label : "");
	buf_appendf(b, "; %zu run%s. Energy is gross accelerator energy (the paper's number). ", n, n == 1 ? "" : "s");
	if (ci == AGG_CI_DELTA)
		buf_appends(b, "<span id=page-intervals>Intervals: 95%, normal approximation (delta method), one method "
			    "for every table and plot");
	else
		buf_appendf(b, "<span id=page-intervals>Intervals: 95%%, bootstrap over queries (%d resamples), one method "
			    "for every table and plot", o->bootstrap);
	if (o->ci == AGG_CI_AUTO)
		buf_appendf(b, " (--ci auto: the largest run has %lld scored queries; delta above %d)", most,
			    AGG_CI_AUTO_MAX);
	buf_appends(b, "</span>; routing rows show the Monte Carlo spread. Failed and unscored queries are "
		    "excluded from every ratio.</p>\n");
}

/* Says which runs' energy is estimated (the built-in engine with no sensor), if any. */
static void estimated_note(struct buf *b, const struct report_ctx *c)
{
	char est[512], why[IPW_ERRLEN];

	if (runs_check_estimated_refs(c->s, c->ids, c->n, 1, est, sizeof(est), why, sizeof(why)) > 0)
		buf_appendf(b, "<p id=estimated-energy><b>Estimated energy, not measured</b>: run%s %s ran on the "
			    "built-in engine with no energy sensor; their energy is the engine's CPU time &times; watts "
			    "per core.</p>\n", strchr(est, ',') ? "s" : "", est);
}

/* At most SCATTER_MAX (output tokens, energy) points of the ok queries, evenly strided. */
static void scatter_sample(struct run_sum *rs, const struct run_data *d)
{
	size_t stride, have = 0;

	for (size_t j = 0; j < d->n; j++)
		have += !d->failed[j] && isfinite(d->energy_j[j]) && isfinite(d->output_tokens[j]);
	stride = have > SCATTER_MAX ? (have + SCATTER_MAX - 1) / SCATTER_MAX : 1;
	rs->sx = xmalloc((have / stride + 1) * sizeof(double));
	rs->sy = xmalloc((have / stride + 1) * sizeof(double));
	for (size_t j = 0, k = 0; j < d->n; j++)
		if (!d->failed[j] && isfinite(d->energy_j[j]) && isfinite(d->output_tokens[j]) && k++ % stride == 0) {
			rs->sx[rs->ns] = d->output_tokens[j];
			rs->sy[rs->ns] = d->energy_j[j];
			rs->ns++;
		}
}

/* Device power, IPW per subject and (with --model-meta) compute of one run. */
static void run_extras(struct report_ctx *c, struct run_sum *rs, const struct run_record *r, const struct run_data *d)
{
	struct metrics_input in;
	struct metrics_options mo;
	struct subject_metrics *sm = NULL;
	size_t ns = 0;
	char why[IPW_ERRLEN];

	run_data_metrics_input(d, &in);
	metrics_device_power(&in, d->t_send_s, d->t_end_s, &rs->dev);
	metrics_options_init(&mo);
	mo.bootstrap = 0;
	if (metrics_by_subject(&in, &mo, &sm, &ns, why, sizeof(why)) == 0) {
		rs->subj = xcalloc(ns + 1, sizeof(char *));
		rs->subj_ipw = xcalloc(ns + 1, sizeof(double));
		for (size_t k = 0; k < ns; k++) {
			rs->subj[k] = xstrdup(sm[k].subject);
			rs->subj_ipw[k] = sm[k].m.ipw.value;
		}
		rs->nsubj = ns;
		subject_metrics_free(sm, ns);
	}
	if (c->w) {
		struct metrics_options wo = c->ao.m;
		if (c->ao.ci == AGG_CI_DELTA)
			wo.bootstrap = 0;   /* no delta method for the weighted form: point estimates, said */
		if (analysis_weighted(d, c->w, c->nw, &wo, &rs->wr, why, sizeof(why)) == 0)
			rs->has_wr = 1;
		else
			rs->wr_why = xstrdup(why);
	}
	if (c->have_meta) {
		const struct model_meta *mm = meta_model_of(&c->mf, r);
		int cnt;
		const struct accel_meta *am = meta_accel_find(&c->mf, meta_run_accelerator(r, &cnt));
		if (mm) {
			analysis_compute(d, mm->active_params, mm->total_params, mm->bits_per_weight,
					 am ? am->peak_flops * cnt : NAN, am ? am->peak_bw * cnt : NAN, &rs->comp);
			rs->has_comp = 1;
		}
	}
}

static void rows_to_data(const struct agg_rows *rows, void *d)
{
	run_data_from_rows(rows, d);
}

/* Run i, read once: its row, its queries (regressions, extras, timeline, attribution); run 1's are kept. */
static int load_run(struct report_ctx *c, size_t i, char *err, size_t errlen)
{
	struct run_sum *rs = &c->rs[i];
	struct run_data d;
	struct run_record r;
	struct run_regressions rg;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	memset(&d, 0, sizeof(d));
	if (agg_compare_load_with(c->s, c->ids[i], &c->ao, &rs->row, NULL, rows_to_data, &d, err, errlen) < 0 ||
	    store_run_get(c->s, c->ids[i], &r, err, errlen) < 0)
		goto out;
	rs->ppl = rs->row.ppl;   /* read with the row */
	if (r.summary_json) {
		json_t *sj = json_loads(r.summary_json, 0, NULL);
		const char *kind = json_string_value(json_object_get(sj, "kind"));
		if (kind && !strcmp(kind, "router"))
			rs->router = sj;
		else
			json_decref(sj);
	}
	rs->id = xstrdup(c->ids[i]);
	rs->label = xasprintf("%s %s", c->ids[i], r.name ? r.name : "");
	if (r.group_name && *r.group_name)
		rs->repeat_key = xasprintf("group %s", r.group_name);
	else
		rs->repeat_key = xasprintf("%s @ %s", r.model ? r.model : "?",
					   rs->row.accelerator ? rs->row.accelerator : "no accelerator recorded");
	analysis_run_regressions(&d, c->ao.m.level, &rg);
	table_regressions(&c->reg, rs->label, &rg);
	rs->fit = rg.r[REG_ENERGY_OUT];
	rs->fit_ok = rg.ok[REG_ENERGY_OUT];
	scatter_sample(rs, &d);
	run_extras(c, rs, &r, &d);
	if ((int)i < c->o->max_timelines && timeline_plot(c->s, &r, &d, &c->tl, c->o->out_dir, err, errlen) < 0)
		goto out;
	if (i > 0 && c->have_base)
		attribution_row(&c->attr, rs->label, &d, &c->base, c->o, c->ao.ci == AGG_CI_DELTA);
	if (i == 0) {
		c->base = d;   /* kept for the attribution rows */
		c->have_base = 1;
		memset(&d, 0, sizeof(d));
	}
	rc = 0;
out:
	run_data_release(&d);
	run_record_release(&r);
	return rc;
}

/* The comparison table and its plots. */
static int section_compare(struct report_ctx *c, struct buf *b, char *err, size_t errlen)
{
	buf_appends(b, "<h2 id=compare-section>Comparison</h2>\n");
	table_compare(b, c->rs, c->n);
	if (c->ao.ci == AGG_CI_DELTA)
		buf_appends(b, "<p class=note id=interval-method>Intervals of this table and its plots: normal "
			    "approximation (delta method), for every run.</p>\n");
	if (plot_pareto(b, c->rs, c->n, c->o->out_dir, err, errlen) < 0 ||
	    plot_eff(b, c->rs, c->n, 0, c->ao.ci == AGG_CI_DELTA, c->o->out_dir, err, errlen) < 0 ||
	    plot_eff(b, c->rs, c->n, 1, c->ao.ci == AGG_CI_DELTA, c->o->out_dir, err, errlen) < 0)
		return -1;
	return 0;
}

/* A number with an SI prefix and 4 significant digits, and its unit ("28.57 m/W"), as plot ticks are. */
static void si(struct buf *b, double v, const char *unit)
{
	char t[48], *sp;
	if (!isfinite(v)) {
		buf_appends(b, "&ndash;");
		return;
	}
	plot_format_si(t, sizeof(t), v, 4);
	if ((sp = strchr(t, ' ')))
		*sp = 0;
	/* "28.57 m/W", "14 J", "66.67 m" (an interval's end, no unit), "18" */
	buf_appendf(b, "%s%s%s%s", t, sp || *unit ? "&nbsp;" : "", sp ? sp + 1 : "", unit);
}

static void cell_si(struct buf *b, double v, const char *unit)
{
	buf_appends(b, "<td>");
	si(b, v, unit);
	buf_appends(b, "</td>");
}

/*
 * Perplexity per watt and per joule (docs/metrics.md "Perplexity"), for the
 * runs whose server returned token log-probabilities (profile --logprobs).
 */
static int section_perplexity(struct report_ctx *c, struct buf *b)
{
	int any = 0;

	buf_appends(b, "<h2 id=perplexity-section>Perplexity per watt and per joule</h2>\n");
	for (size_t i = 0; i < c->n; i++)
		any |= c->rs[i].ppl.n_logprobs > 0;
	if (!any) {
		buf_appends(b, "<p class=note>Not measured: no run carries token log-probabilities (profile "
			    "--logprobs, with a server that returns them).</p>\n");
		return 0;
	}
	buf_appends(b, "<p>Perplexity of a query: exp(&minus;&Sigma; log p / tokens) over the token log-probabilities "
		    "the server returned; the run's is the mean over its queries (pooled: exp of the run's tokens "
		    "together). Per watt: that mean over the queries with measured energy / their mean power "
		    "E(q)/&tau;(q); per joule: / their mean energy. Lower is better. Point estimates; "
		    "&ndash; where not measured.</p>\n<table id=perplexity><thead><tr><th>run</th><th>queries with "
		    "log-probabilities</th><th>tokens</th><th>perplexity</th><th>pooled</th><th>with energy</th>"
		    "<th>mean power</th><th>perplexity/W</th><th>perplexity/J</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < c->n; i++) {
		const struct ppl_run *p = &c->rs[i].ppl;
		struct ppl_summary ps;
		ppl_run_summary(p, &ps);
		buf_appends(b, "<tr>");
		cell_s(b, c->rs[i].label);
		buf_appendf(b, "<td>%lld of %lld</td><td>%lld</td>", p->n_logprobs, p->n_queries, p->tokens);
		if (isfinite(ps.ppl_mean))
			buf_appendf(b, "<td>%.5g</td><td>%.5g</td>", ps.ppl_mean, ps.ppl_tokens);
		else
			buf_appends(b, "<td>&ndash;</td><td>&ndash;</td>");
		buf_appendf(b, "<td>%lld</td>", p->n_energy);
		cell_si(b, ps.power_mean_w, "W");
		cell_si(b, ps.ppl_per_w, "/W");
		cell_si(b, ps.ppl_per_j, "/J");
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
	return 0;
}

/* IPW on each request's share and on the device's power; with --model-meta, compute. */
static int section_device(struct report_ctx *c, struct buf *b)
{
	buf_appends(b, "<h2 id=device-section>Device power and compute</h2>\n<p>IPW is accuracy over the mean of each "
		    "request's power E(q)/&tau;(q), its share of the device; IPW (device) is accuracy over the device's "
		    "power while serving (&Sigma;E over the time a request was in flight), what batch tables report. "
		    "Point estimates. Compute (with --model-meta): FLOPs = 2 &times; parameters &times; tokens, on "
		    "active and on total parameters (docs/metrics.md).</p>\n<table id=device><thead><tr><th>run</th>"
		    "<th>IPW (1/W)</th><th>device power</th><th>IPW device (1/W)</th><th>in flight</th>"
		    "<th>FLOPs/query (active)</th><th>FLOPs/query (total)</th><th>FLOPs/J</th><th>MFU</th><th>MBU</th>"
		    "</tr></thead><tbody>\n");
	for (size_t i = 0; i < c->n; i++) {
		const struct run_sum *r = &c->rs[i];
		const struct run_compute *k = &r->comp;
		double na = r->has_comp && k->n_tokens ? (double)k->n_tokens : NAN;
		buf_appends(b, "<tr>");
		cell_s(b, r->label);
		cell_si(b, r->row.r.m.ipw.value, "/W");
		cell_si(b, r->dev.power_w, "W");
		cell_si(b, r->dev.ipw, "/W");
		buf_appendf(b, "<td>%.3g</td>", r->dev.in_flight);
		cell_si(b, r->has_comp ? k->flops_active / na : NAN, "FLOP");
		cell_si(b, r->has_comp ? k->flops_total / na : NAN, "FLOP");
		cell_si(b, r->has_comp ? k->flops_per_j : NAN, "FLOP/J");
		cell_pct(b, r->has_comp ? k->mfu : NAN, NAN, NAN);
		cell_pct(b, r->has_comp ? k->mbu : NAN, NAN, NAN);
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
	if (!c->have_meta)
		buf_appends(b, "<p class=note>Compute not computed: give the model metadata with --model-meta FILE.</p>\n");
	return 0;
}

/* The subjects of the first MAX_BAR_RUNS runs (union, sorted), newly allocated. */
static char **subject_union(const struct report_ctx *c, size_t nb, size_t *ns)
{
	char **u = NULL;
	size_t n = 0;
	for (size_t i = 0; i < nb; i++)
		for (size_t k = 0; k < c->rs[i].nsubj; k++) {
			size_t j = 0;
			while (j < n && strcmp(u[j], c->rs[i].subj[k]) < 0)
				j++;
			if (j < n && !strcmp(u[j], c->rs[i].subj[k]))
				continue;
			u = xrealloc(u, (n + 2) * sizeof(*u));
			memmove(&u[j + 1], &u[j], (n - j) * sizeof(*u));
			u[j] = c->rs[i].subj[k];
			n++;
		}
	*ns = n;
	return u;
}

static double subj_value(const struct run_sum *r, const char *s)
{
	for (size_t k = 0; k < r->nsubj; k++)
		if (!strcmp(r->subj[k], s))
			return r->subj_ipw[k];
	return NAN;
}

/* IPW per subject: bars for the first MAX_BAR_RUNS runs. */
static int section_subject_ipw(struct report_ctx *c, struct buf *b, char *err, size_t errlen)
{
	size_t nb = c->n < MAX_BAR_RUNS ? c->n : MAX_BAR_RUNS, ns;
	char **u = subject_union(c, nb, &ns);
	const char **names = xcalloc(ns + 1, sizeof(char *));
	double *x = xcalloc(ns + 1, sizeof(double)), *y = xcalloc(ns + 1, sizeof(double));
	struct plot p;
	int rc = 0;

	buf_appends(b, "<h2 id=subject-ipw-section>IPW per subject</h2>\n");
	if (ns == 0) {
		buf_appends(b, "<p class=note>No subjects with scored queries.</p>\n");
		goto out;
	}
	plot_init(&p, "IPW per subject", "subject", "IPW (1/W)");
	p.y_si = 1;
	p.ymin = 0;
	for (size_t j = 0; j < ns; j++) {
		names[j] = *u[j] ? u[j] : "(none)";
		x[j] = (double)j;
	}
	plot_set_categories(&p, names, ns);
	for (size_t i = 0; i < nb; i++) {
		for (size_t j = 0; j < ns; j++)
			y[j] = subj_value(&c->rs[i], u[j]);
		plot_add(&p, PLOT_BARS, c->rs[i].label, ns, x, y, NULL, NULL);
	}
	rc = emit_plot(b, &p, c->o->out_dir, "subject_ipw", "IPW per subject and run (point estimates; the first 8 runs)",
		       err, errlen);
	plot_release(&p);
	/* the chart's numbers, in the chart's format */
	buf_appends(b, "<table id=subject-ipw><thead><tr><th>run</th>");
	for (size_t j = 0; j < ns; j++) {
		buf_appends(b, "<th>");
		html_esc(b, names[j]);
		buf_appends(b, "</th>");
	}
	buf_appends(b, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < nb; i++) {
		buf_appends(b, "<tr>");
		cell_s(b, c->rs[i].label);
		for (size_t j = 0; j < ns; j++)
			cell_si(b, subj_value(&c->rs[i], u[j]), "/W");
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
out:
	free(u);
	free(names);
	free(x);
	free(y);
	return rc;
}

/* Kendall tau and Spearman rho of the per-subject rankings against the overall one. */
/* Resamples of the rank bootstrap: the page's bootstrap count, at most this many (as ipw ranks' default). */
#define RANKS_BOOTSTRAP_MAX 1000

/*
 * Every run's queries at once (run_data_load), for the sections that resample
 * or pool across runs: (*d)[i], with (*dp)[i] pointing at it; *loaded counts
 * what was read, also on failure. Release with runs_data_release.
 */
static int runs_data_load(const struct report_ctx *c, struct run_data **d, const struct run_data ***dp,
			  size_t *loaded, char *err, size_t errlen)
{
	*d = xcalloc(c->n, sizeof(**d));
	*dp = xcalloc(c->n, sizeof(**dp));
	for (*loaded = 0; *loaded < c->n; (*loaded)++) {
		if (run_data_load(c->s, c->ids[*loaded], &(*d)[*loaded], err, errlen) < 0)
			return -1;
		(*dp)[*loaded] = &(*d)[*loaded];
	}
	return 0;
}

static void runs_data_release(struct run_data *d, const struct run_data **dp, size_t loaded)
{
	for (size_t i = 0; i < loaded; i++)
		run_data_release(&d[i]);
	free(d);
	free(dp);
}

/*
 * The rank stability of bootstrap resamples (analysis_rank_bootstrap, as ipw
 * ranks): each run's queries resampled B times, each resample's IPW ranking
 * against the full one. Not under the delta method (large runs: ipw ranks
 * --bootstrap N computes it) or --bootstrap 0.
 */
static int ranks_bootstrap(struct report_ctx *c, struct buf *b, char *err, size_t errlen)
{
	int nb = c->o->bootstrap < RANKS_BOOTSTRAP_MAX ? c->o->bootstrap : RANKS_BOOTSTRAP_MAX;
	struct run_data *d;
	const struct run_data **dp;
	struct rank_stability rs;
	size_t loaded = 0;
	int rc = -1;

	if (c->ao.ci == AGG_CI_DELTA || nb <= 0) {
		buf_appendf(b, "<p class=note id=ranks-bootstrap-note>No bootstrap of the ranking: %s; <code>ipw ranks "
			    "--bootstrap N</code> computes it.</p>\n", nb <= 0 ? "--bootstrap 0" :
			    "the page's intervals use the delta method (runs too large to resample here)");
		return 0;
	}
	if (runs_data_load(c, &d, &dp, &loaded, err, errlen) < 0)
		goto out;
	analysis_rank_bootstrap(dp, c->n, RANK_IPW, nb, c->o->seed, METRICS_LEVEL, &rs);
	buf_appendf(b, "<p>Bootstrap: each run's queries resampled %d times (seeded; the page's --bootstrap, at most "
		    "%d), the runs ranked by IPW on each resample against the ranking on all queries: mean "
		    "&tau;-b and &rho; with the 2.5&ndash;97.5 percentiles of the resamples, and the share of "
		    "resamples with the same top run.</p>\n<table id=ranks-bootstrap><thead><tr><th>resamples</th>"
		    "<th>&tau; mean</th><th>&rho; mean</th><th>same top run</th></tr></thead><tbody>\n<tr><td>B=%d"
		    "</td><td>%.3f <span class=ci>[%.3f, %.3f]</span></td><td>%.3f <span class=ci>[%.3f, %.3f]</span>"
		    "</td>", nb, RANKS_BOOTSTRAP_MAX, nb, rs.tau_mean, rs.tau_lo, rs.tau_hi, rs.rho_mean, rs.rho_lo,
		    rs.rho_hi);
	cell_pct(b, rs.top_same, NAN, NAN);
	buf_appends(b, "</tr>\n</tbody></table>\n");
	rank_stability_release(&rs);
	rc = 0;
out:
	runs_data_release(d, dp, loaded);
	return rc;
}

/* One table of rank_subsets rows: subset, items, tau, rho. */
static void subset_table(struct buf *b, const char *id, const char *what, const struct rank_subsets *s)
{
	buf_appendf(b, "<table id=%s><thead><tr><th>%s</th><th>items</th><th>&tau;</th><th>&rho;</th></tr></thead>"
		    "<tbody>\n", id, what);
	for (size_t k = 0; k < s->nrows; k++) {
		buf_appends(b, "<tr>");
		cell_s(b, s->row[k].key);
		buf_appendf(b, "<td>%lld</td>", s->row[k].items);
		cell_mv(b, "%.3f", (struct metric_value){s->row[k].tau, NAN, NAN});
		cell_mv(b, "%.3f", (struct metric_value){s->row[k].rho, NAN, NAN});
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
}

/*
 * By dataset (as ipw ranks --by dataset), when the runs are on more than one
 * dataset: the models ranked, each model's runs pooled.
 */
static int ranks_datasets(struct report_ctx *c, struct buf *b, char *err, size_t errlen)
{
	struct run_record *rr = xcalloc(c->n, sizeof(*rr));
	const char **mk = xcalloc(c->n, sizeof(char *)), **dk = xcalloc(c->n, sizeof(char *));
	struct run_data *d = NULL;
	const struct run_data **dp = NULL;
	struct rank_subsets s;
	size_t got = 0, loaded = 0, nds = 0;
	int rc = -1;

	memset(&s, 0, sizeof(s));
	for (; got < c->n; got++) {
		if (store_run_get(c->s, c->ids[got], &rr[got], err, errlen) < 0)
			goto out;
		mk[got] = rank_model_key(&rr[got]);
		dk[got] = rank_dataset_key(&rr[got]);
	}
	for (size_t i = 0; i < c->n; i++) {
		size_t j = 0;
		while (j < i && strcmp(dk[j], dk[i]))
			j++;
		nds += j == i;
	}
	rc = 0;
	if (nds < 2)
		goto out;
	rc = -1;
	if (runs_data_load(c, &d, &dp, &loaded, err, errlen) < 0)
		goto out;
	analysis_rank_datasets(dp, mk, dk, c->n, RANK_IPW, &s);
	buf_appendf(b, "<p>By dataset (the runs are on %zu): a run has one dataset, so the %zu models are ranked (a "
		    "model's runs pooled; key: the run's model), by IPW on each dataset's queries against the ranking "
		    "on all of them; datasets some model has no run on are left out; items: the first model's queries "
		    "(as <code>ipw ranks --by dataset</code>).</p>\n", nds, s.nmodels);
	if (s.nmodels < 2)
		buf_appends(b, "<p class=note id=ranks-dataset-note>One model: nothing to rank by dataset.</p>\n");
	else if (!s.nrows)
		buf_appends(b, "<p class=note id=ranks-dataset-note>No dataset has runs of every model.</p>\n");
	else
		subset_table(b, "ranks-dataset", "dataset", &s);
	rc = 0;
out:
	rank_subsets_release(&s);
	runs_data_release(d, dp, loaded);
	for (size_t i = 0; i < got; i++)
		run_record_release(&rr[i]);
	free(rr);
	free(mk);
	free(dk);
	return rc;
}

/*
 * By difficulty level (--model-meta; the levels of the levels section, as
 * ipw ranks --by level), when more than one level has items.
 */
/* Each run's total parameters from --model-meta (NAN for a run the file does not describe). */
static void runs_total_params(const struct report_ctx *c, double *total)
{
	char why[IPW_ERRLEN];

	for (size_t i = 0; i < c->n; i++) {
		struct run_record rr;
		const struct model_meta *mm;
		memset(&rr, 0, sizeof(rr));
		total[i] = NAN;
		if (store_run_get(c->s, c->ids[i], &rr, why, sizeof(why)) == 0 && (mm = meta_model_of(&c->mf, &rr)))
			total[i] = mm->total_params;
		run_record_release(&rr);
	}
}

static void ranks_levels(struct report_ctx *c, struct buf *b, const double *all)
{
	double *total = xcalloc(c->n + 1, sizeof(double)), *bounds = NULL;
	size_t nb = 0;
	struct rank_subsets s;
	char why[IPW_ERRLEN];

	memset(&s, 0, sizeof(s));
	if (!c->have_meta)
		goto out;
	runs_total_params(c, total);
	if (analysis_level_bounds(c->o->size_classes ? c->o->size_classes : LEVELS_DEFAULT_BOUNDS, &bounds, &nb, why,
				  sizeof(why)) < 0 ||
	    analysis_rank_levels(c->s, (const char *const *)c->ids, c->n, total, bounds, nb, c->o->intersect, RANK_IPW,
				 all, &s, why, sizeof(why)) < 0) {
		note(b, "Rank stability by level not computed: %s", why);
		goto out;
	}
	if (s.nrows < 2)
		goto out;
	buf_appends(b, "<p>By difficulty level (the levels section's): the runs ranked by IPW on each level's items "
		    "against the ranking on all queries; levels with no items, or where a run scored none, are left "
		    "out (as <code>ipw ranks --by level</code>).</p>\n");
	subset_table(b, "ranks-level", "level", &s);
out:
	rank_subsets_release(&s);
	free(total);
	free(bounds);
}

static int section_ranks(struct report_ctx *c, struct buf *b, char *err, size_t errlen)
{
	int rc = 0;
	size_t ns;
	char **u = subject_union(c, c->n, &ns);
	double *all = xcalloc(c->n + 1, sizeof(double)), *v = xcalloc(c->n + 1, sizeof(double));
	int rows = 0;

	buf_appends(b, "<h2 id=ranks-section>Rank stability</h2>\n");
	if (c->n < 2) {
		buf_appends(b, "<p class=note>One run: nothing to rank.</p>\n");
		goto out;
	}
	for (size_t i = 0; i < c->n; i++)
		all[i] = c->rs[i].row.r.m.ipw.value;
	buf_appends(b, "<p>The runs ranked by IPW on each subject's queries alone against the ranking on all queries: "
		    "Kendall's &tau;-b and Spearman's &rho; (1: the same order).</p>\n<table id=ranks><thead><tr><th>subject</th><th>&tau;</th><th>&rho;</th>"
		    "</tr></thead><tbody>\n");
	for (size_t j = 0; j < ns; j++) {
		int every = 1;
		for (size_t i = 0; i < c->n && every; i++)
			every = isfinite(v[i] = subj_value(&c->rs[i], u[j]));
		if (!every)
			continue;
		buf_appends(b, "<tr>");
		cell_s(b, *u[j] ? u[j] : "(none)");
		buf_appendf(b, "<td>%.3f</td><td>%.3f</td></tr>\n", analysis_kendall_tau(all, v, c->n),
			    analysis_spearman_rho(all, v, c->n));
		rows++;
	}
	buf_appends(b, "</tbody></table>\n");
	if (!rows)
		buf_appends(b, "<p class=note>No subject has an IPW in every run.</p>\n");
	if (ranks_datasets(c, b, err, errlen) < 0) {
		rc = -1;
		goto out;
	}
	ranks_levels(c, b, all);
	rc = ranks_bootstrap(c, b, err, errlen);
out:
	free(u);
	free(all);
	free(v);
	return rc;
}

/* Difficulty levels by the smallest size class answering each item (--model-meta). */
static int section_levels(struct report_ctx *c, struct buf *b)
{
	double *total = xcalloc(c->n + 1, sizeof(double)), *bounds = NULL;
	size_t nb = 0;
	struct level_result r;
	char why[IPW_ERRLEN];

	buf_appends(b, "<h2 id=levels-section>Difficulty levels</h2>\n");
	if (!c->have_meta) {
		buf_appends(b, "<p class=note>Not computed: the levels need each run's total parameters "
			    "(--model-meta FILE).</p>\n");
		goto out;
	}
	runs_total_params(c, total);
	if (analysis_level_bounds(c->o->size_classes ? c->o->size_classes : LEVELS_DEFAULT_BOUNDS, &bounds, &nb, why,
				  sizeof(why)) < 0 ||
	    analysis_levels(c->s, (const char *const *)c->ids, c->n, total, bounds, nb, c->o->intersect, &r, why,
			    sizeof(why)) < 0) {
		note(b, "Levels not computed: %s", why);
		goto out;
	}
	buf_appends(b, "<p>An item's level is the smallest size class (total parameters: ");
	for (size_t k = 0; k < r.nb; k++)
		buf_appendf(b, "L%zu &le; %gB, ", k + 1, r.bounds[k] / 1e9);
	buf_appendf(b, "L%zu larger%s) of a run that answered it right; L%zu: no run did. The level's share of the "
		    "%lld items, and the accuracy of each run on each level's items.</p>\n<table id=levels><thead><tr>"
		    "<th>level</th><th>items</th><th>share</th>", r.nb + 1, c->o->size_classes ? "; --size-classes" :
		    "; the default classes", r.nb + 2, r.n_items);
	for (size_t i = 0; i < c->n; i++) {
		buf_appends(b, "<th>");
		html_esc(b, c->rs[i].label);
		buf_appends(b, "</th>");
	}
	buf_appends(b, "</tr></thead><tbody>\n");
	for (size_t l = 0; l < r.nlevels; l++) {
		buf_appendf(b, "<tr><td>L%zu</td><td>%lld</td>", l + 1, r.items[l]);
		cell_pct(b, r.n_items ? (double)r.items[l] / (double)r.n_items : NAN, NAN, NAN);
		for (size_t i = 0; i < c->n; i++) {
			long long sc = r.scored[i * r.nlevels + l], co = r.correct[i * r.nlevels + l];
			cell_pct(b, sc ? (double)co / (double)sc : NAN, NAN, NAN);
		}
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
	level_result_release(&r);
out:
	free(total);
	free(bounds);
	return 0;
}

/* The run's metadata entry and accelerator class (-1 unknown); NULL without --model-meta or an entry. */
static const struct model_meta *run_meta(struct report_ctx *c, size_t i, int *local, const char **accel)
{
	struct run_record rr;
	const struct model_meta *mm = NULL;
	char why[IPW_ERRLEN];
	int cnt;

	*local = -1;
	*accel = NULL;
	memset(&rr, 0, sizeof(rr));
	if (c->have_meta && store_run_get(c->s, c->ids[i], &rr, why, sizeof(why)) == 0) {
		const struct accel_meta *am;
		mm = meta_model_of(&c->mf, &rr);
		am = meta_accel_find(&c->mf, meta_run_accelerator(&rr, &cnt));
		if (am) {
			*local = am->local;
			*accel = am->key;
		}
	}
	run_record_release(&rr);
	return mm;
}

/* "v [lo, hi]" with SI prefixes, as cell_si. */
static void cell_si_ci(struct buf *b, struct metric_value v, const char *unit)
{
	buf_appends(b, "<td>");
	si(b, v.value, unit);
	if (isfinite(v.value) && isfinite(v.ci_low) && isfinite(v.ci_high)) {
		buf_appends(b, " <span class=ci>[");
		si(b, v.ci_low, "");
		buf_appends(b, ", ");
		si(b, v.ci_high, "");
		buf_appends(b, "]</span>");
	}
	buf_appends(b, "</td>");
}

/* A factor "1.234 [1.1, 1.4]" (no unit, 3 decimals). */
static void cell_x(struct buf *b, const struct metric_value *v)
{
	struct metric_value none = {NAN, NAN, NAN};
	cell_mv(b, "%.3f", v ? *v : none);
}

/*
 * Trends by release year (--model-meta; analysis_trends, as ipw trends): per
 * year the best run by IPW, its accelerator, accuracy, IPW, IPJ, power and
 * best-of-year coverage, and the IPW change against the previous year's best
 * split into accuracy (the model) and power (the hardware); the last row
 * from the first year to the last.
 */
static int section_trends(struct report_ctx *c, struct buf *b, char *err, size_t errlen)
{
	static const char *const pname[] = {"year", "half", "quarter"};
	const char *pn = pname[c->o->period == TREND_QUARTER ? 2 : c->o->period == TREND_HALF ? 1 : 0];
	char (*year)[16] = xcalloc(c->n + 1, sizeof(*year));
	size_t nomonth = 0;
	const char **label = xcalloc(c->n + 1, sizeof(char *));
	const struct metrics **m = xcalloc(c->n + 1, sizeof(*m));
	char **ids = xcalloc(c->n + 1, sizeof(char *));
	size_t k = 0;
	struct trend_result tr;
	int rc = 0;

	memset(&tr, 0, sizeof(tr));
	buf_appendf(b, "<h2 id=trends-section>Trends by release %s</h2>\n", pn);
	if (!c->have_meta) {
		buf_appends(b, "<p class=note>Not computed: release dates come from --model-meta FILE.</p>\n");
		goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		int local;
		const char *accel;
		const struct model_meta *mm = run_meta(c, i, &local, &accel);
		if (!mm || !mm->rel_year)
			continue;
		if (trend_period_of(mm, (enum trend_period)c->o->period, year[k], sizeof(year[k])) < 0) {
			nomonth++;   /* a half or quarter needs the month */
			continue;
		}
		label[k] = year[k];
		m[k] = &c->rs[i].row.r.m;
		ids[k] = c->ids[i];
		k++;
	}
	if (nomonth)
		buf_appendf(b, "<p class=note>%zu run%s left out: the release date has no month, which a %s needs.</p>\n",
			    nomonth, nomonth == 1 ? "" : "s", pn);
	if (!k) {
		buf_appends(b, "<p class=note>No run's model has a release date in the metadata file.</p>\n");
		goto out;
	}
	if (analysis_trends(c->s, ids, label, m, k, c->o->intersect, &c->ao.m, c->ao.ci == AGG_CI_DELTA, &tr, err,
			    errlen) < 0) {
		rc = -1;
		goto out;
	}
	buf_appendf(b, "<p>Per release %s (--period) the run with the highest IPW (the best model on the best "
		    "accelerator, the paper's Table 2) over the %zu run%s the metadata file dates; coverage: best-of-%s. "
		    "IPW&times; = accuracy&times; &middot; power&times; (power&times; = P<sub>A</sub>/P<sub>B</sub>): the "
		    "change against the previous %s's best, split into the model's part and the hardware's; the last row "
		    "spans the first %s to the last. Intervals: %s. <code>ipw trends</code> also gives --class.</p>\n"
		    "<table id=trends><thead><tr><th>%s</th><th>runs</th><th>best run</th><th>accelerator</th>"
		    "<th>accuracy</th><th>IPW</th><th>IPJ</th><th>power</th><th>coverage</th><th>IPW &times;</th>"
		    "<th>accuracy &times;</th><th>power &times;</th></tr></thead><tbody>\n", pn, k, k == 1 ? "" : "s",
		    pn, pn, pn, c->ao.ci == AGG_CI_DELTA ? "delta method" : "bootstrap over queries", pn);
	for (size_t r = 0; r < tr.nrows; r++) {
		const struct trend_row *w = &tr.rows[r];
		const struct run_sum *rs = NULL;
		const struct metric_value *f[3] = {NULL, NULL, NULL};
		if (w->best >= 0)
			for (size_t i = 0; i < c->n; i++)
				if (!strcmp(c->ids[i], ids[w->best]))
					rs = &c->rs[i];
		if (w->has_factor) {
			f[0] = &w->at.ipw_ratio;
			f[1] = &w->at.acc_factor;
			f[2] = &w->at.power_factor;
		}
		buf_appends(b, "<tr>");
		cell_s(b, w->period);
		if (w->nruns)
			buf_appendf(b, "<td>%zu</td>", w->nruns);
		else
			buf_appends(b, "<td>&ndash;</td>");
		cell_s(b, rs ? rs->label : NULL);
		cell_s(b, rs ? rs->row.accelerator : NULL);
		if (rs) {
			cell_pct(b, rs->row.r.m.accuracy.value, rs->row.r.m.accuracy.ci_low, rs->row.r.m.accuracy.ci_high);
			cell_si_ci(b, rs->row.r.m.ipw, "/W");
			cell_si_ci(b, rs->row.r.m.ipj, "/J");
			cell_si(b, rs->row.r.m.power_w.value, "W");
		} else {
			buf_appends(b, "<td>&ndash;</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td>");
		}
		cell_pct(b, w->coverage, NAN, NAN);
		for (int j = 0; j < 3; j++)
			cell_x(b, f[j]);
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
	for (size_t r = 0; r < tr.nrows; r++)
		if (tr.rows[r].why) {
			char *t = xasprintf("Year %s: coverage not computed: %s", tr.rows[r].period, tr.rows[r].why);
			note(b, "%s", t);
			free(t);
		}
out:
	trend_result_release(&tr);
	free(year);
	free(label);
	free(m);
	free(ids);
	return rc;
}

/* The accelerators' names of the runs of one class (first appearance order); their count. */
static size_t accel_list(const char *const *accel, const int *local, size_t n, int cls, const char **out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		if (local[i] != cls || !accel[i])
			continue;
		while (j < k && strcmp(out[j], accel[i]))
			j++;
		if (j == k)
			out[k++] = accel[i];
	}
	return k;
}

/* Local against cloud pairs: the same model on both classes, side by side, cloud / local ratios. */
static int lc_pairs(struct report_ctx *c, struct buf *b, const char *const *model, const int *local)
{
	int pairs = 0;
	for (size_t i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->n; j++) {
			const struct metrics *l, *k;
			if (!(local[i] == 1 && local[j] == 0 && model[i] && model[j] && !strcmp(model[i], model[j])))
				continue;
			l = &c->rs[i].row.r.m;
			k = &c->rs[j].row.r.m;
			if (!pairs++)
				buf_appends(b, "<table id=localcloud><thead><tr><th>model</th><th>local run</th>"
					    "<th>local accelerator</th><th>cloud run</th><th>cloud accelerator</th>"
					    "<th>accuracy local</th><th>accuracy cloud</th><th>IPW local</th><th>IPW cloud</th>"
					    "<th>IPW cloud / local</th><th>IPJ local</th><th>IPJ cloud</th>"
					    "<th>IPJ cloud / local</th></tr></thead><tbody>\n");
			buf_appends(b, "<tr>");
			cell_s(b, model[i]);
			cell_s(b, c->rs[i].label);
			cell_s(b, c->rs[i].row.accelerator);
			cell_s(b, c->rs[j].label);
			cell_s(b, c->rs[j].row.accelerator);
			cell_pct(b, l->accuracy.value, l->accuracy.ci_low, l->accuracy.ci_high);
			cell_pct(b, k->accuracy.value, k->accuracy.ci_low, k->accuracy.ci_high);
			cell_si_ci(b, l->ipw, "/W");
			cell_si_ci(b, k->ipw, "/W");
			buf_appendf(b, "<td>%.3f</td>", lc_ratio(k->ipw.value, l->ipw.value));
			cell_si_ci(b, l->ipj, "/J");
			cell_si_ci(b, k->ipj, "/J");
			buf_appendf(b, "<td>%.3f</td></tr>\n", lc_ratio(k->ipj.value, l->ipj.value));
		}
	if (pairs)
		buf_appends(b, "</tbody></table>\n");
	else
		buf_appends(b, "<p class=note>No model ran on both a local and a cloud accelerator.</p>\n");
	return pairs;
}

/* The IPW / IPJ pivot: a row per model, a column per accelerator (local ones first). */
static void lc_pivot(struct report_ctx *c, struct buf *b, const char *const *model, const char *const *accel,
		     const int *local)
{
	const char **acc = xcalloc(2 * c->n + 1, sizeof(char *)), **mod = xcalloc(c->n + 1, sizeof(char *));
	size_t nl = accel_list(accel, local, c->n, 1, acc), na = nl + accel_list(accel, local, c->n, 0, acc + nl);
	size_t nm = 0;

	for (size_t i = 0; i < c->n; i++) {
		size_t j = 0;
		while (j < nm && strcmp(mod[j], model[i]))
			j++;
		if (j == nm)
			mod[nm++] = model[i];
	}
	buf_appends(b, "<table id=localcloud-pivot><thead><tr><th>model</th>");
	for (size_t a = 0; a < na; a++) {
		buf_appendf(b, "<th>%s: ", a < nl ? "local" : "cloud");
		html_esc(b, acc[a]);
		buf_appends(b, "<br>IPW / IPJ</th>");
	}
	buf_appends(b, "</tr></thead><tbody>\n");
	for (size_t k = 0; k < nm; k++) {
		buf_appends(b, "<tr>");
		cell_s(b, mod[k]);
		for (size_t a = 0; a < na; a++) {
			long best = -1;
			/* several runs of one model on one accelerator: the one with the highest IPW */
			for (size_t i = 0; i < c->n; i++)
				if (!strcmp(model[i], mod[k]) && accel[i] && !strcmp(accel[i], acc[a]) &&
				    local[i] == (a < nl) &&
				    (best < 0 || c->rs[i].row.r.m.ipw.value > c->rs[best].row.r.m.ipw.value))
					best = (long)i;
			buf_appends(b, "<td>");
			if (best >= 0) {
				si(b, c->rs[best].row.r.m.ipw.value, "/W");
				buf_appends(b, " / ");
				si(b, c->rs[best].row.r.m.ipj.value, "/J");
			} else {
				buf_appends(b, "&ndash;");
			}
			buf_appends(b, "</td>");
		}
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
	free(acc);
	free(mod);
}

/* Best-of-local against best-of-cloud coverage, all subjects then each. */
static void lc_cover(struct report_ctx *c, struct buf *b, const int *local)
{
	struct lc_coverage lc;
	const struct coverage_result *L, *C;

	analysis_lc_coverage(c->s, c->ids, local, c->n, c->o->intersect, &lc);
	L = lc.have[1] ? &lc.c[1] : NULL;
	C = lc.have[0] ? &lc.c[0] : NULL;
	buf_appends(b, "<table id=localcloud-coverage><thead><tr><th>subject</th><th>best-of-local</th>"
		    "<th>best-of-cloud</th><th>cloud &minus; local</th></tr></thead><tbody>\n<tr><td>all</td>");
	{
		double l = L ? coverage_value(&L->best) : NAN, k = C ? coverage_value(&C->best) : NAN;
		cell_pct(b, l, NAN, NAN);
		cell_pct(b, k, NAN, NAN);
		cell_pct(b, k - l, NAN, NAN);
	}
	buf_appends(b, "</tr>\n");
	for (size_t s = 0; L && s < L->nsubj; s++) {
		double l = coverage_value(&L->subj[s].best), k = C ? coverage_subject_best(C, L->subj[s].subject) : NAN;
		buf_appends(b, "<tr>");
		cell_s(b, *L->subj[s].subject ? L->subj[s].subject : "(none)");
		cell_pct(b, l, NAN, NAN);
		cell_pct(b, k, NAN, NAN);
		cell_pct(b, k - l, NAN, NAN);
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
	for (int k = 0; k < 2; k++)
		if (!lc.have[k])
			note(b, k ? "Best-of-local coverage not computed: %s" : "Best-of-cloud coverage not computed: %s",
			     lc.why[k]);
	lc_coverage_release(&lc);
}

/*
 * Local against cloud (--model-meta classing the accelerators, as ipw
 * localcloud): the pairs, the per-accelerator pivot and the two classes'
 * best-of-N coverage. Runs on an accelerator the file does not class are
 * left out, and said.
 */
static int section_localcloud(struct report_ctx *c, struct buf *b)
{
	int *local = xcalloc(c->n + 1, sizeof(int));
	const char **model = xcalloc(c->n + 1, sizeof(char *)), **accel = xcalloc(c->n + 1, sizeof(char *));
	int classed = 0;

	buf_appends(b, "<h2 id=localcloud-section>Local against cloud</h2>\n");
	if (!c->have_meta) {
		buf_appends(b, "<p class=note>Not computed: the accelerators' classes (local or cloud) come from "
			    "--model-meta FILE.</p>\n");
		goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct model_meta *mm = run_meta(c, i, &local[i], &accel[i]);
		model[i] = mm ? mm->key : c->rs[i].row.model ? c->rs[i].row.model : c->ids[i];
		if (local[i] < 0)
			note(b, "Run %s left out: the metadata file does not class its accelerator local or cloud.",
			     c->ids[i]);
		else
			classed++;
	}
	if (!classed) {
		buf_appends(b, "<p class=note>The metadata file classes no run's accelerator.</p>\n");
		goto out;
	}
	buf_appends(b, "<p>The same model on a local and a cloud accelerator side by side, ratios cloud / local (the "
		    "paper's Tables 13&ndash;14); IPW and IPJ per model and accelerator; best-of-local against "
		    "best-of-cloud coverage over the runs of each class.</p>\n");
	lc_pairs(c, b, model, local);
	lc_pivot(c, b, model, accel, local);
	lc_cover(c, b, local);
out:
	free(local);
	free(model);
	free(accel);
	return 0;
}

/*
 * Repeated measurement (as ipw repeats): runs of one group (profile --repeat
 * N), or without a group of one model on one accelerator, are repeats; per
 * group of two or more, mean +- sample sigma across them beside the mean
 * half-width of the repeats' own intervals.
 */
static int section_repeats(struct report_ctx *c, struct buf *b)
{
	static const char *const name[] = {"accuracy", "IPW", "IPJ", "power"};
	static const char *const unit[] = {"", "/W", "/J", "W"};
	unsigned char *done = xcalloc(c->n + 1, 1);
	size_t *mem = xcalloc(c->n + 1, sizeof(size_t));
	double *v = xcalloc(c->n + 1, sizeof(double)), *h = xcalloc(c->n + 1, sizeof(double));
	int groups = 0;

	buf_appends(b, "<h2 id=repeats-section>Repeated measurement</h2>\n");
	for (size_t i = 0; i < c->n; i++) {
		size_t nm = 0;
		if (done[i])
			continue;
		for (size_t j = i; j < c->n; j++)
			if (!done[j] && !strcmp(c->rs[j].repeat_key, c->rs[i].repeat_key)) {
				mem[nm++] = j;
				done[j] = 1;
			}
		if (nm < 2)
			continue;
		if (!groups++)
			buf_appends(b, "<p>Runs of one group (<code>profile --repeat N</code>), or without a group of one "
				    "model on one accelerator, taken as repeats: mean &plusmn; sample &sigma; (n &minus; 1) "
				    "across them, CV = &sigma; / mean, beside the mean half-width of the repeats' own "
				    "intervals. A &sigma; well above that half-width says run-to-run variation matters more "
				    "than query sampling (<code>ipw repeats</code>).</p>\n<table id=repeats><thead><tr>"
				    "<th>repeats of</th><th>runs</th><th>metric</th><th>mean &plusmn; &sigma;</th><th>CV</th>"
				    "<th>mean interval half-width</th></tr></thead><tbody>\n");
		for (int k = 0; k < 4; k++) {
			double mean, sd, hm;
			size_t cnt;
			for (size_t j = 0; j < nm; j++) {
				const struct metrics *m = &c->rs[mem[j]].row.r.m;
				const struct metric_value *mv[] = {&m->accuracy, &m->ipw, &m->ipj, &m->power_w};
				v[j] = mv[k]->value;
				h[j] = (mv[k]->ci_high - mv[k]->ci_low) / 2;
			}
			analysis_mean_sd(v, nm, &mean, &sd, &cnt);
			analysis_mean_sd(h, nm, &hm, NULL, NULL);
			buf_appends(b, "<tr>");
			cell_s(b, c->rs[i].repeat_key);
			buf_appends(b, "<td>");
			for (size_t j = 0; j < nm; j++)
				buf_appendf(b, "%s%s", j ? ", " : "", c->ids[mem[j]]);
			buf_appendf(b, "</td><td>%s</td><td>", name[k]);
			if (k == 0 && isfinite(mean))
				buf_appendf(b, "%.1f%% &plusmn; %.1f%%", 100 * mean, 100 * sd);
			else if (k) {
				si(b, mean, unit[k]);
				buf_appends(b, " &plusmn; ");
				si(b, sd, unit[k]);
			} else
				buf_appends(b, "&ndash;");
			buf_appends(b, "</td>");
			if (isfinite(sd) && mean != 0)
				buf_appendf(b, "<td>%.3f</td>", sd / fabs(mean));
			else
				buf_appends(b, "<td>&ndash;</td>");
			if (k == 0)
				cell_pct(b, hm, NAN, NAN);
			else
				cell_si(b, hm, unit[k]);
			buf_appends(b, "</tr>\n");
		}
	}
	if (groups)
		buf_appends(b, "</tbody></table>\n");
	else
		buf_appends(b, "<p class=note>No repeats among the runs: two runs of one group, or of one model on "
			    "one accelerator, give mean &plusmn; &sigma; across repeats.</p>\n");
	free(done);
	free(mem);
	free(v);
	free(h);
	return 0;
}

/* Dollars with an SI prefix, "1.5 T USD [1.2 T, 1.8 T]". */
static void cell_usd(struct buf *b, struct metric_value v)
{
	char t[48], lo[48], hi[48], *sp;
	if (!isfinite(v.value)) {
		buf_appends(b, "<td>&ndash;</td>");
		return;
	}
	plot_format_si(t, sizeof(t), v.value, 4);
	if ((sp = strchr(t, ' ')))   /* "1.5 T": keep number, prefix and unit together */
		*sp = 0;
	buf_appendf(b, "<td>%s&nbsp;%s%sUSD", t, sp ? sp + 1 : "", sp ? "&nbsp;" : "");
	if (isfinite(v.ci_low) && isfinite(v.ci_high)) {
		plot_format_si(lo, sizeof(lo), v.ci_low, 4);
		plot_format_si(hi, sizeof(hi), v.ci_high, 4);
		buf_appendf(b, " <span class=ci>[%s, %s]</span>", lo, hi);
	}
	buf_appends(b, "</td>");
}

/*
 * GDP weighting (--weights, as ipw analyze): the normalised weighted
 * accuracy and the paper's form, the GDP answered right in USD and its share
 * of the file's total, beside the plain accuracy.
 */
static int section_gdp(struct report_ctx *c, struct buf *b)
{
	buf_appends(b, "<h2 id=gdp-section>GDP-weighted accuracy</h2>\n");
	if (!c->w) {
		buf_appends(b, "<p class=note>Not computed: give each subject's weight (its GDP in USD) with --weights "
			    "FILE (docs/analysis.md, \"GDP weights\").</p>\n");
		return 0;
	}
	buf_appendf(b, "<p>Weights from ");
	html_esc(b, c->o->weights);
	buf_appendf(b, " (%zu subjects). Normalised: &Sigma; w acc / &Sigma; w over the subjects the run has; GDP "
		    "answered right: &Sigma; w acc (the weights' unit, USD for GDP); share of GDP: that over the total of "
		    "every weight in the file (a subject the run lacks counts 0). Intervals: %s.</p>\n"
		    "<table id=gdp><thead><tr><th>run</th><th>accuracy</th><th>weighted accuracy</th>"
		    "<th>GDP answered right</th><th>share of GDP</th><th>subjects without a weight</th>"
		    "<th>weighted subjects absent</th></tr></thead><tbody>\n", c->nw,
		    c->ao.ci == AGG_CI_DELTA ? "none (the page's delta method has no form for the weighted sums)"
					     : "bootstrap within each subject");
	for (size_t i = 0; i < c->n; i++) {
		const struct run_sum *r = &c->rs[i];
		const struct metric_value *a = &r->row.r.m.accuracy;
		size_t nu = 0, na = 0;
		buf_appends(b, "<tr>");
		cell_s(b, r->label);
		cell_pct(b, a->value, a->ci_low, a->ci_high);
		if (!r->has_wr) {
			buf_appends(b, "<td colspan=5>");
			html_esc(b, r->wr_why ? r->wr_why : "not computed");
			buf_appends(b, "</td></tr>\n");
			continue;
		}
		while (r->wr.unweighted && r->wr.unweighted[nu])
			nu++;
		while (r->wr.absent && r->wr.absent[na])
			na++;
		cell_pct(b, r->wr.accuracy.value, r->wr.accuracy.ci_low, r->wr.accuracy.ci_high);
		cell_usd(b, r->wr.gdp_value);
		cell_pct(b, r->wr.gdp_share.value, r->wr.gdp_share.ci_low, r->wr.gdp_share.ci_high);
		buf_appendf(b, "<td>%zu</td><td>%zu</td></tr>\n", nu, na);
	}
	buf_appends(b, "</tbody></table>\n");
	return 0;
}

/* Every section after the per-run pass, in page order. */
/* A number with an SI prefix and no unit ("40 k", "200"), the space kept with it. */
static void si_plain(struct buf *b, double v)
{
	char t[48], *sp;
	if (!isfinite(v)) {
		buf_appends(b, "&ndash;");
		return;
	}
	plot_format_si(t, sizeof(t), v, 4);
	if ((sp = strchr(t, ' ')))
		*sp = 0;
	buf_appendf(b, "%s%s%s", t, sp ? "&nbsp;" : "", sp ? sp + 1 : "");
}

static void gdi_row(struct buf *b, const struct gdi_class *g, const char *kind)
{
	buf_appends(b, "<tr>");
	cell_s(b, g->name);
	buf_appendf(b, "<td>%s</td><td>", kind);
	si_plain(b, g->count);
	buf_appends(b, "</td>");
	cell_si(b, g->power_w, "W");
	buf_appendf(b, "<td>%.4g</td>", g->duty);
	cell_si(b, g->power_avail_w, "W");
	cell_si(b, g->ipw, "/W");
	if (g->ipw_run)
		buf_appendf(b, "<td>measured, run %s</td>", g->ipw_run);
	else
		buf_appends(b, "<td>given</td>");
	buf_appends(b, "<td>");
	si_plain(b, g->gdi);
	buf_appends(b, "</td></tr>\n");
}

/* --gdi SCENARIO.json: gross domestic intelligence as ipw gdi computes it, with every formula and assumption. */
static int section_gdi(struct report_ctx *c, struct buf *b)
{
	const struct gdi_scenario *g = &c->gdi;

	if (!c->have_gdi)
		return 0;
	buf_appends(b, "<h2 id=gdi-section>Gross domestic intelligence</h2>\n<p>Scenario ");
	html_esc(b, g->path);
	buf_appends(b, " (as <code>ipw gdi</code>): GDI = IPW &times; accessible power, per device class and for the "
		    "datacenter. A measured IPW is the named run's point estimate (accuracy / mean power per "
		    "query).</p>\n<table id=gdi><thead><tr><th>class</th><th>kind</th><th>count</th><th>power each</th>"
		    "<th>duty cycle</th><th>accessible power</th><th>IPW</th><th>IPW from</th><th>GDI</th></tr></thead>"
		    "<tbody>\n");
	for (size_t i = 0; i < g->ndev; i++)
		gdi_row(b, &g->dev[i], "local");
	buf_appends(b, "<tr><td>local devices, total</td><td>local</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td>");
	cell_si(b, g->power_local_w, "W");
	buf_appends(b, "<td>&ndash;</td><td>&ndash;</td><td>");
	si_plain(b, g->gdi_local);
	buf_appends(b, "</td></tr>\n");
	gdi_row(b, &g->dc, "datacenter");
	buf_appends(b, "</tbody></table>\n<p id=gdi-capacity>Effective capacity: without local devices ");
	si_plain(b, g->gdi_dc);
	buf_appends(b, ", with them ");
	si_plain(b, g->gdi_total);
	buf_appendf(b, ": %.3f&times;.</p>\n<p>Formulas:</p>\n<ul id=gdi-formulas>\n", g->factor);
	for (const char *const *f = gdi_formulas; *f; f++) {
		buf_appends(b, "<li>");
		html_esc(b, *f);
		buf_appends(b, "</li>\n");
	}
	buf_appends(b, "</ul>\n<p>Assumptions:</p>\n<ul id=gdi-assumptions>\n");
	for (const char *const *f = gdi_assumptions; *f; f++) {
		buf_appends(b, "<li>");
		html_esc(b, *f);
		buf_appends(b, "</li>\n");
	}
	buf_appends(b, "</ul>\n");
	return 0;
}

/* A number of a router summary, NAN when it is null (not measured or no such tier). */
static double rnum(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

static void cell_frac(struct buf *b, double v)
{
	cell_pct(b, v, NAN, NAN);
}

/*
 * Router runs (ipw route serve, recorded): what the routed requests cost and
 * spent against sending every one to the first cloud tier and to the first
 * local tier (the router's summary, src/router/acct.c), as ipw show gives it.
 */
static int section_router(struct report_ctx *c, struct buf *b)
{
	const char *method = NULL;
	int any = 0;
	struct metric_value v = {0};

	for (size_t i = 0; i < c->n; i++)
		any |= c->rs[i].router != NULL;
	if (!any)
		return 0;
	buf_appends(b, "<h2 id=router-section>Router runs: realised against all-cloud and all-local</h2>\n"
		    "<table id=router><thead><tr><th>run</th><th>requests</th><th>local</th><th>cloud</th>"
		    "<th>failed</th><th>cost</th><th>all-cloud cost</th><th>all-local cost</th>"
		    "<th>cost saved vs all-cloud</th><th>energy</th><th>of which measured</th>"
		    "<th>of which estimated</th><th>all-cloud energy</th><th>all-local energy</th>"
		    "<th>energy saved vs all-cloud</th><th>energy saved vs all-local</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < c->n; i++) {
		const json_t *s = c->rs[i].router;
		const char *hc, *hl;
		if (!s)
			continue;
		hc = json_string_value(json_object_get(s, "all_cloud_energy_method"));
		hl = json_string_value(json_object_get(s, "all_local_energy_method"));
		method = json_string_value(json_object_get(s, "method"));
		buf_appends(b, "<tr>");
		cell_s(b, c->rs[i].label);
		buf_appendf(b, "<td>%.0f</td><td>%.0f</td><td>%.0f</td><td>%.0f</td>", rnum(s, "requests"),
			    rnum(s, "local"), rnum(s, "cloud"), rnum(s, "failed"));
		v.ci_low = v.ci_high = NAN;
		v.value = rnum(s, "cost_usd");
		cell_usd(b, v);
		v.value = rnum(s, "all_cloud_cost_usd");
		cell_usd(b, v);
		v.value = rnum(s, "all_local_cost_usd");
		cell_usd(b, v);
		cell_frac(b, rnum(s, "saved_cost_vs_all_cloud"));
		cell_si(b, rnum(s, "energy_j"), "J");
		cell_si(b, rnum(s, "energy_measured_j"), "J");
		cell_si(b, rnum(s, "energy_estimated_j"), "J");
		buf_appends(b, "<td>");
		si(b, rnum(s, "all_cloud_energy_j"), "J");
		if (hc)
			buf_appendf(b, " <span class=ci>(%s)</span>", hc);
		buf_appends(b, "</td><td>");
		si(b, rnum(s, "all_local_energy_j"), "J");
		if (hl)
			buf_appendf(b, " <span class=ci>(%s)</span>", hl);
		buf_appends(b, "</td>");
		cell_frac(b, rnum(s, "saved_energy_vs_all_cloud"));
		cell_frac(b, rnum(s, "saved_energy_vs_all_local"));
		buf_appends(b, "</tr>\n");
	}
	buf_appends(b, "</tbody></table>\n");
	if (method)
		note(b, "How: %s. A dash: not measured, or the router has no such tier "
		     "(docs/router.md, \"Accounting\").", method);
	return 0;
}

static int sections(struct report_ctx *c, struct buf *b, char *err, size_t errlen)
{
	if (section_compare(c, b, err, errlen) < 0 || section_device(c, b) < 0 || section_perplexity(c, b) < 0 ||
	    section_subject_ipw(c, b, err, errlen) < 0 || section_ranks(c, b, err, errlen) < 0 ||
	    section_coverage(c->s, c->o, c->ids, c->rs, c->n, b, err, errlen) < 0 ||
	    section_levels(c, b) < 0 || section_trends(c, b, err, errlen) < 0 ||
	    section_localcloud(c, b) < 0 || section_repeats(c, b) < 0 || section_gdp(c, b) < 0 ||
	    section_gdi(c, b) < 0 || section_router(c, b) < 0 ||
	    section_routing(c->s, c->o, c->ids, c->n, b, err, errlen) < 0)
		return -1;
	buf_append(b, c->reg.data, c->reg.len);
	if (plot_energy_tokens(b, c->rs, c->n, c->o->out_dir, err, errlen) < 0)
		return -1;
	if (c->n > 1)
		table_attribution(b, &c->attr, c->rs, c->o, c->ao.ci == AGG_CI_DELTA);
	buf_append(b, c->tl.data, c->tl.len);
	return 0;
}

static int write_page(const char *dir, const struct buf *b, char *err, size_t errlen)
{
	char *path = xasprintf("%s/index.html", dir);
	FILE *f = fopen(path, "w");
	int rc = -1;

	if (!f || fwrite(b->data, 1, b->len, f) != b->len) {
		err_set(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		if (f)
			fclose(f);
	} else if (fclose(f) != 0) {
		err_set(err, errlen, "cannot write '%s': %s", path, strerror(errno));
	} else {
		rc = 0;
	}
	free(path);
	return rc;
}

static void ctx_release(struct report_ctx *c)
{
	if (c->have_base)
		run_data_release(&c->base);
	for (size_t i = 0; c->rs && i < c->n; i++) {
		agg_compare_release(&c->rs[i].row);
		free(c->rs[i].id);
		free(c->rs[i].label);
		free(c->rs[i].repeat_key);
		free(c->rs[i].wr_why);
		if (c->rs[i].has_wr)
			weighted_result_release(&c->rs[i].wr);
		free(c->rs[i].sx);
		free(c->rs[i].sy);
		for (size_t k = 0; k < c->rs[i].nsubj; k++)
			free(c->rs[i].subj[k]);
		free(c->rs[i].subj);
		free(c->rs[i].subj_ipw);
		json_decref(c->rs[i].router);
	}
	free(c->rs);
	if (c->ids)
		free_list(c->ids);
	buf_release(&c->reg);
	buf_release(&c->attr);
	buf_release(&c->tl);
	if (c->have_meta)
		meta_release(&c->mf);
	weights_free(c->w, c->nw);
	if (c->have_gdi)
		gdi_release(&c->gdi);
}

int report_write(struct store *s, const struct report_options *o, char *err, size_t errlen)
{
	struct report_ctx c;
	struct buf b;
	long long most = 0;
	int rc;

	memset(&c, 0, sizeof(c));
	if (o->nruns == 0)
		return err_set(err, errlen, "the report needs at least one run");
	if ((rc = analysis_resolve_runs(s, o->runs, o->nruns, &c.ids, err, errlen)) < 0)
		return rc;
	if (mkdir(o->out_dir, 0777) < 0 && errno != EEXIST) {
		err_set(err, errlen, "cannot create the folder '%s': %s", o->out_dir, strerror(errno));
		free_list(c.ids);
		return -1;
	}
	c.s = s, c.o = o, c.n = o->nruns;
	c.rs = xcalloc(c.n, sizeof(*c.rs));
	agg_options_init(&c.ao);
	c.ao.m.bootstrap = o->bootstrap;
	c.ao.m.seed = o->seed;
	buf_init(&b, 0);
	buf_init(&c.reg, 0);
	buf_init(&c.attr, 0);
	buf_init(&c.tl, 0);
	if (o->model_meta) {
		if (meta_read(o->model_meta, &c.mf, err, errlen) < 0) {
			rc = -1;
			goto out;
		}
		c.have_meta = 1;
	}
	if (o->weights && analysis_weights_read(o->weights, &c.w, &c.nw, err, errlen) < 0) {
		rc = -1;
		goto out;
	}
	if (o->gdi) {
		if (gdi_read(o->gdi, &c.gdi, err, errlen) < 0) {
			gdi_release(&c.gdi);
			rc = -1;
			goto out;
		}
		c.have_gdi = 1;
		if (gdi_fill_measured(s, &c.gdi, err, errlen) < 0) {
			rc = -1;
			goto out;
		}
		gdi_compute(&c.gdi);
	}
	if (analysis_figure_ci(s, c.ids, c.n, (enum agg_ci)o->ci, &c.ao.ci, &most, err, errlen) < 0) {
		rc = -1;
		goto out;
	}
	page_head(&b, o, c.n, c.ao.ci, most);
	estimated_note(&b, &c);
	buf_appends(&c.reg, "<h2 id=regression-section>Regressions on token counts</h2>\n<table id=regressions>"
		    "<thead><tr><th>run</th><th>model</th><th>n</th><th>R&sup2;</th><th>intercept</th>"
		    "<th>slopes (per token)</th></tr></thead><tbody>\n");
	buf_appends(&c.tl, "<h2 id=timeline-section>Power timelines</h2>\n");
	rc = -1;
	for (size_t i = 0; i < c.n; i++)
		if (load_run(&c, i, err, errlen) < 0)
			goto out;
	if ((int)c.n > o->max_timelines)
		buf_appendf(&c.tl, "<p class=note>Timelines of the first %d runs only.</p>\n", o->max_timelines);
	buf_appends(&c.reg, "</tbody></table>\n");
	if (sections(&c, &b, err, errlen) < 0)
		goto out;
	buf_appends(&b, "</body></html>\n");
	rc = write_page(o->out_dir, &b, err, errlen);
out:
	ctx_release(&c);
	buf_release(&b);
	return rc;
}
