/*
 * test_timeline.c - the energy timeline (src/timeline.c) alone, fed with
 * hand-made samples: step placement, interpolation, wraps and resets,
 * trapezoid integration, coverage, conservation over tiling windows, fields.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"
#include "timeline.h"

#define MS 1000000LL

static struct sample counter_sample(int64_t t, double e)
{
	struct sample s;
	memset(&s, 0, sizeof(s));
	s.t_ns = t;
	s.valid = SAMPLE_ENERGY;
	s.energy_j = e;
	return s;
}

static struct sample power_sample(int64_t t, double p)
{
	struct sample s;
	memset(&s, 0, sizeof(s));
	s.t_ns = t;
	s.valid = SAMPLE_POWER;
	s.power_w = p;
	return s;
}

/* A 100 W counter stepping every 100 ms (10 J a step), read every 20 ms from `phase`. */
static void feed_stepping(struct timeline *tl, int64_t phase, int nreads, int64_t step, int64_t every)
{
	for (int i = 0; i < nreads; i++) {
		int64_t t = phase + i * every;
		struct sample s = counter_sample(t, 100.0 * (double)(t / step * step) / 1e9);
		timeline_add(tl, &s);
	}
}

static int close_rel(double a, double b, double rel)
{
	return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-300;
}

Test(timeline, step_midpoint_on_read_grid)
{
	struct timeline tl;
	/* reads at 10, 30, 50, ... ms: the step at 100 ms is first seen at 110 ms, last missed at 90 ms */
	timeline_init(&tl, TL_COUNTER, 0, 0.1);
	feed_stepping(&tl, 10 * MS, 51, 100 * MS, 20 * MS); /* 10 .. 1010 ms */
	cr_assert_eq(tl.nk, 10, "one knot per step seen (100..1000 ms), got %zu", tl.nk);
	for (size_t k = 0; k < tl.nk; k++) {
		cr_assert_eq(tl.knots[k].t, (int64_t)(k + 1) * 100 * MS, "knot %zu at %lld ns", k,
			     (long long)tl.knots[k].t);
		cr_assert_float_eq(tl.knots[k].e, 10.0 * (double)k, 1e-9, "knot %zu energy %g", k, tl.knots[k].e);
	}
	timeline_release(&tl);
}

Test(timeline, step_midpoint_off_grid)
{
	struct timeline tl;
	/* reads at 5, 25, 45, 65, 85, 105 ms: the step at 100 ms lands midway between 85 and 105 = 95 ms */
	timeline_init(&tl, TL_COUNTER, 0, 0.1);
	feed_stepping(&tl, 5 * MS, 51, 100 * MS, 20 * MS);
	cr_assert_gt(tl.nk, 5);
	for (size_t k = 0; k < tl.nk; k++)
		cr_assert_eq(tl.knots[k].t, (int64_t)(k + 1) * 100 * MS - 5 * MS, "knot %zu at %lld ns", k,
			     (long long)tl.knots[k].t);
	timeline_release(&tl);
}

Test(timeline, unknown_update_period_uses_midpoint)
{
	struct timeline tl;
	/* reads every 300 ms of a counter stepping every 100 ms: with NAN the midpoint rule holds */
	timeline_init(&tl, TL_COUNTER, 0, NAN);
	feed_stepping(&tl, 50 * MS, 5, 100 * MS, 300 * MS); /* 50, 350, 650, 950, 1250 */
	cr_assert_eq(tl.nk, 4);
	cr_assert_eq(tl.knots[0].t, 200 * MS);
	cr_assert_eq(tl.knots[1].t, 500 * MS);
	timeline_release(&tl);
}

Test(timeline, slow_reads_of_a_fast_counter_stay_near_the_read)
{
	struct timeline tl;
	/* a counter updated every 1 ms (RAPL) read every 20 ms: the change is at most 1 ms old */
	timeline_init(&tl, TL_COUNTER, 0, 0.001);
	for (int i = 0; i < 20; i++) {
		int64_t t = 3 * MS + i * 20 * MS;
		struct sample s = counter_sample(t, 50.0 * (double)(t / MS * MS) / 1e9);
		timeline_add(&tl, &s);
	}
	cr_assert_eq(tl.nk, 19);
	for (size_t k = 0; k < tl.nk; k++)
		cr_assert_eq(tl.knots[k].t, 3 * MS + (int64_t)(k + 1) * 20 * MS - MS / 2,
			     "knot %zu at %lld ns: expected half an update period before the read", k,
			     (long long)tl.knots[k].t);
	timeline_release(&tl);
}

