/*
 * calibrate.c - 'ipw calibrate' without the printing: drives an on/off load
 * of known timing on the GPU (CUDA driver API by dlopen, a PTX burn kernel
 * JIT-compiled by the driver; no CUDA toolkit at build time) and on the CPUs
 * (busy threads), then measures how each telemetry source's energy timeline
 * follows the pattern. See docs/calibrate.md.
 */
#include "calibrate.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "stats.h"
#include "measure.h"
#include "telemetry.h"
#include "util.h"

/*
 * The burn kernel: two dependent FMA chains per thread, iters x 8 FMAs, one
 * store so the compiler keeps the work. PTX ISA 6.0 for sm_52, so any driver
 * from CUDA 9 on JIT-compiles it for its own GPU.
 */
const char calibrate_ptx[] =
	".version 6.0\n"
	".target sm_52\n"
	".address_size 64\n"
	"\n"
	".visible .entry ipw_burn(\n"
	"\t.param .u64 ipw_burn_out,\n"
	"\t.param .u32 ipw_burn_iters\n"
	")\n"
	"{\n"
	"\t.reg .pred %p<2>;\n"
	"\t.reg .f32 %f<8>;\n"
	"\t.reg .b32 %r<8>;\n"
	"\t.reg .b64 %rd<4>;\n"
	"\n"
	"\tld.param.u64 %rd1, [ipw_burn_out];\n"
	"\tld.param.u32 %r1, [ipw_burn_iters];\n"
	"\tmov.u32 %r2, %tid.x;\n"
	"\tmov.u32 %r3, %ctaid.x;\n"
	"\tmov.u32 %r4, %ntid.x;\n"
	"\tmad.lo.s32 %r5, %r3, %r4, %r2;\n"
	"\tcvt.rn.f32.u32 %f1, %r5;\n"
	"\tadd.f32 %f2, %f1, 0f3F800000;\n"
	"\tmov.f32 %f3, 0f3F7FFFEF;\n"
	"\tmov.f32 %f4, 0f3A83126F;\n"
	"\tmov.u32 %r6, 0;\n"
	"\tsetp.eq.u32 %p1, %r1, 0;\n"
	"\t@%p1 bra DONE;\n"
	"LOOP:\n"
	"\tfma.rn.f32 %f1, %f1, %f3, %f4;\n"
	"\tfma.rn.f32 %f2, %f2, %f3, %f4;\n"
	"\tfma.rn.f32 %f1, %f1, %f3, %f4;\n"
	"\tfma.rn.f32 %f2, %f2, %f3, %f4;\n"
	"\tfma.rn.f32 %f1, %f1, %f3, %f4;\n"
	"\tfma.rn.f32 %f2, %f2, %f3, %f4;\n"
	"\tfma.rn.f32 %f1, %f1, %f3, %f4;\n"
	"\tfma.rn.f32 %f2, %f2, %f3, %f4;\n"
	"\tadd.u32 %r6, %r6, 1;\n"
	"\tsetp.lt.u32 %p1, %r6, %r1;\n"
	"\t@%p1 bra LOOP;\n"
	"DONE:\n"
	"\tadd.f32 %f5, %f1, %f2;\n"
	"\tcvta.to.global.u64 %rd2, %rd1;\n"
	"\tmul.wide.u32 %rd3, %r5, 4;\n"
	"\tadd.s64 %rd2, %rd2, %rd3;\n"
	"\tst.global.f32 [%rd2], %f5;\n"
	"\tret;\n"
	"}\n";

void calib_opts_init(struct calib_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->gpu = o->cpu = 1;
	o->idle_s = 2;
	o->periods[0] = 1;
	o->periods[1] = 0.5;
	o->periods[2] = 0.2;
	o->nperiods = 3;
	o->cycles = 3;
	o->host = 1;
}

/* ---- the CUDA driver API, declared locally ---- */

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUmodule;
typedef void *CUfunction;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;
#define CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT 16

struct cuda {
	void *lib;
	CUresult (*cuInit)(unsigned);
	CUresult (*cuDeviceGet)(CUdevice *, int);
	CUresult (*cuDeviceGetName)(char *, int, CUdevice);
	CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
	CUresult (*cuCtxCreate)(CUcontext *, unsigned, CUdevice);
	CUresult (*cuCtxDestroy)(CUcontext);
	CUresult (*cuModuleLoadData)(CUmodule *, const void *);
	CUresult (*cuModuleUnload)(CUmodule);
	CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
	CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
	CUresult (*cuMemFree)(CUdeviceptr);
	CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
				   unsigned, CUstream, void **, void **);
	CUresult (*cuCtxSynchronize)(void);
	CUresult (*cuGetErrorString)(CUresult, const char **);
	CUcontext ctx;
	CUmodule mod;
	CUfunction fn;
	CUdeviceptr buf;
	unsigned blocks, threads, iters;
};

