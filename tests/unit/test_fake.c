/*
 * test_fake.c - the fake back-end driven through the telemetry session
 * (telemetry_init/start/stop/window): window energies against the profile's
 * exact integral, conservation, scope sums, idle baseline, device selection,
 * trace replay and wraparound, and the probe's error messages.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "telemetry_backend.h"
#include "telemetry/fake.h"

#define MS 1000000LL

static char err[IPW_ERRLEN];

static struct backend_instance *fake_inst(struct telemetry *t)
{
	for (int b = 0; b < t->ninsts; b++)
		if (t->insts[b].ops == &telemetry_fake)
			return &t->insts[b];
	return NULL;
}

static void use_profile(const char *profile)
{
	unsetenv("IPW_FAKE_TRACE");
	setenv("IPW_FAKE_PROFILE", profile, 1);
}

static void use_trace(const char *path)
{
	unsetenv("IPW_FAKE_PROFILE");
	setenv("IPW_FAKE_TRACE", path, 1);
}

/* Probes only the fake back-end (a real GPU or RAPL on the test machine must not interfere). */
static void init(struct telemetry *t, const char *devices, int host)
{
	struct telemetry_select sel = {.backends = "fake", .devices = devices, .host = host};
	struct telemetry_opts opts = {0};
	cr_assert_eq(telemetry_init(t, &opts, &sel, err, sizeof(err)), 0, "telemetry_init: %s", err);
	cr_assert(fake_inst(t)->present, "fake absent: %s", fake_inst(t)->reason);
}

static void run(struct telemetry *t, double seconds)
{
	cr_assert_eq(telemetry_start(t, NULL, NULL, err, sizeof(err)), 0, "telemetry_start: %s", err);
	clock_sleep_ns((int64_t)(seconds * 1e9));
	telemetry_stop(t);
	cr_assert_eq(t->sampler_errors, 0, "sampler errors: %s", t->last_error);
}

static int src_index(struct telemetry *t, const char *name)
{
	for (int s = 0; s < t->nsrcs; s++)
		if (!strcmp(t->srcs[s].info->name, name))
			return s;
	cr_assert_fail("no selected source %s", name);
	return -1;
}

static double exact(struct telemetry *t, int s, int64_t a, int64_t b)
{
	struct backend_instance *in = fake_inst(t);
	return fake_exact_energy_j(in, (int)(t->srcs[s].info - in->sources), a, b);
}

/*
 * Where the timeline put each counter step, against where the fake counter
 * really stepped. A read at r shows the integral up to the last update instant
 * u = origin + floor((r - origin) / step) * step; the timeline's knot for that
 * change sits at kt. The offsets d = kt - u and the largest gap H between the
 * update instants of consecutive knots bound the timeline's error (see
 * err_bound). Returns the number of knots matched (must be all of them).
 */
struct offsets {
	double dmin, dmax, dabs, hmax; /* seconds */
	int64_t *u;                    /* update instant of each knot */
	size_t n;
};

static struct offsets knot_offsets(struct telemetry *t, int s, int64_t step_ns)
{
	const struct timeline *tl = &t->srcs[s].tl;
	int64_t origin = fake_origin_ns(fake_inst(t));
	struct offsets o = {INFINITY, -INFINITY, 0, 0, NULL, 0};
	double prev = NAN;
	o.u = calloc(tl->nk + 1, sizeof(int64_t));
	for (size_t i = 0; i < tl->n; i++) {
		const struct sample *sm = &tl->samples[i];
		if (!(sm->valid & SAMPLE_ENERGY))
			continue;
		if (!isnan(prev) && sm->energy_j != prev && o.n < tl->nk) {
			int64_t u = origin + (sm->t_ns - origin) / step_ns * step_ns;
			double d = (double)(tl->knots[o.n].t - u) / 1e9;
			o.dmin = fmin(o.dmin, d);
			o.dmax = fmax(o.dmax, d);
			o.dabs = fmax(o.dabs, fabs(d));
			if (o.n)
				o.hmax = fmax(o.hmax, (double)(u - o.u[o.n - 1]) / 1e9);
			o.u[o.n++] = u;
		}
		prev = sm->energy_j;
	}
	cr_assert_eq(o.n, tl->nk, "matched %zu of %zu knots", o.n, tl->nk);
	return o;
}

/*
 * Error bound for E(t) at one instant inside the coverage: the timeline is the
 * piecewise-linear interpolation through the exact values at the update
 * instants, with time displaced by at most dabs. Linear interpolation of an
 * integral of power in [pmin, pmax] over a gap H errs by at most
 * (pmax - pmin) H / 4, and the displacement costs at most pmax dabs.
 */
