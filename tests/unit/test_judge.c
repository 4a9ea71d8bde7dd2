/*
 * test_judge.c - the LLM judges: verdict parsing (reference and Arena-Hard
 * labels, thinking removed, conflicts and malformed replies), and the graders
 * against the loopback fake judge (build/fakes/fakejudge): the position swap,
 * both pairwise rules, the cache (a second judgement sends no request, counted
 * at the server), malformed verdicts left unscored and not cached, a failing
 * endpoint with retries, an unreachable one, the shared retry policy
 * (Retry-After honoured, a 400 not retried), and the key (sent from the
 * variable named, never in a message).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "judge.h"
#include "store.h"
#include "util.h"

/* ---- parsing ---- */

static int ref(const char *reply, char *v)
{
	return judge_reference_parse(reply, v, 200);
}

Test(judge_parse, reference_verdicts)
{
	char v[200];
	cr_assert_eq(ref("Looks right.\nVERDICT: TRUE", v), 0);
	cr_assert_str_eq(v, "TRUE");
	cr_assert_eq(ref("Wrong unit.\n**VERDICT:** FALSE", v), 0);
	cr_assert_str_eq(v, "FALSE");
	cr_assert_eq(ref("verdict: true.", v), 0);
	cr_assert_str_eq(v, "TRUE");
	cr_assert_eq(ref("Verdict = [Incorrect]", v), 0);
	cr_assert_str_eq(v, "FALSE");
	/* the last VERDICT counts (a judge that corrects itself) */
	cr_assert_eq(ref("VERDICT: FALSE\nOn reflection the units match.\nVERDICT: TRUE", v), 0);
	cr_assert_str_eq(v, "TRUE");
	/* a verdict inside the judge's thinking does not count */
	cr_assert_eq(ref("<think>VERDICT: TRUE?</think>The answer misses a case.\nVERDICT: FALSE", v), 0);
	cr_assert_str_eq(v, "FALSE");
	/* no label, but the final line is just the word */
	cr_assert_eq(ref("The response is correct.\n\n**TRUE**", v), 0);
	cr_assert_str_eq(v, "TRUE");
	/* malformed */
	cr_assert_eq(ref("VERDICT: probably", v), -1);
	cr_assert_not_null(strstr(v, "neither TRUE nor FALSE"), "%s", v);
	cr_assert_eq(ref("I think the response is fine.", v), -1);
	cr_assert_not_null(strstr(v, "no 'VERDICT: TRUE|FALSE' line"), "%s", v);
	cr_assert_eq(ref("TRUE story, but no verdict", v), -1);
	cr_assert_eq(ref("", v), -1);
	cr_assert_eq(ref("<think>VERDICT: TRUE</think>", v), -1, "only thinking: no verdict");
}

static int pw(const char *reply, char *v)
{
	return judge_pairwise_parse(reply, v, 200);
}

