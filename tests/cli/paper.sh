#!/bin/sh
# The paper's method on the store of tests/fakes/analysis_fixture.h (numbers
# by hand in tests/unit/test_paper.c and below): ipw compute (FLOPs on active
# and total parameters, MFU, MBU, per query), route simulate --model-meta,
# --compute total, --misroute two-sided and --daily-queries, the interval rule,
# levels, trends, ranks, repeats, localcloud, GDP weights (and the template's
# refusal), gdi, and the report's trends, local-against-cloud, repeats, GDP and
# GDI tables, also as headless Chromium renders them (exit 77, SKIP, without a
# browser after every other check; a failure under IPW_REQUIRE_BROWSER=1 or CI's
# IPW_REQUIRE_LLAMA=1).
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
# the report draws with cairo, whose fontconfig cache is never freed: not ipw's leak
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
DB="$TMP/a.db"
"$IPW_BUILD/fakes/mkanalysis" "$DB" || fail "mkanalysis"
command -v python3 >/dev/null || { echo "python3 is needed to check the JSON output"; exit 77; }
cat >"$TMP/meta.json" <<'J'
{"source": "test", "models": {
  "qwen3-1b": {"family": "qwen3", "released": "2025-04", "total_params": "4B", "active_params": "1B", "quantization": "bf16"},
  "big": {"family": "qwen3", "released": "2024-07", "total_params": "2B", "quantization": "bf16"},
  "cloud": {"released": "2025-07", "total_params": "30B", "active_params": "10B"}},
 "accelerators": {"Fake H200": {"peak_flops": "1T", "peak_bandwidth": "1T"}}}
J

# compute: run 1 (small) by hand: 2e12 / 8e12 FLOPs, MFU 0.4, MBU 0.25
"$IPW" compute 1 --model-meta "$TMP/meta.json" --store "$DB" --format csv >"$TMP/c.csv" || fail "compute exit $?"
cat "$TMP/c.csv"
expect_eq "flops active" "$(csv_query "$TMP/c.csv" 'float(rows[0]["flops_active"])')" 2000000000000.0
expect_eq "flops total" "$(csv_query "$TMP/c.csv" 'float(rows[0]["flops_total"])')" 8000000000000.0
expect_eq "mfu" "$(csv_query "$TMP/c.csv" 'rows[0]["mfu"]')" 0.4
expect_eq "mbu" "$(csv_query "$TMP/c.csv" 'rows[0]["mbu"]')" 0.25
expect_eq "per query flops" "$(csv_query "$TMP/c.csv" 'float(rows[0]["flops_active_per_query"])')" 400000000000.0
"$IPW" compute 1 2 --model-meta "$TMP/meta.json" --store "$DB" >"$TMP/c.txt" || fail "compute text"
grep -Eq '^2 +big +2e\+09 +2e\+09 ' "$TMP/c.txt" || fail "compute: a dense model's active = total: $(cat "$TMP/c.txt")"
"$IPW" compute 1 --per-query --model-meta "$TMP/meta.json" --store "$DB" --format jsonl >"$TMP/q.jsonl" || fail "per query"
python3 - "$TMP/q.jsonl" <<'PY' || fail "compute --per-query content"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 5, rows
assert rows[0]["flops_active"] == 2 * 1e9 * 200 and rows[0]["flops_total"] == 2 * 4e9 * 200, rows[0]
assert abs(rows[3]["flops_per_j"] - 4e11 / 20) < 1e-3, rows[3]
PY
"$IPW" compute 3 --model-meta "$TMP/meta.json" --store "$DB" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
assert r["mbu"] is None and r["bytes_per_s"] is None, r   # no quantisation given: not computed
' || fail "compute: MBU unknown without bits per weight"
echo '{"models": {}}' >"$TMP/empty.json"
"$IPW" compute 1 --model-meta "$TMP/empty.json" --store "$DB" 2>"$TMP/err"; expect_eq "compute no entry" $? 3
grep -q "no model entry for run 1" "$TMP/err" || fail "compute: no entry message"
"$IPW" compute 1 --store "$DB" 2>/dev/null; expect_eq "compute needs --model-meta" $? 2

# route: --compute total (oracle saved 5/9) against active (1 - 1.36e13/3e13), --daily-queries 1e6
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --model-meta "$TMP/meta.json" --compute total \
	--prices /dev/null --trials 0 --daily-queries 1e6 2>"$TMP/err" && fail "empty prices file accepted"
