#!/bin/sh
# stream_bench.sh - what the load generator costs, in one run, for the build in
# IPW_BUILD (default build/): instructions per streamed event (callgrind, so the
# count does not depend on how busy the machine is; also the marginal cost of one
# more event, from a second run with 128-event streams), the TTFT that the whole
# `ipw profile` pipeline and bench/client_bench add at 1, 64, 256 and 1,000
# paced streams (closed loop: waves of simultaneous starts; and open loop:
# Poisson arrivals keeping as many streams open, starts spread), client CPU
# seconds per 1,000 tokens, memory per open stream and the most streams
# sustained with no failure. Prints Markdown tables (bench/RESULTS.md keeps the
# runs); writes nothing in the tree.
#   bench/stream_bench.sh [--smoke]     (--smoke: tiny sizes, for make bench-smoke)
# Environment: LEVELS, OPEN_LEVELS (stream counts of the two loads), ONLY_TTFT=1
# (the TTFT table alone), MAX_STREAMS, IPW_BUILD, FAKE_BUILD.
# Needs valgrind for the instruction count (the row says so when it is absent).
set -eu
cd "$(dirname "$0")/.."
B=${IPW_BUILD:-build}
SMOKE=0
[ "${1:-}" = --smoke ] && SMOKE=1
# fakellm and the bench program always come from the current tree's build (FAKE_BUILD);
# IPW_BUILD may point at an older build to measure "before".
F=${FAKE_BUILD:-build}
T=$(mktemp -d)
S=
trap '[ -z "$S" ] || kill $S 2>/dev/null || true; rm -rf "$T"' EXIT INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# start_fake TOKENS TTFT_MS DELAY_MS: a fake server; sets URL and S
start_fake() {
	[ -z "$S" ] || { kill $S 2>/dev/null || true; wait $S 2>/dev/null || true; }
	rm -f "$T/port"
	"$F/fakes/fakellm" --port 0 --port-file "$T/port" --tokens "$1" --ttft-ms "$2" --token-delay-ms "$3" \
		--lifetime-s 900 </dev/null >/dev/null 2>&1 &
	S=$!
	i=0
	while [ ! -s "$T/port" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
	URL="http://127.0.0.1:$(cat "$T/port")"
}

if [ $SMOKE = 1 ]; then
	CG_N=10 LEVELS="1 8" PER=2 OPEN_LEVELS=8 OPEN_PER=3 MEM_LO=4 MEM_HI=32 MAXS=64 TOK=4 PACE=5 SLOW=100
else
	CG_N=200 LEVELS=${LEVELS:-"1 64 256 1000"} PER=3 OPEN_LEVELS=${OPEN_LEVELS:-"64 256 1000"} OPEN_PER=4
	MEM_LO=10 MEM_HI=1000 MAXS=${MAX_STREAMS:-10000} TOK=16 PACE=50 SLOW=1000
fi
DUR_MS=$((TOK * PACE))   # a paced stream: the first event after PACE ms, then one every PACE ms
echo "build: $B; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# ---- instructions per streamed event ---------------------------------------
# count_instr TOKENS: callgrind over client_bench against a fake server of TOKENS events a stream;
# sets total (the whole process) and parse (stream_parser_feed, inclusive)
count_instr() {
	start_fake "$1" 0 0
	valgrind --tool=callgrind --callgrind-out-file="$T/cg" "$B/bench/client_bench" --url "$URL" --n "$CG_N" \
		--concurrency 8 >/dev/null 2>"$T/cg.err"
	total=$(sed -n 's/.*Collected : //p' "$T/cg.err")
	parse=$(callgrind_annotate --inclusive=yes "$T/cg" 2>/dev/null |
		sed -n 's/^ *\([0-9,]*\) .*src\/client.c:stream_parser_feed .*/\1/p' | head -1 | tr -d ,)
	parse=${parse:-0}
}
if [ "${ONLY_TTFT:-0}" = 1 ]; then
	echo "(ONLY_TTFT=1: instructions, unpaced CPU, memory and the most streams not measured)"
elif command -v valgrind >/dev/null; then
	count_instr 128
	total2=$total parse2=$parse
	count_instr 64
	events=$(( (CG_N + 20) * 64 ))   # client_bench warms up with 20 requests first
	echo "| instructions (callgrind, client_bench: $((CG_N + 20)) streams x 64 events, concurrency 8) | per event |"
	echo "|---|---|"
	echo "| whole process (start-up, libcurl, request bodies, parsing) | $(( total / events )) |"
	echo "| stream_parser_feed (line splitting, parsing, recording) | $(( parse / events )) |"
	# the same requests with 128 events a stream: what one more event costs, start-up and per-request work aside
	echo "| marginal, whole process: (run of 128-event streams - this run) / $events more events | $(( (total2 - total) / events )) |"
	echo "| marginal, stream_parser_feed: the same difference / $events | $(( (parse2 - parse) / events )) |"
else
	echo "| instructions per event | not measured: valgrind is not installed |"
fi
echo

# ---- added TTFT at paced streams: the whole pipeline and the client alone ----
start_fake "$TOK" "$PACE" "$PACE"
python3 -c "
import json
for i in range(2000):
    print(json.dumps({'id': f'q{i}', 'task': 'exact', 'subject': 'bench', 'problem': f'Say {i}.', 'answer': str(i)}))
" >"$T/items.jsonl"
echo "Paced server: first event after $PACE ms, then one every $PACE ms, $TOK events per request."
echo "TTFT added = measured TTFT - $PACE ms (so the fake server's own lateness on this shared machine counts as"
echo "added). ipw profile: the stored ttft_s of every query; client_bench: the same quantity in one process."
echo
# ttft_row MODE C N: one table row; MODE closed (--concurrency C: C requests start together, then each
# finished one starts the next, so a paced load moves in waves of C) or open (Poisson arrivals at
# C / stream duration a second: about C streams open at once, their starts spread over time)
ttft_row() {
	mode=$1 c=$2 n=$3
	if [ "$mode" = open ]; then
		rate=$(awk -v c="$c" -v d="$DUR_MS" 'BEGIN { printf "%.3f", c * 1000 / d }')
		# both warm 2C connections first (the pipeline's warm-up opens --max-concurrency of them; a
		# cap of 2C is never reached by Poisson arrivals averaging C open streams)
		pl="--rate $rate --max-concurrency $((2 * c))" cl="--rate $rate --concurrency $((2 * c))"
	else
		pl="--concurrency $c" cl="--concurrency $c"
	fi
	rm -f "$T/db"*
	# shellcheck disable=SC2086
	/usr/bin/env time -f "%U %S" -o "$T/time" env IPW_FAKE_PROFILE='gpu0=const:200' "$B/ipw" profile --url "$URL" \
		--api openai --backends fake --idle-seconds 0 --warmup 1 $pl --requests "$n" --dataset "$T/items.jsonl" \
		--store "$T/db" --timeout 120 --quiet >"$T/prof.out" 2>&1 || true
	# shellcheck disable=SC2086
	bench=$("$B/bench/client_bench" --url "$URL" --n "$n" $cl --server-ttft-ms "$PACE" --extra 1 2>/dev/null || true)
	python3 - "$T/db" "$c" "$n" "$PACE" "$T/time" "$bench" "$mode" <<'PY'
import json, sqlite3, sys
db, c, n, pace, tfile, bench, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]) / 1e3, sys.argv[5], sys.argv[6], sys.argv[7]
def pct(v, q):
    v = sorted(v); k = (len(v) - 1) * q; i = int(k)
    return v[i] + (v[min(i + 1, len(v) - 1)] - v[i]) * (k - i) if v else float('nan')
