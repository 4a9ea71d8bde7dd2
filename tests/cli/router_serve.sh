#!/bin/sh
# `ipw route serve` against loopback fake tiers (build/fakes/fakellm): health, the policy list,
# whole and streamed replies with x-ipw-* headers and the closing "ipw" SSE comment, messages
# passed through unchanged, rules (length, header), privacy local-only (sticky per session, the
# cloud tier's last request checked), retries and fallback (connection refused, HTTP 500), a 4xx
# passed on, a clear error when no tier is left, an upstream reset mid-stream, a client hang-up
# cancelling its upstream, a client that never reads not stalling others, the cascade verifier,
# the latency limit, the lookup by request id, the router run in the store, /metrics.
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm local --tokens 5 --model small; LOCAL=$URL
start_fakellm cloud --tokens 7 --model big; CLOUD=$URL
start_fakellm slow --tokens 3 --ttft-ms 300 --model slow; SLOW=$URL
start_fakellm big --tokens 200000 --model huge; BIG=$URL
# a port nothing listens on: bind one with python, close it
DOWN="http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

cat >"$TMP/router.json" <<EOF
{
  "tiers": [
    {"name": "local", "url": "$LOCAL", "model": "small", "joules_per_token": 0.5},
    {"name": "down", "url": "$DOWN", "model": "small"},
    {"name": "flaky", "url": "$LOCAL", "model": "fake-500"},
    {"name": "reset", "url": "$LOCAL", "model": "fake-reset"},
    {"name": "stall", "url": "$LOCAL", "model": "fake-stall"},
    {"name": "missing", "url": "$LOCAL", "model": "fake-404"},
    {"name": "say", "url": "$LOCAL", "model": "fake-say", "joules_per_token": 0.25},
    {"name": "slow", "url": "$SLOW", "model": "slow"},
    {"name": "huge", "url": "$BIG", "model": "huge"},
    {"name": "cloud", "url": "$CLOUD", "model": "big", "cloud": true, "price": {"input": 1, "output": 10}}
  ],
  "fallback": ["local", "cloud"],
  "retries": 1,
  "rules": {"long_prompt_chars": 40, "long_tier": "cloud", "default_tier": "local", "aliases": {"fast": "local"}},
  "cascade": {"min_chars": 1, "pattern": "[0-9]"}
}
EOF

"$IPW" route serve --config "$TMP/nope.json" --store "$TMP/ipw.db" 2>"$TMP/err"
expect_eq "missing config" $? 3
printf '{"tiers":[{"name":"a","url":"ftp://x","model":"m"}]}' >"$TMP/bad.json"
"$IPW" route serve --config "$TMP/bad.json" --store "$TMP/ipw.db" 2>"$TMP/err"
expect_eq "bad url" $? 3
grep -q 'tiers\[0\].url' "$TMP/err" || fail "bad url message: $(cat "$TMP/err")"

start_router router "$TMP/router.json" --store "$TMP/ipw.db"
grep -q "on http://127.0.0.1:" "$TMP/router.log" || fail "not on 127.0.0.1: $(cat "$TMP/router.log")"

expect_eq health "$(curl -s "$R/health")" '{"status":"ok"}'
curl -s "$R/v1/models" >"$TMP/models.json"
for m in ipw-router ipw-router:rules ipw-router:cascade ipw-router:tier:cloud fast; do
	grep -q "\"id\":\"$m\"" "$TMP/models.json" || fail "/v1/models lacks $m: $(cat "$TMP/models.json")"
done
expect_eq "unknown policy" "$(curl -s -o /dev/null -w '%{http_code}' -d '{"model":"gpt-4","messages":[]}' \
	"$R/v1/chat/completions")" 404
expect_eq "bad body" "$(curl -s -o /dev/null -w '%{http_code}' -d 'nope' "$R/v1/chat/completions")" 400

