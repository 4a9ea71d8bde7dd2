/*
 * attribution.h - energy of overlapping requests: the concurrent rule (each
 * small time slice's energy shared among the requests active in it, decode
 * equally, prefill weighted by prompt tokens; slices with no request are
 * unattributed idle) and, for comparison, the naive rule (each request gets
 * the counter difference between the samples nearest its own send and end).
 * See docs/attribution.md, "Concurrent runs".
 */
#ifndef IPW_ATTRIBUTION_H
#define IPW_ATTRIBUTION_H

#include <stddef.h>
#include <stdint.h>

struct timeline;

/* One request's phases, CLOCK_MONOTONIC ns. */
struct attr_req {
	int64_t t_send;          /* 0: not sent (never active) */
	int64_t t_first;         /* first output token; 0: none (prefill lasts to t_end) */
	int64_t t_end;           /* 0: did not end (never active) */
	double prompt_tokens;    /* <= 0 or NAN: unknown (its prefill weighs like the mean) */
};

/* E(t): cumulative energy of one source at t, joules. 0, or -1 where not covered. */
typedef int (*attr_energy_fn)(void *arg, int64_t t, double *e);

struct attr_out {
	double *req_j;       /* per request (n entries, caller-allocated); 0 for never-active requests */
	double *req_s;       /* per request: its share of time (seconds), for dynamic energy; may be NULL */
	double idle_j;       /* energy of the slices with no active request */
	double idle_s;       /* their total length */
	double total_j;      /* E(t1) - E(t0), measured */
	size_t nslices;
};

/*
 * Attributes the energy of [t0, t1] to the requests. Slices are bounded by
 * every request time inside the span and a grid of grid_ns from t0 (0 = no
 * grid). A request is active in [a, b) when t_send <= a and b <= t_end; it is
 * in prefill while b <= t_first. In each slice, a decoding request weighs 1 and
 * a prefilling one prompt_tokens / (mean prompt tokens of the requests); the
 * slice's energy is split in proportion. Returns 0, or -1 (err) when E is not
 * covered at some boundary (out is then undefined). sum(req_j) + idle_j equals
 * total_j up to rounding.
 */
int attribute_concurrent(const struct attr_req *r, size_t n, int64_t t0, int64_t t1, int64_t grid_ns,
			 attr_energy_fn energy, void *arg, struct attr_out *out, char *err, size_t errlen);

/*
 * The naive rule, for comparison only: the raw counter value of the sample
 * nearest t1 minus that of the sample nearest t0 (no interpolation, no
 * sharing, no step placement). NAN when the timeline has no counter samples.
 * Overlapping requests are each charged everything in their window, so their
 * sum exceeds the measured total.
 */
double attribute_naive(const struct timeline *tl, int64_t t0, int64_t t1);

#endif
