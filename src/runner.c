/*
 * runner.c - one profiling run: discover/connect the server, probe telemetry,
 * warm up, measure the idle baseline, stream the items one at a time with
 * retries, attribute each query its window's energy, commit each query to the
 * store as soon as it ends, measure the closing idle baseline. See
 * docs/profile.md and docs/attribution.md.
 */
#include "runner.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "dataset.h"
#include "load.h"
#include "profile_opts.h"
#include "score.h"
#include "serve.h"
#include "stats.h"
#include "store.h"
#include "telemetry.h"
#include "util.h"

#define COVER_TIMEOUT_NS (3 * NS_PER_S)
#define WARMUP_MAX_TOKENS 512 /* output tokens of a warm-up request at most */ /* wait at most this for telemetry to cover a window's end */

void runner_opts_init(struct runner_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->api = NULL;
	o->timeout_s = 600;
	o->max_attempts = 3;
	o->backoff_s = 1.0;
	o->retry_after_max_s = 60;
	o->warmup = 1;
	/* decoding defaults from the paper (PAPER.md, "Metrics") */
	o->s.max_tokens = 32768;
	o->s.temperature = 0.6;
	o->s.top_p = 0.95;
	o->s.top_k = 20;
	o->host = 1;
	o->idle_s = 10;
	o->concurrency = 1;
	o->burstiness = 1;
	o->serve_timeout_s = 600;
}

static void say(const struct runner_hooks *h, enum runner_level lv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(const struct runner_hooks *h, enum runner_level lv, const char *fmt, ...)
{
	va_list ap;
	char msg[2048];
	if (!h || !h->message)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->message(h->arg, lv, msg);
}

static char *dupnull(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* ---- the run's state ---- */

struct run {
	const struct runner_opts *o;
	const struct runner_hooks *h;
	struct telemetry tel;
	int tel_ok;
	struct client *cl;
	struct store store;
	struct store *st;             /* &store once open */
	struct dataset ds;
	struct run_record rec;
	int64_t t0_ns;               /* the run's time origin (monotonic) */
	double *idle_w;              /* per selected source, before the first query */
	double *idle_after_w;
	size_t *flushed;             /* samples already written to the store, per source */
	char model[128];
	char engine[32];
	struct opt_keep restored;    /* strings restored from a resumed run's configuration */
	struct serve srv;            /* --serve: the server child */
	double dev_idle_accel_w;     /* --serve: accelerator idle power before it started */
};

static double rel_s(const struct run *r, int64_t t)
{
	return t ? (double)(t - r->t0_ns) / 1e9 : NAN;
}

/* Writes the samples gathered since the last flush to the store. */
static int flush_samples(struct run *r, char *err, size_t errlen)
{
	struct store_sample *buf = NULL;
	size_t n = 0, cap = 0;
	int rc;
	pthread_mutex_lock(&r->tel.lock);
	for (int s = 0; s < r->tel.nsrcs; s++) {
		struct timeline *tl = &r->tel.srcs[s].tl;
		for (size_t i = r->flushed[s]; i < tl->n; i++) {
			const struct sample *sm = &tl->samples[i];
			struct store_sample *o;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				buf = xrealloc(buf, cap * sizeof(*buf));
			}
			o = &buf[n++];
			o->source_idx = s;
			o->t_s = rel_s(r, sm->t_ns);
			o->energy_j = (sm->valid & SAMPLE_ENERGY) ? sm->energy_j : NAN;
			o->power_w = (sm->valid & SAMPLE_POWER) ? sm->power_w : NAN;
			o->temp_c = (sm->valid & SAMPLE_TEMP) ? sm->temp_c : NAN;
			o->mem_used_bytes = (sm->valid & SAMPLE_MEM_USED) ? sm->mem_used_bytes : NAN;
		}
		r->flushed[s] = tl->n;
	}
	pthread_mutex_unlock(&r->tel.lock);
	rc = n ? store_samples_append(r->st, r->rec.id, buf, n, err, errlen) : 0;
	free(buf);
	return rc;
}

static char *hardware_json(struct run *r)
{
	json_t *hw = json_object(), *arr = json_array();
	char host[256] = "";
	char *out;
	gethostname(host, sizeof(host) - 1);
	json_object_set_new(hw, "hostname", json_string(host));
	for (int s = 0; s < r->tel.nsrcs; s++) {
		const struct source_info *si = r->tel.srcs[s].info;
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(si->name));
		json_object_set_new(o, "backend", json_string(si->backend));
		json_object_set_new(o, "kind", json_string(source_kind_name(si->kind)));
		json_object_set_new(o, "scope", json_string(source_scope_name(si->scope)));
		json_object_set_new(o, "model", json_string(si->model));
		json_object_set_new(o, "uuid", json_string(si->uuid));
		json_object_set_new(o, "pci_bus_id", json_string(si->pci_bus_id));
		json_object_set_new(o, "driver", json_string(si->driver));
		json_object_set_new(o, "power", json_string(power_kind_name(si->power_kind)));
		json_object_set_new(o, "energy_counter", json_boolean(si->caps & CAP_ENERGY));
		if (si->notes[0])
			json_object_set_new(o, "notes", json_string(si->notes));
		json_array_append_new(arr, o);
	}
	json_object_set_new(hw, "sources", arr);
	arr = json_array();
	for (int b = 0; b < r->tel.ninsts; b++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(r->tel.insts[b].ops->name));
		json_object_set_new(o, "present", json_boolean(r->tel.insts[b].present));
		if (!r->tel.insts[b].present)
			json_object_set_new(o, "reason", json_string(r->tel.insts[b].reason));
		json_array_append_new(arr, o);
	}
	json_object_set_new(hw, "backends", arr);
	out = json_dumps(hw, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(hw);
	return out;
}