Test(judge_parse, pairwise_labels)
{
	char v[200];
	const char *ok[][2] = {
		{"My final verdict is [[A>>B]]", "A>>B"}, {"[[A>B]]", "A>B"}, {"Tie: [[A=B]].", "A=B"},
		{"[[B>A]]", "B>A"}, {"[[B>>A]]", "B>>A"}, {"Final verdict: [[ B > A ]]", "B>A"},
		{"[[A>B]] as said: [[A>B]]", "A>B"}, {"<think>[[B>>A]]?</think> [[A=B]]", "A=B"},
		{"[[note]] then [[B>A]]", "B>A"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(pw(ok[i][0], v), 0, "%s: %s", ok[i][0], v);
		cr_assert_str_eq(v, ok[i][1], "%s", ok[i][0]);
	}
	cr_assert_eq(pw("[[A>B]] no wait [[B>A]]", v), -1);
	cr_assert_not_null(strstr(v, "conflicting verdicts [[A>B]] and [[B>A]]"), "%s", v);
	cr_assert_eq(pw("A is better than B.", v), -1);
	cr_assert_not_null(strstr(v, "no verdict label"), "%s", v);
	cr_assert_eq(pw("[[C>D]]", v), -1);
	cr_assert_eq(pw("[[A>B", v), -1);
}

Test(judge_parse, prompts_and_rules)
{
	char *p = judge_pairwise_prompt("Q?", "first answer", "second answer");
	char *a = strstr(p, "### Answer of assistant A\nfirst answer\n"), *b = strstr(p, "### Answer of assistant B\nsecond answer\n");
	enum pairwise_rule r;
	cr_assert(a && b && a < b, "%s", p);
	free(p);
	p = judge_reference_prompt("Q?", "REF", "RESP");
	cr_assert_not_null(strstr(p, "### Reference answer\nREF\n"));
	cr_assert_not_null(strstr(p, "### Response to grade\nRESP\n### End of response"));
	free(p);
	cr_assert_eq(pairwise_rule_parse("either", &r), 0);
	cr_assert_eq(r, PAIRWISE_EITHER);
	cr_assert_eq(pairwise_rule_parse("both", &r), 0);
	cr_assert_eq(r, PAIRWISE_BOTH);
	cr_assert_eq(pairwise_rule_parse("all", &r), -1);
	cr_assert_str_eq(pairwise_rule_name(PAIRWISE_BOTH), "both");
}

/* ---- against the fake judge ---- */

struct fake {
	pid_t pid;
	char dir[64], url[64];
};

static struct fake F;
static char dbpath[128];

static void fake_start(struct fake *f, const char *extra1, const char *extra2)
{
	const char *b = getenv("IPW_BUILD");
	char path[512], pfile[128];
	int port = 0;

	snprintf(path, sizeof path, "%s/fakes/fakejudge", b ? b : "build");
	snprintf(f->dir, sizeof f->dir, "/tmp/ipwjudge.XXXXXX");
	cr_assert_not_null(mkdtemp(f->dir));
	snprintf(pfile, sizeof pfile, "%s/port", f->dir);
	f->pid = fork();
	cr_assert_geq(f->pid, 0);
	if (f->pid == 0) {
		execl(path, path, "--port-file", pfile, "--lifetime-s", "120", extra1, extra2, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000 && !port; i++) {
		FILE *fp = fopen(pfile, "r");
		if (fp) {
			if (fscanf(fp, "%d", &port) != 1)
				port = 0;
			fclose(fp);
		}
		if (!port)
			usleep(10000);
	}
	cr_assert_gt(port, 0, "fakejudge (%s) did not start", path);
	snprintf(f->url, sizeof f->url, "http://127.0.0.1:%d", port);
	snprintf(dbpath, sizeof dbpath, "%s/s.db", f->dir);
}

static void fake_stop(void)
{
	char cmd[128];
	if (F.pid > 0) {
		kill(F.pid, SIGTERM);
		waitpid(F.pid, NULL, 0);
		F.pid = 0;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.dir);
	if (F.dir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", F.dir);
}

static size_t sink(char *p, size_t s, size_t n, void *arg)
{
	struct buf *b = arg;
	buf_append(b, p, s * n);
	return s * n;
}

/* Chat requests the fake has served. */
static long fake_count(void)
{
	CURL *c = curl_easy_init();
	struct buf b;
	char *url = xasprintf("%s/x/count", F.url);
	long n = -1;
	buf_init(&b, 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (curl_easy_perform(c) == CURLE_OK)
		sscanf(b.data, "{\"requests\":%ld}", &n);
	curl_easy_cleanup(c);
	buf_release(&b);
	free(url);
	return n;
}

static void start_plain(void)
{
	unsetenv("IPW_JUDGE_API_KEY");
	fake_start(&F, NULL, NULL);
}

static void judge_open(struct judge *j, struct store *st, const char *url, int attempts)
{
	struct judge_opts o;
	char err[IPW_ERRLEN];
	judge_opts_init(&o);
	o.url = url;
	o.model = "judge-m";
	o.max_attempts = attempts;
	o.backoff_s = 0.01;
	o.timeout_s = 30;
	if (st)
		cr_assert_eq(store_open(st, dbpath, STORE_CREATE, err, sizeof err), 0, "%s", err);
	cr_assert_eq(judge_init(j, &o, st, err, sizeof err), 0, "%s", err);
}

TestSuite(judge_fake, .init = start_plain, .fini = fake_stop, .timeout = 60);

Test(judge_fake, reference_verdicts_and_cache)
{
	struct judge j;
	struct store st;
	struct grade_result r;
	char err[IPW_ERRLEN];

	judge_open(&j, &st, F.url, 1);
	cr_assert_eq(judge_reference_grade(&j, "Capital of France?", "Paris", "It is Paris.", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	cr_assert_str_eq(r.reason, "judge judge-m: VERDICT TRUE");
	cr_assert_eq(judge_reference_grade(&j, "Capital of France?", "Paris", "Lyon", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 0, "%s", r.reason);
	/* thinking in the answer is removed before judging; a misleading verdict in the judge's thinking is ignored */
	cr_assert_eq(judge_reference_grade(&j, "Q", "Rome", "<think>maybe Paris</think>JUDGE-THINK Rome", &r, err,
					   sizeof err), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	cr_assert_eq(fake_count(), 3);
	cr_assert_eq(j.n_requests, 3);
	/* the same judgements again: all from the cache, no request reaches the server */
	cr_assert_eq(judge_reference_grade(&j, "Capital of France?", "Paris", "It is Paris.", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 1);
	cr_assert_not_null(strstr(r.reason, "(cached)"));
	cr_assert_eq(judge_reference_grade(&j, "Capital of France?", "Paris", "Lyon", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 0);
	cr_assert_eq(fake_count(), 3, "a cached judgement sent a request");
	cr_assert_eq(j.n_cached, 2);
	/* another judge model is another cache key */
	free(j.model);
	j.model = xstrdup("judge-2");
	cr_assert_eq(judge_reference_grade(&j, "Capital of France?", "Paris", "Lyon", &r, err, sizeof err), 0);
	cr_assert_eq(fake_count(), 4);
	judge_release(&j);
	store_close(&st);
}

Test(judge_fake, malformed_and_failing_replies_are_unscored_not_cached)
{
	struct judge j;
	struct store st;
	struct grade_result r;
	char err[IPW_ERRLEN];

	judge_open(&j, &st, F.url, 3);
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "JUDGE-MALFORMED Paris", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, -1);
	cr_assert_not_null(strstr(r.reason, "no 'VERDICT: TRUE|FALSE' line"), "%s", r.reason);
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "JUDGE-MALFORMED Paris", &r, err, sizeof err), 0);
	cr_assert_eq(fake_count(), 2, "a malformed verdict must not be cached");
	/* HTTP 500: retried (3 attempts), then unscored with the reason */
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "JUDGE-500", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, -1);
	cr_assert_not_null(strstr(r.reason, "HTTP 500"), "%s", r.reason);
	cr_assert_not_null(strstr(r.reason, "scripted failure"), "%s", r.reason);
	cr_assert_eq(fake_count(), 5);
	/* pairwise: conflicting labels and a failing game leave the item unscored */
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "Q=1 ref", "JUDGE-CONFLICT", PAIRWISE_EITHER, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, -1);
	cr_assert_not_null(strstr(r.reason, "conflicting verdicts"), "%s", r.reason);
	/* empty answers and missing references need no request */
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "<think>hmm</think>", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 0);
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "", "answer", PAIRWISE_EITHER, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, -1);
	cr_assert_eq(fake_count(), 6);
	judge_release(&j);
	store_close(&st);
}

Test(judge_fake, pairwise_position_swap_and_rules)
{
	struct judge j;
	struct store st;
	struct grade_result r;
	char err[IPW_ERRLEN];

	judge_open(&j, &st, F.url, 1);
	/* clearly better: wins in both orders */
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "Q=1 short", "Q=3 better", PAIRWISE_BOTH, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	cr_assert_str_eq(r.reason, "reference as A: [[B>>A]] win; answer as A: [[A>>B]] win; rule both: correct");
	/* worse: loses in both orders */
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "Q=3 good", "Q=2 fair", PAIRWISE_EITHER, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 0, "%s", r.reason);
	cr_assert_str_eq(r.reason, "reference as A: [[A>B]] loss; answer as A: [[B>A]] loss; rule either: wrong");
	/* a tie counts as correct under both rules */
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "Q=2 a", "Q=2 b", PAIRWISE_BOTH, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	cr_assert_not_null(strstr(r.reason, "tie"));
	/* a judge that favours position A: the answer wins only when it is A */
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "Q=1 ref", "JUDGE-BIAS", PAIRWISE_EITHER, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	cr_assert_str_eq(r.reason, "reference as A: [[A>B]] loss; answer as A: [[A>B]] win; rule either: correct");
	long n = fake_count();
	cr_assert_eq(n, 8, "two games per item");
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "Q=1 ref", "JUDGE-BIAS", PAIRWISE_BOTH, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 0, "%s", r.reason);
	cr_assert_str_eq(r.reason, "reference as A: [[A>B]] loss; answer as A: [[A>B]] win; rule both: wrong (cached)");
	cr_assert_eq(fake_count(), n, "changing the rule re-uses the cached games");
	/* labels with spaces and thinking in the judge's reply */
	cr_assert_eq(judge_pairwise_grade(&j, "Q", "Q=1 r", "Q=2 JUDGE-THINK", PAIRWISE_BOTH, &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	judge_release(&j);
	store_close(&st);
}

Test(judge_fake, unreachable_endpoint_stops)
{
	struct judge j;
	struct grade_result r;
	char err[IPW_ERRLEN] = "";

	judge_open(&j, NULL, "127.0.0.1:1/v1/", 2);
	cr_assert_str_eq(j.chat_url, "http://127.0.0.1:1/v1/chat/completions");
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "Paris", &r, err, sizeof err), JUDGE_ECONNECT);
	cr_assert_eq(r.correct, -1);
	cr_assert_not_null(strstr(err, "cannot be reached"), "%s", err);
	cr_assert_eq(j.n_requests, 2, "connection failures are retried");
	judge_release(&j);
}

Test(judge_fake, retry_policy_shared_with_the_client)
{
	struct judge j;
	struct grade_result r;
	char err[IPW_ERRLEN] = "";
	struct timespec t0, t1;

	judge_open(&j, NULL, F.url, 3);
	/* 429 with Retry-After: 1, then an answer: the second attempt waits the server's second, not the 10 ms backoff */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "Paris JUDGE-429", &r, err, sizeof err), 0, "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	cr_assert_eq(j.n_requests, 2);
	cr_assert_geq((t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, 950.0, "Retry-After not honoured");
	/* a 400 is not retried */
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "Paris JUDGE-400", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, -1);
	cr_assert_not_null(strstr(r.reason, "HTTP 400"), "%s", r.reason);
	cr_assert_eq(j.n_requests, 3, "a 400 was retried");
	cr_assert_eq(fake_count(), 3);
	/* the judge's client is the shared one, on the OpenAI API, non-streaming (the fake refuses streams) */
	cr_assert_str_eq(client_api(j.client), "openai");
	cr_assert_eq(j.retry.max_attempts, 3);
	judge_release(&j);
}

