#!/usr/bin/env python3
"""Independent dense trace of NVML's energy counter for window_compare.py:
reads it (pynvml) every ~10 ms for SECONDS, printing "mid_ns mJ" per read,
where mid_ns is the CLOCK_MONOTONIC midpoint of the call."""
import sys
import time

import pynvml as N

secs = float(sys.argv[1])
N.nvmlInit()
h = N.nvmlDeviceGetHandleByIndex(0)
end = time.monotonic() + secs
out = []
while time.monotonic() < end:
    a = time.monotonic_ns()
    v = N.nvmlDeviceGetTotalEnergyConsumption(h)
    b = time.monotonic_ns()
    out.append(f"{(a + b) // 2} {v}")
    time.sleep(0.006)
print("\n".join(out))
