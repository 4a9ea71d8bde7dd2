#!/bin/sh
# Real-GPU validation of ipw's telemetry (run on a machine with an NVIDIA GPU,
# from the repository root, after bench/gpu/carry.sh built .gpu/ here):
#   1. ipw devices
#   2. ipw monitor on the idle GPU, checked against NVML's counter read
#      independently (pynvml) just before and after
#   3. the same under a steady bf16 matmul load
#   4. ipw's CPU cost and achieved sample rate at several sampling periods
# Results go to $OUT (or ./gpu-out) as JSON; bench/RESULTS.md records them.
set -u
sh "$(dirname "$0")/unpack.sh" || exit 1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
IPW="$PWD/.gpu/ipw"
MON="$IPW monitor --backends nvidia --no-host --format jsonl"
show() {
	python3 -c "import json,sys;d=json.load(open(sys.argv[1]));print({k:d[k] for k in ('counter_interval_s','counter_energy_j','counter_mean_power_w','ipw_duration_s','ipw_energy_j','ipw_mean_power_w','power_diff_pct','process_cpu_s_per_wall_s')})" "$1"
}
nvidia-smi -L
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv
$IPW devices --backends nvidia 2>&1 | tee "$OUT/devices.txt"
$IPW devices --backends nvidia --json > "$OUT/devices.json"
echo "== idle, default interval"
python3 bench/gpu/nvml_check.py --out "$OUT/idle.json" -- $MON --duration 20 >/dev/null
show "$OUT/idle.json"
echo "== steady load, default interval"
python3 bench/gpu/load.py --seconds 45 & LOAD=$!
sleep 10
python3 bench/gpu/nvml_check.py --out "$OUT/load.json" -- $MON --duration 20 >/dev/null
show "$OUT/load.json"
wait $LOAD
echo "== CPU cost and sample rate by interval (idle GPU)"
for iv in 10 20 50 100; do
	python3 bench/gpu/nvml_check.py --out "$OUT/cpu_$iv.json" -- $MON --duration 10 --interval $iv >/dev/null
done
python3 - "$OUT" <<'PY'
import json, sys
rows = []
for iv in (10, 20, 50, 100):
    d = json.load(open(f"{sys.argv[1]}/cpu_{iv}.json"))
    s = d["ipw_summary"]
    src = next(iter(s["sources"].values()))
    rows.append({"interval_ms": iv, "sample_rate_hz": src.get("sample_rate_hz"),
                 "ipw_cpu_s_per_s": s.get("cpu_s_per_s"),
                 "process_cpu_s_per_wall_s": d["process_cpu_s_per_wall_s"],
                 "power_diff_pct": d["power_diff_pct"]})
json.dump(rows, open(f"{sys.argv[1]}/cpu.json", "w"), indent=1)
for r in rows: print(r)
PY
