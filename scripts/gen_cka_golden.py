#!/usr/bin/python3
"""Generates tests/data/cka_golden.json: golden values for the distillation views.

tests/test_analysis.cpp checks kd::linearCka / kd::linearCkaMatrix and kd::compressionBias
against these values, computed here independently of the engine's formulation:

  linear CKA (Kornblith et al. 2019, eq. for the linear kernel), in feature space:
      X, Y flattened per example (n x d), columns centred,
      CKA = ||Y^T X||_F^2 / (||X^T X||_F * ||Y^T Y||_F)
  (the engine computes it through the n x n centred Gram matrices instead).

  CEV / SDE (Blakeney et al. 2021, "Simon Says", as in the authors' notebook
  notebooks/compression_errors.ipynb of github.com/codestar12/pruning-distilation-bias):
      per class c, one-vs-rest from the confusion matrix (rows true, columns predicted):
          FP = column sum - diagonal, FN = row sum - diagonal, TP = diagonal,
          TN = total - FP - FN - TP, FPR = FP / (FP + TN), FNR = FN / (FN + TP)
      dFPR_c = (FPR_student - FPR_teacher) / FPR_teacher * 100   (likewise dFNR_c)
      CEV = mean over classes and both coordinates of (point - centroid)^2
            (sklearn's mean_squared_error(points, centroids), uniform average)
      SDE = mean_c |dFPR_c - dFNR_c| / sqrt(2)

Everything is float64; inputs are rounded to 4 decimals first, so the JSON holds exactly the
inputs the expected values come from. Deterministic (fixed seed).

    /usr/bin/python3 scripts/gen_cka_golden.py            # writes tests/data/cka_golden.json
    /usr/bin/python3 scripts/gen_cka_golden.py OUT.json   # writes elsewhere
"""

import json
import math
import os
import sys

import torch

SEED = 2019  # Kornblith, Norouzi, Lee & Hinton, ICML 2019


def rounded(t):
    return torch.round(t * 1e4) / 1e4


def cka_feature_space(x, y):
    x = x.reshape(x.shape[0], -1)
    y = y.reshape(y.shape[0], -1)
    x = x - x.mean(0, keepdim=True)
    y = y - y.mean(0, keepdim=True)
    num = (y.t() @ x).pow(2).sum()
    den = torch.linalg.norm(x.t() @ x) * torch.linalg.norm(y.t() @ y)
    return (num / den).item()


def cka_case(gen, name, x_shape, y_shape, relation="random"):
    x = rounded(torch.randn(x_shape, generator=gen, dtype=torch.float64))
    if relation == "rotated":
        # An orthogonal transform and a scale of X: linear CKA is invariant to both (= 1).
        flat = x.reshape(x.shape[0], -1)
        q, _ = torch.linalg.qr(torch.randn(flat.shape[1], flat.shape[1], generator=gen, dtype=torch.float64))
        y = rounded(3.0 * flat @ q + 0.5)
    elif relation == "noisy":
        flat = x.reshape(x.shape[0], -1)
        w = torch.randn(flat.shape[1], y_shape[1], generator=gen, dtype=torch.float64)
        y = rounded(torch.relu(flat @ w) + 0.3 * torch.randn(y_shape, generator=gen, dtype=torch.float64))
    else:
        y = rounded(torch.randn(y_shape, generator=gen, dtype=torch.float64))
    return {"name": name, "x_shape": list(x.shape), "y_shape": list(y.shape),
            "x": x.flatten().tolist(), "y": y.flatten().tolist(), "cka": cka_feature_space(x, y)}


def rates(conf):
    diag = torch.diag(conf)
    fp = conf.sum(0) - diag
    fn = conf.sum(1) - diag
    tp = diag
    tn = conf.sum() - (fp + fn + tp)
    return fp / (fp + tn), fn / (fn + tp)


def bias_case(gen, name, classes, examples_per_class, teacher_skill, student_skill):
    def confusion(skill):
        m = torch.zeros(classes, classes, dtype=torch.float64)
        for c in range(classes):
            # Every off-diagonal cell gets at least one example, so every rate is > 0.
            wrong = torch.randint(1, 6, (classes,), generator=gen).to(torch.float64)
            wrong[c] = 0
            right = examples_per_class - wrong.sum()
            right = max(1.0, float(torch.round(right * skill)))
            m[c] = wrong
            m[c, c] = right
        return m
    t = confusion(teacher_skill)
    s = confusion(student_skill)
    fpr_t, fnr_t = rates(t)
    fpr_s, fnr_s = rates(s)
    d_fpr = (fpr_s - fpr_t) / fpr_t * 100
    d_fnr = (fnr_s - fnr_t) / fnr_t * 100
    points = torch.stack([d_fpr, d_fnr], 1)
    centroid = points.mean(0, keepdim=True).expand_as(points)
    cev = (points - centroid).pow(2).mean().item()
    sde = ((points[:, 0] - points[:, 1]).abs() / math.sqrt(2)).mean().item()
    return {"name": name, "classes": classes,
            "teacher_confusion": t.to(torch.int64).flatten().tolist(),
            "student_confusion": s.to(torch.int64).flatten().tolist(),
            "fpr_change": d_fpr.tolist(), "fnr_change": d_fnr.tolist(), "cev": cev, "sde": sde}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "cka_golden.json")
    gen = torch.Generator().manual_seed(SEED)
    cka = [
        cka_case(gen, "dense_8x5_vs_8x3", (8, 5), (8, 3)),
        cka_case(gen, "conv_12x2x3x3_vs_12x7", (12, 2, 3, 3), (12, 7)),
        cka_case(gen, "rotated_10x6", (10, 6), (10, 6), "rotated"),
        cka_case(gen, "noisy_relu_16x4_to_16x9", (16, 4), (16, 9), "noisy"),
        cka_case(gen, "wide_6x40_vs_6x2", (6, 40), (6, 2)),
    ]
    bias = [
        bias_case(gen, "k4_student_worse", 4, 40, 1.0, 0.6),
        bias_case(gen, "k6_similar", 6, 60, 1.0, 1.0),
        bias_case(gen, "k10_student_better", 10, 80, 0.7, 1.0),
    ]
    with open(out, "w") as f:
        json.dump({"generator": "scripts/gen_cka_golden.py", "seed": SEED, "torch": torch.__version__,
                   "cka": cka, "bias": bias}, f, indent=1)
        f.write("\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
