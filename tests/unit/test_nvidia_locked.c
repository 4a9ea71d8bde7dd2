/*
 * test_nvidia_locked.c - the NVIDIA back-end's default energy policy against
 * the fake NVML library: the counter (a ~4 ms read) is read sparsely at
 * instants locked to its 100 ms steps, each reading becomes a knot at the step
 * that set it, and instantaneous power shapes the energy between knots.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "telemetry_backend.h"
#include "telemetry/nvidia.h"

struct fake {
	void *dl;
	double (*exact)(unsigned dev, double t_mono_s);
	double (*power)(unsigned dev, double t_mono_s);
	double (*init_s)(void);
	double (*period_s)(void);
	unsigned long (*calls)(void);
};

static void start_policy(struct telemetry *t, const char *profile, struct fake *f, const char *policy)
{
	struct telemetry_opts o = {0};
	struct telemetry_select sel = {.backends = "nvidia"};
	char err[IPW_ERRLEN] = "";
	char *p = xasprintf("%s/fakes/libfake_nvml.so", getenv("IPW_BUILD") ? getenv("IPW_BUILD") : "build");
	setenv("IPW_NVML_LIBRARY", p, 1);
	setenv("FAKE_NVML_DEVICES", "1", 1);
	setenv("FAKE_NVML_PROFILE", profile, 1);
	unsetenv("FAKE_NVML_FAIL");
	unsetenv("CUDA_VISIBLE_DEVICES");
	if (policy)
		setenv("IPW_NVML_ENERGY_READS", policy, 1);
	else
		unsetenv("IPW_NVML_ENERGY_READS");
	cr_assert_eq(telemetry_init(t, &o, &sel, err, sizeof(err)), 0, "init: %s", err);
	f->dl = dlopen(p, RTLD_NOW);
	free(p);
	cr_assert(f->dl);
	*(void **)&f->exact = dlsym(f->dl, "fake_nvml_exact_energy_j");
	*(void **)&f->power = dlsym(f->dl, "fake_nvml_power_w");
	*(void **)&f->init_s = dlsym(f->dl, "fake_nvml_init_time_s");
	*(void **)&f->period_s = dlsym(f->dl, "fake_nvml_update_period_s");
	*(void **)&f->calls = dlsym(f->dl, "fake_nvml_energy_calls");
	cr_assert(f->exact && f->power && f->init_s && f->period_s && f->calls);
	cr_assert_eq(telemetry_start(t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
}

static void start(struct telemetry *t, const char *profile, struct fake *f)
{
	start_policy(t, profile, f, NULL);
}

Test(nvidia_locked, reads_sparsely_and_knots_sit_on_steps, .timeout = 60)
{
	struct telemetry t;
	struct fake f;
	const struct timeline *tl;
	unsigned long calls0;
	double U, seconds = 4.0;
	start(&t, "step", &f);
	calls0 = f.calls(); /* the probe's own reads */
	clock_sleep_ns((int64_t)(seconds * 1e9));
	telemetry_stop(&t);
	U = f.period_s();
	tl = &t.srcs[0].tl;
	cr_assert(strstr(t.srcs[0].info->notes, "locked"), "notes: %s", t.srcs[0].info->notes);
	/*
	 * The rule, checked against what happened (a busy machine wakes the
	 * sampler late, which costs extra re-synchronisations, each one watch):
	 * locked, the counter is read only in watches for a step (two per phase
	 * search, one per re-synchronisation, as the back-end counted them) and
	 * in sparse reads, at most one per step interval. A watch ends at the
	 * first step it sees, so it makes at most U / 4 ms + 2 reads (a read
	 * takes at least the fake's 4 ms). Reading at every 20 ms sample would
	 * be 200 reads in 4 s.
	 */
	{
		struct nvidia_read_counts rc;
		const struct backend_instance *inst = NULL;
		unsigned long reads = f.calls() - calls0, per_watch = (unsigned long)(U / 0.004) + 2;
		for (int b = 0; b < t.ninsts; b++)
			if (!strcmp(t.insts[b].ops->name, "nvidia"))
				inst = &t.insts[b];
		cr_assert_eq(nvidia_read_counts(inst, 0, &rc), 0);
		cr_assert_eq(rc.every_reads, 0, "%lu reads at every sample while locked", rc.every_reads);
		cr_assert_leq(reads, rc.watch_reads + rc.sparse_reads, "%lu counter reads, %lu in watches, %lu sparse",
			      reads, rc.watch_reads, rc.sparse_reads);
		cr_assert_leq(rc.watch_reads, rc.watches * per_watch, "%lu reads in %lu watches (at most %lu each)",
			      rc.watch_reads, rc.watches, per_watch);
		cr_assert_leq(rc.sparse_reads, (unsigned long)(seconds / U) + 2, "%lu sparse reads in %.0f s",
			      rc.sparse_reads, seconds);
		cr_assert_geq(rc.watches, 2, "no phase search: %lu watches", rc.watches);
	}
	cr_assert_geq(t.srcs[0].nsamples, 120, "power samples: %llu", (unsigned long long)t.srcs[0].nsamples);
	cr_assert_geq(tl->nk, 8, "knots: %zu", tl->nk);
	/*
	 * Every knot is assigned to a counter update instant and carries that
	 * instant's exact energy: the rule, whatever the scheduler did. A knot is
	 * checked against the update nearest to it, so a knot given to the wrong
	 * step (a read stretched across a step and not rejected) fails the energy
	 * check. How close the knots sit to their steps depends on how promptly
	 * the sampler woke (a few ms on a quiet machine, more on a busy one): that
	 * is a figure, logged here and measured by bench/gpu on real hardware, not
	 * a bound a busy machine must meet.
	 */
	double off_sum = 0, off_max = 0;
	for (size_t k = 0; k < tl->nk; k++) {
		double tk = (double)tl->knots[k].t / 1e9, u = f.init_s() + round((tk - f.init_s()) / U) * U;
		double u0 = f.init_s() + round(((double)tl->knots[0].t / 1e9 - f.init_s()) / U) * U;
		off_sum += fabs(tk - u);
		off_max = fmax(off_max, fabs(tk - u));
		/* the counter is in whole mJ: 2 mJ of rounding at most between two knots */
		cr_expect_leq(fabs(tl->knots[k].e - (f.exact(0, u) - f.exact(0, u0))), 0.002,
			      "knot %zu at %.4f s (update at %.4f s): %.4f J, exact %.4f J", k, tk - f.init_s(),
			      u - f.init_s(), tl->knots[k].e, f.exact(0, u) - f.exact(0, u0));
	}
	cr_log_info("%zu knots, offset from their update instants: mean %.4f s, max %.4f s", tl->nk,
		    off_sum / (double)tl->nk, off_max);
	telemetry_release(&t);
	dlclose(f.dl);
}

