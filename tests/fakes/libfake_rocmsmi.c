/*
 * libfake_rocmsmi.c - a stand-in for librocm_smi64.so for the amd back-end's
 * tests: FAKE_ROCMSMI_DEVICES GPUs (default 1) at constant power 200 W + 50 W *
 * index, an energy counter in units of 15.3 uJ, temperature (millidegrees),
 * VRAM in bytes, and current power in microwatts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RES_UJ 15.3f

static struct {
	int inited;
	double t_init;
	uint32_t ndev;
} st;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double power_w(uint32_t d)
{
	return 200.0 + 50.0 * d;
}

double fake_rocmsmi_exact_energy_j(unsigned dev, double t_mono_s)
{
	return power_w(dev) * (t_mono_s - st.t_init);
}

int rsmi_init(uint64_t flags)
{
	const char *s = getenv("FAKE_ROCMSMI_DEVICES");
	(void)flags;
	st.ndev = s ? (uint32_t)atoi(s) : 1;
	st.t_init = mono_s();
	st.inited = 1;
	return 0;
}

int rsmi_shut_down(void)
{
	st.inited = 0;
	return 0;
}

int rsmi_status_string(int rc, const char **s)
{
	*s = rc ? "RSMI_STATUS_INVALID_ARGS" : "RSMI_STATUS_SUCCESS";
	return 0;
}

int rsmi_num_monitor_devices(uint32_t *n)
{
	*n = st.ndev;
	return 0;
}

int rsmi_dev_energy_count_get(uint32_t d, uint64_t *counter, float *res, uint64_t *ts)
{
	double t = mono_s();
	if (d >= st.ndev)
		return 1;
	*counter = (uint64_t)floor(fake_rocmsmi_exact_energy_j(d, t) * 1e6 / RES_UJ);
	*res = RES_UJ;
	*ts = (uint64_t)(t * 1e9);
	return 0;
}

int rsmi_dev_power_get(uint32_t d, uint64_t *uw, int *type)
{
	if (d >= st.ndev)
		return 1;
	*uw = (uint64_t)(power_w(d) * 1e6);
	*type = 1; /* RSMI_CURRENT_POWER */
	return 0;
}

int rsmi_dev_power_ave_get(uint32_t d, uint32_t sensor, uint64_t *uw)
{
	(void)sensor;
	if (d >= st.ndev)
		return 1;
	*uw = (uint64_t)(power_w(d) * 1e6);
	return 0;
}

int rsmi_dev_temp_metric_get(uint32_t d, uint32_t sensor, int metric, int64_t *mc)
{
	if (d >= st.ndev || metric != 0 || sensor > 1)
		return 1;
	*mc = 61500;
	return 0;
}

int rsmi_dev_memory_usage_get(uint32_t d, int type, uint64_t *b)
{
	if (d >= st.ndev || type != 0)
		return 1;
	*b = (2ULL + d) << 30;
	return 0;
}

int rsmi_dev_memory_total_get(uint32_t d, int type, uint64_t *b)
{
	if (d >= st.ndev || type != 0)
		return 1;
	*b = 64ULL << 30;
	return 0;
}

int rsmi_dev_name_get(uint32_t d, char *name, size_t len)
{
	if (d >= st.ndev)
		return 1;
	snprintf(name, len, "Fake AMD Instinct MI210");
	return 0;
}

int rsmi_dev_unique_id_get(uint32_t d, uint64_t *id)
{
	if (d >= st.ndev)
		return 1;
	*id = 0x1234567800000000ULL + d;
	return 0;
}

int rsmi_dev_pci_id_get(uint32_t d, uint64_t *bdfid)
{
	if (d >= st.ndev)
		return 1;
	*bdfid = (uint64_t)(0x83 + d) << 8;
	return 0;
}

int rsmi_dev_power_cap_get(uint32_t d, uint32_t sensor, uint64_t *uw)
{
	(void)sensor;
	if (d >= st.ndev)
		return 1;
	*uw = 300000000ULL;
	return 0;
}
