/*
 * load.h - load generation: many requests in flight on one client event loop,
 * closed loop (a fixed number in flight) or open loop (Poisson or gamma
 * arrivals at a rate, with an optional cap), by count or duration; then the
 * run's energy attribution (src/attribution.h) and its summary: latency
 * percentiles, throughput, goodput under SLOs, energy per query and token.
 * See docs/load.md.
 */
#ifndef IPW_LOAD_H
#define IPW_LOAD_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "record.h"

struct telemetry;
struct load_req;

struct load_opts {
	int concurrency;          /* closed loop: requests kept in flight (>= 1) */
	double rate;              /* open loop: mean arrivals per second; 0 = closed loop */
	double burstiness;        /* gamma shape of inter-arrival times; 1 = Poisson (exponential) */
	int max_concurrency;      /* open loop: at most this many in flight (0 = no cap) */
	double duration_s;        /* stop sending after this many seconds (0 = by count) */
	long long count;          /* requests to send; <= 0: one per item (or unbounded with duration) */
	unsigned long long seed;  /* arrival times */
	/*
	 * Which requests to send (--resume): request numbers k, each sending item
	 * k % nprompts for the (k / nprompts)-th time, in this order; NULL = all,
	 * 0, 1, ... up to the count or duration.
	 */
	const long long *plan;
	size_t nplan;
	/*
	 * Called on the loop thread as each request ends (its result complete),
	 * before the next is sent; it must not block for long (the writer's
	 * queue, writer.h). A nonzero return stops the load as *stop does.
	 * NULL = none.
	 */
	int (*on_end)(void *arg, struct load_req *r);
	void *on_end_arg;
};

void load_opts_init(struct load_opts *o);

/* One request sent by the load loop. */
struct load_req {
	long long n;              /* 0, 1, ... in send order */
	size_t item;              /* index of the item it sent (items cycle) */
	long long rep;            /* how many times this item was sent before (0 = first) */
	long long k;              /* its request number in the whole run (= n unless opts.plan is set) */
	int64_t t_sched_ns;       /* open loop: its arrival time; closed loop: when a slot freed */
	int done;
	size_t *ndone;            /* the load loop's count of ended requests, raised when this one ends */
	void *loop;               /* the load loop sending it (NULL once load_drive returned) */
	struct chat_result res;
};

/*
 * Sends requests for prompts[0..nprompts) (cycling) with the template req
 * (its prompt is replaced) until the count or duration is reached or *stop is
 * set, and waits for those in flight (cancelled when stopped). On return
 * *out holds *nout requests (caller frees with load_reqs_free). No retries:
 * a failed request is recorded as failed. Returns 0, or -1 (err).
 */
int load_drive(struct client *cl, const struct load_opts *o, const struct chat_request *req,
	       char *const *prompts, size_t nprompts, volatile sig_atomic_t *stop,
	       struct load_req ***out, size_t *nout, char *err, size_t errlen);
void load_reqs_free(struct load_req **r, size_t n);

/* Draws the next inter-arrival gap (seconds) for rate and gamma shape k; state is the RNG. */
double load_gap(double rate, double k, uint64_t *state);

/* SLOs a request must all meet to count toward goodput; NAN = no limit. */
struct load_slo {
	double ttft_s, tpot_s, itl_s, e2e_s;
};
void load_slo_init(struct load_slo *s);
/* Parses "ttft=0.5,tpot=0.05,itl=...,e2e=..." (seconds). 0 or -1 (err). */
int load_slo_parse(struct load_slo *s, const char *spec, char *err, size_t errlen);
/* 1 when a finished ok query meets every SLO (ITL is judged on its p99 gap). */
int load_slo_met(const struct load_slo *s, const struct query_record *q);

/* Percentiles reported for each latency. */
struct load_pct {
	double p50, p90, p95, p99, mean;
	long long n;
};

/* What a load run measured; NAN / -1 where not measured. */
struct load_summary {
	long long sent, ok, failed;
	double span_s;                     /* first send to last end */
	struct load_pct ttft, tpot, itl, e2e;
	struct load_pct send_delay;        /* ipw's own: the request's send - its submission, every sent request */
	double req_per_s, out_tok_per_s;
	long long out_tokens;
	long long good;                    /* ok requests meeting every SLO (-1: no SLO given) */
	double good_share, good_per_s;
	/* accelerator energy over the span (ipw's concurrent rule) */
	double span_accel_j, attributed_accel_j, idle_accel_j, idle_share;
	double j_per_query, j_per_token, mean_power_w;
	double conservation_rel;           /* |attributed + idle - span| / span */
	double naive_accel_j;              /* sum of the naive per-request energies */
};

/*
 * Attributes the telemetry's energy over [t0, t1] to the ok queries qs[i]
 * (whose requests are reqs[i]) by the concurrent rule with a grid of grid_ns,
 * per source, and fills each query's energy fields (gross, dynamic = gross -
 * idle power x its share of time), plus the naive per-request energy in its
 * extra_json ("naive_accel_j"). idle_w: per source idle power (NAN unknown).
 * Fills the energy part of sum. Returns 0, or -1 (err) when the timelines do
 * not cover the span.
 */
int load_energy(struct telemetry *tel, const double *idle_w, struct load_req **reqs,
		struct query_record *qs, size_t n, int64_t t0, int64_t t1, int64_t grid_ns,
		struct load_summary *sum, char *err, size_t errlen);

/* Fills the latency, throughput and goodput part of sum from the requests and their records. */
void load_summarize(struct load_req **reqs, const struct query_record *qs, size_t n,
		    const struct load_slo *slo, struct load_summary *sum);

/* The summary as a JSON object text (caller frees); extra (may be NULL) is merged in. */
char *load_summary_json(const struct load_summary *s, const struct load_opts *o,
			const struct load_slo *slo);

void load_summary_init(struct load_summary *s);

#endif
