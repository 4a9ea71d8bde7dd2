/*
 * test_nvidia.c - the NVML back-end against build/fakes/libfake_nvml.so, through
 * the public telemetry API: interpolated window energy versus the fake's exact
 * integral, conservation over tiled windows, absent reasons, degraded power,
 * and device selection by index, UUID and CUDA_VISIBLE_DEVICES.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "telemetry_backend.h"

struct fake_nvml {
	void *dl;
	double (*exact)(unsigned, double);
	void (*range)(unsigned, double, double, double *, double *);
	double (*init_s)(void);
	double (*period_s)(void);
};

static char *fake_path(void)
{
	const char *b = getenv("IPW_BUILD");
	return xasprintf("%s/fakes/libfake_nvml.so", b ? b : "build");
}

static void use_fake(const char *ndev, const char *profile)
{
	char *p = fake_path();
	setenv("IPW_NVML_LIBRARY", p, 1);
	free(p);
	setenv("FAKE_NVML_DEVICES", ndev, 1);
	if (profile)
		setenv("FAKE_NVML_PROFILE", profile, 1);
	unsetenv("FAKE_NVML_FAIL");
	unsetenv("CUDA_VISIBLE_DEVICES");
	/* these tests check the every-sample policy; test_nvidia_locked.c checks the default one */
	setenv("IPW_NVML_ENERGY_READS", "every", 1);
}

/* Opens the same fake the back-end loaded (dlopen is refcounted: one instance). */
static void open_fake(struct fake_nvml *f)
{
	char *p = fake_path();
	f->dl = dlopen(p, RTLD_NOW);
	free(p);
	cr_assert_not_null(f->dl, "dlopen fake: %s", dlerror());
	*(void **)&f->exact = dlsym(f->dl, "fake_nvml_exact_energy_j");
	*(void **)&f->range = dlsym(f->dl, "fake_nvml_power_range");
	*(void **)&f->init_s = dlsym(f->dl, "fake_nvml_init_time_s");
	*(void **)&f->period_s = dlsym(f->dl, "fake_nvml_update_period_s");
	cr_assert(f->exact && f->range && f->init_s && f->period_s);
}

static struct backend_instance *find_inst(struct telemetry *t, const char *name)
{
	for (int b = 0; b < t->ninsts; b++)
		if (!strcmp(t->insts[b].ops->name, name))
			return &t->insts[b];
	return NULL;
}

static void init_nvidia(struct telemetry *t, const char *devices)
{
	struct telemetry_opts o = {0};
	struct telemetry_select sel = {.backends = "nvidia", .devices = devices};
	char err[IPW_ERRLEN] = "";
	cr_assert_eq(telemetry_init(t, &o, &sel, err, sizeof(err)), 0, "init: %s", err);
}

/*
 * What the timeline's rule made of the samples that actually arrived, for one
 * source: each knot with the counter update it stands for. The fake's counter
 * holds the exact integral at its last 100 ms update (init + j*U), in whole
 * mJ, so each knot's value names its update j; the knot's time is where the
 * midpoint rule placed that update. Nothing here depends on how well the
 * sampler kept its schedule: the checks below hold for whatever reads happened.
 */
struct knot_map {
	size_t n;
	const struct tl_knot *k;
	double *u;            /* seconds: the update the knot stands for */
	double max_shift;     /* largest |knot time - update time| seen, s (for the log) */
};