try:
    con = sqlite3.connect(db)
    rows = con.execute("select ttft_s from queries where status='ok' and ttft_s is not null").fetchall()
    failed = con.execute("select count(*) from queries where status!='ok'").fetchone()[0]
    tok = con.execute("select coalesce(sum(completion_tokens),0) from queries").fetchone()[0]
    missing = n - con.execute("select count(*) from queries").fetchone()[0]
    sj = json.loads(con.execute("select summary_json from runs").fetchone()[0] or "{}")
    sd = sj.get("latency", {}).get("client_send_delay_s", {}).get("p99")
    sd99 = sd * 1e3 if isinstance(sd, (int, float)) else float('nan')
except Exception:
    rows, failed, tok, missing, sd99 = [], 'n/a', 0, n, float('nan')
added = [(r[0] - pace) * 1e3 for r in rows]
u, s_ = (float(x) for x in open(tfile).read().split()[-2:])
cpu = (u + s_) / tok * 1e3 if tok else float('nan')
bl = [x.strip() for x in bench.split('|')]
# client_bench: "| api | conc | n | failed | q/s | tok/s | added vs server send p50 | p99 (us) | cpu |"
# then "extra | p50us | p99us | cpu/1k | rss |" (TTFT - configured)
try:
    bfail = bl[4]
    s50, s99 = float(bl[7]) / 1e3, float(bl[8]) / 1e3
    ex = bench.split('extra')[1].split('|')
    b50, b99 = float(ex[1]) / 1e3, float(ex[2]) / 1e3
