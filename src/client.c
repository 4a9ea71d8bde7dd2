/*
 * client.c - the API-independent part of the inference client: the event
 * loop (HTTP requests on one libcurl multi handle driven socket by socket
 * through epoll, an API's own requests, watched descriptors, a wake-up
 * eventfd), the byte-to-line splitter every stream parser uses,
 * result bookkeeping, error mapping, model listing, health, API detection by
 * the registry's detect() slots and local-server discovery by their probe().
 */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client/api.h"
#include "clock.h"

#define ERRBODY_MAX (64u << 10)   /* what is kept of a non-2xx reply's body */
#define CLIENT_SPARE_EASY 8      /* curl handles kept for reuse: a finished request's goes to the next at once */
#define LIST_MAX (16u << 20)      /* cap on a model-list / health reply */

struct stream {
	struct client *c;
	CURL *easy;
	struct chat_result *res;
	chat_done_fn done;
	void *arg;
	struct stream_parser p;
	struct buf errbody;
	struct buf whole;        /* no_stream: the reply body, parsed at the end */
	int no_stream;
	long status;
	int status_known;
	CURLcode rc;
	double timeout_s;
	int64_t t_connect_ns;    /* libcurl opened this request's connection (0: it reused one) */
	char curlerr[CURL_ERROR_SIZE];
	struct stream *next;
};

struct watch {
	int fd, events;
	client_fd_fn cb;
	void *arg;
};

/* What an epoll event is for: the high 32 bits of its data, the descriptor in the low ones. */
enum ev_kind { EV_CURL = 1, EV_WATCH = 2, EV_WAKE = 3 };
#define EV_DATA(kind, fd) (((uint64_t)(kind) << 32) | (uint32_t)(fd))
#define EV_BATCH 256     /* events taken per epoll_wait */

struct client {
	CURLM *multi;            /* HTTP requests, driven by curl_multi_socket_action */
	int epfd;                /* the loop's wait: curl's sockets, watched fds, the wake-up eventfd */
	int wakefd;              /* eventfd written by client_wakeup */
	int64_t timer_due;       /* when libcurl wants CURL_SOCKET_TIMEOUT (CLOCK_MONOTONIC ns), 0 = never */
	char *base;              /* normalised: scheme://host[:port][/prefix], no trailing / or /v1 */
	char *shown;             /* base without user-info (credentials): for messages and records */
	const struct api_backend *api;
	const struct http_wire *wire; /* api->wire, NULL for an API that runs requests itself */
	void *state;             /* such an API's own state (api->open) */
	char *key;               /* API key, only for the header and for scrubbing messages */
	struct curl_slist *hdrs; /* streaming chat request headers */
	struct curl_slist *hdrs_json; /* non-streaming ones */
	struct stream *streams;  /* HTTP requests in flight */
	int nstreams;
	int nown;                /* the API's own requests in flight, as its dispatch() last said */
	struct watch watches[CLIENT_MAX_WATCH];
	int nwatch;
	/* finished requests' curl handles, reset, for the next requests (a new one costs ~13,000 instructions) */
	CURL *spare[CLIENT_SPARE_EASY];
	int nspare;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* A curl handle for a request: a spare one, or a new one (NULL when none could be made). */
static CURL *easy_get(struct client *c)
{
	return c->nspare ? c->spare[--c->nspare] : curl_easy_init();
}

/* A request's handle, out of the multi handle: kept as a spare with its options reset, or freed. */
static void easy_put(struct client *c, CURL *e)
{
	if (!e)
		return;
	if (c->nspare < CLIENT_SPARE_EASY) {
		curl_easy_reset(e);
		c->spare[c->nspare++] = e;
	} else {
		curl_easy_cleanup(e);
	}
}

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- results ------------------------------------------------------------ */

void chat_result_init(struct chat_result *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->answer, CLIENT_MAX_RESPONSE);
	buf_init(&r->thinking, CLIENT_MAX_RESPONSE);
	r->prompt_tokens = r->completion_tokens = r->reasoning_tokens = -1;
	r->prompt_src = r->completion_src = r->reasoning_src = COUNT_NONE;
	r->err = ERR_NONE;
	r->server_load_s = r->server_prompt_s = r->server_eval_s = r->server_total_s = NAN;
	r->retry_after_s = NAN;
	r->engine_cpu_s = NAN;
	r->logprob_n = -1;
}

void chat_result_release(struct chat_result *r)
{
	buf_release(&r->answer);
	buf_release(&r->thinking);
	free(r->tool_calls_json);
	r->tool_calls_json = NULL;
	free(r->token_ns);
	r->token_ns = NULL;
	r->ntoken = r->captoken = 0;
}

const char *err_kind_name(enum err_kind k)
{
	static const char *const names[] = {
		[ERR_NONE] = "none", [ERR_CONNECT] = "connect", [ERR_TIMEOUT] = "timeout",
		[ERR_HTTP] = "http", [ERR_SERVER] = "server", [ERR_PROTOCOL] = "protocol",
		[ERR_RESET] = "reset", [ERR_CANCELLED] = "cancelled",
	};
	return (unsigned)k < sizeof names / sizeof names[0] && names[k] ? names[k] : "unknown";
}

const char *count_src_name(enum count_src c)
{
	switch (c) {
	case COUNT_SERVER: return "server";
	case COUNT_EVENTS: return "events";
	case COUNT_EVENTS_REJECTED: return "events-server-rejected";
	case COUNT_NONE_REJECTED: return "none-server-rejected";
	default: return "none";
	}
}

/* ---- stream parsing (shared by both APIs) ------------------------------- */

