#!/bin/sh
# --dataset random:in=I,out=O[,n=N][,seed=S]: N prompts of exactly I
# vocabulary words, each request asking for O output tokens with
# ignore_eos (so outputs have a fixed length), recorded so --resume asks the
# same; the items are ungraded, and profile, score and show say so (never 0%).
set -u
. "$IPW_TESTS/cli/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --api openai"
DB="$TMP/r.db"

start_fakellm r --tokens 300
$IPW profile --url "$URL" --dataset random:in=20,out=7,n=3,seed=4 --store "$DB" --name rnd $COMMON \
	>"$TMP/out" 2>"$TMP/err" || fail "profile exited $?: $(cat "$TMP/err")"
grep -q "every request asks for 7 output tokens (max_tokens=7, ignore_eos)" "$TMP/err" || fail "no note: $(cat "$TMP/err")"
grep -q "not scored: the items are ungraded (random dataset" "$TMP/out" || fail "profile's summary: $(cat "$TMP/out")"
grep -q "accuracy .*%" "$TMP/out" && fail "an accuracy was printed: $(cat "$TMP/out")"
curl -s "$URL/x/last-request" >"$TMP/body.json"
python3 - "$TMP/body.json" <<'PY' || fail "request body: $(cat "$TMP/body.json")"
import json, sys
b = json.load(open(sys.argv[1]))
assert b["max_tokens"] == 7 and b["ignore_eos"] is True, b
words = b["messages"][-1]["content"].split(" ")
assert len(words) == 20 and all(words), words
PY
$IPW export rnd --format csv --store "$DB" >"$TMP/r.csv" || fail "export"
expect_eq "items" "$(csv_query "$TMP/r.csv" '[r["item_id"] for r in rows]')" "['random-0', 'random-1', 'random-2']"
expect_eq "fixed output length" "$(csv_query "$TMP/r.csv" 'all(r["completion_tokens"] == "7" for r in rows)')" True
expect_eq "the server's prompt count recorded" "$(csv_query "$TMP/r.csv" 'all(int(r["prompt_tokens"]) > 0 for r in rows)')" True
expect_eq "no score" "$(csv_query "$TMP/r.csv" 'set(r["correct"] for r in rows)')" "{''}"
$IPW show rnd --json --store "$DB" >"$TMP/show.json" || fail "show"
python3 - "$TMP/show.json" <<'PY' || fail "recorded configuration: $(head -c 600 "$TMP/show.json")"
import json, sys
c = json.load(open(sys.argv[1]))["config"]
assert c["dataset"] == "random:in=20,out=7,n=3,seed=4", c
assert c["sampling"]["max_tokens"] == 7 and c["ignore_eos"] is True, c
PY
$IPW show rnd --store "$DB" | grep -q "not scored: the items are ungraded" || fail "show does not say ungraded"
$IPW score rnd --store "$DB" >"$TMP/score.out" 2>&1 || fail "score exited $?: $(cat "$TMP/score.out")"
grep -q "3 items are ungraded (no reference answer" "$TMP/score.out" || fail "score: $(cat "$TMP/score.out")"
grep -q "scored 0 (0 correct), unscored 0" "$TMP/score.out" || fail "score wrote scores: $(cat "$TMP/score.out")"

# a malformed spec is an error before anything is sent
$IPW profile --url "$URL" --dataset random:in=20 --store "$TMP/bad.db" $COMMON >/dev/null 2>"$TMP/bad"
[ $? -ne 0 ] || fail "random:in=20 was accepted"
grep -q "give the input and output lengths: random:in=I,out=O" "$TMP/bad" || fail "message: $(cat "$TMP/bad")"
echo ok
