/*
 * analysis/merge.c - the runs merged by item id (one store cursor per run, so
 * memory does not grow with the number of runs) and one run's queries loaded
 * in memory for the per-run analyses. See analysis.h.
 */
#include "analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- merging runs by item id ---- */

int analysis_merge_open(struct analysis_merge *m, struct store *s, const char *const *run_ids, size_t n,
			int intersect, char *err, size_t errlen)
{
	return analysis_merge_open_fields(m, s, run_ids, n, intersect, STORE_ITEM_ALL, err, errlen);
}

int analysis_merge_open_fields(struct analysis_merge *m, struct store *s, const char *const *run_ids, size_t n,
			       int intersect, unsigned fields, char *err, size_t errlen)
{
	int rc = -1;

	memset(m, 0, sizeof(*m));
	m->s = s;
	m->n = n;
	m->run_ids = run_ids;
	m->intersect = intersect;
	m->cur = xcalloc(n ? n : 1, sizeof(*m->cur));
	m->it = xcalloc(n ? n : 1, sizeof(*m->it));
	m->live = xcalloc(n ? n : 1, sizeof(*m->live));
	m->advance = xcalloc(n ? n : 1, sizeof(*m->advance));
	for (size_t i = 0; i < n; i++) {
		int k;
		if ((rc = store_items_open_fields(s, run_ids[i], fields, &m->cur[i], err, errlen)) < 0)
			goto out;
		if ((k = store_items_next(&m->cur[i], &m->it[i], err, errlen)) < 0) {
			rc = k;
			goto out;
		}
		m->live[i] = k;
	}
	rc = 0;
out:
	if (rc < 0)
		analysis_merge_close(m);
	return rc;
}

void analysis_merge_close(struct analysis_merge *m)
{
	for (size_t i = 0; m->cur && i < m->n; i++)
		store_items_close(&m->cur[i]);
	free(m->cur);
	free(m->it);
	free(m->live);
	free(m->advance);
	m->cur = NULL;
	m->it = NULL;
	m->live = NULL;
	m->advance = NULL;
}

static int merge_step(struct analysis_merge *m, size_t i, char *err, size_t errlen)
{
	int k = store_items_next(&m->cur[i], &m->it[i], err, errlen);
	if (k < 0)
		return k;
	m->live[i] = k;
	return 0;
}

/* Whether cursor i stands at item id. */
static int at(const struct analysis_merge *m, size_t i, const char *id)
{
	return m->live[i] && !strcmp(m->it[i].item_id, id);
}

/* The smallest current item id (NULL when every cursor is done) and the first cursor at it. */
static const char *merge_min(const struct analysis_merge *m, size_t *first)
{
	const char *min = NULL;
	for (size_t i = 0; i < m->n; i++)
		if (m->live[i] && (!min || strcmp(m->it[i].item_id, min) < 0)) {
			min = m->it[i].item_id;
			*first = i;
		}
	return min;
}

static int missing_error(const struct analysis_merge *m, const char *min, size_t first, char *err, size_t errlen)
{
	size_t miss = 0;
	while (miss < m->n && at(m, miss, min))
		miss++;
	return err_set(err, errlen, "item '%s' of run %s is not in run %s (the runs must cover the "
		       "same items; pass --intersect to use only the items every run has)",
		       min, m->run_ids[first], m->run_ids[miss]);
}

/* Drops item min from the runs that have it. */
static int drop(struct analysis_merge *m, const char *min, size_t first, char *err, size_t errlen)
{
	m->n_dropped++;
	for (size_t i = 0; i < m->n; i++) {
		/* min points into cursor first's row: move the others first */
		if (i != first && at(m, i, min) && merge_step(m, i, err, errlen) < 0)
			return -1;
	}
	return merge_step(m, first, err, errlen);
}

