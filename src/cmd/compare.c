/*
 * cmd/compare.c - 'ipw compare RUN...': one row per run (model, accelerator,
 * engine, concurrency, accuracy, IPW, IPJ, J/query, J/token, latency p50/p99,
 * each with its interval) as a table, CSV or JSON. Runs are read one at a
 * time, so memory does not grow with their number.
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

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw compare RUN... [--store PATH] [--csv | --json] [--ci bootstrap|delta] [--bootstrap N]\n"
		"  RUN            run ids, names only one run has, or 'last'\n"
		"  --store PATH   the store to read (default ./ipw.db)\n"
		"  --csv          one CSV row per run (value, ci_low, ci_high columns)\n"
		"  --json         a JSON array, one object per run\n"
		"  --ci METHOD    'bootstrap' (percentile bootstrap over queries), 'delta' (normal\n"
		"                 approximation, O(n)), or 'auto' (default: bootstrap up to %d scored\n"
		"                 queries, delta above, where resampling would take seconds per run)\n"
		"  --bootstrap N  resamples for the intervals (default %d; 0 = none)\n"
		"  --seed N       seed of the resampling\n"
		"  --allow-estimated  compare runs with estimated energy (--api builtin, CPU time x W\n"
		"                 per core) beside measured ones (refused otherwise)\n", CI_AUTO_MAX, METRICS_BOOTSTRAP);
}

static json_t *jmv(struct metric_value v)
{
	return json_pack("{s:o, s:o, s:o}", "value", json_real_or_null(v.value), "ci_low", json_real_or_null(v.ci_low),
			 "ci_high", json_real_or_null(v.ci_high));
}

/* "v [lo, hi]" with format f, "-" when not computed. */
static const char *fmv(char *out, size_t n, const char *f, struct metric_value v)
{
	char a[32], b[32], c[32];
	if (!isfinite(v.value)) {
		snprintf(out, n, "-");
		return out;
	}
	snprintf(a, sizeof(a), f, v.value);
	if (!isfinite(v.ci_low)) {
		snprintf(out, n, "%s", a);
		return out;
	}
	snprintf(b, sizeof(b), f, v.ci_low);
	snprintf(c, sizeof(c), f, v.ci_high);
	snprintf(out, n, "%s [%s, %s]", a, b, c);
	return out;
}

static void csv_field(const char *s)
{
	if (!s)
		return;
	if (strpbrk(s, ",\"\r\n") || (*s && (s[0] == ' ' || s[strlen(s) - 1] == ' '))) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
}

static void csv_num(double v)
{
	if (isfinite(v))
		printf(",%.10g", v);
	else
		putchar(',');
}

static void csv_mv(struct metric_value v)
{
	csv_num(v.value);
	csv_num(v.ci_low);
	csv_num(v.ci_high);
}

static const char *const csv_metrics[] = {"accuracy", "ipw", "ipj", "j_per_query", "j_per_token",
					  "latency_p50_s", "latency_p99_s"};

static void print_csv_header(void)
{
	printf("run,name,model,accelerator,engine,concurrency,scored,failed,unscored,interval_method");
	for (size_t i = 0; i < sizeof(csv_metrics) / sizeof(csv_metrics[0]); i++)
		printf(",%s,%s_ci_low,%s_ci_high", csv_metrics[i], csv_metrics[i], csv_metrics[i]);
	putchar('\n');
}

static void print_csv(const struct compare_row *r)
{
	csv_field(r->run_id);
	putchar(',');
	csv_field(r->name);
	putchar(',');
	csv_field(r->model);
	putchar(',');
	csv_field(r->accelerator);
	putchar(',');
	csv_field(r->engine);
	putchar(',');
	if (r->concurrency >= 0)
		printf("%d", r->concurrency);
	printf(",%d,%d,%d,%s", r->m.n_scored, r->m.n_failed, r->m.n_unscored, r->delta ? "delta" : "bootstrap");
	csv_mv(r->m.accuracy);
	csv_mv(r->m.ipw);
	csv_mv(r->m.ipj);
	csv_mv(r->m.energy_j);
	csv_mv(r->m.j_per_token);
	csv_mv(r->latency_p50);
	csv_mv(r->latency_p99);
	putchar('\n');
}

static json_t *row_json(const struct compare_row *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "run", json_integer(strtoll(r->run_id, NULL, 10)));
	json_object_set_new(o, "name", json_string_or_null(r->name));
	json_object_set_new(o, "model", json_string_or_null(r->model));
	json_object_set_new(o, "accelerator", json_string_or_null(r->accelerator));
	json_object_set_new(o, "engine", json_string_or_null(r->engine));
	json_object_set_new(o, "concurrency", r->concurrency >= 0 ? json_integer(r->concurrency) : json_null());
	json_object_set_new(o, "queries", json_integer(r->m.n));
	json_object_set_new(o, "scored", json_integer(r->m.n_scored));
	json_object_set_new(o, "failed", json_integer(r->m.n_failed));
	json_object_set_new(o, "unscored", json_integer(r->m.n_unscored));
	json_object_set_new(o, "with_energy", json_integer(r->m.n_energy));
	json_object_set_new(o, "interval_method", json_string(r->delta ? "delta" : "bootstrap"));
	json_object_set_new(o, "accuracy", jmv(r->m.accuracy));
	json_object_set_new(o, "ipw", jmv(r->m.ipw));
	json_object_set_new(o, "ipj", jmv(r->m.ipj));
	json_object_set_new(o, "j_per_query", jmv(r->m.energy_j));
	json_object_set_new(o, "j_per_token", jmv(r->m.j_per_token));
	json_object_set_new(o, "power_w", jmv(r->m.power_w));
	json_object_set_new(o, "latency_p50_s", jmv(r->latency_p50));
	json_object_set_new(o, "latency_p99_s", jmv(r->latency_p99));
	return o;
}

