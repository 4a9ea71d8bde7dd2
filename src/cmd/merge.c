/*
 * cmd/merge.c - 'ipw merge SRC... --into DEST': copies every run of each
 * source store (SQLite or PostgreSQL) into DEST with its sources, queries
 * (energies, attempts; the superseded rows of --resume too), scores and
 * samples, for hosts that ran offline. A
 * run keeps its id where DEST has it free; a run DEST already holds (the
 * same name, start time, version and dataset) gets only what it lacks, so
 * merging twice adds nothing.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store.h"
#include "../util.h"
#include "common.h"
#include "common_opts.h"

struct merge_args {
	struct cmd_common cc;    /* cc.store: unused (sources are operands) */
	const char *into;
};

static const struct opt_def merge_opts[] = {
	{"into", 0, OPT_STRING, offsetof(struct merge_args, into), "STORE", "the store to merge into (created if "
	 "missing; a path or postgresql:// URI)", NULL, 0, 0, 0, NULL, NULL, NULL},
};
#define NOPTS (sizeof(merge_opts) / sizeof(merge_opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: ipw merge SRC [SRC...] --into DEST\n"
		"Copies every run of each SRC store into DEST (SQLite files or postgresql:// URIs, any direction):\n"
		"sources, queries with their energies and attempts (superseded rows too), every score row and the\n"
		"telemetry samples.\n"
		"A run keeps its id when DEST has it free, else it gets the next one (said). A run DEST already\n"
		"holds (same name, start time, ipw version and dataset) gets only the queries and scores it lacks,\n"
		"so merging twice changes nothing. Judge caches are not merged.\n\n");
	opt_usage(f, merge_opts, NOPTS);
}

/* What identifies a run across stores (ids do not: two offline hosts both have run 1). */
static char *run_key(const struct run_record *r)
{
	return xasprintf("%s\x1f%.17g\x1f%s\x1f%s", r->name ? r->name : "", r->started_at,
			 r->version ? r->version : "", r->dataset_sha256 ? r->dataset_sha256 : "");
}

struct keyed {
	char **keys, **ids;
	size_t n, cap;
};

static void keyed_add(struct keyed *k, char *key, const char *id)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? 2 * k->cap : 64;
		k->keys = xrealloc(k->keys, k->cap * sizeof(char *));
		k->ids = xrealloc(k->ids, k->cap * sizeof(char *));
	}
	k->keys[k->n] = key;
	k->ids[k->n++] = id ? xstrdup(id) : NULL;
}

static const char *keyed_find(const struct keyed *k, const char *key)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->keys[i], key))
			return k->ids[i] ? k->ids[i] : "";
	return NULL;
}

static void keyed_release(struct keyed *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->keys[i]);
		free(k->ids[i]);
	}
	free(k->keys);
	free(k->ids);
	memset(k, 0, sizeof(*k));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted strings, for "already there" checks. */
struct set {
	char **v;
	size_t n;
};

static int set_has(const struct set *s, const char *x)
{
	return s->n && bsearch(&x, s->v, s->n, sizeof(char *), cmp_str);
}

struct totals {
	long long runs_new, runs_there, queries, scores, samples;
};

struct copy {
	struct store *src, *dst;
	const char *dst_id;
	struct set have;
	struct set started;       /* items whose superseded rows this merge copied: their next row supersedes */
	struct totals *t;
	char err[IPW_ERRLEN];
	struct store_sample *buf;
	size_t nbuf;
};

static int list_run(const struct run_record *r, void *ctx)
{
	keyed_add(ctx, run_key(r), r->id);
	return 0;
}

/* The item's latest row: inserted, or sent again over the superseded rows this merge copied. */
static int copy_query(const struct query_record *q, void *ctx)
{
	struct copy *c = ctx;
	int rc;
	if (set_has(&c->have, q->item_id))
		return 0;
	rc = set_has(&c->started, q->item_id) ? store_query_resend(c->dst, c->dst_id, q, c->err, sizeof(c->err))
					       : store_query_insert(c->dst, c->dst_id, q, c->err, sizeof(c->err));
	if (rc == 0)
		c->t->queries++;
	return rc < 0 ? -1 : 0;
}

/*
 * A superseded row of an item DEST lacks (rows come oldest first, an item's
 * together): the item's first one inserted, each later one superseding the
 * one before, as --resume made them.
 */
