/*
 * cmd/coverage.c - 'ipw coverage RUN...': the share of items each run
 * answered right, best-of-N coverage over the set (items matched by id),
 * overall and per subject, and the items no run answers. Runs are merged by
 * item id with one store cursor each. Text and one JSON object as always;
 * --format csv|jsonl writes one row per (subject, run), the overall rows first.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis.h"
#include "common.h"
#include "common_opts.h"
#include "jsonout.h"
#include "store.h"
#include "util.h"

#define SHOW_UNCOVERED 20

struct cov_args {
	struct cmd_common cc;
	int intersect;
	const char *ufile;
};

#define A(f) offsetof(struct cov_args, f)
static const struct opt_def cov_opts[] = {
	CMD_OPTDEFS_COMMON(struct cov_args, cc),
	{"intersect", 0, OPT_FLAG, A(intersect), NULL, "use only the items every run has (others are dropped and "
	 "counted)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"uncovered", 0, OPT_STRING, A(ufile), "FILE", "write every item no run answers right, one "
	 "'item_id<TAB>subject' a line", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(cov_opts) / sizeof(cov_opts[0]))

static const struct tcol cols[] = {
	{"subject", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"run", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"name", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"model", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"items", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"scored", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"correct", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"coverage", NULL, "share", TCOL_REAL, "%.4f", TCOL_BOTH},
	{"failed", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
	{"unscored", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw coverage RUN... [--store PATH] [--format text|json|csv|jsonl] [--json] [--intersect]\n"
		"                    [--uncovered FILE]\n"
		"  RUN                  run ids, names only one run has, or 'last' (scored runs of the same items)\n");
	opt_usage(f, cov_opts, NOPTS);
	fprintf(f, "json is one object; csv and jsonl are one row per subject (empty: all) and run\n"
		"(run 'best-of-N': any run right; its 'unscored' counts items no run scored).\n");
}

struct uncovered_ctx {
	FILE *f;
	char *first[SHOW_UNCOVERED];
	int n;
};

static int on_uncovered(const char *item_id, const char *subject, void *p)
{
	struct uncovered_ctx *u = p;
	if (u->n < SHOW_UNCOVERED)
		u->first[u->n++] = xstrdup(item_id);
	if (u->f && fprintf(u->f, "%s\t%s\n", item_id, subject) < 0)
		return -1;
	return 0;
}

static json_t *counts_json(const struct coverage_counts *c, int best)
{
	json_t *o = json_object();
	json_object_set_new(o, "items", json_integer(c->items));
	json_object_set_new(o, "scored", json_integer(c->scored));
	json_object_set_new(o, "correct", json_integer(c->correct));
	if (!best)
		json_object_set_new(o, "failed", json_integer(c->failed));
	json_object_set_new(o, best ? "scored_by_none" : "unscored", json_integer(c->unscored));
	json_object_set_new(o, "coverage", json_real_or_null(coverage_value(c)));
	return o;
}

static const char *pct(char *buf, size_t n, const struct coverage_counts *c)
{
	double v = coverage_value(c);
	if (isfinite(v))
		snprintf(buf, n, "%.1f%%", 100 * v);
	else
		snprintf(buf, n, "-");
	return buf;
}

/* What the printers need. */
struct cov_out {
	const struct cov_args *a;
	const struct coverage_result *cr;
	const struct run_record *runs;
	char **ids;
	size_t n;
	const struct uncovered_ctx *u;
};

