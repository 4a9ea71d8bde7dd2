#!/bin/sh
# `ipw route serve`, paths the other router tests leave out: local-only sessions kept for the
# server's life and refused when their table is full (never forgotten, so never sent to the cloud);
# requests refused before any upstream attempt (503 no tier, 429 budget) recorded and counted;
# a timed-out attempt updating its tier's recent TTFT; bad latency limits refused with 400;
# /metrics' token, cost and end-to-end series, tier names escaped in labels; --listen, a chunked
# upload past the size limit, HTTP 429 retried, a down cloud tier falling back to the local one;
# a TOML configuration.
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm local --tokens 5 --model small; LOCAL=$URL
start_fakellm cloud --tokens 7 --model big; CLOUD=$URL

# chat URL BODY [CURL ARGS...]: headers in $TMP/h, body in $TMP/b, the status printed
chat() {
	u=$1 b=$2; shift 2
	curl -s -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' "$@" -d "$b" "$u/v1/chat/completions"
}
hdr() { # NAME: the value of a header of the last chat
	grep -i "^$1:" "$TMP/h" | head -1 | cut -d' ' -f2- | tr -d '\r'
}

# ---- privacy: local-only sessions are never forgotten; a full table refuses a new one ----
LONG='a prompt long enough for the rules to send it to the cloud tier'
cat >"$TMP/priv.json" <<EOF2
{"tiers":[{"name":"local","url":"$LOCAL","model":"small"},
 {"name":"cloud","url":"$CLOUD","model":"big","cloud":true}],
 "rules":{"long_prompt_chars":40,"long_tier":"cloud","default_tier":"local"},
 "privacy":{"max_sessions":40}}
EOF2
start_router priv "$TMP/priv.json"
# 40 private sessions (the table grows from 64 slots past half full), a 41st refused, then
# every one of the 40 still local without the header
python3 - "$R" "$LONG" <<'PY' || fail "private sessions"
import json, sys, urllib.request, urllib.error
R, LONG = sys.argv[1], sys.argv[2]
def chat(content, **hdrs):
    req = urllib.request.Request(R + "/v1/chat/completions", data=json.dumps(
        {"model": "ipw-router", "messages": [{"role": "user", "content": content}]}).encode(), headers=hdrs)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers.get("x-ipw-tier"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, None, e.read().decode()
for i in range(1, 41):
    st, tier, _ = chat("x", **{"x-ipw-privacy": "local-only", "x-ipw-session": "s%d" % i})
    assert st == 200 and tier == "local", (i, st, tier)
st, tier, body = chat("x", **{"x-ipw-privacy": "local-only", "x-ipw-session": "s41"})
assert st == 503, st
assert "table of local-only sessions is full (40, privacy.max_sessions): session 's41'" in body, body
for i in range(1, 41):
    st, tier, _ = chat("privword-s%d %s" % (i, LONG), **{"x-ipw-session": "s%d" % i})
    assert st == 200 and tier == "local", (i, st, tier)
# s41 was refused, not made private: its untagged long prompt may go to the cloud
st, tier, _ = chat(LONG, **{"x-ipw-session": "s41"})
assert st == 200 and tier == "cloud", (st, tier)
PY
curl -s "$CLOUD/x/last-request" | grep -q 'privword' && fail "a local-only session reached the cloud"
# the cloud tier's own count: s41's one request, nothing of the 40 private sessions
expect_eq "cloud chat requests" "$(curl -s "$CLOUD/x/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["chat_answered"])')" 1
expect_eq "session id too long" "$(chat "$R" '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' \
	-H "x-ipw-session: $(python3 -c 'print("s" * 300)')")" 400
kill "$RPID"; wait "$RPID" 2>/dev/null

# ---- accounting: requests refused before any attempt are query rows and counted in /metrics ----
cat >"$TMP/acct.json" <<EOF2
{"tiers":[{"name":"local","url":"$LOCAL","model":"small"},
 {"name":"cloud","url":"$CLOUD","model":"big","cloud":true,"price":{"input":100,"output":100}}],
 "budget":{"usd":0.0001,"window_s":3600,"over":"refuse"}}
