#!/bin/sh
# analysis_bench.sh - seconds of ipw coverage, route simulate, compare and
# report over a synthetic store of 20 runs x 200,000 items (built once by
# build/bench/analysis_gen and kept outside the repo, about 1 GB), for this
# tree's ipw ("after") and for ipw built from BEFORE_REV ("before"), with the
# ratio before / after of each, measured in the same run. Wall time, CPU time
# (user + system) and peak RSS come from /usr/bin/time; the page cache is
# warmed before each command, so the times are of ipw, not of the disk. The
# load average is recorded at the start and the end. With --busy, two
# `yes >/dev/null` processes keep both cores busy while it measures.
# Writes its section of bench/RESULTS.md (between its marker lines).
#   bench/analysis_bench.sh [--busy] [--smoke] [STORE]   (default /tmp/ipw-bench/analysis.db)
#   BEFORE=path/to/ipw      a baseline binary instead of building BEFORE_REV
#   BEFORE_DB=path          the store the baseline reads (default STORE): a baseline older than
#                           the store's schema refuses it, so give it a copy built by its own
#                           analysis_gen (the same runs: analysis_gen is seeded)
#   BEFORE_REV=rev          the baseline commit (default 55cf968, before session 19's analysis work;
#                           bdefe6a is the one before issue 15's first analysis work)
# --smoke: 3 runs x 2,000 items in a temporary store, this tree only, RESULTS.md untouched
# (checks that the benchmark builds and runs; its times mean nothing).
set -eu
cd "$(dirname "$0")/.."
BUSY=0 SMOKE=0
while [ $# -gt 0 ]; do
	case $1 in
	--busy) BUSY=1 ;;
	--smoke) SMOKE=1 ;;
	-*) echo "analysis_bench: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