Test(timeline, exact_counter_places_step_at_read)
{
	struct timeline tl;
	timeline_init(&tl, TL_COUNTER, 0, 0);
	for (int i = 0; i < 5; i++) {
		struct sample s = counter_sample(7 * MS + i * 20 * MS, 3.0 * i);
		timeline_add(&tl, &s);
	}
	cr_assert_eq(tl.nk, 4);
	for (size_t k = 0; k < tl.nk; k++)
		cr_assert_eq(tl.knots[k].t, 7 * MS + (int64_t)(k + 1) * 20 * MS);
	timeline_release(&tl);
}

Test(timeline, linear_between_steps)
{
	struct timeline tl;
	double e;
	timeline_init(&tl, TL_COUNTER, 0, 0.1);
	feed_stepping(&tl, 10 * MS, 51, 100 * MS, 20 * MS); /* knots (100 ms, 0 J), (200 ms, 10 J), ... */
	cr_assert_eq(timeline_energy_at(&tl, 150 * MS, &e), 0);
	cr_assert(close_rel(e, 5.0, 1e-12), "E(150 ms) = %.15g, expected 5", e);
	cr_assert_eq(timeline_energy_at(&tl, 125 * MS, &e), 0);
	cr_assert(close_rel(e, 2.5, 1e-12), "E(125 ms) = %.15g, expected 2.5", e);
	cr_assert_eq(timeline_energy(&tl, 130 * MS, 470 * MS, &e), 0);
	cr_assert(close_rel(e, 34.0, 1e-12), "E(130..470 ms) = %.15g, expected 34 (100 W x 0.34 s)", e);
	cr_assert_eq(timeline_energy_at(&tl, 300 * MS, &e), 0);
	cr_assert(close_rel(e, 20.0, 1e-12), "E at a knot = %.15g, expected 20", e);
	timeline_release(&tl);
}

Test(timeline, wraparound_is_unwrapped)
{
	struct timeline tl;
	double e, truth = 0;
	/* 30 J per 100 ms read, counter wraps at 100 J: 0 30 60 90 20 50 80 10 ... */
	timeline_init(&tl, TL_COUNTER, 100.0, 0);
	for (int i = 0; i < 40; i++) {
		struct sample s = counter_sample(i * 100 * MS, fmod(30.0 * i, 100.0));
		timeline_add(&tl, &s);
	}
	truth = 30.0 * 38; /* knots at reads 1..39 */
	cr_assert_eq(timeline_energy(&tl, 100 * MS, 3900 * MS, &e), 0);
	cr_assert(close_rel(e, truth, 1e-12), "unwrapped energy %.15g, expected %.15g", e, truth);
	cr_assert_eq(tl.wraps, 11, "wraps counted: %lu", tl.wraps);
	cr_assert_eq(tl.resets, 0);
	timeline_release(&tl);
}

Test(timeline, reset_without_wrap_counts_nothing_for_the_gap)
{
	struct timeline tl;
	double raw[] = {100, 110, 120, 5, 15, 25}, e;
	timeline_init(&tl, TL_COUNTER, 0, 0);
	for (int i = 0; i < 6; i++) {
		struct sample s = counter_sample(i * 100 * MS, raw[i]);
		timeline_add(&tl, &s);
	}
	cr_assert_eq(tl.resets, 1);
	cr_assert_eq(tl.wraps, 0);
	/* 110 -> 120 is 10 J, the reset read adds nothing, then 10 + 10 J */
	cr_assert_eq(timeline_energy(&tl, 100 * MS, 500 * MS, &e), 0);
	cr_assert(close_rel(e, 30.0, 1e-12), "energy across a reset %.15g, expected 30", e);
	cr_assert_eq(timeline_energy(&tl, 200 * MS, 400 * MS, &e), 0);
	cr_assert(close_rel(e, 10.0, 1e-12), "energy over the reset %.15g, expected 10", e);
	/* E stays monotone */
	for (size_t k = 1; k < tl.nk; k++)
		cr_assert_geq(tl.knots[k].e, tl.knots[k - 1].e);
	timeline_release(&tl);
}

/* p(t) = 100 + 50 t W, t in seconds: E over [a, b] = 100 (b - a) + 25 (b^2 - a^2). */
static double linear_energy(double a, double b)
{
	return 100 * (b - a) + 25 * (b * b - a * a);
}