EOF2
start_router acct "$TMP/acct.json" --store "$TMP/acct.db"
expect_eq "local" "$(chat "$R" '{"model":"ipw-router:tier:local","messages":[{"role":"user","content":"x"}]}')" 200
# the first cloud answer costs (4 prompt + 7 completion tokens) x 100 USD per 1M = 0.0011 USD > 0.0001
expect_eq "cloud" "$(chat "$R" '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}')" 200
expect_eq "budget refused" "$(chat "$R" '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}')" 429
BID=$(hdr x-ipw-request-id)
[ -n "$BID" ] || fail "a refused request has a request id: $(cat "$TMP/h")"
# another client (under budget) with a 1 us TTFT limit: both tiers have a TTFT history longer than that
expect_eq "no tier" "$(chat "$R" '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}' \
	-H 'x-ipw-client: other' -H 'x-ipw-max-ttft-ms: 0.001')" 503
expect_eq "no tier reason" "$(hdr x-ipw-reason)" "tier cloud by name; skipped cloud: latency, local: latency"
curl -s "$R/v1/ipw/requests/$BID" >"$TMP/rec"
python3 - "$TMP/rec" <<'PY' || fail "refused request's record: $(cat "$TMP/rec")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["outcome"] == "budget" and r["attempts"] == [] and r["tier"] is None, r
assert r["reason"] == "tier cloud by name; skipped cloud: budget", r
assert "cost budget of this client" in r["error"], r
PY
curl -s "$R/metrics" >"$TMP/metrics"
grep -q '^ipw_router_refused_total{policy="tier",reason="budget"} 1$' "$TMP/metrics" || fail "metrics budget: $(grep refused "$TMP/metrics")"
grep -q '^ipw_router_refused_total{policy="tier",reason="no_tier"} 1$' "$TMP/metrics" || fail "metrics no_tier: $(grep refused "$TMP/metrics")"
grep -q '^ipw_router_decisions_total{policy="tier",tier="cloud"} 1$' "$TMP/metrics" &&
	grep -q '^ipw_router_decisions_total{policy="tier",tier="local"} 1$' "$TMP/metrics" || fail "metrics decisions: $(grep decisions "$TMP/metrics")"
kill "$RPID"; wait "$RPID" 2>/dev/null
python3 - "$TMP/acct.db" <<'PY' || fail "refused requests' rows"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT q.status, q.error_kind, q.http_status, q.extra_json FROM queries q JOIN runs r ON r.id = q.run_id"
                  " WHERE r.model = 'ipw-router' ORDER BY q.seq").fetchall()
got = [(st, ek, hs, json.loads(x)["outcome"]) for st, ek, hs, x in rows]
assert got == [("ok", "none", 200, "ok"), ("ok", "none", 200, "ok"), ("failed", "budget", 429, "budget"),
               ("failed", "no_tier", 503, "no_tier")], got
assert "no tier may serve this request" in json.loads(rows[3][3])["error"], rows[3][3]
PY

# ---- the budget table: a slot whose window ended is free again ----
cat >"$TMP/win.json" <<EOF2
{"tiers":[{"name":"local","url":"$LOCAL","model":"small"},
 {"name":"cloud","url":"$CLOUD","model":"big","cloud":true,"price":{"input":1,"output":1}}],
 "budget":{"usd":1,"window_s":1,"over":"refuse","max_clients":1}}
EOF2
start_router win "$TMP/win.json"
expect_eq "client a" "$(chat "$R" '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}' -H 'x-ipw-client: a')" 200
expect_eq "client b: table full" "$(chat "$R" '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}' -H 'x-ipw-client: b')" 429
grep -q 'budget table is full (1 client keys' "$TMP/b" || fail "table full message: $(cat "$TMP/b")"
sleep 1.2 # past a's 1 s window: its slot is free
expect_eq "client b after a's window" "$(chat "$R" '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}' -H 'x-ipw-client: b')" 200
kill "$RPID"; wait "$RPID" 2>/dev/null

