#!/bin/sh
# calibrate.sh - 'ipw calibrate' on a machine without a GPU driver: the GPU part
# says why it is skipped (libcuda.so.1 missing), the CPU part runs against the
# fake back-end and its analysis matches the fake profile (100 W idle and
# loaded, on/off window energies equal to a perfect meter's, counter step 50 ms);
# bad options are refused.
set -u
: "${IPW:?set IPW to the ipw binary}"
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Energies: a constant 100 W source read as instant power (no counter), so the
# timeline is exactly 100 W wherever the windows fell, however late the load
# thread or the sampler ran: every window's energy is 100 W x its recorded
# length, exactly what the analysis expects (no timing tolerance).
IPW_CUDA_LIBRARY="$T/no/libcuda.so.1" IPW_FAKE_PROFILE='gpu0=const:100;counter=no;power=instant' \
	"$IPW" calibrate --backends fake --idle 1.5 --periods 0.5,0.25 --cycles 2 --threads 1 --json \
	>"$T/out.json" 2>"$T/err" || fail "calibrate exited $? ($(cat "$T/err"))"
python3 - "$T/out.json" <<'PY' || fail "calibrate JSON: $(cat "$T/out.json")"
import json, sys
j = json.load(open(sys.argv[1]))
g, c = j["gpu"], j["cpu"]
assert g["ran"] is False, g
assert "libcuda.so.1" in g["skipped"] and "not found" in g["skipped"], g["skipped"]
assert c["ran"] is True and c["what"] == "1 busy threads", c
(s,) = c["sources"]
assert s["source"] == "fake:gpu0"
assert s["counter_update_s"] is None, s
close = lambda a, b: abs(a - b) <= 1e-6 * abs(b)
assert close(s["idle_w"], 100) and close(s["loaded_w"], 100), s
# a constant source has no step to rise or fall
assert s["rise_s"] is None and s["fall_s"] is None, s
assert [p["period_s"] for p in s["periods"]] == [0.5, 0.25]
for p in s["periods"]:
    # each window's energy is 100 W x its length: on_expected (loaded W x on
    # time) and off_expected (idle W x off time) exactly; the windows are at
    # least as long as asked (2 cycles x period each), never shorter
    assert close(p["on_j"], p["on_expected_j"]) and close(p["off_j"], p["off_expected_j"]), p
    assert p["on_j"] >= 100 * 2 * p["period_s"] * (1 - 1e-6), p
PY

# The counter: the declared update period is reported as such, and the
# measured step (mean spacing of the counter's changes) is 50 ms, longer
# only where the sampler missed an update (so the bound above is loose)
IPW_CUDA_LIBRARY="$T/no/libcuda.so.1" IPW_FAKE_PROFILE='gpu0=const:100;step_ms=50' \
	"$IPW" calibrate --backends fake --idle 1 --periods 0.25 --cycles 1 --threads 1 --json \
	>"$T/out.json" 2>"$T/err" || fail "counter calibrate exited $? ($(cat "$T/err"))"
python3 - "$T/out.json" <<'PY' || fail "counter calibrate JSON: $(cat "$T/out.json")"
import json, sys
(s,) = json.load(open(sys.argv[1]))["cpu"]["sources"]
assert s["counter_update_s"] == 0.05, s
assert 0.045 <= s["step_s"] <= 0.1, s["step_s"]
PY

# text output names the skip reason and the CPU table
IPW_CUDA_LIBRARY="$T/no/libcuda.so.1" IPW_FAKE_PROFILE='gpu0=const:100' \
	"$IPW" calibrate --backends fake --idle 0.5 --periods 0.2 --cycles 1 --threads 1 >"$T/out.txt" 2>"$T/err" ||
	fail "text calibrate exited $?"
grep -q "^gpu load: GPU load skipped: .*libcuda.so.1 not found" "$T/out.txt" || fail "no skip line: $(cat "$T/out.txt")"
grep -q "^cpu load: 1 busy threads" "$T/out.txt" || fail "no cpu line: $(cat "$T/out.txt")"
grep -q "fake:gpu0" "$T/out.txt" || fail "no source row"

# no telemetry at all: a clear error, not a report of zeros
"$IPW" calibrate --backends fake --load cpu --idle 0.2 --periods 0.1 --cycles 1 >"$T/o" 2>"$T/err" &&
	fail "calibrate without sources succeeded"
grep -q "no telemetry source" "$T/err" || fail "no-source message: $(cat "$T/err")"

"$IPW" calibrate --periods 0,1 >/dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "bad --periods not a usage error"
grep -q -- "--periods takes" "$T/err" || fail "bad --periods message"
"$IPW" calibrate --load tpu >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --load not a usage error"
echo "ok"
