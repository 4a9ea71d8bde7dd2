/*
 * router/meter.h - measured energy of the router's attempts at the tiers its
 * telemetry covers: windows stamped on the loop thread, attributed by the
 * concurrent rule on a worker thread (router/meter.c, docs/router.md).
 */
#ifndef IPW_ROUTER_METER_H
#define IPW_ROUTER_METER_H

#include <stdint.h>

#include "measure.h"

enum meter_status {
	METER_PENDING,        /* not attributed yet */
	METER_MEASURED,       /* attributed */
	METER_NOT_COVERED,    /* telemetry did not cover the window in time: not measured */
	METER_NOT_ATTRIBUTED, /* the attempt failed: charged nothing (the rule's "only ok requests") */
};

/* A window's energy: per source (nsrcs entries, NAN where not measured) and by scope. */
struct meter_result {
	enum meter_status status;
	double *gross, *dyn;       /* owned by the meter: valid until router_meter_release */
	double accel_j, accel_dyn_j, host_j, host_dyn_j;
	int64_t t_send_ns, t_first_ns, t_end_ns;
};

struct router_meter;
struct meter_win;

/* Opens telemetry with o, starts the samplers and the worker, measures idle_s of idle power. 0 or -1 (err). */
int router_meter_open(struct router_meter **out, const struct measure_opts *o, double idle_s, char *err,
		      size_t errlen);
struct measure *router_meter_measure(struct router_meter *mt);
/* The sources measured, comma-separated ("fake:gpu0,rapl:package-0"). */
const char *router_meter_sources(const struct router_meter *mt);
/* Loop thread, constant time: a window opens now / its first token / it ends (ok: the attempt answered). */
struct meter_win *router_meter_begin(struct router_meter *mt);
void router_meter_first(struct router_meter *mt, struct meter_win *w);
void router_meter_end(struct router_meter *mt, struct meter_win *w, int ok, long long prompt_tokens);
/* 1 and *out when the window is attributed (or known not to be), 0 while pending. */
int router_meter_result(struct router_meter *mt, struct meter_win *w, struct meter_result *out);
/* The caller is done with w (its result's arrays go with it). */
void router_meter_release(struct router_meter *mt, struct meter_win *w);
/* Attributes every window that has ended and can be, then stops the worker (at shutdown). */
void router_meter_drain(struct router_meter *mt);
void router_meter_close(struct router_meter *mt);

#endif
