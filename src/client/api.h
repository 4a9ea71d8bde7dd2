/*
 * client/api.h - internal interface between the common client (src/client.c:
 * event loop, line splitting, result bookkeeping) and one file per wire API
 * (openai.c: SSE chat completions, ollama.c: NDJSON /api/chat). Not installed;
 * the parser-level tests use it too.
 */
#ifndef IPW_CLIENT_API_H
#define IPW_CLIENT_API_H

#include <stdint.h>

#include "client.h"

/* Hard cap on what one stream may receive (body bytes and each text buffer). */
#define CLIENT_MAX_RESPONSE (64u << 20)

/* Per-stream parsing state. The line splitter in client.c calls ops->line. */
struct stream_parser {
	const struct api_ops *ops;
	struct chat_result *res;
	struct buf line;        /* the partial line carried between reads */
	struct buf data;        /* SSE: the data lines of the event being read */
	int last_cr;            /* the previous byte was a CR (a following LF ends nothing) */
	int done;               /* the stream said it is over ([DONE], "done":true) */
	int finished;           /* a finish reason arrived */
	int failed;             /* res->err is set; further input is ignored */
	long long nthink_events, nanswer_events;
	size_t nbytes, max_bytes;
};

struct api_ops {
	const char *name;
	const char *chat_path;    /* appended to the base URL */
	const char *models_path;
	const char *accept;       /* Accept header of the chat request */
	/* Writes the JSON request body into out. */
	void (*build_body)(const struct chat_request *req, struct buf *out);
	/* One line of the stream (no line terminator). 0, or -1 after stream_fail(). */
	int (*line)(struct stream_parser *p, const char *line, size_t len, int64_t now_ns);
	/* The body ended: flush what is pending. 0 or -1 after stream_fail(). */
	int (*end)(struct stream_parser *p, int64_t now_ns);
	/* Parses a model-list body into a newly allocated NULL-terminated list. */
	int (*parse_models)(const char *body, char ***models, int *n, char *err, size_t errlen);
};

extern const struct api_ops api_openai;
extern const struct api_ops api_ollama;

void stream_parser_init(struct stream_parser *p, const struct api_ops *ops, struct chat_result *res,
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
/* Ends the stream with an error kind and message; returns -1. */
int stream_fail(struct stream_parser *p, enum err_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Extracts a readable message from an error body: {"error":{"message":..}},
 * {"error":".."}, {"message":..}, {"detail":..}, or the trimmed text itself.
 */
void api_error_message(const char *body, size_t len, char *out, size_t outlen);

#endif
