/*
 * analysis_fixture.h - builds, through the store API, the small store whose
 * analyses tests/unit/test_analysis.c and tests/cli/analysis.sh check by
 * hand. Included by both (static functions only). The numbers:
 *
 *   item subject | 1 small: ok E(J)  | 2 big: ok E  | 3 cloud: ok E | 5 mixed
 *   i1   math    |   1    10         |   1    30    |   1    100    | failed
 *   i2   math    |   0    10         |   1    30    |   1    100    | no score
 *   i3   math    |   0    10         |   0    30    |   1    100    | 0 then 1 (latest: 1)
 *   i4   bio     |   1    20         |   0    40    |   0    100    | 0
 *   i5   bio     |   0    20         |   0    40    |   1    100    | 1
 *   latency (s)  |   1               |   2          |   4           | 1
 *   tokens       | prompt 100, output 100 (cloud: output 200)
 *   run 4 "partial": i1..i4 only, as run 1. Runs 6 "gen-a" and 7 "gen-b" (attribution):
 *   gen-a acc 1,0,1,0, E 100 J, 1 s each (P 100 W); gen-b acc 1,1,1,0, E 25 J, 0.5 s (P 50 W).
 *   Run 8 "linear": exact linear laws over i1..i5, prompt 100,50,200,25,300, output 10,20,40,80,160:
 *   E = 5 + 0.5 out, latency = 0.1 + 0.01 out + 0.001 prompt, TTFT = 0.05 + 0.0002 prompt.
 *   Run 1 also has telemetry: 50 W idle, 200 W while item k (k = 0..4) runs from 2k to 2k + 1 s.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "util.h"

static struct run_record fx_run(const char *name, const char *model)
{
	struct run_record r;
	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.status = "completed";
	r.model = (char *)model;
	r.engine = "vllm";
	r.api = "openai";
	r.config_json = "{\"concurrency\":1}";
	r.dataset_path = "builtin";
	r.n_items = 5;
	r.started_at = 1700000000.0;
	r.ended_at = 1700000100.0;
	r.idle_seconds = NAN;
	return r;
}

static struct query_record fx_query(long long seq, const char *item, const char *subject, double e, double lat,
				    long long out_tokens)
{
	struct query_record q;
	memset(&q, 0, sizeof(q));
	q.seq = seq;
	q.item_id = (char *)item;
	q.subject = (char *)subject;
	q.status = "ok";
	q.t_send_s = 2.0 * (double)seq;
	q.t_end_s = q.t_send_s + 1;
	q.t_first_s = q.t_send_s + 0.1;
	q.ttft_s = 0.1 + 0.001 * 100;
	q.e2e_s = lat;
	q.tpot_s = q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
	q.prompt_tokens = 100;
	q.completion_tokens = out_tokens;
	q.reasoning_tokens = -1;
	q.accel_j = e;
	q.accel_dyn_j = e / 2;
	q.host_j = q.total_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = e / lat;
	q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	q.http_status = 200;
	return q;
}

static int fx_score(struct store *st, const char *run, const char *item, int correct, char *err, size_t errlen)
{
	struct store_score sc = {item, "mcq", "{}", correct, "fixture", 1700000200.0};
	return store_score_add(st, run, &sc, err, errlen);
}

static const char *const fx_items[5] = {"i1", "i2", "i3", "i4", "i5"};
static const char *const fx_subjects[5] = {"math", "math", "math", "bio", "bio"};

/* r's one source: the fake GPU every fixture run is measured on (src is the caller's). */
static void fx_gpu_source(struct run_record *r, struct run_source *src)
{
	memset(src, 0, sizeof(*src));
	src->idx = 0;
	src->name = "gpu0";
	src->backend = "fake";
	src->kind = "gpu";
	src->scope = "accelerator";
	src->model = "Fake H200";
	src->power_limit_w = src->idle_before_w = src->idle_after_w = NAN;
	r->sources = src;
	r->nsources = 1;
}

/* One run over items [0, n) with the given correctness, energies, latency and output tokens. */
static int fx_add_run(struct store *st, const char *name, const char *model, int n, const int *ok,
		      const double *e, double lat, long long out_tokens, char **id, char *err, size_t errlen)
{
	struct run_record r = fx_run(name, model);
	struct run_source src;
	int rc;

	fx_gpu_source(&r, &src);
	if ((rc = store_run_create(st, &r, err, errlen)) < 0)
		return rc;
	for (int i = 0; i < n; i++) {
		struct query_record q = fx_query(i, fx_items[i], fx_subjects[i], e[i], lat, out_tokens);
		if ((rc = store_query_insert(st, r.id, &q, err, errlen)) < 0 ||
		    (rc = fx_score(st, r.id, fx_items[i], ok[i], err, errlen)) < 0)
			goto out;
	}
	*id = r.id;
	r.id = NULL;
out:
	free(r.id);
	return rc;
}

