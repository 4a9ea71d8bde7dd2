#!/bin/sh
# The router keeps its tiers' idle connections (CURLMOPT_MAXCONNECTS = CLIENT_MAX_IDLE_CONNS, as the
# client does): two waves of 16 streamed requests through it, one after the other, reach the tier on
# at most 16 connections in all, however each wave's requests happen to overlap (counted by fakellm,
# which counts every connection it accepts; each count request's own is taken off). With libcurl's
# default cache, 4 idle connections per transfer still added, the router closed some as the first
# wave's streams ended, and the second wave connected again: 19, 16 and 17 connections in three runs.
# One event loop: each loop has its own multi and its own idle connections, and each curl below is a
# new client connection that any loop may accept, so with several loops a wave's split between them
# (and so the connections each needs) changes from wave to wave.
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm tier --tokens 3 --ttft-ms 300 --model m
TIER=$URL
cat >"$TMP/router.json" <<EOF2
{"threads": 1, "tiers": [{"name": "local", "url": "$TIER", "model": "m"}]}
EOF2
start_router router "$TMP/router.json"
conns() {
	python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/x/stats"))["connections"])' "$TIER"
}
before=$(conns)
for w in 1 2; do
	pids=""
	for i in $(seq 1 16); do
		curl -s -o "$TMP/out.$w.$i" -d '{"model":"ipw-router:tier:local","stream":true,"messages":[{"role":"user","content":"hi"}]}' \
			"$R/v1/chat/completions" &
		pids="$pids $!"
	done
	for p in $pids; do wait "$p" || fail "a request of wave $w failed"; done
	for i in $(seq 1 16); do grep -q "data: \[DONE\]" "$TMP/out.$w.$i" || fail "wave $w request $i: no [DONE]: $(head -c 300 "$TMP/out.$w.$i")"; done
done
after=$(conns)
opened=$((after - before - 1))
[ "$opened" -le 16 ] || fail "two waves of 16 streams opened $opened connections to the tier (at most 16: one per stream of a wave)"
echo "router_conns: ok ($opened tier connections for 32 streams)"
