/*
 * cmd/calibrate.c - 'ipw calibrate': parses options, runs the on/off load
 * pattern (src/calibrate.c) and prints how each source followed it, as text
 * or --json. Ctrl-C stops the pattern.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../calibrate.h"
#include "../util.h"
#include "cmd.h"
#include "jsonout.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipw calibrate [--load gpu|cpu|all] [--idle S] [--periods LIST] [--cycles N] [options]\n"
"Drives a known on/off load and reports how each measured source's energy timeline follows it:\n"
"counter step, rise and fall time, idle and loaded power, and the energy of the on and off\n"
"windows against a perfect meter. Run it on an otherwise idle machine.\n\n"
"  --load L             gpu (CUDA driver, a PTX burn kernel), cpu (busy threads) or all (default)\n"
"  --idle S             idle before the pattern (default 2)\n"
"  --periods LIST       on (= off) lengths in seconds (default 1,0.5,0.2)\n"
"  --cycles N           on/off cycles per period (default 3)\n"
"  --threads N          CPU busy threads (default: every online CPU)\n"
"  --cuda-device N      CUDA device ordinal for the GPU load (default 0)\n"
"  --devices LIST       telemetry: GPU indices or UUIDs   --no-host  no CPU/DRAM sources\n"
"  --backends LIST      telemetry back-ends   --interval MS  sampling period\n"
"  --fake-profile SPEC  --fake-trace FILE   the fake back-end (tests)\n"
"  --json               machine-readable output\n"
"  --ptx                print the burn kernel's PTX and exit (to check it with ptxas)\n"
"IPW_CUDA_LIBRARY overrides the driver library (default libcuda.so.1).\n");
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

enum { O_LOAD = 256, O_IDLE, O_PERIODS, O_CYCLES, O_THREADS, O_CUDADEV, O_DEVICES, O_NOHOST, O_BACKENDS,
       O_INTERVAL, O_FPROF, O_FTRACE, O_JSON, O_HELP, O_PTX };

static const struct option longopts[] = {
	{"load", 1, 0, O_LOAD}, {"idle", 1, 0, O_IDLE}, {"periods", 1, 0, O_PERIODS}, {"cycles", 1, 0, O_CYCLES},
	{"threads", 1, 0, O_THREADS}, {"cuda-device", 1, 0, O_CUDADEV}, {"devices", 1, 0, O_DEVICES},
	{"no-host", 0, 0, O_NOHOST}, {"backends", 1, 0, O_BACKENDS}, {"interval", 1, 0, O_INTERVAL},
	{"fake-profile", 1, 0, O_FPROF}, {"fake-trace", 1, 0, O_FTRACE}, {"json", 0, 0, O_JSON},
	{"help", 0, 0, O_HELP}, {"ptx", 0, 0, O_PTX}, {0, 0, 0, 0},
};

static int num(const char *s, double *v)
{
	char *end;
	*v = strtod(s, &end);
	return end != s && !*end && isfinite(*v) ? 0 : -1;
}

int cmd_calibrate(int argc, char **argv)
{
	struct calib_opts o;
	struct calib_report rep;
	char err[IPW_ERRLEN] = "";
	int c, json = 0;
	double d;

	calib_opts_init(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case O_LOAD:
			if (!strcmp(optarg, "gpu")) o.gpu = 1, o.cpu = 0;
			else if (!strcmp(optarg, "cpu")) o.gpu = 0, o.cpu = 1;
			else if (!strcmp(optarg, "all")) o.gpu = o.cpu = 1;
			else bad = "--load takes gpu, cpu or all";
			break;
		case O_IDLE: if (num(optarg, &o.idle_s) || o.idle_s <= 0) bad = "--idle takes seconds > 0"; break;
		case O_PERIODS: {
			int n = 0;
			char **v = split_list(optarg, ',', &n);
			o.nperiods = 0;
			for (int i = 0; i < n && !bad; i++) {
				if (num(v[i], &d) || d <= 0 || o.nperiods >= CALIB_MAX_PERIODS)
					bad = "--periods takes up to 8 lengths in seconds > 0, e.g. 1,0.5,0.2";
				else
					o.periods[o.nperiods++] = d;
			}
			if (!o.nperiods && !bad)
				bad = "--periods lists no lengths";
			free_list(v);
			break;
		}
		case O_CYCLES: if (num(optarg, &d) || d < 1 || d > 60) bad = "--cycles takes 1..60"; else o.cycles = (int)d; break;
		case O_THREADS: if (num(optarg, &d) || d < 1 || d > 4096) bad = "--threads takes 1..4096"; else o.threads = (int)d; break;
		case O_CUDADEV: if (num(optarg, &d) || d < 0) bad = "--cuda-device takes an ordinal >= 0"; else o.cuda_device = (int)d; break;
		case O_DEVICES: o.devices = optarg; break;
		case O_NOHOST: o.host = 0; break;
		case O_BACKENDS: o.backends = optarg; break;
		case O_INTERVAL: if (num(optarg, &d) || d < 1) bad = "--interval takes milliseconds >= 1"; else o.interval_ms = (int)d; break;
		case O_FPROF: o.fake_profile = optarg; break;
		case O_FTRACE: o.fake_trace = optarg; break;
		case O_JSON: json = 1; break;
		case O_HELP: usage(stdout); return 0;
		case O_PTX: fputs(calibrate_ptx, stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "ipw calibrate: %s (got '%s')\n", bad, optarg);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipw calibrate: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	o.stop = &stop_flag;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	{
		double total = o.idle_s + 1;
		for (int k = 0; k < o.nperiods; k++)
			total += 2 * o.periods[k] * o.cycles;
		fprintf(stderr, "ipw calibrate: about %.0f s per load; keep the machine otherwise idle\n", total);
	}
	if (calibrate_run(&o, &rep, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw calibrate: %s\n", err);
		return stop_flag ? EXIT_INTERRUPTED : EXIT_ENV;
	}
	if (json) {
		json_t *j = json_object();
		json_object_set_new(j, "gpu", part_json(&rep.gpu));
		json_object_set_new(j, "cpu", part_json(&rep.cpu));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(8));
		putchar('\n');
		json_decref(j);
	} else {
		part_text(&rep.gpu);
		part_text(&rep.cpu);
	}
	return 0;
}
