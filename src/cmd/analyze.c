/*
 * cmd/analyze.c - 'ipw analyze RUN': the run's metrics overall and per
 * subject, least-squares regressions of energy, latency and TTFT on token
 * counts (coefficients with intervals, R²), and with --weights FILE the
 * subject-weighted accuracy, IPW and IPJ. Text and one JSON object as
 * always; --format csv|jsonl: one row per estimate.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis.h"
#include "common.h"
#include "common_opts.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

struct an_args {
	struct cmd_common cc;
	struct metrics_options mo;
	const char *wfile;
};

#define A(f) offsetof(struct an_args, f)
static const struct opt_def an_opts[] = {
	CMD_OPTDEFS_COMMON(struct an_args, cc),
	{"weights", 0, OPT_STRING, A(wfile), "FILE", "subject weights (e.g. GDP shares): JSON {\"subject\": w} or "
	 "lines 'subject,w'", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"bootstrap", 0, OPT_INT, A(mo.bootstrap), "N", "resamples for the intervals (default 2000; 0 = none)",
	 NULL, 0, 1e9, OPT_BOUNDED, NULL, "a count >= 0", NULL},
	{"seed", 0, OPT_ULL, A(mo.seed), "N", "seed of the resampling", NULL, 0, 0, 0, NULL, NULL, &cmd_seed_hooks},
};
#define NOPTS (sizeof(an_opts) / sizeof(an_opts[0]))

/* csv / jsonl: one row per estimate */
static const struct tcol cols[] = {
	{"section", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},  /* overall, subject, regression, weighted */
	{"key", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},      /* the subject or the regression's model */
	{"quantity", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"n", NULL, NULL, TCOL_INT, NULL, TCOL_BOTH},        /* scored queries, or observations */
	{"value", NULL, NULL, TCOL_REAL, "%.6g", TCOL_BOTH},
	{"ci_low", NULL, NULL, TCOL_REAL, "%.6g", TCOL_BOTH},
	{"ci_high", NULL, NULL, TCOL_REAL, "%.6g", TCOL_BOTH},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw analyze RUN [--store PATH] [--format text|json|csv|jsonl] [--json] [--weights FILE]\n"
		"                   [--bootstrap N] [--seed N]\n"
		"  RUN                  a run id, a name only one run has, or 'last'\n");
	opt_usage(f, an_opts, NOPTS);
	fprintf(f, "json is one object; csv and jsonl are one row per estimate: section (overall, subject,\n"
		"regression, weighted), key (subject or model), quantity, n, value, ci_low, ci_high.\n");
}

static json_t *jmv(struct metric_value v)
{
	return json_pack("{s:o, s:o, s:o}", "value", json_real_or_null(v.value), "ci_low", json_real_or_null(v.ci_low),
			 "ci_high", json_real_or_null(v.ci_high));
}

static const char *fmv(char *out, size_t n, const char *f, struct metric_value v)
{
	char a[40], b[40], c[40];
	if (!isfinite(v.value))
		return snprintf(out, n, "-"), out;
	snprintf(a, sizeof(a), f, v.value);
	if (!isfinite(v.ci_low))
		return snprintf(out, n, "%s", a), out;
	snprintf(b, sizeof(b), f, v.ci_low);
	snprintf(c, sizeof(c), f, v.ci_high);
	snprintf(out, n, "%s [%s, %s]", a, b, c);
	return out;
}

static json_t *metrics_json(const struct metrics *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "scored", json_integer(m->n_scored));
	json_object_set_new(o, "failed", json_integer(m->n_failed));
	json_object_set_new(o, "unscored", json_integer(m->n_unscored));
	json_object_set_new(o, "accuracy", jmv(m->accuracy));
	json_object_set_new(o, "ipw", jmv(m->ipw));
	json_object_set_new(o, "ipj", jmv(m->ipj));
	json_object_set_new(o, "j_per_query", jmv(m->energy_j));
	json_object_set_new(o, "power_w", jmv(m->power_w));
	return o;
}

static json_t *list_json(char **l)
{
	json_t *a = json_array();
	for (size_t i = 0; l && l[i]; i++)
		json_array_append_new(a, json_string(l[i]));
	return a;
}

