/*
 * engine/http.c - the built-in engine behind an OpenAI-compatible HTTP server
 * (libmicrohttpd, a thread per connection): POST /v1/chat/completions
 * streaming (server-sent events, usage in the last chunk, then [DONE]) or
 * whole ("stream":false), GET /v1/models and GET /health. One engine, so
 * generations take turns; a client that goes away stops its generation.
 */
#include "engine/http.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_BODY (8u << 20)

struct engine_server {
	struct MHD_Daemon *d;
	struct engine *e;
	pthread_mutex_t engine_mu;   /* one generation at a time */
	char model[256];
	char tmpl[32];
	int port;
	unsigned long long next_id;
	pthread_mutex_t id_mu;
	FILE *request_log;           /* one line per chat request body (NULL: none), under id_mu */
};

/* What a chat request asks for, parsed from its JSON body. */
struct chat_call {
	struct engine_msg *msgs;
	char **texts;                /* owned copies of role and content strings */
	size_t nmsgs, ntexts;
	int max_tokens, stream;
	int logprobs;                /* "logprobs": true: each output token's log-probability */
	struct engine_sampling s;
};

/* A streamed reply: the generation thread appends SSE bytes, the reader hands them out. */
struct sse {
	struct engine_server *srv;
	struct chat_call call;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *buf;
	size_t len, off, cap;
	int finished, gone;
	char id[48];
	long created;
	struct engine_utf8_hold u8;   /* an incomplete UTF-8 character held back */
	json_t *lp;                   /* logprobs asked: the tokens' entries not yet sent (NULL otherwise) */
};

/* Per connection: the request body as it arrives. */
struct upload {
	char *body;
	size_t len;
	int too_big;
};

static void call_release(struct chat_call *c)
{
	for (size_t i = 0; i < c->ntexts; i++)
		free(c->texts[i]);
	free(c->texts);
	free(c->msgs);
	memset(c, 0, sizeof *c);
}

static const char *keep(struct chat_call *c, const char *s)
{
	char *d = strdup(s ? s : "");
	char **nt = realloc(c->texts, (c->ntexts + 1) * sizeof *nt);
	if (!d || !nt) {
		free(d);
		if (nt)
			c->texts = nt;
		return NULL;
	}
	c->texts = nt;
	c->texts[c->ntexts++] = d;
	return d;
}

/* A message's content: a string, or an array of {"type":"text","text":...} parts (joined). */
static const char *content_text(struct chat_call *c, json_t *v, char *err, size_t errlen)
{
	size_t i, n = 0;
	json_t *part;
	char *joined;
	const char *out;

	if (json_is_string(v) || json_is_null(v) || !v)
		return keep(c, json_is_string(v) ? json_string_value(v) : "");
	if (!json_is_array(v)) {
		snprintf(err, errlen, "a message's content must be a string or an array of text parts");
		return NULL;
	}
	json_array_foreach(v, i, part)
		n += strlen(json_string_value(json_object_get(part, "text")) ? json_string_value(json_object_get(part, "text")) : "");
	joined = calloc(1, n + 1);
	if (!joined)
		return NULL;
	json_array_foreach(v, i, part) {
		const char *t = json_string_value(json_object_get(part, "text"));
		if (t)
			strcat(joined, t);
	}
	out = keep(c, joined);
	free(joined);
	return out;
}

static int parse_messages(struct chat_call *c, json_t *msgs, char *err, size_t errlen)
{
	size_t i, n = json_array_size(msgs);
	json_t *m;

	if (!json_is_array(msgs) || !n) {
		snprintf(err, errlen, "'messages' must be a non-empty array");
		return -1;
	}
	c->msgs = calloc(n, sizeof *c->msgs);
	if (!c->msgs)
		return -1;
	json_array_foreach(msgs, i, m) {
		const char *role = json_string_value(json_object_get(m, "role"));
		if (!json_is_object(m) || !role) {
			snprintf(err, errlen, "messages[%zu] needs a 'role' string", i);
			return -1;
		}
		c->msgs[i].role = keep(c, role);
		c->msgs[i].content = content_text(c, json_object_get(m, "content"), err, errlen);
		if (!c->msgs[i].role || !c->msgs[i].content)
			return -1;
	}
	c->nmsgs = n;
	return 0;
}

