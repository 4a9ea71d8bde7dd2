/*
 * telemetry/nvidia.c - NVIDIA GPUs through NVML, loaded with dlopen (no SDK at
 * build time; the few types used are declared here). Energy comes from the
 * cumulative counter (mJ, steps every ~100 ms); power shown is field 186
 * (instantaneous), with the ~1 s averaged PowerUsage only as a fallback.
 * See docs/platform-nvidia.md.
 */
#include "../telemetry_backend.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clock.h"
#include "nvidia.h"

/* The subset of nvml.h we use (layouts as in the public header). */
typedef int nvml_return;
typedef struct nvml_device_st *nvml_device;
#define NVML_SUCCESS 0
#define NVML_TEMPERATURE_GPU 0
#define NVML_FI_DEV_POWER_INSTANT 186

struct nvml_pci_info {            /* nvmlPciInfo_t, as filled by nvmlDeviceGetPciInfo_v3 */
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
	unsigned int reserved[8]; /* room in case a newer library writes more */
};

struct nvml_memory {              /* nvmlMemory_t (v1) */
	unsigned long long total, free, used;
};

enum nvml_value_type {
	NVML_VALUE_DOUBLE, NVML_VALUE_UINT, NVML_VALUE_ULONG, NVML_VALUE_ULLONG,
	NVML_VALUE_SLLONG, NVML_VALUE_SINT, NVML_VALUE_USHORT,
};

union nvml_value {
	double d;
	unsigned int ui;
	unsigned long ul;
	unsigned long long ull;
	long long sll;
	int si;
	unsigned short us;
};

struct nvml_field_value {         /* nvmlFieldValue_t */
	unsigned int field_id;
	unsigned int scope_id;
	long long timestamp;
	long long latency_usec;
	int value_type;           /* enum nvml_value_type */
	nvml_return ret;
	union nvml_value value;
};

struct nvml_api {
	nvml_return (*init)(void);
	nvml_return (*shutdown)(void);
	const char *(*error_string)(nvml_return);
	nvml_return (*get_count)(unsigned int *);
	nvml_return (*get_handle)(unsigned int, nvml_device *);
	/* optional: a missing one degrades what it measures */
	nvml_return (*driver_version)(char *, unsigned int);
	nvml_return (*get_name)(nvml_device, char *, unsigned int);
	nvml_return (*get_uuid)(nvml_device, char *, unsigned int);
	nvml_return (*get_pci)(nvml_device, struct nvml_pci_info *);
	nvml_return (*get_energy)(nvml_device, unsigned long long *);
	nvml_return (*get_fields)(nvml_device, int, struct nvml_field_value *);
	nvml_return (*get_power)(nvml_device, unsigned int *);
	nvml_return (*get_temp)(nvml_device, int, unsigned int *);
	nvml_return (*get_memory)(nvml_device, struct nvml_memory *);
	nvml_return (*get_limit)(nvml_device, unsigned int *);
	nvml_return (*get_enforced_limit)(nvml_device, unsigned int *);
};

/* How the energy counter is read (docs/platform-nvidia.md, "When the counter is read"). */
enum nv_policy {
	NV_EVERY,   /* at every sample, steps placed by the midpoint rule */
	NV_SEARCH,  /* looking for the counter's step phase */
	NV_LOCKED,  /* sparse reads at instants locked to the step phase */
};

struct nv_dev {
	nvml_device handle;
	int has_energy, has_instant, has_average, has_temp, has_memory;
	enum nv_policy policy;
	int64_t phase_ns;       /* time of an observed counter step */
	int64_t phase_unc_ns;   /* half-width of its uncertainty (half a read) */
	int64_t period_ns;      /* estimated step period */
	int64_t period_unc_ns;  /* half-width of the period's uncertainty */
	int64_t ref_step_ns;    /* the earliest observed step: the period is measured from it */
	int64_t ref_unc_ns;
	int64_t next_read_ns;   /* next scheduled sparse read */
	int64_t next_sync_ns;   /* next re-synchronisation on a step */
	int failures;           /* searches / re-synchronisations that found no step */
	unsigned long long last_mj;
	int64_t last_step_ns;   /* the step whose value last_mj is */
	int have_last;
	unsigned long energy_reads;
	unsigned long watches, watch_reads, sparse_reads; /* find_step watches and their reads; locked reads */
	int64_t read_interval_ns; /* between sparse reads */
	unsigned long nread;      /* samples taken */
	double knot_power_w;      /* the power field when the last knot was taken (NAN: none) */
};

