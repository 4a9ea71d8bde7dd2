/*
 * test_amd.c - the AMD back-end through the public telemetry API: amdsmi
 * (build/fakes/libfake_amdsmi.so), ROCm SMI when amdsmi is absent
 * (libfake_rocmsmi.so), the hwmon fallback on a fake sysfs tree written here,
 * and the reason listing all three when nothing is there.
 */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "telemetry_backend.h"

static char *fake_path(const char *name)
{
	const char *b = getenv("IPW_BUILD");
	return xasprintf("%s/fakes/%s", b ? b : "build", name);
}

static void set_lib(const char *var, const char *fake)
{
	if (fake) {
		char *p = fake_path(fake);
		setenv(var, p, 1);
		free(p);
	} else {
		setenv(var, "/nonexistent/lib.so", 1);
	}
}

/* An empty sysfs root, so the hwmon fallback never sees the real machine's cards. */
static char *empty_root(void)
{
	char tmpl[] = "/tmp/ipw-amd-XXXXXX";
	char *d = mkdtemp(tmpl);
	cr_assert_not_null(d);
	setenv("IPW_SYSFS_ROOT", d, 1);
	return xstrdup(d);
}

static struct backend_instance *init_amd(struct telemetry *t)
{
	struct telemetry_opts o = {0};
	struct telemetry_select sel = {.backends = "amd"};
	char err[IPW_ERRLEN] = "";
	unsetenv("HIP_VISIBLE_DEVICES");
	unsetenv("ROCR_VISIBLE_DEVICES");
	cr_assert_eq(telemetry_init(t, &o, &sel, err, sizeof(err)), 0, "init: %s", err);
	for (int b = 0; b < t->ninsts; b++)
		if (!strcmp(t->insts[b].ops->name, "amd"))
			return &t->insts[b];
	cr_assert_fail("no amd back-end");
	return NULL;
}

