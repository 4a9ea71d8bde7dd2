/*
 * libfake_nvml.c - a stand-in for libnvidia-ml.so.1 that the nvidia back-end
 * dlopens in tests. Each device follows a scripted piecewise-linear power
 * profile P(t) (t = CLOCK_MONOTONIC seconds since nvmlInit); the energy counter
 * is the exact integral of P, held at 100 ms update instants as real NVML does.
 * Knobs: FAKE_NVML_DEVICES (default 2), FAKE_NVML_PROFILE (default|constant|step),
 * FAKE_NVML_FAIL (init|count|energy|field186), FAKE_NVML_READ_MS (default 4),
 * FAKE_NVML_POWER_LAG_MS (default 65: field 186 describes the power that long ago, as measured on an H200).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_UNKNOWN 999

typedef struct fake_dev *nvmlDevice_t;

struct pci_info {
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
};

struct memory {
	unsigned long long total, free, used;
};

struct field_value {
	unsigned int field_id;
	unsigned int scope_id;
	long long timestamp;
	long long latency_usec;
	int value_type;
	int ret;
	union {
		double d;
		unsigned int ui;
		unsigned long ul;
		unsigned long long ull;
		long long sll;
		int si;
		unsigned short us;
	} value;
};

/* One piece of a profile: power goes linearly from p0 at t0 to p1 at t1 (seconds in the cycle). */
struct seg {
	double t0, t1, p0, p1;
};

/* idle 80 W, a 30 ms spike, a 600 W burst, a ramp down, another spike; repeats every 2 s */
static const struct seg profile_default[] = {
	{0.00, 0.40, 80, 80},   {0.40, 0.43, 600, 600}, {0.43, 0.70, 80, 80},
	{0.70, 1.20, 600, 600}, {1.20, 1.50, 600, 200}, {1.50, 1.53, 700, 700},
	{1.53, 1.80, 200, 120}, {1.80, 2.00, 80, 80},
};
static const struct seg profile_constant[] = {{0.0, 2.0, 300, 300}};
/* 100 W then 500 W, each for one second */
static const struct seg profile_step[] = {{0.0, 1.0, 100, 100}, {1.0, 2.0, 500, 500}};

#define MAX_DEVS 16
#define UPDATE_S 0.1

struct fake_dev {
	unsigned index;
};

static struct {
	int refs;
	double t_init;
	unsigned ndev;
	const struct seg *prof;
	int nseg;
	double period;
	int read_ms;
	double power_lag_s; /* the instant power field lags the true power (FAKE_NVML_POWER_LAG_MS, default 65) */
	char fail[32];
	struct fake_dev devs[MAX_DEVS];
} st;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fails(const char *what)
{
	return !strcmp(st.fail, what);
}

/* Devices differ: device d is shifted by 0.37*d s and scaled by (1 + 0.1*d). */
static double dev_shift(unsigned d)
{
	return 0.37 * d;
}

static double dev_scale(unsigned d)
{
	return 1.0 + 0.1 * d;
}

/* Power of one cycle at cycle time c in [0, period). */
static double cycle_power(double c)
{
	for (int i = 0; i < st.nseg; i++) {
		const struct seg *s = &st.prof[i];
		if (c >= s->t0 && c < s->t1)
			return s->p0 + (s->p1 - s->p0) * (c - s->t0) / (s->t1 - s->t0);
	}
	return st.prof[st.nseg - 1].p1;
}

/* Energy of one cycle from 0 to cycle time c. */
static double cycle_energy(double c)
{
	double e = 0;
	for (int i = 0; i < st.nseg; i++) {
		const struct seg *s = &st.prof[i];
		double end = c < s->t1 ? c : s->t1;
		if (end <= s->t0)
			break;
		e += (end - s->t0) * (s->p0 + (s->p0 + (s->p1 - s->p0) * (end - s->t0) / (s->t1 - s->t0))) / 2;
	}
	return e;
}

/* Integral of the unscaled profile from 0 to u (u >= 0, profile time). */
static double profile_energy(double u)
{
	double k = floor(u / st.period);
	return k * cycle_energy(st.period) + cycle_energy(u - k * st.period);
}

/* P of device d at seconds since init t (t >= 0). */
static double power_at(unsigned d, double t)
{
	double u = t + dev_shift(d);
	return dev_scale(d) * cycle_power(u - floor(u / st.period) * st.period);
}

