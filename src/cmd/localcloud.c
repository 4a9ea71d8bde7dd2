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
#include "paper_runs.h"
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

/* One row; l or c (indices of p's runs) -1 leaves its side empty. */
static void emit(struct table *t, const char *kind, const char *key, const struct paper_runs *p, long l, long c,
		 const char *const *accel, double lcov, double ccov)
{
	const struct metrics *ml = l >= 0 ? &p->r[l].m : NULL, *mc = c >= 0 ? &p->r[c].m : NULL;
	table_str(t, kind);
	table_str(t, key);
	table_str(t, l >= 0 ? p->runs[l].id : NULL);
	table_str(t, l >= 0 ? accel[l] : NULL);
	table_str(t, c >= 0 ? p->runs[c].id : NULL);
	table_str(t, c >= 0 ? accel[c] : NULL);
	table_real(t, ml ? ml->accuracy.value : NAN);
	table_real(t, mc ? mc->accuracy.value : NAN);
	table_real(t, ml ? ml->ipw.value : NAN);
	table_real(t, mc ? mc->ipw.value : NAN);
	table_real(t, ml && mc ? lc_ratio(mc->ipw.value, ml->ipw.value) : NAN);
	table_real(t, ml ? ml->ipj.value : NAN);
	table_real(t, mc ? mc->ipj.value : NAN);
	table_real(t, ml && mc ? lc_ratio(mc->ipj.value, ml->ipj.value) : NAN);
	table_real(t, lcov);
	table_real(t, ccov);
	table_end_row(t);
}

/* Best-of-local against best-of-cloud: all subjects, then each subject of the local runs. */
static void coverage_rows(struct table *t, struct paper_runs *p, const int *local, int intersect)
{
	struct lc_coverage lc;
	const struct coverage_result *L = NULL, *C = NULL;

	analysis_lc_coverage(&p->st, p->ids, local, p->n, intersect, &lc);
	for (int k = 0; k < 2; k++)
		if (!lc.have[k])
			fprintf(stderr, "ipw localcloud: no best-of-%s coverage: %s\n", k ? "local" : "cloud", lc.why[k]);
	L = lc.have[1] ? &lc.c[1] : NULL;
	C = lc.have[0] ? &lc.c[0] : NULL;
	emit(t, "coverage", "", p, -1, -1, NULL, L ? coverage_value(&L->best) : NAN, C ? coverage_value(&C->best) : NAN);
	for (size_t s = 0; L && s < L->nsubj; s++)
		emit(t, "coverage", L->subj[s].subject, p, -1, -1, NULL, coverage_value(&L->subj[s].best),
		     C ? coverage_subject_best(C, L->subj[s].subject) : NAN);
	lc_coverage_release(&lc);
}

int cmd_localcloud(int argc, char **argv)
{
	struct lc_args a;
	struct paper_runs p;
	struct table t;
	const char **model = NULL, **accel = NULL;
	int *local = NULL;
	size_t *all = NULL;
	int rc, first = 0, tinit = 0;

	memset(&a, 0, sizeof(a));
	memset(&p, 0, sizeof(p));
	agg_options_init(&a.ao);
	cmd_common_init(&a.cc, "localcloud", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, lc_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	rc = EXIT_USAGE;
	if (first >= argc || !a.meta) {
		fprintf(stderr, "ipw localcloud: name the runs and the metadata file (--model-meta FILE)\n");
		goto out;
	}
	if ((rc = paper_runs_open(&p, &a.cc, a.meta, argv + first, (size_t)(argc - first))))
		goto out;
	rc = EXIT_INPUT;
	model = xcalloc(p.n + 1, sizeof(*model));
	accel = xcalloc(p.n + 1, sizeof(*accel));
	local = xcalloc(p.n + 1, sizeof(*local));
	all = xcalloc(p.n + 1, sizeof(*all));
	for (size_t i = 0; i < p.n; i++) {
		const struct run_record *r = &p.runs[i];
		const struct model_meta *mm = meta_model_of(&p.mf, r);
		const struct accel_meta *am;
		int cnt;
		model[i] = mm ? mm->key : r->model ? r->model : r->id;
		accel[i] = meta_run_accelerator(r, &cnt);
		am = meta_accel_find(&p.mf, accel[i]);
		if (!am || am->local < 0) {
			fprintf(stderr, "ipw localcloud: %s does not class the accelerator of run %s (%s) as local or cloud "
				"(\"accelerators\": {\"NAME\": {\"class\": \"local\"}})\n", p.mf.path, r->id,
				accel[i] ? accel[i] : "none recorded");
			goto out;
		}
		local[i] = am->local;
		all[i] = i;
	}
	if ((rc = paper_runs_aggregate(&p, &a.cc, all, p.n, &a.ao)))
		goto out;
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	tinit = 1;
	for (size_t i = 0; i < p.n; i++)
		for (size_t j = 0; j < p.n; j++)
			if (local[i] && !local[j] && !strcmp(model[i], model[j]))
				emit(&t, "pair", model[i], &p, (long)i, (long)j, accel, NAN, NAN);
	for (size_t i = 0; i < p.n; i++)
		emit(&t, "cell", model[i], &p, local[i] ? (long)i : -1, local[i] ? -1 : (long)i, accel, NAN, NAN);
	coverage_rows(&t, &p, local, a.intersect);
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
	free(model);
	free(accel);
	free(local);
	free(all);
	paper_runs_release(&p);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