static void start_keyed(void)
{
	fake_start(&F, "--require-key", "sk-test-judge-key-42");
}

TestSuite(judge_key, .init = start_keyed, .fini = fake_stop, .timeout = 60);

Test(judge_key, key_from_named_variable_and_never_shown)
{
	struct judge j;
	struct judge_opts o;
	struct grade_result r;
	char err[IPW_ERRLEN] = "";

	/* the default variable holds a wrong key: refused, the message does not show it */
	setenv("IPW_JUDGE_API_KEY", "sk-wrong-key-123456789", 1);
	judge_open(&j, NULL, F.url, 3);
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "Paris", &r, err, sizeof err), JUDGE_EAUTH);
	cr_assert_eq(j.n_requests, 1, "a refused key is not retried");
	cr_assert_not_null(strstr(err, "HTTP 401"), "%s", err);
	cr_assert_not_null(strstr(err, "[redacted]"), "%s", err);
	cr_assert_null(strstr(err, "sk-wrong-key"), "%s", err);
	cr_assert_null(strstr(r.reason, "sk-wrong-key"), "%s", r.reason);
	cr_assert_not_null(strstr(err, "IPW_JUDGE_API_KEY"), "%s", err);
	judge_release(&j);
	/* the right key in a variable named by key_env */
	setenv("MY_JUDGE_KEY", "sk-test-judge-key-42", 1);
	judge_opts_init(&o);
	o.url = F.url;
	o.model = "judge-m";
	o.key_env = "MY_JUDGE_KEY";
	cr_assert_eq(judge_init(&j, &o, NULL, err, sizeof err), 0);
	cr_assert_eq(judge_reference_grade(&j, "Q", "Paris", "Paris", &r, err, sizeof err), 0);
	cr_assert_eq(r.correct, 1, "%s", r.reason);
	judge_release(&j);
	unsetenv("IPW_JUDGE_API_KEY");
	unsetenv("MY_JUDGE_KEY");
}

Test(judge_key, init_needs_url_and_model)
{
	struct judge j;
	struct judge_opts o;
	char err[IPW_ERRLEN];
	judge_opts_init(&o);
	cr_assert_eq(judge_init(&j, &o, NULL, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "--judge-url"));
	o.url = "http://127.0.0.1:9";
	cr_assert_eq(judge_init(&j, &o, NULL, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "--judge-model"));
}
