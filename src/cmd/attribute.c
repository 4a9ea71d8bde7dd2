/*
 * cmd/attribute.c - 'ipw attribute RUN_A RUN_B': splits the change of IPW
 * from run A to run B into the accuracy factor (the model) and the power
 * factor (the hardware), and IPJ's into accuracy and energy, as the paper's
 * trend analysis does (5.3x = 3.1x accuracy x 1.7x lower power).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis.h"
#include "cmd.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw attribute RUN_A RUN_B [--store PATH] [--json] [--bootstrap N] [--seed N]\n"
		"  IPW_B/IPW_A = (acc_B/acc_A) x (P_A/P_B);  IPJ_B/IPJ_A = (acc_B/acc_A) x (E_A/E_B)\n"
		"  --bootstrap N  resamples for the intervals (default %d; 0 = none)\n"
		"  --store PATH   the store to read (default ./ipw.db)\n"
		"  --json         one JSON object\n", METRICS_BOOTSTRAP);
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

int cmd_attribute(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"bootstrap", required_argument, NULL, 'b'},
		{"seed", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	char err[IPW_ERRLEN], *end, a[96], b[96], c[96];
	struct store st;
	struct run_record ra, rb;
	struct run_data da, db;
	struct metrics_options mo;
	struct attribution at;
	int json = 0, ch, rc = EXIT_INPUT, opened = 0, la = 0, lb = 0;

	memset(&ra, 0, sizeof(ra));
	memset(&rb, 0, sizeof(rb));
	metrics_options_init(&mo);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'j': json = 1; break;
		case 'b':
			mo.bootstrap = (int)strtol(optarg, &end, 10);
			if (*end || mo.bootstrap < 0) {
				fprintf(stderr, "ipw attribute: --bootstrap wants a count >= 0, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			mo.seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "ipw attribute: --seed wants a number, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "ipw attribute: name two runs, the earlier (A) then the later (B)\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (store_open(&st, path, STORE_READONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw attribute: %s\n", err);
		goto out;
	}
	opened = 1;
	if (store_run_get(&st, argv[optind], &ra, err, sizeof(err)) < 0 ||
	    store_run_get(&st, argv[optind + 1], &rb, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw attribute: %s\n", err);
		goto out;
	}
	if (run_data_load(&st, ra.id, &da, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw attribute: %s\n", err);
		goto out;
	}
	la = 1;
	if (run_data_load(&st, rb.id, &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw attribute: %s\n", err);
		goto out;
	}
	lb = 1;
	if (analysis_attribute(&da, &db, &mo, &at, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw attribute: %s\n", err);
		goto out;
	}
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "a", side_json(ra.id, &ra, &at.a));
		json_object_set_new(o, "b", side_json(rb.id, &rb, &at.b));
		json_object_set_new(o, "ipw_ratio", jmv(at.ipw_ratio));
		json_object_set_new(o, "ipj_ratio", jmv(at.ipj_ratio));
		json_object_set_new(o, "accuracy_factor", jmv(at.acc_factor));
		json_object_set_new(o, "power_factor", jmv(at.power_factor));
		json_object_set_new(o, "energy_factor", jmv(at.energy_factor));
		json_object_set_new(o, "accuracy_share_of_ipw_change", json_real_or_null(at.acc_share_ipw));
		json_object_set_new(o, "accuracy_share_of_ipj_change", json_real_or_null(at.acc_share_ipj));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		putchar('\n');
		json_decref(o);
	} else {
		printf("A: run %s %-16s accuracy %.4f  power %.4g W  energy %.4g J  IPW %.4g /W  IPJ %.4g /J\n", ra.id,
		       ra.name ? ra.name : "-", at.a.accuracy.value, at.a.power_w.value, at.a.energy_j.value,
		       at.a.ipw.value, at.a.ipj.value);
		printf("B: run %s %-16s accuracy %.4f  power %.4g W  energy %.4g J  IPW %.4g /W  IPJ %.4g /J\n", rb.id,
		       rb.name ? rb.name : "-", at.b.accuracy.value, at.b.power_w.value, at.b.energy_j.value,
		       at.b.ipw.value, at.b.ipj.value);
		printf("\nIPW  B/A %s = accuracy %s x power (A/B) %s\n", fx(a, sizeof(a), at.ipw_ratio),
		       fx(b, sizeof(b), at.acc_factor), fx(c, sizeof(c), at.power_factor));
		printf("IPJ  B/A %s = accuracy %s x energy (A/B) %s\n", fx(a, sizeof(a), at.ipj_ratio),
		       fx(b, sizeof(b), at.acc_factor), fx(c, sizeof(c), at.energy_factor));
		if (isfinite(at.acc_share_ipw))
			printf("share of the log change due to accuracy: IPW %.1f%%, IPJ %.1f%%\n",
			       100 * at.acc_share_ipw, isfinite(at.acc_share_ipj) ? 100 * at.acc_share_ipj : NAN);
		printf("(accuracy factor over queries with measured energy; %g%% bootstrap intervals, runs resampled "
		       "independently)\n", 100 * mo.level);
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_ENV;
out:
	if (la)
		run_data_release(&da);
	if (lb)
		run_data_release(&db);
	run_record_release(&ra);
	run_record_release(&rb);
	if (opened)
		store_close(&st);
	return rc;
}
