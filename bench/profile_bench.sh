#!/bin/sh
# Throughput of one whole `ipw profile` process (client, telemetry with the
# fake back-end, attribution, a committed SQLite transaction per query) against
# the loopback fake server with no delays, and the same against a server paced
# like a fast real one. Usage: bench/profile_bench.sh [QUERIES] [TOKENS]
set -eu
N=${1:-500}
TOK=${2:-64}
B=${IPW_BUILD:-build}
make -s "$B/ipw" fakes >/dev/null
T=$(mktemp -d)
trap 'kill $S 2>/dev/null || true; rm -rf "$T"' EXIT
run() { # label, fakellm flags...
	label=$1; shift
	"$B/fakes/fakellm" --port 0 --port-file "$T/port" --tokens "$TOK" --lifetime-s 600 "$@" </dev/null >/dev/null 2>&1 &
	S=$!
	while [ ! -s "$T/port" ]; do sleep 0.05; done
	rm -f "$T/db"*
	start=$(date +%s.%N)
	IPW_FAKE_PROFILE='gpu0=const:200' "$B/ipw" profile --url "http://127.0.0.1:$(cat "$T/port")" \
		--backends fake --idle-seconds 0 --warmup 1 --limit "$N" --dataset "$T/items.jsonl" \
		--store "$T/db" --quiet >/dev/null 2>&1
	end=$(date +%s.%N)
	kill $S; wait $S 2>/dev/null || true; rm -f "$T/port"
	python3 - "$T/db" "$label" "$start" "$end" <<'PY'
import sqlite3, sys
db, label, t0, t1 = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
c = sqlite3.connect(db)
n, tok, ttft = c.execute("select count(*), sum(completion_tokens), avg(ttft_s) from queries where status='ok'").fetchone()
span = c.execute("select max(t_end_s) - min(t_send_s) from queries").fetchone()[0]
print(f"| {label} | {n} | {n / span:.0f} | {tok / span:.0f} | {(t1 - t0):.1f} | {ttft * 1e3:.2f} |")
PY
}
python3 -c "
import json
for i in range(int('$N')):
    print(json.dumps({'id': f'q{i}', 'task': 'exact', 'subject': 'bench', 'problem': f'Say {i}.', 'answer': str(i)}))
" > "$T/items.jsonl"
echo "| server | queries ok | queries/s (query span) | tokens/s | wall s (whole process) | mean TTFT ms |"
echo "|---|---|---|---|---|---|"
run "no delays"
run "5 ms to first token and between tokens" --ttft-ms 5 --token-delay-ms 5
