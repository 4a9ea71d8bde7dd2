#!/bin/sh
# ipw ranks by subset and bootstrap, the trends' factor intervals and the
# example GDI scenario, against numbers by hand (the same as
# tests/unit/test_paper.c's rank_*, trends_factor_intervals_by_hand): stores of
# tests/fakes/bin_mkranks.c (constant, tied and per-dataset runs) and
# tests/fakes/analysis_fixture.h (mkanalysis), the report's ranks-dataset,
# ranks-level and trends cells, and data/gdi/example.json.
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
# the report draws with cairo, whose fontconfig cache is never freed: not ipw's leak
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
command -v python3 >/dev/null || { echo "python3 is needed to check the CSV and JSON output"; exit 77; }
R="$TMP/r.db"
DB="$TMP/a.db"
"$IPW_BUILD/fakes/mkranks" "$R" || fail "mkranks"
"$IPW_BUILD/fakes/mkanalysis" "$DB" || fail "mkanalysis"
q() { csv_query "$TMP/out.csv" "$1"; }
row() { echo "[r for r in rows if r[\"kind\"] == \"$1\" and r[\"key\"] == \"$2\"][0]"; }

# bootstrap, separated: sep-a, sep-b, sep-c answer every query right at 10, 20, 40 W (IPW 0.1, 0.05,
# 0.025). Every query of a run is alike, so every resample has the full data's values: tau = rho = 1
# on each of the 200 resamples, the interval [1, 1], the top run the same on all (top_same 1).
"$IPW" ranks 1 2 3 --store "$R" --bootstrap 200 --format csv >"$TMP/out.csv" || fail "ranks sep exit $?"
cat "$TMP/out.csv"
expect_eq "sep ranks" "$(q '[r["rank"] for r in rows if r["kind"] == "rank"]')" "['1', '2', '3']"
expect_eq "sep values" "$(q '[float(r["value"]) for r in rows if r["kind"] == "rank"]')" "[0.1, 0.05, 0.025]"
expect_eq "sep B=200" "$(q "[$(row bootstrap B=200)[k] for k in ('tau', 'tau_lo', 'tau_hi', 'rho', 'rho_lo', 'rho_hi', 'top_same')]")" \
	"['1', '1', '1', '1', '1', '1', '1']"
"$IPW" ranks 1 2 3 --store "$R" --bootstrap 200 | grep -Eq '^bootstrap +B=200 +- +- +- +- +1\.000 +1\.000 +1\.000 +1\.000 +1\.000 +1\.000 +1\.000$' \
	|| fail "sep: the text B=200 row: $("$IPW" ranks 1 2 3 --store "$R" --bootstrap 200)"

# bootstrap, tied: tie-a and tie-b are alike on every query (IPW 0.05 both): rank 1.5 each; every
# resample ties too, and tau-b of an all-tied ranking is 0/0: not computed (empty in CSV, null in
# JSON, never 0); top_same 1 (a tie goes to the first run on both sides). With sep-a (0.1) the tied
# pair stays tied and the two others concordant: tau-b = 2 / sqrt(2 x 2) = 1, rho 1.
"$IPW" ranks 4 5 --store "$R" --bootstrap 100 --format csv >"$TMP/out.csv" || fail "ranks tie exit $?"
expect_eq "tie ranks" "$(q '[r["rank"] for r in rows if r["kind"] == "rank"]')" "['1.5', '1.5']"
expect_eq "tie B=100" "$(q "[$(row bootstrap B=100)[k] for k in ('tau', 'tau_lo', 'rho_hi', 'top_same')]")" "['', '', '', '1']"
"$IPW" ranks 4 5 --store "$R" --bootstrap 100 --json | python3 -c '
import json, sys
b = [r for r in json.load(sys.stdin) if r["kind"] == "bootstrap"][0]
assert b["tau"] is None and b["rho"] is None and b["tau_lo"] is None and b["top_same"] == 1, b
' || fail "tie: JSON nulls"
"$IPW" ranks 4 5 1 --store "$R" --bootstrap 100 --format csv >"$TMP/out.csv" || fail "ranks tie+sep exit $?"
expect_eq "tie+sep B=100" "$(q "[$(row bootstrap B=100)[k] for k in ('tau', 'tau_lo', 'tau_hi', 'rho', 'top_same')]")" \
	"['1', '1', '1', '1', '1']"

