#!/usr/bin/python3
"""Generates tests/data/stage_golden.json: golden values for the losses of the methods that
change the experiment's structure (tests/test_stages.cpp).

Reference formulas, written as the papers state them:

- ensemble: Hinton KD against the average of the teachers' softened probabilities,
  (1 - a) * CE + a * T^2 * KL(mean_i softmax(z_i/T) || softmax(z_s/T)), KL averaged over the
  batch ("batchmean"); also the ensemble "logits" T * log(mean_i softmax(z_i/T)).
- rc (Representation Consolidation, Li et al. 2021): the student's own classifier is the head
  of the task teacher, an extra Linear head on pre_logits serves the second teacher;
  (1 - a) * CE + a * (KD_1 + KD_2) with each KD = T^2 * KL(teacher || head), batchmean.
- dmc (Deep Model Consolidation, Zhang et al. WACV 2020, double distillation): mean over
  batch and classes of (z_s - [z_old - mean(z_old), z_new - mean(z_new)])^2.

Everything is float64; inputs rounded to 4 decimals. Tensors are stored as
{"shape": [...], "data": [flat, row-major]}; "grad_student" is d(loss)/d(student logits).

    /usr/bin/python3 scripts/gen_stage_golden.py            # writes tests/data/stage_golden.json
    /usr/bin/python3 scripts/gen_stage_golden.py OUT.json

Deterministic (fixed seed); rerunning it must not change the checked-in file.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

from goldenlib import Draws, enc

SEED = 20200207  # TAKD, AAAI 2020

torch.set_default_dtype(torch.float64)
DRAWS = Draws(SEED)
GEN, randn = DRAWS.gen, DRAWS.randn


def kd(student, teacher_probs, T):
    return F.kl_div(F.log_softmax(student / T, dim=1), teacher_probs, reduction="batchmean") * T * T


def ensemble_case():
    N, C, T, a = 6, 5, 3.0, 0.7
    zs = randn(N, C, scale=2.0).requires_grad_()
    z1, z2, z3 = randn(N, C, scale=3.0), randn(N, C, scale=3.0), randn(N, C, scale=1.5)
    y = torch.randint(0, C, (N,), generator=GEN)
    probs = (F.softmax(z1 / T, 1) + F.softmax(z2 / T, 1) + F.softmax(z3 / T, 1)) / 3
    k = kd(zs, probs, T)
    ce = F.cross_entropy(zs, y)
    total = (1 - a) * ce + a * k
    grad, = torch.autograd.grad(total, zs)
    return {"temperature": T, "alpha": a, "student": enc(zs), "teachers": [enc(z1), enc(z2), enc(z3)],
            "labels": y.tolist(), "ensemble_logits": enc(T * torch.log(probs)), "kd": k.item(), "ce": ce.item(),
            "total": total.item(), "grad_student": enc(grad)}


def rc_case():
    N, C, D, C2, T, a = 5, 4, 6, 3, 2.0, 0.8
    zs = randn(N, C, scale=2.0).requires_grad_()
    pre = randn(N, D).requires_grad_()
    w, b = randn(C2, D, scale=0.5), randn(C2, scale=0.1)
    t1, t2 = randn(N, C, scale=3.0), randn(N, C2, scale=3.0)
    y = torch.randint(0, C, (N,), generator=GEN)
    head = pre @ w.t() + b
    kd1 = kd(zs, F.softmax(t1 / T, 1), T)
    kd2 = kd(head, F.softmax(t2 / T, 1), T)
    ce = F.cross_entropy(zs, y)
    total = (1 - a) * ce + a * (kd1 + kd2)
    g_s, g_pre = torch.autograd.grad(total, [zs, pre])
    return {"temperature": T, "alpha": a, "student": enc(zs), "pre_logits": enc(pre), "head_weight": enc(w),
            "head_bias": enc(b), "teacher1": enc(t1), "teacher2": enc(t2), "labels": y.tolist(),
            "kd_teacher1": kd1.item(), "kd_teacher2": kd2.item(), "ce": ce.item(), "total": total.item(),
            "total_without_labels": (a * (kd1 + kd2)).item(), "grad_student": enc(g_s), "grad_pre_logits": enc(g_pre)}


def dmc_case():
    N, Co, Cn = 5, 3, 4
    zs = randn(N, Co + Cn, scale=2.0).requires_grad_()
    zo, zn = randn(N, Co, scale=3.0) + 1.5, randn(N, Cn, scale=3.0) - 0.7
    target = torch.cat([zo - zo.mean(1, keepdim=True), zn - zn.mean(1, keepdim=True)], 1)
    loss = ((zs - target) ** 2).mean()
    grad, = torch.autograd.grad(loss, zs)
    return {"student": enc(zs), "old": enc(zo), "new": enc(zn), "loss": loss.item(), "grad_student": enc(grad)}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                             "stage_golden.json")
    golden = {"ensemble": ensemble_case(), "rc": rc_case(), "dmc": dmc_case()}
    with open(out, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
