/*
 * client/openai.c - the OpenAI-compatible chat-completions API as served by
 * vLLM, SGLang, llama.cpp server, LM Studio, TGI and hosted APIs: request body,
 * the server-sent-events stream (one JSON chunk per "data:" event, then
 * "data: [DONE]") or one JSON reply ("stream":false), the /v1/models list,
 * detection and the discovery probe. Exports api_openai. See docs/client.md.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/api.h"
#include "client/jscan.h"
#include "client/openai_chunk.h"

/* ---- the request body written directly (what jansson would write, for plain requests) ---- */

/*
 * A JSON string as jansson's dump writes it (no ENSURE_ASCII, no ESCAPE_SLASH:
 * '"', '\\', \b \f \n \r \t, other controls as \u00XX). -1 on a byte >= 0x80:
 * jansson checks UTF-8 there, so such requests take the jansson path.
 */
static int put_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *run;
	char esc[7];

	buf_append(b, "\"", 1);
	for (run = s; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *e = NULL;
		size_t elen = 2;
		if (c >= 0x80)
			return -1;
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\b': e = "\\b"; break;
		case '\f': e = "\\f"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		case '\t': e = "\\t"; break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			e = esc;
			elen = 6;
		}
		buf_append(b, run, (size_t)(s - run));
		buf_append(b, e, elen);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
	buf_append(b, "\"", 1);
	return 0;
}

/* ,"key":  (keys are ASCII literals) */
static void put_key(struct buf *b, const char *key)
{
	buf_append(b, ",\"", 2);
	buf_appends(b, key);
	buf_append(b, "\":", 2);
}

/* A real as jansson writes it at JSON_REAL_PRECISION(15) (its jsonp_dtostr: "%.15g", ".0" when no '.' or 'e', no '+' or leading zeros in the exponent). */
static void put_real(struct buf *b, double v)
{
	char t[64], *e, *start, *end;
	int n = snprintf(t, sizeof t, "%.15g", v);
	size_t len = (size_t)n;

	if (!strchr(t, '.') && !strchr(t, 'e')) {
		memcpy(t + len, ".0", 3);
		len += 2;
	}
	e = strchr(t, 'e');
	if (e) {
		start = e + 1;
		end = start + 1;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - t) + 1);
			len -= (size_t)(end - start);
		}
	}
	buf_append(b, t, len);
}

/*
 * The body oa_build_body's jansson path writes, byte for byte, for a request
 * it can write directly: no extra body, no tool calls, ASCII text. 0, or -1
 * (out untouched) for the jansson path. Saves building and dumping a tree per
 * request (about 30,000 instructions).
 */
static int oa_body_direct(const struct chat_request *req, struct buf *out)
{
	const struct sampling *s = &req->s;
	struct chat_message one[2];
	const struct chat_message *msgs = req->messages;
	size_t n = req->nmessages, i, start = out->len;
	struct chat_request tmp;
	char num[32];

	if (req->extra_body && *req->extra_body)
		return -1;
	if (!n || !msgs) {
		tmp = *req;
		chat_request_set_prompt(&tmp, one, req->s.system, req->prompt);
		msgs = tmp.messages;
		n = tmp.nmessages;
	}
	buf_append(out, "{\"model\":", 9);
	if (put_str(out, req->model ? req->model : ""))
		goto jansson;
	buf_appends(out, ",\"messages\":[");
	for (i = 0; i < n; i++) {
		const struct chat_message *m = &msgs[i];
		if (m->tool_calls_json)
			goto jansson;
		buf_appends(out, i ? ",{\"role\":" : "{\"role\":");
		if (put_str(out, m->role && *m->role ? m->role : "user"))
			goto jansson;
		put_key(out, "content");
		if (!m->content)
			buf_appends(out, "null");
		else if (put_str(out, m->content))
			goto jansson;
		if (m->name) {
			put_key(out, "name");
			if (put_str(out, m->name))
				goto jansson;
		}
		if (m->tool_call_id) {
			put_key(out, "tool_call_id");
			if (put_str(out, m->tool_call_id))
				goto jansson;
		}
		buf_append(out, "}", 1);
	}
	buf_append(out, "]", 1);
	put_key(out, "stream");
	buf_appends(out, req->no_stream ? "false" : "true,\"stream_options\":{\"include_usage\":true}");
	if (s->max_tokens > 0) {
		put_key(out, "max_tokens");
		buf_append(out, num, (size_t)snprintf(num, sizeof num, "%d", s->max_tokens));
	}
	if (isfinite(s->temperature) && s->temperature >= 0) {
		put_key(out, "temperature");
		put_real(out, s->temperature);
	}
	if (isfinite(s->top_p) && s->top_p > 0) {
		put_key(out, "top_p");
		put_real(out, s->top_p);
	}
	if (s->top_k > 0) {
		put_key(out, "top_k");
		buf_append(out, num, (size_t)snprintf(num, sizeof num, "%d", s->top_k));
	}
	if (s->has_seed) {
		put_key(out, "seed");
		buf_append(out, num, (size_t)snprintf(num, sizeof num, "%lld", s->seed));
	}
	if (s->logprobs)
		buf_appends(out, ",\"logprobs\":true");
	buf_append(out, "}", 1);
	return 0;
jansson:
	out->len = start;
	if (out->data)
		out->data[start] = 0;
	return -1;
}

