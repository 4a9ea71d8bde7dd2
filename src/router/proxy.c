/*
 * router/proxy.c - one routed request on the loop: its upstream attempts
 * (libcurl easy handles in the server's multi), retries and fallback before
 * any byte reached the client, the cascade's held first answer and its
 * verifier, the SSE pass-through with the closing "ipw" comment, the reply
 * queued on the client's connection, and the accounting once it ends.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "client/jscan.h"
#include "client/openai_chunk.h"
#include "clock.h"
#include "router/server_internal.h"

#define OUT_HIGH (256 * 1024)
#define WHOLE_MAX (16 * 1024 * 1024)
#define ANSWER_MAX (256 * 1024)
#define LINE_MAX_BYTES (4 * 1024 * 1024)

static double now_s(void)
{
	return clock_now_ns() / 1e9;
}

struct rreq *rreq_new(struct rloop *lp, struct MHD_Connection *con)
{
	struct router_server *s = lp->srv;
	struct rreq *r = xcalloc(1, sizeof(*r));
	r->con = con;
	r->srv = s;
	r->lp = lp;
	r->pub_slot = -1;
	snprintf(r->id, sizeof(r->id), "r%llx-%llu", (unsigned long long)clock_wall_s(),
		 __atomic_add_fetch(&s->next_id, 1, __ATOMIC_RELAXED));
	buf_init(&r->body, (size_t)s->c->max_body);
	buf_init(&r->line, LINE_MAX_BYTES);
	buf_init(&r->out, 0);
	buf_init(&r->held, 0);
	buf_init(&r->whole, WHOLE_MAX);
	buf_init(&r->answer, ANSWER_MAX);
	buf_init(&r->kept, 0);
	r->kept_att = r->ans_att = -1;
	r->t_recv_s = now_s();
	__atomic_add_fetch(&lp->nrequests, 1, __ATOMIC_RELAXED);
	r->next = lp->active;
	if (lp->active)
		lp->active->prev = r;
	lp->active = r;
	lp->nactive++;
	return r;
}

static void resume(struct router_server *s, struct rreq *r)
{
	(void)s;
	if (!r->suspended)
		return;
	r->suspended = 0;
	r->lp->nsuspended--;
	MHD_resume_connection(r->con);
	r->lp->kick = 1;
}

/* Appends text to the client's bytes (or the cascade's held bytes), scrubbed of secrets. */
static void emit(struct rreq *r, const char *p, size_t n)
{
	size_t sl;
	char *clean = secret_scrub(p, n, &sl);
	buf_append(r->hold ? &r->held : &r->out, clean ? clean : p, clean ? sl : n);
	free(clean);
}

static int retryable(const struct attempt *a)
{
	return a->curl_rc != CURLE_OK || a->status == 429 || a->status >= 500;
}

/* ---- the record of a request ---- */

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* The attempt whose answer the client gets: the last, or the cascade's kept first answer. */
static const struct attempt *answering(const struct rreq *r)
{
	return r->ans_att >= 0 ? &r->att[r->ans_att] : r->natt ? &r->att[r->natt - 1] : NULL;
}

/*
 * The request's totals from its attempts' records: energy (measured and
 * estimated parts, the method, whether some is still pending) and cost.
 * An attempt that never reached a tier (connect) or that failed (a measured
 * attempt the rule charges nothing: "not attributed") adds nothing.
 */
static void rec_totals(json_t *rec)
{
	json_t *atts = json_object_get(rec, "attempts"), *a;
	double e = 0, em = 0, ee = 0, cost = 0;
	long long pt = 0, ct = 0;
	int e_known = 1, c_known = 1, nm = 0, ne = 0, pending = 0;
	size_t i;
	json_array_foreach(atts, i, a) {
		const char *st = json_string_value(json_object_get(a, "energy_status"));
		const char *meth = json_string_value(json_object_get(a, "energy_method"));
		json_t *ej = json_object_get(a, "energy_j");
		if (!strcmp(json_string_value(json_object_get(a, "outcome")), "connect"))
			continue; /* nothing was computed upstream */
		pt += json_integer_value(json_object_get(a, "prompt_tokens"));
		ct += json_integer_value(json_object_get(a, "completion_tokens"));
		if (json_is_number(json_object_get(a, "cost_usd")))
			cost += json_number_value(json_object_get(a, "cost_usd"));
		else
			c_known = 0;
		if (st && !strcmp(st, "not attributed"))
			continue;
		if (st && !strcmp(st, "pending"))
			pending = 1;
		if (json_is_number(ej)) {
			e += json_number_value(ej);
			if (meth && !strcmp(meth, "measured"))
				em += json_number_value(ej), nm++;
			else
				ee += json_number_value(ej), ne++;
		} else {
			e_known = 0;
		}
	}
	json_object_set_new(rec, "prompt_tokens", json_integer(pt));
	json_object_set_new(rec, "completion_tokens", json_integer(ct));
	json_object_set_new(rec, "energy_j", e_known && !pending && (nm || ne) ? json_real(e) : json_null());
	json_object_set_new(rec, "energy_measured_j", nm && e_known && !pending ? json_real(em) : json_null());
	json_object_set_new(rec, "energy_estimated_j", ne && e_known && !pending ? json_real(ee) : json_null());
	json_object_set_new(rec, "energy_method", pending ? json_string("measured") : !(nm || ne) || !e_known ? json_null()
			    : json_string(nm && ne ? "measured+estimated" : nm ? "measured" : "estimated"));
	json_object_set_new(rec, "energy_status", json_string(pending ? "pending" : e_known ? "final" : "unknown"));
	json_object_set_new(rec, "cost_usd", c_known && json_array_size(atts) ? json_real(cost) : json_null());
}

static const char *meter_status_name(enum meter_status st)
{
	return st == METER_PENDING ? "pending" : st == METER_MEASURED ? "measured"
		: st == METER_NOT_COVERED ? "not covered" : "not attributed";
}

/* The request's record: decision, tokens, latency, energy and cost of every attempt (owned by the caller). */
json_t *rreq_record(struct router_server *s, const struct rreq *r, const char *outcome)
{
	const struct attempt *last = answering(r);
	json_t *atts = json_array(), *rec;
	for (int i = 0; i < r->natt; i++) {
		const struct attempt *a = &r->att[i];
		json_t *o = json_pack("{s:s,s:s,s:I,s:o,s:o,s:o,s:o,s:o}", "tier", s->c->tiers[a->tier].name, "outcome",
				      a->outcome, "http_status", (json_int_t)a->status, "prompt_tokens",
				      a->prompt_tokens >= 0 ? json_integer(a->prompt_tokens) : json_null(),
				      "completion_tokens",
				      a->completion_tokens >= 0 ? json_integer(a->completion_tokens) : json_null(),
				      "e2e_s", num_or_null(a->t_end_s - a->t_send_s), "energy_j", num_or_null(a->energy_j),
				      "cost_usd", num_or_null(a->cost_usd));
		if (a->win) {
			json_object_set_new(o, "energy_method", json_string("measured"));
			json_object_set_new(o, "energy_status", json_string("pending"));
			json_object_set_new(o, "energy_j", json_null());
		} else if (isfinite(a->energy_j)) {
			json_object_set_new(o, "energy_method", json_string("estimated"));
		}
		json_array_append_new(atts, o);
	}
	rec = json_pack("{s:s,s:s?,s:s,s:s?,s:s?,s:s,s:o,s:o,s:b,s:b,s:s,s:o,s:o,s:o}",
			"request_id", r->id, "item_id", r->item_id, "policy", r->policy_name ? r->policy_name : "",
			"tier", last ? s->c->tiers[last->tier].name : NULL,
			"model", last ? s->c->tiers[last->tier].model : NULL, "reason", r->d.reason,
			"predicted", num_or_null(r->d.predicted), "threshold", num_or_null(r->d.threshold),
			"stream", r->stream, "local_only", r->local_only, "outcome", outcome,
			"ttft_s", num_or_null(last && last->t_first_s > 0 ? last->t_first_s - r->t_recv_s : NAN),
			"e2e_s", num_or_null(last ? last->t_end_s - r->t_recv_s : NAN), "attempts", atts);
	if (r->lp_check[0])
		json_object_set_new(rec, "logprob_check", json_string(r->lp_check));
	if (r->ans_att >= 0)
		json_object_set_new(rec, "verified", json_false()); /* the cascade's escalation failed */
	if (r->refused) /* refused before any attempt: why, in the client's words */
		json_object_set_new(rec, "error", json_string(r->errmsg));
	rec_totals(rec);
	return rec;
}