#define SLOW_EVERY 10 /* temperature and memory: every 10th sample */

#define NV_READ_INTERVAL_NS (1000 * NS_PER_MS) /* sparse counter reads: 1/s, ~0.4% of a core */
/* a power change that earns an extra knot: this share of the level at the last knot, and at least... */
#define NV_CHANGE_SHARE 0.15
#define NV_CHANGE_MIN_W 30.0
#define NV_READ_INTERVAL_MAX_NS (10 * NS_PER_S)
#define SYNC_MAX_NS (30 * NS_PER_S)   /* re-synchronise at least this often */
#define MAX_FAILURES 3

struct nv_priv {
	void *dl;
	int initialised;
	struct nvml_api api;
	struct nv_dev *devs; /* parallel to inst->sources */
};

#define DEFAULT_LIBRARY "libnvidia-ml.so.1"

static const char *nv_strerror(const struct nvml_api *api, nvml_return rc)
{
	const char *s = api->error_string ? api->error_string(rc) : NULL;
	return s ? s : "unknown NVML error";
}

static int load_symbols(void *dl, struct nvml_api *api, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		size_t off;
		int required;
	} syms[] = {
#define SYM(field, name, req) {name, offsetof(struct nvml_api, field), req}
		SYM(init, "nvmlInit_v2", 1),
		SYM(shutdown, "nvmlShutdown", 1),
		SYM(error_string, "nvmlErrorString", 1),
		SYM(get_count, "nvmlDeviceGetCount_v2", 1),
		SYM(get_handle, "nvmlDeviceGetHandleByIndex_v2", 1),
		SYM(driver_version, "nvmlSystemGetDriverVersion", 0),
		SYM(get_name, "nvmlDeviceGetName", 0),
		SYM(get_uuid, "nvmlDeviceGetUUID", 0),
		SYM(get_pci, "nvmlDeviceGetPciInfo_v3", 0),
		SYM(get_energy, "nvmlDeviceGetTotalEnergyConsumption", 0),
		SYM(get_fields, "nvmlDeviceGetFieldValues", 0),
		SYM(get_power, "nvmlDeviceGetPowerUsage", 0),
		SYM(get_temp, "nvmlDeviceGetTemperature", 0),
		SYM(get_memory, "nvmlDeviceGetMemoryInfo", 0),
		SYM(get_limit, "nvmlDeviceGetPowerManagementLimit", 0),
		SYM(get_enforced_limit, "nvmlDeviceGetEnforcedPowerLimit", 0),
#undef SYM
	};
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *p = dlsym(dl, syms[i].name);
		if (!p && syms[i].required)
			return err_set(err, errlen,
				       "the NVML library has no %s: the NVIDIA driver is too old or the "
				       "library is not NVML; update the driver or set IPW_NVML_LIBRARY",
				       syms[i].name);
		memcpy((char *)api + syms[i].off, &p, sizeof(p));
	}
	return 0;
}

/* Reads field 186 (instantaneous power) in watts; 0 or -1. */
static int read_instant(const struct nvml_api *api, nvml_device d, double *w)
{
	struct nvml_field_value fv;
	double mw;
	memset(&fv, 0, sizeof(fv));
	fv.field_id = NVML_FI_DEV_POWER_INSTANT;
	if (api->get_fields(d, 1, &fv) != NVML_SUCCESS || fv.ret != NVML_SUCCESS)
		return -1;
	switch (fv.value_type) {
	case NVML_VALUE_DOUBLE: mw = fv.value.d; break;
	case NVML_VALUE_UINT: mw = fv.value.ui; break;
	case NVML_VALUE_ULONG: mw = (double)fv.value.ul; break;
	case NVML_VALUE_ULLONG: mw = (double)fv.value.ull; break;
	case NVML_VALUE_SLLONG: mw = (double)fv.value.sll; break;
	case NVML_VALUE_SINT: mw = fv.value.si; break;
	case NVML_VALUE_USHORT: mw = fv.value.us; break;
	default: return -1;
	}
	*w = mw / 1000.0;
	return 0;
}

