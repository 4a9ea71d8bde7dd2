/*
 * timeline.c - per-source energy timelines: counter unwrapping, step-midpoint
 * placement, trapezoid integration and window queries. See timeline.h and
 * docs/telemetry.md.
 */
#include "timeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry.h"
#include "util.h"

void timeline_init(struct timeline *tl, enum timeline_mode mode, double wrap_j, double update_s)
{
	memset(tl, 0, sizeof(*tl));
	tl->mode = mode;
	tl->wrap_j = wrap_j;
	tl->update_s = update_s;
}

void timeline_release(struct timeline *tl)
{
	free(tl->samples);
	free(tl->knots);
	memset(tl, 0, sizeof(*tl));
}

void timeline_set_shape(struct timeline *tl, int on)
{
	tl->shape = on;
}

void timeline_set_power_lag(struct timeline *tl, int64_t lag_ns)
{
	tl->lag_ns = lag_ns > 0 ? lag_ns : 0;
}

static void add_knot(struct timeline *tl, int64_t t, double e, double p)
{
	if (tl->nk && t <= tl->knots[tl->nk - 1].t)
		t = tl->knots[tl->nk - 1].t + 1; /* keep knot times strictly increasing */
	if (tl->nk == tl->kcap) {
		tl->kcap = tl->kcap ? tl->kcap * 2 : 256;
		tl->knots = xrealloc(tl->knots, tl->kcap * sizeof(*tl->knots));
	}
	tl->knots[tl->nk].t = t;
	tl->knots[tl->nk].e = e;
	tl->knots[tl->nk].p = p;
	tl->nk++;
}

static void add_counter(struct timeline *tl, const struct sample *s)
{
	double raw = s->energy_j, u;
	if (!tl->have_prev) {
		tl->have_prev = 1;
		tl->prev_raw = raw;
		tl->prev_unwrapped = raw;
		tl->prev_t = s->t_ns;
		return;
	}
	if (raw < tl->prev_raw) {
		if (tl->wrap_j > 0) {
			tl->offset += tl->wrap_j;
			tl->wraps++;
		} else {
			/* a counter reset (driver reload): keep E continuous, count nothing for the gap */
			tl->offset = tl->prev_unwrapped - raw;
			tl->resets++;
		}
	}
	u = raw + tl->offset;
	if (u != tl->prev_unwrapped && s->energy_t_ns) {
		/* the back-end knows when this value was exact */
		if (!tl->nk)
			tl->origin = u;
		if (!tl->nk || s->energy_t_ns > tl->knots[tl->nk - 1].t)
			add_knot(tl, s->energy_t_ns, u - tl->origin, NAN);
	} else if (u != tl->prev_unwrapped) {
		/*
		 * The step happened after the previous read and by this one. Without
		 * more knowledge the midpoint is the unbiased guess; a counter that
		 * updates faster than we read is at most half its own period old.
		 */
		int64_t gap = s->t_ns - tl->prev_t, back = gap / 2;
		if (!isnan(tl->update_s) && tl->update_s >= 0) {
			int64_t half = (int64_t)(tl->update_s * 0.5e9);
			if (half < back)
				back = half;
		}
		if (!tl->nk)
			tl->origin = u; /* E is measured from the first step we saw */
		add_knot(tl, s->t_ns - back, u - tl->origin, NAN);
	}
	tl->prev_raw = raw;
	tl->prev_unwrapped = u;
	tl->prev_t = s->t_ns;
}

static void add_power(struct timeline *tl, const struct sample *s)
{
	double e = 0;
	int64_t t = s->t_ns - tl->lag_ns; /* when the reading's power was drawn */
	if (tl->nk) {
		const struct tl_knot *k = &tl->knots[tl->nk - 1];
		if (t <= k->t)
			return;
		e = k->e + (double)(t - k->t) / 1e9 * (k->p + s->power_w) / 2;
	}
	add_knot(tl, t, e, s->power_w);
}

