/*
 * profile_opts.c - the option table of 'ipw profile' and the recorded
 * configuration built from it: what each option is, how it parses, how it is
 * written in a run's config_json and restored from it on --resume.
 */
#include "profile_opts.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dataset.h"
#include "load.h"
#include "telemetry.h"
#include "telemetry/cputime.h"
#include "telemetry/fake.h"
#include "util.h"

_Static_assert(offsetof(struct profile_args, o) == 0, "runner_opts must come first");

#define F(field) offsetof(struct profile_args, field)

int profile_is_load(const struct runner_opts *o)
{
	return o->load || o->concurrency > 1 || o->rate > 0 || o->duration_s > 0 || o->count > 0;
}

static int record_if_load(const void *t)
{
	return profile_is_load(t);
}

static int record_if_serve(const void *t)
{
	return ((const struct runner_opts *)t)->serve != NULL;
}

/* --api: a registry name (client.h) or auto; kept as the name */
static int api_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	const struct api_backend *b;
	(void)d;
	if (api_lookup(arg, &b, err, errlen) < 0)
		return -1;
	((struct runner_opts *)t)->api = arg;
	return 0;
}

static const char *api_str(const char *api)
{
	return api ? api : "auto";
}

static json_t *api_to_json(const struct opt_def *d, const void *t)
{
	(void)d;
	return json_string(api_str(((const struct runner_opts *)t)->api));
}

static int api_from_json(const struct opt_def *d, void *t, json_t *v, struct opt_keep *keep, char *err,
			 size_t errlen)
{
	if (!json_is_string(v) || api_parse(d, t, json_string_value(v), err, errlen) < 0)
		return err_set(err, errlen, "'api' is not a known API ('%s')", json_is_string(v) ? json_string_value(v) : "?");
	((struct runner_opts *)t)->api = opt_keep_add(keep, json_string_value(v));
	return 0;
}

static void api_format(const struct opt_def *d, const void *t, char *out, size_t n)
{
	(void)d;
	snprintf(out, n, "%s", api_str(((const struct runner_opts *)t)->api));
}

static const char *api_help(const struct opt_def *d, char *buf, size_t n)
{
	char names[256];
	(void)d;
	api_names(names, sizeof names, " | ");
	snprintf(buf, n, "%s (default auto: detected)", names);
	return buf;
}

static const struct opt_hooks api_hooks = {api_parse, api_to_json, api_from_json, api_format, NULL, api_help};

/* url and model: NULL means found at run time */
static void auto_format(const struct opt_def *d, const void *t, char *out, size_t n)
{
	const char *s = *(const char *const *)((const char *)t + d->offset);
	snprintf(out, n, "%s", s ? s : "auto");
}

static const struct opt_hooks auto_hooks = {NULL, NULL, NULL, auto_format, NULL, NULL};

/* --url: credentials in it (http://user:pw@host/) are used, never printed or recorded */
static json_t *url_to_json(const struct opt_def *d, const void *t)
{
	const char *u = ((const struct runner_opts *)t)->url;
	char *shown;
	json_t *v;
	if (!u)
		return json_null();
	shown = url_strip_userinfo(u, NULL);
	v = json_string(shown);
	free(shown);
	return v;
}

static void url_format(const struct opt_def *d, const void *t, char *out, size_t n)
{
	const char *u = ((const struct runner_opts *)t)->url;
	char *shown = u ? url_strip_userinfo(u, NULL) : NULL;
	snprintf(out, n, "%s", shown ? shown : "auto");
	free(shown);
}

static const struct opt_hooks url_hooks = {NULL, url_to_json, NULL, url_format, NULL, NULL};

/* --fake-profile / --fake-trace: checked at once, so a mistake is an error, not a missing source */
static int fake_profile_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	char e[IPW_ERRLEN];
	if (fake_check_spec(arg, NULL, e, sizeof(e)) < 0)
		return err_set(err, errlen, "%s (docs/fake-backend.md describes the spec)", e);
	((struct runner_opts *)t)->fake_profile = arg;
	return 0;
}

