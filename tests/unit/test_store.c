/*
 * test_store.c - the SQLite store: every field round-trips (NAN and -1
 * included), items_done, duplicate items, runs never overwritten, a writer
 * killed with SIGKILL leaves a consistent store, samples, secrets refused.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "util.h"

static char dir[64];
static char dbpath[128];

static void setup(void)
{
	strcpy(dir, "/tmp/ipw-test-store-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/s.db", dir);
	unsetenv("IPW_API_KEY");
	unsetenv("OPENAI_API_KEY");
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 120);

static struct store open_store(void)
{
	struct store st;
	char err[IPW_ERRLEN];
	cr_assert_eq(store_open(&st, dbpath, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	return st;
}

static struct run_record plain_run(const char *name)
{
	struct run_record r;
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.status = "running";
	r.n_items = -1;
	r.started_at = 1700000000.5;
	r.ended_at = NAN;
	r.idle_seconds = NAN;
	return r;
}

static struct query_record plain_query(long long seq, const char *item)
{
	struct query_record q;
	memset(&q, 0, sizeof(q));
	q.seq = seq;
	q.item_id = (char *)item;
	q.status = "ok";
	q.t_send_s = q.t_first_s = q.t_end_s = NAN;
	q.ttft_s = q.e2e_s = q.tpot_s = q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
	q.prompt_tokens = q.completion_tokens = q.reasoning_tokens = -1;
	q.accel_j = q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	q.http_status = -1;
	return q;
}

static void assert_str(const char *got, const char *want, const char *what)
{
	if (!want)
		cr_assert_null(got, "%s: want NULL, got '%s'", what, got);
	else
		cr_assert(got && !strcmp(got, want), "%s: want '%s', got '%s'", what, want, got ? got : "NULL");
}

static void assert_real(double got, double want, const char *what)
{
	if (isnan(want))
		cr_assert(isnan(got), "%s: want NAN, got %g", what, got);
	else
		cr_assert(got == want, "%s: want %.17g, got %.17g", what, want, got);
}

/* ---- round trip of every field ---- */

static struct query_record got_q;
static int got_nq;

static int keep_query(const struct query_record *q, void *ctx)
{
	(void)ctx;
	if (got_nq++ == 0) {
		/* deep copy of what we check */
		got_q = *q;
		got_q.item_id = xstrdup(q->item_id);
		got_q.subject = q->subject ? xstrdup(q->subject) : NULL;
		got_q.task = q->task ? xstrdup(q->task) : NULL;
		got_q.prompt = q->prompt ? xstrdup(q->prompt) : NULL;
		got_q.answer = q->answer ? xstrdup(q->answer) : NULL;
		got_q.thinking = q->thinking ? xstrdup(q->thinking) : NULL;
		got_q.finish_reason = q->finish_reason ? xstrdup(q->finish_reason) : NULL;
		got_q.status = xstrdup(q->status);
		got_q.reference = q->reference ? xstrdup(q->reference) : NULL;
		got_q.prompt_tokens_src = q->prompt_tokens_src ? xstrdup(q->prompt_tokens_src) : NULL;
		got_q.completion_tokens_src = q->completion_tokens_src ? xstrdup(q->completion_tokens_src) : NULL;
		got_q.reasoning_tokens_src = q->reasoning_tokens_src ? xstrdup(q->reasoning_tokens_src) : NULL;
		got_q.error_kind = q->error_kind ? xstrdup(q->error_kind) : NULL;
		got_q.error_message = q->error_message ? xstrdup(q->error_message) : NULL;
		got_q.extra_json = q->extra_json ? xstrdup(q->extra_json) : NULL;
		got_q.energy = xcalloc((size_t)q->nenergy + 1, sizeof(*q->energy));
		memcpy(got_q.energy, q->energy, (size_t)q->nenergy * sizeof(*q->energy));
		got_q.attempts = xcalloc((size_t)q->nattempts + 1, sizeof(*q->attempts));
		for (int i = 0; i < q->nattempts; i++) {
			got_q.attempts[i] = q->attempts[i];
			got_q.attempts[i].error_kind = q->attempts[i].error_kind ?
				xstrdup(q->attempts[i].error_kind) : NULL;
			got_q.attempts[i].message = q->attempts[i].message ? xstrdup(q->attempts[i].message) : NULL;
		}
	}
	return 0;
}

