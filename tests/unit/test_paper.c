/*
 * test_paper.c - the paper's method beyond the core metrics, on the store of
 * tests/fakes/analysis_fixture.h with answers computed by hand below: the
 * model metadata file, FLOPs from active and total parameters, MFU and MBU,
 * the busy time of overlapping windows, routing compute on either basis,
 * the two-sided misroute model, device power, the interval rule, difficulty
 * levels, Kendall tau and Spearman rho with ties, mean and sd of repeats,
 * GDP weighting, release periods, trends (best per period, the IPW change
 * factored), best-of-local against best-of-cloud coverage and the GDI.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis.h"
#include "analysis/paper.h"
#include "perplexity.h"
#include "report.h"
#include "stats.h"
#include "util.h"
#include "../fakes/analysis_suite.h"

TestSuite(paper, .init = fx_setup, .fini = fx_teardown);

static const char meta_json[] =
	"{\"models\": {"
	" \"qwen3-1b\": {\"family\": \"qwen3\", \"released\": \"2025-04-29\", \"total_params\": \"4B\","
	"  \"active_params\": \"1B\", \"quantization\": \"bf16\"},"
	" \"big\": {\"family\": \"qwen3\", \"released\": \"2024-07\", \"total_params\": 2e9, \"quantization\": \"q8_0\"},"
	" \"cloud\": {\"released\": \"2025\", \"total_params\": \"30B\", \"active_params\": \"10B\","
	"  \"bits_per_weight\": 4}},"
	" \"accelerators\": {\"Fake H200\": {\"peak_flops\": \"1T\", \"peak_bandwidth\": 1e12, \"class\": \"cloud\"}}}";

Test(paper, meta_file_reads_models_and_accelerators)
{
	char err[IPW_ERRLEN], path[128];
	struct meta_file f;
	struct run_record r;
	const struct model_meta *m;
	const struct accel_meta *a;
	int count;

	write_text("meta.json", meta_json, path, sizeof(path));
	cr_assert_eq(meta_read(path, &f, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(f.nm, 3);
	memset(&r, 0, sizeof(r));
	cr_assert_eq(store_run_get(&st, "1", &r, err, sizeof(err)), 0);
	m = meta_model_of(&f, &r);   /* run 1 is named "small", its model "qwen3-1b" */
	cr_assert(m && !strcmp(m->key, "qwen3-1b"));
	cr_assert_float_eq(m->total_params, 4e9, EPS);
	cr_assert_float_eq(m->active_params, 1e9, EPS);
	cr_assert_float_eq(m->bits_per_weight, 16, EPS);
	cr_assert_eq(m->rel_year, 2025);
	cr_assert_eq(m->rel_month, 4);
	cr_assert_eq(m->rel_day, 29);
	cr_assert_str_eq(meta_run_accelerator(&r, &count), "Fake H200");
	cr_assert_eq(count, 1);
	a = meta_accel_find(&f, "Fake H200");
	cr_assert(a);
	cr_assert_float_eq(a->peak_flops, 1e12, EPS);
	cr_assert_eq(a->local, 0);
	run_record_release(&r);
	/* a dense model: active = total; q8_0 is 8.5 bits per weight */
	for (size_t i = 0; i < f.nm; i++)
		if (!strcmp(f.m[i].key, "big")) {
			cr_assert_float_eq(f.m[i].active_params, 2e9, EPS);
			cr_assert_float_eq(f.m[i].bits_per_weight, 8.5, EPS);
			cr_assert_eq(f.m[i].rel_month, 7);
			cr_assert_eq(f.m[i].rel_day, 0);
		}
	meta_release(&f);

	write_text("bad1.json", "{\"models\": {\"x\": {\"total_parms\": 1}}}", path, sizeof(path));
	cr_assert_lt(meta_read(path, &f, err, sizeof(err)), 0);
	cr_assert(strstr(err, "unknown member 'total_parms'") && strstr(err, "'x'"), "%s", err);
	write_text("bad2.json", "{\"models\": {\"x\": {\"total_params\": 1, \"active_params\": 2}}}", path, sizeof(path));
	cr_assert_lt(meta_read(path, &f, err, sizeof(err)), 0);
	cr_assert(strstr(err, "exceeds"), "%s", err);
	write_text("bad3.json", "{\"models\": {\"x\": {\"released\": \"2025-13\"}}}", path, sizeof(path));
	cr_assert_lt(meta_read(path, &f, err, sizeof(err)), 0);
	cr_assert(strstr(err, "YYYY-MM"), "%s", err);
	write_text("bad4.json", "{\"models\": {\"x\": {\"total_params\": \"lots\"}}}", path, sizeof(path));
	cr_assert_lt(meta_read(path, &f, err, sizeof(err)), 0);
	cr_assert(strstr(err, "'total_params' is not a number"), "%s", err);
}

Test(paper, busy_seconds_is_the_union_of_windows)
{
	double t0[] = {0, 1, 5, 5.5, NAN, 9}, t1[] = {2, 3, 6, 5.7, 1, 8};
	/* [0,3] and [5,6]: 4 s; the NAN window and the reversed [9,8] are skipped */
	cr_assert_float_eq(metrics_busy_seconds(t0, t1, 6), 4, EPS);
	cr_assert_float_eq(metrics_busy_seconds(t0, t1, 0), 0, EPS);
}

/*
 * Run 1 "small": 5 ok queries, prompt 100 + output 100 tokens, latency 1 s,
 * TTFT 0.2 s, windows [2k, 2k + 1] (busy 5 s), energies 10,10,10,20,20 (70 J).
 * Active 1e9, total 4e9: FLOPs 2 x 1e9 x 1000 = 2e12 and 8e12; FLOPs/J 2e12 /
 * 70; FLOP/s 2e12 / 5 = 4e11, MFU against 1e12: 0.4. Bytes per token 1e9 x
 * 16 / 8 = 2e9, x 500 output tokens / (5 x 0.8 s decode) = 2.5e11 B/s, MBU
 * against 1e12 B/s: 0.25.
 */
Test(paper, compute_flops_mfu_mbu_by_hand)
{
	char err[IPW_ERRLEN];
	struct run_data d;
	struct run_compute c;

	cr_assert_eq(run_data_load(&st, "1", &d, err, sizeof(err)), 0, "%s", err);
	analysis_compute(&d, 1e9, 4e9, 16, 1e12, 1e12, &c);
	cr_assert_eq(c.n_queries, 5);
	cr_assert_eq(c.n_tokens, 5);
	cr_assert_float_eq(c.tokens, 1000, EPS);
	cr_assert_float_eq(c.flops_active, 2e12, 1);
	cr_assert_float_eq(c.flops_total, 8e12, 1);
	cr_assert_float_eq(c.flops_per_j, 2e12 / 70, 1e-3);
	cr_assert_float_eq(c.busy_s, 5, EPS);
	cr_assert_float_eq(c.flops_per_s, 4e11, 1e-3);
	cr_assert_float_eq(c.mfu, 0.4, EPS);
	cr_assert_float_eq(c.decode_s, 4, EPS);
	cr_assert_float_eq(c.bytes_per_s, 2.5e11, 1e-3);
	cr_assert_float_eq(c.mbu, 0.25, EPS);
	/* no peaks, no quantisation: MFU and MBU are not computed, never 0 */
	analysis_compute(&d, 1e9, NAN, NAN, NAN, NAN, &c);
	cr_assert(isnan(c.mfu) && isnan(c.mbu) && isnan(c.flops_total) && isnan(c.bytes_per_s));
	cr_assert_float_eq(c.flops_active, 2e12, 1);
	run_data_release(&d);
	/* run 5 has a failed query (i1): 4 ok queries count */
	cr_assert_eq(run_data_load(&st, "5", &d, err, sizeof(err)), 0, "%s", err);
	analysis_compute(&d, 1e9, 1e9, 16, NAN, NAN, &c);
	cr_assert_eq(c.n_queries, 4);
	run_data_release(&d);
}

