/*
 * telemetry/rapl.c - CPU package and DRAM energy from the Linux powercap
 * interface (/sys/class/powercap/intel-rapl:*; AMD Zen CPUs appear under the
 * same names since Linux 5.11). Each zone's energy_uj is a wrapping µJ counter;
 * the timeline unwraps it with max_energy_range_uj. See docs/platform-cpu.md.
 */
#include "../telemetry_backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../clock.h"

#define POWERCAP_DIR "/sys/class/powercap"
#define RAPL_MAX_ZONES 64

struct rapl_priv {
	int *fds; /* energy_uj of each source, kept open; -1 when not selected */
	int n;
};

/* A directory entry "intel-rapl:N" or "intel-rapl:N:M" (M = -1 for a top-level zone). */
struct zone_id {
	char dir[64];
	int n, m;
};

static int parse_zone_dir(const char *name, struct zone_id *z)
{
	const char *p = name + strlen("intel-rapl:");
	char *end;
	long n, m = -1;
	/* intel-rapl-mmio:N repeats package zones through MMIO: same energy, skipped */
	if (strncmp(name, "intel-rapl:", strlen("intel-rapl:")) || strlen(name) >= sizeof(z->dir))
		return -1;
	n = strtol(p, &end, 10);
	if (end == p || n < 0 || n > 100000)
		return -1;
	if (*end == ':') {
		p = end + 1;
		m = strtol(p, &end, 10);
		if (end == p || m < 0 || m > 100000)
			return -1;
	}
	if (*end)
		return -1;
	snprintf(z->dir, sizeof(z->dir), "%.63s", name);
	z->n = (int)n;
	z->m = (int)m;
	return 0;
}

static int cmp_zone(const void *a, const void *b)
{
	const struct zone_id *x = a, *y = b;
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return x->m < y->m ? -1 : x->m > y->m;
}

/* Reads a zone's "name" file ("package-0", "dram", "core", "uncore", "psys"). */
static int zone_name(const char *base, const char *dir, char *out, size_t outlen)
{
	char *path = xasprintf("%s/%s/name", base, dir);
	int rc = read_file_str(path, out, outlen);
	free(path);
	return rc < 0 || !out[0] ? -1 : 0;
}

/* Kind and scope from the zone's name; sub-zones sit inside a package. */
static void classify(const char *name, int is_sub, struct source_info *s)
{
	if (!strncmp(name, "package", 7)) {
		s->kind = SOURCE_CPU_PACKAGE;
		s->scope = is_sub ? SCOPE_NONE : SCOPE_HOST;
	} else if (!strcmp(name, "dram")) {
		/* DRAM is outside the package domain on server parts: summed beside it */
		s->kind = SOURCE_DRAM;
		s->scope = SCOPE_HOST;
	} else if (!strcmp(name, "core")) {
		s->kind = SOURCE_CPU_CORE;
		s->scope = SCOPE_NONE;
	} else if (!strcmp(name, "psys")) {
		s->kind = SOURCE_PSYS;
		s->scope = SCOPE_NONE;
	} else {
		/* uncore (integrated graphics) and anything newer: inside a package */
		s->kind = SOURCE_OTHER;
		s->scope = SCOPE_NONE;
	}
}

static const char *zone_note(enum source_kind k, const char *name)
{
	switch (k) {
	case SOURCE_CPU_CORE:
		return "cores only; inside its package zone, not summed";
	case SOURCE_PSYS:
		return "whole platform (SoC + more); overlaps the packages, not summed";
	case SOURCE_DRAM:
		return "memory attached to this package; summed into host energy";
	case SOURCE_OTHER:
		return !strcmp(name, "uncore") ? "uncore (integrated graphics); inside its package, not summed"
					       : "unknown RAPL zone; not summed";
	default:
		return "";
	}
}

static int read_uj(int fd, double *uj)
{
	char s[32], *end;
	ssize_t n = pread(fd, s, sizeof(s) - 1, 0);
	unsigned long long v;
	if (n <= 0)
		return -1;
	s[n] = 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	*uj = (double)v;
	return 0;
}

static void free_sources(struct backend_instance *inst)
{
	struct rapl_priv *p = inst->priv;
	if (p) {
		for (int i = 0; i < p->n; i++)
			if (p->fds[i] >= 0)
				close(p->fds[i]);
		free(p->fds);
		free(p);
	}
	free(inst->sources);
	inst->sources = NULL;
	inst->nsources = 0;
	inst->priv = NULL;
}

