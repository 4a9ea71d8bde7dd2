/*
 * cmd/ranks.c - 'ipw ranks RUN...': how stable the ranking of runs by IPW
 * (or IPJ, accuracy) is: the ranking, then Kendall's tau-b and Spearman's
 * rho between it and the ranking on each subject alone, and between it and
 * the rankings of bootstrap resamples (mean and interval, and how often the
 * top run stays on top). One table, every format.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "analysis/paper.h"
#include "common.h"
#include "common_opts.h"
#include "store.h"
#include "util.h"

struct ranks_args {
	struct cmd_common cc;
	const char *metric;
	int bootstrap;
	uint64_t seed;
};

#define A(f) offsetof(struct ranks_args, f)
static const struct opt_def ranks_opts[] = {
	CMD_OPTDEFS_COMMON(struct ranks_args, cc),
	{"metric", 0, OPT_STRING, A(metric), "ipw|ipj|accuracy", "what the runs are ranked by (default ipw)", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"bootstrap", 0, OPT_INT, A(bootstrap), "N", "resamples (default 1000; 0 = none)", NULL, 0, 1e7, OPT_BOUNDED,
	 NULL, "a count >= 0", NULL},
	{"seed", 0, OPT_ULL, A(seed), "N", "seed of the resampling", NULL, 0, 0, 0, NULL, NULL, &cmd_seed_hooks},
};
#define NOPTS (sizeof(ranks_opts) / sizeof(ranks_opts[0]))

static const struct tcol cols[] = {
	{"kind", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"key", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"name", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"value", NULL, NULL, TCOL_REAL, "%.4g", TCOL_BOTH},
	{"rank", NULL, NULL, TCOL_REAL, "%g", TCOL_BOTH},
	{"tau", NULL, NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"tau_lo", NULL, NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"tau_hi", NULL, NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"rho", NULL, NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"rho_lo", NULL, NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"rho_hi", NULL, NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
	{"top_same", NULL, NULL, TCOL_REAL, "%.3f", TCOL_BOTH},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw ranks RUN... [--metric ipw|ipj|accuracy] [--bootstrap N] [--seed N] [--store PATH]\n"
		"                 [--format text|json|csv|jsonl]\n"
		"  rows: kind 'rank' (each run's value and rank, 1 = best), 'subject' (tau and rho of the ranking\n"
		"  on that subject's queries against the overall one), 'bootstrap' (tau and rho of resampled\n"
		"  rankings: mean and 95%% interval; top_same: share of resamples with the same best run).\n");
	opt_usage(f, ranks_opts, NOPTS);
}

static void row(struct table *t, const char *kind, const char *key, const char *name, double v, double rank,
		const double *tr, double top)
{
	table_str(t, kind);
	table_str(t, key);
	table_str(t, name);
	table_real(t, v);
	table_real(t, rank);
	for (int k = 0; k < 6; k++)
		table_real(t, tr ? tr[k] : NAN);
	table_real(t, top);
	table_end_row(t);
}

/* The subjects every run has, each run's value on it, tau and rho against the overall values. */
static void subject_rows(struct table *t, struct run_data *d, size_t n, enum rank_metric m, const double *all)
{
	double *v = xcalloc(n + 1, sizeof(double));
	for (size_t s = 0; s < d[0].nsubjects; s++) {
		const char *subj = d[0].subjects[s];
		int everywhere = 1;
		for (size_t i = 0; i < n && everywhere; i++) {
			size_t *idx = xcalloc(d[i].n + 1, sizeof(*idx)), k = 0;
			for (size_t j = 0; j < d[i].n; j++)
				if (d[i].subject[j] && !strcmp(d[i].subject[j], subj))
					idx[k++] = j;
			everywhere = k > 0;
			v[i] = analysis_rank_value(&d[i], m, idx, k);
			free(idx);
		}
		if (everywhere) {
			double tr[6] = {analysis_kendall_tau(all, v, n), NAN, NAN, analysis_spearman_rho(all, v, n), NAN,
					NAN};
			row(t, "subject", subj, NULL, NAN, NAN, tr, NAN);
		}
	}
	free(v);
}

int cmd_ranks(int argc, char **argv)
{
	struct ranks_args a;
	struct store st;
	struct run_record *runs = NULL;
	struct run_data *d = NULL;
	const struct run_data **dp = NULL;
	struct rank_stability rs;
	struct table t;
	enum rank_metric m;
	char err[IPW_ERRLEN], **ids = NULL;
	size_t n = 0, loaded = 0;
	int rc, first = 0, opened = 0, tinit = 0;

	memset(&a, 0, sizeof(a));
	memset(&rs, 0, sizeof(rs));
	a.metric = "ipw";
	a.bootstrap = 1000;
	a.seed = METRICS_SEED;
	cmd_common_init(&a.cc, "ranks", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, ranks_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	n = (size_t)(argc - first);
	rc = EXIT_USAGE;
	if (n < 2) {
		fprintf(stderr, "ipw ranks: name at least two runs\n");
		goto out;
	}
	if (!strcmp(a.metric, "ipw"))
		m = RANK_IPW;
	else if (!strcmp(a.metric, "ipj"))
		m = RANK_IPJ;
	else if (!strcmp(a.metric, "accuracy"))
		m = RANK_ACCURACY;
	else {
		fprintf(stderr, "ipw ranks: --metric is ipw, ipj or accuracy\n");
		goto out;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	d = xcalloc(n, sizeof(*d));
	dp = xcalloc(n, sizeof(*dp));
	for (; loaded < n; loaded++) {
		if (run_data_load(&st, ids[loaded], &d[loaded], err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw ranks: %s\n", err);
			rc = EXIT_INPUT;
			goto out;
		}
		dp[loaded] = &d[loaded];
	}
	analysis_rank_bootstrap(dp, n, m, a.bootstrap, a.seed, METRICS_LEVEL, &rs);
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	tinit = 1;
	for (size_t i = 0; i < n; i++) {
		double better = 0, eq = 0;
		for (size_t j = 0; j < n; j++) {
			better += rs.value[j] > rs.value[i];
			eq += rs.value[j] == rs.value[i];
		}
		row(&t, "rank", runs[i].id, runs[i].name, rs.value[i], better + (eq + 1) / 2, NULL, NAN);
	}
	subject_rows(&t, d, n, m, rs.value);
	if (a.bootstrap > 0) {
		double tr[6] = {rs.tau_mean, rs.tau_lo, rs.tau_hi, rs.rho_mean, rs.rho_lo, rs.rho_hi};
		char key[32];
		snprintf(key, sizeof(key), "B=%d", a.bootstrap);
		row(&t, "bootstrap", key, NULL, NAN, NAN, tr, rs.top_same);
	}
	rc = table_finish(&t) < 0 ? EXIT_ENV : 0;
	if (rc == 0 && a.cc.format == OUT_TEXT)
		printf("ranked by %s (ratio of means over scored queries; ties get the average rank); tau: Kendall tau-b, "
		       "rho: Spearman\n", a.metric);
	if (fflush(stdout))
		rc = EXIT_ENV;
out:
	if (rc == EXIT_USAGE)
		usage(stderr);
	if (tinit)
		table_release(&t);
	rank_stability_release(&rs);
	for (size_t i = 0; i < loaded; i++)
		run_data_release(&d[i]);
	free(d);
	free(dp);
	cmd_runs_free(runs, ids, n);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
