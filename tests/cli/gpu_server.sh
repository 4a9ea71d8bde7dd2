#!/bin/sh
# gpu_server.sh - bench/gpu/server.py on the CPU with a tiny model, served by
# 'ipw profile --serve': health, the model list, max_tokens honoured exactly with
# usage from the server, concurrent requests decoded in one batch, a non-streamed
# reply, and the server stopped afterwards. Skipped (77) where no python3 has
# both torch and aiohttp.
set -u
. "$(dirname "$0")/lib/common.sh"
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
PY=""
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, aiohttp' >/dev/null 2>&1; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "no python3 with torch and aiohttp"; exit 77; }
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DS="$ROOT/tests/data/load/identical.jsonl"
P=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVER="$PY $ROOT/bench/gpu/server.py --device cpu --layers 2 --d-model 64 --heads 4 --vocab 512 --max-batch 8 --max-seq 256 --port $P"

# a probe run inside the served window checks the extra endpoints while the server is up
cat >"$TMP/probe.py" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
m = json.load(urllib.request.urlopen(base + "/v1/models"))
assert m["data"][0]["id"] == "ipw-test-1b", m
body = json.dumps({"model": "ipw-test-1b", "stream": False, "max_tokens": 5,
                   "messages": [{"role": "user", "content": "hello there"}]}).encode()
r = json.load(urllib.request.urlopen(urllib.request.Request(base + "/v1/chat/completions", body,
                                                               {"Content-Type": "application/json"})))
assert r["usage"]["completion_tokens"] == 5 and r["usage"]["prompt_tokens"] == 2, r
assert r["choices"][0]["message"]["content"].count("w") == 5, r
print(json.dumps(json.load(urllib.request.urlopen(base + "/x/stats"))))
PY

export IPW_FAKE_PROFILE='gpu0=const:100'
$IPW profile --serve "$SERVER" --serve-timeout 120 --url "http://127.0.0.1:$P" --serve-log "$TMP/server.log" \
	--store "$TMP/g.db" --name tiny --dataset "$DS" --concurrency 4 --requests 8 --max-tokens 24 \
	--idle-seconds 0.2 --no-host --backends fake --warmup 1 --quiet >"$TMP/out" 2>"$TMP/err" ||
	fail "served tiny model run exited $?: $(cat "$TMP/err") $(cat "$TMP/server.log")"
grep -q "ready in" "$TMP/server.log" || fail "server log: $(cat "$TMP/server.log")"
python3 - "$TMP/g.db" <<'PY' || fail "tiny model run"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT status, completion_tokens, completion_tokens_src, finish_reason FROM queries").fetchall()
assert len(rows) == 8, rows
for st, n, src, fr in rows:
    assert st == "ok" and n == 24 and src == "server" and fr == "length", (st, n, src, fr)
s = json.loads(db.execute("SELECT summary_json FROM runs").fetchone()[0])
assert s["ok"] == 8 and s["output_tokens"] == 192, s
PY
# the same server by hand: the extra endpoints and batching
$SERVER >"$TMP/s2.log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
i=0
until python3 -c 'import urllib.request, sys; urllib.request.urlopen(sys.argv[1] + "/health")' "http://127.0.0.1:$P" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 600 ] && fail "server did not start: $(cat "$TMP/s2.log")"
	sleep 0.2
done
$IPW profile --url "http://127.0.0.1:$P" --store "$TMP/h.db" --dataset "$DS" --concurrency 6 --requests 6 \
	--max-tokens 60 --idle-seconds 0.2 --no-host --backends fake --warmup 0 --quiet >/dev/null 2>"$TMP/err2" ||
	fail "batching run: $(cat "$TMP/err2")"
stats=$(python3 "$TMP/probe.py" "http://127.0.0.1:$P") || fail "endpoint probe"
python3 -c 'import json, sys; s = json.loads(sys.argv[1]); assert s["max_batch_seen"] >= 2, s' "$stats" ||
	fail "concurrent requests were never batched: $stats"
echo "ok"
