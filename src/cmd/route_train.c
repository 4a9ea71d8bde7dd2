/*
 * cmd/route_train.c - 'ipw route train --local RUN... --cloud RUN --out FILE':
 * fits the learned policy's predictors (src/router/learned.c) from stored,
 * scored runs on the same items and reports them on held-out items (AUC,
 * one-sided recall, two-sided routing accuracy, local share, accuracy and
 * energy saved against all-cloud over thresholds, a random router at the same
 * local share); and 'ipw route simulate --router FILE': the same evaluation
 * with the file's real decisions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../estimate.h"
#include "../record.h"
#include "../router/router.h"
#include "../util.h"
#include "cmd.h"
#include "common.h"
#include "common_opts.h"

#define MAX_LOCAL 8
#define CURVE_STEPS 20

/* One run's items, sorted by id. */
struct run_items {
	char **ids, **prompts;
	int *correct;               /* 1, 0, -1 unscored */
	double *energy_j;           /* accelerator energy (NAN: none) */
	size_t n, cap;
	double j_sum;
	long long tok_sum;
};

static int items_add(const struct query_record *q, void *ctx)
{
	struct run_items *r = ctx;
	if (!q->status || strcmp(q->status, "ok"))
		return 0;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 256;
		r->ids = xrealloc(r->ids, r->cap * sizeof(*r->ids));
		r->prompts = xrealloc(r->prompts, r->cap * sizeof(*r->prompts));
		r->correct = xrealloc(r->correct, r->cap * sizeof(*r->correct));
		r->energy_j = xrealloc(r->energy_j, r->cap * sizeof(*r->energy_j));
	}
	r->ids[r->n] = xstrdup(q->item_id);
	r->prompts[r->n] = xstrdup(q->prompt ? q->prompt : "");
	r->correct[r->n] = -1;
	r->energy_j[r->n] = q->accel_j;
	if (isfinite(q->accel_j) && q->completion_tokens > 0) {
		r->j_sum += q->accel_j;
		r->tok_sum += q->completion_tokens;
	}
	r->n++;
	return 0;
}

static struct run_items *sort_ctx;
static int idx_cmp(const void *a, const void *b)
{
	return strcmp(sort_ctx->ids[*(const size_t *)a], sort_ctx->ids[*(const size_t *)b]);
}

static long find(const struct run_items *r, const char *id)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->ids[mid], id);
		if (!c)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int score_set(const char *item_id, int correct, void *ctx)
{
	struct run_items *r = ctx;
	long i = find(r, item_id);
	if (i >= 0)
		r->correct[i] = correct;
	return 0;
}

static void items_sort(struct run_items *r)
{
	size_t *o = xcalloc(r->n ? r->n : 1, sizeof(*o));
	char **ids = xcalloc(r->n ? r->n : 1, sizeof(*ids)), **pr = xcalloc(r->n ? r->n : 1, sizeof(*pr));
	double *e = xcalloc(r->n ? r->n : 1, sizeof(*e));
	for (size_t i = 0; i < r->n; i++)
		o[i] = i;
	sort_ctx = r;
	qsort(o, r->n, sizeof(*o), idx_cmp);
	for (size_t i = 0; i < r->n; i++) {
		ids[i] = r->ids[o[i]];
		pr[i] = r->prompts[o[i]];
		e[i] = r->energy_j[o[i]];
	}
	free(r->ids);
	free(r->prompts);
	free(r->energy_j);
	r->ids = ids;
	r->prompts = pr;
	r->energy_j = e;
	free(o);
}

static void items_release(struct run_items *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->ids[i]);
		free(r->prompts[i]);
	}
	free(r->ids);
	free(r->prompts);
	free(r->correct);
	free(r->energy_j);
	memset(r, 0, sizeof(*r));
}

static int items_load(struct store *st, const char *run_id, struct run_items *r, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	if (store_queries_iter(st, run_id, items_add, r, err, errlen) < 0)
		return -1;
	items_sort(r);
	return store_scores_latest(st, run_id, score_set, r, err, errlen);
}

