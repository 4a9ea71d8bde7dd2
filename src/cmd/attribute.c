/*
 * cmd/attribute.c - 'ipw attribute RUN_A RUN_B': splits the change of IPW
 * from run A to run B into the accuracy factor (the model) and the power
 * factor (the hardware), and IPJ's into accuracy and energy, as the paper's
 * trend analysis does (5.3x = 3.1x accuracy x 1.7x lower power). Text
 * and one JSON object as always; --format csv|jsonl: one row per quantity.
 * Intervals as compare's --ci: by default (auto) the bootstrap, but the delta
 * method when either run has more than AGG_CI_AUTO_MAX scored queries (2,000
 * resamples of two runs of 200,000 queries took minutes).
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

struct attr_args {
	struct cmd_common cc;
	struct metrics_options mo;
	enum agg_ci ci;
};

static int ci_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct attr_args *a = t;
	(void)d;
	if (!strcmp(arg, "auto"))
		a->ci = AGG_CI_AUTO;
	else if (!strcmp(arg, "bootstrap"))
		a->ci = AGG_CI_BOOTSTRAP;
	else if (!strcmp(arg, "delta"))
		a->ci = AGG_CI_DELTA;
	else
		return err_set(err, errlen, "--ci is 'auto', 'bootstrap' or 'delta'");
	return 0;
}
static const struct opt_hooks ci_hooks = {.parse = ci_parse, NULL};

#define A(f) offsetof(struct attr_args, f)
static const struct opt_def attr_opts[] = {
	CMD_OPTDEFS_COMMON(struct attr_args, cc),
	{"ci", 0, OPT_STRING, OPT_NOFIELD, "METHOD", "'bootstrap' (percentile bootstrap, each run resampled),\n"
	 "'delta' (normal approximation, O(n)), or 'auto' (default: the\n"
	 "bootstrap when both runs have up to 50000 scored queries, else delta)",
	 NULL, 0, 0, 0, NULL, NULL, &ci_hooks},
	{"bootstrap", 0, OPT_INT, A(mo.bootstrap), "N", "resamples for the intervals (default 2000; 0 = none)",
	 NULL, 0, 1e9, OPT_BOUNDED, NULL, "a count >= 0", NULL},
	{"seed", 0, OPT_ULL, A(mo.seed), "N", "seed of the resampling", NULL, 0, 0, 0, NULL, NULL, &cmd_seed_hooks},
};
#define NOPTS (sizeof(attr_opts) / sizeof(attr_opts[0]))

static const struct tcol cols[] = {
	{"quantity", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"value", NULL, NULL, TCOL_REAL, "%.6g", TCOL_BOTH},
	{"ci_low", NULL, NULL, TCOL_REAL, "%.6g", TCOL_BOTH},
	{"ci_high", NULL, NULL, TCOL_REAL, "%.6g", TCOL_BOTH},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw attribute RUN_A RUN_B [--store PATH] [--format text|json|csv|jsonl] [--json]\n"
		"                     [--ci auto|bootstrap|delta] [--bootstrap N] [--seed N]\n"
		"  IPW_B/IPW_A = (acc_B/acc_A) x (P_A/P_B);  IPJ_B/IPJ_A = (acc_B/acc_A) x (E_A/E_B)\n");
	opt_usage(f, attr_opts, NOPTS);
	fprintf(f, "json is one object; csv and jsonl are one row per quantity (value, ci_low, ci_high).\n");
}

static json_t *jmv(struct metric_value v)
{
	return json_pack("{s:o, s:o, s:o}", "value", json_real_or_null(v.value), "ci_low", json_real_or_null(v.ci_low),
			 "ci_high", json_real_or_null(v.ci_high));
}

static const char *fx(char *out, size_t n, struct metric_value v)
{
	if (!isfinite(v.value))
		snprintf(out, n, "-");
	else if (isfinite(v.ci_low))
		snprintf(out, n, "%.3fx [%.3f, %.3f]", v.value, v.ci_low, v.ci_high);
	else
		snprintf(out, n, "%.3fx", v.value);
	return out;
}

static json_t *side_json(const char *id, const struct run_record *r, const struct metrics *m)
{
	return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "run", (json_int_t)strtoll(id, NULL, 10),
			 "name", r->name ? r->name : "", "accuracy", json_real_or_null(m->accuracy.value),
			 "ipw", json_real_or_null(m->ipw.value), "ipj", json_real_or_null(m->ipj.value), "power_w", json_real_or_null(m->power_w.value),
			 "j_per_query", json_real_or_null(m->energy_j.value));
}

/* The intervals' method: "bootstrap", "delta", or "none" (--bootstrap 0). */
static const char *ci_used(const struct metrics_options *mo, enum agg_ci ci)
{
	return mo->bootstrap <= 0 ? "none" : ci == AGG_CI_DELTA ? "delta" : "bootstrap";
}

