/*
 * cmd/compare.c - 'ipw compare RUN...': one row per run (model, accelerator,
 * engine, concurrency, accuracy, IPW, IPJ, J/query, J/token, latency p50/p99,
 * each with its interval) as text, JSON, JSON lines or CSV, through one row
 * emitter (src/table.h). The numbers come from src/aggregate.c; runs are
 * read one at a time, so memory does not grow with their number.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../aggregate.h"
#include "../analysis/paper.h"
#include "../estimate.h"
#include "../optable.h"
#include "../perplexity.h"
#include "cmd.h"
#include "common.h"
#include "jsonout.h"
#include "util.h"

/* What 'ipw compare' parses into. */
struct compare_args {
	struct cmd_common cc;
	struct agg_options o;
	const char *format;
	int json, csv, allow_estimated;
	char est[512];   /* the runs with estimated energy, "1, 3" */
	int nest;
};

static int ci_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static int seed_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static const struct opt_hooks ci_hooks = {.parse = ci_parse, NULL};
static const struct opt_hooks seed_hooks = {.parse = seed_parse, NULL};

#define A(field) offsetof(struct compare_args, field)
static const struct opt_def compare_opts[] = {
	{"store", 0, OPT_STRING, A(cc.store), "PATH", "the store (default $IPW_STORE, else ./ipw.db)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"format", 0, OPT_STRING, A(format), "F", "text (default) | json | csv | jsonl; CSV has X, X_ci_low,\n"
	 "X_ci_high columns; JSON is {\"bootstrap\", \"runs\": [...]}", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"json", 0, OPT_FLAG, A(json), NULL, "short for --format json", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"csv", 0, OPT_FLAG, A(csv), NULL, "short for --format csv", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"ci", 0, OPT_STRING, OPT_NOFIELD, "METHOD", "'bootstrap' (percentile bootstrap over queries), 'delta'\n"
	 "(normal approximation, O(n)), or 'auto' (default: bootstrap when\n"
	 "every run has up to 50000 scored queries, delta for all of them\n"
	 "when one has more: one method per table)",
	 NULL, 0, 0, 0, NULL, NULL, &ci_hooks},
	{"bootstrap", 0, OPT_INT, A(o.m.bootstrap), "N", "resamples for the intervals (default 2000; 0 = none)",
	 NULL, 0, 1e9, OPT_BOUNDED, NULL, "a count >= 0", NULL},
	{"seed", 0, OPT_ULL, A(o.m.seed), "N", "seed of the resampling", NULL, 0, 0, 0, NULL, NULL, &seed_hooks},
	{"allow-estimated", 0, OPT_FLAG, A(allow_estimated), NULL, "compare runs with estimated energy (--api builtin,\n"
	 "CPU time x W per core) beside measured ones (refused otherwise)", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(compare_opts) / sizeof(compare_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw compare RUN... [--store PATH] [--format text|json|csv|jsonl] [--json | --csv]\n"
		"                   [--ci auto|bootstrap|delta] [--bootstrap N] [--seed N]\n"
		"  RUN                  run ids, names only one run has, or 'last'\n");
	opt_usage(f, compare_opts, NOPTS);
}

static int ci_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct compare_args *a = t;
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

static int seed_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 0);
	if (end == arg || *end)
		return err_set(err, errlen, "--seed takes a number");
	((struct compare_args *)t)->o.m.seed = v;
	return 0;
}

/* The columns. A metric is one text/JSON column ("v [lo, hi]" / {"value", "ci_low", "ci_high"}) and three CSV ones. */
#define MV(name, title) {name, title, NULL, TCOL_STR, NULL, TCOL_TEXT | TCOL_JSON}, \
	{name, NULL, NULL, TCOL_REAL, NULL, TCOL_CSV}, {name "_ci_low", NULL, NULL, TCOL_REAL, NULL, TCOL_CSV}, \
	{name "_ci_high", NULL, NULL, TCOL_REAL, NULL, TCOL_CSV}
