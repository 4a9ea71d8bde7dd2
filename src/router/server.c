/*
 * router/server.c - the router's HTTP server and its event loops. Each loop
 * runs a libmicrohttpd daemon in external-polling mode (its epoll fd) on the
 * one listening socket, in one epoll set with the sockets of its own libcurl
 * multi, which carries the upstream streams of the connections it accepted
 * (curl_multi_socket_action): one thread moves all bytes of a request, and a
 * wake-up costs what is ready, not the number of open streams. The loops
 * share the decision's inputs and the accounting under one mutex (s->mu),
 * held for counter updates only. A streamed reply waits for upstream bytes
 * with its connection suspended; a client that reads slowly pauses only its
 * own upstream. docs/router.md.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "client/jscan.h"
#include "clock.h"
#include "router/router.h"
#include "router/server_internal.h"
#include "util.h"


static const double hist_bounds[ROUTER_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

/* ---- small helpers ---- */

static const char *header(struct MHD_Connection *con, const char *name)
{
	return MHD_lookup_connection_value(con, MHD_HEADER_KIND, name);
}

static enum MHD_Result queue_text(struct MHD_Connection *con, unsigned status, const char *type, char *text,
				  struct rreq *r)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result rc;
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	if (r)
		rreq_add_headers(r, resp);
	rc = MHD_queue_response(con, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result queue_json(struct MHD_Connection *con, unsigned status, json_t *o, struct rreq *r)
{
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return MHD_NO;
	return queue_text(con, status, "application/json", text, r);
}

static enum MHD_Result queue_error(struct MHD_Connection *con, unsigned status, const char *type, const char *msg,
				   struct rreq *r)
{
	return queue_json(con, status, json_pack("{s:{s:s,s:s}}", "error", "message", msg, "type", type), r);
}

void hist_add(struct hist *h, double v)
{
	if (!isfinite(v))
		return;
	for (int i = 0; i < ROUTER_HIST_BUCKETS; i++)
		if (v <= hist_bounds[i])
			h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/* ---- client authentication, sessions and budgets ---- */

/*
 * Constant time in the tokens' contents and lengths: both are hashed (SHA-256)
 * and the digests compared without an early exit, so the time a wrong token
 * takes says nothing about how much of it was right.
 */
int router_token_equal(const char *a, const char *b)
{
	char ha[65], hb[65];
	volatile unsigned char diff = 0;
	sha256_hex(a, strlen(a), ha);
	sha256_hex(b, strlen(b), hb);
	for (int i = 0; i < 64; i++)
		diff |= (unsigned char)(ha[i] ^ hb[i]);
	return diff == 0;
}

/* 1 when the request may pass (no tokens configured, or a matching bearer token; every token is compared). */
static int authorised(struct router_server *s, struct MHD_Connection *con)
{
	const char *auth = header(con, "Authorization");
	int ok = 0;
	if (!s->tokens)
		return 1;
	if (!auth || strncasecmp(auth, "Bearer ", 7))
		return 0;
	for (char **t = s->tokens; *t; t++)
		ok |= router_token_equal(*t, auth + 7);
	return ok;
}

/* The client key budgets are kept under: a hash of the bearer token, else x-ipw-client, else "anonymous". */
static void router_client_key(struct MHD_Connection *con, char *out, size_t n)
{
	const char *auth = header(con, "Authorization"), *who = header(con, "x-ipw-client");
	if (auth) {
		char h[65];
		sha256_hex(auth, strlen(auth), h);
		snprintf(out, n, "token:%.16s", h);
	} else {
		snprintf(out, n, "%s", who && *who ? who : "anonymous");
	}
}

/*
 * The table has budget.max_clients slots; a slot whose window ended is free
 * again. When every slot holds a live window, a new key gets none and the
 * caller treats it as over budget (fails closed: docs/router.md).
 */
struct budget_slot *budget_find(struct router_server *s, const char *key, int create)
{
	double now = clock_now_ns() / 1e9;
	int free_i = -1;
	if (!s->budgets || !key[0])
		return NULL;
	for (int i = 0; i < s->c->budget.max_clients; i++) {
		if (s->budgets[i].key[0] && !strcmp(s->budgets[i].key, key)) {
			if (now - s->budgets[i].window_start > s->c->budget.window_s) {
				s->budgets[i].window_start = now;
				s->budgets[i].spent = 0;
			}
			return &s->budgets[i];
		}
		if (free_i < 0 && (!s->budgets[i].key[0] || now - s->budgets[i].window_start > s->c->budget.window_s))
			free_i = i;
	}
	if (!create || free_i < 0)
		return NULL;
	snprintf(s->budgets[free_i].key, sizeof(s->budgets[free_i].key), "%s", key);
	s->budgets[free_i].window_start = now;
	s->budgets[free_i].spent = 0;
	return &s->budgets[free_i];
}

/*
 * Local-only sessions: every session id a local-only request named is kept
 * for the server's life (never evicted, so a session cannot fall back to the
 * cloud by being forgotten), in an open-addressing hash set that doubles as it
 * fills. Past max_private_sessions a new one is refused (fails closed).
 */
static size_t session_slot(char **tab, size_t cap, const char *sid)
{
	uint64_t h = 1469598103934665603ull;
	for (const unsigned char *p = (const unsigned char *)sid; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!tab[i] || !strcmp(tab[i], sid))
			return i;
}

static int session_local(struct router_server *s, const char *sid)
{
	return sid && *sid && s->sessions && s->sessions[session_slot(s->sessions, s->sessions_cap, sid)];
}

/* Remembers sid as local-only; 0, or -1 when the table is full. */
static int session_mark(struct router_server *s, const char *sid)
{
	if (!sid || !*sid || session_local(s, sid))
		return 0;
	if (s->nsessions >= (size_t)s->c->max_private_sessions)
		return -1;
	if ((s->nsessions + 1) * 2 > s->sessions_cap) { /* at most half full */
		size_t cap = s->sessions_cap ? s->sessions_cap * 2 : 64;
		char **tab = xcalloc(cap, sizeof(*tab));
		for (size_t i = 0; i < s->sessions_cap; i++)
			if (s->sessions[i])
				tab[session_slot(tab, cap, s->sessions[i])] = s->sessions[i];
		free(s->sessions);
		s->sessions = tab;
		s->sessions_cap = cap;
	}
	s->sessions[session_slot(s->sessions, s->sessions_cap, sid)] = xstrdup(sid);
	s->nsessions++;
	return 0;
}

/* ---- the request: from body to decision ---- */

void body_view_release(struct body_view *v)
{
	free(v->model);
	free(v->privacy);
	free(v->session);
	free(v->item_id);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

static char *jstr_dup(const struct jstr *s)
{
	char *d;
	if (!s->set)
		return NULL;
	d = xmalloc(s->len + 1);
	memcpy(d, s->s, s->len);
	d[s->len] = 0;
	return d;
}

static const char *const lim_fields[2] = {"max_ttft_ms", "max_e2e_ms"};

/* The view by jansson (any valid JSON); -1 with je when the body is not a JSON object. */
int body_json(struct rreq *r, struct body_view *v, json_error_t *je)
{
	json_t *messages, *m, *ext;
	const char *last = "";
	size_t i;
	r->req = json_loadb(r->body.data, r->body.len, 0, je);
	if (!json_is_object(r->req))
		return -1;
	messages = json_object_get(r->req, "messages");
	v->messages_ok = json_is_array(messages);
	if (json_is_string(json_object_get(r->req, "model")))
		v->model = xstrdup(json_string_value(json_object_get(r->req, "model")));
	v->stream = json_is_true(json_object_get(r->req, "stream"));
	json_array_foreach(messages, i, m) {
		json_t *c = json_object_get(m, "content");
		const char *role = json_string_value(json_object_get(m, "role"));
		if (json_is_string(c)) {
			v->chars += json_string_length(c);
			if (role && !strcmp(role, "user"))
				last = json_string_value(c);
		} else if (json_is_array(c)) {
			size_t k;
			json_t *part;
			json_array_foreach(c, k, part) {
				json_t *t = json_object_get(part, "text");
				if (json_is_string(t)) {
					v->chars += json_string_length(t);
					if (role && !strcmp(role, "user"))
						last = json_string_value(t);
				}
			}
		}
	}
	v->text = xstrdup(last);
	ext = json_object_get(r->req, "ipw");
	if (json_is_string(json_object_get(ext, "privacy")))
		v->privacy = xstrdup(json_string_value(json_object_get(ext, "privacy")));
	if (json_is_string(json_object_get(ext, "session")))
		v->session = xstrdup(json_string_value(json_object_get(ext, "session")));
	if (json_is_string(json_object_get(ext, "item_id")))
		v->item_id = xstrdup(json_string_value(json_object_get(ext, "item_id")));
	for (int k = 0; k < 2; k++) {
		json_t *x = json_object_get(ext, lim_fields[k]);
		v->lim[k].present = x != NULL;
		v->lim[k].number = json_is_number(x);
		v->lim[k].ms = json_number_value(x);
	}
	json_object_del(r->req, "ipw");
	return 0;
}

/* One message (an object ahead) of the scan: its content's length added, its last text kept for a user. */
static void scan_message(struct jscan *j, size_t *chars, struct jstr *last)
{
	struct jstr role = {0}, mlast = {0}, s;
	const char *key;
	size_t klen;
	int first = 1;
	unsigned seen = 0;
	jscan_object_begin(j);
	while (jscan_member(j, &first, &key, &klen)) {
		if (jscan_key_is(key, klen, "role")) {
			if (jscan_once(j, &seen, 1))
				jscan_string_or_skip(j, &role);
		} else if (jscan_key_is(key, klen, "content")) {
			char c;
			if (!jscan_once(j, &seen, 2))
				return;
			c = jscan_peek(j);
			if (c == '"') {
				jscan_string(j, &s);
				*chars += s.len;
				mlast = s;
			} else if (c == '[') {
				int pf = 1;
				jscan_array_begin(j);
				while (jscan_array_next(j, &pf)) {
					static const struct jkey text_key[1] = {JKEY("text")};
					struct jstr t = {0};
					if (jscan_string_members(j, text_key, &t, 1) && t.set) {
						*chars += t.len;
						mlast = t;
					}
				}
			} else {
				jscan_skip(j);
			}
		} else {
			jscan_skip(j);
		}
	}
	if (mlast.set && role.set && role.len == 4 && !memcmp(role.s, "user", 4))
		*last = mlast;
}

/* The extension object ahead. */
static void scan_ext(struct jscan *j, struct body_view *v)
{
	static const struct jkey keys[5] = {JKEY("privacy"), JKEY("session"), JKEY("item_id"), JKEY("max_ttft_ms"),
					    JKEY("max_e2e_ms")};
	struct jstr s[3] = {{0}};
	const char *key;
	size_t klen;
	int first = 1;
	unsigned seen = 0;
	jscan_object_begin(j);
	while (jscan_member(j, &first, &key, &klen)) {
		int k = 0;
		while (k < 5 && !(klen == keys[k].len && !memcmp(key, keys[k].s, klen)))
			k++;
		if (k < 5 && !jscan_once(j, &seen, 1u << k))
			return;
		if (k < 3) {
			jscan_string_or_skip(j, &s[k]);
		} else if (k < 5) {
			struct jreal x = {0, 0};
			v->lim[k - 3].present = 1;
			if (jscan_peek(j) == '0')
				jscan_real(j, &x);
			else
				jscan_skip(j);
			v->lim[k - 3].number = x.set;
			v->lim[k - 3].ms = x.v;
		} else {
			jscan_skip(j);
		}
	}
	v->privacy = jstr_dup(&s[0]);
	v->session = jstr_dup(&s[1]);
	v->item_id = jstr_dup(&s[2]);
}

/*
 * The view by the client's scanner (client/jscan.h), in place, without a
 * tree: the same values as body_json for what it reads; -1 (nothing kept) for
 * text outside its subset or a key these read given twice (jansson's path).
 */
int body_scan(const struct rreq *r, struct body_view *v)
{
	struct jscan j;
	struct jstr model = {0}, last = {0};
	char *scratch = NULL;
	const char *key;
	size_t klen, cap = 0;
	int first = 1;
	unsigned seen = 0;
	if (jscan_begin(&j, r->body.data, r->body.len, &scratch, &cap) < 0) {
		free(scratch);
		return -1;
	}
	while (jscan_member(&j, &first, &key, &klen)) {
		if (jscan_key_is(key, klen, "model")) {
			if (jscan_once(&j, &seen, 1))
				jscan_string_or_skip(&j, &model);
		} else if (jscan_key_is(key, klen, "stream")) {
			if (jscan_once(&j, &seen, 2))
				v->stream = jscan_true(&j);
		} else if (jscan_key_is(key, klen, "messages")) {
			int af = 1;
			if (!jscan_once(&j, &seen, 4))
				break;
			if (jscan_peek(&j) != '[') {
				jscan_skip(&j);
				continue;
			}
			v->messages_ok = 1;
			jscan_array_begin(&j);
			while (jscan_array_next(&j, &af)) {
				if (jscan_peek(&j) == '{')
					scan_message(&j, &v->chars, &last);
				else
					jscan_skip(&j);
			}
		} else if (jscan_key_is(key, klen, "ipw")) {
			if (!jscan_once(&j, &seen, 8))
				break;
			if (jscan_peek(&j) == '{')
				scan_ext(&j, v);
			else
				jscan_skip(&j);
		} else {
			jscan_skip(&j);
		}
	}
	if (j.bad || jscan_end(&j)) {
		free(scratch);
		body_view_release(v);
		return -1;
	}
	v->model = jstr_dup(&model);
	v->text = last.set ? jstr_dup(&last) : xstrdup("");
	free(scratch);
	return 0;
}

/* A latency limit from its header, else the body extension's: *out in seconds (NAN: none); -1 (msg) when bad. */
static int latency_limit(struct MHD_Connection *con, const struct body_view *v, int k, const char *hname,
			 double *out, char *msg, size_t msglen)
{
	const char *h = header(con, hname);
	double ms;
	*out = NAN;
	if (h) {
		char *end;
		ms = strtod(h, &end);
		while (*end == ' ' || *end == '\t')
			end++;
		if (end == h || *end || !isfinite(ms) || ms <= 0) {
			snprintf(msg, msglen, "%s must be a positive number of milliseconds (got '%.64s')", hname, h);
			return -1;
		}
	} else if (v->lim[k].present) {
		if (!v->lim[k].number || !isfinite(v->lim[k].ms) || v->lim[k].ms <= 0) {
			snprintf(msg, msglen, "ipw.%s must be a positive number of milliseconds", lim_fields[k]);
			return -1;
		}
		ms = v->lim[k].ms;
	} else {
		return 0;
	}
	*out = ms / 1000;
	return 0;
}

static unsigned request_decide(struct router_server *s, struct rreq *r, struct router_request_info *rip,
			       const char *priv, char *msg, size_t msglen, struct router_tier_live *live);

/* Reads the body and the limits; decides; 0, or an HTTP status with msg set. */
static unsigned request_prepare(struct router_server *s, struct rreq *r, char *msg, size_t msglen)
{
	json_error_t je;
	struct body_view v;
	struct router_request_info ri;
	struct router_tier_live live[ROUTER_MAX_TIERS];
	const char *priv;
	unsigned st = 0;

	memset(&v, 0, sizeof(v));
	if (body_scan(r, &v) < 0 && body_json(r, &v, &je) < 0) {
		snprintf(msg, msglen, "the body is not a JSON object (%s)", je.text);
		st = MHD_HTTP_BAD_REQUEST;
		goto out;
	}
	if (!v.messages_ok || !v.model) {
		snprintf(msg, msglen, "the body needs \"model\" (a policy, GET /v1/models) and \"messages\"");
		st = MHD_HTTP_BAD_REQUEST;
		goto out;
	}
	r->policy_name = v.model;
	v.model = NULL;
	r->stream = v.stream;
	memset(&ri, 0, sizeof(ri));
	ri.model = r->policy_name;
	r->text = v.text;
	v.text = NULL;
	ri.prompt_chars = v.chars;
	ri.text = r->text;
	ri.tier_header = header(r->con, "x-ipw-tier");
	ri.max_ttft_s = ri.max_e2e_s = NAN;
	/* limits: headers, or the body extension "ipw": {...}, which is not forwarded */
	priv = header(r->con, "x-ipw-privacy");
	if (!priv)
		priv = v.privacy;
	r->session = header(r->con, "x-ipw-session") ? xstrdup(header(r->con, "x-ipw-session")) : v.session;
	if (r->session == v.session)
		v.session = NULL;
	if (header(r->con, "x-ipw-item-id"))
		r->item_id = xstrdup(header(r->con, "x-ipw-item-id"));
	else
		r->item_id = v.item_id, v.item_id = NULL;
	if (priv && strcmp(priv, "local-only") && strcmp(priv, "any")) {
		snprintf(msg, msglen, "privacy must be local-only or any (got '%s')", priv);
		st = MHD_HTTP_BAD_REQUEST;
		goto out;
	}
	if (r->session && strlen(r->session) > SESSION_ID_MAX) {
		snprintf(msg, msglen, "the session id is longer than %d bytes", SESSION_ID_MAX);
		st = MHD_HTTP_BAD_REQUEST;
		goto out;
	}
	if (latency_limit(r->con, &v, 0, "x-ipw-max-ttft-ms", &ri.max_ttft_s, msg, msglen) < 0 ||
	    latency_limit(r->con, &v, 1, "x-ipw-max-e2e-ms", &ri.max_e2e_s, msg, msglen) < 0) {
		st = MHD_HTTP_BAD_REQUEST;
		goto out;
	}
	st = request_decide(s, r, &ri, priv, msg, msglen, live);
out:
	body_view_release(&v);
	return st;
}

/* The decision, once the body is read: sessions, budget and the tiers' state under the lock, then the policy. */
static unsigned request_decide(struct router_server *s, struct rreq *r, struct router_request_info *rip,
			       const char *priv, char *msg, size_t msglen, struct router_tier_live *live)
{
	struct router_request_info ri = *rip;
	char key[64];
	int sessions_full;

	router_client_key(r->con, key, sizeof(key));
	/* the shared inputs, read (and the session kept, the budget slot taken) under the lock */
	pthread_mutex_lock(&s->mu);
	ri.local_only = (priv && !strcmp(priv, "local-only")) || session_local(s, r->session);
	sessions_full = ri.local_only && session_mark(s, r->session) < 0;
	if (s->budgets) {
		struct budget_slot *b = budget_find(s, key, 1);
		snprintf(r->budget_key, sizeof(r->budget_key), "%s", key);
		r->budget_full = !b;
		ri.over_budget = !b || b->spent >= s->c->budget.usd;
	}
	for (int i = 0; i < s->c->ntiers; i++) {
		live[i].inflight = s->tier_stats[i].inflight;
		live[i].ttft_ewma_s = s->tier_stats[i].ttft_ewma_s;
		live[i].e2e_ewma_s = s->tier_stats[i].e2e_ewma_s;
	}
	pthread_mutex_unlock(&s->mu);
	r->local_only = ri.local_only;
	if (router_policy_parse(s->c, s->lr, r->policy_name, &r->d.policy, &r->d.threshold, &r->d.tier, msg,
				msglen) < 0)
		return MHD_HTTP_NOT_FOUND;
	if (sessions_full) {
		snprintf(msg, msglen, "the router's table of local-only sessions is full (%d, privacy.max_sessions): "
			 "session '%s' could not be kept local for its later requests, so this request is refused",
			 s->c->max_private_sessions, r->session);
		r->refused = "sessions_full";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (router_decide(s->c, s->lr, live, &ri, &r->d, msg, msglen) < 0) {
		r->refused = "no_tier";
		return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	if (s->c->budget.refuse && !strcmp(r->d.first_skipped, "budget")) {
		if (r->budget_full)
			snprintf(msg, msglen, "the router's budget table is full (%d client keys with a live window of "
				 "%.0f s): a new client's cloud requests are refused until a window ends (budget.max_clients)",
				 s->c->budget.max_clients, s->c->budget.window_s);
		else
			snprintf(msg, msglen, "the cost budget of this client (%.4g USD per %.0f s) is spent",
				 s->c->budget.usd, s->c->budget.window_s);
		r->refused = "budget";
		return MHD_HTTP_TOO_MANY_REQUESTS;
	}
	return 0;
}

/* ---- HTTP handlers ---- */

static enum MHD_Result models_list(struct router_server *s, struct MHD_Connection *con)
{
	json_t *data = json_array();
	const char *k;
	json_t *v;
	char name[160];
	static const char *const base[] = {"ipw-router", "ipw-router:rules", "ipw-router:cascade"};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		json_array_append_new(data, json_pack("{s:s,s:s,s:s}", "id", base[i], "object", "model", "owned_by",
						      "ipw-router"));
	if (s->lr)
		json_array_append_new(data, json_pack("{s:s,s:s,s:s}", "id", "ipw-router:learned", "object", "model",
						      "owned_by", "ipw-router"));
	for (int i = 0; i < s->c->ntiers; i++) {
		snprintf(name, sizeof(name), "ipw-router:tier:%s", s->c->tiers[i].name);
		json_array_append_new(data, json_pack("{s:s,s:s,s:s}", "id", name, "object", "model", "owned_by",
						      "ipw-router"));
	}
	if (s->c->rules.aliases)
		json_object_foreach(s->c->rules.aliases, k, v)
			json_array_append_new(data, json_pack("{s:s,s:s,s:s}", "id", k, "object", "model", "owned_by",
							      "ipw-router"));
	return queue_json(con, MHD_HTTP_OK, json_pack("{s:s,s:o}", "object", "list", "data", data), NULL);
}

static enum MHD_Result request_lookup(struct router_server *s, struct MHD_Connection *con, const char *id)
{
	char *text = NULL;
	pthread_mutex_lock(&s->mu); /* the record may be completed in place by loop 0 (pending_poll) */
	for (int i = 0; i < RECORD_SLOTS && !text; i++)
		if (s->records[i] && !strcmp(json_string_value(json_object_get(s->records[i], "request_id")), id))
			text = json_dumps(s->records[i], JSON_COMPACT);
	pthread_mutex_unlock(&s->mu);
	if (text)
		return queue_text(con, MHD_HTTP_OK, "application/json", text, NULL);
	return queue_error(con, MHD_HTTP_NOT_FOUND, "not_found", "no finished request with that id is kept "
			   "(the last 1024 are)", NULL);
}

/* The final call of a chat request, or the call after its connection was resumed. */
static enum MHD_Result chat_answer(struct router_server *s, struct MHD_Connection *con, struct rreq *r)
{
	char msg[IPW_ERRLEN];
	unsigned status;

	switch (r->state) {
	case RS_RECEIVING:
		if (r->too_big) {
			snprintf(msg, sizeof(msg), "the body passes the limit of %lld bytes", s->c->max_body);
			r->state = RS_ANSWERED;
			return queue_error(con, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error", msg, NULL);
		}
		if ((status = request_prepare(s, r, msg, sizeof(msg)))) {
			r->state = RS_ANSWERED;
			pthread_mutex_lock(&s->mu);
			s->rejected++;
			pthread_mutex_unlock(&s->mu);
			if (r->refused) { /* a routing decision: recorded as a failed query (rreq_finish) */
				r->refused_status = status;
				snprintf(r->errmsg, sizeof(r->errmsg), "%s", msg);
				rreq_publish(s, r, rreq_record(s, r, r->refused), r->refused);
			}
			return queue_error(con, status, status == MHD_HTTP_NOT_FOUND ? "not_found" :
					   status == MHD_HTTP_SERVICE_UNAVAILABLE ? "no_tier" :
					   status == MHD_HTTP_TOO_MANY_REQUESTS ? "budget" : "invalid_request_error", msg,
					   r->refused ? r : NULL);
		}
		r->state = RS_UPSTREAM;
		if (rreq_start_next(s, r) < 0) {
			/* nothing could even be started: answer now */
			r->state = RS_ANSWERED;
			rreq_publish(s, r, rreq_record(s, r, "failed"), "failed");
			return queue_error(con, MHD_HTTP_BAD_GATEWAY, "upstream_error", r->errmsg, r);
		}
		r->suspended = 1;
		MHD_suspend_connection(con);
		return MHD_YES;
	case RS_UPSTREAM:
		/* resumed: the upstream answered (stream: its first bytes; whole: all of it) or nothing is left */
		return rreq_respond(s, r);
	default:
		return MHD_NO;
	}
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
			      const char *version, const char *data, size_t *data_size, void **con_cls)
{
	struct rloop *lp = cls;
	struct router_server *s = lp->srv;
	struct rreq *r = *con_cls;

	if (!r && strcmp(url, "/health") && !authorised(s, con)) {
		pthread_mutex_lock(&s->mu);
		s->unauthorised++;
		pthread_mutex_unlock(&s->mu);
		return queue_error(con, MHD_HTTP_UNAUTHORIZED, "authentication_error",
				   "a client token is needed: Authorization: Bearer TOKEN", NULL);
	}
	if (!strcmp(method, "POST") && (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions"))) {
		if (!r) {
			const char *cl = header(con, "Content-Length");
			if (cl && atoll(cl) > s->c->max_body) {
				char msg[128];
				snprintf(msg, sizeof(msg), "the body passes the limit of %lld bytes", s->c->max_body);
				pthread_mutex_lock(&s->mu);
				s->rejected++;
				pthread_mutex_unlock(&s->mu);
				return queue_error(con, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error", msg, NULL);
			}
			*con_cls = rreq_new(lp, con);
			return MHD_YES;
		}
		if (*data_size) {
			if (!r->too_big && buf_append(&r->body, data, *data_size) < 0)
				r->too_big = 1;
			*data_size = 0;
			return MHD_YES;
		}
		return chat_answer(s, con, r);
	}
	if (strcmp(method, "GET"))
		return queue_error(con, MHD_HTTP_NOT_FOUND, "not_found", "POST /v1/chat/completions; GET /v1/models, "
				   "/health, /metrics, /v1/ipw/requests/ID", NULL);
	if (!strcmp(url, "/health"))
		return queue_json(con, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"), NULL);
	if (!strcmp(url, "/v1/models") || !strcmp(url, "/models"))
		return models_list(s, con);
	if (!strcmp(url, "/metrics"))
		return queue_text(con, MHD_HTTP_OK, "text/plain; version=0.0.4", router_metrics_text(s), NULL);
	if (!strncmp(url, "/v1/ipw/requests/", 17))
		return request_lookup(s, con, url + 17);
	return queue_error(con, MHD_HTTP_NOT_FOUND, "not_found", "POST /v1/chat/completions; GET /v1/models, "
			   "/health, /metrics, /v1/ipw/requests/ID", NULL);
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct router_server *s = ((struct rloop *)cls)->srv;
	struct rreq *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		rreq_completed(s, r);
	else
		rreq_finish(s, r, 1); /* at once: its upstream is cancelled now */
}

/* ---- open, loop, close ---- */

/* A loop's epoll set: MHD's own epoll fd, the listening socket (loop 0) and the loop's wake-up
   eventfd are these tags; a libcurl socket is its descriptor. */
#define EV_MHD ((uint64_t)1 << 32)
#define EV_LISTEN ((uint64_t)2 << 32)
#define EV_WAKE ((uint64_t)3 << 32)

/* MHD opened or closed one of the loop's client connections (MHD_OPTION_NOTIFY_CONNECTION). */
static void on_connection(void *cls, struct MHD_Connection *con, void **sctx, enum MHD_ConnectionNotificationCode toe)
{
	struct rloop *lp = cls;
	(void)con;
	(void)sctx;
	if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
		__atomic_sub_fetch(&lp->nconns, 1, __ATOMIC_RELAXED);
}

/* The connection's daemon takes it (and closes it if it cannot serve it). On the loop's own thread. */
static void conn_add(struct rloop *lp, const struct inconn *ic)
{
	if (MHD_add_connection(lp->d, ic->fd, (const struct sockaddr *)&ic->addr, ic->addrlen) != MHD_YES)
		__atomic_sub_fetch(&lp->nconns, 1, __ATOMIC_RELAXED);
}

/* The loop with the fewest connections (ties: in turn), given one more. */
static struct rloop *least_loaded(struct router_server *s)
{
	struct rloop *best = &s->loops[s->rr % (unsigned)s->nloops];
	int bn = __atomic_load_n(&best->nconns, __ATOMIC_RELAXED);
	for (int k = 1; k < s->nloops; k++) {
		struct rloop *lp = &s->loops[(s->rr + (unsigned)k) % (unsigned)s->nloops];
		int n = __atomic_load_n(&lp->nconns, __ATOMIC_RELAXED);
		if (n < bn)
			best = lp, bn = n;
	}
	s->rr++;
	__atomic_add_fetch(&best->nconns, 1, __ATOMIC_RELAXED);
	return best;
}

/*
 * Loop 0: every connection waiting on the listening socket goes to the least
 * loaded loop, so a burst of new connections is spread evenly and each loop
 * then serves its own connections' requests. Out of descriptors, loop 0 stops
 * watching the socket for 100 ms (the kernel keeps the backlog) rather than
 * spin on it.
 */
static void accept_all(struct rloop *l0)
{
	struct router_server *s = l0->srv;
	for (;;) {
		struct inconn ic;
		struct rloop *lp;
		uint64_t one = 1;
		ic.addrlen = sizeof(ic.addr);
		ic.fd = accept4(s->listen_fd, (struct sockaddr *)&ic.addr, &ic.addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (ic.fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				epoll_ctl(l0->ep, EPOLL_CTL_DEL, s->listen_fd, NULL);
				s->accept_off = 1;
				s->accept_retry_ns = clock_now_ns() + 100 * NS_PER_MS;
			}
			return;
		}
		lp = least_loaded(s);
		if (lp == l0) {
			conn_add(lp, &ic);
			continue;
		}
		pthread_mutex_lock(&lp->qmu);
		if (lp->ninq == lp->capinq) {
			lp->capinq = lp->capinq ? lp->capinq * 2 : 64;
			lp->inq = xrealloc(lp->inq, (size_t)lp->capinq * sizeof(*lp->inq));
		}
		lp->inq[lp->ninq++] = ic;
		pthread_mutex_unlock(&lp->qmu);
		if (write(lp->wake_fd, &one, sizeof(one)) < 0) {
			/* the counter is full: the loop is awake already */
		}
	}
}

/* A loop's queued connections, taken on its own thread. */
static void take_queued(struct rloop *lp)
{
	uint64_t n;
	struct inconn *q;
	int nq;
	if (read(lp->wake_fd, &n, sizeof(n)) < 0) {
		/* nothing to read: another turn took them */
	}
	pthread_mutex_lock(&lp->qmu);
	q = lp->inq;
	nq = lp->ninq;
	lp->inq = NULL;
	lp->ninq = lp->capinq = 0;
	pthread_mutex_unlock(&lp->qmu);
	for (int i = 0; i < nq; i++)
		conn_add(lp, &q[i]);
	free(q);
}

/* libcurl says what a socket of its transfers waits for (CURLMOPT_SOCKETFUNCTION). */
static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct rloop *lp = arg;
	struct epoll_event ev = {0};

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (sockp)
			epoll_ctl(lp->ep, EPOLL_CTL_DEL, fd, NULL);   /* may already be closed: harmless */
		curl_multi_assign(lp->multi, fd, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	ev.data.u64 = (uint32_t)fd;
	if (epoll_ctl(lp->ep, sockp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0 && !sockp)
		curl_multi_assign(lp->multi, fd, (void *)1);
	return 0;
}

/* libcurl asks to be called back after timeout_ms (-1: never) (CURLMOPT_TIMERFUNCTION). */
static int on_curl_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct rloop *lp = arg;

	(void)m;
	lp->curl_due_ns = timeout_ms < 0 ? -1 : clock_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
	return 0;
}

/* The event loops when the config says 0: the CPUs this process may run on, at most 8. */
static int loops_auto(void)
{
	cpu_set_t set;
	int n;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	n = CPU_COUNT(&set);
	return n < 1 ? 1 : n > 8 ? 8 : n;
}

/* The listening socket all loops' daemons accept from (non-blocking: a loop that loses the race to
   accept a connection gets EAGAIN); -1 with err. */
static int listen_open(const struct sockaddr_in *a4, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in got;
	socklen_t gl = sizeof(got);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)a4, sizeof(*a4)) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &gl) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(got.sin_port);
	return fd;
}

/* Its daemon on the listening socket, its multi and its epoll set; 0 or -1 with err. */
static int loop_open(struct router_server *s, struct rloop *lp, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct epoll_event ev = {0};

	lp->ep = -1;
	lp->curl_due_ns = -1;
	lp->multi = curl_multi_init();
	if (!lp->multi)
		return err_set(err, errlen, "libcurl could not make a multi handle");
	curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
	curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
	/* keep the tiers' idle connections when a wave of streams ends together (client.h) */
	curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, (long)CLIENT_MAX_IDLE_CONNS);
	lp->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET |
				 MHD_USE_ERROR_LOG * 0, 0, NULL, NULL, handle, lp,
				 MHD_OPTION_NOTIFY_COMPLETED, completed, lp, MHD_OPTION_NOTIFY_CONNECTION, on_connection, lp,
				 MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_CONNECTION_LIMIT, 4096u,
				 /* a connection's memory, zeroed for each request (32 KiB by default): its headers and
				    buffers; the body is read into the request's own buffer */
				 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)ROUTER_CONN_MEMORY, MHD_OPTION_END);
	if (!lp->d)
		return err_set(err, errlen, "libmicrohttpd could not start a daemon");
	info = MHD_get_daemon_info(lp->d, MHD_DAEMON_INFO_EPOLL_FD);
	lp->epoll_fd = info ? info->epoll_fd : -1;
	if (lp->epoll_fd < 0)
		return err_set(err, errlen, "libmicrohttpd gave no epoll descriptor");
	ev.events = EPOLLIN;
	ev.data.u64 = EV_MHD;
	if ((lp->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->epoll_fd, &ev) < 0)
		return err_set(err, errlen, "could not make the router's epoll set");
	ev.data.u64 = EV_WAKE;
	if ((lp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 || epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wake_fd, &ev) < 0)
		return err_set(err, errlen, "could not make the event loop's wake-up descriptor");
	ev.data.u64 = EV_LISTEN;
	if (lp->idx == 0 && epoll_ctl(lp->ep, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
		return err_set(err, errlen, "could not watch the listening socket");
	return 0;
}

int router_server_open(struct router_server **out, struct router_config *c, char *err, size_t errlen)
{
	struct router_server *s = xcalloc(1, sizeof(*s));
	struct sockaddr_in a4;
	const char *host = c->host && *c->host ? c->host : "127.0.0.1";

	*out = NULL;
	s->c = c;
	s->listen_fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	if (c->budget.usd > 0)
		s->budgets = xcalloc((size_t)c->budget.max_clients, sizeof(*s->budgets));
	for (int i = 0; i < c->ntiers; i++) {
		json_t *m = json_string(c->tiers[i].model);
		s->tier_stats[i].ttft_ewma_s = s->tier_stats[i].e2e_ewma_s = NAN;
		s->model_json[i] = m ? json_dumps(m, JSON_ENCODE_ANY) : NULL;
		json_decref(m);
		if (!s->model_json[i]) {
			router_server_close(s);
			return err_set(err, errlen, "tier %s: its model name is not valid UTF-8", c->tiers[i].name);
		}
	}
	memset(&a4, 0, sizeof(a4));
	if (inet_pton(AF_INET, host, &a4.sin_addr) != 1) {
		router_server_close(s);
		return err_set(err, errlen, "the listen host must be a numeric IPv4 address (got '%s')", host);
	}
	a4.sin_family = AF_INET;
	a4.sin_port = htons((uint16_t)c->port);
	secret_freeze_env();   /* the router's environment is fixed from here: scrubs read it no more */
	if (c->tokens_env && getenv(c->tokens_env) && *getenv(c->tokens_env)) {
		int n;
		s->tokens = split_list(getenv(c->tokens_env), ',', &n);
		for (int i = 0; i < n; i++)
			secret_add(s->tokens[i]);
	} else if (c->tokens_env) {
		router_server_close(s);
		return err_set(err, errlen, "client_tokens_env names %s, which is not set in the environment",
			       c->tokens_env);
	}
	for (int i = 0; i < c->ntiers; i++) { /* credentials in a tier's URL are secrets too (as for ipw profile) */
		char *ui = NULL, *shown = url_strip_userinfo(c->tiers[i].url, &ui), *colon;
		free(shown);
		if (ui) {
			secret_add(ui);
			if ((colon = strchr(ui, ':')))
				secret_add(colon + 1);
			memset(ui, 0, strlen(ui));
			free(ui);
		}
	}
	for (int i = 0; i < c->ntiers; i++)
		if (c->tiers[i].key_env) {
			const char *k = getenv(c->tiers[i].key_env);
			if (!k || !*k) {
				router_server_close(s);
				return err_set(err, errlen, "tier %s: its key variable %s is not set", c->tiers[i].name,
					       c->tiers[i].key_env);
			}
			secret_add(k);
		}
	if (c->learned_path) {
		s->lr = xcalloc(1, sizeof(*s->lr));
		if (learn_router_load(s->lr, c->learned_path, err, errlen) < 0) {
			free(s->lr);
			s->lr = NULL;
			router_server_close(s);
			return -1;
		}
	}
	if ((s->listen_fd = listen_open(&a4, &s->port)) < 0) {
		router_server_close(s);
		return err_set(err, errlen, "could not listen on %s port %d (in use, or not an address of this machine)",
			       host, c->port);
	}
	s->nloops = c->threads > 0 ? c->threads : loops_auto();
	s->loops = xcalloc((size_t)s->nloops, sizeof(*s->loops));
	for (int i = 0; i < s->nloops; i++) {
		s->loops[i].srv = s;
		s->loops[i].idx = i;
		s->loops[i].ep = s->loops[i].wake_fd = -1;
		pthread_mutex_init(&s->loops[i].qmu, NULL);
	}
	for (int i = 0; i < s->nloops; i++)
		if (loop_open(s, &s->loops[i], err, errlen) < 0) {
			router_server_close(s);
			return -1;
		}
	*out = s;
	return 0;
}

int router_server_port(const struct router_server *s)
{
	return s->port;
}

int router_server_loops(const struct router_server *s)
{
	return s->nloops;
}

const char *router_server_run_id(const struct router_server *s)
{
	return s->acct ? router_acct_run_id(s->acct) : NULL;
}

/*
 * A suspended connection is not watched by libmicrohttpd: every 100 ms, the
 * sockets of the loop's waiting requests are checked for an orderly or abrupt
 * hang-up, which cancels the upstream at once. Loop 0's tick also completes
 * the finished requests whose measured energy is in.
 */
static void hup_check(struct rloop *lp)
{
	struct router_server *s = lp->srv;
	int64_t now = clock_now_ns();
	if (now - lp->last_hup_check_ns < 100 * NS_PER_MS)
		return;
	lp->last_hup_check_ns = now;
	if (lp->idx == 0) {
		struct epoll_event ev = {0};
		pending_poll(s, 0); /* measured energy attributed since the last tick */
		ev.events = EPOLLIN;
		ev.data.u64 = EV_LISTEN;
		if (s->accept_off && now >= s->accept_retry_ns && epoll_ctl(lp->ep, EPOLL_CTL_ADD, s->listen_fd, &ev) == 0)
			s->accept_off = 0;
	}
	for (struct rreq *r = lp->active, *next; r; r = next) {
		const union MHD_ConnectionInfo *ci;
		struct pollfd p;
		char c;
		next = r->next;
		if (!r->suspended || r->gone)
			continue;
		ci = MHD_get_connection_info(r->con, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci)
			continue;
		p.fd = ci->connect_fd;
		p.events = POLLIN | POLLRDHUP;
		p.revents = 0;
		if (poll(&p, 1, 0) <= 0)
			continue;
		if ((p.revents & (POLLRDHUP | POLLHUP | POLLERR)) ||
		    ((p.revents & POLLIN) && recv(p.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0))
			rreq_client_gone(s, r);
	}
}

/*
 * One turn: wait for what is ready (at most wait_ms, less when MHD's or
 * libcurl's timer is due sooner, none after a kick), then libcurl on the
 * ready sockets and its timer, MHD, and what finished upstream.
 */
static void loop_turn(struct rloop *lp, int wait_ms)
{
	struct epoll_event evs[256];
	int running = 0, left, nev;
	MHD_UNSIGNED_LONG_LONG mhd_ms;
	CURLMsg *m;

	if (MHD_get_timeout(lp->d, &mhd_ms) == MHD_YES && (long long)mhd_ms < wait_ms)
		wait_ms = (int)mhd_ms;
	if (lp->curl_due_ns >= 0) {
		int64_t left_ns = lp->curl_due_ns - clock_now_ns();
		long long ms = left_ns <= 0 ? 0 : (left_ns + NS_PER_MS - 1) / NS_PER_MS;
		if (ms < wait_ms)
			wait_ms = (int)ms;
	}
	if (lp->kick || lp->dhead)
		wait_ms = 0;
	lp->kick = 0;
	nev = epoll_wait(lp->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), wait_ms);
	for (int i = 0; i < nev; i++) {
		int flags = 0;
		if (evs[i].data.u64 == EV_MHD)
			continue;   /* MHD_run below */
		if (evs[i].data.u64 == EV_LISTEN) {
			accept_all(lp);
			continue;
		}
		if (evs[i].data.u64 == EV_WAKE) {
			take_queued(lp);
			continue;
		}
		flags |= evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0;
		flags |= evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0;
		flags |= evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0;
		curl_multi_socket_action(lp->multi, (curl_socket_t)(uint32_t)evs[i].data.u64, flags, &running);
	}
	if (lp->curl_due_ns >= 0 && lp->curl_due_ns <= clock_now_ns()) {
		lp->curl_due_ns = -1;   /* the callback sets the next one */
		curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	MHD_run(lp->d);
	while ((m = curl_multi_info_read(lp->multi, &left)))
		if (m->msg == CURLMSG_DONE) {
			struct rreq *r = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			rreq_upstream_done(lp->srv, r, m->data.result);
		}
	hup_check(lp);
	MHD_run(lp->d);
	if (lp->dhead)
		rreq_defer_due(lp, nev == 0, 0);
}

/* A loop until the stop flag, then its wind-down: cancel upstreams, resume what waits, let MHD answer. */
static void loop_run(struct rloop *lp)
{
	while (!__atomic_load_n(lp->srv->stop, __ATOMIC_RELAXED))
		loop_turn(lp, 200);
	lp->stopping = 1;
	rreq_defer_due(lp, 0, 1);
	rreq_cancel_all(lp);
	for (int i = 0; i < 20 && lp->nactive; i++)
		loop_turn(lp, 10);
	rreq_defer_due(lp, 0, 1);
}

static void *loop_thread(void *arg)
{
	loop_run(arg);
	return NULL;
}

int router_server_run(struct router_server *s, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	sigset_t block, old;
	int rc = 0;
	s->stop = stop;
	/* the other loops' threads take no signals: SIGINT and SIGTERM reach this one */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	for (int i = 1; i < s->nloops; i++) {
		if (pthread_create(&s->loops[i].th, NULL, loop_thread, &s->loops[i]) != 0) {
			rc = err_set(err, errlen, "could not start the thread of event loop %d", i);
			__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
			break;
		}
		s->loops[i].started = 1;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	loop_run(&s->loops[0]);
	for (int i = 1; i < s->nloops; i++)
		if (s->loops[i].started) {
			pthread_join(s->loops[i].th, NULL);
			s->loops[i].started = 0;
		}
	return rc;
}

/* After the threads ended (or never started): its daemon, requests, multi and epoll set. */
static void loop_close(struct rloop *lp)
{
	if (lp->d) {
		lp->stopping = 1;
		rreq_defer_due(lp, 0, 1);
		rreq_cancel_all(lp);
		for (int i = 0; i < 50 && lp->nsuspended; i++)
			loop_turn(lp, 10);
		MHD_stop_daemon(lp->d);
	}
	rreq_defer_due(lp, 0, 1);
	rreq_free_orphans(lp);
	for (int i = 0; i < lp->nfree_easy; i++)
		curl_easy_cleanup(lp->free_easy[i]);
	for (int i = 0; i < lp->ninq; i++) /* given to it, never taken */
		close(lp->inq[i].fd);
	free(lp->inq);
	if (lp->multi)
		curl_multi_cleanup(lp->multi);
	if (lp->ep >= 0)
		close(lp->ep);
	if (lp->wake_fd >= 0)
		close(lp->wake_fd);
	pthread_mutex_destroy(&lp->qmu);
}

void router_server_close(struct router_server *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nloops; i++)
		loop_close(&s->loops[i]);
	free(s->loops);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->meter)
		router_meter_drain(s->meter);
	pending_poll(s, 1);
	for (size_t i = 0; i < s->sessions_cap; i++)
		free(s->sessions[i]);
	free(s->sessions);
	for (int i = 0; i < RECORD_SLOTS; i++)
		json_decref(s->records[i]);
	free_list(s->tokens);
	for (int i = 0; i < ROUTER_MAX_TIERS; i++)
		free(s->model_json[i]);
	free(s->budgets);
	if (s->lr) {
		learn_router_release(s->lr);
		free(s->lr);
	}
	if (s->acct)
		router_acct_close(s->acct);
	router_meter_close(s->meter);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
