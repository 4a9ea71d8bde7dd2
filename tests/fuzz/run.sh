#!/bin/sh
# Runs each named libFuzzer target (FUZZ_BUILD/fuzz_NAME) for FUZZ_SECONDS on
# a scratch copy of tests/fuzz/corpus/NAME/ (the committed corpus is not
# grown), prints the executions from its final "Done N runs" line, and fails
# when a target crashes, leaks or trips a sanitizer (the reproducer is kept in
# FUZZ_BUILD/artifacts/NAME/).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
: "${FUZZ_BUILD:=build-fuzz}" "${FUZZ_SECONDS:=60}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=""
for name in "$@"; do
	bin="$FUZZ_BUILD/fuzz_$name"
	work="$FUZZ_BUILD/corpus/$name"
	art="$FUZZ_BUILD/artifacts/$name"
	log="$FUZZ_BUILD/fuzz_$name.log"
	rm -rf "$work" && mkdir -p "$work" "$art"
	cp "$HERE/corpus/$name/"* "$work/" 2>/dev/null
	"$bin" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
		-artifact_prefix="$art/" -print_final_stats=1 "$work" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 runs in \2 s/p' "$log" | tail -1)
	if [ $rc != 0 ]; then
		echo "fuzz $name: FAILED (exit $rc; log $log, reproducer in $art/)"
		grep -m 3 -E "ERROR: |SUMMARY: |runtime error" "$log" | sed 's/^/    /'
		failed="$failed $name"
	else
		echo "fuzz $name: ${execs:-? runs} (total execs $(echo "$execs" | cut -d' ' -f1))"
	fi
done
[ -z "$failed" ] || { echo "fuzz: failed:$failed"; exit 1; }
