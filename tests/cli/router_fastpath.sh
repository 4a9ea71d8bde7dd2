#!/bin/sh
# `ipw route serve` reads each streamed upstream event on the client's fast path (client/jscan.h:
# in place, later events by the stream's template) and falls back to jansson for what the scanner
# leaves: what it records must be what the whole-reply path records. One streamed and one
# non-streamed request to a fake tier whose answers carry JSON escapes (\" and \n) and UTF-8,
# recorded: the two stored answers and completion-token counts are the same, and equal the fake's
# text, built here by its rule (docs/client.md "The fake server"). Then the upstream body, written
# from the client's text on the fast path (messages byte for byte) and by jansson otherwise.
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm tier --tokens 14 --model m
cat >"$TMP/router.json" <<EOF
{"tiers": [{"name": "local", "url": "$URL", "model": "m", "joules_per_token": 1}]}
EOF
start_router router "$TMP/router.json" --store "$TMP/r.db"
for s in true false; do
	curl -s -o "$TMP/out.$s" -d "{\"model\":\"ipw-router:tier:local\",\"stream\":$s,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
		"$R/v1/chat/completions" || fail "request (stream $s)"
done
kill -TERM "$RPID"; wait "$RPID" 2>/dev/null
python3 - "$TMP/r.db" <<'PY' || fail "stored answers"
import sqlite3, sys
def token(i):  # the fake server's token i
    return '"q%d"\n' % i if i % 7 == 6 else "\u00e9%d " % i if i % 4 == 3 else "t%d " % i
want = "".join(token(i) for i in range(14))
rows = sqlite3.connect(sys.argv[1]).execute("SELECT answer, completion_tokens, status FROM queries ORDER BY seq").fetchall()
assert len(rows) == 2, rows
for answer, ct, st in rows:
    assert st == "ok" and answer == want and ct == 14, (answer, want, ct, st)
PY

# the upstream body is written from the client's text (every member as sent, in its order, but
# model, stream, ipw and a streamed request's stream_options, then the router's own, its
# stream_options members kept): its messages reach the tier byte for byte; a repeated key or an
# escaped key takes jansson's path, which keeps the last
start_router body "$TMP/router.json"
post() { curl -s -o /dev/null -w '%{http_code}' --data-binary "$1" "$R/v1/chat/completions"; }
last() { curl -s "$URL/x/last-request" >"$TMP/last.$1"; }
MSGS='[ {"role" : "user",  "content":"caf\u00e9 \"q\"\n"} ]'
expect_eq "spliced" "$(post "{\"temperature\": 0.25, \"messages\" : $MSGS, \"model\":\"ipw-router:tier:local\", \"ipw\":{\"session\":\"s\"}, \"stream\":true, \"max_tokens\":5}")" 200
last spliced
grep -qF "\"messages\" : $MSGS" "$TMP/last.spliced" || fail "messages not byte for byte: $(cat "$TMP/last.spliced")"
expect_eq "client stream_options" "$(post "{\"model\":\"ipw-router:tier:local\",\"stream\":true,\"stream_options\":{\"include_usage\":false,\"x\":1},\"messages\":$MSGS}")" 200
last opts
expect_eq "null stream_options" "$(post "{\"model\":\"ipw-router:tier:local\",\"stream\":true,\"stream_options\":null,\"messages\":$MSGS}")" 200
last nullopts
expect_eq "repeated model" "$(post "{\"model\":\"nope\",\"model\":\"ipw-router:tier:local\",\"stream\":false,\"messages\":$MSGS}")" 200
last repeated
expect_eq "escaped key" "$(post "{\"model\":\"ipw-router:tier:local\",\"stream\":false,\"messages\":$MSGS,\"\\u0074op_p\":0.5}")" 200
last escaped
python3 - "$TMP" <<'PY' || fail "upstream bodies"
import json, sys
d = sys.argv[1]
want_msgs = [{"role": "user", "content": "caf\u00e9 \"q\"\n"}]
s = json.load(open(d + "/last.spliced"))
assert s == {"temperature": 0.25, "messages": want_msgs, "max_tokens": 5, "model": "m", "stream": True,
             "stream_options": {"include_usage": True}}, s
assert list(s) == ["temperature", "messages", "max_tokens", "model", "stream", "stream_options"], list(s)
o = json.load(open(d + "/last.opts"))
assert o["stream_options"] == {"include_usage": True, "x": 1} and o["messages"] == want_msgs and o["model"] == "m", o
n = json.load(open(d + "/last.nullopts"))
assert n["stream_options"] == {"include_usage": True}, n
r = json.load(open(d + "/last.repeated"))
assert r["model"] == "m" and r["stream"] is False and r["messages"] == want_msgs, r
assert list(r) == ["model", "stream", "messages"], list(r)   # jansson's order: it wrote this one
e = json.load(open(d + "/last.escaped"))
assert e["top_p"] == 0.5 and e["model"] == "m" and e["messages"] == want_msgs, e
assert list(e)[0] == "model", list(e)
assert list(o) == ["messages", "model", "stream", "stream_options"] and list(o["stream_options"]) == ["x", "include_usage"], o
PY
echo "router_fastpath: ok"
