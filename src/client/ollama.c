/*
 * client/ollama.c - Ollama's native chat API: POST /api/chat with
 * {"model","messages","stream":true,"options":{...}}, answered by
 * newline-delimited JSON objects, the last with "done":true, token counts and
 * server-side durations in ns (or that last object alone for "stream":false);
 * models, detection and discovery use GET /api/tags. Exports api_ollama. See
 * docs/client.md.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/api.h"
#include "client/jscan.h"

static int ol_build_body(const struct chat_request *req, struct buf *out, char *err, size_t errlen)
{
	const struct sampling *s = &req->s;
	json_t *o = json_object(), *msgs = api_messages_json(req, API_MSG_OLLAMA, err, errlen), *opt;

	if (!msgs) {
		json_decref(o);
		return -1;
	}
	opt = json_object();
	json_object_set_new(o, "model", api_jstr(req->model));
	json_object_set_new(o, "messages", msgs);
	json_object_set_new(o, "stream", json_boolean(!req->no_stream));
	if (s->max_tokens > 0)
		json_object_set_new(opt, "num_predict", json_integer(s->max_tokens));
	if (isfinite(s->temperature) && s->temperature >= 0)
		json_object_set_new(opt, "temperature", json_real(s->temperature));
	if (isfinite(s->top_p) && s->top_p > 0)
		json_object_set_new(opt, "top_p", json_real(s->top_p));
	if (s->top_k > 0)
		json_object_set_new(opt, "top_k", json_integer(s->top_k));
	if (s->has_seed)
		json_object_set_new(opt, "seed", json_integer(s->seed));
	json_object_set_new(o, "options", opt);
	return api_body_finish(o, req, out, err, errlen);
}

/* A duration in ns as seconds, NAN when absent. */
static double jdur(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (double)json_integer_value(v) / 1e9 : NAN;
}

static void ol_final(struct stream_parser *p, json_t *o)
{
	struct chat_result *r = p->res;
	json_t *v;

	p->done = 1;
	v = json_object_get(o, "done_reason");
	if (json_is_string(v)) {
		snprintf(r->finish_reason, sizeof r->finish_reason, "%s", json_string_value(v));
		p->finished = 1;
	}
	v = json_object_get(o, "prompt_eval_count");
	if (json_is_integer(v)) {
		r->prompt_tokens = json_integer_value(v);
		r->prompt_src = COUNT_SERVER;
	}
	v = json_object_get(o, "eval_count");
	if (json_is_integer(v)) {
		r->completion_tokens = json_integer_value(v);
		r->completion_src = COUNT_SERVER;
	}
	r->server_total_s = jdur(o, "total_duration");
	r->server_load_s = jdur(o, "load_duration");
	r->server_prompt_s = jdur(o, "prompt_eval_duration");
	r->server_eval_s = jdur(o, "eval_duration");
}

/* ---- the fast path: one line read in place (client/jscan.h) ----------------- */

enum { MSG_CONTENT, MSG_THINKING, NMSG };
static const struct jkey msg_keys[NMSG] = {JKEY("content"), JKEY("thinking")};
struct ol_fields {
	struct jstr model, msg[NMSG], done_reason;
	struct jint server_t, prompt, eval, total, load, prompt_dur, eval_dur;
	int done;
};


static void fast_message(struct jscan *j, struct ol_fields *f)
{
	jscan_string_members(j, msg_keys, f->msg, NMSG);
}

/* The integer members of the top level, by name. */
static struct jint *int_member(struct ol_fields *f, const char *k, size_t kl, unsigned *bit)
{
	static const char *const names[] = {"x_server_t_ns", "prompt_eval_count", "eval_count", "total_duration",
					    "load_duration", "prompt_eval_duration", "eval_duration"};
	struct jint *slots[] = {&f->server_t, &f->prompt, &f->eval, &f->total, &f->load, &f->prompt_dur,
				&f->eval_dur};

	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (kl == strlen(names[i]) && !memcmp(k, names[i], kl)) {
			*bit = 16u << i;
			return slots[i];
		}
	}
	return NULL;
}

