#!/bin/sh
# ipw report on the analysis test store: the folder holds index.html and
# every plot as PNG and SVG; the page is self-contained (images embedded, no
# external references) and has every section's table. Then headless Chromium
# opens it: the DOM it renders has the tables and images, the images decoded
# (non-zero natural width), and a screenshot is a real picture. Without
# Chromium (Debian's 'chromium') that part is skipped with exit 77 and why.
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
# fontconfig (under cairo's text) keeps a cache it never frees: not ours to report
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
DB="$TMP/a.db"
OUT="$TMP/report"
"$IPW_BUILD/fakes/mkanalysis" "$DB" || fail "mkanalysis"
printf '{"qwen3-1b": [0, 0], "qwen3-2b": [0.1, 0.2], "qwen3-235b": [1, 2]}' >"$TMP/prices.json"
cat >"$TMP/meta.json" <<'J'
{"models": {"qwen3-1b": {"total_params": "1B", "active_params": "1B", "released": "2024"},
 "qwen3-2b": {"total_params": "20B", "active_params": "2B", "released": "2025-01"},
 "qwen3-235b": {"total_params": "235B", "active_params": "22B", "released": "2025-04"}}}
J

# GDP weights (tests/cli/paper.sh has the numbers) and a GDI scenario: their sections in the same page
printf 'math\t3e12\nbio\t1e12\nlaw\t4e12\n' >"$TMP/gdp.tsv"
cat >"$TMP/sc.json" <<'J'
{"devices": [{"name": "laptops", "count": 1e6, "power_w": 50, "duty_cycle": 0.2, "ipw": 4e-3}],
 "datacenter": {"name": "dc", "power_w": 1e7, "ipw": 2e-3}}
J

"$IPW" report 1 2 3 --cloud 3 --store "$DB" --out "$OUT" --prices "$TMP/prices.json" --bootstrap 200 \
	--trials 100 --title "fixture report" --model-meta "$TMP/meta.json" --compute total \
	--daily-queries 80.2e6 --misroute two-sided --weights "$TMP/gdp.tsv" --gdi "$TMP/sc.json" || fail "report exit $?"
for p in pareto ipw ipj coverage routing energy_tokens timeline_run1 subject_ipw; do
	[ -s "$OUT/$p.png" ] || fail "missing $p.png"
	[ -s "$OUT/$p.svg" ] || fail "missing $p.svg"
	head -c 8 "$OUT/$p.png" | od -An -c | grep -q 'P   N   G' || fail "$p.png is not a PNG"
	grep -q '<svg' "$OUT/$p.svg" || fail "$p.svg is not SVG"
	grep -q '<text ' "$OUT/$p.svg" || fail "$p.svg has no text as text"
done
H="$OUT/index.html"
for id in compare coverage routing regressions attribution; do
	grep -q "<table id=$id>" "$H" || fail "no $id table in the page"
done
for id in device ranks ranks-bootstrap levels trends gdp gdi daily; do
	grep -q "<table id=$id>" "$H" || fail "no $id table in the page"
done
# run 1 (math 1/3, bio 1/2): GDP answered right 1.5 T USD of 8 T; laptops 1e6 x 50 W x 0.2 x 4 m/W = 40 k, factor 3
grep -Eq '^<tr><td>1 small</td><td>40\.0%( <span class=ci>[^<]*</span>)?</td><td>37\.5%( <span class=ci>[^<]*</span>)?</td><td>1\.5&nbsp;T&nbsp;USD( <span class=ci>[^<]*</span>)?</td><td>18\.8%' \
	"$H" || fail "GDP row of run 1"
grep -qF '<p id=gdi-capacity>Effective capacity: without local devices 20&nbsp;k, with them 60&nbsp;k: 3.000&times;.</p>' \
	"$H" || fail "GDI capacity"
