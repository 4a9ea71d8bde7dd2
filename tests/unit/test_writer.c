/*
 * test_writer.c - the load run's writer thread (src/writer.c) on a SQLite
 * store: queries are stored in the order handed over, a full queue makes
 * writer_put wait (counted) and drops nothing, writer_finish drains
 * everything, and a failing batch stores none of its queries and nothing
 * after it. Also the SQLite back-end's batch operations: all or none.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store.h"
#include "util.h"
#include "writer.h"

static char dir[64], dbpath[128];
static struct store st;
static char *run_id;

static void setup(void)
{
	struct run_record r;
	char err[IPW_ERRLEN];

	strcpy(dir, "/tmp/ipw-test-writer-XXXXXX");
	cr_assert(mkdtemp(dir));
	snprintf(dbpath, sizeof(dbpath), "%s/w.db", dir);
	cr_assert_eq(store_open(&st, dbpath, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	memset(&r, 0, sizeof(r));
	r.name = "w";
	r.status = "running";
	r.n_items = -1;
	r.started_at = 1700000000.5;
	r.ended_at = r.idle_seconds = NAN;
	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	run_id = r.id;
}

static void teardown(void)
{
	char cmd[256];
	store_close(&st);
	free(run_id);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(writer, .init = setup, .fini = teardown, .timeout = 60);

#define NQ 64
static struct query_record qs[NQ];
static char ids[NQ][16];

/* Query k: ok, answer "w<k>", energy not measured. */
static struct query_record *make_q(int k, const char *id)
{
	struct query_record *q = &qs[k];
	memset(q, 0, sizeof(*q));
	snprintf(ids[k], sizeof(ids[k]), "%s", id);
	q->seq = k;
	q->item_id = ids[k];
	q->subject = "s";
	q->task = "exact";
	q->prompt = "p";
	q->answer = "w";
	q->answer_len = 1;
	q->status = "ok";
	q->t_send_s = q->t_first_s = q->t_end_s = q->ttft_s = q->e2e_s = q->tpot_s = NAN;
	q->itl_p50_s = q->itl_p90_s = q->itl_p99_s = NAN;
	q->prompt_tokens = q->completion_tokens = q->reasoning_tokens = -1;
	q->accel_j = q->host_j = q->total_j = q->accel_dyn_j = q->host_dyn_j = q->total_dyn_j = NAN;
	q->avg_power_w = q->peak_power_w = q->temp_max_c = q->mem_max_bytes = NAN;
	q->cpu_s = NAN;
	q->http_status = 200;
	q->error_kind = "none";
	return q;
}

static struct query_record *make_k(int k)
{
	char id[16];
	snprintf(id, sizeof(id), "k%d", k);
	return make_q(k, id);
}

/* The stored item ids in insertion order, joined by spaces (caller frees). */
static char *stored_ids(const char *extra_where)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	struct buf b;
	char sql[256];
	char *out;

	cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "SELECT item_id FROM queries %s ORDER BY id", extra_where ? extra_where : "");
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	buf_init(&b, 0);
	while (sqlite3_step(s) == SQLITE_ROW)
		buf_appendf(&b, "%s%s", b.len ? " " : "", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	out = xstrdup(b.len ? b.data : "");
	buf_release(&b);
	return out;
}

