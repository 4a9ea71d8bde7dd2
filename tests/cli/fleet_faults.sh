#!/bin/sh
# Studies on a real PostgreSQL server (tests/pg/start.sh), fake server and fake
# telemetry: a study runs to the end with every item of every config recorded
# once; a worker killed with -9 mid-batch leaves its claimed items to another
# worker after its lease expires (each still recorded once); a worker stopped
# past its lease has its late results refused (lease lost); two workers racing
# for the last batch: one gets it, the other records nothing; a PostgreSQL
# restart and pg_terminate_backend of a worker's connections mid-run: the
# worker reconnects and goes on, nothing lost. Workers are held still with
# SIGSTOP (or stall on a "SAY: STALL" item) so that each case asserts what
# happened, never how long it took. SQLite gives the study commands a clear
# error. Skipped (77) without the server binaries unless IPW_REQUIRE_PG=1.
set -u
: "${IPW:?}" "${IPW_BUILD:?}"
. "$IPW_TESTS/cli/lib/common.sh"
command -v psql >/dev/null || { [ "${IPW_REQUIRE_PG:-}" = 1 ] && fail "IPW_REQUIRE_PG=1 but no psql"; echo "psql not found"; exit 77; }
PGDIR=$(mktemp -d /tmp/ipw-pgf-XXXXXX) && rmdir "$PGDIR"
WPIDS=""
trap 'for p in $WPIDS; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done; sh "$IPW_TESTS/pg/stop.sh" "$PGDIR"; cleanup' EXIT INT TERM
sh "$IPW_TESTS/pg/start.sh" "$PGDIR" fleet >/dev/null 2>"$TMP/pg.err"
rc=$?
if [ $rc = 77 ]; then
	[ "${IPW_REQUIRE_PG:-}" = 1 ] && fail "IPW_REQUIRE_PG=1 but: $(cat "$TMP/pg.err")"
	cat "$TMP/pg.err"
	exit 77
fi
[ $rc = 0 ] || fail "the PostgreSQL test server did not start: $(cat "$TMP/pg.err")"
DB="postgresql:///fleet?host=$PGDIR"
sql() { psql -X -q -t -A -h "$PGDIR" -d fleet -c "$1"; }
# wait_sql SQL WANT: until the query prints WANT (a condition, not a time; fails after 60 s)
wait_sql() {
	i=0
	while [ "$(sql "$1")" != "$2" ]; do
		i=$((i + 1)); [ $i -gt 600 ] && fail "waited 60 s for [$1] = $2: got $(sql "$1")"
		sleep 0.1
	done
}
export IPW_NVML_LIBRARY="$IPW_BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1 IPW_PG_RECONNECT_S=30
FAKE="--backends fake --fake-profile gpu0=const:200 --idle-seconds 0.1 --no-host --quiet"

# 8 items; f03 makes a "say" server stall until the client's timeout
for i in 1 2 3 4 5 6 7 8; do
	say="a$i"; [ $i = 3 ] && say=STALL
	printf '{"id": "f0%d", "task": "exact", "problem": "SAY: %s", "answer": "a%d"}\n' "$i" "$say" "$i"
done >"$TMP/d.jsonl"
start_fakellm normal --tokens 3
NORMAL=$URL
start_fakellm say --scenario say
SAY=$URL