static void print_json(const struct cov_out *o)
{
	const struct coverage_result *cr = o->cr;
	json_t *j = json_object(), *ra = json_array(), *sa = json_array(), *ua = json_array();

	json_object_set_new(j, "items", json_integer(cr->n_items));
	json_object_set_new(j, "dropped", json_integer(cr->n_dropped));
	for (size_t i = 0; i < o->n; i++) {
		json_t *r = counts_json(&cr->run[i], 0);
		json_object_set_new(r, "run", json_integer(strtoll(o->ids[i], NULL, 10)));
		json_object_set_new(r, "name", json_string(o->runs[i].name ? o->runs[i].name : ""));
		json_object_set_new(r, "model", o->runs[i].model ? json_string(o->runs[i].model) : json_null());
		json_array_append_new(ra, r);
	}
	json_object_set_new(j, "runs", ra);
	json_object_set_new(j, "best_of_n", counts_json(&cr->best, 1));
	for (size_t s = 0; s < cr->nsubj; s++) {
		json_t *so = json_object(), *rr = json_array();
		json_object_set_new(so, "subject", json_string(cr->subj[s].subject));
		for (size_t i = 0; i < o->n; i++)
			json_array_append_new(rr, counts_json(&cr->subj[s].run[i], 0));
		json_object_set_new(so, "runs", rr);
		json_object_set_new(so, "best_of_n", counts_json(&cr->subj[s].best, 1));
		json_array_append_new(sa, so);
	}
	json_object_set_new(j, "subjects", sa);
	json_object_set_new(j, "uncovered", json_integer(cr->n_uncovered));
	for (int i = 0; i < o->u->n; i++)
		json_array_append_new(ua, json_string(o->u->first[i]));
	json_object_set_new(j, "uncovered_first", ua);
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	putchar('\n');
	json_decref(j);
}

static void print_subjects(const struct cov_out *o)
{
	const struct coverage_result *cr = o->cr;
	char buf[32];

	printf("\nper subject (coverage; items)\n%-24s %7s", "subject", "items");
	for (size_t i = 0; i < o->n; i++)
		printf(" %8s%s", "run ", o->ids[i]);
	printf(" %9s\n", "best-of-N");
	for (size_t s = 0; s < cr->nsubj; s++) {
		printf("%-24s %7lld", *cr->subj[s].subject ? cr->subj[s].subject : "(none)", cr->subj[s].best.items);
		for (size_t i = 0; i < o->n; i++)
			printf(" %*s", 8 + (int)strlen(o->ids[i]), pct(buf, sizeof(buf), &cr->subj[s].run[i]));
		printf(" %9s\n", pct(buf, sizeof(buf), &cr->subj[s].best));
	}
}

static void print_text(const struct cov_out *o)
{
	const struct coverage_result *cr = o->cr;
	char buf[32];

	printf("coverage over %lld items", cr->n_items);
	if (o->a->intersect)
		printf(" (%lld items not in every run dropped)", cr->n_dropped);
	printf("\n%-5s %-16s %-20s %9s %9s %9s %8s %9s\n", "run", "name", "model", "scored", "correct",
	       "coverage", "failed", "unscored");
	for (size_t i = 0; i < o->n; i++)
		printf("%-5s %-16s %-20s %9lld %9lld %9s %8lld %9lld\n", o->ids[i],
		       o->runs[i].name ? o->runs[i].name : "-", o->runs[i].model ? o->runs[i].model : "-",
		       cr->run[i].scored, cr->run[i].correct, pct(buf, sizeof(buf), &cr->run[i]), cr->run[i].failed,
		       cr->run[i].unscored);
	printf("%-5s %-16s %-20s %9lld %9lld %9s %8s %9lld\n", "best", "best-of-N", "(any run right)",
	       cr->best.scored, cr->best.correct, pct(buf, sizeof(buf), &cr->best), "", cr->best.unscored);
	print_subjects(o);
	printf("\nitems no run answers right (scored by at least one run): %lld\n", cr->n_uncovered);
	for (int i = 0; i < o->u->n; i++)
		printf("  %s\n", o->u->first[i]);
	if (cr->n_uncovered > o->u->n)
		printf("  ... (%s)\n", o->a->ufile ? "all of them are in the --uncovered file" :
		       "--uncovered FILE writes all of them");
}

