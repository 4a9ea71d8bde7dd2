/*
 * load.c - the load loop (closed and open loop on one libcurl multi event
 * loop), the concurrent energy attribution of a load run per source, and
 * the run summary (latency percentiles, throughput, goodput, energy).
 * See docs/load.md and docs/attribution.md.
 */
#include "load.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attribution.h"
#include "clock.h"
#include "rng.h"
#include "stats.h"
#include "measure.h"
#include "telemetry.h"
#include "util.h"
#include "jsonout.h"

void load_opts_init(struct load_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->concurrency = 1;
	o->burstiness = 1;
}

void load_slo_init(struct load_slo *s)
{
	s->ttft_s = s->tpot_s = s->itl_s = s->e2e_s = NAN;
}

void load_summary_init(struct load_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->span_s = s->req_per_s = s->out_tok_per_s = NAN;
	s->good = -1;
	s->good_share = s->good_per_s = NAN;
	s->span_accel_j = s->attributed_accel_j = s->idle_accel_j = s->idle_share = NAN;
	s->j_per_query = s->j_per_token = s->mean_power_w = s->conservation_rel = s->naive_accel_j = NAN;
}

/* ---- random arrivals ---- */

/* Uniform in (0, 1). */
static double unit_open(uint64_t *s)
{
	return ((double)(splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(uint64_t *s)
{
	double u = unit_open(s), v = unit_open(s);
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Gamma(k, 1) by Marsaglia and Tsang; k < 1 through Gamma(k + 1) * U^(1/k). */
static double rng_gamma(double k, uint64_t *s)
{
	double d, c;
	if (k < 1)
		return rng_gamma(k + 1, s) * pow(unit_open(s), 1 / k);
	d = k - 1.0 / 3;
	c = 1 / sqrt(9 * d);
	for (;;) {
		double x = rng_normal(s), v = 1 + c * x, u;
		if (v <= 0)
			continue;
		v = v * v * v;
		u = unit_open(s);
		if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
			return d * v;
	}
}

double load_gap(double rate, double k, uint64_t *state)
{
	if (k <= 0 || k == 1)
		return -log(unit_open(state)) / rate;
	/* mean k * theta = 1 / rate */
	return rng_gamma(k, state) / (k * rate);
}

/* ---- the loop ---- */

static void req_ended(struct load_req *r);

static void on_done(void *arg, struct chat_result *res)
{
	(void)res;
	req_ended(arg);
}

void load_reqs_free(struct load_req **r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		chat_result_release(&r[i]->res);
		free(r[i]);
	}
	free(r);
}

/* The load loop's state. */
struct drive {
	struct client *cl;
	const struct load_opts *o;
	const struct chat_request *tmpl;
	char *const *prompts;
	size_t nprompts;
	volatile sig_atomic_t *stop;
	struct load_req **v;        /* sent, in send order */
	size_t n, cap, ndone;
	long long limit;            /* requests to send; -1 = until the duration ends */
	long long *reps;            /* per item: times sent */
	int64_t stop_at;            /* 0 = no duration */
	int64_t next_arrival;       /* open loop */
	uint64_t rng;
	int open, cap_inflight;
	long long backlog;          /* open loop: arrivals waiting for a slot under the cap */
	int64_t *backlog_t;
	size_t backlog_cap, backlog_head;
	int halted;                 /* the on_end hook asked to stop */
};

/* A request has ended: counted, then handed to the on_end hook. */
static void req_ended(struct load_req *r)
{
	struct drive *d = r->loop;
	r->done = 1;
	if (r->ndone)
		(*r->ndone)++;
	if (d && d->o->on_end && d->o->on_end(d->o->on_end_arg, r))
		d->halted = 1;
}

static int drive_stopped(const struct drive *d)
{
	return d->halted || (d->stop && *d->stop);
}

/* Whether extra more requests than sent stay within the count. */
static int under_limit(const struct drive *d, long long extra)
{
	return d->limit < 0 || (long long)d->n + extra < d->limit;
}

/* Open loop: whether the next arrival can still be admitted (count and duration). */
static int arrivals_open(const struct drive *d)
{
	return under_limit(d, d->backlog) && (!d->stop_at || d->next_arrival < d->stop_at);
}

/* Open loop: arrivals due by now join the backlog. */
static void admit_arrivals(struct drive *d, int64_t now)
{
	while (d->next_arrival <= now && arrivals_open(d)) {
		if ((size_t)d->backlog + d->backlog_head >= d->backlog_cap) {
			d->backlog_cap = d->backlog_cap ? d->backlog_cap * 2 : 64;
			d->backlog_t = xrealloc(d->backlog_t, d->backlog_cap * sizeof(*d->backlog_t));
		}
		d->backlog_t[d->backlog_head + (size_t)d->backlog] = d->next_arrival;
		d->backlog++;
		d->next_arrival += (int64_t)(load_gap(d->o->rate, d->o->burstiness, &d->rng) * 1e9);
	}
}

static int may_send(const struct drive *d, int sending, int inflight)
{
	return (d->open ? d->backlog > 0 : sending && under_limit(d, 0)) && inflight < d->cap_inflight &&
	       !drive_stopped(d);
}

/* Sends the next request (the next backlog arrival in the open loop). */
static void submit_next(struct drive *d, int64_t now)
{
	struct load_req *r = xcalloc(1, sizeof(*r));
	struct chat_request req = *d->tmpl;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	r->n = (long long)d->n;
	r->k = d->o->plan ? d->o->plan[d->n] : (long long)d->n;
	r->item = (size_t)(r->k % (long long)d->nprompts);
	r->rep = d->o->plan ? r->k / (long long)d->nprompts : d->reps[r->item]++;
	if (d->open) {
		r->t_sched_ns = d->backlog_t[d->backlog_head++];
		if (!--d->backlog)
			d->backlog_head = 0;
	} else {
		r->t_sched_ns = now;
	}
	chat_result_init(&r->res);
	r->ndone = &d->ndone;
	r->loop = d;
	d->v[d->n++] = r;
	req.prompt = d->prompts[r->item];
	if (client_submit(d->cl, &req, &r->res, on_done, r) < 0) {
		if (r->res.err == ERR_NONE) {
			r->res.err = ERR_CONNECT;
			snprintf(r->res.errmsg, sizeof(r->res.errmsg), "could not start the request");
		}
		req_ended(r);
	}
}

/* Waits for events (at most 20 ms, less when the next arrival is due sooner); on_done counts what ended. */
static void wait_step(struct drive *d, int sending, int inflight)
{
	int wait_ms = 20;
	if (d->open && sending && arrivals_open(d)) {
		/* sleep until the next arrival that can still be admitted (never spin at the cap) */
		int64_t until = d->next_arrival - clock_now_ns();
		if (until < (int64_t)wait_ms * NS_PER_MS)
			wait_ms = until > 0 ? (int)(until / NS_PER_MS) : 0;
	}
	if (inflight)
		client_poll(d->cl, wait_ms);
	else if (wait_ms > 0)
		clock_sleep_ns((int64_t)wait_ms * NS_PER_MS);
	if (drive_stopped(d))
		d->backlog = 0;
}

static void drive_init(struct drive *d, struct client *cl, const struct load_opts *o,
		       const struct chat_request *tmpl, char *const *prompts, size_t nprompts,
		       volatile sig_atomic_t *stop)
{
	int64_t start = clock_now_ns();
	memset(d, 0, sizeof(*d));
	d->cl = cl;
	d->o = o;
	d->tmpl = tmpl;
	d->prompts = prompts;
	d->nprompts = nprompts;
	d->stop = stop;
	d->limit = o->plan ? (long long)o->nplan
		 : o->count > 0 ? o->count : o->duration_s > 0 ? -1 : (long long)nprompts;
	d->reps = xcalloc(nprompts, sizeof(*d->reps));
	d->stop_at = o->duration_s > 0 ? start + (int64_t)(o->duration_s * 1e9) : 0;
	d->next_arrival = start;
	d->rng = o->seed ^ 0x1f0adULL;
	d->open = o->rate > 0;
	d->cap_inflight = d->open ? (o->max_concurrency > 0 ? o->max_concurrency : 1 << 30)
				  : (o->concurrency > 0 ? o->concurrency : 1);
}

int load_drive(struct client *cl, const struct load_opts *o, const struct chat_request *tmpl,
	       char *const *prompts, size_t nprompts, volatile sig_atomic_t *stop,
	       struct load_req ***out, size_t *nout, char *err, size_t errlen)
{
	struct drive d;
	*out = NULL;
	*nout = 0;
	if (!nprompts)
		return err_set(err, errlen, "no items to send");
	drive_init(&d, cl, o, tmpl, prompts, nprompts, stop);
	for (;;) {
		int64_t now = clock_now_ns();
		int sending = !drive_stopped(&d) && under_limit(&d, 0) && (!d.stop_at || now < d.stop_at);
		int inflight = (int)(d.n - d.ndone);
		if (d.open && sending)
			admit_arrivals(&d, now);
		for (; may_send(&d, sending, inflight); inflight++)
			submit_next(&d, now);
		if (!sending && !d.backlog && inflight == 0)
			break;
		if (drive_stopped(&d) && inflight) {
			client_cancel_all(cl);
			while (client_poll(cl, 10) > 0)
				;
		}
		wait_step(&d, sending, inflight);
	}
	for (size_t i = 0; i < d.n; i++) {
		d.v[i]->ndone = NULL;   /* the count and the loop lived on this stack */
		d.v[i]->loop = NULL;
	}
	free(d.reps);
	free(d.backlog_t);
	*out = d.v;
	*nout = d.n;
	return 0;
}

/* ---- SLOs ---- */

int load_slo_parse(struct load_slo *s, const char *spec, char *err, size_t errlen)
{
	char *copy = xstrdup(spec), *save = NULL, *tok;
	int rc = 0;
	load_slo_init(s);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		double v;
		if (!eq) {
			rc = err_set(err, errlen, "--slo: '%s' is not KEY=SECONDS (keys: ttft, tpot, itl, e2e)", tok);
			break;
		}
		*eq = 0;
		v = strtod(eq + 1, &end);
		if (end == eq + 1 || *end || !(v > 0) || !isfinite(v)) {
			rc = err_set(err, errlen, "--slo: %s takes seconds > 0 (got '%s')", tok, eq + 1);
			break;
		}
		if (!strcmp(tok, "ttft"))
			s->ttft_s = v;
		else if (!strcmp(tok, "tpot"))
			s->tpot_s = v;
		else if (!strcmp(tok, "itl"))
			s->itl_s = v;
		else if (!strcmp(tok, "e2e"))
			s->e2e_s = v;
		else {
			rc = err_set(err, errlen, "--slo: unknown key '%s' (keys: ttft, tpot, itl, e2e)", tok);
			break;
		}
	}
	free(copy);
	return rc;
}

static int slo_any(const struct load_slo *s)
{
	return !isnan(s->ttft_s) || !isnan(s->tpot_s) || !isnan(s->itl_s) || !isnan(s->e2e_s);
}

/* A limit is met when the value is known and within it; an unknown value fails a set limit. */
static int within(double v, double lim)
{
	return isnan(lim) || (!isnan(v) && v <= lim);
}

int load_slo_met(const struct load_slo *s, const struct query_record *q)
{
	if (!q->status || strcmp(q->status, "ok"))
		return 0;
	/* a one-token answer has no TPOT: that limit does not apply to it */
	return within(q->ttft_s, s->ttft_s) && (isnan(s->tpot_s) || q->completion_tokens <= 1 ||
						 within(q->tpot_s, s->tpot_s)) &&
	       (isnan(s->itl_s) || isnan(q->itl_p99_s) || within(q->itl_p99_s, s->itl_s)) &&
	       within(q->e2e_s, s->e2e_s);
}

/* ---- summary ---- */

static void fill_pct(struct load_pct *p, double *v, size_t n)
{
	double sum = 0;
	if (n)
		stats_sort(v, n);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	p->n = (long long)n;
	p->mean = n ? sum / (double)n : NAN;
	p->p50 = stats_percentile_sorted(v, n, 50);
	p->p90 = stats_percentile_sorted(v, n, 90);
	p->p95 = stats_percentile_sorted(v, n, 95);
	p->p99 = stats_percentile_sorted(v, n, 99);
}

/* Appends the gaps between res's output events to v (n used, cap allocated); returns v. */
static double *append_gaps(double *v, size_t *n, size_t *cap, const struct chat_result *res)
{
	for (size_t k = 1; k < res->ntoken; k++) {
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			v = xrealloc(v, *cap * sizeof(double));
		}
		v[(*n)++] = (double)(res->token_ns[k] - res->token_ns[k - 1]) / 1e9;
	}
	return v;
}

void load_summarize(struct load_req **reqs, const struct query_record *qs, size_t n,
		    const struct load_slo *slo, struct load_summary *sum)
{
	double *ttft = xmalloc((n + 1) * sizeof(double)), *tpot = xmalloc((n + 1) * sizeof(double));
	double *e2e = xmalloc((n + 1) * sizeof(double)), *itl = NULL, *sd = xmalloc((n + 1) * sizeof(double));
	size_t nt = 0, np = 0, ne = 0, ni = 0, icap = 0, nsd = 0;
	int64_t first = 0, last = 0;
	long long good = 0;

	sum->sent = (long long)n;
	sum->ok = sum->failed = sum->out_tokens = 0;
	for (size_t i = 0; i < n; i++) {
		const struct query_record *q = &qs[i];
		const struct chat_result *res = &reqs[i]->res;
		if (res->t_send_ns && (!first || res->t_send_ns < first))
			first = res->t_send_ns;
		if (res->t_end_ns > last)
			last = res->t_end_ns;
		if (res->t_submit_ns && res->t_send_ns >= res->t_submit_ns)
			sd[nsd++] = (double)(res->t_send_ns - res->t_submit_ns) / 1e9;
		if (!q->status || strcmp(q->status, "ok")) {
			sum->failed++;
			continue;
		}
		sum->ok++;
		if (q->completion_tokens > 0)
			sum->out_tokens += q->completion_tokens;
		if (!isnan(q->ttft_s))
			ttft[nt++] = q->ttft_s;
		if (!isnan(q->tpot_s))
			tpot[np++] = q->tpot_s;
		if (!isnan(q->e2e_s))
			e2e[ne++] = q->e2e_s;
		itl = append_gaps(itl, &ni, &icap, res);
		if (load_slo_met(slo, q))
			good++;
	}
	fill_pct(&sum->ttft, ttft, nt);
	fill_pct(&sum->tpot, tpot, np);
	fill_pct(&sum->e2e, e2e, ne);
	fill_pct(&sum->itl, itl, ni);
	fill_pct(&sum->send_delay, sd, nsd);
	sum->span_s = first && last > first ? (double)(last - first) / 1e9 : NAN;
	sum->req_per_s = sum->span_s > 0 ? (double)sum->ok / sum->span_s : NAN;
	sum->out_tok_per_s = sum->span_s > 0 ? (double)sum->out_tokens / sum->span_s : NAN;
	if (slo_any(slo)) {
		sum->good = good;
		sum->good_share = n ? (double)good / (double)n : NAN;
		sum->good_per_s = sum->span_s > 0 ? (double)good / sum->span_s : NAN;
	}
	if (!isnan(sum->attributed_accel_j)) {
		sum->j_per_query = sum->ok ? sum->attributed_accel_j / (double)sum->ok : NAN;
		sum->j_per_token = sum->out_tokens ? sum->attributed_accel_j / (double)sum->out_tokens : NAN;
	}
	free(ttft);
	free(tpot);
	free(e2e);
	free(itl);
	free(sd);
}

/* ---- energy ---- */

/* The attribution's working set: per request and per source. */
struct energy_job {
	struct attr_req *ar;
	size_t n;
	int64_t t0, t1, grid_ns;
	double *gross, *share;   /* [s * (n + 1) + i]: NAN for a source not covered */
	double *naive;           /* per request: the naive rule, summed over accelerators (NAN: not ok) */
	double span_j, idle_j, attr_j;
	int nacc;                /* accelerators covered */
};

static int src_energy(void *arg, int64_t t, double *e)
{
	return timeline_energy_at(arg, t, e);
}

/* One source's attribution, run on its timeline with the session's lock held. */
struct source_job {
	struct energy_job *j;
	int s, accel;
	char err[IPW_ERRLEN];
};

static int attribute_source(void *arg, const struct timeline *tl)
{
	struct source_job *sj = arg;
	struct energy_job *j = sj->j;
	struct attr_out ao;
	memset(&ao, 0, sizeof(ao));
	ao.req_j = j->gross + (size_t)sj->s * (j->n + 1);
	ao.req_s = j->share + (size_t)sj->s * (j->n + 1);
	if (attribute_concurrent(j->ar, j->n, j->t0, j->t1, j->grid_ns, src_energy, (void *)tl, &ao, sj->err,
				 sizeof(sj->err)) < 0) {
		for (size_t i = 0; i < j->n; i++)
			ao.req_j[i] = NAN;
		return -1;
	}
	if (!sj->accel)
		return 0;
	j->nacc++;
	j->span_j += ao.total_j;
	j->idle_j += ao.idle_j;
	for (size_t i = 0; i < j->n; i++) {
		j->attr_j += ao.req_j[i];
		if (!isnan(j->naive[i]))
			j->naive[i] += attribute_naive(tl, j->ar[i].t_send, j->ar[i].t_end);
	}
	return 0;
}

/* The requests as the attribution sees them: only ok ones are ever active. */
static void energy_job_init(struct energy_job *j, struct load_req **reqs, const struct query_record *qs,
			    size_t n, int nsrcs)
{
	memset(j, 0, sizeof(*j));
	j->n = n;
	j->ar = xcalloc(n + 1, sizeof(*j->ar));
	j->gross = xcalloc((size_t)nsrcs * (n + 1) + 1, sizeof(double));
	j->share = xcalloc((size_t)nsrcs * (n + 1) + 1, sizeof(double));
	j->naive = xcalloc(n + 1, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		const struct chat_result *res = &reqs[i]->res;
		int ok = qs[i].status && !strcmp(qs[i].status, "ok");
		j->ar[i].t_send = ok ? res->t_send_ns : 0;
		j->ar[i].t_first = res->t_first_ns;
		j->ar[i].t_end = ok ? res->t_end_ns : 0;
		j->ar[i].prompt_tokens = qs[i].prompt_tokens > 0 ? (double)qs[i].prompt_tokens : NAN;
		j->naive[i] = ok ? 0 : NAN;
	}
}

static void energy_job_release(struct energy_job *j)
{
	free(j->ar);
	free(j->gross);
	free(j->share);
	free(j->naive);
}

/* Adds the naive energy and the rule's name to a query's extras. */
static void add_naive(struct query_record *q, double naive_j)
{
	json_t *o = q->extra_json ? json_loads(q->extra_json, 0, NULL) : NULL;
	if (!o)
		o = json_object();
	json_object_set_new(o, "naive_accel_j", json_real(naive_j));
	json_object_set_new(o, "attribution", json_string("concurrent"));
	free(q->extra_json);
	q->extra_json = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
}

/* Query i's record from the attributed energies (dynamic = gross - idle power x its share of time). */
static double fill_query(const struct telemetry *tel, const double *idle_w, struct energy_job *j, size_t i,
			 struct query_record *q)
{
	int nsrcs = telemetry_nsources(tel);
	double *g = xcalloc((size_t)nsrcs + 1, sizeof(double)), *dyn = xcalloc((size_t)nsrcs + 1, sizeof(double));
	double naive = NAN;
	for (int s = 0; s < nsrcs; s++) {
		double sh = j->share[(size_t)s * (j->n + 1) + i];
		g[s] = j->gross[(size_t)s * (j->n + 1) + i];
		dyn[s] = isnan(g[s]) || isnan(idle_w[s]) ? NAN : g[s] - idle_w[s] * sh;
	}
	measure_fill_query_energy(tel, q, g, dyn, q->e2e_s);
	if (j->nacc && !isnan(j->naive[i])) {
		add_naive(q, j->naive[i]);
		naive = j->naive[i];
	}
	free(g);
	free(dyn);
	return naive;
}

int load_energy(struct telemetry *tel, const double *idle_w, struct load_req **reqs,
		struct query_record *qs, size_t n, int64_t t0, int64_t t1, int64_t grid_ns,
		struct load_summary *sum, char *err, size_t errlen)
{
	struct energy_job j;
	double naive_sum = 0;
	int rc = 0;

	energy_job_init(&j, reqs, qs, n, telemetry_nsources(tel));
	j.t0 = t0;
	j.t1 = t1;
	j.grid_ns = grid_ns;
	for (int s = 0; s < telemetry_nsources(tel); s++) {
		const struct source_info *si = telemetry_source(tel, s);
		struct source_job sj = {.j = &j, .s = s, .accel = si->scope == SCOPE_ACCELERATOR};
		if (telemetry_with_timeline(tel, s, attribute_source, &sj) < 0 && sj.accel)
			rc = err_set(err, errlen, "%s: %s", si->name, sj.err);
	}
	for (size_t i = 0; i < n; i++) {
		double naive;
		measure_clear_query_energy(&qs[i]);
		if (!j.ar[i].t_end)
			continue;
		naive = fill_query(tel, idle_w, &j, i, &qs[i]);
		if (!isnan(naive))
			naive_sum += naive;
	}
	if (j.nacc) {
		sum->span_accel_j = j.span_j;
		sum->attributed_accel_j = j.attr_j;
		sum->idle_accel_j = j.idle_j;
		sum->idle_share = j.span_j > 0 ? j.idle_j / j.span_j : NAN;
		sum->mean_power_w = t1 > t0 ? j.span_j / ((double)(t1 - t0) / 1e9) : NAN;
		sum->conservation_rel = j.span_j != 0 ? fabs(j.attr_j + j.idle_j - j.span_j) / fabs(j.span_j) : NAN;
		sum->naive_accel_j = naive_sum;
	}
	energy_job_release(&j);
	return rc;
}

/* ---- JSON ---- */

static json_t *jpct(const struct load_pct *p)
{
	json_t *o = json_object();
	json_object_set_new(o, "p50", json_real_or_null(p->p50));
	json_object_set_new(o, "p90", json_real_or_null(p->p90));
	json_object_set_new(o, "p95", json_real_or_null(p->p95));
	json_object_set_new(o, "p99", json_real_or_null(p->p99));
	json_object_set_new(o, "mean", json_real_or_null(p->mean));
	json_object_set_new(o, "n", json_integer(p->n));
	return o;
}

char *load_summary_json(const struct load_summary *s, const struct load_opts *o,
			const struct load_slo *slo)
{
	json_t *j = json_object(), *lat = json_object(), *l = json_object(), *g = json_object();
	json_t *e = json_object();
	char *out;
	json_object_set_new(l, "mode", json_string(o->rate > 0 ? "open" : "closed"));
	json_object_set_new(l, "concurrency", o->rate > 0 ? json_null() : json_integer(o->concurrency));
	json_object_set_new(l, "rate", o->rate > 0 ? json_real(o->rate) : json_null());
	json_object_set_new(l, "burstiness", json_real(o->burstiness));
	json_object_set_new(l, "max_concurrency", o->max_concurrency > 0 ? json_integer(o->max_concurrency) : json_null());
	json_object_set_new(l, "duration_s", o->duration_s > 0 ? json_real(o->duration_s) : json_null());
	json_object_set_new(j, "load", l);
	json_object_set_new(j, "sent", json_integer(s->sent));
	json_object_set_new(j, "ok", json_integer(s->ok));
	json_object_set_new(j, "failed", json_integer(s->failed));
	json_object_set_new(j, "span_s", json_real_or_null(s->span_s));
	json_object_set_new(lat, "ttft_s", jpct(&s->ttft));
	json_object_set_new(lat, "tpot_s", jpct(&s->tpot));
	json_object_set_new(lat, "itl_s", jpct(&s->itl));
	json_object_set_new(lat, "e2e_s", jpct(&s->e2e));
	json_object_set_new(lat, "client_send_delay_s", jpct(&s->send_delay));
	json_object_set_new(j, "latency", lat);
	json_object_set_new(j, "requests_per_s", json_real_or_null(s->req_per_s));
	json_object_set_new(j, "output_tokens", json_integer(s->out_tokens));
	json_object_set_new(j, "output_tokens_per_s", json_real_or_null(s->out_tok_per_s));
	json_object_set_new(g, "slo", json_pack("{s:o, s:o, s:o, s:o}", "ttft_s", json_real_or_null(slo->ttft_s), "tpot_s",
						json_real_or_null(slo->tpot_s), "itl_s", json_real_or_null(slo->itl_s), "e2e_s",
						json_real_or_null(slo->e2e_s)));
	json_object_set_new(g, "good", s->good >= 0 ? json_integer(s->good) : json_null());
	json_object_set_new(g, "share", json_real_or_null(s->good_share));
	json_object_set_new(g, "per_s", json_real_or_null(s->good_per_s));
	json_object_set_new(j, "goodput", g);
	json_object_set_new(e, "rule", json_string("concurrent"));
	json_object_set_new(e, "span_accel_j", json_real_or_null(s->span_accel_j));
	json_object_set_new(e, "attributed_accel_j", json_real_or_null(s->attributed_accel_j));
	json_object_set_new(e, "idle_accel_j", json_real_or_null(s->idle_accel_j));
	json_object_set_new(e, "idle_share", json_real_or_null(s->idle_share));
	json_object_set_new(e, "j_per_query", json_real_or_null(s->j_per_query));
	json_object_set_new(e, "j_per_output_token", json_real_or_null(s->j_per_token));
	json_object_set_new(e, "mean_power_w", json_real_or_null(s->mean_power_w));
	json_object_set_new(e, "conservation_rel", json_real_or_null(s->conservation_rel));
	json_object_set_new(e, "naive_accel_j", json_real_or_null(s->naive_accel_j));
	json_object_set_new(j, "energy", e);
	out = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return out;
}
