/*
 * test_metrics.c - the efficiency metrics on a hand-computed example where
 * the ratio of means and the mean of ratios differ, exclusions, the
 * per-subject split, and the bootstrap intervals (contain the estimate,
 * deterministic for a seed, narrower with more queries).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "rng.h"
#include "util.h"

#define EPS 1e-12

/*
 * Six queries. Scored and not failed: q0..q3.
 *   q   acc  E (J)  tau (s)  P = E/tau (W)  dynamic E (J) (5 W idle)  P_dyn  tokens  subject
 *   q0   1    100     10        10             50                         5     100     math
 *   q1   0    300      5        60            275                        55     200     math
 *   q2   1     50      1        50             45                        45      50     bio
 *   q3   1    150     15        10             75                         5     100     bio
 *   q4   1   1000     10       100  (failed: excluded)                                  bio
 *   q5  -1    500     10        50  (unscored: excluded)                              math
 *
 * Overall (q0..q3):
 *   accuracy = 3/4 = 0.75
 *   mean P = (10+60+50+10)/4 = 32.5 W        IPW = 0.75 / 32.5 = 0.0230769230...
 *     mean of ratios, mean(acc/P) = (0.1 + 0 + 0.02 + 0.1)/4 = 0.055 (NOT what IPW is)
 *   mean E = 600/4 = 150 J                   IPJ = 0.75 / 150 = 0.005
 *     mean of ratios, mean(acc/E) = (0.01 + 0 + 0.02 + 0.00666..)/4 = 0.0091666...
 *   dynamic: mean P_dyn = 110/4 = 27.5 W     IPW_dyn = 0.75 / 27.5 = 0.0272727...
 *            mean E_dyn = 445/4 = 111.25 J   IPJ_dyn = 0.75 / 111.25 = 0.00674157...
 *   J/token = 600 / 450 = 1.3333... (mean of per-query J/token would be (1+1.5+1+1.5)/4 = 1.25)
 *   tokens/J = 450 / 600 = 0.75
 * Per subject:
 *   bio  (q2, q3; q4 failed):    acc 1,   mean P 30 W -> IPW 1/30;  mean E 100 J -> IPJ 0.01
 *   math (q0, q1; q5 unscored):  acc 0.5, mean P 35 W -> IPW 0.5/35; mean E 200 J -> IPJ 0.0025
 */
static const int acc[] = { 1, 0, 1, 1, 1, -1 };
static const double energy[] = { 100, 300, 50, 150, 1000, 500 };
static const double dyn[] = { 50, 275, 45, 75, 950, 450 };
static const double lat[] = { 10, 5, 1, 15, 10, 10 };
static const int failed[] = { 0, 0, 0, 0, 1, 0 };
static const double tokens[] = { 100, 200, 50, 100, 800, 400 };
static const char *const subject[] = { "math", "math", "bio", "bio", "bio", "math" };

static struct metrics_input example(void)
{
	struct metrics_input in = {
		.n = 6, .acc = acc, .energy_j = energy, .dynamic_j = dyn, .latency_s = lat,
		.failed = failed, .subject = subject, .tokens = tokens,
	};
	return in;
}

static void expect_near(double got, double want, const char *what)
{
	cr_expect(fabs(got - want) <= EPS * fmax(1, fabs(want)), "%s: got %.15g, want %.15g", what, got, want);
}

