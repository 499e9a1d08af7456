#!/usr/bin/env python3
"""Fit the physics benchmark's synthetic pulses with SciPy, for comparison.

Reads the pulses CSV written by `cargo run --release -p examples --example bench_physics`
(one row per pulse: id, levels, next_level_v, true_peak_v, true_onset_ns, then
level_i_v, rise_i_ns, fall_i_ns for i = 1..5, empty where absent) and fits each pulse
with `scipy.optimize.least_squares(method="lm")` and an exact Jacobian.

The fit is the same as ours on these pulses (shape held at the calibration, peak height
and onset free), in time residuals: measured (mid-bin corrected) minus model crossing
time per level and edge, each with the independent error sqrt(clock^2/12 + jitter^2).
Model crossing times come from a vectorised, bracketed Newton iteration; a level at or
above the model peak is continued through it so the residuals stay continuous. The
errors are sqrt(diag((J^T J)^-1)), with no chi2 scaling, as ours.

Prints fits/s, peak-height bias and RMS relative error, onset bias, pull mean/width and
coverage (fraction of fits with |fit - truth| <= error) per level count, and with --ours
a side-by-side markdown table against the Rust fitter's summary.
"""

import argparse
import csv
import json
import math
import sys
import time

import numpy as np
from scipy.optimize import least_squares

RISE_NS = 0.9
DECAY_NS = 2.1
CLOCK_NS = 2.0
JITTER_NS = 0.3
SIGMA_NS = math.sqrt(CLOCK_NS**2 / 12.0 + JITTER_NS**2)


class Shape:
    """The unit bi-exponential f(s) = exp(-s/decay) - exp(-s/rise)."""

    def __init__(self, rise, decay):
        self.rise = rise
        self.decay = decay
        self.sp = math.log(decay / rise) / (1.0 / rise - 1.0 / decay)
        self.g = math.exp(-self.sp / decay) - math.exp(-self.sp / rise)
        curv = math.exp(-self.sp / decay) / decay**2 - math.exp(-self.sp / rise) / rise**2
        self.kappa = math.sqrt(2.0 * self.g / -curv)

    def value(self, s):
        return np.exp(-s / self.decay) - np.exp(-s / self.rise)

    def slope(self, s):
        return np.exp(-s / self.rise) / self.rise - np.exp(-s / self.decay) / self.decay

    def offsets(self, y, rising):
        """Offsets where f = y*g on each point's edge, and their derivative by y."""
        s = np.empty_like(y)
        ds_dy = np.empty_like(y)
        below = y < 1.0
        above = ~below
        if above.any():
            u = np.sqrt(np.maximum(y[above] - 1.0, 1e-12))
            sign = np.where(rising[above], 1.0, -1.0)
            s[above] = self.sp + sign * self.kappa * u
            ds_dy[above] = sign * self.kappa / (2.0 * u)
        if below.any():
            yb = y[below]
            rb = rising[below]
            target = yb * self.g
            lo = np.where(rb, 0.0, self.sp)
            hi = np.where(rb, self.sp, np.maximum(-self.decay * np.log(target), self.sp))
            x = 0.5 * (lo + hi)
            sign = np.where(rb, 1.0, -1.0)
            for _ in range(100):
                h = sign * (self.value(x) - target)
                lo = np.where(h <= 0.0, x, lo)
                hi = np.where(h > 0.0, x, hi)
                d1 = sign * self.slope(x)
                with np.errstate(divide="ignore", invalid="ignore"):
                    newton = x - h / d1
                ok = (d1 > 0.0) & (newton > lo) & (newton < hi)
                nxt = np.where(ok, newton, 0.5 * (lo + hi))
                step = np.max(np.abs(nxt - x))
                x = nxt
                if step < 1e-11:
                    break
            s[below] = x
            ds_dy[below] = self.g / self.slope(x)
        return s, ds_dy


