/*
 * cmd/localcloud.c - 'ipw localcloud RUN... --model-meta FILE': the paper's
 * local-against-cloud tables. The metadata file classes each accelerator
 * local or cloud. Rows: 'pair', the same model on a local and a cloud
 * accelerator side by side with cloud/local ratios (the paper's Tables
 * 13-14); 'cell', the per-accelerator IPW/IPJ pivot in long form (model x
 * accelerator); 'coverage', best-of-local against best-of-cloud coverage,
 * overall and per subject. One table, every format.
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

struct lc_args {
	struct cmd_common cc;
	const char *meta;
	int intersect;
	struct agg_options ao;
};

#define A(f) offsetof(struct lc_args, f)
static const struct opt_def lc_opts[] = {
	CMD_OPTDEFS_COMMON(struct lc_args, cc),
	{"model-meta", 0, OPT_STRING, A(meta), "FILE", "model metadata with each accelerator's class (local|cloud)", NULL,
	 0, 0, 0, NULL, NULL, NULL},
	{"intersect", 0, OPT_FLAG, A(intersect), NULL, "coverage over the items every run has", NULL, 0, 0, 0, NULL,
	 NULL, NULL},
	{"bootstrap", 0, OPT_INT, A(ao.m.bootstrap), "N", "resamples for the intervals (default 2000)", NULL, 0, 1e9,
	 OPT_BOUNDED, NULL, "a count >= 0", NULL},
};
#define NOPTS (sizeof(lc_opts) / sizeof(lc_opts[0]))

static const struct tcol cols[] = {
	{"kind", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"key", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"local_run", "LOCAL", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"local_accelerator", "LOCAL_ACCEL", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"cloud_run", "CLOUD", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"cloud_accelerator", "CLOUD_ACCEL", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"local_accuracy", "L_ACC", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"cloud_accuracy", "C_ACC", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"local_ipw", "L_IPW", "1/W", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"cloud_ipw", "C_IPW", "1/W", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"ipw_ratio", "IPW_C/L", NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"local_ipj", "L_IPJ", "1/J", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"cloud_ipj", "C_IPJ", "1/J", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"ipj_ratio", "IPJ_C/L", NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"local_coverage", "L_COV", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"cloud_coverage", "C_COV", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw localcloud RUN... --model-meta FILE [--intersect] [--bootstrap N] [--store PATH]\n"
		"                      [--format text|json|csv|jsonl]\n"
		"  rows: pair (a model on a local and a cloud accelerator, ratios cloud / local), cell (IPW and\n"
		"  IPJ per model and accelerator, in the local or cloud columns by its class), coverage\n"
		"  (best-of-local against best-of-cloud, all subjects then each).\n");
	opt_usage(f, lc_opts, NOPTS);
}

struct lrun {
	const char *model;    /* the metadata key, else the run's model */
	const char *accel;
	int local;
	struct agg_result r;
};

static double ratio(double c, double l)
{
	return isfinite(c) && isfinite(l) && l > 0 ? c / l : NAN;
}

/* One row; l or c NULL leaves its side empty. */
static void emit(struct table *t, const char *kind, const char *key, const struct run_record *rl,
		 const struct lrun *l, const struct run_record *rc, const struct lrun *c, double lcov, double ccov)
{
	const struct metrics *ml = l ? &l->r.m : NULL, *mc = c ? &c->r.m : NULL;
	table_str(t, kind);
	table_str(t, key);
	table_str(t, rl ? rl->id : NULL);
	table_str(t, l ? l->accel : NULL);
	table_str(t, rc ? rc->id : NULL);
	table_str(t, c ? c->accel : NULL);
	table_real(t, ml ? ml->accuracy.value : NAN);
	table_real(t, mc ? mc->accuracy.value : NAN);
	table_real(t, ml ? ml->ipw.value : NAN);
	table_real(t, mc ? mc->ipw.value : NAN);
	table_real(t, ml && mc ? ratio(mc->ipw.value, ml->ipw.value) : NAN);
	table_real(t, ml ? ml->ipj.value : NAN);
	table_real(t, mc ? mc->ipj.value : NAN);
	table_real(t, ml && mc ? ratio(mc->ipj.value, ml->ipj.value) : NAN);
	table_real(t, lcov);
	table_real(t, ccov);
	table_end_row(t);
}

