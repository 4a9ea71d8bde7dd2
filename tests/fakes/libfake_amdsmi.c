/*
 * libfake_amdsmi.c - a stand-in for libamd_smi.so for the amd back-end's tests:
 * one GPU per socket, each at constant power FAKE_AMDSMI_POWER_W + 50 W * index
 * (default 250), an energy counter in units of FAKE_AMDSMI_RES_UJ microjoules
 * (default 15.3), temperature and VRAM. FAKE_AMDSMI_DEVICES sets the count (2).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEVS 8

static struct {
	int inited;
	double t_init, base_w;
	float res_uj;
	unsigned ndev;
	int socks[MAX_DEVS];
} st;

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double power_w(unsigned d)
{
	return st.base_w + 50.0 * d;
}

static int dev_of(void *h)
{
	int *p = h;
	return p >= st.socks && p < st.socks + MAX_DEVS ? (int)(p - st.socks) : -1;
}

/* test hooks */
double fake_amdsmi_exact_energy_j(unsigned dev, double t_mono_s)
{
	return power_w(dev) * (t_mono_s - st.t_init);
}

double fake_amdsmi_power_w(unsigned dev)
{
	return power_w(dev);
}

double fake_amdsmi_resolution_uj(void)
{
	return st.res_uj;
}

int amdsmi_init(uint64_t flags)
{
	const char *s;
	if (!(flags & 2))
		return 1;
	s = getenv("FAKE_AMDSMI_DEVICES");
	st.ndev = s ? (unsigned)atoi(s) : 2;
	if (st.ndev > MAX_DEVS)
		st.ndev = MAX_DEVS;
	s = getenv("FAKE_AMDSMI_POWER_W");
	st.base_w = s ? atof(s) : 250;
	s = getenv("FAKE_AMDSMI_RES_UJ");
	st.res_uj = s ? (float)atof(s) : 15.3f;
	st.t_init = mono_s();
	st.inited = 1;
	return 0;
}

int amdsmi_shut_down(void)
{
	st.inited = 0;
	return 0;
}

int amdsmi_status_code_to_string(int rc, const char **s)
{
	*s = rc == 0 ? "AMDSMI_STATUS_SUCCESS" : "AMDSMI_STATUS_NOT_SUPPORTED";
	return 0;
}

int amdsmi_get_socket_handles(uint32_t *count, void **handles)
{
	if (!st.inited)
		return 32;
	if (handles)
		for (unsigned i = 0; i < st.ndev && i < *count; i++)
			handles[i] = &st.socks[i];
	*count = st.ndev;
	return 0;
}

/* Sockets and processors share handles here: one GPU per socket. */
int amdsmi_get_processor_handles(void *sock, uint32_t *count, void **handles)
{
	if (dev_of(sock) < 0)
		return 1;
	if (handles && *count >= 1)
		handles[0] = sock;
	*count = 1;
	return 0;
}

int amdsmi_get_energy_count(void *h, uint64_t *counter, float *res, uint64_t *ts)
{
	int d = dev_of(h);
	double t = mono_s();
	if (d < 0)
		return 1;
	*counter = (uint64_t)floor(fake_amdsmi_exact_energy_j((unsigned)d, t) * 1e6 / st.res_uj);
	*res = st.res_uj;
	*ts = (uint64_t)(t * 1e9);
	return 0;
}

/* amdsmi_power_info_t: u64 socket_power, u32 current, u32 average, 3 x u64 voltages, u32 limit, ... */
int amdsmi_get_power_info(void *h, void *info)
{
	int d = dev_of(h);
	uint64_t sp;
	uint32_t cur, avg, lim = 750;
	if (d < 0)
		return 1;
	memset(info, 0, 40 + 4 + 8 * 18 + 4);
	sp = (uint64_t)lround(power_w((unsigned)d));
	cur = (uint32_t)sp;
	avg = UINT32_MAX; /* like an MI300: only current power */
	memcpy(info, &sp, 8);
	memcpy((char *)info + 8, &cur, 4);
	memcpy((char *)info + 12, &avg, 4);
	memcpy((char *)info + 40, &lim, 4);
	return 0;
}

int amdsmi_get_temp_metric(void *h, int sensor, int metric, int64_t *c)
{
	if (dev_of(h) < 0 || metric != 0)
		return 1;
	if (sensor == 0)
		return 2; /* no edge sensor, like an MI300 */
	*c = 50;
	return 0;
}

int amdsmi_get_gpu_vram_usage(void *h, uint32_t *v)
{
	int d = dev_of(h);
	if (d < 0)
		return 1;
	v[0] = 196608;
	v[1] = 1024u * (unsigned)(d + 1);
	v[2] = v[3] = 0;
	return 0;
}

int amdsmi_get_gpu_asic_info(void *h, char *info)
{
	if (dev_of(h) < 0)
		return 1;
	snprintf(info, 256, "Fake AMD Instinct MI300X");
	return 0;
}

int amdsmi_get_gpu_device_uuid(void *h, unsigned *len, char *uuid)
{
	int d = dev_of(h);
	if (d < 0)
		return 1;
	snprintf(uuid, *len, "a1ff74a1-0000-1000-80a1-%012d", d);
	return 0;
}

int amdsmi_get_gpu_device_bdf(void *h, uint64_t *bdf)
{
	int d = dev_of(h);
	if (d < 0)
		return 1;
	*bdf = ((uint64_t)(0xc1 + 0x10 * d) << 8); /* domain 0, bus c1/d1/..., device 0, function 0 */
	return 0;
}
