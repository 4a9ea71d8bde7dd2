/*
 * analysis/routing.c - the hybrid-routing simulation over merged runs
 * (cloud-only, oracle, router of accuracy p exactly and by seeded Monte
 * Carlo, cascade) and the per-run prices and active parameters it reads from
 * key/value files (kv.h). The routing model: docs/analysis.md.
 */
#include "analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "rng.h"
#include "stats.h"
#include "util.h"

/* ---- hybrid routing ---- */

/* Totals of one scheme: energy, FLOPs, cost, items answered locally, correct and scored answers. */
enum { T_ENERGY, T_FLOPS, T_COST, T_LOCAL, T_CORRECT, T_SCORED, T_N };

/* What one run spent on one item. */
struct spend {
	double v[3];   /* energy J, FLOPs, cost USD; NAN unknown */
};

static void item_spend(const struct store_item *it, const struct route_model *m, struct spend *sp)
{
	double tokens = it->prompt_tokens >= 0 && it->completion_tokens >= 0
			? (double)(it->prompt_tokens + it->completion_tokens) : NAN;
	sp->v[T_ENERGY] = it->accel_j;
	sp->v[T_FLOPS] = m ? 2 * m->active_params * tokens : NAN;
	sp->v[T_COST] = m && it->prompt_tokens >= 0 && it->completion_tokens >= 0
			? (m->price_in * (double)it->prompt_tokens + m->price_out * (double)it->completion_tokens) / 1e6
			: NAN;
}

static void add_spend(double *t, const struct spend *sp, double w)
{
	for (int j = 0; j < 3; j++)
		if (w != 0)
			t[j] += w * sp->v[j];
}

/* Adds the cloud's answer of an item (w times) to the accuracy tallies. */
static void add_cloud_answer(double *t, const struct store_item *c, double w)
{
	if (w != 0 && c->ok && (c->correct == 0 || c->correct == 1)) {
		t[T_CORRECT] += w * c->correct;
		t[T_SCORED] += w;
	}
}

static void add_local_answer(double *t, double w)
{
	t[T_LOCAL] += w;
	t[T_CORRECT] += w;
	t[T_SCORED] += w;
}

static double saved(double total, double base)
{
	return base > 0 && isfinite(total) ? 1 - total / base : NAN;
}

static struct route_value rv(double v)
{
	return (struct route_value){v, NAN, NAN};
}

/* Fills row from totals t against the cloud-only totals base over n items. */
static void row_from_totals(struct route_row *row, const double *t, const double *base, double n)
{
	row->energy_j = rv(t[T_ENERGY]);
	row->flops = rv(t[T_FLOPS]);
	row->cost_usd = rv(t[T_COST]);
	row->saved_energy = rv(saved(t[T_ENERGY], base[T_ENERGY]));
	row->saved_compute = rv(saved(t[T_FLOPS], base[T_FLOPS]));
	row->saved_cost = rv(saved(t[T_COST], base[T_COST]));
	row->local_share = rv(n > 0 ? t[T_LOCAL] / n : NAN);
	row->accuracy = rv(t[T_SCORED] > 0 ? t[T_CORRECT] / t[T_SCORED] : NAN);
}

/* Mean and spread over trials of one route_value field computed from per-trial totals. */
static void mc_row(struct route_row *row, double *tr, int trials, const double *base, double n, double level)
{
	double *v = xmalloc((size_t)trials * sizeof(*v));
	struct route_row one;
	struct route_value *dst[] = {&row->energy_j, &row->flops, &row->cost_usd, &row->saved_energy,
				     &row->saved_compute, &row->saved_cost, &row->local_share, &row->accuracy};
	size_t nf = sizeof(dst) / sizeof(dst[0]);

	for (size_t f = 0; f < nf; f++) {
		double sum = 0;
		int cnt = 0;
		for (int k = 0; k < trials; k++) {
			struct route_value *src[8];
			row_from_totals(&one, &tr[(size_t)k * T_N], base, n);
			src[0] = &one.energy_j, src[1] = &one.flops, src[2] = &one.cost_usd;
			src[3] = &one.saved_energy, src[4] = &one.saved_compute, src[5] = &one.saved_cost;
			src[6] = &one.local_share, src[7] = &one.accuracy;
			v[k] = src[f]->value;
			if (isfinite(v[k])) {
				sum += v[k];
				cnt++;
			}
		}
		dst[f]->value = cnt ? sum / cnt : NAN;
		stats_percentile_interval(v, (size_t)trials, level, &dst[f]->lo, &dst[f]->hi);
		if (!cnt)
			dst[f]->lo = dst[f]->hi = NAN;
	}
	free(v);
}

