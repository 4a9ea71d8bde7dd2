#!/bin/sh
# Window accuracy of ipw's timeline on a real NVIDIA GPU, against an independent
# dense counter trace, under an on/off load (0.35 s on, 0.35 s off) and a steady
# one; for the default (phase-locked) policy and for reading at every sample.
# Needs .gpu/ from bench/gpu/carry.sh (which also carries build/bench/gpu_window).
set -u
sh "$(dirname "$0")/unpack.sh" || exit 1
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
W="$PWD/.gpu/gpu_window"
for policy in ${POLICIES:-locked every}; do
	for load in square steady; do
		if [ $load = square ]; then period=0.35; else period=0; fi
		python3 bench/gpu/load.py --seconds 28 --period $period & L=$!
		sleep 3
		if [ $policy = every ]; then export IPW_NVML_ENERGY_READS=every; else unset IPW_NVML_ENERGY_READS; fi
		python3 bench/gpu/window_ref.py 22 > "$OUT/ref_${policy}_$load.txt" &
		R=$!
		"$W" 20 > "$OUT/ipw_${policy}_$load.txt"
		wait $R
		wait $L
		python3 bench/gpu/window_compare.py "$OUT/ipw_${policy}_$load.txt" "$OUT/ref_${policy}_$load.txt" \
			"$policy/$load" | tee "$OUT/cmp_${policy}_$load.json"
	done
done
