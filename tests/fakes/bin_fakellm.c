/*
 * bin_fakellm.c - a loopback fake LLM server for tests and benchmarks: real
 * HTTP/1.1 on 127.0.0.1 serving /v1/models, /api/tags, /health, OpenAI SSE
 * /v1/chat/completions and Ollama NDJSON /api/chat, streaming generated tokens
 * with set delays, plus failure scenarios chosen per request (model
 * "fake-<scenario>" or header X-Fake-Scenario), whole JSON replies to
 * "stream":false, the last request body at GET /x/last-request and the counts
 * of requests, of chat responses written out and of connections accepted
 * at GET /x/stats. Flags:
 * docs/client.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "util.h"

enum { API_O = 1, API_L = 2 };

static struct {
	int port;
	const char *port_file;
	int apis;
	int tokens;
	int token_delay_ms;
	int ttft_ms;
	const char *model;
	const char *scenario;
	long max_requests;
	int lifetime_s;
	int models_401;              /* the model lists answer 401 with a long message echoing the key */
} opt = { 0, NULL, API_O | API_L, 16, 0, 0, "fake-model", "normal", 0, 600, 0 };

static atomic_long nrequests;
static atomic_long nanswered;   /* chat requests whose response has been written out, for GET /x/stats */
static atomic_long nconns;       /* connections accepted (GET /x/stats: "connections") */
static atomic_long nchats;       /* chat requests received, numbered 1, 2, ... in arrival order */
static atomic_long last_fresh;   /* the number of the last chat request that opened its connection */
static atomic_llong last_answer_ms;  /* wall clock (ms since the epoch) when the last one was */

static void answered(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	atomic_store(&last_answer_ms, (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	atomic_fetch_add(&nanswered, 1);
}
static volatile sig_atomic_t stopping;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long n429;            /* requests seen by the "429" scenario */
static char *last_body;      /* the last chat request body, for GET /x/last-request */

struct request {
	char method[16];
	char path[1024];
	char scenario[64];
	char auth[512];
	int close_after;
	int fresh;                   /* the first request on its connection */
	char *body;
};

struct gen {
	int fd;
	int openai;                  /* else Ollama NDJSON */
	int split;                   /* send each event in many tiny writes, CRLF lines */
	const char *model;
	int64_t t_start, t_first;
	long nsent;                  /* output tokens sent */
	unsigned piece;              /* split: index into the piece-size cycle */
	const char *sc;              /* the scenario */
	const char *auth;            /* the request's Authorization header ("" if none) */
	int logprobs;                /* the request asked for "logprobs": true (OpenAI) */
};

/*
 * The log-probability fakellm gives output token i (reasoning tokens count):
 * -(i % 5 + 1) / 8 nats, exact in binary, so a test can sum them by hand;
 * -4 for every token in the "lowconf" scenario (a verifier's low confidence);
 * none at all in the "nologprobs" scenario (a server that ignores the field).
 */
static double fake_logprob(const char *sc, long i)
{
	return !strcmp(sc, "lowconf") ? -4.0 : -(double)(i % 5 + 1) / 8.0;
}

static json_t *logprob_entry(const char *sc, long i, const char *text)
{
	return json_pack("{s:s, s:f, s:n, s:[]}", "token", text, "logprob", fake_logprob(sc, i), "bytes",
			 "top_logprobs");
}

static void on_signal(int sig)
{
	__atomic_store_n(&stopping, 1, __ATOMIC_RELAXED); /* the connection threads read it */
}

static int send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	default: return "Status";
	}
}

static int send_simple(int fd, int status, const char *ctype, const char *body, const char *extra)
{
	struct buf b;
	int rc;
	buf_init(&b, 0);
	buf_appendf(&b, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n%s", status,
		    reason_of(status), ctype, strlen(body), extra ? extra : "", body);
	rc = send_all(fd, b.data, b.len);
	buf_release(&b);
	return rc;
}

static int send_chunk(int fd, const char *p, size_t n)
{
	struct buf b;
	int rc;
	if (!n)
		return 0;
	buf_init(&b, 0);
	buf_appendf(&b, "%zx\r\n", n);
	buf_append(&b, p, n);
	buf_append(&b, "\r\n", 2);
	rc = send_all(fd, b.data, b.len);
	buf_release(&b);
	return rc;
}

/* One event's bytes: one chunk, or (split) many small chunks sent apart. */
static int send_event(struct gen *g, const char *p, size_t n)
{
	static const size_t sizes[] = { 1, 1, 2, 1, 3, 5, 1, 8, 13, 1, 21, 300 };
	size_t off = 0, k;
	if (!g->split)
		return send_chunk(g->fd, p, n);
	while (off < n) {
		k = sizes[g->piece++ % (sizeof sizes / sizeof sizes[0])];
		if (k > n - off)
			k = n - off;
		if (send_chunk(g->fd, p + off, k))
			return -1;
		off += k;
		usleep(200);
	}
	return 0;
}

