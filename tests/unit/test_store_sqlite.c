/*
 * test_store_sqlite.c - the SQLite store: the conformance suite every
 * back-end passes (helper_store_conformance.c) on a file in a temporary
 * folder, then what only SQLite has: WAL and synchronous=FULL, the exact
 * schema version, migration of a schema-1 file, read-only and immutable
 * opens that change nothing, foreign files refused untouched, file: URIs.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "helper_store_conformance.h"
#include "store.h"
#include "util.h"

/* ---- the factory: a fresh temporary folder per test, the store file in it ---- */

static char dir[64];

static int sq_new_store(char *uri, size_t n)
{
	strcpy(dir, "/tmp/ipw-test-store-XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(uri, n, "mkdtemp failed");
		return -1;
	}
	snprintf(uri, n, "%s/s.db", dir);
	return 0;
}

static void sq_drop_store(const char *uri)
{
	char cmd[256];

	(void)uri;
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", dir, dir);
	if (dir[0] && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static int sq_sql(const char *uri, const char *sql, long long *out)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW && out)
		*out = sqlite3_column_int64(st, 0);
	if (step == SQLITE_ROW || step == SQLITE_DONE)
		rc = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static int sq_integrity(const char *uri)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "ok"))
		rc = 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

static const struct store_factory sqlite_factory = {
	.name = "sqlite",
	.new_store = sq_new_store,
	.drop_store = sq_drop_store,
	.sql = sq_sql,
	.integrity = sq_integrity,
};

static char dbpath[128];

static void setup(void)
{
	store_conformance_setup(&sqlite_factory);
	snprintf(dbpath, sizeof(dbpath), "%s/s.db", dir);
}

static void teardown(void)
{
	store_conformance_teardown();
}

TestSuite(store_sqlite_conformance, .init = setup, .fini = teardown, .timeout = 120);
STORE_CONFORMANCE_TESTS(store_sqlite_conformance)

/* ---- SQLite only ---- */

TestSuite(store_sqlite, .init = setup, .fini = teardown, .timeout = 60);