Test(metrics, ratio_of_means_on_hand_computed_example)
{
	struct metrics_input in = example();
	struct metrics_options o;
	struct metrics m;
	char err[IPW_ERRLEN];

	metrics_options_init(&o);
	o.bootstrap = 0;
	cr_assert_eq(metrics_compute(&in, &o, &m, err, sizeof(err)), 0, "%s", err);
	expect_near(m.accuracy.value, 0.75, "accuracy");
	expect_near(m.ipw.value, 0.75 / 32.5, "IPW");
	expect_near(m.ipj.value, 0.005, "IPJ");
	expect_near(m.ipw_dynamic.value, 0.75 / 27.5, "IPW dynamic");
	expect_near(m.ipj_dynamic.value, 0.75 / 111.25, "IPJ dynamic");
	expect_near(m.j_per_token.value, 600.0 / 450.0, "J/token");
	expect_near(m.tokens_per_j.value, 0.75, "tokens/J");
	expect_near(m.power_w.value, 32.5, "mean power");
	expect_near(m.energy_j.value, 150, "mean energy");
	/* The mean of ratios would give 0.055, 0.0091666.. and 1.25: make sure we are not there. */
	cr_expect(fabs(m.ipw.value - 0.055) > 0.01);
	cr_expect(fabs(m.ipj.value - 0.0091666666) > 0.001);
	cr_expect(fabs(m.j_per_token.value - 1.25) > 0.05);
	/* No resampling asked: intervals are "not computed", not zero. */
	cr_expect(isnan(m.ipw.ci_low) && isnan(m.ipw.ci_high));
}