int analysis_merge_next(struct analysis_merge *m, const struct store_item **items, char *err, size_t errlen)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->advance[i] && merge_step(m, i, err, errlen) < 0)
			return -1;
		m->advance[i] = 0;
	}
	for (;;) {
		size_t have = 0, first = 0;
		const char *min = merge_min(m, &first);

		if (!min)
			return 0;
		for (size_t i = 0; i < m->n; i++)
			have += (size_t)at(m, i, min);
		if (have == m->n) {
			for (size_t i = 0; i < m->n; i++) {
				items[i] = &m->it[i];
				m->advance[i] = 1;
			}
			return 1;
		}
		if (!m->intersect)
			return missing_error(m, min, first, err, errlen);
		if (drop(m, min, first, err, errlen) < 0)
			return -1;
	}
}

/* ---- one run in memory ---- */

/*
 * The subjects seen so far, found by hash (open addressing, at most half
 * full) rather than by comparing with each: d->subjects keeps the order of
 * first appearance.
 */
struct interner {
	size_t *slot;     /* index + 1 into d->subjects, 0 empty */
	size_t cap;       /* a power of two */
};

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void intern_grow(struct interner *t, const struct run_data *d)
{
	free(t->slot);
	t->cap = t->cap ? 2 * t->cap : 64;
	t->slot = xcalloc(t->cap, sizeof(*t->slot));
	for (size_t i = 0; i < d->nsubjects; i++) {
		size_t h = str_hash(d->subjects[i]) & (t->cap - 1);
		while (t->slot[h])
			h = (h + 1) & (t->cap - 1);
		t->slot[h] = i + 1;
	}
}

static const char *intern(struct run_data *d, struct interner *t, const char *s)
{
	size_t h;

	if (2 * (d->nsubjects + 1) > t->cap)
		intern_grow(t, d);
	for (h = str_hash(s) & (t->cap - 1); t->slot[h]; h = (h + 1) & (t->cap - 1))
		if (!strcmp(d->subjects[t->slot[h] - 1], s))
			return d->subjects[t->slot[h] - 1];
	d->subjects = xrealloc(d->subjects, (d->nsubjects + 1) * sizeof(*d->subjects));
	d->subjects[d->nsubjects] = xstrdup(s);
	t->slot[h] = ++d->nsubjects;
	return d->subjects[d->nsubjects - 1];
}

static double tok(long long v)
{
	return v < 0 ? NAN : (double)v;
}

int run_data_load(struct store *s, const char *run_id, struct run_data *d, char *err, size_t errlen)
{
	return run_data_load_fields(s, run_id, STORE_ITEM_ALL, d, err, errlen);
}

int run_data_load_fields(struct store *s, const char *run_id, unsigned fields, struct run_data *d, char *err,
			 size_t errlen)
{
	struct store_cursor c;
	struct store_item it;
	struct interner names = {NULL, 0};
	const char *prev = NULL;   /* the last item's subject, interned */
	size_t cap = 0;
	int rc, k;

	memset(d, 0, sizeof(*d));
	if ((rc = store_items_open_fields(s, run_id, fields, &c, err, errlen)) < 0)
		return rc;
	while ((k = store_items_next(&c, &it, err, errlen)) == 1) {
		size_t i = d->n;
		if (i == cap) {
			cap = cap ? 2 * cap : 256;
			d->acc = xrealloc(d->acc, cap * sizeof(*d->acc));
			d->failed = xrealloc(d->failed, cap * sizeof(*d->failed));
			d->energy_j = xrealloc(d->energy_j, cap * sizeof(double));
			d->dynamic_j = xrealloc(d->dynamic_j, cap * sizeof(double));
			d->latency_s = xrealloc(d->latency_s, cap * sizeof(double));
			d->ttft_s = xrealloc(d->ttft_s, cap * sizeof(double));
			d->prompt_tokens = xrealloc(d->prompt_tokens, cap * sizeof(double));
			d->output_tokens = xrealloc(d->output_tokens, cap * sizeof(double));
			d->t_send_s = xrealloc(d->t_send_s, cap * sizeof(double));
			d->t_end_s = xrealloc(d->t_end_s, cap * sizeof(double));
			d->subject = xrealloc(d->subject, cap * sizeof(*d->subject));
		}
		d->acc[i] = it.correct;
		d->failed[i] = !it.ok;
		d->energy_j[i] = it.accel_j;
		d->dynamic_j[i] = it.accel_dyn_j;
		d->latency_s[i] = it.e2e_s;
		d->ttft_s[i] = it.ttft_s;
		d->prompt_tokens[i] = tok(it.prompt_tokens);
		d->output_tokens[i] = tok(it.completion_tokens);
		d->t_send_s[i] = it.t_send_s;
		d->t_end_s[i] = it.t_end_s;
		if (!prev || strcmp(prev, it.subject))
			prev = intern(d, &names, it.subject);
		d->subject[i] = prev;
		d->n++;
	}
	free(names.slot);
	store_items_close(&c);
	if (k < 0) {
		run_data_release(d);
		return -1;
	}
	return 0;
}

