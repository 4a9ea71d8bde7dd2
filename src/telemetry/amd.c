/*
 * telemetry/amd.c - AMD GPUs: amdsmi first, then ROCm SMI (both by dlopen with
 * the few types declared here), then the amdgpu hwmon files in sysfs. Energy
 * comes from the cumulative counter (counter x resolution uJ) where there is
 * one; otherwise instantaneous power is integrated. See docs/platform-amd.md.
 */
#include "../telemetry_backend.h"

#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../clock.h"

enum amd_via { VIA_AMDSMI, VIA_ROCMSMI, VIA_HWMON };

/* amdsmi (amdsmi.h subset; struct layouts of the ROCm 6.1+ header) */
#define AMDSMI_INIT_AMD_GPUS (1u << 1)
#define AMDSMI_TEMP_EDGE 0
#define AMDSMI_TEMP_HOTSPOT 1
#define AMDSMI_TEMP_CURRENT 0

struct amdsmi_api {
	int (*init)(uint64_t);
	int (*shut_down)(void);
	int (*status_string)(int, const char **);
	int (*sockets)(uint32_t *, void **);
	int (*processors)(void *, uint32_t *, void **);
	int (*energy)(void *, uint64_t *, float *, uint64_t *);
	int (*power_info)(void *, void *);
	int (*temp)(void *, int, int, int64_t *);
	int (*vram)(void *, void *);
	int (*asic_info)(void *, void *);
	int (*uuid)(void *, unsigned int *, char *);
	int (*bdf)(void *, uint64_t *);
};

/* ROCm SMI (rocm_smi.h subset) */
#define RSMI_CURRENT_POWER 1
#define RSMI_MEM_TYPE_VRAM 0

struct rsmi_api {
	int (*init)(uint64_t);
	int (*shut_down)(void);
	int (*status_string)(int, const char **);
	int (*count)(uint32_t *);
	int (*energy)(uint32_t, uint64_t *, float *, uint64_t *);
	int (*power)(uint32_t, uint64_t *, int *);
	int (*power_ave)(uint32_t, uint32_t, uint64_t *);
	int (*temp)(uint32_t, uint32_t, int, int64_t *);
	int (*mem_used)(uint32_t, int, uint64_t *);
	int (*mem_total)(uint32_t, int, uint64_t *);
	int (*name)(uint32_t, char *, size_t);
	int (*unique_id)(uint32_t, uint64_t *);
	int (*pci_id)(uint32_t, uint64_t *);
	int (*power_cap)(uint32_t, uint32_t, uint64_t *);
};

struct amd_dev {
	void *handle;        /* amdsmi processor handle */
	uint32_t ind;        /* ROCm SMI device index */
	char *hwmon;         /* hwmon directory (hwmon fallback) */
	char *dev;           /* card's device directory (hwmon fallback) */
	int has_energy, has_power, power_average, has_temp, temp_sensor, has_mem;
};

struct amd_priv {
	enum amd_via via;
	void *dl;
	int initialised;
	struct amdsmi_api a;
	struct rsmi_api r;
	struct amd_dev *devs; /* parallel to inst->sources */
};

struct sym {
	const char *name;
	size_t off;
	int required;
};

/* Resolves syms into the table at api; returns the first missing required name or NULL. */
static const char *load_syms(void *dl, void *api, const struct sym *syms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(dl, syms[i].name);
		if (!p && syms[i].required)
			return syms[i].name;
		memcpy((char *)api + syms[i].off, &p, sizeof(p));
	}
	return NULL;
}

static void init_source(struct source_info *s, int index, const char *driver)
{
	snprintf(s->name, sizeof(s->name), "amd:%d", index);
	snprintf(s->backend, sizeof(s->backend), "amd");
	source_copy_str(s->driver, sizeof(s->driver), driver);
	s->kind = SOURCE_GPU;
	s->scope = SCOPE_ACCELERATOR;
	s->index = index;
	s->power_kind = POWER_NONE;
	s->power_limit_w = NAN;
	s->mem_total_bytes = NAN;
	s->energy_wrap_j = 0;       /* 64-bit accumulators */
	s->counter_update_s = NAN;  /* firmware-dependent: the step-midpoint rule is used */
	snprintf(s->model, sizeof(s->model), "AMD GPU");
}