Test(metrics, excluded_counts)
{
	struct metrics_input in = example();
	struct metrics m;
	char err[IPW_ERRLEN];

	cr_assert_eq(metrics_compute(&in, NULL, &m, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(m.n, 6);
	cr_expect_eq(m.n_scored, 4);
	cr_expect_eq(m.n_failed, 1);
	cr_expect_eq(m.n_unscored, 1);
	cr_expect_eq(m.n_correct, 3);
	cr_expect_eq(m.n_energy, 4);
	cr_expect_eq(m.n_dynamic, 4);
	cr_expect_eq(m.n_tokens, 4);
}

Test(metrics, unmeasured_energy_leaves_energy_ratios_only)
{
	double e[] = { 100, NAN, 50, 150, 1000, 500 };
	double d[] = { 50, 275, NAN, 75, 950, 450 };
	double t[] = { 100, 200, -1, 100, 800, 400 };
	struct metrics_input in = example();
	struct metrics_options o;
	struct metrics m;
	char err[IPW_ERRLEN];

	in.energy_j = e;
	in.dynamic_j = d;
	in.tokens = t;
	metrics_options_init(&o);
	o.bootstrap = 0;
	cr_assert_eq(metrics_compute(&in, &o, &m, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(m.n_scored, 4);
	expect_near(m.accuracy.value, 0.75, "accuracy keeps q1");
	cr_expect_eq(m.n_energy, 3);
	/* q0, q2, q3: acc 1 each; P = 10, 50, 10 -> IPW = 1 / (70/3); E = 300/3 -> IPJ = 0.01 */
	expect_near(m.ipw.value, 3.0 / 70.0, "IPW without q1");
	expect_near(m.ipj.value, 0.01, "IPJ without q1");
	/* dynamic: q0, q3 (q2 not measured): P_dyn 5, 5; E_dyn 50, 75 */
	cr_expect_eq(m.n_dynamic, 2);
	expect_near(m.ipw_dynamic.value, 1.0 / 5.0, "IPW dynamic");
	expect_near(m.ipj_dynamic.value, 1.0 / 62.5, "IPJ dynamic");
	/* tokens: q0, q3 -> 250 J / 200 tokens */
	cr_expect_eq(m.n_tokens, 2);
	expect_near(m.j_per_token.value, 250.0 / 200.0, "J/token");
}

Test(metrics, per_subject_split)
{
	struct metrics_input in = example();
	struct metrics_options o;
	struct subject_metrics *s;
	size_t n;
	char err[IPW_ERRLEN];

	metrics_options_init(&o);
	o.bootstrap = 200;
	cr_assert_eq(metrics_by_subject(&in, &o, &s, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(s[0].subject, "bio");
	cr_assert_str_eq(s[1].subject, "math");
	cr_expect_eq(s[0].m.n, 3);
	cr_expect_eq(s[0].m.n_scored, 2);
	cr_expect_eq(s[0].m.n_failed, 1);
	cr_expect_eq(s[0].m.n_unscored, 0);
	expect_near(s[0].m.accuracy.value, 1, "bio accuracy");
	expect_near(s[0].m.ipw.value, 1.0 / 30.0, "bio IPW");
	expect_near(s[0].m.ipj.value, 0.01, "bio IPJ");
	cr_expect_eq(s[1].m.n, 3);
	cr_expect_eq(s[1].m.n_scored, 2);
	cr_expect_eq(s[1].m.n_failed, 0);
	cr_expect_eq(s[1].m.n_unscored, 1);
	expect_near(s[1].m.accuracy.value, 0.5, "math accuracy");
	expect_near(s[1].m.ipw.value, 0.5 / 35.0, "math IPW");
	expect_near(s[1].m.ipj.value, 0.0025, "math IPJ");
	subject_metrics_free(s, n);
}

Test(metrics, subject_missing_is_empty_name)
{
	const char *subj[] = { "x", NULL, "x", NULL, "x", NULL };
	struct metrics_input in = example();
	struct subject_metrics *s;
	size_t n;
	char err[IPW_ERRLEN];
	struct metrics_options o;

	metrics_options_init(&o);
	o.bootstrap = 0;
	in.subject = subj;
	cr_assert_eq(metrics_by_subject(&in, &o, &s, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(s[0].subject, "");
	cr_expect_eq(s[0].m.n, 3);
	cr_expect_str_eq(s[1].subject, "x");
	subject_metrics_free(s, n);
}

/* A synthetic run: acc ~ Bernoulli(0.6), E ~ U(100, 300) J, latency ~ U(2, 6) s. */
struct synth {
	int *acc;
	double *e, *lat, *tok;
	struct metrics_input in;
};

static void synth_init(struct synth *s, size_t n, uint64_t seed)
{
	s->acc = xmalloc(n * sizeof(int));
	s->e = xmalloc(n * sizeof(double));
	s->lat = xmalloc(n * sizeof(double));
	s->tok = xmalloc(n * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		double u1 = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0;
		double u2 = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0;
		double u3 = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0;
		s->acc[i] = u1 < 0.6;
		s->e[i] = 100 + 200 * u2;
		s->lat[i] = 2 + 4 * u3;
		s->tok[i] = 10 * s->lat[i] * 25;
	}
	memset(&s->in, 0, sizeof(s->in));
	s->in.n = n;
	s->in.acc = s->acc;
	s->in.energy_j = s->e;
	s->in.latency_s = s->lat;
	s->in.tokens = s->tok;
}

static void synth_release(struct synth *s)
{
	free(s->acc);
	free(s->e);
	free(s->lat);
	free(s->tok);
}

static void expect_contains(struct metric_value v, const char *what)
{
	cr_expect(v.ci_low <= v.value && v.value <= v.ci_high, "%s: %g not in [%g, %g]", what,
		  v.value, v.ci_low, v.ci_high);
	cr_expect(v.ci_low < v.ci_high, "%s: empty interval [%g, %g]", what, v.ci_low, v.ci_high);
}

Test(metrics, bootstrap_interval_contains_estimate)
{
	struct synth s;
	struct metrics m;
	char err[IPW_ERRLEN];

	synth_init(&s, 300, 7);
	cr_assert_eq(metrics_compute(&s.in, NULL, &m, err, sizeof(err)), 0, "%s", err);
	expect_contains(m.accuracy, "accuracy");
	expect_contains(m.ipw, "IPW");
	expect_contains(m.ipj, "IPJ");
	expect_contains(m.j_per_token, "J/token");
	expect_contains(m.tokens_per_j, "tokens/J");
	/* No dynamic energy given: not measured, so NAN, never 0. */
	cr_expect(isnan(m.ipw_dynamic.value) && isnan(m.ipw_dynamic.ci_low));
	cr_expect_eq(m.n_dynamic, 0);
	synth_release(&s);
}

Test(metrics, bootstrap_is_deterministic_for_a_seed)
{
	struct synth s;
	struct metrics_options o;
	struct metrics a, b, c;
	char err[IPW_ERRLEN];

	synth_init(&s, 200, 11);
	metrics_options_init(&o);
	o.bootstrap = 500;
	o.seed = 42;
	cr_assert_eq(metrics_compute(&s.in, &o, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(metrics_compute(&s.in, &o, &b, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(memcmp(&a, &b, sizeof(a)), 0, "same seed, different results");
	o.seed = 43;
	cr_assert_eq(metrics_compute(&s.in, &o, &c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.ipw.value, a.ipw.value, "the estimate does not depend on the seed");
	cr_expect(c.ipw.ci_low != a.ipw.ci_low || c.ipw.ci_high != a.ipw.ci_high,
		  "a different seed gave the very same interval");
	synth_release(&s);
}

Test(metrics, interval_narrows_as_n_grows)
{
	struct synth small, big;
	struct metrics ms, mb;
	char err[IPW_ERRLEN];

	synth_init(&small, 50, 3);
	synth_init(&big, 2000, 3);
	cr_assert_eq(metrics_compute(&small.in, NULL, &ms, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(metrics_compute(&big.in, NULL, &mb, err, sizeof(err)), 0, "%s", err);
	/* Width shrinks like 1/sqrt(n): expect about 6x; assert at least 3x. */
	double ws = ms.ipw.ci_high - ms.ipw.ci_low, wb = mb.ipw.ci_high - mb.ipw.ci_low;
	cr_expect(wb * 3 < ws, "IPW width n=2000 %g vs n=50 %g", wb, ws);
	ws = ms.accuracy.ci_high - ms.accuracy.ci_low;
	wb = mb.accuracy.ci_high - mb.accuracy.ci_low;
	cr_expect(wb * 3 < ws, "accuracy width n=2000 %g vs n=50 %g", wb, ws);
	synth_release(&small);
	synth_release(&big);
}

Test(metrics, empty_and_bad_input)
{
	struct metrics_input in = { 0 };
	struct metrics_options o;
	struct metrics m;
	char err[IPW_ERRLEN];

	cr_assert_eq(metrics_compute(&in, NULL, &m, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(m.n_scored, 0);
	cr_expect(isnan(m.accuracy.value) && isnan(m.ipw.value), "no queries: NAN, not 0");

	in.n = 3;
	cr_expect_eq(metrics_compute(&in, NULL, &m, err, sizeof(err)), -1);
	cr_expect(strstr(err, "required"), "err: %s", err);

	in = example();
	metrics_options_init(&o);
	o.level = 1.5;
	cr_expect_eq(metrics_compute(&in, &o, &m, err, sizeof(err)), -1);
	cr_expect(strstr(err, "confidence level"), "err: %s", err);
	metrics_options_init(&o);
	o.bootstrap = -1;
	cr_expect_eq(metrics_compute(&in, &o, &m, err, sizeof(err)), -1);
}

Test(metrics, all_wrong_gives_zero_not_nan)
{
	int a[] = { 0, 0 };
	double e[] = { 10, 20 }, l[] = { 1, 2 };
	struct metrics_input in = { .n = 2, .acc = a, .energy_j = e, .latency_s = l };
	struct metrics m;
	char err[IPW_ERRLEN];

	cr_assert_eq(metrics_compute(&in, NULL, &m, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(m.ipw.value, 0);
	cr_expect_eq(m.ipj.value, 0);
	cr_expect_eq(m.ipw.ci_low, 0);
	cr_expect_eq(m.ipw.ci_high, 0);
	cr_expect(isnan(m.j_per_token.value), "no tokens given: NAN");
}

Test(metrics, splitmix64_matches_reference_stream)
{
	/* The published splitmix64 sequence from state 0 (Vigna's reference code). */
	uint64_t st = 0;
	cr_expect_eq(splitmix64(&st), 0xe220a8397b1dcdafULL);
	cr_expect_eq(splitmix64(&st), 0x6e789e6aa1b965f4ULL);
	cr_expect_eq(splitmix64(&st), 0x06c45d188009454fULL);
}
