/*
 * analysis/routing.c - the hybrid-routing simulation over merged runs
 * (cloud-only, oracle, router of accuracy p exactly and by seeded Monte
 * Carlo, cascade) and the per-run prices and active parameters it reads from
 * key/value files (kv.h). The routing model: docs/analysis.md.
 */
#include "analysis.h"
#include "analysis/paper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "rng.h"
#include "stats.h"
#include "util.h"

/* ---- hybrid routing ---- */

/*
 * Totals of one scheme: energy, FLOPs (active and total parameters), cost,
 * items answered locally, correct and scored answers, items kept local
 * though no local run was right (two-sided misroutes).
 */
enum { T_ENERGY, T_FLOPS, T_FLOPS_TOT, T_COST, T_LOCAL, T_CORRECT, T_SCORED, T_KEPT_WRONG, T_N };
#define NSPEND 4   /* the first four totals are spends */

/* What one run spent on one item. */
struct spend {
	double v[NSPEND];   /* energy J, FLOPs (active), FLOPs (total), cost USD; NAN unknown */
};

static void item_spend(const struct store_item *it, const struct route_model *m, struct spend *sp)
{
	double tokens = it->prompt_tokens >= 0 && it->completion_tokens >= 0
			? (double)(it->prompt_tokens + it->completion_tokens) : NAN;
	sp->v[T_ENERGY] = it->accel_j;
	sp->v[T_FLOPS] = m ? 2 * m->active_params * tokens : NAN;
	sp->v[T_FLOPS_TOT] = m ? 2 * m->total_params * tokens : NAN;
	sp->v[T_COST] = m && it->prompt_tokens >= 0 && it->completion_tokens >= 0
			? (m->price_in * (double)it->prompt_tokens + m->price_out * (double)it->completion_tokens) / 1e6
			: NAN;
}

