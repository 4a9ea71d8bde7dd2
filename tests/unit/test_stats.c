/*
 * test_stats.c - src/stats.c on hand-computed values: the type-7 quantile,
 * sorting and finite filtering, the normal and Student's t quantiles.
 */
#include <criterion/criterion.h>
#include <math.h>

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