static int copy_superseded(const struct query_record *q, void *ctx)
{
	struct copy *c = ctx;
	int rc, again;
	if (set_has(&c->have, q->item_id))
		return 0;
	again = c->started.n && !strcmp(c->started.v[c->started.n - 1], q->item_id);
	rc = again ? store_query_resend(c->dst, c->dst_id, q, c->err, sizeof(c->err))
		   : store_query_insert(c->dst, c->dst_id, q, c->err, sizeof(c->err));
	if (rc == 0 && !again) {
		c->started.v = xrealloc(c->started.v, (c->started.n + 1) * sizeof(char *));
		c->started.v[c->started.n++] = xstrdup(q->item_id);
	}
	if (rc == 0)
		c->t->queries++;
	return rc < 0 ? -1 : 0;
}

static char *score_key(const struct store_score *sc)
{
	return xasprintf("%s\x1f%s\x1f%.17g\x1f%d", sc->item_id, sc->grader ? sc->grader : "", sc->scored_at,
			 sc->correct);
}

static int list_score(const struct store_score *sc, void *ctx)
{
	struct set *s = ctx;
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(char *));
	s->v[s->n++] = score_key(sc);
	return 0;
}

static int copy_score(const struct store_score *sc, void *ctx)
{
	struct copy *c = ctx;
	char *key = score_key(sc);
	int there = set_has(&c->have, key), rc = 0;
	free(key);
	if (there)
		return 0;
	if ((rc = store_score_add(c->dst, c->dst_id, sc, c->err, sizeof(c->err))) == 0)
		c->t->scores++;
	return rc < 0 ? -1 : 0;
}

#define SAMPLE_CHUNK 10000

static int flush_samples(struct copy *c)
{
	int rc = c->nbuf ? store_samples_append(c->dst, c->dst_id, c->buf, c->nbuf, c->err, sizeof(c->err)) : 0;
	c->t->samples += rc == 0 ? (long long)c->nbuf : 0;
	c->nbuf = 0;
	return rc;
}

static int copy_sample(const struct store_sample *v, void *ctx)
{
	struct copy *c = ctx;
	c->buf[c->nbuf++] = *v;
	return c->nbuf == SAMPLE_CHUNK ? flush_samples(c) : 0;
}

static int any_sample(const struct store_sample *v, void *ctx)
{
	(void)v;
	*(int *)ctx = 1;
	return 1;
}