static int parse_call(struct chat_call *c, const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(body ? body : "", len, 0, &je), *v;
	int rc = -1;

	memset(c, 0, sizeof *c);
	c->s.temperature = 1.0f;
	c->s.top_p = 1.0f;
	if (!json_is_object(o)) {
		snprintf(err, errlen, "the body is not a JSON object: %s", je.text);
		goto out;
	}
	if (parse_messages(c, json_object_get(o, "messages"), err, errlen))
		goto out;
	if ((v = json_object_get(o, "max_completion_tokens")) || (v = json_object_get(o, "max_tokens")))
		c->max_tokens = json_is_integer(v) ? (int)json_integer_value(v) : 0;
	if ((v = json_object_get(o, "temperature")) && json_is_number(v))
		c->s.temperature = (float)json_number_value(v);
	if ((v = json_object_get(o, "top_p")) && json_is_number(v) && json_number_value(v) > 0)
		c->s.top_p = (float)json_number_value(v);
	if ((v = json_object_get(o, "top_k")) && json_is_integer(v) && json_integer_value(v) > 0)
		c->s.top_k = (int)json_integer_value(v);
	if ((v = json_object_get(o, "seed")) && json_is_integer(v))
		c->s.seed = (uint64_t)json_integer_value(v);
	c->stream = json_is_true(json_object_get(o, "stream"));
	c->logprobs = json_is_true(json_object_get(o, "logprobs"));
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* ---- replies ---- */

static enum MHD_Result reply(struct MHD_Connection *con, unsigned status, const char *type, char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;

	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", type);
	rc = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_json(struct MHD_Connection *con, unsigned status, json_t *o)
{
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text ? reply(con, status, "application/json", text) : MHD_NO;
}

static enum MHD_Result reply_error(struct MHD_Connection *con, unsigned status, const char *type,
				   const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return reply_json(con, status, json_pack("{s:{s:s,s:s}}", "error", "message", msg, "type", type));
}

static json_t *usage_json(const struct engine_stats *st)
{
	return json_pack("{s:i,s:i,s:i}", "prompt_tokens", st->n_prompt, "completion_tokens", st->n_gen,
			 "total_tokens", st->n_prompt + st->n_gen);
}

static void new_id(struct engine_server *srv, char *out, size_t n)
{
	pthread_mutex_lock(&srv->id_mu);
	snprintf(out, n, "chatcmpl-ipw-%llu", ++srv->next_id);
	pthread_mutex_unlock(&srv->id_mu);
}

static const char *finish_of(const struct chat_call *c, int n)
{
	return c->max_tokens > 0 && n >= c->max_tokens ? "length" : "stop";
}

/* ---- whole replies ---- */

/*
 * One OpenAI logprobs.content entry for TOKEN just generated: its text (invalid
 * UTF-8 replaced) and its log-probability under the model's distribution
 * (engine_logprob: log-softmax of the logits it was picked from), appended to lp.
 */
static void logprob_entry(struct engine *e, json_t *lp, int token, const char *text, size_t len)
{
	char clean[3 * ENGINE_PIECE_MAX + 1];
	size_t n = engine_utf8_sanitize(text, len < ENGINE_PIECE_MAX ? len : ENGINE_PIECE_MAX, clean);

	json_array_append_new(lp, json_pack("{s:s%,s:f}", "token", clean, n, "logprob", engine_logprob(e, token)));
}

struct collect { char *p; size_t n, cap; int oom; struct engine *e; json_t *lp; };

static int collect_token(void *ud, int token, const char *text, size_t len, double t_ms)
{
	struct collect *c = ud;

	if (c->lp)
		logprob_entry(c->e, c->lp, token, text, len);
	if (c->n + len + 1 > c->cap) {
		size_t nc = (c->n + len + 1) * 2;
		char *np = realloc(c->p, nc);
		if (!np) {
			c->oom = 1;
			return 1;
		}
		c->p = np;
		c->cap = nc;
	}
	memcpy(c->p + c->n, text, len);
	c->n += len;
	c->p[c->n] = 0;
	return 0;
}

static enum MHD_Result complete_whole(struct engine_server *srv, struct MHD_Connection *con, struct chat_call *call)
{
	struct collect col = {0};
	struct engine_stats st;
	char err[512] = "", id[48], *clean;
	json_t *o;
	int n;

	col.e = srv->e;
	col.lp = call->logprobs ? json_array() : NULL;

	pthread_mutex_lock(&srv->engine_mu);
	n = engine_chat_run(srv->e, srv->tmpl[0] ? srv->tmpl : NULL, call->msgs, call->nmsgs, call->max_tokens,
			    &call->s, collect_token, &col, &st, err, sizeof err);
	pthread_mutex_unlock(&srv->engine_mu);
	if (n < 0 || col.oom) {
		free(col.p);
		json_decref(col.lp);
		return reply_error(con, n < 0 ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_INTERNAL_SERVER_ERROR,
				   "invalid_request_error", "%s", col.oom ? "out of memory" : err);
	}
	new_id(srv, id, sizeof id);
	clean = malloc(3 * col.n + 1);
	if (!clean) {
		free(col.p);
		json_decref(col.lp);
		return MHD_NO;
	}
	col.n = engine_utf8_sanitize(col.p ? col.p : "", col.n, clean);
	free(col.p);
	col.p = clean;
	o = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:{s:s,s:s%},s:s}],s:o}", "id", id, "object", "chat.completion",
		      "created", (json_int_t)time(NULL), "model", srv->model, "choices", "index", 0, "message",
		      "role", "assistant", "content", col.p ? col.p : "", col.n, "finish_reason",
		      finish_of(call, n), "usage", usage_json(&st));
	free(col.p);
	if (o && col.lp)
		json_object_set_new(json_array_get(json_object_get(o, "choices"), 0), "logprobs",
				    json_pack("{s:o}", "content", col.lp));
	else
		json_decref(col.lp);
	if (!o)
		return reply_error(con, MHD_HTTP_INTERNAL_SERVER_ERROR, "server_error", "could not write the reply");
	return reply_json(con, MHD_HTTP_OK, o);
}