static void sample_for(struct telemetry *t, int64_t ns)
{
	char err[IPW_ERRLEN] = "";
	cr_assert_eq(telemetry_start(t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	clock_sleep_ns(ns);
	telemetry_stop(t);
}

static double max_gap_s(const struct timeline *tl)
{
	double g = 0;
	for (size_t i = 1; i < tl->n; i++)
		g = fmax(g, (double)(tl->samples[i].t_ns - tl->samples[i - 1].t_ns) / 1e9);
	return g;
}

/*
 * Constant power P: the counter is exact at each read (to one count), and the
 * timeline places each step between two reads, so a window's error is at most
 * P * (one gap) + two counts.
 */
static void check_constant_energy(struct telemetry *t, double (*exact)(unsigned, double), double res_uj)
{
	for (int s = 0; s < t->nsrcs; s++) {
		const struct timeline *tl = &t->srcs[s].tl;
		unsigned dev = (unsigned)t->srcs[s].info->index;
		int64_t a, b;
		double e, want, g = max_gap_s(tl), p;
		cr_assert_eq(tl->mode, TL_COUNTER);
		cr_assert_eq(timeline_span(tl, &a, &b), 0);
		a += (b - a) / 10;
		b -= (b - a) / 10;
		cr_assert_eq(timeline_energy(tl, a, b, &e), 0);
		want = exact(dev, (double)b / 1e9) - exact(dev, (double)a / 1e9);
		p = want / ((double)(b - a) / 1e9);
		cr_expect(fabs(e - want) <= p * g + 2 * res_uj * 1e-6, "%s: %.4f J, exact %.4f J, bound %.4f",
			  t->srcs[s].info->name, e, want, p * g + 2 * res_uj * 1e-6);
		cr_expect(want > 10, "window too short to mean anything: %.3f J", want);
	}
}

Test(amd, amdsmi_counter_times_resolution)
{
	struct telemetry t;
	struct backend_instance *in;
	void *dl;
	double (*exact)(unsigned, double);
	double (*res)(void);
	char *p, *root = empty_root();
	set_lib("IPW_AMDSMI_LIBRARY", "libfake_amdsmi.so");
	set_lib("IPW_ROCMSMI_LIBRARY", "libfake_rocmsmi.so");
	setenv("FAKE_AMDSMI_DEVICES", "2", 1);
	in = init_amd(&t);
	cr_assert(in->present, "reason: %s", in->reason);
	cr_assert_eq(in->nsources, 2);
	for (int i = 0; i < 2; i++) {
		const struct source_info *s = &in->sources[i];
		char name[32], pci[32];
		snprintf(name, sizeof(name), "amd:%d", i);
		snprintf(pci, sizeof(pci), "0000:%02x:00.0", 0xc1 + 0x10 * i);
		cr_expect_str_eq(s->name, name);
		cr_expect_str_eq(s->driver, "amdsmi");
		cr_expect_str_eq(s->model, "Fake AMD Instinct MI300X");
		cr_expect_str_eq(s->pci_bus_id, pci);
		cr_expect(!strncmp(s->uuid, "a1ff74a1-", 9), "uuid %s", s->uuid);
		cr_expect_eq(s->caps, CAP_ENERGY | CAP_POWER | CAP_TEMPERATURE | CAP_MEMORY);
		cr_expect_eq(s->power_kind, POWER_INSTANT);
		cr_expect_float_eq(s->mem_total_bytes, 196608.0 * 1048576.0, 1);
		cr_expect_eq(s->energy_wrap_j, 0);
	}
	p = fake_path("libfake_amdsmi.so");
	dl = dlopen(p, RTLD_NOW);
	free(p);
	cr_assert_not_null(dl);
	*(void **)&exact = dlsym(dl, "fake_amdsmi_exact_energy_j");
	*(void **)&res = dlsym(dl, "fake_amdsmi_resolution_uj");
	cr_assert(exact && res);
	sample_for(&t, 600 * NS_PER_MS);
	for (int s = 0; s < t.nsrcs; s++) {
		const struct sample *sm = &t.srcs[s].last;
		double counts = sm->energy_j * 1e6 / res();
		cr_assert(sm->valid & SAMPLE_ENERGY);
		/* the raw sample is a whole number of counts times the resolution */
		cr_expect(fabs(counts - round(counts)) < 1e-3, "energy %.9f J is %.6f counts", sm->energy_j, counts);
		cr_expect_float_eq(sm->power_w, 250.0 + 50.0 * s, 1e-9);
		cr_expect_float_eq(sm->temp_c, 50.0, 1e-9, "hotspot temperature in C");
		cr_expect_float_eq(sm->mem_used_bytes, 1024.0 * (s + 1) * 1048576.0, 1);
	}
	check_constant_energy(&t, exact, res());
	telemetry_release(&t);
	dlclose(dl);
	rmdir(root);
	free(root);
}

Test(amd, rocm_smi_when_amdsmi_absent)
{
	struct telemetry t;
	struct backend_instance *in;
	void *dl;
	double (*exact)(unsigned, double);
	char *p, *root = empty_root();
	set_lib("IPW_AMDSMI_LIBRARY", NULL);
	set_lib("IPW_ROCMSMI_LIBRARY", "libfake_rocmsmi.so");
	setenv("FAKE_ROCMSMI_DEVICES", "2", 1);
	in = init_amd(&t);
	cr_assert(in->present, "reason: %s", in->reason);
	cr_assert_eq(in->nsources, 2);
	cr_expect_str_eq(in->sources[0].driver, "rocm-smi");
	cr_expect_str_eq(in->sources[1].name, "amd:1");
	cr_expect_str_eq(in->sources[1].model, "Fake AMD Instinct MI210");
	cr_expect_str_eq(in->sources[1].uuid, "GPU-1234567800000001");
	cr_expect_str_eq(in->sources[1].pci_bus_id, "0000:84:00.0");
	cr_expect_float_eq(in->sources[1].power_limit_w, 300.0, 1e-9);
	cr_expect_eq(in->sources[1].power_kind, POWER_INSTANT);
	p = fake_path("libfake_rocmsmi.so");
	dl = dlopen(p, RTLD_NOW);
	free(p);
	cr_assert_not_null(dl);
	*(void **)&exact = dlsym(dl, "fake_rocmsmi_exact_energy_j");
	cr_assert_not_null(exact);
	sample_for(&t, 600 * NS_PER_MS);
	cr_expect_float_eq(t.srcs[0].last.temp_c, 61.5, 1e-9, "millidegrees -> C");
	cr_expect_float_eq(t.srcs[0].last.power_w, 200.0, 1e-9, "uW -> W");
	cr_expect_float_eq(t.srcs[1].last.mem_used_bytes, (double)(3ULL << 30), 1);
	check_constant_energy(&t, exact, 15.3);
	telemetry_release(&t);
	dlclose(dl);
	rmdir(root);
	free(root);
}

static void write_file(const char *root, const char *rel, const char *text)
{
	char *path = xasprintf("%s%s", root, rel), *slash;
	FILE *f;
	/* mkdir -p the parent */
	for (slash = strchr(path + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		mkdir(path, 0755);
		*slash = '/';
	}
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
	free(path);
}

Test(amd, hwmon_fallback)
{
	struct telemetry t;
	struct backend_instance *in;
	char *root = empty_root(), *cmd;
	set_lib("IPW_AMDSMI_LIBRARY", NULL);
	set_lib("IPW_ROCMSMI_LIBRARY", NULL);
	/* card0: amdgpu with an energy counter and instantaneous power */
	write_file(root, "/sys/class/drm/card0/device/vendor", "0x1002\n");
	write_file(root, "/sys/class/drm/card0/device/uevent", "DRIVER=amdgpu\nPCI_SLOT_NAME=0000:03:00.0\n");
	write_file(root, "/sys/class/drm/card0/device/product_name", "Fake Radeon PRO W7900\n");
	write_file(root, "/sys/class/drm/card0/device/unique_id", "0123456789abcdef\n");
	write_file(root, "/sys/class/drm/card0/device/mem_info_vram_total", "51539607552\n");
	write_file(root, "/sys/class/drm/card0/device/mem_info_vram_used", "1073741824\n");
	write_file(root, "/sys/class/drm/card0/device/hwmon/hwmon4/energy1_input", "5000000\n");
	write_file(root, "/sys/class/drm/card0/device/hwmon/hwmon4/power1_input", "150000000\n");
	write_file(root, "/sys/class/drm/card0/device/hwmon/hwmon4/temp1_input", "45000\n");
	write_file(root, "/sys/class/drm/card0/device/hwmon/hwmon4/power1_cap", "295000000\n");
	/* a connector of card0 (not a card) */
	write_file(root, "/sys/class/drm/card0-DP-1/status", "disconnected\n");
	/* card1: an NVIDIA card (ignored) */
	write_file(root, "/sys/class/drm/card1/device/vendor", "0x10de\n");
	write_file(root, "/sys/class/drm/card1/device/hwmon/hwmon5/power1_input", "1\n");
	/* card2: an older amdgpu with only averaged power */
	write_file(root, "/sys/class/drm/card2/device/vendor", "0x1002\n");
	write_file(root, "/sys/class/drm/card2/device/hwmon/hwmon6/power1_average", "90000000\n");

	in = init_amd(&t);
	cr_assert(in->present, "reason: %s", in->reason);
	cr_assert_eq(in->nsources, 2);
	cr_expect_str_eq(in->sources[0].name, "amd:0");
	cr_expect_str_eq(in->sources[0].driver, "amdgpu hwmon");
	cr_expect_str_eq(in->sources[0].model, "Fake Radeon PRO W7900");
	cr_expect_str_eq(in->sources[0].pci_bus_id, "0000:03:00.0");
	cr_expect_str_eq(in->sources[0].uuid, "GPU-0123456789abcdef");
	cr_expect_eq(in->sources[0].caps, CAP_ENERGY | CAP_POWER | CAP_TEMPERATURE | CAP_MEMORY);
	cr_expect_eq(in->sources[0].power_kind, POWER_INSTANT);
	cr_expect_float_eq(in->sources[0].power_limit_w, 295.0, 1e-9);
	cr_expect_float_eq(in->sources[0].mem_total_bytes, 51539607552.0, 1);
	cr_expect_str_eq(in->sources[1].name, "amd:1");
	cr_expect_str_eq(in->sources[1].model, "AMD GPU (card2)");
	cr_expect_eq(in->sources[1].caps, CAP_POWER);
	cr_expect_eq(in->sources[1].power_kind, POWER_AVERAGE);
	cr_expect(strstr(in->sources[1].notes, "power1_average") != NULL, "notes: %s", in->sources[1].notes);
	cr_expect(strstr(in->sources[1].notes, "no energy") != NULL, "notes: %s", in->sources[1].notes);
	cr_expect_eq(t.srcs[1].tl.mode, TL_NONE, "an averaged power is never integrated");

	sample_for(&t, 100 * NS_PER_MS);
	{
		const struct sample *s = &t.srcs[0].last;
		cr_assert_gt(t.srcs[0].nsamples, 0);
		cr_expect_float_eq(s->energy_j, 5.0, 1e-12, "uJ -> J");
		cr_expect_float_eq(s->power_w, 150.0, 1e-9, "uW -> W");
		cr_expect_float_eq(s->temp_c, 45.0, 1e-9, "millidegrees -> C");
		cr_expect_float_eq(s->mem_used_bytes, 1073741824.0, 1);
		cr_expect_float_eq(t.srcs[1].last.power_w, 90.0, 1e-9);
		cr_expect_eq(t.srcs[1].last.valid, SAMPLE_POWER);
	}
	telemetry_release(&t);
	cmd = xasprintf("rm -rf '%s'", root);
	cr_expect_eq(system(cmd), 0);
	free(cmd);
	free(root);
}

Test(amd, nothing_lists_all_three)
{
	struct telemetry t;
	struct backend_instance *in;
	char *root = empty_root(), *want;
	unsetenv("IPW_AMDSMI_LIBRARY");
	unsetenv("IPW_ROCMSMI_LIBRARY");
	in = init_amd(&t);
	if (in->present)
		cr_skip_test("a real amdsmi or ROCm SMI is installed here");
	want = xasprintf("amdsmi: libamd_smi.so not found; ROCm SMI: librocm_smi64.so not found; "
			 "hwmon: no amdgpu card under %s/sys/class/drm", root);
	cr_expect(strstr(in->reason, want) != NULL, "reason: %s", in->reason);
	cr_expect(strstr(in->reason, "IPW_AMDSMI_LIBRARY") != NULL, "reason: %s", in->reason);
	cr_expect_eq(t.nsrcs, 0);
	free(want);
	telemetry_release(&t);
	rmdir(root);
	free(root);
}

Test(amd, hip_visible_devices_selects)
{
	struct telemetry t;
	struct telemetry_opts o = {0};
	struct telemetry_select sel = {.backends = "amd"};
	char err[IPW_ERRLEN] = "", *root = empty_root();
	set_lib("IPW_AMDSMI_LIBRARY", "libfake_amdsmi.so");
	setenv("FAKE_AMDSMI_DEVICES", "3", 1);
	setenv("HIP_VISIBLE_DEVICES", "2", 1);
	cr_assert_eq(telemetry_init(&t, &o, &sel, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.nsrcs, 1);
	cr_expect_str_eq(t.srcs[0].info->name, "amd:2");
	telemetry_release(&t);
	rmdir(root);
	free(root);
}
