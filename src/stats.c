/*
 * stats.c - sorting, type-7 quantiles, and the normal and Student's t
 * quantiles (see stats.h). The t quantile bisects the CDF, which comes from
 * the regularized incomplete beta function (continued fraction, Lentz).
 * Then intervals (percentile, order-statistic, normal and delta method) and
 * least squares on centred sums solved by Gauss-Jordan elimination.
 */
#include "stats.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int stats_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/*
 * The sort key of a double that is not NAN: its bits, turned so that unsigned
 * order is numeric order (negatives' bits flipped, positives' sign bit set),
 * -0.0 and +0.0 one key as stats_cmp_double has them equal.
 */
static uint64_t radix_key(double x)
{
	uint64_t u;
	if (x == 0)
		x = 0.0;
	memcpy(&u, &x, sizeof(u));
	return u >> 63 ? ~u : u | 0x8000000000000000ULL;
}

/*
 * LSD radix sort of values none of which is NAN: eight passes of a byte each,
 * those where every key has the same byte skipped. Stable, so the order is
 * exactly that of glibc's qsort (a merge sort) with stats_cmp_double: values
 * equal under it are the same bits, but for -0.0 and +0.0, which keep their
 * order in both. O(n) where qsort's comparisons cost n log n calls.
 */
static void radix_sort(double *v, size_t n)
{
	size_t (*count)[256] = xcalloc(8, sizeof(*count));
	double *tmp = xmalloc(n * sizeof(*tmp)), *src = v, *dst = tmp;

	for (size_t i = 0; i < n; i++) {
		uint64_t k = radix_key(v[i]);
		for (int b = 0; b < 8; b++)
			count[b][(k >> (8 * b)) & 0xff]++;
	}
	for (int b = 0; b < 8; b++) {
		size_t sum = 0, *c = count[b];
		int shift = 8 * b;
		if (c[(radix_key(v[0]) >> shift) & 0xff] == n)
			continue;   /* one byte value for all: this pass moves nothing */
		for (int d = 0; d < 256; d++) {
			size_t t = c[d];
			c[d] = sum;
			sum += t;
		}
		for (size_t i = 0; i < n; i++)
			dst[c[(radix_key(src[i]) >> shift) & 0xff]++] = src[i];
		double *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(tmp);
	free(count);
}

/*
 * Bottom-up merge sort of values none of which is NAN, for arrays too short
 * for the radix sort's fixed costs (its 8 x 256 counts; a request's 127 token
 * gaps cost it 63,000 instructions): stable, taking the left value of an
 * equal pair, so the order is glibc qsort's with stats_cmp_double too.
 */
static void merge_sort(double *v, size_t n)
{
	double stack_tmp[512], *tmp = n <= 512 ? stack_tmp : xmalloc(n * sizeof(*tmp)), *src = v, *dst = tmp;

	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				dst[k++] = src[j] < src[i] ? src[j++] : src[i++];
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		double *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	if (tmp != stack_tmp)
		free(tmp);
}

void stats_sort(double *v, size_t n)
{
	size_t i = 1;
	int nan = n > 0 && isnan(v[0]);

	/* values sorted already (a quantile after another of the same values) cost one pass; a NAN sorts as before */
	while (i < n && v[i - 1] <= v[i])
		i++;
	if (i >= n)
		return;
	for (size_t j = i; j < n && !nan; j++)
		nan = isnan(v[j]);
	for (size_t j = 0; j < i && !nan; j++)
		nan = isnan(v[j]);
	/* a NAN compares equal to everything under stats_cmp_double: qsort's own order, as before */
	if (nan)
		qsort(v, n, sizeof(*v), stats_cmp_double); /* never qsort(NULL, 0) */
	else if (n < 2048)   /* the crossover measured here: 1,024 values 6 us by merge, 14 us by radix */
		merge_sort(v, n);
	else
		radix_sort(v, n);
}

size_t stats_finite(double *v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[k++] = v[i];
	return k;
}

double stats_quantile_sorted(const double *x, size_t n, double p)
{
	double h;
	size_t lo;

	if (n == 0)
		return NAN;
	if (!(p > 0))
		return x[0];
	if (p >= 1)
		return x[n - 1];
	h = (double)(n - 1) * p;
	lo = (size_t)floor(h);
	if (lo + 1 >= n)
		return x[n - 1];
	return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

double stats_percentile_sorted(const double *x, size_t n, double pct)
{
	return stats_quantile_sorted(x, n, pct / 100.0);
}
/* Standard normal quantile (Acklam's rational approximation, refined by one Halley step). */
double stats_norm_quantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
				   1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
				   6.680131188771972e+01, -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
				   -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
				   3.754408661907416e+00};
	double q, r, x, e, u;

	if (!(p > 0 && p < 1))
		return p == 0 ? -INFINITY : p == 1 ? INFINITY : NAN;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else {
		q = p - 0.5;
		r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
		    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
	}
	e = 0.5 * erfc(-x / sqrt(2)) - p;
	u = e * sqrt(2 * M_PI) * exp(x * x / 2);
	return x - u / (1 + x * u / 2);
}


