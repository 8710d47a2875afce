#!/usr/bin/python3
"""Generates tests/data/controls_golden.json: golden values for TAKD's KL reduction and the
knowledge-analysis controls ls, kd_pt and kd_sim (docs/METHODS.md).

tests/test_controls.cpp checks engine/methods/ControlLosses.cpp, the registered "takd", "ls",
"kd_pt" and "kd_sim" methods and their defaults against these values. Everything is stated
here again from the formulas, in plain PyTorch (float64), not by calling the engine's way:

  takd   the authors' train.py (imirzadeh/Teacher-Assistant-Knowledge-Distillation,
         TrainManager.train):
             loss_KD = nn.KLDivLoss()(F.log_softmax(s / T, 1), F.softmax(t / T, 1))
             loss    = (1 - lambda) * CE + lambda * T * T * loss_KD
         nn.KLDivLoss()'s default reduction is "mean" (over batch x classes), written out
         explicitly below (PyTorch warns that "mean" divides by the classes too: that is the
         point). The "batchmean" variant is C times larger.
  ls     rho = mean_i (1 - softmax(t_i / T)[y_i])            (matched; or a fixed epsilon)
         q   = (1 - rho) on y, rho / (C - 1) on every other class
         loss = (1 - alpha) * CE + alpha * T^2 * KL(q || softmax(s / T))   (batchmean)
  kd_pt  (non_target "uniform", the default: the paper's KD-pt) p = softmax(t_i / T),
         q_i = p[y_i] on y_i, (1 - p[y_i]) / (C - 1) on every other class
  kd_pt  (non_target "permuted") q_i = softmax(t_i / T) with the non-target values reordered: the non-target classes
         sorted by keys[i] give, in that order, the values put on the non-target classes in
         ascending class order (a loop here; the engine does it with two argsorts)
  kd_sim S[y, c] = exp(cos(w_y, w_c) / tau) / sum_{c' != y} exp(cos(w_y, w_c') / tau), S[y, y] = 0
         q_i = (1 - rho) on y_i + rho * S[y_i]
  grad   d loss / d s (autograd) for the method totals

Inputs are rounded to 4 decimals before the computation, so the stored inputs are exactly
those the expected values come from. The "authors" block records the documented reference
values the registered defaults are asserted against.

    /usr/bin/python3 scripts/gen_controls_golden.py            # writes tests/data/controls_golden.json
    /usr/bin/python3 scripts/gen_controls_golden.py OUT.json   # writes elsewhere

Deterministic (fixed seed): rerunning it must not change the checked-in file.
"""

import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 200203532  # arXiv 2002.03532 (Tang et al.)


def rounded(t):
    return torch.round(t * 1e4) / 1e4


def rows(t):
    return [[float(v) for v in r] for r in t.tolist()]


def soft_kl_batchmean(s, q, T):
    return F.kl_div(F.log_softmax(s / T, 1), q, reduction="batchmean") * T * T


def non_target_mass(t, y, T):
    p = F.softmax(t / T, 1)
    return float((1.0 - p[torch.arange(len(y)), y]).mean())


def uniform_targets(y, C, rho):
    q = torch.full((len(y), C), rho / (C - 1), dtype=torch.float64)
    q[torch.arange(len(y)), y] = 1.0 - rho
    return q


def confidence_targets(p, y):
    q = torch.zeros_like(p)
    for i in range(p.shape[0]):
        pt = float(p[i, int(y[i])])
        for c in range(p.shape[1]):
            q[i, c] = pt if c == int(y[i]) else (1.0 - pt) / (p.shape[1] - 1)
    return q


def permuted_targets(p, y, keys):
    q = p.clone()
    for i in range(p.shape[0]):
        others = [c for c in range(p.shape[1]) if c != int(y[i])]
        by_key = sorted(others, key=lambda c: float(keys[i, c]))
        for slot, source in zip(others, by_key):
            q[i, slot] = p[i, source]
    return q


def similarity_shapes(w, tau):
    C = w.shape[0]
    S = torch.zeros(C, C, dtype=torch.float64)
    for a in range(C):
        cos = [float(torch.dot(w[a], w[b]) / (w[a].norm() * w[b].norm())) for b in range(C)]
        z = sum(math.exp(cos[b] / tau) for b in range(C) if b != a)
        for b in range(C):
            S[a, b] = 0.0 if b == a else math.exp(cos[b] / tau) / z
    return S