# every item of a study once, across the study's runs of config C
once() { # STUDY CONFIG N
	got=$(sql "SELECT count(*), count(DISTINCT q.item_id) FROM queries q JOIN study_items s ON s.run_id = q.run_id
		AND s.item_id = q.item_id JOIN studies t ON t.id = s.study_id WHERE t.name = '$1' AND s.config = '$2'")
	expect_eq "$1/$2: queries recorded, distinct items" "$got" "$3|$3"
	expect_eq "$1/$2: items done" "$(sql "SELECT count(*) FROM study_items s JOIN studies t ON t.id = s.study_id
		WHERE t.name = '$1' AND s.config = '$2' AND done = 1")" "$3"
	expect_eq "$1/$2: queries in the study's runs" "$(sql "SELECT count(*) FROM queries WHERE run_id IN
		(SELECT id FROM runs WHERE group_name = 'study:$1' AND name LIKE '$1/$2@%')")" "$3"
}

# 0. SQLite: a clear error; a bad config spec is a usage error
"$IPW" study create x --store "$TMP/s.db" --dataset "$TMP/d.jsonl" --config 'a model=m' >"$TMP/o" 2>&1
[ $? = 3 ] || fail "study create on SQLite: $(cat "$TMP/o")"
grep -q "needs a PostgreSQL store" "$TMP/o" || fail "SQLite message: $(cat "$TMP/o")"
"$IPW" study create x --store "$DB" --dataset "$TMP/d.jsonl" --config '--max-tokens 3' >"$TMP/o" 2>&1
[ $? = 2 ] || fail "a config without a name: $(cat "$TMP/o")"

# 1. two configs, a worker on each at once: every item of each config once, status per config and host
"$IPW" study create s1 --store "$DB" --dataset "$TMP/d.jsonl" --batch 3 \
	--config 'a model=m1 server=fake accelerator=fakegpu --max-tokens 4' --config 'b model=m2 server=fake' \
	>"$TMP/c1" 2>&1 || fail "study create: $(cat "$TMP/c1")"
grep -q "8 items x 2 configs" "$TMP/c1" || fail "create said: $(cat "$TMP/c1")"
"$IPW" study create s1 --store "$DB" --dataset "$TMP/d.jsonl" --config 'a' >"$TMP/o" 2>&1
[ $? = 3 ] && grep -q "already exists" "$TMP/o" || fail "a second study s1: $(cat "$TMP/o")"
# shellcheck disable=SC2086
"$IPW" worker --study s1 --store "$DB" --url "$NORMAL" --worker-id w1 --config a $FAKE >"$TMP/w1" 2>&1 &
p1=$!
# shellcheck disable=SC2086
"$IPW" worker --study s1 --store "$DB" --url "$NORMAL" --worker-id w2 --config b $FAKE >"$TMP/w2" 2>&1
r2=$?
wait $p1; r1=$?
[ $r1 = 0 ] && [ $r2 = 0 ] || fail "workers exited $r1, $r2: $(cat "$TMP/w1" "$TMP/w2")"
once s1 a 8
once s1 b 8
"$IPW" study status s1 --store "$DB" --format csv >"$TMP/st.csv" || fail "study status"
expect_eq "status: done per config" "$(csv_query "$TMP/st.csv" 'sorted((c, sum(int(r["done"]) for r in rows if r["config"] == c)) for c in "ab")')" "[('a', 8), ('b', 8)]"
expect_eq "status: host and clock offset recorded" "$(csv_query "$TMP/st.csv" 'all(r["host"] and r["clock_offset_s"] != "" for r in rows)')" True
expect_eq "hardware recorded" "$(sql "SELECT DISTINCT hardware FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = 's1')")" "Fake GPU x1"
# the study's runs read like any run: show, compare, coverage on PostgreSQL
a_run=$(sql "SELECT id FROM runs WHERE name = 's1/a@w1'")
b_run=$(sql "SELECT id FROM runs WHERE name = 's1/b@w2'")
for cmd in "show $a_run" "compare $a_run $b_run --bootstrap 50" "coverage $a_run $b_run" "runs" \
	"route simulate --local $a_run --cloud $b_run --trials 20 --seed 1"; do
	# shellcheck disable=SC2086
	"$IPW" $cmd --store "$DB" >"$TMP/an" 2>&1 || fail "ipw $cmd on a study run: $(cat "$TMP/an")"
done

# 2. kill -9 mid-batch: w3 (each item committed as it ends) stalls on f03 holding f01-f05 (f01, f02
#    done); killed; w4 takes the rest once w3's lease (2 s, no heartbeat since it died) has expired
"$IPW" study create k9 --store "$DB" --dataset "$TMP/d.jsonl" --batch 5 --config 'a model=m' >/dev/null ||
	fail "create k9"