static int oa_build_body(const struct chat_request *req, struct buf *out, char *err, size_t errlen)
{
	const struct sampling *s = &req->s;
	json_t *o, *msgs;

	if (oa_body_direct(req, out) == 0)
		return 0;
	o = json_object();
	msgs = api_messages_json(req, 0, err, errlen);

	if (!msgs) {
		json_decref(o);
		return -1;
	}
	json_object_set_new(o, "model", api_jstr(req->model));
	json_object_set_new(o, "messages", msgs);
	json_object_set_new(o, "stream", json_boolean(!req->no_stream));
	if (!req->no_stream)
		json_object_set_new(o, "stream_options", json_pack("{s:b}", "include_usage", 1));
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
	if (s->logprobs)
		json_object_set_new(o, "logprobs", json_true());
	return api_body_finish(o, req, out, err, errlen);
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

/*
 * choices[0].logprobs: {"content":[{"token":..,"logprob":L,..},..]}. Each
 * element with a numeric logprob counts; null or absent logprobs: nothing
 * recorded (not measured).
 */
static void logprobs_from(struct stream_parser *p, json_t *lp)
{
	json_t *c = json_is_object(lp) ? json_object_get(lp, "content") : NULL, *e, *v;
	double sum = 0;
	long long n = 0;
	size_t i;

	if (!json_is_array(c))
		return;
	json_array_foreach(c, i, e) {
		v = json_is_object(e) ? json_object_get(e, "logprob") : NULL;
		if (json_is_number(v)) {
			sum += json_number_value(v);
			n++;
		}
	}
	stream_logprobs(p, sum, n);
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
		secret_excerpt(msg, sizeof msg, data, len, 60);
		rc = stream_fail(p, ERR_PROTOCOL, "malformed JSON in a stream event (%s): %s",
				 o ? "not an object" : je.text, msg);
		goto out;
	}
	e = json_object_get(o, "error");
	v = json_object_get(o, "object");
	if ((e && !json_is_null(e)) || (json_is_string(v) && !strcmp(json_string_value(v), "error"))) {
		api_error_message(data, len, msg, sizeof msg);
		rc = stream_fail(p, ERR_SERVER, "the server reported an error mid-stream: %s", msg);
		goto out;
	}
	p->nslow++;
	mod = jtext(o, "model", &mlen);
	if (mod)
		stream_model(p, mod, mlen);
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
		logprobs_from(p, json_object_get(c0, "logprobs"));
	}
	usage_from(p, json_object_get(o, "usage"));
out:
	json_decref(o);
	return rc;
}

/* ---- the fast path: one chunk read in place (client/jscan.h) ---------------- */

/* The keys of struct oa_msg's strings, in its order (client/openai_chunk.h). */
static const struct jkey msg_keys[NMSG] = {JKEY("content"), JKEY("reasoning_content"), JKEY("reasoning")};

static void fast_msg(struct jscan *j, struct oa_msg *m)
{
	m->is_object = jscan_string_members(j, msg_keys, m->s, NMSG);
}

/* One element of logprobs.content: its "logprob" (other members, top_logprobs included, skipped). */
static void fast_lp_token(struct jscan *j, struct oa_fields *f)
{
	const char *k;
	size_t kl;
	unsigned seen = 0;
	int first = 1;
	struct jreal r = {0};

	if (jscan_peek(j) != '{') {
		jscan_skip(j);
		return;
	}
	jscan_object_begin(j);
	while (jscan_member(j, &first, &k, &kl)) {
		if (jscan_key_is(k, kl, "logprob") && jscan_once(j, &seen, 1))
			jscan_real(j, &r);
		else
			jscan_skip(j);
	}
	if (r.set) {
		f->lp_sum += r.v;
		f->lp_n++;
	}
}

