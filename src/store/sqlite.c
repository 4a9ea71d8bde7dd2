/*
 * store/sqlite.c - the SQLite store back-end (a file path, sqlite:PATH or
 * file:PATH): one file, WAL journal, synchronous=FULL, every finished query
 * committed in its own transaction (sq_tx); the insert path's statements are
 * prepared once per connection (kept_stmt). Columns are described once in
 * tables (name, type, offset in the record) that drive both the SQL text and
 * the binding. Schema: docs/store.md.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <sqlite3.h>

#include "clock.h"
#include "store.h"
#include "util.h"

#define BUSY_TIMEOUT_MS 10000

/*
 * Column types: text (char *), text with its length (char * and the size_t at
 * lenoff, 0 = strlen; NUL bytes kept), real (double, NULL = NAN), int64 and
 * int (NULL = -1). Every text bound is scrubbed of secrets first (util.h).
 */
enum col_type { COL_TEXT, COL_TEXTN, COL_REAL, COL_I64, COL_INT };

struct col {
	const char *name;
	enum col_type type;
	size_t off;
	size_t lenoff;
};

#define RC(f, t) {#f, t, offsetof(struct run_record, f), 0}
static const struct col run_cols[] = {
	RC(name, COL_TEXT), RC(status, COL_TEXT), RC(model, COL_TEXT), RC(server_model, COL_TEXT),
	RC(api, COL_TEXT), RC(url, COL_TEXT), RC(engine, COL_TEXT), RC(config_json, COL_TEXT),
	RC(dataset_path, COL_TEXT), RC(dataset_sha256, COL_TEXT), RC(dataset_format, COL_TEXT),
	RC(n_items, COL_I64), RC(hardware_json, COL_TEXT), RC(version, COL_TEXT),
	RC(started_at, COL_REAL), RC(ended_at, COL_REAL), RC(idle_seconds, COL_REAL),
	RC(group_name, COL_TEXT), RC(summary_json, COL_TEXT), RC(server_log, COL_TEXT),
};
#undef RC

#define SC(f, t) {#f, t, offsetof(struct run_source, f), 0}
static const struct col source_cols[] = {
	SC(idx, COL_INT), SC(name, COL_TEXT), SC(backend, COL_TEXT), SC(kind, COL_TEXT),
	SC(scope, COL_TEXT), SC(model, COL_TEXT), SC(uuid, COL_TEXT), SC(pci_bus_id, COL_TEXT),
	SC(driver, COL_TEXT), SC(power_limit_w, COL_REAL), SC(idle_before_w, COL_REAL),
	SC(idle_after_w, COL_REAL),
};
#undef SC

#define QC(f, t) {#f, t, offsetof(struct query_record, f), 0}
#define QN(f) {#f, COL_TEXTN, offsetof(struct query_record, f), offsetof(struct query_record, f##_len)}
static const struct col query_cols[] = {
	QC(seq, COL_I64), QC(item_id, COL_TEXT), QC(subject, COL_TEXT), QC(task, COL_TEXT),
	QC(prompt, COL_TEXT), QN(answer), QN(thinking),
	QC(finish_reason, COL_TEXT), QC(status, COL_TEXT), QC(reference, COL_TEXT),
	QC(t_send_s, COL_REAL), QC(t_first_s, COL_REAL), QC(t_end_s, COL_REAL),
	QC(ttft_s, COL_REAL), QC(e2e_s, COL_REAL), QC(tpot_s, COL_REAL),
	QC(itl_p50_s, COL_REAL), QC(itl_p90_s, COL_REAL), QC(itl_p99_s, COL_REAL),
	QC(prompt_tokens, COL_I64), QC(completion_tokens, COL_I64), QC(reasoning_tokens, COL_I64),
	QC(prompt_tokens_src, COL_TEXT), QC(completion_tokens_src, COL_TEXT),
	QC(reasoning_tokens_src, COL_TEXT),
	QC(accel_j, COL_REAL), QC(host_j, COL_REAL), QC(total_j, COL_REAL),
	QC(accel_dyn_j, COL_REAL), QC(host_dyn_j, COL_REAL), QC(total_dyn_j, COL_REAL),
	QC(avg_power_w, COL_REAL), QC(peak_power_w, COL_REAL), QC(temp_max_c, COL_REAL),
	QC(mem_max_bytes, COL_REAL),
	QC(error_kind, COL_TEXT), QC(error_message, COL_TEXT), QC(http_status, COL_INT),
	QC(extra_json, COL_TEXT), QC(cpu_s, COL_REAL),
	QC(logprob_sum, COL_REAL), QC(logprob_tokens, COL_I64),
};
/* The columns a query's energy sets: written by insert, or later by query_energy_set. */
static const struct col energy_cols[] = {
	QC(accel_j, COL_REAL), QC(host_j, COL_REAL), QC(total_j, COL_REAL),
	QC(accel_dyn_j, COL_REAL), QC(host_dyn_j, COL_REAL), QC(total_dyn_j, COL_REAL),
	QC(avg_power_w, COL_REAL), QC(peak_power_w, COL_REAL), QC(temp_max_c, COL_REAL),
	QC(mem_max_bytes, COL_REAL),
};
#undef QC
#undef QN

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Migrations: migrations[i] takes the schema from version i to i + 1. Never
 * edit a released one; append a new one instead.
 */
