/*
 * cmd/route.c - 'ipw route simulate --local RUN... --cloud RUN': the
 * paper's hybrid-routing analysis over runs of the same items: energy,
 * compute and cost saved against cloud-only by an oracle router, a router of
 * accuracy p (exact expectation and seeded Monte Carlo) and a cascade.
 * Text and one JSON object as always; --format csv|jsonl (--csv): one row
 * per scheme, p and method.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../estimate.h"
#include "analysis.h"
#include "analysis/paper.h"
#include "common.h"
#include "common_opts.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

#define DEFAULT_P "1,0.8,0.6"
#define DEFAULT_TRIALS 200
#define ROUTE_SEED 0x5eed0f4011ULL

struct route_args {
	struct cmd_common cc;
	struct route_options o;
	char **local;          /* --local and the operands, NULL-terminated */
	size_t nlocal;
	const char *cloud, *prices, *params, *plist, *meta;
	int csv;               /* --csv, short for --format csv */
	int allow_estimated;   /* --allow-estimated */
	double daily;          /* --daily-queries; 0 = not asked */
};

static int local_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static int choice_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static int csv_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static const struct opt_hooks local_hooks = {local_parse, NULL, NULL, NULL, NULL, NULL};
static const struct opt_hooks choice_hooks = {choice_parse, NULL, NULL, NULL, NULL, NULL};
static const struct opt_hooks csv_hooks = {csv_parse, NULL, NULL, NULL, NULL, NULL};