static int fake_trace_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	char e[IPW_ERRLEN];
	if (fake_check_spec(NULL, arg, e, sizeof(e)) < 0)
		return err_set(err, errlen, "--fake-trace: %s (docs/fake-backend.md describes the format)", e);
	((struct runner_opts *)t)->fake_trace = arg;
	return 0;
}

static const struct opt_hooks fake_profile_hooks = {fake_profile_parse, NULL, NULL, NULL, NULL, NULL};
static const struct opt_hooks fake_trace_hooks = {fake_trace_parse, NULL, NULL, NULL, NULL, NULL};

/* Whether a comma list has an empty item ("", "a,,b", ",a", "a,"). */
static int list_has_empty(const char *s)
{
	size_t n = strlen(s);
	return !n || s[0] == ',' || s[n - 1] == ',' || strstr(s, ",,") != NULL;
}

/* --backends: names of the telemetry registry (or none); an unknown one is an error */
static int backends_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	char known[256] = "";
	char **names;
	int n, rc = 0;

	for (size_t i = 0; telemetry_registry_name(i); i++) {
		size_t used = strlen(known);
		snprintf(known + used, sizeof(known) - used, "%s, ", telemetry_registry_name(i));
	}
	names = split_list(arg, ',', &n);
	if (!n || list_has_empty(arg))
		rc = err_set(err, errlen, "--backends '%s' has an empty name: give names separated by commas (%snone)",
			     arg, known);
	for (int i = 0; i < n && !rc; i++) {
		size_t k;
		for (k = 0; telemetry_registry_name(k) && strcmp(names[i], telemetry_registry_name(k)); k++)
			;
		if (!telemetry_registry_name(k) && strcmp(names[i], "none"))
			rc = err_set(err, errlen, "--backends: unknown back-end '%s' (known: %snone; ipw devices "
				     "shows which are present)", names[i], known);
	}
	free_list(names);
	if (!rc)
		((struct runner_opts *)t)->backends = arg;
	return rc;
}

static const struct opt_hooks backends_hooks = {backends_parse, NULL, NULL, NULL, NULL, NULL};

/* A sweep point: a rate > 0, or a whole concurrency >= 1. */
static int sweep_point_ok(const char *s, int is_rate)
{
	char *end;
	double v = strtod(s, &end);
	return end != s && !*end && v > 0 && v <= 1e9 && (is_rate || v == (double)(long)v);
}

/* --sweep KEY=V1,V2,..: once only, KEY concurrency or rate, every value present and valid */
static int sweep_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct profile_args *a = t;
	const char *eq = strchr(arg, '=');
	char **vals = NULL;
	int n = 0, rc = 0, is_rate = eq && eq - arg == 4 && !strncmp(arg, "rate", 4);

	if (a->sweep)
		return err_set(err, errlen, "--sweep is given twice ('%s' and '%s'): one command sweeps one key; "
			       "run a second ipw profile for the other sweep", a->sweep, arg);
	if (!eq || !(is_rate || (eq - arg == 11 && !strncmp(arg, "concurrency", 11))))
		return err_set(err, errlen, "--sweep takes concurrency=1,2,4 or rate=0.5,1,2 (got '%s')", arg);
	if (list_has_empty(eq + 1))
		return err_set(err, errlen, "--sweep '%s' has an empty value: list the points separated by single "
			       "commas, e.g. %s", arg, is_rate ? "rate=0.5,1,2" : "concurrency=1,2,4");
	vals = split_list(eq + 1, ',', &n);
	for (int i = 0; i < n && !rc; i++)
		if (!sweep_point_ok(vals[i], is_rate))
			rc = err_set(err, errlen, "--sweep %s: '%s' is not a %s", is_rate ? "rate" : "concurrency",
				     vals[i], is_rate ? "rate > 0" : "whole concurrency >= 1");
	free_list(vals);
	if (!rc)
		a->sweep = arg;
	return rc;
}

static const struct opt_hooks sweep_hooks = {sweep_parse, NULL, NULL, NULL, NULL, NULL};

