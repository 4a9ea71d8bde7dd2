#!/bin/sh
# Four event loops (threads) sharing the router's state: requests on separate connections, which any
# loop may accept, are all served, counted once and stored once; a request's record can be looked
# up as soon as its reply ends, whichever loop serves the lookup; a session made local-only on one
# connection stays local on every other (the cloud tier's own count of chat requests does not move);
# /metrics gives each loop's requests, which sum to all of them; a stream still ends with its record's
# comment and then [DONE], nothing between. What each loop took is left to the
# scheduler and not asserted: only what holds for any split is.
set -u
. "$IPW_TESTS/cli/lib/common.sh"

start_fakellm local --tokens 4 --ttft-ms 30 --token-delay-ms 5 --model small
LOCAL=$URL
start_fakellm cloud --tokens 4 --ttft-ms 30 --token-delay-ms 5 --model big
CLOUD=$URL
cat >"$TMP/router.json" <<EOF2
{"threads": 4,
 "tiers": [{"name": "local", "url": "$LOCAL", "model": "small"},
           {"name": "cloud", "url": "$CLOUD", "model": "big", "cloud": true, "price": {"input": 1, "output": 2}}]}
EOF2
start_router loops "$TMP/router.json" --store "$TMP/loops.db"
grep -q "(4 event loops)" "$TMP/loops.log" || fail "banner: $(head -1 "$TMP/loops.log")"

python3 - "$R" "$CLOUD" <<'PY' || fail "concurrent requests on four loops"
import json, sys, threading, urllib.request
R, CLOUD = sys.argv[1], sys.argv[2]

def cloud_chats():
    return json.load(urllib.request.urlopen(CLOUD + "/x/stats"))["chat_answered"]

def chat(model, headers=None, stream=True):
    body = json.dumps({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}).encode()
    req = urllib.request.Request(R + "/v1/chat/completions", body, {"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req) as resp:   # a new connection each time
        return resp.status, dict(resp.headers), resp.read().decode()

errors = []
def run(n, fn):
    ts = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()

# a session made local-only on one connection ...
st, h, _ = chat("ipw-router:tier:local", {"x-ipw-privacy": "local-only", "x-ipw-session": "s-loops"})
assert st == 200 and h["x-ipw-tier"] == "local", h
before = cloud_chats()
# ... stays local on 32 others at once, though they name the cloud tier
def private(i):
    try:
        st, h, text = chat("ipw-router:tier:cloud", {"x-ipw-session": "s-loops"})
        if st != 200 or h.get("x-ipw-tier") != "local" or "data: [DONE]" not in text:
            errors.append(("private", i, st, h.get("x-ipw-tier"), h.get("x-ipw-reason")))
    except Exception as e:
        errors.append(("private", i, repr(e)))
run(32, private)
assert not errors, errors[:5]
assert cloud_chats() == before, (before, cloud_chats())

# 64 at once, half to each tier; each looks its record up the moment its reply has ended
def one(i):
    tier = "local" if i % 2 else "cloud"
    try:
        stream = bool(i % 4 < 2)
        st, h, text = chat("ipw-router:tier:" + tier, stream=stream)
        rid = h["x-ipw-request-id"]
        # a stream ends with the record's comment, then [DONE] (both written after the loop's ready I/O)
        end = text.rsplit("\n: ipw ", 1)
        if stream and (len(end) != 2 or not end[1].endswith("}\n\ndata: [DONE]\n\n") or "\n\n\n" in text or
                       json.loads(end[1].split("\n", 1)[0])["request_id"] != rid):
            errors.append(("end of stream", i, text[-300:]))
        with urllib.request.urlopen(R + "/v1/ipw/requests/" + rid) as resp:
            rec = json.load(resp)
        if st != 200 or h.get("x-ipw-tier") != tier or rec["request_id"] != rid or rec["tier"] != tier or \
           rec["outcome"] != "ok":
            errors.append(("one", i, st, h.get("x-ipw-tier"), rec))
        # the record looked up (as published, or as the finished request's accounting left it) is the
        # closing comment's
        if stream and len(end) == 2 and json.loads(end[1].split("\n", 1)[0]) != rec:
            errors.append(("comment and lookup differ", i, end[1][:300], rec))
    except Exception as e:
        errors.append(("one", i, repr(e)))
run(64, one)
assert not errors, errors[:5]

m = urllib.request.urlopen(R + "/metrics").read().decode()
def metric(line):
    for l in m.splitlines():
        if l.startswith(line + " "):
            return int(float(l.split()[-1]))
    return None
assert metric('ipw_router_requests_total{tier="local",outcome="ok"}') == 1 + 32 + 32, m
assert metric('ipw_router_requests_total{tier="cloud",outcome="ok"}') == 32, m
assert metric('ipw_router_decisions_total{policy="tier",tier="local"}') == 1 + 32 + 32, m
assert metric('ipw_router_decisions_total{policy="tier",tier="cloud"}') == 32, m
loops = [metric('ipw_router_loop_requests_total{loop="%d"}' % k) for k in range(4)]
assert None not in loops and sum(loops) == 97, loops
assert metric('ipw_router_loop_requests_total{loop="4"}') is None, m
print("per loop", loops)
PY
kill "$RPID"; wait "$RPID" 2>/dev/null
python3 - "$TMP/loops.db" <<'PY' || fail "the router run's rows"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT q.seq, q.status, q.extra_json FROM queries q JOIN runs r ON r.id = q.run_id"
                  " WHERE r.model = 'ipw-router' ORDER BY q.seq").fetchall()
assert len(rows) == 97, len(rows)
assert [r[0] for r in rows] == sorted(set(r[0] for r in rows)), "seq not unique"
ids = [json.loads(r[2])["request_id"] for r in rows]
assert len(set(ids)) == 97, "a request stored twice"
assert all(r[1] == "ok" for r in rows), [r[1] for r in rows]
tiers = [json.loads(r[2])["tier"] for r in rows]
assert tiers.count("local") == 65 and tiers.count("cloud") == 32, tiers
PY
echo "router_loops: ok"