void stream_parser_init(struct stream_parser *p, const struct http_wire *wire, struct chat_result *res,
			size_t max_bytes)
{
	memset(p, 0, sizeof *p);
	p->wire = wire;
	p->res = res;
	p->max_bytes = max_bytes;
	buf_init(&p->line, max_bytes);
	buf_init(&p->data, max_bytes);
}

void stream_parser_release(struct stream_parser *p)
{
	buf_release(&p->line);
	buf_release(&p->data);
	free(p->scratch);
	p->scratch = NULL;
	p->scratch_cap = 0;
}

int stream_fail(struct stream_parser *p, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	char *full = NULL;
	int n;
	if (p->failed)
		return -1;
	p->failed = 1;
	p->res->err = kind;
	/* the whole message, scrubbed of secrets, then cut to size */
	va_start(ap, fmt);
	n = vasprintf(&full, fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(p->res->errmsg, sizeof p->res->errmsg, "%s", fmt);
		return -1;
	}
	redact_secret(full, (size_t)n + 1, NULL);
	snprintf(p->res->errmsg, sizeof p->res->errmsg, "%s", full);
	free(full);
	return -1;
}

int stream_output(struct stream_parser *p, const char *answer, size_t alen, const char *think,
		  size_t tlen, int64_t server_t_ns, int64_t now_ns)
{
	struct chat_result *r = p->res;

	if ((alen && buf_append(&r->answer, answer, alen)) || (tlen && buf_append(&r->thinking, think, tlen)))
		return stream_fail(p, ERR_PROTOCOL, "response too large (the text passed %zu bytes)",
				   (size_t)r->answer.max);
	if (!r->t_first_ns) {
		r->t_first_ns = now_ns;
		r->server_t_first_ns = server_t_ns;
	}
	if (alen && !r->t_first_answer_ns)
		r->t_first_answer_ns = now_ns;
	if (alen)
		p->nanswer_events++;
	if (tlen)
		p->nthink_events++;
	if (r->ntoken == r->captoken) {
		r->captoken = r->captoken ? 2 * r->captoken : 32;
		r->token_ns = xrealloc(r->token_ns, r->captoken * sizeof *r->token_ns);
	}
	r->token_ns[r->ntoken++] = now_ns;
	return 0;
}

void stream_model(struct stream_parser *p, const char *model, size_t len)
{
	struct chat_result *r = p->res;

	if (!len)
		return;
	if (len == p->last_model_len && !memcmp(model, p->last_model, len))
		return;   /* the same text as last time gives the same excerpt */
	secret_excerpt(r->model, sizeof r->model, model, len, sizeof r->model - 4);
	if (len <= sizeof p->last_model) {
		memcpy(p->last_model, model, len);
		p->last_model_len = len;
	} else {
		p->last_model_len = 0;
	}
}

static int parser_line(struct stream_parser *p, int64_t now_ns)
{
	int rc = p->wire->line(p, p->line.data, p->line.len, now_ns);
	buf_reset(&p->line);
	return rc || p->failed ? -1 : 0;
}

/* The offset of the first CR or LF in data[i..n), or n. */
static size_t line_end(const char *data, size_t i, size_t n)
{
	const char *lf = memchr(data + i, '\n', n - i);
	size_t e = lf ? (size_t)(lf - data) : n;
	const char *cr = memchr(data + i, '\r', e - i);

	return cr ? (size_t)(cr - data) : e;
}

int stream_parser_feed(struct stream_parser *p, const char *data, size_t n, int64_t now_ns)
{
	size_t i = 0, j;

	if (p->failed)
		return -1;
	if (n > p->max_bytes - p->nbytes)
		return stream_fail(p, ERR_PROTOCOL, "response too large (the stream passed %zu bytes)",
				   p->max_bytes);
	p->nbytes += n;
	while (i < n) {
		char ch = data[i];
		if (p->last_cr) {
			p->last_cr = 0;
			if (ch == '\n') {
				i++;
				continue;
			}
		}
		if (ch == '\r' || ch == '\n') {
			p->last_cr = ch == '\r';
			i++;
			if (parser_line(p, now_ns))
				return -1;
			continue;
		}
		j = line_end(data, i, n);
		if (j < n && p->line.len == 0) {
			/* a whole line in this piece: read where it lies (it fits: n passed the size check) */
			int rc = p->wire->line(p, data + i, j - i, now_ns);
			if (rc || p->failed)
				return -1;
			p->last_cr = data[j] == '\r';
			i = j + 1;
			continue;
		}
		if (buf_append(&p->line, data + i, j - i))
			return stream_fail(p, ERR_PROTOCOL, "response too large (one line passed %zu bytes)",
					   p->max_bytes);
		i = j;
	}
	return 0;
}

/*
 * Whether a server's completion count can be true of this stream: not
 * negative, at most twice max_tokens (plus slack), and, unless the reply
 * called tools (whose deltas carry no text), its visible part (reasoning the
 * server counted but did not stream set aside) within 8 tokens per output
 * event or byte (plus slack).
 */
static int completion_plausible(const struct stream_parser *p, long long completion, long long reasoning)
{
	const struct chat_result *r = p->res;
	long long bytes = (long long)(r->answer.len + r->thinking.len) +
			  (r->tool_calls_json ? (long long)strlen(r->tool_calls_json) : 0);
	long long visible = completion - (reasoning > 0 && reasoning <= completion ? reasoning : 0);

	if (completion < 0)
		return 0;
	if (p->max_tokens > 0 && completion > 2LL * p->max_tokens + 16)
		return 0;
	if (!strcmp(r->finish_reason, "tool_calls"))
		return 1;
	return visible <= 8 * ((long long)r->ntoken + bytes) + 64;
}

