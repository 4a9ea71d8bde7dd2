/*
 * cmd/profile.c - 'ipw profile': parses options, prints the configuration,
 * shows progress on a terminal, runs the profile (src/runner.c) and prints
 * the closing summary. Ctrl-C stops cleanly; a second Ctrl-C exits at once.
 */
#include <getopt.h>
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
#include "../runner.h"
#include "cmd.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	if (stop_flag) {
		signal(sig, SIG_DFL);
		raise(sig);
	}
	stop_flag = 1;
}

static void usage(FILE *f)
{
	char apis[256];
	api_names(apis, sizeof apis, " | ");
	fprintf(f,
"usage: ipw profile [--url U] [--api API] [--model M] [--dataset PATH] [--limit N]\n"
"                   [--store PATH] [--name NAME] [--resume RUN] [options]\n"
"Streams each dataset item to an inference server, one query at a time, and records\n"
"its answer, latency, tokens and energy in the store (default ./ipw.db).\n\n"
"server:\n"
"  --url URL            server base URL (default: look for one on the usual local ports)\n"
"  --api API            %s (default auto: detected)\n"
"  --model NAME         model to query (default: the one model the server serves)\n"
"  --timeout S          per-attempt timeout in seconds (default 600)\n"
"  --retries N          retries after 429, 5xx, timeouts, connection failures (default 2)\n"
"  --backoff S          first retry delay, doubled each retry (default 1)\n"
"  --warmup N           requests before the run, not recorded (default 1)\n"
"sampling (defaults from the paper):\n"
"  --max-tokens N       (default 32768)   --temperature T (default 0.6)\n"
"  --top-p P            (default 0.95)    --top-k K (default 20; 0 = not sent)\n"
"  --sample-seed N      seed sent to the server (default: none)\n"
"  --system TEXT        system prompt (default: none)\n"
"data:\n"
"  --dataset PATH       JSONL dataset (default: the built-in set)\n"
"  --format F           dataset format: auto (default: detected from the first line), native,\n"
"                       harness, mmlu_pro, supergpqa, natural_reasoning, wildchat\n"
"  --limit N            first N items (after --shuffle)\n"
"  --shuffle            shuffle the items   --seed N  shuffle seed (default 0)\n"
"store:\n"
"  --store PATH         SQLite store (default ./ipw.db)\n"
"  --name NAME          a name for the run (default: generated)\n"
"  --resume RUN         continue an interrupted run (id or name); its recorded options apply\n"
"telemetry:\n"
"  --devices LIST       GPU indices or UUIDs (default: *_VISIBLE_DEVICES, else all)\n"
"  --no-host            do not measure host CPU/DRAM energy\n"
"  --backends LIST      telemetry back-ends to probe (default: all)\n"
"  --interval MS        sampling period (default: each back-end's own)\n"
"  --idle-seconds S     idle baseline before and after the queries (default 10)\n"
"  --fake-profile SPEC  use the fake back-end with a synthetic profile (tests)\n"
"  --fake-trace FILE    use the fake back-end replaying a trace (tests)\n"
"  --quiet              no progress bar or per-query lines\n"
"load (docs/load.md):\n"
"  --concurrency N      closed loop: keep N requests in flight (default 1: one at a time)\n"
"  --rate R             open loop: R requests/s, Poisson arrivals (see --burstiness)\n"
"  --burstiness K       gamma shape of the inter-arrival times (1 = Poisson; < 1 burstier)\n"
"  --max-concurrency N  open loop: at most N in flight (later arrivals wait)\n"
"  --duration S         keep sending for S seconds, cycling the items\n"
"  --requests N         send N requests, cycling the items (default: one per item)\n"
"  --sweep KEY=V1,V2,.. one run per point (KEY concurrency or rate), grouped\n"
"  --group NAME         group name recorded with the run(s) (default for --sweep: generated)\n"
"  --slo SPEC           goodput limits, e.g. ttft=0.5,tpot=0.05 (also itl=, e2e=; seconds)\n"
"  --serve CMD          start the server with CMD (needs --url), measure idle power before it,\n"
"                       wait for health, stop it after the run (SIGTERM, then SIGKILL)\n"
"  --serve-log PATH     the server's log (default: beside the store)\n"
"  --serve-timeout S    how long to wait for the server's health (default 600)\n"
"The API key, if the server needs one, comes from IPW_API_KEY or OPENAI_API_KEY.\n", apis);
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
	clear_bar(u);
	fprintf(stderr, "ipw: %s%s\n", lv == RUNNER_WARN ? "warning: " : "", text);
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
	fflush(stderr);
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
	else
		fprintf(stderr, "ipw: %lld %s failed: %s %s\n", q->seq + 1, q->item_id, q->error_kind,
			q->error_message ? q->error_message : "");
}