except Exception:
    bfail, b50, b99, s50, s99 = 'n/a', float('nan'), float('nan'), float('nan'), float('nan')
p50, p99 = pct(added, .5), pct(added, .99)
fail = f"{failed}{' + %d not stored' % missing if missing else ''}"
print(f"| {mode} | {c} | {n} | {p50:.2f} | {p99:.2f} | {b50:.2f} | {b99:.2f} | {p99 - b99:+.2f} | {s50:.2f} / {s99:.2f} | {sd99:.2f} | {cpu:.4f} | {fail} / {bfail} |")
PY
}
echo "Two loads: closed (--concurrency C: C requests start together and each finished one starts the next, so"
echo "a paced load moves in waves of C arrivals within a millisecond) and open (Poisson arrivals at C / $DUR_MS ms"
echo "a second, the stream's duration: about C streams open at once once the load has filled, their starts spread)."
echo "\"After the server's send\" is client_bench's own receive delay: its first-event time minus the fake"
echo "server's send time stamped in the event (x_server_t_ns), which leaves the server's lateness out."
echo "\"Own send delay\": how long ipw profile's requests waited in its loop before libcurl started on them"
echo "(latency.client_send_delay_s of the run's summary; not part of TTFT, which counts from the send)."
echo "Both clients use the OpenAI API."
echo
echo "| load | streams | requests | ipw profile added TTFT p50 (ms) | p99 (ms) | client_bench p50 (ms) | p99 (ms) | p99 difference (ms) | client_bench after the server's send p50 / p99 (ms) | ipw profile's own send delay p99 (ms) | ipw CPU s / 1k tokens | failed (profile/bench) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for c in $LEVELS; do
	ttft_row closed "$c" $((c * PER))
done
for c in $OPEN_LEVELS; do
	ttft_row open "$c" $((c * OPEN_PER))
done
echo
[ "${ONLY_TTFT:-0}" = 1 ] && exit 0

# ---- CPU per 1,000 tokens, unpaced ------------------------------------------
start_fake 64 0 0
echo "| unpaced server, client_bench | CPU s per 1,000 tokens |"
echo "|---|---|"
for c in 1 8; do
	line=$("$B/bench/client_bench" --url "$URL" --n $((CG_N * 2)) --concurrency $c --extra 1)
	echo "| concurrency $c | $(echo "$line" | sed -n 's/^extra | [^|]*| [^|]*| \([^|]*\)|.*/\1/p') |"
done
echo

# ---- memory per stream and the most streams sustained -----------------------
# slow streams (SLOW ms to the first token and between events): every stream is open at once
start_fake 3 $SLOW $SLOW
rss() { "$B/bench/client_bench" --url "$URL" --n "$1" --concurrency "$1" --extra 1 2>"$T/err" | sed -n 's/^extra |.*| \([0-9]*\) |$/\1/p'; }
lo=$(rss $MEM_LO)
hi=$(rss $MEM_HI)
echo "| open streams | peak RSS (KB) |"
echo "|---|---|"
echo "| $MEM_LO | $lo |"
echo "| $MEM_HI | $hi |"
echo "| memory per stream | $(( (hi - lo) / (MEM_HI - MEM_LO) )) KB |"
echo
line=$("$B/bench/client_bench" --url "$URL" --n "$MAXS" --concurrency "$MAXS" --extra 1 2>"$T/err" || true)
failed=$(echo "$line" | head -1 | cut -d'|' -f5 | tr -d ' ')
echo "| streams at once (file limit $(ulimit -n)) | failed | peak RSS (KB) |"
echo "|---|---|---|"
echo "| $MAXS | ${failed:-all (client_bench did not finish: $(head -c 200 "$T/err"))} | $(echo "$line" | sed -n 's/^extra |.*| \([0-9]*\) |$/\1/p') |"
