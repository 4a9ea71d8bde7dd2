/*
 * score.c - scoring recorded queries: the runner's per-query hook for the
 * offline graders, 'ipw score' over a whole run (any grader, the judges,
 * resumable: each score row records its grader and settings), and the
 * per-run metrics input built from the queries and their latest scores.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "score.h"
#include "util.h"

void score_opts_init(struct score_opts *o)
{
	memset(o, 0, sizeof(*o));
	grade_settings_init(&o->gs);
	o->rule = PAIRWISE_EITHER;
}

static int is_judge(const char *grader)
{
	return !strcmp(grader, "judge_reference") || !strcmp(grader, "judge_pairwise");
}

char *score_settings_json(const char *grader, const struct score_opts *o)
{
	json_t *s = json_object();
	char *r;

	if (!strcmp(grader, "numeric")) {
		json_object_set_new(s, "rel_tol", json_real(o->gs.rel_tol));
		json_object_set_new(s, "abs_tol", json_real(o->gs.abs_tol));
	} else if (!strcmp(grader, "judge_reference")) {
		json_object_set_new(s, "judge_model", json_string(o->judge ? o->judge->model : ""));
		json_object_set_new(s, "prompt", json_string(JUDGE_REFERENCE_PROMPT_ID));
	} else if (!strcmp(grader, "judge_pairwise")) {
		char *ref = o->reference_run ? xasprintf("run %s", o->reference_run) : xstrdup("item");
		json_object_set_new(s, "judge_model", json_string(o->judge ? o->judge->model : ""));
		json_object_set_new(s, "prompt", json_string(JUDGE_PAIRWISE_PROMPT_ID));
		json_object_set_new(s, "pairwise_rule", json_string(pairwise_rule_name(o->rule)));
		json_object_set_new(s, "reference", json_string(ref));
		free(ref);
	}
	r = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
	json_decref(s);
	return r;
}

int score_row(const struct query_record *q, const struct item *it, struct store_score *sc,
	      struct grade_result *res, char **settings)
{
	const struct grader *g;
	struct score_opts o;

	memset(sc, 0, sizeof(*sc));
	*settings = NULL;
	if (!q || !it || !q->status || strcmp(q->status, "ok"))
		return 0;                     /* failed queries are not scored */
	g = grader_for_task(it->task);
	if (!g)
		return 0;                     /* judge tasks: 'ipw score' with a judge */
	score_opts_init(&o);
	grade_item(it, q->answer ? q->answer : "", &o.gs, res);
	*settings = score_settings_json(g->name, &o);
	sc->item_id = q->item_id;
	sc->grader = g->name;
	sc->settings_json = *settings;
	sc->correct = res->correct;
	sc->reason = res->reason;
	sc->scored_at = NAN;
	return 1;
}

int score_query(struct store *st, const char *run_id, const struct query_record *q, const struct item *it,
		char *err, size_t errlen)
{
	struct grade_result res;
	struct store_score sc;
	char *settings;
	int rc = 0;

	if (score_row(q, it, &sc, &res, &settings) == 1)
		rc = store_score_add(st, run_id, &sc, err, errlen);
	free(settings);
	return rc < 0 ? -1 : 0;
}

/* ---- score_run ---- */

/* A sorted (item id -> text, text) table. */
struct kv {
	char *key, *a, *b;
	int n;
};

struct table {
	struct kv *v;
	size_t n, cap;
};

static void table_add(struct table *t, const char *key, const char *a, const char *b, int n)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	t->v[t->n].key = xstrdup(key);
	t->v[t->n].a = a ? xstrdup(a) : NULL;
	t->v[t->n].b = b ? xstrdup(b) : NULL;
	t->v[t->n].n = n;
	t->n++;
}

static int cmp_kv(const void *x, const void *y)
{
	return strcmp(((const struct kv *)x)->key, ((const struct kv *)y)->key);
}

static void table_sort(struct table *t)
{
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), cmp_kv);
}

static const struct kv *table_get(const struct table *t, const char *key)
{
	struct kv k = {(char *)key, NULL, NULL, 0};
	return t->n ? bsearch(&k, t->v, t->n, sizeof(*t->v), cmp_kv) : NULL;
}

static void table_release(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].key);
		free(t->v[i].a);
		free(t->v[i].b);
	}
	free(t->v);
	memset(t, 0, sizeof(*t));
}

static int add_latest(const struct store_score *sc, void *ctx)
{
	table_add(ctx, sc->item_id, sc->grader, sc->settings_json, sc->correct);
	return 0;
}

