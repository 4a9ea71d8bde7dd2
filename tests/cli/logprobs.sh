#!/bin/sh
# --logprobs: the OpenAI request asks for "logprobs": true, each query records the sum of the
# returned token log-probabilities (nats) and how many tokens they cover, export gives them
# with the perplexity exp(-sum/n), show prints the run's perplexity; without --logprobs (or
# when the server returns none) they are not measured (empty / null), never 0.
# fakellm's log-probabilities (tests/fakes/bin_fakellm.c): -(i % 5 + 1)/8 nats for token i,
# -4 for each token in the lowconf scenario.
set -u
. "$IPW_TESTS/cli/lib/common.sh"
COMMON="--idle-seconds 0 --backends none --no-host --warmup 0 --api openai"
DB="$TMP/r.db"

start_fakellm lp --tokens 300
# 7 output tokens each (random:out=7 asks ignore_eos): sum = -(1+2+3+4+5+1+2)/8 = -2.25 nats
$IPW profile --url "$URL" --dataset random:in=5,out=7,n=2,seed=1 --store "$DB" --name lp --logprobs $COMMON \
	>"$TMP/out" 2>"$TMP/err" || fail "profile exited $?: $(cat "$TMP/err")"
curl -s "$URL/x/last-request" | grep -q '"logprobs": *true' || fail "the request did not ask for logprobs"
$IPW export lp --format csv --store "$DB" >"$TMP/lp.csv" || fail "export"
expect_eq "sums" "$(csv_query "$TMP/lp.csv" '[float(r["logprob_sum"]) for r in rows]')" "[-2.25, -2.25]"
expect_eq "tokens" "$(csv_query "$TMP/lp.csv" '[r["logprob_tokens"] for r in rows]')" "['7', '7']"
expect_eq "perplexity" "$(csv_query "$TMP/lp.csv" 'all(abs(float(r["perplexity"]) - 1.3790965) < 1e-6 for r in rows)')" True
$IPW show lp --json --store "$DB" >"$TMP/show.json" || fail "show --json"
python3 - "$TMP/show.json" <<'PY' || fail "show --json perplexity: $(cat "$TMP/show.json" | head -c 2000)"
import json, math, sys
p = json.load(open(sys.argv[1]))["perplexity"]
assert p["queries_with_logprobs"] == 2 and p["logprob_tokens"] == 14, p
assert p["logprob_sum_nats"] == -4.5, p
want = math.exp(2.25 / 7)  # (show --json prints 10 digits) each query's, and the pooled exp(4.5 / 14) is the same
assert abs(p["perplexity_mean"] - want) < 1e-9 and abs(p["perplexity_pooled"] - want) < 1e-9, p
# --backends none: no energy, so no perplexity per watt or joule (null, not 0)
assert p["queries_with_logprobs_and_energy"] == 0 and p["perplexity_per_w"] is None and p["perplexity_per_j"] is None, p
PY
$IPW show lp --store "$DB" | grep -q "perplexity       1.3791 mean per query" || fail "show: $($IPW show lp --store "$DB")"

# the lowconf scenario: -4 per token, perplexity e^4
$IPW profile --url "$URL" --model fake-lowconf --dataset random:in=5,out=3,n=1,seed=1 --store "$DB" --name low \
	--logprobs $COMMON >/dev/null 2>"$TMP/err" || fail "profile lowconf: $(cat "$TMP/err")"
$IPW export low --format csv --store "$DB" >"$TMP/low.csv" || fail "export low"
expect_eq "lowconf" "$(csv_query "$TMP/low.csv" '[(float(r["logprob_sum"]), r["logprob_tokens"], abs(float(r["perplexity"]) - 54.598150033) < 1e-8) for r in rows]')" "[(-12.0, '3', True)]"

# without --logprobs: not asked, not measured
$IPW profile --url "$URL" --dataset random:in=5,out=7,n=1,seed=1 --store "$DB" --name nolp $COMMON \
	>/dev/null 2>"$TMP/err" || fail "profile without logprobs: $(cat "$TMP/err")"
curl -s "$URL/x/last-request" | grep -q '"logprobs"' && fail "logprobs asked without --logprobs"
$IPW export nolp --format csv --store "$DB" >"$TMP/no.csv" || fail "export nolp"
expect_eq "not measured" "$(csv_query "$TMP/no.csv" '[(r["logprob_sum"], r["logprob_tokens"], r["perplexity"]) for r in rows]')" "[('', '', '')]"
$IPW show nolp --store "$DB" | grep -q "not measured     no query carries token log-probabilities" || fail "show nolp"

# ipw merge copies them
$IPW merge "$DB" --into "$TMP/m.db" >/dev/null 2>"$TMP/err" || fail "merge: $(cat "$TMP/err")"
$IPW export lp --format csv --store "$TMP/m.db" >"$TMP/m.csv" || fail "export merged"
expect_eq "merged sums" "$(csv_query "$TMP/m.csv" '[(float(r["logprob_sum"]), r["logprob_tokens"]) for r in rows]')" "[(-2.25, '7'), (-2.25, '7')]"
echo ok
