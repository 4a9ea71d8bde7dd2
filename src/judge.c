/*
 * judge.c - the judge's transport and cache: one non-streaming
 * chat-completions request per judgement (temperature 0) through the client
 * (client_complete under the shared retry policy), the key from the
 * environment (redacted from every message), and the store's judgements table
 * as cache.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "util.h"

void judge_opts_init(struct judge_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->key_env = JUDGE_KEY_ENV;
	o->timeout_s = 300;
	o->max_attempts = 3;
	o->backoff_s = 1;
}

int judge_init(struct judge *j, const struct judge_opts *o, struct store *st, char *err, size_t errlen)
{
	struct client_opts co;

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
	client_opts_init(&co);
	co.api = "openai";
	co.key_env = j->o.key_env;
	j->client = client_open(o->url, &co, err, errlen);
	if (!j->client)
		return -1;
	j->chat_url = xasprintf("%s/v1/chat/completions", client_url(j->client));
	j->model = xstrdup(o->model);
	j->st = st;
	retry_policy_init(&j->retry);
	j->retry.max_attempts = j->o.max_attempts;
	j->retry.backoff_base_s = j->o.backoff_s;
	j->retry.retry_after_max_s = 60;
	return 0;
}

void judge_release(struct judge *j)
{
	if (!j)
		return;
	client_free(j->client);
	free(j->chat_url);
	free(j->model);
	memset(j, 0, sizeof(*j));
}

/* The server's message in an ERR_HTTP result ("HTTP 500 from URL: message" without its prefix). */
static const char *http_message(const struct judge *j, const struct chat_result *res)
{
	char prefix[512];
	int n = snprintf(prefix, sizeof(prefix), "HTTP %d from %s: ", res->http_status, j->chat_url);
	return n > 0 && (size_t)n < sizeof(prefix) && !strncmp(res->errmsg, prefix, (size_t)n) ? res->errmsg + n
											      : res->errmsg;
}

/*
 * Sends one judgement (system + user, temperature 0) under the retry policy;
 * *reply is the message content (caller frees). 0, JUDGE_EREQUEST,
 * JUDGE_ECONNECT or JUDGE_EAUTH (err set, the key redacted).
 */
static int post(struct judge *j, const char *system, const char *user, char **reply, char *err,
		size_t errlen)
{
	struct chat_message msgs[2];
	struct chat_request req;
	struct chat_result res;
	int attempts = 0, rc = JUDGE_EREQUEST;

	*reply = NULL;
	memset(&req, 0, sizeof(req));
	req.model = j->model;
	chat_request_set_prompt(&req, msgs, system, user);
	req.s.temperature = 0;
	req.s.top_p = NAN;
	req.s.max_tokens = j->o.max_tokens;
	req.timeout_s = j->o.timeout_s;
	req.no_stream = 1;
	client_call_retry(j->client, &req, &j->retry, NULL, &res, &attempts);
	j->n_requests += attempts;
	if (res.err == ERR_NONE) {
		*reply = xstrdup(res.answer.len ? res.answer.data : "");
		rc = 0;
	} else if (res.err == ERR_CONNECT) {
		rc = JUDGE_ECONNECT;
		err_set(err, errlen, "judge at %s cannot be reached: %s (is the server running? check --judge-url)",
			j->chat_url, res.errmsg);
	} else if (res.err == ERR_HTTP && (res.http_status == 401 || res.http_status == 403)) {
		rc = JUDGE_EAUTH;
		err_set(err, errlen, "judge at %s refused the request (HTTP %d: %s): put the judge's API key in %s (or "
			"name another variable with --judge-key-env)", j->chat_url, res.http_status, http_message(j, &res),
			j->o.key_env);
	} else if (res.err == ERR_HTTP) {
		err_set(err, errlen, "judge replied HTTP %d from %s: %s", res.http_status, j->chat_url,
			http_message(j, &res));
	} else {
		err_set(err, errlen, "judge request to %s failed: %s", j->chat_url, res.errmsg);
	}
	redact_secret(err, errlen, client_key(j->client));
	chat_result_release(&res);
	return rc;
}

int judge_ask(struct judge *j, const char *system, const char *user, judge_parse_fn parse,
	      char *verdict, size_t vlen, int *cached, char *err, size_t errlen)
{
	char *prompt = xasprintf("%s\n\n%s", system, user), *reply = NULL, *cv = NULL, *craw = NULL;
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
	rc = post(j, system, user, &reply, err, errlen);
	if (rc < 0)
		goto out;
	{
		size_t n;
		char *clean = secret_scrub(reply, strlen(reply), &n);
		if (clean) {
			free(reply);
			reply = clean;
		}
	}
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
	free(reply);
	free(cv);
	free(craw);
	return rc;
}