int analysis_route(struct store *s, const char *const *local, size_t nlocal, const char *cloud,
		   const struct route_model *model, const struct route_options *o,
		   struct route_result *out, char *err, size_t errlen)
{
	size_t n = nlocal + 1, np = o->np, trials = o->trials > 0 ? (size_t)o->trials : 0;
	const char **ids = xcalloc(n, sizeof(*ids));
	const struct store_item **items = xcalloc(n, sizeof(*items));
	struct spend *sp = xcalloc(n, sizeof(*sp));
	double base[T_N] = {0}, oracle[T_N] = {0};
	double *router = xcalloc(np ? np * T_N : 1, sizeof(double));
	double *cascade = xcalloc(np ? np * T_N : 1, sizeof(double));
	double *mc_router = xcalloc(np * trials * T_N + 1, sizeof(double));
	double *mc_cascade = xcalloc(np * trials * T_N + 1, sizeof(double));
	struct analysis_merge m;
	struct rng rng;
	int merged = 0, rc = -1, k;

	memset(out, 0, sizeof(*out));
	memset(&m, 0, sizeof(m));
	out->nlocal = nlocal;
	out->oracle_chosen = xcalloc(nlocal ? nlocal : 1, sizeof(*out->oracle_chosen));
	if (nlocal == 0) {
		err_set(err, errlen, "routing needs at least one local run (--local RUN)");
		goto out;
	}
	for (size_t j = 0; j < np; j++)
		if (!(o->p[j] >= 0 && o->p[j] <= 1)) {
			err_set(err, errlen, "router accuracy %g is outside [0, 1]", o->p[j]);
			goto out;
		}
	for (size_t i = 0; i < nlocal; i++)
		ids[i] = local[i];
	ids[nlocal] = cloud;
	rng_seed(&rng, o->seed);
	if ((rc = analysis_merge_open(&m, s, ids, n, o->intersect, err, errlen)) < 0)
		goto out;
	merged = 1;
	rc = -1;
	while ((k = analysis_merge_next(&m, items, err, errlen)) == 1) {
		const struct store_item *c = items[nlocal];
		int obj = o->objective == ROUTE_COST ? T_COST : T_ENERGY;
		long best = -1;

		for (size_t i = 0; i < n; i++)
			item_spend(items[i], model ? &model[i] : NULL, &sp[i]);
		if (!isfinite(sp[nlocal].v[obj]) || sp[nlocal].v[obj] < 0) {
			if (o->intersect) {
				out->n_unmeasured++;
				continue;
			}
			err_set(err, errlen, "item '%s' of the cloud run %s has no measured %s (it is the baseline "
				"every route is compared to; pass --intersect to leave such items out)", c->item_id,
				cloud, obj == T_COST ? "cost (token counts)" : "energy");
			goto out;
		}
		/* the oracle: the cheapest local run that answered right */
		for (size_t i = 0; i < nlocal; i++) {
			const struct store_item *it = items[i];
			if (it->ok && it->correct == 1 && isfinite(sp[i].v[obj]) && sp[i].v[obj] >= 0 &&
			    (best < 0 || sp[i].v[obj] < sp[best].v[obj]))
				best = (long)i;
		}
		out->n_items++;
		add_spend(base, &sp[nlocal], 1);
		add_cloud_answer(base, c, 1);
		if (best >= 0) {
			out->n_answerable++;
			out->oracle_chosen[best]++;
			add_spend(oracle, &sp[best], 1);
			add_local_answer(oracle, 1);
		} else {
			add_spend(oracle, &sp[nlocal], 1);
			add_cloud_answer(oracle, c, 1);
		}
		for (size_t j = 0; j < np; j++) {
			double p = o->p[j], *rt = &router[j * T_N], *ct = &cascade[j * T_N];
			if (best >= 0) {
				add_spend(rt, &sp[best], p);
				add_local_answer(rt, p);
				add_spend(rt, &sp[nlocal], 1 - p);
				add_cloud_answer(rt, c, 1 - p);
				add_spend(ct, &sp[best], p);
				add_local_answer(ct, p);
				add_spend(ct, &sp[0], 1 - p);
				add_spend(ct, &sp[nlocal], 1 - p);
				add_cloud_answer(ct, c, 1 - p);
			} else {
				add_spend(rt, &sp[nlocal], 1);
				add_cloud_answer(rt, c, 1);
				add_spend(ct, &sp[0], 1);
				add_spend(ct, &sp[nlocal], 1);
				add_cloud_answer(ct, c, 1);
			}
			for (size_t t = 0; t < trials; t++) {
				double *mr = &mc_router[(j * trials + t) * T_N], *mcs = &mc_cascade[(j * trials + t) * T_N];
				/* one draw per trial and answerable item, shared by router and cascade */
				int right = best >= 0 && rng_unit(&rng) < p;
				if (right) {
					add_spend(mr, &sp[best], 1);
					add_local_answer(mr, 1);
					add_spend(mcs, &sp[best], 1);
					add_local_answer(mcs, 1);
				} else {
					add_spend(mr, &sp[nlocal], 1);
					add_cloud_answer(mr, c, 1);
					add_spend(mcs, &sp[0], 1);
					add_spend(mcs, &sp[nlocal], 1);
					add_cloud_answer(mcs, c, 1);
				}
			}
		}
	}
	if (k < 0)
		goto out;
	out->n_dropped = m.n_dropped;
	out->nrows = 2 + np * (trials ? 4 : 2);
	out->rows = xcalloc(out->nrows, sizeof(*out->rows));
	{
		struct route_row *r = out->rows;
		double nn = (double)out->n_items;
		r->scheme = "cloud-only";
		r->p = NAN;
		row_from_totals(r++, base, base, nn);
		r->scheme = "oracle";
		r->p = 1;
		row_from_totals(r++, oracle, base, nn);
		for (size_t j = 0; j < np; j++) {
			r->scheme = "router";
			r->p = o->p[j];
			row_from_totals(r++, &router[j * T_N], base, nn);
			if (trials) {
				r->scheme = "router";
				r->p = o->p[j];
				r->monte_carlo = 1;
				mc_row(r++, &mc_router[j * trials * T_N], (int)trials, base, nn, o->level);
			}
			r->scheme = "cascade";
			r->p = o->p[j];
			row_from_totals(r++, &cascade[j * T_N], base, nn);
			if (trials) {
				r->scheme = "cascade";
				r->p = o->p[j];
				r->monte_carlo = 1;
				mc_row(r++, &mc_cascade[j * trials * T_N], (int)trials, base, nn, o->level);
			}
		}
	}
	rc = 0;
out:
	if (merged)
		analysis_merge_close(&m);
	free(ids);
	free(items);
	free(sp);
	free(router);
	free(cascade);
	free(mc_router);
	free(mc_cascade);
	if (rc < 0)
		route_result_release(out);
	return rc;
}