/* Exact energy of device d from init to t seconds since init. */
static double energy_since_init(unsigned d, double t)
{
	if (t <= 0)
		return 0;
	return dev_scale(d) * (profile_energy(t + dev_shift(d)) - profile_energy(dev_shift(d)));
}

/* --- test hooks --- */

double fake_nvml_exact_energy_j(unsigned dev, double t_mono_s)
{
	return energy_since_init(dev, t_mono_s - st.t_init);
}

double fake_nvml_power_w(unsigned dev, double t_mono_s)
{
	return power_at(dev, t_mono_s - st.t_init);
}

/* Smallest and largest P of device dev over [a, b] (absolute monotonic seconds), exactly. */
void fake_nvml_power_range(unsigned dev, double a, double b, double *pmin, double *pmax)
{
	double lo = INFINITY, hi = -INFINITY;
	double ta = a - st.t_init + dev_shift(dev), tb = b - st.t_init + dev_shift(dev);
	/* P is linear inside segments: extremes lie at the ends or at segment edges (both sides) */
	for (double k = floor(ta / st.period); k * st.period <= tb; k++) {
		for (int i = 0; i < st.nseg; i++) {
			const struct seg *s = &st.prof[i];
			double x0 = k * st.period + s->t0, x1 = k * st.period + s->t1;
			double c0 = x0 > ta ? x0 : ta, c1 = x1 < tb ? x1 : tb, v0, v1;
			if (c0 > c1 || (c0 == c1 && x1 <= ta))
				continue;
			v0 = s->p0 + (s->p1 - s->p0) * (c0 - x0) / (s->t1 - s->t0);
			v1 = s->p0 + (s->p1 - s->p0) * (c1 - x0) / (s->t1 - s->t0);
			lo = fmin(lo, fmin(v0, v1));
			hi = fmax(hi, fmax(v0, v1));
		}
	}
	*pmin = lo * dev_scale(dev);
	*pmax = hi * dev_scale(dev);
}

double fake_nvml_init_time_s(void)
{
	return st.t_init;
}

double fake_nvml_update_period_s(void)
{
	return UPDATE_S;
}

/* --- NVML --- */

int nvmlInit_v2(void)
{
	const char *s;
	if (st.refs++ > 0)
		return NVML_SUCCESS;
	s = getenv("FAKE_NVML_FAIL");
	snprintf(st.fail, sizeof(st.fail), "%s", s ? s : "");
	if (fails("init")) {
		st.refs = 0;
		return NVML_ERROR_DRIVER_NOT_LOADED;
	}
	s = getenv("FAKE_NVML_DEVICES");
	st.ndev = s ? (unsigned)atoi(s) : 2;
	if (st.ndev > MAX_DEVS)
		st.ndev = MAX_DEVS;
	s = getenv("FAKE_NVML_POWER_LAG_MS");
	st.power_lag_s = s ? atof(s) / 1000.0 : 0.065;
	s = getenv("FAKE_NVML_READ_MS");
	st.read_ms = s ? atoi(s) : 4;
	s = getenv("FAKE_NVML_PROFILE");
	if (s && !strcmp(s, "constant")) {
		st.prof = profile_constant;
		st.nseg = 1;
	} else if (s && !strcmp(s, "step")) {
		st.prof = profile_step;
		st.nseg = 2;
	} else {
		st.prof = profile_default;
		st.nseg = (int)(sizeof(profile_default) / sizeof(profile_default[0]));
	}
	st.period = st.prof[st.nseg - 1].t1;
	for (unsigned i = 0; i < MAX_DEVS; i++)
		st.devs[i].index = i;
	st.t_init = mono_s();
	return NVML_SUCCESS;
}

int nvmlShutdown(void)
{
	if (st.refs <= 0)
		return NVML_ERROR_UNINITIALIZED;
	st.refs--;
	return NVML_SUCCESS;
}

const char *nvmlErrorString(int rc)
{
	switch (rc) {
	case NVML_SUCCESS: return "Success";
	case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
	case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
	case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
	case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
	}
	return "Unknown Error";
}

int nvmlSystemGetDriverVersion(char *v, unsigned len)
{
	snprintf(v, len, "999.99-fake");
	return NVML_SUCCESS;
}