Test(store, run_round_trip_every_field)
{
	struct store st = open_store();
	struct run_source src[2];
	struct run_record r, g;
	char err[IPW_ERRLEN];

	memset(src, 0, sizeof(src));
	src[0] = (struct run_source){0, "gpu0", "nvidia", "gpu", "device", "NVIDIA H200", "GPU-abc",
				     "0000:01:00.0", "550.54", 700, 75.25, 76.5};
	src[1] = (struct run_source){1, "package-0", "rapl", "cpu", "package", NULL, NULL, NULL, NULL,
				     NAN, NAN, NAN};
	r = plain_run("r1");
	r.model = "qwen3:8b";
	r.server_model = "Qwen/Qwen3-8B";
	r.api = "openai";
	r.url = "http://127.0.0.1:1/v1";
	r.engine = "vllm";
	r.config_json = "{\"a\":1}";
	r.dataset_path = "d.jsonl";
	r.dataset_sha256 = "ab";
	r.dataset_format = "native";
	r.n_items = 12;
	r.hardware_json = "{\"host\":\"h\"}";
	r.version = "1.2.3";
	r.ended_at = 1700000123.25;
	r.idle_seconds = 30;
	r.sources = src;
	r.nsources = 2;
	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(r.id, "1");
	cr_assert_eq(store_run_get(&st, "1", &g, err, sizeof(err)), 0, "%s", err);
	assert_str(g.id, "1", "id");
	assert_str(g.name, "r1", "name");
	assert_str(g.status, "running", "status");
	assert_str(g.model, "qwen3:8b", "model");
	assert_str(g.server_model, "Qwen/Qwen3-8B", "server_model");
	assert_str(g.api, "openai", "api");
	assert_str(g.url, "http://127.0.0.1:1/v1", "url");
	assert_str(g.engine, "vllm", "engine");
	assert_str(g.config_json, "{\"a\":1}", "config_json");
	assert_str(g.dataset_path, "d.jsonl", "dataset_path");
	assert_str(g.dataset_sha256, "ab", "dataset_sha256");
	assert_str(g.dataset_format, "native", "dataset_format");
	cr_assert_eq(g.n_items, 12);
	assert_str(g.hardware_json, "{\"host\":\"h\"}", "hardware_json");
	assert_str(g.version, "1.2.3", "version");
	assert_real(g.started_at, 1700000000.5, "started_at");
	assert_real(g.ended_at, 1700000123.25, "ended_at");
	assert_real(g.idle_seconds, 30, "idle_seconds");
	cr_assert_eq(g.nsources, 2);
	for (int i = 0; i < 2; i++) {
		const struct run_source *a = &g.sources[i], *b = &src[i];
		cr_assert_eq(a->idx, b->idx);
		assert_str(a->name, b->name, "source name");
		assert_str(a->backend, b->backend, "backend");
		assert_str(a->kind, b->kind, "kind");
		assert_str(a->scope, b->scope, "scope");
		assert_str(a->model, b->model, "source model");
		assert_str(a->uuid, b->uuid, "uuid");
		assert_str(a->pci_bus_id, b->pci_bus_id, "pci_bus_id");
		assert_str(a->driver, b->driver, "driver");
		assert_real(a->power_limit_w, b->power_limit_w, "power_limit_w");
		assert_real(a->idle_before_w, b->idle_before_w, "idle_before_w");
		assert_real(a->idle_after_w, b->idle_after_w, "idle_after_w");
	}
	run_record_release(&g);

	/* update: status, ended_at, baselines; NAN n_items etc. keep what was there */
	r.status = "completed";
	r.ended_at = 1700000999.0;
	r.server_model = NULL;
	r.n_items = -1;
	src[1].idle_before_w = 12.5;
	cr_assert_eq(store_run_update(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_get(&st, "last", &g, err, sizeof(err)), 0, "%s", err);
	assert_str(g.status, "completed", "updated status");
	assert_str(g.server_model, "Qwen/Qwen3-8B", "server_model kept");
	cr_assert_eq(g.n_items, 12);
	assert_real(g.ended_at, 1700000999.0, "updated ended_at");
	assert_real(g.sources[1].idle_before_w, 12.5, "updated baseline");
	assert_real(g.sources[0].idle_before_w, 75.25, "baseline kept");
	run_record_release(&g);
	free(r.id);
	store_close(&st);
}

Test(store, query_round_trip_every_field_with_nan_and_minus_one)
{
	struct store st = open_store();
	struct run_record r = plain_run("r");
	struct query_record q, nq;
	struct query_energy en[2] = {{0, 12.5, 3.25}, {1, NAN, NAN}};
	struct query_attempt at[2] = {{1, 0.0, 1.5, "timeout", -1, "timed out after 1.5 s"},
				      {2, 2.0, 3.0, "none", 200, NULL}};
	char err[IPW_ERRLEN];

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	q = plain_query(7, "item-7");
	q.subject = "math";
	q.task = "numeric";
	q.prompt = "What is 6*7?";
	q.answer = "Answer: 42";
	q.thinking = "six sevens";
	q.finish_reason = "stop";
	q.reference = "42";
	q.t_send_s = 1.0, q.t_first_s = 1.25, q.t_end_s = 3.5;
	q.ttft_s = 0.25, q.e2e_s = 2.5, q.tpot_s = 0.0125;
	q.itl_p50_s = 0.01, q.itl_p90_s = 0.02, q.itl_p99_s = 0.03;
	q.prompt_tokens = 17, q.completion_tokens = 0, q.reasoning_tokens = -1;
	q.prompt_tokens_src = "server", q.completion_tokens_src = "events", q.reasoning_tokens_src = "none";
	q.accel_j = 12.5, q.host_j = NAN, q.total_j = 20.125;
	q.accel_dyn_j = 3.25, q.host_dyn_j = NAN, q.total_dyn_j = 4.5;
	q.avg_power_w = 5.0, q.peak_power_w = 7.5, q.temp_max_c = NAN, q.mem_max_bytes = 1e10;
	q.energy = en, q.nenergy = 2;
	q.error_kind = "none";
	q.error_message = NULL;
	q.http_status = 200;
	q.attempts = at, q.nattempts = 2;
	q.extra_json = "{\"eval_count\":3}";
	cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);

	got_nq = 0;
	cr_assert_eq(store_queries_iter(&st, r.id, keep_query, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(got_nq, 1);
	nq = got_q;
	cr_assert_eq(nq.seq, 7);
	assert_str(nq.item_id, "item-7", "item_id");
	assert_str(nq.subject, "math", "subject");
	assert_str(nq.task, "numeric", "task");
	assert_str(nq.prompt, "What is 6*7?", "prompt");
	assert_str(nq.answer, "Answer: 42", "answer");
	assert_str(nq.thinking, "six sevens", "thinking");
	assert_str(nq.finish_reason, "stop", "finish_reason");
	assert_str(nq.status, "ok", "status");
	assert_str(nq.reference, "42", "reference");
	assert_real(nq.t_send_s, 1.0, "t_send_s");
	assert_real(nq.t_first_s, 1.25, "t_first_s");
	assert_real(nq.t_end_s, 3.5, "t_end_s");
	assert_real(nq.ttft_s, 0.25, "ttft_s");
	assert_real(nq.e2e_s, 2.5, "e2e_s");
	assert_real(nq.tpot_s, 0.0125, "tpot_s");
	assert_real(nq.itl_p50_s, 0.01, "itl_p50_s");
	assert_real(nq.itl_p90_s, 0.02, "itl_p90_s");
	assert_real(nq.itl_p99_s, 0.03, "itl_p99_s");
	cr_assert_eq(nq.prompt_tokens, 17);
	cr_assert_eq(nq.completion_tokens, 0, "0 tokens stays 0, not unknown");
	cr_assert_eq(nq.reasoning_tokens, -1, "unknown stays -1");
	assert_str(nq.prompt_tokens_src, "server", "prompt_tokens_src");
	assert_str(nq.completion_tokens_src, "events", "completion_tokens_src");
	assert_str(nq.reasoning_tokens_src, "none", "reasoning_tokens_src");
	assert_real(nq.accel_j, 12.5, "accel_j");
	assert_real(nq.host_j, NAN, "host_j");
	assert_real(nq.total_j, 20.125, "total_j");
	assert_real(nq.accel_dyn_j, 3.25, "accel_dyn_j");
	assert_real(nq.host_dyn_j, NAN, "host_dyn_j");
	assert_real(nq.total_dyn_j, 4.5, "total_dyn_j");
	assert_real(nq.avg_power_w, 5.0, "avg_power_w");
	assert_real(nq.peak_power_w, 7.5, "peak_power_w");
	assert_real(nq.temp_max_c, NAN, "temp_max_c");
	assert_real(nq.mem_max_bytes, 1e10, "mem_max_bytes");
	cr_assert_eq(nq.nenergy, 2);
	cr_assert_eq(nq.energy[0].source_idx, 0);
	assert_real(nq.energy[0].gross_j, 12.5, "gross_j");
	assert_real(nq.energy[0].dynamic_j, 3.25, "dynamic_j");
	cr_assert_eq(nq.energy[1].source_idx, 1);
	assert_real(nq.energy[1].gross_j, NAN, "gross_j NAN");
	assert_str(nq.error_kind, "none", "error_kind");
	assert_str(nq.error_message, NULL, "error_message");
	cr_assert_eq(nq.http_status, 200);
	cr_assert_eq(nq.nattempts, 2);
	cr_assert_eq(nq.attempts[0].n, 1);
	assert_real(nq.attempts[0].t_start_s, 0.0, "t_start_s");
	assert_real(nq.attempts[0].duration_s, 1.5, "duration_s");
	assert_str(nq.attempts[0].error_kind, "timeout", "attempt error_kind");
	cr_assert_eq(nq.attempts[0].http_status, -1);
	assert_str(nq.attempts[0].message, "timed out after 1.5 s", "attempt message");
	cr_assert_eq(nq.attempts[1].n, 2);
	cr_assert_eq(nq.attempts[1].http_status, 200);
	assert_str(nq.attempts[1].message, NULL, "attempt message NULL");
	assert_str(nq.extra_json, "{\"eval_count\":3}", "extra_json");
	query_record_release(&got_q);
	free(r.id);
	store_close(&st);
}

/* ---- items_done, duplicates ---- */

Test(store, items_done_in_seq_order_and_duplicate_refused)
{
	struct store st = open_store();
	struct run_record r = plain_run("r");
	struct query_record q;
	struct query_energy en = {0, 1.0, 0.5};
	char err[IPW_ERRLEN], **ids;
	size_t n;
	int rc;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_items_done(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 0);
	free_list(ids);
	const long long seqs[3] = {2, 0, 1};
	const char *items[3] = {"c", "a", "b"};
	for (int i = 0; i < 3; i++) {
		q = plain_query(seqs[i], items[i]);
		q.energy = &en, q.nenergy = 1;
		cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(store_items_done(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(ids[0], "a");
	cr_assert_str_eq(ids[1], "b");
	cr_assert_str_eq(ids[2], "c");
	cr_assert_null(ids[3]);
	free_list(ids);

	q = plain_query(5, "b");
	q.energy = &en, q.nenergy = 1;
	q.status = "failed";
	err[0] = 0;
	rc = store_query_insert(&st, r.id, &q, err, sizeof(err));
	cr_assert_eq(rc, STORE_EDUPLICATE);
	cr_assert(strstr(err, "item 'b' is already recorded in run 1"), "message: %s", err);
	cr_assert_eq(store_items_done(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 3, "the duplicate wrote nothing");
	free_list(ids);

	/* the refused insert left no stray energy rows: 3 queries x 1 source */
	sqlite3 *db;
	sqlite3_stmt *s;
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM query_energy", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(s, 0), 3);
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* a query for a run that does not exist */
	q = plain_query(0, "z");
	rc = store_query_insert(&st, "99", &q, err, sizeof(err));
	cr_assert_eq(rc, STORE_ENOTFOUND);
	cr_assert(strstr(err, "no run '99'"), "%s", err);
	free(r.id);
	store_close(&st);
}

/* ---- never overwrite ---- */

static int count_runs(const struct run_record *r, void *ctx)
{
	(void)r;
	(*(int *)ctx)++;
	return 0;
}

Test(store, runs_with_the_same_name_are_both_kept)
{
	struct store st = open_store();
	struct run_record a = plain_run("same"), b = plain_run("same"), g;
	char err[IPW_ERRLEN];
	int n = 0;

	a.model = "first";
	b.model = "second";
	cr_assert_eq(store_run_create(&st, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_create(&st, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(a.id, "1");
	cr_assert_str_eq(b.id, "2");
	cr_assert_eq(store_runs_list(&st, count_runs, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_eq(store_run_get(&st, "1", &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(g.model, "first");
	run_record_release(&g);
	cr_assert_eq(store_run_get(&st, "latest", &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(g.model, "second");
	run_record_release(&g);
	cr_assert_eq(store_run_get(&st, "same", &g, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert(strstr(err, "several runs"), "%s", err);
	cr_assert_eq(store_run_get(&st, "nosuch", &g, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert(strstr(err, "no run 'nosuch' in"), "%s", err);
	cr_assert_eq(store_run_get(&st, "3", &g, err, sizeof(err)), STORE_ENOTFOUND);

	/* the schema itself refuses deletes */
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_neq(sqlite3_exec(db, "DELETE FROM runs", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	n = 0;
	cr_assert_eq(store_runs_list(&st, count_runs, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	free(a.id);
	free(b.id);
	store_close(&st);
}

/* ---- kill -9 of a writer ---- */

#define KILL_SOURCES 3
#define KILL_ATTEMPTS 2

static void writer(const char *run_id)
{
	struct store st;
	char err[IPW_ERRLEN], item[32];
	struct query_energy en[KILL_SOURCES];
	struct query_attempt at[KILL_ATTEMPTS];

	if (store_open(&st, dbpath, STORE_CREATE, err, sizeof(err)) < 0)
		_exit(2);
	for (int i = 0; i < KILL_SOURCES; i++)
		en[i] = (struct query_energy){i, 10.0 + i, 1.0 + i};
	for (int i = 0; i < KILL_ATTEMPTS; i++)
		at[i] = (struct query_attempt){i + 1, i, 0.5, "none", 200, "ok"};
	for (long long i = 0; i < 1000000; i++) {
		struct query_record q = plain_query(i, item);
		snprintf(item, sizeof(item), "item-%lld", i);
		q.answer = "a fairly long answer text to make each transaction write a few pages ............";
		q.energy = en, q.nenergy = KILL_SOURCES;
		q.attempts = at, q.nattempts = KILL_ATTEMPTS;
		if (store_query_insert(&st, run_id, &q, err, sizeof(err)) < 0)
			_exit(3);
	}
	_exit(0);
}

struct kill_check {
	long long next_seq;
	int bad;
};

static int check_killed_query(const struct query_record *q, void *ctx)
{
	struct kill_check *k = ctx;
	char want[32];
	snprintf(want, sizeof(want), "item-%lld", k->next_seq);
	if (q->seq != k->next_seq || strcmp(q->item_id, want) || q->nenergy != KILL_SOURCES ||
	    q->nattempts != KILL_ATTEMPTS || !q->answer)
		k->bad++;
	for (int i = 0; i < q->nenergy; i++)
		if (q->energy[i].gross_j != 10.0 + i)
			k->bad++;
	k->next_seq++;
	return 0;
}

Test(store, writer_killed_with_sigkill_leaves_consistent_store)
{
	struct store st = open_store();
	struct run_record r = plain_run("killed");
	char err[IPW_ERRLEN], **ids;
	size_t n = 0;
	pid_t pid;
	int status;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		writer(r.id);
	/* wait until the writer has committed some queries (generous: 60 s) */
	st = open_store();
	for (int waited = 0; waited < 6000 && n < 40; waited++) {
		cr_assert_eq(store_items_done(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
		free_list(ids);
		if (waitpid(pid, &status, WNOHANG) == pid)
			cr_assert_fail("the writer exited early (status %d)", status);
		usleep(10000);
	}
	store_close(&st);
	cr_assert_geq(n, 40, "the writer committed only %zu queries", n);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* the database is intact */
	sqlite3 *db;
	sqlite3_stmt *s;
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT item_id) FROM queries", -1, &s,
					NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	long long rows = sqlite3_column_int64(s, 0);
	cr_assert_eq(rows, sqlite3_column_int64(s, 1), "no duplicate items");
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* every recorded query is complete: its energies and attempts are there */
	struct kill_check k = {0, 0};
	st = open_store();
	cr_assert_eq(store_queries_iter(&st, r.id, check_killed_query, &k, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(k.bad, 0, "%d incomplete or out-of-order queries", k.bad);
	cr_assert_eq(k.next_seq, rows);
	cr_assert_geq(rows, 40);

	/* resuming: a recorded item is refused cleanly, the next one goes in */
	struct query_record q = plain_query(0, "item-0");
	cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), STORE_EDUPLICATE);
	cr_assert(strstr(err, "item 'item-0' is already recorded"), "%s", err);
	char next[32];
	snprintf(next, sizeof(next), "item-%lld", rows);
	q = plain_query(rows, next);
	cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	free(r.id);
	store_close(&st);
}

/* ---- samples, totals, scores ---- */

Test(store, samples_append_in_one_batch_with_nulls)
{
	struct store st = open_store();
	struct run_record r = plain_run("s");
	struct store_sample v[500];
	char err[IPW_ERRLEN];

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 500; i++)
		v[i] = (struct store_sample){i % 2, i * 0.05, i * 10.0, i % 5 ? 300.0 : NAN, NAN, 1e9};
	cr_assert_eq(store_samples_append(&st, r.id, v, 500, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_samples_append(&st, r.id, v, 100, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_samples_append(&st, "77", v, 1, err, sizeof(err)), STORE_ENOTFOUND);

	sqlite3 *db;
	sqlite3_stmt *s;
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*), count(power_w), count(temp_c), sum(energy_j)"
					" FROM samples WHERE run_id = 1", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(s, 0), 600);
	cr_assert_eq(sqlite3_column_int(s, 1), 400 + 80, "NAN power stored as NULL");
	cr_assert_eq(sqlite3_column_int(s, 2), 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(r.id);
	store_close(&st);
}

static int collect_scores(const char *item, int correct, void *ctx)
{
	struct buf *b = ctx;
	buf_appendf(b, "%s=%d;", item, correct);
	return 0;
}

Test(store, totals_and_latest_scores)
{
	struct store st = open_store();
	struct run_record r = plain_run("t");
	struct query_record q;
	struct run_totals t;
	struct store_score sc = {"a", "mcq", NULL, 0, NULL, 0};
	struct buf b;
	char err[IPW_ERRLEN];
	const double e2e[4] = {1, 2, 3, 10};

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 4; i++) {
		char id[8];
		snprintf(id, sizeof(id), "%c", 'a' + i);
		q = plain_query(i, id);
		q.e2e_s = e2e[i];
		q.accel_j = 100.0 * (i + 1);
		q.avg_power_w = q.accel_j / q.e2e_s;
		q.completion_tokens = 10;
		if (i == 3)
			q.status = "failed";
		cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(store_run_totals(&st, r.id, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.n_queries, 4);
	cr_assert_eq(t.n_ok, 3);
	cr_assert_eq(t.n_failed, 1);
	assert_real(t.accel_j_total, 1000, "total over all queries");
	assert_real(t.accel_j_mean, 200, "mean over ok queries");
	assert_real(t.e2e_mean_s, 2, "latency mean");
	assert_real(t.e2e_p50_s, 2, "latency p50");
	cr_assert_float_eq(t.e2e_p99_s, 2.98, 1e-12);
	assert_real(t.power_mean_w, 100, "mean power");
	assert_real(t.host_j_total, NAN, "host not measured");
	assert_real(t.ttft_p50_s, NAN, "ttft not measured");
	cr_assert_eq(t.completion_tokens, 30);
	cr_assert_eq(t.prompt_tokens, -1);

	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.correct = 1;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.item_id = "b", sc.correct = -1;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	buf_init(&b, 0);
	cr_assert_eq(store_scores_latest(&st, r.id, collect_scores, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(b.data, "a=1;b=-1;");
	buf_release(&b);
	free(r.id);
	store_close(&st);
}

/* ---- opening, secrets ---- */

Test(store, read_open_of_missing_store_fails_and_creates_nothing)
{
	struct store st;
	char err[IPW_ERRLEN];

	cr_assert_eq(store_open(&st, dbpath, 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no store at"), "%s", err);
	cr_assert_neq(access(dbpath, F_OK), 0, "the store was created");
	cr_assert_eq(store_open(&st, "postgres://x/y", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "PostgreSQL"), "%s", err);
}

Test(store, wal_and_schema_version)
{
	struct store st = open_store();
	sqlite3 *db;
	sqlite3_stmt *s;

	store_close(&st);
	st = open_store();     /* reopening an existing store migrates nothing */
	store_close(&st);
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	cr_assert_eq(sqlite3_prepare_v2(db, "SELECT count(*), max(version) FROM schema_version", -1, &s, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	cr_assert_eq(sqlite3_column_int(s, 0), 3);  /* schema 1, 2 (load generation columns), 3 (cpu_s) */
	cr_assert_eq(sqlite3_column_int(s, 1), 3);
	sqlite3_finalize(s);
	/* a store from a newer ipw is refused */
	cr_assert_eq(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99, 0)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	char err[IPW_ERRLEN];
	cr_assert_eq(store_open(&st, dbpath, 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "schema version 99"), "%s", err);
}

Test(store, refuses_to_store_an_api_key)
{
	struct store st = open_store();
	struct run_record r = plain_run("k");
	char err[IPW_ERRLEN];
	int n = 0;

	setenv("OPENAI_API_KEY", "sk-secret-0123456789", 1);
	r.config_json = "{\"api_key\":\"sk-secret-0123456789\"}";
	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), -1);
	cr_assert(strstr(err, "OPENAI_API_KEY"), "%s", err);
	cr_assert_null(strstr(err, "sk-secret"), "the message must not print the key");
	cr_assert_null(r.id);
	r.config_json = "{\"temperature\":0.6}";
	r.url = "http://127.0.0.1/v1?key=sk-secret-0123456789";
	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), -1, "a key in the url is refused too");
	cr_assert_eq(store_runs_list(&st, count_runs, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 0, "nothing was stored");
	/* a short placeholder key ("ollama") is not a secret */
	setenv("IPW_API_KEY", "ollama", 1);
	unsetenv("OPENAI_API_KEY");
	r.url = NULL;
	r.config_json = "{\"api\":\"ollama\"}";
	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	free(r.id);
	store_close(&st);
}
