#!/bin/sh
# load_kill.sh - the durability bound under load (docs/load.md): a load run
# stores each query as its request ends, through the writer's bounded queue.
# The run is killed with SIGKILL once the store holds some of its queries,
# while one request (SAY: STALL) still holds the load open, so its energy was
# never attributed. Then: every stored query is complete and marked "energy
# not measured" (NULL, never 0); the server answered at most queue depth +
# min(depth, batch) + concurrency more queries than the store holds, whatever
# the scheduling (the writer cannot hold more); and --resume sends exactly the
# requests with no stored query, once each.
set -u
. "$(dirname "$0")/lib/common.sh"
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
export IPW_FAKE_PROFILE='gpu0=const:200'
N=80 C=4 DEPTH=3 STALL=70
: >"$TMP/d.jsonl"
i=0
while [ $i -lt $N ]; do
	say="w$i"
	[ $i = $STALL ] && say=STALL
	printf '{"id":"k%d","problem":"SAY: %s","answer":"w%d","subject":"s","task":"exact"}\n' $i "$say" $i >>"$TMP/d.jsonl"
	i=$((i + 1))
done
DB="$TMP/k.db"
COMMON="--idle-seconds 0.2 --no-host --backends fake --warmup 0 --quiet --timeout 300"

# stats URL: fakellm's count of chat responses written out
answered() {
	python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/x/stats"))["chat_answered"])' "$1"
}
# stored: the run's queries in the store (0 before the run exists)
stored() {
	python3 -c '
import sqlite3, sys
try:
    db = sqlite3.connect(sys.argv[1], timeout=10)
    print(db.execute("SELECT count(*) FROM queries q JOIN runs r ON r.id = q.run_id WHERE r.name = ?", ("k",)).fetchone()[0])
except sqlite3.Error:
    print(0)' "$DB"
}

start_fakellm a --scenario say --tokens 3 --token-delay-ms 40
$IPW profile --url "$URL" --dataset "$TMP/d.jsonl" --store "$DB" --name k --concurrency $C --requests $N \
	--writer-queue $DEPTH $COMMON >"$TMP/out1" 2>"$TMP/err1" &
