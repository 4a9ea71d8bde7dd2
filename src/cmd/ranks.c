/*
 * cmd/ranks.c - 'ipw ranks RUN...': how stable the ranking of runs by IPW
 * (or IPJ, accuracy) is: the ranking, then Kendall's tau-b and Spearman's
 * rho between it and the ranking on each subset alone (--by subject, the
 * default; dataset: the models ranked, each model's runs pooled; level: the
 * difficulty levels of ipw levels), and between it and the rankings of
 * bootstrap resamples (mean and interval, and how often the top run stays on
 * top). One table, every format.
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
	const char *metric, *by, *meta, *classes;
	int bootstrap, intersect;
	uint64_t seed;
};

#define A(f) offsetof(struct ranks_args, f)
static const struct opt_def ranks_opts[] = {
	CMD_OPTDEFS_COMMON(struct ranks_args, cc),
	{"metric", 0, OPT_STRING, A(metric), "ipw|ipj|accuracy", "what the runs are ranked by (default ipw)", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"by", 0, OPT_STRING, A(by), "subject|dataset|level", "the subsets: each subject (default), each dataset\n"
	 "(the models ranked: a model's runs pooled), each difficulty level\n(ipw levels; needs --model-meta)", NULL, 0,
	 0, 0, NULL, NULL, NULL},
	{"model-meta", 0, OPT_STRING, A(meta), "FILE", "model metadata: each run's total_params (--by level)", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"size-classes", 0, OPT_LIST, A(classes), "LIST", "upper bounds of the size classes (--by level; default\n"
	 LEVELS_DEFAULT_BOUNDS ", as ipw levels)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"intersect", 0, OPT_FLAG, A(intersect), NULL, "levels over the items every run has (--by level)", NULL, 0, 0, 0,
	 NULL, NULL, NULL},
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
	{"items", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
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
	fprintf(f, "usage: ipw ranks RUN... [--metric ipw|ipj|accuracy] [--by subject|dataset|level] [--bootstrap N]\n"
		"                 [--seed N] [--model-meta FILE] [--size-classes LIST] [--intersect] [--store PATH]\n"
		"                 [--format text|json|csv|jsonl]\n"
		"  rows: kind 'rank' (each run's value and rank, 1 = best; --by dataset: each model's), 'subject',\n"
		"  'dataset' or 'level' (tau and rho of the ranking on that subset's queries against the overall\n"
		"  one, with the subset's items), 'bootstrap' (tau and rho of resampled rankings: mean and 95%%\n"
		"  interval; top_same: share of resamples with the same best run).\n");
	opt_usage(f, ranks_opts, NOPTS);
}

static void row(struct table *t, const char *kind, const char *key, const char *name, double v, double rank,
		long long items, const double *tr, double top)
{
	table_str(t, kind);
	table_str(t, key);
	table_str(t, name);
	table_real(t, v);
	table_real(t, rank);
	table_count(t, items);
	for (int k = 0; k < 6; k++)
		table_real(t, tr ? tr[k] : NAN);
	table_real(t, top);
	table_end_row(t);
}

/* Rank of value[i] among value[0..n) (1 = highest, ties the average). */
static double rank_of(const double *value, size_t n, size_t i)
{
	double better = 0, eq = 0;
	for (size_t j = 0; j < n; j++) {
		better += value[j] > value[i];
		eq += value[j] == value[i];
	}
	return better + (eq + 1) / 2;
}

