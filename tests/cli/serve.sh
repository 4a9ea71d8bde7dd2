#!/bin/sh
# serve.sh - 'ipw profile --serve CMD' with the fake server as the served
# command: a clean run (device idle before the server, server idle, log kept,
# server stopped afterwards), a busy port, a server that dies before it is
# healthy, one that dies during the run, and a health timeout.
set -u
. "$(dirname "$0")/lib/common.sh"
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
export IPW_FAKE_PROFILE='gpu0=const:120;step_ms=50'
DS="$(dirname "$0")/../data/load/identical.jsonl"
COMMON="--idle-seconds 0.3 --no-host --backends fake --warmup 0 --quiet --dataset $DS"
FAKE="$IPW_BUILD/fakes/fakellm"

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
answers() { # answers PORT: 0 when something accepts connections there
	python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$1" 2>/dev/null
}

# 1. a clean run: started, healthy, measured, stopped
P=$(free_port)
$IPW profile --serve "$FAKE --port $P --tokens 6 --token-delay-ms 5" --url "http://127.0.0.1:$P" \
	--serve-log "$TMP/server.log" --store "$TMP/a.db" --name served --concurrency 2 --requests 6 $COMMON \
	>"$TMP/out1" 2>"$TMP/err1" || fail "served run exited $?: $(cat "$TMP/err1")"
grep -q "started the server" "$TMP/err1" || fail "no start message"
grep -q "stopping the server" "$TMP/err1" || fail "no stop message"
answers "$P" && fail "the server still answers on $P after the run"
grep -q "listening on 127.0.0.1:$P" "$TMP/server.log" || fail "server log not kept: $(cat "$TMP/server.log")"
grep -Eq "device idle \(no server\) +[0-9.]+ W" "$TMP/out1" || fail "device idle not reported: $(cat "$TMP/out1")"
# the idle powers of the constant 120 W source, each over 0.3 s: off by at most
# 120 W x G / 0.3 s, G the longest gap between energy readings that happened
# (a 50 ms counter step is placed within G/2 at each edge; see sample_gap)
G=$(sample_gap "$TMP/a.db" served) || fail "no samples stored for the served run"
python3 - "$TMP/a.db" "$TMP/server.log" "$G" <<'PY' || fail "served run record"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
log, summ = db.execute("SELECT server_log, summary_json FROM runs WHERE name = 'served'").fetchone()
assert log == sys.argv[2], log
sv, bound = json.loads(summ)["serve"], 120 * float(sys.argv[3]) / 0.3 + 0.1
assert abs(sv["device_idle_accel_w"] - 120) <= bound, (sv, bound)
assert abs(sv["server_idle_accel_w"] - 120) <= bound, (sv, bound)
assert sv["log"] == sys.argv[2] and "fakellm" in sv["command"], sv
assert json.loads(summ)["ok"] == 6
PY
# a sequential served run records the idle powers too
$IPW profile --serve "$FAKE --port $P --tokens 4" --url "http://127.0.0.1:$P" --limit 2 \
	--serve-log "$TMP/server2.log" --store "$TMP/a.db" --name served-seq $COMMON >/dev/null 2>"$TMP/err1b" ||
	fail "sequential served run exited $?: $(cat "$TMP/err1b")"
answers "$P" && fail "the sequential run's server still answers"

# 2. busy port: something already answers there -> a clear error, nothing started
start_fakellm busy --tokens 2
BP=${URL##*:}
$IPW profile --serve "$FAKE --port $BP" --url "$URL" --store "$TMP/b.db" $COMMON >/dev/null 2>"$TMP/err2"
rc=$?
[ $rc -ne 0 ] || fail "a busy port was accepted"
grep -q "port $BP on 127.0.0.1 is already in use" "$TMP/err2" || fail "busy-port message: $(cat "$TMP/err2")"

# 3. a server that dies before it is healthy
P=$(free_port)
$IPW profile --serve "echo loading; echo no GPU >&2; exit 3" --url "http://127.0.0.1:$P" \
	--serve-log "$TMP/dead.log" --store "$TMP/c.db" $COMMON >/dev/null 2>"$TMP/err3" && fail "a dead server was accepted"
grep -q "exited with status 3 before it became healthy" "$TMP/err3" || fail "dead-server message: $(cat "$TMP/err3")"
grep -q "no GPU" "$TMP/err3" || fail "the log tail is not in the message: $(cat "$TMP/err3")"

# 4. a server that dies during the run (it exits after 12 HTTP requests)
P=$(free_port)
$IPW profile --serve "$FAKE --port $P --tokens 6 --token-delay-ms 20 --max-requests 12" --url "http://127.0.0.1:$P" \
	--serve-log "$TMP/mid.log" --store "$TMP/d.db" --concurrency 2 --requests 40 $COMMON >/dev/null 2>"$TMP/err4" &&
	fail "a server dying mid-run went unnoticed"
grep -q "during the run" "$TMP/err4" || fail "mid-run death message: $(cat "$TMP/err4")"

# 5. a server that never becomes healthy: the timeout, then it is stopped
P=$(free_port)
$IPW profile --serve "exec sleep 30" --serve-timeout 1 --url "http://127.0.0.1:$P" --serve-log "$TMP/slow.log" \
	--store "$TMP/e.db" $COMMON >/dev/null 2>"$TMP/err5" && fail "a silent server was accepted"
grep -q "did not become healthy .* within 1 s" "$TMP/err5" || fail "timeout message: $(cat "$TMP/err5")"
grep -q "stopping the server" "$TMP/err5" || fail "the silent server was not stopped: $(cat "$TMP/err5")"

# 6. --serve without --url is a clear error
$IPW profile --serve "$FAKE" --store "$TMP/f.db" $COMMON >/dev/null 2>"$TMP/err6" && fail "--serve without --url accepted"
grep -q -- "--serve needs --url" "$TMP/err6" || fail "no-url message: $(cat "$TMP/err6")"
echo "ok"