static int fast_scan(struct stream_parser *p, const char *line, size_t len, struct ol_fields *f)
{
	struct jscan j;
	struct jint *iv;
	const char *k;
	size_t kl;
	unsigned seen = 0, bit;
	int first = 1;

	if (jscan_begin(&j, line, len, &p->scratch, &p->scratch_cap))
		return -1;
	while (jscan_member(&j, &first, &k, &kl)) {
		if (jscan_key_is(k, kl, "error")) {
			if (jscan_peek(&j) == 'n')
				jscan_skip(&j);
			else
				j.bad = 1;   /* an error object: jansson reads it for the message */
		} else if (jscan_key_is(k, kl, "model") && jscan_once(&j, &seen, 1)) {
			jscan_string_or_skip(&j, &f->model);
		} else if (jscan_key_is(k, kl, "message") && jscan_once(&j, &seen, 2)) {
			fast_message(&j, f);
		} else if (jscan_key_is(k, kl, "done") && jscan_once(&j, &seen, 4)) {
			f->done = jscan_true(&j);
		} else if (jscan_key_is(k, kl, "done_reason") && jscan_once(&j, &seen, 8)) {
			jscan_string_or_skip(&j, &f->done_reason);
		} else if ((iv = int_member(f, k, kl, &bit)) && jscan_once(&j, &seen, bit)) {
			jscan_int(&j, iv);
		} else {
			jscan_skip(&j);
		}
	}
	return jscan_end(&j);
}

static double dur_s(const struct jint *v)
{
	return v->set ? (double)v->v / 1e9 : NAN;
}

/* A line on the fast path: 0 or -1 (after stream_fail) when taken, 1 when jansson must read it. */
static int ol_line_fast(struct stream_parser *p, const char *line, size_t len, int64_t now_ns)
{
	struct chat_result *r = p->res;
	struct ol_fields f;

	memset(&f, 0, sizeof f);
	if (fast_scan(p, line, len, &f))
		return 1;
	p->nfast++;
	if (f.model.set)
		stream_model(p, f.model.s, f.model.len);
	if ((f.msg[MSG_CONTENT].len || f.msg[MSG_THINKING].len) &&
	    stream_output(p, f.msg[MSG_CONTENT].s, f.msg[MSG_CONTENT].len, f.msg[MSG_THINKING].s,
			  f.msg[MSG_THINKING].len,
			  f.server_t.set ? (int64_t)f.server_t.v : 0, now_ns))
		return -1;
	if (!f.done)
		return 0;
	p->done = 1;
	if (f.done_reason.set) {
		jstr_copy(&f.done_reason, r->finish_reason, sizeof r->finish_reason);
		p->finished = 1;
	}
	if (f.prompt.set) {
		r->prompt_tokens = f.prompt.v;
		r->prompt_src = COUNT_SERVER;
	}
	if (f.eval.set) {
		r->completion_tokens = f.eval.v;
		r->completion_src = COUNT_SERVER;
	}
	r->server_total_s = dur_s(&f.total);
	r->server_load_s = dur_s(&f.load);
	r->server_prompt_s = dur_s(&f.prompt_dur);
	r->server_eval_s = dur_s(&f.eval_dur);
	return 0;
}

static int ol_line(struct stream_parser *p, const char *line, size_t len, int64_t now_ns)
{
	json_error_t je;
	json_t *o = NULL, *e, *msg, *v;
	const char *ans = NULL, *th = NULL;
	size_t alen = 0, tlen = 0, i;
	int64_t st = 0;
	int rc = 0;
	char emsg[IPW_ERRLEN / 2];

	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len || p->done)
		return 0;
	if (!p->no_fast && (rc = ol_line_fast(p, line, len, now_ns)) != 1)
		return rc;
	rc = 0;
	p->nslow++;
	o = json_loadb(line, len, JSON_ALLOW_NUL, &je);
	if (!json_is_object(o)) {
		secret_excerpt(emsg, sizeof emsg, line, len, 60);
		rc = stream_fail(p, ERR_PROTOCOL, "malformed JSON line in the stream (%s): %s",
				 o ? "not an object" : je.text, emsg);
		goto out;
	}
	e = json_object_get(o, "error");
	if (e && !json_is_null(e)) {
		api_error_message(line, len, emsg, sizeof emsg);
		rc = stream_fail(p, ERR_SERVER, "the server reported an error mid-stream: %s", emsg);
		goto out;
	}
	v = json_object_get(o, "model");
	if (json_is_string(v))
		stream_model(p, json_string_value(v), json_string_length(v));
	v = json_object_get(o, "x_server_t_ns");
	if (json_is_integer(v))
		st = (int64_t)json_integer_value(v);
	msg = json_object_get(o, "message");
	if (json_is_object(msg)) {
		v = json_object_get(msg, "content");
		if (json_is_string(v)) {
			ans = json_string_value(v);
			alen = json_string_length(v);
		}
		v = json_object_get(msg, "thinking");
		if (json_is_string(v)) {
			th = json_string_value(v);
			tlen = json_string_length(v);
		}
	}
	if (alen || tlen) {
		rc = stream_output(p, ans, alen, th, tlen, st, now_ns);
		if (rc)
			goto out;
	}
	if (json_is_true(json_object_get(o, "done")))
		ol_final(p, o);
