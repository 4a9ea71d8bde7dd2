/*
 * client/builtin.c - the in-process server API (--api builtin --model
 * FILE.gguf, base URL builtin://FILE.gguf): the built-in engine (src/engine/)
 * runs each request on a worker thread, appending every token to the result
 * with its time stamp as a stream would; finished requests are completed on
 * the client's loop (dispatch), so telemetry and attribution see it like any
 * server. Records the engine's own CPU time per request. Exports api_builtin.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/api.h"
#include "clock.h"
#include "engine/engine.h"
#include "telemetry/cputime.h"

#define BUILTIN_PREFIX "builtin://"

struct bi_state;

struct bi_req {
	struct bi_state *st;
	struct chat_result *res;
	chat_done_fn done;
	void *arg;
	struct engine_msg *msgs;      /* copies: the request's strings are borrowed */
	size_t nmsgs;
	int max_tokens;
	struct engine_sampling s;
	int64_t deadline_ns;          /* 0: none */
	struct stream_parser p;       /* for stream_output: the same bookkeeping as an HTTP stream */
	int cancelled;                /* stopped by cancel_all or close */
	struct engine_utf8_hold u8;   /* an incomplete UTF-8 character held back */
	struct bi_req *next;
};

struct bi_state {
	struct client *c;
	struct engine *e;
	char *path;                   /* the model file, also its listed name */
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv, idle;
	struct bi_req *queue, *done;  /* waiting (FIFO) / finished, for dispatch */
	struct bi_req *running;
	int inflight;                 /* submitted, not yet dispatched */
	int quit, cancel;
};

static void list_push(struct bi_req **head, struct bi_req *r)
{
	r->next = NULL;
	while (*head)
		head = &(*head)->next;
	*head = r;
}

static void req_free(struct bi_req *r)
{
	for (size_t i = 0; i < r->nmsgs; i++) {
		free((char *)r->msgs[i].role);
		free((char *)r->msgs[i].content);
	}
	free(r->msgs);
	free(r);
}

/* Per token, on the worker thread: time-stamped like a stream event. */
static int bi_token(void *ud, int token, const char *text, size_t len, double t_ms)
{
	struct bi_req *r = ud;
	struct bi_state *st = r->st;
	int64_t now = clock_now_ns();
	char clean[3 * ENGINE_PIECE_MAX];
	size_t n = engine_utf8_take(&r->u8, text, len, clean);
	int stop;

	if (n)
		stream_output(&r->p, clean, n, NULL, 0, 0, now);
	pthread_mutex_lock(&st->mu);
	stop = r->cancelled = st->cancel || st->quit;
	pthread_mutex_unlock(&st->mu);
	if (!stop && r->deadline_ns && now > r->deadline_ns) {
		r->res->err = ERR_TIMEOUT;
		stop = 1;
	}
	return stop || r->p.failed;
}

/* The outcome of a finished generation (N tokens, or negative with ERR) into res. */
static void conclude(struct bi_req *r, int n, const struct engine_stats *es, const char *err)
{
	struct chat_result *res = r->res;

	if (r->cancelled)
		res->err = ERR_CANCELLED;
	if (n < 0 && !res->err) {
		res->err = ERR_SERVER;
		snprintf(res->errmsg, sizeof res->errmsg, "%s", err);
	} else if (res->err == ERR_TIMEOUT) {
		snprintf(res->errmsg, sizeof res->errmsg, "the request took longer than its timeout (%zu output events)",
			 res->ntoken);
	} else if (res->err == ERR_CANCELLED) {
		snprintf(res->errmsg, sizeof res->errmsg, "cancelled after %zu output events", res->ntoken);
	}
	if (n >= 0) {
		res->prompt_tokens = es->n_prompt;
		res->completion_tokens = es->n_gen;
		res->prompt_src = res->completion_src = COUNT_SERVER;
		res->server_prompt_s = es->prefill_ms / 1e3;
		res->server_eval_s = es->decode_ms / 1e3;
		res->server_total_s = (es->prefill_ms + es->decode_ms) / 1e3;
		snprintf(res->finish_reason, sizeof res->finish_reason, "%s",
			 r->max_tokens > 0 && n >= r->max_tokens ? "length" : "stop");
	}
}

