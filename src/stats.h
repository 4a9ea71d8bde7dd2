/*
 * stats.h - the one home for the statistics every module shares: sorting
 * doubles, quantiles (one definition: linear interpolation between ranks,
 * Hyndman-Fan type 7), and the standard normal and Student's t quantiles.
 * Pure functions; nothing here allocates, prints or keeps state.
 */
#ifndef IPW_STATS_H
#define IPW_STATS_H

#include <stddef.h>

/* qsort comparator for doubles, ascending (NaN compares equal to everything: filter first). */
int stats_cmp_double(const void *a, const void *b);

/* Sorts v[0..n) ascending in place (n == 0 and v == NULL allowed). */
void stats_sort(double *v, size_t n);

/* Moves the finite values of v[0..n) to its front, in order; returns how many. */
size_t stats_finite(double *v, size_t n);

/*
 * The p-quantile (p in [0, 1], clamped) of sorted x[0..n): with h = (n - 1) p,
 * x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]); x[n - 1] at the
 * top rank. NAN when n == 0.
 */
double stats_quantile_sorted(const double *x, size_t n, double p);

/* The same with pct in percent (0..100). */
double stats_percentile_sorted(const double *x, size_t n, double pct);

/* Standard normal quantile: -inf at 0, +inf at 1, NAN outside [0, 1]. */
double stats_norm_quantile(double p);

/* Quantile of Student's t with df degrees of freedom (normal above 1e7); NAN for bad p or df. */
double stats_t_quantile(double p, double df);

#endif
