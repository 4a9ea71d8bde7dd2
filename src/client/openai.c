/*
 * client/openai.c - the OpenAI-compatible chat-completions API as served by
 * vLLM, SGLang, llama.cpp server, LM Studio, TGI and hosted APIs: request body,
 * the server-sent-events stream (one JSON chunk per "data:" event, then
 * "data: [DONE]"), and the /v1/models list. See docs/client.md.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "client/api.h"

/* json_string, falling back to no UTF-8 check so a bad byte in a prompt still goes out. */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	return j ? j : json_string_nocheck(s);
}

static void oa_build_body(const struct chat_request *req, struct buf *out)
{
	const struct sampling *s = &req->s;
	json_t *o = json_object(), *msgs = json_array(), *m, *so;
	char *txt;

	json_object_set_new(o, "model", jstr(req->model));
	if (s->system && *s->system) {
		m = json_object();
		json_object_set_new(m, "role", json_string("system"));
		json_object_set_new(m, "content", jstr(s->system));
		json_array_append_new(msgs, m);
	}
	m = json_object();
	json_object_set_new(m, "role", json_string("user"));
	json_object_set_new(m, "content", jstr(req->prompt));
	json_array_append_new(msgs, m);
	json_object_set_new(o, "messages", msgs);
	json_object_set_new(o, "stream", json_true());
	so = json_object();
	json_object_set_new(so, "include_usage", json_true());
	json_object_set_new(o, "stream_options", so);
	if (s->max_tokens > 0)
		json_object_set_new(o, "max_tokens", json_integer(s->max_tokens));
	if (isfinite(s->temperature) && s->temperature >= 0)
		json_object_set_new(o, "temperature", json_real(s->temperature));
	if (isfinite(s->top_p) && s->top_p > 0)
		json_object_set_new(o, "top_p", json_real(s->top_p));
	if (s->top_k > 0)
		json_object_set_new(o, "top_k", json_integer(s->top_k));
	if (s->has_seed)
		json_object_set_new(o, "seed", json_integer(s->seed));
	txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	buf_appends(out, txt ? txt : "{}");
	free(txt);
	json_decref(o);
}

static long long jint(json_t *o, const char *key, int *ok)
{
	json_t *v = json_object_get(o, key);
	*ok = json_is_integer(v);
	return *ok ? (long long)json_integer_value(v) : -1;
}

/* A JSON string member's text and length, or NULL when absent / not a string. */
static const char *jtext(json_t *o, const char *key, size_t *len)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v)) {
		*len = 0;
		return NULL;
	}
	*len = json_string_length(v);
	return json_string_value(v);
}

static void usage_from(struct stream_parser *p, json_t *u)
{
	struct chat_result *r = p->res;
	long long v;
	int ok;
	json_t *d;

	if (!json_is_object(u))
		return;
	v = jint(u, "prompt_tokens", &ok);
	if (ok) {
		r->prompt_tokens = v;
		r->prompt_src = COUNT_SERVER;
	}
	v = jint(u, "completion_tokens", &ok);
	if (ok) {
		r->completion_tokens = v;
		r->completion_src = COUNT_SERVER;
	}
	d = json_object_get(u, "completion_tokens_details");
	if (json_is_object(d)) {
		v = jint(d, "reasoning_tokens", &ok);
		if (ok) {
			r->reasoning_tokens = v;
			r->reasoning_src = COUNT_SERVER;
		}
	}
}