static void print_text_header(void)
{
	printf("%-4s %-14s %-16s %-18s %-9s %4s %6s %-24s %-30s %-30s %-26s %-26s %-24s %-24s\n", "run", "name",
	       "model", "accelerator", "engine", "conc", "scored", "accuracy", "IPW (1/W)", "IPJ (1/J)",
	       "J/query", "J/token", "latency p50 (s)", "latency p99 (s)");
}

static void print_text(const struct compare_row *r)
{
	char a[128], b[128], c[128], d[128], e[128], f[128], g[128], conc[16] = "-";
	if (r->concurrency >= 0)
		snprintf(conc, sizeof(conc), "%d", r->concurrency);
	printf("%-4s %-14s %-16s %-18s %-9s %4s %6d %-24s %-30s %-30s %-26s %-26s %-24s %-24s\n", r->run_id,
	       r->name ? r->name : "-", r->model ? r->model : "-", r->accelerator ? r->accelerator : "-",
	       r->engine ? r->engine : "-", conc, r->m.n_scored, fmv(a, sizeof(a), "%.4f", r->m.accuracy),
	       fmv(b, sizeof(b), "%.4g", r->m.ipw), fmv(c, sizeof(c), "%.4g", r->m.ipj),
	       fmv(d, sizeof(d), "%.4g", r->m.energy_j), fmv(e, sizeof(e), "%.4g", r->m.j_per_token),
	       fmv(f, sizeof(f), "%.4g", r->latency_p50), fmv(g, sizeof(g), "%.4g", r->latency_p99));
}

int cmd_compare(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"csv", no_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},
		{"bootstrap", required_argument, NULL, 'b'},
		{"seed", required_argument, NULL, 'S'},
		{"ci", required_argument, NULL, 'C'},
		{"allow-estimated", no_argument, NULL, 'E'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	char err[IPW_ERRLEN], *end;
	struct store st;
	struct metrics_options mo;
	json_t *arr = NULL;
	enum ci_method method = CI_AUTO;
	int csv = 0, json = 0, ch, rc = EXIT_INPUT, opened = 0, n_delta = 0, n_boot = 0, allow_est = 0, nest;
	char est[512];

	metrics_options_init(&mo);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'c': csv = 1; break;
		case 'j': json = 1; break;
		case 'b':
			mo.bootstrap = (int)strtol(optarg, &end, 10);
			if (*end || mo.bootstrap < 0) {
				fprintf(stderr, "ipw compare: --bootstrap wants a count >= 0, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			mo.seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "ipw compare: --seed wants a number, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'C':
			if (!strcmp(optarg, "auto"))
				method = CI_AUTO;
			else if (!strcmp(optarg, "bootstrap"))
				method = CI_BOOTSTRAP;
			else if (!strcmp(optarg, "delta"))
				method = CI_DELTA;
			else {
				fprintf(stderr, "ipw compare: --ci is 'auto', 'bootstrap' or 'delta', not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'E': allow_est = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc || (csv && json)) {
		fprintf(stderr, "ipw compare: %s\n", optind >= argc ? "name at least one run" :
			"choose --csv or --json, not both");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (store_open(&st, path, STORE_READONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw compare: %s\n", err);
		goto out;
	}
	opened = 1;
	if ((nest = runs_check_estimated_refs(&st, argv + optind, (size_t)(argc - optind), allow_est, est, sizeof est, err,
					      sizeof err)) < 0) {
		fprintf(stderr, "ipw compare: %s\n", err);
		goto out;
	}
	if (json)
		arr = json_array();
	if (csv)
		print_csv_header();
	else if (!json)
		print_text_header();
	for (int i = optind; i < argc; i++) {
		struct compare_row r;
		if (analysis_compare_row(&st, argv[i], &mo, method, &r, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw compare: %s\n", err);
			goto out;
		}
		if (json)
			json_array_append_new(arr, row_json(&r));
		else if (csv)
			print_csv(&r);
		else
			print_text(&r);
		if (r.delta)
			n_delta++;
		else
			n_boot++;
		compare_row_release(&r);
		fflush(stdout);
	}
	if (!json && !csv) {
		char how[160];
		if (n_delta && n_boot)
			snprintf(how, sizeof(how), "bootstrap (%d resamples) for runs of up to %d scored queries, "
				 "normal approximation (delta method) above,", mo.bootstrap, CI_AUTO_MAX);
		else if (n_delta)
			snprintf(how, sizeof(how), "normal approximation (delta method)");
		else
			snprintf(how, sizeof(how), "bootstrap (%d resamples)", mo.bootstrap);
		printf("intervals: %d%% %s for accuracy..J/token; order statistics for latency. Failed and "
		       "unscored queries are excluded.\n", (int)(mo.level * 100 + 0.5), how);
		if (nest)
			printf("estimated energy (CPU time x watts per core, not measured): run%s %s\n", nest > 1 ? "s" : "", est);
	}
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "bootstrap", json_integer(mo.bootstrap));
		json_object_set_new(o, "runs", arr);
		json_object_set_new(o, "estimated_energy_runs", json_string(est));
		arr = o;
		json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		putchar('\n');
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_ENV;
out:
	json_decref(arr);
	if (opened)
		store_close(&st);
	return rc;
}
