/*
 * cmd/trends.c - 'ipw trends RUN... --model-meta FILE': the paper's trend
 * analysis over model release dates. Runs are grouped by their model's
 * release period; per period: the best run by IPW (the paper's Table 2: best
 * model on the best accelerator), its accuracy, IPW and IPJ, best-of-period
 * coverage, and the IPW change from the previous period's best factored
 * into accuracy (the model) and power (the hardware); a last row does the
 * same from the first period to the last. One table, every format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "analysis.h"
#include "analysis/paper.h"
#include "common.h"
#include "common_opts.h"
#include "paper_runs.h"
#include "store.h"
#include "util.h"

struct trends_args {
	struct cmd_common cc;
	const char *meta, *period, *cls;
	int intersect;
	struct metrics_options mo;
	enum agg_ci ci;        /* --ci; AGG_CI_AUTO (0) by default */
};

#define A(f) offsetof(struct trends_args, f)
static const struct opt_def trends_opts[] = {
	CMD_OPTDEFS_COMMON(struct trends_args, cc),
	{"model-meta", 0, OPT_STRING, A(meta), "FILE", "model metadata: each run's release date (docs/analysis.md)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"period", 0, OPT_STRING, A(period), "year|half|quarter", "release periods (default year)", NULL, 0, 0, 0, NULL,
	 NULL, NULL},
	{"class", 0, OPT_STRING, A(cls), "local|cloud|all", "only runs on accelerators of this class (the file's\n"
	 "accelerator 'class'; default all)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"intersect", 0, OPT_FLAG, A(intersect), NULL, "coverage over the items every run of a period has", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"bootstrap", 0, OPT_INT, A(mo.bootstrap), "N", "resamples for the intervals (default 2000; 0 = none)", NULL, 0,
	 1e9, OPT_BOUNDED, NULL, "a count >= 0", NULL},
	{"seed", 0, OPT_ULL, A(mo.seed), "N", "seed of the resampling", NULL, 0, 0, 0, NULL, NULL, &cmd_seed_hooks},
	PAPER_OPTDEF_CI(struct trends_args, ci),
};
#define NOPTS (sizeof(trends_opts) / sizeof(trends_opts[0]))

static const struct tcol cols[] = {
	{"period", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"runs", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"best_run", "BEST", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"name", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"model", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"accelerator", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"accuracy", NULL, NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"ipw", "IPW", "1/W", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"ipw_ci_low", NULL, "1/W", TCOL_REAL, NULL, TCOL_DATA},
	{"ipw_ci_high", NULL, "1/W", TCOL_REAL, NULL, TCOL_DATA},
	{"ipj", "IPJ", "1/J", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"power_w", "POWER_W", "W", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"coverage", "COVERAGE", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"ipw_ratio", "IPW_X", NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"accuracy_factor", "ACC_X", NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"power_factor", "POWER_X", NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"ipw_ratio_ci_low", NULL, NULL, TCOL_REAL, NULL, TCOL_DATA},
	{"ipw_ratio_ci_high", NULL, NULL, TCOL_REAL, NULL, TCOL_DATA},
	{"accuracy_factor_ci_low", NULL, NULL, TCOL_REAL, NULL, TCOL_DATA},
	{"accuracy_factor_ci_high", NULL, NULL, TCOL_REAL, NULL, TCOL_DATA},
	{"power_factor_ci_low", NULL, NULL, TCOL_REAL, NULL, TCOL_DATA},
	{"power_factor_ci_high", NULL, NULL, TCOL_REAL, NULL, TCOL_DATA},
	{"ipw_ratio_ci", "IPW_X_CI", NULL, TCOL_STR, NULL, TCOL_TEXT | TCOL_RIGHT},
	{"accuracy_factor_ci", "ACC_X_CI", NULL, TCOL_STR, NULL, TCOL_TEXT | TCOL_RIGHT},
	{"power_factor_ci", "POWER_X_CI", NULL, TCOL_STR, NULL, TCOL_TEXT | TCOL_RIGHT},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw trends RUN... --model-meta FILE [--period year|half|quarter] [--class local|cloud|all]\n"
		"                  [--intersect] [--bootstrap N] [--seed N] [--ci METHOD] [--store PATH] [--format F]\n"
		"  per release period: the best run by IPW, its accuracy, IPW, IPJ, power, best-of-period coverage,\n"
		"  and IPW_X = ACC_X x POWER_X against the previous period's best (last row: first to last), each\n"
		"  factor with its 95%% interval (the table's one method, --ci).\n");
	opt_usage(f, trends_opts, NOPTS);
}

