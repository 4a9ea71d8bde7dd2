#!/bin/sh
# Diagnostic: the phase-locked policy's events (search, resync, prediction
# error) on a real GPU, idle then under an on/off load. Needs .gpu/gpu_window_dbg.
export LD_LIBRARY_PATH="$PWD/.gpu/lib"
echo "== idle"; .gpu/gpu_window_dbg 12 2>&1 >/dev/null | head -40
python3 bench/gpu/load.py --seconds 16 --period 0.35 & L=$!
sleep 2; echo "== square load"; .gpu/gpu_window_dbg 12 2>&1 >/dev/null | head -60; wait $L