#define A(f) offsetof(struct route_args, f)
static const struct opt_def route_opts[] = {
	CMD_OPTDEFS_COMMON(struct route_args, cc),
	{"csv", 0, OPT_FLAG, A(csv), NULL, "short for --format csv", NULL, 0, 0, 0, NULL, NULL, &csv_hooks},
	{"local", 0, OPT_STRING, OPT_NOFIELD, "RUN...", "local runs (repeat the flag, give a comma list, or list them "
	 "after it);\nthe first one is the cascade's first tier", NULL, 0, 0, 0, NULL, NULL, &local_hooks},
	{"cloud", 0, OPT_STRING, A(cloud), "RUN", "the cloud baseline every item falls back to", NULL, 0, 0, 0, NULL,
	 NULL, NULL},
	{"router-accuracy", 0, OPT_LIST, A(plist), "LIST", "router accuracies p (default " DEFAULT_P ")", NULL, 0, 0, 0,
	 NULL, NULL, NULL},
	{"objective", 0, OPT_STRING, OPT_NOFIELD, "energy|cost", "what the oracle minimises (default energy)", NULL, 0,
	 0, 0, NULL, NULL, &choice_hooks},
	{"prices", 0, OPT_STRING, A(prices), "FILE", "USD per 1M tokens per model: JSON {\"model\": {\"input\": X, "
	 "\"output\": Y}}\nor lines 'model input output' (needed for cost)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"params", 0, OPT_STRING, A(params), "FILE", "active parameters per model: JSON {\"model\": 8e9} or lines "
	 "'model 8e9'\n(needed for compute: FLOPs = 2 x parameters x tokens)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"model-meta", 0, OPT_STRING, A(meta), "FILE", "model metadata (total and active parameters, ...; "
	 "docs/analysis.md);\nits active parameters serve where --params gives none", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"compute", 0, OPT_STRING, OPT_NOFIELD, "active|total", "parameters compute is counted with: FLOPs = 2 x "
	 "active (default)\nor 2 x total parameters x tokens (the paper's 77.3% oracle saving is total)", NULL, 0, 0, 0,
	 NULL, NULL, &choice_hooks},
	{"misroute", 0, OPT_STRING, OPT_NOFIELD, "one-sided|two-sided", "the router's errors: one-sided (default, the "
	 "paper's: an answerable\nquery may go to the cloud) or two-sided (also: a query no local run\nanswers is "
	 "kept local with probability 1 - p, answered wrong)", NULL, 0, 0, 0, NULL, NULL, &choice_hooks},
	{"daily-queries", 0, OPT_DOUBLE, A(daily), "N", "also report energy (kWh), cost and compute per day for N "
	 "queries a day\n(the paper: 80.2M)", NULL, 0, 1e15, OPT_BOUNDED | OPT_MIN_OPEN, NULL, "a number > 0", NULL},
	{"trials", 0, OPT_INT, A(o.trials), "N", "Monte Carlo trials per p (default 200; 0 = exact expectation only)",
	 NULL, 0, 100000, OPT_BOUNDED, NULL, "a count in 0..100000", NULL},
	{"seed", 0, OPT_ULL, A(o.seed), "N", "seed of the Monte Carlo draws", NULL, 0, 0, 0, NULL, NULL,
	 &cmd_seed_hooks},
	{"intersect", 0, OPT_FLAG, A(o.intersect), NULL, "drop items missing from a run (or unmeasured at the cloud), "
	 "and count them", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"allow-estimated", 0, OPT_FLAG, A(allow_estimated), NULL, "mix runs with estimated energy (--api builtin) and "
	 "measured ones\n(refused otherwise)", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(route_opts) / sizeof(route_opts[0]))

static const char *const fields[] = {"energy_j", "flops", "cost_usd", "saved_energy", "saved_compute", "saved_cost",
				     "local_share", "accuracy", "kept_wrong", "flops_active", "flops_total",
				     "saved_compute_active", "saved_compute_total"};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))
#define RCOL(f) {f, NULL, NULL, TCOL_REAL, NULL, TCOL_BOTH}, {f "_lo", NULL, NULL, TCOL_REAL, NULL, TCOL_BOTH}, \
	{f "_hi", NULL, NULL, TCOL_REAL, NULL, TCOL_BOTH}
static const struct tcol cols[] = {
	{"scheme", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	{"p", NULL, NULL, TCOL_REAL, NULL, TCOL_BOTH},
	{"method", NULL, NULL, TCOL_STR, NULL, TCOL_BOTH},
	RCOL("energy_j"), RCOL("flops"), RCOL("cost_usd"), RCOL("saved_energy"), RCOL("saved_compute"),
	RCOL("saved_cost"), RCOL("local_share"), RCOL("accuracy"), RCOL("kept_wrong"), RCOL("flops_active"),
	RCOL("flops_total"), RCOL("saved_compute_active"), RCOL("saved_compute_total"), RCOL("energy_kwh_per_day"),
	RCOL("cost_usd_per_day"), RCOL("flops_per_day"),
};

/* The row's values in the order of fields[]. */
static void row_values(const struct route_row *w, const struct route_value **v)
{
	const struct route_value *x[NFIELDS] = {&w->energy_j, &w->flops, &w->cost_usd, &w->saved_energy,
						&w->saved_compute, &w->saved_cost, &w->local_share, &w->accuracy,
						&w->kept_wrong, &w->flops_active, &w->flops_total,
						&w->saved_compute_active, &w->saved_compute_total};
	memcpy(v, x, sizeof(x));
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw route simulate --local RUN... --cloud RUN [options]\n"
		"       (also: ipw route serve | train | replay | simulate --router FILE; docs/router.md)\n");
	opt_usage(f, route_opts, NOPTS);
	fprintf(f, "json is one object; csv and jsonl are one row per scheme, p and method, each value with\n"
		"its Monte Carlo spread (_lo, _hi).\n");
}

static json_t *jrv(struct route_value v)
{
	json_t *o = json_object();
	json_object_set_new(o, "value", json_real_or_null(v.value));
	if (isfinite(v.lo) || isfinite(v.hi)) {
		json_object_set_new(o, "lo", json_real_or_null(v.lo));
		json_object_set_new(o, "hi", json_real_or_null(v.hi));
	}
	return o;
}

/* "64.3%" or "64.3% [63.9, 64.8]" */
static const char *fpct(char *out, size_t n, struct route_value v)
{
	if (!isfinite(v.value))
		snprintf(out, n, "-");
	else if (isfinite(v.lo))
		snprintf(out, n, "%.1f%% [%.1f, %.1f]", 100 * v.value, 100 * v.lo, 100 * v.hi);
	else
		snprintf(out, n, "%.1f%%", 100 * v.value);
	return out;
}

static char **push(char **l, size_t *n, const char *s)
{
	l = xrealloc(l, (*n + 2) * sizeof(*l));
	l[(*n)++] = xstrdup(s);
	l[*n] = NULL;
	return l;
}

static int parse_p_list(const char *s, double **out, size_t *n)
{
	int k;
	char **parts = split_list(s, ',', &k);
	double *p = xcalloc((size_t)k + 1, sizeof(*p));
	int rc = 0;

	for (int i = 0; i < k; i++) {
		char *end;
		p[i] = strtod(parts[i], &end);
		if (end == parts[i] || *end || !(p[i] >= 0 && p[i] <= 1)) {
			fprintf(stderr, "ipw route: --router-accuracy wants numbers in [0, 1] separated by commas, "
				"not '%s'\n", parts[i]);
			rc = -1;
		}
	}
	if (k == 0) {
		fprintf(stderr, "ipw route: --router-accuracy is empty\n");
		rc = -1;
	}
	free_list(parts);
	*out = p;
	*n = (size_t)k;
	return rc;
}

static int local_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct route_args *a = t;
	int k;
	char **parts = split_list(arg, ',', &k);
	for (int i = 0; i < k; i++)
		a->local = push(a->local, &a->nlocal, parts[i]);
	free_list(parts);
	return 0;
}

