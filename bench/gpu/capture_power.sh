#!/bin/sh
# Captures, under an on/off load, ipw's power-field samples and counter knots
# (reading the counter at every sample) beside an independent dense counter
# trace, for fitting how the instantaneous power field lags the counter
# (bench/gpu/fit_power_lag.py). Needs .gpu/.
set -u
sh "$(dirname "$0")/unpack.sh" || exit 1
OUT=${OUT:-gpu-out}
export LD_LIBRARY_PATH="$PWD/.gpu/lib" IPW_NVML_ENERGY_READS=every
for period in 0.35 1.3; do
	python3 bench/gpu/load.py --seconds 30 --period $period & L=$!
	sleep 3
	python3 bench/gpu/window_ref.py 24 > "$OUT/cap_ref_$period.txt" & R=$!
	.gpu/gpu_window 22 > "$OUT/cap_ipw_$period.txt"
	wait $R; wait $L
done
ls -la "$OUT"