/* ---- attempts ---- */

static void attempt_costs(struct router_server *s, struct attempt *a)
{
	const struct router_tier *t = &s->c->tiers[a->tier];
	a->energy_j = !a->win && isfinite(t->j_per_token) && a->completion_tokens >= 0
			      ? t->j_per_token * a->completion_tokens : NAN;
	a->cost_usd = a->prompt_tokens >= 0 && a->completion_tokens >= 0
			      ? (t->price_in * a->prompt_tokens + t->price_out * a->completion_tokens) / 1e6 : NAN;
}

/* The recent-latency estimate: an EWMA of weight 0.3 (the first value as is). */
static void ewma_add(double *e, double v)
{
	*e = isfinite(*e) ? 0.7 * *e + 0.3 * v : v;
}

static void attempt_count(struct router_server *s, const struct rreq *r, const struct attempt *a,
			  struct tier_stats *ts, const char *outcome);

/* The attempt ended (any way): its tier's counters. */
static void attempt_close(struct router_server *s, struct rreq *r, struct attempt *a, const char *outcome)
{
	struct tier_stats *ts = &s->tier_stats[a->tier];
	if (a->t_end_s <= 0)
		a->t_end_s = now_s();
	snprintf(a->outcome, sizeof(a->outcome), "%s", outcome);
	attempt_costs(s, a);
	if (a->win)
		router_meter_end(s->meter, a->win, !strcmp(outcome, "ok") || !strcmp(outcome, "rejected"),
				 a->prompt_tokens);
	pthread_mutex_lock(&s->mu);
	attempt_count(s, r, a, ts, outcome);
	pthread_mutex_unlock(&s->mu);
}

/* attempt_close's part under s->mu: the tier's counters, latency estimates and the client's budget. */
static void attempt_count(struct router_server *s, const struct rreq *r, const struct attempt *a,
			  struct tier_stats *ts, const char *outcome)
{
	ts->inflight--;
	if (!strcmp(outcome, "ok") || !strcmp(outcome, "rejected") || !strcmp(outcome, "http_4xx"))
		ts->ok++;
	else if (!strcmp(outcome, "cancelled"))
		ts->cancelled++;
	else
		ts->failed++;
	if (a->prompt_tokens > 0)
		ts->prompt_tokens += (unsigned long long)a->prompt_tokens;
	if (a->completion_tokens > 0)
		ts->completion_tokens += (unsigned long long)a->completion_tokens;
	if (isfinite(a->energy_j)) {
		ts->energy_j += a->energy_j;
		ts->energy_n++;
	}
	if (isfinite(a->cost_usd)) {
		ts->cost_usd += a->cost_usd;
		struct budget_slot *b = s->c->tiers[a->tier].cloud ? budget_find(s, r->budget_key, 0) : NULL;
		if (b) /* found by key: a slot given to another client since is not charged */
			b->spent += a->cost_usd;
	}
	if (!strcmp(outcome, "ok") || !strcmp(outcome, "rejected")) {
		double ttft = (a->t_first_s > 0 ? a->t_first_s : a->t_end_s) - a->t_send_s;
		hist_add(&ts->ttft, ttft);
		hist_add(&ts->e2e, a->t_end_s - a->t_send_s);
		ewma_add(&ts->ttft_ewma_s, ttft);
		ewma_add(&ts->e2e_ewma_s, a->t_end_s - a->t_send_s);
	} else if (strcmp(outcome, "cancelled") && strcmp(outcome, "http_4xx")) {
		/*
		 * A failed attempt says the tier is at least this slow: a timeout counts
		 * as at least the tier's timeout (TTFT too when no token came); another
		 * failure (refused, reset, 429, 5xx) only when slower than the estimate,
		 * so a fast failure never makes a tier look faster.
		 */
		double e2e = a->t_end_s - a->t_send_s, ttft = a->t_first_s > 0 ? a->t_first_s - a->t_send_s : e2e;
		if (a->curl_rc == CURLE_OPERATION_TIMEDOUT) {
			double to = s->c->tiers[a->tier].timeout_s;
			e2e = e2e > to ? e2e : to;
			if (a->t_first_s <= 0)
				ttft = e2e;
			ewma_add(&ts->ttft_ewma_s, ttft);
			ewma_add(&ts->e2e_ewma_s, e2e);
		} else {
			if (!(ttft <= ts->ttft_ewma_s))
				ewma_add(&ts->ttft_ewma_s, ttft);
			if (!(e2e <= ts->e2e_ewma_s))
				ewma_add(&ts->e2e_ewma_s, e2e);
		}
	}
}