/* Rejects server counts that contradict the stream (see enum count_src). */
static void check_server_counts(struct stream_parser *p)
{
	struct chat_result *r = p->res;
	long long reasoning = r->reasoning_src == COUNT_SERVER ? r->reasoning_tokens : -1;

	if (r->prompt_src == COUNT_SERVER && r->prompt_tokens < 0) {
		r->prompt_tokens = -1;
		r->prompt_src = COUNT_NONE_REJECTED;
	}
	if (r->completion_src == COUNT_SERVER && !completion_plausible(p, r->completion_tokens, reasoning)) {
		r->completion_tokens = (long long)r->ntoken;
		r->completion_src = COUNT_EVENTS_REJECTED;
	}
	if (r->reasoning_src == COUNT_SERVER &&
	    (r->reasoning_tokens < 0 || (r->completion_src == COUNT_SERVER && r->reasoning_tokens > r->completion_tokens) ||
	     (p->max_tokens > 0 && r->reasoning_tokens > 2LL * p->max_tokens + 16))) {
		r->reasoning_tokens = p->nthink_events;
		r->reasoning_src = COUNT_EVENTS_REJECTED;
	}
}

void stream_parser_counts(struct stream_parser *p)
{
	struct chat_result *r = p->res;

	check_server_counts(p);
	if (r->completion_src == COUNT_NONE) {
		r->completion_tokens = (long long)r->ntoken;
		r->completion_src = COUNT_EVENTS;
	}
	if (r->reasoning_src == COUNT_NONE) {
		r->reasoning_tokens = p->nthink_events;
		r->reasoning_src = COUNT_EVENTS;
	}
}

int stream_parser_finish(struct stream_parser *p, int64_t now_ns)
{
	int rc = -1;

	if (p->failed)
		goto out;
	if (p->line.len && parser_line(p, now_ns))
		goto out;
	if (p->wire->end(p, now_ns) || p->failed)
		goto out;
	if (!p->done && !p->finished) {
		stream_fail(p, ERR_RESET, "the stream ended before it was complete (no %s) after %zu output events",
			    p->wire->end_marker, p->res->ntoken);
		goto out;
	}
	rc = 0;
out:
	stream_parser_counts(p);
	return rc;
}

/* The message string of an error object we know, or NULL. */
static json_t *error_text(json_t *o)
{
	json_t *e = json_object_get(o, "error");

	if (!json_is_object(o))
		return NULL;
	if (json_is_string(e))
		return e;
	if (json_is_object(e) && json_is_string(json_object_get(e, "message")))
		return json_object_get(e, "message");
	if (json_is_string(json_object_get(o, "message")))
		return json_object_get(o, "message");
	return json_is_string(json_object_get(o, "detail")) ? json_object_get(o, "detail") : NULL;
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

void api_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	json_error_t je;
	json_t *o = json_loadb(body, len, JSON_ALLOW_NUL, &je), *m = error_text(o);
	size_t i;

	if (m) {
		/* scrubbed of secrets before it is cut to size */
		secret_excerpt(out, outlen, json_string_value(m), json_string_length(m), outlen > 4 ? outlen - 4 : 0);
		goto out;
	}
	/* Not JSON we know: the text itself, trimmed, on one line, scrubbed and then cut. */
	for (i = 0; i < len && is_space(body[i]); i++)
		;
	while (len > i && is_space(body[len - 1]))
		len--;
	secret_excerpt(out, outlen, body + i, len - i, outlen > 4 ? outlen - 4 : 0);
	if (outlen && !out[0])
		snprintf(out, outlen, "(empty body)");
out:
	json_decref(o);
}

/* ---- keys and messages -------------------------------------------------- */

/* The key from key_env, or else IPW_API_KEY / OPENAI_API_KEY; NULL if none. */
static char *api_key(const char *key_env)
{
	const char *k = key_env ? getenv(key_env) : getenv("IPW_API_KEY");
	if (!key_env && (!k || !*k))
		k = getenv("OPENAI_API_KEY");
	return k && *k ? xstrdup(k) : NULL;
}

static struct curl_slist *make_headers(const char *key, const char *accept)
{
	struct curl_slist *h = NULL;
	char *line;

	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	if (accept) {
		line = xasprintf("Accept: %s", accept);
		h = curl_slist_append(h, line);
		free(line);
	}
	if (key) {
		line = xasprintf("Authorization: Bearer %s", key);
		h = curl_slist_append(h, line);
		memset(line, 0, strlen(line));
		free(line);
	}
	return h;
}

/* ---- blocking GET (lists, health, detection, discovery) ----------------- */

static size_t on_get_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	return buf_append(b, ptr, size * nmemb) ? 0 : size * nmemb;
}

int api_http_get(const char *url, const char *key, long timeout_ms, struct buf *body, long *status,
		 char *cerr, size_t cerrlen)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = make_headers(key, NULL);
	char ebuf[CURL_ERROR_SIZE] = "";
	CURLcode rc = CURLE_FAILED_INIT;

	*status = 0;
	buf_reset(body);
	if (!e) {
		snprintf(ebuf, sizeof ebuf, "could not create a curl handle");
		goto out;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_get_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK && !ebuf[0])
		snprintf(ebuf, sizeof ebuf, "%s", curl_easy_strerror(rc));
	curl_easy_cleanup(e);
out:
	curl_slist_free_all(h);
	if (cerr && cerrlen)
		snprintf(cerr, cerrlen, "%s", ebuf);
	return rc == CURLE_OK ? 0 : -1;
}

int api_is_2xx(long s)
{
	return s >= 200 && s < 300;
}

