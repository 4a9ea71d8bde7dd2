/*
 * test_score.c - scoring against a real store: the judgement cache and the
 * latest score rows (store additions), score_query as the runner calls it
 * (failed queries and judge tasks left alone), score_run (resume by grader
 * and settings, --grader override, --rescore, mcq options read back from the
 * prompt) and the run's metrics (through src/aggregate.c) on a hand-computed run where the ratio of means
 * and the mean of ratios differ.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "score.h"
#include "store.h"
#include "util.h"

static char dir[64], dbpath[128];
static struct store st;
static char run_id[32];

static void setup(void)
{
	struct run_record r;
	char err[IPW_ERRLEN];

	unsetenv("IPW_JUDGE_API_KEY");
	unsetenv("IPW_API_KEY");
	unsetenv("OPENAI_API_KEY");
	strcpy(dir, "/tmp/ipw-test-score-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(dbpath, sizeof dbpath, "%s/s.db", dir);
	cr_assert_eq(store_open(&st, dbpath, STORE_CREATE, err, sizeof err), 0, "%s", err);
	memset(&r, 0, sizeof(r));
	r.name = "t";
	r.status = "completed";
	r.n_items = -1;
	r.started_at = 1700000000;
	r.ended_at = r.idle_seconds = NAN;
	cr_assert_eq(store_run_create(&st, &r, err, sizeof err), 0, "%s", err);
	snprintf(run_id, sizeof run_id, "%s", r.id);
	free(r.id);
}

static void teardown(void)
{
	char cmd[128];
	store_close(&st);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(score, .init = setup, .fini = teardown, .timeout = 60);

static struct query_record query(long long seq, const char *item, const char *task, const char *status,
				 const char *answer, const char *reference)
{
	struct query_record q;
	memset(&q, 0, sizeof(q));
	q.seq = seq;
	q.item_id = (char *)item;
	q.task = (char *)task;
	q.status = (char *)status;
	q.answer = (char *)answer;
	q.reference = (char *)reference;
	q.subject = "s";
	q.t_send_s = q.t_first_s = q.t_end_s = NAN;
	q.ttft_s = q.e2e_s = q.tpot_s = q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
	q.prompt_tokens = q.completion_tokens = q.reasoning_tokens = -1;
	q.accel_j = q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	q.http_status = -1;
	return q;
}

static void insert(struct query_record *q)
{
	char err[IPW_ERRLEN];
	cr_assert_eq(store_query_insert(&st, run_id, q, err, sizeof err), 0, "%s", err);
}

/* latest rows, flattened "item:grader:correct;" */
static int flat(const struct store_score *sc, void *ctx)
{
	buf_appendf(ctx, "%s:%s:%d;", sc->item_id, sc->grader, sc->correct);
	return 0;
}

static char *latest(void)
{
	struct buf b;
	char err[IPW_ERRLEN];
	buf_init(&b, 0);
	buf_appends(&b, "");
	cr_assert_eq(store_score_rows_latest(&st, run_id, flat, &b, err, sizeof err), 0, "%s", err);
	char *s = buf_detach(&b);
	buf_release(&b);
	return s;
}

Test(score, judgement_cache_keeps_the_first)
{
	char err[IPW_ERRLEN], *v = NULL, *raw = NULL;
	const char *sha = "ab12";
	struct store_judgement j = {sha, "m1", "TRUE", "fine.\nVERDICT: TRUE", NAN};

	cr_assert_eq(store_judgement_get(&st, sha, "m1", &v, &raw, err, sizeof err), STORE_ENOTFOUND);
	cr_assert_eq(store_judgement_put(&st, &j, err, sizeof err), 0, "%s", err);
	j.verdict = "FALSE";
	cr_assert_eq(store_judgement_put(&st, &j, err, sizeof err), 0, "%s", err);
	cr_assert_eq(store_judgement_get(&st, sha, "m1", &v, &raw, err, sizeof err), 0, "%s", err);
	cr_assert_str_eq(v, "TRUE");
	cr_assert_str_eq(raw, "fine.\nVERDICT: TRUE");
	free(v);
	free(raw);
	cr_assert_eq(store_judgement_get(&st, sha, "m2", &v, &raw, err, sizeof err), STORE_ENOTFOUND,
		     "the judge model is part of the key");
	/* a reply echoing the judge key is refused */
	setenv("IPW_JUDGE_API_KEY", "sk-secret-judge-0001", 1);
	j.prompt_sha256 = "cd34";
	j.raw_text = "your key sk-secret-judge-0001 is wrong";
	cr_assert_eq(store_judgement_put(&st, &j, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "IPW_JUDGE_API_KEY"));
	cr_assert_null(strstr(err, "sk-secret"));
	unsetenv("IPW_JUDGE_API_KEY");
}

