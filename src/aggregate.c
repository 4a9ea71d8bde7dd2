/*
 * aggregate.c - aggregate.h: a run's rows from the store's iteration APIs
 * (queries and latest scores, or the item cursor), then every run-level
 * number from those rows through metrics.c (the paper's metrics and their
 * bootstrap), analysis.c's delta-method and order-statistic intervals, and
 * stats.c's quantiles. The one place the numbers of show, compare, runs and
 * report are computed.
 */
#include "aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "analysis.h"
#include "stats.h"
#include "util.h"

/* ---- rows ---- */

void agg_rows_init(struct agg_rows *r)
{
	memset(r, 0, sizeof(*r));
}

void agg_rows_release(struct agg_rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free((char *)r->v[i].item_id);
	free(r->v);
	for (size_t i = 0; i < r->nsubjects; i++)
		free(r->subjects[i]);
	free(r->subjects);
	memset(r, 0, sizeof(*r));
}

/* The rows' copy of subject s (runs have few subjects; the last one is tried first). */
static const char *intern(struct agg_rows *r, const char *s)
{
	if (!s)
		s = "";
	if (r->nsubjects && !strcmp(r->subjects[r->nsubjects - 1], s))
		return r->subjects[r->nsubjects - 1];
	for (size_t i = 0; i < r->nsubjects; i++)
		if (!strcmp(r->subjects[i], s))
			return r->subjects[i];
	r->subjects = xrealloc(r->subjects, (r->nsubjects + 1) * sizeof(*r->subjects));
	r->subjects[r->nsubjects] = xstrdup(s);
	return r->subjects[r->nsubjects++];
}

void agg_rows_add(struct agg_rows *r, const struct agg_row *row)
{
	struct agg_row *d;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 256;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	d = &r->v[r->n++];
	*d = *row;
	d->item_id = row->item_id ? xstrdup(row->item_id) : NULL;
	d->subject = intern(r, row->subject);
}

static int cmp_row(const void *a, const void *b)
{
	const char *x = ((const struct agg_row *)a)->item_id, *y = ((const struct agg_row *)b)->item_id;
	return strcmp(x ? x : "", y ? y : "");
}

void agg_rows_sort(struct agg_rows *r)
{
	if (r->n > 1)
		qsort(r->v, r->n, sizeof(*r->v), cmp_row);
}

/* ---- loading: the store's queries and latest scores ---- */

struct score_entry {
	char *item_id;
	int correct;
};

struct load_ctx {
	struct agg_rows *rows;
	struct score_entry *sc;
	size_t nsc, capsc;
};

static int add_score(const char *item_id, int correct, void *vctx)
{
	struct load_ctx *c = vctx;
	if (c->nsc == c->capsc) {
		c->capsc = c->capsc ? 2 * c->capsc : 64;
		c->sc = xrealloc(c->sc, c->capsc * sizeof(*c->sc));
	}
	c->sc[c->nsc].item_id = xstrdup(item_id);
	c->sc[c->nsc].correct = correct == 0 || correct == 1 ? correct : -1;
	c->nsc++;
	return 0;
}

static int cmp_score(const void *a, const void *b)
{
	return strcmp(((const struct score_entry *)a)->item_id, ((const struct score_entry *)b)->item_id);
}

static int latest_correct(const struct load_ctx *c, const char *item_id)
{
	struct score_entry key = {(char *)item_id, 0}, *e;
	if (!c->nsc)
		return -1;
	e = bsearch(&key, c->sc, c->nsc, sizeof(*c->sc), cmp_score);
	return e ? e->correct : -1;
}

static int add_query(const struct query_record *q, void *vctx)
{
	struct load_ctx *c = vctx;
	struct agg_row r = {
		.item_id = q->item_id, .subject = q->subject, .ok = q->status && !strcmp(q->status, "ok"),
		.correct = latest_correct(c, q->item_id ? q->item_id : ""),
		.accel_j = q->accel_j, .accel_dyn_j = q->accel_dyn_j, .host_j = q->host_j, .total_j = q->total_j,
		.power_w = q->avg_power_w, .e2e_s = q->e2e_s, .ttft_s = q->ttft_s, .tpot_s = q->tpot_s,
		.prompt_tokens = q->prompt_tokens, .completion_tokens = q->completion_tokens,
		.reasoning_tokens = q->reasoning_tokens, .t_send_s = q->t_send_s, .t_end_s = q->t_end_s,
		.logprob_sum = q->logprob_sum, .logprob_tokens = q->logprob_tokens,
	};
	agg_rows_add(c->rows, &r);
	return 0;
}

