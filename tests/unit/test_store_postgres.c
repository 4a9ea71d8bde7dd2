/*
 * test_store_postgres.c - the PostgreSQL store against a real server: main
 * starts a throwaway cluster on a Unix socket (tests/pg/start.sh), the
 * conformance suite runs with one fresh database per test, then what only
 * PostgreSQL has: URI forms, no password in messages, read-only sessions,
 * byte-order collation, two writers at once. Without the server binaries the
 * tests are skipped with the reason, or fail when IPW_REQUIRE_PG=1 (CI).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "helper_store_conformance.h"
#include "store.h"
#include "util.h"

/* Set by main in the environment (the tests run in child processes). */
#define ENV_HOST "IPW_TEST_PG_HOST"
#define ENV_SKIP "IPW_TEST_PG_SKIP"

/* ---- the factory: a fresh database per test on the test server ---- */

static char dbname[64];

static const char *pg_host(void)
{
	const char *h = getenv(ENV_HOST);
	return h ? h : "";
}

/* Runs one statement on database db of the test server: 0, or -1 (message to stderr). */
static int admin_sql(const char *db, const char *sql)
{
	char conn[512];
	PGconn *c;
	PGresult *r;
	int rc = -1;

	snprintf(conn, sizeof(conn), "host=%s dbname=%s", pg_host(), db);
	c = PQconnectdb(conn);
	if (PQstatus(c) == CONNECTION_OK) {
		r = PQexec(c, sql);
		if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
			rc = 0;
		else
			fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
		PQclear(r);
	} else {
		fprintf(stderr, "admin connection: %s", PQerrorMessage(c));
	}
	PQfinish(c);
	return rc;
}

static int pg_new_store(char *uri, size_t n)
{
	static int seq;
	char sql[128];

	snprintf(dbname, sizeof(dbname), "ipw_t_%d_%d", (int)getpid(), ++seq);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
	if (admin_sql("postgres", sql) < 0) {
		snprintf(uri, n, "could not create database %s", dbname);
		return -1;
	}
	snprintf(uri, n, "postgresql:///%s?host=%s", dbname, pg_host());
	return 0;
}

static void pg_drop_store(const char *uri)
{
	char sql[128];

	(void)uri;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	admin_sql("postgres", sql);
}

static int pg_sql(const char *uri, const char *sql, long long *out)
{
	PGconn *c = PQconnectdb(uri);
	PGresult *r = NULL;
	int rc = -1;

	if (PQstatus(c) != CONNECTION_OK)
		goto out;
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && out && PQntuples(r) > 0)
		*out = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	if (PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK)
		rc = 0;
out:
	PQclear(r);
	PQfinish(c);
	return rc;
}

static const struct store_factory pg_factory = {
	.name = "postgresql",
	.new_store = pg_new_store,
	.drop_store = pg_drop_store,
	.sql = pg_sql,
	.integrity = NULL,  /* PostgreSQL keeps its own: the checks after kill -9 are the suite's */
};

static char uri[512];

static void setup(void)
{
	const char *skip = getenv(ENV_SKIP);

	if (skip)
		cr_skip_test("%s", skip);
	store_conformance_setup(&pg_factory);
	snprintf(uri, sizeof(uri), "postgresql:///%s?host=%s", dbname, pg_host());
}

static void teardown(void)
{
	if (!getenv(ENV_SKIP))
		store_conformance_teardown();
}

TestSuite(store_postgres_conformance, .init = setup, .fini = teardown, .timeout = 120);
STORE_CONFORMANCE_TESTS(store_postgres_conformance)

/* ---- PostgreSQL only ---- */

TestSuite(store_postgres, .init = setup, .fini = teardown, .timeout = 60);

static struct store open_store(const char *u, int flags)
{
	struct store st;
	char err[IPW_ERRLEN];
	cr_assert_eq(store_open(&st, u, flags, err, sizeof(err)), 0, "%s: %s", u, err);
	return st;
}

static char *make_run(struct store *st, const char *name)
{
	struct run_record r;
	char err[IPW_ERRLEN];

	memset(&r, 0, sizeof(r));
	r.name = (char *)name;
	r.status = "running";
	r.n_items = -1;
	r.started_at = 1700000000.5;
	r.ended_at = r.idle_seconds = NAN;
	cr_assert_eq(store_run_create(st, &r, err, sizeof(err)), 0, "%s", err);
	return r.id;
}

