/*
 * test_measure.c - the measurement session (src/measure.h) against the fake
 * back-end with constant power and an exact counter (step_ms=0), so every
 * window's energy is power x its length whatever the sampling timing: window
 * energy by scope, dynamic energy, request windows, the idle baseline, query
 * and attempt records from chat results, covered spans, and the telemetry
 * accessors it is built on (scope sums, sample cursors).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "measure.h"
#include "telemetry.h"

#define MS (1000000LL)
#define S (1000000000LL)
#define PROFILE "gpu0=const:200,gpu1=const:100,host=const:50;step_ms=0"

static char err[512];

static void near(double got, double want, const char *what)
{
	cr_assert(fabs(got - want) <= 1e-6 * fabs(want) + 1e-9, "%s: %.12g, want %.12g", what, got, want);
}

/* A session on the fake back-end only (a real GPU or RAPL on the test machine must not interfere). */
static void open_fake(struct measure *m, const char *profile)
{
	struct measure_opts mo;
	measure_opts_init(&mo);
	mo.backends = "fake";
	mo.fake_profile = profile;
	cr_assert_eq(measure_open(m, &mo, err, sizeof(err)), 0, "measure_open: %s", err);
	cr_assert_eq(m->nsrcs, 3, "fake sources: %d", m->nsrcs);
	cr_assert_eq(measure_start(m, NULL, NULL, err, sizeof(err)), 0, "measure_start: %s", err);
}

/* Lets the samplers run, then stops them: [*a, *b] is a span every source covers. */
static void record(struct measure *m, double seconds, int64_t *a, int64_t *b)
{
	cr_assert_eq(measure_wait(m, clock_now_ns(), 3 * S), 0, "telemetry never covered the start");
	*a = clock_now_ns(); /* a sample before it exists now: the span starts inside the timelines */
	clock_sleep_ns((int64_t)(seconds * 1e9));
	*b = clock_now_ns();
	cr_assert_eq(measure_wait(m, *b, 3 * S), 0, "telemetry never covered the end");
	measure_stop(m);
}

static int source_named(const struct measure *m, const char *name)
{
	for (int s = 0; s < m->nsrcs; s++)
		if (!strcmp(telemetry_source(m->tel, s)->name, name))
			return s;
	cr_assert_fail("no source %s", name);
	return -1;
}

Test(measure, window_energy_by_scope_and_dynamic)
{
	struct measure m;
	struct measure_energy e;
	int64_t a, b, t0, t1;
	open_fake(&m, PROFILE);
	record(&m, 0.5, &a, &b);
	cr_assert_eq(measure_naccel(&m), 2);
	m.idle_w[source_named(&m, "fake:gpu0")] = 150;
	m.idle_w[source_named(&m, "fake:gpu1")] = 50;
	m.idle_w[source_named(&m, "fake:host")] = 50;
	t0 = a + 100 * MS;
	t1 = t0 + 250 * MS;
	measure_energy_init(&e);
	measure_window(&m, t0, t1, &e);
	near(e.dur_s, 0.25, "duration");
	near(e.accel_j, 300 * 0.25, "accelerator energy");
	near(e.host_j, 50 * 0.25, "host energy");
	near(e.total_j, 350 * 0.25, "total energy");
	near(e.accel_dyn_j, 100 * 0.25, "accelerator dynamic energy");
	near(e.host_dyn_j, 0, "host dynamic energy");
	near(measure_energy_scope(&e, SCOPE_ACCELERATOR, 0), e.accel_j, "scope accessor");
	near(measure_energy_scope(&e, SCOPE_HOST, 1), e.host_dyn_j, "scope accessor, dynamic");
	cr_assert(isnan(measure_energy_scope(&e, SCOPE_NONE, 0)));
	near(e.gross_j[source_named(&m, "fake:gpu1")], 100 * 0.25, "per-source gross");
	measure_energy_release(&e);
	measure_close(&m);
}

Test(measure, unknown_idle_leaves_dynamic_unmeasured)
{
	struct measure m;
	struct measure_energy e;
	int64_t a, b;
	open_fake(&m, PROFILE);
	record(&m, 0.3, &a, &b);
	/* measure_open starts with every idle power unknown */
	measure_energy_init(&e);
	measure_window(&m, a, b, &e);
	cr_assert(!isnan(e.accel_j));
	cr_assert(isnan(e.accel_dyn_j) && isnan(e.host_dyn_j) && isnan(e.total_dyn_j));
	measure_energy_release(&e);
	measure_close(&m);
}