static const char *const migrations[] = {
	/* 1: the first schema */
	"CREATE TABLE runs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL, status TEXT NOT NULL, model TEXT, server_model TEXT,"
	" api TEXT, url TEXT, engine TEXT, config_json TEXT,"
	" dataset_path TEXT, dataset_sha256 TEXT, dataset_format TEXT, n_items INTEGER,"
	" hardware_json TEXT, version TEXT,"
	" started_at REAL, ended_at REAL, idle_seconds REAL);"
	"CREATE INDEX runs_by_name ON runs(name);"
	"CREATE TRIGGER runs_never_deleted BEFORE DELETE ON runs"
	" BEGIN SELECT RAISE(ABORT, 'runs are never deleted'); END;"
	"CREATE TABLE run_sources ("
	" run_id INTEGER NOT NULL REFERENCES runs(id), idx INTEGER NOT NULL,"
	" name TEXT, backend TEXT, kind TEXT, scope TEXT, model TEXT, uuid TEXT,"
	" pci_bus_id TEXT, driver TEXT,"
	" power_limit_w REAL, idle_before_w REAL, idle_after_w REAL,"
	" PRIMARY KEY (run_id, idx));"
	"CREATE TABLE queries ("
	" id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(id),"
	" seq INTEGER NOT NULL, item_id TEXT NOT NULL, subject TEXT, task TEXT, prompt TEXT,"
	" answer TEXT, thinking TEXT, finish_reason TEXT, status TEXT NOT NULL, reference TEXT,"
	" t_send_s REAL, t_first_s REAL, t_end_s REAL,"
	" ttft_s REAL, e2e_s REAL, tpot_s REAL, itl_p50_s REAL, itl_p90_s REAL, itl_p99_s REAL,"
	" prompt_tokens INTEGER, completion_tokens INTEGER, reasoning_tokens INTEGER,"
	" prompt_tokens_src TEXT, completion_tokens_src TEXT, reasoning_tokens_src TEXT,"
	" accel_j REAL, host_j REAL, total_j REAL,"
	" accel_dyn_j REAL, host_dyn_j REAL, total_dyn_j REAL,"
	" avg_power_w REAL, peak_power_w REAL, temp_max_c REAL, mem_max_bytes REAL,"
	" error_kind TEXT, error_message TEXT, http_status INTEGER, extra_json TEXT,"
	" recorded_at REAL NOT NULL,"
	" UNIQUE (run_id, item_id));"
	"CREATE INDEX queries_by_seq ON queries(run_id, seq);"
	"CREATE TRIGGER queries_never_deleted BEFORE DELETE ON queries"
	" BEGIN SELECT RAISE(ABORT, 'recorded queries are never deleted'); END;"
	"CREATE TRIGGER queries_never_updated BEFORE UPDATE ON queries"
	" BEGIN SELECT RAISE(ABORT, 'recorded queries are never changed'); END;"
	"CREATE TABLE query_energy ("
	" query_id INTEGER NOT NULL REFERENCES queries(id), source_idx INTEGER NOT NULL,"
	" gross_j REAL, dynamic_j REAL,"
	" PRIMARY KEY (query_id, source_idx));"
	"CREATE TABLE query_attempts ("
	" query_id INTEGER NOT NULL REFERENCES queries(id), n INTEGER NOT NULL,"
	" t_start_s REAL, duration_s REAL, error_kind TEXT, http_status INTEGER, message TEXT,"
	" PRIMARY KEY (query_id, n));"
	"CREATE TABLE samples ("
	" run_id INTEGER NOT NULL REFERENCES runs(id), source_idx INTEGER NOT NULL,"
	" t_s REAL NOT NULL, energy_j REAL, power_w REAL, temp_c REAL, mem_used_bytes REAL);"
	"CREATE INDEX samples_by_time ON samples(run_id, source_idx, t_s);"
	"CREATE TABLE scores ("
	" id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(id), item_id TEXT NOT NULL,"
	" grader TEXT NOT NULL, settings_json TEXT,"
	" correct INTEGER CHECK (correct IN (0, 1)), reason TEXT, scored_at REAL NOT NULL);"
	"CREATE INDEX scores_by_item ON scores(run_id, item_id, id);"
	"CREATE TABLE judgements ("
	" prompt_sha256 TEXT NOT NULL, judge_model TEXT NOT NULL,"
	" verdict TEXT, raw_text TEXT, created_at REAL NOT NULL,"
	" PRIMARY KEY (prompt_sha256, judge_model));",
	/* 2: load generation: a sweep's group, the run's load summary, the served server's log */
	"ALTER TABLE runs ADD COLUMN group_name TEXT;"
	"ALTER TABLE runs ADD COLUMN summary_json TEXT;"
	"ALTER TABLE runs ADD COLUMN server_log TEXT;"
	"CREATE INDEX runs_by_group ON runs(group_name);",
	/* 3: the in-process engine's CPU seconds per query (--api builtin) */
	"ALTER TABLE queries ADD COLUMN cpu_s REAL;",
	/*
	 * 4: a query is stored as soon as it ends and its energy set once telemetry
	 * covers its window: the energy columns may change from all-NULL, once;
	 * every other column, and a set energy, still never change
	 */
	"DROP TRIGGER queries_never_updated;"
	"CREATE TRIGGER queries_never_updated BEFORE UPDATE OF id, run_id, seq, item_id, subject, task,"
	" prompt, answer, thinking, finish_reason, status, reference, t_send_s, t_first_s, t_end_s,"
	" ttft_s, e2e_s, tpot_s, itl_p50_s, itl_p90_s, itl_p99_s, prompt_tokens, completion_tokens,"
	" reasoning_tokens, prompt_tokens_src, completion_tokens_src, reasoning_tokens_src, error_kind,"
	" error_message, http_status, extra_json, recorded_at, cpu_s ON queries"
	" BEGIN SELECT RAISE(ABORT, 'recorded queries are never changed'); END;"
	"CREATE TRIGGER queries_energy_set_once BEFORE UPDATE OF accel_j, host_j, total_j, accel_dyn_j,"
	" host_dyn_j, total_dyn_j, avg_power_w, peak_power_w, temp_max_c, mem_max_bytes ON queries"
	" WHEN OLD.accel_j IS NOT NULL OR OLD.host_j IS NOT NULL OR OLD.total_j IS NOT NULL"
	" OR OLD.avg_power_w IS NOT NULL OR EXISTS (SELECT 1 FROM query_energy WHERE query_id = OLD.id)"
	" BEGIN SELECT RAISE(ABORT, 'a query''s energy is set once'); END;",
	/*
	 * 5: --resume sends again an item whose last attempt failed for transport
	 * reasons: the earlier row is kept, marked superseded (superseded_at, set
	 * once), and one row per item is the latest (a partial unique index in
	 * place of UNIQUE (run_id, item_id), which needs the table rebuilt; run
	 * with foreign keys off, checked before the commit: migrate)
	 */
	"CREATE TABLE queries_v5 ("
	" id INTEGER PRIMARY KEY,"
	" run_id INTEGER NOT NULL REFERENCES runs(id),"
	" seq INTEGER NOT NULL, item_id TEXT NOT NULL, subject TEXT, task TEXT, prompt TEXT,"
	" answer TEXT, thinking TEXT, finish_reason TEXT, status TEXT NOT NULL, reference TEXT,"
	" t_send_s REAL, t_first_s REAL, t_end_s REAL,"
	" ttft_s REAL, e2e_s REAL, tpot_s REAL, itl_p50_s REAL, itl_p90_s REAL, itl_p99_s REAL,"
	" prompt_tokens INTEGER, completion_tokens INTEGER, reasoning_tokens INTEGER,"
	" prompt_tokens_src TEXT, completion_tokens_src TEXT, reasoning_tokens_src TEXT,"
	" accel_j REAL, host_j REAL, total_j REAL,"
	" accel_dyn_j REAL, host_dyn_j REAL, total_dyn_j REAL,"
	" avg_power_w REAL, peak_power_w REAL, temp_max_c REAL, mem_max_bytes REAL,"
	" error_kind TEXT, error_message TEXT, http_status INTEGER, extra_json TEXT,"
	" recorded_at REAL NOT NULL, cpu_s REAL, superseded_at REAL);"
	"INSERT INTO queries_v5 SELECT *, NULL FROM queries;"
	"DROP TABLE queries;"
	"ALTER TABLE queries_v5 RENAME TO queries;"
	"CREATE INDEX queries_by_seq ON queries(run_id, seq);"
	"CREATE UNIQUE INDEX queries_latest ON queries(run_id, item_id) WHERE superseded_at IS NULL;"
	"CREATE TRIGGER queries_never_deleted BEFORE DELETE ON queries"
	" BEGIN SELECT RAISE(ABORT, 'recorded queries are never deleted'); END;"
	"CREATE TRIGGER queries_never_updated BEFORE UPDATE OF id, run_id, seq, item_id, subject, task,"
	" prompt, answer, thinking, finish_reason, status, reference, t_send_s, t_first_s, t_end_s,"
	" ttft_s, e2e_s, tpot_s, itl_p50_s, itl_p90_s, itl_p99_s, prompt_tokens, completion_tokens,"
	" reasoning_tokens, prompt_tokens_src, completion_tokens_src, reasoning_tokens_src, error_kind,"
	" error_message, http_status, extra_json, recorded_at, cpu_s ON queries"
	" BEGIN SELECT RAISE(ABORT, 'recorded queries are never changed'); END;"
	"CREATE TRIGGER queries_energy_set_once BEFORE UPDATE OF accel_j, host_j, total_j, accel_dyn_j,"
	" host_dyn_j, total_dyn_j, avg_power_w, peak_power_w, temp_max_c, mem_max_bytes ON queries"
	" WHEN OLD.accel_j IS NOT NULL OR OLD.host_j IS NOT NULL OR OLD.total_j IS NOT NULL"
	" OR OLD.avg_power_w IS NOT NULL OR EXISTS (SELECT 1 FROM query_energy WHERE query_id = OLD.id)"
	" BEGIN SELECT RAISE(ABORT, 'a query''s energy is set once'); END;"
	"CREATE TRIGGER queries_superseded_once BEFORE UPDATE OF superseded_at ON queries"
	" WHEN OLD.superseded_at IS NOT NULL OR NEW.superseded_at IS NULL"
	" BEGIN SELECT RAISE(ABORT, 'a query is superseded once'); END;"
	/* and one sender per run: its lease, renewed by a heartbeat (docs/store.md "Leases") */
	"CREATE TABLE run_leases ("
	" run_id INTEGER PRIMARY KEY REFERENCES runs(id), owner TEXT NOT NULL, host TEXT NOT NULL,"
	" pid INTEGER NOT NULL, acquired_at REAL NOT NULL, heartbeat_at REAL NOT NULL);",
	/*
	 * 6: studies, as in PostgreSQL (docs/fleet.md); the queue itself is served
	 * by PostgreSQL only, these tables keep both schemas one
	 */
	"CREATE TABLE studies (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
	" dataset_path TEXT, dataset_sha256 TEXT, dataset_format TEXT, n_items INTEGER,"
	" batch INTEGER NOT NULL, created_at REAL NOT NULL);"
	"CREATE TABLE study_configs (study_id INTEGER NOT NULL REFERENCES studies(id),"
	" name TEXT NOT NULL, model TEXT, server TEXT, accelerator TEXT,"
	" options_json TEXT NOT NULL, PRIMARY KEY (study_id, name));"
	"CREATE TABLE study_items (study_id INTEGER NOT NULL, config TEXT NOT NULL,"
	" item_id TEXT NOT NULL, seq INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,"
	" lease_owner TEXT, lease_token TEXT, lease_expires REAL, claims INTEGER NOT NULL DEFAULT 0,"
	" run_id INTEGER REFERENCES runs(id), host TEXT, hardware TEXT, clock_offset_s REAL, done_at REAL,"
	" PRIMARY KEY (study_id, config, item_id),"
	" FOREIGN KEY (study_id, config) REFERENCES study_configs(study_id, name));"
	"CREATE INDEX study_items_todo ON study_items(study_id, config, seq) WHERE done = 0;"
	"CREATE INDEX study_items_by_token ON study_items(study_id, lease_token) WHERE done = 0;",
	/*
	 * 7: the output tokens' log-probabilities a server returned (sum in nats,
	 * the tokens they cover; NULL: not measured), never changed once recorded
	 */
	"ALTER TABLE queries ADD COLUMN logprob_sum REAL;"
	"ALTER TABLE queries ADD COLUMN logprob_tokens INTEGER;"
	"DROP TRIGGER queries_never_updated;"
	"CREATE TRIGGER queries_never_updated BEFORE UPDATE OF id, run_id, seq, item_id, subject, task,"
	" prompt, answer, thinking, finish_reason, status, reference, t_send_s, t_first_s, t_end_s,"
	" ttft_s, e2e_s, tpot_s, itl_p50_s, itl_p90_s, itl_p99_s, prompt_tokens, completion_tokens,"
	" reasoning_tokens, prompt_tokens_src, completion_tokens_src, reasoning_tokens_src, error_kind,"
	" error_message, http_status, extra_json, recorded_at, cpu_s, logprob_sum, logprob_tokens ON queries"
	" BEGIN SELECT RAISE(ABORT, 'recorded queries are never changed'); END;",
	/*
	 * 8: scores_by_item covers the latest-score look-up (correct in the
	 * index): the items cursor reads scores without visiting the table, a
	 * fifth to a third of an analysis's time (docs/analysis.md, "Performance
	 * notes"). An index only: a reader takes a version-7 store as it is.
	 */
	"DROP INDEX scores_by_item; CREATE INDEX scores_by_item ON scores(run_id, item_id, id, correct);",
};

#define SCHEMA_VERSION ((int)NCOLS(migrations))
/* The oldest version a read-only handle reads: later migrations only add indexes. */
#define SCHEMA_READABLE 7

/* The back-end's state (s->impl): the connection and the statements kept prepared. */
enum { STMT_QUERY, STMT_QUERY_ENERGY, STMT_QUERY_ATTEMPT, STMT_SCORE, STMT_FIND_QUERY, STMT_ENERGY_UPDATE, NSTMT };
struct sq {
	sqlite3 *db;
	sqlite3_stmt *stmt[NSTMT];   /* the insert path's statements, prepared on first use (NULL until then) */
};

static sqlite3 *DB(struct store *s)
{
	return ((struct sq *)s->impl)->db;
}

static int db_err(struct store *s, char *err, size_t errlen, const char *what)
{
	return err_set(err, errlen, "store '%s': %s: %s", s->path, what, sqlite3_errmsg(DB(s)));
}

