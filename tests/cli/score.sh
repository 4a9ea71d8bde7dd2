#!/bin/sh
# ipw score end to end: ipw profile against fakellm ("say" scenario: each item's
# prompt says what to answer) with the fake telemetry back-end scores mcq and
# numeric items as they are recorded; ipw score then judges the judge items
# through the fake judge (verdicts, malformed reply, position swap, both
# pairwise rules, cache: a re-score sends no request, a failing endpoint,
# --reference-run, resume); ipw show --json reports accuracy/IPW/IPJ equal to
# the paper's definitions recomputed from ipw export; the key is never stored.
set -u
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || { echo "python3 is needed to check the numbers"; exit 77; }
DATA="$IPW_TESTS/data/score/items.jsonl"
DB="$TMP/s.db"
export IPW_FAKE_PROFILE='gpu0=square:100:400:0.07'
KEY=sk-judge-secret-1234567890

start_fakellm llm --scenario say --token-delay-ms 3
LLM=$URL
"$IPW_BUILD/fakes/fakejudge" --port-file "$TMP/judge.port" --lifetime-s 300 --require-key "$KEY" \
	>"$TMP/judge.log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
"$IPW_BUILD/fakes/fakejudge" --port-file "$TMP/bad.port" --lifetime-s 300 --fail >/dev/null 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
i=0
while [ ! -s "$TMP/judge.port" ] || [ ! -s "$TMP/bad.port" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "fakejudge did not start"
	sleep 0.05
done
JURL="http://127.0.0.1:$(cat "$TMP/judge.port")"
BAD="http://127.0.0.1:$(cat "$TMP/bad.port")"
jcount() { python3 -c 'import json, sys, urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1] + "/x/count"))["requests"])' "$1"; }

# 1. profile: m3 fails (HTTP 500, no retries); mcq and numeric are scored as they are recorded
$IPW profile --url "$LLM" --dataset "$DATA" --store "$DB" --name say --backends fake --idle-seconds 0.2 \
	--retries 0 --warmup 0 --quiet >"$TMP/p.out" 2>"$TMP/p.err"
rc=$?
[ $rc = 5 ] || fail "profile exit $rc (want 5: one failed query): $(cat "$TMP/p.err")"
$IPW export say --store "$DB" --format csv --out "$TMP/a.csv" || fail "export"
expect_eq "offline scores during profile" "$(csv_query "$TMP/a.csv" \
	'",".join(r["item_id"] + "=" + r["correct"] for r in rows if r["task"] in ("mcq", "numeric"))')" \
	"m1=1,m2=0,m3=,n1=1,n2=0"
expect_eq "judge items wait for ipw score" "$(csv_query "$TMP/a.csv" \
	'all(r["correct"] == "" for r in rows if r["task"].startswith("judge"))')" True

# 2. without a judge, the judge items are left unscored and reported (exit 5)
$IPW score say --store "$DB" >"$TMP/s0.out" 2>&1
expect_eq "score without judge exit" "$?" 5
grep -q "already scored 4" "$TMP/s0.out" || fail "resume: offline scores not skipped: $(cat "$TMP/s0.out")"
grep -q "8 items need a judge" "$TMP/s0.out" || fail "need-judge count: $(cat "$TMP/s0.out")"

# 3. a judge: the wrong key is refused, and the message never shows the key
IPW_JUDGE_API_KEY=sk-wrong-key-abcdefgh $IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm \
	>"$TMP/s1.out" 2>&1
expect_eq "refused key exit" "$?" 4
grep -q "refused the request (HTTP 401: Incorrect API key provided: Bearer \[redacted\])" "$TMP/s1.out" ||
	fail "401 message: $(cat "$TMP/s1.out")"
grep -q "sk-wrong-key-abcdefgh" "$TMP/s1.out" && fail "the key was printed"
grep -aq "sk-wrong-key" "$DB"* && fail "the key was stored"

# the right key in a variable named by --judge-key-env
MYKEY=$KEY $IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm --judge-key-env MYKEY \
	--rescore >"$TMP/s2.out" 2>&1
expect_eq "judge run exit (one malformed verdict)" "$?" 5
grep -aq "$KEY" "$DB"* && fail "the judge key was stored"
grep -q "$KEY" "$TMP/s2.out" && fail "the judge key was printed"
$IPW export say --store "$DB" --format csv --out "$TMP/b.csv" || fail "export 2"
expect_eq "judged scores (either)" "$(csv_query "$TMP/b.csv" '",".join(r["item_id"] + "=" + r["correct"] for r in rows)')" \
	"m1=1,m2=0,m3=,n1=1,n2=0,r1=1,r2=0,r3=,r4=1,p1=1,p2=0,p3=1,p4=1"
n1=$(jcount "$JURL")

# 4. re-score: every parsed verdict comes from the cache; only the malformed one is asked again
MYKEY=$KEY $IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm --judge-key-env MYKEY \
	--rescore >"$TMP/s3.out" 2>&1
n2=$(jcount "$JURL")
expect_eq "requests on re-score (malformed item only)" "$((n2 - n1))" 1
grep -q "judge jm: 1 requests, 11 judgements from the cache" "$TMP/s3.out" || fail "cache line: $(cat "$TMP/s3.out")"
# resume without --rescore: nothing to do but the unscored item
MYKEY=$KEY $IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm --judge-key-env MYKEY >"$TMP/s4.out" 2>&1
grep -q "scored 0 (0 correct), unscored 1, already scored 11" "$TMP/s4.out" || fail "resume: $(cat "$TMP/s4.out")"

# 5. rule both: the position-biased item (p3) loses; ties still count
MYKEY=$KEY $IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm --judge-key-env MYKEY \
	--pairwise-rule both >"$TMP/s5.out" 2>&1
n3=$(jcount "$JURL")
expect_eq "rule both: games from the cache, only the malformed item asked (again)" "$((n3 - n2))" 2
$IPW export say --store "$DB" --format csv --out "$TMP/c.csv"
expect_eq "judged scores (both)" "$(csv_query "$TMP/c.csv" '",".join(r["item_id"] + "=" + r["correct"] for r in rows if r["item_id"][0] == "p")')" \
	"p1=1,p2=0,p3=0,p4=1"

# 6. a failing endpoint: items unscored with the reason, exit 5; nothing cached
$IPW score say --store "$DB" --judge-url "$BAD" --judge-model other --judge-retries 1 --judge-backoff 0.01 --grader judge_reference \
	>"$TMP/s6.out" 2>&1
expect_eq "failing judge exit" "$?" 5
expect_eq "failing judge requests (2 attempts x 8 items with a reference answer)" "$(jcount "$BAD")" 16
python3 - "$DB" <<'PY' || fail "failing judge: reasons"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT item_id, correct, reason, settings_json FROM scores WHERE id IN"
                  " (SELECT max(id) FROM scores GROUP BY run_id, item_id) AND run_id = 1").fetchall()