static const struct tcol cols[] = {
	{"run", "run", NULL, TCOL_INT, NULL, TCOL_BOTH | TCOL_LEFT},
	{"name", "name", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"model", "model", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"accelerator", "accelerator", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"engine", "engine", NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"concurrency", "conc", NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"queries", NULL, NULL, TCOL_INT, NULL, TCOL_JSON},
	{"scored", "scored", NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"failed", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"unscored", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"with_energy", NULL, NULL, TCOL_INT, NULL, TCOL_JSON},
	{"interval_method", NULL, NULL, TCOL_STR, NULL, TCOL_DATA},
	MV("accuracy", "accuracy"),
	MV("ipw", "IPW (1/W)"),
	MV("ipj", "IPJ (1/J)"),
	MV("j_per_query", "J/query"),
	MV("j_per_token", "J/token"),
	{"power_w", NULL, "W", TCOL_STR, NULL, TCOL_JSON},
	MV("latency_p50_s", "latency p50 (s)"),
	MV("latency_p99_s", "latency p99 (s)"),
	{"device_power_w", "device W", "W", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"ipw_device", "IPW dev (1/W)", "1/W", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"perplexity_queries", NULL, NULL, TCOL_INT, NULL, TCOL_DATA},
	{"perplexity_mean", "PPL", NULL, TCOL_REAL, "%.5g", TCOL_BOTH},
	{"perplexity_per_w", "PPL/W", "1/W", TCOL_REAL, "%.4g", TCOL_BOTH},
	{"perplexity_per_j", "PPL/J", "1/J", TCOL_REAL, "%.4g", TCOL_BOTH},
};
#undef MV

/* One metric's cells: "v [lo, hi]" with format f (NULL when not computed) and its JSON; then the CSV numbers. */
static void cells_mv(struct table *t, const char *f, struct metric_value v, int csv)
{
	char a[32], b[32], c[32], text[112];
	const char *shown = NULL;

	if (isfinite(v.value)) {
		snprintf(a, sizeof(a), f, v.value);
		snprintf(b, sizeof(b), f, v.ci_low);
		snprintf(c, sizeof(c), f, v.ci_high);
		if (isfinite(v.ci_low))
			snprintf(text, sizeof(text), "%s [%s, %s]", a, b, c);
		else
			snprintf(text, sizeof(text), "%s", a);
		shown = text;
	}
	table_cell(t, shown, json_pack("{s:o, s:o, s:o}", "value", json_real_or_null(v.value), "ci_low",
				       json_real_or_null(v.ci_low), "ci_high", json_real_or_null(v.ci_high)));
	if (!csv)
		return;
	table_real(t, v.value);
	table_real(t, v.ci_low);
	table_real(t, v.ci_high);
}

/* The one row emitter of the table, for every format. */
static void emit_row(struct table *t, const struct agg_compare *c, const struct device_power *dev,
		     const struct ppl_run *pr)
{
	const struct metrics *m = &c->r.m;
	struct ppl_summary ps;

	table_int(t, strtoll(c->run_id, NULL, 10));
	table_str(t, c->name);
	table_str(t, c->model);
	table_str(t, c->accelerator);
	table_str(t, c->engine);
	table_count(t, c->concurrency);
	table_int(t, m->n);
	table_int(t, m->n_scored);
	table_int(t, m->n_failed);
	table_int(t, m->n_unscored);
	table_int(t, m->n_energy);
	table_str(t, c->r.delta ? "delta" : "bootstrap");
	cells_mv(t, "%.4f", m->accuracy, 1);
	cells_mv(t, "%.4g", m->ipw, 1);
	cells_mv(t, "%.4g", m->ipj, 1);
	cells_mv(t, "%.4g", m->energy_j, 1);
	cells_mv(t, "%.4g", m->j_per_token, 1);
	cells_mv(t, "%.4g", m->power_w, 0);
	cells_mv(t, "%.4g", c->r.latency_p50, 1);
	cells_mv(t, "%.4g", c->r.latency_p99, 1);
	table_real(t, dev->power_w);
	table_real(t, dev->ipw);
	ppl_run_summary(pr, &ps);
	table_int(t, pr->n_logprobs);
	table_real(t, ps.ppl_mean);
	table_real(t, ps.ppl_per_w);
	table_real(t, ps.ppl_per_j);
	table_end_row(t);
}

/* The line under the text table: how the intervals were computed (one method for every row). */
static void intervals_note(const struct agg_options *o, enum agg_ci asked, long long most)
{
	char how[200];

	if (o->ci == AGG_CI_DELTA)
		snprintf(how, sizeof(how), "normal approximation (delta method)");
	else
		snprintf(how, sizeof(how), "bootstrap (%d resamples)", o->m.bootstrap);
	if (asked == AGG_CI_AUTO)
		snprintf(how + strlen(how), sizeof(how) - strlen(how), ", chosen by --ci auto for every run (the largest "
			 "has %lld scored queries; delta above %d)", most, AGG_CI_AUTO_MAX);
	printf("intervals: %d%% %s for accuracy..J/token; order statistics for latency. Failed and "
	       "unscored queries are excluded.\n", (int)(o->m.level * 100 + 0.5), how);
	printf("IPW: accuracy / mean of each request's power E(q) / latency(q) (its share of the device); IPW dev:\n"
	       "accuracy / the device's power (sum of E / time with a request in flight), a point estimate.\n"
	       "PPL: mean perplexity per query, exp(-sum logprob / tokens), of the queries with token log-probabilities\n"
	       "(profile --logprobs); PPL/W, PPL/J: mean perplexity / mean power E(q)/latency(q) or mean energy, over\n"
	       "the queries that also have energy (lower is better); '-' where not measured.\n");
}