/* Sends a JSON object as one SSE event or NDJSON line (takes the reference). */
static int send_json(struct gen *g, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	struct buf b;
	int rc;
	json_decref(o);
	buf_init(&b, 0);
	if (g->openai) {
		if (g->split)
			buf_appends(&b, ": a comment line\r\nevent: message\r\n");
		buf_appendf(&b, "data: %s%s", s, g->split ? "\r\n\r\n" : "\n\n");
	} else {
		buf_appendf(&b, "%s\n", s);
	}
	rc = send_event(g, b.data, b.len);
	buf_release(&b);
	free(s);
	return rc;
}

static int send_raw_event(struct gen *g, const char *text)
{
	return send_event(g, text, strlen(text));
}

static void token_text(int i, char *out, size_t n)
{
	if (i % 7 == 6)
		snprintf(out, n, "\"q%d\"\n", i);
	else if (i % 4 == 3)
		snprintf(out, n, "\xc3\xa9%d ", i);
	else
		snprintf(out, n, "t%d ", i);
}

static json_t *oa_chunk(struct gen *g)
{
	return json_pack("{s:s, s:s, s:i, s:s}", "id", "chatcmpl-fake", "object", "chat.completion.chunk",
			 "created", 0, "model", g->model);
}

/* One output token: answer text, or reasoning text in field rfield ("reasoning_content"/"reasoning"). */
static int send_token(struct gen *g, const char *text, const char *rfield)
{
	json_t *o, *delta;
	int64_t now;

	if (g->nsent == 0 && opt.ttft_ms > 0)
		usleep((useconds_t)opt.ttft_ms * 1000);
	else if (g->nsent > 0 && opt.token_delay_ms > 0)
		usleep((useconds_t)opt.token_delay_ms * 1000);
	now = clock_now_ns();
	if (!g->t_first)
		g->t_first = now;
	g->nsent++;
	if (g->openai) {
		o = oa_chunk(g);
		delta = json_object();
		if (!strcmp(g->sc, "nul") && g->nsent == 2)
			json_object_set_new(delta, "content", json_stringn("x\0y ", 4));
		else
			json_object_set_new(delta, rfield ? rfield : "content", json_string(text));
		json_object_set_new(o, "choices",
				    json_pack("[{s:i, s:o, s:n}]", "index", 0, "delta", delta, "finish_reason"));
		if (g->logprobs)
			json_object_set_new(json_array_get(json_object_get(o, "choices"), 0), "logprobs",
					    json_pack("{s:[o]}", "content", logprob_entry(g->sc, g->nsent - 1, text)));
	} else {
		o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:b}", "model", g->model, "created_at",
			      "2026-01-01T00:00:00Z", "message", "role", "assistant", rfield ? "thinking" : "content",
			      text, "done", 0);
		if (!strcmp(g->sc, "nul") && g->nsent == 2)
			json_object_set_new(json_object_get(o, "message"), "content", json_stringn("x\0y ", 4));
	}
	json_object_set_new(o, "x_server_t_ns", json_integer(now));
	return send_json(g, o);
}

/* Whitespace-separated words in every message's content, plus 3: the fake prompt token count. */
static long prompt_tokens(json_t *req)
{
	json_t *msgs = json_object_get(req, "messages"), *m;
	size_t i;
	long n = 3;
	json_array_foreach(msgs, i, m) {
		const char *s = json_string_value(json_object_get(m, "content"));
		int in = 0;
		for (; s && *s; s++) {
			int sp = *s == ' ' || *s == '\n' || *s == '\t';
			if (!sp && !in)
				n++;
			in = !sp;
		}
	}
	return n;
}

/*
 * Scenario "say": the answer is the text after the last "SAY:" in the last
 * message, up to the end of its line, sent one word per token ("\n" stands
 * for a line break). Sets *n to the number of words; NULL when there is none.
 */
static char **say_words(json_t *req, long *n)
{
	json_t *msgs = json_object_get(req, "messages");
	const char *s = json_string_value(json_object_get(json_array_get(msgs, json_array_size(msgs) - 1),
							   "content"));
	const char *p = NULL, *q;
	char **w = NULL;

	*n = 0;
	for (q = s; q && (q = strstr(q, "SAY:")); q += 4)
		p = q + 4;
	while (p && *p && *p != '\n') {
		size_t k;
		while (*p == ' ')
			p++;
		k = strcspn(p, " \n");
		if (!k)
			break;
		w = xrealloc(w, (size_t)(*n + 1) * sizeof(*w));
		w[*n] = xasprintf("%.*s ", (int)k, p);
		if (!strncmp(w[*n], "\\n ", 3))
			strcpy(w[*n], "\n");
		(*n)++;
		p += k;
	}
	return w;
}

