/*
 * timeline.h - one source's energy as a function of time, E(t), built from
 * its samples: from a cumulative counter (unwrapped; each step placed at the
 * midpoint between the last read that saw the old value and the first that saw
 * the new one; linear between steps) or, without a counter, by integrating
 * instantaneous power (trapezoid). The energy of [t0, t1] is E(t1) - E(t0), so
 * windows that tile a span always sum to the span's energy.
 */
#ifndef IPW_TIMELINE_H
#define IPW_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

struct sample;

enum timeline_mode {
	TL_NONE,    /* no energy can be derived (only an averaged power, or nothing) */
	TL_COUNTER, /* cumulative energy counter */
	TL_POWER,   /* trapezoid integration of instantaneous power */
};

struct tl_knot {
	int64_t t;  /* ns, CLOCK_MONOTONIC */
	double e;   /* cumulative energy at t, joules, from the first knot's origin */
	double p;   /* power at t (TL_POWER only) */
};

struct timeline {
	enum timeline_mode mode;
	int shape;               /* TL_COUNTER: shape energy between knots by instantaneous power */
	int64_t lag_ns;          /* power readings describe the power this long before their stamp */
	double wrap_j;
	double update_s;
	struct sample *samples;  /* every sample added, in time order */
	size_t n, cap;
	struct tl_knot *knots;
	size_t nk, kcap;
	/* counter state */
	int have_prev;
	double prev_raw, prev_unwrapped, offset, origin;
	int64_t prev_t;
	unsigned long wraps, resets;
};

/* update_s: counter update period (see source_info.counter_update_s). */
void timeline_init(struct timeline *tl, enum timeline_mode mode, double wrap_j, double update_s);
void timeline_release(struct timeline *tl);
/*
 * TL_COUNTER only: between two knots, energy follows the integral of the
 * instantaneous power samples (linear between samples) instead of a straight
 * line; the knots themselves, and so every conservation property, are kept.
 */
void timeline_set_shape(struct timeline *tl, int on);
/* Power readings describe the power lag_ns before their time stamp (shaping and TL_POWER). */
void timeline_set_power_lag(struct timeline *tl, int64_t lag_ns);
/* Adds a sample (must not be earlier than the previous one; earlier ones are ignored). */
void timeline_add(struct timeline *tl, const struct sample *s);
/* The covered span [first knot, last knot]; -1 when nothing is covered yet. */
int timeline_span(const struct timeline *tl, int64_t *t0, int64_t *t1);
/* The end of what is settled: the span's end, or earlier while a shaped timeline awaits lagging power readings. */
int timeline_settled(const struct timeline *tl, int64_t *t1);
/* E(t) in joules; -1 when t is outside the covered span. */
int timeline_energy_at(const struct timeline *tl, int64_t t, double *e);
/* E(t1) - E(t0); -1 when either end is not covered. */
int timeline_energy(const struct timeline *tl, int64_t t0, int64_t t1, double *e);
/* Largest / mean of a sample field (SAMPLE_* bit) over samples with t in [t0, t1]; NAN if none. */
double timeline_field_max(const struct timeline *tl, int64_t t0, int64_t t1, unsigned bit);
double timeline_field_mean(const struct timeline *tl, int64_t t0, int64_t t1, unsigned bit);

#endif
