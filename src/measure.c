/*
 * measure.c - the measurement session (measure.h): telemetry through its
 * accessors only, the idle baseline, window energy by scope, query records
 * and attempt records from chat results, sample flushing to a store, and
 * covered spans. See docs/internals.md and docs/attribution.md.
 */
#include "measure.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "stats.h"
#include "store.h"
#include "util.h"

void measure_opts_init(struct measure_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->host = 1;
}

int measure_open(struct measure *m, const struct measure_opts *o, char *err, size_t errlen)
{
	struct telemetry_opts to;
	struct telemetry_select sel;
	memset(m, 0, sizeof(*m));
	memset(&to, 0, sizeof(to));
	memset(&sel, 0, sizeof(sel));
	to.interval_ms = o->interval_ms;
	to.fake_profile = o->fake_profile;
	to.cpu_watts_per_core = o->cpu_watts_per_core;
	to.fake_trace = o->fake_trace;
	sel.backends = o->backends;
	sel.devices = o->devices;
	sel.host = o->host;
	if (telemetry_open(&m->tel, &to, &sel, err, errlen) < 0)
		return -1;
	m->nsrcs = telemetry_nsources(m->tel);
	m->idle_w = xcalloc((size_t)m->nsrcs + 1, sizeof(double));
	for (int s = 0; s < m->nsrcs; s++)
		m->idle_w[s] = NAN;
	m->flushed = xcalloc((size_t)m->nsrcs + 1, sizeof(size_t));
	m->t0_ns = clock_now_ns();
	return 0;
}

int measure_start(struct measure *m, sample_sink_fn sink, void *arg, char *err, size_t errlen)
{
	if (telemetry_start(m->tel, sink, arg, err, errlen) < 0)
		return -1;
	m->started = 1;
	return 0;
}

void measure_stop(struct measure *m)
{
	if (m->tel && m->started)
		telemetry_stop(m->tel);
	m->started = 0;
}

void measure_close(struct measure *m)
{
	telemetry_close(m->tel);
	free(m->idle_w);
	free(m->flushed);
	memset(m, 0, sizeof(*m));
}

int measure_wait(struct measure *m, int64_t t_ns, int64_t timeout_ns)
{
	return telemetry_wait_covered(m->tel, t_ns, timeout_ns);
}

double measure_rel_s(const struct measure *m, int64_t t)
{
	return t ? (double)(t - m->t0_ns) / 1e9 : NAN;
}

double measure_accel_sum(const struct measure *m, const double *per_source)
{
	return telemetry_scope_sum(m->tel, SCOPE_ACCELERATOR, per_source, 0, NULL);
}

int measure_naccel(const struct measure *m)
{
	int n = 0;
	for (int s = 0; s < m->nsrcs; s++)
		n += telemetry_source(m->tel, s)->scope == SCOPE_ACCELERATOR;
	return n;
}

/* ---- idle baseline ---- */

/* The accelerators' lowest and highest power over the 1 s slices of [a, b]. */
static void idle_spread(struct measure *m, int64_t a, int64_t b, double *lo, double *hi)
{
	double *e = xcalloc((size_t)m->nsrcs + 1, sizeof(double));
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int64_t t = a; t + NS_PER_S <= b; t += NS_PER_S) {
		double sum;
		telemetry_window(m->tel, t, t + NS_PER_S, e);
		sum = measure_accel_sum(m, e);
		if (!isnan(sum)) {
			*lo = sum < *lo ? sum : *lo;
			*hi = sum > *hi ? sum : *hi;
		}
	}
	free(e);
}

void measure_idle(struct measure *m, double idle_s, volatile sig_atomic_t *stop, double *out_w,
		  struct measure_idle *info)
{
	int64_t a, b;
	memset(info, 0, sizeof(*info));
	info->accel_w = info->lo_w = info->hi_w = NAN;
	for (int s = 0; s < m->nsrcs; s++)
		out_w[s] = NAN;
	if (!m->nsrcs || idle_s <= 0) {
		if (m->nsrcs) /* without a baseline, the first query must still start inside the covered span */
			measure_wait(m, clock_now_ns(), MEASURE_COVER_TIMEOUT_NS);
		return;
	}
	a = clock_now_ns();
	measure_wait(m, a, MEASURE_COVER_TIMEOUT_NS);
	a = clock_now_ns();
	b = a + (int64_t)(idle_s * 1e9);
	while (clock_now_ns() < b && !(stop && *stop))
		clock_sleep_ns(50 * NS_PER_MS);
	b = clock_now_ns();
	measure_wait(m, b, MEASURE_COVER_TIMEOUT_NS);
	telemetry_mean_power(m->tel, a, b, out_w);
	idle_spread(m, a, b, &info->lo_w, &info->hi_w);
	info->accel_w = measure_accel_sum(m, out_w);
	info->measured = 1;
}

