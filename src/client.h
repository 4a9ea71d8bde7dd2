/*
 * client.h - chat clients for inference servers: a registry of server APIs
 * (api_backends[], one file each in src/client/: OpenAI chat completions, Ollama
 * /api/chat), many requests on one event loop that can also watch other file
 * descriptors, streaming and blocking calls, one retry policy, model listing,
 * health, and discovery of a local server. See docs/client.md.
 */
#ifndef IPW_CLIENT_H
#define IPW_CLIENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum err_kind {
	ERR_NONE,
	ERR_CONNECT,   /* could not connect / DNS / refused */
	ERR_TIMEOUT,   /* the per-query timeout passed */
	ERR_HTTP,      /* non-2xx status (http_status says which) */
	ERR_SERVER,    /* the stream carried an error object */
	ERR_PROTOCOL,  /* malformed JSON / SSE / NDJSON */
	ERR_RESET,     /* the connection dropped before the stream ended */
	ERR_CANCELLED, /* stopped by the user (Ctrl-C) */
};

/*
 * Where a token count came from. A count the server reported that contradicts
 * the stream (negative, far beyond max_tokens or what the output events and
 * bytes can hold) is rejected: the counted events stand in for it
 * (COUNT_EVENTS_REJECTED, "events-server-rejected") or, for the prompt,
 * nothing does (COUNT_NONE_REJECTED, "none-server-rejected").
 */
enum count_src { COUNT_NONE, COUNT_SERVER, COUNT_EVENTS, COUNT_EVENTS_REJECTED, COUNT_NONE_REJECTED };

struct sampling {
	int max_tokens;
	double temperature;
	double top_p;
	int top_k;           /* <= 0: not sent */
	long long seed;
	int has_seed;
	const char *system;  /* system prompt, or NULL */
	int logprobs;        /* 1: ask for each output token's log-probability (OpenAI "logprobs": true) */
};

/*
 * One message of a chat. Strings are borrowed (the caller keeps them alive
 * until client_submit returns; the body is built at once).
 */
struct chat_message {
	const char *role;            /* "system", "user", "assistant", "tool" */
	const char *content;         /* NULL: sent as JSON null (an assistant turn that only calls tools) */
	const char *name;            /* optional participant / tool name, NULL = not sent */
	const char *tool_call_id;    /* optional: the call a "tool" message answers */
	const char *tool_calls_json; /* optional: an assistant's tool calls, a raw JSON array */
};

struct chat_request {
	const char *model;
	/* the conversation: messages[0..nmessages); when nmessages == 0 it is [s.system?, prompt] */
	const struct chat_message *messages;
	size_t nmessages;
	const char *prompt;
	/* a JSON object merged into the request body (objects merged member by member), or NULL */
	const char *extra_body;
	struct sampling s;
	double timeout_s;    /* whole-request timeout */
	int no_stream;       /* 1: "stream":false, the whole reply read at the end (client_complete sets it) */
};

/*
 * Convenience for the one-turn case: fills msgs (room for 2, borrowed strings)
 * with [system (if non-empty), user prompt] and points req at them.
 */
void chat_request_set_prompt(struct chat_request *req, struct chat_message msgs[2], const char *system,
			     const char *prompt);

/* The outcome of one attempt. Times are CLOCK_MONOTONIC ns (0 = did not happen). */
struct chat_result {
	int64_t t_submit_ns;        /* when client_submit took the request */
	/*
	 * when libcurl began to write the request on its connection (connected or
	 * reused: CURLOPT_PREREQFUNCTION), so TTFT, latency and the energy window
	 * leave out the time the request waited in ipw's own loop behind others
	 * (t_send_ns - t_submit_ns, the load summary's client_send_delay_s); APIs
	 * that do not go through libcurl set it when they start the request
	 */
	int64_t t_send_ns;
	int64_t t_first_ns;         /* first output token (reasoning or answer) */
	int64_t t_first_answer_ns;  /* first answer (non-reasoning) token */
	int64_t t_end_ns;           /* stream finished (or failed) */
	int64_t *token_ns;          /* time of each event that carried output text */
	size_t ntoken, captoken;
	struct buf answer;          /* answer text, thinking excluded */
	struct buf thinking;        /* reasoning text */
	char finish_reason[32];
	long long prompt_tokens, completion_tokens, reasoning_tokens; /* -1 = unknown */
	enum count_src prompt_src, completion_src, reasoning_src;
	char model[128];            /* model name the server reported */
	int http_status;
	enum err_kind err;
	char errmsg[IPW_ERRLEN];
	/* server-side timings where the API gives them (Ollama), seconds; NAN = unknown */
	double server_load_s, server_prompt_s, server_eval_s, server_total_s;
	/* added: Retry-After of an HTTP error reply in seconds (NAN if none), for the retry policy */
	double retry_after_s;
	/* added: the server's own CLOCK_MONOTONIC send time of the first output event, when it
	 * reports one ("x_server_t_ns", only the fake test server does); 0 = not reported */
	int64_t server_t_first_ns;
	/* non-streaming replies: the assistant's tool_calls as raw JSON, NULL if none (owned, freed by release) */
	char *tool_calls_json;
	/* added: the in-process engine's own CPU seconds for this request (--api builtin); NAN = unknown */
	double engine_cpu_s;
	/* added: the output tokens' log-probabilities the server returned (OpenAI
	 * choices[0].logprobs.content[].logprob, natural log): their sum (nats) and how
	 * many there were; logprob_n = -1: the server returned none (not measured) */
	double logprob_sum;
	long long logprob_n;
};