static int load_queries(struct store *s, const char *run_id, struct agg_rows *out, char *err, size_t errlen)
{
	struct load_ctx c = {out, NULL, 0, 0};
	int rc;

	if ((rc = store_scores_latest(s, run_id, add_score, &c, err, errlen)) < 0)
		goto out;
	if (c.nsc)
		qsort(c.sc, c.nsc, sizeof(*c.sc), cmp_score);
	if ((rc = store_queries_iter(s, run_id, add_query, &c, err, errlen)) < 0)
		goto out;
	agg_rows_sort(out);
	rc = 0;
out:
	for (size_t i = 0; i < c.nsc; i++)
		free(c.sc[i].item_id);
	free(c.sc);
	return rc;
}

/* The item cursor: already in item_id order, with each item's latest score. */
static int load_items(struct store *s, const char *run_id, struct agg_rows *out, char *err, size_t errlen)
{
	struct store_cursor c;
	struct store_item it;
	int rc, k;

	if ((rc = store_items_open_fields(s, run_id, STORE_ITEM_ALL, &c, err, errlen)) < 0)
		return rc;
	while ((k = store_items_next(&c, &it, err, errlen)) == 1) {
		struct agg_row r = {
			.item_id = NULL, .subject = it.subject, .ok = it.ok,  /* in order already: no id kept */
			.correct = it.correct == 0 || it.correct == 1 ? it.correct : -1,
			.accel_j = it.accel_j, .accel_dyn_j = it.accel_dyn_j, .host_j = NAN, .total_j = NAN,
			.power_w = NAN, .e2e_s = it.e2e_s, .ttft_s = it.ttft_s, .tpot_s = NAN,
			.prompt_tokens = it.prompt_tokens, .completion_tokens = it.completion_tokens,
			.reasoning_tokens = it.reasoning_tokens, .t_send_s = it.t_send_s, .t_end_s = it.t_end_s,
			.logprob_sum = it.logprob_sum, .logprob_tokens = it.logprob_tokens,
		};
		agg_rows_add(out, &r);
	}
	store_items_close(&c);
	return k < 0 ? -1 : 0;
}

int agg_rows_load(struct store *s, const char *run_id, enum agg_load from, struct agg_rows *out,
		  char *err, size_t errlen)
{
	agg_rows_init(out);
	return from == AGG_LOAD_ITEMS ? load_items(s, run_id, out, err, errlen)
				      : load_queries(s, run_id, out, err, errlen);
}

/* ---- totals ---- */

/* A sum and count over measured (finite) values. */
struct acc {
	double sum;
	long long n;
};

static void acc_add(struct acc *a, double v)
{
	if (isfinite(v)) {
		a->sum += v;
		a->n++;
	}
}

static void acc_count(struct acc *a, long long k)
{
	if (k >= 0)
		acc_add(a, (double)k);
}

static double acc_mean(const struct acc *a)
{
	return a->n ? a->sum / (double)a->n : NAN;
}

static double acc_sum(const struct acc *a)
{
	return a->n ? a->sum : NAN;
}

static long long acc_total(const struct acc *a)
{
	return a->n ? (long long)a->sum : -1;
}

/* The finite values of the ok rows' field at offset off, sorted; *n of them (caller frees). */
static double *ok_sorted(const struct agg_rows *rows, size_t off, size_t *n)
{
	double *v = xmalloc((rows->n ? rows->n : 1) * sizeof(*v));
	size_t k = 0;
	for (size_t i = 0; i < rows->n; i++) {
		double x = *(const double *)((const char *)&rows->v[i] + off);
		if (rows->v[i].ok && isfinite(x))
			v[k++] = x;
	}
	stats_sort(v, k);
	*n = k;
	return v;
}

/* p50 and p99 of the field at off; with keep, the sorted values are left in *keep (*nkeep of them). */
static void percentiles(const struct agg_rows *rows, size_t off, double *p50, double *p99, double **keep,
			size_t *nkeep)
{
	size_t n;
	double *v = ok_sorted(rows, off, &n);
	*p50 = stats_percentile_sorted(v, n, 50);
	*p99 = stats_percentile_sorted(v, n, 99);
	if (keep) {
		*keep = v;
		*nkeep = n;
	} else
		free(v);
}