IPW_PID=$!
# wait (on the store, not a clock) until 12 queries are committed, then SIGKILL; the
# stalled request keeps the load open until then on any machine
python3 - "$DB" $IPW_PID <<'PY' || { kill -9 $IPW_PID; fail "the store never held 12 queries of a live ipw: $(cat "$TMP/err1")"; }
import os, signal, sqlite3, sys, time
db, pid = sys.argv[1], int(sys.argv[2])
give_up = time.monotonic() + 240   # only a guard against a hang: ipw ended early is a zombie here
while time.monotonic() < give_up:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        n = sqlite3.connect(db, timeout=10).execute(
            "SELECT count(*) FROM queries q JOIN runs r ON r.id = q.run_id WHERE r.name = 'k'").fetchone()[0]
    except sqlite3.Error:
        n = 0
    if n >= 12:
        os.kill(pid, signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
PY
wait $IPW_PID 2>/dev/null
A=$(answered "$URL")
python3 - "$DB" "$A" $N $C $DEPTH $STALL <<'PY' || fail "the store after the kill"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
answered, n, c, depth, stall = map(int, sys.argv[2:])
assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
(status,) = db.execute("SELECT status FROM runs WHERE name = 'k'").fetchone()
assert status == "running", status          # killed: nothing ended it
rows = db.execute("SELECT q.id, q.item_id, q.status, q.answer, t_send_s, t_end_s, ttft_s, e2e_s, completion_tokens,"
                  " accel_j, host_j, total_j, avg_power_w FROM queries q JOIN runs r ON r.id = q.run_id"
                  " WHERE r.name = 'k'").fetchall()
ids = [r[1] for r in rows]
assert len(ids) == len(set(ids)), ids
assert len(rows) >= 12, len(rows)
for qid, item, st, ans, ts, te, ttft, e2e, ntok, *energy in rows:
    k = int(item[1:])
    assert 0 <= k < n and k != stall, item   # the stalled request never ended
    assert st == "ok" and ans.strip() == "w%d" % k, (item, st, ans)
    assert ts is not None and te is not None and te >= ts and ttft is not None and e2e > 0 and ntok > 0, item
    # energy not measured yet: NULL, never 0
    assert energy == [None] * 4, (item, energy)
    assert db.execute("SELECT count(*) FROM query_energy WHERE query_id = ?", (qid,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM query_attempts WHERE query_id = ?", (qid,)).fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM scores WHERE item_id = ?", (item,)).fetchone()[0] <= 1
# what the writer can hold: the queue (depth) and the batch it took from it (<= depth);
# the server may also have answered the requests in flight (<= c)
lost = answered - len(rows)
bound = depth + depth + c
assert 0 <= lost <= bound, (answered, len(rows), bound)
print("stored %d, answered %d, lost %d <= %d" % (len(rows), answered, lost, bound))
PY
S=$(stored)

# what readers show for them: energy not measured, never 0
$IPW export k --format csv --store "$DB" >"$TMP/k.csv" || fail "export"
expect_eq "exported energy_j" "$(csv_query "$TMP/k.csv" 'sorted(set(r["energy_j"] for r in rows))')" "['']"
$IPW show k --store "$DB" >"$TMP/show1" 2>&1 || fail "show: $(cat "$TMP/show1")"
grep -q "not measured" "$TMP/show1" || fail "show does not say the energy is not measured: $(cat "$TMP/show1")"
grep -Eq '(^| )0\.0+ J' "$TMP/show1" && fail "show prints 0 J for energy not measured: $(cat "$TMP/show1")"

# resume against a server that answers everything (the STALL item too): exactly the missing requests
FPID=${SERVER_PIDS##* }
PORT=${URL##*:}
kill "$FPID"
wait "$FPID" 2>/dev/null
"$IPW_BUILD/fakes/fakellm" --port "$PORT" --tokens 3 --lifetime-s 120 </dev/null >"$TMP/b.log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
i=0
until curl -s "$URL/v1/models" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "fakellm did not come back on port $PORT: $(cat "$TMP/b.log")"
	sleep 0.05
done
$IPW profile --resume k --store "$DB" --quiet >"$TMP/out2" 2>"$TMP/err2" || fail "resume exited $?: $(cat "$TMP/err2")"
grep -q "$((N - S)) of the load's $N requests have no stored query" "$TMP/err2" || fail "resume message: $(cat "$TMP/err2")"
expect_eq "requests the resume sent" "$(answered "$URL")" $((N - S))
python3 - "$DB" $N <<'PY' || fail "the store after the resume"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = int(sys.argv[2])
run, status, summ = db.execute("SELECT id, status, summary_json FROM runs WHERE name = 'k'").fetchone()
assert status == "completed", status
rows = db.execute("SELECT item_id, status, accel_j, recorded_at, superseded_at FROM queries WHERE run_id = ?"
                  " ORDER BY recorded_at", (run,)).fetchall()
assert sorted(r[0] for r in rows) == sorted("k%d" % i for i in range(n)), [r[0] for r in rows]
assert all(r[1] == "ok" and r[4] is None for r in rows), rows
s = json.loads(summ)
assert s["sent"] == n - sum(1 for r in rows if r[2] is None), (s["sent"], rows)
w = s["writer"]   # what the resumed run's writer did (the default queue: --writer-queue is not recorded)
assert w["queue_depth"] == 256 and w["stored"] == s["sent"] and 1 <= w["batches"] <= s["sent"], w
assert w["largest_batch"] <= 64 and w["full_queue_waits"] >= 0 and w["full_queue_wait_s"] >= 0, w
# the resumed requests have their attributed energy; the killed run's stay not measured
measured = [r for r in rows if r[2] is not None]
assert len(measured) == s["sent"] and all(r[2] > 0 for r in measured), rows
assert abs(sum(r[2] for r in measured) - s["energy"]["attributed_accel_j"]) < 1e-6 * s["energy"]["attributed_accel_j"]
PY
# nothing left: a second resume is refused
$IPW profile --resume k --store "$DB" --quiet >/dev/null 2>"$TMP/err3" && fail "a complete load run was resumed"
grep -q "completed load run: nothing to resume" "$TMP/err3" || fail "second resume: $(cat "$TMP/err3")"

# a --duration load has no fixed list of requests: its resume is refused, nothing sent
start_fakellm c --tokens 2
$IPW profile --url "$URL" --dataset "$TMP/d.jsonl" --store "$TMP/dur.db" --name dur --duration 0.3 --concurrency 2 \
	$COMMON >/dev/null 2>"$TMP/err4" || fail "duration run: $(cat "$TMP/err4")"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("update runs set status = ?", ("interrupted",)); c.commit()' "$TMP/dur.db"
before=$(answered "$URL")
$IPW profile --resume dur --store "$TMP/dur.db" --quiet >/dev/null 2>"$TMP/err5" && fail "a --duration load run was resumed"
grep -q "was a --duration load" "$TMP/err5" || fail "duration resume: $(cat "$TMP/err5")"
expect_eq "requests sent by the refused resume" "$(answered "$URL")" "$before"
echo ok