static void finish_source(struct source_info *s, const struct amd_dev *d)
{
	if (!d->has_energy && !(d->has_power && !d->power_average))
		source_add_note(s, "no energy: neither an energy counter nor instantaneous power");
}

/* ---------------- amdsmi ---------------- */

static const char *amdsmi_err(const struct amd_priv *p, int rc)
{
	const char *s = NULL;
	if (p->a.status_string && p->a.status_string(rc, &s) == 0 && s)
		return s;
	return "amdsmi error";
}

/* Power in watts from amdsmi_power_info_t (current layout: u64 socket_power, u32 current, u32 average). */
static int amdsmi_power(const struct amd_priv *p, void *h, double *w, int *average)
{
	uint64_t buf[64];
	uint32_t cur, avg;
	memset(buf, 0, sizeof(buf));
	if (p->a.power_info(h, buf) != 0)
		return -1;
	memcpy(&cur, (char *)buf + 8, 4);
	memcpy(&avg, (char *)buf + 12, 4);
	if (cur != UINT32_MAX && cur > 0 && cur < 100000) {
		*w = cur;
		*average = 0;
		return 0;
	}
	if (avg != UINT32_MAX && avg > 0 && avg < 100000) {
		*w = avg;
		*average = 1;
		return 0;
	}
	return -1;
}

static int amdsmi_temp(const struct amd_priv *p, void *h, int sensor, double *c)
{
	int64_t v;
	if (p->a.temp(h, sensor, AMDSMI_TEMP_CURRENT, &v) != 0)
		return -1;
	*c = (double)v; /* degrees C */
	return 0;
}

static int amdsmi_mem(const struct amd_priv *p, void *h, double *used, double *total)
{
	uint32_t buf[16]; /* amdsmi_vram_usage_t: vram_total, vram_used (MB), reserved */
	memset(buf, 0, sizeof(buf));
	if (p->a.vram(h, buf) != 0)
		return -1;
	*total = buf[0] * 1048576.0;
	*used = buf[1] * 1048576.0;
	return 0;
}

/* Opens libamd_smi and initialises it for AMD GPUs. */
static int amdsmi_open(struct amd_priv *p, char *err, size_t errlen)
{
	static const struct sym syms[] = {
#define SYM(f, n, r) {n, offsetof(struct amdsmi_api, f), r}
		SYM(init, "amdsmi_init", 1),
		SYM(shut_down, "amdsmi_shut_down", 1),
		SYM(sockets, "amdsmi_get_socket_handles", 1),
		SYM(processors, "amdsmi_get_processor_handles", 1),
		SYM(status_string, "amdsmi_status_code_to_string", 0),
		SYM(energy, "amdsmi_get_energy_count", 0),
		SYM(power_info, "amdsmi_get_power_info", 0),
		SYM(temp, "amdsmi_get_temp_metric", 0),
		SYM(vram, "amdsmi_get_gpu_vram_usage", 0),
		SYM(asic_info, "amdsmi_get_gpu_asic_info", 0),
		SYM(uuid, "amdsmi_get_gpu_device_uuid", 0),
		SYM(bdf, "amdsmi_get_gpu_device_bdf", 0),
#undef SYM
	};
	const char *env = getenv("IPW_AMDSMI_LIBRARY");
	const char *lib = env && *env ? env : "libamd_smi.so";
	const char *missing;
	int rc;
	p->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl)
		return err_set(err, errlen, "%s not found", lib);
	if ((missing = load_syms(p->dl, &p->a, syms, sizeof(syms) / sizeof(syms[0]))))
		return err_set(err, errlen, "%s has no %s", lib, missing);
	if ((rc = p->a.init(AMDSMI_INIT_AMD_GPUS)) != 0)
		return err_set(err, errlen, "amdsmi_init failed: %s", amdsmi_err(p, rc));
	p->initialised = 1;
	return 0;
}

