/*
 * client.h - streaming chat clients for inference servers: the OpenAI
 * chat-completions SSE API and Ollama's native NDJSON API (one file each in
 * src/client/), many streams on one libcurl multi event loop, model listing,
 * health, and discovery of a local server. See docs/client.md.
 */
#ifndef IPW_CLIENT_H
#define IPW_CLIENT_H

#include <stdint.h>

#include "util.h"

enum api_kind { API_AUTO, API_OPENAI, API_OLLAMA };

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

/* Where a token count came from. */
enum count_src { COUNT_NONE, COUNT_SERVER, COUNT_EVENTS };

struct sampling {
	int max_tokens;
	double temperature;
	double top_p;
	int top_k;           /* <= 0: not sent */
	long long seed;
	int has_seed;
	const char *system;  /* system prompt, or NULL */
};

struct chat_request {
	const char *model;
	const char *prompt;
	struct sampling s;
	double timeout_s;    /* whole-request timeout */
};

/* The outcome of one attempt. Times are CLOCK_MONOTONIC ns (0 = did not happen). */
struct chat_result {
	int64_t t_send_ns;          /* just before the request was handed to libcurl */
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
};

void chat_result_init(struct chat_result *r);
void chat_result_release(struct chat_result *r);
const char *err_kind_name(enum err_kind k);
const char *count_src_name(enum count_src c);
const char *api_name(enum api_kind k);

struct client;
typedef void (*chat_done_fn)(void *arg, struct chat_result *res);

/*
 * Creates a client for base_url ("http://127.0.0.1:8000"). api may be
 * API_AUTO (detected from the server: Ollama answers /api/tags). The API key
 * comes from IPW_API_KEY or OPENAI_API_KEY and is never printed or stored.
 * Returns NULL with err set on failure.
 */
struct client *client_new(const char *base_url, enum api_kind api, char *err, size_t errlen);
void client_free(struct client *c);
enum api_kind client_api(const struct client *c);
const char *client_url(const struct client *c);

/* Starts a stream; res must stay valid until done(arg, res) is called from client_poll(). */
int client_submit(struct client *c, const struct chat_request *req, struct chat_result *res,
		  chat_done_fn done, void *arg);
/* Drives the event loop up to timeout_ms; returns the number of streams still in flight. */
int client_poll(struct client *c, int timeout_ms);
/* Ends every stream in flight with ERR_CANCELLED (their done callbacks run). */
void client_cancel_all(struct client *c);
/* One blocking stream (submit + poll until done). Returns 0 if res->err == ERR_NONE. */
int client_chat(struct client *c, const struct chat_request *req, struct chat_result *res);

/* Model names the server serves (caller frees with free_list). 0 or -1 (err). */
int client_list_models(struct client *c, char ***models, int *n, char *err, size_t errlen);
/* 0 when the server answers its health/model endpoint, else -1 (err). */
int client_health(struct client *c, char *err, size_t errlen);

/* A server found on a usual local port. */
struct discovered {
	char url[128];
	enum api_kind api;
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