static void fast_logprobs(struct jscan *j, struct oa_fields *f)
{
	const char *k;
	size_t kl;
	unsigned seen = 0;
	int first = 1, afirst = 1;

	if (jscan_peek(j) != '{') {
		jscan_skip(j);
		return;
	}
	jscan_object_begin(j);
	while (jscan_member(j, &first, &k, &kl)) {
		if (jscan_key_is(k, kl, "content") && jscan_once(j, &seen, 1) && jscan_peek(j) == '[') {
			f->lp_array = 1;
			jscan_array_begin(j);
			while (jscan_array_next(j, &afirst))
				fast_lp_token(j, f);
		} else {
			jscan_skip(j);
		}
	}
}

static void fast_choice0(struct jscan *j, struct oa_fields *f)
{
	const char *k;
	size_t kl;
	unsigned seen = 0;
	int first = 1;

	if (jscan_peek(j) != '{') {
		jscan_skip(j);
		return;
	}
	f->c0_object = 1;
	jscan_object_begin(j);
	while (jscan_member(j, &first, &k, &kl)) {
		if (jscan_key_is(k, kl, "delta") && jscan_once(j, &seen, 1))
			fast_msg(j, &f->delta);
		else if (jscan_key_is(k, kl, "message") && jscan_once(j, &seen, 2))
			fast_msg(j, &f->message);
		else if (jscan_key_is(k, kl, "finish_reason") && jscan_once(j, &seen, 4))
			jscan_string_or_skip(j, &f->finish);
		else if (jscan_key_is(k, kl, "logprobs") && jscan_once(j, &seen, 8))
			fast_logprobs(j, f);
		else
			jscan_skip(j);
	}
}

static void fast_choices(struct jscan *j, struct oa_fields *f)
{
	int first = 1, i = 0;

	if (jscan_peek(j) != '[') {
		jscan_skip(j);
		return;
	}
	f->choices_array = 1;
	jscan_array_begin(j);
	while (jscan_array_next(j, &first)) {
		if (i++ == 0)
			fast_choice0(j, f);
		else
			jscan_skip(j);
	}
}

static void fast_details(struct jscan *j, struct oa_fields *f)
{
	static const struct jkey keys[] = {JKEY("reasoning_tokens")};
	jscan_int_members(j, keys, &f->reasoning, 1);
}

static void fast_usage(struct jscan *j, struct oa_fields *f)
{
	const char *k;
	size_t kl;
	unsigned seen = 0;
	int first = 1;

	if (jscan_peek(j) != '{') {
		jscan_skip(j);
		return;
	}
	jscan_object_begin(j);
	while (jscan_member(j, &first, &k, &kl)) {
		if (jscan_key_is(k, kl, "prompt_tokens") && jscan_once(j, &seen, 1))
			jscan_int(j, &f->prompt);
		else if (jscan_key_is(k, kl, "completion_tokens") && jscan_once(j, &seen, 2))
			jscan_int(j, &f->completion);
		else if (jscan_key_is(k, kl, "completion_tokens_details") && jscan_once(j, &seen, 4))
			fast_details(j, f);
		else
			jscan_skip(j);
	}
}

/*
 * Reads a chunk's top level into f, and makes it the stream's template when
 * it was read whole. 0, or -1 when jansson must read it (errors included).
 */
static int fast_scan(const char *data, size_t len, char **scratch, size_t *scratch_cap, struct oa_fields *f)
{
	struct jscan j;
	struct jstr obj = {0};
	const char *k;
	size_t kl;
	unsigned seen = 0;
	int first = 1;

	memset(f, 0, sizeof *f);
	if (jscan_begin(&j, data, len, scratch, scratch_cap))
		return -1;
	jscan_record(&j, f, sizeof *f);
	while (jscan_member(&j, &first, &k, &kl)) {
		if (jscan_key_is(k, kl, "error")) {
			if (jscan_peek(&j) == 'n')
				jscan_skip(&j);
			else
				j.bad = 1;   /* an error object: jansson reads it for the message */
		} else if (jscan_key_is(k, kl, "object") && jscan_once(&j, &seen, 1)) {
			if (jscan_peek(&j) == '"')
				jscan_string_fixed(&j, &obj);   /* literal in the template: "error" decides */
			else
				jscan_skip(&j);
			if (obj.set && jscan_key_is(obj.s, obj.len, "error"))
				j.bad = 1;
		} else if (jscan_key_is(k, kl, "model") && jscan_once(&j, &seen, 2)) {
			jscan_string_or_skip(&j, &f->model);
		} else if (jscan_key_is(k, kl, "x_server_t_ns") && jscan_once(&j, &seen, 4)) {
			jscan_int(&j, &f->server_t);
		} else if (jscan_key_is(k, kl, "choices") && jscan_once(&j, &seen, 8)) {
			fast_choices(&j, f);
		} else if (jscan_key_is(k, kl, "usage") && jscan_once(&j, &seen, 16)) {
			fast_usage(&j, f);
		} else {
			jscan_skip(&j);
		}
	}
	if (jscan_end(&j))
		return -1;
	jscan_keep(&j);
	return 0;
}

