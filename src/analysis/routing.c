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

/* The simulation's running totals over the merged items. */
struct route_sim {
	const struct route_options *o;
	size_t nlocal, np, trials;
	int obj;                      /* T_ENERGY or T_COST: what the oracle minimises */
	struct spend *sp;             /* per run, the current item */
	double base[T_N], oracle[T_N];
	double *router, *cascade;     /* np x T_N */
	double *mc_router, *mc_cascade; /* np x trials x T_N */
	struct rng rng;
};

static void sim_init(struct route_sim *m, size_t nlocal, const struct route_options *o)
{
	size_t np = o->np, trials = o->trials > 0 ? (size_t)o->trials : 0;
	memset(m, 0, sizeof(*m));
	m->o = o;
	m->nlocal = nlocal;
	m->np = np;
	m->trials = trials;
	m->obj = o->objective == ROUTE_COST ? T_COST : T_ENERGY;
	m->sp = xcalloc(nlocal + 1, sizeof(*m->sp));
	m->router = xcalloc(np ? np * T_N : 1, sizeof(double));
	m->cascade = xcalloc(np ? np * T_N : 1, sizeof(double));
	m->mc_router = xcalloc(np * trials * T_N + 1, sizeof(double));
	m->mc_cascade = xcalloc(np * trials * T_N + 1, sizeof(double));
	rng_seed(&m->rng, o->seed);
}

static void sim_release(struct route_sim *m)
{
	free(m->sp);
	free(m->router);
	free(m->cascade);
	free(m->mc_router);
	free(m->mc_cascade);
}

/* An item answered locally by run best with weight w (the rest, 1 - w, by the cloud). */
static void add_routed(const struct route_sim *m, double *t, long best, const struct store_item *c, double w)
{
	if (best >= 0) {
		add_spend(t, &m->sp[best], w);
		add_local_answer(t, w);
	} else
		w = 0;
	add_spend(t, &m->sp[m->nlocal], 1 - w);
	add_cloud_answer(t, c, 1 - w);
}

/* The cascade: local best with weight w; else a failed attempt on the first tier, then the cloud. */
static void add_cascade(const struct route_sim *m, double *t, long best, const struct store_item *c, double w)
{
	if (best >= 0) {
		add_spend(t, &m->sp[best], w);
		add_local_answer(t, w);
	} else
		w = 0;
	add_spend(t, &m->sp[0], 1 - w);
	add_spend(t, &m->sp[m->nlocal], 1 - w);
	add_cloud_answer(t, c, 1 - w);
}

/* The cheapest local run that answered the item right, or -1. */
static long oracle_pick(const struct route_sim *m, const struct store_item **items)
{
	long best = -1;
	for (size_t i = 0; i < m->nlocal; i++) {
		const struct store_item *it = items[i];
		double v = m->sp[i].v[m->obj];
		if (it->ok && it->correct == 1 && isfinite(v) && v >= 0 && (best < 0 || v < m->sp[best].v[m->obj]))
			best = (long)i;
	}
	return best;
}

/*
 * One item's Monte Carlo trials at router accuracy p (row j): what
 * add_routed and add_cascade with weight 1 add, unrolled, since this loop
 * runs items x p x trials times. The additions are the same, in the same
 * order, so the totals are bit for bit those of the two functions (a test
 * compares them: tests/unit/test_analysis.c).
 */
static void sim_trials(struct route_sim *m, size_t j, long best, const struct store_item *c)
{
	const double *loc = best >= 0 ? m->sp[best].v : NULL, *cl = m->sp[m->nlocal].v, *first = m->sp[0].v;
	int scored = c->ok && (c->correct == 0 || c->correct == 1);
	double right_cloud = scored ? c->correct : 0, p = m->o->p[j];

	for (size_t t = 0; t < m->trials; t++) {
		size_t at = (j * m->trials + t) * T_N;
		double *r = &m->mc_router[at], *k = &m->mc_cascade[at];
		/* one draw per trial and answerable item, shared by router and cascade */
		if (loc && rng_unit(&m->rng) < p) {
			for (int f = 0; f < 3; f++) {
				r[f] += loc[f];
				k[f] += loc[f];
			}
			r[T_LOCAL] += 1, r[T_CORRECT] += 1, r[T_SCORED] += 1;
			k[T_LOCAL] += 1, k[T_CORRECT] += 1, k[T_SCORED] += 1;
			continue;
		}
		for (int f = 0; f < 3; f++) {
			r[f] += cl[f];
			k[f] += first[f];
			k[f] += cl[f];
		}
		if (scored) {
			r[T_CORRECT] += right_cloud, r[T_SCORED] += 1;
			k[T_CORRECT] += right_cloud, k[T_SCORED] += 1;
		}
	}
}

