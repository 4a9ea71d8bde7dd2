/*
 * test_rapl.c - the RAPL back-end against fake powercap trees built in a temp
 * dir (IPW_SYSFS_ROOT): zone discovery, kinds and scopes, counter wraparound
 * while sampling, the root-only energy_uj message, and the absent messages.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "telemetry_backend.h"

static char root[256];

static void rm_tree(void)
{
	char *cmd;
	if (!root[0])
		return;
	cmd = xasprintf("rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	free(cmd);
	root[0] = 0;
}

static void setup_root(void)
{
	snprintf(root, sizeof(root), "/tmp/ipw-rapl-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	/* traversable by the unprivileged user of the permission test */
	chmod(root, 0755);
	setenv("IPW_SYSFS_ROOT", root, 1);
}

static void teardown_root(void)
{
	rm_tree();
	unsetenv("IPW_SYSFS_ROOT");
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot create %s", path);
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *path)
{
	char *cmd = xasprintf("mkdir -p -m 755 '%s'", path);
	cr_assert_eq(system(cmd), 0);
	free(cmd);
}

/* Creates one zone directory; energy_uj is a fixed-width number (rewritten in place by the tests). */
static void make_zone(const char *dir, const char *name, unsigned long long energy_uj,
		      unsigned long long range_uj)
{
	char *d = xasprintf("%s/sys/class/powercap/%s", root, dir), *f;
	char v[64];
	mkdirs(d);
	f = xasprintf("%s/name", d);
	snprintf(v, sizeof(v), "%s\n", name);
	write_text(f, v);
	free(f);
	f = xasprintf("%s/energy_uj", d);
	snprintf(v, sizeof(v), "%020llu\n", energy_uj);
	write_text(f, v);
	free(f);
	f = xasprintf("%s/max_energy_range_uj", d);
	snprintf(v, sizeof(v), "%llu\n", range_uj);
	write_text(f, v);
	free(f);
	free(d);
}

static struct backend_instance *rapl_inst(struct telemetry *t)
{
	for (int b = 0; b < t->ninsts; b++)
		if (t->insts[b].ops == &telemetry_rapl)
			return &t->insts[b];
	return NULL;
}

static int init_rapl(struct telemetry *t, int host, char *err, size_t errlen)
{
	struct telemetry_opts opts = {0};
	struct telemetry_select sel = {.backends = "rapl", .host = host};
	return telemetry_init(t, &opts, &sel, err, errlen);
}

static const struct source_state *find_src(const struct telemetry *t, const char *name)
{
	for (int i = 0; i < t->nsrcs; i++)
		if (!strcmp(t->srcs[i].info->name, name))
			return &t->srcs[i];
	return NULL;
}

TestSuite(rapl, .init = setup_root, .fini = teardown_root);

/* Two packages, each with dram and core, plus psys, an mmio duplicate and the control-type dir. */
static void make_server_tree(void)
{
	char *d;
	make_zone("intel-rapl:0", "package-0", 1000, 262143328850ULL);
	make_zone("intel-rapl:0:0", "core", 1000, 262143328850ULL);
	make_zone("intel-rapl:0:1", "dram", 1000, 65712999613ULL);
	make_zone("intel-rapl:1", "package-1", 1000, 262143328850ULL);
	make_zone("intel-rapl:1:0", "core", 1000, 262143328850ULL);
	make_zone("intel-rapl:1:1", "dram", 1000, 65712999613ULL);
	make_zone("intel-rapl:2", "psys", 1000, 262143328850ULL);
	make_zone("intel-rapl-mmio:0", "package-0", 1000, 262143328850ULL);
	d = xasprintf("%s/sys/class/powercap/intel-rapl", root);
	mkdirs(d);
	free(d);
}

