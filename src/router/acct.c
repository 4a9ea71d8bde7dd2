/*
 * router/acct.c - the router run in the store: one run per `ipw route serve`
 * (model "ipw-router", api "router"), one query row per routed request with
 * its tokens and latency; the decision, the tier, the prediction, the
 * estimated energy (marked so) and the cost are the row's extra_json (the
 * request's record, docs/router.md). The energy columns hold the measured
 * energy of the attempts at measured tiers (the router's telemetry and the
 * concurrent rule, router/meter.c); NAN when none was measured.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "record.h"
#include "router/server_internal.h"
#include "measure.h"
#include "store.h"
#include "telemetry.h"

struct router_acct {
	struct store st;
	struct run_record rec;
	long long seq;
	double t0_s;                /* monotonic seconds of the run's start */
	const struct router_config *c;
	int cloud_t, local_t;       /* the first cloud and local tier (-1: none): the counterfactuals */
	/* sums over requests: realised, all-cloud and all-local (same token counts) */
	double cost, cost_cloud, cost_local, energy, energy_cloud, energy_local;
	int energy_known, energy_cloud_known, energy_local_known;
	long long nlocal, ncloud, nfailed;
	unsigned long long tier_n[ROUTER_MAX_TIERS];
	double energy_meas, energy_est;     /* the realised energy's measured and estimated parts */
	long long ct_total;                 /* completion tokens of the answered requests */
	double tier_meas_j[ROUTER_MAX_TIERS]; /* measured J and completion tokens of ok attempts per tier */
	long long tier_meas_tok[ROUTER_MAX_TIERS];
	struct router_meter *meter;
};

/* A tier's J per completion token: measured in this run when it can be, else its estimate; *how says which. */
static double tier_jpt(const struct router_acct *a, int t, const char **how)
{
	if (a->c->tiers[t].measured && a->tier_meas_tok[t] > 0) {
		*how = "measured";
		return a->tier_meas_j[t] / (double)a->tier_meas_tok[t];
	}
	*how = isfinite(a->c->tiers[t].j_per_token) ? "estimated" : NULL;
	return a->c->tiers[t].j_per_token;
}

/* The run's summary (shown by ipw show): realised cost and energy against all-cloud and all-local. */
static char *summary(const struct router_acct *a)
{
	json_t *tiers = json_object(), *o;
	const char *hc = NULL, *hl = NULL;
	double jc = a->cloud_t >= 0 ? tier_jpt(a, a->cloud_t, &hc) : NAN;
	double jl = a->local_t >= 0 ? tier_jpt(a, a->local_t, &hl) : NAN;
	double ec = jc * (double)a->ct_total, el = jl * (double)a->ct_total;
	int kc = hc != NULL, kl = hl != NULL;
	char *text;
	for (int i = 0; i < a->c->ntiers; i++)
		json_object_set_new(tiers, a->c->tiers[i].name, json_integer((json_int_t)a->tier_n[i]));
#define OPTN(ok, v) ((ok) ? json_real(v) : json_null())
	o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s?,s:s?,s:s}",
		      "kind", "router", "requests", (json_int_t)a->seq, "local", (json_int_t)a->nlocal, "cloud",
		      (json_int_t)a->ncloud, "failed", (json_int_t)a->nfailed, "per_tier", tiers,
		      "cost_usd", json_real(a->cost),
		      "all_cloud_cost_usd", OPTN(a->cloud_t >= 0, a->cost_cloud),
		      "all_local_cost_usd", OPTN(a->local_t >= 0, a->cost_local),
		      "saved_cost_vs_all_cloud", OPTN(a->cloud_t >= 0 && a->cost_cloud > 0, 1 - a->cost / a->cost_cloud),
		      "energy_j", OPTN(a->energy_known, a->energy),
		      "energy_measured_j", OPTN(a->energy_known, a->energy_meas),
		      "energy_estimated_j", OPTN(a->energy_known, a->energy_est),
		      "all_cloud_energy_j", OPTN(kc, ec), "all_local_energy_j", OPTN(kl, el),
		      "saved_energy_vs_all_cloud", OPTN(a->energy_known && kc && ec > 0, 1 - a->energy / ec),
		      "saved_energy_vs_all_local", OPTN(a->energy_known && kl && el > 0, 1 - a->energy / el),
		      "all_cloud_energy_method", hc, "all_local_energy_method", hl,
		      "method", "realised energy: measured for the measured tiers (telemetry, concurrent rule, "
				"accelerators, gross), estimated from the J/token for the others; all-cloud and "
				"all-local: the answered requests' completion tokens at the first cloud / local tier's "
				"J/token (that tier's measured J/token in this run when it is measured), and their own "
				"token counts at its prices");