# shellcheck disable=SC2086
"$IPW" worker --study k9 --store "$DB" --url "$SAY" --worker-id w3 --lease 2 --commit-every 1 $FAKE >"$TMP/w3" 2>&1 &
p3=$!
WPIDS="$WPIDS $p3"
wait_sql "SELECT count(*) FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = 'k9') AND done = 1" 2
wait_sql "SELECT count(*) FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = 'k9') AND done = 0 AND lease_owner = 'w3'" 3
kill -9 $p3
wait $p3 2>/dev/null
# shellcheck disable=SC2086
"$IPW" worker --study k9 --store "$DB" --url "$NORMAL" --worker-id w4 --lease 1 $FAKE >"$TMP/w4" 2>&1 ||
	fail "w4 exited $?: $(cat "$TMP/w4")"
once k9 a 8
expect_eq "k9: who did what" "$(sql "SELECT string_agg(item_id || ':' || r.name || ':' || claims, ' ' ORDER BY item_id)
	FROM study_items s JOIN runs r ON r.id = s.run_id WHERE study_id = (SELECT id FROM studies WHERE name = 'k9')")" \
	"f01:k9/a@w3:1 f02:k9/a@w3:1 f03:k9/a@w4:2 f04:k9/a@w4:2 f05:k9/a@w4:2 f06:k9/a@w4:1 f07:k9/a@w4:1 f08:k9/a@w4:1"

# 2b. kill -9 mid-batch with batched commits (the default: a claim's items in one transaction): w7 has
#     claimed f01-f05 and cannot commit them before f03 (stalled until its 300 s timeout) ends; killed,
#     nothing of the batch is stored (its run holds no query) and w8 records all 8 once, f01-f05 claimed twice
"$IPW" study create k9b --store "$DB" --dataset "$TMP/d.jsonl" --batch 5 --config 'a model=m' >/dev/null ||
	fail "create k9b"
# shellcheck disable=SC2086
"$IPW" worker --study k9b --store "$DB" --url "$SAY" --worker-id w7 --lease 2 --timeout 300 $FAKE >"$TMP/w7" 2>&1 &
p7=$!
WPIDS="$WPIDS $p7"
wait_sql "SELECT count(*) FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = 'k9b') AND lease_owner = 'w7'" 5
kill -9 $p7
wait $p7 2>/dev/null
# shellcheck disable=SC2086
"$IPW" worker --study k9b --store "$DB" --url "$NORMAL" --worker-id w8 --lease 1 $FAKE >"$TMP/w8" 2>&1 ||
	fail "w8 exited $?: $(cat "$TMP/w8")"
once k9b a 8
expect_eq "k9b: the killed worker's batch left nothing" "$(sql "SELECT count(*) FROM queries WHERE run_id IN
	(SELECT id FROM runs WHERE name = 'k9b/a@w7')")" 0
expect_eq "k9b: who did what" "$(sql "SELECT string_agg(item_id || ':' || r.name || ':' || claims, ' ' ORDER BY item_id)
	FROM study_items s JOIN runs r ON r.id = s.run_id WHERE study_id = (SELECT id FROM studies WHERE name = 'k9b')")" \
	"f01:k9b/a@w8:2 f02:k9b/a@w8:2 f03:k9b/a@w8:2 f04:k9b/a@w8:2 f05:k9b/a@w8:2 f06:k9b/a@w8:1 f07:k9b/a@w8:1 f08:k9b/a@w8:1"
expect_eq "k9b: energy and a score on each of w8's queries" "$(sql "SELECT count(*) FROM queries q JOIN runs r ON
	r.id = q.run_id WHERE r.name = 'k9b/a@w8' AND q.accel_j > 0 AND EXISTS (SELECT 1 FROM scores c WHERE
	c.run_id = q.run_id AND c.item_id = q.item_id)")" 8

# 3. lease lost: w5 stalls on f03 (timeout 1 s, no retry), is stopped past its lease, w6 finishes the
#    study; w5, continued, has f03-f05 refused and records nothing more
"$IPW" study create lost --store "$DB" --dataset "$TMP/d.jsonl" --batch 5 --config 'a model=m' >/dev/null ||
	fail "create lost"