static void print_json(const struct run_record *ra, const struct run_record *rb, const struct attribution *at,
		       const char *intervals)
{
	json_t *o = json_object();
	json_object_set_new(o, "a", side_json(ra->id, ra, &at->a));
	json_object_set_new(o, "b", side_json(rb->id, rb, &at->b));
	json_object_set_new(o, "ipw_ratio", jmv(at->ipw_ratio));
	json_object_set_new(o, "ipj_ratio", jmv(at->ipj_ratio));
	json_object_set_new(o, "accuracy_factor", jmv(at->acc_factor));
	json_object_set_new(o, "power_factor", jmv(at->power_factor));
	json_object_set_new(o, "energy_factor", jmv(at->energy_factor));
	json_object_set_new(o, "accuracy_share_of_ipw_change", json_real_or_null(at->acc_share_ipw));
	json_object_set_new(o, "accuracy_share_of_ipj_change", json_real_or_null(at->acc_share_ipj));
	json_object_set_new(o, "intervals", json_string(intervals));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	putchar('\n');
	json_decref(o);
}

static void print_side(const char *tag, const struct run_record *r, const struct metrics *m)
{
	printf("%s: run %s %-16s accuracy %.4f  power %.4g W  energy %.4g J  IPW %.4g /W  IPJ %.4g /J\n", tag, r->id,
	       r->name ? r->name : "-", m->accuracy.value, m->power_w.value, m->energy_j.value, m->ipw.value,
	       m->ipj.value);
}

static void print_text(const struct run_record *ra, const struct run_record *rb, const struct attribution *at,
		       double level, const char *intervals, enum agg_ci asked)
{
	char a[96], b[96], c[96];
	print_side("A", ra, &at->a);
	print_side("B", rb, &at->b);
	printf("\nIPW  B/A %s = accuracy %s x power (A/B) %s\n", fx(a, sizeof(a), at->ipw_ratio),
	       fx(b, sizeof(b), at->acc_factor), fx(c, sizeof(c), at->power_factor));
	printf("IPJ  B/A %s = accuracy %s x energy (A/B) %s\n", fx(a, sizeof(a), at->ipj_ratio),
	       fx(b, sizeof(b), at->acc_factor), fx(c, sizeof(c), at->energy_factor));
	if (isfinite(at->acc_share_ipw))
		printf("share of the log change due to accuracy: IPW %.1f%%, IPJ %.1f%%\n", 100 * at->acc_share_ipw,
		       isfinite(at->acc_share_ipj) ? 100 * at->acc_share_ipj : NAN);
	if (!strcmp(intervals, "delta"))
		printf("(accuracy factor over queries with measured energy; %g%% normal-approximation (delta method) "
		       "intervals, the runs independent%s)\n", 100 * level, asked == AGG_CI_AUTO ? ", chosen by --ci "
		       "auto: a run has more than 50000 scored queries" : "");
	else
		printf("(accuracy factor over queries with measured energy; %g%% bootstrap intervals, runs resampled "
		       "independently)\n", 100 * level);
}

static void emit(struct table *t, const char *q, struct metric_value v)
{
	table_str(t, q);
	table_real(t, v.value);
	table_real(t, v.ci_low);
	table_real(t, v.ci_high);
	table_end_row(t);
}

