#!/usr/bin/python3
"""Generates tests/data/kd_golden.json: golden values for the Hinton KD loss.

tests/test_kd_losses.cpp checks kd::hintonKdLoss, kd::crossEntropyLoss and the registered
"kd" method against these values, computed here the PyTorch way:

    kd    = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean") * T * T
    ce    = F.cross_entropy(s, y)
    total = (1 - alpha) * ce + alpha * kd
    grad  = d total / d s          (autograd)

Everything is float64. Inputs are rounded to 4 decimals before the computation, so the
values stored in the JSON are exactly the inputs the expected values were computed from.

Regenerate (Debian's python3-torch, the same LibTorch 1.13 the engine links; it is installed
for the system interpreter only, so call it explicitly rather than a `python3` on PATH):

    /usr/bin/python3 scripts/gen_kd_golden.py            # writes tests/data/kd_golden.json
    /usr/bin/python3 scripts/gen_kd_golden.py OUT.json   # writes elsewhere

The output is deterministic (fixed seed); rerunning it must not change the checked-in file.
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

SEED = 20150309  # Hinton, Vinyals & Dean, arXiv 1503.02531


def rounded(t):
    return torch.round(t * 1e4) / 1e4


def make_case(gen, name, batch, classes, temperature, alpha, scale=3.0, teacher=None,
              student=None, note=""):
    s = rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale)
    t = rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale)
    y = torch.randint(0, classes, (batch,), generator=gen)
    if teacher is not None:
        t = teacher(s, t, y)
    if student is not None:
        s = student(s, t, y)

    s = s.clone().requires_grad_(True)
    kd = F.kl_div(F.log_softmax(s / temperature, 1), F.softmax(t / temperature, 1),
                  reduction="batchmean") * temperature * temperature
    ce = F.cross_entropy(s, y)
    total = (1 - alpha) * ce + alpha * kd
    total.backward()

    values = [kd.item(), ce.item(), total.item()] + s.grad.flatten().tolist()
    assert all(math.isfinite(v) for v in values), name
    return {
        "name": name,
        "note": note,
        "batch": batch,
        "classes": classes,
        "temperature": temperature,
        "alpha": alpha,
        "student": s.detach().tolist(),
        "teacher": t.tolist(),
        "labels": y.tolist(),
        "expected": {
            "kd": kd.item(),
            "ce": ce.item(),
            "total": total.item(),
            "grad_student": s.grad.tolist(),
        },
    }


def one_hot_extreme(magnitude):
    """Teacher logits +magnitude at a random class (the label), -magnitude elsewhere."""
    def make(s, t, y):
        out = torch.full_like(t, -magnitude)
        out[torch.arange(len(y)), y] = magnitude
        return out
    return make


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "kd_golden.json")
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cases = [
        make_case(gen, "b1_c3_T1_a0.5", 1, 3, 1.0, 0.5),
        make_case(gen, "b2_c5_T2_a0.9", 2, 5, 2.0, 0.9),
        make_case(gen, "b4_c10_T4_a0.9", 4, 10, 4.0, 0.9),
        make_case(gen, "b8_c10_T8_a1", 8, 10, 8.0, 1.0),
        make_case(gen, "b3_c7_T0.5_a0", 3, 7, 0.5, 0.0),
        make_case(gen, "b5_c4_T4_a0.5_teacher_pm30", 5, 4, 4.0, 0.5,
                  teacher=one_hot_extreme(30.0),
                  note="teacher logits +-30: soft targets near one-hot"),
        make_case(gen, "b6_c10_T0.5_a0.9_teacher_pm30", 6, 10, 0.5, 0.9,
                  teacher=one_hot_extreme(30.0),
                  note="teacher logits +-30 at T=0.5: probabilities e^-120 (0 in float32)"),
        make_case(gen, "b6_c8_T0.5_a0.9_teacher_pm400", 6, 8, 0.5, 0.9,
                  teacher=one_hot_extreme(400.0),
                  note="teacher logits +-400 at T=0.5: probabilities underflow to exactly 0 "
                       "even in float64"),
        make_case(gen, "b7_c6_T1_a1_student_pm30", 7, 6, 1.0, 1.0,
                  student=lambda s, t, y: torch.where(s > 0, torch.full_like(s, 30.0),
                                                      torch.full_like(s, -30.0)),
                  note="student logits +-30: student log-probabilities near -60"),
        make_case(gen, "b8_c3_T2_a0.5_student_eq_teacher", 8, 3, 2.0, 0.5,
                  student=lambda s, t, y: t.clone(),
                  note="student equals teacher: kd is 0, only the CE gradient remains"),
        make_case(gen, "b5_c9_T8_a0.9_large_scale", 5, 9, 8.0, 0.9, scale=12.0),
        make_case(gen, "b2_c3_T1_a0", 2, 3, 1.0, 0.0),
    ]
    doc = {
        "generator": "scripts/gen_kd_golden.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "formula": "kd = kl_div(log_softmax(s/T), softmax(t/T), batchmean)*T^2; "
                   "ce = cross_entropy(s, y); total = (1-alpha)*ce + alpha*kd; "
                   "grad_student = d total / d s",
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(cases), os.path.normpath(out_path)))


if __name__ == "__main__":
    main()
