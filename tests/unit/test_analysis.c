/*
 * test_analysis.c - every analysis on the small store of
 * tests/fakes/analysis_fixture.h, against answers computed by hand there and
 * below: the item cursor, merging runs by id (missing items an error or
 * dropped), coverage and best-of-N, the routing oracle, the p-router's
 * expectation (p x oracle savings), the cascade, Monte Carlo, least squares,
 * percentile intervals, subject weights, attribution and the comparison row.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "analysis.h"
#include "stats.h"
#include "rng.h"
#include "../fakes/analysis_suite.h"

TestSuite(analysis, .init = fx_setup, .fini = fx_teardown);

Test(analysis, item_cursor_orders_by_id_with_latest_score)
{
	char err[IPW_ERRLEN];
	struct store_cursor c;
	struct store_item it;
	const char *want[] = {"i1", "i2", "i3", "i4", "i5"};
	int ok[] = {0, 1, 1, 1, 1}, correct[] = {-1, -1, 1, 0, 1}, k, n = 0;

	cr_assert_eq(store_items_open(&st, "5", &c, err, sizeof(err)), 0, "%s", err);
	while ((k = store_items_next(&c, &it, err, sizeof(err))) == 1) {
		cr_assert_str_eq(it.item_id, want[n]);
		cr_expect_eq(it.ok, ok[n], "%s ok", it.item_id);
		cr_expect_eq(it.correct, correct[n], "%s correct %d", it.item_id, it.correct);
		n++;
	}
	cr_assert_eq(k, 0, "%s", err);
	cr_assert_eq(n, 5);
	store_items_close(&c);
	cr_assert_eq(store_items_open(&st, "99", &c, err, sizeof(err)), STORE_ENOTFOUND);
}

Test(analysis, merge_missing_item_is_an_error_or_dropped)
{
	char err[IPW_ERRLEN] = "";
	const char *ids[] = {"1", "4"};
	const struct store_item *items[2];
	struct analysis_merge m;
	int k, n = 0;

	cr_assert_eq(analysis_merge_open(&m, &st, ids, 2, 0, err, sizeof(err)), 0, "%s", err);
	while ((k = analysis_merge_next(&m, items, err, sizeof(err))) == 1) {
		cr_assert_str_eq(items[0]->item_id, items[1]->item_id);
		n++;
	}
	cr_assert_lt(k, 0);
	cr_assert_eq(n, 4);
	cr_assert(strstr(err, "item 'i5' of run 1 is not in run 4"), "%s", err);
	cr_assert(strstr(err, "--intersect"), "%s", err);
	analysis_merge_close(&m);

	cr_assert_eq(analysis_merge_open(&m, &st, ids, 2, 1, err, sizeof(err)), 0, "%s", err);
	n = 0;
	while ((k = analysis_merge_next(&m, items, err, sizeof(err))) == 1)
		n++;
	cr_assert_eq(k, 0, "%s", err);
	cr_assert_eq(n, 4);
	cr_assert_eq(m.n_dropped, 1);
	analysis_merge_close(&m);
}

static int collect(const char *item, const char *subject, void *ctx)
{
	char *out = ctx;
	strcat(out, item);
	strcat(out, ":");
	strcat(out, subject);
	strcat(out, " ");
	return 0;
}

Test(analysis, coverage_per_run_best_of_n_and_subjects)
{
	char err[IPW_ERRLEN], unc[256] = "";
	const char *ids[] = {"1", "2"};
	struct coverage_result r;

	cr_assert_eq(analysis_coverage(&st, ids, 2, 0, collect, unc, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.n_items, 5);
	cr_assert_eq(r.run[0].correct, 2);
	cr_assert_eq(r.run[1].correct, 2);
	cr_assert_float_eq(coverage_value(&r.run[0]), 0.4, EPS);
	/* best of {small, big}: i1, i2, i4 */
	cr_assert_eq(r.best.correct, 3);
	cr_assert_float_eq(coverage_value(&r.best), 0.6, EPS);
	cr_assert_eq(r.n_uncovered, 2);
	cr_assert_str_eq(unc, "i3:math i5:bio ");
	/* subjects sorted: bio (i4, i5), math (i1..i3) */
	cr_assert_eq(r.nsubj, 2);
	cr_assert_str_eq(r.subj[0].subject, "bio");
	cr_assert_float_eq(coverage_value(&r.subj[0].run[0]), 0.5, EPS);
	cr_assert_float_eq(coverage_value(&r.subj[0].run[1]), 0.0, EPS);
	cr_assert_float_eq(coverage_value(&r.subj[0].best), 0.5, EPS);
	cr_assert_float_eq(coverage_value(&r.subj[1].run[0]), 1.0 / 3, EPS);
	cr_assert_float_eq(coverage_value(&r.subj[1].run[1]), 2.0 / 3, EPS);
	cr_assert_float_eq(coverage_value(&r.subj[1].best), 2.0 / 3, EPS);
	coverage_result_release(&r);

	/* with the cloud every item is answered by someone */
	const char *ids3[] = {"1", "2", "3"};
	cr_assert_eq(analysis_coverage(&st, ids3, 3, 0, NULL, NULL, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(coverage_value(&r.best), 1.0, EPS);
	cr_assert_eq(r.n_uncovered, 0);
	coverage_result_release(&r);
}

Test(analysis, coverage_excludes_failed_and_unscored)
{
	char err[IPW_ERRLEN];
	const char *ids[] = {"5"};
	struct coverage_result r;

	cr_assert_eq(analysis_coverage(&st, ids, 1, 0, NULL, NULL, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.run[0].items, 5);
	cr_assert_eq(r.run[0].failed, 1);
	cr_assert_eq(r.run[0].unscored, 1);
	cr_assert_eq(r.run[0].scored, 3);
	cr_assert_eq(r.run[0].correct, 2);  /* i3 (the later score, 1) and i5 */
	cr_assert_float_eq(coverage_value(&r.run[0]), 2.0 / 3, EPS);
	cr_assert_eq(r.best.unscored, 2);   /* i1 failed and i2 unscored: scored by no run */
	coverage_result_release(&r);
}

/*
 * Oracle by hand (energy): i1 -> small 10, i2 -> big 30, i3 -> cloud 100, i4 -> small 20,
 * i5 -> cloud 100: 260 J against 500 J cloud-only, saved 0.48, 3 of 5 local, all right.
 * Compute (FLOPs = 2 x params x (100 + output)): small 1e9 x 200 x 2 = 4e11, big 8e11,
 * cloud 10e9 x 300 x 2 = 6e12; cloud-only 3e13, oracle 2 x 6e12 + 4e11 + 8e11 + 4e11
 * = 1.36e13, saved 0.546667. Cost (USD per 1M in/out: small 0/0, big 0.1/0.2, cloud 1/2):
 * cloud 5e-4 per item, big 3e-5: cloud-only 2.5e-3, oracle 1.03e-3, saved 0.588.
 * Cascade (first tier: small): p = 1: 60 + (10 + 100) + (20 + 100) = 290 J, saved 0.42;
 * p = 0.5: 0.5 x 60 + 0.5 x (40 + 300) + 230 = 430 J, saved 0.14.
 */
static void route_models(struct route_model *m)
{
	m[0] = (struct route_model){1e9, 0, 0, NAN};
	m[1] = (struct route_model){2e9, 0.1, 0.2, NAN};
	m[2] = (struct route_model){10e9, 1, 2, NAN};
}

Test(analysis, routing_oracle_by_hand)
{
	char err[IPW_ERRLEN];
	const char *local[] = {"1", "2"};
	double p[] = {1, 0.8, 0.6, 0.5, 0};
	struct route_model m[3];
	struct route_options o = {ROUTE_ENERGY, p, 5, 0, 7, 0.95, 0, ROUTE_COMPUTE_ACTIVE, ROUTE_ONE_SIDED};
	struct route_result r;
	const struct route_row *w;

	route_models(m);
	cr_assert_eq(analysis_route(&st, local, 2, "3", m, &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.n_items, 5);
	cr_assert_eq(r.n_answerable, 3);
	cr_assert_eq(r.oracle_chosen[0], 2);
	cr_assert_eq(r.oracle_chosen[1], 1);
	w = find_row(&r, "cloud-only", NAN, 0);
	cr_assert_float_eq(w->energy_j.value, 500, EPS);
	cr_assert_float_eq(w->flops.value, 3e13, 1);
	cr_assert_float_eq(w->cost_usd.value, 2.5e-3, 1e-15);
	cr_assert_float_eq(w->accuracy.value, 0.8, EPS);
	w = find_row(&r, "oracle", 1, 0);
	cr_assert_float_eq(w->energy_j.value, 260, EPS);
	cr_assert_float_eq(w->saved_energy.value, 0.48, EPS);
	cr_assert_float_eq(w->saved_compute.value, 1 - 1.36e13 / 3e13, EPS);
	cr_assert_float_eq(w->saved_cost.value, 0.588, EPS);
	cr_assert_float_eq(w->local_share.value, 0.6, EPS);
	cr_assert_float_eq(w->accuracy.value, 1.0, EPS);
	w = find_row(&r, "cascade", 1, 0);
	cr_assert_float_eq(w->saved_energy.value, 0.42, EPS);
	w = find_row(&r, "cascade", 0.5, 0);
	cr_assert_float_eq(w->saved_energy.value, 0.14, EPS);
	/* router 0.5: i1, i2 stay right either way, i4 is right half the time: 4.5 / 5 */
	w = find_row(&r, "router", 0.5, 0);
	cr_assert_float_eq(w->accuracy.value, 0.9, EPS);
	cr_assert_float_eq(w->local_share.value, 0.3, EPS);
	route_result_release(&r);
}

Test(analysis, p_router_saves_p_times_the_oracle)
{
	char err[IPW_ERRLEN];
	const char *local[] = {"1", "2"};
	double p[] = {1, 0.8, 0.6, 0.5, 0.25, 0};
	struct route_model m[3];
	struct route_options o = {ROUTE_ENERGY, p, 6, 0, 7, 0.95, 0, ROUTE_COMPUTE_ACTIVE, ROUTE_ONE_SIDED};
	struct route_result r;
	const struct route_row *orc;

	route_models(m);
	cr_assert_eq(analysis_route(&st, local, 2, "3", m, &o, &r, err, sizeof(err)), 0, "%s", err);
	orc = find_row(&r, "oracle", 1, 0);
	for (size_t i = 0; i < 6; i++) {
		const struct route_row *w = find_row(&r, "router", p[i], 0);
		cr_expect_float_eq(w->saved_energy.value, p[i] * orc->saved_energy.value, EPS, "p %g", p[i]);
		cr_expect_float_eq(w->saved_compute.value, p[i] * orc->saved_compute.value, EPS, "p %g", p[i]);
		cr_expect_float_eq(w->saved_cost.value, p[i] * orc->saved_cost.value, EPS, "p %g", p[i]);
		cr_expect_float_eq(w->local_share.value, p[i] * orc->local_share.value, EPS, "p %g", p[i]);
	}
	cr_assert_float_eq(find_row(&r, "router", 0.8, 0)->saved_energy.value, 0.384, EPS);
	route_result_release(&r);
}

Test(analysis, monte_carlo_router_is_seeded_and_matches_expectation)
{
	char err[IPW_ERRLEN];
	const char *local[] = {"1", "2"};
	double p[] = {1, 0.5, 0};
	struct route_options o = {ROUTE_ENERGY, p, 3, 4000, 42, 0.95, 0, ROUTE_COMPUTE_ACTIVE, ROUTE_ONE_SIDED};
	struct route_result a, b;
	const struct route_row *w;

	cr_assert_eq(analysis_route(&st, local, 2, "3", NULL, &o, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(analysis_route(&st, local, 2, "3", NULL, &o, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a.nrows, b.nrows);
	for (size_t i = 0; i < a.nrows; i++)
		cr_assert(a.rows[i].saved_energy.value == b.rows[i].saved_energy.value, "same seed, same draws");
	/* p = 1 and p = 0 leave nothing to chance */
	w = find_row(&a, "router", 1, 1);
	cr_assert_float_eq(w->saved_energy.value, 0.48, EPS);
	cr_assert_float_eq(w->saved_energy.lo, 0.48, EPS);
	cr_assert_float_eq(find_row(&a, "router", 0, 1)->saved_energy.value, 0, EPS);
	/* p = 0.5: the sd of one trial is about 0.14, of the mean of 4000 about 0.0022 */
	w = find_row(&a, "router", 0.5, 1);
	cr_assert(fabs(w->saved_energy.value - 0.24) < 0.01, "MC mean %g", w->saved_energy.value);
	cr_assert(w->saved_energy.lo < 0.24 && w->saved_energy.hi > 0.24);
	w = find_row(&a, "cascade", 0.5, 1);
	cr_assert(fabs(w->saved_energy.value - 0.14) < 0.01, "MC cascade mean %g", w->saved_energy.value);
	/* no prices or parameters given: cost and compute are not computed, not 0 */
	cr_assert(isnan(find_row(&a, "oracle", 1, 0)->saved_cost.value));
	cr_assert(isnan(find_row(&a, "oracle", 1, 0)->flops.value));
	route_result_release(&b);
	o.seed = 43;   /* another seed, other draws */
	cr_assert_eq(analysis_route(&st, local, 2, "3", NULL, &o, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert(find_row(&b, "router", 0.5, 1)->saved_energy.value !=
		  find_row(&a, "router", 0.5, 1)->saved_energy.value);
	route_result_release(&a);
	route_result_release(&b);
}

Test(analysis, routing_missing_items_error_or_intersect)
{
	char err[IPW_ERRLEN] = "";
	const char *local[] = {"1", "4"};
	double p[] = {1};
	struct route_options o = {ROUTE_ENERGY, p, 1, 0, 1, 0.95, 0, ROUTE_COMPUTE_ACTIVE, ROUTE_ONE_SIDED};
	struct route_result r;

	cr_assert_lt(analysis_route(&st, local, 2, "3", NULL, &o, &r, err, sizeof(err)), 0);
	cr_assert(strstr(err, "'i5'") && strstr(err, "run 4"), "%s", err);
	o.intersect = 1;
	cr_assert_eq(analysis_route(&st, local, 2, "3", NULL, &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.n_items, 4);
	cr_assert_eq(r.n_dropped, 1);
	/* i1 small 10, i2 cloud 100 (partial = small: wrong), i3 cloud, i4 small 20: 230 of 400 */
	cr_assert_float_eq(find_row(&r, "oracle", 1, 0)->saved_energy.value, 1 - 230.0 / 400, EPS);
	route_result_release(&r);
}

Test(analysis, route_models_from_files)
{
	char err[IPW_ERRLEN], prices[128], params[128];
	struct run_record runs[3];
	struct route_model m[3];

	memset(runs, 0, sizeof(runs));
	cr_assert_eq(store_run_get(&st, "1", &runs[0], err, sizeof(err)), 0);
	cr_assert_eq(store_run_get(&st, "2", &runs[1], err, sizeof(err)), 0);
	cr_assert_eq(store_run_get(&st, "3", &runs[2], err, sizeof(err)), 0);
	write_text("prices.json", "{\"qwen3-1b\": {\"input\": 0, \"output\": 0}, \"big\": [0.1, 0.2],"
		   " \"3\": {\"input\": 1, \"output\": 2}}", prices, sizeof(prices));
	write_text("params.txt", "# active parameters\nqwen3-1b 1B\nqwen3-2b 2e9\ncloud 10e9\n", params,
		   sizeof(params));
	cr_assert_eq(analysis_route_models(runs, 3, prices, params, m, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(m[0].active_params, 1e9, EPS);
	cr_assert_float_eq(m[1].price_out, 0.2, EPS);   /* matched by name */
	cr_assert_float_eq(m[2].price_in, 1, EPS);      /* matched by id */
	cr_assert_float_eq(m[2].active_params, 10e9, EPS);
	write_text("bad.txt", "qwen3-1b 1B\n", params, sizeof(params));
	cr_assert_lt(analysis_route_models(runs, 3, NULL, params, m, err, sizeof(err)), 0);
	cr_assert(strstr(err, "no entry for run 2"), "%s", err);
	for (int i = 0; i < 3; i++)
		run_record_release(&runs[i]);
}

/*
 * x = 1, 2, 3, 4; y = 1, 3, 2, 4: slope = 4 / 5 = 0.8, intercept 2.5 - 0.8 x 2.5 = 0.5,
 * RSS 1.8, TSS 5, R² 0.64, s² = 0.9, se(slope) = sqrt(0.9 / 5), se(intercept) =
 * sqrt(0.9 (1/4 + 6.25/5)) = sqrt(1.35); t(0.975, 2) = 4.302652730.
 */
Test(analysis, least_squares_by_hand)
{
	char err[IPW_ERRLEN];
	double x[] = {1, 2, 3, 4, NAN}, y[] = {1, 3, 2, 4, 100};
	const double *xs[] = {x};
	struct regression r;
	double t = 4.302652730;

	cr_assert_eq(analysis_ols(y, xs, 1, 5, 0.95, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.n, 4);   /* the NAN row is left out */
	cr_assert_float_eq(r.coef[1], 0.8, 1e-12);
	cr_assert_float_eq(r.coef[0], 0.5, 1e-12);
	cr_assert_float_eq(r.r2, 0.64, 1e-12);
	cr_assert_float_eq(r.se[1], sqrt(0.18), 1e-12);
	cr_assert_float_eq(r.se[0], sqrt(1.35), 1e-12);
	cr_assert_float_eq(r.ci[1].ci_low, 0.8 - t * sqrt(0.18), 1e-8);
	cr_assert_float_eq(r.ci[1].ci_high, 0.8 + t * sqrt(0.18), 1e-8);
}

Test(analysis, least_squares_two_predictors_and_collinear)
{
	char err[IPW_ERRLEN];
	double x1[] = {1, 2, 3, 4, 5, 6}, x2[] = {2, 1, 4, 3, 6, 5}, y[6], same[6];
	const double *xs[] = {x1, x2}, *col[] = {x1, same};
	struct regression r;

	for (int i = 0; i < 6; i++) {
		y[i] = 1 + 2 * x1[i] + 3 * x2[i];
		same[i] = 2 * x1[i];
	}
	cr_assert_eq(analysis_ols(y, xs, 2, 6, 0.95, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(r.coef[0], 1, 1e-9);
	cr_assert_float_eq(r.coef[1], 2, 1e-9);
	cr_assert_float_eq(r.coef[2], 3, 1e-9);
	cr_assert_float_eq(r.r2, 1, 1e-12);
	cr_assert_lt(analysis_ols(y, col, 2, 6, 0.95, &r, err, sizeof(err)), 0);
	cr_assert(strstr(err, "collinear"), "%s", err);
	cr_assert_lt(analysis_ols(y, xs, 2, 3, 0.95, &r, err, sizeof(err)), 0);
}

Test(analysis, t_quantiles)
{
	cr_assert_float_eq(stats_t_quantile(0.975, 1), 12.70620474, 1e-6);
	cr_assert_float_eq(stats_t_quantile(0.975, 2), 4.302652730, 1e-8);
	cr_assert_float_eq(stats_t_quantile(0.975, 10), 2.228138852, 1e-8);
	cr_assert_float_eq(stats_t_quantile(0.025, 10), -2.228138852, 1e-8);
	cr_assert_float_eq(stats_t_quantile(0.975, 1e9), 1.959963985, 1e-8);
}

Test(analysis, run_regressions_recover_linear_laws)
{
	char err[IPW_ERRLEN];
	struct run_data d;
	struct run_regressions rg;

	cr_assert_eq(run_data_load(&st, "8", &d, err, sizeof(err)), 0, "%s", err);
	analysis_run_regressions(&d, 0.95, &rg);
	cr_assert(rg.ok[REG_ENERGY_OUT]);
	cr_assert_float_eq(rg.r[REG_ENERGY_OUT].coef[0], 5, 1e-9);
	cr_assert_float_eq(rg.r[REG_ENERGY_OUT].coef[1], 0.5, 1e-12);
	cr_assert_float_eq(rg.r[REG_LATENCY_TOKENS].coef[1], 0.001, 1e-9);
	cr_assert_float_eq(rg.r[REG_LATENCY_TOKENS].coef[2], 0.01, 1e-9);
	cr_assert_float_eq(rg.r[REG_TTFT_PROMPT].coef[1], 0.0002, 1e-12);
	cr_assert_float_eq(rg.r[REG_TTFT_PROMPT].r2, 1, 1e-9);
	run_data_release(&d);
	/* run 1's tokens are all equal: no slope, and it says so */
	cr_assert_eq(run_data_load(&st, "1", &d, err, sizeof(err)), 0, "%s", err);
	analysis_run_regressions(&d, 0.95, &rg);
	cr_assert(!rg.ok[REG_ENERGY_OUT]);
	cr_assert(strstr(rg.why[REG_ENERGY_OUT], "constant"), "%s", rg.why[REG_ENERGY_OUT]);
	run_data_release(&d);
}

Test(analysis, percentile_interval_from_order_statistics)
{
	double v[100];
	struct metric_value m;
	for (int i = 0; i < 100; i++)
		v[i] = 100 - i;   /* 100 .. 1, sorted by the call */
	m = analysis_percentile_ci(v, 100, 50, 0.95);
	cr_assert_float_eq(m.value, 50.5, EPS);
	/* ranks floor(50 - 1.96 x 5) = 40 and ceil(50 + 9.8) + 1 = 61 */
	cr_assert_float_eq(m.ci_low, 40, EPS);
	cr_assert_float_eq(m.ci_high, 61, EPS);
	double w[3] = {1, 2, 3};
	m = analysis_percentile_ci(w, 3, 99, 0.95);
	cr_assert_float_eq(m.value, 2.98, EPS);
	cr_assert(isnan(m.ci_low), "too few values for an interval");
}

/*
 * Run 1 (latency 1 s, so P = E): math acc 1/3, P 10; bio acc 1/2, P 20. Weights math 0.25,
 * bio 0.75: accuracy 0.25/3 + 0.375 = 0.458333; power 2.5 + 15 = 17.5; IPW 0.0261905.
 */
Test(analysis, subject_weights)
{
	char err[IPW_ERRLEN], path[128];
	struct run_data d;
	struct weight_entry *w;
	size_t nw;
	struct weighted_result r;
	struct metrics_options o;

	write_text("w.txt", "# subject, weight\nmath,0.25\nbio\t0.75\nlaw,1\n", path, sizeof(path));
	cr_assert_eq(analysis_weights_read(path, &w, &nw, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(nw, 3);
	cr_assert_eq(run_data_load(&st, "1", &d, err, sizeof(err)), 0, "%s", err);
	metrics_options_init(&o);
	o.bootstrap = 200;
	cr_assert_eq(analysis_weighted(&d, w, nw, &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(r.accuracy.value, 0.25 / 3 + 0.375, EPS);
	cr_assert_float_eq(r.ipw.value, (0.25 / 3 + 0.375) / 17.5, EPS);
	cr_assert_float_eq(r.ipj.value, (0.25 / 3 + 0.375) / 17.5, EPS);
	cr_assert_float_eq(r.weight_used, 1.0, EPS);
	cr_assert(r.accuracy.ci_low <= r.accuracy.value && r.accuracy.value <= r.accuracy.ci_high);
	cr_assert_str_eq(r.absent[0], "law");
	cr_assert_null(r.unweighted[0]);
	weighted_result_release(&r);
	weights_free(w, nw);
	run_data_release(&d);
	write_text("bad.json", "{\"math\": -1}", path, sizeof(path));
	cr_assert_lt(analysis_weights_read(path, &w, &nw, err, sizeof(err)), 0);
	cr_assert(strstr(err, "'math'"), "%s", err);
}

/* gen-a: acc 0.5, P 100 W, E 100 J; gen-b: acc 0.75, P 50 W, E 25 J. IPW 3x = 1.5 x 2; IPJ 6x = 1.5 x 4. */
Test(analysis, attribution_splits_the_change)
{
	char err[IPW_ERRLEN];
	struct run_data a, b;
	struct attribution at;
	struct metrics_options o;

	metrics_options_init(&o);
	o.bootstrap = 300;
	cr_assert_eq(run_data_load(&st, "6", &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(run_data_load(&st, "7", &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(analysis_attribute(&a, &b, &o, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(at.ipw_ratio.value, 3, EPS);
	cr_assert_float_eq(at.acc_factor.value, 1.5, EPS);
	cr_assert_float_eq(at.power_factor.value, 2, EPS);
	cr_assert_float_eq(at.ipj_ratio.value, 6, EPS);
	cr_assert_float_eq(at.energy_factor.value, 4, EPS);
	cr_assert_float_eq(at.acc_factor.value * at.power_factor.value, at.ipw_ratio.value, EPS);
	cr_assert_float_eq(at.acc_share_ipw, log(1.5) / log(3), EPS);
	cr_assert(at.ipw_ratio.ci_low <= 3 && 3 <= at.ipw_ratio.ci_high);
	cr_assert_float_eq(at.power_factor.ci_low, 2, EPS);   /* every query draws the same power */
	run_data_release(&a);
	run_data_release(&b);
}

Test(analysis, compare_row_of_a_run)
{
	char err[IPW_ERRLEN];
	struct agg_compare r;
	struct agg_options o;

	agg_options_init(&o);
	o.m.bootstrap = 100;
	cr_assert_eq(agg_compare_load(&st, "small", &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(r.run_id, "1");
	cr_assert_str_eq(r.accelerator, "Fake H200");
	cr_assert_eq(r.concurrency, 1);
	cr_assert_float_eq(r.r.m.accuracy.value, 0.4, EPS);
	cr_assert_float_eq(r.r.m.energy_j.value, 14, EPS);
	cr_assert_float_eq(r.r.m.ipw.value, 0.4 / 14, EPS);
	cr_assert_float_eq(r.r.m.j_per_token.value, 70.0 / 500, EPS);
	cr_assert_float_eq(r.r.latency_p50.value, 1, EPS);
	cr_assert_eq(r.r.delta, 0, "5 queries: bootstrap");
	cr_assert(r.r.m.accuracy.ci_low <= 0.4 && 0.4 <= r.r.m.accuracy.ci_high);
	agg_compare_release(&r);
	o.ci = AGG_CI_DELTA;
	cr_assert_eq(agg_compare_load(&st, "small", &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.r.delta, 1);
	/* acc 1,0,0,1,0: s² = 0.3, half-width 1.96 sqrt(0.3 / 5) */
	cr_assert_float_eq(r.r.m.accuracy.ci_high - 0.4, 1.959963985 * sqrt(0.06), 1e-8);
	agg_compare_release(&r);
	cr_assert_eq(agg_compare_load(&st, "nope", &o, &r, err, sizeof(err)), STORE_ENOTFOUND);
	agg_compare_release(&r);
}

/* acc 1, 0, 1, 0: mean 0.5, s² = 1/3, half-width 1.959964 x sqrt(1/12). */
Test(analysis, delta_method_by_hand_and_against_the_bootstrap)
{
	char err[IPW_ERRLEN];
	int acc4[] = {1, 0, 1, 0};
	double e4[] = {10, 20, 30, 40}, l4[] = {1, 1, 1, 1};
	struct metrics_input in = {.n = 4, .acc = acc4, .energy_j = e4, .latency_s = l4};
	struct metrics_options o;
	struct metrics m, b;
	enum { N = 6000 };
	static int acc[N];
	static double e[N], lat[N], tok[N];
	uint64_t s = 12345;

	metrics_options_init(&o);
	o.bootstrap = 0;
	cr_assert_eq(metrics_compute(&in, &o, &m, err, sizeof(err)), 0);
	analysis_delta_ci(&in, 0.95, &m);
	cr_assert_float_eq(m.accuracy.ci_high - 0.5, 1.959963985 * sqrt(1.0 / 12), 1e-8);
	cr_assert_float_eq(m.energy_j.ci_high - 25, 1.959963985 * sqrt((500.0 / 3) / 4), 1e-8);

	/* a large sample: delta and percentile-bootstrap intervals nearly agree */
	for (int i = 0; i < N; i++) {
		double u = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
		double v = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
		tok[i] = 20 + floor(500 * u);
		e[i] = 0.5 * tok[i] + 30 * v;
		lat[i] = 0.1 + 0.01 * tok[i];
		acc[i] = v < 0.3 + 0.5 * u;
	}
	struct metrics_input big = {.n = N, .acc = acc, .energy_j = e, .latency_s = lat, .tokens = tok};
	o.bootstrap = 2000;
	cr_assert_eq(metrics_compute(&big, &o, &b, err, sizeof(err)), 0);
	o.bootstrap = 0;
	cr_assert_eq(metrics_compute(&big, &o, &m, err, sizeof(err)), 0);
	analysis_delta_ci(&big, 0.95, &m);
	const struct metric_value *dv[] = {&m.accuracy, &m.ipw, &m.ipj, &m.j_per_token, &m.energy_j};
	const struct metric_value *bv[] = {&b.accuracy, &b.ipw, &b.ipj, &b.j_per_token, &b.energy_j};
	for (int k = 0; k < 5; k++) {
		double half = (bv[k]->ci_high - bv[k]->ci_low) / 2;
		cr_assert_gt(half, 0);
		cr_expect(fabs(dv[k]->ci_low - bv[k]->ci_low) < 0.15 * half, "metric %d low %g vs %g", k,
			  dv[k]->ci_low, bv[k]->ci_low);
		cr_expect(fabs(dv[k]->ci_high - bv[k]->ci_high) < 0.15 * half, "metric %d high %g vs %g", k,
			  dv[k]->ci_high, bv[k]->ci_high);
	}
}

/* Two generated runs held in memory (no store): n queries each, accuracy, power and energy varying. */
static void gen_run(struct run_data *d, size_t n, uint64_t seed, double skill, double watts)
{
	static const char *subject = "";
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->acc = calloc(n, sizeof(int));
	d->failed = calloc(n, sizeof(int));
	d->energy_j = calloc(n, sizeof(double));
	d->dynamic_j = calloc(n, sizeof(double));
	d->latency_s = calloc(n, sizeof(double));
	d->output_tokens = calloc(n, sizeof(double));
	d->subject = calloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		double u = (double)(splitmix64(&seed) >> 11) * 0x1.0p-53;
		double v = (double)(splitmix64(&seed) >> 11) * 0x1.0p-53;
		d->acc[i] = v < skill * (0.5 + u);
		d->latency_s[i] = 0.2 + 2 * u;
		d->energy_j[i] = d->latency_s[i] * watts * (0.8 + 0.4 * v);
		d->dynamic_j[i] = NAN;
		d->output_tokens[i] = 10 + floor(100 * u);
		d->subject[i] = subject;
	}
}

static void gen_run_free(struct run_data *d)
{
	free(d->acc);
	free(d->failed);
	free(d->energy_j);
	free(d->dynamic_j);
	free(d->latency_s);
	free(d->output_tokens);
	free(d->subject);
}

/*
 * The delta-method intervals of the attribution: by hand where every query
 * draws the same power (the power factor's interval has no width), and next
 * to the percentile bootstrap on two large generated runs (nearly equal).
 */
Test(analysis, attribution_delta_by_hand_and_against_the_bootstrap)
{
	char err[IPW_ERRLEN];
	struct run_data a, b;
	struct attribution at, bt;
	struct metrics_options o;

	metrics_options_init(&o);
	o.bootstrap = 0;
	cr_assert_eq(run_data_load(&st, "6", &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(run_data_load(&st, "7", &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(analysis_attribute(&a, &b, &o, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(analysis_attribute_delta_ci(&a, &b, 0.95, &at), 0);
	cr_assert_float_eq(at.power_factor.ci_low, 2, EPS);
	cr_assert_float_eq(at.power_factor.ci_high, 2, EPS);
	/* acc A 1,0,1,0 (s² 1/3, n 4), B 1,1,1,0 (s² 1/4): relative half-widths in quadrature */
	{
		double z = 1.959963985, ra = z * sqrt(1.0 / 12) / 0.5, rb = z * sqrt(1.0 / 16) / 0.75;
		cr_assert_float_eq(at.acc_factor.ci_high - 1.5, 1.5 * sqrt(ra * ra + rb * rb), 1e-8);
		/* IPW: power is constant in each run, so its interval is the accuracy factor's, times 2 */
		cr_assert_float_eq(at.ipw_ratio.ci_high - 3, 3 * sqrt(ra * ra + rb * rb), 1e-8);
	}
	run_data_release(&a);
	run_data_release(&b);

	gen_run(&a, 5000, 11, 0.5, 300);
	gen_run(&b, 4000, 12, 0.7, 150);
	o.bootstrap = 2000;
	cr_assert_eq(analysis_attribute(&a, &b, &o, &bt, err, sizeof(err)), 0, "%s", err);
	o.bootstrap = 0;
	cr_assert_eq(analysis_attribute(&a, &b, &o, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(analysis_attribute_delta_ci(&a, &b, 0.95, &at), 0);
	const struct metric_value *dv[] = {&at.acc_factor, &at.power_factor, &at.energy_factor, &at.ipw_ratio,
					   &at.ipj_ratio};
	const struct metric_value *bv[] = {&bt.acc_factor, &bt.power_factor, &bt.energy_factor, &bt.ipw_ratio,
					   &bt.ipj_ratio};
	for (int k = 0; k < 5; k++) {
		double half = (bv[k]->ci_high - bv[k]->ci_low) / 2;
		cr_assert_gt(half, 0);
		cr_assert_float_eq(dv[k]->value, bv[k]->value, EPS, "factor %d: the same point estimate", k);
		cr_expect(fabs(dv[k]->ci_low - bv[k]->ci_low) < 0.15 * half, "factor %d low %g vs %g", k,
			  dv[k]->ci_low, bv[k]->ci_low);
		cr_expect(fabs(dv[k]->ci_high - bv[k]->ci_high) < 0.15 * half, "factor %d high %g vs %g", k,
			  dv[k]->ci_high, bv[k]->ci_high);
	}
	gen_run_free(&a);
	gen_run_free(&b);
}

/* ---- the routing simulation against the straightforward computation ---- */

enum { RT_E, RT_F, RT_C, RT_LOCAL, RT_CORRECT, RT_SCORED, RT_N };

struct rt_spend {
	double v[3];
};

/* What route simulate did before its Monte Carlo loop was unrolled: one scheme's totals, weight w local. */
static void rt_add(double *t, const struct rt_spend *sp, size_t nlocal, long best, const struct store_item *c,
		   double w, int cascade)
{
	if (best >= 0) {
		for (int j = 0; j < 3; j++)
			if (w != 0)
				t[j] += w * sp[best].v[j];
		t[RT_LOCAL] += w, t[RT_CORRECT] += w, t[RT_SCORED] += w;
	} else
		w = 0;
	for (int j = 0; cascade && j < 3; j++)
		if (1 - w != 0)
			t[j] += (1 - w) * sp[0].v[j];
	for (int j = 0; j < 3; j++)
		if (1 - w != 0)
			t[j] += (1 - w) * sp[nlocal].v[j];
	if (1 - w != 0 && c->ok && (c->correct == 0 || c->correct == 1)) {
		t[RT_CORRECT] += (1 - w) * c->correct;
		t[RT_SCORED] += 1 - w;
	}
}

/* The Monte Carlo row's field f (route_row order) over trials, as mean and percentile interval. */
static struct route_value rt_field(const double *tr, int trials, const double *base, double n, int f)
{
	double *v = malloc((size_t)trials * sizeof(*v)), sum = 0;
	struct route_value out;
	int cnt = 0;
	for (int k = 0; k < trials; k++) {
		const double *t = &tr[(size_t)k * RT_N];
		double x;
		if (f < 3)
			x = t[f];
		else if (f < 6)
			x = base[f - 3] > 0 && isfinite(t[f - 3]) ? 1 - t[f - 3] / base[f - 3] : NAN;
		else if (f == 6)
			x = n > 0 ? t[RT_LOCAL] / n : NAN;
		else
			x = t[RT_SCORED] > 0 ? t[RT_CORRECT] / t[RT_SCORED] : NAN;
		v[k] = x;
		if (isfinite(x)) {
			sum += x;
			cnt++;
		}
	}
	out.value = cnt ? sum / cnt : NAN;
	stats_percentile_interval(v, (size_t)trials, 0.95, &out.lo, &out.hi);
	if (!cnt)
		out.lo = out.hi = NAN;
	free(v);
	return out;
}

static int same_value(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/*
 * A generated store of 3 local runs and a cloud run (120 items, failures,
 * unscored items, unmeasured energy, prices and parameters): every Monte Carlo row of
 * analysis_route equals, bit for bit, the trials summed one add_routed /
 * add_cascade call at a time with the same draws.
 */
Test(analysis, monte_carlo_rows_equal_the_straightforward_sums)
{
	enum { NR = 4, NI = 120, TRIALS = 40 };
	char err[IPW_ERRLEN], path[128], ids[NR][16];
	const char *idp[NR];
	struct store gs;
	struct route_model model[NR];
	double ps[2] = {0.35, 0.9};
	struct route_options o = {ROUTE_ENERGY, ps, 2, TRIALS, 77, 0.95, 0, ROUTE_COMPUTE_ACTIVE, ROUTE_ONE_SIDED};
	struct route_result res;
	uint64_t seed = 99;

	snprintf(path, sizeof(path), "%s/gen.db", dir);
	cr_assert_eq(store_open(&gs, path, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	for (int r = 0; r < NR; r++) {
		struct run_record rr;
		char name[16];
		memset(&rr, 0, sizeof(rr));
		snprintf(name, sizeof(name), "g%d", r);
		rr.name = name, rr.status = "completed", rr.started_at = 1700000000.0;
		rr.ended_at = rr.idle_seconds = NAN;
		rr.n_items = NI;
		cr_assert_eq(store_run_create(&gs, &rr, err, sizeof(err)), 0, "%s", err);
		snprintf(ids[r], sizeof(ids[r]), "%s", rr.id);
		idp[r] = ids[r];
		free(rr.id);
		model[r] = (struct route_model){1e9 * (r + 1), 0.1 * (r + 1), 0.4 * (r + 1), 1e9 * (r + 1)};
		for (int i = 0; i < NI; i++) {
			uint64_t v = splitmix64(&seed);
			char item[16];
			struct query_record q;
			struct store_score sc = {item, "mcq", NULL, 0, NULL, 0};
			memset(&q, 0, sizeof(q));
			snprintf(item, sizeof(item), "q%03d", (i * 37) % NI);
			q.seq = i, q.item_id = item, q.status = r < NR - 1 && v % 9 == 0 ? "failed" : "ok";
			q.t_send_s = q.t_first_s = q.t_end_s = q.ttft_s = q.tpot_s = NAN;
			q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
			q.e2e_s = 1 + (double)(v % 7);
			q.prompt_tokens = (long long)(v % 300);
			q.completion_tokens = (long long)((v >> 9) % 500);
			q.reasoning_tokens = -1;
			/* run 1's energy is not always measured (the oracle passes it over then) */
			q.accel_j = r == 1 && v % 13 == 0 ? NAN : (double)((v >> 20) % 10000) / 7;
			q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
			q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
			q.http_status = -1;
			cr_assert_eq(store_query_insert(&gs, ids[r], &q, err, sizeof(err)), 0, "%s", err);
			sc.correct = v % 5 == 0 ? -1 : (int)((v >> 30) % 100) < 30 + 15 * r;
			cr_assert_eq(store_score_add(&gs, ids[r], &sc, err, sizeof(err)), 0, "%s", err);
		}
	}
	cr_assert_eq(analysis_route(&gs, idp, NR - 1, idp[NR - 1], model, &o, &res, err, sizeof(err)), 0, "%s", err);

	/* the reference: the same merge, spends and oracle, and each trial's totals added call by call */
	struct analysis_merge m;
	const struct store_item *items[NR];
	static double tr[2][2][TRIALS * RT_N];   /* [p][router, cascade][trial] */
	double base[RT_N] = {0};
	struct rng rg;
	long long n = 0;
	int k;

	rng_seed(&rg, o.seed);
	cr_assert_eq(analysis_merge_open(&m, &gs, idp, NR, 0, err, sizeof(err)), 0, "%s", err);
	while ((k = analysis_merge_next(&m, items, err, sizeof(err))) == 1) {
		struct rt_spend sp[NR];
		long best = -1;
		for (int r = 0; r < NR; r++) {
			const struct store_item *it = items[r];
			int have = it->prompt_tokens >= 0 && it->completion_tokens >= 0;
			double tok = have ? (double)(it->prompt_tokens + it->completion_tokens) : NAN;
			sp[r].v[0] = it->accel_j;
			sp[r].v[1] = 2 * model[r].active_params * tok;
			sp[r].v[2] = have ? (model[r].price_in * (double)it->prompt_tokens +
					     model[r].price_out * (double)it->completion_tokens) / 1e6 : NAN;
		}
		for (int r = 0; r < NR - 1; r++)
			if (items[r]->ok && items[r]->correct == 1 && isfinite(sp[r].v[0]) && sp[r].v[0] >= 0 &&
			    (best < 0 || sp[r].v[0] < sp[best].v[0]))
				best = r;
		n++;
		rt_add(base, sp, NR - 1, -1, items[NR - 1], 0, 0);
		for (int j = 0; j < 2; j++)
			for (int t = 0; t < TRIALS; t++) {
				int right = best >= 0 && rng_unit(&rg) < ps[j];
				rt_add(&tr[j][0][t * RT_N], sp, NR - 1, right ? best : -1, items[NR - 1], 1, 0);
				rt_add(&tr[j][1][t * RT_N], sp, NR - 1, right ? best : -1, items[NR - 1], 1, 1);
			}
	}
	cr_assert_eq(k, 0, "%s", err);
	analysis_merge_close(&m);
	cr_assert_eq(res.n_items, n);
	cr_assert_eq(res.nrows, 2 + 2 * 4);
	for (int j = 0; j < 2; j++)
		for (int s = 0; s < 2; s++) {
			const struct route_row *row = &res.rows[2 + 4 * j + 2 * s + 1];
			const struct route_value *got[8] = {&row->energy_j, &row->flops, &row->cost_usd, &row->saved_energy,
							    &row->saved_compute, &row->saved_cost, &row->local_share,
							    &row->accuracy};
			cr_assert(row->monte_carlo && !strcmp(row->scheme, s ? "cascade" : "router"));
			for (int f = 0; f < 8; f++) {
				struct route_value want = rt_field(tr[j][s], TRIALS, base, (double)n, f);
				cr_assert(isfinite(want.value), "p %g scheme %d field %d is measured", ps[j], s, f);
				cr_assert(same_value(got[f]->value, want.value) && same_value(got[f]->lo, want.lo) &&
					  same_value(got[f]->hi, want.hi), "p %g scheme %d field %d: %.17g [%.17g, %.17g] "
					  "vs %.17g [%.17g, %.17g]", ps[j], s, f, got[f]->value, got[f]->lo, got[f]->hi,
					  want.value, want.lo, want.hi);
			}
		}
	route_result_release(&res);
	store_close(&gs);
}

/* A run of n queries in memory: accuracy alternating with period k, energy and latency varied. */
static void mem_run(struct run_data *d, size_t n, int k, double jscale)
{
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->acc = xcalloc(n, sizeof(*d->acc));
	d->failed = xcalloc(n, sizeof(*d->failed));
	d->energy_j = xcalloc(n, sizeof(double));
	d->dynamic_j = xcalloc(n, sizeof(double));
	d->latency_s = xcalloc(n, sizeof(double));
	d->ttft_s = xcalloc(n, sizeof(double));
	d->prompt_tokens = xcalloc(n, sizeof(double));
	d->output_tokens = xcalloc(n, sizeof(double));
	d->t_send_s = xcalloc(n, sizeof(double));
	d->t_end_s = xcalloc(n, sizeof(double));
	d->subject = xcalloc(n, sizeof(*d->subject));
	d->subjects = xcalloc(1, sizeof(*d->subjects));
	d->subjects[0] = xstrdup("");
	d->nsubjects = 1;
	for (size_t i = 0; i < n; i++) {
		d->acc[i] = (int)(i % (size_t)k) == 0;
		d->energy_j[i] = jscale * (1 + (double)(i % 17));
		d->latency_s[i] = 0.5 + (double)(i % 5) / 4;
		d->dynamic_j[i] = d->ttft_s[i] = NAN;
		d->prompt_tokens[i] = d->output_tokens[i] = 10;
		d->t_send_s[i] = (double)i;
		d->t_end_s[i] = (double)i + d->latency_s[i];
		d->subject[i] = d->subjects[0];
	}
}

/* attribute --ci auto: the bootstrap up to AGG_CI_AUTO_MAX scored queries, the delta method above (no resampling) */
Test(analysis, attribution_intervals_follow_the_auto_rule)
{
	struct run_data a, b, big;
	struct metrics_options mo;
	struct attribution at, ref;
	enum agg_ci ci;
	char err[IPW_ERRLEN];

	metrics_options_init(&mo);
	mo.bootstrap = 50;
	mem_run(&a, AGG_CI_AUTO_MAX, 3, 1);
	mem_run(&b, 2000, 2, 0.5);
	mem_run(&big, AGG_CI_AUTO_MAX + 1, 2, 0.5);
	/* at the cap: the bootstrap, the same intervals as analysis_attribute's */
	cr_assert_eq(analysis_attribute_ci(&a, &b, &mo, AGG_CI_AUTO, &ci, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ci, AGG_CI_BOOTSTRAP);
	cr_assert_eq(analysis_attribute(&a, &b, &mo, &ref, err, sizeof(err)), 0, "%s", err);
	cr_assert(at.ipw_ratio.ci_low == ref.ipw_ratio.ci_low && at.acc_factor.ci_high == ref.acc_factor.ci_high);
	/* one query more in either run: delta, as analysis_attribute_delta_ci computes it */
	cr_assert_eq(analysis_attribute_ci(&a, &big, &mo, AGG_CI_AUTO, &ci, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ci, AGG_CI_DELTA);
	ref = at;
	cr_assert_eq(analysis_attribute_delta_ci(&a, &big, mo.level, &ref), 0);
	cr_assert(isfinite(at.ipw_ratio.ci_low) && at.ipw_ratio.ci_low == ref.ipw_ratio.ci_low &&
		  at.ipw_ratio.ci_high == ref.ipw_ratio.ci_high && at.energy_factor.ci_low == ref.energy_factor.ci_low);
	cr_assert_eq(analysis_attribute_ci(&big, &b, &mo, AGG_CI_AUTO, &ci, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ci, AGG_CI_DELTA);
	/* asked for by name, either way */
	cr_assert_eq(analysis_attribute_ci(&a, &big, &mo, AGG_CI_BOOTSTRAP, &ci, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ci, AGG_CI_BOOTSTRAP);
	cr_assert_eq(analysis_attribute_ci(&a, &b, &mo, AGG_CI_DELTA, &ci, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ci, AGG_CI_DELTA);
	/* no resamples asked: point estimates only */
	mo.bootstrap = 0;
	cr_assert_eq(analysis_attribute_ci(&a, &big, &mo, AGG_CI_AUTO, &ci, &at, err, sizeof(err)), 0, "%s", err);
	cr_assert(isnan(at.ipw_ratio.ci_low) && isfinite(at.ipw_ratio.value));
	run_data_release(&a);
	run_data_release(&b);
	run_data_release(&big);
}
