/*
 * client/api.h - the interface behind the API registry: struct api_backend
 * (one per server API, one file each in src/client/, listed in registry.c),
 * the HTTP wire format the shared libcurl machinery in src/client.c runs, the
 * per-stream parser state and the helpers the API files share. Not installed;
 * the parser-level tests use it too.
 */
#ifndef IPW_CLIENT_API_H
#define IPW_CLIENT_API_H

#include <jansson.h>
#include <stdint.h>

#include "client.h"

/* Hard cap on what one reply may carry (body bytes and each text buffer). */
#define CLIENT_MAX_RESPONSE (64u << 20)

struct http_wire;

/* Per-stream parsing state. The line splitter in client.c calls wire->line. */
struct stream_parser {
	const struct http_wire *wire;
	struct chat_result *res;
	struct buf line;        /* the partial line carried between reads */
	struct buf data;        /* SSE: the data lines of the event being read */
	int last_cr;            /* the previous byte was a CR (a following LF ends nothing) */
	int done;               /* the stream said it is over ([DONE], "done":true) */
	int finished;           /* a finish reason arrived */
	int failed;             /* res->err is set; further input is ignored */
	long long nthink_events, nanswer_events;
	size_t nbytes, max_bytes;
	int max_tokens;         /* the request's max_tokens (<= 0: none), to judge the server's counts */
	/* the fast path (client/jscan.h): events read without a JSON tree, and those it left to jansson */
	int no_fast;            /* 1: every event through jansson (tests comparing the two paths) */
	long long nfast, nslow;
	char *scratch;          /* the fast path's decoded strings, grown to the largest event */
	size_t scratch_cap;
	char last_model[128];   /* the raw model text last recorded, so a repeat costs a comparison */
	size_t last_model_len;
};

/* The wire format of an HTTP API; the requests run on the client's libcurl multi handle. */
struct http_wire {
	const char *chat_path;    /* appended to the base URL */
	const char *models_path;
	const char *health_path;  /* GET answering 503 while loading, or NULL */
	const char *accept;       /* Accept header of a streaming request */
	const char *end_marker;   /* what ends a complete stream, for messages */
	/* Writes the JSON request body (stream or not, per req->no_stream). 0, or -1 with err. */
	int (*build_body)(const struct chat_request *req, struct buf *out, char *err, size_t errlen);
	/* One line of the stream (no line terminator). 0, or -1 after stream_fail(). */
	int (*line)(struct stream_parser *p, const char *line, size_t len, int64_t now_ns);
	/* The body ended: flush what is pending. 0 or -1 after stream_fail(). */
	int (*end)(struct stream_parser *p, int64_t now_ns);
	/* A whole non-streaming reply body. 0, or -1 after stream_fail(). */
	int (*parse_whole)(struct stream_parser *p, const char *body, size_t len, int64_t now_ns);
	/* Parses a model-list body into a newly allocated NULL-terminated list. */
	int (*parse_models)(const char *body, char ***models, int *n, char *err, size_t errlen);
};

/*
 * One server API. An HTTP API fills wire (and detect/probe); an API that runs
 * requests its own way (an in-process engine) leaves wire NULL and fills
 * open..list_models: its submit starts a request, client_poll calls dispatch
 * on the loop thread to complete finished ones (their done callbacks), and it
 * wakes a waiting client_poll with client_wakeup() or a client_watch_fd'd fd.
 */
struct api_backend {
	const char *name;         /* the --api value */
	const char *summary;      /* one line for help text */
	/* "auto": 1 when the server at base speaks this API, 0 if not (why: what was tried). NULL: never detected. */
	int (*detect)(const char *base, const char *key, char *why, size_t whylen);
	/* Discovery on a local port: 1 when url serves this API (d filled; engine_hint is the port's usual engine). */
	int (*probe)(const char *url, const char *key, const char *engine_hint, struct discovered *d);
	const struct http_wire *wire;
	/* an API of its own (wire == NULL) */
	int (*open)(struct client *c, void **state, char *err, size_t errlen);
	void (*close)(void *state);
	int (*submit)(void *state, const struct chat_request *req, struct chat_result *res, chat_done_fn done,
		      void *arg);
	int (*dispatch)(void *state);   /* completes what finished; returns how many remain in flight */
	void (*cancel_all)(void *state); /* ends every request with ERR_CANCELLED (done callbacks run) */
	int (*list_models)(void *state, char ***models, int *n, char *err, size_t errlen);
};

extern const struct api_backend api_openai;
extern const struct api_backend api_ollama;
extern const struct api_backend api_builtin;

void stream_parser_init(struct stream_parser *p, const struct http_wire *wire, struct chat_result *res,
			size_t max_bytes);
void stream_parser_release(struct stream_parser *p);
/* Feeds received body bytes (any split). 0, or -1 when the stream failed (res->err set). */
int stream_parser_feed(struct stream_parser *p, const char *data, size_t n, int64_t now_ns);
/*
 * The body ended without a transport error: flushes pending input, checks the
 * stream completed (else ERR_RESET) and fills token counts the server did not
 * give. 0 or -1 (res->err set).
 */
int stream_parser_finish(struct stream_parser *p, int64_t now_ns);
/* Fills fallback token counts (also used after a failure, for partial output). */
void stream_parser_counts(struct stream_parser *p);

/* Records one event's output text (either part may be empty) arriving at now_ns. */
int stream_output(struct stream_parser *p, const char *answer, size_t alen, const char *think,
		  size_t tlen, int64_t server_t_ns, int64_t now_ns);
/* Adds the log-probabilities of n output tokens (their sum, nats) an event carried (n may be 0:
 * the event had an empty logprobs.content, which still says the server measures them). */
static inline void stream_logprobs(struct stream_parser *p, double sum, long long n)
{
	if (p->res->logprob_n < 0)
		p->res->logprob_n = 0;
	p->res->logprob_sum += sum;
	p->res->logprob_n += n;
}
/* Records the model name an event reported (len 0: none), scrubbed of secrets and cut to fit. */
void stream_model(struct stream_parser *p, const char *model, size_t len);
/* Ends the stream with an error kind and message; returns -1. */
int stream_fail(struct stream_parser *p, enum err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Extracts a readable message from an error body: {"error":{"message":..}},
 * {"error":".."}, {"message":..}, {"detail":..}, or the trimmed text itself.
 */
void api_error_message(const char *body, size_t len, char *out, size_t outlen);

/* ---- shared by the HTTP APIs (src/client.c) ---- */

/*
 * GET url (Authorization from key when non-NULL) into body. 0 with *status
 * (the HTTP status), or -1 when no reply came (cerr says why).
 */
int api_http_get(const char *url, const char *key, long timeout_ms, struct buf *body, long *status,
		 char *cerr, size_t cerrlen);
int api_is_2xx(long status);
/* Whether body is a JSON object whose member key is an array. */
int api_json_has_array(const char *body, const char *key);

/* ---- request bodies (src/client/body.c) ---- */

#define API_MSG_OLLAMA 1   /* Ollama's message form: content never null, a tool's name as "tool_name" */
/* json_string, falling back to no UTF-8 check so a bad byte in a prompt still goes out. */
json_t *api_jstr(const char *s);
/* req's messages (or [system?, prompt]) as a new JSON array. NULL with err (bad tool_calls JSON). */
json_t *api_messages_json(const struct chat_request *req, int flags, char *err, size_t errlen);
/* Merges req->extra_body into o, dumps o into out and drops o. 0, or -1 with err (not a JSON object). */
int api_body_finish(json_t *o, const struct chat_request *req, struct buf *out, char *err, size_t errlen);

#endif