def total_and_grad(s, y, alpha, term_fn):
    s = s.clone().requires_grad_(True)
    ce = F.cross_entropy(s, y)
    term = term_fn(s)
    total = (1 - alpha) * ce + alpha * term
    total.backward()
    return float(ce), float(term), float(total), rows(s.grad)


def make_case(gen, name, batch, classes, T, alpha, tau=0.25, epsilon=0.0, scale=3.0):
    s = rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale)
    t = rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale)
    y = torch.randint(0, classes, (batch,), generator=gen)
    keys = rounded(torch.rand(batch, classes, generator=gen, dtype=torch.float64))
    w = rounded(torch.randn(classes, 6, generator=gen, dtype=torch.float64))
    case = {"name": name, "T": T, "alpha": alpha, "tau": tau, "epsilon": epsilon,
            "student": rows(s), "teacher": rows(t), "labels": [int(v) for v in y],
            "keys": rows(keys), "weights": rows(w)}

    # takd: the authors' reduction and the batchmean alternative.
    mean_kl = nn.KLDivLoss(reduction="mean")
    case["takd_mean"] = dict(zip(["ce", "kd", "total", "grad"], total_and_grad(
        s, y, alpha, lambda x: mean_kl(F.log_softmax(x / T, 1), F.softmax(t / T, 1)) * T * T)))
    case["takd_batchmean"] = dict(zip(["ce", "kd", "total", "grad"], total_and_grad(
        s, y, alpha, lambda x: soft_kl_batchmean(x, F.softmax(t / T, 1), T))))

    # ls
    rho = epsilon if epsilon > 0 else non_target_mass(t, y, T)
    q_ls = uniform_targets(y, classes, rho)
    case["rho"] = rho
    case["ls_targets"] = rows(q_ls)
    case["ls"] = dict(zip(["ce", "term", "total", "grad"], total_and_grad(
        s, y, alpha, lambda x: soft_kl_batchmean(x, q_ls, T))))

    # kd_pt (targets and loss for the given keys)
    q_pt = permuted_targets(F.softmax(t / T, 1), y, keys)
    case["kd_pt_targets"] = rows(q_pt)
    case["kd_pt"] = dict(zip(["ce", "term", "total", "grad"], total_and_grad(
        s, y, alpha, lambda x: soft_kl_batchmean(x, q_pt, T))))

    q_conf = confidence_targets(F.softmax(t / T, 1), y)
    case["kd_pt_uniform_targets"] = rows(q_conf)
    case["kd_pt_uniform"] = dict(zip(["ce", "term", "total", "grad"], total_and_grad(
        s, y, alpha, lambda x: soft_kl_batchmean(x, q_conf, T))))

    # kd_sim
    S = similarity_shapes(w, tau)
    q_sim = torch.zeros(batch, classes, dtype=torch.float64)
    for i in range(batch):
        q_sim[i] = rho * S[int(y[i])]
        q_sim[i, int(y[i])] = 1.0 - rho
    case["sim_shapes"] = rows(S)
    case["kd_sim_targets"] = rows(q_sim)
    case["kd_sim"] = dict(zip(["ce", "term", "total", "grad"], total_and_grad(
        s, y, alpha, lambda x: soft_kl_batchmean(x, q_sim, T))))
    return case


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "controls_golden.json")
    gen = torch.Generator().manual_seed(SEED)
    cases = [
        make_case(gen, "ten classes, T 4", 6, 10, 4.0, 0.9),
        make_case(gen, "five classes, T 2, sharp similarity", 5, 5, 2.0, 0.5, tau=0.1),
        make_case(gen, "fixed epsilon 0.2, T 1", 4, 7, 1.0, 1.0, tau=1.0, epsilon=0.2),
        make_case(gen, "large logits, T 8", 4, 10, 8.0, 0.7, scale=12.0),
    ]
    doc = {
        "generator": "scripts/gen_controls_golden.py",
        "torch": torch.__version__,
        "authors": {
            "takd": {
                "source": "imirzadeh/Teacher-Assistant-Knowledge-Distillation train.py TrainManager.train; "
                          "search_space.json",
                "kl_reduction": "mean",
                "temperature_choices": [1, 2, 5, 10, 15, 20],
                "lambda_range": [0.05, 1.0],
            },
            "controls": {
                "source": "Tang et al. 2020 (arXiv 2002.03532): the controls replace the teacher's target "
                          "of a kd run, so T and alpha default to kd's",
                "temperature": 4.0,
                "alpha": 0.9,
                "epsilon": 0.0,
            },
        },
        "cases": cases,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
