/*
 * test_stats.c - src/stats.c on hand-computed values: the type-7 quantile,
 * sorting and finite filtering, the normal and Student's t quantiles; and
 * least squares, delta-method, percentile and order-statistic intervals
 * against values computed independently with numpy by
 * tests/data/stats/expected.py (its output is pasted below).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

Test(stats, quantile_interpolates_between_ranks)
{
	double x[] = {10, 20, 30, 40};
	/* h = 3p: p=0.5 -> h=1.5 -> 20 + 0.5*10 = 25 */
	cr_assert_float_eq(stats_quantile_sorted(x, 4, 0.5), 25, 1e-12);
	/* p=0.9 -> h=2.7 -> 30 + 0.7*10 = 37 */
	cr_assert_float_eq(stats_quantile_sorted(x, 4, 0.9), 37, 1e-12);
	cr_assert_float_eq(stats_quantile_sorted(x, 4, 0), 10, 0);
	cr_assert_float_eq(stats_quantile_sorted(x, 4, 1), 40, 0);
	cr_assert_float_eq(stats_quantile_sorted(x, 4, -1), 10, 0);
	cr_assert_float_eq(stats_percentile_sorted(x, 4, 99), 39.7, 1e-12);
	cr_assert_float_eq(stats_quantile_sorted(x, 1, 0.7), 10, 0);
	cr_assert(isnan(stats_quantile_sorted(x, 0, 0.5)));
}

Test(stats, sort_and_finite)
{
	double v[] = {3, NAN, 1, INFINITY, 2};
	size_t k = stats_finite(v, 5);
	cr_assert_eq(k, 3);
	stats_sort(v, k);
	cr_assert(v[0] == 1 && v[1] == 2 && v[2] == 3);
	stats_sort(NULL, 0);
}

Test(stats, normal_and_t_quantiles)
{
	cr_assert_float_eq(stats_norm_quantile(0.975), 1.959963985, 1e-9);
	cr_assert_float_eq(stats_norm_quantile(0.5), 0, 1e-15);
	cr_assert_float_eq(stats_norm_quantile(0.01), -2.326347874, 1e-9);
	cr_assert(isinf(stats_norm_quantile(1)) && stats_norm_quantile(1) > 0);
	cr_assert(isnan(stats_norm_quantile(1.5)));
	/* t with 1 df is Cauchy: quantile tan(pi (p - 1/2)) */
	cr_assert_float_eq(stats_t_quantile(0.75, 1), 1, 1e-9);
	cr_assert_float_eq(stats_t_quantile(0.975, 5), 2.570581836, 1e-8);
	cr_assert(isnan(stats_t_quantile(0.5, 0)));
}

