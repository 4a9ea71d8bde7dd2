/*
 * test_apple.c - the Apple (powermetrics) back-end driven by the fake
 * powermetrics program (build/fakes/fake_powermetrics): rails found, window
 * energies against a scripted power profile, recorded-style documents summed
 * exactly, the needs-root and not-found messages, prompt stop and child reaping.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "telemetry_backend.h"

static char *fake_path(void)
{
	const char *b = getenv("IPW_BUILD");
	return xasprintf("%s/fakes/fake_powermetrics", b && *b ? b : "build");
}

static char *data_path(const char *name)
{
	const char *t = getenv("IPW_TESTS");
	return xasprintf("%s/data/powermetrics/%s", t && *t ? t : "tests", name);
}

static void setup(void)
{
	char *f = fake_path();
	if (access(f, X_OK) != 0)
		cr_log_warn("%s missing: run make fakes", f);
	setenv("IPW_POWERMETRICS", f, 1);
	free(f);
	unsetenv("FAKE_PM_MODE");
	unsetenv("FAKE_PM_PROFILE");
	unsetenv("FAKE_PM_KEYS");
	unsetenv("FAKE_PM_REPLAY");
	unsetenv("FAKE_PM_COUNT");
	unsetenv("FAKE_PM_FIRST_MS");
	unsetenv("FAKE_PM_PIDFILE");
}

TestSuite(apple, .init = setup);

static struct backend_instance *apple_inst(struct telemetry *t)
{
	for (int b = 0; b < t->ninsts; b++)
		if (t->insts[b].ops == &telemetry_apple)
			return &t->insts[b];
	return NULL;
}

static struct backend_instance *init_apple(struct telemetry *t, int interval_ms)
{
	struct telemetry_opts opts = {.interval_ms = interval_ms};
	struct telemetry_select sel = {.backends = "apple", .host = 1};
	char err[IPW_ERRLEN] = "";
	cr_assert_eq(telemetry_init(t, &opts, &sel, err, sizeof(err)), 0, "%s", err);
	return apple_inst(t);
}

static int src_index(const struct telemetry *t, const char *name)
{
	for (int i = 0; i < t->nsrcs; i++)
		if (!strcmp(t->srcs[i].info->name, name))
			return i;
	return -1;
}

/* Samples a constant profile for ~1.5 s and checks window energies against power x time. */
static void check_constant_profile(const char *keys)
{
	struct telemetry t;
	struct backend_instance *in;
	struct window_energy w;
	char err[IPW_ERRLEN] = "";
	double e[4], dur;
	int64_t ta, tb;
	int ic, ig, ia;
	setenv("FAKE_PM_PROFILE", "cpu=2,gpu=8,ane=0.5", 1);
	setenv("FAKE_PM_KEYS", keys, 1);
	in = init_apple(&t, 50);
	cr_assert(in && in->present, "apple absent: %s", in ? in->reason : "?");
	cr_assert_eq(t.nsrcs, 3);
	ic = src_index(&t, "apple:cpu");
	ig = src_index(&t, "apple:gpu");
	ia = src_index(&t, "apple:ane");
	cr_assert(ic >= 0 && ig >= 0 && ia >= 0);
	for (int i = 0; i < 3; i++) {
		const struct source_info *s = t.srcs[i].info;
		cr_expect_eq(s->scope, SCOPE_ACCELERATOR, "%s", s->name);
		cr_expect_eq(s->caps, CAP_ENERGY | CAP_POWER);
		cr_expect_eq(s->power_kind, POWER_INTERVAL);
		cr_expect_eq(s->counter_update_s, 0);
		cr_expect_str_eq(s->backend, "apple");
	}
	cr_expect_eq(t.srcs[ic].info->kind, SOURCE_SOC_CPU);
	cr_expect_eq(t.srcs[ig].info->kind, SOURCE_SOC_GPU);
	cr_expect_eq(t.srcs[ia].info->kind, SOURCE_SOC_ANE);
	cr_expect(strstr(t.srcs[ig].info->model, "FakeMac1,1") != NULL, "model %s", t.srcs[ig].info->model);

	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	clock_sleep_ns(300 * NS_PER_MS);
	ta = clock_now_ns();
	clock_sleep_ns(1500 * NS_PER_MS);
	tb = clock_now_ns();
	cr_assert_eq(telemetry_wait_covered(&t, tb, 5 * NS_PER_S), 0, "not covered (%s)", t.last_error);
	telemetry_stop(&t);
	dur = (double)(tb - ta) / 1e9;
	telemetry_window(&t, ta, tb, e);
	/*
	 * Stamps are arrival times, so each window end can be off by the jitter
	 * of one delivery (a few ms, more on a loaded machine): 15 % is generous;
	 * a unit error (mJ vs J, mW vs W) or a lost document is far outside it.
	 */
	cr_expect(fabs(e[ig] - 8.0 * dur) < 0.15 * 8.0 * dur, "gpu %.3f J, want %.3f", e[ig], 8.0 * dur);
	cr_expect(fabs(e[ic] - 2.0 * dur) < 0.15 * 2.0 * dur, "cpu %.3f J, want %.3f", e[ic], 2.0 * dur);
	cr_expect(fabs(e[ia] - 0.5 * dur) < 0.15 * 0.5 * dur, "ane %.3f J, want %.3f", e[ia], 0.5 * dur);
	/* all rails share their knots, so their ratio is the profile's, independent of timing */
	cr_expect(fabs(e[ig] / e[ic] - 4.0) < 2e-3, "gpu/cpu %.6f", e[ig] / e[ic]);
	cr_expect(fabs(e[ig] / e[ia] - 16.0) < 2e-2, "gpu/ane %.6f", e[ig] / e[ia]);
	/* the accelerator scope is the SoC: cpu + gpu + ane */
	telemetry_window_summary(&t, ta, tb, &w);
	cr_expect_eq(w.accel_n, 3);
	cr_expect(fabs(w.accel_j - (e[ic] + e[ig] + e[ia])) < 1e-9);
	cr_expect(isnan(w.host_j));
	cr_expect(fabs(w.accel_peak_w - 8.0) < 0.05, "peak %.3f W", w.accel_peak_w);
	cr_expect(fabs(t.srcs[ig].last.power_w - 8.0) < 0.05, "last %.4f W", t.srcs[ig].last.power_w);
	telemetry_release(&t);
}