/* Everything analyze computes for one run. */
struct an_result {
	struct run_record r;
	struct run_data d;
	struct metrics m;
	struct subject_metrics *sm;
	size_t nsm;
	struct weight_entry *w;
	size_t nw;
	struct weighted_result wr;
	struct run_regressions rg;
	int loaded, weighted;
};

static void an_result_release(struct an_result *x)
{
	if (x->weighted)
		weighted_result_release(&x->wr);
	weights_free(x->w, x->nw);
	subject_metrics_free(x->sm, x->nsm);
	if (x->loaded)
		run_data_release(&x->d);
	run_record_release(&x->r);
}

static json_t *regression_json(int k, const struct run_regressions *rg)
{
	const struct reg_spec *sp = &analysis_reg_specs[k];
	json_t *ro = json_object(), *co;
	json_object_set_new(ro, "model", json_string(sp->name));
	json_object_set_new(ro, "n", json_integer(rg->r[k].n));
	if (!rg->ok[k]) {
		json_object_set_new(ro, "error", json_string(rg->why[k]));
		return ro;
	}
	co = json_object();
	json_object_set_new(co, "intercept", jmv(rg->r[k].ci[0]));
	for (int j = 0; j < sp->k; j++)
		json_object_set_new(co, sp->x[j], jmv(rg->r[k].ci[j + 1]));
	json_object_set_new(ro, "coefficients", co);
	json_object_set_new(ro, "r2", json_real_or_null(rg->r[k].r2));
	json_object_set_new(ro, "residual_se", json_real_or_null(rg->r[k].sigma));
	return ro;
}

static json_t *weighted_json(const struct weighted_result *wr)
{
	json_t *wo = json_object();
	json_object_set_new(wo, "accuracy", jmv(wr->accuracy));
	json_object_set_new(wo, "ipw", jmv(wr->ipw));
	json_object_set_new(wo, "ipj", jmv(wr->ipj));
	json_object_set_new(wo, "weight_used", json_real_or_null(wr->weight_used));
	json_object_set_new(wo, "weight_total", json_real_or_null(wr->weight_total));
	json_object_set_new(wo, "gdp_value", jmv(wr->gdp_value));
	json_object_set_new(wo, "gdp_share", jmv(wr->gdp_share));
	json_object_set_new(wo, "subjects_without_weight", list_json(wr->unweighted));
	json_object_set_new(wo, "weighted_subjects_absent", list_json(wr->absent));
	return wo;
}

static void print_json(const struct an_result *x)
{
	json_t *o = json_object(), *subj = json_array(), *regs = json_array();
	json_object_set_new(o, "run", json_integer(strtoll(x->r.id, NULL, 10)));
	json_object_set_new(o, "name", json_string(x->r.name ? x->r.name : ""));
	json_object_set_new(o, "queries", json_integer((json_int_t)x->d.n));
	json_object_set_new(o, "overall", metrics_json(&x->m));
	for (size_t i = 0; i < x->nsm; i++) {
		json_t *so = metrics_json(&x->sm[i].m);
		json_object_set_new(so, "subject", json_string(x->sm[i].subject));
		json_array_append_new(subj, so);
	}
	json_object_set_new(o, "subjects", subj);
	for (int k = 0; k < REG_COUNT; k++)
		json_array_append_new(regs, regression_json(k, &x->rg));
	json_object_set_new(o, "regressions", regs);
	if (x->weighted)
		json_object_set_new(o, "weighted", weighted_json(&x->wr));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	putchar('\n');
	json_decref(o);
}

static void print_regressions(const struct run_regressions *rg, double level)
{
	char a[128];
	printf("\nregressions (least squares over ok queries; %g%% intervals from Student's t)\n", 100 * level);
	for (int k = 0; k < REG_COUNT; k++) {
		const struct reg_spec *sp = &analysis_reg_specs[k];
		printf("  %s\n", sp->name);
		if (!rg->ok[k]) {
			printf("    not fitted: %s\n", rg->why[k]);
			continue;
		}
		printf("    n %lld, R² %.4f, residual s.e. %.4g\n", rg->r[k].n, rg->r[k].r2, rg->r[k].sigma);
		printf("    %-16s %s\n", "intercept", fmv(a, sizeof(a), "%.6g", rg->r[k].ci[0]));
		for (int j = 0; j < sp->k; j++)
			printf("    %-16s %s per token\n", sp->x[j], fmv(a, sizeof(a), "%.6g", rg->r[k].ci[j + 1]));
	}
}

