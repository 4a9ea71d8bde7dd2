/*
 * router/router.h - the live hybrid router (`ipw route serve`): its
 * configuration (tiers, policies, limits; docs/router.md), the policies that
 * turn a request into an ordered list of tiers, the learned predictor of local
 * correctness (`ipw route train`) and the server that proxies requests to the
 * chosen tier over one event loop. Library code: never prints.
 */
#ifndef IPW_ROUTER_H
#define IPW_ROUTER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ROUTER_MAX_TIERS 16
#define ROUTER_HIST_BUCKETS 12

/* One upstream endpoint (OpenAI-compatible chat completions). */
struct router_tier {
	char *name;            /* the tier's name in headers, metrics and rules */
	char *url;             /* base URL, e.g. http://127.0.0.1:8081 (".../v1/chat/completions" is added) */
	char *model;           /* the model name sent upstream */
	char *key_env;         /* environment variable holding the API key (NULL: none); never stored */
	int cloud;             /* 1: leaves the machine (never used for local-only requests) */
	double price_in;       /* USD per 1M prompt tokens (0 for a local tier unless priced) */
	double price_out;      /* USD per 1M completion tokens */
	double j_per_token;    /* joules per completion token from the profile run (NAN: unknown) */
	char *profile_run;     /* the stored run j_per_token comes from (NULL: given in the config) */
	double timeout_s;      /* whole-request limit upstream */
	int measured;          /* the router's telemetry covers this tier's device: its energy is measured */
};

/* Static rules (policy "rules"). */
struct router_rules {
	long long long_prompt_chars; /* prompts longer than this go to long_tier (0: no length rule) */
	int long_tier;               /* tier index, -1: none */
	int default_tier;            /* tier index the rules fall back to */
	json_t *aliases;             /* {"model alias": "tier name"} (owned), may be NULL */
};

struct router_budget {
	double usd;                  /* per client key and window (<= 0: no budget) */
	double window_s;
	int refuse;                  /* 1: refuse cloud requests past it; 0: send them to a local tier */
	int max_clients;             /* client keys with a live window at once; past it a new key is over budget */
};

struct router_config {
	char *host;                  /* numeric address to bind (default 127.0.0.1) */
	int port;                    /* 0: any free port */
	int threads;                 /* event loops, each on its own thread (0: the CPUs it may use, at most 8) */
	struct router_tier tiers[ROUTER_MAX_TIERS];
	int ntiers;
	int fallback[ROUTER_MAX_TIERS]; /* tier order tried after the decided one */
	int nfallback;
	int retries;                 /* extra attempts at the same tier on 429/5xx/connect errors */
	char *default_policy;        /* "rules", "learned" or "cascade" */
	struct router_rules rules;
	struct router_budget budget;
	char *learned_path;          /* router file of `ipw route train` (NULL: no learned policy) */
	double learned_threshold;    /* default threshold (probability) */
	int learned_by_cost;         /* 1: the cheapest tier by price (input + output per 1M); 0: by J/token */
	long long max_body;          /* request body limit in bytes */
	int max_private_sessions;    /* local-only session ids kept for the server's life; past it refused (503) */
	char *tokens_env;            /* env var with comma-separated client bearer tokens (NULL: open) */
	char *store;                 /* store URI for the router run (NULL: not recorded) */
	int cascade_min_chars;       /* cascade verifier: answers shorter than this are rejected */
	char *cascade_pattern;       /* cascade verifier: an answer must contain a match (PCRE2; NULL: none) */
	void *cascade_re;            /* cascade_pattern compiled at load (pcre2_code *) */
	double cascade_logprob_min;  /* cascade verifier: reject when the token log-probabilities' statistic
				      * (nats) is below this (NAN: no log-probability check) */
	int cascade_logprob_use_min; /* 1: the minimum over the tokens; 0: the mean */
};

/*
 * A TOML subset as a JSON tree (caller decrefs), NULL with err ("line N: ..."):
 * tables, arrays of tables, dotted keys, basic and literal one-line strings,
 * decimal integers and floats, booleans, arrays, inline tables, comments.
 */
json_t *router_toml_parse(const char *text, char *err, size_t errlen);
/* Reads a config file: JSON, or TOML when its name ends in ".toml"; 0 or -1 (err names the file and the field). */
int router_config_load(struct router_config *c, const char *path, char *err, size_t errlen);
void router_config_release(struct router_config *c);
/* The index of the tier named name, -1 if none. */
int router_tier_find(const struct router_config *c, const char *name);

/* ---- the learned predictor (router/learned.c) ---- */

#define LEARN_DIM_BITS 14
#define LEARN_DIM (1u << LEARN_DIM_BITS)