/* The processor handles of every socket, in order; *procs is the caller's to free. */
static int amdsmi_list(struct amd_priv *p, void ***procs, uint32_t *ndev, char *err, size_t errlen)
{
	uint32_t nsock = 0;
	void **socks = NULL;
	int rc, ret = -1;
	*procs = NULL;
	*ndev = 0;
	if ((rc = p->a.sockets(&nsock, NULL)) != 0) {
		err_set(err, errlen, "amdsmi_get_socket_handles failed: %s", amdsmi_err(p, rc));
		goto out;
	}
	socks = xcalloc(nsock ? nsock : 1, sizeof(*socks));
	if (nsock && (rc = p->a.sockets(&nsock, socks)) != 0) {
		err_set(err, errlen, "amdsmi_get_socket_handles failed: %s", amdsmi_err(p, rc));
		goto out;
	}
	for (uint32_t s = 0; s < nsock; s++) {
		uint32_t n = 0;
		if (p->a.processors(socks[s], &n, NULL) != 0 || !n)
			continue;
		*procs = xrealloc(*procs, (*ndev + n) * sizeof(**procs));
		if (p->a.processors(socks[s], &n, *procs + *ndev) == 0)
			*ndev += n;
	}
	if (!*ndev) {
		err_set(err, errlen, "amdsmi found no AMD GPU");
		goto out;
	}
	ret = 0;
out:
	free(socks);
	return ret;
}

/* Model, UUID and PCI bus id of one amdsmi device. */
static void amdsmi_identity(const struct amd_priv *p, struct source_info *s, struct amd_dev *d)
{
	char buf[4096];
	unsigned int len;
	uint64_t u;
	memset(buf, 0, sizeof(buf));
	if (p->a.asic_info && p->a.asic_info(d->handle, buf) == 0 && buf[0]) /* market_name is first */
		source_copy_str(s->model, sizeof(s->model), buf);
	len = sizeof(s->uuid);
	memset(buf, 0, sizeof(buf));
	if (p->a.uuid && p->a.uuid(d->handle, &len, buf) == 0)
		source_copy_str(s->uuid, sizeof(s->uuid), buf);
	if (p->a.bdf && p->a.bdf(d->handle, &u) == 0)
		snprintf(s->pci_bus_id, sizeof(s->pci_bus_id), "%04llx:%02llx:%02llx.%llx",
			 (unsigned long long)(u >> 16), (unsigned long long)((u >> 8) & 0xff),
			 (unsigned long long)((u >> 3) & 0x1f), (unsigned long long)(u & 7));
}

/* Temperature: the edge sensor, else the hotspot. */
static void amdsmi_pick_temp(const struct amd_priv *p, struct source_info *s, struct amd_dev *d)
{
	double c;
	if (!p->a.temp)
		return;
	if (amdsmi_temp(p, d->handle, AMDSMI_TEMP_EDGE, &c) == 0) {
		d->has_temp = 1;
		d->temp_sensor = AMDSMI_TEMP_EDGE;
	} else if (amdsmi_temp(p, d->handle, AMDSMI_TEMP_HOTSPOT, &c) == 0) {
		d->has_temp = 1;
		d->temp_sensor = AMDSMI_TEMP_HOTSPOT;
	}
	if (d->has_temp)
		s->caps |= CAP_TEMPERATURE;
}

/* Which of energy, power, temperature and memory one amdsmi device reports. */
static void amdsmi_caps(const struct amd_priv *p, struct source_info *s, struct amd_dev *d)
{
	uint64_t u, cnt;
	float res;
	double w, used, total;
	int avg;
	if (p->a.energy && p->a.energy(d->handle, &cnt, &res, &u) == 0 && res > 0) {
		d->has_energy = 1;
		s->caps |= CAP_ENERGY;
	} else {
		source_add_note(s, "no energy counter (amdsmi_get_energy_count failed)");
	}
	if (p->a.power_info && amdsmi_power(p, d->handle, &w, &avg) == 0) {
		d->has_power = 1;
		d->power_average = avg;
		s->caps |= CAP_POWER;
		s->power_kind = avg ? POWER_AVERAGE : POWER_INSTANT;
		source_add_note(s, avg ? "power is amdsmi's average socket power (whole watts), never integrated"
				: "power is amdsmi's current socket power (whole watts)");
	}
	amdsmi_pick_temp(p, s, d);
	if (p->a.vram && amdsmi_mem(p, d->handle, &used, &total) == 0) {
		d->has_mem = 1;
		s->caps |= CAP_MEMORY;
		s->mem_total_bytes = total;
	}
}