static int add_reference(const struct query_record *q, void *ctx)
{
	if (q->status && !strcmp(q->status, "ok")) {
		char *a = grade_strip_thinking(q->answer ? q->answer : "", NULL);
		table_add(ctx, q->item_id, a, NULL, 0);
		free(a);
	}
	return 0;
}

struct item_ref {
	const char *id;
	const struct item *it;
};

static int cmp_item_ref(const void *x, const void *y)
{
	return strcmp(((const struct item_ref *)x)->id, ((const struct item_ref *)y)->id);
}

struct run_ctx {
	struct store *st;
	const char *run_id;
	const struct score_opts *o;
	struct score_report *rep;
	struct table latest;          /* item -> latest grader, settings, correct */
	struct table refs;            /* item -> reference run's answer */
	struct item_ref *items;       /* the dataset's items by id */
	size_t nitems;
	long total;
	char *err;
	size_t errlen;
};

/*
 * The options written in an mcq prompt ("A) text" lines from A on, as
 * item_prompt writes them), for records whose item is not in the dataset.
 */
static char **prompt_choices(const char *prompt, int *n)
{
	char **v = NULL;
	const char *p = prompt;
	*n = 0;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len >= 3 && p[0] == 'A' + *n && p[1] == ')' && p[2] == ' ' && *n < 26) {
			v = xrealloc(v, (size_t)(*n + 1) * sizeof(*v));
			v[*n] = xasprintf("%.*s", (int)(len - 3), p + 3);
			(*n)++;
		} else if (*n > 0) {
			break;
		}
		p = nl ? nl + 1 : NULL;
	}
	return v;
}

static int write_score(struct run_ctx *c, const char *item_id, const char *grader, const char *settings,
		       const struct grade_result *res)
{
	struct store_score sc = {item_id, grader, settings, res->correct, res->reason, NAN};
	if (store_score_add(c->st, c->run_id, &sc, c->err, c->errlen) < 0)
		return -1;
	if (res->correct >= 0) {
		c->rep->scored++;
		c->rep->correct += res->correct == 1;
	} else {
		c->rep->unscored++;
	}
	return 0;
}

/* The dataset's item of a record, or NULL (counted as no_item). */
static const struct item *record_item(struct run_ctx *c, const struct query_record *q)
{
	struct item_ref key = {q->item_id, NULL}, *found;
	if (c->nitems && (found = bsearch(&key, c->items, c->nitems, sizeof(*c->items), cmp_item_ref)))
		return found->it;
	c->rep->no_item++;
	return NULL;
}

/* The task: the item's, else the record's, else exact match. */
static enum task record_task(const struct item *it, const struct query_record *q)
{
	enum task task;
	if (it)
		return it->task;
	if (!q->task || task_parse(q->task, &task) < 0)
		return TASK_EXACT;
	return task;
}

/* Whether the latest score of the item has this grader and settings (then not graded again). */
static int already_scored(struct run_ctx *c, const struct query_record *q, const char *grader,
			  const char *settings)
{
	const struct kv *prev = table_get(&c->latest, q->item_id);
	return !c->o->rescore && prev && prev->n >= 0 && prev->a && !strcmp(prev->a, grader) && prev->b &&
	       !strcmp(prev->b, settings);
}

/*
 * judge_pairwise: compares with the reference run's answer, else the item's
 * reference response (or its answer), else the record's reference.
 */
static int grade_pairwise(struct run_ctx *c, const struct query_record *q, const struct item *it,
			  const char *question, struct grade_result *res)
{
	const struct score_opts *o = c->o;
	const char *reference;
	if (o->reference_run) {
		const struct kv *r = table_get(&c->refs, q->item_id);
		if (!r) {
			grade_set(res, -1, "", "run %s has no ok answer for item '%s' to compare with",
				  o->reference_run, q->item_id);
			return 0;
		}
		reference = r->a;
	} else {
		reference = it ? (it->reference_response ? it->reference_response : it->answer) : q->reference;
	}
	return judge_pairwise_grade(o->judge, question, reference, q->answer, o->rule, res, c->err, c->errlen);
}