static void knot_map_build(struct knot_map *m, const struct telemetry *t, int s, const struct fake_nvml *f)
{
	const struct timeline *tl = &t->srcs[s].tl;
	unsigned dev = (unsigned)t->srcs[s].info->index;
	double U = f->period_s(), init = f->init_s(), offset_mj = 1e6 * (dev + 1);
	const struct sample *prev = NULL;
	size_t ki = 0;

	m->n = tl->nk;
	m->k = tl->knots;
	m->u = xcalloc(tl->nk + 1, sizeof(double));
	m->max_shift = 0;
	for (size_t i = 0; i < tl->nk; i++) {
		double mj = (double)llround((tl->knots[i].e + tl->origin) * 1000.0) - offset_mj;
		long long j0 = llround(((double)tl->knots[i].t / 1e9 - init) / U), best = -1;
		double bestd = INFINITY;
		for (long long j = j0 - 3; j <= j0 + 3; j++) {
			double d = j < 0 ? INFINITY : fabs(floor(f->exact(dev, init + (double)j * U) * 1000.0) - mj);
			if (d < bestd) {
				bestd = d;
				best = j;
			}
		}
		/* +-1 mJ: init + j*U minus init need not be j*U to the last bit */
		cr_assert(bestd <= 1.0, "knot %zu of source %d (%.1f mJ) is none of the counter's values", i, s, mj);
		m->u[i] = init + (double)best * U;
		cr_assert(i == 0 || m->u[i] > m->u[i - 1], "knots %zu, %zu stand for one update", i - 1, i);
	}
	/*
	 * The rule, for the reads that happened: every change of the counter's
	 * value between two reads is one knot, placed back from the read that saw
	 * the new value by half the gap (at most half the update period); the
	 * update it stands for lies between the two reads' value instants, which
	 * are inside their stamps.
	 */
	for (size_t i = 0; i < tl->n; i++) {
		const struct sample *x = &tl->samples[i];
		int64_t back, lo_ns, hi_ns;
		if (!(x->valid & SAMPLE_ENERGY) || !isfinite(x->energy_j))
			continue;
		if (prev && x->energy_j != prev->energy_j) {
			double shift;
			cr_assert_lt(ki, tl->nk, "more counter changes than knots");
			back = (x->t_ns - prev->t_ns) / 2;
			if (back > (int64_t)(U * 0.5e9))
				back = (int64_t)(U * 0.5e9);
			/* (a knot is moved 1 ns past its predecessor to keep times increasing) */
			cr_assert(tl->knots[ki].t == x->t_ns - back ||
				  (ki && tl->knots[ki].t == tl->knots[ki - 1].t + 1 && x->t_ns - back <= tl->knots[ki - 1].t),
				  "knot %zu not where the midpoint rule puts it", ki);
			lo_ns = prev->t_ns - prev->read_ns / 2 - NS_PER_MS;
			hi_ns = x->t_ns + x->read_ns / 2 + NS_PER_MS;
			cr_assert(m->u[ki] * 1e9 >= (double)lo_ns && m->u[ki] * 1e9 <= (double)hi_ns,
				  "update at %.4f s outside the reads around its knot [%.4f, %.4f]", m->u[ki] - init,
				  (double)lo_ns / 1e9 - init, (double)hi_ns / 1e9 - init);
			shift = fabs((double)tl->knots[ki].t / 1e9 - m->u[ki]);
			m->max_shift = fmax(m->max_shift, shift);
			ki++;
		}
		prev = x;
	}
	cr_assert_eq(ki, tl->nk, "%zu counter changes, %zu knots", ki, tl->nk);
}

/*
 * Where the timeline's straight line between knots i and i + 1 puts instant x
 * (seconds) on the counter's own time axis, the updates: a window's estimate
 * is exactly the counter's chord between the mapped instants. Sets *seg to i.
 */
static double knot_map_tau(const struct knot_map *m, int64_t x_ns, size_t *seg)
{
	size_t i = 0;
	while (i + 2 < m->n && m->k[i + 1].t <= x_ns)
		i++;
	*seg = i;
	return m->u[i] + (double)(x_ns - m->k[i].t) / (double)(m->k[i + 1].t - m->k[i].t) * (m->u[i + 1] - m->u[i]);
}

/*
 * How far the counter's chord between updates i and i + 1 can be from the
 * exact integral: (Pmax - Pmin) * h / 4 over that stretch of the fake's
 * (exactly known) power.
 */
