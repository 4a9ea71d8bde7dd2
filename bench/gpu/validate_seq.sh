#!/bin/sh
# Sequential identical requests of ~2 s against bench/gpu/server.py (issue 5's
# target: per-query energy CV <= 2% for identical requests of >= 1 s), with the
# default NVML read policy and with the counter read at every sample. Needs .gpu/.
set -u
sh "$(dirname "$0")/unpack.sh" || exit 1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.gpu/lib"
PORT=8012
DB="$OUT/seq.db"
rm -f "$DB"*
python3 bench/gpu/server.py --port $PORT --max-batch 8 --max-seq 4096 >"$OUT/seq-server.log" 2>&1 &
S=$!
trap 'kill $S 2>/dev/null' EXIT
until python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:'$PORT'/health", timeout=2)' 2>/dev/null; do
	kill -0 $S 2>/dev/null || { tail "$OUT/seq-server.log"; exit 1; }
	sleep 0.5
done
for policy in default every; do
	if [ $policy = every ]; then export IPW_NVML_ENERGY_READS=every; else unset IPW_NVML_ENERGY_READS; fi
	.gpu/ipw profile --url http://127.0.0.1:$PORT --dataset bench/gpu/data/identical_prompts.jsonl --limit 20 \
		--max-tokens ${TOKENS:-300} --warmup 4 --idle-seconds 3 --backends nvidia --no-host --quiet \
		--store "$DB" --name "seq-$policy" >/dev/null 2>"$OUT/seq-$policy.err" || tail -5 "$OUT/seq-$policy.err"
done
python3 - "$DB" <<'PY'
import sqlite3, statistics as st, sys
c = sqlite3.connect(sys.argv[1])
for name in ("seq-default", "seq-every"):
    rid = c.execute("select id from runs where name=?", (name,)).fetchone()[0]
    q = c.execute("select accel_j, e2e_s, avg_power_w, t_send_s, t_end_s from queries where run_id=? and status='ok' order by seq", (rid,)).fetchall()
    e = [r[0] for r in q]; d = [r[1] for r in q]; p = [r[2] for r in q]
    cv = lambda v: st.pstdev(v) / st.mean(v)
    print(f"{name}: n={len(q)} mean {st.mean(e):.1f} J over {st.mean(d):.3f} s; CV energy {cv(e):.4f}, "
          f"CV duration {cv(d):.4f}, CV mean power {cv(p):.4f}; min/max energy {min(e):.1f}/{max(e):.1f} J")
PY
