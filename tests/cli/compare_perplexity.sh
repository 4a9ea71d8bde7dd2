#!/bin/sh
# Perplexity in ipw compare and ipw report (the loader ipw show uses, src/perplexity.c):
# fakellm returns -(i % 5 + 1)/8 nats for token i (tests/fakes/bin_fakellm.c), so each
# 7-token answer sums -(1+2+3+4+5+1+2)/8 = -2.25 nats: perplexity exp(2.25/7) = 1.3790965.
# --backends none measures no energy: perplexity per watt and per joule are not measured
# (empty in CSV, null in JSON, '-' in the page), never 0. A run without --logprobs has no
# perplexity at all. The per-watt and per-joule numbers by hand: tests/unit/test_paper.c
# (perplexity_per_watt_and_joule_by_hand).
set -u
. "$IPW_TESTS/cli/lib/common.sh"
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --api openai"
DB="$TMP/r.db"

start_fakellm cp --tokens 300
$IPW profile --url "$URL" --dataset random:in=5,out=7,n=2,seed=1 --store "$DB" --name lp --logprobs $COMMON \
	>/dev/null 2>"$TMP/err" || fail "profile exited $?: $(cat "$TMP/err")"
$IPW profile --url "$URL" --dataset random:in=5,out=7,n=1,seed=1 --store "$DB" --name nolp $COMMON \
	>/dev/null 2>"$TMP/err" || fail "profile without logprobs: $(cat "$TMP/err")"
$IPW compare lp nolp --csv --bootstrap 0 --store "$DB" >"$TMP/c.csv" || fail "compare --csv"
cat "$TMP/c.csv"
expect_eq "queries with logprobs" "$(csv_query "$TMP/c.csv" '[r["perplexity_queries"] for r in rows]')" "['2', '0']"
expect_eq "perplexity" "$(csv_query "$TMP/c.csv" 'round(float(rows[0]["perplexity_mean"]), 9)')" 1.379096496
expect_eq "not measured" "$(csv_query "$TMP/c.csv" '[(r["perplexity_per_w"], r["perplexity_per_j"]) for r in rows] + [rows[1]["perplexity_mean"]]')" "[('', ''), ('', ''), '']"
$IPW compare lp --json --bootstrap 0 --store "$DB" | python3 -c '
import json, math, sys
r = json.load(sys.stdin)["runs"][0]
assert abs(r["perplexity_mean"] - math.exp(2.25 / 7)) < 1e-12, r
assert r["perplexity_per_w"] is None and r["perplexity_per_j"] is None, r
' || fail "compare --json perplexity"
$IPW compare lp nolp --bootstrap 0 --store "$DB" >"$TMP/c.txt" || fail "compare text"
grep -q 'PPL/W' "$TMP/c.txt" && grep -q '1.3791' "$TMP/c.txt" || fail "compare text: $(cat "$TMP/c.txt")"
grep -q "PPL: mean perplexity per query" "$TMP/c.txt" || fail "compare text: the note"
# the report's perplexity table: run lp 2 of 2 queries, 14 tokens, 1.3791 (pooled the same), no energy
$IPW report lp nolp --store "$DB" --out "$TMP/rep" --bootstrap 0 --trials 0 >/dev/null 2>"$TMP/err" \
	|| fail "report: $(cat "$TMP/err")"
H="$TMP/rep/index.html"
grep -q '<h2 id=perplexity-section>Perplexity per watt and per joule</h2>' "$H" || fail "report: no perplexity section"
grep -qF '<td>2 of 2</td><td>14</td><td>1.3791</td><td>1.3791</td><td>0</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td></tr>' "$H" \
	|| fail "report: run lp's perplexity row: $(grep -o '<table id=perplexity>.*' "$H" | head -c 1500)"
grep -qF '<td>0 of 1</td><td>0</td><td>&ndash;</td>' "$H" || fail "report: run nolp not measured"
# the perplexity table as headless Chromium renders it (SKIP, exit 77, without a browser, after the rest)
need_browser "compare and the page were checked, but no headless browser to render the perplexity table"
browse --virtual-time-budget=3000 --dump-dom "file://$H" >"$TMP/dom.html" || fail "chromium --dump-dom: $(tail -3 "$TMP/browser.log")"
grep -q '<h2 id="perplexity-section">Perplexity per watt and per joule</h2>' "$TMP/dom.html" || fail "rendered: no perplexity heading"
grep -q '<table id="perplexity">' "$TMP/dom.html" || fail "rendered: no perplexity table"
grep -q '<td>2 of 2</td><td>14</td><td>1.3791</td>' "$TMP/dom.html" || fail "rendered: run lp's perplexity"
echo ok