Test(rapl, discovers_zones_with_kinds_and_scopes)
{
	struct telemetry t;
	char err[IPW_ERRLEN] = "";
	static const struct {
		const char *name;
		enum source_kind kind;
		enum source_scope scope;
		double wrap_j;
	} want[] = {
		{"rapl:package-0", SOURCE_CPU_PACKAGE, SCOPE_HOST, 262143.32885},
		{"rapl:package-0/core", SOURCE_CPU_CORE, SCOPE_NONE, 262143.32885},
		{"rapl:package-0/dram", SOURCE_DRAM, SCOPE_HOST, 65712.999613},
		{"rapl:package-1", SOURCE_CPU_PACKAGE, SCOPE_HOST, 262143.32885},
		{"rapl:package-1/core", SOURCE_CPU_CORE, SCOPE_NONE, 262143.32885},
		{"rapl:package-1/dram", SOURCE_DRAM, SCOPE_HOST, 65712.999613},
		{"rapl:psys", SOURCE_PSYS, SCOPE_NONE, 262143.32885},
	};
	struct backend_instance *in;
	make_server_tree();
	cr_assert_eq(init_rapl(&t, 1, err, sizeof(err)), 0, "%s", err);
	in = rapl_inst(&t);
	cr_assert(in && in->present, "rapl absent: %s", in ? in->reason : "?");
	/* the mmio duplicate and the control-type dir are not sources */
	cr_assert_eq(in->nsources, 7);
	cr_assert_eq(t.nsrcs, 7);
	for (int i = 0; i < 7; i++) {
		const struct source_info *s = &in->sources[i];
		cr_expect_str_eq(s->name, want[i].name);
		cr_expect_str_eq(s->backend, "rapl");
		cr_expect_eq(s->kind, want[i].kind, "%s: kind %s", s->name, source_kind_name(s->kind));
		cr_expect_eq(s->scope, want[i].scope, "%s: scope %s", s->name, source_scope_name(s->scope));
		cr_expect_eq(s->caps, CAP_ENERGY);
		cr_expect_eq(s->power_kind, POWER_NONE);
		cr_expect_float_eq(s->energy_wrap_j, want[i].wrap_j, 1e-6);
		cr_expect_float_eq(s->counter_update_s, 0.001, 1e-12);
	}
	telemetry_release(&t);

	/* without --host, package and dram are not selected; core and psys still are (shown, not summed) */
	cr_assert_eq(init_rapl(&t, 0, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(t.nsrcs, 3);
	for (int i = 0; i < t.nsrcs; i++)
		cr_expect_eq(t.srcs[i].info->scope, SCOPE_NONE, "%s selected without --host",
			     t.srcs[i].info->name);
	telemetry_release(&t);
}

Test(rapl, amd_style_tree_and_zone_without_counter)
{
	struct telemetry t;
	char err[IPW_ERRLEN] = "";
	struct backend_instance *in;
	char *f;
	/* AMD Zen (Linux >= 5.11): package-N with a core sub-zone, no dram; psys without a counter */
	make_zone("intel-rapl:0", "package-0", 5, 65712999613ULL);
	make_zone("intel-rapl:0:0", "core", 5, 65712999613ULL);
	make_zone("intel-rapl:1", "psys", 5, 65712999613ULL);
	f = xasprintf("%s/sys/class/powercap/intel-rapl:1/energy_uj", root);
	cr_assert_eq(unlink(f), 0);
	free(f);
	cr_assert_eq(init_rapl(&t, 1, err, sizeof(err)), 0, "%s", err);
	in = rapl_inst(&t);
	cr_assert(in && in->present, "rapl absent: %s", in ? in->reason : "?");
	cr_assert_eq(in->nsources, 2);
	cr_expect_str_eq(in->sources[0].name, "rapl:package-0");
	cr_expect_str_eq(in->sources[1].name, "rapl:package-0/core");
	telemetry_release(&t);
}

Test(rapl, absent_without_powercap)
{
	struct telemetry t;
	char err[IPW_ERRLEN] = "";
	struct backend_instance *in;
	cr_assert_eq(init_rapl(&t, 1, err, sizeof(err)), 0, "%s", err);
	in = rapl_inst(&t);
	cr_assert(in && !in->present);
	cr_expect_str_eq(in->reason, "no RAPL zones under /sys/class/powercap (not an Intel/AMD CPU with "
				     "RAPL, or running in a VM that hides it)");
	cr_expect_eq(t.nsrcs, 0);
	telemetry_release(&t);

	/* powercap present but holding no RAPL zone (e.g. only dtpm) */
	{
		char *d = xasprintf("%s/sys/class/powercap/dtpm", root);
		mkdirs(d);
		free(d);
	}
	cr_assert_eq(init_rapl(&t, 1, err, sizeof(err)), 0, "%s", err);
	in = rapl_inst(&t);
	cr_assert(in && !in->present);
	cr_expect(strstr(in->reason, "no RAPL zones under /sys/class/powercap") != NULL, "%s", in->reason);
	telemetry_release(&t);
}

/*
 * The permission case needs a real EACCES from open(). Tests may run as root,
 * which reads any file whatever its mode, so the probe runs in a child that
 * first drops to the unprivileged uid/gid 65534 (nobody); as a normal user the
 * child just probes a file with mode 000. No knob in rapl.c is needed.
 */
Test(rapl, root_only_energy_uj_names_the_file)
{
	char *f, msg[IPW_ERRLEN] = "", *want;
	int fds[2], status;
	ssize_t n;
	pid_t pid;
	make_zone("intel-rapl:0", "package-0", 5, 65712999613ULL);
	make_zone("intel-rapl:0:0", "dram", 5, 65712999613ULL);
	f = xasprintf("%s/sys/class/powercap/intel-rapl:0/energy_uj", root);
	cr_assert_eq(chmod(f, geteuid() == 0 ? 0400 : 0000), 0);
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct telemetry t;
		char err[IPW_ERRLEN] = "";
		struct backend_instance *in;
		const char *out;
		close(fds[0]);
		if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)) {
			out = "SKIP cannot drop root privileges";
			if (write(fds[1], out, strlen(out)) < 0)
				_exit(2);
			_exit(0);
		}
		if (init_rapl(&t, 1, err, sizeof(err)) < 0)
			_exit(3);
		in = rapl_inst(&t);
		out = in->present ? "PRESENT" : in->reason;
		if (write(fds[1], out, strlen(out)) < 0)
			_exit(2);
		telemetry_release(&t);
		_exit(0);
	}
	close(fds[1]);
	n = read(fds[0], msg, sizeof(msg) - 1);
	close(fds[0]);
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "probe child failed");
	cr_assert(n > 0);
	msg[n] = 0;
	if (!strncmp(msg, "SKIP ", 5))
		cr_skip_test("%s", msg + 5);
	want = xasprintf("cannot read %s: permission denied (energy_uj is root-only since Linux 5.10", f);
	cr_expect(!strncmp(msg, want, strlen(want)), "got: %s", msg);
	cr_expect(strstr(msg, "sudo chmod o+r ") != NULL, "no fix in: %s", msg);
	cr_expect(strstr(msg, "docs/platform-cpu.md") != NULL, "no doc pointer in: %s", msg);
	free(want);
	free(f);
}