static void run_one(struct bi_state *st, struct bi_req *r)
{
	struct engine_stats es;
	char err[IPW_ERRLEN] = "";
	double cpu0 = engine_cpu_seconds(st->e);
	int n;

	memset(&es, 0, sizeof es);
	stream_parser_init(&r->p, NULL, r->res, CLIENT_MAX_RESPONSE);
	n = engine_chat_run(st->e, NULL, r->msgs, r->nmsgs, r->max_tokens, &r->s, bi_token, r, &es, err,
			    sizeof err);
	if (r->u8.held) {
		char clean[3 * sizeof r->u8.hold];
		stream_output(&r->p, clean, engine_utf8_flush(&r->u8, clean), NULL, 0, 0, clock_now_ns());
	}
	r->res->engine_cpu_s = engine_cpu_seconds(st->e) - cpu0;
	r->res->t_end_ns = clock_now_ns();
	conclude(r, n, &es, err);
	stream_parser_counts(&r->p);
	stream_parser_release(&r->p);
}

static void *bi_worker(void *arg)
{
	struct bi_state *st = arg;
	struct bi_req *r;

	pthread_mutex_lock(&st->mu);
	for (;;) {
		while (!st->queue && !st->quit)
			pthread_cond_wait(&st->cv, &st->mu);
		if (st->quit)
			break;
		r = st->queue;
		st->queue = r->next;
		st->running = r;
		pthread_mutex_unlock(&st->mu);
		run_one(st, r);
		pthread_mutex_lock(&st->mu);
		st->running = NULL;
		list_push(&st->done, r);
		pthread_cond_broadcast(&st->idle);
		pthread_mutex_unlock(&st->mu);
		client_wakeup(st->c);
		pthread_mutex_lock(&st->mu);
	}
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

static int default_threads(void)
{
	const char *env = getenv("IPW_THREADS");
	long n = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

static double bi_cpu(void *arg)
{
	struct bi_state *st = arg;
	return st->e ? engine_cpu_seconds_of(st->e, st->th) : 0;
}

static int bi_open(struct client *c, void **state, char *err, size_t errlen)
{
	const char *url = client_url(c);
	struct bi_state *st;
	struct engine_opts eo = {0};

	*state = NULL;
	if (strncmp(url, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)) || !url[strlen(BUILTIN_PREFIX)])
		return err_set(err, errlen, "the builtin API runs a GGUF file: give it with --model FILE.gguf "
			       "(or --url builtin://FILE.gguf), not '%s'", url);
	st = xcalloc(1, sizeof *st);
	st->c = c;
	st->path = xstrdup(url + strlen(BUILTIN_PREFIX));
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	pthread_cond_init(&st->idle, NULL);
	*state = st;
	eo.n_threads = default_threads();
	if (engine_load(&st->e, st->path, &eo, err, errlen))
		return -1;
	if (pthread_create(&st->th, NULL, bi_worker, st))
		return err_set(err, errlen, "could not start the engine's thread");
	st->started = 1;
	cputime_register(bi_cpu, st);
	return 0;
}

static void bi_close(void *state)
{
	struct bi_state *st = state;
	struct bi_req *r;

	if (!st)
		return;
	cputime_unregister(st);
	pthread_mutex_lock(&st->mu);
	st->quit = 1;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	if (st->started)
		pthread_join(st->th, NULL);
	while ((r = st->queue)) {
		st->queue = r->next;
		req_free(r);
	}
	while ((r = st->done)) {
		st->done = r->next;
		req_free(r);
	}
	engine_free(st->e);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	pthread_cond_destroy(&st->idle);
	free(st->path);
	free(st);
}

static void copy_messages(struct bi_req *r, const struct chat_request *req)
{
	size_t n = req->nmessages ? req->nmessages : 2, k = 0;

	r->msgs = xcalloc(n, sizeof *r->msgs);
	if (req->nmessages) {
		for (size_t i = 0; i < req->nmessages; i++) {
			r->msgs[k].role = xstrdup(req->messages[i].role ? req->messages[i].role : "user");
			r->msgs[k++].content = xstrdup(req->messages[i].content ? req->messages[i].content : "");
		}
	} else {
		if (req->s.system && *req->s.system) {
			r->msgs[k].role = xstrdup("system");
			r->msgs[k++].content = xstrdup(req->s.system);
		}
		r->msgs[k].role = xstrdup("user");
		r->msgs[k++].content = xstrdup(req->prompt ? req->prompt : "");
	}
	r->nmsgs = k;
}

static int bi_submit(void *state, const struct chat_request *req, struct chat_result *res, chat_done_fn done,
		     void *arg)
{
	struct bi_state *st = state;
	struct bi_req *r = xcalloc(1, sizeof *r);

	r->st = st;
	r->res = res;
	r->done = done;
	r->arg = arg;
	copy_messages(r, req);
	r->max_tokens = req->s.max_tokens;
	r->s.temperature = (float)req->s.temperature;
	r->s.top_p = req->s.top_p > 0 && req->s.top_p < 1 ? (float)req->s.top_p : 1.0f;
	r->s.top_k = req->s.top_k > 0 ? req->s.top_k : 0;
	r->s.seed = req->s.has_seed ? (uint64_t)req->s.seed : 0;
	snprintf(res->model, sizeof res->model, "%s", st->path);
	res->t_submit_ns = res->t_send_ns = clock_now_ns();
	r->deadline_ns = req->timeout_s > 0 ? res->t_send_ns + (int64_t)(req->timeout_s * 1e9) : 0;
	pthread_mutex_lock(&st->mu);
	list_push(&st->queue, r);
	st->inflight++;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

static int bi_dispatch(void *state)
{
	struct bi_state *st = state;
	struct bi_req *fin, *r;
	int left;

	if (!st)
		return 0;
	pthread_mutex_lock(&st->mu);
	fin = st->done;
	st->done = NULL;
	for (r = fin; r; r = r->next)
		st->inflight--;
	left = st->inflight;
	pthread_mutex_unlock(&st->mu);
	while ((r = fin)) {
		fin = r->next;
		if (r->done)
			r->done(r->arg, r->res);
		req_free(r);
	}
	pthread_mutex_lock(&st->mu);
	left = st->inflight;   /* the callbacks may have submitted more */
	pthread_mutex_unlock(&st->mu);
	return left;
}

static void bi_cancel_all(void *state)
{
	struct bi_state *st = state;
	struct bi_req *r;

	if (!st)
		return;
	pthread_mutex_lock(&st->mu);
	st->cancel = 1;
	while ((r = st->queue)) {
		st->queue = r->next;
		r->res->err = ERR_CANCELLED;
		snprintf(r->res->errmsg, sizeof r->res->errmsg, "cancelled before it started");
		r->res->t_end_ns = clock_now_ns();
		list_push(&st->done, r);
	}
	while (st->running)
		pthread_cond_wait(&st->idle, &st->mu);
	st->cancel = 0;
	pthread_mutex_unlock(&st->mu);
}

static int bi_list_models(void *state, char ***models, int *n, char *err, size_t errlen)
{
	struct bi_state *st = state;

	*models = xcalloc(2, sizeof **models);
	(*models)[0] = xstrdup(st->path);
	*n = 1;
	return 0;
}

const struct api_backend api_builtin = {
	.name = "builtin",
	.summary = "the built-in CPU engine, in process (--model FILE.gguf)",
	.open = bi_open,
	.close = bi_close,
	.submit = bi_submit,
	.dispatch = bi_dispatch,
	.cancel_all = bi_cancel_all,
	.list_models = bi_list_models,
};
