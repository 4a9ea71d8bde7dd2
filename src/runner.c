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
#include "lease.h"
#include "load.h"
#include "measure.h"
#include "profile_opts.h"
#include "score.h"
#include "serve.h"
#include "stats.h"
#include "store.h"
#include "telemetry.h"
#include "telemetry/cputime.h"
#include "util.h"
#include "writer.h"

#define WARMUP_MAX_TOKENS 512 /* output tokens of a warm-up request at most */
#define MAX_PENDING 64

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

/* A finished query whose energy waits for telemetry to cover its end. */
struct pending {
	struct query_record q;
	int64_t t0, t1;
	int resend;                  /* the item's recorded query is superseded by this one (resume) */
};

/* Running sums for progress and the closing summary. */
struct tally {
	long long ok, failed, total, skipped, completion_tokens;
	double sum_accel, sum_host, sum_e2e, sum_ttft;
	long long n_accel, n_host, n_e2e, n_ttft;
	int64_t t0_ns;
};

struct run {
	struct runner_opts opts;     /* a copy: resume and discovery fill it in */
	const struct runner_opts *o; /* &opts */
	const struct runner_hooks *h;
	struct runner_report *rep;
	struct measure m;            /* telemetry, the time origin, idle_w before the first query */
	int m_ok;
	struct client *cl;
	struct store store;
	struct store *st;             /* &store once open */
	struct dataset ds;
	struct run_record rec;
	double *idle_after_w;
	char model[128];
	char engine[32];
	char *api;
	struct opt_keep restored;    /* strings restored from a resumed run's configuration */
	struct serve srv;            /* --serve: the server child */
	double dev_idle_accel_w;     /* --serve: accelerator idle power before it started */
	char **done_ids;             /* resume: item ids already stored, sorted */
	size_t ndone;
	char **resend_ids;           /* resume: those whose last attempt failed in transport, sorted */
	size_t nresend;
	int was_completed;           /* resume: the run was completed (resumable only to send those again) */
	struct lease lease;          /* this process sends the run's items (docs/store.md "Leases") */
	struct pending *pend;        /* finished queries not yet committed */
	int npend;
	struct tally acc;
	int64_t t_first_send, t_last_end;
	int unreachable;             /* items in a row whose final attempt could not reach the server */
	int answered;                /* items the server answered (any HTTP status but a transport failure) */
	int halted;                  /* the run stopped itself (halt_why): ends interrupted, resumable */
	int answered_model;          /* a response has said which model answered */
	char *extra_body;            /* --extra-body with --ignore-eos merged in, or NULL (owned) */
	int model_switched;          /* a later response named another (said once) */
	char halt_why[IPW_ERRLEN];
};

static int stopped(const struct run *r)
{
	return r->halted || (r->o->stop && *r->o->stop);
}

/* Items in a row that may fail to reach the server before the run stops itself. */
#define HALT_UNREACHABLE 3

/*
 * Whether the query that just ended stops the run before it is stored (so a
 * resume sends it again): the HALT_UNREACHABLE-th item in a row that could
 * not reach the server (refused, reset, timed out), or a 404 for the very
 * first item (the server does not serve the model). Says why.
 */
static int halts_run(struct run *r, const struct query_record *q)
{
	const char *k = q->error_kind ? q->error_kind : "";
	int transport = !strcmp(k, "connect") || !strcmp(k, "reset") || !strcmp(k, "timeout");

	r->unreachable = transport ? r->unreachable + 1 : 0;
	if (!transport && !r->answered++ && q->http_status == 404) {
		snprintf(r->halt_why, sizeof(r->halt_why), "the server answered 404 for the first item (%s): it "
			 "does not serve model '%s'? (see its model list; --model names another); stopped, "
			 "nothing recorded for it; --resume %s continues", q->error_message ? q->error_message : "-",
			 r->model, r->rec.id);
		return r->halted = 1;
	}
	if (r->unreachable >= HALT_UNREACHABLE) {
		snprintf(r->halt_why, sizeof(r->halt_why), "%d items in a row could not reach the server (last: "
			 "%s: %s); stopped, the last one not recorded; start the server again and --resume %s "
			 "(it sends again every item whose last attempt failed to reach the server)", r->unreachable, k,
			 q->error_message ? q->error_message : "-", r->rec.id);
		return r->halted = 1;
	}
	return 0;
}

static int flush_samples(struct run *r, char *err, size_t errlen)
{
	return measure_flush(&r->m, r->st, r->rec.id, err, errlen);
}

