#!/bin/sh
# The reference models (models/ref-{s,m,l}.gguf) served by llama.cpp built with
# CUDA on the lent H200, profiled by ipw on the `ref` suite, then scored: accuracy,
# IPW and IPJ per model for bench/RESULTS.md (issue 11). Needs .gpu/ (bench/gpu/carry.sh)
# and the llama.cpp source as .llama-src.tgz (see bench/RESULTS.md for the command).
#   LLAMA_BUILD=DIR   where to build (default .llama-build; kept while the machine stays warm)
#   N=600             items of `ref`;  IDLE=5  idle-baseline seconds
set -u
sh "$(dirname "$0")/unpack.sh" || exit 1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
B=${LLAMA_BUILD:-$PWD/.llama-build}
N=${N:-600}
IDLE=${IDLE:-5}
export LD_LIBRARY_PATH="$PWD/.gpu/lib"
if [ ! -x "$B/build/bin/llama-server" ]; then
	mkdir -p "$B/src" && tar xzf .llama-src.tgz -C "$B/src" || exit 1
	t0=$(date +%s)
	cmake -S "$B/src" -B "$B/build" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAMA_CURL=OFF \
		-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 &&
		cmake --build "$B/build" --target llama-server -j16 >>"$OUT/cmake.log" 2>&1 ||
		{ tail -30 "$OUT/cmake.log"; exit 1; }
	echo "llama-server (CUDA, sm_90) built in $(($(date +%s) - t0)) s"
fi
DB="$OUT/ref-h200.db"
rm -f "$DB"*
PORT=8013
for m in s m l; do
	"$B/build/bin/llama-server" -m "models/ref-$m.gguf" --port $PORT --host 127.0.0.1 -ngl 99 -c 2048 \
		-np 1 >"$OUT/server-$m.log" 2>&1 &
	S=$!
	until python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/health', timeout=2)" 2>/dev/null; do
		kill -0 $S 2>/dev/null || { tail "$OUT/server-$m.log"; exit 1; }
		sleep 0.5
	done
	.gpu/ipw profile --url "http://127.0.0.1:$PORT" --dataset "ref:$N" --temperature 0 --max-tokens 32 \
		--warmup 2 --idle-seconds "$IDLE" --backends nvidia --no-host --quiet --store "$DB" \
		--name "ref-$m-h200" >"$OUT/profile-$m.out" 2>"$OUT/profile-$m.err" || tail -5 "$OUT/profile-$m.err"
	kill $S; wait $S 2>/dev/null
	.gpu/ipw score --store "$DB" "ref-$m-h200" >"$OUT/score-$m.out" 2>&1 || tail -5 "$OUT/score-$m.out"
	.gpu/ipw show --store "$DB" "ref-$m-h200" >"$OUT/show-$m.out" 2>&1
	grep -E -i "accuracy|ipw|ipj|energy|queries" "$OUT/show-$m.out" | head -12
done
.gpu/ipw compare --store "$DB" ref-s-h200 ref-m-h200 ref-l-h200 >"$OUT/compare.out" 2>&1
cat "$OUT/compare.out"