/* Continued fraction of the regularized incomplete beta function (modified Lentz). */
static double betacf(double a, double b, double x)
{
	const double tiny = 1e-300;
	double c = 1, d = 1 - (a + b) * x / (a + 1), h;

	if (fabs(d) < tiny)
		d = tiny;
	d = 1 / d;
	h = d;
	for (int m = 1; m <= 300; m++) {
		double m2 = 2.0 * m, aa, del;
		aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
		d = 1 + aa * d;
		c = 1 + aa / c;
		d = fabs(d) < tiny ? tiny : d;
		c = fabs(c) < tiny ? tiny : c;
		d = 1 / d;
		h *= d * c;
		aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
		d = 1 + aa * d;
		c = 1 + aa / c;
		d = fabs(d) < tiny ? tiny : d;
		c = fabs(c) < tiny ? tiny : c;
		d = 1 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1) < 1e-15)
			break;
	}
	return h;
}

/* Regularized incomplete beta I_x(a, b). */
static double betainc(double a, double b, double x)
{
	double lbt;

	if (x <= 0)
		return 0;
	if (x >= 1)
		return 1;
	lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
	if (x < (a + 1) / (a + b + 2))
		return exp(lbt) * betacf(a, b, x) / a;
	return 1 - exp(lbt) * betacf(b, a, 1 - x) / b;
}

/* CDF of Student's t. */
static double t_cdf(double t, double df)
{
	double x = df / (df + t * t);
	double tail = 0.5 * betainc(df / 2, 0.5, x);
	return t > 0 ? 1 - tail : tail;
}