/* One "data:" payload that is not [DONE]. */
static int oa_chunk(struct stream_parser *p, const char *data, size_t len, int64_t now_ns)
{
	struct chat_result *r = p->res;
	json_error_t je;
	json_t *o = json_loadb(data, len, JSON_ALLOW_NUL, &je), *e, *ch, *c0, *delta, *fr, *v;
	const char *ans = NULL, *th = NULL, *mod;
	size_t alen = 0, tlen = 0, mlen;
	int64_t st = 0;
	int rc = 0;
	char msg[IPW_ERRLEN / 2];

	if (!json_is_object(o)) {
		rc = stream_fail(p, ERR_PROTOCOL, "malformed JSON in a stream event (%s): %.60s%s",
				 o ? "not an object" : je.text, data, len > 60 ? "..." : "");
		goto out;
	}
	e = json_object_get(o, "error");
	v = json_object_get(o, "object");
	if ((e && !json_is_null(e)) || (json_is_string(v) && !strcmp(json_string_value(v), "error"))) {
		api_error_message(data, len, msg, sizeof msg);
		rc = stream_fail(p, ERR_SERVER, "the server reported an error mid-stream: %s", msg);
		goto out;
	}
	mod = jtext(o, "model", &mlen);
	if (mod && mlen)
		snprintf(r->model, sizeof r->model, "%s", mod);
	v = json_object_get(o, "x_server_t_ns");
	if (json_is_integer(v))
		st = (int64_t)json_integer_value(v);
	ch = json_object_get(o, "choices");
	c0 = json_is_array(ch) ? json_array_get(ch, 0) : NULL;
	if (json_is_object(c0)) {
		delta = json_object_get(c0, "delta");
		if (!json_is_object(delta))
			delta = json_object_get(c0, "message");
		if (json_is_object(delta)) {
			ans = jtext(delta, "content", &alen);
			th = jtext(delta, "reasoning_content", &tlen);
			if (!th)
				th = jtext(delta, "reasoning", &tlen);
		}
		if (alen || tlen) {
			rc = stream_output(p, ans, alen, th, tlen, st, now_ns);
			if (rc)
				goto out;
		}
		fr = json_object_get(c0, "finish_reason");
		if (json_is_string(fr)) {
			snprintf(r->finish_reason, sizeof r->finish_reason, "%s", json_string_value(fr));
			p->finished = 1;
		}
	}
	usage_from(p, json_object_get(o, "usage"));
out:
	json_decref(o);
	return rc;
}

static int oa_dispatch(struct stream_parser *p, int64_t now_ns)
{
	int rc = 0;
	if (p->data.len == 0)
		return 0;
	if (p->data.len == 6 && !memcmp(p->data.data, "[DONE]", 6))
		p->done = 1;
	else
		rc = oa_chunk(p, p->data.data, p->data.len, now_ns);
	buf_reset(&p->data);
	return rc;
}

static int oa_line(struct stream_parser *p, const char *line, size_t len, int64_t now_ns)
{
	const char *colon, *val;
	size_t flen, vlen;

	if (p->done)
		return 0;
	if (len == 0)
		return oa_dispatch(p, now_ns);
	if (line[0] == ':')
		return 0;
	if (line[0] == '{') {
		/* Not SSE: a server that ignored "stream" or replied with a bare JSON error. */
		char msg[IPW_ERRLEN / 2];
		if (strstr(line, "\"error\"")) {
			api_error_message(line, len, msg, sizeof msg);
			return stream_fail(p, ERR_SERVER, "the server reported an error: %s", msg);
		}
		return stream_fail(p, ERR_PROTOCOL,
				   "expected server-sent events (\"data: ...\" lines) but got JSON: %.60s", line);
	}
	colon = memchr(line, ':', len);
	flen = colon ? (size_t)(colon - line) : len;
	val = colon ? colon + 1 : line + len;
	vlen = len - (size_t)(val - line);
	if (vlen && *val == ' ') {
		val++;
		vlen--;
	}
	if (flen == 4 && !memcmp(line, "data", 4)) {
		if ((p->data.len && buf_append(&p->data, "\n", 1)) || buf_append(&p->data, val, vlen))
			return stream_fail(p, ERR_PROTOCOL, "response too large (one event passed %zu bytes)",
					   p->data.max);
	}
	/* "event:", "id:", "retry:" and unknown fields are ignored, as SSE says. */
	return 0;
}

static int oa_end(struct stream_parser *p, int64_t now_ns)
{
	return p->done ? 0 : oa_dispatch(p, now_ns);
}

static int oa_parse_models(const char *body, char ***models, int *n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_loads(body, 0, &je), *data, *m;
	size_t i, k = 0;
	int rc = -1;

	*models = NULL;
	*n = 0;
	data = json_is_object(o) ? json_object_get(o, "data") : NULL;
	if (!json_is_array(data)) {
		err_set(err, errlen, "the model list is not {\"data\":[...]} JSON: %.80s", body);
		goto out;
	}
	*models = xcalloc(json_array_size(data) + 1, sizeof(char *));
	json_array_foreach(data, i, m) {
		json_t *id = json_object_get(m, "id");
		if (json_is_string(id))
			(*models)[k++] = xstrdup(json_string_value(id));
	}
	*n = (int)k;
	rc = 0;
out:
	json_decref(o);
	return rc;
}

const struct api_ops api_openai = {
	.name = "openai",
	.chat_path = "/v1/chat/completions",
	.models_path = "/v1/models",
	.accept = "text/event-stream",
	.build_body = oa_build_body,
	.line = oa_line,
	.end = oa_end,
	.parse_models = oa_parse_models,
};
