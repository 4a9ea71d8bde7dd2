/*
 * cmd/repeats.c - 'ipw repeats RUN...': runs of one configuration measured
 * more than once, and the spread between them: per group of repeats and
 * metric, the mean and sample standard deviation across the repeats beside
 * the mean half-width of each repeat's own interval (bootstrap or delta, one
 * method for the table). A repeat-to-repeat sigma well above the
 * within-run interval says the measurement, not the sample, varies.
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
#include "paper_runs.h"
#include "util.h"

struct repeats_args {
	struct cmd_common cc;
	const char *by;
	struct agg_options ao;
};

#define A(f) offsetof(struct repeats_args, f)
static const struct opt_def repeats_opts[] = {
	CMD_OPTDEFS_COMMON(struct repeats_args, cc),
	{"by", 0, OPT_STRING, A(by), "all|group|model", "what makes runs repeats of each other: all the runs given\n"
	 "(default), the same group (profile --sweep's group name), or the same\nmodel", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"bootstrap", 0, OPT_INT, A(ao.m.bootstrap), "N", "resamples for each run's intervals (default 2000)", NULL, 0,
	 1e9, OPT_BOUNDED, NULL, "a count >= 0", NULL},
	{"seed", 0, OPT_ULL, A(ao.m.seed), "N", "seed of the resampling", NULL, 0, 0, 0, NULL, NULL, &cmd_seed_hooks},
	PAPER_OPTDEF_CI(struct repeats_args, ao.ci),
};
#define NOPTS (sizeof(repeats_opts) / sizeof(repeats_opts[0]))

static const struct tcol cols[] = {
	{"group", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"metric", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"repeats", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"mean", NULL, NULL, TCOL_REAL, "%.5g", TCOL_BOTH},
	{"sd", "SIGMA", NULL, TCOL_REAL, "%.4g", TCOL_BOTH},
	{"cv", "CV", NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"min", NULL, NULL, TCOL_REAL, "%.5g", TCOL_BOTH},
	{"max", NULL, NULL, TCOL_REAL, "%.5g", TCOL_BOTH},
	{"ci_halfwidth_mean", "CI_HALF", NULL, TCOL_REAL, "%.4g", TCOL_BOTH},
	{"interval_method", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	{"runs", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw repeats RUN... [--by all|group|model] [--bootstrap N] [--seed N] [--ci METHOD]\n"
		"                   [--store PATH] [--format text|json|csv|jsonl]\n"
		"  per group and metric: mean +- sigma across repeats (sample sd, n - 1), CV = sigma / mean,\n"
		"  and the mean half-width of the repeats' own 95%% intervals.\n");
	opt_usage(f, repeats_opts, NOPTS);
}

static const char *group_key(const char *by, const struct run_record *r)
{
	if (!strcmp(by, "group"))
		return r->group_name ? r->group_name : "(no group)";
	if (!strcmp(by, "model"))
		return r->model ? r->model : "(no model)";
	return "all";
}

static struct metric_value pick(const struct agg_result *r, int k)
{
	const struct metric_value *v[] = {&r->m.accuracy, &r->m.ipw, &r->m.ipj, &r->m.energy_j, &r->m.power_w,
					  &r->m.j_per_token};
	return *v[k];
}
static const char *const metric_names[] = {"accuracy", "ipw", "ipj", "j_per_query", "power_w", "j_per_token"};
#define NMETRIC 6

static void group_rows(struct table *t, const char *key, struct agg_result *res, const struct run_record *runs,
		       const size_t *members, size_t nm, enum agg_ci ci)
{
	double *v = xcalloc(nm + 1, sizeof(double)), *h = xcalloc(nm + 1, sizeof(double));
	struct buf ids;

	buf_init(&ids, 0);
	for (size_t j = 0; j < nm; j++)
		buf_appendf(&ids, "%s%s", j ? "," : "", runs[members[j]].id);
	for (int k = 0; k < NMETRIC; k++) {
		double mean, sd, hm, lo = INFINITY, hi = -INFINITY;
		size_t cnt;
		for (size_t j = 0; j < nm; j++) {
			struct metric_value mv = pick(&res[members[j]], k);
			v[j] = mv.value;
			h[j] = (mv.ci_high - mv.ci_low) / 2;
			if (isfinite(mv.value)) {
				lo = mv.value < lo ? mv.value : lo;
				hi = mv.value > hi ? mv.value : hi;
			}
		}
		analysis_mean_sd(v, nm, &mean, &sd, &cnt);
		analysis_mean_sd(h, nm, &hm, NULL, NULL);
		table_str(t, key);
		table_str(t, metric_names[k]);
		table_int(t, (long long)cnt);
		table_real(t, mean);
		table_real(t, sd);
		table_real(t, isfinite(sd) && mean != 0 ? sd / fabs(mean) : NAN);
		table_real(t, cnt ? lo : NAN);
		table_real(t, cnt ? hi : NAN);
		table_real(t, hm);
		table_str(t, analysis_ci_name(ci));
		table_str(t, ids.data);
		table_end_row(t);
	}
	buf_release(&ids);
	free(v);
	free(h);
}

int cmd_repeats(int argc, char **argv)
{
	struct repeats_args a;
	struct store st;
	struct run_record *runs = NULL;
	struct agg_result *res = NULL;
	struct table t;
	char err[IPW_ERRLEN], **ids = NULL;
	size_t n = 0, *members = NULL, nres = 0;
	int rc, first = 0, opened = 0, tinit = 0;
	unsigned char *done = NULL;

	memset(&a, 0, sizeof(a));
	agg_options_init(&a.ao);
	a.by = "all";
	cmd_common_init(&a.cc, "repeats", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, repeats_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	n = (size_t)(argc - first);
	rc = EXIT_USAGE;
	if (n < 2) {
		fprintf(stderr, "ipw repeats: name at least two runs (repeats of one configuration)\n");
		goto out;
	}
	if (strcmp(a.by, "all") && strcmp(a.by, "group") && strcmp(a.by, "model")) {
		fprintf(stderr, "ipw repeats: --by is all, group or model\n");
		goto out;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	rc = EXIT_INPUT;
	if (analysis_figure_ci(&st, ids, n, a.ao.ci, &a.ao.ci, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw repeats: %s\n", err);
		goto out;
	}
	res = xcalloc(n, sizeof(*res));
	for (; nres < n; nres++)
		if (agg_run(&st, ids[nres], AGG_LOAD_ITEMS, &a.ao, &res[nres], err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw repeats: %s\n", err);
			goto out;
		}
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	tinit = 1;
	members = xcalloc(n, sizeof(*members));
	done = xcalloc(n, 1);
	for (size_t i = 0; i < n; i++) {
		const char *key = group_key(a.by, &runs[i]);
		size_t nm = 0;
		if (done[i])
			continue;
		for (size_t j = i; j < n; j++)
			if (!done[j] && !strcmp(group_key(a.by, &runs[j]), key)) {
				members[nm++] = j;
				done[j] = 1;
			}
		group_rows(&t, key, res, runs, members, nm, a.ao.ci);
	}
	rc = table_finish(&t) < 0 ? EXIT_ENV : 0;
	if (rc == 0 && a.cc.format == OUT_TEXT)
		printf("SIGMA: sample standard deviation across the repeats; CI_HALF: mean half-width of each repeat's "
		       "95%% %s interval\n", a.ao.ci == AGG_CI_DELTA ? "delta-method" : "bootstrap");
	if (fflush(stdout))
		rc = EXIT_ENV;
out:
	if (rc == EXIT_USAGE)
		usage(stderr);
	if (tinit)
		table_release(&t);
	for (size_t i = 0; i < nres; i++)
		agg_result_release(&res[i]);
	free(res);
	free(members);
	free(done);
	cmd_runs_free(runs, ids, n);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
