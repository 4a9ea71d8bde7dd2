#!/bin/sh
# Runs every unit-test binary given as arguments, then every command-line
# test in tests/cli/, and prints one closing line: "N passed, N failed".
# Environment: IPW_BUILD (the build folder holding ipw and the fakes).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
: "${IPW_BUILD:?set IPW_BUILD to the build folder}"
export IPW_BUILD IPW="$IPW_BUILD/ipw" IPW_TESTS="$HERE"
pass=0 fail=0 skip=0 failed=""
LOG=$(mktemp -d)
for t in "$@"; do
	name=$(basename "$t")
	if "$t" --jobs 1 >"$LOG/$name.log" 2>&1; then
		pass=$((pass + 1)); echo "PASS  unit/$name"
	else
		fail=$((fail + 1)); failed="$failed unit/$name"; echo "FAIL  unit/$name"
		sed 's/^/      /' "$LOG/$name.log" | tail -40
	fi
done
for t in "$HERE"/cli/*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t" .sh)
	sh "$t" >"$LOG/cli_$name.log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		pass=$((pass + 1)); echo "PASS  cli/$name"
	elif [ $rc = 77 ]; then
		skip=$((skip + 1)); echo "SKIP  cli/$name: $(tail -1 "$LOG/cli_$name.log")"
	else
		fail=$((fail + 1)); failed="$failed cli/$name"; echo "FAIL  cli/$name"
		sed 's/^/      /' "$LOG/cli_$name.log" | tail -40
	fi
done
rm -rf "$LOG"
[ -n "$failed" ] && echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
