#!/usr/bin/env python3
"""Compares window energies from ipw's timeline (gpu_window output) with an
independent dense counter trace (window_ref.py output, ~10 ms reads, each
step placed at the midpoint of the reads around it: ±5 ms).

usage: window_compare.py IPW.txt REF.txt [LABEL]
Prints, per window length, the mean and 95th-percentile absolute error (J and
% of the reference) over random windows inside both spans."""
import bisect
import json
import random
import sys


def ref_timeline(path):
    pts = [tuple(map(int, l.split())) for l in open(path) if l.strip()]
    knots = []
    for (t0, v0), (t1, v1) in zip(pts, pts[1:]):
        if v1 != v0:
            knots.append(((t0 + t1) / 2, v1 / 1000.0))
    return knots


def ipw_timeline(path):
    e, meta = [], {}
    for l in open(path):
        if l.startswith("E "):
            _, t, v = l.split()
            e.append((int(t), float(v)))
        elif l.startswith("# cpu_s"):
            f = l.split()
            meta = {"cpu_s": float(f[2]), "wall_s": float(f[4]), "samples": int(f[6]), "knots": int(f[8])}
    return e, meta


def at(knots, t):
    ts = [k[0] for k in knots]
    i = bisect.bisect_right(ts, t) - 1
    if i < 0 or i + 1 >= len(knots):
        return None
    (t0, e0), (t1, e1) = knots[i], knots[i + 1]
    return e0 + (e1 - e0) * (t - t0) / (t1 - t0)


def main():
    ipw, meta = ipw_timeline(sys.argv[1])
    ref = ref_timeline(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) > 3 else ""
    lo = max(ipw[0][0], ref[0][0]) + 50_000_000
    hi = min(ipw[-1][0], ref[-1][0]) - 50_000_000
    rnd = random.Random(1)
    res = {"label": label, "ipw": meta, "span_s": (hi - lo) / 1e9}
    for L in (0.25, 0.5, 1.0, 2.0, 5.0):
        errs, rel = [], []
        for _ in range(400):
            a = rnd.uniform(lo, hi - L * 1e9)
            b = a + L * 1e9
            # ipw's E(t) on its 10 ms grid, interpolated (grid error < 1 mJ-scale at 700 W x 10 ms? no:
            # linear between grid points of a piecewise-smooth E is exact to the curvature, small)
            ei = at(ipw, a), at(ipw, b)
            er = at(ref, a), at(ref, b)
            if None in ei or None in er:
                continue
            di, dr = ei[1] - ei[0], er[1] - er[0]
            errs.append(abs(di - dr))
            rel.append(abs(di - dr) / dr * 100)
        errs.sort()
        rel.sort()
        n = len(errs)
        res[f"{L}s"] = {"n": n, "mean_abs_j": sum(errs) / n, "p95_abs_j": errs[int(0.95 * n)],
                        "mean_pct": sum(rel) / n, "p95_pct": rel[int(0.95 * n)]}
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
