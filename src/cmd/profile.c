/*
 * cmd/profile.c - 'ipw profile': parses options, prints the configuration,
 * shows progress on a terminal, runs the profile (src/runner.c) and prints
 * the closing summary. Ctrl-C, SIGTERM, SIGHUP and a closed output pipe stop
 * cleanly; a second signal exits at once (a --serve child is still stopped).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "../dataset.h"
#include "../load.h"
#include "../optable.h"
#include "../profile_opts.h"
#include "../runner.h"
#include "../serve.h"
#include "../store.h"
#include "../util.h"
#include "cmd.h"
#include "mainjob.h"

static volatile sig_atomic_t stop_flag;

/*
 * SIGINT, SIGTERM and SIGHUP ask the run to stop cleanly (interrupted, what
 * was measured kept); a second one ends ipw at once, after asking a --serve
 * child to stop (its guard process makes sure it does).
 */
static void on_signal(int sig)
{
	if (stop_flag) {
		serve_signal_stop();
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop_flag = 1;
}

/* A reader that went away (ipw profile ... | head): SIGPIPE is ignored, and EPIPE is a stop request. */
static void check_write(FILE *f)
{
	if ((fflush(f) == EOF || ferror(f)) && errno == EPIPE)
		stop_flag = 1;
	clearerr(f);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: ipw profile [--url U] [--api API] [--model M] [--dataset PATH] [--limit N]\n"
"                   [--store PATH] [--name NAME] [--resume RUN] [options]\n"
"Streams each dataset item to an inference server, one query at a time, and records\n"
"its answer, latency, tokens and energy in the store (default ./ipw.db).\n\n");
	opt_usage(f, profile_opts, profile_nopts);
	fprintf(f, "The API key, if the server needs one, comes from IPW_API_KEY or OPENAI_API_KEY.\n");
}

struct ui {
	int tty;
	int quiet;
	int bar_shown;
};

static void clear_bar(struct ui *u)
{
	if (u->bar_shown) {
		fprintf(stderr, "\r\033[K");
		u->bar_shown = 0;
	}
}

static void on_message(void *arg, enum runner_level lv, const char *text)
{
	struct ui *u = arg;
	char *clean = secret_scrub(text, strlen(text), NULL); /* whole, before anything cuts it */
	clear_bar(u);
	fprintf(stderr, "ipw: %s%s\n", lv == RUNNER_WARN ? "warning: " : "", clean ? clean : text);
	free(clean);
	check_write(stderr);
}