/* agg_totals_compute; with e2e, the ok rows' sorted E2E latencies too (caller frees), sorted once. */
static void totals_compute(const struct agg_rows *rows, struct agg_totals *t, double **e2e_sorted, size_t *ne2e)
{
	struct acc accel_all = {0}, host_all = {0}, accel = {0}, dyn = {0}, host = {0}, total = {0};
	struct acc power = {0}, e2e = {0}, ttft = {0}, tpot = {0}, ptok = {0}, ctok = {0}, rtok = {0};

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < rows->n; i++) {
		const struct agg_row *r = &rows->v[i];
		t->n_queries++;
		acc_add(&accel_all, r->accel_j);
		acc_add(&host_all, r->host_j);
		if (!r->ok) {
			t->n_failed++;
			continue;
		}
		t->n_ok++;
		acc_add(&accel, r->accel_j);
		acc_add(&dyn, r->accel_dyn_j);
		acc_add(&host, r->host_j);
		acc_add(&total, r->total_j);
		acc_add(&power, r->power_w);
		acc_add(&e2e, r->e2e_s);
		acc_add(&ttft, r->ttft_s);
		acc_add(&tpot, r->tpot_s);
		acc_count(&ptok, r->prompt_tokens);
		acc_count(&ctok, r->completion_tokens);
		acc_count(&rtok, r->reasoning_tokens);
	}
	t->n_energy = accel.n;
	t->accel_j_total = acc_sum(&accel_all);
	t->host_j_total = acc_sum(&host_all);
	t->accel_j_mean = acc_mean(&accel);
	t->accel_dyn_j_mean = acc_mean(&dyn);
	t->host_j_mean = acc_mean(&host);
	t->total_j_mean = acc_mean(&total);
	t->power_mean_w = acc_mean(&power);
	t->e2e_mean_s = acc_mean(&e2e);
	t->ttft_mean_s = acc_mean(&ttft);
	t->tpot_mean_s = acc_mean(&tpot);
	percentiles(rows, offsetof(struct agg_row, e2e_s), &t->e2e_p50_s, &t->e2e_p99_s, e2e_sorted, ne2e);
	percentiles(rows, offsetof(struct agg_row, ttft_s), &t->ttft_p50_s, &t->ttft_p99_s, NULL, NULL);
	t->prompt_tokens = acc_total(&ptok);
	t->completion_tokens = acc_total(&ctok);
	t->reasoning_tokens = acc_total(&rtok);
	t->prompt_tokens_mean = acc_mean(&ptok);
	t->completion_tokens_mean = acc_mean(&ctok);
	t->reasoning_tokens_mean = acc_mean(&rtok);
}

void agg_totals_compute(const struct agg_rows *rows, struct agg_totals *t)
{
	totals_compute(rows, t, NULL, NULL);
}

/* ---- metrics ---- */

void agg_options_init(struct agg_options *o)
{
	memset(o, 0, sizeof(*o));
	metrics_options_init(&o->m);
	o->ci = AGG_CI_AUTO;
}

/* The rows as metrics.c's per-query arrays (output tokens for J/token). */
struct arrays {
	int *acc, *failed;
	double *e, *dyn, *lat, *tok;
	const char **subj;
};

static void arrays_fill(const struct agg_rows *rows, struct arrays *a, struct metrics_input *in)
{
	size_t n = rows->n ? rows->n : 1;
	a->acc = xmalloc(n * sizeof(int));
	a->failed = xmalloc(n * sizeof(int));
	a->e = xmalloc(n * sizeof(double));
	a->dyn = xmalloc(n * sizeof(double));
	a->lat = xmalloc(n * sizeof(double));
	a->tok = xmalloc(n * sizeof(double));
	a->subj = xmalloc(n * sizeof(char *));
	for (size_t i = 0; i < rows->n; i++) {
		const struct agg_row *r = &rows->v[i];
		a->acc[i] = r->correct;
		a->failed[i] = !r->ok;
		a->e[i] = r->accel_j;
		a->dyn[i] = r->accel_dyn_j;
		a->lat[i] = r->e2e_s;
		a->tok[i] = r->completion_tokens >= 0 ? (double)r->completion_tokens : NAN;
		a->subj[i] = r->subject;
	}
	*in = (struct metrics_input){rows->n, a->acc, a->e, a->dyn, a->lat, a->failed,
				     (const char *const *)a->subj, a->tok};
}

static void arrays_free(struct arrays *a)
{
	free(a->acc);
	free(a->failed);
	free(a->e);
	free(a->dyn);
	free(a->lat);
	free(a->tok);
	free(a->subj);
}

