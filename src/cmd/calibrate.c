/*
 * cmd/calibrate.c - 'ipw calibrate': parses options, runs the on/off load
 * pattern (src/calibrate.c) and prints how each source followed it, as text
 * or --json. Ctrl-C stops the pattern.
 */
#include <stddef.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../calibrate.h"
#include "../optable.h"
#include "../util.h"
#include "cmd.h"
#include "jsonout.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* What 'ipw calibrate' parses into. */
struct cal_args {
	struct calib_opts o;
	int json, ptx;
};

static int load_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static int periods_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen);
static const struct opt_hooks load_hooks = {.parse = load_parse, NULL};
static const struct opt_hooks periods_hooks = {.parse = periods_parse, NULL};

#define A(field) offsetof(struct cal_args, field)
#define OPEN (OPT_BOUNDED | OPT_MIN_OPEN)
static const struct opt_def cal_opts[] = {
	{"load", 0, OPT_STRING, OPT_NOFIELD, "L", "gpu (CUDA driver, a PTX burn kernel), cpu (busy threads) or all (default)",
	 NULL, 0, 0, 0, NULL, NULL, &load_hooks},
	{"idle", 0, OPT_DOUBLE, A(o.idle_s), "S", "idle before the pattern (default 2)", NULL, 0, 1e15, OPEN, NULL,
	 "seconds > 0", NULL},
	{"periods", 0, OPT_LIST, OPT_NOFIELD, "LIST", "on (= off) lengths in seconds (default 1,0.5,0.2)", NULL, 0, 0, 0,
	 NULL, NULL, &periods_hooks},
	{"cycles", 0, OPT_INT, A(o.cycles), "N", "on/off cycles per period (default 3)", NULL, 1, 60, OPT_BOUNDED, NULL,
	 "1..60", NULL},
	{"threads", 0, OPT_INT, A(o.threads), "N", "CPU busy threads (default: every online CPU)", NULL, 1, 4096,
	 OPT_BOUNDED, NULL, "1..4096", NULL},
	{"cuda-device", 0, OPT_INT, A(o.cuda_device), "N", "CUDA device ordinal for the GPU load (default 0)", NULL, 0,
	 1e9, OPT_BOUNDED, NULL, "an ordinal >= 0", NULL},
	{"devices", 0, OPT_LIST, A(o.devices), "LIST", "GPU indices or UUIDs", "telemetry", 0, 0, 0, NULL, NULL,
	 NULL},
	{"no-host", 0, OPT_UNFLAG, A(o.host), NULL, "no CPU/DRAM sources", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"backends", 0, OPT_LIST, A(o.backends), "LIST", "telemetry back-ends", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"interval", 0, OPT_INT, A(o.interval_ms), "MS", "sampling period", NULL, 1, 2147483647.0, OPT_BOUNDED, NULL,
	 "milliseconds >= 1", NULL},
	{"fake-profile", 0, OPT_STRING, A(o.fake_profile), "SPEC", "the fake back-end (tests)", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"fake-trace", 0, OPT_STRING, A(o.fake_trace), "FILE", "the fake back-end replaying a trace (tests)", NULL, 0, 0,
	 0, NULL, NULL, NULL},
	{"json", 0, OPT_FLAG, A(json), NULL, "machine-readable output", "output", 0, 0, 0, NULL, NULL, NULL},
	{"ptx", 0, OPT_FLAG, A(ptx), NULL, "print the burn kernel's PTX and exit (to check it with ptxas)", NULL, 0, 0, 0,
	 NULL, NULL, NULL},
};
#define NOPTS (sizeof(cal_opts) / sizeof(cal_opts[0]))

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipw calibrate [--load gpu|cpu|all] [--idle S] [--periods LIST] [--cycles N] [options]\n"
"Drives a known on/off load and reports how each measured source's energy timeline follows it:\n"
"counter step, rise and fall time, idle and loaded power, and the energy of the on and off\n"
"windows against a perfect meter. Run it on an otherwise idle machine.\n\n");
	opt_usage(f, cal_opts, NOPTS);
	fprintf(f, "IPW_CUDA_LIBRARY overrides the driver library (default libcuda.so.1).\n");
}

static int load_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct calib_opts *o = &((struct cal_args *)t)->o;
	(void)d;
	if (!strcmp(arg, "gpu"))
		o->gpu = 1, o->cpu = 0;
	else if (!strcmp(arg, "cpu"))
		o->gpu = 0, o->cpu = 1;
	else if (!strcmp(arg, "all"))
		o->gpu = o->cpu = 1;
	else
		return err_set(err, errlen, "--load takes gpu, cpu or all");
	return 0;
}

static int num(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return end != s && !*end && isfinite(*v) ? 0 : -1;
}

static int periods_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct calib_opts *o = &((struct cal_args *)t)->o;
	int n = 0, rc = 0;
	char **v = split_list(arg, ',', &n);
	double p;
	(void)d;
	o->nperiods = 0;
	for (int i = 0; i < n && !rc; i++) {
		if (num(v[i], &p) || p <= 0 || o->nperiods >= CALIB_MAX_PERIODS)
			rc = err_set(err, errlen, "--periods takes up to 8 lengths in seconds > 0, e.g. 1,0.5,0.2");
		else
			o->periods[o->nperiods++] = p;
	}
	if (!o->nperiods && !rc)
		rc = err_set(err, errlen, "--periods lists no lengths");
	free_list(v);
	return rc;
}