/* Which runs the file dates (and the class filter keeps) into which[], with their periods; count, or -1 (said). */
static long select_runs(const struct trends_args *a, enum trend_period per, const struct paper_runs *p,
			size_t *which, char (*period)[40])
{
	long k = 0;
	for (size_t i = 0; i < p->n; i++) {
		const struct run_record *r = &p->runs[i];
		const struct model_meta *mm = meta_model_of(&p->mf, r);
		const struct accel_meta *am;
		const char *accel;
		int cnt;
		if (!mm || !mm->rel_year) {
			fprintf(stderr, "ipw trends: %s gives no release date for run %s (name '%s', model '%s')\n",
				p->mf.path, r->id, r->name ? r->name : "", r->model ? r->model : "");
			return -1;
		}
		accel = meta_run_accelerator(r, &cnt);
		am = meta_accel_find(&p->mf, accel);
		if (strcmp(a->cls, "all") && !(am && am->local == !strcmp(a->cls, "local"))) {
			fprintf(stderr, "ipw trends: run %s left out: its accelerator (%s) is not of class %s in %s\n",
				r->id, accel ? accel : "none", a->cls, p->mf.path);
			continue;
		}
		if (trend_period_of(mm, per, period[k], sizeof(period[k])) < 0) {
			fprintf(stderr, "ipw trends: run %s: released '%s' has no month for --period %s\n", r->id,
				mm->released, a->period);
			return -1;
		}
		which[k++] = i;
	}
	return k;
}

/* "[lo, hi]" of v (text only), NULL when there is none. */
static void ci_cell(struct table *t, const struct metric_value *v)
{
	char b[64];
	if (!v || !isfinite(v->ci_low) || !isfinite(v->ci_high)) {
		table_str(t, NULL);
		return;
	}
	snprintf(b, sizeof(b), "[%.3f, %.3f]", v->ci_low, v->ci_high);
	table_str(t, b);
}

/* One row of the table. */
static void emit(struct table *t, const struct paper_runs *p, const struct trend_row *w)
{
	const struct run_record *r = w->best >= 0 ? &p->runs[w->best] : NULL;
	const struct metrics *m = r ? &p->r[w->best].m : NULL;
	const struct attribution *at = w->has_factor ? &w->at : NULL;
	int cnt;
	table_str(t, w->period);
	table_count(t, w->nruns ? (long long)w->nruns : -1);
	table_str(t, r ? r->id : NULL);
	table_str(t, r ? r->name : NULL);
	table_str(t, r ? r->model : NULL);
	table_str(t, r ? meta_run_accelerator(r, &cnt) : NULL);
	table_real(t, m ? m->accuracy.value : NAN);
	table_real(t, m ? m->ipw.value : NAN);
	table_real(t, m ? m->ipw.ci_low : NAN);
	table_real(t, m ? m->ipw.ci_high : NAN);
	table_real(t, m ? m->ipj.value : NAN);
	table_real(t, m ? m->power_w.value : NAN);
	table_real(t, w->coverage);
	table_real(t, at ? at->ipw_ratio.value : NAN);
	table_real(t, at ? at->acc_factor.value : NAN);
	table_real(t, at ? at->power_factor.value : NAN);
	table_real(t, at ? at->ipw_ratio.ci_low : NAN);
	table_real(t, at ? at->ipw_ratio.ci_high : NAN);
	table_real(t, at ? at->acc_factor.ci_low : NAN);
	table_real(t, at ? at->acc_factor.ci_high : NAN);
	table_real(t, at ? at->power_factor.ci_low : NAN);
	table_real(t, at ? at->power_factor.ci_high : NAN);
	ci_cell(t, at ? &at->ipw_ratio : NULL);
	ci_cell(t, at ? &at->acc_factor : NULL);
	ci_cell(t, at ? &at->power_factor : NULL);
	table_end_row(t);
}