/* One row: run i's counts, or best-of-N's with i == n. */
static void emit_counts(struct table *t, const struct cov_out *o, const char *subject, size_t i,
			const struct coverage_counts *c)
{
	int best = i == o->n;
	table_str(t, subject);
	table_str(t, best ? "best-of-N" : o->ids[i]);
	table_str(t, best ? NULL : o->runs[i].name);
	table_str(t, best ? NULL : o->runs[i].model);
	table_int(t, c->items);
	table_int(t, c->scored);
	table_int(t, c->correct);
	table_real(t, coverage_value(c));
	if (best)
		table_null(t);
	else
		table_int(t, c->failed);
	table_int(t, c->unscored);
	table_end_row(t);
}

static long print_table(const struct cov_out *o)
{
	const struct coverage_result *cr = o->cr;
	struct table t;
	long rows;

	table_init(&t, o->a->cc.format, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	for (size_t i = 0; i <= o->n; i++)
		emit_counts(&t, o, NULL, i, i < o->n ? &cr->run[i] : &cr->best);
	for (size_t s = 0; s < cr->nsubj; s++)
		for (size_t i = 0; i <= o->n; i++)
			emit_counts(&t, o, cr->subj[s].subject, i, i < o->n ? &cr->subj[s].run[i] : &cr->subj[s].best);
	rows = table_finish(&t);
	table_release(&t);
	return rows;
}

static int parse_args(struct cov_args *a, int argc, char **argv, int *first)
{
	int rc;
	memset(a, 0, sizeof(*a));
	cmd_common_init(&a->cc, "coverage", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a->cc, cov_opts, NOPTS, a, argc, argv, first, NULL, usage)))
		return rc;
	if (*first >= argc) {
		fprintf(stderr, "ipw coverage: name at least one run\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

/* Runs the analysis, writing the --uncovered file; 0 or the exit status (said). */
static int compute(struct store *st, const struct cov_out *o, struct uncovered_ctx *u, struct coverage_result *cr)
{
	char err[IPW_ERRLEN];
	const char *ufile = o->a->ufile;

	if (ufile && !(u->f = fopen(ufile, "w"))) {
		fprintf(stderr, "ipw coverage: cannot write '%s': %m\n", ufile);
		return EXIT_ENV;
	}
	if (analysis_coverage(st, (const char *const *)o->ids, o->n, o->a->intersect, on_uncovered, u, cr, err,
			      sizeof(err)) != 0) {
		fprintf(stderr, "ipw coverage: %s\n", err);
		return EXIT_INPUT;
	}
	if (u->f) {
		int bad = fclose(u->f) != 0;
		u->f = NULL;
		if (bad) {
			fprintf(stderr, "ipw coverage: writing '%s' failed\n", ufile);
			coverage_result_release(cr);
			return EXIT_ENV;
		}
	}
	return 0;
}

int cmd_coverage(int argc, char **argv)
{
	struct cov_args a;
	struct store st;
	struct coverage_result cr;
	struct uncovered_ctx u;
	struct run_record *runs = NULL;
	char **ids = NULL;
	struct cov_out o;
	int rc, first = 0, opened = 0;
	size_t n;

	memset(&u, 0, sizeof(u));
	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	n = (size_t)(argc - first);
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		return rc;
	opened = 1;
	if ((rc = cmd_runs_get(&a.cc, &st, argv + first, n, &runs, &ids)))
		goto out;
	o = (struct cov_out){&a, &cr, runs, ids, n, &u};
	if ((rc = compute(&st, &o, &u, &cr)))
		goto out;
	if (a.cc.format == OUT_JSON)
		print_json(&o);
	else if (a.cc.format == OUT_TEXT)
		print_text(&o);
	else if (print_table(&o) < 0)
		rc = EXIT_ENV;
	coverage_result_release(&cr);
	if (fflush(stdout) != 0)
		rc = EXIT_ENV;
out:
	if (u.f)
		fclose(u.f);
	for (int i = 0; i < u.n; i++)
		free(u.first[i]);
	cmd_runs_free(runs, ids, n);
	if (opened)
		store_close(&st);
	return rc;
}
