#!/bin/sh
# Built-in engine vs llama.cpp on the same random-weight GGUF and thread count:
# prefill and decode tokens/s and peak RSS, printed with ratios (engine / llama.cpp).
# Usage: bench/engine_bench.sh [TYPE (q8_0)] [THREADS (1)] [N_PROMPT (128)] [N_GEN (64)]
# Needs build/fakes/engine_dump (make fakes) and llama-server (scripts/build-llama-server.sh).
set -eu
TYPE=${1:-q8_0}; THREADS=${2:-1}; NP=${3:-128}; NG=${4:-64}
CACHE=${IPW_LLAMA_CACHE:-/var/cache/ipw-llama}
SERVER=${IPW_LLAMA_SERVER:-$CACHE/build/bin/llama-server}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DUMP=${IPW_BUILD:-$ROOT/build}/fakes/engine_dump
PY=/usr/bin/python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$PY" "$ROOT/scripts/make-test-gguf.py" --arch llama --type "$TYPE" --tok spm --dim 1024 --layers 8 --ff 2816 \
	--heads 16 --kv-heads 4 --ctx 1024 "$TMP/m.gguf" >/dev/null 2>&1
"$PY" - "$SERVER" "$DUMP" "$TMP/m.gguf" "$THREADS" "$NP" "$NG" <<'PYEOF'
import json, os, socket, subprocess, sys, time, urllib.request
server, dump, model, th, np_, ng = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
# ours
p = subprocess.Popen([dump, model, "bench", str(np_), str(ng), th], stdout=subprocess.PIPE)
out = p.stdout.read()
_, status, ru = os.wait4(p.pid, 0)
ours = json.loads(out)
ours_rss = ru.ru_maxrss / 1024.0
# llama.cpp
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
srv = subprocess.Popen([server, "-m", model, "--host", "127.0.0.1", "--port", str(port), "-c", "1024", "-np", "1",
                        "-t", th, "-tb", th], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(600):
        try:
            if urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1).status == 200:
                break
        except Exception:
            time.sleep(0.2)
    toks = [(i * 7919 + 13) % 300 + 3 for i in range(np_)]
    body = {"prompt": toks, "n_predict": ng, "temperature": 0, "ignore_eos": True, "cache_prompt": False}
    req = urllib.request.Request("http://127.0.0.1:%d/completion" % port, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    t = json.load(urllib.request.urlopen(req, timeout=600))["timings"]
    rss = 0.0
    for line in open("/proc/%d/status" % srv.pid):
        if line.startswith("VmHWM:"):
            rss = int(line.split()[1]) / 1024.0
finally:
    srv.terminate(); srv.wait()
print("model: llama dim 1024, 8 layers, ff 2816, 16/4 heads, %s; %s thread(s); %d prompt + %d generated tokens"
      % (os.path.basename(model), th, np_, ng))
print("%-10s %12s %12s %10s" % ("", "prefill t/s", "decode t/s", "peak MiB"))
print("%-10s %12.1f %12.1f %10.1f" % ("engine", ours["prefill_tps"], ours["decode_tps"], ours_rss))
print("%-10s %12.1f %12.1f %10.1f" % ("llama.cpp", t["prompt_per_second"], t["predicted_per_second"], rss))
print("%-10s %12.2f %12.2f %10.2f" % ("ratio", ours["prefill_tps"] / t["prompt_per_second"],
                                       ours["decode_tps"] / t["predicted_per_second"], ours_rss / rss if rss else 0))
PYEOF
