#!/usr/bin/env python3
# Compares engine_dump's output with llama-server: token ids for every string (/tokenize),
# the greedy continuation and top log-probabilities (/completion, n_probs, pre-sampling probs).
# Usage: engine_compare.py URL STRINGS.json OURS.json GEN.json TOLERANCE LABEL
import json
import sys
import urllib.request

url, strings, ours, gen, tol, label = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), sys.argv[6]


def post(path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=120))


S = json.load(open(strings))
O = json.load(open(ours))
G = json.load(open(gen))
bad = 0
for s, o in zip(S, O):
    t = post("/tokenize", {"content": s, "add_special": False, "parse_special": True})["tokens"]
    if t != o:
        bad += 1
        if bad <= 3:
            print("%s: tokenize %r: llama.cpp %s, engine %s" % (label, s, t, o))
prompt = G["prompt"]
r = post("/completion", {"prompt": prompt, "n_predict": len(G["tokens"]), "n_probs": 3, "temperature": 0,
                         "post_sampling_probs": False, "return_tokens": True, "cache_prompt": False,
                         "samplers": ["top_k"], "top_k": 1, "ignore_eos": True})
same = r["tokens"] == G["tokens"]
maxd = 0.0
steps = 0
j = 0
for ref in r["completion_probabilities"]:
    # the server folds tokens that end inside a UTF-8 sequence into one entry: align by id
    while j < len(G["tokens"]) and G["tokens"][j] != ref["id"]:
        j += 1
    if j == len(G["tokens"]):
        break
    mine = G["top"][j]
    j += 1
    rl = [x["logprob"] for x in ref["top_logprobs"] if x["id"] == mine[0]["id"]]
    if not rl:
        break
    maxd = max(maxd, abs(rl[0] - mine[0]["logprob"]))
    steps += 1
distinct = len(set(G["tokens"]))
print("%s: tokenize %d/%d strings equal; greedy %d tokens (%d distinct) %s; top-token logprob max |diff| %.2e over %d steps (tol %g)"
      % (label, len(S) - bad, len(S), len(G["tokens"]), distinct, "identical" if same else "DIFFER", maxd, steps, tol))
if not same and bad == 0:
    print("  llama.cpp %s\n  engine    %s" % (r["tokens"][:20], G["tokens"][:20]))
# a continuation stuck on a few tokens would check little: the test models must not be degenerate
sys.exit(0 if bad == 0 and same and maxd <= tol and distinct >= 8 else 1)
