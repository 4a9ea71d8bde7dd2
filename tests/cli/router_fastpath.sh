#!/bin/sh
# `ipw route serve` reads each streamed upstream event on the client's fast path (client/jscan.h:
# in place, later events by the stream's template) and falls back to jansson for what the scanner
# leaves: what it records must be what the whole-reply path records. One streamed and one
# non-streamed request to a fake tier whose answers carry JSON escapes (\" and \n) and UTF-8,
# recorded: the two stored answers and completion-token counts are the same, and equal the fake's
# text, built here by its rule (docs/client.md "The fake server").
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
echo "router_fastpath: ok"