#undef OPTN
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void tally(struct router_acct *a, const struct pending *p)
{
	json_t *rec = p->rec, *atts = json_object_get(rec, "attempts"), *at;
	long long pt = json_integer_value(json_object_get(rec, "prompt_tokens"));
	long long ct = json_integer_value(json_object_get(rec, "completion_tokens"));
	/* the answering tier (the cascade's kept answer need not be the last attempt); -1: refused */
	int last = router_tier_find(a->c, json_string_value(json_object_get(rec, "tier")));
	size_t i;
	json_array_foreach(atts, i, at) {
		const char *st = json_string_value(json_object_get(at, "energy_status"));
		if (st && !strcmp(st, "measured") && json_integer_value(json_object_get(at, "completion_tokens")) > 0) {
			a->tier_meas_j[p->tiers[i]] += json_number_value(json_object_get(at, "energy_j"));
			a->tier_meas_tok[p->tiers[i]] += json_integer_value(json_object_get(at, "completion_tokens"));
		}
	}
	if (strcmp(json_string_value(json_object_get(rec, "outcome")), "ok")) {
		a->nfailed++;
		return;
	}
	a->tier_n[last]++;
	if (a->c->tiers[last].cloud)
		a->ncloud++;
	else
		a->nlocal++;
	if (json_is_number(json_object_get(rec, "cost_usd")))
		a->cost += json_number_value(json_object_get(rec, "cost_usd"));
	if (json_is_number(json_object_get(rec, "energy_j"))) {
		a->energy += json_number_value(json_object_get(rec, "energy_j"));
		a->energy_meas += json_number_value(json_object_get(rec, "energy_measured_j"));
		a->energy_est += json_number_value(json_object_get(rec, "energy_estimated_j"));
	} else {
		a->energy_known = 0;
	}
	a->ct_total += ct;
	if (a->cloud_t >= 0) {
		const struct router_tier *t = &a->c->tiers[a->cloud_t];
		a->cost_cloud += (t->price_in * pt + t->price_out * ct) / 1e6;
	}
	if (a->local_t >= 0) {
		const struct router_tier *t = &a->c->tiers[a->local_t];
		a->cost_local += (t->price_in * pt + t->price_out * ct) / 1e6;
	}
}

void router_acct_set_meter(struct router_acct *a, struct router_meter *mt)
{
	struct measure *m = router_meter_measure(mt);
	char err[IPW_ERRLEN];
	a->meter = mt;
	a->rec.nsources = m->nsrcs;
	a->rec.sources = xcalloc((size_t)m->nsrcs + 1, sizeof(*a->rec.sources));
	for (int s = 0; s < m->nsrcs; s++) {
		const struct source_info *si = telemetry_source(m->tel, s);
		struct run_source *rs = &a->rec.sources[s];
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
		rs->idle_before_w = m->idle_w[s];
		rs->idle_after_w = NAN;
	}
	store_run_set_sources(&a->st, a->rec.id, a->rec.sources, a->rec.nsources, err, sizeof(err));
}