static double chord_bound(const struct fake_nvml *f, unsigned dev, const struct knot_map *m, size_t i)
{
	double pmin, pmax;
	f->range(dev, m->u[i], m->u[i + 1], &pmin, &pmax);
	return (pmax - pmin) * (m->u[i + 1] - m->u[i]) / 4;
}

struct check {
	int n, fails;
	double worst_ratio;
	double worst_plain_j;  /* largest |measured - exact over [a, b]|, J (log only: that one is timing) */
};

/*
 * The energy of [a, b] against what the rule says for the reads that
 * happened: the exact integral between the instants the knots map a and b to,
 * within the chord bound at each end and the counter's whole mJ.
 */
static void check_window(struct telemetry *t, const struct fake_nvml *f, const struct knot_map *maps,
			 double a, double b, const char *kind, struct check *c)
{
	double e[8];
	int64_t ta = (int64_t)llround(a * 1e9), tb = (int64_t)llround(b * 1e9);
	telemetry_window(t, ta, tb, e);
	for (int s = 0; s < t->nsrcs; s++) {
		unsigned dev = (unsigned)t->srcs[s].info->index;
		size_t ia, ib;
		double xa = knot_map_tau(&maps[s], ta, &ia), xb = knot_map_tau(&maps[s], tb, &ib);
		double expect = f->exact(dev, xb) - f->exact(dev, xa);
		double bound = chord_bound(f, dev, &maps[s], ia) + chord_bound(f, dev, &maps[s], ib) + 2e-3 +
			       1e-9 * fabs(expect);
		double err = e[s] - expect;
		double plain = f->exact(dev, (double)tb / 1e9) - f->exact(dev, (double)ta / 1e9);
		c->n++;
		cr_expect(isfinite(e[s]), "%s window [%.4f, %.4f] on %s not covered", kind, a, b,
			  t->srcs[s].info->name);
		if (!(fabs(err) <= bound)) {
			c->fails++;
			cr_expect(0, "%s window [%.4f, %.4f] (%.3f s) on %s: measured %.4f J, the rule says %.4f J "
				  "(updates [%.4f, %.4f]), error %.4f J > bound %.4f J", kind, a - f->init_s(),
				  b - f->init_s(), b - a, t->srcs[s].info->name, e[s], expect, xa - f->init_s(),
				  xb - f->init_s(), err, bound);
		}
		if (bound > 0)
			c->worst_ratio = fmax(c->worst_ratio, fabs(err) / bound);
		c->worst_plain_j = fmax(c->worst_plain_j, fabs(e[s] - plain));
	}
}

static double urand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (double)((*seed >> 8) & 0xffffff) / (double)0x1000000;
}

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