# ---- latency: a timed-out attempt counts as at least the tier's timeout; bad limits are 400 ----
start_fakellm sleepy --tokens 3 --ttft-ms 1500 --model sleepy; SLEEPY=$URL
cat >"$TMP/lat.json" <<EOF2
{"tiers":[{"name":"local","url":"$LOCAL","model":"small"},
 {"name":"sleepy","url":"$SLEEPY","model":"sleepy","timeout_s":0.2}],"retries":0}
EOF2
start_router lat "$TMP/lat.json"
# the first token would come after 1.5 s: the 0.2 s timeout ends the stream with an error event
chat "$R" '{"model":"ipw-router:tier:sleepy","stream":true,"messages":[{"role":"user","content":"x"}]}' >/dev/null
grep -q '"type":"upstream_error"' "$TMP/b" || fail "sleepy: no error event: $(cat "$TMP/b")"
# its TTFT estimate is now >= 0.2 s > 150 ms: the limit routes around it
expect_eq "after a timeout" "$(chat "$R" '{"model":"ipw-router:tier:sleepy","messages":[{"role":"user","content":"x"}]}' \
	-H 'x-ipw-max-ttft-ms: 150')" 200
expect_eq "after a timeout: tier" "$(hdr x-ipw-tier)" local
expect_eq "after a timeout: reason" "$(hdr x-ipw-reason)" "tier sleepy by name; skipped sleepy: latency"
for v in abc 12ms -5 0 nan; do
	expect_eq "bad ttft limit '$v'" "$(chat "$R" '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' \
		-H "x-ipw-max-ttft-ms: $v")" 400
	grep -q "x-ipw-max-ttft-ms must be a positive number of milliseconds (got '$v')" "$TMP/b" ||
		fail "bad ttft limit message: $(cat "$TMP/b")"
done
expect_eq "bad e2e limit" "$(chat "$R" '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' \
	-H 'x-ipw-max-e2e-ms: soon')" 400
expect_eq "bad body limit" "$(chat "$R" '{"model":"ipw-router","ipw":{"max_e2e_ms":"soon"},"messages":[{"role":"user","content":"x"}]}')" 400
grep -q 'ipw.max_e2e_ms must be a positive number of milliseconds' "$TMP/b" || fail "bad body limit message: $(cat "$TMP/b")"
expect_eq "good limit" "$(chat "$R" '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' \
	-H 'x-ipw-max-e2e-ms: 2500.5')" 200
kill "$RPID"; wait "$RPID" 2>/dev/null