/* The items every run has, scored everywhere: row i of the table is item ix[0][i] of run 0, ... */
struct itable {
	size_t nruns, n;
	long *ix;                   /* n x nruns */
};

static void table_build(struct run_items *runs, size_t nruns, struct itable *t)
{
	t->nruns = nruns;
	t->n = 0;
	t->ix = xcalloc(runs[0].n * nruns + 1, sizeof(*t->ix));
	for (size_t i = 0; i < runs[0].n; i++) {
		long *row = t->ix + t->n * nruns;
		int ok = runs[0].correct[i] >= 0;
		row[0] = (long)i;
		for (size_t k = 1; k < nruns && ok; k++) {
			row[k] = find(&runs[k], runs[0].ids[i]);
			ok = row[k] >= 0 && runs[k].correct[row[k]] >= 0;
		}
		if (ok)
			t->n++;
	}
}

/* A fraction in [0, 1) from an item id and a seed (the held-out split). */
static double split_u(const char *id, unsigned long long seed, int salt)
{
	unsigned long long h = 1469598103934665603ULL ^ seed ^ ((unsigned long long)salt << 32);
	for (const char *p = id; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (double)(h >> 11) / 9007199254740992.0;
}

struct point {
	double thr, share, acc, random_acc, energy_j, saved, recall, two_sided;
	size_t n;
};

/* The router's decisions on rows sel[0..nsel) at threshold thr (locals are runs 0..nl-1, the cloud run nl). */
static void evaluate(const struct learn_router *lr, const int *model_of, struct run_items *runs, size_t nl,
		     const struct itable *t, const size_t *sel, size_t nsel, double **p, double thr, struct point *o)
{
	double acc = 0, e = 0, e_cloud = 0, answerable = 0, hit = 0, right = 0, local = 0, acc_l = 0, acc_c = 0;
	int e_known = 1;
	memset(o, 0, sizeof(*o));
	o->thr = thr;
	o->n = nsel;
	for (size_t s = 0; s < nsel; s++) {
		const long *row = t->ix + sel[s] * t->nruns;
		int best = -1, any = 0;
		double best_j = INFINITY, ec = runs[nl].energy_j[row[nl]];
		for (size_t k = 0; k < nl; k++) {
			double j = lr->models[model_of[k]].j_per_token;
			if (!isfinite(j))
				j = (double)k;
			any |= runs[k].correct[row[k]] == 1;
			if (p[k][s] >= thr && j < best_j) {
				best = (int)k;
				best_j = j;
			}
		}
		acc_l += runs[0].correct[row[0]] == 1;
		acc_c += runs[nl].correct[row[nl]] == 1;
		answerable += any;
		if (best >= 0) {
			int c = runs[best].correct[row[best]] == 1;
			local++;
			acc += c;
			hit += c;
			right += c;
			e += runs[best].energy_j[row[best]];
			e_known &= isfinite(runs[best].energy_j[row[best]]);
		} else {
			acc += runs[nl].correct[row[nl]] == 1;
			right += !any;
			e += ec;
		}
		e_cloud += ec;
		e_known &= isfinite(ec);
	}
	if (!nsel)
		return;
	o->share = local / nsel;
	o->acc = acc / nsel;
	o->random_acc = o->share * acc_l / nsel + (1 - o->share) * acc_c / nsel;
	o->energy_j = e_known ? e : NAN;
	o->saved = e_known && e_cloud > 0 ? 1 - e / e_cloud : NAN;
	o->recall = answerable > 0 ? hit / answerable : NAN;
	o->two_sided = right / nsel;
}

static json_t *point_json(const struct point *p)
{
	return json_pack("{s:f,s:f,s:f,s:f,s:o,s:o,s:o,s:f,s:I}", "threshold", p->thr, "local_share", p->share,
			 "accuracy", p->acc, "random_accuracy", p->random_acc, "saved_energy",
			 isfinite(p->saved) ? json_real(p->saved) : json_null(), "energy_j",
			 isfinite(p->energy_j) ? json_real(p->energy_j) : json_null(), "recall",
			 isfinite(p->recall) ? json_real(p->recall) : json_null(), "two_sided_accuracy", p->two_sided,
			 "items", (json_int_t)p->n);
}

static void point_text(const struct point *p)
{
	printf("  %9.2f  %11.1f%%  %8.1f%%  %14.1f%%  ", p->thr, 100 * p->share, 100 * p->acc, 100 * p->random_acc);
	if (isfinite(p->saved))
		printf("%11.1f%%  ", 100 * p->saved);
	else
		printf("%12s  ", "-");
	if (isfinite(p->recall))
		printf("%6.3f  ", p->recall);
	else
		printf("%6s  ", "-");
	printf("%9.3f\n", p->two_sided);
}

struct train_args {
	struct cmd_common cc;
	const char *local[MAX_LOCAL];
	size_t nlocal;
	const char *cloud, *out, *router;
	double holdout, threshold;
	unsigned long long seed;
	int allow_estimated;
};

static int local_parse(const struct opt_def *d, void *t, const char *arg, char *err, size_t errlen)
{
	struct train_args *a = t;
	int n = 0;
	char **l = split_list(arg, ',', &n);
	for (int i = 0; i < n; i++) {
		if (a->nlocal >= MAX_LOCAL) {
			free_list(l);
			return err_set(err, errlen, "at most %d local runs", MAX_LOCAL);
		}
		a->local[a->nlocal++] = xstrdup(l[i]);
	}
	free_list(l);
	return 0;
}
static const struct opt_hooks local_hooks = {local_parse, NULL, NULL, NULL, NULL, NULL};

#define A(f) offsetof(struct train_args, f)
static const struct opt_def train_opts[] = {
	CMD_OPTDEFS_COMMON(struct train_args, cc),
	{"local", 0, OPT_STRING, OPT_NOFIELD, "RUN...", "local runs (repeat or comma list), cheapest first when "
	 "their energy is unknown", NULL, 0, 0, 0, NULL, NULL, &local_hooks},
	{"cloud", 0, OPT_STRING, A(cloud), "RUN", "the cloud run on the same items", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"out", 'o', OPT_STRING, A(out), "FILE", "the router file to write (train)", NULL, 0, 0, 0, NULL, NULL, NULL},
	{"router", 0, OPT_STRING, A(router), "FILE", "the router file to evaluate (simulate)", NULL, 0, 0, 0, NULL, NULL,
	 NULL},
	{"holdout", 0, OPT_DOUBLE, A(holdout), "F", "share of items held out for the evaluation (default 0.3)", NULL,
	 0.05, 0.9, OPT_BOUNDED, NULL, "a share in 0.05..0.9", NULL},
	{"threshold", 0, OPT_DOUBLE, A(threshold), "P", "the router's default probability threshold (default 0.5)",
	 NULL, 0, 1, OPT_BOUNDED, NULL, "a probability 0..1", NULL},
	{"seed", 0, OPT_ULL, A(seed), "N", "seed of the split and of the fit", NULL, 0, 0, 0, NULL, NULL,
	 &cmd_seed_hooks},
	{"allow-estimated", 0, OPT_FLAG, A(allow_estimated), NULL, "mix runs with estimated and measured energy",
	 NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(train_opts) / sizeof(train_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw route train --local RUN... --cloud RUN --out FILE [--holdout F] [--threshold P] "
		"[--seed N]\n       ipw route simulate --router FILE [--local RUN... --cloud RUN] [--threshold P]\n"
		"train fits a predictor of each local run's correctness from the item text (hashed words and\n"
		"character 3-grams, logistic regression, Platt-calibrated) and reports it on held-out items;\n"
		"simulate --router applies the file's real decisions to the runs' shared items.\n\n");
	opt_usage(f, train_opts, NOPTS);
}

/* Model name of a run: the server's name without a directory or ".gguf". */
static char *run_model_name(const struct run_record *r)
{
	const char *m = r->server_model && *r->server_model ? r->server_model : r->model ? r->model : "";
	const char *b = strrchr(m, '/');
	size_t n;
	b = b ? b + 1 : m;
	n = strlen(b);
	if (n > 5 && !strcmp(b + n - 5, ".gguf"))
		n -= 5;
	return xasprintf("%.*s", (int)n, b);
}

struct job {
	struct train_args *a;
	struct store st;
	struct run_record runs[MAX_LOCAL + 1];
	struct run_items items[MAX_LOCAL + 1];
	struct itable t;
	size_t nr;
};

static int job_load(struct job *j, char *err, size_t errlen)
{
	for (size_t k = 0; k < j->nr; k++) {
		const char *spec = k < j->a->nlocal ? j->a->local[k] : j->a->cloud;
		int rc = cmd_run_get(&j->a->cc, &j->st, spec, &j->runs[k]);
		if (rc)
			return rc;
		if (items_load(&j->st, j->runs[k].id, &j->items[k], err, errlen) < 0) {
			fprintf(stderr, "ipw route: run %s: %s\n", spec, err);
			return EXIT_INPUT;
		}
	}
	if (runs_check_estimated(j->runs, j->nr, j->a->allow_estimated, err, errlen) < 0) {
		fprintf(stderr, "ipw route: %s\n", err);
		return EXIT_INPUT;
	}
	table_build(j->items, j->nr, &j->t);
	if (j->t.n < 10) {
		fprintf(stderr, "ipw route: the runs share only %zu scored items (at least 10 are needed; score them "
			"with ipw score)\n", j->t.n);
		return EXIT_INPUT;
	}
	return 0;
}

/* The evaluation over sel at the default threshold and the curve; prints and returns the report. */
static json_t *report(struct job *j, const struct learn_router *lr, const int *model_of, const size_t *sel,
		      size_t nsel, double thr, const char *what)
{
	size_t nl = j->nr - 1;
	double **p = xcalloc(nl, sizeof(*p));
	struct point at, pt;
	json_t *curve = json_array(), *models = json_array(), *rep;
	for (size_t k = 0; k < nl; k++) {
		int *y = xcalloc(nsel + 1, sizeof(*y));
		double auc;
		p[k] = xcalloc(nsel + 1, sizeof(**p));
		for (size_t s = 0; s < nsel; s++) {
			const long *row = j->t.ix + sel[s] * j->t.nruns;
			p[k][s] = learn_predict(&lr->models[model_of[k]], j->items[0].prompts[row[0]]);
			y[s] = j->items[k].correct[row[k]] == 1;
		}
		auc = learn_auc(p[k], y, nsel);
		printf("  local %s (run %s): AUC ", lr->models[model_of[k]].tier_model, j->runs[k].id);
		if (isfinite(auc))
			printf("%.3f", auc);
		else
			printf("- (one class only)");
		printf(" on %zu %s items", nsel, what);
		if (isfinite(lr->models[model_of[k]].j_per_token))
			printf(", %.4g J/token", lr->models[model_of[k]].j_per_token);
		printf("\n");
		json_array_append_new(models, json_pack("{s:s,s:s,s:o}", "model", lr->models[model_of[k]].tier_model,
							"run", j->runs[k].id, "auc",
							isfinite(auc) ? json_real(auc) : json_null()));
		free(y);
	}
	evaluate(lr, model_of, j->items, nl, &j->t, sel, nsel, p, thr, &at);
	printf("  at threshold %.2f: local share %.1f%%, accuracy %.1f%% (a random router at this share: %.1f%%), "
	       "recall %.3f (one-sided: locally answerable items kept local), routing accuracy %.3f (two-sided)",
	       thr, 100 * at.share, 100 * at.acc, 100 * at.random_acc, at.recall, at.two_sided);
	if (isfinite(at.saved))
		printf(", energy saved vs all-cloud %.1f%%", 100 * at.saved);
	printf("\n  threshold  local share  accuracy  random router  energy saved  recall  two-sided\n");
	for (int i = 0; i <= CURVE_STEPS; i++) {
		evaluate(lr, model_of, j->items, nl, &j->t, sel, nsel, p, (double)i / CURVE_STEPS, &pt);
		point_text(&pt);
		json_array_append_new(curve, point_json(&pt));
	}
	rep = json_pack("{s:s,s:I,s:o,s:o,s:o}", "evaluated_on", what, "items", (json_int_t)nsel, "models", models,
			"at_threshold", point_json(&at), "curve", curve);
	for (size_t k = 0; k < nl; k++)
		free(p[k]);
	free(p);
	return rep;
}

static int do_train(struct job *j, char *err, size_t errlen)
{
	struct train_args *a = j->a;
	size_t nl = j->nr - 1, ntest = 0, nfit = 0, ncal = 0;
	size_t *test = xcalloc(j->t.n, sizeof(*test));
	struct learn_router lr;
	int model_of[MAX_LOCAL];
	int rc = 0;
	json_t *rep, *runs = json_array();

	memset(&lr, 0, sizeof(lr));
	lr.version = 1;
	lr.cloud_run = xstrdup(j->runs[nl].id);
	lr.threshold = a->threshold;
	lr.nmodels = nl;
	lr.models = xcalloc(nl, sizeof(*lr.models));
	for (size_t i = 0; i < j->t.n; i++)
		if (split_u(j->items[0].ids[j->t.ix[i * j->t.nruns]], a->seed, 0) < a->holdout)
			test[ntest++] = i;
	for (size_t k = 0; k < nl; k++) {
		struct learn_example *fit = xcalloc(j->t.n, sizeof(*fit)), *cal = xcalloc(j->t.n, sizeof(*cal));
		struct learn_model *m = &lr.models[k];
		nfit = ncal = 0;
		for (size_t i = 0; i < j->t.n; i++) {
			const long *row = j->t.ix + i * j->t.nruns;
			const char *id = j->items[0].ids[row[0]];
			struct learn_example e = {j->items[0].prompts[row[0]], j->items[k].correct[row[k]] == 1};
			if (split_u(id, a->seed, 0) < a->holdout)
				continue;
			if (split_u(id, a->seed, 1) < 0.25)
				cal[ncal++] = e;
			else
				fit[nfit++] = e;
		}
		m->tier_model = run_model_name(&j->runs[k]);
		m->run_id = xstrdup(j->runs[k].id);
		m->j_per_token = j->items[k].tok_sum > 0 ? j->items[k].j_sum / (double)j->items[k].tok_sum : NAN;
		learn_fit(m, fit, nfit, cal, ncal, a->seed + k);
		model_of[k] = (int)k;
		free(fit);
		free(cal);
	}
	printf("router: %zu local model%s, cloud run %s; %zu shared scored items: %zu to fit, %zu to calibrate, %zu "
	       "held out (seed %llu)\n", nl, nl == 1 ? "" : "s", j->runs[nl].id, j->t.n, nfit, ncal, ntest, a->seed);
	rep = report(j, &lr, model_of, test, ntest, a->threshold, "held-out");
	for (size_t k = 0; k < j->nr; k++)
		json_array_append_new(runs, json_pack("{s:s,s:s?,s:s}", "id", j->runs[k].id, "name", j->runs[k].name,
						      "role", k < nl ? "local" : "cloud"));
	json_object_set_new(rep, "training_runs", runs);
	json_object_set_new(rep, "holdout", json_real(a->holdout));
	json_object_set_new(rep, "seed", json_integer((json_int_t)a->seed));
	json_object_set_new(rep, "items_fit", json_integer((json_int_t)nfit));
	json_object_set_new(rep, "items_calibrate", json_integer((json_int_t)ncal));
	json_object_set_new(rep, "ipw_version", json_string(IPW_VERSION));
	lr.report = rep;
	if (learn_router_save(&lr, a->out, err, errlen) < 0) {
		fprintf(stderr, "ipw route train: %s\n", err);
		rc = EXIT_ENV;
	} else {
		printf("wrote %s (router file version %d)\n", a->out, lr.version);
	}
	learn_router_release(&lr);
	free(test);
	return rc;
}

static int do_simulate(struct job *j, const struct learn_router *lr, char *err, size_t errlen)
{
	size_t nl = j->nr - 1, *all = xcalloc(j->t.n, sizeof(*all));
	int model_of[MAX_LOCAL];
	json_t *rep;
	for (size_t k = 0; k < nl; k++) {
		char *name = run_model_name(&j->runs[k]);
		model_of[k] = -1;
		for (size_t m = 0; m < lr->nmodels; m++)
			if (!strcmp(lr->models[m].run_id, j->runs[k].id) || !strcmp(lr->models[m].tier_model, name))
				model_of[k] = model_of[k] < 0 ? (int)m : model_of[k];
		if (model_of[k] < 0) {
			fprintf(stderr, "ipw route simulate: the router file has no predictor for run %s (%s)\n",
				j->runs[k].id, name);
			free(name);
			free(all);
			return EXIT_INPUT;
		}
		free(name);
	}
	for (size_t i = 0; i < j->t.n; i++)
		all[i] = i;
	printf("router file %s on %zu shared scored items of runs", j->a->router, j->t.n);
	for (size_t k = 0; k < j->nr; k++)
		printf(" %s", j->runs[k].id);
	printf(" (the router's own decisions, not an assumed p)\n");
	rep = report(j, lr, model_of, all, j->t.n, isfinite(j->a->threshold) ? j->a->threshold : lr->threshold, "all");
	json_decref(rep);
	free(all);
	(void)err;
	(void)errlen;
	return 0;
}

static int run_cmd(int argc, char **argv, int simulate)
{
	struct train_args a;
	struct job j;
	struct learn_router lr;
	char err[IPW_ERRLEN];
	int rc, first = 0, have_lr = 0;

	memset(&a, 0, sizeof(a));
	memset(&j, 0, sizeof(j));
	memset(&lr, 0, sizeof(lr));
	cmd_common_init(&a.cc, simulate ? "route simulate" : "route train", OUT_TEXT, OUT_TEXT);
	a.holdout = 0.3;
	a.threshold = simulate ? NAN : 0.5;
	a.seed = 1;
	if ((rc = cmd_opt_parse(&a.cc, train_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		goto out;
	for (int i = first; i < argc && a.nlocal < MAX_LOCAL; i++)
		a.local[a.nlocal++] = xstrdup(argv[i]);
	if (simulate) {
		if (learn_router_load(&lr, a.router, err, sizeof(err)) < 0) {
			fprintf(stderr, "ipw route simulate: %s\n", err);
			rc = EXIT_INPUT;
			goto out;
		}
		have_lr = 1;
		if (!a.nlocal) /* the training runs */
			for (size_t m = 0; m < lr.nmodels && a.nlocal < MAX_LOCAL; m++)
				a.local[a.nlocal++] = xstrdup(lr.models[m].run_id);
		if (!a.cloud)
			a.cloud = lr.cloud_run;
	} else if (!a.out) {
		fprintf(stderr, "ipw route train: give --out FILE\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (!a.nlocal || !a.cloud) {
		fprintf(stderr, "ipw route: name the local runs (--local RUN...) and the cloud run (--cloud RUN)\n");
		rc = EXIT_USAGE;
		goto out;
	}
	j.a = &a;
	j.nr = a.nlocal + 1;
	if ((rc = cmd_store_open(&a.cc, &j.st, CMD_STORE_READ)))
		goto out;
	rc = job_load(&j, err, sizeof(err));
	if (!rc)
		rc = simulate ? do_simulate(&j, &lr, err, sizeof(err)) : do_train(&j, err, sizeof(err));
	for (size_t k = 0; k < j.nr; k++) {
		run_record_release(&j.runs[k]);
		items_release(&j.items[k]);
	}
	free(j.t.ix);
	store_close(&j.st);
out:
	for (size_t k = 0; k < a.nlocal; k++)
		free((char *)a.local[k]);
	if (have_lr)
		learn_router_release(&lr);
	return rc == CMD_PARSE_HELP ? 0 : rc;
}

int cmd_route_train(int argc, char **argv)
{
	return run_cmd(argc, argv, 0);
}

int cmd_route_simulate_router(int argc, char **argv)
{
	return run_cmd(argc, argv, 1);
}
