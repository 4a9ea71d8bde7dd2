/*
 * engine/http.h - an OpenAI-compatible HTTP server around one loaded engine
 * (`ipw serve`): POST /v1/chat/completions (SSE with usage, or "stream":false),
 * GET /v1/models, GET /health. Library code: never prints.
 */
#ifndef IPW_ENGINE_HTTP_H
#define IPW_ENGINE_HTTP_H

#include "engine/engine.h"

struct engine_server;

struct engine_server_opts {
	const char *host;          /* numeric address to bind; NULL: 127.0.0.1 */
	int port;                  /* 0: any free port (engine_server_port says which) */
	const char *model_name;    /* the id /v1/models lists and replies carry */
	const char *chat_template; /* NULL: detected from the model */
	const char *request_log;   /* append each chat request body as one line here (NULL: none) */
};

/* Starts serving E (borrowed: it must outlive the server) on its own threads. 0, or -1 with err. */
int engine_server_start(struct engine_server **out, struct engine *e, const struct engine_server_opts *o,
			char *err, size_t errlen);
int engine_server_port(const struct engine_server *s);
/* Stops listening, ends the connections and frees S. */
void engine_server_stop(struct engine_server *s);

#endif
