#!/bin/sh
# `ipw route serve` with measured local tiers: the fake telemetry back-end at a constant 200 W
# and a counter exact at every read (step_ms=0: E(t) is then exactly linear), a measured local tier and an estimated cloud tier. Concurrent
# streamed and whole requests; every measured attempt's energy must equal what the concurrent
# rule gives for the windows that actually happened (recomputed here from the recorded windows:
# 200 W x the attempt's share of each slice), dynamic energy ~0 (idle is 200 W too), cloud
# energy estimated and marked so, a cascade escalation counted as measured + estimated, the
# query rows' energy columns and per-source rows, /metrics, the lookup, and the summary's
# measured all-local counterfactual.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
# the report on the router run draws with cairo, whose fontconfig cache is never freed: not ipw's leak
export LSAN_OPTIONS="suppressions=$IPW_TESTS/data/lsan-fontconfig.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
unset IPW_FAKE_TRACE IPW_FAKE_PROFILE

start_fakellm local --tokens 8 --token-delay-ms 20 --ttft-ms 30 --model small; LOCAL=$URL
start_fakellm cloud --tokens 6 --model big; CLOUD=$URL

cat >"$TMP/router.json" <<EOF
{
  "tiers": [
    {"name": "low", "url": "$LOCAL", "model": "fake-lowconf", "measured": true},
    {"name": "local", "url": "$LOCAL", "model": "small", "measured": true},
    {"name": "cloud", "url": "$CLOUD", "model": "big", "cloud": true, "joules_per_token": 2.5,
     "price": {"input": 1, "output": 10}}
  ],
  "rules": {"long_prompt_chars": 60, "long_tier": "cloud", "default_tier": "local"},
  "cascade": {"min_chars": 1, "logprob_min": -1.5}
}
EOF
printf '{"tiers":[{"name":"c","url":"http://127.0.0.1:1","model":"m","cloud":true,"measured":true}]}' >"$TMP/bad.json"
"$IPW" route serve --config "$TMP/bad.json" --store "$TMP/ipw.db" 2>"$TMP/err"
expect_eq "measured cloud tier" $? 3
grep -q 'cloud tier' "$TMP/err" || fail "measured cloud message: $(cat "$TMP/err")"

start_router router "$TMP/router.json" --store "$TMP/ipw.db" \
	--backends fake --fake-profile 'gpu0=const:200;step_ms=0' --no-host --idle-seconds 0.2
grep -q "energy measured (fake" "$TMP/router.log" || fail "tier line: $(cat "$TMP/router.log")"