int api_json_has_array(const char *body, const char *key)
{
	json_error_t je;
	json_t *o = json_loads(body, 0, &je);
	int yes = json_is_object(o) && json_is_array(json_object_get(o, key));
	json_decref(o);
	return yes;
}

/* ---- client ------------------------------------------------------------- */

char *client_normalise_url(const char *url)
{
	char *u = strstr(url, "://") ? xstrdup(url) : xasprintf("http://%s", url);
	size_t n = strlen(u);

	while (n > 0 && u[n - 1] == '/')
		u[--n] = 0;
	if (n >= 3 && !strcmp(u + n - 3, "/v1"))
		u[n -= 3] = 0;
	while (n > 0 && u[n - 1] == '/')
		u[--n] = 0;
	return u;
}

/* "auto": the first registered API whose detect() recognises the server. */
static int detect_api(struct client *c, char *err, size_t errlen)
{
	struct buf tried;
	char why[CURL_ERROR_SIZE];
	int rc = -1;

	buf_init(&tried, 0);
	for (size_t i = 0; api_backends[i]; i++) {
		const struct api_backend *b = api_backends[i];
		if (!b->detect)
			continue;
		why[0] = 0;
		if (b->detect(c->base, c->key, why, sizeof why) > 0) {
			c->api = b;
			rc = 0;
			goto out;
		}
		redact_secret(why, sizeof why, c->key);
		buf_appendf(&tried, "%s%s%s%s", tried.len ? "; " : "", b->name, why[0] ? ": " : " did not answer",
			    why);
	}
	err_set(err, errlen,
		"could not reach an inference server at %s (tried %s); "
		"check the URL and that the server is running, or name the API with --api",
		c->shown, tried.len ? tried.data : "nothing");
	redact_secret(err, errlen, c->key);
out:
	buf_release(&tried);
	return rc;
}

void client_opts_init(struct client_opts *o)
{
	memset(o, 0, sizeof *o);
}

/* base without its credentials, which join the process's secrets (util.h). */
static char *shown_url(const char *base)
{
	char *ui = NULL, *shown = url_strip_userinfo(base, &ui), *colon;

	if (ui) {
		secret_add(ui);
		colon = strchr(ui, ':');
		if (colon)
			secret_add(colon + 1);
		memset(ui, 0, strlen(ui));
		free(ui);
	}
	return shown;
}

/* ---- the event loop: libcurl's sockets and timer on epoll --------------- */

/* libcurl says which events a socket of its transfers waits for (CURLMOPT_SOCKETFUNCTION). */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct client *c = userp;
	struct epoll_event ev = {0};

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (socketp)
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);   /* fails harmlessly if it was closed */
		curl_multi_assign(c->multi, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.u64 = EV_DATA(EV_CURL, fd);
	if (epoll_ctl(c->epfd, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0 &&
	    epoll_ctl(c->epfd, socketp ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0)
		return -1;
	curl_multi_assign(c->multi, fd, c);
	return 0;
}

/* libcurl asks to be called back after timeout_ms (-1: never) (CURLMOPT_TIMERFUNCTION). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct client *c = userp;

	(void)multi;
	c->timer_due = timeout_ms < 0 ? 0 : clock_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
	if (c->timer_due == 0 && timeout_ms >= 0)
		c->timer_due = 1;
	return 0;
}

/* The multi handle, the epoll set and the wake-up eventfd. 0, or -1 with err. */
static int loop_open(struct client *c, char *err, size_t errlen)
{
	struct epoll_event ev = {0};

	c->multi = curl_multi_init();
	if (!c->multi)
		return err_set(err, errlen, "could not create a curl multi handle");
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.events = EPOLLIN;
	ev.data.u64 = EV_DATA(EV_WAKE, c->wakefd);
	if (c->epfd < 0 || c->wakefd < 0 || epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev) < 0)
		return err_set(err, errlen, "could not create the client's event loop: %s", strerror(errno));
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* libcurl's default cache holds 4 idle connections per added transfer, so when a wave of
	   transfers ends at once it closes most of them and the next wave connects again */
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)CLIENT_MAX_IDLE_CONNS);
	return 0;
}

struct client *client_open(const char *base_url, const struct client_opts *o, char *err, size_t errlen)
{
	struct client *c = NULL;
	const struct api_backend *b = o->backend;
	int ok = 0;

	pthread_once(&curl_once, curl_init_once);
	if (!base_url || !*base_url) {
		err_set(err, errlen, "no server URL given (e.g. http://127.0.0.1:8000)");
		goto out;
	}
	if (!b && api_lookup(o->api, &b, err, errlen))
		goto out;
	c = xcalloc(1, sizeof *c);
	c->epfd = c->wakefd = -1;
	c->base = client_normalise_url(base_url);
	c->shown = shown_url(c->base);
	c->key = api_key(o->key_env);
	secret_add(c->key);
	c->api = b;
	if (!c->api && detect_api(c, err, errlen))
		goto out;
	c->wire = c->api->wire;
	if (loop_open(c, err, errlen) < 0)
		goto out;
	if (c->wire) {
		c->hdrs = make_headers(c->key, c->wire->accept);
		c->hdrs_json = make_headers(c->key, "application/json");
	} else if (c->api->open && c->api->open(c, &c->state, err, errlen)) {
		goto out;
	}
	ok = 1;
out:
	if (!ok && c) {
		client_free(c);
		c = NULL;
	}
	return c;
}

struct client *client_new(const char *base_url, const char *api, char *err, size_t errlen)
{
	struct client_opts o;