void chat_result_init(struct chat_result *r);
void chat_result_release(struct chat_result *r);
const char *err_kind_name(enum err_kind k);
const char *count_src_name(enum count_src c);

/* ---- the API registry ---- */

struct api_backend;   /* one server API (src/client/api.h); each file in src/client/ exports one */

/* The registry, NULL-terminated; the order is the order "auto" tries them in. */
extern const struct api_backend *const api_backends[];

/*
 * The API registered under name. NULL, "" or "auto" set *out = NULL (detect
 * from the server) and return 0; an unknown name returns -1 with err listing
 * the known ones.
 */
int api_lookup(const char *name, const struct api_backend **out, char *err, size_t errlen);
const char *api_backend_name(const struct api_backend *b);
/* "ollama|openai|auto" (the registry's names, sep between them, then "auto") into out. */
void api_names(char *out, size_t n, const char *sep);

/* ---- the client ---- */

struct client;
typedef void (*chat_done_fn)(void *arg, struct chat_result *res);

struct client_opts {
	const char *api;            /* registry name; NULL or "auto": detected from the server */
	const struct api_backend *backend; /* overrides api when set (e.g. a test's own backend) */
	const char *key_env;        /* variable holding the API key; NULL: IPW_API_KEY, then OPENAI_API_KEY */
};
void client_opts_init(struct client_opts *o);

/*
 * Creates a client for base_url ("http://127.0.0.1:8000", "host:8000/v1/").
 * With no API named, each registered API's detect() is tried in table order
 * (Ollama answers /api/tags; anything answering /v1/models is OpenAI). The key
 * is never printed or stored. Returns NULL with err set (unknown API name,
 * nothing answering). Free with client_free.
 */
struct client *client_open(const char *base_url, const struct client_opts *o, char *err, size_t errlen);
/* client_open with api named (NULL/"auto": detect) and the default key variables. */
struct client *client_new(const char *base_url, const char *api, char *err, size_t errlen);
void client_free(struct client *c);
/* The API in use: its registry name (static string) / its backend. */
const char *client_api(const struct client *c);
const struct api_backend *client_backend(const struct client *c);
/* Normalised base URL: scheme://host[:port][/prefix], no trailing "/" or "/v1" (owned by c). */
const char *client_url(const struct client *c);
/* The API key in use, or NULL (owned by c; for redacting it from messages, never for printing). */
const char *client_key(const struct client *c);

/*
 * The one URL normaliser: "host:8000/v1/" -> "http://host:8000" (adds http://
 * when no scheme is given, strips trailing "/" and one trailing "/v1").
 * Caller frees.
 */
char *client_normalise_url(const char *url);

/*
 * Starts a request (streaming unless req->no_stream); res must stay valid
 * until done(arg, res) is called from client_poll(). Returns 0, or -1 with
 * res->err/errmsg set (bad extra_body or tool_calls JSON, no handle).
 */
int client_submit(struct client *c, const struct chat_request *req, struct chat_result *res,
		  chat_done_fn done, void *arg);
/*
 * Drives the event loop up to timeout_ms: transfers, the API's own requests,
 * and watched descriptors (their callbacks run from here). Returns the number
 * of requests still in flight. With nothing in flight it still waits for
 * watched descriptors (if any) up to timeout_ms.
 */
int client_poll(struct client *c, int timeout_ms);
/* Makes a client_poll waiting in another thread return early (thread-safe). */
void client_wakeup(struct client *c);
/* Ends every request in flight with ERR_CANCELLED (their done callbacks run). */
void client_cancel_all(struct client *c);
/* One blocking stream (submit + poll until done). Returns 0 if res->err == ERR_NONE. */
int client_chat(struct client *c, const struct chat_request *req, struct chat_result *res);
/*
 * One blocking non-streaming call ("stream":false): res gets the whole answer,
 * thinking, finish reason, usage and tool_calls_json. Returns 0 if
 * res->err == ERR_NONE, else -1 (res->err, http_status, errmsg say why).
 */
int client_complete(struct client *c, const struct chat_request *req, struct chat_result *res);

