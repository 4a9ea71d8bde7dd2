#!/bin/sh
# --resume sends again the items whose last attempt failed for transport
# reasons (here HTTP 500; tests/cli/halt.sh covers a server that went away),
# even of a completed run, and only those: an item refused with HTTP 400
# stays as recorded. The failed rows are kept as superseded, and every
# reader sees one query per item, the latest.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --retries 0 --quiet"
: >"$TMP/d.jsonl"
for say in "1" "FAIL500" "FAIL400" "3" "FAIL500"; do
	i=$(wc -l <"$TMP/d.jsonl")
	printf '{"id":"r%d","problem":"SAY: %s","answer":"1","subject":"s","task":"numeric"}\n' $i "$say" >>"$TMP/d.jsonl"
done
DB="$TMP/t.db"

start_fakellm a --scenario say --tokens 2
$IPW profile --url "$URL" --dataset "$TMP/d.jsonl" --store "$DB" --name t $COMMON >/dev/null 2>"$TMP/err1"
expect_eq "first run's exit (some queries failed)" $? 5
$IPW export t --format csv --store "$DB" >"$TMP/1.csv" || fail "export"
expect_eq "first run" "$(csv_query "$TMP/1.csv" '[(r["item_id"], r["status"], r["http_status"]) for r in rows]')" \
	"[('r0', 'ok', '200'), ('r1', 'failed', '500'), ('r2', 'failed', '400'), ('r3', 'ok', '200'), ('r4', 'failed', '500')]"

# a server that answers everything now: the resume sends r1 and r4, not r2
FPID=${SERVER_PIDS##* }
PORT=${URL##*:}
kill "$FPID"
wait "$FPID" 2>/dev/null
"$IPW_BUILD/fakes/fakellm" --port "$PORT" --tokens 2 --lifetime-s 120 </dev/null >"$TMP/b.log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
i=0
until curl -s "$URL/v1/models" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "fakellm did not come back on port $PORT: $(cat "$TMP/b.log")"
	sleep 0.05
done
$IPW profile --resume t --store "$DB" --quiet >/dev/null 2>"$TMP/err2"
rc=$?; [ $rc = 0 ] || [ $rc = 5 ] || fail "resume exited $rc: $(cat "$TMP/err2")"
grep -q "2 items whose last attempt failed to reach the server .* are sent again" "$TMP/err2" ||
	fail "the resume does not say what it sends again: $(cat "$TMP/err2")"
$IPW export t --format csv --store "$DB" >"$TMP/2.csv" || fail "export after resume"
expect_eq "after resume" "$(csv_query "$TMP/2.csv" '[(r["item_id"], r["status"], r["http_status"]) for r in rows]')" \
	"[('r0', 'ok', '200'), ('r1', 'ok', '200'), ('r2', 'failed', '400'), ('r3', 'ok', '200'), ('r4', 'ok', '200')]"
$IPW show t --json --store "$DB" >"$TMP/show.json" || fail "show"
python3 - "$TMP/show.json" "$DB" <<'PY' || fail "one result per item, history kept"
import json, sqlite3, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "completed", d["status"]
c = sqlite3.connect(sys.argv[2])
rows = c.execute("select item_id, status, http_status from queries where superseded_at is not null order by id").fetchall()
assert rows == [("r1", "failed", 500), ("r4", "failed", 500)], rows
assert c.execute("select count(*) from queries").fetchone()[0] == 7
PY

# nothing left to send again: a completed run is refused as before
$IPW profile --resume t --store "$DB" --quiet >/dev/null 2>"$TMP/err3"
[ $? -ne 0 ] || fail "a complete run was resumed"
grep -q "already complete and no item's last attempt failed" "$TMP/err3" || fail "message: $(cat "$TMP/err3")"
echo ok
