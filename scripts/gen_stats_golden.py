#!/usr/bin/python3
"""Generates tests/data/stats_golden.json: golden values for engine/stats/Statistics.

tests/test_statistics.cpp checks kd::studentTCdf, kd::studentTQuantile, kd::summarize and
kd::welchTest against these values, computed independently of the engine:

- Student's t CDF, tails and quantiles with mpmath at 40 significant digits
  (`apt-get install -y python3-mpmath`): the regularised incomplete beta by mpmath's
  hypergeometric series, the quantile by mpmath.findroot on that CDF (started from SciPy's
  ppf). SciPy's own t.cdf/t.ppf are only good to ~1e-11 in places (e.g. t.ppf(0.025, 1) is off
  by 2.6e-10 from -tan(0.475 pi)), too coarse for a reference.
- Welch's test with SciPy (Debian's python3-scipy: `apt-get install -y python3-scipy`):

    welch     = scipy.stats.ttest_ind(a, b, equal_var=False)        (t and two-sided p)
    df        = Welch–Satterthwaite, (va/na + vb/nb)^2 / ((va/na)^2/(na-1) + (vb/nb)^2/(nb-1))
    ci        = diff -/+ q * se, q the mpmath quantile at 0.5 + confidence/2 with that df
    summary   = numpy mean, std(ddof=1), min, max over the finite values

Samples look like test accuracies of a few seeds (fractions near 0.8-0.9, 2-8 values per
side) plus edge cases (unequal sizes, very unequal variances, NaN entries that must be
skipped). Inputs are rounded to 6 decimals before the computation, so the stored inputs are
exactly those the expected values were computed from.

Regenerate:

    /usr/bin/python3 scripts/gen_stats_golden.py            # writes tests/data/stats_golden.json
    /usr/bin/python3 scripts/gen_stats_golden.py OUT.json   # writes elsewhere

The output is deterministic (fixed seed); rerunning it must not change the checked-in file.
"""

import json
import math
import os
import sys

import mpmath as mp
import numpy as np
import scipy
import scipy.stats as st

mp.mp.dps = 40


def t_lower(t, df):
    """P(T <= t) for t <= 0, in mpmath precision."""
    t, df = mp.mpf(t), mp.mpf(df)
    x = df / (df + t * t)
    return mp.betainc(df / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2


def t_cdf(t, df):
    return t_lower(t, df) if t <= 0 else 1 - t_lower(-t, df)


def t_quantile(q, df):
    if q == 0.5:
        return mp.mpf(0)
    guess = float(st.t.ppf(q, df))
    # Solve on the smaller tail, in log space, so that q = 1e-6 keeps its digits.
    lower = q < 0.5
    tail = mp.mpf(q) if lower else 1 - mp.mpf(q)
    f = lambda x: mp.log(t_lower(-abs(x), df)) - mp.log(tail)
    root = abs(mp.findroot(f, abs(guess)))
    return -root if lower else root


def finite(xs):
    return [x for x in xs if not math.isnan(x)]


def welch(a, b, confidence):
    fa, fb = np.array(finite(a)), np.array(finite(b))
    na, nb = len(fa), len(fb)
    va, vb = fa.var(ddof=1) / na, fb.var(ddof=1) / nb
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1))
    res = st.ttest_ind(fa, fb, equal_var=False)
    diff = float(fa.mean() - fb.mean())
    q = float(t_quantile(0.5 + confidence / 2, df))
    return {
        "diff": diff,
        "se": se,
        "df": float(df),
        "t": float(res.statistic),
        "p": float(res.pvalue),
        "ci_low": diff - q * se,
        "ci_high": diff + q * se,
    }


def summary(xs):
    f = np.array(finite(xs))
    return {
        "n": int(len(f)),
        "mean": float(f.mean()),
        "sd": float(f.std(ddof=1)) if len(f) >= 2 else None,
        "min": float(f.min()),
        "max": float(f.max()),
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "stats_golden.json")
    rng = np.random.default_rng(20261201)

    cdf = []
    for df in [1, 1.5, 2, 3, 4.7, 7, 10, 29.3, 100, 1000, 1e6]:
        for t in [-40, -6.5, -3, -2.2, -1, -0.3, 0, 0.1, 0.7, 1.96, 2.5, 4, 9, 60]:
            # "tail": the smaller side, P(T <= t) for t <= 0 and P(T > t) for t > 0.
            cdf.append({"t": t, "df": df, "cdf": float(t_cdf(t, df)), "tail": float(t_lower(-abs(t), df))})

    quantile = []
    for df in [1, 1.3, 2, 2.5, 3, 5, 8.8, 12, 30, 120, 1e5]:
        for q in [1e-6, 0.001, 0.025, 0.05, 0.2, 0.5, 0.6, 0.9, 0.95, 0.975, 0.995, 0.999999]:
            quantile.append({"q": q, "df": df, "x": float(t_quantile(q, df))})

    welch_cases = []
    specs = [  # (n_a, mean_a, sd_a, n_b, mean_b, sd_b, confidence)
        (3, 0.86, 0.004, 3, 0.85, 0.004, 0.95),
        (2, 0.80, 0.010, 2, 0.79, 0.020, 0.95),
        (5, 0.912, 0.002, 4, 0.905, 0.008, 0.95),
        (8, 0.70, 0.030, 3, 0.72, 0.001, 0.95),
        (4, 0.88, 0.005, 6, 0.88, 0.005, 0.90),
        (3, 0.5, 0.1, 7, 0.4, 0.05, 0.99),
        (6, 0.93, 0.0015, 6, 0.9299, 0.0015, 0.95),
    ]
    for na, ma, sa, nb, mb, sb, conf in specs:
        a = [round(float(x), 6) for x in rng.normal(ma, sa, na)]
        b = [round(float(x), 6) for x in rng.normal(mb, sb, nb)]
        welch_cases.append({"a": a, "b": b, "confidence": conf, "expected": welch(a, b, conf)})
    # NaN entries (a run without a result) are skipped, not counted.
    a = [0.81, float("nan"), 0.83, 0.82]
    b = [0.80, 0.79, float("nan"), 0.805]
    welch_cases.append({"a": [None if math.isnan(x) else x for x in a],
                        "b": [None if math.isnan(x) else x for x in b],
                        "confidence": 0.95, "expected": welch(a, b, 0.95)})

    summaries = []
    for xs in [[0.9], [0.9, 0.91], [0.8123, 0.8311, 0.8207, 0.8264, 0.8190],
               [1e6 + 0.1, 1e6 + 0.2, 1e6 + 0.3]]:
        summaries.append({"values": xs, "expected": summary(xs)})

    doc = {
        "generator": "scripts/gen_stats_golden.py with mpmath " + mp.__version__ + ", scipy " + scipy.__version__,
        "cdf": cdf,
        "quantile": quantile,
        "welch": welch_cases,
        "summary": summaries,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
