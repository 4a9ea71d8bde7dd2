#!/bin/sh
# bench/router_bench.sh - what `ipw route serve` costs, measured with ipw's own C client
# (bench/client_bench, which opens its connections in a warm-up wave first):
#  - the TTFT it adds: client_bench's TTFT minus the tier's configured TTFT, p50 and p99, direct to a
#    paced fake tier and through the router to the same tier, at 1, 64 and 256 concurrent streams,
#    REPEATS runs of each alternating direct and router; the table gives the median of the runs;
#    under two loads: closed (C requests start together, then each finished one starts the next: waves
#    of C simultaneous arrivals) and open (Poisson arrivals at C / stream duration a second: about C
#    streams open at once, their starts spread over time);
#  - tokens/s streamed through it (one and eight streams of 4,000 unpaced tokens) with the router
#    pinned to one core, beside the same client direct to the tier;
#  - memory per open stream: RSS with 256 stalled streams minus idle RSS, / 256, measured first.
# The router runs on ROUTER_CPUS (default: ROUTER_CPU, else 0) with one event loop per CPU there (its
# default), the fake tiers on FAKE_CPUS (default 1), the client on CLIENT_CPUS (default: not pinned);
# the tokens/s figures come from a second router with one event loop on the first of ROUTER_CPUS.
# Results go to bench/RESULTS.md with the command.
# Usage: bench/router_bench.sh [BUILD] [--smoke]   (BUILD default build; --smoke: tiny sizes for CI)
set -eu
BUILD=build
SMOKE=0
for a in "$@"; do
	case $a in
	--smoke) SMOKE=1 ;;
	-*) echo "usage: bench/router_bench.sh [BUILD] [--smoke]" >&2; exit 2 ;;
	*) BUILD=$a ;;
	esac
done
IPW="$BUILD/ipw"
FAKE="$BUILD/fakes/fakellm"
CB="$BUILD/bench/client_bench"
[ -x "$IPW" ] && [ -x "$FAKE" ] && [ -x "$CB" ] || { echo "build first: make && make fakes bench" >&2; exit 2; }
if [ $SMOKE = 1 ]; then
	LEVELS="1 4" OPEN_LEVELS=4 PER=3 REPEATS=1 PACE=5 LONG=200 HELD=8
else
	LEVELS=${LEVELS:-"1 64 256"} OPEN_LEVELS=${OPEN_LEVELS:-"64 256"} PER=4 REPEATS=${REPEATS:-3} PACE=50 LONG=4000
	HELD=256