Test(score, score_query_as_the_runner_calls_it)
{
	char err[IPW_ERRLEN];
	char *choices[] = {"red", "blue", "green"};
	struct item mcq = {.id = "a", .problem = "Colour?", .answer = "B", .subject = "s", .task = TASK_MCQ,
			   .choices = choices, .nchoices = 3};
	struct item num = {.id = "b", .problem = "6*7?", .answer = "42", .subject = "s", .task = TASK_NUMERIC};
	struct item jud = {.id = "c", .problem = "Why?", .answer = "Because.", .subject = "s",
			   .task = TASK_JUDGE_REFERENCE};
	struct item failed = {.id = "d", .problem = "Colour?", .answer = "B", .subject = "s", .task = TASK_MCQ,
			      .choices = choices, .nchoices = 3};
	struct query_record q1 = query(0, "a", "mcq", "ok", "<think>A? no</think>The answer is blue.", "B");
	struct query_record q2 = query(1, "b", "numeric", "ok", "Answer: 41", "42");
	struct query_record q3 = query(2, "c", "judge_reference", "ok", "It is so.", "Because.");
	struct query_record q4 = query(3, "d", "mcq", "failed", "Answer: B", "B");
	char *s;

	insert(&q1);
	cr_assert_eq(score_query(&st, run_id, &q1, &mcq, err, sizeof err), 0, "%s", err);
	insert(&q2);
	cr_assert_eq(score_query(&st, run_id, &q2, &num, err, sizeof err), 0, "%s", err);
	insert(&q3);
	cr_assert_eq(score_query(&st, run_id, &q3, &jud, err, sizeof err), 0, "%s", err);
	insert(&q4);
	cr_assert_eq(score_query(&st, run_id, &q4, &failed, err, sizeof err), 0, "%s", err);
	s = latest();
	cr_assert_str_eq(s, "a:mcq:1;b:numeric:0;", "judge tasks and failed queries are not scored");
	free(s);
	/* a broken store is reported */
	cr_assert_eq(score_query(&st, "999", &q1, &mcq, err, sizeof err), -1);
}

Test(score, settings_json_records_what_matters)
{
	struct score_opts o;
	struct judge j;
	char *s;

	score_opts_init(&o);
	s = score_settings_json("mcq", &o);
	cr_assert_str_eq(s, "{}");
	free(s);
	s = score_settings_json("numeric", &o);
	cr_assert_str_eq(s, "{\"abs_tol\":1e-9,\"rel_tol\":1e-6}");
	free(s);
	memset(&j, 0, sizeof(j));
	j.model = "big-judge";
	o.judge = &j;
	o.rule = PAIRWISE_BOTH;
	o.reference_run = "7";
	s = score_settings_json("judge_pairwise", &o);
	cr_assert_str_eq(s, "{\"judge_model\":\"big-judge\",\"pairwise_rule\":\"both\",\"prompt\":\"" JUDGE_PAIRWISE_PROMPT_ID
			 "\",\"reference\":\"run 7\"}");
	free(s);
	s = score_settings_json("judge_reference", &o);
	cr_assert_str_eq(s, "{\"judge_model\":\"big-judge\",\"prompt\":\"" JUDGE_REFERENCE_PROMPT_ID "\"}");
	free(s);
}

