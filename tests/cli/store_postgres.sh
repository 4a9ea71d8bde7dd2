#!/bin/sh
# ipw on a PostgreSQL store (a throwaway server from tests/pg/start.sh): the
# analysis fixture written into PostgreSQL and into SQLite gives byte-identical
# runs/show/export/compare/coverage/route output; ipw profile (fake server,
# fake telemetry) records into PostgreSQL through --store and IPW_STORE, score,
# resume and every read command work on it, the same items and answers as the
# same run into SQLite; the password of a URI is never printed. Skipped (77)
# without the server binaries, unless IPW_REQUIRE_PG=1 (CI), which fails then.
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
command -v python3 >/dev/null || { echo "python3 is needed to read the CSV output"; exit 77; }
PGDIR=$(mktemp -d /tmp/ipw-pg-XXXXXX) && rmdir "$PGDIR"
trap 'sh "$IPW_TESTS/pg/stop.sh" "$PGDIR"; cleanup' EXIT INT TERM
sh "$IPW_TESTS/pg/start.sh" "$PGDIR" fixture profiled >/dev/null 2>"$TMP/pg.err"
rc=$?
if [ $rc = 77 ]; then
	[ "${IPW_REQUIRE_PG:-}" = 1 ] && fail "IPW_REQUIRE_PG=1 but: $(cat "$TMP/pg.err")"
	cat "$TMP/pg.err"
	exit 77
fi
[ $rc = 0 ] || fail "the PostgreSQL test server did not start: $(cat "$TMP/pg.err")"
FIX="postgresql:///fixture?host=$PGDIR"
PRO="postgresql:///profiled?host=$PGDIR"

# 1. the same rows in both stores: every analysis command prints the same bytes
"$IPW_BUILD/fakes/mkanalysis" "$FIX" || fail "mkanalysis into PostgreSQL"
"$IPW_BUILD/fakes/mkanalysis" "$TMP/fix.db" || fail "mkanalysis into SQLite"
printf '{"cloud": {"3": {"usd_per_query": 0.01}}}\n' >"$TMP/prices.json"
n=0
while IFS= read -r cmd; do
	n=$((n + 1))
	# shellcheck disable=SC2086
	"$IPW" $cmd --store "$FIX" >"$TMP/pg.$n" 2>&1; a=$?
	# shellcheck disable=SC2086
	"$IPW" $cmd --store "$TMP/fix.db" >"$TMP/sq.$n" 2>&1; b=$?
	[ $a = $b ] || fail "'ipw $cmd': exit $a on PostgreSQL, $b on SQLite: $(cat "$TMP/pg.$n")"
	[ $a = 0 ] || fail "'ipw $cmd' exited $a: $(cat "$TMP/pg.$n")"
	cmp -s "$TMP/pg.$n" "$TMP/sq.$n" || fail "'ipw $cmd' differs on PostgreSQL: $(diff "$TMP/pg.$n" "$TMP/sq.$n" | head -20)"
done <<LIST
runs
runs --format json
show 1
show 2 --json
export 1 --format csv
export 3 --format jsonl
compare 1 2 3 --bootstrap 200
compare small big --csv --bootstrap 0
compare 1 3 --json --bootstrap 100
coverage 1 2 3
coverage 1 2 --json
route simulate --local 1 2 --cloud 3 --trials 200 --seed 9 --json
LIST

# 2. ipw profile into PostgreSQL and the same run into SQLite
export IPW_NVML_LIBRARY="$IPW_BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1
COMMON="--limit 6 --backends fake --fake-profile gpu0=const:200 --idle-seconds 0.3 --quiet --no-host"
start_fakellm main --tokens 8 --token-delay-ms 2
# shellcheck disable=SC2086
# (trust authentication: the password in the URI is not needed, and never printed)
"$IPW" profile --url "$URL" --store "postgresql://$(id -un):hunter2@/profiled?host=$PGDIR" --name pgrun $COMMON \
	>"$TMP/p1.out" 2>"$TMP/p1.err" || fail "profile into PostgreSQL exited $?: $(cat "$TMP/p1.err")"
grep -q "run 1: completed" "$TMP/p1.out" || fail "no completion line: $(cat "$TMP/p1.out")"
! grep -q hunter2 "$TMP/p1.out" "$TMP/p1.err" || fail "profile printed the password: $(cat "$TMP/p1.out" "$TMP/p1.err")"
grep -q "store=postgresql://$(id -un)@/profiled" "$TMP/p1.err" || fail "config line: $(cat "$TMP/p1.err")"
# shellcheck disable=SC2086
"$IPW" profile --url "$URL" --store "$TMP/p.db" --name pgrun $COMMON >/dev/null 2>"$TMP/p2.err" ||
	fail "profile into SQLite exited $?: $(cat "$TMP/p2.err")"
