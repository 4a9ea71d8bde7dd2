#!/usr/bin/env python3
"""Probe: is NVML's total-energy *field* (NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION,
id 83, through nvmlDeviceGetFieldValues) a cheap substitute for the blocking
nvmlDeviceGetTotalEnergyConsumption call? Measures the cost per call (wall
and CPU), how often each value changes, whether the two agree, and what the
field's driver timestamp says about when the counter stepped."""
import json
import sys
import time

import pynvml as N

FI_ENERGY = getattr(N, "NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION", 83)
N.nvmlInit()
h = N.nvmlDeviceGetHandleByIndex(0)


def field():
    v = N.nvmlDeviceGetFieldValues(h, [FI_ENERGY])[0]
    return v.nvmlReturn, v.value.ullVal, v.timestamp, v.latencyUsec


def cost(fn, n):
    c0, t0 = time.process_time(), time.monotonic()
    for _ in range(n):
        fn()
    return (time.monotonic() - t0) / n, (time.process_time() - c0) / n


res = {}
res["direct_wall_s"], res["direct_cpu_s"] = cost(lambda: N.nvmlDeviceGetTotalEnergyConsumption(h), 200)
res["field_wall_s"], res["field_cpu_s"] = cost(field, 5000)
# step behaviour of the field over 3 s, read every 1 ms
trace = []
end = time.monotonic() + 3
while time.monotonic() < end:
    rc, val, ts, lat = field()
    trace.append((time.monotonic(), rc, val, ts, lat))
    time.sleep(0.001)
changes = [(t, v, ts) for (t, rc, v, ts, lat), prev in zip(trace[1:], trace) if v != prev[2]]
ts_changes = [(t, ts) for (t, rc, v, ts, lat), prev in zip(trace[1:], trace) if ts != prev[3]]
res["field_rc"] = trace[0][1]
res["field_reads"] = len(trace)
res["field_value_changes"] = len(changes)
if len(changes) > 2:
    gaps = [b[0] - a[0] for a, b in zip(changes, changes[1:])]
    res["field_step_period_mean_s"] = sum(gaps) / len(gaps)
    res["field_step_period_min_s"] = min(gaps)
    res["field_step_period_max_s"] = max(gaps)
res["field_timestamp_changes"] = len(ts_changes)
if len(changes) > 2:
    # driver timestamp (us, wall clock) vs our monotonic time at the first read that saw the step
    d = [(c[0], c[2] / 1e6) for c in changes]
    offs = [t_wall - t_mono for t_mono, t_wall in d]
    res["timestamp_minus_monotonic_spread_s"] = max(offs) - min(offs)
# agreement: direct call and field read back to back
pairs = []
for _ in range(20):
    a = N.nvmlDeviceGetTotalEnergyConsumption(h)
    rc, b, ts, lat = field()
    pairs.append(b - a)
    time.sleep(0.05)
res["field_minus_direct_mj"] = pairs
res["sample_changes"] = changes[:5]
json.dump(res, sys.stdout, indent=1)
print()
