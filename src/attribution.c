/*
 * attribution.c - splitting measured energy among overlapping requests
 * (the concurrent rule of docs/attribution.md) and the naive
 * nearest-sample rule it is validated against.
 */
#include "attribution.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"
#include "timeline.h"
#include "util.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Index of the first boundary >= t. */
static size_t lower_bound(const int64_t *b, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int active(const struct attr_req *q)
{
	return q->t_send && q->t_end && q->t_end > q->t_send;
}

static int64_t clip(int64_t t, int64_t lo, int64_t hi)
{
	return t < lo ? lo : t > hi ? hi : t;
}

int attribute_concurrent(const struct attr_req *r, size_t n, int64_t t0, int64_t t1, int64_t grid_ns,
			 attr_energy_fn energy, void *arg, struct attr_out *out, char *err, size_t errlen)
{
	int64_t *b = NULL;
	double *e = NULL, *w = NULL, *wp = NULL, mean_prompt = 0;
	size_t nb = 0, cap, nk = 0, u;
	int rc = -1;

	out->idle_j = out->idle_s = out->total_j = 0;
	out->nslices = 0;
	for (size_t i = 0; i < n; i++) {
		out->req_j[i] = 0;
		if (out->req_s)
			out->req_s[i] = 0;
	}
	if (t1 <= t0)
		return err_set(err, errlen, "attribution span is empty (%lld..%lld ns)", (long long)t0,
			       (long long)t1);
	cap = 2 + 3 * n + (grid_ns > 0 ? (size_t)((t1 - t0) / grid_ns) + 1 : 0);
	b = xmalloc(cap * sizeof(*b));
	b[nb++] = t0;
	b[nb++] = t1;
	if (grid_ns > 0)
		for (int64_t t = t0 + grid_ns; t < t1; t += grid_ns)
			b[nb++] = t;
	for (size_t i = 0; i < n; i++) {
		const struct attr_req *q = &r[i];
		if (!active(q))
			continue;
		b[nb++] = clip(q->t_send, t0, t1);
		b[nb++] = clip(q->t_end, t0, t1);
		if (q->t_first > q->t_send && q->t_first < q->t_end)
			b[nb++] = clip(q->t_first, t0, t1);
	}
	qsort(b, nb, sizeof(*b), cmp_i64);
	for (u = 0; u < nb; u++)
		if (!u || b[u] != b[u - 1])
			b[nk++] = b[u];
	nb = nk;
	e = xmalloc(nb * sizeof(*e));
	for (u = 0; u < nb; u++)
		if (energy(arg, b[u], &e[u]) < 0) {
			err_set(err, errlen, "the energy timeline does not cover %.3f s into the attributed span",
				(double)(b[u] - t0) / 1e9);
			goto out;
		}
	/* prefill weights: prompt tokens relative to the mean of the known ones */
	wp = xmalloc((n + 1) * sizeof(*wp));
	{
		double sum = 0;
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (r[i].prompt_tokens > 0) {
				sum += r[i].prompt_tokens;
				k++;
			}
		mean_prompt = k ? sum / (double)k : 0;
		for (size_t i = 0; i < n; i++)
			wp[i] = r[i].prompt_tokens > 0 && mean_prompt > 0 ? r[i].prompt_tokens / mean_prompt : 1;
	}
	/* pass 1: each slice's total weight */
	w = xcalloc(nb, sizeof(*w));
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			const struct attr_req *q = &r[i];
			size_t s0, s1;
			if (!active(q))
				continue;
			s0 = lower_bound(b, nb, clip(q->t_send, t0, t1));
			s1 = lower_bound(b, nb, clip(q->t_end, t0, t1));
			for (size_t s = s0; s < s1; s++) {
				int prefill = !q->t_first || b[s + 1] <= q->t_first;
				double wt = prefill ? wp[i] : 1;
				if (!pass) {
					w[s] += wt;
				} else {
					out->req_j[i] += (e[s + 1] - e[s]) * wt / w[s];
					if (out->req_s)
						out->req_s[i] += (double)(b[s + 1] - b[s]) / 1e9 * wt / w[s];
				}
			}
		}
	for (size_t s = 0; s + 1 < nb; s++)
		if (w[s] <= 0) {
			out->idle_j += e[s + 1] - e[s];
			out->idle_s += (double)(b[s + 1] - b[s]) / 1e9;
		}
	out->total_j = e[nb - 1] - e[0];
	out->nslices = nb - 1;
	rc = 0;
out:
	free(b);
	free(e);
	free(w);
	free(wp);
	return rc;
}

/* Index of the counter sample nearest t, or -1. */
static long nearest(const struct timeline *tl, int64_t t)
{
	long best = -1;
	int64_t bd = INT64_MAX;
	size_t lo = 0, hi = tl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tl->samples[mid].t_ns < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* search outward for the nearest samples that carry energy */
	for (long i = (long)lo; i < (long)tl->n; i++)
		if (tl->samples[i].valid & SAMPLE_ENERGY) {
			bd = tl->samples[i].t_ns - t;
			best = i;
			break;
		}
	for (long i = (long)lo - 1; i >= 0; i--)
		if (tl->samples[i].valid & SAMPLE_ENERGY) {
			if (t - tl->samples[i].t_ns <= bd)
				best = i;
			break;
		}
	return best;
}

double attribute_naive(const struct timeline *tl, int64_t t0, int64_t t1)
{
	long a = nearest(tl, t0), z = nearest(tl, t1);
	if (a < 0 || z < 0)
		return NAN;
	return tl->samples[z].energy_j - tl->samples[a].energy_j;
}