	client_opts_init(&o);
	o.api = api;
	return client_open(base_url, &o, err, errlen);
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->api)
		client_cancel_all(c);
	if (c->api && !c->wire && c->api->close && c->state)
		c->api->close(c->state);
	while (c->nspare)
		curl_easy_cleanup(c->spare[--c->nspare]);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->epfd >= 0)
		close(c->epfd);
	if (c->wakefd >= 0)
		close(c->wakefd);
	curl_slist_free_all(c->hdrs);
	curl_slist_free_all(c->hdrs_json);
	if (c->key) {
		memset(c->key, 0, strlen(c->key));
		free(c->key);
	}
	free(c->base);
	free(c->shown);
	free(c);
}

const char *client_api(const struct client *c)
{
	return c->api->name;
}

const struct api_backend *client_backend(const struct client *c)
{
	return c->api;
}

const char *client_key(const struct client *c)
{
	return c->key;
}

const char *client_url(const struct client *c)
{
	return c->shown;
}

static size_t on_stream_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct stream *s = ud;
	size_t n = size * nmemb;
	int64_t now = clock_now_ns();

	if (!s->status_known) {
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
		s->status_known = 1;
	}
	if (!api_is_2xx(s->status)) {
		if (s->errbody.len < ERRBODY_MAX)
			buf_append(&s->errbody, ptr, n < ERRBODY_MAX - s->errbody.len ? n : ERRBODY_MAX - s->errbody.len);
		return n;
	}
	if (s->no_stream) {
		if (buf_append(&s->whole, ptr, n) == 0)
			return n;
		stream_fail(&s->p, ERR_PROTOCOL, "response too large (the reply passed %zu bytes)", s->whole.max);
		return 0;
	}
	return stream_parser_feed(&s->p, ptr, n, now) ? 0 : n;
}

static void stream_free(struct stream *s)
{
	easy_put(s->c, s->easy);
	stream_parser_release(&s->p);
	buf_release(&s->errbody);
	buf_release(&s->whole);
	free(s);
}

/*
 * The request's send time is when libcurl starts on it: it opens a
 * connection for it (on_curl_socket_open: the set-up counts as part of the
 * request), or, on a reused connection, it is about to write it
 * (on_curl_prereq). Either way after any wait in ipw's own loop.
 */
static curl_socket_t on_curl_socket_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct stream *s = arg;

	if (purpose == CURLSOCKTYPE_IPCXN && !s->t_connect_ns)
		s->t_connect_ns = clock_now_ns();
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);   /* never inherited by a server ipw starts */
}

static int on_curl_prereq(void *arg, char *remote_ip, char *local_ip, int remote_port, int local_port)
{
	struct stream *s = arg;

	(void)remote_ip, (void)local_ip, (void)remote_port, (void)local_port;
	s->res->t_send_ns = s->t_connect_ns ? s->t_connect_ns : clock_now_ns();
	return CURL_PREREQFUNC_OK;
}

static void stream_setopts(struct stream *s, const struct chat_request *req, const struct buf *body)
{
	struct client *c = s->c;
	long tmo = req->timeout_s > 0 ? (long)(req->timeout_s * 1000.0 + 0.5) : 0;
	char *url = xasprintf("%s%s", c->base, c->wire->chat_path);

	curl_easy_setopt(s->easy, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->no_stream ? c->hdrs_json : c->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(s->easy, CURLOPT_COPYPOSTFIELDS, body->data);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_stream_data);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->easy, CURLOPT_OPENSOCKETFUNCTION, on_curl_socket_open);
	curl_easy_setopt(s->easy, CURLOPT_OPENSOCKETDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_PREREQFUNCTION, on_curl_prereq);
	curl_easy_setopt(s->easy, CURLOPT_PREREQDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curlerr);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, tmo);
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, tmo > 0 && tmo < 10000 ? tmo : 10000L);
	curl_easy_setopt(s->easy, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
	/* stream events are small: a 4 KiB receive buffer instead of 16 KiB saves memory per open stream */
	curl_easy_setopt(s->easy, CURLOPT_BUFFERSIZE, 4096L);
}

/* Fails res before a request started. Returns -1. */
static int submit_fail(struct chat_result *res, enum err_kind k, const char *msg)
{
	res->err = k;
	snprintf(res->errmsg, sizeof res->errmsg, "%s", msg);
	return -1;
}

int client_submit(struct client *c, const struct chat_request *req, struct chat_result *res,
		  chat_done_fn done, void *arg)
{
	struct stream *s;
	struct buf body;
	char msg[IPW_ERRLEN];
	int rc = -1;

	if (!c->wire)
		return c->api->submit(c->state, req, res, done, arg);
	buf_init(&body, 0);
	if (c->wire->build_body(req, &body, msg, sizeof msg)) {
		buf_release(&body);
		return submit_fail(res, ERR_PROTOCOL, msg);
	}
	s = xcalloc(1, sizeof *s);
	s->c = c;
	s->timeout_s = req->timeout_s;
	s->no_stream = req->no_stream;
	s->res = res;
	s->done = done;
	s->arg = arg;
	stream_parser_init(&s->p, c->wire, res, CLIENT_MAX_RESPONSE);
	s->p.max_tokens = req->s.max_tokens;
	buf_init(&s->errbody, ERRBODY_MAX);
	buf_init(&s->whole, CLIENT_MAX_RESPONSE);
	s->easy = easy_get(c);
	if (!s->easy) {
		submit_fail(res, ERR_CONNECT, "could not create a curl handle");
		goto out;
	}
	stream_setopts(s, req, &body);
	res->t_submit_ns = res->t_send_ns = clock_now_ns();   /* t_send_ns again when the request goes out */
	if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK) {
		submit_fail(res, ERR_CONNECT, "could not add the request to the event loop");
		goto out;
	}
	s->next = c->streams;
	c->streams = s;
	c->nstreams++;
	rc = 0;
