#!/usr/bin/env python3
"""validate_load.py - the analysis of bench/gpu/validate_load.sh, from its ipw store.

Reads the runs probe, seq20, len-*, conc-c* and $OUT/calibrate.json and writes
$OUT/validate_load.json with, per step: ipw's numbers, independent checks from the raw
counter samples, and the naive rule (each request gets the raw counter difference between
the samples nearest its send and end: no interpolation, no sharing). Prints a summary.
Usage: validate_load.py STORE OUT
"""
import bisect
import json
import math
import os
import sqlite3
import statistics
import sys


def cv(xs):
    xs = [x for x in xs if x is not None]
    if len(xs) < 2 or statistics.mean(xs) == 0:
        return None
    return statistics.pstdev(xs) / statistics.mean(xs)


class Counter:
    """The raw cumulative counter of one source, from the samples table."""

    def __init__(self, db, run_id, src=0):
        rows = db.execute("SELECT t_s, energy_j FROM samples WHERE run_id = ? AND source_idx = ? AND energy_j IS NOT NULL "
                          "ORDER BY t_s", (run_id, src)).fetchall()
        self.t = [r[0] for r in rows]
        self.e = [r[1] for r in rows]

    def nearest(self, t):
        i = bisect.bisect_left(self.t, t)
        cand = [j for j in (i - 1, i) if 0 <= j < len(self.t)]
        return self.e[min(cand, key=lambda j: abs(self.t[j] - t))] if cand else None

    def naive(self, t0, t1):
        a, b = self.nearest(t0), self.nearest(t1)
        return None if a is None or b is None else b - a

    def linear(self, t):
        """Raw counter interpolated linearly between the reads around t (a check independent of ipw)."""
        i = bisect.bisect_left(self.t, t)
        if i <= 0 or i >= len(self.t):
            return None
        t0, t1, e0, e1 = self.t[i - 1], self.t[i], self.e[i - 1], self.e[i]
        return e0 + (e1 - e0) * (t - t0) / (t1 - t0) if t1 > t0 else e0


def run(db, name):
    r = db.execute("SELECT id, summary_json, config_json FROM runs WHERE name = ?", (name,)).fetchone()
    if not r:
        return None
    return {"id": r[0], "summary": json.loads(r[1]) if r[1] else None, "config": json.loads(r[2])}


def queries(db, run_id):
    cols = ["t_send_s", "t_first_s", "t_end_s", "e2e_s", "ttft_s", "completion_tokens", "accel_j", "accel_dyn_j",
            "status", "extra_json"]
    rows = db.execute("SELECT %s FROM queries WHERE run_id = ? ORDER BY t_send_s" % ",".join(cols), (run_id,))
    return [dict(zip(cols, r)) for r in rows.fetchall()]


def idle_w(db, run_id):
    r = db.execute("SELECT sum(idle_before_w) FROM run_sources WHERE run_id = ? AND scope = 'accelerator'",
                   (run_id,)).fetchone()
    return r[0]


def step_probe(db):
    r = run(db, "probe")
    sv = (r["summary"] or {}).get("serve", {}) if r else {}
    return {"device_idle_w": sv.get("device_idle_accel_w"), "server_idle_w": sv.get("server_idle_accel_w"),
            "server_log": sv.get("log")}