/* Fills one source from device i, probing each reading once. */
/* IPW_NVML_ENERGY_READS=every reads the counter at every sample instead of locking to its steps. */
static int policy_every(void)
{
	const char *e = getenv("IPW_NVML_ENERGY_READS");
	return e && !strcmp(e, "every");
}

/*
 * Field 186 describes the power ~65 ms before it is read: fitted on an H200
 * against a dense counter trace (bench/gpu/fit_power_lag.py, bench/RESULTS.md).
 * IPW_NVML_POWER_LAG_MS overrides it.
 */
static double power_lag(void)
{
	const char *e = getenv("IPW_NVML_POWER_LAG_MS");
	double ms = e ? atof(e) : 65;
	return ms >= 0 && ms < 1000 ? ms / 1000.0 : 0.065;
}

/* IPW_NVML_ENERGY_READS=locked:MS sets the sparse reads' interval (default 1000 ms). */
static int64_t policy_interval(void)
{
	const char *e = getenv("IPW_NVML_ENERGY_READS");
	long long ms;
	if (!e || strncmp(e, "locked:", 7))
		return NV_READ_INTERVAL_NS;
	ms = atoll(e + 7);
	if (ms < 100 || ms * NS_PER_MS > NV_READ_INTERVAL_MAX_NS)
		return NV_READ_INTERVAL_NS;
	return ms * NS_PER_MS;
}

/* Name, backend, kind and identity (model, UUID, PCI bus id) of device i. */
static void nv_identity(const struct nvml_api *api, unsigned int i, nvml_device d, const char *driver,
			struct source_info *s)
{
	char buf[128];
	struct nvml_pci_info pci;
	snprintf(s->name, sizeof(s->name), "nvidia:%u", i);
	snprintf(s->backend, sizeof(s->backend), "nvidia");
	source_copy_str(s->driver, sizeof(s->driver), driver);
	s->kind = SOURCE_GPU;
	s->scope = SCOPE_ACCELERATOR;
	s->index = (int)i;
	s->power_kind = POWER_NONE;
	s->power_limit_w = NAN;
	s->mem_total_bytes = NAN;
	s->energy_wrap_j = 0; /* 64-bit mJ counter */
	s->counter_update_s = NAN;
	if (api->get_name && api->get_name(d, buf, sizeof(buf)) == NVML_SUCCESS)
		source_copy_str(s->model, sizeof(s->model), buf);
	else
		snprintf(s->model, sizeof(s->model), "NVIDIA GPU");
	if (api->get_uuid && api->get_uuid(d, buf, sizeof(buf)) == NVML_SUCCESS)
		source_copy_str(s->uuid, sizeof(s->uuid), buf);
	memset(&pci, 0, sizeof(pci));
	if (api->get_pci && api->get_pci(d, &pci) == NVML_SUCCESS) {
		pci.bus_id[sizeof(pci.bus_id) - 1] = 0;
		source_copy_str(s->pci_bus_id, sizeof(s->pci_bus_id), pci.bus_id);
	}
}

/* Whether the energy counter works, and which power reading (instant field 186, else the average). */
static void nv_energy_power(const struct nvml_api *api, nvml_device d, struct source_info *s, struct nv_dev *dev)
{
	char buf[128];
	unsigned long long mj;
	unsigned int u;
	double w;
	nvml_return rc;
	if (!api->get_energy) {
		source_add_note(s, "no energy counter (nvmlDeviceGetTotalEnergyConsumption missing)");
	} else if ((rc = api->get_energy(d, &mj)) != NVML_SUCCESS) {
		snprintf(buf, sizeof(buf), "no energy counter (%s)", nv_strerror(api, rc));
		source_add_note(s, buf);
	} else {
		dev->has_energy = 1;
		s->caps |= CAP_ENERGY;
		s->counter_update_s = 0.1; /* measured: steps every ~100 ms (docs/platform-nvidia.md) */
	}
	if (api->get_fields && read_instant(api, d, &w) == 0) {
		dev->has_instant = 1;
		s->caps |= CAP_POWER;
		s->power_kind = POWER_INSTANT;
		s->power_lag_s = power_lag();
	} else if (api->get_power && api->get_power(d, &u) == NVML_SUCCESS) {
		dev->has_average = 1;
		s->caps |= CAP_POWER;
		s->power_kind = POWER_AVERAGE;
		source_add_note(s, "instant power (field 186) unavailable: power shown is NVML's ~1 s average, "
			    "never integrated");
	} else {
		source_add_note(s, "no power reading");
	}
	if (!dev->has_energy && !dev->has_instant)
		source_add_note(s, "no energy: neither the counter nor instantaneous power works");
}