/* A grader from the registry; an mcq record without its item takes the options from its prompt. */
static int grade_builtin(struct run_ctx *c, const struct query_record *q, const struct item *it,
			 const char *grader, struct grade_result *res)
{
	const struct grader *g = grader_find(grader);
	struct grade_input in;
	char **pc = NULL;
	int npc = 0;
	if (!g)
		return err_set(c->err, c->errlen, "unknown grader '%s'", grader);
	memset(&in, 0, sizeof(in));
	in.answer = q->answer ? q->answer : "";
	in.reference = it ? it->answer : q->reference ? q->reference : "";
	in.settings = &c->o->gs;
	if (it) {
		in.nchoices = it->nchoices;
		in.choices = (const char *const *)it->choices;
	} else if (!strcmp(grader, "mcq")) {
		pc = prompt_choices(q->prompt, &npc);
		in.nchoices = npc;
		in.choices = (const char *const *)pc;
	}
	g->grade(&in, res);
	for (int i = 0; i < npc; i++)
		free(pc[i]);
	free(pc);
	return 0;
}

/* Grades one record with grader; -1 when a judge is unreachable, its cache broken or the grader unknown. */
static int grade_record(struct run_ctx *c, const struct query_record *q, const struct item *it,
			const char *grader, struct grade_result *res)
{
	const char *question = it ? it->problem : q->prompt;
	if (!strcmp(grader, "judge_reference"))
		return judge_reference_grade(c->o->judge, question, it ? it->answer : q->reference, q->answer, res,
					     c->err, c->errlen);
	if (!strcmp(grader, "judge_pairwise"))
		return grade_pairwise(c, q, it, question, res);
	return grade_builtin(c, q, it, grader, res);
}

static int score_one(const struct query_record *q, void *ctx)
{
	struct run_ctx *c = ctx;
	const struct score_opts *o = c->o;
	const struct item *it;
	struct grade_result res;
	const char *grader;
	char *settings = NULL;
	int rc = 0;

	c->rep->queries++;
	if (o->progress)
		o->progress(o->arg, c->rep->queries, c->total);
	if (!q->status || strcmp(q->status, "ok")) {
		c->rep->failed++;
		return 0;
	}
	it = record_item(c, q);
	if (!o->grader && record_task(it, q) == TASK_NONE) {
		c->rep->ungraded++;   /* nothing to grade against: never a 0 */
		return 0;
	}
	grader = o->grader ? o->grader : task_name(record_task(it, q));
	settings = score_settings_json(grader, o);
	if (already_scored(c, q, grader, settings)) {
		c->rep->already++;
	} else if (is_judge(grader) && !o->judge) {
		c->rep->need_judge++;
	} else {
		/* a judge unreachable or its cache broken stops the run; what was written stays */
		rc = grade_record(c, q, it, grader, &res);
		if (rc >= 0)
			rc = write_score(c, q->item_id, grader, settings, &res);
	}
	free(settings);
	return rc < 0 ? -1 : 0;
}

static int count_query(const struct query_record *q, void *ctx)
{
	(void)q;
	(*(long *)ctx)++;
	return 0;
}

int score_run(struct store *st, const char *run_id, const struct score_opts *o, struct score_report *rep,
	      char *err, size_t errlen)
{
	struct run_ctx c;
	int rc = -1;

	memset(rep, 0, sizeof(*rep));
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.run_id = run_id;
	c.o = o;
	c.rep = rep;
	c.err = err;
	c.errlen = errlen;
	if (o->grader && !grader_find(o->grader) && !is_judge(o->grader)) {
		err_set(err, errlen, "unknown grader '%s' (use mcq, numeric, exact, regex, judge_reference or "
			"judge_pairwise)", o->grader);
		goto out;
	}
	if (store_score_rows_latest(st, run_id, add_latest, &c.latest, err, errlen) < 0)
		goto out;
	table_sort(&c.latest);
	if (o->reference_run) {
		if (store_queries_iter(st, o->reference_run, add_reference, &c.refs, err, errlen) < 0)
			goto out;
		table_sort(&c.refs);
	}
	if (o->ds && o->ds->n) {
		c.items = xcalloc(o->ds->n, sizeof(*c.items));
		for (size_t i = 0; i < o->ds->n; i++)
			c.items[i] = (struct item_ref){o->ds->items[i].id, &o->ds->items[i]};
		c.nitems = o->ds->n;
		qsort(c.items, c.nitems, sizeof(*c.items), cmp_item_ref);
	}
	if (o->progress && store_queries_iter(st, run_id, count_query, &c.total, err, errlen) < 0)
		goto out;
	if (store_queries_iter(st, run_id, score_one, &c, err, errlen) != 0)
		goto out;
	rc = 0;
out:
	table_release(&c.latest);
	table_release(&c.refs);
	free(c.items);
	return rc;
}
