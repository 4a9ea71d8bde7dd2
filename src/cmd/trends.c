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
#include "store.h"
#include "util.h"

struct trends_args {
	struct cmd_common cc;
	const char *meta, *period, *cls;
	int intersect;
	struct metrics_options mo;
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
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw trends RUN... --model-meta FILE [--period year|half|quarter] [--class local|cloud|all]\n"
		"                  [--intersect] [--bootstrap N] [--seed N] [--store PATH] [--format F]\n"
		"  per release period: the best run by IPW, its accuracy, IPW, IPJ, power, best-of-period coverage,\n"
		"  and IPW_X = ACC_X x POWER_X against the previous period's best (last row: first to last).\n");
	opt_usage(f, trends_opts, NOPTS);
}

/* One run as the trend sees it. */
struct trun {
	size_t i;              /* index into runs */
	char period[40];
	const char *accel;
	struct agg_result r;
};

static int by_period(const void *a, const void *b)
{
	const struct trun *x = a, *y = b;
	int c = strcmp(x->period, y->period);
	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* The period of a model's release; 0, or -1 when the date is too coarse (said). */
static int period_of(const struct model_meta *mm, const char *how, char *out, size_t n)
{
	if (!strcmp(how, "year"))
		return snprintf(out, n, "%04d", mm->rel_year), 0;
	if (!mm->rel_month)
		return -1;
	if (!strcmp(how, "half"))
		snprintf(out, n, "%04d-H%d", mm->rel_year, mm->rel_month <= 6 ? 1 : 2);
	else
		snprintf(out, n, "%04d-Q%d", mm->rel_year, (mm->rel_month + 2) / 3);
	return 0;
}

/* Best-of-period coverage over ids[0..n); NAN with a note on stderr when the runs differ in items. */
static double period_coverage(struct store *st, char **ids, size_t n, int intersect, const char *period)
{
	char err[IPW_ERRLEN];
	struct coverage_result c;
	double v;
	if (analysis_coverage(st, (const char *const *)ids, n, intersect, NULL, NULL, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw trends: period %s: no coverage: %s\n", period, err);
		return NAN;
	}
	v = coverage_value(&c.best);
	coverage_result_release(&c);
	return v;
}

/* IPW_B / IPW_A factored, between runs a and b; 0 or EXIT_INPUT (said). */
static int factor(struct store *st, const char *a, const char *b, const struct metrics_options *mo,
		  struct attribution *at)
{
	char err[IPW_ERRLEN];
	struct run_data da, db;
	int rc = EXIT_INPUT;
	if (run_data_load(st, a, &da, err, sizeof(err)) < 0)
		goto say;
	if (run_data_load(st, b, &db, err, sizeof(err)) < 0) {
		run_data_release(&da);
		goto say;
	}
	rc = analysis_attribute(&da, &db, mo, at, err, sizeof(err)) < 0 ? EXIT_INPUT : 0;
	run_data_release(&da);
	run_data_release(&db);
	if (rc == 0)
		return 0;
say:
	fprintf(stderr, "ipw trends: %s\n", err);
	return EXIT_INPUT;
}

static void emit(struct table *t, const char *period, long long nruns, const struct run_record *r, const struct trun *b,
		 double cov, const struct attribution *at)
{
	const struct metrics *m = b ? &b->r.m : NULL;
	table_str(t, period);
	table_count(t, nruns);
	table_str(t, r ? r->id : NULL);
	table_str(t, r ? r->name : NULL);
	table_str(t, r ? r->model : NULL);
	table_str(t, b ? b->accel : NULL);
	table_real(t, m ? m->accuracy.value : NAN);
	table_real(t, m ? m->ipw.value : NAN);
	table_real(t, m ? m->ipw.ci_low : NAN);
	table_real(t, m ? m->ipw.ci_high : NAN);
	table_real(t, m ? m->ipj.value : NAN);
	table_real(t, m ? m->power_w.value : NAN);
	table_real(t, cov);
	table_real(t, at ? at->ipw_ratio.value : NAN);
	table_real(t, at ? at->acc_factor.value : NAN);
	table_real(t, at ? at->power_factor.value : NAN);
	table_real(t, at ? at->ipw_ratio.ci_low : NAN);
	table_real(t, at ? at->ipw_ratio.ci_high : NAN);
	table_end_row(t);
}

/* Runs the file dates (and the class filter keeps) into tr; their count, or -1 (said). */
static long select_runs(const struct trends_args *a, const struct meta_file *mf, const struct run_record *runs,
			size_t n, struct trun *tr)
{
	long k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct model_meta *mm = meta_model_of(mf, &runs[i]);
		const struct accel_meta *am;
		int cnt;
		if (!mm || !mm->rel_year) {
			fprintf(stderr, "ipw trends: %s gives no release date for run %s (name '%s', model '%s')\n",
				mf->path, runs[i].id, runs[i].name ? runs[i].name : "", runs[i].model ? runs[i].model : "");
			return -1;
		}
		tr[k].i = i;
		tr[k].accel = meta_run_accelerator(&runs[i], &cnt);
		am = meta_accel_find(mf, tr[k].accel);
		if (strcmp(a->cls, "all") && !(am && am->local == !strcmp(a->cls, "local"))) {
			fprintf(stderr, "ipw trends: run %s left out: its accelerator (%s) is not of class %s in %s\n",
				runs[i].id, tr[k].accel ? tr[k].accel : "none", a->cls, mf->path);
			continue;
		}
		if (period_of(mm, a->period, tr[k].period, sizeof(tr[k].period)) < 0) {
			fprintf(stderr, "ipw trends: run %s: released '%s' has no month for --period %s\n", runs[i].id,
				mm->released, a->period);
			return -1;
		}
		k++;
	}
	return k;
}

/* The table over the selected runs (sorted by period); 0 or an exit status (said). */
static int trends(struct store *st, const struct trends_args *a, const struct run_record *runs, struct trun *tr,
		  size_t k, struct table *t)
{
	long first_best = -1, prev_best = -1;
	int rc = 0;

	for (size_t s = 0; s < k && rc == 0;) {
		size_t e = s;
		long best = -1;
		char **ids;
		double cov;
		struct attribution at;
		int have = 0;
		while (e < k && !strcmp(tr[e].period, tr[s].period))
			e++;
		ids = xcalloc(e - s + 1, sizeof(*ids));
		for (size_t j = s; j < e; j++) {
			ids[j - s] = runs[tr[j].i].id;
			if (isfinite(tr[j].r.m.ipw.value) && (best < 0 || tr[j].r.m.ipw.value > tr[best].r.m.ipw.value))
				best = (long)j;
		}
		cov = period_coverage(st, ids, e - s, a->intersect, tr[s].period);
		free(ids);
		if (best >= 0 && prev_best >= 0) {
			if ((rc = factor(st, runs[tr[prev_best].i].id, runs[tr[best].i].id, &a->mo, &at)))
				break;
			have = 1;
		}
		emit(t, tr[s].period, (long long)(e - s), best >= 0 ? &runs[tr[best].i] : NULL, best >= 0 ? &tr[best] : NULL,
		     cov, have ? &at : NULL);
		if (best >= 0) {
			prev_best = best;
			if (first_best < 0)
				first_best = best;
		}
		s = e;
	}
	if (rc == 0 && first_best >= 0 && prev_best >= 0 && strcmp(tr[first_best].period, tr[prev_best].period)) {
		struct attribution at;
		char span[96];
		if ((rc = factor(st, runs[tr[first_best].i].id, runs[tr[prev_best].i].id, &a->mo, &at)))
			return rc;
		snprintf(span, sizeof(span), "%s->%s", tr[first_best].period, tr[prev_best].period);
		emit(t, span, -1, NULL, NULL, NAN, &at);
	}
	return rc;
}

int cmd_trends(int argc, char **argv)
{
	struct trends_args a;
	struct meta_file mf;
	struct store st;
	struct run_record *runs = NULL;
	struct trun *tr = NULL;
	struct table t;
	struct agg_options ao;
	char err[IPW_ERRLEN], **ids = NULL, **sel = NULL;
	size_t n = 0;
	long k = 0;
	int rc, first = 0, opened = 0, tinit = 0;

	memset(&a, 0, sizeof(a));
	memset(&mf, 0, sizeof(mf));
	metrics_options_init(&a.mo);
	a.period = "year";
	a.cls = "all";
	cmd_common_init(&a.cc, "trends", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, trends_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	n = (size_t)(argc - first);
	rc = EXIT_USAGE;
	if (!n || !a.meta) {
		fprintf(stderr, "ipw trends: name the runs and the metadata file (--model-meta FILE)\n");
		goto out;
	}
	if (strcmp(a.period, "year") && strcmp(a.period, "half") && strcmp(a.period, "quarter")) {
		fprintf(stderr, "ipw trends: --period is year, half or quarter\n");
		goto out;
	}
	if (strcmp(a.cls, "all") && strcmp(a.cls, "local") && strcmp(a.cls, "cloud")) {
		fprintf(stderr, "ipw trends: --class is local, cloud or all\n");
		goto out;
	}
	rc = EXIT_INPUT;
	if (meta_read(a.meta, &mf, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw trends: %s\n", err);
		goto out;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	tr = xcalloc(n, sizeof(*tr));
	rc = EXIT_INPUT;
	if ((k = select_runs(&a, &mf, runs, n, tr)) < 0)
		goto out;
	qsort(tr, (size_t)k, sizeof(*tr), by_period);
	agg_options_init(&ao);
	ao.m = a.mo;
	sel = xcalloc((size_t)k + 1, sizeof(*sel));
	for (long j = 0; j < k; j++)
		sel[j] = runs[tr[j].i].id;
	if (analysis_figure_ci(&st, sel, (size_t)k, AGG_CI_AUTO, &ao.ci, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw trends: %s\n", err);
		goto out;
	}
	if (ao.ci == AGG_CI_DELTA)
		a.mo.bootstrap = 0;   /* attribution has no delta method: point estimates for the factors */
	for (long j = 0; j < k; j++)
		if (agg_run(&st, runs[tr[j].i].id, AGG_LOAD_ITEMS, &ao, &tr[j].r, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw trends: %s\n", err);
			goto out;
		}
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	tinit = 1;
	if ((rc = trends(&st, &a, runs, tr, (size_t)k, &t)))
		goto out;
	rc = table_finish(&t) < 0 ? EXIT_ENV : 0;
	if (rc == 0 && a.cc.format == OUT_TEXT)
		printf("best = the period's run with the highest IPW; IPW_X = ACC_X x POWER_X (accuracy over queries with "
		       "energy, the model's part; power A/B, the hardware's) against the previous period's best; "
		       "coverage: best-of-period; intervals: %s\n", ao.ci == AGG_CI_DELTA ? "delta method (metrics), "
		       "none for the factors" : "bootstrap over queries (data formats: ipw_ci_*, ipw_ratio_ci_*)");
	if (fflush(stdout))
		rc = EXIT_ENV;
out:
	if (rc == EXIT_USAGE)
		usage(stderr);
	if (tinit)
		table_release(&t);
	for (long j = 0; tr && j < k; j++)
		agg_result_release(&tr[j].r);
	free(tr);
	free(sel);
	cmd_runs_free(runs, ids, n);
	meta_release(&mf);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