static void print_weighted(const struct weighted_result *wr, const char *wfile)
{
	char a[128], b[128], c[128];
	printf("\nsubject-weighted (weights from %s, %.6g of the weight present)\n", wfile, wr->weight_used);
	printf("  accuracy %s   IPW %s /W   IPJ %s /J\n", fmv(a, sizeof(a), "%.4f", wr->accuracy),
	       fmv(b, sizeof(b), "%.4g", wr->ipw), fmv(c, sizeof(c), "%.4g", wr->ipj));
	printf("  GDP form: sum of weight x accuracy %s (the weights' unit, e.g. USD answered right); share of all "
	       "%.6g of the file's weight %s\n", fmv(a, sizeof(a), "%.6g", wr->gdp_value), wr->weight_total,
	       fmv(b, sizeof(b), "%.4f", wr->gdp_share));
	for (size_t i = 0; wr->unweighted[i]; i++)
		printf("  subject '%s' has no weight: left out\n", wr->unweighted[i]);
	for (size_t i = 0; wr->absent[i]; i++)
		printf("  weighted subject '%s' is not in this run: left out\n", wr->absent[i]);
}

static void print_text(const struct an_result *x, const struct an_args *args)
{
	const struct metrics *m = &x->m;
	char a[128], b[128], c[128];

	printf("run %s  %s  (%zu queries: %d scored, %d failed, %d unscored)\n", x->r.id, x->r.name ? x->r.name : "-",
	       x->d.n, m->n_scored, m->n_failed, m->n_unscored);
	printf("  accuracy %s   IPW %s /W   IPJ %s /J\n", fmv(a, sizeof(a), "%.4f", m->accuracy),
	       fmv(b, sizeof(b), "%.4g", m->ipw), fmv(c, sizeof(c), "%.4g", m->ipj));
	printf("\nper subject\n%-24s %7s  %-26s %-30s %-30s\n", "subject", "scored", "accuracy", "IPW (1/W)",
	       "IPJ (1/J)");
	for (size_t i = 0; i < x->nsm; i++)
		printf("%-24s %7d  %-26s %-30s %-30s\n", *x->sm[i].subject ? x->sm[i].subject : "(none)",
		       x->sm[i].m.n_scored, fmv(a, sizeof(a), "%.4f", x->sm[i].m.accuracy),
		       fmv(b, sizeof(b), "%.4g", x->sm[i].m.ipw), fmv(c, sizeof(c), "%.4g", x->sm[i].m.ipj));
	print_regressions(&x->rg, args->mo.level);
	if (x->weighted)
		print_weighted(&x->wr, args->wfile);
}

static void emit(struct table *t, const char *section, const char *key, const char *q, long long n,
		 struct metric_value v)
{
	table_str(t, section);
	table_str(t, key);
	table_str(t, q);
	table_count(t, n);
	table_real(t, v.value);
	table_real(t, v.ci_low);
	table_real(t, v.ci_high);
	table_end_row(t);
}

static void emit_metrics(struct table *t, const char *section, const char *key, const struct metrics *m)
{
	emit(t, section, key, "accuracy", m->n_scored, m->accuracy);
	emit(t, section, key, "ipw", m->n_scored, m->ipw);
	emit(t, section, key, "ipj", m->n_scored, m->ipj);
	emit(t, section, key, "j_per_query", m->n_scored, m->energy_j);
	emit(t, section, key, "power_w", m->n_scored, m->power_w);
}