static void easy_drop(struct router_server *s, struct rreq *r)
{
	(void)s;
	if (!r->easy)
		return;
	curl_multi_remove_handle(r->lp->multi, r->easy);
	if (r->lp->nfree_easy < EASY_KEEP) { /* kept for the loop's next attempt: no init, no new buffers */
		curl_easy_reset(r->easy);
		r->lp->free_easy[r->lp->nfree_easy++] = r->easy;
	} else {
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	free(r->up_body);
	r->easy = NULL;
	r->hdrs = NULL;
	r->up_body = NULL;
}

static void usage_from(struct attempt *a, json_t *o)
{
	json_t *u = json_object_get(o, "usage");
	if (json_is_integer(json_object_get(u, "prompt_tokens")))
		a->prompt_tokens = json_integer_value(json_object_get(u, "prompt_tokens"));
	if (json_is_integer(json_object_get(u, "completion_tokens")))
		a->completion_tokens = json_integer_value(json_object_get(u, "completion_tokens"));
}

static void emit_record(struct router_server *s, struct rreq *r);
static void defer_push(struct rloop *lp, struct rreq *r, enum rdefer kind);
static void defer_unlink(struct rloop *lp, struct rreq *r);
static void defer_run(struct rloop *lp, struct rreq *r);

/* The closing SSE comment: the request's record as it stands at the upstream's end. */
static void emit_comment(struct router_server *s, struct rreq *r)
{
	struct attempt *a = &r->att[r->natt - 1];
	a->t_end_s = now_s();
	attempt_costs(s, a);
	snprintf(a->outcome, sizeof(a->outcome), "ok");
	emit_record(s, r);
}

/* The closing comment carries the record, which is published with it (the reply ends after it). */
static void emit_record(struct router_server *s, struct rreq *r)
{
	json_t *rec;
	char *text;
	rec = rreq_record(s, r, "ok");
	text = json_dumps(rec, JSON_COMPACT);
	if (text) {
		emit(r, ": ipw ", 6);
		emit(r, text, strlen(text));
		emit(r, "\n\n", 2);
		free(text);
	}
	rreq_publish(s, r, rec, "ok");
}

/* Adds a choice's "logprobs".content[].logprob values (OpenAI) to the attempt's statistics. */
static void logprobs_add(struct rreq *r, json_t *choice)
{
	json_t *arr = json_object_get(json_object_get(choice, "logprobs"), "content"), *e;
	size_t i;
	json_array_foreach(arr, i, e) {
		json_t *v = json_object_get(e, "logprob");
		double x;
		if (!json_is_number(v))
			continue;
		x = json_number_value(v);
		r->lp_sum += x;
		r->lp_min = r->lp_n && r->lp_min < x ? r->lp_min : x;
		r->lp_n++;
	}
}

/* An event's output text and counts, as sse_line's jansson branch records them. */
static void up_record(struct router_server *s, struct rreq *r, struct attempt *a, const char *c, size_t cn,
		      const struct jint usage[2])
{
	if (cn) {
		if (a->t_first_s <= 0) {
			a->t_first_s = now_s();
			if (a->win)
				router_meter_first(s->meter, a->win);
		}
		buf_append(&r->answer, c, cn);
	}
	if (usage[0].set)
		a->prompt_tokens = usage[0].v;
	if (usage[1].set)
		a->completion_tokens = usage[1].v;
}

static void sse_line(struct router_server *s, struct rreq *r, const char *l, size_t n)
{
	struct attempt *a = &r->att[r->natt - 1];
	if (r->defer == DEFER_DONE)
		return; /* after [DONE] (its blank line): the closing comment and [DONE] follow (defer_run) */
	if (n >= 5 && !strncmp(l, "data:", 5)) {
		const char *p = l + 5;
		size_t pn = n - 5;
		while (pn && *p == ' ')
			p++, pn--;
		if (pn == 6 && !strncmp(p, "[DONE]", 6)) {
			r->done_seen = 1;
			if (r->hold)
				return; /* the cascade closes the stream after its check (cascade_check) */
			/* the answer is complete: its record and the closing bytes wait for the loop */
			a->t_end_s = now_s();
			attempt_costs(s, a);
			snprintf(a->outcome, sizeof(a->outcome), "ok");
			defer_push(r->lp, r, DEFER_DONE);
			return;
		} else {
			/* outside the cascade's first stage (whose check reads the log-probabilities with
			   jansson) the event is read on the client's fast path: choices[0].delta.content and
			   usage's counts, in place, the stream's later events by its template */
			struct oa_fields sc;
			const struct oa_fields *f =
				r->hold ? NULL : oa_chunk_fields(p, pn, &r->scratch, &r->scratch_cap, &sc);
			if (f) {
				const struct jstr *c = f->choices_array && f->c0_object && f->delta.is_object
					? &f->delta.s[MSG_CONTENT] : NULL;
				const struct jint u[2] = {f->prompt, f->completion};
				up_record(s, r, a, c && c->set ? c->s : NULL, c && c->set ? c->len : 0, u);
			} else {
				json_t *o = json_loadb(p, pn, 0, NULL);
				json_t *delta = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "delta");
				json_t *c = json_object_get(delta, "content");
				struct jint u[2] = {{0, 0}, {0, 0}};
				json_t *uo = json_object_get(o, "usage");
				if (r->hold)
					logprobs_add(r, json_array_get(json_object_get(o, "choices"), 0));
				if (json_is_integer(json_object_get(uo, "prompt_tokens")))
					u[0] = (struct jint){json_integer_value(json_object_get(uo, "prompt_tokens")), 1};
				if (json_is_integer(json_object_get(uo, "completion_tokens")))
					u[1] = (struct jint){json_integer_value(json_object_get(uo, "completion_tokens")), 1};
				up_record(s, r, a, json_is_string(c) ? json_string_value(c) : NULL,
					  json_is_string(c) ? json_string_length(c) : 0, u);
				json_decref(o);
			}
		}
	}
	emit(r, l, n);
	buf_append(r->hold ? &r->held : &r->out, "\n", 1);
}

static void sse_feed(struct router_server *s, struct rreq *r, const char *p, size_t n)
{
	char *nl;
	if (buf_append(&r->line, p, n) < 0)
		return; /* a line past 4 MiB: dropped, the stream goes on */
	while ((nl = memchr(r->line.data, '\n', r->line.len))) {
		size_t ln = (size_t)(nl - r->line.data);
		sse_line(s, r, r->line.data, ln && r->line.data[ln - 1] == '\r' ? ln - 1 : ln);
		buf_consume(&r->line, ln + 1);
	}
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct rreq *r = arg;
	struct attempt *a = &r->att[r->natt - 1];
	size_t n = size * nmemb;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &a->status);
	if (a->status != 200 || !r->stream) {
		if (buf_append(&r->whole, p, n) < 0)
			return 0; /* too large: abort this attempt */
		return n;
	}
	if (!r->hold && r->out.len > OUT_HIGH) {
		r->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	sse_feed(r->srv, r, p, n);
	if (!r->hold && !r->committed) {
		r->committed = 1;
	}
	if (!r->hold)
		resume(r->srv, r);
	return n;
}

/*
 * A client's stream_options value v[0..n) for a streamed request: its members
 * but include_usage appended to out (with commas); the number appended, or -1
 * outside the scanner's subset. A value that is not an object adds none (it
 * is replaced, as jansson's path replaces it).
 */
