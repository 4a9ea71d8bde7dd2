/*
 * runner.h - the profiling run: dataset items streamed to an inference
 * server one query at a time (the paper's method), each query's energy taken
 * from the telemetry timelines over its window and committed to the store at
 * once. Warm-up, idle baselines, retries and resume live here. Never prints:
 * progress and messages go through the hooks.
 */
#ifndef IPW_RUNNER_H
#define IPW_RUNNER_H

#include <signal.h>
#include <stddef.h>

#include "client.h"
#include "record.h"

struct store;

/*
 * A work queue in place of the dataset's order (ipw worker, src/study.h):
 * next gives the ids of the next items to run (*n = 0: no more work; the
 * caller's list, freed by the runner with free_list); record stores a
 * finished query in place of store_query_insert: 0 stored, 1 not stored and
 * not to be (another worker owns the item now), -1 on a store error.
 */
struct item;

struct runner_queue {
	void *arg;
	int (*next)(void *arg, char ***ids, size_t *n, char *err, size_t errlen);
	int (*record)(void *arg, struct store *st, const char *run_id, const struct query_record *q,
		      char *err, size_t errlen);
	/*
	 * Batched results (keep and flush set; record then unused): each query
	 * is handed over once its energy is attributed, with its item, and keep
	 * takes its contents (the runner's copy is left empty): 0, or 1 to have
	 * flush called now. flush commits what keep holds, after the run's
	 * samples so far are stored; the runner calls it after each claimed
	 * batch and at the end: 0, or -1 on a store error.
	 */
	int (*keep)(void *arg, struct query_record *q, const struct item *it, char *err, size_t errlen);
	int (*flush)(void *arg, struct store *st, const char *run_id, char *err, size_t errlen);
};

struct runner_opts {
	/* server */
	const char *url;           /* NULL = discover a local server */
	const char *api;           /* API registry name (client.h); NULL or "auto" = detect */
	const char *model;         /* NULL = the one model the server serves */
	double timeout_s;          /* per attempt */
	int max_attempts;          /* 1 + retries */
	double backoff_s;          /* first retry delay; doubles each time */
	double retry_after_max_s;  /* cap on a server's Retry-After wait */
	double query_budget_s;     /* a query's whole time, retries and waits included (0: none) */
	int warmup;                /* requests before the run, not recorded */
	struct sampling s;
	/* data */
	const char *dataset;       /* NULL = built-in */
	const char *dataset_format; /* NULL = detect (see dataset_load_format) */
	long long limit;           /* <= 0: all */
	int shuffle;
	unsigned long long shuffle_seed;
	/* store */
	const char *store;
	const char *name;
	const char *resume;        /* run id or name to continue */
	/* telemetry */
	const char *devices;
	const char *backends;
	int host;                  /* measure host CPU/DRAM too */
	int interval_ms;
	double idle_s;             /* idle baseline length, before and after */
	const char *fake_profile, *fake_trace;
	double cpu_watts_per_core; /* --cpu-watts-per-core: the estimate of --api builtin (<= 0: default) */
	/*
	 * load generation (src/load.h, docs/load.md): the load loop runs when
	 * load is set, concurrency > 1, rate > 0, duration_s > 0 or count > 0
	 */
	int load;
	int concurrency;           /* closed loop: requests in flight */
	double rate;               /* open loop: arrivals per second */
	double burstiness;         /* gamma shape of inter-arrivals (1 = Poisson) */
	int max_concurrency;       /* open loop cap (0 = none) */
	double duration_s;         /* send for this long, cycling items (0 = one pass) */
	long long count;           /* requests to send (0 = one per item, or unbounded with duration) */
	int writer_queue;          /* ended queries waiting for the store's writer at most (0 = WRITER_DEPTH_DEFAULT) */
	const char *slo;           /* "ttft=0.5,tpot=0.05" or NULL */
	const char *extra_body;    /* --extra-body: a JSON object merged into every request body, or NULL */
	int ignore_eos;            /* --ignore-eos: ask the server to generate max_tokens (vLLM, SGLang, llama.cpp) */
	const char *group;         /* sweep group recorded with the run, or NULL */
	/* --serve: start the server as a child (src/serve.h) */
	const char *serve;         /* shell command, or NULL */
	const char *serve_log;     /* its log file (NULL = beside the store) */
	double serve_timeout_s;    /* how long to wait for health */
	/* control */
	volatile sig_atomic_t *stop; /* set by a signal handler: stop after cleanup */
	const struct runner_queue *queue; /* NULL: every item in order; else the items it gives (sequential only) */
};

void runner_opts_init(struct runner_opts *o);

struct runner_progress {
	long long done, total, failed, skipped; /* skipped = already recorded (resume) */
	double elapsed_s;
	double mean_accel_j;        /* mean accelerator energy per ok query so far, NAN if none */
	double rate_qps;
};

enum runner_level { RUNNER_INFO, RUNNER_WARN };

struct runner_hooks {
	void *arg;
	void (*message)(void *arg, enum runner_level level, const char *text);
	void (*progress)(void *arg, const struct runner_progress *p);
	void (*query_done)(void *arg, const struct query_record *q);
};

/* What the run did, for the closing summary. */
struct runner_report {
	char run_id[32];
	char status[16];             /* completed / interrupted / failed */
	long long ok, failed, skipped, total;
	double wall_s;
	double accel_j, host_j;      /* summed over recorded ok queries (NAN if not measured) */
	double span_accel_j;         /* accelerator energy over the whole query phase */
	double idle_accel_w;         /* idle baseline before, summed over accelerators */
	double mean_e2e_s, mean_ttft_s;
	long long completion_tokens;
	/* added: load runs and --serve */
	char *summary_json;          /* the run's summary (load.h), caller frees; NULL if none */
	double device_idle_w;        /* --serve: accelerator idle power before the server started */
	char server_log[512];        /* --serve: its log file */
	int halted;                  /* the run stopped itself (server unreachable, model not served): */
	char halt_why[IPW_ERRLEN];   /* why; status is "interrupted", so --resume continues it */
};

/*
 * Runs (or resumes) a profile. Returns 0 when every query was attempted
 * (some may have failed: see report), -1 with err for what stopped it before
 * or outside the query loop (no server, bad dataset, store error).
 */
int runner_run(const struct runner_opts *o, const struct runner_hooks *h,
	       struct runner_report *rep, char *err, size_t errlen);

#endif