/* Lists the "intel-rapl:N[:M]" zones under base, sorted; 0 when there are none. */
static int list_zones(const char *base, struct zone_id *zones, char *err, size_t errlen)
{
	DIR *d = opendir(base);
	struct dirent *de;
	int nz = 0;
	if (!d) {
		err_set(err, errlen,
			"no RAPL zones under %s (not an Intel/AMD CPU with RAPL, or running in a VM that "
			"hides it)%s%s",
			POWERCAP_DIR, errno == ENOENT ? "" : ": ", errno == ENOENT ? "" : strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) && nz < RAPL_MAX_ZONES)
		if (parse_zone_dir(de->d_name, &zones[nz]) == 0)
			nz++;
	closedir(d);
	if (!nz) {
		err_set(err, errlen,
			"no RAPL zones under %s (not an Intel/AMD CPU with RAPL, or running in a VM that "
			"hides it; is the intel_rapl_msr module loaded?)",
			POWERCAP_DIR);
		return -1;
	}
	qsort(zones, (size_t)nz, sizeof(*zones), cmp_zone);
	return nz;
}

/* A sub-zone's parent: the top-level zone with the same N (sorted before it). */
static void zone_parent(const struct zone_id *zones, char (*names)[64], int i, char *parent, size_t len)
{
	parent[0] = 0;
	if (zones[i].m < 0)
		return;
	for (int j = 0; j < i; j++)
		if (zones[j].n == zones[i].n && zones[j].m < 0)
			snprintf(parent, len, "%s", names[j]);
	if (!parent[0])
		snprintf(parent, len, "zone-%d", zones[i].n);
}

/*
 * Opens a zone's energy_uj and checks it reads as a number: 1 with *fd set, 0 when
 * the zone has no counter (the reason appended to skipped), -1 on permission denied.
 */
static int open_counter(const char *base, const struct zone_id *z, int *fd, char *skipped, size_t skippedlen,
			char *err, size_t errlen)
{
	char *path = xasprintf("%s/%s/energy_uj", base, z->dir);
	double uj;
	int rc = 1;
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0 && (errno == EACCES || errno == EPERM)) {
		err_set(err, errlen,
			"cannot read %s: permission denied (energy_uj is root-only since Linux 5.10, "
			"CVE-2020-8694). Run ipw as root, or grant read access until reboot: "
			"sudo chmod o+r %s/intel-rapl:*/energy_uj (or a udev rule; see docs/platform-cpu.md)",
			path, base);
		rc = -1;
		goto out;
	}
	errno = 0;
	if (*fd < 0 || read_uj(*fd, &uj) < 0) {
		/* some zones (psys on some boards) exist but have no counter */
		size_t l = strlen(skipped);
		snprintf(skipped + l, skippedlen - l, "%s%s: %s", l ? "; " : "", z->dir,
			 errno ? strerror(errno) : "energy_uj is not a number");
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		rc = 0;
	}
out:
	free(path);
	return rc;
}

/* Fills a zone's source description; parent is "" for a top-level zone. */
static void describe_zone(struct source_info *s, const char *base, const struct zone_id *z, const char *name,
			  const char *parent)
{
	char *path;
	long long range, limit;
	const char *note;
	if (z->m >= 0)
		snprintf(s->name, sizeof(s->name), "rapl:%.24s/%.24s", parent, name);
	else
		snprintf(s->name, sizeof(s->name), "rapl:%.48s", name);
	snprintf(s->backend, sizeof(s->backend), "rapl");
	classify(name, z->m >= 0, s);
	s->caps = CAP_ENERGY;
	s->power_kind = POWER_NONE;
	s->index = z->n;
	if (z->m >= 0)
		snprintf(s->model, sizeof(s->model), "%.60s/%.60s", parent, name);
	else
		snprintf(s->model, sizeof(s->model), "%.120s", name);
	snprintf(s->driver, sizeof(s->driver), "powercap %.54s", z->dir);
	path = xasprintf("%s/%s/constraint_0_power_limit_uw", base, z->dir);
	s->power_limit_w = read_file_ll(path, &limit) == 0 && limit > 0 ? (double)limit / 1e6 : NAN;
	free(path);
	s->mem_total_bytes = NAN;
	note = zone_note(s->kind, name);
	path = xasprintf("%s/%s/max_energy_range_uj", base, z->dir);
	if (read_file_ll(path, &range) == 0 && range > 0) {
		s->energy_wrap_j = (double)range / 1e6;
		snprintf(s->notes, sizeof(s->notes), "%s", note);
	} else {
		/* unknown range: a drop is then taken as a reset, which loses one step */
		s->energy_wrap_j = 0;
		snprintf(s->notes, sizeof(s->notes), "max_energy_range_uj unreadable: wraps seen as resets%s%s",
			 note[0] ? "; " : "", note);
	}
	free(path);
	s->counter_update_s = 0.001; /* RAPL updates its counters about every 1 ms */
}

