#!/bin/sh
# Agreement of the built-in engine (src/engine/) with llama.cpp: random-weight GGUFs (one with tied output)
# of each architecture and weight type (scripts/make-test-gguf.py), tokenized by
# build/fakes/engine_dump and by llama-server's /tokenize (200+ strings), greedy
# continuations of 64 tokens and top log-probabilities compared with /completion.
# Skips (77) when llama-server has not been built; with IPW_REQUIRE_LLAMA=1 (set by `make check`
# once it has built llama-server) every such reason is a failure instead.
set -u
CACHE=${IPW_LLAMA_CACHE:-/var/cache/ipw-llama}
SERVER=${IPW_LLAMA_SERVER:-$CACHE/build/bin/llama-server}
SRC=${IPW_LLAMA_SRC:-$CACHE/src}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DUMP=${IPW_BUILD:-$ROOT/build}/fakes/engine_dump
skip() {
	if [ "${IPW_REQUIRE_LLAMA:-0}" = 1 ]; then
		echo "FAIL: $* (IPW_REQUIRE_LLAMA=1: make check requires the llama.cpp agreement test)"; exit 1
	fi
	echo "SKIP: $*"; exit 77
}
fail() { echo "FAIL: $*"; [ -f "$TMP/server.log" ] && tail -5 "$TMP/server.log"; exit 1; }
[ -x "$SERVER" ] || skip "llama-server not built ($SERVER missing); build it with scripts/build-llama-server.sh"
[ -d "$SRC/gguf-py" ] || skip "llama.cpp source with gguf-py/ not found at $SRC"
[ -x "$DUMP" ] || fail "$DUMP not built (make fakes)"
PY=""
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy, yaml' >/dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || skip "no python3 with numpy and yaml"
TMP=$(mktemp -d)
SPID=""
cleanup() { [ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PY" "$HERE/engine_strings.py" >"$TMP/strings.json" || fail "cannot write the test strings"

start_server() {
	for attempt in 1 2 3; do
		PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		"$SERVER" -m "$1" --host 127.0.0.1 --port "$PORT" -c 512 -np 1 -t 1 -ctk f32 -ctv f32 -fa off \
			>"$TMP/server.log" 2>&1 &
		SPID=$!
		i=0
		while [ $i -lt 300 ]; do
			kill -0 "$SPID" 2>/dev/null || break
			[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = 200 ] && return 0
			sleep 0.2; i=$((i + 1))
		done
		kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=""
	done
	return 1
}
stop_server() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=""; }

# arch type tokenizer tolerance
for cfg in "llama f32 spm 1e-3" "llama f16 bpe 1e-2" "llama q8_0 spm 1e-2" "llama bf16 spm 1e-2" \
	   "qwen2 f32 bpe 1e-3" "qwen2 f16 bpe 1e-2" "qwen2 q8_0 bpe 1e-2" \
	   "qwen3 f32 bpe 1e-3" "qwen3 f16 bpe 1e-2" "qwen3 q8_0 bpe 1e-2" "qwen2 q4_0 bpe 1e-2"; do
	set -- $cfg
	M="$TMP/$1-$2-$3.gguf"
	extra=""
	[ "$1" = llama ] && [ "$2" = q8_0 ] && extra="--tied"
	"$PY" "$ROOT/scripts/make-test-gguf.py" --src "$SRC" --arch "$1" --type "$2" --tok "$3" $extra "$M" ||
		fail "make-test-gguf.py $cfg"
	start_server "$M" || fail "llama-server did not start on $M"
	"$DUMP" "$M" tokenize "$TMP/strings.json" >"$TMP/ours.json" || fail "engine_dump tokenize $cfg"
	"$DUMP" "$M" generate "hello world, the energy of a token" 64 3 >"$TMP/gen.json" || fail "engine_dump generate $cfg"
	"$PY" "$HERE/engine_compare.py" "http://127.0.0.1:$PORT" "$TMP/strings.json" "$TMP/ours.json" "$TMP/gen.json" \
		"$4" "$cfg" || fail "disagreement with llama.cpp on $cfg"
	stop_server
done
echo "PASS: engine agrees with llama.cpp"
