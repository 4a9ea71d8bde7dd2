/*
 * analysis/coverage.c - coverage of each run and best-of-N coverage over the
 * runs merged by item id, overall and per subject. Definitions:
 * docs/analysis.md.
 */
#include "analysis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* ---- coverage ---- */

double coverage_value(const struct coverage_counts *c)
{
	return c->scored > 0 ? (double)c->correct / (double)c->scored : NAN;
}

static void count_item(struct coverage_counts *c, const struct store_item *it)
{
	c->items++;
	if (!it->ok)
		c->failed++;
	else if (it->correct != 0 && it->correct != 1)
		c->unscored++;
	else {
		c->scored++;
		c->correct += it->correct;
	}
}

/* The subject entry for name, inserted in sorted position if new. */
static struct coverage_subject *subject_slot(struct coverage_result *r, const char *name)
{
	size_t lo = 0, hi = r->nsubj;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->subj[mid].subject, name);
		if (c == 0)
			return &r->subj[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	r->subj = xrealloc(r->subj, (r->nsubj + 1) * sizeof(*r->subj));
	memmove(&r->subj[lo + 1], &r->subj[lo], (r->nsubj - lo) * sizeof(*r->subj));
	memset(&r->subj[lo], 0, sizeof(r->subj[lo]));
	r->subj[lo].subject = xstrdup(name);
	r->subj[lo].run = xcalloc(r->nruns ? r->nruns : 1, sizeof(*r->subj[lo].run));
	r->nsubj++;
	return &r->subj[lo];
}

int analysis_coverage(struct store *s, const char *const *run_ids, size_t n, int intersect,
		      int (*uncovered)(const char *item_id, const char *subject, void *ctx), void *ctx,
		      struct coverage_result *out, char *err, size_t errlen)
{
	struct analysis_merge m;
	const struct store_item **items = xcalloc(n ? n : 1, sizeof(*items));
	int rc, k = 0;

	memset(out, 0, sizeof(*out));
	out->nruns = n;
	out->run = xcalloc(n ? n : 1, sizeof(*out->run));
	if ((rc = analysis_merge_open_fields(&m, s, run_ids, n, intersect, STORE_ITEM_SUBJECT, err, errlen)) < 0)
		goto out;
	while ((k = analysis_merge_next(&m, items, err, errlen)) == 1) {
		struct coverage_subject *sj = subject_slot(out, items[0]->subject);
		int any_scored = 0, any_correct = 0;

		out->n_items++;
		for (size_t i = 0; i < n; i++) {
			count_item(&out->run[i], items[i]);
			count_item(&sj->run[i], items[i]);
			if (items[i]->ok && (items[i]->correct == 0 || items[i]->correct == 1)) {
				any_scored = 1;
				any_correct |= items[i]->correct;
			}
		}
		out->best.items++;
		sj->best.items++;
		if (any_scored) {
			out->best.scored++;
			sj->best.scored++;
			out->best.correct += any_correct;
			sj->best.correct += any_correct;
		} else {
			out->best.unscored++;
			sj->best.unscored++;
		}
		if (any_scored && !any_correct) {
			out->n_uncovered++;
			if (uncovered && (k = uncovered(items[0]->item_id, items[0]->subject, ctx)) != 0)
				break;
		}
	}
	out->n_dropped = m.n_dropped;
	analysis_merge_close(&m);
	rc = k < 0 ? -1 : k;
out:
	free(items);
	if (rc != 0)
		coverage_result_release(out);
	return rc;
}

void coverage_result_release(struct coverage_result *r)
{
	for (size_t i = 0; i < r->nsubj; i++) {
		free(r->subj[i].subject);
		free(r->subj[i].run);
	}
	free(r->subj);
	free(r->run);
	memset(r, 0, sizeof(*r));
}