static double err_bound(const struct offsets *o, double pmin, double pmax)
{
	return pmax * o->dabs + (pmax - pmin) * o->hmax / 4;
}

/* The longest gap between two reads of a source, in seconds. */
static double max_gap(struct telemetry *t, int s)
{
	const struct timeline *tl = &t->srcs[s].tl;
	double g = 0;
	for (size_t i = 1; i < tl->n; i++)
		g = fmax(g, (double)(tl->samples[i].t_ns - tl->samples[i - 1].t_ns) / 1e9);
	return g;
}

/* The largest spread of knot offsets over the selected sources (all stepping every step_ns). */
static double offset_spread(struct telemetry *t, int64_t step_ns)
{
	double spread = 0;
	for (int s = 0; s < t->nsrcs; s++) {
		struct offsets o = knot_offsets(t, s, step_ns);
		spread = fmax(spread, o.dmax - o.dmin);
		free(o.u);
	}
	return spread;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static double rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

Test(fake, absent_without_configuration)
{
	struct telemetry t;
	struct telemetry_select sel = {.host = 1};
	unsetenv("IPW_FAKE_PROFILE");
	unsetenv("IPW_FAKE_TRACE");
	cr_assert_eq(telemetry_init(&t, NULL, &sel, err, sizeof(err)), 0, "%s", err);
	cr_assert_not(fake_inst(&t)->present);
	cr_assert_str_eq(fake_inst(&t)->reason,
			 "no trace or profile given (set IPW_FAKE_TRACE=FILE or IPW_FAKE_PROFILE=SPEC)");
	telemetry_release(&t);
}

Test(fake, profile_errors_are_explained)
{
	static const struct {
		const char *spec, *needle;
	} cases[] = {
		{"gpu0=squar:1:2:3", "unknown waveform 'squar'"},
		{"gpu0=square:100:400", "square:LO_W:HI_W:PERIOD_S"},
		{"gpu0=const:abc", "'abc' is not a number"},
		{"gpu0=const:-5", "power must stay >= 0"},
		{"gpu0=const:1;gpu0=const:2", "defined twice"},
		{"gpu0=const:1;bogus_key", "is not NAME=WAVEFORM"},
		{"gpu0=const:1;gpu9.temp=50", "names no source 'gpu9'"},
		{"gpu0=const:1;gpu0.colour=red", "unknown setting 'colour'"},
		{"step_ms=100", "no source defined"},
		{"gpu0=seq:100:1:200:2", "seq needs"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct telemetry t;
		struct telemetry_select sel = {.backends = "fake", .host = 1};
		use_profile(cases[i].spec);
		cr_assert_eq(telemetry_init(&t, NULL, &sel, err, sizeof(err)), 0);
		cr_assert_not(fake_inst(&t)->present, "'%s' accepted", cases[i].spec);
		cr_assert(strstr(fake_inst(&t)->reason, cases[i].needle), "'%s': reason '%s' lacks '%s'",
			  cases[i].spec, fake_inst(&t)->reason, cases[i].needle);
		telemetry_release(&t);
	}
}

Test(fake, sources_and_capabilities)
{
	struct telemetry t;
	struct backend_instance *in;
	use_profile("gpu0=const:200,gpu1=square:100:400:0.5;host=const:50;step_ms=100;temp=61;mem=2Gi;"
		    "mem_total=80Gi;limit=700;gpu1.power=average");
	init(&t, NULL, 1);
	in = fake_inst(&t);
	cr_assert_eq(in->nsources, 3);
	cr_assert_str_eq(in->sources[0].name, "fake:gpu0");
	cr_assert_eq(in->sources[0].kind, SOURCE_GPU);
	cr_assert_eq(in->sources[0].scope, SCOPE_ACCELERATOR);
	cr_assert_eq(in->sources[0].caps, CAP_ENERGY | CAP_POWER | CAP_TEMPERATURE | CAP_MEMORY);
	cr_assert_eq(in->sources[0].power_kind, POWER_INSTANT);
	cr_assert(!strncmp(in->sources[0].uuid, "GPU-fake-0000-", 14), "uuid %s", in->sources[0].uuid);
	cr_assert_str_neq(in->sources[0].uuid, in->sources[1].uuid);
	cr_assert_str_neq(in->sources[0].pci_bus_id, in->sources[1].pci_bus_id);
	cr_assert_float_eq(in->sources[0].power_limit_w, 700, 1e-9);
	cr_assert_float_eq(in->sources[0].mem_total_bytes, 80.0 * 1073741824.0, 1);
	cr_assert_float_eq(in->sources[0].counter_update_s, 0.1, 1e-12);
	cr_assert_eq(in->sources[1].power_kind, POWER_AVERAGE);
	cr_assert_str_eq(in->sources[2].name, "fake:host");
	cr_assert_eq(in->sources[2].kind, SOURCE_CPU_PACKAGE);
	cr_assert_eq(in->sources[2].scope, SCOPE_HOST);
	cr_assert_eq(in->sources[2].caps, CAP_ENERGY, "host: counter only (temp/mem/limit are GPU settings)");
	cr_assert(isnan(in->sources[2].power_limit_w));
	cr_assert_str_eq(in->sources[2].uuid, "");
	telemetry_release(&t);
}

/* Many windows of a varying profile against the exact integral, within the stated bound. */
Test(fake, windows_match_exact_integral)
{
	struct telemetry t;
	static const struct {
		const char *name;
		double pmin, pmax;
	} src[] = {{"fake:gpu0", 100, 400}, {"fake:gpu1", 100, 500}, {"fake:gpu2", 50, 350}};
	use_profile("gpu0=square:100:400:0.5;gpu1=sine:300:200:0.7;gpu2=ramp:50:350:1.2;step_ms=100");
	init(&t, NULL, 1);
	run(&t, 2.4);
	for (size_t k = 0; k < 3; k++) {
		int s = src_index(&t, src[k].name);
		struct offsets o = knot_offsets(&t, s, 100 * MS);
		double bound = 2 * err_bound(&o, src[k].pmin, src[k].pmax), worst = 0;
		int64_t a, b;
		cr_assert_eq(timeline_span(&t.srcs[s].tl, &a, &b), 0);
		cr_assert_gt(t.srcs[s].tl.nk, 15, "%s: only %zu counter steps seen", src[k].name, t.srcs[s].tl.nk);
		/* at its knots the timeline holds the exact integral up to each update instant */
		for (size_t j = 1; j < o.n; j++) {
			double tl_e = t.srcs[s].tl.knots[j].e - t.srcs[s].tl.knots[0].e;
			double ex = exact(&t, s, o.u[0], o.u[j]);
			cr_assert(fabs(tl_e - ex) <= 1e-9 * ex + 1e-9, "%s knot %zu: %.12g J vs exact %.12g J",
				  src[k].name, j, tl_e, ex);
		}
		for (int w = 0; w < 300; w++) {
			int64_t t0 = a + (int64_t)(rnd() * (double)(b - a)), t1 = a + (int64_t)(rnd() * (double)(b - a));
			double *e = calloc((size_t)t.nsrcs, sizeof(double)), ex;
			if (t1 < t0) {
				int64_t x = t0;
				t0 = t1;
				t1 = x;
			}
			telemetry_window(&t, t0, t1, e);
			ex = exact(&t, s, t0, t1);
			cr_assert(isfinite(e[s]), "window inside coverage gave NAN");
			cr_assert(fabs(e[s] - ex) <= bound + 1e-9 * ex,
				  "%s window %d (%.3f s): %.6f J vs exact %.6f J, bound %.6f J (dabs %.4f s, H %.3f s)",
				  src[k].name, w, (double)(t1 - t0) / 1e9, e[s], ex, bound, o.dabs, o.hmax);
			worst = fmax(worst, fabs(e[s] - ex));
			free(e);
		}
		cr_log_info("%s: worst window error %.4f J, bound %.4f J", src[k].name, worst, bound);
		free(o.u);
	}
	telemetry_release(&t);
}

/*
 * Constant power: the timeline is exact up to how unevenly its knots sit
 * relative to the real updates (dmax - dmin, normally a few microseconds of
 * scheduling jitter; zero when the sampler keeps its phase).
 */
Test(fake, constant_power_is_essentially_exact)
{
	struct telemetry t;
	struct offsets o;
	int64_t a, b;
	int s;
	use_profile("gpu0=const:200");
	init(&t, NULL, 1);
	run(&t, 1.6);
	s = src_index(&t, "fake:gpu0");
	o = knot_offsets(&t, s, 100 * MS);
	cr_assert_eq(timeline_span(&t.srcs[s].tl, &a, &b), 0);
	for (int w = 0; w < 200; w++) {
		int64_t t0 = a + (int64_t)(rnd() * (double)(b - a) / 2), t1 = t0 + (int64_t)(rnd() * (double)(b - t0));
		double e[1], ex = 200.0 * (double)(t1 - t0) / 1e9;
		telemetry_window(&t, t0, t1, e);
		cr_assert(fabs(e[0] - ex) <= 200 * (o.dmax - o.dmin) + 1e-9 * ex + 1e-9,
			  "window %d: %.9f J vs %.9f J; knot offset spread %.6f s", w, e[0], ex, o.dmax - o.dmin);
		cr_assert(fabs(exact(&t, s, t0, t1) - ex) <= 1e-9 * ex + 1e-9, "fake_exact_energy_j is not P x dt");
	}
	free(o.u);
	telemetry_release(&t);
}

Test(fake, tiling_windows_conserve_energy)
{
	struct telemetry t;
	int64_t a = INT64_MIN, b = INT64_MAX, cuts[101];
	double whole[2], sum[2] = {0, 0};
	use_profile("gpu0=square:100:400:0.3;host=sine:60:30:0.4;step_ms=50");
	init(&t, NULL, 1);
	run(&t, 1.5);
	cr_assert_eq(t.nsrcs, 2);
	for (int s = 0; s < 2; s++) {
		int64_t x, y;
		cr_assert_eq(timeline_span(&t.srcs[s].tl, &x, &y), 0);
		a = x > a ? x : a;
		b = y < b ? y : b;
	}
	cuts[0] = a;
	cuts[100] = b;
	for (int i = 1; i < 100; i++)
		cuts[i] = a + (b - a) * i / 100 + (int64_t)(rnd() * 1e6);
	telemetry_window(&t, a, b, whole);
	for (int i = 0; i < 100; i++) {
		double e[2];
		telemetry_window(&t, cuts[i], cuts[i + 1], e);
		sum[0] += e[0];
		sum[1] += e[1];
	}
	for (int s = 0; s < 2; s++)
		cr_assert(fabs(sum[s] - whole[s]) <= 1e-12 * whole[s], "source %d: tiles %.17g J, span %.17g J", s,
			  sum[s], whole[s]);
	telemetry_release(&t);
}

Test(fake, window_summary_scopes)
{
	struct telemetry t;
	struct window_energy w;
	double e[5], acc = 0, host = 0;
	int64_t a = INT64_MIN, b = INT64_MAX;
	use_profile("gpu0=const:200;gpu1=const:100;host=const:50;dram0=const:10;core0=const:5;temp=70;mem=1Gi;"
		    "gpu1.temp=75");
	init(&t, NULL, 1);
	run(&t, 1.2);
	cr_assert_eq(t.nsrcs, 5);
	for (int s = 0; s < 5; s++) {
		int64_t x, y;
		cr_assert_eq(timeline_span(&t.srcs[s].tl, &x, &y), 0);
		a = x > a ? x : a;
		b = y < b ? y : b;
	}
	cr_assert_lt(a, b);
	telemetry_window(&t, a, b, e);
	for (int s = 0; s < 5; s++) {
		if (t.srcs[s].info->scope == SCOPE_ACCELERATOR)
			acc += e[s];
		else if (t.srcs[s].info->scope == SCOPE_HOST)
			host += e[s];
	}
	telemetry_window_summary(&t, a, b, &w);
	cr_assert_eq(w.accel_n, 2);
	cr_assert_eq(w.host_n, 2, "host + dram0 are host scope; core0 is inside the package, not summed");
	cr_assert_float_eq(w.accel_j, acc, 1e-9);
	cr_assert_float_eq(w.host_j, host, 1e-9);
	cr_assert_float_eq(w.total_j, acc + host, 1e-9);
	/* constant power: the sums are the powers times the window (see constant_power_is_essentially_exact) */
	{
		double len = (double)(b - a) / 1e9, spread = offset_spread(&t, 100 * MS);
		cr_assert(fabs(w.accel_mean_w - 300) <= 300 * spread / len + 1e-9,
			  "accelerator mean %.6f W, expected 300 (knot spread %.6f s)", w.accel_mean_w, spread);
		cr_assert(fabs(w.host_j / len - 60) <= 60 * spread / len + 1e-9, "host mean %.6f W, expected 60",
			  w.host_j / len);
	}
	cr_assert_float_eq(w.accel_peak_w, 200, 1e-9);
	cr_assert_float_eq(w.temp_max_c, 75, 1e-9);
	cr_assert_float_eq(w.mem_max_bytes, 2.0 * 1073741824.0, 1, "memory summed over the two GPUs");
	telemetry_release(&t);

	/* without host sources the host sum is unknown (NAN), never 0 */
	init(&t, NULL, 0);
	run(&t, 0.6);
	cr_assert_eq(t.nsrcs, 3, "gpu0, gpu1, core0");
	{
		int64_t x, y;
		cr_assert_eq(timeline_span(&t.srcs[0].tl, &x, &y), 0);
		telemetry_window_summary(&t, x, y, &w);
	}
	cr_assert_eq(w.host_n, 0);
	cr_assert(isnan(w.host_j), "host_j = %g without host sources", w.host_j);
	cr_assert(isnan(w.total_j) || fabs(w.total_j - w.accel_j) < 1e-9);
	telemetry_release(&t);
}

Test(fake, mean_power_is_the_idle_baseline)
{
	struct telemetry t;
	double p[2];
	int64_t a, b, x, y;
	use_profile("gpu0=const:85;host=const:20;step_ms=100");
	init(&t, NULL, 1);
	run(&t, 1.5);
	cr_assert_eq(timeline_span(&t.srcs[0].tl, &a, &b), 0);
	cr_assert_eq(timeline_span(&t.srcs[1].tl, &x, &y), 0);
	a = x > a ? x : a;
	b = y < b ? y : b;
	telemetry_mean_power(&t, a, b, p);
	{
		/* exact but for the spread of the knots' offsets (scheduling jitter, microseconds) */
		double tol = offset_spread(&t, 100 * MS) / ((double)(b - a) / 1e9) + 1e-12;
		cr_assert(fabs(p[0] - 85) <= 85 * tol, "gpu0 idle %.6f W, expected 85", p[0]);
		cr_assert(fabs(p[1] - 20) <= 20 * tol, "host idle %.6f W, expected 20", p[1]);
	}
	telemetry_mean_power(&t, a - NS_PER_S, b, p);
	cr_assert(isnan(p[0]), "a window before coverage gives NAN, not a number");
	telemetry_release(&t);
}

static const char *four_gpus = "gpu0=const:100;gpu1=const:110;gpu2=const:120;gpu3=const:130;host=const:10";

static void expect_selected(struct telemetry *t, const char *names)
{
	char got[512] = "";
	for (int s = 0; s < t->nsrcs; s++) {
		strcat(got, s ? "," : "");
		strcat(got, t->srcs[s].info->name);
	}
	cr_assert_str_eq(got, names);
}

Test(fake, device_selection_by_index_uuid_and_pci)
{
	struct telemetry t;
	struct telemetry_select sel = {.backends = "fake", .devices = "7", .host = 1};
	use_profile(four_gpus);
	init(&t, "1,3", 1);
	expect_selected(&t, "fake:gpu1,fake:gpu3,fake:host");
	telemetry_release(&t);
	init(&t, "GPU-fake-0000-0000-0000-000000000002", 1);
	expect_selected(&t, "fake:gpu2,fake:host");
	telemetry_release(&t);
	init(&t, "12:00.0", 0);
	expect_selected(&t, "fake:gpu2");
	telemetry_release(&t);
	init(&t, NULL, 0);
	expect_selected(&t, "fake:gpu0,fake:gpu1,fake:gpu2,fake:gpu3");
	telemetry_release(&t);
	cr_assert_eq(telemetry_init(&t, NULL, &sel, err, sizeof(err)), -1, "device 7 of 4 accepted");
	cr_assert(strstr(err, "'7'"), "error '%s' does not name the device", err);
	/* ordinals follow PCI bus order, as CUDA_DEVICE_ORDER=PCI_BUS_ID does */
	use_profile("gpu0=const:1;gpu1=const:2;gpu0.pci=00000000:40:00.0;gpu1.pci=00000000:08:00.0");
	init(&t, "0", 1);
	expect_selected(&t, "fake:gpu1");
	telemetry_release(&t);
}

/* The trace line in force at t_ns: the last with t_s <= elapsed since probe. */
static int line_at(const double *ts, int n, double el)
{
	int k = -1;
	for (int i = 0; i < n && ts[i] <= el; i++)
		k = i;
	return k;
}

static char *trace_path(const char *name)
{
	/* tests run from the source tree's root (make test); __FILE__ is tests/unit/test_fake.c */
	const char *f = __FILE__, *slash = strrchr(f, '/');
	char *p = malloc(strlen(f) + strlen(name) + 32);
	sprintf(p, "%.*s/../data/traces/%s", slash ? (int)(slash - f) : 1, slash ? f : ".", name);
	return p;
}

Test(fake, trace_replay)
{
	struct telemetry t;
	char *path = trace_path("step.trace");
	double ts[41], e_exp[41];
	int64_t origin, a, b;
	int s, last_seen = -1;
	struct backend_instance *in;
	for (int i = 0; i < 41; i++) {
		ts[i] = i * 0.05;
		e_exp[i] = 100 * fmin(ts[i], 0.5) + 300 * fmax(ts[i] - 0.5, 0);
	}
	use_trace(path);
	init(&t, NULL, 1);
	in = fake_inst(&t);
	cr_assert_eq(in->nsources, 2);
	cr_assert_str_eq(in->sources[0].name, "fake:gpu0");
	cr_assert_eq(in->sources[0].caps, CAP_ENERGY | CAP_POWER | CAP_TEMPERATURE | CAP_MEMORY);
	cr_assert_float_eq(in->sources[0].counter_update_s, 0.05, 1e-12);
	cr_assert_float_eq(in->sources[0].power_limit_w, 700, 1e-9);
	cr_assert_eq(in->sources[1].caps, CAP_ENERGY);
	origin = fake_origin_ns(in);
	run(&t, 2.3); /* past the last line (2.0 s): values must hold */
	s = src_index(&t, "fake:gpu0");
	for (size_t i = 0; i < t.srcs[s].tl.n; i++) {
		const struct sample *sm = &t.srcs[s].tl.samples[i];
		int k = line_at(ts, 41, (double)(sm->t_ns - origin) / 1e9);
		cr_assert_geq(k, 0);
		cr_assert_float_eq(sm->energy_j, e_exp[k], 1e-9, "sample %zu: energy %g, line %d has %g", i,
				   sm->energy_j, k, e_exp[k]);
		cr_assert_float_eq(sm->power_w, ts[k] < 0.5 ? 100 : 300, 1e-9);
		cr_assert_float_eq(sm->temp_c, ts[k] < 0.5 ? 40 : 65, 1e-9);
		cr_assert_eq(sm->valid, SAMPLE_ENERGY | SAMPLE_POWER | SAMPLE_TEMP | SAMPLE_MEM_USED);
		last_seen = k > last_seen ? k : last_seen;
	}
	cr_assert_eq(last_seen, 40, "the replay reached line %d of 40", last_seen);
	/* energy over the covered span against the trace's own account */
	cr_assert_eq(timeline_span(&t.srcs[s].tl, &a, &b), 0);
	{
		double e[2], ex = exact(&t, s, a, b);
		telemetry_window(&t, a, b, e);
		/*
		 * The timeline interpolates through the lines it saw (power 100..300 W,
		 * lines 50 ms apart), each displaced by at most one read gap G: per end
		 * 300 G + (300 - 100) (G + 0.05) / 4 (see err_bound).
		 */
		double g = max_gap(&t, s), bound = 2 * (300 * g + 200 * (g + 0.05) / 4);
		cr_assert(fabs(e[s] - ex) <= bound, "trace energy %.3f J vs %.3f J", e[s], ex);
		cr_assert_gt(ex, 400, "the span covers most of the trace (%.1f J)", ex);
	}
	telemetry_release(&t);
	free(path);
}

Test(fake, trace_wraps_and_missing_cells)
{
	struct telemetry t;
	char *path = trace_path("wrap.trace");
	int64_t a, b;
	double e[1];
	use_trace(path);
	init(&t, NULL, 1);
	cr_assert_float_eq(t.srcs[0].info->energy_wrap_j, 100, 1e-12);
	run(&t, 2.2);
	cr_assert_geq(t.srcs[0].tl.wraps, 4, "wraps seen: %lu", t.srcs[0].tl.wraps);
	cr_assert_eq(t.srcs[0].tl.resets, 0);
	cr_assert_eq(timeline_span(&t.srcs[0].tl, &a, &b), 0);
	telemetry_window(&t, a, b, e);
	cr_assert(fabs(e[0] - exact(&t, 0, a, b)) <= 2 * 250 * fmax(max_gap(&t, 0), 0.1), "%.3f J vs %.3f J", e[0],
		  exact(&t, 0, a, b));
	cr_assert(fabs(exact(&t, 0, fake_origin_ns(fake_inst(&t)), fake_origin_ns(fake_inst(&t)) + 2 * NS_PER_S) -
		       500) < 1e-6, "the trace's account of 2 s at 250 W");
	for (size_t i = 0; i < t.srcs[0].tl.n; i++) {
		const struct sample *sm = &t.srcs[0].tl.samples[i];
		if (sm->valid & SAMPLE_POWER)
			cr_assert_float_eq(sm->power_w, 250, 1e-9);
	}
	telemetry_release(&t);
	free(path);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

Test(fake, malformed_trace_names_file_and_line)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{"# x\nt_s gpu0.energy_j\n0 1\n0.1 2\n0.2 x\n", ":5: column 2: 'x' is not a number"},
		{"t_s gpu0.energy_j gpu0.power_w\n0 1 2\n0.1 3\n", ":3: expected 3 values"},
		{"t_s gpu0.energy_j\n0.5 1\n0.1 2\n", ":3: t_s 0.1 goes back in time"},
		{"\n\nhello world\n", ":3: expected a setting"},
		{"t_s gpu0.joules\n", ":1: column 'gpu0.joules': unknown field"},
		{"t_s gpu0.energy_j\n", "no data lines"},
		{"wrap_j=abc\nt_s gpu0.energy_j\n0 1\n", "wrap_j=abc"},
	};
	char path[] = "/tmp/ipw-test-trace-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct telemetry t;
		struct telemetry_select sel = {.backends = "fake", .host = 1};
		write_file(path, cases[i].text);
		use_trace(path);
		cr_assert_eq(telemetry_init(&t, NULL, &sel, err, sizeof(err)), 0);
		cr_assert_not(fake_inst(&t)->present, "case %zu accepted", i);
		cr_assert(strstr(fake_inst(&t)->reason, cases[i].needle), "case %zu: '%s' lacks '%s'", i,
			  fake_inst(&t)->reason, cases[i].needle);
		if (strchr(cases[i].needle, ':') == cases[i].needle)
			cr_assert(strstr(fake_inst(&t)->reason, path), "'%s' does not name the file",
				  fake_inst(&t)->reason);
		telemetry_release(&t);
	}
	unlink(path);
	use_trace("/nonexistent/ipw.trace");
	{
		struct telemetry t;
		struct telemetry_select sel = {.backends = "fake", .host = 1};
		cr_assert_eq(telemetry_init(&t, NULL, &sel, err, sizeof(err)), 0);
		cr_assert(strstr(fake_inst(&t)->reason, "/nonexistent/ipw.trace"), "%s", fake_inst(&t)->reason);
		telemetry_release(&t);
	}
}