Test(apple, constant_profile_power_and_energy_keys, .timeout = 30)
{
	check_constant_profile("both");
}

Test(apple, constant_profile_power_keys_only, .timeout = 30)
{
	check_constant_profile("power");
}

Test(apple, constant_profile_energy_keys_only, .timeout = 30)
{
	check_constant_profile("energy");
}

Test(apple, alternating_profile_integral, .timeout = 30)
{
	struct telemetry t;
	struct backend_instance *in;
	char err[IPW_ERRLEN] = "";
	struct window_energy w;
	double e[2], dur;
	int64_t ta, tb;
	/* only the GPU rail: no apple:cpu or apple:ane source; 10 W and 30 W documents in turn */
	setenv("FAKE_PM_PROFILE", "gpu=10/30", 1);
	in = init_apple(&t, 40);
	cr_assert(in && in->present, "apple absent: %s", in ? in->reason : "?");
	cr_assert_eq(t.nsrcs, 1);
	cr_assert_str_eq(t.srcs[0].info->name, "apple:gpu");
	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	clock_sleep_ns(200 * NS_PER_MS);
	ta = clock_now_ns();
	clock_sleep_ns(1600 * NS_PER_MS);
	tb = clock_now_ns();
	cr_assert_eq(telemetry_wait_covered(&t, tb, 5 * NS_PER_S), 0);
	telemetry_stop(&t);
	dur = (double)(tb - ta) / 1e9;
	telemetry_window(&t, ta, tb, e);
	/* mean 20 W; each window end can cut one 40 ms step at +-10 W: <= 0.8 J of 32 J, plus jitter */
	cr_expect(fabs(e[0] - 20.0 * dur) < 0.15 * 20.0 * dur, "gpu %.3f J, want %.3f", e[0], 20.0 * dur);
	telemetry_window_summary(&t, ta, tb, &w);
	cr_expect(fabs(w.accel_peak_w - 30.0) < 1e-3, "peak %.3f W", w.accel_peak_w);
	telemetry_release(&t);
}

/* Replays recorded-style documents once; the summed counter must equal the documents' own sums. */
static void check_replay(const char *file, const char *const *names, const double *total_j,
			 const double *last_w, int n)
{
	struct telemetry t;
	struct backend_instance *in;
	char err[IPW_ERRLEN] = "", *path = data_path(file);
	int64_t deadline;
	int done = 0;
	setenv("FAKE_PM_REPLAY", path, 1);
	setenv("FAKE_PM_COUNT", "3", 1);
	in = init_apple(&t, 30);
	cr_assert(in && in->present, "%s: apple absent: %s", file, in ? in->reason : "?");
	cr_assert_eq(t.nsrcs, n, "%s: %d sources", file, t.nsrcs);
	for (int i = 0; i < n; i++)
		cr_assert_str_eq(t.srcs[i].info->name, names[i]);
	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	/* the first document went to the probe; wait for the other two */
	deadline = clock_now_ns() + 5 * NS_PER_S;
	while (!done && clock_now_ns() < deadline) {
		pthread_mutex_lock(&t.lock);
		done = 1;
		for (int i = 0; i < n; i++)
			if (!(t.srcs[i].last.valid & SAMPLE_ENERGY) || fabs(t.srcs[i].last.energy_j - total_j[i]) > 1e-9)
				done = 0;
		pthread_mutex_unlock(&t.lock);
		clock_sleep_ns(10 * NS_PER_MS);
	}
	telemetry_stop(&t);
	for (int i = 0; i < n; i++) {
		cr_expect(fabs(t.srcs[i].last.energy_j - total_j[i]) < 1e-9, "%s %s: %.9f J, want %.9f J", file,
			  names[i], t.srcs[i].last.energy_j, total_j[i]);
		cr_expect(fabs(t.srcs[i].last.power_w - last_w[i]) < 1e-9, "%s %s: %.9f W, want %.9f W", file,
			  names[i], t.srcs[i].last.power_w, last_w[i]);
	}
	telemetry_release(&t);
	free(path);
}