static void emit_regression(struct table *t, int k, const struct run_regressions *rg)
{
	const struct reg_spec *sp = &analysis_reg_specs[k];
	const struct regression *r = &rg->r[k];
	if (!rg->ok[k])
		return;
	emit(t, "regression", sp->name, "intercept", r->n, r->ci[0]);
	for (int j = 0; j < sp->k; j++)
		emit(t, "regression", sp->name, sp->x[j], r->n, r->ci[j + 1]);
	emit(t, "regression", sp->name, "r2", r->n, (struct metric_value){r->r2, NAN, NAN});
	emit(t, "regression", sp->name, "residual_se", r->n, (struct metric_value){r->sigma, NAN, NAN});
}

static long print_table(const struct an_result *x, enum out_format fmt)
{
	struct table t;
	long n;

	table_init(&t, fmt, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	emit_metrics(&t, "overall", NULL, &x->m);
	for (size_t i = 0; i < x->nsm; i++)
		emit_metrics(&t, "subject", x->sm[i].subject, &x->sm[i].m);
	for (int k = 0; k < REG_COUNT; k++)
		emit_regression(&t, k, &x->rg);
	if (x->weighted) {
		emit(&t, "weighted", NULL, "accuracy", -1, x->wr.accuracy);
		emit(&t, "weighted", NULL, "ipw", -1, x->wr.ipw);
		emit(&t, "weighted", NULL, "ipj", -1, x->wr.ipj);
		emit(&t, "weighted", NULL, "weight_used", -1, (struct metric_value){x->wr.weight_used, NAN, NAN});
		emit(&t, "weighted", NULL, "gdp_value", -1, x->wr.gdp_value);
		emit(&t, "weighted", NULL, "gdp_share", -1, x->wr.gdp_share);
		emit(&t, "weighted", NULL, "weight_total", -1, (struct metric_value){x->wr.weight_total, NAN, NAN});
	}
	n = table_finish(&t);
	table_release(&t);
	return n;
}

static int parse_args(struct an_args *a, int argc, char **argv, int *first)
{
	int rc;
	memset(a, 0, sizeof(*a));
	metrics_options_init(&a->mo);
	cmd_common_init(&a->cc, "analyze", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a->cc, an_opts, NOPTS, a, argc, argv, first, NULL, usage)))
		return rc;
	if (argc - *first != 1) {
		fprintf(stderr, "ipw analyze: %s\n", *first >= argc ? "name one run" : "name only one run");
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

/* Loads the run and computes everything; 0 or EXIT_INPUT (said). */
static int analyze(struct store *st, const struct an_args *a, struct an_result *x)
{
	char err[IPW_ERRLEN];
	struct metrics_input in;

	if (run_data_load(st, x->r.id, &x->d, err, sizeof(err)) < 0)
		goto say;
	x->loaded = 1;
	run_data_metrics_input(&x->d, &in);
	if (metrics_compute(&in, &a->mo, &x->m, err, sizeof(err)) < 0 ||
	    metrics_by_subject(&in, &a->mo, &x->sm, &x->nsm, err, sizeof(err)) < 0)
		goto say;
	analysis_run_regressions(&x->d, a->mo.level, &x->rg);
	if (x->w) {
		if (analysis_weighted(&x->d, x->w, x->nw, &a->mo, &x->wr, err, sizeof(err)) < 0)
			goto say;
		x->weighted = 1;
	}
	return 0;
say:
	fprintf(stderr, "ipw analyze: %s\n", err);
	return EXIT_INPUT;
}

int cmd_analyze(int argc, char **argv)
{
	struct an_args a;
	struct an_result x;
	struct store st;
	char err[IPW_ERRLEN];
	int rc, first = 0, opened = 0;

	memset(&x, 0, sizeof(x));
	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	if (a.wfile && analysis_weights_read(a.wfile, &x.w, &x.nw, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw analyze: %s\n", err);
		return EXIT_INPUT;
	}
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_run_get(&a.cc, &st, argv[first], &x.r)) || (rc = analyze(&st, &a, &x)))
		goto out;
	if (a.cc.format == OUT_JSON)
		print_json(&x);
	else if (a.cc.format == OUT_TEXT)
		print_text(&x, &a);
	else if (print_table(&x, a.cc.format) < 0)
		rc = EXIT_ENV;
	if (fflush(stdout) != 0)
		rc = EXIT_ENV;
out:
	an_result_release(&x);
	if (opened)
		store_close(&st);
	return rc;
}
