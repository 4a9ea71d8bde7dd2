#!/bin/sh
# `ipw route serve` limits: client bearer tokens (401 without one, the token never echoed),
# the request size limit (413), a tier key from the environment sent upstream and never shown
# to the client, the cost budget per client key (past it: local, or refused with 429), and a
# missing key variable refused at start; keys and URL credentials never in the store or the log.
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm local --tokens 4 --model small; LOCAL=$URL
start_fakellm cloud --tokens 10 --model big; CLOUD=$URL
export ROUTER_TOKENS="tok-alpha-123456,tok-beta-654321,tok-gamma-777777"
export CLOUD_KEY="sk-cloud-secret-0123456789"
CREDURL="http://routeruser:pw-url-secret-98765@${LOCAL#http://}" # credentials in a tier's URL

write_config() { # OVER
	printf '%s\n' "{\"tiers\": [" \
		"  {\"name\": \"local\", \"url\": \"$LOCAL\", \"model\": \"small\"}," \
		"  {\"name\": \"urlcred\", \"url\": \"$CREDURL\", \"model\": \"small\"}," \
		"  {\"name\": \"echokey\", \"url\": \"$CLOUD\", \"model\": \"fake-echo_key\", \"cloud\": true," \
		"   \"api_key_env\": \"CLOUD_KEY\"}," \
		"  {\"name\": \"echo\", \"url\": \"$CLOUD\", \"model\": \"fake-echo_auth\", \"cloud\": true," \
		"   \"api_key_env\": \"CLOUD_KEY\"}," \
		"  {\"name\": \"cloud\", \"url\": \"$CLOUD\", \"model\": \"big\", \"cloud\": true," \
		"   \"api_key_env\": \"CLOUD_KEY\", \"price\": {\"input\": 100, \"output\": 100}}]," \
		" \"client_tokens_env\": \"ROUTER_TOKENS\", \"max_body_bytes\": 400," \
		" \"budget\": {\"usd\": 0.001, \"window_s\": 3600, \"over\": \"$1\", \"max_clients\": 2}}" >"$TMP/router.json"
}

write_config refuse
start_router router "$TMP/router.json"
AUTH='Authorization: Bearer tok-alpha-123456'
expect_eq "health needs no token" "$(curl -s -o /dev/null -w '%{http_code}' "$R/health")" 200
expect_eq "no token" "$(curl -s -o /dev/null -w '%{http_code}' "$R/v1/models")" 401
expect_eq "wrong token" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$R/v1/models")" 401
expect_eq "good token" "$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$R/v1/models")" 200
# headers: 8 KB pass; past the connection's 16 KiB (ROUTER_CONN_MEMORY) the server says 431
expect_eq "8 KB header" "$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -H "x-pad: $(python3 -c 'print("p" * 8000)')" \
	"$R/v1/models")" 200
expect_eq "20 KB header" "$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" -H "x-pad: $(python3 -c 'print("p" * 20000)')" \
	"$R/v1/models")" 431
BIG=$(python3 -c 'print("x" * 600)')
expect_eq "body limit" "$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" \
	-d "{\"model\":\"ipw-router\",\"messages\":[{\"role\":\"user\",\"content\":\"$BIG\"}]}" "$R/v1/chat/completions")" 413

# the cloud tier echoes the Authorization header it received: the key went upstream, and the
# client sees it redacted; the client's own token never goes upstream
curl -s -H "$AUTH" -D "$TMP/h1" -d '{"model":"ipw-router:tier:echo","messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions" >"$TMP/b1"
grep -q 'sk-cloud-secret' "$TMP/b1" "$TMP/h1" "$TMP/router.log" && fail "the tier key reached the client or the log"
grep -q 'redacted' "$TMP/b1" || fail "the echoed key should be redacted: $(cat "$TMP/b1")"
grep -q 'tok-alpha' "$TMP/b1" && fail "the client token went upstream"

# budget: 100 USD per 1M tokens; the first cloud answer (3 + 1 prompt + 10 completion tokens) costs
# 0.0014 USD > 0.001, so the next cloud request of this client is refused; another client is not
curl -s -o /dev/null -H "$AUTH" -d '{"model":"ipw-router:tier:cloud","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions"
expect_eq "over budget: refused" "$(curl -s -o "$TMP/b2" -w '%{http_code}' -H "$AUTH" \
	-d '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 429
