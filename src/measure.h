/*
 * measure.h - a measurement session: telemetry started for one caller, its
 * time origin and idle baseline, the energy of request windows by scope
 * (gross and dynamic), query records built from chat results, and the
 * samples written to a store as they arrive. Used by the sequential runner,
 * the load loop, calibrate and monitor, and meant for any caller that must
 * attribute energy to requests as they happen (begin/end a request window,
 * then ask its energy). Never prints. See docs/internals.md.
 */
#ifndef IPW_MEASURE_H
#define IPW_MEASURE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "record.h"
#include "telemetry.h"

/* How long a caller waits at most for telemetry to cover a window's end. */
#define MEASURE_COVER_TIMEOUT_NS (3 * (int64_t)1000000000)

struct store;

/* Which telemetry the session uses (the profile/calibrate/monitor options). */
struct measure_opts {
	const char *backends;      /* NULL = all but fake */
	const char *devices;       /* NULL = honour the back-ends' visible-devices variables */
	int host;                  /* measure host CPU/DRAM too (default 1) */
	int interval_ms;           /* 0 = each back-end's own */
	const char *fake_profile, *fake_trace;
	double cpu_watts_per_core; /* the cputime back-end's estimate; <= 0: its default */
};

void measure_opts_init(struct measure_opts *o);

/*
 * The session. tel and the per-source arrays (nsrcs entries each) are owned
 * by it. t0_ns is the origin of the relative times written into records
 * (seconds since t0_ns); idle_w is the idle power per source that dynamic
 * energy subtracts (NAN = unknown: dynamic energy is not measured).
 */
struct measure {
	struct telemetry *tel;
	int nsrcs;
	int64_t t0_ns;
	double *idle_w;
	size_t *flushed;           /* samples already written by measure_flush, per source */
	int started;
};

/* Probes telemetry (samplers not started). 0, or -1 (err: a bad --devices). */
int measure_open(struct measure *m, const struct measure_opts *o, char *err, size_t errlen);
/* Starts the samplers; sink (may be NULL) sees every sample (telemetry.h). 0 or -1 (err). */
int measure_start(struct measure *m, sample_sink_fn sink, void *arg, char *err, size_t errlen);
/* Stops the samplers (what they measured stays queryable). */
void measure_stop(struct measure *m);
void measure_close(struct measure *m);

/* Waits until every source covers t_ns, at most timeout_ns: 0 when covered, -1 not. */
int measure_wait(struct measure *m, int64_t t_ns, int64_t timeout_ns);
/* Seconds of t since the origin; NAN for t == 0 (never happened). */
double measure_rel_s(const struct measure *m, int64_t t);
/* Sums per-source values over the accelerators, skipping NANs; NAN when none (idle powers). */
double measure_accel_sum(const struct measure *m, const double *per_source);
/* The number of accelerator sources. */
int measure_naccel(const struct measure *m);

/* ---- idle baseline ---- */

struct measure_idle {
	double accel_w;            /* summed over the accelerators, NAN if none */
	double lo_w, hi_w;         /* the accelerators' lowest / highest power over 1 s slices */
	int measured;              /* 0: no sources or idle_s <= 0 (only waited for coverage) */
};

/*
 * Measures each source's mean power over idle_s seconds with nothing in
 * flight (sleeping in small steps; *stop ends it early) into out_w (nsrcs
 * entries, NAN where unknown). With idle_s <= 0 it only waits until the
 * timelines cover now, so a first request starts inside the covered span.
 */
void measure_idle(struct measure *m, double idle_s, volatile sig_atomic_t *stop, double *out_w,
		  struct measure_idle *info);
/* 1 when the idle power moved a lot (another process likely used the device). */
int measure_idle_unsteady(const struct measure_idle *info);

/* ---- request windows ---- */

/* A request's window on the monotonic clock (0 = not yet). */
struct measure_req {
	int64_t t_begin, t_end;
};

/* Stamps the window's begin / end now. */
void measure_req_begin(struct measure_req *r);
void measure_req_end(struct measure_req *r);

/* The energy of one window: totals by scope and per source (owned; measure_energy_release). */
struct measure_energy {
	double accel_j, host_j, total_j;         /* gross; NAN when a scope is not (fully) covered */
	double accel_dyn_j, host_dyn_j, total_dyn_j; /* minus idle power x duration */
	double dur_s;
	double peak_power_w, temp_max_c, mem_max_bytes; /* accelerators over the window, NAN if unknown */
	int nsrcs;
	double *gross_j, *dyn_j;                 /* per source, NAN where not covered / not known */
};

void measure_energy_init(struct measure_energy *e);
void measure_energy_release(struct measure_energy *e);

/*
 * The energy of [t0, t1] (sequential rule: everything measured in the window
 * is the window's) into e, with no waiting. Sources not covered stay NAN.
 */
void measure_window(struct measure *m, int64_t t0, int64_t t1, struct measure_energy *e);
/*
 * A request's energy: waits (at most timeout_ns) for telemetry to cover its
 * end, then measure_window. Returns 0, or -1 when the end was not covered in
 * time (e is filled with what is known).
 */
int measure_req_energy(struct measure *m, const struct measure_req *r, int64_t timeout_ns,
		       struct measure_energy *e);
/* The gross or dynamic energy of one scope (SCOPE_ACCELERATOR, SCOPE_HOST), NAN if not measured. */
double measure_energy_scope(const struct measure_energy *e, enum source_scope scope, int dynamic);

/*
 * Fills q's energy from per-source gross and dynamic energies (nsrcs entries
 * each, NAN where not measured): one query_energy row per measured source,
 * the scope sums (NAN when a source of the scope is not measured) and the
 * mean accelerator power over dur_s. The one place both attribution rules
 * (sequential and concurrent) turn per-source joules into a record.
 */
void measure_fill_query_energy(const struct telemetry *tel, struct query_record *q, const double *gross,
			       const double *dyn, double dur_s);
/* Sets every energy field of q to "not measured" (NAN, no rows). */
void measure_clear_query_energy(struct query_record *q);
/* measure_fill_query_energy from a window's energy, plus its peak power, temperature and memory. */
void measure_energy_to_query(const struct measure *m, const struct measure_energy *e, struct query_record *q);

/* ---- query records from chat results ---- */

/* Fills q from a final chat result: status, answer, latency (relative to the origin), counts, extras. */
void measure_query_result(const struct measure *m, struct query_record *q, const struct chat_result *res);
/* Appends one attempt record for res to q (n = q->nattempts + 1). */
void measure_query_attempt(const struct measure *m, struct query_record *q, const struct chat_result *res);

/* ---- samples ---- */

/* Writes the samples gathered since the last flush to the store's run run_id. 0 or -1 (err). */
int measure_flush(struct measure *m, struct store *st, const char *run_id, char *err, size_t errlen);

/* ---- spans (monitor) ---- */

/* Energy over a span: what it covers, clipped. */
struct measure_span {
	double energy_j, span_s, mean_w;
	int64_t a, b;
	int ok;
};

/*
 * Source s's energy over the span its timeline covers, clipped to
 * [t_begin, t_stop]; ok = 0 when it covers nothing there.
 */
struct measure_span measure_source_span(struct measure *m, int s, int64_t t_begin, int64_t t_stop);
/*
 * A scope's energy over the span all its sources cover (the intersection of
 * their clipped spans), so the sum is over one common window; ok = 0 when any
 * source of the scope has no energy or the spans do not overlap. *nsrc gets
 * the scope's sources.
 */
struct measure_span measure_scope_span(struct measure *m, enum source_scope scope, int64_t t_begin,
				       int64_t t_stop, int *nsrc);

#endif
