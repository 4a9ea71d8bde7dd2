/*
 * report.h - a self-contained HTML report over stored runs: the comparison,
 * coverage, routing, regression and attribution tables and their plots
 * (embedded as base64 PNG; also written beside the page as PNG and SVG).
 */
#ifndef IPW_REPORT_H
#define IPW_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct report_options {
	char *const *runs;        /* run references, as the user gave them */
	size_t nruns;
	const char *cloud;        /* cloud run for the routing section, or NULL (no routing) */
	const char *prices, *params; /* routing's prices and parameters files, or NULL */
	const char *out_dir;      /* created if missing; index.html and the plots go there */
	const char *store_label;  /* the store's name, shown in the page */
	const char *title;        /* page title, or NULL */
	int bootstrap;            /* resamples for intervals */
	uint64_t seed;
	int trials;               /* routing Monte Carlo trials */
	int intersect;            /* drop items missing from a run (coverage, routing) */
	int max_timelines;        /* power timelines drawn (first runs); default 6 */
	int ci;                   /* enum agg_ci (aggregate.h): the intervals, one method for the whole page */
	const char *model_meta;   /* model metadata file (analysis/paper.h), or NULL: compute, levels, routing's
	                             total parameters */
	int compute;              /* enum route_compute: routing's compute basis */
	const char *size_classes; /* the difficulty levels' size classes ("4B,14B,32B"), or NULL: the default */
	int period;               /* enum trend_period (analysis/paper.h): the trends' release periods, default year */
	int misroute;             /* enum route_misroute: the router's errors, one-sided (default) or two-sided */
	double daily_queries;     /* routing scaled to N queries a day (energy, cost, compute per day); 0 = not asked */
	const char *gdi;          /* GDI scenario file (ipw gdi SCENARIO.json), or NULL: the GDI section */
	const char *weights;      /* subject weights file (as analyze --weights; GDP in USD for the paper's form),
	                             or NULL: the GDP-weighted section */
};

void report_options_init(struct report_options *o);

/*
 * Writes OUT_DIR/index.html and OUT_DIR/<plot>.png and .svg. A section whose
 * inputs are missing (no scores, runs on different items, no samples) says
 * why in the page instead of failing the report. Returns 0, or negative with
 * err set (unknown run, unwritable folder).
 */
int report_write(struct store *s, const struct report_options *o, char *err, size_t errlen);

/*
 * Power from an energy counter's readings for the timeline, over whole counter
 * steps: a reading whose energy equals the last step's is not a new step and
 * gives NAN; one that moved gives (E - E_step) / (t - t_step) over the time
 * since the counter last moved, so a counter read faster than it updates is
 * not drawn as spikes between 0 and several times its power. Start with
 * *t_step = *e_step = NAN. Exposed for tests.
 */
double report_counter_power(double *t_step, double *e_step, double t, double e);

#endif
