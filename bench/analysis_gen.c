/*
 * analysis_gen.c - writes a synthetic store for bench/analysis_bench.sh:
 * RUNS runs of ITEMS items each (same item ids, 22 subjects), every item
 * scored, with energies, latencies and token counts. Runs are created with
 * the store API; queries and scores are bulk-inserted in large transactions
 * (the runner's one-fsync-per-query path would take hours for millions).
 * Usage: analysis_gen PATH RUNS ITEMS [SEED]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "metrics.h"
#include "rng.h"
#include "store.h"
#include "util.h"

static double unit(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

static int sql_ok(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "analysis_gen: %s: %s\n", what, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char err[IPW_ERRLEN], model[32], name[32];
	struct store st;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL, *sc = NULL;
	long runs, items;
	uint64_t seed;
	int rc = 1;

	if (argc < 4 || (runs = atol(argv[2])) <= 0 || (items = atol(argv[3])) <= 0) {
		fprintf(stderr, "usage: analysis_gen PATH RUNS ITEMS [SEED]\n");
		return 2;
	}
	seed = argc > 4 ? strtoull(argv[4], NULL, 0) : 1;
	if (store_open(&st, argv[1], STORE_CREATE, err, sizeof(err)) < 0) {
		fprintf(stderr, "analysis_gen: %s\n", err);
		return 1;
	}
	for (long r = 0; r < runs; r++) {
		struct run_record rr;
		memset(&rr, 0, sizeof(rr));
		snprintf(name, sizeof(name), "bench-%02ld", r + 1);
		snprintf(model, sizeof(model), "model-%02ld", r + 1);
		rr.name = name;
		rr.status = "completed";
		rr.model = model;
		rr.engine = "vllm";
		rr.config_json = "{\"concurrency\":1}";
		rr.n_items = items;
		rr.started_at = 1700000000.0;
		rr.ended_at = rr.idle_seconds = NAN;
		if (store_run_create(&st, &rr, err, sizeof(err)) < 0) {
			fprintf(stderr, "analysis_gen: %s\n", err);
			store_close(&st);
			return 1;
		}
		free(rr.id);
	}
	store_close(&st);

	if (sqlite3_open(argv[1], &db) != SQLITE_OK)
		goto out;
	sqlite3_exec(db, "PRAGMA synchronous=OFF; PRAGMA journal_mode=WAL; PRAGMA cache_size=-200000", NULL, NULL, NULL);
	if (sql_ok(db, sqlite3_prepare_v2(db, "INSERT INTO queries (run_id, seq, item_id, subject, status, t_send_s,"
					  " t_end_s, ttft_s, e2e_s, prompt_tokens, completion_tokens, accel_j, accel_dyn_j,"
					  " avg_power_w, recorded_at) VALUES (?, ?, ?, ?, 'ok', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
					  -1, &q, NULL), "prepare") < 0 ||
	    sql_ok(db, sqlite3_prepare_v2(db, "INSERT INTO scores (run_id, item_id, grader, correct, scored_at)"
					  " VALUES (?, ?, 'mcq', ?, 0)", -1, &sc, NULL), "prepare") < 0)
		goto out;
	for (long r = 0; r < runs; r++) {
		/* run r: skill rises with r; energy per token rises with it too (bigger models) */
		double skill = 0.3 + 0.6 * (double)r / (double)(runs > 1 ? runs - 1 : 1);
		double jpt = 0.2 + 1.8 * (double)r / (double)(runs > 1 ? runs - 1 : 1), t = 0;
		uint64_t s = seed * 1000003 + (uint64_t)r;
		if (sql_ok(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin") < 0)
			goto out;
		for (long i = 0; i < items; i++) {
			char id[32], subj[16];
			uint64_t is = seed ^ (uint64_t)i * 0x9e3779b97f4a7c15ULL;
			double difficulty = unit(&is), ptok = 50 + floor(400 * unit(&is));
			double otok = 20 + floor(600 * unit(&s)), lat = 0.05 + 0.01 * otok + 0.0005 * ptok;
			double e = jpt * otok + 0.05 * ptok + 5 * unit(&s);
			int correct = unit(&s) < skill * (1.2 - difficulty);
			snprintf(id, sizeof(id), "item-%07ld", i);
			snprintf(subj, sizeof(subj), "subject-%02d", (int)(i % 22));
			sqlite3_reset(q);
			sqlite3_bind_int64(q, 1, r + 1);
			sqlite3_bind_int64(q, 2, i);
			sqlite3_bind_text(q, 3, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(q, 4, subj, -1, SQLITE_TRANSIENT);
			sqlite3_bind_double(q, 5, t);
			sqlite3_bind_double(q, 6, t + lat);
			sqlite3_bind_double(q, 7, 0.02 + 0.0002 * ptok);
			sqlite3_bind_double(q, 8, lat);
			sqlite3_bind_int64(q, 9, (long long)ptok);
			sqlite3_bind_int64(q, 10, (long long)otok);
			sqlite3_bind_double(q, 11, e);
			sqlite3_bind_double(q, 12, e * 0.6);
			sqlite3_bind_double(q, 13, e / lat);
			if (sql_ok(db, sqlite3_step(q), "insert query") < 0)
				goto out;
			sqlite3_reset(sc);
			sqlite3_bind_int64(sc, 1, r + 1);
			sqlite3_bind_text(sc, 2, id, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(sc, 3, correct);
			if (sql_ok(db, sqlite3_step(sc), "insert score") < 0)
				goto out;
			t += lat + 0.01;
		}
		if (sql_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit") < 0)
			goto out;
		fprintf(stderr, "analysis_gen: run %ld of %ld written\n", r + 1, runs);
	}
	sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	rc = 0;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(sc);
	sqlite3_close(db);
	return rc;
}