/* Duplicate names (two zones both called "psys") get their index appended. */
static void dedupe_names(struct backend_instance *inst)
{
	for (int i = 0; i < inst->nsources; i++)
		for (int j = i + 1; j < inst->nsources; j++)
			if (!strcmp(inst->sources[i].name, inst->sources[j].name)) {
				size_t l = strlen(inst->sources[j].name);
				snprintf(inst->sources[j].name + l, sizeof(inst->sources[j].name) - l, "#%d", j);
			}
}

static int probe(struct backend_instance *inst, const struct telemetry_opts *opts, char *err, size_t errlen)
{
	char *base = telemetry_sysfs_path(POWERCAP_DIR);
	struct zone_id *zones = xcalloc(RAPL_MAX_ZONES, sizeof(*zones));
	char (*names)[64] = xcalloc(RAPL_MAX_ZONES, sizeof(*names));
	struct rapl_priv *p = xcalloc(1, sizeof(*p));
	char skipped[256] = "";
	int nz, rc = -1;
	(void)opts;
	inst->priv = p;
	nz = list_zones(base, zones, err, errlen);
	if (nz < 0)
		goto out;
	inst->sources = xcalloc((size_t)nz, sizeof(*inst->sources));
	p->fds = xcalloc((size_t)nz, sizeof(*p->fds));
	for (int i = 0; i < nz; i++) {
		char parent[64];
		int fd, ok;
		if (zone_name(base, zones[i].dir, names[i], sizeof(names[i])) < 0)
			continue;
		zone_parent(zones, names, i, parent, sizeof(parent));
		ok = open_counter(base, &zones[i], &fd, skipped, sizeof(skipped), err, errlen);
		if (ok < 0)
			goto out;
		if (!ok)
			continue;
		p->fds[inst->nsources] = fd;
		p->n = inst->nsources + 1;
		describe_zone(&inst->sources[inst->nsources], base, &zones[i], names[i], parent);
		inst->nsources++;
	}
	if (!inst->nsources) {
		err_set(err, errlen, "RAPL zones under %s have no readable energy counter (%s)", base,
			skipped[0] ? skipped : "no zone has a name");
		goto out;
	}
	dedupe_names(inst);
	rc = 0;
out:
	if (rc < 0)
		free_sources(inst);
	free(zones);
	free(names);
	free(base);
	return rc;
}

static int sample_read(struct backend_instance *inst, struct sample *out, char *err, size_t errlen)
{
	struct rapl_priv *p = inst->priv;
	int rc = 0;
	for (int i = 0; i < inst->nsources; i++) {
		int64_t t0, t1;
		double uj;
		if (!inst->sources[i].selected)
			continue;
		t0 = clock_now_ns();
		errno = 0;
		if (read_uj(p->fds[i], &uj) < 0) {
			rc = err_set(err, errlen, "%s: cannot read energy_uj: %s", inst->sources[i].name,
				     errno ? strerror(errno) : "bad value");
			continue;
		}
		t1 = clock_now_ns();
		sample_stamp(&out[i], t0, t1);
		out[i].energy_j = uj / 1e6;
		out[i].valid = SAMPLE_ENERGY;
	}
	return rc;
}

static void release(struct backend_instance *inst)
{
	free_sources(inst);
}

/*
 * 50 ms: a counter read is one pread() (a few µs), so this is cheap; the
 * counter itself ticks every ~1 ms, and 50 ms resolves per-query windows
 * while staying far inside the shortest wrap period (the smallest common
 * range, 65.7 kJ, lasts over two minutes even at 500 W).
 */
const struct telemetry_backend telemetry_rapl = {
	.name = "rapl",
	.description = "CPU package and DRAM energy (Linux powercap RAPL, Intel and AMD)",
	.default_interval_ms = 50,
	.probe = probe,
	.read = sample_read,
	.release = release,
};
