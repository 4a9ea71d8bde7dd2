#!/bin/sh
# The README's three commands from a fresh checkout to an HTML report comparing the
# reference models (between the refmodels-path markers), run as written except on the
# first 30 `ref` items with no idle baseline: each model answers, ref-l beats ref-s,
# route simulate reports its schemes and the report has its comparison, coverage,
# routing and estimated-energy sections. Skips (77) without models/ref-*.gguf.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
ROOT=$(cd "$IPW_TESTS/.." && pwd)
for m in s m l; do
	[ -f "$ROOT/models/ref-$m.gguf" ] || { echo "SKIP: models/ref-$m.gguf missing"; exit 77; }
done
sed -n '/<!-- refmodels-path -->/,/<!-- \/refmodels-path -->/p' "$ROOT/README.md" | grep '^    ' |
	sed -e 's/^    //' -e "s#\./build/ipw#\"\$IPW\"#g" -e "s#models/#$ROOT/models/#g" \
	    -e 's/--dataset ref /--dataset ref:30 --idle-seconds 0 --quiet /' >"$TMP/cmds.sh"
expect_eq "README commands" "$(wc -l <"$TMP/cmds.sh" | tr -d ' ')" 3
grep -q -- '--dataset ref:30' "$TMP/cmds.sh" || fail "no profile command in the README block: $(cat "$TMP/cmds.sh")"
export IPW_STORE="$TMP/ref.db" IPW_THREADS=1
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
(cd "$TMP" && IPW="$IPW" sh -eu cmds.sh) >"$TMP/out.txt" 2>"$TMP/err.txt" ||
	fail "the README's commands failed: $(tail -5 "$TMP/err.txt")"
for m in s m l; do
	"$IPW" show "ref-$m" --format json >"$TMP/$m.json" || fail "show ref-$m"
done
python3 - "$TMP" <<'PY' || fail "reference-model results"
import json, sys
d = sys.argv[1]
acc = {}
for m in "sml":
    j = json.load(open(f"{d}/{m}.json"))
    assert j["energy_method"] == "estimated", j["energy_method"]
    acc[m] = j["accuracy"]["value"]
assert acc["l"] > acc["s"], acc
assert acc["l"] >= 0.7, acc
PY
grep -q "oracle" "$TMP/out.txt" || fail "route simulate printed no oracle: $(head "$TMP/out.txt")"
for id in compare-section coverage-section routing-section estimated-energy; do
	grep -q "id=$id" "$TMP/ref-report/index.html" || fail "the report lacks #$id"
done
echo ok