double stats_t_quantile(double p, double df)
{
	double lo, hi;

	if (!(p > 0 && p < 1) || !(df > 0))
		return NAN;
	if (df > 1e7)
		return stats_norm_quantile(p);
	if (p < 0.5)
		return -stats_t_quantile(1 - p, df);
	/* Bisection on the CDF between 0 and a bound that surely lies past the quantile. */
	lo = 0;
	hi = 1;
	while (t_cdf(hi, df) < p && hi < 1e12)
		hi *= 2;
	for (int i = 0; i < 200 && hi - lo > 1e-13 * (1 + hi); i++) {
		double mid = (lo + hi) / 2;
		if (t_cdf(mid, df) < p)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2;
}

/* ---- intervals ---- */

void stats_percentile_interval(double *v, size_t n, double level, double *lo, double *hi)
{
	size_t k = stats_finite(v, n);
	stats_sort(v, k);
	*lo = stats_quantile_sorted(v, k, (1 - level) / 2);
	*hi = stats_quantile_sorted(v, k, 1 - (1 - level) / 2);
}

void stats_quantile_ci(double *v, size_t n, double q, double level, double *value, double *lo, double *hi)
{
	size_t k = stats_finite(v, n);
	double z, h, rlo, rhi;

	*value = *lo = *hi = NAN;
	if (k == 0)
		return;
	stats_sort(v, k);
	*value = stats_quantile_sorted(v, k, q);
	z = stats_norm_quantile(1 - (1 - level) / 2);
	h = z * sqrt((double)k * q * (1 - q));
	rlo = floor((double)k * q - h);
	rhi = ceil((double)k * q + h) + 1;
	if (rlo < 1 || rhi > (double)k)
		return;  /* too few values for a distribution-free interval */
	*lo = v[(size_t)rlo - 1];
	*hi = v[(size_t)rhi - 1];
}

void stats_moments_add(struct stats_moments *m, double x, double y)
{
	m->n++;
	m->sx += x;
	m->sy += y;
	m->sxx += x * x;
	m->syy += y * y;
	m->sxy += x * y;
}

double stats_mean_halfwidth(const struct stats_moments *m, double level)
{
	double mx, var;
	if (m->n < 2)
		return NAN;
	mx = m->sx / m->n;
	var = (m->sxx - m->n * mx * mx) / (m->n - 1);
	if (var < 0)
		var = 0;
	return stats_norm_quantile(1 - (1 - level) / 2) * sqrt(var / m->n);
}

double stats_ratio_halfwidth(const struct stats_moments *m, double level)
{
	double mx, my, vx, vy, cxy, r, var;
	if (m->n < 2)
		return NAN;
	mx = m->sx / m->n;
	my = m->sy / m->n;
	if (!(my > 0))
		return NAN;
	vx = (m->sxx - m->n * mx * mx) / (m->n - 1);
	vy = (m->syy - m->n * my * my) / (m->n - 1);
	cxy = (m->sxy - m->n * mx * my) / (m->n - 1);
	r = mx / my;
	var = (vx - 2 * r * cxy + r * r * vy) / (m->n * my * my);
	if (var < 0)
		var = 0;
	return stats_norm_quantile(1 - (1 - level) / 2) * sqrt(var);
}

/* ---- ordinary least squares ---- */

static void swap_rows(double *a, double *b, int p, int r1, int r2)
{
	for (int j = 0; j < p; j++) {
		double t = a[r1 * p + j];
		a[r1 * p + j] = a[r2 * p + j];
		a[r2 * p + j] = t;
		t = b[r1 * p + j];
		b[r1 * p + j] = b[r2 * p + j];
		b[r2 * p + j] = t;
	}
}

/* Inverts the p x p matrix a in place (Gauss-Jordan with partial pivoting); -1 when singular. */
static int invert(double *a, int p)
{
	double inv[STATS_OLS_MAXK * STATS_OLS_MAXK];
	double scale = 0;

	for (int i = 0; i < p * p; i++) {
		inv[i] = (i / p == i % p);
		scale = fmax(scale, fabs(a[i]));
	}
	for (int c = 0; c < p; c++) {
		int piv = c;
		double d;
		for (int r = c + 1; r < p; r++)
			if (fabs(a[r * p + c]) > fabs(a[piv * p + c]))
				piv = r;
		if (!(fabs(a[piv * p + c]) > 1e-12 * scale))
			return -1;
		swap_rows(a, inv, p, c, piv);
		d = a[c * p + c];
		for (int j = 0; j < p; j++) {
			a[c * p + j] /= d;
			inv[c * p + j] /= d;
		}
		for (int r = 0; r < p; r++) {
			double f = a[r * p + c];
			if (r == c || f == 0)
				continue;
			for (int j = 0; j < p; j++) {
				a[r * p + j] -= f * a[c * p + j];
				inv[r * p + j] -= f * inv[c * p + j];
			}
		}
	}
	for (int i = 0; i < p * p; i++)
		a[i] = inv[i];
	return 0;
}

static int row_ok(const double *y, const double *const *x, int k, size_t i)
{
	int ok = isfinite(y[i]);
	for (int j = 0; j < k && ok; j++)
		ok = isfinite(x[j][i]);
	return ok;
}

/* Centred cross products of the usable rows: xtx (k x k), xty (k), yy; mean[0..k) of x, mean[k] of y. */
struct ols_sums {
	double mean[STATS_OLS_MAXK + 1];
	double xtx[STATS_OLS_MAXK * STATS_OLS_MAXK], xty[STATS_OLS_MAXK], yy;
	long long n;
};

static void ols_sums(const double *y, const double *const *x, int k, size_t n, struct ols_sums *s)
{
	for (size_t i = 0; i < n; i++) {
		if (!row_ok(y, x, k, i))
			continue;
		s->n++;
		for (int j = 0; j < k; j++)
			s->mean[j] += x[j][i];
		s->mean[k] += y[i];
	}
	if (s->n == 0)
		return;
	for (int j = 0; j <= k; j++)
		s->mean[j] /= (double)s->n;
	for (size_t i = 0; i < n; i++) {
		double d[STATS_OLS_MAXK], dy;
		if (!row_ok(y, x, k, i))
			continue;
		for (int j = 0; j < k; j++)
			d[j] = x[j][i] - s->mean[j];
		dy = y[i] - s->mean[k];
		for (int a = 0; a < k; a++) {
			for (int b = 0; b < k; b++)
				s->xtx[a * k + b] += d[a] * d[b];
			s->xty[a] += d[a] * dy;
		}
		s->yy += dy * dy;
	}
}

/* Standard errors and t intervals: Var(slopes) = s2 (Xc'Xc)^-1, Var(intercept) = s2 (1/n + m' (Xc'Xc)^-1 m). */
static void ols_errors(const struct ols_sums *s, const double *inv, int k, double s2, double level,
		       struct stats_ols *out)
{
	double v0 = 1.0 / (double)s->n, df = (double)(s->n - k - 1), t;
	for (int a = 0; a < k; a++)
		for (int c = 0; c < k; c++)
			v0 += s->mean[a] * inv[a * k + c] * s->mean[c];
	out->se[0] = sqrt(s2 * v0);
	for (int a = 0; a < k; a++)
		out->se[a + 1] = sqrt(s2 * inv[a * k + a]);
	t = stats_t_quantile(1 - (1 - level) / 2, df);
	for (int j = 0; j <= k; j++) {
		out->lo[j] = out->coef[j] - t * out->se[j];
		out->hi[j] = out->coef[j] + t * out->se[j];
	}
}

int stats_ols(const double *y, const double *const *x, int k, size_t n, double level, struct stats_ols *out,
	      char *err, size_t errlen)
{
	struct ols_sums s = {{0}, {0}, {0}, 0, 0};
	double inv[STATS_OLS_MAXK * STATS_OLS_MAXK], rss;

	out->k = k;
	out->n = 0;
	out->r2 = out->sigma = NAN;
	for (int j = 0; j <= STATS_OLS_MAXK; j++)
		out->coef[j] = out->se[j] = out->lo[j] = out->hi[j] = NAN;
	if (k < 1 || k > STATS_OLS_MAXK)
		return err_set(err, errlen, "regression: 1 to %d predictors (got %d)", STATS_OLS_MAXK, k);
	ols_sums(y, x, k, n, &s);
	out->n = s.n;
	if (s.n < k + 2)
		return err_set(err, errlen, "regression: %lld usable observations, need at least %d", s.n, k + 2);
	for (int i = 0; i < k * k; i++)
		inv[i] = s.xtx[i];
	if (invert(inv, k) < 0)
		return err_set(err, errlen, "regression: the predictors are constant or collinear "
			       "(no slope can be estimated)");
	rss = s.yy;
	out->coef[0] = s.mean[k];
	for (int a = 0; a < k; a++) {
		double b = 0;
		for (int c = 0; c < k; c++)
			b += inv[a * k + c] * s.xty[c];
		out->coef[a + 1] = b;
		rss -= b * s.xty[a];
		out->coef[0] -= b * s.mean[a];
	}
	if (rss < 0)
		rss = 0;
	out->r2 = s.yy > 0 ? 1 - rss / s.yy : NAN;
	out->sigma = sqrt(rss / (double)(s.n - k - 1));
	ols_errors(&s, inv, k, rss / (double)(s.n - k - 1), level, out);
	return 0;
}