static const char *cu_err(struct cuda *c, CUresult r)
{
	const char *s = NULL;
	if (c->cuGetErrorString && c->cuGetErrorString(r, &s) == 0 && s)
		return s;
	return "unknown CUDA error";
}

static void cuda_close(struct cuda *c)
{
	if (c->buf)
		c->cuMemFree(c->buf);
	if (c->mod)
		c->cuModuleUnload(c->mod);
	if (c->ctx)
		c->cuCtxDestroy(c->ctx);
	if (c->lib)
		dlclose(c->lib);
	memset(c, 0, sizeof(*c));
}

/* Opens the driver, creates a context and loads the kernel. 0, or -1 with why. */
static int cuda_open(struct cuda *c, int ordinal, char *what, size_t wn, char *err, size_t errlen)
{
	const char *path = getenv("IPW_CUDA_LIBRARY");
	CUdevice dev;
	CUresult r;
	int sms = 0;
	char name[128] = "";
	memset(c, 0, sizeof(*c));
	if (!path || !*path)
		path = "libcuda.so.1";
	c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!c->lib)
		return err_set(err, errlen, "%s not found (%s): no NVIDIA driver here, or set IPW_CUDA_LIBRARY", path,
			       dlerror());
#define SYM(field, name) \
	if (!(*(void **)&c->field = dlsym(c->lib, name))) { \
		err_set(err, errlen, "%s lacks %s: the driver is too old", path, name); \
		goto fail; \
	}
	SYM(cuInit, "cuInit");
	SYM(cuDeviceGet, "cuDeviceGet");
	SYM(cuDeviceGetName, "cuDeviceGetName");
	SYM(cuDeviceGetAttribute, "cuDeviceGetAttribute");
	SYM(cuCtxCreate, "cuCtxCreate_v2");
	SYM(cuCtxDestroy, "cuCtxDestroy_v2");
	SYM(cuModuleLoadData, "cuModuleLoadData");
	SYM(cuModuleUnload, "cuModuleUnload");
	SYM(cuModuleGetFunction, "cuModuleGetFunction");
	SYM(cuMemAlloc, "cuMemAlloc_v2");
	SYM(cuMemFree, "cuMemFree_v2");
	SYM(cuLaunchKernel, "cuLaunchKernel");
	SYM(cuCtxSynchronize, "cuCtxSynchronize");
	SYM(cuGetErrorString, "cuGetErrorString");
#undef SYM
#define CU(call, what_) \
	if ((r = (call)) != 0) { \
		err_set(err, errlen, "%s failed: %s (error %d)", what_, cu_err(c, r), r); \
		goto fail; \
	}
	CU(c->cuInit(0), "cuInit");
	CU(c->cuDeviceGet(&dev, ordinal), "cuDeviceGet");
	c->cuDeviceGetName(name, sizeof(name) - 1, dev);
	CU(c->cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev), "cuDeviceGetAttribute");
	CU(c->cuCtxCreate(&c->ctx, 0, dev), "cuCtxCreate");
	CU(c->cuModuleLoadData(&c->mod, calibrate_ptx), "loading the PTX kernel (cuModuleLoadData)");
	CU(c->cuModuleGetFunction(&c->fn, c->mod, "ipw_burn"), "cuModuleGetFunction");
	c->threads = 256;
	c->blocks = (unsigned)(sms > 0 ? sms : 80) * 8;
	CU(c->cuMemAlloc(&c->buf, (size_t)c->blocks * c->threads * sizeof(float)), "cuMemAlloc");
#undef CU
	snprintf(what, wn, "CUDA device %d: %s (%d SMs), %u blocks x %u threads", ordinal, name, sms, c->blocks,
		 c->threads);
	return 0;
fail:
	cuda_close(c);
	return -1;
}

/* One launch of iters, waited for. 0 or -1. */
static int cuda_burst(struct cuda *c, unsigned iters)
{
	void *args[2] = {&c->buf, &iters};
	if (c->cuLaunchKernel(c->fn, c->blocks, 1, 1, c->threads, 1, 1, 0, NULL, args, NULL) != 0)
		return -1;
	return c->cuCtxSynchronize() == 0 ? 0 : -1;
}