static void set_release(struct set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Copies what DEST's run c->dst_id lacks of SRC's run src_id. */
static int copy_rows(struct copy *c, const char *src_id)
{
	int rc, has_samples = 0;
	if (store_items_done(c->dst, c->dst_id, &c->have.v, &c->have.n, c->err, sizeof(c->err)) < 0)
		return -1;
	if (c->have.n)
		qsort(c->have.v, c->have.n, sizeof(char *), cmp_str);
	/* history first: the superseded rows of the items DEST lacks, then every item's latest row */
	rc = store_superseded_iter(c->src, src_id, copy_superseded, c, c->err, sizeof(c->err));
	if (c->started.n)
		qsort(c->started.v, c->started.n, sizeof(char *), cmp_str);
	if (rc == 0)
		rc = store_queries_iter(c->src, src_id, copy_query, c, c->err, sizeof(c->err));
	set_release(&c->have);
	set_release(&c->started);
	if (rc == 0)
		rc = store_scores_iter(c->dst, c->dst_id, list_score, &c->have, c->err, sizeof(c->err));
	if (rc == 0) {
		if (c->have.n)
			qsort(c->have.v, c->have.n, sizeof(char *), cmp_str);
		rc = store_scores_iter(c->src, src_id, copy_score, c, c->err, sizeof(c->err));
	}
	set_release(&c->have);
	/* samples: copied whole into a run that has none (they carry no key to merge by) */
	if (rc == 0 && store_samples_iter(c->dst, c->dst_id, any_sample, &has_samples, c->err,
					  sizeof(c->err)) < 0)
		rc = -1;
	if (rc == 0 && !has_samples) {
		c->buf = xcalloc(SAMPLE_CHUNK, sizeof(*c->buf));
		rc = store_samples_iter(c->src, src_id, copy_sample, c, c->err, sizeof(c->err));
		if (rc == 0)
			rc = flush_samples(c);
		free(c->buf);
		c->buf = NULL;
	}
	return rc < 0 ? -1 : 0;
}

/* Puts SRC's run r into DEST (under its id if free) or finds it there; its DEST id in *id (owned by dkeys). */
static int place_run(struct copy *c, struct run_record *r, struct keyed *dkeys, const char **id)
{
	char *key = run_key(r);
	const char *there = keyed_find(dkeys, key);
	char *src_id = xstrdup(r->id);
	int rc = 0;
	if (there) {
		struct run_record d;
		memset(&d, 0, sizeof(d));
		*id = there;
		c->t->runs_there++;
		/* a run merged while it was still running: its later status and summary */
		if (store_run_get(c->dst, there, &d, c->err, sizeof(c->err)) < 0)
			rc = -1;
		else if (strcmp(d.status, r->status) && strcmp(d.status, "completed")) {
			free(r->id);
			r->id = xstrdup(there);
			rc = store_run_update(c->dst, r, c->err, sizeof(c->err));
		}
		run_record_release(&d);
		free(key);
		free(src_id);
		return rc;
	}
	rc = store_run_create_id(c->dst, r, c->err, sizeof(c->err));
	if (rc == STORE_EDUPLICATE) {
		free(r->id);
		r->id = NULL;
		rc = store_run_create(c->dst, r, c->err, sizeof(c->err));
		if (rc == 0)
			printf("run %s of %s is run %s in %s (id %s was taken)\n", src_id, c->src->path, r->id,
			       c->dst->path, src_id);
	}
	if (rc == 0) {
		keyed_add(dkeys, key, r->id);
		*id = dkeys->ids[dkeys->n - 1];
		c->t->runs_new++;
	} else
		free(key);
	free(src_id);
	return rc;
}

static int merge_one(struct store *src, struct store *dst, struct keyed *dkeys, struct totals *t, char *err,
		     size_t errlen)
{
	struct keyed runs = {0};
	struct copy c;
	int rc;
	memset(&c, 0, sizeof(c));
	c.src = src;
	c.dst = dst;
	c.t = t;
	rc = store_runs_list(src, list_run, &runs, err, errlen);
	for (size_t i = 0; rc == 0 && i < runs.n; i++) {
		struct run_record r;
		memset(&r, 0, sizeof(r));
		rc = store_run_get(src, runs.ids[i], &r, c.err, sizeof(c.err));
		if (rc == 0)
			rc = place_run(&c, &r, dkeys, &c.dst_id);
		if (rc == 0)
			rc = copy_rows(&c, runs.ids[i]);
		if (rc < 0)
			err_set(err, errlen, "run %s of %s: %s", runs.ids[i], src->path, c.err);
		run_record_release(&r);
	}
	keyed_release(&runs);
	return rc < 0 ? -1 : 0;
}

int cmd_merge(int argc, char **argv)
{
	struct merge_args a;
	struct store dst;
	struct keyed dkeys = {0};
	struct totals t = {0};
	char err[IPW_ERRLEN] = "";
	int rc, first = 0;

	memset(&a, 0, sizeof(a));
	cmd_common_init(&a.cc, "merge", OUT_TEXT, OUT_TEXT);
	if ((rc = cmd_opt_parse(&a.cc, merge_opts, NOPTS, &a, argc, argv, &first, NULL, usage)))
		return rc == CMD_PARSE_HELP ? 0 : rc;
	if (!a.into || first >= argc) {
		fprintf(stderr, "ipw merge: name the source stores and --into DEST (ipw merge --help)\n");
		return EXIT_USAGE;
	}
	if (store_open(&dst, a.into, STORE_CREATE, err, sizeof(err)) < 0) {
		fprintf(stderr, "ipw merge: %s\n", err);
		return EXIT_INPUT;
	}
	rc = store_runs_list(&dst, list_run, &dkeys, err, sizeof(err));
	for (int i = first; rc == 0 && i < argc; i++) {
		struct store src;
		struct totals before = t;
		if ((rc = store_open(&src, argv[i], STORE_READONLY, err, sizeof(err))) < 0)
			break;
		rc = merge_one(&src, &dst, &dkeys, &t, err, sizeof(err));
		if (rc == 0)
			printf("merged %s into %s: %lld runs new, %lld already there; %lld queries, %lld scores, "
			       "%lld samples added\n", src.path, dst.path, t.runs_new - before.runs_new,
			       t.runs_there - before.runs_there, t.queries - before.queries, t.scores - before.scores,
			       t.samples - before.samples);
		store_close(&src);
	}
	if (rc < 0)
		fprintf(stderr, "ipw merge: %s\n", err);
	keyed_release(&dkeys);
	store_close(&dst);
	return rc < 0 ? EXIT_INPUT : 0;
}