/* ---- streamed replies ---- */

static void sse_put(struct sse *s, const char *data, size_t n)
{
	pthread_mutex_lock(&s->mu);
	if (s->len + n > s->cap) {
		size_t nc = (s->len + n) * 2 + 256;
		char *np = realloc(s->buf, nc);
		if (np) {
			s->buf = np;
			s->cap = nc;
		}
	}
	if (s->len + n <= s->cap) {
		memcpy(s->buf + s->len, data, n);
		s->len += n;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/*
 * One "data:" event of a chunk with this delta (stolen), finish reason (or NULL)
 * and usage (stolen, or NULL). With logprobs asked, the entries of the tokens
 * generated since the last event go with it (choices[0].logprobs.content).
 */
static void sse_chunk(struct sse *s, json_t *delta, const char *finish, json_t *usage)
{
	json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:[{s:i,s:o,s:s?}]}", "id", s->id, "object",
			      "chat.completion.chunk", "created", (json_int_t)s->created, "model", s->srv->model,
			      "choices", "index", 0, "delta", delta, "finish_reason", finish);
	char *text;

	if (!o) {
		json_decref(usage);
		return;
	}
	if (s->lp && json_array_size(s->lp)) {
		json_object_set_new(json_array_get(json_object_get(o, "choices"), 0), "logprobs",
				    json_pack("{s:o}", "content", s->lp));
		s->lp = json_array();
	}
	if (usage)
		json_object_set_new(o, "usage", usage);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text) {
		sse_put(s, "data: ", 6);
		sse_put(s, text, strlen(text));
		sse_put(s, "\n\n", 2);
		free(text);
	}
}