# whole reply, short prompt: rules send it to the local tier; messages reach it unchanged
MSGS='[{"role":"system","content":"be brief \u00e9"},{"role":"user","content":"hi there"}]'
curl -s -D "$TMP/h1" -d "{\"model\":\"ipw-router\",\"stream\":false,\"messages\":$MSGS,\"temperature\":0}" \
	"$R/v1/chat/completions" >"$TMP/b1" || fail "whole request"
grep -qi '^x-ipw-tier: local' "$TMP/h1" || fail "whole: tier: $(cat "$TMP/h1")"
grep -qi '^x-ipw-model: small' "$TMP/h1" || fail "whole: model header"
grep -qi '^x-ipw-reason: rules: default' "$TMP/h1" || fail "whole: reason: $(cat "$TMP/h1")"
grep -qi '^x-ipw-energy-j: 2.5' "$TMP/h1" || fail "whole: 5 tokens x 0.5 J/token: $(cat "$TMP/h1")"
grep -qi '^x-ipw-energy-method: estimated' "$TMP/h1" || fail "whole: energy method"
curl -s "$LOCAL/x/last-request" >"$TMP/last"
python3 - "$TMP/last" "$MSGS" <<'PY' || fail "messages not passed through unchanged: $(cat "$TMP/last")"
import json, sys
got = json.load(open(sys.argv[1]))
assert got["messages"] == json.loads(sys.argv[2]), got["messages"]
assert got["model"] == "small" and got["stream"] is False and got["temperature"] == 0, got
PY

# streamed, long prompt: the cloud tier; the closing comment carries the cost
LONG='explain in detail why the sky looks blue at noon'
curl -sN -D "$TMP/h2" -d "{\"model\":\"ipw-router:rules\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$LONG\"}]}" \
	"$R/v1/chat/completions" >"$TMP/s2" || fail "streamed request"
grep -qi '^x-ipw-tier: cloud' "$TMP/h2" || fail "stream: tier: $(cat "$TMP/h2")"
python3 - "$TMP/s2" <<'PY' || fail "stream malformed: $(cat "$TMP/s2")"
import json, sys
lines = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8")]
data = [l[6:] for l in lines if l.startswith("data: ")]
assert data[-1] == "[DONE]"
text = "".join(c["choices"][0]["delta"].get("content", "") for c in map(json.loads, data[:-1]) if c["choices"])
assert text.startswith("t0 t1 t2 "), text
ipw = [json.loads(l[6:]) for l in lines if l.startswith(": ipw ")]
assert len(ipw) == 1
rec = ipw[0]
# fake prompt tokens: 3 + words (10); 7 completion tokens; 1 and 10 USD per 1M
assert rec["tier"] == "cloud" and rec["prompt_tokens"] == 13 and rec["completion_tokens"] == 7, rec
assert abs(rec["cost_usd"] - (13 * 1 + 7 * 10) / 1e6) < 1e-12, rec
assert rec["energy_j"] is None and rec["energy_method"] is None, rec  # no J/token for the cloud tier
assert lines.index(next(l for l in lines if l.startswith(": ipw "))) < lines.index("data: [DONE]")
PY
ID=$(grep -i '^x-ipw-request-id:' "$TMP/h2" | tr -d '\r' | cut -d' ' -f2)
curl -s "$R/v1/ipw/requests/$ID" | grep -q '"tier":"cloud"' || fail "lookup $ID: $(curl -s "$R/v1/ipw/requests/$ID")"
expect_eq "lookup unknown" "$(curl -s -o /dev/null -w '%{http_code}' "$R/v1/ipw/requests/zzz")" 404
expect_eq "alias" "$(curl -s -D - -o /dev/null -d '{"model":"fast","messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" | grep -i '^x-ipw-tier:' | tr -d '\r')" "x-ipw-tier: local"