static int probe_amdsmi(struct backend_instance *inst, struct amd_priv *p, char *err, size_t errlen)
{
	uint32_t ndev = 0;
	void **procs = NULL;
	int ret = -1;
	if (amdsmi_open(p, err, errlen) < 0 || amdsmi_list(p, &procs, &ndev, err, errlen) < 0)
		goto out;
	inst->sources = xcalloc(ndev, sizeof(*inst->sources));
	p->devs = xcalloc(ndev, sizeof(*p->devs));
	for (uint32_t i = 0; i < ndev; i++) {
		struct source_info *s = &inst->sources[i];
		struct amd_dev *d = &p->devs[i];
		d->handle = procs[i];
		init_source(s, (int)i, "amdsmi");
		amdsmi_identity(p, s, d);
		amdsmi_caps(p, s, d);
		finish_source(s, d);
	}
	inst->nsources = (int)ndev;
	ret = 0;
out:
	free(procs);
	return ret;
}

static void read_amdsmi(struct amd_priv *p, struct amd_dev *d, struct sample *s)
{
	uint64_t cnt, ts;
	float res;
	double w, used, total;
	int avg;
	int64_t t0 = clock_now_ns(), t1;
	if (d->has_energy && p->a.energy(d->handle, &cnt, &res, &ts) == 0) {
		s->energy_j = (double)cnt * (double)res * 1e-6;
		s->valid |= SAMPLE_ENERGY;
	}
	if (d->has_power && amdsmi_power(p, d->handle, &w, &avg) == 0) {
		s->power_w = w;
		s->valid |= SAMPLE_POWER;
	}
	t1 = clock_now_ns();
	sample_stamp(s, t0, t1);
	if (d->has_temp && amdsmi_temp(p, d->handle, d->temp_sensor, &s->temp_c) == 0)
		s->valid |= SAMPLE_TEMP;
	if (d->has_mem && amdsmi_mem(p, d->handle, &used, &total) == 0) {
		s->mem_used_bytes = used;
		s->mem_total_bytes = total;
		s->valid |= SAMPLE_MEM_USED | SAMPLE_MEM_TOTAL;
	}
}

/* ---------------- ROCm SMI ---------------- */

static const char *rsmi_err(const struct amd_priv *p, int rc)
{
	const char *s = NULL;
	if (p->r.status_string && p->r.status_string(rc, &s) == 0 && s)
		return s;
	return "ROCm SMI error";
}

/* Power in watts: rsmi_dev_power_get (says whether current or average), else the average. */
static int rsmi_power(const struct amd_priv *p, uint32_t i, double *w, int *average)
{
	uint64_t uw;
	int type = -1;
	if (p->r.power && p->r.power(i, &uw, &type) == 0) {
		*w = uw / 1e6;
		*average = type != RSMI_CURRENT_POWER;
		return 0;
	}
	if (p->r.power_ave && p->r.power_ave(i, 0, &uw) == 0) {
		*w = uw / 1e6;
		*average = 1;
		return 0;
	}
	return -1;
}

/* Opens librocm_smi64 and initialises it. */
static int rocmsmi_open(struct amd_priv *p, char *err, size_t errlen)
{
	static const struct sym syms[] = {
#define SYM(f, n, r) {n, offsetof(struct rsmi_api, f), r}
		SYM(init, "rsmi_init", 1),
		SYM(shut_down, "rsmi_shut_down", 1),
		SYM(count, "rsmi_num_monitor_devices", 1),
		SYM(status_string, "rsmi_status_string", 0),
		SYM(energy, "rsmi_dev_energy_count_get", 0),
		SYM(power, "rsmi_dev_power_get", 0),
		SYM(power_ave, "rsmi_dev_power_ave_get", 0),
		SYM(temp, "rsmi_dev_temp_metric_get", 0),
		SYM(mem_used, "rsmi_dev_memory_usage_get", 0),
		SYM(mem_total, "rsmi_dev_memory_total_get", 0),
		SYM(name, "rsmi_dev_name_get", 0),
		SYM(unique_id, "rsmi_dev_unique_id_get", 0),
		SYM(pci_id, "rsmi_dev_pci_id_get", 0),
		SYM(power_cap, "rsmi_dev_power_cap_get", 0),
#undef SYM
	};
	const char *env = getenv("IPW_ROCMSMI_LIBRARY");
	const char *lib = env && *env ? env : "librocm_smi64.so";
	const char *missing;
	int rc;
	p->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl)
		return err_set(err, errlen, "%s not found", lib);
	if ((missing = load_syms(p->dl, &p->r, syms, sizeof(syms) / sizeof(syms[0]))))
		return err_set(err, errlen, "%s has no %s", lib, missing);
	if ((rc = p->r.init(0)) != 0)
		return err_set(err, errlen, "rsmi_init failed: %s", rsmi_err(p, rc));
	p->initialised = 1;
	return 0;
}