/* A counter that wraps every ~0.2 s, unwrapped end to end. */
Test(fake, profile_counter_wraps_end_to_end)
{
	struct telemetry t;
	struct offsets o;
	int64_t a, b;
	double e[1], ex;
	use_profile("gpu0=const:300;wrap_j=50;start_j=20;step_ms=20");
	init(&t, NULL, 1);
	run(&t, 1.2);
	cr_assert_geq(t.srcs[0].tl.wraps, 3, "wraps: %lu", t.srcs[0].tl.wraps);
	cr_assert_eq(t.srcs[0].tl.resets, 0);
	cr_assert_eq(timeline_span(&t.srcs[0].tl, &a, &b), 0);
	o = knot_offsets(&t, 0, 20 * MS);
	telemetry_window(&t, a, b, e);
	ex = exact(&t, 0, a, b);
	cr_assert(fabs(e[0] - ex) <= 2 * err_bound(&o, 300, 300) + 1e-6, "%.6f J vs exact %.6f J", e[0], ex);
	cr_assert_gt(e[0], 150, "%.3f J: the wraps were not unwrapped", e[0]);
	free(o.u);
	telemetry_release(&t);
}

Test(fake, power_only_and_averaged_sources)
{
	struct telemetry t;
	int64_t a, b;
	double e[2];
	use_profile("gpu0=const:150;gpu1=const:90;counter=no;gpu1.power=average");
	init(&t, NULL, 1);
	cr_assert_eq(t.srcs[0].tl.mode, TL_POWER, "instant power without a counter is integrated");
	cr_assert_eq(t.srcs[1].tl.mode, TL_NONE, "an averaged power is never integrated");
	run(&t, 0.8);
	cr_assert_eq(timeline_span(&t.srcs[0].tl, &a, &b), 0);
	telemetry_window(&t, a, b, e);
	cr_assert_float_eq(e[0], 150 * (double)(b - a) / 1e9, 1e-6, "trapezoid of constant power");
	cr_assert(isnan(e[1]), "no energy for an averaged-power source: %g", e[1]);
	cr_assert_gt(t.srcs[1].nsamples, 5);
	cr_assert_float_eq(t.srcs[1].last.power_w, 90, 1e-6);
	telemetry_release(&t);
}