static long print_table(enum out_format fmt, const struct attribution *at)
{
	const struct {
		const char *q;
		struct metric_value v;
	} rows[] = {
		{"a_accuracy", at->a.accuracy}, {"a_power_w", at->a.power_w}, {"a_j_per_query", at->a.energy_j},
		{"a_ipw", at->a.ipw}, {"a_ipj", at->a.ipj}, {"b_accuracy", at->b.accuracy},
		{"b_power_w", at->b.power_w}, {"b_j_per_query", at->b.energy_j}, {"b_ipw", at->b.ipw},
		{"b_ipj", at->b.ipj}, {"ipw_ratio", at->ipw_ratio}, {"ipj_ratio", at->ipj_ratio},
		{"accuracy_factor", at->acc_factor}, {"power_factor", at->power_factor},
		{"energy_factor", at->energy_factor},
		{"accuracy_share_of_ipw_change", {at->acc_share_ipw, NAN, NAN}},
		{"accuracy_share_of_ipj_change", {at->acc_share_ipj, NAN, NAN}},
	};
	struct table t;
	long n;

	table_init(&t, fmt, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		emit(&t, rows[i].q, i < 10 ? (struct metric_value){rows[i].v.value, NAN, NAN} : rows[i].v);
	n = table_finish(&t);
	table_release(&t);
	return n;
}

static int parse_args(struct attr_args *a, int argc, char **argv, int *first)
{
	int rc;
	memset(a, 0, sizeof(*a));
	metrics_options_init(&a->mo);
	a->ci = AGG_CI_AUTO;
	cmd_common_init(&a->cc, "attribute", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a->cc, attr_opts, NOPTS, a, argc, argv, first, NULL, usage)))
		return rc;
	if (argc - *first != 2) {
		fprintf(stderr, "ipw attribute: name two runs, the earlier (A) then the later (B)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	return 0;
}

/* Loads both runs' queries and attributes; 0 or EXIT_INPUT (said). */
static int attribute(struct store *st, const struct run_record *ra, const struct run_record *rb,
		     const struct metrics_options *mo, enum agg_ci asked, enum agg_ci *ci, struct attribution *at)
{
	char err[IPW_ERRLEN];
	struct run_data da, db;
	int rc = EXIT_INPUT;

	if (run_data_load(st, ra->id, &da, err, sizeof(err)) < 0)
		goto say;
	if (run_data_load(st, rb->id, &db, err, sizeof(err)) < 0) {
		run_data_release(&da);
		goto say;
	}
	if (analysis_attribute_ci(&da, &db, mo, asked, ci, at, err, sizeof(err)) == 0)
		rc = 0;
	run_data_release(&da);
	run_data_release(&db);
	if (rc == 0)
		return 0;
say:
	fprintf(stderr, "ipw attribute: %s\n", err);
	return rc;
}

int cmd_attribute(int argc, char **argv)
{
	struct attr_args a;
	struct store st;
	struct run_record ra, rb;
	struct attribution at;
	enum agg_ci ci = AGG_CI_BOOTSTRAP;
	int rc, first = 0;

	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		return rc;
	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	if ((rc = cmd_run_get(&a.cc, &st, argv[first], &ra)) || (rc = cmd_run_get(&a.cc, &st, argv[first + 1], &rb)) ||
	    (rc = attribute(&st, &ra, &rb, &a.mo, a.ci, &ci, &at)))
		goto out;
	if (a.cc.format == OUT_JSON)
		print_json(&ra, &rb, &at, ci_used(&a.mo, ci));
	else if (a.cc.format == OUT_TEXT)
		print_text(&ra, &rb, &at, a.mo.level, ci_used(&a.mo, ci), a.ci);
	else if (print_table(a.cc.format, &at) < 0)
		rc = EXIT_ENV;
	if (fflush(stdout) != 0)
		rc = EXIT_ENV;
out:
	run_record_release(&ra);
	run_record_release(&rb);
	store_close(&st);
	return rc;
}
