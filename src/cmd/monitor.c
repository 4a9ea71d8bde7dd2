/*
 * cmd/monitor.c - 'ipw monitor': runs the telemetry samplers and shows every
 * selected source live (a refreshed table on a terminal, else one JSONL or CSV
 * record per sample), then summarises energy and mean power per source and per
 * scope over the measured span. The samplers never print: their sink queues
 * samples that the main thread drains. docs/monitor.md explains the output.
 */
#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "cmd.h"
#include "measure.h"
#include "optable.h"
#include "telemetry.h"
#include "jsonout.h"

enum format { FMT_TABLE, FMT_JSONL, FMT_CSV };

#define QUEUE_MAX (1u << 20) /* samples held for printing before new ones are dropped */

struct queued {
	int src;                 /* source index (telemetry_source) */
	struct sample s;
};

struct monitor {
	struct measure ms;       /* its telemetry: ms.tel */
	pthread_mutex_t qlock;
	struct queued *q;
	size_t qn, qcap;
	uint64_t dropped;
	enum format fmt;
	int live;                /* redraw the table in place (a terminal) */
	int64_t t_begin, t_stop;
	struct sample *last;     /* per source: the latest sample printed or shown */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	if (stop_signal)
		_exit(EXIT_INTERRUPTED); /* a second Ctrl-C: leave at once */
	stop_signal = sig;
}

/* Runs in sampler threads with the telemetry lock held: queue only, never print. */
static void sink(void *arg, int src, const struct sample *s)
{
	struct monitor *m = arg;
	pthread_mutex_lock(&m->qlock);
	if (m->qn >= QUEUE_MAX) {
		m->dropped++;
	} else {
		if (m->qn == m->qcap) {
			m->qcap = m->qcap ? m->qcap * 2 : 256;
			m->q = xrealloc(m->q, m->qcap * sizeof(*m->q));
		}
		m->q[m->qn].src = src;
		m->q[m->qn].s = *s;
		m->qn++;
	}
	pthread_mutex_unlock(&m->qlock);
}

/* What 'ipw monitor' parses into. */
struct mon_args {
	struct measure_opts o;
	double duration;         /* 0 = until Ctrl-C */
	int fmt;                 /* enum format, or -1 = by the terminal */
};

static int format_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct mon_args *a = t;
	(void)d;
	if (!strcmp(arg, "table") || !strcmp(arg, "text")) /* text: the name every other command uses */
		a->fmt = FMT_TABLE;
	else if (!strcmp(arg, "jsonl"))
		a->fmt = FMT_JSONL;
	else if (!strcmp(arg, "csv"))
		a->fmt = FMT_CSV;
	else
		return err_set(err, errlen, "--format takes table (or text), jsonl or csv");
	return 0;
}
static const struct opt_hooks format_hooks = {.parse = format_parse, NULL};

#define A(field) offsetof(struct mon_args, field)
static const struct opt_def mon_opts[] = {
	{"duration", 0, OPT_DOUBLE, A(duration), "S", "stop after S seconds (default: at Ctrl-C)", NULL, 0, 1e15,
	 OPT_BOUNDED | OPT_MIN_OPEN, NULL, "seconds > 0", NULL},
	{"interval", 0, OPT_INT, A(o.interval_ms), "MS", "sampling period in milliseconds (default: each back-end's own)",
	 NULL, 1, 60000, OPT_BOUNDED, NULL, "milliseconds in [1, 60000]", NULL},
	{"format", 0, OPT_STRING, OPT_NOFIELD, "F",
	 "table (live, the default on a terminal), jsonl (the default otherwise) or csv", NULL, 0, 0, 0, NULL, NULL,
	 &format_hooks},
	{"devices", 0, OPT_LIST, A(o.devices), "LIST",
	 "GPUs to measure: indices, UUIDs (or prefixes) or PCI bus ids, comma-separated", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"no-host", 0, OPT_UNFLAG, A(o.host), NULL, "leave out host sources (CPU package, DRAM)", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"backends", 0, OPT_LIST, A(o.backends), "LIST", "use only these back-ends (nvidia,amd,rapl,apple,fake)", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"fake-profile", 0, OPT_STRING, A(o.fake_profile), "S",
	 "enable the fake back-end with a synthetic profile (docs/fake-backend.md)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"fake-trace", 0, OPT_STRING, A(o.fake_trace), "F", "enable the fake back-end replaying a trace file", NULL, 0, 0, 0,
	 NULL, NULL, NULL},
};
#define NOPTS (sizeof(mon_opts) / sizeof(mon_opts[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ipw monitor [--duration S] [--interval MS] [--format table|jsonl|csv]\n"
		"                   [--devices LIST] [--no-host] [--backends LIST]\n"
		"                   [--fake-profile SPEC | --fake-trace FILE]\n");
	opt_usage(f, mon_opts, NOPTS);
	fprintf(f, "Ends at --duration or Ctrl-C (SIGINT/SIGTERM), then prints a summary (docs/monitor.md).\n");
}