/*
 * A counter read costs ~4 ms of CPU (it spins). With instantaneous power to
 * shape the energy between reads, read the counter sparsely at instants
 * locked to its steps; otherwise (or when asked) at every sample.
 */
static void nv_read_policy(struct source_info *s, struct nv_dev *dev)
{
	dev->policy = NV_EVERY;
	dev->read_interval_ns = policy_interval();
	dev->knot_power_w = NAN;
	if (dev->has_energy && dev->has_instant && !policy_every()) {
		char note[224];
		dev->policy = NV_SEARCH;
		s->shape_with_power = 1;
		snprintf(note, sizeof(note), "counter read every %.1f s and at power changes, at instants "
			 "locked to its ~100 ms steps; instantaneous power (lag %.0f ms) shapes the energy "
			 "between reads", dev->read_interval_ns / 1e9, s->power_lag_s * 1000);
		source_add_note(s, note);
	} else if (dev->has_energy && !dev->has_instant) {
		source_add_note(s, "counter read at every sample (each read costs ~4 ms of CPU)");
	}
}

/* Temperature, memory and the power limit (enforced, else the management limit). */
static void nv_extras(const struct nvml_api *api, nvml_device d, struct source_info *s, struct nv_dev *dev)
{
	unsigned int u;
	struct nvml_memory mem;
	if (api->get_temp && api->get_temp(d, NVML_TEMPERATURE_GPU, &u) == NVML_SUCCESS) {
		dev->has_temp = 1;
		s->caps |= CAP_TEMPERATURE;
	}
	memset(&mem, 0, sizeof(mem));
	if (api->get_memory && api->get_memory(d, &mem) == NVML_SUCCESS) {
		dev->has_memory = 1;
		s->caps |= CAP_MEMORY;
		s->mem_total_bytes = (double)mem.total;
	}
	if (api->get_enforced_limit && api->get_enforced_limit(d, &u) == NVML_SUCCESS)
		s->power_limit_w = u / 1000.0;
	else if (api->get_limit && api->get_limit(d, &u) == NVML_SUCCESS)
		s->power_limit_w = u / 1000.0;
}

static void probe_device(struct nv_priv *p, unsigned int i, nvml_device d, const char *driver,
			 struct source_info *s, struct nv_dev *dev)
{
	dev->handle = d;
	nv_identity(&p->api, i, d, driver, s);
	nv_energy_power(&p->api, d, s, dev);
	nv_read_policy(s, dev);
	nv_extras(&p->api, d, s, dev);
}

/* One counter read, with the midpoint of the call's wall time. */
static nvml_return energy_read(const struct nvml_api *api, struct nv_dev *dev, unsigned long long *mj,
			       int64_t *mid, int64_t *span)
{
	int64_t t0 = clock_now_ns(), t1;
	nvml_return rc = api->get_energy(dev->handle, mj);
	t1 = clock_now_ns();
	*mid = t0 + (t1 - t0) / 2;
	if (span)
		*span = t1 - t0;
	dev->energy_reads++;
	return rc;
}

/*
 * Reads the counter back to back until its value changes or the deadline
 * passes. On a change, *step_ns is the midpoint between the two reads'
 * midpoints (within about half a read, ~2 ms) and *mj the new value.
 * Returns 0, or -1 when no step was seen (or a read failed).
 */
static int find_step(const struct nvml_api *api, struct nv_dev *dev, int64_t deadline, int64_t *step_ns,
		     int64_t *unc_ns, unsigned long long *mj)
{
	unsigned long long prev, cur;
	int64_t tprev, tcur;
	dev->watches++;
	dev->watch_reads++;
	if (energy_read(api, dev, &prev, &tprev, NULL) != NVML_SUCCESS)
		return -1;
	while (tprev < deadline) {
		dev->watch_reads++;
		if (energy_read(api, dev, &cur, &tcur, NULL) != NVML_SUCCESS)
			return -1;
		if (cur != prev) {
			*step_ns = tprev + (tcur - tprev) / 2;
			*unc_ns = (tcur - tprev) / 2;
			*mj = cur;
			return 0;
		}
		prev = cur;
		tprev = tcur;
	}
	return -1;
}