static int exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;
	if (sqlite3_exec(DB(s), sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(err, errlen, "store '%s': %s", s->path, msg ? msg : sqlite3_errmsg(DB(s)));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int prepare(struct store *s, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v2(DB(s), sql, -1, st, NULL) != SQLITE_OK) {
		*st = NULL;
		return db_err(s, err, errlen, "preparing a statement");
	}
	return 0;
}

/* A body of work run inside sq_tx: 0, or negative (err set) to roll back. */
typedef int (*sq_tx_body)(struct store *s, void *ctx, char *err, size_t errlen);

/*
 * Runs body in one write transaction (BEGIN IMMEDIATE, so a second writer
 * waits up to the busy timeout at the start, not midway): COMMIT when body
 * returns 0, ROLLBACK when it fails or the commit does. Returns body's value
 * (STORE_EDUPLICATE, STORE_ENOTFOUND and -1 pass through), or -1. The one
 * place a transaction of this back-end begins and ends.
 */
static int sq_tx(struct store *s, sq_tx_body body, void *ctx, char *err, size_t errlen)
{
	int rc;

	if (exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	rc = body(s, ctx, err, errlen);
	if (rc == 0 && exec(s, "COMMIT", err, errlen) < 0)
		rc = -1;
	if (rc != 0)
		sqlite3_exec(DB(s), "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* STORE_ENOTFOUND with the message every "no such run" gives. */
static int no_run(struct store *s, const char *ref, char *err, size_t errlen)
{
	err_set(err, errlen, "no run '%s' in %s (ipw runs lists them)", ref, s->path);
	return STORE_ENOTFOUND;
}

/* "a, b, c" (with prefix before each name) and "?, ?, ?" for a column table. */
static char *col_list(const struct col *c, size_t n, const char *prefix)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		buf_appendf(&b, "%s%s%s", i ? ", " : "", prefix, c[i].name);
	char *s = buf_detach(&b);
	buf_release(&b);  /* buf_detach leaves a fresh, empty buffer */
	return s;
}

static char *placeholders(size_t n)
{
	struct buf b;
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++)
		buf_appends(&b, i ? ", ?" : "?");
	char *s = buf_detach(&b);
	buf_release(&b);  /* buf_detach leaves a fresh, empty buffer */
	return s;
}

/* Binds v[0..len) as text (NUL bytes kept), scrubbed of every secret (util.h). */
static void bind_textn(sqlite3_stmt *st, int i, const char *v, size_t len)
{
	size_t n;
	char *clean;

	if (!v) {
		sqlite3_bind_null(st, i);
		return;
	}
	clean = secret_scrub(v, len, &n);
	if (clean) {
		sqlite3_bind_text64(st, i, clean, n, SQLITE_TRANSIENT, SQLITE_UTF8);
		free(clean);
	} else {
		sqlite3_bind_text64(st, i, v, len, SQLITE_TRANSIENT, SQLITE_UTF8);
	}
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	bind_textn(st, i, v, v ? strlen(v) : 0);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
	if (isnan(v))
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static void bind_i64(sqlite3_stmt *st, int i, long long v)
{
	if (v < 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

/*
 * The column's text with all its bytes (NUL bytes kept, NUL-terminated),
 * scrubbed of secrets as it is read too (a store written before texts were
 * scrubbed at insert); *len gets the count.
 */
static char *col_textn(sqlite3_stmt *st, int i, size_t *len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
	char *out;

	*len = n;
	if (!t)
		return NULL;
	out = secret_scrub((const char *)t, n, len);
	if (out)
		return out;
	out = xmalloc(n + 1);
	memcpy(out, t, n);
	out[n] = 0;
	return out;
}

static char *col_text(sqlite3_stmt *st, int i)
{
	size_t n;
	return col_textn(st, i, &n);
}

static double col_real(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static long long col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : (long long)sqlite3_column_int64(st, i);
}

/* Binds the fields of rec described by c[0..n-1] to parameters first, first + 1, ... */
static void bind_cols(sqlite3_stmt *st, int first, const struct col *c, size_t n, const void *rec)
{
	const char *p = rec;
	for (size_t i = 0; i < n; i++) {
		int k = first + (int)i;
		switch (c[i].type) {
		case COL_TEXT: bind_text(st, k, *(char *const *)(p + c[i].off)); break;
		case COL_TEXTN: {
			const char *v = *(char *const *)(p + c[i].off);
			size_t len = *(const size_t *)(p + c[i].lenoff);
			bind_textn(st, k, v, v && !len ? strlen(v) : len);
			break;
		}
		case COL_REAL: bind_real(st, k, *(const double *)(p + c[i].off)); break;
		case COL_I64: bind_i64(st, k, *(const long long *)(p + c[i].off)); break;
		case COL_INT: bind_i64(st, k, *(const int *)(p + c[i].off)); break;
		}
	}
}

/* Reads result columns first, first + 1, ... into the fields of rec. */
static void read_cols(sqlite3_stmt *st, int first, const struct col *c, size_t n, void *rec)
{
	char *p = rec;
	for (size_t i = 0; i < n; i++) {
		int k = first + (int)i;
		switch (c[i].type) {
		case COL_TEXT: *(char **)(p + c[i].off) = col_text(st, k); break;
		case COL_TEXTN: *(char **)(p + c[i].off) = col_textn(st, k, (size_t *)(p + c[i].lenoff)); break;
		case COL_REAL: *(double *)(p + c[i].off) = col_real(st, k); break;
		case COL_I64: *(long long *)(p + c[i].off) = col_i64(st, k); break;
		case COL_INT: *(int *)(p + c[i].off) = (int)col_i64(st, k); break;
		}
	}
}

/* Parses a run id as the store assigned it. */
static int parse_run_id(struct store *s, const char *run_id, sqlite3_int64 *out, char *err, size_t errlen)
{
	char *end;
	long long v;

	if (!run_id || !*run_id)
		return err_set(err, errlen, "store '%s': no run id given", s->path);
	errno = 0;
	v = strtoll(run_id, &end, 10);
	if (errno || *end || v <= 0)
		return err_set(err, errlen, "store '%s': '%s' is not a run id (ids are 1, 2, ...)",
			       s->path, run_id);
	*out = v;
	return 0;
}

/* The error of a failed first read: a file that is no database at all, or another failure. */
static int schema_read_err(struct store *s, char *err, size_t errlen)
{
	if ((sqlite3_errcode(DB(s)) & 0xff) == SQLITE_NOTADB)
		return err_set(err, errlen, "'%s' is not an ipw store (not a SQLite database)", s->path);
	return db_err(s, err, errlen, "reading the schema");
}

/*
 * Reads, without writing anything, whether the open file is an ipw store:
 * *version gets its schema version (0: an empty database, a new store).
 * A database with tables but no schema_version table is refused, before
 * anything (journal mode included) is changed in it.
 */
static int schema_check(struct store *s, int *version, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, have_table = 0, ntables = 0, step;

	*version = 0;
	if (sqlite3_prepare_v2(DB(s), "SELECT name FROM sqlite_master WHERE type = 'table' "
			       "AND name NOT LIKE 'sqlite_%'", -1, &st, NULL) != SQLITE_OK) {
		schema_read_err(s, err, errlen);
		goto out;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		ntables++;
		if (!strcmp((const char *)sqlite3_column_text(st, 0), "schema_version"))
			have_table = 1;
	}
	if (step != SQLITE_DONE) {
		schema_read_err(s, err, errlen);
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (!have_table && ntables > 0) {
		err_set(err, errlen, "'%s' is a SQLite database but not an ipw store "
			"(name another file with --store PATH)", s->path);
		goto out;
	}
	if (have_table) {
		if (prepare(s, "SELECT coalesce(max(version), 0) FROM schema_version", &st, err, errlen) < 0)
			goto out;
		if (sqlite3_step(st) == SQLITE_ROW)
			*version = sqlite3_column_int(st, 0);
	}
	if (*version > SCHEMA_VERSION) {
		err_set(err, errlen, "store '%s' has schema version %d, newer than this ipw knows (%d): "
			"use a newer ipw", s->path, *version, SCHEMA_VERSION);
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/* Creates the schema or brings it up to SCHEMA_VERSION (run by migrate in one transaction). */
static int migrate_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, version = 0;

	(void)ctx;
	if (schema_check(s, &version, err, errlen) < 0)
		goto out;
	if (version == 0 && exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
				 "applied_at REAL NOT NULL)", err, errlen) < 0)
		goto out;
	for (int v = version; v < SCHEMA_VERSION; v++) {
		if (exec(s, migrations[v], err, errlen) < 0)
			goto out;
		if (prepare(s, "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
			    &st, err, errlen) < 0)
			goto out;
		sqlite3_bind_int(st, 1, v + 1);
		sqlite3_bind_double(st, 2, clock_wall_s());
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_err(s, err, errlen, "recording the schema version");
			goto out;
		}
		sqlite3_finalize(st);
		st = NULL;
	}
	/* the migrations ran with foreign keys off (a table rebuilt): every reference must still hold */
	if (version < SCHEMA_VERSION) {
		if (prepare(s, "PRAGMA foreign_key_check", &st, err, errlen) < 0)
			goto out;
		if (sqlite3_step(st) != SQLITE_DONE) {
			err_set(err, errlen, "store '%s': upgrading the schema to version %d broke a reference "
				"(table %s); nothing was changed", s->path, SCHEMA_VERSION,
				sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "?");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/*
 * Brings the schema up to date. A store that already is (the usual case) is
 * only read: taking the write lock to find that out would queue an opening
 * process behind a busy writer, and a writer committing in a tight loop can
 * keep winning the lock until the busy timeout runs out.
 * A migration may rebuild a table (SQLite cannot drop a table constraint),
 * which needs foreign keys off; they can only be switched outside a
 * transaction, so around it, and checked inside it before the commit.
 */
static int migrate(struct store *s, char *err, size_t errlen)
{
	char e2[IPW_ERRLEN];
	int rc, version = 0;

	if (schema_check(s, &version, err, errlen) < 0)
		return -1;
	if (version == SCHEMA_VERSION)
		return 0;
	if (exec(s, "PRAGMA foreign_keys=OFF", err, errlen) < 0)
		return -1;
	rc = sq_tx(s, migrate_body, NULL, err, errlen);
	if (exec(s, "PRAGMA foreign_keys=ON", e2, sizeof(e2)) < 0 && rc == 0) {
		snprintf(err, errlen, "%s", e2);
		rc = -1;
	}
	return rc;
}

/* The folder holding path ("." for a bare name); caller frees. */
static char *parent_dir(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (!slash) {
		free(dir);
		return xstrdup(".");
	}
	slash[slash == dir ? 1 : 0] = '\0';
	return dir;
}

/* 1 if the file, or the folder it would be created in, is on a read-only file system. */
static int on_readonly_fs(const char *path)
{
	struct statvfs fs;
	char *dir;
	int r = 0;

	if (statvfs(path, &fs) == 0)
		return (fs.f_flag & ST_RDONLY) != 0;
	dir = parent_dir(path);
	if (statvfs(dir, &fs) == 0 && (fs.f_flag & ST_RDONLY))
		r = 1;
	free(dir);
	return r;
}

/*
 * 1 if nobody may write the file: a read-only file system, or no write
 * permission bit on the file or its directory (by mode bits, not access(),
 * since root passes access() checks on a chmod'ed file).
 */
static int file_unwritable(const char *path)
{
	struct stat sb;
	char *dir = parent_dir(path);
	int r = 0;

	if (on_readonly_fs(path))
		r = 1;
	else if (stat(path, &sb) == 0 && !(sb.st_mode & 0222))
		r = 1;
	else if (stat(dir, &sb) == 0 && !(sb.st_mode & 0222))
		r = 1;
	free(dir);
	return r;
}

/* "file:PATH?immutable=1" with PATH percent-escaped where a URI needs it; caller frees. */
static char *immutable_uri(const char *path)
{
	size_t n = strlen(path);
	char *u = xmalloc(n * 3 + 32), *p = u;

	p += sprintf(p, "file:");
	for (const char *c = path; *c; c++) {
		if (*c == '%' || *c == '?' || *c == '#')
			p += sprintf(p, "%%%02X", (unsigned char)*c);
		else
			*p++ = *c;
	}
	strcpy(p, "?immutable=1");
	return u;
}

/*
 * Read-only: SQLITE_OPEN_READONLY, no journal-mode change, no migration; a
 * file nobody may write is opened immutable, so SQLite creates no -wal or
 * -shm file beside it (a writer must not be running on such a file then).
 * A read-only handle is opened without SQLite's per-call mutex (the analyses
 * call sqlite3_column_* several times per row, and the lock was a sixth of
 * their time); a writable one keeps it. That is safe only while no
 * read-only handle is used from two threads. Checked (session 19) by
 * grepping for pthread_create: the threads ipw starts are the telemetry
 * samplers (src/telemetry.c), the builtin engine's and client's workers
 * (src/engine/, src/client/builtin.c) and calibrate's CPU burners, none of
 * which touches a store, and the lease and fleet worker heartbeats
 * (src/lease.c, src/cmd/worker.c), which open writable handles of their
 * own. The read commands (CMD_STORE_READ: compare, coverage, route, report,
 * show, export, ...; mainjob.c's summaries; route serve's tier look-up,
 * closed before it serves) open, use and close their handle on the main
 * thread. A command that hands a read-only store to a thread must open it
 * writable or give the thread a handle of its own.
 */
static int sq_open_db(const char *path, int flags, sqlite3 **db)
{
	int oflags = (flags & STORE_READONLY) ? SQLITE_OPEN_NOMUTEX : SQLITE_OPEN_FULLMUTEX, rc;
	char *uri = NULL;

	if (flags & STORE_READONLY) {
		oflags |= SQLITE_OPEN_READONLY;
		if (file_unwritable(path)) {
			uri = immutable_uri(path);
			oflags |= SQLITE_OPEN_URI;
		}
	} else {
		oflags |= SQLITE_OPEN_READWRITE | ((flags & STORE_CREATE) ? SQLITE_OPEN_CREATE : 0);
	}
	rc = sqlite3_open_v2(uri ? uri : path, db, oflags, NULL);
	free(uri);
	return rc;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The path of a file: URI's rest ("//localhost/p", "///p", "/p" or "p"), percent-escapes decoded. */
static int file_uri_path(const char *uri, const char *rest, char **out, char *err, size_t errlen)
{
	char *p;

	if (!strncmp(rest, "//", 2)) {
		const char *host = rest + 2, *slash = strchr(host, '/');
		size_t hl = slash ? (size_t)(slash - host) : strlen(host);
		if (hl && !(hl == 9 && !strncasecmp(host, "localhost", 9)))
			return err_set(err, errlen, "store '%s': a file: URI names a local file "
				       "(file:///PATH or file:PATH, no host)", uri);
		rest = host + hl;
	}
	if (strpbrk(rest, "?#"))
		return err_set(err, errlen, "store '%s': file: URIs take no query or fragment here "
			       "(write '?' as %%3F and '#' as %%23)", uri);
	*out = p = xmalloc(strlen(rest) + 1);
	for (const char *c = rest; *c; c++) {
		if (*c != '%') {
			*p++ = *c;
			continue;
		}
		int hi = hexval(c[1]), lo = hi < 0 ? -1 : hexval(c[2]);
		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(*out);
			*out = NULL;
			return err_set(err, errlen, "store '%s': bad percent-escape in a file: URI", uri);
		}
		*p++ = (char)(hi * 16 + lo);
		c += 2;
	}
	*p = '\0';
	return 0;
}

/*
 * The file a SQLite store URI names: PATH, sqlite:PATH (PATH as written) or
 * file:PATH / file:///PATH / file://localhost/PATH (percent-escapes decoded).
 * *path is newly allocated.
 */
static int sq_uri_path(const char *uri, char **path, char *err, size_t errlen)
{
	*path = NULL;
	if (!strncasecmp(uri, "sqlite:", 7))
		*path = xstrdup(uri + 7);
	else if (!strncasecmp(uri, "file:", 5)) {
		if (file_uri_path(uri, uri + 5, path, err, errlen) < 0)
			return -1;
	} else
		*path = xstrdup(uri);
	if (!**path) {
		free(*path);
		*path = NULL;
		return err_set(err, errlen, "empty store path (pass --store PATH)");
	}
	return 0;
}

static int sq_open(struct store *s, const char *uri, int flags, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	struct stat sb;
	char *path = NULL;
	int rc = -1, version = 0;

	if (sq_uri_path(uri, &path, err, errlen) < 0)
		goto out;
	/* messages name the file */
	free(s->path);
	s->path = xstrdup(path);
	if (!(flags & STORE_CREATE) && stat(path, &sb) < 0) {
		err_set(err, errlen, "no store at '%s' (run 'ipw profile' first, or name the store with "
			"--store PATH)", path);
		goto out;
	}
	if (!(flags & STORE_READONLY) && on_readonly_fs(path)) {
		err_set(err, errlen, "store '%s' is on a read-only file system: only read commands "
			"(runs, show, export, ...) can use it", path);
		goto out;
	}
	if (sq_open_db(path, flags, &db) != SQLITE_OK) {
		err_set(err, errlen, "cannot open store '%s': %s", path,
			db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	s->impl = xcalloc(1, sizeof(struct sq));
	((struct sq *)s->impl)->db = db;
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	/* Refuse a foreign file before anything in it is changed. */
	if (schema_check(s, &version, err, errlen) < 0)
		goto out;
	if (flags & STORE_READONLY) {
		if (version < SCHEMA_READABLE) {
			err_set(err, errlen, "store '%s' has schema version %d and needs an upgrade (%d), which "
				"a read command does not do: run a writing command (ipw profile or ipw score) on it once",
				path, version, SCHEMA_VERSION);
			goto out;
		}
		/*
		 * Pages read through a memory map rather than read(2) into SQLite's
		 * page cache: no copy and no system call per page, 10-15% of an
		 * analysis's time over a store larger than the cache. Read-only
		 * handles only (a writer keeps the ordinary I/O path); SQLite caps
		 * the size at its compile-time maximum.
		 */
		rc = exec(s, "PRAGMA foreign_keys=ON; PRAGMA mmap_size=17179869184", err, errlen);
		goto out;
	}
	/*
	 * WAL: a commit is one append to the log, readers never block the writer,
	 * and a killed process leaves every committed transaction intact.
	 * synchronous=FULL syncs the log at each commit, so a power loss cannot
	 * lose a finished query either; it costs one fsync per query, small next
	 * to a query's duration.
	 */
	if (exec(s, "PRAGMA journal_mode=WAL", err, errlen) < 0)
		goto out;
	if (exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", err, errlen) < 0)
		goto out;
	if (migrate(s, err, errlen) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		sqlite3_close(db);
		free(s->impl);
		s->impl = NULL;
	}
	free(path);
	return rc;
}

static void sq_close(struct store *s)
{
	struct sq *q = s->impl;

	if (!q)
		return;
	for (int i = 0; i < NSTMT; i++)
		sqlite3_finalize(q->stmt[i]);
	sqlite3_close(q->db);
	free(q);
	s->impl = NULL;
}

/*
 * The insert path's statement k, prepared once per connection and reset for
 * each use (sql builds its text the first time). 0, or -1 with err.
 */
static int kept_stmt(struct store *s, int k, char *(*sql)(void), sqlite3_stmt **st, char *err, size_t errlen)
{
	struct sq *q = s->impl;
	char *text;
	int rc;

	if (q->stmt[k]) {
		sqlite3_reset(q->stmt[k]);
		sqlite3_clear_bindings(q->stmt[k]);
		*st = q->stmt[k];
		return 0;
	}
	text = sql();
	rc = sqlite3_prepare_v3(q->db, text, -1, SQLITE_PREPARE_PERSISTENT, &q->stmt[k], NULL);
	free(text);
	if (rc != SQLITE_OK) {
		q->stmt[k] = NULL;
		return db_err(s, err, errlen, "preparing a statement");
	}
	*st = q->stmt[k];
	return 0;
}

static int insert_sources(struct store *s, sqlite3_int64 id, const struct run_source *src, int n,
			  char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *cols = col_list(source_cols, NCOLS(source_cols), "");
	char *ph = placeholders(NCOLS(source_cols));
	char *sql = xasprintf("INSERT INTO run_sources (run_id, %s) VALUES (?, %s)", cols, ph);
	int rc = -1;

	if (prepare(s, sql, &st, err, errlen) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, id);
		bind_cols(st, 2, source_cols, NCOLS(source_cols), &src[i]);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_err(s, err, errlen, "recording the run's sources");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	free(cols);
	free(ph);
	free(sql);
	return rc;
}

struct run_create_ctx {
	struct run_record *r;
	sqlite3_int64 id;
};

static int run_create_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct run_create_ctx *c = ctx;
	sqlite3_stmt *st = NULL;
	char *cols = col_list(run_cols, NCOLS(run_cols), "");
	char *ph = placeholders(NCOLS(run_cols));
	char *sql = xasprintf("INSERT INTO runs (%s) VALUES (%s)", cols, ph);
	int rc = -1;

	if (prepare(s, sql, &st, err, errlen) < 0)
		goto out;
	bind_cols(st, 1, run_cols, NCOLS(run_cols), c->r);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_err(s, err, errlen, "creating the run");
		goto out;
	}
	c->id = sqlite3_last_insert_rowid(DB(s));
	rc = insert_sources(s, c->id, c->r->sources, c->r->nsources, err, errlen);
out:
	sqlite3_finalize(st);
	free(cols);
	free(ph);
	free(sql);
	return rc;
}

static int sq_run_create(struct store *s, struct run_record *r, char *err, size_t errlen)
{
	struct run_create_ctx c = {r, 0};

	if (!r->name || !r->status)
		return err_set(err, errlen, "store_run_create: a run needs a name and a status");
	if (sq_tx(s, run_create_body, &c, err, errlen) < 0)
		return -1;
	free(r->id);
	r->id = xasprintf("%lld", (long long)c.id);
	return 0;
}

/* Checks that run id exists: 0, STORE_ENOTFOUND or -1. */
static int run_exists(struct store *s, sqlite3_int64 id, const char *ref, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (prepare(s, "SELECT 1 FROM runs WHERE id = ?", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = 0;
	else if (step == SQLITE_DONE)
		rc = no_run(s, ref, err, errlen);
	else
		db_err(s, err, errlen, "looking up a run");
	sqlite3_finalize(st);
	return rc;
}

struct set_sources_ctx {
	sqlite3_int64 id;
	const char *ref;
	const struct run_source *src;
	int n;
};

static int set_sources_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct set_sources_ctx *c = ctx;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = run_exists(s, c->id, c->ref, err, errlen)) < 0)
		return rc;
	rc = -1;
	if (prepare(s, "DELETE FROM run_sources WHERE run_id = ?", &st, err, errlen) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, c->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		db_err(s, err, errlen, "replacing the run's sources");
		goto out;
	}
	rc = insert_sources(s, c->id, c->src, c->n, err, errlen);
out:
	sqlite3_finalize(st);
	return rc;
}

static int sq_run_set_sources(struct store *s, const char *run_id, const struct run_source *src, int n,
			      char *err, size_t errlen)
{
	struct set_sources_ctx c = {0, run_id, src, n};

	if (parse_run_id(s, run_id, &c.id, err, errlen) < 0)
		return -1;
	return sq_tx(s, set_sources_body, &c, err, errlen);
}

struct run_update_ctx {
	const struct run_record *r;
	sqlite3_int64 id;
};

/* The runs row of a run update: STORE_ENOTFOUND when no run has the id. */
static int update_run_row(struct store *s, const struct run_update_ctx *c, char *err, size_t errlen)
{
	const struct run_record *r = c->r;
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (prepare(s, "UPDATE runs SET status = coalesce(?, status), server_model = coalesce(?, server_model),"
		    " ended_at = ?, idle_seconds = ?, n_items = coalesce(?, n_items),"
		    " hardware_json = coalesce(?, hardware_json), summary_json = coalesce(?, summary_json),"
		    " server_log = coalesce(?, server_log) WHERE id = ?", &st, err, errlen) < 0)
		return -1;
	bind_text(st, 1, r->status);
	bind_text(st, 2, r->server_model);
	bind_real(st, 3, r->ended_at);
	bind_real(st, 4, r->idle_seconds);
	bind_i64(st, 5, r->n_items);
	bind_text(st, 6, r->hardware_json);
	bind_text(st, 7, r->summary_json);
	bind_text(st, 8, r->server_log);
	sqlite3_bind_int64(st, 9, c->id);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_err(s, err, errlen, "updating the run");
	else if (sqlite3_changes(DB(s)) == 0)
		rc = no_run(s, r->id, err, errlen);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static int run_update_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct run_update_ctx *c = ctx;
	const struct run_record *r = c->r;
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = update_run_row(s, c, err, errlen)) < 0)
		return rc;
	rc = -1;
	if (prepare(s, "UPDATE run_sources SET idle_before_w = ?, idle_after_w = ? WHERE run_id = ? AND idx = ?",
		    &st, err, errlen) < 0)
		goto out;
	for (int i = 0; i < r->nsources; i++) {
		sqlite3_reset(st);
		bind_real(st, 1, r->sources[i].idle_before_w);
		bind_real(st, 2, r->sources[i].idle_after_w);
		sqlite3_bind_int64(st, 3, c->id);
		sqlite3_bind_int(st, 4, r->sources[i].idx);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_err(s, err, errlen, "updating the idle baselines");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int sq_run_update(struct store *s, const struct run_record *r, char *err, size_t errlen)
{
	struct run_update_ctx c = {r, 0};

	if (parse_run_id(s, r->id, &c.id, err, errlen) < 0)
		return -1;
	return sq_tx(s, run_update_body, &c, err, errlen);
}

/* Loads the sources of run id into r. */
static int load_sources(struct store *s, sqlite3_int64 id, struct run_record *r, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *cols = col_list(source_cols, NCOLS(source_cols), "");
	char *sql = xasprintf("SELECT %s FROM run_sources WHERE run_id = ? ORDER BY idx", cols);
	int rc = -1, step, cap = 0;

	if (prepare(s, sql, &st, err, errlen) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (r->nsources == cap) {
			cap = cap ? 2 * cap : 4;
			r->sources = xrealloc(r->sources, (size_t)cap * sizeof(*r->sources));
		}
		memset(&r->sources[r->nsources], 0, sizeof(*r->sources));
		read_cols(st, 0, source_cols, NCOLS(source_cols), &r->sources[r->nsources]);
		r->nsources++;
	}
	if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "reading the run's sources");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	free(cols);
	free(sql);
	return rc;
}

static char *run_select_sql(const char *where)
{
	char *cols = col_list(run_cols, NCOLS(run_cols), "");
	char *sql = xasprintf("SELECT id, %s FROM runs %s", cols, where);
	free(cols);
	return sql;
}

/* Reads the current row of a run_select_sql statement, with the run's sources. */
static int read_run(struct store *s, sqlite3_stmt *st, struct run_record *r, char *err, size_t errlen)
{
	sqlite3_int64 id = sqlite3_column_int64(st, 0);

	memset(r, 0, sizeof(*r));
	r->id = xasprintf("%lld", (long long)id);
	read_cols(st, 1, run_cols, NCOLS(run_cols), r);
	return load_sources(s, id, r, err, errlen);
}

static int all_digits(const char *p)
{
	if (!*p)
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static int sq_run_get(struct store *s, const char *ref, struct run_record *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *sql;
	int rc = -1, step, by_name = 0;

	memset(out, 0, sizeof(*out));
	if (!ref || !*ref)
		return err_set(err, errlen, "no run named (give an id, a name, or 'last')");
	if (all_digits(ref))
		sql = run_select_sql("WHERE id = ?");
	else if (!strcmp(ref, "last") || !strcmp(ref, "latest"))
		sql = run_select_sql("ORDER BY id DESC LIMIT 1");
	else
		sql = run_select_sql("WHERE name = ? ORDER BY id LIMIT 2"), by_name = 1;
	if (prepare(s, sql, &st, err, errlen) < 0)
		goto out;
	if (all_digits(ref))
		sqlite3_bind_int64(st, 1, strtoll(ref, NULL, 10));
	else if (by_name)
		bind_text(st, 1, ref);
	step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		rc = no_run(s, ref, err, errlen);
		goto out;
	}
	if (step != SQLITE_ROW) {
		db_err(s, err, errlen, "looking up a run");
		goto out;
	}
	if (read_run(s, st, out, err, errlen) < 0)
		goto out;
	if (by_name && sqlite3_step(st) == SQLITE_ROW) {
		rc = STORE_ENOTFOUND;
		err_set(err, errlen, "several runs in %s are named '%s' (refer to one by its id; "
			"ipw runs lists them)", s->path, ref);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		run_record_release(out);
	sqlite3_finalize(st);
	free(sql);
	return rc;
}

static int sq_runs_list(struct store *s, int (*cb)(const struct run_record *r, void *ctx), void *ctx,
			char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char *sql = run_select_sql("ORDER BY id");
	struct run_record *runs = NULL;
	size_t n = 0, cap = 0;
	int rc = -1, step;

	if (prepare(s, sql, &st, err, errlen) < 0)
		goto out;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			runs = xrealloc(runs, cap * sizeof(*runs));
		}
		if (read_run(s, st, &runs[n++], err, errlen) < 0)
			goto out;
	}
	if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "listing runs");
		goto out;
	}
	/* Callbacks run after the statement is done, so they may use the store. */
	sqlite3_finalize(st);
	st = NULL;
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = cb(&runs[i], ctx);
out:
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++)
		run_record_release(&runs[i]);
	free(runs);
	free(sql);
	return rc;
}

struct query_insert_ctx {
	const char *run_id;
	sqlite3_int64 id;
	const struct query_record *q;
};

static char *query_sql(void)
{
	char *cols = col_list(query_cols, NCOLS(query_cols), "");
	char *ph = placeholders(NCOLS(query_cols));
	char *sql = xasprintf("INSERT INTO queries (run_id, recorded_at, %s) VALUES (?, ?, %s)", cols, ph);

	free(cols);
	free(ph);
	return sql;
}

static char *query_energy_sql(void)
{
	return xstrdup("INSERT INTO query_energy (query_id, source_idx, gross_j, dynamic_j) VALUES (?, ?, ?, ?)");
}

static char *query_attempt_sql(void)
{
	return xstrdup("INSERT INTO query_attempts (query_id, n, t_start_s, duration_s, error_kind,"
		       " http_status, message) VALUES (?, ?, ?, ?, ?, ?, ?)");
}

/* The queries row: its id in *qid, STORE_EDUPLICATE or STORE_ENOTFOUND by the schema's constraints. */
static int insert_query_row(struct store *s, const struct query_insert_ctx *c, sqlite3_int64 *qid,
			    char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (kept_stmt(s, STMT_QUERY, query_sql, &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, c->id);
	sqlite3_bind_double(st, 2, clock_wall_s());
	{
		struct query_record tmp;
		bind_cols(st, 3, query_cols, NCOLS(query_cols), query_record_logprobs_norm(c->q, &tmp));
	}
	step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT_UNIQUE || step == SQLITE_CONSTRAINT_PRIMARYKEY) {
		rc = STORE_EDUPLICATE;
		err_set(err, errlen, "item '%s' is already recorded in run %s of %s (each item is recorded "
			"once; --resume skips recorded items)", c->q->item_id, c->run_id, s->path);
	} else if (step == SQLITE_CONSTRAINT_FOREIGNKEY) {
		rc = no_run(s, c->run_id, err, errlen);
	} else if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "recording a query");
	} else {
		*qid = sqlite3_last_insert_rowid(DB(s));
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

static int insert_query_energy(struct store *s, sqlite3_int64 qid, const struct query_record *q,
			       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (!q->nenergy)
		return 0;
	if (kept_stmt(s, STMT_QUERY_ENERGY, query_energy_sql, &st, err, errlen) < 0)
		return -1;
	for (int i = 0; i < q->nenergy; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, qid);
		sqlite3_bind_int(st, 2, q->energy[i].source_idx);
		bind_real(st, 3, q->energy[i].gross_j);
		bind_real(st, 4, q->energy[i].dynamic_j);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_err(s, err, errlen, "recording a query's energy");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_reset(st);
	return rc;
}

static int insert_query_attempts(struct store *s, sqlite3_int64 qid, const struct query_record *q,
				 char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (!q->nattempts)
		return 0;
	if (kept_stmt(s, STMT_QUERY_ATTEMPT, query_attempt_sql, &st, err, errlen) < 0)
		return -1;
	for (int i = 0; i < q->nattempts; i++) {
		const struct query_attempt *a = &q->attempts[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, qid);
		sqlite3_bind_int(st, 2, a->n);
		bind_real(st, 3, a->t_start_s);
		bind_real(st, 4, a->duration_s);
		bind_text(st, 5, a->error_kind);
		bind_i64(st, 6, a->http_status);
		bind_text(st, 7, a->message);
		if (sqlite3_step(st) != SQLITE_DONE) {
			db_err(s, err, errlen, "recording a query's attempts");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_reset(st);
	return rc;
}

static int query_insert_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct query_insert_ctx *c = ctx;
	sqlite3_int64 qid = 0;
	int rc;

	if ((rc = insert_query_row(s, c, &qid, err, errlen)) < 0)
		return rc;
	if (insert_query_energy(s, qid, c->q, err, errlen) < 0 ||
	    insert_query_attempts(s, qid, c->q, err, errlen) < 0)
		return -1;
	return 0;
}

static int sq_query_insert(struct store *s, const char *run_id, const struct query_record *q,
			   char *err, size_t errlen)
{
	struct query_insert_ctx c = {run_id, 0, q};

	if (parse_run_id(s, run_id, &c.id, err, errlen) < 0)
		return -1;
	return sq_tx(s, query_insert_body, &c, err, errlen);
}

/* Marks the item's latest query superseded, then records c->q as its latest (one transaction). */
static int query_resend_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct query_insert_ctx *c = ctx;
	sqlite3_stmt *st = NULL;
	int rc;

	if (prepare(s, "UPDATE queries SET superseded_at = ? WHERE run_id = ? AND item_id = ?"
		    " AND superseded_at IS NULL", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_double(st, 1, clock_wall_s());
	sqlite3_bind_int64(st, 2, c->id);
	bind_text(st, 3, c->q->item_id);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, errlen, "superseding a query");
	sqlite3_finalize(st);
	if (rc < 0)
		return -1;
	if (sqlite3_changes(DB(s)) != 1) {
		if ((rc = run_exists(s, c->id, c->run_id, err, errlen)) < 0)
			return rc;
		err_set(err, errlen, "run %s of %s has no query for item '%s' to send again", c->run_id, s->path,
			c->q->item_id);
		return STORE_ENOTFOUND;
	}
	return query_insert_body(s, ctx, err, errlen);
}

static int sq_query_resend(struct store *s, const char *run_id, const struct query_record *q,
			   char *err, size_t errlen)
{
	struct query_insert_ctx c = {run_id, 0, q};

	if (parse_run_id(s, run_id, &c.id, err, errlen) < 0)
		return -1;
	return sq_tx(s, query_resend_body, &c, err, errlen);
}

static char *find_query_sql(void)
{
	return xstrdup("SELECT id FROM queries WHERE run_id = ? AND item_id = ? AND superseded_at IS NULL");
}

static char *energy_update_sql(void)
{
	struct buf b;
	char *sql;

	buf_init(&b, 0);
	buf_appends(&b, "UPDATE queries SET ");
	for (size_t i = 0; i < NCOLS(energy_cols); i++)
		buf_appendf(&b, "%s%s = ?", i ? ", " : "", energy_cols[i].name);
	buf_appends(&b, " WHERE id = ?");
	sql = buf_detach(&b);
	buf_release(&b);
	return sql;
}

/* The id of run c->id's query for c->q->item_id: 0, STORE_ENOTFOUND, or -1. */
static int find_query(struct store *s, const struct query_insert_ctx *c, sqlite3_int64 *qid, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (kept_stmt(s, STMT_FIND_QUERY, find_query_sql, &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, c->id);
	bind_text(st, 2, c->q->item_id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*qid = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = STORE_ENOTFOUND;
		err_set(err, errlen, "run %s of %s has no query for item '%s'", c->run_id, s->path, c->q->item_id);
	} else {
		db_err(s, err, errlen, "looking up a query");
	}
	sqlite3_reset(st);
	return rc;
}

static int energy_set_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct query_insert_ctx *c = ctx;
	sqlite3_stmt *st = NULL;
	sqlite3_int64 qid = 0;
	int rc;

	if ((rc = find_query(s, c, &qid, err, errlen)) < 0)
		return rc;
	if (kept_stmt(s, STMT_ENERGY_UPDATE, energy_update_sql, &st, err, errlen) < 0)
		return -1;
	bind_cols(st, 1, energy_cols, NCOLS(energy_cols), c->q);
	sqlite3_bind_int64(st, (int)NCOLS(energy_cols) + 1, qid);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, errlen, "setting a query's energy");
	sqlite3_reset(st);
	if (rc < 0)
		return -1;
	return insert_query_energy(s, qid, c->q, err, errlen);
}

static int sq_query_energy_set(struct store *s, const char *run_id, const struct query_record *q,
			       char *err, size_t errlen)
{
	struct query_insert_ctx c = {run_id, 0, q};

	if (parse_run_id(s, run_id, &c.id, err, errlen) < 0)
		return -1;
	return sq_tx(s, energy_set_body, &c, err, errlen);
}

/* A batch of queries of one run (query_insert_batch, query_energy_set_batch). */
struct query_batch_ctx {
	const char *run_id;
	sqlite3_int64 id;
	const struct query_record *const *qs;
	size_t n;
	sq_tx_body one;              /* query_insert_body or energy_set_body */
};

/* Every query of the batch in the one transaction sq_tx holds; the first failure rolls back all. */
static int batch_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct query_batch_ctx *b = ctx;
	int rc;

	for (size_t i = 0; i < b->n; i++) {
		struct query_insert_ctx c = {b->run_id, b->id, b->qs[i]};
		if ((rc = b->one(s, &c, err, errlen)) != 0)
			return rc;
	}
	return 0;
}

static int sq_batch(struct store *s, const char *run_id, const struct query_record *const *qs, size_t n,
		    sq_tx_body one, char *err, size_t errlen)
{
	struct query_batch_ctx b = {run_id, 0, qs, n, one};

	if (parse_run_id(s, run_id, &b.id, err, errlen) < 0)
		return -1;
	if (!n)
		return 0;
	return sq_tx(s, batch_body, &b, err, errlen);
}

/* n queries in one transaction (one commit, one sync), the insert statements prepared once per connection. */
static int sq_query_insert_batch(struct store *s, const char *run_id, const struct query_record *const *qs,
				 size_t n, char *err, size_t errlen)
{
	return sq_batch(s, run_id, qs, n, query_insert_body, err, errlen);
}

static int sq_query_energy_set_batch(struct store *s, const char *run_id, const struct query_record *const *qs,
				     size_t n, char *err, size_t errlen)
{
	return sq_batch(s, run_id, qs, n, energy_set_body, err, errlen);
}

/* Loads the energies and attempts of query qid into q. */
static int load_query_children(struct store *s, sqlite3_stmt *en, sqlite3_stmt *at, sqlite3_int64 qid,
			       struct query_record *q, char *err, size_t errlen)
{
	int step, cap = 0;

	sqlite3_reset(en);
	sqlite3_bind_int64(en, 1, qid);
	while ((step = sqlite3_step(en)) == SQLITE_ROW) {
		if (q->nenergy == cap) {
			cap = cap ? 2 * cap : 4;
			q->energy = xrealloc(q->energy, (size_t)cap * sizeof(*q->energy));
		}
		q->energy[q->nenergy].source_idx = sqlite3_column_int(en, 0);
		q->energy[q->nenergy].gross_j = col_real(en, 1);
		q->energy[q->nenergy].dynamic_j = col_real(en, 2);
		q->nenergy++;
	}
	if (step != SQLITE_DONE)
		return db_err(s, err, errlen, "reading a query's energy");
	cap = 0;
	sqlite3_reset(at);
	sqlite3_bind_int64(at, 1, qid);
	while ((step = sqlite3_step(at)) == SQLITE_ROW) {
		struct query_attempt *a;
		if (q->nattempts == cap) {
			cap = cap ? 2 * cap : 2;
			q->attempts = xrealloc(q->attempts, (size_t)cap * sizeof(*q->attempts));
		}
		a = &q->attempts[q->nattempts++];
		a->n = sqlite3_column_int(at, 0);
		a->t_start_s = col_real(at, 1);
		a->duration_s = col_real(at, 2);
		a->error_kind = col_text(at, 3);
		a->http_status = (int)col_i64(at, 4);
		a->message = col_text(at, 5);
	}
	if (step != SQLITE_DONE)
		return db_err(s, err, errlen, "reading a query's attempts");
	return 0;
}

/* The run's latest queries (superseded 0) or the superseded ones (1), in seq order, to cb. */
static int queries_iter_which(struct store *s, const char *run_id, int superseded,
			      int (*cb)(const struct query_record *q, void *ctx), void *ctx,
			      char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL, *en = NULL, *at = NULL;
	char *cols = col_list(query_cols, NCOLS(query_cols), "");
	char *sql = xasprintf("SELECT id, %s FROM queries WHERE run_id = ? AND superseded_at IS %s"
			      " ORDER BY seq, id", cols, superseded ? "NOT NULL" : "NULL");
	struct query_record q;
	sqlite3_int64 id;
	int rc = -1, step;

	memset(&q, 0, sizeof(q));
	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		goto out;
	if ((rc = run_exists(s, id, run_id, err, errlen)) < 0)
		goto out;
	rc = -1;
	if (prepare(s, sql, &st, err, errlen) < 0 ||
	    prepare(s, "SELECT source_idx, gross_j, dynamic_j FROM query_energy WHERE query_id = ?"
		    " ORDER BY source_idx", &en, err, errlen) < 0 ||
	    prepare(s, "SELECT n, t_start_s, duration_s, error_kind, http_status, message FROM query_attempts"
		    " WHERE query_id = ? ORDER BY n", &at, err, errlen) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int cbrc;
		read_cols(st, 1, query_cols, NCOLS(query_cols), &q);
		if (load_query_children(s, en, at, sqlite3_column_int64(st, 0), &q, err, errlen) < 0)
			goto out;
		cbrc = cb(&q, ctx);
		query_record_release(&q);
		if (cbrc) {
			rc = cbrc;
			goto out;
		}
	}
	if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "reading queries");
		goto out;
	}
	rc = 0;
out:
	query_record_release(&q);
	sqlite3_finalize(st);
	sqlite3_finalize(en);
	sqlite3_finalize(at);
	free(cols);
	free(sql);
	return rc;
}