/* 0 to run, 1 after --help, -1 on a usage error (said). */
static int parse_args(int argc, char **argv, struct mon_args *a)
{
	char err[IPW_ERRLEN];
	int first, rc = opt_parse(mon_opts, NOPTS, a, argc, argv, &first, NULL, err, sizeof(err));
	if (rc == OPT_HELP) {
		usage(stdout);
		return 1;
	}
	if (rc != OPT_PARSED) {
		fprintf(stderr, "ipw monitor: %s\n", err);
		return -1;
	}
	if (first < argc) {
		fprintf(stderr, "ipw monitor: unexpected argument '%s'\n", argv[first]);
		return -1;
	}
	return 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return NAN;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* ---- records ---- */

static void print_record(struct monitor *m, const struct queued *r)
{
	const struct sample *s = &r->s;
	const char *name = telemetry_source(m->ms.tel, r->src)->name;
	double t_s = (double)(s->t_ns - m->t_begin) / 1e9;
	if (m->fmt == FMT_JSONL) {
		json_t *o = json_object();
		char *text;
		json_object_set_new(o, "t_s", json_real(t_s));
		json_object_set_new(o, "source", json_string(name));
		if ((s->valid & SAMPLE_ENERGY) && isfinite(s->energy_j))
			json_object_set_new(o, "energy_j", json_real(s->energy_j));
		if ((s->valid & SAMPLE_POWER) && isfinite(s->power_w))
			json_object_set_new(o, "power_w", json_real(s->power_w));
		if ((s->valid & SAMPLE_TEMP) && isfinite(s->temp_c))
			json_object_set_new(o, "temp_c", json_real(s->temp_c));
		if ((s->valid & SAMPLE_MEM_USED) && isfinite(s->mem_used_bytes))
			json_object_set_new(o, "mem_used_bytes", json_real(s->mem_used_bytes));
		text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(o);
	} else {
		printf("%.6f,%s,", t_s, name);
		if ((s->valid & SAMPLE_ENERGY) && isfinite(s->energy_j))
			printf("%.12g", s->energy_j);
		putchar(',');
		if ((s->valid & SAMPLE_POWER) && isfinite(s->power_w))
			printf("%.6g", s->power_w);
		putchar(',');
		if ((s->valid & SAMPLE_TEMP) && isfinite(s->temp_c))
			printf("%.4g", s->temp_c);
		putchar(',');
		if ((s->valid & SAMPLE_MEM_USED) && isfinite(s->mem_used_bytes))
			printf("%.0f", s->mem_used_bytes);
		putchar('\n');
	}
}

/* Takes what the samplers queued; prints it as records or keeps the latest per source. */
static void drain(struct monitor *m)
{
	struct queued *q;
	size_t n;
	pthread_mutex_lock(&m->qlock);
	q = m->q;
	n = m->qn;
	m->q = NULL;
	m->qn = m->qcap = 0;
	pthread_mutex_unlock(&m->qlock);
	for (size_t i = 0; i < n; i++) {
		if (m->t_stop && q[i].s.t_ns > m->t_stop)
			continue; /* read while waiting for the end to be covered: past the span shown */
		m->last[q[i].src] = q[i].s;
		if (m->fmt != FMT_TABLE)
			print_record(m, &q[i]);
	}
	free(q);
	fflush(stdout);
}

/* ---- the live table ---- */

/* Energy a source's timeline covers so far, and its mean power over the last second. */
static void so_far(struct monitor *m, int s, double *energy, double *recent_w)
{
	int64_t a, b;
	double e;
	*energy = *recent_w = NAN;
	if (telemetry_source_span(m->ms.tel, s, &a, &b) == 0) {
		int64_t r = b - NS_PER_S > a ? b - NS_PER_S : a;
		if (telemetry_source_energy(m->ms.tel, s, a, b, &e) == 0)
			*energy = e;
		if (b > r && telemetry_source_energy(m->ms.tel, s, r, b, &e) == 0)
			*recent_w = e / ((double)(b - r) / 1e9);
	}
}

static void cell(char *out, size_t n, const char *fmt, double v)
{
	if (isfinite(v))
		snprintf(out, n, fmt, v);
	else
		snprintf(out, n, "-");
}

/* One source's power cell: its own reading, else "~W" from the counter over the last second. */
static double power_cell(const struct source_info *si, const struct sample *l, double recent, char *pw, size_t n)
{
	if ((l->valid & SAMPLE_POWER) && si->power_kind != POWER_NONE) {
		cell(pw, n, "%.1f", l->power_w);
		return l->power_w;
	}
	if (isfinite(recent)) {
		snprintf(pw, n, "~%.1f", recent); /* from the energy counter, last second */
		return recent;
	}
	snprintf(pw, n, "-");
	return NAN;
}

/* Prints source s's row; returns the power shown (NAN if none). */
static double draw_row(struct monitor *m, int s)
{
	const struct source_info *si = telemetry_source(m->ms.tel, s);
	const struct sample *l = &m->last[s];
	char pw[32], ej[32], tc[32], mem[32];
	double e, recent, p;
	so_far(m, s, &e, &recent);
	p = power_cell(si, l, recent, pw, sizeof(pw));
	cell(ej, sizeof(ej), "%.1f", e);
	cell(tc, sizeof(tc), "%.0f", (l->valid & SAMPLE_TEMP) ? l->temp_c : NAN);
	cell(mem, sizeof(mem), "%.2f", (l->valid & SAMPLE_MEM_USED) ? l->mem_used_bytes / 1073741824.0 : NAN);
	printf("%-24s %-11s %10s %12s %7s %10s %8llu\n", si->name, source_scope_name(si->scope), pw, ej, tc, mem,
	       (unsigned long long)telemetry_source_nsamples(m->ms.tel, s));
	return p;
}

static void draw_table(struct monitor *m, int64_t now)
{
	double *p = xcalloc((size_t)m->ms.nsrcs + 1, sizeof(double));
	double accel_w, host_w;
	if (m->live)
		printf("\033[H\033[2J");
	printf("ipw monitor  %.1f s  %s\n", (double)(now - m->t_begin) / 1e9,
	       m->live ? "(Ctrl-C to stop)" : "");
	printf("%-24s %-11s %10s %12s %7s %10s %8s\n", "SOURCE", "SCOPE", "POWER_W", "ENERGY_J", "TEMP_C",
	       "MEM_GIB", "SAMPLES");
	for (int s = 0; s < m->ms.nsrcs; s++)
		p[s] = draw_row(m, s);
	accel_w = telemetry_scope_sum(m->ms.tel, SCOPE_ACCELERATOR, p, 0, NULL);
	host_w = telemetry_scope_sum(m->ms.tel, SCOPE_HOST, p, 0, NULL);
	if (!isnan(accel_w))
		printf("%-24s %-11s %10.1f\n", "accelerator (sum)", "", accel_w);
	if (!isnan(host_w))
		printf("%-24s %-11s %10.1f\n", "host (sum)", "", host_w);
	if (!m->live)
		putchar('\n');
	fflush(stdout);
	free(p);
}

/* ---- the summary ---- */

static struct measure_span source_span(struct monitor *m, int s)
{
	return measure_source_span(&m->ms, s, m->t_begin, m->t_stop);
}

static struct measure_span scope_span(struct monitor *m, enum source_scope scope, int *nsrc)
{
	return measure_scope_span(&m->ms, scope, m->t_begin, m->t_stop, nsrc);
}

struct run_samples {
	const struct monitor *m;
	int src;
	uint64_t n;
	int64_t first, last;
};

static void count_sample(void *arg, int src, const struct sample *sm)
{
	struct run_samples *c = arg;
	if (src != c->src || sm->t_ns < c->m->t_begin || sm->t_ns > c->m->t_stop)
		return;
	if (!c->n)
		c->first = sm->t_ns;
	c->last = sm->t_ns;
	c->n++;
}

/* Samples read within [t_begin, t_stop] (not those taken while waiting for coverage), and their rate. */
static uint64_t samples_in_run(struct monitor *m, int s, double *rate_hz)
{
	struct run_samples c = {.m = m, .src = s};
	telemetry_samples(m->ms.tel, NULL, count_sample, &c);
	*rate_hz = c.n >= 2 && c.last > c.first ? (double)(c.n - 1) / ((double)(c.last - c.first) / 1e9) : NAN;
	return c.n;
}

static double sampler_cpu_per_s(struct monitor *m, double duration_s)
{
	return duration_s > 0 ? telemetry_sampler_cpu_s(m->ms.tel) / duration_s : NAN;
}

static double field_max(struct monitor *m, int s, unsigned field)
{
	return telemetry_source_field_max(m->ms.tel, s, m->t_begin, m->t_stop, field);
}

static json_t *scope_json(struct measure_span *x, int n)
{
	json_t *o = json_object();
	json_object_set_new(o, "energy_j", json_real_or_null(x->energy_j));
	json_object_set_new(o, "mean_power_w", json_real_or_null(x->mean_w));
	json_object_set_new(o, "span_s", json_real_or_null(x->span_s));
	json_object_set_new(o, "sources", json_integer(n));
	return o;
}

static void summary_json(struct monitor *m, double duration_s, double cpu_per_s)
{
	json_t *root = json_object(), *srcs = json_object();
	struct measure_span acc, host;
	int nacc, nhost;
	char *text;
	json_object_set_new(root, "summary", json_true());
	json_object_set_new(root, "duration_s", json_real(duration_s));
	json_object_set_new(root, "interrupted", json_boolean(stop_signal != 0));
	json_object_set_new(root, "cpu_s_per_s", json_real_or_null(cpu_per_s));
	json_object_set_new(root, "sampler_cpu_s_per_s",
			    json_real_or_null(sampler_cpu_per_s(m, duration_s)));
	for (int s = 0; s < m->ms.nsrcs; s++) {
		const struct source_info *si = telemetry_source(m->ms.tel, s);
		struct measure_span x = source_span(m, s);
		json_t *o = json_object();
		double rate;
		json_object_set_new(o, "scope", json_string(source_scope_name(si->scope)));
		json_object_set_new(o, "energy_j", json_real_or_null(x.energy_j));
		json_object_set_new(o, "mean_power_w", json_real_or_null(x.mean_w));
		json_object_set_new(o, "span_s", json_real_or_null(x.span_s));
		uint64_t n = samples_in_run(m, s, &rate);
		json_object_set_new(o, "samples", json_integer((json_int_t)n));
		json_object_set_new(o, "sample_rate_hz", json_real_or_null(rate));
		json_object_set_new(o, "power_max_w",
				    json_real_or_null(field_max(m, s, SAMPLE_POWER)));
		json_object_set_new(o, "temp_max_c",
				    json_real_or_null(field_max(m, s, SAMPLE_TEMP)));
		json_object_set_new(o, "mem_used_max_bytes",
				    json_real_or_null(field_max(m, s, SAMPLE_MEM_USED)));
		json_object_set_new(srcs, si->name, o);
	}
	json_object_set_new(root, "sources", srcs);
	acc = scope_span(m, SCOPE_ACCELERATOR, &nacc);
	host = scope_span(m, SCOPE_HOST, &nhost);
	json_object_set_new(root, "accelerator", scope_json(&acc, nacc));
	json_object_set_new(root, "host", scope_json(&host, nhost));
	json_object_set_new(root, "sampler_errors", json_integer((json_int_t)telemetry_sampler_errors(m->ms.tel)));
	json_object_set_new(root, "dropped_records", json_integer((json_int_t)m->dropped));
	text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(12));
	if (text)
		printf("%s\n", text);
	free(text);
	json_decref(root);
}

