#!/bin/sh
# A hostile server's data (issue 10): a NUL inside streamed content is kept
# byte for byte in the store and escaped in exports; token counts that
# contradict the stream (2^63-1 or negative) are rejected for the counted
# events and flagged; a Retry-After of ten minutes is capped by
# --retry-after-max and a retry that would pass --query-budget is not made; a
# model switch mid-run is said and recorded.
set -u
. "$(dirname "$0")/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --quiet"

start_fakellm main --tokens 6

jq_rows() {
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(eval(sys.argv[2]))' "$1" "$2"
}

# 1. NUL in content, on both APIs: stored and exported whole
for api in openai ollama; do
	$IPW profile --url "$URL" --api $api --model fake-nul --limit 1 --store "$TMP/n.db" --name nul-$api \
		$COMMON >/dev/null 2>"$TMP/err1" || fail "nul run ($api): $(cat "$TMP/err1")"
	$IPW export nul-$api --format jsonl --store "$TMP/n.db" >"$TMP/n.jsonl"
	expect_eq "NUL kept in JSON ($api)" "$(jq_rows "$TMP/n.jsonl" 'rows[0]["answer"] == "t0 x\x00y t2 \u00e93 t4 t5 "')" True
	grep -q 'x\\u0000y' "$TMP/n.jsonl" || fail "NUL not escaped in JSON lines: $(cat "$TMP/n.jsonl")"
	$IPW export nul-$api --format csv --store "$TMP/n.db" >"$TMP/n.csv"
	python3 - "$TMP/n.db" "$api" <<'PY' || fail "NUL not stored ($api)"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.text_factory = bytes
(a,) = db.execute("select answer from queries q join runs r on q.run_id = r.id where r.name = ?",
                  ("nul-" + sys.argv[2],)).fetchone()
assert b"x\0y" in a, a
PY
done
tr -d '\000' <"$TMP/n.csv" | cmp -s - "$TMP/n.csv" || fail "a raw NUL byte in the CSV export"

# 2. server token counts that contradict the stream: counted events instead, flagged
for api in openai ollama; do
	for sc in bigusage negusage; do
		$IPW profile --url "$URL" --api $api --model fake-$sc --limit 1 --store "$TMP/u.db" --name $sc-$api \
			$COMMON >/dev/null 2>"$TMP/err2" || fail "$sc run ($api): $(cat "$TMP/err2")"
		$IPW export $sc-$api --format csv --store "$TMP/u.db" >"$TMP/u.csv"
		expect_eq "$sc $api: counted events" "$(csv_query "$TMP/u.csv" 'rows[0]["completion_tokens"]')" 6
		python3 - "$TMP/u.db" "$sc-$api" <<'PY' || fail "$sc $api: not flagged"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(src, ptok, psrc) = db.execute("select completion_tokens_src, prompt_tokens, prompt_tokens_src from queries q "
                               "join runs r on q.run_id = r.id where r.name = ?", (sys.argv[2],)).fetchone()
assert src == "events-server-rejected", src
if sys.argv[2].startswith("negusage-openai"):
    assert ptok is None and psrc == "none-server-rejected", (ptok, psrc)
PY
	done
done
# an honest count stays the server's
$IPW profile --url "$URL" --limit 1 --store "$TMP/u.db" --name honest $COMMON >/dev/null 2>&1 || fail "honest run"
python3 - "$TMP/u.db" <<'PY' || fail "an honest count was rejected"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(n, src) = db.execute("select completion_tokens, completion_tokens_src from queries q join runs r on q.run_id = r.id "
                      "where r.name = 'honest'").fetchone()
assert (n, src) == (6, "server"), (n, src)
PY

# 3. Retry-After: 600 every time: the wait is capped (the run takes seconds, not ten minutes)
timeout 60 $IPW profile --url "$URL" --model fake-retry_after_long --limit 1 --retries 1 --retry-after-max 0.2 \
	--store "$TMP/r.db" --name ra $COMMON >/dev/null 2>"$TMP/err3"
rc=$?
[ $rc = 5 ] || fail "Retry-After run: exit $rc (124: it waited the server's ten minutes): $(cat "$TMP/err3")"
$IPW export ra --format csv --store "$TMP/r.db" >"$TMP/r.csv"
expect_eq "two attempts" "$(csv_query "$TMP/r.csv" 'rows[0]["attempts"]')" 2
# a retry whose wait would pass the query's budget is not made
timeout 60 $IPW profile --url "$URL" --model fake-retry_after_long --limit 1 --retries 3 --retry-after-max 30 \
	--query-budget 5 --store "$TMP/r.db" --name budget $COMMON >/dev/null 2>"$TMP/err4"
rc=$?
[ $rc = 5 ] || fail "budget run: exit $rc: $(cat "$TMP/err4")"
$IPW export budget --format csv --store "$TMP/r.db" >"$TMP/b.csv"
expect_eq "no retry past the budget" "$(csv_query "$TMP/b.csv" 'rows[0]["attempts"]')" 1

# 4. the server switches models mid-run (item s2 on): warned once, recorded in the run's
# server model, and each query's own reported model is in its extra_json
: >"$TMP/sw.jsonl"
for i in 0 1 2 3; do
	tag=""; [ $i -ge 2 ] && tag=" MODEL-SWITCH"
	printf '{"id":"s%d","problem":"q%d%s","answer":"1","subject":"s","task":"numeric"}\n' $i $i "$tag" >>"$TMP/sw.jsonl"
done
$IPW profile --url "$URL" --dataset "$TMP/sw.jsonl" --store "$TMP/sw.db" --name sw $COMMON >/dev/null 2>"$TMP/err5"
expect_eq "warned once" "$(grep -c "model changed mid-run" "$TMP/err5")" 1
grep -q "then 'switched-model' from item s2" "$TMP/err5" || fail "switch warning: $(cat "$TMP/err5")"
$IPW show sw --format json --store "$TMP/sw.db" >"$TMP/sw.json"
python3 - "$TMP/sw.json" <<'PY' || fail "server_model does not record the switch: $(cat "$TMP/sw.json" | head -c 400)"
import json, sys
sm = json.load(open(sys.argv[1]))["server_model"]
assert sm.endswith(", then switched-model from item s2"), sm
PY
$IPW export sw --format jsonl --store "$TMP/sw.db" >"$TMP/sw.out"
python3 - "$TMP/sw.db" <<'PY' || fail "per-query models"
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select item_id, extra_json from queries order by seq").fetchall()
models = [json.loads(e)["model"] for _, e in rows]
assert models[2:] == ["switched-model"] * 2 and models[0] != "switched-model", models
PY
echo "hostile: ok"
