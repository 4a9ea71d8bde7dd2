#!/bin/sh
# One sender per run: a run holds a lease (owner host:pid) renewed by a
# heartbeat; a --resume of a run that is still running is refused, naming
# the holder and how old its heartbeat is, and changes nothing; a lease whose
# process is gone from this host, or whose heartbeat is older than the stale
# timeout (60 s), is taken over with a note. Deterministic: the holder is a
# live process stuck in a 200 s answer, the stale leases are rows written
# with a dead pid or an hour-old heartbeat.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --retries 0 --timeout 400 --quiet"
DB="$TMP/l.db"
sq() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print(r[0][0] if r and len(r[0]) == 1 else r)' "$DB" "$1"; }
: >"$TMP/d.jsonl"
for i in 0 1 2; do
	printf '{"id":"l%d","problem":"LEASE-%d","answer":"1","subject":"s","task":"numeric"}\n' $i $i >>"$TMP/d.jsonl"
done
HOST=$(hostname)

# 1. a run stuck in its first answer (100 tokens, 2 s apart) holds the lease and renews it
start_fakellm slow --tokens 100 --token-delay-ms 2000
FPID=${SERVER_PIDS##* }
PORT=${URL##*:}
IPW_LEASE_HEARTBEAT_S=0.2 $IPW profile --url "$URL" --dataset "$TMP/d.jsonl" --store "$DB" --name l $COMMON \
	>/dev/null 2>"$TMP/err1" &
pid=$!
i=0
until [ "$(sq "select count(*) from run_leases where heartbeat_at > acquired_at" 2>/dev/null)" = 1 ]; do
	kill -0 $pid 2>/dev/null || fail "the run ended: $(cat "$TMP/err1")"
	i=$((i + 1)); [ $i -gt 600 ] && { kill -9 $pid; fail "no renewed lease in 60 s: $(cat "$TMP/err1")"; }
	sleep 0.1
done
expect_eq "lease owner" "$(sq "select owner from run_leases")" "$HOST:$pid"

# 2. a resume while it runs is refused, and leaves the run as it was
$IPW profile --resume l --store "$DB" >/dev/null 2>"$TMP/err2"
rc=$?
[ $rc -ne 0 ] || { kill -9 $pid; fail "a second sender was let in"; }
grep -q "run 1 is being run by $HOST:$pid (its heartbeat is [0-9]* s old" "$TMP/err2" ||
	{ kill -9 $pid; fail "refusal message: $(cat "$TMP/err2")"; }
expect_eq "status after the refused resume" "$(sq "select status from runs")" running
expect_eq "queries after the refused resume" "$(sq "select count(*) from queries")" 0
expect_eq "the holder still holds it" "$(sq "select owner from run_leases")" "$HOST:$pid"
kill -0 $pid || fail "the first run died"

# 3. the holder killed (-9): its lease stays, its pid is gone from this host: taken over, said so
kill -9 $pid
wait $pid 2>/dev/null
kill "$FPID"
wait "$FPID" 2>/dev/null
"$IPW_BUILD/fakes/fakellm" --port "$PORT" --tokens 2 --lifetime-s 120 </dev/null >"$TMP/fast.log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
i=0
until curl -s "$URL/v1/models" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "fakellm did not come back on port $PORT: $(cat "$TMP/fast.log")"
	sleep 0.05
done
$IPW profile --resume l --store "$DB" >/dev/null 2>"$TMP/err3" || fail "resume after kill -9 exited $?: $(cat "$TMP/err3")"
grep -q "took over the lease on run 1 from $HOST:$pid: its process $pid is not running on this host" "$TMP/err3" ||
	fail "no take-over note: $(cat "$TMP/err3")"
expect_eq "items after the take-over" "$(sq "select count(*) from queries where status = 'ok'")" 3
expect_eq "lease released at the end" "$(sq "select count(*) from run_leases")" 0

# 4. a holder on another host (its pid cannot be checked): fresh heartbeat refused, an hour old taken over
sq "update runs set status = 'interrupted'" >/dev/null
sq "update queries set superseded_at = 1 where item_id = 'l2'" >/dev/null
now=$(python3 -c 'import time; print(time.time())')
sq "insert into run_leases values (1, 'elsewhere:77', 'elsewhere', 77, $now, $now)" >/dev/null
$IPW profile --resume l --store "$DB" >/dev/null 2>"$TMP/err4"
[ $? -ne 0 ] || fail "a fresh lease on another host was ignored"
grep -q "run 1 is being run by elsewhere:77" "$TMP/err4" || fail "refusal: $(cat "$TMP/err4")"
old=$(python3 -c 'import time; print(time.time() - 3600)')
sq "update run_leases set acquired_at = $old, heartbeat_at = $old" >/dev/null
$IPW profile --resume l --store "$DB" >/dev/null 2>"$TMP/err5" || fail "resume of a stale lease exited $?: $(cat "$TMP/err5")"
grep -q "took over the lease on run 1 from elsewhere:77: its last heartbeat is 36[0-9][0-9] s old, over the 60 s" "$TMP/err5" ||
	fail "no stale note: $(cat "$TMP/err5")"
expect_eq "l2 sent again" "$(sq "select count(*) from queries where item_id = 'l2' and superseded_at is null")" 1

# 5. a holder whose lease was taken (its heartbeat finds another owner) stops before its next item,
# and leaves the run and the lease to the new owner
# (20 items of 6 s each: the heartbeat, every 0.2 s, has two minutes to notice)
DB="$TMP/m.db"
: >"$TMP/d20.jsonl"
for i in $(seq 0 19); do
	printf '{"id":"m%d","problem":"LEASE-%d","answer":"1","subject":"s","task":"numeric"}\n' $i $i >>"$TMP/d20.jsonl"
done
start_fakellm slow2 --tokens 20 --token-delay-ms 300
IPW_LEASE_HEARTBEAT_S=0.2 $IPW profile --url "$URL" --dataset "$TMP/d20.jsonl" --store "$DB" --name m $COMMON \
	>/dev/null 2>"$TMP/err6" &
pid=$!
i=0
until [ "$(sq "select count(*) from run_leases where heartbeat_at > acquired_at" 2>/dev/null)" = 1 ]; do
	kill -0 $pid 2>/dev/null || fail "the run ended: $(cat "$TMP/err6")"
	i=$((i + 1)); [ $i -gt 600 ] && { kill -9 $pid; fail "no renewed lease in 60 s: $(cat "$TMP/err6")"; }
	sleep 0.1
done
sq "update run_leases set owner = 'thief:1', host = 'thief', pid = 1" >/dev/null
wait $pid
expect_eq "exit of the holder that lost its lease" $? 4
grep -q "another sender took over this run: run 1: $HOST:$pid no longer holds its lease; stopped" "$TMP/err6" ||
	fail "no reason: $(cat "$TMP/err6")"
expect_eq "the run left to the new owner" "$(sq "select status from runs")" running
expect_eq "the new owner's lease kept" "$(sq "select owner from run_leases")" thief:1
[ "$(sq "select count(*) from queries")" -lt 20 ] || fail "the holder sent every item after losing its lease"
echo ok