static int stream_options_members(const char *v, size_t n, struct buf *out)
{
	struct jscan j;
	char *scratch = NULL;
	size_t cap = 0, klen;
	const char *key;
	int first = 1, cnt = 0;
	while (n && (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r'))
		v++, n--;
	if (!n || *v != '{')
		return 0;
	if (jscan_begin(&j, v, n, &scratch, &cap) == 0)
		while (jscan_member(&j, &first, &key, &klen)) {
			const char *m = key - 1;
			jscan_skip(&j);
			if (j.bad || jscan_key_is(key, klen, "include_usage"))
				continue;
			if (cnt++)
				buf_append(out, ",", 1);
			buf_append(out, m, (size_t)(j.p - m));
		}
	free(scratch);
	return j.bad || jscan_end(&j) ? -1 : cnt;
}

/*
 * The body sent upstream, from the client's text where the scanner can
 * (client/jscan.h): every top-level member as the client sent it, in its
 * order, but "model", "stream", "ipw" (and "logprobs" when the cascade asks
 * for them; "stream_options" when streamed, its members kept), then those the
 * router sets. NULL (the caller builds it with jansson) for text outside the
 * scanner's subset, or one of those keys given twice (jansson keeps the last).
 */
static char *upstream_body_text(const struct rreq *r, const char *model_json, int want_lp)
{
	struct jscan j;
	char *scratch = NULL, *text = NULL;
	size_t cap = 0, klen;
	const char *key;
	const char *so = NULL;
	size_t so_len = 0;
	int first = 1, n = 0;
	unsigned seen = 0;
	struct buf b;
	buf_init(&b, 0);
	if (jscan_begin(&j, r->body.data, r->body.len, &scratch, &cap) == 0) {
		buf_append(&b, "{", 1);
		while (jscan_member(&j, &first, &key, &klen)) {
			const char *m = key - 1; /* its opening quote: a key with an escape is outside the subset */
			unsigned k = jscan_key_is(key, klen, "model") ? 1 : jscan_key_is(key, klen, "stream") ? 2
				     : jscan_key_is(key, klen, "ipw") ? 4 : jscan_key_is(key, klen, "logprobs") ? 8
				     : jscan_key_is(key, klen, "stream_options") ? 16 : 0;
			if (k && !jscan_once(&j, &seen, k))
				break;
			if (k == 16)
				so = j.p;
			jscan_skip(&j);
			if (j.bad)
				break;
			if (k == 16)
				so_len = (size_t)(j.p - so);
			if (k && (k != 8 || want_lp) && (k != 16 || r->stream))
				continue;
			if (n++)
				buf_append(&b, ",", 1);
			buf_append(&b, m, (size_t)(j.p - m));
		}
		if (!j.bad && jscan_end(&j) == 0) {
			int kept = 0;
			buf_appendf(&b, "%s\"model\":%s,\"stream\":%s", n ? "," : "", model_json, r->stream ? "true" : "false");
			if (r->stream) {
				buf_appends(&b, ",\"stream_options\":{");
				kept = so ? stream_options_members(so, so_len, &b) : 0;
				buf_appendf(&b, "%s\"include_usage\":true}", kept > 0 ? "," : "");
			}
			buf_appendf(&b, "%s}", want_lp ? ",\"logprobs\":true" : "");
			if (kept >= 0)
				text = buf_detach(&b);
		}
	}
	buf_release(&b);
	free(scratch);
	return text;
}

/* The body sent upstream: the client's, with the tier's model (and usage asked for when streamed). */
static char *upstream_body(const struct router_server *s, struct rreq *r, const struct router_tier *t)
{
	int want_lp = r->hold && isfinite(s->c->cascade_logprob_min); /* for the cascade's log-probability check */
	json_t *b;
	char *text = upstream_body_text(r, s->model_json[t - s->c->tiers], want_lp);
	if (text)
		return text;
	if (!r->req) { /* the decision read the body with the scanner (router/server.c body_scan) */
		r->req = json_loadb(r->body.data, r->body.len, 0, NULL);
		json_object_del(r->req, "ipw");
	}
	b = json_deep_copy(r->req);
	json_object_set_new(b, "model", json_string(t->model));
	if (want_lp)
		json_object_set_new(b, "logprobs", json_true());
	json_object_set_new(b, "stream", json_boolean(r->stream));
	if (r->stream) {
		json_t *so = json_object_get(b, "stream_options");
		if (!json_is_object(so)) {
			so = json_object();
			json_object_set_new(b, "stream_options", so);
		}
		json_object_set_new(so, "include_usage", json_true());
	}
	text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return text;
}

static int attempt_start(struct router_server *s, struct rreq *r, int tier)
{
	const struct router_tier *t = &s->c->tiers[tier];
	struct attempt *a = &r->att[r->natt++];
	size_t ul = strlen(t->url);
	char *url;
	memset(a, 0, sizeof(*a));
	a->tier = tier;
	a->prompt_tokens = a->completion_tokens = -1;
	a->energy_j = a->cost_usd = NAN;
	a->t_send_s = now_s();
	if (t->measured && s->meter)
		a->win = router_meter_begin(s->meter);
	r->hold = r->d.policy == POLICY_CASCADE && !t->cloud && r->pos < r->d.n;
	r->lp_sum = r->lp_min = 0;
	r->lp_n = 0;
	r->up_body = upstream_body(s, r, t);
	r->easy = r->lp->nfree_easy ? r->lp->free_easy[--r->lp->nfree_easy] : curl_easy_init();
	while (ul && t->url[ul - 1] == '/')
		ul--;
	url = xasprintf("%.*s%s", (int)ul, t->url,
			ul >= 3 && !strncmp(t->url + ul - 3, "/v1", 3) ? "/chat/completions" : "/v1/chat/completions");
	r->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (t->key_env && getenv(t->key_env)) {
		char *h = xasprintf("Authorization: Bearer %s", getenv(t->key_env));
		r->hdrs = curl_slist_append(r->hdrs, h);
		free(h);
	}
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->up_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(t->timeout_s * 1000));
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	free(url);
	pthread_mutex_lock(&s->mu);
	s->tier_stats[tier].inflight++;
	s->tier_stats[tier].requests++;
	pthread_mutex_unlock(&s->mu);
	if (curl_multi_add_handle(r->lp->multi, r->easy) != CURLM_OK) {
		a->curl_rc = CURLE_FAILED_INIT;
		attempt_close(s, r, a, "connect");
		easy_drop(s, r);
		return -1;
	}
	r->lp->kick = 1;
	return 0;
}

/*
 * The cascade escalated and no later tier answered: the client gets the first
 * (local, rejected) answer instead of an error, flagged in x-ipw-reason, the
 * x-ipw-verified header and the record ("verified": false). 0, or -1 when no
 * answer was kept. It ends the upstream part of the request.
 */
static int keep_local(struct router_server *s, struct rreq *r)
{
	size_t rl = strlen(r->d.reason), n;
	char failed[IPW_ERRLEN];
	if (r->kept_att < 0)
		return -1;
	n = (size_t)snprintf(failed, sizeof(failed), "%s", "");
	for (int i = r->kept_att + 1; i < r->natt && n < sizeof(failed); i++)
		n += (size_t)snprintf(failed + n, sizeof(failed) - n, "%s%s %s", i > r->kept_att + 1 ? ", " : "",
				      s->c->tiers[r->att[i].tier].name, r->att[i].outcome);
	snprintf(r->d.reason + rl, sizeof(r->d.reason) - rl, "; escalation failed (%s): kept the unverified answer of %s",
		 failed, s->c->tiers[r->att[r->kept_att].tier].name);
	r->ans_att = r->kept_att;
	r->kept_att = -1;
	r->failed_all = 0;
	r->hold = 0;
	if (r->stream) {
		buf_reset(&r->out);
		buf_append(&r->out, r->kept.data, r->kept.len);
		emit_record(s, r);
		emit(r, "data: [DONE]\n\n", 14);
	} else {
		buf_reset(&r->whole);
		buf_append(&r->whole, r->kept.data, r->kept.len);
	}
	buf_release(&r->kept);
	r->up_done = 1;
	resume(s, r);
	return 0;
}

int rreq_start_next(struct router_server *s, struct rreq *r)
{
	while (r->natt < MAX_ATTEMPTS) {
		const struct attempt *last = r->natt ? &r->att[r->natt - 1] : NULL;
		int tier;
		if (last && r->tries <= s->c->retries && retryable(last) && strcmp(last->outcome, "rejected")) {
			tier = last->tier;
			r->tries++;
			pthread_mutex_lock(&s->mu);
			s->tier_stats[tier].retried++;
			pthread_mutex_unlock(&s->mu);
		} else if (r->pos < r->d.n) {
			tier = r->d.order[r->pos++];
			r->tries = 1;
		} else {
			break;
		}
		buf_reset(&r->whole);
		buf_reset(&r->line);
		buf_reset(&r->held);
		buf_reset(&r->answer);
		r->done_seen = 0;
		if (attempt_start(s, r, tier) == 0)
			return 0;
	}
	{
		size_t n = (size_t)snprintf(r->errmsg, sizeof(r->errmsg), "no tier could answer:");
		for (int i = 0; i < r->natt && n < sizeof(r->errmsg); i++)
			n += (size_t)snprintf(r->errmsg + n, sizeof(r->errmsg) - n, " %s %s%s",
					      s->c->tiers[r->att[i].tier].name, r->att[i].outcome,
					      i + 1 < r->natt ? ";" : "");
	}
	if (keep_local(s, r) == 0)
		return -1; /* the client gets the cascade's first answer after all */
	r->failed_all = 1;
	pthread_mutex_lock(&s->mu);
	s->no_tier++;
	pthread_mutex_unlock(&s->mu);
	return -1;
}

/* The cascade's verifier: 1 when the answer passes (long enough, no refusal, the configured pattern). */
static int verify(const struct router_config *c, const char *ans, size_t n, const char **why)
{
	static const char *const refusals[] = {"i can't", "i cannot", "i'm sorry", "i am sorry", "as an ai",
					       "i'm not able", "i am unable"};
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += !isspace((unsigned char)ans[i]);
	if ((long)k < c->cascade_min_chars) {
		*why = "answer too short";
		return 0;
	}
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (n >= strlen(refusals[i]) && strncasecmp(ans, refusals[i], strlen(refusals[i])) == 0) {
			*why = "refusal";
			return 0;
		}
	if (c->cascade_re) { /* compiled at load (config.c) */
		pcre2_code *re = c->cascade_re;
		pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
		int ok = md && pcre2_match(re, (PCRE2_SPTR)(n ? ans : ""), n, 0, 0, md, NULL) >= 0;
		pcre2_match_data_free(md);
		if (!ok) {
			*why = "answer format";
			return 0;
		}
	}
	return 1;
}

static void whole_parse(struct rreq *r, struct attempt *a)
{
	json_t *o = json_loadb(r->whole.data, r->whole.len, 0, NULL);
	json_t *c = json_object_get(json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message"),
				    "content");
	usage_from(a, o);
	if (r->hold)
		logprobs_add(r, json_array_get(json_object_get(o, "choices"), 0));
	if (json_is_string(c))
		buf_append(&r->answer, json_string_value(c), json_string_length(c));
	json_decref(o);
}

/* The cascade's first answer is in: keep it, or escalate. 1 when a new attempt started. */
static int cascade_check(struct router_server *s, struct rreq *r, struct attempt *a)
{
	const char *why = NULL;
	size_t rl;
	r->hold = 0;
	int ok = verify(s->c, r->answer.data, r->answer.len, &why);
	if (isfinite(s->c->cascade_logprob_min)) {
		const char *stat = s->c->cascade_logprob_use_min ? "min" : "mean";
		double v = r->lp_n ? (s->c->cascade_logprob_use_min ? r->lp_min : r->lp_sum / (double)r->lp_n) : NAN;
		if (!r->lp_n) {
			/*
			 * The tier ignored "logprobs": the check cannot reject, and says so
			 * (docs/router.md "Policies"); the other checks still apply.
			 */
			snprintf(r->lp_check, sizeof(r->lp_check), "not available (%s returned no log-probabilities)",
				 s->c->tiers[a->tier].name);
			rl = strlen(r->d.reason);
			snprintf(r->d.reason + rl, sizeof(r->d.reason) - rl,
				 "; log-probability check skipped: %s returned no log-probabilities", s->c->tiers[a->tier].name);
		} else {
			snprintf(r->lp_check, sizeof(r->lp_check), "%s log-probability %.4g %s %.4g over %ld tokens", stat,
				 v, v < s->c->cascade_logprob_min ? "<" : ">=", s->c->cascade_logprob_min, r->lp_n);
		}
		if (ok && r->lp_n && v < s->c->cascade_logprob_min) {
			ok = 0;
			why = "low log-probability";
		}
	}
	if (ok) {
		buf_append(&r->out, r->held.data, r->held.len);
		if (r->stream) { /* the closing comment carries the check's outcome */
			emit_comment(s, r);
			emit(r, "data: [DONE]\n\n", 14);
		}
		return 0;
	}
	attempt_close(s, r, a, "rejected");
	rl = strlen(r->d.reason);
	snprintf(r->d.reason + rl, sizeof(r->d.reason) - rl, "; escalated: %s", why);
	/* kept in case no later tier answers (keep_local) */
	buf_reset(&r->kept);
	buf_append(&r->kept, r->stream ? r->held.data : r->whole.data, r->stream ? r->held.len : r->whole.len);
	r->kept_att = r->natt - 1;
	rreq_start_next(s, r);
	return 1;
}

void rreq_upstream_done(struct router_server *s, struct rreq *r, CURLcode rc)
{
	struct attempt *a = &r->att[r->natt - 1];
	char outcome[24];
	a->curl_rc = rc;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &a->status);
	easy_drop(s, r);
	if (!r->done_seen || a->t_end_s <= 0)
		a->t_end_s = now_s(); /* a stream's answer ended with its [DONE] (sse_line), not the transfer's close */
	if (r->defer == DEFER_DONE) {
		if (rc == CURLE_OK && a->status == 200) { /* the deferred closing bytes end the reply */
			attempt_close(s, r, a, "ok");
			r->up_finished = 1;
			return;
		}
		defer_run(r->lp, r); /* failed after [DONE]: the closing bytes first, then the error (below) */
	}
	if (rc == CURLE_OK && a->status == 200) {
		if (r->stream) {
			if (r->line.len)
				sse_feed(s, r, "\n", 1);
			if (!r->done_seen && !r->hold) {
				emit_comment(s, r);
				emit(r, "data: [DONE]\n\n", 14);
			}
		} else {
			whole_parse(r, a);
		}
		if (r->hold && cascade_check(s, r, a)) {
			if (r->failed_all) {
				r->up_done = 1;
				resume(s, r);
			}
			return;
		}
		if (strcmp(a->outcome, "rejected"))
			attempt_close(s, r, a, "ok");
	} else if (!r->committed && (rc != CURLE_OK || a->status == 429 || a->status >= 500)) {
		if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_OPERATION_TIMEDOUT)
			snprintf(outcome, sizeof(outcome), "%s", rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "connect");
		else if (rc != CURLE_OK)
			snprintf(outcome, sizeof(outcome), "reset");
		else
			snprintf(outcome, sizeof(outcome), "http_%d", (int)(a->status % 1000));
		attempt_close(s, r, a, outcome);
		r->hold = 0;
		if (rreq_start_next(s, r) == 0)
			return;
	} else if (rc == CURLE_OK) {
		attempt_close(s, r, a, "http_4xx"); /* the client's fault: passed on as is */
		if (!r->committed && keep_local(s, r) == 0)
			return; /* ... unless it refused the cascade's escalation */
	} else {
		char ev[IPW_ERRLEN + 128];
		int n = snprintf(ev, sizeof(ev), "data: {\"error\":{\"message\":\"upstream %s ended mid-stream (%s)\","
				 "\"type\":\"upstream_error\"}}\n\ndata: [DONE]\n\n", s->c->tiers[a->tier].name,
				 curl_easy_strerror(rc));
		attempt_close(s, r, a, "reset");
		r->hold = 0;
		emit(r, ev, (size_t)n);
		rreq_publish(s, r, rreq_record(s, r, "reset"), "reset");
	}
	r->up_done = 1;
	resume(s, r);
}