# privacy: local-only never reaches the cloud, and stays local for its session
SECRET_WORD="privateword$$"
curl -s -D "$TMP/h3" -H 'x-ipw-privacy: local-only' -H 'x-ipw-session: s1' \
	-d "{\"model\":\"ipw-router\",\"messages\":[{\"role\":\"user\",\"content\":\"$SECRET_WORD $LONG\"}]}" \
	"$R/v1/chat/completions" >/dev/null
grep -qi '^x-ipw-tier: local' "$TMP/h3" || fail "local-only went to: $(cat "$TMP/h3")"
grep -qi 'skipped cloud: local-only' "$TMP/h3" || fail "local-only reason: $(cat "$TMP/h3")"
curl -s -D "$TMP/h4" -H 'x-ipw-session: s1' \
	-d "{\"model\":\"ipw-router\",\"messages\":[{\"role\":\"user\",\"content\":\"$SECRET_WORD again $LONG\"}]}" \
	"$R/v1/chat/completions" >/dev/null
grep -qi '^x-ipw-tier: local' "$TMP/h4" || fail "session not sticky: $(cat "$TMP/h4")"
curl -s -D "$TMP/h5" -d "{\"model\":\"ipw-router\",\"ipw\":{\"privacy\":\"local-only\"},\"messages\":[{\"role\":\"user\",\"content\":\"$SECRET_WORD body $LONG\"}]}" \
	"$R/v1/chat/completions" >/dev/null
grep -qi '^x-ipw-tier: local' "$TMP/h5" || fail "body privacy: $(cat "$TMP/h5")"
curl -s "$LOCAL/x/last-request" | grep -q '"ipw"' && fail "the ipw body extension was forwarded"
curl -s "$CLOUD/x/last-request" | grep -q "$SECRET_WORD" && fail "a local-only request reached the cloud"
# fallback: a refused connection (retried once) then the next tier
curl -s -D "$TMP/h7" -H 'x-ipw-tier: down' -d '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" >/dev/null
grep -qi '^x-ipw-tier: local' "$TMP/h7" || fail "fallback from down: $(cat "$TMP/h7")"
ID=$(grep -i '^x-ipw-request-id:' "$TMP/h7" | tr -d '\r' | cut -d' ' -f2)
curl -s "$R/v1/ipw/requests/$ID" >"$TMP/rec7"
python3 - "$TMP/rec7" <<'PY' || fail "fallback attempts: $(cat "$TMP/rec7")"
import json, sys
r = json.load(open(sys.argv[1]))
assert [(a["tier"], a["outcome"]) for a in r["attempts"]] == [("down", "connect"), ("down", "connect"), ("local", "ok")], r
PY
# HTTP 500 twice at the flaky tier, then local
curl -s -D "$TMP/h8" -d '{"model":"ipw-router:tier:flaky","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" >"$TMP/s8"
grep -qi '^x-ipw-tier: local' "$TMP/h8" || fail "fallback from 500: $(cat "$TMP/h8")"
grep -q 'data: \[DONE\]' "$TMP/s8" || fail "fallback stream incomplete"
# a 4xx is the client's: passed on, not retried
expect_eq "404 passed on" "$(curl -s -o /dev/null -w '%{http_code}' \
	-d '{"model":"ipw-router:tier:missing","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 404
# nothing left: every tier allowed fails; local-only never falls back to the cloud
cat >"$TMP/dead.json" <<EOF
{"tiers":[{"name":"a","url":"$DOWN","model":"m"},{"name":"b","url":"$LOCAL","model":"fake-500"},
 {"name":"c","url":"$CLOUD","model":"big","cloud":true}],"retries":0}
EOF
MAIN_R=$R MAIN_PID=$RPID
start_router dead "$TMP/dead.json"
D=$R R=$MAIN_R RPID=$MAIN_PID
curl -s -o "$TMP/b9" -w '%{http_code}' -H 'x-ipw-privacy: local-only' \
	-d "{\"model\":\"ipw-router\",\"messages\":[{\"role\":\"user\",\"content\":\"$SECRET_WORD\"}]}" \
	"$D/v1/chat/completions" >"$TMP/code9"