int measure_idle_unsteady(const struct measure_idle *i)
{
	double d = i->hi_w - i->lo_w;
	return !isnan(i->accel_w) && isfinite(i->lo_w) && d > 0.25 * i->accel_w && d > 20;
}

/* ---- request windows ---- */

void measure_req_begin(struct measure_req *r)
{
	r->t_begin = clock_now_ns();
	r->t_end = 0;
}

void measure_req_end(struct measure_req *r)
{
	r->t_end = clock_now_ns();
}

void measure_energy_init(struct measure_energy *e)
{
	memset(e, 0, sizeof(*e));
	e->accel_j = e->host_j = e->total_j = NAN;
	e->accel_dyn_j = e->host_dyn_j = e->total_dyn_j = NAN;
	e->dur_s = e->peak_power_w = e->temp_max_c = e->mem_max_bytes = NAN;
}

void measure_energy_release(struct measure_energy *e)
{
	free(e->gross_j);
	free(e->dyn_j);
	measure_energy_init(e);
}

/* a + b where either may be NAN (not measured); NAN when both are. */
static double add_known(double a, double b)
{
	if (isnan(a) && isnan(b))
		return NAN;
	return (isnan(a) ? 0 : a) + (isnan(b) ? 0 : b);
}

void measure_window(struct measure *m, int64_t t0, int64_t t1, struct measure_energy *e)
{
	struct window_energy w;
	measure_energy_release(e);
	e->nsrcs = m->nsrcs;
	e->dur_s = (double)(t1 - t0) / 1e9;
	e->gross_j = xcalloc((size_t)m->nsrcs + 1, sizeof(double));
	e->dyn_j = xcalloc((size_t)m->nsrcs + 1, sizeof(double));
	telemetry_window(m->tel, t0, t1, e->gross_j);
	for (int s = 0; s < m->nsrcs; s++)
		e->dyn_j[s] = isnan(e->gross_j[s]) || isnan(m->idle_w[s]) ? NAN
					: e->gross_j[s] - m->idle_w[s] * e->dur_s;
	e->accel_j = telemetry_scope_sum(m->tel, SCOPE_ACCELERATOR, e->gross_j, 1, NULL);
	e->host_j = telemetry_scope_sum(m->tel, SCOPE_HOST, e->gross_j, 1, NULL);
	e->total_j = add_known(e->accel_j, e->host_j);
	e->accel_dyn_j = telemetry_scope_sum(m->tel, SCOPE_ACCELERATOR, e->dyn_j, 1, NULL);
	e->host_dyn_j = telemetry_scope_sum(m->tel, SCOPE_HOST, e->dyn_j, 1, NULL);
	e->total_dyn_j = add_known(e->accel_dyn_j, e->host_dyn_j);
	telemetry_window_summary(m->tel, t0, t1, &w);
	e->peak_power_w = w.accel_peak_w;
	e->temp_max_c = w.temp_max_c;
	e->mem_max_bytes = w.mem_max_bytes;
}

int measure_req_energy(struct measure *m, const struct measure_req *r, int64_t timeout_ns,
		       struct measure_energy *e)
{
	int rc = m->nsrcs ? measure_wait(m, r->t_end, timeout_ns) : 0;
	measure_window(m, r->t_begin, r->t_end, e);
	return rc;
}

double measure_energy_scope(const struct measure_energy *e, enum source_scope scope, int dynamic)
{
	if (scope == SCOPE_ACCELERATOR)
		return dynamic ? e->accel_dyn_j : e->accel_j;
	if (scope == SCOPE_HOST)
		return dynamic ? e->host_dyn_j : e->host_j;
	return NAN;
}

void measure_clear_query_energy(struct query_record *q)
{
	q->accel_j = q->host_j = q->total_j = NAN;
	q->accel_dyn_j = q->host_dyn_j = q->total_dyn_j = NAN;
	q->avg_power_w = q->peak_power_w = q->temp_max_c = q->mem_max_bytes = NAN;
}