# ---- /metrics: tokens, cost and end-to-end latency series; tier names escaped in labels ----
cat >"$TMP/met.json" <<EOF2
{"tiers":[{"name":"q\\"t\\\\x","url":"$LOCAL","model":"small"},
 {"name":"cloud","url":"$CLOUD","model":"big","cloud":true,"price":{"input":1,"output":10}}]}
EOF2
start_router met "$TMP/met.json"
expect_eq "odd tier name" "$(chat "$R" '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}')" 200
expect_eq "odd tier name header" "$(hdr x-ipw-tier)" 'q"t\x'
expect_eq "cloud" "$(chat "$R" '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}')" 200
curl -s "$R/metrics" >"$TMP/metrics"
# fakellm: 3 + 1 word = 4 prompt tokens; 5 (local) and 7 (cloud) completion tokens;
# cloud cost (4 x 1 + 7 x 10) / 1e6 = 0.000074 USD, the local tier is unpriced
for l in 'ipw_router_requests_total{tier="q\"t\\x",outcome="ok"} 1' \
	'ipw_router_tokens_total{tier="q\"t\\x",kind="prompt"} 4' \
	'ipw_router_tokens_total{tier="q\"t\\x",kind="completion"} 5' \
	'ipw_router_tokens_total{tier="cloud",kind="prompt"} 4' \
	'ipw_router_tokens_total{tier="cloud",kind="completion"} 7' \
	'ipw_router_cost_usd_total{tier="cloud"} 0.000074000' \
	'ipw_router_cost_usd_total{tier="q\"t\\x"} 0.000000000' \
	'ipw_router_e2e_seconds_bucket{tier="cloud",le="30"} 1' \
	'ipw_router_e2e_seconds_bucket{tier="cloud",le="+Inf"} 1' \
	'ipw_router_e2e_seconds_count{tier="cloud"} 1' \
	'ipw_router_e2e_seconds_count{tier="q\"t\\x"} 1'; do
	grep -qxF "$l" "$TMP/metrics" || fail "metrics lack: $l"
done
python3 - "$TMP/metrics" <<'PY' || fail "not the Prometheus text format"
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
lab = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r"^%s(?:\{%s(?:,%s)*\})? (?:[-+]?[0-9.]+(?:e[-+]?[0-9]+)?|\+Inf|NaN)$" % (name, lab, lab))
for l in open(sys.argv[1]).read().splitlines():
    assert l.startswith("# HELP ") or l.startswith("# TYPE ") or sample.match(l), l
PY
kill "$RPID"; wait "$RPID" 2>/dev/null
printf '{"tiers":[{"name":"a\\nb","url":"http://127.0.0.1:1","model":"m"}]}' >"$TMP/badname.json"
"$IPW" route serve --config "$TMP/badname.json" --no-record 2>"$TMP/err"
expect_eq "control character in a tier name" $? 3
grep -q 'tiers\[0\].name must be non-empty, without control characters' "$TMP/err" || fail "bad name: $(cat "$TMP/err")"

# ---- --listen; a chunked upload past the size limit; 429 retried; a down cloud tier falls back ----
start_fakellm rl --tokens 2 --model small; RL=$URL # its own 429 counter: odd requests get 429
DOWN="http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$TMP/fb.json" <<EOF2
{"port":1,"tiers":[{"name":"local","url":"$LOCAL","model":"small"},{"name":"r429","url":"$RL","model":"fake-429"},
 {"name":"cloud","url":"$DOWN","model":"big","cloud":true}],
 "rules":{"long_prompt_chars":40,"long_tier":"cloud","default_tier":"local"},"retries":1,"max_body_bytes":1000}
EOF2
"$IPW" route serve --config "$TMP/fb.json" --no-record --listen nocolon 2>"$TMP/err"
expect_eq "--listen without a port" $? 2
grep -q -- "--listen takes HOST:PORT" "$TMP/err" || fail "--listen message: $(cat "$TMP/err")"
"$IPW" route serve --config "$TMP/fb.json" --no-record --listen localhost:0 2>"$TMP/err"
expect_eq "--listen with a name" $? 4
grep -q "numeric IPv4 address (got 'localhost')" "$TMP/err" || fail "--listen name message: $(cat "$TMP/err")"
# the config says port 1; --listen overrides it with any free port on 127.0.0.1
start_router fb "$TMP/fb.json" --no-record --listen 127.0.0.1:0
grep -q "on http://127.0.0.1:$(cat "$TMP/fb.port")" "$TMP/fb.log" || fail "--listen: $(cat "$TMP/fb.log")"
expect_eq "--listen serves" "$(curl -s "$R/health")" '{"status":"ok"}'
# a chunked upload (no Content-Length) past max_body_bytes: 413 once the body passed it
python3 -c 'import json; print(json.dumps({"model":"ipw-router","messages":[{"role":"user","content":"y" * 3000}]}))' >"$TMP/big.json"
expect_eq "chunked body limit" "$(curl -s -o "$TMP/b" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	--data-binary @"$TMP/big.json" "$R/v1/chat/completions")" 413
grep -q 'the body passes the limit of 1000 bytes' "$TMP/b" || fail "chunked limit message: $(cat "$TMP/b")"
expect_eq "chunked small body" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
	--data-binary '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 200
