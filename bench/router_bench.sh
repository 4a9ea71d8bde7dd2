#!/bin/sh
# bench/router_bench.sh - what `ipw route serve` costs: the TTFT it adds (router minus direct,
# p50 and p99, same fake tier, same concurrency) at 1, 64 and 256 concurrent streams, tokens/s
# streamed through it with the router pinned to one core, and its memory per open stream (RSS
# with 256 stalled streams minus idle RSS, / 256). The router runs on core 0, the fake tiers on
# core 1 (taskset), the client wherever the scheduler puts it. Prints the numbers; results go to
# bench/RESULTS.md with this command. Usage: bench/router_bench.sh [BUILD] (default build).
set -eu
BUILD=${1:-build}
IPW="$BUILD/ipw"
FAKE="$BUILD/fakes/fakellm"
[ -x "$IPW" ] && [ -x "$FAKE" ] || { echo "build first: make && make fakes" >&2; exit 2; }
TMP=$(mktemp -d)
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; rm -rf "$TMP"' EXIT INT TERM

waitfile() { i=0; while [ ! -s "$1" ]; do i=$((i + 1)); [ $i -gt 200 ] && { echo "no $1" >&2; exit 1; }; sleep 0.05; done; }

taskset -c 1 "$FAKE" --port 0 --port-file "$TMP/f.port" --tokens 16 --lifetime-s 900 </dev/null >"$TMP/f.log" 2>&1 &
PIDS="$PIDS $!"
taskset -c 1 "$FAKE" --port 0 --port-file "$TMP/g.port" --tokens 4000 --lifetime-s 900 </dev/null >"$TMP/g.log" 2>&1 &
PIDS="$PIDS $!"
waitfile "$TMP/f.port"; waitfile "$TMP/g.port"
F=$(cat "$TMP/f.port"); G=$(cat "$TMP/g.port")
printf '{"tiers":[{"name":"fake","url":"http://127.0.0.1:%s","model":"m"},{"name":"long","url":"http://127.0.0.1:%s","model":"m"},{"name":"stall","url":"http://127.0.0.1:%s","model":"fake-stall"}]}\n' \
	"$F" "$G" "$F" >"$TMP/router.json"
taskset -c 0 "$IPW" route serve --config "$TMP/router.json" --no-record --port-file "$TMP/r.port" >"$TMP/r.log" 2>&1 &
RPID=$!
PIDS="$PIDS $RPID"
waitfile "$TMP/r.port"
R=$(cat "$TMP/r.port")

python3 - "$F" "$R" "$G" "$RPID" <<'PY'
import asyncio, json, statistics, sys, time
fport, rport, gport, rpid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def body(model):
    b = json.dumps({"model": model, "stream": True, "messages": [{"role": "user", "content": "x"}]}).encode()
    return b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(b), b)

async def one(port, model, stats, hold=None):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.perf_counter()
    w.write(body(model)); await w.drain()
    first, ntok = None, 0
    if hold is not None:
        await r.readline(); hold.append(w); await asyncio.sleep(3600); return
    while True:
        line = await r.readline()
        if not line:
            break
        if b'"content":"' in line and b'"content":""' not in line:
            ntok += 1
            if first is None:
                first = time.perf_counter() - t0
    w.close()
    stats.append((first, ntok))

def q(v, p):
    v = sorted(v); k = (len(v) - 1) * p; f = int(k); c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)

async def ttft(port, model, n, total):
    out = []
    while len(out) < total:
        await asyncio.gather(*(one(port, model, out) for _ in range(n)))
    return [x[0] for x in out if x[0] is not None]

async def main():
    print("TTFT added by the router (fake tier: 16 tokens, no delay; router on core 0, fake tiers on core 1), ms")
    print("streams  direct p50  router p50  added p50  direct p99  router p99  added p99  samples")
    for n, total in ((1, 300), (64, 640), (256, 1024)):
        d = await ttft(fport, "m", n, total)
        rt = await ttft(rport, "ipw-router:tier:fake", n, total)
        m = lambda v, p: 1000 * q(v, p)
        print(f"{n:7d}  {m(d,.5):10.3f}  {m(rt,.5):10.3f}  {m(rt,.5)-m(d,.5):9.3f}  {m(d,.99):10.3f}  {m(rt,.99):10.3f}  {m(rt,.99)-m(d,.99):9.3f}  {len(rt)}")
    for n in (1, 8):
        out = []
        t0 = time.perf_counter()
        await asyncio.gather(*(one(rport, "ipw-router:tier:long", out) for _ in range(n)))
        dt = time.perf_counter() - t0
        tok = sum(x[1] for x in out)
        out2 = []
        t0 = time.perf_counter()
        await asyncio.gather(*(one(gport, "m", out2) for _ in range(n)))
        dt2 = time.perf_counter() - t0
        print(f"tokens/s through the router on one core, {n} streams of 4000 tokens: {tok/dt:.0f} (direct: {sum(x[1] for x in out2)/dt2:.0f})")
    def rss():
        for l in open(f"/proc/{rpid}/status"):
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    before = rss()
    held = []
    tasks = [asyncio.ensure_future(one(rport, "ipw-router:tier:stall", [], held)) for _ in range(256)]
    while len(held) < 256:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    after = rss()
    print(f"memory per open stream: {(after-before)/256:.1f} KiB (RSS {before} KiB idle, {after} KiB with 256 stalled streams)")
    for t in tasks:
        t.cancel()
    for w in held:
        w.close()

asyncio.run(main())
PY