/* Delta-method intervals for one subject: its queries gathered into arrays of their own. */
static void subject_delta(const struct metrics_input *in, const char *subject, double level, struct metrics *m)
{
	struct arrays a;
	struct metrics_input s = {0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
	size_t n = in->n ? in->n : 1;

	a.acc = xmalloc(n * sizeof(int));
	a.failed = xmalloc(n * sizeof(int));
	a.e = xmalloc(n * sizeof(double));
	a.lat = xmalloc(n * sizeof(double));
	a.tok = xmalloc(n * sizeof(double));
	a.dyn = NULL;
	a.subj = NULL;
	for (size_t i = 0; i < in->n; i++) {
		if (strcmp(in->subject[i], subject))
			continue;
		a.acc[s.n] = in->acc[i];
		a.failed[s.n] = in->failed[i];
		a.e[s.n] = in->energy_j[i];
		a.lat[s.n] = in->latency_s[i];
		a.tok[s.n] = in->tokens[i];
		s.n++;
	}
	s.acc = a.acc, s.failed = a.failed, s.energy_j = a.e, s.latency_s = a.lat, s.tokens = a.tok;
	analysis_delta_ci(&s, level, m);
	arrays_free(&a);
}

/* The metrics, overall and (o->by_subject) per subject, with the interval method of o->ci. */
static int metrics_of(const struct metrics_input *in, const struct agg_options *o, struct agg_result *out,
		      char *err, size_t errlen)
{
	struct metrics_options point = o->m;

	point.bootstrap = 0;
	/* the point estimates first; they say how many queries the intervals rest on */
	if (metrics_compute(in, &point, &out->m, err, errlen) < 0)
		return -1;
	out->delta = o->ci == AGG_CI_DELTA || (o->ci == AGG_CI_AUTO && out->m.n_scored > AGG_CI_AUTO_MAX);
	if (out->delta)
		analysis_delta_ci(in, o->m.level, &out->m);
	else if (o->m.bootstrap > 0 && metrics_compute(in, &o->m, &out->m, err, errlen) < 0)
		return -1;
	if (!o->by_subject)
		return 0;
	if (metrics_by_subject(in, out->delta ? &point : &o->m, &out->subj, &out->nsubj, err, errlen) < 0)
		return -1;
	for (size_t i = 0; out->delta && i < out->nsubj; i++)
		subject_delta(in, out->subj[i].subject, o->m.level, &out->subj[i].m);
	return 0;
}

int agg_compute(const struct agg_rows *rows, const struct agg_options *o, struct agg_result *out,
		char *err, size_t errlen)
{
	struct agg_options defs;
	struct metrics_input in;
	struct arrays a;
	double *lat;
	size_t nl;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!o) {
		agg_options_init(&defs);
		o = &defs;
	}
	totals_compute(rows, &out->t, &lat, &nl);
	arrays_fill(rows, &a, &in);
	rc = metrics_of(&in, o, out, err, errlen);
	arrays_free(&a);
	/* the E2E latencies the totals sorted: the intervals' order statistics are of the same values */
	out->latency_p50 = analysis_percentile_ci(lat, nl, 50, o->m.level);
	out->latency_p99 = analysis_percentile_ci(lat, nl, 99, o->m.level);
	free(lat);
	if (rc < 0)
		agg_result_release(out);
	return rc;
}

void agg_result_release(struct agg_result *r)
{
	subject_metrics_free(r->subj, r->nsubj);
	r->subj = NULL;
	r->nsubj = 0;
}

int agg_run(struct store *s, const char *run_id, enum agg_load from, const struct agg_options *o,
	    struct agg_result *out, char *err, size_t errlen)
{
	struct agg_rows rows;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = agg_rows_load(s, run_id, from, &rows, err, errlen)) == 0)
		rc = agg_compute(&rows, o, out, err, errlen);
	agg_rows_release(&rows);
	return rc;
}

/* ---- comparison rows ---- */

/* "2x NVIDIA H200, Intel Xeon" from the run's accelerator-scope sources. */
static char *accelerator_of(const struct run_record *r)
{
	struct buf b;
	char *s;
	int *done = xcalloc((size_t)r->nsources + 1, sizeof(int));

	buf_init(&b, 0);
	for (int i = 0; i < r->nsources; i++) {
		const struct run_source *a = &r->sources[i];
		const char *name = a->model && *a->model ? a->model : a->name;
		int cnt = 0;
		if (done[i] || !a->scope || strcmp(a->scope, "accelerator") || !name)
			continue;
		for (int j = i; j < r->nsources; j++) {
			const struct run_source *o = &r->sources[j];
			const char *on = o->model && *o->model ? o->model : o->name;
			if (!done[j] && o->scope && !strcmp(o->scope, "accelerator") && on && !strcmp(on, name)) {
				done[j] = 1;
				cnt++;
			}
		}
		if (b.len)
			buf_appends(&b, ", ");
		if (cnt > 1)
			buf_appendf(&b, "%dx ", cnt);
		buf_appends(&b, name);
	}
	free(done);
	s = b.len ? buf_detach(&b) : NULL;
	buf_release(&b);
	return s;
}