/* Sizes a launch to about 10 ms, so an on-window ends at most that late. */
static int cuda_tune(struct cuda *c)
{
	unsigned it = 2000;
	for (int k = 0; k < 4; k++) {
		int64_t a = clock_now_ns(), d;
		if (cuda_burst(c, it) < 0)
			return -1;
		d = clock_now_ns() - a;
		if (d <= 0)
			d = 1;
		{
			double next = (double)it * 10e6 / (double)d;
			it = next < 1 ? 1 : next > 4e9 ? 4000000000u : (unsigned)next;
		}
	}
	c->iters = it;
	return 0;
}

/* ---- CPU load ---- */

struct cpu_load {
	atomic_int on, quit;
	pthread_t *th;
	int n;
};

static void *cpu_burn(void *arg)
{
	struct cpu_load *l = arg;
	volatile double x = 1.0;
	while (!atomic_load(&l->quit)) {
		if (atomic_load(&l->on)) {
			for (int i = 0; i < 20000; i++)
				x = x * 1.0000001 + 1e-9;
		} else {
			clock_sleep_ns(1000000);
		}
	}
	return NULL;
}

/* ---- the pattern ---- */

#define MAX_EDGES (CALIB_MAX_PERIODS * 64)

struct pattern {
	int64_t idle0, t_end;
	int nedges;
	int64_t on[MAX_EDGES], off[MAX_EDGES], off_end[MAX_EDGES]; /* per on/off cycle */
	int period[MAX_EDGES];
};

static int stopped(const struct calib_opts *o)
{
	return o->stop && *o->stop;
}

/* Idle until t (sleeping in small steps, so a stop is noticed). */
static void idle_until(const struct calib_opts *o, int64_t t)
{
	while (clock_now_ns() < t && !stopped(o))
		clock_sleep_ns(5 * NS_PER_MS);
}

/* Runs the pattern: idle, then per period `cycles` x (on, off), then 1 s idle. */
static int drive(const struct calib_opts *o, struct pattern *p, struct cuda *gpu, struct cpu_load *cpu)
{
	int rc = 0;
	memset(p, 0, sizeof(*p));
	p->idle0 = clock_now_ns();
	idle_until(o, p->idle0 + (int64_t)(o->idle_s * 1e9));
	for (int k = 0; k < o->nperiods && !stopped(o); k++) {
		int64_t len = (int64_t)(o->periods[k] * 1e9);
		for (int c = 0; c < o->cycles && p->nedges < MAX_EDGES && !stopped(o); c++) {
			int e = p->nedges++;
			int64_t end;
			p->period[e] = k;
			p->on[e] = clock_now_ns();
			end = p->on[e] + len;
			if (gpu) {
				while (clock_now_ns() < end && !stopped(o))
					if (cuda_burst(gpu, gpu->iters) < 0) {
						rc = -1;
						break;
					}
			} else {
				atomic_store(&cpu->on, 1);
				idle_until(o, end);
				atomic_store(&cpu->on, 0);
			}
			p->off[e] = clock_now_ns();
			idle_until(o, p->off[e] + len);
			p->off_end[e] = clock_now_ns();
			if (rc < 0)
				break;
		}
	}
	idle_until(o, clock_now_ns() + NS_PER_S);
	p->t_end = clock_now_ns();
	return rc;
}

/* ---- analysis ---- */