/* Samples for `seconds`, then checks many windows against what the rule says of the reads made. */
static void run_accuracy(const char *profile, double seconds, int constant)
{
	struct telemetry t;
	struct fake_nvml f;
	struct knot_map maps[8];
	struct check c = {0, 0, 0, 0};
	char err[IPW_ERRLEN] = "";
	double U, lo = -INFINITY, hi = INFINITY;
	unsigned seed = 12345;

	use_fake("2", profile);
	init_nvidia(&t, NULL);
	cr_assert_eq(t.nsrcs, 2);
	open_fake(&f);
	U = f.period_s();
	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	clock_sleep_ns((int64_t)(seconds * 1e9));
	telemetry_stop(&t);

	for (int s = 0; s < t.nsrcs; s++) {
		const struct timeline *tl = &t.srcs[s].tl;
		cr_assert_eq(tl->mode, TL_COUNTER);
		cr_assert_geq(tl->nk, 4, "%s: %zu knots", t.srcs[s].info->name, tl->nk);
		knot_map_build(&maps[s], &t, s, &f);
		/* windows stay inside the knots (the first and last are kept as ends of lines) */
		lo = fmax(lo, (double)tl->knots[1].t / 1e9);
		hi = fmin(hi, (double)tl->knots[tl->nk - 2].t / 1e9);
		/* every sample is stamped around its own blocking energy read (4 ms in the fake) */
		for (size_t i = 0; i < tl->n; i++)
			cr_assert_geq(tl->samples[i].read_ns, 4 * NS_PER_MS, "sample %zu read_ns %lld", i,
				      (long long)tl->samples[i].read_ns);
	}
	/* a sampler starved for the whole run leaves nothing to check: say so rather than pass */
	cr_assert_gt(hi - lo, 1.2, "covered span too short: %.3f s", hi - lo);

	/* long windows */
	check_window(&t, &f, maps, lo, lo + 1.0, "long", &c);
	check_window(&t, &f, maps, hi - 1.1, hi, "long", &c);
	check_window(&t, &f, maps, lo, hi, "whole", &c);
	/* windows straddling counter steps (the fake updates at init + k*U) */
	for (double k = ceil((lo + 0.05 - f.init_s()) / U); f.init_s() + k * U + 0.06 < hi; k++) {
		double step = f.init_s() + k * U;
		check_window(&t, &f, maps, step - 0.010, step + 0.010, "straddle-20ms", &c);
		check_window(&t, &f, maps, step - 0.001, step + 0.002, "straddle-3ms", &c);
		check_window(&t, &f, maps, step - 0.045, step + 0.055, "straddle-100ms", &c);
	}
	/* short and random windows */
	for (int i = 0; i < 60; i++) {
		double a = lo + urand(&seed) * (hi - lo - 0.05);
		check_window(&t, &f, maps, a, a + 0.05, "short-50ms", &c);
	}
	for (int i = 0; i < 200; i++) {
		double len = 0.001 + urand(&seed) * fmin(1.5, hi - lo - 0.001);
		double a = lo + urand(&seed) * (hi - lo - len);
		check_window(&t, &f, maps, a, a + len, "random", &c);
	}
	cr_assert_eq(c.fails, 0, "%d of %d window checks outside their bound", c.fails, c.n);
	cr_log_info("%s: %d windows, worst |error|/bound %.3f; against the exact integral over the window "
		    "itself (placement included) worst %.4f J; largest knot shift %.4f s", profile, c.n,
		    c.worst_ratio, c.worst_plain_j, fmax(maps[0].max_shift, maps[1].max_shift));

	if (constant) {
		/*
		 * A constant 300 W (device 0) or 330 W (device 1): the chords are
		 * exact, so a window is P times its mapped length, to the counter's mJ.
		 */
		double e[8];
		int64_t ta = (int64_t)(lo * 1e9), tb = (int64_t)((lo + 1.0) * 1e9);
		telemetry_window(&t, ta, tb, e);
		for (int s = 0; s < t.nsrcs; s++) {
			double p = 300.0 * (1 + 0.1 * t.srcs[s].info->index);
			size_t ia, ib;
			double len = knot_map_tau(&maps[s], tb, &ib) - knot_map_tau(&maps[s], ta, &ia);
			cr_expect(fabs(e[s] - p * len) <= 1e-3 + 1e-9 * p,
				  "constant power: %.6f J, expected %.1f W x %.6f s = %.6f J", e[s], p, len, p * len);
		}
	}

	/* conservation: 37 random pieces of [lo, hi] sum to the whole */
	{
		double cuts[38], whole[8], sum[8] = {0};
		int64_t ta = (int64_t)(lo * 1e9), tb = (int64_t)(hi * 1e9);
		cuts[0] = (double)ta;
		cuts[37] = (double)tb;
		for (int i = 1; i < 37; i++)
			cuts[i] = (double)ta + urand(&seed) * (double)(tb - ta);
		qsort(cuts, 38, sizeof(double), cmp_double);
		telemetry_window(&t, ta, tb, whole);
		for (int i = 0; i < 37; i++) {
			double e[8];
			telemetry_window(&t, (int64_t)cuts[i], (int64_t)cuts[i + 1], e);
			for (int s = 0; s < t.nsrcs; s++)
				sum[s] += e[s];
		}
		for (int s = 0; s < t.nsrcs; s++)
			cr_expect(fabs(sum[s] - whole[s]) <= 1e-9 * fabs(whole[s]),
				  "tiles sum %.12f J, whole %.12f J", sum[s], whole[s]);
	}
	for (int s = 0; s < t.nsrcs; s++)
		free(maps[s].u);
	telemetry_release(&t);
	dlclose(f.dl);
}

