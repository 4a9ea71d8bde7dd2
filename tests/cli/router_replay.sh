#!/bin/sh
# End to end on the reference models: two `ipw serve` tiers (ref-s local, ref-l priced as a cloud),
# profile runs of both on one `ref` sample (items 0-199), `ipw route train` on them, `ipw route
# serve` with the learned policy, and `ipw route replay` of another sample (items 300-359; items 360-371 local-only) with
# all-local / all-cloud baselines: the learned router must beat a random router at the same local
# share, `route simulate --router` must use the file's decisions, and items sent local-only must
# never reach the cloud tier (checked in that server's own request log).
set -u
. "$IPW_TESTS/cli/lib/common.sh"
ROOT=$(cd "$IPW_TESTS/.." && pwd)
[ -f "$ROOT/models/ref-s.gguf" ] && [ -f "$ROOT/models/ref-l.gguf" ] || { echo "SKIP: no models/ref-{s,l}.gguf"; exit 77; }
# The built-in engine under AddressSanitizer needs over ten minutes for this on 2 cores; the
# router's own code runs under the sanitizers in router_serve.sh and router_limits.sh.
if ldd "$IPW" 2>/dev/null | grep -q libasan; then
	echo "SKIP: the end-to-end replay runs in the plain build (sanitizer build: see router_serve, router_limits)"
	exit 77
fi
export IPW_THREADS=1
S="$TMP/ipw.db"

for m in s l; do
	"$IPW" profile --api builtin --model "$ROOT/models/ref-$m.gguf" --dataset ref:200 --idle-seconds 0 \
		--store "$S" --name "ref-$m-train" >"$TMP/profile-$m.log" 2>&1 ||
		fail "profile ref-$m: $(tail -5 "$TMP/profile-$m.log")"
done
"$IPW" route train --store "$S" --local ref-s-train --cloud ref-l-train --out "$TMP/router.json" >"$TMP/train.txt" ||
	fail "route train: $(cat "$TMP/train.txt")"
grep -q 'AUC 0\.[5-9]' "$TMP/train.txt" || fail "train: AUC not above chance: $(cat "$TMP/train.txt")"
python3 - "$TMP/router.json" <<'PY' || fail "router file"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["format"] == "ipw-router" and r["version"] == 1
runs = r["report"]["training_runs"]
assert [x["role"] for x in runs] == ["local", "cloud"] and runs[0]["name"] == "ref-s-train", runs
at = r["report"]["at_threshold"]
assert 0 <= at["recall"] <= 1 and 0 <= at["two_sided_accuracy"] <= 1 and len(r["report"]["curve"]) == 21
PY
"$IPW" route simulate --store "$S" --router "$TMP/router.json" >"$TMP/sim.txt" || fail "simulate --router"
grep -q "the router's own decisions" "$TMP/sim.txt" || fail "simulate --router: $(cat "$TMP/sim.txt")"

for m in s l; do
	"$IPW" serve "$ROOT/models/ref-$m.gguf" --port 0 --port-file "$TMP/$m.port" --threads 1 --name "ref-$m" \
		--request-log "$TMP/$m.requests" >"$TMP/serve-$m.log" 2>&1 &
	SERVER_PIDS="$SERVER_PIDS $!"
done
for m in s l; do
	i=0
	while [ ! -s "$TMP/$m.port" ]; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "ipw serve ref-$m: $(cat "$TMP/serve-$m.log")"
		sleep 0.05
	done
done
SPORT=$(cat "$TMP/s.port")
LPORT=$(cat "$TMP/l.port")
printf '%s\n' '{' \
	"  \"tiers\": [" \
	"    {\"name\": \"small\", \"url\": \"http://127.0.0.1:$SPORT\", \"model\": \"ref-s\", \"profile_run\": \"ref-s-train\"}," \
	"    {\"name\": \"large\", \"url\": \"http://127.0.0.1:$LPORT\", \"model\": \"ref-l\", \"cloud\": true," \
	"     \"price\": {\"input\": 1.0, \"output\": 4.0}, \"profile_run\": \"ref-l-train\"}" \
	"  ]," \
	"  \"policy\": \"learned\"," \
	"  \"learned\": {\"router\": \"$TMP/router.json\"}" \
	'}' >"$TMP/router-config.json"
start_router router "$TMP/router-config.json" --store "$S"
grep -q 'tier small: local .* J/token (estimate)' "$TMP/router.log" || fail "J/token from the profile run: $(cat "$TMP/router.log")"
curl -s "$R/v1/models" | grep -q '"ipw-router:learned"' || fail "learned policy not listed"

"$IPW" route replay --dataset ref:360 --offset 300 --url "$R" --local-tier small --cloud-tier large \
	--router "$TMP/router.json" --out "$TMP/replay.jsonl" --json >"$TMP/replay.json" ||
	fail "replay: $(cat "$TMP/replay.json")"
"$IPW" route replay --dataset ref:372 --offset 360 --url "$R" --private-every 1 --out "$TMP/private.jsonl" \
	>"$TMP/private.txt" || fail "private replay: $(cat "$TMP/private.txt")"
python3 - "$TMP/replay.json" "$TMP/replay.jsonl" "$TMP/l.requests" "$TMP/private.jsonl" <<'PY' || fail "replay result: $(cat "$TMP/replay.json")"
import json, sys
r = json.load(open(sys.argv[1]))
pol, rnd, loc, clo = r["router"], r["random"], r["all_local"], r["all_cloud"]
assert pol["items"] == 60 and pol["answered"] == 60, pol
assert 0 < pol["local_share"] < 1, pol
assert pol["accuracy"] > rnd["accuracy"], ("learned must beat random at the same local share", pol, rnd)
assert loc["accuracy"] < clo["accuracy"], (loc, clo)
assert pol["energy_j"] < clo["energy_j"] and pol["cost_usd"] < clo["cost_usd"], (pol, clo)
assert loc["cost_usd"] == 0, loc
rows = [json.loads(l) for l in open(sys.argv[2])]
private = [json.loads(l) for l in open(sys.argv[4])]
assert len(private) == 12 and all(x["private"] and x["tier"] == "small" for x in private), private
cloud_prompts = set()
for line in open(sys.argv[3]):
    body = json.loads(line)
    cloud_prompts.update(m["content"] for m in body["messages"])
assert not any(x["prompt"] in cloud_prompts for x in private), "a local-only item reached the cloud tier"
assert any(x["prompt"] in cloud_prompts for x in rows if not x["private"] and x["tier"] == "large")
PY
kill -TERM "$RPID"
wait "$RPID"
expect_eq "router exit" $? 0
# the router run: every routed request a row, the realised savings in its summary (ipw show)
"$IPW" show last --store "$S" --json >"$TMP/show.json" || fail "ipw show the router run"
python3 - "$TMP/show.json" <<'PY' || fail "router run summary: $(cat "$TMP/show.json")"
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
assert s["kind"] == "router" and s["requests"] == 3 * 60 + 12 and s["failed"] == 0, s
assert s["local"] + s["cloud"] == s["requests"] and s["all_local_cost_usd"] == 0, s
assert 0 < s["saved_cost_vs_all_cloud"] < 1 and 0 < s["saved_energy_vs_all_cloud"] < 1, s
PY
cat "$TMP/train.txt" "$TMP/replay.json"
echo "router_replay: ok"