static void print_value(const char *label, double v, const char *unit)
{
	if (isnan(v))
		printf("  %-28s not measured\n", label);
	else
		printf("  %-28s %.4g %s\n", label, v, unit);
}

static void print_config(const struct runner_opts *o)
{
	fprintf(stderr, "ipw profile: model=%s url=%s api=%s dataset=%s limit=%lld%s store=%s\n",
		o->model ? o->model : "(from server)", o->url ? o->url : "(discover)",
		o->api ? o->api : "auto",
		o->dataset ? o->dataset : "builtin", o->limit, o->shuffle ? " shuffled" : "", o->store);
	char seed[32];
	if (o->s.has_seed)
		snprintf(seed, sizeof(seed), "%lld", o->s.seed);
	else
		snprintf(seed, sizeof(seed), "none");
	fprintf(stderr, "ipw profile: sampling max_tokens=%d temperature=%g top_p=%g top_k=%d seed=%s "
		"system=%s; timeout=%gs attempts=%d warmup=%d idle=%gs %s=%g\n",
		o->s.max_tokens, o->s.temperature, o->s.top_p, o->s.top_k, seed,
		o->s.system ? "given" : "none", o->timeout_s,
		o->max_attempts, o->warmup, o->idle_s, o->rate > 0 ? "rate" : "concurrency",
		o->rate > 0 ? o->rate : (double)o->concurrency);
}

static int parse_double(const char *s, double *out)
{
	char *end;
	*out = strtod(s, &end);
	return end != s && !*end && isfinite(*out) ? 0 : -1;
}

static int parse_ll(const char *s, long long *out)
{
	char *end;
	*out = strtoll(s, &end, 10);
	return end != s && !*end ? 0 : -1;
}

enum {
	O_URL = 256, O_API, O_MODEL, O_TIMEOUT, O_RETRIES, O_BACKOFF, O_WARMUP, O_MAXTOK, O_TEMP,
	O_TOPP, O_TOPK, O_SSEED, O_SYSTEM, O_DATASET, O_LIMIT, O_SHUFFLE, O_SEED, O_STORE, O_NAME,
	O_RESUME, O_FORMAT, O_DEVICES, O_NOHOST, O_BACKENDS, O_INTERVAL, O_IDLE, O_FPROF, O_FTRACE, O_QUIET, O_HELP,
	O_CONC, O_RATE, O_BURST, O_MAXC, O_DUR, O_REQS, O_SWEEP, O_GROUP, O_SLO, O_SERVE, O_SLOG, O_STIME,
};