/* Gives up locking: read at every sample from now on, and say so. */
static void fall_back_to_every(struct nv_dev *dev, struct source_info *si, const char *why)
{
	dev->policy = NV_EVERY;
	si->shape_with_power = 0;
	source_add_note(si, why);
}

/* How far off a step predicted n periods after the phase may be (half-width, ns). */
static int64_t prediction_unc(const struct nv_dev *dev, int64_t n)
{
	return n * dev->period_unc_ns + dev->phase_unc_ns + 2 * NS_PER_MS;
}

/*
 * Plans the next re-synchronisation as far ahead as the period estimate
 * allows: while a predicted step is still good to 8 ms (or a quarter
 * period), which keeps the knots of sparse reads within a few ms of their
 * steps. Each re-synchronisation lengthens the baseline the period is measured
 * over, so the horizon grows about 1.5x each time, up to SYNC_MAX_NS.
 */
static void schedule_sync(struct nv_dev *dev)
{
	int64_t n = 1, limit = dev->period_ns / 4 < 8 * NS_PER_MS ? dev->period_ns / 4 : 8 * NS_PER_MS;
	while (n * dev->period_ns < SYNC_MAX_NS && prediction_unc(dev, n + 1) < limit)
		n++;
	dev->next_sync_ns = dev->phase_ns + n * dev->period_ns - dev->period_ns / 2;
}

/*
 * Finds the counter's step phase and period: one step, then the next. Costs
 * about two step periods of back-to-back reads, once.
 */
static int search_phase(const struct nvml_api *api, struct nv_dev *dev, struct sample *s)
{
	int64_t s1, s2, u1, u2, period;
	unsigned long long mj;
	if (find_step(api, dev, clock_now_ns() + 300 * NS_PER_MS, &s1, &u1, &mj) < 0)
		return -1;
	/* sleep to just before the next step (if the period is the usual ~100 ms), then watch for it */
	clock_sleep_until_ns(s1 + 60 * NS_PER_MS);
	if (find_step(api, dev, s1 + 1100 * NS_PER_MS, &s2, &u2, &mj) < 0)
		return -1;
	period = s2 - s1;
	if (period < 5 * NS_PER_MS || period > NS_PER_S)
		return -1;
	dev->period_ns = period;
	dev->period_unc_ns = u1 + u2;
	dev->ref_step_ns = s1;
	dev->ref_unc_ns = u1;
	dev->phase_ns = s2;
	dev->phase_unc_ns = u2;
	dev->policy = NV_LOCKED;
	schedule_sync(dev);
	dev->next_read_ns = s2 + dev->read_interval_ns;
	s->energy_j = (double)mj / 1000.0;
	s->energy_t_ns = s2;
	s->valid |= SAMPLE_ENERGY;
	dev->last_mj = mj;
	dev->last_step_ns = s2;
	dev->have_last = 1;
	return 0;
}

/* The time of the last predicted step at or before t. */
static int64_t step_before(const struct nv_dev *dev, int64_t t)
{
	int64_t k = (t - dev->phase_ns) / dev->period_ns;
	if (t < dev->phase_ns + k * dev->period_ns)
		k--;
	return dev->phase_ns + k * dev->period_ns;
}

/*
 * Re-synchronises on the next predicted step: sleeps to just before it and
 * watches it happen. The observed step refines the phase and, measured from
 * the first step seen, the period.
 */
