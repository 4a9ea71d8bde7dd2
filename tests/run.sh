#!/bin/sh
# Runs every unit-test binary given as arguments, then every command-line
# test in tests/cli/, and prints one closing line: "N passed, N failed".
# Environment: IPW_BUILD (the build folder holding ipw and the fakes);
# IPW_TEST_JOBS (default 1): how many tests run at once. Most of the suite's
# time is waiting (idle baselines, servers starting), so a few jobs finish a
# round sooner; every test picks its own ports and temporary folders, so they
# do not collide. Results are printed in the same order either way, each with
# its wall time.
set -u
if [ "${1:-}" = --one ]; then
	# internal: xargs runs one test per call (run_one below)
	shift
	ONE=1
else
	ONE=0
fi
HERE=$(cd "$(dirname "$0")" && pwd)
: "${IPW_BUILD:?set IPW_BUILD to the build folder}"
JOBS=${IPW_TEST_JOBS:-1}
case $JOBS in '' | *[!0-9]* | 0) echo "run.sh: IPW_TEST_JOBS must be a positive integer, not '$JOBS'" >&2; exit 2 ;; esac
export IPW_BUILD IPW="$IPW_BUILD/ipw" IPW_TESTS="$HERE"

# one test: its output in $LOG/KEY.log, "RC SECONDS" in $LOG/KEY.rc
run_one() {
	kind=$1 path=$2 key=$3
	t0=$(date +%s.%N)
	if [ "$kind" = unit ]; then
		"$path" --jobs 1 >"$LOG/$key.log" 2>&1 </dev/null
	else
		sh "$path" >"$LOG/$key.log" 2>&1 </dev/null
	fi
	rc=$?
	echo "$rc $(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')" >"$LOG/$key.rc"
}

if [ "$ONE" = 1 ]; then
	run_one "$@"
	exit 0
fi
LOG=$(mktemp -d)
export LOG
trap 'rm -rf "$LOG"' EXIT

# prints one test's line (and its log's tail when it failed)
report_one() {
	kind=$1 key=$2
	name=${key#"$kind"_}
	read -r rc secs <"$LOG/$key.rc" 2>/dev/null || { rc=255 secs=0; }
	if [ "$rc" = 0 ]; then
		pass=$((pass + 1)); echo "PASS  $kind/$name ($secs s)"
	elif [ "$kind" = cli ] && [ "$rc" = 77 ]; then
		skip=$((skip + 1)); echo "SKIP  $kind/$name: $(tail -1 "$LOG/$key.log")"
	else
		fail=$((fail + 1)); failed="$failed $kind/$name"; echo "FAIL  $kind/$name ($secs s, exit $rc)"
		sed 's/^/      /' "$LOG/$key.log" | tail -40
	fi
}

: >"$LOG/list"
for t in "$@"; do
	echo "unit $t unit_$(basename "$t")" >>"$LOG/list"
done
for t in "$HERE"/cli/*.sh; do
	[ -e "$t" ] || continue
	echo "cli $t cli_$(basename "$t" .sh)" >>"$LOG/list"
done

pass=0 fail=0 skip=0 failed=""
if [ "$JOBS" = 1 ]; then
	while read -r kind path key; do
		run_one "$kind" "$path" "$key"
		report_one "$kind" "$key"
	done <"$LOG/list"
else
	xargs -P "$JOBS" -L 1 sh "$0" --one <"$LOG/list"
	while read -r kind path key; do
		report_one "$kind" "$key"
	done <"$LOG/list"
fi
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
