/*
 * cmd/show.c - 'ipw show RUN': one run's configuration, hardware, idle
 * baselines, dataset and totals (energy, power, latency, tokens), as text
 * or JSON, and its metrics (accuracy, IPW, IPJ with intervals, overall and
 * per subject) from the latest scores: see show_scoring().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "aggregate.h"
#include "analysis/paper.h"
#include "clock.h"
#include "../estimate.h"
#include "cmd.h"
#include "common.h"
#include "common_opts.h"
#include "perplexity.h"
#include "store.h"
#include "util.h"
#include "jsonout.h"

struct show_args {
	struct cmd_common cc;
	enum agg_ci ci;
};

static int ci_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct show_args *a = t;
	if (!strcmp(arg, "auto"))
		a->ci = AGG_CI_AUTO;
	else if (!strcmp(arg, "bootstrap"))
		a->ci = AGG_CI_BOOTSTRAP;
	else if (!strcmp(arg, "delta"))
		a->ci = AGG_CI_DELTA;
	else
		return err_set(err, errlen, "--ci is 'auto', 'bootstrap' or 'delta'");
	return 0;
}
static const struct opt_hooks ci_hooks = {ci_parse, NULL, NULL, NULL, NULL, NULL};

static const struct opt_def show_opts[] = {
	CMD_OPTDEF_STORE(struct show_args, cc),
	CMD_OPTDEF_FORMAT(struct show_args, cc, "text|json (default text)"),
	CMD_OPTDEF_JSON(struct show_args, cc),
	{"ci", 0, OPT_STRING, OPT_NOFIELD, "METHOD", "intervals: auto (default: bootstrap up to 50000 scored\n"
	 "queries, delta above), bootstrap or delta, as ipw compare and report", NULL, 0, 0, 0, NULL, NULL, &ci_hooks},
};
#define NOPTS (sizeof(show_opts) / sizeof(show_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw show RUN [--store PATH] [--format text|json] [--json] [--ci auto|bootstrap|delta]\n"
		"  RUN                  a run id, a run name that only one run has, or 'last'\n");
	opt_usage(f, show_opts, NOPTS);
	fprintf(f, "Every number comes from the run's rows through src/aggregate.c, as in ipw compare and\n"
		"ipw report (docs/metrics.md defines them).\n");
}

/* A JSON text as a value (or the raw text as a string if it does not parse). */
static json_t *jparsed(const char *text)
{
	json_t *v;
	if (!text)
		return json_null();
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(text);
}