# shellcheck disable=SC2086
"$IPW" worker --study lost --store "$DB" --url "$SAY" --worker-id w5 --lease 1.5 --timeout 1 --retries 0 --commit-every 1 $FAKE \
	>"$TMP/w5" 2>&1 &
p5=$!
WPIDS="$WPIDS $p5"
wait_sql "SELECT count(*) FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = 'lost') AND done = 1" 2
kill -STOP $p5
# shellcheck disable=SC2086
"$IPW" worker --study lost --store "$DB" --url "$NORMAL" --worker-id w6 --lease 1 $FAKE >"$TMP/w6" 2>&1 ||
	fail "w6 exited $?: $(cat "$TMP/w6")"
kill -CONT $p5
wait $p5; r5=$?
[ $r5 = 0 ] || fail "w5 exited $r5: $(cat "$TMP/w5")"
once lost a 8
expect_eq "lost: items refused to w5" "$(grep -c 'no longer ours' "$TMP/w5")" 3
grep -q "config a: 2 items recorded in run .* 3 dropped" "$TMP/w5" || fail "w5's summary: $(cat "$TMP/w5")"
expect_eq "lost: w6 did f03-f08" "$(sql "SELECT count(*) FROM study_items s JOIN runs r ON r.id = s.run_id
	WHERE study_id = (SELECT id FROM studies WHERE name = 'lost') AND r.name = 'lost/a@w6'")" 6

# 3b. lease lost for part of a batch in flight (batched commits): w9 claims f01-f05 and is held
#     (SIGSTOP) before it can commit them (f03 stalls until its 3 s timeout); meanwhile f01 and f02
#     are taken from it (their token changed, their lease expired, as another worker's claim would);
#     continued, w9 commits the batch: f01 and f02 are dropped and said, f03-f05 recorded; it then
#     claims f01, f02 (expired) with f06-f08 and records them: every item once, f01 and f02 claimed twice
"$IPW" study create part --store "$DB" --dataset "$TMP/d.jsonl" --batch 5 --config 'a model=m' >/dev/null ||
	fail "create part"
# shellcheck disable=SC2086
"$IPW" worker --study part --store "$DB" --url "$SAY" --worker-id w9 --timeout 3 --retries 0 $FAKE >"$TMP/w9" 2>&1 &
p9=$!
WPIDS="$WPIDS $p9"
PART="study_id = (SELECT id FROM studies WHERE name = 'part')"
wait_sql "SELECT count(*) FROM study_items WHERE $PART AND lease_owner = 'w9'" 5
kill -STOP $p9
expect_eq "part: nothing committed before the batch ends" "$(sql "SELECT count(*) FROM study_items WHERE $PART AND done = 1")" 0
sql "UPDATE study_items SET lease_token = 'taken', lease_owner = 'other', lease_expires = 0, claims = claims + 1
	WHERE $PART AND item_id IN ('f01', 'f02')" >/dev/null
kill -CONT $p9
wait $p9; r9=$?
[ $r9 = 0 ] || fail "w9 exited $r9: $(cat "$TMP/w9")"
once part a 8
expect_eq "part: items refused to w9" "$(grep -c 'no longer ours' "$TMP/w9")" 2
grep -q "item 'f01' of config 'a' is no longer ours" "$TMP/w9" || fail "w9 did not name f01: $(cat "$TMP/w9")"
expect_eq "part: claims" "$(sql "SELECT string_agg(item_id || ':' || claims, ' ' ORDER BY item_id) FROM study_items WHERE $PART")" \
	"f01:3 f02:3 f03:1 f04:1 f05:1 f06:1 f07:1 f08:1"
grep -q "config a: 8 items recorded in run .* 2 dropped" "$TMP/w9" || fail "w9's summary: $(cat "$TMP/w9")"

# 4. two workers racing for the last (only) batch: one records all 4 items, the other none
head -4 "$TMP/d.jsonl" | sed 's/STALL/a3/' >"$TMP/d4.jsonl"
"$IPW" study create race --store "$DB" --dataset "$TMP/d4.jsonl" --batch 4 --config 'a model=m' >/dev/null ||
	fail "create race"
