#!/bin/sh
# ipw profile --api NAME: the API is chosen by its registry name, an unknown
# name is a usage error that lists the known ones, the run records the name,
# and --resume talks to the server through the same API again (here a server
# that speaks only Ollama's API, so resuming through any other would fail).
set -u
. "$(dirname "$0")/lib/common.sh"
export IPW_NVML_LIBRARY="$IPW_BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1
COMMON="--idle-seconds 0.3 --no-host --backends nvidia --quiet"

start_fakellm ol --api ollama --tokens 4 --token-delay-ms 300

# an unknown API name: exit 2, with the names that exist
$IPW profile --url "$URL" --api grpc --limit 1 --store "$TMP/x.db" $COMMON >/dev/null 2>"$TMP/err0"
expect_eq "unknown --api exit" $? 2
grep -q "unknown API 'grpc'" "$TMP/err0" || fail "unknown API message: $(cat "$TMP/err0")"
grep -q "ollama, openai, builtin, auto" "$TMP/err0" || fail "known APIs not listed: $(cat "$TMP/err0")"
$IPW profile --help | grep -q "ollama | openai | builtin | auto" || fail "usage does not list the registry's APIs"

# a run through the Ollama API, killed once it has recorded something
$IPW profile --url "$URL" --api ollama --limit 6 --warmup 0 --store "$TMP/a.db" --name ol $COMMON \
	>/dev/null 2>"$TMP/err1" &
pid=$!
i=0
while :; do
	n=$($IPW export ol --format csv --store "$TMP/a.db" 2>/dev/null | tail -n +2 | wc -l)
	[ "$n" -ge 1 ] && break
	i=$((i + 1)); [ $i -gt 600 ] && fail "nothing recorded: $(cat "$TMP/err1")"
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
$IPW show ol --json --store "$TMP/a.db" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert json.dumps(d).count("\"api\": \"ollama\"") >= 1, d
' || fail "the run does not record api ollama"

# resume with no --api: the recorded name is used, and the server (Ollama only) answers it
$IPW profile --resume ol --store "$TMP/a.db" $COMMON >/dev/null 2>"$TMP/err2" ||
	fail "resume exited $?: $(cat "$TMP/err2")"
$IPW export ol --format csv --store "$TMP/a.db" >"$TMP/a.csv"
expect_eq "rows after resume" "$(csv_query "$TMP/a.csv" 'len(rows)')" 6
expect_eq "all ok after resume" "$(csv_query "$TMP/a.csv" 'all(r["status"] == "ok" for r in rows)')" True
echo "PASS"