/* "12.3 unit" with the given format, or "not measured". */
static const char *fmt(char *out, size_t n, const char *f, double v, const char *unit)
{
	if (isnan(v)) {
		snprintf(out, n, "not measured");
	} else {
		int k = snprintf(out, n, f, v);
		if (*unit && k > 0 && (size_t)k < n)
			snprintf(out + k, n - (size_t)k, " %s", unit);
	}
	return out;
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void print_json_text(const char *title, const char *text)
{
	json_t *v = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	char *pretty = v ? json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10)) : NULL;
	const char *body = pretty ? pretty : text ? text : "(none recorded)";

	printf("%s\n", title);
	for (const char *p = body; *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		printf("  %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
	free(pretty);
	json_decref(v);
}

/* {"value", "ci_low", "ci_high"}, null members where not computable. */
static json_t *jmetric(const struct metric_value *v)
{
	return json_pack("{s:o, s:o, s:o}", "value", json_real_or_null(v->value), "ci_low", json_real_or_null(v->ci_low), "ci_high",
			 json_real_or_null(v->ci_high));
}

static void metrics_members(json_t *o, const struct metrics *m)
{
	json_object_set_new(o, "n_scored", json_integer(m->n_scored));
	json_object_set_new(o, "n_failed", json_integer(m->n_failed));
	json_object_set_new(o, "n_unscored", json_integer(m->n_unscored));
	json_object_set_new(o, "n_correct", json_integer(m->n_correct));
	json_object_set_new(o, "n_energy", json_integer(m->n_energy));
	json_object_set_new(o, "n_dynamic", json_integer(m->n_dynamic));
	json_object_set_new(o, "n_tokens", json_integer(m->n_tokens));
	json_object_set_new(o, "accuracy", jmetric(&m->accuracy));
	json_object_set_new(o, "ipw", jmetric(&m->ipw));
	json_object_set_new(o, "ipj", jmetric(&m->ipj));
	json_object_set_new(o, "ipw_dynamic", jmetric(&m->ipw_dynamic));
	json_object_set_new(o, "ipj_dynamic", jmetric(&m->ipj_dynamic));
	json_object_set_new(o, "j_per_token", jmetric(&m->j_per_token));
	json_object_set_new(o, "tokens_per_j", jmetric(&m->tokens_per_j));
	json_object_set_new(o, "power_w", jmetric(&m->power_w));
	json_object_set_new(o, "energy_j", jmetric(&m->energy_j));
}

/* How many latest scores each grader gave (for the reader to trace where accuracy comes from). */
static int count_grader(const struct store_score *sc, void *ctx)
{
	json_t *g = ctx;
	json_t *n = json_object_get(g, sc->grader);
	json_object_set_new(g, sc->grader, json_integer(n ? json_integer_value(n) + 1 : 1));
	return 0;
}

/* "0.1234 [0.1000, 0.1500]" with %.4g, or "not computed". */
static const char *fmt_metric(char *out, size_t n, const struct metric_value *v, const char *unit)
{
	if (isnan(v->value))
		snprintf(out, n, "not computed");
	else if (isnan(v->ci_low))
		snprintf(out, n, "%-10.4g %-4s", v->value, unit);
	else
		snprintf(out, n, "%-10.4g %-4s [%.4g, %.4g]", v->value, unit, v->ci_low, v->ci_high);
	return out;
}

/* What show prints, computed once. */
struct show_data {
	struct run_record r;
	struct agg_options o;
	struct agg_result a;
	json_t *by_grader;        /* {"mcq": N, ...}, or NULL when scores could not be read */
	struct device_power dev;  /* IPW on the device's power (metrics.h) */
	struct ppl_run ppl;       /* perplexity from the token log-probabilities (perplexity.h) */
};

/* Perplexity lines: only a run whose server returned token log-probabilities has them. */
static void perplexity_text(const struct ppl_run *p)
{
	struct ppl_summary s;

	ppl_run_summary(p, &s);
	printf("perplexity (from the server's token log-probabilities; lower is better)\n");
	if (!p->n_logprobs) {
		printf("  not measured     no query carries token log-probabilities (ipw profile --logprobs asks\n"
		       "                   OpenAI-compatible servers for them; docs/metrics.md \"Perplexity\")\n");
		return;
	}
	printf("  queries          %lld with log-probabilities (%lld tokens), %lld of them with energy\n",
	       p->n_logprobs, p->tokens, p->n_energy);
	printf("  perplexity       %.6g mean per query, exp(-sum logprob / n) each; %.6g over the run's tokens pooled\n",
	       s.ppl_mean, s.ppl_tokens);
	if (p->n_energy) {
		printf("  per watt         %.6g /W  (mean perplexity / mean power, P = E(q) / latency(q))\n", s.ppl_per_w);
		printf("  per joule        %.6g /J  (mean perplexity / mean energy)\n", s.ppl_per_j);
	} else {
		printf("  per watt / joule not measured (no query with log-probabilities has measured energy)\n");
	}
}

static json_t *perplexity_json(const struct ppl_run *p)
{
	struct ppl_summary s;
	json_t *o = json_object();

	ppl_run_summary(p, &s);
	json_object_set_new(o, "queries_with_logprobs", json_integer(p->n_logprobs));
	json_object_set_new(o, "queries_with_logprobs_and_energy", json_integer(p->n_energy));
	json_object_set_new(o, "logprob_tokens", json_integer(p->tokens));
	json_object_set_new(o, "logprob_sum_nats", p->n_logprobs ? json_real(p->sum_logprob) : json_null());
	json_object_set_new(o, "perplexity_mean", json_real_or_null(s.ppl_mean));
	json_object_set_new(o, "perplexity_pooled", json_real_or_null(s.ppl_tokens));
	json_object_set_new(o, "perplexity_mean_with_energy", json_real_or_null(s.ppl_mean_e));
	json_object_set_new(o, "power_mean_w", json_real_or_null(s.power_mean_w));
	json_object_set_new(o, "energy_mean_j", json_real_or_null(s.energy_mean_j));
	json_object_set_new(o, "perplexity_per_w", json_real_or_null(s.ppl_per_w));
	json_object_set_new(o, "perplexity_per_j", json_real_or_null(s.ppl_per_j));
	return o;
}

static const char *interval_name(const struct show_data *d)
{
	return d->a.delta ? "delta" : "bootstrap";
}

/*
 * The scoring members of the JSON object: accuracy, IPW (accuracy / mean
 * power), IPJ (accuracy / mean energy), their dynamic variants, J/token and
 * tokens/J with intervals, overall and per subject (docs/metrics.md).
 */
static void scoring_json(const struct show_data *d, json_t *json)
{
	json_t *subj = json_array();

	if (!d->by_grader) {
		json_object_set_new(json, "scoring", json_null());
		json_decref(subj);
		return;
	}
	metrics_members(json, &d->a.m);
	for (size_t i = 0; i < d->a.nsubj; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "subject", json_string(d->a.subj[i].subject));
		metrics_members(o, &d->a.subj[i].m);
		json_array_append_new(subj, o);
	}
	json_object_set_new(json, "by_subject", subj);
	json_object_set_new(json, "device_power", json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:s}", "queries", d->dev.n,
		"energy_j", json_real_or_null(d->dev.energy_j), "busy_s", json_real_or_null(d->dev.busy_s),
		"power_w", json_real_or_null(d->dev.power_w), "in_flight", json_real_or_null(d->dev.in_flight),
		"ipw", json_real_or_null(d->dev.ipw), "definition",
		"accuracy / (sum of energy / union of the queries' windows); 'ipw' above is accuracy / mean of "
		"each request's energy / latency (its share of the device)"));
	json_object_set_new(json, "scoring", json_pack("{s:O, s:i, s:f, s:s, s:s}", "graders", d->by_grader,
						       "bootstrap", d->o.m.bootstrap, "level", d->o.m.level,
						       "interval_method", interval_name(d), "energy",
						       "accelerator (accel_j, accel_dyn_j)"));
}