static void free_words(char **w, long n)
{
	for (long i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

/* Streams a chat answer for scenario sc. Returns 1 to keep the connection, 0 to close it. */
/* What a streamed reply will carry. */
struct plan {
	long ntok, nreason, stop_after, ptok, nsay;
	const char *finish, *rfield;
	int no_usage;
	char **say;
};

static void plan_init(struct plan *pl, int openai, const char *sc, json_t *req)
{
	long limit;

	memset(pl, 0, sizeof *pl);
	pl->ntok = opt.tokens;
	pl->stop_after = -1;
	pl->ptok = prompt_tokens(req);
	pl->finish = "stop";
	pl->no_usage = !strcmp(sc, "no_usage");
	pl->say = !strcmp(sc, "say") ? say_words(req, &pl->nsay) : NULL;
	limit = openai ? (long)json_integer_value(json_object_get(req, "max_tokens"))
		       : (long)json_integer_value(json_object_get(json_object_get(req, "options"), "num_predict"));
	if (pl->say)
		pl->ntok = pl->nsay;
	if (limit > 0 && limit < pl->ntok) {
		pl->ntok = limit;
		pl->finish = "length";
	}
	if (!strcmp(sc, "reasoning") || !strcmp(sc, "reasoning2")) {
		pl->nreason = pl->ntok / 2 > 0 ? pl->ntok / 2 : 1;
		pl->rfield = openai ? (!strcmp(sc, "reasoning") ? "reasoning_content" : "reasoning") : "thinking";
	}
	if (!strcmp(sc, "error_midstream"))
		pl->stop_after = 3;
	else if (!strcmp(sc, "stall") || !strcmp(sc, "malformed") || !strcmp(sc, "reset") || !strcmp(sc, "truncate") ||
		 !strcmp(sc, "malformed_key"))
		pl->stop_after = 2;
}

/* The reasoning and answer tokens (up to stop_after). 0, or -1 when the client went away. */
static int send_tokens(struct gen *g, const struct plan *pl)
{
	char text[64];

	for (long i = 0; i < pl->nreason + pl->ntok; i++) {
		if (pl->stop_after >= 0 && i == pl->stop_after)
			break;
		if (i < pl->nreason)
			snprintf(text, sizeof text, "r%ld ", i);
		else if (pl->say)
			snprintf(text, sizeof text, "%s", pl->say[i - pl->nreason]);
		else
			token_text((int)(i - pl->nreason), text, sizeof text);
		if (send_token(g, text, i < pl->nreason ? pl->rfield : NULL))
			return -1;
	}
	return 0;
}

/* Ends a failure scenario's stream its way. Returns 1 to keep the connection, 0 to drop it, -1 if sc is none. */
static int fail_ending(struct gen *g, const char *sc)
{
	struct linger lg = { 1, 0 };

	if (!strcmp(sc, "error_midstream")) {
		if (g->openai)
			send_raw_event(g, "data: {\"error\":{\"message\":\"fake failure mid-stream\",\"type\":\"server_error\",\"code\":500}}\n\n"
					  "data: [DONE]\n\n");
		else
			send_raw_event(g, "{\"error\":\"fake failure mid-stream\"}\n");
	} else if (!strcmp(sc, "malformed_key")) {
		/* a broken event whose excerpt (the first 60 bytes) would end inside the key */
		struct buf b;
		buf_init(&b, 0);
		buf_appendf(&b, "%s{\"choices\": oops, \"k\": \"%s\"}%s", g->openai ? "data: " : "", g->auth,
			    g->openai ? "\n\n" : "\n");
		send_raw_event(g, b.data);
		buf_release(&b);
	} else if (!strcmp(sc, "malformed")) {
		send_raw_event(g, g->openai ? "data: {\"choices\":[{\"delta\":{\"content\": oops}\n\n" : "{\"message\": oops\n");
	} else if (!strcmp(sc, "reset")) {
		setsockopt(g->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		return 0;
	} else if (!strcmp(sc, "stall")) {
		/* wait until the client gives up (or a long time passes) */
		struct pollfd pf = { .fd = g->fd, .events = POLLIN };
		char tmp[256];
		int64_t end = clock_now_ns() + 120 * NS_PER_S;
		while (!__atomic_load_n(&stopping, __ATOMIC_RELAXED) && clock_now_ns() < end) {
			if (poll(&pf, 1, 200) > 0 && recv(g->fd, tmp, sizeof tmp, 0) <= 0)
				break;
		}
		return 0;
	} else if (strcmp(sc, "truncate")) {
		return -1;
	}
	send_all(g->fd, "0\r\n\r\n", 5);
	return 1;
}

/* OpenAI: the finish chunk, the usage chunk, [DONE]. 0, or -1 when the client went away. */
static int oa_finish(struct gen *g, const struct plan *pl, const char *sc)
{
	json_t *o = oa_chunk(g), *u;

	json_object_set_new(o, "choices", json_pack("[{s:i, s:{}, s:s}]", "index", 0, "delta", "finish_reason",
						     pl->finish));
	if (send_json(g, o))
		return -1;
	if (!pl->no_usage) {
		o = oa_chunk(g);
		json_object_set_new(o, "choices", json_array());
		u = json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)pl->ptok, "completion_tokens",
			      (json_int_t)(pl->nreason + pl->ntok), "total_tokens",
			      (json_int_t)(pl->ptok + pl->nreason + pl->ntok));
		if (!strcmp(sc, "bigusage"))
			json_object_set_new(u, "completion_tokens", json_integer(INT64_MAX));
		if (!strcmp(sc, "negusage")) {
			json_object_set_new(u, "completion_tokens", json_integer(-5));
			json_object_set_new(u, "prompt_tokens", json_integer(-3));
		}
		if (strcmp(sc, "reasoning2"))
			json_object_set_new(u, "completion_tokens_details",
					    json_pack("{s:I}", "reasoning_tokens", (json_int_t)pl->nreason));
		json_object_set_new(o, "usage", u);
		if (send_json(g, o))
			return -1;
	}
	return send_raw_event(g, g->split ? "data: [DONE]\r\n\r\n" : "data: [DONE]\n\n") ? -1 : 0;
}

/* Ollama: the final object with counts and durations. 0, or -1 when the client went away. */
static int ol_finish(struct gen *g, const struct plan *pl, const char *sc)
{
	int64_t now = clock_now_ns();
	json_t *o = json_pack("{s:s, s:s, s:{s:s, s:s}, s:b, s:s}", "model", g->model, "created_at",
			      "2026-01-01T00:00:00Z", "message", "role", "assistant", "content", "", "done", 1,
			      "done_reason", pl->finish);

	if (!pl->no_usage) {
		json_object_set_new(o, "total_duration", json_integer(now - g->t_start + 1234567 + 2345678));
		json_object_set_new(o, "load_duration", json_integer(1234567));
		json_object_set_new(o, "prompt_eval_count", json_integer(pl->ptok));
		json_object_set_new(o, "prompt_eval_duration", json_integer(2345678));
		json_object_set_new(o, "eval_count", json_integer(!strcmp(sc, "bigusage") ? INT64_MAX :
								   !strcmp(sc, "negusage") ? -5 : pl->nreason + pl->ntok));
		json_object_set_new(o, "eval_duration", json_integer(g->t_first ? now - g->t_first : 0));
	}
	return send_json(g, o) ? -1 : 0;
}

static int stream_chat(int fd, int openai, const char *sc, json_t *req, const char *auth)
{
	struct gen g = { .fd = fd, .openai = openai, .split = !strcmp(sc, "split"), .sc = sc, .auth = auth,
			 .logprobs = openai && json_is_true(json_object_get(req, "logprobs")) &&
				     strcmp(sc, "nologprobs") /* a server that ignores "logprobs" */ };
	const char *m = json_string_value(json_object_get(req, "model"));
	struct plan pl;
	json_t *o;
	char hdr[256];
	int rc;

	g.model = m && *m ? m : opt.model;
	g.t_start = clock_now_ns();
	plan_init(&pl, openai, sc, req);
	snprintf(hdr, sizeof hdr,
		 "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n",
		 openai ? "text/event-stream" : "application/x-ndjson");
	if (send_all(fd, hdr, strlen(hdr)))
		goto drop;
	if (openai) {
		o = oa_chunk(&g);
		json_object_set_new(o, "choices", json_pack("[{s:i, s:{s:s, s:s}, s:n}]", "index", 0, "delta", "role",
							     "assistant", "content", "", "finish_reason"));
		if (send_json(&g, o))
			goto drop;
	}
	rc = send_tokens(&g, &pl);
	free_words(pl.say, pl.nsay);
	if (rc)
		return 0;
	if ((rc = fail_ending(&g, sc)) >= 0)
		return rc;
	if (openai ? oa_finish(&g, &pl, sc) : ol_finish(&g, &pl, sc))
		return 0;
	return send_all(fd, "0\r\n\r\n", 5) ? 0 : 1;
drop:
	free_words(pl.say, pl.nsay);
	return 0;
}

/* A whole reply's "logprobs".content: one entry per token the stream would send (none for tools). */
static json_t *whole_logprobs(const char *sc, json_t *req, int tools)
{
	json_t *a = json_array();
	struct plan pl;
	char text[64];

	plan_init(&pl, 1, sc, req);
	for (long i = 0; i < pl.nreason + (tools ? 0 : pl.ntok); i++) {
		if (i < pl.nreason)
			snprintf(text, sizeof text, "r%ld ", i);
		else if (pl.say)
			snprintf(text, sizeof text, "%s", pl.say[i - pl.nreason]);
		else
			token_text((int)(i - pl.nreason), text, sizeof text);
		json_array_append_new(a, logprob_entry(sc, i, text));
	}
	free_words(pl.say, pl.nsay);
	return a;
}

/* The text a reply carries: reasoning then answer, as the stream would send it. */
static void whole_text(const char *sc, json_t *req, long ntok, long nreason, struct buf *ans, struct buf *think)
{
	long nsay = 0, i;
	char **say = !strcmp(sc, "say") ? say_words(req, &nsay) : NULL;
	char text[64];

	for (i = 0; i < nreason + ntok; i++) {
		if (i < nreason)
			snprintf(text, sizeof text, "r%ld ", i);
		else if (say)
			snprintf(text, sizeof text, "%s", say[i - nreason]);
		else
			token_text((int)(i - nreason), text, sizeof text);
		buf_appends(i < nreason ? think : ans, text);
	}
	free_words(say, nsay);
}

/* A "stream":false reply: one JSON object (scenario "tools": an assistant turn calling a tool). */
static int whole_chat(int fd, int openai, const char *sc, json_t *req)
{
	const char *m = json_string_value(json_object_get(req, "model")), *finish = "stop";
	long ntok = opt.tokens, nreason = 0, limit, nsay = 0, ptok = prompt_tokens(req);
	int reasoning = !strcmp(sc, "reasoning") || !strcmp(sc, "reasoning2"), tools = !strcmp(sc, "tools");
	struct buf ans, think;
	json_t *o, *msg;
	char *s;
	int rc;

	if (!strcmp(sc, "say")) {
		/* two statements: the count must be set before free_words reads it */
		char **w = say_words(req, &nsay);
		free_words(w, nsay);
		ntok = nsay;
	}
	limit = openai ? (long)json_integer_value(json_object_get(req, "max_tokens"))
		       : (long)json_integer_value(json_object_get(json_object_get(req, "options"), "num_predict"));
	if (limit > 0 && limit < ntok) {
		ntok = limit;
		finish = "length";
	}
	if (reasoning)
		nreason = ntok / 2 > 0 ? ntok / 2 : 1;
	buf_init(&ans, 0);
	buf_init(&think, 0);
	whole_text(sc, req, tools ? 0 : ntok, nreason, &ans, &think);
	msg = json_pack("{s:s, s:s}", "role", "assistant", "content", ans.len ? ans.data : "");
	if (nreason)
		json_object_set_new(msg, openai ? "reasoning_content" : "thinking", json_string(think.data));
	if (tools) {
		json_object_set_new(msg, "tool_calls", openai
			? json_pack("[{s:s, s:s, s:{s:s, s:s}}]", "id", "call_1", "type", "function", "function", "name",
				    "get_weather", "arguments", "{\"city\":\"Paris\"}")
			: json_pack("[{s:{s:s, s:{s:s}}}]", "function", "name", "get_weather", "arguments", "city", "Paris"));
		finish = openai ? "tool_calls" : "stop";
	}
	if (openai) {
		o = json_pack("{s:s, s:s, s:i, s:s, s:[{s:i, s:o, s:s}]}", "id", "chatcmpl-fake", "object",
			      "chat.completion", "created", 0, "model", m && *m ? m : opt.model, "choices", "index", 0,
			      "message", msg, "finish_reason", finish);
		if (json_is_true(json_object_get(req, "logprobs")) && strcmp(sc, "nologprobs"))
			json_object_set_new(json_array_get(json_object_get(o, "choices"), 0), "logprobs",
					    json_pack("{s:o}", "content", whole_logprobs(sc, req, tools)));
		if (strcmp(sc, "no_usage"))
			json_object_set_new(o, "usage", json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)ptok,
				"completion_tokens", (json_int_t)(nreason + ntok), "total_tokens",
				(json_int_t)(ptok + nreason + ntok)));
	} else {
		o = json_pack("{s:s, s:s, s:o, s:b, s:s}", "model", m && *m ? m : opt.model, "created_at",
			      "2026-01-01T00:00:00Z", "message", msg, "done", 1, "done_reason", finish);
		if (strcmp(sc, "no_usage")) {
			json_object_set_new(o, "prompt_eval_count", json_integer(ptok));
			json_object_set_new(o, "eval_count", json_integer(nreason + ntok));
			json_object_set_new(o, "total_duration", json_integer(3456789));
		}
	}
	s = json_dumps(o, JSON_COMPACT);
	rc = send_simple(fd, 200, "application/json", s, NULL);
	free(s);
	json_decref(o);
	buf_release(&ans);
	buf_release(&think);
	return rc ? 0 : 1;
}

