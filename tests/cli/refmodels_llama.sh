#!/bin/sh
# The reference models in llama.cpp: starts llama-server on 127.0.0.1 with each
# models/ref-*.gguf, checks that it tokenizes the ChatML prompts of `ref` items
# as scripts/train-ref-models.py does, and that greedy chat completions give the
# answers the trainer recorded (models/ref-expected.jsonl, PyTorch greedy).
# Skips (77) when llama-server, the models, gcc or python3 with numpy are absent.
set -u

CACHE=${IPW_LLAMA_CACHE:-/var/cache/ipw-llama}
SERVER=${IPW_LLAMA_SERVER:-$CACHE/build/bin/llama-server}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -f "$TMP/server.log" ] && { echo "--- llama-server log (tail)"; tail -20 "$TMP/server.log"; }
	exit 1; }

[ -x "$SERVER" ] || skip "llama-server not built ($SERVER missing); see scripts/build-llama-server.sh"
[ -f "$ROOT/models/ref-expected.jsonl" ] || skip "models/ref-expected.jsonl missing (train with scripts/train-ref-models.sh)"
command -v gcc >/dev/null 2>&1 || skip "gcc not found"
PY=""
for p in python3 /usr/bin/python3; do
	command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy' >/dev/null 2>&1 && { PY=$p; break; }
done
[ -n "$PY" ] || skip "no python3 with numpy (apt-get install python3-numpy)"

TMP=$(mktemp -d)
SPID=""
cleanup() {
	[ -n "$SPID" ] && { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -std=gnu11 -D_GNU_SOURCE -I"$ROOT/src" "$ROOT/tools/refgen.c" "$ROOT/src/refsuite.c" "$ROOT/src/rng.c" \
	"$ROOT/src/util.c" -o "$TMP/refgen" || fail "refgen does not build"
"$TMP/refgen" --chat --n 24 > "$TMP/items.jsonl" || fail "refgen failed"

for m in s m l; do
	model="$ROOT/models/ref-$m.gguf"
	[ -f "$model" ] || fail "$model missing"
	port=$((18600 + $$ % 500))
	"$SERVER" -m "$model" --host 127.0.0.1 --port "$port" -t 1 -c 256 -np 1 > "$TMP/server.log" 2>&1 &
	SPID=$!
	ok=0
	for _ in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && { ok=1; break; }
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.2
	done
	[ "$ok" = 1 ] || fail "llama-server did not come up with ref-$m"
	"$PY" - "$ROOT" "$port" "ref-$m" "$TMP/items.jsonl" <<'PYEOF' || fail "ref-$m disagrees with the trainer"
import importlib.util, json, sys, urllib.request
root, port, name, items = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
spec = importlib.util.spec_from_file_location("trainer", root + "/scripts/train-ref-models.py")
t = importlib.util.module_from_spec(spec)
spec.loader.exec_module(t)
def post(path, body):
    req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=60).read())
items = {it["id"]: it for it in map(json.loads, open(items))}
expected = [e for e in map(json.loads, open(root + "/models/ref-expected.jsonl")) if e["model"] == name]
vocab = post("/tokenize", {"content": "", "with_pieces": False})  # server is up and tokenizes
bad = 0
for e in expected:
    it = items[e["id"]]
    # tokenizer: llama.cpp and the trainer's SPM rule must agree on the whole conversation
    text = t.chat_prompt(it["user"]) + it["assistant"]
    theirs = post("/tokenize", {"content": text, "add_special": True, "parse_special": True})["tokens"]
    if theirs[0] != t.BOS:
        print("%s %s: no BOS from llama.cpp" % (name, e["id"])); bad += 1
    r = post("/v1/chat/completions", {"messages": [{"role": "user", "content": it["user"]}],
                                      "temperature": 0, "max_tokens": 24})
    got = r["choices"][0]["message"]["content"]
    if got != e["response"]:
        print("%s %s: llama.cpp %r, trainer %r" % (name, e["id"], got, e["response"])); bad += 1
print("%s: %d items, %d disagreements" % (name, len(expected), bad))
sys.exit(1 if bad or not expected else 0)
PYEOF
	kill "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
done
echo "PASS: refmodels_llama"