/* The total parameters of each run (--by level); 0 or an exit status (said). */
static int level_totals(const struct ranks_args *a, const struct run_record *runs, size_t n, double *total)
{
	struct meta_file mf;
	char err[IPW_ERRLEN];

	if (meta_read(a->meta, &mf, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw ranks: %s\n", err);
		return EXIT_INPUT;
	}
	for (size_t i = 0; i < n; i++) {
		const struct model_meta *mm = meta_model_of(&mf, &runs[i]);
		total[i] = mm ? mm->total_params : NAN;
	}
	meta_release(&mf);
	return 0;
}

int cmd_ranks(int argc, char **argv)
{
	struct ranks_args a;
	struct store st;
	struct run_record *runs = NULL;
	struct run_data *d = NULL, *pool = NULL;
	const struct run_data **dp = NULL;
	struct rank_stability rs;
	struct rank_subsets sub;
	struct table t;
	enum rank_metric m;
	char err[IPW_ERRLEN], **ids = NULL;
	const char **mkey = NULL, **dkey = NULL;
	double *total = NULL, *bounds = NULL;
	size_t n = 0, loaded = 0, nb = 0, npool = 0;
	int rc, first = 0, opened = 0, tinit = 0, by_dataset, by_level;

	memset(&a, 0, sizeof(a));
	memset(&rs, 0, sizeof(rs));
	memset(&sub, 0, sizeof(sub));
	a.metric = "ipw";
	a.by = "subject";
	a.classes = LEVELS_DEFAULT_BOUNDS;
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
	by_dataset = !strcmp(a.by, "dataset");
	by_level = !strcmp(a.by, "level");
	if (!by_dataset && !by_level && strcmp(a.by, "subject")) {
		fprintf(stderr, "ipw ranks: --by is subject, dataset or level\n");
		goto out;
	}
	if (by_level && !a.meta) {
		fprintf(stderr, "ipw ranks: --by level needs each run's size: --model-meta FILE\n");
		goto out;
	}
	if (by_level && analysis_level_bounds(a.classes, &bounds, &nb, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw ranks: --size-classes: %s\n", err);
		goto out;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	total = xcalloc(n, sizeof(*total));
	if (by_level && (rc = level_totals(&a, runs, n, total)))
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
	rc = EXIT_INPUT;
	if (by_dataset) {
		/* the things ranked are models: each one's runs pooled, for the ranking and its bootstrap */
		mkey = xcalloc(n, sizeof(*mkey));
		dkey = xcalloc(n, sizeof(*dkey));
		for (size_t i = 0; i < n; i++) {
			mkey[i] = rank_model_key(&runs[i]);
			dkey[i] = rank_dataset_key(&runs[i]);
		}
		analysis_rank_datasets(dp, mkey, dkey, n, m, &sub);
		if (sub.nmodels < 2) {
			fprintf(stderr, "ipw ranks: --by dataset ranks models, and the runs are all of model '%s'\n",
				sub.model[0]);
			rc = EXIT_USAGE;
			goto out;
		}
		pool = xcalloc(sub.nmodels, sizeof(*pool));
		for (; npool < sub.nmodels; npool++) {
			const struct run_data **sel = xcalloc(n, sizeof(*sel));
			size_t k = 0;
			for (size_t i = 0; i < n; i++)
				if (sub.model_of[i] == npool)
					sel[k++] = &d[i];
			analysis_rank_pool(sel, k, &pool[npool]);
			free(sel);
		}
		for (size_t j = 0; j < npool; j++)
			dp[j] = &pool[j];
		analysis_rank_bootstrap(dp, npool, m, a.bootstrap, a.seed, METRICS_LEVEL, &rs);
	} else {
		analysis_rank_bootstrap(dp, n, m, a.bootstrap, a.seed, METRICS_LEVEL, &rs);
		if (by_level) {
			if (analysis_rank_levels(&st, (const char *const *)ids, n, total, bounds, nb, a.intersect, m,
						 rs.value, &sub, err, sizeof(err)) < 0) {
				fprintf(stderr, "ipw ranks: %s\n", err);
				goto out;
			}
		} else {
			analysis_rank_subjects(dp, n, m, rs.value, &sub);
		}
	}
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	tinit = 1;
	if (by_dataset) {
		for (size_t j = 0; j < sub.nmodels; j++) {
			char *names = NULL;
			for (size_t i = 0; i < n; i++)
				if (sub.model_of[i] == j) {
					char *t2 = xasprintf("%s%s%s", names ? names : "", names ? "+" : "", runs[i].id);
					free(names);
					names = t2;
				}
			row(&t, "rank", sub.model[j], names, rs.value[j], rank_of(rs.value, sub.nmodels, j), -1, NULL,
			    NAN);
			free(names);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			row(&t, "rank", runs[i].id, runs[i].name, rs.value[i], rank_of(rs.value, n, i), -1, NULL, NAN);
	}
	for (size_t k = 0; k < sub.nrows; k++) {
		double tr[6] = {sub.row[k].tau, NAN, NAN, sub.row[k].rho, NAN, NAN};
		row(&t, a.by, sub.row[k].key, NULL, NAN, NAN, sub.row[k].items, tr, NAN);
	}
	if (a.bootstrap > 0) {
		double tr[6] = {rs.tau_mean, rs.tau_lo, rs.tau_hi, rs.rho_mean, rs.rho_lo, rs.rho_hi};
		char key[32];
		snprintf(key, sizeof(key), "B=%d", a.bootstrap);
		row(&t, "bootstrap", key, NULL, NAN, NAN, -1, tr, rs.top_same);
	}
	rc = table_finish(&t) < 0 ? EXIT_ENV : 0;
	if (rc == 0 && a.cc.format == OUT_TEXT) {
		printf("ranked by %s (ratio of means over scored queries; ties get the average rank); tau: Kendall tau-b, "
		       "rho: Spearman; ", a.metric);
		if (by_dataset)
			printf("by dataset: the %zu models ranked (key: the run's model), each model's runs pooled, on "
			       "each of the %zu datasets every model has runs on (items: the first model's queries)\n",
			       sub.nmodels, sub.ndatasets);
		else if (by_level)
			printf("by difficulty level (ipw levels, size classes %s%s; items: the level's)\n", a.classes,
			       a.intersect ? ", items every run has" : "");
		else
			printf("by subject (items: the first run's queries of it)\n");
	}
	if (fflush(stdout))
		rc = EXIT_ENV;
out:
	if (rc == EXIT_USAGE)
		usage(stderr);
	if (tinit)
		table_release(&t);
	rank_stability_release(&rs);
	rank_subsets_release(&sub);
	for (size_t j = 0; j < npool; j++)
		run_data_release(&pool[j]);
	free(pool);
	for (size_t i = 0; i < loaded; i++)
		run_data_release(&d[i]);
	free(d);
	free(dp);
	free(mkey);
	free(dkey);
	free(total);
	free(bounds);
	cmd_runs_free(runs, ids, n);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