static int concurrency_of(const struct run_record *r)
{
	json_t *c = r->config_json ? json_loads(r->config_json, 0, NULL) : NULL;
	json_t *v = c ? json_object_get(c, "concurrency") : NULL;
	int n = json_is_integer(v) ? (int)json_integer_value(v) : -1;
	json_decref(c);
	return n;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? xstrdup(s) : NULL;
}

/* The device power of the rows, as analysis_device_power computes it from the run's items (the same order). */
static void rows_device_power(const struct agg_rows *rows, struct device_power *dev)
{
	size_t n = rows->n ? rows->n : 1;
	int *acc = xmalloc(n * sizeof(*acc)), *failed = xmalloc(n * sizeof(*failed));
	double *e = xmalloc(n * sizeof(*e)), *lat = xmalloc(n * sizeof(*lat));
	double *t0 = xmalloc(n * sizeof(*t0)), *t1 = xmalloc(n * sizeof(*t1));
	struct metrics_input in;

	for (size_t i = 0; i < rows->n; i++) {
		const struct agg_row *r = &rows->v[i];
		acc[i] = r->correct;
		failed[i] = !r->ok;
		e[i] = r->accel_j;
		lat[i] = r->e2e_s;
		t0[i] = r->t_send_s;
		t1[i] = r->t_end_s;
	}
	memset(&in, 0, sizeof(in));
	in.n = rows->n;
	in.acc = acc;
	in.failed = failed;
	in.energy_j = e;
	in.latency_s = lat;
	metrics_device_power(&in, t0, t1, dev);
	free(acc);
	free(failed);
	free(e);
	free(lat);
	free(t0);
	free(t1);
}

int agg_compare_load(struct store *s, const char *ref, const struct agg_options *o, struct agg_compare *out,
		     char *err, size_t errlen)
{
	return agg_compare_load_power(s, ref, o, out, NULL, err, errlen);
}

int agg_compare_load_power(struct store *s, const char *ref, const struct agg_options *o, struct agg_compare *out,
			   struct device_power *dev, char *err, size_t errlen)
{
	return agg_compare_load_with(s, ref, o, out, dev, NULL, NULL, err, errlen);
}

int agg_compare_load_with(struct store *s, const char *ref, const struct agg_options *o, struct agg_compare *out,
			  struct device_power *dev, void (*with_rows)(const struct agg_rows *rows, void *ctx),
			  void *ctx, char *err, size_t errlen)
{
	struct run_record r;
	struct agg_rows rows;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if ((rc = store_run_get(s, ref, &r, err, errlen)) < 0)
		goto out;
	out->run_id = xstrdup(r.id);
	out->name = dup_or_null(r.name);
	out->model = dup_or_null(r.model);
	out->engine = dup_or_null(r.engine);
	out->accelerator = accelerator_of(&r);
	out->concurrency = concurrency_of(&r);
	if ((rc = agg_rows_load(s, r.id, AGG_LOAD_ITEMS, &rows, err, errlen)) == 0) {
		ppl_run_init(&out->ppl);
		for (size_t i = 0; i < rows.n; i++) {
			const struct agg_row *q = &rows.v[i];
			ppl_run_add_values(&out->ppl, q->ok, q->logprob_sum, q->logprob_tokens, q->accel_j, q->e2e_s);
		}
		if (dev)   /* before agg_compute, which may reorder the rows */
			rows_device_power(&rows, dev);
		if (with_rows)
			with_rows(&rows, ctx);
		rc = agg_compute(&rows, o, &out->r, err, errlen);
	}
	agg_rows_release(&rows);
out:
	run_record_release(&r);
	return rc;
}

void agg_compare_release(struct agg_compare *c)
{
	free(c->run_id);
	free(c->name);
	free(c->model);
	free(c->engine);
	free(c->accelerator);
	agg_result_release(&c->r);
	memset(c, 0, sizeof(*c));
}
