/*
 * store.c - opens a store by URI and dispatches to its back-end; holds the
 * checks every back-end shares (no secrets in a run, argument sanity).
 * Statistics over a run's rows are not a store's business: src/aggregate.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

/* API keys shorter than this are placeholders ("ollama", "none"), not secrets. */
#define SECRET_MIN_LEN 8

static const char *const secret_vars[] = {"IPW_API_KEY", "OPENAI_API_KEY"};

int store_open(struct store *s, const char *uri, int flags, char *err, size_t errlen)
{
	const char *env = getenv("IPW_STORE");
	const char *path = uri ? uri : env && *env ? env : "ipw.db";
	int rc = -1;

	memset(s, 0, sizeof(*s));
	if (!strncmp(path, "postgres://", 11) || !strncmp(path, "postgresql://", 13)) {
		err_set(err, errlen, "store '%s': PostgreSQL store not built in this version "
			"(use a SQLite file path)", path);
		goto out;
	}
	if (!strncmp(path, "sqlite:", 7))
		path += 7;
	if (!*path) {
		err_set(err, errlen, "empty store path (pass --store PATH)");
		goto out;
	}
	s->ops = &store_sqlite;
	s->path = xstrdup(path);
	if (s->ops->open(s, path, flags, err, errlen) < 0) {
		free(s->path);
		s->path = NULL;
		s->ops = NULL;
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

int store_items_open(struct store *s, const char *run_id, struct store_cursor *c, char *err, size_t errlen)
{
	c->s = s;
	c->impl = NULL;
	return s->ops->items_open(s, run_id, c, err, errlen);
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