static const struct option longopts[] = {
	{"url", 1, 0, O_URL}, {"api", 1, 0, O_API}, {"model", 1, 0, O_MODEL},
	{"timeout", 1, 0, O_TIMEOUT}, {"retries", 1, 0, O_RETRIES}, {"backoff", 1, 0, O_BACKOFF},
	{"warmup", 1, 0, O_WARMUP}, {"max-tokens", 1, 0, O_MAXTOK}, {"temperature", 1, 0, O_TEMP},
	{"top-p", 1, 0, O_TOPP}, {"top-k", 1, 0, O_TOPK}, {"sample-seed", 1, 0, O_SSEED},
	{"system", 1, 0, O_SYSTEM}, {"dataset", 1, 0, O_DATASET}, {"limit", 1, 0, O_LIMIT},
	{"shuffle", 0, 0, O_SHUFFLE}, {"seed", 1, 0, O_SEED}, {"store", 1, 0, O_STORE},
	{"name", 1, 0, O_NAME}, {"resume", 1, 0, O_RESUME}, {"format", 1, 0, O_FORMAT}, {"devices", 1, 0, O_DEVICES},
	{"no-host", 0, 0, O_NOHOST}, {"backends", 1, 0, O_BACKENDS}, {"interval", 1, 0, O_INTERVAL},
	{"idle-seconds", 1, 0, O_IDLE}, {"fake-profile", 1, 0, O_FPROF}, {"fake-trace", 1, 0, O_FTRACE},
	{"quiet", 0, 0, O_QUIET}, {"help", 0, 0, O_HELP},
	{"concurrency", 1, 0, O_CONC}, {"rate", 1, 0, O_RATE}, {"burstiness", 1, 0, O_BURST},
	{"max-concurrency", 1, 0, O_MAXC}, {"duration", 1, 0, O_DUR}, {"requests", 1, 0, O_REQS},
	{"sweep", 1, 0, O_SWEEP}, {"group", 1, 0, O_GROUP}, {"slo", 1, 0, O_SLO}, {"serve", 1, 0, O_SERVE},
	{"serve-log", 1, 0, O_SLOG}, {"serve-timeout", 1, 0, O_STIME}, {0, 0, 0, 0},
};

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
	if (!strcmp(rep->status, "interrupted"))
		printf("interrupted: ipw profile --resume %s --store %s continues it\n", rep->run_id, o->store);
	printf("details: ipw show %s --store %s; per query: ipw export %s --format csv --store %s\n",
	       rep->run_id, o->store, rep->run_id, o->store);
	if (!strcmp(rep->status, "interrupted"))
		status = EXIT_INTERRUPTED;
	else
		status = rep->failed ? EXIT_PARTIAL : 0;
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
	if (base->group) {
		group = xstrdup(base->group);
	} else {
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
		group = xasprintf("sweep-%s-%s", key, when);
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
	printf("sweep group %s: compare with ipw runs --store %s\n", group, base->store);
	free(group);
	free_list(vals);
	return status;
}