python3 - "$R" "$TMP" <<'PY' || fail "measured energy checks"
import json, sys, threading, time, urllib.request
R, T = sys.argv[1], sys.argv[2]
def post(body, out, i):
    req = urllib.request.Request(R + "/v1/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        out[i] = (dict(r.headers), r.read().decode())
prompts = ["one two", "one two three four five", "a", "count to ten please now", "x y z", "hello there"]
jobs, out = [], [None] * 9
for i, p in enumerate(prompts):  # overlapping local requests, streamed and whole, different prompt lengths
    b = {"model": "ipw-router", "messages": [{"role": "user", "content": p}], "stream": i % 2 == 0}
    jobs.append(threading.Thread(target=post, args=(b, out, i)))
long = "this prompt is long enough to pass the sixty character rule and go to the cloud tier"
jobs.append(threading.Thread(target=post, args=({"model": "ipw-router", "messages": [{"role": "user", "content": long}]}, out, 6)))
jobs.append(threading.Thread(target=post, args=({"model": "ipw-router:cascade", "messages": [{"role": "user", "content": "cascade me"}], "stream": True}, out, 7)))
jobs.append(threading.Thread(target=post, args=({"model": "ipw-router", "messages": [{"role": "user", "content": "late"}]}, out, 8)))
for j in jobs[:6]:
    j.start(); time.sleep(0.03)
for j in jobs[6:]:
    j.start()
for j in jobs:
    j.join()
# a streamed reply's closing comment: measured, pending
body = out[0][1]
com = [l for l in body.split("\n") if l.startswith(": ipw ")]
assert com, body
c = json.loads(com[0][6:])
assert c["energy_method"] == "measured" and c["energy_status"] == "pending" and c["energy_j"] is None, c
assert c["attempts"][0]["energy_method"] == "measured", c
h = out[1][0]
assert h.get("x-ipw-energy-method") == "measured" and h.get("x-ipw-energy-status") == "pending", h
assert "x-ipw-energy-j" not in h, h
hc = out[6][0]
assert hc.get("x-ipw-tier") == "cloud" and hc.get("x-ipw-energy-method") == "estimated", hc
assert abs(float(hc["x-ipw-energy-j"]) - 2.5 * 6) < 1e-9, hc
# the lookup: measured once attributed (poll; the rule waits for coverage)
ids = [o[0]["x-ipw-request-id"] for o in out]
recs = {}
for rid in ids:
    for _ in range(100):
        with urllib.request.urlopen(R + "/v1/ipw/requests/" + rid) as r:
            rec = json.loads(r.read())
        if rec["energy_status"] != "pending":
            break
        time.sleep(0.05)
    recs[rid] = rec
    assert rec["energy_status"] == "final", rec
P = 200.0
wins = []
for rec in recs.values():
    for a in rec["attempts"]:
        if a.get("energy_method") == "measured":
            assert a["energy_status"] == "measured", a
            wins.append(a)
assert len(wins) == 8, len(wins)  # six local, the late one, the cascade's first attempt
def rule(w):
    s0, f0, e0 = w["window_s"]
    group = [v for v in wins if v["window_s"][0] < e0 and v["window_s"][2] > s0]
    known = [v["prompt_tokens"] for v in group if v["prompt_tokens"] and v["prompt_tokens"] > 0]
    mean = sum(known) / len(known)
    wp = lambda v: v["prompt_tokens"] / mean if v["prompt_tokens"] and v["prompt_tokens"] > 0 else 1
    b = sorted(set([s0, e0] + [min(max(t, s0), e0) for v in group for t in v["window_s"] if t is not None]))
    share = 0
    for a, bb in zip(b, b[1:]):
        tot = mine = 0
        for v in group:
            vs, vf, ve = v["window_s"]
            if vs <= a and bb <= ve:
                wt = wp(v) if (vf is None or bb <= vf) else 1
                tot += wt
                if v is w:
                    mine = wt
        if tot:
            share += (bb - a) * mine / tot
    return P * share
for w in wins:
    want = rule(w)
    assert abs(w["energy_j"] - want) <= 1e-6 * want + 1e-6, (w, want)
    assert abs(w["energy_dyn_j"]) <= 1e-6 * w["energy_j"] + 1e-6, w  # idle power = 200 W too
    assert w["energy_source"] == "fake:gpu0" and w["attribution"] == "concurrent", w
# overlapping requests share: the sum is below the naive sum of P x window
assert sum(w["energy_j"] for w in wins) < sum(P * (w["window_s"][2] - w["window_s"][0]) for w in wins)
cas = recs[ids[7]]  # the cascade: "low" answered with -4 nats a token, escalated to the cloud
assert cas["tier"] == "cloud" and cas["energy_method"] == "measured+estimated", cas
assert "escalated: low log-probability" in cas["reason"], cas
assert cas["logprob_check"] == "mean log-probability -4 < -1.5 over 8 tokens", cas
assert [a["tier"] for a in cas["attempts"]] == ["low", "cloud"] and cas["attempts"][0]["outcome"] == "rejected", cas
assert abs(cas["cost_usd"] - sum(a["cost_usd"] for a in cas["attempts"])) < 1e-12, cas
assert abs(cas["energy_estimated_j"] - 2.5 * 6) < 1e-9, cas
assert abs(cas["energy_j"] - cas["energy_measured_j"] - cas["energy_estimated_j"]) < 1e-9, cas
json.dump({"wins": wins, "recs": recs}, open(T + "/energy.json", "w"))
with urllib.request.urlopen(R + "/metrics") as r:
    m = r.read().decode()
meas = [float(l.split()[1]) for l in m.split("\n") if l.startswith('ipw_router_energy_joules_total{tier=') and 'method="measured"' in l]
assert len(meas) == 2 and abs(sum(meas) - sum(w["energy_j"] for w in wins)) < 1e-5, meas
assert 'ipw_router_energy_joules_total{tier="cloud",method="estimated"}' in m
PY

kill -TERM "$RPID"; wait "$RPID" 2>/dev/null
python3 - "$TMP/ipw.db" "$TMP/energy.json" <<'PY' || fail "stored router run"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
e = json.load(open(sys.argv[2]))
run, summ = db.execute("SELECT id, summary_json FROM runs WHERE api = 'router'").fetchone()
rows = db.execute("SELECT id, accel_j, accel_dyn_j, extra_json FROM queries WHERE run_id = ?", (run,)).fetchall()
assert len(rows) == 9, len(rows)
tot = 0
for qid, aj, ad, x in rows:
    rec = json.loads(x)
    m = rec["energy_measured_j"]
    if m is None:
        assert aj is None, (aj, rec)
        continue
    assert abs(aj - m) < 1e-9, (aj, m)
    n = db.execute("SELECT count(*), sum(gross_j) FROM query_energy WHERE query_id = ?", (qid,)).fetchone()
    assert n[0] == 1 and abs(n[1] - aj) < 1e-9, n
    tot += aj
assert abs(tot - sum(w["energy_j"] for w in e["wins"])) < 1e-6
s = json.loads(summ)
assert abs(s["energy_measured_j"] - tot) < 1e-6, s
assert s["all_local_energy_method"] == "measured" and s["all_cloud_energy_method"] == "estimated", s
src = db.execute("SELECT name FROM run_sources WHERE run_id = ?", (run,)).fetchall()
assert src == [("fake:gpu0",)], src
PY
"$IPW" show "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT id FROM runs WHERE api = '"'"'router'"'"'").fetchone()[0])' "$TMP/ipw.db")" --store "$TMP/ipw.db" >"$TMP/show" || fail "show failed"
grep -q "energy_measured_j" "$TMP/show" || fail "show lacks the measured energy: $(cat "$TMP/show")"
grep -q "^router summary (realised cost and energy" "$TMP/show" || fail "show does not call it a router summary: $(cat "$TMP/show")"
# the report's router section: the same summary, cell by cell
RUN=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT id FROM runs WHERE api = '"'"'router'"'"'").fetchone()[0])' "$TMP/ipw.db")
"$IPW" report "$RUN" --store "$TMP/ipw.db" --out "$TMP/rep" >/dev/null 2>"$TMP/rep.err" || fail "report on the router run: $(cat "$TMP/rep.err")"
python3 - "$TMP/ipw.db" "$TMP/rep/index.html" <<'PY' || fail "the report's router table"
import html, json, re, sqlite3, sys
s = json.loads(sqlite3.connect(sys.argv[1]).execute("SELECT summary_json FROM runs WHERE api = 'router'").fetchone()[0])
page = open(sys.argv[2]).read()
m = re.search(r"<table id=router>.*?<tbody>\n<tr>(.*?)</tr>", page, re.S)
assert m, "no router table"
cells = [html.unescape(re.sub(r"<[^>]+>", "", c)).replace("\xa0", " ").strip() for c in re.findall(r"<td>(.*?)</td>", m.group(1), re.S)]
assert [int(x) for x in cells[1:5]] == [s["requests"], s["local"], s["cloud"], s["failed"]], (cells, s)
SI = {"": 1, "k": 1e3, "m": 1e-3, "µ": 1e-6, "M": 1e6}
def num(t, unit="J"):  # "12.34 mJ" -> 0.01234, "145 µ USD" -> 1.45e-4 (4 significant digits as printed)
    v, p = re.match(r"([-0-9.e+]+) ?(k|m|µ|M)? ?" + unit + "$", t).groups()
    return float(v) * SI[p or ""]