Test(score, score_run_resumes_overrides_and_rescores)
{
	char err[IPW_ERRLEN], *s;
	struct score_opts o;
	struct score_report rep;
	char *choices[] = {"red", "blue", "green", "cyan", "magenta"};
	struct item mcq = {.id = "a", .problem = "Colour?", .answer = "E", .subject = "s", .task = TASK_MCQ,
			   .choices = choices, .nchoices = 5};
	char *prompt = item_prompt(&mcq);
	struct query_record q1 = query(0, "a", "mcq", "ok", "I pick magenta", "E");
	struct query_record q2 = query(1, "b", "exact", "ok", "Answer: Paris", "paris");
	struct query_record q3 = query(2, "c", "judge_pairwise", "ok", "Hello", "");
	struct query_record q4 = query(3, "d", "numeric", "failed", NULL, "1");

	q1.prompt = prompt;
	insert(&q1);
	insert(&q2);
	insert(&q3);
	insert(&q4);
	score_opts_init(&o);
	/* no dataset: the mcq options come back from the stored prompt ("magenta" is E) */
	cr_assert_eq(score_run(&st, run_id, &o, &rep, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rep.queries, 4);
	cr_assert_eq(rep.scored, 2);
	cr_assert_eq(rep.correct, 2);
	cr_assert_eq(rep.failed, 1);
	cr_assert_eq(rep.need_judge, 1);
	cr_assert_eq(rep.no_item, 3, "failed queries are not looked up");
	s = latest();
	cr_assert_str_eq(s, "a:mcq:1;b:exact:1;");
	free(s);
	/* again: nothing to do */
	cr_assert_eq(score_run(&st, run_id, &o, &rep, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rep.scored, 0);
	cr_assert_eq(rep.already, 2);
	/* another grader for every item: a new latest score with that grader */
	o.grader = "exact";
	cr_assert_eq(score_run(&st, run_id, &o, &rep, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rep.scored, 1);
	cr_assert_eq(rep.already, 1, "b's latest score is already exact with the same settings");
	cr_assert_eq(rep.correct, 0, "exact on the mcq answer 'I pick magenta' vs 'E' is wrong");
	cr_assert_eq(rep.unscored, 1, "exact with an empty reference is unscored");
	s = latest();
	cr_assert_str_eq(s, "a:exact:0;b:exact:1;c:exact:-1;");
	free(s);
	/* back to the task graders: the mcq item is scored again (its latest score is another grader's) */
	o.grader = NULL;
	cr_assert_eq(score_run(&st, run_id, &o, &rep, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rep.scored, 1);
	cr_assert_eq(rep.already, 1);
	cr_assert_eq(rep.need_judge, 1);
	o.rescore = 1;
	cr_assert_eq(score_run(&st, run_id, &o, &rep, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rep.scored, 2);
	cr_assert_eq(rep.already, 0);
	o.grader = "nonsense";
	cr_assert_eq(score_run(&st, run_id, &o, &rep, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "unknown grader 'nonsense'"));
	free(prompt);
}

Test(score, metrics_are_ratios_of_means)
{
	char err[IPW_ERRLEN];
	/* acc 1, 1, 0, 1; E 100, 20, 50, 30 J; latency 2, 1, 1, 4 s -> P 50, 20, 50, 7.5 W */
	const double e[] = {100, 20, 50, 30}, lat[] = {2, 1, 1, 4};
	const int acc[] = {1, 1, 0, 1};
	const char *ids[] = {"q0", "q1", "q2", "q3"};
	struct store_score sc = {NULL, "mcq", "{}", 0, "r", NAN};

	for (int i = 0; i < 4; i++) {
		struct query_record q = query(i, ids[i], "mcq", "ok", "x", "A");
		q.accel_j = e[i];
		q.accel_dyn_j = e[i] / 2;
		q.e2e_s = lat[i];
		q.completion_tokens = 10 * (i + 1);
		q.subject = i < 2 ? "alpha" : "beta";
		insert(&q);
		sc.item_id = ids[i];
		sc.correct = 1 - acc[i];      /* an earlier, different score: the latest wins */
		cr_assert_eq(store_score_add(&st, run_id, &sc, err, sizeof err), 0, "%s", err);
		sc.correct = acc[i];
		cr_assert_eq(store_score_add(&st, run_id, &sc, err, sizeof err), 0, "%s", err);
	}
	{
		struct query_record f = query(4, "q4", "mcq", "failed", NULL, "A");
		struct query_record u = query(5, "q5", "mcq", "ok", "x", "A");   /* never scored */
		f.subject = u.subject = "beta";
		f.accel_j = 1000;
		f.e2e_s = 1;
		u.accel_j = 1000;
		u.e2e_s = 1;
		insert(&f);
		insert(&u);
	}
	{
		/* the run's numbers come from the aggregation module, as show/compare/report print them */
		struct agg_options ao;
		struct agg_result ar;
		const struct metrics *m = &ar.m;
		agg_options_init(&ao);
		ao.by_subject = 1;
		cr_assert_eq(agg_run(&st, run_id, AGG_LOAD_QUERIES, &ao, &ar, err, sizeof err), 0, "%s", err);
		cr_assert_eq(m->n_scored, 4);
		cr_assert_eq(m->n_failed, 1);
		cr_assert_eq(m->n_unscored, 1);
		cr_assert_float_eq(m->accuracy.value, 0.75, 1e-12);
		cr_assert_float_eq(m->ipw.value, 0.75 / 31.875, 1e-12, "ratio of means, not mean of ratios (0.0508)");
		cr_assert_float_eq(m->ipj.value, 0.75 / 50.0, 1e-12);
		cr_assert_float_eq(m->ipj_dynamic.value, 0.75 / 25.0, 1e-12);
		cr_assert_float_eq(m->j_per_token.value, 200.0 / 100.0, 1e-12);
		cr_assert(m->ipw.ci_low <= m->ipw.value && m->ipw.value <= m->ipw.ci_high);
		cr_assert_eq(ar.nsubj, 2);
		cr_assert_str_eq(ar.subj[0].subject, "alpha");
		cr_assert_float_eq(ar.subj[0].m.ipw.value, 1.0 / 35.0, 1e-12);
		cr_assert_str_eq(ar.subj[1].subject, "beta");
		cr_assert_float_eq(ar.subj[1].m.accuracy.value, 0.5, 1e-12);
		agg_result_release(&ar);
	}
}