static int send_error(int fd, int openai, int status, const char *msg, const char *extra)
{
	json_t *o = openai ? json_pack("{s:{s:s, s:s, s:i}}", "error", "message", msg, "type", "fake_error", "code", status)
			   : json_pack("{s:s}", "error", msg);
	char *s = json_dumps(o, JSON_COMPACT);
	int rc = send_simple(fd, status, "application/json", s, extra);
	free(s);
	json_decref(o);
	return rc ? 0 : 1;
}

/* Handles a chat request on either API. Returns 1 to keep the connection. */
static int handle_chat(int fd, int openai, struct request *r)
{
	json_error_t je;
	json_t *req = json_loads(r->body ? r->body : "", 0, &je);
	const char *model, *sc = opt.scenario;
	char msg[1024], scbuf[64];
	int keep = 0;
	long k;

	if (!json_is_object(req)) {
		keep = send_error(fd, openai, 400, "the request body is not a JSON object", NULL);
		goto out;
	}
	pthread_mutex_lock(&mu);
	free(last_body);
	last_body = xstrdup(r->body);
	pthread_mutex_unlock(&mu);
	model = json_string_value(json_object_get(req, "model"));
	if (r->scenario[0])
		sc = r->scenario;
	else if (model && !strncmp(model, "fake-", 5) && strcmp(model, opt.model)) {
		/* a copy: the scenarios below may replace the request's model string */
		snprintf(scbuf, sizeof scbuf, "%s", model + 5);
		sc = scbuf;
	}
	if (!strcmp(sc, "say") && strstr(r->body, "SAY: FAIL500"))
		sc = "500";     /* "say" items can ask to fail */
	if (!strcmp(sc, "say") && strstr(r->body, "SAY: FAIL400"))
		sc = "400";     /* ... or to be refused as a bad request */
	if (!strcmp(sc, "say") && strstr(r->body, "SAY: STALL"))
		sc = "stall";   /* ... or to hang until the client gives up (tests/cli/fleet_faults.sh) */
	if (!strcmp(sc, "429")) {
		pthread_mutex_lock(&mu);
		k = ++n429;
		pthread_mutex_unlock(&mu);
		if (k % 2 == 1) {
			keep = send_error(fd, openai, 429, "fake rate limit: slow down", "Retry-After: 1\r\n");
			goto out;
		}
		sc = "normal";
	}
	if (strstr(r->body, "MODEL-SWITCH")) /* items can make the server report another model */
		json_object_set_new(req, "model", json_string("switched-model"));
	if (!strcmp(sc, "auth_model")) {
		/* reports the Authorization header as its model name */
		json_object_set_new(req, "model", json_string(r->auth));
	} else if (!strcmp(sc, "echo_key")) {
		/* says the key back in its answer */
		json_t *msgs = json_object_get(req, "messages");
		char *say = xasprintf("SAY: your key is %s", r->auth);
		json_object_set_new(json_array_get(msgs, json_array_size(msgs) - 1), "content", json_string(say));
		free(say);
		sc = "say";
	}
	model = json_string_value(json_object_get(req, "model")); /* the scenarios above may have replaced it */
	if (!strcmp(sc, "retry_after_long")) {
		keep = send_error(fd, openai, 429, "fake rate limit: come back in ten minutes", "Retry-After: 600\r\n");
	} else if (!strcmp(sc, "long401")) {
		/* the key sits across the point where a 256-byte message would be cut */
		snprintf(msg, sizeof msg, "%200s Incorrect API key provided: %s", "the request was refused.", r->auth);
		keep = send_error(fd, openai, 401, msg, NULL);
	} else if (!strcmp(sc, "html401")) {
		struct buf b;
		buf_init(&b, 0);
		buf_appendf(&b, "<html><head><title>401 Authorization Required</title></head><body>%150s %s</body></html>",
			    "<h1>401</h1>", r->auth);
		keep = send_simple(fd, 401, "text/html", b.data, NULL) ? 0 : 1;
		buf_release(&b);
	} else if (!strcmp(sc, "500")) {
		keep = send_error(fd, openai, 500, "fake internal error", NULL);
	} else if (!strcmp(sc, "400")) {
		keep = send_error(fd, openai, 400, "fake bad request: the item asked for it", NULL);
	} else if (!strcmp(sc, "404")) {
		snprintf(msg, sizeof msg, "model \"%s\" not found, try pulling it first", model ? model : "");
		keep = send_error(fd, openai, 404, msg, NULL);
	} else if (!strcmp(sc, "echo_auth")) {
		snprintf(msg, sizeof msg, "Incorrect API key provided: %s", r->auth[0] ? r->auth : "(none)");
		keep = send_error(fd, openai, 401, msg, NULL);
	} else if (json_is_false(json_object_get(req, "stream"))) {
		keep = whole_chat(fd, openai, sc, req);
	} else {
		keep = stream_chat(fd, openai, sc, req, r->auth);
	}
out:
	json_decref(req);
	return keep;
}

