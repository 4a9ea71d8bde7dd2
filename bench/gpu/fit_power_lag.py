#!/usr/bin/env python3
"""Fits how NVML's instantaneous power field (186) lines up in time with the
energy counter, from bench/gpu/capture_power.sh's captures.

Truth: an independent dense counter trace (reads every ~10 ms; each 100 ms
step placed at the midpoint of the reads around it). Simulated sparse policy:
knots taken from the truth every K steps, energy between knots shaped by the
power samples under a model:
  linear(d):  power linear between samples, each sample moved d ms earlier;
  hold(d):    power constant between changes of the field's value, each change
              placed at the midpoint of the samples around it, moved d ms earlier.
Prints the window errors (mean |error| in J and %) for each model and d, and
for plain linear interpolation between knots.
usage: fit_power_lag.py CAP_IPW CAP_REF [K]"""
import bisect
import random
import sys


def load_ref(path):
    pts = [tuple(map(int, l.split())) for l in open(path) if l.strip()]
    knots = [((a[0] + b[0]) / 2, b[1] / 1000.0) for a, b in zip(pts, pts[1:]) if b[1] != a[1]]
    return knots


def load_power(path):
    return [(int(l.split()[1]), float(l.split()[2])) for l in open(path) if l.startswith("P ")]


def interp(knots, t):
    ts = [k[0] for k in knots]
    i = bisect.bisect_right(ts, t) - 1
    if i < 0 or i + 1 >= len(knots):
        return None
    (a, ea), (b, eb) = knots[i], knots[i + 1]
    return ea + (eb - ea) * (t - a) / (b - a)


class Curve:
    """Cumulative integral of a power curve given as breakpoints (t, p) with a kind."""

    def __init__(self, pts, hold):
        self.t = [p[0] for p in pts]
        self.p = [p[1] for p in pts]
        self.hold = hold
        self.c = [0.0]
        for i in range(1, len(pts)):
            dt = self.t[i] - self.t[i - 1]
            seg = self.p[i - 1] * dt if hold else (self.p[i - 1] + self.p[i]) / 2 * dt
            self.c.append(self.c[-1] + seg)

    def cum(self, x):
        i = bisect.bisect_right(self.t, x) - 1
        if i < 0:
            return (x - self.t[0]) * self.p[0]
        if i >= len(self.t) - 1:
            return self.c[-1] + (x - self.t[-1]) * self.p[-1]
        dt = x - self.t[i]
        if self.hold:
            return self.c[i] + self.p[i] * dt
        span = self.t[i + 1] - self.t[i]
        px = self.p[i] + (self.p[i + 1] - self.p[i]) * dt / span
        return self.c[i] + (self.p[i] + px) / 2 * dt


def shaped_energy(knots, curve, t):
    ts = [k[0] for k in knots]
    i = bisect.bisect_right(ts, t) - 1
    if i < 0 or i + 1 >= len(knots):
        return None
    (a, ea), (b, eb) = knots[i], knots[i + 1]
    if curve is None:
        return ea + (eb - ea) * (t - a) / (b - a)
    whole = curve.cum(b) - curve.cum(a)
    if whole <= 0:
        return ea + (eb - ea) * (t - a) / (b - a)
    return ea + (eb - ea) * (curve.cum(t) - curve.cum(a)) / whole


def model_points(power, kind, d_ns):
    if kind == "linear":
        return [(t - d_ns, p) for t, p in power]
    pts = [(power[0][0] - d_ns, power[0][1])]
    for (t0, p0), (t1, p1) in zip(power, power[1:]):
        if p1 != p0:
            pts.append(((t0 + t1) / 2 - d_ns, p1))
    return pts


def evaluate(ref, sparse, curve, windows):
    errs, rel = [], []
    for a, b in windows:
        ea, eb = shaped_energy(sparse, curve, a), shaped_energy(sparse, curve, b)
        ra, rb = interp(ref, a), interp(ref, b)
        if None in (ea, eb, ra, rb):
            continue
        errs.append(abs((eb - ea) - (rb - ra)))
        rel.append(errs[-1] / (rb - ra) * 100)
    n = len(errs)
    return sum(errs) / n, sum(rel) / n, n


def main():
    power = load_power(sys.argv[1])
    ref = load_ref(sys.argv[2])
    K = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    sparse = ref[::K]
    lo, hi = max(ref[0][0], power[0][0]) + 1e9, min(ref[-1][0], power[-1][0]) - 1e9
    rnd = random.Random(3)
    for L in (0.25, 1.0):
        windows = []
        for _ in range(600):
            a = rnd.uniform(lo, hi - L * 1e9)
            windows.append((a, a + L * 1e9))
        print(f"windows {L} s, knots every {K} steps")
        print("  no shaping (linear between knots): %.2f J %.2f%%" % evaluate(ref, sparse, None, windows)[:2])
        for kind in ("linear", "hold"):
            best = None
            for d in range(-40, 161, 10):
                e, r, n = evaluate(ref, sparse, Curve(model_points(power, kind, d * 1e6), kind == "hold"), windows)
                print(f"  {kind}({d:4d} ms): {e:7.2f} J {r:6.2f}%")
                if best is None or e < best[1]:
                    best = (d, e, r)
            print(f"  best {kind}: d={best[0]} ms: {best[1]:.2f} J {best[2]:.2f}%")


if __name__ == "__main__":
    main()
