#!/bin/sh
# --api builtin where no sensor exists (the cputime estimate): the idle
# baseline is not measured and never printed as a number (the estimate's
# counter ticks 1 pJ per read to stay covered; that is not power), and
# --cpu-watts-per-core is recorded with the run and restored by --resume.
set -u
. "$(dirname "$0")/lib/common.sh"
M="$IPW_TESTS/../models/ref-s.gguf"
[ -f "$M" ] || { echo "no reference model $M"; exit 77; }
COMMON="--dataset ref:3 --max-tokens 8 --warmup 0 --idle-seconds 0.3 --quiet --backends cputime"
DB="$TMP/e.db"

$IPW profile --api builtin --model "$M" $COMMON --cpu-watts-per-core 7 --name est --store "$DB" \
	>"$TMP/out1" 2>"$TMP/err1" || fail "profile exited $?: $(cat "$TMP/err1")"
grep -q "idle accelerator power *not measured" "$TMP/out1" || fail "idle power shown as: $(grep idle "$TMP/out1")"
if grep "idle accelerator power" "$TMP/err1" "$TMP/out1" | grep -q "[0-9] W"; then
	fail "an unmeasured idle power printed as a number: $(grep idle "$TMP/err1" "$TMP/out1")"
fi
grep -q "idle power of cputime:engine before: not measured" "$TMP/err1" || fail "no note on the idle baseline: $(cat "$TMP/err1")"
$IPW show est --json --store "$DB" >"$TMP/s1.json" || fail "show"
python3 - "$TMP/s1.json" <<'PY' || fail "recorded run: $(head -c 800 "$TMP/s1.json")"
import json, sys
d = json.load(sys.stdin if False else open(sys.argv[1]))
assert d["config"]["cpu_watts_per_core"] == 7, d["config"]
src = d["sources"][0]
assert src["idle_before_w"] is None and src["idle_after_w"] is None, src
assert "x 7 W per core" in src["model"], src
PY

# --resume restores the figure: the resumed run's estimate uses 7 W per core again
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("update runs set status=\"interrupted\""); c.commit()' "$DB"
$IPW profile --resume est --store "$DB" >"$TMP/out2" 2>"$TMP/err2" || fail "resume exited $?: $(cat "$TMP/err2")"
grep "from the record:" "$TMP/err2" | grep -q -- "--cpu-watts-per-core=7" ||
	fail "resume did not restore --cpu-watts-per-core: $(grep 'from the record' "$TMP/err2")"
grep -q "x 7 W per core" "$TMP/err2" || fail "the resumed estimate does not use 7 W: $(cat "$TMP/err2")"

# without the option the run records the default the estimate used (4 W)
$IPW profile --api builtin --model "$M" $COMMON --name est4 --store "$DB" >/dev/null 2>"$TMP/err3" || fail "profile: $(cat "$TMP/err3")"
$IPW show est4 --json --store "$DB" | python3 -c '
import json, sys
c = json.load(sys.stdin)["config"]
assert c["cpu_watts_per_core"] == 4, c' || fail "default watts not recorded"
echo ok