BUILD=${BUILD:-build}
OUT=bench/RESULTS.md
TMP=$(mktemp -d)
YES=""
cleanup() {
	for p in $YES; do kill "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
make -s "$BUILD/ipw" "$BUILD/bench/analysis_gen" >/dev/null
[ -x /usr/bin/time ] || { echo "analysis_bench: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }
if [ "$SMOKE" = 1 ]; then
	RUNS=3 ITEMS=2000 DB=$TMP/smoke.db
else
	RUNS=20 ITEMS=200000 DB=${1:-/tmp/ipw-bench/analysis.db}
fi
if [ ! -s "$DB" ]; then
	mkdir -p "$(dirname "$DB")"
	echo "building $DB ($RUNS runs x $ITEMS items)..."
	"$BUILD/bench/analysis_gen" "$DB" "$RUNS" "$ITEMS" 2>/dev/null
fi
AFTER="$BUILD/ipw"
BEFORE_REV=${BEFORE_REV:-55cf968}
if [ "$SMOKE" = 1 ]; then
	BEFORE=""
elif [ -z "${BEFORE:-}" ]; then
	echo "building ipw at $BEFORE_REV (the baseline) in $TMP/before..."
	mkdir "$TMP/before"
	git archive "$BEFORE_REV" | tar -x -C "$TMP/before"
	# the baseline's make bench target may not build: only its ipw is needed
	make -s -C "$TMP/before" -j2 build/ipw >/dev/null
	BEFORE="$TMP/before/build/ipw"
fi
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
RA=$(seq -s ' ' 1 "$RUNS")
RL=$(seq -s ' ' 1 $((RUNS - 1)))
if [ "$BUSY" = 1 ]; then
	yes >/dev/null & YES="$!"
	yes >/dev/null & YES="$YES $!"
fi

# run IPW NAME ARGS...: runs one command, leaves "wall user sys rss_kb" in $TMP/NAME.t and its output in $TMP/NAME.out
run() {
	bin=$1 name=$2
	shift 2
	db=$DB
	[ "$name" = before ] && db=${BEFORE_DB:-$DB}
	cat "$db" >/dev/null
	rm -rf "$TMP/report"
	/usr/bin/time -f '%e %U %S %M' -o "$TMP/$name.t" "$bin" "$@" --store "$db" >"$TMP/$name.out" 2>"$TMP/$name.err" || {
		cat "$TMP/$name.err" >&2; exit 1; }
}

# row LABEL ARGS...: the command with both binaries; one table row, outputs compared
: >"$TMP/rows"
row() {
	label=$1
	shift
	run "$AFTER" after "$@"
	read -r aw au as am <"$TMP/after.t"
	ac=$(echo "$au + $as" | bc -l)
	if [ -n "$BEFORE" ]; then
		[ -d "$TMP/report" ] && mv "$TMP/report" "$TMP/report.after"
		run "$BEFORE" before "$@"
		read -r bw bu bs bm <"$TMP/before.t"
		bc_=$(echo "$bu + $bs" | bc -l)
		same=same
		if [ -d "$TMP/report" ]; then
			# the report's page differs in its date and in the attribution's intervals column (new)
			for f in "$TMP"/report/*.png; do cmp -s "$f" "$TMP/report.after/$(basename "$f")" || same="plots differ"; done
		elif ! cmp -s "$TMP/before.out" "$TMP/after.out"; then
			same="OUTPUT DIFFERS"
		fi
		ratio=$(echo "$bw / $aw" | bc -l)
		cratio=$(echo "$bc_ / $ac" | bc -l)
		printf '| %s | %.2f | %.2f | %.1fx | %.2f | %.2f | %.1fx | %.0f / %.0f | %s |\n' "$label" "$bw" "$aw" \
			"$ratio" "$bc_" "$ac" "$cratio" "$((bm / 1024))" "$((am / 1024))" "$same" >>"$TMP/rows"
		printf '%-44s wall before %7.2f s after %6.2f s %5.1fx; CPU before %6.2f s after %6.2f s %5.1fx; %s; load %s\n' \
			"$label" "$bw" "$aw" "$ratio" "$bc_" "$ac" "$cratio" "$same" "$(cut -d' ' -f1 /proc/loadavg)"
	else
		printf '%-44s %6.2f s wall  %.2f s CPU (user %.2f, system %.2f)\n' "$label" "$aw" "$ac" "$au" "$as"
	fi
}

row "ipw coverage ($RUNS runs)" coverage $RA
row "ipw route simulate ($((RUNS - 1)) local + cloud)" route simulate --local $RL --cloud "$RUNS"
row "ipw route simulate --misroute two-sided" route simulate --local $RL --cloud "$RUNS" --misroute two-sided
row "ipw compare ($RUNS runs)" compare $RA
row "ipw report ($RUNS runs, --cloud $RUNS)" report $RA --cloud "$RUNS" --out "$TMP/report"
[ "$SMOKE" = 1 ] && { echo "analysis_bench: smoke run ok"; exit 0; }

{
	echo "<!-- analysis_bench.sh $([ "$BUSY" = 1 ] && echo busy || echo plain) begin -->"
	if [ "$BUSY" = 1 ]; then
		echo "### Both cores busy (two \`yes >/dev/null\` beside it)"
	else
		echo "### As the machine was"
	fi
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)),"
	echo "load average (1, 5, 15 min) at the start: $LOAD0, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Command: \`$([ -n "${BEFORE_DB:-}" ] && echo "BEFORE_DB=$BEFORE_DB ")bench/analysis_bench.sh$([ "$BUSY" = 1 ] && echo ' --busy') $DB\`"
	echo "(before = ipw built from $BEFORE_REV$([ -n "${BEFORE_DB:-}" ] && echo ", reading its own copy of the store"))."
	echo
	echo "| command | wall before (s) | wall after (s) | before / after | CPU before (s) | CPU after (s) | before / after | peak RSS before / after (MB) | output |"
	echo "|---|---|---|---|---|---|---|---|---|"
	cat "$TMP/rows"
	echo "<!-- analysis_bench.sh $([ "$BUSY" = 1 ] && echo busy || echo plain) end -->"
} >"$TMP/section"
tag=$([ "$BUSY" = 1 ] && echo busy || echo plain)
if grep -q "^<!-- analysis_bench.sh $tag begin -->" "$OUT"; then
	awk -v f="$TMP/section" -v b="<!-- analysis_bench.sh $tag begin -->" -v e="<!-- analysis_bench.sh $tag end -->" '
		$0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0; next }
		!skip' "$OUT" >"$TMP/results"
else
	cat "$OUT" "$TMP/section" >"$TMP/results"
fi
cp "$TMP/results" "$OUT"
echo "wrote the $tag section of $OUT"
