#!/bin/sh
# ipw compare / coverage / route simulate / analyze / attribute on the store
# of tests/fakes/analysis_fixture.h (numbers computed by hand there): table,
# CSV and JSON output, missing items (error, or dropped with --intersect),
# bad flags (exit 2) and unknown runs (exit 3).
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
DB="$TMP/a.db"
"$IPW_BUILD/fakes/mkanalysis" "$DB" || fail "mkanalysis"
command -v python3 >/dev/null || { echo "python3 is needed to check the JSON output"; exit 77; }

# compare: table, CSV, JSON
out=$("$IPW" compare 1 2 3 --store "$DB" --bootstrap 200) || fail "compare exit $?"
echo "$out"
echo "$out" | grep -Eq '^1 +small +qwen3-1b +Fake H200 +vllm +1 +5 0\.4000 \[' || fail "compare: run 1 row"
[ "$(echo "$out" | grep -c '^[123] ')" = 3 ] || fail "compare: 3 rows"
"$IPW" compare small big --store "$DB" --csv --bootstrap 0 >"$TMP/c.csv" || fail "compare --csv"
expect_eq "csv rows" "$(csv_query "$TMP/c.csv" 'len(rows)')" 2
expect_eq "csv accuracy" "$(csv_query "$TMP/c.csv" 'rows[0]["accuracy"]')" 0.4
expect_eq "csv J/query" "$(csv_query "$TMP/c.csv" 'rows[1]["j_per_query"]')" 34
expect_eq "csv no interval" "$(csv_query "$TMP/c.csv" 'rows[0]["accuracy_ci_low"]')" ""
expect_eq "csv interval method" "$(csv_query "$TMP/c.csv" 'rows[0]["interval_method"]')" bootstrap
"$IPW" compare 1 3 --store "$DB" --json --bootstrap 100 | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["bootstrap"] == 100
r = o["runs"]
assert r[0]["interval_method"] == "bootstrap"
assert [x["run"] for x in r] == [1, 3], r
assert abs(r[0]["ipw"]["value"] - 0.4 / 14) < 1e-9 and abs(r[1]["ipj"]["value"] - 0.8 / 100) < 1e-9
assert r[0]["ipw"]["ci_low"] <= r[0]["ipw"]["value"] <= r[0]["ipw"]["ci_high"]
assert r[1]["latency_p50_s"]["value"] == 4 and r[0]["concurrency"] == 1
' || fail "compare --json"
"$IPW" compare 1 --store "$DB" --ci delta | grep -q 'intervals: 95% normal approximation (delta method)' || fail "compare --ci delta"
"$IPW" compare small big --store "$DB" --format csv --bootstrap 0 | cmp -s - "$TMP/c.csv" || fail "--format csv is not --csv"
expect_eq "compare jsonl lines" "$("$IPW" compare 1 2 3 --store "$DB" --format jsonl --bootstrap 0 | wc -l)" 3
# one path to the numbers: show and compare give a run the same metrics and intervals
"$IPW" show 1 --store "$DB" --json >"$TMP/s1.json" || fail "show 1 --json"
"$IPW" compare 1 --store "$DB" --json | python3 -c '
import json, sys
c = json.load(sys.stdin)["runs"][0]
s = json.load(open(sys.argv[1]))
for k in ("accuracy", "ipw", "ipj"):
    for f in ("value", "ci_low", "ci_high"):
        assert abs(c[k][f] - s[k][f]) <= 1e-9 * max(1, abs(s[k][f])), (k, f, c[k], s[k])
assert c["j_per_query"]["value"] == s["energy_j"]["value"] and s["totals"]["latency_p50_s"] == c["latency_p50_s"]["value"]
' "$TMP/s1.json" || fail "show and compare disagree on run 1"
"$IPW" compare 1 --store "$DB" --ci jackknife 2>/dev/null; expect_eq "compare --ci bad" $? 2

