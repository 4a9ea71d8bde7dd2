/*
 * test_attribution.c - the concurrent attribution rule (hand-made slices,
 * prefill weights, conservation to 1e-9 on synthetic and fake-back-end
 * timelines, identical requests equal), the naive rule, and the load
 * helpers: arrival gaps (Poisson and gamma), SLO parsing, goodput and
 * percentiles on hand-made records.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attribution.h"
#include "clock.h"
#include "load.h"
#include "telemetry_backend.h"
#include "timeline.h"

#define S 1000000000LL
#define MS 1000000LL
#define B (10 * S) /* a time origin: 0 means "did not happen" */

static char err[IPW_ERRLEN];

/* E(t) of a constant power (W in arg). */
static int const_energy(void *arg, int64_t t, double *e)
{
	*e = *(double *)arg * (double)t / 1e9;
	return 0;
}

/* A wiggly, strictly increasing E(t): 150 t + 15 sin(7 t) (seconds, joules). */
static int wiggly_energy(void *arg, int64_t t, double *e)
{
	double x = (double)t / 1e9;
	(void)arg;
	*e = 150 * x + 15 * sin(7 * x) + 1e4;
	return 0;
}

static int gap_energy(void *arg, int64_t t, double *e)
{
	(void)arg;
	(void)t;
	(void)e;
	return -1;
}

Test(attribution, overlapping_decode_shares_equally)
{
	struct attr_req r[2] = {
		{.t_send = B, .t_first = B, .t_end = B + 2 * S, .prompt_tokens = 10},
		{.t_send = B + 1 * S, .t_first = B + 1 * S, .t_end = B + 3 * S, .prompt_tokens = 10},
	};
	double w = 100, j[2], sec[2];
	struct attr_out o = {.req_j = j, .req_s = sec};
	cr_assert_eq(attribute_concurrent(r, 2, B, B + 4 * S, 0, const_energy, &w, &o, err, sizeof(err)), 0, "%s", err);
	/* [0,1) A alone 100 J, [1,2) shared 50/50, [2,3) B alone, [3,4) idle */
	cr_assert_float_eq(j[0], 150, 1e-9);
	cr_assert_float_eq(j[1], 150, 1e-9);
	cr_assert_float_eq(o.idle_j, 100, 1e-9);
	cr_assert_float_eq(o.idle_s, 1, 1e-12);
	cr_assert_float_eq(o.total_j, 400, 1e-9);
	cr_assert_float_eq(sec[0], 1.5, 1e-12);
	cr_assert_float_eq(sec[1], 1.5, 1e-12);
}

Test(attribution, prefill_weighted_by_prompt_tokens)
{
	/* A prefills [0,1) with 300 prompt tokens while B decodes (100 prompt tokens, already past its prefill) */
	struct attr_req r[2] = {
		{.t_send = B, .t_first = B + 1 * S, .t_end = B + 1 * S + 1, .prompt_tokens = 300},
		{.t_send = B, .t_first = B, .t_end = B + 1 * S, .prompt_tokens = 100},
	};
	double w = 100, j[2];
	struct attr_out o = {.req_j = j};
	cr_assert_eq(attribute_concurrent(r, 2, B, B + 1 * S, 0, const_energy, &w, &o, err, sizeof(err)), 0, "%s", err);
	/* mean prompt 200: A weighs 1.5, B 1 -> 60 J and 40 J */
	cr_assert_float_eq(j[0], 60, 1e-9);
	cr_assert_float_eq(j[1], 40, 1e-9);
	cr_assert_float_eq(o.idle_j, 0, 1e-12);
}