Test(nvidia, energy_matches_exact_integral, .timeout = 60)
{
	run_accuracy("default", 3.0, 0);
}

Test(nvidia, constant_power_has_near_zero_error, .timeout = 60)
{
	run_accuracy("constant", 2.0, 1);
}

Test(nvidia, probe_fills_source_info)
{
	struct telemetry t;
	struct backend_instance *in;
	use_fake("2", NULL);
	init_nvidia(&t, NULL);
	in = find_inst(&t, "nvidia");
	cr_assert(in && in->present, "reason: %s", in ? in->reason : "?");
	cr_assert_eq(in->nsources, 2);
	for (int i = 0; i < 2; i++) {
		const struct source_info *s = &in->sources[i];
		char name[32];
		snprintf(name, sizeof(name), "nvidia:%d", i);
		cr_expect_str_eq(s->name, name);
		cr_expect_str_eq(s->backend, "nvidia");
		cr_expect_eq(s->kind, SOURCE_GPU);
		cr_expect_eq(s->scope, SCOPE_ACCELERATOR);
		cr_expect_eq(s->caps, CAP_ENERGY | CAP_POWER | CAP_TEMPERATURE | CAP_MEMORY);
		cr_expect_eq(s->power_kind, POWER_INSTANT);
		cr_expect_str_eq(s->model, "Fake NVIDIA H200");
		cr_expect(!strncmp(s->uuid, "GPU-fa4e", 8), "uuid %s", s->uuid);
		cr_expect_str_eq(s->pci_bus_id, i ? "00000000:28:00.0" : "00000000:18:00.0");
		cr_expect(strstr(s->driver, "999.99-fake") != NULL, "driver %s", s->driver);
		cr_expect_float_eq(s->power_limit_w, 700.0, 1e-9);
		cr_expect_float_eq(s->mem_total_bytes, (double)(141ULL << 30), 1);
		cr_expect_eq(s->energy_wrap_j, 0);
		cr_expect_float_eq(s->counter_update_s, 0.1, 1e-12);
		cr_expect_str_eq(s->notes, "");
	}
	telemetry_release(&t);
}

Test(nvidia, sample_fields_are_valid_and_in_units)
{
	struct telemetry t;
	char err[IPW_ERRLEN];
	use_fake("1", "constant");
	init_nvidia(&t, NULL);
	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0);
	clock_sleep_ns(150 * NS_PER_MS);
	telemetry_stop(&t);
	cr_assert_gt(t.srcs[0].nsamples, 0);
	{
		/* the first sample reads everything; later ones temperature and memory every 10th */
		const struct sample *s = &t.srcs[0].tl.samples[0];
		cr_expect_eq(s->valid, SAMPLE_ENERGY | SAMPLE_POWER | SAMPLE_TEMP | SAMPLE_MEM_USED |
					       SAMPLE_MEM_TOTAL);
		for (size_t i = 1; i < t.srcs[0].tl.n && i < 10; i++)
			cr_expect_eq(t.srcs[0].tl.samples[i].valid, SAMPLE_ENERGY | SAMPLE_POWER,
				     "sample %zu valid %#x", i, t.srcs[0].tl.samples[i].valid);
		cr_expect_float_eq(s->power_w, 300.0, 1e-3, "power %f W (mW -> W)", s->power_w);
		cr_expect_float_eq(s->temp_c, 55.0, 1e-9);
		cr_expect_float_eq(s->mem_used_bytes, (double)(10ULL << 30), 1);
		/* counter offset 1e6 mJ = 1000 J for device 0, plus < 1 s at 300 W */
		cr_expect(s->energy_j >= 1000.0 && s->energy_j < 1300.0, "energy %f J (mJ -> J)", s->energy_j);
	}
	telemetry_release(&t);
}

