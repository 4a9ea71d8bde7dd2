/*
 * store.c - the registry of store back-ends (chosen by URI scheme), opening
 * and dispatching to them; holds the checks every back-end shares (no
 * secrets in a run, argument sanity). Statistics over a run's rows are not a
 * store's business: src/aggregate.c.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store.h"
#include "util.h"

/* API keys shorter than this are placeholders ("ollama", "none"), not secrets. */
#define SECRET_MIN_LEN 8

static const char *const secret_vars[] = {"IPW_API_KEY", "OPENAI_API_KEY"};

/*
 * The store back-ends, chosen by URI scheme. Adding one: its file in
 * src/store/ (one const struct store_backend) and one line here.
 */
static const struct store_backend *const store_backends[] = {
	&store_sqlite,
	&store_postgres,
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

const struct store_backend *store_backend_at(size_t i)
{
	return i < NELEMS(store_backends) ? store_backends[i] : NULL;
}

/* Length of uri's scheme (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"), 0 if none. */
static size_t uri_scheme_len(const char *uri)
{
	size_t n = 0;

	if (!((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z')))
		return 0;
	while (uri[n] && uri[n] != ':') {
		char c = uri[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return 0;
		n++;
	}
	return uri[n] == ':' ? n : 0;
}

static int backend_has_scheme(const struct store_backend *b, const char *scheme, size_t n)
{
	for (const char *const *p = b->schemes; p && *p; p++)
		if (strlen(*p) == n && !strncasecmp(*p, scheme, n))
			return 1;
	return 0;
}

/* "sqlite:, file: (sqlite); a file path (sqlite)" from the registry. */
static void known_schemes(struct buf *b)
{
	for (size_t i = 0; i < NELEMS(store_backends); i++) {
		const struct store_backend *be = store_backends[i];
		for (const char *const *p = be->schemes; p && *p; p++)
			buf_appendf(b, "%s%s:", b->len ? ", " : "", *p);
		buf_appendf(b, " (%s)", be->name);
	}
	for (size_t i = 0; i < NELEMS(store_backends); i++)
		if (store_backends[i]->plain_path)
			buf_appendf(b, "; a file path (%s)", store_backends[i]->name);
}

const struct store_backend *store_backend_for(const char *uri, char *err, size_t errlen)
{
	size_t n = uri_scheme_len(uri);
	struct buf known;

	for (size_t i = 0; i < NELEMS(store_backends); i++) {
		const struct store_backend *be = store_backends[i];
		if (n ? backend_has_scheme(be, uri, n) : be->plain_path)
			return be;
	}
	buf_init(&known, 0);
	known_schemes(&known);
	if (n)
		err_set(err, errlen, "store '%.*s:...': unknown store scheme '%.*s' (known: %s; "
			"write a file path holding ':' as ./NAME)", (int)n, uri, (int)n, uri, known.data);
	else
		err_set(err, errlen, "store '%s': no back-end serves plain paths (known: %s)", uri, known.data);
	buf_release(&known);
	return NULL;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* 1 if the n bytes at k, percent-escapes decoded, spell "password". */
static int is_password_key(const char *k, size_t n)
{
	char dec[16];
	size_t j = 0;

	for (size_t i = 0; i < n && j < sizeof(dec) - 1; i++) {
		if (k[i] == '%' && i + 2 < n && hexval(k[i + 1]) >= 0 && hexval(k[i + 2]) >= 0) {
			dec[j++] = (char)(hexval(k[i + 1]) * 16 + hexval(k[i + 2]));
			i += 2;
		} else {
			dec[j++] = k[i];
		}
	}
	dec[j] = '\0';
	return !strcmp(dec, "password");
}

/* Appends a URI's query (after '?') without its password parameters. */
static void append_query_without_password(struct buf *b, const char *q)
{
	int first = 1;

	while (*q) {
		size_t n = strcspn(q, "&"), k = strcspn(q, "=&");
		if (n && !is_password_key(q, k < n ? k : n)) {
			buf_appendf(b, "%s%.*s", first ? "?" : "&", (int)n, q);
			first = 0;
		}
		q += n;
		if (*q == '&')
			q++;
	}
}

char *store_uri_shown(const char *uri)
{
	const char *sep = strstr(uri, "://"), *rest, *at = NULL, *q;
	size_t auth;
	struct buf b;

	if (!sep || uri_scheme_len(uri) != (size_t)(sep - uri))
		return xstrdup(uri);
	rest = sep + 3;
	auth = strcspn(rest, "/?#");
	for (size_t i = 0; i < auth; i++)
		if (rest[i] == '@')
			at = rest + i;
	buf_init(&b, 0);
	buf_append(&b, uri, (size_t)(rest - uri));
	if (at) {
		buf_appendf(&b, "%.*s@", (int)strcspn(rest, ":@"), rest);
		rest = at + 1;
	}
	q = strchr(rest, '?');
	buf_append(&b, rest, q ? (size_t)(q - rest) : strlen(rest));
	if (q)
		append_query_without_password(&b, q + 1);
	char *s = buf_detach(&b);
	buf_release(&b);  /* buf_detach leaves a fresh, empty buffer */
	return s;
}

int store_open(struct store *s, const char *uri, int flags, char *err, size_t errlen)
{
	const char *env = getenv("IPW_STORE");
	const char *name = uri ? uri : env && *env ? env : "ipw.db";
	const struct store_backend *be;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (!*name) {
		err_set(err, errlen, "empty store path (pass --store PATH)");
		goto out;
	}
	if (!(be = store_backend_for(name, err, errlen)))
		goto out;
	s->ops = be;
	s->path = xstrdup(name);
	if (be->open(s, name, flags, err, errlen) < 0) {
		free(s->path);
		memset(s, 0, sizeof(*s));
		goto out;
	}
	rc = 0;
out:
	return rc;
}

void store_close(struct store *s)
{
	if (!s || !s->ops)
		return;
	s->ops->close(s);
	free(s->path);
	memset(s, 0, sizeof(*s));
}

/* Fails if text contains the value of an API-key variable of the environment. */
static int check_secret(const char *field, const char *text, char *err, size_t errlen)
{
	if (!text)
		return 0;
	for (size_t i = 0; i < sizeof(secret_vars) / sizeof(secret_vars[0]); i++) {
		const char *v = getenv(secret_vars[i]);
		if (v && strlen(v) >= SECRET_MIN_LEN && strstr(text, v))
			return err_set(err, errlen, "refusing to store the run: its %s contains the value of "
				       "%s (API keys are never stored; pass keys through the environment only)",
				       field, secret_vars[i]);
	}
	return 0;
}

static int check_run_secrets(const struct run_record *r, char *err, size_t errlen)
{
	if (check_secret("configuration", r->config_json, err, errlen) < 0 ||
	    check_secret("url", r->url, err, errlen) < 0 ||
	    check_secret("hardware description", r->hardware_json, err, errlen) < 0 ||
	    check_secret("name", r->name, err, errlen) < 0)
		return -1;
	return 0;
}

int store_run_create(struct store *s, struct run_record *r, char *err, size_t errlen)
{
	if (check_run_secrets(r, err, errlen) < 0)
		return -1;
	return s->ops->run_create(s, r, err, errlen);
}

int store_run_set_sources(struct store *s, const char *run_id, const struct run_source *src, int n,
			  char *err, size_t errlen)
{
	return s->ops->run_set_sources(s, run_id, src, n, err, errlen);
}

int store_run_update(struct store *s, const struct run_record *r, char *err, size_t errlen)
{
	if (!r->id)
		return err_set(err, errlen, "store_run_update: the run has no id (create it first)");
	if (check_run_secrets(r, err, errlen) < 0)
		return -1;
	return s->ops->run_update(s, r, err, errlen);
}

int store_run_get(struct store *s, const char *ref, struct run_record *out, char *err, size_t errlen)
{
	return s->ops->run_get(s, ref, out, err, errlen);
}

int store_runs_list(struct store *s, int (*cb)(const struct run_record *r, void *ctx), void *ctx,
		    char *err, size_t errlen)
{
	return s->ops->runs_list(s, cb, ctx, err, errlen);
}

int store_query_insert(struct store *s, const char *run_id, const struct query_record *q,
		       char *err, size_t errlen)
{
	if (!q->item_id || !q->status)
		return err_set(err, errlen, "store_query_insert: a query needs an item id and a status");
	return s->ops->query_insert(s, run_id, q, err, errlen);
}

int store_query_energy_set(struct store *s, const char *run_id, const struct query_record *q,
			   char *err, size_t errlen)
{
	if (!q->item_id)
		return err_set(err, errlen, "store_query_energy_set: a query needs an item id");
	return s->ops->query_energy_set(s, run_id, q, err, errlen);
}

int store_query_insert_batch(struct store *s, const char *run_id, const struct query_record *const *qs,
			     size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (!qs[i]->item_id || !qs[i]->status)
			return err_set(err, errlen, "store_query_insert_batch: query %zu needs an item id and a status", i);
	if (s->ops->query_insert_batch)
		return s->ops->query_insert_batch(s, run_id, qs, n, err, errlen);
	for (size_t i = 0; i < n; i++)
		if (s->ops->query_insert(s, run_id, qs[i], err, errlen) < 0)
			return -1;
	return 0;
}

int store_query_energy_set_batch(struct store *s, const char *run_id, const struct query_record *const *qs,
				 size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (!qs[i]->item_id)
			return err_set(err, errlen, "store_query_energy_set_batch: query %zu needs an item id", i);
	if (s->ops->query_energy_set_batch)
		return s->ops->query_energy_set_batch(s, run_id, qs, n, err, errlen);
	for (size_t i = 0; i < n; i++)
		if (s->ops->query_energy_set(s, run_id, qs[i], err, errlen) < 0)
			return -1;
	return 0;
}

int store_queries_iter(struct store *s, const char *run_id,
		       int (*cb)(const struct query_record *q, void *ctx), void *ctx,
		       char *err, size_t errlen)
{
	return s->ops->queries_iter(s, run_id, cb, ctx, err, errlen);
}

int store_items_done(struct store *s, const char *run_id, char ***ids, size_t *n,
		     char *err, size_t errlen)
{
	return s->ops->items_done(s, run_id, ids, n, err, errlen);
}

int store_query_resend(struct store *s, const char *run_id, const struct query_record *q,
		       char *err, size_t errlen)
{
	if (!q->item_id || !q->status)
		return err_set(err, errlen, "store_query_resend: a query needs an item id and a status");
	return s->ops->query_resend(s, run_id, q, err, errlen);
}

int store_superseded_iter(struct store *s, const char *run_id,
			  int (*cb)(const struct query_record *q, void *ctx), void *ctx,
			  char *err, size_t errlen)
{
	return s->ops->superseded_iter(s, run_id, cb, ctx, err, errlen);
}

int store_query_failed_in_transport(const struct query_record *q)
{
	const char *k = q->error_kind ? q->error_kind : "";

	if (!q->status || !strcmp(q->status, "ok"))
		return 0;
	if (!strcmp(k, "connect") || !strcmp(k, "reset") || !strcmp(k, "timeout"))
		return 1;
	return !strcmp(k, "http") && (q->http_status == 429 || (q->http_status >= 500 && q->http_status <= 599));
}

struct resend_list {
	char **v;
	size_t n, cap;
};

static int collect_resend(const struct query_record *q, void *ctx)
{
	struct resend_list *l = ctx;

	if (!store_query_failed_in_transport(q))
		return 0;
	if (l->n + 1 >= l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = xrealloc(l->v, l->cap * sizeof(char *));
	}
	l->v[l->n++] = xstrdup(q->item_id);
	l->v[l->n] = NULL;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_items_to_resend(struct store *s, const char *run_id, char ***ids, size_t *n,
			  char *err, size_t errlen)
{
	struct resend_list l = {NULL, 0, 0};
	int rc = store_queries_iter(s, run_id, collect_resend, &l, err, errlen);

	if (rc < 0) {
		if (l.v)
			free_list(l.v);
		*ids = NULL;
		*n = 0;
		return rc;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(char *), cmp_id);
	*ids = l.v;
	*n = l.n;
	return 0;
}

int store_samples_append(struct store *s, const char *run_id, const struct store_sample *v, size_t n,
			 char *err, size_t errlen)
{
	if (n == 0)
		return 0;
	return s->ops->samples_append(s, run_id, v, n, err, errlen);
}

int store_score_add(struct store *s, const char *run_id, const struct store_score *sc,
		    char *err, size_t errlen)
{
	if (!sc->item_id || !sc->grader)
		return err_set(err, errlen, "store_score_add: a score needs an item id and a grader");
	return s->ops->score_add(s, run_id, sc, err, errlen);
}

int store_scores_latest(struct store *s, const char *run_id,
			int (*cb)(const char *item_id, int correct, void *ctx), void *ctx,
			char *err, size_t errlen)
{
	return s->ops->scores_latest(s, run_id, cb, ctx, err, errlen);
}

int store_score_rows_latest(struct store *s, const char *run_id,
			    int (*cb)(const struct store_score *sc, void *ctx), void *ctx,
			    char *err, size_t errlen)
{
	return s->ops->score_rows_latest(s, run_id, cb, ctx, err, errlen);
}

int store_judgement_get(struct store *s, const char *prompt_sha256, const char *judge_model,
			char **verdict, char **raw_text, char *err, size_t errlen)
{
	*verdict = *raw_text = NULL;
	if (!prompt_sha256 || !judge_model)
		return err_set(err, errlen, "store_judgement_get: needs a prompt hash and a judge model");
	return s->ops->judgement_get(s, prompt_sha256, judge_model, verdict, raw_text, err, errlen);
}

int store_judgement_put(struct store *s, const struct store_judgement *j, char *err, size_t errlen)
{
	static const char *const vars[] = {"IPW_JUDGE_API_KEY", "IPW_API_KEY", "OPENAI_API_KEY"};

	if (!j->prompt_sha256 || !j->judge_model)
		return err_set(err, errlen, "store_judgement_put: needs a prompt hash and a judge model");
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v && strlen(v) >= SECRET_MIN_LEN &&
		    ((j->raw_text && strstr(j->raw_text, v)) || (j->verdict && strstr(j->verdict, v))))
			return err_set(err, errlen, "refusing to cache a judgement that contains the value of %s "
				       "(API keys are never stored)", vars[i]);
	}
	return s->ops->judgement_put(s, j, err, errlen);
}

int store_items_open_fields(struct store *s, const char *run_id, unsigned fields, struct store_cursor *c,
			    char *err, size_t errlen)
{
	c->s = s;
	c->impl = NULL;
	c->fields = fields & STORE_ITEM_ALL;
	return s->ops->items_open(s, run_id, c, err, errlen);
}

int store_items_open(struct store *s, const char *run_id, struct store_cursor *c, char *err, size_t errlen)
{
	return store_items_open_fields(s, run_id, STORE_ITEM_ALL, c, err, errlen);
}

int store_items_next(struct store_cursor *c, struct store_item *it, char *err, size_t errlen)
{
	return c->s->ops->items_next(c, it, err, errlen);
}

void store_items_close(struct store_cursor *c)
{
	if (c && c->s && c->impl)
		c->s->ops->items_close(c);
	if (c)
		c->impl = NULL;
}

int store_samples_iter(struct store *s, const char *run_id,
		       int (*cb)(const struct store_sample *v, void *ctx), void *ctx,
		       char *err, size_t errlen)
{
	return s->ops->samples_iter(s, run_id, cb, ctx, err, errlen);
}

/* ---- leases ---- */

void store_lease_clear(struct store_lease *l)
{
	free(l->owner);
	free(l->host);
	memset(l, 0, sizeof(*l));
}

int store_lease_get(struct store *s, const char *run_id, struct store_lease *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return s->ops->lease_get(s, run_id, out, err, errlen);
}

int store_lease_renew(struct store *s, const char *run_id, const char *owner, double now, char *err, size_t errlen)
{
	return s->ops->lease_renew(s, run_id, owner, now, err, errlen);
}

int store_lease_release(struct store *s, const char *run_id, const char *owner, char *err, size_t errlen)
{
	return s->ops->lease_release(s, run_id, owner, err, errlen);
}

/* Whether process pid exists on this host (EPERM: it does, another user's). */
static int pid_alive(long long pid)
{
	if (pid <= 0 || pid > 0x7fffffff)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/*
 * Why cur is stale for a sender on host at now ("" when it is not): its
 * process is gone from this host, or its heartbeat is older than stale_s.
 */
static void stale_reason(const struct store_lease *cur, const char *host, double now, double stale_s,
			 char *why, size_t n)
{
	double age = now - cur->heartbeat_at;
	why[0] = 0;
	if (cur->host && !strcmp(cur->host, host) && !pid_alive(cur->pid))
		snprintf(why, n, "its process %lld is not running on this host (last heartbeat %.0f s ago)",
			 cur->pid, age);
	else if (!(age <= stale_s))
		snprintf(why, n, "its last heartbeat is %.0f s old, over the %.0f s after which a lease is stale",
			 age, stale_s);
}

int store_lease_acquire(struct store *s, const char *run_id, const char *host, long long pid, double now,
			double stale_s, struct store_lease *prev, char *err, size_t errlen)
{
	struct store_lease me = {NULL, (char *)host, pid, now, now}, cur;
	char why[256];
	int rc = -1, refused = 0;

	me.owner = xasprintf("%s:%lld", host, pid);
	if (prev)
		memset(prev, 0, sizeof(*prev));
	/* a conditional write: another sender may get in between the read and the write, so read again */
	for (int tries = 0; tries < 5; tries++) {
		rc = store_lease_get(s, run_id, &cur, err, errlen);
		if (rc == STORE_ENOTFOUND) {
			rc = s->ops->lease_put(s, run_id, &me, NULL, err, errlen);
			if (rc != STORE_EBUSY)
				break;
			continue;
		}
		if (rc < 0)
			break;
		if (!strcmp(cur.owner, me.owner)) {
			me.acquired_at = cur.acquired_at;
			rc = s->ops->lease_put(s, run_id, &me, &cur, err, errlen);
		} else {
			stale_reason(&cur, host, now, stale_s, why, sizeof(why));
			if (!why[0]) {
				err_set(err, errlen, "run %s is being run by %s (its heartbeat is %.0f s old; a lease is "
					"stale after %.0f s without one, or when its process is gone): a second sender "
					"would send the same items; wait for it to end or stop it", run_id, cur.owner,
					now - cur.heartbeat_at, stale_s);
				store_lease_clear(&cur);
				rc = STORE_EBUSY;
				refused = 1;
				break;
			}
			rc = s->ops->lease_put(s, run_id, &me, &cur, err, errlen);
			if (rc == 0) {
				err_set(err, errlen, "took over the lease on run %s from %s: %s", run_id, cur.owner, why);
				rc = 1;
				if (prev) {
					*prev = cur;
					memset(&cur, 0, sizeof(cur));
				}
			}
		}
		store_lease_clear(&cur);
		if (rc != STORE_EBUSY)
			break;
	}
	if (rc == STORE_EBUSY && !refused)
		err_set(err, errlen, "run %s: its lease kept changing while being taken; try again", run_id);
	free(me.owner);
	return rc;
}

int store_run_create_id(struct store *s, const struct run_record *r, char *err, size_t errlen)
{
	if (!s->ops->run_create_id)
		return err_set(err, errlen, "store '%s' (%s) cannot insert a run with a given id", s->path,
			       s->ops->name);
	if (!r->id || check_run_secrets(r, err, errlen) < 0)
		return r->id ? -1 : err_set(err, errlen, "store_run_create_id: the run has no id");
	return s->ops->run_create_id(s, r, err, errlen);
}

int store_scores_iter(struct store *s, const char *run_id,
		      int (*cb)(const struct store_score *sc, void *ctx), void *ctx, char *err, size_t errlen)
{
	if (!s->ops->scores_iter)
		return err_set(err, errlen, "store '%s' (%s) cannot list every score row", s->path, s->ops->name);
	return s->ops->scores_iter(s, run_id, cb, ctx, err, errlen);
}