static void graders_line(json_t *by_grader)
{
	const char *key;
	json_t *v;
	int first = 1;

	printf("  graders          ");
	json_object_foreach(by_grader, key, v) {
		printf("%s%s %lld", first ? "" : ", ", key, (long long)json_integer_value(v));
		first = 0;
	}
	printf("%s\n", first ? "none" : "");
}

/* "v [lo, hi]" with %.3g, or "-". */
static const char *fmt_short(char *out, size_t n, const struct metric_value *v)
{
	if (isnan(v->value))
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.3g [%.3g, %.3g]", v->value, v->ci_low, v->ci_high);
	return out;
}

static void subject_lines(const struct agg_result *a)
{
	if (!(a->nsubj > 1 || (a->nsubj == 1 && a->subj[0].subject[0])))
		return;
	printf("per subject        %-6s %-8s %-26s %-26s %s\n", "scored", "accuracy", "IPW [95% CI] /W",
	       "IPJ [95% CI] /J", "failed/unscored");
	for (size_t i = 0; i < a->nsubj; i++) {
		const struct metrics *x = &a->subj[i].m;
		char w[64], j[64];
		printf("  %-16.16s %-6d %-8.4g %-26s %-26s %d/%d\n", a->subj[i].subject[0] ? a->subj[i].subject : "(none)",
		       x->n_scored, x->accuracy.value, fmt_short(w, sizeof(w), &x->ipw), fmt_short(j, sizeof(j), &x->ipj),
		       x->n_failed, x->n_unscored);
	}
}