for item, correct, reason, settings in rows:
    if item == "m3":
        continue
    assert correct is None and '"judge_model":"other"' in settings, (item, correct, settings)
    if item.startswith("p"):
        assert reason == "no reference answer to judge against", (item, reason)
    else:
        assert reason.startswith("judge replied HTTP 500 from http://127.0.0.1:") and "fake judge failure" in reason, reason
assert db.execute("SELECT count(*) FROM judgements WHERE judge_model = 'other'").fetchone()[0] == 0
PY
# an unreachable judge stops with exit 4, keeping what was scored
$IPW score say --store "$DB" --judge-url http://127.0.0.1:1 --judge-model jm --judge-retries 0 --rescore \
	>"$TMP/s7.out" 2>&1
expect_eq "unreachable judge exit" "$?" 4
grep -q "cannot be reached" "$TMP/s7.out" || fail "unreachable message: $(cat "$TMP/s7.out")"

# 7. back to the default graders for the metrics; --reference-run against another run
MYKEY=$KEY $IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm --judge-key-env MYKEY >/dev/null 2>&1
$IPW export say --store "$DB" --format csv --out "$TMP/d.csv"
expect_eq "scores back to default" "$(csv_query "$TMP/d.csv" '",".join(r["item_id"] + "=" + r["correct"] for r in rows)')" \
	"m1=1,m2=0,m3=,n1=1,n2=0,r1=1,r2=0,r3=,r4=1,p1=1,p2=0,p3=1,p4=1"

# 8. show --json: the keys, and IPW / IPJ equal to the paper's ratio of means recomputed from the export
$IPW show say --store "$DB" --json >"$TMP/show.json" || fail "show --json"
$IPW export say --store "$DB" --format jsonl --out "$TMP/d.jsonl" || fail "export jsonl"
python3 - "$TMP/show.json" "$TMP/d.jsonl" <<'PY' || fail "show --json metrics"
import json, sys
o = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
for k in ("accuracy", "ipw", "ipj", "ipw_dynamic", "ipj_dynamic"):
    assert set(o[k]) == {"value", "ci_low", "ci_high"}, (k, o[k])
