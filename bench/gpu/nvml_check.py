#!/usr/bin/env python3
"""Independent check of 'ipw monitor' on an NVIDIA GPU.

Reads NVML's total-energy counter (through pynvml, a separate process and
library from ipw) just before and just after running the given command, and
compares the counter's energy and mean power over that interval with what
ipw's JSONL summary (its last line) reports.

usage: nvml_check.py --out FILE.json [--gpu N] -- ipw monitor ... --format jsonl
"""
import argparse
import json
import resource
import subprocess
import sys
import time

import pynvml


def counter_mj(handle):
    return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--gpu", type=int, default=0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(a.gpu)
    e0 = counter_mj(h)
    t0 = time.monotonic()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    t1 = time.monotonic()
    e1 = counter_mj(h)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    summary = json.loads(lines[-1]) if lines else {}
    samples = len(lines) - 1
    src = next(iter(summary.get("sources", {}).values()), {})
    ipw_j = src.get("energy_j")
    ipw_w = src.get("mean_power_w")
    ipw_s = summary.get("duration_s")
    ref_j = (e1 - e0) / 1000.0
    ref_w = ref_j / (t1 - t0)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    res = {
        "command": " ".join(cmd),
        "exit": p.returncode,
        "counter_interval_s": t1 - t0,
        "counter_energy_j": ref_j,
        "counter_mean_power_w": ref_w,
        "ipw_duration_s": ipw_s,
        "ipw_energy_j": ipw_j,
        "ipw_mean_power_w": ipw_w,
        "ipw_energy_scaled_to_counter_interval_j": (ipw_w * (t1 - t0)) if ipw_w else None,
        "power_diff_pct": (100.0 * (ipw_w - ref_w) / ref_w) if ipw_w else None,
        "jsonl_records": samples,
        "ipw_summary": summary,
        "process_cpu_s": cpu,
        "process_cpu_s_per_wall_s": cpu / (t1 - t0),
    }
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps({k: v for k, v in res.items() if k != "ipw_summary"}, indent=1))
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