# coverage: per run, best-of-N, subjects, uncovered items, JSON
out=$("$IPW" coverage 1 2 --store "$DB" --uncovered "$TMP/unc.tsv") || fail "coverage exit $?"
echo "$out"
echo "$out" | grep -Eq '^best +best-of-N .* +5 +3 +60\.0%' || fail "coverage: best-of-N line"
echo "$out" | grep -Eq '^math +3 +33\.3% +66\.7% +66\.7%$' || fail "coverage: math line"
printf 'i3\tmath\ni5\tbio\n' | cmp -s - "$TMP/unc.tsv" || fail "coverage: uncovered file"
"$IPW" coverage 1 2 3 5 --store "$DB" --json | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["items"] == 5 and o["best_of_n"]["coverage"] == 1.0, o["best_of_n"]
m = o["runs"][3]
assert (m["failed"], m["unscored"], m["scored"], m["correct"]) == (1, 1, 3, 2), m
assert [s["subject"] for s in o["subjects"]] == ["bio", "math"]
' || fail "coverage --json"

# missing items: an error naming the item and the run, or dropped and counted
"$IPW" coverage 1 4 --store "$DB" 2>"$TMP/err"; rc=$?
expect_eq "coverage missing item exit" "$rc" 3
grep -q "item 'i5' of run 1 is not in run 4" "$TMP/err" || fail "coverage: missing item message: $(cat "$TMP/err")"
grep -q -- "--intersect" "$TMP/err" || fail "coverage: message names --intersect"
"$IPW" coverage 1 4 --intersect --store "$DB" | grep -q '^coverage over 4 items (1 items not in every run dropped)' \
	|| fail "coverage --intersect"

