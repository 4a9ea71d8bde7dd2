/*
 * judge.c - the judge's transport and cache: one non-streaming
 * chat-completions request per judgement (temperature 0) on a libcurl easy
 * handle, retries after 429/5xx/timeouts, the key from the environment
 * (redacted from every message), and the store's judgements table as cache.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "judge.h"
#include "util.h"

#define REPLY_MAX (16u << 20)  /* 16 MiB: a judge reply is a few kB */

void judge_opts_init(struct judge_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->key_env = JUDGE_KEY_ENV;
	o->timeout_s = 300;
	o->max_attempts = 3;
	o->backoff_s = 1;
}

/* "host:port/v1/" -> "http://host:port" (scheme added, trailing "/" and one "/v1" removed). */
static char *base_url(const char *url)
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

int judge_init(struct judge *j, const struct judge_opts *o, struct store *st, char *err, size_t errlen)
{
	const char *k;
	char *base;

	memset(j, 0, sizeof(*j));
	if (!o->url || !*o->url)
		return err_set(err, errlen, "no judge endpoint: pass --judge-url URL (any OpenAI-compatible server)");
	if (!o->model || !*o->model)
		return err_set(err, errlen, "no judge model: pass --judge-model NAME");
	j->o = *o;
	if (!j->o.key_env || !*j->o.key_env)
		j->o.key_env = JUDGE_KEY_ENV;
	if (j->o.max_attempts < 1)
		j->o.max_attempts = 1;
	base = base_url(o->url);
	j->chat_url = xasprintf("%s/v1/chat/completions", base);
	free(base);
	j->model = xstrdup(o->model);
	k = getenv(j->o.key_env);
	j->key = k && *k ? xstrdup(k) : NULL;
	j->st = st;
	j->curl = curl_easy_init();
	if (!j->curl) {
		judge_release(j);
		return err_set(err, errlen, "libcurl could not start a handle for the judge");
	}
	return 0;
}

