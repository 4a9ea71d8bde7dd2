/*
 * test_aggregate.c - the aggregation module on six hand-computed rows (totals,
 * percentiles, token sums, the paper's metrics, subjects, interval methods,
 * row order), and on a store: the totals once computed by the SQLite
 * back-end, and the two row sources (queries, item cursor) giving the same
 * metrics and intervals, so show, compare and report agree.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "util.h"

#define EPS 1e-12

static void near(double got, double want, const char *what)
{
	if (isnan(want))
		cr_assert(isnan(got), "%s: want NAN, got %.17g", what, got);
	else
		cr_assert(fabs(got - want) <= EPS * fmax(1, fabs(want)), "%s: want %.17g, got %.17g", what, want, got);
}

/*
 * Six rows (added out of item order):
 *   id ok acc accel  dyn host total power e2e ttft tpot ptok ctok rtok subject
 *   c   1  1   100    50   10   110   10   10  0.5  0.1   20  100    0  math
 *   a   1  0   300   275    -     -   60    5  1.5 0.05   30  200   10  math
 *   d   1  1    50    45    5    55   50    1    -    -    -   50    -  bio
 *   b   1  1   150    75   15   165   10   15  2.5  0.2   50  100    0  bio
 *   e   0  1  1000     -   20  1020  100   10    -    -   10    -    -  bio   (failed)
 *   f   1 -1   500     -    -     -   50   10  0.5    -   10   20    -  math  (unscored)
 * Totals: 6 queries, 5 ok, 1 failed; accel total (all) 2100 J, host total 50 J;
 *   over ok rows: accel mean 1100/5 = 220, dynamic 445/4 = 111.25, host 30/3 = 10,
 *   total 330/3 = 110, recorded power 180/5 = 36 W; e2e 1 5 10 10 15: mean 8.2,
 *   p50 10, p99 10 + 0.96 x 5 = 14.8; TTFT .5 .5 1.5 2.5: mean 1.25, p50 1.0,
 *   p99 1.5 + 0.97 = 2.47; TPOT 0.35/3; tokens prompt 110 (mean 27.5),
 *   completion 470 (94), reasoning 10 (10/3).
 * Metrics (ok and scored: a b c d): accuracy 3/4; P = E/tau = 60 10 10 50,
 *   IPW = 0.75 / 32.5; IPJ = 0.75 / 150; J/token = 600 / 450; dynamic
 *   P 55 5 5 45 -> IPW_dyn 0.75 / 27.5.
 * Subjects: bio (b, d) accuracy 1, IPW 1 / 30; math (a, c) 0.5, IPW 0.5 / 35.
 */
static void six_rows(struct agg_rows *r, int reversed)
{
	/* ..., tokens (prompt, completion, reasoning), window (send, end: not used here), log-probabilities (none) */
	static const struct agg_row v[6] = {
		{"c", "math", 1, 1, 100, 50, 10, 110, 10, 10, 0.5, 0.1, 20, 100, 0, NAN, NAN, NAN, -1},
		{"a", "math", 1, 0, 300, 275, NAN, NAN, 60, 5, 1.5, 0.05, 30, 200, 10, NAN, NAN, NAN, -1},
		{"d", "bio", 1, 1, 50, 45, 5, 55, 50, 1, NAN, NAN, -1, 50, -1, NAN, NAN, NAN, -1},
		{"b", "bio", 1, 1, 150, 75, 15, 165, 10, 15, 2.5, 0.2, 50, 100, 0, NAN, NAN, NAN, -1},
		{"e", "bio", 0, 1, 1000, NAN, 20, 1020, 100, 10, NAN, NAN, 10, -1, -1, NAN, NAN, NAN, -1},
		{"f", "math", 1, -1, 500, NAN, NAN, NAN, 50, 10, 0.5, NAN, 10, 20, -1, NAN, NAN, NAN, -1},
	};
	agg_rows_init(r);
	for (int i = 0; i < 6; i++)
		agg_rows_add(r, &v[reversed ? 5 - i : i]);
	agg_rows_sort(r);
}