static int resync(const struct nvml_api *api, struct nv_dev *dev, struct sample *s)
{
	int64_t now = clock_now_ns(), pred, obs, u, n, margin;
	unsigned long long mj;
	pred = step_before(dev, now) + dev->period_ns;
	n = (pred - dev->phase_ns + dev->period_ns / 2) / dev->period_ns;
	margin = prediction_unc(dev, n) + 4 * NS_PER_MS;
	if (pred - now < margin) {
		pred += dev->period_ns;
		n++;
		margin = prediction_unc(dev, n) + 4 * NS_PER_MS;
	}
	for (int tries = 0;; tries++) {
		if (margin > dev->period_ns / 2 || tries == 4)
			return -1; /* the estimate cannot say which step is which any more */
		clock_sleep_until_ns(pred - margin);
		if (clock_now_ns() < pred - margin / 2)
			break;
		/* woke too late (a loaded machine): watch the step after instead */
		pred += dev->period_ns;
		n++;
		margin = prediction_unc(dev, n) + 4 * NS_PER_MS;
	}
	if (find_step(api, dev, pred + margin, &obs, &u, &mj) < 0)
		return -1;
	n = (obs - dev->ref_step_ns + dev->period_ns / 2) / dev->period_ns;
	if (n > 0) {
		dev->period_ns = (obs - dev->ref_step_ns) / n;
		dev->period_unc_ns = (dev->ref_unc_ns + u) / n;
	}
	dev->phase_ns = obs;
	dev->phase_unc_ns = u;
	dev->failures = 0;
	schedule_sync(dev);
	if (!dev->have_last || mj != dev->last_mj) {
		s->energy_j = (double)mj / 1000.0;
		s->energy_t_ns = obs;
		s->valid |= SAMPLE_ENERGY;
	}
	dev->last_mj = mj;
	dev->last_step_ns = obs;
	dev->have_last = 1;
	if (dev->next_read_ns < obs + dev->period_ns)
		dev->next_read_ns = obs + dev->period_ns; /* this step is already a knot */
	return 0;
}

/*
 * A sparse read, when one is due and the read will land well inside a step
 * interval (so its value is the one set at that interval's starting step).
 */
static int locked_read(const struct nvml_api *api, struct nv_dev *dev, struct sample *s)
{
	int64_t now = clock_now_ns(), guard, step, mid, span;
	unsigned long long mj;
	nvml_return rc;
	if (now < dev->next_read_ns)
		return 0;
	step = step_before(dev, now);
	guard = prediction_unc(dev, (step - dev->phase_ns) / dev->period_ns + 1) + 3 * NS_PER_MS;
	if (guard < dev->period_ns / 8)
		guard = dev->period_ns / 8;
	if (2 * guard + 5 * NS_PER_MS > dev->period_ns) {
		dev->next_sync_ns = now; /* predictions too loose to place a read: re-synchronise first */
		return 0;
	}
	if (now - step < guard || step + dev->period_ns - now < guard + 5 * NS_PER_MS)
		return 0; /* too near a step: the next sample will be better placed */
	if (dev->have_last && step < dev->last_step_ns + dev->period_ns / 2)
		return 0; /* that step's value is already a knot */
	dev->sparse_reads++;
	rc = energy_read(api, dev, &mj, &mid, &span);
	if (rc != NVML_SUCCESS)
		return -1;
	/*
	 * The value may have been taken anywhere in the call, so the whole call,
	 * not only its midpoint, must lie inside the step interval: a call that
	 * a busy machine stretched across a step is ambiguous, and is skipped.
	 */
	if (mid - span / 2 - step < guard / 2 || step + dev->period_ns - (mid + span / 2) < guard / 2)
		return 0;
	if (dev->have_last && mj == dev->last_mj) {
		dev->policy = NV_SEARCH; /* a later step, yet the counter did not move: phase lost */
		return 0;
	}
	s->energy_j = (double)mj / 1000.0;
	s->energy_t_ns = step;
	s->valid |= SAMPLE_ENERGY;
	dev->last_mj = mj;
	dev->last_step_ns = step;
	dev->have_last = 1;
	dev->next_read_ns += dev->read_interval_ns;
	if (dev->next_read_ns < now)
		dev->next_read_ns = now + dev->read_interval_ns;
	return 0;
}

