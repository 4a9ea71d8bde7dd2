#!/bin/sh
# `ipw route serve`, the cascade policy: a local tier that returns no log-probabilities (fakellm's
# nologprobs scenario) is neither rejected by the log-probability check nor a crash, and the
# decision reason says the check was skipped; a failed escalation (cloud down, or a 4xx) returns
# the held local answer, flagged, instead of a 502.
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm local --tokens 5 --model small; LOCAL=$URL
start_fakellm cloud --tokens 7 --model big; CLOUD=$URL

# no log-probabilities: fakellm would give 5 tokens a mean of -(1+2+3+4+5)/40 = -0.375 nats,
# below -0.1, had it returned them; it returns none, so the answer is kept
cat >"$TMP/nolp.json" <<EOF2
{"tiers":[{"name":"nl","url":"$LOCAL","model":"fake-nologprobs"},
 {"name":"cloud","url":"$CLOUD","model":"big","cloud":true}],
 "policy":"cascade","cascade":{"min_chars":1,"logprob_min":-0.1}}
EOF2
start_router nolp "$TMP/nolp.json"
curl -s -D "$TMP/h1" -d '{"model":"ipw-router","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" >"$TMP/s1" || fail "streamed cascade request"
grep -qi '^x-ipw-tier: nl' "$TMP/h1" || fail "no logprobs: escalated: $(cat "$TMP/h1")"
grep -qi '^x-ipw-reason: cascade: local first; log-probability check skipped: nl returned no log-probabilities' \
	"$TMP/h1" || fail "no logprobs: reason: $(cat "$TMP/h1")"
python3 - "$TMP/s1" <<'PY' || fail "no logprobs stream: $(cat "$TMP/s1")"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert [l for l in lines if l][-1] == "data: [DONE]", lines[-3:]
assert lines.index([l for l in lines if l.startswith(": ipw ")][0]) < lines.index("data: [DONE]")
data = [json.loads(l[6:]) for l in lines if l.startswith("data: {")]
text = "".join(c["choices"][0]["delta"].get("content", "") for c in data if c["choices"])
assert text == "t0 t1 t2 \u00e93 t4 ", text
assert not any("logprobs" in c["choices"][0] for c in data if c["choices"]), "fakellm sent logprobs"
rec = [json.loads(l[6:]) for l in lines if l.startswith(": ipw ")][0]
assert [a["outcome"] for a in rec["attempts"]] == ["ok"], rec
assert rec["logprob_check"] == "not available (nl returned no log-probabilities)", rec
PY
curl -s -D "$TMP/h2" -d '{"model":"ipw-router","messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" >"$TMP/b2" || fail "whole cascade request"
grep -qi '^x-ipw-tier: nl' "$TMP/h2" || fail "no logprobs (whole): escalated: $(cat "$TMP/h2")"
grep -qi 'log-probability check skipped' "$TMP/h2" || fail "no logprobs (whole): reason: $(cat "$TMP/h2")"
ID=$(grep -i '^x-ipw-request-id:' "$TMP/h2" | tr -d '\r' | cut -d' ' -f2)
curl -s "$R/v1/ipw/requests/$ID" | grep -q '"logprob_check":"not available (nl returned no log-probabilities)"' ||
	fail "no logprobs (whole): record: $(curl -s "$R/v1/ipw/requests/$ID")"
expect_eq "router alive" "$(curl -s "$R/health")" '{"status":"ok"}'

# escalation fails (the cloud tier is down, or refuses with a 4xx): the client gets the held local
# answer, flagged (x-ipw-verified: no, the reason, "verified": false), not a 502
DOWN="http://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$TMP/down.json" <<EOF2
{"tiers":[{"name":"say","url":"$LOCAL","model":"fake-say","joules_per_token":0.25},
 {"name":"cloud","url":"$DOWN","model":"big","cloud":true}],
 "policy":"cascade","cascade":{"min_chars":1,"pattern":"[0-9]"}}
EOF2
start_router down "$TMP/down.json"
for st in true false; do
	curl -s -D "$TMP/h3" -o "$TMP/b3" -w '%{http_code}\n' \
		-d "{\"model\":\"ipw-router\",\"stream\":$st,\"messages\":[{\"role\":\"user\",\"content\":\"SAY: no digits here\"}]}" \
		"$R/v1/chat/completions" >"$TMP/code3"
	expect_eq "escalation failed ($st): status" "$(cat "$TMP/code3")" 200
	grep -qi '^x-ipw-tier: say' "$TMP/h3" || fail "escalation failed ($st): tier: $(cat "$TMP/h3")"
	grep -qi '^x-ipw-verified: no' "$TMP/h3" || fail "escalation failed ($st): flag: $(cat "$TMP/h3")"
	grep -qi '^x-ipw-reason: cascade: local first; escalated: answer format; escalation failed (cloud connect, cloud connect): kept the unverified answer of say' \
		"$TMP/h3" || fail "escalation failed ($st): reason: $(cat "$TMP/h3")"
	python3 - "$TMP/b3" "$st" <<'PY' || fail "escalation failed ($st): body: $(cat "$TMP/b3")"
import json, sys
body, stream = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2] == "true"
if stream:
    lines = body.splitlines()
    data = [json.loads(l[6:]) for l in lines if l.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in data if c["choices"])
    rec = [json.loads(l[6:]) for l in lines if l.startswith(": ipw ")]
    assert len(rec) == 1 and [l for l in lines if l][-1] == "data: [DONE]", lines
    rec = rec[0]
    assert rec["verified"] is False and rec["tier"] == "say", rec
    assert [(a["tier"], a["outcome"]) for a in rec["attempts"]] == [("say", "rejected"), ("cloud", "connect"),
                                                                     ("cloud", "connect")], rec
    # 3 words said at 0.25 J/token; the refused connections cost nothing
    assert rec["energy_j"] == 0.75, rec
else:
    text = json.loads(body)["choices"][0]["message"]["content"]
assert text.strip() == "no digits here", text
PY
done
ID=$(grep -i '^x-ipw-request-id:' "$TMP/h3" | tr -d '\r' | cut -d' ' -f2)
curl -s "$R/v1/ipw/requests/$ID" | grep -q '"outcome":"ok".*"verified":false' ||
	fail "escalation failed: record: $(curl -s "$R/v1/ipw/requests/$ID")"
cat >"$TMP/c404.json" <<EOF2
{"tiers":[{"name":"say","url":"$LOCAL","model":"fake-say"},
 {"name":"cloud","url":"$CLOUD","model":"fake-404","cloud":true}],
 "policy":"cascade","cascade":{"min_chars":1,"pattern":"[0-9]"}}
EOF2
start_router c404 "$TMP/c404.json"
expect_eq "escalation refused (4xx): status" "$(curl -s -D "$TMP/h4" -o "$TMP/b4" -w '%{http_code}' \
	-d '{"model":"ipw-router","messages":[{"role":"user","content":"SAY: no digits here"}]}' "$R/v1/chat/completions")" 200
grep -qi 'escalation failed (cloud http_4xx): kept the unverified answer of say' "$TMP/h4" ||
	fail "escalation refused: reason: $(cat "$TMP/h4")"
grep -q '"content":"no digits here' "$TMP/b4" || fail "escalation refused: body: $(cat "$TMP/b4")"

echo "router_cascade: ok"