Test(nvidia, missing_library_is_absent_with_reason)
{
	struct telemetry t;
	struct backend_instance *in;
	setenv("IPW_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", 1);
	init_nvidia(&t, NULL);
	in = find_inst(&t, "nvidia");
	cr_assert(in && !in->present);
	cr_expect(strstr(in->reason, "/nonexistent/libnvidia-ml.so.1 not found (dlopen: ") != NULL,
		  "reason: %s", in->reason);
	cr_expect(strstr(in->reason, "install the NVIDIA driver, or set IPW_NVML_LIBRARY") != NULL,
		  "reason: %s", in->reason);
	cr_expect_eq(t.nsrcs, 0);
	telemetry_release(&t);
}

Test(nvidia, default_library_name_in_reason)
{
	struct telemetry t;
	struct backend_instance *in;
	unsetenv("IPW_NVML_LIBRARY");
	init_nvidia(&t, NULL);
	in = find_inst(&t, "nvidia");
	cr_assert(in);
	if (in->present) /* a real driver on this machine */
		cr_skip_test("a real NVML is installed here");
	cr_expect(strstr(in->reason, "libnvidia-ml.so.1 not found (dlopen: ") != NULL, "reason: %s",
		  in->reason);
	telemetry_release(&t);
}

static void expect_absent(const char *fail, const char *ndev, const char *want1, const char *want2)
{
	struct telemetry t;
	struct backend_instance *in;
	use_fake(ndev, NULL);
	if (fail)
		setenv("FAKE_NVML_FAIL", fail, 1);
	init_nvidia(&t, NULL);
	in = find_inst(&t, "nvidia");
	cr_assert(in && !in->present, "expected absent");
	cr_expect(strstr(in->reason, want1) != NULL, "reason: %s", in->reason);
	if (want2)
		cr_expect(strstr(in->reason, want2) != NULL, "reason: %s", in->reason);
	telemetry_release(&t);
}

Test(nvidia, init_failure_gives_nvml_error_string)
{
	expect_absent("init", "2", "nvmlInit failed: ", "Driver Not Loaded");
}

Test(nvidia, count_failure_is_absent)
{
	expect_absent("count", "2", "nvmlDeviceGetCount failed: ", "Unknown Error");
}

Test(nvidia, zero_devices_is_absent)
{
	expect_absent(NULL, "0", "no NVIDIA GPU", NULL);
}

Test(nvidia, not_nvml_library_is_absent)
{
	/* a shared object without NVML's symbols (the AMD fake) */
	struct telemetry t;
	struct backend_instance *in;
	const char *b = getenv("IPW_BUILD");
	char *p = xasprintf("%s/fakes/libfake_amdsmi.so", b ? b : "build");
	setenv("IPW_NVML_LIBRARY", p, 1);
	free(p);
	init_nvidia(&t, NULL);
	in = find_inst(&t, "nvidia");
	cr_assert(in && !in->present);
	cr_expect(strstr(in->reason, "has no nvmlInit_v2") != NULL, "reason: %s", in->reason);
	telemetry_release(&t);
}

Test(nvidia, no_field_186_falls_back_to_average_power)
{
	struct telemetry t;
	struct backend_instance *in;
	use_fake("1", NULL);
	setenv("FAKE_NVML_FAIL", "field186", 1);
	init_nvidia(&t, NULL);
	in = find_inst(&t, "nvidia");
	cr_assert(in && in->present);
	cr_expect_eq(in->sources[0].power_kind, POWER_AVERAGE);
	cr_expect(in->sources[0].caps & CAP_POWER);
	cr_expect(strstr(in->sources[0].notes, "1 s average") != NULL, "notes: %s", in->sources[0].notes);
	/* energy still comes from the counter */
	cr_expect_eq(t.srcs[0].tl.mode, TL_COUNTER);
	telemetry_release(&t);
}

