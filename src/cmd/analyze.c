/*
 * cmd/analyze.c - 'ipw analyze RUN': the run's metrics overall and per
 * subject, least-squares regressions of energy, latency and TTFT on token
 * counts (coefficients with intervals, R²), and with --weights FILE the
 * subject-weighted accuracy, IPW and IPJ.
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
	fprintf(f, "usage: ipw analyze RUN [--store PATH] [--json] [--weights FILE] [--bootstrap N] [--seed N]\n"
		"  RUN            a run id, a name only one run has, or 'last'\n"
		"  --weights FILE subject weights (e.g. GDP shares): JSON {\"subject\": w} or lines 'subject,w'\n"
		"  --bootstrap N  resamples for the intervals (default %d; 0 = none)\n"
		"  --store PATH   the store to read (default ./ipw.db)\n"
		"  --json         one JSON object\n", METRICS_BOOTSTRAP);
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

int cmd_analyze(int argc, char **argv)
{
	static const struct option opts[] = {
		{"store", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"weights", required_argument, NULL, 'w'},
		{"bootstrap", required_argument, NULL, 'b'},
		{"seed", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *wfile = NULL;
	char err[IPW_ERRLEN], *end, a[128], b[128], c[128];
	struct store st;
	struct run_record r;
	struct run_data d;
	struct metrics_input in;
	struct metrics m;
	struct metrics_options mo;
	struct subject_metrics *sm = NULL;
	size_t nsm = 0, nw = 0;
	struct weight_entry *w = NULL;
	struct weighted_result wr;
	struct run_regressions rg;
	int json = 0, ch, rc = EXIT_INPUT, opened = 0, loaded = 0, weighted = 0;

	memset(&r, 0, sizeof(r));
	memset(&wr, 0, sizeof(wr));
	metrics_options_init(&mo);
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'j': json = 1; break;
		case 'w': wfile = optarg; break;
		case 'b':
			mo.bootstrap = (int)strtol(optarg, &end, 10);
			if (*end || mo.bootstrap < 0) {
				fprintf(stderr, "ipw analyze: --bootstrap wants a count >= 0, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			mo.seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "ipw analyze: --seed wants a number, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "ipw analyze: %s\n", optind >= argc ? "name one run" : "name only one run");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (wfile && analysis_weights_read(wfile, &w, &nw, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw analyze: %s\n", err);
		return EXIT_INPUT;
	}
	if (store_open(&st, path, STORE_READONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw analyze: %s\n", err);
		goto out;
	}
	opened = 1;
	if (store_run_get(&st, argv[optind], &r, err, sizeof(err)) < 0 ||
	    run_data_load(&st, r.id, &d, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw analyze: %s\n", err);
		goto out;
	}
	loaded = 1;
	run_data_metrics_input(&d, &in);
	if (metrics_compute(&in, &mo, &m, err, sizeof(err)) < 0 ||
	    metrics_by_subject(&in, &mo, &sm, &nsm, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw analyze: %s\n", err);
		goto out;
	}
	analysis_run_regressions(&d, mo.level, &rg);
	if (w) {
		if (analysis_weighted(&d, w, nw, &mo, &wr, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw analyze: %s\n", err);
			goto out;
		}
		weighted = 1;
	}
	if (json) {
		json_t *o = json_object(), *subj = json_array(), *regs = json_array();
		json_object_set_new(o, "run", json_integer(strtoll(r.id, NULL, 10)));
		json_object_set_new(o, "name", json_string(r.name ? r.name : ""));
		json_object_set_new(o, "queries", json_integer((json_int_t)d.n));
		json_object_set_new(o, "overall", metrics_json(&m));
		for (size_t i = 0; i < nsm; i++) {
			json_t *so = metrics_json(&sm[i].m);
			json_object_set_new(so, "subject", json_string(sm[i].subject));
			json_array_append_new(subj, so);
		}
		json_object_set_new(o, "subjects", subj);
		for (int k = 0; k < REG_COUNT; k++) {
			const struct reg_spec *sp = &analysis_reg_specs[k];
			json_t *ro = json_object(), *co = json_object();
			json_object_set_new(ro, "model", json_string(sp->name));
			json_object_set_new(ro, "n", json_integer(rg.r[k].n));
			if (rg.ok[k]) {
				json_object_set_new(co, "intercept", jmv(rg.r[k].ci[0]));
				for (int j = 0; j < sp->k; j++)
					json_object_set_new(co, sp->x[j], jmv(rg.r[k].ci[j + 1]));
				json_object_set_new(ro, "coefficients", co);
				json_object_set_new(ro, "r2", json_real_or_null(rg.r[k].r2));
				json_object_set_new(ro, "residual_se", json_real_or_null(rg.r[k].sigma));
			} else {
				json_decref(co);
				json_object_set_new(ro, "error", json_string(rg.why[k]));
			}
			json_array_append_new(regs, ro);
		}
		json_object_set_new(o, "regressions", regs);
		if (weighted) {
			json_t *wo = json_object();
			json_object_set_new(wo, "accuracy", jmv(wr.accuracy));
			json_object_set_new(wo, "ipw", jmv(wr.ipw));
			json_object_set_new(wo, "ipj", jmv(wr.ipj));
			json_object_set_new(wo, "weight_used", json_real_or_null(wr.weight_used));
			json_object_set_new(wo, "subjects_without_weight", list_json(wr.unweighted));
			json_object_set_new(wo, "weighted_subjects_absent", list_json(wr.absent));
			json_object_set_new(o, "weighted", wo);
		}
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		putchar('\n');
		json_decref(o);
	} else {
		printf("run %s  %s  (%zu queries: %d scored, %d failed, %d unscored)\n", r.id, r.name ? r.name : "-",
		       d.n, m.n_scored, m.n_failed, m.n_unscored);
		printf("  accuracy %s   IPW %s /W   IPJ %s /J\n", fmv(a, sizeof(a), "%.4f", m.accuracy),
		       fmv(b, sizeof(b), "%.4g", m.ipw), fmv(c, sizeof(c), "%.4g", m.ipj));
		printf("\nper subject\n%-24s %7s  %-26s %-30s %-30s\n", "subject", "scored", "accuracy", "IPW (1/W)",
		       "IPJ (1/J)");
		for (size_t i = 0; i < nsm; i++)
			printf("%-24s %7d  %-26s %-30s %-30s\n", *sm[i].subject ? sm[i].subject : "(none)",
			       sm[i].m.n_scored, fmv(a, sizeof(a), "%.4f", sm[i].m.accuracy),
			       fmv(b, sizeof(b), "%.4g", sm[i].m.ipw), fmv(c, sizeof(c), "%.4g", sm[i].m.ipj));
		printf("\nregressions (least squares over ok queries; %g%% intervals from Student's t)\n",
		       100 * mo.level);
		for (int k = 0; k < REG_COUNT; k++) {
			const struct reg_spec *sp = &analysis_reg_specs[k];
			printf("  %s\n", sp->name);
			if (!rg.ok[k]) {
				printf("    not fitted: %s\n", rg.why[k]);
				continue;
			}
			printf("    n %lld, R² %.4f, residual s.e. %.4g\n", rg.r[k].n, rg.r[k].r2, rg.r[k].sigma);
			printf("    %-16s %s\n", "intercept", fmv(a, sizeof(a), "%.6g", rg.r[k].ci[0]));
			for (int j = 0; j < sp->k; j++)
				printf("    %-16s %s per token\n", sp->x[j], fmv(a, sizeof(a), "%.6g", rg.r[k].ci[j + 1]));
		}
		if (weighted) {
			printf("\nsubject-weighted (weights from %s, %.6g of the weight present)\n", wfile,
			       wr.weight_used);
			printf("  accuracy %s   IPW %s /W   IPJ %s /J\n", fmv(a, sizeof(a), "%.4f", wr.accuracy),
			       fmv(b, sizeof(b), "%.4g", wr.ipw), fmv(c, sizeof(c), "%.4g", wr.ipj));
			for (size_t i = 0; wr.unweighted[i]; i++)
				printf("  subject '%s' has no weight: left out\n", wr.unweighted[i]);
			for (size_t i = 0; wr.absent[i]; i++)
				printf("  weighted subject '%s' is not in this run: left out\n", wr.absent[i]);
		}
	}
	rc = fflush(stdout) == 0 ? 0 : EXIT_ENV;
out:
	if (weighted)
		weighted_result_release(&wr);
	weights_free(w, nw);
	subject_metrics_free(sm, nsm);
	if (loaded)
		run_data_release(&d);
	run_record_release(&r);
	if (opened)
		store_close(&st);
	return rc;
}