# 429 then retried at the same tier
expect_eq "429 retried" "$(chat "$R" '{"model":"ipw-router:tier:r429","messages":[{"role":"user","content":"x"}]}')" 200
expect_eq "429 retried: tier" "$(hdr x-ipw-tier)" r429
curl -s "$R/v1/ipw/requests/$(hdr x-ipw-request-id)" >"$TMP/rec"
python3 - "$TMP/rec" <<'PY' || fail "429 attempts: $(cat "$TMP/rec")"
import json, sys
r = json.load(open(sys.argv[1]))
assert [(a["tier"], a["outcome"], a["http_status"]) for a in r["attempts"]] == [("r429", "http_429", 429), ("r429", "ok", 200)], r
PY
# a long prompt goes to the cloud, which is down: refused twice (1 retry), then the local tier
chat "$R" '{"model":"ipw-router","stream":true,"messages":[{"role":"user","content":"a prompt long enough for the cloud tier here"}]}' >/dev/null
expect_eq "cloud down: tier" "$(hdr x-ipw-tier)" local
grep -q 'data: \[DONE\]' "$TMP/b" || fail "cloud down: stream: $(cat "$TMP/b")"
python3 - "$TMP/b" <<'PY' || fail "cloud down attempts: $(cat "$TMP/b")"
import json, sys
rec = [json.loads(l[6:]) for l in open(sys.argv[1]).read().splitlines() if l.startswith(": ipw ")][0]
assert rec["reason"] == "rules: prompt 44 > 40 chars", rec
assert [(a["tier"], a["outcome"]) for a in rec["attempts"]] == [("cloud", "connect"), ("cloud", "connect"), ("local", "ok")], rec
PY
curl -s "$R/metrics" >"$TMP/metrics"
grep -qxF 'ipw_router_requests_total{tier="r429",outcome="retried"} 1' "$TMP/metrics" || fail "429 retry metric"
grep -qxF 'ipw_router_requests_total{tier="cloud",outcome="retried"} 1' "$TMP/metrics" || fail "cloud retry metric"
grep -qxF 'ipw_router_requests_total{tier="cloud",outcome="failed"} 2' "$TMP/metrics" || fail "cloud failed metric"
kill "$RPID"; wait "$RPID" 2>/dev/null

# ---- a TOML configuration ----
cat >"$TMP/r.toml" <<EOF2
rules = { long_prompt_chars = 40, long_tier = "cloud" }  # inline table
[[tiers]]
name = "local"
url = "$LOCAL"
model = 'small'
joules_per_token = 0.5
[[tiers]]
name = "cloud"
url = "$CLOUD"
model = "big"
cloud = true
price = { input = 1, output = 10 }
EOF2
start_router toml "$TMP/r.toml"
expect_eq "toml: local" "$(chat "$R" '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}')" 200
expect_eq "toml: local tier" "$(hdr x-ipw-tier)" local
expect_eq "toml: 5 tokens x 0.5 J" "$(hdr x-ipw-energy-j)" 2.5
chat "$R" "{\"model\":\"ipw-router\",\"messages\":[{\"role\":\"user\",\"content\":\"$LONG\"}]}" >/dev/null
expect_eq "toml: long prompt" "$(hdr x-ipw-tier)" cloud
kill "$RPID"; wait "$RPID" 2>/dev/null
printf '[[tiers]]\nname = "a"\nurl = "http://x"\nmodel = m\n' >"$TMP/bad.toml"
"$IPW" route serve --config "$TMP/bad.toml" --no-record 2>"$TMP/err"
expect_eq "bad toml" $? 3
grep -q 'bad.toml: line 4: expected a value' "$TMP/err" || fail "bad toml message: $(cat "$TMP/err")"

echo "router_paths: ok"