/* The options that name one of two words: where the choice goes, the words and their values. */
static const struct route_choice {
	const char *opt;
	size_t off;               /* an enum in struct route_args, int-sized */
	const char *word[2];
	int value[2];
} choices[] = {
	{"objective", A(o.objective), {"energy", "cost"}, {ROUTE_ENERGY, ROUTE_COST}},
	{"compute", A(o.compute), {"active", "total"}, {ROUTE_COMPUTE_ACTIVE, ROUTE_COMPUTE_TOTAL}},
	{"misroute", A(o.misroute), {"one-sided", "two-sided"}, {ROUTE_ONE_SIDED, ROUTE_TWO_SIDED}},
};
_Static_assert(sizeof(enum route_objective) == sizeof(int) && sizeof(enum route_compute) == sizeof(int) &&
	       sizeof(enum route_misroute) == sizeof(int), "the choices are stored as ints");

/* --objective, --compute, --misroute: the word's value into its field, else "--OPT is 'A' or 'B'". */
static int choice_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(choices) / sizeof(choices[0]); i++) {
		const struct route_choice *c = &choices[i];
		if (strcmp(d->name, c->opt))
			continue;
		for (int k = 0; k < 2; k++)
			if (!strcmp(arg, c->word[k])) {
				int v = c->value[k];
				memcpy((char *)t + c->off, &v, sizeof(v));
				return 0;
			}
		return err_set(err, errlen, "--%s is '%s' or '%s'", c->opt, c->word[0], c->word[1]);
	}
	return err_set(err, errlen, "--%s: not a choice of route simulate", d->name);
}

static int csv_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct route_args *a = t;
	a->csv = 1;
	a->cc.format = OUT_CSV;
	return 0;
}

static void route_args_release(struct route_args *a)
{
	if (a->local)
		free_list(a->local);
	free((void *)a->o.p);
	a->local = NULL;
	a->o.p = NULL;
}

static void emit_value(struct table *t, struct route_value v)
{
	table_real(t, v.value);
	table_real(t, v.lo);
	table_real(t, v.hi);
}

static void emit_row(struct table *t, const struct route_row *w, double daily, long long items)
{
	const struct route_value *v[NFIELDS];
	row_values(w, v);
	table_str(t, w->scheme);
	table_real(t, w->p);
	table_str(t, w->monte_carlo ? "monte_carlo" : "exact");
	for (size_t k = 0; k < NFIELDS; k++)
		emit_value(t, *v[k]);
	emit_value(t, route_per_day(w->energy_j, daily, items, ROUTE_J_PER_KWH));
	emit_value(t, route_per_day(w->cost_usd, daily, items, 1));
	emit_value(t, route_per_day(w->flops, daily, items, 1));
	table_end_row(t);
}

