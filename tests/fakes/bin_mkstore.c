/*
 * bin_mkstore.c - builds a store with known runs through the store API, for
 * tests/cli/store_cmds.sh: run 1 "alpha" (3 queries, scores), runs 2 and 3
 * both named "dup" (3 has nothing measured). Usage: mkstore PATH
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

static struct run_record make_run(const char *name, const char *status)
{
	struct run_record r;
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.status = (char *)status;
	r.model = "qwen3:4b";
	r.server_model = "Qwen/Qwen3-4B";
	r.api = "openai";
	r.url = "http://127.0.0.1:8000/v1";
	r.engine = "vllm";
	r.config_json = "{\"temperature\":0.6,\"top_p\":0.95,\"max_tokens\":32768}";
	r.dataset_path = "builtin";
	r.dataset_sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	r.dataset_format = "native";
	r.n_items = 3;
	r.hardware_json = "{\"host\":\"testhost\",\"cpu\":\"Test CPU\"}";
	r.version = "0.0.0-test";
	r.started_at = 1700000000.0;
	r.ended_at = NAN;
	r.idle_seconds = 10;
	return r;
}

static struct query_record make_query(long long seq, const char *item, const char *status)
{
	struct query_record q;
	memset(&q, 0, sizeof(q));
	q.seq = seq;
	q.item_id = (char *)item;
	q.subject = "science";
	q.task = "mcq";
	q.prompt = "Which?";
	q.status = (char *)status;
	q.reference = "B";
	q.t_send_s = q.t_first_s = q.t_end_s = NAN;
	q.ttft_s = q.e2e_s = q.tpot_s = q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
	q.prompt_tokens = q.completion_tokens = q.reasoning_tokens = -1;
	q.accel_j = q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	q.http_status = -1;
	return q;
}

int main(int argc, char **argv)
{
	char err[IPW_ERRLEN];
	struct store st;
	struct run_source src[2];
	struct query_energy en[2] = {{0, 60.5, 30.25}, {1, 40.0, 20.0}};
	struct query_attempt at[2] = {{1, 0.5, 0.1, "http", 503, "Service Unavailable"},
				      {2, 1.0, 2.0, "none", 200, NULL}};
	struct query_record q;
	struct run_record r;
	struct store_score sc = {"q0", "mcq", "{}", 1, "letter B", 1700000100.0};
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: mkstore PATH\n");
		return 2;
	}
	if (store_open(&st, argv[1], STORE_CREATE, err, sizeof(err)) < 0) {
		fprintf(stderr, "mkstore: %s\n", err);
		return 1;
	}
	memset(src, 0, sizeof(src));
	for (int i = 0; i < 2; i++) {
		src[i].idx = i;
		src[i].name = i ? "gpu1" : "gpu0";
		src[i].backend = "fake";
		src[i].kind = "gpu";
		src[i].scope = "device";
		src[i].model = "Fake H200";
		src[i].uuid = i ? "GPU-0001" : "GPU-0000";
		src[i].pci_bus_id = i ? "0000:02:00.0" : "0000:01:00.0";
		src[i].driver = "550.00";
		src[i].power_limit_w = 700;
		src[i].idle_before_w = 70.5;
		src[i].idle_after_w = 71.5;
	}

	/* run 1: alpha */
	r = make_run("alpha", "running");
	r.sources = src;
	r.nsources = 2;
	if (store_run_create(&st, &r, err, sizeof(err)) < 0)
		goto out;
	q = make_query(0, "q0", "ok");
	q.answer = "The answer is B.\nAnswer: B";
	q.finish_reason = "stop";
	q.ttft_s = 0.25, q.e2e_s = 2.0, q.tpot_s = 0.01;
	q.prompt_tokens = 100, q.completion_tokens = 175, q.reasoning_tokens = 0;
	q.accel_j = 100.5, q.accel_dyn_j = 50.25, q.avg_power_w = 50.25, q.peak_power_w = 80;
	q.energy = en, q.nenergy = 2;
	q.attempts = at, q.nattempts = 2;
	q.http_status = 200;
	if (store_query_insert(&st, r.id, &q, err, sizeof(err)) < 0)
		goto out;
	q = make_query(1, "q1,\"odd\"", "failed");
	q.error_kind = "http";
	q.error_message = "HTTP 500: boom";
	q.http_status = 500;
	if (store_query_insert(&st, r.id, &q, err, sizeof(err)) < 0)
		goto out;
	q = make_query(2, "q2", "ok");
	q.answer = "He said \"C\", then\nAnswer: C";
	q.finish_reason = "stop";
	q.ttft_s = 0.75, q.e2e_s = 1.0, q.tpot_s = 0.02;
	q.prompt_tokens = 50, q.completion_tokens = 25, q.reasoning_tokens = 10;
	q.accel_j = 50.25, q.accel_dyn_j = 20, q.avg_power_w = 50.25, q.peak_power_w = 60;
	q.http_status = 200;
	if (store_query_insert(&st, r.id, &q, err, sizeof(err)) < 0)
		goto out;
	if (store_score_add(&st, r.id, &sc, err, sizeof(err)) < 0)
		goto out;
	sc.item_id = "q2", sc.correct = 1;
	if (store_score_add(&st, r.id, &sc, err, sizeof(err)) < 0)
		goto out;
	sc.correct = 0, sc.scored_at = 1700000200.0;   /* the later score wins */
	if (store_score_add(&st, r.id, &sc, err, sizeof(err)) < 0)
		goto out;
	r.status = "completed";
	r.ended_at = 1700000300.0;
	if (store_run_update(&st, &r, err, sizeof(err)) < 0)
		goto out;
	free(r.id);

	/* runs 2 and 3: both "dup" */
	r = make_run("dup", "completed");
	if (store_run_create(&st, &r, err, sizeof(err)) < 0)
		goto out;
	free(r.id);
	r = make_run("dup", "interrupted");
	r.n_items = -1;
	r.started_at = 1700001000.0;
	if (store_run_create(&st, &r, err, sizeof(err)) < 0)
		goto out;
	free(r.id);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "mkstore: %s\n", err);
	store_close(&st);
	return rc;
}