Test(measure, request_window_energy_waits_for_coverage)
{
	struct measure m;
	struct measure_req r;
	struct measure_energy e;
	open_fake(&m, PROFILE);
	cr_assert_eq(measure_wait(&m, clock_now_ns(), 3 * S), 0);
	measure_req_begin(&r);
	clock_sleep_ns(200 * MS);
	measure_req_end(&r);
	measure_energy_init(&e);
	cr_assert_eq(measure_req_energy(&m, &r, 3 * S, &e), 0, "the request's end was not covered");
	near(e.accel_j, 300 * (double)(r.t_end - r.t_begin) / 1e9, "request accelerator energy");
	near(e.host_j, 50 * (double)(r.t_end - r.t_begin) / 1e9, "request host energy");
	measure_energy_release(&e);
	measure_close(&m);
}

Test(measure, query_energy_rows_and_scope_sums)
{
	struct measure m;
	struct measure_energy e;
	struct query_record q;
	int64_t a, b;
	open_fake(&m, PROFILE);
	record(&m, 0.4, &a, &b);
	for (int s = 0; s < m.nsrcs; s++)
		m.idle_w[s] = 10;
	measure_energy_init(&e);
	measure_window(&m, a + 50 * MS, a + 250 * MS, &e);
	memset(&q, 0, sizeof(q));
	measure_energy_to_query(&m, &e, &q);
	cr_assert_eq(q.nenergy, 3);
	near(q.accel_j, 60, "query accelerator energy");
	near(q.host_j, 10, "query host energy");
	near(q.total_j, 70, "query total energy");
	near(q.accel_dyn_j, 60 - 2 * 10 * 0.2, "query accelerator dynamic energy");
	near(q.total_dyn_j, 70 - 3 * 10 * 0.2, "query total dynamic energy");
	near(q.avg_power_w, 300, "query mean accelerator power");
	for (int i = 0; i < q.nenergy; i++)
		near(q.energy[i].gross_j, e.gross_j[q.energy[i].source_idx], "energy row");
	query_record_release(&q);
	measure_energy_release(&e);
	measure_close(&m);
}

Test(measure, a_source_not_measured_makes_its_scope_unmeasured)
{
	struct measure m;
	struct query_record q;
	double gross[3], dyn[3];
	int64_t a, b;
	int g0, g1, h;
	open_fake(&m, PROFILE);
	record(&m, 0.1, &a, &b);
	g0 = source_named(&m, "fake:gpu0");
	g1 = source_named(&m, "fake:gpu1");
	h = source_named(&m, "fake:host");
	gross[g0] = 5, dyn[g0] = 4;
	gross[g1] = NAN, dyn[g1] = NAN;
	gross[h] = 3, dyn[h] = NAN;
	memset(&q, 0, sizeof(q));
	measure_fill_query_energy(m.tel, &q, gross, dyn, 2);
	cr_assert_eq(q.nenergy, 2, "one row per measured source");
	cr_assert(isnan(q.accel_j) && isnan(q.accel_dyn_j) && isnan(q.avg_power_w));
	near(q.host_j, 3, "host energy");
	near(q.total_j, 3, "total of the scopes measured");
	cr_assert(isnan(q.host_dyn_j) && isnan(q.total_dyn_j));
	/* the accessor's two rules: strict (any NAN -> NAN) and skipping */
	cr_assert(isnan(telemetry_scope_sum(m.tel, SCOPE_ACCELERATOR, gross, 1, NULL)));
	near(telemetry_scope_sum(m.tel, SCOPE_ACCELERATOR, gross, 0, NULL), 5, "skipping sum");
	near(measure_accel_sum(&m, gross), 5, "accelerator sum");
	measure_clear_query_energy(&q);
	cr_assert(isnan(q.host_j) && isnan(q.peak_power_w));
	query_record_release(&q);
	measure_close(&m);
}

Test(measure, idle_baseline_is_mean_power)
{
	struct measure m;
	struct measure_idle mi;
	double w[3];
	open_fake(&m, PROFILE);
	measure_idle(&m, 0.3, NULL, w, &mi);
	cr_assert(mi.measured);
	near(w[source_named(&m, "fake:gpu0")], 200, "gpu0 idle power");
	near(w[source_named(&m, "fake:host")], 50, "host idle power");
	near(mi.accel_w, 300, "accelerators' idle power");
	cr_assert_not(measure_idle_unsteady(&mi));
	measure_idle(&m, 0, NULL, w, &mi);
	cr_assert_not(mi.measured);
	cr_assert(isnan(w[0]) && isnan(mi.accel_w));
	measure_close(&m);
}

Test(measure, unsteady_idle_is_flagged)
{
	struct measure_idle mi = {.accel_w = 100, .lo_w = 60, .hi_w = 140, .measured = 1};
	cr_assert(measure_idle_unsteady(&mi));
	mi.hi_w = 75; /* a 15 W spread is under the 20 W floor */
	cr_assert_not(measure_idle_unsteady(&mi));
}