[ "$(grep -o 'src="data:image/png;base64,' "$H" | wc -l)" -ge 8 ] || fail "fewer than 8 embedded plots"
# the new sections by hand: run 2's device power 34 W (170 J over 5 s busy), FLOPs per query on total
# parameters 2 x 20e9 x 200 = 8 TFLOP; levels: small (1B) is L1 and answers i1, i4; big (20B) L3; cloud L4
grep -q '<td>34&nbsp;W</td>' "$H" || fail "device power of run 2"
grep -q '<td>8&nbsp;TFLOP</td>' "$H" || fail "run 2's FLOPs per query on total parameters"
grep -q 'Compute: FLOPs = 2 &times; total parameters' "$H" || fail "routing's compute basis"
grep -q '<td>L1</td><td>2</td>' "$H" || fail "levels: L1 holds i1 and i4 (small right)"
# IPW per subject (the chart's table): run 1 math 1/3 at 10 W = 33.33 m/W, bio 1/2 at 20 W = 25 m/W; run 2
# math 2/3 at 15 W = 44.44 m/W, bio 0 right; run 3 math 1 at 25 W = 40 m/W, bio 1/2 at 25 W = 20 m/W
for want in '<tr><td>1 small</td><td>25&nbsp;m/W</td><td>33.33&nbsp;m/W</td></tr>' \
	'<tr><td>2 big</td><td>0&nbsp;/W</td><td>44.44&nbsp;m/W</td></tr>' \
	'<tr><td>3 cloud</td><td>20&nbsp;m/W</td><td>40&nbsp;m/W</td></tr>'; do
	grep -qF "$want" "$H" || fail "IPW per subject: no $want: $(grep -A4 '<table id=subject-ipw>' "$H")"
done
grep -q '<td>math</td><td>-0.333</td><td>-0.500</td>' "$H" || fail "rank stability on math"
# the rank bootstrap (analysis_rank_bootstrap, numbers by hand in test_paper.c rank_bootstrap_by_hand): B = the
# page's 200; tau and rho in [-1, 1] with their percentile interval; the share with the same top run
grep -q '<table id=ranks-bootstrap>' "$H" || fail "no rank bootstrap table"
grep -Eq '^<tr><td>B=200</td><td>-?[01]\.[0-9]{3} <span class=ci>\[-?[01]\.[0-9]{3}, -?[01]\.[0-9]{3}\]</span></td><td>-?[01]\.[0-9]{3} <span class=ci>\[[^]]*\]</span></td><td>[0-9.]+%</td></tr>' "$H" \
	|| fail "rank bootstrap row: $(grep -A3 'id=ranks-bootstrap' "$H")"
grep -q "shaded: the Monte Carlo router's 95% band of the trials, energy saved and accuracy kept" "$H" || fail "routing plot's Monte Carlo bands"
# trends: 2024 best run 1 (0.4 / 14 W), 2025 best run 3 (0.8 / 25 W): IPW x1.12 = accuracy x2 x power 14/25
CI='( <span class=ci>[^<]*</span>)?'
grep -Eq "<td>1\.120$CI</td><td>2\.000$CI</td><td>0\.560$CI</td>" "$H" || fail "trends: the 2025 row's factors"
# one number format in tables and plots: run 1's comparison row (accuracy 2/5, IPW 0.4 / 14 W, IPJ 0.4 / 14 J,
# 14 J per query, 70 J / 500 tokens = 140 mJ per token, latency 1 s) and the IPW plot's ticks with SI prefixes
grep -Eq "^<tr><td>1 small</td>.*<td>40\.0%$CI</td><td>28\.57&nbsp;m/W$CI</td><td>28\.57&nbsp;m/J$CI</td><td>14&nbsp;J$CI</td><td>140&nbsp;mJ$CI</td><td>1&nbsp;s$CI</td>" "$H" \
	|| fail "comparison row of run 1: $(grep '^<tr><td>1 small</td>' "$H" | head -1)"
grep -q '>20 m</text>' "$OUT/ipw.svg" || fail "IPW ticks without SI prefixes"
grep -q 'alt="IPW per run with 95% bootstrap interval"' "$H" || fail "IPW plot: the interval method"
grep -q '<img class=plot width=820 height=480' "$H" || fail "images shown at the plot's size"
python3 - "$OUT/routing.png" <<'PY' || fail "PNGs at 2x"
import struct, sys
d = open(sys.argv[1], "rb").read()
assert struct.unpack(">II", d[16:24]) == (1640, 960), struct.unpack(">II", d[16:24])
PY
if grep -Eo '(src|href)="(https?:|//)[^"]*' "$H"; then fail "the page refers to something outside itself"; fi
grep -q 'run 3 (cloud)\|cloud run 3 (cloud)' "$H" || fail "routing names the cloud run"
grep -q '<td>48.0%</td>' "$H" || fail "routing: oracle energy saved 48.0%"
# two-sided misroutes (answerable i1 small 10 J, i2 big 30, i4 small 20; i3, i5 kept on small, wrong there):
# p = 0.8: 0.8 x 60 + 0.2 x 300 + 0.2 x 30 + 0.8 x 200 = 274 J of 500, saved 45.2%; local 0.8 x 3 + 0.2 x 2
# = 2.8 / 5 = 56.0%; accuracy (0.8 x 3 + 0.2 x 2 + 0.8 x 2) / 5 = 88.0% (one-sided 96%); kept wrong
# 0.2 x 2 / 5 = 8.0%. p = 0.6: 288 J, saved 42.4%, local 52.0%, accuracy 76.0%, kept wrong 16.0%
grep -q 'Router errors: two-sided (--misroute two-sided' "$H" || fail "routing: the misroute model is said"
grep -q '<th>accuracy</th><th>kept wrong</th></tr>' "$H" || fail "routing: no kept-wrong column"
grep -Eq '<tr><td>router</td><td>0.80</td><td>exact</td><td>45.2%</td>.*<td>56.0%</td><td>88.0%</td><td>8.0%</td></tr>' "$H" \
	|| fail "routing two-sided p = 0.8: $(grep '<td>router</td><td>0.80</td><td>exact' "$H")"
grep -Eq '<tr><td>router</td><td>0.60</td><td>exact</td><td>42.4%</td>.*<td>52.0%</td><td>76.0%</td><td>16.0%</td></tr>' "$H" \
	|| fail "routing two-sided p = 0.6"
grep -Eq '<tr><td>oracle</td><td>1.00</td><td>exact</td><td>48.0%</td>.*<td>100.0%</td><td>0.0%</td></tr>' "$H" \
	|| fail "routing two-sided: the oracle keeps nothing wrong"
"$IPW" report 1 --store "$DB" --out "$TMP/r5" --misroute both 2>/dev/null; expect_eq "report --misroute both" $? 2
# per day at the paper's 80.2e6 queries (route_per_day, as route simulate): cloud-only 500 J / 5 items
# x 80.2e6 = 8.02e9 J = 2228 kWh; 2.5 mUSD / 5 x 80.2e6 = 40.1 kUSD; 2 x 235e9 x 300 tokens x 80.2e6 =
# 1.131e22 FLOP; the oracle 260 J / 5 x 80.2e6 / 3.6e6 = 1158 kWh
grep -q '<h3 id=daily-section>Per day at 8.02e+07 queries</h3>' "$H" || fail "no per-day section"
grep -qF '<tr><td>cloud-only</td><td>&ndash;</td><td>exact</td><td>2.228&nbsp;MWh</td><td>40.1&nbsp;k&nbsp;USD</td><td>11.31&nbsp;ZFLOP</td></tr>' \
	"$H" || fail "per day: cloud-only row"
grep -qF '<tr><td>oracle</td><td>1.00</td><td>exact</td><td>1.158&nbsp;MWh</td>' "$H" || fail "per day: oracle row"
# a report without --cloud says how to get the routing section; a missing item set says why
"$IPW" report 1 4 --store "$DB" --out "$TMP/r2" --bootstrap 0 --daily-queries 1e6 || fail "report 1 4"
grep -q 'name the cloud baseline with --cloud RUN (the other runs are the local models); the per-day figures of --daily-queries come with it' \
	"$TMP/r2/index.html" || fail "no-cloud note"
"$IPW" report 1 --store "$DB" --out "$TMP/r4" --daily-queries 0 2>/dev/null; expect_eq "report --daily-queries 0" $? 2
grep -q "Coverage not computed: item 'i5' of run 1 is not in run 4" "$TMP/r2/index.html" || fail "coverage note"
grep -q 'No bootstrap of the ranking: --bootstrap 0; <code>ipw ranks --bootstrap N</code> computes it.' "$TMP/r2/index.html" \
	|| fail "rank bootstrap: the --bootstrap 0 note"
"$IPW" report 1 --store "$DB" 2>/dev/null; expect_eq "report without --out" $? 2
"$IPW" report 1 99 --store "$DB" --out "$TMP/r3" 2>/dev/null; expect_eq "report unknown run" $? 3

need_browser "the report was written and checked, but no headless browser to open it"
# the images must decode: a script in a copy of the page records each image's natural width
sed 's|</body>|<script>window.addEventListener("load",function(){var i=document.images,w=[];for(var k=0;k<i.length;k++)w.push(i[k].naturalWidth);var p=document.createElement("pre");p.id="widths";p.textContent=w.join(",");document.body.appendChild(p);});</script></body>|' \
	"$H" >"$OUT/probe.html"
browse --virtual-time-budget=5000 --dump-dom "file://$OUT/probe.html" >"$TMP/dom.html" || fail "chromium --dump-dom failed: $(tail -5 "$TMP/browser.log")"
for id in compare coverage routing daily regressions attribution device subject-ipw ranks ranks-bootstrap levels trends gdp gdi; do
	grep -q "<table id=\"$id\">" "$TMP/dom.html" || fail "rendered DOM has no $id table"
done
# every section by its id and heading, and every figure (local-against-cloud and repeats have their
# tables in tests/cli/paper.sh's rendered pages; here they say why not)
while IFS='|' read -r tag id heading; do
	grep -qF "<$tag id=\"$id\">$heading" "$TMP/dom.html" || fail "rendered DOM has no <$tag id=$id>$heading"
done <<'S'
h2|compare-section|Comparison
h2|device-section|Device power and compute
h2|perplexity-section|Perplexity per watt and per joule
h2|subject-ipw-section|IPW per subject
h2|ranks-section|Rank stability
h2|coverage-section|Coverage
h2|levels-section|Difficulty levels
h2|trends-section|Trends by release year
h2|localcloud-section|Local against cloud
h2|repeats-section|Repeated measurement
h2|gdp-section|GDP-weighted accuracy
h2|gdi-section|Gross domestic intelligence
h2|routing-section|Hybrid routing
h3|daily-section|Per day at 8.02e+07 queries
h2|regression-section|Regressions on token counts
h2|attribution-section|Attribution against run 1 small
h2|timeline-section|Power timelines
S
for f in pareto ipw ipj subject_ipw coverage routing energy_tokens timeline_run1; do
	grep -q "<figure id=\"plot-$f\"><img " "$TMP/dom.html" || fail "rendered DOM has no figure plot-$f"
done
for id in gdi-formulas gdi-assumptions; do
	grep -q "<ul id=\"$id\">" "$TMP/dom.html" || fail "rendered DOM has no $id list"
done
grep -q '<li>factor = with / without</li>' "$TMP/dom.html" || fail "rendered GDI formulas"
grep -q '<td>2.228&nbsp;MWh</td>' "$TMP/dom.html" || fail "rendered per-day energy"
[ "$(grep -o '<img ' "$TMP/dom.html" | wc -l)" -ge 8 ] || fail "rendered DOM has fewer than 8 images"
widths=$(sed -n 's|.*<pre id="widths">\([^<]*\)</pre>.*|\1|p' "$TMP/dom.html")
echo "image widths: $widths"
[ -n "$widths" ] || fail "the probe script did not run"
echo "$widths" | tr ',' '\n' | grep -qx 0 && fail "an image did not decode: $widths"
browse --window-size=1400,2400 --screenshot="$TMP/shot.png" "file://$H" >/dev/null || fail "chromium --screenshot failed"
python3 - "$TMP/shot.png" <<'PY' || fail "screenshot check"
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", d[16:24])
assert (w, h) == (1400, 2400), (w, h)
# decompress the image data and count distinct bytes: a blank page has almost none
i, idat = 8, b""
while i < len(d):
    n, t = struct.unpack(">I4s", d[i:i + 8])
    if t == b"IDAT":
        idat += d[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(idat)
distinct = len(set(raw))
print("screenshot", w, "x", h, len(d), "bytes,", distinct, "distinct byte values")
assert len(d) > 60000 and distinct > 100, "the screenshot looks blank"
PY
echo "report ok"