void run_data_from_rows(const struct agg_rows *rows, struct run_data *d)
{
	struct interner names = {NULL, 0};
	const char *prev = NULL, *prev_row = NULL;
	size_t n = rows->n ? rows->n : 1;

	memset(d, 0, sizeof(*d));
	d->acc = xmalloc(n * sizeof(*d->acc));
	d->failed = xmalloc(n * sizeof(*d->failed));
	d->energy_j = xmalloc(n * sizeof(double));
	d->dynamic_j = xmalloc(n * sizeof(double));
	d->latency_s = xmalloc(n * sizeof(double));
	d->ttft_s = xmalloc(n * sizeof(double));
	d->prompt_tokens = xmalloc(n * sizeof(double));
	d->output_tokens = xmalloc(n * sizeof(double));
	d->t_send_s = xmalloc(n * sizeof(double));
	d->t_end_s = xmalloc(n * sizeof(double));
	d->subject = xmalloc(n * sizeof(*d->subject));
	for (size_t i = 0; i < rows->n; i++) {
		const struct agg_row *r = &rows->v[i];
		const char *subj = r->subject ? r->subject : "";
		d->acc[i] = r->correct;
		d->failed[i] = !r->ok;
		d->energy_j[i] = r->accel_j;
		d->dynamic_j[i] = r->accel_dyn_j;
		d->latency_s[i] = r->e2e_s;
		d->ttft_s[i] = r->ttft_s;
		d->prompt_tokens[i] = tok(r->prompt_tokens);
		d->output_tokens[i] = tok(r->completion_tokens);
		d->t_send_s[i] = r->t_send_s;
		d->t_end_s[i] = r->t_end_s;
		if (subj != prev_row) {   /* rows' subjects are interned: one pointer per name */
			prev = intern(d, &names, subj);
			prev_row = subj;
		}
		d->subject[i] = prev;
	}
	d->n = rows->n;
	free(names.slot);
}

void run_data_release(struct run_data *d)
{
	free(d->acc);
	free(d->failed);
	free(d->energy_j);
	free(d->dynamic_j);
	free(d->latency_s);
	free(d->ttft_s);
	free(d->prompt_tokens);
	free(d->output_tokens);
	free(d->t_send_s);
	free(d->t_end_s);
	free(d->subject);
	for (size_t i = 0; i < d->nsubjects; i++)
		free(d->subjects[i]);
	free(d->subjects);
	memset(d, 0, sizeof(*d));
}

void run_data_metrics_input(const struct run_data *d, struct metrics_input *in)
{
	memset(in, 0, sizeof(*in));
	in->n = d->n;
	in->acc = d->acc;
	in->energy_j = d->energy_j;
	in->dynamic_j = d->dynamic_j;
	in->latency_s = d->latency_s;
	in->failed = d->failed;
	in->subject = d->subject;
	in->tokens = d->output_tokens;
}
