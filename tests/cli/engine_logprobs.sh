#!/bin/sh
# `ipw serve` returns OpenAI logprobs when asked ("logprobs": true), streamed and whole:
# each greedy token's log-probability equals log-softmax of the model's logits computed
# independently by build/fakes/engine_dump (its own loop over the logits after each step),
# and `ipw profile --logprobs` records their sum and count for the query.
# Model: models/ref-s.gguf (skips, 77, without it).
set -u
. "$IPW_TESTS/cli/lib/common.sh"
ROOT=$(cd "$IPW_TESTS/.." && pwd)
M="$ROOT/models/ref-s.gguf"
[ -f "$M" ] || { echo "SKIP: no models/ref-s.gguf"; exit 77; }
DUMP=$IPW_BUILD/fakes/engine_dump
export IPW_THREADS=1

"$IPW" serve "$M" --port 0 --port-file "$TMP/port" --threads 1 --name t --chat-template ipw --request-log "$TMP/req.log" >"$TMP/serve.log" 2>&1 &
SERVER_PIDS="$!"
i=0
while [ ! -s "$TMP/port" ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "ipw serve did not start: $(cat "$TMP/serve.log")"
	sleep 0.05
done
URL="http://127.0.0.1:$(cat "$TMP/port")"
BODY='{"model":"t","messages":[{"role":"user","content":"What is 2 + 3?"}],"max_tokens":8,"temperature":0,"logprobs":true'
curl -s -d "$BODY}" "$URL/v1/chat/completions" >"$TMP/whole.json" || fail "whole completion"
curl -sN -d "$BODY,\"stream\":true}" "$URL/v1/chat/completions" >"$TMP/stream.txt" || fail "streamed completion"
curl -s -d '{"model":"t","messages":[{"role":"user","content":"hi"}],"max_tokens":2}' "$URL/v1/chat/completions" \
	| grep -q '"logprobs"' && fail "logprobs returned without being asked"
# the ipw template: "user: What is 2 + 3?\nassistant:", tokenized as the server does (BOS, specials)
"$DUMP" "$M" generate "$(printf 'user: What is 2 + 3?\nassistant:')" 8 1 1 >"$TMP/dump.json" || fail "engine_dump"
python3 - "$TMP/whole.json" "$TMP/stream.txt" "$TMP/dump.json" <<'PY' || fail "served logprobs differ from log-softmax"
import json, sys
whole = json.load(open(sys.argv[1]))
lw = [e["logprob"] for e in whole["choices"][0]["logprobs"]["content"]]
n = whole["usage"]["completion_tokens"]
assert len(lw) == n and 0 < n <= 8, (len(lw), n)
events = [l[6:] for l in open(sys.argv[2], encoding="utf-8") if l.startswith("data: ")]
chunks = [json.loads(e) for e in events[:-1]]
ls = [e["logprob"] for c in chunks for e in ((c["choices"][0].get("logprobs") or {}).get("content") or [])]
assert ls == lw, (ls, lw)   # the same generation, streamed or whole
dump = json.load(open(sys.argv[3]))
want = [step[0]["logprob"] for step in dump["top"]][:n]   # the greedy (top-1) token's log-softmax
# both are float log-softmax (max-shifted, summed in vocabulary order); 1e-6 nats allows for a
# compiler contracting the float arithmetic differently in the two programs
assert all(abs(a - b) <= 1e-6 for a, b in zip(lw, want)), (lw, want)
assert all(x <= 0 for x in lw), lw
print(repr(sum(lw)), n)
PY
printf '%s\n' '{"id":"q1","problem":"What is 2 + 3?","answer":"5","task":"numeric"}' >"$TMP/d.jsonl"
"$IPW" profile --url "$URL" --api openai --dataset "$TMP/d.jsonl" --temperature 0 --max-tokens 8 --logprobs \
	--idle-seconds 0 --warmup 0 --quiet --backends none --no-host --store "$TMP/s.db" >"$TMP/p.out" 2>&1 ||
	fail "profile --logprobs against ipw serve: $(tail -5 "$TMP/p.out")"
# the request profile sent, again as a whole reply: its logprobs are what the query must have recorded
tail -1 "$TMP/req.log" | python3 -c '
import json, sys
b = json.load(sys.stdin); assert b["logprobs"] is True, b
b["stream"] = False; b.pop("stream_options", None); print(json.dumps(b))' >"$TMP/replay.json" || fail "request log"
curl -s -d @"$TMP/replay.json" "$URL/v1/chat/completions" >"$TMP/replay.out" || fail "replay"
python3 - "$TMP/s.db" "$TMP/replay.out" <<'PY' || fail "recorded sum differs"
import json, sqlite3, sys
s, n = sqlite3.connect(sys.argv[1]).execute("select logprob_sum, logprob_tokens from queries").fetchone()
c = json.load(open(sys.argv[2]))["choices"][0]["logprobs"]["content"]
want = 0.0
for e in c:
    want += e["logprob"]
assert n == len(c) and n > 0 and abs(s - want) <= 1e-12 * max(1, abs(want)), (s, n, want, len(c))
PY
echo ok