static void fmt_duration(double s, char *out, size_t n)
{
	if (!isfinite(s))
		snprintf(out, n, "--");
	else if (s < 60)
		snprintf(out, n, "%.0fs", s);
	else if (s < 3600)
		snprintf(out, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(out, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void on_progress(void *arg, const struct runner_progress *p)
{
	struct ui *u = arg;
	char eta[32], el[32], mj[32];
	int width = 30, fill;
	double frac = p->total ? (double)p->done / (double)p->total : 1;
	if (!u->tty || u->quiet)
		return;
	fill = (int)(frac * width);
	fmt_duration(p->elapsed_s, el, sizeof(el));
	fmt_duration(p->rate_qps > 0 ? (double)(p->total - p->done) / p->rate_qps : NAN, eta, sizeof(eta));
	if (isnan(p->mean_accel_j))
		snprintf(mj, sizeof(mj), "not measured");
	else
		snprintf(mj, sizeof(mj), "%.1f J/query", p->mean_accel_j);
	fprintf(stderr, "\r\033[K[%.*s%*s] %lld/%lld  %.2f q/s  elapsed %s  ETA %s  %s%s",
		fill, "##############################", width - fill, "", p->done, p->total, p->rate_qps,
		el, eta, mj, p->failed ? "" : "");
	if (p->failed)
		fprintf(stderr, "  failed %lld", p->failed);
	check_write(stderr);
	u->bar_shown = 1;
}

static void on_query(void *arg, const struct query_record *q)
{
	struct ui *u = arg;
	if (u->quiet || u->tty)
		return;
	/* not a terminal: one line per query on stderr, so logs show progress */
	if (!strcmp(q->status, "ok")) {
		char e[48];
		if (isnan(q->accel_j))
			snprintf(e, sizeof(e), "energy not measured");
		else
			snprintf(e, sizeof(e), "%.2f J", q->accel_j);
		fprintf(stderr, "ipw: %lld %s ok  %.2f s  %lld tokens  %s\n", q->seq + 1, q->item_id,
			q->e2e_s, q->completion_tokens, e);
	}
	else {
		const char *m = q->error_message ? q->error_message : "";
		char *clean = secret_scrub(m, strlen(m), NULL);
		fprintf(stderr, "ipw: %lld %s failed: %s %s\n", q->seq + 1, q->item_id, q->error_kind, clean ? clean : m);
		free(clean);
	}
	check_write(stderr);
}

static void print_value(const char *label, double v, const char *unit)
{
	if (isnan(v))
		printf("  %-28s not measured\n", label);
	else
		printf("  %-28s %.4g %s\n", label, v, unit);
}

/* The configuration line, from the option table. */
static void print_config(const struct runner_opts *o)
{
	char line[4096] = "";
	struct runner_opts shown = *o;  /* the store's URI without a password */

	shown.store = o->store ? store_uri_shown(o->store) : NULL;
	fprintf(stderr, "ipw profile:%s\n", opt_config_line(profile_opts, profile_nopts, &shown, line, sizeof(line)));
	free((char *)shown.store);
}

static int parse_double(const char *s, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return end != s && !*end && isfinite(*out) ? 0 : -1;
}

/* Prints a pct line of the summary's latency object. */
static void print_pct(json_t *lat, const char *key, const char *label)
{
	json_t *p = json_object_get(lat, key);
	if (!p || !json_integer_value(json_object_get(p, "n"))) {
		printf("  %-28s not measured\n", label);
		return;
	}
	printf("  %-28s p50 %.4g  p90 %.4g  p95 %.4g  p99 %.4g s\n", label,
	       json_number_value(json_object_get(p, "p50")), json_number_value(json_object_get(p, "p90")),
	       json_number_value(json_object_get(p, "p95")), json_number_value(json_object_get(p, "p99")));
}

static double jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The load summary of a run (summary_json), for the closing report. */
static void print_summary(const char *text)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL, *e, *g, *sv;
	if (!j)
		return;
	if (json_object_get(j, "latency")) {
		print_pct(json_object_get(j, "latency"), "ttft_s", "TTFT");
		print_pct(json_object_get(j, "latency"), "tpot_s", "TPOT");
		print_pct(json_object_get(j, "latency"), "itl_s", "ITL");
		print_pct(json_object_get(j, "latency"), "e2e_s", "E2E");
		print_pct(json_object_get(j, "latency"), "client_send_delay_s", "ipw's own send delay");
		print_value("throughput", jnum(j, "requests_per_s"), "requests/s");
		print_value("output throughput", jnum(j, "output_tokens_per_s"), "tokens/s");
		g = json_object_get(j, "goodput");
		if (g && json_is_integer(json_object_get(g, "good")))
			printf("  %-28s %lld of %lld requests meet the SLOs (%.1f%%), %.4g requests/s\n", "goodput",
			       (long long)json_integer_value(json_object_get(g, "good")),
			       (long long)json_integer_value(json_object_get(j, "sent")), 100 * jnum(g, "share"),
			       jnum(g, "per_s"));
		e = json_object_get(j, "energy");
		print_value("energy per query (shared)", jnum(e, "j_per_query"), "J");
		print_value("energy per output token", jnum(e, "j_per_output_token"), "J/token");
		print_value("mean accelerator power", jnum(e, "mean_power_w"), "W");
		print_value("idle share of the span", jnum(e, "idle_share"), "");
		print_value("conservation error", jnum(e, "conservation_rel"), "(relative)");
	}
	if ((sv = json_object_get(j, "serve"))) {
		print_value("device idle (no server)", jnum(sv, "device_idle_accel_w"), "W");
		print_value("server idle", jnum(sv, "server_idle_accel_w"), "W");
		printf("  %-28s %s\n", "server log", json_string_value(json_object_get(sv, "log")));
	}
	json_decref(j);
}

/* The closing report of one run; returns the exit status. */
static int finish(const struct runner_opts *o, struct runner_report *rep, int rc, const char *err)
{
	char *store;
	int status;
	if (rc < 0) {
		fprintf(stderr, "ipw profile: %s\n", err);
		if (rep->run_id[0])
			fprintf(stderr, "ipw profile: what was measured is kept: run %s (ipw profile --resume %s "
				"continues it)\n", rep->run_id, rep->run_id);
		free(rep->summary_json);
		return stop_flag ? EXIT_INTERRUPTED : EXIT_ENV;
	}
	printf("run %s: %s\n", rep->run_id, rep->status);
	printf("  %-28s %lld ok, %lld failed, %lld already recorded, of %lld\n", "queries", rep->ok,
	       rep->failed, rep->skipped, rep->total);
	printf("  %-28s %.1f s\n", "wall time", rep->wall_s);
	mainjob_energy_note(o->store, rep->run_id);   /* says so when the energy below is an estimate */
	print_value("accelerator energy (queries)", rep->accel_j, "J");
	print_value("accelerator energy (span)", rep->span_accel_j, "J");
	print_value("mean energy per query", rep->ok && !isnan(rep->accel_j) ? rep->accel_j / (double)rep->ok : NAN, "J");
	print_value("host energy (queries)", rep->host_j, "J");
	print_value("idle accelerator power", rep->idle_accel_w, "W");
	print_value("mean latency (E2E)", rep->mean_e2e_s, "s");
	print_value("mean TTFT", rep->mean_ttft_s, "s");
	printf("  %-28s %lld\n", "completion tokens", rep->completion_tokens);
	print_value("energy per output token", rep->completion_tokens > 0 ? rep->accel_j / (double)rep->completion_tokens : NAN, "J/token");
	print_summary(rep->summary_json);
	free(rep->summary_json);
	rep->summary_json = NULL;
	store = store_uri_shown(o->store);
	if (!strcmp(rep->status, "interrupted"))
		printf("interrupted: ipw profile --resume %s --store %s continues it\n", rep->run_id, store);
	printf("details: ipw show %s --store %s; per query: ipw export %s --format csv --store %s\n",
	       rep->run_id, store, rep->run_id, store);
	free(store);
	if (!strcmp(rep->status, "interrupted"))
		status = rep->halted ? EXIT_ENV : EXIT_INTERRUPTED; /* halted: the server's fault, said above */
	else
		status = rep->failed ? EXIT_PARTIAL : 0;
	return status;
}

/* The group of a --sweep or --repeat: --group, else KIND-<UTC time>; caller frees. */
static char *group_for(const struct runner_opts *base, const char *kind)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	if (base->group)
		return xstrdup(base->group);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	return xasprintf("%s-%s", kind, when);
}

/*
 * --repeat N: the same run N times, one after another, each a run of its own
 * (NAME-rep1 .. NAME-repN) in one group, so `ipw repeats --by group` gives the
 * spread across repeats beside each run's own intervals.
 */
static int run_repeats(const struct runner_opts *base, const struct runner_hooks *h, struct ui *u, int n)
{
	char *group = group_for(base, "repeat");
	int status = 0;
	fprintf(stderr, "ipw profile: %d repeats, group %s\n", n, group);
	for (int i = 1; i <= n && !stop_flag; i++) {
		struct runner_opts o = *base;
		struct runner_report rep;
		char err[IPW_ERRLEN] = "", *name;
		int rc, st;
		o.group = group;
		name = xasprintf("%s-rep%d", base->name ? base->name : group, i);
		o.name = name;
		print_config(&o);
		rc = runner_run(&o, h, &rep, err, sizeof(err));
		clear_bar(u);
		st = finish(&o, &rep, rc, err);
		if (rep.run_id[0] && rc >= 0)
			mainjob_summary(o.store, rep.run_id);
		if (st && !status)
			status = st;
		free(name);
		if (rc < 0)
			break;
	}
	char *store = store_uri_shown(base->store);
	const char *stem = base->name ? base->name : group;
	printf("repeat group %s: ipw repeats", group);
	for (int i = 1; i <= n && i <= 8; i++)
		printf(" %s-rep%d", stem, i);
	printf("%s --by group --store %s\n", n > 8 ? " ..." : "", store);
	free(store);
	free(group);
	return status;
}

/* --sweep KEY=V1,V2,...: one run per point, all in one group. */
static int run_sweep(const struct runner_opts *base, const struct runner_hooks *h, struct ui *u,
		     const char *spec)
{
	const char *eq = strchr(spec, '=');
	char key[32], **vals = NULL, *group = NULL;
	int nvals = 0, status = 0, is_rate;
	if (!eq || (size_t)(eq - spec) >= sizeof(key)) {
		fprintf(stderr, "ipw profile: --sweep takes concurrency=1,2,4 or rate=0.5,1,2 (got '%s')\n", spec);
		return EXIT_USAGE;
	}
	memcpy(key, spec, (size_t)(eq - spec));
	key[eq - spec] = 0;
	is_rate = !strcmp(key, "rate");
	if (!is_rate && strcmp(key, "concurrency")) {
		fprintf(stderr, "ipw profile: --sweep sweeps concurrency or rate (got '%s')\n", key);
		return EXIT_USAGE;
	}
	vals = split_list(eq + 1, ',', &nvals);
	for (int i = 0; i < nvals; i++) {
		double d;
		if (parse_double(vals[i], &d) || d <= 0 || (!is_rate && d != (int)d)) {
			fprintf(stderr, "ipw profile: --sweep %s: '%s' is not a %s\n", key, vals[i],
				is_rate ? "rate > 0" : "whole concurrency >= 1");
			free_list(vals);
			return EXIT_USAGE;
		}
	}
	if (!nvals) {
		fprintf(stderr, "ipw profile: --sweep %s= lists no values\n", key);
		free_list(vals);
		return EXIT_USAGE;
	}
	{
		char kind[48];
		snprintf(kind, sizeof(kind), "sweep-%s", key);
		group = group_for(base, kind);
	}
	fprintf(stderr, "ipw profile: sweep of %s over %d points, group %s\n", key, nvals, group);
	for (int i = 0; i < nvals && !stop_flag; i++) {
		struct runner_opts o = *base;
		struct runner_report rep;
		char err[IPW_ERRLEN] = "", *name;
		int rc, st;
		o.load = 1;
		o.group = group;
		if (is_rate) {
			o.rate = strtod(vals[i], NULL);
			o.concurrency = 1;
		} else {
			o.concurrency = atoi(vals[i]);
			o.rate = 0;
		}
		name = xasprintf("%s-%s%s", base->name ? base->name : group, is_rate ? "r" : "c", vals[i]);
		o.name = name;
		print_config(&o);
		rc = runner_run(&o, h, &rep, err, sizeof(err));
		clear_bar(u);
		st = finish(&o, &rep, rc, err);
		if (st && !status)
			status = st;
		free(name);
		if (rc < 0)
			break;
	}
	char *store = store_uri_shown(base->store);
	printf("sweep group %s: compare with ipw runs --store %s\n", group, store);
	free(store);
	free(group);
	free_list(vals);
	return status;
}

/* Checks the combinations the table cannot express; 0 or EXIT_USAGE (said on stderr). */
static int check_args(const struct profile_args *a)
{
	const struct runner_opts *o = &a->o;
	if (o->resume && (a->sweep || profile_is_load(o))) {
		fprintf(stderr, "ipw profile: --resume continues a sequential run; load options (--concurrency, "
			"--rate, --duration, --requests, --sweep) start a new run instead\n");
		return EXIT_USAGE;
	}
	if (a->repeat && (o->resume || a->sweep)) {
		fprintf(stderr, "ipw profile: --repeat starts N new runs; it goes with neither --resume nor --sweep "
			"(repeat a sweep by running the command again with the same --group)\n");
		return EXIT_USAGE;
	}
	if (o->rate > 0 && o->concurrency > 1) {
		fprintf(stderr, "ipw profile: --rate (open loop) and --concurrency (closed loop) exclude each other; "
			"cap an open loop with --max-concurrency\n");
		return EXIT_USAGE;
	}
	return 0;
}

int cmd_profile(int argc, char **argv)
{
	struct profile_args a;
	struct runner_hooks h;
	struct runner_report rep;
	struct ui u = {0};
	char err[IPW_ERRLEN] = "";
	unsigned char given[128] = {0};
	char model_path[4096];
	int rc, first, fresh;

	profile_args_init(&a);
	rc = opt_parse(profile_opts, profile_nopts, &a, argc, argv, &first,
		       profile_nopts <= sizeof(given) ? given : NULL, err, sizeof(err));
	if (rc == OPT_HELP) {
		usage(stdout);
		return 0;
	}
	if (rc == OPT_PARSED && first < argc)
		rc = err_set(err, sizeof(err), "unexpected argument '%s'", argv[first]);
	if (rc != OPT_PARSED) {
		fprintf(stderr, "ipw profile: %s (ipw profile --help lists the options)\n", err);
		return EXIT_USAGE;
	}
	if ((rc = check_args(&a)))
		return rc;
	for (size_t i = 0; a.o.resume && i < profile_nopts; i++)
		if (given[i] && (profile_opts[i].flags & OPT_RECORD))
			fprintf(stderr, "ipw profile: warning: --%s is ignored with --resume: the run's recorded "
				"value applies\n", profile_opts[i].name);
	u.quiet = a.quiet;
	a.o.stop = &stop_flag;
	u.tty = isatty(STDERR_FILENO);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	memset(&h, 0, sizeof(h));
	h.arg = &u;
	h.message = on_message;
	h.progress = on_progress;
	h.query_done = on_query;
	if (a.sweep)
		return run_sweep(&a.o, &h, &u, a.sweep);
	if ((fresh = mainjob_prepare(&a.o, model_path, sizeof(model_path))) > 1)
		return fresh;   /* no server and no model: said what to do */
	if (a.repeat)
		return run_repeats(&a.o, &h, &u, a.repeat);
	if (!a.o.resume)
		print_config(&a.o);
	rc = runner_run(&a.o, &h, &rep, err, sizeof(err));
	clear_bar(&u);
	rc = finish(&a.o, &rep, rc, err);
	if (rep.run_id[0] && rc != EXIT_USAGE)
		mainjob_summary(a.o.store, rep.run_id);   /* every run ends with accuracy, IPW, IPJ */
	return rc;
}
