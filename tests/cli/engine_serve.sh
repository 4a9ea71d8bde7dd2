#!/bin/sh
# `ipw serve` (the built-in engine over an OpenAI-compatible API) and the in-process
# `--api builtin`: health, model list, a streamed and a whole completion, `ipw profile --url`
# against the server, and the same greedy answers from the server as from the engine in
# process; the in-process run records the engine's CPU time and an estimated energy.
# Model: models/ref-s.gguf, else a random-weight GGUF from scripts/make-test-gguf.py
# (needs llama.cpp's gguf-py and numpy); skips (77) when neither is possible.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
ROOT=$(cd "$IPW_TESTS/.." && pwd)
M="$ROOT/models/ref-s.gguf"
if [ ! -f "$M" ]; then
	M="$TMP/test.gguf"
	SRC=${IPW_LLAMA_SRC:-${IPW_LLAMA_CACHE:-/var/cache/ipw-llama}/src}
	PY=""
	for p in python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import numpy' >/dev/null 2>&1; then PY=$p; break; fi
	done
	[ -n "$PY" ] && [ -d "$SRC/gguf-py" ] || { echo "SKIP: no models/ref-s.gguf and no gguf-py + numpy to write a test model"; exit 77; }
	"$PY" "$ROOT/scripts/make-test-gguf.py" --src "$SRC" --arch qwen2 --type f32 --tok bpe "$M" >/dev/null ||
		fail "make-test-gguf.py"
fi
export IPW_THREADS=1
# the report's charts (cairo) leave fontconfig's cache behind: not ipw's leak
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