static void add_spend(double *t, const struct spend *sp, double w)
{
	for (int j = 0; j < NSPEND; j++)
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

/* A local answer no local run got right, kept (w times): the run's own score counts, as the cloud's would. */
static void add_kept_wrong(double *t, const struct store_item *it, double w)
{
	if (w == 0)
		return;
	t[T_LOCAL] += w;
	t[T_KEPT_WRONG] += w;
	if (it->ok && (it->correct == 0 || it->correct == 1)) {
		t[T_CORRECT] += w * it->correct;
		t[T_SCORED] += w;
	}
}

static double saved(double total, double base)
{
	return base > 0 && isfinite(total) ? 1 - total / base : NAN;
}

static struct route_value rv(double v)
{
	return (struct route_value){v, NAN, NAN};
}

/* The row's fields the totals fill, in one order (the Monte Carlo rows walk them). */
#define ROW_NF 12
static void row_fields(struct route_row *r, struct route_value **f)
{
	struct route_value *v[ROW_NF] = {&r->energy_j, &r->flops_active, &r->flops_total, &r->cost_usd,
					 &r->saved_energy, &r->saved_compute_active, &r->saved_compute_total,
					 &r->saved_cost, &r->local_share, &r->accuracy, &r->kept_wrong, NULL};
	memcpy(f, v, sizeof(v));
}

/* flops and saved_compute: the basis the options name. */
static void row_basis(struct route_row *row, enum route_compute c)
{
	row->flops = c == ROUTE_COMPUTE_TOTAL ? row->flops_total : row->flops_active;
	row->saved_compute = c == ROUTE_COMPUTE_TOTAL ? row->saved_compute_total : row->saved_compute_active;
}

/* Fills row from totals t against the cloud-only totals base over n items. */
static void row_from_totals(struct route_row *row, const double *t, const double *base, double n)
{
	row->energy_j = rv(t[T_ENERGY]);
	row->flops_active = rv(t[T_FLOPS]);
	row->flops_total = rv(t[T_FLOPS_TOT]);
	row->cost_usd = rv(t[T_COST]);
	row->saved_energy = rv(saved(t[T_ENERGY], base[T_ENERGY]));
	row->saved_compute_active = rv(saved(t[T_FLOPS], base[T_FLOPS]));
	row->saved_compute_total = rv(saved(t[T_FLOPS_TOT], base[T_FLOPS_TOT]));
	row->saved_cost = rv(saved(t[T_COST], base[T_COST]));
	row->local_share = rv(n > 0 ? t[T_LOCAL] / n : NAN);
	row->accuracy = rv(t[T_SCORED] > 0 ? t[T_CORRECT] / t[T_SCORED] : NAN);
	row->kept_wrong = rv(n > 0 ? t[T_KEPT_WRONG] / n : NAN);
}

/* Mean and spread over trials of each route_value field computed from per-trial totals. */
static void mc_row(struct route_row *row, double *tr, int trials, const double *base, double n, double level)
{
	double *v = xmalloc((size_t)trials * sizeof(*v));
	struct route_row *one = xcalloc((size_t)trials, sizeof(*one));
	struct route_value *dst[ROW_NF], *src[ROW_NF];

	for (int k = 0; k < trials; k++)
		row_from_totals(&one[k], &tr[(size_t)k * T_N], base, n);
	row_fields(row, dst);
	for (size_t f = 0; dst[f]; f++) {
		double sum = 0;
		int cnt = 0;
		for (int k = 0; k < trials; k++) {
			row_fields(&one[k], src);
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
	free(one);
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
	unsigned char *right;         /* per trial, the current item and p: the router was right */
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
	m->right = xcalloc(trials + 1, 1);
	rng_seed(&m->rng, o->seed);
}

static void sim_release(struct route_sim *m)
{
	free(m->sp);
	free(m->router);
	free(m->cascade);
	free(m->mc_router);
	free(m->mc_cascade);
	free(m->right);
}

/*
 * An item answered locally by run best with weight w (the rest, 1 - w, by the
 * cloud). best < 0 (no local run right): with keep >= 0 (two-sided) the
 * router keeps it on run keep with weight kw, its wrong answer delivered.
 */
static void add_routed(const struct route_sim *m, double *t, long best, long keep, const struct store_item *const *items,
		       double w, double kw)
{
	const struct store_item *c = items[m->nlocal];
	if (best >= 0) {
		add_spend(t, &m->sp[best], w);
		add_local_answer(t, w);
	} else if (keep >= 0) {
		add_spend(t, &m->sp[keep], kw);
		add_kept_wrong(t, items[keep], kw);
		w = kw;
	} else
		w = 0;
	add_spend(t, &m->sp[m->nlocal], 1 - w);
	add_cloud_answer(t, c, 1 - w);
}

/*
 * The cascade: local best with weight w; else a failed attempt on the first
 * tier, then the cloud. Two-sided (keep >= 0, no local run right): the first
 * tier's wrong answer is accepted with weight kw and the cloud not asked.
 */
static void add_cascade(const struct route_sim *m, double *t, long best, long keep,
			const struct store_item *const *items, double w, double kw)
{
	const struct store_item *c = items[m->nlocal];
	if (best >= 0) {
		add_spend(t, &m->sp[best], w);
		add_local_answer(t, w);
		add_spend(t, &m->sp[0], 1 - w);
	} else {
		add_spend(t, &m->sp[0], 1);
		if (keep >= 0)
			add_kept_wrong(t, items[0], kw);
		w = keep >= 0 ? kw : 0;
	}
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
 * The local run a two-sided router keeps an item on when it wrongly keeps
 * it: the cheapest local run (by the objective) with a measured spend, or -1.
 */
static long keep_pick(const struct route_sim *m)
{
	long best = -1;
	for (size_t i = 0; i < m->nlocal; i++) {
		double v = m->sp[i].v[m->obj];
		if (isfinite(v) && v >= 0 && (best < 0 || v < m->sp[best].v[m->obj]))
			best = (long)i;
	}
	return best;
}

/*
 * A Monte Carlo trial's additions for one outcome (the router right or wrong
 * about the item): what add_routed / add_cascade add with weight 1, as two
 * vectors of T_N addends applied in turn (the cascade that falls back to the
 * cloud adds the first tier's spend, then the cloud's, to the same totals).
 * A total no addition reaches gets -0.0, the exact identity of IEEE addition
 * (x + -0.0 == x for every x, -0.0 and NaN included), so applying a step is
 * bit for bit the same as the calls it stands for, and the per-trial loop is
 * two or three fixed-width vector additions the compiler can vectorise.
 */
struct mc_step {
	double a[T_N], b[T_N];   /* b: all -0.0 but for the cascade's fall back to the cloud */
};

/* Records add_routed's or add_cascade's additions (weights 1) into st. */
static void mc_record(const struct route_sim *m, struct mc_step *st, int cascade, long best, long keep,
		      const struct store_item *const *items)
{
	double t[T_N];
	const double nz = -0.0;
	long first = cascade ? 0 : -1;

	for (int k = 0; k < T_N; k++)
		st->a[k] = st->b[k] = nz;
	/*
	 * Each call adds at most once to each total, except the cascade's fall
	 * back to the cloud (first tier's spend, then the cloud's): split the
	 * spends so that each vector adds once per total.
	 */
	if (cascade && best < 0 && keep < 0) {
		add_spend(st->a, &m->sp[first], 1);
		add_spend(st->b, &m->sp[m->nlocal], 1);
		add_cloud_answer(st->a, items[m->nlocal], 1);
		return;
	}
	for (int k = 0; k < T_N; k++)
		t[k] = nz;
	if (cascade)
		add_cascade(m, t, best, keep, items, 1, 1);
	else
		add_routed(m, t, best, keep, items, 1, 1);
	memcpy(st->a, t, sizeof(t));
}

/*
 * The trials of one item at one p, their draws made (right[t]: the router
 * right in trial t): the chosen outcome's additions to the router's and the
 * cascade's totals, branch-free (the cascade's second vector is all -0.0
 * when it has none). The hot loop of route simulate (items x p x trials); on
 * x86-64 GCC also builds an AVX2 version, picked at load time.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
	!defined(__SANITIZE_THREAD__) /* its resolver runs before the thread sanitizer starts */
__attribute__((target_clones("avx2", "default")))
#endif
static void mc_trials(double *restrict mr, double *restrict mcas, size_t trials, const unsigned char *restrict right,
		      const struct mc_step (*step)[2])
{
	for (size_t t = 0; t < trials; t++) {
		const struct mc_step *a = &step[0][right[t]], *b = &step[1][right[t]];
		double *x = &mr[t * T_N], *y = &mcas[t * T_N];
		for (int k = 0; k < T_N; k++)
			x[k] += a->a[k];
		for (int k = 0; k < T_N; k++)
			y[k] += b->a[k];
		for (int k = 0; k < T_N; k++)
			y[k] += b->b[k];
	}
}

/* One item: the exact expectations of every p, and its Monte Carlo trials. */
static void sim_schemes(struct route_sim *m, long best, const struct store_item *const *items)
{
	int two = m->o->misroute == ROUTE_TWO_SIDED && best < 0;
	long keep = two ? keep_pick(m) : -1, ckeep = two && isfinite(m->sp[0].v[m->obj]) ? 0 : -1;
	/* [router, cascade][wrong, right] */
	struct mc_step step[2][2];
	int drawn = best >= 0 || two;

	if (m->trials) {
		mc_record(m, &step[0][0], 0, -1, keep, items);
		mc_record(m, &step[1][0], 1, -1, ckeep, items);
		/* right: best, or with two-sided errors and no local run right, the cloud */
		mc_record(m, &step[0][1], 0, best, -1, items);
		mc_record(m, &step[1][1], 1, best, -1, items);
	}
	for (size_t j = 0; j < m->np; j++) {
		double p = m->o->p[j];
		double *mr = &m->mc_router[j * m->trials * T_N], *mcas = &m->mc_cascade[j * m->trials * T_N];
		add_routed(m, &m->router[j * T_N], best, keep, items, p, 1 - p);
		add_cascade(m, &m->cascade[j * T_N], best, ckeep, items, p, 1 - p);
		/*
		 * one draw per trial and item the router can get wrong, shared by the
		 * router and the cascade: answerable items, and with two-sided errors
		 * the others too
		 */
		for (size_t t = 0; t < m->trials; t++)
			m->right[t] = drawn && rng_unit(&m->rng) < p;
		if (m->trials)
			mc_trials(mr, mcas, m->trials, m->right, step);
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
	add_routed(m, m->base, -1, -1, items, 0, 0);
	add_routed(m, m->oracle, best, -1, items, 1, 0);
	if (best >= 0) {
		out->n_answerable++;
		out->oracle_chosen[best]++;
	}
	sim_schemes(m, best, items);
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
	for (size_t i = 0; i < out->nrows; i++)
		row_basis(&out->rows[i], m->o->compute);
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

int analysis_route_many(struct store *s, const char *const *local, size_t nlocal, const char *cloud,
			const struct route_model *model, const struct route_options *const *o, size_t nsim,
			struct route_result *out, char *err, size_t errlen)
{
	size_t n = nlocal + 1;
	const char **ids = xcalloc(n, sizeof(*ids));
	const struct store_item **items = xcalloc(n, sizeof(*items));
	struct route_sim *sim = xcalloc(nsim ? nsim : 1, sizeof(*sim));
	struct analysis_merge m;
	int rc = -1, k = 0;

	for (size_t q = 0; q < nsim; q++) {
		memset(&out[q], 0, sizeof(out[q]));
		out[q].nlocal = nlocal;
		out[q].oracle_chosen = xcalloc(nlocal ? nlocal : 1, sizeof(*out[q].oracle_chosen));
		sim_init(&sim[q], nlocal, o[q]);
	}
	for (size_t q = 0; q < nsim; q++) {
		if (check_options(nlocal, o[q], err, errlen) < 0)
			goto out;
		if (o[q]->intersect != o[0]->intersect) {
			err_set(err, errlen, "analysis_route_many: the simulations share one merge (one intersect)");
			goto out;
		}
	}
	for (size_t i = 0; i < nlocal; i++)
		ids[i] = local[i];
	ids[nlocal] = cloud;
	if ((rc = analysis_merge_open_fields(&m, s, ids, n, nsim && o[0]->intersect, STORE_ITEM_ENERGY | STORE_ITEM_TOKENS,
					       err, errlen)) < 0)
		goto out;
	rc = -1;
	while ((k = analysis_merge_next(&m, items, err, errlen)) == 1) {
		size_t q;
		for (q = 0; q < nsim; q++)
			if (sim_item(&sim[q], items, model, cloud, &out[q], err, errlen) < 0)
				break;
		if (q < nsim)
			break;
	}
	for (size_t q = 0; q < nsim; q++)
		out[q].n_dropped = m.n_dropped;
	analysis_merge_close(&m);
	if (k == 1 || k < 0)
		goto out;
	for (size_t q = 0; q < nsim; q++)
		sim_rows(&sim[q], &out[q]);
	rc = 0;
out:
	for (size_t q = 0; q < nsim; q++) {
		sim_release(&sim[q]);
		if (rc < 0)
			route_result_release(&out[q]);
	}
	free(sim);
	free(ids);
	free(items);
	return rc;
}

int analysis_route(struct store *s, const char *const *local, size_t nlocal, const char *cloud,
		   const struct route_model *model, const struct route_options *o,
		   struct route_result *out, char *err, size_t errlen)
{
	return analysis_route_many(s, local, nlocal, cloud, model, &o, 1, out, err, errlen);
}

struct route_value route_per_day(struct route_value t, double daily, long long n_items, double unit)
{
	double k = daily > 0 && n_items > 0 && unit > 0 ? daily / (double)n_items / unit : NAN;
	return (struct route_value){t.value * k, t.lo * k, t.hi * k};
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
		model[i] = (struct route_model){NAN, NAN, NAN, NAN};
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

int analysis_route_meta(const struct meta_file *f, const struct run_record *runs, size_t n, struct route_model *model,
			char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const struct model_meta *mm = meta_model_of(f, &runs[i]);
		if (!mm)
			return err_set(err, errlen, "%s has no model entry for run %s (name '%s', model '%s'); a key "
				       "matches a run's id, name, model or server model", f->path, runs[i].id,
				       runs[i].name ? runs[i].name : "", runs[i].model ? runs[i].model : "");
		if (isnan(model[i].active_params))
			model[i].active_params = mm->active_params;
		model[i].total_params = mm->total_params;
	}
	return 0;
}
