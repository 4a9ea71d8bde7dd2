/*
 * cmd/route.c - 'ipw route simulate --local RUN... --cloud RUN': the
 * paper's hybrid-routing analysis over runs of the same items: energy,
 * compute and cost saved against cloud-only by an oracle router, a router of
 * accuracy p (exact expectation and seeded Monte Carlo) and a cascade.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../estimate.h"
#include "analysis.h"
#include "cmd.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

#define DEFAULT_P "1,0.8,0.6"
#define DEFAULT_TRIALS 200
#define ROUTE_SEED 0x5eed0f4011ULL

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw route simulate --local RUN... --cloud RUN [options]\n"
		"  --local RUN...         local runs (repeat the flag, give a comma list, or list them after it);\n"
		"                         the first one is the cascade's first tier\n"
		"  --cloud RUN            the cloud baseline every item falls back to\n"
		"  --router-accuracy LIST router accuracies p (default %s)\n"
		"  --objective energy|cost  what the oracle minimises (default energy)\n"
		"  --prices FILE          USD per 1M tokens per model: JSON {\"model\": {\"input\": X, \"output\": Y}}\n"
		"                         or lines 'model input output' (needed for cost)\n"
		"  --params FILE          active parameters per model: JSON {\"model\": 8e9} or lines 'model 8e9'\n"
		"                         (needed for compute: FLOPs = 2 x parameters x tokens)\n"
		"  --trials N             Monte Carlo trials per p (default %d; 0 = exact expectation only)\n"
		"  --seed N               seed of the Monte Carlo draws\n"
		"  --intersect            drop items missing from a run (or unmeasured at the cloud), and count them\n"
		"  --allow-estimated      mix runs with estimated energy (--api builtin) and measured ones\n"
		"  --store PATH           the store to read (default ./ipw.db)\n"
		"  --json | --csv         machine-readable output\n", DEFAULT_P, DEFAULT_TRIALS);
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

static void print_csv(const struct route_result *r)
{
	const char *f[] = {"energy_j", "flops", "cost_usd", "saved_energy", "saved_compute", "saved_cost",
			   "local_share", "accuracy"};
	printf("scheme,p,method");
	for (size_t i = 0; i < 8; i++)
		printf(",%s,%s_lo,%s_hi", f[i], f[i], f[i]);
	putchar('\n');
	for (size_t i = 0; i < r->nrows; i++) {
		const struct route_row *w = &r->rows[i];
		const struct route_value *v[] = {&w->energy_j, &w->flops, &w->cost_usd, &w->saved_energy,
						 &w->saved_compute, &w->saved_cost, &w->local_share, &w->accuracy};
		printf("%s,", w->scheme);
		if (isfinite(w->p))
			printf("%g", w->p);
		printf(",%s", w->monte_carlo ? "monte_carlo" : "exact");
		for (size_t k = 0; k < 8; k++)
			for (int j = 0; j < 3; j++) {
				double x = j == 0 ? v[k]->value : j == 1 ? v[k]->lo : v[k]->hi;
				if (isfinite(x))
					printf(",%.10g", x);
				else
					putchar(',');
			}
		putchar('\n');
	}
}

int cmd_route(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"local", required_argument, NULL, 'l'},
		{"cloud", required_argument, NULL, 'c'},
		{"router-accuracy", required_argument, NULL, 'p'},
		{"objective", required_argument, NULL, 'o'},
		{"prices", required_argument, NULL, 'P'},
		{"params", required_argument, NULL, 'A'},
		{"trials", required_argument, NULL, 't'},
		{"seed", required_argument, NULL, 'S'},
		{"intersect", no_argument, NULL, 'i'},
		{"json", no_argument, NULL, 'j'},
		{"csv", no_argument, NULL, 'C'},
		{"allow-estimated", no_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *cloud = NULL, *prices = NULL, *params = NULL, *plist = DEFAULT_P;
	char err[IPW_ERRLEN], *end, **local = NULL, **ids = NULL, a[64], b[64], c[64], d[64], e[64];
	size_t nlocal = 0, np = 0, n = 0;
	double *p = NULL;
	struct store st;
	struct route_options o;
	struct route_result res;
	struct run_record *runs = NULL;
	struct route_model *model = NULL;
	int json = 0, csv = 0, ch, rc = EXIT_USAGE, opened = 0, have = 0, allow_est = 0;

	memset(&o, 0, sizeof(o));
	memset(&res, 0, sizeof(res));
	o.objective = ROUTE_ENERGY;
	o.trials = DEFAULT_TRIALS;
	o.seed = ROUTE_SEED;
	o.level = METRICS_LEVEL;
	if (argc < 2 || strcmp(argv[1], "simulate")) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "ipw route: the subcommand is 'simulate'\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	argc--, argv++;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'l': {
			int k;
			char **parts = split_list(optarg, ',', &k);
			for (int i = 0; i < k; i++)
				local = push(local, &nlocal, parts[i]);
			free_list(parts);
			break;
		}
		case 'c': cloud = optarg; break;
		case 'p': plist = optarg; break;
		case 'o':
			if (!strcmp(optarg, "energy"))
				o.objective = ROUTE_ENERGY;
			else if (!strcmp(optarg, "cost"))
				o.objective = ROUTE_COST;
			else {
				fprintf(stderr, "ipw route: --objective is 'energy' or 'cost', not '%s'\n", optarg);
				goto out;
			}
			break;
		case 'P': prices = optarg; break;
		case 'A': params = optarg; break;
		case 't':
			o.trials = (int)strtol(optarg, &end, 10);
			if (*end || o.trials < 0 || o.trials > 100000) {
				fprintf(stderr, "ipw route: --trials wants a count in 0..100000, not '%s'\n", optarg);
				goto out;
			}
			break;
		case 'S':
			o.seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "ipw route: --seed wants a number, not '%s'\n", optarg);
				goto out;
			}
			break;
		case 'i': o.intersect = 1; break;
		case 'j': json = 1; break;
		case 'C': csv = 1; break;
		case 'E': allow_est = 1; break;
		case 'h': usage(stdout); rc = 0; goto out;
		default: usage(stderr); goto out;
		}
	}
	/* runs listed after the flags are local runs too: --local 1 2 3 */
	for (int i = optind; i < argc; i++)
		local = push(local, &nlocal, argv[i]);
	if (!nlocal || !cloud) {
		fprintf(stderr, "ipw route: name the local runs (--local RUN...) and the cloud run (--cloud RUN)\n");
		usage(stderr);
		goto out;
	}
	if (json && csv) {
		fprintf(stderr, "ipw route: choose --json or --csv, not both\n");
		goto out;
	}
	if (o.objective == ROUTE_COST && !prices) {
		fprintf(stderr, "ipw route: --objective cost needs --prices FILE (USD per 1M tokens per model)\n");
		goto out;
	}
	if (parse_p_list(plist, &p, &np) < 0)
		goto out;
	o.p = p;
	o.np = np;
	rc = EXIT_INPUT;
	if (store_open(&st, path, STORE_READONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw route: %s\n", err);
		goto out;
	}
	opened = 1;
	n = nlocal + 1;
	runs = xcalloc(n, sizeof(*runs));
	ids = xcalloc(n + 1, sizeof(*ids));
	model = xcalloc(n, sizeof(*model));
	for (size_t i = 0; i < n; i++) {
		if (store_run_get(&st, i < nlocal ? local[i] : cloud, &runs[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw route: %s\n", err);
			goto out;
		}
		ids[i] = xstrdup(runs[i].id);
	}
	if (runs_check_estimated(runs, n, allow_est, err, sizeof(err))) {
		fprintf(stderr, "ipw route: %s\n", err);
		goto out;
	}
	if (analysis_route_models(runs, n, prices, params, model, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw route: %s\n", err);
		goto out;
	}
	if (analysis_route(&st, (const char *const *)ids, nlocal, ids[nlocal], model, &o, &res,
			   err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw route: %s\n", err);
		goto out;
	}
	have = 1;
	if (json) {
		json_t *root = json_object(), *rows = json_array(), *lr = json_array();
		json_object_set_new(root, "items", json_integer(res.n_items));
		json_object_set_new(root, "dropped_missing", json_integer(res.n_dropped));
		json_object_set_new(root, "dropped_unmeasured", json_integer(res.n_unmeasured));
		json_object_set_new(root, "locally_answerable", json_integer(res.n_answerable));
		json_object_set_new(root, "objective", json_string(o.objective == ROUTE_COST ? "cost" : "energy"));
		json_object_set_new(root, "cloud_run", json_integer(strtoll(ids[nlocal], NULL, 10)));
		json_object_set_new(root, "trials", json_integer(o.trials));
		json_object_set_new(root, "seed", json_integer((json_int_t)o.seed));
		for (size_t i = 0; i < nlocal; i++)
			json_array_append_new(lr, json_pack("{s:I, s:I}", "run", (json_int_t)strtoll(ids[i], NULL, 10),
							     "oracle_items", (json_int_t)res.oracle_chosen[i]));
		json_object_set_new(root, "local_runs", lr);
		for (size_t i = 0; i < res.nrows; i++) {
			const struct route_row *w = &res.rows[i];
			json_t *r = json_object();
			json_object_set_new(r, "scheme", json_string(w->scheme));
			json_object_set_new(r, "p", json_real_or_null(w->p));
			json_object_set_new(r, "method", json_string(w->monte_carlo ? "monte_carlo" : "exact"));
			json_object_set_new(r, "energy_j", jrv(w->energy_j));
			json_object_set_new(r, "flops", jrv(w->flops));
			json_object_set_new(r, "cost_usd", jrv(w->cost_usd));
			json_object_set_new(r, "saved_energy", jrv(w->saved_energy));
			json_object_set_new(r, "saved_compute", jrv(w->saved_compute));
			json_object_set_new(r, "saved_cost", jrv(w->saved_cost));
			json_object_set_new(r, "local_share", jrv(w->local_share));
			json_object_set_new(r, "accuracy", jrv(w->accuracy));
			json_array_append_new(rows, r);
		}
		json_object_set_new(root, "rows", rows);
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		putchar('\n');
		json_decref(root);
	} else if (csv) {
		print_csv(&res);
	} else {
		printf("routing %lld items between %zu local run%s and cloud run %s (%s); oracle objective: %s\n",
		       res.n_items, nlocal, nlocal == 1 ? "" : "s", ids[nlocal],
		       runs[nlocal].name ? runs[nlocal].name : "-", o.objective == ROUTE_COST ? "cost" : "energy");
		if (o.intersect)
			printf("dropped: %lld items missing from a run, %lld unmeasured at the cloud\n", res.n_dropped,
			       res.n_unmeasured);
		printf("answerable locally (some local run right): %lld (%.1f%%)\n", res.n_answerable,
		       res.n_items ? 100.0 * (double)res.n_answerable / (double)res.n_items : 0.0);
		printf("oracle sends:");
		for (size_t i = 0; i < nlocal; i++)
			printf(" run %s (%s) %lld;", ids[i], runs[i].name ? runs[i].name : "-", res.oracle_chosen[i]);
		printf(" cloud %lld\n", res.n_items - res.n_answerable);
		printf("\n%-11s %5s %-12s %-22s %-22s %-22s %-22s %-22s\n", "scheme", "p", "method", "energy saved",
		       "compute saved", "cost saved", "routed locally", "accuracy");
		for (size_t i = 0; i < res.nrows; i++) {
			const struct route_row *w = &res.rows[i];
			char pp[16] = "-", meth[24] = "exact";
			if (isfinite(w->p))
				snprintf(pp, sizeof(pp), "%.2f", w->p);
			if (w->monte_carlo)
				snprintf(meth, sizeof(meth), "MC x%d", o.trials);
			printf("%-11s %5s %-12s %-22s %-22s %-22s %-22s %-22s\n", w->scheme, pp, meth,
			       fpct(a, sizeof(a), w->saved_energy), fpct(b, sizeof(b), w->saved_compute),
			       fpct(c, sizeof(c), w->saved_cost), fpct(d, sizeof(d), w->local_share),
			       fpct(e, sizeof(e), w->accuracy));
		}
		printf("\ncloud-only totals: energy %.6g J, compute %s, cost %s\n", res.rows[0].energy_j.value,
		       isfinite(res.rows[0].flops.value) ? (snprintf(a, sizeof(a), "%.4g FLOPs", res.rows[0].flops.value), a)
							  : "not computed (--params FILE)",
		       isfinite(res.rows[0].cost_usd.value) ? (snprintf(b, sizeof(b), "%.6g USD", res.rows[0].cost_usd.value), b)
							     : "not computed (--prices FILE)");
		printf("MC rows: mean over trials [%g%% spread]; cascade charges a failed attempt on run %s first.\n",
		       100 * o.level, ids[0]);
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_ENV;
out:
	if (have)
		route_result_release(&res);
	for (size_t i = 0; runs && i < n; i++)
		run_record_release(&runs[i]);
	free(runs);
	free(model);
	if (ids)
		free_list(ids);
	if (local)
		free_list(local);
	free(p);
	if (opened)
		store_close(&st);
	return rc;
}
