#!/bin/sh
# devices.sh - 'ipw devices': lists the fake back-end's sources when a profile
# is given, its --json parses and says why absent back-ends are absent, and
# without fake configuration the fake back-end is absent with its reason.
set -u
: "${IPW:?set IPW to the ipw binary}"
command -v python3 >/dev/null 2>&1 || { echo "python3 not found"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
PROFILE='gpu0=const:200,gpu1=square:100:400:0.5;host=const:50;step_ms=100;temp=60;mem=1Gi;limit=700'

# human listing
IPW_FAKE_PROFILE=$PROFILE "$IPW" devices >"$T/out" 2>"$T/err" || fail "devices exited $? ($(cat "$T/err"))"
for s in fake:gpu0 fake:gpu1 fake:host GPU-fake-0000 "energy counter" "power (instant)"; do
	grep -q "$s" "$T/out" || fail "human listing lacks '$s': $(cat "$T/out")"
done
grep -q "no energy source found" "$T/err" && fail "said no energy source with fake sources present"

# JSON
IPW_FAKE_PROFILE=$PROFILE "$IPW" devices --json >"$T/json" 2>"$T/err" || fail "devices --json exited $?"
python3 - "$T/json" <<'PY' || fail "devices --json content"
import json, sys
d = json.load(open(sys.argv[1]))
b = {x["name"]: x for x in d["backends"]}
assert set(b) >= {"nvidia", "amd", "rapl", "apple", "fake"}, b.keys()
assert b["fake"]["present"] is True and b["fake"]["reason"] is None
src = {s["name"]: s for s in b["fake"]["sources"]}
assert list(src) == ["fake:gpu0", "fake:gpu1", "fake:host"], list(src)
g = src["fake:gpu0"]
assert g["kind"] == "gpu" and g["scope"] == "accelerator", g
assert g["uuid"].startswith("GPU-fake-0000-") and g["pci_bus_id"], g
assert g["measures"] == {"energy_counter": True, "power": "instant", "temperature": True, "memory": True}, g
assert g["power_limit_w"] == 700 and g["counter_update_s"] == 0.1 and g["selected"] is True, g
h = src["fake:host"]
assert h["scope"] == "host" and h["measures"]["power"] is None and h["uuid"] is None, h
if not b["nvidia"]["present"]:
    assert isinstance(b["nvidia"]["reason"], str) and b["nvidia"]["reason"], b["nvidia"]
PY

# selection flags
IPW_FAKE_PROFILE=$PROFILE "$IPW" devices --json --devices 1 --no-host >"$T/json" || fail "--devices 1 exited $?"
python3 - "$T/json" <<'PY' || fail "--devices 1 --no-host selection"
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["backends"] if x["name"] == "fake"][0]
sel = {s["name"]: s["selected"] for s in f["sources"]}
assert sel == {"fake:gpu0": False, "fake:gpu1": True, "fake:host": False}, sel
PY
IPW_FAKE_PROFILE=$PROFILE "$IPW" devices --devices 9 >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "--devices 9 exited $rc, expected 2"
grep -q "'9'" "$T/err" || fail "--devices 9 error does not name the device: $(cat "$T/err")"

# without fake configuration
"$IPW" devices --json >"$T/json" 2>"$T/err" || fail "devices without fake exited $?"
python3 - "$T/json" "$T/err" <<'PY' || fail "fake absent with its reason"
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["backends"] if x["name"] == "fake"][0]
assert f["present"] is False and f["sources"] == [], f
assert f["reason"] == "no trace or profile given (set IPW_FAKE_TRACE=FILE or IPW_FAKE_PROFILE=SPEC)", f
if not any(x["present"] for x in d["backends"]):
    err = open(sys.argv[2]).read()
    assert "no energy source found: " in err and "fake: no trace or profile given" in err, err
PY
"$IPW" devices --backends fake >"$T/out" 2>"$T/err" || fail "devices --backends fake exited $?"
grep -q "no energy source found: .*fake: no trace or profile given" "$T/err" ||
	fail "no 'no energy source found' on stderr: $(cat "$T/err")"
grep -q "fake .*absent" "$T/out" || fail "human listing does not show fake absent: $(cat "$T/out")"

# bad flags
"$IPW" devices --bogus >/dev/null 2>"$T/err"
rc=$?
[ $rc = 2 ] || fail "--bogus exited $rc, expected 2"
grep -q "usage: ipw devices" "$T/err" || fail "no usage message for a bad flag"
IPW_FAKE_PROFILE='gpu0=wobble:1' "$IPW" devices >"$T/out" 2>&1 || fail "a bad profile must not fail the listing"
grep -q "unknown waveform 'wobble'" "$T/out" || fail "bad profile reason not shown: $(cat "$T/out")"
echo "devices: ok"
