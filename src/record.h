/*
 * record.h - what a run and each of its queries record: the contract between
 * the runner, the store and the commands that read runs back. Strings are
 * owned by the record; NAN means "not measured", -1 "unknown" for counts.
 */
#ifndef IPW_RECORD_H
#define IPW_RECORD_H

#include <stdint.h>

/* One measured source of a run, with its idle baselines. */
struct run_source {
	int idx;                 /* position in the run (0..n-1), used by query_energy */
	char *name, *backend, *kind, *scope, *model, *uuid, *pci_bus_id, *driver;
	double power_limit_w;
	double idle_before_w;    /* mean power before the first query (server up, nothing in flight) */
	double idle_after_w;     /* mean power after the last query */
};

struct run_record {
	char *id;                /* assigned by the store: "1", "2", ... */
	char *name;              /* --name, or generated */
	char *status;            /* "running", "completed", "interrupted", "failed" */
	char *model;             /* --model as asked */
	char *server_model;      /* the name the server reports */
	char *api, *url, *engine;
	char *config_json;       /* every option, including sampling defaults */
	char *dataset_path;
	char *dataset_sha256;
	char *dataset_format;
	long long n_items;       /* items planned */
	char *hardware_json;     /* host name, CPU, sources (names, UUIDs, drivers) */
	char *version;           /* ipw's version */
	double started_at;       /* wall clock, Unix seconds */
	double ended_at;         /* NAN while running */
	double idle_seconds;
	struct run_source *sources;
	int nsources;
	/* added (load generation, schema 2): NULL when absent */
	char *group_name;        /* runs of one sweep share it (--sweep) */
	char *summary_json;      /* the run's load summary: percentiles, throughput, goodput, energy */
	char *server_log;        /* path of the --serve server's log, kept with the run */
};

/* Energy of one source for one query. */
struct query_energy {
	int source_idx;
	double gross_j, dynamic_j;
};

/* One attempt of a query (a retry adds one). */
struct query_attempt {
	int n;                   /* 1, 2, ... */
	double t_start_s;        /* seconds since the run's start */
	double duration_s;
	char *error_kind;        /* "none", "http", "timeout", ... */
	int http_status;
	char *message;
};

struct query_record {
	long long seq;           /* position in the run's plan (0-based) */
	char *item_id, *subject, *task, *prompt;
	char *answer, *thinking, *finish_reason;
	/* bytes of answer / thinking as the server sent them (NUL bytes included);
	 * 0 means strlen(). The store keeps exactly these bytes. */
	size_t answer_len, thinking_len;
	char *status;            /* "ok", "failed" */
	char *reference;         /* the item's reference answer (for scoring later) */
	/* times: seconds since the run's start on the monotonic clock */
	double t_send_s, t_first_s, t_end_s;
	double ttft_s, e2e_s, tpot_s, itl_p50_s, itl_p90_s, itl_p99_s;
	long long prompt_tokens, completion_tokens, reasoning_tokens;
	char *prompt_tokens_src, *completion_tokens_src, *reasoning_tokens_src; /* server|events|none */
	/* energy: gross (the paper's number) and dynamic (gross - idle power x duration) */
	double accel_j, host_j, total_j;
	double accel_dyn_j, host_dyn_j, total_dyn_j;
	double avg_power_w;      /* accel_j / e2e_s */
	double peak_power_w, temp_max_c, mem_max_bytes;
	struct query_energy *energy;
	int nenergy;
	char *error_kind, *error_message;
	int http_status;
	struct query_attempt *attempts;
	int nattempts;
	char *extra_json;        /* API-specific extras (Ollama server timings), or NULL */
	double cpu_s;            /* added (schema 3): the in-process engine's own CPU seconds; NAN: not known */
	/* added (schema 7): the output tokens' log-probabilities the server returned: their sum
	 * (nats, <= 0) and how many tokens they cover; logprob_tokens <= 0 (or a NAN sum): not
	 * measured, stored as NULL in both columns (a zeroed record is "not measured", never 0) */
	double logprob_sum;
	long long logprob_tokens;
};

void run_record_release(struct run_record *r);
void query_record_release(struct query_record *q);
/* q, or *tmp (a shallow copy of q) with the log-probability fields set to "not measured"
 * (NAN, -1) when q has none (logprob_tokens <= 0 or a non-finite sum): what a store writes. */
const struct query_record *query_record_logprobs_norm(const struct query_record *q, struct query_record *tmp);

#endif
