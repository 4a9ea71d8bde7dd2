#!/bin/sh
# Real-GPU validation of load generation and per-request energy (issue 5). Run on
# a machine with an NVIDIA GPU, PyTorch and aiohttp, from the repository root,
# after bench/gpu/carry.sh built .gpu/ here. Under 9 minutes:
#   0. ipw profile --serve bench/gpu/server.py: device idle before the server,
#      server idle, and the decode rate (to size the requests below)
#   1. 20 identical requests one at a time, each >= 1 s: CV of per-query energy,
#      sum of per-query energy vs the counter over the span
#   2. requests from ~0.25 s to ~10 s: energy vs output tokens, fit and R^2
#   3. concurrency 1..64 (--sweep), identical requests: conservation, CV, J/token
#   4. the naive rule (nearest samples) on the same data, next to ipw's
#   5. ipw calibrate on the GPU
# Results: $OUT/validate_load.json (and the store $OUT/load.db); a summary is printed.
set -u
sh "$(dirname "$0")/unpack.sh" || exit 1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
IPW=${IPW:-$PWD/.gpu/ipw}          # overridable, with BACKENDS and SERVER_ARGS, for a dry run
PORT=${PORT:-8011}
URL="http://127.0.0.1:$PORT"
DB="$OUT/load.db"
DS=bench/gpu/data/identical_prompts.jsonl
BACKENDS=${BACKENDS:-nvidia}
PYTHON=${PYTHON:-python3}              # the one with torch and aiohttp
LENGTHS=${LENGTHS:-0.25 0.4 0.63 1 1.6 2.5 4 6.3 10}
CONC=${CONC:-1,2,4,8,16,32,64}
CONC_SECONDS=${CONC_SECONDS:-8}
SERVER="$PYTHON bench/gpu/server.py --port $PORT --max-batch 64 --max-seq 4096 ${SERVER_ARGS:-}"
T0=$(date +%s)
rm -f "$DB" "$DB-wal" "$DB-shm"
COMMON="--url $URL --store $DB --backends $BACKENDS --no-host --quiet --dataset $DS"
elapsed() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader || true

elapsed "0. --serve: idle before and with the server; decode rate"
timeout 240 $IPW profile --serve "$SERVER" --serve-timeout 180 --serve-log "$OUT/server-probe.log" \
	--name probe --limit 3 --max-tokens 256 --idle-seconds 5 --warmup 2 $COMMON >"$OUT/probe.txt" 2>&1 ||
	{ cat "$OUT/probe.txt"; tail -20 "$OUT/server-probe.log"; exit 1; }
RATE=$(python3 -c '
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT completion_tokens, e2e_s - ttft_s FROM queries q JOIN runs r ON r.id = q.run_id WHERE r.name = ? AND q.status = ?", ("probe", "ok")).fetchall()
print(round(sum(n for n, _ in rows) / sum(d for _, d in rows), 1))' "$DB")
TOK1=$(python3 -c "import sys; print(min(3000, max(32, int(1.5 * float(sys.argv[1])))))" "$RATE")
elapsed "decode rate $RATE tokens/s at batch 1: $TOK1 tokens per 1.5 s request"

elapsed "starting the server for the remaining steps"
$SERVER >"$OUT/server.log" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null' EXIT INT TERM
i=0
until python3 -c 'import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + "/health", timeout=2)' "$URL" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 600 ] && { echo "server did not start"; tail -20 "$OUT/server.log"; exit 1; }
	kill -0 $SPID 2>/dev/null || { echo "server died"; tail -20 "$OUT/server.log"; exit 1; }
	sleep 0.3
done

elapsed "1. 20 identical requests one at a time, $TOK1 tokens each"
timeout 150 $IPW profile --name seq20 --limit 20 --max-tokens "$TOK1" --idle-seconds 3 --warmup 2 $COMMON \
	>"$OUT/seq20.txt" 2>&1 || { cat "$OUT/seq20.txt"; exit 1; }

elapsed "2. durations from 0.25 s to 10 s"
for t in $LENGTHS; do
	n=$(python3 -c "import sys; print(min(4000, max(2, int(float(sys.argv[1]) * float(sys.argv[2])))))" "$t" "$RATE")
	for rep in 1 2; do
		timeout 60 $IPW profile --name "len-$t-$rep" --group lengths --limit 1 --max-tokens "$n" --idle-seconds 0 \
			--warmup 0 $COMMON >>"$OUT/lengths.txt" 2>&1 || { tail -20 "$OUT/lengths.txt"; exit 1; }
	done
done

elapsed "3. concurrency $CONC (one sweep), identical requests of $TOK1 tokens, $CONC_SECONDS s per point"
timeout 300 $IPW profile --name conc --group concurrency --sweep "concurrency=$CONC" --duration "$CONC_SECONDS" \
	--max-tokens "$TOK1" --idle-seconds 2 --warmup 1 $COMMON >"$OUT/conc.txt" 2>&1 ||
	{ cat "$OUT/conc.txt"; exit 1; }
grep -E "^run |energy per output token  " "$OUT/conc.txt"
kill $SPID 2>/dev/null
wait $SPID 2>/dev/null
trap - EXIT INT TERM

elapsed "5. ipw calibrate on the GPU (server stopped)"
sleep 3
timeout 120 $IPW calibrate --load gpu --backends $BACKENDS --no-host --json >"$OUT/calibrate.json" 2>"$OUT/calibrate.err" ||
	{ cat "$OUT/calibrate.err"; }

elapsed "4. analysis (ipw's rule and the naive rule)"
python3 bench/gpu/validate_load.py "$DB" "$OUT" || exit 1
elapsed "done"