/* --retries N is recorded as max_attempts = N + 1 */
static int retries_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	char *end;
	long long v = strtoll(arg, &end, 10);
	if (end == arg || *end || v < 0 || v > 100)
		return err_set(err, errlen, "--retries takes 0..100");
	((struct runner_opts *)t)->max_attempts = (int)v + 1;
	return 0;
}

static void retries_format(const struct opt_def *d, const void *t, char *out, size_t n)
{
	snprintf(out, n, "%d", ((const struct runner_opts *)t)->max_attempts - 1);
}

static const struct opt_hooks retries_hooks = {retries_parse, NULL, NULL, retries_format, NULL, NULL};

/* --sample-seed: absent (null) unless given */
static int sseed_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct runner_opts *o = t;
	char *end;
	long long v = strtoll(arg, &end, 10);
	if (end == arg || *end)
		return err_set(err, errlen, "--sample-seed takes an integer");
	o->s.seed = v;
	o->s.has_seed = 1;
	return 0;
}

static json_t *sseed_to_json(const struct opt_def *d, const void *t)
{
	const struct runner_opts *o = t;
	return o->s.has_seed ? json_integer(o->s.seed) : json_null();
}

static int sseed_from_json(const struct opt_def *d, void *t, json_t *v, struct opt_keep *keep, char *err,
			   size_t errlen)
{
	struct runner_opts *o = t;
	if (!json_is_integer(v) && !json_is_null(v))
		return err_set(err, errlen, "'sampling.seed' is not an integer");
	o->s.has_seed = json_is_integer(v);
	o->s.seed = json_is_integer(v) ? json_integer_value(v) : 0;
	return 0;
}

static void sseed_format(const struct opt_def *d, const void *t, char *out, size_t n)
{
	const struct runner_opts *o = t;
	if (o->s.has_seed)
		snprintf(out, n, "%lld", o->s.seed);
	else
		snprintf(out, n, "none");
}

static const struct opt_hooks sseed_hooks = {sseed_parse, sseed_to_json, sseed_from_json, sseed_format, NULL, NULL};

/* --dataset: NULL is the built-in set, recorded as "builtin" */
static json_t *dataset_to_json(const struct opt_def *d, const void *t)
{
	const struct runner_opts *o = t;
	return json_string(o->dataset ? o->dataset : "builtin");
}

static int dataset_from_json(const struct opt_def *d, void *t, json_t *v, struct opt_keep *keep, char *err,
			     size_t errlen)
{
	struct runner_opts *o = t;
	if (!json_is_string(v))
		return err_set(err, errlen, "'dataset' is not a string");
	o->dataset = strcmp(json_string_value(v), "builtin") ? opt_keep_add(keep, json_string_value(v)) : NULL;
	return 0;
}

static void dataset_format(const struct opt_def *d, const void *t, char *out, size_t n)
{
	const struct runner_opts *o = t;
	snprintf(out, n, "%s", o->dataset ? o->dataset : "builtin");
}

static const struct opt_hooks dataset_hooks = {NULL, dataset_to_json, dataset_from_json, dataset_format, NULL, NULL};

/* --format (of the dataset): validated here; the run record keeps the detected one */
static int format_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	if (dataset_format_valid(arg) < 0)
		return err_set(err, errlen, "--format takes " DATASET_FORMATS);
	((struct runner_opts *)t)->dataset_format = arg;
	return 0;
}

static const struct opt_hooks format_hooks = {format_parse, NULL, NULL, NULL, NULL, NULL};

/* --slo: validated at parse time; recorded for load runs */
static int slo_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct load_slo slo;
	if (load_slo_parse(&slo, arg, err, errlen) < 0)
		return -1;
	((struct runner_opts *)t)->slo = arg;
	return 0;
}

/* --extra-body: must be a JSON object */
static int extra_body_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	json_error_t je;
	json_t *x = json_loads(arg, JSON_DECODE_ANY, &je);
	int ok = json_is_object(x);

	(void)d;
	json_decref(x);
	if (!ok)
		return err_set(err, errlen, "--extra-body takes a JSON object, e.g. '{\"min_tokens\": 64}'");
	((struct runner_opts *)t)->extra_body = arg;
	return 0;
}