static void release(struct backend_instance *inst)
{
	struct nv_priv *p = inst->priv;
	if (p) {
		if (p->initialised)
			p->api.shutdown();
		if (p->dl)
			dlclose(p->dl);
		free(p->devs);
		free(p);
	}
	free(inst->sources);
	inst->sources = NULL;
	inst->nsources = 0;
	inst->priv = NULL;
}

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	const char *env = getenv("IPW_NVML_LIBRARY");
	const char *lib = env && *env ? env : DEFAULT_LIBRARY;
	struct nv_priv *p = xcalloc(1, sizeof(*p));
	char driver[96] = "";
	unsigned int n = 0;
	nvml_return rc;
	int ret = -1;
	(void)opts;

	inst->priv = p;
	p->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl) {
		const char *why = dlerror();
		err_set(err, errlen,
			"%s not found (dlopen: %s): install the NVIDIA driver, or set IPW_NVML_LIBRARY "
			"to the library's path", lib, why ? why : "unknown error");
		goto out;
	}
	if (load_symbols(p->dl, &p->api, err, errlen) < 0)
		goto out;
	if ((rc = p->api.init()) != NVML_SUCCESS) {
		err_set(err, errlen, "nvmlInit failed: %s (is the NVIDIA kernel driver loaded? try nvidia-smi)",
			nv_strerror(&p->api, rc));
		goto out;
	}
	p->initialised = 1;
	if ((rc = p->api.get_count(&n)) != NVML_SUCCESS) {
		err_set(err, errlen, "nvmlDeviceGetCount failed: %s", nv_strerror(&p->api, rc));
		goto out;
	}
	if (n == 0) {
		err_set(err, errlen, "NVML found no NVIDIA GPU");
		goto out;
	}
	if (p->api.driver_version) {
		char v[80];
		if (p->api.driver_version(v, sizeof(v)) == NVML_SUCCESS)
			snprintf(driver, sizeof(driver), "driver %s", v);
	}
	inst->sources = xcalloc(n, sizeof(*inst->sources));
	p->devs = xcalloc(n, sizeof(*p->devs));
	for (unsigned int i = 0; i < n; i++) {
		nvml_device d;
		if ((rc = p->api.get_handle(i, &d)) != NVML_SUCCESS) {
			err_set(err, errlen, "nvmlDeviceGetHandleByIndex(%u) failed: %s "
				"(a GPU may be lost or need a reset; see nvidia-smi)", i, nv_strerror(&p->api, rc));
			goto out;
		}
		probe_device(p, i, d, driver, &inst->sources[i], &p->devs[i]);
	}
	inst->nsources = (int)n;
	ret = 0;
out:
	if (ret < 0)
		release(inst);
	return ret;
}

/*
 * Advances a device's read policy by one sample: searches for the counter's
 * phase, re-synchronises on it, or makes a sparse read when one is due.
 * Returns what the sparse read gave (-1 on failure), else NVML_SUCCESS.
 */
static nvml_return advance_policy(const struct nvml_api *api, struct nv_dev *dev, struct source_info *si,
				  struct sample *s)
{
	if (dev->policy == NV_SEARCH && search_phase(api, dev, s) < 0 && ++dev->failures >= MAX_FAILURES) {
		fall_back_to_every(dev, si, "no regular counter steps found: counter read at every sample");
	} else if (dev->policy == NV_LOCKED && clock_now_ns() >= dev->next_sync_ns && resync(api, dev, s) < 0) {
		dev->policy = NV_SEARCH; /* the steps moved away from the prediction: search again */
		if (++dev->failures >= MAX_FAILURES)
			fall_back_to_every(dev, si, "counter steps irregular: counter read at every sample");
	} else if (dev->policy == NV_LOCKED && !(s->valid & SAMPLE_ENERGY)) {
		return locked_read(api, dev, s) < 0 ? -1 : NVML_SUCCESS;
	}
	return NVML_SUCCESS;
}

/* The power reading: the instant field 186, else NVML's average. */
static void read_power(const struct nvml_api *api, const struct nv_dev *dev, struct sample *s)
{
	unsigned int u;
	if (dev->has_instant) {
		if (read_instant(api, dev->handle, &s->power_w) == 0)
			s->valid |= SAMPLE_POWER;
	} else if (dev->has_average && api->get_power(dev->handle, &u) == NVML_SUCCESS) {
		s->power_w = u / 1000.0;
		s->valid |= SAMPLE_POWER;
	}
}

/*
 * Between knots the power field shapes the energy; where the power moves a
 * lot, that shape matters most, so a marked change earns a knot at the next
 * well-placed instant (query starts and ends).
 */
static void knot_on_power_change(struct nv_dev *dev, const struct sample *s)
{
	if (dev->policy != NV_LOCKED || !(s->valid & SAMPLE_POWER))
		return;
	if (s->valid & SAMPLE_ENERGY)
		dev->knot_power_w = s->power_w;
	else if (isfinite(dev->knot_power_w) &&
		 fabs(s->power_w - dev->knot_power_w) > fmax(NV_CHANGE_SHARE * dev->knot_power_w, NV_CHANGE_MIN_W) &&
		 dev->next_read_ns > clock_now_ns() + dev->period_ns) {
		dev->next_read_ns = clock_now_ns();
		dev->knot_power_w = s->power_w; /* one extra knot per change, not one per sample */
	}
}