/* ---- watching other descriptors on the same loop ---- */

#define CLIENT_FD_READ 1
#define CLIENT_FD_WRITE 2
/* revents: CLIENT_FD_READ / CLIENT_FD_WRITE bits (an error or hang-up reads as READ). */
typedef void (*client_fd_fn)(void *arg, int fd, int revents);
#define CLIENT_MAX_WATCH 64
/* idle connections kept for reuse (libcurl's CURLMOPT_MAXCONNECTS): more than any load opens */
#define CLIENT_MAX_IDLE_CONNS 1000000
/*
 * Has client_poll watch fd for events (CLIENT_FD_* bits) and call cb(arg, fd,
 * revents) when it is ready; cb may watch/unwatch descriptors and submit
 * requests. Watching a watched fd replaces its events and callback. 0, or -1
 * (bad fd or events, CLIENT_MAX_WATCH reached).
 */
int client_watch_fd(struct client *c, int fd, int events, client_fd_fn cb, void *arg);
/* Stops watching fd. 0, or -1 if it was not watched. */
int client_unwatch_fd(struct client *c, int fd);

/* ---- the retry policy (src/client/retry.c), shared by the runner and the judge ---- */

#define RETRY_ON_CONNECT 0x01u  /* refused, unreachable, DNS */
#define RETRY_ON_RESET 0x02u    /* the connection dropped mid-reply */
#define RETRY_ON_TIMEOUT 0x04u  /* the request's timeout passed */
#define RETRY_ON_429 0x08u      /* HTTP 429 Too Many Requests */
#define RETRY_ON_5XX 0x10u      /* HTTP 500..599 */
#define RETRY_ON_ALL 0x1fu

struct retry_policy {
	int max_attempts;          /* 1 + retries (default 3; < 1 counts as 1) */
	double backoff_base_s;     /* wait after the first failure, doubled after each (default 1) */
	double backoff_max_s;      /* cap on the doubled wait (default 60) */
	int honour_retry_after;    /* wait at least the server's Retry-After (default 1) */
	double retry_after_max_s;  /* cap on a Retry-After wait (default 60) */
	unsigned retry_on;         /* RETRY_ON_* bits (default RETRY_ON_ALL); other errors never retry */
	double budget_s;           /* a query's whole time, first send to last end, waits included (<= 0: none) */
};
void retry_policy_init(struct retry_policy *p);
/* 1 when res failed with an error p retries (other 4xx, protocol, server and cancel errors: 0). */
int retry_retriable(const struct retry_policy *p, const struct chat_result *res);
/* 1 when attempt (1-based) ended with res and the policy allows another. */
int retry_again(const struct retry_policy *p, int attempt, const struct chat_result *res);
/* Seconds to wait after failed attempt (1-based) ended with res. */
double retry_delay_s(const struct retry_policy *p, int attempt, const struct chat_result *res);
/*
 * 1 when waiting delay_s and trying again still fits p's time budget for a
 * query first sent at t_first_ns (CLOCK_MONOTONIC), else 0 (no budget: 1).
 */
int retry_within_budget(const struct retry_policy *p, int64_t t_first_ns, double delay_s);
/* Sleeps s seconds in short steps; returns 1 early when stop && *stop, else 0. */
int retry_sleep(double s, volatile sig_atomic_t *stop);
/*
 * client_complete (req->no_stream) or client_chat under policy p, waiting
 * retry_delay_s() between attempts (returning early when stop && *stop; stop
 * may be NULL). res is initialised here and holds the last attempt (release
 * it with chat_result_release); *attempts (may be NULL) says how many were
 * made. Returns 0 if the last attempt succeeded, else -1.
 */
int client_call_retry(struct client *c, const struct chat_request *req, const struct retry_policy *p,
		      volatile sig_atomic_t *stop, struct chat_result *res, int *attempts);

/* ---- models, health, discovery ---- */

/* Model names the server serves (caller frees with free_list). 0 or -1 (err). */
int client_list_models(struct client *c, char ***models, int *n, char *err, size_t errlen);
/* 0 when the server answers its health/model endpoint, else -1 (err). */
int client_health(struct client *c, char *err, size_t errlen);

/* A server found on a usual local port. */
struct discovered {
	char url[128];
	const char *api;   /* registry name of the API it speaks (static string) */
	char engine[32];   /* "ollama", "vllm", "sglang", "llama.cpp", "lm-studio", "unknown" */
	char model[128];   /* first model served, "" if none */
};
/*
 * Looks for a local server on 127.0.0.1 at Ollama 11434, vLLM 8000, SGLang
 * 30000, llama.cpp 8080 and LM Studio 1234 (IPW_DISCOVER_PORTS overrides the
 * list, for tests). 0 with the first found, or -1 with a message saying how to start one.
 */
int client_discover(struct discovered *d, char *err, size_t errlen);

#endif