void judge_release(struct judge *j)
{
	if (!j)
		return;
	if (j->curl)
		curl_easy_cleanup(j->curl);
	free(j->chat_url);
	free(j->model);
	if (j->key) {
		memset(j->key, 0, strlen(j->key));
		free(j->key);
	}
	memset(j, 0, sizeof(*j));
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	return buf_append(b, p, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	double *retry_after = arg;
	size_t len = size * n;
	if (len > 12 && !strncasecmp(p, "Retry-After:", 12)) {
		char tmp[32];
		size_t k = len - 12 < sizeof(tmp) - 1 ? len - 12 : sizeof(tmp) - 1;
		memcpy(tmp, p + 12, k);
		tmp[k] = 0;
		*retry_after = strtod(tmp, NULL);
	}
	return len;
}

/* The error message of a non-2xx body: {"error":{"message"}}, {"error":"..."}, {"message"}, {"detail"}. */
static void body_message(const char *body, char *out, size_t n)
{
	json_t *o = json_loads(body, 0, NULL), *e;
	const char *m = NULL;

	if (o) {
		e = json_object_get(o, "error");
		if (json_is_object(e))
			m = json_string_value(json_object_get(e, "message"));
		else if (json_is_string(e))
			m = json_string_value(e);
		if (!m)
			m = json_string_value(json_object_get(o, "message"));
		if (!m)
			m = json_string_value(json_object_get(o, "detail"));
	}
	snprintf(out, n, "%.200s", m ? m : body);
	for (char *c = out; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	json_decref(o);
}

static char *request_body(const struct judge *j, const char *system, const char *user)
{
	json_t *o = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:f, s:b}", "model", j->model, "messages",
			      "role", "system", "content", system, "role", "user", "content", user,
			      "temperature", 0.0, "stream", 0);
	char *s;
	if (j->o.max_tokens > 0)
		json_object_set_new(o, "max_tokens", json_integer(j->o.max_tokens));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* The text of choices[0].message.content, or NULL with err set. */
static char *reply_text(const char *body, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loads(body, 0, &je), *c;
	char *r = NULL;

	if (!o) {
		err_set(err, errlen, "the judge's reply is not JSON (%s): '%.60s'", je.text, body);
		goto out;
	}
	c = json_object_get(json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message"),
			    "content");
	if (!json_is_string(c)) {
		err_set(err, errlen, "the judge's reply has no choices[0].message.content: '%.60s'", body);
		goto out;
	}
	r = xstrdup(json_string_value(c));
out:
	json_decref(o);
	return r;
}

/*
 * Sends one judgement request with retries; *reply is the message content
 * (caller frees). 0, JUDGE_EREQUEST or JUDGE_ECONNECT (err set).
 */
static int post(struct judge *j, const char *body, char **reply, char *err, size_t errlen)
{
	CURL *c = j->curl;
	struct curl_slist *h = NULL;
	struct buf in;
	char cerr[CURL_ERROR_SIZE], *line;
	double delay = j->o.backoff_s;
	int rc = JUDGE_EREQUEST;

	*reply = NULL;
	buf_init(&in, REPLY_MAX);
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	if (j->key) {
		line = xasprintf("Authorization: Bearer %s", j->key);
		h = curl_slist_append(h, line);
		memset(line, 0, strlen(line));
		free(line);
	}
	for (int attempt = 1; attempt <= j->o.max_attempts; attempt++) {
		double retry_after = NAN;
		long status = 0;
		CURLcode cc;
		int retry = 0;

		buf_reset(&in);
		cerr[0] = 0;
		curl_easy_reset(c);
		curl_easy_setopt(c, CURLOPT_URL, j->chat_url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &in);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, &retry_after);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		if (j->o.timeout_s > 0)
			curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(j->o.timeout_s * 1000));
		j->n_requests++;
		cc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) {
			rc = JUDGE_ECONNECT;
			err_set(err, errlen, "judge at %s cannot be reached: %s (is the server running? check --judge-url)",
				j->chat_url, cerr[0] ? cerr : curl_easy_strerror(cc));
			retry = 1;
		} else if (cc != CURLE_OK) {
			rc = JUDGE_EREQUEST;
			err_set(err, errlen, "judge request to %s failed: %s", j->chat_url,
				cerr[0] ? cerr : curl_easy_strerror(cc));
			retry = cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
				cc == CURLE_PARTIAL_FILE;
		} else if (status == 401 || status == 403) {
			char m[256];
			body_message(in.data, m, sizeof(m));
			rc = JUDGE_EAUTH;
			err_set(err, errlen, "judge at %s refused the request (HTTP %ld: %s): put the judge's API key in "
				"%s (or name another variable with --judge-key-env)", j->chat_url, status, m, j->o.key_env);
		} else if (status < 200 || status > 299) {
			char m[256];
			body_message(in.data, m, sizeof(m));
			rc = JUDGE_EREQUEST;
			err_set(err, errlen, "judge replied HTTP %ld from %s: %s", status, j->chat_url, m);
			retry = status == 429 || status >= 500;
		} else {
			*reply = reply_text(in.data, err, errlen);
			rc = *reply ? 0 : JUDGE_EREQUEST;
			break;
		}
		if (!retry || attempt == j->o.max_attempts)
			break;
		if (!isnan(retry_after) && retry_after >= 0)
			delay = retry_after < 60 ? retry_after : 60;
		clock_sleep_ns((int64_t)(delay * 1e9));
		delay *= 2;
	}
	redact_secret(err, errlen, j->key);
	curl_slist_free_all(h);
	buf_release(&in);
	return rc;
}

int judge_ask(struct judge *j, const char *system, const char *user, judge_parse_fn parse,
	      char *verdict, size_t vlen, int *cached, char *err, size_t errlen)
{
	char *prompt = xasprintf("%s\n\n%s", system, user), *reply = NULL, *cv = NULL, *craw = NULL;
	char *body = NULL;
	char sha[65];
	int rc;

	*cached = 0;
	sha256_hex(prompt, strlen(prompt), sha);
	if (j->st) {
		rc = store_judgement_get(j->st, sha, j->model, &cv, &craw, err, errlen);
		if (rc == 0 && cv) {
			snprintf(verdict, vlen, "%s", cv);
			*cached = 1;
			j->n_cached++;
			goto out;
		}
		if (rc < 0 && rc != STORE_ENOTFOUND) {
			rc = JUDGE_ESTORE;
			goto out;
		}
	}
	body = request_body(j, system, user);
	rc = post(j, body, &reply, err, errlen);
	if (rc < 0)
		goto out;
	redact_secret(reply, strlen(reply) + 1, j->key);
	if (parse(reply, verdict, vlen) < 0) {
		err_set(err, errlen, "%s", verdict);
		rc = JUDGE_UNPARSED;
		goto out;
	}
	if (j->st) {
		struct store_judgement sj = {sha, j->model, verdict, reply, NAN};
		if (store_judgement_put(j->st, &sj, err, errlen) < 0) {
			rc = JUDGE_ESTORE;
			goto out;
		}
	}
	rc = 0;
out:
	free(prompt);
	free(body);
	free(reply);
	free(cv);
	free(craw);
	return rc;
}