static char *hardware_json(struct run *r)
{
	json_t *hw = json_object(), *arr = json_array();
	char host[256] = "";
	char *out;
	gethostname(host, sizeof(host) - 1);
	json_object_set_new(hw, "hostname", json_string(host));
	for (int s = 0; s < r->m.nsrcs; s++) {
		const struct source_info *si = telemetry_source(r->m.tel, s);
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
	for (int b = 0; b < telemetry_nbackends(r->m.tel); b++) {
		json_t *o = json_object();
		json_object_set_new(o, "name", json_string(telemetry_backend_name(r->m.tel, b)));
		json_object_set_new(o, "present", json_boolean(telemetry_backend_present(r->m.tel, b)));
		if (!telemetry_backend_present(r->m.tel, b))
			json_object_set_new(o, "reason", json_string(telemetry_backend_reason(r->m.tel, b)));
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
 * An estimated source (the built-in engine's CPU time x watts per core) has
 * no idle reading: an idle engine spends no CPU time, and the 1 pJ ticks that
 * keep its timeline covered are not power. Its idle baseline is therefore not
 * measured (NAN, and so is its dynamic energy), said once per baseline.
 * Returns the number of such sources.
 */
static int unmeasured_idle(struct run *r, double *out_w, const char *when)
{
	int n = 0;
	for (int s = 0; s < r->m.nsrcs; s++) {
		const struct source_info *si = telemetry_source(r->m.tel, s);
		if (strcmp(si->backend, CPUTIME_BACKEND))
			continue;
		out_w[s] = NAN;
		n++;
		say(r->h, RUNNER_INFO, "idle power of %s %s: not measured (its energy is an estimate from the "
		    "engine's CPU time, which an idle engine does not spend; dynamic energy is not computed for it)",
		    si->name, when);
	}
	return n;
}

/*
 * Measures each source's mean power over idle_s seconds with nothing in
 * flight. Warns when the accelerators' power moves a lot while idle (another
 * process is likely using the device).
 */
static void idle_baseline(struct run *r, double *out_w, const char *when)
{
	struct measure_idle mi;
	if (r->m.nsrcs && r->o->idle_s > 0)
		say(r->h, RUNNER_INFO, "measuring idle power %s the queries for %.1f s", when, r->o->idle_s);
	measure_idle(&r->m, r->o->idle_s, r->o->stop, out_w, &mi);
	if (!mi.measured)
		return;
	if (unmeasured_idle(r, out_w, when))
		mi.accel_w = measure_accel_sum(&r->m, out_w);
	if (!isnan(mi.accel_w))
		say(r->h, RUNNER_INFO, "idle accelerator power %s: %.1f W", when, mi.accel_w);
	if (measure_idle_unsteady(&mi))
		say(r->h, RUNNER_WARN,
		    "accelerator power varied from %.0f W to %.0f W while idle %s: another process may be "
		    "using the device; its energy will be counted in this run's queries", mi.lo_w, mi.hi_w, when);
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

/*
 * Sequential attribution: the query's energy is its window's, send -> end
 * (docs/attribution.md). Dynamic energy subtracts the idle power over the same
 * duration. Sources not covered stay NAN.
 */
static void fill_energy(struct query_record *q, struct run *r, int64_t t0, int64_t t1)
{
	struct measure_req w = {t0, t1};
	struct measure_energy e;
	measure_clear_query_energy(q);
	if (!r->m.nsrcs || !t0 || !t1)
		return;
	measure_energy_init(&e);
	if (measure_req_energy(&r->m, &w, MEASURE_COVER_TIMEOUT_NS, &e) < 0)
		say(r->h, RUNNER_WARN, "telemetry did not cover the end of query %s within 3 s: "
		    "its energy is not measured", q->item_id);
	measure_energy_to_query(&r->m, &e, q);
	measure_energy_release(&e);
}

/*
 * The model a response says it came from: the first one is the run's
 * server_model; a different one later is a model switch mid-run, said once
 * and recorded in the run's server_model ("A, then B from item X") so that
 * show and export carry it. Each query's own reported model is in its
 * extra_json ("model").
 */
static void note_model(struct run *r, struct query_record *q, const char *model)
{
	const char *first = r->rec.server_model ? r->rec.server_model : r->model;
	char *was;

	if (!model[0] || r->model_switched)
		return;
	if (!r->rec.server_model && !r->answered_model) {
		r->answered_model = 1;
		if (strcmp(model, r->model))
			r->rec.server_model = xstrdup(model);
		return;
	}
	r->answered_model = 1;
	if (!strcmp(model, first))
		return;
	r->model_switched = 1;
	say(r->h, RUNNER_WARN, "the server's model changed mid-run: '%s', then '%s' from item %s (recorded in "
	    "the run's server model; compare the answers before and after with care)", first, model, q->item_id);
	was = r->rec.server_model;
	r->rec.server_model = xasprintf("%s, then %s from item %s", first, model, q->item_id);
	free(was);
}

/* Fills q from the final attempt res. */
static void fill_final(struct run *r, struct query_record *q, const struct chat_result *res)
{
	measure_query_result(&r->m, q, res);
	note_model(r, q, res->model);
}

/* Fills the item part of q (seq, ids, prompt owned by q). */
static void fill_item(struct query_record *q, const struct item *it, long long seq, char *prompt)
{
	memset(q, 0, sizeof(*q));
	q->cpu_s = q->logprob_sum = NAN;
	q->logprob_tokens = -1;
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
	req.extra_body = r->extra_body;
	req.timeout_s = r->o->timeout_s;
	for (int n = 1;; n++) {
		chat_result_init(&res);
		interrupted = attempt(r, &req, &res);
		if (interrupted) {
			chat_result_release(&res);
			break;
		}
		measure_query_attempt(&r->m, q, &res);
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
 * Stores a query that has just ended, before the next request is sent: every
 * field but its energy, which stays NULL (not measured) until commit_pending
 * sets it. Scored at once. Returns 0, or -1 when the store fails.
 */
static int store_ended(struct run *r, struct pending *p, char *err, size_t errlen)
{
	measure_clear_query_energy(&p->q);
	if ((p->resend ? store_query_resend(r->st, r->rec.id, &p->q, err, errlen)
		       : store_query_insert(r->st, r->rec.id, &p->q, err, errlen)) < 0 ||
	    score_query(r->st, r->rec.id, &p->q, &r->ds.items[p->q.seq], err, errlen) < 0)
		return -1;
	return 0;
}

/* Whether the work queue takes finished queries in batches (runner_queue.keep). */
static int queue_keeps(const struct run *r)
{
	return r->o->queue && r->o->queue->keep && r->o->queue->flush;
}

/* The run's samples so far, then what the queue keeps, committed by the queue. */
static int queue_flush(struct run *r, char *err, size_t errlen)
{
	if (flush_samples(r, err, errlen) < 0)
		return -1;
	return r->o->queue->flush(r->o->queue->arg, r->st, r->rec.id, err, errlen);
}

/* Hands q over to the queue (q is left empty); flushes when the queue asks. */
static int queue_keep(struct run *r, struct query_record *q, char *err, size_t errlen)
{
	int rc = r->o->queue->keep(r->o->queue->arg, q, &r->ds.items[q->seq], err, errlen);
	return rc == 1 ? queue_flush(r, err, errlen) : rc;
}

/*
 * Attributes energy to the pending (already stored) queries in order and sets
 * it on each in its own transaction, with the samples gathered so far.
 * Without force it stops at the first query whose end telemetry does not
 * cover yet; with force it waits (at most MEASURE_COVER_TIMEOUT_NS each).
 * Returns 0, or -1 when the store fails.
 */
static int commit_pending(struct run *r, int force, char *err, size_t errlen)
{
	struct pending *pend = r->pend;
	int *npend = &r->npend;
	struct tally *a = &r->acc;
	int done = 0, rc = 0;
	for (; done < *npend; done++) {
		struct pending *p = &pend[done];
		struct runner_progress pr;
		if (!force && r->m.nsrcs && p->t1 && measure_wait(&r->m, p->t1, 0) < 0)
			break;
		fill_energy(&p->q, r, p->t0, p->t1);
		if (!queue_keeps(r) && ((r->m.nsrcs && store_query_energy_set(r->st, r->rec.id, &p->q, err,
									errlen) < 0) ||
					flush_samples(r, err, errlen) < 0)) {
			rc = -1; /* the store is broken: stop; what was committed stays */
			break;
		}
		tally_add(a, &p->q);
		if (r->h && r->h->query_done)
			r->h->query_done(r->h->arg, &p->q);
		if (queue_keeps(r) && queue_keep(r, &p->q, err, errlen) < 0) {
			query_record_release(&p->q);
			done++;
			rc = -1;
			break;
		}
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
	char *builtin_url = NULL;
	struct discovered d;
	memset(&d, 0, sizeof(d));
	if (!url && o->api && !strcmp(o->api, "builtin")) /* in process: the URL names the file */
		url = builtin_url = xasprintf("builtin://%s", o->model ? o->model : "");
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
	free(builtin_url);
	return rc;
}

static int setup_telemetry(struct run *r, const struct runner_opts *o, char *err, size_t errlen)
{
	struct measure_opts mo;
	char warn[IPW_ERRLEN];
	measure_opts_init(&mo);
	mo.interval_ms = o->interval_ms;
	mo.fake_profile = o->fake_profile;
	mo.fake_trace = o->fake_trace;
	mo.backends = o->backends;
	mo.devices = o->devices;
	mo.host = o->host;
	mo.cpu_watts_per_core = o->cpu_watts_per_core;
	if (measure_open(&r->m, &mo, err, errlen) < 0)
		return -1;
	r->m_ok = 1;
	for (int b = 0; b < telemetry_nbackends(r->m.tel); b++)
		if (!telemetry_backend_present(r->m.tel, b) && strcmp(telemetry_backend_name(r->m.tel, b), "fake") &&
		    strncmp(telemetry_backend_reason(r->m.tel, b), "not requested", 13))
			say(r->h, RUNNER_INFO, "telemetry %s: absent (%s)", telemetry_backend_name(r->m.tel, b),
			    telemetry_backend_reason(r->m.tel, b));
	for (int s = 0; s < r->m.nsrcs; s++) {
		const struct source_info *si = telemetry_source(r->m.tel, s);
		say(r->h, RUNNER_INFO, "measuring %s (%s, %s%s%s)", si->name, si->model,
		    source_scope_name(si->scope), si->notes[0] ? "; " : "", si->notes);
	}
	telemetry_last_error(r->m.tel, warn, sizeof(warn));
	if (warn[0])
		say(r->h, RUNNER_WARN, "%s", warn);
	if (!measure_naccel(&r->m))
		say(r->h, RUNNER_WARN, "no accelerator energy source was found: every query's accelerator "
		    "energy will be recorded as not measured (ipw devices says why)");
	r->idle_after_w = xcalloc((size_t)(r->m.nsrcs + 1), sizeof(double));
	return measure_start(&r->m, NULL, NULL, err, errlen);
}

static void fill_sources(struct run *r)
{
	struct run_record old = {.sources = r->rec.sources, .nsources = r->rec.nsources};
	run_record_release(&old);  /* a resumed run arrives with its stored sources: replace them */
	r->rec.nsources = r->m.nsrcs;
	r->rec.sources = xcalloc((size_t)(r->m.nsrcs + 1), sizeof(*r->rec.sources));
	for (int s = 0; s < r->m.nsrcs; s++) {
		const struct source_info *si = telemetry_source(r->m.tel, s);
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
		rs->idle_before_w = r->m.idle_w[s];
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
		req.extra_body = r->extra_body;
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

/* The load options of a run. 0, or -1 (err: a bad --slo). */
static int load_setup(const struct runner_opts *o, struct load_opts *lo, struct load_slo *slo, char *err,
		      size_t errlen)
{
	load_opts_init(lo);
	lo->concurrency = o->concurrency > 0 ? o->concurrency : 1;
	lo->rate = o->rate;
	lo->burstiness = o->burstiness > 0 ? o->burstiness : 1;
	lo->max_concurrency = o->max_concurrency;
	lo->duration_s = o->duration_s;
	lo->count = o->count;
	lo->seed = o->shuffle_seed;
	load_slo_init(slo);
	return o->slo ? load_slo_parse(slo, o->slo, err, errlen) : 0;
}

static int cmp_str(const void *a, const void *b);
static int is_load(const struct runner_opts *o);

/*
 * A load run's warm-up also opens the connections its load will use: as many
 * requests at once as it keeps in flight (closed loop: --concurrency; open
 * loop: --max-concurrency, none without it), each answering one token, not
 * recorded, before the idle baseline. So no measured TTFT holds a TCP
 * connection's set-up (the steady state of a long-running client, as
 * bench/client_bench measures); without it the first wave's TTFT held tens of
 * milliseconds of connecting (1 s at 1,000 streams: the server's listen
 * backlog overflowed). --warmup 0 skips it with the rest of the warm-up.
 */
static void warm_pool(struct run *r)
{
	struct load_opts lo;
	struct load_slo slo;
	struct chat_request req;
	struct load_req **reqs = NULL;
	size_t n = 0, failed = 0;
	char *prompt, err[IPW_ERRLEN];
	int pool;

	if (load_setup(r->o, &lo, &slo, err, sizeof(err)) < 0 || !r->ds.n || (r->o->stop && *r->o->stop))
		return;
	pool = lo.rate > 0 ? lo.max_concurrency : lo.concurrency;
	if (pool <= 1)
		return;
	load_opts_init(&lo);
	lo.concurrency = pool;
	lo.count = pool;
	prompt = item_prompt(&r->ds.items[0]);
	memset(&req, 0, sizeof(req));
	req.model = r->model;
	req.s = r->o->s;
	req.s.max_tokens = 1;
	req.extra_body = r->extra_body;
	req.timeout_s = r->o->timeout_s;
	if (load_drive(r->cl, &lo, &req, &prompt, 1, r->o->stop, &reqs, &n, err, sizeof(err)) < 0) {
		say(r->h, RUNNER_WARN, "warm-up of %d connections failed: %s", pool, err);
	} else {
		for (size_t i = 0; i < n; i++)
			failed += reqs[i]->res.err != 0;
		if (failed)
			say(r->h, RUNNER_WARN, "warm-up: %zu of %zu requests opening the load's connections failed",
			    failed, n);
		else
			say(r->h, RUNNER_INFO, "warm-up: %d connections opened (one-token requests, not recorded)", pool);
	}
	load_reqs_free(reqs, n);
	free(prompt);
}

/*
 * The load's side of the store while requests are in flight: the writer
 * thread owns r->st from writer_start to writer_finish (nothing else uses the
 * connection then: the lease heartbeat has its own, samples are flushed by
 * the writer after each batch, nothing else touches the store until the load
 * ends). recs[n] is request n's record, made on the loop thread as it ends.
 */
struct load_sink {
	struct run *r;
	struct writer *w;
	char **prompts;
	struct query_record **recs;  /* by send order; NULL until the request ended */
	size_t cap;
	long long total;             /* requests planned (0: by duration, not known) */
};

/*
 * The record of a request that has just ended (one attempt: no retries under
 * load), with its energy not measured yet (NULL in the store until the load's
 * attribution sets it). Constant work apart from copying the answer.
 */
static struct query_record *load_record(struct run *r, const struct load_req *lr, char **prompts)
{
	struct query_record *q = xcalloc(1, sizeof(*q));
	const struct chat_result *res = &lr->res;
	const struct item *it = &r->ds.items[lr->item];
	fill_item(q, it, lr->k, xstrdup(prompts[lr->item]));
	if (lr->rep > 0) {
		/* items cycle: the store keeps one row per (run, item id) */
		free(q->item_id);
		q->item_id = xasprintf("%s#%lld", it->id, lr->rep);
	}
	fill_final(r, q, res);
	measure_query_attempt(&r->m, q, res);
	measure_clear_query_energy(q);
	if (res->t_send_ns && (!r->t_first_send || res->t_send_ns < r->t_first_send))
		r->t_first_send = res->t_send_ns;
	if (res->t_end_ns > r->t_last_end)
		r->t_last_end = res->t_end_ns;
	return q;
}

/* load_drive's on_end hook (the loop thread): the ended request's record goes to the writer. */
static int load_on_end(void *arg, struct load_req *lr)
{
	struct load_sink *k = arg;
	struct query_record *q;
	if ((size_t)lr->n >= k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 1024;
		while (cap <= (size_t)lr->n)
			cap *= 2;
		k->recs = xrealloc(k->recs, cap * sizeof(*k->recs));
		memset(k->recs + k->cap, 0, (cap - k->cap) * sizeof(*k->recs));
		k->cap = cap;
	}
	q = k->recs[lr->n] = load_record(k->r, lr, k->prompts);
	/* a full queue makes this wait (counted); a failed writer stops the load */
	return writer_put(k->w, q, &k->r->ds.items[lr->item]) < 0;
}

/* The writer's hook after each batch (its thread): the samples so far, and the progress. */
static int load_after_batch(void *arg, struct store *st, char *err, size_t errlen)
{
	struct load_sink *k = arg;
	struct run *r = k->r;
	struct runner_progress pr;
	if (measure_flush(&r->m, st, r->rec.id, err, errlen) < 0)
		return -1;
	if (!r->h || !r->h->progress)
		return 0;
	memset(&pr, 0, sizeof(pr));
	pr.done = writer_stored(k->w);
	pr.total = k->total;
	pr.elapsed_s = (double)(clock_now_ns() - r->acc.t0_ns) / 1e9;
	pr.mean_accel_j = NAN;   /* attributed when the load has ended */
	pr.rate_qps = pr.elapsed_s > 0 ? (double)pr.done / pr.elapsed_s : NAN;
	r->h->progress(r->h->arg, &pr);
	return 0;
}

/* Attributes the load's energy by the concurrent rule (warnings only: the queries are kept). */
static void load_attribute(struct run *r, struct load_req **reqs, struct query_record *qs, size_t n,
			   struct load_summary *sum)
{
	int64_t t0 = r->t_first_send, t1 = r->t_last_end;
	char e2[IPW_ERRLEN];
	if (!r->m.nsrcs || !t0 || t1 <= t0)
		return;
	if (measure_wait(&r->m, t1, MEASURE_COVER_TIMEOUT_NS) < 0)
		say(r->h, RUNNER_WARN, "telemetry did not cover the end of the load within 3 s");
	if (load_energy(r->m.tel, r->m.idle_w, reqs, qs, n, t0, t1, 10 * NS_PER_MS, sum, e2, sizeof(e2)) < 0)
		say(r->h, RUNNER_WARN, "accelerator energy of the load is not measured: %s", e2);
}

/*
 * Sets the attributed energy of the load's stored queries in one transaction
 * (all or none: a run killed before it keeps every query with its energy
 * not measured), then counts and reports them. 0, or -1 (err).
 */
static int load_commit_energy(struct run *r, struct query_record *qs, size_t n, char *err, size_t errlen)
{
	const struct query_record **set = xcalloc(n + 1, sizeof(*set));
	size_t nset = 0;
	int rc = 0;
	for (size_t i = 0; i < n; i++)
		if (qs[i].nenergy > 0)
			set[nset++] = &qs[i];
	if (nset && store_query_energy_set_batch(r->st, r->rec.id, set, nset, err, errlen) < 0)
		rc = -1;
	free(set);
	if (rc < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		tally_add(&r->acc, &qs[i]);
		if (r->h && r->h->query_done)
			r->h->query_done(r->h->arg, &qs[i]);
	}
	return flush_samples(r, err, errlen);
}

/* The summary with what the writer did merged in as "writer" (takes summary). */
static char *with_writer(char *summary, const struct writer_stats *ws, int depth)
{
	json_t *j = summary ? json_loads(summary, 0, NULL) : NULL;
	char *out;
	if (!j)
		return summary;
	json_object_set_new(j, "writer", json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:f}", "queue_depth", depth,
						   "batch_max", WRITER_BATCH_DEFAULT, "stored", (json_int_t)ws->stored,
						   "batches", (json_int_t)ws->batches, "largest_batch",
						   (json_int_t)ws->max_batch, "full_queue_waits", (json_int_t)ws->stalls,
						   "full_queue_wait_s", ws->stall_s));
	out = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	free(summary);
	return out;
}

/*
 * --resume of a load run: the request numbers whose query is not stored, in
 * order (*plan, *nplan; caller frees). The load must have been bounded by
 * count alone (--requests, or one per item; no --duration). 0, or -1 (err).
 */
static int load_resume_plan(struct run *r, long long **plan, size_t *nplan, char *err, size_t errlen)
{
	long long total = r->o->count > 0 ? r->o->count : (long long)r->ds.n;
	*plan = NULL;
	*nplan = 0;
	*plan = xcalloc((size_t)total + 1, sizeof(**plan));
	for (long long k = 0; k < total; k++) {
		const struct item *it = &r->ds.items[k % (long long)r->ds.n];
		long long rep = k / (long long)r->ds.n;
		char *id = rep ? xasprintf("%s#%lld", it->id, rep) : xstrdup(it->id);
		if (!r->ndone || !bsearch(&id, r->done_ids, r->ndone, sizeof(char *), cmp_str))
			(*plan)[(*nplan)++] = k;
		free(id);
	}
	if (!*nplan) {
		free(*plan);
		*plan = NULL;
		return err_set(err, errlen, "load run %s (%s) has a stored query for each of its %lld requests: "
			       "nothing to resume", r->rec.id, r->rec.name, total);
	}
	say(r->h, RUNNER_INFO, "%zu of the load's %lld requests have no stored query: sending those", *nplan, total);
	return 0;
}

/*
 * Sends the items under the configured load (closed or open loop). Each
 * query is handed to the writer thread as its request ends and stored
 * (scored) within a bounded delay, its energy not measured yet; when the load
 * has ended, energy is attributed by the concurrent rule over the whole span
 * (overlapping requests share slices, so no query's energy is final before
 * the last one ends) and set on every query at once. docs/load.md
 * "Durability bound under load".
 */
static int run_load(struct run *r, char *err, size_t errlen)
{
	const struct runner_opts *o = r->o;
	struct load_opts lo;
	struct load_slo slo;
	struct load_summary sum;
	struct chat_request req;
	struct load_req **reqs = NULL;
	struct query_record *qs = NULL;
	struct load_sink sink;
	struct writer_hooks wh;
	struct writer_stats ws;
	long long *plan = NULL;
	char **prompts = xcalloc(r->ds.n + 1, sizeof(char *));
	size_t n = 0, nplan = 0;
	int rc = -1, drove, depth = o->writer_queue > 0 ? o->writer_queue : WRITER_DEPTH_DEFAULT;
	char e2[IPW_ERRLEN];

	load_summary_init(&sum);
	memset(&sink, 0, sizeof(sink));
	if (load_setup(o, &lo, &slo, err, errlen) < 0)
		goto out;
	if (o->resume && load_resume_plan(r, &plan, &nplan, err, errlen) < 0)
		goto out;
	lo.plan = plan;
	lo.nplan = nplan;
	for (size_t i = 0; i < r->ds.n; i++)
		prompts[i] = item_prompt(&r->ds.items[i]);
	memset(&req, 0, sizeof(req));
	req.model = r->model;
	req.s = o->s;
	req.extra_body = r->extra_body;
	req.timeout_s = o->timeout_s;
	sink.r = r;
	sink.prompts = prompts;
	sink.total = plan ? (long long)nplan : o->count > 0 ? o->count : o->duration_s > 0 ? 0 : (long long)r->ds.n;
	memset(&wh, 0, sizeof(wh));
	wh.after_batch = load_after_batch;
	wh.arg = &sink;
	if (writer_start(&sink.w, r->st, r->rec.id, depth, WRITER_BATCH_DEFAULT, &wh, err, errlen) < 0)
		goto out;
	lo.on_end = load_on_end;
	lo.on_end_arg = &sink;
	if (lo.rate > 0)
		say(r->h, RUNNER_INFO, "open loop: %.3g requests/s (burstiness %.3g)%s", lo.rate, lo.burstiness,
		    lo.max_concurrency > 0 ? ", capped" : "");
	else
		say(r->h, RUNNER_INFO, "closed loop: %d requests in flight", lo.concurrency);
	drove = load_drive(r->cl, &lo, &req, prompts, r->ds.n, o->stop, &reqs, &n, err, errlen);
	/* the writer stores what is still queued; then the store is this thread's again */
	if (writer_finish(sink.w, &ws, drove < 0 ? e2 : err, drove < 0 ? sizeof(e2) : errlen) < 0 || drove < 0)
		goto out;
	say(r->h, RUNNER_INFO, "load finished: %zu requests sent, %lld stored as they ended in %lld transaction%s "
	    "(at most %lld at once); %lld wait%s for a full queue (%.3f s); attributing energy", n, ws.stored,
	    ws.batches, ws.batches == 1 ? "" : "s", ws.max_batch, ws.stalls, ws.stalls == 1 ? "" : "s", ws.stall_s);
	qs = xcalloc(n + 1, sizeof(*qs));
	for (size_t i = 0; i < n; i++) {
		/* every ended request has its record (load_drive waits for all); move it into the array */
		if (i >= sink.cap || !sink.recs[i]) {
			err_set(err, errlen, "internal: request %zu of the load ended without a record", i);
			goto out;
		}
		qs[i] = *sink.recs[i];
		free(sink.recs[i]);
		sink.recs[i] = NULL;
	}
	r->rep->total = r->acc.total = (long long)n;
	load_attribute(r, reqs, qs, n, &sum);
	load_summarize(reqs, qs, n, &slo, &sum);
	if (load_commit_energy(r, qs, n, err, errlen) < 0)
		goto out;
	free(r->rec.summary_json);
	r->rec.summary_json = with_writer(load_summary_json(&sum, &lo, &slo), &ws, depth);
	rc = 0;
out:
	for (size_t i = 0; i < n && qs; i++)
		query_record_release(&qs[i]);
	free(qs);
	for (size_t i = 0; i < sink.cap; i++)
		if (sink.recs[i]) {
			query_record_release(sink.recs[i]);
			free(sink.recs[i]);
		}
	free(sink.recs);
	free(plan);
	if (reqs)
		load_reqs_free(reqs, n);
	for (size_t i = 0; i < r->ds.n; i++)
		free(prompts[i]);
	free(prompts);
	return rc;
}

/* The log file of a --serve server: --serve-log, else beside the store (caller frees). */
static char *serve_log_path(const struct runner_opts *o)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	if (o->serve_log)
		return xstrdup(o->serve_log);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
	return xasprintf("%s.serve-%s-%d.log", o->store ? o->store : "ipw", when, (int)getpid());
}

/*
 * --serve: with telemetry running, measures the device idle before the
 * server exists, starts it (port checked free first) and waits for health.
 */
static int start_server(struct run *r, struct runner_opts *o, char *err, size_t errlen)
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
	w = xcalloc((size_t)r->m.nsrcs + 1, sizeof(double));
	idle_baseline(r, w, "before the server starts");
	r->dev_idle_accel_w = measure_accel_sum(&r->m, w);
	r->rep->device_idle_w = r->dev_idle_accel_w;
	free(w);
	log = serve_log_path(o);
	if (serve_start(&r->srv, o->serve, log, err, errlen) < 0)
		goto out;
	snprintf(r->rep->server_log, sizeof(r->rep->server_log), "%s", log);
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

/* ---- the phases of a run ---- */

static void run_init(struct run *r, const struct runner_opts *opts, const struct runner_hooks *h,
		     struct runner_report *rep)
{
	memset(r, 0, sizeof(*r));
	memset(rep, 0, sizeof(*rep));
	rep->accel_j = rep->host_j = rep->span_accel_j = rep->idle_accel_w = NAN;
	r->opts = *opts;
	r->o = &r->opts;
	r->h = h;
	r->rep = rep;
	r->pend = xcalloc(MAX_PENDING, sizeof(*r->pend));
	r->dev_idle_accel_w = NAN;
	lease_init(&r->lease);
}

/* Takes the run's lease (a second sender is refused; a stale lease is taken over, said on stderr). */
static int take_lease(struct run *r, char *err, size_t errlen)
{
	char note[IPW_ERRLEN];
	if (lease_take(&r->lease, r->st, r->o->store, r->rec.id, note, sizeof(note), err, errlen) < 0)
		return -1;
	if (note[0])
		say(r->h, RUNNER_WARN, "%s", note);
	return 0;
}

/* Opens the store; for --resume, reads the run and restores the options it was started with. */
static int open_store(struct run *r, char *err, size_t errlen)
{
	const char *from_record;
	if (store_open(&r->store, r->o->store, STORE_CREATE, err, errlen) < 0)
		return -1;
	r->st = &r->store;
	if (!r->o->resume)
		return 0;
	if (store_run_get(r->st, r->o->resume, &r->rec, err, errlen) < 0 || take_lease(r, err, errlen) < 0)
		return -1;
	r->was_completed = !strcmp(r->rec.status, "completed");
	if (profile_config_restore(&r->opts, r->rec.config_json, &r->restored, &from_record, err, errlen) < 0)
		return -1;
	say(r->h, RUNNER_INFO, "resuming run %s (%s) with the options it was started with, from the record: %s",
	    r->rec.id, r->rec.name, from_record);
	return 0;
}

/* Loads the items; for --resume, checks the dataset is unchanged and reads the items already done. */
static int load_items(struct run *r, char *err, size_t errlen)
{
	const struct runner_opts *o = r->o;
	if (dataset_load_format(&r->ds, o->dataset, o->resume ? r->rec.dataset_format : o->dataset_format, err,
				errlen) < 0)
		return -1;
	if (r->ds.max_tokens > 0) {
		/* the random dataset fixes every output's length (docs/datasets.md) */
		r->opts.s.max_tokens = (int)r->ds.max_tokens;
		r->opts.ignore_eos = r->opts.ignore_eos || r->ds.ignore_eos;
		say(r->h, RUNNER_INFO, "dataset %s: every request asks for %lld output tokens (max_tokens=%lld%s); "
		    "its items are ungraded (no reference answers)", r->ds.path, r->ds.max_tokens, r->ds.max_tokens,
		    r->opts.ignore_eos ? ", ignore_eos" : "");
	}
	if (o->shuffle)
		dataset_shuffle(&r->ds, o->shuffle_seed);
	if (o->limit > 0)
		dataset_limit(&r->ds, (size_t)o->limit);
	if (!o->resume)
		return 0;
	if (strcmp(r->ds.sha256, r->rec.dataset_sha256))
		return err_set(err, errlen, "the dataset %s has changed since run %s was started (sha256 %.12s... "
			       "then, %.12s... now): resuming would mix items", r->ds.path, r->rec.id,
			       r->rec.dataset_sha256, r->ds.sha256);
	if (store_items_done(r->st, r->rec.id, &r->done_ids, &r->ndone, err, errlen) < 0 ||
	    store_items_to_resend(r->st, r->rec.id, &r->resend_ids, &r->nresend, err, errlen) < 0)
		return -1;
	qsort(r->done_ids, r->ndone, sizeof(char *), cmp_str);
	if (profile_is_load(o)) {
		/* a load run sends again only the requests with no stored query (run_load); none is retried */
		if (r->was_completed)
			return err_set(err, errlen, "run %s (%s) is a completed load run: nothing to resume", r->rec.id,
				       r->rec.name);
		if (o->duration_s > 0)
			return err_set(err, errlen, "run %s was a --duration load: what it would have sent depends on "
				       "the time it ran, so it has no fixed list of requests to complete; start a new "
				       "run", r->rec.id);
		return 0;
	}
	if (r->was_completed && !r->nresend)
		return err_set(err, errlen, "run %s (%s) is already complete and no item's last attempt failed to "
			       "reach the server: nothing to resume", r->rec.id, r->rec.name);
	if (r->nresend)
		say(r->h, RUNNER_INFO, "%zu item%s whose last attempt failed to reach the server (refused, reset, "
		    "timed out, HTTP 429 or 5xx) %s sent again; the failed quer%s kept as superseded "
		    "(docs/store.md)", r->nresend, r->nresend == 1 ? "" : "s", r->nresend == 1 ? "is" : "are",
		    r->nresend == 1 ? "y is" : "ies are");
	return 0;
}

/* The record of a new run (a resumed run keeps the one it has). */
static void new_record(struct run *r)
{
	const struct runner_opts *o = r->o;
	r->rec.name = o->name ? xstrdup(o->name) : default_name(r->model);
	r->rec.status = xstrdup("running");
	r->rec.model = xstrdup(r->model);
	r->rec.api = xstrdup(r->api);
	r->rec.url = xstrdup(client_url(r->cl));
	if (!r->engine[0] && !strcmp(r->api, "builtin"))
		snprintf(r->engine, sizeof(r->engine), "ipw %s (built-in engine)", IPW_VERSION);
	r->rec.engine = xstrdup(r->engine[0] ? r->engine : "unknown");
	r->rec.config_json = profile_config_json(o, client_url(r->cl), r->api, r->model);
	r->rec.dataset_path = xstrdup(r->ds.path);
	r->rec.dataset_sha256 = xstrdup(r->ds.sha256);
	r->rec.dataset_format = xstrdup(r->ds.format);
	r->rec.n_items = (long long)r->ds.n;
	r->rec.version = xstrdup(IPW_VERSION);
	r->rec.started_at = clock_wall_s();
	r->rec.ended_at = NAN;
	r->rec.idle_seconds = o->idle_s;
	r->rec.group_name = dupnull(o->group);
	r->rec.server_log = r->rep->server_log[0] ? xstrdup(r->rep->server_log) : NULL;
}

/* Starts the server (--serve), connects, starts telemetry and sets the run's time origin. */
/* The extra body every request carries: --extra-body, plus "ignore_eos": true for --ignore-eos. */
static char *extra_body(const struct runner_opts *o)
{
	json_t *x = o->extra_body ? json_loads(o->extra_body, 0, NULL) : NULL;
	char *out;

	if (!x && !o->ignore_eos)
		return NULL;
	if (!json_is_object(x)) {
		json_decref(x);
		x = json_object();
	}
	if (o->ignore_eos)
		json_object_set_new(x, "ignore_eos", json_true());
	out = json_dumps(x, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(x);
	return out;
}

static int connect_all(struct run *r, char *err, size_t errlen)
{
	r->rep->device_idle_w = NAN;
	r->extra_body = extra_body(r->o);
	if (r->o->serve && start_server(r, &r->opts, err, errlen) < 0)
		return -1;
	if (connect_server(r, &r->opts, err, errlen) < 0)
		return -1;
	if (!r->m_ok && setup_telemetry(r, r->o, err, errlen) < 0)
		return -1;
	r->api = xstrdup(client_api(r->cl));
	r->m.t0_ns = clock_now_ns();
	if (!r->o->resume)
		new_record(r);
	free(r->rec.hardware_json);
	r->rec.hardware_json = hardware_json(r);
	return 0;
}

/* Warm-up, the idle baseline before, and the run recorded as running. */
static int begin_run(struct run *r, char *err, size_t errlen)
{
	warm_up(r);
	if (r->o->warmup > 0 && is_load(r->o))
		warm_pool(r);
	idle_baseline(r, r->m.idle_w, "before");
	fill_sources(r);
	if (!r->o->resume) {
		if (store_run_create(r->st, &r->rec, err, errlen) < 0 || take_lease(r, err, errlen) < 0)
			return -1;
	} else {
		free(r->rec.status);
		r->rec.status = xstrdup("running");
		if (store_run_update(r->st, &r->rec, err, errlen) < 0)
			return -1;
	}
	snprintf(r->rep->run_id, sizeof(r->rep->run_id), "%s", r->rec.id);
	r->rep->total = (long long)r->ds.n;
	r->rep->skipped = (long long)(r->ndone - r->nresend);
	r->acc.total = r->rep->total;
	r->acc.skipped = r->rep->skipped;
	r->acc.t0_ns = r->m.t0_ns;
	r->rep->idle_accel_w = measure_accel_sum(&r->m, r->m.idle_w);
	return flush_samples(r, err, errlen);
}

static int in_sorted(char **v, size_t n, const char *id)
{
	return n && bsearch(&id, v, n, sizeof(char *), cmp_str);
}

/* 1: recorded, skip it; 0: send it (*resend: its recorded query is to be superseded). */
static int already_done(const struct run *r, const char *id, int *resend)
{
	*resend = in_sorted(r->resend_ids, r->nresend, id);
	return !*resend && in_sorted(r->done_ids, r->ndone, id);
}

/* The paper's method: one query at a time, each stored before the next is sent. */
static int run_sequential(struct run *r, char *err, size_t errlen)
{
	for (long long seq = 0; seq < (long long)r->ds.n; seq++) {
		const struct item *it = &r->ds.items[seq];
		struct pending *pq;
		int resend;
		char why[IPW_ERRLEN / 2];
		if (!r->halted && lease_lost(&r->lease, why, sizeof(why))) {
			snprintf(r->halt_why, sizeof(r->halt_why), "another sender took over this run: %s; stopped "
				 "(what was recorded stays)", why);
			say(r->h, RUNNER_WARN, "%s", r->halt_why);
			r->halted = 1;
		}
		if (stopped(r))
			break;
		if (already_done(r, it->id, &resend))
			continue;
		if (r->npend == MAX_PENDING && commit_pending(r, 1, err, errlen) < 0)
			return -1;
		pq = &r->pend[r->npend];
		pq->resend = resend;
		if (run_item(r, it, seq, &pq->q, &pq->t0, &pq->t1)) {
			query_record_release(&pq->q);
			break; /* interrupted: not recorded, a resume runs it again */
		}
		if (halts_run(r, &pq->q)) {
			say(r->h, RUNNER_WARN, "%s", r->halt_why);
			query_record_release(&pq->q);
			break;
		}
		r->npend++;
		if (!r->t_first_send)
			r->t_first_send = r->acc.t0_ns = pq->t0; /* rate and ETA: the query phase, not the idle baseline */
		if (pq->t1)
			r->t_last_end = pq->t1;
		/*
		 * store it before the next request is sent, so kill -9 loses at most
		 * the query in flight (and the energy of those telemetry has not
		 * covered yet); the energy follows as soon as telemetry covers the
		 * query's end, without holding up the next request
		 */
		if (store_ended(r, pq, err, errlen) < 0) {
			r->npend--;
			query_record_release(&pq->q);
			return -1;
		}
		if (commit_pending(r, 0, err, errlen) < 0)
			return -1;
	}
	return commit_pending(r, 1, err, errlen);
}

/* ---- a work queue's items (ipw worker): an isolated hook, runner_opts.queue ---- */

static int cmp_seq_id(const void *a, const void *b, void *ds)
{
	const struct item *it = ((const struct dataset *)ds)->items;
	return strcmp(it[*(const size_t *)a].id, it[*(const size_t *)b].id);
}

/* The position of item id in ds (by[] sorts positions by id): its index, or -1. */
static long long queue_find(const struct dataset *ds, const size_t *by, const char *id)
{
	size_t lo = 0, hi = ds->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ds->items[by[mid]].id, id);
		if (!c)
			return (long long)by[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* Runs one item the queue gave and records it through the queue; 1 when the run is to stop. */
static int queue_item(struct run *r, long long seq, char *err, size_t errlen)
{
	const struct runner_queue *qu = r->o->queue;
	struct pending *pq;
	int rc;

	if (r->npend == MAX_PENDING && commit_pending(r, 1, err, errlen) < 0)
		return -1;
	pq = &r->pend[r->npend];
	if (run_item(r, &r->ds.items[seq], seq, &pq->q, &pq->t0, &pq->t1) || halts_run(r, &pq->q)) {
		if (r->halted)
			say(r->h, RUNNER_WARN, "%s", r->halt_why);
		query_record_release(&pq->q);
		return 1;
	}
	if (!r->t_first_send)
		r->t_first_send = r->acc.t0_ns = pq->t0;
	if (pq->t1)
		r->t_last_end = pq->t1;
	measure_clear_query_energy(&pq->q);
	if (queue_keeps(r)) {
		/* stored with its energy and score by the queue's flush (commit_pending hands it over) */
		r->npend++;
		return commit_pending(r, 0, err, errlen);
	}
	rc = qu->record(qu->arg, r->st, r->rec.id, &pq->q, err, errlen);
	if (rc == 0 && score_query(r->st, r->rec.id, &pq->q, &r->ds.items[seq], err, errlen) < 0)
		rc = -1;
	if (rc != 0) {
		query_record_release(&pq->q);
		return rc < 0 ? -1 : 0; /* 1: another worker owns it now: not ours to record */
	}
	r->npend++;
	return commit_pending(r, 0, err, errlen);
}

/* The queue's items, batch by batch, one query at a time as run_sequential. */
static int run_queue(struct run *r, char *err, size_t errlen)
{
	const struct runner_queue *qu = r->o->queue;
	size_t *by = xcalloc(r->ds.n + 1, sizeof(size_t));
	int rc = 0;

	for (size_t i = 0; i < r->ds.n; i++)
		by[i] = i;
	qsort_r(by, r->ds.n, sizeof(size_t), cmp_seq_id, &r->ds);
	while (rc == 0 && !stopped(r)) {
		char **ids = NULL;
		size_t n = 0;
		if (qu->next(qu->arg, &ids, &n, err, errlen) < 0)
			rc = -1;
		for (size_t i = 0; rc == 0 && i < n && !stopped(r); i++) {
			long long seq = queue_find(&r->ds, by, ids[i]);
			rc = seq < 0 ? err_set(err, errlen, "item '%s' of the queue is not in the dataset %s",
					       ids[i], r->ds.path)
				     : queue_item(r, seq, err, errlen);
		}
		free_list(ids);
		if (rc == 0 && !n)
			break;
		if (rc == 0)
			rc = commit_pending(r, 1, err, errlen);
		if (rc == 0 && queue_keeps(r))
			rc = queue_flush(r, err, errlen);
	}
	free(by);
	if (rc < 0)
		return -1;
	if (commit_pending(r, 1, err, errlen) < 0)
		return -1;
	return queue_keeps(r) ? queue_flush(r, err, errlen) : 0;
}

/* The closing summary's sums, and the accelerator energy over the whole query phase. */
static void report_totals(struct run *r)
{
	struct runner_report *rep = r->rep;
	const struct tally *a = &r->acc;
	rep->ok = a->ok;
	rep->failed = a->failed;
	rep->completion_tokens = a->completion_tokens;
	rep->accel_j = a->n_accel ? a->sum_accel : NAN;
	rep->host_j = a->n_host ? a->sum_host : NAN;
	rep->mean_e2e_s = a->n_e2e ? a->sum_e2e / (double)a->n_e2e : NAN;
	rep->mean_ttft_s = a->n_ttft ? a->sum_ttft / (double)a->n_ttft : NAN;
	if (r->t_first_send && r->t_last_end > r->t_first_send) {
		struct measure_req span = {r->t_first_send, r->t_last_end};
		struct measure_energy e;
		measure_energy_init(&e);
		measure_req_energy(&r->m, &span, MEASURE_COVER_TIMEOUT_NS, &e);
		rep->span_accel_j = e.accel_j;
		measure_energy_release(&e);
	}
}

static int is_load(const struct runner_opts *o)
{
	return o->load || o->concurrency > 1 || o->rate > 0 || o->duration_s > 0 || o->count > 0;
}

static int run_queries(struct run *r, char *err, size_t errlen)
{
	if (is_load(r->o) ? run_load(r, err, errlen) < 0
	    : r->o->queue ? run_queue(r, err, errlen) < 0 : run_sequential(r, err, errlen) < 0)
		return -1;
	report_totals(r);
	return 0;
}

/* The closing idle baseline (unless interrupted), the final status and the run's last update. */
static int end_run(struct run *r, char *err, size_t errlen)
{
	int interrupted;
	if (r->o->serve && !serve_alive(&r->srv)) {
		char how[64];
		serve_describe_exit(&r->srv, how, sizeof(how));
		return err_set(err, errlen, "the server started by --serve %s during the run (its log: %s); the "
			       "queries after that failed", how, r->srv.log_path);
	}
	interrupted = stopped(r);
	if (!interrupted) {
		idle_baseline(r, r->idle_after_w, "after");
		for (int s = 0; s < r->rec.nsources; s++)
			r->rec.sources[s].idle_after_w = r->idle_after_w[s];
	}
	free(r->rec.status);
	r->rec.status = xstrdup(interrupted ? "interrupted" : "completed");
	r->rec.ended_at = clock_wall_s();
	snprintf(r->rep->status, sizeof(r->rep->status), "%s", r->rec.status);
	r->rep->halted = r->halted;
	snprintf(r->rep->halt_why, sizeof(r->rep->halt_why), "%s", r->halt_why);
	r->rec.summary_json = with_serve(r, r->rec.summary_json, r->rep->idle_accel_w);
	if (flush_samples(r, err, errlen) < 0)
		return -1;
	/* a run another sender took over is its to update now */
	if (!lease_lost(&r->lease, NULL, 0) && store_run_update(r->st, &r->rec, err, errlen) < 0)
		return -1;
	if (r->rec.summary_json)
		r->rep->summary_json = xstrdup(r->rec.summary_json);
	r->rep->wall_s = (double)(clock_now_ns() - r->m.t0_ns) / 1e9;
	return 0;
}

/* Frees the run; a run that failed while running is left resumable ("interrupted"). */
static void run_release(struct run *r, int rc)
{
	free(r->extra_body);
	r->extra_body = NULL;
	/* only a run this process holds: a refused resume must not touch the holder's run */
	if (rc < 0 && r->lease.held && !lease_lost(&r->lease, NULL, 0) && r->st && r->rec.id && r->rec.status && !strcmp(r->rec.status, "running")) {
		/* leave the run resumable, with what stopped it in the log */
		char e2[IPW_ERRLEN];
		free(r->rec.status);
		r->rec.status = xstrdup("interrupted");
		r->rec.ended_at = clock_wall_s();
		store_run_update(r->st, &r->rec, e2, sizeof(e2));
	}
	if (r->srv.pid) {
		say(r->h, RUNNER_INFO, "stopping the server (pid %d)", (int)r->srv.pid);
		serve_stop(&r->srv, 30);
	}
	serve_release(&r->srv);
	if (r->m_ok)
		measure_close(&r->m);
	if (r->cl)
		client_free(r->cl);
	lease_drop(&r->lease, r->st);
	if (r->st)
		store_close(r->st);
	dataset_release(&r->ds);
	run_record_release(&r->rec);
	free(r->idle_after_w);
	free(r->api);
	for (int i = 0; i < r->npend; i++)
		query_record_release(&r->pend[i].q);
	free(r->pend);
	opt_keep_release(&r->restored);
	for (size_t i = 0; i < r->ndone; i++)
		free(r->done_ids[i]);
	free(r->done_ids);
	if (r->resend_ids)
		free_list(r->resend_ids);
}

int runner_run(const struct runner_opts *opts, const struct runner_hooks *h,
	       struct runner_report *rep, char *err, size_t errlen)
{
	struct run r;
	int rc = -1;
	run_init(&r, opts, h, rep);
	if (open_store(&r, err, errlen) < 0 || load_items(&r, err, errlen) < 0 ||
	    connect_all(&r, err, errlen) < 0 || begin_run(&r, err, errlen) < 0 ||
	    run_queries(&r, err, errlen) < 0 || end_run(&r, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	run_release(&r, rc);
	return rc;
}