static json_t *part_json(const struct calib_part *p)
{
	json_t *o = json_object(), *arr = json_array();
	json_object_set_new(o, "load", json_string(p->load));
	json_object_set_new(o, "ran", json_boolean(p->ran));
	json_object_set_new(o, "skipped", p->skipped[0] ? json_string(p->skipped) : json_null());
	json_object_set_new(o, "what", json_string(p->what));
	for (int s = 0; s < p->nsrcs; s++) {
		const struct calib_source *c = &p->src[s];
		json_t *so = json_object(), *pa = json_array();
		json_object_set_new(so, "source", json_string(c->name));
		json_object_set_new(so, "scope", json_string(c->scope));
		json_object_set_new(so, "step_s", json_real_or_null(c->step_s));
		json_object_set_new(so, "counter_update_s", json_real_or_null(c->update_s));
		json_object_set_new(so, "shaped_by_power", json_boolean(c->shaped));
		json_object_set_new(so, "idle_w", json_real_or_null(c->idle_w));
		json_object_set_new(so, "loaded_w", json_real_or_null(c->loaded_w));
		json_object_set_new(so, "rise_s", json_real_or_null(c->rise_s));
		json_object_set_new(so, "fall_s", json_real_or_null(c->fall_s));
		for (int k = 0; k < p->nperiods; k++) {
			const struct calib_period *cp = &c->per[k];
			json_array_append_new(pa, json_pack("{s:o, s:o, s:o, s:o, s:o}", "period_s", json_real_or_null(cp->len_s),
							    "on_j", json_real_or_null(cp->on_j), "off_j", json_real_or_null(cp->off_j),
							    "on_expected_j", json_real_or_null(cp->on_expect_j),
							    "off_expected_j", json_real_or_null(cp->off_expect_j)));
		}
		json_object_set_new(so, "periods", pa);
		json_array_append_new(arr, so);
	}
	json_object_set_new(o, "sources", arr);
	return o;
}

static void fmt(char *out, size_t n, const char *f, double v, const char *unit)
{
	if (isnan(v))
		snprintf(out, n, "--");
	else
		snprintf(out, n, f, v), strncat(out, unit, n - strlen(out) - 1);
}

static void part_text(const struct calib_part *p)
{
	printf("%s load: ", p->load);
	if (!p->ran && p->nsrcs == 0) {
		printf("%s\n", p->skipped);
		return;
	}
	printf("%s%s%s\n", p->what, p->skipped[0] ? "; " : "", p->skipped);
	printf("  %-22s %8s %9s %9s %8s %8s\n", "source", "step", "idle", "loaded", "rise", "fall");
	for (int s = 0; s < p->nsrcs; s++) {
		const struct calib_source *c = &p->src[s];
		char a[32], b[32], d[32], e[32], f[32];
		fmt(a, sizeof(a), "%.3f", c->step_s, " s");
		fmt(b, sizeof(b), "%.1f", c->idle_w, " W");
		fmt(d, sizeof(d), "%.1f", c->loaded_w, " W");
		fmt(e, sizeof(e), "%.3f", c->rise_s, " s");
		fmt(f, sizeof(f), "%.3f", c->fall_s, " s");
		printf("  %-22s %8s %9s %9s %8s %8s\n", c->name, a, b, d, e, f);
		if (c->shaped)
			printf("    (counter read sparsely, energy between reads shaped by power: 'step' is the read spacing; "
			       "the counter itself updates every %.3f s)\n", c->update_s);
		for (int k = 0; k < p->nperiods; k++) {
			const struct calib_period *cp = &c->per[k];
			printf("    %.2f s on/off: on %.1f J (perfect meter %.1f J), off %.1f J (%.1f J)\n", cp->len_s,
			       cp->on_j, cp->on_expect_j, cp->off_j, cp->off_expect_j);
		}
	}
}

static void print_report(const struct calib_report *rep, int json)
{
	if (json) {
		json_t *j = json_object();
		json_object_set_new(j, "gpu", part_json(&rep->gpu));
		json_object_set_new(j, "cpu", part_json(&rep->cpu));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(j);
	} else {
		part_text(&rep->gpu);
		part_text(&rep->cpu);
	}
}

int cmd_calibrate(int argc, char **argv)
{
	struct cal_args a;
	struct calib_report rep;
	char err[IPW_ERRLEN] = "";
	double total;
	int first, rc;

	memset(&a, 0, sizeof(a));
	calib_opts_init(&a.o);
	rc = opt_parse(cal_opts, NOPTS, &a, argc, argv, &first, NULL, err, sizeof(err));
	if (rc == OPT_HELP) {
		usage(stdout);
		return 0;
	}
	if (rc != OPT_PARSED || first < argc) {
		if (rc != OPT_PARSED)
			fprintf(stderr, "ipw calibrate: %s\n", err);
		else
			fprintf(stderr, "ipw calibrate: unexpected argument '%s'\n", argv[first]);
		return EXIT_USAGE;
	}
	if (a.ptx) {
		fputs(calibrate_ptx, stdout);
		return 0;
	}
	a.o.stop = &stop_flag;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	total = a.o.idle_s + 1;
	for (int k = 0; k < a.o.nperiods; k++)
		total += 2 * a.o.periods[k] * a.o.cycles;
	fprintf(stderr, "ipw calibrate: about %.0f s per load; keep the machine otherwise idle\n", total);
	if (calibrate_run(&a.o, &rep, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw calibrate: %s\n", err);
		return stop_flag ? EXIT_INTERRUPTED : EXIT_ENV;
	}
	print_report(&rep, a.json);
	return 0;
}
