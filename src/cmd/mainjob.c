/*
 * cmd/mainjob.c - the fresh-machine main job of 'ipw profile' (see
 * mainjob.h): finding the default reference model, switching the run to the
 * built-in engine when no server answers, and the closing accuracy/IPW/IPJ.
 */
#include "mainjob.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../aggregate.h"
#include "../client.h"
#include "../estimate.h"
#include "../metrics.h"
#include "../score.h"
#include "../store.h"
#include "../util.h"
#include "cmd.h"

static int readable(const char *p)
{
	return access(p, R_OK) == 0;
}

int mainjob_model(char *out, size_t n, char *err, size_t errlen)
{
	const char *env = getenv("IPW_MODELS");
	char exe[PATH_MAX], tried[2048] = "", *slash;
	ssize_t k;
	static const char *const rel[] = {"../share/ipw/models", "../models"};

	if (env && *env) {
		snprintf(out, n, "%s/%s", env, MAINJOB_MODEL);
		if (readable(out))
			return 0;
		return err_set(err, errlen, "no %s in IPW_MODELS=%s", MAINJOB_MODEL, env);
	}
	k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (k > 0) {
		exe[k] = 0;
		if ((slash = strrchr(exe, '/')))
			*slash = 0;
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			snprintf(out, n, "%s/%s/%s", exe, rel[i], MAINJOB_MODEL);
			if (readable(out))
				return 0;
			snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s", *tried ? ", " : "", out);
		}
	}
	return err_set(err, errlen, "no %s found (looked in %s)", MAINJOB_MODEL, *tried ? tried : "nowhere");
}

int mainjob_prepare(struct runner_opts *o, char *path, size_t n)
{
	struct discovered d;
	char err[IPW_ERRLEN], why[IPW_ERRLEN];

	if (!o->url && !o->resume && !o->model && o->api && !strcmp(o->api, "builtin")) {
		/* --api builtin with no --model: the default reference model */
		if (mainjob_model(path, n, err, sizeof err)) {
			fprintf(stderr, "ipw profile: --api builtin needs --model FILE.gguf: %s\n", err);
			return EXIT_USAGE;
		}
		o->model = path;
		fprintf(stderr, "ipw profile: --api builtin with the default reference model %s\n", path);
		return 0;
	}
	if (o->url || o->serve || o->resume || (o->api && strcmp(o->api, "auto")))
		return 0;
	if (client_discover(&d, why, sizeof why) == 0)
		return 0;
	if (mainjob_model(path, n, err, sizeof err)) {
		fprintf(stderr, "ipw profile: no inference server found, and the built-in engine has no model: %s.\n"
			"  Put the reference models in place (git checkout models/, or scripts/train-ref-models.sh;\n"
			"  docs/reference-models.md), point IPW_MODELS at a folder holding %s, run one with\n"
			"  ipw profile --api builtin --model FILE.gguf, or start a server and give --url.\n",
			err, MAINJOB_MODEL);
		return EXIT_ENV;
	}
	o->api = "builtin";
	o->model = path;
	if (!o->dataset)
		o->dataset = "ref";
	fprintf(stderr, "ipw profile: no inference server found; running the built-in engine with %s on "
		"--dataset %s (energy is estimated from CPU time where no sensor can be read)\n", path, o->dataset);
	return 1;
}

void mainjob_energy_note(const char *store, const char *run_id)
{
	struct store st;
	struct run_record run;
	char err[IPW_ERRLEN];

	memset(&run, 0, sizeof run);
	if (!run_id[0] || store_open(&st, store, STORE_READONLY, err, sizeof err))
		return;
	if (store_run_get(&st, run_id, &run, err, sizeof err) == 0 && run_is_estimated(&run))
		printf("  %-28s estimated, not measured: the engine's CPU time x watts per core\n", "energy method");
	run_record_release(&run);
	store_close(&st);
}

/* "v [lo, hi] unit", or "v unit" without an interval. */
static void print_metric(const char *label, struct metric_value v, const char *fmt, const char *unit,
			 const char *tag)
{
	printf("  %-28s ", label);
	printf(fmt, v.value);
	if (isfinite(v.ci_low) && isfinite(v.ci_high)) {
		printf(" [");
		printf(fmt, v.ci_low);
		printf(", ");
		printf(fmt, v.ci_high);
		printf("]");
	}
	printf(" %s%s\n", unit, tag);
}

void mainjob_summary(const char *store, const char *run_id)
{
	struct store st;
	struct agg_options ao;
	struct agg_result res;
	struct run_record run;
	char err[IPW_ERRLEN];
	const char *tag = "";

	memset(&run, 0, sizeof run);
	memset(&res, 0, sizeof res);
	if (store_open(&st, store, STORE_READONLY, err, sizeof err)) {
		fprintf(stderr, "ipw profile: %s\n", err);
		return;
	}
	if (store_run_get(&st, run_id, &run, err, sizeof err) == 0 && run_is_estimated(&run))
		tag = "  (estimated energy: CPU time x watts per core)";
	agg_options_init(&ao);
	if (agg_run(&st, run_id, AGG_LOAD_ITEMS, &ao, &res, err, sizeof err) < 0) {
		fprintf(stderr, "ipw profile: %s\n", err);
	} else if (!res.m.n_scored && run.dataset_format && !strcmp(run.dataset_format, "random")) {
		printf("  %-28s not scored: the items are ungraded (random dataset, no reference answers)\n",
		       "accuracy, IPW, IPJ");
	} else if (!res.m.n_scored) {
		printf("  %-28s not scored yet (judged tasks: ipw score %s --judge-url URL --judge-model NAME)\n",
		       "accuracy, IPW, IPJ", run_id);
	} else {
		struct metric_value pct = res.m.accuracy;
		pct.value *= 100, pct.ci_low *= 100, pct.ci_high *= 100;
		print_metric("accuracy", pct, "%.1f", "%", "");
		printf("  %-28s %d correct of %d scored, 95%% %s intervals\n", "", res.m.n_correct, res.m.n_scored,
		       res.delta ? "delta-method" : "bootstrap");
		if (isnan(res.m.ipw.value)) {
			printf("  %-28s not measured (no energy)\n", "IPW, IPJ");
		} else {
			print_metric("IPW (accuracy per watt)", res.m.ipw, "%.4g", "/W", tag);
			print_metric("IPJ (accuracy per joule)", res.m.ipj, "%.4g", "/J", tag);
		}
	}
	agg_result_release(&res);
	run_record_release(&run);
	store_close(&st);
}