/* A run's name when --name is not given: "<model>-<UTC date>-<time>". */
static char *default_name(const char *model)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	return xasprintf("%s-%s", model, when);
}

/* ---- idle baseline ---- */

/*
 * Measures each source's mean power over idle_s seconds with nothing in
 * flight. Warns when the accelerators' power moves a lot while idle (another
 * process is likely using the device).
 */
static void idle_baseline(struct run *r, double *out_w, const char *when)
{
	int64_t a, b;
	double acc = 0, lo = INFINITY, hi = -INFINITY;
	int nacc = 0;
	for (int s = 0; s < r->tel.nsrcs; s++)
		out_w[s] = NAN;
	if (!r->tel.nsrcs || r->o->idle_s <= 0) {
		if (r->tel.nsrcs) /* without a baseline, the first query must still start inside the covered span */
			telemetry_wait_covered(&r->tel, clock_now_ns(), COVER_TIMEOUT_NS);
		return;
	}
	say(r->h, RUNNER_INFO, "measuring idle power %s the queries for %.1f s", when, r->o->idle_s);
	a = clock_now_ns();
	telemetry_wait_covered(&r->tel, a, COVER_TIMEOUT_NS);
	a = clock_now_ns();
	b = a + (int64_t)(r->o->idle_s * 1e9);
	while (clock_now_ns() < b && !(r->o->stop && *r->o->stop))
		clock_sleep_ns(50 * NS_PER_MS);
	b = clock_now_ns();
	telemetry_wait_covered(&r->tel, b, COVER_TIMEOUT_NS);
	telemetry_mean_power(&r->tel, a, b, out_w);
	/* variability of the accelerators' power over 1 s slices */
	for (int64_t t = a; t + NS_PER_S <= b; t += NS_PER_S) {
		double *e = xcalloc((size_t)r->tel.nsrcs, sizeof(double)), sum = 0;
		int ok = 0;
		telemetry_window(&r->tel, t, t + NS_PER_S, e);
		for (int s = 0; s < r->tel.nsrcs; s++)
			if (r->tel.srcs[s].info->scope == SCOPE_ACCELERATOR && !isnan(e[s])) {
				sum += e[s];
				ok = 1;
			}
		if (ok) {
			lo = sum < lo ? sum : lo;
			hi = sum > hi ? sum : hi;
		}
		free(e);
	}
	for (int s = 0; s < r->tel.nsrcs; s++)
		if (r->tel.srcs[s].info->scope == SCOPE_ACCELERATOR && !isnan(out_w[s])) {
			acc += out_w[s];
			nacc++;
		}
	if (nacc)
		say(r->h, RUNNER_INFO, "idle accelerator power %s: %.1f W", when, acc);
	if (nacc && isfinite(lo) && hi - lo > 0.25 * acc && hi - lo > 20)
		say(r->h, RUNNER_WARN,
		    "accelerator power varied from %.0f W to %.0f W while idle %s: another process may be "
		    "using the device; its energy will be counted in this run's queries", lo, hi, when);
}

/* ---- one query ---- */

struct done_flag {
	int done;
};

static void on_done(void *arg, struct chat_result *res)
{
	(void)res;
	((struct done_flag *)arg)->done = 1;
}

/* Runs one attempt; returns 1 if the user interrupted it (nothing to record). */
static int attempt(struct run *r, const struct chat_request *req, struct chat_result *res)
{
	struct done_flag f = {0};
	if (client_submit(r->cl, req, res, on_done, &f) < 0) {
		if (res->err == ERR_NONE) {
			res->err = ERR_CONNECT;
			snprintf(res->errmsg, sizeof(res->errmsg), "could not start the request");
		}
		return 0;
	}
	while (!f.done) {
		client_poll(r->cl, 100);
		if (r->o->stop && *r->o->stop && !f.done) {
			client_cancel_all(r->cl);
			while (!f.done)
				client_poll(r->cl, 10);
			return 1;
		}
	}
	return 0;
}