out:
	buf_release(&body);
	if (rc)
		stream_free(s);
	return rc;
}

static enum err_kind curl_kind(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return ERR_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return ERR_CONNECT;
	default:
		return ERR_RESET;
	}
}

/* Turns the transfer's outcome into res->err / errmsg and the final counts. */
static void stream_conclude(struct stream *s, int64_t now)
{
	struct chat_result *r = s->res;
	struct stream_parser *p = &s->p;
	const char *url = s->c->shown;
	const char *path = s->c->wire->chat_path;
	curl_off_t ra = -1;
	long status = 0;

	r->t_end_ns = now;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = (int)status;
	if (p->failed) {
		/* the parser already said what went wrong */
	} else if (status && !api_is_2xx(status)) {
		char msg[IPW_ERRLEN / 2];
		api_error_message(s->errbody.data, s->errbody.len, msg, sizeof msg);
		if (curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			r->retry_after_s = (double)ra;
		stream_fail(p, ERR_HTTP, "HTTP %ld from %s%s: %s", status, url, path, msg);
	} else if (s->no_stream && s->rc == CURLE_OK) {
		if (s->c->wire->parse_whole(p, s->whole.data, s->whole.len, now) == 0)
			stream_parser_finish(p, now);
	} else if (!s->no_stream && (s->rc == CURLE_OK || p->done || p->finished)) {
		stream_parser_finish(p, now);
	} else {
		enum err_kind k = curl_kind(s->rc);
		const char *ce = s->curlerr[0] ? s->curlerr : curl_easy_strerror(s->rc);
		if (k == ERR_TIMEOUT)
			stream_fail(p, k, "no complete answer from %s%s within the %g s timeout (%zu output events so far); "
				    "raise the timeout if the server is just slow", url, path, s->timeout_s, r->ntoken);
		else if (k == ERR_CONNECT)
			stream_fail(p, k, "could not connect to %s: %s; check the URL and that the server is running",
				    url, ce);
		else
			stream_fail(p, k, "the connection to %s dropped before the stream ended (%zu output events so far): %s",
				    url, r->ntoken, ce);
	}
	stream_parser_counts(p);
	if (r->errmsg[0])   /* an empty message has nothing to scrub (the scrub reads the environment) */
		redact_secret(r->errmsg, sizeof r->errmsg, s->c->key);
	redact_secret(r->model, sizeof r->model, s->c->key);
	redact_secret(r->finish_reason, sizeof r->finish_reason, s->c->key);
}

static void stream_unlink(struct client *c, struct stream *s)
{
	struct stream **pp;
	for (pp = &c->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			c->nstreams--;
			return;
		}
	}
}

/* Frees s (already unlinked) and calls its done callback, which may submit more. */
static void stream_end(struct client *c, struct stream *s)
{
	struct chat_result *res = s->res;
	chat_done_fn done = s->done;
	void *arg = s->arg;

	curl_multi_remove_handle(c->multi, s->easy);
	stream_free(s);
	if (done)
		done(arg, res);
}

static void reap(struct client *c)
{
	struct stream *finished = NULL, *s;
	CURLMsg *m;
	char *priv;
	int q;

	while ((m = curl_multi_info_read(c->multi, &q))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		if (!priv)
			continue;
		s = (struct stream *)priv;
		s->rc = m->data.result;
		stream_conclude(s, clock_now_ns());
		stream_unlink(c, s);
		s->next = finished;
		finished = s;
	}
	while ((s = finished)) {
		finished = s->next;
		stream_end(c, s);
	}
}

/* Runs libcurl's timer when it is due (it may set the next one), then completes what finished. */
static void run_timer(struct client *c)
{
	int running = 0;

	for (int k = 0; k < 4 && c->timer_due && clock_now_ns() >= c->timer_due; k++) {
		c->timer_due = 0;
		curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		reap(c);
	}
}

/* Moves transfers on and completes what finished: the HTTP streams, or the API's own requests. */
static int loop_turn(struct client *c)
{
	if (c->nstreams || c->timer_due)
		run_timer(c);
	if (!c->wire && c->api->dispatch)
		c->nown = c->api->dispatch(c->state);
	return c->nstreams + c->nown;
}

/* Calls the callback of the watched descriptor fd (the set may have changed since the wait). */
static void run_watch(struct client *c, int fd, uint32_t events)
{
	int ev = 0;

	if (events & (EPOLLIN | EPOLLPRI))
		ev |= CLIENT_FD_READ;
	if (events & EPOLLOUT)
		ev |= CLIENT_FD_WRITE;
	if (!ev && events)
		ev = CLIENT_FD_READ;   /* error or hang-up: let the owner read it */
	for (int k = 0; ev && k < c->nwatch; k++) {
		if (c->watches[k].fd == fd) {
			struct watch wt = c->watches[k];
			wt.cb(wt.arg, wt.fd, ev);
			return;
		}
	}
}

/* The wait: at most timeout_ms, less when libcurl's timer is due sooner. */
static int wait_ms(const struct client *c, int timeout_ms)
{
	int64_t left;

	if (timeout_ms <= 0 || !c->timer_due)
		return timeout_ms > 0 ? timeout_ms : 0;
	left = c->timer_due - clock_now_ns();
	if (left <= 0)
		return 0;
	left = (left + NS_PER_MS - 1) / NS_PER_MS;
	return left < timeout_ms ? (int)left : timeout_ms;
}

