/*
 * client.c - the API-independent part of the inference client: many streams
 * on one libcurl multi handle, the byte-to-line splitter every stream parser
 * uses, result bookkeeping (times, text, token-count fallbacks), error
 * mapping, model listing, health, API detection and local-server discovery.
 */
#include "client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/api.h"
#include "clock.h"

#define ERRBODY_MAX (64u << 10)   /* what is kept of a non-2xx reply's body */
#define LIST_MAX (16u << 20)      /* cap on a model-list / health reply */

struct stream {
	struct client *c;
	CURL *easy;
	struct chat_result *res;
	chat_done_fn done;
	void *arg;
	struct stream_parser p;
	struct buf errbody;
	long status;
	int status_known;
	CURLcode rc;
	double timeout_s;
	char curlerr[CURL_ERROR_SIZE];
	struct stream *next;
};

struct client {
	CURLM *multi;
	char *base;              /* normalised: scheme://host[:port][/prefix], no trailing / or /v1 */
	enum api_kind api;
	const struct api_ops *ops;
	char *key;               /* API key, only for the header and for scrubbing messages */
	struct curl_slist *hdrs; /* chat request headers */
	struct stream *streams;  /* in flight */
	int nstreams;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

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
}

void chat_result_release(struct chat_result *r)
{
	buf_release(&r->answer);
	buf_release(&r->thinking);
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
	default: return "none";
	}
}

const char *api_name(enum api_kind k)
{
	switch (k) {
	case API_OPENAI: return "openai";
	case API_OLLAMA: return "ollama";
	default: return "auto";
	}
}

/* ---- stream parsing (shared by both APIs) ------------------------------- */

void stream_parser_init(struct stream_parser *p, const struct api_ops *ops, struct chat_result *res,
			size_t max_bytes)
{
	memset(p, 0, sizeof *p);
	p->ops = ops;
	p->res = res;
	p->max_bytes = max_bytes;
	buf_init(&p->line, max_bytes);
	buf_init(&p->data, max_bytes);
}

void stream_parser_release(struct stream_parser *p)
{
	buf_release(&p->line);
	buf_release(&p->data);
}

int stream_fail(struct stream_parser *p, enum err_kind kind, const char *fmt, ...)
{
	va_list ap;
	if (p->failed)
		return -1;
	p->failed = 1;
	p->res->err = kind;
	va_start(ap, fmt);
	vsnprintf(p->res->errmsg, sizeof p->res->errmsg, fmt, ap);
	va_end(ap);
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
		r->captoken = r->captoken ? 2 * r->captoken : 256;
		r->token_ns = xrealloc(r->token_ns, r->captoken * sizeof *r->token_ns);
	}
	r->token_ns[r->ntoken++] = now_ns;
	return 0;
}

static int parser_line(struct stream_parser *p, int64_t now_ns)
{
	int rc = p->ops->line(p, p->line.data, p->line.len, now_ns);
	buf_reset(&p->line);
	return rc || p->failed ? -1 : 0;
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
		for (j = i; j < n && data[j] != '\r' && data[j] != '\n'; j++)
			;
		if (buf_append(&p->line, data + i, j - i))
			return stream_fail(p, ERR_PROTOCOL, "response too large (one line passed %zu bytes)",
					   p->max_bytes);
		i = j;
	}
	return 0;
}

void stream_parser_counts(struct stream_parser *p)
{
	struct chat_result *r = p->res;

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
	if (p->ops->end(p, now_ns) || p->failed)
		goto out;
	if (!p->done && !p->finished) {
		stream_fail(p, ERR_RESET, "the stream ended before it was complete (no %s) after %zu output events",
			    p->ops == &api_ollama ? "\"done\":true" : "finish_reason or [DONE]", p->res->ntoken);
		goto out;
	}
	rc = 0;
out:
	stream_parser_counts(p);
	return rc;
}

