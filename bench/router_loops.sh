#!/bin/sh
# bench/router_loops.sh - the router's added TTFT in closed waves by number of event loops, each
# router beside the others and the direct run in the same repeat (so a noisy machine shows in the
# direct figures too): one paced fake tier (16 events, the first after 50 ms, then one every 50 ms),
# a router per entry of THREADS (default "1 7") on ROUTER_CPUS (default 0,1,3,12-15), client_bench
# at each of CONCS streams (default 256), REPEATS (3) rounds of: direct, then each router.
# Prints client_bench's "extra" line per run: TTFT - 50 ms p50 and p99 (us), then each router's
# requests per loop. With IPW_B=BINARY, a second router per entry from that binary (an older
# build, say) runs in the same rounds, labelled "(B)".
# Usage: [BUILD=.gpu/build] [IPW_B=BINARY] sh bench/router_loops.sh
set -eu
BUILD=${BUILD:-build}
if [ "$BUILD" = .gpu/build ]; then sh bench/gpu/unpack.sh >/dev/null; export LD_LIBRARY_PATH=$PWD/.gpu/lib; fi
THREADS=${THREADS:-"1 7"} CONCS=${CONCS:-256} REPEATS=${REPEATS:-3}
ROUTER_CPUS=${ROUTER_CPUS:-0,1,3,12-15} FAKE_CPUS=${FAKE_CPUS:-4-11} CLIENT_CPUS=${CLIENT_CPUS:-2}
T=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$T"' EXIT INT TERM
waitfile() { i=0; while [ ! -s "$1" ]; do i=$((i + 1)); [ $i -gt 200 ] && { echo "router_loops: no $1" >&2; exit 1; }; sleep 0.05; done; }
taskset -c "$FAKE_CPUS" "$BUILD/fakes/fakellm" --port 0 --port-file "$T/f.port" --tokens 16 --ttft-ms 50 \
	--token-delay-ms 50 --lifetime-s 1800 >/dev/null 2>&1 &
PIDS="$PIDS $!"
waitfile "$T/f.port"
F=$(cat "$T/f.port")
printf '{"tiers":[{"name":"paced","url":"http://127.0.0.1:%s","model":"m"}]}\n' "$F" >"$T/r.json"
IDS=""
for th in $THREADS; do IDS="$IDS $th"; [ -z "${IPW_B:-}" ] || IDS="$IDS ${th}B"; done
for id in $IDS; do
	bin=$BUILD/ipw
	case $id in *B) bin=$IPW_B ;; esac
	taskset -c "$ROUTER_CPUS" "$bin" route serve --config "$T/r.json" --no-record --threads "${id%B}" \
		--port-file "$T/r$id.port" >"$T/r$id.log" 2>&1 &
	PIDS="$PIDS $!"
	waitfile "$T/r$id.port"
done
label() { case $1 in *B) echo "${1%B} loops (B)" ;; *) echo "$1 loops" ;; esac; }
cb() { taskset -c "$CLIENT_CPUS" "$BUILD/bench/client_bench" --url "http://127.0.0.1:$1" --model "$2" --n "$3" \
	--concurrency "$4" --server-ttft-ms 50 --extra 1 | grep '^extra'; }
echo "router on cpus $ROUTER_CPUS, fake tier on $FAKE_CPUS, client on $CLIENT_CPUS; extra | TTFT-50ms p50 us | p99 us | ..."
for c in $CONCS; do
	rep=1
	while [ $rep -le "$REPEATS" ]; do
		echo "direct, $c streams, round $rep: $(cb "$F" m $((c * 4)) "$c")"
		for id in $IDS; do
			echo "$(label "$id"), $c streams, round $rep: $(cb "$(cat "$T/r$id.port")" ipw-router:tier:paced $((c * 4)) "$c")"
		done
		rep=$((rep + 1))
	done
done
for id in $IDS; do
	printf '%s, requests per loop:' "$(label "$id")"
	python3 -c 'import sys, urllib.request
m = urllib.request.urlopen(sys.argv[1] + "/metrics").read().decode()
print(" ".join(l.split()[-1] for l in m.splitlines() if l.startswith("ipw_router_loop_requests_total{")))' \
		"http://127.0.0.1:$(cat "$T/r$id.port")"
done