static int sse_token(void *ud, int token, const char *text, size_t len, double t_ms)
{
	struct sse *s = ud;
	char clean[3 * ENGINE_PIECE_MAX];
	size_t n;
	int gone;

	if (s->lp)
		logprob_entry(s->srv->e, s->lp, token, text, len);
	n = engine_utf8_take(&s->u8, text, len, clean);
	if (n)
		sse_chunk(s, json_pack("{s:s%}", "content", clean, n), NULL, NULL);
	pthread_mutex_lock(&s->mu);
	gone = s->gone;
	pthread_mutex_unlock(&s->mu);
	return gone;
}

static void *sse_generate(void *arg)
{
	struct sse *s = arg;
	struct engine_server *srv = s->srv;
	struct engine_stats st;
	char err[512] = "";
	int n;

	sse_chunk(s, json_pack("{s:s}", "role", "assistant"), NULL, NULL);
	pthread_mutex_lock(&srv->engine_mu);
	n = engine_chat_run(srv->e, srv->tmpl[0] ? srv->tmpl : NULL, s->call.msgs, s->call.nmsgs,
			    s->call.max_tokens, &s->call.s, sse_token, s, &st, err, sizeof err);
	pthread_mutex_unlock(&srv->engine_mu);
	if (s->u8.held) {
		char clean[3 * sizeof s->u8.hold];
		sse_chunk(s, json_pack("{s:s%}", "content", clean, engine_utf8_flush(&s->u8, clean)),
			  NULL, NULL);
	}
	if (n < 0) {
		char *text;
		json_t *o = json_pack("{s:{s:s,s:s}}", "error", "message", err, "type", "server_error");
		text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (text) {
			sse_put(s, "data: ", 6);
			sse_put(s, text, strlen(text));
			sse_put(s, "\n\n", 2);
			free(text);
		}
	} else {
		sse_chunk(s, json_object(), finish_of(&s->call, n), usage_json(&st));
		sse_put(s, "data: [DONE]\n\n", 14);
	}
	pthread_mutex_lock(&s->mu);
	s->finished = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct sse *s = cls;
	size_t n;

	pthread_mutex_lock(&s->mu);
	while (s->off == s->len && !s->finished)
		pthread_cond_wait(&s->cv, &s->mu);
	n = s->len - s->off;
	if (n > max)
		n = max;
	memcpy(out, s->buf + s->off, n);
	s->off += n;
	pthread_mutex_unlock(&s->mu);
	return n ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void sse_free(void *cls)
{
	struct sse *s = cls;

	pthread_mutex_lock(&s->mu);
	s->gone = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	call_release(&s->call);
	json_decref(s->lp);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s->buf);
	free(s);
}

