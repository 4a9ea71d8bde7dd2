#!/bin/sh
# The router keeps its tiers' idle connections: a closed load of 16 streams through it, after a
# warm-up of 16, reaches the tier on the connections the warm-up opened. fakellm numbers chat
# requests 1, 2, ... as they arrive and reports the last one that came on a new connection: within
# the warm-up's 17 (one sequential request, then 16 at once), never one of the 32 measured. (The
# router sets libcurl's cache as the client does, client.h CLIENT_MAX_IDLE_CONNS: with libcurl's
# default, 4 idle connections per transfer still added, the router closed some of them as the
# warm-up's streams ended, and this check failed in 2 of 3 runs.) The tier waits 300 ms before its
# first token, so the warm-up's 16 requests are all at the tier at once and open 16 connections
# there (an instant tier could answer some before the router had sent the others).
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm tier --tokens 3 --ttft-ms 300 --model m
TIER=$URL
cat >"$TMP/router.json" <<EOF2
{"tiers": [{"name": "local", "url": "$TIER", "model": "m"}]}
EOF2
start_router router "$TMP/router.json"
DS="$IPW_TESTS/data/load/identical.jsonl"
$IPW profile --url "$R" --api openai --model ipw-router:tier:local --store "$TMP/p.db" --concurrency 16 --requests 32 \
	--warmup 1 --idle-seconds 0 --no-host --backends fake --dataset "$DS" >"$TMP/out" 2>"$TMP/err" ||
	fail "profile through the router exited $?: $(cat "$TMP/err")"
stats() {
	python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/x/stats"))[sys.argv[2]])' "$TIER" "$1"
}
expect_eq "chat requests at the tier" "$(stats chat_answered)" 49
fresh=$(stats last_fresh_chat)
[ "$fresh" -le 17 ] || fail "the router opened a new tier connection for a measured request: the last fresh chat request was number $fresh (the warm-up's are 1-17)"
echo "router_conns: ok"
