#!/bin/sh
# ipw profile as a user runs it, against the loopback fake server with the fake
# NVML library: a normal run, retries after 429, failures recorded while the run
# goes on, an unreachable server, a malformed dataset, Ctrl-C and --resume.
set -u
. "$(dirname "$0")/lib/common.sh"
export IPW_NVML_LIBRARY="$IPW_BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1
COMMON="--idle-seconds 0.3 --no-host --backends nvidia --quiet"

start_fakellm main --tokens 8 --token-delay-ms 2

# 1. a normal run: every item recorded once, ok, with energy and latency
$IPW profile --url "$URL" --limit 6 --store "$TMP/a.db" --name normal $COMMON >"$TMP/out1" 2>"$TMP/err1" ||
	fail "normal run exited $?: $(cat "$TMP/err1")"
grep -q "run 1: completed" "$TMP/out1" || fail "no completion line: $(cat "$TMP/out1")"
grep -q "temperature=0.6 top_p=0.95 top_k=20" "$TMP/err1" || fail "paper defaults not printed"
$IPW export normal --format csv --store "$TMP/a.db" >"$TMP/a.csv" || fail "export failed"
expect_eq "rows" "$(csv_query "$TMP/a.csv" 'len(rows)')" 6
expect_eq "all ok" "$(csv_query "$TMP/a.csv" 'all(r["status"] == "ok" for r in rows)')" True
expect_eq "unique items" "$(csv_query "$TMP/a.csv" 'len(set(r["item_id"] for r in rows))')" 6
expect_eq "energy measured" "$(csv_query "$TMP/a.csv" 'all(float(r["energy_j"]) > 0 for r in rows)')" True
expect_eq "power = energy / latency" "$(csv_query "$TMP/a.csv" \
	'all(abs(float(r["avg_power_w"]) * float(r["latency_s"]) - float(r["energy_j"])) < 1e-6 * float(r["energy_j"]) + 1e-9 for r in rows)')" True
expect_eq "server token counts" "$(csv_query "$TMP/a.csv" 'all(r["completion_tokens"] == "8" for r in rows)')" True
expect_eq "ttft < latency" "$(csv_query "$TMP/a.csv" 'all(0 < float(r["ttft_s"]) < float(r["latency_s"]) for r in rows)')" True
$IPW show normal --json --store "$TMP/a.db" | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = json.dumps(d)
assert "temperature" in s and "max_tokens" in s, "sampling not recorded"
assert "nvidia:0" in s, "hardware not recorded"
' || fail "show --json lacks configuration or hardware"

# 2. 429 then success: retried after Retry-After, every attempt recorded
$IPW profile --url "$URL" --model fake-429 --limit 3 --retries 2 --backoff 0.1 --store "$TMP/a.db" \
	--name retry $COMMON 2>"$TMP/err2" >/dev/null || fail "429 run exited $?: $(cat "$TMP/err2")"
$IPW export retry --format csv --store "$TMP/a.db" >"$TMP/r.csv"
expect_eq "429 items ok" "$(csv_query "$TMP/r.csv" 'all(r["status"] == "ok" for r in rows)')" True
expect_eq "a retried item" "$(csv_query "$TMP/r.csv" 'any(int(r["attempts"]) == 2 for r in rows)')" True
grep -q "retrying" "$TMP/err2" || fail "retries not reported"

# 3. failures are recorded and the run goes on (timeouts, no retries): exit 5
$IPW profile --url "$URL" --model fake-stall --timeout 0.4 --retries 0 --limit 2 --warmup 0 \
	--store "$TMP/a.db" --name stall $COMMON >/dev/null 2>"$TMP/err3"
expect_eq "exit status with failed queries" $? 5
$IPW export stall --format csv --store "$TMP/a.db" >"$TMP/s.csv"
expect_eq "failed rows" "$(csv_query "$TMP/s.csv" '[r["status"] + "/" + r["error_kind"] for r in rows]')" \
	"['failed/timeout', 'failed/timeout']"