grep -q 'cost budget' "$TMP/b2" || fail "budget message: $(cat "$TMP/b2")"
expect_eq "over budget: local still served" "$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" \
	-d '{"model":"ipw-router:tier:local","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 200
expect_eq "another client's budget" "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok-beta-654321' \
	-d '{"model":"ipw-router:tier:cloud","stream":true,"messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 200
# the budget table holds 2 client keys (alpha and beta, live windows): a third client is over
# budget (fails closed): its cloud request is refused with a clear error, its local one served
GAMMA='Authorization: Bearer tok-gamma-777777'
expect_eq "budget table full: refused" "$(curl -s -o "$TMP/b3" -w '%{http_code}' -H "$GAMMA" \
	-d '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 429
grep -q 'budget table is full (2 client keys' "$TMP/b3" || fail "budget table message: $(cat "$TMP/b3")"
expect_eq "budget table full: local served" "$(curl -s -o /dev/null -w '%{http_code}' -H "$GAMMA" \
	-d '{"model":"ipw-router:tier:local","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 200
kill "$RPID"; wait "$RPID" 2>/dev/null

write_config local
start_router router "$TMP/router.json"
curl -s -o /dev/null -H "$AUTH" -d '{"model":"ipw-router:tier:cloud","stream":true,"messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions"
curl -s -o /dev/null -D "$TMP/h3" -H "$AUTH" -d '{"model":"ipw-router:tier:cloud","messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions"
grep -qi '^x-ipw-tier: local' "$TMP/h3" || fail "over budget should go local: $(cat "$TMP/h3")"
grep -qi 'skipped cloud: budget' "$TMP/h3" || fail "budget reason: $(cat "$TMP/h3")"
kill "$RPID"; wait "$RPID" 2>/dev/null

# keys are never stored: a recorded run with the echoing tier and the tier whose URL has
# credentials; neither the key nor the URL's password is in the store file, its export or the log
write_config local
start_router router "$TMP/router.json" --store "$TMP/r.db"
curl -s -o "$TMP/b4" -H "$AUTH" -d '{"model":"ipw-router:tier:echokey","messages":[{"role":"user","content":"x"}]}' \
	"$R/v1/chat/completions"
grep -q 'your key is Bearer \[redacted\]' "$TMP/b4" || fail "echokey answer: $(cat "$TMP/b4")"
expect_eq "tier with URL credentials" "$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" \
	-d '{"model":"ipw-router:tier:urlcred","messages":[{"role":"user","content":"x"}]}' "$R/v1/chat/completions")" 200
kill "$RPID"; wait "$RPID" 2>/dev/null
grep -q 'tier urlcred: local http://127.0.0.1:' "$TMP/router.log" || fail "the URL shown without credentials: $(cat "$TMP/router.log")"
"$IPW" export last --store "$TMP/r.db" --format jsonl >"$TMP/rows.jsonl" || fail "export the router run"
expect_eq "rows recorded" "$(wc -l <"$TMP/rows.jsonl" | tr -d ' ')" 2
grep -q '"answer":"your key is Bearer \[redacted\]' "$TMP/rows.jsonl" || fail "the stored echo should be redacted: $(cat "$TMP/rows.jsonl")"
for f in "$TMP/r.db" "$TMP/rows.jsonl" "$TMP/router.log"; do
	grep -qa 'sk-cloud-secret' "$f" && fail "the tier key is in $f"
	grep -qa 'pw-url-secret' "$f" && fail "the tier URL's password is in $f"
done
"$IPW" runs --store "$TMP/r.db" --json | grep -q 'pw-url-secret' && fail "the URL's password in the run"

unset CLOUD_KEY
"$IPW" route serve --config "$TMP/router.json" --no-record 2>"$TMP/err"
expect_eq "missing key variable" $? 4
grep -q 'CLOUD_KEY is not set' "$TMP/err" || fail "missing key message: $(cat "$TMP/err")"
echo "router_limits: ok"