static const struct opt_hooks extra_body_hooks = {extra_body_parse, NULL, NULL, NULL, NULL, NULL};

static const struct opt_hooks slo_hooks = {slo_parse, NULL, NULL, NULL, record_if_load, NULL};
static const struct opt_hooks load_hooks = {NULL, NULL, NULL, NULL, record_if_load, NULL};
static const struct opt_hooks serve_hooks = {NULL, NULL, NULL, NULL, record_if_serve, NULL};

/* --rate: recorded (load runs) as null when not an open loop */
static json_t *rate_to_json(const struct opt_def *d, const void *t)
{
	const struct runner_opts *o = t;
	return o->rate > 0 ? json_real(o->rate) : json_null();
}

static int rate_from_json(const struct opt_def *d, void *t, json_t *v, struct opt_keep *keep, char *err,
			  size_t errlen)
{
	if (!json_is_number(v) && !json_is_null(v))
		return err_set(err, errlen, "'rate' is not a number");
	((struct runner_opts *)t)->rate = json_is_number(v) ? json_number_value(v) : 0;
	return 0;
}

static const struct opt_hooks rate_hooks = {NULL, rate_to_json, rate_from_json, NULL, record_if_load, NULL};

/*
 * --cpu-watts-per-core: recorded for --api builtin runs (the only ones it
 * estimates) as the watts the estimate used, the default when not given, so
 * a resume estimates the rest of the run with the same figure
 */
static int record_if_builtin(const void *t)
{
	const char *api = ((const struct runner_opts *)t)->api;
	return api && !strcmp(api, "builtin");
}

static json_t *cpu_watts_to_json(const struct opt_def *d, const void *t)
{
	double w = *(const double *)((const char *)t + d->offset);
	return json_real(w > 0 ? w : CPUTIME_DEFAULT_WATTS_PER_CORE);
}

static const struct opt_hooks cpu_watts_hooks = {NULL, cpu_watts_to_json, NULL, NULL, record_if_builtin, NULL};

/* --limit: 0 (the default) is every item */
static void limit_format(const struct opt_def *d, const void *t, char *out, size_t n)
{
	long long v = *(const long long *)((const char *)t + d->offset);
	if (v > 0)
		snprintf(out, n, "%lld", v);
	else
		snprintf(out, n, "all");
}

static const struct opt_hooks limit_hooks = {NULL, NULL, NULL, limit_format, NULL, NULL};

#define R OPT_RECORD
#define B OPT_BOUNDED
#define OPEN (OPT_BOUNDED | OPT_MIN_OPEN)
#define BIG 1e15

