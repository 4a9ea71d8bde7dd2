#!/bin/sh
# load_writer_bench.sh - what the load run's store writer changes, two builds
# side by side in one run (so a busy machine slows both alike): the TTFT that
# the whole `ipw profile` pipeline adds at paced streams (as bench/stream_bench.sh
# measures it: stored ttft_s minus the fake server's known TTFT), and the time
# from a large load's last answer (the fake server's wall clock, GET /x/stats)
# to ipw's exit: attribution, the energy update, scoring and committing what is
# left. Prints Markdown tables (bench/RESULTS.md keeps the runs).
#   bench/load_writer_bench.sh BEFORE_BUILD AFTER_BUILD [--smoke]
# Environment: LEVELS (default "64 256"), ROUNDS (default 3: runs per build and
# level, alternating builds), BIG (default 20000: requests of the large load; 0 skips it).
# fakellm comes from FAKE_BUILD (default build/).
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 BEFORE_BUILD AFTER_BUILD [--smoke]" >&2; exit 2; }
BB=$1 AB=$2
F=${FAKE_BUILD:-build}
LEVELS=${LEVELS:-"64 256"} ROUNDS=${ROUNDS:-3} BIG=${BIG:-20000} PER=3 PACE=50 TOK=16
if [ "${3:-}" = --smoke ]; then LEVELS="4" ROUNDS=1 BIG=200 PER=2 PACE=5 TOK=4; fi
T=$(mktemp -d)
S=
trap '[ -z "$S" ] || kill $S 2>/dev/null || true; rm -rf "$T"' EXIT INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# start_fake TOKENS TTFT_MS DELAY_MS: a fake server; sets URL and S
start_fake() {
	[ -z "$S" ] || { kill $S 2>/dev/null || true; wait $S 2>/dev/null || true; }
	rm -f "$T/port"
	"$F/fakes/fakellm" --port 0 --port-file "$T/port" --tokens "$1" --ttft-ms "$2" --token-delay-ms "$3" \
		--lifetime-s 3600 </dev/null >/dev/null 2>&1 &
	S=$!
	i=0
	while [ ! -s "$T/port" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
	URL="http://127.0.0.1:$(cat "$T/port")"
}

python3 -c "
import json
for i in range(2000):
    print(json.dumps({'id': f'q{i}', 'task': 'exact', 'subject': 'bench', 'problem': f'Say {i}.', 'answer': str(i)}))
" >"$T/items.jsonl"
echo "before: $BB; after: $AB; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# profile BUILD DB C N: one load run into DB
profile() {
	rm -f "$2"*
	env IPW_FAKE_PROFILE='gpu0=const:200' "$1/ipw" profile --url "$URL" --backends fake --idle-seconds 0 \
		--warmup 0 --concurrency "$3" --requests "$4" --dataset "$T/items.jsonl" --store "$2" --timeout 300 \
		--quiet >"$T/prof.out" 2>&1 || { echo "ipw profile ($1) failed: $(tail -3 "$T/prof.out")" >&2; exit 1; }
}

start_fake "$TOK" "$PACE" "$PACE"
echo "Paced server: first event after $PACE ms, then one every $PACE ms, $TOK events per request; $PER requests per"
echo "stream; added TTFT = stored ttft_s - $PACE ms, pooled over $ROUNDS runs per build (alternating builds)."
echo
echo "Rows \"after the first N\": the requests sent once the first wave (N new connections at once, the same"
echo "client code in both builds) has ended; the writer runs while these are in flight."
echo
echo "| streams | requests per run | requests | before p50 (ms) | before p99 (ms) | after p50 (ms) | after p99 (ms) | p50 after/before | p99 after/before |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $LEVELS; do
	n=$((c * PER))
	: >"$T/before.ttft"
	: >"$T/after.ttft"
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		for which in before after; do
			[ $which = before ] && b=$BB || b=$AB
			profile "$b" "$T/db" "$c" "$n"
			python3 -c "
import sqlite3, sys
for (seq, t) in sqlite3.connect(sys.argv[1]).execute(\"select seq, ttft_s from queries where status='ok' and ttft_s is not null\"):
    print(seq, t)" "$T/db" >>"$T/$which.ttft"
		done
		r=$((r + 1))
	done
	python3 - "$T/before.ttft" "$T/after.ttft" "$c" "$n" "$PACE" <<'PY'
import sys
c, pace = int(sys.argv[3]), float(sys.argv[5]) / 1e3
def load(p, steady):
    v = []
    for line in open(p):
        seq, t = line.split()
        if not steady or int(seq) >= c:
            v.append((float(t) - pace) * 1e3)
    return sorted(v)
def pct(v, q):
    k = (len(v) - 1) * q; i = int(k)
    return v[i] + (v[min(i + 1, len(v) - 1)] - v[i]) * (k - i) if v else float('nan')
for steady, what in ((0, "all"), (1, "after the first %d" % c)):
    b, a = load(sys.argv[1], steady), load(sys.argv[2], steady)
    b50, b99, a50, a99 = pct(b, .5), pct(b, .99), pct(a, .5), pct(a, .99)
    print(f"| {c} | {sys.argv[4]} | {what} | {b50:.2f} | {b99:.2f} | {a50:.2f} | {a99:.2f} | {a50 / b50:.2f} | {a99 / b99:.2f} |")
PY
done
echo

# ---- after the last answer of a large load -----------------------------------
[ "$BIG" -gt 0 ] || exit 0
start_fake 16 0 0
echo "Unpaced server (16 tokens, no delays), $BIG requests at concurrency 64 over 2,000 graded items (scored),"
echo "fake telemetry, --idle-seconds 0: seconds from the server's last answer to ipw's exit (wall clock), and"
echo "the whole run."
echo
echo "| build | requests stored | after the last answer (s) | whole run (s) |"
echo "|---|---|---|---|"
for which in before after; do
	[ $which = before ] && b=$BB || b=$AB
	t0=$(date +%s.%N)
	profile "$b" "$T/big.db" 64 "$BIG"
	t1=$(date +%s.%N)
	python3 - "$URL" "$T/big.db" "$t0" "$t1" "$which" <<'PY'
import json, sqlite3, sys, urllib.request
st = json.load(urllib.request.urlopen(sys.argv[1] + "/x/stats"))
n = sqlite3.connect(sys.argv[2]).execute("select count(*) from queries").fetchone()[0]
t0, t1 = float(sys.argv[3]), float(sys.argv[4])
print(f"| {sys.argv[5]} | {n} | {t1 - st['last_answer_wall_s']:.2f} | {t1 - t0:.2f} |")
PY
done