assert (o["n_scored"], o["n_failed"], o["n_unscored"]) == (11, 1, 1), o
ok = [r for r in rows if r["status"] == "ok" and r["correct"] is not None]
assert len(ok) == 11
acc = [1.0 if r["correct"] else 0.0 for r in ok]
e = [r["energy_j"] for r in ok]
p = [r["energy_j"] / r["latency_s"] for r in ok]
mean = lambda v: sum(v) / len(v)
want = {"accuracy": mean(acc), "ipw": mean(acc) / mean(p), "ipj": mean(acc) / mean(e)}
for k, v in want.items():
    got = o[k]["value"]
    assert abs(got - v) <= 1e-8 * abs(v), (k, got, v)
    assert o[k]["ci_low"] <= got <= o[k]["ci_high"], (k, o[k])
assert abs(want["accuracy"] - 7 / 11) < 1e-12
subj = {s["subject"]: s for s in o["by_subject"]}
assert subj["physics"]["accuracy"]["value"] == 0.5 and subj["chemistry"]["n_failed"] == 1
assert subj["geography"]["n_unscored"] == 1 and subj["chat"]["n_scored"] == 4
print("ipw", o["ipw"], "ipj", o["ipj"])
PY
$IPW show say --store "$DB" >"$TMP/show.txt" || fail "show"
grep -Eq '^  IPW +[0-9.e-]+ +/W +\[' "$TMP/show.txt" || fail "show text: IPW line: $(cat "$TMP/show.txt")"
grep -q '11 scored (7 correct), 1 failed and 1 unscored excluded' "$TMP/show.txt" || fail "show text: counts"

# 9. --reference-run: a second run over the same items whose answers become the references
$IPW profile --url "$LLM" --dataset "$DATA" --store "$DB" --name ref --backends fake --idle-seconds 0.2 \
	--retries 0 --warmup 0 --quiet >/dev/null 2>&1
MYKEY=$KEY $IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm --judge-key-env MYKEY \
	--grader judge_pairwise --reference-run ref >"$TMP/s9.out" 2>&1
$IPW export say --store "$DB" --format csv --out "$TMP/e.csv"
# the same answers on both sides tie (p3's biased judge gives A>B: either rule -> correct); m3 failed in both runs
expect_eq "pairwise against run ref" "$(csv_query "$TMP/e.csv" '",".join(r["item_id"] + "=" + r["correct"] for r in rows)')" \
	"m1=1,m2=1,m3=,n1=1,n2=1,r1=1,r2=1,r3=,r4=1,p1=1,p2=1,p3=1,p4=1"
$IPW score say --store "$DB" --judge-url "$JURL" --judge-model jm --reference-run say >/dev/null 2>&1
expect_eq "reference run = the run itself" "$?" 2

# 10. profile --format: an MMLU-Pro export is detected, recorded as such, and scored as it is recorded
$IPW profile --url "$LLM" --dataset "$IPW_TESTS/data/adapters/mmlu_pro.jsonl" --store "$DB" --name mmlu \
	--backends fake --idle-seconds 0.2 --warmup 0 --quiet >/dev/null 2>"$TMP/p10.err" || fail "mmlu profile: $(cat "$TMP/p10.err")"
$IPW show mmlu --store "$DB" --json | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["dataset"]["format"] == "mmlu_pro", o["dataset"]
assert o["scoring"]["graders"] == {"mcq": 3} and o["n_scored"] == 3, o["scoring"]
assert {s["subject"] for s in o["by_subject"]} == {"other", "math", "health"}
' || fail "mmlu run: format, scores or subjects"
$IPW profile --url "$LLM" --dataset "$IPW_TESTS/data/adapters/mmlu_pro.jsonl" --format wildchat --store "$DB" \
	--backends fake --idle-seconds 0.2 --warmup 0 --quiet >/dev/null 2>"$TMP/p11.err"
[ $? != 0 ] || fail "--format wildchat on an MMLU-Pro file was accepted"
grep -q "mmlu_pro.jsonl:1: WildChat 'conversation' has no user turn" "$TMP/p11.err" || fail "forced format error: $(cat "$TMP/p11.err")"
$IPW profile --format csv --store "$DB" >/dev/null 2>&1
expect_eq "unknown --format" "$?" 2
exit 0