Test(measure, query_and_attempt_records_from_chat_results)
{
	struct measure m;
	struct chat_result res;
	struct query_record q;
	memset(&m, 0, sizeof(m));
	m.t0_ns = 10 * S;
	chat_result_init(&res);
	res.t_send_ns = 11 * S;
	res.t_first_ns = 11 * S + 500 * MS;
	res.t_end_ns = 13 * S;
	res.completion_tokens = 4;
	res.prompt_tokens = 7;
	res.http_status = 200;
	res.token_ns = calloc(4, sizeof(int64_t));
	res.ntoken = res.captoken = 4;
	for (int i = 0; i < 4; i++)
		res.token_ns[i] = res.t_first_ns + i * 500 * MS;
	memset(&q, 0, sizeof(q));
	measure_query_result(&m, &q, &res);
	cr_assert_str_eq(q.status, "ok");
	near(q.t_send_s, 1, "send time since the origin");
	near(q.e2e_s, 2, "e2e");
	near(q.ttft_s, 0.5, "ttft");
	near(q.tpot_s, 0.5, "tpot");
	near(q.itl_p50_s, 0.5, "itl p50");
	cr_assert_eq(q.prompt_tokens, 7);
	measure_query_attempt(&m, &q, &res);
	res.err = ERR_HTTP;
	res.http_status = 503;
	snprintf(res.errmsg, sizeof(res.errmsg), "busy");
	measure_query_attempt(&m, &q, &res);
	cr_assert_eq(q.nattempts, 2);
	cr_assert_eq(q.attempts[0].n, 1);
	cr_assert_eq(q.attempts[1].n, 2);
	near(q.attempts[0].t_start_s, 1, "attempt start");
	near(q.attempts[0].duration_s, 2, "attempt duration");
	cr_assert_null(q.attempts[0].message);
	cr_assert_str_eq(q.attempts[1].message, "busy");
	cr_assert_eq(q.attempts[1].http_status, 503);
	cr_assert(isnan(measure_rel_s(&m, 0)), "a time that never happened is NAN");
	query_record_release(&q);
	chat_result_release(&res);
}

struct counted {
	size_t n;
};

static void count(void *arg, int src, const struct sample *s)
{
	struct counted *c = arg;
	(void)src;
	c->n++;
	(void)s;
}

Test(measure, sample_cursor_visits_each_sample_once)
{
	struct measure m;
	struct counted c = {0};
	int64_t a, b;
	uint64_t total = 0;
	open_fake(&m, PROFILE);
	record(&m, 0.2, &a, &b);
	for (int s = 0; s < m.nsrcs; s++)
		total += telemetry_source_nsamples(m.tel, s);
	telemetry_samples(m.tel, m.flushed, count, &c);
	cr_assert_eq(c.n, total, "first pass: %zu of %llu samples", c.n, (unsigned long long)total);
	c.n = 0;
	telemetry_samples(m.tel, m.flushed, count, &c);
	cr_assert_eq(c.n, 0, "second pass revisited %zu samples", c.n);
	telemetry_samples(m.tel, NULL, count, &c);
	cr_assert_eq(c.n, total, "without a cursor every sample");
	measure_close(&m);
}

Test(measure, covered_spans_by_source_and_scope)
{
	struct measure m;
	struct measure_span x;
	int64_t a, b;
	int n;
	open_fake(&m, PROFILE);
	record(&m, 0.4, &a, &b);
	x = measure_source_span(&m, source_named(&m, "fake:gpu0"), a, b);
	cr_assert(x.ok);
	cr_assert(x.a >= a && x.b <= b, "clipped to the span asked for");
	near(x.mean_w, 200, "gpu0 mean power over its span");
	x = measure_scope_span(&m, SCOPE_ACCELERATOR, a, b, &n);
	cr_assert(x.ok);
	cr_assert_eq(n, 2);
	near(x.energy_j, 300 * x.span_s, "accelerators over their common span");
	x = measure_scope_span(&m, SCOPE_NONE, a, b, &n);
	cr_assert_not(x.ok);
	cr_assert_eq(n, 0);
	measure_close(&m);
}

Test(measure, bad_devices_fail_open)
{
	struct measure m;
	struct measure_opts mo;
	measure_opts_init(&mo);
	mo.backends = "fake";
	mo.fake_profile = PROFILE;
	mo.devices = "7";
	cr_assert_eq(measure_open(&m, &mo, err, sizeof(err)), -1);
	cr_assert(strstr(err, "--devices 7"), "%s", err);
}