void api_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	json_error_t je;
	json_t *o = json_loadb(body, len, JSON_ALLOW_NUL, &je), *e, *m;
	const char *s = NULL;
	size_t i, k = 0;

	if (json_is_object(o)) {
		e = json_object_get(o, "error");
		if (json_is_string(e))
			s = json_string_value(e);
		else if (json_is_object(e) && json_is_string(m = json_object_get(e, "message")))
			s = json_string_value(m);
		else if (json_is_string(m = json_object_get(o, "message")))
			s = json_string_value(m);
		else if (json_is_string(m = json_object_get(o, "detail")))
			s = json_string_value(m);
	}
	if (s) {
		snprintf(out, outlen, "%s", s);
		goto out;
	}
	/* Not JSON we know: the text itself, trimmed, on one line. */
	for (i = 0; i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'); i++)
		;
	for (; i < len && k + 4 < outlen; i++)
		out[k++] = body[i] == '\n' || body[i] == '\r' || body[i] == '\t' ? ' ' : body[i];
	if (i < len && outlen > 4) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	if (outlen)
		out[k < outlen ? k : outlen - 1] = 0;
	if (!k)
		snprintf(out, outlen, "(empty body)");
out:
	json_decref(o);
}

/* ---- keys and messages -------------------------------------------------- */