Test(attribution, failed_requests_get_nothing_and_uncovered_is_an_error)
{
	struct attr_req r[2] = {
		{.t_send = B, .t_first = 0, .t_end = 0},          /* never ended */
		{.t_send = B, .t_first = B, .t_end = B + 1 * S},
	};
	double w = 10, j[2];
	struct attr_out o = {.req_j = j};
	cr_assert_eq(attribute_concurrent(r, 2, B, B + 1 * S, 100 * MS, const_energy, &w, &o, err, sizeof(err)), 0);
	cr_assert_float_eq(j[0], 0, 1e-12);
	cr_assert_float_eq(j[1], 10, 1e-9);
	cr_assert_eq(o.nslices, 10);
	cr_assert_eq(attribute_concurrent(r, 2, B, B + 1 * S, 0, gap_energy, NULL, &o, err, sizeof(err)), -1);
	cr_assert(strstr(err, "does not cover"), "%s", err);
	cr_assert_eq(attribute_concurrent(r, 2, B, B, 0, const_energy, &w, &o, err, sizeof(err)), -1);
}

Test(attribution, conservation_and_identical_requests_random)
{
	enum { N = 300 };
	struct attr_req r[N];
	double j[N], sum = 0;
	struct attr_out o = {.req_j = j};
	srand(7);
	for (int i = 0; i < N; i++) {
		int64_t a = (int64_t)(rand() % 20000) * MS / 1;
		int64_t len = (int64_t)(50 + rand() % 3000) * MS;
		r[i].t_send = a + 1;
		r[i].t_first = a + 1 + (rand() % 300) * MS;
		r[i].t_end = r[i].t_first + len;
		r[i].prompt_tokens = 10 + rand() % 500;
	}
	/* two identical requests in the mix */
	r[1] = r[0];
	cr_assert_eq(attribute_concurrent(r, N, 0, 25 * S, 10 * MS, wiggly_energy, NULL, &o, err, sizeof(err)), 0,
		     "%s", err);
	for (int i = 0; i < N; i++) {
		cr_assert(j[i] > 0, "request %d got %g J", i, j[i]);
		sum += j[i];
	}
	cr_assert(fabs(sum + o.idle_j - o.total_j) <= 1e-9 * o.total_j, "sum %.12g + idle %.12g vs total %.12g",
		  sum, o.idle_j, o.total_j);
	cr_assert_float_eq(j[0], j[1], 1e-9 * j[0]);
	cr_assert(o.nslices > 2500, "%zu slices: the 10 ms grid is missing", o.nslices);
}

/* A counter timeline with samples every 100 ms of a 100 W source (energy 100 * t). */
static void counter_timeline(struct timeline *tl)
{
	timeline_init(tl, TL_COUNTER, 0, NAN);
	for (int i = 0; i <= 50; i++) {
		struct sample s = {0};
		s.t_ns = i * 100 * MS;
		s.valid = SAMPLE_ENERGY;
		s.energy_j = 10.0 * i;
		timeline_add(tl, &s);
	}
}

Test(attribution, naive_uses_nearest_samples)
{
	struct timeline tl;
	counter_timeline(&tl);
	/* send at 0.26 s -> nearest sample 0.3 s (30 J); end at 1.04 s -> 1.0 s (100 J) */
	cr_assert_float_eq(attribute_naive(&tl, 260 * MS, 1040 * MS), 70, 1e-9);
	/* ties and ends outside the samples clamp to the nearest one */
	cr_assert_float_eq(attribute_naive(&tl, -5 * S, 99 * S), 500, 1e-9);
	timeline_release(&tl);
	timeline_init(&tl, TL_COUNTER, 0, NAN);
	cr_assert(isnan(attribute_naive(&tl, 0, S)));
	timeline_release(&tl);
}

/* ---- against the fake back-end ---- */

static struct load_req *mkreq(int64_t send, int64_t first, int64_t end)
{
	struct load_req *r = calloc(1, sizeof(*r));
	chat_result_init(&r->res);
	r->res.t_send_ns = send;
	r->res.t_first_ns = first;
	r->res.t_end_ns = end;
	return r;
}

