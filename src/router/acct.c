/*
 * router/acct.c - the router run in the store: one run per `ipw route serve`
 * (model "ipw-router", api "router"), one query row per routed request with
 * its tokens and latency; the decision, the tier, the prediction, the
 * estimated energy (marked so) and the cost are the row's extra_json (the
 * request's record, docs/router.md). Accelerator energy columns stay
 * unmeasured (NAN): the router measures no device of its own.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "record.h"
#include "router/server_internal.h"
#include "store.h"

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
};

/* The run's summary (shown by ipw show): realised cost and energy against all-cloud and all-local. */
static char *summary(const struct router_acct *a)
{
	json_t *tiers = json_object(), *o;
	char *text;
	for (int i = 0; i < a->c->ntiers; i++)
		json_object_set_new(tiers, a->c->tiers[i].name, json_integer((json_int_t)a->tier_n[i]));
#define OPTN(ok, v) ((ok) ? json_real(v) : json_null())
	o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:s}",
		      "kind", "router", "requests", (json_int_t)a->seq, "local", (json_int_t)a->nlocal, "cloud",
		      (json_int_t)a->ncloud, "failed", (json_int_t)a->nfailed, "per_tier", tiers,
		      "cost_usd", json_real(a->cost),
		      "all_cloud_cost_usd", OPTN(a->cloud_t >= 0, a->cost_cloud),
		      "all_local_cost_usd", OPTN(a->local_t >= 0, a->cost_local),
		      "saved_cost_vs_all_cloud", OPTN(a->cloud_t >= 0 && a->cost_cloud > 0, 1 - a->cost / a->cost_cloud),
		      "energy_j", OPTN(a->energy_known, a->energy),
		      "all_cloud_energy_j", OPTN(a->energy_cloud_known, a->energy_cloud),
		      "all_local_energy_j", OPTN(a->energy_local_known, a->energy_local),
		      "saved_energy_vs_all_cloud", OPTN(a->energy_known && a->energy_cloud_known && a->energy_cloud > 0,
							 1 - a->energy / a->energy_cloud),
		      "saved_energy_vs_all_local", OPTN(a->energy_known && a->energy_local_known && a->energy_local > 0,
							 1 - a->energy / a->energy_local),
		      "method", "energy estimated from the tiers' J/token; all-cloud and all-local: each request's "
				"own token counts at the first cloud / local tier's prices and J/token");
#undef OPTN
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

static void tally(struct router_acct *a, const struct rreq *r, json_t *rec)
{
	long long pt = json_integer_value(json_object_get(rec, "prompt_tokens"));
	long long ct = json_integer_value(json_object_get(rec, "completion_tokens"));
	const struct attempt *last = &r->att[r->natt - 1];
	if (strcmp(json_string_value(json_object_get(rec, "outcome")), "ok")) {
		a->nfailed++;
		return;
	}
	a->tier_n[last->tier]++;
	if (a->c->tiers[last->tier].cloud)
		a->ncloud++;
	else
		a->nlocal++;
	if (json_is_number(json_object_get(rec, "cost_usd")))
		a->cost += json_number_value(json_object_get(rec, "cost_usd"));
	if (json_is_number(json_object_get(rec, "energy_j")))
		a->energy += json_number_value(json_object_get(rec, "energy_j"));
	else
		a->energy_known = 0;
	if (a->cloud_t >= 0) {
		const struct router_tier *t = &a->c->tiers[a->cloud_t];
		a->cost_cloud += (t->price_in * pt + t->price_out * ct) / 1e6;
		a->energy_cloud += t->j_per_token * ct;
	}
	if (a->local_t >= 0) {
		const struct router_tier *t = &a->c->tiers[a->local_t];
		a->cost_local += (t->price_in * pt + t->price_out * ct) / 1e6;
		a->energy_local += t->j_per_token * ct;
	}
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
	a->energy_cloud_known = a->cloud_t >= 0 && isfinite(c->tiers[a->cloud_t].j_per_token);
	a->energy_local_known = a->local_t >= 0 && isfinite(c->tiers[a->local_t].j_per_token);
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

int router_acct_add(struct router_acct *a, const struct rreq *r, json_t *rec, char *err, size_t errlen)
{
	struct query_record q;
	const struct attempt *last = &r->att[r->natt - 1];
	const char *item = json_string_value(json_object_get(rec, "item_id"));
	int rc;
	memset(&q, 0, sizeof(q));
	q.seq = a->seq++;
	q.item_id = (char *)(item ? item : r->id);
	q.prompt = r->text;
	q.answer = r->answer.data;
	q.answer_len = r->answer.len;
	q.status = (char *)(!strcmp(json_string_value(json_object_get(rec, "outcome")), "ok") ? "ok" : "failed");
	q.t_send_s = rel(a, r->t_recv_s);
	q.t_first_s = rel(a, last->t_first_s);
	q.t_end_s = rel(a, last->t_end_s);
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
	q.cpu_s = q.logprob_sum = NAN;
	q.logprob_tokens = -1;
	q.http_status = (int)last->status;
	q.error_kind = (char *)(strcmp(q.status, "ok") ? json_string_value(json_object_get(rec, "outcome")) : "none");
	q.extra_json = json_dumps(rec, JSON_COMPACT);
	rc = store_query_insert(&a->st, a->rec.id, &q, err, errlen);
	free(q.extra_json);
	tally(a, r, rec);
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
