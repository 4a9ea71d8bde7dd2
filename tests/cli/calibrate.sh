#!/bin/sh
# calibrate.sh - 'ipw calibrate' on a machine without a GPU driver: the GPU part
# says why it is skipped (libcuda.so.1 missing), the CPU part runs against the
# fake back-end and its analysis matches the fake profile (counter step 50 ms,
# 100 W idle and loaded, on/off window energies equal to a perfect meter's);
# bad options are refused.
set -u
: "${IPW:?set IPW to the ipw binary}"
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

IPW_CUDA_LIBRARY="$T/no/libcuda.so.1" IPW_FAKE_PROFILE='gpu0=const:100;step_ms=50' \
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
assert abs(s["step_s"] - 0.05) < 0.01, s["step_s"]
assert abs(s["idle_w"] - 100) < 5, s["idle_w"]
assert abs(s["loaded_w"] - 100) < 5, s["loaded_w"]
# a constant source has no step to rise or fall
assert s["rise_s"] is None and s["fall_s"] is None, s
assert [p["period_s"] for p in s["periods"]] == [0.5, 0.25]
for p in s["periods"]:
    # two cycles of on and off: about 100 W x 2 x period each
    want = 100 * 2 * p["period_s"]
    assert abs(p["on_j"] - want) < 0.1 * want, p
    assert abs(p["off_j"] - want) < 0.1 * want, p
    assert abs(p["on_j"] - p["on_expected_j"]) < 0.1 * want, p
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