Test(attribution, fake_backend_conservation_to_1e9)
{
	struct telemetry t;
	struct telemetry_select sel = {.backends = "fake", .host = 1};
	struct telemetry_opts opts = {.fake_profile = "gpu0=sine:200:80:0.37,gpu1=square:50:250:0.5,host=const:40"};
	enum { N = 12 };
	struct load_req **reqs = calloc(N, sizeof(*reqs));
	struct query_record qs[N];
	struct load_summary sum;
	double idle_w[3] = {100, 100, 30};
	int64_t t0;
	memset(qs, 0, sizeof(qs));
	cr_assert_eq(telemetry_init(&t, &opts, &sel, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.nsrcs, 3);
	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	clock_sleep_ns(200 * MS);
	t0 = clock_now_ns();
	/* 12 requests in 3 waves of 4 identical ones, overlapping, with a gap of idle */
	for (int i = 0; i < N; i++) {
		int64_t a = t0 + (i / 4) * 300 * MS + (i / 8) * 200 * MS;
		reqs[i] = mkreq(a, a + 50 * MS, a + 400 * MS);
		qs[i].status = strdup("ok");
		qs[i].prompt_tokens = 40;
		qs[i].completion_tokens = 20;
		qs[i].e2e_s = 0.4;
	}
	clock_sleep_ns(1400 * MS);
	cr_assert_eq(telemetry_wait_covered(&t, t0 + 1300 * MS, 3 * S), 0);
	telemetry_stop(&t);
	load_summary_init(&sum);
	cr_assert_eq(load_energy(&t, idle_w, reqs, qs, N, t0, t0 + 1300 * MS, 10 * MS, &sum, err, sizeof(err)),
		     0, "%s", err);
	{
		double total[3] = {0};
		telemetry_window(&t, t0, t0 + 1300 * MS, total);
		double acc = total[0] + total[1];
		cr_assert(fabs(sum.span_accel_j - acc) <= 1e-9 * acc, "span %.12g vs window %.12g", sum.span_accel_j, acc);
		cr_assert(fabs(sum.attributed_accel_j + sum.idle_accel_j - acc) <= 1e-9 * acc,
			  "attributed %.12g + idle %.12g vs measured %.12g", sum.attributed_accel_j, sum.idle_accel_j, acc);
		cr_assert(sum.conservation_rel <= 1e-9);
		cr_assert(sum.idle_accel_j > 0, "the gap between waves is idle");
	}
	/* identical requests of a wave get identical energy */
	for (int w = 0; w < 3; w++)
		for (int i = 1; i < 4; i++)
			cr_assert_float_eq(qs[w * 4 + i].accel_j, qs[w * 4].accel_j, 1e-9 * qs[w * 4].accel_j);
	cr_assert(!isnan(qs[0].host_j) && !isnan(qs[0].accel_dyn_j));
	cr_assert(qs[0].extra_json && strstr(qs[0].extra_json, "naive_accel_j"), "%s", qs[0].extra_json);
	/* the naive rule charges each overlapping request its whole window: more than was measured */
	cr_assert(sum.naive_accel_j > sum.attributed_accel_j * 1.5, "naive %g attributed %g", sum.naive_accel_j,
		  sum.attributed_accel_j);
	for (int i = 0; i < N; i++)
		query_record_release(&qs[i]);
	load_reqs_free(reqs, N);
	telemetry_release(&t);
}

/* ---- load helpers ---- */

Test(load, poisson_and_gamma_gaps)
{
	uint64_t st = 42;
	double sum = 0, sq = 0;
	int n = 40000;
	for (int i = 0; i < n; i++) {
		double g = load_gap(5, 1, &st);
		sum += g;
		sq += g * g;
	}
	{
		double mean = sum / n, cv = sqrt(sq / n - mean * mean) / mean;
		cr_assert(fabs(mean - 0.2) < 0.01, "Poisson mean gap %g, want 0.2", mean);
		cr_assert(fabs(cv - 1) < 0.05, "Poisson CV %g, want 1", cv);
	}
	sum = sq = 0;
	for (int i = 0; i < n; i++) {
		double g = load_gap(5, 0.25, &st);
		sum += g;
		sq += g * g;
	}
	{
		double mean = sum / n, cv = sqrt(sq / n - mean * mean) / mean;
		cr_assert(fabs(mean - 0.2) < 0.015, "gamma mean gap %g, want 0.2", mean);
		cr_assert(fabs(cv - 2) < 0.2, "gamma(0.25) CV %g, want 2 (1/sqrt(k))", cv);
	}
}

Test(load, slo_parse)
{
	struct load_slo s;
	cr_assert_eq(load_slo_parse(&s, "ttft=0.5,tpot=0.05", err, sizeof(err)), 0, "%s", err);
	cr_assert_float_eq(s.ttft_s, 0.5, 1e-12);
	cr_assert_float_eq(s.tpot_s, 0.05, 1e-12);
	cr_assert(isnan(s.e2e_s) && isnan(s.itl_s));
	cr_assert_eq(load_slo_parse(&s, "ttft=fast", err, sizeof(err)), -1);
	cr_assert(strstr(err, "ttft takes seconds"), "%s", err);
	cr_assert_eq(load_slo_parse(&s, "latency=1", err, sizeof(err)), -1);
	cr_assert(strstr(err, "unknown key 'latency'"), "%s", err);
}

Test(load, goodput_and_percentiles_by_hand)
{
	/* five requests over 4 s; SLO ttft <= 0.5, tpot <= 0.05 */
	struct { const char *st; double ttft, tpot, e2e; long long tok; } d[5] = {
		{"ok", 0.2, 0.04, 1.0, 10},     /* meets both */
		{"ok", 0.6, 0.04, 1.2, 10},     /* TTFT too slow */
		{"ok", 0.3, 0.06, 1.5, 10},     /* TPOT too slow */
		{"ok", 0.5, 0.05, 2.0, 10},     /* exactly at both limits: meets */
		{"failed", NAN, NAN, NAN, -1},  /* failed: never good */
	};
	struct load_req *reqs[5];
	struct query_record qs[5];
	struct load_slo slo;
	struct load_summary sum;
	memset(qs, 0, sizeof(qs));
	for (int i = 0; i < 5; i++) {
		reqs[i] = mkreq(S + i * 500 * MS, 0, i == 4 ? 0 : S + i * 500 * MS + (int64_t)(d[i].e2e * 1e9));
		qs[i].status = (char *)d[i].st;
		qs[i].ttft_s = d[i].ttft;
		qs[i].tpot_s = d[i].tpot;
		qs[i].e2e_s = d[i].e2e;
		qs[i].itl_p99_s = NAN;
		qs[i].completion_tokens = d[i].tok;
	}
	cr_assert_eq(load_slo_parse(&slo, "ttft=0.5,tpot=0.05", err, sizeof(err)), 0);
	load_summary_init(&sum);
	load_summarize(reqs, qs, 5, &slo, &sum);
	cr_assert_eq(sum.sent, 5);
	cr_assert_eq(sum.ok, 4);
	cr_assert_eq(sum.failed, 1);
	cr_assert_eq(sum.good, 2);
	cr_assert_float_eq(sum.good_share, 0.4, 1e-12);
	/* span: first send 1.0 s to last end 2.5 + 2.0 = 4.5 s -> 3.5 s */
	cr_assert_float_eq(sum.span_s, 3.5, 1e-9);
	cr_assert_float_eq(sum.good_per_s, 2 / 3.5, 1e-9);
	cr_assert_float_eq(sum.req_per_s, 4 / 3.5, 1e-9);
	cr_assert_float_eq(sum.out_tok_per_s, 40 / 3.5, 1e-9);
	/* TTFT of the ok ones: 0.2 0.3 0.5 0.6 -> p50 0.4, p90 0.57 (linear interpolation) */
	cr_assert_float_eq(sum.ttft.p50, 0.4, 1e-12);
	cr_assert_float_eq(sum.ttft.p90, 0.57, 1e-12);
	cr_assert_float_eq(sum.e2e.p99, 1.5 + 0.97 * 0.5, 1e-12);
	cr_assert_eq(sum.ttft.n, 4);
	for (int i = 0; i < 5; i++) {
		chat_result_release(&reqs[i]->res);
		free(reqs[i]);
	}
}
