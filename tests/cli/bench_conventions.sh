#!/bin/sh
# The conventions users bring from `vllm bench serve`: --ignore-eos and --extra-body
# reach the server in every request (and a resume keeps them), a bad --extra-body is
# refused, each query's output tokens/s is exported, and OLLAMA_HOST names the port
# discovery tries first.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --quiet"
start_fakellm main --tokens 5

$IPW profile --url "$URL" --limit 1 --ignore-eos --extra-body '{"min_tokens": 4, "top_k": 7}' \
	--store "$TMP/c.db" --name c $COMMON >/dev/null 2>"$TMP/err" || fail "profile: $(cat "$TMP/err")"
curl -s "$URL/x/last-request" >"$TMP/body.json"
python3 - "$TMP/body.json" <<'PY' || fail "request body: $(cat "$TMP/body.json")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["ignore_eos"] is True and b["min_tokens"] == 4, b
assert b["top_k"] == 7, b   # the extra body wins over ipw's own field
PY
$IPW show c --format json --store "$TMP/c.db" | python3 -c '
import json, sys
c = json.load(sys.stdin)["config"]
assert c["ignore_eos"] is True and json.loads(c["extra_body"]) == {"min_tokens": 4, "top_k": 7}, c
' || fail "options not recorded"

$IPW profile --url "$URL" --limit 1 --extra-body '[1, 2]' --store "$TMP/x.db" $COMMON >/dev/null 2>"$TMP/err2"
expect_eq "a non-object extra body" $? 2
grep -q "takes a JSON object" "$TMP/err2" || fail "extra body message: $(cat "$TMP/err2")"

$IPW export c --format csv --store "$TMP/c.db" >"$TMP/c.csv" || fail "export"
python3 - "$TMP/c.csv" <<'PY' || fail "output tokens/s: $(cat "$TMP/c.csv")"
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))[0]
want = int(r["completion_tokens"]) / float(r["latency_s"])
assert abs(float(r["output_tokens_per_s"]) - want) <= 1e-9 * want, (r["output_tokens_per_s"], want)
PY

# discovery: OLLAMA_HOST's port first (here the fake, speaking Ollama's API)
start_fakellm ol --api ollama
OPORT=${URL##*:}
OLLAMA_HOST="0.0.0.0:$OPORT" $IPW profile --limit 1 --store "$TMP/o.db" --name o $COMMON >/dev/null 2>"$TMP/err3" ||
	fail "profile with OLLAMA_HOST: $(cat "$TMP/err3")"
grep -q "127.0.0.1:$OPORT" "$TMP/err3" || fail "OLLAMA_HOST not used: $(cat "$TMP/err3")"
echo ok