int cmd_profile(int argc, char **argv)
{
	struct runner_opts o;
	struct runner_hooks h;
	struct runner_report rep;
	struct ui u = {0};
	char err[IPW_ERRLEN] = "";
	int c, rc;
	long long v;
	double d;
	const char *sweep = NULL;

	runner_opts_init(&o);
	o.store = "ipw.db";
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case O_URL: o.url = optarg; break;
		case O_API:
		{
			const struct api_backend *b;
			char e[IPW_ERRLEN];
			if (api_lookup(optarg, &b, e, sizeof e) < 0) {
				fprintf(stderr, "ipw profile: --api: %s\n", e);
				return EXIT_USAGE;
			}
			o.api = optarg;
			break;
		}
		case O_MODEL: o.model = optarg; break;
		case O_TIMEOUT: if (parse_double(optarg, &o.timeout_s) || o.timeout_s <= 0) bad = "--timeout takes seconds > 0"; break;
		case O_RETRIES: if (parse_ll(optarg, &v) || v < 0 || v > 100) bad = "--retries takes 0..100"; else o.max_attempts = (int)v + 1; break;
		case O_BACKOFF: if (parse_double(optarg, &o.backoff_s) || o.backoff_s < 0) bad = "--backoff takes seconds >= 0"; break;
		case O_WARMUP: if (parse_ll(optarg, &v) || v < 0) bad = "--warmup takes a count >= 0"; else o.warmup = (int)v; break;
		case O_MAXTOK: if (parse_ll(optarg, &v) || v <= 0) bad = "--max-tokens takes a count > 0"; else o.s.max_tokens = (int)v; break;
		case O_TEMP: if (parse_double(optarg, &o.s.temperature) || o.s.temperature < 0) bad = "--temperature takes a number >= 0"; break;
		case O_TOPP: if (parse_double(optarg, &o.s.top_p) || o.s.top_p <= 0 || o.s.top_p > 1) bad = "--top-p takes (0, 1]"; break;
		case O_TOPK: if (parse_ll(optarg, &v) || v < 0) bad = "--top-k takes a count >= 0"; else o.s.top_k = (int)v; break;
		case O_SSEED: if (parse_ll(optarg, &v)) bad = "--sample-seed takes an integer"; else { o.s.seed = v; o.s.has_seed = 1; } break;
		case O_SYSTEM: o.s.system = optarg; break;
		case O_DATASET: o.dataset = optarg; break;
		case O_FORMAT: if (dataset_format_valid(optarg) < 0) bad = "--format takes " DATASET_FORMATS; else o.dataset_format = optarg; break;
		case O_LIMIT: if (parse_ll(optarg, &v) || v <= 0) bad = "--limit takes a count > 0"; else o.limit = v; break;
		case O_SHUFFLE: o.shuffle = 1; break;
		case O_SEED: if (parse_ll(optarg, &v)) bad = "--seed takes an integer"; else o.shuffle_seed = (unsigned long long)v; break;
		case O_STORE: o.store = optarg; break;
		case O_NAME: o.name = optarg; break;
		case O_RESUME: o.resume = optarg; break;
		case O_DEVICES: o.devices = optarg; break;
		case O_NOHOST: o.host = 0; break;
		case O_BACKENDS: o.backends = optarg; break;
		case O_INTERVAL: if (parse_ll(optarg, &v) || v <= 0) bad = "--interval takes milliseconds > 0"; else o.interval_ms = (int)v; break;
		case O_IDLE: if (parse_double(optarg, &d) || d < 0) bad = "--idle-seconds takes seconds >= 0"; else o.idle_s = d; break;
		case O_FPROF: o.fake_profile = optarg; break;
		case O_FTRACE: o.fake_trace = optarg; break;
		case O_QUIET: u.quiet = 1; break;
		case O_CONC: if (parse_ll(optarg, &v) || v < 1 || v > 100000) bad = "--concurrency takes a count >= 1"; else o.concurrency = (int)v; break;
		case O_RATE: if (parse_double(optarg, &o.rate) || o.rate <= 0) bad = "--rate takes requests/s > 0"; break;
		case O_BURST: if (parse_double(optarg, &o.burstiness) || o.burstiness <= 0) bad = "--burstiness takes a number > 0"; break;
		case O_MAXC: if (parse_ll(optarg, &v) || v < 1) bad = "--max-concurrency takes a count >= 1"; else o.max_concurrency = (int)v; break;
		case O_DUR: if (parse_double(optarg, &o.duration_s) || o.duration_s <= 0) bad = "--duration takes seconds > 0"; break;
		case O_REQS: if (parse_ll(optarg, &v) || v < 1) bad = "--requests takes a count >= 1"; else o.count = v; break;
		case O_SWEEP: sweep = optarg; break;
		case O_GROUP: o.group = optarg; break;
		case O_SLO: {
			struct load_slo slo;
			char e2[IPW_ERRLEN];
			if (load_slo_parse(&slo, optarg, e2, sizeof(e2)) < 0) {
				fprintf(stderr, "ipw profile: %s\n", e2);
				return EXIT_USAGE;
			}
			o.slo = optarg;
			break;
		}
		case O_SERVE: o.serve = optarg; break;
		case O_SLOG: o.serve_log = optarg; break;
		case O_STIME: if (parse_double(optarg, &o.serve_timeout_s) || o.serve_timeout_s <= 0) bad = "--serve-timeout takes seconds > 0"; break;
		case O_HELP: usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "ipw profile: %s (got '%s')\n", bad, optarg);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipw profile: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o.resume && (sweep || o.concurrency > 1 || o.rate > 0 || o.duration_s > 0 || o.count > 0)) {
		fprintf(stderr, "ipw profile: --resume continues a sequential run; load options (--concurrency, "
			"--rate, --duration, --requests, --sweep) start a new run instead\n");
		return EXIT_USAGE;
	}
	if (o.rate > 0 && o.concurrency > 1) {
		fprintf(stderr, "ipw profile: --rate (open loop) and --concurrency (closed loop) exclude each other; "
			"cap an open loop with --max-concurrency\n");
		return EXIT_USAGE;
	}
	o.stop = &stop_flag;
	u.tty = isatty(STDERR_FILENO);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	memset(&h, 0, sizeof(h));
	h.arg = &u;
	h.message = on_message;
	h.progress = on_progress;
	h.query_done = on_query;
	if (sweep)
		return run_sweep(&o, &h, &u, sweep);
	if (!o.resume)
		print_config(&o);
	rc = runner_run(&o, &h, &rep, err, sizeof(err));
	clear_bar(&u);
	return finish(&o, &rep, rc, err);
}