# route simulate: the oracle and p-router by hand (energy 48% saved; p x 48%), cost and compute
cat >"$TMP/prices.json" <<'J'
{"qwen3-1b": {"input": 0, "output": 0}, "qwen3-2b": {"input": 0.1, "output": 0.2}, "cloud": [1, 2]}
J
printf 'qwen3-1b 1B\nqwen3-2b 2e9\nqwen3-235b 10e9\n' >"$TMP/params.txt"
out=$("$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --prices "$TMP/prices.json" \
	--params "$TMP/params.txt" --router-accuracy 1,0.5 --trials 500) || fail "route exit $?"
echo "$out"
echo "$out" | grep -q 'oracle sends: run 1 (small) 2; run 2 (big) 1; cloud 2' || fail "route: oracle choices"
echo "$out" | grep -Eq '^oracle +1\.00 exact +48\.0% +54\.7% +58\.8% +60\.0% +100\.0%' || fail "route: oracle row"
echo "$out" | grep -Eq '^router +0\.50 exact +24\.0% +27\.3% +29\.4% +30\.0% +90\.0%' || fail "route: router 0.5 row"
echo "$out" | grep -Eq '^cascade +0\.50 exact +14\.0% ' || fail "route: cascade row"
"$IPW" route simulate --local 1,2 --cloud cloud --store "$DB" --trials 200 --seed 9 --json >"$TMP/r1.json" || fail "route --json"
"$IPW" route simulate --local 1 --local 2 --cloud 3 --store "$DB" --trials 200 --seed 9 --json >"$TMP/r2.json" || fail "route --json 2"
cmp -s "$TMP/r1.json" "$TMP/r2.json" || fail "route: same seed, same output (and the three ways to list local runs agree)"
python3 - "$TMP/r1.json" <<'PY' || fail "route --json content"
import json, sys
o = json.load(open(sys.argv[1]))
rows = {(r["scheme"], r["p"], r["method"]): r for r in o["rows"]}
orc = rows[("oracle", 1.0, "exact")]["saved_energy"]["value"]
assert abs(orc - 0.48) < 1e-9
for p in (1.0, 0.8, 0.6):
    assert abs(rows[("router", p, "exact")]["saved_energy"]["value"] - p * orc) < 1e-9, p
    mc = rows[("router", p, "monte_carlo")]["saved_energy"]
    assert mc["lo"] <= mc["value"] <= mc["hi"], mc
assert rows[("oracle", 1.0, "exact")]["saved_cost"]["value"] is None   # no prices: not computed
assert o["items"] == 5 and o["locally_answerable"] == 3
PY
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --csv --trials 0 | head -1 | grep -q '^scheme,p,method,energy_j,' \
	|| fail "route --csv header"
"$IPW" route simulate --local 1 4 --cloud 3 --store "$DB" 2>"$TMP/err"; expect_eq "route missing exit" $? 3
grep -q "'i5'" "$TMP/err" || fail "route: missing item message"
"$IPW" route simulate --local 1 4 --cloud 3 --store "$DB" --intersect --trials 0 | grep -q 'dropped: 1 items missing' \
	|| fail "route --intersect"
"$IPW" route simulate --local 1 --cloud 3 --objective cost --store "$DB" 2>/dev/null; expect_eq "cost needs prices" $? 2
"$IPW" route simulate --local 1 --cloud 3 --router-accuracy 1.5 --store "$DB" 2>/dev/null; expect_eq "p > 1" $? 2
"$IPW" route simulate --cloud 3 --store "$DB" 2>/dev/null; expect_eq "no local run" $? 2
"$IPW" route --local 1 --cloud 3 --store "$DB" 2>/dev/null; expect_eq "no subcommand" $? 2
"$IPW" route simulate --local 1 --cloud 3 --params "$TMP/prices.json" --store "$DB" 2>"$TMP/err"
expect_eq "bad params file" $? 3

# analyze: regressions (run 8 follows exact linear laws), weights
out=$("$IPW" analyze linear --store "$DB" --bootstrap 0) || fail "analyze exit $?"
echo "$out"
echo "$out" | grep -A3 '^  energy_j ~ output_tokens$' | grep -q 'output_tokens    0.5 \[0.5, 0.5\] per token' \
	|| fail "analyze: energy slope"
echo "$out" | grep -A1 '^  ttft_s ~ prompt_tokens$' | grep -q 'R² 1.0000' || fail "analyze: R²"
printf '{"math": 0.25, "bio": 0.75}' >"$TMP/w.json"
"$IPW" analyze 1 --store "$DB" --weights "$TMP/w.json" --json --bootstrap 100 | python3 -c '
import json, sys
o = json.load(sys.stdin)
w = o["weighted"]
assert abs(w["accuracy"]["value"] - (0.25 / 3 + 0.375)) < 1e-9, w
assert abs(w["ipw"]["value"] - (0.25 / 3 + 0.375) / 17.5) < 1e-9, w
assert o["regressions"][0]["error"].startswith("regression:"), o["regressions"][0]
assert [s["subject"] for s in o["subjects"]] == ["bio", "math"]
' || fail "analyze --weights --json"
"$IPW" analyze 1 2 --store "$DB" 2>/dev/null; expect_eq "analyze two runs" $? 2

# attribute: 3x IPW = 1.5x accuracy x 2x lower power; IPJ 6x = 1.5 x 4
out=$("$IPW" attribute gen-a gen-b --store "$DB" --bootstrap 0) || fail "attribute exit $?"
echo "$out"
echo "$out" | grep -q '^IPW  B/A 3.000x = accuracy 1.500x x power (A/B) 2.000x$' || fail "attribute: IPW line"
echo "$out" | grep -q '^IPJ  B/A 6.000x = accuracy 1.500x x energy (A/B) 4.000x$' || fail "attribute: IPJ line"
"$IPW" attribute 6 7 --store "$DB" --json --bootstrap 0 | python3 -c '
import json, math, sys
o = json.load(sys.stdin)
assert abs(o["accuracy_share_of_ipw_change"] - math.log(1.5) / math.log(3)) < 1e-9
' || fail "attribute --json"
# attribute --ci: auto on runs this small is the bootstrap (the same output as --ci bootstrap); delta on request
"$IPW" attribute 6 7 --store "$DB" --json --bootstrap 200 >"$TMP/at_auto.json" || fail "attribute auto"
"$IPW" attribute 6 7 --store "$DB" --json --bootstrap 200 --ci bootstrap >"$TMP/at_boot.json" || fail "attribute bootstrap"
cmp -s "$TMP/at_auto.json" "$TMP/at_boot.json" || fail "attribute: --ci auto on small runs is not the bootstrap"
"$IPW" attribute 6 7 --store "$DB" --json --bootstrap 200 --ci delta | python3 -c '
import json, sys
o, b = json.load(sys.stdin), json.load(open(sys.argv[1]))
assert o["intervals"] == "delta" and b["intervals"] == "bootstrap", (o["intervals"], b["intervals"])
for k in ("ipw_ratio", "ipj_ratio", "accuracy_factor", "power_factor", "energy_factor"):
    v = o[k]
    assert v["value"] == b[k]["value"], k
    assert v["ci_low"] <= v["value"] <= v["ci_high"], (k, v)
# the accuracy factor varies (half-width 1.96 x its delta-method standard error), power and energy do not
a = o["accuracy_factor"]
assert a["ci_low"] < a["value"] < a["ci_high"] and a["ci_low"] != b["accuracy_factor"]["ci_low"], (a, b)
assert o["power_factor"]["ci_low"] == o["power_factor"]["ci_high"] == 2.0, o["power_factor"]
' "$TMP/at_boot.json" || fail "attribute --ci delta"
"$IPW" attribute 6 7 --store "$DB" --ci delta --bootstrap 200 | grep -q "delta method" || fail "attribute --ci delta: text note"
"$IPW" attribute 6 7 --store "$DB" --ci wild 2>/dev/null; expect_eq "attribute --ci wild" $? 2

# unknown run, missing store
"$IPW" compare 1 99 --store "$DB" >/dev/null 2>"$TMP/err"; expect_eq "unknown run" $? 3
grep -q "no run '99'" "$TMP/err" || fail "unknown run message"
"$IPW" coverage 1 --store "$TMP/none.db" 2>/dev/null; expect_eq "missing store" $? 3
[ ! -e "$TMP/none.db" ] || fail "a read command created a store"

# --format on coverage, route, analyze, attribute (--json is --format json)
"$IPW" coverage 1 2 --store "$DB" --format csv >"$TMP/cov.csv" || fail "coverage --format csv"
expect_eq "coverage csv best-of-N" "$(csv_query "$TMP/cov.csv" '[r["correct"] for r in rows if r["run"] == "best-of-N" and r["subject"] == ""][0]')" 3
expect_eq "coverage csv math run 2" "$(csv_query "$TMP/cov.csv" '[round(float(r["coverage"]), 4) for r in rows if r["run"] == "2" and r["subject"] == "math"][0]')" 0.6667
"$IPW" coverage 1 2 --store "$DB" --format json >"$TMP/a.json" || fail "coverage --format json"
"$IPW" coverage 1 2 --store "$DB" --json >"$TMP/b.json" || fail "coverage --json"
cmp -s "$TMP/a.json" "$TMP/b.json" || fail "coverage: --json is not --format json"
"$IPW" coverage 1 --store "$DB" --format xml 2>/dev/null; expect_eq "coverage --format xml" $? 2
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --format csv --trials 0 >"$TMP/r1.csv" || fail "route --format csv"
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --csv --trials 0 >"$TMP/r2.csv" || fail "route --csv"
cmp -s "$TMP/r1.csv" "$TMP/r2.csv" || fail "route: --csv is not --format csv"
expect_eq "route csv oracle saved energy" "$(csv_query "$TMP/r1.csv" '[r["saved_energy"] for r in rows if r["scheme"] == "oracle"][0]')" 0.48
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --format jsonl --trials 0 >"$TMP/r.jsonl" || fail "route jsonl"
expect_eq "route jsonl rows" "$(python3 -c 'import json,sys; print(len([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/r.jsonl")" "$(csv_query "$TMP/r1.csv" 'len(rows)')"
"$IPW" route simulate --local 1 --cloud 3 --store "$DB" --json --csv 2>/dev/null; expect_eq "route --json --csv" $? 2
"$IPW" analyze linear --store "$DB" --bootstrap 0 --format csv >"$TMP/an.csv" || fail "analyze --format csv"
expect_eq "analyze csv slope" "$(csv_query "$TMP/an.csv" '[r["value"] for r in rows if r["key"] == "energy_j ~ output_tokens" and r["quantity"] == "output_tokens"][0]')" 0.5
"$IPW" attribute gen-a gen-b --store "$DB" --bootstrap 0 --format jsonl >"$TMP/at.jsonl" || fail "attribute jsonl"
expect_eq "attribute jsonl ipw ratio" "$(python3 -c 'import json,sys; print([r["value"] for r in map(json.loads, open(sys.argv[1])) if r["quantity"] == "ipw_ratio"][0])' "$TMP/at.jsonl")" 3.0
"$IPW" analyze linear --store "$DB" --bootstrap x 2>/dev/null; expect_eq "analyze --bootstrap x" $? 2
echo "analysis commands ok"