static long print_table(const struct route_result *r, enum out_format fmt, double daily)
{
	struct table t;
	long n;
	table_init(&t, fmt, cols, sizeof(cols) / sizeof(cols[0]), stdout);
	for (size_t i = 0; i < r->nrows; i++)
		emit_row(&t, &r->rows[i], daily, r->n_items);
	n = table_finish(&t);
	table_release(&t);
	return n;
}

/* What the printers need. */
struct route_out {
	const struct route_args *a;
	const struct route_result *res;
	const struct run_record *runs;
	char **ids;
};

static json_t *row_json(const struct route_row *w, double daily, long long items)
{
	const struct route_value *v[NFIELDS];
	json_t *r = json_object();
	row_values(w, v);
	json_object_set_new(r, "scheme", json_string(w->scheme));
	json_object_set_new(r, "p", json_real_or_null(w->p));
	json_object_set_new(r, "method", json_string(w->monte_carlo ? "monte_carlo" : "exact"));
	for (size_t k = 0; k < NFIELDS; k++)
		json_object_set_new(r, fields[k], jrv(*v[k]));
	if (daily > 0)
		json_object_set_new(r, "per_day", json_pack("{s:o, s:o, s:o}",
			"energy_kwh", jrv(route_per_day(w->energy_j, daily, items, ROUTE_J_PER_KWH)),
			"cost_usd", jrv(route_per_day(w->cost_usd, daily, items, 1)),
			"flops", jrv(route_per_day(w->flops, daily, items, 1))));
	return r;
}

static void print_json(const struct route_out *o)
{
	const struct route_result *res = o->res;
	const struct route_options *ro = &o->a->o;
	size_t nlocal = o->a->nlocal;
	json_t *root = json_object(), *rows = json_array(), *lr = json_array();

	json_object_set_new(root, "items", json_integer(res->n_items));
	json_object_set_new(root, "dropped_missing", json_integer(res->n_dropped));
	json_object_set_new(root, "dropped_unmeasured", json_integer(res->n_unmeasured));
	json_object_set_new(root, "locally_answerable", json_integer(res->n_answerable));
	json_object_set_new(root, "objective", json_string(ro->objective == ROUTE_COST ? "cost" : "energy"));
	json_object_set_new(root, "cloud_run", json_integer(strtoll(o->ids[nlocal], NULL, 10)));
	json_object_set_new(root, "trials", json_integer(ro->trials));
	json_object_set_new(root, "seed", json_integer((json_int_t)ro->seed));
	json_object_set_new(root, "compute_basis", json_string(ro->compute == ROUTE_COMPUTE_TOTAL ? "total" : "active"));
	json_object_set_new(root, "misroute", json_string(ro->misroute == ROUTE_TWO_SIDED ? "two-sided" : "one-sided"));
	json_object_set_new(root, "daily_queries", o->a->daily > 0 ? json_real(o->a->daily) : json_null());
	for (size_t i = 0; i < nlocal; i++)
		json_array_append_new(lr, json_pack("{s:I, s:I}", "run", (json_int_t)strtoll(o->ids[i], NULL, 10),
						     "oracle_items", (json_int_t)res->oracle_chosen[i]));
	json_object_set_new(root, "local_runs", lr);
	for (size_t i = 0; i < res->nrows; i++)
		json_array_append_new(rows, row_json(&res->rows[i], o->a->daily, res->n_items));
	json_object_set_new(root, "rows", rows);
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	putchar('\n');
	json_decref(root);
}