fi
DUR_MS=$((16 * PACE))   # the paced tier's stream: 16 events, the first after PACE ms, then one every PACE ms
ROUTER_CPUS=${ROUTER_CPUS:-${ROUTER_CPU:-0}}
ROUTER_CPU1=$(echo "$ROUTER_CPUS" | sed 's/[-,].*//')
FAKE_CPUS=${FAKE_CPUS:-1}
# pin CPUS CMD...: runs CMD on CPUS by exec, so call it only in a subshell (`&` or $(...)): the
# background jobs' $! is then the program's own pid (the router's RSS is read from it)
pin() { cpus=$1; shift; if [ -n "$cpus" ] && command -v taskset >/dev/null 2>&1; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$TMP"' EXIT INT TERM

waitfile() { i=0; while [ ! -s "$1" ]; do i=$((i + 1)); [ $i -gt 400 ] && { echo "router_bench: no $1" >&2; exit 1; }; sleep 0.05; done; }

pin "$FAKE_CPUS" "$FAKE" --port 0 --port-file "$TMP/f.port" --tokens 16 --ttft-ms $PACE --token-delay-ms $PACE \
	--lifetime-s 1800 </dev/null >"$TMP/f.log" 2>&1 &
PIDS="$PIDS $!"
pin "$FAKE_CPUS" "$FAKE" --port 0 --port-file "$TMP/g.port" --tokens $LONG --lifetime-s 1800 </dev/null >"$TMP/g.log" 2>&1 &
PIDS="$PIDS $!"
waitfile "$TMP/f.port"; waitfile "$TMP/g.port"
F=$(cat "$TMP/f.port"); G=$(cat "$TMP/g.port")
printf '{"tiers":[{"name":"paced","url":"http://127.0.0.1:%s","model":"m"},{"name":"long","url":"http://127.0.0.1:%s","model":"m"},{"name":"stall","url":"http://127.0.0.1:%s","model":"fake-stall"}]}\n' \
	"$F" "$G" "$F" >"$TMP/router.json"
pin "$ROUTER_CPUS" "$IPW" route serve --config "$TMP/router.json" --no-record --port-file "$TMP/r.port" >"$TMP/r.log" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
pin "$ROUTER_CPU1" "$IPW" route serve --config "$TMP/router.json" --no-record --threads 1 --port-file "$TMP/r1.port" \
	>"$TMP/r1.log" 2>&1 &
PIDS="$PIDS $!"
waitfile "$TMP/r.port"; waitfile "$TMP/r1.port"
R=$(cat "$TMP/r.port"); R1=$(cat "$TMP/r1.port")
LOOPS=$(sed -n 's/.*(\([0-9]*\) event loops*).*/\1/p' "$TMP/r.log" | head -1)

# memory per open stream, first, on the fresh router (after the load below, freed memory would be
# reused and hide the growth): HELD streams that the stall tier never answers, held open by raw sockets
python3 - "$R" "$RPID" "$HELD" <<'PY'
import json, socket, sys, time
rport, rpid, held_n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rss():
    for l in open(f"/proc/{rpid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
b = json.dumps({"model": "ipw-router:tier:stall", "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode()
req = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)
before = rss()
socks = []
for _ in range(held_n):
    s = socket.create_connection(("127.0.0.1", rport))
    s.sendall(req)
    socks.append(s)
for s in socks:  # the router has answered each with its headers: the stream is open upstream
    s.settimeout(30)
    s.recv(1)
time.sleep(0.5)
after = rss()
print(f"memory per open stream: {(after - before) / held_n:.1f} KiB (RSS {before} KiB idle, {after} KiB with {held_n} stalled streams)")
for s in socks:
    s.close()
PY
echo

# cb URL MODEL N CONC [RATE]: client_bench's two lines (its own columns and the "extra" ones); with RATE,
# the open loop (CONC then only sizes the warm-up)
cb() {
	pin "${CLIENT_CPUS:-}" "$CB" --url "$1" --model "$2" --n "$3" --concurrency "$4" ${5:+--rate "$5"} \
		--server-ttft-ms "$PACE" --extra 1
}
# field LINE K: the K-th |-separated field of a client_bench line
field() { echo "$1" | awk -F'|' -v k="$2" '{ gsub(/ /, "", $k); print $k }'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "TTFT added by the router: tier paced (first event after $PACE ms, then one every $PACE ms, 16 events);"
echo "TTFT - $PACE ms measured by client_bench (warm connections), median of $REPEATS runs of $PER x streams requests,"
echo "router on cpus $ROUTER_CPUS (event loops: $LOOPS), fake tiers on cpus $FAKE_CPUS, client on cpus ${CLIENT_CPUS:-any}; ms"
echo
echo "| load | streams | requests/run | direct p50 | router p50 | added p50 | direct p99 | router p99 | added p99 | failed (direct/router) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
LOADS=""
for c in $LEVELS; do LOADS="$LOADS closed:$c"; done
for c in $OPEN_LEVELS; do LOADS="$LOADS open:$c"; done
for lc in $LOADS; do
	load=${lc%%:*} c=${lc#*:}
	n=$((c * PER))
	rate=""
	[ "$load" = open ] && rate=$(awk -v c="$c" -v d="$DUR_MS" 'BEGIN { printf "%.3f", c * 1000 / d }')
	d50="" d99="" r50="" r99="" dfail=0 rfail=0 rep=1
	while [ $rep -le $REPEATS ]; do
		for side in direct router; do
			if [ $side = direct ]; then out=$(cb "http://127.0.0.1:$F" m $n $c $rate 2>>"$TMP/cb.err") || dfail=$((dfail + 1))
			else out=$(cb "http://127.0.0.1:$R" ipw-router:tier:paced $n $c $rate 2>>"$TMP/cb.err") || rfail=$((rfail + 1)); fi
			ex=$(echo "$out" | grep '^extra' || true)
			[ -n "$ex" ] || { echo "router_bench: client_bench printed no figures ($side, $c streams):" >&2; cat "$TMP/cb.err" >&2; exit 1; }
			p50=$(field "$ex" 2) p99=$(field "$ex" 3)
			if [ $side = direct ]; then d50="$d50 $p50" d99="$d99 $p99"; else r50="$r50 $p50" r99="$r99 $p99"; fi
		done
		rep=$((rep + 1))
	done
	md50=$(echo "$d50" | median) md99=$(echo "$d99" | median) mr50=$(echo "$r50" | median) mr99=$(echo "$r99" | median)
	awk -v l=$load -v c=$c -v n=$n -v a="$md50" -v b="$mr50" -v x="$md99" -v y="$mr99" -v df=$dfail -v rf=$rfail 'BEGIN {
		printf "| %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %d / %d |\n", l, c, n, a / 1e3, b / 1e3, (b - a) / 1e3, x / 1e3, y / 1e3, (y - x) / 1e3, df, rf }'
done
echo
echo "| streams of $LONG unpaced tokens | tokens/s through the router (one event loop on cpu $ROUTER_CPU1) | tokens/s direct |"
echo "|---|---|---|"
for c in 1 8; do
	rt=$(cb "http://127.0.0.1:$R1" ipw-router:tier:long $((c * 2)) $c | grep -v '^extra' | head -1)
	dt=$(cb "http://127.0.0.1:$G" m $((c * 2)) $c | grep -v '^extra' | head -1)
	echo "| $c | $(field "$rt" 7) | $(field "$dt" 7) |"
done
echo