int nvmlDeviceGetCount_v2(unsigned *n)
{
	if (st.refs <= 0)
		return NVML_ERROR_UNINITIALIZED;
	if (fails("count"))
		return NVML_ERROR_UNKNOWN;
	*n = st.ndev;
	return NVML_SUCCESS;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *d)
{
	if (i >= st.ndev)
		return NVML_ERROR_INVALID_ARGUMENT;
	*d = &st.devs[i];
	return NVML_SUCCESS;
}

int nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned len)
{
	snprintf(name, len, "Fake NVIDIA H200");
	(void)d;
	return NVML_SUCCESS;
}

int nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned len)
{
	snprintf(uuid, len, "GPU-fa4e%04x-0000-4000-8000-%012x", d->index, 0xabc000 + d->index);
	return NVML_SUCCESS;
}

/* Bus ids ascend with the index, as NVML orders devices by PCI bus id. */
int nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, struct pci_info *p)
{
	memset(p, 0, sizeof(*p));
	p->bus = 0x18 + 0x10 * d->index;
	snprintf(p->bus_id, sizeof(p->bus_id), "00000000:%02X:00.0", p->bus);
	snprintf(p->bus_id_legacy, sizeof(p->bus_id_legacy), "0000:%02X:00.0", p->bus);
	return NVML_SUCCESS;
}

static void sleep_ms(double ms)
{
	struct timespec ts;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - ts.tv_sec * 1000.0) * 1e6);
	nanosleep(&ts, NULL);
}

static unsigned long energy_calls;

/* How many times the energy counter was read (tests check the back-end reads it sparsely). */
unsigned long fake_nvml_energy_calls(void)
{
	return __atomic_load_n(&energy_calls, __ATOMIC_RELAXED);
}

/* The counter holds the exact integral at the last 100 ms update instant, in whole mJ, plus an offset. */
int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t d, unsigned long long *mj)
{
	double t, tq;
	__atomic_add_fetch(&energy_calls, 1, __ATOMIC_RELAXED);
	if (fails("energy"))
		return NVML_ERROR_NOT_SUPPORTED;
	sleep_ms(st.read_ms / 2.0); /* like the real call: blocks; the value is taken mid-call */
	t = mono_s() - st.t_init;
	tq = floor(t / UPDATE_S) * UPDATE_S;
	*mj = 1000000ULL * (d->index + 1) + (unsigned long long)floor(energy_since_init(d->index, tq) * 1000.0);
	sleep_ms(st.read_ms / 2.0);
	return NVML_SUCCESS;
}

int nvmlDeviceGetFieldValues(nvmlDevice_t d, int n, struct field_value *v)
{
	for (int i = 0; i < n; i++) {
		if (v[i].field_id == 186 && !fails("field186")) {
			v[i].ret = NVML_SUCCESS;
			v[i].value_type = 1; /* unsigned int, mW */
			/* like an H200's field 186, the reading describes the power ~65 ms ago */
			v[i].value.ui = (unsigned)lround(power_at(d->index, fmax(0, mono_s() - st.t_init - st.power_lag_s)) * 1000.0);
		} else {
			v[i].ret = NVML_ERROR_NOT_SUPPORTED;
		}
	}
	return NVML_SUCCESS;
}

/* The ~1 s moving average, like nvmlDeviceGetPowerUsage. */
int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned *mw)
{
	double t = mono_s() - st.t_init, a = t > 1 ? t - 1 : 0;
	double w = t > a ? (energy_since_init(d->index, t) - energy_since_init(d->index, a)) / (t - a)
			 : power_at(d->index, t);
	*mw = (unsigned)lround(w * 1000.0);
	return NVML_SUCCESS;
}

int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned *c)
{
	if (sensor != 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*c = 40 + (unsigned)(power_at(d->index, mono_s() - st.t_init) / 20.0);
	return NVML_SUCCESS;
}

int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, struct memory *m)
{
	m->total = 141ULL << 30;
	m->used = (10ULL + d->index) << 30;
	m->free = m->total - m->used;
	return NVML_SUCCESS;
}

int nvmlDeviceGetPowerManagementLimit(nvmlDevice_t d, unsigned *mw)
{
	(void)d;
	*mw = 700000;
	return NVML_SUCCESS;
}

int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned *mw)
{
	(void)d;
	*mw = 700000;
	return NVML_SUCCESS;
}