/* expected.py: ols coef, se, lo, hi, r2, sigma (t(0.975, 3) = 3.182446305284263) */
Test(stats, ols_matches_numpy)
{
	double x1[] = {1, 2, 3, 4, 5, 6, 7}, x2[] = {2, 1, 4, 3, 6, 5, NAN};
	double y[] = {3.1, 3.9, 7.2, 7.8, 11.1, 11.9, 99};
	const double *x[] = {x1, x2};
	const double coef[] = {0.5000000000000003, 1.366666666666666, 0.6333333333333339};
	const double se[] = {0.06437016792364725, 0.028463752127665637, 0.028463752127665637};
	const double lo[] = {0.2951453969208616, 1.2760823038734495, 0.5427489705401173};
	const double hi[] = {0.704854603079139, 1.4572510294598826, 0.7239176961265504};
	struct stats_ols o;
	char err[160];

	cr_assert_eq(stats_ols(y, x, 2, 7, 0.95, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(o.n, 6);  /* the row with a NaN is left out */
	cr_assert_eq(o.k, 2);
	for (int j = 0; j < 3; j++) {
		cr_assert_float_eq(o.coef[j], coef[j], 1e-10, "coef %d", j);
		cr_assert_float_eq(o.se[j], se[j], 1e-10, "se %d", j);
		cr_assert_float_eq(o.lo[j], lo[j], 1e-9, "lo %d", j);
		cr_assert_float_eq(o.hi[j], hi[j], 1e-9, "hi %d", j);
	}
	cr_assert(isnan(o.coef[3]) && isnan(o.se[3]));
	cr_assert_float_eq(o.r2, 0.9997943021701121, 1e-12);
	cr_assert_float_eq(o.sigma, 0.06666666666666687, 1e-12);
}

Test(stats, ols_refuses_what_it_cannot_fit)
{
	double x1[] = {1, 2, 3, 4, 5}, x2[] = {2, 4, 6, 8, 10}, c[] = {3, 3, 3, 3, 3}, y[] = {1, 2, 3, 5, 4};
	const double *coll[] = {x1, x2}, *cons[] = {c}, *one[] = {x1};
	struct stats_ols o;
	char err[160];

	cr_assert_lt(stats_ols(y, coll, 2, 5, 0.95, &o, err, sizeof(err)), 0);
	cr_assert(strstr(err, "collinear"), "%s", err);
	cr_assert_lt(stats_ols(y, cons, 1, 5, 0.95, &o, err, sizeof(err)), 0);
	cr_assert_lt(stats_ols(y, one, 1, 2, 0.95, &o, err, sizeof(err)), 0);
	cr_assert(strstr(err, "2 usable observations, need at least 3"), "%s", err);
	cr_assert_eq(o.n, 2);
	cr_assert_lt(stats_ols(y, one, 4, 5, 0.95, &o, err, sizeof(err)), 0);
	cr_assert(isnan(o.coef[0]) && isnan(o.r2));
}

/* expected.py: ratio of means and the mean's normal half-width at 95% */
Test(stats, delta_method_matches_numpy)
{
	double x[] = {1, 0, 1, 1, 0, 1, 1, 0}, w[] = {10, 12, 9, 14, 11, 10, 13, 12};
	struct stats_moments m;

	memset(&m, 0, sizeof(m));
	cr_assert(isnan(stats_mean_halfwidth(&m, 0.95)));
	for (int i = 0; i < 8; i++)
		stats_moments_add(&m, x[i], w[i]);
	cr_assert_float_eq(m.sx / m.sy, 0.054945054945054944, 1e-15);
	cr_assert_float_eq(stats_ratio_halfwidth(&m, 0.95), 0.03281514106993449, 1e-12);
	cr_assert_float_eq(stats_mean_halfwidth(&m, 0.95), 0.3586366866542131, 1e-12);
	m.sy = -1;
	cr_assert(isnan(stats_ratio_halfwidth(&m, 0.95)));
}

/* expected.py: numpy.quantile (type 7) of i² for i = 0..99 at 0.05 and 0.95 */
Test(stats, percentile_interval_matches_numpy)
{
	double v[102], lo, hi;
	for (int i = 0; i < 100; i++)
		v[i] = (double)((99 - i) * (99 - i));  /* unsorted */
	v[100] = NAN;
	v[101] = INFINITY;
	stats_percentile_interval(v, 102, 0.9, &lo, &hi);
	cr_assert_float_eq(lo, 24.55, 1e-9);
	cr_assert_float_eq(hi, 8845.449999999999, 1e-9);
	v[0] = NAN;
	stats_percentile_interval(v, 1, 0.9, &lo, &hi);
	cr_assert(isnan(lo) && isnan(hi));
}

/*
 * Order-statistic interval of the median of 1..100: k = 100, q = 0.5,
 * h = 1.959964 x sqrt(25) = 9.79982; ranks floor(50 - h) = 40 and
 * ceil(50 + h) + 1 = 61, so [40, 61]; the median itself is 50.5.
 */
Test(stats, quantile_ci_from_order_statistics)
{
	double v[100], val, lo, hi;
	for (int i = 0; i < 100; i++)
		v[i] = 100 - i;
	stats_quantile_ci(v, 100, 0.5, 0.95, &val, &lo, &hi);
	cr_assert_float_eq(val, 50.5, 1e-12);
	cr_assert_float_eq(lo, 40, 0);
	cr_assert_float_eq(hi, 61, 0);
	/* 3 values: no distribution-free 99th percentile interval */
	stats_quantile_ci(v, 3, 0.99, 0.95, &val, &lo, &hi);
	cr_assert(isfinite(val) && isnan(lo) && isnan(hi));
	stats_quantile_ci(v, 0, 0.5, 0.95, &val, &lo, &hi);
	cr_assert(isnan(val));
}

/* stats_sort's merge (fewer than 2,048 values, no NAN) and radix paths give qsort's order bit for bit: signs, zeros, infinities, ties */
Test(stats, sort_large_arrays_as_qsort_does)
{
	enum { N = 5000 };
	static double a[N], b[N];
	uint64_t s = 12345;
	const size_t sizes[] = {2, 3, 17, 63, 64, 65, 127, 300, 513, 1000, 2047, 2048, N};  /* merge sort below 2,048 */

	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++)
		for (int kind = 0; kind < 4; kind++) {
			size_t n = sizes[z];
			for (size_t i = 0; i < n; i++) {
				s = s * 6364136223846793005ULL + 1442695040888963407ULL;
				double u = (double)(s >> 11) * 0x1.0p-53;
				switch (kind) {
				case 0: a[i] = u * 1e6 - 5e5; break;                      /* both signs */
				case 1: a[i] = (double)((s >> 20) % 7) - 3; break;        /* many ties */
				case 2: a[i] = (s >> 40) % 5 == 0 ? ((s >> 30) & 1 ? -0.0 : 0.0)
					       : (s >> 40) % 5 == 1 ? ((s >> 31) & 1 ? INFINITY : -INFINITY) : u * 1e-300; break;
				default: a[i] = u + 3; break;                             /* one exponent: passes skipped */
				}
			}
			memcpy(b, a, n * sizeof(*a));
			qsort(b, n, sizeof(*b), stats_cmp_double);
			stats_sort(a, n);
			cr_assert(memcmp(a, b, n * sizeof(*a)) == 0, "n %zu kind %d: stats_sort differs from qsort", n, kind);
		}
}