static void fmt_num(char *out, size_t n, const char *fmt, double v)
{
	if (isfinite(v))
		snprintf(out, n, fmt, v);
	else
		snprintf(out, n, "null");
}

static void summary_text(struct monitor *m, FILE *f, double duration_s, double cpu_per_s)
{
	struct measure_span acc, host;
	int nacc, nhost;
	char e[32], w[32], sp[32], hz[32];
	fprintf(f, "\nsummary: %.2f s%s, CPU cost %.4f CPU-s per s (ipw), %.4f (sampler threads)\n",
		duration_s, stop_signal ? " (interrupted)" : "", cpu_per_s,
		sampler_cpu_per_s(m, duration_s));
	fprintf(f, "%-24s %-11s %12s %10s %8s %8s %9s\n", "SOURCE", "SCOPE", "ENERGY_J", "MEAN_W", "SPAN_S",
		"SAMPLES", "RATE_HZ");
	for (int s = 0; s < m->ms.nsrcs; s++) {
		const struct source_info *si = telemetry_source(m->ms.tel, s);
		struct measure_span x = source_span(m, s);
		double rate;
		uint64_t n = samples_in_run(m, s, &rate);
		fmt_num(e, sizeof(e), "%.3f", x.energy_j);
		fmt_num(w, sizeof(w), "%.2f", x.mean_w);
		fmt_num(sp, sizeof(sp), "%.3f", x.span_s);
		fmt_num(hz, sizeof(hz), "%.1f", rate);
		fprintf(f, "%-24s %-11s %12s %10s %8s %8llu %9s\n", si->name, source_scope_name(si->scope), e, w, sp,
			(unsigned long long)n, hz);
	}
	acc = scope_span(m, SCOPE_ACCELERATOR, &nacc);
	host = scope_span(m, SCOPE_HOST, &nhost);
	if (nacc) {
		fmt_num(e, sizeof(e), "%.3f", acc.energy_j);
		fmt_num(w, sizeof(w), "%.2f", acc.mean_w);
		fmt_num(sp, sizeof(sp), "%.3f", acc.span_s);
		fprintf(f, "%-24s %-11s %12s %10s %8s\n", "accelerator (sum)", "", e, w, sp);
	}
	if (nhost) {
		fmt_num(e, sizeof(e), "%.3f", host.energy_j);
		fmt_num(w, sizeof(w), "%.2f", host.mean_w);
		fmt_num(sp, sizeof(sp), "%.3f", host.span_s);
		fprintf(f, "%-24s %-11s %12s %10s %8s\n", "host (sum)", "", e, w, sp);
	}
	if (m->dropped)
		fprintf(f, "warning: %llu records dropped (output too slow)\n", (unsigned long long)m->dropped);
	fflush(f);
}

