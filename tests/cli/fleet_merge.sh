#!/bin/sh
# ipw merge between SQLite and PostgreSQL (a throwaway server from
# tests/pg/start.sh): two "offline hosts" (SQLite stores, both with a run 1)
# merged into PostgreSQL keep their run ids where free, the colliding run gets
# the next id (said); every run's export, show, compare, coverage and route
# read the same in the copy as in its source; scores (every row) and samples
# come along, and so do superseded rows (--resume's history, oldest first,
# in both directions); merging again adds nothing; PostgreSQL merged back into a new
# SQLite store gives byte-identical analysis output. Skipped (77) without the
# server binaries unless IPW_REQUIRE_PG=1.
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
command -v python3 >/dev/null || { echo "python3 is needed"; exit 77; }
PGDIR=$(mktemp -d /tmp/ipw-pgm-XXXXXX) && rmdir "$PGDIR"
trap 'sh "$IPW_TESTS/pg/stop.sh" "$PGDIR"; cleanup' EXIT INT TERM
sh "$IPW_TESTS/pg/start.sh" "$PGDIR" merged >/dev/null 2>"$TMP/pg.err"
rc=$?
if [ $rc = 77 ]; then
	[ "${IPW_REQUIRE_PG:-}" = 1 ] && fail "IPW_REQUIRE_PG=1 but: $(cat "$TMP/pg.err")"
	cat "$TMP/pg.err"
	exit 77
fi
[ $rc = 0 ] || fail "the PostgreSQL test server did not start: $(cat "$TMP/pg.err")"
PG="postgresql:///merged?host=$PGDIR"
nrows() { # STORE TABLE: rows of a table in a SQLite store
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM " + sys.argv[2]).fetchone()[0])' "$1" "$2"
}

# host A: the analysis fixture (runs 1-8, scored); host B: a profiled, scored run 1 with samples
"$IPW_BUILD/fakes/mkanalysis" "$TMP/a.db" || fail "mkanalysis"
export IPW_NVML_LIBRARY="$IPW_BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1
start_fakellm main --tokens 4
"$IPW" profile --url "$URL" --store "$TMP/b.db" --name offline --limit 5 --backends fake \
	--fake-profile gpu0=const:200 --idle-seconds 0.2 --quiet --no-host >/dev/null 2>"$TMP/p.err" ||
	fail "profile into b.db: $(cat "$TMP/p.err")"
"$IPW" score offline --store "$TMP/b.db" >/dev/null 2>&1
[ "$(nrows "$TMP/b.db" samples)" -gt 0 ] || fail "host B's run has no samples"
# and a history, as two --resume's would leave it: the run's first item failed twice before its
# latest row (two earlier rows, superseded, each with an attempt)
python3 - "$TMP/b.db" <<'PY' || fail "adding superseded rows"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
cols = [r[1] for r in db.execute("PRAGMA table_info(queries)") if r[1] not in ("id", "status", "superseded_at")]
first = db.execute("SELECT id FROM queries ORDER BY seq LIMIT 1").fetchone()[0]
for k, when in ((1, 1700000001.0), (2, 1700000002.0)):
    cur = db.execute("INSERT INTO queries (%s, status, superseded_at) SELECT %s, 'failed', ? FROM queries WHERE id = ?"
                     % (", ".join(cols), ", ".join(cols)), (when, first))
    db.execute("INSERT INTO query_attempts (query_id, n, t_start_s, duration_s, error_kind, http_status, message)"
               " VALUES (?, 1, 0.5, 0.25, 'connect', NULL, ?)", (cur.lastrowid, "try %d" % k))
db.commit()
PY
sup() { # STORE RUN: the run's superseded rows (item, status, attempt message), oldest first
	case $1 in
	postgresql:*) psql -X -q -t -A -h "$PGDIR" -d merged -c "SELECT string_agg(q.item_id || ':' || q.status || ':' ||
		a.message, ' ' ORDER BY q.id) FROM queries q JOIN query_attempts a ON a.query_id = q.id
		WHERE q.run_id = $2 AND q.superseded_at IS NOT NULL" ;;
	*) python3 -c 'import sqlite3, sys; print(" ".join("%s:%s:%s" % r for r in sqlite3.connect(sys.argv[1]).execute(
		"SELECT q.item_id, q.status, a.message FROM queries q JOIN query_attempts a ON a.query_id = q.id"
		" WHERE q.run_id = ? AND q.superseded_at IS NOT NULL ORDER BY q.id", (int(sys.argv[2]),))))' "$1" "$2" ;;
	esac
}
SUP=$(sup "$TMP/b.db" 1)
case $SUP in *":failed:try 1 "*":failed:try 2") ;; *) fail "host B's history: $SUP" ;; esac

