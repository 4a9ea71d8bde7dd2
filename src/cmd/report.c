/*
 * cmd/report.c - 'ipw report RUN... --out DIR': writes DIR/index.html, a
 * self-contained page (plots embedded) with the comparison, coverage,
 * routing, regression and attribution tables and their plots, and each plot
 * as DIR/<name>.png and .svg. The work is in src/report.c; its numbers come
 * from src/aggregate.c, as those of ipw compare and ipw show.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../aggregate.h"
#include "../analysis.h"
#include "../analysis/paper.h"
#include "../optable.h"
#include "../estimate.h"
#include "../report.h"
#include "cmd.h"
#include "common.h"
#include "util.h"

/* What 'ipw report' parses into. */
struct report_args {
	struct cmd_common cc;
	struct report_options o;
	int allow_estimated;
};

static int ci_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct report_args *a = t;
	if (!strcmp(arg, "auto"))
		a->o.ci = AGG_CI_AUTO;
	else if (!strcmp(arg, "bootstrap"))
		a->o.ci = AGG_CI_BOOTSTRAP;
	else if (!strcmp(arg, "delta"))
		a->o.ci = AGG_CI_DELTA;
	else
		return err_set(err, errlen, "--ci is 'auto', 'bootstrap' or 'delta'");
	return 0;
}
static const struct opt_hooks ci_hooks = {ci_parse, NULL, NULL, NULL, NULL, NULL};

static int compute_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct report_args *a = t;
	if (!strcmp(arg, "active") || !strcmp(arg, "total"))
		a->o.compute = !strcmp(arg, "total") ? ROUTE_COMPUTE_TOTAL : ROUTE_COMPUTE_ACTIVE;
	else
		return err_set(err, errlen, "--compute is 'active' or 'total'");
	return 0;
}
static const struct opt_hooks compute_hooks = {compute_parse, NULL, NULL, NULL, NULL, NULL};

static int period_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	int p = trend_period_parse(arg);
	if (p < 0)
		return err_set(err, errlen, "--period is 'year', 'half' or 'quarter'");
	((struct report_args *)t)->o.period = p;
	return 0;
}
static const struct opt_hooks period_hooks = {period_parse, NULL, NULL, NULL, NULL, NULL};

static int misroute_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct report_args *a = t;
	if (!strcmp(arg, "one-sided") || !strcmp(arg, "two-sided"))
		a->o.misroute = !strcmp(arg, "two-sided") ? ROUTE_TWO_SIDED : ROUTE_ONE_SIDED;
	else
		return err_set(err, errlen, "--misroute is 'one-sided' or 'two-sided'");
	return 0;
}
static const struct opt_hooks misroute_hooks = {misroute_parse, NULL, NULL, NULL, NULL, NULL};

