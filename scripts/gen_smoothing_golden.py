#!/usr/bin/python3
"""Generates tests/data/smoothing_golden.json: golden values for the chart smoothing.

tests/test_smoothing.cpp checks kd::ui::Smoothing::debiasedEma against these values. They
are computed here by restating, independently of the C++ code, the smoothing of
TensorBoard's scalar dashboard (`classicSmoothing` in
tensorboard/webapp/widgets/line_chart_v2/data_transformer.ts; the same algorithm as the older
vz_line_chart2 line chart):

  * the weight: non-finite -> 0, then clamped to [0, 1];
  * a constant series (every y == the first y, so NaN never counts as equal; an empty
    series is constant) is returned unsmoothed;
  * otherwise last = 0, n = 0 and for each point in order:
      - a non-finite y is passed through unchanged (last and n untouched);
      - else last = last * w + (1 - w) * y, n += 1, and the point becomes
        last / (1 - w ** n)   (divided by 1 when w == 1).

Non-finite numbers are stored as the strings "nan", "inf" and "-inf" (JSON has none).

    /usr/bin/python3 scripts/gen_smoothing_golden.py            # writes tests/data/smoothing_golden.json
    /usr/bin/python3 scripts/gen_smoothing_golden.py OUT.json   # writes elsewhere

Deterministic; rerunning it must not change the checked-in file.
"""

import json
import math
import os
import sys

NAN = float("nan")
INF = float("inf")

WEIGHTS = [0.0, 0.6, 0.9, 0.99, 1.0]


def tensorboard_weight(w):
    if not math.isfinite(w):
        return 0.0
    return max(0.0, min(w, 1.0))


def tensorboard_smooth(ys, weight):
    w = tensorboard_weight(weight)
    if all(y == ys[0] for y in ys):  # all() of an empty list is True
        return list(ys)
    out = []
    last = 0.0
    accumulated = 0
    for y in ys:
        if not math.isfinite(y):
            out.append(y)
            continue
        last = last * w + (1.0 - w) * y
        accumulated += 1
        debias = 1.0 if w == 1.0 else 1.0 - math.pow(w, accumulated)
        out.append(last / debias)
    return out


def lcg(seed):
    """A small deterministic generator (no numpy needed): uniform floats in [0, 1)."""
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield (state >> 11) / float(1 << 53)


def noisy_loss(n, seed):
    rnd = lcg(seed)
    ys = []
    for i in range(n):
        y = 2.3 * math.exp(-i / 40.0) + 0.15 + 0.25 * (next(rnd) - 0.5)
        ys.append(round(y, 6))
    return ys


def series():
    loss = noisy_loss(120, 7)
    with_gaps = list(loss[:40])
    with_gaps[0] = NAN       # a leading NaN: the series is not constant, the average starts later
    with_gaps[5] = NAN
    with_gaps[6] = INF
    with_gaps[17] = -INF
    with_gaps[39] = NAN      # a trailing NaN
    return {
        "noisy_loss": loss,
        "with_nan_inf": with_gaps,
        "constant": [0.25] * 12,
        "constant_negative": [-3.0] * 5,
        "constant_but_nan": [1.5, 1.5, NAN, 1.5, 1.5],
        "single_point": [0.731],
        "two_points": [1.0, 3.0],
        "all_nan": [NAN, NAN, NAN],
        "step_change": [0.0] * 10 + [1.0] * 10,
        "empty": [],
    }


def encode(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "data", "smoothing_golden.json")
    cases = []
    for name, ys in series().items():
        for w in WEIGHTS:
            cases.append({
                "name": name,
                "weight": w,
                "input": [encode(v) for v in ys],
                "expected": [encode(v) for v in tensorboard_smooth(ys, w)],
            })
    doc = {
        "source": "scripts/gen_smoothing_golden.py (TensorBoard classicSmoothing, restated)",
        "cases": cases,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(out)}")


if __name__ == "__main__":
    main()