Test(aggregate, totals_of_hand_computed_rows)
{
	struct agg_rows r;
	struct agg_totals t;

	six_rows(&r, 0);
	cr_assert_str_eq(r.v[0].item_id, "a");
	cr_assert_str_eq(r.v[5].item_id, "f");
	cr_assert_eq(r.nsubjects, 2);
	agg_totals_compute(&r, &t);
	cr_assert_eq(t.n_queries, 6);
	cr_assert_eq(t.n_ok, 5);
	cr_assert_eq(t.n_failed, 1);
	cr_assert_eq(t.n_energy, 5);
	near(t.accel_j_total, 2100, "accel total, failed included");
	near(t.host_j_total, 50, "host total");
	near(t.accel_j_mean, 220, "accel mean over ok");
	near(t.accel_dyn_j_mean, 111.25, "dynamic mean");
	near(t.host_j_mean, 10, "host mean");
	near(t.total_j_mean, 110, "total mean");
	near(t.power_mean_w, 36, "recorded power mean");
	near(t.e2e_mean_s, 8.2, "e2e mean");
	near(t.e2e_p50_s, 10, "e2e p50");
	near(t.e2e_p99_s, 14.8, "e2e p99");
	near(t.ttft_mean_s, 1.25, "ttft mean");
	near(t.ttft_p50_s, 1.0, "ttft p50");
	near(t.ttft_p99_s, 2.47, "ttft p99");
	near(t.tpot_mean_s, 0.35 / 3, "tpot mean");
	cr_assert_eq(t.prompt_tokens, 110);
	cr_assert_eq(t.completion_tokens, 470);
	cr_assert_eq(t.reasoning_tokens, 10);
	near(t.prompt_tokens_mean, 27.5, "prompt mean");
	near(t.completion_tokens_mean, 94, "completion mean");
	near(t.reasoning_tokens_mean, 10.0 / 3, "reasoning mean");
	agg_rows_release(&r);
}