#define A(field) offsetof(struct report_args, field)
static const struct opt_def report_opts[] = {
	{"out", 0, OPT_STRING, A(o.out_dir), "DIR", "folder for index.html and the plots (created if missing)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"cloud", 0, OPT_STRING, A(o.cloud), "RUN", "cloud baseline of the routing section (the other runs are local)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"prices", 0, OPT_STRING, A(o.prices), "FILE", "per-token prices for routing's cost (see ipw route simulate --help)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"params", 0, OPT_STRING, A(o.params), "FILE", "active parameters for routing's compute",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"intersect", 0, OPT_FLAG, A(o.intersect), NULL, "use only the items every run has (coverage, routing)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"title", 0, OPT_STRING, A(o.title), "TEXT", "the page's title", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"bootstrap", 0, OPT_INT, A(o.bootstrap), "N", "resamples for the intervals (default 2000; runs over 50000\n"
	 "scored queries: delta method, attribution included, as ipw compare --ci auto)",
	 NULL, 0, 1e9, OPT_BOUNDED, NULL, "a count >= 0", NULL},
	{"ci", 0, OPT_STRING, OPT_NOFIELD, "METHOD", "intervals of the whole page: auto (default: bootstrap when every\n"
	 "run has up to 50000 scored queries, else delta for all), bootstrap or delta", NULL, 0, 0, 0, NULL, NULL,
	 &ci_hooks},
	{"model-meta", 0, OPT_STRING, A(o.model_meta), "FILE", "model metadata: compute, difficulty levels, routing's "
	 "total\nparameters (docs/analysis.md 'Model metadata')", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"compute", 0, OPT_STRING, OPT_NOFIELD, "active|total", "routing's compute basis (default active)", NULL, 0, 0,
	 0, NULL, NULL, &compute_hooks},
	{"period", 0, OPT_STRING, OPT_NOFIELD, "year|half|quarter", "the trends' release periods (as ipw trends; "
	 "default year;\nhalves and quarters need the release month)", NULL, 0, 0, 0, NULL, NULL, &period_hooks},
	{"size-classes", 0, OPT_LIST, A(o.size_classes), "LIST", "the difficulty levels' size classes, total "
	 "parameters\n(as ipw levels; default " LEVELS_DEFAULT_BOUNDS ")", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"misroute", 0, OPT_STRING, OPT_NOFIELD, "one-sided|two-sided", "routing's router errors (as ipw route "
	 "simulate --misroute):\none-sided (default) or two-sided (an item no local run answers\nis kept local with "
	 "probability 1 - p; a kept-wrong column)", NULL, 0, 0, 0, NULL, NULL, &misroute_hooks},
	{"daily-queries", 0, OPT_DOUBLE, A(o.daily_queries), "N", "routing also per day at N queries a day: energy "
	 "(kWh, MWh),\ncost and compute (as ipw route simulate --daily-queries; the paper: 80.2M)", NULL, 0, 1e15,
	 OPT_BOUNDED | OPT_MIN_OPEN, NULL, "a number > 0", NULL},
	{"gdi", 0, OPT_STRING, A(o.gdi), "FILE", "a GDI scenario (as ipw gdi SCENARIO.json): the gross domestic "
	 "intelligence\nsection, every formula and assumption printed", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"weights", 0, OPT_STRING, A(o.weights), "FILE", "subject weights (GDP in USD) for the weighted accuracy section\n"
	 "(as ipw analyze --weights; docs/analysis.md 'GDP weights')", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"trials", 0, OPT_INT, A(o.trials), "N", "routing Monte Carlo trials (default 200)",
	 NULL, 0, 100000, OPT_BOUNDED, NULL, "a count in 0..100000", NULL},
	{"store", 0, OPT_STRING, A(cc.store), "PATH", "the store (default $IPW_STORE, else ./ipw.db)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"allow-estimated", 0, OPT_FLAG, A(allow_estimated), NULL, "mix runs with estimated energy (--api builtin)\n"
	 "and measured ones (refused otherwise)", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(report_opts) / sizeof(report_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw report RUN... --out DIR [options]\n"
		"  RUN                  run ids, names only one run has, or 'last'\n");
	opt_usage(f, report_opts, NOPTS);
}

/* Parses and checks the options; 0, OPT_HELP (usage printed) or EXIT_USAGE (said). */
static int parse_args(struct report_args *a, int argc, char **argv, int *first)
{
	char err[IPW_ERRLEN] = "";
	int rc = opt_parse(report_opts, NOPTS, a, argc, argv, first, NULL, err, sizeof(err));

	if (rc == OPT_HELP) {
		usage(stdout);
		return OPT_HELP;
	}
	if (rc != OPT_PARSED) {
		fprintf(stderr, "ipw report: %s (ipw report --help lists the options)\n", err);
		return EXIT_USAGE;
	}
	if (a->o.size_classes) {
		double *bounds = NULL;
		size_t nb;
		int bad = analysis_level_bounds(a->o.size_classes, &bounds, &nb, err, sizeof(err)) < 0;
		free(bounds);
		if (bad) {
			fprintf(stderr, "ipw report: --size-classes: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (*first >= argc || !a->o.out_dir) {
		fprintf(stderr, "ipw report: %s\n", *first >= argc ? "name at least one run" :
			"name the output folder with --out DIR");
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct report_args a;
	struct store st;
	char err[IPW_ERRLEN];
	int first, rc;

	memset(&a, 0, sizeof(a));
	cmd_common_init(&a.cc, "report", OUT_TEXT, OUT_TEXT);
	report_options_init(&a.o);
	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == OPT_HELP ? 0 : rc;
	a.o.runs = argv + first;
	a.o.nruns = (size_t)(argc - first);
	a.o.store_label = a.cc.store ? a.cc.store : "ipw.db";
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		return rc;
	if (runs_check_estimated_refs(&st, a.o.runs, a.o.nruns, a.allow_estimated, NULL, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw report: %s\n", err);
		rc = EXIT_INPUT;
	} else if (report_write(&st, &a.o, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw report: %s\n", err);
		rc = strstr(err, "cannot") ? EXIT_ENV : EXIT_INPUT;
	} else {
		printf("wrote %s/index.html (and each plot as PNG and SVG in %s)\n", a.o.out_dir, a.o.out_dir);
		rc = 0;
	}
	store_close(&st);
	return rc;
}
