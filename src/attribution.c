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

/*
 * The slice boundaries: t0, t1, the grid and every request time inside the
 * span, sorted and unique (caller frees); *nb gets their number.
 */
static int64_t *boundaries(const struct attr_req *r, size_t n, int64_t t0, int64_t t1, int64_t grid_ns,
			   size_t *nb)
{
	size_t cap = 2 + 3 * n + (grid_ns > 0 ? (size_t)((t1 - t0) / grid_ns) + 1 : 0), k = 0, nk = 0;
	int64_t *b = xmalloc(cap * sizeof(*b));
	b[k++] = t0;
	b[k++] = t1;
	if (grid_ns > 0)
		for (int64_t t = t0 + grid_ns; t < t1; t += grid_ns)
			b[k++] = t;
	for (size_t i = 0; i < n; i++) {
		const struct attr_req *q = &r[i];
		if (!active(q))
			continue;
		b[k++] = clip(q->t_send, t0, t1);
		b[k++] = clip(q->t_end, t0, t1);
		if (q->t_first > q->t_send && q->t_first < q->t_end)
			b[k++] = clip(q->t_first, t0, t1);
	}
	qsort(b, k, sizeof(*b), cmp_i64);
	for (size_t u = 0; u < k; u++)
		if (!u || b[u] != b[u - 1])
			b[nk++] = b[u];
	*nb = nk;
	return b;
}

/* Prefill weights: prompt tokens relative to the mean of the known ones (1 when unknown). */
static double *prefill_weights(const struct attr_req *r, size_t n)
{
	double *wp = xmalloc((n + 1) * sizeof(*wp)), sum = 0, mean;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (r[i].prompt_tokens > 0) {
			sum += r[i].prompt_tokens;
			k++;
		}
	mean = k ? sum / (double)k : 0;
	for (size_t i = 0; i < n; i++)
		wp[i] = r[i].prompt_tokens > 0 && mean > 0 ? r[i].prompt_tokens / mean : 1;
	return wp;
}

/* The slices, their energies and weights, as the two passes share them. */
struct slices {
	const int64_t *b;
	const double *e, *wp;
	double *w;
	size_t nb;
	int64_t t0, t1;
};

/* Pass 0 adds request i's weight to each slice it is active in; pass 1 gives it its share. */
static void slice_pass(const struct slices *sl, const struct attr_req *q, size_t i, int pass, struct attr_out *out)
{
	size_t s0 = lower_bound(sl->b, sl->nb, clip(q->t_send, sl->t0, sl->t1));
	size_t s1 = lower_bound(sl->b, sl->nb, clip(q->t_end, sl->t0, sl->t1));
	for (size_t s = s0; s < s1; s++) {
		int prefill = !q->t_first || sl->b[s + 1] <= q->t_first;
		double wt = prefill ? sl->wp[i] : 1;
		if (!pass) {
			sl->w[s] += wt;
			continue;
		}
		out->req_j[i] += (sl->e[s + 1] - sl->e[s]) * wt / sl->w[s];
		if (out->req_s)
			out->req_s[i] += (double)(sl->b[s + 1] - sl->b[s]) / 1e9 * wt / sl->w[s];
	}
}

static void clear_out(struct attr_out *out, size_t n)
{
	out->idle_j = out->idle_s = out->total_j = 0;
	out->nslices = 0;
	for (size_t i = 0; i < n; i++) {
		out->req_j[i] = 0;
		if (out->req_s)
			out->req_s[i] = 0;
	}
}

int attribute_concurrent(const struct attr_req *r, size_t n, int64_t t0, int64_t t1, int64_t grid_ns,
			 attr_energy_fn energy, void *arg, struct attr_out *out, char *err, size_t errlen)
{
	struct slices sl;
	int64_t *b;
	double *e = NULL, *wp = NULL;
	size_t nb;
	int rc = -1;

	clear_out(out, n);
	if (t1 <= t0)
		return err_set(err, errlen, "attribution span is empty (%lld..%lld ns)", (long long)t0,
			       (long long)t1);
	b = boundaries(r, n, t0, t1, grid_ns, &nb);
	e = xmalloc(nb * sizeof(*e));
	for (size_t u = 0; u < nb; u++)
		if (energy(arg, b[u], &e[u]) < 0) {
			err_set(err, errlen, "the energy timeline does not cover %.3f s into the attributed span",
				(double)(b[u] - t0) / 1e9);
			goto out;
		}
	wp = prefill_weights(r, n);
	sl = (struct slices){.b = b, .e = e, .wp = wp, .w = xcalloc(nb, sizeof(double)), .nb = nb, .t0 = t0, .t1 = t1};
	for (int pass = 0; pass < 2; pass++) /* pass 0: each slice's total weight; pass 1: the shares */
		for (size_t i = 0; i < n; i++)
			if (active(&r[i]))
				slice_pass(&sl, &r[i], i, pass, out);
	for (size_t s = 0; s + 1 < nb; s++)
		if (sl.w[s] <= 0) {
			out->idle_j += e[s + 1] - e[s];
			out->idle_s += (double)(b[s + 1] - b[s]) / 1e9;
		}
	out->total_j = e[nb - 1] - e[0];
	out->nslices = nb - 1;
	free(sl.w);
	rc = 0;
out:
	free(b);
	free(e);
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