# shellcheck disable=SC2086
"$IPW" worker --study race --store "$DB" --url "$NORMAL" --worker-id r1 $FAKE >"$TMP/r1" 2>&1 &
p1=$!
# shellcheck disable=SC2086
"$IPW" worker --study race --store "$DB" --url "$NORMAL" --worker-id r2 $FAKE >"$TMP/r2" 2>&1
r2=$?
wait $p1; r1=$?
[ $r1 = 0 ] && [ $r2 = 0 ] || fail "racers exited $r1, $r2: $(cat "$TMP/r1" "$TMP/r2")"
once race a 4
expect_eq "race: items per worker" "$(sql "SELECT string_agg(n::text, ' ' ORDER BY n) FROM (SELECT count(*) AS n
	FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = 'race') GROUP BY lease_owner) x")" 4
expect_eq "race: claims" "$(sql "SELECT sum(claims) FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = 'race')")" 4

# 5. PostgreSQL restarted and 6. the worker's backends terminated, each while the worker is held
#    mid-run (stopped after 2 items, with f03 still to stall on): it reconnects, nothing is lost
fault_run() { # NAME FAULT
	"$IPW" study create "$1" --store "$DB" --dataset "$TMP/d.jsonl" --batch 2 --config 'a model=m' >/dev/null ||
		fail "create $1"
	# shellcheck disable=SC2086
	"$IPW" worker --study "$1" --store "$DB" --url "$SAY" --worker-id "w$1" --lease 30 --timeout 1 --retries 0 \
		$FAKE >"$TMP/w$1" 2>&1 &
	wp=$!
	WPIDS="$WPIDS $wp"
	wait_sql "SELECT count(*) FROM study_items WHERE study_id = (SELECT id FROM studies WHERE name = '$1') AND done = 1" 2
	kill -STOP $wp
	eval "$2"
	kill -CONT $wp
	wait $wp; wr=$?
	[ $wr = 0 ] || fail "$1: the worker exited $wr: $(cat "$TMP/w$1")"
	once "$1" a 8
	expect_eq "$1: f03 recorded as failed (stalled), the rest ok" "$(sql "SELECT string_agg(q.item_id || '=' ||
		q.status, ' ' ORDER BY q.item_id) FROM queries q JOIN runs r ON r.id = q.run_id WHERE r.name = '$1/a@w$1'")" \
		"f01=ok f02=ok f03=failed f04=ok f05=ok f06=ok f07=ok f08=ok"
	expect_eq "$1: energy set on every ok query" "$(sql "SELECT count(*) FROM queries q JOIN runs r ON r.id = q.run_id
		WHERE r.name = '$1/a@w$1' AND q.status = 'ok' AND q.accel_j > 0")" 7
}
restart() {
	pgctl=""
	for d in "${IPW_PG_BINDIR:-}" /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && pgctl=$d/pg_ctl; done
	command -v pg_ctl >/dev/null && pgctl=$(command -v pg_ctl)
	run=""
	[ "$(id -u)" = 0 ] && run="runuser -u $(stat -c %U "$PGDIR/data") --"
	$run "$pgctl" -D "$PGDIR/data" -m fast -w restart -l "$PGDIR/server.log" \
		-o "-c listen_addresses= -c unix_socket_directories=$PGDIR -c fsync=off -c max_connections=50" \
		>/dev/null 2>&1 || fail "pg_ctl restart failed"
}
started=$(sql "SELECT pg_postmaster_start_time()")
fault_run restart restart
[ "$(sql "SELECT pg_postmaster_start_time()")" != "$started" ] || fail "the server was not restarted"
grep -q "could not be made again" "$TMP/wrestart" && fail "restart: gave up reconnecting: $(cat "$TMP/wrestart")"
# (the worker's four connections: its own (which the queue's claims share), the runner's, the queue
# heartbeat's and the run lease heartbeat's)
fault_run terminate "sql \"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'fleet'
	AND pid <> pg_backend_pid() AND backend_type = 'client backend'\" >\"\$TMP/killed\""
expect_eq "backends terminated" "$(cat "$TMP/killed")" 4
exit 0