void rreq_add_headers(struct rreq *r, struct MHD_Response *resp)
{
	const struct attempt *a = answering(r);
	struct router_server *s = r->srv;
	MHD_add_response_header(resp, "x-ipw-request-id", r->id);
	if (r->d.reason[0])
		MHD_add_response_header(resp, "x-ipw-reason", r->d.reason);
	if (r->ans_att >= 0)
		MHD_add_response_header(resp, "x-ipw-verified", "no");
	if (a && !r->failed_all) {
		MHD_add_response_header(resp, "x-ipw-tier", s->c->tiers[a->tier].name);
		MHD_add_response_header(resp, "x-ipw-model", s->c->tiers[a->tier].model);
		MHD_add_response_header(resp, "x-ipw-tier-kind", s->c->tiers[a->tier].cloud ? "cloud" : "local");
	}
}

static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct rreq *r = cls;
	struct rloop *lp = r->lp;
	if (r->out.len) {
		size_t n = r->out.len < max ? r->out.len : max;
		memcpy(out, r->out.data, n);
		buf_consume(&r->out, n);
		if (r->paused && r->easy && r->out.len < OUT_HIGH / 2) {
			r->paused = 0;
			curl_easy_pause(r->easy, CURLPAUSE_CONT);
			lp->kick = 1;
		}
		return (ssize_t)n;
	}
	if (r->gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (r->up_done)
		return MHD_CONTENT_READER_END_OF_STREAM;
	r->suspended = 1;
	lp->nsuspended++;
	MHD_suspend_connection(r->con);
	return 0;
}