static char *api_key(void)
{
	const char *k = getenv("IPW_API_KEY");
	if (!k || !*k)
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

/* GET url into body; *status = HTTP status (0 if none). CURLE_OK or the curl error (in cerr). */
static CURLcode http_get(const char *url, struct curl_slist *hdrs, long timeout_ms, struct buf *body,
			 long *status, char cerr[CURL_ERROR_SIZE])
{
	CURL *e = curl_easy_init();
	CURLcode rc;

	*status = 0;
	cerr[0] = 0;
	buf_reset(body);
	if (!e) {
		snprintf(cerr, CURL_ERROR_SIZE, "could not create a curl handle");
		return CURLE_FAILED_INIT;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_get_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
	if (rc != CURLE_OK && !cerr[0])
		snprintf(cerr, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	curl_easy_cleanup(e);
	return rc;
}

static int is_2xx(long s)
{
	return s >= 200 && s < 300;
}

/* Whether body is a JSON object whose member key is an array. */
static int json_has_array(const char *body, const char *key)
{
	json_error_t je;
	json_t *o = json_loads(body, 0, &je);
	int yes = json_is_object(o) && json_is_array(json_object_get(o, key));
	json_decref(o);
	return yes;
}

/* ---- client ------------------------------------------------------------- */

/*
 * "host:8000/v1/" -> "http://host:8000": adds http:// when no scheme is given,
 * strips trailing "/" and one trailing "/v1" (a prefix before it stays, e.g.
 * "https://host/api/v1" -> "https://host/api").
 */
static char *normalise_url(const char *url)
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

/* API_AUTO: Ollama answers /api/tags with {"models":[...]}; anything answering /v1/models is OpenAI. */
static int detect_api(struct client *c, char *err, size_t errlen)
{
	struct curl_slist *h = make_headers(c->key, NULL);
	struct buf body;
	char cerr[CURL_ERROR_SIZE], *url;
	long status;
	CURLcode rc;
	int ret = -1;

	buf_init(&body, LIST_MAX);
	url = xasprintf("%s/api/tags", c->base);
	rc = http_get(url, h, 5000, &body, &status, cerr);
	free(url);
	if (rc == CURLE_OK && is_2xx(status) && json_has_array(body.data, "models")) {
		c->api = API_OLLAMA;
		ret = 0;
		goto out;
	}
	url = xasprintf("%s/v1/models", c->base);
	rc = http_get(url, h, 5000, &body, &status, cerr);
	free(url);
	if (rc == CURLE_OK && status) {
		c->api = API_OPENAI;
		ret = 0;
		goto out;
	}
	err_set(err, errlen,
		"could not reach an inference server at %s (tried /api/tags and /v1/models: %s); "
		"check the URL and that the server is running, or name the API with --api",
		c->base, cerr);
	redact_secret(err, errlen, c->key);
out:
	buf_release(&body);
	curl_slist_free_all(h);
	return ret;
}

struct client *client_new(const char *base_url, enum api_kind api, char *err, size_t errlen)
{
	struct client *c = NULL;

	pthread_once(&curl_once, curl_init_once);
	if (!base_url || !*base_url) {
		err_set(err, errlen, "no server URL given (e.g. http://127.0.0.1:8000)");
		goto out;
	}
	c = xcalloc(1, sizeof *c);
	c->base = normalise_url(base_url);
	c->key = api_key();
	c->api = api;
	if (api == API_AUTO && detect_api(c, err, errlen)) {
		client_free(c);
		c = NULL;
		goto out;
	}
	c->ops = c->api == API_OLLAMA ? &api_ollama : &api_openai;
	c->hdrs = make_headers(c->key, c->ops->accept);
	c->multi = curl_multi_init();
	if (!c->multi) {
		err_set(err, errlen, "could not create a curl multi handle");
		client_free(c);
		c = NULL;
	}
out:
	return c;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	client_cancel_all(c);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->hdrs);
	if (c->key) {
		memset(c->key, 0, strlen(c->key));
		free(c->key);
	}
	free(c->base);
	free(c);
}

enum api_kind client_api(const struct client *c)
{
	return c->api;
}

const char *client_url(const struct client *c)
{
	return c->base;
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
	if (!is_2xx(s->status)) {
		if (s->errbody.len < ERRBODY_MAX)
			buf_append(&s->errbody, ptr, n < ERRBODY_MAX - s->errbody.len ? n : ERRBODY_MAX - s->errbody.len);
		return n;
	}
	return stream_parser_feed(&s->p, ptr, n, now) ? 0 : n;
}

int client_submit(struct client *c, const struct chat_request *req, struct chat_result *res,
		  chat_done_fn done, void *arg)
{
	struct stream *s = xcalloc(1, sizeof *s);
	struct buf body;
	long tmo = req->timeout_s > 0 ? (long)(req->timeout_s * 1000.0 + 0.5) : 0;
	char *url;
	int rc = -1;

	s->c = c;
	s->timeout_s = req->timeout_s;
	s->res = res;
	s->done = done;
	s->arg = arg;
	stream_parser_init(&s->p, c->ops, res, CLIENT_MAX_RESPONSE);
	buf_init(&s->errbody, ERRBODY_MAX);
	buf_init(&body, 0);
	c->ops->build_body(req, &body);
	s->easy = curl_easy_init();
	if (!s->easy) {
		res->err = ERR_CONNECT;
		snprintf(res->errmsg, sizeof res->errmsg, "could not create a curl handle");
		goto out;
	}
	url = xasprintf("%s%s", c->base, c->ops->chat_path);
	curl_easy_setopt(s->easy, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)body.len);
	curl_easy_setopt(s->easy, CURLOPT_COPYPOSTFIELDS, body.data);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_stream_data);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curlerr);
	curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, tmo);
	curl_easy_setopt(s->easy, CURLOPT_CONNECTTIMEOUT_MS, tmo > 0 && tmo < 10000 ? tmo : 10000L);
	curl_easy_setopt(s->easy, CURLOPT_NOPROXY, "127.0.0.1,localhost,::1");
	curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
	res->t_send_ns = clock_now_ns();
	if (curl_multi_add_handle(c->multi, s->easy) != CURLM_OK) {
		res->err = ERR_CONNECT;
		snprintf(res->errmsg, sizeof res->errmsg, "could not add the request to the event loop");
		goto out;
	}
	s->next = c->streams;
	c->streams = s;
	c->nstreams++;
	rc = 0;