# --by dataset: models A, B, C (every query 10 W: IPW = accuracy / 10) on x (3 items: A 1 1 0, B 0 0 0,
# C 1 1 1) and y (5 items: A 1 1 0 0 0, B all right, C none). Pooled: A 4/8, B 5/8, C 3/8 -> 0.05,
# 0.0625, 0.0375 (ranks 2, 1, 3). x: C > A > B, the reverse: tau = rho = -1; y: B > A > C, the same: 1.
"$IPW" ranks 6 7 8 9 10 11 --store "$R" --by dataset --bootstrap 0 --format csv >"$TMP/out.csv" || fail "by dataset exit $?"
cat "$TMP/out.csv"
expect_eq "dataset models" "$(q '[(r["key"], r["name"], float(r["value"]), r["rank"]) for r in rows if r["kind"] == "rank"]')" \
	"[('A', '6+9', 0.05, '2'), ('B', '7+10', 0.0625, '1'), ('C', '8+11', 0.0375, '3')]"
expect_eq "dataset x" "$(q "[$(row dataset x.jsonl)[k] for k in ('items', 'tau', 'rho')]")" "['3', '-1', '-1']"
expect_eq "dataset y" "$(q "[$(row dataset y.jsonl)[k] for k in ('items', 'tau', 'rho')]")" "['5', '1', '1']"
expect_eq "no bootstrap row" "$(q 'len([r for r in rows if r["kind"] == "bootstrap"])')" 0
"$IPW" ranks 6 7 8 9 10 11 --store "$R" --by dataset --bootstrap 0 | grep -q 'by dataset: the 3 models ranked' \
	|| fail "by dataset: the text says what is ranked"
"$IPW" ranks 6 9 --store "$R" --by dataset 2>"$TMP/err"; expect_eq "one model" $? 2
grep -q "the runs are all of model 'A'" "$TMP/err" || fail "one model: message $(cat "$TMP/err")"
"$IPW" ranks 6 7 --store "$R" --by item 2>/dev/null; expect_eq "--by item" $? 2

# --by level on the analysis store: runs 1 small (4B: L1), 2 big (2B: L1), 3 cloud (30B: L3), default
# classes. i1, i2, i4 are L1 (small or big answers them), i3, i5 L3 (cloud only). Overall cloud 0.8/25 >
# small 0.4/14 > big 0.4/17. L1: small 2/3 at 40/3 W = 0.05 > big 2/3 at 50/3 W = 0.04 > cloud 2/3 at
# 25 W: one pair concordant, two discordant: tau -1/3; rank differences 1, 1, 2: rho 1 - 36/24 = -0.5.
# L3: small 0, big 0, cloud 0.04: tau-b 2 / sqrt(3 x 2) = 0.816497; rho of ranks (2, 1, 3) and
# (1.5, 1.5, 3): 1.5 / sqrt(2 x 1.5) = 0.866025. L2, L4, L5 have no items: no row.
cat >"$TMP/meta.json" <<'J'
{"models": {"qwen3-1b": {"total_params": "4B"}, "big": {"total_params": "2B"}, "cloud": {"total_params": "30B"},
  "gen-a": {"released": "2024-02"}, "gen-b": {"released": "2025-05"}}}
J
"$IPW" ranks 1 2 3 --store "$DB" --by level --model-meta "$TMP/meta.json" --bootstrap 0 --format csv >"$TMP/out.csv" \
	|| fail "by level exit $?"
cat "$TMP/out.csv"
expect_eq "levels" "$(q '[r["key"] for r in rows if r["kind"] == "level"]')" "['L1', 'L3']"
expect_eq "L1" "$(q "[round(float($(row level L1)[k]), 9) for k in ('items', 'tau', 'rho')]")" "[3.0, -0.333333333, -0.5]"
expect_eq "L3" "$(q "[round(float($(row level L3)[k]), 6) for k in ('items', 'tau', 'rho')]")" "[2.0, 0.816497, 0.866025]"
# one class bound 1B: every run is above it (L2), and every item answered by some run: one level, L2, of
# all 5 items, whose ranking is the overall one: tau = rho = 1
"$IPW" ranks 1 2 3 --store "$DB" --by level --model-meta "$TMP/meta.json" --size-classes 1B --bootstrap 0 --format csv \
	>"$TMP/out.csv" || fail "by level --size-classes exit $?"