cat >"$TMP/prices.txt" <<'P'
qwen3-1b 0 0
big 0.1 0.2
cloud 1 2
P
out=$("$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --model-meta "$TMP/meta.json" --compute total \
	--prices "$TMP/prices.txt" --trials 0 --daily-queries 1e6) || fail "route total exit $?"
echo "$out"
echo "$out" | grep -q 'FLOPs = 2 x total parameters' || fail "route: the basis is said"
echo "$out" | grep -Eq '^oracle +1\.00 exact +48\.0% +55\.6% ' || fail "route: oracle compute on total parameters"
echo "$out" | grep -q 'oracle compute saved: 54.7% with active parameters, 55.6% with total parameters' || fail "both bases"
echo "$out" | grep -Eq '^oracle +1\.00 exact +14\.44 kWh +206 USD +8e\+18 FLOP' || fail "route: per day"
echo "$out" | grep -Eq '^cloud-only +- +exact +27\.78 kWh +500 USD +1\.8e\+19 FLOP' || fail "route: cloud per day"
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --model-meta "$TMP/meta.json" --trials 0 \
	--daily-queries 80.2e6 --misroute two-sided --router-accuracy 0.5 --json >"$TMP/r.json" || fail "route json"
python3 - "$TMP/r.json" <<'PY' || fail "route --json: basis, misroute, per day"
import json, sys
o = json.load(sys.stdin) if False else json.load(open(sys.argv[1]))
assert o["compute_basis"] == "active" and o["misroute"] == "two-sided" and o["daily_queries"] == 80.2e6, o
rows = {(r["scheme"], r["p"], r["method"]): r for r in o["rows"]}
r = rows[("router", 0.5, "exact")]
assert abs(r["saved_energy"]["value"] - 0.41) < 1e-12, r          # 295 J of 500
assert abs(r["accuracy"]["value"] - 0.7) < 1e-12 and abs(r["kept_wrong"]["value"] - 0.2) < 1e-12, r
# 295 J / 5 items x 80.2e6 a day = 4.7318e9 J = 1314.39 kWh
assert abs(r["per_day"]["energy_kwh"]["value"] - 295 / 5 * 80.2e6 / 3.6e6) < 1e-6, r["per_day"]
assert r["per_day"]["cost_usd"]["value"] is None, r   # no prices: not computed
PY
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --misroute both 2>/dev/null; expect_eq "bad --misroute" $? 2
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --compute all 2>/dev/null; expect_eq "bad --compute" $? 2
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --daily-queries 0 2>/dev/null; expect_eq "--daily-queries 0" $? 2
"$IPW" route simulate --local 1 2 --cloud 3 --store "$DB" --format csv --trials 0 --compute total \
	--model-meta "$TMP/meta.json" >"$TMP/r.csv" || fail "route csv"
expect_eq "csv saved_compute_total" "$(csv_query "$TMP/r.csv" 'round(float([r["saved_compute_total"] for r in rows if r["scheme"] == "oracle"][0]), 12)')" 0.555555555556
expect_eq "csv per day empty" "$(csv_query "$TMP/r.csv" 'rows[0]["energy_kwh_per_day"]')" ""

# IPW on the device's power beside the request's share (run 2's windows are 1 s, its latency 2 s:
# requests draw 17 W each, the device 170 J / 5 s busy = 34 W)
"$IPW" show 2 --store "$DB" | grep -Eq '^  IPW device +0\.01176 +/W .*170 J over 5 s busy = 34 W; 2\.00 requests in flight' \
	|| fail "show: IPW device line: $("$IPW" show 2 --store "$DB" | grep 'IPW')"
"$IPW" show 2 --store "$DB" --json | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert abs(o["device_power"]["power_w"] - 34) < 1e-12 and abs(o["ipw"]["value"] - 0.4 / 17) < 1e-9, o["device_power"]
assert abs(o["device_power"]["ipw"] - 0.4 / 34) < 1e-9
' || fail "show --json device_power"
"$IPW" compare 1 2 --store "$DB" --csv --bootstrap 0 >"$TMP/cmp.csv" || fail "compare csv"
expect_eq "compare device power" "$(csv_query "$TMP/cmp.csv" 'rows[1]["device_power_w"]')" 34
expect_eq "compare ipw_device" "$(csv_query "$TMP/cmp.csv" 'round(float(rows[1]["ipw_device"]), 12)')" 0.011764705882

# one interval method per figure, recorded: compare's JSON, show --ci, the report's page
"$IPW" compare 1 2 --store "$DB" --json --bootstrap 50 | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["interval_method"] == "bootstrap" and o["interval_rule"].startswith("auto"), o
assert {r["interval_method"] for r in o["runs"]} == {"bootstrap"}
' || fail "compare: one recorded method"
"$IPW" compare 1 2 --store "$DB" --ci delta --json | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["interval_method"] == "delta" and {r["interval_method"] for r in o["runs"]} == {"delta"}, o
' || fail "compare --ci delta"
"$IPW" compare 1 2 --store "$DB" --bootstrap 50 | grep -q 'chosen by --ci auto for every run (the largest has 5 scored queries' \
	|| fail "compare: the auto rule is said"
"$IPW" show 1 --store "$DB" --ci delta --json | python3 -c '
import json, sys
assert json.load(sys.stdin)["scoring"]["interval_method"] == "delta"
' || fail "show --ci delta"
"$IPW" show 1 --store "$DB" --ci none 2>/dev/null; expect_eq "show --ci none" $? 2
"$IPW" report 1 2 --store "$DB" --out "$TMP/rep" --ci delta --bootstrap 50 --trials 0 >/dev/null || fail "report --ci delta"
grep -q '<span id=page-intervals>Intervals: 95%, normal approximation (delta method), one method' "$TMP/rep/index.html" \
	|| fail "report: the page's method"
grep -q "the attribution's too: the normal approximation" "$TMP/rep/index.html" || fail "report: attribution note"
grep -q 'alt="IPW per run with 95% delta-method (normal approximation) interval"' "$TMP/rep/index.html" \
	|| fail "report: the IPW plot's caption names the delta method"
grep -q '<td>delta</td>' "$TMP/rep/index.html" || fail "report: attribution rows not marked delta"
"$IPW" report 1 2 --store "$DB" --out "$TMP/rep2" --bootstrap 50 --trials 0 >/dev/null || fail "report auto"
grep -q 'bootstrap over queries (50 resamples), one method for every table and plot (--ci auto: the largest run has 5' \
	"$TMP/rep2/index.html" || fail "report: auto recorded"

# levels: the smallest size class answering each item (meta.json: big 2B is class 1, small 4B class 2, cloud 30B class 3; i1, i2 L1 (big), i4 L2, i3, i5 L3)
"$IPW" levels 1 2 3 --model-meta "$TMP/meta.json" --store "$DB" --size-classes 3B,5B --format csv >"$TMP/l.csv" \
	|| fail "levels exit $?"
expect_eq "levels rows" "$(csv_query "$TMP/l.csv" 'len(rows)')" 12
expect_eq "L1 items" "$(csv_query "$TMP/l.csv" '[r["items"] for r in rows if r["level"] == "L1"][0]')" 2
expect_eq "L3 cloud" "$(csv_query "$TMP/l.csv" '[r["accuracy"] for r in rows if r["level"] == "L3" and r["run"] == "3"][0]')" 1
expect_eq "L2 small" "$(csv_query "$TMP/l.csv" '[r["accuracy"] for r in rows if r["level"] == "L2" and r["run"] == "1"][0]')" 1
"$IPW" levels 1 2 --model-meta "$TMP/meta.json" --store "$DB" --size-classes 3B,5B | grep -Eq '^L4 +unsolved +2 +0\.4000' \
	|| fail "levels: unsolved"
"$IPW" levels 1 --model-meta "$TMP/meta.json" --store "$DB" --size-classes 5B,1B 2>/dev/null; expect_eq "bad classes" $? 2
# the report's levels with the same classes: share of the 5 items and each run's accuracy per level
# (L1 i1, i2: small 1 of 2, big and cloud both; L2 i4: small only; L3 i3, i5: cloud only; L4 none)
"$IPW" report 1 2 3 --model-meta "$TMP/meta.json" --store "$DB" --size-classes 3B,5B --out "$TMP/repl" --bootstrap 0 \
	--trials 0 >/dev/null || fail "report --size-classes"
for want in '(total parameters: L1 &le; 3B, L2 &le; 5B, L3 larger; --size-classes)' \
	'<tr><td>L1</td><td>2</td><td>40.0%</td><td>50.0%</td><td>100.0%</td><td>100.0%</td></tr>' \
	'<tr><td>L2</td><td>1</td><td>20.0%</td><td>100.0%</td><td>0.0%</td><td>0.0%</td></tr>' \
	'<tr><td>L3</td><td>2</td><td>40.0%</td><td>0.0%</td><td>0.0%</td><td>100.0%</td></tr>' \
	'<tr><td>L4</td><td>0</td><td>0.0%</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td></tr>'; do
	grep -qF "$want" "$TMP/repl/index.html" || fail "report levels: no $want"
done
"$IPW" report 1 --store "$DB" --out "$TMP/repl2" --size-classes 5B,1B 2>/dev/null; expect_eq "report: bad classes" $? 2

# trends: gen-a (2024; acc 0.5, 100 W: IPW 0.005) -> 2025 {gen-b 0.75/50 W = 0.015, small 0.4/14 W = 0.02857}:
# best 2025 = small; IPW x5.714 = accuracy 0.8 x power 100/14; best-of-2025 coverage over i1..i4 = 1
cat >"$TMP/meta2.json" <<'J'
{"models": {"qwen3-1b": {"total_params": "1B", "released": "2025-04"}, "old": {"total_params": "8B", "released": "2024-03"},
 "new": {"total_params": "8B", "released": "2025-06"}}, "accelerators": {"Fake H200": {"class": "local"}}}
J
"$IPW" trends 6 7 1 --model-meta "$TMP/meta2.json" --store "$DB" --intersect --bootstrap 100 --format csv >"$TMP/tr.csv" \
	|| fail "trends exit $?"
cat "$TMP/tr.csv"
expect_eq "trends rows" "$(csv_query "$TMP/tr.csv" 'len(rows)')" 3
expect_eq "2025 best" "$(csv_query "$TMP/tr.csv" 'rows[1]["best_run"]')" 1
expect_eq "2025 coverage" "$(csv_query "$TMP/tr.csv" 'rows[1]["coverage"]')" 1
expect_eq "2024 ipw" "$(csv_query "$TMP/tr.csv" 'rows[0]["ipw"]')" 0.005
expect_eq "ipw ratio" "$(csv_query "$TMP/tr.csv" 'round(float(rows[2]["ipw_ratio"]), 9)')" 5.714285714
expect_eq "acc factor" "$(csv_query "$TMP/tr.csv" 'round(float(rows[2]["accuracy_factor"]), 12)')" 0.8
expect_eq "power factor" "$(csv_query "$TMP/tr.csv" 'round(float(rows[2]["power_factor"]), 9)')" 7.142857143
expect_eq "span" "$(csv_query "$TMP/tr.csv" 'rows[2]["period"]')" "2024->2025"
expect_eq "quarters" "$("$IPW" trends 6 7 1 --model-meta "$TMP/meta2.json" --store "$DB" --intersect --period quarter --bootstrap 0 --format csv | csv_query /dev/stdin '[r["period"] for r in rows]')" "['2024-Q1', '2025-Q2', '2024-Q1->2025-Q2']"
expect_eq "class cloud: none" "$("$IPW" trends 6 7 --model-meta "$TMP/meta2.json" --store "$DB" --class cloud --format csv 2>/dev/null | csv_query /dev/stdin 'len(rows)')" 0
# --ci as compare, show and report take it (the auto rule gives bootstrap on these small runs)
"$IPW" trends 6 7 1 --model-meta "$TMP/meta2.json" --store "$DB" --intersect --ci delta | grep -q 'intervals: delta method' \
	|| fail "trends --ci delta"
"$IPW" trends 6 7 1 --model-meta "$TMP/meta2.json" --store "$DB" --intersect --bootstrap 20 | grep -q 'intervals: bootstrap over queries' \
	|| fail "trends: auto gives bootstrap"
"$IPW" trends 6 --model-meta "$TMP/meta2.json" --store "$DB" --ci none 2>/dev/null; expect_eq "trends --ci none" $? 2
# the report's trends by quarter (as trends --period quarter above): 2024-Q1 gen-a, 2025-Q2 best small, x5.714
"$IPW" report 6 7 1 --model-meta "$TMP/meta2.json" --store "$DB" --intersect --period quarter --out "$TMP/repq" \
	--bootstrap 0 --trials 0 >/dev/null || fail "report --period quarter"
grep -q '<h2 id=trends-section>Trends by release quarter</h2>' "$TMP/repq/index.html" || fail "report: quarter heading"
for want in '<tr><td>2024-Q1</td><td>1</td><td>6 gen-a</td>' '<tr><td>2025-Q2</td><td>2</td><td>1 small</td>' \
	'<tr><td>2024-Q1-&gt;2025-Q2</td>' '<td>5.714</td><td>0.800</td><td>7.143</td></tr>'; do
	grep -qF "$want" "$TMP/repq/index.html" || fail "report --period quarter: no $want"
done
echo '{"models": {"qwen3-1b": {"total_params": "1B", "released": "2025"}, "old": {"total_params": "8B", "released": "2024-03"}}}' \
	>"$TMP/meta6.json"
"$IPW" report 6 1 --model-meta "$TMP/meta6.json" --store "$DB" --period half --out "$TMP/reph" --bootstrap 0 \
	--trials 0 >/dev/null || fail "report --period half"
grep -q '1 run left out: the release date has no month, which a half needs.' "$TMP/reph/index.html" \
	|| fail "report --period half: the run without a month is said"
grep -qF '<tr><td>2024-H1</td><td>1</td><td>6 gen-a</td>' "$TMP/reph/index.html" || fail "report --period half: 2024-H1"
"$IPW" report 1 --store "$DB" --out "$TMP/reph" --period month 2>/dev/null; expect_eq "report --period month" $? 2
"$IPW" trends 6 --model-meta "$TMP/meta.json" --store "$DB" 2>"$TMP/err"; expect_eq "trends no date" $? 3
grep -q "no release date for run 6" "$TMP/err" || fail "trends: no date message"

# ranks: IPW small 0.4/14, big 0.4/17, cloud 0.8/25, gen-a 0.5/100: ranks 2, 3, 1, 4; on math alone
# (1/3 / 10, 2/3 / 15, 1 / 25, 2/3 / 100) big > cloud > small > gen-a: tau 2/6, rho 1 - 6 x 6 / 60 = 0.4
"$IPW" ranks 1 2 3 6 --store "$DB" --bootstrap 100 --format csv >"$TMP/rk.csv" || fail "ranks exit $?"
expect_eq "ranks" "$(csv_query "$TMP/rk.csv" '[r["rank"] for r in rows if r["kind"] == "rank"]')" "['2', '3', '1', '4']"
expect_eq "math tau" "$(csv_query "$TMP/rk.csv" 'round(float([r["tau"] for r in rows if r["key"] == "math"][0]), 12)')" 0.333333333333
expect_eq "math rho" "$(csv_query "$TMP/rk.csv" 'round(float([r["rho"] for r in rows if r["key"] == "math"][0]), 12)')" 0.4
expect_eq "bootstrap row" "$(csv_query "$TMP/rk.csv" '[r["key"] for r in rows if r["kind"] == "bootstrap"]')" "['B=100']"
"$IPW" ranks 1 --store "$DB" 2>/dev/null; expect_eq "ranks one run" $? 2

# repeats: accuracy 0.4 (run 1), 0.5 (run 4), 2/3 (run 5): mean 0.52222, sample sd 0.134715
"$IPW" repeats 1 4 5 --store "$DB" --bootstrap 50 --format csv >"$TMP/rp.csv" || fail "repeats exit $?"
expect_eq "repeats mean" "$(csv_query "$TMP/rp.csv" 'round(float([r["mean"] for r in rows if r["metric"] == "accuracy"][0]), 6)')" 0.522222
expect_eq "repeats sd" "$(csv_query "$TMP/rp.csv" 'round(float([r["sd"] for r in rows if r["metric"] == "accuracy"][0]), 6)')" 0.134715
expect_eq "repeats runs" "$(csv_query "$TMP/rp.csv" 'rows[0]["runs"]')" "1,4,5"
expect_eq "repeats auto: bootstrap" "$(csv_query "$TMP/rp.csv" 'rows[0]["interval_method"]')" bootstrap
expect_eq "repeats --ci delta" "$("$IPW" repeats 1 4 5 --store "$DB" --ci delta --format csv | csv_query /dev/stdin 'sorted(set(r["interval_method"] for r in rows))')" "['delta']"
"$IPW" repeats 1 4 --store "$DB" --ci none 2>/dev/null; expect_eq "repeats --ci none" $? 2
expect_eq "repeats by model" "$("$IPW" repeats 1 2 4 --by model --store "$DB" --bootstrap 0 --format csv | csv_query /dev/stdin 'sorted(set((r["group"], r["repeats"]) for r in rows if r["metric"] == "ipw"))')" "[('qwen3-1b', '2'), ('qwen3-2b', '1')]"

# localcloud (tests/fakes/bin_mkpaper.c adds run 9, qwen3-1b on "Fake M4 Max" at 7 W): the pair's
# IPW ratio H200 / M4 = (0.4 / 14) / (0.4 / 7) = 0.5; best-of-local 0.4 (run 9), best-of-cloud 1 (runs 1, 3)
DB2="$TMP/p.db"
"$IPW_BUILD/fakes/mkpaper" "$DB2" || fail "mkpaper"
cat >"$TMP/meta3.json" <<'J'
{"models": {"qwen3-1b": {"total_params": "1B"}},
 "accelerators": {"Fake H200": {"class": "cloud"}, "Fake M4 Max": {"class": "local"}}}
J
"$IPW" localcloud 9 1 3 --model-meta "$TMP/meta3.json" --store "$DB2" --bootstrap 0 --format csv >"$TMP/lc.csv" \
	|| fail "localcloud exit $?"
expect_eq "pairs" "$(csv_query "$TMP/lc.csv" '[(r["key"], r["local_run"], r["cloud_run"]) for r in rows if r["kind"] == "pair"]')" "[('qwen3-1b', '9', '1')]"
expect_eq "pair ipw ratio" "$(csv_query "$TMP/lc.csv" 'round(float([r["ipw_ratio"] for r in rows if r["kind"] == "pair"][0]), 12)')" 0.5
expect_eq "cells" "$(csv_query "$TMP/lc.csv" 'len([r for r in rows if r["kind"] == "cell"])')" 3
expect_eq "coverage all" "$(csv_query "$TMP/lc.csv" '[(r["local_coverage"], r["cloud_coverage"]) for r in rows if r["kind"] == "coverage" and r["key"] == ""]')" "[('0.4', '1')]"
expect_eq "coverage math" "$(csv_query "$TMP/lc.csv" '[round(float(r["local_coverage"]), 6) for r in rows if r["key"] == "math"]')" "[0.333333]"
# the report's trends and local-against-cloud tables (as the commands): 2024 gen-a (0.5, 100 W: 5 m/W);
# 2025 best of {9: 0.4/7 W, 7: 0.75/50 W, 1: 0.4/14 W} = run 9 (57.14 m/W): IPW x 11.429 = accuracy x
# 0.8 (0.4/0.5) . power x 14.286 (100/7); best-of-2025 coverage over i1..i4 = 1. Pivot: qwen3-1b local
# 57.14 m/W, cloud 28.57 m/W; the cloud run 3 (0.8 / 25 W = 32 m/W, 0.8 / 100 J = 8 m/J) only in the cloud
# column; coverage best-of-local 40% (run 9), best-of-cloud 100%, math 33.3% against 100%.
cat >"$TMP/meta5.json" <<'J'
{"models": {"qwen3-1b": {"total_params": "1B", "released": "2025-04"}, "old": {"total_params": "8B", "released": "2024-03"},
 "new": {"total_params": "8B", "released": "2025-06"}},
 "accelerators": {"Fake H200": {"class": "cloud"}, "Fake M4 Max": {"class": "local"}}}
J
"$IPW" report 9 1 3 6 7 --store "$DB2" --model-meta "$TMP/meta5.json" --intersect --out "$TMP/rep3" --bootstrap 0 \
	--trials 0 >/dev/null || fail "report localcloud"
python3 - "$TMP/rep3/index.html" <<'PY' || fail "report: trends and local-against-cloud tables"
import re, sys
h = open(sys.argv[1]).read()
def rows(tid):
    m = re.search(r"<table id=%s>(.*?)</table>" % tid, h, re.S)
    assert m, "no table " + tid
    return [re.findall(r"<td>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", m.group(1))[1:]]
t = rows("trends")
assert [r[0] for r in t] == ["2024", "2025", "2024-&gt;2025"], t
assert t[0][2:9] == ["6 gen-a", "Fake H200", "50.0%", "5&nbsp;m/W", "5&nbsp;m/J", "100&nbsp;W", "50.0%"], t[0]
assert t[1][1:4] == ["3", "9 small-m4", "Fake M4 Max"] and t[1][5] == "57.14&nbsp;m/W" and t[1][8] == "100.0%", t[1]
assert t[1][9:] == ["11.429", "0.800", "14.286"] and t[2][9:] == t[1][9:], t
p = rows("localcloud")
assert len(p) == 1 and p[0][:5] == ["qwen3-1b", "9 small-m4", "Fake M4 Max", "1 small", "Fake H200"], p
assert p[0][9] == "0.500" and p[0][12] == "0.500", p
v = {r[0]: r[1:] for r in rows("localcloud-pivot")}
assert v["qwen3-1b"] == ["57.14&nbsp;m/W / 57.14&nbsp;m/J", "28.57&nbsp;m/W / 28.57&nbsp;m/J"], v
assert v["qwen3-235b"] == ["&ndash;", "32&nbsp;m/W / 8&nbsp;m/J"], v
assert "<th>local: Fake M4 Max<br>IPW / IPJ</th><th>cloud: Fake H200<br>IPW / IPJ</th>" in h
c = {r[0]: r[1:] for r in rows("localcloud-coverage")}
assert c["all"] == ["40.0%", "100.0%", "60.0%"] and c["math"] == ["33.3%", "100.0%", "66.7%"], c
PY
# the report's repeats: runs 1 and 4 (qwen3-1b on Fake H200, no group): accuracy 0.4, 0.5: 45.0% +- 7.1%;
# IPW 0.4/14 and 0.5/12.5: mean 34.29 m/W, sigma 0.0114286/sqrt 2 = 8.081 m/W; power 14, 12.5 W: 13.25 +- 1.061 W
"$IPW" report 1 4 --store "$DB" --out "$TMP/rep5" --bootstrap 0 --trials 0 >/dev/null || fail "report repeats"
for want in '<td>1, 4</td><td>accuracy</td><td>45.0% &plusmn; 7.1%</td><td>0.157</td>' \
	'<td>IPW</td><td>34.29&nbsp;m/W &plusmn; 8.081&nbsp;m/W</td><td>0.236</td>' \
	'<td>power</td><td>13.25&nbsp;W &plusmn; 1.061&nbsp;W</td>'; do
	grep -qF "$want" "$TMP/rep5/index.html" || fail "report repeats: no $want"
done
echo '{"accelerators": {"Fake H200": {"class": "cloud"}}}' >"$TMP/meta4.json"
"$IPW" localcloud 9 1 --model-meta "$TMP/meta4.json" --store "$DB2" 2>"$TMP/err"; expect_eq "unclassed accelerator" $? 3
grep -q "Fake M4 Max" "$TMP/err" || fail "localcloud: the unclassed accelerator is named"

# GDP weighting: run 1 (math 1/3, bio 1/2) with math 3e12, bio 1e12, law 4e12 USD: normalised 0.375,
# GDP form 1.5e12 USD, share of the file's 8e12: 0.1875
printf 'math\t3e12\nbio\t1e12\nlaw\t4e12\n' >"$TMP/gdp.tsv"
"$IPW" analyze 1 --store "$DB" --weights "$TMP/gdp.tsv" --bootstrap 0 --format csv >"$TMP/an.csv" || fail "analyze gdp"
expect_eq "gdp value" "$(csv_query "$TMP/an.csv" 'float([r["value"] for r in rows if r["quantity"] == "gdp_value"][0])')" 1500000000000.0
expect_eq "gdp share" "$(csv_query "$TMP/an.csv" '[r["value"] for r in rows if r["quantity"] == "gdp_share"][0]')" 0.1875
expect_eq "normalised" "$(csv_query "$TMP/an.csv" '[r["value"] for r in rows if r["section"] == "weighted" and r["quantity"] == "accuracy"][0]')" 0.375
# the report's GDP section on runs 1 and 4 (i1..i4: math 1/3, bio 1): 0.5 normalised, 2e12 USD, share 25%
"$IPW" report 1 4 --store "$DB" --out "$TMP/rep6" --bootstrap 0 --trials 0 --weights "$TMP/gdp.tsv" >/dev/null \
	|| fail "report --weights"
grep -qF '<tr><td>1 small</td><td>40.0%</td><td>37.5%</td><td>1.5&nbsp;T&nbsp;USD</td><td>18.8%</td><td>0</td><td>1</td></tr>' \
	"$TMP/rep6/index.html" || fail "report: run 1's GDP row"
grep -qF '<tr><td>4 partial</td><td>50.0%</td><td>50.0%</td><td>2&nbsp;T&nbsp;USD</td><td>25.0%</td>' \
	"$TMP/rep6/index.html" || fail "report: run 4's GDP row"
# the shipped template: 22 categories, no figures (an error until filled); filled, it reads 22 weights
T="$IPW_TESTS/../data/weights/aei-soc-major-groups.template.tsv"
expect_eq "template categories" "$(grep -c '^#[A-Z].*Occupations	$' "$T")" 22
"$IPW" analyze 1 --store "$DB" --weights "$T" 2>"$TMP/err"; expect_eq "empty template" $? 3
grep -q "is the weights template with 22 categories still without a figure (first: 'Management Occupations', line 21)" \
	"$TMP/err" || fail "template: empty message: $(cat "$TMP/err")"
# half filled: the rest are named; filled without a source: refused too
sed -e '21,31s/^#\([A-Z].*Occupations\)	$/\1	1e9/' "$T" >"$TMP/half.tsv"
"$IPW" analyze 1 --store "$DB" --weights "$TMP/half.tsv" 2>"$TMP/err"; expect_eq "half-filled template" $? 3
grep -q "with 11 categories still without a figure (first: 'Protective Service Occupations', line 32)" "$TMP/err" \
	|| fail "template: half-filled message: $(cat "$TMP/err")"
sed -e 's/^#\([A-Z].*Occupations\)	$/\1	1e9/' "$T" >"$TMP/nosource.tsv"
"$IPW" analyze 1 --store "$DB" --weights "$TMP/nosource.tsv" 2>"$TMP/err"; expect_eq "template without source" $? 3
grep -q "the '# source:' line still reads '(fill in)'" "$TMP/err" || fail "template: source message"
"$IPW" report 1 --store "$DB" --out "$TMP/rep7" --weights "$T" 2>"$TMP/err"; expect_eq "report: template refused" $? 3
grep -q "is the weights template with 22 categories" "$TMP/err" || fail "report: template message"
sed -e 's/^#\([A-Z].*Occupations\)	$/\1	1e9/' -e 's/^# source: (fill in)/# source: a test, all equal/' "$T" \
	>"$TMP/filled.tsv"
"$IPW" analyze 1 --store "$DB" --weights "$TMP/filled.tsv" --bootstrap 0 --json | python3 -c '
import json, sys
w = json.load(sys.stdin)["weighted"]
assert w["weight_total"] == 22e9 and len(w["weighted_subjects_absent"]) == 22, w
' || fail "filled template: 22 weights"

# gdi: laptops 1e6 x 50 W x 0.2 = 1e7 W x 4e-3 = 40000; run 1 (IPW 0.4 / 14) on 1000 x 14 W x 0.5 = 7000 W:
# 200; datacenter 1e7 W x 2e-3 = 20000; with local 60200: 3.01x
cat >"$TMP/sc.json" <<'J'
{"comment": "test", "devices": [{"name": "laptops", "count": 1e6, "power_w": 50, "duty_cycle": 0.2, "ipw": 4e-3},
  {"name": "measured", "count": 1000, "power_w": 14, "duty_cycle": 0.5, "ipw_run": "small"}],
 "datacenter": {"name": "dc", "power_w": 1e7, "ipw": 2e-3}}
J
"$IPW" gdi "$TMP/sc.json" --store "$DB" --json >"$TMP/gdi.json" || fail "gdi exit $?"
python3 - "$TMP/gdi.json" <<'PY' || fail "gdi numbers"
import json, sys
o = json.load(open(sys.argv[1]))
d = o["devices"]
assert d[0]["accessible_power_w"] == 1e7 and abs(d[0]["gdi"] - 40000) < 1e-6, d[0]
assert d[1]["ipw_run"] == "1" and abs(d[1]["gdi"] - 200) < 1e-9, d[1]
assert abs(o["capacity_without_local"] - 20000) < 1e-9 and abs(o["capacity_with_local"] - 60200) < 1e-6
assert abs(o["factor"] - 3.01) < 1e-12 and len(o["formulas"]) == 3
PY
"$IPW" gdi "$TMP/sc.json" --store "$DB" | grep -q 'effective capacity: without local devices 20000, with 60200: 3.010x' \
	|| fail "gdi text"
"$IPW" gdi "$TMP/sc.json" --store "$DB" | grep -q '^assumptions' || fail "gdi: assumptions printed"
# the report's GDI section on the same scenario: every class by hand (laptops 1e6 x 50 W x 0.2 = 10 MW,
# x 4 m/W = 40 k; run 1 on 1000 x 14 W x 0.5 = 7 kW, x 28.57 m/W = 200), the totals, formulas, assumptions
"$IPW" report 1 --store "$DB" --out "$TMP/rep8" --bootstrap 0 --trials 0 --gdi "$TMP/sc.json" >/dev/null \
	|| fail "report --gdi"
for want in '<h2 id=gdi-section>Gross domestic intelligence</h2>' \
	'<tr><td>laptops</td><td>local</td><td>1&nbsp;M</td><td>50&nbsp;W</td><td>0.2</td><td>10&nbsp;MW</td><td>4&nbsp;m/W</td><td>given</td><td>40&nbsp;k</td></tr>' \
	'<tr><td>measured</td><td>local</td><td>1&nbsp;k</td><td>14&nbsp;W</td><td>0.5</td><td>7&nbsp;kW</td><td>28.57&nbsp;m/W</td><td>measured, run 1</td><td>200</td></tr>' \
	'<td>10.01&nbsp;MW</td><td>&ndash;</td><td>&ndash;</td><td>40.2&nbsp;k</td></tr>' \
	'<tr><td>dc</td><td>datacenter</td><td>1</td><td>10&nbsp;MW</td><td>1</td><td>10&nbsp;MW</td><td>2&nbsp;m/W</td><td>given</td><td>20&nbsp;k</td></tr>' \
	'<p id=gdi-capacity>Effective capacity: without local devices 20&nbsp;k, with them 60.2&nbsp;k: 3.010&times;.</p>' \
	'<li>accessible power P = count x power_w x duty_cycle [W]</li>' \
	'<li>GDI adds linearly over classes: no class is limited by anything but its power</li>'; do
	grep -qF "$want" "$TMP/rep8/index.html" || fail "report --gdi: no $want"
done
expect_eq "gdi formulas in the page" "$(grep -c '^<li>' "$TMP/rep8/index.html")" 8
echo '{"devices": [{"name": "x", "count": 1, "power_w": 1, "duty_cycle": 2, "ipw": 1}], "datacenter": {"power_w": 1, "ipw": 1}}' >"$TMP/bad.json"
"$IPW" gdi "$TMP/bad.json" 2>"$TMP/err"; expect_eq "gdi duty > 1" $? 3
grep -q "duty_cycle' is not a number in \[0, 1\]" "$TMP/err" || fail "gdi: duty message $(cat "$TMP/err")"
"$IPW" report 1 --store "$DB" --out "$TMP/rep9" --gdi "$TMP/bad.json" 2>"$TMP/err"; expect_eq "report --gdi duty > 1" $? 3
grep -q "duty_cycle' is not a number in \[0, 1\]" "$TMP/err" || fail "report --gdi: the scenario's error"
echo '{"devices": [], "datacenter": {"power_w": 1, "ipw": 1, "ipw_run": "1"}}' >"$TMP/bad2.json"
"$IPW" gdi "$TMP/bad2.json" 2>"$TMP/err"; expect_eq "gdi ipw and ipw_run" $? 3

# the report's pages as headless Chromium renders them (report.sh checks the main page's images and screenshot):
# rep3 trends and local against cloud, rep6 (runs 1 and 4) repeats and GDP, rep8 GDI; by table id and heading
need_browser "everything else was checked, but no headless browser to render the report's trends, local-against-cloud, repeats, GDP and GDI sections"
dom() {
	browse --virtual-time-budget=3000 --dump-dom "file://$1/index.html" >"$2" || fail "chromium --dump-dom $1: $(tail -3 "$TMP/browser.log")"
}
# $1 the rendered page; then "tag|id|heading" lines on stdin
headings() {
	while IFS='|' read -r tag id heading; do
		grep -qF "<$tag id=\"$id\">$heading" "$1" || fail "rendered $1 has no <$tag id=$id>$heading"
	done
}
dom "$TMP/rep3" "$TMP/dom3.html"
for id in trends localcloud localcloud-pivot localcloud-coverage; do
	grep -q "<table id=\"$id\">" "$TMP/dom3.html" || fail "rendered DOM has no $id table"
done
headings "$TMP/dom3.html" <<'S'
h2|trends-section|Trends by release year
h2|localcloud-section|Local against cloud
S
grep -q '<td>11.429</td><td>0.800</td><td>14.286</td>' "$TMP/dom3.html" || fail "rendered trends factors"
grep -q '<td>57.14&nbsp;m/W / 57.14&nbsp;m/J</td><td>28.57&nbsp;m/W / 28.57&nbsp;m/J</td>' "$TMP/dom3.html" \
	|| fail "rendered local-against-cloud pivot"
dom "$TMP/rep6" "$TMP/dom6.html"
for id in repeats gdp; do
	grep -q "<table id=\"$id\">" "$TMP/dom6.html" || fail "rendered DOM has no $id table"
done
headings "$TMP/dom6.html" <<'S'
h2|repeats-section|Repeated measurement
h2|gdp-section|GDP-weighted accuracy
S
grep -q '<td>accuracy</td><td>45.0% ± 7.1%</td>' "$TMP/dom6.html" || fail "rendered repeats: accuracy 45.0% +- 7.1%"
grep -q '<td>1 small</td><td>40.0%</td><td>37.5%</td><td>1.5&nbsp;T&nbsp;USD</td><td>18.8%</td>' "$TMP/dom6.html" \
	|| fail "rendered GDP row of run 1"
dom "$TMP/rep8" "$TMP/dom8.html"
grep -q '<table id="gdi">' "$TMP/dom8.html" || fail "rendered DOM has no gdi table"
headings "$TMP/dom8.html" <<'S'
h2|gdi-section|Gross domestic intelligence
S
grep -q '<td>measured, run 1</td><td>200</td>' "$TMP/dom8.html" || fail "rendered GDI: the measured class"
grep -q '<p id="gdi-capacity">Effective capacity: without local devices 20&nbsp;k, with them 60.2&nbsp;k: 3.010×.</p>' \
	"$TMP/dom8.html" || fail "rendered GDI capacity"
echo "paper ok"