static int sq_queries_iter(struct store *s, const char *run_id,
			   int (*cb)(const struct query_record *q, void *ctx), void *ctx,
			   char *err, size_t errlen)
{
	return queries_iter_which(s, run_id, 0, cb, ctx, err, errlen);
}

static int sq_superseded_iter(struct store *s, const char *run_id,
			      int (*cb)(const struct query_record *q, void *ctx), void *ctx,
			      char *err, size_t errlen)
{
	return queries_iter_which(s, run_id, 1, cb, ctx, err, errlen);
}

static int sq_items_done(struct store *s, const char *run_id, char ***ids, size_t *n,
			 char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = -1, step;

	*ids = NULL;
	*n = 0;
	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		goto out;
	if ((rc = run_exists(s, id, run_id, err, errlen)) < 0)
		goto out;
	rc = -1;
	if (prepare(s, "SELECT item_id FROM queries WHERE run_id = ? AND superseded_at IS NULL"
		    " ORDER BY seq, id", &st, err, errlen) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	v = xcalloc(1, sizeof(*v));
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt + 1 >= cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt++] = col_text(st, 0);
		v[cnt] = NULL;
	}
	if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "reading recorded items");
		goto out;
	}
	*ids = v;
	*n = cnt;
	v = NULL;
	rc = 0;