/* Handles one batch of ready descriptors: curl's sockets, the watched ones, the wake-up. */
static void run_events(struct client *c, const struct epoll_event *evs, int nev)
{
	int running = 0, curl_moved = 0;
	uint64_t junk;

	for (int i = 0; i < nev; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64;
		uint32_t e = evs[i].events;
		switch ((enum ev_kind)(evs[i].data.u64 >> 32)) {
		case EV_CURL:
			curl_multi_socket_action(c->multi, fd, (e & (EPOLLIN | EPOLLPRI | EPOLLHUP) ? CURL_CSELECT_IN : 0) |
						 (e & EPOLLOUT ? CURL_CSELECT_OUT : 0) | (e & EPOLLERR ? CURL_CSELECT_ERR : 0),
						 &running);
			curl_moved = 1;
			break;
		case EV_WATCH:
			run_watch(c, fd, e);
			break;
		case EV_WAKE:
			if (read(c->wakefd, &junk, sizeof junk) < 0)
				junk = 0;   /* already drained */
			break;
		}
	}
	if (curl_moved)
		reap(c);
}

int client_poll(struct client *c, int timeout_ms)
{
	struct epoll_event evs[EV_BATCH];
	int n = loop_turn(c), nev;

	if (!n && !c->nwatch)
		return 0;
	nev = epoll_wait(c->epfd, evs, EV_BATCH, n || c->nwatch ? wait_ms(c, timeout_ms) : 0);
	if (nev > 0)
		run_events(c, evs, nev);
	return loop_turn(c);
}

void client_wakeup(struct client *c)
{
	uint64_t one = 1;

	if (write(c->wakefd, &one, sizeof one) < 0)
		one = 0;   /* the counter is already non-zero: a wake-up is pending */
}

int client_watch_fd(struct client *c, int fd, int events, client_fd_fn cb, void *arg)
{
	int i;

	if (fd < 0 || !cb || !(events & (CLIENT_FD_READ | CLIENT_FD_WRITE)) ||
	    (events & ~(CLIENT_FD_READ | CLIENT_FD_WRITE)))
		return -1;
	for (i = 0; i < c->nwatch && c->watches[i].fd != fd; i++)
		;
	if (i == CLIENT_MAX_WATCH)
		return -1;
	{
		struct epoll_event ev = {0};
		ev.events = (events & CLIENT_FD_READ ? EPOLLIN : 0) | (events & CLIENT_FD_WRITE ? EPOLLOUT : 0);
		ev.data.u64 = EV_DATA(EV_WATCH, fd);
		if (epoll_ctl(c->epfd, i == c->nwatch ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) < 0)
			return -1;
	}
	c->watches[i] = (struct watch){fd, events, cb, arg};
	if (i == c->nwatch)
		c->nwatch++;
	return 0;
}

int client_unwatch_fd(struct client *c, int fd)
{
	for (int i = 0; i < c->nwatch; i++) {
		if (c->watches[i].fd == fd) {
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);   /* fails harmlessly if fd was closed */
			c->watches[i] = c->watches[--c->nwatch];
			return 0;
		}
	}
	return -1;
}

void client_cancel_all(struct client *c)
{
	struct stream *s;

	if (!c->wire) {
		if (c->api->cancel_all)
			c->api->cancel_all(c->state);
		c->nown = c->api->dispatch ? c->api->dispatch(c->state) : 0;
		return;
	}
	while ((s = c->streams)) {
		s->res->t_end_ns = clock_now_ns();
		if (!s->p.failed)
			stream_fail(&s->p, ERR_CANCELLED, "cancelled after %zu output events", s->res->ntoken);
		stream_parser_counts(&s->p);
		stream_unlink(c, s);
		stream_end(c, s);
	}
}

static void chat_done_flag(void *arg, struct chat_result *res)
{
	*(int *)arg = 1;
}

int client_chat(struct client *c, const struct chat_request *req, struct chat_result *res)
{
	int finished = 0;

	if (client_submit(c, req, res, chat_done_flag, &finished))
		return -1;
	while (!finished)
		client_poll(c, 1000);
	return res->err == ERR_NONE ? 0 : -1;
}

int client_complete(struct client *c, const struct chat_request *req, struct chat_result *res)
{
	struct chat_request r = *req;

	r.no_stream = 1;
	return client_chat(c, &r, res);
}

/* ---- models and health -------------------------------------------------- */

int client_list_models(struct client *c, char ***models, int *n, char *err, size_t errlen)
{
	struct buf body;
	char cerr[CURL_ERROR_SIZE], msg[IPW_ERRLEN / 2], *url;
	long status;
	int rc = -1;

	*models = NULL;
	*n = 0;
	if (!c->wire)
		return c->api->list_models ? c->api->list_models(c->state, models, n, err, errlen)
					   : err_set(err, errlen, "the %s API lists no models", c->api->name);
	url = xasprintf("%s%s", c->base, c->wire->models_path);
	buf_init(&body, LIST_MAX);
	if (api_http_get(url, c->key, 10000, &body, &status, cerr, sizeof cerr)) {
		redact_secret(cerr, sizeof cerr, c->key);
		err_set(err, errlen, "could not get the model list from %s%s: %s; check the URL and that the server is "
			"running", c->shown, c->wire->models_path, cerr);
		goto out;
	}
	if (!api_is_2xx(status)) {
		api_error_message(body.data, body.len, msg, sizeof msg);
		err_set(err, errlen, "HTTP %ld from %s%s: %s", status, c->shown, c->wire->models_path, msg);
		goto out;
	}
	rc = c->wire->parse_models(body.data, models, n, err, errlen);
out:
	redact_secret(err, errlen, c->key);
	free(url);
	buf_release(&body);
	return rc;
}