/* The scoring block of the text output (same numbers as scoring_json). */
static void scoring_text(const struct show_data *d)
{
	const struct metrics *m = &d->a.m;
	char a[96];

	if (d->a.delta)
		printf("scoring (latest score per item; accelerator energy; %.0f%% normal-approximation (delta method) "
		       "intervals)\n", d->o.m.level * 100);
	else
		printf("scoring (latest score per item; accelerator energy; %.0f%% bootstrap intervals, %d resamples)\n",
		       d->o.m.level * 100, d->o.m.bootstrap);
	if (!d->by_grader)
		return;
	if (m->n == 0) {
		printf("  no queries recorded\n");
		return;
	}
	if (m->n_scored == 0 && d->r.dataset_format && !strcmp(d->r.dataset_format, "random"))
		printf("  not scored: the items are ungraded (random dataset, no reference answers)\n");
	else if (m->n_scored == 0 && m->n_unscored == m->n - m->n_failed)
		printf("  not scored yet: ipw score %s scores it (a judge is needed for judge tasks)\n", d->r.id);
	graders_line(d->by_grader);
	printf("  queries          %d scored (%d correct), %d failed and %d unscored excluded; %d with energy\n",
	       m->n_scored, m->n_correct, m->n_failed, m->n_unscored, m->n_energy);
	printf("  accuracy         %s\n", fmt_metric(a, sizeof(a), &m->accuracy, ""));
	printf("  IPW              %s  (accuracy / mean power: each request's share, E(q) / latency(q))\n",
	       fmt_metric(a, sizeof(a), &m->ipw, "/W"));
	if (isfinite(d->dev.ipw))
		printf("  IPW device       %-10.4g /W   (point estimate)  (accuracy / the device's power: %.4g J over %.4g s busy = %.4g W;"
		       " %.2f requests in flight)\n", d->dev.ipw, d->dev.energy_j, d->dev.busy_s, d->dev.power_w,
		       d->dev.in_flight);
	printf("  IPJ              %s  (accuracy / mean energy)\n", fmt_metric(a, sizeof(a), &m->ipj, "/J"));
	printf("  IPW dynamic      %s\n", fmt_metric(a, sizeof(a), &m->ipw_dynamic, "/W"));
	printf("  IPJ dynamic      %s\n", fmt_metric(a, sizeof(a), &m->ipj_dynamic, "/J"));
	printf("  J/token          %s\n", fmt_metric(a, sizeof(a), &m->j_per_token, "J"));
	printf("  tokens/J         %s\n", fmt_metric(a, sizeof(a), &m->tokens_per_j, "/J"));
	printf("  mean power       %s\n", fmt_metric(a, sizeof(a), &m->power_w, "W"));
	printf("  mean energy      %s\n", fmt_metric(a, sizeof(a), &m->energy_j, "J"));
	subject_lines(&d->a);
}