const struct oa_fields *oa_chunk_fields(const char *data, size_t len, char **scratch, size_t *scratch_cap,
					struct oa_fields *buf)
{
	const struct oa_fields *f = jscan_replay(data, len, scratch, scratch_cap, sizeof *buf);
	if (f)
		return f;
	return fast_scan(data, len, scratch, scratch_cap, buf) ? NULL : buf;
}

static void count_set(long long *dst, enum count_src *src, const struct jint *v)
{
	if (v->set) {
		*dst = v->v;
		*src = COUNT_SERVER;
	}
}

/*
 * A chunk on the fast path: what oa_chunk records, read without a tree. 0 or
 * -1 (after stream_fail) when taken, 1 when it must go to oa_chunk.
 */
static int oa_chunk_fast(struct stream_parser *p, const char *data, size_t len, int64_t now_ns)
{
	struct chat_result *r = p->res;
	struct oa_fields scanned;
	const struct oa_fields *f = oa_chunk_fields(data, len, &p->scratch, &p->scratch_cap, &scanned);
	const struct oa_msg *m;
	const struct jstr *th = NULL;

	if (!f)
		return 1;
	p->nfast++;
	if (f->model.set)
		stream_model(p, f->model.s, f->model.len);
	if (f->choices_array && f->c0_object) {
		m = f->delta.is_object ? &f->delta : f->message.is_object ? &f->message : NULL;
		if (m)
			th = m->s[MSG_REASONING_CONTENT].set ? &m->s[MSG_REASONING_CONTENT]
			   : m->s[MSG_REASONING].set ? &m->s[MSG_REASONING] : NULL;
		if (m && (m->s[MSG_CONTENT].len || (th && th->len)) &&
		    stream_output(p, m->s[MSG_CONTENT].s, m->s[MSG_CONTENT].len, th ? th->s : NULL, th ? th->len : 0,
				  f->server_t.set ? (int64_t)f->server_t.v : 0, now_ns))
			return -1;
		if (f->finish.set) {
			jstr_copy(&f->finish, r->finish_reason, sizeof r->finish_reason);
			p->finished = 1;
		}
		if (f->lp_array)
			stream_logprobs(p, f->lp_sum, f->lp_n);
	}
	count_set(&r->prompt_tokens, &r->prompt_src, &f->prompt);
	count_set(&r->completion_tokens, &r->completion_src, &f->completion);
	count_set(&r->reasoning_tokens, &r->reasoning_src, &f->reasoning);
	return 0;
}

static int oa_dispatch(struct stream_parser *p, int64_t now_ns)
{
	int rc = 0;
	if (p->data.len == 0)
		return 0;
	if (p->data.len == 6 && !memcmp(p->data.data, "[DONE]", 6))
		p->done = 1;
	else if (p->no_fast || (rc = oa_chunk_fast(p, p->data.data, p->data.len, now_ns)) == 1)
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
		/* the line may lie in the read buffer, unterminated: up to its first NUL, as strstr would */
		if (memmem(line, strnlen(line, len), "\"error\"", 7)) {
			api_error_message(line, len, msg, sizeof msg);
			return stream_fail(p, ERR_SERVER, "the server reported an error: %s", msg);
		}
		secret_excerpt(msg, sizeof msg, line, len, 60);
		return stream_fail(p, ERR_PROTOCOL,
				   "expected server-sent events (\"data: ...\" lines) but got JSON: %s", msg);
	}
	colon = len >= 5 && !memcmp(line, "data:", 5) ? line + 4 : memchr(line, ':', len);   /* the usual line first */
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
		char ex[128];
		secret_excerpt(ex, sizeof ex, body, strlen(body), 80);
		err_set(err, errlen, "the model list is not {\"data\":[...]} JSON: %s", ex);
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