static void print_header(const struct route_out *o)
{
	const struct route_result *res = o->res;
	size_t nlocal = o->a->nlocal;

	printf("routing %lld items between %zu local run%s and cloud run %s (%s); oracle objective: %s\n",
	       res->n_items, nlocal, nlocal == 1 ? "" : "s", o->ids[nlocal],
	       o->runs[nlocal].name ? o->runs[nlocal].name : "-", o->a->o.objective == ROUTE_COST ? "cost" : "energy");
	if (o->a->o.intersect)
		printf("dropped: %lld items missing from a run, %lld unmeasured at the cloud\n", res->n_dropped,
		       res->n_unmeasured);
	printf("answerable locally (some local run right): %lld (%.1f%%)\n", res->n_answerable,
	       res->n_items ? 100.0 * (double)res->n_answerable / (double)res->n_items : 0.0);
	printf("oracle sends:");
	for (size_t i = 0; i < nlocal; i++)
		printf(" run %s (%s) %lld;", o->ids[i], o->runs[i].name ? o->runs[i].name : "-", res->oracle_chosen[i]);
	printf(" cloud %lld\n", res->n_items - res->n_answerable);
}

/* A text row's p ("0.80", "-") and method ("exact", "MC x200"). */
static void row_labels(const struct route_row *w, int trials, char *pp, size_t np, char *meth, size_t nm)
{
	snprintf(pp, np, "-");
	if (isfinite(w->p))
		snprintf(pp, np, "%.2f", w->p);
	snprintf(meth, nm, "exact");
	if (w->monte_carlo)
		snprintf(meth, nm, "MC x%d", trials);
}

/* "12.3 kWh" / "4.56 MWh" / "7.89 GWh" for kWh, the bracket for an MC spread. */
static const char *fkwh(char *out, size_t n, struct route_value v)
{
	static const char *const unit[] = {"kWh", "MWh", "GWh", "TWh"};
	double k = 1;
	int u = 0;
	if (!isfinite(v.value))
		return snprintf(out, n, "-"), out;
	while (u < 3 && fabs(v.value) / k >= 1000)
		k *= 1000, u++;
	if (isfinite(v.lo))
		snprintf(out, n, "%.4g %s [%.4g, %.4g]", v.value / k, unit[u], v.lo / k, v.hi / k);
	else
		snprintf(out, n, "%.4g %s", v.value / k, unit[u]);
	return out;
}

static const char *fnum(char *out, size_t n, struct route_value v, const char *unit)
{
	if (!isfinite(v.value))
		snprintf(out, n, "-");
	else if (isfinite(v.lo))
		snprintf(out, n, "%.4g %s [%.4g, %.4g]", v.value, unit, v.lo, v.hi);
	else
		snprintf(out, n, "%.4g %s", v.value, unit);
	return out;
}

/* The rows scaled to a day of --daily-queries. */
static void print_daily(const struct route_out *o)
{
	const struct route_result *res = o->res;
	char a[80], b[80], c[80];

	printf("\nper day at %.6g queries (each total / %lld items x %.6g):\n", o->a->daily, res->n_items, o->a->daily);
	printf("%-11s %5s %-12s %-30s %-30s %-30s\n", "scheme", "p", "method", "energy/day", "cost/day", "compute/day");
	for (size_t i = 0; i < res->nrows; i++) {
		const struct route_row *w = &res->rows[i];
		char pp[16], meth[24];
		row_labels(w, o->a->o.trials, pp, sizeof(pp), meth, sizeof(meth));
		printf("%-11s %5s %-12s %-30s %-30s %-30s\n", w->scheme, pp, meth,
		       fkwh(a, sizeof(a), route_per_day(w->energy_j, o->a->daily, res->n_items, ROUTE_J_PER_KWH)),
		       fnum(b, sizeof(b), route_per_day(w->cost_usd, o->a->daily, res->n_items, 1), "USD"),
		       fnum(c, sizeof(c), route_per_day(w->flops, o->a->daily, res->n_items, 1), "FLOP"));
	}
}