# 1. both into PostgreSQL: A keeps ids 1-8; B's run 1 becomes run 9
"$IPW" merge "$TMP/a.db" "$TMP/b.db" --into "$PG" >"$TMP/m1" 2>&1 || fail "merge: $(cat "$TMP/m1")"
grep -q "^run 1 of $TMP/b.db is run 9 in" "$TMP/m1" || fail "the renumbered run was not said: $(cat "$TMP/m1")"
grep -q "merged $TMP/a.db into .*: 8 runs new, 0 already there" "$TMP/m1" || fail "merge said: $(cat "$TMP/m1")"
"$IPW" runs --store "$PG" --format csv >"$TMP/runs.csv" || fail "runs"
expect_eq "runs in PostgreSQL" "$(csv_query "$TMP/runs.csv" '[(r["id"], r["name"]) for r in rows]')" \
	"[('1', 'small'), ('2', 'big'), ('3', 'cloud'), ('4', 'partial'), ('5', 'mixed'), ('6', 'gen-a'), ('7', 'gen-b'), ('8', 'linear'), ('9', 'offline')]"
same() { # WHAT SRC-STORE SRC-RUN DST-RUN CMD...: the command's output for the run in both stores
	what=$1 s=$2 a=$3 b=$4
	shift 4
	"$IPW" "$@" "$a" --store "$s" >"$TMP/x1" 2>&1 || fail "$what on $s: $(cat "$TMP/x1")"
	"$IPW" "$@" "$b" --store "$PG" >"$TMP/x2" 2>&1 || fail "$what on PostgreSQL: $(cat "$TMP/x2")"
	cmp -s "$TMP/x1" "$TMP/x2" || fail "$what differs: $(diff "$TMP/x1" "$TMP/x2" | head -10)"
}
for r in 1 2 3 4 5 6 7 8; do
	same "export $r" "$TMP/a.db" $r $r export --format jsonl
	same "show $r" "$TMP/a.db" $r $r show --json
done
# B's run: the same queries, energies, attempts and scores under its new id
"$IPW" export 1 --format jsonl --store "$TMP/b.db" | sed 's/"run_id": *"\{0,1\}1"\{0,1\}/RUN/' >"$TMP/b1"
"$IPW" export 9 --format jsonl --store "$PG" | sed 's/"run_id": *"\{0,1\}9"\{0,1\}/RUN/' >"$TMP/b2"
cmp -s "$TMP/b1" "$TMP/b2" || fail "host B's run differs: $(diff "$TMP/b1" "$TMP/b2" | head -5)"
expect_eq "B's run: rows" "$(wc -l <"$TMP/b2")" 5
expect_eq "B's run: the superseded rows, oldest first" "$(sup "$PG" 9)" "$SUP"

# 2. merging again changes nothing
"$IPW" merge "$TMP/a.db" "$TMP/b.db" --into "$PG" >"$TMP/m2" 2>&1 || fail "merge again: $(cat "$TMP/m2")"
expect_eq "second merge" "$(grep -c 'runs new, .* already there; 0 queries, 0 scores, 0 samples added' "$TMP/m2")" 2
grep -q "0 runs new" "$TMP/m2" || fail "second merge: $(cat "$TMP/m2")"
"$IPW" runs --store "$PG" --format csv >"$TMP/runs2.csv"
cmp -s "$TMP/runs.csv" "$TMP/runs2.csv" || fail "runs changed after a second merge"
expect_eq "B's run: the superseded rows after a second merge" "$(sup "$PG" 9)" "$SUP"

# 3. PostgreSQL back into a new SQLite store: the same ids, rows and analyses
"$IPW" merge "$PG" --into "$TMP/c.db" >"$TMP/m3" 2>&1 || fail "merge into SQLite: $(cat "$TMP/m3")"
grep -q "9 runs new" "$TMP/m3" || fail "merge into SQLite: $(cat "$TMP/m3")"
expect_eq "B's run in SQLite again: the superseded rows" "$(sup "$TMP/c.db" 9)" "$SUP"
for t in queries query_energy query_attempts scores samples run_sources; do
	expect_eq "$t rows" "$(nrows "$TMP/c.db" "$t")" "$(($(nrows "$TMP/a.db" "$t") + $(nrows "$TMP/b.db" "$t")))"
done
while IFS= read -r cmd; do
	# shellcheck disable=SC2086
	"$IPW" $cmd --store "$PG" >"$TMP/y1" 2>&1 || fail "ipw $cmd on PostgreSQL: $(cat "$TMP/y1")"
	# shellcheck disable=SC2086
	"$IPW" $cmd --store "$TMP/c.db" >"$TMP/y2" 2>&1 || fail "ipw $cmd on the copy: $(cat "$TMP/y2")"
	cmp -s "$TMP/y1" "$TMP/y2" || fail "ipw $cmd differs: $(diff "$TMP/y1" "$TMP/y2" | head -10)"
	# shellcheck disable=SC2086
	"$IPW" $cmd --store "$TMP/a.db" >"$TMP/y3" 2>&1
	case $cmd in show*) ;; *) cmp -s "$TMP/y1" "$TMP/y3" || fail "ipw $cmd differs from host A's" ;; esac
done <<LIST
show 9 --json
compare 1 2 3 --bootstrap 200
coverage 1 2 3 --json
route simulate --local 1 2 --cloud 3 --trials 200 --seed 9 --json
LIST
"$IPW" merge "$PG" --into "$TMP/c.db" >"$TMP/m4" 2>&1 || fail "merge into SQLite again"
grep -q "0 runs new, 9 already there; 0 queries, 0 scores, 0 samples added" "$TMP/m4" || fail "again: $(cat "$TMP/m4")"
echo "fleet_merge: all cases passed"