static json_t *sources_json(const struct run_record *r)
{
	json_t *a = json_array();
	for (int i = 0; i < r->nsources; i++) {
		const struct run_source *s = &r->sources[i];
		json_t *o = json_object();
		json_object_set_new(o, "idx", json_integer(s->idx));
		json_object_set_new(o, "name", json_string_or_null(s->name));
		json_object_set_new(o, "backend", json_string_or_null(s->backend));
		json_object_set_new(o, "kind", json_string_or_null(s->kind));
		json_object_set_new(o, "scope", json_string_or_null(s->scope));
		json_object_set_new(o, "model", json_string_or_null(s->model));
		json_object_set_new(o, "uuid", json_string_or_null(s->uuid));
		json_object_set_new(o, "pci_bus_id", json_string_or_null(s->pci_bus_id));
		json_object_set_new(o, "driver", json_string_or_null(s->driver));
		json_object_set_new(o, "power_limit_w", json_real_or_null(s->power_limit_w));
		json_object_set_new(o, "idle_before_w", json_real_or_null(s->idle_before_w));
		json_object_set_new(o, "idle_after_w", json_real_or_null(s->idle_after_w));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *totals_json(const struct agg_totals *t)
{
	json_t *o = json_object();
	json_object_set_new(o, "queries", json_integer(t->n_queries));
	json_object_set_new(o, "ok", json_integer(t->n_ok));
	json_object_set_new(o, "failed", json_integer(t->n_failed));
	json_object_set_new(o, "ok_with_energy", json_integer(t->n_energy));
	json_object_set_new(o, "accel_energy_total_j", json_real_or_null(t->accel_j_total));
	json_object_set_new(o, "host_energy_total_j", json_real_or_null(t->host_j_total));
	json_object_set_new(o, "accel_energy_mean_j", json_real_or_null(t->accel_j_mean));
	json_object_set_new(o, "accel_energy_dynamic_mean_j", json_real_or_null(t->accel_dyn_j_mean));
	json_object_set_new(o, "host_energy_mean_j", json_real_or_null(t->host_j_mean));
	json_object_set_new(o, "total_energy_mean_j", json_real_or_null(t->total_j_mean));
	json_object_set_new(o, "power_mean_w", json_real_or_null(t->power_mean_w));
	json_object_set_new(o, "latency_mean_s", json_real_or_null(t->e2e_mean_s));
	json_object_set_new(o, "latency_p50_s", json_real_or_null(t->e2e_p50_s));
	json_object_set_new(o, "latency_p99_s", json_real_or_null(t->e2e_p99_s));
	json_object_set_new(o, "ttft_mean_s", json_real_or_null(t->ttft_mean_s));
	json_object_set_new(o, "ttft_p50_s", json_real_or_null(t->ttft_p50_s));
	json_object_set_new(o, "ttft_p99_s", json_real_or_null(t->ttft_p99_s));
	json_object_set_new(o, "tpot_mean_s", json_real_or_null(t->tpot_mean_s));
	json_object_set_new(o, "prompt_tokens", json_count_or_null(t->prompt_tokens));
	json_object_set_new(o, "completion_tokens", json_count_or_null(t->completion_tokens));
	json_object_set_new(o, "reasoning_tokens", json_count_or_null(t->reasoning_tokens));
	json_object_set_new(o, "prompt_tokens_mean", json_real_or_null(t->prompt_tokens_mean));
	json_object_set_new(o, "completion_tokens_mean", json_real_or_null(t->completion_tokens_mean));
	json_object_set_new(o, "reasoning_tokens_mean", json_real_or_null(t->reasoning_tokens_mean));
	return o;
}

static void show_json(const struct show_data *d)
{
	const struct run_record *r = &d->r;
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(strtoll(r->id, NULL, 10)));
	json_object_set_new(o, "name", json_string_or_null(r->name));
	json_object_set_new(o, "status", json_string_or_null(r->status));
	json_object_set_new(o, "energy_method", json_string(run_energy_method(r)));
	json_object_set_new(o, "model", json_string_or_null(r->model));
	json_object_set_new(o, "server_model", json_string_or_null(r->server_model));
	json_object_set_new(o, "api", json_string_or_null(r->api));
	json_object_set_new(o, "url", json_string_or_null(r->url));
	json_object_set_new(o, "engine", json_string_or_null(r->engine));
	json_object_set_new(o, "version", json_string_or_null(r->version));
	json_object_set_new(o, "started_at", json_real_or_null(r->started_at));
	json_object_set_new(o, "ended_at", json_real_or_null(r->ended_at));
	json_object_set_new(o, "idle_seconds", json_real_or_null(r->idle_seconds));
	json_object_set_new(o, "items_planned", json_count_or_null(r->n_items));
	json_object_set_new(o, "dataset", json_pack("{s:o, s:o, s:o}", "path", json_string_or_null(r->dataset_path),
						     "sha256", json_string_or_null(r->dataset_sha256),
						     "format", json_string_or_null(r->dataset_format)));
	json_object_set_new(o, "config", jparsed(r->config_json));
	json_object_set_new(o, "group", json_string_or_null(r->group_name));
	json_object_set_new(o, "summary", jparsed(r->summary_json));
	json_object_set_new(o, "server_log", json_string_or_null(r->server_log));
	json_object_set_new(o, "hardware", jparsed(r->hardware_json));
	json_object_set_new(o, "sources", sources_json(r));
	json_object_set_new(o, "totals", totals_json(&d->a.t));
	scoring_json(d, o);
	json_object_set_new(o, "perplexity", perplexity_json(&d->ppl));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(o);
}

/* The run, its dataset and its hardware. */
/* Whether a run's summary is a router's (src/router/acct.c: "kind": "router"), not a load run's. */
static int summary_is_router(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);
	const char *k = json_string_value(json_object_get(j, "kind"));
	int yes = k && !strcmp(k, "router");

	json_decref(j);
	return yes;
}