/* A whole "stream":false reply: {"choices":[{"message":{...},"finish_reason"}],"usage":{...}}. */
static int oa_parse_whole(struct stream_parser *p, const char *body, size_t len, int64_t now_ns)
{
	json_error_t je;
	json_t *o = json_loadb(body, len, JSON_ALLOW_NUL, &je), *tc;
	char ex[128];
	int rc;

	secret_excerpt(ex, sizeof ex, body, len, 60);
	if (!json_is_object(o)) {
		rc = stream_fail(p, ERR_PROTOCOL, "the reply is not a JSON object (%s): %s",
				 o ? "another JSON value" : je.text, ex);
		goto out;
	}
	if (!json_is_array(json_object_get(o, "choices")) && !json_object_get(o, "error")) {
		rc = stream_fail(p, ERR_PROTOCOL, "the reply has no \"choices\": %s", ex);
		goto out;
	}
	rc = oa_chunk(p, body, len, now_ns);
	tc = json_object_get(json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message"),
			     "tool_calls");
	if (!rc && json_is_array(tc) && json_array_size(tc))
		p->res->tool_calls_json = json_dumps(tc, JSON_COMPACT);
	if (!rc)
		p->done = 1;
out:
	json_decref(o);
	return rc;
}

/* Anything that answers GET /v1/models at all speaks the OpenAI API (detection tries it last). */
static int oa_detect(const char *base, const char *key, char *why, size_t whylen)
{
	struct buf body;
	char *url = xasprintf("%s/v1/models", base);
	long status = 0;
	int yes;

	buf_init(&body, 16u << 20);
	yes = api_http_get(url, key, 5000, &body, &status, why, whylen) == 0 && status;
	free(url);
	buf_release(&body);
	return yes;
}

/* The engine named by an OpenAI model entry's owned_by, or NULL. */
static const char *engine_from_owner(const char *body)
{
	static const char *const map[][2] = {
		{"vllm", "vllm"}, {"sglang", "sglang"}, {"llamacpp", "llama.cpp"}, {"llama.cpp", "llama.cpp"},
		{"library", "ollama"}, {"ollama", "ollama"},
	};
	json_error_t je;
	json_t *o = json_loads(body, 0, &je), *d, *m, *ob;
	const char *e = NULL;
	size_t i;

	d = json_is_object(o) ? json_object_get(o, "data") : NULL;
	m = json_is_array(d) ? json_array_get(d, 0) : NULL;
	ob = json_is_object(m) ? json_object_get(m, "owned_by") : NULL;
	for (i = 0; json_is_string(ob) && i < sizeof map / sizeof map[0]; i++)
		if (!strcmp(json_string_value(ob), map[i][0]))
			e = map[i][1];
	json_decref(o);
	return e;
}

/* A model list, or a refusal for want of a key; any other web server on the port is not ours. */
static int oa_probe(const char *url, const char *key, const char *engine_hint, struct discovered *d)
{
	struct buf body;
	char cerr[256], *u = xasprintf("%s/v1/models", url), **models = NULL;
	const char *eng = NULL;
	long status = 0;
	int n, found = 0;

	buf_init(&body, 16u << 20);
	if (api_http_get(u, key, 300, &body, &status, cerr, sizeof cerr) < 0)
		goto out;
	if (api_is_2xx(status) && oa_parse_models(body.data, &models, &n, NULL, 0) == 0) {
		if (n > 0)
			snprintf(d->model, sizeof d->model, "%s", models[0]);
		eng = engine_from_owner(body.data);
		found = 1;
	} else if (status == 401 || status == 403) {
		found = 1;
	}
	if (found)
		snprintf(d->engine, sizeof d->engine, "%s", eng ? eng : engine_hint);
out:
	free_list(models);
	free(u);
	buf_release(&body);
	return found;
}

static const struct http_wire oa_wire = {
	.chat_path = "/v1/chat/completions",
	.models_path = "/v1/models",
	.health_path = "/health",
	.accept = "text/event-stream",
	.end_marker = "finish_reason or [DONE]",
	.build_body = oa_build_body,
	.line = oa_line,
	.end = oa_end,
	.parse_whole = oa_parse_whole,
	.parse_models = oa_parse_models,
};

const struct api_backend api_openai = {
	.name = "openai",
	.summary = "OpenAI chat completions (vLLM, SGLang, llama.cpp, LM Studio, TGI, hosted APIs)",
	.detect = oa_detect,
	.probe = oa_probe,
	.wire = &oa_wire,
};