/* ---- the command ---- */

static void report_absent(const struct telemetry *t)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < telemetry_nbackends(t); i++)
		buf_appendf(&b, "%s%s: %s", b.len ? "; " : "", telemetry_backend_name(t, i),
			    telemetry_backend_present(t, i) ? "no selected source" : telemetry_backend_reason(t, i));
	fprintf(stderr, "ipw monitor: no energy source found: %s\n", b.data);
	buf_release(&b);
}

/* Probes telemetry; 0, or the exit status with the reason said. */
static int open_telemetry(struct monitor *m, const struct measure_opts *opts)
{
	char err[IPW_ERRLEN], warn[IPW_ERRLEN];
	if (measure_open(&m->ms, opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw monitor: %s\n", err);
		return EXIT_USAGE;
	}
	telemetry_last_error(m->ms.tel, warn, sizeof(warn));
	if (warn[0])
		fprintf(stderr, "ipw monitor: warning: %s\n", warn);
	if (!m->ms.nsrcs) {
		report_absent(m->ms.tel);
		return EXIT_ENV;
	}
	m->last = xcalloc((size_t)m->ms.nsrcs, sizeof(*m->last));
	return 0;
}

/* SIGINT/SIGTERM go to this thread only: the samplers start with them blocked. */
static int start_samplers(struct monitor *m)
{
	sigset_t block, old_mask;
	char err[IPW_ERRLEN];
	int rc;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	rc = measure_start(&m->ms, sink, m, err, sizeof(err));
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (rc < 0) {
		fprintf(stderr, "ipw monitor: %s\n", err);
		return EXIT_ENV;
	}
	/*
	 * The span starts once every source covers it (a counter's first knot may
	 * come late, e.g. NVML's phase search), so the energy shown covers the
	 * whole duration named, not a shorter tail of it
	 */
	m->t_begin = telemetry_started_ns(m->ms.tel);
	measure_wait(&m->ms, clock_now_ns(), MEASURE_COVER_TIMEOUT_NS);
	for (int s = 0; s < telemetry_nsources(m->ms.tel); s++) {
		int64_t a, b;
		if (telemetry_source_span(m->ms.tel, s, &a, &b) == 0 && a > m->t_begin)
			m->t_begin = a;
	}
	return 0;
}

/* Shows the samples until --duration or a signal; sets t_stop. */
static void watch(struct monitor *m, double duration)
{
	int64_t deadline = duration > 0 ? m->t_begin + (int64_t)(duration * 1e9) : INT64_MAX;
	int64_t period = (m->fmt == FMT_TABLE ? 500 : 100) * NS_PER_MS;
	if (m->fmt == FMT_CSV)
		printf("t_s,source,energy_j,power_w,temp_c,mem_used_bytes\n");
	for (;;) {
		int64_t now = clock_now_ns(), wake;
		if (stop_signal || now >= deadline)
			break;
		wake = now + period < deadline ? now + period : deadline;
		clock_sleep_until_ns(wake); /* a signal ends the sleep early */
		drain(m);
		if (m->fmt == FMT_TABLE && !stop_signal)
			draw_table(m, clock_now_ns());
	}
	m->t_stop = clock_now_ns();
	if (m->t_stop > deadline)
		m->t_stop = deadline;
}

/* Stops the samplers once the end is covered (briefly), then prints the summary. 0 or EXIT_ENV. */
static int finish(struct monitor *m, int interval_ms, double cpu0)
{
	/* let every counter step past the end so the last instant is covered, but not for long */
	int64_t wait_ns = 1500 * NS_PER_MS + 3 * (int64_t)interval_ms * NS_PER_MS;
	double cpu1, dur_s, wall, per_s;
	uint64_t nerr;
	if (measure_wait(&m->ms, m->t_stop, wait_ns) < 0)
		fprintf(stderr, "ipw monitor: note: not every source covers the end instant; its span ends "
			"at its last counter step\n");
	measure_stop(&m->ms);
	cpu1 = cpu_seconds();
	drain(m);
	dur_s = (double)(m->t_stop - m->t_begin) / 1e9;
	wall = (double)(clock_now_ns() - m->t_begin) / 1e9;
	per_s = wall > 0 ? (cpu1 - cpu0) / wall : NAN;
	if (m->fmt == FMT_JSONL)
		summary_json(m, dur_s, per_s);
	else
		summary_text(m, m->fmt == FMT_CSV ? stderr : stdout, dur_s, per_s);
	nerr = telemetry_sampler_errors(m->ms.tel);
	if (nerr) {
		char last[IPW_ERRLEN];
		telemetry_last_error(m->ms.tel, last, sizeof(last));
		fprintf(stderr, "ipw monitor: %llu sampler errors; last: %s\n", (unsigned long long)nerr, last);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ipw monitor: cannot write the output: %s\n", strerror(errno));
		return EXIT_ENV;
	}
	return 0;
}

int cmd_monitor(int argc, char **argv)
{
	struct mon_args a;
	struct monitor m;
	struct sigaction sa, old_int, old_term;
	double cpu0;
	int rc = 0, have_sig = 0, prc;

	memset(&m, 0, sizeof(m));
	memset(&a, 0, sizeof(a));
	measure_opts_init(&a.o);
	a.fmt = -1;
	pthread_mutex_init(&m.qlock, NULL);
	prc = parse_args(argc, argv, &a);
	if (prc) {
		if (prc < 0)
			usage(stderr);
		rc = prc < 0 ? EXIT_USAGE : 0;
		goto out;
	}
	m.live = a.fmt < 0 && isatty(STDOUT_FILENO);
	m.fmt = a.fmt >= 0 ? (enum format)a.fmt : m.live ? FMT_TABLE : FMT_JSONL;
	if ((rc = open_telemetry(&m, &a.o)))
		goto out;
	stop_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	have_sig = 1;
	cpu0 = cpu_seconds();
	if ((rc = start_samplers(&m)))
		goto out;
	watch(&m, a.duration);
	rc = finish(&m, a.o.interval_ms, cpu0);
out:
	if (have_sig) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	if (m.ms.tel)
		measure_close(&m.ms);
	free(m.q);
	free(m.last);
	pthread_mutex_destroy(&m.qlock);
	return rc;
}