static int handle(int fd, struct request *r)
{
	char *s;
	int keep;
	json_t *o;

	if (!strcmp(r->path, "/health"))
		return send_simple(fd, 200, "application/json", "{\"status\":\"ok\"}", NULL) ? 0 : 1;
	if (!strcmp(r->path, "/x/last-request")) {
		pthread_mutex_lock(&mu);
		s = xstrdup(last_body ? last_body : "{}");
		pthread_mutex_unlock(&mu);
		keep = send_simple(fd, 200, "application/json", s, NULL) ? 0 : 1;
		free(s);
		return keep;
	}
	if (opt.models_401 && (!strcmp(r->path, "/v1/models") || !strcmp(r->path, "/api/tags"))) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%200s Incorrect API key provided: %s", "the model list is refused.", r->auth);
		return send_error(fd, !strcmp(r->path, "/v1/models"), 401, msg, NULL);
	}
	if ((opt.apis & API_O) && !strcmp(r->path, "/v1/models")) {
		o = json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}]}", "object", "list", "data", "id", opt.model, "object",
			      "model", "created", 0, "owned_by", "fakellm");
		goto json;
	}
	if ((opt.apis & API_L) && !strcmp(r->path, "/api/tags")) {
		o = json_pack("{s:[{s:s, s:s, s:i}]}", "models", "name", opt.model, "model", opt.model, "size", 1);
		goto json;
	}
	if (!strcmp(r->path, "/x/stats")) {
		o = json_pack("{s:I, s:I, s:f, s:I, s:I}", "requests", (json_int_t)atomic_load(&nrequests),
			      "chat_answered", (json_int_t)atomic_load(&nanswered), "last_answer_wall_s",
			      (double)atomic_load(&last_answer_ms) / 1e3, "connections", (json_int_t)atomic_load(&nconns),
			      "last_fresh_chat", (json_int_t)atomic_load(&last_fresh));
		goto json;
	}
	if (((opt.apis & API_O) && !strcmp(r->path, "/v1/chat/completions")) ||
	    ((opt.apis & API_L) && !strcmp(r->path, "/api/chat"))) {
		long k = atomic_fetch_add(&nchats, 1) + 1;
		if (r->fresh)
			atomic_store(&last_fresh, k);
	}
	if ((opt.apis & API_O) && !strcmp(r->path, "/v1/chat/completions") && !strcmp(r->method, "POST")) {
		keep = handle_chat(fd, 1, r);
		answered();
		return keep;
	}
	if ((opt.apis & API_L) && !strcmp(r->path, "/api/chat") && !strcmp(r->method, "POST")) {
		keep = handle_chat(fd, 0, r);
		answered();
		return keep;
	}
	return send_simple(fd, 404, "text/plain", "404 page not found", NULL) ? 0 : 1;