void route_result_release(struct route_result *r)
{
	free(r->oracle_chosen);
	free(r->rows);
	memset(r, 0, sizeof(*r));
}

static const struct kv_spec prices_spec = {
	2, {"input", "output"}, 1, 0, 0, "price", "KEY INPUT OUTPUT",
	"{\"input\": X, \"output\": Y} in USD per 1M tokens (numbers >= 0)",
};
static const struct kv_spec params_spec = {
	1, {NULL, NULL}, 1, 0, 0, "active parameters", "KEY PARAMETERS",
	"a count >= 0 like 8e9 or \"8B\"",
};

static const struct kv_entry *model_entry(const struct kv_table *t, const struct run_record *r)
{
	const char *keys[] = {r->id, r->name, r->model, r->server_model};
	const struct kv_entry *e = NULL;
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]) && !e; k++)
		e = kv_find(t, keys[k]);
	return e;
}

int analysis_route_models(const struct run_record *runs, size_t n, const char *prices, const char *params,
			  struct route_model *model, char *err, size_t errlen)
{
	const char *paths[2] = {prices, params};
	const struct kv_spec *specs[2] = {&prices_spec, &params_spec};
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		model[i] = (struct route_model){NAN, NAN, NAN};
	for (int f = 0; f < 2 && rc == 0; f++) {
		struct kv_table t;
		if (!paths[f])
			continue;
		if (kv_read(paths[f], specs[f], &t, err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const struct kv_entry *e = model_entry(&t, &runs[i]);
			if (!e)
				rc = err_set(err, errlen, "%s has no entry for run %s (name '%s', model '%s'); a key "
					     "matches a run's id, name, model or server model", paths[f], runs[i].id,
					     runs[i].name ? runs[i].name : "", runs[i].model ? runs[i].model : "");
			else if (f == 0) {
				model[i].price_in = e->v[0];
				model[i].price_out = e->v[1];
			} else
				model[i].active_params = e->v[0];
		}
		kv_table_release(&t);
	}
	return rc;
}