const struct opt_def profile_opts[] = {
	{"url", 0, OPT_STRING, F(o.url), "URL", "server base URL (default: look for one on the usual local ports)",
	 "server", 0, 0, R, "url", NULL, &url_hooks},
	{"api", 0, OPT_STRING, F(o.api), "API", NULL,
	 NULL, 0, 0, R, "api", NULL, &api_hooks},
	{"model", 0, OPT_STRING, F(o.model), "NAME", "model to query (default: the one model the server serves)",
	 NULL, 0, 0, R, "model", NULL, &auto_hooks},
	{"timeout", 0, OPT_DOUBLE, F(o.timeout_s), "S", "per-attempt timeout in seconds (default 600)",
	 NULL, 0, BIG, R | OPEN, "timeout_s", "seconds > 0", NULL},
	{"retries", 0, OPT_INT, F(o.max_attempts), "N", "retries after 429, 5xx, connection failures (default 2)",
	 NULL, 0, 0, R, "max_attempts", NULL, &retries_hooks},
	{"backoff", 0, OPT_DOUBLE, F(o.backoff_s), "S", "first retry delay, doubled each retry (default 1)",
	 NULL, 0, BIG, R | B, "backoff_s", "seconds >= 0", NULL},
	{"retry-after-max", 0, OPT_DOUBLE, F(o.retry_after_max_s), "S",
	 "longest wait a server's Retry-After may ask before a retry (default 60)",
	 NULL, 0, BIG, R | OPEN, "retry_after_max_s", "seconds > 0", NULL},
	{"query-budget", 0, OPT_DOUBLE, F(o.query_budget_s), "S",
	 "a query's whole time, retries and waits included: no retry that would\n"
	 "pass it (default 0: none)",
	 NULL, 0, BIG, R | B, "query_budget_s", "seconds >= 0", NULL},
	{"warmup", 0, OPT_INT, F(o.warmup), "N", "requests before the run, not recorded (default 1)",
	 NULL, 0, 1e9, R | B, "warmup", "a count >= 0", NULL},
	{"max-tokens", 0, OPT_INT, F(o.s.max_tokens), "N", "(default 32768)",
	 "sampling (defaults from the paper)", 0, 1e9, R | OPEN, "sampling.max_tokens", "a count > 0", NULL},
	{"temperature", 0, OPT_DOUBLE, F(o.s.temperature), "T", "(default 0.6)",
	 NULL, 0, BIG, R | B, "sampling.temperature", "a number >= 0", NULL},
	{"top-p", 0, OPT_DOUBLE, F(o.s.top_p), "P", "(default 0.95)",
	 NULL, 0, 1, R | OPEN, "sampling.top_p", "(0, 1]", NULL},
	{"top-k", 0, OPT_INT, F(o.s.top_k), "K", "(default 20; 0 = not sent)",
	 NULL, 0, 1e9, R | B, "sampling.top_k", "a count >= 0", NULL},
	{"sample-seed", 0, OPT_LL, F(o.s.seed), "N", "seed sent to the server (default: none)",
	 NULL, 0, 0, R, "sampling.seed", NULL, &sseed_hooks},
	{"system", 0, OPT_STRING, F(o.s.system), "TEXT", "system prompt (default: none)",
	 NULL, 0, 0, R, "sampling.system", NULL, NULL},
	{"logprobs", 0, OPT_FLAG, F(o.s.logprobs), NULL, "ask for each output token's log-probability (OpenAI\n"
	 "\"logprobs\": true) and record perplexity per query (docs/metrics.md)",
	 NULL, 0, 0, R, "sampling.logprobs", NULL, NULL},
	{"ignore-eos", 0, OPT_FLAG, F(o.ignore_eos), NULL, "ask the server to generate --max-tokens tokens, past the\n"
	 "end of sequence (\"ignore_eos\": true; vLLM, SGLang, llama.cpp)", NULL, 0, 0, R, "ignore_eos", NULL, NULL},
	{"extra-body", 0, OPT_STRING, F(o.extra_body), "JSON", "a JSON object merged into every request body\n"
	 "(server-specific fields, e.g. '{\"min_tokens\": 64}')", NULL, 0, 0, R, "extra_body", NULL, &extra_body_hooks},
	{"dataset", 0, OPT_STRING, F(o.dataset), "PATH", "JSONL dataset (default: the built-in set); ref[:N] the\n"
	 "reference suite; random:in=I,out=O[,n=N][,seed=S] I-word prompts, O output\n"
	 "tokens each, ungraded (docs/datasets.md)",
	 "data", 0, 0, R, "dataset", NULL, &dataset_hooks},
	{"format", 0, OPT_STRING, F(o.dataset_format), "F",
	 "dataset format: auto (default: detected from the first line), native,\n"
	 "harness, mmlu_pro, supergpqa, natural_reasoning, wildchat (the run records the one used)",
	 NULL, 0, 0, 0, NULL, NULL, &format_hooks},
	{"limit", 0, OPT_LL, F(o.limit), "N", "first N items (after --shuffle; default all)",
	 NULL, 0, BIG, R | OPEN, "limit", "a count > 0", &limit_hooks},
	{"shuffle", 0, OPT_FLAG, F(o.shuffle), NULL, "shuffle the items",
	 NULL, 0, 0, R, "shuffle", NULL, NULL},
	{"seed", 0, OPT_ULL, F(o.shuffle_seed), "N", "shuffle seed (default 0)",
	 NULL, 0, 0, R, "shuffle_seed", "an integer", NULL},
	{"store", 0, OPT_STRING, F(o.store), "PATH", "SQLite store (default ./ipw.db)",
	 "store", 0, 0, OPT_SHOW, NULL, NULL, NULL},
	{"name", 0, OPT_STRING, F(o.name), "NAME", "a name for the run (default: generated)",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"resume", 0, OPT_STRING, F(o.resume), "RUN",
	 "continue an interrupted run (id or name); every option it recorded\n"
	 "(docs/profile.md) is restored from the record and listed",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"devices", 0, OPT_LIST, F(o.devices), "LIST", "GPU indices or UUIDs (default: *_VISIBLE_DEVICES, else all)",
	 "telemetry", 0, 0, R, "devices", NULL, NULL},
	{"no-host", 0, OPT_UNFLAG, F(o.host), NULL, "do not measure host CPU/DRAM energy",
	 NULL, 0, 0, R, "host", NULL, NULL},
	{"backends", 0, OPT_LIST, F(o.backends), "LIST", "telemetry back-ends to probe (default: all)",
	 NULL, 0, 0, R, "backends", NULL, &backends_hooks},
	{"interval", 0, OPT_INT, F(o.interval_ms), "MS", "sampling period (default: each back-end's own)",
	 NULL, 0, 1e9, R | OPEN, "interval_ms", "milliseconds > 0", NULL},
	{"idle-seconds", 0, OPT_DOUBLE, F(o.idle_s), "S", "idle baseline before and after the queries (default 10)",
	 NULL, 0, BIG, R | B, "idle_seconds", "seconds >= 0", NULL},
	{"cpu-watts-per-core", 0, OPT_DOUBLE, F(o.cpu_watts_per_core), "W",
	 "--api builtin with no energy sensor: estimate the engine's energy as its CPU\n"
	 "time x W per busy core (default 4; docs/engine.md), recorded as estimated",
	 NULL, 0, 1e4, R | OPEN, "cpu_watts_per_core", "watts > 0", &cpu_watts_hooks},
	{"fake-profile", 0, OPT_STRING, F(o.fake_profile), "SPEC", "use the fake back-end with a synthetic profile (tests)",
	 NULL, 0, 0, 0, NULL, NULL, &fake_profile_hooks},
	{"fake-trace", 0, OPT_STRING, F(o.fake_trace), "FILE", "use the fake back-end replaying a trace (tests)",
	 NULL, 0, 0, 0, NULL, NULL, &fake_trace_hooks},
	{"quiet", 0, OPT_FLAG, F(quiet), NULL, "no progress bar or per-query lines",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
	{"concurrency", 0, OPT_INT, F(o.concurrency), "N", "closed loop: keep N requests in flight (default 1: one at a time)",
	 "load (docs/load.md)", 1, 100000, R | B, "concurrency", "a count >= 1", NULL},
	{"rate", 0, OPT_DOUBLE, F(o.rate), "R", "open loop: R requests/s, Poisson arrivals (see --burstiness)",
	 NULL, 0, BIG, R | OPEN, "rate", "requests/s > 0", &rate_hooks},
	{"burstiness", 0, OPT_DOUBLE, F(o.burstiness), "K", "gamma shape of the inter-arrival times (1 = Poisson; < 1 burstier)",
	 NULL, 0, BIG, R | OPEN, "burstiness", "a number > 0", &load_hooks},
	{"max-concurrency", 0, OPT_INT, F(o.max_concurrency), "N", "open loop: at most N in flight (later arrivals wait)",
	 NULL, 1, 1e9, R | B, "max_concurrency", "a count >= 1", &load_hooks},
	{"duration", 0, OPT_DOUBLE, F(o.duration_s), "S", "keep sending for S seconds, cycling the items",
	 NULL, 0, BIG, R | OPEN, "duration_s", "seconds > 0", &load_hooks},
	{"requests", 0, OPT_LL, F(o.count), "N", "send N requests, cycling the items (default: one per item)",
	 NULL, 1, BIG, R | B, "count", "a count >= 1", &load_hooks},
	{"writer-queue", 0, OPT_INT, F(o.writer_queue), "N", "load: ended queries waiting to be stored at most\n"
	 "(default 256; a full queue makes the loop wait, counted)", NULL, 1, 1000000, B, NULL, "a count >= 1", NULL},
	{"sweep", 0, OPT_STRING, F(sweep), "KEY=V1,V2,..", "one run per point (KEY concurrency or rate), grouped",
	 NULL, 0, 0, 0, NULL, NULL, &sweep_hooks},
	{"repeat", 0, OPT_INT, F(repeat), "N", "N identical runs, one after another, in one group (ipw repeats --by group)",
	 NULL, 1, 1000, B, NULL, "a count from 1 to 1000", NULL},
	{"group", 0, OPT_STRING, F(o.group), "NAME", "group name recorded with the run(s) (default for --sweep, --repeat: generated)",
	 NULL, 0, 0, R, "group", NULL, NULL},
	{"slo", 0, OPT_STRING, F(o.slo), "SPEC", "goodput limits, e.g. ttft=0.5,tpot=0.05 (also itl=, e2e=; seconds)",
	 NULL, 0, 0, R, "slo", NULL, &slo_hooks},
	{"serve", 0, OPT_STRING, F(o.serve), "CMD",
	 "start the server with CMD (needs --url), measure idle power before it,\n"
	 "wait for health, stop it after the run (SIGTERM, then SIGKILL)",
	 NULL, 0, 0, R, "serve", NULL, NULL},
	{"serve-log", 0, OPT_STRING, F(o.serve_log), "PATH", "the server's log (default: beside the store)",
	 NULL, 0, 0, R, "serve_log", NULL, &serve_hooks},
	{"serve-timeout", 0, OPT_DOUBLE, F(o.serve_timeout_s), "S", "how long to wait for the server's health (default 600)",
	 NULL, 0, BIG, R | OPEN, "serve_timeout_s", "seconds > 0", &serve_hooks},
};

const size_t profile_nopts = sizeof(profile_opts) / sizeof(profile_opts[0]);

void profile_args_init(struct profile_args *a)
{
	memset(a, 0, sizeof(*a));
	runner_opts_init(&a->o);
	a->o.store = getenv("IPW_STORE") && *getenv("IPW_STORE") ? getenv("IPW_STORE") : "ipw.db"; /* as store_open */
}

char *profile_config_json(const struct runner_opts *o, const char *url, const char *api, const char *model)
{
	struct runner_opts r = *o;
	json_t *c = json_object();
	char *out;
	r.url = url;
	r.model = model;
	if (api)
		r.api = api;
	opt_record(profile_opts, profile_nopts, &r, c);
	out = json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(c);
	return out;
}

int profile_config_restore(struct runner_opts *o, const char *cfg, struct opt_keep *keep,
			   const char **summary, char *err, size_t errlen)
{
	json_error_t je;
	json_t *c = cfg ? json_loads(cfg, 0, &je) : NULL;
	unsigned char restored[sizeof(profile_opts) / sizeof(profile_opts[0])];
	char line[4096] = "", e[IPW_ERRLEN];
	int rc = -1;

	*summary = NULL;
	if (!c) {
		err_set(err, errlen, "the run's recorded configuration is not valid JSON: %s", cfg ? je.text : "none");
		goto out;
	}
	if (opt_restore(profile_opts, profile_nopts, o, c, keep, restored, e, sizeof(e)) < 0) {
		err_set(err, errlen, "the run's recorded configuration: %s", e);
		goto out;
	}
	for (size_t i = 0; i < profile_nopts; i++)
		if (restored[i]) {
			size_t used = strlen(line);
			char v[256];
			opt_format(&profile_opts[i], o, v, sizeof(v));
			snprintf(line + used, sizeof(line) - used, "%s--%s=%s", used ? " " : "", profile_opts[i].name, v);
		}
	*summary = opt_keep_add(keep, line[0] ? line : "(none recorded)");
	rc = 0;
out:
	json_decref(c);
	return rc;
}