expect_eq "nothing left" "$(cat "$TMP/code9")" 502
grep -q 'no tier could answer: a connect; b http_500"' "$TMP/b9" || fail "nothing-left message: $(cat "$TMP/b9")"
curl -s "$CLOUD/x/last-request" | grep -q "$SECRET_WORD" && fail "a local-only request reached the cloud"
curl -s -D "$TMP/h9" -o /dev/null -d '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' "$D/v1/chat/completions"
grep -qi '^x-ipw-tier: c' "$TMP/h9" || fail "local down -> cloud: $(cat "$TMP/h9")"

# an upstream reset mid-stream: the client's stream ends with an error event
curl -sN -d '{"model":"ipw-router:tier:reset","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" >"$TMP/s10"
grep -q '"type":"upstream_error"' "$TMP/s10" || fail "reset: no error event: $(cat "$TMP/s10")"
tail -2 "$TMP/s10" | grep -q 'data: \[DONE\]' || fail "reset: stream not ended"

# a client that hangs up cancels its upstream
curl -sN --max-time 1 -d '{"model":"ipw-router:tier:stall","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" >/dev/null 2>&1
i=0
until curl -s "$R/metrics" | grep -q '^ipw_router_cancelled_total 1$'; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "hang-up not seen: $(curl -s "$R/metrics" | grep cancel)"
	sleep 0.05
done
curl -s "$R/metrics" | grep -q '^ipw_router_inflight{tier="stall"} 0$' || fail "stall upstream not cancelled"

# a client that never reads does not stall the others
python3 - "$(cat "$TMP/router.port")" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
body = b'{"model":"ipw-router:tier:huge","stream":true,"messages":[{"role":"user","content":"x"}]}'
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
time.sleep(8)
PY
SLOWPID=$!
SERVER_PIDS="$SERVER_PIDS $SLOWPID"
i=0
until curl -s "$R/metrics" | grep -q '^ipw_router_inflight{tier="huge"} 1$'; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the non-reading client's request never started"
	sleep 0.05
done
curl -s --max-time 5 -d '{"model":"ipw-router:tier:local","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" | grep -q 'data: \[DONE\]' || fail "a non-reading client stalled another"
kill "$SLOWPID" 2>/dev/null

# cascade: local first; a refusal or an answer without a digit escalates, both attempts counted
curl -s -D "$TMP/h11" -d '{"model":"ipw-router:cascade","messages":[{"role":"user","content":"SAY: the answer is 42"}]}' \
	"$R/v1/chat/completions" >/dev/null
grep -qi '^x-ipw-tier: local' "$TMP/h11" || fail "cascade: rules fallback picked: $(cat "$TMP/h11")"
cat >"$TMP/cascade.json" <<EOF
{"tiers":[{"name":"say","url":"$LOCAL","model":"fake-say","joules_per_token":0.25},
 {"name":"cloud","url":"$CLOUD","model":"big","cloud":true,"price":{"input":1,"output":10}}],
 "policy":"cascade","cascade":{"min_chars":1,"pattern":"[0-9]"}}
EOF
"$IPW" route serve --config "$TMP/cascade.json" --no-record --port-file "$TMP/c.port" >"$TMP/casc.log" 2>&1 &
SERVER_PIDS="$SERVER_PIDS $!"
i=0; while [ ! -s "$TMP/c.port" ]; do i=$((i + 1)); [ $i -gt 100 ] && fail "cascade router"; sleep 0.05; done
C="http://127.0.0.1:$(cat "$TMP/c.port")"
curl -s -D "$TMP/h12" -d '{"model":"ipw-router","stream":true,"messages":[{"role":"user","content":"SAY: it is 42"}]}' \
	"$C/v1/chat/completions" >"$TMP/s12"