static void print_text(const struct route_out *o)
{
	const struct route_result *res = o->res;
	const struct route_options *ro = &o->a->o;
	int two = ro->misroute == ROUTE_TWO_SIDED;
	const char *basis = ro->compute == ROUTE_COMPUTE_TOTAL ? "total" : "active";
	char a[64], b[64], c[64], d[64], e[64], f[64];

	print_header(o);
	printf("compute: FLOPs = 2 x %s parameters x (prompt + output tokens); router errors: %s\n", basis,
	       two ? "two-sided (an item no local run answers is kept local with probability 1 - p)"
		   : "one-sided (only answerable items are misrouted, to the cloud)");
	printf("\n%-11s %5s %-12s %-22s %-22s %-22s %-22s %-22s%s\n", "scheme", "p", "method", "energy saved",
	       "compute saved", "cost saved", "routed locally", "accuracy", two ? " kept local, wrong" : "");
	for (size_t i = 0; i < res->nrows; i++) {
		const struct route_row *w = &res->rows[i];
		char pp[16], meth[24];
		row_labels(w, o->a->o.trials, pp, sizeof(pp), meth, sizeof(meth));
		printf("%-11s %5s %-12s %-22s %-22s %-22s %-22s %-22s", w->scheme, pp, meth,
		       fpct(a, sizeof(a), w->saved_energy), fpct(b, sizeof(b), w->saved_compute),
		       fpct(c, sizeof(c), w->saved_cost), fpct(d, sizeof(d), w->local_share),
		       fpct(e, sizeof(e), w->accuracy));
		if (two)
			printf(" %s", fpct(f, sizeof(f), w->kept_wrong));
		putchar('\n');
	}
	if (isfinite(res->rows[0].flops.value))
		snprintf(a, sizeof(a), "%.4g FLOPs (%s)", res->rows[0].flops.value, basis);
	else
		snprintf(a, sizeof(a), "not computed (%s)", ro->compute == ROUTE_COMPUTE_TOTAL
			 ? "--model-meta FILE with total_params" : "--params or --model-meta FILE");
	if (isfinite(res->rows[0].cost_usd.value))
		snprintf(b, sizeof(b), "%.6g USD", res->rows[0].cost_usd.value);
	else
		snprintf(b, sizeof(b), "not computed (--prices FILE)");
	printf("\ncloud-only totals: energy %.6g J, compute %s, cost %s\n", res->rows[0].energy_j.value, a, b);
	if (isfinite(res->rows[1].saved_compute_active.value) && isfinite(res->rows[1].saved_compute_total.value))
		printf("oracle compute saved: %.1f%% with active parameters, %.1f%% with total parameters\n",
		       100 * res->rows[1].saved_compute_active.value, 100 * res->rows[1].saved_compute_total.value);
	printf("MC rows: mean over trials [%g%% spread]; cascade charges a failed attempt on run %s first.\n",
	       100 * o->a->o.level, o->ids[0]);
	if (o->a->daily > 0)
		print_daily(o);
}

/* The subcommand and the options; 0, CMD_PARSE_HELP or EXIT_USAGE (said). */
static int parse_args(struct route_args *a, int argc, char **argv)
{
	unsigned char given[NOPTS];
	double *p = NULL;
	size_t np = 0;
	int first = 0, rc;

	if (argc < 2 || strcmp(argv[1], "simulate")) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return CMD_PARSE_HELP;
		}
		fprintf(stderr, "ipw route: the subcommand is simulate, serve, train or replay\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((rc = cmd_opt_parse(&a->cc, route_opts, NOPTS, a, argc - 1, argv + 1, &first, given, usage)))
		return rc;
	/* runs listed after the flags are local runs too: --local 1 2 3 */
	for (int i = first + 1; i < argc; i++)
		a->local = push(a->local, &a->nlocal, argv[i]);
	if (!a->nlocal || !a->cloud) {
		fprintf(stderr, "ipw route: name the local runs (--local RUN...) and the cloud run (--cloud RUN)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (a->csv && (given[opt_find(route_opts, NOPTS, "json") - route_opts] ||
		       given[opt_find(route_opts, NOPTS, "format") - route_opts])) {
		fprintf(stderr, "ipw route: choose one output format (--csv is --format csv)\n");
		return EXIT_USAGE;
	}
	if (a->o.objective == ROUTE_COST && !a->prices) {
		fprintf(stderr, "ipw route: --objective cost needs --prices FILE (USD per 1M tokens per model)\n");
		return EXIT_USAGE;
	}
	rc = parse_p_list(a->plist, &p, &np);
	a->o.p = p;
	a->o.np = np;
	return rc < 0 ? EXIT_USAGE : 0;
}