/* A writer thread advancing energy_uj files as a known constant power would, wrapping at the range. */
struct writer {
	int fd[2];
	double watts[2];
	unsigned long long range_uj[2];
	int64_t t0;
	volatile int stop;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	while (!w->stop) {
		double s = (double)(clock_now_ns() - w->t0) / 1e9;
		for (int i = 0; i < 2; i++) {
			char v[32];
			unsigned long long uj = (unsigned long long)(w->watts[i] * 1e6 * s) % w->range_uj[i];
			/* fixed width: rewritten in place, never truncated, so a reader never sees "" */
			snprintf(v, sizeof(v), "%020llu\n", uj);
			if (pwrite(w->fd[i], v, 21, 0) != 21)
				return NULL;
		}
		clock_sleep_ns(2 * NS_PER_MS);
	}
	return NULL;
}

Test(rapl, window_energy_survives_counter_wrap)
{
	struct telemetry t;
	struct writer w = {.watts = {4.0, 1.0}, .range_uj = {3000000ULL, 1000000000000ULL}};
	char err[IPW_ERRLEN] = "";
	pthread_t th;
	const struct source_state *pkg, *dram;
	struct window_energy we;
	double e[8], dur;
	int64_t ta, tb;
	char *f;
	/* package: 4 W with a 3 J range wraps every 0.75 s; dram: 1 W, never wraps */
	make_zone("intel-rapl:0", "package-0", 0, w.range_uj[0]);
	make_zone("intel-rapl:0:0", "dram", 0, w.range_uj[1]);
	make_zone("intel-rapl:0:1", "core", 0, w.range_uj[0]);
	f = xasprintf("%s/sys/class/powercap/intel-rapl:0/energy_uj", root);
	w.fd[0] = open(f, O_WRONLY);
	free(f);
	f = xasprintf("%s/sys/class/powercap/intel-rapl:0:0/energy_uj", root);
	w.fd[1] = open(f, O_WRONLY);
	free(f);
	cr_assert(w.fd[0] >= 0 && w.fd[1] >= 0);
	w.t0 = clock_now_ns();
	cr_assert_eq(pthread_create(&th, NULL, writer_main, &w), 0);

	cr_assert_eq(init_rapl(&t, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.nsrcs, 3);
	pkg = find_src(&t, "rapl:package-0");
	dram = find_src(&t, "rapl:package-0/dram");
	cr_assert(pkg && dram);
	cr_assert_eq(telemetry_start(&t, NULL, NULL, err, sizeof(err)), 0, "%s", err);
	clock_sleep_ns(300 * NS_PER_MS);
	ta = clock_now_ns();
	clock_sleep_ns(2000 * NS_PER_MS);
	tb = clock_now_ns();
	/* the core zone never changes: it is never covered, so wait for the two that move */
	{
		int64_t deadline = clock_now_ns() + 5 * NS_PER_S;
		int64_t a, b;
		int ok = 0;
		while (!ok && clock_now_ns() < deadline) {
			pthread_mutex_lock(&t.lock);
			ok = timeline_span(&pkg->tl, &a, &b) == 0 && b >= tb &&
			     timeline_span(&dram->tl, &a, &b) == 0 && b >= tb;
			pthread_mutex_unlock(&t.lock);
			clock_sleep_ns(20 * NS_PER_MS);
		}
		cr_assert(ok, "timelines did not cover the window");
	}
	telemetry_stop(&t);
	w.stop = 1;
	pthread_join(th, NULL);
	close(w.fd[0]);
	close(w.fd[1]);

	dur = (double)(tb - ta) / 1e9;
	telemetry_window(&t, ta, tb, e);
	cr_assert_geq(pkg->tl.wraps, 2, "the package counter should have wrapped (saw %lu)", pkg->tl.wraps);
	/* a missed or doubled wrap would be off by 3 J (~40%); file staleness is a few ms */
	cr_expect(fabs(e[pkg - t.srcs] - 4.0 * dur) < 0.1 * 4.0 * dur, "package %.3f J, want %.3f J",
		  e[pkg - t.srcs], 4.0 * dur);
	cr_expect(fabs(e[dram - t.srcs] - 1.0 * dur) < 0.1 * 1.0 * dur, "dram %.3f J, want %.3f J",
		  e[dram - t.srcs], 1.0 * dur);
	/* host scope = package + dram (core is inside the package and is not summed) */
	{
		int64_t a, b;
		/* the summary needs every host source covered; the core zone has no knots and is SCOPE_NONE */
		telemetry_window_summary(&t, ta, tb, &we);
		cr_expect_eq(we.host_n, 2);
		cr_expect(fabs(we.host_j - 5.0 * dur) < 0.1 * 5.0 * dur, "host %.3f J, want %.3f J", we.host_j,
			  5.0 * dur);
		cr_expect(timeline_span(&find_src(&t, "rapl:package-0/core")->tl, &a, &b) < 0);
	}
	telemetry_release(&t);
}
