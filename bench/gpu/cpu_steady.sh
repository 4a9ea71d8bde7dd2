#!/bin/sh
# Steady-state CPU cost of sampling an NVIDIA GPU: ipw monitor for 60 s (so the
# one-time phase search counts little), checked against NVML's counter, for
# the default policy and for sparse reads once a second. Needs .gpu/.
set -u
sh "$(dirname "$0")/unpack.sh" || exit 1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.gpu/lib"
for policy in ${POLICIES:-default locked:1000 every}; do
	if [ $policy = default ]; then unset IPW_NVML_ENERGY_READS; else export IPW_NVML_ENERGY_READS=$policy; fi
	python3 bench/gpu/nvml_check.py --out "$OUT/steady_$(echo $policy | tr : _).json" -- \
		.gpu/ipw monitor --backends nvidia --no-host --format jsonl --duration 60 >/dev/null
	python3 -c "import json,sys;d=json.load(open(sys.argv[1]));s=d['ipw_summary'];src=list(s['sources'].values())[0];print(sys.argv[2], {'cpu_s_per_s':s['cpu_s_per_s'],'rate_hz':src['sample_rate_hz'],'ipw_w':d['ipw_mean_power_w'],'counter_w':d['counter_mean_power_w'],'diff_pct':d['power_diff_pct']})" "$OUT/steady_$(echo $policy | tr : _).json" $policy
done
