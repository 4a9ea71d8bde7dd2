#!/usr/bin/env python3
"""A steady GPU load for validation: bf16 8192^3 matrix products back to back
for --seconds, or an on/off square wave with --period (seconds on = off)."""
import argparse
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--seconds", type=float, default=30)
ap.add_argument("--period", type=float, default=0, help="0 = always on")
ap.add_argument("--n", type=int, default=8192)
a = ap.parse_args()
x = torch.randn(a.n, a.n, device="cuda", dtype=torch.bfloat16)
y = torch.randn(a.n, a.n, device="cuda", dtype=torch.bfloat16)
torch.cuda.synchronize()
end = time.monotonic() + a.seconds
while time.monotonic() < end:
    if a.period > 0 and int(time.monotonic() / a.period) % 2:
        time.sleep(0.005)
        continue
    for _ in range(4):
        z = x @ y
    torch.cuda.synchronize()