/* Model, UUID, PCI bus id and power limit of one ROCm SMI device. */
static void rocmsmi_identity(const struct amd_priv *p, struct source_info *s, uint32_t i)
{
	char buf[256];
	uint64_t u;
	if (p->r.name && p->r.name(i, buf, sizeof(buf)) == 0 && buf[0])
		source_copy_str(s->model, sizeof(s->model), buf);
	if (p->r.unique_id && p->r.unique_id(i, &u) == 0)
		snprintf(s->uuid, sizeof(s->uuid), "GPU-%016llx", (unsigned long long)u);
	if (p->r.pci_id && p->r.pci_id(i, &u) == 0)
		snprintf(s->pci_bus_id, sizeof(s->pci_bus_id), "%04llx:%02llx:%02llx.%llx",
			 (unsigned long long)(u >> 32), (unsigned long long)((u >> 8) & 0xff),
			 (unsigned long long)((u >> 3) & 0x1f), (unsigned long long)(u & 7));
	if (p->r.power_cap && p->r.power_cap(i, 0, &u) == 0)
		s->power_limit_w = u / 1e6;
}

/* Which of energy, power, temperature and memory one ROCm SMI device reports. */
static void rocmsmi_caps(const struct amd_priv *p, struct source_info *s, struct amd_dev *d, uint32_t i)
{
	uint64_t u, cnt;
	float res;
	int64_t tc;
	double w;
	int avg;
	if (p->r.energy && p->r.energy(i, &cnt, &res, &u) == 0 && res > 0) {
		d->has_energy = 1;
		s->caps |= CAP_ENERGY;
	} else {
		source_add_note(s, "no energy counter (rsmi_dev_energy_count_get failed)");
	}
	if (rsmi_power(p, i, &w, &avg) == 0) {
		d->has_power = 1;
		d->power_average = avg;
		s->caps |= CAP_POWER;
		s->power_kind = avg ? POWER_AVERAGE : POWER_INSTANT;
		if (avg)
			source_add_note(s, "power is ROCm SMI's average power, never integrated");
	}
	for (uint32_t sensor = 0; p->r.temp && sensor < 2 && !d->has_temp; sensor++)
		if (p->r.temp(i, sensor, 0, &tc) == 0) {
			d->has_temp = 1;
			d->temp_sensor = (int)sensor;
			s->caps |= CAP_TEMPERATURE;
		}
	if (p->r.mem_used && p->r.mem_total && p->r.mem_total(i, RSMI_MEM_TYPE_VRAM, &u) == 0) {
		d->has_mem = 1;
		s->caps |= CAP_MEMORY;
		s->mem_total_bytes = (double)u;
	}
}

static int probe_rocmsmi(struct backend_instance *inst, struct amd_priv *p, char *err, size_t errlen)
{
	uint32_t n = 0;
	int rc;
	if (rocmsmi_open(p, err, errlen) < 0)
		return -1;
	if ((rc = p->r.count(&n)) != 0)
		return err_set(err, errlen, "rsmi_num_monitor_devices failed: %s", rsmi_err(p, rc));
	if (!n)
		return err_set(err, errlen, "ROCm SMI found no AMD GPU");
	inst->sources = xcalloc(n, sizeof(*inst->sources));
	p->devs = xcalloc(n, sizeof(*p->devs));
	for (uint32_t i = 0; i < n; i++) {
		struct source_info *s = &inst->sources[i];
		struct amd_dev *d = &p->devs[i];
		d->ind = i;
		init_source(s, (int)i, "rocm-smi");
		rocmsmi_identity(p, s, i);
		rocmsmi_caps(p, s, d, i);
		finish_source(s, d);
	}
	inst->nsources = (int)n;
	return 0;
}

