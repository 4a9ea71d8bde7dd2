#!/bin/sh
# Signals stop a run cleanly (issue 10): a closed output pipe (ipw profile
# ... 2>&1 | head) and SIGHUP end the run as Ctrl-C does (interrupted, what
# was measured kept, resumable) instead of killing it and leaving it
# "running"; after a second Ctrl-C a --serve child that ignores SIGTERM is
# still stopped (its guard process SIGKILLs the group after a grace period).
set -u
. "$(dirname "$0")/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0"

start_fakellm slow --tokens 10 --token-delay-ms 20

status_of() {
	$IPW show "$1" --json --store "$2" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'
}

# 1. the reader of ipw's output goes away: the run stops as interrupted
$IPW profile --url "$URL" --limit 40 --store "$TMP/p.db" --name piped $COMMON 2>&1 | head -3 >/dev/null
expect_eq "status after a closed pipe" "$(status_of piped "$TMP/p.db")" interrupted
$IPW profile --resume piped --store "$TMP/p.db" $COMMON >/dev/null 2>&1 || fail "resume after a closed pipe"
expect_eq "status after resume" "$(status_of piped "$TMP/p.db")" completed

# 2. SIGHUP (the terminal went away): interrupted, exit 130
$IPW profile --url "$URL" --limit 40 --store "$TMP/h.db" --name hup $COMMON >/dev/null 2>"$TMP/err2" &
pid=$!
i=0
until grep -q "ipw: 1 " "$TMP/err2"; do i=$((i + 1)); [ $i -gt 200 ] && fail "no query finished"; sleep 0.05; done
kill -HUP $pid
wait $pid
expect_eq "exit after SIGHUP" $? 130
expect_eq "status after SIGHUP" "$(status_of hup "$TMP/h.db")" interrupted

# 3. a --serve child that ignores SIGTERM, and two Ctrl-Cs: the child is gone all the same
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/server.sh" <<SH
trap '' TERM INT
echo \$\$ >"$TMP/server.pid"
"$IPW_BUILD/fakes/fakellm" --port $port --tokens 10 --token-delay-ms 20 --lifetime-s 120 </dev/null &
while :; do sleep 0.1; done
SH
$IPW profile --url "http://127.0.0.1:$port" --serve "trap '' TERM INT; sh $TMP/server.sh" --serve-log "$TMP/server.log" \
	--limit 40 --store "$TMP/s.db" $COMMON >/dev/null 2>"$TMP/err3" &
pid=$!
i=0
until grep -q "ipw: 1 " "$TMP/err3"; do i=$((i + 1)); [ $i -gt 400 ] && fail "serve run did not start: $(cat "$TMP/err3")"; sleep 0.05; done
spid=$(cat "$TMP/server.pid")
spg=$(ps -o pgid= -p "$spid" | tr -d ' ')
kill -INT $pid
sleep 0.5
kill -0 $pid 2>/dev/null || fail "ipw ended before the second Ctrl-C (the child ignores SIGTERM): $(cat "$TMP/err3")"
kill -INT $pid
wait $pid
i=0
while kill -0 "$spid" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 300 ]; then
		kill -9 -- -"$spg" 2>/dev/null
		fail "the --serve child outlived ipw"
	fi
	sleep 0.05
done
echo "signals: ok"
