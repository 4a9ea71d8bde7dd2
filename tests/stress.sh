#!/bin/sh
# Runs the whole test suite N times (default 20) while every core is kept
# busy (one `yes >/dev/null` per core, at least two), and reports how many
# rounds passed: no test may depend on timing luck (issue 10).
#   tests/stress.sh [N]        from the repository root; builds first (make -j2)
# Environment: BUILD (default build), STRESS_HOGS (busy loops; default the core count, >= 2),
# STRESS_JOBS (tests run at once, default 3: tests/run.sh IPW_TEST_JOBS; most of a round is waiting).
# Exit 0 only when every round passed; each failed round's log is kept in $STRESS_LOGS.
set -u
N=${1:-20}
BUILD=${BUILD:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
cd "$ROOT" || exit 2
case $N in ''|*[!0-9]*) echo "usage: tests/stress.sh [N]" >&2; exit 2 ;; esac
JOBS=${STRESS_JOBS:-3}
hogs=${STRESS_HOGS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
[ "$hogs" -ge 2 ] 2>/dev/null || hogs=2
# what `make test` needs before its tests (Makefile: test)
make -j2 BUILD="$BUILD" "$BUILD/ipw" fakes "$BUILD/bench/analysis_gen" >/dev/null || { echo "stress: build failed" >&2; exit 2; }
bins=$(ls tests/unit/test_*.c | sed "s|tests/unit/\(.*\)\.c|$BUILD/tests/\1|")
# shellcheck disable=SC2086
make -j2 BUILD="$BUILD" $bins >/dev/null || { echo "stress: test build failed" >&2; exit 2; }
STRESS_LOGS=${STRESS_LOGS:-$(mktemp -d)}
HOG_PIDS=""
stop_hogs() {
	for p in $HOG_PIDS; do kill "$p" 2>/dev/null; done
	HOG_PIDS=""
}
trap 'stop_hogs' EXIT
trap 'stop_hogs; exit 130' INT TERM
i=0
while [ $i -lt "$hogs" ]; do
	yes >/dev/null &
	HOG_PIDS="$HOG_PIDS $!"
	i=$((i + 1))
done
echo "stress: $N rounds of the whole suite ($JOBS tests at once) with $hogs busy loops running"
pass=0 round=1
while [ $round -le "$N" ]; do
	start=$(date +%s)
	# shellcheck disable=SC2086
	if IPW_TEST_JOBS="$JOBS" IPW_BUILD="$ROOT/$BUILD" sh tests/run.sh $bins >"$STRESS_LOGS/round$round.log" 2>&1; then
		pass=$((pass + 1))
		echo "round $round: pass ($(($(date +%s) - start)) s)"
		rm -f "$STRESS_LOGS/round$round.log"
	else
		echo "round $round: FAIL ($(($(date +%s) - start)) s): $(grep '^failed:' "$STRESS_LOGS/round$round.log")" \
			"(log: $STRESS_LOGS/round$round.log)"
	fi
	round=$((round + 1))
done
stop_hogs
echo "stress: $pass/$N rounds passed"
[ "$pass" = "$N" ]