static void read_rocmsmi(struct amd_priv *p, struct amd_dev *d, struct sample *s)
{
	uint64_t cnt, ts, u;
	float res;
	int64_t tc, t0 = clock_now_ns(), t1;
	double w;
	int avg;
	if (d->has_energy && p->r.energy(d->ind, &cnt, &res, &ts) == 0) {
		s->energy_j = (double)cnt * (double)res * 1e-6;
		s->valid |= SAMPLE_ENERGY;
	}
	if (d->has_power && rsmi_power(p, d->ind, &w, &avg) == 0) {
		s->power_w = w;
		s->valid |= SAMPLE_POWER;
	}
	t1 = clock_now_ns();
	sample_stamp(s, t0, t1);
	if (d->has_temp && p->r.temp(d->ind, (uint32_t)d->temp_sensor, 0, &tc) == 0) {
		s->temp_c = tc / 1000.0; /* millidegrees */
		s->valid |= SAMPLE_TEMP;
	}
	if (d->has_mem && p->r.mem_used(d->ind, RSMI_MEM_TYPE_VRAM, &u) == 0) {
		s->mem_used_bytes = (double)u;
		s->valid |= SAMPLE_MEM_USED;
		if (p->r.mem_total(d->ind, RSMI_MEM_TYPE_VRAM, &u) == 0) {
			s->mem_total_bytes = (double)u;
			s->valid |= SAMPLE_MEM_TOTAL;
		}
	}
}

/* ---------------- hwmon ---------------- */

static int file_ll(const char *dir, const char *name, long long *v)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = read_file_ll(path, v);
	free(path);
	return rc;
}

static int file_str(const char *dir, const char *name, char *out, size_t n)
{
	char *path = xasprintf("%s/%s", dir, name);
	int rc = read_file_str(path, out, n);
	free(path);
	return rc;
}

static int card_number(const char *name)
{
	char *end;
	long v;
	if (strncmp(name, "card", 4) || !name[4])
		return -1;
	v = strtol(name + 4, &end, 10);
	return *end || v < 0 ? -1 : (int)v; /* "card0-DP-1" connectors are not cards */
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The first hwmon/hwmonN directory of a device, or NULL. */
static char *find_hwmon(const char *devdir)
{
	char *base = xasprintf("%s/hwmon", devdir), *found = NULL;
	DIR *d = opendir(base);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "hwmon", 5) && !found)
			found = xasprintf("%s/%s", base, e->d_name);
	if (d)
		closedir(d);
	free(base);
	return found;
}

/* PCI address of a card: the device link's name, else PCI_SLOT_NAME from uevent. */
static void card_pci(const char *devdir, char *out, size_t n)
{
	char link[512], uevent[2048], *p;
	ssize_t len = readlink(devdir, link, sizeof(link) - 1);
	if (len > 0) {
		link[len] = 0;
		p = strrchr(link, '/');
		source_copy_str(out, n, p ? p + 1 : link);
		return;
	}
	if (file_str(devdir, "uevent", uevent, sizeof(uevent)) == 0 && (p = strstr(uevent, "PCI_SLOT_NAME="))) {
		p += strlen("PCI_SLOT_NAME=");
		p[strcspn(p, "\n")] = 0;
		source_copy_str(out, n, p);
	}
}

/* The numbers N of the cardN entries under drm, sorted; -1 when drm cannot be read. */
static int list_cards(const char *drm, int **cards)
{
	DIR *dir = opendir(drm);
	struct dirent *e;
	int ncards = 0;
	*cards = NULL;
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		int c = card_number(e->d_name);
		if (c >= 0) {
			*cards = xrealloc(*cards, (size_t)(ncards + 1) * sizeof(**cards));
			(*cards)[ncards++] = c;
		}
	}
	closedir(dir);
	qsort(*cards, (size_t)ncards, sizeof(**cards), cmp_int);
	return ncards;
}