Test(nvidia, no_counter_integrates_instant_power)
{
	struct telemetry t;
	struct backend_instance *in;
	use_fake("1", NULL);
	setenv("FAKE_NVML_FAIL", "energy", 1);
	init_nvidia(&t, NULL);
	in = find_inst(&t, "nvidia");
	cr_assert(in && in->present);
	cr_expect_eq(in->sources[0].caps & CAP_ENERGY, 0);
	cr_expect(strstr(in->sources[0].notes, "no energy counter (Not Supported)") != NULL, "notes: %s",
		  in->sources[0].notes);
	cr_expect_eq(t.srcs[0].tl.mode, TL_POWER);
	telemetry_release(&t);
}

/* Names of the selected sources, comma-joined. */
static void selected_names(struct telemetry *t, char *out, size_t n)
{
	out[0] = 0;
	for (int s = 0; s < t->nsrcs; s++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s", s ? "," : "", t->srcs[s].info->name);
}

Test(nvidia, select_by_index_and_uuid)
{
	struct telemetry t;
	char names[256];
	use_fake("3", NULL);
	init_nvidia(&t, "1");
	selected_names(&t, names, sizeof(names));
	cr_expect_str_eq(names, "nvidia:1");
	telemetry_release(&t);

	init_nvidia(&t, "GPU-fa4e0002-0000-4000-8000-000000abc002,0");
	selected_names(&t, names, sizeof(names));
	cr_expect_str_eq(names, "nvidia:0,nvidia:2");
	telemetry_release(&t);

	init_nvidia(&t, "GPU-fa4e0001"); /* a UUID prefix */
	selected_names(&t, names, sizeof(names));
	cr_expect_str_eq(names, "nvidia:1");
	telemetry_release(&t);

	init_nvidia(&t, "28:00.0"); /* a PCI bus id */
	selected_names(&t, names, sizeof(names));
	cr_expect_str_eq(names, "nvidia:1");
	telemetry_release(&t);
}

Test(nvidia, cuda_visible_devices_selects)
{
	struct telemetry t;
	char names[256];
	use_fake("3", NULL);
	setenv("CUDA_VISIBLE_DEVICES", "2,0", 1);
	init_nvidia(&t, NULL);
	selected_names(&t, names, sizeof(names));
	cr_expect_str_eq(names, "nvidia:0,nvidia:2");
	telemetry_release(&t);

	setenv("CUDA_VISIBLE_DEVICES", "GPU-fa4e0001-0000-4000-8000-000000abc001", 1);
	init_nvidia(&t, NULL);
	selected_names(&t, names, sizeof(names));
	cr_expect_str_eq(names, "nvidia:1");
	telemetry_release(&t);
}

Test(nvidia, unknown_device_token_is_an_error)
{
	struct telemetry t;
	struct telemetry_opts o = {0};
	struct telemetry_select sel = {.backends = "nvidia", .devices = "0,7"};
	char err[IPW_ERRLEN] = "";
	use_fake("2", NULL);
	cr_assert_eq(telemetry_init(&t, &o, &sel, err, sizeof(err)), -1);
	cr_expect(strstr(err, "'7'") != NULL, "err: %s", err);
}

Test(nvidia, only_selected_sources_are_read)
{
	struct telemetry t;
	struct backend_instance *in;
	struct sample out[3];
	char err[IPW_ERRLEN];
	use_fake("3", NULL);
	init_nvidia(&t, "1");
	in = find_inst(&t, "nvidia");
	memset(out, 0, sizeof(out));
	cr_assert_eq(in->ops->read(in, out, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(out[0].valid, 0);
	cr_expect_neq(out[1].valid & SAMPLE_ENERGY, 0);
	cr_expect_eq(out[2].valid, 0);
	cr_expect_geq(out[1].read_ns, 4 * NS_PER_MS);
	telemetry_release(&t);
}