void timeline_add(struct timeline *tl, const struct sample *s)
{
	if (tl->n && s->t_ns < tl->samples[tl->n - 1].t_ns)
		return;
	if (tl->n == tl->cap) {
		tl->cap = tl->cap ? tl->cap * 2 : 256;
		tl->samples = xrealloc(tl->samples, tl->cap * sizeof(*tl->samples));
	}
	tl->samples[tl->n++] = *s;
	if (tl->mode == TL_COUNTER && (s->valid & SAMPLE_ENERGY) && isfinite(s->energy_j))
		add_counter(tl, s);
	else if (tl->mode == TL_POWER && (s->valid & SAMPLE_POWER) && isfinite(s->power_w))
		add_power(tl, s);
}

int timeline_span(const struct timeline *tl, int64_t *t0, int64_t *t1)
{
	if (tl->nk < 2)
		return -1;
	*t0 = tl->knots[0].t;
	*t1 = tl->knots[tl->nk - 1].t;
	return 0;
}

/*
 * How far the timeline can be trusted now: a shaped timeline also needs the
 * power readings that describe the last knot's neighbourhood (they arrive lag
 * later). Used by coverage waits; windows inside the knot span are computed
 * either way.
 */
int timeline_settled(const struct timeline *tl, int64_t *t1)
{
	int64_t a, b;
	if (timeline_span(tl, &a, &b) < 0)
		return -1;
	if (tl->shape && tl->n) {
		int64_t p = tl->samples[tl->n - 1].t_ns - tl->lag_ns;
		if (p < b)
			b = p;
	}
	*t1 = b;
	return 0;
}