static unsigned lcg(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

Test(nvidia_locked, windows_match_exact_integral_and_tile, .timeout = 60)
{
	struct telemetry t;
	struct fake f;
	const struct timeline *tl;
	double lo, hi, G = 0, K = 0, worst = 0;
	int64_t a, b;
	unsigned seed = 7;
	int n = 0;
	start(&t, "step", &f);
	clock_sleep_ns(4500 * NS_PER_MS);
	telemetry_stop(&t);
	tl = &t.srcs[0].tl;
	cr_assert_eq(timeline_span(tl, &a, &b), 0);
	for (size_t i = 1; i < tl->n; i++)
		G = fmax(G, (double)(tl->samples[i].t_ns - tl->samples[i - 1].t_ns) / 1e9);
	/* how far the knots actually sit from their update instants (a few ms; more on a busy machine) */
	for (size_t k = 0; k < tl->nk; k++) {
		double tk = (double)tl->knots[k].t / 1e9;
		K = fmax(K, fabs(tk - (f.init_s() + round((tk - f.init_s()) / f.period_s()) * f.period_s())));
	}
	lo = (double)a / 1e9;
	hi = (double)b / 1e9;
	cr_assert_gt(hi - lo, 2.5, "covered %.2f s", hi - lo);
	for (int i = 0; i < 300; i++) {
		double len = 0.02 + (lcg(&seed) % 10000) / 10000.0 * fmin(2.0, hi - lo - 0.03);
		double x = lo + (lcg(&seed) % 10000) / 10000.0 * (hi - lo - len), y = x + len, e, exact, bound;
		int64_t tx = (int64_t)llround(x * 1e9), ty = (int64_t)llround(y * 1e9);
		cr_assert_eq(timeline_energy(tl, tx, ty, &e), 0);
		exact = f.exact(0, (double)ty / 1e9) - f.exact(0, (double)tx / 1e9);
		/*
		 * Power is 100 or 500 W, switching each second. Between two knots the
		 * counter's energy is exact and the power samples only shape it: a
		 * window's edge splits its knot interval [ka, kb] by the shape. Where
		 * that interval holds a switch, the straight line across the sample
		 * gap g around it is off by at most 400 W x g / 2 in all (a triangle),
		 * and the split, scaled to the interval's exact energy, by at most
		 * twice that: 400 W x (g + a 5 ms read) per edge, g the largest gap
		 * between samples in the edge's knot interval, as it happened. A knot
		 * K from its update (the largest offset that happened, measured above)
		 * moves at most 500 W x K between neighbouring knot intervals, per
		 * edge; plus mJ rounding.
		 */
		bound = 0.01;
		for (int edge = 0; edge < 2; edge++) {
			int64_t te = edge ? ty : tx, ka = a, kb = b;
			double g = 0, prev = NAN;
			for (size_t k = 0; k < tl->nk; k++) {
				if (tl->knots[k].t <= te)
					ka = tl->knots[k].t;
				else if (tl->knots[k].t < kb)
					kb = tl->knots[k].t;
			}
			for (size_t si = 0; si < tl->n; si++) {
				double ts = (double)tl->samples[si].t_ns;
				if (ts < (double)ka - 2e8 || ts > (double)kb + 2e8)
					continue; /* the samples around the interval shape it (the power lags 65 ms) */
				if (!isnan(prev))
					g = fmax(g, (ts - prev) / 1e9);
				prev = ts;
			}
			bound += 500 * K * 2;
			/* a switch inside the knot interval, or within the power's lag of it */
			if (floor((double)kb / 1e9 - f.init_s() + 0.1) > floor((double)ka / 1e9 - f.init_s() - 0.1))
				bound += 400 * (g + 0.005);
		}
		worst = fmax(worst, fabs(e - exact) / bound);
		cr_expect_leq(fabs(e - exact), bound, "[%.3f, %.3f] (%.3f s): %.3f J, exact %.3f J, bound %.3f J",
			      x - f.init_s(), y - f.init_s(), len, e, exact, bound);
		n++;
	}
	cr_log_info("locked: %d windows, worst |error|/bound %.3f, max sample gap %.4f s, max knot offset %.4f s", n,
		    worst, G, K);
	/*
	 * The power field lags (65 ms in the fake, as on an H200). Windows that end
	 * 30 ms after a power switch hold 30 ms of the new level, which an
	 * uncompensated lag would miss entirely (400 W x 30 ms = 12 J each).
	 */
	{
		double sum = 0;
		int m = 0;
		for (double sw = f.init_s() + ceil(lo - f.init_s() + 0.3); sw + 0.1 < hi; sw += 1.0) {
			double e, exact;
			int64_t tx = (int64_t)llround((sw - 0.25) * 1e9), ty = (int64_t)llround((sw + 0.03) * 1e9);
			cr_assert_eq(timeline_energy(tl, tx, ty, &e), 0);
			exact = f.exact(0, (double)ty / 1e9) - f.exact(0, (double)tx / 1e9);
			sum += fabs(e - exact);
			m++;
		}
		cr_assert_geq(m, 2);
		cr_log_info("switch windows: %d, mean |error| %.2f J", m, sum / m);
		/* measured: 0.7-1.6 J compensated, 6.6-8.6 J with IPW_NVML_POWER_LAG_MS=0 */
		cr_expect_leq(sum / m, 4.0, "windows ending just after a power switch: mean |error| %.2f J "
			      "(is the power field's lag compensated?)", sum / m);
	}
	/* conservation: 41 random tiles of the covered span sum to the whole */
	{
		int64_t cuts[42];
		double whole, sum = 0;
		cuts[0] = a;
		cuts[41] = b;
		for (int i = 1; i < 41; i++)
			cuts[i] = a + (int64_t)((double)(b - a) * ((lcg(&seed) % 100000) / 100000.0));
		for (int i = 1; i < 41; i++)
			for (int j = i; j > 1 && cuts[j] < cuts[j - 1]; j--) {
				int64_t tmp = cuts[j];
				cuts[j] = cuts[j - 1];
				cuts[j - 1] = tmp;
			}
		cr_assert_eq(timeline_energy(tl, a, b, &whole), 0);
		for (int i = 0; i < 41; i++) {
			double e;
			cr_assert_eq(timeline_energy(tl, cuts[i], cuts[i + 1], &e), 0);
			sum += e;
		}
		cr_expect_leq(fabs(sum - whole), 1e-9 * whole, "tiles %.12f J, whole %.12f J", sum, whole);
	}
	telemetry_release(&t);
	dlclose(f.dl);
}

Test(nvidia_locked, every_sample_policy_on_request, .timeout = 30)
{
	struct telemetry t;
	struct fake f;
	unsigned long c0;
	start(&t, "constant", &f); /* reset below: probe once more with the policy asked for */
	telemetry_release(&t);
	dlclose(f.dl);
	{
		struct telemetry_opts o = {0};
		struct telemetry_select sel = {.backends = "nvidia"};
		char err[IPW_ERRLEN] = "";
		setenv("IPW_NVML_ENERGY_READS", "every", 1);
		cr_assert_eq(telemetry_init(&t, &o, &sel, err, sizeof(err)), 0, "%s", err);
		cr_assert_null(strstr(t.srcs[0].info->notes, "locked"), "notes: %s", t.srcs[0].info->notes);
		cr_assert_eq(t.srcs[0].tl.shape, 0);
		f.dl = dlopen(getenv("IPW_NVML_LIBRARY"), RTLD_NOW);
		*(void **)&f.calls = dlsym(f.dl, "fake_nvml_energy_calls");
		c0 = f.calls();
		cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
		clock_sleep_ns(1000 * NS_PER_MS);
		telemetry_stop(&t);
		/* one read per sample (however many a busy machine let the sampler take); a read in
		 * flight when the sampler stops is not kept */
		cr_assert_geq(t.srcs[0].nsamples, 2, "%llu samples in 1 s", (unsigned long long)t.srcs[0].nsamples);
		cr_assert_geq(f.calls() - c0, t.srcs[0].nsamples, "%lu reads, %llu samples", f.calls() - c0,
			      (unsigned long long)t.srcs[0].nsamples);
		cr_assert_leq(f.calls() - c0 - t.srcs[0].nsamples, 2, "%lu reads, %llu samples", f.calls() - c0, (unsigned long long)t.srcs[0].nsamples);
		unsetenv("IPW_NVML_ENERGY_READS");
		telemetry_release(&t);
		dlclose(f.dl);
	}
}

/*
 * The power switches each second (100 <-> 500 W). With scheduled reads 10 s
 * apart, only a reaction to the power field can put a knot shortly after each
 * switch. The first 2 s are left out: the early re-synchronisations put knots
 * everywhere then.
 */
Test(nvidia_locked, each_power_switch_earns_a_knot, .timeout = 60)
{
	struct telemetry t;
	struct fake f;
	const struct timeline *tl;
	double first, last;
	int switches = 0;
	start_policy(&t, "step", &f, "locked:10000");
	clock_sleep_ns(5500 * NS_PER_MS);
	telemetry_stop(&t);
	tl = &t.srcs[0].tl;
	cr_assert_geq(tl->nk, 2);
	first = (double)tl->knots[0].t / 1e9;
	last = (double)tl->knots[tl->nk - 1].t / 1e9;
	for (double sw = f.init_s() + ceil(first - f.init_s() + 2.0); sw + 0.5 < last; sw += 1.0) {
		int near = 0;
		for (size_t k = 0; k < tl->nk; k++) {
			double tk = (double)tl->knots[k].t / 1e9;
			near |= tk > sw && tk < sw + 0.45;
		}
		cr_expect(near, "no knot within 0.45 s after the power switch at %.2f s", sw - f.init_s());
		switches++;
	}
	cr_assert_geq(switches, 2, "only %d switches checked", switches);
	telemetry_release(&t);
	dlclose(f.dl);
}