Test(apple, recorded_documents_both_keys, .timeout = 30)
{
	/* energy keys (integer mJ) win over power x elapsed; the gpu dict's copy is not added again */
	static const char *const names[] = {"apple:cpu", "apple:gpu", "apple:ane"};
	static const double total[] = {0.460, 2.735, 0.047};
	static const double last[] = {1.4874, 9.0955, 0.1206};
	check_replay("m2_sonoma.plist", names, total, last, 3);
}

Test(apple, recorded_documents_energy_only, .timeout = 30)
{
	/* GPU energy only in the gpu sampler's dict; power = energy / elapsed */
	static const char *const names[] = {"apple:cpu", "apple:gpu", "apple:ane"};
	static const double total[] = {1.350, 3.500, 0.030};
	static const double last[] = {2.25, 5.0, 0.1};
	check_replay("m1pro_energy_only.plist", names, total, last, 3);
}

Test(apple, recorded_documents_power_only, .timeout = 30)
{
	/* mW x elapsed_ns; no ANE keys at all, so no apple:ane source */
	static const char *const names[] = {"apple:cpu", "apple:gpu"};
	static const double total[] = {0.300, 1.800};
	static const double last[] = {1.0, 10.0};
	check_replay("m3_power_only.plist", names, total, last, 2);
}

Test(apple, needs_root_message, .timeout = 30)
{
	struct telemetry t;
	struct backend_instance *in;
	setenv("FAKE_PM_MODE", "needroot", 1);
	in = init_apple(&t, 50);
	cr_assert(in && !in->present);
	cr_expect(!strncmp(in->reason, "powermetrics needs root: run ipw with sudo", 42), "%s", in->reason);
	cr_expect(strstr(in->reason, "must be invoked as the superuser") != NULL, "no stderr in: %s", in->reason);
	cr_expect_eq(t.nsrcs, 0);
	telemetry_release(&t);
}

Test(apple, early_exit_reports_stderr, .timeout = 30)
{
	struct telemetry t;
	struct backend_instance *in;
	setenv("FAKE_PM_MODE", "crash", 1);
	in = init_apple(&t, 50);
	cr_assert(in && !in->present);
	cr_expect_str_eq(in->reason, "powermetrics exited with status 3 before its first sample: fake "
				     "powermetrics: sampler cpu_power unavailable on this machine");
	telemetry_release(&t);
}

Test(apple, missing_command, .timeout = 30)
{
	struct telemetry t;
	struct backend_instance *in;
	setenv("IPW_POWERMETRICS", "/nonexistent/dir/powermetrics", 1);
	in = init_apple(&t, 50);
	cr_assert(in && !in->present);
	cr_expect(strstr(in->reason, "/nonexistent/dir/powermetrics not found") == in->reason, "%s", in->reason);
	telemetry_release(&t);
#ifndef __APPLE__
	/* Linux without IPW_POWERMETRICS: absent without trying anything */
	unsetenv("IPW_POWERMETRICS");
	in = init_apple(&t, 50);
	cr_assert(in && !in->present);
	cr_expect(strstr(in->reason, "macOS only") != NULL, "%s", in->reason);
	telemetry_release(&t);
#endif
}

Test(apple, stop_is_prompt_and_release_reaps_the_child, .timeout = 30)
{
	struct telemetry t;
	struct backend_instance *in;
	char err[IPW_ERRLEN] = "", pidfile[] = "/tmp/ipw-fakepm-XXXXXX";
	int64_t t0, took;
	long long pid = 0;
	int fd = mkstemp(pidfile);
	cr_assert(fd >= 0);
	close(fd);
	setenv("FAKE_PM_PIDFILE", pidfile, 1);
	/* first document at once, the next after 4 s: stop must not wait for it */
	setenv("FAKE_PM_FIRST_MS", "10", 1);
	in = init_apple(&t, 4000);
	cr_assert(in && in->present, "apple absent: %s", in ? in->reason : "?");
	cr_assert_eq(read_file_ll(pidfile, &pid), 0);
	cr_assert(pid > 0);
	cr_assert_eq(kill((pid_t)pid, 0), 0, "fake powermetrics is not running");
	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	clock_sleep_ns(100 * NS_PER_MS);
	t0 = clock_now_ns();
	telemetry_stop(&t);
	took = clock_now_ns() - t0;
	cr_expect(took < 2 * NS_PER_S, "stop took %.3f s: interrupt did not wake read()", (double)took / 1e9);
	telemetry_release(&t);
	/* reaped, not a zombie: the pid no longer exists */
	errno = 0;
	cr_expect(kill((pid_t)pid, 0) < 0 && errno == ESRCH, "child %lld still exists after release", pid);
	unlink(pidfile);
}