static long long sql_int(const char *sql)
{
	long long v = -1;
	cr_assert_eq(pg_sql(uri, sql, &v), 0, "'%s' failed", sql);
	return v;
}

Test(store_postgres, schema_version_and_types)
{
	struct store st = open_store(uri, STORE_CREATE);

	store_close(&st);
	cr_assert_eq(sql_int("SELECT count(*) FROM schema_version"), 8);  /* as SQLite: 1, 2 (load), 3 (cpu_s), 4 (energy set once), 5 (resend, run leases), 6 (studies), 7 (logprobs), 8 (covering scores index) */
	cr_assert_eq(sql_int("SELECT max(version) FROM schema_version"), 8);
	/* doubles are 8 bytes, item ids compare by bytes */
	cr_assert_eq(sql_int("SELECT count(*) FROM information_schema.columns WHERE table_name = 'queries'"
			     " AND column_name = 'accel_j' AND data_type = 'double precision'"), 1);
	cr_assert_eq(sql_int("SELECT count(*) FROM information_schema.columns WHERE table_name = 'queries'"
			     " AND column_name = 'item_id' AND collation_name = 'C'"), 1);
	cr_assert_eq(pg_sql(uri, "UPDATE queries SET answer = 'x'", NULL), 0, "an update of no rows is fine");
}

/* URI forms libpq takes, options passed through; messages never show the password. */
Test(store_postgres, uri_forms_and_no_password_in_messages)
{
	struct store st = open_store(uri, STORE_CREATE);
	char u[700], err[IPW_ERRLEN], *id = make_run(&st, "one");
	struct run_record g;
	const char *forms[] = {
		"postgres:///%s?host=%s",
		"PostgreSQL:///%s?host=%s&application_name=ipw-test&connect_timeout=10",
		"postgresql://user-ignored:hunter2-secret@/%s?host=%s&password=hunter2-secret&sslmode=prefer",
	};

	store_close(&st);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(u, sizeof(u), forms[i], dbname, pg_host());
		if (i == 2) {
			/* the user is not a role of the server: a failed connect, its message without the password */
			cr_assert_eq(store_open(&st, u, STORE_READONLY, err, sizeof(err)), -1);
			cr_assert(strstr(err, "cannot connect to PostgreSQL"), "%s", err);
			cr_assert_null(strstr(err, "hunter2"), "the password was printed: %s", err);
			cr_assert(strstr(err, "postgresql://user-ignored@/"), "%s", err);
			cr_assert(strstr(err, "sslmode=prefer"), "%s", err);
			continue;
		}
		st = open_store(u, STORE_READONLY);
		cr_assert_null(strstr(st.path, "hunter2"));
		cr_assert_eq(strncmp(st.path, i ? "postgresql://" : "postgres://", i ? 13 : 11), 0, "%s", st.path);
		cr_assert_eq(store_run_get(&st, id, &g, err, sizeof(err)), 0, "%s", err);
		cr_assert_str_eq(g.name, "one");
		run_record_release(&g);
		store_close(&st);
	}
	/* a password kept in the URI never reaches s->path */
	snprintf(u, sizeof(u), "postgresql://%s:hunter2-secret@/%s?password=hunter2-secret&host=%s",
		 getpwuid(geteuid())->pw_name, dbname, pg_host());
	if (store_open(&st, u, STORE_READONLY, err, sizeof(err)) == 0) {
		cr_assert_null(strstr(st.path, "hunter2"), "%s", st.path);
		cr_assert_null(strstr(st.path, "password"), "%s", st.path);
		store_close(&st);
	} else {
		cr_assert_null(strstr(err, "hunter2"), "%s", err);
	}
	/* not a URI libpq takes */
	cr_assert_eq(store_open(&st, "postgresql:ipw", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "postgresql://"), "%s", err);
	/* a server that is not there */
	cr_assert_eq(store_open(&st, "postgresql://u:hunter2@127.0.0.1:1/ipw", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "cannot connect to PostgreSQL"), "%s", err);
	cr_assert_null(strstr(err, "hunter2"), "%s", err);
	free(id);
}