Test(aggregate, metrics_subjects_and_latency)
{
	struct agg_rows r;
	struct agg_options o;
	struct agg_result a;
	char err[IPW_ERRLEN];

	six_rows(&r, 0);
	agg_options_init(&o);
	o.m.bootstrap = 200;
	o.by_subject = 1;
	cr_assert_eq(agg_compute(&r, &o, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a.m.n, 6);
	cr_assert_eq(a.m.n_scored, 4);
	cr_assert_eq(a.m.n_failed, 1);
	cr_assert_eq(a.m.n_unscored, 1);
	cr_assert_eq(a.m.n_correct, 3);
	cr_assert_eq(a.m.n_energy, 4);
	near(a.m.accuracy.value, 0.75, "accuracy");
	near(a.m.ipw.value, 0.75 / 32.5, "IPW");
	near(a.m.ipj.value, 0.75 / 150, "IPJ");
	near(a.m.ipw_dynamic.value, 0.75 / 27.5, "IPW dynamic");
	near(a.m.j_per_token.value, 600.0 / 450, "J/token");
	near(a.m.energy_j.value, 150, "J/query");
	cr_assert_eq(a.delta, 0, "auto: bootstrap for a small run");
	cr_assert(a.m.ipw.ci_low <= a.m.ipw.value && a.m.ipw.value <= a.m.ipw.ci_high);
	near(a.latency_p50.value, a.t.e2e_p50_s, "one p50 for totals and compare");
	near(a.latency_p99.value, 14.8, "p99");
	cr_assert(isnan(a.latency_p50.ci_low), "5 latencies: too few for an order-statistic interval");
	cr_assert_eq(a.nsubj, 2);
	cr_assert_str_eq(a.subj[0].subject, "bio");
	near(a.subj[0].m.accuracy.value, 1, "bio accuracy");
	near(a.subj[0].m.ipw.value, 1.0 / 30, "bio IPW");
	cr_assert_eq(a.subj[0].m.n_failed, 1);
	near(a.subj[1].m.ipw.value, 0.5 / 35, "math IPW");
	cr_assert_eq(a.subj[1].m.n_unscored, 1);
	agg_result_release(&a);

	o.ci = AGG_CI_DELTA;
	cr_assert_eq(agg_compute(&r, &o, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a.delta, 1);
	near(a.m.ipw.value, 0.75 / 32.5, "IPW, delta run");
	cr_assert(isfinite(a.m.accuracy.ci_low) && a.m.accuracy.ci_low < 0.75 && a.m.accuracy.ci_high > 0.75);
	cr_assert(isfinite(a.subj[1].m.accuracy.ci_low), "subjects get delta intervals too");
	cr_assert(isnan(a.m.ipw_dynamic.ci_low), "no delta interval for the dynamic metrics");
	agg_result_release(&a);
	agg_rows_release(&r);
}

Test(aggregate, intervals_do_not_depend_on_the_order_rows_came_in)
{
	struct agg_rows r1, r2;
	struct agg_options o;
	struct agg_result a, b;
	char err[IPW_ERRLEN];

	six_rows(&r1, 0);
	six_rows(&r2, 1);
	agg_options_init(&o);
	o.m.bootstrap = 300;
	cr_assert_eq(agg_compute(&r1, &o, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(agg_compute(&r2, &o, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert(a.m.ipw.ci_low == b.m.ipw.ci_low && a.m.ipw.ci_high == b.m.ipw.ci_high);
	cr_assert(a.m.accuracy.ci_low == b.m.accuracy.ci_low && a.m.ipj.ci_high == b.m.ipj.ci_high);
	agg_result_release(&a);
	agg_result_release(&b);
	agg_rows_release(&r1);
	agg_rows_release(&r2);
}

Test(aggregate, empty_run)
{
	struct agg_rows r;
	struct agg_result a;
	char err[IPW_ERRLEN];

	agg_rows_init(&r);
	cr_assert_eq(agg_compute(&r, NULL, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a.t.n_queries, 0);
	cr_assert(isnan(a.t.accel_j_total) && isnan(a.t.e2e_p50_s) && isnan(a.m.accuracy.value));
	cr_assert_eq(a.t.completion_tokens, -1);
	agg_result_release(&a);
	agg_rows_release(&r);
}

/* ---- on a store ---- */

static char dir[64], dbpath[128];

static void setup(void)
{
	strcpy(dir, "/tmp/ipw-test-agg-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/s.db", dir);
	unsetenv("IPW_API_KEY");
	unsetenv("OPENAI_API_KEY");
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static struct query_record plain_query(long long seq, const char *item)
{
	struct query_record q;
	memset(&q, 0, sizeof(q));
	q.seq = seq;
	q.item_id = (char *)item;
	q.status = "ok";
	q.t_send_s = q.t_first_s = q.t_end_s = NAN;
	q.ttft_s = q.e2e_s = q.tpot_s = q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
	q.prompt_tokens = q.completion_tokens = q.reasoning_tokens = -1;
	q.accel_j = q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	q.http_status = -1;
	return q;
}

/*
 * Four queries recorded in seq order d, c, b, a (so seq and item order
 * differ): e2e 1, 2, 3, 10 s, accel 100..400 J, 10 completion tokens each,
 * the last (a) failed. Scores: d 1 (after a 0), c 0, b unscored.
 */
static void four_queries(struct store *st, struct run_record *r)
{
	static const char *ids[4] = {"d", "c", "b", "a"};
	const double e2e[4] = {1, 2, 3, 10};
	struct store_score sc = {"d", "mcq", NULL, 0, NULL, 0};
	char err[IPW_ERRLEN];

	memset(r, 0, sizeof(*r));
	r->name = (char *)"t";
	r->status = (char *)"running";
	r->n_items = -1;
	r->started_at = 1700000000.5;
	r->ended_at = r->idle_seconds = NAN;
	cr_assert_eq(store_open(st, dbpath, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_create(st, r, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 4; i++) {
		struct query_record q = plain_query(i, ids[i]);
		q.e2e_s = e2e[i];
		q.accel_j = 100.0 * (i + 1);
		q.avg_power_w = q.accel_j / q.e2e_s;
		q.completion_tokens = 10;
		if (i == 3)
			q.status = "failed";
		cr_assert_eq(store_query_insert(st, r->id, &q, err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(store_score_add(st, r->id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.correct = 1;
	cr_assert_eq(store_score_add(st, r->id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.item_id = "c", sc.correct = 0;
	cr_assert_eq(store_score_add(st, r->id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.item_id = "b", sc.correct = -1;
	cr_assert_eq(store_score_add(st, r->id, &sc, err, sizeof(err)), 0, "%s", err);
}

Test(aggregate, totals_of_a_stored_run, .init = setup, .fini = teardown)
{
	struct store st;
	struct run_record r;
	struct agg_result a;
	char err[IPW_ERRLEN];

	four_queries(&st, &r);
	cr_assert_eq(agg_run(&st, r.id, AGG_LOAD_QUERIES, NULL, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(a.t.n_queries, 4);
	cr_assert_eq(a.t.n_ok, 3);
	cr_assert_eq(a.t.n_failed, 1);
	near(a.t.accel_j_total, 1000, "total over all queries");
	near(a.t.accel_j_mean, 200, "mean over ok queries");
	near(a.t.e2e_mean_s, 2, "latency mean");
	near(a.t.e2e_p50_s, 2, "latency p50");
	near(a.t.e2e_p99_s, 2.98, "latency p99");
	near(a.t.power_mean_w, 100, "mean power");
	near(a.t.host_j_total, NAN, "host not measured");
	near(a.t.ttft_p50_s, NAN, "ttft not measured");
	cr_assert_eq(a.t.completion_tokens, 30);
	cr_assert_eq(a.t.prompt_tokens, -1);
	cr_assert_eq(a.m.n_scored, 2, "d and c; b unscored, a failed");
	near(a.m.accuracy.value, 0.5, "latest score of d wins");
	agg_result_release(&a);
	cr_assert_eq(agg_run(&st, "99", AGG_LOAD_QUERIES, NULL, &a, err, sizeof(err)), STORE_ENOTFOUND);
	free(r.id);
	store_close(&st);
}

/* Twelve scored queries q00..q11 recorded in reverse item order, with distinct energies. */
static void twelve_queries(struct store *st, struct run_record *r)
{
	char err[IPW_ERRLEN];

	four_queries(st, r);
	for (int i = 0; i < 12; i++) {
		char id[8];
		struct query_record q;
		struct store_score sc = {id, "mcq", NULL, i % 3 != 0, NULL, 0};
		snprintf(id, sizeof(id), "q%02d", 11 - i);
		q = plain_query(10 + i, id);
		q.e2e_s = 1 + i % 4;
		q.accel_j = 10.0 * (i + 1) * (i + 1);
		q.completion_tokens = 5 + i;
		cr_assert_eq(store_query_insert(st, r->id, &q, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(store_score_add(st, r->id, &sc, err, sizeof(err)), 0, "%s", err);
	}
}

Test(aggregate, both_row_sources_give_the_same_numbers, .init = setup, .fini = teardown)
{
	struct store st;
	struct run_record r;
	struct agg_options o;
	struct agg_result a;
	struct agg_compare c;
	char err[IPW_ERRLEN];

	twelve_queries(&st, &r);
	agg_options_init(&o);
	o.m.bootstrap = 500;
	cr_assert_eq(agg_run(&st, r.id, AGG_LOAD_QUERIES, &o, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(agg_compare_load(&st, "t", &o, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c.run_id, r.id);
	cr_assert_eq(c.concurrency, -1);
	cr_assert_null(c.accelerator);
	cr_assert_eq(c.r.m.n_scored, a.m.n_scored);
	cr_assert(c.r.m.ipw.value == a.m.ipw.value && c.r.m.ipj.value == a.m.ipj.value);
	cr_assert(c.r.m.ipw.ci_low == a.m.ipw.ci_low && c.r.m.ipw.ci_high == a.m.ipw.ci_high,
		  "show (queries) and compare (items) resample the same rows in the same order");
	cr_assert(c.r.m.accuracy.ci_low == a.m.accuracy.ci_low);
	cr_assert(c.r.latency_p99.value == a.latency_p99.value);
	cr_assert_eq(c.r.m.n_scored, 14);
	cr_assert_eq(c.r.t.n_queries, 16);
	cr_assert(isnan(c.r.t.power_mean_w), "the item cursor has no recorded power");
	agg_compare_release(&c);
	agg_result_release(&a);
	free(r.id);
	store_close(&st);
}
