/*
 * analysis/levels.c - difficulty levels (analysis/paper.h): each item's level
 * is the smallest model size class that answers it right, with coverage of
 * each run by level, over the runs merged by item id.
 */
#include "analysis/paper.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "util.h"

static const struct kv_spec count_spec = {1, {NULL, NULL}, 1, 0, 0, "count", "", "a count"};

int analysis_level_bounds(const char *list, double **bounds, size_t *nb, char *err, size_t errlen)
{
	int k, rc = 0;
	char **parts = split_list(list, ',', &k);
	double *b = xcalloc((size_t)k + 1, sizeof(*b));

	for (int i = 0; i < k && rc == 0; i++)
		if (kv_number(&count_spec, parts[i], &b[i]) < 0 || !(b[i] > 0))
			rc = err_set(err, errlen, "size class bound '%s' is not a parameter count > 0 like 4B", parts[i]);
		else if (i > 0 && !(b[i] > b[i - 1]))
			rc = err_set(err, errlen, "size class bounds must ascend ('%s' follows '%s')", parts[i],
				     parts[i - 1]);
	if (rc == 0 && k == 0)
		rc = err_set(err, errlen, "no size class bounds given (e.g. 4B,14B,32B)");
	free_list(parts);
	if (rc < 0) {
		free(b);
		return rc;
	}
	*bounds = b;
	*nb = (size_t)k;
	return 0;
}

void level_result_release(struct level_result *r)
{
	free(r->bounds);
	free(r->run_class);
	free(r->items);
	free(r->scored);
	free(r->correct);
	free(r->power_sum);
	free(r->energy_sum);
	free(r->n_energy);
	memset(r, 0, sizeof(*r));
}

int analysis_levels(struct store *s, const char *const *ids, size_t n, const double *total, const double *bounds,
		    size_t nb, int intersect, struct level_result *out, char *err, size_t errlen)
{
	const struct store_item **items = xcalloc(n + 1, sizeof(*items));
	struct analysis_merge m;
	size_t nl = nb + 2;
	int rc = -1, k;

	memset(out, 0, sizeof(*out));
	out->nb = nb;
	out->nlevels = nl;
	out->nruns = n;
	out->bounds = xcalloc(nb + 1, sizeof(double));
	memcpy(out->bounds, bounds, nb * sizeof(double));
	out->run_class = xcalloc(n + 1, sizeof(int));
	out->items = xcalloc(nl, sizeof(long long));
	out->scored = xcalloc(n * nl + 1, sizeof(long long));
	out->correct = xcalloc(n * nl + 1, sizeof(long long));
	out->power_sum = xcalloc(n * nl + 1, sizeof(double));
	out->energy_sum = xcalloc(n * nl + 1, sizeof(double));
	out->n_energy = xcalloc(n * nl + 1, sizeof(long long));
	for (size_t i = 0; i < n; i++) {
		size_t c = 0;
		if (!(isfinite(total[i]) && total[i] > 0)) {
			err_set(err, errlen, "run %s has no total parameter count (the model metadata file's "
				"total_params); levels need every run's size", ids[i]);
			goto out;
		}
		while (c < nb && total[i] > bounds[c])
			c++;
		out->run_class[i] = (int)c;
	}
	if (analysis_merge_open(&m, s, ids, n, intersect, err, errlen) < 0)
		goto out;
	while ((k = analysis_merge_next(&m, items, err, errlen)) == 1) {
		int level = -1, any = 0;
		for (size_t i = 0; i < n; i++) {
			const struct store_item *it = items[i];
			if (!it->ok || (it->correct != 0 && it->correct != 1))
				continue;
			any = 1;
			if (it->correct == 1 && (level < 0 || out->run_class[i] < level))
				level = out->run_class[i];
		}
		out->n_items++;
		if (!any) {
			out->n_unscored++;
			continue;
		}
		if (level < 0)
			level = (int)nb + 1;
		out->items[level]++;
		for (size_t i = 0; i < n; i++) {
			const struct store_item *it = items[i];
			if (!it->ok || (it->correct != 0 && it->correct != 1))
				continue;
			size_t at = i * nl + (size_t)level;
			out->scored[at]++;
			out->correct[at] += it->correct;
			/* the queries whose energy counts, as analysis_rank_value counts them */
			if (isfinite(it->accel_j) && it->accel_j >= 0 && isfinite(it->e2e_s) && it->e2e_s > 0) {
				out->power_sum[at] += it->accel_j / it->e2e_s;
				out->energy_sum[at] += it->accel_j;
				out->n_energy[at]++;
			}
		}
	}
	out->n_dropped = m.n_dropped;
	analysis_merge_close(&m);
	if (k < 0)
		goto out;
	rc = 0;
out:
	free(items);
	if (rc < 0)
		level_result_release(out);
	return rc;
}