static long long count_sql(const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	long long v = -1;
	cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void expect_ids(const char *where, const char *want)
{
	char *got = stored_ids(where);
	cr_assert_str_eq(got, want);
	free(got);
}

Test(writer, sqlite_batches_are_all_or_none)
{
	char err[IPW_ERRLEN];
	const struct query_record *b[3];

	b[0] = make_k(0), b[1] = make_k(1), b[2] = make_k(2);
	cr_assert_eq(store_query_insert_batch(&st, run_id, b, 3, err, sizeof(err)), 0, "%s", err);
	expect_ids(NULL, "k0 k1 k2");
	/* k1 again in the middle: the whole batch is refused, k3 and k4 included */
	b[0] = make_k(3), b[1] = make_q(4, "k1"), b[2] = make_k(5);
	cr_assert_lt(store_query_insert_batch(&st, run_id, b, 3, err, sizeof(err)), 0);
	cr_assert(strstr(err, "already recorded"), "%s", err);
	expect_ids(NULL, "k0 k1 k2");
	/* energy: a batch naming a query the run lacks sets none of it */
	b[0] = make_k(0), b[1] = make_q(6, "nope"), b[2] = make_k(2);
	qs[0].accel_j = qs[2].accel_j = 4.5;
	cr_assert_lt(store_query_energy_set_batch(&st, run_id, b, 3, err, sizeof(err)), 0);
	cr_assert_eq(count_sql("SELECT count(*) FROM queries WHERE accel_j IS NOT NULL"), 0);
	b[1] = b[2];
	cr_assert_eq(store_query_energy_set_batch(&st, run_id, b, 2, err, sizeof(err)), 0, "%s", err);
	expect_ids("WHERE accel_j = 4.5", "k0 k2");
	cr_assert_eq(count_sql("SELECT count(*) FROM queries WHERE item_id = 'k1' AND accel_j IS NULL"), 1);
	/* a set energy is set once: setting it again fails as a whole */
	cr_assert_lt(store_query_energy_set_batch(&st, run_id, b, 1, err, sizeof(err)), 0);
}

Test(writer, stores_in_order_and_drains_on_finish)
{
	struct writer *w;
	struct writer_stats ws;
	struct item it = {.id = "x", .answer = "w", .subject = "s", .task = TASK_EXACT};
	char err[IPW_ERRLEN];
	struct buf want;

	cr_assert_eq(writer_start(&w, &st, run_id, 8, 3, NULL, err, sizeof(err)), 0, "%s", err);
	buf_init(&want, 0);
	for (int k = 0; k < 50; k++) {
		cr_assert_eq(writer_put(w, make_k(k), &it), 0);
		buf_appendf(&want, "%sk%d", k ? " " : "", k);
	}
	/* nothing is waited for here: finish stores whatever is still queued */
	cr_assert_eq(writer_finish(w, &ws, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ws.queued, 50);
	cr_assert_eq(ws.stored, 50);
	cr_assert(ws.max_batch >= 1 && ws.max_batch <= 3, "%lld", ws.max_batch);
	cr_assert(ws.batches >= 17 && ws.batches <= 50, "%lld", ws.batches);
	expect_ids(NULL, want.data);
	cr_assert_eq(count_sql("SELECT count(*) FROM scores"), 50, "every query scored");
	cr_assert_eq(count_sql("SELECT count(*) FROM queries WHERE accel_j IS NULL"), 50);
	buf_release(&want);
}

/* A stored hook that holds the writer inside its first batch until the test opens the gate. */
static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gcv = PTHREAD_COND_INITIALIZER;
static int entered, gate_open;

static void held_stored(void *arg, const struct query_record *q, long long nstored)
{
	(void)arg;
	(void)q;
	(void)nstored;
	pthread_mutex_lock(&gmu);
	entered++;
	pthread_cond_broadcast(&gcv);
	while (!gate_open)
		pthread_cond_wait(&gcv, &gmu);
	pthread_mutex_unlock(&gmu);
}

static void *put_one(void *arg)
{
	static int rc;
	rc = writer_put(arg, &qs[3], NULL);
	return &rc;
}

Test(writer, a_full_queue_waits_and_drops_nothing)
{
	struct writer *w;
	struct writer_stats ws;
	struct writer_hooks h = {.stored = held_stored};
	pthread_t th;
	void *rc;
	char err[IPW_ERRLEN];

	cr_assert_eq(writer_start(&w, &st, run_id, 2, 1, &h, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(writer_put(w, make_k(0), NULL), 0);
	/* the writer has taken k0 (committed it) and is held in the hook */
	pthread_mutex_lock(&gmu);
	while (!entered)
		pthread_cond_wait(&gcv, &gmu);
	pthread_mutex_unlock(&gmu);
	expect_ids(NULL, "k0");
	/* two fit in the queue; the third must wait for room */
	cr_assert_eq(writer_put(w, make_k(1), NULL), 0);
	cr_assert_eq(writer_put(w, make_k(2), NULL), 0);
	make_k(3);
	cr_assert_eq(pthread_create(&th, NULL, put_one, w), 0);
	while (writer_stalls(w) < 1)
		sched_yield();
	expect_ids(NULL, "k0");
	cr_assert_eq(writer_stored(w), 0, "k0's batch is not counted before its hook returns");
	pthread_mutex_lock(&gmu);
	gate_open = 1;
	pthread_cond_broadcast(&gcv);
	pthread_mutex_unlock(&gmu);
	pthread_join(th, &rc);
	cr_assert_eq(*(int *)rc, 0);
	cr_assert_eq(writer_finish(w, &ws, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ws.stalls, 1);
	cr_assert(ws.stall_s >= 0);
	cr_assert_eq(ws.stored, 4);
	cr_assert_eq(ws.max_batch, 1);
	expect_ids(NULL, "k0 k1 k2 k3");
	cr_assert_eq(entered, 4);
}

Test(writer, a_failed_batch_stores_none_of_it_and_nothing_after)
{
	struct writer *w;
	struct writer_stats ws;
	char err[IPW_ERRLEN];
	char *got;
	int refused = 0;

	cr_assert_eq(writer_start(&w, &st, run_id, 4, 4, NULL, err, sizeof(err)), 0, "%s", err);
	for (int k = 0; k < 40; k++)
		/* query 20 repeats k3's id: its batch fails as a whole */
		refused += writer_put(w, k == 20 ? make_q(k, "k3") : make_k(k), NULL) < 0;
	cr_assert_lt(writer_finish(w, &ws, err, sizeof(err)), 0);
	cr_assert(strstr(err, "already recorded"), "%s", err);
	got = stored_ids(NULL);
	/* a prefix of k0 .. k19, whole batches of at most 4 ending before the failing one */
	{
		char want[512] = "";
		int n = 0;
		for (const char *p = got; *p; p++)
			n += *p == ' ';
		n = got[0] ? n + 1 : 0;
		cr_assert_eq(n, ws.stored);
		cr_assert(n >= 17 && n <= 20, "%d stored: %s", n, got);
		for (int k = 0; k < n; k++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%sk%d", k ? " " : "", k);
		cr_assert_str_eq(got, want);
	}
	cr_assert_eq(ws.queued + refused, 40, "every put either queued or refused after the failure");
	free(got);
}