# IPW_STORE names the PostgreSQL store for every command
IPW_STORE="$PRO" "$IPW" runs >"$TMP/runs" || fail "runs through IPW_STORE"
grep -Eq '^1 +pgrun +completed' "$TMP/runs" || fail "runs: $(cat "$TMP/runs")"
# (one builtin item needs a judge: exit 5 on both)
IPW_STORE="$PRO" "$IPW" score pgrun >"$TMP/s1" 2>&1; a=$?
"$IPW" score pgrun --store "$TMP/p.db" >"$TMP/s2" 2>&1; b=$?
[ $a = $b ] && [ $a != 3 ] && [ $a != 4 ] || fail "score: exit $a on PostgreSQL, $b on SQLite: $(cat "$TMP/s1")"
for st in "$PRO" "$TMP/p.db"; do
	"$IPW" export pgrun --format csv --store "$st" >"$TMP/e.csv" || fail "export from $st"
	csv_query "$TMP/e.csv" 'sorted((r["item_id"], r["status"], r["completion_tokens"], r["correct"]) for r in rows)' \
		>>"$TMP/e.both"
	expect_eq "energy measured ($st)" "$(csv_query "$TMP/e.csv" 'all(float(r["energy_j"]) > 0 for r in rows)')" True
	"$IPW" coverage pgrun --store "$st" >>"$TMP/cov.both" || fail "coverage on $st"
	"$IPW" show pgrun --json --store "$st" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["sources"][0]["backend"] == "fake", d["sources"]
' || fail "show --json on $st"
	"$IPW" compare pgrun --store "$st" --bootstrap 50 | grep -Eq '^1 +pgrun' || fail "compare on $st"
done
[ "$(sort -u "$TMP/e.both" | wc -l)" = 1 ] || fail "the two stores hold different items: $(cat "$TMP/e.both")"
half=$(($(wc -l <"$TMP/cov.both") / 2))
[ "$(head -n $half "$TMP/cov.both")" = "$(tail -n $half "$TMP/cov.both")" ] || fail "coverage differs: $(cat "$TMP/cov.both")"

# 3. kill -9 mid-run, then --resume: every item exactly once in PostgreSQL
start_fakellm slow --tokens 10 --token-delay-ms 30
"$IPW" profile --url "$URL" --limit 8 --store "$PRO" --name killed --backends fake --fake-profile gpu0=const:200 \
	--idle-seconds 0.3 --quiet --no-host >/dev/null 2>&1 &
pid=$!
i=0
# each query streams for 0.3 s: kill once the first ones are committed, long before the last
until [ "$("$IPW" export killed --format csv --store "$PRO" 2>/dev/null | wc -l)" -ge 3 ]; do
	i=$((i + 1)); [ $i -gt 600 ] && fail "the run recorded nothing in 30 s"
	sleep 0.05
done
kill -9 $pid
wait $pid 2>/dev/null
"$IPW" export killed --format csv --store "$PRO" >"$TMP/k1.csv" || fail "export after kill -9"
n1=$(csv_query "$TMP/k1.csv" 'len(rows)')
[ "$n1" -ge 2 ] && [ "$n1" -lt 8 ] || fail "killed run kept $n1 rows"
"$IPW" profile --resume killed --store "$PRO" --quiet >/dev/null 2>"$TMP/r.err" || fail "resume: $(cat "$TMP/r.err")"
"$IPW" export killed --format csv --store "$PRO" >"$TMP/k2.csv" || fail "export after resume"
expect_eq "rows after resume" "$(csv_query "$TMP/k2.csv" 'len(rows)')" 8
expect_eq "each item once" "$(csv_query "$TMP/k2.csv" 'len(set(r["item_id"] for r in rows))')" 8
# the killed run's lease (its pid gone from this host) was taken over, said so (docs/store.md "Leases")
grep -q "took over the lease on run [0-9]* from $(hostname):$pid: its process $pid is not running on this host" \
	"$TMP/r.err" || fail "no lease take-over note: $(cat "$TMP/r.err")"

# 4. a URI's password is never printed, whether the store opens or not
"$IPW" runs --store "postgresql://$(id -un):hunter2@/profiled?host=$PGDIR&password=hunter2" >"$TMP/o" 2>&1 ||
	fail "runs with a password in the URI: $(cat "$TMP/o")"
"$IPW" runs --store "postgresql://$(id -un):hunter2@/nosuchdb?host=$PGDIR" >"$TMP/o2" 2>&1
expect_eq "missing database exit" $? 3
grep -q "cannot connect to PostgreSQL" "$TMP/o2" || fail "missing database: $(cat "$TMP/o2")"
! grep -q hunter2 "$TMP/o" "$TMP/o2" || fail "a password was printed: $(cat "$TMP/o" "$TMP/o2")"
# a read command never creates a store in an empty database
"$IPW" runs --store "postgresql:///postgres?host=$PGDIR" >"$TMP/o3" 2>&1
expect_eq "empty database exit" $? 3
grep -q "no store at" "$TMP/o3" || fail "empty database: $(cat "$TMP/o3")"
echo "store_postgres: all cases passed"
