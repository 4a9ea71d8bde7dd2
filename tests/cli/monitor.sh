#!/bin/sh
# monitor.sh - 'ipw monitor' with a constant fake profile: JSONL records and a
# summary last line whose energy and mean power match the profile, CSV with a
# header, an unmeasurable source summarised as null, and SIGINT ending it cleanly.
set -u
: "${IPW:?set IPW to the ipw binary}"
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# JSONL: records, then the summary as the last line
IPW_FAKE_PROFILE='gpu0=const:200;host=const:50;temp=60' \
	"$IPW" monitor --duration 1.5 --format jsonl --backends fake >"$T/jsonl" 2>"$T/err" ||
	fail "monitor exited $? ($(cat "$T/err"))"
python3 - "$T/jsonl" <<'PY' || fail "jsonl content"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
recs = [json.loads(l) for l in lines]
s = recs[-1]
assert s.get("summary") is True, s
assert all("summary" not in r for r in recs[:-1])
gpu = [r for r in recs[:-1] if r["source"] == "fake:gpu0"]
host = [r for r in recs[:-1] if r["source"] == "fake:host"]
assert len(gpu) > 20 and len(host) > 20, (len(gpu), len(host))
assert set(gpu[0]) == {"t_s", "source", "energy_j", "power_w", "temp_c"}, gpu[0]
assert set(host[0]) == {"t_s", "source", "energy_j"}, host[0]   # unmeasured fields omitted
assert gpu[0]["power_w"] == 200
assert abs(s["duration_s"] - 1.5) < 0.2, s["duration_s"]
for name, p in (("fake:gpu0", 200.0), ("fake:host", 50.0)):
    x = s["sources"][name]
    assert x["span_s"] > 0.5, x
    assert abs(x["energy_j"] - p * x["span_s"]) <= 0.05 * p * x["span_s"], (name, x)
    assert abs(x["mean_power_w"] - p) <= 0.02 * p, (name, x)
    assert x["samples"] > 20 and x["sample_rate_hz"] > 5, x
    # the sampler never bursts: at most one read per 20 ms period of the 1.5 s run
    assert x["samples"] <= 1.5 / 0.020 + 2, x
a = s["accelerator"]
assert a["sources"] == 1 and abs(a["mean_power_w"] - 200) <= 4, a
assert s["host"]["sources"] == 1 and abs(s["host"]["mean_power_w"] - 50) <= 1, s["host"]
assert s["cpu_s_per_s"] is not None and 0 <= s["cpu_s_per_s"] < 2, s["cpu_s_per_s"]
assert s["interrupted"] is False
PY

# a source whose energy cannot be measured is null, never 0
IPW_FAKE_PROFILE='gpu0=const:100;gpu1=const:90;gpu1.counter=no;gpu1.power=average' \
	"$IPW" monitor --duration 0.6 --format jsonl --backends fake >"$T/jsonl" 2>"$T/err" ||
	fail "monitor (average power) exited $?"
python3 - "$T/jsonl" <<'PY' || fail "unmeasurable energy must be null"
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
x = s["sources"]["fake:gpu1"]
assert x["energy_j"] is None and x["mean_power_w"] is None, x
assert s["accelerator"]["energy_j"] is None, s["accelerator"]
assert s["sources"]["fake:gpu0"]["energy_j"] > 0
assert s["host"]["energy_j"] is None and s["host"]["sources"] == 0, s["host"]
PY

# CSV: a header, rows, the summary on stderr
IPW_FAKE_PROFILE='gpu0=const:200' "$IPW" monitor --duration 1 --format csv --interval 50 \
	--backends fake >"$T/csv" 2>"$T/err" || fail "monitor csv exited $?"
[ "$(head -1 "$T/csv")" = "t_s,source,energy_j,power_w,temp_c,mem_used_bytes" ] ||
	fail "csv header: $(head -1 "$T/csv")"
rows=$(tail -n +2 "$T/csv" | grep -c '^[0-9.]*,fake:gpu0,[0-9.]*,200,,$')
[ "$rows" -ge 10 ] || fail "csv has $rows well-formed rows: $(head -5 "$T/csv")"
grep -q "^summary: " "$T/err" || fail "csv summary not on stderr: $(cat "$T/err")"
grep -q "^fake:gpu0 .*accelerator" "$T/err" || fail "csv summary lacks the source line"

# SIGINT ends it with a summary
IPW_FAKE_PROFILE='gpu0=const:150' "$IPW" monitor --format jsonl --backends fake >"$T/int" 2>"$T/err" &
pid=$!
sleep 1
kill -INT $pid
wait $pid
rc=$?
[ $rc = 0 ] || fail "monitor after SIGINT exited $rc ($(cat "$T/err"))"
python3 - "$T/int" <<'PY' || fail "summary after SIGINT"
import json, sys
s = json.loads(open(sys.argv[1]).read().splitlines()[-1])
assert s["summary"] is True and s["interrupted"] is True, s
assert 0.5 < s["duration_s"] < 10, s["duration_s"]
x = s["sources"]["fake:gpu0"]
assert abs(x["mean_power_w"] - 150) <= 7.5, x   # a short span: allow 5%
PY

# errors
"$IPW" monitor --format xml >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "--format xml exited $rc, expected 2"
grep -q "usage: ipw monitor" "$T/err" || fail "no usage for a bad flag"
"$IPW" monitor --duration -1 >/dev/null 2>&1
[ $? = 2 ] || fail "--duration -1 accepted"
"$IPW" monitor --duration 1 --backends fake >/dev/null 2>"$T/err"
rc=$?
[ $rc = 4 ] || fail "monitor with no source exited $rc, expected 4"
grep -q "no energy source found: .*fake: no trace or profile given" "$T/err" ||
	fail "no explanation without sources: $(cat "$T/err")"
# the energy covers the whole duration it names, also where the first counter knot comes
# late (the fake NVML with the default read policy: a phase search at the start)
IPW_NVML_LIBRARY="$IPW_BUILD/fakes/libfake_nvml.so" FAKE_NVML_DEVICES=1 \
	"$IPW" monitor --duration 2 --format jsonl --backends nvidia >"$T/nv" 2>"$T/nverr" || fail "monitor on NVML: $(cat "$T/nverr")"
tail -1 "$T/nv" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())
d = s["duration_s"]
for name, x in s["sources"].items():
    assert x["span_s"] >= d * (1 - 1e-9), (name, x["span_s"], d)
assert s["accelerator"]["span_s"] >= d * (1 - 1e-9), (s["accelerator"], d)
' || fail "energy span shorter than the duration: $(tail -1 "$T/nv" | head -c 300)"
echo "monitor: ok"