int cmd_trends(int argc, char **argv)
{
	struct trends_args a;
	struct paper_runs p;
	struct trend_result tr;
	struct table t;
	struct agg_options ao;
	char err[IPW_ERRLEN], (*period)[40] = NULL;
	const char **plabel = NULL;
	const struct metrics **m = NULL;
	char **sel = NULL;
	size_t *which = NULL;
	long k = 0;
	int rc, first = 0, tinit = 0, per;

	memset(&a, 0, sizeof(a));
	memset(&p, 0, sizeof(p));
	memset(&tr, 0, sizeof(tr));
	metrics_options_init(&a.mo);
	a.period = "year";
	a.cls = "all";
	cmd_common_init(&a.cc, "trends", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, trends_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	rc = EXIT_USAGE;
	if (first >= argc || !a.meta) {
		fprintf(stderr, "ipw trends: name the runs and the metadata file (--model-meta FILE)\n");
		goto out;
	}
	if ((per = trend_period_parse(a.period)) < 0) {
		fprintf(stderr, "ipw trends: --period is year, half or quarter\n");
		goto out;
	}
	if (strcmp(a.cls, "all") && strcmp(a.cls, "local") && strcmp(a.cls, "cloud")) {
		fprintf(stderr, "ipw trends: --class is local, cloud or all\n");
		goto out;
	}
	if ((rc = paper_runs_open(&p, &a.cc, a.meta, argv + first, (size_t)(argc - first))))
		goto out;
	which = xcalloc(p.n + 1, sizeof(*which));
	period = xcalloc(p.n + 1, sizeof(*period));
	rc = EXIT_INPUT;
	if ((k = select_runs(&a, (enum trend_period)per, &p, which, period)) < 0)
		goto out;
	agg_options_init(&ao);
	ao.m = a.mo;
	ao.ci = a.ci;
	if ((rc = paper_runs_aggregate(&p, &a.cc, which, (size_t)k, &ao)))
		goto out;
	sel = xcalloc((size_t)k + 1, sizeof(*sel));
	plabel = xcalloc((size_t)k + 1, sizeof(*plabel));
	m = xcalloc((size_t)k + 1, sizeof(*m));
	for (long j = 0; j < k; j++) {
		sel[j] = p.ids[which[j]];
		plabel[j] = period[j];
		m[j] = &p.r[which[j]].m;
	}
	rc = EXIT_INPUT;
	if (analysis_trends(&p.st, sel, plabel, m, (size_t)k, a.intersect, &a.mo, p.ci == AGG_CI_DELTA, &tr, err,
			    sizeof(err)) < 0) {
		fprintf(stderr, "ipw trends: %s\n", err);
		goto out;
	}
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	tinit = 1;
	for (size_t i = 0; i < tr.nrows; i++) {
		struct trend_row w = tr.rows[i];
		if (w.best >= 0)
			w.best = (long)which[w.best];   /* back to an index of p.runs */
		if (w.why)
			fprintf(stderr, "ipw trends: period %s: no coverage: %s\n", w.period, w.why);
		emit(&t, &p, &w);
	}
	rc = table_finish(&t) < 0 ? EXIT_ENV : 0;
	if (rc == 0 && a.cc.format == OUT_TEXT)
		printf("best = the period's run with the highest IPW; IPW_X = ACC_X x POWER_X (accuracy over queries with "
		       "energy, the model's part; power A/B, the hardware's) against the previous period's best; "
		       "coverage: best-of-period; intervals: %s (95%%; *_CI: the factors'; data formats: ipw_ci_*, "
		       "ipw_ratio_ci_*, accuracy_factor_ci_*, power_factor_ci_*)\n",
		       paper_ci_words(p.ci));
	if (fflush(stdout))
		rc = EXIT_ENV;
out:
	if (rc == EXIT_USAGE)
		usage(stderr);
	if (tinit)
		table_release(&t);
	trend_result_release(&tr);
	free(sel);
	free(plabel);
	free(m);
	free(which);
	free(period);
	paper_runs_release(&p);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