# 4. an unreachable server is a clear error (exit 4), nothing recorded
$IPW profile --url http://127.0.0.1:9 --model m --store "$TMP/b.db" $COMMON >/dev/null 2>"$TMP/err4"
expect_eq "unreachable exit" $? 4
grep -q "could not reach an inference server" "$TMP/err4" || fail "unreachable message: $(cat "$TMP/err4")"

# 5. a malformed dataset line names file and line (exit 4), before anything is sent
printf '{"id":"a","problem":"p","answer":"1","subject":"s","task":"numeric"}\n{"id": "b", oops\n' >"$TMP/bad.jsonl"
$IPW profile --url "$URL" --dataset "$TMP/bad.jsonl" --store "$TMP/b.db" $COMMON >/dev/null 2>"$TMP/err5"
expect_eq "bad dataset exit" $? 4
grep -q "bad.jsonl:2" "$TMP/err5" || fail "bad dataset message: $(cat "$TMP/err5")"

# 6. Ctrl-C stops cleanly and keeps what was measured; --resume finishes the rest
start_fakellm slow --tokens 10 --token-delay-ms 30
$IPW profile --url "$URL" --limit 8 --store "$TMP/c.db" --name intr $COMMON >"$TMP/out6" 2>"$TMP/err6" &
pid=$!
sleep 2.5
kill -INT $pid
wait $pid
expect_eq "interrupted exit" $? 130
grep -q "interrupted" "$TMP/out6" || fail "no interrupted summary: $(cat "$TMP/out6")"
$IPW export intr --format csv --store "$TMP/c.db" >"$TMP/c1.csv"
n1=$(csv_query "$TMP/c1.csv" 'len(rows)')
[ "$n1" -ge 1 ] && [ "$n1" -lt 8 ] || fail "interrupted run kept $n1 rows"
$IPW profile --resume intr --store "$TMP/c.db" $COMMON >/dev/null 2>"$TMP/err6b" ||
	fail "resume exited $?: $(cat "$TMP/err6b")"
