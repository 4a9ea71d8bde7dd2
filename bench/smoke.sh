#!/bin/sh
# smoke.sh - runs every benchmark once at a tiny size, so that a benchmark that
# no longer builds or runs fails CI (`make bench-smoke`, called by `make check`).
# The figures it prints mean nothing at this size; bench/RESULTS.md has the real
# runs. Writes nothing in the tree. Takes well under a minute.
set -eu
cd "$(dirname "$0")/.."
B=${IPW_BUILD:-build}
T=$(mktemp -d)
S=
trap '[ -z "$S" ] || kill $S 2>/dev/null; rm -rf "$T"' EXIT INT TERM
step() { echo "bench-smoke: $*"; }

"$B/fakes/fakellm" --port 0 --port-file "$T/port" --tokens 8 --lifetime-s 120 </dev/null >/dev/null 2>&1 &
S=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
URL="http://127.0.0.1:$(cat "$T/port")"

for api in openai ollama; do
	step "client_bench --api $api"
	"$B/bench/client_bench" --url "$URL" --api "$api" --n 40 --concurrency 4
done

step "stream_bench.sh --smoke (instructions per event, pipeline TTFT, CPU, memory, streams)"
IPW_BUILD=$B sh bench/stream_bench.sh --smoke

step "load_writer_bench.sh --smoke (pipeline TTFT and the time after a load's last answer, one build twice)"
FAKE_BUILD=$B sh bench/load_writer_bench.sh "$B" "$B" --smoke

step "router_bench.sh --smoke (TTFT the router adds, tokens/s through it, memory per stream)"
sh bench/router_bench.sh "$B" --smoke

step "analysis_gen + analysis commands (2 runs x 300 items)"
"$B/bench/analysis_gen" "$T/a.db" 2 300 >/dev/null
"$B/ipw" coverage 1 2 --store "$T/a.db" >/dev/null
"$B/ipw" route simulate --local 1 --cloud 2 --trials 5 --store "$T/a.db" >/dev/null
"$B/ipw" compare 1 2 --store "$T/a.db" >/dev/null

step "profile_bench.sh (10 queries x 8 tokens)"
kill $S; wait $S 2>/dev/null || true; S=
IPW_BUILD=$B sh bench/profile_bench.sh 10 8

step "gpu_window (needs an NVIDIA GPU: without one it must say so and exit 1)"
if "$B/bench/gpu_window" 0.2 >"$T/gw" 2>"$T/gw.err"; then
	grep -q '^# cpu_s' "$T/gw"
else
	grep -q 'no NVIDIA GPU' "$T/gw.err"
fi

if [ -x "${IPW_LLAMA_SERVER:-${IPW_LLAMA_CACHE:-/var/cache/ipw-llama}/build/bin/llama-server}" ]; then
	step "engine_bench.sh (q8_0, 1 thread, 16 prompt + 8 generated tokens)"
	IPW_BUILD=$(pwd)/$B sh bench/engine_bench.sh q8_0 1 16 8
else
	step "engine_bench.sh skipped: no llama-server built (scripts/build-llama-server.sh)"
fi
echo "bench-smoke: ok"
