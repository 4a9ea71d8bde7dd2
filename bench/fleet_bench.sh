#!/bin/sh
# fleet_bench.sh - the fleet issue's two targets, on a throwaway PostgreSQL
# server (tests/pg/start.sh: Unix socket, fsync=off):
#  1. four ipw workers (fake server, fake telemetry) writing one study of
#     FLEET_ITEMS items (default 20000): committed queries per second, from
#     the rows' done_at (the server's clock) and from the wall clock around
#     the workers (their start-up and idle baselines included);
#  2. compare / coverage / route simulate over 20 runs x 200,000 items (a
#     new store: FLEET_RUNS x FLEET_RUN_ITEMS) FLEET_REPEATS times (3) in
#     PostgreSQL against the same rows in SQLite (bench/analysis_gen's store,
#     copied into PostgreSQL table by table with COPY), wall-clock ratios.
# Prints the numbers; bench/RESULTS.md keeps them.
#   bench/fleet_bench.sh [SQLITE_STORE]   (default /tmp/ipw-bench/analysis.db, built if missing)
#   GNU_TIME=PATH (default /usr/bin/time); FLEET_ITEMS=N FLEET_WORKERS=N FLEET_BEFORE=OLD-IPW; FLEET_WORKERS_ONLY=1: part 1 only; FLEET_ANALYSIS_ONLY=1: part 2
#   only; FLEET_PG_DIR=DIR: a server kept in DIR (its copy of the store is made once);
#   FLEET_RUNS, FLEET_RUN_ITEMS: the new store's size; FLEET_REPEATS; FLEET_ANALYSES="compare coverage
#   route" (a subset: those only); BUILD=DIR with FLEET_NO_MAKE=1: another build's ipw (a before)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SQ=${1:-/tmp/ipw-bench/analysis.db}
ITEMS=${FLEET_ITEMS:-20000}
WORKERS=${FLEET_WORKERS:-4}
[ "${FLEET_NO_MAKE:-}" = 1 ] ||
	make -s "$BUILD/ipw" "$BUILD/bench/analysis_gen" "$BUILD/fakes/fakellm" "$BUILD/fakes/libfake_nvml.so" >/dev/null
command -v psql >/dev/null || { echo "fleet_bench: needs psql" >&2; exit 1; }
IPW=$BUILD/ipw
TMP=$(mktemp -d)
FPID=""
if [ -n "${FLEET_PG_DIR:-}" ]; then
	# a kept server (for measuring again without copying again): started if needed, never stopped
	PGDIR=$FLEET_PG_DIR
	trap '[ -n "$FPID" ] && kill $FPID 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
	[ -d "$PGDIR/data" ] || sh tests/pg/start.sh "$PGDIR" fleet analysis >/dev/null
else
	PGDIR=$(mktemp -d /tmp/ipw-pgb-XXXXXX) && rmdir "$PGDIR"
	trap '[ -n "$FPID" ] && kill $FPID 2>/dev/null; sh tests/pg/stop.sh "$PGDIR"; rm -rf "$TMP"' EXIT INT TERM
	sh tests/pg/start.sh "$PGDIR" fleet analysis >/dev/null