/* Index of the last knot with t <= x (caller ensures knots[0].t <= x). */
static size_t knot_floor(const struct timeline *tl, int64_t x)
{
	size_t lo = 0, hi = tl->nk - 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		if (tl->knots[mid].t <= x)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Index of the first sample with t >= x (n if none). */
static size_t sample_ceil(const struct timeline *tl, int64_t x);

/* Integral over [x, y] of a straight segment from (t0, p0) to (t1, p1), clipped to the segment. */
static double seg_integral(int64_t t0, double p0, int64_t t1, double p1, int64_t x, int64_t y)
{
	int64_t lo = x > t0 ? x : t0, hi = y < t1 ? y : t1;
	double plo, phi;
	if (hi <= lo || t1 <= t0)
		return 0;
	plo = p0 + (p1 - p0) * (double)(lo - t0) / (double)(t1 - t0);
	phi = p0 + (p1 - p0) * (double)(hi - t0) / (double)(t1 - t0);
	return (double)(hi - lo) * (plo + phi) / 2;
}

/*
 * Integral (W x ns) over [x, y] of the power samples joined by straight lines,
 * held constant before the first and after the last; NAN without power samples.
 */
static double power_integral(const struct timeline *tl, int64_t x, int64_t y)
{
	size_t i = sample_ceil(tl, x), a, b;
	double acc = 0;
	int found = 0;
	/* start from the last power sample before x, else the first one after it */
	a = i;
	while (a > 0) {
		a--;
		if (tl->samples[a].valid & SAMPLE_POWER) {
			found = 1;
			break;
		}
	}
	if (!found) {
		for (a = i; a < tl->n && !(tl->samples[a].valid & SAMPLE_POWER); a++)
			;
		if (a == tl->n)
			return NAN;
	}
	if (tl->samples[a].t_ns > x)
		acc += (double)((tl->samples[a].t_ns < y ? tl->samples[a].t_ns : y) - x) *
		       tl->samples[a].power_w;
	while (1) {
		const struct sample *sa = &tl->samples[a];
		for (b = a + 1; b < tl->n && !(tl->samples[b].valid & SAMPLE_POWER); b++)
			;
		if (b >= tl->n) {
			int64_t from = sa->t_ns > x ? sa->t_ns : x;
			if (y > from)
				acc += (double)(y - from) * sa->power_w;
			break;
		}
		acc += seg_integral(sa->t_ns, sa->power_w, tl->samples[b].t_ns, tl->samples[b].power_w, x, y);
		if (tl->samples[b].t_ns >= y)
			break;
		a = b;
	}
	return acc;
}

/* Energy at t between knots a and b, spread by the power's shape; 0 if it cannot be. */
static int shaped(const struct timeline *tl, const struct tl_knot *a, const struct tl_knot *b, int64_t t,
		  double *e)
{
	/* a reading stamped at s describes the power at s - lag: integrate the stamps over [x + lag, y + lag] */
	int64_t L = tl->lag_ns;
	double whole = power_integral(tl, a->t + L, b->t + L), part;
	if (!(whole > 0) || !isfinite(whole))
		return 0;
	part = power_integral(tl, a->t + L, t + L);
	if (!isfinite(part))
		return 0;
	*e = a->e + (b->e - a->e) * part / whole;
	return 1;
}

int timeline_energy_at(const struct timeline *tl, int64_t t, double *e)
{
	const struct tl_knot *a, *b;
	double dt, span;
	size_t i;
	if (tl->nk < 2 || t < tl->knots[0].t || t > tl->knots[tl->nk - 1].t)
		return -1;
	i = knot_floor(tl, t);
	a = &tl->knots[i];
	if (i == tl->nk - 1 || t == a->t) {
		*e = a->e;
		return 0;
	}
	b = &tl->knots[i + 1];
	dt = (double)(t - a->t);
	span = (double)(b->t - a->t);
	if (tl->mode == TL_POWER) {
		/* power linear between knots: integrate the trapezoid up to t */
		double pt = a->p + (b->p - a->p) * dt / span;
		*e = a->e + dt / 1e9 * (a->p + pt) / 2;
	} else if (tl->shape && shaped(tl, a, b, t, e)) {
		/* done: energy spread by the power's shape */
	} else {
		*e = a->e + (b->e - a->e) * dt / span;
	}
	return 0;
}

int timeline_energy(const struct timeline *tl, int64_t t0, int64_t t1, double *e)
{
	double e0, e1;
	if (timeline_energy_at(tl, t0, &e0) < 0 || timeline_energy_at(tl, t1, &e1) < 0)
		return -1;
	*e = e1 - e0;
	return 0;
}

/* Index of the first sample with t >= x (n if none). */
static size_t sample_ceil(const struct timeline *tl, int64_t x)
{
	size_t lo = 0, hi = tl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (tl->samples[mid].t_ns < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static double field(const struct sample *s, unsigned bit)
{
	switch (bit) {
	case SAMPLE_ENERGY: return s->energy_j;
	case SAMPLE_POWER: return s->power_w;
	case SAMPLE_TEMP: return s->temp_c;
	case SAMPLE_MEM_USED: return s->mem_used_bytes;
	case SAMPLE_MEM_TOTAL: return s->mem_total_bytes;
	}
	return NAN;
}

double timeline_field_max(const struct timeline *tl, int64_t t0, int64_t t1, unsigned bit)
{
	double m = NAN;
	for (size_t i = sample_ceil(tl, t0); i < tl->n && tl->samples[i].t_ns <= t1; i++) {
		const struct sample *s = &tl->samples[i];
		if ((s->valid & bit) && (isnan(m) || field(s, bit) > m))
			m = field(s, bit);
	}
	return m;
}

double timeline_field_mean(const struct timeline *tl, int64_t t0, int64_t t1, unsigned bit)
{
	double sum = 0;
	size_t n = 0;
	for (size_t i = sample_ceil(tl, t0); i < tl->n && tl->samples[i].t_ns <= t1; i++) {
		const struct sample *s = &tl->samples[i];
		if (s->valid & bit) {
			sum += field(s, bit);
			n++;
		}
	}
	return n ? sum / (double)n : NAN;
}