grep -qi '^x-ipw-tier: say' "$TMP/h12" || fail "cascade kept: $(cat "$TMP/h12")"
grep -q '"content":"42' "$TMP/s12" || fail "cascade answer: $(cat "$TMP/s12")"
for q in "SAY: I'm sorry, no" "SAY: no digits here"; do
	curl -s -D "$TMP/h13" -d "{\"model\":\"ipw-router\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$q\"}]}" \
		"$C/v1/chat/completions" >"$TMP/s13"
	grep -qi '^x-ipw-tier: cloud' "$TMP/h13" || fail "cascade did not escalate '$q': $(cat "$TMP/h13")"
	python3 - "$TMP/s13" <<'PY' || fail "cascade record: $(cat "$TMP/s13")"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
rec = [json.loads(l[6:]) for l in lines if l.startswith(": ipw ")]
assert len(rec) == 1, "one comment: the escalated stream's"
r = rec[0]
assert [a["outcome"] for a in r["attempts"]] == ["rejected", "ok"], r
assert r["attempts"][0]["energy_j"] > 0 and r["attempts"][1]["cost_usd"] > 0, r
assert r["completion_tokens"] == r["attempts"][0]["completion_tokens"] + 7, r
# the rejected answer never reached the client
assert not any("sorry" in l or "digits" in l for l in lines if l.startswith("data: ")), lines
PY
done

# latency: once the slow tier's TTFT is known (>= 300 ms), a 100 ms limit routes around it
curl -s -d '{"model":"ipw-router:tier:slow","stream":true,"messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions" >/dev/null
curl -s -D "$TMP/h14" -H 'x-ipw-max-ttft-ms: 100' \
	-d '{"model":"ipw-router:tier:slow","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions" >/dev/null
grep -qi '^x-ipw-tier: local' "$TMP/h14" || fail "latency limit: $(cat "$TMP/h14")"
grep -qi 'skipped slow: latency' "$TMP/h14" || fail "latency reason: $(cat "$TMP/h14")"

# /metrics
curl -s "$R/metrics" >"$TMP/metrics"
grep -q '^ipw_router_requests_total{tier="cloud",outcome="ok"} 1$' "$TMP/metrics" || fail "metrics cloud: $(grep cloud "$TMP/metrics")"
grep -q '^ipw_router_energy_joules_total{tier="local",method="estimated"}' "$TMP/metrics" || fail "metrics energy"
grep -q '^ipw_router_ttft_seconds_bucket{tier="slow",le="0.25"} 0$' "$TMP/metrics" && grep -q '^ipw_router_ttft_seconds_bucket{tier="slow",le="+Inf"} 1$' "$TMP/metrics" || fail "ttft histogram"
grep -q '^ipw_router_requests_total{tier="flaky",outcome="retried"} 1$' "$TMP/metrics" || fail "retries"
grep -q '^ipw_router_decisions_total{policy="rules",tier="local"}' "$TMP/metrics" || fail "decisions"

# the router run: one query row per routed request, recorded when it ended
kill -TERM "$RPID"; wait "$RPID"
expect_eq "router exit" $? 0
"$IPW" runs --store "$TMP/ipw.db" --json >"$TMP/runs.json"
python3 - "$TMP/runs.json" <<'PY' || fail "router run: $(cat "$TMP/runs.json")"
import json, sys
runs = json.load(open(sys.argv[1]))
runs = runs if isinstance(runs, list) else runs.get("runs", runs)
r = [x for x in runs if x.get("model") == "ipw-router"]
assert len(r) == 1 and r[0]["status"] == "completed", runs
PY
"$IPW" export last --store "$TMP/ipw.db" --format jsonl >"$TMP/rows.jsonl" || fail "export the router run"
python3 - "$TMP/rows.jsonl" <<'PY' || fail "router rows: $(head -c 2000 "$TMP/rows.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) >= 15, len(rows)
PY
echo "router_serve: ok"