/* A read-only open runs every statement in a read-only transaction: the server refuses writes. */
Test(store_postgres, read_only_session_is_refused_writes_by_the_server)
{
	struct store st = open_store(uri, STORE_CREATE);
	char err[IPW_ERRLEN], *id = make_run(&st, "ro");
	struct store_score sc = {"a", "mcq", NULL, 1, NULL, 0};

	store_close(&st);
	st = open_store(uri, STORE_READONLY);
	cr_assert_lt(store_score_add(&st, id, &sc, err, sizeof(err)), 0);
	cr_assert(strstr(err, "read-only transaction"), "%s", err);
	store_close(&st);
	cr_assert_eq(sql_int("SELECT count(*) FROM scores"), 0);
	free(id);
}

/* A database holding other tables is refused untouched; an empty one is not a store until a writer opens it. */
Test(store_postgres, foreign_database_refused)
{
	struct store st;
	char err[IPW_ERRLEN];
	int flags[3] = {0, STORE_READONLY, STORE_CREATE};

	cr_assert_eq(pg_sql(uri, "CREATE TABLE t (x int)", NULL), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(store_open(&st, uri, flags[i], err, sizeof(err)), -1);
		cr_assert(strstr(err, "not an ipw store"), "%s", err);
	}
	cr_assert_eq(sql_int("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"), 1);
}