def step_seq(db):
    r = run(db, "seq20")
    qs = [q for q in queries(db, r["id"]) if q["status"] == "ok"]
    c = Counter(db, r["id"])
    t0, t1 = qs[0]["t_send_s"], qs[-1]["t_end_s"]
    span = None
    a, b = c.linear(t0), c.linear(t1)
    if a is not None and b is not None:
        span = b - a
    gaps = sum(qs[i + 1]["t_send_s"] - qs[i]["t_end_s"] for i in range(len(qs) - 1))
    iw = idle_w(db, r["id"])
    sum_q = sum(q["accel_j"] for q in qs)
    naive = [c.naive(q["t_send_s"], q["t_end_s"]) for q in qs]
    out = {
        "n": len(qs), "e2e_mean_s": statistics.mean(q["e2e_s"] for q in qs),
        "tokens": qs[0]["completion_tokens"],
        "energy_mean_j": statistics.mean(q["accel_j"] for q in qs), "energy_cv": cv([q["accel_j"] for q in qs]),
        "dynamic_cv": cv([q["accel_dyn_j"] for q in qs]),
        "sum_query_j": sum_q, "span_counter_j": span, "gaps_s": gaps, "idle_w": iw,
        "gaps_at_idle_j": iw * gaps if iw is not None else None,
        "naive_cv": cv(naive), "naive_sum_j": sum(x for x in naive if x is not None),
    }
    if span:
        out["sum_over_span"] = sum_q / span
        if iw is not None:
            out["residual_rel"] = (span - sum_q - iw * gaps) / span
    return out


def fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return {"intercept_j": a, "j_per_token": b, "r2": 1 - ss_res / ss_tot if ss_tot else None, "n": n}


def step_lengths(db):
    pts = []
    for (rid, name) in db.execute("SELECT id, name FROM runs WHERE name LIKE 'len-%' ORDER BY id").fetchall():
        c = Counter(db, rid)
        for q in queries(db, rid):
            if q["status"] == "ok" and q["accel_j"] is not None:
                pts.append({"run": name, "tokens": q["completion_tokens"], "e2e_s": q["e2e_s"], "j": q["accel_j"],
                            "naive_j": c.naive(q["t_send_s"], q["t_end_s"])})
    out = {"points": pts}
    if len(pts) >= 3:
        out["fit"] = fit([p["tokens"] for p in pts], [p["j"] for p in pts])
        out["fit_e2e"] = fit([p["e2e_s"] for p in pts], [p["j"] for p in pts])
        nv = [p for p in pts if p["naive_j"] is not None]
        if len(nv) >= 3:
            out["fit_naive"] = fit([p["tokens"] for p in nv], [p["naive_j"] for p in nv])
        out["duration_range_s"] = [min(p["e2e_s"] for p in pts), max(p["e2e_s"] for p in pts)]
    return out


def step_conc(db):
    rows = []
    for (rid, name) in db.execute("SELECT id, name FROM runs WHERE name LIKE 'conc-c%' ORDER BY id").fetchall():
        r = run(db, name)
        s = r["summary"] or {}
        e = s.get("energy", {})
        qs = [q for q in queries(db, rid) if q["status"] == "ok"]
        c = Counter(db, rid)
        t0, t1 = min(q["t_send_s"] for q in qs), max(q["t_end_s"] for q in qs)
        a, b = c.linear(t0), c.linear(t1)
        span_raw = b - a if a is not None and b is not None else None
        naive = [c.naive(q["t_send_s"], q["t_end_s"]) for q in qs]
        # the steady state: requests sent after the first and ended before the last end of a request
        full = [q for q in qs if q["t_send_s"] >= qs[0]["t_end_s"] - 1e-9] or qs
        attributed = e.get("attributed_accel_j")
        rows.append({
            "concurrency": r["config"].get("concurrency"), "requests": len(qs),
            "span_s": s.get("span_s"), "output_tokens_per_s": s.get("output_tokens_per_s"),
            "requests_per_s": s.get("requests_per_s"),
            "ttft_p50_s": s.get("latency", {}).get("ttft_s", {}).get("p50"),
            "tpot_p50_s": s.get("latency", {}).get("tpot_s", {}).get("p50"),
            "span_j": e.get("span_accel_j"), "attributed_j": attributed, "idle_j": e.get("idle_accel_j"),
            "conservation_rel": e.get("conservation_rel"),
            "span_raw_counter_j": span_raw,
            "span_vs_raw_rel": (e["span_accel_j"] - span_raw) / span_raw if span_raw and e.get("span_accel_j") else None,
            "j_per_token": e.get("j_per_output_token"), "j_per_query": e.get("j_per_query"),
            "mean_power_w": e.get("mean_power_w"), "idle_share": e.get("idle_share"),
            "cv_all": cv([q["accel_j"] for q in qs]), "cv_steady": cv([q["accel_j"] for q in full]),
            "naive_sum_over_span": (sum(x for x in naive if x is not None) / e["span_accel_j"])
            if e.get("span_accel_j") else None,
            "naive_cv": cv(naive),
            "naive_j_per_token": sum(x for x in naive if x is not None) / max(1, sum(q["completion_tokens"] for q in qs)),
        })
    return rows