/* Power from hwmon: power1_input (instantaneous), else power1_average. */
static void hwmon_power(struct source_info *s, struct amd_dev *d)
{
	long long v;
	if (file_ll(d->hwmon, "power1_input", &v) == 0) {
		d->has_power = 1;
		s->caps |= CAP_POWER;
		s->power_kind = POWER_INSTANT;
		source_add_note(s, "power from hwmon power1_input (instantaneous)");
	} else if (file_ll(d->hwmon, "power1_average", &v) == 0) {
		d->has_power = 1;
		d->power_average = 1;
		s->caps |= CAP_POWER;
		s->power_kind = POWER_AVERAGE;
		source_add_note(s, "power from hwmon power1_average (firmware-averaged), never integrated");
	}
}

/* Describes card N whose device directory (d->dev) and hwmon directory are set. */
static void hwmon_describe(struct source_info *s, struct amd_dev *d, int card)
{
	const char *devdir = d->dev;
	char buf[256];
	long long v;
	snprintf(buf, sizeof(buf), "AMD GPU (card%d)", card);
	source_copy_str(s->model, sizeof(s->model), buf);
	if (file_str(devdir, "product_name", buf, sizeof(buf)) == 0 && buf[0])
		source_copy_str(s->model, sizeof(s->model), buf);
	if (file_str(devdir, "unique_id", buf, sizeof(buf)) == 0 && buf[0])
		snprintf(s->uuid, sizeof(s->uuid), "GPU-%.80s", buf);
	card_pci(devdir, s->pci_bus_id, sizeof(s->pci_bus_id));
	if (file_ll(d->hwmon, "energy1_input", &v) == 0) {
		d->has_energy = 1;
		s->caps |= CAP_ENERGY;
	}
	hwmon_power(s, d);
	if (file_ll(d->hwmon, "temp1_input", &v) == 0) {
		d->has_temp = 1;
		s->caps |= CAP_TEMPERATURE;
	}
	if (file_ll(devdir, "mem_info_vram_total", &v) == 0) {
		s->mem_total_bytes = (double)v;
		if (file_ll(devdir, "mem_info_vram_used", &v) == 0) {
			d->has_mem = 1;
			s->caps |= CAP_MEMORY;
		}
	}
	if (file_ll(d->hwmon, "power1_cap", &v) == 0 && v > 0)
		s->power_limit_w = v / 1e6;
}

static int probe_hwmon(struct backend_instance *inst, struct amd_priv *p, char *err, size_t errlen)
{
	char *drm = telemetry_sysfs_path("/sys/class/drm");
	int *cards = NULL, ncards, n = 0, ret = -1;
	ncards = list_cards(drm, &cards);
	if (ncards < 0) {
		err_set(err, errlen, "no amdgpu card under %s", drm);
		goto out;
	}
	inst->sources = xcalloc((size_t)(ncards ? ncards : 1), sizeof(*inst->sources));
	p->devs = xcalloc((size_t)(ncards ? ncards : 1), sizeof(*p->devs));
	for (int k = 0; k < ncards; k++) {
		char *devdir = xasprintf("%s/card%d/device", drm, cards[k]), vendor[32];
		struct source_info *s = &inst->sources[n];
		struct amd_dev *d = &p->devs[n];
		if (file_str(devdir, "vendor", vendor, sizeof(vendor)) < 0 || strcasecmp(vendor, "0x1002") ||
		    !(d->hwmon = find_hwmon(devdir))) {
			free(devdir);
			continue;
		}
		d->dev = devdir;
		init_source(s, n, "amdgpu hwmon");
		hwmon_describe(s, d, cards[k]);
		finish_source(s, d);
		n++;
	}
	inst->nsources = n;
	if (!n) {
		err_set(err, errlen, "no amdgpu card under %s", drm);
		goto out;
	}
	ret = 0;
out:
	free(cards);
	free(drm);
	return ret;
}