Test(timeline, trapezoid_exact_for_linear_power)
{
	struct timeline tl;
	int64_t times[] = {0, 13 * MS, 40 * MS, 41 * MS, 200 * MS, 333 * MS, 1000 * MS, 1700 * MS, 2000 * MS};
	int64_t probes[][2] = {{0, 2000 * MS}, {13 * MS, 41 * MS}, {5 * MS, 1999 * MS},
			       {250 * MS, 260 * MS}, {1 * MS, 1 * MS + 1}};
	double e;
	timeline_init(&tl, TL_POWER, 0, NAN);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		struct sample s = power_sample(times[i], 100 + 50 * (double)times[i] / 1e9);
		timeline_add(&tl, &s);
	}
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		double a = (double)probes[i][0] / 1e9, b = (double)probes[i][1] / 1e9;
		cr_assert_eq(timeline_energy(&tl, probes[i][0], probes[i][1], &e), 0);
		cr_assert(close_rel(e, linear_energy(a, b), 1e-9), "window %zu: %.15g J, expected %.15g J", i, e,
			  linear_energy(a, b));
	}
	timeline_release(&tl);
}

Test(timeline, power_samples_without_power_are_skipped)
{
	struct timeline tl;
	struct sample s = power_sample(0, 100), t = power_sample(MS, 100), u = power_sample(2 * MS, NAN);
	t.valid = SAMPLE_TEMP;
	timeline_init(&tl, TL_POWER, 0, NAN);
	timeline_add(&tl, &s);
	timeline_add(&tl, &t);
	timeline_add(&tl, &u);
	cr_assert_eq(tl.nk, 1, "only the valid, finite power reading makes a knot");
	timeline_release(&tl);
}

Test(timeline, outside_coverage_is_refused)
{
	struct timeline tl;
	double e = 42;
	int64_t a, b;
	timeline_init(&tl, TL_COUNTER, 0, 0.1);
	cr_assert_eq(timeline_span(&tl, &a, &b), -1, "empty timeline has no span");
	cr_assert_eq(timeline_energy(&tl, 0, MS, &e), -1);
	feed_stepping(&tl, 10 * MS, 7, 100 * MS, 20 * MS); /* reads to 130 ms: one step, one knot */
	cr_assert_eq(tl.nk, 1);
	cr_assert_eq(timeline_span(&tl, &a, &b), -1, "one knot covers nothing");
	feed_stepping(&tl, 150 * MS, 10, 100 * MS, 20 * MS); /* reads 150..330 ms: knots 100, 200, 300 ms */
	cr_assert_eq(timeline_span(&tl, &a, &b), 0);
	cr_assert_eq(a, 100 * MS);
	cr_assert_eq(b, 300 * MS);
	cr_assert_eq(timeline_energy(&tl, 99 * MS, 200 * MS, &e), -1, "start before coverage");
	cr_assert_eq(timeline_energy(&tl, 150 * MS, 301 * MS, &e), -1, "end after coverage");
	cr_assert_eq(timeline_energy_at(&tl, 300 * MS + 1, &e), -1);
	cr_assert_eq(timeline_energy(&tl, 100 * MS, 300 * MS, &e), 0, "the span itself is covered");
	cr_assert(close_rel(e, 20.0, 1e-12));
	cr_assert_eq(e, 20.0);
	timeline_release(&tl);
}

Test(timeline, earlier_samples_are_ignored)
{
	struct timeline tl;
	struct sample a = counter_sample(100 * MS, 0), b = counter_sample(200 * MS, 5), c = counter_sample(150 * MS, 99);
	timeline_init(&tl, TL_COUNTER, 0, 0);
	timeline_add(&tl, &a);
	timeline_add(&tl, &b);
	timeline_add(&tl, &c);
	cr_assert_eq(tl.n, 2);
	cr_assert_eq(tl.nk, 1);
	timeline_release(&tl);
}

/* A small deterministic generator so the test is reproducible. */
static uint64_t rng_state = 88172645463325252ULL;
static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static void check_tiling(struct timeline *tl)
{
	int64_t a, b, cut[202];
	double whole, sum = 0, e;
	int n = 200;
	cr_assert_eq(timeline_span(tl, &a, &b), 0);
	cut[0] = a;
	cut[n] = b;
	for (int i = 1; i < n; i++)
		cut[i] = a + (int64_t)(rnd() * (double)(b - a));
	/* sort the inner cuts (insertion sort; 200 items) */
	for (int i = 2; i < n; i++)
		for (int j = i; j > 1 && cut[j] < cut[j - 1]; j--) {
			int64_t x = cut[j];
			cut[j] = cut[j - 1];
			cut[j - 1] = x;
		}
	cr_assert_eq(timeline_energy(tl, a, b, &whole), 0);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(timeline_energy(tl, cut[i], cut[i + 1], &e), 0);
		cr_assert_geq(e, -1e-9, "window %d has negative energy %g", i, e);
		sum += e;
	}
	cr_assert(close_rel(sum, whole, 1e-12), "tiles sum to %.17g, span has %.17g", sum, whole);
}