/*
 * Compute on total parameters: small 4e9, big 2e9, cloud 30e9; tokens 200
 * locally, 300 at the cloud. FLOPs: small 2 x 4e9 x 200 = 1.6e12, big 8e11,
 * cloud 1.8e13; cloud-only 9e13; oracle (i1 small, i2 big, i3 cloud, i4
 * small, i5 cloud) 1.6e12 + 8e11 + 1.8e13 + 1.6e12 + 1.8e13 = 4e13: saved 5/9.
 * On active parameters (1e9, 2e9, 10e9) it stays 1 - 1.36e13 / 3e13.
 */
Test(paper, routing_compute_on_total_or_active_parameters)
{
	char err[IPW_ERRLEN];
	const char *local[] = {"1", "2"};
	double p[] = {1, 0.5};
	struct route_model m[3] = {{1e9, 0, 0, 4e9}, {2e9, 0.1, 0.2, 2e9}, {10e9, 1, 2, 30e9}};
	struct route_options o = {ROUTE_ENERGY, p, 2, 0, 7, 0.95, 0, ROUTE_COMPUTE_TOTAL, ROUTE_ONE_SIDED};
	struct route_result r;
	const struct route_row *w;

	cr_assert_eq(analysis_route(&st, local, 2, "3", m, &o, &r, err, sizeof(err)), 0, "%s", err);
	w = find_row(&r, "cloud-only", NAN, 0);
	cr_assert_float_eq(w->flops.value, 9e13, 1);
	cr_assert_float_eq(w->flops_active.value, 3e13, 1);
	w = find_row(&r, "oracle", 1, 0);
	cr_assert_float_eq(w->saved_compute.value, 5.0 / 9, EPS);
	cr_assert_float_eq(w->saved_compute_total.value, 5.0 / 9, EPS);
	cr_assert_float_eq(w->saved_compute_active.value, 1 - 1.36e13 / 3e13, EPS);
	cr_assert_float_eq(find_row(&r, "router", 0.5, 0)->saved_compute.value, 0.5 * 5.0 / 9, EPS);
	route_result_release(&r);
	o.compute = ROUTE_COMPUTE_ACTIVE;
	cr_assert_eq(analysis_route(&st, local, 2, "3", m, &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(find_row(&r, "oracle", 1, 0)->saved_compute.value, 1 - 1.36e13 / 3e13, EPS);
	route_result_release(&r);
}

/*
 * Per day (route_per_day, shared by route simulate --daily-queries and the
 * report): cloud-only spends 500 J over the 5 items, the oracle 260 J; at
 * 1e6 queries a day 500 / 5 x 1e6 = 1e8 J = 27.78 kWh (1 kWh = 3.6e6 J) and
 * 260 / 5 x 1e6 = 5.2e7 J = 14.44 kWh; at the paper's 80.2e6 the oracle is
 * 52 x 80.2e6 / 3.6e6 = 1158.44 kWh. Cloud FLOPs (total) 9e13 / 5 x 1e6 =
 * 1.8e19 a day. A Monte Carlo spread scales alike; no volume gives NAN.
 */
Test(paper, routing_per_day_by_hand)
{
	char err[IPW_ERRLEN];
	const char *local[] = {"1", "2"};
	double p[] = {1};
	struct route_model m[3] = {{1e9, 0, 0, 4e9}, {2e9, 0.1, 0.2, 2e9}, {10e9, 1, 2, 30e9}};
	struct route_options o = {ROUTE_ENERGY, p, 1, 0, 7, 0.95, 0, ROUTE_COMPUTE_TOTAL, ROUTE_ONE_SIDED};
	struct route_result r;
	struct route_value d;

	cr_assert_eq(analysis_route(&st, local, 2, "3", m, &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.n_items, 5);
	d = route_per_day(find_row(&r, "cloud-only", NAN, 0)->energy_j, 1e6, r.n_items, ROUTE_J_PER_KWH);
	cr_assert_float_eq(d.value, 1e8 / 3.6e6, 1e-9);
	cr_assert(isnan(d.lo) && isnan(d.hi));
	d = route_per_day(find_row(&r, "oracle", 1, 0)->energy_j, 1e6, r.n_items, ROUTE_J_PER_KWH);
	cr_assert_float_eq(d.value, 5.2e7 / 3.6e6, 1e-9);
	d = route_per_day(find_row(&r, "oracle", 1, 0)->energy_j, 80.2e6, r.n_items, ROUTE_J_PER_KWH);
	cr_assert_float_eq(d.value, 52 * 80.2e6 / 3.6e6, 1e-6);
	d = route_per_day(find_row(&r, "cloud-only", NAN, 0)->flops, 1e6, r.n_items, 1);
	cr_assert_float_eq(d.value, 1.8e19, 1e4);
	route_result_release(&r);
	d = route_per_day((struct route_value){10, 8, 12}, 100, 4, 1);
	cr_assert(d.value == 250 && d.lo == 200 && d.hi == 300);
	d = route_per_day((struct route_value){10, NAN, NAN}, 0, 4, 1);
	cr_assert(isnan(d.value));
	d = route_per_day((struct route_value){10, NAN, NAN}, 100, 0, 1);
	cr_assert(isnan(d.value));
}

/*
 * Two-sided misroutes (energy). Answerable: i1 (small 10), i2 (big 30), i4
 * (small 20); not: i3, i5 (kept on the cheapest local run, small: 10 and 20,
 * both wrong there). Router p = 0.5: answerable 0.5 x 60 + 0.5 x 300 = 180,
 * the others 0.5 x 30 + 0.5 x 200 = 115: 295 J of 500, saved 0.41. Accuracy:
 * answerable 0.5 x 3 + 0.5 x 2 (cloud right on i1, i2) = 2.5, the others
 * 0.5 x 2 = 1: 3.5 / 5 = 0.7 (one-sided 0.9); kept wrong 0.5 x 2 / 5 = 0.2;
 * local 0.5 x 5 / 5. p = 0: 300 + 30 = 330, saved 0.34, accuracy 2 / 5,
 * kept wrong 0.4. p = 1 is the oracle. Cascade p = 0.5: answerable 0.5 x 60
 * + 0.5 x (40 + 300) = 200, the others 30 + 0.5 x 200 = 130: saved 0.34.
 */
Test(paper, two_sided_misroutes_by_hand)
{
	char err[IPW_ERRLEN];
	const char *local[] = {"1", "2"};
	double p[] = {1, 0.5, 0};
	struct route_options o = {ROUTE_ENERGY, p, 3, 3000, 11, 0.95, 0, ROUTE_COMPUTE_ACTIVE, ROUTE_TWO_SIDED};
	struct route_result r;
	const struct route_row *w;

	cr_assert_eq(analysis_route(&st, local, 2, "3", NULL, &o, &r, err, sizeof(err)), 0, "%s", err);
	w = find_row(&r, "router", 0.5, 0);
	cr_assert_float_eq(w->saved_energy.value, 0.41, EPS);
	cr_assert_float_eq(w->accuracy.value, 0.7, EPS);
	cr_assert_float_eq(w->kept_wrong.value, 0.2, EPS);
	cr_assert_float_eq(w->local_share.value, 0.5, EPS);
	w = find_row(&r, "router", 0, 0);
	cr_assert_float_eq(w->saved_energy.value, 0.34, EPS);
	cr_assert_float_eq(w->accuracy.value, 0.4, EPS);
	cr_assert_float_eq(w->kept_wrong.value, 0.4, EPS);
	w = find_row(&r, "router", 1, 0);
	cr_assert_float_eq(w->saved_energy.value, 0.48, EPS);
	cr_assert_float_eq(w->kept_wrong.value, 0, EPS);
	cr_assert_float_eq(find_row(&r, "oracle", 1, 0)->kept_wrong.value, 0, EPS);
	cr_assert_float_eq(find_row(&r, "cascade", 0.5, 0)->saved_energy.value, 0.34, EPS);
	/* Monte Carlo p = 0.5: 5 draws per trial; the mean of 3000 trials is within 0.01 of 0.41 */
	w = find_row(&r, "router", 0.5, 1);
	cr_assert(fabs(w->saved_energy.value - 0.41) < 0.01, "MC %g", w->saved_energy.value);
	cr_assert(fabs(w->accuracy.value - 0.7) < 0.02, "MC accuracy %g", w->accuracy.value);
	cr_assert_float_eq(find_row(&r, "router", 0, 1)->kept_wrong.value, 0.4, EPS);
	route_result_release(&r);
	/* one-sided on the same runs: nothing is kept wrong and p = 0.5 keeps 0.9 */
	o.misroute = ROUTE_ONE_SIDED;
	cr_assert_eq(analysis_route(&st, local, 2, "3", NULL, &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(find_row(&r, "router", 0.5, 0)->accuracy.value, 0.9, EPS);
	cr_assert_float_eq(find_row(&r, "router", 0.5, 0)->kept_wrong.value, 0, EPS);
	route_result_release(&r);
}

/*
 * Device power against the request's share. Queries (window, E, latency,
 * acc): [0,2] 100 J 2 s 1; [0,2] 100 J 2 s 0; [2,3] 50 J 1 s 1; [5,6] 40 J
 * 1 s 1; a failed one and an unscored one (left out). Busy [0,3] + [5,6] =
 * 4 s; 290 J / 4 s = 72.5 W; accuracy 0.75; IPW_device 0.75 / 72.5; 6 s of
 * requests over 4 s busy: 1.5 in flight. The request's share: powers 50, 50,
 * 50, 40, mean 47.5 W, IPW 0.75 / 47.5.
 */
Test(paper, device_power_against_request_share)
{
	int acc[] = {1, 0, 1, 1, 1, -1}, failed[] = {0, 0, 0, 0, 1, 0};
	double e[] = {100, 100, 50, 40, 30, 30}, lat[] = {2, 2, 1, 1, 1, 1};
	double t0[] = {0, 0, 2, 5, 7, 8}, t1[] = {2, 2, 3, 6, 8, 9};
	struct metrics_input in = {6, acc, e, NULL, lat, failed, NULL, NULL};
	struct device_power dp;
	struct metrics m;
	struct metrics_options o;
	char err[IPW_ERRLEN];

	metrics_device_power(&in, t0, t1, &dp);
	cr_assert_eq(dp.n, 4);
	cr_assert_float_eq(dp.busy_s, 4, EPS);
	cr_assert_float_eq(dp.energy_j, 290, EPS);
	cr_assert_float_eq(dp.power_w, 72.5, EPS);
	cr_assert_float_eq(dp.in_flight, 1.5, EPS);
	cr_assert_float_eq(dp.accuracy, 0.75, EPS);
	cr_assert_float_eq(dp.ipw, 0.75 / 72.5, EPS);
	metrics_options_init(&o);
	o.bootstrap = 0;
	cr_assert_eq(metrics_compute(&in, &o, &m, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(m.ipw.value, 0.75 / 47.5, EPS);
	/* nothing usable: not computed */
	failed[0] = failed[1] = failed[2] = failed[3] = 1;
	metrics_device_power(&in, t0, t1, &dp);
	cr_assert_eq(dp.n, 0);
	cr_assert(isnan(dp.power_w) && isnan(dp.ipw));
}

/* One interval method per figure: the largest run decides for every run under auto. */
Test(paper, one_interval_method_per_figure)
{
	char err[IPW_ERRLEN];
	char *ids[] = {"1", "5"};
	enum agg_ci ci;
	long long most;

	cr_assert_eq(analysis_ci_decide(AGG_CI_AUTO, 50000), AGG_CI_BOOTSTRAP);
	cr_assert_eq(analysis_ci_decide(AGG_CI_AUTO, 50001), AGG_CI_DELTA);
	cr_assert_eq(analysis_ci_decide(AGG_CI_BOOTSTRAP, 1000000), AGG_CI_BOOTSTRAP);
	cr_assert_eq(analysis_ci_decide(AGG_CI_DELTA, 5), AGG_CI_DELTA);
	/* run 1: 5 scored; run 5: 3 (one failed, one unscored) */
	cr_assert_eq(analysis_figure_ci(&st, ids, 2, AGG_CI_AUTO, &ci, &most, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ci, AGG_CI_BOOTSTRAP);
	cr_assert_eq(most, 5);
	cr_assert_eq(analysis_figure_ci(&st, ids + 1, 1, AGG_CI_DELTA, &ci, &most, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ci, AGG_CI_DELTA);
	cr_assert_eq(most, 3);
	cr_assert_str_eq(analysis_ci_name(AGG_CI_DELTA), "delta");
}

/*
 * Levels with classes <= 1.5B, <= 5B, > 5B: small (1B) class 0, big (2B) 1,
 * cloud (235B) 2. i1 (small right) L1, i2 (big) L2, i3 (cloud only) L3, i4
 * (small) L1, i5 (cloud) L3. Without the cloud, i3 and i5 are unsolved (L4).
 */
Test(paper, difficulty_levels_by_hand)
{
	char err[IPW_ERRLEN];
	const char *ids[] = {"1", "2", "3"};
	double total[] = {1e9, 2e9, 235e9}, *b;
	size_t nb;
	struct level_result r;

	cr_assert_eq(analysis_level_bounds("1.5B,5B", &b, &nb, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(nb, 2);
	cr_assert_eq(analysis_levels(&st, ids, 3, total, b, nb, 0, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.nlevels, 4);
	cr_assert_eq(r.run_class[0], 0);
	cr_assert_eq(r.run_class[2], 2);
	cr_assert_eq(r.items[0], 2);
	cr_assert_eq(r.items[1], 1);
	cr_assert_eq(r.items[2], 2);
	cr_assert_eq(r.items[3], 0);
	/* big on L1: i1 right, i4 wrong; the cloud answers all of L3 */
	cr_assert_eq(r.scored[1 * 4 + 0], 2);
	cr_assert_eq(r.correct[1 * 4 + 0], 1);
	cr_assert_eq(r.correct[2 * 4 + 2], 2);
	level_result_release(&r);
	cr_assert_eq(analysis_levels(&st, ids, 2, total, b, nb, 0, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.items[3], 2, "i3 and i5 unsolved without the cloud");
	cr_assert_eq(r.items[2], 0);
	level_result_release(&r);
	total[1] = NAN;
	cr_assert_lt(analysis_levels(&st, ids, 2, total, b, nb, 0, &r, err, sizeof(err)), 0);
	cr_assert(strstr(err, "run 2 has no total parameter count"), "%s", err);
	free(b);
	cr_assert_lt(analysis_level_bounds("5B,1B", &b, &nb, err, sizeof(err)), 0);
	cr_assert(strstr(err, "ascend"), "%s", err);
	cr_assert_lt(analysis_level_bounds("big", &b, &nb, err, sizeof(err)), 0);
}

/*
 * Kendall tau-b and Spearman rho by hand. x = 1,2,3,4 against y = 1,3,2,4:
 * one discordant pair of six: tau (5 - 1) / 6; rho 1 - 6 x 2 / (4 x 15) =
 * 0.8. With ties x = 1,1,2,3 and y = 1,2,2,3: concordant 4, one tie in each:
 * tau_b 4 / sqrt(5 x 5) = 0.8; average ranks 1.5,1.5,3,4 and 1,2.5,2.5,4:
 * rho 3.75 / 4.5.
 */
Test(paper, kendall_and_spearman_by_hand)
{
	double x[] = {1, 2, 3, 4}, y[] = {1, 3, 2, 4}, xt[] = {1, 1, 2, 3}, yt[] = {1, 2, 2, 3}, c[] = {5, 5, 5, 5};
	cr_assert_float_eq(analysis_kendall_tau(x, y, 4), 4.0 / 6, EPS);
	cr_assert_float_eq(analysis_spearman_rho(x, y, 4), 0.8, EPS);
	cr_assert_float_eq(analysis_kendall_tau(xt, yt, 4), 0.8, EPS);
	cr_assert_float_eq(analysis_spearman_rho(xt, yt, 4), 3.75 / 4.5, EPS);
	cr_assert_float_eq(analysis_kendall_tau(x, x, 4), 1, EPS);
	cr_assert(isnan(analysis_kendall_tau(x, c, 4)), "a scoring of all ties has no tau");
	cr_assert(isnan(analysis_spearman_rho(x, c, 4)));
	cr_assert(isnan(analysis_kendall_tau(x, y, 1)));
}

/* Ranking and bootstrap: IPW small 0.4/14, big 0.4/17, cloud 0.8/25; resampling is seeded. */
Test(paper, rank_bootstrap_is_seeded)
{
	char err[IPW_ERRLEN];
	struct run_data d[3];
	const struct run_data *dp[3] = {&d[0], &d[1], &d[2]};
	struct rank_stability a, b;
	const char *ids[] = {"1", "2", "3"};
	double mean, sd, v[] = {1, 2, NAN, 3};
	size_t k;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(run_data_load(&st, ids[i], &d[i], err, sizeof(err)), 0, "%s", err);
	analysis_rank_bootstrap(dp, 3, RANK_IPW, 300, 5, 0.95, &a);
	analysis_rank_bootstrap(dp, 3, RANK_IPW, 300, 5, 0.95, &b);
	cr_assert_float_eq(a.value[0], 0.4 / 14, EPS);
	cr_assert_float_eq(a.value[1], 0.4 / 17, EPS);
	cr_assert_float_eq(a.value[2], 0.8 / 25, EPS);
	cr_assert(a.tau_mean == b.tau_mean && a.rho_lo == b.rho_lo && a.top_same == b.top_same);
	cr_assert(a.tau_mean <= 1 && a.tau_lo <= a.tau_hi && a.top_same >= 0 && a.top_same <= 1);
	rank_stability_release(&a);
	rank_stability_release(&b);
	cr_assert_float_eq(analysis_rank_value(&d[0], RANK_ACCURACY, NULL, 0), 0.4, EPS);
	cr_assert_float_eq(analysis_rank_value(&d[0], RANK_IPJ, NULL, 0), 0.4 / 14, EPS);
	for (int i = 0; i < 3; i++)
		run_data_release(&d[i]);
	/* mean 2, sample sd 1 over the finite values */
	analysis_mean_sd(v, 4, &mean, &sd, &k);
	cr_assert_float_eq(mean, 2, EPS);
	cr_assert_float_eq(sd, 1, EPS);
	cr_assert_eq(k, 3);
}

/*
 * GDP weighting on run 1: math accuracy 1/3, bio 1/2; weights math 3e12,
 * bio 1e12, law 4e12 (absent). Normalised: (1e12 + 0.5e12) / 4e12 = 0.375;
 * GDP form: 1.5e12; share of the file's 8e12: 0.1875.
 */
Test(paper, gdp_weighting_by_hand)
{
	char err[IPW_ERRLEN];
	struct run_data d;
	struct weight_entry w[] = {{"math", 3e12}, {"bio", 1e12}, {"law", 4e12}};
	struct metrics_options o;
	struct weighted_result r;

	metrics_options_init(&o);
	o.bootstrap = 200;
	cr_assert_eq(run_data_load(&st, "1", &d, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(analysis_weighted(&d, w, 3, &o, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(r.accuracy.value, 0.375, EPS);
	cr_assert_float_eq(r.gdp_value.value, 1.5e12, 1e-3);
	cr_assert_float_eq(r.weight_total, 8e12, 1e-3);
	cr_assert_float_eq(r.gdp_share.value, 0.1875, EPS);
	cr_assert(r.gdp_share.ci_low <= 0.1875 && r.gdp_share.ci_high >= 0.1875);
	weighted_result_release(&r);
	run_data_release(&d);
}

/* Release periods: April is 2025-Q2 and H1, July H2; a year-only date has no half. */
Test(paper, trend_periods)
{
	struct model_meta a = {0}, y = {0};
	char p[40];
	a.rel_year = 2025, a.rel_month = 4;
	y.rel_year = 2024;
	cr_assert_eq(trend_period_parse("quarter"), TREND_QUARTER);
	cr_assert_eq(trend_period_parse("month"), -1);
	cr_assert_eq(trend_period_of(&a, TREND_QUARTER, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "2025-Q2");
	cr_assert_eq(trend_period_of(&a, TREND_HALF, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "2025-H1");
	a.rel_month = 7;
	trend_period_of(&a, TREND_HALF, p, sizeof(p));
	cr_assert_str_eq(p, "2025-H2");
	cr_assert_eq(trend_period_of(&y, TREND_YEAR, p, sizeof(p)), 0);
	cr_assert_str_eq(p, "2024");
	cr_assert_eq(trend_period_of(&y, TREND_HALF, p, sizeof(p)), -1);
}

/*
 * Trends by hand: gen-a (run 6) in 2024, gen-b (7) and small (1) in 2025,
 * with IPW 0.005, 0.015 and 0.4/14 as given. 2025's best is small; from
 * gen-a (accuracy 0.5 at 100 W) to small (0.4 at 14 W, over i1..i4 too):
 * IPW x (0.4/14) / 0.005 = 5.714 = accuracy x 0.8 . power x 100/14.
 * Best-of-period coverage over i1..i4: 2024 0.5 (i1, i3), 2025 1 (gen-b
 * i1..i3, small i4). The span row repeats the factors.
 */
Test(paper, trends_best_per_period_and_factors_by_hand)
{
	char err[IPW_ERRLEN], *ids[] = {"7", "6", "1"};
	const char *period[] = {"2025", "2024", "2025"};
	struct metrics m[3];
	const struct metrics *mp[3] = {&m[0], &m[1], &m[2]};
	struct metrics_options o;
	struct trend_result r;

	memset(m, 0, sizeof(m));
	m[0].ipw.value = 0.015, m[1].ipw.value = 0.005, m[2].ipw.value = 0.4 / 14;
	metrics_options_init(&o);
	o.bootstrap = 0;
	cr_assert_eq(analysis_trends(&st, ids, period, mp, 3, 1, &o, 0, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.nrows, 3);
	cr_assert_str_eq(r.rows[0].period, "2024");
	cr_assert_eq(r.rows[0].nruns, 1);
	cr_assert_eq(r.rows[0].best, 1);
	cr_assert_float_eq(r.rows[0].coverage, 0.5, EPS);
	cr_assert_not(r.rows[0].has_factor);
	cr_assert_str_eq(r.rows[1].period, "2025");
	cr_assert_eq(r.rows[1].nruns, 2);
	cr_assert_eq(r.rows[1].best, 2);
	cr_assert_float_eq(r.rows[1].coverage, 1, EPS);
	cr_assert(r.rows[1].has_factor);
	cr_assert_float_eq(r.rows[1].at.ipw_ratio.value, (0.4 / 14) / 0.005, EPS);
	cr_assert_float_eq(r.rows[1].at.acc_factor.value, 0.8, EPS);
	cr_assert_float_eq(r.rows[1].at.power_factor.value, 100.0 / 14, EPS);
	cr_assert_float_eq(r.rows[1].at.acc_factor.value * r.rows[1].at.power_factor.value,
			   r.rows[1].at.ipw_ratio.value, EPS);
	cr_assert_str_eq(r.rows[2].period, "2024->2025");
	cr_assert_eq(r.rows[2].nruns, 0);
	cr_assert_eq(r.rows[2].best, -1);
	cr_assert_float_eq(r.rows[2].at.ipw_ratio.value, r.rows[1].at.ipw_ratio.value, EPS);
	trend_result_release(&r);
	/* delta-method intervals around the same factors; without --intersect the runs differ in items */
	cr_assert_eq(analysis_trends(&st, ids, period, mp, 3, 0, &o, 1, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert(r.rows[1].at.ipw_ratio.ci_low < r.rows[1].at.ipw_ratio.value &&
		  r.rows[1].at.ipw_ratio.ci_high > r.rows[1].at.ipw_ratio.value);
	cr_assert(isnan(r.rows[1].coverage) && r.rows[1].why && strstr(r.rows[1].why, "i5"), "%s",
		  r.rows[1].why ? r.rows[1].why : "no reason");
	trend_result_release(&r);
	/* one period: no span row */
	period[1] = "2025";
	cr_assert_eq(analysis_trends(&st, ids, period, mp, 3, 1, &o, 0, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.nrows, 1);
	cr_assert_eq(r.rows[0].best, 2);
	trend_result_release(&r);
}

/*
 * Local against cloud: small (run 1) local, cloud (run 3) cloud. Best-of-
 * local = small's 2 of 5; best-of-cloud 4 of 5; math 1/3 against 1, bio 1/2
 * against 1/2. With no cloud run, that side says why (both local: all 5).
 */
Test(paper, local_and_cloud_coverage_by_hand)
{
	char *ids[] = {"1", "3"};
	int local[] = {1, 0}, all_local[] = {1, 1};
	struct lc_coverage c;

	analysis_lc_coverage(&st, ids, local, 2, 0, &c);
	cr_assert(c.have[0] && c.have[1]);
	cr_assert_float_eq(coverage_value(&c.c[1].best), 0.4, EPS);
	cr_assert_float_eq(coverage_value(&c.c[0].best), 0.8, EPS);
	cr_assert_float_eq(coverage_subject_best(&c.c[1], "math"), 1.0 / 3, EPS);
	cr_assert_float_eq(coverage_subject_best(&c.c[0], "math"), 1, EPS);
	cr_assert_float_eq(coverage_subject_best(&c.c[0], "bio"), 0.5, EPS);
	cr_assert(isnan(coverage_subject_best(&c.c[0], "law")));
	lc_coverage_release(&c);
	analysis_lc_coverage(&st, ids, all_local, 2, 0, &c);
	cr_assert(c.have[1] && !c.have[0]);
	cr_assert_str_eq(c.why[0], "no cloud run");
	cr_assert_float_eq(coverage_value(&c.c[1].best), 1, EPS);   /* small's i1, i4 and cloud's i1-i3, i5 */
	lc_coverage_release(&c);
	cr_assert_float_eq(lc_ratio(1, 2), 0.5, EPS);
	cr_assert(isnan(lc_ratio(1, 0)) && isnan(lc_ratio(NAN, 2)));
}

/*
 * GDI by hand: laptops 1e6 x 50 W x duty 0.2 = 1e7 W accessible, x IPW 4e-3
 * = 40000; phones 2e6 x 5 W x 0.1 = 1e6 W x 1e-3 = 1000; the datacenter 1e7 W
 * (duty 1) x 2e-3 = 20000. Total 61000, factor 3.05, local power 1.1e7 W.
 */
Test(paper, gdi_formula_by_hand)
{
	static const char sc[] =
		"{\"devices\": [{\"name\": \"laptops\", \"count\": 1e6, \"power_w\": 50, \"duty_cycle\": 0.2, \"ipw\": 4e-3},"
		" {\"name\": \"phones\", \"count\": 2e6, \"power_w\": 5, \"duty_cycle\": 0.1, \"ipw\": 1e-3}],"
		" \"datacenter\": {\"name\": \"dc\", \"power_w\": 1e7, \"ipw\": 2e-3}}";
	char err[IPW_ERRLEN];
	struct gdi_scenario g;

	cr_assert_eq(gdi_read_mem("sc", sc, sizeof(sc) - 1, &g, err, sizeof(err)), 0, "%s", err);
	gdi_compute(&g);
	cr_assert_eq(g.ndev, 2);
	cr_assert_float_eq(g.dev[0].power_avail_w, 1e7, 1e-6);
	cr_assert_float_eq(g.dev[0].gdi, 40000, 1e-6);
	cr_assert_float_eq(g.dev[1].gdi, 1000, 1e-6);
	cr_assert_float_eq(g.gdi_dc, 20000, 1e-6);
	cr_assert_float_eq(g.gdi_total, 61000, 1e-6);
	cr_assert_float_eq(g.factor, 3.05, EPS);
	cr_assert_float_eq(g.power_local_w, 1.1e7, 1e-6);
	gdi_release(&g);
}

/*
 * A measured class (gdi_fill_measured, shared by ipw gdi and the report):
 * "small" is run 1, IPW 0.4 / 14 W; 1000 x 14 W x 0.5 = 7000 W accessible,
 * GDI 7000 x 0.4 / 14 = 200; the datacenter 1e7 W x 2e-3 = 20000; factor
 * 20200 / 20000 = 1.01. An unknown run is an error; the formulas and
 * assumptions the outputs print are there.
 */
Test(paper, gdi_measured_ipw_by_hand)
{
	static const char sc[] =
		"{\"devices\": [{\"name\": \"m\", \"count\": 1000, \"power_w\": 14, \"duty_cycle\": 0.5, \"ipw_run\": \"small\"}],"
		" \"datacenter\": {\"name\": \"dc\", \"power_w\": 1e7, \"ipw\": 2e-3}}";
	static const char bad[] =
		"{\"devices\": [], \"datacenter\": {\"name\": \"dc\", \"power_w\": 1e7, \"ipw_run\": \"nosuch\"}}";
	char err[IPW_ERRLEN];
	struct gdi_scenario g;
	size_t nf = 0, na = 0;

	cr_assert_eq(gdi_read_mem("sc", sc, sizeof(sc) - 1, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gdi_needs_store(&g), 1);
	cr_assert_eq(gdi_fill_measured(&st, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(g.dev[0].ipw_run, "1");
	cr_assert_float_eq(g.dev[0].ipw, 0.4 / 14, EPS);
	gdi_compute(&g);
	cr_assert_float_eq(g.dev[0].power_avail_w, 7000, 1e-9);
	cr_assert_float_eq(g.dev[0].gdi, 200, 1e-9);
	cr_assert_float_eq(g.factor, 1.01, EPS);
	gdi_release(&g);
	cr_assert_eq(gdi_read_mem("bad", bad, sizeof(bad) - 1, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(gdi_fill_measured(&st, &g, err, sizeof(err)), -1);
	cr_assert(strstr(err, "nosuch"), "%s", err);
	gdi_release(&g);
	for (const char *const *f = gdi_formulas; *f; f++)
		nf++;
	for (const char *const *f = gdi_assumptions; *f; f++)
		na++;
	cr_assert_eq(nf, 5);
	cr_assert_eq(na, 3);
	cr_assert(strstr(gdi_formulas[1], "GDI = IPW x P"));
}

/*
 * Perplexity per watt and per joule through the loader show, compare and the
 * report share (ppl_run_load). A run "lp" of 5 queries, 7 tokens each with
 * log-probabilities: i1 perplexity 2 (sum -7 ln 2), 10 J over 2 s (5 W); i2
 * perplexity 4, 30 J over 2 s (15 W); i3 perplexity 6, energy not measured;
 * i4 failed (its log-probabilities not used); i5 none. Perplexity: mean of
 * 2, 4, 6 = 4; pooled exp(7 ln 48 / 21) = 48^(1/3) = 3.6342; with energy
 * (i1, i2) mean 3 over mean power 10 W = 0.3 /W, over mean energy 20 J =
 * 0.15 /J. The report's perplexity table shows the same.
 */
Test(paper, perplexity_per_watt_and_joule_by_hand)
{
	static const double ppl[5] = {2, 4, 6, 8, NAN}, e[5] = {10, 30, NAN, 10, 10};
	char err[IPW_ERRLEN], out[256], *html, *ids[2];
	struct run_record r = fx_run("lp", "qwen3-1b");
	struct ppl_run pr;
	struct ppl_summary ps;
	struct report_options o;
	size_t len;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 5; i++) {
		struct query_record q = fx_query(i, fx_items[i], fx_subjects[i], e[i], 2, 7);
		if (isfinite(ppl[i])) {
			q.logprob_sum = -7 * log(ppl[i]);
			q.logprob_tokens = 7;
		} else {
			q.logprob_sum = NAN;
			q.logprob_tokens = -1;
		}
		if (i == 3) {
			q.status = "failed";
			q.error_kind = "http";
		}
		cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(fx_score(&st, r.id, fx_items[i], i % 2, err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(ppl_run_load(&st, r.id, &pr, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pr.n_queries, 5);
	cr_assert_eq(pr.n_logprobs, 3);
	cr_assert_eq(pr.n_energy, 2);
	cr_assert_eq(pr.tokens, 21);
	ppl_run_summary(&pr, &ps);
	cr_assert_float_eq(ps.ppl_mean, 4, EPS);
	cr_assert_float_eq(ps.ppl_tokens, cbrt(48), EPS);
	cr_assert_float_eq(ps.power_mean_w, 10, EPS);
	cr_assert_float_eq(ps.energy_mean_j, 20, EPS);
	cr_assert_float_eq(ps.ppl_per_w, 0.3, EPS);
	cr_assert_float_eq(ps.ppl_per_j, 0.15, EPS);
	/* run 1 has none: not measured (NAN), never 0 */
	cr_assert_eq(ppl_run_load(&st, "1", &pr, err, sizeof(err)), 0, "%s", err);
	ppl_run_summary(&pr, &ps);
	cr_assert(pr.n_logprobs == 0 && isnan(ps.ppl_mean) && isnan(ps.ppl_per_w) && isnan(ps.ppl_per_j));

	ids[0] = "1";
	ids[1] = r.id;
	report_options_init(&o);
	o.runs = ids;
	o.nruns = 2;
	o.bootstrap = 0;
	o.trials = 0;
	snprintf(out, sizeof(out), "%s/rep", dir);
	o.out_dir = out;
	cr_assert_eq(report_write(&st, &o, err, sizeof(err)), 0, "%s", err);
	snprintf(out, sizeof(out), "%s/rep/index.html", dir);
	cr_assert_eq(read_file(out, &html, &len, err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(html, "<h2 id=perplexity-section>"));
	cr_assert(strstr(html, "<tr><td>1 small</td><td>0 of 5</td><td>0</td><td>&ndash;</td><td>&ndash;</td>"
			       "<td>0</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td></tr>"));
	snprintf(out, sizeof(out), "<tr><td>%s lp</td><td>3 of 5</td><td>21</td><td>4</td><td>3.6342</td><td>2</td>"
		 "<td>10&nbsp;W</td><td>300&nbsp;m/W</td><td>150&nbsp;m/J</td></tr>", r.id);
	cr_assert(strstr(html, out), "no %s", out);
	free(html);
	free(r.id);
}

/* A run_data of n queries, each scored acc[i] with energy e[i] over 1 s, none failed. */
static void rank_run(struct run_data *d, size_t n, const int *acc, const double *e)
{
	memset(d, 0, sizeof(*d));
	d->n = n;
	d->acc = xcalloc(n, sizeof(int));
	d->failed = xcalloc(n, sizeof(int));
	d->energy_j = xcalloc(n, sizeof(double));
	d->latency_s = xcalloc(n, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		d->acc[i] = acc[i];
		d->energy_j[i] = e[i];
		d->latency_s[i] = 1;
	}
}

/*
 * The rank bootstrap (ipw ranks, the report) by hand. Constant runs (every
 * query alike: IPW 1/10, 1/20, 1/40) give the same ranking on every
 * resample: tau = rho = 1, interval [1, 1], the same top run always. Two
 * runs: A answers {1, 0} at 10 W (IPW 0.05), B one query right at 1/0.06 W
 * (IPW 0.06, the top). A resample of A draws both right with probability
 * 1/4 (IPW 0.1 > 0.06: the order flips, tau = rho = -1), else tau = rho =
 * 1; so on every seed tau_mean = rho_mean = 2 x top_same - 1, the interval
 * is [-1, 1], and over 4000 resamples top_same is 3/4 within 4.6 sigma
 * (sigma = sqrt(3/16 / 4000) = 0.0068).
 */
Test(paper, rank_bootstrap_by_hand)
{
	static const int ok1[3] = {1, 1, 1}, ok2[2] = {1, 0};
	static const double e10[3] = {10, 10, 10}, e20[3] = {20, 20, 20}, e40[3] = {40, 40, 40}, e_b[1] = {1 / 0.06};
	struct run_data d[3];
	const struct run_data *dp[3] = {&d[0], &d[1], &d[2]};
	struct rank_stability r;

	rank_run(&d[0], 3, ok1, e20);
	rank_run(&d[1], 3, ok1, e10);
	rank_run(&d[2], 3, ok1, e40);
	analysis_rank_bootstrap(dp, 3, RANK_IPW, 200, 3, 0.95, &r);
	cr_assert_float_eq(r.value[1], 0.1, EPS);
	cr_assert(r.tau_mean == 1 && r.tau_lo == 1 && r.tau_hi == 1, "tau %g [%g, %g]", r.tau_mean, r.tau_lo, r.tau_hi);
	cr_assert(r.rho_mean == 1 && r.rho_lo == 1 && r.rho_hi == 1);
	cr_assert(r.top_same == 1 && r.b == 200);
	rank_stability_release(&r);
	for (int i = 0; i < 3; i++)
		run_data_release(&d[i]);

	rank_run(&d[0], 2, ok2, e10);
	rank_run(&d[1], 1, ok1, e_b);
	analysis_rank_bootstrap(dp, 2, RANK_IPW, 4000, 11, 0.95, &r);
	cr_assert_float_eq(r.value[0], 0.05, EPS);
	cr_assert_float_eq(r.value[1], 0.06, EPS);
	cr_assert_float_eq(r.tau_mean, 2 * r.top_same - 1, EPS);
	cr_assert_float_eq(r.rho_mean, r.tau_mean, EPS);
	cr_assert(r.tau_lo == -1 && r.tau_hi == 1 && r.rho_lo == -1 && r.rho_hi == 1);
	cr_assert(fabs(r.top_same - 0.75) < 4.6 * sqrt(3.0 / 16 / 4000), "top_same %g", r.top_same);
	rank_stability_release(&r);
	run_data_release(&d[0]);
	run_data_release(&d[1]);
	/* no resamples: not computed, never 0 */
	rank_run(&d[0], 2, ok2, e10);
	rank_run(&d[1], 1, ok1, e_b);
	analysis_rank_bootstrap(dp, 2, RANK_IPW, 0, 11, 0.95, &r);
	cr_assert(isnan(r.tau_mean) && isnan(r.rho_hi) && isnan(r.top_same));
	rank_stability_release(&r);
	run_data_release(&d[0]);
	run_data_release(&d[1]);
}

/*
 * The rank bootstrap on ties, by hand. Two runs alike on every query (all
 * right at 20 W: IPW 0.05 each) tie on the full data and on every
 * resample: tau-b is undefined when a ranking is all ties (every pair tied:
 * 0/0), so each resample's tau and rho are NAN and their mean and interval
 * NAN (not computed, never 0); top_same is 1, the tie going to the first
 * run on both sides. With a third run at 10 W (IPW 0.1) the one tied pair
 * stays tied and the others concordant on every resample: tau-b = 2 /
 * sqrt((3 - 1)(3 - 1)) = 1, rho 1, interval [1, 1], top_same 1.
 */
Test(paper, rank_bootstrap_on_ties_by_hand)
{
	static const int ok[3] = {1, 1, 1};
	static const double e20[3] = {20, 20, 20}, e10[3] = {10, 10, 10};
	struct run_data d[3];
	const struct run_data *dp[3] = {&d[0], &d[1], &d[2]};
	struct rank_stability r;

	rank_run(&d[0], 3, ok, e20);
	rank_run(&d[1], 3, ok, e20);
	rank_run(&d[2], 3, ok, e10);
	analysis_rank_bootstrap(dp, 2, RANK_IPW, 100, 5, 0.95, &r);
	cr_assert(r.value[0] == 0.05 && r.value[1] == 0.05);
	cr_assert(isnan(analysis_kendall_tau(r.value, r.value, 2)) && isnan(analysis_spearman_rho(r.value, r.value, 2)));
	cr_assert(isnan(r.tau_mean) && isnan(r.tau_lo) && isnan(r.tau_hi), "tau %g", r.tau_mean);
	cr_assert(isnan(r.rho_mean) && isnan(r.rho_lo) && isnan(r.rho_hi));
	cr_assert(r.top_same == 1);
	rank_stability_release(&r);
	analysis_rank_bootstrap(dp, 3, RANK_IPW, 100, 5, 0.95, &r);
	cr_assert(r.tau_mean == 1 && r.tau_lo == 1 && r.tau_hi == 1, "tau %g [%g, %g]", r.tau_mean, r.tau_lo, r.tau_hi);
	cr_assert(r.rho_mean == 1 && r.rho_lo == 1 && r.rho_hi == 1);
	cr_assert(r.top_same == 1);
	rank_stability_release(&r);
	for (int i = 0; i < 3; i++)
		run_data_release(&d[i]);
}

/*
 * Rank stability by dataset, by hand (the store of tests/fakes/bin_mkranks.c
 * in memory; every query 10 W, so IPW = accuracy / 10). Models A, B, C on
 * dataset x (3 items: A 1 1 0, B 0 0 0, C 1 1 1) and y (5 items: A 1 1 0 0 0,
 * B all right, C none). Pooled: A 4/8, B 5/8, C 3/8 -> IPW 0.05, 0.0625,
 * 0.0375, B > A > C. On x: C > A > B, the reverse: tau = rho = -1. On y:
 * B > A > C, the same: 1. Items: A's queries, 3 and 5. A fourth model on x
 * only would leave y out; here a run of A's twice on x (the same answers)
 * pools with the first and changes neither A's x value nor the order.
 */
Test(paper, rank_by_dataset_by_hand)
{
	static const int ax[3] = {1, 1, 0}, bx[3] = {0, 0, 0}, cx[3] = {1, 1, 1};
	static const int ay[5] = {1, 1, 0, 0, 0}, by[5] = {1, 1, 1, 1, 1}, cy[5] = {0, 0, 0, 0, 0};
	static const double e[5] = {10, 10, 10, 10, 10};
	const char *model[7] = {"A", "B", "C", "A", "B", "C", "A"};
	const char *ds[7] = {"x", "x", "x", "y", "y", "y", "x"};
	struct run_data d[7];
	const struct run_data *dp[7];
	struct rank_subsets s;

	rank_run(&d[0], 3, ax, e);
	rank_run(&d[1], 3, bx, e);
	rank_run(&d[2], 3, cx, e);
	rank_run(&d[3], 5, ay, e);
	rank_run(&d[4], 5, by, e);
	rank_run(&d[5], 5, cy, e);
	rank_run(&d[6], 3, ax, e);
	for (int i = 0; i < 7; i++)
		dp[i] = &d[i];
	analysis_rank_datasets(dp, model, ds, 6, RANK_IPW, &s);
	cr_assert_eq(s.nmodels, 3);
	cr_assert_eq(s.ndatasets, 2);
	cr_assert_str_eq(s.model[1], "B");
	cr_assert_float_eq(s.value[0], 0.05, EPS);
	cr_assert_float_eq(s.value[1], 0.0625, EPS);
	cr_assert_float_eq(s.value[2], 0.0375, EPS);
	cr_assert_eq(s.model_of[4], 1);
	cr_assert_eq(s.nrows, 2);
	cr_assert_str_eq(s.row[0].key, "x");
	cr_assert_eq(s.row[0].items, 3);
	cr_assert_float_eq(s.row[0].tau, -1, EPS);
	cr_assert_float_eq(s.row[0].rho, -1, EPS);
	cr_assert_str_eq(s.row[1].key, "y");
	cr_assert_eq(s.row[1].items, 5);
	cr_assert_float_eq(s.row[1].tau, 1, EPS);
	cr_assert_float_eq(s.row[1].rho, 1, EPS);
	rank_subsets_release(&s);
	/* A twice on x: pooled A 6/11 (0.0545...), still B > A > C; on x A has 6 queries */
	analysis_rank_datasets(dp, model, ds, 7, RANK_IPW, &s);
	cr_assert_float_eq(s.value[0], 6.0 / 11 / 10, EPS);
	cr_assert_eq(s.row[0].items, 6);
	cr_assert_float_eq(s.row[0].tau, -1, EPS);
	rank_subsets_release(&s);
	/* a model on x only: y is left out */
	model[6] = "D";
	analysis_rank_datasets(dp, model, ds, 7, RANK_ACCURACY, &s);
	cr_assert_eq(s.nmodels, 4);
	cr_assert_eq(s.nrows, 1);
	cr_assert_str_eq(s.row[0].key, "x");
	rank_subsets_release(&s);
	for (int i = 0; i < 7; i++)
		run_data_release(&d[i]);
}

/*
 * Rank stability by difficulty level on the fixture store, by hand. Runs 1
 * small (4B, class L1), 2 big (2B, L1), 3 cloud (30B, L3) with the default
 * classes: i1, i2, i4 are L1 (small or big answers them), i3 and i5 L3 (only
 * cloud). Overall IPW: small 0.4/14, big 0.4/17, cloud 0.8/25: cloud >
 * small > big. On L1 (i1 i2 i4): small 2/3 at (10+10+20)/3 W = 0.05, big 2/3
 * at (15+15+20)/3 W = 0.04, cloud 2/3 at 25 W = 0.0267: small > big >
 * cloud; one pair concordant, two discordant: tau = -1/3; rank differences
 * 1, 1, 2: rho = 1 - 6 x 6 / 24 = -0.5. On L3 (i3 i5): small 0, big 0, cloud
 * 0.04: the tied pair counts in tau-b's denominator only: 2 / sqrt(3 x 2)
 * = 0.8165; rho = Pearson of ranks (2, 1, 3) and (1.5, 1.5, 3) = 1.5 /
 * sqrt(2 x 1.5) = sqrt(3)/2. Levels L2, L4, L5 have no items: no row.
 */
Test(paper, rank_by_level_by_hand)
{
	const char *ids[3] = {"1", "2", "3"};
	const double total[3] = {4e9, 2e9, 30e9}, bounds[3] = {4e9, 14e9, 32e9};
	const double all[3] = {0.4 / 14, 0.4 / 17, 0.8 / 25};
	struct rank_subsets s;
	char err[IPW_ERRLEN];

	cr_assert_eq(analysis_rank_levels(&st, ids, 3, total, bounds, 3, 0, RANK_IPW, all, &s, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(s.nrows, 2);
	cr_assert_str_eq(s.row[0].key, "L1");
	cr_assert_eq(s.row[0].items, 3);
	cr_assert_float_eq(s.row[0].tau, -1.0 / 3, EPS);
	cr_assert_float_eq(s.row[0].rho, -0.5, EPS);
	cr_assert_str_eq(s.row[1].key, "L3");
	cr_assert_eq(s.row[1].items, 2);
	cr_assert_float_eq(s.row[1].tau, 2 / sqrt(6), EPS);
	cr_assert_float_eq(s.row[1].rho, sqrt(3) / 2, EPS);
	rank_subsets_release(&s);
	/* by accuracy on L1 all three tie at 2/3: tau undefined (NAN), the row kept with its items */
	cr_assert_eq(analysis_rank_levels(&st, ids, 3, total, bounds, 3, 0, RANK_ACCURACY, all, &s, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(s.row[0].key, "L1");
	cr_assert(isnan(s.row[0].tau) && isnan(s.row[0].rho));
	rank_subsets_release(&s);
	/* a run without a size */
	{
		const double none[3] = {4e9, NAN, 30e9};
		cr_assert_eq(analysis_rank_levels(&st, ids, 3, none, bounds, 3, 0, RANK_IPW, all, &s, err, sizeof(err)),
			     -1);
		cr_assert(strstr(err, "no total parameter count"), "%s", err);
	}
}

/*
 * Rank stability by subject: the rows ipw ranks always gave (math tau 1/3,
 * rho 0.4 in tests/cli/paper.sh), now with the subject's items: runs 1, 2,
 * 3, 6 overall 0.4/14, 0.4/17, 0.8/25, 0.5/100; on math (i1..i3; gen-a's
 * i1..i3 too) big > cloud > small > gen-a against cloud > small > big >
 * gen-a: tau 2/6, rho 1 - 6 x 6 / 60 = 0.4, 3 items.
 */
Test(paper, rank_by_subject_by_hand)
{
	const char *ids[4] = {"1", "2", "3", "6"};
	struct run_data d[4];
	const struct run_data *dp[4] = {&d[0], &d[1], &d[2], &d[3]};
	const double all[4] = {0.4 / 14, 0.4 / 17, 0.8 / 25, 0.5 / 100};
	struct rank_subsets s;
	char err[IPW_ERRLEN];

	for (int i = 0; i < 4; i++)
		cr_assert_eq(run_data_load(&st, ids[i], &d[i], err, sizeof(err)), 0, "%s", err);
	analysis_rank_subjects(dp, 4, RANK_IPW, all, &s);
	cr_assert_geq(s.nrows, 1);
	cr_assert_str_eq(s.row[0].key, "math");
	cr_assert_eq(s.row[0].items, 3);
	cr_assert_float_eq(s.row[0].tau, 1.0 / 3, EPS);
	cr_assert_float_eq(s.row[0].rho, 0.4, EPS);
	rank_subsets_release(&s);
	for (int i = 0; i < 4; i++)
		run_data_release(&d[i]);
}

/*
 * The intervals of the trends' factors under the delta method, by hand:
 * gen-a (run 6, 2024: 1 0 1 0 at 100 W each) to gen-b (7, 2025: 1 1 1 0 at
 * 50 W each). Accuracy x 0.75/0.5 = 1.5; the means' half-widths z sqrt(s^2/n):
 * gen-b z sqrt(0.25/4) = z/4 (0.25/0.75 = 1/3 relative), gen-a
 * z sqrt((1/3)/4) (relative sqrt(1/12)/0.5 = sqrt(1/3)); together
 * z sqrt(1/9 + 1/3) = 2z/3 of 1.5: half-width z, [1.5 - z, 1.5 + z].
 * Power x 100/50 = 2 with no spread in either run: [2, 2], zero width.
 * IPW x 0.015/0.005 = 3 with the same relative half-width 2z/3: [3 - 2z, 3 + 2z].
 * z = the normal 97.5% quantile.
 */
Test(paper, trends_factor_intervals_by_hand)
{
	char err[IPW_ERRLEN], *ids[] = {"6", "7"};
	const char *period[] = {"2024", "2025"};
	struct metrics m[2];
	const struct metrics *mp[2] = {&m[0], &m[1]};
	struct metrics_options o;
	struct trend_result r;
	double z = stats_norm_quantile(0.975);
	const struct attribution *at;

	memset(m, 0, sizeof(m));
	m[0].ipw.value = 0.005, m[1].ipw.value = 0.015;
	metrics_options_init(&o);
	cr_assert_eq(analysis_trends(&st, ids, period, mp, 2, 1, &o, 1, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert(r.rows[1].has_factor);
	at = &r.rows[1].at;
	cr_assert_float_eq(at->acc_factor.value, 1.5, EPS);
	cr_assert_float_eq(at->acc_factor.ci_low, 1.5 - z, 1e-12);
	cr_assert_float_eq(at->acc_factor.ci_high, 1.5 + z, 1e-12);
	cr_assert(at->power_factor.value == 2 && at->power_factor.ci_low == 2 && at->power_factor.ci_high == 2,
		  "power x %g [%g, %g]", at->power_factor.value, at->power_factor.ci_low, at->power_factor.ci_high);
	cr_assert_float_eq(at->ipw_ratio.value, 3, EPS);
	cr_assert_float_eq(at->ipw_ratio.ci_low, 3 - 2 * z, 1e-12);
	cr_assert_float_eq(at->ipw_ratio.ci_high, 3 + 2 * z, 1e-12);
	trend_result_release(&r);
	/* the bootstrap: a run of constant power resamples to the same power, so power x stays [2, 2] */
	o.bootstrap = 200;
	cr_assert_eq(analysis_trends(&st, ids, period, mp, 2, 1, &o, 0, &r, err, sizeof(err)), 0, "%s", err);
	at = &r.rows[1].at;
	cr_assert(at->power_factor.ci_low == 2 && at->power_factor.ci_high == 2, "[%g, %g]", at->power_factor.ci_low,
		  at->power_factor.ci_high);
	trend_result_release(&r);
}