/* Parses and checks the options; 0, OPT_HELP (usage printed) or EXIT_USAGE (said). */
static int parse_args(struct compare_args *a, int argc, char **argv, int *first)
{
	char err[IPW_ERRLEN] = "";
	int rc = opt_parse(compare_opts, NOPTS, a, argc, argv, first, NULL, err, sizeof(err));

	if (rc == OPT_HELP) {
		usage(stdout);
		return OPT_HELP;
	}
	if (rc != OPT_PARSED) {
		fprintf(stderr, "ipw compare: %s (ipw compare --help lists the options)\n", err);
		return EXIT_USAGE;
	}
	if (*first >= argc || (a->csv && a->json)) {
		fprintf(stderr, "ipw compare: %s\n", *first >= argc ? "name at least one run" :
			"choose --csv or --json, not both");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (a->format && cmd_format_set(&a->cc, a->format))
		return EXIT_USAGE;
	if ((a->json && cmd_format_set(&a->cc, "json")) || (a->csv && cmd_format_set(&a->cc, "csv")))
		return EXIT_USAGE;
	return 0;
}

/* Writes what the table holds: text and the intervals line, or the JSON object around the rows. */
static int finish(struct table *t, const struct compare_args *a, enum agg_ci asked, long long most)
{
	json_t *o;
	int rc;

	if (a->cc.format != OUT_JSON) {
		if (table_finish(t) < 0)
			return -1;
		if (a->cc.format == OUT_TEXT)
			intervals_note(&a->o, asked, most);
		if (a->cc.format == OUT_TEXT && a->nest)
			printf("estimated energy (CPU time x watts per core, not measured): run%s %s\n",
			       a->nest > 1 ? "s" : "", a->est);
		return 0;
	}
	o = json_pack("{s:i, s:s, s:s, s:O}", "bootstrap", a->o.m.bootstrap, "interval_method",
		      analysis_ci_name(a->o.ci), "interval_rule", asked == AGG_CI_AUTO ? "auto: one method for every "
		      "run, delta when any run has more than 50000 scored queries" : "as asked (--ci)", "runs", t->arr);
	if (a->nest)
		json_object_set_new(o, "estimated_energy_runs", json_string(a->est));
	rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	putchar('\n');
	json_decref(o);
	return rc;
}

int cmd_compare(int argc, char **argv)
{
	struct compare_args a;
	struct store st;
	struct table t;
	char err[IPW_ERRLEN];
	int first, rc;
	enum agg_ci asked;
	long long most = 0;
	char **ids = NULL;

	memset(&a, 0, sizeof(a));
	cmd_common_init(&a.cc, "compare", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	agg_options_init(&a.o);
	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == OPT_HELP ? 0 : rc;
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		return rc;
	table_init(&t, a.cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	rc = EXIT_INPUT;
	if ((a.nest = runs_check_estimated_refs(&st, argv + first, (size_t)(argc - first), a.allow_estimated, a.est,
						sizeof(a.est), err, sizeof(err))) < 0) {
		fprintf(stderr, "ipw compare: %s\n", err);
		goto out;
	}
	asked = a.o.ci;
	if (analysis_resolve_runs(&st, argv + first, (size_t)(argc - first), &ids, err, sizeof(err)) < 0 ||
	    analysis_figure_ci(&st, ids, (size_t)(argc - first), asked, &a.o.ci, &most, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw compare: %s\n", err);
		goto out;
	}
	for (int i = first; i < argc; i++) {
		struct agg_compare c;
		struct device_power dev;
		/* the row, its device power and its perplexity from one read of the run */
		if (agg_compare_load_power(&st, argv[i], &a.o, &c, &dev, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw compare: %s\n", err);
			agg_compare_release(&c);
			goto out;
		}
		emit_row(&t, &c, &dev, &c.ppl);
		agg_compare_release(&c);
	}
	rc = finish(&t, &a, asked, most) < 0 || fflush(stdout) ? EXIT_ENV : 0;
out:
	if (ids)
		free_list(ids);
	table_release(&t);
	store_close(&st);
	return rc;
}