void measure_fill_query_energy(const struct telemetry *tel, struct query_record *q, const double *gross,
			       const double *dyn, double dur_s)
{
	int n = telemetry_nsources(tel);
	measure_clear_query_energy(q);
	free(q->energy);
	q->energy = xcalloc((size_t)n + 1, sizeof(*q->energy));
	q->nenergy = 0;
	for (int s = 0; s < n; s++) {
		struct query_energy *qe;
		if (isnan(gross[s]))
			continue;
		qe = &q->energy[q->nenergy++];
		qe->source_idx = s;
		qe->gross_j = gross[s];
		qe->dynamic_j = dyn[s];
	}
	q->accel_j = telemetry_scope_sum(tel, SCOPE_ACCELERATOR, gross, 1, NULL);
	q->host_j = telemetry_scope_sum(tel, SCOPE_HOST, gross, 1, NULL);
	q->total_j = add_known(q->accel_j, q->host_j);
	q->accel_dyn_j = isnan(q->accel_j) ? NAN : telemetry_scope_sum(tel, SCOPE_ACCELERATOR, dyn, 1, NULL);
	q->host_dyn_j = isnan(q->host_j) ? NAN : telemetry_scope_sum(tel, SCOPE_HOST, dyn, 1, NULL);
	q->total_dyn_j = add_known(q->accel_dyn_j, q->host_dyn_j);
	q->avg_power_w = dur_s > 0 ? q->accel_j / dur_s : NAN;
}

void measure_energy_to_query(const struct measure *m, const struct measure_energy *e, struct query_record *q)
{
	measure_fill_query_energy(m->tel, q, e->gross_j, e->dyn_j, e->dur_s);
	q->peak_power_w = e->peak_power_w;
	q->temp_max_c = e->temp_max_c;
	q->mem_max_bytes = e->mem_max_bytes;
}

/* ---- query records ---- */

static void fill_latency(const struct measure *m, struct query_record *q, const struct chat_result *res)
{
	size_t n = res->ntoken;
	q->t_send_s = measure_rel_s(m, res->t_send_ns);
	q->t_first_s = measure_rel_s(m, res->t_first_ns);
	q->t_end_s = measure_rel_s(m, res->t_end_ns);
	q->e2e_s = res->t_end_ns && res->t_send_ns ? (double)(res->t_end_ns - res->t_send_ns) / 1e9 : NAN;
	q->ttft_s = res->t_first_ns ? (double)(res->t_first_ns - res->t_send_ns) / 1e9 : NAN;
	q->tpot_s = NAN;
	if (!isnan(q->ttft_s) && res->completion_tokens > 1)
		q->tpot_s = (q->e2e_s - q->ttft_s) / (double)(res->completion_tokens - 1);
	q->itl_p50_s = q->itl_p90_s = q->itl_p99_s = NAN;
	if (n >= 2) {
		double *gaps = xmalloc((n - 1) * sizeof(double));
		for (size_t i = 1; i < n; i++)
			gaps[i - 1] = (double)(res->token_ns[i] - res->token_ns[i - 1]) / 1e9;
		stats_sort(gaps, n - 1);
		q->itl_p50_s = stats_percentile_sorted(gaps, n - 1, 50);
		q->itl_p90_s = stats_percentile_sorted(gaps, n - 1, 90);
		q->itl_p99_s = stats_percentile_sorted(gaps, n - 1, 99);
		free(gaps);
	}
}

static void count_fields(struct query_record *q, const struct chat_result *res)
{
	q->prompt_tokens = res->prompt_tokens;
	q->completion_tokens = res->completion_tokens;
	q->reasoning_tokens = res->reasoning_tokens;
	q->prompt_tokens_src = xstrdup(count_src_name(res->prompt_src));
	q->completion_tokens_src = xstrdup(count_src_name(res->completion_src));
	q->reasoning_tokens_src = xstrdup(count_src_name(res->reasoning_src));
}

static char *extra_json(const struct chat_result *res)
{
	json_t *o;
	char *out;
	if (isnan(res->server_total_s) && isnan(res->server_eval_s) && !res->model[0])
		return NULL;
	o = json_object();
	if (res->model[0]) /* the model this response says it came from */
		json_object_set_new(o, "model", json_string(res->model));
#define NUM(k, v) if (!isnan(v)) json_object_set_new(o, k, json_real(v))
	NUM("server_load_s", res->server_load_s);
	NUM("server_prompt_s", res->server_prompt_s);
	NUM("server_eval_s", res->server_eval_s);
	NUM("server_total_s", res->server_total_s);
#undef NUM
	out = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
	return out;
}

