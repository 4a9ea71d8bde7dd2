/*
 * cmd/levels.c - 'ipw levels RUN... --model-meta FILE': difficulty levels as
 * the paper defines them: an item's level is the smallest model size class
 * (by total parameters) that answers it right, the last level the items no
 * run answers; with each run's accuracy per level. One table, every format.
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

struct levels_args {
	struct cmd_common cc;
	const char *meta, *classes;
	int intersect;
};

#define A(f) offsetof(struct levels_args, f)
static const struct opt_def levels_opts[] = {
	CMD_OPTDEFS_COMMON(struct levels_args, cc),
	{"model-meta", 0, OPT_STRING, A(meta), "FILE", "model metadata: each run's total_params (docs/analysis.md)", NULL,
	 0, 0, 0, NULL, NULL, NULL},
	{"size-classes", 0, OPT_LIST, A(classes), "LIST", "upper bounds of the size classes, total parameters\n"
	 "(default " LEVELS_DEFAULT_BOUNDS ": L1 <= 4B, L2 <= 14B, L3 <= 32B, L4 larger,\nL5 unsolved)", NULL, 0, 0, 0,
	 NULL, NULL, NULL},
	{"intersect", 0, OPT_FLAG, A(intersect), NULL, "use only the items every run has", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
};
#define NOPTS (sizeof(levels_opts) / sizeof(levels_opts[0]))

static const struct tcol cols[] = {
	{"level", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"class", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"items", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"share", NULL, NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
	{"run", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"name", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"run_class", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"scored", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"correct", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"accuracy", NULL, NULL, TCOL_REAL, "%.4f", TCOL_BOTH},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw levels RUN... --model-meta FILE [--size-classes LIST] [--intersect] [--store PATH]\n"
		"                  [--format text|json|csv|jsonl]\n"
		"  one row per level and run: the level's items (share of the scored items) and the run's accuracy\n"
		"  on them; level L<k> holds the items the smallest class answering them right is class k.\n");
	opt_usage(f, levels_opts, NOPTS);
}

/* "<= 4e+09", "> 3.2e+10", "unsolved" for level l. */
static void class_label(const struct level_result *r, size_t l, char *out, size_t n)
{
	if (l < r->nb)
		snprintf(out, n, "<= %.4g", r->bounds[l]);
	else if (l == r->nb)
		snprintf(out, n, "> %.4g", r->bounds[r->nb - 1]);
	else
		snprintf(out, n, "unsolved");
}

static void emit(struct table *t, const struct level_result *r, const struct run_record *runs)
{
	long long leveled = r->n_items - r->n_unscored;
	for (size_t l = 0; l < r->nlevels; l++) {
		char lv[32], cl[48], rc[48];
		snprintf(lv, sizeof(lv), "L%zu", l + 1);
		class_label(r, l, cl, sizeof(cl));
		for (size_t i = 0; i < r->nruns; i++) {
			long long sc = r->scored[i * r->nlevels + l], co = r->correct[i * r->nlevels + l];
			class_label(r, (size_t)r->run_class[i], rc, sizeof(rc));
			table_str(t, lv);
			table_str(t, cl);
			table_int(t, r->items[l]);
			table_real(t, leveled > 0 ? (double)r->items[l] / (double)leveled : NAN);
			table_str(t, runs[i].id);
			table_str(t, runs[i].name);
			table_str(t, rc);
			table_int(t, sc);
			table_int(t, co);
			table_real(t, sc > 0 ? (double)co / (double)sc : NAN);
			table_end_row(t);
		}
	}
}

int cmd_levels(int argc, char **argv)
{
	struct levels_args a;
	struct meta_file mf;
	struct store st;
	struct run_record *runs = NULL;
	struct level_result r;
	struct table t;
	char err[IPW_ERRLEN], **ids = NULL;
	double *total = NULL, *bounds = NULL;
	size_t n = 0, nb = 0;
	int rc, first = 0, opened = 0;

	memset(&a, 0, sizeof(a));
	memset(&mf, 0, sizeof(mf));
	a.classes = LEVELS_DEFAULT_BOUNDS;
	cmd_common_init(&a.cc, "levels", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, levels_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	n = (size_t)(argc - first);
	rc = EXIT_USAGE;
	if (!n || !a.meta) {
		fprintf(stderr, "ipw levels: name the runs and the metadata file (--model-meta FILE)\n");
		goto out;
	}
	if (analysis_level_bounds(a.classes, &bounds, &nb, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw levels: --size-classes: %s\n", err);
		goto out;
	}
	rc = EXIT_INPUT;
	if (meta_read(a.meta, &mf, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw levels: %s\n", err);
		goto out;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	total = xcalloc(n, sizeof(*total));
	for (size_t i = 0; i < n; i++) {
		const struct model_meta *mm = meta_model_of(&mf, &runs[i]);
		total[i] = mm ? mm->total_params : NAN;
	}
	rc = EXIT_INPUT;
	if (analysis_levels(&st, (const char *const *)ids, n, total, bounds, nb, a.intersect, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw levels: %s\n", err);
		goto out;
	}
	if (a.cc.format == OUT_TEXT)
		printf("%lld items (%lld scored by no run, without a level%s); size classes by total parameters from %s\n",
		       r.n_items, r.n_unscored, "", mf.path);
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	emit(&t, &r, runs);
	rc = table_finish(&t) < 0 || fflush(stdout) ? EXIT_ENV : 0;
	table_release(&t);
	level_result_release(&r);
out:
	if (rc == EXIT_USAGE)
		usage(stderr);
	free(total);
	free(bounds);
	cmd_runs_free(runs, ids, n);
	meta_release(&mf);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