/* Best-of coverage of one class; fills *cov (overall) and the result. 0, or 1 when not computable (said). */
static int class_coverage(struct store *st, char **ids, size_t n, int intersect, struct coverage_result *c,
			  const char *what)
{
	char err[IPW_ERRLEN];
	if (!n)
		return 1;
	if (analysis_coverage(st, (const char *const *)ids, n, intersect, NULL, NULL, c, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw localcloud: no %s coverage: %s\n", what, err);
		return 1;
	}
	return 0;
}

static double subj_cov(const struct coverage_result *c, const char *subject)
{
	for (size_t i = 0; i < c->nsubj; i++)
		if (!strcmp(c->subj[i].subject, subject))
			return coverage_value(&c->subj[i].best);
	return NAN;
}

static void coverage_rows(struct table *t, struct store *st, const struct run_record *runs, const struct lrun *lr,
			  size_t n, int intersect)
{
	char **li = xcalloc(n + 1, sizeof(char *)), **ci = xcalloc(n + 1, sizeof(char *));
	size_t nl = 0, nc = 0;
	struct coverage_result L, C;
	int lok, cok;

	for (size_t i = 0; i < n; i++)
		if (lr[i].local)
			li[nl++] = runs[i].id;
		else
			ci[nc++] = runs[i].id;
	lok = class_coverage(st, li, nl, intersect, &L, "best-of-local") == 0;
	cok = class_coverage(st, ci, nc, intersect, &C, "best-of-cloud") == 0;
	emit(t, "coverage", "", NULL, NULL, NULL, NULL, lok ? coverage_value(&L.best) : NAN,
	     cok ? coverage_value(&C.best) : NAN);
	if (lok)
		for (size_t s = 0; s < L.nsubj; s++)
			emit(t, "coverage", L.subj[s].subject, NULL, NULL, NULL, NULL, coverage_value(&L.subj[s].best),
			     cok ? subj_cov(&C, L.subj[s].subject) : NAN);
	if (lok)
		coverage_result_release(&L);
	if (cok)
		coverage_result_release(&C);
	free(li);
	free(ci);
}

int cmd_localcloud(int argc, char **argv)
{
	struct lc_args a;
	struct meta_file mf;
	struct store st;
	struct run_record *runs = NULL;
	struct lrun *lr = NULL;
	struct table t;
	char err[IPW_ERRLEN], **ids = NULL;
	size_t n = 0, nres = 0;
	int rc, first = 0, opened = 0, tinit = 0;

	memset(&a, 0, sizeof(a));
	memset(&mf, 0, sizeof(mf));
	agg_options_init(&a.ao);
	cmd_common_init(&a.cc, "localcloud", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, lc_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	n = (size_t)(argc - first);
	rc = EXIT_USAGE;
	if (!n || !a.meta) {
		fprintf(stderr, "ipw localcloud: name the runs and the metadata file (--model-meta FILE)\n");
		goto out;
	}
	rc = EXIT_INPUT;
	if (meta_read(a.meta, &mf, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw localcloud: %s\n", err);
		goto out;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	rc = EXIT_INPUT;
	lr = xcalloc(n, sizeof(*lr));
	for (size_t i = 0; i < n; i++) {
		const struct model_meta *mm = meta_model_of(&mf, &runs[i]);
		const struct accel_meta *am;
		int cnt;
		lr[i].model = mm ? mm->key : runs[i].model ? runs[i].model : runs[i].id;
		lr[i].accel = meta_run_accelerator(&runs[i], &cnt);
		am = meta_accel_find(&mf, lr[i].accel);
		if (!am || am->local < 0) {
			fprintf(stderr, "ipw localcloud: %s does not class the accelerator of run %s (%s) as local or cloud "
				"(\"accelerators\": {\"NAME\": {\"class\": \"local\"}})\n", mf.path, runs[i].id,
				lr[i].accel ? lr[i].accel : "none recorded");
			goto out;
		}
		lr[i].local = am->local;
	}
	if (analysis_figure_ci(&st, ids, n, AGG_CI_AUTO, &a.ao.ci, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw localcloud: %s\n", err);
		goto out;
	}
	for (; nres < n; nres++)
		if (agg_run(&st, ids[nres], AGG_LOAD_ITEMS, &a.ao, &lr[nres].r, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw localcloud: %s\n", err);
			goto out;
		}
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	tinit = 1;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (lr[i].local && !lr[j].local && !strcmp(lr[i].model, lr[j].model))
				emit(&t, "pair", lr[i].model, &runs[i], &lr[i], &runs[j], &lr[j], NAN, NAN);
	for (size_t i = 0; i < n; i++)
		emit(&t, "cell", lr[i].model, lr[i].local ? &runs[i] : NULL, lr[i].local ? &lr[i] : NULL,
		     lr[i].local ? NULL : &runs[i], lr[i].local ? NULL : &lr[i], NAN, NAN);
	coverage_rows(&t, &st, runs, lr, n, a.intersect);
	rc = table_finish(&t) < 0 ? EXIT_ENV : 0;
	if (rc == 0 && a.cc.format == OUT_TEXT)
		printf("ratios: cloud / local; coverage: best-of-local and best-of-cloud over the runs of each class "
		       "(key: subject, empty = all)\n");
	if (fflush(stdout))
		rc = EXIT_ENV;
out:
	if (rc == EXIT_USAGE)
		usage(stderr);
	if (tinit)
		table_release(&t);
	for (size_t i = 0; i < nres; i++)
		agg_result_release(&lr[i].r);
	free(lr);
	cmd_runs_free(runs, ids, n);
	meta_release(&mf);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