/* One item: the exact expectations of every p, and its Monte Carlo trials. */
static void sim_schemes(struct route_sim *m, long best, const struct store_item *c)
{
	for (size_t j = 0; j < m->np; j++) {
		double p = m->o->p[j];
		add_routed(m, &m->router[j * T_N], best, c, p);
		add_cascade(m, &m->cascade[j * T_N], best, c, p);
		sim_trials(m, j, best, c);
	}
}

/* Adds one merged item; 0, or -1 (err set) for an unmeasured cloud item without intersect. */
static int sim_item(struct route_sim *m, const struct store_item **items, const struct route_model *model,
		    const char *cloud, struct route_result *out, char *err, size_t errlen)
{
	const struct store_item *c = items[m->nlocal];
	double cv;
	long best;

	for (size_t i = 0; i <= m->nlocal; i++)
		item_spend(items[i], model ? &model[i] : NULL, &m->sp[i]);
	cv = m->sp[m->nlocal].v[m->obj];
	if (!isfinite(cv) || cv < 0) {
		if (m->o->intersect) {
			out->n_unmeasured++;
			return 0;
		}
		return err_set(err, errlen, "item '%s' of the cloud run %s has no measured %s (it is the baseline "
			       "every route is compared to; pass --intersect to leave such items out)", c->item_id,
			       cloud, m->obj == T_COST ? "cost (token counts)" : "energy");
	}
	best = oracle_pick(m, (const struct store_item **)items);
	out->n_items++;
	add_routed(m, m->base, -1, c, 0);
	add_routed(m, m->oracle, best, c, 1);
	if (best >= 0) {
		out->n_answerable++;
		out->oracle_chosen[best]++;
	}
	sim_schemes(m, best, c);
	return 0;
}

static struct route_row *put_row(struct route_row *r, const char *scheme, double p, int mc)
{
	r->scheme = scheme;
	r->p = p;
	r->monte_carlo = mc;
	return r;
}

/* The rows: cloud-only, oracle, then for each p the router and the cascade (exact, Monte Carlo). */
static void sim_rows(const struct route_sim *m, struct route_result *out)
{
	struct route_row *r;
	double nn = (double)out->n_items, lv = m->o->level;
	int tr = (int)m->trials;

	out->nrows = 2 + m->np * (m->trials ? 4 : 2);
	out->rows = r = xcalloc(out->nrows, sizeof(*out->rows));
	row_from_totals(put_row(r++, "cloud-only", NAN, 0), m->base, m->base, nn);
	row_from_totals(put_row(r++, "oracle", 1, 0), m->oracle, m->base, nn);
	for (size_t j = 0; j < m->np; j++) {
		double p = m->o->p[j];
		row_from_totals(put_row(r++, "router", p, 0), &m->router[j * T_N], m->base, nn);
		if (tr)
			mc_row(put_row(r++, "router", p, 1), &m->mc_router[j * m->trials * T_N], tr, m->base, nn, lv);
		row_from_totals(put_row(r++, "cascade", p, 0), &m->cascade[j * T_N], m->base, nn);
		if (tr)
			mc_row(put_row(r++, "cascade", p, 1), &m->mc_cascade[j * m->trials * T_N], tr, m->base, nn, lv);
	}
}

static int check_options(size_t nlocal, const struct route_options *o, char *err, size_t errlen)
{
	if (nlocal == 0)
		return err_set(err, errlen, "routing needs at least one local run (--local RUN)");
	for (size_t j = 0; j < o->np; j++)
		if (!(o->p[j] >= 0 && o->p[j] <= 1))
			return err_set(err, errlen, "router accuracy %g is outside [0, 1]", o->p[j]);
	return 0;
}

int analysis_route(struct store *s, const char *const *local, size_t nlocal, const char *cloud,
		   const struct route_model *model, const struct route_options *o,
		   struct route_result *out, char *err, size_t errlen)
{
	size_t n = nlocal + 1;
	const char **ids = xcalloc(n, sizeof(*ids));
	const struct store_item **items = xcalloc(n, sizeof(*items));
	struct analysis_merge m;
	struct route_sim sim;
	int rc = -1, k;

	memset(out, 0, sizeof(*out));
	out->nlocal = nlocal;
	out->oracle_chosen = xcalloc(nlocal ? nlocal : 1, sizeof(*out->oracle_chosen));
	sim_init(&sim, nlocal, o);
	if (check_options(nlocal, o, err, errlen) < 0)
		goto out;
	for (size_t i = 0; i < nlocal; i++)
		ids[i] = local[i];
	ids[nlocal] = cloud;
	if ((rc = analysis_merge_open(&m, s, ids, n, o->intersect, err, errlen)) < 0)
		goto out;
	rc = -1;
	while ((k = analysis_merge_next(&m, items, err, errlen)) == 1)
		if (sim_item(&sim, items, model, cloud, out, err, errlen) < 0)
			break;
	out->n_dropped = m.n_dropped;
	analysis_merge_close(&m);
	if (k == 1 || k < 0)
		goto out;
	sim_rows(&sim, out);
	rc = 0;
out:
	sim_release(&sim);
	free(ids);
	free(items);
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