/* A calibrated logistic regression over hashed word and character n-grams. */
struct learn_model {
	char *tier_model;            /* the local model this predicts correctness of */
	char *run_id;                /* the training run of that model */
	float w[LEARN_DIM];
	double bias;
	double platt_a, platt_b;     /* calibrated p = 1 / (1 + exp(-(a * score + b))) */
	double j_per_token;          /* the run's measured J per completion token (NAN: unknown) */
};

struct learn_router {
	int version;
	char *cloud_run;
	struct learn_model *models;  /* one per local run, in the order given */
	size_t nmodels;
	double threshold;            /* default probability threshold */
	json_t *report;              /* held-out evaluation (owned) */
};

/* Hashed features of text: indices into LEARN_DIM, n of them (caller frees *idx). */
size_t learn_features(const char *text, uint32_t **idx);
/* Calibrated probability that model m answers text correctly. */
double learn_predict(const struct learn_model *m, const char *text);

struct learn_example {
	const char *text;
	int label;                   /* 1: the local model answered correctly */
};

/* Fits m on ex[0..n) (deterministic for a seed); calibrates on cal[0..ncal) (may be ex). */
void learn_fit(struct learn_model *m, const struct learn_example *ex, size_t n, const struct learn_example *cal,
	       size_t ncal, uint64_t seed);
/* AUC of scores against labels (NAN when one class is absent). */
double learn_auc(const double *p, const int *y, size_t n);

int learn_router_save(const struct learn_router *r, const char *path, char *err, size_t errlen);
int learn_router_load(struct learn_router *r, const char *path, char *err, size_t errlen);
void learn_router_release(struct learn_router *r);

/* ---- policies (router/policy.c) ---- */

enum router_policy { POLICY_RULES, POLICY_LEARNED, POLICY_CASCADE, POLICY_TIER };

/* What a request asks for and what limits it carries. */
struct router_request_info {
	const char *model;           /* the model name the client sent */
	const char *text;            /* the last user message ("" if none) */
	size_t prompt_chars;         /* characters of every message's content */
	const char *tier_header;     /* x-ipw-tier (rules), NULL if absent */
	int local_only;              /* privacy: local-only (header, body or sticky session) */
	double max_ttft_s;           /* latency limit on the first token (NAN: none) */
	double max_e2e_s;            /* latency limit on the whole reply (NAN: none) */
	int over_budget;             /* the client's cost budget is spent */
};

/* The outcome of a policy: tiers to try in order, why, and the prediction. */
struct router_decision {
	enum router_policy policy;
	int tier;                    /* POLICY_TIER: the tier named (set by the caller) */
	int order[ROUTER_MAX_TIERS * 2];
	int n;
	char reason[256];
	double predicted;            /* predicted correctness of the first local tier (NAN: none) */
	double threshold;            /* learned: the threshold used (NAN otherwise) */
	char first_skipped[16];      /* the limit that removed the policy's own choice ("": none) */
};

/* Live per-tier state the latency rule reads. */
struct router_tier_live {
	int inflight;
	double ttft_ewma_s;          /* NAN until a request finished */
	double e2e_ewma_s;           /* NAN until a request finished */
};

/*
 * Parses a policy model name ("ipw-router", "ipw-router:rules", "ipw-router:learned:0.7",
 * "ipw-router:cascade", "ipw-router:tier:NAME" or a rules alias). 0 or -1 (err: unknown name).
 */
int router_policy_parse(const struct router_config *c, const struct learn_router *lr, const char *model,
			enum router_policy *pol, double *threshold, int *tier, char *err, size_t errlen);

/* Decides; 0, or -1 when no tier is allowed (err says which limit removed them). */
int router_decide(const struct router_config *c, const struct learn_router *lr,
		  const struct router_tier_live *live, const struct router_request_info *ri, struct router_decision *d,
		  char *err, size_t errlen);

/* ---- the server (router/server.c) ---- */

/* 1 when the client token a equals b; constant time in their contents and lengths. */
int router_token_equal(const char *a, const char *b);

struct router_server;

/* Starts listening (the loop runs in router_server_run). 0 or -1 with err. */
int router_server_open(struct router_server **out, struct router_config *c, char *err, size_t errlen);
/* libmicrohttpd's memory per client connection: the request's headers must fit (else 431) */
#define ROUTER_CONN_MEMORY (16 * 1024)
int router_server_port(const struct router_server *s);
/* How many event loops (threads) serve. */
int router_server_loops(const struct router_server *s);
/* Runs the event loop until *stop is set; 0 or -1 with err. */
int router_server_run(struct router_server *s, volatile sig_atomic_t *stop, char *err, size_t errlen);
/* The id of the router run in the store (NULL when not recording). */
const char *router_server_run_id(const struct router_server *s);
void router_server_close(struct router_server *s);

#endif