static enum MHD_Result complete_stream(struct engine_server *srv, struct MHD_Connection *con, struct chat_call *call)
{
	struct sse *s = calloc(1, sizeof *s);
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (!s)
		return MHD_NO;
	s->srv = srv;
	s->call = *call;
	s->lp = call->logprobs ? json_array() : NULL;
	memset(call, 0, sizeof *call);
	s->created = (long)time(NULL);
	new_id(srv, s->id, sizeof s->id);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (pthread_create(&s->th, NULL, sse_generate, s)) {
		*call = s->call;
		json_decref(s->lp);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
		free(s);
		return reply_error(con, MHD_HTTP_SERVICE_UNAVAILABLE, "server_error", "could not start a generation");
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!r) {
		sse_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	rc = MHD_queue_response(con, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* ---- routing ---- */

static enum MHD_Result chat(struct engine_server *srv, struct MHD_Connection *con, struct upload *up)
{
	struct chat_call call;
	char err[512] = "";
	enum MHD_Result rc;

	if (srv->request_log && !up->too_big) { /* the body as received, on one line (tests read it) */
		pthread_mutex_lock(&srv->id_mu);
		for (size_t i = 0; i < up->len; i++)
			fputc(up->body[i] == '\n' ? ' ' : up->body[i], srv->request_log);
		fputc('\n', srv->request_log);
		fflush(srv->request_log);
		pthread_mutex_unlock(&srv->id_mu);
	}
	if (up->too_big)
		return reply_error(con, 413, "invalid_request_error", "the body passes %u bytes",
				   MAX_BODY);
	if (parse_call(&call, up->body, up->len, err, sizeof err)) {
		call_release(&call);
		return reply_error(con, MHD_HTTP_BAD_REQUEST, "invalid_request_error", "%s",
				   err[0] ? err : "out of memory");
	}
	rc = call.stream ? complete_stream(srv, con, &call) : complete_whole(srv, con, &call);
	call_release(&call);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
			      const char *version, const char *data, size_t *data_size, void **con_cls)
{
	struct engine_server *srv = cls;
	struct upload *up = *con_cls;

	if (!strcmp(method, "POST")) {
		if (!up) {
			if (!(up = calloc(1, sizeof *up)))
				return MHD_NO;
			*con_cls = up;
			return MHD_YES;
		}
		if (*data_size) {
			if (up->len + *data_size > MAX_BODY) {
				up->too_big = 1;
			} else {
				char *nb = realloc(up->body, up->len + *data_size + 1);
				if (!nb)
					return MHD_NO;
				up->body = nb;
				memcpy(up->body + up->len, data, *data_size);
				up->len += *data_size;
				up->body[up->len] = 0;
			}
			*data_size = 0;
			return MHD_YES;
		}
		if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions"))
			return chat(srv, con, up);
		return reply_error(con, MHD_HTTP_NOT_FOUND, "not_found", "no POST %s here (POST /v1/chat/completions)",
				   url);
	}
	if (!strcmp(method, "GET") && !strcmp(url, "/health"))
		return reply_json(con, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
	if (!strcmp(method, "GET") && (!strcmp(url, "/v1/models") || !strcmp(url, "/models")))
		return reply_json(con, MHD_HTTP_OK,
				  json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "object", "list", "data", "id", srv->model,
					    "object", "model", "owned_by", "ipw"));
	return reply_error(con, MHD_HTTP_NOT_FOUND, "not_found", "no %s %s here (GET /health, GET /v1/models, "
			   "POST /v1/chat/completions)", method, url);
}

static void request_done(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct upload *up = *con_cls;

	if (up) {
		free(up->body);
		free(up);
		*con_cls = NULL;
	}
}

int engine_server_start(struct engine_server **out, struct engine *e, const struct engine_server_opts *o,
			char *err, size_t errlen)
{
	struct engine_server *srv;
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct sockaddr *sa;
	const char *host = o->host && *o->host ? o->host : "127.0.0.1";
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	const union MHD_DaemonInfo *info;

	*out = NULL;
	memset(&a4, 0, sizeof a4);
	memset(&a6, 0, sizeof a6);
	if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)o->port);
		sa = (struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)o->port);
		sa = (struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "--host takes a numeric IPv4 or IPv6 address (got '%s')", host);
		return -1;
	}
	if (o->port < 0 || o->port > 65535) {
		snprintf(err, errlen, "--port takes 0..65535 (got %d)", o->port);
		return -1;
	}
	srv = calloc(1, sizeof *srv);
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	srv->e = e;
	snprintf(srv->model, sizeof srv->model, "%s", o->model_name ? o->model_name : "ipw");
	snprintf(srv->tmpl, sizeof srv->tmpl, "%s", o->chat_template ? o->chat_template : "");
	pthread_mutex_init(&srv->engine_mu, NULL);
	pthread_mutex_init(&srv->id_mu, NULL);
	if (o->request_log && !(srv->request_log = fopen(o->request_log, "a"))) {
		snprintf(err, errlen, "cannot open the request log %s", o->request_log);
		engine_server_stop(srv);
		return -1;
	}
	srv->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, handle, srv, MHD_OPTION_SOCK_ADDR, sa,
				  MHD_OPTION_NOTIFY_COMPLETED, request_done, srv, MHD_OPTION_END);
	if (!srv->d) {
		snprintf(err, errlen, "could not listen on %s port %d (in use, or not an address of this machine)", host,
			 o->port);
		engine_server_stop(srv);
		return -1;
	}
	info = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? (int)info->port : o->port;
	*out = srv;
	return 0;
}

int engine_server_port(const struct engine_server *s)
{
	return s->port;
}

void engine_server_stop(struct engine_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->engine_mu);
	pthread_mutex_destroy(&s->id_mu);
	if (s->request_log)
		fclose(s->request_log);
	free(s);
}