for k, col in (("energy_j", 9), ("energy_measured_j", 10), ("energy_estimated_j", 11)):
    assert abs(num(cells[col]) - s[k]) <= 5e-4 * abs(s[k]) + 1e-12, (k, cells[col], s[k])
assert "(estimated)" in cells[12] and "(measured)" in cells[13], cells
assert abs(num(cells[5], "USD") - s["cost_usd"]) <= 5e-4 * s["cost_usd"], (cells[5], s)
assert s["method"] in html.unescape(page), "the method note"
PY

# the log-probability check passes a normal answer (fakellm: -(i%5+1)/8 nats for token i, min -0.625)
cat >"$TMP/router2.json" <<EOF
{
  "tiers": [
    {"name": "local", "url": "$LOCAL", "model": "small", "joules_per_token": 0.5},
    {"name": "cloud", "url": "$CLOUD", "model": "big", "cloud": true, "price": {"input": 1, "output": 10}}
  ],
  "cascade": {"logprob_min": -1.0, "logprob_stat": "min"}
}
EOF
start_router router2 "$TMP/router2.json"
python3 - "$R" <<'PY' || fail "log-probability check on a normal answer"
import json, sys, urllib.request
R = sys.argv[1]
for stream in (False, True):
    b = {"model": "ipw-router:cascade", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    req = urllib.request.Request(R + "/v1/chat/completions", data=json.dumps(b).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        rid = r.headers["x-ipw-request-id"]
        assert r.headers["x-ipw-tier"] == "local", dict(r.headers)
        r.read()
    with urllib.request.urlopen(R + "/v1/ipw/requests/" + rid) as r:
        rec = json.loads(r.read())
    assert rec["logprob_check"] == "min log-probability -0.625 >= -1 over 8 tokens", rec
    assert len(rec["attempts"]) == 1 and rec["energy_method"] == "estimated" and rec["energy_j"] == 4.0, rec
PY
kill -TERM "$RPID"; wait "$RPID" 2>/dev/null
echo "router_energy: ok"
