#!/bin/sh
# Real third-party server test: starts llama.cpp's llama-server (built by
# scripts/build-llama-server.sh) on 127.0.0.1 with a tiny random-weight model,
# checks its OpenAI-compatible API with curl, then profiles it with ipw and
# checks the exported rows. Skips (77) when llama-server has not been built.
set -u

CACHE=${IPW_LLAMA_CACHE:-/var/cache/ipw-llama}
SERVER=${IPW_LLAMA_SERVER:-$CACHE/build/bin/llama-server}
SRC=${IPW_LLAMA_SRC:-$CACHE/src}
IPW=${IPW:-build/ipw}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; [ -n "${TMP:-}" ] && [ -f "$TMP/server.log" ] &&
	{ echo "--- llama-server log (tail)"; tail -20 "$TMP/server.log"; }; exit 1; }

[ -x "$SERVER" ] || skip "llama-server not built ($SERVER missing); build it with scripts/build-llama-server.sh (4 to 15 minutes on 2 cores; see docs/testing-llama.md)"
[ -d "$SRC/gguf-py" ] || skip "llama.cpp source with gguf-py/ not found at $SRC; rerun scripts/build-llama-server.sh"
command -v curl >/dev/null 2>&1 || skip "curl not installed (apt-get install curl)"
PY=""
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy, yaml' >/dev/null 2>&1; then
		PY=$p; break
	fi
done
[ -n "$PY" ] || skip "no python3 with numpy and yaml (apt-get install python3-numpy python3-yaml)"

TMP=$(mktemp -d)
SPID=""
cleanup() {
	if [ -n "$SPID" ]; then
		kill "$SPID" 2>/dev/null
		wait "$SPID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. the model
"$PY" "$ROOT/scripts/make-tiny-gguf.py" --src "$SRC" "$TMP/tiny.gguf" || fail "make-tiny-gguf.py failed"

# 2. the server, on a port the kernel picked as free (bind port 0, then release it;
#    another process could take it in between, so try a few times)
free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
up=0
for attempt in 1 2 3; do
	PORT=$(free_port) || fail "cannot pick a free port"
	"$SERVER" -m "$TMP/tiny.gguf" --host 127.0.0.1 --port "$PORT" -a tiny -c 512 -np 1 -t 1 \
		>"$TMP/server.log" 2>&1 &
	SPID=$!
	# wait for /health: 503 while loading, 200 once the model is loaded
	i=0
	while [ $i -lt 240 ]; do
		if ! kill -0 "$SPID" 2>/dev/null; then
			break
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/health")
		if [ "$code" = 200 ]; then up=1; break; fi
		sleep 0.5
		i=$((i + 1))
	done
	[ $up = 1 ] && break
	kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; SPID=""
	echo "llama-server did not come up on port $PORT (attempt $attempt)"
	tail -5 "$TMP/server.log"
done
[ $up = 1 ] || fail "llama-server never answered /health with 200"
URL="http://127.0.0.1:$PORT"
echo "llama-server up at $URL (pid $SPID)"

# 3. the API, checked with curl
curl -sf --max-time 30 "$URL/v1/models" >"$TMP/models.json" || fail "GET /v1/models failed"
"$PY" - "$TMP/models.json" <<'EOF' || fail "/v1/models does not list the model 'tiny': $(cat "$TMP/models.json")"
import json, sys
d = json.load(open(sys.argv[1]))
ids = [m.get("id") for m in d.get("data", [])]
print("models:", ids)
sys.exit(0 if "tiny" in ids else 1)
EOF

curl -sfN --max-time 120 "$URL/v1/chat/completions" -H 'Content-Type: application/json' \
	-d '{"model":"tiny","messages":[{"role":"user","content":"hello, what is the energy of a token?"}],
	     "max_tokens":16,"stream":true,"stream_options":{"include_usage":true}}' \
	>"$TMP/stream.txt" || fail "streamed POST /v1/chat/completions failed"
"$PY" - "$TMP/stream.txt" <<'EOF' || fail "the streamed chat completion is not what an OpenAI client expects"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
data = [l[len("data: "):] for l in lines if l.startswith("data: ")]
if not data or data[-1] != "[DONE]":
    sys.exit("no closing 'data: [DONE]' in %d SSE lines" % len(data))
chunks = [json.loads(d) for d in data[:-1]]
content = "".join((c.get("choices") or [{}])[0].get("delta", {}).get("content") or "" for c in chunks)
usage = [c["usage"] for c in chunks if c.get("usage")]
print("SSE chunks: %d, content: %r, usage: %s" % (len(chunks), content, usage[-1] if usage else None))
if sum(1 for c in chunks if (c.get("choices") or [{}])[0].get("delta", {}).get("content")) < 2:
    sys.exit("fewer than 2 chunks carry content: not streamed")
if not usage or usage[-1].get("completion_tokens", 0) <= 0 or usage[-1].get("prompt_tokens", 0) <= 0:
    sys.exit("no usage with prompt and completion tokens > 0")
EOF
echo "server checks passed"

# 4. ipw against the real server
export IPW_FAKE_PROFILE="gpu0=const:100"
"$IPW" profile --url "$URL" --model tiny --limit 5 --max-tokens 16 --store "$TMP/ipw.db" \
	--idle-seconds 1 --warmup 1 --name llama-test >"$TMP/profile.out" 2>&1
rc=$?
cat "$TMP/profile.out"
if [ $rc != 0 ] && grep -q "not available in this build yet" "$TMP/profile.out"; then
	skip "llama-server checks passed; 'ipw profile' is not in this build yet, so the ipw part did not run"
fi
[ $rc = 0 ] || fail "ipw profile exited $rc"

"$IPW" export latest --format csv --store "$TMP/ipw.db" >"$TMP/export.csv" ||
	fail "ipw export latest --format csv failed"
"$PY" - "$TMP/export.csv" <<'EOF' || fail "exported rows are not 5 measured ok queries"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
if not rows:
    sys.exit("the export is empty")
cols = rows[0].keys()
energy = next((c for c in ("energy_j", "total_j", "accel_j") if c in cols), None)
need = ["status", "completion_tokens", "ttft_s"]
missing = [c for c in need if c not in cols] + ([] if energy else ["energy_j"])
if missing:
    sys.exit("columns missing from the export: %s (have %s)" % (missing, list(cols)))
print("rows: %d, energy column: %s" % (len(rows), energy))
bad = []
for r in rows:
    try:
        ok = (r["status"] == "ok" and int(r["completion_tokens"]) > 0
              and float(r[energy]) > 0 and float(r["ttft_s"]) > 0)
    except ValueError:
        ok = False
    if not ok:
        bad.append({k: r[k] for k in need + [energy]})
if len(rows) != 5:
    sys.exit("expected 5 rows, got %d" % len(rows))
if bad:
    sys.exit("rows that are not ok with tokens, energy and ttft > 0: %s" % bad)
EOF
echo "ipw profile against llama-server: 5 ok rows"
