#!/bin/sh
# repeat.sh - 'ipw profile --repeat N': N runs of the same configuration, named
# NAME-rep1..N, in one group, each ending with its own headline numbers; `ipw
# repeats --by group` reads them back as one group of N. --repeat goes with
# neither --resume nor --sweep, and takes a count >= 1.
set -u
. "$(dirname "$0")/lib/common.sh"
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
DS="$(dirname "$0")/../data/load/identical.jsonl"
start_fakellm rep --tokens 3
COMMON="--dataset $DS --limit 2 --backends fake --fake-profile gpu0=const:100 --idle-seconds 0.2 --no-host \
--warmup 0 --quiet --store $TMP/r.db"
# shellcheck disable=SC2086
$IPW profile --url "$URL" --name rr --repeat 3 $COMMON >"$TMP/out" 2>"$TMP/err" ||
	fail "--repeat 3 exited $?: $(cat "$TMP/err")"
expect_eq "one headline per repeat" "$(grep -c 'IPJ (accuracy per joule)' "$TMP/out")" 3
grep -q "ipw profile: 3 repeats, group repeat-" "$TMP/err" || fail "no repeat message: $(cat "$TMP/err")"
python3 - "$TMP/r.db" <<'PY' || fail "repeat runs in the store"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT name, group_name, status FROM runs ORDER BY id").fetchall()
assert [r[0] for r in rows] == ["rr-rep1", "rr-rep2", "rr-rep3"], rows
assert len({r[1] for r in rows}) == 1 and rows[0][1].startswith("repeat-"), rows
assert all(r[2] == "completed" for r in rows), rows
PY
grep -q "ipw repeats rr-rep1 rr-rep2 rr-rep3 --by group" "$TMP/out" || fail "no repeats hint: $(tail -2 "$TMP/out")"
$IPW repeats rr-rep1 rr-rep2 rr-rep3 --by group --store "$TMP/r.db" >"$TMP/rep" 2>&1 ||
	fail "ipw repeats exited $?: $(cat "$TMP/rep")"
grep -Eq '^repeat-[0-9-]+ +power_w +3 ' "$TMP/rep" || fail "repeats did not see one group of 3: $(cat "$TMP/rep")"
# an explicit group is kept
# shellcheck disable=SC2086
$IPW profile --url "$URL" --name g --repeat 2 --group mygroup $COMMON >/dev/null 2>"$TMP/err2" ||
	fail "--repeat 2 --group exited $?: $(cat "$TMP/err2")"
expect_eq "explicit group" "$(sqlite3 "$TMP/r.db" "SELECT count(*) FROM runs WHERE group_name = 'mygroup'")" 2
# refused combinations and values
# shellcheck disable=SC2086
$IPW profile --url "$URL" --repeat 2 --sweep concurrency=1,2 $COMMON >/dev/null 2>"$TMP/e3" && fail "--repeat with --sweep accepted"
grep -q "goes with neither --resume nor --sweep" "$TMP/e3" || fail "repeat+sweep message: $(cat "$TMP/e3")"
# shellcheck disable=SC2086
$IPW profile --url "$URL" --repeat 0 $COMMON >/dev/null 2>"$TMP/e4" && fail "--repeat 0 accepted"
grep -q "repeat" "$TMP/e4" || fail "--repeat 0 message: $(cat "$TMP/e4")"
echo "repeat: all cases passed"