int client_health(struct client *c, char *err, size_t errlen)
{
	struct buf body;
	char cerr[CURL_ERROR_SIZE], msg[IPW_ERRLEN / 2], *url = NULL;
	char **models = NULL;
	long status;
	int n, rc = -1;

	buf_init(&body, LIST_MAX);
	/* llama.cpp, vLLM and SGLang answer /health; 503 there means "still loading". */
	if (c->wire && c->wire->health_path) {
		url = xasprintf("%s%s", c->base, c->wire->health_path);
		if (api_http_get(url, c->key, 5000, &body, &status, cerr, sizeof cerr) == 0 && status == 503) {
			api_error_message(body.data, body.len, msg, sizeof msg);
			err_set(err, errlen, "the server at %s is not ready (GET %s answered 503: %s); wait for it to load "
				"the model", c->shown, c->wire->health_path, msg);
			redact_secret(err, errlen, c->key);
			goto out;
		}
	}
	if (client_list_models(c, &models, &n, err, errlen))
		goto out;
	rc = 0;
out:
	free_list(models);
	free(url);
	buf_release(&body);
	return rc;
}

/* ---- discovery ---------------------------------------------------------- */

struct probe_port {
	int port;
	char engine[32];
};

static const struct probe_port default_ports[] = {
	{11434, "ollama"}, {8000, "vllm"}, {30000, "sglang"}, {8080, "llama.cpp"}, {1234, "lm-studio"},
};

/*
 * The port of $OLLAMA_HOST ("HOST:PORT", "http://HOST:PORT", ":PORT") when its
 * host is this machine (discovery only looks on loopback), else 0.
 */
static int ollama_host_port(void)
{
	const char *h = getenv("OLLAMA_HOST"), *p;
	char host[128];
	size_t n;

	if (!h || !*h)
		return 0;
	if ((p = strstr(h, "://")))
		h = p + 3;
	if (!(p = strrchr(h, ':')))
		return 0;
	n = (size_t)(p - h) < sizeof host ? (size_t)(p - h) : sizeof host - 1;
	memcpy(host, h, n);
	host[n] = 0;
	if (n && strcmp(host, "127.0.0.1") && strcmp(host, "localhost") && strcmp(host, "0.0.0.0") &&
	    strcmp(host, "[::1]") && strcmp(host, "[::]"))
		return 0;
	n = (size_t)atoi(p + 1);
	return n > 0 && n <= 65535 ? (int)n : 0;
}

/* "port:engine,..." from IPW_DISCOVER_PORTS, else $OLLAMA_HOST's port and the usual ports. Returns how many. */
static int probe_list(struct probe_port *out, int max)
{
	const char *env = getenv("IPW_DISCOVER_PORTS");
	char **items;
	int i, n = 0, k;

	if (!env || !*env) {
		int oport = ollama_host_port();
		if (oport > 0 && oport != 11434 && n < max) {
			out[n].port = oport; /* OLLAMA_HOST names Ollama's port: try it first */
			snprintf(out[n].engine, sizeof out[n].engine, "ollama");
			n++;
		}
		for (i = 0; i < (int)(sizeof default_ports / sizeof default_ports[0]) && n < max; i++)
			out[n++] = default_ports[i];
		return n;
	}
	items = split_list(env, ',', &k);
	for (i = 0; i < k && n < max; i++) {
		char *colon = strchr(items[i], ':');
		int port = atoi(items[i]);
		if (port <= 0 || port > 65535)
			continue;
		out[n].port = port;
		snprintf(out[n].engine, sizeof out[n].engine, "%s", colon && colon[1] ? colon + 1 : "unknown");
		n++;
	}
	free_list(items);
	return n;
}

/* Probes one port with each registered API in turn: 1 if one answered (d filled), 0 if none. */
static int probe_port(const struct probe_port *pp, const char *key, struct discovered *d)
{
	for (size_t i = 0; api_backends[i]; i++) {
		const struct api_backend *b = api_backends[i];
		if (!b->probe)
			continue;
		memset(d, 0, sizeof *d);
		snprintf(d->url, sizeof d->url, "http://127.0.0.1:%d", pp->port);
		if (b->probe(d->url, key, pp->engine, d) > 0) {
			d->api = b->name;
			return 1;
		}
	}
	return 0;
}

int client_discover(struct discovered *d, char *err, size_t errlen)
{
	struct probe_port ports[32];
	struct discovered cand, first;
	struct buf tried;
	char *key = api_key(NULL);
	int i, n, have_first = 0, rc = -1;

	pthread_once(&curl_once, curl_init_once);
	memset(d, 0, sizeof *d);
	n = probe_list(ports, 32);
	buf_init(&tried, 0);
	for (i = 0; i < n; i++) {
		buf_appendf(&tried, "%s%d (%s)", i ? ", " : "", ports[i].port, ports[i].engine);
		if (!probe_port(&ports[i], key, &cand))
			continue;
		if (cand.model[0]) {
			*d = cand;
			rc = 0;
			goto out;
		}
		if (!have_first) {
			first = cand;
			have_first = 1;
		}
	}
	if (have_first) {
		/* A server answered but serves no model yet (e.g. Ollama with nothing pulled). */
		*d = first;
		rc = 0;
		goto out;
	}
	err_set(err, errlen,
		"no inference server found on 127.0.0.1 ports %s. Start one, e.g. "
		"\"ollama serve && ollama pull qwen3:4b\", \"vllm serve MODEL\" or "
		"\"llama-server -m model.gguf --port 8080\", or give its address with --url",
		tried.data);
out:
	buf_release(&tried);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	return rc;
}