class Pulse:
    def __init__(self, row):
        self.k = int(row["levels"])
        self.next_level = float(row["next_level_v"]) if row["next_level_v"] else None
        self.true_peak = float(row["true_peak_v"])
        self.true_onset = float(row["true_onset_ns"])
        levels, times, rising = [], [], []
        for i in range(1, self.k + 1):
            level = float(row[f"level_{i}_v"])
            for edge, is_rise in (("rise", True), ("fall", False)):
                levels.append(level)
                times.append(float(row[f"{edge}_{i}_ns"]) + 0.5 * CLOCK_NS)
                rising.append(is_rise)
        self.levels = np.array(levels)
        self.times = np.array(times)
        self.rising = np.array(rising)
        self.top = levels[-1]


def fit(shape, p):
    """One pulse: (peak, onset, peak error, onset error, ok)."""
    cache = {}

    def model(x):
        key = (x[0], x[1])
        if key not in cache:
            cache.clear()
            h, t0 = x
            if not (h > 0.0 and math.isfinite(h) and math.isfinite(t0)):
                cache[key] = None
            else:
                s, ds_dy = shape.offsets(p.levels / h, p.rising)
                cache[key] = (t0 + s, ds_dy * (-p.levels / h**2))
        return cache[key]

    def residuals(x):
        m = model(x)
        if m is None:
            return np.full(p.times.shape, 1e3)
        return (p.times - m[0]) / SIGMA_NS

    def jacobian(x):
        m = model(x)
        j = np.zeros((p.times.size, 2))
        if m is not None:
            j[:, 0] = -m[1] / SIGMA_NS
            j[:, 1] = -1.0 / SIGMA_NS
        return j

    h0 = math.sqrt(p.top * p.next_level) if p.next_level else 1.25 * p.top
    s0, _ = shape.offsets(p.levels / h0, p.rising)
    t00 = float(np.mean(p.times - s0))
    res = least_squares(residuals, [h0, t00], jac=jacobian, method="lm")
    if not res.success:
        return None
    try:
        cov = np.linalg.inv(res.jac.T @ res.jac)
    except np.linalg.LinAlgError:
        return None
    err = np.sqrt(np.diag(cov))
    if not np.all(np.isfinite(err)) or not np.all(err > 0):
        return None
    return res.x[0], res.x[1], err[0], err[1]


def robust_width(v):
    """Half the 16th-84th percentile distance: a Gaussian's width, blind to wild values."""
    lo, hi = np.percentile(np.asarray(v), [15.87, 84.13])
    return float(0.5 * (hi - lo))


def rms(v):
    """Root mean square (of the relative peak-height errors)."""
    return float(np.sqrt(np.mean(np.square(np.asarray(v)))))


def coverage(pulls):
    """Fraction of fits with |fit - truth| <= error (68.3% for honest Gaussian errors)."""
    return float(np.mean(np.abs(np.asarray(pulls)) <= 1.0))