expect_eq "L2 only" "$(q '[(r["key"], r["items"], r["tau"], r["rho"]) for r in rows if r["kind"] == "level"]')" "[('L2', '5', '1', '1')]"
"$IPW" ranks 1 2 --store "$DB" --by level 2>/dev/null; expect_eq "--by level needs --model-meta" $? 2
"$IPW" ranks 1 6 --store "$DB" --by level --model-meta "$TMP/meta.json" 2>"$TMP/err"; expect_eq "no size" $? 3
grep -q "no total parameter count" "$TMP/err" || fail "no size: message $(cat "$TMP/err")"
# --by subject (the default) keeps the rows it had, now with items: math on runs 1 2 3 6, 3 items, tau 1/3, rho 0.4
"$IPW" ranks 1 2 3 6 --store "$DB" --bootstrap 0 --format csv >"$TMP/out.csv" || fail "by subject exit $?"
expect_eq "math" "$(q "[round(float($(row subject math)[k]), 9) for k in ('items', 'tau', 'rho')]")" "[3.0, 0.333333333, 0.4]"

# the report: rank stability by dataset (runs on two datasets) and by level (--model-meta, two levels)
"$IPW" report 6 7 8 9 10 11 --store "$R" --out "$TMP/rep1" --bootstrap 0 --trials 0 >/dev/null || fail "report by dataset"
grep -qF '<tr><td>x.jsonl</td><td>3</td><td>-1.000</td><td>-1.000</td></tr>' "$TMP/rep1/index.html" \
	|| fail "report: x.jsonl row: $(grep -A4 'id=ranks-dataset' "$TMP/rep1/index.html")"
grep -qF '<tr><td>y.jsonl</td><td>5</td><td>1.000</td><td>1.000</td></tr>' "$TMP/rep1/index.html" || fail "report: y.jsonl row"
grep -q 'the 3 models are ranked' "$TMP/rep1/index.html" || fail "report: says models are ranked"
"$IPW" report 1 2 3 --store "$DB" --model-meta "$TMP/meta.json" --out "$TMP/rep2" --bootstrap 0 --trials 0 >/dev/null \
	|| fail "report by level"
grep -qF '<tr><td>L1</td><td>3</td><td>-0.333</td><td>-0.500</td></tr>' "$TMP/rep2/index.html" \
	|| fail "report: L1 row: $(grep -A4 'id=ranks-level' "$TMP/rep2/index.html")"
grep -qF '<tr><td>L3</td><td>2</td><td>0.816</td><td>0.866</td></tr>' "$TMP/rep2/index.html" || fail "report: L3 row"
grep -q '<table id=ranks-dataset>' "$TMP/rep2/index.html" && fail "report: one dataset, yet a dataset table"

# trends' factor intervals, delta method by hand: gen-a (run 6, 2024: 1 0 1 0 at 100 W) -> gen-b (7,
# 2025: 1 1 1 0 at 50 W). ACC_X 0.75/0.5 = 1.5; relative half-widths z sqrt(0.25/4)/0.75 = z/3 and
# z sqrt((1/3)/4)/0.5 = z sqrt(1/3), together z sqrt(1/9 + 1/3) = 2z/3: half-width 1.5 x 2z/3 = z =
# 1.959964: [-0.459964, 3.459964]. POWER_X 100/50 = 2, neither run's power varies: [2, 2]. IPW_X 3 with
# the same 2z/3: [3 - 2z, 3 + 2z] = [-0.919928, 6.919928].
"$IPW" trends 6 7 --model-meta "$TMP/meta.json" --store "$DB" --ci delta --format csv >"$TMP/out.csv" || fail "trends exit $?"
cat "$TMP/out.csv"
expect_eq "acc x ci" "$(q '[round(float(rows[1][k]), 6) for k in ("accuracy_factor", "accuracy_factor_ci_low", "accuracy_factor_ci_high")]')" \
	"[1.5, -0.459964, 3.459964]"