static void read_hwmon(struct amd_dev *d, struct sample *s)
{
	long long v;
	int64_t t0 = clock_now_ns(), t1;
	if (d->has_energy && file_ll(d->hwmon, "energy1_input", &v) == 0) {
		s->energy_j = v / 1e6; /* uJ */
		s->valid |= SAMPLE_ENERGY;
	}
	if (d->has_power &&
	    file_ll(d->hwmon, d->power_average ? "power1_average" : "power1_input", &v) == 0) {
		s->power_w = v / 1e6; /* uW */
		s->valid |= SAMPLE_POWER;
	}
	t1 = clock_now_ns();
	sample_stamp(s, t0, t1);
	if (d->has_temp && file_ll(d->hwmon, "temp1_input", &v) == 0) {
		s->temp_c = v / 1000.0; /* millidegrees */
		s->valid |= SAMPLE_TEMP;
	}
	if (d->has_mem && file_ll(d->dev, "mem_info_vram_used", &v) == 0) {
		s->mem_used_bytes = (double)v;
		s->valid |= SAMPLE_MEM_USED;
		if (file_ll(d->dev, "mem_info_vram_total", &v) == 0) {
			s->mem_total_bytes = (double)v;
			s->valid |= SAMPLE_MEM_TOTAL;
		}
	}
}

/* ---------------- the back-end ---------------- */

/* Undoes one attempt (library, sources) so the next method starts clean. */
static void reset_attempt(struct backend_instance *inst, struct amd_priv *p)
{
	if (p->initialised) {
		if (p->via == VIA_AMDSMI)
			p->a.shut_down();
		else if (p->via == VIA_ROCMSMI)
			p->r.shut_down();
	}
	if (p->dl)
		dlclose(p->dl);
	if (p->devs)
		for (int i = 0; i < inst->nsources; i++) {
			free(p->devs[i].hwmon);
			free(p->devs[i].dev);
		}
	free(p->devs);
	free(inst->sources);
	inst->sources = NULL;
	inst->nsources = 0;
	memset(p, 0, sizeof(*p));
}

static void release(struct backend_instance *inst)
{
	struct amd_priv *p = inst->priv;
	if (p) {
		reset_attempt(inst, p);
		free(p);
	}
	free(inst->sources);
	inst->sources = NULL;
	inst->nsources = 0;
	inst->priv = NULL;
}

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	struct amd_priv *p = xcalloc(1, sizeof(*p));
	char e1[IPW_ERRLEN] = "", e2[IPW_ERRLEN] = "", e3[IPW_ERRLEN] = "";
	(void)opts;
	inst->priv = p;
	p->via = VIA_AMDSMI;
	if (probe_amdsmi(inst, p, e1, sizeof(e1)) == 0)
		return 0;
	reset_attempt(inst, p);
	p->via = VIA_ROCMSMI;
	if (probe_rocmsmi(inst, p, e2, sizeof(e2)) == 0)
		return 0;
	reset_attempt(inst, p);
	p->via = VIA_HWMON;
	if (probe_hwmon(inst, p, e3, sizeof(e3)) == 0)
		return 0;
	release(inst);
	return err_set(err, errlen, "amdsmi: %s; ROCm SMI: %s; hwmon: %s (install ROCm, or set "
		       "IPW_AMDSMI_LIBRARY / IPW_ROCMSMI_LIBRARY to the library's path)", e1, e2, e3);
}

static int sample_read(struct backend_instance *inst, struct sample *out, char *err, size_t errlen)
{
	struct amd_priv *p = inst->priv;
	(void)err;
	(void)errlen;
	for (int i = 0; i < inst->nsources; i++) {
		if (!inst->sources[i].selected)
			continue;
		if (p->via == VIA_AMDSMI)
			read_amdsmi(p, &p->devs[i], &out[i]);
		else if (p->via == VIA_ROCMSMI)
			read_rocmsmi(p, &p->devs[i], &out[i]);
		else
			read_hwmon(&p->devs[i], &out[i]);
	}
	return 0;
}

const struct telemetry_backend telemetry_amd = {
	.name = "amd",
	.description = "AMD GPUs through amdsmi, ROCm SMI or amdgpu hwmon",
	/* reads are cheap (cached firmware metrics); 20 ms places counter steps within +-10 ms */
	.default_interval_ms = 20,
	.probe = probe,
	.read = sample_read,
	.release = release,
	.visible_devices_env = (const char *const[]){"HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", NULL},
};