/* Two processes write one run at once: every item lands once, ids never collide. */
Test(store_postgres, two_writers_at_once)
{
	struct store st = open_store(uri, STORE_CREATE);
	char *id = make_run(&st, "shared");
	pid_t pid[2];

	store_close(&st);
	for (int w = 0; w < 2; w++) {
		pid[w] = fork();
		cr_assert_neq(pid[w], -1);
		if (pid[w] == 0) {
			struct store s;
			char err[IPW_ERRLEN], item[32];
			int bad = 0;
			if (store_open(&s, uri, STORE_CREATE, err, sizeof(err)) < 0)
				_exit(2);
			for (int i = 0; i < 100; i++) {
				struct query_record q;
				memset(&q, 0, sizeof(q));
				q.seq = i;
				snprintf(item, sizeof(item), "item-%03d", i);
				q.item_id = item;
				q.status = "ok";
				q.prompt_tokens = q.completion_tokens = q.reasoning_tokens = -1;
				q.http_status = -1;
				int rc = store_query_insert(&s, id, &q, err, sizeof(err));
				if (rc != 0 && rc != STORE_EDUPLICATE)
					bad = 1;
				free(make_run(&s, "more"));
			}
			store_close(&s);
			_exit(bad ? 3 : 0);
		}
	}
	for (int w = 0; w < 2; w++) {
		int status;
		cr_assert_eq(waitpid(pid[w], &status, 0), pid[w]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d: status %d", w, status);
	}
	cr_assert_eq(sql_int("SELECT count(*) FROM queries"), 100);
	cr_assert_eq(sql_int("SELECT count(DISTINCT id) FROM runs"), 201);
	free(id);
}

/* A query of item id as it ended: no energy yet (every energy column NULL). */
static void ended_query(struct query_record *q, int seq, const char *id)
{
	memset(q, 0, sizeof(*q));
	q->seq = seq;
	q->item_id = (char *)id;
	q->status = "ok";
	q->prompt_tokens = q->completion_tokens = q->reasoning_tokens = -1;
	q->http_status = -1;
	q->e2e_s = 0.5 + seq;
	q->accel_j = q->host_j = q->total_j = q->accel_dyn_j = q->host_dyn_j = q->total_dyn_j = NAN;
	q->avg_power_w = q->peak_power_w = q->temp_max_c = q->mem_max_bytes = NAN;
}

/* The batch ops: all of a batch or none, in a few statements (src/store/postgres.c "multi-row"). */
Test(store_postgres, batch_insert_and_energy_all_or_none)
{
	struct store st = open_store(uri, STORE_CREATE);
	char *id = make_run(&st, "batch");
	struct query_record q[3];
	const struct query_record *qs[3] = {&q[0], &q[1], &q[2]};
	struct query_attempt at = {1, 0.25, 0.5, "timeout", -1, "slow"};
	struct query_energy e[3][2] = {{{0, 1.5, 0.5}, {1, 2.5, NAN}}, {{0, 3.0, 1.0}, {1, 4.0, 2.0}}, {{0, 5.0, 3.0}}};
	char err[IPW_ERRLEN], sql[256];
	static const char *ids[3] = {"b-2", "a-0", "c-1"};

	for (int i = 0; i < 3; i++)
		ended_query(&q[i], i, ids[i]);
	q[1].attempts = &at, q[1].nattempts = 1;
	cr_assert_eq(store_query_insert_batch(&st, id, qs, 3, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sql_int("SELECT count(*) FROM queries WHERE accel_j IS NULL"), 3);
	cr_assert_eq(sql_int("SELECT count(*) FROM query_attempts a JOIN queries q ON q.id = a.query_id"
			     " WHERE q.item_id = 'a-0' AND a.error_kind = 'timeout' AND a.message = 'slow'"), 1);
	/* one item already recorded: the whole batch is refused, nothing of it stored */
	{
		struct query_record more[2];
		const struct query_record *mq[2] = {&more[0], &more[1]};
		ended_query(&more[0], 3, "d-3");
		ended_query(&more[1], 4, "a-0");
		cr_assert_eq(store_query_insert_batch(&st, id, mq, 2, err, sizeof(err)), STORE_EDUPLICATE, "%s", err);
		cr_assert_eq(sql_int("SELECT count(*) FROM queries WHERE item_id = 'd-3'"), 0);
	}
	for (int i = 0; i < 3; i++) {
		q[i].accel_j = 10.0 * (i + 1);
		q[i].avg_power_w = 100.0 + i;
		q[i].energy = e[i];
		q[i].nenergy = i == 2 ? 1 : 2;
		q[i].e2e_s = 99; /* not an energy column: kept as inserted */
	}
	/* an item the run lacks: none of the batch's energy is set */
	{
		struct query_record miss = q[2];
		const struct query_record *bad[2] = {&q[0], &miss};
		miss.item_id = "zz";
		cr_assert_eq(store_query_energy_set_batch(&st, id, bad, 2, err, sizeof(err)), STORE_ENOTFOUND, "%s", err);
		cr_assert(strstr(err, "'zz'"), "%s", err);
		cr_assert_eq(sql_int("SELECT count(*) FROM queries WHERE accel_j IS NOT NULL"), 0);
		cr_assert_eq(sql_int("SELECT count(*) FROM query_energy"), 0);
	}
	cr_assert_eq(store_query_energy_set_batch(&st, id, qs, 3, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 3; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM queries WHERE item_id = '%s' AND accel_j = %d AND"
			 " avg_power_w = %d AND e2e_s = %g", ids[i], 10 * (i + 1), 100 + i, 0.5 + i);
		cr_assert_eq(sql_int(sql), 1, "%s", sql);
	}
	cr_assert_eq(sql_int("SELECT count(*) FROM query_energy e JOIN queries q ON q.id = e.query_id WHERE"
			     " (q.item_id = 'b-2' AND e.source_idx = 1 AND e.gross_j = 2.5 AND e.dynamic_j IS NULL)"
			     " OR (q.item_id = 'c-1' AND e.gross_j = 5 AND e.dynamic_j = 3)"), 2);
	cr_assert_eq(sql_int("SELECT count(*) FROM query_energy"), 5);
	/* set once: a second batch is refused */
	cr_assert_lt(store_query_energy_set_batch(&st, id, qs, 3, err, sizeof(err)), 0);
	cr_assert_eq(sql_int("SELECT count(*) FROM query_energy"), 5);
	free(id);
	store_close(&st);
}

/* Samples go in multi-row statements: more rows than one statement's parameters hold. */
Test(store_postgres, many_samples_in_one_append)
{
	struct store st = open_store(uri, STORE_CREATE);
	char *id = make_run(&st, "samples");
	size_t n = 20000; /* 7 parameters each: 140,000 > libpq's 65,535 per statement */
	struct store_sample *v = xcalloc(n, sizeof(*v));
	char err[IPW_ERRLEN];

	for (size_t i = 0; i < n; i++)
		v[i] = (struct store_sample){(int)(i % 2), 0.01 * (double)i, NAN, 100 + (double)(i % 7), NAN, NAN};
	cr_assert_eq(store_samples_append(&st, id, v, n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sql_int("SELECT count(*) FROM samples"), 20000);
	cr_assert_eq(sql_int("SELECT count(*) FROM samples WHERE energy_j IS NULL AND power_w = 100 + (round(t_s * 100)::bigint % 7)"), 20000);
	cr_assert_eq(store_samples_append(&st, "77", v, 1, err, sizeof(err)), STORE_ENOTFOUND, "%s", err);
	free(v);
	free(id);
	store_close(&st);
}

/* The items of run id through a new cursor of st: how many, and the sum of their latest scores. */
static int count_items(struct store *st, const char *id, int *correct_sum)
{
	struct store_cursor c;
	struct store_item it;
	char err[IPW_ERRLEN];
	int n = 0, k;

	*correct_sum = 0;
	cr_assert_eq(store_items_open_fields(st, id, STORE_ITEM_SUBJECT, &c, err, sizeof(err)), 0, "%s", err);
	while ((k = store_items_next(&c, &it, err, sizeof(err))) == 1) {
		n++;
		*correct_sum += it.correct;
	}
	cr_assert_eq(k, 0, "%s", err);
	store_items_close(&c);
	return n;
}

/* Transactions of the server other than the test's own admin connection that are open now. */
static long long open_transactions(void)
{
	return sql_int("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
		       " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL");
}

/*
 * A read-only session's cursors live in one REPEATABLE READ READ ONLY
 * transaction, begun by the first and ended by the last one's close: every
 * cursor opened while one is open reads the same snapshot, and the next one
 * after the last close sees what was written meanwhile.
 */
Test(store_postgres, read_only_cursors_share_one_read_transaction)
{
	struct store w = open_store(uri, STORE_CREATE), ro;
	char err[IPW_ERRLEN], *id = make_run(&w, "snap");
	struct query_record q;
	struct store_cursor a, b;
	struct store_item it;
	struct run_record g;
	struct store_score sc = {"a", "mcq", NULL, 1, NULL, 0};
	int sum;
	static const char *ids[3] = {"a", "b", "c"};

	for (int i = 0; i < 3; i++) {
		ended_query(&q, i, ids[i]);
		cr_assert_eq(store_query_insert(&w, id, &q, err, sizeof(err)), 0, "%s", err);
	}
	ro = open_store(uri, STORE_READONLY);
	cr_assert_eq(open_transactions(), 0);
	cr_assert_eq(store_items_open_fields(&ro, id, 0, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_items_next(&a, &it, err, sizeof(err)), 1, "%s", err);
	cr_assert_str_eq(it.item_id, "a");
	cr_assert_eq(it.correct, -1);
	cr_assert_eq(open_transactions(), 1, "the read transaction is open");
	/* written and committed by another session while a cursor is open: not in the snapshot */
	ended_query(&q, 3, "d");
	cr_assert_eq(store_query_insert(&w, id, &q, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_score_add(&w, id, &sc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(count_items(&ro, id, &sum), 3, "a cursor opened in the transaction reads its snapshot");
	cr_assert_eq(sum, -3);
	cr_assert_eq(store_items_open_fields(&ro, id, 0, &b, err, sizeof(err)), 0, "%s", err);
	/* reads that are not cursors work inside it */
	cr_assert_eq(store_run_get(&ro, id, &g, err, sizeof(err)), 0, "%s", err);
	run_record_release(&g);
	store_items_close(&a);
	cr_assert_eq(open_transactions(), 1, "b is still open");
	sum = 0;
	while (store_items_next(&b, &it, err, sizeof(err)) == 1)
		sum++;
	cr_assert_eq(sum, 3);
	store_items_close(&b);
	cr_assert_eq(open_transactions(), 0, "the last close ends the read transaction");
	/* a new cursor: a new snapshot */
	cr_assert_eq(count_items(&ro, id, &sum), 4);
	cr_assert_eq(sum, 1 - 3, "a's latest score is 1 now; b, c, d have none");
	cr_assert_eq(open_transactions(), 0);
	/* a cursor on a run that does not exist leaves no transaction behind */
	cr_assert_eq(store_items_open(&ro, "999", &a, err, sizeof(err)), STORE_ENOTFOUND);
	cr_assert_eq(open_transactions(), 0);
	store_close(&ro);
	store_close(&w);
	free(id);
}

static int score_each(const struct query_record *qr, void *ctx)
{
	struct store *st = ctx;
	struct store_score sc = {qr->item_id, "exact", NULL, 1, NULL, 0};
	char err[IPW_ERRLEN];
	/* committed at once, while the cursor is open, as ipw score does */
	cr_assert_eq(store_score_add(st, "1", &sc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sql_int("SELECT count(*) FROM scores WHERE item_id = 'a'"), 1);
	return 0;
}

/* A writable session's cursors stay outside transactions (WITH HOLD): a callback may write and commit. */
Test(store_postgres, writable_session_writes_while_a_cursor_is_open)
{
	struct store w = open_store(uri, STORE_CREATE);
	char err[IPW_ERRLEN], *id = make_run(&w, "write");
	struct query_record q;
	int sum;
	static const char *ids[2] = {"a", "b"};

	cr_assert_str_eq(id, "1");
	for (int i = 0; i < 2; i++) {
		ended_query(&q, i, ids[i]);
		cr_assert_eq(store_query_insert(&w, id, &q, err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(store_queries_iter(&w, id, score_each, &w, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(open_transactions(), 0);
	cr_assert_eq(count_items(&w, id, &sum), 2);
	cr_assert_eq(sum, 2);
	store_close(&w);
	free(id);
}

/* The children a query of many_children gets: i % 3 energies, 1 + i % 4 attempts. */
#define KIDS_N 4400   /* 11,000 attempts: past one fetch of a children cursor (10,000 rows) */

struct kids_seen {
	int n;
	long long last_seq;
};

static int kids_check(const struct query_record *q, void *ctx)
{
	struct kids_seen *k = ctx;
	int i = KIDS_N - 1 - (int)q->seq;
	char item[16], msg[48];

	cr_assert_gt(q->seq, k->last_seq, "seq order");
	k->last_seq = q->seq;
	snprintf(item, sizeof(item), "k%05d", i);
	cr_assert_str_eq(q->item_id, item);
	cr_assert_eq(q->nenergy, i % 3, "%s: energies", item);
	for (int e = 0; e < q->nenergy; e++) {
		cr_assert_eq(q->energy[e].source_idx, e);
		cr_assert_eq(q->energy[e].gross_j, i + e / 4.0, "%s: gross_j of source %d", item, e);
		cr_assert(e == 1 ? isnan(q->energy[e].dynamic_j) : q->energy[e].dynamic_j == 0.5, "%s", item);
	}
	cr_assert_eq(q->nattempts, 1 + i % 4, "%s: attempts", item);
	for (int a = 0; a < q->nattempts; a++) {
		const struct query_attempt *at = &q->attempts[a];
		int last = a == q->nattempts - 1;
		cr_assert_eq(at->n, a + 1);
		cr_assert_eq(at->t_start_s, i + a / 8.0);
		cr_assert(last ? isinf(at->duration_s) : at->duration_s == 0.25 * (a + 1), "%s: attempt %d", item, a);
		snprintf(msg, sizeof(msg), "try %d of %s", a + 1, item);
		if (last) {
			cr_assert_null(at->error_kind);
			cr_assert_null(at->message);
			cr_assert_eq(at->http_status, -1);
		} else {
			cr_assert_str_eq(at->error_kind, "reset");
			cr_assert_str_eq(at->message, msg);
			cr_assert_eq(at->http_status, 503);
		}
	}
	k->n++;
	return 0;
}

/*
 * queries_iter merges each query's energies and attempts from their own
 * cursors: many queries, a varying number of children each (none too),
 * more rows than one fetch, seq order unlike insertion order; on a
 * read-only and on a writable session.
 */
Test(store_postgres, queries_iter_merges_children_across_fetches, .timeout = 120)
{
	struct store w = open_store(uri, STORE_CREATE), ro;
	char err[IPW_ERRLEN], *id = make_run(&w, "kids");
	struct query_record *q = xcalloc(KIDS_N, sizeof(*q));
	const struct query_record **qs = xcalloc(KIDS_N, sizeof(*qs));
	static char items[KIDS_N][16], msgs[KIDS_N][4][40];

	for (int i = 0; i < KIDS_N; i++) {
		struct query_energy *e = xcalloc(2, sizeof(*e));
		struct query_attempt *a = xcalloc(4, sizeof(*a));
		snprintf(items[i], sizeof(items[i]), "k%05d", i);
		ended_query(&q[i], KIDS_N - 1 - i, items[i]);
		q[i].nenergy = i % 3;
		for (int k = 0; k < 2; k++)
			e[k] = (struct query_energy){k, i + k / 4.0, k == 1 ? NAN : 0.5};
		q[i].energy = e;
		q[i].nattempts = 1 + i % 4;
		for (int k = 0; k < q[i].nattempts; k++) {
			int last = k == q[i].nattempts - 1;
			snprintf(msgs[i][k], sizeof(msgs[i][k]), "try %d of %s", k + 1, items[i]);
			a[k] = (struct query_attempt){k + 1, i + k / 8.0, last ? INFINITY : 0.25 * (k + 1),
				last ? NULL : "reset", last ? -1 : 503, last ? NULL : msgs[i][k]};
		}
		q[i].attempts = a;
		qs[i] = &q[i];
	}
	cr_assert_eq(store_query_insert_batch(&w, id, qs, KIDS_N, err, sizeof(err)), 0, "%s", err);
	ro = open_store(uri, STORE_READONLY);
	for (int pass = 0; pass < 2; pass++) {
		struct kids_seen k = {0, -1};
		cr_assert_eq(store_queries_iter(pass ? &w : &ro, id, kids_check, &k, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(k.n, KIDS_N);
	}
	cr_assert_eq(open_transactions(), 0);
	store_close(&ro);
	store_close(&w);
	for (int i = 0; i < KIDS_N; i++) {
		free(q[i].energy);
		free(q[i].attempts);
	}
	free(q);
	free(qs);
	free(id);
}

/* ---- main: the server around the tests ---- */

static char server_dir[64];

/* Starts the test server: 0, 77 when its binaries are missing, or another failure. */
static int start_server(void)
{
	const char *tests = getenv("IPW_TESTS");
	char cmd[512];
	int rc;

	strcpy(server_dir, "/tmp/ipw-pg-XXXXXX");
	if (!mkdtemp(server_dir))
		return 1;
	rmdir(server_dir);  /* start.sh makes it, owned by the server's user */
	snprintf(cmd, sizeof(cmd), "sh '%s/pg/start.sh' '%s' >/dev/null", tests ? tests : "tests", server_dir);
	rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : 1;
}

static void stop_server(void)
{
	const char *tests = getenv("IPW_TESTS");
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "sh '%s/pg/stop.sh' '%s'", tests ? tests : "tests", server_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_store_postgres: stopping the server in %s failed\n", server_dir);
}

int main(int argc, char *argv[])
{
	struct criterion_test_set *tests = criterion_initialize();
	const char *req = getenv("IPW_REQUIRE_PG");
	int started = 0, result = 0, rc;

	if (!criterion_handle_args(argc, argv, true))
		goto out;
	rc = start_server();
	if (rc == 0) {
		started = 1;
		setenv(ENV_HOST, server_dir, 1);
		unsetenv(ENV_SKIP);
	} else if (req && !strcmp(req, "1")) {
		fprintf(stderr, "test_store_postgres: no PostgreSQL server for the tests (start.sh exited %d), "
			"and IPW_REQUIRE_PG=1 requires one\n", rc);
		result = 1;
		goto out;
	} else {
		setenv(ENV_SKIP, rc == 77 ? "PostgreSQL server binaries (initdb, pg_ctl) not installed "
		       "(Debian package postgresql)" : "the PostgreSQL test server did not start", 1);
	}
	result = !criterion_run_all_tests(tests);
out:
	if (started)
		stop_server();
	criterion_finalize(tests);
	return result;
}