enum MHD_Result rreq_respond(struct router_server *s, struct rreq *r)
{
	const struct attempt *a = answering(r);
	struct MHD_Response *resp;
	enum MHD_Result rc;
	r->state = RS_ANSWERED;
	if (r->failed_all || !a) {
		json_t *o = json_pack("{s:{s:s,s:s}}", "error", "message", r->errmsg, "type", "upstream_error");
		char *text = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (!r->gone)
			rreq_publish(s, r, rreq_record(s, r, "failed"), "failed");
		resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		rreq_add_headers(r, resp);
		rc = MHD_queue_response(r->con, r->lp->stopping ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_BAD_GATEWAY,
					resp);
		MHD_destroy_response(resp);
		return rc;
	}
	if (!r->stream || a->status != 200) {
		size_t n;
		char *clean = secret_scrub(r->whole.data, r->whole.len, &n);
		char *body = clean ? clean : buf_dup(&r->whole, &n);
		resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		rreq_add_headers(r, resp);
		if (a->status == 200) {
			char v[64];
			json_t *rec = rreq_record(s, r, "ok");
			double e = json_number_value(json_object_get(rec, "energy_j"));
			if (json_is_number(json_object_get(rec, "energy_j"))) {
				snprintf(v, sizeof(v), "%.6g", e);
				MHD_add_response_header(resp, "x-ipw-energy-j", v);
			}
			if (json_is_string(json_object_get(rec, "energy_method"))) {
				MHD_add_response_header(resp, "x-ipw-energy-method",
							json_string_value(json_object_get(rec, "energy_method")));
				MHD_add_response_header(resp, "x-ipw-energy-status",
							json_string_value(json_object_get(rec, "energy_status")));
			}
			if (json_is_number(json_object_get(rec, "cost_usd"))) {
				snprintf(v, sizeof(v), "%.6g", json_number_value(json_object_get(rec, "cost_usd")));
				MHD_add_response_header(resp, "x-ipw-cost-usd", v);
			}
			rreq_publish(s, r, rec, "ok");
		} else {
			const char *oc = a->outcome[0] ? a->outcome : "ok";
			rreq_publish(s, r, rreq_record(s, r, oc), oc);
		}
		rc = MHD_queue_response(r->con, (unsigned)a->status, resp);
		MHD_destroy_response(resp);
		return rc;
	}
	/* 4 KiB: libmicrohttpd zeroes the block with each response; a block holds tens of events */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4 * 1024, sse_read, r, NULL);
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	rreq_add_headers(r, resp);
	rc = MHD_queue_response(r->con, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return rc;
}

static void rreq_free(struct router_server *s, struct rreq *r)
{
	struct rloop *lp = r->lp;
	easy_drop(s, r);
	if (r->defer)
		defer_unlink(lp, r);
	if (r->prev)
		r->prev->next = r->next;
	else if (lp->active == r)
		lp->active = r->next;
	if (r->next)
		r->next->prev = r->prev;
	lp->nactive--;
	buf_release(&r->body);
	buf_release(&r->line);
	free(r->scratch);
	buf_release(&r->out);
	buf_release(&r->held);
	buf_release(&r->kept);
	buf_release(&r->whole);
	buf_release(&r->answer);
	json_decref(r->req);
	if (r->pub_rec) { /* shared: under the lock (rreq_publish) */
		pthread_mutex_lock(&s->mu);
		json_decref(r->pub_rec);
		pthread_mutex_unlock(&s->mu);
	}
	free(r->policy_name);
	free(r->text);
	free(r->session);
	free(r->item_id);
	free(r);
}

/* ---- deferred work ---- */

/* Queues r's deferred work (a request already queued keeps its place: DONE becomes FINISH). */
static void defer_push(struct rloop *lp, struct rreq *r, enum rdefer kind)
{
	if (r->defer) {
		r->defer = kind;
		return;
	}
	r->defer = kind;
	r->defer_ns = clock_now_ns();
	r->dnext = NULL;
	r->dprev = lp->dtail;
	if (lp->dtail)
		lp->dtail->dnext = r;
	else
		lp->dhead = r;
	lp->dtail = r;
}

static void defer_unlink(struct rloop *lp, struct rreq *r)
{
	if (r->dprev)
		r->dprev->dnext = r->dnext;
	else
		lp->dhead = r->dnext;
	if (r->dnext)
		r->dnext->dprev = r->dprev;
	else
		lp->dtail = r->dprev;
	r->dnext = r->dprev = NULL;
}

static void defer_run(struct rloop *lp, struct rreq *r)
{
	struct router_server *s = lp->srv;
	enum rdefer kind = r->defer;
	defer_unlink(lp, r);
	r->defer = DEFER_NONE;
	if (kind == DEFER_FINISH) {
		rreq_finish(s, r, 0);
		return;
	}
	if (!r->gone) {
		emit_record(s, r);
		emit(r, "data: [DONE]\n\n", 14);
	}
	if (r->up_finished)
		r->up_done = 1;
	resume(s, r);
}

void rreq_defer_due(struct rloop *lp, int idle, int all)
{
	int64_t start = clock_now_ns(), now = start;
	/*
	 * At most DEFER_SLICE_NS of it a turn (and at least one item): a request
	 * that arrives meanwhile waits for the slice, not for the whole list.
	 */
	while (lp->dhead && (all || idle || now - lp->dhead->defer_ns >= DEFER_MAX_NS)) {
		defer_run(lp, lp->dhead);
		now = clock_now_ns();
		if (!all && now - start >= DEFER_SLICE_NS)
			break;
	}
}

void rreq_completed(struct router_server *s, struct rreq *r)
{
	(void)s;
	defer_push(r->lp, r, DEFER_FINISH);
}

/* Under s->mu: its decision or refusal, once. */
static void count_decision(struct router_server *s, struct rreq *r)
{
	if (r->counted || (!r->natt && !r->refused))
		return;
	r->counted = 1;
	if (r->natt)
		s->decisions[r->d.policy][r->d.n ? r->d.order[0] : 0]++;
	else
		s->refusals[r->d.policy][!strcmp(r->refused, "no_tier") ? 0 : !strcmp(r->refused, "budget") ? 1 : 2]++;
}

/* Under s->mu: rec (its reference taken) in the ring, in the slot it was published in while that still holds it. */
static void ring_put(struct router_server *s, struct rreq *r, json_t *rec)
{
	int k = r->pub_slot;
	if (k < 0 || !s->records[k] || strcmp(json_string_value(json_object_get(s->records[k], "request_id")), r->id)) {
		k = s->record_next;
		s->record_next = (s->record_next + 1) % RECORD_SLOTS;
	}
	json_decref(s->records[k]);
	s->records[k] = rec;
	r->pub_slot = k;
}

void rreq_publish(struct router_server *s, struct rreq *r, json_t *rec, const char *outcome)
{
	if (!rec)
		return;
	/* kept, with what it was built from, for rreq_finish (pub_current) */
	snprintf(r->pub_outcome, sizeof(r->pub_outcome), "%s", outcome);
	r->pub_natt = r->natt;
	r->pub_ans_att = r->ans_att;
	r->pub_reason_len = strlen(r->d.reason);
	memcpy(r->pub_att, r->att, sizeof(r->att));
	/* a published record is shared by the loops: its references are taken and dropped under s->mu
	   (jansson's json_decref reads the count before its atomic decrement) */
	pthread_mutex_lock(&s->mu);
	json_decref(r->pub_rec);
	r->pub_rec = json_incref(rec);
	ring_put(s, r, rec);
	count_decision(s, r);
	pthread_mutex_unlock(&s->mu);
}

/* The published record is still what rreq_record would build with this outcome: nothing it reads changed. */
static int pub_current(const struct rreq *r, const char *outcome)
{
	return r->pub_rec && !strcmp(outcome, r->pub_outcome) && r->natt == r->pub_natt &&
	       r->ans_att == r->pub_ans_att && strlen(r->d.reason) == r->pub_reason_len &&
	       !memcmp(r->att, r->pub_att, sizeof(r->att));
}