fi
sql() { psql -X -q -t -A -h "$PGDIR" -d "$1" -c "$2"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

# ---- 1. four workers, one study ----
# CPU seconds (user + system) of a process and the children it has reaped
cpu_of() { awk '{ printf "%.2f", ($14 + $15 + $16 + $17) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# the PostgreSQL server's CPU seconds: the postmaster, its reaped backends, its live children
pg_cpu() {
	pm=$(head -1 "$PGDIR/data/postmaster.pid")
	t=$(cpu_of "$pm")
	for c in $(ps -o pid= --ppid "$pm"); do t=$(calc "$t + $(cpu_of "$c")"); done
	echo "$t"
}
# workers LABEL IPW-BINARY [WORKER OPTIONS...]: WORKERS workers on a new study LABEL; prints its line
workers() {
	label=$1 bin=$2
	shift 2
	"$bin" study create "$label" --store "$DB" --dataset "$TMP/d.jsonl" --batch 100 --config 'a model=m --max-tokens 2' >/dev/null
	pg0=$(pg_cpu) f0=$(cpu_of $FPID) t0=$(now)
	pids=""
	w=1
	while [ $w -le "$WORKERS" ]; do
		"${GNU_TIME:-/usr/bin/time}" -f "%U %S" -o "$TMP/$label.w$w.cpu" "$bin" worker --study "$label" --store "$DB" \
			--url "$URL" --worker-id "$label-w$w" --backends fake --fake-profile gpu0=const:200 \
			--idle-seconds 0.1 --no-host --quiet "$@" >"$TMP/w$w.log" 2>&1 &
		pids="$pids $!"
		w=$((w + 1))
	done
	for p in $pids; do wait "$p" || { echo "a worker failed:"; cat "$TMP"/w*.log; exit 1; }; done
	t1=$(now) pg1=$(pg_cpu) f1=$(cpu_of $FPID)
	wcpu=$(cat "$TMP/$label".w*.cpu | awk '{ t += $1 + $2 } END { printf "%.2f", t }')
	W="study_id = (SELECT id FROM studies WHERE name = '$label')"
	done_n=$(sql fleet "SELECT count(*) FROM study_items WHERE $W AND done = 1")
	once=$(sql fleet "SELECT count(*) = count(DISTINCT q.item_id) FROM queries q JOIN study_items s ON
		s.run_id = q.run_id AND s.item_id = q.item_id WHERE s.$W")
	span=$(sql fleet "SELECT max(done_at) - min(done_at) FROM study_items WHERE $W")
	per=$(sql fleet "SELECT string_agg(n::text, '/' ORDER BY lease_owner) FROM
		(SELECT lease_owner, count(*) AS n FROM study_items WHERE $W GROUP BY 1) x")
	echo "   $label: $done_n items committed (each once: $once; per worker $per)"
	echo "      $(calc "$done_n / $span" 0) q/s over the rows' done_at span ($(calc "$span") s, server clock);" \
		"$(calc "$done_n / ($t1 - $t0)" 0) q/s over the wall clock around the workers ($(calc "$t1 - $t0") s)"
	echo "      CPU ms per committed query: workers $(calc "1000 * $wcpu / $done_n" 3)," \
		"PostgreSQL $(calc "1000 * ($pg1 - $pg0) / $done_n" 3), fake server $(calc "1000 * ($f1 - $f0) / $done_n" 3)" \
		"(total $(calc "1000 * ($wcpu + $pg1 - $pg0 + $f1 - $f0) / $done_n" 3); $(nproc) cores:" \
		"at most $(calc "$(nproc) * $done_n / ($wcpu + $pg1 - $pg0 + $f1 - $f0)" 0) q/s if nothing else ran)"
}
if [ "${FLEET_ANALYSIS_ONLY:-}" != 1 ]; then
i=0
while [ $i -lt "$ITEMS" ]; do
	printf '{"id": "b%06d", "task": "exact", "problem": "SAY: x", "answer": "x"}\n' $i
	i=$((i + 1))
done >"$TMP/d.jsonl"
"$BUILD/fakes/fakellm" --port 0 --port-file "$TMP/port" --lifetime-s 3600 --tokens 2 </dev/null >"$TMP/fake.log" 2>&1 &
FPID=$!
while [ ! -s "$TMP/port" ]; do sleep 0.05; done
URL="http://127.0.0.1:$(cat "$TMP/port")"
DB="postgresql:///fleet?host=$PGDIR"
export IPW_NVML_LIBRARY="$BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1
sfx=$(date +%s)
echo "1. $WORKERS workers, one study of $ITEMS items each (fake server, fake telemetry, PostgreSQL fsync=off, load $(cut -d' ' -f1-3 /proc/loadavg)):"
# FLEET_BEFORE=BINARY: the same workload with another ipw first (the one before a change), in the same run
[ -n "${FLEET_BEFORE:-}" ] && workers "before$sfx" "$FLEET_BEFORE"
workers "each$sfx" "$IPW" --commit-every 1
workers "batched$sfx" "$IPW"
kill $FPID 2>/dev/null || true
FPID=""
[ "${FLEET_WORKERS_ONLY:-}" = 1 ] && exit 0
fi

# ---- 2. the analyses on 20 runs x 200k items: PostgreSQL vs SQLite ----
if [ ! -s "$SQ" ]; then
	mkdir -p "$(dirname "$SQ")"
	echo "building $SQ (${FLEET_RUNS:-20} runs x ${FLEET_RUN_ITEMS:-200000} items)..."
	"$BUILD/bench/analysis_gen" "$SQ" "${FLEET_RUNS:-20}" "${FLEET_RUN_ITEMS:-200000}"
fi
PGA="postgresql:///analysis?host=$PGDIR"
if [ "$(sql analysis "SELECT count(*) FROM information_schema.tables WHERE table_name = 'queries'")" = 0 ]; then
# the schema: any writing command creates it (a one-item study here)
printf '{"id": "x", "task": "exact", "problem": "SAY: x", "answer": "x"}\n' >"$TMP/one.jsonl"
"$IPW" study create schema --store "$PGA" --dataset "$TMP/one.jsonl" --config a >/dev/null
t0=$(now)
for t in runs run_sources queries query_energy query_attempts scores samples; do
	python3 - "$SQ" "$t" <<'PY' | psql -X -q -h "$PGDIR" -d analysis -c "\\copy $t FROM STDIN WITH (FORMAT csv)"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
out = sys.stdout
def cell(v):
    if v is None:
        return ""                       # unquoted empty: NULL
    if isinstance(v, (int, float)):
        return repr(v) if isinstance(v, float) else str(v)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    return '"' + v.replace('"', '""') + '"'
cur = db.execute("SELECT * FROM " + sys.argv[2])
for row in cur:
    out.write(",".join(cell(v) for v in row) + "\n")
PY
done
for t in runs queries scores; do
	sql analysis "SELECT setval(pg_get_serial_sequence('$t', 'id'), (SELECT max(id) FROM $t))" >/dev/null
done
sql analysis "ANALYZE" >/dev/null
t1=$(now)
echo "2. copied $(sql analysis "SELECT count(*) FROM queries") queries into PostgreSQL in $(calc "$t1 - $t0" 0) s (COPY)"
fi
NR=$(sql analysis "SELECT count(*) FROM runs")
RALL=$(seq -s ' ' 1 "$NR")
LOC=$(seq -s ' ' 1 $((NR - 1)))
REPEATS=${FLEET_REPEATS:-3}
# timed LABEL CMD...: wall seconds on SQLite and on PostgreSQL, REPEATS times (the two alternate,
# SQLite first), the same output required; every ratio printed, then their median. CPU seconds
# besides: ipw's user + system (GNU time), and for PostgreSQL the server's (pg_cpu: its backend,
# reaped when ipw exits), whose sum is steadier than the wall clock on a shared machine
timed() {
	label=$1
	shift
	k=1 ratios="" cratios=""
	while [ $k -le "$REPEATS" ]; do
		a=$(now); "${GNU_TIME:-/usr/bin/time}" -f "%U %S" -o "$TMP/sq.cpu" "$@" --store "$SQ" >"$TMP/sq.out"; b=$(now)
		p0=$(pg_cpu)
		b2=$(now); "${GNU_TIME:-/usr/bin/time}" -f "%U %S" -o "$TMP/pg.cpu" "$@" --store "$PGA" >"$TMP/pg.out"; c=$(now)
		sleep 0.1   # the backend's exit reaped
		p1=$(pg_cpu)
		cmp -s "$TMP/sq.out" "$TMP/pg.out" || { echo "$label: outputs differ"; diff "$TMP/sq.out" "$TMP/pg.out" | head; exit 1; }
		sc=$(awk '{ printf "%.2f", $1 + $2 }' "$TMP/sq.cpu") pc=$(awk '{ printf "%.2f", $1 + $2 }' "$TMP/pg.cpu")
		ps=$(calc "$p1 - $p0")
		printf '   %-44s #%d  SQLite %6.2f s (CPU %.2f s)   PostgreSQL %6.2f s (CPU ipw %.2f s + server %.2f s)   ratio %.2f, CPU %.2f\n' \
			"$label" $k "$(calc "$b - $a")" "$sc" "$(calc "$c - $b2")" "$pc" "$ps" "$(calc "($c - $b2) / ($b - $a)")" \
			"$(calc "($pc + $ps) / ($sc > 0 ? $sc : 0.01)")"
		ratios="$ratios $(calc "($c - $b2) / ($b - $a)")"
		cratios="$cratios $(calc "($pc + $ps) / ($sc > 0 ? $sc : 0.01)")"
		k=$((k + 1))
	done
	echo "   $label: ratios$ratios, median $(median $ratios); CPU ratios$cratios, median $(median $cratios)"
}
median() { echo "$@" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
cat "$SQ" >/dev/null
echo "2. $NR runs, load $(cut -d' ' -f1-3 /proc/loadavg), $REPEATS repeats:"
for an in ${FLEET_ANALYSES:-compare coverage route}; do
	case $an in
	compare) timed "ipw compare ($NR runs)" "$IPW" compare $RALL ;;
	coverage) timed "ipw coverage ($NR runs)" "$IPW" coverage $RALL ;;
	route) timed "ipw route simulate ($((NR - 1)) local + 1 cloud)" "$IPW" route simulate --local $LOC --cloud "$NR" ;;
	*) echo "fleet_bench: FLEET_ANALYSES names compare, coverage, route (got $an)" >&2; exit 1 ;;
	esac
done