out:
	buf_release(&body);
	if (rc) {
		if (s->easy)
			curl_easy_cleanup(s->easy);
		stream_parser_release(&s->p);
		buf_release(&s->errbody);
		free(s);
	}
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
	const char *url = s->c->base;
	const char *path = s->c->ops->chat_path;
	curl_off_t ra = -1;
	long status = 0;

	r->t_end_ns = now;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = (int)status;
	if (p->failed) {
		/* the parser already said what went wrong */
	} else if (status && !is_2xx(status)) {
		char msg[IPW_ERRLEN / 2];
		api_error_message(s->errbody.data, s->errbody.len, msg, sizeof msg);
		if (curl_easy_getinfo(s->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			r->retry_after_s = (double)ra;
		stream_fail(p, ERR_HTTP, "HTTP %ld from %s%s: %s", status, url, path, msg);
	} else if (s->rc == CURLE_OK || p->done || p->finished) {
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
	redact_secret(r->errmsg, sizeof r->errmsg, s->c->key);
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
	curl_easy_cleanup(s->easy);
	stream_parser_release(&s->p);
	buf_release(&s->errbody);
	free(s);
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

int client_poll(struct client *c, int timeout_ms)
{
	int running = 0;

	curl_multi_perform(c->multi, &running);
	reap(c);
	if (c->nstreams && timeout_ms > 0) {
		curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
		curl_multi_perform(c->multi, &running);
		reap(c);
	}
	return c->nstreams;
}

void client_cancel_all(struct client *c)
{
	struct stream *s;

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

/* ---- models and health -------------------------------------------------- */

static int get_models(const char *base, const struct api_ops *ops, const char *key, long timeout_ms,
		      char ***models, int *n, char *err, size_t errlen)
{
	struct curl_slist *h = make_headers(key, NULL);
	struct buf body;
	char cerr[CURL_ERROR_SIZE], *url = xasprintf("%s%s", base, ops->models_path);
	char msg[IPW_ERRLEN / 2];
	long status;
	int rc = -1;

	*models = NULL;
	*n = 0;
	buf_init(&body, LIST_MAX);
	if (http_get(url, h, timeout_ms, &body, &status, cerr) != CURLE_OK) {
		err_set(err, errlen, "could not get the model list from %s: %s; check the URL and that the server is running",
			url, cerr);
		goto out;
	}
	if (!is_2xx(status)) {
		api_error_message(body.data, body.len, msg, sizeof msg);
		err_set(err, errlen, "HTTP %ld from %s: %s", status, url, msg);
		goto out;
	}
	rc = ops->parse_models(body.data, models, n, err, errlen);
out:
	redact_secret(err, errlen, key);
	free(url);
	buf_release(&body);
	curl_slist_free_all(h);
	return rc;
}

int client_list_models(struct client *c, char ***models, int *n, char *err, size_t errlen)
{
	return get_models(c->base, c->ops, c->key, 10000, models, n, err, errlen);
}

int client_health(struct client *c, char *err, size_t errlen)
{
	struct curl_slist *h = make_headers(c->key, NULL);
	struct buf body;
	char cerr[CURL_ERROR_SIZE], msg[IPW_ERRLEN / 2], *url = xasprintf("%s/health", c->base);
	char **models = NULL;
	long status;
	int n, rc = -1;

	buf_init(&body, LIST_MAX);
	/* llama.cpp, vLLM and SGLang answer /health; 503 there means "still loading". */
	if (c->api == API_OPENAI && http_get(url, h, 5000, &body, &status, cerr) == CURLE_OK && status == 503) {
		api_error_message(body.data, body.len, msg, sizeof msg);
		err_set(err, errlen, "the server at %s is not ready (GET /health answered 503: %s); wait for it to load the model",
			c->base, msg);
		redact_secret(err, errlen, c->key);
		goto out;
	}
	if (client_list_models(c, &models, &n, err, errlen))
		goto out;
	rc = 0;
out:
	free_list(models);
	free(url);
	buf_release(&body);
	curl_slist_free_all(h);
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

/* "port:engine,..." from IPW_DISCOVER_PORTS, else the usual ports. Returns how many. */
static int probe_list(struct probe_port *out, int max)
{
	const char *env = getenv("IPW_DISCOVER_PORTS");
	char **items;
	int i, n = 0, k;

	if (!env || !*env) {
		for (i = 0; i < (int)(sizeof default_ports / sizeof default_ports[0]) && i < max; i++)
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

/* The engine named by an OpenAI model entry's owned_by, or NULL. */
static const char *engine_from_owner(const char *body)
{
	json_error_t je;
	json_t *o = json_loads(body, 0, &je), *d, *m, *ob;
	const char *e = NULL, *s;

	d = json_is_object(o) ? json_object_get(o, "data") : NULL;
	m = json_is_array(d) ? json_array_get(d, 0) : NULL;
	ob = json_is_object(m) ? json_object_get(m, "owned_by") : NULL;
	if (json_is_string(ob)) {
		s = json_string_value(ob);
		if (!strcmp(s, "vllm"))
			e = "vllm";
		else if (!strcmp(s, "sglang"))
			e = "sglang";
		else if (!strcmp(s, "llamacpp") || !strcmp(s, "llama.cpp"))
			e = "llama.cpp";
		else if (!strcmp(s, "library") || !strcmp(s, "ollama"))
			e = "ollama";
	}
	json_decref(o);
	return e;
}

/* Probes one port: 1 if a server answered (d filled), 0 if none. */
static int probe_port(const struct probe_port *pp, struct curl_slist *h, struct discovered *d)
{
	struct buf body;
	char cerr[CURL_ERROR_SIZE], *url, **models = NULL;
	const char *eng;
	long status;
	int n, found = 0;

	buf_init(&body, LIST_MAX);
	memset(d, 0, sizeof *d);
	snprintf(d->url, sizeof d->url, "http://127.0.0.1:%d", pp->port);
	url = xasprintf("%s/api/tags", d->url);
	if (http_get(url, h, 300, &body, &status, cerr) == CURLE_OK && is_2xx(status) &&
	    api_ollama.parse_models(body.data, &models, &n, NULL, 0) == 0) {
		d->api = API_OLLAMA;
		snprintf(d->engine, sizeof d->engine, "ollama");
		if (n > 0)
			snprintf(d->model, sizeof d->model, "%s", models[0]);
		found = 1;
		goto out;
	}
	free(url);
	url = xasprintf("%s/v1/models", d->url);
	if (http_get(url, h, 300, &body, &status, cerr) != CURLE_OK)
		goto out;
	/* A model list, or a refusal for want of a key; any other web server on the port is not ours. */
	if (is_2xx(status) && api_openai.parse_models(body.data, &models, &n, NULL, 0) == 0) {
		if (n > 0)
			snprintf(d->model, sizeof d->model, "%s", models[0]);
		found = 1;
	} else if (status == 401 || status == 403) {
		found = 1;
	}
	if (found) {
		d->api = API_OPENAI;
		eng = is_2xx(status) ? engine_from_owner(body.data) : NULL;
		snprintf(d->engine, sizeof d->engine, "%s", eng ? eng : pp->engine);
	}
out:
	free_list(models);
	free(url);
	buf_release(&body);
	return found;
}

int client_discover(struct discovered *d, char *err, size_t errlen)
{
	struct probe_port ports[32];
	struct discovered cand, first;
	struct curl_slist *h;
	struct buf tried;
	char *key = api_key();
	int i, n, have_first = 0, rc = -1;

	pthread_once(&curl_once, curl_init_once);
	memset(d, 0, sizeof *d);
	n = probe_list(ports, 32);
	h = make_headers(key, NULL);
	buf_init(&tried, 0);
	for (i = 0; i < n; i++) {
		buf_appendf(&tried, "%s%d (%s)", i ? ", " : "", ports[i].port, ports[i].engine);
		if (!probe_port(&ports[i], h, &cand))
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
	curl_slist_free_all(h);
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	return rc;
}