expect_eq "power x ci" "$(q '[rows[1][k] for k in ("power_factor", "power_factor_ci_low", "power_factor_ci_high")]')" "['2', '2', '2']"
expect_eq "ipw x ci" "$(q '[round(float(rows[1][k]), 6) for k in ("ipw_ratio", "ipw_ratio_ci_low", "ipw_ratio_ci_high")]')" \
	"[3.0, -0.919928, 6.919928]"
expect_eq "span row" "$(q '[rows[2][k] for k in ("period", "power_factor_ci_low", "power_factor_ci_high")]')" "['2024->2025', '2', '2']"
"$IPW" trends 6 7 --model-meta "$TMP/meta.json" --store "$DB" --ci delta --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r[0]["accuracy_factor_ci_low"] is None and r[0]["power_factor_ci_high"] is None, r[0]
assert abs(r[1]["accuracy_factor_ci_high"] - 3.459964) < 1e-6 and r[1]["power_factor_ci_low"] == 2, r[1]
' || fail "trends JSON intervals"
"$IPW" trends 6 7 --model-meta "$TMP/meta.json" --store "$DB" --ci delta >"$TMP/tr.txt" || fail "trends text"
grep -Eq '^2025 .* 3\.000 +1\.500 +2\.000 +\[-0\.920, 6\.920\] +\[-0\.460, 3\.460\] +\[2\.000, 2\.000\]$' "$TMP/tr.txt" \
	|| fail "trends text intervals: $(cat "$TMP/tr.txt")"
grep -q "intervals: delta method (95%; \*_CI: the factors'" "$TMP/tr.txt" || fail "trends: the text names the intervals"
# the bootstrap resamples constant power to the same power: POWER_X stays [2, 2], zero width
"$IPW" trends 6 7 --model-meta "$TMP/meta.json" --store "$DB" --bootstrap 100 --format csv >"$TMP/out.csv" || fail "trends bootstrap"
expect_eq "power x bootstrap" "$(q '[rows[1][k] for k in ("power_factor_ci_low", "power_factor_ci_high")]')" "['2', '2']"
# the report's trends table, the same delta intervals
"$IPW" report 6 7 --store "$DB" --model-meta "$TMP/meta.json" --ci delta --out "$TMP/rep3" --bootstrap 0 --trials 0 >/dev/null \
	|| fail "report trends"
grep -qF '<td>3.000 <span class=ci>[-0.920, 6.920]</span></td><td>1.500 <span class=ci>[-0.460, 3.460]</span></td><td>2.000 <span class=ci>[2.000, 2.000]</span></td>' \
	"$TMP/rep3/index.html" || fail "report trends intervals: $(grep -A6 'id=trends' "$TMP/rep3/index.html")"

# the example GDI scenario (data/gdi/README.md gives each input's source). By hand: Macs 44.8e6 x 40 W
# x 0.25 = 4.48e8 W x 1e-3/W = 448000; other AI PCs 19.127e6 x 40 x 0.25 = 1.9127e8 W x 1e-3 = 191270;
# local 639270. Data centre 1.895e9 W x 1.4e-3 = 2653000. Factor (2653000 + 639270) / 2653000 =
# 3292270 / 2653000 = 1.240961176.
SC="$IPW_TESTS/../data/gdi/example.json"
"$IPW" gdi "$SC" >"$TMP/gdi.txt" || fail "gdi example exit $?"
grep -q 'effective capacity: without local devices 2.653e+06, with 3.29227e+06: 1.241x' "$TMP/gdi.txt" \
	|| fail "gdi example text: $(cat "$TMP/gdi.txt")"
"$IPW" gdi "$SC" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert [c["gdi"] for c in d["devices"]] == [448000, 191270], d["devices"]
assert d["datacenter"]["gdi"] == 2653000 and d["gdi_local"] == 639270, d
assert abs(d["factor"] - 3292270 / 2653000) < 1e-12 and round(d["factor"], 9) == 1.240961176, d["factor"]
' || fail "gdi example JSON"
echo "paper_ranks: ok"