static double median(double *v, int n)
{
	if (n <= 0)
		return NAN;
	stats_sort(v, (size_t)n);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double window_j(const struct timeline *tl, int64_t a, int64_t b)
{
	double e;
	return timeline_energy(tl, a, b, &e) < 0 ? NAN : e;
}

/*
 * Mean spacing of the counter's changes over [a, b] (first change to last,
 * divided by the changes between), or of the samples without a counter.
 * The mean, not the median: sampling quantises each single spacing.
 */
static double step_of(const struct timeline *tl, int64_t a, int64_t b)
{
	int64_t first = 0, last = 0;
	long n = 0;
	int have_prev = 0;
	double prev_e = 0;
	for (size_t i = 0; i < tl->n; i++) {
		const struct sample *s = &tl->samples[i];
		int change;
		if (s->t_ns < a || s->t_ns > b)
			continue;
		if (tl->mode == TL_COUNTER) {
			if (!(s->valid & SAMPLE_ENERGY))
				continue;
			change = have_prev && s->energy_j != prev_e;
			prev_e = s->energy_j;
			have_prev = 1;
		} else {
			change = 1;
		}
		if (!change)
			continue;
		if (!first)
			first = s->t_ns;
		last = s->t_ns;
		n++;
	}
	return n >= 2 ? (double)(last - first) / 1e9 / (double)(n - 1) : NAN;
}

/* Power from the timeline over [t - 5 ms, t + 5 ms]. */
static double power_at(const struct timeline *tl, int64_t t)
{
	double e = window_j(tl, t - 5 * NS_PER_MS, t + 5 * NS_PER_MS);
	return e / 0.01;
}

/*
 * Time from edge until the power crosses level (rising: >=, falling: <=),
 * scanning 5 ms steps up to limit; NAN when it never does.
 */
static double cross_time(const struct timeline *tl, int64_t edge, int64_t limit, double level, int rising)
{
	for (int64_t t = edge; t <= limit; t += 5 * NS_PER_MS) {
		double p = power_at(tl, t);
		if (isnan(p))
			return NAN;
		if (rising ? p >= level : p <= level)
			return (double)(t - edge) / 1e9;
	}
	return NAN;
}

/* One source's analysis, run on its timeline with the telemetry lock held. */
struct source_job {
	const struct calib_opts *o;
	const struct pattern *p;
	struct calib_source *cs;
};

/* Loaded power: the second half of the on-windows of the longest period (median). */
static double loaded_power(const struct timeline *tl, const struct pattern *p)
{
	double loaded[MAX_EDGES];
	int nl = 0;
	for (int e = 0; e < p->nedges; e++)
		if (p->period[e] == 0) {
			int64_t mid = p->on[e] + (p->off[e] - p->on[e]) / 2;
			loaded[nl++] = window_j(tl, mid, p->off[e]) / ((double)(p->off[e] - mid) / 1e9);
		}
	return median(loaded, nl);
}

/* Rise and fall times (medians over the longest period's edges where the load made a clear step). */
static void edges(const struct timeline *tl, const struct pattern *p, struct calib_source *cs)
{
	double rise[MAX_EDGES], fall[MAX_EDGES];
	int nr = 0, nf = 0;
	double up = cs->idle_w + 0.9 * (cs->loaded_w - cs->idle_w);
	double down = cs->idle_w + 0.1 * (cs->loaded_w - cs->idle_w);
	/* edges only where the load made a clear step: 10% of idle and 2 W */
	int clear = !isnan(cs->idle_w) && !isnan(cs->loaded_w) &&
		    cs->loaded_w - cs->idle_w >= fmax(2, 0.1 * fabs(cs->idle_w));
	for (int e = 0; e < p->nedges && clear; e++) {
		if (p->period[e] != 0)
			continue;
		rise[nr] = cross_time(tl, p->on[e], p->off[e], up, 1);
		if (!isnan(rise[nr]))
			nr++;
		fall[nf] = cross_time(tl, p->off[e], p->off_end[e], down, 0);
		if (!isnan(fall[nf]))
			nf++;
	}
	cs->rise_s = median(rise, nr);
	cs->fall_s = median(fall, nf);
}

/* The energy of each period's on and off windows against a perfect meter. */
static void periods(const struct timeline *tl, const struct calib_opts *o, const struct pattern *p,
		    struct calib_source *cs)
{
	for (int k = 0; k < o->nperiods; k++) {
		struct calib_period *cp = &cs->per[k];
		double on_s = 0, off_s = 0;
		cp->len_s = o->periods[k];
		for (int e = 0; e < p->nedges; e++)
			if (p->period[e] == k) {
				cp->on_j += window_j(tl, p->on[e], p->off[e]);
				cp->off_j += window_j(tl, p->off[e], p->off_end[e]);
				on_s += (double)(p->off[e] - p->on[e]) / 1e9;
				off_s += (double)(p->off_end[e] - p->off[e]) / 1e9;
			}
		cp->on_expect_j = cs->loaded_w * on_s;
		cp->off_expect_j = cs->idle_w * off_s;
	}
}

static int analyse_source(void *arg, const struct timeline *tl)
{
	struct source_job *j = arg;
	const struct pattern *p = j->p;
	struct calib_source *cs = j->cs;
	int64_t idle_a = p->idle0 + (int64_t)(j->o->idle_s * 1e9 * 0.25);
	int64_t idle_b = p->nedges ? p->on[0] : p->t_end;
	cs->step_s = step_of(tl, p->idle0, p->t_end);
	cs->idle_w = idle_b > idle_a ? window_j(tl, idle_a, idle_b) / ((double)(idle_b - idle_a) / 1e9) : NAN;
	cs->loaded_w = loaded_power(tl, p);
	edges(tl, p, cs);
	periods(tl, j->o, p, cs);
	return 0;
}

static void analyse(struct measure *m, const struct calib_opts *o, const struct pattern *p,
		    struct calib_part *part)
{
	part->nsrcs = 0;
	part->nperiods = o->nperiods;
	for (int s = 0; s < m->nsrcs && part->nsrcs < CALIB_MAX_SOURCES; s++) {
		const struct source_info *si = telemetry_source(m->tel, s);
		struct calib_source *cs = &part->src[part->nsrcs++];
		struct source_job j = {o, p, cs};
		memset(cs, 0, sizeof(*cs));
		snprintf(cs->name, sizeof(cs->name), "%s", si->name);
		snprintf(cs->scope, sizeof(cs->scope), "%s", source_scope_name(si->scope));
		cs->update_s = si->counter_update_s;
		cs->shaped = si->shape_with_power;
		telemetry_with_timeline(m->tel, s, analyse_source, &j);
	}
}

/* The GPU part: open the driver, size the kernel, drive the pattern, analyse. */
static void run_gpu(struct measure *m, const struct calib_opts *o, struct pattern *pat, struct calib_part *part)
{
	struct cuda c;
	char e2[IPW_ERRLEN];
	int d;
	if (cuda_open(&c, o->cuda_device, part->what, sizeof(part->what), e2, sizeof(e2)) < 0) {
		snprintf(part->skipped, sizeof(part->skipped), "GPU load skipped: %s", e2);
		return;
	}
	if (cuda_tune(&c) < 0) {
		snprintf(part->skipped, sizeof(part->skipped), "GPU load skipped: the burn kernel failed to run");
		cuda_close(&c);
		return;
	}
	d = drive(o, pat, &c, NULL);
	cuda_close(&c);
	if (d < 0)
		snprintf(part->skipped, sizeof(part->skipped), "GPU load stopped: a kernel launch failed mid-pattern");
	measure_wait(m, pat->t_end, MEASURE_COVER_TIMEOUT_NS);
	analyse(m, o, pat, part);
	part->ran = d == 0;
}

/* The CPU part: busy threads switched on and off by the pattern. */
static void run_cpu(struct measure *m, const struct calib_opts *o, struct pattern *pat, struct calib_part *part)
{
	struct cpu_load l;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	memset(&l, 0, sizeof(l));
	l.n = o->threads > 0 ? o->threads : ncpu > 0 ? (int)ncpu : 1;
	l.th = xcalloc((size_t)l.n, sizeof(*l.th));
	for (int i = 0; i < l.n; i++)
		pthread_create(&l.th[i], NULL, cpu_burn, &l);
	snprintf(part->what, sizeof(part->what), "%d busy threads", l.n);
	drive(o, pat, NULL, &l);
	atomic_store(&l.quit, 1);
	for (int i = 0; i < l.n; i++)
		pthread_join(l.th[i], NULL);
	free(l.th);
	measure_wait(m, pat->t_end, MEASURE_COVER_TIMEOUT_NS);
	analyse(m, o, pat, part);
	part->ran = 1;
}

int calibrate_run(const struct calib_opts *o, struct calib_report *rep, char *err, size_t errlen)
{
	struct measure m;
	struct measure_opts mo;
	struct pattern *pat = xcalloc(1, sizeof(*pat));
	int rc = -1, m_ok = 0;

	memset(rep, 0, sizeof(*rep));
	snprintf(rep->gpu.load, sizeof(rep->gpu.load), "gpu");
	snprintf(rep->cpu.load, sizeof(rep->cpu.load), "cpu");
	measure_opts_init(&mo);
	mo.interval_ms = o->interval_ms;
	mo.fake_profile = o->fake_profile;
	mo.fake_trace = o->fake_trace;
	mo.backends = o->backends;
	mo.devices = o->devices;
	mo.host = o->host;
	if (measure_open(&m, &mo, err, errlen) < 0)
		goto out;
	m_ok = 1;
	if (!m.nsrcs) {
		err_set(err, errlen, "no telemetry source to calibrate (ipw devices says why each back-end is absent)");
		goto out;
	}
	if (measure_start(&m, NULL, NULL, err, errlen) < 0)
		goto out;
	measure_wait(&m, clock_now_ns(), MEASURE_COVER_TIMEOUT_NS);
	if (o->gpu)
		run_gpu(&m, o, pat, &rep->gpu);
	else
		snprintf(rep->gpu.skipped, sizeof(rep->gpu.skipped), "not requested");
	if (o->cpu && !stopped(o))
		run_cpu(&m, o, pat, &rep->cpu);
	else if (!o->cpu)
		snprintf(rep->cpu.skipped, sizeof(rep->cpu.skipped), "not requested");
	if (stopped(o)) {
		err_set(err, errlen, "interrupted");
		goto out;
	}
	rc = 0;
out:
	if (m_ok)
		measure_close(&m);
	free(pat);
	return rc;
}