static void run_text(const struct run_record *r, const char *planned)
{
	char a[64], b[64], c[64], started[32] = "-", ended[32] = "-";

	if (!isnan(r->started_at))
		clock_format_iso(r->started_at, started, sizeof(started));
	if (!isnan(r->ended_at))
		clock_format_iso(r->ended_at, ended, sizeof(ended));
	printf("run %s  %s  (%s)\n", r->id, or_dash(r->name), or_dash(r->status));
	printf("  model            %s (server reports: %s)\n", or_dash(r->model), or_dash(r->server_model));
	printf("  api / engine     %s / %s at %s\n", or_dash(r->api), or_dash(r->engine), or_dash(r->url));
	printf("  started / ended  %s / %s\n", started, ended);
	printf("  ipw version      %s\n", or_dash(r->version));
	printf("  energy method    %s\n", run_is_estimated(r) ? "estimated (the engine's CPU time x watts per core), "
	       "not measured" : "measured");
	printf("dataset\n");
	printf("  path             %s (%s)\n", or_dash(r->dataset_path), or_dash(r->dataset_format));
	printf("  sha256           %s\n", or_dash(r->dataset_sha256));
	printf("  items planned    %s\n", planned);
	printf("hardware\n");
	if (r->nsources == 0)
		printf("  (no measured sources recorded)\n");
	for (int i = 0; i < r->nsources; i++) {
		const struct run_source *s = &r->sources[i];
		printf("  source %d         %s (%s, %s, %s)\n", s->idx, or_dash(s->name), or_dash(s->backend),
		       or_dash(s->kind), or_dash(s->scope));
		printf("    model %s, uuid %s, pci %s, driver %s, power limit %s\n", or_dash(s->model),
		       or_dash(s->uuid), or_dash(s->pci_bus_id), or_dash(s->driver),
		       fmt(a, sizeof(a), "%.1f", s->power_limit_w, "W"));
		printf("    idle power     before %s, after %s\n", fmt(b, sizeof(b), "%.2f", s->idle_before_w, "W"),
		       fmt(c, sizeof(c), "%.2f", s->idle_after_w, "W"));
	}
	printf("  idle measured    %s\n", fmt(a, sizeof(a), "%.1f", r->idle_seconds, "s"));
	print_json_text("  host and devices", r->hardware_json);
	print_json_text("configuration", r->config_json);
	if (r->group_name)
		printf("group              %s (its runs: ipw runs lists them by name)\n", r->group_name);
	if (r->summary_json)
		print_json_text(summary_is_router(r->summary_json)
				? "router summary (realised cost and energy against all-cloud and all-local; docs/router.md)"
				: "load summary (latency percentiles, throughput, goodput, energy; docs/load.md)",
				r->summary_json);
	if (r->server_log)
		printf("server log         %s\n", r->server_log);
}

static void totals_text(const struct agg_totals *t, const char *planned)
{
	char a[64], b[64], c[64];

	printf("totals\n");
	printf("  queries          %lld ok, %lld failed (of %s planned)\n", t->n_ok, t->n_failed, planned);
	printf("  accel energy     total %s (all queries); mean %s per ok query (%lld with energy)\n",
	       fmt(a, sizeof(a), "%.1f", t->accel_j_total, "J"), fmt(b, sizeof(b), "%.3f", t->accel_j_mean, "J"),
	       t->n_energy);
	printf("  dynamic energy   mean %s per ok query (gross minus idle power x duration)\n",
	       fmt(a, sizeof(a), "%.3f", t->accel_dyn_j_mean, "J"));
	printf("  host energy      total %s; mean %s\n", fmt(a, sizeof(a), "%.1f", t->host_j_total, "J"),
	       fmt(b, sizeof(b), "%.3f", t->host_j_mean, "J"));
	printf("  mean power       %s (mean over ok queries of energy / latency)\n",
	       fmt(a, sizeof(a), "%.2f", t->power_mean_w, "W"));
	printf("  latency          mean %s, p50 %s, p99 %s\n", fmt(a, sizeof(a), "%.3f", t->e2e_mean_s, "s"),
	       fmt(b, sizeof(b), "%.3f", t->e2e_p50_s, "s"), fmt(c, sizeof(c), "%.3f", t->e2e_p99_s, "s"));
	printf("  TTFT             mean %s, p50 %s, p99 %s\n", fmt(a, sizeof(a), "%.3f", t->ttft_mean_s, "s"),
	       fmt(b, sizeof(b), "%.3f", t->ttft_p50_s, "s"), fmt(c, sizeof(c), "%.3f", t->ttft_p99_s, "s"));
	printf("  TPOT             mean %s\n", fmt(a, sizeof(a), "%.4f", t->tpot_mean_s, "s"));
	printf("  tokens           prompt %s, completion %s, reasoning %s (means per ok query)\n",
	       fmt(a, sizeof(a), "%.1f", t->prompt_tokens_mean, ""), fmt(b, sizeof(b), "%.1f",
	       t->completion_tokens_mean, ""), fmt(c, sizeof(c), "%.1f", t->reasoning_tokens_mean, ""));
	if (t->completion_tokens >= 0)
		printf("  token sums       prompt %lld, completion %lld, reasoning %lld\n",
		       t->prompt_tokens, t->completion_tokens, t->reasoning_tokens);
}