out:
	if (v)
		free_list(v);
	sqlite3_finalize(st);
	return rc;
}

struct samples_ctx {
	const char *run_id;
	sqlite3_int64 id;
	const struct store_sample *v;
	size_t n;
};

static int samples_append_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct samples_ctx *c = ctx;
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (prepare(s, "INSERT INTO samples (run_id, source_idx, t_s, energy_j, power_w, temp_c,"
		    " mem_used_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)", &st, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct store_sample *v = &c->v[i];
		sqlite3_reset(st);
		sqlite3_bind_int64(st, 1, c->id);
		sqlite3_bind_int(st, 2, v->source_idx);
		sqlite3_bind_double(st, 3, v->t_s);
		bind_real(st, 4, v->energy_j);
		bind_real(st, 5, v->power_w);
		bind_real(st, 6, v->temp_c);
		bind_real(st, 7, v->mem_used_bytes);
		step = sqlite3_step(st);
		if (step == SQLITE_CONSTRAINT_FOREIGNKEY) {
			rc = no_run(s, c->run_id, err, errlen);
			goto out;
		}
		if (step != SQLITE_DONE) {
			db_err(s, err, errlen, "recording samples");
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int sq_samples_append(struct store *s, const char *run_id, const struct store_sample *v, size_t n,
			     char *err, size_t errlen)
{
	struct samples_ctx c = {run_id, 0, v, n};

	if (parse_run_id(s, run_id, &c.id, err, errlen) < 0)
		return -1;
	return sq_tx(s, samples_append_body, &c, err, errlen);
}

static char *score_sql(void)
{
	return xstrdup("INSERT INTO scores (run_id, item_id, grader, settings_json, correct, reason, scored_at)"
		       " VALUES (?, ?, ?, ?, ?, ?, ?)");
}

static int sq_score_add(struct store *s, const char *run_id, const struct store_score *sc,
			char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc = -1, step;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if (kept_stmt(s, STMT_SCORE, score_sql, &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, sc->item_id);
	bind_text(st, 3, sc->grader);
	bind_text(st, 4, sc->settings_json);
	if (sc->correct == 0 || sc->correct == 1)
		sqlite3_bind_int(st, 5, sc->correct);
	else
		sqlite3_bind_null(st, 5);
	bind_text(st, 6, sc->reason);
	sqlite3_bind_double(st, 7, isnan(sc->scored_at) || sc->scored_at <= 0 ? clock_wall_s() : sc->scored_at);
	step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT_FOREIGNKEY) {
		rc = no_run(s, run_id, err, errlen);
	} else if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "recording a score");
	} else {
		rc = 0;
	}
	sqlite3_reset(st);
	return rc;
}

static int sq_scores_latest(struct store *s, const char *run_id,
			    int (*cb)(const char *item_id, int correct, void *ctx), void *ctx,
			    char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc = -1, step;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if (prepare(s, "SELECT item_id, correct FROM scores AS a WHERE run_id = ?1 AND id ="
		    " (SELECT max(id) FROM scores AS b WHERE b.run_id = ?1 AND b.item_id = a.item_id)"
		    " ORDER BY item_id", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		int c = (int)col_i64(st, 1);
		rc = cb((const char *)sqlite3_column_text(st, 0), c, ctx);
		if (rc)
			goto out;
	}
	if (step != SQLITE_DONE) {
		rc = db_err(s, err, errlen, "reading scores");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int sq_score_rows_latest(struct store *s, const char *run_id,
				int (*cb)(const struct store_score *sc, void *ctx), void *ctx,
				char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc = -1, step;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if (prepare(s, "SELECT item_id, grader, settings_json, correct, reason, scored_at FROM scores AS a"
		    " WHERE run_id = ?1 AND id ="
		    " (SELECT max(id) FROM scores AS b WHERE b.run_id = ?1 AND b.item_id = a.item_id)"
		    " ORDER BY item_id", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_score sc = {
			.item_id = (const char *)sqlite3_column_text(st, 0),
			.grader = (const char *)sqlite3_column_text(st, 1),
			.settings_json = (const char *)sqlite3_column_text(st, 2),
			.correct = (int)col_i64(st, 3),
			.reason = (const char *)sqlite3_column_text(st, 4),
			.scored_at = col_real(st, 5),
		};
		rc = cb(&sc, ctx);
		if (rc)
			goto out;
	}
	if (step != SQLITE_DONE) {
		rc = db_err(s, err, errlen, "reading scores");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static int sq_judgement_get(struct store *s, const char *prompt_sha256, const char *judge_model,
			    char **verdict, char **raw_text, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1, step;

	if (prepare(s, "SELECT verdict, raw_text FROM judgements WHERE prompt_sha256 = ? AND judge_model = ?",
		    &st, err, errlen) < 0)
		return -1;
	bind_text(st, 1, prompt_sha256);
	bind_text(st, 2, judge_model);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		*verdict = col_text(st, 0);
		*raw_text = col_text(st, 1);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = STORE_ENOTFOUND;
	} else {
		db_err(s, err, errlen, "reading a cached judgement");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_judgement_put(struct store *s, const struct store_judgement *j, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;

	if (prepare(s, "INSERT OR IGNORE INTO judgements (prompt_sha256, judge_model, verdict, raw_text, created_at)"
		    " VALUES (?, ?, ?, ?, ?)", &st, err, errlen) < 0)
		return -1;
	bind_text(st, 1, j->prompt_sha256);
	bind_text(st, 2, j->judge_model);
	bind_text(st, 3, j->verdict);
	bind_text(st, 4, j->raw_text);
	sqlite3_bind_double(st, 5, isnan(j->created_at) || j->created_at <= 0 ? clock_wall_s() : j->created_at);
	if (sqlite3_step(st) != SQLITE_DONE)
		db_err(s, err, errlen, "caching a judgement");
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

/*
 * The items cursor: a merge join of two index-ordered statements read in
 * step, the run's queries along the UNIQUE (run_id, item_id) index and its
 * scores along scores_by_item (run_id, item_id, id), so each item's latest
 * score is the last score row of its item id. No sort, no per-row seek into
 * the scores, and memory that does not grow with the run. Both statements
 * are stepped in sq_items_open, so they read one snapshot.
 */
struct sq_items {
	sqlite3_stmt *q, *sc;
	int q_pending;    /* q holds a row items_next has not returned yet */
	int q_done;       /* q has no more rows */
	int sc_row;       /* sc holds a row */
	unsigned fields;  /* STORE_ITEM_*: the column groups q reads */
	int c_subject, c_energy, c_latency, c_tokens, c_window, c_logprobs;  /* their first columns in q, or -1 */
};

/*
 * col_real / col_i64 of a column already fetched: one sqlite3_column_value
 * call (one lock of the connection's mutex) instead of two per column.
 */
static double val_real(sqlite3_value *v)
{
	return sqlite3_value_type(v) == SQLITE_NULL ? NAN : sqlite3_value_double(v);
}

static long long val_i64(sqlite3_value *v)
{
	return sqlite3_value_type(v) == SQLITE_NULL ? -1 : (long long)sqlite3_value_int64(v);
}

/* Steps st: 1 a row, 0 done, -1 an error (err set). */
static int items_step(struct store *s, sqlite3_stmt *st, char *err, size_t errlen)
{
	int step = sqlite3_step(st);

	if (step == SQLITE_ROW)
		return 1;
	if (step == SQLITE_DONE)
		return 0;
	return db_err(s, err, errlen, "reading a run's items");
}

static void sq_items_close(struct store_cursor *c)
{
	struct sq_items *x = c->impl;

	if (x) {
		sqlite3_finalize(x->q);
		sqlite3_finalize(x->sc);
		free(x);
	}
	c->impl = NULL;
}

static int sq_items_open(struct store *s, const char *run_id, struct store_cursor *c, char *err, size_t errlen)
{
	struct sq_items *x;
	sqlite3_int64 id;
	int rc, k;

	c->impl = NULL;
	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if ((rc = run_exists(s, id, run_id, err, errlen)) < 0)
		return rc;
	c->impl = x = xcalloc(1, sizeof(*x));
	rc = -1;
	/*
	 * Only the columns the caller reads: a column's cost per row is its
	 * decoding and the record header walked up to it (the energy and token
	 * columns lie past the prompt and answer), about half of a full row's.
	 */
	{
		static const struct {
			unsigned bit;
			const char *cols;
			int n;
		} g[] = {
			{STORE_ITEM_SUBJECT, ", subject", 1},
			{STORE_ITEM_ENERGY, ", accel_j, accel_dyn_j", 2},
			{STORE_ITEM_LATENCY, ", e2e_s, ttft_s", 2},
			{STORE_ITEM_TOKENS, ", prompt_tokens, completion_tokens, reasoning_tokens", 3},
			{STORE_ITEM_WINDOW, ", t_send_s, t_end_s", 2},
			{STORE_ITEM_LOGPROBS, ", logprob_sum, logprob_tokens", 2},
		};
		int *at[] = {&x->c_subject, &x->c_energy, &x->c_latency, &x->c_tokens, &x->c_window, &x->c_logprobs};
		int col = 2;
		char sql[512];
		size_t len;

		x->fields = c->fields;
		len = (size_t)snprintf(sql, sizeof(sql), "SELECT item_id, status");
		for (size_t i = 0; i < NCOLS(g); i++) {
			*at[i] = -1;
			if (x->fields & g[i].bit) {
				len += (size_t)snprintf(sql + len, sizeof(sql) - len, "%s", g[i].cols);
				*at[i] = col;
				col += g[i].n;
			}
		}
		snprintf(sql + len, sizeof(sql) - len, " FROM queries WHERE run_id = ? AND superseded_at IS NULL"
			 " ORDER BY item_id");
		if (prepare(s, sql, &x->q, err, errlen) < 0)
			goto out;
	}
	if (prepare(s, "SELECT item_id, correct FROM scores WHERE run_id = ? ORDER BY item_id, id", &x->sc, err,
		    errlen) < 0)
		goto out;
	sqlite3_bind_int64(x->q, 1, id);
	sqlite3_bind_int64(x->sc, 1, id);
	if ((k = items_step(s, x->q, err, errlen)) < 0)
		goto out;
	x->q_pending = k;
	x->q_done = !k;
	if ((k = items_step(s, x->sc, err, errlen)) < 0)
		goto out;
	x->sc_row = k;
	rc = 0;
out:
	if (rc < 0)
		sq_items_close(c);
	return rc;
}

/* Moves the scores statement past item_id; the latest score of item_id (its last row), or -1. */
static int items_latest_score(struct store *s, struct sq_items *x, const char *item_id, int *correct,
			      char *err, size_t errlen)
{
	int k;

	*correct = -1;
	while (x->sc_row) {
		int cmp = strcmp((const char *)sqlite3_column_text(x->sc, 0), item_id);
		if (cmp > 0)
			break;
		if (cmp == 0)
			*correct = (int)val_i64(sqlite3_column_value(x->sc, 1));
		if ((k = items_step(s, x->sc, err, errlen)) < 0)
			return -1;
		x->sc_row = k;
	}
	return 0;
}

static int sq_items_next(struct store_cursor *c, struct store_item *it, char *err, size_t errlen)
{
	struct sq_items *x = c->impl;
	sqlite3_stmt *st = x->q;
	const char *status, *subject;
	int k;

	if (!x->q_pending && !x->q_done) {
		if ((k = items_step(c->s, st, err, errlen)) < 0)
			return -1;
		x->q_done = !k;
	}
	x->q_pending = 0;
	if (x->q_done)
		return 0;
	it->item_id = (const char *)sqlite3_column_text(st, 0);
	status = (const char *)sqlite3_column_text(st, 1);
	it->ok = status && !strcmp(status, "ok");
	it->subject = "";
	if (x->c_subject >= 0 && (subject = (const char *)sqlite3_column_text(st, x->c_subject)))
		it->subject = subject;
	it->accel_j = it->accel_dyn_j = NAN;
	if ((k = x->c_energy) >= 0) {
		it->accel_j = val_real(sqlite3_column_value(st, k));
		it->accel_dyn_j = val_real(sqlite3_column_value(st, k + 1));
	}
	it->e2e_s = it->ttft_s = it->t_send_s = it->t_end_s = NAN;
	if ((k = x->c_latency) >= 0) {
		it->e2e_s = val_real(sqlite3_column_value(st, k));
		it->ttft_s = val_real(sqlite3_column_value(st, k + 1));
	}
	if ((k = x->c_window) >= 0) {
		it->t_send_s = val_real(sqlite3_column_value(st, k));
		it->t_end_s = val_real(sqlite3_column_value(st, k + 1));
	}
	it->prompt_tokens = it->completion_tokens = it->reasoning_tokens = -1;
	if ((k = x->c_tokens) >= 0) {
		it->prompt_tokens = val_i64(sqlite3_column_value(st, k));
		it->completion_tokens = val_i64(sqlite3_column_value(st, k + 1));
		it->reasoning_tokens = val_i64(sqlite3_column_value(st, k + 2));
	}
	it->logprob_sum = NAN;
	it->logprob_tokens = -1;
	if ((k = x->c_logprobs) >= 0) {
		it->logprob_sum = val_real(sqlite3_column_value(st, k));
		it->logprob_tokens = val_i64(sqlite3_column_value(st, k + 1));
	}
	return items_latest_score(c->s, x, it->item_id, &it->correct, err, errlen) < 0 ? -1 : 1;
}

static int sq_samples_iter(struct store *s, const char *run_id,
			   int (*cb)(const struct store_sample *v, void *ctx), void *ctx,
			   char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	struct store_sample v;
	int rc = -1, step;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if ((rc = run_exists(s, id, run_id, err, errlen)) < 0)
		return rc;
	rc = -1;
	if (prepare(s, "SELECT source_idx, t_s, energy_j, power_w, temp_c, mem_used_bytes FROM samples"
		    " WHERE run_id = ? ORDER BY source_idx, t_s", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		v.source_idx = sqlite3_column_int(st, 0);
		v.t_s = col_real(st, 1);
		v.energy_j = col_real(st, 2);
		v.power_w = col_real(st, 3);
		v.temp_c = col_real(st, 4);
		v.mem_used_bytes = col_real(st, 5);
		if ((rc = cb(&v, ctx)) != 0)
			goto out;
		rc = -1;
	}
	if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "reading samples");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- leases ---- */

static int sq_lease_get(struct store *s, const char *run_id, struct store_lease *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc, step;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if ((rc = run_exists(s, id, run_id, err, errlen)) < 0)
		return rc;
	if (prepare(s, "SELECT owner, host, pid, acquired_at, heartbeat_at FROM run_leases WHERE run_id = ?",
		    &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		out->owner = col_text(st, 0);
		out->host = col_text(st, 1);
		out->pid = col_i64(st, 2);
		out->acquired_at = col_real(st, 3);
		out->heartbeat_at = col_real(st, 4);
		rc = 0;
	} else if (step == SQLITE_DONE) {
		rc = STORE_ENOTFOUND;
	} else {
		rc = db_err(s, err, errlen, "reading a run's lease");
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_lease_put(struct store *s, const char *run_id, const struct store_lease *l,
			const struct store_lease *expect, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc, step;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if (prepare(s, expect ? "UPDATE run_leases SET owner = ?2, host = ?3, pid = ?4, acquired_at = ?5,"
			      " heartbeat_at = ?6 WHERE run_id = ?1 AND owner = ?7 AND heartbeat_at = ?8"
			    : "INSERT OR IGNORE INTO run_leases (run_id, owner, host, pid, acquired_at, heartbeat_at)"
			      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, l->owner);
	bind_text(st, 3, l->host);
	sqlite3_bind_int64(st, 4, l->pid);
	sqlite3_bind_double(st, 5, l->acquired_at);
	sqlite3_bind_double(st, 6, l->heartbeat_at);
	if (expect) {
		bind_text(st, 7, expect->owner);
		sqlite3_bind_double(st, 8, expect->heartbeat_at);
	}
	step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT_FOREIGNKEY)
		rc = no_run(s, run_id, err, errlen);
	else if (step != SQLITE_DONE)
		rc = db_err(s, err, errlen, "writing a run's lease");
	else
		rc = sqlite3_changes(DB(s)) == 1 ? 0 : STORE_EBUSY;
	sqlite3_finalize(st);
	return rc;
}

static int sq_lease_renew(struct store *s, const char *run_id, const char *owner, double now,
			  char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if (prepare(s, "UPDATE run_leases SET heartbeat_at = ? WHERE run_id = ? AND owner = ?", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_double(st, 1, now);
	sqlite3_bind_int64(st, 2, id);
	bind_text(st, 3, owner);
	rc = 0;
	if (sqlite3_step(st) != SQLITE_DONE) {
		rc = db_err(s, err, errlen, "renewing a run's lease");
	} else if (sqlite3_changes(DB(s)) != 1) {
		err_set(err, errlen, "run %s: %s no longer holds its lease", run_id, owner);
		rc = STORE_ENOTFOUND;
	}
	sqlite3_finalize(st);
	return rc;
}

static int sq_lease_release(struct store *s, const char *run_id, const char *owner, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if (prepare(s, "DELETE FROM run_leases WHERE run_id = ? AND owner = ?", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, owner);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, errlen, "releasing a run's lease");
	sqlite3_finalize(st);
	return rc;
}

/* ---- ipw merge: a run with its id, every score row ---- */

static int run_create_id_body(struct store *s, void *ctx, char *err, size_t errlen)
{
	struct run_create_ctx *c = ctx;
	sqlite3_stmt *st = NULL;
	char *cols = col_list(run_cols, NCOLS(run_cols), "");
	char *ph = placeholders(NCOLS(run_cols));
	char *sql = xasprintf("INSERT INTO runs (%s, id) VALUES (%s, ?)", cols, ph);
	int rc = -1, step;

	if (prepare(s, sql, &st, err, errlen) < 0)
		goto out;
	bind_cols(st, 1, run_cols, NCOLS(run_cols), c->r);
	sqlite3_bind_int64(st, (int)NCOLS(run_cols) + 1, c->id);
	step = sqlite3_step(st);
	if (step == SQLITE_CONSTRAINT) {
		rc = STORE_EDUPLICATE;
		err_set(err, errlen, "run id %lld is taken in %s", (long long)c->id, s->path);
		goto out;
	}
	if (step != SQLITE_DONE) {
		db_err(s, err, errlen, "creating the run");
		goto out;
	}
	rc = insert_sources(s, c->id, c->r->sources, c->r->nsources, err, errlen);
out:
	sqlite3_finalize(st);
	free(cols);
	free(ph);
	free(sql);
	return rc;
}

static int sq_run_create_id(struct store *s, const struct run_record *r, char *err, size_t errlen)
{
	struct run_create_ctx c = {(struct run_record *)r, 0};

	if (parse_run_id(s, r->id, &c.id, err, errlen) < 0)
		return -1;
	if (!r->name || !r->status)
		return err_set(err, errlen, "store_run_create_id: a run needs a name and a status");
	return sq_tx(s, run_create_id_body, &c, err, errlen);
}

static int sq_scores_iter(struct store *s, const char *run_id,
			  int (*cb)(const struct store_score *sc, void *ctx), void *ctx, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc = -1, step;

	if (parse_run_id(s, run_id, &id, err, errlen) < 0)
		return -1;
	if (prepare(s, "SELECT item_id, grader, settings_json, correct, reason, scored_at FROM scores"
		    " WHERE run_id = ?1 ORDER BY id", &st, err, errlen) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_score sc = {
			.item_id = (const char *)sqlite3_column_text(st, 0),
			.grader = (const char *)sqlite3_column_text(st, 1),
			.settings_json = (const char *)sqlite3_column_text(st, 2),
			.correct = (int)col_i64(st, 3),
			.reason = (const char *)sqlite3_column_text(st, 4),
			.scored_at = col_real(st, 5),
		};
		if ((rc = cb(&sc, ctx)))
			goto out;
	}
	if (step != SQLITE_DONE) {
		rc = db_err(s, err, errlen, "reading scores");
		goto out;
	}
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

static const char *const sq_schemes[] = {"sqlite", "file", NULL};

const struct store_backend store_sqlite = {
	.name = "sqlite",
	.schemes = sq_schemes,
	.plain_path = 1,
	.open = sq_open,
	.close = sq_close,
	.run_create = sq_run_create,
	.run_set_sources = sq_run_set_sources,
	.run_update = sq_run_update,
	.run_get = sq_run_get,
	.runs_list = sq_runs_list,
	.query_insert = sq_query_insert,
	.query_energy_set = sq_query_energy_set,
	.query_insert_batch = sq_query_insert_batch,
	.query_energy_set_batch = sq_query_energy_set_batch,
	.queries_iter = sq_queries_iter,
	.items_done = sq_items_done,
	.query_resend = sq_query_resend,
	.superseded_iter = sq_superseded_iter,
	.lease_get = sq_lease_get,
	.lease_put = sq_lease_put,
	.lease_renew = sq_lease_renew,
	.lease_release = sq_lease_release,
	.samples_append = sq_samples_append,
	.score_add = sq_score_add,
	.scores_latest = sq_scores_latest,
	.score_rows_latest = sq_score_rows_latest,
	.judgement_get = sq_judgement_get,
	.judgement_put = sq_judgement_put,
	.items_open = sq_items_open,
	.items_next = sq_items_next,
	.items_close = sq_items_close,
	.samples_iter = sq_samples_iter,
	.run_create_id = sq_run_create_id,
	.scores_iter = sq_scores_iter,
};