def main():
    db = sqlite3.connect(sys.argv[1])
    out_dir = sys.argv[2]
    res = {"probe": step_probe(db), "sequential": step_seq(db), "lengths": step_lengths(db),
           "concurrency": step_conc(db)}
    cal = os.path.join(out_dir, "calibrate.json")
    try:
        res["calibrate"] = json.load(open(cal))
    except (OSError, ValueError) as e:
        res["calibrate"] = {"error": str(e)}
    json.dump(res, open(os.path.join(out_dir, "validate_load.json"), "w"), indent=1)

    f = lambda v, spec="%.4g": "-" if v is None else spec % v
    p = res["probe"]
    print("idle: device %s W before the server, %s W with it" % (f(p["device_idle_w"], "%.1f"), f(p["server_idle_w"], "%.1f")))
    s = res["sequential"]
    print("(1) %d sequential identical requests, %s tokens, %.2f s each: energy %.1f J, CV %s (naive CV %s); "
          "sum/span %s, residual after idle gaps %s" % (s["n"], s["tokens"], s["e2e_mean_s"], s["energy_mean_j"],
                                                      f(s["energy_cv"], "%.4f"), f(s["naive_cv"], "%.4f"),
                                                      f(s.get("sum_over_span"), "%.5f"), f(s.get("residual_rel"), "%.2e")))
    L = res["lengths"]
    if "fit" in L:
        print("(2) %d requests, %.2f-%.2f s: E = %.2f J + %.4f J/token x tokens, R^2 %.5f (naive R^2 %s)"
              % (L["fit"]["n"], L["duration_range_s"][0], L["duration_range_s"][1], L["fit"]["intercept_j"],
                 L["fit"]["j_per_token"], L["fit"]["r2"], f(L.get("fit_naive", {}).get("r2"), "%.5f")))
    print("(3)/(4) conc  reqs  tok/s     J/token  conserv.   span/raw   CV(all) CV(steady)  naive sum/span  naive CV")
    for r in res["concurrency"]:
        print("      %4s  %4d  %8s  %7s  %9s  %9s  %7s  %9s  %14s  %8s" % (
            r["concurrency"], r["requests"], f(r["output_tokens_per_s"], "%.0f"), f(r["j_per_token"], "%.4f"),
            f(r["conservation_rel"], "%.1e"), f(r["span_vs_raw_rel"], "%.1e"), f(r["cv_all"], "%.4f"),
            f(r["cv_steady"], "%.4f"), f(r["naive_sum_over_span"], "%.3f"), f(r["naive_cv"], "%.4f")))
    c = res["calibrate"].get("gpu", {})
    if c.get("ran"):
        for src in c["sources"]:
            print("(5) calibrate %s: step %s s, idle %s W, loaded %s W, rise %s s, fall %s s" % (
                src["source"], f(src["step_s"], "%.3f"), f(src["idle_w"], "%.1f"), f(src["loaded_w"], "%.1f"),
                f(src["rise_s"], "%.3f"), f(src["fall_s"], "%.3f")))
            for pp in src["periods"]:
                print("      %.2f s on/off: on %.1f J (perfect %.1f), off %.1f J (perfect %.1f)" % (
                    pp["period_s"], pp["on_j"], pp["on_expected_j"], pp["off_j"], pp["off_expected_j"]))
    else:
        print("(5) calibrate: %s" % (c.get("skipped") or res["calibrate"].get("error")))
    print("targets: CV of identical >= 1 s requests <= 0.02; conservation <= 1e-3")


if __name__ == "__main__":
    main()