$IPW export intr --format csv --store "$TMP/c.db" >"$TMP/c2.csv"
expect_eq "rows after resume" "$(csv_query "$TMP/c2.csv" 'len(rows)')" 8
expect_eq "each item once" "$(csv_query "$TMP/c2.csv" 'len(set(r["item_id"] for r in rows))')" 8
python3 - "$TMP/c1.csv" "$TMP/c2.csv" <<'PY' || fail "rows measured before the interruption changed"
import csv, sys
a = {r["item_id"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["item_id"]: r for r in csv.DictReader(open(sys.argv[2]))}
for k, r in a.items():
    assert b[k] == r, (k, r, b[k])
PY
$IPW profile --resume intr --store "$TMP/c.db" $COMMON >/dev/null 2>"$TMP/err6c"
[ $? -ne 0 ] && grep -q "already complete" "$TMP/err6c" || fail "resuming a complete run: $(cat "$TMP/err6c")"
# 7. kill -9 mid-run, then --resume: every item exactly once, nothing measured lost
$IPW profile --url "$URL" --limit 8 --store "$TMP/d.db" --name killed $COMMON >/dev/null 2>&1 &
pid=$!
sleep 2.5
kill -9 $pid
wait $pid 2>/dev/null
$IPW export killed --format csv --store "$TMP/d.db" >"$TMP/d1.csv" || fail "export after kill -9"
n1=$(csv_query "$TMP/d1.csv" 'len(rows)')
[ "$n1" -ge 1 ] && [ "$n1" -lt 8 ] || fail "killed run kept $n1 rows"
$IPW runs --store "$TMP/d.db" | grep -q running || fail "a killed run should still read as running"
$IPW profile --resume killed --store "$TMP/d.db" $COMMON >/dev/null 2>"$TMP/err7" ||
	fail "resume after kill -9 exited $?: $(cat "$TMP/err7")"
$IPW export killed --format csv --store "$TMP/d.db" >"$TMP/d2.csv"
expect_eq "rows after kill -9 and resume" "$(csv_query "$TMP/d2.csv" 'len(rows)')" 8
expect_eq "each item once after kill -9" "$(csv_query "$TMP/d2.csv" 'len(set(r["item_id"] for r in rows))')" 8
python3 - "$TMP/d1.csv" "$TMP/d2.csv" <<'PY2' || fail "rows measured before kill -9 changed"
import csv, sys
a = {r["item_id"]: r for r in csv.DictReader(open(sys.argv[1]))}
b = {r["item_id"]: r for r in csv.DictReader(open(sys.argv[2]))}
for k, r in a.items():
    assert b[k] == r, (k, r, b[k])
PY2

# 7b. a finished query is in the store before the next request is sent: kill -9 as
# soon as the server has seen request k+1 (GET /x/last-request), then items 0..k
# must all be there (before the fix the last finished one waited for the next end).
start_fakellm killk --tokens 20 --token-delay-ms 100
: >"$TMP/k.jsonl"
for i in 0 1 2 3 4 5; do
	printf '{"id":"k%d","problem":"KILLTEST-%d","answer":"1","subject":"s","task":"numeric"}\n' $i $i >>"$TMP/k.jsonl"
done
$IPW profile --url "$URL" --dataset "$TMP/k.jsonl" --store "$TMP/k.db" --name killk $COMMON >/dev/null 2>&1 &
pid=$!
python3 - "$URL" <<'PY3' || { kill -9 $pid; fail "request KILLTEST-3 never reached the server"; }
import sys, time, urllib.request
for _ in range(3000):
    if "KILLTEST-3" in urllib.request.urlopen(sys.argv[1] + "/x/last-request").read().decode():
        sys.exit(0)
    time.sleep(0.01)
sys.exit(1)
PY3
kill -9 $pid
wait $pid 2>/dev/null
$IPW export killk --format csv --store "$TMP/k.db" >"$TMP/k.csv" || fail "export after kill -9 at request 4"
expect_eq "finished items kept at kill -9" \
	"$(csv_query "$TMP/k.csv" 'sorted(r["item_id"] for r in rows)[:3]')" "['k0', 'k1', 'k2']"

# 8. known energies: the fake back-end at a constant 200 W. Each query's energy is
# 200 W x its latency; the only error is where the 100 ms counter steps are placed:
# at the midpoint of the two readings around each, so within G/2 at each edge, G the
# longest gap between readings that actually happened (sample_gap; 20 ms on a quiet
# machine, more on a busy one): 200 W x G per query. The idle baseline over 0.5 s is
# off by at most 200 W x G / 0.5 s, and dynamic energy (gross minus idle power x
# latency) by 200 W x G plus that times the latency.
start_fakellm known --tokens 10 --token-delay-ms 30
$IPW profile --url "$URL" --limit 4 --store "$TMP/e.db" --name known --backends fake \
	--fake-profile 'gpu0=const:200' --idle-seconds 0.5 --quiet --no-host >/dev/null 2>"$TMP/err8" ||
	fail "known-energy run exited $?: $(cat "$TMP/err8")"
$IPW export known --format csv --store "$TMP/e.db" >"$TMP/e.csv"
G=$(sample_gap "$TMP/e.db" known) || fail "no samples stored for the known-energy run"
expect_eq "known rows" "$(csv_query "$TMP/e.csv" 'len(rows)')" 4
expect_eq "energy = 200 W x latency" "$(csv_query "$TMP/e.csv" \
	"all(abs(float(r['energy_j']) - 200 * float(r['latency_s'])) <= 200 * $G + 0.01 for r in rows)")" True
expect_eq "latency is the 10 tokens' streaming time" "$(csv_query "$TMP/e.csv" \
	'all(0.25 <= float(r["latency_s"]) <= 2.0 for r in rows)')" True
expect_eq "dynamic energy ~ 0" "$(csv_query "$TMP/e.csv" \
	"all(abs(float(r['energy_dynamic_j'])) <= 200 * $G * (1 + float(r['latency_s']) / 0.5) + 0.01 for r in rows)")" True
$IPW show known --json --store "$TMP/e.db" | python3 -c '
import json, sys
src, bound = json.load(sys.stdin)["sources"][0], 200 * float(sys.argv[1]) / 0.5 + 0.1
assert abs(src["idle_before_w"] - 200) <= bound and abs(src["idle_after_w"] - 200) <= bound, (src, bound)
' "$G" || fail "idle baselines (before and after) of 200 W not recorded"
echo "profile: all cases passed"
