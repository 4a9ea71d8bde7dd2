#!/bin/sh
# --resume restores every option the run recorded: a run started with a
# non-default value of each recorded option is killed (-9) once it has
# recorded a query, then resumed with no options but --resume and --store.
# The resumed run must list each option with the value it was started with,
# and behave so (limit and shuffle: the same items; max-tokens: capped
# answers; idle-seconds: the idle baseline). Load runs are refused.
set -u
. "$(dirname "$0")/lib/common.sh"
export IPW_NVML_LIBRARY="$IPW_BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1
DS="$IPW_TESTS/data/datasets/native_valid.jsonl"
DB="$TMP/r.db"

start_fakellm slow --tokens 10 --token-delay-ms 60 --model resume-model
$IPW profile --url "$URL" --api openai --model resume-model --timeout 30 --retries 4 --backoff 0.2 \
	--warmup 2 --max-tokens 3 --temperature 0.3 --top-p 0.8 --top-k 7 --sample-seed 5 \
	--system "be brief" --dataset "$DS" --limit 6 --shuffle --seed 3 --devices 0 --no-host \
	--backends nvidia --interval 25 --idle-seconds 0.3 --group grp-r \
	--store "$DB" --name res --quiet >/dev/null 2>"$TMP/err1" &
pid=$!
# wait (by polling the store, not by a fixed sleep) until one query is recorded, then kill -9
i=0
while :; do
	n=$($IPW export res --format csv --store "$DB" 2>/dev/null | tail -n +2 | wc -l)
	[ "$n" -ge 1 ] && break
	kill -0 $pid 2>/dev/null || fail "the run ended before it could be killed: $(cat "$TMP/err1")"
	i=$((i + 1)); [ $i -gt 600 ] && fail "no query recorded in 60 s: $(cat "$TMP/err1")"
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null
n1=$($IPW export res --format csv --store "$DB" | tail -n +2 | wc -l)
[ "$n1" -lt 6 ] || fail "the run finished before the kill ($n1 rows)"

$IPW profile --resume res --store "$DB" >"$TMP/out2" 2>"$TMP/err2" || fail "resume exited $?: $(cat "$TMP/err2")"
line=$(grep "from the record:" "$TMP/err2") || fail "the resumed run does not list the restored options: $(cat "$TMP/err2")"
for want in "--url=$URL" --api=openai --model=resume-model --timeout=30 --retries=4 --backoff=0.2 \
	--warmup=2 --max-tokens=3 --temperature=0.3 --top-p=0.8 --top-k=7 --sample-seed=5 \
	"--system=be brief" "--dataset=$DS" --limit=6 --shuffle=true --seed=3 --devices=0 --no-host=true \
	--backends=nvidia --interval=25 --idle-seconds=0.3 --group=grp-r; do
	case "$line" in
	*" $want"*) ;;
	*) fail "resume did not restore $want: $line" ;;
	esac
done
# behaviour: the same six items, each once, all capped at 3 tokens; the idle baseline of 0.3 s
$IPW export res --format csv --store "$DB" >"$TMP/r.csv"
expect_eq "rows after resume" "$(csv_query "$TMP/r.csv" 'len(rows)')" 6
expect_eq "each item once" "$(csv_query "$TMP/r.csv" 'len(set(r["item_id"] for r in rows))')" 6
expect_eq "max-tokens restored" "$(csv_query "$TMP/r.csv" 'all(int(r["completion_tokens"]) <= 3 for r in rows if r["status"] == "ok")')" True
$IPW show res --json --store "$DB" >"$TMP/show.json" || fail "show"
python3 - "$TMP/show.json" <<'PY' || fail "stored configuration: $(cat "$TMP/show.json" | head -c 600)"
import json, sys
r = json.load(open(sys.argv[1]))
c = r["config"]
assert c["idle_seconds"] == 0.3 and c["warmup"] == 2 and c["interval_ms"] == 25, c
assert c["backoff_s"] == 0.2 and c["max_attempts"] == 5 and c["host"] is False, c
assert c["sampling"]["top_k"] == 7 and c["sampling"]["seed"] == 5, c
PY

# a recorded option given again with --resume is named as ignored (the record wins)
$IPW profile --resume res --store "$DB" --idle-seconds 5 >/dev/null 2>"$TMP/err4"
grep -q -- "--idle-seconds is ignored with --resume" "$TMP/err4" || fail "no warning for an overridden option: $(cat "$TMP/err4")"

# a load run with a stored query for every request has nothing to resume: said, not run again
# (tests/cli/load_kill.sh resumes one that was killed)
$IPW profile --url "$URL" --concurrency 2 --requests 2 --idle-seconds 0 --warmup 0 --no-host \
	--backends nvidia --store "$TMP/l.db" --name ld --quiet >/dev/null 2>&1 || fail "load run"
sqlite3 "$TMP/l.db" "update runs set status='interrupted'" 2>/dev/null ||
	python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("update runs set status=\"interrupted\""); c.commit()' "$TMP/l.db"
$IPW profile --resume ld --store "$TMP/l.db" >/dev/null 2>"$TMP/err3"
[ $? -ne 0 ] && grep -q "load run" "$TMP/err3" || fail "resuming a load run: $(cat "$TMP/err3")"
echo ok