int router_acct_open(struct router_acct **out, const char *uri, const struct router_config *c, const char *config_path,
		     char *err, size_t errlen)
{
	struct router_acct *a = xcalloc(1, sizeof(*a));
	char *text = NULL;
	size_t len = 0;
	*out = NULL;
	if (store_open(&a->st, uri, STORE_CREATE, err, errlen) < 0) {
		free(a);
		return -1;
	}
	if (read_file(config_path, &text, &len, err, errlen) < 0) {
		store_close(&a->st);
		free(a);
		return -1;
	}
	{
		json_t *cfg = json_pack("{s:s,s:s}", "router_config", text, "config_path", config_path);
		a->rec.config_json = json_dumps(cfg, JSON_COMPACT);
		json_decref(cfg);
	}
	free(text);
	a->rec.name = xasprintf("router-%.0f", clock_wall_s());
	a->rec.status = xstrdup("running");
	a->rec.model = xstrdup("ipw-router");
	a->rec.server_model = xstrdup("ipw-router");
	a->rec.api = xstrdup("router");
	a->rec.engine = xstrdup("ipw-router");
	a->rec.url = xasprintf("http://%s:%d", c->host ? c->host : "127.0.0.1", c->port);
	a->rec.dataset_path = xstrdup("(live requests)");
	a->rec.version = xstrdup(IPW_VERSION);
	a->rec.started_at = clock_wall_s();
	a->rec.ended_at = NAN;
	a->rec.idle_seconds = NAN;
	a->t0_s = clock_now_ns() / 1e9;
	a->c = c;
	a->cloud_t = a->local_t = -1;
	for (int i = c->ntiers - 1; i >= 0; i--)
		*(c->tiers[i].cloud ? &a->cloud_t : &a->local_t) = i;
	a->energy_known = 1;
	if (store_run_create(&a->st, &a->rec, err, errlen) < 0) {
		router_acct_close(a);
		return -1;
	}
	*out = a;
	return 0;
}

const char *router_acct_run_id(const struct router_acct *a)
{
	return a->rec.id;
}

static double rel(const struct router_acct *a, double t)
{
	return t > 0 ? t - a->t0_s : NAN;
}

int router_acct_add(struct router_acct *a, const struct pending *p, char *err, size_t errlen)
{
	struct query_record q;
	json_t *rec = p->rec;
	const char *item = json_string_value(json_object_get(rec, "item_id"));
	int rc;
	memset(&q, 0, sizeof(q));
	q.seq = a->seq++;
	q.item_id = (char *)(item ? item : p->id);
	q.prompt = p->text;
	q.answer = p->answer;
	q.answer_len = p->answer_len;
	q.status = (char *)(!strcmp(json_string_value(json_object_get(rec, "outcome")), "ok") ? "ok" : "failed");
	q.t_send_s = rel(a, p->t_recv_s);
	q.t_first_s = rel(a, p->t_first_s);
	q.t_end_s = rel(a, p->t_end_s);
	q.ttft_s = json_is_number(json_object_get(rec, "ttft_s")) ? json_number_value(json_object_get(rec, "ttft_s")) : NAN;
	q.e2e_s = json_is_number(json_object_get(rec, "e2e_s")) ? json_number_value(json_object_get(rec, "e2e_s")) : NAN;
	q.tpot_s = q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
	q.prompt_tokens = json_integer_value(json_object_get(rec, "prompt_tokens"));
	q.completion_tokens = json_integer_value(json_object_get(rec, "completion_tokens"));
	q.reasoning_tokens = 0;
	q.prompt_tokens_src = q.completion_tokens_src = "server";
	q.reasoning_tokens_src = "none";
	q.accel_j = q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	if (p->gross && a->meter) /* the measured attempts' energy, per source and by scope */
		measure_fill_query_energy(router_meter_measure(a->meter)->tel, &q, p->gross, p->dyn, q.e2e_s);
	q.cpu_s = q.logprob_sum = NAN;
	q.logprob_tokens = -1;
	q.http_status = (int)p->http_status;
	q.error_kind = (char *)(strcmp(q.status, "ok") ? json_string_value(json_object_get(rec, "outcome")) : "none");
	q.extra_json = json_dumps(rec, JSON_COMPACT);
	rc = store_query_insert(&a->st, a->rec.id, &q, err, errlen);
	free(q.extra_json);
	free(q.energy);
	tally(a, p);
	if (rc == 0 && a->seq % 50 == 0) { /* the summary as it stands, should the router be killed */
		free(a->rec.summary_json);
		a->rec.summary_json = summary(a);
		rc = store_run_update(&a->st, &a->rec, err, errlen);
	}
	return rc;
}

void router_acct_close(struct router_acct *a)
{
	char err[IPW_ERRLEN];
	if (a->rec.id) {
		free(a->rec.status);
		a->rec.status = xstrdup("completed");
		a->rec.ended_at = clock_wall_s();
		a->rec.n_items = a->seq;
		free(a->rec.summary_json);
		a->rec.summary_json = summary(a);
		store_run_update(&a->st, &a->rec, err, sizeof(err));
	}
	run_record_release(&a->rec);
	store_close(&a->st);
	free(a);
}