static int fixture_build(const char *path, char *err, size_t errlen)
{
	static const int ok_small[5] = {1, 0, 0, 1, 0}, ok_big[5] = {1, 1, 0, 0, 0}, ok_cloud[5] = {1, 1, 1, 0, 1};
	static const double e_small[5] = {10, 10, 10, 20, 20}, e_big[5] = {30, 30, 30, 40, 40};
	static const double e_cloud[5] = {100, 100, 100, 100, 100};
	static const int ok_a[4] = {1, 0, 1, 0}, ok_b[4] = {1, 1, 1, 0};
	static const double e_a[4] = {100, 100, 100, 100}, e_b[4] = {25, 25, 25, 25};
	struct store st;
	char *id = NULL;
	int rc;

	if ((rc = store_open(&st, path, STORE_CREATE, err, errlen)) < 0)
		return rc;
	/* run 1 small, with telemetry */
	if ((rc = fx_add_run(&st, "small", "qwen3-1b", 5, ok_small, e_small, 1, 100, &id, err, errlen)) < 0)
		goto out;
	{
		struct store_sample v[201];
		for (int k = 0; k <= 200; k++) {
			double t = 0.05 * k;
			int busy = (int)floor(t) % 2 == 0 && t < 10;
			v[k] = (struct store_sample){0, t, NAN, busy ? 200 : 50, NAN, NAN};
		}
		if ((rc = store_samples_append(&st, id, v, 201, err, errlen)) < 0)
			goto out;
	}
	free(id), id = NULL;
	if ((rc = fx_add_run(&st, "big", "qwen3-2b", 5, ok_big, e_big, 2, 100, &id, err, errlen)) < 0)
		goto out;
	free(id), id = NULL;
	if ((rc = fx_add_run(&st, "cloud", "qwen3-235b", 5, ok_cloud, e_cloud, 4, 200, &id, err, errlen)) < 0)
		goto out;
	free(id), id = NULL;
	if ((rc = fx_add_run(&st, "partial", "qwen3-1b", 4, ok_small, e_small, 1, 100, &id, err, errlen)) < 0)
		goto out;
	free(id), id = NULL;
	/* run 5 mixed: i1 failed, i2 unscored, i3 rescored 0 -> 1, i4 0, i5 1 */
	{
		struct run_record r = fx_run("mixed", "qwen3-1b");
		for (int i = 0; i < 5; i++) {
			struct query_record q = fx_query(i, fx_items[i], fx_subjects[i], 10, 1, 100);
			if (i == 0) {
				q.status = "failed";
				q.error_kind = "http";
			}
			if (r.id == NULL && (rc = store_run_create(&st, &r, err, errlen)) < 0)
				goto out;
			if ((rc = store_query_insert(&st, r.id, &q, err, errlen)) < 0)
				goto mixed_out;
		}
		if ((rc = fx_score(&st, r.id, "i3", 0, err, errlen)) < 0 ||
		    (rc = fx_score(&st, r.id, "i3", 1, err, errlen)) < 0 ||
		    (rc = fx_score(&st, r.id, "i4", 0, err, errlen)) < 0 ||
		    (rc = fx_score(&st, r.id, "i5", 1, err, errlen)) < 0)
			goto mixed_out;
mixed_out:
		free(r.id);
		if (rc < 0)
			goto out;
	}
	if ((rc = fx_add_run(&st, "gen-a", "old", 4, ok_a, e_a, 1, 100, &id, err, errlen)) < 0)
		goto out;
	free(id), id = NULL;
	if ((rc = fx_add_run(&st, "gen-b", "new", 4, ok_b, e_b, 0.5, 100, &id, err, errlen)) < 0)
		goto out;
	free(id), id = NULL;
	{
		static const long long pt[5] = {100, 50, 200, 25, 300}, ot[5] = {10, 20, 40, 80, 160};
		struct run_record r = fx_run("linear", "lin");
		if ((rc = store_run_create(&st, &r, err, errlen)) < 0)
			goto out;
		id = r.id;
		for (int i = 0; i < 5; i++) {
			double e = 5 + 0.5 * (double)ot[i], lat = 0.1 + 0.01 * (double)ot[i] + 0.001 * (double)pt[i];
			struct query_record q = fx_query(i, fx_items[i], fx_subjects[i], e, lat, ot[i]);
			q.prompt_tokens = pt[i];
			q.ttft_s = 0.05 + 0.0002 * (double)pt[i];
			if ((rc = store_query_insert(&st, id, &q, err, errlen)) < 0 ||
			    (rc = fx_score(&st, id, fx_items[i], i % 2, err, errlen)) < 0)
				goto out;
		}
	}
	rc = 0;
out:
	free(id);
	store_close(&st);
	return rc;
}