/* Temperature and memory change slowly: read them every SLOW_EVERY samples. */
static void read_slow(const struct nvml_api *api, struct nv_dev *dev, struct sample *s)
{
	unsigned int u;
	struct nvml_memory mem;
	if (dev->nread++ % SLOW_EVERY != 0)
		return;
	if (dev->has_temp && api->get_temp(dev->handle, NVML_TEMPERATURE_GPU, &u) == NVML_SUCCESS) {
		s->temp_c = u;
		s->valid |= SAMPLE_TEMP;
	}
	if (dev->has_memory && api->get_memory(dev->handle, &mem) == NVML_SUCCESS) {
		s->mem_used_bytes = (double)mem.used;
		s->mem_total_bytes = (double)mem.total;
		s->valid |= SAMPLE_MEM_USED | SAMPLE_MEM_TOTAL;
	}
}

/* One device's sample; returns the energy read's status (NVML_SUCCESS when none failed). */
static nvml_return read_device(const struct nvml_api *api, struct nv_dev *dev, struct source_info *si,
			       struct sample *s)
{
	unsigned long long mj;
	int64_t t0, t1 = 0;
	nvml_return rc = advance_policy(api, dev, si, s);
	t0 = clock_now_ns();
	if (dev->has_energy && dev->policy == NV_EVERY) {
		rc = api->get_energy(dev->handle, &mj);
		t1 = clock_now_ns();
		dev->energy_reads++;
		if (rc == NVML_SUCCESS) {
			s->energy_j = (double)mj / 1000.0;
			s->valid |= SAMPLE_ENERGY;
		}
	}
	read_power(api, dev, s);
	if (!dev->has_energy || dev->policy != NV_EVERY)
		t1 = clock_now_ns(); /* the power read is what this sample's time stamps */
	knot_on_power_change(dev, s);
	sample_stamp(s, t0, t1);
	read_slow(api, dev, s);
	return rc;
}

/*
 * Reads every selected device. The energy counter read blocks (~4 ms on an
 * H200), so each device's sample is stamped at the midpoint of its own energy
 * read; power, temperature and memory are cached values and cost microseconds.
 */
static int sample_read(struct backend_instance *inst, struct sample *out, char *err, size_t errlen)
{
	struct nv_priv *p = inst->priv;
	const struct nvml_api *api = &p->api;
	int ret = 0;
	for (int i = 0; i < inst->nsources; i++) {
		nvml_return rc;
		if (!inst->sources[i].selected)
			continue;
		rc = read_device(api, &p->devs[i], &inst->sources[i], &out[i]);
		if (rc != NVML_SUCCESS && ret == 0)
			ret = err_set(err, errlen, "%s: energy read failed: %s", inst->sources[i].name,
				      nv_strerror(api, rc));
	}
	return ret;
}

const struct telemetry_backend telemetry_nvidia = {
	.name = "nvidia",
	.description = "NVIDIA GPUs through NVML (energy counter, instantaneous power)",
	/*
	 * The counter steps every ~100 ms and a read costs ~4 ms of blocking I/O:
	 * 20 ms gives five reads per step, so each step is placed within +-10 ms,
	 * at ~20% of the sampler thread's wall time and well under 1% of a core.
	 */
	.default_interval_ms = 20,
	.probe = probe,
	.read = sample_read,
	.release = release,
	.visible_devices_env = (const char *const[]){"CUDA_VISIBLE_DEVICES", NULL},
	.device_order_env = "CUDA_DEVICE_ORDER",
};

int nvidia_read_counts(const struct backend_instance *inst, int source, struct nvidia_read_counts *out)
{
	const struct nv_priv *p;
	const struct nv_dev *d;

	memset(out, 0, sizeof(*out));
	if (!inst || inst->ops != &telemetry_nvidia || !inst->present || !inst->priv || source < 0 ||
	    source >= inst->nsources)
		return -1;
	p = inst->priv;
	d = &p->devs[source];
	out->watches = d->watches;
	out->watch_reads = d->watch_reads;
	out->sparse_reads = d->sparse_reads;
	out->every_reads = d->energy_reads - d->watch_reads - d->sparse_reads;
	return 0;
}
