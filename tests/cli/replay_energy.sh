#!/bin/sh
# `ipw route replay` through a router whose local tier is measured: a measured attempt's energy is
# attributed after the reply (docs/router.md "Energy and cost afterwards"), so replay looks the
# record up by request id; every reply's energy in the replay must be the router's own stored
# figure (the query row's accel_j), the sum must be the sum of those rows, and every answer counts
# as measured. A cloud-only replay (estimated energy: 2.5 J/token x 6 tokens) is exact by hand.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE

start_fakellm local --tokens 4 --token-delay-ms 10 --ttft-ms 20 --model small; LOCAL=$URL
start_fakellm cloud --tokens 6 --model big; CLOUD=$URL
cat >"$TMP/router.json" <<EOF
{"tiers": [
  {"name": "local", "url": "$LOCAL", "model": "small", "measured": true},
  {"name": "cloud", "url": "$CLOUD", "model": "big", "cloud": true, "joules_per_token": 2.5}
]}
EOF
for i in 1 2 3 4; do
	printf '{"id": "r%d", "task": "exact", "problem": "item %d", "answer": "x"}\n' "$i" "$i"
done >"$TMP/d.jsonl"
start_router router "$TMP/router.json" --store "$TMP/ipw.db" \
	--backends fake --fake-profile 'gpu0=const:200;step_ms=0' --no-host --idle-seconds 0.2

"$IPW" route replay --dataset "$TMP/d.jsonl" --url "$R" --model ipw-router:tier:local --out "$TMP/out.jsonl" \
	--json >"$TMP/local.json" 2>"$TMP/local.err" || fail "replay (local): $(cat "$TMP/local.err")"
grep -q 'still being attributed' "$TMP/local.err" && fail "energy left pending: $(cat "$TMP/local.err")"
"$IPW" route replay --dataset "$TMP/d.jsonl" --url "$R" --model ipw-router:tier:local >"$TMP/local.txt" 2>&1 ||
	fail "replay (text): $(cat "$TMP/local.txt")"
grep -q 'measured at measured tiers' "$TMP/local.txt" || fail "text header: $(cat "$TMP/local.txt")"
"$IPW" route replay --dataset "$TMP/d.jsonl" --url "$R" --model ipw-router:tier:cloud --json \
	>"$TMP/cloud.json" 2>"$TMP/cloud.err" || fail "replay (cloud): $(cat "$TMP/cloud.err")"
kill -TERM "$RPID"; wait "$RPID" 2>/dev/null

python3 - "$TMP/ipw.db" "$TMP/out.jsonl" "$TMP/local.json" "$TMP/cloud.json" <<'PY' || fail "replay energy checks"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
out = [json.loads(l) for l in open(sys.argv[2])]
loc, clo = json.load(open(sys.argv[3]))["router"], json.load(open(sys.argv[4]))["router"]
run = db.execute("SELECT id FROM runs WHERE api = 'router'").fetchone()[0]
# the first replay's four requests are the run's first four rows (one at a time, in order)
rows = db.execute("SELECT item_id, accel_j FROM queries WHERE run_id = ? ORDER BY seq LIMIT 4", (run,)).fetchall()
assert [r[0] for r in rows] == ["r1", "r2", "r3", "r4"], rows
assert len(out) == 4 and all(o["energy_measured"] for o in out), out
for o, (iid, aj) in zip(out, rows):
    assert o["item_id"] == iid and aj is not None and aj > 0, (o, iid, aj)
    assert abs(o["energy_j"] - aj) <= 1e-9 * aj, (o["energy_j"], aj)
assert loc["energy_measured_answers"] == 4 and loc["answered"] == 4, loc
assert abs(loc["energy_j"] - sum(r[1] for r in rows)) <= 1e-9 * loc["energy_j"], loc
assert clo["energy_measured_answers"] == 0 and clo["answered"] == 4, clo
assert abs(clo["energy_j"] - 4 * 2.5 * 6) < 1e-9, clo
PY
echo "replay_energy: ok"