static void show_text(const struct show_data *d)
{
	char planned[32] = "?";

	if (d->r.n_items >= 0)
		snprintf(planned, sizeof(planned), "%lld", d->r.n_items);
	run_text(&d->r, planned);
	totals_text(&d->a.t, planned);
	scoring_text(d);
	perplexity_text(&d->ppl);
}

/* Options and the operand (*first); 0, CMD_PARSE_HELP (usage printed) or EXIT_USAGE (said). */
static int parse_args(struct show_args *a, int argc, char **argv, int *first)
{
	int rc = cmd_opt_parse(&a->cc, show_opts, NOPTS, a, argc, argv, first, NULL, usage);

	if (rc == 0 && cmd_one_run(&a->cc, argc, argv, *first))
		rc = EXIT_USAGE;
	if (rc == EXIT_USAGE)
		usage(stderr);
	return rc;
}

/* The run's numbers through the aggregation module, and how many latest scores each grader gave. */
static int show_load(const struct cmd_common *cc, enum agg_ci ci, struct store *st, struct show_data *d)
{
	char err[IPW_ERRLEN];
	json_t *g = json_object();

	agg_options_init(&d->o);
	d->o.by_subject = 1;
	d->o.ci = ci;
	if (agg_run(st, d->r.id, AGG_LOAD_QUERIES, &d->o, &d->a, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw %s: %s\n", cc->cmd, err);
		json_decref(g);
		return EXIT_INPUT;
	}
	if (ppl_run_load(st, d->r.id, &d->ppl, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw %s: %s\n", cc->cmd, err);
		json_decref(g);
		return EXIT_INPUT;
	}
	if (analysis_device_power(st, d->r.id, &d->dev, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw %s: %s\n", cc->cmd, err);
		json_decref(g);
		return EXIT_INPUT;
	}
	if (store_score_rows_latest(st, d->r.id, count_grader, g, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw %s: metrics: %s\n", cc->cmd, err);
		json_decref(g);
		return 0;
	}
	d->by_grader = g;
	return 0;
}

int cmd_show(int argc, char **argv)
{
	struct show_args a;
	struct cmd_common *cc = &a.cc;
	struct store st;
	struct show_data d;
	int rc, first, opened = 0;

	memset(&d, 0, sizeof(d));
	memset(&a, 0, sizeof(a));
	cmd_common_init(cc, "show", OUT_TEXT | OUT_JSON, OUT_TEXT);
	if ((rc = parse_args(&a, argc, argv, &first)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	if ((rc = cmd_store_open(cc, &st, CMD_STORE_READ)))
		goto out;
	opened = 1;
	if ((rc = cmd_run_get(cc, &st, argv[first], &d.r)) || (rc = show_load(cc, a.ci, &st, &d)))
		goto out;
	if (cc->format == OUT_JSON)
		show_json(&d);
	else
		show_text(&d);
	rc = fflush(stdout) == 0 ? 0 : EXIT_ENV;
out:
	json_decref(d.by_grader);
	agg_result_release(&d.a);
	run_record_release(&d.r);
	if (opened)
		store_close(&st);
	return rc;
}