void rreq_finish(struct router_server *s, struct rreq *r, int gone)
{
	const char *outcome = "ok";
	if (r->easy) {
		struct attempt *a = &r->att[r->natt - 1];
		easy_drop(s, r);
		attempt_close(s, r, a, "cancelled");
	}
	if ((gone && !r->up_done && r->natt) || r->gone) {
		if (!r->gone) {
			pthread_mutex_lock(&s->mu);
			s->cancelled++;
			pthread_mutex_unlock(&s->mu);
		}
		outcome = "cancelled";
	} else if (r->failed_all) {
		outcome = "failed";
	} else if (r->ans_att >= 0) {
		outcome = "ok"; /* the cascade's kept answer ("verified": false) */
	} else if (r->natt && strcmp(r->att[r->natt - 1].outcome, "ok")) {
		outcome = r->att[r->natt - 1].outcome;
	} else if (!r->natt && r->refused) {
		outcome = r->refused;
	}
	if (r->natt || r->refused) {
		/* NULL: the published one is current (taken under the lock below); built before the windows move */
		json_t *rec = pub_current(r, outcome) ? NULL : rreq_record(s, r, outcome);
		struct pending *p = xcalloc(1, sizeof(*p));
		static const struct attempt none; /* a refused request: no attempt */
		const struct attempt *last = r->natt ? answering(r) : &none;
		p->id = xstrdup(r->id);
		p->text = r->text ? xstrdup(r->text) : NULL;
		p->answer = buf_dup(&r->answer, &p->answer_len);
		p->t_recv_s = r->t_recv_s;
		p->t_first_s = last->t_first_s;
		p->t_end_s = r->natt ? last->t_end_s : now_s();
		p->http_status = r->natt ? last->status : (long)r->refused_status;
		p->natt = r->natt;
		for (int i = 0; i < r->natt; i++) {
			p->tiers[i] = r->att[i].tier;
			p->wins[i] = r->att[i].win;
			p->measured |= p->wins[i] != NULL;
			r->att[i].win = NULL;
		}
		pthread_mutex_lock(&s->mu);
		if (!rec)
			rec = json_incref(r->pub_rec);
		p->rec = rec;
		count_decision(s, r);
		ring_put(s, r, json_incref(rec));
		if (!s->pending_tail)
			s->pending_tail = &s->pending;
		*s->pending_tail = p;
		s->pending_tail = &p->next;
		s->npending += p->measured;
		pthread_mutex_unlock(&s->mu);
	}
	rreq_free(s, r);
}

/*
 * p's measured attempts are all attributed (or final): complete its record
 * and its tiers' measured energy, under s->mu (the record is shared with the
 * ring). 0: not yet. A request with no measured attempt is complete as it is.
 */
static int pending_complete(struct router_server *s, struct pending *p, int final)
{
	struct meter_result res[MAX_ATTEMPTS];
	int ns = s->meter ? router_meter_measure(s->meter)->nsrcs : 0, any = 0, nwin = 0;
	json_t *atts;
	for (int i = 0; i < p->natt; i++) {
		if (!p->wins[i])
			continue;
		nwin++;
		if (!router_meter_result(s->meter, p->wins[i], &res[i])) {
			if (!final)
				return 0;
			memset(&res[i], 0, sizeof(res[i]));
			res[i].status = METER_NOT_COVERED;
			res[i].accel_j = res[i].accel_dyn_j = res[i].host_j = res[i].host_dyn_j = NAN;
		}
	}
	if (!nwin)
		return 1;
	pthread_mutex_lock(&s->mu);
	atts = json_object_get(p->rec, "attempts");
	for (int i = 0; i < p->natt; i++) {
		json_t *a = json_array_get(atts, (size_t)i);
		struct tier_stats *ts = &s->tier_stats[p->tiers[i]];
		if (!p->wins[i])
			continue;
		json_object_set_new(a, "energy_status", json_string(meter_status_name(res[i].status)));
		if (res[i].t_send_ns) /* the window the rule saw: CLOCK_MONOTONIC seconds (send, first token, end) */
			json_object_set_new(a, "window_s", json_pack("[f,o,f]", res[i].t_send_ns / 1e9,
								     res[i].t_first_ns ? json_real(res[i].t_first_ns / 1e9)
										       : json_null(),
								     res[i].t_end_ns / 1e9));
		if (res[i].status == METER_MEASURED) {
			json_object_set_new(a, "energy_j", json_real(res[i].accel_j));
			json_object_set_new(a, "energy_dyn_j", num_or_null(res[i].accel_dyn_j));
			json_object_set_new(a, "host_j", num_or_null(res[i].host_j));
			json_object_set_new(a, "host_dyn_j", num_or_null(res[i].host_dyn_j));
			json_object_set_new(a, "energy_source", json_string(router_meter_sources(s->meter)));
			json_object_set_new(a, "attribution", json_string("concurrent"));
			ts->energy_meas_j += res[i].accel_j;
			ts->energy_meas_n++;
			if (!p->gross) {
				p->gross = xcalloc((size_t)ns + 1, sizeof(double));
				p->dyn = xcalloc((size_t)ns + 1, sizeof(double));
			}
			for (int k = 0; k < ns && res[i].gross; k++) {
				p->gross[k] += res[i].gross[k];
				p->dyn[k] += res[i].dyn[k];
			}
			any = 1;
		} else if (res[i].status == METER_NOT_COVERED) {
			any = -1;
		}
	}
	if (any < 0) { /* a window was not measured: the request's measured energy is not known */
		free(p->gross);
		free(p->dyn);
		p->gross = p->dyn = NULL;
	}
	rec_totals(p->rec);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < p->natt; i++)
		if (p->wins[i] && s->meter)
			router_meter_release(s->meter, p->wins[i]);
	return 1;
}

/*
 * On loop 0: the list is taken whole under s->mu and worked through outside
 * it (a record is completed under it, briefly), the store gets the complete
 * ones, and those still waiting go back in front of any that finished
 * meanwhile, so the store keeps the order in which requests finished and no
 * decision on another loop waits for this work or for a store write.
 */
void pending_poll(struct router_server *s, int final)
{
	struct pending *list, *wait = NULL, **wtail = &wait, *done = NULL;
	int ndone = 0;
	char err[IPW_ERRLEN];
	pthread_mutex_lock(&s->mu);
	list = s->pending;
	s->pending = NULL;
	s->pending_tail = NULL;
	pthread_mutex_unlock(&s->mu);
	while (list) {
		struct pending *p = list;
		list = p->next;
		p->next = NULL;
		if (!pending_complete(s, p, final)) {
			*wtail = p;
			wtail = &p->next;
			continue;
		}
		ndone += p->measured;
		if (s->acct)
			router_acct_add(s->acct, p, err, sizeof(err));
		p->next = done;
		done = p;
	}
	pthread_mutex_lock(&s->mu);
	s->npending -= ndone;
	if (wait) {
		*wtail = s->pending;
		if (!s->pending)
			s->pending_tail = wtail;
		s->pending = wait;
	}
	for (struct pending *p = done; p; p = p->next)
		json_decref(p->rec); /* shared with the ring: under the lock (rreq_publish) */
	pthread_mutex_unlock(&s->mu);
	while (done) {
		struct pending *p = done;
		done = p->next;
		free(p->id);
		free(p->text);
		free(p->answer);
		free(p->gross);
		free(p->dyn);
		free(p);
	}
}

void rreq_client_gone(struct router_server *s, struct rreq *r)
{
	if (r->easy) {
		struct attempt *a = &r->att[r->natt - 1];
		easy_drop(s, r);
		attempt_close(s, r, a, "cancelled");
	}
	if (!r->up_done && r->natt) {
		pthread_mutex_lock(&s->mu);
		s->cancelled++;
		pthread_mutex_unlock(&s->mu);
	}
	r->gone = 1;
	r->up_done = 1;
	if (!r->committed) {
		r->failed_all = 1;
		snprintf(r->errmsg, sizeof(r->errmsg), "the client went away");
	}
	resume(s, r);
}

void rreq_cancel_all(struct rloop *lp)
{
	struct router_server *s = lp->srv;
	for (struct rreq *r = lp->active; r; r = r->next) {
		if (r->easy) {
			struct attempt *a = &r->att[r->natt - 1];
			easy_drop(s, r);
			attempt_close(s, r, a, "cancelled");
			if (!r->committed) {
				r->failed_all = 1;
				snprintf(r->errmsg, sizeof(r->errmsg), "the router is stopping");
			}
		}
		r->up_done = 1;
		resume(s, r);
	}
}

void rreq_free_orphans(struct rloop *lp)
{
	while (lp->active)
		rreq_free(lp->srv, lp->active);
}

/* ---- /metrics ---- */

/* A label value in the Prometheus text format: backslash, double quote and line feed escaped. */
static char *label_escape(const char *v)
{
	struct buf b;
	char *text;
	buf_init(&b, 0);
	for (const char *p = v; *p; p++)
		if (*p == '\\' || *p == '"')
			buf_appendf(&b, "\\%c", *p);
		else if (*p == '\n')
			buf_appends(&b, "\\n");
		else
			buf_append(&b, p, 1);
	text = b.len ? buf_detach(&b) : xstrdup("");
	buf_release(&b);
	return text;
}