static void route_args_init(struct route_args *a)
{
	memset(a, 0, sizeof(*a));
	cmd_common_init(&a->cc, "route", OUT_TEXT | OUT_JSON | OUT_CSV | OUT_JSONL, OUT_TEXT);
	a->o.objective = ROUTE_ENERGY;
	a->o.trials = DEFAULT_TRIALS;
	a->o.seed = ROUTE_SEED;
	a->o.level = METRICS_LEVEL;
	a->plist = DEFAULT_P;
}

/* Parameters from the metadata file (NULL: none); 0 or -1 (err set). */
static int route_meta(const char *path, const struct run_record *runs, size_t n, struct route_model *model, char *err,
		      size_t errlen)
{
	struct meta_file mf;
	int rc;
	if (!path)
		return 0;
	if (meta_read(path, &mf, err, errlen) < 0)
		return -1;
	rc = analysis_route_meta(&mf, runs, n, model, err, errlen);
	meta_release(&mf);
	return rc;
}

/* Reads the runs, their constants and simulates; 0 or EXIT_INPUT (said). */
static int simulate(struct store *st, struct route_args *a, struct route_out *o, struct route_result *res)
{
	char err[IPW_ERRLEN], **specs = xcalloc(a->nlocal + 2, sizeof(*specs));
	size_t n = a->nlocal + 1;
	struct route_model *model = xcalloc(n, sizeof(*model));
	struct run_record *runs = NULL;
	int rc;

	for (size_t i = 0; i < a->nlocal; i++)
		specs[i] = a->local[i];
	specs[a->nlocal] = (char *)a->cloud;
	rc = cmd_runs_get(&a->cc, st, specs, n, &runs, &o->ids);
	o->runs = runs;
	free(specs);
	if (rc == 0 && runs_check_estimated(runs, n, a->allow_estimated, err, sizeof(err))) {
		fprintf(stderr, "ipw route: %s\n", err);
		rc = EXIT_INPUT;
	}
	if (rc == 0 && (analysis_route_models(runs, n, a->prices, a->params, model, err, sizeof(err)) < 0 ||
			route_meta(a->meta, runs, n, model, err, sizeof(err)) < 0 ||
			analysis_route(st, (const char *const *)o->ids, a->nlocal, o->ids[a->nlocal], model, &a->o, res,
				       err, sizeof(err)) < 0)) {
		fprintf(stderr, "ipw route: %s\n", err);
		rc = EXIT_INPUT;
	}
	free(model);
	return rc;
}

int cmd_route(int argc, char **argv)
{
	struct route_args a;
	struct route_result res;
	struct route_out o = {NULL, NULL, NULL, NULL};
	struct store st;
	int rc, opened = 0;

	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return cmd_route_serve(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "train"))
		return cmd_route_train(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "replay"))
		return cmd_route_replay(argc - 1, argv + 1);
	for (int i = 2; argc >= 2 && !strcmp(argv[1], "simulate") && i < argc; i++)
		if (!strcmp(argv[i], "--router") || !strncmp(argv[i], "--router=", 9))
			return cmd_route_simulate_router(argc - 1, argv + 1);
	route_args_init(&a);
	if ((rc = parse_args(&a, argc, argv)))
		goto out;
	if ((rc = cmd_store_open(&a.cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	o.a = &a;
	o.res = &res;
	if ((rc = simulate(&st, &a, &o, &res)))
		goto out;
	if (a.cc.format == OUT_JSON)
		print_json(&o);
	else if (a.cc.format == OUT_TEXT)
		print_text(&o);
	else if (print_table(&res, a.cc.format, a.daily) < 0)
		rc = EXIT_ENV;
	route_result_release(&res);
	if (fflush(stdout) != 0)
		rc = EXIT_ENV;
out:
	cmd_runs_free((struct run_record *)o.runs, o.ids, a.nlocal + 1);
	route_args_release(&a);
	if (opened)
		store_close(&st);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}
