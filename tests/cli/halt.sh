#!/bin/sh
# A run stops itself, resumable, instead of burning through the dataset: after
# three items in a row that cannot reach the server (the last one not recorded,
# so --resume sends it again), and when the very first item gets a 404 (the
# server does not serve the model). Exit 4 with the reason, status interrupted.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --retries 0 --quiet"
: >"$TMP/d.jsonl"
for i in 0 1 2 3 4 5 6 7; do
	printf '{"id":"h%d","problem":"HALT-%d","answer":"1","subject":"s","task":"numeric"}\n' $i $i >>"$TMP/d.jsonl"
done

# 1. the server goes away while answering h2 (killed once it has seen that request; each
# answer takes 3 s, so the kill lands inside h2 on any machine): h2 and h3 fail, h4 is the third in a row and stops the run
start_fakellm one --tokens 5 --token-delay-ms 600
FPID=${SERVER_PIDS##* }
PORT=${URL##*:}
$IPW profile --url "$URL" --dataset "$TMP/d.jsonl" --store "$TMP/h.db" --name h $COMMON >"$TMP/out1" 2>"$TMP/err1" &
pid=$!
python3 - "$URL" <<'PY3' || { kill -9 $pid; fail "request HALT-2 never reached the server"; }
import sys, time, urllib.request
for _ in range(3000):
    if "HALT-2" in urllib.request.urlopen(sys.argv[1] + "/x/last-request").read().decode():
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
PY3
kill -9 "$FPID"
wait $pid
expect_eq "exit when the server is gone" $? 4
grep -q "3 items in a row could not reach the server" "$TMP/err1" || fail "no reason: $(cat "$TMP/err1")"
$IPW export h --format csv --store "$TMP/h.db" >"$TMP/h.csv" || fail "export"
expect_eq "recorded before the stop" "$(csv_query "$TMP/h.csv" '[(r["item_id"], r["status"]) for r in rows]')" \
	"[('h0', 'ok'), ('h1', 'ok'), ('h2', 'failed'), ('h3', 'failed')]"
expect_eq "status" "$($IPW runs --format csv --store "$TMP/h.db" | python3 -c 'import csv,sys; print(list(csv.DictReader(sys.stdin))[0]["status"])')" interrupted

# the server is back on the same port: --resume sends h2..h7 (the two that failed to reach it and
# h4, not recorded), each once; the failed rows of h2 and h3 are kept, superseded
"$IPW_BUILD/fakes/fakellm" --port "$PORT" --lifetime-s 120 </dev/null >"$TMP/two.log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
i=0
until curl -s "$URL/v1/models" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "fakellm did not come back on port $PORT: $(cat "$TMP/two.log")"
	sleep 0.05
done
$IPW profile --resume h --store "$TMP/h.db" --quiet >/dev/null 2>"$TMP/err2" || fail "resume: $(cat "$TMP/err2")"
$IPW export h --format csv --store "$TMP/h.db" >"$TMP/h2.csv" || fail "export after resume"
expect_eq "after resume" "$(csv_query "$TMP/h2.csv" '[(r["item_id"], r["status"]) for r in rows]')" \
	"[('h0', 'ok'), ('h1', 'ok'), ('h2', 'ok'), ('h3', 'ok'), ('h4', 'ok'), ('h5', 'ok'), ('h6', 'ok'), ('h7', 'ok')]"
expect_eq "status after resume" "$($IPW runs --format csv --store "$TMP/h.db" | python3 -c 'import csv,sys; print(list(csv.DictReader(sys.stdin))[0]["status"])')" completed
expect_eq "superseded rows" "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select item_id, status from queries where superseded_at is not null order by id").fetchall())' "$TMP/h.db")" \
	"[('h2', 'failed'), ('h3', 'failed')]"

# 2. a model the server does not have: the first item's 404 stops the run, nothing recorded
$IPW profile --url "$URL" --model fake-404 --dataset "$TMP/d.jsonl" --store "$TMP/n.db" --name n $COMMON \
	>/dev/null 2>"$TMP/err3"
expect_eq "exit on a 404 for the first item" $? 4
grep -q "404 for the first item" "$TMP/err3" || fail "no 404 reason: $(cat "$TMP/err3")"
$IPW export n --format csv --store "$TMP/n.db" >"$TMP/n.csv" || fail "export n"
expect_eq "nothing recorded on a 404" "$(csv_query "$TMP/n.csv" 'len(rows)')" 0
echo ok
