/*
 * analysis/intervals.c - one interval method per figure: a table or plot over
 * several runs gives every row the same method (analysis/paper.h), decided
 * from the largest run's scored queries when the user asked for auto.
 */
#include "analysis/paper.h"

#include <string.h>

#include "util.h"

/* Scored queries of a run (ok, scored 0 or 1), from the item cursor. */
static int count_scored(struct store *s, const char *id, long long *n, char *err, size_t errlen)
{
	struct store_cursor c;
	struct store_item it;
	int k;

	*n = 0;
	if (store_items_open_fields(s, id, 0, &c, err, errlen) < 0)   /* ok and correct only */
		return -1;
	while ((k = store_items_next(&c, &it, err, errlen)) == 1)
		if (it.ok && (it.correct == 0 || it.correct == 1))
			(*n)++;
	store_items_close(&c);
	return k < 0 ? -1 : 0;
}

enum agg_ci analysis_ci_decide(enum agg_ci requested, long long most)
{
	if (requested != AGG_CI_AUTO)
		return requested;
	return most > AGG_CI_AUTO_MAX ? AGG_CI_DELTA : AGG_CI_BOOTSTRAP;
}

int analysis_figure_ci(struct store *s, char *const *ids, size_t n, enum agg_ci requested, enum agg_ci *out,
		       long long *max_scored, char *err, size_t errlen)
{
	long long most = 0;

	for (size_t i = 0; i < n && (requested == AGG_CI_AUTO || max_scored); i++) {
		long long k;
		if (count_scored(s, ids[i], &k, err, errlen) < 0)
			return -1;
		if (k > most)
			most = k;
	}
	*out = analysis_ci_decide(requested, most);
	if (max_scored)
		*max_scored = most;
	return 0;
}

const char *analysis_ci_name(enum agg_ci ci)
{
	return ci == AGG_CI_DELTA ? "delta" : ci == AGG_CI_BOOTSTRAP ? "bootstrap" : "auto";
}