Test(timeline, tiling_windows_conserve_energy_counter)
{
	struct timeline tl;
	int64_t t = 0;
	double counter = 0;
	timeline_init(&tl, TL_COUNTER, 1000.0, 0.1);
	for (int i = 0; i < 500; i++) {
		struct sample s;
		t += 5 * MS + (int64_t)(rnd() * 30 * MS);
		if (rnd() < 0.4)
			counter = fmod(counter + rnd() * 80, 1000.0);
		s = counter_sample(t, counter);
		timeline_add(&tl, &s);
	}
	check_tiling(&tl);
	timeline_release(&tl);
}

Test(timeline, tiling_windows_conserve_energy_power)
{
	struct timeline tl;
	int64_t t = 0;
	timeline_init(&tl, TL_POWER, 0, NAN);
	for (int i = 0; i < 500; i++) {
		struct sample s;
		t += 1 * MS + (int64_t)(rnd() * 40 * MS);
		s = power_sample(t, 50 + rnd() * 600);
		timeline_add(&tl, &s);
	}
	check_tiling(&tl);
	timeline_release(&tl);
}

Test(timeline, field_max_and_mean)
{
	struct timeline tl;
	double temps[] = {40, 45, NAN, 60, 50};
	timeline_init(&tl, TL_COUNTER, 0, 0);
	for (int i = 0; i < 5; i++) {
		struct sample s = counter_sample(i * 100 * MS, i);
		if (!isnan(temps[i])) {
			s.valid |= SAMPLE_TEMP;
			s.temp_c = temps[i];
		} else {
			s.temp_c = 999; /* not valid: must be ignored */
		}
		s.valid |= SAMPLE_MEM_USED;
		s.mem_used_bytes = 1e9 * (i + 1);
		timeline_add(&tl, &s);
	}
	cr_assert_float_eq(timeline_field_max(&tl, 0, 400 * MS, SAMPLE_TEMP), 60, 1e-12);
	cr_assert_float_eq(timeline_field_mean(&tl, 0, 400 * MS, SAMPLE_TEMP), (40 + 45 + 60 + 50) / 4.0, 1e-12);
	/* bounds are inclusive */
	cr_assert_float_eq(timeline_field_max(&tl, 100 * MS, 200 * MS, SAMPLE_TEMP), 45, 1e-12);
	cr_assert_float_eq(timeline_field_mean(&tl, 100 * MS, 300 * MS, SAMPLE_TEMP), 52.5, 1e-12);
	cr_assert_float_eq(timeline_field_max(&tl, 0, 400 * MS, SAMPLE_MEM_USED), 5e9, 1e-3);
	cr_assert_float_eq(timeline_field_mean(&tl, 150 * MS, 250 * MS, SAMPLE_MEM_USED), 3e9, 1e-3);
	cr_assert(isnan(timeline_field_max(&tl, 0, 400 * MS, SAMPLE_POWER)), "unmeasured field is NAN, not 0");
	cr_assert(isnan(timeline_field_mean(&tl, 0, 400 * MS, SAMPLE_POWER)));
	cr_assert(isnan(timeline_field_max(&tl, 200 * MS + 1, 300 * MS - 1, SAMPLE_TEMP)), "no sample inside");
	cr_assert(isnan(timeline_field_mean(&tl, 500 * MS, 900 * MS, SAMPLE_TEMP)));
	timeline_release(&tl);
}

Test(timeline, non_finite_counter_reading_is_skipped)
{
	struct timeline tl;
	double raw[] = {0, 10, NAN, 20, INFINITY, 30}, e;
	timeline_init(&tl, TL_COUNTER, 0, 0);
	for (int i = 0; i < 6; i++) {
		struct sample s = counter_sample(i * 100 * MS, raw[i]);
		timeline_add(&tl, &s);
	}
	cr_assert_eq(tl.nk, 3, "a NaN or infinite reading must not become a knot (%zu knots)", tl.nk);
	cr_assert_eq(timeline_energy(&tl, 100 * MS, 500 * MS, &e), 0);
	cr_assert(close_rel(e, 20.0, 1e-12), "energy %.15g across bad readings, expected 20", e);
	timeline_release(&tl);
}