/* Every setting's check and message, and every waveform's sanity rule. */
Test(fake, every_setting_is_checked)
{
	static const struct {
		const char *spec, *needle;
	} cases[] = {
		{"gpu0=const:1;step_ms=-1", "step_ms=-1: expected milliseconds >= 0"},
		{"gpu0=const:1;counter=maybe", "counter=maybe: expected yes or no"},
		{"gpu0=const:1;gpu0.power=loud", "power=loud: expected instant, average, interval or none"},
		{"gpu0=const:1;limit=0", "limit=0: expected watts > 0"},
		{"gpu0=const:1;wrap_j=-2", "wrap_j=-2: expected joules >= 0 (0 = never wraps)"},
		{"gpu0=const:1;mem_total=lots", "mem_total=lots: expected bytes (e.g. 80Gi)"},
		{"gpu0=const:1;temp=hot", "temp=hot: expected degrees Celsius"},
		{"gpu0=const:1;mem=1Q", "mem=1Q: expected bytes (e.g. 12Gi)"},
		{"gpu0=const:1;start_j=-1", "start_j=-1: expected joules >= 0"},
		{"gpu0=const:1;gpu0.res_j=x", "res_j=x: expected joules >= 0"},
		{"gpu0=const:1;read_ms=20000", "read_ms=20000: expected milliseconds in [0, 10000]"},
		{"gpu0=const:1;gpu0.read_ms=1", "read_ms applies to the whole back-end"},
		{"gpu0=square:1:2:0", "power must stay >= 0 W"},
		{"gpu0=ramp:-1:2:3", "power must stay >= 0 W"},
		{"gpu0=sine:10:20:1", "power must stay >= 0 W"},
		{"gpu0=sine:10:5:0", "power must stay >= 0 W"},
		{"gpu0=seq:100:0:200", "seq: '0' is not a duration > 0 s"},
		{"gpu0=seq:-1:1:200", "seq: '-1' is not a power >= 0 W"},
		{"gpu0=", "empty waveform"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct telemetry t;
		struct telemetry_select sel = {.backends = "fake", .host = 1};
		use_profile(cases[i].spec);
		cr_assert_eq(telemetry_init(&t, NULL, &sel, err, sizeof(err)), 0);
		cr_assert_not(fake_inst(&t)->present, "'%s' accepted", cases[i].spec);
		cr_assert(strstr(fake_inst(&t)->reason, cases[i].needle), "'%s': reason '%s' lacks '%s'",
			  cases[i].spec, fake_inst(&t)->reason, cases[i].needle);
		telemetry_release(&t);
	}
}

/* The identity, counter and power settings reach the source description. */
Test(fake, settings_are_applied)
{
	struct telemetry t;
	struct backend_instance *in;
	use_profile("gpu0=sine:100:50:2,gpu1=ramp:0:300:5;host=seq:10:1:20;gpu0.model=Test GPU;"
		    "gpu0.uuid=GPU-abc;gpu0.pci=00000000:99:00.0;gpu0.step_ms=250;gpu0.wrap_j=1000;"
		    "gpu1.counter=no;gpu1.power=interval;host.power=none;host.counter=1");
	init(&t, NULL, 1);
	in = fake_inst(&t);
	cr_assert_eq(in->nsources, 3);
	cr_assert_str_eq(in->sources[0].model, "Test GPU");
	cr_assert_str_eq(in->sources[0].uuid, "GPU-abc");
	cr_assert_str_eq(in->sources[0].pci_bus_id, "00000000:99:00.0");
	cr_assert_float_eq(in->sources[0].counter_update_s, 0.25, 1e-12);
	cr_assert_float_eq(in->sources[0].energy_wrap_j, 1000, 1e-9);
	cr_assert_eq(in->sources[1].caps & CAP_ENERGY, 0);
	cr_assert_eq(in->sources[1].power_kind, POWER_INTERVAL);
	cr_assert_eq(in->sources[2].power_kind, POWER_NONE);
	cr_assert_eq(in->sources[2].caps, CAP_ENERGY);
	telemetry_release(&t);
}

/* A trace gives temperature, memory and the counter's start in its columns, not as settings. */
Test(fake, trace_rejects_profile_settings)
{
	static const char *const keys[] = {"temp=50", "mem=1Gi", "start_j=1", "res_j=1"};
	char path[] = "/tmp/ipw-test-trace-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct telemetry t;
		struct telemetry_select sel = {.backends = "fake", .host = 1};
		char text[128], needle[64];
		snprintf(text, sizeof(text), "%s\nt_s gpu0.energy_j\n0 1\n0.1 2\n", keys[i]);
		snprintf(needle, sizeof(needle), "%.*s= is for profiles", (int)strcspn(keys[i], "="), keys[i]);
		write_file(path, text);
		use_trace(path);
		cr_assert_eq(telemetry_init(&t, NULL, &sel, err, sizeof(err)), 0);
		cr_assert_not(fake_inst(&t)->present, "'%s' accepted", keys[i]);
		cr_assert(strstr(fake_inst(&t)->reason, needle), "'%s' lacks '%s'", fake_inst(&t)->reason, needle);
		telemetry_release(&t);
	}
	unlink(path);
}

/* read_ms is global only, as the manual's example uses it: every read then blocks that long. */
Test(fake, global_read_ms_is_accepted)
{
	struct telemetry t;
	use_profile("gpu0=const:200;read_ms=4");
	init(&t, NULL, 1);
	cr_assert_eq(fake_inst(&t)->nsources, 1);
	telemetry_release(&t);
}