static void fill_latency(struct query_record *q, const struct run *r, const struct chat_result *res)
{
	size_t n = res->ntoken;
	q->t_send_s = rel_s(r, res->t_send_ns);
	q->t_first_s = rel_s(r, res->t_first_ns);
	q->t_end_s = rel_s(r, res->t_end_ns);
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

/*
 * Sequential attribution: the query's energy is its window's, send -> end
 * (docs/attribution.md). Dynamic energy subtracts the idle power over the same
 * duration. Sources not covered stay NAN.
 */
static void fill_energy(struct query_record *q, struct run *r, int64_t t0, int64_t t1)
{
	struct window_energy w;
	double *e, dur = (double)(t1 - t0) / 1e9;
	double adyn = 0, hdyn = 0;
	int abad = 0, hbad = 0, na = 0, nh = 0;
	q->accel_j = q->host_j = q->total_j = NAN;
	q->accel_dyn_j = q->host_dyn_j = q->total_dyn_j = NAN;
	q->avg_power_w = q->peak_power_w = q->temp_max_c = q->mem_max_bytes = NAN;
	if (!r->tel.nsrcs || !t0 || !t1)
		return;
	if (telemetry_wait_covered(&r->tel, t1, COVER_TIMEOUT_NS) < 0)
		say(r->h, RUNNER_WARN, "telemetry did not cover the end of query %s within 3 s: "
		    "its energy is not measured", q->item_id);
	e = xcalloc((size_t)r->tel.nsrcs, sizeof(double));
	telemetry_window(&r->tel, t0, t1, e);
	q->energy = xcalloc((size_t)r->tel.nsrcs, sizeof(*q->energy));
	q->nenergy = 0;
	for (int s = 0; s < r->tel.nsrcs; s++) {
		const struct source_info *si = r->tel.srcs[s].info;
		struct query_energy *qe;
		double dyn = isnan(e[s]) || isnan(r->idle_w[s]) ? NAN : e[s] - r->idle_w[s] * dur;
		if (si->scope == SCOPE_ACCELERATOR) {
			na++;
			if (isnan(dyn))
				abad = 1;
			else
				adyn += dyn;
		} else if (si->scope == SCOPE_HOST) {
			nh++;
			if (isnan(dyn))
				hbad = 1;
			else
				hdyn += dyn;
		}
		if (isnan(e[s]))
			continue;
		qe = &q->energy[q->nenergy++];
		qe->source_idx = s;
		qe->gross_j = e[s];
		qe->dynamic_j = dyn;
	}
	free(e);
	telemetry_window_summary(&r->tel, t0, t1, &w);
	q->accel_j = w.accel_j;
	q->host_j = w.host_j;
	q->total_j = w.total_j;
	q->accel_dyn_j = na && !abad ? adyn : NAN;
	q->host_dyn_j = nh && !hbad ? hdyn : NAN;
	if (!isnan(q->accel_dyn_j) || !isnan(q->host_dyn_j))
		q->total_dyn_j = (isnan(q->accel_dyn_j) ? 0 : q->accel_dyn_j) +
				 (isnan(q->host_dyn_j) ? 0 : q->host_dyn_j);
	q->avg_power_w = dur > 0 ? q->accel_j / dur : NAN;
	q->peak_power_w = w.accel_peak_w;
	q->temp_max_c = w.temp_max_c;
	q->mem_max_bytes = w.mem_max_bytes;
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
	if (isnan(res->server_total_s) && isnan(res->server_eval_s))
		return NULL;
	o = json_object();
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

/* Fills q from the final attempt res. */
static void fill_final(struct run *r, struct query_record *q, const struct chat_result *res)
{
	q->status = xstrdup(res->err == ERR_NONE ? "ok" : "failed");
	q->answer = buf_dup(&res->answer, &q->answer_len);
	q->thinking = buf_dup(&res->thinking, &q->thinking_len);
	q->finish_reason = res->finish_reason[0] ? xstrdup(res->finish_reason) : NULL;
	q->error_kind = xstrdup(err_kind_name(res->err));
	q->error_message = res->err ? xstrdup(res->errmsg) : NULL;
	q->http_status = res->http_status;
	fill_latency(q, r, res);
	count_fields(q, res);
	q->extra_json = extra_json(res);
	if (res->model[0] && strcmp(res->model, r->model) && !r->rec.server_model)
		r->rec.server_model = xstrdup(res->model);
}

/* Fills the item part of q (seq, ids, prompt owned by q). */
static void fill_item(struct query_record *q, const struct item *it, long long seq, char *prompt)
{
	memset(q, 0, sizeof(*q));
	q->seq = seq;
	q->item_id = xstrdup(it->id);
	q->subject = xstrdup(it->subject ? it->subject : "");
	q->task = xstrdup(task_name(it->task));
	q->prompt = prompt;
	q->reference = dupnull(it->answer);
}

/*
 * Runs one item to its end (with retries) and fills q. Returns 1 when the
 * user interrupted it (q is not to be recorded), else 0.
 */
static int run_item(struct run *r, const struct item *it, long long seq, struct query_record *q,
		    int64_t *t0, int64_t *t1)
{
	struct chat_request req;
	struct chat_result res;
	char *prompt = item_prompt(it);
	struct retry_policy rp;
	double delay;
	int64_t tq0 = 0;
	int interrupted = 0;
	retry_policy_init(&rp);
	rp.max_attempts = r->o->max_attempts;
	rp.backoff_base_s = r->o->backoff_s;
	rp.retry_after_max_s = r->o->retry_after_max_s;
	rp.budget_s = r->o->query_budget_s;
	fill_item(q, it, seq, prompt);
	*t0 = *t1 = 0;
	memset(&req, 0, sizeof(req));
	req.model = r->model;
	req.prompt = prompt;
	req.s = r->o->s;
	req.timeout_s = r->o->timeout_s;
	for (int n = 1;; n++) {
		struct query_attempt *a;
		chat_result_init(&res);
		interrupted = attempt(r, &req, &res);
		if (interrupted) {
			chat_result_release(&res);
			break;
		}
		q->attempts = xrealloc(q->attempts, (size_t)n * sizeof(*q->attempts));
		a = &q->attempts[n - 1];
		q->nattempts = n;
		a->n = n;
		a->t_start_s = rel_s(r, res.t_send_ns);
		a->duration_s = res.t_end_ns ? (double)(res.t_end_ns - res.t_send_ns) / 1e9 : NAN;
		a->error_kind = xstrdup(err_kind_name(res.err));
		a->http_status = res.http_status;
		a->message = res.err ? xstrdup(res.errmsg) : NULL;
		delay = retry_delay_s(&rp, n, &res); /* at least what the server asked, capped */
		if (n == 1)
			tq0 = res.t_send_ns;
		if (!retry_again(&rp, n, &res) || !retry_within_budget(&rp, tq0, delay)) {
			/* the final attempt is the query */
			fill_final(r, q, &res);
			*t0 = res.t_send_ns;
			*t1 = res.t_end_ns;
			chat_result_release(&res);
			break;
		}
		say(r->h, RUNNER_WARN, "item %s attempt %d: %s%s%s; retrying in %.1f s", it->id, n,
		    err_kind_name(res.err), res.errmsg[0] ? ": " : "", res.errmsg, delay);
		chat_result_release(&res);
		if ((interrupted = retry_sleep(delay, r->o->stop)))
			break;
	}
	return interrupted;
}

/* ---- committing finished queries ---- */

#define MAX_PENDING 64

/* A finished query whose energy waits for telemetry to cover its end. */
struct pending {
	struct query_record q;
	int64_t t0, t1;
};

/* Running sums for progress and the closing summary. */
struct tally {
	long long ok, failed, total, skipped, completion_tokens;
	double sum_accel, sum_host, sum_e2e, sum_ttft;
	long long n_accel, n_host, n_e2e, n_ttft;
	int64_t t0_ns;
};

static void tally_add(struct tally *a, const struct query_record *q)
{
	if (strcmp(q->status, "ok")) {
		a->failed++;
		return;
	}
	a->ok++;
#define ADD(v, sum, n) if (!isnan(v)) { a->sum += (v); a->n++; }
	ADD(q->accel_j, sum_accel, n_accel);
	ADD(q->host_j, sum_host, n_host);
	ADD(q->e2e_s, sum_e2e, n_e2e);
	ADD(q->ttft_s, sum_ttft, n_ttft);
#undef ADD
	if (q->completion_tokens > 0)
		a->completion_tokens += q->completion_tokens;
}

/*
 * Attributes energy to the pending queries in order and commits each in its
 * own transaction, with the samples gathered so far. Without force it stops at
 * the first query whose end telemetry does not cover yet; with force it waits
 * (at most COVER_TIMEOUT_NS each). Returns 0, or -1 when the store fails.
 */
static int commit_pending(struct run *r, struct pending *pend, int *npend, int force, struct tally *a,
			  char *err, size_t errlen)
{
	int done = 0, rc = 0;
	for (; done < *npend; done++) {
		struct pending *p = &pend[done];
		struct runner_progress pr;
		if (!force && r->tel.nsrcs && p->t1 && telemetry_wait_covered(&r->tel, p->t1, 0) < 0)
			break;
		fill_energy(&p->q, r, p->t0, p->t1);
		if (store_query_insert(r->st, r->rec.id, &p->q, err, errlen) < 0 ||
		    score_query(r->st, r->rec.id, &p->q, &r->ds.items[p->q.seq], err, errlen) < 0 ||
		    flush_samples(r, err, errlen) < 0) {
			rc = -1; /* the store is broken: stop; what was committed stays */
			break;
		}
		tally_add(a, &p->q);
		if (r->h && r->h->query_done)
			r->h->query_done(r->h->arg, &p->q);
		query_record_release(&p->q);
		memset(&pr, 0, sizeof(pr));
		pr.done = a->ok + a->failed;
		pr.total = a->total - a->skipped;
		pr.failed = a->failed;
		pr.skipped = a->skipped;
		pr.elapsed_s = (double)(clock_now_ns() - a->t0_ns) / 1e9;
		pr.mean_accel_j = a->n_accel ? a->sum_accel / (double)a->n_accel : NAN;
		pr.rate_qps = pr.elapsed_s > 0 ? (double)pr.done / pr.elapsed_s : NAN;
		if (r->h && r->h->progress)
			r->h->progress(r->h->arg, &pr);
	}
	if (rc < 0)
		for (int i = done; i < *npend; i++)
			query_record_release(&pend[i].q);
	memmove(pend, pend + done, (size_t)(*npend - done) * sizeof(*pend));
	*npend -= done;
	if (rc < 0)
		*npend = 0;
	return rc;
}

/* ---- setup ---- */

static int connect_server(struct run *r, struct runner_opts *o, char *err, size_t errlen)
{
	char **models = NULL;
	int nmodels = 0, rc = -1;
	const char *url = o->url;
	struct discovered d;
	memset(&d, 0, sizeof(d));
	if (!url) {
		if (client_discover(&d, err, errlen) < 0)
			return -1;
		url = d.url;
		say(r->h, RUNNER_INFO, "found %s at %s%s%s", d.engine, d.url,
		    d.model[0] ? " serving " : "", d.model);
		snprintf(r->engine, sizeof(r->engine), "%s", d.engine);
		if (!o->api || !strcmp(o->api, "auto"))
			o->api = d.api;
	}
	r->cl = client_new(url, o->api, err, errlen);
	if (!r->cl)
		return -1;
	if (client_list_models(r->cl, &models, &nmodels, err, errlen) < 0) {
		char inner[IPW_ERRLEN];
		snprintf(inner, sizeof(inner), "%s", err);
		err_set(err, errlen, "the server at %s does not answer its model list: %s "
			"(is it running? check --url and --api)", url, inner);
		goto out;
	}
	if (o->model) {
		int found = 0;
		for (int i = 0; i < nmodels; i++)
			if (!strcmp(models[i], o->model))
				found = 1;
		if (!found && nmodels)
			say(r->h, RUNNER_WARN, "the server does not list model '%s' (it lists: %s%s); "
			    "sending it anyway", o->model, models[0], nmodels > 1 ? ", ..." : "");
		snprintf(r->model, sizeof(r->model), "%s", o->model);
	} else if (nmodels == 1) {
		snprintf(r->model, sizeof(r->model), "%s", models[0]);
		say(r->h, RUNNER_INFO, "using the model the server serves: %s", r->model);
	} else if (!nmodels) {
		err_set(err, errlen, "the server at %s lists no models: give one with --model", url);
		goto out;
	} else {
		struct buf b;
		buf_init(&b, 0);
		for (int i = 0; i < nmodels && i < 8; i++)
			buf_appendf(&b, "%s%s", i ? ", " : "", models[i]);
		err_set(err, errlen, "the server serves several models (%s): choose one with --model", b.data);
		buf_release(&b);
		goto out;
	}
	rc = 0;
out:
	if (models)
		free_list(models);
	return rc;
}

static int setup_telemetry(struct run *r, const struct runner_opts *o, char *err, size_t errlen)
{
	struct telemetry_opts to;
	struct telemetry_select sel;
	int nacc = 0;
	memset(&to, 0, sizeof(to));
	memset(&sel, 0, sizeof(sel));
	to.interval_ms = o->interval_ms;
	to.fake_profile = o->fake_profile;
	to.fake_trace = o->fake_trace;
	sel.backends = o->backends;
	sel.devices = o->devices;
	sel.host = o->host;
	if (telemetry_init(&r->tel, &to, &sel, err, errlen) < 0)
		return -1;
	r->tel_ok = 1;
	for (int b = 0; b < r->tel.ninsts; b++)
		if (!r->tel.insts[b].present && strcmp(r->tel.insts[b].ops->name, "fake") &&
		    strncmp(r->tel.insts[b].reason, "not requested", 13))
			say(r->h, RUNNER_INFO, "telemetry %s: absent (%s)", r->tel.insts[b].ops->name,
			    r->tel.insts[b].reason);
	for (int s = 0; s < r->tel.nsrcs; s++) {
		const struct source_info *si = r->tel.srcs[s].info;
		say(r->h, RUNNER_INFO, "measuring %s (%s, %s%s%s)", si->name, si->model,
		    source_scope_name(si->scope), si->notes[0] ? "; " : "", si->notes);
		if (si->scope == SCOPE_ACCELERATOR)
			nacc++;
	}
	if (r->tel.last_error[0])
		say(r->h, RUNNER_WARN, "%s", r->tel.last_error);
	if (!nacc)
		say(r->h, RUNNER_WARN, "no accelerator energy source was found: every query's accelerator "
		    "energy will be recorded as not measured (ipw devices says why)");
	r->idle_w = xcalloc((size_t)(r->tel.nsrcs + 1), sizeof(double));
	r->idle_after_w = xcalloc((size_t)(r->tel.nsrcs + 1), sizeof(double));
	r->flushed = xcalloc((size_t)(r->tel.nsrcs + 1), sizeof(size_t));
	return telemetry_start(&r->tel, NULL, NULL, err, errlen);
}

static void fill_sources(struct run *r)
{
	struct run_record old = {.sources = r->rec.sources, .nsources = r->rec.nsources};
	run_record_release(&old);  /* a resumed run arrives with its stored sources: replace them */
	r->rec.nsources = r->tel.nsrcs;
	r->rec.sources = xcalloc((size_t)(r->tel.nsrcs + 1), sizeof(*r->rec.sources));
	for (int s = 0; s < r->tel.nsrcs; s++) {
		const struct source_info *si = r->tel.srcs[s].info;
		struct run_source *rs = &r->rec.sources[s];
		rs->idx = s;
		rs->name = xstrdup(si->name);
		rs->backend = xstrdup(si->backend);
		rs->kind = xstrdup(source_kind_name(si->kind));
		rs->scope = xstrdup(source_scope_name(si->scope));
		rs->model = xstrdup(si->model);
		rs->uuid = xstrdup(si->uuid);
		rs->pci_bus_id = xstrdup(si->pci_bus_id);
		rs->driver = xstrdup(si->driver);
		rs->power_limit_w = si->power_limit_w;
		rs->idle_before_w = r->idle_w[s];
		rs->idle_after_w = NAN;
	}
}

static void warm_up(struct run *r)
{
	struct chat_request req;
	for (int i = 0; i < r->o->warmup && r->ds.n && !(r->o->stop && *r->o->stop); i++) {
		struct chat_result res;
		char *prompt = item_prompt(&r->ds.items[0]);
		memset(&req, 0, sizeof(req));
		req.model = r->model;
		req.prompt = prompt;
		req.s = r->o->s;
		/*
		 * Long enough that the server has generated a long answer once (its
		 * first one can be several times slower: seen on a PyTorch server,
		 * bench/RESULTS.md), short enough to stay cheap with the paper's 32k cap.
		 */
		if (req.s.max_tokens > WARMUP_MAX_TOKENS)
			req.s.max_tokens = WARMUP_MAX_TOKENS;
		req.timeout_s = r->o->timeout_s;
		chat_result_init(&res);
		attempt(r, &req, &res);
		if (res.err)
			say(r->h, RUNNER_WARN, "warm-up request %d failed: %s: %s", i + 1, err_kind_name(res.err),
			    res.errmsg);
		if (res.model[0] && !r->rec.server_model)
			r->rec.server_model = xstrdup(res.model);
		chat_result_release(&res);
		free(prompt);
	}
}

/* ---- load runs (src/load.c, docs/load.md) ---- */

/* The summary JSON with the --serve facts merged in (takes summary; NULL = none). */
static char *with_serve(struct run *r, char *summary, double server_idle_w)
{
	json_t *j, *sv;
	char *out;
	if (!r->o->serve)
		return summary;
	j = summary ? json_loads(summary, 0, NULL) : NULL;
	if (!j)
		j = json_object();
	sv = json_object();
	json_object_set_new(sv, "command", json_string(r->o->serve));
	json_object_set_new(sv, "log", r->srv.log_path ? json_string(r->srv.log_path) : json_null());
	json_object_set_new(sv, "device_idle_accel_w",
			    isnan(r->dev_idle_accel_w) ? json_null() : json_real(r->dev_idle_accel_w));
	json_object_set_new(sv, "server_idle_accel_w", isnan(server_idle_w) ? json_null() : json_real(server_idle_w));
	json_object_set_new(j, "serve", sv);
	out = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	free(summary);
	return out;
}

/*
 * Sends the items under the configured load (closed or open loop), then
 * attributes energy by the concurrent rule over the whole span and commits
 * every query. Overlapping requests share slices, so no query's energy is
 * final before the last one ends: a killed load run keeps only its samples.
 */
static int run_load(struct run *r, struct tally *a, struct runner_report *rep, int64_t *tfirst,
		    int64_t *tlast, char *err, size_t errlen)
{
	const struct runner_opts *o = r->o;
	struct load_opts lo;
	struct load_slo slo;
	struct load_summary sum;
	struct chat_request req;
	struct load_req **reqs = NULL;
	struct query_record *qs = NULL;
	char **prompts = xcalloc(r->ds.n + 1, sizeof(char *));
	size_t n = 0, done = 0;
	int64_t t0 = 0, t1 = 0;
	int rc = -1;

	load_opts_init(&lo);
	lo.concurrency = o->concurrency > 0 ? o->concurrency : 1;
	lo.rate = o->rate;
	lo.burstiness = o->burstiness > 0 ? o->burstiness : 1;
	lo.max_concurrency = o->max_concurrency;
	lo.duration_s = o->duration_s;
	lo.count = o->count;
	lo.seed = o->shuffle_seed;
	load_slo_init(&slo);
	load_summary_init(&sum);
	if (o->slo && load_slo_parse(&slo, o->slo, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < r->ds.n; i++)
		prompts[i] = item_prompt(&r->ds.items[i]);
	memset(&req, 0, sizeof(req));
	req.model = r->model;
	req.s = o->s;
	req.timeout_s = o->timeout_s;
	if (lo.rate > 0)
		say(r->h, RUNNER_INFO, "open loop: %.3g requests/s (burstiness %.3g)%s", lo.rate, lo.burstiness,
		    lo.max_concurrency > 0 ? ", capped" : "");
	else
		say(r->h, RUNNER_INFO, "closed loop: %d requests in flight", lo.concurrency);
	if (load_drive(r->cl, &lo, &req, prompts, r->ds.n, o->stop, &reqs, &n, err, errlen) < 0)
		goto out;
	say(r->h, RUNNER_INFO, "load finished: %zu requests sent; attributing energy", n);
	qs = xcalloc(n + 1, sizeof(*qs));
	for (size_t i = 0; i < n; i++) {
		const struct chat_result *res = &reqs[i]->res;
		const struct item *it = &r->ds.items[reqs[i]->item];
		struct query_attempt *at;
		fill_item(&qs[i], it, (long long)i, xstrdup(prompts[reqs[i]->item]));
		if (reqs[i]->rep > 0) {
			/* items cycle: the store keeps one row per (run, item id) */
			free(qs[i].item_id);
			qs[i].item_id = xasprintf("%s#%lld", it->id, reqs[i]->rep);
		}
		fill_final(r, &qs[i], res);
		at = qs[i].attempts = xcalloc(1, sizeof(*at));
		qs[i].nattempts = 1;
		at->n = 1;
		at->t_start_s = rel_s(r, res->t_send_ns);
		at->duration_s = res->t_end_ns ? (double)(res->t_end_ns - res->t_send_ns) / 1e9 : NAN;
		at->error_kind = xstrdup(err_kind_name(res->err));
		at->http_status = res->http_status;
		at->message = res->err ? xstrdup(res->errmsg) : NULL;
		if (res->t_send_ns && (!t0 || res->t_send_ns < t0))
			t0 = res->t_send_ns;
		if (res->t_end_ns > t1)
			t1 = res->t_end_ns;
	}
	*tfirst = t0;
	*tlast = t1;
	rep->total = a->total = (long long)n;
	if (r->tel.nsrcs && t0 && t1 > t0) {
		char e2[IPW_ERRLEN];
		if (telemetry_wait_covered(&r->tel, t1, COVER_TIMEOUT_NS) < 0)
			say(r->h, RUNNER_WARN, "telemetry did not cover the end of the load within 3 s");
		if (load_energy(&r->tel, r->idle_w, reqs, qs, n, t0, t1, 10 * NS_PER_MS, &sum, e2, sizeof(e2)) < 0)
			say(r->h, RUNNER_WARN, "accelerator energy of the load is not measured: %s", e2);
	}
	load_summarize(reqs, qs, n, &slo, &sum);
	for (done = 0; done < n; done++) {
		struct query_record *q = &qs[done];
		if (store_query_insert(r->st, r->rec.id, q, err, errlen) < 0 ||
		    score_query(r->st, r->rec.id, q, &r->ds.items[reqs[done]->item], err, errlen) < 0)
			goto out;
		tally_add(a, q);
		if (r->h && r->h->query_done)
			r->h->query_done(r->h->arg, q);
	}
	if (flush_samples(r, err, errlen) < 0)
		goto out;
	free(r->rec.summary_json);
	r->rec.summary_json = load_summary_json(&sum, &lo, &slo);
	rc = 0;
out:
	for (size_t i = 0; i < n && qs; i++)
		query_record_release(&qs[i]);
	free(qs);
	if (reqs)
		load_reqs_free(reqs, n);
	for (size_t i = 0; i < r->ds.n; i++)
		free(prompts[i]);
	free(prompts);
	return rc;
}

/* The accelerators' summed idle power in out_w (per source), NAN if none. */
static double accel_sum(const struct run *r, const double *w)
{
	double sum = 0;
	int n = 0;
	for (int s = 0; s < r->tel.nsrcs; s++)
		if (r->tel.srcs[s].info->scope == SCOPE_ACCELERATOR && !isnan(w[s])) {
			sum += w[s];
			n++;
		}
	return n ? sum : NAN;
}

/*
 * --serve: with telemetry running, measures the device idle before the
 * server exists, starts it (port checked free first) and waits for health.
 */
static int start_server(struct run *r, struct runner_opts *o, struct runner_report *rep, char *err,
			size_t errlen)
{
	char *log = NULL;
	double *w;
	int rc = -1;
	if (!o->url)
		return err_set(err, errlen, "--serve needs --url: the address the started server will listen on");
	if (serve_port_free(o->url, err, errlen) < 0)
		return -1;
	if (setup_telemetry(r, o, err, errlen) < 0)
		return -1;
	w = xcalloc((size_t)r->tel.nsrcs + 1, sizeof(double));
	idle_baseline(r, w, "before the server starts");
	r->dev_idle_accel_w = accel_sum(r, w);
	rep->device_idle_w = r->dev_idle_accel_w;
	free(w);
	if (o->serve_log) {
		log = xstrdup(o->serve_log);
	} else {
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
		log = xasprintf("%s.serve-%s-%d.log", o->store ? o->store : "ipw", when, (int)getpid());
	}
	if (serve_start(&r->srv, o->serve, log, err, errlen) < 0)
		goto out;
	snprintf(rep->server_log, sizeof(rep->server_log), "%s", log);
	say(r->h, RUNNER_INFO, "started the server (pid %d): %s; log %s", (int)r->srv.pid, o->serve, log);
	if (serve_wait_healthy(&r->srv, o->url, o->api, o->serve_timeout_s, o->stop, err, errlen) < 0)
		goto out;
	say(r->h, RUNNER_INFO, "the server is healthy");
	rc = 0;
out:
	free(log);
	return rc;
}

/* Item ids already in the store for a resumed run, as a sorted array for bsearch. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int runner_run(const struct runner_opts *opts, const struct runner_hooks *h,
	       struct runner_report *rep, char *err, size_t errlen)
{
	struct runner_opts o = *opts;
	struct run r;
	const char *from_record;
	char **done_ids = NULL;
	size_t ndone = 0;
	int rc = -1;
	long long seq;
	int64_t t_first_send = 0, t_last_end = 0;
	double sum_accel = 0, sum_host = 0, sum_e2e = 0, sum_ttft = 0;
	long long n_accel = 0, n_host = 0, n_e2e = 0, n_ttft = 0;
	char *api_s = NULL;
	struct pending *pend = xcalloc(MAX_PENDING, sizeof(*pend));
	int npend = 0;
	struct tally acc;

	memset(&acc, 0, sizeof(acc));
	memset(&r, 0, sizeof(r));
	memset(rep, 0, sizeof(*rep));
	rep->accel_j = rep->host_j = rep->span_accel_j = rep->idle_accel_w = NAN;
	r.o = &o;
	r.h = h;
	if (store_open(&r.store, o.store, STORE_CREATE, err, errlen) < 0)
		goto out;
	r.st = &r.store;
	if (o.resume) {
		if (store_run_get(r.st, o.resume, &r.rec, err, errlen) < 0)
			goto out;
		if (!strcmp(r.rec.status, "completed")) {
			err_set(err, errlen, "run %s (%s) is already complete: nothing to resume", r.rec.id,
				r.rec.name);
			goto out;
		}
		if (profile_config_restore(&o, r.rec.config_json, &r.restored, &from_record, err, errlen) < 0)
			goto out;
		say(h, RUNNER_INFO, "resuming run %s (%s) with the options it was started with, from the record: %s",
		    r.rec.id, r.rec.name, from_record);
	}
	if (dataset_load_format(&r.ds, o.dataset, o.resume ? r.rec.dataset_format : o.dataset_format, err, errlen) < 0)
		goto out;
	if (o.shuffle)
		dataset_shuffle(&r.ds, o.shuffle_seed);
	if (o.limit > 0)
		dataset_limit(&r.ds, (size_t)o.limit);
	if (o.resume) {
		if (strcmp(r.ds.sha256, r.rec.dataset_sha256)) {
			err_set(err, errlen, "the dataset %s has changed since run %s was started (sha256 %.12s... "
				"then, %.12s... now): resuming would mix items", r.ds.path, r.rec.id,
				r.rec.dataset_sha256, r.ds.sha256);
			goto out;
		}
		if (store_items_done(r.st, r.rec.id, &done_ids, &ndone, err, errlen) < 0)
			goto out;
		qsort(done_ids, ndone, sizeof(char *), cmp_str);
	}
	r.dev_idle_accel_w = NAN;
	rep->device_idle_w = NAN;
	if (o.serve && start_server(&r, &o, rep, err, errlen) < 0)
		goto out;
	if (connect_server(&r, &o, err, errlen) < 0)
		goto out;
	if (!r.tel_ok && setup_telemetry(&r, &o, err, errlen) < 0)
		goto out;
	api_s = xstrdup(client_api(r.cl));
	r.t0_ns = clock_now_ns();
	if (!o.resume) {
		r.rec.name = o.name ? xstrdup(o.name) : default_name(r.model);
		r.rec.status = xstrdup("running");
		r.rec.model = xstrdup(r.model);
		r.rec.api = xstrdup(api_s);
		r.rec.url = xstrdup(client_url(r.cl));
		r.rec.engine = xstrdup(r.engine[0] ? r.engine : "unknown");
		r.rec.config_json = profile_config_json(&o, client_url(r.cl), api_s, r.model);
		r.rec.dataset_path = xstrdup(r.ds.path);
		r.rec.dataset_sha256 = xstrdup(r.ds.sha256);
		r.rec.dataset_format = xstrdup(r.ds.format);
		r.rec.n_items = (long long)r.ds.n;
		r.rec.version = xstrdup(IPW_VERSION);
		r.rec.started_at = clock_wall_s();
		r.rec.ended_at = NAN;
		r.rec.idle_seconds = o.idle_s;
		r.rec.group_name = dupnull(o.group);
		r.rec.server_log = rep->server_log[0] ? xstrdup(rep->server_log) : NULL;
	}
	free(r.rec.hardware_json);
	r.rec.hardware_json = hardware_json(&r);

	warm_up(&r);
	idle_baseline(&r, r.idle_w, "before");
	fill_sources(&r);
	if (!o.resume) {
		if (store_run_create(r.st, &r.rec, err, errlen) < 0)
			goto out;
	} else {
		free(r.rec.status);
		r.rec.status = xstrdup("running");
		if (store_run_update(r.st, &r.rec, err, errlen) < 0)
			goto out;
	}
	snprintf(rep->run_id, sizeof(rep->run_id), "%s", r.rec.id);
	rep->total = (long long)r.ds.n;
	rep->skipped = (long long)ndone;
	acc.total = rep->total;
	acc.skipped = rep->skipped;
	acc.t0_ns = r.t0_ns;
	{
		double idle = 0;
		int n = 0;
		for (int s = 0; s < r.tel.nsrcs; s++)
			if (r.tel.srcs[s].info->scope == SCOPE_ACCELERATOR && !isnan(r.idle_w[s])) {
				idle += r.idle_w[s];
				n++;
			}
		rep->idle_accel_w = n ? idle : NAN;
	}
	if (flush_samples(&r, err, errlen) < 0)
		goto out;

	if (o.load || o.concurrency > 1 || o.rate > 0 || o.duration_s > 0 || o.count > 0) {
		if (run_load(&r, &acc, rep, &t_first_send, &t_last_end, err, errlen) < 0)
			goto out;
		seq = (long long)r.ds.n; /* the sequential loop below has nothing left to do */
	} else {
		seq = 0;
	}
	for (; seq < (long long)r.ds.n; seq++) {
		const struct item *it = &r.ds.items[seq];
		struct pending *pq;
		const char *key = it->id;
		if (o.stop && *o.stop)
			break;
		if (ndone && bsearch(&key, done_ids, ndone, sizeof(char *), cmp_str))
			continue;
		if (npend == MAX_PENDING && commit_pending(&r, pend, &npend, 1, &acc, err, errlen) < 0)
			goto out;
		pq = &pend[npend];
		if (run_item(&r, it, seq, &pq->q, &pq->t0, &pq->t1)) {
			query_record_release(&pq->q);
			break; /* interrupted: not recorded, a resume runs it again */
		}
		npend++;
		if (!t_first_send)
			t_first_send = pq->t0;
		if (pq->t1)
			t_last_end = pq->t1;
		/*
		 * commit it before the next request is sent, so kill -9 loses at most
		 * the query in flight: wait for telemetry to cover its end (at most
		 * COVER_TIMEOUT_NS), then attribute and store it
		 */
		if (commit_pending(&r, pend, &npend, 1, &acc, err, errlen) < 0)
			goto out;
	}
	if (commit_pending(&r, pend, &npend, 1, &acc, err, errlen) < 0)
		goto out;
	rep->ok = acc.ok;
	rep->failed = acc.failed;
	rep->completion_tokens = acc.completion_tokens;
	sum_accel = acc.sum_accel; n_accel = acc.n_accel;
	sum_host = acc.sum_host; n_host = acc.n_host;
	sum_e2e = acc.sum_e2e; n_e2e = acc.n_e2e;
	sum_ttft = acc.sum_ttft; n_ttft = acc.n_ttft;
	rep->accel_j = n_accel ? sum_accel : NAN;
	rep->host_j = n_host ? sum_host : NAN;
	rep->mean_e2e_s = n_e2e ? sum_e2e / (double)n_e2e : NAN;
	rep->mean_ttft_s = n_ttft ? sum_ttft / (double)n_ttft : NAN;
	if (t_first_send && t_last_end > t_first_send) {
		struct window_energy w;
		telemetry_wait_covered(&r.tel, t_last_end, COVER_TIMEOUT_NS);
		telemetry_window_summary(&r.tel, t_first_send, t_last_end, &w);
		rep->span_accel_j = w.accel_j;
	}
	if (o.serve && !serve_alive(&r.srv)) {
		char how[64];
		serve_describe_exit(&r.srv, how, sizeof(how));
		err_set(err, errlen, "the server started by --serve %s during the run (its log: %s); the queries "
			"after that failed", how, r.srv.log_path);
		goto out;
	}
	{
		int interrupted = o.stop && *o.stop;
		if (!interrupted) {
			idle_baseline(&r, r.idle_after_w, "after");
			for (int s = 0; s < r.rec.nsources; s++)
				r.rec.sources[s].idle_after_w = r.idle_after_w[s];
		}
		free(r.rec.status);
		r.rec.status = xstrdup(interrupted ? "interrupted" : "completed");
		r.rec.ended_at = clock_wall_s();
		snprintf(rep->status, sizeof(rep->status), "%s", r.rec.status);
	}
	r.rec.summary_json = with_serve(&r, r.rec.summary_json, rep->idle_accel_w);
	if (flush_samples(&r, err, errlen) < 0 || store_run_update(r.st, &r.rec, err, errlen) < 0)
		goto out;
	if (r.rec.summary_json)
		rep->summary_json = xstrdup(r.rec.summary_json);
	rep->wall_s = (double)(clock_now_ns() - r.t0_ns) / 1e9;
	rc = 0;
out:
	if (rc < 0 && r.st && r.rec.id && r.rec.status && !strcmp(r.rec.status, "running")) {
		/* leave the run resumable, with what stopped it in the log */
		char e2[IPW_ERRLEN];
		free(r.rec.status);
		r.rec.status = xstrdup("interrupted");
		r.rec.ended_at = clock_wall_s();
		store_run_update(r.st, &r.rec, e2, sizeof(e2));
	}
	if (r.srv.pid) {
		say(h, RUNNER_INFO, "stopping the server (pid %d)", (int)r.srv.pid);
		serve_stop(&r.srv, 30);
	}
	serve_release(&r.srv);
	if (r.tel_ok)
		telemetry_release(&r.tel);
	if (r.cl)
		client_free(r.cl);
	if (r.st)
		store_close(r.st);
	dataset_release(&r.ds);
	run_record_release(&r.rec);
	free(r.idle_w);
	free(r.idle_after_w);
	free(r.flushed);
	free(api_s);
	for (int i = 0; i < npend; i++)
		query_record_release(&pend[i].q);
	free(pend);
	opt_keep_release(&r.restored);
	if (done_ids) {
		for (size_t i = 0; i < ndone; i++)
			free(done_ids[i]);
		free(done_ids);
	}
	return rc;
}