static void hist_text(struct buf *b, const char *name, const char *tier, const struct hist *h)
{
	static const double bounds[ROUTER_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
	for (int i = 0; i < ROUTER_HIST_BUCKETS; i++)
		buf_appendf(b, "%s_bucket{tier=\"%s\",le=\"%g\"} %llu\n", name, tier, bounds[i], h->bucket[i]);
	buf_appendf(b, "%s_bucket{tier=\"%s\",le=\"+Inf\"} %llu\n%s_sum{tier=\"%s\"} %.6f\n%s_count{tier=\"%s\"} %llu\n",
		    name, tier, h->count, name, tier, h->sum, name, tier, h->count);
}

char *router_metrics_text(struct router_server *s)
{
	static const char *const pol[] = {"rules", "learned", "cascade", "tier"};
	struct buf b;
	char *esc[ROUTER_MAX_TIERS];
	for (int i = 0; i < s->c->ntiers; i++)
		esc[i] = label_escape(s->c->tiers[i].name);
	buf_init(&b, 0);
	pthread_mutex_lock(&s->mu);
	buf_appends(&b, "# HELP ipw_router_requests_total Upstream attempts per tier and outcome.\n"
		    "# TYPE ipw_router_requests_total counter\n");
	for (int i = 0; i < s->c->ntiers; i++) {
		const struct tier_stats *t = &s->tier_stats[i];
		const char *n = esc[i];
		buf_appendf(&b, "ipw_router_requests_total{tier=\"%s\",outcome=\"ok\"} %llu\n"
			    "ipw_router_requests_total{tier=\"%s\",outcome=\"failed\"} %llu\n"
			    "ipw_router_requests_total{tier=\"%s\",outcome=\"cancelled\"} %llu\n"
			    "ipw_router_requests_total{tier=\"%s\",outcome=\"retried\"} %llu\n",
			    n, t->ok, n, t->failed, n, t->cancelled, n, t->retried);
	}
	buf_appends(&b, "# TYPE ipw_router_inflight gauge\n");
	for (int i = 0; i < s->c->ntiers; i++)
		buf_appendf(&b, "ipw_router_inflight{tier=\"%s\"} %d\n", esc[i], s->tier_stats[i].inflight);
	buf_appends(&b, "# HELP ipw_router_tokens_total Tokens the tier's usage reported.\n"
		    "# TYPE ipw_router_tokens_total counter\n");
	for (int i = 0; i < s->c->ntiers; i++)
		buf_appendf(&b, "ipw_router_tokens_total{tier=\"%s\",kind=\"prompt\"} %llu\n"
			    "ipw_router_tokens_total{tier=\"%s\",kind=\"completion\"} %llu\n", esc[i],
			    s->tier_stats[i].prompt_tokens, esc[i], s->tier_stats[i].completion_tokens);
	buf_appends(&b, "# HELP ipw_router_energy_joules_total Energy of the attempts whose energy is known "
		    "(method: measured by the router's telemetry with the concurrent rule, accelerators, gross; or estimated from the profile run's J/token).\n# TYPE ipw_router_energy_joules_total counter\n");
	for (int i = 0; i < s->c->ntiers; i++) {
		if (s->tier_stats[i].energy_n)
			buf_appendf(&b, "ipw_router_energy_joules_total{tier=\"%s\",method=\"estimated\"} %.6f\n",
				    esc[i], s->tier_stats[i].energy_j);
		if (s->tier_stats[i].energy_meas_n)
			buf_appendf(&b, "ipw_router_energy_joules_total{tier=\"%s\",method=\"measured\"} %.6f\n",
				    esc[i], s->tier_stats[i].energy_meas_j);
	}
	buf_appendf(&b, "# HELP ipw_router_energy_pending Finished requests whose measured energy is not attributed "
		    "yet.\n# TYPE ipw_router_energy_pending gauge\nipw_router_energy_pending %d\n", s->npending);
	buf_appends(&b, "# HELP ipw_router_cost_usd_total Cost by the tier's prices (USD).\n"
		    "# TYPE ipw_router_cost_usd_total counter\n");
	for (int i = 0; i < s->c->ntiers; i++)
		buf_appendf(&b, "ipw_router_cost_usd_total{tier=\"%s\"} %.9f\n", esc[i],
			    s->tier_stats[i].cost_usd);
	buf_appends(&b, "# HELP ipw_router_ttft_seconds Time to first token upstream.\n"
		    "# TYPE ipw_router_ttft_seconds histogram\n");
	for (int i = 0; i < s->c->ntiers; i++)
		hist_text(&b, "ipw_router_ttft_seconds", esc[i], &s->tier_stats[i].ttft);
	buf_appends(&b, "# HELP ipw_router_e2e_seconds End-to-end latency upstream.\n"
		    "# TYPE ipw_router_e2e_seconds histogram\n");
	for (int i = 0; i < s->c->ntiers; i++)
		hist_text(&b, "ipw_router_e2e_seconds", esc[i], &s->tier_stats[i].e2e);
	buf_appends(&b, "# HELP ipw_router_decisions_total Finished requests per policy and first tier chosen.\n"
		    "# TYPE ipw_router_decisions_total counter\n");
	for (int p = 0; p < 4; p++)
		for (int i = 0; i < s->c->ntiers; i++)
			if (s->decisions[p][i])
				buf_appendf(&b, "ipw_router_decisions_total{policy=\"%s\",tier=\"%s\"} %llu\n", pol[p],
					    esc[i], s->decisions[p][i]);
	buf_appends(&b, "# HELP ipw_router_refused_total Requests the decision refused before any upstream attempt, per "
		    "policy and reason (no_tier: 503, budget: 429, sessions_full: 503).\n"
		    "# TYPE ipw_router_refused_total counter\n");
	for (int p = 0; p < 4; p++)
		for (int k = 0; k < 3; k++)
			if (s->refusals[p][k])
				buf_appendf(&b, "ipw_router_refused_total{policy=\"%s\",reason=\"%s\"} %llu\n", pol[p],
					    k == 0 ? "no_tier" : k == 1 ? "budget" : "sessions_full", s->refusals[p][k]);
	buf_appendf(&b, "# TYPE ipw_router_cancelled_total counter\nipw_router_cancelled_total %llu\n"
		    "# TYPE ipw_router_rejected_total counter\nipw_router_rejected_total %llu\n"
		    "# TYPE ipw_router_unauthorised_total counter\nipw_router_unauthorised_total %llu\n"
		    "# TYPE ipw_router_no_tier_total counter\nipw_router_no_tier_total %llu\n",
		    s->cancelled, s->rejected, s->unauthorised, s->no_tier);
	pthread_mutex_unlock(&s->mu);
	buf_appends(&b, "# HELP ipw_router_loop_requests_total Chat requests per event loop (the loop that accepted "
		    "the connection serves it).\n# TYPE ipw_router_loop_requests_total counter\n");
	for (int i = 0; i < s->nloops; i++)
		buf_appendf(&b, "ipw_router_loop_requests_total{loop=\"%d\"} %llu\n", i,
			    __atomic_load_n(&s->loops[i].nrequests, __ATOMIC_RELAXED));
	buf_appends(&b, "# HELP ipw_router_loop_connections Client connections per event loop (each new one goes to "
		    "the loop with the fewest).\n# TYPE ipw_router_loop_connections gauge\n");
	for (int i = 0; i < s->nloops; i++)
		buf_appendf(&b, "ipw_router_loop_connections{loop=\"%d\"} %d\n", i,
			    __atomic_load_n(&s->loops[i].nconns, __ATOMIC_RELAXED));
	for (int i = 0; i < s->c->ntiers; i++)
		free(esc[i]);
	{
		char *text = buf_detach(&b);
		buf_release(&b); /* buf_detach left it initialised */
		return text;
	}
}