json:
	s = json_dumps(o, JSON_COMPACT);
	keep = send_simple(fd, 200, "application/json", s, NULL) ? 0 : 1;
	free(s);
	json_decref(o);
	return keep;
}

/* Reads one request from fd (in carries bytes between requests). 0, or -1 at EOF / error. */
static int read_request(int fd, struct buf *in, struct request *r)
{
	char tmp[16384], *end, *line, *next;
	size_t hlen, clen = 0;
	ssize_t n;

	memset(r, 0, sizeof *r);
	while (!(end = memmem(in->data, in->len, "\r\n\r\n", 4))) {
		n = recv(fd, tmp, sizeof tmp, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(in, tmp, (size_t)n))
			return -1;
	}
	hlen = (size_t)(end - in->data) + 4;
	*end = 0;
	if (sscanf(in->data, "%15s %1023s", r->method, r->path) != 2)
		return -1;
	for (line = strstr(in->data, "\r\n"); line; line = next) {
		line += 2;
		next = strstr(line, "\r\n");
		if (next)
			*next = 0;
		if (!strncasecmp(line, "Content-Length:", 15))
			clen = strtoul(line + 15, NULL, 10);
		else if (!strncasecmp(line, "X-Fake-Scenario:", 16))
			sscanf(line + 16, " %63s", r->scenario);
		else if (!strncasecmp(line, "Authorization:", 14))
			snprintf(r->auth, sizeof r->auth, "%s", line + 14 + strspn(line + 14, " "));
		else if (!strncasecmp(line, "Connection:", 11) && strcasestr(line, "close"))
			r->close_after = 1;
	}
	while (in->len < hlen + clen) {
		n = recv(fd, tmp, sizeof tmp, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(in, tmp, (size_t)n))
			return -1;
	}
	r->body = xmalloc(clen + 1);
	memcpy(r->body, in->data + hlen, clen);
	r->body[clen] = 0;
	buf_consume(in, hlen + clen);
	return 0;
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg, one = 1, keep = 1;
	long nth = 0;
	struct buf in;
	struct request r;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	buf_init(&in, 64u << 20);
	while (keep && read_request(fd, &in, &r) == 0) {
		r.fresh = nth++ == 0;
		keep = handle(fd, &r) && !r.close_after;
		free(r.body);
		atomic_fetch_add(&nrequests, 1);
	}
	buf_release(&in);
	close(fd);
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: fakellm [--port N] [--port-file F] [--api openai|ollama|both|none] [--tokens N]\n"
			"               [--token-delay-ms D] [--ttft-ms T] [--model NAME] [--scenario NAME]\n"
			"               [--max-requests N] [--lifetime-s S] [--models-401 1]\n"
			"OpenAI requests with \"logprobs\": true get logprobs.content, -(i%%5+1)/8 per token i\n"
			"(-4 each in the lowconf scenario, none in the nologprobs scenario)\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (!strcmp(a, "--port"))
			opt.port = atoi(v);
		else if (!strcmp(a, "--port-file"))
			opt.port_file = v;
		else if (!strcmp(a, "--api"))
			opt.apis = !strcmp(v, "openai") ? API_O : !strcmp(v, "ollama") ? API_L : !strcmp(v, "none") ? 0 : API_O | API_L;
		else if (!strcmp(a, "--tokens"))
			opt.tokens = atoi(v);
		else if (!strcmp(a, "--token-delay-ms"))
			opt.token_delay_ms = atoi(v);
		else if (!strcmp(a, "--ttft-ms"))
			opt.ttft_ms = atoi(v);
		else if (!strcmp(a, "--model"))
			opt.model = v;
		else if (!strcmp(a, "--models-401"))
			opt.models_401 = atoi(v);
		else if (!strcmp(a, "--scenario"))
			opt.scenario = v;
		else if (!strcmp(a, "--max-requests"))
			opt.max_requests = atol(v);
		else if (!strcmp(a, "--lifetime-s"))
			opt.lifetime_s = atoi(v);
		else
			usage();
		i++;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { 0 };
	socklen_t sl = sizeof sa;
	struct sigaction sig = { 0 };
	struct stat st;
	struct pollfd pf[2];
	int lfd, one = 1, npf = 1, watch_stdin;
	int64_t deadline;
	pthread_attr_t attr;

	parse_args(argc, argv);
	sig.sa_handler = on_signal;
	sigaction(SIGTERM, &sig, NULL);
	sigaction(SIGINT, &sig, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)opt.port);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, SOMAXCONN) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		fprintf(stderr, "fakellm: cannot listen on 127.0.0.1:%d: %s\n", opt.port, strerror(errno));
		return 1;
	}
	if (opt.port_file) {
		char *tmp = xasprintf("%s.tmp", opt.port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(f) || rename(tmp, opt.port_file)) {
			fprintf(stderr, "fakellm: cannot write %s: %s\n", opt.port_file, strerror(errno));
			return 1;
		}
		free(tmp);
	} else {
		fprintf(stderr, "fakellm: listening on 127.0.0.1:%d\n", ntohs(sa.sin_port));
	}

	/* Exit when stdin closes, but only if it is a pipe or socket (not /dev/null or a terminal). */
	watch_stdin = fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode));
	pf[0].fd = lfd;
	pf[0].events = POLLIN;
	if (watch_stdin) {
		pf[1].fd = 0;
		pf[1].events = POLLIN;
		npf = 2;
	}
	deadline = opt.lifetime_s > 0 ? clock_now_ns() + (int64_t)opt.lifetime_s * NS_PER_S : INT64_MAX;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!stopping && clock_now_ns() < deadline &&
	       (opt.max_requests <= 0 || atomic_load(&nrequests) < opt.max_requests)) {
		if (poll(pf, (nfds_t)npf, 100) <= 0)
			continue;
		if (npf == 2 && pf[1].revents) {
			char tmp[256];
			if (read(0, tmp, sizeof tmp) <= 0)
				break;
		}
		if (pf[0].revents & POLLIN) {
			int cfd = accept(lfd, NULL, NULL);
			pthread_t th;
			if (cfd < 0)
				continue;
			atomic_fetch_add(&nconns, 1);
			if (pthread_create(&th, &attr, conn_main, (void *)(intptr_t)cfd))
				close(cfd);
		}
	}
	close(lfd);
	return 0;
}