static struct store open_store(void)
{
	struct store st;
	char err[IPW_ERRLEN];
	cr_assert_eq(store_open(&st, dbpath, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	return st;
}

static void make_run(struct store *st, const char *name)
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
	free(r.id);
}

static char *pragma_text(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	char *v;

	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
	v = xstrdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

Test(store_sqlite, wal_and_schema_version)
{
	struct store st = open_store();
	char *mode;
	long long n = 0, max = 0;

	store_close(&st);
	st = open_store();     /* reopening an existing store migrates nothing */
	store_close(&st);
	mode = pragma_text("PRAGMA journal_mode");
	cr_assert_str_eq(mode, "wal");
	free(mode);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM schema_version", &n), 0);
	cr_assert_eq(sq_sql(dbpath, "SELECT max(version) FROM schema_version", &max), 0);
	cr_assert_eq(n, 8);  /* schema 1, 2 (load generation), 3 (cpu_s), 4 (energy set once), 5 (resend, run leases), 6 (studies), 7 (logprobs), 8 (covering scores index) */
	cr_assert_eq(max, 8);
	/* a store from a newer ipw is refused */
	cr_assert_eq(sq_sql(dbpath, "INSERT INTO schema_version VALUES (99, 0)", NULL), 0);
	char err[IPW_ERRLEN];
	cr_assert_eq(store_open(&st, dbpath, 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "schema version 99"), "%s", err);
}

Test(store_sqlite, missing_file_is_not_created)
{
	struct store st;
	char err[IPW_ERRLEN];

	cr_assert_eq(store_open(&st, dbpath, 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no store at"), "%s", err);
	cr_assert_eq(store_open(&st, dbpath, STORE_READONLY, err, sizeof(err)), -1);
	cr_assert_neq(access(dbpath, F_OK), 0, "the store was created");
	cr_assert_eq(store_open(&st, "postgres://x/y", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "PostgreSQL"), "%s", err);
}

/*
 * A schema-1 store (made from a current one by removing what migrations 2
 * to 7 added): a read command refuses to upgrade it, a writing open migrates
 * it once and the new columns and triggers work.
 */
Test(store_sqlite, schema_1_store_is_migrated_by_a_writer_only)
{
	struct store st = open_store();
	struct run_record g;
	char err[IPW_ERRLEN];
	long long n = 0;

	make_run(&st, "old");
	store_close(&st);
	cr_assert_eq(sq_sql(dbpath, "DROP INDEX runs_by_group", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "ALTER TABLE runs DROP COLUMN group_name", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "ALTER TABLE runs DROP COLUMN summary_json", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "ALTER TABLE runs DROP COLUMN server_log", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TRIGGER queries_energy_set_once", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TRIGGER queries_never_updated", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "CREATE TRIGGER queries_never_updated BEFORE UPDATE ON queries"
			    " BEGIN SELECT RAISE(ABORT, 'recorded queries are never changed'); END", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE run_leases", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TRIGGER queries_superseded_once", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP INDEX queries_latest", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "ALTER TABLE queries DROP COLUMN superseded_at", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "ALTER TABLE queries DROP COLUMN cpu_s", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "ALTER TABLE queries DROP COLUMN logprob_sum", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "ALTER TABLE queries DROP COLUMN logprob_tokens", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE study_items", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE study_configs", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE studies", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DELETE FROM schema_version WHERE version >= 2", NULL), 0);

	cr_assert_eq(store_open(&st, dbpath, STORE_READONLY, err, sizeof(err)), -1);
	cr_assert(strstr(err, "schema version 1 and needs an upgrade (8)"), "%s", err);
	cr_assert_eq(sq_sql(dbpath, "SELECT max(version) FROM schema_version", &n), 0);
	cr_assert_eq(n, 1, "the read command migrated");

	st = open_store();
	store_close(&st);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM schema_version", &n), 0);
	cr_assert_eq(n, 8);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM studies", &n), 0, "migration 6 made the study tables");
	cr_assert_eq(sq_sql(dbpath, "UPDATE runs SET group_name = 'sweep', summary_json = '{}'", NULL), 0);
	cr_assert_eq(store_open(&st, dbpath, STORE_READONLY, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_get(&st, "old", &g, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(g.group_name, "sweep");
	cr_assert_str_eq(g.summary_json, "{}");
	cr_assert_null(g.server_log);
	run_record_release(&g);
	store_close(&st);
}

/*
 * Migration 8 only widens an index (scores_by_item covers correct): a reader
 * takes a version-7 store as it is, and the next writer brings it to 8.
 */
Test(store_sqlite, schema_7_store_is_read_as_is_and_its_index_widened_by_a_writer)
{
	struct store st = open_store();
	struct store_cursor c;
	char err[IPW_ERRLEN];
	long long n;

	make_run(&st, "seven");
	store_close(&st);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM pragma_index_info('scores_by_item')", &n), 0);
	cr_assert_eq(n, 4, "run_id, item_id, id, correct");
	cr_assert_eq(sq_sql(dbpath, "DROP INDEX scores_by_item", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "CREATE INDEX scores_by_item ON scores(run_id, item_id, id)", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DELETE FROM schema_version WHERE version = 8", NULL), 0);

	cr_assert_eq(store_open(&st, dbpath, STORE_READONLY, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_items_open(&st, "1", &c, err, sizeof(err)), 0, "%s", err);
	store_items_close(&c);
	store_close(&st);
	cr_assert_eq(sq_sql(dbpath, "SELECT max(version) FROM schema_version", &n), 0);
	cr_assert_eq(n, 7, "the reader migrated");

	st = open_store();
	store_close(&st);
	cr_assert_eq(sq_sql(dbpath, "SELECT max(version) FROM schema_version", &n), 0);
	cr_assert_eq(n, 8);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM pragma_index_info('scores_by_item')", &n), 0);
	cr_assert_eq(n, 4);
}

/*
 * A schema-4 store holding queries (their table with UNIQUE (run_id,
 * item_id)): migration 5 rebuilds the table, keeping every row, id, energy
 * and attempt, and the references to it; an item can then be sent again.
 */
Test(store_sqlite, schema_4_queries_are_kept_by_the_rebuild)
{
	struct store st = open_store();
	struct run_record r;
	struct query_record q, q2;
	struct query_energy en = {0, 4.0, 2.0};
	struct query_attempt at = {1, 0.5, 0.1, "connect", -1, "refused"};
	char err[IPW_ERRLEN];
	long long n = 0;

	memset(&r, 0, sizeof(r));
	r.name = "v4";
	r.status = "interrupted";
	r.n_items = 2;
	r.started_at = 1700000000;
	r.ended_at = r.idle_seconds = NAN;
	cr_assert_eq(store_run_create(&st, &r, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	/* back to schema 4: the queries table as version 4 made it, holding two queries */
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE queries", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "CREATE TABLE queries (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL"
			    " REFERENCES runs(id), seq INTEGER NOT NULL, item_id TEXT NOT NULL, subject TEXT, task TEXT,"
			    " prompt TEXT, answer TEXT, thinking TEXT, finish_reason TEXT, status TEXT NOT NULL,"
			    " reference TEXT, t_send_s REAL, t_first_s REAL, t_end_s REAL, ttft_s REAL, e2e_s REAL,"
			    " tpot_s REAL, itl_p50_s REAL, itl_p90_s REAL, itl_p99_s REAL, prompt_tokens INTEGER,"
			    " completion_tokens INTEGER, reasoning_tokens INTEGER, prompt_tokens_src TEXT,"
			    " completion_tokens_src TEXT, reasoning_tokens_src TEXT, accel_j REAL, host_j REAL,"
			    " total_j REAL, accel_dyn_j REAL, host_dyn_j REAL, total_dyn_j REAL, avg_power_w REAL,"
			    " peak_power_w REAL, temp_max_c REAL, mem_max_bytes REAL, error_kind TEXT,"
			    " error_message TEXT, http_status INTEGER, extra_json TEXT, recorded_at REAL NOT NULL,"
			    " cpu_s REAL, UNIQUE (run_id, item_id))", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "INSERT INTO queries (id, run_id, seq, item_id, status, accel_j, error_kind,"
			    " recorded_at) VALUES (7, 1, 0, 'a', 'ok', 4.0, NULL, 1), (9, 1, 1, 'b', 'failed', NULL,"
			    " 'connect', 2)", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "INSERT INTO query_energy VALUES (7, 0, 4.0, 2.0)", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "INSERT INTO query_attempts VALUES (9, 1, 0.5, 0.1, 'connect', NULL, 'x')",
			    NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE run_leases", NULL), 0);
	/* and without version 6's study tables */
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE study_items", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE study_configs", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DROP TABLE studies", NULL), 0);
	cr_assert_eq(sq_sql(dbpath, "DELETE FROM schema_version WHERE version >= 5", NULL), 0);

	st = open_store();
	cr_assert_eq(sq_sql(dbpath, "SELECT max(version) FROM schema_version", &n), 0);
	cr_assert_eq(n, 8);  /* 5, then 6 (studies), 7 (logprobs), 8 (covering scores index) */
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM queries WHERE superseded_at IS NULL", &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(sq_sql(dbpath, "SELECT sum(id) FROM queries", &n), 0);
	cr_assert_eq(n, 16, "ids kept");
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM query_energy JOIN queries ON queries.id = query_id", &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM pragma_foreign_key_list('query_attempts')"
			    " WHERE \"table\" = 'queries'", &n), 0);
	cr_assert_eq(n, 1, "query_attempts still references queries");
	memset(&q, 0, sizeof(q));
	q.item_id = "b";
	q.status = "ok";
	q.seq = 1;
	q.t_send_s = q.t_first_s = q.t_end_s = q.ttft_s = q.e2e_s = q.tpot_s = NAN;
	q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = q.cpu_s = NAN;
	q.accel_j = q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	q.prompt_tokens = q.completion_tokens = q.reasoning_tokens = -1;
	q.http_status = -1;
	q.energy = &en, q.nenergy = 1;
	q.attempts = &at, q.nattempts = 1;
	q2 = q;
	cr_assert_eq(store_query_resend(&st, "1", &q, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_query_insert(&st, "1", &q2, err, sizeof(err)), STORE_EDUPLICATE);
	store_close(&st);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM queries", &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM pragma_foreign_key_check", &n), 0);
	cr_assert_eq(n, 0);
	free(r.id);
}

static void file_bytes(const char *path, char **data, size_t *len)
{
	char err[IPW_ERRLEN];
	cr_assert_eq(read_file(path, data, len, err, sizeof(err)), 0, "%s", err);
}

/*
 * A store nobody may write (0444 file in a 0555 folder) is opened
 * immutable: reads work and the file, its time and its folder stay as they
 * were (no -wal or -shm), even for root, who passes permission checks.
 */
Test(store_sqlite, unwritable_store_is_read_without_any_change)
{
	struct store st = open_store();
	char err[IPW_ERRLEN], wal[160], shm[160], *before, *after;
	size_t nb, na;
	struct stat s0, s1;
	struct run_record g;

	make_run(&st, "kept");
	store_close(&st);
	/* the last close folded the log into the file (WAL mode stays recorded in it) */
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	snprintf(shm, sizeof(shm), "%s-shm", dbpath);
	cr_assert_neq(access(wal, F_OK), 0, "the -wal file outlived the last close");
	file_bytes(dbpath, &before, &nb);
	cr_assert_eq(chmod(dbpath, 0444), 0);
	cr_assert_eq(chmod(dir, 0555), 0);
	cr_assert_eq(stat(dbpath, &s0), 0);

	cr_assert_eq(store_open(&st, dbpath, STORE_READONLY, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_get(&st, "kept", &g, err, sizeof(err)), 0, "%s", err);
	run_record_release(&g);
	{
		struct run_record r;
		memset(&r, 0, sizeof(r));
		r.name = "new";
		r.status = "running";
		r.n_items = -1;
		r.started_at = r.ended_at = r.idle_seconds = NAN;
		cr_assert_lt(store_run_create(&st, &r, err, sizeof(err)), 0, "a write to an immutable store");
	}
	store_close(&st);

	cr_assert_eq(stat(dbpath, &s1), 0);
	cr_assert_eq(s0.st_mtime, s1.st_mtime, "the file's time changed");
	file_bytes(dbpath, &after, &na);
	cr_assert(nb == na && !memcmp(before, after, nb), "the file's bytes changed");
	cr_assert_neq(access(wal, F_OK), 0, "a -wal file was created");
	cr_assert_neq(access(shm, F_OK), 0, "a -shm file was created");
	free(before);
	free(after);
	chmod(dir, 0755);
}

/* A SQLite file with other tables, and a file that is not SQLite, are refused and left unchanged. */
Test(store_sqlite, foreign_files_refused_untouched)
{
	char err[IPW_ERRLEN], path[160], wal[170], *before, *after;
	size_t nb, na;
	struct store st;
	FILE *f;
	int flags[3] = {0, STORE_READONLY, STORE_CREATE};
	const char *text = "hello, this is not a database at all, just some text long enough\n";

	snprintf(path, sizeof(path), "%s/foreign.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	cr_assert_eq(sq_sql(path, "SELECT 1", NULL), -1, "sq_sql creates nothing");
	{
		sqlite3 *db;
		cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
		cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", NULL, NULL, NULL),
			     SQLITE_OK);
		sqlite3_close(db);
	}
	file_bytes(path, &before, &nb);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(store_open(&st, path, flags[i], err, sizeof(err)), -1);
		cr_assert(strstr(err, "is a SQLite database but not an ipw store"), "%s", err);
	}
	file_bytes(path, &after, &na);
	cr_assert(nb == na && !memcmp(before, after, nb), "the foreign file changed");
	cr_assert_neq(access(wal, F_OK), 0, "a -wal file was created beside it");
	free(before);
	free(after);

	snprintf(path, sizeof(path), "%s/text.db", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(store_open(&st, path, flags[i], err, sizeof(err)), -1);
		cr_assert(strstr(err, "not an ipw store"), "%s", err);
	}
	file_bytes(path, &after, &na);
	cr_assert(na == strlen(text) && !strcmp(after, text), "the text file changed");
	free(after);
}

/* sqlite:PATH, file:PATH, file:///PATH and file://localhost/PATH name the same file. */
Test(store_sqlite, uri_forms_name_the_same_file)
{
	struct store st = open_store();
	struct run_record g;
	char err[IPW_ERRLEN], u[256];
	const char *forms[] = {"sqlite:%s", "file:%s", "file://%s", "file://localhost%s", "SQLite:%s"};

	make_run(&st, "one");
	store_close(&st);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(u, sizeof(u), forms[i], dbpath);
		cr_assert_eq(store_open(&st, u, STORE_READONLY, err, sizeof(err)), 0, "%s: %s", u, err);
		cr_assert_str_eq(st.path, dbpath, "messages name the file");
		cr_assert_eq(store_run_get(&st, "one", &g, err, sizeof(err)), 0, "%s", err);
		run_record_release(&g);
		store_close(&st);
	}
	/* percent-escapes are decoded in file: URIs only */
	char path[160];
	snprintf(path, sizeof(path), "%s/a b%%.db", dir);
	cr_assert_eq(store_open(&st, path, STORE_CREATE, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	snprintf(u, sizeof(u), "file://%s/a%%20b%%25.db", dir);
	cr_assert_eq(store_open(&st, u, 0, err, sizeof(err)), 0, "%s: %s", u, err);
	cr_assert_str_eq(st.path, path);
	store_close(&st);
	/* what a file: URI here cannot be */
	cr_assert_eq(store_open(&st, "file://otherhost/x.db", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "local file"), "%s", err);
	cr_assert_eq(store_open(&st, "file:x.db?mode=ro", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no query"), "%s", err);
	cr_assert_eq(store_open(&st, "file:x%2", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "percent-escape"), "%s", err);
	cr_assert_eq(store_open(&st, "file:x%00y", 0, err, sizeof(err)), -1);
	cr_assert_eq(store_open(&st, "sqlite:", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "empty store path"), "%s", err);
	cr_assert_eq(store_open(&st, "file://", 0, err, sizeof(err)), -1);
	cr_assert(strstr(err, "empty store path"), "%s", err);
}

/* A second writer waits for the first one's transaction (busy timeout) instead of failing. */
Test(store_sqlite, two_handles_write_one_after_the_other)
{
	struct store a = open_store(), b = open_store();
	long long n = 0;

	make_run(&a, "from-a");
	make_run(&b, "from-b");
	make_run(&a, "from-a-again");
	store_close(&a);
	store_close(&b);
	cr_assert_eq(sq_sql(dbpath, "SELECT count(*) FROM runs", &n), 0);
	cr_assert_eq(n, 3);
}

/*
 * The triggers behind "queries are append-only, energy is set once": no
 * column but the energy ones may change, and those only while all NULL.
 */
Test(store_sqlite, only_unset_energy_of_a_query_may_change_and_once)
{
	struct store st = open_store();
	struct query_record q;
	char err[IPW_ERRLEN];

	make_run(&st, "e");
	memset(&q, 0, sizeof(q));
	q.item_id = "a";
	q.status = "ok";
	q.t_send_s = q.t_first_s = q.t_end_s = q.ttft_s = q.e2e_s = q.tpot_s = NAN;
	q.itl_p50_s = q.itl_p90_s = q.itl_p99_s = NAN;
	q.prompt_tokens = q.completion_tokens = q.reasoning_tokens = -1;
	q.accel_j = q.host_j = q.total_j = q.accel_dyn_j = q.host_dyn_j = q.total_dyn_j = NAN;
	q.avg_power_w = q.peak_power_w = q.temp_max_c = q.mem_max_bytes = NAN;
	q.http_status = -1;
	cr_assert_eq(store_query_insert(&st, "1", &q, err, sizeof(err)), 0, "%s", err);
	store_close(&st);
	cr_assert_neq(sq_sql(dbpath, "UPDATE queries SET answer = 'x'", NULL), 0, "answer changed");
	cr_assert_neq(sq_sql(dbpath, "UPDATE queries SET e2e_s = 1", NULL), 0, "latency changed");
	cr_assert_eq(sq_sql(dbpath, "UPDATE queries SET accel_j = 5, avg_power_w = 2", NULL), 0, "energy not set");
	cr_assert_neq(sq_sql(dbpath, "UPDATE queries SET accel_j = 6", NULL), 0, "energy set twice");
	cr_assert_neq(sq_sql(dbpath, "DELETE FROM queries", NULL), 0, "query deleted");
}