out:
	json_decref(o);
	return rc;
}

static int ol_end(struct stream_parser *p, int64_t now_ns)
{
	return 0;
}

static int ol_parse_models(const char *body, char ***models, int *n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loads(body, 0, &je), *arr, *m;
	size_t i, k = 0;
	int rc = -1;

	*models = NULL;
	*n = 0;
	arr = json_is_object(o) ? json_object_get(o, "models") : NULL;
	if (!json_is_array(arr)) {
		char ex[128];
		secret_excerpt(ex, sizeof ex, body, strlen(body), 80);
		err_set(err, errlen, "the model list is not {\"models\":[...]} JSON: %s", ex);
		goto out;
	}
	*models = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	json_array_foreach(arr, i, m) {
		json_t *name = json_object_get(m, "name");
		if (!json_is_string(name))
			name = json_object_get(m, "model");
		if (json_is_string(name))
			(*models)[k++] = xstrdup(json_string_value(name));
	}
	*n = (int)k;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* A whole "stream":false reply is the final object of a stream, with the whole message. */
static int ol_parse_whole(struct stream_parser *p, const char *body, size_t len, int64_t now_ns)
{
	json_t *o, *tc;
	int rc = ol_line(p, body, len, now_ns);

	if (rc || p->failed)
		return -1;
	if (!p->done) {
		char ex[128];
		secret_excerpt(ex, sizeof ex, body, len, 60);
		return stream_fail(p, ERR_PROTOCOL, "the reply has no \"done\":true: %s", ex);
	}
	o = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	tc = json_object_get(json_object_get(o, "message"), "tool_calls");
	if (json_is_array(tc) && json_array_size(tc))
		p->res->tool_calls_json = json_dumps(tc, JSON_COMPACT);
	json_decref(o);
	return 0;
}

/* Ollama answers GET /api/tags with {"models":[...]}. */
static int ol_detect(const char *base, const char *key, char *why, size_t whylen)
{
	struct buf body;
	char *url = xasprintf("%s/api/tags", base);
	long status = 0;
	int yes;

	buf_init(&body, 16u << 20);
	yes = api_http_get(url, key, 5000, &body, &status, why, whylen) == 0 && api_is_2xx(status) &&
	      api_json_has_array(body.data, "models");
	free(url);
	buf_release(&body);
	return yes;
}

static int ol_probe(const char *url, const char *key, const char *engine_hint, struct discovered *d)
{
	struct buf body;
	char cerr[256], *u = xasprintf("%s/api/tags", url), **models = NULL;
	long status = 0;
	int n, found = 0;

	buf_init(&body, 16u << 20);
	if (api_http_get(u, key, 300, &body, &status, cerr, sizeof cerr) == 0 && api_is_2xx(status) &&
	    ol_parse_models(body.data, &models, &n, NULL, 0) == 0) {
		snprintf(d->engine, sizeof d->engine, "ollama");
		if (n > 0)
			snprintf(d->model, sizeof d->model, "%s", models[0]);
		found = 1;
	}
	free_list(models);
	free(u);
	buf_release(&body);
	return found;
}

static const struct http_wire ol_wire = {
	.chat_path = "/api/chat",
	.models_path = "/api/tags",
	.health_path = NULL,
	.accept = "application/x-ndjson",
	.end_marker = "\"done\":true",
	.build_body = ol_build_body,
	.line = ol_line,
	.end = ol_end,
	.parse_whole = ol_parse_whole,
	.parse_models = ol_parse_models,
};

const struct api_backend api_ollama = {
	.name = "ollama",
	.summary = "Ollama's native /api/chat (NDJSON)",
	.detect = ol_detect,
	.probe = ol_probe,
	.wire = &ol_wire,
};
