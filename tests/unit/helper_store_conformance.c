/*
 * helper_store_conformance.c - the cases every store back-end must pass:
 * every field round-trips (NAN and -1 included), items_done, duplicates,
 * runs never overwritten or deleted, a writer killed with SIGKILL leaves a
 * consistent store, samples, totals, scores, judgements, the items cursor,
 * opening rules (missing, read-only, newer schema) and secrets refused.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper_store_conformance.h"
#include "rng.h"
#include "store.h"
#include "util.h"

static const struct store_factory *fac;
static char uri[512];

void store_conformance_setup(const struct store_factory *f)
{
	fac = f;
	unsetenv("IPW_API_KEY");
	unsetenv("OPENAI_API_KEY");
	unsetenv("IPW_JUDGE_API_KEY");
	cr_assert_eq(f->new_store(uri, sizeof(uri)), 0, "%s: no store for the test: %s", f->name, uri);
}

void store_conformance_teardown(void)
{
	if (fac && fac->drop_store)
		fac->drop_store(uri);
}

static struct store open_store(void)
{
	struct store st;
	char err[IPW_ERRLEN];
	cr_assert_eq(store_open(&st, uri, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	return st;
}

/* The integer the SQL statement yields, beside the API. */
static long long sql_int(const char *sql)
{
	long long v = -12345;
	cr_assert_eq(fac->sql(uri, sql, &v), 0, "%s: '%s' failed", fac->name, sql);
	return v;
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

void sc_run_round_trip_every_field(void)
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

/* A query stored without token log-probabilities (a zeroed record: 0 tokens) reads back as not measured. */
static int check_no_logprobs(const struct query_record *q, void *ctx)
{
	if (!strcmp(q->item_id, "item-8")) {
		cr_assert(isnan(q->logprob_sum), "logprob_sum %g, want NULL", q->logprob_sum);
		cr_assert_eq(q->logprob_tokens, -1, "logprob_tokens %lld, want NULL", q->logprob_tokens);
		++*(int *)ctx;
	}
	return 0;
}

void sc_query_round_trip_every_field_with_nan_and_minus_one(void)
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
	q.logprob_sum = -2.25, q.logprob_tokens = 7;  /* schema 7 */
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
	assert_real(nq.logprob_sum, -2.25, "logprob_sum");
	cr_assert_eq(nq.logprob_tokens, 7);
	query_record_release(&got_q);
	{
		struct query_record q8 = plain_query(8, "item-8");
		int seen = 0;
		cr_assert_eq(store_query_insert(&st, r.id, &q8, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(store_queries_iter(&st, r.id, check_no_logprobs, &seen, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(seen, 1);
	}
	free(r.id);
	store_close(&st);
}

/* ---- energy set after the insert ---- */

void sc_query_energy_set_after_insert(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("e");
	struct query_record q = plain_query(0, "a");
	struct query_energy later[2] = {{0, 12.5, 3.25}, {1, 2.0, NAN}};
	char err[IPW_ERRLEN];

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	q.e2e_s = 2.5; /* stored as it ended, energy not yet known */
	cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	q.accel_j = 12.5, q.host_j = NAN, q.total_j = 14.5, q.accel_dyn_j = 3.25, q.host_dyn_j = NAN;
	q.total_dyn_j = NAN, q.avg_power_w = 5.0, q.peak_power_w = 7.5, q.temp_max_c = 60, q.mem_max_bytes = 1e9;
	q.energy = later, q.nenergy = 2;
	q.e2e_s = 99; /* not an energy column: left as inserted */
	cr_assert_eq(store_query_energy_set(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	got_nq = 0;
	cr_assert_eq(store_queries_iter(&st, r.id, keep_query, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(got_nq, 1);
	assert_real(got_q.accel_j, 12.5, "accel_j");
	assert_real(got_q.host_j, NAN, "host_j");
	assert_real(got_q.total_j, 14.5, "total_j");
	assert_real(got_q.accel_dyn_j, 3.25, "accel_dyn_j");
	assert_real(got_q.avg_power_w, 5.0, "avg_power_w");
	assert_real(got_q.peak_power_w, 7.5, "peak_power_w");
	assert_real(got_q.temp_max_c, 60, "temp_max_c");
	assert_real(got_q.mem_max_bytes, 1e9, "mem_max_bytes");
	assert_real(got_q.e2e_s, 2.5, "e2e_s kept");
	cr_assert_eq(got_q.nenergy, 2, "the per-source rows");
	assert_real(got_q.energy[0].gross_j, 12.5, "source 0 gross");
	assert_real(got_q.energy[1].gross_j, 2.0, "source 1 gross");
	assert_real(got_q.energy[1].dynamic_j, NAN, "source 1 dynamic");
	query_record_release(&got_q);
	/* set once: a second setting is refused, the first stays */
	cr_assert_lt(store_query_energy_set(&st, r.id, &q, err, sizeof(err)), 0);
	q.item_id = "zz";
	cr_assert_eq(store_query_energy_set(&st, r.id, &q, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert_eq(store_query_energy_set(&st, "77", &q, err, sizeof(err)), STORE_ENOTFOUND);
	free(r.id);
	store_close(&st);
}

/* ---- items_done, duplicates ---- */

void sc_items_done_in_seq_order_and_duplicate_refused(void)
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
	cr_assert_eq(sql_int("SELECT count(*) FROM query_energy"), 3);

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

void sc_runs_with_the_same_name_are_both_kept(void)
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
	cr_assert_neq(fac->sql(uri, "DELETE FROM runs", NULL), 0, "the schema refuses to delete a run");
	cr_assert_neq(fac->sql(uri, "DELETE FROM runs WHERE id = 1", NULL), 0);
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

	if (store_open(&st, uri, STORE_CREATE, err, sizeof(err)) < 0)
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

void sc_writer_killed_with_sigkill_leaves_consistent_store(void)
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
	if (fac->integrity)
		cr_assert_eq(fac->integrity(uri), 0, "%s: the integrity check failed", fac->name);
	long long rows = sql_int("SELECT count(*) FROM queries");
	cr_assert_eq(rows, sql_int("SELECT count(DISTINCT item_id) FROM queries"), "no duplicate items");

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

void sc_samples_append_in_one_batch_with_nulls(void)
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

	cr_assert_eq(sql_int("SELECT count(*) FROM samples WHERE run_id = 1"), 600);
	cr_assert_eq(sql_int("SELECT count(power_w) FROM samples WHERE run_id = 1"), 400 + 80,
		     "NAN power stored as NULL");
	cr_assert_eq(sql_int("SELECT count(temp_c) FROM samples WHERE run_id = 1"), 0);
	free(r.id);
	store_close(&st);
}

static int collect_scores(const char *item, int correct, void *ctx)
{
	struct buf *b = ctx;
	buf_appendf(b, "%s=%d;", item, correct);
	return 0;
}

static int collect_score_rows(const struct store_score *sc, void *ctx)
{
	struct buf *b = ctx;
	buf_appendf(b, "%s:%s:%s:%d:%s:", sc->item_id, sc->grader, sc->settings_json ? sc->settings_json : "-",
		    sc->correct, sc->reason ? sc->reason : "-");
	/* a time given is kept; none given (0) is the time of the call */
	if (sc->scored_at > 1700000010.0)
		buf_appends(b, "now;");
	else
		buf_appendf(b, "%.2f;", sc->scored_at);
	return 0;
}

void sc_latest_scores_and_score_rows(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("t");
	struct store_score sc = {"a", "mcq", NULL, 0, NULL, 0};
	struct buf b;
	char err[IPW_ERRLEN];

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.correct = 1;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.item_id = "b", sc.correct = -1;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	buf_init(&b, 0);
	cr_assert_eq(store_scores_latest(&st, r.id, collect_scores, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(b.data, "a=1;b=-1;");
	buf_release(&b);

	/* the whole latest row, in item id order; scores are appended, never replaced */
	sc = (struct store_score){"B", "judge_reference", "{\"judge\":\"j\"}", 1, "TRUE", 1700000001.5};
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc = (struct store_score){"a", "numeric", NULL, 0, "no number", 1700000002.25};
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	buf_init(&b, 0);
	cr_assert_eq(store_score_rows_latest(&st, r.id, collect_score_rows, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(b.data, "B:judge_reference:{\"judge\":\"j\"}:1:TRUE:1700000001.50;"
			 "a:numeric:-:0:no number:1700000002.25;b:mcq:-:-1:-:now;");
	buf_release(&b);
	cr_assert_eq(sql_int("SELECT count(*) FROM scores"), 5, "every score row is kept");
	sc.item_id = "x";
	cr_assert_eq(store_score_add(&st, "42", &sc, err, sizeof(err)), STORE_ENOTFOUND);
	free(r.id);
	store_close(&st);
}

/* ---- samples read back, judgements, the items cursor, sources ---- */

static int collect_samples(const struct store_sample *v, void *ctx)
{
	struct buf *b = ctx;
	buf_appendf(b, "%d@%g:%g,%g,%g,%g;", v->source_idx, v->t_s, v->energy_j, v->power_w, v->temp_c,
		    v->mem_used_bytes);
	return 0;
}

void sc_samples_iter_by_source_then_time(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("s"), r2 = plain_run("other");
	struct store_sample v[4] = {
		{1, 0.5, 10.0, 100.0, 40.0, 1e9},
		{0, 0.75, NAN, 50.0, NAN, NAN},
		{0, 0.25, 5.0, NAN, 30.0, 2e9},
		{1, 0.125, 1.0, 1.5, 2.5, 0},
	};
	struct buf b;
	char err[IPW_ERRLEN];

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_create(&st, &r2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_samples_append(&st, r.id, v, 4, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_samples_append(&st, r2.id, v, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_samples_append(&st, r.id, v, 0, err, sizeof(err)), 0, "nothing to append is fine");
	buf_init(&b, 0);
	cr_assert_eq(store_samples_iter(&st, r.id, collect_samples, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(b.data, "0@0.25:5,nan,30,2e+09;0@0.75:nan,50,nan,nan;"
			 "1@0.125:1,1.5,2.5,0;1@0.5:10,100,40,1e+09;");
	buf_release(&b);
	cr_assert_eq(store_samples_iter(&st, "77", collect_samples, &b, err, sizeof(err)), STORE_ENOTFOUND);
	free(r.id);
	free(r2.id);
	store_close(&st);
}

void sc_judgements_cached_once(void)
{
	struct store st = open_store();
	struct store_judgement j = {"0123abcd", "judge-1", "TRUE", "The answer matches.\nTRUE", 1700000000.0};
	char err[IPW_ERRLEN], *verdict, *raw;

	cr_assert_eq(store_judgement_get(&st, "0123abcd", "judge-1", &verdict, &raw, err, sizeof(err)),
		     STORE_ENOTFOUND);
	cr_assert_null(verdict);
	cr_assert_eq(store_judgement_put(&st, &j, err, sizeof(err)), 0, "%s", err);
	j.verdict = "FALSE";
	cr_assert_eq(store_judgement_put(&st, &j, err, sizeof(err)), 0, "a second put is not an error");
	cr_assert_eq(store_judgement_get(&st, "0123abcd", "judge-1", &verdict, &raw, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(verdict, "TRUE", "the first judgement is kept");
	cr_assert_str_eq(raw, "The answer matches.\nTRUE");
	free(verdict);
	free(raw);
	/* the same prompt with another judge is another key; NULL text stays NULL */
	j = (struct store_judgement){"0123abcd", "judge-2", "A>B", NULL, 0};
	cr_assert_eq(store_judgement_put(&st, &j, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_judgement_get(&st, "0123abcd", "judge-2", &verdict, &raw, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(verdict, "A>B");
	cr_assert_null(raw);
	free(verdict);
	cr_assert_eq(sql_int("SELECT count(*) FROM judgements"), 2);
	setenv("IPW_JUDGE_API_KEY", "sk-judge-0123456789", 1);
	j = (struct store_judgement){"ff", "judge-1", "TRUE", "echo sk-judge-0123456789", 0};
	cr_assert_eq(store_judgement_put(&st, &j, err, sizeof(err)), -1, "a key in the text is refused");
	cr_assert(strstr(err, "IPW_JUDGE_API_KEY") && !strstr(err, "sk-judge"), "%s", err);
	cr_assert_eq(sql_int("SELECT count(*) FROM judgements"), 2);
	store_close(&st);
}

/* Reads a whole cursor into text: "item|subject|ok|correct|accel_j|e2e_s|ptok;". */
static void read_cursor(struct store *st, const char *run_id, struct buf *b)
{
	struct store_cursor c;
	struct store_item it;
	char err[IPW_ERRLEN];
	int rc;

	cr_assert_eq(store_items_open(st, run_id, &c, err, sizeof(err)), 0, "%s", err);
	while ((rc = store_items_next(&c, &it, err, sizeof(err))) == 1)
		buf_appendf(b, "%s|%s|%d|%d|%g|%g|%lld;", it.item_id, it.subject, it.ok, it.correct, it.accel_j,
			    it.e2e_s, it.prompt_tokens);
	cr_assert_eq(rc, 0, "%s", err);
	store_items_close(&c);
}

void sc_items_cursor_in_byte_order_with_latest_score(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("c");
	/* byte order, as strcmp compares: not a locale's collation */
	const char *ids[6] = {"b", "\xc3\xa9", "a2", "B", "a10", "a"};
	struct store_score sc = {NULL, "mcq", NULL, 0, NULL, 0};
	struct store_cursor c1, c2;
	struct store_item i1, i2;
	struct buf b;
	char err[IPW_ERRLEN];

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 6; i++) {
		struct query_record q = plain_query(i, ids[i]);
		q.subject = i % 2 ? "math" : NULL;
		q.status = i == 2 ? "failed" : "ok";
		q.accel_j = 10.0 * i;
		q.e2e_s = i == 3 ? NAN : 0.5 * i;
		q.prompt_tokens = i == 4 ? -1 : i;
		cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	}
	sc.item_id = "a", sc.correct = 1;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.correct = 0;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.item_id = "B", sc.correct = 1;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	sc.item_id = "b", sc.correct = -1;
	cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
	buf_init(&b, 0);
	read_cursor(&st, r.id, &b);
	cr_assert_str_eq(b.data, "B|math|1|1|30|nan|3;a|math|1|0|50|2.5|5;a10||1|-1|40|2|-1;a2||0|-1|20|1|2;"
			 "b||1|-1|0|0|0;\xc3\xa9|math|1|-1|10|0.5|1;");
	buf_release(&b);

	/* two cursors at once (runs are merged by item id) */
	cr_assert_eq(store_items_open(&st, r.id, &c1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_items_open(&st, r.id, &c2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_items_next(&c1, &i1, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(store_items_next(&c1, &i1, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(store_items_next(&c2, &i2, err, sizeof(err)), 1, "%s", err);
	cr_assert_str_eq(i1.item_id, "a");
	cr_assert_str_eq(i2.item_id, "B");
	store_items_close(&c1);
	store_items_close(&c2);
	store_items_close(&c2);  /* closing twice is harmless */
	cr_assert_eq(store_items_open(&st, "77", &c1, err, sizeof(err)), STORE_ENOTFOUND);
	store_items_close(&c1);
	free(r.id);
	store_close(&st);
}

/*
 * The items cursor against a reference built here from what was stored: a
 * generated run whose ids are inserted in a shuffled order, with failed
 * queries, unmeasured fields, zero to three scores per item (the latest
 * counts, unscored included) and a second run with the same ids and other
 * scores. The cursor is a merge of index-ordered reads; this is the
 * straightforward answer it must equal.
 */
enum { GEN_ITEMS = 120 };

struct gen_item {
	char id[24];
	int ok, latest;       /* latest score: 1, 0, or -1 none or unscored */
	double accel_j, e2e_s, lp_sum;
	long long ptok, lp_tokens;
	const char *subject;
};

static int gen_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gen_item *)a)->id, ((const struct gen_item *)b)->id);
}

void sc_items_cursor_matches_a_reference_on_generated_items(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("gen"), r2 = plain_run("gen-other");
	static struct gen_item g[GEN_ITEMS];
	const char *subjects[3] = {"math", NULL, "bio"};
	uint64_t seed = 2026;
	struct store_score sc = {NULL, "mcq", NULL, 0, NULL, 0};
	struct store_cursor c;
	struct store_item it;
	char err[IPW_ERRLEN];
	int n = 0, k;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_create(&st, &r2, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < GEN_ITEMS; i++) {
		uint64_t v = splitmix64(&seed);
		struct query_record q;
		/* ids of varied length and bytes, in no particular order */
		snprintf(g[i].id, sizeof(g[i].id), "%s%llu", v % 3 ? "it-" : "It", (unsigned long long)(v >> 40));
		g[i].ok = v % 7 != 0;
		g[i].accel_j = v % 5 == 0 ? NAN : (double)(v % 1000) / 8;
		g[i].e2e_s = v % 11 == 0 ? NAN : (double)(v % 300) / 16;
		g[i].ptok = v % 13 == 0 ? -1 : (long long)(v % 400);
		g[i].subject = subjects[v % 3];
		g[i].lp_sum = v % 4 == 0 ? NAN : -(double)(v % 97) / 8;
		g[i].lp_tokens = v % 4 == 0 ? -1 : (long long)(v % 50) + 1;
		g[i].latest = -1;
		q = plain_query(i, g[i].id);
		q.status = g[i].ok ? "ok" : "failed";
		q.subject = (char *)g[i].subject;
		q.accel_j = g[i].accel_j;
		q.e2e_s = g[i].e2e_s;
		q.prompt_tokens = g[i].ptok;
		q.logprob_sum = g[i].lp_sum;
		q.logprob_tokens = g[i].lp_tokens;
		cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(store_query_insert(&st, r2.id, &q, err, sizeof(err)), 0, "%s", err);
	}
	/* scores in a shuffled order over the items; the other run's scores are interleaved */
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < GEN_ITEMS; i++) {
			uint64_t v = splitmix64(&seed);
			if (v % 3 == 0)
				continue;
			sc.item_id = g[i].id;
			sc.correct = (int)(v % 3) == 1 ? (int)((v >> 8) & 1) : -1;
			cr_assert_eq(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0, "%s", err);
			g[i].latest = sc.correct;
			sc.correct = !(int)((v >> 8) & 1);
			cr_assert_eq(store_score_add(&st, r2.id, &sc, err, sizeof(err)), 0, "%s", err);
		}
	qsort(g, GEN_ITEMS, sizeof(g[0]), gen_cmp);
	/* every field, then cursors asked for fewer (store_items_open_fields): what was asked for is the same */
	const unsigned masks[] = {STORE_ITEM_ALL, 0, STORE_ITEM_SUBJECT, STORE_ITEM_ENERGY | STORE_ITEM_TOKENS,
				  STORE_ITEM_LATENCY, STORE_ITEM_WINDOW, STORE_ITEM_LOGPROBS};
	for (size_t mi = 0; mi < sizeof(masks) / sizeof(masks[0]); mi++) {
		unsigned f = masks[mi];
		n = 0;
		cr_assert_eq(store_items_open_fields(&st, r.id, f, &c, err, sizeof(err)), 0, "%s", err);
		while ((k = store_items_next(&c, &it, err, sizeof(err))) == 1) {
			cr_assert_lt(n, GEN_ITEMS, "more items than stored");
			assert_str(it.item_id, g[n].id, "item id");
			if (f & STORE_ITEM_SUBJECT)
				assert_str(it.subject, g[n].subject ? g[n].subject : "", "subject");
			cr_assert_eq(it.ok, g[n].ok, "item %s: ok", g[n].id);
			cr_assert_eq(it.correct, g[n].latest, "item %s: latest score (fields %u)", g[n].id, f);
			if (f & STORE_ITEM_ENERGY)
				assert_real(it.accel_j, g[n].accel_j, "accel_j");
			if (f & STORE_ITEM_LATENCY)
				assert_real(it.e2e_s, g[n].e2e_s, "e2e_s");
			if (f & STORE_ITEM_TOKENS)
				cr_assert_eq(it.prompt_tokens, g[n].ptok, "item %s: prompt tokens", g[n].id);
			if (f & STORE_ITEM_LOGPROBS) {
				assert_real(it.logprob_sum, g[n].lp_sum, "logprob_sum");
				cr_assert_eq(it.logprob_tokens, g[n].lp_tokens, "item %s: logprob tokens", g[n].id);
			}
			n++;
		}
		cr_assert_eq(k, 0, "%s", err);
		cr_assert_eq(n, GEN_ITEMS);
		store_items_close(&c);
	}
	free(r.id);
	free(r2.id);
	store_close(&st);
}

void sc_run_sources_replaced(void)
{
	struct store st = open_store();
	struct run_source src[2] = {
		{0, "gpu0", "nvidia", "gpu", "device", NULL, NULL, NULL, NULL, 700, NAN, NAN},
		{1, "gpu1", "nvidia", "gpu", "device", NULL, NULL, NULL, NULL, 700, NAN, NAN},
	};
	struct run_source now = {0, "package-0", "rapl", "cpu", "package", NULL, NULL, NULL, NULL, NAN, 20.5, NAN};
	struct run_record r = plain_run("src"), g;
	char err[IPW_ERRLEN];

	r.sources = src, r.nsources = 2;
	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_set_sources(&st, r.id, &now, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_get(&st, r.id, &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(g.nsources, 1);
	cr_assert_str_eq(g.sources[0].name, "package-0");
	cr_assert_str_eq(g.sources[0].backend, "rapl");
	assert_real(g.sources[0].idle_before_w, 20.5, "idle_before_w");
	assert_real(g.sources[0].power_limit_w, NAN, "power_limit_w");
	run_record_release(&g);
	cr_assert_eq(store_run_set_sources(&st, "77", &now, 1, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert(strstr(err, "no run '77'"), "%s", err);
	free(r.id);
	store_close(&st);
}

static int never_called(const struct query_record *q, void *ctx)
{
	(void)q;
	(void)ctx;
	cr_assert_fail("a callback for a run that does not exist");
	return 0;
}

void sc_unknown_run_is_not_found_everywhere(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("real"), ghost = plain_run("ghost"), g;
	struct query_record q = plain_query(0, "x");
	struct store_sample v = {0, 0.5, 1, 1, 1, 1};
	char err[IPW_ERRLEN], **ids;
	size_t n;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_queries_iter(&st, "77", never_called, NULL, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert(strstr(err, "no run '77'"), "%s", err);
	cr_assert_eq(store_items_done(&st, "77", &ids, &n, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert_null(ids);
	cr_assert_eq(store_query_insert(&st, "77", &q, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert_eq(store_samples_append(&st, "77", &v, 1, err, sizeof(err)), STORE_ENOTFOUND);
	ghost.id = "77";
	cr_assert_eq(store_run_update(&st, &ghost, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert(strstr(err, "no run '77'"), "%s", err);
	cr_assert_eq(store_run_get(&st, "77", &g, err, sizeof(err)), STORE_ENOTFOUND);
	/* what is not a run id at all is an error too, and writes nothing */
	cr_assert_lt(store_query_insert(&st, "x1", &q, err, sizeof(err)), 0);
	cr_assert_lt(store_query_insert(&st, "-1", &q, err, sizeof(err)), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM queries"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM samples"), 0);
	free(r.id);
	store_close(&st);
}

/* ---- opening ---- */

void sc_open_without_create_fails_and_creates_nothing(void)
{
	struct store st;
	char err[IPW_ERRLEN];

	err[0] = 0;
	cr_assert_eq(store_open(&st, uri, 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no store at"), "%s", err);
	store_close(&st);  /* a failed open leaves nothing to close */
	cr_assert_eq(store_open(&st, uri, STORE_READONLY, err, sizeof(err)), -1, "the first open created it");
	cr_assert(strstr(err, "no store at"), "%s", err);
	st = open_store();
	store_close(&st);
	cr_assert_eq(store_open(&st, uri, STORE_READONLY, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
}

static int count_queries(const struct query_record *q, void *ctx)
{
	(void)q;
	(*(int *)ctx)++;
	return 0;
}

void sc_read_only_open_reads_and_never_writes(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("ro"), r2 = plain_run("ro2"), g;
	struct query_record q = plain_query(0, "a");
	struct store_score sc = {"a", "mcq", NULL, 1, NULL, 0};
	struct store_judgement j = {"00", "judge", "TRUE", "TRUE", 0};
	struct store_sample v = {0, 0.5, 1, 1, 1, 1};
	struct buf b;
	char err[IPW_ERRLEN];
	int n = 0;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	store_close(&st);

	cr_assert_eq(store_open(&st, uri, STORE_READONLY, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_get(&st, "last", &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(g.name, "ro");
	run_record_release(&g);
	cr_assert_eq(store_queries_iter(&st, r.id, count_queries, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
	buf_init(&b, 0);
	read_cursor(&st, r.id, &b);
	cr_assert(strstr(b.data, "a|"), "%s", b.data);
	buf_release(&b);
	/* every write fails */
	cr_assert_lt(store_run_create(&st, &r2, err, sizeof(err)), 0);
	cr_assert_null(r2.id);
	q.item_id = "b";
	cr_assert_lt(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0);
	cr_assert_lt(store_score_add(&st, r.id, &sc, err, sizeof(err)), 0);
	cr_assert_lt(store_judgement_put(&st, &j, err, sizeof(err)), 0);
	cr_assert_lt(store_samples_append(&st, r.id, &v, 1, err, sizeof(err)), 0);
	r.status = "completed";
	cr_assert_lt(store_run_update(&st, &r, err, sizeof(err)), 0);
	store_close(&st);

	cr_assert_eq(sql_int("SELECT count(*) FROM runs"), 1);
	cr_assert_eq(sql_int("SELECT count(*) FROM queries"), 1);
	cr_assert_eq(sql_int("SELECT count(*) FROM scores"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM judgements"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM samples"), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM runs WHERE status = 'running'"), 1);
	free(r.id);
}

void sc_reopen_migrates_nothing_and_newer_schema_refused(void)
{
	struct store st = open_store();
	char err[IPW_ERRLEN];
	long long versions;

	store_close(&st);
	versions = sql_int("SELECT count(*) FROM schema_version");
	cr_assert_geq(versions, 1);
	cr_assert_eq(sql_int("SELECT max(version) FROM schema_version"), versions, "one row per migration");
	st = open_store();
	store_close(&st);
	cr_assert_eq(sql_int("SELECT count(*) FROM schema_version"), versions, "reopening migrated again");
	/* a store from a newer ipw is refused, by writing and by reading opens */
	cr_assert_eq(fac->sql(uri, "INSERT INTO schema_version (version, applied_at) VALUES (99, 0)", NULL), 0);
	cr_assert_eq(store_open(&st, uri, STORE_CREATE, err, sizeof(err)), -1);
	cr_assert(strstr(err, "schema version 99"), "%s", err);
	cr_assert_eq(store_open(&st, uri, STORE_READONLY, err, sizeof(err)), -1);
	cr_assert(strstr(err, "schema version 99"), "%s", err);
}

/* ---- secrets ---- */

void sc_refuses_to_store_an_api_key(void)
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

/* ---- items sent again (--resume after transport failures) ---- */

struct seen {
	struct buf b;
	int n;
};

/* "item:status:error_kind:attempts:energy rows:accel_j;" of each query, in order. */
static int note_query(const struct query_record *q, void *ctx)
{
	struct seen *s = ctx;
	s->n++;
	buf_appendf(&s->b, "%s:%s:%s:%d:%d:%g;", q->item_id, q->status, q->error_kind ? q->error_kind : "-",
		    q->nattempts, q->nenergy, q->accel_j);
	return 0;
}

static char *latest_of(struct store *st, const char *run_id, int superseded, int *n)
{
	struct seen s;
	char err[IPW_ERRLEN];
	buf_init(&s.b, 0);
	s.n = 0;
	cr_assert_eq((superseded ? store_superseded_iter : store_queries_iter)(st, run_id, note_query, &s, err,
									      sizeof(err)), 0, "%s", err);
	*n = s.n;
	buf_appends(&s.b, "");
	return buf_detach(&s.b);
}

void sc_resend_supersedes_and_keeps_history(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("resend");
	struct query_energy en = {0, 5.0, 1.0};
	struct query_attempt at = {1, 0.5, 0.1, "connect", -1, "refused"};
	const char *kinds[4] = {NULL, "connect", "http", "http"};
	const int status[4] = {-1, -1, 400, 503};
	const char *items[4] = {"a", "b", "c", "d"};
	struct query_record q;
	struct buf b;
	char err[IPW_ERRLEN], **ids = NULL, *txt;
	size_t n = 0;
	int nq = 0;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 4; i++) {
		q = plain_query(i, items[i]);
		q.status = i ? "failed" : "ok";
		q.error_kind = (char *)kinds[i];
		q.http_status = status[i];
		q.accel_j = 5.0;
		q.energy = &en, q.nenergy = 1;
		q.attempts = &at, q.nattempts = 1;
		cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(store_query_failed_in_transport(&q), i == 1 || i == 3, "item %s", items[i]);
	}
	/* a refused connection and a 503 are sent again; an ok query and a 400 are not */
	cr_assert_eq(store_items_to_resend(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(ids[0], "b");
	cr_assert_str_eq(ids[1], "d");
	free_list(ids);

	/* b sent again, answered: one row per item, the latest; the failed one kept with its children */
	q = plain_query(1, "b");
	q.accel_j = 7.0;
	cr_assert_eq(store_query_resend(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	txt = latest_of(&st, r.id, 0, &nq);
	cr_assert_str_eq(txt, "a:ok:-:1:1:5;b:ok:-:0:0:7;c:failed:http:1:1:5;d:failed:http:1:1:5;");
	free(txt);
	txt = latest_of(&st, r.id, 1, &nq);
	cr_assert_str_eq(txt, "b:failed:connect:1:1:5;");
	free(txt);
	cr_assert_eq(store_items_done(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 4, "each item once");
	free_list(ids);
	buf_init(&b, 0);
	read_cursor(&st, r.id, &b);
	cr_assert_str_eq(b.data, "a||1|-1|5|nan|-1;b||1|-1|7|nan|-1;c||0|-1|5|nan|-1;d||0|-1|5|nan|-1;");
	buf_release(&b);

	/* d sent again and failing again (timed out), then its energy set: the latest row gets it */
	q = plain_query(3, "d");
	q.status = "failed";
	q.error_kind = "timeout";
	cr_assert_eq(store_query_resend(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	q.accel_j = 3.0;
	q.energy = &en, q.nenergy = 1;
	cr_assert_eq(store_query_energy_set(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_items_to_resend(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(ids[0], "d");
	free_list(ids);
	q = plain_query(3, "d");
	cr_assert_eq(store_query_resend(&st, r.id, &q, err, sizeof(err)), 0, "%s", err);
	txt = latest_of(&st, r.id, 1, &nq);
	cr_assert_str_eq(txt, "b:failed:connect:1:1:5;d:failed:http:1:1:5;d:failed:timeout:0:1:3;");
	free(txt);
	cr_assert_eq(store_items_to_resend(&st, r.id, &ids, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 0);
	cr_assert_null(ids);
	cr_assert_eq(sql_int("SELECT count(*) FROM queries"), 7, "nothing measured is lost");
	cr_assert_eq(sql_int("SELECT count(*) FROM queries WHERE superseded_at IS NULL"), 4);

	/* a plain insert of a recorded item is still a duplicate; an unknown item or run is not found */
	q = plain_query(1, "b");
	cr_assert_eq(store_query_insert(&st, r.id, &q, err, sizeof(err)), STORE_EDUPLICATE);
	q = plain_query(9, "zz");
	cr_assert_eq(store_query_resend(&st, r.id, &q, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert(strstr(err, "no query for item 'zz'"), "%s", err);
	cr_assert_eq(store_query_resend(&st, "99", &q, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert_eq(sql_int("SELECT count(*) FROM queries"), 7, "a refused resend wrote nothing");
	/* superseded is set once: never cleared, never moved */
	cr_assert_eq(fac->sql(uri, "UPDATE queries SET superseded_at = NULL WHERE superseded_at IS NOT NULL", NULL), -1);
	cr_assert_eq(fac->sql(uri, "UPDATE queries SET superseded_at = 1 WHERE superseded_at IS NOT NULL", NULL), -1);
	free(r.id);
	store_close(&st);
}

/* ---- leases: one sender per run ---- */

/* A child process that waits to be killed (alive == 1) or has exited and been reaped (0). */
static pid_t child(int alive)
{
	pid_t p = fork();
	cr_assert_geq(p, 0);
	if (p == 0) {
		if (alive)
			pause();
		_exit(0);
	}
	if (!alive)
		cr_assert_eq(waitpid(p, NULL, 0), p);
	return p;
}

void sc_lease_refuses_a_live_holder_and_takes_over_a_stale_one(void)
{
	struct store st = open_store();
	struct run_record r = plain_run("lease");
	struct store_lease l, prev, want;
	char err[IPW_ERRLEN], owner[64];
	pid_t me = getpid(), dead, live;
	int rc;

	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lease_get(&st, r.id, &l, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert_eq(store_lease_acquire(&st, r.id, "h1", me, 1000, 60, &prev, err, sizeof(err)), 0, "%s", err);
	snprintf(owner, sizeof(owner), "h1:%d", (int)me);
	cr_assert_eq(store_lease_get(&st, r.id, &l, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(l.owner, owner);
	cr_assert_str_eq(l.host, "h1");
	cr_assert_eq(l.pid, me);
	cr_assert(l.acquired_at == 1000 && l.heartbeat_at == 1000);
	store_lease_clear(&l);
	cr_assert_eq(store_lease_renew(&st, r.id, owner, 1010, err, sizeof(err)), 0, "%s", err);
	/* the holder acquiring again keeps it (and its acquisition time) */
	cr_assert_eq(store_lease_acquire(&st, r.id, "h1", me, 1015, 60, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lease_get(&st, r.id, &l, err, sizeof(err)), 0, "%s", err);
	cr_assert(l.acquired_at == 1000 && l.heartbeat_at == 1015, "%g %g", l.acquired_at, l.heartbeat_at);
	store_lease_clear(&l);

	/* another host, the heartbeat 20 s old: refused, naming the holder and the heartbeat's age */
	rc = store_lease_acquire(&st, r.id, "h2", 1, 1035, 60, &prev, err, sizeof(err));
	cr_assert_eq(rc, STORE_EBUSY);
	cr_assert(strstr(err, owner) && strstr(err, "heartbeat is 20 s old"), "%s", err);
	/* 90 s old: stale, taken over, said why */
	rc = store_lease_acquire(&st, r.id, "h2", 1, 1105, 60, &prev, err, sizeof(err));
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "took over") && strstr(err, owner) && strstr(err, "90 s old"), "%s", err);
	cr_assert_str_eq(prev.owner, owner);
	store_lease_clear(&prev);
	/* the old holder has lost it: renewing says so, releasing leaves the new holder's lease */
	cr_assert_eq(store_lease_renew(&st, r.id, owner, 1110, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert_eq(store_lease_release(&st, r.id, owner, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lease_get(&st, r.id, &l, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(l.owner, "h2:1");
	/* a put is conditional: a stale expectation writes nothing */
	want = l;
	want.heartbeat_at = 1;
	cr_assert_eq(st.ops->lease_put(&st, r.id, &l, &want, err, sizeof(err)), STORE_EBUSY);
	cr_assert_eq(st.ops->lease_put(&st, r.id, &l, NULL, err, sizeof(err)), STORE_EBUSY);
	store_lease_clear(&l);
	cr_assert_eq(store_lease_release(&st, r.id, "h2:1", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lease_get(&st, r.id, &l, err, sizeof(err)), STORE_ENOTFOUND);

	/* on one host: a live holder with a fresh heartbeat is refused, whatever its pid's age */
	live = child(1);
	cr_assert_eq(store_lease_acquire(&st, r.id, "box", live, 2000, 60, NULL, err, sizeof(err)), 0, "%s", err);
	rc = store_lease_acquire(&st, r.id, "box", me, 2001, 60, NULL, err, sizeof(err));
	cr_assert_eq(rc, STORE_EBUSY, "%s", err);
	/* its process gone: taken over at once, though the heartbeat is fresh */
	kill(live, SIGKILL);
	cr_assert_eq(waitpid(live, NULL, 0), live);
	rc = store_lease_acquire(&st, r.id, "box", me, 2002, 60, NULL, err, sizeof(err));
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "is not running on this host"), "%s", err);
	/* a dead pid on another host proves nothing: only the heartbeat's age counts there */
	dead = child(0);
	snprintf(owner, sizeof(owner), "box:%d", (int)me);
	cr_assert_eq(store_lease_release(&st, r.id, owner, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lease_acquire(&st, r.id, "far", dead, 3000, 60, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_lease_acquire(&st, r.id, "box", me, 3001, 60, NULL, err, sizeof(err)), STORE_EBUSY);
	/* no such run */
	cr_assert_eq(store_lease_acquire(&st, "99", "box", me, 1, 60, NULL, err, sizeof(err)), STORE_ENOTFOUND);
	free(r.id);
	store_close(&st);
}