"$IPW" serve "$M" --port 0 --port-file "$TMP/port" --threads 1 --name testmodel >"$TMP/serve.log" 2>&1 &
SERVER_PIDS="$!"
i=0
while [ ! -s "$TMP/port" ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "ipw serve did not start: $(cat "$TMP/serve.log")"
	sleep 0.05
done
URL="http://127.0.0.1:$(cat "$TMP/port")"
grep -q "on http://127.0.0.1:" "$TMP/serve.log" || fail "not bound to 127.0.0.1: $(cat "$TMP/serve.log")"

expect_eq health "$(curl -s "$URL/health")" '{"status":"ok"}'
curl -s "$URL/v1/models" | grep -q '"id":"testmodel"' || fail "/v1/models: $(curl -s "$URL/v1/models")"
expect_eq "unknown path" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/nothing")" 404
expect_eq "bad body" "$(curl -s -o /dev/null -w '%{http_code}' -d '{"messages":3}' "$URL/v1/chat/completions")" 400

BODY='{"model":"testmodel","messages":[{"role":"user","content":"What is 2 + 3?"}],"max_tokens":12,"temperature":0'
curl -s -d "$BODY}" "$URL/v1/chat/completions" >"$TMP/whole.json" || fail "whole completion"
curl -sN -d "$BODY,\"stream\":true}" "$URL/v1/chat/completions" >"$TMP/stream.txt" || fail "streamed completion"
python3 - "$TMP/whole.json" "$TMP/stream.txt" <<'PY' || fail "completions disagree or are malformed"
import json, sys
whole = json.load(open(sys.argv[1]))
text = whole["choices"][0]["message"]["content"]
n = whole["usage"]["completion_tokens"]
assert 0 < n <= 12, whole["usage"]  # a trained model may stop before max_tokens
events = [l[6:] for l in open(sys.argv[2], encoding="utf-8") if l.startswith("data: ")]
assert events[-1].strip() == "[DONE]", events[-1]
chunks = [json.loads(e) for e in events[:-1]]
streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
assert streamed == text, (streamed, text)
assert chunks[-1]["usage"]["completion_tokens"] == n and chunks[-1]["usage"]["prompt_tokens"] > 0
assert chunks[-1]["choices"][0]["finish_reason"] == ("length" if n == 12 else "stop")
assert whole["choices"][0]["finish_reason"] == chunks[-1]["choices"][0]["finish_reason"]
PY

COMMON="--dataset builtin --limit 3 --temperature 0 --max-tokens 12 --idle-seconds 0 --warmup 0 --quiet"
# shellcheck disable=SC2086
"$IPW" profile --url "$URL" --api openai $COMMON --store "$TMP/served.db" >"$TMP/p1.out" 2>&1 ||
	fail "profile --url against ipw serve: $(tail -5 "$TMP/p1.out")"
# shellcheck disable=SC2086
"$IPW" profile --api builtin --model "$M" $COMMON --store "$TMP/inproc.db" >"$TMP/p2.out" 2>&1 ||
	fail "profile --api builtin: $(tail -5 "$TMP/p2.out")"
python3 - "$TMP/served.db" "$TMP/inproc.db" <<'PY' || fail "served and in-process answers differ"
import sqlite3, sys
def rows(p):
    return sqlite3.connect(p).execute(
        "select item_id, answer, completion_tokens, cpu_s from queries order by seq").fetchall()
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert len(a) == 3 and len(b) == 3, (a, b)
for x, y in zip(a, b):
    assert x[:3] == y[:3], (x, y)
    assert x[3] is None, x            # a server's CPU time is not known to the client
    assert y[3] is not None and y[3] > 0, y
src = sqlite3.connect(sys.argv[2]).execute("select backend from run_sources").fetchall()
assert ("cputime",) in src, src       # the in-process run's energy is the estimate
PY
grep -q "cputime:engine" "$TMP/p2.out" || fail "the estimate was not announced: $(cat "$TMP/p2.out")"

"$IPW" profile --api builtin --model "$TMP/missing.gguf" --limit 1 --store "$TMP/missing.db" >/dev/null 2>"$TMP/miss.err" &&
	fail "a missing model file was accepted"
grep -q "missing.gguf" "$TMP/miss.err" || fail "missing model: $(cat "$TMP/miss.err")"

# estimated energy is marked, and not mixed with measured energy unless asked
"$IPW" show 1 --store "$TMP/inproc.db" | grep -q "energy method    estimated" || fail "show does not mark the estimate"
"$IPW" show 1 --store "$TMP/served.db" | grep -q "energy method    measured" || fail "show: measured run"
"$IPW" export 1 --format csv --store "$TMP/inproc.db" | python3 -c '
import csv, sys
assert list(csv.DictReader(sys.stdin))[0]["energy_method"] == "estimated"' ||
	fail "export does not mark the estimate"
start_fakellm fake --tokens 8 --token-delay-ms 2
"$IPW" profile --url "$URL" --limit 3 --fake-profile "gpu0=const:100" --no-host --idle-seconds 0 --warmup 0 --quiet \
	--store "$TMP/inproc.db" >/dev/null 2>"$TMP/fake.err" || fail "a measured run: $(cat "$TMP/fake.err")"
"$IPW" compare 1 2 --store "$TMP/inproc.db" >/dev/null 2>"$TMP/cmp.err" && fail "compare mixed estimated and measured"
grep -q "allow-estimated" "$TMP/cmp.err" || fail "compare refusal: $(cat "$TMP/cmp.err")"
"$IPW" compare 1 2 --allow-estimated --store "$TMP/inproc.db" >"$TMP/cmp.out" 2>&1 || fail "compare --allow-estimated"
grep -q "^estimated energy .*: run 1$" "$TMP/cmp.out" || fail "compare does not mark the estimate: $(cat "$TMP/cmp.out")"
"$IPW" report 1 2 --out "$TMP/rep" --store "$TMP/inproc.db" >/dev/null 2>"$TMP/rep.err" && fail "report mixed them"
grep -q "allow-estimated" "$TMP/rep.err" || fail "report refusal: $(cat "$TMP/rep.err")"
"$IPW" route --local 1 --cloud 2 --store "$TMP/inproc.db" >/dev/null 2>"$TMP/route.err" && fail "route mixed them"
grep -q "allow-estimated" "$TMP/route.err" || fail "route refusal: $(cat "$TMP/route.err")"
"$IPW" report 1 --out "$TMP/rep1" --store "$TMP/inproc.db" >/dev/null 2>&1 || fail "report of the estimated run"
grep -q "id=estimated-energy" "$TMP/rep1/index.html" || fail "the HTML does not mark the estimate"

# the fresh-machine main job: no --url, no server on the (test) discovery port, the default
# model from IPW_MODELS: the built-in engine on `ref`, ending with accuracy, IPW and IPJ
mkdir -p "$TMP/models" && cp "$M" "$TMP/models/ref-m.gguf"
IPW_DISCOVER_PORTS=1:none IPW_MODELS="$TMP/models" "$IPW" profile --limit 4 --max-tokens 8 --idle-seconds 0 \
	--warmup 0 --quiet --store "$TMP/main.db" >"$TMP/main.out" 2>"$TMP/main.err" ||
	fail "the main job: $(tail -5 "$TMP/main.err")"
grep -q "no inference server found; running the built-in engine with $TMP/models/ref-m.gguf on --dataset ref" \
	"$TMP/main.err" || fail "the switch to the engine was not said: $(cat "$TMP/main.err")"
grep -q "^  accuracy " "$TMP/main.out" || fail "no accuracy: $(cat "$TMP/main.out")"
grep -q "^  IPW (accuracy per watt) .*estimated energy" "$TMP/main.out" || fail "no IPW: $(cat "$TMP/main.out")"
grep -q "^  IPJ (accuracy per joule) .*estimated energy" "$TMP/main.out" || fail "no IPJ: $(cat "$TMP/main.out")"
grep -q "^  energy method  *estimated" "$TMP/main.out" || fail "the estimate is not marked: $(cat "$TMP/main.out")"
# ... and with no model either, it says what to do
IPW_DISCOVER_PORTS=1:none IPW_MODELS="$TMP/none" "$IPW" profile --limit 1 --store "$TMP/none.db" \
	>/dev/null 2>"$TMP/none.err"
expect_eq "no model: exit status" "$?" 4
grep -q "no ref-m.gguf in IPW_MODELS" "$TMP/none.err" || fail "no model: $(cat "$TMP/none.err")"
echo "ok"
