/*
 * stats.h - the one home for the statistics every module shares: sorting
 * doubles, quantiles (one definition: linear interpolation between ranks,
 * Hyndman-Fan type 7), the standard normal and Student's t quantiles,
 * percentile (bootstrap) and order-statistic intervals, normal and delta-method
 * intervals of means and ratios of means, and ordinary least squares.
 * Pure functions; nothing here prints or keeps state (stats_ols allocates nothing).
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

/* ---- intervals ---- */

/*
 * The percentile interval of the finite values of v (reordered in place):
 * *lo, *hi = their (1 - level) / 2 and 1 - (1 - level) / 2 quantiles. Applied
 * to bootstrap replicates this is the percentile bootstrap interval. NAN both
 * when no value is finite.
 */
void stats_percentile_interval(double *v, size_t n, double level, double *lo, double *hi);

/*
 * The q-quantile (q in [0, 1]) of the finite values of v (sorted in place) in
 * *value, with a distribution-free interval from the binomial distribution of
 * order statistics (normal approximation): the order statistics of ranks
 * floor(n q - h) and ceil(n q + h) + 1 (1-based), h = z sqrt(n q (1 - q)).
 * *lo = *hi = NAN when those ranks fall outside 1..n; everything NAN for no values.
 */
void stats_quantile_ci(double *v, size_t n, double q, double level, double *value, double *lo, double *hi);

/* Running sums for means, variances and the covariance of two variables x and y. */
struct stats_moments {
	double n, sx, sy, sxx, syy, sxy;
};

void stats_moments_add(struct stats_moments *m, double x, double y);

/*
 * Half-width of the normal interval of mean(x) at level: z s_x / sqrt(n)
 * (s_x the sample standard deviation). NAN when n < 2.
 */
double stats_mean_halfwidth(const struct stats_moments *m, double level);

/*
 * Half-width of the delta-method interval of the ratio of means
 * R = mean(x) / mean(y) at level: z sqrt((s_x² - 2 R s_xy + R² s_y²) / (n mean(y)²)).
 * NAN when n < 2 or mean(y) <= 0.
 */
double stats_ratio_halfwidth(const struct stats_moments *m, double level);

/* ---- ordinary least squares ---- */

#define STATS_OLS_MAXK 3

struct stats_ols {
	int k;                            /* predictors (an intercept comes first) */
	long long n;                      /* observations used */
	double coef[STATS_OLS_MAXK + 1];  /* [0] intercept, [1..k] slopes */
	double se[STATS_OLS_MAXK + 1];    /* standard errors */
	double lo[STATS_OLS_MAXK + 1], hi[STATS_OLS_MAXK + 1]; /* intervals (Student's t, n - k - 1 df) */
	double r2;                        /* coefficient of determination */
	double sigma;                     /* residual standard error */
};

/*
 * Least squares of y on x[0..k) (each of length n) with an intercept, over
 * the rows where y and every x are finite; centred sums keep the normal
 * equations well conditioned. Unused fields are NAN. -1 with err set for k
 * outside 1..STATS_OLS_MAXK, fewer than k + 2 usable rows, or constant or
 * collinear predictors.
 */
int stats_ols(const double *y, const double *const *x, int k, size_t n, double level, struct stats_ols *out,
	      char *err, size_t errlen);

#endif