void measure_query_result(const struct measure *m, struct query_record *q, const struct chat_result *res)
{
	q->cpu_s = res->engine_cpu_s; /* NAN unless the engine ran in process */
	/* the server's token log-probabilities: recorded only when it returned some */
	q->logprob_sum = res->logprob_n > 0 ? res->logprob_sum : NAN;
	q->logprob_tokens = res->logprob_n > 0 ? res->logprob_n : -1;
	q->status = xstrdup(res->err == ERR_NONE ? "ok" : "failed");
	q->answer = buf_dup(&res->answer, &q->answer_len);       /* the bytes sent, NULs included */
	q->thinking = buf_dup(&res->thinking, &q->thinking_len);
	q->finish_reason = res->finish_reason[0] ? xstrdup(res->finish_reason) : NULL;
	q->error_kind = xstrdup(err_kind_name(res->err));
	q->error_message = res->err ? xstrdup(res->errmsg) : NULL;
	q->http_status = res->http_status;
	fill_latency(m, q, res);
	count_fields(q, res);
	q->extra_json = extra_json(res);
}

void measure_query_attempt(const struct measure *m, struct query_record *q, const struct chat_result *res)
{
	int n = q->nattempts + 1;
	struct query_attempt *a;
	q->attempts = xrealloc(q->attempts, (size_t)n * sizeof(*q->attempts));
	a = &q->attempts[n - 1];
	q->nattempts = n;
	a->n = n;
	a->t_start_s = measure_rel_s(m, res->t_send_ns);
	a->duration_s = res->t_end_ns ? (double)(res->t_end_ns - res->t_send_ns) / 1e9 : NAN;
	a->error_kind = xstrdup(err_kind_name(res->err));
	a->http_status = res->http_status;
	a->message = res->err ? xstrdup(res->errmsg) : NULL;
}

/* ---- samples ---- */

struct flush_buf {
	const struct measure *m;
	struct store_sample *v;
	size_t n, cap;
};

static void flush_one(void *arg, int src, const struct sample *sm)
{
	struct flush_buf *b = arg;
	struct store_sample *o;
	if (b->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 1024;
		b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
	}
	o = &b->v[b->n++];
	o->source_idx = src;
	o->t_s = measure_rel_s(b->m, sm->t_ns);
	o->energy_j = (sm->valid & SAMPLE_ENERGY) ? sm->energy_j : NAN;
	o->power_w = (sm->valid & SAMPLE_POWER) ? sm->power_w : NAN;
	o->temp_c = (sm->valid & SAMPLE_TEMP) ? sm->temp_c : NAN;
	o->mem_used_bytes = (sm->valid & SAMPLE_MEM_USED) ? sm->mem_used_bytes : NAN;
}

int measure_flush(struct measure *m, struct store *st, const char *run_id, char *err, size_t errlen)
{
	struct flush_buf b = {.m = m};
	int rc;
	telemetry_samples(m->tel, m->flushed, flush_one, &b);
	rc = b.n ? store_samples_append(st, run_id, b.v, b.n, err, errlen) : 0;
	free(b.v);
	return rc;
}

/* ---- spans ---- */

static const struct measure_span no_span = {NAN, NAN, NAN, 0, 0, 0};

static struct measure_span span_of(double e, int64_t a, int64_t b)
{
	struct measure_span r;
	r.energy_j = e;
	r.a = a;
	r.b = b;
	r.span_s = (double)(b - a) / 1e9;
	r.mean_w = e / r.span_s;
	r.ok = 1;
	return r;
}

struct measure_span measure_source_span(struct measure *m, int s, int64_t t_begin, int64_t t_stop)
{
	int64_t a, b;
	double e;
	if (telemetry_source_span(m->tel, s, &a, &b) < 0)
		return no_span;
	if (a < t_begin && b > t_begin)
		a = t_begin;
	if (b > t_stop && t_stop > a)
		b = t_stop;
	if (b <= a || telemetry_source_energy(m->tel, s, a, b, &e) < 0)
		return no_span;
	return span_of(e, a, b);
}

struct measure_span measure_scope_span(struct measure *m, enum source_scope scope, int64_t t_begin,
				       int64_t t_stop, int *nsrc)
{
	int64_t a = INT64_MIN, b = INT64_MAX;
	double sum = 0;
	*nsrc = 0;
	for (int s = 0; s < m->nsrcs; s++) {
		struct measure_span x;
		if (telemetry_source(m->tel, s)->scope != scope)
			continue;
		(*nsrc)++;
		x = measure_source_span(m, s, t_begin, t_stop);
		if (!x.ok)
			return no_span;
		a = x.a > a ? x.a : a;
		b = x.b < b ? x.b : b;
	}
	if (!*nsrc || b <= a)
		return no_span;
	for (int s = 0; s < m->nsrcs; s++) {
		double e;
		if (telemetry_source(m->tel, s)->scope != scope)
			continue;
		if (telemetry_source_energy(m->tel, s, a, b, &e) < 0)
			return no_span;
		sum += e;
	}
	return span_of(sum, a, b);
}