def mean_std(v):
    v = np.asarray(v)
    return float(np.mean(v)), float(np.std(v, ddof=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pulses", help="pulses CSV from bench_physics")
    ap.add_argument("--per-level", type=int, default=2000, help="pulses to fit per level count")
    ap.add_argument("--json", help="write the summary here")
    ap.add_argument("--ours", help="the Rust fitter's summary JSON, for a side-by-side table")
    args = ap.parse_args()

    shape = Shape(RISE_NS, DECAY_NS)
    by_k = {}
    with open(args.pulses, newline="") as f:
        for row in csv.DictReader(f):
            p = Pulse(row)
            group = by_k.setdefault(p.k, [])
            if len(group) < args.per_level:
                group.append(p)

    summary = {}
    for k in sorted(by_k):
        pulses = by_k[k]
        start = time.perf_counter()
        results = [fit(shape, p) for p in pulses]
        elapsed = time.perf_counter() - start
        hb, ob, hp, op = [], [], [], []
        failed = 0
        for p, r in zip(pulses, results):
            if r is None:
                failed += 1
                continue
            h, t0, eh, et = r
            hb.append((h - p.true_peak) / p.true_peak)
            ob.append(t0 - p.true_onset)
            hp.append((h - p.true_peak) / eh)
            op.append((t0 - p.true_onset) / et)
        summary[str(k)] = {
            "n": len(hb),
            "failed": failed,
            "fits_per_s": len(pulses) / elapsed,
            "height_bias": mean_std(hb)[0],
            "height_rms": rms(hb),
            "coverage": [coverage(hp), coverage(op)],
            "onset_bias": mean_std(ob)[0],
            "height_pull": mean_std(hp),
            "onset_pull": mean_std(op),
            "robust_pull_width": [robust_width(hp), robust_width(op)],
        }
        s = summary[str(k)]
        print(
            f"scipy k={k}: {s['fits_per_s']:.0f} fits/s, n={s['n']} failed={failed}, "
            f"H bias {100 * s['height_bias']:+.2f}%, H rms {100 * s['height_rms']:.2f}%, "
            f"coverage H {100 * s['coverage'][0]:.1f}% t0 {100 * s['coverage'][1]:.1f}%, t0 bias {s['onset_bias']:+.3f} ns, "
            f"H pull {s['height_pull'][0]:+.3f}/{s['height_pull'][1]:.3f}, "
            f"t0 pull {s['onset_pull'][0]:+.3f}/{s['onset_pull'][1]:.3f}, "
            f"robust pull widths H {s['robust_pull_width'][0]:.3f} t0 {s['robust_pull_width'][1]:.3f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if args.ours:
        with open(args.ours) as f:
            ours = json.load(f)
        print()
        print("Pulse fits, axon / SciPy: rate on one core (axon: all pulses, best of runs);")
        print("accuracy on the same pulses")
        print()
        cols = [
            "levels",
            "axon fits/s",
            "SciPy fits/s",
            "ratio",
            "H bias",
            "H RMS rel. error",
            "H coverage",
            "H pull mean / width",
            "H robust pull width",
            "t0 bias (ns)",
            "t0 coverage",
            "t0 pull mean / width",
            "failed",
        ]
        print("| " + " | ".join(cols) + " |")
        print("|" + "|".join("---:" for _ in cols) + "|")

        def pair(fmt, a, b):
            return f"{format(a, fmt)} / {format(b, fmt)}"

        for k in sorted(summary, key=int):
            s, o = summary[k], ours.get(k)
            if o is None:
                continue
            cells = [
                k,
                f"{o['fits_per_s']:.0f}",
                f"{s['fits_per_s']:.0f}",
                f"{o['fits_per_s'] / s['fits_per_s']:.0f}x",
                pair("+.2%", o["height_bias"], s["height_bias"]),
                pair(".2%", o["height_rms"], s["height_rms"]),
                pair(".1%", o["coverage"][0], s["coverage"][0]),
                f"{o['height_pull'][0]:+.2f} / {o['height_pull'][1]:.2f} ; "
                f"{s['height_pull'][0]:+.3g} / {s['height_pull'][1]:.3g}",
                pair(".2f", o["robust_pull_width"][0], s["robust_pull_width"][0]),
                pair("+.3f", o["onset_bias"], s["onset_bias"]),
                pair(".1%", o["coverage"][1], s["coverage"][1]),
                f"{o['onset_pull'][0]:+.2f} / {o['onset_pull'][1]:.2f} ; "
                f"{s['onset_pull'][0]:+.2f} / {s['onset_pull'][1]:.2f}",
                f"{o['failed']} / {s['failed']}",
            ]
            print("| " + " | ".join(cells) + " |")
        print()
        print("Paired cells are axon / SciPy (pull cells: axon ; SciPy, each as mean / width).")
        print("H = peak height, t0 = onset. Bias = mean (fit - truth)/truth; RMS rel. error =")
        print("root mean square of (fit - truth)/truth over the fits that did not fail; coverage =")
        print("fraction of fits with |fit - truth| <= error (68.3% for honest Gaussian errors);")
        print("pull = (fit - truth)/error (honest errors: mean 0, width 1); the robust width ignores")
        print("the few fits whose error collapses.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
